//! The Kubernetes client layer of remediation (`forewarn::act::kube`) against the loopback API
//! server (tests/support/kubeapi.py), reached by the real `kube` client through a kubeconfig
//! file. Each test asserts the exact requests, in order: method, path, query, content type and
//! patch body — and that a dry run made no persisting request and left the stored object as it
//! was.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use forewarn::act::kube::{
    self as k, DryRun, KubeActionError, KubeContext, MemoryRaise, Step, StepKind, Target,
    WorkloadKind,
};
use serde_json::{json, Value};
use support::kubeapi::{KubeApi, Recorded};
use time::macros::datetime;
use time::OffsetDateTime;

const NS: &str = "shop";
const MI: u64 = 1 << 20;
const RESTARTED_AT: &str = "2026-03-04T05:06:07Z";

fn fixed_clock() -> OffsetDateTime {
    datetime!(2026-03-04 05:06:07.89 UTC)
}

fn owner(kind: &str, api_version: &str, name: &str) -> Value {
    json!([{"apiVersion": api_version, "kind": kind, "name": name, "uid": format!("uid-{name}"),
            "controller": true, "blockOwnerDeletion": true}])
}

fn template(image: &str, extra_labels: Value) -> Value {
    let mut labels = json!({"app": "web"});
    for (k, v) in extra_labels.as_object().unwrap() {
        labels[k] = v.clone();
    }
    json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [
            {"name": "app", "image": image,
             "resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi"}}},
            {"name": "proxy", "image": "proxy:1",
             "resources": {"limits": {"memory": "64Mi"}}}
        ]}
    })
}

fn workload(kind: &str, name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"),
                     "labels": {"app": "web"},
                     "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": template(image, json!({}))}
    })
}

fn pod(name: &str, owner_refs: Option<Value>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"),
                     "labels": {"app": "web"}},
        "spec": template("web:2", json!({}))["spec"].clone()
    });
    if let Some(refs) = owner_refs {
        pod["metadata"]["ownerReferences"] = refs;
    }
    pod
}

/// A Deployment `web` at revision 2 (image web:2) with the ReplicaSets of revisions 1 and 2, a
/// StatefulSet, a DaemonSet, a CronJob's Job, a bare Job, an orphan ReplicaSet and a bare pod,
/// each with a pod.
fn shop() -> Value {
    let replicaset = |name: &str, revision: &str, image: &str, owned: bool| {
        let mut rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"),
                         "labels": {"app": "web", "pod-template-hash": name},
                         "annotations": {"deployment.kubernetes.io/revision": revision}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": template(image, json!({"pod-template-hash": name}))}
        });
        if owned {
            rs["metadata"]["ownerReferences"] = owner("Deployment", "apps/v1", "web");
        }
        rs
    };
    let job = |name: &str, cron: Option<&str>| {
        let mut job = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}")},
            "spec": {"template": template("report:1", json!({}))}
        });
        if let Some(cron) = cron {
            job["metadata"]["ownerReferences"] = owner("CronJob", "batch/v1", cron);
        }
        job
    };
    json!([
        workload("Deployment", "web", "web:2"),
        replicaset("web-1111", "1", "web:1", true),
        replicaset("web-2222", "2", "web:2", true),
        pod("web-2222-abcde", Some(owner("ReplicaSet", "apps/v1", "web-2222"))),
        workload("StatefulSet", "db", "db:1"),
        pod("db-0", Some(owner("StatefulSet", "apps/v1", "db"))),
        workload("DaemonSet", "agent", "agent:1"),
        pod("agent-x1", Some(owner("DaemonSet", "apps/v1", "agent"))),
        {"apiVersion": "batch/v1", "kind": "CronJob",
         "metadata": {"name": "report", "namespace": NS, "uid": "uid-report"},
         "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template("report:1", json!({}))}}}},
        job("report-29000", Some("report")),
        pod("report-29000-q", Some(owner("Job", "batch/v1", "report-29000"))),
        job("oneoff", None),
        pod("oneoff-z", Some(owner("Job", "batch/v1", "oneoff"))),
        replicaset("orphan", "1", "web:1", false),
        pod("orphan-p", Some(owner("ReplicaSet", "apps/v1", "orphan"))),
        pod("bare", None),
    ])
}

async fn setup() -> (KubeApi, KubeContext) {
    let api = KubeApi::start();
    api.seed(shop());
    let ctx = KubeContext::new(api.client().await).with_clock(fixed_clock);
    (api, ctx)
}

fn target(kind: WorkloadKind, name: &str) -> Target {
    Target {
        kind,
        namespace: NS.into(),
        name: name.into(),
    }
}

fn req(
    method: &str,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    body: Option<Value>,
) -> Recorded {
    Recorded {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        content_type: content_type.map(String::from),
        body,
        authorized: true,
    }
}

fn get(path: &str) -> Recorded {
    req("GET", path, "", None, None)
}

const DEPLOY_WEB: &str = "/apis/apps/v1/namespaces/shop/deployments/web";
const SMP: &str = "application/strategic-merge-patch+json";
const MP: &str = "application/merge-patch+json";

