//! The findings contract on stdout (JSON lines, JSON) and for people (an aligned table), plus
//! the backtest summary and the failures of a run. (DESIGN.md: Findings — contract.)

use std::collections::BTreeMap;
use std::io::Write;

use crate::evaluate::RuleFailure;
use crate::findings::{Finding, Status};
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

/// How findings are printed: `jsonl` is the contract, `table` is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsFormat {
    Table,
    Json,
    Jsonl,
}

impl FindingsFormat {
    /// A table on a terminal, JSON lines otherwise.
    pub fn for_terminal(is_terminal: bool) -> FindingsFormat {
        if is_terminal {
            FindingsFormat::Table
        } else {
            FindingsFormat::Jsonl
        }
    }
}

/// Writes findings in `format` (`json` is one array; `jsonl` one object per line).
pub fn write_findings(
    findings: &[Finding],
    format: FindingsFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        FindingsFormat::Table => write_findings_table(findings, out),
        FindingsFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, findings)?;
            writeln!(out)
        }
        FindingsFormat::Jsonl => {
            for f in findings {
                serde_json::to_writer(&mut *out, f)?;
                writeln!(out)?;
            }
            Ok(())
        }
    }
}

/// One `error:` line per rule that could not be judged, naming its query file.
pub fn write_failures(failures: &[RuleFailure], out: &mut dyn Write) -> std::io::Result<()> {
    for failure in failures {
        writeln!(out, "error: {failure}")?;
    }
    if !failures.is_empty() {
        writeln!(
            out,
            "error: {} rule(s) could not be judged; the findings above are incomplete",
            failures.len()
        )?;
    }
    Ok(())
}
