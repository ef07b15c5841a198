//! Hard negatives on memory and restarts: shapes a detector could mistake for an incident and
//! must not page on, each labelled in `labels.negatives` with the signal it could fool. This
//! module owns the single-container ones (a GC sawtooth that stays below its limit, flat-but-
//! high usage, growth without a limit, one isolated restart, and under `Variety::Wide` an
//! hour-long GC cycle and a one-time step to a new flat level); `rolling_update` and
//! `cronjobs` replace or add whole pods.

mod cronjobs;
mod rolling_update;

use rand::Rng;

use super::world::{round_to_16_mib, Kind, World};
use crate::demo::scenarios::memory::Trend;
use crate::demo::scenarios::{
    between, human_bytes, human_duration, log_uniform, rfc3339_seconds, uniform, HOUR, MIB, MIN,
    SEC,
};

impl World {
    /// 1–2 GC sawtooths, one flat-high, one growth without a limit, one isolated restart,
    /// 1–2 rolling updates, 1–2 CronJobs.
    pub(super) fn inject_hard_negatives(&mut self) {
        for _ in 0..self.rng.random_range(1..=2) {
            self.inject_gc_sawtooth(false);
        }
        self.inject_flat_high();
        self.inject_unlimited_growth();
        self.inject_isolated_restart();
        for _ in 0..self.rng.random_range(1..=2) {
            self.inject_rolling_update();
        }
        self.add_cronjobs();
        if self.wide.is_some() {
            self.inject_gc_sawtooth(true);
            self.inject_level_step();
        }
    }

    /// A GC sawtooth well below the limit; `hour_long`: cycles of 50 min to 2.5 h, whose
    /// rising half fills most of a fit window (labelled `gc_hour_cycle`).
    fn inject_gc_sawtooth(&mut self, hour_long: bool) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let limit = self.ensure_limit(p, c, &[1024.0, 2048.0, 3072.0, 4096.0]);
        let floor = limit * uniform(&mut rng, 0.35, 0.55);
        let peak = limit * uniform(&mut rng, 0.8, 0.9);
        let period = if hour_long {
            between(&mut rng, 50 * MIN, 150 * MIN)
        } else if self.wide.is_some() {
            log_uniform(&mut rng, 2.0 * MIN as f64, 90.0 * MIN as f64) as i64
        } else {
            between(&mut rng, 20 * MIN, 90 * MIN)
        };
        {
            let memory = &mut self.pods[p].containers[c].memory;
            memory.trend = Trend::Sawtooth {
                floor,
                peak,
                period,
                phase: between(&mut rng, 0, period),
            };
            memory.noise = uniform(&mut rng, 0.003, 0.008);
            memory.ripple.amplitude = 0.0;
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "memory_pressure",
            if hour_long {
                "gc_hour_cycle"
            } else {
                "gc_sawtooth"
            },
            entity,
            format!(
                "heap sawtooth: climbs from a flat {} floor to ~{} ({:.0}% of the {} limit) every {}, then a full GC drops it back; the floor does not grow",
                human_bytes(floor),
                human_bytes(peak),
                peak / limit * 100.0,
                human_bytes(limit),
                human_duration(period)
            ),
        );
    }

    /// A one-time step to a new flat level well below the limit (a config change), late in
    /// the data so a detector judges it while the step is still in its recent span.
    fn inject_level_step(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let limit = self.ensure_limit(p, c, &[1024.0, 2048.0, 3072.0]);
        let before = limit * uniform(&mut rng, 0.2, 0.4);
        let after = (before * uniform(&mut rng, 1.3, 1.9)).min(0.7 * limit);
        let at = between(&mut rng, self.win.at(0.5), self.win.end - 20 * MIN);
        {
            let memory = &mut self.pods[p].containers[c].memory;
            memory.trend = Trend::Step { before, after, at };
            memory.noise = uniform(&mut rng, 0.003, 0.01);
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "memory_pressure",
            "level_step",
            entity,
            format!(
                "one step from {} to a new flat {} ({:.0}% of the {} limit) at {}, flat before and after",
                human_bytes(before),
                human_bytes(after),
                after / limit * 100.0,
                human_bytes(limit),
                rfc3339_seconds(at)
            ),
        );
    }

    fn inject_flat_high(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let limit = self.ensure_limit(p, c, &[512.0, 1024.0, 2048.0]);
        let level = limit * uniform(&mut rng, 0.9, 0.95);
        {
            let memory = &mut self.pods[p].containers[c].memory;
            memory.trend = Trend::Flat { level };
            memory.noise = uniform(&mut rng, 0.002, 0.006);
            memory.ripple.amplitude = uniform(&mut rng, 0.0, 0.01);
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "memory_pressure",
            "flat_high",
            entity,
            format!(
                "flat at {:.0}% of its {} limit for the whole window (noise only, no trend)",
                level / limit * 100.0,
                human_bytes(limit)
            ),
        );
    }

    fn inject_unlimited_growth(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let level = uniform(&mut rng, 200.0, 800.0) * MIB;
        let per_hour = level * uniform(&mut rng, 0.04, 0.15);
        let from = self.win.start - between(&mut rng, 0, 2 * HOUR);
        {
            let container = &mut self.pods[p].containers[c];
            container.limit = None;
            container.request = Some(round_to_16_mib(level));
            container.memory.trend = Trend::Grow {
                level,
                per_hour,
                from,
            };
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "memory_pressure",
            "no_limit_growth",
            entity,
            format!(
                "no memory limit; working set grows ~{:.0} MiB/h from {} — nothing to be OOM-killed against",
                per_hour / MIB,
                human_bytes(level)
            ),
        );
    }

    fn inject_isolated_restart(&mut self) {
        let kinds = [Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet];
        let Some((p, c)) = self.pick_container(&kinds, false) else {
            return;
        };
        let mut rng = self.child_rng();
        let at = between(&mut rng, self.win.at(0.15), self.win.at(0.9));
        let liveness = rng.random_bool(0.5);
        if liveness {
            self.restart_container(p, c, at - 5 * SEC, at);
            self.liveness_restart_events(at, p, c, rng.random_bool(0.5));
        } else {
            self.restart_container(p, c, at - between(&mut rng, SEC, 10 * SEC), at);
            self.container_start_events(at, p, c, false);
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "restart_frequency",
            "isolated_restart",
            entity,
            format!(
                "a single restart ({}) of an otherwise healthy container",
                if liveness {
                    "one liveness-probe kill"
                } else {
                    "one non-zero exit"
                }
            ),
        );
    }
}
