//! Rules as code: `rules/*.yaml` loaded into one [`RuleSet`]. A file holds `jobs:` (named
//! schedules) and/or `rules:`; each rule names its signal and carries that signal's parameter
//! section (`memory:`, `errors:`, `restarts:`, `heartbeats:`), whose types live next to their
//! detectors. Every file is parsed ([`location`](crate::config::location)), then the whole set
//! is checked ([`validate`](crate::config::validate)): any problem in any file rejects the set,
//! so a broken rule never half-runs.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::error::{RuleProblem, RulesError};
use crate::config::location::{parse_yaml, position_of_name};
use crate::config::select::Selector;
use crate::config::DurationText;
use crate::findings::Signal;

pub use crate::detect::errors::{BurnRateAlert, BurnRateParams, ErrorParams, ErrorSource};
pub use crate::detect::heartbeats::{DeclaredCanary, HeartbeatParams};
pub use crate::detect::memory::MemoryParams;
pub use crate::detect::restarts::RestartParams;

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
    /// Cron expression, 6 fields with seconds first (`0 */5 * * * *`); checked as it loads
    /// ([`crate::schedule`]).
    #[serde(deserialize_with = "crate::schedule::deserialize_cron")]
    pub schedule: String,
    /// The IANA time zone the schedule is read in (`Europe/Berlin`); UTC when absent.
    #[serde(
        default,
        deserialize_with = "crate::schedule::deserialize_time_zone",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub description: String,
    /// A report job (`report: daily`) runs the daily trend report instead of rules: it takes
    /// no rules, and `forewarn run` / the daemon send the report to notify.yaml's `report:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportKind>,
}

/// What a report job produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// `forewarn report daily --send` over the 24 h before the run.
    Daily,
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

/// `file:line` of a rule, for messages; `column` (1-based) is where its `name:` key starts,
/// so problems found after parsing are placed like the parser's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

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

    /// Every `*.yaml` / `*.yml` in `dir` (sorted by name), except `notify.yaml`, which holds the
    /// notification routes ([`crate::config::notify`]) and is validated beside the rules.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        let entries = std::fs::read_dir(dir).map_err(|source| RulesError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                ) && p.file_name().and_then(|n| n.to_str())
                    != Some(crate::config::notify::NOTIFY_FILE_NAME)
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(RulesError::NoRuleFiles {
                dir: dir.to_path_buf(),
            });
        }
        let mut texts = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| RulesError::ReadFile {
                file: file.clone(),
                source,
            })?;
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
        // Cross-file checks (unknown jobs, duplicate names) need every file parsed.
        if problems.is_empty() {
            problems.extend(crate::config::validate::validate(&set));
        }
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(RulesError::Invalid { problems })
        }
    }

    pub fn enabled_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }
}

fn parse_file(file: &str, text: &str) -> Result<RulesFile, RuleProblem> {
    let mut parsed: RulesFile = parse_yaml(file, text)?;
    for rule in &mut parsed.rules {
        let (line, column) = position_of_name(text, &rule.name);
        rule.origin = Origin {
            file: file.to_string(),
            line,
            column,
        };
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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
        let memory = set.rules.iter().find(|r| r.name == "memory-pressure");
        assert_eq!(memory.map(|r| r.origin.line), Some(5), "{memory:?}");
    }

    #[test]
    fn a_misspelt_field_is_named_with_file_line_and_column() {
        let err = parse(
            "rules:\n  - name: mem\n    signal: memory_pressure\n    job: frequent\n    window: 3h\n    bucket: 1m\n    memory:\n      warning_whithin: 2h\n",
        )
        .unwrap_err();
        let p = &err.problems()[0];
        assert_eq!(p.file, "r.yaml");
        assert_eq!(p.line, 8);
        assert_eq!(p.column, 7);
        assert_eq!(p.field, "rules[0].memory.warning_whithin");
        assert!(
            !p.message.contains("line 8"),
            "the location is in front only: {p}"
        );
        assert!(p.message.contains("warning_whithin"), "{p}");
        assert!(
            err.to_string()
                .contains("r.yaml:8:7: rules[0].memory.warning_whithin: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_duration_and_an_unknown_job_are_rejected() {
        let err = parse(
            "rules:\n  - name: mem\n    signal: memory_pressure\n    job: frequent\n    window: three hours\n    bucket: 1m\n",
        )
        .unwrap_err();
        assert!(err.problems()[0].message.contains("three hours"), "{err}");
        assert_eq!(err.problems()[0].line, 5);
        assert_eq!(err.problems()[0].field, "rules[0].window");
        let err = parse(
            "rules:\n  - name: mem\n    signal: memory_pressure\n    job: hourly\n    window: 3h\n    bucket: 1m\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown job `hourly`"), "{err}");
        assert!(err.problems()[0].field.contains("job"));
        assert_eq!(err.problems()[0].line, 2);
    }

    #[test]
    fn every_broken_file_is_reported_not_just_the_first() {
        let err = RuleSet::from_texts(vec![
            ("jobs.yaml".into(), JOBS.into()),
            ("a.yaml".into(), "rules:\n  - nme: x\n".into()),
            ("b.yaml".into(), "jobs: 3\n".into()),
        ])
        .unwrap_err();
        let files: Vec<&str> = err.problems().iter().map(|p| p.file.as_str()).collect();
        assert_eq!(files, ["a.yaml", "b.yaml"], "{err}");
    }

    #[test]
    fn a_missing_directory_and_an_empty_one_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = RuleSet::load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, RulesError::NoRuleFiles { .. }), "{err}");
        let gone = dir.path().join("gone");
        let err = RuleSet::load_dir(&gone).unwrap_err();
        assert!(matches!(err, RulesError::ReadDir { .. }), "{err}");
        assert!(err.to_string().contains("gone"), "{err}");
    }

    #[test]
    fn a_directory_loads_like_the_embedded_rules() {
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in EMBEDDED_RULES {
            let name = Path::new(file).file_name().unwrap();
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let loaded = RuleSet::load_dir(dir.path()).unwrap();
        let embedded = RuleSet::embedded().unwrap();
        let names = |s: &RuleSet| {
            s.rules
                .iter()
                .map(|r| r.name.clone())
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(names(&loaded), names(&embedded));
        assert_eq!(
            loaded.enabled_rules().count(),
            embedded.enabled_rules().count()
        );
    }
}
