//! Alertmanager API v2: every item becomes an alert posted to `{url}/api/v2/alerts`, so teams
//! keep their own routing, inhibition and silences. Labels identify the alert (rule, signal,
//! severity, entity, fingerprint); a firing alert's `endsAt` lies `resend_validity` ahead so it
//! does not expire before the next run re-posts it; a resolution posts `endsAt` = now.

use std::time::Duration;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::window::timefmt::rfc3339;

use super::error::NotifyError;
use super::http::{self, Request, RetryPolicy};
use super::message::{Notification, NotificationItem};
use super::render;
use super::secret::Secret;
use super::{Delivered, Receiver};

const KIND: &str = "alertmanager";

/// Twice the default 5-minute schedule: one missed run does not resolve anything.
pub const DEFAULT_RESEND_VALIDITY: Duration = Duration::from_secs(2 * 5 * 60);

pub struct AlertmanagerReceiver {
    name: String,
    url_secret: Secret,
    alerts_url: reqwest::Url,
    resend_validity: Duration,
    generator_url: Option<String>,
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl AlertmanagerReceiver {
    /// `url` is Alertmanager's base URL (`http://alertmanager:9093`); it may carry basic-auth
    /// credentials, so it is kept as a secret. `generator_url` is the base of the link each
    /// alert carries back to forewarn (`?finding=ID` is appended).
    pub fn new(
        name: &str,
        url: Secret,
        resend_validity: Duration,
        generator_url: Option<String>,
        retry: RetryPolicy,
    ) -> Result<AlertmanagerReceiver, NotifyError> {
        let build_error = |reason: String| NotifyError::Build {
            receiver: name.to_string(),
            kind: KIND,
            reason,
            source: None,
        };
        let mut alerts_url =
            http::parse_url(&url).map_err(|e| build_error(format!("Alertmanager URL: {e}")))?;
        let path = format!("{}/api/v2/alerts", alerts_url.path().trim_end_matches('/'));
        alerts_url.set_path(&path);
        let client = http::client(retry.request_timeout())
            .map_err(|e| build_error(format!("HTTP client: {e}")))?;
        Ok(AlertmanagerReceiver {
            name: name.to_string(),
            url_secret: url,
            alerts_url,
            resend_validity,
            generator_url,
            client,
            retry,
        })
    }

    /// The JSON array posted for `notification`, as of `now`.
    pub fn alerts(&self, notification: &Notification, now: OffsetDateTime) -> Value {
        Value::Array(
            notification
                .items
                .iter()
                .map(|item| self.alert(item, now))
                .collect(),
        )
    }

    fn alert(&self, item: &NotificationItem, now: OffsetDateTime) -> Value {
        let finding = &item.finding;
        let mut labels = Map::new();
        labels.insert("alertname".into(), finding.rule.clone().into());
        labels.insert("signal".into(), finding.signal.as_str().into());
        labels.insert("severity".into(), finding.severity.to_string().into());
        for (key, value) in &finding.entity {
            let key = label_name(key);
            if !labels.contains_key(&key) && !value.is_empty() {
                labels.insert(key, value.clone().into());
            }
        }
        labels.insert("fingerprint".into(), finding.id.clone().into());

        let mut annotations = Map::new();
        annotations.insert("summary".into(), finding.summary.clone().into());
        annotations.insert("description".into(), render::evidence_text(item).into());
        if let Some(runbook) = render::runbook_text(item) {
            annotations.insert("runbook_url".into(), runbook.into());
        }
        annotations.insert("dig_query".into(), item.dig_query.clone().into());
        annotations.insert("change".into(), item.change.as_str().into());

        let ends_at = if item.change.is_firing() {
            now + self.resend_validity
        } else {
            now
        };
        let generator_url = match &self.generator_url {
            Some(base) => {
                let separator = if base.contains('?') { '&' } else { '?' };
                format!("{base}{separator}finding={}", finding.id)
            }
            None => format!("forewarn:finding/{}", finding.id),
        };
        json!({
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(item.first_seen_at),
            "endsAt": rfc3339(ends_at),
            "generatorURL": generator_url,
        })
    }
}

impl Receiver for AlertmanagerReceiver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notification: &Notification) -> Result<Delivered, NotifyError> {
        let body = self.alerts(notification, OffsetDateTime::now_utc());
        let request = Request::post_json(
            &self.name,
            KIND,
            self.alerts_url.clone(),
            &self.url_secret,
            body.to_string().into_bytes(),
        );
        http::send_with_retry(&self.client, request, &self.retry).await
    }
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_prometheus_safe() {
        assert_eq!(label_name("namespace"), "namespace");
        assert_eq!(label_name("k8s.pod"), "k8s_pod");
        assert_eq!(label_name("1x"), "_1x");
    }
}
