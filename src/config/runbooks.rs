//! Runbooks as code: `rules/runbooks/*.yaml` (or a `--rules DIR`'s `runbooks/` folder) loaded
//! into one [`RunbookSet`] — what forewarn may do about a finding, in which order, how (dry
//! run, with approval, or on its own) and within which fence (namespaces, opt-out label,
//! hourly caps, cooldown, circuit breaker), and when to judge whether it helped.
//!
//! Typed with serde (`deny_unknown_fields`); every problem is placed as `file:line:column`, and
//! the whole set is rejected on any problem, so nothing runs half-configured. A runbook takes
//! a finding when one of its `triggers` matches it; [`RunbookSet::validate_with_rules`] checks
//! that every rule's `runbook:` names a runbook whose triggers can take that rule's findings.
//! Applying steps is [`crate::act::kube`]'s job, deciding whether to is
//! [`crate::act::remediate`]'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::act::kube::{MemoryRaise, Step as KubeStep};
use crate::config::location::{parse_yaml, position_of_nth_name};
use crate::config::notify::{NotifyConfig, Patterns};
use crate::config::rules::{Origin, RuleSet};
use crate::config::select::glob_match;
use crate::config::{DurationText, RuleProblem};
use crate::findings::{Finding, Severity, Signal};

/// The shipped runbooks, compiled in so forewarn works from any directory.
pub const EMBEDDED_RUNBOOKS: [(&str, &str); 3] = [
    (
        "rules/runbooks/memory.yaml",
        include_str!("../../rules/runbooks/memory.yaml"),
    ),
    (
        "rules/runbooks/restarts.yaml",
        include_str!("../../rules/runbooks/restarts.yaml"),
    ),
    (
        "rules/runbooks/errors.yaml",
        include_str!("../../rules/runbooks/errors.yaml"),
    ),
];

/// The folder of a rules directory that holds its runbooks.
pub const RUNBOOKS_DIR_NAME: &str = "runbooks";

/// The label that opts a workload out of remediation unless a runbook names another.
pub const DEFAULT_OPT_OUT_LABEL: (&str, &str) = ("forewarn.io/remediate", "false");

/// Actions across all runbooks in any hour unless a file's `global:` says otherwise.
pub const DEFAULT_GLOBAL_MAX_ACTIONS_PER_HOUR: u32 = 10;

const DEFAULT_MAX_ACTIONS_PER_HOUR: u32 = 3;
const DEFAULT_COOLDOWN: DurationText = DurationText::secs(5 * 60);
const DEFAULT_VERIFY_AFTER: DurationText = DurationText::secs(10 * 60);
const DEFAULT_ROLLOUT_WITHIN: DurationText = DurationText::secs(3600);
const DEFAULT_BREAKER_AFTER: u32 = 3;
const DEFAULT_BREAKER_WINDOW: DurationText = DurationText::secs(4 * 3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunbooksFile {
    #[serde(default)]
    global: Option<GlobalLimits>,
    #[serde(default)]
    runbooks: Vec<Runbook>,
}

/// Limits across every runbook (at most one file sets them).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalLimits {
    pub max_actions_per_hour: u32,
}

/// How a runbook's cluster steps are carried out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Print and record what would be done; send it with `dryRun=All` only.
    #[default]
    DryRun,
    /// Record as pending; applied after `forewarn approve ID`.
    Approve,
    /// Apply at once.
    Auto,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry_run",
            Mode::Approve => "approve",
            Mode::Auto => "auto",
        }
    }
}

/// One runbook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Any one matching takes the finding.
    pub triggers: Vec<Trigger>,
    #[serde(default)]
    pub mode: Mode,
    /// In order; each may be limited to findings that did or did not begin with a rollout.
    pub steps: Vec<RunbookStep>,
    #[serde(default)]
    pub limits: Limits,
    /// When a later run judges whether the action helped.
    #[serde(default = "default_verify_after")]
    pub verify_after: DurationText,
    /// A finding "began with a rollout" when the target's latest rollout started at most this
    /// long before the episode was first seen.
    #[serde(default = "default_rollout_within")]
    pub rollout_within: DurationText,
    /// Where the runbook is defined (filled in by the loader).
    #[serde(skip)]
    pub origin: Origin,
}

