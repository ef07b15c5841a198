//! The sending end of a run: announcements become messages (route → group → storm limit),
//! messages are queued in the history before they are sent, and the outbox of earlier runs goes
//! out first. Delivery is idempotent by the message's key: a key already delivered is never
//! sent again, a key still in the outbox is not queued twice.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::{event, event_with, RunSummary};
use crate::act::notify::{AnyReceiver, Notification, NotificationItem, Receiver, ReceiverConfig};
use crate::act::route::{self, Announced, BatchKind};
use crate::config::notify::NotifyConfig;
use crate::findings::Severity;
use crate::state::derive;
use crate::state::history::{EventKind, HistoryEvent};
use crate::state::lifecycle::RunContext;
use crate::state::{AnyStore, StateError, StateStore};

/// The configured receivers, by name. Optional receivers whose settings are missing are left
/// out (and said so once); a required one that cannot be built is a configuration error.
pub struct Receivers {
    pub by_name: BTreeMap<String, AnyReceiver>,
    /// Optional receivers skipped, with why.
    pub skipped: Vec<String>,
}

impl Receivers {
    /// Builds every receiver of `config`, secrets from `env`.
    pub fn build(
        config: &NotifyConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Receivers, crate::act::notify::ReceiverConfigError> {
        let mut receivers = Receivers {
            by_name: BTreeMap::new(),
            skipped: Vec::new(),
        };
        for receiver in &config.receivers {
            let typed = ReceiverConfig::from_type_and_config(
                &receiver.name,
                receiver.kind.as_str(),
                receiver.config.clone(),
            )?;
            match typed.build_with(&receiver.name, &env) {
                Ok(built) => {
                    receivers.by_name.insert(receiver.name.clone(), built);
                }
                Err(error) if receiver.optional => {
                    tracing::info!(receiver = %receiver.name, %error, "optional receiver skipped");
                    receivers.skipped.push(error.to_string());
                }
                Err(error) => return Err(error),
            }
        }
        Ok(receivers)
    }
}

/// Where a run's messages go.
pub enum Delivery {
    /// To the receivers, over the network.
    Send(Receivers),
    /// Kept in the run's summary as delivered (the demo prints them); nothing leaves the
    /// process, but the state records them like any delivery.
    Capture,
}

/// The title of a message: what is in it, most severe first.
fn title(items: &[NotificationItem], kind: BatchKind, group: &[(String, String)]) -> String {
    let top = items
        .iter()
        .filter(|i| i.change.is_firing())
        .map(|i| i.finding.severity)
        .max();
    let head = match top {
        Some(Severity::Critical) => "CRITICAL",
        Some(Severity::Warning) => "WARNING",
        Some(Severity::Info) => "INFO",
        None => "RESOLVED",
    };
    let what = match kind {
        BatchKind::Summary { groups } => {
            format!("storm: {} findings in {groups} groups", items.len())
        }
        BatchKind::Group => {
            let values: Vec<&str> = group
                .iter()
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
                .collect();
            if values.is_empty() {
                format!("{} findings", items.len())
            } else {
                values.join(" · ")
            }
        }
    };
    format!("[forewarn] {head}: {what}")
}

/// This run's messages: one per batch of the routing plan, keyed by the batch's idempotency key.
pub fn messages(
    config: &NotifyConfig,
    announced: &[Announced],
    first_seen: &BTreeMap<String, OffsetDateTime>,
    as_of: OffsetDateTime,
) -> Vec<Notification> {
    route::plan(config, announced, as_of)
        .into_iter()
        .map(|batch| {
            let items: Vec<NotificationItem> = batch
                .items
                .iter()
                .map(|a| {
                    let since = first_seen
                        .get(&a.finding.id)
                        .copied()
                        .unwrap_or(a.finding.evaluated_at);
                    NotificationItem::new(a.change, a.finding.clone(), since)
                })
                .collect();
            let message = Notification::new(
                batch.idempotency_key(),
                batch.route.clone(),
                batch.receiver.clone(),
                title(&items, batch.kind, &batch.group),
                items,
            );
            match batch.kind {
                BatchKind::Summary { .. } => message.into_storm(),
                BatchKind::Group => message,
            }
        })
        .collect()
}

/// Sends the outbox of earlier runs (derived from `history`, the job's history as the run read
/// it), then this run's messages, recording each step. Returns the
/// messages delivered (for the summary and the demo).
#[tracing::instrument(name = "notifications", level = "info", skip_all, fields(job = %ctx.job, messages = messages.len()))]
pub async fn send_all(
    delivery: &Delivery,
    store: &AnyStore,
    ctx: &RunContext<'_>,
    history: &[HistoryEvent],
    messages: Vec<Notification>,
    summary: &mut RunSummary,
) -> Result<Vec<Notification>, StateError> {
    // The run's own events appended since `history` was read hold no deliveries, so the
    // history read at the start of the run is enough to know what was delivered.
    let outbox = derive::outbox(history);
    let delivered_keys: BTreeSet<String> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::NotificationDelivered { key, .. }
            | EventKind::NotificationRejected { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    let pending: BTreeSet<String> = outbox.iter().map(|o| o.key.clone()).collect();

    // Queue this run's new messages before anything is sent.
    let mut queued = Vec::new();
    let mut to_send: Vec<(Notification, u32)> = Vec::new();
    for item in outbox {
        match serde_json::from_value::<Notification>(item.payload.clone()) {
            Ok(message) => to_send.push((message, item.attempts)),
            Err(error) => tracing::error!(key = %item.key, %error, "outbox entry unreadable"),
        }
    }
    for message in messages {
        if delivered_keys.contains(&message.key) || pending.contains(&message.key) {
            continue;
        }
        let payload = serde_json::to_value(&message).unwrap_or(serde_json::Value::Null);
        queued.push(event_with(
            ctx,
            EventKind::NotificationQueued {
                key: message.key.clone(),
                receiver: message.receiver.clone(),
            },
            None,
            payload,
        ));
        to_send.push((message, 0));
    }
    store.append(&queued).await?;

    let mut delivered = Vec::new();
    for (message, attempts_before) in to_send {
        let result = match delivery {
            Delivery::Capture => Ok(()),
            Delivery::Send(receivers) => match receivers.by_name.get(&message.receiver) {
                Some(receiver) => receiver
                    .send(&message)
                    .await
                    .map(|_| ())
                    .map_err(|e| (e.is_rejected(), e.detail())),
                // Configuration can be fixed before the next run: kept in the outbox.
                None => Err((
                    false,
                    format!(
                        "receiver {} is not configured (its settings are missing)",
                        message.receiver
                    ),
                )),
            },
        };
        let outcome = match result {
            Ok(()) => {
                summary.sent += 1;
                EventKind::NotificationDelivered {
                    key: message.key.clone(),
                    receiver: message.receiver.clone(),
                }
            }
            Err((true, error)) => {
                summary.rejected += 1;
                tracing::error!(receiver = %message.receiver, key = %message.key, %error, "notification rejected by its receiver; it will not be sent again (`forewarn history FINGERPRINT` of its findings shows it)");
                EventKind::NotificationRejected {
                    key: message.key.clone(),
                    receiver: message.receiver.clone(),
                    error,
                }
            }
            Err((false, error)) => {
                summary.failed += 1;
                tracing::warn!(receiver = %message.receiver, key = %message.key, %error, "notification failed; kept in the outbox for the next run");
                EventKind::NotificationFailed {
                    key: message.key.clone(),
                    receiver: message.receiver.clone(),
                    attempt: attempts_before + 1,
                    error,
                }
            }
        };
        let ok = matches!(outcome, EventKind::NotificationDelivered { .. });
        let events = if matches!(outcome, EventKind::NotificationRejected { .. }) {
            // Told in each of its findings' histories, so `forewarn history FINGERPRINT` shows
            // that the announcement never reached anyone.
            let fingerprints: BTreeSet<&str> = message
                .items
                .iter()
                .map(|i| i.finding.id.as_str())
                .collect();
            if fingerprints.is_empty() {
                vec![event(ctx, outcome, None)]
            } else {
                fingerprints
                    .into_iter()
                    .map(|fp| event(ctx, outcome.clone(), Some(fp)))
                    .collect()
            }
        } else {
            vec![event(ctx, outcome, None)]
        };
        store.append(&events).await?;
        if ok {
            delivered.push(message);
        }
    }
    Ok(delivered)
}
