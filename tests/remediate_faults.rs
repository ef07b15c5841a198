//! Remediation's fences and faults end to end, through the real binary, the demo telemetry in
//! the ClickHouse test server, the loopback Kubernetes API server and a loopback Slack (the
//! harness is tests/support/remediate.rs): the hourly caps and the cooldown, an unreachable API
//! server, the circuit breaker, the crash-loop runbook's choice between a rollback and a
//! restart, an approval the fence refuses, and the shipped runbooks in dry run.
//!
//! Every refusal is asserted three ways — the run's action line, `forewarn actions --json`
//! (with its reason) and the finding's history — and with the API server having received no
//! write for it; each has a positive control (the action that was let through, applied).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kubeapi::Recorded;
use support::remediate::*;
use time::OffsetDateTime;

fn minutes(m: i64) -> time::Duration {
    time::Duration::minutes(m)
}

fn deployment_path(ns: &str, name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}")
}

/// Writes to one Deployment (dry runs excluded).
fn writes_to(h: &Harness, ns: &str, name: &str) -> Vec<Recorded> {
    let path = deployment_path(ns, name);
    h.writes().into_iter().filter(|w| w.path == path).collect()
}

fn is_restart(w: &Recorded) -> bool {
    w.body.as_ref().is_some_and(|b| {
        !b["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_null()
    })
}

fn ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The action of `forewarn actions --json` with this id.
fn listed(h: &Harness, id: &str) -> Value {
    h.actions(None)
        .into_iter()
        .find(|a| a["action_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed: {:#?}", h.actions(None)))
}

/// The `action_updated` events of the finding's history (`forewarn history FP --json`).
fn history_updates(h: &Harness, fingerprint: &str) -> Vec<Value> {
    let out = h.run(&["history", fingerprint, "--json"]);
    ok(&out);
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"]["kind"] == "action_updated")
        .collect()
}

/// Whether the history holds a refusal of `id` for `reason`.
fn history_refused(h: &Harness, fingerprint: &str, id: &str, reason: &str) -> bool {
    history_updates(h, fingerprint).iter().any(|e| {
        e["kind"]["action_id"] == id
            && e["kind"]["status"] == "refused"
            && e["payload"]["reason"] == reason
    })
}

/// The memory runbook (auto, raise_memory) and a second one that restarts the same
/// Deployment on the same finding, with the limits given, plus the shipped rules' others.
fn raise_and_restart(global: &str, raise_limits: &str, restart_limits: &str) -> String {
    format!(
        "{global}runbooks:
  - name: oom-remediation
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: auto
    steps: [{{raise_memory: {{factor: 1.5, cap: 4Gi}}}}]
    limits: {raise_limits}
  - name: memory-restart
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: auto
    steps: [{{rollout_restart: {{}}}}]
    limits: {restart_limits}
{CRASHLOOP_AND_ESCALATE}"
    )
}

/// Labels for seeding: every Deployment but `name` opted out, so the other demo findings of
/// the same rule (other leaks) neither act nor use up the caps.
fn only(name: &str) -> impl Fn(&str) -> Value {
    let name = name.to_string();
    move |d: &str| {
        if d == name {
            json!({})
        } else {
            json!({"forewarn.io/remediate": "false"})
        }
    }
}

fn leak_fingerprint(at: OffsetDateTime) -> String {
    finding_of("memory-pressure", leak(), at).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cooldown_refuses_a_second_action_on_the_target_and_records_why() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    let h = Harness::new(&raise_and_restart(
        "",
        "{cooldown: 1h, max_actions_per_hour: 5}",
        "{cooldown: 1h, max_actions_per_hour: 5}",
    ));
    h.seed_cluster(during, only(&deployment));
    let target = format!("{ns}/Deployment/{deployment}");
    let run = h.run_job(during);
    ok(&run);
    // Positive control: the first action on the target is applied.
    action_id_of(
        &run,
        &format!("oom-remediation raise_memory {target} auto: applied"),
    );
    the_raise(&ns, &deployment, &container, &h.writes());
    let refused = action_id_of(
        &run,
        &format!("memory-restart rollout_restart {target} auto: refused"),
    );
    let line = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&refused))
        .unwrap();
    assert!(
        line.contains(&format!("cooldown: {target} was acted on at"))
            && line.contains("(cooldown 1h) (cooldown)"),
        "{line}"
    );
    // No write for it: the only write to the Deployment is the raise.
    assert!(!writes_to(&h, &ns, &deployment).iter().any(is_restart));
    let action = listed(&h, &refused);
    assert_eq!(action["outcome"], "refused", "{action}");
    assert_eq!(action["reason"], "cooldown", "{action}");
    assert!(history_refused(
        &h,
        &leak_fingerprint(during),
        &refused,
        "cooldown"
    ));

    // Five minutes on, still within the cooldown: refused again, recorded once, no write.
    let again = h.run_job(during + minutes(5));
    ok(&again);
    assert!(
        action_lines(&again)
            .iter()
            .any(|l| l.contains(&refused) && l.contains(": refused")),
        "{}",
        text(&again.stdout)
    );
    let refusals = history_updates(&h, &leak_fingerprint(during))
        .into_iter()
        .filter(|e| e["kind"]["action_id"] == refused.as_str())
        .count();
    assert_eq!(refusals, 1);
    assert_eq!(
        writes_to(&h, &ns, &deployment).len(),
        1,
        "{:#?}",
        h.writes()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_global_hourly_cap_refuses_the_action_over_it_and_records_why() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    // No cooldown: only the cap stands between the two actions.
    let h = Harness::new(&raise_and_restart(
        "global: {max_actions_per_hour: 1}\n",
        "{cooldown: 0s, max_actions_per_hour: 5}",
        "{cooldown: 0s, max_actions_per_hour: 5}",
    ));
    h.seed_cluster(during, only(&deployment));
    let target = format!("{ns}/Deployment/{deployment}");
    let run = h.run_job(during);
    ok(&run);
    action_id_of(
        &run,
        &format!("oom-remediation raise_memory {target} auto: applied"),
    );
    the_raise(&ns, &deployment, &container, &h.writes());
    let refused = action_id_of(
        &run,
        &format!("memory-restart rollout_restart {target} auto: refused"),
    );
    let line = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&refused))
        .unwrap();
    assert!(
        line.contains(
            "1 action(s) in the last hour across all runbooks (at most 1 an hour) (global_hourly_cap)"
        ),
        "{line}"
    );
    assert!(!writes_to(&h, &ns, &deployment).iter().any(is_restart));
    let action = listed(&h, &refused);
    assert_eq!(action["reason"], "global_hourly_cap", "{action}");
    assert!(history_refused(
        &h,
        &leak_fingerprint(during),
        &refused,
        "global_hourly_cap"
    ));

    // Positive control of the cap itself: with room for two, both are applied.
    let h = Harness::new(&raise_and_restart(
        "global: {max_actions_per_hour: 2}\n",
        "{cooldown: 0s, max_actions_per_hour: 5}",
        "{cooldown: 0s, max_actions_per_hour: 5}",
    ));
    h.seed_cluster(during, only(&deployment));
    let run = h.run_job(during);
    ok(&run);
    action_id_of(
        &run,
        &format!("memory-restart rollout_restart {target} auto: applied"),
    );
    let writes = writes_to(&h, &ns, &deployment);
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert!(writes.iter().any(is_restart));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runbook_hourly_cap_lets_one_action_through_and_refuses_the_rest() {
    let (during, _) = leak_times();
    let h = Harness::new(&memory_runbooks(
        "auto",
        "{allowed_namespaces: [\"*\"], max_actions_per_hour: 1, cooldown: 1h}",
    ));
    h.seed_cluster(during, no_labels);
    let run = h.run_job(during);
    ok(&run);
    let lines: Vec<String> = action_lines(&run)
        .into_iter()
        .filter(|l| l.contains("oom-remediation raise_memory"))
        .collect();
    assert!(
        lines.len() >= 2,
        "the demo has more than one leak at {during}: {lines:#?}"
    );
    // Positive control: the first is applied, and written.
    let applied: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" auto: applied"))
        .collect();
    assert_eq!(applied.len(), 1, "{lines:#?}");
    let writes = h.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    let target = applied[0].split_whitespace().nth(4).unwrap();
    let [ns, _, name] = target.split('/').collect::<Vec<_>>()[..] else {
        panic!("{target}")
    };
    assert_eq!(writes[0].path, deployment_path(ns, name));
    // Every other is refused for the cap, recorded with its reason; no write for any.
    for line in lines.iter().filter(|l| !l.contains(" auto: applied")) {
        assert!(
            line.contains(" auto: refused — runbook `oom-remediation` made 1 action(s) in the last hour (at most 1 an hour) (runbook_hourly_cap)"),
            "{line}"
        );
        let id = line.split_whitespace().nth(1).unwrap();
        assert_eq!(listed(&h, id)["reason"], "runbook_hourly_cap");
    }
    // The next run, still within the hour, lets none through either.
    ok(&h.run_job(during + minutes(5)));
    assert_eq!(h.writes().len(), 1, "{:#?}", h.writes());
}

