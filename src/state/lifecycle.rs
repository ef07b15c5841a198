//! The finding lifecycle, as Alertmanager does it, as a pure function: given the open episodes,
//! this run's findings, the silences and `now`, decide which history events to append and which
//! announcements to make. No I/O, so every rule below is unit-tested here:
//!
//! - the first firing opens an episode and is announced once (`New`);
//! - it is announced again only after `repeat_interval` (`Repeat`), or at once when its
//!   severity rises above the severity last announced (`Escalated`);
//! - it resolves when it has not fired for `resolve_after` (hysteresis: a finding that flaps
//!   inside that time keeps one episode), or when a detector reports it `resolved`; a resolution
//!   of an announced episode is announced once (`Resolved`);
//! - a silenced finding is recorded (with the silence's id) but not announced; an episode first
//!   seen under a silence is announced as `New` once the silence ends.
//!
//! Blind sources (the monitor cannot read its telemetry) follow the same shape in `source_step`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::findings::{Finding, Status};
use crate::state::derive::{apply_episode_event, BlindSource, Episode};
use crate::state::history::{AnnouncementKind, EventKind, HistoryEvent, NewEvent, ResolveReason};
use crate::state::silence::{silencing, Silence};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePolicy {
    /// Re-announce a still-firing episode after this long (default 4 h).
    #[serde(with = "humantime_serde_compat")]
    pub repeat_interval: Duration,
    /// Resolve an episode that has not fired for this long (default 15 min).
    #[serde(with = "humantime_serde_compat")]
    pub resolve_after: Duration,
}

impl Default for LifecyclePolicy {
    fn default() -> LifecyclePolicy {
        LifecyclePolicy {
            repeat_interval: Duration::from_secs(4 * 3600),
            resolve_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Durations as humantime text (`4h`, `15m`) in configuration files.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Who is deciding, and as of when: stamped on every event the step produces.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    pub job: &'a str,
    pub run_id: &'a str,
    pub now: OffsetDateTime,
}

impl RunContext<'_> {
    fn event(
        &self,
        kind: EventKind,
        fingerprint: Option<&str>,
        payload: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            at: self.now,
            job: self.job.to_string(),
            run_id: self.run_id.to_string(),
            kind,
            fingerprint: fingerprint.map(str::to_string),
            payload,
        }
    }
}

/// Something a person should hear: the episode as it is after this step, and the finding
/// (for `Resolved`, the last finding with status `resolved`).
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    pub kind: AnnouncementKind,
    pub episode: Episode,
    pub finding: Finding,
}

