//! Current state, computed from the history and never stored: episodes (open or resolved), the
//! outbox of notifications not yet delivered, the silences in force and blind sources. Each is a
//! fold over events in `seq` order; `apply_episode_event` is the one place an episode event
//! changes an episode, used both here and by the lifecycle to show what it just decided.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::findings::{Finding, Severity, Signal};
use crate::state::history::{AnnouncementKind, EventKind, HistoryEvent};
use crate::state::silence::Silence;

/// One stretch of a finding firing, from first firing to resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub episode_id: String,
    pub fingerprint: String,
    pub job: String,
    pub rule: String,
    pub signal: Signal,
    pub entity: BTreeMap<String, String>,
    /// The latest severity seen.
    pub severity: Severity,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub first_seen_at: OffsetDateTime,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub last_announced_at: Option<OffsetDateTime>,
    pub announced_severity: Option<Severity>,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// The silence that held back its latest event, if any.
    pub silenced_by: Option<String>,
    pub finding: Finding,
}

impl Episode {
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// A notification queued or failed and not yet delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub key: String,
    pub receiver: String,
    pub payload: serde_json::Value,
    /// Failed attempts so far.
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// A source the monitor could not read, from its first failure until it answered again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlindSource {
    pub source: String,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub since_at: OffsetDateTime,
    pub last_error: String,
    /// Whether its blindness was announced (so its recovery is announced too).
    pub announced: bool,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub last_announced_at: Option<OffsetDateTime>,
}

/// Applies one episode event to the episodes keyed by fingerprint; other events are ignored.
/// An `EpisodeOpened` replaces any earlier (resolved) episode of the same fingerprint.
pub fn apply_episode_event(episodes: &mut BTreeMap<String, Episode>, event: &HistoryEvent) {
    let Some(fingerprint) = &event.fingerprint else {
        return;
    };
    // Parsed only for episode events: most of a long history is something else.
    let finding = || Finding::deserialize(&event.payload).ok();
    let announce = |episode: &mut Episode, announced: &Option<AnnouncementKind>| {
        if let Some(kind) = announced {
            episode.last_announced_at = Some(event.at);
            if *kind != AnnouncementKind::Resolved {
                episode.announced_severity = Some(episode.severity);
            }
        }
    };
    match &event.kind {
        EventKind::EpisodeOpened {
            episode_id,
            severity,
            announced,
            silenced_by,
        } => {
            let Some(finding) = finding() else { return };
            let mut episode = Episode {
                episode_id: episode_id.clone(),
                fingerprint: fingerprint.clone(),
                job: event.job.clone(),
                rule: finding.rule.clone(),
                signal: finding.signal,
                entity: finding.entity.clone(),
                severity: *severity,
                first_seen_at: event.at,
                last_seen_at: event.at,
                last_announced_at: None,
                announced_severity: None,
                resolved_at: None,
                silenced_by: silenced_by.clone(),
                finding,
            };
            announce(&mut episode, announced);
            episodes.insert(fingerprint.clone(), episode);
        }
        EventKind::EpisodeUpdated {
            episode_id,
            severity,
            announced,
            silenced_by,
        }
        | EventKind::EpisodeEscalated {
            episode_id,
            to: severity,
            announced,
            silenced_by,
            ..
        } => {
            let Some(episode) = episodes.get_mut(fingerprint) else {
                return;
            };
            if episode.episode_id != *episode_id {
                return;
            }
            episode.severity = *severity;
            episode.last_seen_at = event.at;
            episode.silenced_by = silenced_by.clone();
            if let Some(finding) = finding() {
                episode.finding = finding;
            }
            announce(episode, announced);
        }
        EventKind::EpisodeResolved {
            episode_id,
            announced,
            silenced_by,
            ..
        } => {
            let Some(episode) = episodes.get_mut(fingerprint) else {
                return;
            };
            if episode.episode_id != *episode_id {
                return;
            }
            episode.resolved_at = Some(event.at);
            episode.silenced_by = silenced_by.clone();
            if let Some(finding) = finding() {
                episode.finding = finding;
            }
            announce(episode, announced);
        }
        _ => {}
    }
}

/// The latest episode of each fingerprint, open or resolved, in fingerprint order.
pub fn episodes(events: &[HistoryEvent]) -> Vec<Episode> {
    let mut by_fingerprint = BTreeMap::new();
    for event in events {
        apply_episode_event(&mut by_fingerprint, event);
    }
    by_fingerprint.into_values().collect()
}

/// The episodes not yet resolved.
pub fn open_episodes(events: &[HistoryEvent]) -> Vec<Episode> {
    episodes(events)
        .into_iter()
        .filter(Episode::is_open)
        .collect()
}