/// A kubeconfig whose server is a loopback port where nothing listens.
fn closed_port_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.join("closed-kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: closed\n\
             clusters:\n- name: closed\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             users:\n- name: forewarn\n  user:\n    token: {}\n\
             contexts:\n- name: closed\n  context:\n    cluster: closed\n    user: forewarn\n",
            support::kubeapi::TOKEN
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_api_server_is_recorded_and_the_action_applied_once_it_is_back() {
    let (during, _) = leak_times();
    let (ns, pod, container, deployment) = leak_finding(during);
    let h = Harness::new(&memory_runbooks("auto", OPEN_LIMITS));
    h.seed_cluster(during, only(&deployment));
    let dir = tempfile::tempdir().unwrap();
    h.use_kubeconfig(closed_port_kubeconfig(dir.path()));
    let started = Instant::now();
    let run = h.run_job(during);
    let took = started.elapsed();
    // Bounded: a refused connection is an answer, not a wait (and nothing crashed).
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(
        run.status.code(),
        Some(1),
        "an unreachable API server is not all clear\n{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(
        !text(&run.stderr).contains("panicked"),
        "{}",
        text(&run.stderr)
    );
    // The target is unknown ("-"): no owner could be read. The first finding's request was
    // refused; the others were not sent (the server had not answered one).
    let refused: Vec<String> = action_lines(&run)
        .into_iter()
        .filter(|l| l.contains("oom-remediation raise_memory - auto: refused"))
        .collect();
    assert!(!refused.is_empty(), "{}", text(&run.stdout));
    for line in &refused {
        assert!(
            line.contains(" — the Kubernetes API is unavailable: ")
                && line.contains(": cannot reach the Kubernetes API server: ")
                && line.contains("Connection refused")
                && line.ends_with("(kube_unavailable)"),
            "{line}"
        );
    }
    // The leak's own refusal, by the ids its history holds.
    let fingerprint = leak_fingerprint(during);
    let id = history_updates(&h, &fingerprint)
        .iter()
        .filter_map(|e| e["kind"]["action_id"].as_str().map(str::to_string))
        .find(|id| refused.iter().any(|l| l.contains(id.as_str())))
        .unwrap_or_else(|| panic!("{:#?}", history_updates(&h, &fingerprint)));
    let action = listed(&h, &id);
    assert_eq!(action["reason"], "kube_unavailable", "{action}");
    assert!(
        history_refused(&h, &leak_fingerprint(during), &id, "kube_unavailable"),
        "{:#?}",
        history_updates(&h, &leak_fingerprint(during))
    );
    // Said to a person, once.
    let slack = h.slack_texts().await;
    let told: Vec<&String> = slack
        .iter()
        .filter(|b| {
            b.contains("ESCALATED")
                && b.contains("the Kubernetes API is unavailable")
                && b.contains("oom-remediation")
                && b.contains(&pod)
        })
        .collect();
    assert_eq!(told.len(), 1, "{slack:#?}");
    assert!(h.kube.requests().is_empty());

    // The API server is back: the next run applies the action, once.
    h.use_loopback_kubeconfig();
    let back = h.run_job(during + minutes(5));
    ok(&back);
    assert!(
        action_lines(&back).iter().any(|l| l.contains(&id)
            && l.contains(&format!("{ns}/Deployment/{deployment} auto: applied"))),
        "{}",
        text(&back.stdout)
    );
    the_raise(&ns, &deployment, &container, &h.writes());
    let later = h.run_job(during + minutes(10));
    ok(&later);
    the_raise(&ns, &deployment, &container, &h.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_api_server_costs_one_timeout_not_one_per_finding() {
    let (during, _) = leak_times();
    let (_ns, _pod, _container, deployment) = leak_finding(during);
    let h = Harness::new(&memory_runbooks("auto", OPEN_LIMITS));
    h.seed_cluster(during, only(&deployment));
    // Every request is answered only after 45 s, beyond the client's 30 s request timeout.
    h.kube
        .fail(json!({"path_regex": ".*", "delay_s": 45, "times": 1000}));
    let started = Instant::now();
    let run = h.run_job(during);
    let took = started.elapsed();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let refused: Vec<String> = action_lines(&run)
        .into_iter()
        .filter(|l| l.contains("oom-remediation raise_memory - auto: refused"))
        .collect();
    assert!(
        refused.len() >= 2,
        "the demo has several leaks at {during}: {}",
        text(&run.stdout)
    );
    assert!(
        refused
            .iter()
            .all(|l| l.contains("no answer from the API server within 30 s")
                && l.ends_with("(kube_unavailable)")),
        "{refused:#?}"
    );
    // One request waited for; the other findings did not ask again.
    assert_eq!(h.kube.requests().len(), 1, "{:#?}", h.kube.requests());
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(
        refused
            .iter()
            .filter(|l| l.contains("not asked again this run"))
            .count()
            == refused.len() - 1,
        "{refused:#?}"
    );
}

/// `forewarn approve ID`: exit code, stdout, stderr.
fn approve(h: &Harness, id: &str) -> (Option<i32>, String, String) {
    let out = h.run(&["approve", id]);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_the_fence_now_refuses_writes_nothing() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    let target = format!("{ns}/Deployment/{deployment}");
    let pending_line = format!("oom-remediation raise_memory {target} approve: pending");

    // 1. Opted out since: the label was put on the Deployment after the run.
    let h = Harness::new(&memory_runbooks("approve", OPEN_LIMITS));
    h.seed_cluster(during, no_labels);
    let run = h.run_job(during);
    ok(&run);
    let id = action_id_of(&run, &pending_line);
    let mut labelled = h.kube.object("Deployment", &ns, &deployment).unwrap();
    labelled["metadata"]["labels"] = json!({"forewarn.io/remediate": "false"});
    h.kube.seed(json!([labelled.clone()]));
    h.kube.clear_requests();
    let (code, _, stderr) = approve(&h, &id);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("action {id} refused by the fence: {target} is labelled forewarn.io/remediate=\"false\": opted out of remediation")),
        "{stderr}"
    );
    assert!(h.writes().is_empty(), "{:#?}", h.writes());
    let action = listed(&h, &id);
    assert_eq!(
        (&action["outcome"], &action["reason"]),
        (&json!("refused"), &json!("opted_out")),
        "{action}"
    );
    // Positive control: the label removed, the approval applies it — and a second one does
    // nothing.
    labelled["metadata"]["labels"] = json!({});
    h.kube.seed(json!([labelled]));
    let (code, stdout, stderr) = approve(&h, &id);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(": applied"), "{stdout}");
    let (code, stdout, _) = approve(&h, &id);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("nothing done"), "{stdout}");
    the_raise(&ns, &deployment, &container, &h.writes());

    // 2. Outside the allowlist since: the runbook was narrowed after the run.
    let h = Harness::new(&memory_runbooks("approve", OPEN_LIMITS));
    h.seed_cluster(during, no_labels);
    let run = h.run_job(during);
    ok(&run);
    let id = action_id_of(&run, &pending_line);
    h.write_runbooks(&memory_runbooks(
        "approve",
        "{allowed_namespaces: [\"nowhere-*\"], max_actions_per_hour: 5, cooldown: 1h}",
    ));
    h.kube.clear_requests();
    let (code, _, stderr) = approve(&h, &id);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("refused by the fence: namespace `{ns}` is outside runbook `oom-remediation`'s allowed namespaces (nowhere-*)")),
        "{stderr}"
    );
    assert!(h.writes().is_empty(), "{:#?}", h.writes());
    assert_eq!(listed(&h, &id)["reason"], "namespace_not_allowed");

    // 3. In cooldown: another runbook restarted the Deployment after the approval was asked
    // for (approve uses the wall clock, days after the demo: a 30-day cooldown covers it).
    let runbooks = format!(
        "runbooks:
  - name: oom-remediation
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: approve
    steps: [{{raise_memory: {{factor: 1.5, cap: 4Gi}}}}]
    limits: {{cooldown: 30d, max_actions_per_hour: 5}}
  - name: memory-restart
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: auto
    steps: [{{rollout_restart: {{}}}}]
    limits: {{cooldown: 0s, max_actions_per_hour: 5}}
{CRASHLOOP_AND_ESCALATE}"
    );
    let h = Harness::new(&runbooks);
    h.seed_cluster(during, only(&deployment));
    let run = h.run_job(during);
    ok(&run);
    let id = action_id_of(&run, &pending_line);
    action_id_of(
        &run,
        &format!("memory-restart rollout_restart {target} auto: applied"),
    );
    let before = h.writes();
    assert_eq!(before.len(), 1, "the restart only: {before:#?}");
    let (code, _, stderr) = approve(&h, &id);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "refused by the fence: cooldown: {target} was acted on at"
        )) && stderr.contains("(cooldown 30days)"),
        "{stderr}"
    );
    assert_eq!(h.writes(), before);
    assert_eq!(listed(&h, &id)["reason"], "cooldown");
}

