//! Who forewarn is in the cluster and what it may do: the namespace, the ServiceAccount, a
//! ClusterRole with exactly the requests the runbooks make (derived from their steps by
//! [`crate::act::kube::rbac_rules_for_runbooks`], dry runs included: RBAC checks `dryRun=All`
//! like a real write), and a Role for the daemon's leader-election Lease in its own namespace.

use serde_json::{json, Value};

use super::{labels, metadata, ManifestSettings};
use crate::config::runbooks::RunbookSet;

/// The ServiceAccount every pod runs as.
pub const SERVICE_ACCOUNT: &str = "forewarn";
/// The Lease `forewarn serve` replicas elect a leader with.
pub const LEASE_NAME: &str = "forewarn-serve";

pub fn namespace(settings: &ManifestSettings) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": settings.namespace,
            "labels": labels("namespace"),
        },
    })
}

pub fn service_account(settings: &ManifestSettings) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(SERVICE_ACCOUNT, "identity", settings),
    })
}

/// The Lease rules: create it once (`create` cannot be limited to a name), then read and renew
/// only forewarn's own.
pub fn lease_rules() -> Value {
    json!([
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [LEASE_NAME],
            "verbs": ["get", "update"],
        },
    ])
}

/// ClusterRole + binding for the runbooks (workloads live in any namespace), Role + binding for
/// the Lease.
pub fn rbac(runbooks: &RunbookSet, settings: &ManifestSettings) -> Vec<Value> {
    let rules = serde_json::to_value(crate::act::kube::rbac_rules_for_runbooks(runbooks))
        .unwrap_or_else(|_| json!([]));
    let subject = json!([{
        "kind": "ServiceAccount",
        "name": SERVICE_ACCOUNT,
        "namespace": settings.namespace,
    }]);
    let cluster_role = format!("forewarn-runbooks-{}", settings.namespace);
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": cluster_role, "labels": labels("rbac")},
            "rules": rules,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": cluster_role, "labels": labels("rbac")},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role,
            },
            "subjects": subject,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata("forewarn-lease", "rbac", settings),
            "rules": lease_rules(),
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata("forewarn-lease", "rbac", settings),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "forewarn-lease",
            },
            "subjects": subject,
        }),
    ]
}
