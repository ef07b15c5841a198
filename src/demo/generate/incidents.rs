//! The incidents on memory and restarts, each labelled with its onset and impact (conventions
//! in `generate`'s module docs): memory leaks that end in an OOM kill (and may leak again),
//! crash loops with the kubelet's back-off, and a container whose liveness-probe restarts rise
//! from one every few hours to one every 10–30 min. Error-rate incidents belong to `services`,
//! heartbeat incidents to `canaries`.

use rand::Rng;

use super::world::{Kind, World};
use crate::demo::scenarios::memory::{MemoryModel, Noise, Ramp, Ripple, Trend};
use crate::demo::scenarios::{
    between, human_bytes, human_duration, log_uniform, uniform, HOUR, MIB, MIN, SEC,
};

impl World {
    /// 3–5 memory leaks, 1–3 crash loops, 1–2 restart-rate rises.
    pub(super) fn inject_incidents(&mut self) {
        for _ in 0..self.rng.random_range(3..=5) {
            self.inject_memory_leak();
        }
        for _ in 0..self.rng.random_range(1..=3) {
            self.inject_crash_loop();
        }
        for _ in 0..self.rng.random_range(1..=2) {
            self.inject_restart_rate_rise();
        }
    }

    /// Working set climbs from a healthy level to the limit; the OOM kill restarts the
    /// container (restart gauge +1, working set back to baseline). Half of them leak again.
    fn inject_memory_leak(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let win = self.win;
        let latest_impact = win.end - 20 * MIN;
        // A leak begins once the memory rule's 3 h window has data behind it (the demo and
        // the sweeps judge from then on: see `story::WARM_UP`).
        let earliest_onset = win.start + (3 * HOUR).min(win.len() / 4);
        let room = latest_impact - earliest_onset;
        if room < 45 * MIN {
            return;
        }
        // Wide clusters also have young, steep leaks (30 min to the limit).
        let shortest = if self.wide.is_some() { 0.5 } else { 1.5 };
        let growth =
            (log_uniform(&mut rng, shortest * HOUR as f64, 8.0 * HOUR as f64) as i64).min(room);
        let impact_lo = (win.start + win.len() / 2)
            .max(earliest_onset + growth)
            .min(latest_impact);
        let impact = between(&mut rng, impact_lo, latest_impact + 1);
        let onset = impact - growth;
        let limit = self.ensure_limit(p, c, &[512.0, 768.0, 1024.0, 1536.0, 2048.0]);
        let level = limit * uniform(&mut rng, 0.25, 0.55);
        let accel = if rng.random_bool(0.4) {
            uniform(&mut rng, 0.15, 0.5)
        } else {
            uniform(&mut rng, 0.0, 0.05)
        };
        let ramp = match self.wide.is_some().then(|| rng.random_range(0..4)) {
            Some(2) => Ramp::Concave {
                power: uniform(&mut rng, 1.5, 3.0),
            },
            Some(3) => Ramp::Stepwise {
                steps: rng.random_range(3..=6),
            },
            _ => Ramp::Curved { accel },
        };
        let leaks_again = rng.random_bool(0.5);
        let mut starts = vec![Some(onset)];
        let mut kills = Vec::new();
        let mut oom = impact;
        loop {
            let restart = oom + between(&mut rng, SEC, 12 * SEC);
            kills.push((oom, restart));
            if !leaks_again {
                starts.push(None);
                break;
            }
            let next = restart + between(&mut rng, 0, 10 * MIN);
            starts.push(Some(next));
            if next + growth >= win.end - 5 * MIN {
                break;
            }
            oom = next + growth;
        }
        {
            let container = &mut self.pods[p].containers[c];
            container.memory = MemoryModel {
                trend: Trend::Leak {
                    level,
                    limit,
                    growth,
                    ramp,
                    starts: starts.clone(),
                },
                noise: uniform(&mut rng, 0.004, 0.01),
                noise_shape: Noise::DEFAULT,
                ripple: Ripple {
                    amplitude: uniform(&mut rng, 0.01, 0.03),
                    period: between(&mut rng, 2 * MIN, 10 * MIN),
                    phase: between(&mut rng, 0, 10 * MIN),
                },
                warm_floor: uniform(&mut rng, 0.5, 0.8),
                warm_tau: between(&mut rng, 3 * MIN, 10 * MIN),
            };
        }
        let slope_mib_per_min = (limit - level) / MIB / (growth as f64 / MIN as f64);
        let shape = ramp.name();
        let name = self.pods[p].containers[c].name.clone();
        let entity = self.container_entity(p, c);
        for (k, &(oom, restart)) in kills.iter().enumerate() {
            self.restart_container(p, c, oom, restart);
            let node_event = rng.random_bool(0.6);
            if node_event {
                self.node_oom_event(oom + between(&mut rng, SEC / 5, 2 * SEC), p, c);
            }
            if !node_event || rng.random_bool(0.4) {
                let message = self.backoff_message(p, c);
                self.kubelet_event(
                    oom + (restart - oom) / 2,
                    p,
                    Some(c),
                    "BackOff",
                    message,
                    true,
                );
            }
            self.container_start_events(restart, p, c, false);
            let leak_start = starts[k].expect("every OOM follows a leaking segment");
            let repeat = if k == 0 {
                String::new()
            } else {
                format!(
                    " (OOM #{}: leaking again since the previous restart)",
                    k + 1
                )
            };
            let after = if leaks_again {
                "leaks again after the restart"
            } else {
                "stays healthy after the restart"
            };
            self.incident(
                "memory_pressure",
                "memory_leak",
                entity.clone(),
                leak_start,
                Some(oom),
                format!(
                    "{name}: working set climbs ({shape}) from {} toward its {} limit at ~{slope_mib_per_min:.2} MiB/min over {}; OOM-killed at impact, restart count +1, then {after}{repeat}",
                    human_bytes(level),
                    human_bytes(limit),
                    human_duration(growth),
                ),
            );
        }
        self.label_oom_kill_loop(&entity, &name, &kills);
    }