/// Two auto runbooks acting on the leak's Deployment at once (a raise and a restart), with a
/// breaker that opens after `after` ineffective actions, escalating to `oncall`; and, when
/// `late` is set, a third one (added to the file later) that would restart it again.
fn breaker_runbooks(after: u32, late: bool) -> String {
    let limits = format!(
        "{{cooldown: 0s, max_actions_per_hour: 10, circuit_breaker: {{after: {after}, window: 4h, escalate: oncall}}}}"
    );
    let mut text = format!(
        "runbooks:
  - name: oom-remediation
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: auto
    steps: [{{raise_memory: {{factor: 1.5, cap: 4Gi}}}}]
    limits: {limits}
    verify_after: 10m
  - name: memory-restart
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: auto
    steps: [{{rollout_restart: {{}}}}]
    limits: {limits}
    verify_after: 10m
"
    );
    if late {
        text.push_str(&format!(
            "  - name: memory-restart-again
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: auto
    steps: [{{rollout_restart: {{}}}}]
    limits: {limits}
"
        ));
    }
    text + CRASHLOOP_AND_ESCALATE
}

#[tokio::test(flavor = "multi_thread")]
async fn the_circuit_breaker_stops_acting_after_ineffective_actions_and_escalates_once() {
    let (during, _) = leak_times();
    let start = during - minutes(10);
    let (ns, _pod, _container, deployment) = leak_finding(start);
    let target = format!("{ns}/Deployment/{deployment}");
    let h = Harness::new(&breaker_runbooks(2, false));
    h.seed_cluster(start, only(&deployment));

    // Two actions applied on the target (the positive control)...
    let first = h.run_job(start);
    ok(&first);
    action_id_of(
        &first,
        &format!("oom-remediation raise_memory {target} auto: applied"),
    );
    action_id_of(
        &first,
        &format!("memory-restart rollout_restart {target} auto: applied"),
    );
    assert_eq!(writes_to(&h, &ns, &deployment).len(), 2);
    // ...both judged ineffective 10 min later: the leak goes on.
    let judged = h.run_job(start + minutes(10));
    ok(&judged);
    let ineffective = action_lines(&judged)
        .into_iter()
        .filter(|l| l.contains(&target) && l.contains(": ineffective"))
        .count();
    assert_eq!(ineffective, 2, "{}", text(&judged.stdout));

    // A runbook added since would act on the target again: the breaker is open.
    h.write_runbooks(&breaker_runbooks(2, true));
    for at in [
        start + minutes(15),
        start + minutes(15),
        start + minutes(20),
    ] {
        let run = h.run_job(at);
        ok(&run);
        let line = action_lines(&run)
            .into_iter()
            .find(|l| {
                l.contains(&format!(
                    "memory-restart-again rollout_restart {target} auto: refused"
                ))
            })
            .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
        assert!(
            line.contains(&format!("circuit breaker open for {target}: the last 2 action(s) within 4h failed or were ineffective (circuit_open)")),
            "{line}"
        );
    }
    assert_eq!(
        writes_to(&h, &ns, &deployment).len(),
        2,
        "{:#?}",
        h.writes()
    );
    let refused = h.actions(Some("refused"));
    assert!(
        refused
            .iter()
            .any(|a| a["runbook"] == "memory-restart-again" && a["reason"] == "circuit_open"),
        "{refused:#?}"
    );
    // Escalated once, through the breaker's route, saying why.
    let slack = h.slack_texts().await;
    let escalations: Vec<&String> = slack
        .iter()
        .filter(|b| b.contains("ESCALATED") && b.contains("memory-restart-again"))
        .collect();
    assert_eq!(escalations.len(), 1, "{slack:#?}");
    assert!(
        escalations[0].contains("circuit breaker open"),
        "{}",
        escalations[0]
    );

    // Control: with a breaker that needs three, the late runbook acts.
    let h = Harness::new(&breaker_runbooks(3, false));
    h.seed_cluster(start, only(&deployment));
    ok(&h.run_job(start));
    ok(&h.run_job(start + minutes(10)));
    h.write_runbooks(&breaker_runbooks(3, true));
    let run = h.run_job(start + minutes(15));
    ok(&run);
    action_id_of(
        &run,
        &format!("memory-restart-again rollout_restart {target} auto: applied"),
    );
    assert_eq!(writes_to(&h, &ns, &deployment).len(), 3);
}

