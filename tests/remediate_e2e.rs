//! Remediation end to end, as a CronJob runs it: demo telemetry in the ClickHouse test server,
//! the loopback Kubernetes API server (tests/support/kubeapi.py) holding the Deployments,
//! ReplicaSets and Pods behind the demo's findings, reached by the real `kube` client through a
//! kubeconfig file, and a loopback Slack receiver. Each test drives the real binary
//! (`forewarn run`, `approve`, `reject`, `actions`) and asserts the exact writes the API server
//! received, what the history and the receivers say.

mod support;

use serde_json::{json, Value};
use support::kubeapi::Recorded;
use support::remediate::*;

/// How the test's runbooks are set.
struct Setup {
    /// The mode of the memory runbook.
    mode: &'static str,
    limits: &'static str,
}

fn harness(setup: Setup) -> Harness {
    Harness::new(&memory_runbooks(setup.mode, setup.limits))
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_raises_the_leaking_deployment_once_then_verifies_it_effective() {
    let (during, after) = leak_times();
    let (ns, pod, container, deployment) = leak_finding(during);
    let h = harness(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);

    let first = h.run_job(during);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}\n{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    let lines = action_lines(&first);
    let applied = lines
        .iter()
        .find(|l| {
            l.contains(&format!(
                "oom-remediation raise_memory {ns}/Deployment/{deployment} auto: applied"
            ))
        })
        .unwrap_or_else(|| panic!("no applied raise for {pod}: {lines:#?}"));
    let id = applied.split_whitespace().nth(1).unwrap().to_string();
    assert!(id.starts_with("act-"), "{applied}");
    the_raise(&ns, &deployment, &container, &h.writes());
    assert_eq!(
        h.limit_of(&ns, &deployment)
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == container.as_str())
            .unwrap()["resources"]["limits"]["memory"],
        NEW_LIMIT
    );
    // The pod's owner chain was read before the write: pod, ReplicaSet, Deployment.
    let reads: Vec<String> = h.kube.requests().iter().map(Recorded::line).collect();
    let pod_read = format!("GET /api/v1/namespaces/{ns}/pods/{pod}");
    let write = format!("PATCH /apis/apps/v1/namespaces/{ns}/deployments/{deployment}");
    let pod_at = reads
        .iter()
        .position(|r| *r == pod_read)
        .expect("the pod was read");
    let write_at = reads.iter().position(|r| *r == write).unwrap();
    assert!(pod_at < write_at, "{reads:#?}");
    // The notify step told the route what was done.
    let slack = h.slack_texts().await;
    assert!(
        slack
            .iter()
            .any(|b| b.contains(&id) && b.contains(NEW_LIMIT)),
        "no Slack message names {id}: {slack:#?}"
    );

    // Again as of the same time, and 5 min later: the record is found, nothing is sent again.
    for at in [during, during + time::Duration::minutes(5)] {
        let again = h.run_job(at);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
        assert!(
            !action_lines(&again).iter().any(|l| l.contains(&id)),
            "{:#?}",
            action_lines(&again)
        );
    }
    the_raise(&ns, &deployment, &container, &h.writes());

    // As of a time the data shows recovery: effective, and the resolution is announced.
    let sent_before = h.slack_texts().await.len();
    let later = h.run_job(after);
    assert_eq!(later.status.code(), Some(0), "{}", text(&later.stderr));
    let lines = action_lines(&later);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&id) && l.contains(": effective")),
        "{lines:#?}"
    );
    let announced: Vec<String> = h
        .slack_texts()
        .await
        .into_iter()
        .skip(sent_before)
        .collect();
    assert!(
        announced
            .iter()
            .any(|b| b.contains(&id) && b.contains("RESOLVED by oom-remediation")),
        "{announced:#?}"
    );
    the_raise(&ns, &deployment, &container, &h.writes());

    let stats = h.run(&["actions", "--stats", "--json"]);
    assert_eq!(stats.status.code(), Some(0), "{}", text(&stats.stderr));
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    let oom = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["runbook"] == "oom-remediation")
        .unwrap()
        .clone();
    assert!(oom["applied"].as_u64().unwrap() >= 1, "{oom}");
    assert!(oom["effective"].as_u64().unwrap() >= 1, "{oom}");
    let verified = h.run(&["actions", "--status", "effective", "--json"]);
    let verified: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert!(verified
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action_id"] == id.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_patches_nothing_until_approved_then_once() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    let h = harness(Setup {
        mode: "approve",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    let first = h.run_job(during);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}\n{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    let lines = action_lines(&first);
    let pending = lines
        .iter()
        .find(|l| {
            l.contains(&format!(
                "raise_memory {ns}/Deployment/{deployment} approve: pending"
            ))
        })
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let id = pending.split_whitespace().nth(1).unwrap().to_string();
    assert!(
        h.writes().is_empty(),
        "written before approval: {:?}",
        h.writes()
    );
    // The notification carries the commands.
    let slack = h.slack_texts().await;
    assert!(
        slack
            .iter()
            .any(|b| b.contains(&format!("forewarn approve {id}"))
                && b.contains(&format!("forewarn reject {id} --reason"))),
        "{slack:#?}"
    );
    let listed = h.run(&["actions", "--status", "pending", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action_id"] == id.as_str()));
    // A repeated run does not apply it either.
    h.run_job(during);
    assert!(h.writes().is_empty());

    let approved = h.run(&["approve", &id]);
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}\n{}",
        text(&approved.stdout),
        text(&approved.stderr)
    );
    assert!(
        text(&approved.stdout).contains(": applied"),
        "{}",
        text(&approved.stdout)
    );
    the_raise(&ns, &deployment, &container, &h.writes());
    let twice = h.run(&["approve", &id]);
    assert_eq!(twice.status.code(), Some(0), "{}", text(&twice.stderr));
    assert!(
        text(&twice.stdout).contains("nothing done"),
        "{}",
        text(&twice.stdout)
    );
    the_raise(&ns, &deployment, &container, &h.writes());
    // And a reject after it is refused (it is not pending any more).
    let reject = h.run(&["reject", &id, "--reason", "too late"]);
    assert_eq!(reject.status.code(), Some(2), "{}", text(&reject.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_action_is_never_applied() {
    let (during, _) = leak_times();
    let (ns, _pod, _container, deployment) = leak_finding(during);
    let h = harness(Setup {
        mode: "approve",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    let first = h.run_job(during);
    let id = action_lines(&first)
        .iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} approve: pending")))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .unwrap();
    let rejected = h.run(&["reject", &id, "--reason", "not during the sale"]);
    assert_eq!(
        rejected.status.code(),
        Some(0),
        "{}",
        text(&rejected.stderr)
    );
    assert!(text(&rejected.stdout).contains("rejected by tester: not during the sale"));
    let approve = h.run(&["approve", &id]);
    assert_eq!(approve.status.code(), Some(2), "{}", text(&approve.stderr));
    assert!(h.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_request_and_makes_no_persisting_request() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    let h = harness(Setup {
        mode: "dry_run",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    let first = h.run_job(during);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{deployment}");
    assert!(
        out.contains(&format!("raise_memory {ns}/Deployment/{deployment} dry_run: dry_run — the API server accepts it")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "PATCH {path}?dryRun=All (application/strategic-merge-patch+json)"
        )),
        "{out}"
    );
    assert!(out.contains(NEW_LIMIT), "{out}");
    let requests = h.kube.requests();
    assert!(requests.iter().all(|r| !r.persists()), "{requests:#?}");
    let checked: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .collect();
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0].query, "dryRun=All");
    assert_eq!(
        h.limit_of(&ns, &deployment).as_array().unwrap()[0]["resources"]["limits"]["memory"],
        OLD_LIMIT
    );
    let _ = container;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_names_the_verb_and_resource_and_fails_the_run() {
    let (during, _) = leak_times();
    let (ns, _pod, _container, deployment) = leak_finding(during);
    let h = harness(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    h.kube.fail(json!({"method": "PATCH", "path_regex": format!("deployments/{deployment}$"), "status": 403, "times": 5}));
    let run = h.run_job(during);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let out = text(&run.stdout);
    let line = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: failed")))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("cannot patch resource \"deployments\""),
        "{line}"
    );
    assert!(
        line.contains("add to the Role: apiGroups: [\"apps\"], resources: [\"deployments\"], verbs: [\"patch\"]"),
        "{line}"
    );
    // The refused PATCH was answered 403 and stored nothing.
    assert_eq!(
        h.limit_of(&ns, &deployment).as_array().unwrap()[0]["resources"]["limits"]["memory"],
        OLD_LIMIT
    );
    // Escalated once.
    let slack = h.slack_texts().await;
    assert!(
        slack
            .iter()
            .any(|b| b.contains("ESCALATED") && b.contains("cannot patch")),
        "{slack:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn target_gone_is_recorded_and_a_conflict_is_retried_once() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    // 409 once: retried on a fresh read, applied.
    let h = harness(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    h.kube.fail(json!({"method": "PATCH", "path_regex": format!("deployments/{deployment}$"), "status": 409, "times": 1}));
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let line = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: applied")))
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(line.contains("after a 409 Conflict"), "{line}");
    let patches: Vec<Recorded> = h
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(&format!("deployments/{deployment}")))
        .collect();
    assert_eq!(patches.len(), 2, "retried once: {patches:#?}");
    let _ = container;

    // 404 on the write: the target is gone — recorded, skipped, no crash.
    let h = harness(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    h.kube.fail(json!({"method": "PATCH", "path_regex": format!("deployments/{deployment}$"), "status": 404, "times": 1}));
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(
        action_lines(&run).iter().any(|l| l.contains(&format!(
            "{ns}/Deployment/{deployment} auto: gone — skipped"
        ))),
        "{}",
        text(&run.stdout)
    );
    let gone = h.run(&["actions", "--status", "gone", "--json"]);
    let gone: Value = serde_json::from_slice(&gone.stdout).unwrap();
    assert_eq!(gone.as_array().unwrap().len(), 1, "{gone}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fences_leave_opted_out_and_foreign_workloads_untouched() {
    let (during, _) = leak_times();
    let (ns, _pod, _container, deployment) = leak_finding(during);
    // Opted out by the label on the Deployment.
    let h = harness(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    let leaking = deployment.clone();
    h.seed_cluster(during, move |name| {
        if name == leaking {
            json!({"forewarn.io/remediate": "false"})
        } else {
            json!({})
        }
    });
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let refused = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: refused")))
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(refused.contains("opted out"), "{refused}");
    assert!(h.writes().iter().all(|w| !w.path.ends_with(&deployment)));
    // Recorded once, not every run.
    let again = h.run_job(during + time::Duration::minutes(5));
    let refusals = h.run(&["actions", "--status", "refused", "--json"]);
    let refusals: Value = serde_json::from_slice(&refusals.stdout).unwrap();
    assert!(!refusals.as_array().unwrap().is_empty());
    assert!(text(&again.stdout).contains("refused"));

    // Outside the allowed namespaces.
    let h = harness(Setup {
        mode: "auto",
        limits: "{allowed_namespaces: [\"nowhere-*\"], max_actions_per_hour: 5, cooldown: 1h}",
    });
    h.seed_cluster(during, no_labels);
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let refused = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: refused")))
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(refused.contains("outside runbook"), "{refused}");
    assert!(h.writes().is_empty(), "{:?}", h.writes());
    // Positive control: the auto test above patches the same Deployment with open limits.
}
