//! Dead-man pings in healthchecks.io's protocol: `GET {url}/start?rid=R` when a run begins,
//! `GET {url}?rid=R` when it succeeds, `POST {url}/fail?rid=R` with the error text (at most
//! 10,000 bytes, what healthchecks keeps) when it fails. The run id pairs start and finish.
//! A ping that fails is logged (never with the URL: it is the check's credential) and never
//! fails the run — the dead-man exists to notice runs that do not report.

use rand::RngCore;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::Method;

use super::error::NotifyError;
use super::http::{self, Request, RetryPolicy};
use super::secret::Secret;

const KIND: &str = "dead-man ping";
/// healthchecks keeps this much of a ping's body.
pub const MAX_BODY_BYTES: usize = 10_000;
/// The environment variable naming the check's ping URL.
pub const URL_ENV: &str = "FOREWARN_DEADMAN_URL";

pub struct DeadmanPinger {
    url_secret: Secret,
    url: reqwest::Url,
    client: reqwest::Client,
    retry: RetryPolicy,
}

/// Which ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    Fail,
}

impl Ping {
    fn as_str(self) -> &'static str {
        match self {
            Ping::Start => "start",
            Ping::Success => "success",
            Ping::Fail => "fail",
        }
    }
}

impl DeadmanPinger {
    /// A pinger for `url` (`https://hc-ping.com/<uuid>`). Pings are small and a run must not
    /// wait long on them: by default two attempts, 5 s timeout each.
    pub fn new(url: Secret) -> Result<DeadmanPinger, NotifyError> {
        DeadmanPinger::with_retry(
            url,
            RetryPolicy {
                max_attempts: 2,
                initial_backoff_ms: 500,
                max_backoff_ms: 500,
                max_total_wait_s: 2.0,
                request_timeout_s: 5.0,
            },
        )
    }

    pub fn with_retry(url: Secret, retry: RetryPolicy) -> Result<DeadmanPinger, NotifyError> {
        let build_error = |reason: String| NotifyError::Build {
            receiver: "dead-man".into(),
            kind: KIND,
            reason,
            source: None,
        };
        let mut parsed =
            http::parse_url(&url).map_err(|e| build_error(format!("{URL_ENV}: {e}")))?;
        let path = parsed.path().trim_end_matches('/').to_string();
        parsed.set_path(&path);
        let client = http::client(retry.request_timeout())
            .map_err(|e| build_error(format!("HTTP client: {e}")))?;
        Ok(DeadmanPinger {
            url_secret: url,
            url: parsed,
            client,
            retry,
        })
    }

    /// The pinger configured by `FOREWARN_DEADMAN_URL`, if set and not empty.
    pub fn from_env() -> Result<Option<DeadmanPinger>, NotifyError> {
        match std::env::var(URL_ENV) {
            Ok(url) if !url.trim().is_empty() => DeadmanPinger::new(Secret::new(url)).map(Some),
            _ => Ok(None),
        }
    }

    /// A fresh run id (a random UUID v4, the form healthchecks expects).
    pub fn new_run_id() -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = hex::encode(bytes);
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// The run began. Returns whether the ping was delivered (failures are logged).
    pub async fn start(&self, run_id: &str) -> bool {
        self.ping(Ping::Start, run_id, None).await
    }

    /// The run succeeded.
    pub async fn success(&self, run_id: &str) -> bool {
        self.ping(Ping::Success, run_id, None).await
    }

    /// The run failed with `error` (sent as the body, cut to 10,000 bytes).
    pub async fn fail(&self, run_id: &str, error: &str) -> bool {
        self.ping(Ping::Fail, run_id, Some(error)).await
    }

    async fn ping(&self, ping: Ping, run_id: &str, body: Option<&str>) -> bool {
        match self.try_ping(ping, run_id, body).await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(ping = ping.as_str(), error = %error.detail(), "dead-man ping failed; the run goes on");
                false
            }
        }
    }

    async fn try_ping(
        &self,
        ping: Ping,
        run_id: &str,
        body: Option<&str>,
    ) -> Result<super::Delivered, NotifyError> {
        let mut url = self.url.clone();
        match ping {
            Ping::Success => {}
            Ping::Start | Ping::Fail => {
                let path = format!("{}/{}", url.path(), ping.as_str());
                url.set_path(&path);
            }
        }
        url.query_pairs_mut().append_pair("rid", run_id);
        let mut headers = HeaderMap::new();
        let (method, body) = match body {
            Some(text) => {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                (
                    Method::POST,
                    truncate_bytes(text, MAX_BODY_BYTES).as_bytes().to_vec(),
                )
            }
            None => (Method::GET, Vec::new()),
        };
        http::send_with_retry(
            &self.client,
            Request {
                receiver: "dead-man",
                kind: KIND,
                method,
                url,
                url_secret: &self.url_secret,
                headers,
                body,
            },
            &self.retry,
        )
        .await
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
pub fn truncate_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_uuid_v4() {
        let id = DeadmanPinger::new_run_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, DeadmanPinger::new_run_id());
    }

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let text = "é".repeat(6_000); // 12,000 bytes
        let cut = truncate_bytes(&text, MAX_BODY_BYTES);
        assert_eq!(cut.len(), MAX_BODY_BYTES);
        assert_eq!(truncate_bytes("abc", 10), "abc");
        assert_eq!(truncate_bytes("aé", 2), "a");
    }
}
