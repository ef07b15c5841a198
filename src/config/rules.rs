//! Rules as code: `rules/*.yaml`, typed with serde (`deny_unknown_fields` everywhere) and
//! validated as a whole. Any problem in any file rejects the whole set — with file, line,
//! column and field — so a broken rule never half-runs.
//!
//! A file holds `jobs:` (named schedules) and/or `rules:`. Each rule names its signal and carries
//! that signal's parameter section (`memory:`, `errors:`, `restarts:`, `heartbeats:`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::DurationText;
use crate::findings::{Severity, Signal};

/// The shipped rules, compiled in so forewarn works from any directory.
pub const EMBEDDED_RULES: [(&str, &str); 5] = [
    ("rules/jobs.yaml", include_str!("../../rules/jobs.yaml")),
    ("rules/memory.yaml", include_str!("../../rules/memory.yaml")),
    ("rules/errors.yaml", include_str!("../../rules/errors.yaml")),
    (
        "rules/restarts.yaml",
        include_str!("../../rules/restarts.yaml"),
    ),
    (
        "rules/heartbeats.yaml",
        include_str!("../../rules/heartbeats.yaml"),
    ),
];

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    jobs: Vec<Job>,
    #[serde(default)]
    rules: Vec<Rule>,
}

/// A named schedule that rules belong to (one CronJob or daemon tick per job).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub name: String,
    /// Cron expression, 6 fields with seconds first (`0 */5 * * * *`).
    pub schedule: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique across the set; part of every finding's fingerprint.
    pub name: String,
    pub signal: Signal,
    /// The job (schedule) this rule runs in.
    pub job: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Look-back of the window the rule judges.
    pub window: DurationText,
    /// Bucket width of that window.
    pub bucket: DurationText,
    #[serde(default)]
    pub select: Selector,
    /// The runbook findings of this rule trigger (remediation attaches here).
    #[serde(default)]
    pub runbook: Option<String>,
    #[serde(default)]
    pub memory: Option<MemoryParams>,
    #[serde(default)]
    pub errors: Option<ErrorParams>,
    #[serde(default)]
    pub restarts: Option<RestartParams>,
    #[serde(default)]
    pub heartbeats: Option<HeartbeatParams>,
    /// Where the rule was defined (filled in by the loader).
    #[serde(skip)]
    pub origin: Origin,
}

fn default_true() -> bool {
    true
}

/// `file:line` of a rule, for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Which entities a rule looks at. Each filter: `include` (empty = all) then `exclude`;
/// patterns match whole values, `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selector {
    pub clusters: Filter,
    pub namespaces: Filter,
    pub workloads: Filter,
    pub services: Filter,
    pub pods: Filter,
    pub canaries: Filter,
    /// Skip pods (and services) whose opt-out label is set to true/yes/1/on (the label's
    /// resource attribute is configured globally, default `k8s.pod.labels.forewarn.io/opt-out`).
    pub honour_opt_out: bool,
}

impl Default for Selector {
    fn default() -> Self {
        Selector {
            clusters: Filter::default(),
            namespaces: Filter::default(),
            workloads: Filter::default(),
            services: Filter::default(),
            pods: Filter::default(),
            canaries: Filter::default(),
            honour_opt_out: true,
        }
    }
}

/// Whether an opt-out label value opts out.
pub fn opts_out(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "1" | "on"
    )
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Filter {
    pub fn allows(&self, value: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob_match(p, value)))
            && !self.exclude.iter().any(|p| glob_match(p, value))
    }
}

impl Selector {
    /// Whether an entity (keys as in findings) passes every filter that applies to it.
    pub fn allows(&self, entity: &BTreeMap<String, String>) -> bool {
        let checks: [(&str, &Filter); 6] = [
            ("cluster", &self.clusters),
            ("namespace", &self.namespaces),
            ("workload", &self.workloads),
            ("service", &self.services),
            ("pod", &self.pods),
            ("canary", &self.canaries),
        ];
        checks
            .iter()
            .all(|(key, filter)| entity.get(*key).is_none_or(|v| filter.allows(v)))
    }
}