impl Announcement {
    /// The idempotency key of this announcement's message to `receiver`: the same announcement
    /// (a re-run of the same run, a retry from the outbox) always has the same key, so the
    /// history queues it once and delivers it at most once.
    pub fn notification_key(&self, receiver: &str) -> String {
        let at = self
            .episode
            .last_announced_at
            .unwrap_or(self.episode.last_seen_at);
        format!(
            "{receiver}/{}/{}/{}",
            self.episode.episode_id,
            serde_json::to_value(self.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            at.unix_timestamp()
        )
    }
}

/// How many episodes a step touched, for the run's summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCounts {
    pub new: usize,
    pub ongoing: usize,
    pub resolved: usize,
    pub silenced: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Step {
    pub events: Vec<NewEvent>,
    pub announcements: Vec<Announcement>,
    pub counts: StepCounts,
}

/// Decides one run. `open` are the job's open episodes (resolved ones are ignored), `findings`
/// this run's findings (firing and detector-resolved), `silences` those to consult (only the
/// ones active at `ctx.now` apply).
pub fn step(
    open: &[Episode],
    findings: &[Finding],
    silences: &[Silence],
    ctx: RunContext<'_>,
    policy: &LifecyclePolicy,
) -> Step {
    let mut state: BTreeMap<String, Episode> = open
        .iter()
        .filter(|e| e.is_open())
        .map(|e| (e.fingerprint.clone(), e.clone()))
        .collect();
    let (firing, resolved) = dedupe(findings);
    let mut out = Step::default();
    let mut touched = std::collections::BTreeSet::new();

    for finding in firing.values() {
        touched.insert(finding.id.clone());
        let silenced_by = silencing(silences, finding, ctx.now).map(|s| s.id.clone());
        let kind = match state.get(&finding.id) {
            None => {
                out.counts.new += 1;
                EventKind::EpisodeOpened {
                    episode_id: format!("{}-{}", finding.id, ctx.now.unix_timestamp()),
                    severity: finding.severity,
                    announced: silenced_by.is_none().then_some(AnnouncementKind::New),
                    silenced_by: silenced_by.clone(),
                }
            }
            Some(episode) => {
                out.counts.ongoing += 1;
                let announced = if silenced_by.is_some() {
                    None
                } else {
                    match (episode.last_announced_at, episode.announced_severity) {
                        (None, _) => Some(AnnouncementKind::New),
                        (_, Some(told)) if finding.severity > told => {
                            Some(AnnouncementKind::Escalated)
                        }
                        (Some(last), _) if ctx.now - last >= policy.repeat_interval => {
                            Some(AnnouncementKind::Repeat)
                        }
                        _ => None,
                    }
                };
                if finding.severity > episode.severity {
                    EventKind::EpisodeEscalated {
                        episode_id: episode.episode_id.clone(),
                        from: episode.severity,
                        to: finding.severity,
                        announced,
                        silenced_by: silenced_by.clone(),
                    }
                } else {
                    EventKind::EpisodeUpdated {
                        episode_id: episode.episode_id.clone(),
                        severity: finding.severity,
                        announced,
                        silenced_by: silenced_by.clone(),
                    }
                }
            }
        };
        if silenced_by.is_some() {
            out.counts.silenced += 1;
        }
        record(&mut out, &mut state, ctx, kind, finding.clone());
    }

    for finding in resolved.values() {
        if touched.contains(&finding.id) {
            continue;
        }
        if let Some(episode) = state.get(&finding.id) {
            touched.insert(finding.id.clone());
            let kind = resolution(
                episode,
                finding,
                silences,
                ctx,
                ResolveReason::DetectorResolved,
            );
            out.counts.resolved += 1;
            record(&mut out, &mut state, ctx, kind, finding.clone());
        }
    }

    let quiet: Vec<Episode> = state
        .values()
        .filter(|e| !touched.contains(&e.fingerprint))
        .filter(|e| ctx.now - e.last_seen_at >= policy.resolve_after)
        .cloned()
        .collect();
    for episode in quiet {
        let mut finding = episode.finding.clone();
        finding.status = Status::Resolved;
        let kind = resolution(&episode, &finding, silences, ctx, ResolveReason::Quiet);
        out.counts.resolved += 1;
        record(&mut out, &mut state, ctx, kind, finding);
    }
    out
}

/// One finding per fingerprint: firing ones (the highest severity wins) and resolved ones.
fn dedupe(findings: &[Finding]) -> (BTreeMap<String, Finding>, BTreeMap<String, Finding>) {
    let mut firing: BTreeMap<String, Finding> = BTreeMap::new();
    let mut resolved: BTreeMap<String, Finding> = BTreeMap::new();
    for finding in findings {
        let into = match finding.status {
            Status::Firing => &mut firing,
            Status::Resolved => &mut resolved,
        };
        match into.get(&finding.id) {
            Some(kept) if kept.severity >= finding.severity => {}
            _ => {
                into.insert(finding.id.clone(), finding.clone());
            }
        }
    }
    (firing, resolved)
}

fn resolution(
    episode: &Episode,
    finding: &Finding,
    silences: &[Silence],
    ctx: RunContext<'_>,
    reason: ResolveReason,
) -> EventKind {
    let silenced_by = silencing(silences, finding, ctx.now).map(|s| s.id.clone());
    let told = episode.last_announced_at.is_some();
    EventKind::EpisodeResolved {
        episode_id: episode.episode_id.clone(),
        reason,
        announced: (told && silenced_by.is_none()).then_some(AnnouncementKind::Resolved),
        silenced_by,
    }
}

/// Appends the event, applies it to `state` and, when it announces, records the announcement
/// with the episode as the event left it.
fn record(
    out: &mut Step,
    state: &mut BTreeMap<String, Episode>,
    ctx: RunContext<'_>,
    kind: EventKind,
    finding: Finding,
) {
    let payload = serde_json::to_value(&finding).expect("a finding serialises to JSON");
    let event = ctx.event(kind, Some(&finding.id), payload);
    let applied = HistoryEvent::from_new(0, event.clone());
    apply_episode_event(state, &applied);
    let announced = match &event.kind {
        EventKind::EpisodeOpened { announced, .. }
        | EventKind::EpisodeUpdated { announced, .. }
        | EventKind::EpisodeEscalated { announced, .. }
        | EventKind::EpisodeResolved { announced, .. } => *announced,
        _ => None,
    };
    if let (Some(kind), Some(episode)) = (announced, state.get(&finding.id)) {
        out.announcements.push(Announcement {
            kind,
            episode: episode.clone(),
            finding,
        });
    }
    if matches!(event.kind, EventKind::EpisodeResolved { .. }) {
        state.remove(&event.fingerprint.clone().unwrap_or_default());
    }
    out.events.push(event);
}

/// "Monitor blind" (the source could not be read) or its end, to announce.
#[derive(Debug, Clone, PartialEq)]
pub struct BlindAnnouncement {
    pub kind: AnnouncementKind,
    pub source: String,
    pub error: Option<String>,
    pub since_at: OffsetDateTime,
}

/// Decides one run's reading of `source`: `Err(redacted error)` when it could not be read.
/// Blindness is announced once when it starts (again after `repeat_interval` while it lasts),
/// recorded on every failing run, and its end announced when the source answers again.
pub fn source_step(
    blind: &[BlindSource],
    source: &str,
    read: Result<(), &str>,
    ctx: RunContext<'_>,
    policy: &LifecyclePolicy,
) -> (Vec<NewEvent>, Option<BlindAnnouncement>) {
    let current = blind.iter().find(|b| b.source == source);
    match (read, current) {
        (Ok(()), None) => (Vec::new(), None),
        (Ok(()), Some(was)) => {
            let kind = EventKind::SourceRecovered {
                source: source.into(),
                announced: was.announced,
            };
            let announcement = was.announced.then(|| BlindAnnouncement {
                kind: AnnouncementKind::Resolved,
                source: source.into(),
                error: None,
                since_at: was.since_at,
            });
            (
                vec![ctx.event(kind, None, serde_json::Value::Null)],
                announcement,
            )
        }
        (Err(error), was) => {
            let announce = match was {
                None => Some(AnnouncementKind::New),
                Some(b) if !b.announced => Some(AnnouncementKind::New),
                Some(b) => match b.last_announced_at {
                    Some(last) if ctx.now - last >= policy.repeat_interval => {
                        Some(AnnouncementKind::Repeat)
                    }
                    _ => None,
                },
            };
            let kind = EventKind::SourceBlind {
                source: source.into(),
                error: error.into(),
                announced: announce.is_some(),
            };
            let announcement = announce.map(|kind| BlindAnnouncement {
                kind,
                source: source.into(),
                error: Some(error.into()),
                since_at: was.map_or(ctx.now, |b| b.since_at),
            });
            (
                vec![ctx.event(kind, None, serde_json::Value::Null)],
                announcement,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use time::Duration as Span;

    use super::*;
    use crate::findings::{FindingWindow, Severity, Signal};
    use crate::state::derive;
    use crate::state::silence::Matcher;

    const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn finding(severity: Severity, status: Status, at: OffsetDateTime) -> Finding {
        let mut entity = BTreeMap::new();
        entity.insert("namespace".to_string(), "shop".to_string());
        entity.insert("pod".to_string(), "cart-1".to_string());
        Finding::new(
            "memory-pressure",
            Signal::MemoryPressure,
            severity,
            status,
            entity,
            at,
            FindingWindow {
                from: at - Span::hours(1),
                to: at,
            },
            "cart-1 is running out of memory".into(),
            Default::default(),
            None,
        )
    }

    fn firing(severity: Severity, at: OffsetDateTime) -> Finding {
        finding(severity, Status::Firing, at)
    }

    /// A job's history, run after run, as the store would keep it.
    #[derive(Default)]
    struct Job {
        history: Vec<HistoryEvent>,
        silences: Vec<Silence>,
    }

    impl Job {
        fn run(&mut self, findings: &[Finding], now: OffsetDateTime) -> Step {
            let open = derive::open_episodes(&self.history);
            let run_id = format!("run-{}", self.history.len());
            let ctx = RunContext {
                job: "prod",
                run_id: &run_id,
                now,
            };
            let step = step(
                &open,
                findings,
                &self.silences,
                ctx,
                &LifecyclePolicy::default(),
            );
            for event in &step.events {
                let seq = self.history.len() as u64 + 1;
                self.history
                    .push(HistoryEvent::from_new(seq, event.clone()));
            }
            step
        }

        fn kinds(step: &Step) -> Vec<AnnouncementKind> {
            step.announcements.iter().map(|a| a.kind).collect()
        }
    }

    #[test]
    fn a_new_finding_is_announced_once() {
        let mut job = Job::default();
        let first = job.run(&[firing(Severity::Warning, T0)], T0);
        assert_eq!(Job::kinds(&first), [AnnouncementKind::New]);
        assert!(matches!(
            first.events[0].kind,
            EventKind::EpisodeOpened { .. }
        ));
        assert_eq!(
            first.counts,
            StepCounts {
                new: 1,
                ..Default::default()
            }
        );
        let episode = &first.announcements[0].episode;
        assert_eq!(episode.first_seen_at, T0);
        assert_eq!(episode.last_announced_at, Some(T0));
        assert_eq!(episode.announced_severity, Some(Severity::Warning));

        let later = T0 + Span::minutes(5);
        let second = job.run(&[firing(Severity::Warning, later)], later);
        assert!(second.announcements.is_empty());
        assert!(matches!(
            second.events[0].kind,
            EventKind::EpisodeUpdated {
                announced: None,
                ..
            }
        ));
        assert_eq!(second.counts.ongoing, 1);
        let open = derive::open_episodes(&job.history);
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].last_seen_at, later);
        assert_eq!(open[0].first_seen_at, T0);
    }

    #[test]
    fn notification_keys_name_receiver_episode_kind_and_time() {
        let mut job = Job::default();
        let first = job.run(&[firing(Severity::Warning, T0)], T0);
        let new = &first.announcements[0];
        let key = new.notification_key("slack-shop");
        assert_eq!(
            key,
            format!(
                "slack-shop/{}/new/{}",
                new.episode.episode_id,
                T0.unix_timestamp()
            )
        );
        assert_ne!(key, new.notification_key("email-oncall"));
        let at = T0 + Span::hours(4);
        let repeat = job.run(&[firing(Severity::Warning, at)], at);
        assert_ne!(repeat.announcements[0].notification_key("slack-shop"), key);
    }

    #[test]
    fn re_announced_only_after_the_repeat_interval() {
        let mut job = Job::default();
        job.run(&[firing(Severity::Warning, T0)], T0);
        let mut at = T0;
        for _ in 0..47 {
            at += Span::minutes(5);
            assert!(
                job.run(&[firing(Severity::Warning, at)], at)
                    .announcements
                    .is_empty(),
                "{at}"
            );
        }
        let at = T0 + Span::hours(4);
        let repeat = job.run(&[firing(Severity::Warning, at)], at);
        assert_eq!(Job::kinds(&repeat), [AnnouncementKind::Repeat]);
        assert_eq!(repeat.announcements[0].episode.last_announced_at, Some(at));
        let next = at + Span::minutes(5);
        assert!(job
            .run(&[firing(Severity::Warning, next)], next)
            .announcements
            .is_empty());
    }

    #[test]
    fn a_rise_in_severity_is_announced_at_once() {
        let mut job = Job::default();
        job.run(&[firing(Severity::Warning, T0)], T0);
        let at = T0 + Span::minutes(5);
        let rise = job.run(&[firing(Severity::Critical, at)], at);
        assert_eq!(Job::kinds(&rise), [AnnouncementKind::Escalated]);
        assert!(matches!(
            rise.events[0].kind,
            EventKind::EpisodeEscalated {
                from: Severity::Warning,
                to: Severity::Critical,
                ..
            }
        ));
        assert_eq!(
            rise.announcements[0].episode.announced_severity,
            Some(Severity::Critical)
        );
        // Down and up again to what was already announced: nothing new to say.
        let at = T0 + Span::minutes(10);
        assert!(job
            .run(&[firing(Severity::Warning, at)], at)
            .announcements
            .is_empty());
        let at = T0 + Span::minutes(15);
        let back = job.run(&[firing(Severity::Critical, at)], at);
        assert!(back.announcements.is_empty());
        assert!(matches!(
            back.events[0].kind,
            EventKind::EpisodeEscalated {
                announced: None,
                ..
            }
        ));
    }

    #[test]
    fn resolves_once_after_resolve_after_without_firing() {
        let mut job = Job::default();
        job.run(&[firing(Severity::Warning, T0)], T0);
        let at = T0 + Span::minutes(14);
        let quiet = job.run(&[], at);
        assert!(quiet.events.is_empty() && quiet.announcements.is_empty());
        assert_eq!(derive::open_episodes(&job.history).len(), 1);

        let at = T0 + Span::minutes(15);
        let resolved = job.run(&[], at);
        assert_eq!(Job::kinds(&resolved), [AnnouncementKind::Resolved]);
        assert!(matches!(
            resolved.events[0].kind,
            EventKind::EpisodeResolved {
                reason: ResolveReason::Quiet,
                ..
            }
        ));
        assert_eq!(resolved.announcements[0].finding.status, Status::Resolved);
        assert_eq!(resolved.announcements[0].episode.resolved_at, Some(at));
        assert!(derive::open_episodes(&job.history).is_empty());
        assert_eq!(derive::episodes(&job.history)[0].resolved_at, Some(at));

        let at = T0 + Span::minutes(20);
        assert!(job.run(&[], at).events.is_empty());
        // Firing again after the resolution opens a new episode, announced as new.
        let again = job.run(&[firing(Severity::Warning, at)], at);
        assert_eq!(Job::kinds(&again), [AnnouncementKind::New]);
        assert_ne!(
            again.announcements[0].episode.episode_id,
            resolved.announcements[0].episode.episode_id
        );
    }

    #[test]
    fn flapping_inside_resolve_after_keeps_one_episode() {
        let mut job = Job::default();
        let mut announced = Vec::new();
        for (minute, fires) in [
            (0, true),
            (5, false),
            (10, true),
            (20, false),
            (24, true),
            (30, false),
        ] {
            let at = T0 + Span::minutes(minute);
            let findings = if fires {
                vec![firing(Severity::Warning, at)]
            } else {
                vec![]
            };
            announced.extend(Job::kinds(&job.run(&findings, at)));
        }
        assert_eq!(announced, [AnnouncementKind::New]);
        let opened = job
            .history
            .iter()
            .filter(|e| matches!(e.kind, EventKind::EpisodeOpened { .. }))
            .count();
        assert_eq!(opened, 1);
        assert_eq!(derive::open_episodes(&job.history).len(), 1);
    }

    #[test]
    fn a_detector_resolution_resolves_at_once() {
        let mut job = Job::default();
        // Positive control first: with no open episode, a resolved finding changes nothing.
        let nothing = job.run(&[finding(Severity::Warning, Status::Resolved, T0)], T0);
        assert!(nothing.events.is_empty());
        job.run(&[firing(Severity::Warning, T0)], T0);
        let at = T0 + Span::minutes(5);
        let resolved = job.run(&[finding(Severity::Warning, Status::Resolved, at)], at);
        assert_eq!(Job::kinds(&resolved), [AnnouncementKind::Resolved]);
        assert!(matches!(
            resolved.events[0].kind,
            EventKind::EpisodeResolved {
                reason: ResolveReason::DetectorResolved,
                ..
            }
        ));
        assert!(derive::open_episodes(&job.history).is_empty());
    }

    #[test]
    fn a_silenced_finding_is_recorded_not_announced() {
        let silence = Silence::new(
            vec![Matcher::parse("namespace=shop").unwrap()],
            T0 - Span::minutes(1),
            T0 + Span::minutes(30),
            "planned migration",
            "ana",
        )
        .unwrap();
        // Positive control: the same finding without the silence is announced.
        let mut loud = Job::default();
        assert_eq!(
            Job::kinds(&loud.run(&[firing(Severity::Warning, T0)], T0)),
            [AnnouncementKind::New]
        );

        let mut job = Job {
            silences: vec![silence.clone()],
            ..Default::default()
        };
        let quiet = job.run(&[firing(Severity::Warning, T0)], T0);
        assert!(quiet.announcements.is_empty());
        assert_eq!(quiet.counts.silenced, 1);
        assert!(matches!(
            &quiet.events[0].kind,
            EventKind::EpisodeOpened { announced: None, silenced_by: Some(id), .. } if *id == silence.id
        ));
        assert_eq!(
            derive::open_episodes(&job.history)[0].silenced_by,
            Some(silence.id.clone())
        );
        let at = T0 + Span::minutes(10);
        assert!(job
            .run(&[firing(Severity::Critical, at)], at)
            .announcements
            .is_empty());

        // Once the silence is over, the still-firing episode is announced as new.
        let at = T0 + Span::minutes(30);
        let after = job.run(&[firing(Severity::Critical, at)], at);
        assert_eq!(Job::kinds(&after), [AnnouncementKind::New]);
        assert_eq!(after.announcements[0].episode.silenced_by, None);
    }

    #[test]
    fn an_episode_never_announced_resolves_silently() {
        let silence = Silence::new(
            vec![Matcher::parse("rule=memory-pressure").unwrap()],
            T0,
            T0 + Span::hours(2),
            "",
            "ana",
        )
        .unwrap();
        let mut job = Job {
            silences: vec![silence],
            ..Default::default()
        };
        job.run(&[firing(Severity::Warning, T0)], T0);
        job.silences.clear();
        let at = T0 + Span::minutes(15);
        let resolved = job.run(&[], at);
        assert!(matches!(
            resolved.events[0].kind,
            EventKind::EpisodeResolved {
                announced: None,
                ..
            }
        ));
        assert!(resolved.announcements.is_empty());
    }

    #[test]
    fn duplicate_findings_in_one_run_make_one_event_at_the_highest_severity() {
        let mut job = Job::default();
        let step = job.run(
            &[
                firing(Severity::Warning, T0),
                firing(Severity::Critical, T0),
            ],
            T0,
        );
        assert_eq!(step.events.len(), 1);
        assert_eq!(step.announcements[0].episode.severity, Severity::Critical);
    }

    #[test]
    fn a_blind_source_is_announced_once_and_its_recovery_too() {
        let policy = LifecyclePolicy::default();
        let mut history: Vec<HistoryEvent> = Vec::new();
        let mut said = Vec::new();
        for (minute, read) in [
            (0, Err("connection refused")),
            (5, Err("connection refused")),
            (10, Ok(())),
            (15, Ok(())),
        ] {
            let ctx = RunContext {
                job: "prod",
                run_id: "r",
                now: T0 + Span::minutes(minute),
            };
            let blind = derive::blind_sources(&history);
            let (events, announcement) = source_step(&blind, "clickhouse", read, ctx, &policy);
            for event in events {
                let seq = history.len() as u64 + 1;
                history.push(HistoryEvent::from_new(seq, event));
            }
            said.push(announcement.map(|a| a.kind));
        }
        assert_eq!(
            said,
            [
                Some(AnnouncementKind::New),
                None,
                Some(AnnouncementKind::Resolved),
                None
            ]
        );
        assert_eq!(history.len(), 3);
        assert!(derive::blind_sources(&history).is_empty());
        // Still blind after the repeat interval: said again.
        let ctx = |m| RunContext {
            job: "prod",
            run_id: "r",
            now: T0 + Span::minutes(m),
        };
        let (events, _) = source_step(&[], "clickhouse", Err("down"), ctx(0), &policy);
        let history: Vec<HistoryEvent> = events
            .into_iter()
            .map(|e| HistoryEvent::from_new(1, e))
            .collect();
        let blind = derive::blind_sources(&history);
        assert_eq!(blind[0].since_at, T0);
        let (_, later) = source_step(&blind, "clickhouse", Err("down"), ctx(240), &policy);
        assert_eq!(
            later.map(|a| (a.kind, a.since_at)),
            Some((AnnouncementKind::Repeat, T0))
        );
    }

    #[test]
    fn policy_reads_human_durations() {
        let policy: LifecyclePolicy =
            serde_saphyr::from_str("repeat_interval: 2h\nresolve_after: 30m\n").unwrap();
        assert_eq!(policy.repeat_interval, Duration::from_secs(7200));
        assert_eq!(policy.resolve_after, Duration::from_secs(1800));
        assert!(serde_saphyr::from_str::<LifecyclePolicy>(
            "repeat_interval: 2h\nresolve_after: 30m\nx: 1\n"
        )
        .is_err());
    }
}