/// Notifications queued and not delivered, in queue order. A key is queued once: a second
/// `NotificationQueued` with the same key changes nothing, and a delivered key never returns.
pub fn outbox(events: &[HistoryEvent]) -> Vec<OutboxItem> {
    let mut items: Vec<OutboxItem> = Vec::new();
    let mut delivered = std::collections::BTreeSet::new();
    for event in events {
        match &event.kind {
            EventKind::NotificationQueued { key, receiver }
                if !delivered.contains(key) && !items.iter().any(|i| &i.key == key) =>
            {
                items.push(OutboxItem {
                    key: key.clone(),
                    receiver: receiver.clone(),
                    payload: event.payload.clone(),
                    attempts: 0,
                    last_error: None,
                });
            }
            EventKind::NotificationFailed {
                key,
                attempt,
                error,
                ..
            } => {
                if let Some(item) = items.iter_mut().find(|i| &i.key == key) {
                    item.attempts = item.attempts.max(*attempt);
                    item.last_error = Some(error.clone());
                }
            }
            // Delivered, or refused for good: either way it is settled and never sent again.
            EventKind::NotificationDelivered { key, .. }
            | EventKind::NotificationRejected { key, .. } => {
                delivered.insert(key.clone());
                items.retain(|i| &i.key != key);
            }
            _ => {}
        }
    }
    items
}

/// True when a notification with this key was delivered (so it must never be sent again).
pub fn delivered(events: &[HistoryEvent], key: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::NotificationDelivered { key: k, .. } if k == key))
}

/// Every silence added, with `ends_at` cut short where it was expired by hand, in added order.
pub fn all_silences(events: &[HistoryEvent]) -> Vec<Silence> {
    let mut silences: Vec<Silence> = Vec::new();
    for event in events {
        match &event.kind {
            EventKind::SilenceAdded { silence } if !silences.iter().any(|s| s.id == silence.id) => {
                silences.push(silence.clone());
            }
            EventKind::SilenceExpired { silence_id } => {
                if let Some(silence) = silences.iter_mut().find(|s| &s.id == silence_id) {
                    silence.ends_at = silence.ends_at.min(event.at.max(silence.starts_at));
                }
            }
            _ => {}
        }
    }
    silences
}

/// The silences in force at `now`.
pub fn active_silences(events: &[HistoryEvent], now: OffsetDateTime) -> Vec<Silence> {
    all_silences(events)
        .into_iter()
        .filter(|s| s.is_active(now))
        .collect()
}

/// Sources that are blind now (failed and not recovered since), by source name.
pub fn blind_sources(events: &[HistoryEvent]) -> Vec<BlindSource> {
    let mut blind: BTreeMap<String, BlindSource> = BTreeMap::new();
    for event in events {
        match &event.kind {
            EventKind::SourceBlind {
                source,
                error,
                announced,
            } => {
                let entry = blind.entry(source.clone()).or_insert(BlindSource {
                    source: source.clone(),
                    since_at: event.at,
                    last_error: error.clone(),
                    announced: false,
                    last_announced_at: None,
                });
                entry.last_error = error.clone();
                if *announced {
                    entry.announced = true;
                    entry.last_announced_at = Some(event.at);
                }
            }
            EventKind::SourceRecovered { source, .. } => {
                blind.remove(source);
            }
            _ => {}
        }
    }
    blind.into_values().collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::state::history::NewEvent;

    fn event(seq: u64, kind: EventKind, payload: serde_json::Value) -> HistoryEvent {
        HistoryEvent::from_new(
            seq,
            NewEvent {
                at: datetime!(2026-03-01 12:00 UTC) + time::Duration::minutes(seq as i64),
                job: "prod".into(),
                run_id: format!("run-{seq}"),
                kind,
                fingerprint: None,
                payload,
            },
        )
    }

    fn queued(seq: u64, key: &str) -> HistoryEvent {
        let kind = EventKind::NotificationQueued {
            key: key.into(),
            receiver: "slack".into(),
        };
        event(seq, kind, serde_json::json!({"text": key}))
    }

    #[test]
    fn outbox_holds_what_was_queued_and_not_delivered() {
        let failed = |seq, key: &str, attempt| {
            let kind = EventKind::NotificationFailed {
                key: key.into(),
                receiver: "slack".into(),
                attempt,
                error: "HTTP 503".into(),
            };
            event(seq, kind, serde_json::Value::Null)
        };
        let delivered = |seq, key: &str| {
            let kind = EventKind::NotificationDelivered {
                key: key.into(),
                receiver: "slack".into(),
            };
            event(seq, kind, serde_json::Value::Null)
        };
        let history = vec![
            queued(1, "a"),
            queued(2, "b"),
            failed(3, "b", 1),
            failed(4, "b", 2),
            delivered(5, "a"),
            queued(6, "a"),
            queued(7, "b"),
        ];
        let outbox = outbox(&history);
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].key, "b");
        assert_eq!(outbox[0].attempts, 2);
        assert_eq!(outbox[0].last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(outbox[0].payload, serde_json::json!({"text": "b"}));
        assert!(delivered_key(&history, "a") && !delivered_key(&history, "b"));
    }

    fn delivered_key(history: &[HistoryEvent], key: &str) -> bool {
        delivered(history, key)
    }
}
