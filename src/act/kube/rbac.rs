//! The RBAC rules the steps need, derived from the steps themselves, so the shipped Role grants
//! exactly what the shipped runbooks use (and a missing rule shows up here, not as a 403 in a
//! cluster).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::steps::StepKind;
use crate::config::runbooks::{RunbookSet, RunbookStep};

/// One permission: `(api group, resource, verb)`; "" is the core group.
pub type Permission = (&'static str, &'static str, &'static str);

/// Every step first resolves its target through the owner chain.
const RESOLVE_OWNER: [Permission; 3] = [
    ("", "pods", "get"),
    ("apps", "replicasets", "get"),
    ("batch", "jobs", "get"),
];

/// The requests a step kind makes besides resolving its target.
pub fn permissions_of(step: StepKind) -> &'static [Permission] {
    match step {
        StepKind::RolloutRestart | StepKind::RaiseMemory => &[
            ("apps", "deployments", "get"),
            ("apps", "deployments", "patch"),
            ("apps", "statefulsets", "get"),
            ("apps", "statefulsets", "patch"),
            ("apps", "daemonsets", "get"),
            ("apps", "daemonsets", "patch"),
        ],
        StepKind::Rollback => &[
            ("apps", "deployments", "get"),
            ("apps", "deployments", "patch"),
            ("apps", "replicasets", "list"),
        ],
        StepKind::DeletePod => &[("", "pods", "delete")],
        StepKind::Scale => &[
            ("apps", "deployments/scale", "get"),
            ("apps", "deployments/scale", "patch"),
            ("apps", "statefulsets/scale", "get"),
            ("apps", "statefulsets/scale", "patch"),
        ],
    }
}

/// Every permission `steps` need, owner resolution included; empty for no steps.
pub fn permissions_for(steps: &[StepKind]) -> BTreeSet<Permission> {
    if steps.is_empty() {
        return BTreeSet::new();
    }
    RESOLVE_OWNER
        .iter()
        .chain(steps.iter().flat_map(|s| permissions_of(*s)))
        .copied()
        .collect()
}

/// The Role rules for `steps`: one rule per API group and verb set, resources sorted.
pub fn rbac_rules_for(steps: &[StepKind]) -> Vec<PolicyRule> {
    let mut verbs_of: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for (group, resource, verb) in permissions_for(steps) {
        verbs_of.entry((group, resource)).or_default().insert(verb);
    }
    let mut rules: BTreeMap<(&str, Vec<&str>), Vec<&str>> = BTreeMap::new();
    for ((group, resource), verbs) in verbs_of {
        rules
            .entry((group, verbs.into_iter().collect()))
            .or_default()
            .push(resource);
    }
    rules
        .into_iter()
        .map(|((group, verbs), resources)| PolicyRule {
            api_groups: Some(vec![group.to_string()]),
            resources: Some(resources.into_iter().map(String::from).collect()),
            verbs: verbs.into_iter().map(String::from).collect(),
            ..PolicyRule::default()
        })
        .collect()
}

/// The step kind of a runbook step; `None` for notify / escalate (no cluster request).
pub fn step_kind_of(step: &RunbookStep) -> Option<StepKind> {
    match step {
        RunbookStep::RolloutRestart(_) => Some(StepKind::RolloutRestart),
        RunbookStep::Rollback(_) => Some(StepKind::Rollback),
        RunbookStep::DeletePod(_) => Some(StepKind::DeletePod),
        RunbookStep::Scale(_) => Some(StepKind::Scale),
        RunbookStep::RaiseMemory(_) => Some(StepKind::RaiseMemory),
        RunbookStep::Notify(_) | RunbookStep::Escalate(_) => None,
    }
}

/// The step kinds the runbooks of `set` use, in order, each once. Every runbook counts,
/// whatever its mode: a dry run sends the same requests with `dryRun=All`, which RBAC checks
/// like the real ones.
pub fn step_kinds_of_runbooks(set: &RunbookSet) -> Vec<StepKind> {
    let kinds: BTreeSet<StepKind> = set
        .runbooks
        .iter()
        .flat_map(|r| r.steps.iter().filter_map(step_kind_of))
        .collect();
    kinds.into_iter().collect()
}

/// The Role rules the loaded runbooks need: [`rbac_rules_for`] over their steps.
pub fn rbac_rules_for_runbooks(set: &RunbookSet) -> Vec<PolicyRule> {
    rbac_rules_for(&step_kinds_of_runbooks(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_needs_the_owner_chain_and_get_patch_on_workloads() {
        let rules = rbac_rules_for(&[StepKind::RolloutRestart]);
        let flat: Vec<(String, Vec<String>, Vec<String>)> = rules
            .into_iter()
            .map(|r| {
                (
                    r.api_groups.unwrap()[0].clone(),
                    r.resources.unwrap(),
                    r.verbs,
                )
            })
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            flat,
            vec![
                ("".into(), s(&["pods"]), s(&["get"])),
                ("apps".into(), s(&["replicasets"]), s(&["get"])),
                (
                    "apps".into(),
                    s(&["daemonsets", "deployments", "statefulsets"]),
                    s(&["get", "patch"])
                ),
                ("batch".into(), s(&["jobs"]), s(&["get"])),
            ]
        );
        assert!(rbac_rules_for(&[]).is_empty());
    }

    #[test]
    fn the_shipped_runbooks_need_exactly_their_steps_verbs() {
        let set = RunbookSet::embedded().unwrap();
        assert_eq!(
            step_kinds_of_runbooks(&set),
            [
                StepKind::RolloutRestart,
                StepKind::Rollback,
                StepKind::RaiseMemory
            ]
        );
        let rules = rbac_rules_for_runbooks(&set);
        let verbs_on = |resource: &str| -> Vec<String> {
            rules
                .iter()
                .filter(|r| {
                    r.resources
                        .as_ref()
                        .is_some_and(|rs| rs.iter().any(|x| x == resource))
                })
                .flat_map(|r| r.verbs.clone())
                .collect()
        };
        assert_eq!(verbs_on("deployments"), ["get", "patch"]);
        assert_eq!(verbs_on("replicasets"), ["get", "list"]);
        assert_eq!(verbs_on("pods"), ["get"], "no runbook deletes a pod");
        assert!(
            verbs_on("deployments/scale").is_empty(),
            "no runbook scales"
        );
    }
}
