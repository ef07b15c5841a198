//! The report as plain text (the email's text part, and `--out report.txt`), and the one-line
//! headlines the HTML, the text and the Slack summary all lead with.

use std::fmt::Write;

use super::{short_time, Compared, DailyReport, MemoryRow};
use crate::findings::{bytes_text, duration_text};

pub fn percent(ratio: f64) -> String {
    if ratio > 0.0 && ratio < 0.001 {
        format!("{:.3} %", ratio * 100.0)
    } else if ratio < 0.1 {
        format!("{:.2} %", ratio * 100.0)
    } else {
        format!("{:.0} %", ratio * 100.0)
    }
}

fn count(value: f64) -> String {
    format!("{value:.0}")
}

/// `12 (day before 9, week before 4)`.
pub fn compared(c: &Compared, show: impl Fn(f64) -> String) -> String {
    let other = |label: &str, v: Option<f64>| match v {
        Some(v) => format!("{label} {}", show(v)),
        None => format!("{label} no data"),
    };
    if c.day_before.is_none() && c.week_before.is_none() {
        return format!("{} (no data the day or the week before)", show(c.today));
    }
    format!(
        "{} ({}, {})",
        show(c.today),
        other("day before", c.day_before),
        other("week before", c.week_before)
    )
}

/// "limit in 12–25 min" style range from a forecast, relative to the end of the day.
pub fn forecast_text(row: &MemoryRow, until: time::OffsetDateTime) -> Option<String> {
    let f = row.forecast.as_ref()?;
    let seconds =
        |t: Option<time::OffsetDateTime>| t.map(|t| (t - until).as_seconds_f64().max(0.0));
    let earliest = seconds(f.exhaustion_earliest_at.or(f.exhaustion_at))?;
    Some(match seconds(f.exhaustion_latest_at) {
        Some(latest) => format!(
            "limit in {}–{} ({})",
            duration_text(earliest),
            duration_text(latest),
            f.severity
        ),
        None => format!(
            "limit in {} or later ({})",
            duration_text(earliest),
            f.severity
        ),
    })
}

pub fn headlines(report: &DailyReport) -> Vec<String> {
    let mut out = Vec::new();
    if report.quiet {
        out.push("A quiet day: no container came near its memory limit, no restarts, no canary outage, nothing firing.".to_string());
    }
    match &report.memory {
        Some(m) => {
            let forecasts = m.closest.iter().filter(|r| r.forecast.is_some()).count();
            out.push(format!(
                "Memory: {} of {} containers peaked above 80 % of their limit; OOM kills {}{}.",
                compared(&m.above_80_percent, count),
                m.containers,
                compared(&m.oom_kills, count),
                if forecasts > 0 {
                    format!("; {forecasts} forecast to reach their limit")
                } else {
                    String::new()
                }
            ));
        }
        None => out.push("Memory: the data could not be read.".into()),
    }
    match &report.errors {
        Some(e) => {
            let rising = e.rising.iter().filter(|s| s.finding.is_some()).count();
            out.push(format!(
                "Errors: {} error ratio over {} requests in {} services{}.",
                compared(&e.error_ratio, percent),
                count(e.requests.today),
                e.services,
                if rising > 0 {
                    format!("; {rising} rising significantly against their baseline")
                } else {
                    String::new()
                }
            ));
        }
        None => out.push("Errors: the data could not be read.".into()),
    }
    match &report.restarts {
        Some(r) => out.push(format!(
            "Restarts: {} restarts in {} containers.",
            compared(&r.restarts, count),
            r.containers_restarted
        )),
        None => out.push("Restarts: the data could not be read.".into()),
    }
    match &report.heartbeats {
        Some(h) if h.canaries.is_empty() => out.push(
            "Canaries: no canary beat this day — check the pipeline or the heartbeat matcher."
                .into(),
        ),
        Some(h) => out.push(format!(
            "Canaries: {} canaries, uptime {}, outages {}.",
            h.canaries.len(),
            h.uptime
                .as_ref()
                .map(|u| compared(u, |v| format!("{:.1} %", v * 100.0)))
                .unwrap_or_else(|| "—".into()),
            compared(&h.outages, count)
        )),
        None => out.push("Canaries: the data could not be read.".into()),
    }
    if let Some(s) = &report.state {
        let applied: usize = s.actions.iter().map(|a| a.applied).sum();
        let effective: usize = s.actions.iter().map(|a| a.effective).sum();
        out.push(format!(
            "forewarn: {} findings opened, {} resolved{}; {} notifications sent{}; {} actions applied, {} verified effective.",
            s.findings_opened,
            s.findings_resolved,
            s.median_resolution_s
                .map(|m| format!(" (median {} to resolve)", duration_text(m)))
                .unwrap_or_default(),
            s.notifications_delivered,
            if s.notifications_failed + s.notifications_rejected > 0 {
                format!(
                    " ({} failed attempts, {} rejected)",
                    s.notifications_failed, s.notifications_rejected
                )
            } else {
                String::new()
            },
            applied,
            effective
        ));
    }
    if !report.missing.is_empty() {
        let windows: Vec<String> = report
            .missing
            .iter()
            .map(|m| format!("{} ({} h)", m.window, m.hours.len()))
            .collect();
        out.push(format!("Missing data: {}.", windows.join(", ")));
    }
    if !report.problems.is_empty() {
        out.push(format!(
            "INCOMPLETE: {} part(s) of this report could not be made; see below.",
            report.problems.len()
        ));
    }
    out
}

