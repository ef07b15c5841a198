//! Working-set shapes. A container's working set is `trend × warm-up × GC ripple + noise`: the
//! trend says what the container is doing (flat, wandering, leaking, GC sawtooth, batch growth),
//! the warm-up makes a fresh (re)start begin low, the ripple is the small collect-and-refill
//! pattern of a garbage-collected heap. The generator adds noise on top (`Noise`: white,
//! autocorrelated, or autocorrelated with rare spikes).

use super::{unit_hash, HOUR};

#[derive(Debug, Clone)]
pub enum Trend {
    /// Healthy and flat.
    Flat { level: f64 },
    /// Healthy, wandering slowly: `level × (1 + Σ amplitude·sin(2π(t − phase)/period))`.
    Wander {
        level: f64,
        waves: [(f64, i64, i64); 2],
    },
    /// Garbage-collection sawtooth: climbs linearly from `floor` to about `peak` over each
    /// `period`, then drops back to the same floor (peaks vary a little per cycle).
    Sawtooth {
        floor: f64,
        peak: f64,
        period: i64,
        phase: i64,
    },
    /// A leak: from `level`, growing to `limit` in `growth` after each segment's start
    /// (`starts[segment]`, `None` = healthy in that segment), along `ramp`.
    Leak {
        level: f64,
        limit: f64,
        growth: i64,
        ramp: Ramp,
        starts: Vec<Option<i64>>,
    },
    /// A one-time step (a config change): `before` until `at`, then a new flat `after`.
    Step { before: f64, after: f64, at: i64 },
    /// Linear growth without end (a container without a limit).
    Grow {
        level: f64,
        per_hour: f64,
        from: i64,
    },
    /// A batch run: grows linearly from `level` to `top` over `duration` after the (pod) start.
    Batch { level: f64, top: f64, duration: i64 },
}

impl Trend {
    /// The typical healthy level, which scales the noise.
    pub fn level(&self) -> f64 {
        match self {
            Trend::Flat { level }
            | Trend::Wander { level, .. }
            | Trend::Leak { level, .. }
            | Trend::Grow { level, .. }
            | Trend::Batch { level, .. } => *level,
            Trend::Step { before, after, .. } => before.max(*after),
            Trend::Sawtooth { floor, peak, .. } => (floor + peak) / 2.0,
        }
    }

    /// The same shape at `factor` times the size (a new pod of a rolled-out deployment).
    pub fn scaled(&self, factor: f64) -> Trend {
        match self.clone() {
            Trend::Flat { level } => Trend::Flat {
                level: level * factor,
            },
            Trend::Wander { level, waves } => Trend::Wander {
                level: level * factor,
                waves,
            },
            Trend::Sawtooth {
                floor,
                peak,
                period,
                phase,
            } => Trend::Sawtooth {
                floor: floor * factor,
                peak: peak * factor,
                period,
                phase,
            },
            Trend::Leak {
                level,
                limit,
                growth,
                ramp,
                starts,
            } => Trend::Leak {
                level: level * factor,
                limit,
                growth,
                ramp,
                starts,
            },
            Trend::Step { before, after, at } => Trend::Step {
                before: before * factor,
                after: after * factor,
                at,
            },
            Trend::Grow {
                level,
                per_hour,
                from,
            } => Trend::Grow {
                level: level * factor,
                per_hour: per_hour * factor,
                from,
            },
            Trend::Batch {
                level,
                top,
                duration,
            } => Trend::Batch {
                level: level * factor,
                top: top * factor,
                duration,
            },
        }
    }

    /// The trend at `t`, in the container's `segment` (0 before its first restart in the
    /// data, k after the k-th) which began at `segment_start`.
    pub fn at(&self, t: i64, segment: usize, segment_start: i64) -> f64 {
        match self {
            Trend::Flat { level } => *level,
            Trend::Wander { level, waves } => {
                let wave: f64 = waves
                    .iter()
                    .map(|&(amplitude, period, phase)| {
                        amplitude
                            * (std::f64::consts::TAU * (t - phase) as f64 / period as f64).sin()
                    })
                    .sum();
                level * (1.0 + wave)
            }
            Trend::Sawtooth {
                floor,
                peak,
                period,
                phase,
            } => {
                let shifted = t - phase;
                let cycle = shifted.div_euclid(*period);
                let u = shifted.rem_euclid(*period) as f64 / *period as f64;
                let cycle_peak = peak - (peak - floor) * 0.06 * unit_hash(cycle as u64);
                floor + (cycle_peak - floor) * u
            }
            Trend::Leak {
                level,
                limit,
                growth,
                ramp,
                starts,
            } => match starts.get(segment).copied().flatten() {
                Some(start) if t > start => {
                    let u = ((t - start) as f64 / *growth as f64).min(1.0);
                    level + (limit - level) * ramp.fraction(u)
                }
                _ => *level,
            },
            Trend::Step { before, after, at } => {
                if t < *at {
                    *before
                } else {
                    *after
                }
            }
            Trend::Grow {
                level,
                per_hour,
                from,
            } => level + per_hour * ((t - from) as f64 / HOUR as f64).max(0.0),
            Trend::Batch {
                level,
                top,
                duration,
            } => {
                let u = ((t - segment_start) as f64 / *duration as f64).clamp(0.0, 1.0);
                level + (top - level) * u
            }
        }
    }
}

