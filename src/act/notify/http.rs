//! HTTP delivery shared by the Slack, Alertmanager, webhook and dead-man senders: one client
//! setup (rustls with the ring provider, no redirects, a timeout) and one retry loop —
//! backoff on 5xx and network errors, `429 Retry-After` honoured, all within a bounded total
//! wait, after which the error says "retryable" and the caller queues the message.
//! The URL is a secret: it is never logged, and errors are stripped of it.

use std::sync::Once;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};

use super::error::NotifyError;
use super::secret::Secret;
use super::Delivered;

/// How hard a sender tries before it gives up for this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Requests at most, the first included.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles per attempt up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// The sum of all waits (backoff and Retry-After) never exceeds this: a Retry-After that
    /// would, ends the attempts at once with a retryable error.
    pub max_total_wait_s: f64,
    /// One request's timeout (connect and response).
    pub request_timeout_s: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 8_000,
            max_total_wait_s: 30.0,
            request_timeout_s: 10.0,
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u64.saturating_pow(failures.saturating_sub(1));
        Duration::from_millis(
            self.initial_backoff_ms
                .saturating_mul(factor)
                .min(self.max_backoff_ms),
        )
    }

    fn max_total_wait(&self) -> Duration {
        Duration::from_secs_f64(self.max_total_wait_s.max(0.0))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_s.max(0.001))
    }
}

/// Installs rustls' ring crypto provider for the process (reqwest is built without one, so
/// OpenSSL and aws-lc stay out of the build). Idempotent; safe to call from anywhere.
pub fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed: that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The client every HTTP sender uses.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("forewarn/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(reqwest::Error::without_url)
}

/// Parses a secret URL, failing without echoing it.
pub fn parse_url(url: &Secret) -> Result<Url, String> {
    Url::parse(url.expose().trim())
        .map_err(|e| format!("not a valid URL ({e})"))
        .and_then(|u| match u.scheme() {
            "http" | "https" => Ok(u),
            other => Err(format!("scheme {other:?} is not http or https")),
        })
}

/// One request to send, and how to describe it in errors.
pub struct Request<'a> {
    pub receiver: &'a str,
    pub kind: &'static str,
    pub method: Method,
    pub url: Url,
    /// The secret the URL contains (to redact it from peers' texts).
    pub url_secret: &'a Secret,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl<'a> Request<'a> {
    /// A JSON `POST`, the shape every HTTP receiver sends; add headers to `headers` after.
    pub fn post_json(
        receiver: &'a str,
        kind: &'static str,
        url: Url,
        url_secret: &'a Secret,
        body: Vec<u8>,
    ) -> Request<'a> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        Request {
            receiver,
            kind,
            method: Method::POST,
            url,
            url_secret,
            headers,
            body,
        }
    }
}

/// Sends `request`, retrying as `policy` allows. 2xx → delivered; other 4xx (but 429) →
/// rejected for good; 5xx, 429 and network errors → retried, then `Unavailable` (retryable).
pub async fn send_with_retry(
    client: &reqwest::Client,
    request: Request<'_>,
    policy: &RetryPolicy,
) -> Result<Delivered, NotifyError> {
    let started = Instant::now();
    let mut waited = Duration::ZERO;
    let max_attempts = policy.max_attempts.max(1);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .body(request.body.clone())
            .send()
            .await;
        let (reason, source, retry_after) = match outcome {
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                let body = response
                    .text()
                    .await
                    .map(|t| request.url_secret.redact(&shorten(&t, 300)))
                    .unwrap_or_default();
                if status.is_success() {
                    return Ok(Delivered {
                        receiver: request.receiver.to_string(),
                        kind: request.kind,
                        attempts,
                        response: format!("HTTP {}", status.as_u16()),
                    });
                }
                let reason = format!("HTTP {}: {body}", status.as_u16());
                if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
                    return Err(NotifyError::Rejected {
                        receiver: request.receiver.to_string(),
                        kind: request.kind,
                        reason,
                        source: None,
                    });
                }
                (reason, None, retry_after)
            }
            Err(error) => {
                let error = error.without_url();
                let reason = request.url_secret.redact(&super::error::chain(&error));
                (
                    reason,
                    Some(Box::new(error) as super::error::BoxError),
                    None,
                )
            }
        };
        let wait = retry_after.unwrap_or_else(|| policy.backoff(attempts));
        let give_up = attempts >= max_attempts || waited + wait > policy.max_total_wait();
        if give_up {
            let reason = match retry_after {
                Some(after) if attempts < max_attempts => format!(
                    "{reason} (Retry-After {} s is beyond the wait left)",
                    after.as_secs()
                ),
                _ => reason,
            };
            return Err(NotifyError::Unavailable {
                receiver: request.receiver.to_string(),
                kind: request.kind,
                attempts,
                waited_s: started.elapsed().as_secs_f64(),
                reason,
                source,
            });
        }
        tracing::debug!(
            receiver = request.receiver,
            kind = request.kind,
            attempt = attempts,
            wait_s = wait.as_secs_f64(),
            reason = %reason,
            "notification attempt failed; retrying"
        );
        tokio::time::sleep(wait).await;
        waited += wait;
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Slack and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// At most `max_chars` characters of `text`, with `…` when cut.
pub fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            initial_backoff_ms: 100,
            max_backoff_ms: 350,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(1), Duration::from_millis(100));
        assert_eq!(policy.backoff(2), Duration::from_millis(200));
        assert_eq!(policy.backoff(3), Duration::from_millis(350));
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("äbcd", 3), "äb…");
    }

    #[test]
    fn bad_urls_are_described_without_the_url() {
        let secret = Secret::new("ftp://hooks.example/SECRET");
        let error = parse_url(&secret).unwrap_err();
        assert!(!error.contains("SECRET"), "{error}");
        let error = parse_url(&Secret::new("not a url SECRET")).unwrap_err();
        assert!(!error.contains("SECRET"), "{error}");
    }
}