fn restart_body() -> Value {
    json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": RESTARTED_AT}}}}})
}

/// Dry run: every write carried dryRun=All and nothing persisted.
fn assert_nothing_persisted(requests: &[Recorded]) {
    let persisting: Vec<String> = requests
        .iter()
        .filter(|r| r.persists())
        .map(|r| r.line())
        .collect();
    assert!(persisting.is_empty(), "dry run persisted: {persisting:?}");
    assert!(
        requests.iter().any(|r| r.method != "GET"),
        "positive control: the dry run sent its write with dryRun=All: {requests:?}"
    );
}

fn stored_sorted(mut objects: Vec<Value>) -> Vec<Value> {
    objects.sort_by_key(|o| {
        o["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    objects
}

// ---------------------------------------------------------------------------
// Owner chain
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_owner_chain_resolves_each_kind() {
    let (api, ctx) = setup().await;
    let cases = [
        ("web-2222-abcde", WorkloadKind::Deployment, "web"),
        ("db-0", WorkloadKind::StatefulSet, "db"),
        ("agent-x1", WorkloadKind::DaemonSet, "agent"),
        ("report-29000-q", WorkloadKind::CronJob, "report"),
        ("oneoff-z", WorkloadKind::Job, "oneoff"),
        ("orphan-p", WorkloadKind::ReplicaSet, "orphan"),
        ("bare", WorkloadKind::Pod, "bare"),
    ];
    for (pod, kind, name) in cases {
        api.clear_requests();
        let resolved = k::resolve_owner(&ctx, NS, pod).await.unwrap();
        assert_eq!(resolved, target(kind, name), "pod {pod}");
        let expected: Vec<Recorded> = match kind {
            WorkloadKind::Deployment | WorkloadKind::ReplicaSet => vec![
                get(&format!("/api/v1/namespaces/shop/pods/{pod}")),
                get(&format!(
                    "/apis/apps/v1/namespaces/shop/replicasets/{}",
                    if kind == WorkloadKind::Deployment {
                        "web-2222"
                    } else {
                        "orphan"
                    }
                )),
            ],
            WorkloadKind::CronJob => vec![
                get(&format!("/api/v1/namespaces/shop/pods/{pod}")),
                get("/apis/batch/v1/namespaces/shop/jobs/report-29000"),
            ],
            WorkloadKind::Job => vec![
                get(&format!("/api/v1/namespaces/shop/pods/{pod}")),
                get("/apis/batch/v1/namespaces/shop/jobs/oneoff"),
            ],
            _ => vec![get(&format!("/api/v1/namespaces/shop/pods/{pod}"))],
        };
        assert_eq!(api.requests(), expected, "requests resolving {pod}");
    }
}

#[tokio::test]
async fn a_missing_pod_is_target_gone() {
    let (api, ctx) = setup().await;
    let err = k::resolve_owner(&ctx, NS, "web-gone").await.unwrap_err();
    assert!(err.is_target_gone(), "{err}");
    assert_eq!(
        err.to_string(),
        "get pods shop/web-gone: target gone (404 Not Found)"
    );
    assert_eq!(
        api.requests(),
        vec![get("/api/v1/namespaces/shop/pods/web-gone")]
    );
    // positive control: the same call finds an existing pod
    assert!(k::resolve_owner(&ctx, NS, "bare").await.is_ok());
}

#[tokio::test]
async fn names_that_are_not_object_names_send_nothing() {
    let (api, ctx) = setup().await;
    let err = k::resolve_owner(&ctx, NS, "web?dryRun=All")
        .await
        .unwrap_err();
    assert!(matches!(err, KubeActionError::InvalidName { .. }), "{err}");
    assert!(api.requests().is_empty());
}

// ---------------------------------------------------------------------------
// Rollout restart
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rollout_restart_sends_the_kubectl_patch() {
    let (api, ctx) = setup().await;
    let web = target(WorkloadKind::Deployment, "web");
    let plan = k::plan(&ctx, &Step::RolloutRestart, &web, DryRun::No)
        .await
        .unwrap();
    assert_eq!(
        plan.summary,
        format!("rollout restart Deployment shop/web (restartedAt {RESTARTED_AT})")
    );
    assert_eq!(
        plan.request.to_string(),
        format!("PATCH {DEPLOY_WEB} ({SMP}) {}", restart_body())
    );
    let applied = k::apply(&ctx, plan).await.unwrap();
    assert_eq!(applied.attempts, 1);
    assert_eq!(
        api.requests(),
        vec![
            get(DEPLOY_WEB),
            req("PATCH", DEPLOY_WEB, "", Some(SMP), Some(restart_body()))
        ]
    );
    let stored = api.object("Deployment", NS, "web").unwrap();
    assert_eq!(
        stored["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        RESTARTED_AT
    );
    assert_eq!(stored["metadata"]["generation"], 2);
    assert_eq!(
        stored["spec"]["template"]["metadata"]["labels"]["app"],
        "web"
    );
}

#[tokio::test]
async fn rollout_restart_in_dry_run_changes_nothing() {
    let (api, ctx) = setup().await;
    let before = stored_sorted(api.objects());
    let applied = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::Server,
    )
    .await
    .unwrap();
    assert_eq!(
        api.requests(),
        vec![
            get(DEPLOY_WEB),
            req(
                "PATCH",
                DEPLOY_WEB,
                "dryRun=All",
                Some(SMP),
                Some(restart_body())
            )
        ]
    );
    assert_nothing_persisted(&api.requests());
    assert_eq!(
        stored_sorted(api.objects()),
        before,
        "the store is unchanged"
    );
    // the answer is the object as it would be stored
    assert_eq!(
        applied.response["spec"]["template"]["metadata"]["annotations"]
            ["kubectl.kubernetes.io/restartedAt"],
        RESTARTED_AT
    );
}

#[tokio::test]
async fn rollout_restart_reaches_statefulsets_and_daemonsets_and_refuses_jobs() {
    let (api, ctx) = setup().await;
    for (kind, path) in [
        (
            WorkloadKind::StatefulSet,
            "/apis/apps/v1/namespaces/shop/statefulsets/db",
        ),
        (
            WorkloadKind::DaemonSet,
            "/apis/apps/v1/namespaces/shop/daemonsets/agent",
        ),
    ] {
        api.clear_requests();
        let name = path.rsplit('/').next().unwrap();
        k::run_step(&ctx, &Step::RolloutRestart, &target(kind, name), DryRun::No)
            .await
            .unwrap();
        assert_eq!(
            api.requests(),
            vec![
                get(path),
                req("PATCH", path, "", Some(SMP), Some(restart_body()))
            ]
        );
    }
    api.clear_requests();
    let err = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Job, "oneoff"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            KubeActionError::NotApplicable {
                step: StepKind::RolloutRestart,
                ..
            }
        ),
        "{err}"
    );
    assert!(api.requests().is_empty());
}

// ---------------------------------------------------------------------------
// Rollback
// ---------------------------------------------------------------------------

fn rollback_body(resource_version: &Value) -> Value {
    json!({"metadata": {"resourceVersion": resource_version},
    "spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "web:1",
         "resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi"}}},
        {"name": "proxy", "image": "proxy:1", "resources": {"limits": {"memory": "64Mi"}}}
    ]}}}})
}

