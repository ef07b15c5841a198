//! The words of a notification, shared by the human-facing receivers (Slack, email): what,
//! where, how sure, since when, the runbook — as plain text parts that each receiver escapes
//! and lays out in its own format.

use serde_json::Value;

use crate::findings::{bytes_text, duration_text};
use crate::window::timefmt::rfc3339;

use super::message::{Change, Notification, NotificationItem, StormSummary};

/// `NEW`, `STILL FIRING`, `ESCALATED`, `RESOLVED`.
pub fn change_label(change: Change) -> &'static str {
    match change {
        Change::New => "NEW",
        Change::Repeat => "STILL FIRING",
        Change::Escalated => "ESCALATED",
        Change::Resolved => "RESOLVED",
    }
}

/// The headline of one item: `NEW · critical · memory-pressure`.
pub fn item_headline(item: &NotificationItem) -> String {
    format!(
        "{} · {} · {}",
        change_label(item.change),
        item.finding.severity,
        item.finding.rule
    )
}

/// Where: `cluster=prod namespace=shop pod=cart-1 container=app`.
pub fn where_text(item: &NotificationItem) -> String {
    if item.finding.entity.is_empty() {
        return "(no entity)".into();
    }
    item.finding
        .entity
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How sure: the evidence numbers, with bytes and seconds also in human units.
pub fn evidence_text(item: &NotificationItem) -> String {
    if item.finding.evidence.is_empty() {
        return "(no evidence recorded)".into();
    }
    item.finding
        .evidence
        .iter()
        .map(|(key, value)| format!("{key}={}", evidence_value(key, value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn evidence_value(key: &str, value: &Value) -> String {
    match value {
        Value::Number(n) => {
            let Some(x) = n.as_f64() else {
                return n.to_string();
            };
            // Whole numbers without the `.0` serde_json gives floats.
            let plain = if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{}", x as i64)
            } else {
                n.to_string()
            };
            if key.ends_with("_bytes") {
                format!("{plain} ({})", bytes_text(x))
            } else if key.ends_with("_s") || key.ends_with("_seconds") {
                format!("{plain} ({})", duration_text(x))
            } else {
                plain
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Since when: `2026-11-23T06:00:00Z (judged on 06:00:00Z–12:00:00Z)`.
pub fn since_text(item: &NotificationItem) -> String {
    format!(
        "{} (judged on {} – {})",
        rfc3339(item.first_seen_at),
        rfc3339(item.finding.window.from),
        rfc3339(item.finding.window.to)
    )
}

pub fn runbook_text(item: &NotificationItem) -> Option<&str> {
    item.finding.runbook.as_deref().filter(|r| !r.is_empty())
}

/// One line per summary group: `memory-pressure in shop: 12 (3 resolved), up to critical`.
pub fn storm_lines(summary: &StormSummary) -> Vec<String> {
    summary
        .groups
        .iter()
        .map(|g| {
            let namespace = if g.namespace.is_empty() {
                "(no namespace)"
            } else {
                g.namespace.as_str()
            };
            let resolved = if g.resolved > 0 {
                format!(" ({} resolved)", g.resolved)
            } else {
                String::new()
            };
            format!(
                "{} in {namespace}: {}{resolved}, up to {}",
                g.rule, g.count, g.max_severity
            )
        })
        .collect()
}

/// `3 findings: 2 new, 1 resolved` — the one-line gist (Slack's `text`, a mail's first line).
pub fn gist(notification: &Notification) -> String {
    let total = notification.items.len();
    let mut counts = Vec::new();
    for change in [
        Change::New,
        Change::Escalated,
        Change::Repeat,
        Change::Resolved,
    ] {
        let n = notification
            .items
            .iter()
            .filter(|i| i.change == change)
            .count();
        if n > 0 {
            counts.push(format!("{n} {}", change_label(change).to_lowercase()));
        }
    }
    let plural = if total == 1 { "" } else { "s" };
    format!(
        "{}: {total} finding{plural} ({})",
        notification.title,
        counts.join(", ")
    )
}
