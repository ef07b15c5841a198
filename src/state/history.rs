//! The history: an append-only log of what happened to a job — runs, finding episodes,
//! notifications, silences, blind sources and (later) actions. Nothing else is stored: open
//! episodes, the outbox and active silences are all derived from it (`state::derive`), so there
//! is no second copy to fall out of sync (DESIGN.md "State", healthchecks' principle).
//!
//! `EventKind` is serde-tagged with stable snake_case names: they are the `kind` column that
//! notebooks and reports query, so a rename is a schema change.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::findings::Severity;
use crate::state::silence::Silence;

/// An event as the caller hands it to `StateStore::append`; the store assigns `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// When it happened, in the run's clock (`forewarn run --at T` replays use T).
    #[serde(with = "crate::findings::rfc3339_z")]
    pub at: OffsetDateTime,
    pub job: String,
    pub run_id: String,
    pub kind: EventKind,
    /// The finding's stable fingerprint, for events about one finding.
    pub fingerprint: Option<String>,
    /// What the event is about in full: the finding for episode events, the message for a
    /// queued notification, an action's request; `null` when there is nothing more.
    pub payload: serde_json::Value,
}

/// An event as stored: `seq` orders the history (increasing in append order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub seq: u64,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub at: OffsetDateTime,
    pub job: String,
    pub run_id: String,
    pub kind: EventKind,
    pub fingerprint: Option<String>,
    pub payload: serde_json::Value,
}

impl HistoryEvent {
    pub fn from_new(seq: u64, event: NewEvent) -> HistoryEvent {
        HistoryEvent {
            seq,
            at: event.at,
            job: event.job,
            run_id: event.run_id,
            kind: event.kind,
            fingerprint: event.fingerprint,
            payload: event.payload,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Completed,
    Failed,
}

/// Which announcement an episode event made (absent: recorded, not announced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnouncementKind {
    New,
    Repeat,
    Escalated,
    Resolved,
}

/// Why an episode resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolveReason {
    /// It had not fired for `resolve_after`.
    Quiet,
    /// A detector reported it resolved (e.g. a heartbeat came back).
    DetectorResolved,
}

/// What happened. Episode events carry the finding as the event's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    RunStarted,
    RunFinished {
        outcome: RunOutcome,
    },
    EpisodeOpened {
        episode_id: String,
        severity: Severity,
        announced: Option<AnnouncementKind>,
        silenced_by: Option<String>,
    },
    EpisodeUpdated {
        episode_id: String,
        severity: Severity,
        announced: Option<AnnouncementKind>,
        silenced_by: Option<String>,
    },
    EpisodeEscalated {
        episode_id: String,
        from: Severity,
        to: Severity,
        announced: Option<AnnouncementKind>,
        silenced_by: Option<String>,
    },
    EpisodeResolved {
        episode_id: String,
        reason: ResolveReason,
        announced: Option<AnnouncementKind>,
        silenced_by: Option<String>,
    },
    /// A message for one receiver; its payload is the message. `key` makes delivery
    /// idempotent: a key is queued once and delivered at most once.
    NotificationQueued {
        key: String,
        receiver: String,
    },
    NotificationDelivered {
        key: String,
        receiver: String,
    },
    /// `error` is already redacted by the receiver: never a URL, token or password.
    NotificationFailed {
        key: String,
        receiver: String,
        attempt: u32,
        error: String,
    },
    /// Refused for good by its receiver (an HTTP 4xx other than 429, an SMTP 5xx): it leaves the
    /// outbox — resending the same message cannot help — and stays here for a person to see.
    NotificationRejected {
        key: String,
        receiver: String,
        error: String,
    },
    SilenceAdded {
        silence: Silence,
    },
    /// Ended early by `forewarn silence expire ID` (the event's `at` is when).
    SilenceExpired {
        silence_id: String,
    },
    /// The source could not be read: the monitor is blind (`error` redacted).
    SourceBlind {
        source: String,
        error: String,
        announced: bool,
    },
    SourceRecovered {
        source: String,
        announced: bool,
    },
    /// A remediation action, recorded before it is sent (issue 13); the payload is the request.
    ActionRecorded {
        action_id: String,
    },
    ActionUpdated {
        action_id: String,
        status: String,
    },
}

impl EventKind {
    /// The stable name stored in the `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RunStarted => "run_started",
            EventKind::RunFinished { .. } => "run_finished",
            EventKind::EpisodeOpened { .. } => "episode_opened",
            EventKind::EpisodeUpdated { .. } => "episode_updated",
            EventKind::EpisodeEscalated { .. } => "episode_escalated",
            EventKind::EpisodeResolved { .. } => "episode_resolved",
            EventKind::NotificationQueued { .. } => "notification_queued",
            EventKind::NotificationDelivered { .. } => "notification_delivered",
            EventKind::NotificationFailed { .. } => "notification_failed",
            EventKind::NotificationRejected { .. } => "notification_rejected",
            EventKind::SilenceAdded { .. } => "silence_added",
            EventKind::SilenceExpired { .. } => "silence_expired",
            EventKind::SourceBlind { .. } => "source_blind",
            EventKind::SourceRecovered { .. } => "source_recovered",
            EventKind::ActionRecorded { .. } => "action_recorded",
            EventKind::ActionUpdated { .. } => "action_updated",
        }
    }

    /// Silences apply to every job, so the stores read them across jobs by these names.
    pub const SILENCE_KINDS: [&'static str; 2] = ["silence_added", "silence_expired"];

    /// Remediation actions are counted across jobs (the fence's caps are global), so the
    /// stores read them across jobs by these names.
    pub const ACTION_KINDS: [&'static str; 2] = ["action_recorded", "action_updated"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_serde_tags() {
        let kinds = [
            EventKind::RunStarted,
            EventKind::RunFinished {
                outcome: RunOutcome::Failed,
            },
            EventKind::NotificationFailed {
                key: "k".into(),
                receiver: "slack".into(),
                attempt: 2,
                error: "HTTP 500".into(),
            },
            EventKind::NotificationRejected {
                key: "k".into(),
                receiver: "slack".into(),
                error: "HTTP 400: invalid_blocks".into(),
            },
            EventKind::SilenceExpired {
                silence_id: "s1".into(),
            },
            EventKind::ActionUpdated {
                action_id: "a".into(),
                status: "applied".into(),
            },
        ];
        for kind in kinds {
            let json = serde_json::to_value(&kind).unwrap();
            assert_eq!(json["kind"], kind.name());
            let back: EventKind = serde_json::from_value(json).unwrap();
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = r#"{"kind":"run_finished","outcome":"completed","extra":1}"#;
        assert!(serde_json::from_str::<EventKind>(text).is_err());
        let text = r#"{"kind":"run_finished","outcome":"completed"}"#;
        assert!(serde_json::from_str::<EventKind>(text).is_ok());
    }
}
