//! The fence around cluster writes, checked before anything is recorded or sent: the
//! namespace allowlist, the opt-out label on the workload, the circuit breaker, the
//! per-target cooldown, and the hourly caps (per runbook and across all runbooks). Every
//! count comes from the history's `ActionRecorded` / `ActionUpdated` events (a [`Ledger`]),
//! so a crashed or repeated run sees the same fence.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::config::runbooks::{Runbook, RunbookSet};
use crate::state::history::HistoryEvent;

use super::record::{Ledger, TargetRef};

/// What the caller found out about the target before deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetFacts {
    pub target: TargetRef,
    /// The workload's labels (the opt-out label is looked up here).
    pub labels: BTreeMap<String, String>,
    /// When its latest rollout started (newest ReplicaSet / revision), if known.
    pub last_rollout_at: Option<OffsetDateTime>,
}

/// Why the fence said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The finding names no workload to act on.
    NoTarget,
    NamespaceNotAllowed,
    OptedOut,
    CircuitOpen,
    Cooldown,
    RunbookHourlyCap,
    GlobalHourlyCap,
    /// The Kubernetes API could not be reached or read (no configuration, down, forbidden):
    /// the target and its labels are unknown, so nothing is sent.
    KubeUnavailable,
}

impl RefusalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::NoTarget => "no_target",
            RefusalReason::NamespaceNotAllowed => "namespace_not_allowed",
            RefusalReason::OptedOut => "opted_out",
            RefusalReason::CircuitOpen => "circuit_open",
            RefusalReason::Cooldown => "cooldown",
            RefusalReason::RunbookHourlyCap => "runbook_hourly_cap",
            RefusalReason::GlobalHourlyCap => "global_hourly_cap",
            RefusalReason::KubeUnavailable => "kube_unavailable",
        }
    }
}

/// A refusal, with the reason and a sentence saying what was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The fence of one runbook set (its global cap).
#[derive(Debug, Clone, PartialEq)]
pub struct Fence {
    pub global_max_actions_per_hour: u32,
}

impl Fence {
    pub fn new(set: &RunbookSet) -> Fence {
        Fence {
            global_max_actions_per_hour: set.global.max_actions_per_hour,
        }
    }

    /// Whether `runbook` may make one more cluster write on `target` at `now`.
    pub fn check(
        &self,
        events: &[HistoryEvent],
        runbook: &Runbook,
        target: &TargetFacts,
        now: OffsetDateTime,
    ) -> Result<(), Refusal> {
        self.check_ledger(&Ledger::from_events(events), runbook, target, now, 1)
    }