#[tokio::test]
async fn rollback_puts_back_the_previous_replicaset_template() {
    let (api, ctx) = setup().await;
    let before = api.object("Deployment", NS, "web").unwrap();
    let rv = before["metadata"]["resourceVersion"].clone();
    let web = target(WorkloadKind::Deployment, "web");
    let applied = k::run_step(&ctx, &Step::Rollback, &web, DryRun::No)
        .await
        .unwrap();
    assert_eq!(
        applied.summary,
        "roll back Deployment shop/web from revision 2 to revision 1 (ReplicaSet web-1111)"
    );
    assert_eq!(
        api.requests(),
        vec![
            get(DEPLOY_WEB),
            req(
                "GET",
                "/apis/apps/v1/namespaces/shop/replicasets",
                "labelSelector=app%3Dweb",
                None,
                None
            ),
            req("PATCH", DEPLOY_WEB, "", Some(MP), Some(rollback_body(&rv))),
        ]
    );
    let stored = api.object("Deployment", NS, "web").unwrap();
    let previous = api.object("ReplicaSet", NS, "web-1111").unwrap();
    let mut expected_template = previous["spec"]["template"].clone();
    expected_template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    assert_eq!(stored["spec"]["template"], expected_template);
    assert_ne!(stored["metadata"]["resourceVersion"], rv);
}