const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// A demo crash loop in a Deployment and a time its restart-frequency finding fires:
/// (time, namespace, deployment).
fn crash_loop_in_a_deployment() -> (OffsetDateTime, String, String) {
    for incident in incidents("crash_loop") {
        let at = floor5(incident.impact_at.unwrap() + minutes(5));
        let Some(finding) = finding_of("restart-frequency", incident, at) else {
            continue;
        };
        let Some(deployment) = finding["entity"]["workload"]
            .as_str()
            .and_then(|w| w.strip_prefix("Deployment/"))
        else {
            continue;
        };
        let ns = finding["entity"]["namespace"].as_str().unwrap().to_string();
        return (at, ns, deployment.to_string());
    }
    panic!(
        "no demo crash loop in a Deployment fires restart-frequency: {:#?}",
        incidents("crash_loop")
    );
}

/// The shipped crash-loop runbook's steps, acting (auto).
fn crashloop_auto() -> String {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/runbooks/restarts.yaml"),
    )
    .unwrap();
    assert!(shipped.contains("mode: dry_run"), "{shipped}");
    let crashloop = shipped
        .replace("mode: dry_run", "mode: auto")
        .replace("runbooks:\n", "");
    format!(
        "runbooks:\n{crashloop}  - name: oom-remediation
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: dry_run
    steps: [{{raise_memory: {{factor: 1.5, cap: 4Gi}}}}]
  - name: escalate-to-owner
    triggers:
      - {{rule: error-rate, signal: error_rate, severity: warning}}
      - {{rule: canary-heartbeat, signal: heartbeat_missing, severity: warning}}
    mode: auto
    steps: [{{escalate: {{route: oncall}}}}]
"
    )
    .replace("critical-to-slack", "oncall")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_loop_after_a_rollout_is_rolled_back_and_one_without_is_restarted() {
    let (at, ns, deployment) = crash_loop_in_a_deployment();
    let target = format!("{ns}/Deployment/{deployment}");
    let path = deployment_path(&ns, &deployment);

    // Revision 2 rolled out 20 min before the loop was seen: `kubectl rollout undo`.
    let h = Harness::new(&crashloop_auto());
    let name = deployment.clone();
    h.seed_cluster_with(at, |d| Seed {
        rollout_at: (d == name).then(|| at - minutes(20)),
        ..Seed::default()
    });
    let before = h.kube.object("Deployment", &ns, &deployment).unwrap();
    let previous = h
        .kube
        .object("ReplicaSet", &ns, &format!("{deployment}-{PREVIOUS_HASH}"))
        .unwrap();
    let run = h.run_job(at);
    ok(&run);
    let line = action_lines(&run)
        .into_iter()
        .find(|l| {
            l.contains(&format!(
                "crashloop-remediation rollback {target} auto: applied"
            ))
        })
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(
        line.contains(&format!(
            "roll back Deployment {ns}/{deployment} from revision 2 to revision 1 (ReplicaSet {deployment}-{PREVIOUS_HASH})"
        )),
        "{line}"
    );
    assert!(
        !action_lines(&run)
            .iter()
            .any(|l| l.contains("crashloop-remediation rollout_restart")),
        "{}",
        text(&run.stdout)
    );
    let writes = writes_to(&h, &ns, &deployment);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].method, "PATCH");
    assert_eq!(writes[0].query, "");
    assert_eq!(
        writes[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    // The previous ReplicaSet's template (pod-template-hash removed; only its containers
    // differ), guarded by the Deployment's resourceVersion.
    let containers = previous["spec"]["template"]["spec"]["containers"].clone();
    assert!(containers
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["image"] == format!("{deployment}:1").as_str()));
    assert_eq!(
        writes[0].body,
        Some(json!({
            "metadata": {"resourceVersion": before["metadata"]["resourceVersion"]},
            "spec": {"template": {"spec": {"containers": containers}}}
        }))
    );
    // It was found by listing the Deployment's ReplicaSets by its selector.
    let lines: Vec<String> = h.kube.requests().iter().map(Recorded::line).collect();
    assert!(
        lines.contains(&format!(
            "GET /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=app%3D{deployment}"
        )),
        "{lines:#?}"
    );
    let after = h.kube.object("Deployment", &ns, &deployment).unwrap();
    assert_eq!(after["spec"]["template"]["spec"]["containers"], containers);

    // No recent rollout (revision 1 since the day before): `kubectl rollout restart`.
    let h = Harness::new(&crashloop_auto());
    h.seed_cluster(at, no_labels);
    let sent_after = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let run = h.run_job(at);
    let sent_before = OffsetDateTime::now_utc();
    ok(&run);
    action_id_of(
        &run,
        &format!("crashloop-remediation rollout_restart {target} auto: applied"),
    );
    assert!(!text(&run.stdout).contains("crashloop-remediation rollback"));
    let writes = writes_to(&h, &ns, &deployment);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(
        writes[0].content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    assert_eq!(writes[0].path, path);
    let body = writes[0].body.clone().unwrap();
    let restarted_at = body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string();
    assert_eq!(
        body,
        json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}})
    );
    let t = OffsetDateTime::parse(
        &restarted_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        restarted_at.ends_with('Z') && t >= sent_after && t <= sent_before,
        "{restarted_at}"
    );
}

