//! Sending the report: the whole report by email (multipart/alternative: plain text, and HTML
//! in a multipart/related with each chart an inline PNG part the HTML references by
//! Content-ID), and the headline numbers to Slack. A file (`--out`) gets the same HTML with the
//! charts as `data:` URIs, so it opens anywhere without its attachments.

use base64::Engine;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::Message;
use serde_json::{json, Value};

use super::html::{self, Charts};
use super::{text, DailyReport};
use crate::act::notify::slack::{escape, MAX_HEADER_CHARS, MAX_SECTION_CHARS};
use crate::act::notify::{AnyReceiver, Delivered, EmailReceiver, NotifyError};

/// The HTML document for a file: charts inline as `data:` URIs.
pub fn html_file(report: &DailyReport, charts: &Charts) -> String {
    html::render(report, charts, |c| {
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&c.png)
        )
    })
}

pub fn subject(report: &DailyReport) -> String {
    let state = if !report.problems.is_empty() {
        " — INCOMPLETE"
    } else if report.quiet {
        " — a quiet day"
    } else {
        ""
    };
    format!("{}{state}", report.title())
}

/// The email: text and HTML alternatives, the charts as related inline parts.
pub fn email(
    receiver: &EmailReceiver,
    report: &DailyReport,
    charts: &Charts,
) -> Result<Message, lettre::error::Error> {
    let html = html::render(report, charts, |c| format!("cid:{}", c.id));
    let mut related = MultiPart::related().singlepart(SinglePart::html(html));
    for chart in charts.all() {
        related = related.singlepart(Attachment::new_inline(chart.id.clone()).body(
            chart.png.clone(),
            ContentType::parse("image/png").expect("valid"),
        ));
    }
    let id = format!(
        "<report-{}-{}@forewarn>",
        report.since.unix_timestamp(),
        report.until.unix_timestamp()
    );
    receiver
        .envelope()
        .subject(subject(report))
        .message_id(Some(id))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(text::render(report)))
                .multipart(related),
        )
}

/// The Slack summary: a header and the headlines (Slack's limits respected).
pub fn slack_payload(report: &DailyReport) -> Value {
    let header: String = subject(report).chars().take(MAX_HEADER_CHARS).collect();
    let lines: Vec<String> = report
        .headlines
        .iter()
        .map(|l| format!("• {}", escape(l)))
        .collect();
    let body: String = lines.join("\n").chars().take(MAX_SECTION_CHARS).collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": body}}),
    ];
    if !report.firing.is_empty() {
        let firing: Vec<String> = report
            .firing
            .iter()
            .take(10)
            .map(|f| format!("• [{}] {}", f.severity, escape(&f.summary)))
            .collect();
        let text: String = format!("*Firing at the end of the day*\n{}", firing.join("\n"))
            .chars()
            .take(MAX_SECTION_CHARS)
            .collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    json!({"text": escape(&subject(report)), "blocks": blocks})
}

/// Delivers to each receiver; every failure is returned (none is dropped silently).
pub async fn send(
    receivers: &[(String, AnyReceiver)],
    report: &DailyReport,
    charts: &Charts,
) -> Vec<Result<Delivered, NotifyError>> {
    let mut out = Vec::new();
    for (name, receiver) in receivers {
        let result = match receiver {
            AnyReceiver::Email(r) => match email(r, report, charts) {
                Ok(message) => r.send_message(message).await,
                Err(e) => Err(NotifyError::Build {
                    receiver: name.clone(),
                    kind: "email",
                    reason: "assembling the report".into(),
                    source: Some(Box::new(e)),
                }),
            },
            AnyReceiver::Slack(r) => r.send_payload(&slack_payload(report)).await,
            other => Err(NotifyError::Build {
                receiver: name.clone(),
                kind: "report",
                reason: format!("{other:?} cannot take the daily report (email or slack only)"),
                source: None,
            }),
        };
        out.push(result);
    }
    out
}