#[tokio::test]
async fn rollback_in_dry_run_changes_nothing() {
    let (api, ctx) = setup().await;
    let before = stored_sorted(api.objects());
    let rv = api.object("Deployment", NS, "web").unwrap()["metadata"]["resourceVersion"].clone();
    let applied = k::run_step(
        &ctx,
        &Step::Rollback,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::Server,
    )
    .await
    .unwrap();
    assert_eq!(
        api.requests().last().unwrap(),
        &req(
            "PATCH",
            DEPLOY_WEB,
            "dryRun=All",
            Some(MP),
            Some(rollback_body(&rv))
        )
    );
    assert_nothing_persisted(&api.requests());
    assert_eq!(stored_sorted(api.objects()), before);
    assert_eq!(
        applied.response["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:1"
    );
}

#[tokio::test]
async fn rollback_without_a_previous_revision_sends_no_write() {
    let api = KubeApi::start();
    let objects = shop();
    // only the current ReplicaSet
    let objects: Vec<Value> = objects
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["metadata"]["name"] != "web-1111")
        .cloned()
        .collect();
    api.seed(Value::Array(objects));
    let ctx = KubeContext::new(api.client().await);
    let err = k::run_step(
        &ctx,
        &Step::Rollback,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no previous revision"), "{err}");
    assert!(api.requests().iter().all(|r| r.method == "GET"));
}

// ---------------------------------------------------------------------------
// Delete a pod
// ---------------------------------------------------------------------------

#[tokio::test]
async fn delete_pod_live_and_in_dry_run() {
    let (api, ctx) = setup().await;
    let web = target(WorkloadKind::Deployment, "web");
    let step = Step::DeletePod {
        pod: "web-2222-abcde".into(),
    };
    let path = "/api/v1/namespaces/shop/pods/web-2222-abcde";

    k::run_step(&ctx, &step, &web, DryRun::Server)
        .await
        .unwrap();
    assert_eq!(
        api.requests(),
        vec![req("DELETE", path, "dryRun=All", None, None)]
    );
    assert_nothing_persisted(&api.requests());
    assert!(
        api.object("Pod", NS, "web-2222-abcde").is_some(),
        "dry run kept the pod"
    );

    api.clear_requests();
    let applied = k::run_step(&ctx, &step, &web, DryRun::No).await.unwrap();
    assert_eq!(
        applied.summary,
        "delete Pod shop/web-2222-abcde (its controller Deployment shop/web replaces it)"
    );
    assert_eq!(api.requests(), vec![req("DELETE", path, "", None, None)]);
    assert!(
        api.object("Pod", NS, "web-2222-abcde").is_none(),
        "the pod is gone"
    );

    // deleting it again: target gone, recorded by the caller and skipped
    let err = k::run_step(&ctx, &step, &web, DryRun::No)
        .await
        .unwrap_err();
    assert!(err.is_target_gone(), "{err}");
}

// ---------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------

fn scale(by: i32, min_replicas: i32, max_replicas: i32) -> Step {
    Step::Scale {
        by,
        min_replicas,
        max_replicas,
    }
}

#[tokio::test]
async fn scale_is_clamped_to_its_bounds() {
    let (api, ctx) = setup().await;
    let web = target(WorkloadKind::Deployment, "web");
    let path = "/apis/apps/v1/namespaces/shop/deployments/web/scale";

    let rv = api.object("Deployment", NS, "web").unwrap()["metadata"]["resourceVersion"].clone();
    let applied = k::run_step(&ctx, &scale(5, 1, 4), &web, DryRun::No)
        .await
        .unwrap();
    assert_eq!(
        applied.summary,
        "scale Deployment shop/web from 2 to 4 replicas (asked +5, bounds 1..=4)"
    );
    assert_eq!(
        api.requests(),
        vec![
            get(path),
            req(
                "PATCH",
                path,
                "",
                Some(MP),
                Some(json!({"metadata": {"resourceVersion": rv}, "spec": {"replicas": 4}}))
            )
        ]
    );
    assert_eq!(
        api.object("Deployment", NS, "web").unwrap()["spec"]["replicas"],
        4
    );
    assert_eq!(applied.response["kind"], "Scale");

    api.clear_requests();
    k::run_step(&ctx, &scale(-9, 1, 4), &web, DryRun::No)
        .await
        .unwrap();
    assert_eq!(
        api.requests()[1].body.as_ref().unwrap()["spec"]["replicas"],
        1
    );
    assert_eq!(
        api.object("Deployment", NS, "web").unwrap()["spec"]["replicas"],
        1
    );

    // at the bound already: refused, no write
    api.clear_requests();
    let err = k::run_step(&ctx, &scale(-1, 1, 4), &web, DryRun::No)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already at 1 replicas"), "{err}");
    assert_eq!(api.requests(), vec![get(path)]);
}

#[tokio::test]
async fn scale_in_dry_run_changes_nothing() {
    let (api, ctx) = setup().await;
    let before = stored_sorted(api.objects());
    let db = target(WorkloadKind::StatefulSet, "db");
    let applied = k::run_step(&ctx, &scale(1, 1, 3), &db, DryRun::Server)
        .await
        .unwrap();
    let path = "/apis/apps/v1/namespaces/shop/statefulsets/db/scale";
    assert_eq!(api.requests()[0], get(path));
    assert_eq!(api.requests()[1].line(), format!("PATCH {path}?dryRun=All"));
    assert_nothing_persisted(&api.requests());
    assert_eq!(stored_sorted(api.objects()), before);
    assert_eq!(applied.response["spec"]["replicas"], 3);
}

// ---------------------------------------------------------------------------
// Raise a memory limit
// ---------------------------------------------------------------------------

fn raise(factor: f64, cap_bytes: u64, raise_request: bool) -> Step {
    Step::RaiseMemory(MemoryRaise {
        container: "app".into(),
        factor,
        cap_bytes,
        raise_request,
    })
}

fn containers_of(object: &Value) -> Value {
    object["spec"]["template"]["spec"]["containers"].clone()
}

#[tokio::test]
async fn memory_raise_patches_the_container_by_name() {
    let (api, ctx) = setup().await;
    let rv = api.object("Deployment", NS, "web").unwrap()["metadata"]["resourceVersion"].clone();
    let web = target(WorkloadKind::Deployment, "web");
    let applied = k::run_step(&ctx, &raise(1.5, 4096 * MI, true), &web, DryRun::No)
        .await
        .unwrap();
    assert_eq!(
        applied.summary,
        "raise Deployment shop/web container \"app\" memory limit 512Mi → 768Mi, request 256Mi → 384Mi"
    );
    let body = json!({"metadata": {"resourceVersion": rv},
                      "spec": {"template": {"spec": {"containers": [
                          {"name": "app", "resources": {"limits": {"memory": "768Mi"},
                                                        "requests": {"memory": "384Mi"}}}]}}}});
    assert_eq!(
        api.requests(),
        vec![
            get(DEPLOY_WEB),
            req("PATCH", DEPLOY_WEB, "", Some(SMP), Some(body))
        ]
    );
    let stored = api.object("Deployment", NS, "web").unwrap();
    assert_eq!(
        containers_of(&stored),
        json!([
            {"name": "app", "image": "web:2",
             "resources": {"limits": {"memory": "768Mi"}, "requests": {"memory": "384Mi"}}},
            {"name": "proxy", "image": "proxy:1", "resources": {"limits": {"memory": "64Mi"}}}
        ]),
        "merged by name: the other container and the image are untouched"
    );
}

#[tokio::test]
async fn memory_raise_is_capped() {
    let (api, ctx) = setup().await;
    let db = target(WorkloadKind::StatefulSet, "db");
    let applied = k::run_step(&ctx, &raise(3.0, 600 * MI, false), &db, DryRun::No)
        .await
        .unwrap();
    assert_eq!(
        applied.summary,
        "raise StatefulSet shop/db container \"app\" memory limit 512Mi → 600Mi"
    );
    let patch = api.requests()[1].body.clone().unwrap();
    assert_eq!(
        patch["spec"]["template"]["spec"]["containers"],
        json!([{"name": "app", "resources": {"limits": {"memory": "600Mi"}}}]),
        "capped, and the request left alone when not asked"
    );
    // at the cap now: refused, no write
    api.clear_requests();
    let err = k::run_step(&ctx, &raise(3.0, 600 * MI, false), &db, DryRun::No)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("already at or above the cap 600Mi"),
        "{err}"
    );
    assert!(api.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn memory_raise_in_dry_run_changes_nothing() {
    let (api, ctx) = setup().await;
    let before = stored_sorted(api.objects());
    let agent = target(WorkloadKind::DaemonSet, "agent");
    let applied = k::run_step(&ctx, &raise(2.0, 4096 * MI, true), &agent, DryRun::Server)
        .await
        .unwrap();
    assert_eq!(
        api.requests()[1].line(),
        "PATCH /apis/apps/v1/namespaces/shop/daemonsets/agent?dryRun=All"
    );
    assert_nothing_persisted(&api.requests());
    assert_eq!(stored_sorted(api.objects()), before);
    assert_eq!(
        containers_of(&applied.response)[0]["resources"]["limits"]["memory"],
        "1Gi"
    );
}

#[tokio::test]
async fn memory_raise_on_a_bare_pod_is_refused_before_any_request() {
    let (api, ctx) = setup().await;
    let err = k::run_step(
        &ctx,
        &raise(1.5, 4096 * MI, false),
        &target(WorkloadKind::Pod, "bare"),
        DryRun::Server,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("a bare pod's resources cannot be changed"),
        "{err}"
    );
    assert!(api.requests().is_empty());
}

// ---------------------------------------------------------------------------
// API errors
// ---------------------------------------------------------------------------

#[tokio::test]
async fn forbidden_names_the_verb_resource_and_the_role_rule() {
    let (api, ctx) = setup().await;
    api.fail(json!({"method": "PATCH", "path_regex": "/deployments/web$", "status": 403}));
    let err = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "patch deployments.apps shop/web: forbidden: deployments.apps \"web\" is forbidden: User \
         \"system:serviceaccount:forewarn:forewarn\" cannot patch resource \"deployments\" in API \
         group \"apps\" in the namespace \"shop\"; add to the Role: apiGroups: [\"apps\"], \
         resources: [\"deployments\"], verbs: [\"patch\"]"
    );

    api.fail(json!({"method": "GET", "path_regex": "/scale$", "status": 403}));
    let err = k::run_step(
        &ctx,
        &scale(1, 1, 5),
        &target(WorkloadKind::Deployment, "web"),
        DryRun::Server,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().ends_with("add to the Role: apiGroups: [\"apps\"], resources: [\"deployments/scale\"], verbs: [\"get\"]"),
        "{err}"
    );
    api.fail(json!({"method": "DELETE", "status": 403}));
    let err = k::run_step(
        &ctx,
        &Step::DeletePod { pod: "bare".into() },
        &target(WorkloadKind::Pod, "bare"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "add to the Role: apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"delete\"]"
        ),
        "{err}"
    );
    // positive control: without an injected refusal the same restart goes through
    assert!(k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::No
    )
    .await
    .is_ok());
}