/// `*` wildcard matching on whole strings.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// Memory pressure: the working set's trend toward the limit, and when it gets there.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryParams {
    /// Warn when the limit is forecast to be reached within this horizon.
    pub warning_within: DurationText,
    /// Critical when within this horizon.
    pub critical_within: DurationText,
    /// Buckets needed in the current segment (since the last restart) before judging.
    pub min_points: usize,
    /// Mann–Kendall significance level for the rise of the GC floor.
    pub significance: f64,
    /// Trailing spans the trend is fitted over (plus the whole segment); the most urgent
    /// significant one counts. Short spans catch fast leaks, long ones slow ones.
    pub fit_windows: Vec<DurationText>,
    /// The most recent span whose slope must agree (still rising).
    pub tail: DurationText,
    /// A drop of the floor below this fraction of the recent floor is a restart: the series
    /// starts over.
    pub reset_fraction: f64,
    /// Ignore growth slower than this fraction of the limit per hour.
    pub min_growth_fraction_per_hour: f64,
    /// Also judge containers without a limit (info findings on significant growth only).
    pub include_unlimited: bool,
}

impl Default for MemoryParams {
    fn default() -> Self {
        MemoryParams {
            warning_within: DurationText::secs(2 * 3600),
            critical_within: DurationText::secs(30 * 60),
            min_points: 45,
            significance: 0.01,
            fit_windows: vec![DurationText::secs(3600), DurationText::secs(2 * 3600)],
            tail: DurationText::secs(30 * 60),
            reset_fraction: 0.7,
            min_growth_fraction_per_hour: 0.02,
            include_unlimited: false,
        }
    }
}

/// Where a service's requests and errors are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// Log records of the service; errors by severity (ERROR/FATAL).
    #[default]
    Logs,
    /// Server and consumer spans of the service; errors by span status.
    Traces,
}

/// Error rate: a service's error ratio against its own baseline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorParams {
    /// `logs` (default) or `traces`.
    pub source: ErrorSource,
    /// The recent span compared with the rest of the window (the baseline).
    pub recent: DurationText,
    /// One-sided significance level of the two-proportion test (Fisher exact), divided among
    /// the services judged in a run (Bonferroni).
    pub significance: f64,
    /// Requests needed in the recent span.
    pub min_requests: u64,
    /// Errors needed in the recent span.
    pub min_errors: u64,
    /// Requests needed in the baseline.
    pub min_baseline_requests: u64,
    /// Recent ratio must be at least this multiple of the baseline ratio …
    pub min_ratio_increase: f64,
    /// … and at least this much higher in absolute terms (0.01 = one percentage point).
    pub min_absolute_increase: f64,
    /// Critical at this multiple of the baseline ratio.
    pub critical_ratio_increase: f64,
    /// Also judge the trend of the ratio over the whole window (gradual rises).
    pub trend: bool,
    /// Optional SLO burn-rate mode.
    pub burn_rate: Option<BurnRateParams>,
}