/// How a leak covers the way from its level to the limit over its growth time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ramp {
    /// `accel` ∈ [0, 1) bends the line upward: fraction `u` of the growth time reaches
    /// `(1 − accel)·u + accel·u²` of the way (0 = linear).
    Curved { accel: f64 },
    /// Fast at first, then slowing (a cache filling up): `1 − (1 − u)^power`, `power` > 1.
    Concave { power: f64 },
    /// `steps` jumps (a batch of sessions, a reload), each taking the first tenth of its span,
    /// flat in between.
    Stepwise { steps: u32 },
}

impl Ramp {
    /// The fraction of the way covered after fraction `u` ∈ [0, 1] of the growth time.
    pub fn fraction(&self, u: f64) -> f64 {
        match *self {
            Ramp::Curved { accel } => (1.0 - accel) * u + accel * u * u,
            Ramp::Concave { power } => 1.0 - (1.0 - u).powf(power),
            Ramp::Stepwise { steps } => {
                let steps = steps.max(1) as f64;
                let k = (u * steps).floor();
                let within = u * steps - k;
                ((k + (within / 0.1).min(1.0)) / steps).min(1.0)
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match *self {
            Ramp::Curved { accel } if accel > 0.1 => "accelerating",
            Ramp::Curved { .. } => "linear",
            Ramp::Concave { .. } => "concave",
            Ramp::Stepwise { .. } => "stepwise",
        }
    }
}

/// The sample-to-sample noise on a working set, in units of `MemoryModel::noise`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// AR(1) with coefficient `rho` (0 = white).
    Autocorrelated { rho: f64 },
    /// AR(1) plus, with `probability` per sample, a one-sample spike of `size` × the level
    /// (a burst of allocations the next collection frees).
    Spiky {
        rho: f64,
        probability: f64,
        size: f64,
    },
}

impl Noise {
    /// The default: AR(1) with ρ = 0.9.
    pub const DEFAULT: Noise = Noise::Autocorrelated { rho: 0.9 };

    pub fn rho(&self) -> f64 {
        match *self {
            Noise::Autocorrelated { rho } | Noise::Spiky { rho, .. } => rho,
        }
    }
}

/// The garbage-collection ripple: the heap refills over `period`, a collection trims
/// `amplitude` of it.
#[derive(Debug, Clone)]
pub struct Ripple {
    pub amplitude: f64,
    pub period: i64,
    pub phase: i64,
}

#[derive(Debug, Clone)]
pub struct MemoryModel {
    pub trend: Trend,
    /// Standard deviation of the noise, as a fraction of the trend's level.
    pub noise: f64,
    pub noise_shape: Noise,
    pub ripple: Ripple,
    /// A (re)started container begins at `warm_floor` of its trend and approaches it with time
    /// constant `warm_tau`.
    pub warm_floor: f64,
    pub warm_tau: i64,
}

impl MemoryModel {
    /// The working set at `t` before noise.
    pub fn expected(&self, t: i64, segment: usize, segment_start: i64) -> f64 {
        let since_start = (t - segment_start).max(0) as f64;
        let warm = 1.0 - (1.0 - self.warm_floor) * (-since_start / self.warm_tau as f64).exp();
        let ripple = if self.ripple.amplitude > 0.0 {
            let u = (t - self.ripple.phase).rem_euclid(self.ripple.period) as f64
                / self.ripple.period as f64;
            1.0 - self.ripple.amplitude * (1.0 - u)
        } else {
            1.0
        };
        self.trend.at(t, segment, segment_start) * warm * ripple
    }
}