#[tokio::test]
async fn a_target_gone_between_plan_and_apply_is_target_gone() {
    let (api, ctx) = setup().await;
    api.fail(json!({"method": "PATCH", "path_regex": "/statefulsets/db$", "status": 404}));
    let err = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::StatefulSet, "db"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert!(err.is_target_gone(), "{err}");
    assert_eq!(
        err.to_string(),
        "patch statefulsets.apps shop/db: target gone (404 Not Found)"
    );
    let err = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Deployment, "nope"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert!(err.is_target_gone(), "{err}");
}

#[tokio::test]
async fn a_conflict_is_retried_once_on_a_fresh_read() {
    let (api, ctx) = setup().await;
    api.fail(
        json!({"method": "PATCH", "path_regex": "/deployments/web$", "status": 409, "times": 1}),
    );
    let applied = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::No,
    )
    .await
    .unwrap();
    assert_eq!(applied.attempts, 2);
    let patch = req("PATCH", DEPLOY_WEB, "", Some(SMP), Some(restart_body()));
    assert_eq!(
        api.requests(),
        vec![get(DEPLOY_WEB), patch.clone(), get(DEPLOY_WEB), patch]
    );

    // two conflicts: given up after exactly two PATCHes
    api.clear_requests();
    api.fail(
        json!({"method": "PATCH", "path_regex": "/deployments/web$", "status": 409, "times": 2}),
    );
    let err = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, KubeActionError::Conflict { attempts: 2, .. }),
        "{err}"
    );
    assert_eq!(
        api.requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_stale_resource_version_conflicts_and_the_retry_uses_the_fresh_one() {
    let (api, ctx) = setup().await;
    let web = target(WorkloadKind::Deployment, "web");
    let plan = k::plan(&ctx, &raise(1.5, 4096 * MI, false), &web, DryRun::No)
        .await
        .unwrap();
    let stale = plan.request.body.as_ref().unwrap()["metadata"]["resourceVersion"].clone();
    // someone else writes the Deployment between plan and apply
    api.seed(json!([workload("Deployment", "web", "web:2")]));
    let fresh = api.object("Deployment", NS, "web").unwrap()["metadata"]["resourceVersion"].clone();
    assert_ne!(stale, fresh);
    let applied = k::apply(&ctx, plan).await.unwrap();
    assert_eq!(applied.attempts, 2);
    let patches: Vec<Value> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.body.unwrap()["metadata"]["resourceVersion"].clone())
        .collect();
    assert_eq!(patches, vec![stale, fresh]);
}

