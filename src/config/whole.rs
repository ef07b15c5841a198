//! The whole configuration, validated together before anything runs: the rules, `notify.yaml`
//! (routes and receivers) and the runbooks, each checked against the others (a rule's runbook
//! exists, a runbook's routes exist). Every problem of every file is listed; any one rejects
//! the set.

use std::path::Path;

use crate::config::notify::NotifyConfig;
use crate::config::runbooks::RunbookSet;
use crate::config::{RuleProblem, RuleSet, RulesError};

/// A validated configuration.
pub struct Configuration {
    pub rules: RuleSet,
    pub notify: NotifyConfig,
    pub runbooks: RunbookSet,
}

/// Loads `dir` (rules, `notify.yaml`, `runbooks/`; what it lacks comes from the shipped
/// configuration), or the shipped configuration.
pub fn load(dir: Option<&Path>) -> Result<Configuration, RulesError> {
    let rules = match dir {
        Some(dir) => RuleSet::load_dir(dir)?,
        None => RuleSet::embedded()?,
    };
    let mut problems: Vec<RuleProblem> = Vec::new();
    let notify = match dir {
        Some(dir) => NotifyConfig::load_dir_or_embedded(dir),
        None => NotifyConfig::embedded(),
    };
    let runbooks = match dir {
        Some(dir) => RunbookSet::load_dir_or_embedded(dir),
        None => RunbookSet::embedded(),
    };
    let (notify, runbooks) = match (notify, runbooks) {
        (Ok(notify), Ok(runbooks)) => (notify, runbooks),
        (notify, runbooks) => {
            problems.extend(notify.err().unwrap_or_default());
            problems.extend(runbooks.err().unwrap_or_default());
            return Err(RulesError::Invalid { problems });
        }
    };
    problems.extend(runbooks.validate_with_rules(&rules));
    // A runbook's routes are checked against the notify.yaml it ships with: the user's own
    // runbooks (`DIR/runbooks/`) against the user's notify.yaml, the shipped ones against the
    // shipped one. (Remediation is not wired into `forewarn run` yet; the wiring must decide
    // what a shipped runbook's escalation does when the user's notify.yaml lacks its route.)
    let own_runbooks = dir.is_none_or(|dir| dir.join("runbooks").is_dir());
    let own_notify =
        dir.is_none_or(|dir| dir.join(crate::config::notify::NOTIFY_FILE_NAME).is_file());
    if own_runbooks == own_notify {
        problems.extend(runbooks.validate_with_notify(&notify));
    }
    if !problems.is_empty() {
        return Err(RulesError::Invalid { problems });
    }
    Ok(Configuration {
        rules,
        notify,
        runbooks,
    })
}