fn default_verify_after() -> DurationText {
    DEFAULT_VERIFY_AFTER
}
fn default_rollout_within() -> DurationText {
    DEFAULT_ROLLOUT_WITHIN
}

/// Which findings a runbook takes: every field given must fit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Rule names (`*` wildcards); any rule when left out.
    #[serde(default)]
    pub rule: Option<Patterns>,
    #[serde(default)]
    pub signal: Option<Signal>,
    /// The lowest severity taken (`warning` takes warning and critical).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// `true`: only findings that began with a rollout; `false`: only those that did not.
    #[serde(default)]
    pub after_rollout: Option<bool>,
}

impl Trigger {
    /// Whether the trigger takes `finding`; `began_with_rollout` is what the caller found out
    /// about the target (see [`Runbook::rollout_within`]).
    pub fn matches(&self, finding: &Finding, began_with_rollout: bool) -> bool {
        self.rule
            .as_ref()
            .is_none_or(|p| p.matches(Some(&finding.rule)))
            && self.signal.is_none_or(|s| s == finding.signal)
            && self.severity.is_none_or(|least| finding.severity >= least)
            && self.after_rollout.is_none_or(|a| a == began_with_rollout)
    }

    /// Whether some finding of `rule` (name, signal) could match.
    fn can_take(&self, rule: &str, signal: Signal) -> bool {
        self.rule.as_ref().is_none_or(|p| p.matches(Some(rule)))
            && self.signal.is_none_or(|s| s == signal)
    }
}

/// A step and, optionally, the condition it runs under.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunbookStep {
    RolloutRestart(Plain),
    Rollback(Plain),
    DeletePod(Plain),
    Scale(ScaleStep),
    RaiseMemory(RaiseMemoryStep),
    /// Tell a route of `notify.yaml` what was done (not a cluster write).
    Notify(RouteStep),
    /// Hand over to a person through a route (not a cluster write).
    Escalate(RouteStep),
}

/// Whether a step runs, by how the finding began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Only {
    AfterRollout,
    WithoutRollout,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Plain {
    #[serde(default)]
    pub only: Option<Only>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleStep {
    /// Replicas to add (negative: remove).
    pub by: i32,
    pub min: i32,
    pub max: i32,
    #[serde(default)]
    pub only: Option<Only>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RaiseMemoryStep {
    /// The multiplier, above 1.
    pub factor: f64,
    /// A Kubernetes quantity (`4Gi`); the new limit never exceeds it.
    pub cap: String,
    #[serde(default)]
    pub raise_request: bool,
    #[serde(default)]
    pub only: Option<Only>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteStep {
    pub route: String,
    #[serde(default)]
    pub only: Option<Only>,
}

impl RunbookStep {
    pub fn name(&self) -> &'static str {
        match self {
            RunbookStep::RolloutRestart(_) => "rollout_restart",
            RunbookStep::Rollback(_) => "rollback",
            RunbookStep::DeletePod(_) => "delete_pod",
            RunbookStep::Scale(_) => "scale",
            RunbookStep::RaiseMemory(_) => "raise_memory",
            RunbookStep::Notify(_) => "notify",
            RunbookStep::Escalate(_) => "escalate",
        }
    }

    pub fn only(&self) -> Option<Only> {
        match self {
            RunbookStep::RolloutRestart(p)
            | RunbookStep::Rollback(p)
            | RunbookStep::DeletePod(p) => p.only,
            RunbookStep::Scale(s) => s.only,
            RunbookStep::RaiseMemory(m) => m.only,
            RunbookStep::Notify(r) | RunbookStep::Escalate(r) => r.only,
        }
    }

    /// Whether the step runs for a finding that did (or did not) begin with a rollout.
    pub fn applies(&self, began_with_rollout: bool) -> bool {
        match self.only() {
            None => true,
            Some(Only::AfterRollout) => began_with_rollout,
            Some(Only::WithoutRollout) => !began_with_rollout,
        }
    }

    /// True for steps that write to the cluster (the fence applies to them).
    pub fn writes_cluster(&self) -> bool {
        !matches!(self, RunbookStep::Notify(_) | RunbookStep::Escalate(_))
    }

    /// The Kubernetes step for a finding's entity (`pod`, `container` from it); `None` for
    /// notify / escalate, and for a pod or container step whose entity lacks the key.
    pub fn kube_step(&self, entity: &BTreeMap<String, String>) -> Option<KubeStep> {
        match self {
            RunbookStep::RolloutRestart(_) => Some(KubeStep::RolloutRestart),
            RunbookStep::Rollback(_) => Some(KubeStep::Rollback),
            RunbookStep::DeletePod(_) => Some(KubeStep::DeletePod {
                pod: entity.get("pod")?.clone(),
            }),
            RunbookStep::Scale(s) => Some(KubeStep::Scale {
                by: s.by,
                min_replicas: s.min,
                max_replicas: s.max,
            }),
            RunbookStep::RaiseMemory(m) => Some(KubeStep::RaiseMemory(MemoryRaise {
                container: entity.get("container")?.clone(),
                factor: m.factor,
                cap_bytes: quantity_bytes(&m.cap)?,
                raise_request: m.raise_request,
            })),
            RunbookStep::Notify(_) | RunbookStep::Escalate(_) => None,
        }
    }
}

/// The fence around a runbook's cluster steps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Namespace patterns (`*` wildcards) the runbook may act in.
    #[serde(default = "all_namespaces")]
    pub allowed_namespaces: Vec<String>,
    /// A workload carrying this label with this value is never touched.
    #[serde(default = "default_opt_out")]
    pub opt_out_label: BTreeMap<String, String>,
    #[serde(default = "default_max_actions_per_hour")]
    pub max_actions_per_hour: u32,
    /// Time after an action on a target before the runbook acts on it again.
    #[serde(default = "default_cooldown")]
    pub cooldown: DurationText,
    #[serde(default)]
    pub circuit_breaker: CircuitBreaker,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            allowed_namespaces: all_namespaces(),
            opt_out_label: default_opt_out(),
            max_actions_per_hour: DEFAULT_MAX_ACTIONS_PER_HOUR,
            cooldown: DEFAULT_COOLDOWN,
            circuit_breaker: CircuitBreaker::default(),
        }
    }
}