#[tokio::test]
async fn a_hung_api_server_is_a_bounded_timeout() {
    let (api, ctx) = setup().await;
    let ctx = ctx.with_request_timeout(Duration::from_millis(300));
    api.fail(json!({"method": "GET", "path_regex": "/deployments/web$", "delay_s": 3}));
    let started = Instant::now();
    let err = k::run_step(
        &ctx,
        &Step::RolloutRestart,
        &target(WorkloadKind::Deployment, "web"),
        DryRun::No,
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        err.to_string(),
        "get deployments.apps shop/web: no answer from the API server within 0.3 s"
    );
}

// ---------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------

#[tokio::test]
async fn connect_uses_the_current_or_the_named_kubeconfig_context() {
    let api = KubeApi::start();
    api.seed(shop());
    let read = || kube::config::Kubeconfig::read_from(api.kubeconfig_path()).unwrap();

    let ctx = KubeContext::new(k::connect_kubeconfig(read(), None).await.unwrap());
    assert!(k::resolve_owner(&ctx, NS, "bare").await.is_ok());

    let ctx = KubeContext::new(
        k::connect_kubeconfig(read(), Some("stranger"))
            .await
            .unwrap(),
    );
    let err = k::resolve_owner(&ctx, NS, "bare").await.unwrap_err();
    assert!(
        matches!(err, KubeActionError::Refused { code: 401, .. }),
        "{err}"
    );
    let authorized: Vec<bool> = api.requests().iter().map(|r| r.authorized).collect();
    assert_eq!(authorized, vec![true, false]);

    let Err(err) = k::connect_kubeconfig(read(), Some("missing")).await else {
        panic!("an unknown context connects")
    };
    assert!(
        err.to_string()
            .starts_with("loading the kubeconfig (context \"missing\")"),
        "{err}"
    );
    assert!(
        !err.to_string().contains(support::kubeapi::TOKEN),
        "no secret in errors"
    );

    // an HTTPS cluster: the client builds its TLS configuration (rustls with ring) and a
    // refused connection is a transport error, not a panic
    let ctx = KubeContext::new(k::connect_kubeconfig(read(), Some("tls")).await.unwrap());
    let err = k::resolve_owner(&ctx, NS, "bare").await.unwrap_err();
    assert!(matches!(err, KubeActionError::Transport { .. }), "{err}");

    // through KUBECONFIG, as a user runs it (no other test reads the variable)
    std::env::set_var("KUBECONFIG", api.kubeconfig_path());
    std::env::remove_var("KUBERNETES_SERVICE_HOST");
    let ctx = KubeContext::new(k::connect(None).await.unwrap());
    assert!(k::resolve_owner(&ctx, NS, "bare").await.is_ok());
    let ctx = KubeContext::new(k::connect(Some("stranger")).await.unwrap());
    assert!(k::resolve_owner(&ctx, NS, "bare").await.is_err());
}

// ---------------------------------------------------------------------------
// RBAC = what the steps use
// ---------------------------------------------------------------------------

