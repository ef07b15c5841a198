//! Choosing which rules a run judges: the enabled rules, narrowed by job and by name.

use crate::config::{Rule, RuleSet};

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("--job {job}: no such job (jobs: {known})")]
    UnknownJob { job: String, known: String },
    #[error("--rule {rule}: no such rule (rules: {known})")]
    UnknownRule { rule: String, known: String },
}

/// The enabled rules of `set` in the given jobs and with the given names (empty = all).
/// Naming a job or rule that does not exist is an error, not an empty selection.
pub fn select_rules<'a>(
    set: &'a RuleSet,
    jobs: &[String],
    names: &[String],
) -> Result<Vec<&'a Rule>, SelectError> {
    for job in jobs {
        if !set.jobs.iter().any(|j| &j.name == job) {
            return Err(SelectError::UnknownJob {
                job: job.clone(),
                known: set
                    .jobs
                    .iter()
                    .map(|j| j.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    for name in names {
        if !set.rules.iter().any(|r| &r.name == name) {
            return Err(SelectError::UnknownRule {
                rule: name.clone(),
                known: set
                    .rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(set
        .enabled_rules()
        .filter(|r| jobs.is_empty() || jobs.contains(&r.job))
        .filter(|r| names.is_empty() || names.contains(&r.name))
        .collect())
}

/// The rules in `dir`, or the shipped rules compiled in.
pub fn load_rules(dir: Option<&std::path::Path>) -> Result<RuleSet, crate::config::RulesError> {
    match dir {
        Some(dir) => RuleSet::load_dir(dir),
        None => RuleSet::embedded(),
    }
}