    /// As [`Fence::check`], for `adding` new cluster writes at once, against a ledger that
    /// may already hold this run's earlier decisions.
    pub fn check_ledger(
        &self,
        ledger: &Ledger,
        runbook: &Runbook,
        target: &TargetFacts,
        now: OffsetDateTime,
        adding: u32,
    ) -> Result<(), Refusal> {
        let refuse = |reason, detail: String| Err(Refusal { reason, detail });
        let t = &target.target;
        if !runbook.allows_namespace(&t.namespace) {
            return refuse(
                RefusalReason::NamespaceNotAllowed,
                format!(
                    "namespace `{}` is outside runbook `{}`'s allowed namespaces ({})",
                    t.namespace,
                    runbook.name,
                    runbook.limits.allowed_namespaces.join(", ")
                ),
            );
        }
        if let Some((key, value)) = runbook
            .limits
            .opt_out_label
            .iter()
            .find(|(k, v)| target.labels.get(*k) == Some(*v))
        {
            return refuse(
                RefusalReason::OptedOut,
                format!("{t} is labelled {key}={value:?}: opted out of remediation"),
            );
        }
        let on_target: Vec<_> = ledger
            .actions
            .values()
            .filter(|a| a.target() == Some(t))
            .collect();
        let breaker = &runbook.limits.circuit_breaker;
        let since = now - std_duration(breaker.window.0);
        let mut outcomes: Vec<(OffsetDateTime, bool)> = on_target
            .iter()
            .filter_map(|a| a.outcome())
            .filter(|(at, _)| *at > since && *at <= now)
            .collect();
        outcomes.sort();
        let failed_in_a_row = outcomes.iter().rev().take_while(|(_, ok)| !ok).count();
        if failed_in_a_row >= breaker.after as usize {
            return refuse(
                RefusalReason::CircuitOpen,
                format!(
                    "circuit breaker open for {t}: the last {failed_in_a_row} action(s) within {} failed or were ineffective",
                    breaker.window
                ),
            );
        }
        let cooldown = std_duration(runbook.limits.cooldown.0);
        if let Some(last) = on_target
            .iter()
            .filter(|a| a.counts())
            .map(|a| a.last_acted_at())
            .filter(|at| *at <= now)
            .max()
        {
            if now - last < cooldown {
                return refuse(
                    RefusalReason::Cooldown,
                    format!(
                        "cooldown: {t} was acted on at {last}, {} ago (cooldown {})",
                        humantime::format_duration(std::time::Duration::from_secs(
                            (now - last).whole_seconds().max(0) as u64
                        )),
                        runbook.limits.cooldown
                    ),
                );
            }
        }
        let hour_ago = now - Duration::hours(1);
        let in_last_hour = |a: &&super::record::LedgerAction| {
            a.counts() && a.recorded_at > hour_ago && a.recorded_at <= now
        };
        let by_runbook = ledger
            .actions
            .values()
            .filter(in_last_hour)
            .filter(|a| a.runbook() == Some(runbook.name.as_str()))
            .count() as u32;
        if by_runbook + adding > runbook.limits.max_actions_per_hour {
            return refuse(
                RefusalReason::RunbookHourlyCap,
                format!(
                    "runbook `{}` made {by_runbook} action(s) in the last hour (at most {} an hour)",
                    runbook.name, runbook.limits.max_actions_per_hour
                ),
            );
        }
        let all = ledger.actions.values().filter(in_last_hour).count() as u32;
        if all + adding > self.global_max_actions_per_hour {
            return refuse(
                RefusalReason::GlobalHourlyCap,
                format!(
                    "{all} action(s) in the last hour across all runbooks (at most {} an hour)",
                    self.global_max_actions_per_hour
                ),
            );
        }
        Ok(())
    }
}

