//! What the demo prints: each injected incident next to forewarn's first warning and how early
//! it came, and per-signal precision, recall and lead time.

use std::io::Write;

use crate::demo::score::{min_and_median, ScoreReport, SignalScore};
use crate::findings::{duration_text, Finding, Signal};
use crate::output::findings::entity_text;
use crate::window::timefmt;

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
    write_breakdowns(report, out)
}

/// Which shape fooled which detector: false episodes by the hard-negative kind they fired on,
/// misses by incident kind, and the memory forecast's interval coverage and error.
fn write_breakdowns(report: &ScoreReport, out: &mut dyn Write) -> std::io::Result<()> {
    let counts = |by_kind: &std::collections::BTreeMap<String, usize>| {
        by_kind
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    type Pick = fn(&SignalScore) -> &std::collections::BTreeMap<String, usize>;
    let sections: [(&str, Pick); 2] = [
        ("false episodes by hard-negative kind:", |s| {
            &s.false_by_kind
        }),
        ("misses by incident kind:", |s| &s.missed_by_kind),
    ];
    for (title, pick) in sections {
        let rows: Vec<_> = report
            .signals
            .iter()
            .filter(|(_, s)| !pick(s).is_empty())
            .collect();
        if rows.is_empty() {
            continue;
        }
        writeln!(out, "{title}")?;
        for (signal, s) in rows {
            writeln!(out, "  {signal}: {}", counts(pick(s)))?;
        }
    }
    write_leads_by_kind(report, out)?;
    let forecast = report
        .signals
        .get(&Signal::MemoryPressure)
        .and_then(|s| s.forecast.as_ref());
    let kills: Vec<_> = report
        .incidents
        .iter()
        .filter(|i| i.signal == Signal::MemoryPressure && i.impact_at.is_some())
        .collect();
    if !kills.is_empty() {
        let ahead = kills
            .iter()
            .filter(|i| i.lead_time_s.is_some_and(|l| l >= 20.0 * 60.0))
            .count();
        writeln!(
            out,
            "OOM kills warned at least 20 min ahead: {ahead}/{} ({:.2})",
            kills.len(),
            ahead as f64 / kills.len() as f64
        )?;
    }
    if let Some(f) = forecast {
        let coverage = match f.interval_coverage {
            Some(c) if f.open > 0 => {
                format!(
                    "{}/{} ({c:.2}; {} open-ended)",
                    f.covered, f.intervals, f.open
                )
            }
            Some(c) => format!("{}/{} ({c:.2})", f.covered, f.intervals),
            None => "n/a".into(),
        };
        let error = |v: Option<f64>| v.map(forecast_error).unwrap_or_else(|| "n/a".into());
        let missed = if f.kill_before_earliest + f.kill_after_latest > 0 {
            format!(
                " (missed: kill before the earliest {}, after the latest {})",
                f.kill_before_earliest, f.kill_after_latest
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "memory forecast at the first warning: interval coverage {coverage}{missed}; error median {}, worst {} (over {} forecasts)",
            error(f.median_error_s),
            error(f.worst_error_s),
            f.forecasts
        )?;
        if let Some(c) = f.warning_coverage {
            writeln!(
                out,
                "memory forecast over every warning: interval coverage {}/{} ({c:.2})",
                f.warnings_covered, f.warning_intervals
            )?;
        }
    }
    Ok(())
}

/// Lead time by incident kind: a signal's kinds differ in what their impact means (an error
/// burst's impact is its onset, a creep's is 5× its baseline), so one signal-wide minimum hides
/// which shape is reported late.
fn write_leads_by_kind(report: &ScoreReport, out: &mut dyn Write) -> std::io::Result<()> {
    let mut by_kind: std::collections::BTreeMap<(Signal, &str), Vec<Option<f64>>> =
        std::collections::BTreeMap::new();
    for incident in &report.incidents {
        by_kind
            .entry((incident.signal, incident.kind.as_str()))
            .or_default()
            .push(incident.lead_time_s);
    }
    if by_kind.is_empty() {
        return Ok(());
    }
    writeln!(out, "lead by incident kind:")?;
    for ((signal, kind), leads) in by_kind {
        let found: Vec<f64> = leads.iter().flatten().copied().collect();
        let ahead = found.iter().filter(|l| **l > 0.0).count();
        let count = found.len();
        let spread = match min_and_median(found) {
            (Some(min), Some(median)) => format!(
                ", min {}, median {}",
                signed_duration(min),
                signed_duration(median)
            ),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {signal} {kind}: {count}/{} found, {ahead} before impact{spread}",
            leads.len()
        )?;
    }
    Ok(())
}

/// exhaustion_at − impact: "+6m (late)" when the forecast came after the kill.
fn forecast_error(seconds: f64) -> String {
    if seconds > 0.0 {
        format!("+{} (after the kill)", duration_text(seconds))
    } else if seconds < 0.0 {
        format!("-{} (before the kill)", duration_text(-seconds))
    } else {
        "0s".into()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::score::IncidentResult;

    fn incident(kind: &str, detected_after_s: Option<i64>) -> IncidentResult {
        let onset = time::macros::datetime!(2026-11-20 08:00 UTC);
        let impact = onset + time::Duration::hours(1);
        let first = detected_after_s.map(|s| onset + time::Duration::seconds(s));
        IncidentResult {
            signal: Signal::ErrorRate,
            kind: kind.into(),
            entity: Default::default(),
            onset_at: onset,
            impact_at: Some(impact),
            first_detected_at: first,
            lead_time_s: first.map(|f| (impact - f).as_seconds_f64()),
            forecast_at: None,
            forecast_interval: None,
            warning_intervals: Vec::new(),
        }
    }

    #[test]
    fn leads_are_told_apart_by_incident_kind() {
        let report = ScoreReport {
            signals: Default::default(),
            incidents: vec![
                incident("error_creep", Some(40 * 60)),
                incident("error_creep", Some(80 * 60)),
                incident("error_creep", None),
                incident("error_burst", Some(65 * 60)),
            ],
        };
        let mut out = Vec::new();
        write_leads_by_kind(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "lead by incident kind:\n  \
             error_rate error_burst: 1/1 found, 0 before impact, min 5 min late, median 5 min late\n  \
             error_rate error_creep: 2/3 found, 1 before impact, min 20 min late, median 20 min early\n"
        );
    }
}
