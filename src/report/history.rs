//! forewarn's own day, from the state's history: findings opened and resolved, how long they
//! took to resolve, notifications, and remediation actions with their verified effect.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::run::approve::{self, RunbookStats};
use crate::state::history::{EventKind, HistoryEvent, RunOutcome};

#[derive(Debug, Clone, Default, Serialize)]
pub struct StateDay {
    pub runs: usize,
    pub failed_runs: usize,
    pub findings_opened: usize,
    pub findings_resolved: usize,
    /// Median and longest time from opening to resolution of the episodes resolved this day.
    pub median_resolution_s: Option<f64>,
    pub longest_resolution_s: Option<f64>,
    pub notifications_delivered: usize,
    pub notifications_failed: usize,
    pub notifications_rejected: usize,
    /// Per runbook, the actions recorded this day.
    pub actions: Vec<RunbookStats>,
}

/// `job_events`: every event of every job; `action_events`: the action events (all jobs).
pub fn state_day(
    job_events: &[HistoryEvent],
    action_events: &[HistoryEvent],
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> StateDay {
    let within = |e: &HistoryEvent| e.at >= since && e.at < until;
    let mut day = StateDay::default();
    let mut opened_at: BTreeMap<&str, OffsetDateTime> = BTreeMap::new();
    let mut resolutions = Vec::new();
    for event in job_events {
        match &event.kind {
            EventKind::EpisodeOpened { episode_id, .. } => {
                opened_at.insert(episode_id, event.at);
                day.findings_opened += usize::from(within(event));
            }
            EventKind::EpisodeResolved { episode_id, .. } if within(event) => {
                day.findings_resolved += 1;
                if let Some(opened) = opened_at.get(episode_id.as_str()) {
                    resolutions.push((event.at - *opened).as_seconds_f64());
                }
            }
            EventKind::RunFinished { outcome } if within(event) => {
                day.runs += 1;
                day.failed_runs += usize::from(*outcome == RunOutcome::Failed);
            }
            EventKind::NotificationDelivered { .. } if within(event) => {
                day.notifications_delivered += 1
            }
            EventKind::NotificationFailed { .. } if within(event) => day.notifications_failed += 1,
            EventKind::NotificationRejected { .. } if within(event) => {
                day.notifications_rejected += 1
            }
            _ => {}
        }
    }
    resolutions.sort_by(f64::total_cmp);
    day.median_resolution_s = resolutions.get(resolutions.len() / 2).copied();
    day.longest_resolution_s = resolutions.last().copied();
    let recorded_today: std::collections::BTreeSet<&str> = action_events
        .iter()
        .filter(|e| within(e))
        .filter_map(|e| match &e.kind {
            EventKind::ActionRecorded { action_id } => Some(action_id.as_str()),
            _ => None,
        })
        .collect();
    let todays: Vec<HistoryEvent> = action_events
        .iter()
        .filter(|e| match &e.kind {
            EventKind::ActionRecorded { action_id }
            | EventKind::ActionUpdated { action_id, .. } => {
                recorded_today.contains(action_id.as_str())
            }
            _ => false,
        })
        .cloned()
        .collect();
    day.actions = approve::stats(&todays);
    day
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;
    use crate::state::history::ResolveReason;

    fn event(seq: u64, minute: i64, kind: EventKind) -> HistoryEvent {
        HistoryEvent {
            seq,
            at: OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute),
            job: "frequent".into(),
            run_id: format!("r{seq}"),
            kind,
            fingerprint: Some("f".into()),
            payload: serde_json::Value::Null,
        }
    }

    #[test]
    fn resolution_time_counts_from_opening_even_before_the_day() {
        let opened = |seq, minute, id: &str| {
            event(
                seq,
                minute,
                EventKind::EpisodeOpened {
                    episode_id: id.into(),
                    severity: Severity::Warning,
                    announced: None,
                    silenced_by: None,
                },
            )
        };
        let resolved = |seq, minute, id: &str| {
            event(
                seq,
                minute,
                EventKind::EpisodeResolved {
                    episode_id: id.into(),
                    reason: ResolveReason::Quiet,
                    announced: None,
                    silenced_by: None,
                },
            )
        };
        let events = vec![
            opened(1, 10, "a"), // before the day
            opened(2, 130, "b"),
            resolved(3, 140, "a"),
            resolved(4, 160, "b"),
            opened(5, 170, "c"), // still open
            event(
                6,
                171,
                EventKind::NotificationDelivered {
                    key: "k".into(),
                    receiver: "slack".into(),
                },
            ),
        ];
        let since = OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(120);
        let until = since + time::Duration::hours(24);
        let day = state_day(&events, &[], since, until);
        assert_eq!(day.findings_opened, 2);
        assert_eq!(day.findings_resolved, 2);
        assert_eq!(day.longest_resolution_s, Some(130.0 * 60.0));
        assert_eq!(day.median_resolution_s, Some(130.0 * 60.0));
        assert_eq!(day.notifications_delivered, 1);
    }
}
