//! Receiver configuration as written in `rules/notify.yaml`: typed, `deny_unknown_fields`, and
//! secrets only by the *name* of the environment variable that holds them (a Kubernetes Secret
//! mounted as env), so the file itself can be committed. `build()` reads the environment and
//! makes the running receiver (vector's config-builds-component shape).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::alertmanager::{AlertmanagerReceiver, DEFAULT_RESEND_VALIDITY};
use super::email::{EmailReceiver, EmailSettings, TlsMode};
use super::error::NotifyError;
use super::http::RetryPolicy;
use super::secret::Secret;
use super::slack::SlackReceiver;
use super::webhook::WebhookReceiver;
use super::AnyReceiver;

/// One receiver: `slack: {...}`, `email: {...}`, `alertmanager: {...}` or `webhook: {...}`
/// (exactly one key; read through [`ReceiverForm`] so YAML and JSON accept the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "ReceiverForm")]
pub enum ReceiverConfig {
    Slack(SlackConfig),
    Email(EmailConfig),
    Alertmanager(AlertmanagerConfig),
    Webhook(WebhookConfig),
}

/// The written form of a receiver: one of the keys set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverForm {
    slack: Option<SlackConfig>,
    email: Option<EmailConfig>,
    alertmanager: Option<AlertmanagerConfig>,
    webhook: Option<WebhookConfig>,
}

impl TryFrom<ReceiverForm> for ReceiverConfig {
    type Error = String;

