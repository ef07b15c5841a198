//! The container's own history of kills: an incarnation OOM-killed at its limit earlier in the
//! window shows how this one, climbing again, will end — and when.
//!
//! Each earlier incarnation whose restart and kill both lie in the window is a record of the
//! climb (the first incarnation of an older pod counts from where its flat floor began to
//! climb, where that onset is clear): the level it had at each age (time since its restart) and the age it was killed at.
//! The current incarnation, at its newest level, is matched to the age at which the killed one
//! had that level; the killed one's remaining time to its kill, scaled by how much faster or
//! slower this one got there (its pace), is this one's forecast. A trend fitted to a young
//! incarnation cannot see whether a concave climb slows or a staircase pauses; the earlier
//! climb of the same container has already shown it.

use super::{Point, KILLED_AT};
use crate::detect::stats;

/// The forecast from earlier kills of the same container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Relapse {
    /// Seconds from the newest point until the kill, by the earlier climbs.
    pub expected_s: f64,
    pub earliest_s: f64,
    pub latest_s: f64,
    /// Earlier incarnations killed at their limit that this climb matches.
    pub kills: usize,
    /// This climb's age over the matched age of the most recent killed climb (> 1: slower).
    pub pace: f64,
}

/// Points the current incarnation needs before its climb is matched to earlier ones (and
/// Mann–Kendall can reach the rule's significance at all: p ≈ 0.004 for 6 rising points).
pub(super) const MIN_POINTS: usize = 6;

/// The fraction of a killed incarnation's climb (from its first floor to its highest) the
/// current one must have covered before that climb is taken as its course: the first part of a
/// climb is also a warm-up's, and a warm-up need not go on.
const MIN_CLIMB: f64 = 0.25;

/// How far from the killed climb's pace (its age at the same level) this one may be and still
/// be the same climb again.
const PACE_RANGE: (f64, f64) = (0.5, 2.0);

/// The forecast interval's margin on the earlier climbs' remaining times: a climb repeats, but
/// not to the minute (restart delay, load).
const PACE_MARGIN: f64 = 0.25;

/// One earlier incarnation killed at its limit: its points, when it (re)started and when it
/// was killed (bucket midpoints of the restart buckets).
struct KilledClimb<'a> {
    points: &'a [Point],
    started_s: f64,
    killed_s: f64,
}

/// The incarnations of `points` (split at increases of the restart counter) whose start and
/// kill both lie in the window and that were killed at the limit: the restart bucket or one of
/// the five before it peaked at `KILLED_AT` of it. A series that `began_in_window` (a pod
/// created in the window) has seen its first incarnation start too: a bucket before its first
/// point, as a restart bucket is a bucket before the next incarnation's first point.
fn killed_climbs(
    points: &[Point],
    limit: f64,
    began_in_window: bool,
    bucket_s: f64,
) -> Vec<KilledClimb<'_>> {
    // (index of the climb's first point, when it started)
    let mut starts: Vec<(usize, f64)> = Vec::new();
    let mut kills: Vec<usize> = Vec::new();
    if began_in_window {
        if let Some(first) = points.first() {
            starts.push((0, first.t - bucket_s));
        }
    }
    let mut last_count: Option<f64> = None;
    for (i, p) in points.iter().enumerate() {
        if let Some(count) = p.restarts {
            if last_count.is_some_and(|last| count > last) {
                kills.push(i);
                starts.push((i + 1, p.t));
            }
            last_count = Some(count);
        }
    }
    // The first incarnation of a pod older than the window has no restart to start it; where
    // its floor was flat and then rose (the leak's onset), the climb starts at that hinge.
    if !began_in_window {
        if let Some(&first_kill) = kills.first() {
            if let Some(onset) = climb_onset(&points[..first_kill]) {
                starts.insert(0, (onset, points[onset].t - bucket_s / 2.0));
            }
        }
    }
    kills
        .iter()
        .filter_map(|&to| {
            // The start of the climb this restart ended: the latest start before it.
            let &(from, started_s) = starts.iter().rev().find(|(from, _)| *from <= to)?;
            let climb = &points[from..to];
            let killed = points[to.saturating_sub(5)..=to]
                .iter()
                .any(|p| p.peak >= KILLED_AT * limit);
            (killed && !climb.is_empty()).then_some(KilledClimb {
                points: climb,
                started_s,
                killed_s: points[to].t,
            })
        })
        .collect()
}

/// Where a flat floor turned into a climb: the hinge of the best "flat, then rising" fit, where
/// it explains far more than a line does (the bar the trend paths use) and the rise after it
/// holds at least `MIN_POINTS` points. None where the climb may have begun before the points.
fn climb_onset(points: &[Point]) -> Option<usize> {
    let (xs, ys): (Vec<f64>, Vec<f64>) = points.iter().map(|p| (p.t, p.floor)).unzip();
    let line = stats::ols(&xs, &ys)?;
    let line_sse = line.residual_std.powi(2) * (xs.len() as f64 - 2.0);
    let (k, hinge_sse) = super::shape::best_hinge(&xs, &ys, MIN_POINTS)?;
    let improvement =
        (line_sse - hinge_sse) / (hinge_sse / (xs.len() as f64 - 3.0)).max(f64::MIN_POSITIVE);
    (improvement > super::HINGE_F && k > 0).then_some(k)
}