impl Default for ErrorParams {
    fn default() -> Self {
        ErrorParams {
            source: ErrorSource::Logs,
            recent: DurationText::secs(15 * 60),
            significance: 0.001,
            min_requests: 50,
            min_errors: 5,
            min_baseline_requests: 200,
            min_ratio_increase: 2.0,
            min_absolute_increase: 0.01,
            critical_ratio_increase: 5.0,
            trend: true,
            burn_rate: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRateParams {
    /// The availability objective, e.g. 0.999.
    pub objective: f64,
    /// Each alert needs both windows above the factor (multi-window burn rate).
    pub alerts: Vec<BurnRateAlert>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRateAlert {
    pub long: DurationText,
    pub short: DurationText,
    pub factor: f64,
    pub severity: Severity,
}

/// Restart frequency: crash loops forming, restart rates rising.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartParams {
    /// Span in which repeated restarts mean a crash loop is forming.
    pub crash_loop_within: DurationText,
    /// Restarts within that span that make a crash loop.
    pub crash_loop_min_restarts: u64,
    /// Critical at this many restarts within the span.
    pub critical_restarts: u64,
    /// Span whose restart rate is compared with the rest of the window.
    pub rate_recent: DurationText,
    /// Restarts needed in that span for a rate finding.
    pub rate_min_restarts: u64,
    /// Significance of the (exact, conditional Poisson) rate increase test.
    pub significance: f64,
}

impl Default for RestartParams {
    fn default() -> Self {
        RestartParams {
            crash_loop_within: DurationText::secs(30 * 60),
            crash_loop_min_restarts: 3,
            critical_restarts: 5,
            rate_recent: DurationText::secs(3600),
            rate_min_restarts: 2,
            significance: 0.05,
        }
    }
}

/// Missing canary heartbeats (healthchecks.io semantics: period + grace).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatParams {
    /// Canaries that must beat; one never seen is down.
    pub canaries: Vec<DeclaredCanary>,
    /// Also watch canaries seen in the window but not declared (period estimated from beats).
    pub discover: bool,
    /// Beats needed to estimate a discovered canary's period.
    pub min_beats: u64,
    /// Grace for discovered canaries, as a multiple of the estimated period (at least 1 min).
    pub grace_periods: f64,
    /// How long after a recovery a `resolved` finding is reported.
    pub resolved_for: DurationText,
}

impl Default for HeartbeatParams {
    fn default() -> Self {
        HeartbeatParams {
            canaries: Vec::new(),
            discover: true,
            min_beats: 4,
            grace_periods: 1.0,
            resolved_for: DurationText::secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredCanary {
    pub name: String,
    #[serde(default)]
    pub cluster: Option<String>,
    pub period: DurationText,
    pub grace: DurationText,
}

/// One problem in the rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The field path, e.g. `rules[0].memory.warning_within`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.field, self.message
        )
    }
}

/// The rule set is invalid: every problem found, nothing runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    pub problems: Vec<RuleProblem>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid rules ({} problem(s)):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

/// A validated set of jobs and rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub jobs: Vec<Job>,
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The rules shipped with forewarn.
    pub fn embedded() -> Result<RuleSet, RulesError> {
        RuleSet::from_texts(
            EMBEDDED_RULES
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string()))
                .collect(),
        )
    }

    /// Every `*.yaml` / `*.yml` in `dir` (sorted by name).
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        let problem = |message: String| RulesError {
            problems: vec![RuleProblem {
                file: dir.display().to_string(),
                line: 0,
                column: 0,
                field: "-".into(),
                message,
            }],
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| problem(format!("cannot read rules directory: {e}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(problem("no *.yaml rule files".into()));
        }
        let mut texts = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| problem(format!("cannot read {}: {e}", file.display())))?;
            texts.push((file.display().to_string(), text));
        }
        RuleSet::from_texts(texts)
    }

    /// Parses and validates (file name, text) pairs as one set.
    pub fn from_texts(texts: Vec<(String, String)>) -> Result<RuleSet, RulesError> {
        let mut problems = Vec::new();
        let mut set = RuleSet::default();
        for (file, text) in &texts {
            match parse_file(file, text) {
                Ok(parsed) => {
                    set.jobs.extend(parsed.jobs);
                    set.rules.extend(parsed.rules);
                }
                Err(p) => problems.push(p),
            }
        }
        if problems.is_empty() {
            problems.extend(validate(&set, &texts));
        }
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(RulesError { problems })
        }
    }

    pub fn enabled_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }
}

fn parse_file(file: &str, text: &str) -> Result<RulesFile, RuleProblem> {
    // serde_path_to_error sees the field path; the YAML error keeps line and column.
    let path = std::cell::RefCell::new(String::new());
    let options = serde_saphyr::options! { with_snippet: false };
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize::<_, RulesFile>(de).map_err(|error| {
            *path.borrow_mut() = error.path().to_string();
            error.into_inner()
        })
    });
    let mut parsed: RulesFile = match result {
        Ok(parsed) => parsed,
        Err(error) => {
            let field = path.into_inner();
            let error = error.without_snippet();
            let (line, column) = error
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((0, 0));
            // Errors raised while converting a value (a bad duration) may be located at the
            // enclosing mapping: point at the field's own line instead.
            // serde-saphyr ends its message with the location, which goes in front instead.
            let message = error.to_string();
            let suffix = format!(" at line {line}, column {column}");
            let message = message.strip_suffix(&suffix).unwrap_or(&message).to_string();
            let (line, column) = refine_location(text, &field, line, column);
            return Err(RuleProblem {
                file: file.to_string(),
                line,
                column,
                field: if field.is_empty() || field == "." {
                    "-".into()
                } else {
                    field
                },
                message,
            });
        }
    };
    for rule in &mut parsed.rules {
        rule.origin = Origin {
            file: file.to_string(),
            line: line_of_rule(text, &rule.name),
        };
    }
    Ok(parsed)
}

