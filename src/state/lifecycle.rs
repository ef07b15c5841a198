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