fn all_namespaces() -> Vec<String> {
    vec!["*".into()]
}
fn default_opt_out() -> BTreeMap<String, String> {
    BTreeMap::from([(
        DEFAULT_OPT_OUT_LABEL.0.to_string(),
        DEFAULT_OPT_OUT_LABEL.1.to_string(),
    )])
}
fn default_max_actions_per_hour() -> u32 {
    DEFAULT_MAX_ACTIONS_PER_HOUR
}
fn default_cooldown() -> DurationText {
    DEFAULT_COOLDOWN
}

/// After `after` failed or ineffective actions in a row on a target (within `window`), stop
/// acting on it and escalate to `escalate` (a route), if given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    #[serde(default = "default_breaker_after")]
    pub after: u32,
    #[serde(default = "default_breaker_window")]
    pub window: DurationText,
    #[serde(default)]
    pub escalate: Option<String>,
}

impl Default for CircuitBreaker {
    fn default() -> CircuitBreaker {
        CircuitBreaker {
            after: DEFAULT_BREAKER_AFTER,
            window: DEFAULT_BREAKER_WINDOW,
            escalate: None,
        }
    }
}

fn default_breaker_after() -> u32 {
    DEFAULT_BREAKER_AFTER
}
fn default_breaker_window() -> DurationText {
    DEFAULT_BREAKER_WINDOW
}

impl Runbook {
    /// Whether one of the triggers takes `finding`.
    pub fn takes(&self, finding: &Finding, began_with_rollout: bool) -> bool {
        self.triggers
            .iter()
            .any(|t| t.matches(finding, began_with_rollout))
    }

    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.limits
            .allowed_namespaces
            .iter()
            .any(|p| glob_match(p, namespace))
    }
}

/// A validated set of runbooks.
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookSet {
    pub global: GlobalLimits,
    pub runbooks: Vec<Runbook>,
}

