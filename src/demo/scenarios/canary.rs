//! Canary heartbeats with healthchecks.io semantics: a canary is expected every `period` and is
//! *down* once `period + grace` passed since its last beat. Beats follow a schedule (a nominal
//! tick every period) and arrive late by up to `jitter × period`, never early.
//!
//! The grace the generator assumes (and every label is built on) is `max(period, 60 s)`: no
//! healthy canary's gap between beats ever reaches `period + grace`, every stopped canary's does.

use rand::rngs::StdRng;

use super::{between, uniform, Window, MIN, SEC};

/// The grace assumed for a canary with this period.
pub fn grace(period: i64) -> i64 {
    period.max(60 * SEC)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Jitter up to 20 % of the period.
    Steady,
    /// Stops beating at some point (incident); may resume later.
    Stopped,
    /// Jitter 30–40 % of the period: noisy, never overdue (hard negative).
    Jittered,
    /// One beat arrives late, inside the grace (hard negative).
    LateBeat,
}

#[derive(Debug, Clone)]
pub struct Stop {
    /// The last beat before the silence, rounded up to the second.
    pub onset: i64,
    /// `onset + period + grace`: when the canary is down.
    pub impact: i64,
    pub resumed_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Canary {
    pub name: String,
    pub period: i64,
    pub jitter: f64,
    pub role: Role,
    pub beats: Vec<i64>,
    pub stop: Option<Stop>,
    /// (time of the late beat, gap since the beat before it).
    pub late_beat: Option<(i64, i64)>,
}

pub fn plan(
    rng: &mut StdRng,
    win: Window,
    name: String,
    period: i64,
    role: Role,
    may_resume: bool,
) -> Canary {
    let jitter = match role {
        Role::Jittered => uniform(rng, 0.3, 0.4),
        _ => uniform(rng, 0.03, 0.2),
    };
    let mut beats = Vec::with_capacity((win.len() / period) as usize + 1);
    let mut nominal = win.start - period + between(rng, 0, period);
    while nominal < win.end {
        let t = nominal + (uniform(rng, 0.0, jitter) * period as f64) as i64;
        if win.contains(t) {
            beats.push(t);
        }
        nominal += period;
    }
    let mut canary = Canary {
        name,
        period,
        jitter,
        role,
        beats,
        stop: None,
        late_beat: None,
    };
    let grace = grace(period);
    match role {
        Role::Stopped => {
            let lo = win.at(0.3);
            let hi = win.end - period - grace - 20 * MIN;
            let stop_at = between(rng, lo, hi);
            let last = canary.beats.iter().rev().find(|&&b| b < stop_at).copied();
            let Some(last) = last.filter(|_| hi > lo) else {
                canary.role = Role::Steady;
                return canary;
            };
            let onset = last + (SEC - last.rem_euclid(SEC)) % SEC;
            let impact = onset + period + grace;
            let resumed_at = Some(impact + between(rng, 20 * MIN, 90 * MIN))
                .filter(|&r| may_resume && r < win.end - 10 * MIN);
            canary
                .beats
                .retain(|&b| b <= last || resumed_at.is_some_and(|r| b >= r));
            canary.stop = Some(Stop {
                onset,
                impact,
                resumed_at,
            });
        }
        Role::LateBeat => {
            let n = canary.beats.len();
            if n >= 6 {
                let k = between(rng, (n / 5).max(1) as i64, (4 * n / 5) as i64) as usize;
                let gap = period + (uniform(rng, 0.35, 0.75) * grace as f64) as i64;
                let late = (canary.beats[k - 1] + gap).min(canary.beats[k + 1] - SEC);
                if late > canary.beats[k] {
                    canary.beats[k] = late;
                    canary.late_beat = Some((late, late - canary.beats[k - 1]));
                }
            }
        }
        Role::Steady | Role::Jittered => {}
    }
    canary
}
