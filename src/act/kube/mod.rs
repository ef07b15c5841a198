//! The Kubernetes side of remediation: connecting, finding the workload behind a pod, and the
//! steps runbooks take (rollout restart, rollback, delete a pod, scale, raise a memory limit),
//! each described as the exact request before it is sent, with or without server-side dry run.
//!
//! Everything is a plain async fn taking a [`KubeContext`] (the kube-rs shape), so the runbook
//! engine drives it and tests run it against a loopback API server with the real client. API
//! failures come back as one [`KubeActionError`]: 403 with the Role rule to add, 404 as
//! `TargetGone`, 409 retried once on a fresh read, every request bounded in time.
//! [`rbac_rules_for`] derives the Role the steps need from the steps themselves.

mod error;
mod memory;
/// A Kubernetes memory quantity (`512Mi`, `1.5Gi`, `2G`) in bytes.
pub use memory::parse_bytes as memory_quantity_bytes;
mod rbac;
mod request;
mod rollback;
mod steps;
mod target;

use std::time::Duration;

use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use time::OffsetDateTime;

pub use error::{KubeActionError, ObjectRef, RoleRule};
pub use rbac::{
    permissions_for, permissions_of, rbac_rules_for, rbac_rules_for_runbooks, step_kind_of,
    step_kinds_of_runbooks, Permission,
};
pub use request::{DryRun, PlannedRequest, Verb};
pub use steps::{
    apply, plan, run_step, Applied, MemoryRaise, Plan, Step, StepKind, RESTARTED_AT_ANNOTATION,
};
pub use target::{
    resolve_facts, resolve_owner, service_facts, workload_facts, Target, WorkloadFacts,
    WorkloadKind,
};

/// How long one request may take before it counts as failed.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How far past the request timeout the client's socket timeouts sit.
const SOCKET_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);
/// How long connecting to the API server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every call of this layer needs.
#[derive(Clone)]
pub struct KubeContext {
    pub client: Client,
    /// Bounds each request (a hung API server is an error, not a hung run).
    pub request_timeout: Duration,
    /// The time written into `restartedAt` (tests fix it).
    pub clock: fn() -> OffsetDateTime,
}

impl KubeContext {
    pub fn new(client: Client) -> KubeContext {
        KubeContext {
            client,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            clock: OffsetDateTime::now_utc,
        }
    }

    pub fn with_request_timeout(mut self, request_timeout: Duration) -> KubeContext {
        self.request_timeout = request_timeout;
        self
    }

    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> KubeContext {
        self.clock = clock;
        self
    }
}

/// A client for the cluster: the named kubeconfig `context` (`--kube-context`) if given; else
/// the in-cluster service account when running in a pod; else `KUBECONFIG` (or
/// `~/.kube/config`) and its current context.
pub async fn connect(context: Option<&str>) -> Result<Client, KubeActionError> {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if context.is_none() && in_cluster {
        let config = Config::incluster().map_err(|source| KubeActionError::InCluster { source })?;
        return client_from(config);
    }
    let kubeconfig = Kubeconfig::read().map_err(|source| KubeActionError::Kubeconfig {
        context: context.map(String::from),
        source,
    })?;
    connect_kubeconfig(kubeconfig, context).await
}

/// A client from a kubeconfig already read: the named `context`, else its current context.
pub async fn connect_kubeconfig(
    kubeconfig: Kubeconfig,
    context: Option<&str>,
) -> Result<Client, KubeActionError> {
    let options = KubeConfigOptions {
        context: context.map(String::from),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| KubeActionError::Kubeconfig {
            context: context.map(String::from),
            source,
        })?;
    client_from(config)
}

fn client_from(mut config: Config) -> Result<Client, KubeActionError> {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    // The request's own bound (`send`, the context's timeout) decides and names the wait; the
    // client's socket timeouts are a backstop a little past it. At the same value the two
    // raced, and a hung server was reported as a bare "connection error: timed out".
    config.read_timeout = Some(DEFAULT_REQUEST_TIMEOUT + SOCKET_TIMEOUT_MARGIN);
    config.write_timeout = Some(DEFAULT_REQUEST_TIMEOUT + SOCKET_TIMEOUT_MARGIN);
    let cluster_url = config.cluster_url.to_string();
    Client::try_from(config).map_err(|source| KubeActionError::Client {
        cluster_url,
        source,
    })
}
