//! The demo data generator: a synthetic Kubernetes cluster as the OpenTelemetry Collector's
//! clickhouseexporter would store it, plus the truth about it (`Labels`), so backtests can score
//! the detectors.
//!
//! What it emits (`reference/telemetry.md` §2–§4):
//! - kubeletstats `container.memory.working_set` every 30 s per running container, and
//!   k8s_cluster `k8s.container.memory_limit` / `memory_request` / `restarts` every 60 s, each
//!   receiver with its own resource attribute set; scrape times jitter by up to 300 ms;
//! - application request logs (one record per request) per service;
//! - Kubernetes events in all three shapes, mixed per event (`scenarios::events`);
//! - canary heartbeats (`scenarios::canary`).
//!
//! Everything is drawn from one `StdRng` seeded with `DemoParams::seed`: the same parameters
//! give the same `Dataset`. Names, sizes, slopes, rates and timings all come from the seed, so a
//! detector tuned on one seed is judged on clusters it has not seen.
//!
//! Label conventions (what backtests score against):
//! - `memory_leak`: onset = when the working set starts to climb; impact = the OOM kill (the
//!   working set reaches the limit). Half the leaks leak again after the restart; **every** OOM
//!   inside the data is its own incident (the later ones with onset = the restart after the
//!   previous OOM).
//! - `crash_loop`: onset = first crash; impact = onset + 15 min (when `KubePodCrashLooping`
//!   would page). The loop lasts until the end of the data.
//! - `restart_rate_rise`: onset = just before the first liveness failure of the new regime;
//!   impact = the third restart after onset.
//! - `oom_kill_loop` (restart signal): a leak that OOM-kills its container again within the
//!   hour (only wide leaks are that fast); onset = the first kill, impact = the next one.
//! - `error_burst`: impact = onset. `error_creep`: impact = when the ratio reaches 5× baseline.
//! - `canary_stopped`: onset = the last beat (rounded up to the second); impact = onset +
//!   period + grace, with grace = max(period, 60 s) (`scenarios::canary::grace`). A resumed
//!   canary says so in its description.
//!
//! Incident entities: memory and restart → cluster/namespace/pod/container, error rate →
//! cluster/namespace/service, heartbeat → cluster/canary. Negatives that span a whole workload
//! (rolling update, CronJob runs) use cluster/namespace/container.
//!
//! Hard negatives (`labels.negatives`, signal = the detector each could fool): GC sawtooth,
//! flat-but-high usage, growth without a limit, rolling updates (with a first image pull that
//! fails: `Failed` and a Normal "Back-off pulling image" `BackOff`, not a restart), completed
//! CronJob pods, one isolated restart, chronically high but flat errors, traffic swings at a
//! constant error ratio, quiet services, a jittered canary, a canary with one late beat.
//! `Variety::Wide` adds `gc_hour_cycle` (GC cycles of 50 min to 2.5 h), `level_step` (one step
//! to a new flat level) and `batch_near_limit` (CronJob runs that reach 85–95 % of the limit
//! and complete), and describes each leak's ramp (linear, accelerating, concave, stepwise).
//!
//! How the work is split (each module extends `World`, the cluster being built, with one job):
//! - `world`: the cluster's state (nodes, workloads, pods, containers, services, canaries,
//!   pending events, labels) and the helpers every scenario shares (claiming a container,
//!   recording an incident or a hard negative);
//! - `topology`: the healthy cluster (DaemonSets, StatefulSets, Deployments and their pods);
//! - `kube_events`: Kubernetes events as the kubelet, controllers and node-problem-detector
//!   would report them, and the background noise of readiness failures;
//! - `incidents`: memory leaks, crash loops, restart-rate rises (the positives);
//! - `negatives`: the hard negatives on memory and restarts (GC sawtooth, flat-high, growth
//!   without a limit, an isolated restart, rolling updates, CronJob runs);
//! - `services`: each serving Deployment's request traffic and its role (error burst or creep,
//!   or one of the error-rate hard negatives);
//! - `canaries`: heartbeat schedules and their labels;
//! - `wide`: the opt-in variety (`Variety::Wide`) and the draws only it takes;
//! - `emit`: turning the finished world into rows (`Dataset`) and labels.
//!
//! The building blocks they use (time and random helpers, working-set shapes, request logs,
//! event shapes, name pools) live in `demo::scenarios`.

mod canaries;
mod emit;
mod incidents;
mod kube_events;
mod negatives;
mod services;
mod topology;
mod wide;
mod world;

#[cfg(test)]
mod tests;

use time::OffsetDateTime;

use super::model::Dataset;
use super::scenarios::{Window, HOUR};
pub use wide::Variety;
use world::World;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoParams {
    pub seed: u64,
    /// Length of the data, ending at `end`.
    pub hours: f64,
    /// Exclusive end of the data (callers floor it to a minute).
    pub end: OffsetDateTime,
    /// Size of the cluster: 1.0 ≈ 250 containers. Scenario counts do not scale.
    pub scale: f64,
}

impl Default for DemoParams {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        let end = now
            .replace_nanosecond(0)
            .and_then(|t| t.replace_second(0))
            .expect("zero is a valid second and nanosecond");
        Self {
            seed: 42,
            hours: 12.0,
            end,
            scale: 1.0,
        }
    }
}

/// Generates the dataset for `params`: deterministic per parameters.
///
/// Scenario timings assume a window of several hours (12 h by default); in a window too short to
/// hold a scenario's required healthy history and growth, that scenario is left out (and so is
/// its label). Non-positive or non-finite `hours`/`scale` fall back to the defaults.
pub fn generate(params: &DemoParams) -> Dataset {
    generate_with(params, Variety::Default)
}

/// `generate` with the chosen variety: `Variety::Wide` draws what real clusters vary as well
/// (module `wide`); the same parameters and variety give the same `Dataset`.
pub fn generate_with(params: &DemoParams, variety: Variety) -> Dataset {
    let hours = if params.hours.is_finite() && params.hours > 0.0 {
        params.hours
    } else {
        12.0
    };
    let scale = if params.scale.is_finite() && params.scale > 0.0 {
        params.scale
    } else {
        1.0
    };
    let end = params.end.unix_timestamp_nanos() as i64;
    let start = end - (hours * HOUR as f64).round() as i64;
    let win = Window { start, end };
    match variety {
        Variety::Default => build(World::new(params.seed, win, scale, variety), params.seed),
        Variety::Wide => {
            let worlds = wide::clusters(params.seed, win, scale);
            emit::merge(worlds.into_iter().map(|w| build(w, params.seed)).collect())
        }
    }
}

/// One cluster's story, start to finish.
fn build(mut world: World, seed: u64) -> Dataset {
    world.build_topology();
    world.inject_scenarios();
    world.vary_containers();
    world.into_dataset(seed)
}

impl World {
    /// The story, in the order its draws are taken from the seed: the healthy cluster first,
    /// then the incidents, the hard negatives, the services' roles, the canaries and the
    /// background noise. Reordering these changes every seed's data.
    fn inject_scenarios(&mut self) {
        self.inject_incidents();
        self.inject_hard_negatives();
        self.assign_service_roles();
        self.add_canaries();
        self.add_background_events();
    }
}
