//! Notifications: telling people about findings through receivers (Slack, email, Alertmanager,
//! a generic webhook) and telling a dead-man's switch that forewarn ran.
//!
//! This module owns the *last* stages of Alertmanager's pipeline — render and deliver with
//! retry. Deciding what to announce (lifecycle, routes, grouping, silences, the outbox) happens
//! before: a caller hands each receiver a finished [`Notification`] and records the outcome.
//! Each receiver is one small type behind the [`Receiver`] trait; [`AnyReceiver`] is what the
//! configuration builds. Secrets (webhook URLs, passwords, HMAC keys) are [`Secret`]s and never
//! reach a log line or an error.

pub mod alertmanager;
pub mod config;
pub mod deadman;
pub mod dig;
pub mod email;
pub mod error;
pub mod http;
pub mod message;
pub mod render;
pub mod secret;
pub mod slack;
pub mod webhook;

use std::future::Future;

use serde::Serialize;

pub use self::alertmanager::AlertmanagerReceiver;
pub use self::config::{ReceiverConfig, ReceiverConfigError};
pub use self::deadman::DeadmanPinger;
pub use self::dig::dig_query;
pub use self::email::EmailReceiver;
pub use self::error::NotifyError;
pub use self::http::{install_tls_provider, RetryPolicy};
pub use self::message::{
    Change, Notification, NotificationItem, StormGroup, StormSummary, MONITOR_BLIND_RULE,
};
pub use self::secret::Secret;
pub use self::slack::SlackReceiver;
pub use self::webhook::WebhookReceiver;

/// What a receiver reports after a successful delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub receiver: String,
    /// `slack`, `email`, `alertmanager`, `webhook`.
    pub kind: &'static str,
    /// Requests made, the successful one included.
    pub attempts: u32,
    /// The peer's answer in short (`HTTP 200`, `SMTP 250 …`).
    pub response: String,
}

/// One place notifications go.
pub trait Receiver {
    /// The receiver's name in `rules/notify.yaml`.
    fn name(&self) -> &str;

    /// Delivers `notification`, retrying within the receiver's bounds. An error that
    /// [`NotifyError::is_retryable`] should be queued and sent again on the next run.
    fn send(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<Delivered, NotifyError>> + Send;
}

/// Any configured receiver.
pub enum AnyReceiver {
    Slack(SlackReceiver),
    Email(EmailReceiver),
    Alertmanager(AlertmanagerReceiver),
    Webhook(WebhookReceiver),
}

impl Receiver for AnyReceiver {
    fn name(&self) -> &str {
        match self {
            AnyReceiver::Slack(r) => r.name(),
            AnyReceiver::Email(r) => r.name(),
            AnyReceiver::Alertmanager(r) => r.name(),
            AnyReceiver::Webhook(r) => r.name(),
        }
    }

    async fn send(&self, notification: &Notification) -> Result<Delivered, NotifyError> {
        match self {
            AnyReceiver::Slack(r) => r.send(notification).await,
            AnyReceiver::Email(r) => r.send(notification).await,
            AnyReceiver::Alertmanager(r) => r.send(notification).await,
            AnyReceiver::Webhook(r) => r.send(notification).await,
        }
    }
}

impl std::fmt::Debug for AnyReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            AnyReceiver::Slack(_) => "slack",
            AnyReceiver::Email(_) => "email",
            AnyReceiver::Alertmanager(_) => "alertmanager",
            AnyReceiver::Webhook(_) => "webhook",
        };
        write!(f, "{kind} receiver {:?}", self.name())
    }
}