/// `(group, resource, verb)` of a recorded request.
fn permission_of(r: &Recorded) -> (String, String, String) {
    let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts[0] {
        "api" => ("", &parts[2..]),
        _ => (parts[1], &parts[3..]),
    };
    // rest: namespaces NS PLURAL [NAME [SUB]]
    let resource = match rest.get(4) {
        Some(sub) => format!("{}/{sub}", rest[2]),
        None => rest[2].to_string(),
    };
    let verb = match (r.method.as_str(), rest.len()) {
        ("GET", 3) => "list",
        ("GET", _) => "get",
        (m, _) => return (group.into(), resource, m.to_lowercase()),
    };
    (group.into(), resource, verb.into())
}

/// A pod, the step to take on its owner, and the owner it must resolve to.
type StepRun = (&'static str, Step, Target);

#[tokio::test]
async fn the_rbac_rules_are_exactly_what_the_steps_use() {
    let (api, ctx) = setup().await;
    let deployment = target(WorkloadKind::Deployment, "web");
    let statefulset = target(WorkloadKind::StatefulSet, "db");
    let daemonset = target(WorkloadKind::DaemonSet, "agent");
    let runs: Vec<(StepKind, Vec<StepRun>)> = vec![
        (
            StepKind::RolloutRestart,
            vec![
                ("web-2222-abcde", Step::RolloutRestart, deployment.clone()),
                ("db-0", Step::RolloutRestart, statefulset.clone()),
                ("agent-x1", Step::RolloutRestart, daemonset.clone()),
            ],
        ),
        (
            StepKind::Rollback,
            vec![("web-2222-abcde", Step::Rollback, deployment.clone())],
        ),
        (
            StepKind::DeletePod,
            vec![(
                "report-29000-q",
                Step::DeletePod {
                    pod: "report-29000-q".into(),
                },
                target(WorkloadKind::CronJob, "report"),
            )],
        ),
        (
            StepKind::Scale,
            vec![
                ("web-2222-abcde", scale(1, 1, 5), deployment.clone()),
                ("db-0", scale(1, 1, 5), statefulset.clone()),
            ],
        ),
        (
            StepKind::RaiseMemory,
            vec![
                (
                    "web-2222-abcde",
                    raise(1.5, 4096 * MI, true),
                    deployment.clone(),
                ),
                ("db-0", raise(1.5, 4096 * MI, true), statefulset.clone()),
                ("agent-x1", raise(1.5, 4096 * MI, true), daemonset.clone()),
            ],
        ),
    ];
    let mut used_by_all = BTreeSet::new();
    for (kind, cases) in runs {
        let mut used = BTreeSet::new();
        for (pod, step, expected) in cases {
            api.clear_requests();
            let resolved = k::resolve_owner(&ctx, NS, pod).await.unwrap();
            assert_eq!(resolved, expected);
            k::run_step(&ctx, &step, &resolved, DryRun::Server)
                .await
                .unwrap();
            used.extend(api.requests().iter().map(permission_of));
        }
        let granted: BTreeSet<(String, String, String)> = k::permissions_for(&[kind])
            .into_iter()
            .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
            .collect();
        let missing: Vec<_> = used.difference(&granted).collect();
        assert!(
            missing.is_empty(),
            "{kind}: used but not granted: {missing:?}"
        );
        used_by_all.extend(used);
    }
    // a bare Job's pod: the owner chain reads the Job
    k::resolve_owner(&ctx, NS, "oneoff-z").await.unwrap();
    used_by_all.extend(api.requests().iter().map(permission_of));
    let granted_all: BTreeSet<(String, String, String)> = k::permissions_for(&StepKind::ALL)
        .into_iter()
        .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
        .collect();
    assert_eq!(used_by_all, granted_all, "granted = used, nothing more");

    let rules = k::rbac_rules_for(&StepKind::ALL);
    let rendered: Vec<String> = rules
        .iter()
        .map(|r| {
            format!(
                "{:?} {:?} {:?}",
                r.api_groups.as_ref().unwrap(),
                r.resources.as_ref().unwrap(),
                r.verbs
            )
        })
        .collect();
    assert_eq!(
        rendered,
        vec![
            r#"[""] ["pods"] ["delete", "get"]"#,
            r#"["apps"] ["replicasets"] ["get", "list"]"#,
            r#"["apps"] ["daemonsets", "deployments", "deployments/scale", "statefulsets", "statefulsets/scale"] ["get", "patch"]"#,
            r#"["batch"] ["jobs"] ["get"]"#,
        ]
    );
}

// ---------------------------------------------------------------------------
// The loopback server under kube's typed API (what other parts of forewarn use)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn leases_are_created_and_updated_with_resource_version_checks() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Api, PostParams};

    let api = KubeApi::start();
    let leases: Api<Lease> = Api::namespaced(api.client().await, "forewarn");
    let pp = PostParams::default();
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "forewarn-run"},
        "spec": {"holderIdentity": "runner-a", "leaseDurationSeconds": 30}
    }))
    .unwrap();
    let created = leases.create(&pp, &lease).await.unwrap();
    let read = leases.get("forewarn-run").await.unwrap();
    assert_eq!(
        read.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(
        read.spec.as_ref().unwrap().holder_identity.as_deref(),
        Some("runner-a")
    );

    // two contenders read the same version; the first update wins, the second is 409
    let mut a = read.clone();
    let mut b = read;
    a.spec.as_mut().unwrap().lease_transitions = Some(1);
    b.spec.as_mut().unwrap().holder_identity = Some("runner-b".into());
    let renewed = leases.replace("forewarn-run", &pp, &a).await.unwrap();
    assert_ne!(
        renewed.metadata.resource_version,
        created.metadata.resource_version
    );
    let err = leases.replace("forewarn-run", &pp, &b).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"),
        "{err}"
    );
    let err = leases.create(&pp, &lease).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err}"
    );
    let stored = api.object("Lease", "forewarn", "forewarn-run").unwrap();
    assert_eq!(stored["spec"]["holderIdentity"], "runner-a");
    assert_eq!(stored["spec"]["leaseTransitions"], 1);

    let path = "/apis/coordination.k8s.io/v1/namespaces/forewarn/leases";
    let lines: Vec<String> = api.requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        vec![
            format!("POST {path}"),
            format!("GET {path}/forewarn-run"),
            format!("PUT {path}/forewarn-run"),
            format!("PUT {path}/forewarn-run"),
            format!("POST {path}"),
        ]
    );
}

