//! What `kubectl rollout undo` does for a Deployment, as data: the previous revision's pod
//! template, and the merge patch that replaces the current template with it.
//!
//! The revisions are the `deployment.kubernetes.io/revision` annotations of the ReplicaSets the
//! Deployment controls; "previous" is the second highest, as kubectl's `--to-revision=0`. The
//! ReplicaSet's template carries the `pod-template-hash` label the controller added, which is
//! removed before it goes back into the Deployment.

use serde_json::{Map, Value};

pub(crate) const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// The revision to go back to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PreviousRevision {
    pub current_revision: u64,
    pub revision: u64,
    pub replicaset: String,
    /// The pod template, `pod-template-hash` removed.
    pub template: Value,
}

/// The previous revision among `replicasets` controlled by `deployment`; `Err` says why there
/// is none.
pub(crate) fn previous_revision(
    deployment: &Value,
    replicasets: &[Value],
) -> Result<PreviousRevision, String> {
    let uid = deployment["metadata"]["uid"].as_str().unwrap_or_default();
    let mut owned: Vec<(u64, &Value)> = replicasets
        .iter()
        .filter(|rs| {
            rs["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| {
                    refs.iter().any(|r| {
                        r["controller"].as_bool() == Some(true) && r["uid"].as_str() == Some(uid)
                    })
                })
        })
        .filter_map(|rs| {
            let revision = rs["metadata"]["annotations"][REVISION_ANNOTATION]
                .as_str()?
                .parse()
                .ok()?;
            Some((revision, rs))
        })
        .collect();
    owned.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
    let [(current_revision, _), (revision, previous), ..] = owned.as_slice() else {
        return Err(format!(
            "no previous revision: {} ReplicaSet(s) with a revision belong to it",
            owned.len()
        ));
    };
    let mut template = previous["spec"]["template"].clone();
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove(POD_TEMPLATE_HASH);
    }
    Ok(PreviousRevision {
        current_revision: *current_revision,
        revision: *revision,
        replicaset: previous["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        template,
    })
}

/// The label selector of a Deployment's `spec.selector.matchLabels`, as a list query wants it
/// (`k=v,k2=v2`, sorted); "" when it has none.
/// A Deployment as the API server has it now, and the ReplicaSets its selector matches (its
/// revisions): what a rollback and the rollout time of a target are read from.
pub(crate) async fn deployment_and_replicasets(
    ctx: &super::KubeContext,
    target: &super::Target,
) -> Result<(Value, Vec<Value>), super::KubeActionError> {
    use super::request::{send, PlannedRequest};
    use super::ObjectRef;
    let deployment = send(ctx, &PlannedRequest::read(target.object())).await?;
    let replicasets = ObjectRef {
        group: "apps".into(),
        resource: "replicasets".into(),
        subresource: None,
        namespace: target.namespace.clone(),
        name: String::new(),
    };
    let list = send(
        ctx,
        &PlannedRequest::list(replicasets, &selector_of(&deployment)),
    )
    .await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    Ok((deployment, items))
}

pub(crate) fn selector_of(deployment: &Value) -> String {
    deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            let mut terms: Vec<String> = labels
                .iter()
                .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
                .collect();
            terms.sort();
            terms.join(",")
        })
        .unwrap_or_default()
}

/// The JSON merge patch (RFC 7386) that turns `current` into `desired`: changed keys set,
/// vanished keys `null`, arrays replaced whole. `None` when they are equal.
pub(crate) fn replacing_merge_patch(current: &Value, desired: &Value) -> Option<Value> {
    match (current, desired) {
        (Value::Object(current), Value::Object(desired)) => {
            let mut patch = Map::new();
            for (key, value) in desired {
                match current.get(key) {
                    Some(old) => {
                        if let Some(diff) = replacing_merge_patch(old, value) {
                            patch.insert(key.clone(), diff);
                        }
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in current.keys() {
                if !desired.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (current, desired) if current == desired => None,
        (_, desired) => Some(desired.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_patch_sets_changes_and_nulls_what_vanished() {
        let current = json!({"metadata": {"labels": {"app": "web", "canary": "true"}},
                             "spec": {"containers": [{"name": "app", "image": "web:2"}]}});
        let desired = json!({"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "app", "image": "web:1"}]}});
        assert_eq!(
            replacing_merge_patch(&current, &desired),
            Some(json!({"metadata": {"labels": {"canary": null}},
                        "spec": {"containers": [{"name": "app", "image": "web:1"}]}}))
        );
        assert_eq!(replacing_merge_patch(&current, &current), None);
    }

    #[test]
    fn the_previous_revision_is_the_second_highest_owned_one() {
        let deployment = json!({"metadata": {"uid": "d1"}});
        let rs = |name: &str, revision: &str, owner: &str, image: &str| {
            json!({"metadata": {"name": name,
                                "annotations": {REVISION_ANNOTATION: revision},
                                "ownerReferences": [{"uid": owner, "controller": true}]},
                   "spec": {"template": {"metadata": {"labels": {"app": "web",
                                                                 POD_TEMPLATE_HASH: name}},
                                         "spec": {"containers": [{"image": image}]}}}})
        };
        let sets = [
            rs("web-a", "1", "d1", "web:1"),
            rs("web-c", "3", "d1", "web:3"),
            rs("web-b", "2", "d1", "web:2"),
            rs("other", "9", "d2", "other:9"),
        ];
        let previous = previous_revision(&deployment, &sets).unwrap();
        assert_eq!((previous.current_revision, previous.revision), (3, 2));
        assert_eq!(previous.replicaset, "web-b");
        assert_eq!(
            previous.template,
            json!({"metadata": {"labels": {"app": "web"}},
                   "spec": {"containers": [{"image": "web:2"}]}})
        );
        assert!(previous_revision(&deployment, &sets[..1]).is_err());
    }
}
