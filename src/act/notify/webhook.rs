//! Generic webhook: the notification as JSON — the findings contract of each item plus its
//! lifecycle change — so any system can consume it. With a secret, the body is signed
//! (`X-Forewarn-Signature: sha256=<hex HMAC-SHA256 of the exact body>`) so the receiver can tell
//! the message is ours and unaltered.

use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use sha2::Sha256;

use super::error::NotifyError;
use super::http::{self, Request, RetryPolicy};
use super::message::Notification;
use super::secret::Secret;
use super::{Delivered, Receiver};

const KIND: &str = "webhook";
/// Version of the body's shape; bumped on an incompatible change.
pub const PAYLOAD_VERSION: u32 = 1;
pub const SIGNATURE_HEADER: &str = "x-forewarn-signature";
pub const KEY_HEADER: &str = "x-forewarn-key";

/// The body: `{"version": 1, "key", "route", "receiver", "title", "items": [{"change",
/// "finding": {...contract...}, "first_seen_at", "dig_query"}], "summary"?}`.
#[derive(Serialize)]
struct Payload<'a> {
    version: u32,
    #[serde(flatten)]
    notification: &'a Notification,
}

pub struct WebhookReceiver {
    name: String,
    url_secret: Secret,
    url: reqwest::Url,
    signing_secret: Option<Secret>,
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl WebhookReceiver {
    pub fn new(
        name: &str,
        url: Secret,
        signing_secret: Option<Secret>,
        retry: RetryPolicy,
    ) -> Result<WebhookReceiver, NotifyError> {
        let build_error = |reason: String| NotifyError::Build {
            receiver: name.to_string(),
            kind: KIND,
            reason,
            source: None,
        };
        let parsed = http::parse_url(&url).map_err(|e| build_error(format!("webhook URL: {e}")))?;
        let client = http::client(retry.request_timeout())
            .map_err(|e| build_error(format!("HTTP client: {e}")))?;
        Ok(WebhookReceiver {
            name: name.to_string(),
            url_secret: url,
            url: parsed,
            signing_secret,
            client,
            retry,
        })
    }
}

/// The exact body bytes sent for `notification`.
pub fn body(notification: &Notification) -> Vec<u8> {
    serde_json::to_vec(&Payload {
        version: PAYLOAD_VERSION,
        notification,
    })
    .expect("a notification always serialises")
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Receiver for WebhookReceiver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notification: &Notification) -> Result<Delivered, NotifyError> {
        let body = body(notification);
        let mut headers = HeaderMap::new();
        if let Ok(key) = HeaderValue::from_str(&notification.key) {
            headers.insert(HeaderName::from_static(KEY_HEADER), key);
        }
        if let Some(secret) = &self.signing_secret {
            let value = HeaderValue::from_str(&signature(secret, &body))
                .expect("hex is a valid header value");
            headers.insert(HeaderName::from_static(SIGNATURE_HEADER), value);
        }
        let mut request =
            Request::post_json(&self.name, KIND, self.url.clone(), &self.url_secret, body);
        request.headers.extend(headers);
        http::send_with_retry(&self.client, request, &self.retry).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let secret = Secret::new("Jefe");
        assert_eq!(
            signature(&secret, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
