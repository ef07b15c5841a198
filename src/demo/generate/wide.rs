//! Opt-in variety (`Variety::Wide`): what real clusters vary and the default story holds fixed,
//! so detectors can be judged on shapes they were not tuned on. Under `Wide` the generator
//! also draws: the kubelet scrape interval (10–60 s) and jitter, the k8s_cluster interval,
//! missing samples and collector gaps (no sample from any series), the noise of each container
//! (white, autocorrelated, or with rare spikes), GC ripple periods from a minute to two hours,
//! a second sidecar on some pods, request rates over three orders of magnitude, leak ramps
//! that are linear, accelerating, concave or stepwise and leaks as fast as 30 min, and three
//! more hard negatives (`negatives`): hour-long GC cycles, a one-time step to a new flat
//! level, CronJob runs that ramp close to their limit and complete. A wide dataset holds one
//! to three clusters (each its own story, the scale shared among them).
//!
//! `Variety::Default` takes none of these draws: every default seed gives the data it always
//! gave (`tests::default_data_for_a_seed_is_pinned`).

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::world::World;
use crate::demo::scenarios::memory::{Noise, Trend};
use crate::demo::scenarios::{between, log_uniform, names, uniform, Window, MIN, SEC};

/// How much the generated cluster varies beyond the default story.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Variety {
    /// The default story: fixed scrape intervals, one noise model, the default negatives.
    #[default]
    Default,
    /// Everything in this module's docs drawn from the seed as well.
    Wide,
}

/// The scrape settings a wide cluster draws once.
#[derive(Debug, Clone)]
pub(super) struct Wide {
    /// kubeletstats working-set interval.
    pub(super) kubelet_interval: i64,
    /// k8s_cluster limit/request/restart interval.
    pub(super) cluster_interval: i64,
    /// Scrape times land within ± this of the nominal tick.
    pub(super) jitter: i64,
    /// Chance that one sample of one series is missing.
    pub(super) missing_probability: f64,
    /// Collector outages: no sample from any series in these intervals.
    pub(super) gaps: Vec<(i64, i64)>,
}

impl Wide {
    pub(super) fn draw(rng: &mut StdRng, win: Window) -> Wide {
        let kubelet_interval = *names::pick(rng, &[10, 15, 20, 30, 30, 60]) * SEC;
        let cluster_interval = *names::pick(rng, &[30, 60, 60]) * SEC;
        let jitter = (kubelet_interval as f64 * uniform(rng, 0.005, 0.1)) as i64;
        let missing_probability = uniform(rng, 0.0, 0.03);
        let gaps = (0..rng.random_range(0..=3))
            .map(|_| {
                let from = between(rng, win.start, win.end - 20 * MIN);
                (from, from + between(rng, 2 * MIN, 15 * MIN))
            })
            .collect();
        Wide {
            kubelet_interval,
            cluster_interval,
            jitter,
            missing_probability,
            gaps,
        }
    }

    pub(super) fn in_gap(&self, t: i64) -> bool {
        self.gaps.iter().any(|&(from, to)| t >= from && t < to)
    }
}

/// One to three worlds with distinct cluster names, each seeded from `seed`.
pub(super) fn clusters(seed: u64, win: Window, scale: f64) -> Vec<World> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5749_4445_434c_5553);
    let count = rng.random_range(1..=3usize);
    let mut names = BTreeSet::new();
    let mut worlds = Vec::with_capacity(count);
    while worlds.len() < count {
        let world = World::new(rng.random(), win, scale / count as f64, Variety::Wide);
        if names.insert(world.cluster.clone()) {
            worlds.push(world);
        }
    }
    worlds
}

/// A container's noise: a quarter white, half autocorrelated, a quarter with spikes.
pub(super) fn draw_noise(rng: &mut StdRng) -> Noise {
    match rng.random_range(0..4) {
        0 => Noise::Autocorrelated { rho: 0.0 },
        1 | 2 => Noise::Autocorrelated {
            rho: uniform(rng, 0.5, 0.97),
        },
        _ => Noise::Spiky {
            rho: uniform(rng, 0.3, 0.9),
            probability: log_uniform(rng, 0.001, 0.02),
            size: uniform(rng, 0.03, 0.15),
        },
    }
}

impl World {
    /// Under `Wide`, after every scenario: each container's noise and GC ripple period.
    pub(super) fn vary_containers(&mut self) {
        if self.wide.is_none() {
            return;
        }
        let mut rng = self.child_rng();
        for pod in &mut self.pods {
            for container in &mut pod.containers {
                let noise = draw_noise(&mut rng);
                // Spikes only where they cannot break a label's promise about the peak.
                let calm = matches!(
                    container.memory.trend,
                    Trend::Flat { .. } | Trend::Wander { .. }
                ) && container
                    .limit
                    .is_none_or(|limit| container.memory.trend.level() <= 0.6 * limit);
                container.memory.noise_shape = match noise {
                    Noise::Spiky { rho, .. } if !calm => Noise::Autocorrelated { rho },
                    noise => noise,
                };
                if container.memory.ripple.amplitude > 0.0 {
                    let period = log_uniform(&mut rng, MIN as f64, 120.0 * MIN as f64) as i64;
                    container.memory.ripple.period = period;
                    container.memory.ripple.phase = between(&mut rng, 0, period);
                }
            }
        }
    }
}
