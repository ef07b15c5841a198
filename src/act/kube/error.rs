//! The one error type of the Kubernetes boundary, and how an API failure becomes one.
//!
//! Every variant names the verb, the resource and the object (namespace/name) it concerns, so a
//! caller can record and print it as is. A 403 is turned into the Role rule that would allow the
//! request, read from the Status body the API server sent (RBAC's message names the verb,
//! resource and group it refused); a 404 is `TargetGone` (the caller records it and skips); a
//! 409 is `Conflict` (the step layer retries once on a fresh read).

use std::fmt;

use ::kube::core::Status;

use super::steps::StepKind;
use super::target::Target;

/// The API object a request concerns: `deployments.apps shop/web`, `pods shop/web-1 (scale)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// API group; "" is the core group.
    pub group: String,
    /// The plural resource name (`deployments`).
    pub resource: String,
    /// A subresource (`scale`), if the request is to one.
    pub subresource: Option<String>,
    pub namespace: String,
    /// Empty for a collection (a list).
    pub name: String,
}

impl ObjectRef {
    /// The resource as RBAC names it: `deployments`, `deployments/scale`.
    pub fn rbac_resource(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.clone(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rbac_resource())?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        if self.name.is_empty() {
            write!(f, " in namespace {}", self.namespace)
        } else {
            write!(f, " {}/{}", self.namespace, self.name)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KubeActionError {
    #[error("loading the kubeconfig{}: {source}", context_note(.context))]
    Kubeconfig {
        context: Option<String>,
        #[source]
        source: ::kube::config::KubeconfigError,
    },
    #[error("loading the in-cluster Kubernetes configuration: {source}")]
    InCluster {
        #[source]
        source: ::kube::config::InClusterError,
    },
    #[error("building the Kubernetes client for {cluster_url}: {source}")]
    Client {
        cluster_url: String,
        #[source]
        source: ::kube::Error,
    },
    #[error("{verb} {object}: forbidden: {message}; add to the Role: {rule}")]
    Forbidden {
        verb: &'static str,
        object: Box<ObjectRef>,
        /// The API server's message (it names the user, verb, resource, group and namespace).
        message: String,
        /// The rule to add, from the Status body (falling back to the request itself).
        rule: Box<RoleRule>,
    },
    #[error("{verb} {object}: target gone (404 Not Found)")]
    TargetGone {
        verb: &'static str,
        object: Box<ObjectRef>,
    },
    #[error("{verb} {object}: conflict (409) after {attempts} attempt(s), the last on a fresh read: {message}")]
    Conflict {
        verb: &'static str,
        object: Box<ObjectRef>,
        attempts: u32,
        message: String,
    },
    #[error("{verb} {object}: no answer from the API server within {timeout_s} s")]
    Timeout {
        verb: &'static str,
        object: Box<ObjectRef>,
        timeout_s: f64,
    },
    #[error("{verb} {object}: the API server refused ({code} {reason}): {message}")]
    Refused {
        verb: &'static str,
        object: Box<ObjectRef>,
        code: u16,
        reason: String,
        message: String,
        #[source]
        source: Box<Status>,
    },
    /// The request got no HTTP answer (connection refused, DNS, TLS ...): `detail` is the
    /// whole cause chain, since the outermost error alone ("client error (Connect)") does not
    /// say what went wrong.
    #[error("{verb} {object}: cannot reach the Kubernetes API server: {detail}")]
    Transport {
        verb: &'static str,
        object: Box<ObjectRef>,
        detail: String,
        #[source]
        source: ::kube::Error,
    },
    #[error("{verb} {object}: unexpected answer: {detail}")]
    Unexpected {
        verb: &'static str,
        object: Box<ObjectRef>,
        detail: String,
    },
    #[error("{step} on {target}: {why}")]
    NotApplicable {
        step: StepKind,
        target: Target,
        why: String,
    },
    #[error("{what} {value:?} is not a valid Kubernetes object name")]
    InvalidName { what: &'static str, value: String },
}

/// `error` and its sources, outermost first, without repeats: "ServiceError: client error
/// (Connect): tcp connect error: Connection refused (os error 111)".
fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn context_note(context: &Option<String>) -> String {
    match context {
        Some(name) => format!(" (context {name:?})"),
        None => String::new(),
    }
}

impl KubeActionError {
    /// The API failure `source` of `verb` on `object`, classified.
    pub(crate) fn from_kube(verb: &'static str, object: &ObjectRef, source: ::kube::Error) -> Self {
        let status = match source {
            ::kube::Error::Api(status) => status,
            other => {
                return KubeActionError::Transport {
                    verb,
                    object: Box::new(object.clone()),
                    detail: cause_chain(&other),
                    source: other,
                }
            }
        };
        let object = Box::new(object.clone());
        match status.code {
            403 => {
                let rule = match RbacRefusal::parse(&status.message) {
                    Some(refused) => RoleRule {
                        group: refused.group,
                        resource: refused.resource,
                        verb: refused.verb,
                    },
                    None => RoleRule {
                        group: object.group.clone(),
                        resource: object.rbac_resource(),
                        verb: verb.to_string(),
                    },
                };
                KubeActionError::Forbidden {
                    verb,
                    message: status.message.clone(),
                    rule: Box::new(rule),
                    object,
                }
            }
            404 => KubeActionError::TargetGone { verb, object },
            409 => KubeActionError::Conflict {
                verb,
                object,
                attempts: 1,
                message: status.message.clone(),
            },
            code => KubeActionError::Refused {
                verb,
                object,
                code,
                reason: status.reason.clone(),
                message: status.message.clone(),
                source: status,
            },
        }
    }

    /// Whether the API server answered 409 Conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, KubeActionError::Conflict { .. })
    }

    /// Whether the API server gave no answer at all (no connection, or none within the
    /// timeout): every further request of the run would wait the same way.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            KubeActionError::Transport { .. } | KubeActionError::Timeout { .. }
        )
    }

    /// Whether the object is gone (404): the caller records the step as skipped.
    pub fn is_target_gone(&self) -> bool {
        matches!(self, KubeActionError::TargetGone { .. })
    }
}

/// A Role rule granting one verb on one resource, printed as it is written in a Role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    pub group: String,
    pub resource: String,
    pub verb: String,
}