/// The first line at or after `line` whose key is the last segment of `field` (1-based line and
/// column); the original location when there is none.
fn refine_location(text: &str, field: &str, line: usize, column: usize) -> (usize, usize) {
    let Some(key) = field
        .rsplit('.')
        .next()
        .map(|k| k.split('[').next().unwrap_or(k))
        .filter(|k| !k.is_empty() && *k != "-")
    else {
        return (line, column);
    };
    text.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find_map(|(i, l)| {
            let trimmed = l.trim_start().trim_start_matches("- ");
            trimmed
                .strip_prefix(key)
                .filter(|rest| rest.trim_start().starts_with(':'))
                .map(|_| (i + 1, l.len() - trimmed.len() + 1))
        })
        .unwrap_or((line, column))
}

/// The line of `name: <rule>` in the text (1-based), for semantic errors.
fn line_of_rule(text: &str, name: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix("name:")
                .map(|v| v.trim().trim_matches(['"', '\'']) == name)
                .unwrap_or(false)
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

fn validate(set: &RuleSet, _texts: &[(String, String)]) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    let mut job_names = BTreeSet::new();
    for job in &set.jobs {
        if !job_names.insert(job.name.clone()) {
            problems.push(RuleProblem {
                file: "-".into(),
                line: 0,
                column: 0,
                field: format!("jobs[{}]", job.name),
                message: format!("job `{}` is defined twice", job.name),
            });
        }
        if job.schedule.split_whitespace().count() != 6 {
            problems.push(RuleProblem {
                file: "-".into(),
                line: 0,
                column: 0,
                field: format!("jobs.{}.schedule", job.name),
                message: format!(
                    "`{}` is not a 6-field cron expression (seconds first, e.g. `0 */5 * * * *`)",
                    job.schedule
                ),
            });
        }
    }
    let mut rule_names = BTreeSet::new();
    for (index, rule) in set.rules.iter().enumerate() {
        let mut report = |field: &str, message: String| {
            problems.push(RuleProblem {
                file: rule.origin.file.clone(),
                line: rule.origin.line,
                column: 1,
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
        }
        let bucket = rule.bucket.0.as_secs();
        let window = rule.window.0.as_secs();
        if bucket == 0 {
            report("bucket", "must be at least 1s".into());
        } else if window < bucket * 4 {
            report(
                "window",
                format!(
                    "{} is too short for buckets of {} (need at least 4 buckets)",
                    rule.window, rule.bucket
                ),
            );
        } else if window % bucket != 0 {
            report(
                "window",
                format!(
                    "{} is not a whole number of {} buckets",
                    rule.window, rule.bucket
                ),
            );
        }
        let sections = [
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
        for (signal, section, present) in sections {
            if present && signal != rule.signal {
                report(
                    section,
                    format!(
                        "a `{section}:` section does not apply to signal {}",
                        rule.signal
                    ),
                );
            }
        }
        let check_probability = |value: f64| value > 0.0 && value < 1.0;
        if let Some(m) = &rule.memory {
            if m.critical_within > m.warning_within {
                report(
                    "memory.critical_within",
                    "must not exceed warning_within".into(),
                );
            }
            if !check_probability(m.significance) {
                report("memory.significance", "must be between 0 and 1".into());
            }
            if m.min_points < 4 {
                report("memory.min_points", "must be at least 4".into());
            }
            if !(0.0..1.0).contains(&m.reset_fraction) {
                report("memory.reset_fraction", "must be in [0, 1)".into());
            }
        }
        if let Some(e) = &rule.errors {
            if !check_probability(e.significance) {
                report("errors.significance", "must be between 0 and 1".into());
            }
            if e.recent.0 >= rule.window.0 {
                report(
                    "errors.recent",
                    format!("must be shorter than the window ({})", rule.window),
                );
            }
            if e.min_ratio_increase < 1.0 {
                report("errors.min_ratio_increase", "must be at least 1".into());
            }
            if let Some(b) = &e.burn_rate {
                if !check_probability(b.objective) {
                    report(
                        "errors.burn_rate.objective",
                        "must be between 0 and 1 (e.g. 0.999)".into(),
                    );
                }
                for a in &b.alerts {
                    if a.long.0 > rule.window.0 || a.short.0 > a.long.0 {
                        report(
                            "errors.burn_rate.alerts",
                            format!(
                                "windows must satisfy short ≤ long ≤ the rule window ({})",
                                rule.window
                            ),
                        );
                    }
                }
            }
        }
        if let Some(r) = &rule.restarts {
            if !check_probability(r.significance) {
                report("restarts.significance", "must be between 0 and 1".into());
            }
            if r.rate_recent.0 >= rule.window.0 || r.crash_loop_within.0 > rule.window.0 {
                report(
                    "restarts",
                    format!("spans must be shorter than the window ({})", rule.window),
                );
            }
        }
        if let Some(h) = &rule.heartbeats {
            for c in &h.canaries {
                if c.period.0.as_secs() == 0 {
                    report(
                        "heartbeats.canaries.period",
                        format!("canary `{}`: must be at least 1s", c.name),
                    );
                }
            }
        }
    }
    problems
}

impl Rule {
    pub fn memory_params(&self) -> MemoryParams {
        self.memory.clone().unwrap_or_default()
    }
    pub fn error_params(&self) -> ErrorParams {
        self.errors.clone().unwrap_or_default()
    }
    pub fn restart_params(&self) -> RestartParams {
        self.restarts.clone().unwrap_or_default()
    }
    pub fn heartbeat_params(&self) -> HeartbeatParams {
        self.heartbeats.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOBS: &str = "jobs:\n  - name: frequent\n    schedule: \"0 */5 * * * *\"\n";

    fn parse(rules: &str) -> Result<RuleSet, RulesError> {
        RuleSet::from_texts(vec![
            ("jobs.yaml".into(), JOBS.into()),
            ("r.yaml".into(), rules.into()),
        ])
    }

    #[test]
    fn the_shipped_rules_are_valid() {
        let set = RuleSet::embedded().expect("shipped rules validate");
        let signals: BTreeSet<Signal> = set.rules.iter().map(|r| r.signal).collect();
        assert_eq!(signals.len(), 4, "every signal has a shipped rule");
    }

    #[test]
    fn a_misspelt_field_is_named_with_file_line_and_column() {
        let err = parse(
            "rules:\n  - name: mem\n    signal: memory_pressure\n    job: frequent\n    window: 3h\n    bucket: 1m\n    memory:\n      warning_whithin: 2h\n",
        )
        .unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.file, "r.yaml");
        assert_eq!(p.line, 8);
        assert!(p.column > 0);
        assert!(p.field.contains("memory"), "{p}");
        assert!(p.message.contains("warning_whithin"), "{p}");
        assert!(!p.message.contains("line 8"), "the location is in front only: {p}");
    }

    #[test]
    fn a_bad_duration_and_an_unknown_job_are_rejected() {
        let err = parse(
            "rules:\n  - name: mem\n    signal: memory_pressure\n    job: frequent\n    window: three hours\n    bucket: 1m\n",
        )
        .unwrap_err();
        assert!(err.problems[0].message.contains("three hours"), "{err}");
        assert_eq!(err.problems[0].line, 5);
        let err = parse(
            "rules:\n  - name: mem\n    signal: memory_pressure\n    job: hourly\n    window: 3h\n    bucket: 1m\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown job `hourly`"), "{err}");
        assert!(err.problems[0].field.contains("job"));
        assert_eq!(err.problems[0].line, 2);
    }

    #[test]
    fn a_section_for_another_signal_is_rejected() {
        let err = parse(
            "rules:\n  - name: mem\n    signal: memory_pressure\n    job: frequent\n    window: 3h\n    bucket: 1m\n    errors:\n      min_errors: 3\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not apply"), "{err}");
    }

    #[test]
    fn selectors_include_then_exclude_with_wildcards() {
        let filter = Filter {
            include: vec!["shop*".into()],
            exclude: vec!["shop-test".into()],
        };
        assert!(filter.allows("shop"));
        assert!(filter.allows("shop-eu"));
        assert!(!filter.allows("shop-test"));
        assert!(!filter.allows("payments"));
        assert!(glob_match("*-canary-*", "eu-canary-1"));
        assert!(!glob_match("a*c", "abd"));
    }
}
