//! One request to the API server: described first (`PlannedRequest`, what records and dry-run
//! printing show), then sent exactly as described.
//!
//! Every read and write of this layer goes through [`send`], so each is bounded by the
//! context's request timeout and every failure is classified the same way. Paths are built here
//! from validated names, never from unchecked strings.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::error::{KubeActionError, ObjectRef};
use super::KubeContext;

/// Whether a write is only checked by the API server (`dryRun=All`: validated and admitted,
/// nothing stored) or applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DryRun {
    /// Server-side dry run: the same request with `dryRun=All`.
    Server,
    /// Applied.
    No,
}

/// What a request does, named as RBAC names it (serialized that way too: `"patch"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Get,
    List,
    Patch,
    Delete,
}

impl Verb {
    /// The HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            Verb::Get | Verb::List => "GET",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    /// The verb as RBAC names it.
    pub fn rbac(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }
}

/// A request exactly as it is (or would be) sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedRequest {
    pub verb: Verb,
    /// The URL path, e.g. `/apis/apps/v1/namespaces/shop/deployments/web`.
    pub path: String,
    /// The query string without `?` (`dryRun=All`), empty when there is none.
    pub query: String,
    pub content_type: Option<String>,
    pub body: Option<Value>,
    /// The object it concerns (for errors and records; not sent).
    #[serde(skip)]
    pub object: ObjectRef,
}

pub(crate) const MERGE_PATCH: &str = "application/merge-patch+json";
pub(crate) const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";

impl PlannedRequest {
    pub(crate) fn read(object: ObjectRef) -> PlannedRequest {
        PlannedRequest {
            verb: Verb::Get,
            path: object_path(&object),
            query: String::new(),
            content_type: None,
            body: None,
            object,
        }
    }

    /// A list of `object.resource` in `object.namespace`, filtered by a label selector.
    pub(crate) fn list(object: ObjectRef, label_selector: &str) -> PlannedRequest {
        let query = if label_selector.is_empty() {
            String::new()
        } else {
            format!("labelSelector={}", encode_query_value(label_selector))
        };
        PlannedRequest {
            verb: Verb::List,
            path: object_path(&object),
            query,
            content_type: None,
            body: None,
            object,
        }
    }

    pub(crate) fn patch(
        object: ObjectRef,
        content_type: &str,
        body: Value,
        dry_run: DryRun,
    ) -> PlannedRequest {
        PlannedRequest {
            verb: Verb::Patch,
            path: object_path(&object),
            query: dry_run_query(dry_run),
            content_type: Some(content_type.to_string()),
            body: Some(body),
            object,
        }
    }

    pub(crate) fn delete(object: ObjectRef, dry_run: DryRun) -> PlannedRequest {
        PlannedRequest {
            verb: Verb::Delete,
            path: object_path(&object),
            query: dry_run_query(dry_run),
            content_type: None,
            body: None,
            object,
        }
    }

    /// Whether this request changes stored state when sent (a write without `dryRun=All`).
    pub fn persists(&self) -> bool {
        matches!(self.verb, Verb::Patch | Verb::Delete) && !self.query.contains("dryRun=All")
    }

    fn to_http(&self) -> Result<http::Request<Vec<u8>>, http::Error> {
        let uri = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut builder = http::Request::builder()
            .method(self.verb.method())
            .uri(uri)
            .header(http::header::ACCEPT, "application/json");
        if let Some(content_type) = &self.content_type {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
        }
        let body = match &self.body {
            Some(body) => body.to_string().into_bytes(),
            None => Vec::new(),
        };
        builder.body(body)
    }
}

impl fmt::Display for PlannedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb.method(), self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        if let (Some(content_type), Some(body)) = (&self.content_type, &self.body) {
            write!(f, " ({content_type}) {body}")?;
        }
        Ok(())
    }
}

fn dry_run_query(dry_run: DryRun) -> String {
    match dry_run {
        DryRun::Server => "dryRun=All".to_string(),
        DryRun::No => String::new(),
    }
}