impl fmt::Display for RoleRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [\"{}\"]",
            self.group, self.resource, self.verb
        )
    }
}

/// What RBAC's 403 message says it refused:
/// `... cannot patch resource "deployments" in API group "apps" in the namespace "shop"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RbacRefusal {
    pub verb: String,
    pub resource: String,
    pub group: String,
    pub namespace: Option<String>,
}

impl RbacRefusal {
    pub(crate) fn parse(message: &str) -> Option<RbacRefusal> {
        let rest = &message[message.find(" cannot ")? + " cannot ".len()..];
        let (verb, rest) = rest.split_once(' ')?;
        let rest = rest.strip_prefix("resource \"")?;
        let (resource, rest) = rest.split_once('"')?;
        let rest = rest.strip_prefix(" in API group \"")?;
        let (group, rest) = rest.split_once('"')?;
        let namespace = rest
            .strip_prefix(" in the namespace \"")
            .and_then(|r| r.split_once('"'))
            .map(|(ns, _)| ns.to_string());
        Some(RbacRefusal {
            verb: verb.to_string(),
            resource: resource.to_string(),
            group: group.to_string(),
            namespace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_refusal_is_read_from_the_status_message() {
        let message = "deployments.apps \"web\" is forbidden: User \
                       \"system:serviceaccount:forewarn:forewarn\" cannot patch resource \
                       \"deployments/scale\" in API group \"apps\" in the namespace \"shop\"";
        assert_eq!(
            RbacRefusal::parse(message),
            Some(RbacRefusal {
                verb: "patch".into(),
                resource: "deployments/scale".into(),
                group: "apps".into(),
                namespace: Some("shop".into()),
            })
        );
        assert_eq!(RbacRefusal::parse("Unauthorized"), None);
    }
}