impl RunbookSet {
    /// The shipped runbooks.
    pub fn embedded() -> Result<RunbookSet, Vec<RuleProblem>> {
        RunbookSet::from_texts(
            EMBEDDED_RUNBOOKS
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string()))
                .collect(),
        )
    }

    /// `DIR/runbooks/*.yaml` (sorted by name) when that folder exists, else the shipped set.
    pub fn load_dir_or_embedded(rules_dir: &Path) -> Result<RunbookSet, Vec<RuleProblem>> {
        let dir = rules_dir.join(RUNBOOKS_DIR_NAME);
        if !dir.is_dir() {
            return RunbookSet::embedded();
        }
        let unreadable = |file: &Path, e: std::io::Error| {
            vec![RuleProblem {
                file: file.display().to_string(),
                line: 0,
                column: 0,
                field: "-".into(),
                message: format!("cannot read the runbooks: {e}"),
            }]
        };
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| unreadable(&dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
            })
            .collect();
        files.sort();
        let mut texts = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| unreadable(&file, e))?;
            texts.push((file.display().to_string(), text));
        }
        RunbookSet::from_texts(texts)
    }

    /// Parses and validates (file name, text) pairs as one set.
    pub fn from_texts(texts: Vec<(String, String)>) -> Result<RunbookSet, Vec<RuleProblem>> {
        let mut problems = Vec::new();
        let mut global: Option<(GlobalLimits, String)> = None;
        let mut runbooks = Vec::new();
        for (file, text) in &texts {
            let parsed: RunbooksFile = match parse_yaml(file, text) {
                Ok(parsed) => parsed,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            if let Some(limits) = parsed.global {
                if let Some((_, first)) = &global {
                    problems.push(problem_at(
                        file,
                        text,
                        "global",
                        format!("`global:` is already set in {first}"),
                    ));
                } else {
                    global = Some((limits, file.clone()));
                }
            }
            let mut named: BTreeMap<String, usize> = BTreeMap::new();
            for (index, mut runbook) in parsed.runbooks.into_iter().enumerate() {
                let nth = named.entry(runbook.name.clone()).or_default();
                let (line, column) = position_of_nth_name(text, &runbook.name, *nth);
                *nth += 1;
                runbook.origin = Origin {
                    file: file.clone(),
                    line,
                    column,
                };
                check_runbook(file, text, index, &runbook, &mut problems);
                runbooks.push(runbook);
            }
        }
        let mut seen: BTreeMap<&str, &Origin> = BTreeMap::new();
        for runbook in &runbooks {
            if let Some(first) = seen.insert(&runbook.name, &runbook.origin) {
                problems.push(RuleProblem {
                    file: runbook.origin.file.clone(),
                    line: runbook.origin.line,
                    column: runbook.origin.column,
                    field: "runbooks.name".into(),
                    message: format!("runbook `{}` is already defined at {first}", runbook.name),
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(RunbookSet {
            global: global.map(|(g, _)| g).unwrap_or(GlobalLimits {
                max_actions_per_hour: DEFAULT_GLOBAL_MAX_ACTIONS_PER_HOUR,
            }),
            runbooks,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Runbook> {
        self.runbooks.iter().find(|r| r.name == name)
    }

    /// Every rule's `runbook:` must name a runbook here whose triggers can take that rule's
    /// findings; each trigger's `rule:` pattern must match some rule. Problems are placed at
    /// the rule's (or the runbook's) line.
    pub fn validate_with_rules(&self, rules: &RuleSet) -> Vec<RuleProblem> {
        let mut problems = Vec::new();
        for rule in &rules.rules {
            let Some(name) = &rule.runbook else {
                continue;
            };
            let at = |message: String| RuleProblem {
                file: rule.origin.file.clone(),
                line: rule.origin.line,
                column: rule.origin.column,
                field: format!("rules[{}].runbook", rule.name),
                message,
            };
            match self.get(name) {
                None => {
                    let known: BTreeSet<&str> =
                        self.runbooks.iter().map(|r| r.name.as_str()).collect();
                    let known: Vec<&str> = known.into_iter().collect();
                    problems.push(at(format!(
                        "unknown runbook `{name}` (runbooks: {})",
                        known.join(", ")
                    )));
                }
                Some(runbook)
                    if !runbook
                        .triggers
                        .iter()
                        .any(|t| t.can_take(&rule.name, rule.signal)) =>
                {
                    problems.push(at(format!(
                        "runbook `{name}` ({}) has no trigger for rule `{}` (signal {})",
                        runbook.origin,
                        rule.name,
                        rule.signal.as_str()
                    )))
                }
                Some(_) => {}
            }
        }
        for runbook in &self.runbooks {
            for (t, trigger) in runbook.triggers.iter().enumerate() {
                let Some(patterns) = &trigger.rule else {
                    continue;
                };
                for pattern in &patterns.0 {
                    if !rules.rules.iter().any(|r| glob_match(pattern, &r.name)) {
                        problems.push(RuleProblem {
                            file: runbook.origin.file.clone(),
                            line: runbook.origin.line,
                            column: runbook.origin.column,
                            field: format!("runbooks[{}].triggers[{t}].rule", runbook.name),
                            message: format!("`{pattern}` matches no rule"),
                        });
                    }
                }
            }
        }
        problems
    }
}

impl RunbookSet {
    /// Every `notify:` / `escalate:` step and every circuit breaker's `escalate:` must name a
    /// route of `notify` (problems at the runbook's line).
    pub fn validate_with_notify(&self, notify: &NotifyConfig) -> Vec<RuleProblem> {
        let known = |route: &str| {
            notify.routes.iter().any(|r| r.name == route)
                || notify
                    .default_route
                    .as_ref()
                    .is_some_and(|r| r.name == route)
        };
        let mut problems = Vec::new();
        for runbook in &self.runbooks {
            let mut routes: Vec<(String, &str)> = runbook
                .steps
                .iter()
                .enumerate()
                .filter_map(|(i, step)| match step {
                    RunbookStep::Notify(r) | RunbookStep::Escalate(r) => Some((
                        format!("steps[{i}].{}.route", step.name()),
                        r.route.as_str(),
                    )),
                    _ => None,
                })
                .collect();
            if let Some(route) = &runbook.limits.circuit_breaker.escalate {
                routes.push(("limits.circuit_breaker.escalate".into(), route));
            }
            for (field, route) in routes {
                if !known(route) {
                    problems.push(RuleProblem {
                        file: runbook.origin.file.clone(),
                        line: runbook.origin.line,
                        column: runbook.origin.column,
                        field: format!("runbooks[{}].{field}", runbook.name),
                        message: format!("unknown route `{route}` (not in notify.yaml)"),
                    });
                }
            }
        }
        problems
    }
}

/// Checks within one runbook that serde cannot express.
fn check_runbook(
    file: &str,
    text: &str,
    index: usize,
    runbook: &Runbook,
    problems: &mut Vec<RuleProblem>,
) {
    let mut report = |field: String, message: String| {
        let line = runbook.origin.line;
        problems.push(RuleProblem {
            file: file.to_string(),
            line,
            column: column_of(text, line),
            field: format!("runbooks[{index}].{field}"),
            message,
        });
    };
    if runbook.name.trim().is_empty() {
        report("name".into(), "must not be empty".into());
    }
    if runbook.triggers.is_empty() {
        report(
            "triggers".into(),
            "a runbook without triggers never runs".into(),
        );
    }
    if runbook.steps.is_empty() {
        report("steps".into(), "a runbook needs at least one step".into());
    }
    for (s, step) in runbook.steps.iter().enumerate() {
        match step {
            RunbookStep::Scale(scale) => {
                if scale.by == 0 {
                    report(format!("steps[{s}].scale.by"), "must not be 0".into());
                }
                if scale.min < 0 || scale.min > scale.max {
                    report(
                        format!("steps[{s}].scale"),
                        format!(
                            "needs 0 <= min <= max (min {}, max {})",
                            scale.min, scale.max
                        ),
                    );
                }
            }
            RunbookStep::RaiseMemory(raise) => {
                if !(raise.factor > 1.0 && raise.factor.is_finite()) {
                    report(
                        format!("steps[{s}].raise_memory.factor"),
                        format!("must be above 1 (it is {})", raise.factor),
                    );
                }
                if quantity_bytes(&raise.cap).is_none() {
                    report(
                        format!("steps[{s}].raise_memory.cap"),
                        format!("`{}` is not a memory quantity like 512Mi or 4Gi", raise.cap),
                    );
                }
            }
            RunbookStep::Notify(r) | RunbookStep::Escalate(r) if r.route.trim().is_empty() => {
                report(
                    format!("steps[{s}].{}.route", step.name()),
                    "must name a route".into(),
                );
            }
            _ => {}
        }
    }
    let limits = &runbook.limits;
    if limits.allowed_namespaces.is_empty() {
        report(
            "limits.allowed_namespaces".into(),
            "an empty list allows nothing: leave it out (or write [\"*\"]) to allow every namespace"
                .into(),
        );
    }
    if limits.max_actions_per_hour == 0 {
        report(
            "limits.max_actions_per_hour".into(),
            "must be at least 1 (use mode: dry_run to never act)".into(),
        );
    }
    if limits.circuit_breaker.after == 0 {
        report(
            "limits.circuit_breaker.after".into(),
            "must be at least 1".into(),
        );
    }
    if runbook.verify_after.0.is_zero() {
        report(
            "verify_after".into(),
            "must be longer than 0s (the data needs time to show an effect)".into(),
        );
    }
}

/// The column of the first non-blank character of `line` (1-based; 0 for line 0).
fn column_of(text: &str, line: usize) -> usize {
    line.checked_sub(1)
        .and_then(|i| text.lines().nth(i))
        .map(|l| l.len() - l.trim_start().trim_start_matches("- ").len() + 1)
        .unwrap_or(0)
}

/// A problem at the first line whose key is `key`.
fn problem_at(file: &str, text: &str, key: &str, message: String) -> RuleProblem {
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .map(|i| i + 1)
        .unwrap_or(0);
    RuleProblem {
        file: file.to_string(),
        line,
        column: column_of(text, line),
        field: key.to_string(),
        message,
    }
}

/// A memory quantity in bytes: a whole number, or one with a binary (Ki…Ti) or decimal (k…T)
/// suffix; `None` when it is none of these.
pub fn quantity_bytes(quantity: &str) -> Option<u64> {
    // The same parser the memory step uses on the workload's limits.
    crate::act::kube::memory_quantity_bytes(quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        RunbookSet::from_texts(vec![("r.yaml".into(), text.into())])
            .unwrap_err()
            .iter()
            .map(|p| format!("{}:{}: {}: {}", p.line, p.column, p.field, p.message))
            .collect()
    }

    #[test]
    fn runbook_shipped_set_parses_with_its_modes_and_limits() {
        let set = RunbookSet::embedded().expect("shipped runbooks valid");
        let names: Vec<&str> = set.runbooks.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "oom-remediation",
                "crashloop-remediation",
                "error-rate-rollback",
                "escalate-to-owner"
            ]
        );
        let oom = set.get("oom-remediation").unwrap();
        assert_eq!(oom.mode, Mode::Approve);
        assert_eq!(
            oom.steps[0],
            RunbookStep::RaiseMemory(RaiseMemoryStep {
                factor: 1.5,
                cap: "4Gi".into(),
                raise_request: false,
                only: None
            })
        );
        assert_eq!(oom.limits.cooldown, DurationText::secs(3600));
        assert_eq!(
            oom.limits.opt_out_label,
            BTreeMap::from([("forewarn.io/remediate".into(), "false".into())])
        );
        assert_eq!(oom.origin.line, 4);
        let crash = set.get("crashloop-remediation").unwrap();
        assert_eq!(crash.mode, Mode::DryRun);
        assert!(crash.steps[0].applies(true) && !crash.steps[0].applies(false));
        assert!(crash.steps[1].applies(false) && !crash.steps[1].applies(true));
        assert_eq!(set.get("error-rate-rollback").unwrap().mode, Mode::Approve);
        let escalate = set.get("escalate-to-owner").unwrap();
        assert!(!escalate.steps[0].writes_cluster());
        assert_eq!(set.global.max_actions_per_hour, 10);
    }

    #[test]
    fn runbook_shipped_set_validates_against_the_shipped_rules() {
        let rules = RuleSet::embedded().unwrap();
        let set = RunbookSet::embedded().unwrap();
        assert_eq!(set.validate_with_rules(&rules), Vec::<RuleProblem>::new());
        // Positive control: a rule naming a runbook that is not shipped is placed at its line.
        let mut renamed = rules.clone();
        let rule = renamed
            .rules
            .iter_mut()
            .find(|r| r.name == "memory-pressure")
            .unwrap();
        rule.runbook = Some("oom-remedation".into());
        let found = set.validate_with_rules(&renamed);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_string(),
            "rules/memory.yaml:5:5: rules[memory-pressure].runbook: unknown runbook `oom-remedation` (runbooks: crashloop-remediation, error-rate-rollback, escalate-to-owner, oom-remediation)"
        );
    }

    #[test]
    fn runbook_routes_must_exist_in_notify_yaml() {
        let notify = NotifyConfig::embedded().unwrap();
        let set = RunbookSet::embedded().unwrap();
        assert_eq!(set.validate_with_notify(&notify), Vec::<RuleProblem>::new());
        let mut broken = set.clone();
        broken.runbooks[0].limits.circuit_breaker.escalate = Some("pager".into());
        let found: Vec<String> = broken
            .validate_with_notify(&notify)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            ["rules/runbooks/memory.yaml:4:5: runbooks[oom-remediation].limits.circuit_breaker.escalate: unknown route `pager` (not in notify.yaml)"]
        );
    }

    #[test]
    fn runbook_named_by_a_rule_must_have_a_trigger_for_it() {
        let rules = RuleSet::embedded().unwrap();
        let set = RunbookSet::from_texts(vec![(
            "r.yaml".into(),
            "runbooks:\n  - name: oom-remediation\n    triggers: [{signal: error_rate}]\n    steps: [{rollout_restart: {}}]\n  - name: crashloop-remediation\n    triggers: [{rule: restart-*}]\n    steps: [{rollout_restart: {}}]\n  - name: escalate-to-owner\n    triggers: [{rule: [error-rate, canary-heartbeat, no-such-rule]}]\n    steps: [{escalate: {route: r}}]\n".into(),
        )])
        .unwrap();
        let found: Vec<String> = set
            .validate_with_rules(&rules)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "rules/memory.yaml:5:5: rules[memory-pressure].runbook: runbook `oom-remediation` (r.yaml:2) has no trigger for rule `memory-pressure` (signal memory_pressure)",
                "r.yaml:8:5: runbooks[escalate-to-owner].triggers[0].rule: `no-such-rule` matches no rule",
            ]
        );
    }

    #[test]
    fn runbook_misspelt_field_and_bad_values_are_placed() {
        assert_eq!(
            problems("runbooks:\n  - name: a\n    triggers: [{signal: error_rate}]\n    steps: [{rollout_restart: {}}]\n    mdoe: auto\n"),
            ["5:5: runbooks[0].mdoe: unknown field `mdoe`, expected one of name, description, triggers, mode, steps, limits, verify_after, rollout_within"]
        );
        let found = problems(
            "runbooks:\n  - name: a\n    triggers: [{signal: error_rate}]\n    steps:\n      - reboot: {}\n",
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("5:9: runbooks[0].steps[0]: unknown variant `reboot`"),
            "{found:?}"
        );
        let found = problems(
            "runbooks:\n  - name: a\n    triggers: [{signal: error_rate}]\n    steps: [{rollout_restart: {}}]\n    limits:\n      cooldown: a while\n",
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("6:7: runbooks[0].limits.cooldown: `a while` is not a duration"),
            "{found:?}"
        );
        let found = problems(
            "runbooks:\n  - name: a\n    triggers: [{signal: error_rate}]\n    steps: [{rollout_restart: {}}]\n    mode: yolo\n",
        );
        assert!(found[0].contains("unknown variant `yolo`"), "{found:?}");
    }

    #[test]
    fn runbook_semantic_problems_are_all_listed() {
        assert_eq!(
            problems("runbooks:\n  - name: a\n    triggers: []\n    steps:\n      - scale: {by: 0, min: 3, max: 1}\n      - raise_memory: {factor: 0.5, cap: lots}\n    limits: {allowed_namespaces: [], max_actions_per_hour: 0, circuit_breaker: {after: 0}}\n    verify_after: 0s\n  - name: a\n    triggers: [{signal: error_rate}]\n    steps: [{escalate: {route: \"\"}}]\n"),
            [
                "2:5: runbooks[0].triggers: a runbook without triggers never runs",
                "2:5: runbooks[0].steps[0].scale.by: must not be 0",
                "2:5: runbooks[0].steps[0].scale: needs 0 <= min <= max (min 3, max 1)",
                "2:5: runbooks[0].steps[1].raise_memory.factor: must be above 1 (it is 0.5)",
                "2:5: runbooks[0].steps[1].raise_memory.cap: `lots` is not a memory quantity like 512Mi or 4Gi",
                "2:5: runbooks[0].limits.allowed_namespaces: an empty list allows nothing: leave it out (or write [\"*\"]) to allow every namespace",
                "2:5: runbooks[0].limits.max_actions_per_hour: must be at least 1 (use mode: dry_run to never act)",
                "2:5: runbooks[0].limits.circuit_breaker.after: must be at least 1",
                "2:5: runbooks[0].verify_after: must be longer than 0s (the data needs time to show an effect)",
                "9:5: runbooks[1].steps[0].escalate.route: must name a route",
                "9:5: runbooks.name: runbook `a` is already defined at r.yaml:2",
            ]
        );
    }

    #[test]
    fn runbook_defaults_are_dry_run_and_the_opt_out_label() {
        let set = RunbookSet::from_texts(vec![(
            "r.yaml".into(),
            "global: {max_actions_per_hour: 4}\nrunbooks:\n  - name: a\n    triggers: [{signal: error_rate}]\n    steps: [{delete_pod: {}}]\n".into(),
        )])
        .unwrap();
        let a = set.get("a").unwrap();
        assert_eq!(a.mode, Mode::DryRun);
        assert_eq!(a.limits, Limits::default());
        assert_eq!(a.verify_after, DurationText::secs(600));
        assert!(a.allows_namespace("anything"));
        assert_eq!(set.global.max_actions_per_hour, 4);
        let twice = RunbookSet::from_texts(vec![
            (
                "a.yaml".into(),
                "global: {max_actions_per_hour: 4}\n".into(),
            ),
            (
                "b.yaml".into(),
                "\nglobal: {max_actions_per_hour: 5}\n".into(),
            ),
        ])
        .unwrap_err();
        assert_eq!(
            twice[0].to_string(),
            "b.yaml:2:1: global: `global:` is already set in a.yaml"
        );
    }

    #[test]
    fn runbook_steps_become_kube_steps_from_the_entity() {
        let entity = BTreeMap::from([
            ("pod".to_string(), "cart-7d9-x".to_string()),
            ("container".to_string(), "app".to_string()),
        ]);
        let raise = RunbookStep::RaiseMemory(RaiseMemoryStep {
            factor: 1.5,
            cap: "4Gi".into(),
            raise_request: true,
            only: None,
        });
        assert_eq!(
            raise.kube_step(&entity),
            Some(KubeStep::RaiseMemory(MemoryRaise {
                container: "app".into(),
                factor: 1.5,
                cap_bytes: 4 << 30,
                raise_request: true
            }))
        );
        assert_eq!(
            RunbookStep::DeletePod(Plain::default()).kube_step(&entity),
            Some(KubeStep::DeletePod {
                pod: "cart-7d9-x".into()
            })
        );
        assert_eq!(raise.kube_step(&BTreeMap::new()), None);
        assert_eq!(
            RunbookStep::Notify(RouteStep {
                route: "r".into(),
                only: None
            })
            .kube_step(&entity),
            None
        );
        assert_eq!(quantity_bytes("512Mi"), Some(512 << 20));
        assert_eq!(quantity_bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(quantity_bytes("2G"), Some(2_000_000_000));
        assert_eq!(quantity_bytes("-1Gi"), None);
        assert_eq!(quantity_bytes("Gi"), None);
    }

    #[test]
    fn runbook_rules_dir_supplies_its_runbooks_folder_or_the_shipped_ones_apply() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            RunbookSet::load_dir_or_embedded(dir.path()).unwrap(),
            RunbookSet::embedded().unwrap()
        );
        let folder = dir.path().join(RUNBOOKS_DIR_NAME);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(
            folder.join("mine.yaml"),
            "runbooks:\n  - name: mine\n    triggers: [{rule: error-rate}]\n    steps: [{rollout_restart: {}}]\n",
        )
        .unwrap();
        std::fs::write(folder.join("notes.txt"), "not yaml").unwrap();
        let set = RunbookSet::load_dir_or_embedded(dir.path()).unwrap();
        assert_eq!(set.runbooks.len(), 1);
        assert_eq!(
            set.runbooks[0].origin.file,
            folder.join("mine.yaml").display().to_string()
        );
        std::fs::write(folder.join("bad.yaml"), "runbooks: 3\n").unwrap();
        let found = RunbookSet::load_dir_or_embedded(dir.path()).unwrap_err();
        assert_eq!(found[0].file, folder.join("bad.yaml").display().to_string());
        assert_eq!(found[0].line, 1);
    }
}
