//! Slack incoming webhooks: a notification as Block Kit (with the `text` fallback Slack shows in
//! notifications), always within Slack's limits — at most 50 blocks, 3,000 characters a section,
//! 150 a header — because an over-limit message is refused (`invalid_blocks`) and lost. A
//! message that would not fit in detail is sent as a summary by rule and namespace instead.

use serde_json::{json, Value};

use super::error::NotifyError;
use super::http::{self, Request, RetryPolicy};
use super::message::{Notification, NotificationItem, StormSummary};
use super::render;
use super::secret::Secret;
use super::{Delivered, Receiver};

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_CHARS: usize = 3_000;
pub const MAX_HEADER_CHARS: usize = 150;
pub const MAX_CONTEXT_ELEMENT_CHARS: usize = 2_000;
/// The fallback `text` is kept short: it is what a phone notification shows.
pub const MAX_FALLBACK_CHARS: usize = 3_000;

/// Blocks before the items: header and context.
const LEAD_BLOCKS: usize = 2;
/// Blocks per item in the detailed form: the finding and its dig query.
const BLOCKS_PER_ITEM: usize = 2;

const KIND: &str = "slack";

pub struct SlackReceiver {
    name: String,
    webhook_url: Secret,
    url: reqwest::Url,
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl SlackReceiver {
    pub fn new(
        name: &str,
        webhook_url: Secret,
        retry: RetryPolicy,
    ) -> Result<SlackReceiver, NotifyError> {
        let build_error = |reason: String| NotifyError::Build {
            receiver: name.to_string(),
            kind: KIND,
            reason,
            source: None,
        };
        let url =
            http::parse_url(&webhook_url).map_err(|e| build_error(format!("webhook URL: {e}")))?;
        let client = http::client(retry.request_timeout())
            .map_err(|e| build_error(format!("HTTP client: {e}")))?;
        Ok(SlackReceiver {
            name: name.to_string(),
            webhook_url,
            url,
            client,
            retry,
        })
    }
}

impl Receiver for SlackReceiver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notification: &Notification) -> Result<Delivered, NotifyError> {
        self.send_payload(&payload(notification)).await
    }
}

impl SlackReceiver {
    /// Posts any Block Kit payload (the daily report's summary) with the same retry policy.
    pub async fn send_payload(&self, payload: &Value) -> Result<Delivered, NotifyError> {
        let request = Request::post_json(
            &self.name,
            KIND,
            self.url.clone(),
            &self.webhook_url,
            payload.to_string().into_bytes(),
        );
        http::send_with_retry(&self.client, request, &self.retry).await
    }
}

/// The webhook body: `{"text": fallback, "blocks": [...]}`. If the blocks broke a limit despite
/// the layout rules, the message goes as text only rather than not at all.
pub fn payload(notification: &Notification) -> Value {
    let text = fit(&escape(&render::gist(notification)), MAX_FALLBACK_CHARS);
    let blocks = blocks(notification);
    match check_limits(&blocks) {
        Ok(()) => json!({"text": text, "blocks": blocks}),
        Err(problem) => {
            tracing::warn!(problem = %problem, "slack blocks over the limits; sending text only");
            json!({"text": text})
        }
    }
}

/// Detailed blocks when they fit (and no storm summary was asked for), else the summary.
pub fn blocks(notification: &Notification) -> Vec<Value> {
    let fits = LEAD_BLOCKS + BLOCKS_PER_ITEM * notification.items.len() <= MAX_BLOCKS;
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": fit(&notification.title, MAX_HEADER_CHARS), "emoji": true}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": fit(&escape(&format!(
            "{} · route {} · forewarn", render::gist(notification), notification.route
        )), MAX_CONTEXT_ELEMENT_CHARS)}]}),
    ];
    match (&notification.summary, fits) {
        (None, true) => {
            for item in &notification.items {
                blocks.push(section(&item_text(item)));
                blocks.push(section(&dig_text(item)));
            }
        }
        (Some(summary), _) => blocks.extend(summary_blocks(summary)),
        (None, false) => blocks.extend(summary_blocks(&StormSummary::of(&notification.items))),
    }
    blocks
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": fit(text, MAX_SECTION_CHARS)}})
}