/// A demo error-rate rise and a time its error-rate finding fires: (time, namespace, service).
fn error_rise() -> (OffsetDateTime, String, String) {
    for incident in incidents("error_burst")
        .into_iter()
        .chain(incidents("error_creep"))
    {
        for after in [10, 20, 30] {
            let at = floor5(incident.impact_at.unwrap() + minutes(after));
            if let Some(finding) = finding_of("error-rate", incident, at) {
                let e = &finding["entity"];
                return (
                    at,
                    e["namespace"].as_str().unwrap().to_string(),
                    e["service"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    panic!(
        "no demo error-rate rise is found: {:#?}",
        incidents("error_burst")
    );
}

/// A demo canary that stopped and a time its heartbeat finding fires: (time, canary).
fn dead_canary() -> (OffsetDateTime, String) {
    for incident in incidents("canary_stopped") {
        for after in [2, 5, 10] {
            let at = incident.impact_at.unwrap() + minutes(after);
            let at = at.replace_second(0).unwrap().replace_nanosecond(0).unwrap();
            if let Some(finding) = finding_of("canary-heartbeat", incident, at) {
                return (
                    at,
                    finding["entity"]["canary"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    panic!(
        "no demo dead canary is found: {:#?}",
        incidents("canary_stopped")
    );
}

/// The shipped runbooks with every mode set to `dry_run` (nothing else changed).
fn shipped_in_dry_run(text: &str) -> String {
    let edited = text
        .replace("mode: approve", "mode: dry_run")
        .replace("mode: auto", "mode: dry_run");
    assert!(!edited.contains("mode: auto") && !edited.contains("mode: approve"));
    edited
}

/// The request printed under the action line that contains `needle`: the line itself and
/// the body it printed.
fn printed_request(out: &std::process::Output, needle: &str) -> (String, String, Value) {
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let action = lines
        .by_ref()
        .find(|l| l.starts_with("action ") && l.contains(needle))
        .unwrap_or_else(|| panic!("no action line has {needle:?}:\n{stdout}"))
        .to_string();
    let request = lines.next().unwrap_or_default().trim().to_string();
    let (head, body) = request
        .split_once(") ")
        .unwrap_or_else(|| panic!("no request under {action:?}: {request:?}"));
    (
        action,
        format!("{head})"),
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}")),
    )
}

/// The one request the API server received to `path`, checked to be a server-side dry run
/// of the body that was printed; and no request stored anything.
fn one_dry_run(h: &Harness, path: &str, printed: &Value) -> Recorded {
    let requests = h.kube.requests();
    assert!(
        requests.iter().all(|r| !r.persists()),
        "a dry run stored something: {requests:#?}"
    );
    let checked: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.path == path && r.method != "GET")
        .collect();
    assert_eq!(checked.len(), 1, "{requests:#?}");
    assert_eq!(checked[0].query, "dryRun=All");
    assert_eq!(checked[0].body.as_ref(), Some(printed));
    checked[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_runbooks_are_valid_and_say_exactly_what_they_would_do() {
    // Valid as shipped, and with every mode set to dry run.
    for h in [
        Harness::shipped(str::to_string),
        Harness::shipped(shipped_in_dry_run),
    ] {
        let out = std::process::Command::new(support::forewarn_bin())
            .arg("check")
            .env("FOREWARN_RULES", h.rules.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    // Memory pressure → raise the limit by half on the Deployment's template.
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    let target = format!("{ns}/Deployment/{deployment}");
    let h = Harness::shipped(shipped_in_dry_run);
    h.seed_cluster(during, no_labels);
    let stored = h.kube.object("Deployment", &ns, &deployment).unwrap();
    let run = h.run_job(during);
    ok(&run);
    let path = deployment_path(&ns, &deployment);
    let (action, request, body) =
        printed_request(&run, &format!("oom-remediation raise_memory {target}"));
    assert!(
        action.ends_with(&format!(
            "oom-remediation raise_memory {target} dry_run: dry_run — the API server accepts it (dry run, nothing changed): raise Deployment {ns}/{deployment} container \"{container}\" memory limit {OLD_LIMIT} → {NEW_LIMIT}"
        )),
        "{action}"
    );
    assert_eq!(
        request,
        format!("PATCH {path}?dryRun=All (application/strategic-merge-patch+json)")
    );
    assert_eq!(
        body,
        json!({"metadata": {"resourceVersion": stored["metadata"]["resourceVersion"]},
               "spec": {"template": {"spec": {"containers": [
                   {"name": container, "resources": {"limits": {"memory": NEW_LIMIT}}}]}}}})
    );
    one_dry_run(&h, &path, &body);
    assert!(
        action_lines(&run)
            .iter()
            .any(|l| l.contains("oom-remediation notify")
                && l.ends_with("dry_run: dry_run — would tell route critical-to-slack")),
        "{}",
        text(&run.stdout)
    );

    // A crash loop that began with a rollout → roll back; one that did not → restart.
    let (at, ns, deployment) = crash_loop_in_a_deployment();
    let target = format!("{ns}/Deployment/{deployment}");
    let path = deployment_path(&ns, &deployment);
    let h = Harness::shipped(shipped_in_dry_run);
    let name = deployment.clone();
    h.seed_cluster_with(at, |d| Seed {
        rollout_at: (d == name).then(|| at - minutes(20)),
        ..Seed::default()
    });
    let stored = h.kube.object("Deployment", &ns, &deployment).unwrap();
    let previous = h
        .kube
        .object("ReplicaSet", &ns, &format!("{deployment}-{PREVIOUS_HASH}"))
        .unwrap();
    let run = h.run_job(at);
    ok(&run);
    let (action, request, body) =
        printed_request(&run, &format!("crashloop-remediation rollback {target}"));
    assert!(
        action.ends_with(&format!(
            "dry_run: dry_run — the API server accepts it (dry run, nothing changed): roll back Deployment {ns}/{deployment} from revision 2 to revision 1 (ReplicaSet {deployment}-{PREVIOUS_HASH})"
        )),
        "{action}"
    );
    assert_eq!(
        request,
        format!("PATCH {path}?dryRun=All (application/merge-patch+json)")
    );
    assert_eq!(
        body,
        json!({"metadata": {"resourceVersion": stored["metadata"]["resourceVersion"]},
               "spec": {"template": {"spec": {"containers": previous["spec"]["template"]["spec"]["containers"]}}}})
    );
    one_dry_run(&h, &path, &body);
    assert!(!text(&run.stdout).contains("crashloop-remediation rollout_restart"));

    let h = Harness::shipped(shipped_in_dry_run);
    h.seed_cluster(at, no_labels);
    let run = h.run_job(at);
    ok(&run);
    let (action, request, body) = printed_request(
        &run,
        &format!("crashloop-remediation rollout_restart {target}"),
    );
    assert!(
        action.contains(&format!(
            "dry_run: dry_run — the API server accepts it (dry run, nothing changed): rollout restart Deployment {ns}/{deployment} (restartedAt "
        )),
        "{action}"
    );
    assert_eq!(
        request,
        format!("PATCH {path}?dryRun=All (application/strategic-merge-patch+json)")
    );
    let restarted_at = body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        body,
        json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}})
    );
    one_dry_run(&h, &path, &body);
    assert!(!text(&run.stdout).contains("crashloop-remediation rollback"));

    // An error-rate rise that began with a rollout → roll back the service's Deployment, and
    // tell its owner.
    let (at, ns, service) = error_rise();
    let target = format!("{ns}/Deployment/{service}");
    let path = deployment_path(&ns, &service);
    let h = Harness::shipped(shipped_in_dry_run);
    let name = service.clone();
    h.seed_cluster_with(at, |d| Seed {
        rollout_at: (d == name).then(|| at - minutes(20)),
        ..Seed::default()
    });
    let stored = h.kube.object("Deployment", &ns, &service).unwrap();
    let previous = h
        .kube
        .object("ReplicaSet", &ns, &format!("{service}-{PREVIOUS_HASH}"))
        .unwrap();
    let run = h.run_job(at);
    ok(&run);
    let (action, request, body) =
        printed_request(&run, &format!("error-rate-rollback rollback {target}"));
    assert!(
        action.ends_with(&format!(
            "dry_run: dry_run — the API server accepts it (dry run, nothing changed): roll back Deployment {ns}/{service} from revision 2 to revision 1 (ReplicaSet {service}-{PREVIOUS_HASH})"
        )),
        "{action}"
    );
    assert_eq!(
        request,
        format!("PATCH {path}?dryRun=All (application/merge-patch+json)")
    );
    assert_eq!(
        body,
        json!({"metadata": {"resourceVersion": stored["metadata"]["resourceVersion"]},
               "spec": {"template": {"spec": {"containers": previous["spec"]["template"]["spec"]["containers"]}}}})
    );
    one_dry_run(&h, &path, &body);
    assert!(
        action_lines(&run).iter().any(|l| l
            .contains(&format!("escalate-to-owner escalate {target}"))
            && l.ends_with("dry_run: dry_run — would tell route critical-to-slack")),
        "{}",
        text(&run.stdout)
    );
    // The same rise without a recent rollout is only told to its owner.
    let h = Harness::shipped(shipped_in_dry_run);
    h.seed_cluster(at, no_labels);
    let run = h.run_job(at);
    ok(&run);
    assert!(
        !text(&run.stdout).contains("error-rate-rollback"),
        "{}",
        text(&run.stdout)
    );
    assert!(action_lines(&run)
        .iter()
        .any(|l| l.contains(&format!("escalate-to-owner escalate {target}"))));
    assert!(h.kube.requests().iter().all(|r| !r.persists()));

    // A dead canary → escalate to the owner's route; nothing asked of the cluster.
    let (at, canary) = dead_canary();
    let h = Harness::shipped(shipped_in_dry_run);
    let run = h.run(&["run", "heartbeat", "--at", &rfc3339(at)]);
    ok(&run);
    let line = action_lines(&run)
        .into_iter()
        .find(|l| l.contains("escalate-to-owner escalate"))
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(
        line.ends_with(" dry_run: dry_run — would tell route critical-to-slack"),
        "{line}"
    );
    let actions = h.actions(Some("dry_run"));
    assert!(
        actions.iter().any(|a| a["runbook"] == "escalate-to-owner"),
        "{actions:#?}"
    );
    assert!(h.kube.requests().is_empty(), "{:#?}", h.kube.requests());
    let _ = canary;
}
