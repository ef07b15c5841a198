//! Checks on the rule set as a whole, after every file parsed: names unique, jobs known and
//! windows a whole number of at least four buckets, each parameter
//! section matching its rule's signal. What a section's own values must satisfy, its type
//! says (`MemoryParams::problems` and the like, next to their detectors).

use std::collections::BTreeSet;

use crate::config::error::RuleProblem;
use crate::config::rules::{Rule, RuleSet};
use crate::findings::Signal;

/// Every problem in the set; empty when it is valid.
pub fn validate(set: &RuleSet) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    let mut job_names = BTreeSet::new();
    for job in &set.jobs {
        let mut report = |field: String, message: String| {
            problems.push(RuleProblem {
                file: "-".into(),
                line: 0,
                column: 0,
                field,
                message,
            })
        };
        if !job_names.insert(job.name.clone()) {
            report(
                format!("jobs[{}]", job.name),
                format!("job `{}` is defined twice", job.name),
            );
        }
        // The schedule and time zone were checked as the file parsed (crate::schedule), so
        // they carry their own file:line:column.
    }
    let mut rule_names = BTreeSet::new();
    for (index, rule) in set.rules.iter().enumerate() {
        let mut report = |field: &str, message: String| {
            problems.push(RuleProblem {
                file: rule.origin.file.clone(),
                line: rule.origin.line,
                column: rule.origin.column,
                field: format!("rules[{index}] ({}).{field}", rule.name),
                message,
            })
        };
        if rule.name.trim().is_empty() {
            report("name", "must not be empty".into());
        }
        if !rule_names.insert(rule.name.clone()) {
            report("name", format!("rule `{}` is defined twice", rule.name));
        }
        if !job_names.contains(&rule.job) {
            report(
                "job",
                format!(
                    "unknown job `{}` (defined jobs: {})",
                    rule.job,
                    job_names.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        } else if set
            .jobs
            .iter()
            .any(|j| j.name == rule.job && j.report.is_some())
        {
            report(
                "job",
                format!(
                    "job `{}` is a report job: it runs the report, not rules (put the rule in another job)",
                    rule.job
                ),
            );
        }
        for (field, message) in window_problems(rule)
            .into_iter()
            .chain(section_problems(rule))
        {
            report(&field, message);
        }
    }
    problems
}

/// The window must hold a whole number of buckets, at least four.
fn window_problems(rule: &Rule) -> Vec<(String, String)> {
    let bucket_s = rule.bucket.0.as_secs();
    let window_s = rule.window.0.as_secs();
    if bucket_s == 0 {
        vec![("bucket".into(), "must be at least 1s".into())]
    } else if window_s < bucket_s * 4 {
        vec![(
            "window".into(),
            format!(
                "{} is too short for buckets of {} (need at least 4 buckets)",
                rule.window, rule.bucket
            ),
        )]
    } else if !window_s.is_multiple_of(bucket_s) {
        vec![(
            "window".into(),
            format!(
                "{} is not a whole number of {} buckets",
                rule.window, rule.bucket
            ),
        )]
    } else {
        Vec::new()
    }
}

/// Only the rule's own signal's section may be present, and its values must hold.
fn section_problems(rule: &Rule) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let present = [
        (Signal::MemoryPressure, "memory", rule.memory.is_some()),
        (Signal::ErrorRate, "errors", rule.errors.is_some()),
        (
            Signal::RestartFrequency,
            "restarts",
            rule.restarts.is_some(),
        ),
        (
            Signal::HeartbeatMissing,
            "heartbeats",
            rule.heartbeats.is_some(),
        ),
    ];
    for (signal, section, present) in present {
        if present && signal != rule.signal {
            problems.push((
                section.to_string(),
                format!(
                    "a `{section}:` section does not apply to signal {}",
                    rule.signal
                ),
            ));
        }
    }
    let window = rule.window;
    let section = |name: &str, found: Vec<(&str, String)>| {
        found
            .into_iter()
            .map(|(field, message)| {
                let path = if field.is_empty() {
                    name.to_string()
                } else {
                    format!("{name}.{field}")
                };
                (path, message)
            })
            .collect::<Vec<_>>()
    };
    if let Some(p) = &rule.memory {
        problems.extend(section("memory", p.problems(window)));
    }
    if let Some(p) = &rule.errors {
        problems.extend(section("errors", p.problems(window)));
    }
    if let Some(p) = &rule.restarts {
        problems.extend(section("restarts", p.problems(window)));
    }
    if let Some(p) = &rule.heartbeats {
        problems.extend(section("heartbeats", p.problems(window)));
    }
    problems
}