    fn try_from(form: ReceiverForm) -> Result<ReceiverConfig, String> {
        let mut set: Vec<ReceiverConfig> = Vec::new();
        set.extend(form.slack.map(ReceiverConfig::Slack));
        set.extend(form.email.map(ReceiverConfig::Email));
        set.extend(form.alertmanager.map(ReceiverConfig::Alertmanager));
        set.extend(form.webhook.map(ReceiverConfig::Webhook));
        match set.len() {
            1 => Ok(set.remove(0)),
            0 => Err("a receiver needs one of slack, email, alertmanager, webhook".into()),
            _ => Err("a receiver has exactly one of slack, email, alertmanager, webhook".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// e.g. `FOREWARN_SLACK_WEBHOOK_URL`.
    pub webhook_url_env: String,
    #[serde(default)]
    pub retry: RetryPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub smtp_host: String,
    /// Default by `tls`: 25 (none), 587 (starttls), 465 (tls).
    #[serde(default)]
    pub smtp_port: Option<u16>,
    pub tls: TlsMode,
    /// Both or neither: AUTH with this login.
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// A PEM file with the CA certificate of a relay whose certificate a private CA signed.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default = "default_smtp_timeout_s")]
    pub timeout_s: f64,
}

fn default_smtp_timeout_s() -> f64 {
    30.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://alertmanager.monitoring:9093` (or `url_env`: the variable that
    /// holds it, so an `optional` receiver is skipped where it is unset).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub url_env: Option<String>,
    /// How long a firing alert stays valid without a re-post (default 600 s: two 5-minute runs).
    #[serde(default = "default_resend_validity_s")]
    pub resend_validity_s: u64,
    /// Base of the link back to forewarn each alert carries.
    #[serde(default)]
    pub generator_url: Option<String>,
    #[serde(default)]
    pub retry: RetryPolicy,
}

fn default_resend_validity_s() -> u64 {
    DEFAULT_RESEND_VALIDITY.as_secs()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url_env: String,
    /// When set, bodies are signed with HMAC-SHA256 under this secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub retry: RetryPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiverConfigError {
    #[error("receiver {receiver}: unknown type {kind:?} (expected slack, email, alertmanager or webhook)")]
    UnknownType { receiver: String, kind: String },
    #[error("receiver {receiver}: invalid {kind} configuration: {source}")]
    Invalid {
        receiver: String,
        kind: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("receiver {receiver}: environment variable {variable} is not set or empty")]
    MissingEnv { receiver: String, variable: String },
    #[error("receiver {receiver}: cannot read ca_file {path}: {source}")]
    CaFile {
        receiver: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("receiver {receiver}: {problem}")]
    Inconsistent { receiver: String, problem: String },
    #[error("receiver {receiver}: {source}")]
    Build {
        receiver: String,
        #[source]
        source: NotifyError,
    },
}

impl ReceiverConfig {
    /// From the `type` + free-form `config` form of `rules/notify.yaml`'s receivers.
    pub fn from_type_and_config(
        receiver: &str,
        kind: &str,
        config: serde_json::Value,
    ) -> Result<ReceiverConfig, ReceiverConfigError> {
        let invalid = |source| ReceiverConfigError::Invalid {
            receiver: receiver.to_string(),
            kind: kind.to_string(),
            source,
        };
        Ok(match kind {
            "slack" => ReceiverConfig::Slack(serde_json::from_value(config).map_err(invalid)?),
            "email" => ReceiverConfig::Email(serde_json::from_value(config).map_err(invalid)?),
            "alertmanager" => {
                ReceiverConfig::Alertmanager(serde_json::from_value(config).map_err(invalid)?)
            }
            "webhook" => ReceiverConfig::Webhook(serde_json::from_value(config).map_err(invalid)?),
            other => {
                return Err(ReceiverConfigError::UnknownType {
                    receiver: receiver.to_string(),
                    kind: other.to_string(),
                })
            }
        })
    }

    /// The environment variables this receiver reads (for `forewarn check` and docs).
    pub fn env_vars(&self) -> Vec<&str> {
        match self {
            ReceiverConfig::Slack(c) => vec![c.webhook_url_env.as_str()],
            ReceiverConfig::Email(c) => c
                .username_env
                .iter()
                .chain(c.password_env.iter())
                .map(String::as_str)
                .collect(),
            ReceiverConfig::Alertmanager(c) => c.url_env.iter().map(String::as_str).collect(),
            ReceiverConfig::Webhook(c) => std::iter::once(c.url_env.as_str())
                .chain(c.secret_env.as_deref())
                .collect(),
        }
    }

    /// The running receiver named `name`, secrets read from the process environment.
    pub fn build(&self, name: &str) -> Result<AnyReceiver, ReceiverConfigError> {
        self.build_with(name, |variable| std::env::var(variable).ok())
    }

    /// The same with an explicit environment (tests, or a caller that loaded secrets itself).
    pub fn build_with(
        &self,
        name: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AnyReceiver, ReceiverConfigError> {
        let secret = |variable: &str| -> Result<Secret, ReceiverConfigError> {
            env(variable)
                .filter(|v| !v.trim().is_empty())
                .map(Secret::new)
                .ok_or_else(|| ReceiverConfigError::MissingEnv {
                    receiver: name.to_string(),
                    variable: variable.to_string(),
                })
        };
        let built = |result: Result<AnyReceiver, NotifyError>| {
            result.map_err(|source| ReceiverConfigError::Build {
                receiver: name.to_string(),
                source,
            })
        };
        match self {
            ReceiverConfig::Slack(c) => built(
                SlackReceiver::new(name, secret(&c.webhook_url_env)?, c.retry.clone())
                    .map(AnyReceiver::Slack),
            ),
            ReceiverConfig::Email(c) => {
                let credentials = match (&c.username_env, &c.password_env) {
                    (Some(user), Some(password)) => {
                        Some((secret(user)?.expose().to_string(), secret(password)?))
                    }
                    (None, None) => None,
                    _ => {
                        return Err(ReceiverConfigError::Inconsistent {
                            receiver: name.to_string(),
                            problem: "username_env and password_env go together".into(),
                        })
                    }
                };
                let extra_ca_pem = c
                    .ca_file
                    .as_ref()
                    .map(|path| {
                        std::fs::read(path).map_err(|source| ReceiverConfigError::CaFile {
                            receiver: name.to_string(),
                            path: path.clone(),
                            source,
                        })
                    })
                    .transpose()?;
                built(
                    EmailReceiver::new(
                        name,
                        EmailSettings {
                            smtp_host: c.smtp_host.clone(),
                            smtp_port: c.smtp_port.unwrap_or(c.tls.default_port()),
                            tls: c.tls,
                            credentials,
                            extra_ca_pem,
                            from: c.from.clone(),
                            to: c.to.clone(),
                            timeout: Duration::from_secs_f64(c.timeout_s.max(0.001)),
                        },
                    )
                    .map(AnyReceiver::Email),
                )
            }
            ReceiverConfig::Alertmanager(c) => built(
                AlertmanagerReceiver::new(
                    name,
                    match (&c.url, &c.url_env) {
                        (Some(url), None) => Secret::new(url.clone()),
                        (None, Some(variable)) => secret(variable)?,
                        _ => {
                            return Err(ReceiverConfigError::Inconsistent {
                                receiver: name.to_string(),
                                problem: "alertmanager needs exactly one of url, url_env".into(),
                            })
                        }
                    },
                    Duration::from_secs(c.resend_validity_s),
                    c.generator_url.clone(),
                    c.retry.clone(),
                )
                .map(AnyReceiver::Alertmanager),
            ),
            ReceiverConfig::Webhook(c) => {
                let signing = c.secret_env.as_deref().map(secret).transpose()?;
                built(
                    WebhookReceiver::new(name, secret(&c.url_env)?, signing, c.retry.clone())
                        .map(AnyReceiver::Webhook),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_the_yaml_forms() {
        let config: ReceiverConfig =
            serde_saphyr::from_str("slack: {webhook_url_env: FOREWARN_SLACK_WEBHOOK_URL}").unwrap();
        assert_eq!(config.env_vars(), ["FOREWARN_SLACK_WEBHOOK_URL"]);
        let config: ReceiverConfig = serde_saphyr::from_str(
            "email: {smtp_host: mail, tls: starttls, username_env: U, password_env: P, from: a@b.c, to: [d@e.f]}",
        )
        .unwrap();
        assert_eq!(config.env_vars(), ["U", "P"]);
        let unknown = serde_saphyr::from_str::<ReceiverConfig>("webhook: {url_env: X, extra: 1}");
        assert!(unknown.unwrap_err().to_string().contains("extra"));
        let unknown = serde_saphyr::from_str::<ReceiverConfig>("pager: {url_env: X}");
        assert!(unknown.unwrap_err().to_string().contains("pager"));
        let two = serde_saphyr::from_str::<ReceiverConfig>(
            "slack: {webhook_url_env: A}\nwebhook: {url_env: B}",
        );
        assert!(two.unwrap_err().to_string().contains("exactly one"));
        // JSON takes the same shape (and serialising gives it back).
        let json: ReceiverConfig =
            serde_json::from_value(json!({"alertmanager": {"url": "http://am:9093"}})).unwrap();
        assert_eq!(
            serde_json::to_value(&json).unwrap()["alertmanager"]["url"],
            "http://am:9093"
        );
    }

    #[test]
    fn type_and_config_form_rejects_unknown_fields_and_types() {
        let ok = ReceiverConfig::from_type_and_config(
            "am",
            "alertmanager",
            json!({"url": "http://am:9093"}),
        );
        assert!(matches!(
            ok,
            Ok(ReceiverConfig::Alertmanager(AlertmanagerConfig {
                resend_validity_s: 600,
                ..
            }))
        ));
        let bad = ReceiverConfig::from_type_and_config(
            "am",
            "alertmanager",
            json!({"url": "x", "urls": 1}),
        );
        assert!(bad.unwrap_err().to_string().contains("urls"));
        let bad = ReceiverConfig::from_type_and_config("p", "pager", json!({}));
        assert!(matches!(bad, Err(ReceiverConfigError::UnknownType { .. })));
    }

    #[test]
    fn missing_secrets_name_the_variable_not_a_value() {
        let config = ReceiverConfig::Webhook(WebhookConfig {
            url_env: "HOOK_URL".into(),
            secret_env: Some("HOOK_SECRET".into()),
            retry: RetryPolicy::default(),
        });
        let error = config
            .build_with("hook", |v| {
                (v == "HOOK_URL").then(|| "http://127.0.0.1:1/x".to_string())
            })
            .expect_err("the secret is missing");
        assert_eq!(
            error.to_string(),
            "receiver hook: environment variable HOOK_SECRET is not set or empty"
        );
        // A URL that does not parse is reported without its text.
        let error = ReceiverConfig::Slack(SlackConfig {
            webhook_url_env: "S".into(),
            retry: RetryPolicy::default(),
        })
        .build_with("s", |_| Some("hooks.example/T0/SECRETPART".into()))
        .expect_err("not a URL");
        let text = crate::act::notify::error::chain(&error);
        assert!(!text.contains("SECRETPART"), "{text}");
    }
}
