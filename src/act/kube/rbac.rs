//! The RBAC rules the steps need, derived from the steps themselves, so the shipped Role grants
//! exactly what the shipped runbooks use (and a missing rule shows up here, not as a 403 in a
//! cluster).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::steps::StepKind;

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
}
