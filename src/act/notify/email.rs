//! Email over SMTP (lettre): one multipart/alternative message per notification, plain text
//! and HTML saying the same, with the idempotency key as the Message-ID so a resent message is
//! recognisably the same one. Plain SMTP, STARTTLS or implicit TLS; AUTH when configured.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::error::NotifyError;
use super::message::{Notification, NotificationItem, StormSummary};
use super::render;
use super::secret::Secret;
use super::{Delivered, Receiver};

const KIND: &str = "email";

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain SMTP (a relay on localhost or inside the cluster).
    None,
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl TlsMode {
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// Everything an SMTP receiver needs, secrets already read.
pub struct EmailSettings {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: TlsMode,
    pub credentials: Option<(String, Secret)>,
    /// A CA certificate (PEM) trusted besides the public roots: a relay with a private CA.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub from: String,
    pub to: Vec<String>,
    pub timeout: Duration,
}

pub struct EmailReceiver {
    name: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl EmailReceiver {
    pub fn new(name: &str, settings: EmailSettings) -> Result<EmailReceiver, NotifyError> {
        super::http::install_tls_provider();
        let build_error =
            |reason: String, source: Option<super::error::BoxError>| NotifyError::Build {
                receiver: name.to_string(),
                kind: KIND,
                reason,
                source,
            };
        let from: Mailbox = settings.from.parse().map_err(|e| {
            build_error(
                format!("from address {:?}", settings.from),
                Some(Box::new(e)),
            )
        })?;
        let to = settings
            .to
            .iter()
            .map(|address| {
                address
                    .parse::<Mailbox>()
                    .map_err(|e| build_error(format!("to address {address:?}"), Some(Box::new(e))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(build_error("no recipients (to: is empty)".into(), None));
        }
        let tls_parameters = || -> Result<TlsParameters, NotifyError> {
            let mut parameters = TlsParameters::builder(settings.smtp_host.clone());
            if let Some(pem) = &settings.extra_ca_pem {
                let ca = Certificate::from_pem(pem)
                    .map_err(|e| build_error("CA certificate (PEM)".into(), Some(Box::new(e))))?;
                parameters = parameters.add_root_certificate(ca);
            }
            parameters
                .build_rustls()
                .map_err(|e| build_error("TLS parameters".into(), Some(Box::new(e))))
        };
        // STARTTLS is required, never opportunistic: a stripped STARTTLS must not downgrade
        // the login and the message to plain text.
        let tls = match settings.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::Required(tls_parameters()?),
            TlsMode::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.smtp_host).tls(tls);
        let mut builder = builder
            .port(settings.smtp_port)
            .timeout(Some(settings.timeout));
        if let Some((user, password)) = settings.credentials {
            builder = builder.credentials(Credentials::new(user, password.expose().to_string()));
        }
        Ok(EmailReceiver {
            name: name.to_string(),
            from,
            to,
            transport: builder.build(),
        })
    }

    /// A message from this receiver's sender to its recipients (the body is the caller's).
    pub fn envelope(&self) -> lettre::message::MessageBuilder {
        let mut builder = Message::builder().from(self.from.clone());
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
    }

    /// The message as it will be sent (public for tests and `--dry-run`).
    pub fn message(&self, notification: &Notification) -> Result<Message, NotifyError> {
        self.envelope()
            .subject(render::gist(notification))
            .message_id(Some(format!("<{}@forewarn>", notification.key)))
            .multipart(MultiPart::alternative_plain_html(
                plain_text(notification),
                html(notification),
            ))
            .map_err(|e| NotifyError::Build {
                receiver: self.name.clone(),
                kind: KIND,
                reason: "assembling the message".into(),
                source: Some(Box::new(e)),
            })
    }
}

impl Receiver for EmailReceiver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notification: &Notification) -> Result<Delivered, NotifyError> {
        self.send_message(self.message(notification)?).await
    }
}

impl EmailReceiver {
    /// Sends an assembled message (the daily report) over this receiver's transport.
    pub async fn send_message(&self, message: Message) -> Result<Delivered, NotifyError> {
        match self.transport.send(message).await {
            Ok(response) => Ok(Delivered {
                receiver: self.name.clone(),
                kind: KIND,
                attempts: 1,
                response: format!(
                    "SMTP {} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
            }),
            // A permanent SMTP reply (5xx) will not change on resend; everything else
            // (4xx, connection, TLS, timeouts) may.
            Err(error) if error.is_permanent() => Err(NotifyError::Rejected {
                receiver: self.name.clone(),
                kind: KIND,
                reason: super::error::chain(&error),
                source: Some(Box::new(error)),
            }),
            Err(error) => Err(NotifyError::Unavailable {
                receiver: self.name.clone(),
                kind: KIND,
                attempts: 1,
                waited_s: 0.0,
                reason: super::error::chain(&error),
                source: Some(Box::new(error)),
            }),
        }
    }
}

/// The text part.
pub fn plain_text(notification: &Notification) -> String {
    let mut out = format!("{}\n\n", render::gist(notification));
    if let Some(summary) = storm(notification) {
        out.push_str(&format!(
            "{} findings, by rule and namespace:\n",
            summary.total
        ));
        for line in render::storm_lines(&summary) {
            out.push_str(&format!("  - {line}\n"));
        }
        return out;
    }
    for item in &notification.items {
        out.push_str(&plain_item(item));
        out.push('\n');
    }
    out
}

fn plain_item(item: &NotificationItem) -> String {
    format!(
        "{headline}\n{summary}\n  Where:    {where_}\n  How sure: {evidence}\n  Since:    {since}\n  Runbook:  {runbook}\n  Dig in (ClickHouse):\n{dig}\n",
        headline = render::item_headline(item),
        summary = item.finding.summary,
        where_ = render::where_text(item),
        evidence = render::evidence_text(item),
        since = render::since_text(item),
        runbook = render::runbook_text(item).unwrap_or("none"),
        dig = indent(&item.dig_query, "    "),
    )
}

/// The HTML part: the same content, escaped, dig queries in `<pre>`.
pub fn html(notification: &Notification) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><body>\n<h2>{}</h2>\n",
        html_escape(&render::gist(notification))
    );
    if let Some(summary) = storm(notification) {
        out.push_str(&format!(
            "<p>{} findings, by rule and namespace:</p>\n<ul>\n",
            summary.total
        ));
        for line in render::storm_lines(&summary) {
            out.push_str(&format!("<li>{}</li>\n", html_escape(&line)));
        }
        out.push_str("</ul>\n</body></html>\n");
        return out;
    }
    for item in &notification.items {
        let runbook = match render::runbook_text(item) {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                format!("<a href=\"{0}\">{0}</a>", html_escape(url))
            }
            Some(text) => html_escape(text),
            None => "none".into(),
        };
        out.push_str(&format!(
            "<h3>{}</h3>\n<p>{}</p>\n<table>\n<tr><th align=\"left\">Where</th><td>{}</td></tr>\n\
             <tr><th align=\"left\">How sure</th><td>{}</td></tr>\n\
             <tr><th align=\"left\">Since</th><td>{}</td></tr>\n\
             <tr><th align=\"left\">Runbook</th><td>{}</td></tr>\n</table>\n\
             <p>Dig in (ClickHouse):</p>\n<pre>{}</pre>\n",
            html_escape(&render::item_headline(item)),
            html_escape(&item.finding.summary),
            html_escape(&render::where_text(item)),
            html_escape(&render::evidence_text(item)),
            html_escape(&render::since_text(item)),
            runbook,
            html_escape(&item.dig_query),
        ));
    }
    out.push_str("</body></html>\n");
    out
}

/// The storm summary to show: the one asked for, or one made up when the list is too long
/// to read in a mail.
fn storm(notification: &Notification) -> Option<StormSummary> {
    const MAX_DETAILED_ITEMS: usize = 50;
    notification.summary.clone().or_else(|| {
        (notification.items.len() > MAX_DETAILED_ITEMS)
            .then(|| StormSummary::of(&notification.items))
    })
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