/// The forecast for the current incarnation (`segment`, the newest part of `points`) from the
/// container's earlier kills, if the incarnation right before it was killed at the limit, the
/// current one rises significantly (Mann–Kendall at `significance`), and it has covered
/// `MIN_CLIMB` of a killed climb at a pace within `PACE_RANGE` of it.
pub(super) fn forecast(
    points: &[Point],
    segment: &[Point],
    began_in_window: bool,
    limit: f64,
    bucket_s: f64,
    significance: f64,
) -> Option<Relapse> {
    let newest = segment.last()?;
    if segment.len() < MIN_POINTS || segment.len() == points.len() {
        return None;
    }
    let started_s = points[points.len() - segment.len() - 1].t;
    let climbs = killed_climbs(
        &points[..points.len() - segment.len()],
        limit,
        began_in_window,
        bucket_s,
    );
    // The incarnation right before this one must be the last killed climb.
    let last = climbs.last()?;
    if (last.killed_s - started_s).abs() > 0.5 * bucket_s {
        return None;
    }
    let floors: Vec<f64> = segment.iter().map(|p| p.floor).collect();
    if stats::mann_kendall(&floors)?.p_increasing >= significance {
        return None;
    }
    let level = {
        let mut newest3: Vec<f64> = floors[floors.len() - 3..].to_vec();
        newest3.sort_by(f64::total_cmp);
        newest3[1]
    };
    let age_s = newest.t - started_s;
    let mut remaining: Vec<(f64, f64)> = Vec::new();
    for climb in &climbs {
        let first = climb.points[0].floor;
        let highest = climb.points.iter().map(|p| p.floor).fold(first, f64::max);
        if highest <= first || (level - first) / (highest - first) < MIN_CLIMB {
            continue;
        }
        // The age at which the killed climb first had this level (or its last point, where
        // this one is already above anything it reached).
        let at = climb
            .points
            .iter()
            .find(|p| p.floor >= level)
            .unwrap_or(&climb.points[climb.points.len() - 1]);
        let matched_age_s = (at.t - climb.started_s).max(bucket_s);
        let pace = age_s / matched_age_s;
        if !(PACE_RANGE.0..=PACE_RANGE.1).contains(&pace) {
            continue;
        }
        remaining.push((pace * (climb.killed_s - at.t).max(0.0), pace));
    }
    let pace = remaining.last()?.1;
    let mut times: Vec<f64> = remaining.iter().map(|(r, _)| *r).collect();
    times.sort_by(f64::total_cmp);
    Some(Relapse {
        expected_s: times[times.len() / 2],
        earliest_s: ((1.0 - PACE_MARGIN) * times[0] - bucket_s).max(0.0),
        latest_s: (1.0 + PACE_MARGIN) * times[times.len() - 1] + bucket_s,
        kills: times.len(),
        pace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    /// A container killed at 1 GiB over and over: from 200 MiB at `climb_mib_per_min`, then
    /// about 2 min at the limit; the restart counter +1 in each kill's bucket (which holds the
    /// old incarnation's peak and the new one's floor). Points for minutes 0..`minutes`.
    fn oom_cycles(minutes: usize, climb_mib_per_min: f64) -> Vec<Point> {
        let mut restarts = 0.0;
        let mut age = 0.0;
        let mut points = Vec::new();
        for m in 0..minutes {
            let level = (200.0 + climb_mib_per_min * age).min(1024.0);
            let killed = level >= 1024.0 && age >= 824.0 / climb_mib_per_min + 2.0;
            if killed {
                restarts += 1.0;
            }
            points.push(Point {
                t: 60.0 * m as f64 + 30.0,
                floor: if killed { 180.0 * MIB } else { level * MIB },
                peak: level * MIB,
                restarts: Some(restarts),
            });
            age = if killed { 0.0 } else { age + 1.0 };
        }
        points
    }

    fn segment(points: &[Point]) -> &[Point] {
        let last_restart = points
            .windows(2)
            .rposition(|w| w[1].restarts > w[0].restarts)
            .unwrap();
        &points[last_restart + 2..]
    }

    #[test]
    fn a_climb_like_the_killed_ones_is_forecast_to_end_as_they_did() {
        // Kills in minutes 44 and 89 (the climb takes 41.2 min, then 2 at the limit); the
        // third climb starts at minute 90 and would be killed in minute 134.
        let points = oom_cycles(107, 20.0);
        let relapse = forecast(&points, segment(&points), false, 1024.0 * MIB, 60.0, 0.01).unwrap();
        assert_eq!(relapse.kills, 1, "{relapse:?}");
        let truth_s = (134.0 - 106.0) * 60.0;
        assert!(
            (relapse.expected_s - truth_s).abs() < 0.15 * truth_s,
            "{relapse:?}"
        );
        assert!(relapse.earliest_s < truth_s && truth_s < relapse.latest_s);
        assert!((0.9..=1.15).contains(&relapse.pace), "{relapse:?}");
    }

    #[test]
    fn a_young_climb_a_flat_one_and_a_first_incarnation_have_no_forecast() {
        // 8 min into the climb: less than a quarter of the killed climb's way (the same
        // series 16 min in is the positive control above).
        let points = oom_cycles(99, 20.0);
        assert_eq!(
            forecast(&points, segment(&points), false, 1024.0 * MIB, 60.0, 0.01),
            None
        );
        // After the kill the container stays flat at a restart level well up its old climb.
        let mut flat = oom_cycles(90, 20.0);
        let restart_count = flat.last().unwrap().restarts;
        for m in 0..25 {
            flat.push(Point {
                t: 60.0 * (90 + m) as f64 + 30.0,
                floor: 600.0 * MIB + if m % 2 == 0 { MIB } else { -MIB },
                peak: 610.0 * MIB,
                restarts: restart_count,
            });
        }
        assert_eq!(
            forecast(&flat, segment(&flat), false, 1024.0 * MIB, 60.0, 0.01),
            None
        );
        // Never killed before: a first climb has no history.
        let first = oom_cycles(30, 20.0);
        assert_eq!(
            forecast(&first, &first[1..], true, 1024.0 * MIB, 60.0, 0.01),
            None
        );
    }

    #[test]
    fn a_pod_created_in_the_window_counts_its_first_climb() {
        // One kill (minute 44) of the pod's first incarnation, 20 min into the second climb:
        // its first climb's start is known only if the pod was created in the window.
        let points = oom_cycles(65, 20.0);
        let relapse = forecast(&points, segment(&points), true, 1024.0 * MIB, 60.0, 0.01);
        assert_eq!(relapse.map(|r| r.kills), Some(1), "{relapse:?}");
        let truth_s = (89.0 - 64.0) * 60.0;
        let relapse = relapse.unwrap();
        assert!(
            relapse.earliest_s < truth_s && truth_s < relapse.latest_s,
            "{relapse:?}"
        );
        assert_eq!(
            forecast(&points, segment(&points), false, 1024.0 * MIB, 60.0, 0.01),
            None
        );
    }

    #[test]
    fn a_first_climb_from_a_flat_floor_counts_from_its_onset() {
        // A pod older than the window: 40 min flat at 200 MiB, then the climb killed in minute
        // 84 (44 + 40), and 20 min into the second climb. The flat floor turning into a climb
        // is the first climb's start; without the flat part (the control in the test above)
        // the start is unknown and there is no forecast.
        let mut points: Vec<Point> = (0..40)
            .map(|m| Point {
                t: 60.0 * m as f64 + 30.0,
                floor: (200.0 + if m % 2 == 0 { 1.0 } else { -1.0 }) * MIB,
                peak: 205.0 * MIB,
                restarts: Some(0.0),
            })
            .collect();
        points.extend(oom_cycles(65, 20.0).into_iter().map(|p| Point {
            t: p.t + 40.0 * 60.0,
            ..p
        }));
        let relapse = forecast(&points, segment(&points), false, 1024.0 * MIB, 60.0, 0.01);
        assert_eq!(relapse.map(|r| r.kills), Some(1), "{relapse:?}");
        let relapse = relapse.unwrap();
        let truth_s = (89.0 - 64.0) * 60.0;
        assert!(
            relapse.earliest_s < truth_s && truth_s < relapse.latest_s,
            "{relapse:?}"
        );
    }

    #[test]
    fn a_climb_at_a_slower_pace_takes_longer() {
        let mut slow = oom_cycles(90, 20.0);
        let restart_count = slow.last().unwrap().restarts;
        for m in 0..30 {
            slow.push(Point {
                t: 60.0 * (90 + m) as f64 + 30.0,
                floor: (200.0 + 12.0 * m as f64) * MIB,
                peak: (205.0 + 12.0 * m as f64) * MIB,
                restarts: restart_count,
            });
        }
        let relapse = forecast(&slow, segment(&slow), false, 1024.0 * MIB, 60.0, 0.01).unwrap();
        // At 536 MiB after 30 min; the killed climb was there after 17 min, 28 min before
        // its kill.
        assert!((1.6..=1.9).contains(&relapse.pace), "{relapse:?}");
        assert!(
            (40.0 * 60.0..=56.0 * 60.0).contains(&relapse.expected_s),
            "{relapse:?}"
        );
    }
}
