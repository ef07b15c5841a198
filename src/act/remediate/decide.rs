//! Announcements × runbooks → what to do: for each firing announcement, every runbook one of
//! whose triggers takes its finding gives either the actions to record (id, step, mode,
//! target) or the fence's refusal. An action whose id the history already holds is never
//! planned again (it is listed as already recorded), so a repeated or crashed run cannot
//! apply a step twice. Decisions of one call count against the caps of later ones.

use time::OffsetDateTime;

use crate::config::runbooks::{Runbook, RunbookSet};
use crate::state::history::{AnnouncementKind, HistoryEvent, NewEvent};
use crate::state::Announcement;

use super::fence::{Fence, Refusal, RefusalReason, TargetFacts};
use super::record::{action_id, ActionRecord, ActionStatus, ActionUpdate, Ledger};

/// An announcement and what the caller found out about its target (`None` when the finding
/// names no workload, or it could not be resolved).
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub announcement: &'a Announcement,
    pub target: Option<TargetFacts>,
}

/// What one runbook does about one announcement.
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookDecision {
    pub episode_id: String,
    pub runbook: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Actions to record now (before sending), in step order; `already_recorded` are the ids
    /// of this runbook's steps the history already holds (skipped).
    Planned {
        actions: Vec<ActionRecord>,
        already_recorded: Vec<String>,
    },
    /// The fence refused the runbook's cluster steps: none of its steps is planned;
    /// `actions` are the ones it would have recorded (their refusal is recorded instead);
    /// `escalate` is the circuit breaker's route when the breaker is open.
    Refused {
        refusal: Refusal,
        escalate: Option<String>,
        actions: Vec<ActionRecord>,
    },
}

impl RunbookDecision {
    /// The events the run appends for this decision, before sending anything: an
    /// `ActionRecorded` per planned action, or an `ActionUpdated { status: refused }` with the
    /// reason per refused one (see [`super::record`] for the payloads).
    pub fn events(&self, at: OffsetDateTime, job: &str, run_id: &str) -> Vec<NewEvent> {
        match &self.outcome {
            Outcome::Planned { actions, .. } => actions
                .iter()
                .map(|a| a.recorded_event(at, job, run_id))
                .collect(),
            Outcome::Refused {
                refusal, actions, ..
            } => actions
                .iter()
                .map(|a| {
                    let update = ActionUpdate {
                        runbook: a.runbook.clone(),
                        target: a.target.clone(),
                        detail: refusal.detail.clone(),
                        reason: Some(refusal.reason.as_str().to_string()),
                        request: None,
                    };
                    a.update_event(&update, ActionStatus::Refused, at, job, run_id)
                })
                .collect(),
        }
    }
}

/// Whether the target's latest rollout started within `rollout_within` before the episode.
fn began_with_rollout(
    runbook: &Runbook,
    target: Option<&TargetFacts>,
    first_seen_at: OffsetDateTime,
) -> bool {
    let within = time::Duration::try_from(runbook.rollout_within.0).unwrap_or(time::Duration::MAX);
    target
        .and_then(|t| t.last_rollout_at)
        .is_some_and(|at| at <= first_seen_at && first_seen_at - at <= within)
}