    /// A leak that OOM-kills its container again within the hour is also a restart incident:
    /// the container restarts every cycle, which is what the restart signal is for (a person
    /// paged for "restarting every 40 min" was paged for the right thing). Onset = the first
    /// kill of the loop, impact = the kill that follows it within the hour (the rate has risen).
    /// Default leaks take 1.5 h or more to the limit, so only wide clusters have such loops.
    fn label_oom_kill_loop(
        &mut self,
        entity: &super::world::Entity,
        name: &str,
        kills: &[(i64, i64)],
    ) {
        let Some(pair) = kills.windows(2).find(|w| w[1].0 - w[0].0 <= HOUR) else {
            return;
        };
        let (first, second) = (pair[0].0, pair[1].0);
        self.incident(
            "restart_frequency",
            "oom_kill_loop",
            entity.clone(),
            first,
            Some(second),
            format!(
                "{name}: OOM-killed every ~{} by a leak that resumes after each restart ({} kills in the data); impact = the second kill within the hour",
                human_duration(second - first),
                kills.len()
            ),
        );
    }

    /// A container exits seconds after each start; the kubelet restarts it with back-off
    /// 10 s, 20 s, 40 s … capped at 5 min.
    fn inject_crash_loop(&mut self) {
        let main_only = self.rng.random_bool(0.8);
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], main_only)
        else {
            return;
        };
        let mut rng = self.child_rng();
        let win = self.win;
        let (lo, hi) = (win.at(0.25), win.end - 60 * MIN);
        if hi <= lo {
            return;
        }
        let onset = between(&mut rng, lo, hi);
        // Either the process exits after running a little, or (StartError) the runtime cannot
        // start it at all.
        let start_error = rng.random_bool(0.35);
        let mut crash = onset;
        let mut kills = Vec::new();
        let mut step = 0u32;
        while crash < win.end {
            let backoff =
                ((10 * SEC) << step.min(5)).min(300 * SEC) + between(&mut rng, 0, 2 * SEC);
            let restart = crash + backoff;
            if restart >= win.end {
                let container = &mut self.pods[p].containers[c];
                container.down.push((crash, win.end));
                break;
            }
            kills.push((crash, restart));
            let run = if start_error {
                between(&mut rng, SEC / 5, SEC)
            } else if rng.random_bool(0.8) {
                between(&mut rng, 2 * SEC, 50 * SEC)
            } else {
                between(&mut rng, 60 * SEC, 240 * SEC)
            };
            crash = restart + run;
            step += 1;
        }
        {
            let container = &mut self.pods[p].containers[c];
            container.memory.warm_floor = uniform(&mut rng, 0.2, 0.4);
            container.memory.warm_tau = between(&mut rng, 2 * MIN, 5 * MIN);
        }
        for (i, &(crash, restart)) in kills.iter().enumerate() {
            self.restart_container(p, c, crash, restart);
            if i >= 1 && (i % 3 == 1 || rng.random_bool(0.25)) {
                let message = self.backoff_message(p, c);
                let at = crash + between(&mut rng, SEC, ((restart - crash) / 2).max(2 * SEC));
                self.kubelet_event(at, p, Some(c), "BackOff", message, true);
            }
            if i < 2 || rng.random_bool(0.4) {
                if start_error {
                    self.container_start_failed_events(restart, p, c);
                } else {
                    self.container_start_events(restart, p, c, false);
                }
            }
        }
        let name = self.pods[p].containers[c].name.clone();
        let entity = self.container_entity(p, c);
        self.incident(
            "restart_frequency",
            "crash_loop",
            entity,
            onset,
            Some(onset + 15 * MIN),
            format!(
                "{name} {} from onset; kubelet back-off 10 s doubling to the 5 min cap; {} restarts by the end of the data",
                if start_error {
                    "fails to start (StartError, Failed events)"
                } else {
                    "exits seconds to minutes after each start"
                },
                kills.len()
            ),
        );
    }

    /// A container that restarted once every several hours starts failing its liveness probe
    /// every 10–30 min.
    fn inject_restart_rate_rise(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let win = self.win;
        let (lo, hi) = (win.at(0.35), win.end - 2 * HOUR);
        if hi <= lo {
            return;
        }
        let onset = between(&mut rng, lo, hi);
        let mut restarts = Vec::new();
        let mut earlier = onset - between(&mut rng, 150 * MIN, 5 * HOUR);
        for _ in 0..rng.random_range(1..=2) {
            if earlier > win.start + 20 * MIN {
                restarts.push(earlier);
            }
            earlier -= between(&mut rng, 150 * MIN, 5 * HOUR);
        }
        let history = restarts.len();
        let mut next = onset + between(&mut rng, 40 * SEC, 100 * SEC);
        while next < win.end {
            restarts.push(next);
            next += between(&mut rng, 10 * MIN, 30 * MIN);
        }
        restarts.sort_unstable();
        let timeout = rng.random_bool(0.5);
        for &restart in &restarts {
            self.restart_container(p, c, restart - 5 * SEC, restart);
            self.liveness_restart_events(restart, p, c, timeout);
        }
        let fast: Vec<i64> = restarts.iter().copied().filter(|&r| r > onset).collect();
        let name = self.pods[p].containers[c].name.clone();
        let entity = self.container_entity(p, c);
        self.incident(
            "restart_frequency",
            "restart_rate_rise",
            entity,
            onset,
            fast.get(2).copied(),
            format!(
                "{name}: {history} restart(s) in the hours before onset, then liveness-probe kills every 10–30 min ({} restarts after onset); impact = 3rd restart after onset",
                fast.len()
            ),
        );
    }
}