/// Whether a value is a probability strictly between 0 and 1 (a significance level).
pub fn is_probability(value: f64) -> bool {
    value > 0.0 && value < 1.0
}

#[cfg(test)]
mod tests {
    use crate::config::{RuleSet, RulesError};

    const JOBS: &str = "jobs:\n  - name: frequent\n    schedule: \"0 */5 * * * *\"\n";

    fn parse(rules: &str) -> Result<RuleSet, RulesError> {
        RuleSet::from_texts(vec![
            ("jobs.yaml".into(), JOBS.into()),
            ("r.yaml".into(), rules.into()),
        ])
    }

    fn rule(signal: &str, extra: &str) -> String {
        format!(
            "rules:\n  - name: r\n    signal: {signal}\n    job: frequent\n    window: 3h\n    bucket: 1m\n{extra}"
        )
    }

    #[test]
    fn a_rule_in_a_report_job_is_rejected() {
        let jobs = "jobs:\n  - name: frequent\n    schedule: \"0 */5 * * * *\"\n  - name: morning\n    schedule: \"0 0 7 * * *\"\n    report: daily\n";
        let texts = |job: &str| {
            vec![
                ("jobs.yaml".into(), jobs.into()),
                (
                    "r.yaml".into(),
                    rule("memory_pressure", "").replace("job: frequent", job),
                ),
            ]
        };
        let err = RuleSet::from_texts(texts("job: morning")).unwrap_err();
        assert!(err.to_string().contains("is a report job"), "{err}");
        // Positive control: the same rule in the other job, beside the report job, is valid.
        let set = RuleSet::from_texts(texts("job: frequent")).unwrap();
        assert_eq!(
            set.jobs[1].report,
            Some(crate::config::rules::ReportKind::Daily)
        );
    }

    #[test]
    fn a_section_for_another_signal_is_rejected() {
        let err = parse(&rule(
            "memory_pressure",
            "    errors:\n      min_errors: 3\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("does not apply"), "{err}");
        assert_eq!(err.problems()[0].field, "rules[0] (r).errors");
    }

    #[test]
    fn every_problem_of_a_rule_is_listed_at_its_line() {
        let err = parse(&rule(
            "memory_pressure",
            "    memory:\n      significance: 1.5\n      min_points: 2\n",
        ))
        .unwrap_err();
        let fields: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rules[0] (r).memory.significance",
                "rules[0] (r).memory.min_points"
            ],
            "{err}"
        );
        assert!(err
            .problems()
            .iter()
            .all(|p| p.line == 2 && p.file == "r.yaml"));
    }

    #[test]
    fn a_window_of_too_few_or_partial_buckets_is_rejected() {
        let short = rule("memory_pressure", "").replace("window: 3h", "window: 3m");
        assert!(parse(&short)
            .unwrap_err()
            .to_string()
            .contains("need at least 4"));
        let partial = rule("memory_pressure", "").replace("window: 3h", "window: 270s");
        assert!(parse(&partial)
            .unwrap_err()
            .to_string()
            .contains("not a whole number"));
        assert!(
            parse(&rule("memory_pressure", "")).is_ok(),
            "positive control"
        );
    }

    #[test]
    fn a_duplicate_rule_and_a_bad_schedule_are_rejected() {
        let twice = format!(
            "{}{}",
            rule("memory_pressure", ""),
            "  - name: r\n    signal: memory_pressure\n    job: frequent\n    window: 3h\n    bucket: 1m\n"
        );
        assert!(parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("defined twice"));
        let err = RuleSet::from_texts(vec![(
            "jobs.yaml".into(),
            "jobs:\n  - name: frequent\n    schedule: \"*/5 * * * *\"\n".into(),
        )])
        .unwrap_err();
        assert!(err.to_string().contains("6-field cron"), "{err}");
    }
}