/// `/api/v1/namespaces/NS/pods[/NAME]`, `/apis/GROUP/v1/namespaces/NS/PLURAL[/NAME[/SUB]]`.
fn object_path(object: &ObjectRef) -> String {
    let mut path = if object.group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{}/v1", object.group)
    };
    path.push_str(&format!(
        "/namespaces/{}/{}",
        object.namespace, object.resource
    ));
    if !object.name.is_empty() {
        path.push('/');
        path.push_str(&object.name);
        if let Some(sub) = &object.subresource {
            path.push('/');
            path.push_str(sub);
        }
    }
    path
}

/// Percent-encodes a query value (label selectors hold `=`, `,`, `!`).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Checks a name before it goes into a path: a DNS subdomain (RFC 1123), as Kubernetes requires
/// of the objects this layer touches.
pub(crate) fn checked_name<'a>(
    what: &'static str,
    value: &'a str,
) -> Result<&'a str, KubeActionError> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(value)
    } else {
        Err(KubeActionError::InvalidName {
            what,
            value: value.to_string(),
        })
    }
}

/// Sends `request`, bounded by the context's timeout; the answer as JSON.
pub(crate) async fn send(
    ctx: &KubeContext,
    request: &PlannedRequest,
) -> Result<Value, KubeActionError> {
    let verb = request.verb.rbac();
    let http_request = request.to_http().map_err(|e| KubeActionError::Unexpected {
        verb,
        object: Box::new(request.object.clone()),
        detail: format!("cannot build the request: {e}"),
    })?;
    match tokio::time::timeout(
        ctx.request_timeout,
        ctx.client.request::<Value>(http_request),
    )
    .await
    {
        Err(_elapsed) => Err(KubeActionError::Timeout {
            verb,
            object: Box::new(request.object.clone()),
            timeout_s: ctx.request_timeout.as_secs_f64(),
        }),
        Ok(Err(e)) => Err(KubeActionError::from_kube(verb, &request.object, e)),
        Ok(Ok(answer)) => Ok(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(name: &str) -> ObjectRef {
        ObjectRef {
            group: "apps".into(),
            resource: "deployments".into(),
            subresource: None,
            namespace: "shop".into(),
            name: name.into(),
        }
    }

    #[test]
    fn paths_follow_the_api_layout() {
        assert_eq!(
            object_path(&deployment("web")),
            "/apis/apps/v1/namespaces/shop/deployments/web"
        );
        let pods = ObjectRef {
            group: String::new(),
            resource: "pods".into(),
            subresource: None,
            namespace: "shop".into(),
            name: String::new(),
        };
        assert_eq!(object_path(&pods), "/api/v1/namespaces/shop/pods");
        let scale = ObjectRef {
            subresource: Some("scale".into()),
            ..deployment("web")
        };
        assert_eq!(
            object_path(&scale),
            "/apis/apps/v1/namespaces/shop/deployments/web/scale"
        );
    }

    #[test]
    fn a_dry_run_write_does_not_persist_and_a_real_one_does() {
        let body = serde_json::json!({});
        let dry =
            PlannedRequest::patch(deployment("web"), MERGE_PATCH, body.clone(), DryRun::Server);
        let live = PlannedRequest::patch(deployment("web"), MERGE_PATCH, body, DryRun::No);
        assert_eq!(dry.query, "dryRun=All");
        assert!(!dry.persists());
        assert!(live.persists());
        assert!(!PlannedRequest::read(deployment("web")).persists());
    }

    #[test]
    fn names_outside_rfc_1123_are_refused() {
        assert!(checked_name("pod", "web-7d9f-abc12").is_ok());
        for bad in ["", "Web", "a/b", "x?dryRun=All", "-a", "a-"] {
            assert!(checked_name("pod", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_selectors_are_percent_encoded() {
        assert_eq!(
            encode_query_value("app=web,tier!=db"),
            "app%3Dweb%2Ctier%21%3Ddb"
        );
    }
}
