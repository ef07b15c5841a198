//! The notification boundary's errors. Every variant names the receiver and what failed, and
//! says whether trying again later can help (`is_retryable`: the caller queues the message in
//! the outbox). No variant carries a URL or a credential: HTTP errors are stripped of their URL
//! before they are kept, and texts from peers are redacted.

use std::error::Error as StdError;

pub type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The peer refused the message for good (4xx other than 429, SMTP 5xx): resending the
    /// same message will not help.
    #[error("receiver {receiver}: {kind} rejected the notification: {reason}")]
    Rejected {
        receiver: String,
        kind: &'static str,
        reason: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The peer could not be reached or kept failing (network, timeouts, 5xx, 429) within the
    /// bounded attempts and wait: queue it and send it on the next run.
    #[error(
        "receiver {receiver}: {kind} unavailable after {attempts} attempt(s), {waited_s:.1} s waited: {reason}"
    )]
    Unavailable {
        receiver: String,
        kind: &'static str,
        attempts: u32,
        waited_s: f64,
        reason: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The message could not be built (e.g. an invalid address).
    #[error("receiver {receiver}: building the {kind} message: {reason}")]
    Build {
        receiver: String,
        kind: &'static str,
        reason: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl NotifyError {
    /// True when the same message may succeed later (the outbox keeps it).
    /// The peer refused this message for good: sending it again cannot help.
    pub fn is_rejected(&self) -> bool {
        matches!(self, NotifyError::Rejected { .. })
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, NotifyError::Unavailable { .. })
    }

    /// The error and its sources on one line, for the history and logs.
    pub fn detail(&self) -> String {
        chain(self)
    }
}

/// `error: cause: cause` on one line.
pub fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