#[tokio::test]
async fn the_typed_api_lists_by_label_patches_and_scales() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams, Patch, PatchParams};

    let (api, ctx) = setup().await;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), NS);
    assert_eq!(
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .len(),
        7
    );
    assert!(pods
        .list(&ListParams::default().labels("app=web,tier"))
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        pods.list(&ListParams::default().labels("app!=db"))
            .await
            .unwrap()
            .items
            .len(),
        7
    );

    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), NS);
    let patch = Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "proxy", "$patch": "delete"}]}}}}));
    let dry = deployments
        .patch("web", &PatchParams::default().dry_run(), &patch)
        .await
        .unwrap();
    let containers = dry.spec.template.spec.unwrap().containers;
    assert_eq!(
        containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["app"]
    );
    assert_eq!(
        containers_of(&api.object("Deployment", NS, "web").unwrap())
            .as_array()
            .unwrap()
            .len(),
        2,
        "dry run stored nothing"
    );
    assert_eq!(
        deployments
            .get_scale("web")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(2)
    );

    // a bare pod's resources cannot be patched: 422 like the real API server
    let err = pods
        .patch(
            "bare",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"containers": [
            {"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 422),
        "{err}"
    );
    // an image change is allowed on a pod
    pods.patch(
        "bare",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"containers": [
        {"name": "app", "image": "web:3"}]}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn discovery_finds_the_served_resources() {
    use kube::core::GroupVersionKind;

    let api = KubeApi::start();
    let client = api.client().await;
    assert_eq!(
        client.apiserver_version().await.unwrap().git_version,
        "v1.33.0"
    );
    let discovery = kube::Discovery::new(client).run().await.unwrap();
    for (group, kind, plural) in [
        ("", "Pod", "pods"),
        ("apps", "Deployment", "deployments"),
        ("apps", "ReplicaSet", "replicasets"),
        ("apps", "StatefulSet", "statefulsets"),
        ("apps", "DaemonSet", "daemonsets"),
        ("batch", "Job", "jobs"),
        ("batch", "CronJob", "cronjobs"),
        ("coordination.k8s.io", "Lease", "leases"),
    ] {
        let (resource, _) = discovery
            .resolve_gvk(&GroupVersionKind::gvk(group, "v1", kind))
            .unwrap_or_else(|| panic!("{group}/v1 {kind} not discovered"));
        assert_eq!(resource.plural, plural);
    }
    assert!(discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Nonexistent"))
        .is_none());
}

#[tokio::test]
async fn a_plan_records_as_json_what_it_will_send() {
    let (api, ctx) = setup().await;
    let plan = k::plan(
        &ctx,
        &raise(1.5, 4096 * MI, false),
        &target(WorkloadKind::Deployment, "web"),
        DryRun::Server,
    )
    .await
    .unwrap();
    let rv = api.object("Deployment", NS, "web").unwrap()["metadata"]["resourceVersion"].clone();
    assert_eq!(
        serde_json::to_value(&plan).unwrap(),
        json!({
            "step": {"raise_memory": {"container": "app", "factor": 1.5,
                                      "cap_bytes": 4096 * MI, "raise_request": false}},
            "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
            "dry_run": "server",
            "request": {
                "verb": "patch", "path": DEPLOY_WEB, "query": "dryRun=All", "content_type": SMP,
                "body": {"metadata": {"resourceVersion": rv},
                         "spec": {"template": {"spec": {"containers": [
                             {"name": "app", "resources": {"limits": {"memory": "768Mi"}}}]}}}}
            },
            "summary": "raise Deployment shop/web container \"app\" memory limit 512Mi → 768Mi"
        })
    );
    // planning only reads
    assert_eq!(api.requests(), vec![get(DEPLOY_WEB)]);
}