/// Decides every candidate against `set`, counting against the history `events` and against
/// the actions planned earlier in the same call. Resolved announcements lead to nothing.
pub fn decide(
    set: &RunbookSet,
    events: &[HistoryEvent],
    candidates: &[Candidate<'_>],
    now: OffsetDateTime,
) -> Vec<RunbookDecision> {
    let fence = Fence::new(set);
    let mut ledger = Ledger::from_events(events);
    let mut decisions = Vec::new();
    for candidate in candidates {
        let announcement = candidate.announcement;
        if announcement.kind == AnnouncementKind::Resolved {
            continue;
        }
        let episode = &announcement.episode;
        for runbook in &set.runbooks {
            let rollout =
                began_with_rollout(runbook, candidate.target.as_ref(), episode.first_seen_at);
            if !runbook.takes(&announcement.finding, rollout) {
                continue;
            }
            let mut actions = Vec::new();
            let mut already_recorded = Vec::new();
            for (index, step) in runbook.steps.iter().enumerate() {
                if !step.applies(rollout) {
                    continue;
                }
                let id = action_id(&episode.episode_id, &runbook.name, index);
                if ledger.is_recorded(&id) {
                    already_recorded.push(id);
                    continue;
                }
                actions.push(ActionRecord {
                    action_id: id,
                    episode_id: episode.episode_id.clone(),
                    runbook: runbook.name.clone(),
                    step_index: index,
                    step: step.clone(),
                    mode: runbook.mode,
                    target: candidate.target.as_ref().map(|t| t.target.clone()),
                    rule: announcement.finding.rule.clone(),
                    entity: announcement.finding.entity.clone(),
                });
            }
            let writes = actions.iter().filter(|a| a.step.writes_cluster()).count() as u32;
            let fenced = if writes == 0 {
                Ok(())
            } else {
                match &candidate.target {
                    None => Err(Refusal {
                        reason: RefusalReason::NoTarget,
                        detail: format!(
                            "runbook `{}`: the finding names no workload to act on",
                            runbook.name
                        ),
                    }),
                    // A dry run is fenced like the real action, so it says truthfully
                    // whether the action would be refused (it never counts itself).
                    Some(target) => fence.check_ledger(&ledger, runbook, target, now, writes),
                }
            };
            let outcome = match fenced {
                Ok(()) => {
                    for action in &actions {
                        ledger.add(action.clone(), now);
                    }
                    Outcome::Planned {
                        actions,
                        already_recorded,
                    }
                }
                Err(refusal) => Outcome::Refused {
                    escalate: (refusal.reason == RefusalReason::CircuitOpen)
                        .then(|| runbook.limits.circuit_breaker.escalate.clone())
                        .flatten(),
                    refusal,
                    actions,
                },
            };
            decisions.push(RunbookDecision {
                episode_id: episode.episode_id.clone(),
                runbook: runbook.name.clone(),
                outcome,
            });
        }
    }
    decisions
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;
    use time::Duration;

    use super::*;
    use crate::act::remediate::record::TargetRef;
    use crate::config::runbooks::{Mode, RunbookStep};
    use crate::findings::{Finding, FindingWindow, Severity, Signal, Status, WorkloadKind};
    use crate::state::history::EventKind;
    use crate::state::Episode;

    const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    fn announcement(
        rule: &str,
        signal: Signal,
        episode_id: &str,
        kind: AnnouncementKind,
    ) -> Announcement {
        let entity: BTreeMap<String, String> = [
            ("namespace", "shop"),
            ("pod", "cart-7d9-x"),
            ("container", "app"),
            ("workload", "Deployment/cart"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let first_seen_at = NOW - Duration::minutes(20);
        let finding = Finding::new(
            rule,
            signal,
            Severity::Critical,
            Status::Firing,
            entity.clone(),
            NOW,
            FindingWindow {
                from: NOW - Duration::hours(1),
                to: NOW,
            },
            String::new(),
            serde_json::Map::new(),
            None,
        );
        Announcement {
            kind,
            episode: Episode {
                episode_id: episode_id.into(),
                fingerprint: finding.id.clone(),
                job: "frequent".into(),
                rule: rule.into(),
                signal,
                entity,
                severity: Severity::Critical,
                first_seen_at,
                last_seen_at: NOW,
                last_announced_at: None,
                announced_severity: None,
                resolved_at: None,
                silenced_by: None,
                finding: finding.clone(),
            },
            finding,
        }
    }

    fn cart(rollout_minutes_before_episode: Option<i64>) -> TargetFacts {
        TargetFacts {
            target: TargetRef::new("shop", WorkloadKind::Deployment, "cart"),
            labels: BTreeMap::new(),
            last_rollout_at: rollout_minutes_before_episode
                .map(|m| NOW - Duration::minutes(20) - Duration::minutes(m)),
        }
    }

    fn planned(decision: &RunbookDecision) -> Vec<(String, usize, Mode)> {
        match &decision.outcome {
            Outcome::Planned { actions, .. } => actions
                .iter()
                .map(|a| (a.step.name().to_string(), a.step_index, a.mode))
                .collect(),
            Outcome::Refused { refusal, .. } => panic!("refused: {refusal}"),
        }
    }

    fn history(actions: &[ActionRecord], at: OffsetDateTime) -> Vec<HistoryEvent> {
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                HistoryEvent::from_new(i as u64 + 1, a.recorded_event(at, "frequent", "run-1"))
            })
            .collect()
    }

    #[test]
    fn decide_crash_loop_rolls_back_after_a_rollout_else_restarts() {
        let set = RunbookSet::embedded().unwrap();
        let a = announcement(
            "restart-frequency",
            Signal::RestartFrequency,
            "ep-1",
            AnnouncementKind::New,
        );
        let after = decide(
            &set,
            &[],
            &[Candidate {
                announcement: &a,
                target: Some(cart(Some(10))),
            }],
            NOW,
        );
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].runbook, "crashloop-remediation");
        assert_eq!(
            planned(&after[0]),
            [("rollback".to_string(), 0, Mode::DryRun)]
        );
        // A rollout long before the episode (or none) did not start it: restart instead.
        for target in [cart(Some(61)), cart(None)] {
            let without = decide(
                &set,
                &[],
                &[Candidate {
                    announcement: &a,
                    target: Some(target),
                }],
                NOW,
            );
            assert_eq!(
                planned(&without[0]),
                [("rollout_restart".to_string(), 1, Mode::DryRun)]
            );
        }
    }

    #[test]
    fn decide_memory_pressure_plans_an_approval_and_a_notification() {
        let set = RunbookSet::embedded().unwrap();
        let a = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-m",
            AnnouncementKind::New,
        );
        let decisions = decide(
            &set,
            &[],
            &[Candidate {
                announcement: &a,
                target: Some(cart(None)),
            }],
            NOW,
        );
        assert_eq!(decisions.len(), 1);
        let Outcome::Planned {
            actions,
            already_recorded,
        } = &decisions[0].outcome
        else {
            panic!("{decisions:?}")
        };
        assert!(already_recorded.is_empty());
        assert_eq!(
            actions[0].action_id,
            action_id("ep-m", "oom-remediation", 0)
        );
        assert_eq!(actions[0].mode, Mode::Approve);
        assert!(matches!(actions[0].step, RunbookStep::RaiseMemory(_)));
        assert_eq!(actions[0].target, Some(cart(None).target));
        assert_eq!(actions[1].step.name(), "notify");
    }

    #[test]
    fn decide_error_rise_after_a_rollout_rolls_back_and_always_escalates() {
        let set = RunbookSet::embedded().unwrap();
        let a = announcement(
            "error-rate",
            Signal::ErrorRate,
            "ep-e",
            AnnouncementKind::Escalated,
        );
        let names = |target| -> Vec<String> {
            decide(
                &set,
                &[],
                &[Candidate {
                    announcement: &a,
                    target,
                }],
                NOW,
            )
            .iter()
            .map(|d| format!("{}:{:?}", d.runbook, planned(d)))
            .collect()
        };
        assert_eq!(
            names(Some(cart(Some(5)))),
            [
                "error-rate-rollback:[(\"rollback\", 0, Approve), (\"notify\", 1, Approve)]",
                "escalate-to-owner:[(\"escalate\", 0, Auto)]",
            ]
        );
        assert_eq!(
            names(Some(cart(None))),
            ["escalate-to-owner:[(\"escalate\", 0, Auto)]"]
        );
        // A dead canary has no workload: escalation needs none.
        let canary = announcement(
            "canary-heartbeat",
            Signal::HeartbeatMissing,
            "ep-c",
            AnnouncementKind::New,
        );
        let decisions = decide(
            &set,
            &[],
            &[Candidate {
                announcement: &canary,
                target: None,
            }],
            NOW,
        );
        assert_eq!(decisions.len(), 1);
        assert_eq!(
            planned(&decisions[0]),
            [("escalate".to_string(), 0, Mode::Auto)]
        );
    }

    #[test]
    fn decide_never_plans_a_recorded_action_again() {
        let set = RunbookSet::embedded().unwrap();
        let a = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-m",
            AnnouncementKind::New,
        );
        let candidates = [Candidate {
            announcement: &a,
            target: Some(cart(None)),
        }];
        let first = decide(&set, &[], &candidates, NOW);
        let events: Vec<HistoryEvent> = first[0]
            .events(NOW, "frequent", "run-1")
            .into_iter()
            .enumerate()
            .map(|(i, e)| HistoryEvent::from_new(i as u64 + 1, e))
            .collect();
        assert_eq!(events.len(), 2);
        // The same run again (a crash after recording, or a repeat an hour later).
        for at in [NOW, NOW + Duration::hours(2)] {
            let again = decide(&set, &events, &candidates, at);
            assert_eq!(
                again[0].outcome,
                Outcome::Planned {
                    actions: Vec::new(),
                    already_recorded: vec![
                        action_id("ep-m", "oom-remediation", 0),
                        action_id("ep-m", "oom-remediation", 1)
                    ],
                }
            );
        }
        // Positive control: a new episode of the same workload is planned (after the cooldown).
        let b = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-n",
            AnnouncementKind::New,
        );
        let later = decide(
            &set,
            &events,
            &[Candidate {
                announcement: &b,
                target: Some(cart(None)),
            }],
            NOW + Duration::hours(2),
        );
        assert_eq!(planned(&later[0]).len(), 2);
    }

    #[test]
    fn decide_refuses_and_counts_this_runs_own_decisions() {
        let set = RunbookSet::embedded().unwrap();
        // Within the hour after an applied raise on cart: cooldown (oom-remediation: 1h).
        let a = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-m",
            AnnouncementKind::New,
        );
        let first = decide(
            &set,
            &[],
            &[Candidate {
                announcement: &a,
                target: Some(cart(None)),
            }],
            NOW,
        );
        let Outcome::Planned { actions, .. } = &first[0].outcome else {
            panic!()
        };
        let events = history(actions, NOW);
        let b = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-n",
            AnnouncementKind::New,
        );
        let refused = decide(
            &set,
            &events,
            &[Candidate {
                announcement: &b,
                target: Some(cart(None)),
            }],
            NOW + Duration::minutes(30),
        );
        let Outcome::Refused {
            refusal,
            escalate,
            actions,
        } = &refused[0].outcome
        else {
            panic!("{refused:?}")
        };
        assert_eq!(refusal.reason, RefusalReason::Cooldown);
        assert_eq!(escalate, &None);
        assert_eq!(
            actions.len(),
            2,
            "both steps of the runbook are refused together"
        );
        // Two episodes on the same target in one call: the second sees the first's action.
        let both = decide(
            &set,
            &[],
            &[
                Candidate {
                    announcement: &a,
                    target: Some(cart(None)),
                },
                Candidate {
                    announcement: &b,
                    target: Some(cart(None)),
                },
            ],
            NOW,
        );
        assert_eq!(planned(&both[0]).len(), 2);
        assert!(
            matches!(&both[1].outcome, Outcome::Refused { refusal, .. } if refusal.reason == RefusalReason::Cooldown)
        );
        // Without a workload, the cluster step is refused, not guessed.
        let none = decide(
            &set,
            &[],
            &[Candidate {
                announcement: &a,
                target: None,
            }],
            NOW,
        );
        assert!(
            matches!(&none[0].outcome, Outcome::Refused { refusal, .. } if refusal.reason == RefusalReason::NoTarget)
        );
        // Resolved announcements lead to nothing.
        let resolved = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-r",
            AnnouncementKind::Resolved,
        );
        assert!(decide(
            &set,
            &[],
            &[Candidate {
                announcement: &resolved,
                target: Some(cart(None))
            }],
            NOW
        )
        .is_empty());
    }

    #[test]
    fn decide_open_circuit_breaker_refuses_and_names_the_escalation_route() {
        let set = RunbookSet::embedded().unwrap();
        let a = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-1",
            AnnouncementKind::New,
        );
        let b = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-2",
            AnnouncementKind::New,
        );
        let mut events = Vec::new();
        for (i, (announcement, ago)) in [(&a, 5), (&b, 3)].into_iter().enumerate() {
            let decided = decide(
                &set,
                &[],
                &[Candidate {
                    announcement,
                    target: Some(cart(None)),
                }],
                NOW,
            );
            let Outcome::Planned { actions, .. } = &decided[0].outcome else {
                panic!()
            };
            let at = NOW - Duration::hours(ago);
            events.push(HistoryEvent::from_new(
                2 * i as u64 + 1,
                actions[0].recorded_event(at, "frequent", "r"),
            ));
            let update = ActionUpdate {
                runbook: "oom-remediation".into(),
                target: actions[0].target.clone(),
                detail: "still rising".into(),
                reason: None,
                request: None,
            };
            events.push(HistoryEvent::from_new(
                2 * i as u64 + 2,
                update.event(
                    &actions[0].action_id,
                    ActionStatus::Ineffective,
                    at + Duration::minutes(15),
                    "frequent",
                    "r",
                ),
            ));
        }
        let c = announcement(
            "memory-pressure",
            Signal::MemoryPressure,
            "ep-3",
            AnnouncementKind::New,
        );
        let decided = decide(
            &set,
            &events,
            &[Candidate {
                announcement: &c,
                target: Some(cart(None)),
            }],
            NOW,
        );
        assert_eq!(
            decided[0].outcome,
            Outcome::Refused {
                refusal: Refusal {
                    reason: RefusalReason::CircuitOpen,
                    detail: "circuit breaker open for shop/Deployment/cart: the last 2 action(s) within 6h failed or were ineffective".into(),
                },
                escalate: Some("critical-to-slack".into()),
                actions: vec![
                    ActionRecord {
                        action_id: action_id("ep-3", "oom-remediation", 0),
                        episode_id: "ep-3".into(),
                        runbook: "oom-remediation".into(),
                        step_index: 0,
                        step: set.get("oom-remediation").unwrap().steps[0].clone(),
                        mode: Mode::Approve,
                        target: Some(cart(None).target),
                        rule: "memory-pressure".into(),
                        entity: c.finding.entity.clone(),
                    },
                    ActionRecord {
                        action_id: action_id("ep-3", "oom-remediation", 1),
                        episode_id: "ep-3".into(),
                        runbook: "oom-remediation".into(),
                        step_index: 1,
                        step: set.get("oom-remediation").unwrap().steps[1].clone(),
                        mode: Mode::Approve,
                        target: Some(cart(None).target),
                        rule: "memory-pressure".into(),
                        entity: c.finding.entity.clone(),
                    },
                ],
            }
        );
        // Recorded as refusals with the reason, not as actions: a later run may try again.
        let refusals = decided[0].events(NOW, "frequent", "run-3");
        assert_eq!(
            refusals.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
            [0, 1]
                .map(|i| EventKind::ActionUpdated {
                    action_id: action_id("ep-3", "oom-remediation", i),
                    status: "refused".into(),
                })
                .to_vec()
        );
        assert_eq!(
            refusals[0].payload["detail"],
            "circuit breaker open for shop/Deployment/cart: the last 2 action(s) within 6h failed or were ineffective"
        );
        let mut with_refusals = events.clone();
        with_refusals.extend(
            refusals
                .into_iter()
                .enumerate()
                .map(|(i, e)| HistoryEvent::from_new(10 + i as u64, e)),
        );
        assert!(!Ledger::from_events(&with_refusals).is_recorded(&action_id(
            "ep-3",
            "oom-remediation",
            0
        )));
        // Positive control: with only the older failure, it is planned.
        let decided = decide(
            &set,
            &events[..2],
            &[Candidate {
                announcement: &c,
                target: Some(cart(None)),
            }],
            NOW,
        );
        assert_eq!(planned(&decided[0]).len(), 2);
    }
}