/// Hour ranges (`03:00–05:00`) from a list of RFC 3339 hour starts.
pub fn hour_ranges(hours: &[String]) -> String {
    let parsed: Vec<time::OffsetDateTime> = hours
        .iter()
        .filter_map(|h| {
            time::OffsetDateTime::parse(h, &time::format_description::well_known::Rfc3339).ok()
        })
        .collect();
    let mut ranges: Vec<(time::OffsetDateTime, time::OffsetDateTime)> = Vec::new();
    for h in parsed {
        match ranges.last_mut() {
            Some((_, end)) if *end == h => *end = h + time::Duration::hours(1),
            _ => ranges.push((h, h + time::Duration::hours(1))),
        }
    }
    ranges
        .iter()
        .map(|(a, b)| format!("{}–{}", short_time(*a), &short_time(*b)[11..]))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn render(report: &DailyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.title());
    if !report.clusters.is_empty() {
        let _ = writeln!(out, "Clusters: {}", report.clusters.join(", "));
    }
    let _ = writeln!(out);
    for line in &report.headlines {
        let _ = writeln!(out, "* {line}");
    }
    for m in &report.missing {
        let _ = writeln!(out, "  {}: no data {}", m.window, hour_ranges(&m.hours));
    }
    for p in &report.problems {
        let _ = writeln!(out, "  could not read {}: {}", p.part, p.error);
    }
    if let Some(m) = &report.memory {
        let _ = writeln!(out, "\nMEMORY — closest to their limit");
        memory_rows(&mut out, &m.closest, report.until);
        if !m.fastest.is_empty() {
            let _ = writeln!(out, "\nMEMORY — fastest growing");
            memory_rows(&mut out, &m.fastest, report.until);
        }
        if m.without_limit > 0 {
            let _ = writeln!(
                out,
                "  ({} containers have no memory limit)",
                m.without_limit
            );
        }
    }
    if let Some(e) = &report.errors {
        let _ = writeln!(out, "\nERROR RATES — highest");
        for s in &e.highest {
            let _ = writeln!(
                out,
                "  {}/{}: {} of {} requests ({} errors){}",
                s.service.namespace,
                s.service.service,
                percent(s.service.error_ratio),
                s.service.requests,
                s.service.errors,
                s.service
                    .ratio_day_before
                    .map(|r| format!(", day before {}", percent(r)))
                    .unwrap_or_default()
            );
        }
        if !e.rising.is_empty() {
            let _ = writeln!(out, "\nERROR RATES — rising");
            for s in &e.rising {
                let _ = writeln!(
                    out,
                    "  {}/{}: {} in the last quarter of the day, baseline {}{}",
                    s.service.namespace,
                    s.service.service,
                    percent(s.service.recent_ratio),
                    percent(s.service.recent_ratio - s.service.rise()),
                    s.finding
                        .as_ref()
                        .map(|f| format!(" — {f}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    if let Some(r) = &report.restarts {
        let _ = writeln!(out, "\nRESTARTS");
        if r.top.is_empty() {
            let _ = writeln!(out, "  no container restarted");
        }
        for e in &r.top {
            let reasons: Vec<String> = e.reasons.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            let _ = writeln!(
                out,
                "  {}/{}/{}: {} restarts{}",
                e.namespace,
                e.pod,
                e.container,
                e.restarts,
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", reasons.join(", "))
                }
            );
        }
    }
    if let Some(h) = &report.heartbeats {
        let _ = writeln!(out, "\nCANARIES");
        for c in &h.canaries {
            let _ = writeln!(
                out,
                "  {}: uptime {:.1} %, every {}, {} outage(s)",
                c.canary,
                c.uptime * 100.0,
                duration_text(c.period_s),
                c.outages.len()
            );
            for o in &c.outages {
                let _ = writeln!(
                    out,
                    "    down {} for {}",
                    short_time(report.since + time::Duration::seconds_f64(o.from_s)),
                    duration_text(o.to_s - o.from_s)
                );
            }
        }
    }
    if let Some(s) = &report.state {
        let _ = writeln!(out, "\nFOREWARN'S DAY");
        let _ =
            writeln!(
            out,
            "  {} runs ({} failed); {} findings opened, {} resolved; {} notifications delivered",
            s.runs, s.failed_runs, s.findings_opened, s.findings_resolved, s.notifications_delivered
        );
        for a in &s.actions {
            let _ = writeln!(
                out,
                "  runbook {}: {} recorded, {} applied, {} effective, {} ineffective",
                a.runbook, a.recorded, a.applied, a.effective, a.ineffective
            );
        }
    } else if let Some(note) = &report.state_note {
        let _ = writeln!(out, "\n({note})");
    }
    if !report.firing.is_empty() {
        let _ = writeln!(out, "\nFIRING AT THE END OF THE DAY");
        for f in &report.firing {
            let _ = writeln!(out, "  [{}] {}", f.severity, f.summary);
        }
    }
    out
}

fn memory_rows(out: &mut String, rows: &[MemoryRow], until: time::OffsetDateTime) {
    if rows.is_empty() {
        let _ = writeln!(out, "  no container with a memory limit");
    }
    for r in rows {
        let e = &r.entity;
        let _ = writeln!(
            out,
            "  {}/{}/{}: peak {} of {}{}, now {}, {:+.1} %/h{}{}",
            e.namespace,
            e.pod,
            e.container,
            percent(e.peak_ratio),
            bytes_text(e.limit_bytes),
            if e.oom_kills > 0 {
                format!(" (OOM-killed ×{})", e.oom_kills)
            } else {
                String::new()
            },
            percent(e.last_ratio),
            e.growth_ratio_per_h * 100.0,
            e.peak_ratio_day_before
                .map(|p| format!(", day before {}", percent(p)))
                .unwrap_or_default(),
            forecast_text(r, until)
                .map(|f| format!(" — {f}"))
                .unwrap_or_default()
        );
    }
}