/// What, where, how sure, since when, the runbook (mrkdwn, escaped).
fn item_text(item: &NotificationItem) -> String {
    let runbook = match render::runbook_text(item) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            format!("<{}|{}>", escape(url), escape(url))
        }
        Some(text) => escape(text),
        None => "none".to_string(),
    };
    format!(
        "*{}*\n{}\n*Where:* {}\n*How sure:* {}\n*Since:* {}\n*Runbook:* {}",
        escape(&render::item_headline(item)),
        escape(&item.finding.summary),
        escape(&render::where_text(item)),
        escape(&render::evidence_text(item)),
        escape(&render::since_text(item)),
        runbook
    )
}

/// The dig query in a code block; one too long for a section is named, not cut (a cut query
/// does not run).
fn dig_text(item: &NotificationItem) -> String {
    let query = escape(&item.dig_query);
    let text = format!("*Dig in* (ClickHouse):\n```{query}```");
    if text.chars().count() <= MAX_SECTION_CHARS {
        text
    } else {
        format!(
            "*Dig in:* the query for finding {} is too long for Slack ({} characters); \
             `forewarn history {}` shows it.",
            escape(&item.finding.id),
            item.dig_query.chars().count(),
            escape(&item.finding.id)
        )
    }
}

/// The summary by rule and namespace, in as many sections as fit; the rest counted.
fn summary_blocks(summary: &StormSummary) -> Vec<Value> {
    // Room after the lead blocks for the intro, the group sections and a "more" line.
    let max_sections = MAX_BLOCKS - LEAD_BLOCKS - 2;
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut shown = 0;
    for line in render::storm_lines(summary) {
        let line = fit(&format!("• {}\n", escape(&line)), MAX_SECTION_CHARS);
        if current.chars().count() + line.chars().count() > MAX_SECTION_CHARS {
            if sections.len() + 1 >= max_sections {
                break;
            }
            sections.push(std::mem::take(&mut current));
        }
        current.push_str(&line);
        shown += 1;
    }
    if !current.is_empty() {
        sections.push(current);
    }
    let mut blocks = vec![section(&format!(
        "*{} findings* — too many to list one by one; by rule and namespace:",
        summary.total
    ))];
    blocks.extend(sections.iter().map(|s| section(s)));
    let hidden = summary.groups.len() - shown;
    if hidden > 0 {
        blocks.push(section(&format!("…and {hidden} more groups.")));
    }
    blocks
}

/// Slack's three mrkdwn control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max_chars` characters, cut with `…`.
fn fit(text: &str, max_chars: usize) -> String {
    http::shorten(text, max_chars)
}

/// Checks Slack's Block Kit limits that forewarn's layout can reach.
pub fn check_limits(blocks: &[Value]) -> Result<(), String> {
    if blocks.len() > MAX_BLOCKS {
        return Err(format!("{} blocks (at most {MAX_BLOCKS})", blocks.len()));
    }
    for (index, block) in blocks.iter().enumerate() {
        let kind = block["type"].as_str().unwrap_or("");
        let limit = match kind {
            "header" => MAX_HEADER_CHARS,
            "section" => MAX_SECTION_CHARS,
            "context" => {
                for element in block["elements"].as_array().into_iter().flatten() {
                    let n = element["text"].as_str().unwrap_or("").chars().count();
                    if n > MAX_CONTEXT_ELEMENT_CHARS {
                        return Err(format!("block {index}: context element of {n} characters"));
                    }
                }
                continue;
            }
            _ => continue,
        };
        let n = block["text"]["text"].as_str().unwrap_or("").chars().count();
        if n > limit {
            return Err(format!(
                "block {index}: {kind} text of {n} characters (at most {limit})"
            ));
        }
    }
    Ok(())
}
