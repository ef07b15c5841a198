//! What people read: findings as a table, backtest summaries, and the demo's report of what
//! was found, when and how early, next to what was injected.
//!
//! (The daily trend report of a later issue attaches here too.)

use std::collections::BTreeMap;
use std::io::Write;

use crate::findings::{duration_text, Finding, Severity, Status};
use crate::score::ScoreReport;
use crate::window::timefmt;

/// The entity as one short path: `cluster/namespace/pod/container` or `namespace/service`.
pub fn entity_text(entity: &BTreeMap<String, String>) -> String {
    let order = ["namespace", "service", "pod", "container", "canary"];
    let parts: Vec<&str> = order
        .iter()
        .filter_map(|k| entity.get(*k).map(String::as_str))
        .collect();
    parts.join("/")
}

/// One line per finding: severity, status, rule, entity, summary.
pub fn write_findings_table(findings: &[Finding], out: &mut dyn Write) -> std::io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "no findings");
    }
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
    for f in sorted {
        let status = match f.status {
            Status::Firing => "",
            Status::Resolved => " (resolved)",
        };
        writeln!(
            out,
            "{:<8} {:<18} {}{status}\n         {}",
            f.severity.to_string().to_uppercase(),
            f.rule,
            entity_text(&f.entity),
            f.summary
        )?;
    }
    Ok(())
}

/// Backtest summary (stderr): findings per rule and the first detection per entity.
pub fn write_backtest_summary(
    findings: &[Finding],
    steps: usize,
    seconds: f64,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "backtest: {steps} steps evaluated in {seconds:.2} s, {} findings",
        findings.len()
    )?;
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let mut first: BTreeMap<(&str, String), (&Finding, usize)> = BTreeMap::new();
    for f in findings {
        *per_rule.entry(&f.rule).or_default() += 1;
        if f.status == Status::Firing {
            let entry = first
                .entry((&f.rule, entity_text(&f.entity)))
                .or_insert((f, 0));
            entry.1 += 1;
        }
    }
    for (rule, n) in &per_rule {
        writeln!(out, "  {rule}: {n} findings")?;
    }
    if !first.is_empty() {
        writeln!(out, "first detection per entity:")?;
        let mut rows: Vec<_> = first.values().collect();
        rows.sort_by_key(|(f, _)| f.evaluated_at);
        for (f, steps) in rows {
            writeln!(
                out,
                "  {} {:<8} {:<18} {} (firing at {steps} steps)",
                timefmt::rfc3339(f.evaluated_at),
                f.severity.to_string(),
                f.rule,
                entity_text(&f.entity)
            )?;
        }
    }
    Ok(())
}

/// Per-signal precision / recall / lead time.
pub fn write_score(report: &ScoreReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<18} {:>9} {:>9} {:>7} {:>14} {:>16}",
        "signal", "precision", "recall", "found", "min lead", "median lead"
    )?;
    for (signal, s) in &report.signals {
        let pct = |v: Option<f64>| v.map(|v| format!("{:.2}", v)).unwrap_or_else(|| "-".into());
        let lead = |v: Option<f64>| v.map(signed_duration).unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{:<18} {:>9} {:>9} {:>7} {:>14} {:>16}",
            signal.as_str(),
            pct(s.precision),
            pct(s.recall),
            format!("{}/{}", s.detected, s.incidents),
            lead(s.min_lead_time_s),
            lead(s.median_lead_time_s)
        )?;
    }
    let fps: Vec<_> = report
        .signals
        .iter()
        .flat_map(|(s, score)| score.false_positives.iter().map(move |e| (s, e)))
        .collect();
    if !fps.is_empty() {
        writeln!(out, "false positives:")?;
        for (signal, entity) in fps {
            writeln!(out, "  {signal}: {}", entity_text(entity))?;
        }
    }
    Ok(())
}

fn signed_duration(seconds: f64) -> String {
    if seconds < 0.0 {
        format!("{} late", duration_text(-seconds))
    } else {
        format!("{} early", duration_text(seconds))
    }
}

/// The demo's story: each injected incident, when forewarn first warned, and how early.
pub fn write_demo_report(
    report: &ScoreReport,
    findings: &[Finding],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "Injected incidents and what forewarn said:")?;
    for incident in &report.incidents {
        let entity = entity_text(&incident.entity);
        let impact = incident
            .impact_at
            .map(timefmt::rfc3339)
            .unwrap_or_else(|| "-".into());
        match incident.first_detected_at {
            Some(at) => {
                let first = findings
                    .iter()
                    .filter(|f| {
                        f.evaluated_at == at
                            && f.signal == incident.signal
                            && f.entity_matches(&incident.entity)
                    })
                    .max_by_key(|f| f.severity);
                let lead = incident
                    .lead_time_s
                    .map(signed_duration)
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  ✓ {} {} ({})",
                    incident.signal, entity, incident.kind
                )?;
                writeln!(
                    out,
                    "      first warned {} — impact {} — {}",
                    timefmt::rfc3339(at),
                    impact,
                    lead
                )?;
                if let Some(f) = first {
                    writeln!(out, "      \"{}\"", f.summary)?;
                }
            }
            None => {
                writeln!(
                    out,
                    "  ✗ {} {} ({}) — missed (impact {impact})",
                    incident.signal, entity, incident.kind
                )?;
            }
        }
    }
    writeln!(out)?;
    write_score(report, out)
}

/// The highest severity among firing findings.
pub fn highest_firing(findings: &[Finding]) -> Option<Severity> {
    findings
        .iter()
        .filter(|f| f.status == Status::Firing)
        .map(|f| f.severity)
        .max()
}