fn std_duration(d: std::time::Duration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::remediate::record::{action_id, ActionRecord, ActionStatus, ActionUpdate};
    use crate::config::runbooks::{Mode, Plain, RunbookStep};
    use crate::findings::WorkloadKind;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    fn runbook(limits: &str) -> Runbook {
        let text = format!(
            "runbooks:\n  - name: rb\n    mode: auto\n    triggers: [{{signal: restart_frequency}}]\n    steps: [{{rollout_restart: {{}}}}]\n    limits: {limits}\n"
        );
        RunbookSet::from_texts(vec![("r.yaml".into(), text)])
            .unwrap()
            .runbooks
            .remove(0)
    }

    fn facts(namespace: &str, name: &str) -> TargetFacts {
        TargetFacts {
            target: TargetRef::new(namespace, WorkloadKind::Deployment, name),
            labels: BTreeMap::new(),
            last_rollout_at: None,
        }
    }

    /// History builder: actions recorded (and updated) at minutes before NOW.
    #[derive(Default)]
    struct History(Vec<HistoryEvent>);

    impl History {
        fn act(
            mut self,
            episode: &str,
            runbook: &str,
            target: &TargetFacts,
            mode: Mode,
            minutes_ago: i64,
            updates: &[(i64, ActionStatus)],
        ) -> History {
            let record = ActionRecord {
                action_id: action_id(episode, runbook, 0),
                episode_id: episode.into(),
                runbook: runbook.into(),
                step_index: 0,
                step: RunbookStep::RolloutRestart(Plain::default()),
                mode,
                target: Some(target.target.clone()),
                rule: String::new(),
                entity: BTreeMap::new(),
            };
            let mut push = |e| {
                let seq = self.0.len() as u64 + 1;
                self.0.push(HistoryEvent::from_new(seq, e));
            };
            push(record.recorded_event(NOW - Duration::minutes(minutes_ago), "j", "r"));
            for (ago, status) in updates {
                let update = ActionUpdate {
                    runbook: runbook.into(),
                    target: record.target.clone(),
                    detail: String::new(),
                    reason: None,
                    request: None,
                };
                push(update.event(
                    &record.action_id,
                    *status,
                    NOW - Duration::minutes(*ago),
                    "j",
                    "r",
                ));
            }
            self
        }
    }

    fn reason(result: Result<(), Refusal>) -> Option<RefusalReason> {
        result.err().map(|r| r.reason)
    }

    #[test]
    fn fence_namespace_allowlist_with_wildcards() {
        let rb = runbook("{allowed_namespaces: [shop, \"team-*\"]}");
        let fence = Fence {
            global_max_actions_per_hour: 10,
        };
        assert_eq!(fence.check(&[], &rb, &facts("shop", "cart"), NOW), Ok(()));
        assert_eq!(fence.check(&[], &rb, &facts("team-a", "x"), NOW), Ok(()));
        let refused = fence
            .check(&[], &rb, &facts("kube-system", "dns"), NOW)
            .unwrap_err();
        assert_eq!(refused.reason, RefusalReason::NamespaceNotAllowed);
        assert_eq!(
            refused.detail,
            "namespace `kube-system` is outside runbook `rb`'s allowed namespaces (shop, team-*)"
        );
    }

    #[test]
    fn fence_opted_out_workload_is_refused_by_label_value() {
        let rb = runbook("{}");
        let fence = Fence {
            global_max_actions_per_hour: 10,
        };
        let mut target = facts("shop", "cart");
        target
            .labels
            .insert("forewarn.io/remediate".into(), "true".into());
        assert_eq!(fence.check(&[], &rb, &target, NOW), Ok(()));
        target
            .labels
            .insert("forewarn.io/remediate".into(), "false".into());
        assert_eq!(
            reason(fence.check(&[], &rb, &target, NOW)),
            Some(RefusalReason::OptedOut)
        );
    }

    #[test]
    fn fence_cooldown_counts_from_the_last_record_or_apply_on_the_target() {
        let rb = runbook("{cooldown: 30m}");
        let fence = Fence {
            global_max_actions_per_hour: 10,
        };
        let cart = facts("shop", "cart");
        let recent = History::default().act(
            "e1",
            "rb",
            &cart,
            Mode::Auto,
            50,
            &[(20, ActionStatus::Applied)],
        );
        let refused = fence.check(&recent.0, &rb, &cart, NOW).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::Cooldown);
        assert!(
            refused.detail.contains("20m ago (cooldown 30m)"),
            "{refused}"
        );
        // Another target, or the same one after the cooldown, is fine.
        assert_eq!(
            fence.check(&recent.0, &rb, &facts("shop", "web"), NOW),
            Ok(())
        );
        let old = History::default().act(
            "e1",
            "rb",
            &cart,
            Mode::Auto,
            50,
            &[(31, ActionStatus::Applied)],
        );
        assert_eq!(fence.check(&old.0, &rb, &cart, NOW), Ok(()));
        // Dry runs and rejected approvals change nothing and do not count.
        let dry = History::default().act(
            "e1",
            "rb",
            &cart,
            Mode::DryRun,
            5,
            &[(5, ActionStatus::DryRun)],
        );
        assert_eq!(fence.check(&dry.0, &rb, &cart, NOW), Ok(()));
        let rejected = History::default().act(
            "e1",
            "rb",
            &cart,
            Mode::Approve,
            5,
            &[(4, ActionStatus::Rejected)],
        );
        assert_eq!(fence.check(&rejected.0, &rb, &cart, NOW), Ok(()));
        let pending = History::default().act(
            "e1",
            "rb",
            &cart,
            Mode::Approve,
            5,
            &[(5, ActionStatus::Pending)],
        );
        assert_eq!(
            reason(fence.check(&pending.0, &rb, &cart, NOW)),
            Some(RefusalReason::Cooldown)
        );
    }

    #[test]
    fn fence_hourly_caps_per_runbook_and_global() {
        let rb = runbook("{max_actions_per_hour: 2, cooldown: 1m}");
        let fence = Fence {
            global_max_actions_per_hour: 3,
        };
        let target = facts("shop", "new");
        let one = History::default().act("e1", "rb", &facts("shop", "a"), Mode::Auto, 10, &[]);
        assert_eq!(fence.check(&one.0, &rb, &target, NOW), Ok(()));
        let two = one.act("e2", "rb", &facts("shop", "b"), Mode::Auto, 20, &[]);
        let refused = fence.check(&two.0, &rb, &target, NOW).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::RunbookHourlyCap);
        assert_eq!(
            refused.detail,
            "runbook `rb` made 2 action(s) in the last hour (at most 2 an hour)"
        );
        // Older than an hour: no longer counted.
        let old = History::default()
            .act("e1", "rb", &facts("shop", "a"), Mode::Auto, 61, &[])
            .act("e2", "rb", &facts("shop", "b"), Mode::Auto, 20, &[]);
        assert_eq!(fence.check(&old.0, &rb, &target, NOW), Ok(()));
        // Other runbooks' actions count against the global cap only.
        let others = History::default()
            .act("e1", "other", &facts("shop", "a"), Mode::Auto, 10, &[])
            .act("e2", "other", &facts("shop", "b"), Mode::Auto, 10, &[])
            .act("e3", "rb", &facts("shop", "c"), Mode::Auto, 10, &[]);
        let refused = fence.check(&others.0, &rb, &target, NOW).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::GlobalHourlyCap);
        let two_others = History::default()
            .act("e1", "other", &facts("shop", "a"), Mode::Auto, 10, &[])
            .act("e3", "rb", &facts("shop", "c"), Mode::Auto, 10, &[]);
        assert_eq!(fence.check(&two_others.0, &rb, &target, NOW), Ok(()));
    }

    #[test]
    fn fence_circuit_breaker_opens_after_failures_in_a_row() {
        let rb = runbook(
            "{cooldown: 1m, max_actions_per_hour: 10, circuit_breaker: {after: 2, window: 4h}}",
        );
        let fence = Fence {
            global_max_actions_per_hour: 10,
        };
        let cart = facts("shop", "cart");
        let one_bad = History::default().act(
            "e1",
            "rb",
            &cart,
            Mode::Auto,
            100,
            &[(99, ActionStatus::Applied), (80, ActionStatus::Ineffective)],
        );
        assert_eq!(fence.check(&one_bad.0, &rb, &cart, NOW), Ok(()));
        let two_bad = one_bad.act(
            "e2",
            "rb",
            &cart,
            Mode::Auto,
            60,
            &[(59, ActionStatus::Failed)],
        );
        let refused = fence.check(&two_bad.0, &rb, &cart, NOW).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::CircuitOpen);
        assert!(
            refused
                .detail
                .starts_with("circuit breaker open for shop/Deployment/cart: the last 2"),
            "{refused}"
        );
        // An effective action in between closes it; failures outside the window are forgotten.
        let healed = History::default()
            .act(
                "e1",
                "rb",
                &cart,
                Mode::Auto,
                100,
                &[(80, ActionStatus::Ineffective)],
            )
            .act(
                "e2",
                "rb",
                &cart,
                Mode::Auto,
                70,
                &[(65, ActionStatus::Effective)],
            )
            .act(
                "e3",
                "rb",
                &cart,
                Mode::Auto,
                60,
                &[(59, ActionStatus::Failed)],
            );
        assert_eq!(fence.check(&healed.0, &rb, &cart, NOW), Ok(()));
        let old = History::default()
            .act(
                "e1",
                "rb",
                &cart,
                Mode::Auto,
                300,
                &[(290, ActionStatus::Failed)],
            )
            .act(
                "e2",
                "rb",
                &cart,
                Mode::Auto,
                60,
                &[(59, ActionStatus::Failed)],
            );
        assert_eq!(fence.check(&old.0, &rb, &cart, NOW), Ok(()));
        assert_eq!(
            fence.check(&two_bad.0, &rb, &facts("shop", "web"), NOW),
            Ok(())
        );
    }
}
