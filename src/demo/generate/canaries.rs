//! Canary heartbeats: 3–5 canaries with their own periods, one that stops (an incident, which
//! may resume), one with jittered beats and one with a single late beat (hard negatives), the
//! rest steady. The schedules come from `scenarios::canary`; this module picks the roles and
//! writes the labels. `emit` turns the planned beats into log rows.

use rand::seq::SliceRandom;
use rand::Rng;

use super::world::{entity, World};
use crate::demo::scenarios::canary::{self, Role};
use crate::demo::scenarios::names;
use crate::demo::scenarios::{datetime, human_duration, rfc3339_seconds, SEC};

impl World {
    pub(super) fn add_canaries(&mut self) {
        let mut rng = self.child_rng();
        let count = rng.random_range(3..=5);
        let mut roles = vec![Role::Stopped, Role::Jittered, Role::LateBeat];
        while roles.len() < count {
            roles.push(if roles.len() == 4 && rng.random_bool(0.5) {
                Role::Stopped
            } else {
                Role::Steady
            });
        }
        roles.shuffle(&mut rng);
        let mut may_resume = rng.random_bool(0.6);
        for role in roles {
            let name = self.names.canary(&mut rng);
            let period = *names::pick(&mut rng, &[30, 45, 60, 90, 120, 180, 240, 300]) * SEC;
            let planned = canary::plan(&mut rng, self.win, name, period, role, may_resume);
            let grace = canary::grace(planned.period);
            let canary_entity = entity(&[("cluster", &self.cluster), ("canary", &planned.name)]);
            let schedule = format!(
                "beats every {} with up to {:.0}% delay (grace assumed: {})",
                human_duration(planned.period),
                planned.jitter * 100.0,
                human_duration(grace)
            );
            match (&planned.role, &planned.stop, &planned.late_beat) {
                (Role::Stopped, Some(stop), _) => {
                    let resumed = match stop.resumed_at {
                        Some(r) => {
                            may_resume = false;
                            format!("; resumes at {}", rfc3339_seconds(r))
                        }
                        None => "; never resumes".to_string(),
                    };
                    self.incident(
                        "heartbeat_missing",
                        "canary_stopped",
                        canary_entity,
                        stop.onset,
                        Some(stop.impact),
                        format!("{}: {schedule}; stops after the beat at onset, down at onset + period + grace{resumed}", planned.name),
                    );
                    if let Some(last) = self.incidents.last_mut() {
                        last.resolved_at = stop.resumed_at.map(datetime);
                    }
                }
                (Role::Jittered, _, _) => self.negative(
                    "heartbeat_missing",
                    "jittered_canary",
                    canary_entity,
                    format!("{}: {schedule}; never later than period + grace", planned.name),
                ),
                (Role::LateBeat, _, Some((_, gap))) => self.negative(
                    "heartbeat_missing",
                    "late_beat",
                    canary_entity,
                    format!(
                        "{}: {schedule}; one beat arrives {} after the previous one: late, within grace",
                        planned.name,
                        human_duration(*gap)
                    ),
                ),
                _ => {}
            }
            self.canaries.push(planned);
        }
    }
}
