//! The four detectors, judged the way users run them: the shipped rules (`RuleSet::embedded()`),
//! window frames shaped by `window::normalize` exactly as the sources shape them, and
//! `evaluate::judge` on the rule's window. Each test states what a user would notice: a finding
//! or silence, its severity, and for findings the evidence a person would check.
//!
//! Frames are synthetic: a small builder turns per-row values into a frame of a `QueryKind`'s
//! schema. All noise is deterministic (seeded `StdRng`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use forewarn::config::rules::DeclaredCanary;
use forewarn::config::{DurationText, Rule, RuleSet};
use forewarn::evaluate::{judge, rule_window};
use forewarn::findings::{Finding, Severity, Signal, Status};
use forewarn::source::canaries::CanaryMatcher;
use forewarn::window::{self, ColumnType, QueryKind, WindowFrame};
use polars::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------------
// Frame builder
// ---------------------------------------------------------------------------------------------

/// The fixed as-of time of every test (a bucket boundary for every rule).
const AS_OF: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One cell of a row.
#[derive(Debug, Clone)]
enum V {
    /// A time, nanoseconds since the epoch (UTC).
    T(i64),
    S(String),
    F(f64),
    C(u64),
    Null,
}

type Row = Vec<(&'static str, V)>;

fn s(text: &str) -> V {
    V::S(text.to_string())
}

/// A time `seconds` after AS_OF (negative: before).
fn at(seconds: f64) -> V {
    V::T(ns_at(seconds))
}

fn ns_at(seconds: f64) -> i64 {
    AS_OF.unix_timestamp_nanos() as i64 + (seconds * 1e9).round() as i64
}

/// A frame of `kind` from rows (cells not given are null), through `window::normalize` so its
/// columns, types and row order are exactly those the sources produce. The columns are handed to
/// `normalize` in reverse schema order, to rely on it rather than on the builder.
fn frame(kind: QueryKind, rows: &[Row]) -> WindowFrame {
    let schema = kind.schema();
    for row in rows {
        for (name, _) in row {
            assert!(
                schema.iter().any(|(n, _)| n == name),
                "{kind} has no column {name}"
            );
        }
    }
    let mut columns = Vec::new();
    for (name, ty) in schema.iter().rev() {
        let cells: Vec<&V> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v)
                    .unwrap_or(&V::Null)
            })
            .collect();
        let bad = |v: &V| -> ! { panic!("{kind}.{name}: {v:?} is not a {ty:?}") };
        let column = match ty {
            ColumnType::Time => {
                let values: Vec<Option<i64>> = cells
                    .iter()
                    .map(|v| match v {
                        V::T(ns) => Some(*ns),
                        V::Null => None,
                        other => bad(other),
                    })
                    .collect();
                Column::new((*name).into(), values)
                    .cast(&ty.dtype())
                    .unwrap()
            }
            ColumnType::Text => {
                let values: Vec<Option<String>> = cells
                    .iter()
                    .map(|v| match v {
                        V::S(t) => Some(t.clone()),
                        V::Null => None,
                        other => bad(other),
                    })
                    .collect();
                Column::new((*name).into(), values)
            }
            ColumnType::Float => {
                let values: Vec<Option<f64>> = cells
                    .iter()
                    .map(|v| match v {
                        V::F(x) => Some(*x),
                        V::C(n) => Some(*n as f64),
                        V::Null => None,
                        other => bad(other),
                    })
                    .collect();
                Column::new((*name).into(), values)
            }
            ColumnType::Count => {
                let values: Vec<Option<u64>> = cells
                    .iter()
                    .map(|v| match v {
                        V::C(n) => Some(*n),
                        V::Null => None,
                        other => bad(other),
                    })
                    .collect();
                Column::new((*name).into(), values)
            }
            ColumnType::Series => unreachable!("{kind}'s wide schema has no series id"),
        };
        columns.push(column);
    }
    let raw = DataFrame::new_infer_height(columns).expect("columns of one height");
    window::normalize(kind, raw).expect("the frame normalizes")
}

/// The restarts frame as the sources build it: restarts and pod events normalized, then joined.
fn restarts_frame(restarts: &[Row], events: &[Row]) -> WindowFrame {
    window::join_pod_events(
        frame(QueryKind::Restarts, restarts).rows,
        frame(QueryKind::PodEvents, events).rows,
    )
    .expect("pod events join")
    .into()
}

/// The shipped rule for a signal (exactly one).
fn shipped(signal: Signal) -> Rule {
    let set = RuleSet::embedded().expect("shipped rules are valid");
    let mut rules = set.rules.into_iter().filter(|r| r.signal == signal);
    let rule = rules.next().expect("a shipped rule for the signal");
    assert!(rules.next().is_none(), "one shipped rule per signal");
    rule
}

/// Judges `frame` with `rule` as of `as_of`, on the rule's window (rows outside it are cut, as
/// a source would never return them).
fn run_at(rule: &Rule, frame: &WindowFrame, as_of: OffsetDateTime) -> Vec<Finding> {
    let window = rule_window(rule, as_of);
    let frame = WindowFrame {
        rows: window::rows_in_window(frame, &window).expect("slice"),
        names: frame.names.clone(),
    };
    judge(rule, &frame, window).expect("the detector runs")
}

fn run(rule: &Rule, frame: &WindowFrame) -> Vec<Finding> {
    run_at(rule, frame, AS_OF)
}

fn describe(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {:?}/{:?} {:?}: {} {}",
                f.rule,
                f.severity,
                f.status,
                f.entity,
                f.summary,
                Value::Object(f.evidence.clone())
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_quiet(findings: &[Finding], what: &str) {
    assert!(
        findings.is_empty(),
        "{what}: expected no findings, got:\n{}",
        describe(findings)
    );
}

fn only(findings: Vec<Finding>, what: &str) -> Finding {
    assert_eq!(
        findings.len(),
        1,
        "{what}: expected exactly one finding, got:\n{}",
        describe(&findings)
    );
    findings.into_iter().next().unwrap()
}

fn evidence_num(f: &Finding, key: &str) -> f64 {
    f.evidence
        .get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| {
            panic!(
                "evidence {key} missing or not a number: {}",
                describe(std::slice::from_ref(f))
            )
        })
}

fn evidence_text<'a>(f: &'a Finding, key: &str) -> &'a str {
    f.evidence
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| {
            panic!(
                "evidence {key} missing or not text: {}",
                describe(std::slice::from_ref(f))
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Memory series
// ---------------------------------------------------------------------------------------------

/// One container incarnation.
struct Container {
    namespace: &'static str,
    pod: &'static str,
    uid: &'static str,
    container: &'static str,
}

const CART: Container = Container {
    namespace: "shop",
    pod: "cart-7d9f8b6c4-x2x7q",
    uid: "0b6c2f8e-cart",
    container: "cart",
};

/// Rows of a container's memory window: one per minute bucket starting `minutes` relative to
/// AS_OF. Each bucket has 4 samples (every 15 s) of `level(t)` × 1 GiB plus uniform noise of
/// ± `noise` GiB, with t in seconds relative to AS_OF; the bucket's max, min and average are
/// those samples'. The restart counter is the highest `restarts(t)` of the samples.
fn memory_rows(
    c: &Container,
    limit: Option<f64>,
    minutes: Range<i64>,
    noise: f64,
    seed: u64,
    level: impl Fn(f64) -> f64,
    restarts: impl Fn(f64) -> f64,
) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for minute in minutes {
        let start = minute as f64 * 60.0;
        let samples: Vec<f64> = (0..4)
            .map(|i| {
                let t = start + 15.0 * i as f64;
                (level(t) + noise * (2.0 * rng.random::<f64>() - 1.0)) * GIB
            })
            .collect();
        let counts: Vec<f64> = (0..4).map(|i| restarts(start + 15.0 * i as f64)).collect();
        let restart_count = if counts.iter().any(|c| c.is_nan()) {
            f64::NAN
        } else {
            counts.into_iter().fold(f64::MIN, f64::max)
        };
        let max = samples.iter().copied().fold(f64::MIN, f64::max);
        let min = samples.iter().copied().fold(f64::MAX, f64::min);
        let avg = samples.iter().sum::<f64>() / samples.len() as f64;
        rows.push(vec![
            ("bucket", at(start)),
            ("cluster", s("prod")),
            ("namespace", s(c.namespace)),
            ("pod", s(c.pod)),
            ("pod_uid", s(c.uid)),
            ("container", s(c.container)),
            ("node", s("node-a")),
            ("workload", s("Deployment/cart")),
            ("working_set_max_bytes", V::F(max)),
            ("working_set_min_bytes", V::F(min)),
            ("working_set_avg_bytes", V::F(avg)),
            ("samples", V::C(4)),
            ("limit_bytes", limit.map(V::F).unwrap_or(V::Null)),
            ("request_bytes", V::F(0.5 * GIB)),
            // A cluster that does not report the counter: `restarts` returns NaN.
            (
                "restart_count",
                if restart_count.is_nan() {
                    V::Null
                } else {
                    V::F(restart_count)
                },
            ),
        ]);
    }
    rows
}

/// A straight line through (t0, v0) and (t1, v1), t in seconds relative to AS_OF.
fn line(t0: f64, v0: f64, t1: f64, v1: f64) -> impl Fn(f64) -> f64 {
    move |t| v0 + (v1 - v0) * (t - t0) / (t1 - t0)
}

fn never_restarts(_: f64) -> f64 {
    0.0
}

fn memory_rule() -> Rule {
    let rule = shipped(Signal::MemoryPressure);
    assert_eq!(
        rule.bucket.0.as_secs(),
        60,
        "the tests assume 1-minute buckets"
    );
    assert_eq!(
        rule.window.0.as_secs(),
        3 * 3600,
        "the tests assume a 3 h window"
    );
    rule
}

fn exhaustion_at(f: &Finding) -> OffsetDateTime {
    OffsetDateTime::parse(evidence_text(f, "exhaustion_at"), &Rfc3339).expect("RFC 3339")
}

/// Linear leak from 40% at the window start reaching the 1 GiB limit 60 min after AS_OF.
fn linear_leak_rows() -> Vec<Row> {
    memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        1,
        line(-180.0 * 60.0, 0.40, 60.0 * 60.0, 1.0),
        never_restarts,
    )
}

#[test]
fn memory_linear_leak_warns_with_the_exhaustion_time() {
    let rule = memory_rule();
    let findings = run(&rule, &frame(QueryKind::Memory, &linear_leak_rows()));
    let f = only(findings, "linear leak");
    assert_eq!(f.signal, Signal::MemoryPressure);
    assert_eq!(f.status, Status::Firing);
    assert_eq!(
        f.severity,
        Severity::Warning,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    let truth = AS_OF + time::Duration::minutes(60);
    let error = (exhaustion_at(&f) - truth).whole_seconds().abs();
    assert!(
        error <= 25 * 60,
        "exhaustion_at {} is {} s from the truth {truth}",
        evidence_text(&f, "exhaustion_at"),
        error
    );
    assert!(f.summary.contains("limit reached in"), "{}", f.summary);
    assert_eq!(f.entity.get("container").map(String::as_str), Some("cart"));
    assert_eq!(f.entity.get("namespace").map(String::as_str), Some("shop"));
    assert_eq!(evidence_num(&f, "limit_bytes"), GIB);
    assert_eq!(f.runbook.as_deref(), Some("oom-remediation"));
}

#[test]
fn memory_fast_leak_is_critical() {
    let rule = memory_rule();
    // Flat at 30% until 80 min before AS_OF, then climbing to the limit 20 min after AS_OF.
    let ramp = line(-80.0 * 60.0, 0.30, 20.0 * 60.0, 1.0);
    let rows = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        2,
        |t| if t < -80.0 * 60.0 { 0.30 } else { ramp(t) },
        never_restarts,
    );
    let f = only(run(&rule, &frame(QueryKind::Memory, &rows)), "fast leak");
    assert_eq!(
        f.severity,
        Severity::Critical,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    let truth = AS_OF + time::Duration::minutes(20);
    let error = (exhaustion_at(&f) - truth).whole_seconds().abs();
    assert!(
        error <= 10 * 60,
        "exhaustion_at {} vs {truth}",
        evidence_text(&f, "exhaustion_at")
    );
    assert!(f.summary.contains("limit reached in"), "{}", f.summary);
}

/// A GC sawtooth: ramps from 50% to 88% over `period_min`, collected back to 50%.
fn sawtooth(period_min: f64, phase_min: f64) -> impl Fn(f64) -> f64 {
    move |t| {
        let period = period_min * 60.0;
        let x = (t - phase_min * 60.0).rem_euclid(period) / period;
        0.50 + 0.38 * x
    }
}

#[test]
fn memory_gc_sawtooth_with_a_flat_floor_is_quiet() {
    let rule = memory_rule();
    // Every phase at AS_OF: just collected, mid-ramp, at the top.
    for period in [20.0, 50.0] {
        for phase in (0..10).map(|i| i as f64 * period / 10.0) {
            let rows = memory_rows(
                &CART,
                Some(GIB),
                -180..0,
                0.005,
                3,
                sawtooth(period, phase),
                never_restarts,
            );
            assert_quiet(
                &run(&rule, &frame(QueryKind::Memory, &rows)),
                &format!("sawtooth, period {period} min, phase {phase} min"),
            );
        }
        // Control: the same sawtooth on a floor rising 10% of the limit per hour fires.
        let leaking = memory_rows(
            &CART,
            Some(GIB),
            -180..0,
            0.005,
            3,
            |t| sawtooth(period, 0.0)(t) - 0.20 + 0.30 * (t + 10800.0) / 10800.0,
            never_restarts,
        );
        let f = only(
            run(&rule, &frame(QueryKind::Memory, &leaking)),
            &format!("control: leaking sawtooth, period {period} min"),
        );
        assert!(f.severity >= Severity::Warning);
    }
}

/// An hour-long GC cycle (36 % → 84 % of the limit every 54 min) whose latest collection fell
/// in an 11-minute gap of the series, or just before a gap: the first bucket after the gap has
/// already refilled, so its floor is no trough. Judged near the top of the current cycle:
/// quiet. Control: the same cycle on a floor rising 8 % of the limit an hour, with the same
/// gap, fires.
#[test]
fn memory_hour_gc_cycle_with_a_collection_in_a_gap_is_quiet() {
    let rule = memory_rule();
    let period = 54.0 * 60.0;
    let cycle = move |t: f64| {
        let x = (t + 0.9 * period).rem_euclid(period) / period;
        0.36 + 0.48 * x
    };
    for gap in [-52..-41, -48..-39] {
        gap_cycle_case(&rule, cycle, gap);
    }
}

fn gap_cycle_case(rule: &Rule, cycle: impl Fn(f64) -> f64 + Copy, gap: Range<i64>) {
    let with_gap = |rows: Vec<Row>| -> Vec<Row> {
        rows.into_iter()
            .zip(-180i64..0)
            .filter(|(_, minute)| !gap.contains(minute))
            .map(|(row, _)| row)
            .collect()
    };
    let rows = with_gap(memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.005,
        17,
        cycle,
        never_restarts,
    ));
    assert_quiet(
        &run(rule, &frame(QueryKind::Memory, &rows)),
        &format!("an hour GC cycle, its latest collection at or in the gap {gap:?}"),
    );
    let leaking = with_gap(memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.005,
        17,
        move |t| cycle(t) - 0.15 + 0.25 * (t + 10800.0) / 10800.0,
        never_restarts,
    ));
    let f = only(
        run(rule, &frame(QueryKind::Memory, &leaking)),
        &format!("control: the same cycle on a rising floor, gap {gap:?}"),
    );
    assert!(f.severity >= Severity::Warning, "{}", f.summary);
}

/// A leak under a GC sawtooth (a garbage-collected runtime that leaks): the floor after each
/// collection climbs from 40% of the 1 GiB limit at the window start, and the heap refills by
/// 20% of the limit between collections every 10 min, so the cycle tops reach the limit 60 min
/// after AS_OF. `phase` (minutes) shifts the GC cycle against AS_OF.
fn sawtooth_leak_rows(phase: usize) -> Vec<Row> {
    let floor = line(-180.0 * 60.0, 0.40, 60.0 * 60.0, 0.80);
    memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.005,
        12,
        move |t| {
            let period = 600.0;
            let x = (t - phase as f64 * 60.0).rem_euclid(period) / period;
            floor(t) + 0.20 * x
        },
        never_restarts,
    )
}

#[test]
fn memory_leak_under_a_gc_sawtooth_fires_at_every_phase() {
    let rule = memory_rule();
    let mut quiet_phases = Vec::new();
    for phase in 0..10 {
        let findings = run(&rule, &frame(QueryKind::Memory, &sawtooth_leak_rows(phase)));
        match findings.as_slice() {
            [f] => assert!(f.severity >= Severity::Warning, "{}", describe(&findings)),
            [] => quiet_phases.push(phase),
            _ => panic!("more than one finding: {}", describe(&findings)),
        }
    }
    assert!(
        quiet_phases.is_empty(),
        "a floor rising toward the limit went unreported at GC phases {quiet_phases:?} of 0..10"
    );
}

#[test]
fn memory_flat_but_high_is_quiet() {
    let rule = memory_rule();
    let rows = memory_rows(&CART, Some(GIB), -180..0, 0.01, 4, |_| 0.94, never_restarts);
    assert_quiet(&run(&rule, &frame(QueryKind::Memory, &rows)), "flat at 94%");
    // Control: arriving at the same 94% by a steady climb from 80% fires.
    let climbing = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        4,
        line(-180.0 * 60.0, 0.80, 0.0, 0.94),
        never_restarts,
    );
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &climbing)),
        "control: climbing to 94%",
    );
    assert!(f.severity >= Severity::Warning);
}

#[test]
fn memory_growth_without_a_limit_is_quiet_with_the_shipped_rule() {
    let rule = memory_rule();
    let rows = memory_rows(
        &CART,
        None,
        -180..0,
        0.01,
        5,
        line(-180.0 * 60.0, 0.40, 0.0, 0.95),
        never_restarts,
    );
    assert_quiet(&run(&rule, &frame(QueryKind::Memory, &rows)), "no limit");
    // Control: the same growth under a 1 GiB limit fires.
    let limited = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        5,
        line(-180.0 * 60.0, 0.40, 0.0, 0.95),
        never_restarts,
    );
    assert_eq!(
        run(&rule, &frame(QueryKind::Memory, &limited)).len(),
        1,
        "control"
    );
}

#[test]
fn memory_leak_that_already_restarted_is_quiet() {
    let rule = memory_rule();
    // Leaked to the limit and was OOM-killed 60 min before AS_OF: the counter goes 0 → 1 and the
    // new incarnation sits flat at 30%.
    let restart_at = -60.0 * 60.0;
    let leak = line(-180.0 * 60.0, 0.40, restart_at, 0.99);
    let rows = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        6,
        |t| if t < restart_at { leak(t) } else { 0.30 },
        |t| if t < restart_at { 0.0 } else { 1.0 },
    );
    assert_quiet(&run(&rule, &frame(QueryKind::Memory, &rows)), "OOM'd leak");
    // Without a restart counter (null), the drop of the floor itself starts a new segment.
    let uncounted: Vec<Row> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(n, v)| {
                    if n == "restart_count" {
                        (n, V::Null)
                    } else {
                        (n, v)
                    }
                })
                .collect()
        })
        .collect();
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &uncounted)),
        "OOM'd leak, no restart counter",
    );
    // Control: the same leak judged 10 min before its OOM kill fires, critical.
    let before: Vec<Row> = memory_rows(&CART, Some(GIB), -180..-70, 0.01, 6, &leak, never_restarts);
    let f = only(
        run_at(
            &rule,
            &frame(QueryKind::Memory, &before),
            AS_OF - time::Duration::minutes(70),
        ),
        "control: the leak before its OOM kill",
    );
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn memory_warm_up_after_a_restart_is_quiet() {
    let rule = memory_rule();
    // Ramp 20% → 60% over 15 min, then flat for 60 min (the restart 75 min before AS_OF).
    let restart_at = -75.0 * 60.0;
    let warm_up = |t: f64| {
        if t < restart_at + 15.0 * 60.0 {
            0.20 + 0.40 * (t - restart_at) / (15.0 * 60.0)
        } else {
            0.60
        }
    };
    // With the restart counter: the same incarnation, the counter rises.
    let restarted = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        7,
        |t| if t < restart_at { 0.55 } else { warm_up(t) },
        |t| if t < restart_at { 2.0 } else { 3.0 },
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &restarted)),
        "warm-up after a counted restart",
    );
    // A new pod: the series itself starts at the warm-up.
    let fresh = memory_rows(&CART, Some(GIB), -75..0, 0.01, 8, warm_up, never_restarts);
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &fresh)),
        "warm-up of a new pod",
    );
    // Control: the same counted restart and ramp, but the new incarnation keeps climbing 30%
    // of the limit per hour after its warm-up: a leak, which fires.
    let leaking = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        7,
        |t| {
            let settled = restart_at + 15.0 * 60.0;
            if t < restart_at {
                0.55
            } else if t < settled {
                warm_up(t)
            } else {
                0.60 + 0.30 * (t - settled) / 3600.0
            }
        },
        |t| if t < restart_at { 2.0 } else { 3.0 },
    );
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &leaking)),
        "control: leak after the warm-up",
    );
    assert!(f.severity >= Severity::Warning);
}

/// A container OOM-killed every 45 min: restarts at −190, −145, −100, −55 and −10 min (relative
/// to AS_OF), each incarnation climbing from 20 % of its 1 GiB limit, fast at first and slowing
/// (concave), to the limit in 40 min, then killed 5 min later. `after` is the level of the
/// incarnation started at −10 min, by its age in seconds.
fn repeated_oom_rows(after: impl Fn(f64) -> f64) -> Vec<Row> {
    let restart_s = |k: f64| (-190.0 + 45.0 * k) * 60.0;
    let climb = |age: f64| {
        let u = (age / (40.0 * 60.0)).min(1.0);
        (0.20 + 0.80 * (1.0 - (1.0 - u).powi(2))).min(0.995)
    };
    memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        21,
        |t| {
            let k = ((t - restart_s(0.0)) / (45.0 * 60.0)).floor();
            let age = t - restart_s(k);
            if k >= 4.0 {
                after(age)
            } else {
                climb(age)
            }
        },
        |t| ((t - restart_s(0.0)) / (45.0 * 60.0)).floor(),
    )
}

#[test]
fn memory_climbing_again_after_oom_kills_is_forecast_from_the_earlier_climbs() {
    let rule = memory_rule();
    // 10 min after the last kill the new incarnation is climbing as the three killed ones did
    // (10 points: too few for any trend path); it will be killed 35 min after AS_OF.
    let climb = |age: f64| {
        let u = (age / (40.0 * 60.0)).min(1.0);
        0.20 + 0.80 * (1.0 - (1.0 - u).powi(2))
    };
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &repeated_oom_rows(climb))),
        "climbing again after three OOM kills",
    );
    assert!(
        evidence_num(&f, "earlier_kills") >= 1.0,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    let kill = AS_OF + time::Duration::minutes(35);
    let earliest = OffsetDateTime::parse(evidence_text(&f, "exhaustion_earliest_at"), &Rfc3339)
        .expect("RFC 3339");
    let latest = OffsetDateTime::parse(evidence_text(&f, "exhaustion_latest_at"), &Rfc3339)
        .expect("RFC 3339");
    assert!(
        earliest <= kill && kill <= latest,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    assert!(
        (exhaustion_at(&f) - kill).abs() <= time::Duration::minutes(8),
        "{}",
        describe(std::slice::from_ref(&f))
    );
    assert!(f.summary.contains("OOM-killed 3×"), "{}", f.summary);
    // Quiet: after the same three kills the new incarnation settles flat at 30 % (whatever
    // leaked was fixed by the restart).
    assert_quiet(
        &run(
            &rule,
            &frame(QueryKind::Memory, &repeated_oom_rows(|_| 0.30)),
        ),
        "flat after three OOM kills",
    );
    // Quiet: the same 10 min of climb with no kill before it has no history to go by.
    let first = memory_rows(
        &CART,
        Some(GIB),
        -10..0,
        0.01,
        22,
        |t| climb(t + 600.0),
        never_restarts,
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &first)),
        "a first climb, 10 min old",
    );
}

#[test]
fn memory_staircase_climbs_and_one_step_up_does_not() {
    let rule = memory_rule();
    // Steps of +15 % of the limit every 40 min (each over 2 min), flat in between: 30 % until
    // 140 min ago, 90 % since the fourth step 20 min ago; the next step would reach the limit.
    let stairs = |t: f64| {
        0.30 + [-140.0, -100.0, -60.0, -20.0]
            .iter()
            .map(|step_min| 0.15 * ((t - step_min * 60.0) / 120.0).clamp(0.0, 1.0))
            .sum::<f64>()
    };
    let f = only(
        run(
            &rule,
            &frame(
                QueryKind::Memory,
                &memory_rows(&CART, Some(GIB), -180..0, 0.01, 23, stairs, never_restarts),
            ),
        ),
        "a staircase toward the limit",
    );
    assert!(f.severity >= Severity::Warning);
    // One step up to a new flat level (a config change) 40 min ago: quiet.
    let step = |t: f64| if t < -40.0 * 60.0 { 0.30 } else { 0.90 };
    assert_quiet(
        &run(
            &rule,
            &frame(
                QueryKind::Memory,
                &memory_rows(&CART, Some(GIB), -180..0, 0.01, 24, step, never_restarts),
            ),
        ),
        "one step up to a flat level",
    );
}

#[test]
fn memory_wander_back_to_an_old_level_is_not_a_young_leak() {
    let rule = memory_rule();
    // At 93 % ± 2 % of the limit, wandering with a 50 min period; the newest 20 min are the
    // steepest rise of a wave (centred on where it crosses its middle), as steep as a young
    // leak, back to the 95 % the container has held at every wave for three hours.
    let wander =
        |t: f64| 0.93 + 0.02 * ((t + 10.0 * 60.0) * std::f64::consts::TAU / (50.0 * 60.0)).sin();
    let rows = memory_rows(&CART, Some(GIB), -180..0, 0.002, 25, wander, never_restarts);
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "a wander back to the level held before",
    );
    // Control: the same 20 min as a new pod's whole life (no earlier level to return to) is
    // new ground, and the short path judges it a young leak.
    let young = memory_rows(&CART, Some(GIB), -20..0, 0.002, 25, wander, never_restarts);
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &young)),
        "control: the same rise as a young pod",
    );
    assert_eq!(evidence_num(&f, "fit_window_s"), 1200.0);
}

#[test]
fn memory_slowing_leak_forecasts_with_the_interval_of_the_rate_it_uses() {
    let rule = memory_rule();
    // A leak that slows (a cache filling toward a size near the limit): 40 % three hours ago,
    // 94 % now and still rising 0.13 % of the limit a minute. The newest 30 min rise slower
    // than the last hour: the forecast uses their rate, and its interval must be theirs.
    let slowing = |t: f64| 0.40 + 0.70 * (1.0 - (-(t + 180.0 * 60.0) / (120.0 * 60.0)).exp());
    let rows = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.005,
        26,
        slowing,
        never_restarts,
    );
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &rows)),
        "a slowing leak near its limit",
    );
    let (low, slope, high) = (
        evidence_num(&f, "slope_ci_low_bytes_per_s"),
        evidence_num(&f, "slope_bytes_per_s"),
        evidence_num(&f, "slope_ci_high_bytes_per_s"),
    );
    assert!(
        low <= slope && slope <= high,
        "the slope lies outside its own interval: {}",
        describe(std::slice::from_ref(&f))
    );
}

#[test]
fn memory_young_pod_without_the_evidence_of_a_steep_leak_is_quiet() {
    let rule = memory_rule();
    // Too few points for any path: 10 minutes of a steep ramp.
    let steep = line(-30.0 * 60.0, 0.30, 10.0 * 60.0, 1.0);
    let rows = memory_rows(&CART, Some(GIB), -10..0, 0.01, 9, &steep, never_restarts);
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "10 min of history",
    );
    // 30 minutes of a moderate ramp (the limit ~2 h away): not enough history for the regular
    // path, not urgent enough for the short one.
    let moderate = line(-30.0 * 60.0, 0.30, 120.0 * 60.0, 1.0);
    let rows = memory_rows(&CART, Some(GIB), -30..0, 0.01, 9, moderate, never_restarts);
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "30 min of a moderate ramp",
    );
    // A warm-up: steep at first, slowing toward its working level (70% of the limit).
    let warm_up = |t: f64| 0.70 - 0.45 * (-(t + 30.0 * 60.0) / (8.0 * 60.0)).exp();
    let rows = memory_rows(&CART, Some(GIB), -30..0, 0.01, 9, warm_up, never_restarts);
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "30 min of a warm-up",
    );
}

/// Rows of `c` with its owner set to `workload`.
fn owned_by(rows: Vec<Row>, workload: &'static str) -> Vec<Row> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(k, v)| {
                    if k == "workload" {
                        (k, s(workload))
                    } else {
                        (k, v)
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn memory_cronjob_run_that_will_finish_as_its_predecessor_did_is_quiet() {
    let rule = memory_rule();
    let run_of = |pod: &'static str, uid: &'static str| Container {
        namespace: "batch",
        pod,
        uid,
        container: "reindex",
    };
    // The previous run of the CronJob: 25 minutes from 10% to 60%, then it completed.
    let earlier = owned_by(
        memory_rows(
            &run_of("reindex-29919100-aaaaa", "u-earlier"),
            Some(GIB),
            -130..-105,
            0.005,
            5,
            line(-130.0 * 60.0, 0.10, -105.0 * 60.0, 0.60),
            never_restarts,
        ),
        "CronJob/reindex",
    );
    // This run: 20 minutes in, steeper and higher (66%), the limit ~12 minutes away if it went on.
    let current = || {
        owned_by(
            memory_rows(
                &run_of("reindex-29919200-bbbbb", "u-current"),
                Some(GIB),
                -20..0,
                0.005,
                6,
                line(-20.0 * 60.0, 0.10, 0.0, 0.66),
                never_restarts,
            ),
            "CronJob/reindex",
        )
    };
    let rows: Vec<Row> = earlier.iter().cloned().chain(current()).collect();
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "a run 5 minutes from its predecessor's end",
    );
    // Control: without the earlier run in the window the same climb is critical.
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &current())),
        "control: the climb alone",
    );
    assert_eq!(f.severity, Severity::Critical, "{}", f.summary);
    // Control: a predecessor that ran for two hours (a replaced pod, not a short batch run)
    // says nothing about this one finishing soon.
    let long_lived = owned_by(
        memory_rows(
            &run_of("reindex-29919000-ccccc", "u-long"),
            Some(GIB),
            -180..-60,
            0.005,
            7,
            |_| 0.30,
            never_restarts,
        ),
        "CronJob/reindex",
    );
    let rows: Vec<Row> = long_lived.into_iter().chain(current()).collect();
    only(
        run(&rule, &frame(QueryKind::Memory, &rows)),
        "control: a long-lived predecessor",
    );
}

#[test]
fn memory_young_steep_leak_is_critical_from_the_short_window() {
    let rule = memory_rule();
    // Control beside the quiet young pods: 30 minutes of a steep ramp that reaches the limit
    // 10 minutes after AS_OF, seen on the short path, critical, with a forecast interval that
    // brackets the crossing on at least 80% of seeds (a 95% slope interval plus noise).
    let steep = line(-30.0 * 60.0, 0.30, 10.0 * 60.0, 1.0);
    let seeds = 20;
    let mut covered = 0;
    for seed in 0..seeds {
        let rows = memory_rows(
            &CART,
            Some(GIB),
            -30..0,
            0.01,
            9 + seed,
            &steep,
            never_restarts,
        );
        let f = only(
            run(&rule, &frame(QueryKind::Memory, &rows)),
            &format!("young steep leak (seed {seed})"),
        );
        assert_eq!(f.severity, Severity::Critical, "{}", f.summary);
        let (earliest, latest) = (
            evidence_num(&f, "time_to_exhaustion_earliest_s"),
            evidence_num(&f, "time_to_exhaustion_latest_s"),
        );
        covered += usize::from(earliest <= 600.0 && 600.0 <= latest);
    }
    assert!(
        covered as f64 >= 0.8 * seeds as f64,
        "the forecast interval bracketed the crossing on {covered} of {seeds} seeds"
    );
    // The same ramp with 60 minutes of history is critical on the regular path as well.
    let longer = memory_rows(&CART, Some(GIB), -60..0, 0.01, 9, &steep, never_restarts);
    let f = only(run(&rule, &frame(QueryKind::Memory, &longer)), "control");
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn memory_leak_begun_minutes_ago_in_an_old_pod_is_warned_from_its_hinge() {
    let rule = memory_rule();
    // A pod flat at 30 % for three hours starts leaking 10 minutes before AS_OF, steeply
    // enough to reach its limit 25 minutes after it. The short span is half flat: its rank
    // test is diluted and a line through the hinge leaves residuals that follow each other,
    // yet "flat, then rising" beats a flat level by far, and the rise after the hinge is the
    // young leak.
    // Flat at 30 % until 10 minutes ago, then rising to the limit `minutes_to_limit` after
    // the rise began.
    let flat_then_rising = |minutes_to_limit: f64| {
        let rise = line(-10.0 * 60.0, 0.30, (minutes_to_limit - 10.0) * 60.0, 1.0);
        move |t: f64| if t < -10.0 * 60.0 { 0.30 } else { rise(t) }
    };
    let leak = flat_then_rising(35.0);
    let rows = memory_rows(&CART, Some(GIB), -180..0, 0.005, 31, leak, never_restarts);
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &rows)),
        "a leak 10 minutes old in an old pod",
    );
    let (earliest, latest) = (
        evidence_num(&f, "time_to_exhaustion_earliest_s"),
        evidence_num(&f, "time_to_exhaustion_latest_s"),
    );
    assert!(
        earliest < 25.0 * 60.0 && 25.0 * 60.0 < latest,
        "the interval {earliest}–{latest} s misses the crossing 25 min ahead: {}",
        f.summary
    );
    // Control: the same ten minutes rising at a tenth of the pace (the limit hours away even
    // at its likeliest rate) is not urgent enough for the short path, and too young a rise
    // for the longer spans.
    let slow = flat_then_rising(350.0);
    let rows = memory_rows(&CART, Some(GIB), -180..0, 0.005, 31, slow, never_restarts);
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "a slow rise 10 minutes old",
    );
    // Control: a one-time step up to a new flat level 10 minutes ago is a level shift.
    let step = |t: f64| if t < -10.0 * 60.0 { 0.30 } else { 0.55 };
    let rows = memory_rows(&CART, Some(GIB), -180..0, 0.005, 31, step, never_restarts);
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "a step up 10 minutes ago",
    );
}

#[test]
fn memory_series_that_stopped_reporting_is_quiet() {
    let rule = memory_rule();
    // A batch pod climbing steadily until it completed 30 min before AS_OF.
    let rows = memory_rows(
        &CART,
        Some(GIB),
        -180..-30,
        0.01,
        10,
        line(-180.0 * 60.0, 0.40, 0.0, 0.97),
        never_restarts,
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "stopped series",
    );
    // Control: the same climb still reporting at AS_OF fires.
    let running = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.01,
        10,
        line(-180.0 * 60.0, 0.40, 0.0, 0.97),
        never_restarts,
    );
    assert_eq!(
        run(&rule, &frame(QueryKind::Memory, &running)).len(),
        1,
        "control"
    );
}

#[test]
fn memory_kube_system_is_excluded_by_the_shipped_rule() {
    let rule = memory_rule();
    let system = Container {
        namespace: "kube-system",
        pod: "coredns-5d78c9869d-abcde",
        uid: "uid-coredns",
        container: "coredns",
    };
    let rows = memory_rows(
        &system,
        Some(GIB),
        -180..0,
        0.01,
        11,
        line(-180.0 * 60.0, 0.40, 60.0 * 60.0, 1.0),
        never_restarts,
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "kube-system leak",
    );
    // Control: the same leak in an application namespace fires.
    let shop = Container {
        namespace: "shop",
        ..system
    };
    let rows = memory_rows(
        &shop,
        Some(GIB),
        -180..0,
        0.01,
        11,
        line(-180.0 * 60.0, 0.40, 60.0 * 60.0, 1.0),
        never_restarts,
    );
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &rows)),
        "control: the leak in shop",
    );
    assert_eq!(f.entity.get("namespace").map(String::as_str), Some("shop"));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

fn errors_rule() -> Rule {
    let rule = shipped(Signal::ErrorRate);
    assert_eq!(
        rule.bucket.0.as_secs(),
        300,
        "the tests assume 5-minute buckets"
    );
    assert_eq!(
        rule.window.0.as_secs(),
        6 * 3600,
        "the tests assume a 6 h window"
    );
    rule
}

/// The 72 five-minute buckets of the 6 h window: index k starts (k - 72) × 5 min from AS_OF;
/// k ≥ 69 is the recent 15 min.
const ERROR_BUCKETS: usize = 72;

/// Rows of a service: per bucket k, `shape(k)` gives (requests, error probability); errors are
/// drawn per request.
fn error_rows(service: &str, seed: u64, shape: impl Fn(usize) -> (u64, f64)) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..ERROR_BUCKETS)
        .map(|k| {
            let (total, p) = shape(k);
            let errors = (0..total).filter(|_| rng.random_bool(p)).count() as u64;
            error_row(service, k, total, errors)
        })
        .collect()
}

fn error_row(service: &str, k: usize, total: u64, errors: u64) -> Row {
    vec![
        ("bucket", at((k as f64 - ERROR_BUCKETS as f64) * 300.0)),
        ("cluster", s("prod")),
        ("namespace", s("shop")),
        ("service", s(service)),
        ("total", V::C(total)),
        ("errors", V::C(errors)),
    ]
}

/// The first bucket of the window's last hour.
const LAST_HOUR: usize = ERROR_BUCKETS - 12;

fn is_recent(k: usize) -> bool {
    k >= ERROR_BUCKETS - 3
}

#[test]
fn errors_burst_is_critical_and_significant() {
    let rule = errors_rule();
    // 40 requests/min = 200 per bucket; 1% errors, then 10% in the last 15 min.
    let rows = error_rows("checkout", 20, |k| {
        (200, if is_recent(k) { 0.10 } else { 0.01 })
    });
    let f = only(run(&rule, &frame(QueryKind::Errors, &rows)), "error burst");
    assert_eq!(f.signal, Signal::ErrorRate);
    assert_eq!(
        f.severity,
        Severity::Critical,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    assert_eq!(
        f.entity.get("service").map(String::as_str),
        Some("checkout")
    );
    let p = evidence_num(&f, "p_value");
    assert!(p < 1e-4, "p_value {p}");
    let recent = evidence_num(&f, "recent_error_ratio");
    assert!((0.06..0.14).contains(&recent), "recent ratio {recent}");
    assert_eq!(evidence_num(&f, "recent_window_s"), 900.0);
    assert!(f.summary.contains("checkout"), "{}", f.summary);
}

/// 400 requests/min without a single error for 5 h 45 min, then 2% errors.
fn zero_baseline_burst_rows() -> Vec<Row> {
    error_rows("ledger", 7, |k| {
        (2000, if is_recent(k) { 0.02 } else { 0.0 })
    })
}

#[test]
fn errors_burst_from_a_zero_baseline_fires() {
    let rule = errors_rule();
    let rows = zero_baseline_burst_rows();
    let f = only(
        run(&rule, &frame(QueryKind::Errors, &rows)),
        "zero baseline",
    );
    assert_eq!(evidence_num(&f, "baseline_error_ratio"), 0.0);
    assert!(f.severity >= Severity::Warning);
}

#[test]
fn errors_burst_from_a_zero_baseline_reads_sensibly() {
    let rule = errors_rule();
    let rows = zero_baseline_burst_rows();
    let f = only(
        run(&rule, &frame(QueryKind::Errors, &rows)),
        "zero baseline",
    );
    let increase = f.evidence.get("ratio_increase").and_then(Value::as_f64);
    assert!(
        increase.is_none_or(|x| x < 1e6),
        "ratio_increase {increase:?}; summary: {}",
        f.summary
    );
    assert!(!f.summary.contains("00000"), "summary: {}", f.summary);
}

#[test]
fn errors_chronically_high_flat_ratio_is_quiet() {
    let rule = errors_rule();
    let rows = error_rows("legacy", 21, |_| (200, 0.08));
    assert_quiet(&run(&rule, &frame(QueryKind::Errors, &rows)), "flat 8%");
    // Control: the same 8% baseline tripling over the recent span fires.
    let rows = error_rows("legacy", 21, |k| {
        (200, if is_recent(k) { 0.24 } else { 0.08 })
    });
    only(
        run(&rule, &frame(QueryKind::Errors, &rows)),
        "control: 8% tripling",
    );
}

#[test]
fn errors_traffic_swings_at_a_constant_ratio_are_quiet() {
    let rule = errors_rule();
    // 10 ↔ 100 requests/min: alternating buckets, and hour-long swings with the recent span at
    // the peak and in the trough.
    type Pattern = (&'static str, fn(usize) -> u64);
    let patterns: [Pattern; 3] = [
        ("alternating", |k| if k % 2 == 0 { 50 } else { 500 }),
        // The window's last hour is k = 60..72, an odd hour.
        ("peak now", |k| if (k / 12) % 2 == 1 { 500 } else { 50 }),
        ("trough now", |k| if (k / 12) % 2 == 1 { 50 } else { 500 }),
    ];
    for (name, volume) in patterns {
        for seed in 0..5 {
            let rows = error_rows("search", 100 + seed, |k| (volume(k), 0.01));
            assert_quiet(
                &run(&rule, &frame(QueryKind::Errors, &rows)),
                &format!("traffic swings ({name}, seed {seed})"),
            );
        }
        // Control: the same swings with the ratio rising to 12% over the recent span fire (in
        // the trough that is 150 requests, 18 errors expected).
        let rows = error_rows("search", 100, |k| {
            (volume(k), if is_recent(k) { 0.12 } else { 0.01 })
        });
        only(
            run(&rule, &frame(QueryKind::Errors, &rows)),
            &format!("control: traffic swings ({name}) with a real rise"),
        );
    }
}

#[test]
fn errors_quiet_service_with_one_recent_error_is_quiet() {
    let rule = errors_rule();
    // 3 requests an hour (one every 20 min); the one in the last 15 min failed.
    let rows: Vec<Row> = (0..ERROR_BUCKETS)
        .map(|k| {
            let total = u64::from(k % 4 == 1);
            let errors = u64::from(total == 1 && is_recent(k));
            error_row("admin", k, total, errors)
        })
        .collect();
    assert!(
        rows.iter().any(|r| matches!(r[5].1, V::C(1))),
        "an error is in the frame"
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Errors, &rows)),
        "3 requests/hour",
    );
    // Control: the same sparse shape with the volume to judge (100 requests per active
    // bucket; 20 of the recent 100 failed, none before) fires.
    let rows: Vec<Row> = (0..ERROR_BUCKETS)
        .map(|k| {
            let total = 100 * u64::from(k % 4 == 1);
            let errors = if total > 0 && is_recent(k) { 20 } else { 0 };
            error_row("admin", k, total, errors)
        })
        .collect();
    only(
        run(&rule, &frame(QueryKind::Errors, &rows)),
        "control: sparse but judgeable",
    );
}

#[test]
fn errors_gradual_creep_fires() {
    let rule = errors_rule();
    // 1% rising linearly to 6% over the 3 h.
    let rows = error_rows("payments", 22, |k| {
        (200, 0.01 + 0.05 * (k as f64 + 0.5) / ERROR_BUCKETS as f64)
    });
    let f = only(
        run(&rule, &frame(QueryKind::Errors, &rows)),
        "gradual creep",
    );
    assert_eq!(f.status, Status::Firing);
    assert!(
        f.severity >= Severity::Warning,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    assert_eq!(
        f.entity.get("service").map(String::as_str),
        Some("payments")
    );
}

/// A busy service (`requests` per 5-min bucket) at `baseline`, its ratio creeping linearly
/// from bucket `from` by `rise` × baseline per bucket.
fn creep_rows(
    service: &str,
    seed: u64,
    requests: impl Fn(usize) -> u64,
    baseline: f64,
    from: usize,
    rise: f64,
) -> Vec<Row> {
    error_rows(service, seed, |k| {
        let grown = k.saturating_sub(from) as f64 * rise;
        (requests(k), baseline * (1.0 + grown))
    })
}

/// 0.2% errors at 200 requests/min, creeping for the last hour toward 5× (reached at 90 min):
/// now about 3.7× its baseline, 0.5 percentage points above it.
fn busy_creep_rows(seed: u64) -> Vec<Row> {
    creep_rows("payments", seed, |_| 1000, 0.002, LAST_HOUR, 4.0 / 18.0)
}

/// The scheduled runs' view of a creep: per-bucket counts drawn once for `buckets` buckets
/// (bucket k has `requests` requests at `ratio(k)`), judged every 5 minutes as the window
/// slides over them. Returns the bucket index of the first run that reports the service (its
/// as-of is the end of that bucket) and the finding, or None.
fn first_report(
    seed: u64,
    buckets: usize,
    requests: u64,
    ratio: impl Fn(usize) -> f64,
) -> Option<(usize, Finding)> {
    let rule = errors_rule();
    let mut rng = StdRng::seed_from_u64(seed);
    let rows: Vec<Row> = (0..buckets)
        .map(|k| {
            let p = ratio(k);
            let errors = (0..requests).filter(|_| rng.random_bool(p)).count() as u64;
            error_row("payments", k, requests, errors)
        })
        .collect();
    let frame = frame(QueryKind::Errors, &rows);
    // The first run sees one whole window.
    (ERROR_BUCKETS..=buckets).find_map(|end| {
        let as_of = AS_OF + time::Duration::seconds(300 * (end as i64 - ERROR_BUCKETS as i64));
        let findings = run_at(&rule, &frame, as_of);
        findings.into_iter().next().map(|f| (end - 1, f))
    })
}

/// Where the creeps of the tests below begin: after a whole window of flat ratio, so that the
/// first runs judge only flat data.
const CREEP_START: usize = ERROR_BUCKETS;

/// `first_report` of a creep over seeds `seed_base..seed_base + 8`: each seed is reported, and
/// never before the creep begins. Returns (bucket, finding) per seed.
fn creep_reports(
    creep: &str,
    seed_base: u64,
    buckets: usize,
    requests: u64,
    ratio: impl Fn(usize) -> f64 + Copy,
) -> Vec<(usize, Finding)> {
    (0..8)
        .map(|seed| {
            let Some((bucket, f)) = first_report(seed_base + seed, buckets, requests, ratio) else {
                panic!("{creep} (seed {seed}) never reported");
            };
            assert!(
                bucket >= CREEP_START,
                "{creep} (seed {seed}): reported at bucket {bucket}, before the creep: {}",
                f.summary
            );
            (bucket, f)
        })
        .collect()
}

#[test]
fn errors_busy_service_creep_is_reported_before_five_times_its_baseline() {
    // 0.2% errors at 200 requests/min for three hours, then creeping linearly by 4/18 of the
    // baseline per bucket: 5× (1%) after 90 minutes. Judged every 5 minutes from the last
    // flat window on (those runs must stay quiet) as it creeps.
    let baseline = 0.002;
    let ratio = |k: usize| baseline * (1.0 + k.saturating_sub(CREEP_START) as f64 * 4.0 / 18.0);
    let five_times = (0..).find(|&k| ratio(k) >= 5.0 * baseline).unwrap();
    let mut reported_at = Vec::new();
    for (bucket, f) in creep_reports("busy-service creep", 300, five_times + 6, 1000, ratio) {
        assert_eq!(
            evidence_text(&f, "method"),
            "binomial_trend",
            "{}",
            f.summary
        );
        assert_eq!(f.severity, Severity::Warning);
        let before = evidence_num(&f, "baseline_error_ratio");
        assert!(
            (0.001..0.003).contains(&before),
            "baseline {before}: {}",
            f.summary
        );
        assert!(
            f.summary.contains("payments") && f.summary.contains("rising"),
            "{}",
            f.summary
        );
        reported_at.push(bucket);
    }
    // Every seed before the ratio reaches 5× its baseline (worst seed named).
    let worst = *reported_at.iter().max().unwrap();
    eprintln!("busy creep first reports at buckets {reported_at:?}; 5× at {five_times}");
    assert!(
        worst < five_times,
        "first reports at buckets {reported_at:?}; 5× is reached at bucket {five_times}"
    );
}

#[test]
fn errors_slow_creep_on_a_service_with_few_errors_is_reported_well_before_five_times_its_baseline()
{
    // 0.2% of 67 requests a minute: eight errors an hour. The ratio creeps to 8× over four
    // hours, so 5× comes 2 h 20 min in — when a 3 h window holds 40 minutes of baseline, a
    // handful of errors to judge the rise against. The 6 h window keeps the baseline. Measured
    // over these seeds: worst first report 45 min before 5× (a 3 h window: 20 min).
    let baseline = 0.002;
    let ratio = |k: usize| {
        let grown = (k.saturating_sub(CREEP_START) as f64 / 48.0).min(1.0);
        baseline * (1.0 + 7.0 * grown)
    };
    let five_times = (0..).find(|&k| ratio(k) >= 5.0 * baseline).unwrap();
    let reported_at: Vec<usize> = creep_reports("slow creep", 900, five_times + 12, 333, ratio)
        .into_iter()
        .map(|(bucket, _)| bucket)
        .collect();
    eprintln!("slow creep first reports at buckets {reported_at:?}; 5× at {five_times}");
    let worst = *reported_at.iter().max().unwrap();
    assert!(
        worst + 6 <= five_times,
        "first reports at buckets {reported_at:?}: not half an hour before 5× (bucket {five_times})"
    );
}

#[test]
fn errors_moderate_volume_creep_past_one_percent_is_reported_soon_after() {
    // Six thousand requests an hour (500 a bucket): 0.3% for three hours, then climbing to
    // 1.2% over 90 minutes. Reported no later than 10 minutes after the ratio passes 1%, and
    // never before the creep begins.
    let ratio = |k: usize| 0.003 + 0.009 * (k.saturating_sub(CREEP_START) as f64 / 18.0).min(1.0);
    let past_one_percent = (0..).find(|&k| ratio(k) >= 0.01).unwrap();
    let reported_at: Vec<usize> =
        creep_reports("moderate creep", 600, past_one_percent + 6, 500, ratio)
            .into_iter()
            .map(|(bucket, _)| bucket)
            .collect();
    eprintln!("moderate creep first reports at buckets {reported_at:?}; 1% at {past_one_percent}");
    let worst = *reported_at.iter().max().unwrap();
    assert!(
        worst <= past_one_percent + 2,
        "first reports at buckets {reported_at:?}; the ratio passed 1% at bucket {past_one_percent}"
    );
}

#[test]
fn errors_busy_service_with_a_flat_ratio_is_quiet() {
    let rule = errors_rule();
    // The same busy service at a flat 0.2%, and at a chronically high flat 8%.
    for seed in 0..10 {
        for ratio in [0.002, 0.08] {
            let rows = error_rows("payments", 400 + seed, |_| (1000, ratio));
            assert_quiet(
                &run(&rule, &frame(QueryKind::Errors, &rows)),
                &format!("flat {ratio} at 200 requests/min (seed {seed})"),
            );
        }
    }
    // Control: the same chronically high 8% creeping to three times itself over the last hour.
    let rows = creep_rows("payments", 400, |_| 1000, 0.08, LAST_HOUR, 2.0 / 12.0);
    only(
        run(&rule, &frame(QueryKind::Errors, &rows)),
        "control: 8% creeping to 24%",
    );
}

#[test]
fn errors_traffic_ramp_at_a_constant_ratio_is_quiet() {
    let rule = errors_rule();
    // Traffic ramps 10× over the window (100 to ~1,000 requests a bucket) at a constant ratio.
    let ramp = |k: usize| 100 + 25 * k as u64 / 2;
    for seed in 0..10 {
        let rows = error_rows("search", 500 + seed, |k| (ramp(k), 0.003));
        assert_quiet(
            &run(&rule, &frame(QueryKind::Errors, &rows)),
            &format!("traffic ramp at 0.3% (seed {seed})"),
        );
    }
    // Control: the same ramp with the ratio creeping as in the busy-service creep.
    let rows = creep_rows("search", 500, ramp, 0.003, LAST_HOUR, 4.0 / 18.0);
    let f = only(
        run(&rule, &frame(QueryKind::Errors, &rows)),
        "control: traffic ramp with a creep",
    );
    assert_eq!(evidence_text(&f, "method"), "binomial_trend");
}

#[test]
fn errors_low_traffic_noise_is_quiet() {
    let rule = errors_rule();
    // 1–3 requests a bucket with 5% errors, and the same creeping as the busy service does:
    // too few requests to tell anything.
    for seed in 0..10 {
        let rows = creep_rows(
            "admin",
            600 + seed,
            |k| 1 + k as u64 % 3,
            0.05,
            LAST_HOUR,
            4.0 / 18.0,
        );
        assert_quiet(
            &run(&rule, &frame(QueryKind::Errors, &rows)),
            &format!("low traffic (seed {seed})"),
        );
    }
    // Control: the creep with the busy service's volume fires.
    only(
        run(&rule, &frame(QueryKind::Errors, &busy_creep_rows(600))),
        "control: the busy creep",
    );
}

#[test]
fn errors_binomial_noise_across_many_services_stays_quiet() {
    let rule = errors_rule();
    let names: Vec<String> = (0..40).map(|i| format!("svc-{i:02}")).collect();
    let rows: Vec<Row> = names
        .iter()
        .enumerate()
        .flat_map(|(i, name)| error_rows(name, 1000 + i as u64, |_| (200, 0.01)))
        .collect();
    assert_quiet(
        &run(&rule, &frame(QueryKind::Errors, &rows)),
        "40 services of binomial noise",
    );
    // Control: with a real burst in one more service, that one (and only it) still fires
    // under the stricter per-service level.
    let mut with_burst = rows;
    with_burst.extend(error_rows("checkout", 20, |k| {
        (200, if is_recent(k) { 0.10 } else { 0.01 })
    }));
    let f = only(
        run(&rule, &frame(QueryKind::Errors, &with_burst)),
        "burst among noise",
    );
    assert_eq!(
        f.entity.get("service").map(String::as_str),
        Some("checkout")
    );
}

/// 40 services at exactly 1% errors; `svc-07` has 3% over the recent 15 min (18 of 600
/// requests against 66 of 6,600: one-sided Fisher p ≈ 1.5e-4, between 0.001 / 40 and 0.001).
fn forty_services_one_moderate_burst() -> Vec<Row> {
    (0..40)
        .flat_map(|i| {
            let name = format!("svc-{i:02}");
            (0..ERROR_BUCKETS)
                .map(|k| {
                    let errors = if i == 7 && is_recent(k) { 6 } else { 2 };
                    error_row(&name, k, 200, errors)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn errors_bonferroni_counts_only_the_services_the_rule_selects() {
    let frame = frame(QueryKind::Errors, &forty_services_one_moderate_burst());
    // A rule selecting one service makes one test: the uncorrected level, and p ≈ 1.5e-4 fires.
    let mut one = errors_rule();
    one.select.services.include = vec!["svc-07".into()];
    let f = only(run(&one, &frame), "one selected service");
    assert_eq!(f.entity.get("service").map(String::as_str), Some("svc-07"));
    let p = evidence_num(&f, "p_value");
    assert!((2.5e-5..1e-3).contains(&p), "p_value {p}");
    // Control: the shipped rule selects all 40, so the level is 0.001 / 40 and the same burst
    // is not significant enough.
    assert_quiet(
        &run(&errors_rule(), &frame),
        "the same burst among 40 judged services",
    );
    // And services the rule excludes are not counted either: excluding the 39 others by
    // pattern is the same single test.
    let mut excluding = errors_rule();
    excluding.select.services.exclude = (0..40)
        .filter(|i| *i != 7)
        .map(|i| format!("svc-{i:02}"))
        .collect();
    assert_eq!(
        run(&excluding, &frame).len(),
        1,
        "excluded services are not tests"
    );
}

// ---------------------------------------------------------------------------------------------
// Restarts
// ---------------------------------------------------------------------------------------------

fn restarts_rule() -> Rule {
    let rule = shipped(Signal::RestartFrequency);
    assert_eq!(
        rule.bucket.0.as_secs(),
        60,
        "the tests assume 1-minute buckets"
    );
    assert_eq!(
        rule.window.0.as_secs(),
        6 * 3600,
        "the tests assume a 6 h window"
    );
    rule
}

/// Rows of a container's restart window: one per minute bucket of `minutes` (relative to AS_OF);
/// `restart_minutes` are the minutes in which the container restarted; the counter starts at
/// `initial_count`.
fn restart_rows(
    pod: &str,
    uid: &str,
    minutes: Range<i64>,
    restart_minutes: &[i64],
    initial_count: u64,
) -> Vec<Row> {
    let mut count = initial_count;
    minutes
        .map(|m| {
            let restarts = restart_minutes.iter().filter(|r| **r == m).count() as u64;
            count += restarts;
            vec![
                ("bucket", at(m as f64 * 60.0)),
                ("cluster", s("prod")),
                ("namespace", s("shop")),
                ("pod", s(pod)),
                ("pod_uid", s(uid)),
                ("container", s("app")),
                ("workload", s("Deployment/api")),
                ("restarts", V::C(restarts)),
                ("restart_count", V::F(count as f64)),
            ]
        })
        .collect()
}

/// A pod-events row: `reason` columns with counts, in minute `m` relative to AS_OF.
fn event_row(pod: &str, m: i64, counts: &[(&'static str, u64)]) -> Row {
    let mut row = vec![
        ("bucket", at(m as f64 * 60.0)),
        ("cluster", s("prod")),
        ("namespace", s("shop")),
        ("pod", s(pod)),
    ];
    for column in [
        "backoff_events",
        "oom_events",
        "unhealthy_events",
        "killing_events",
        "failed_events",
    ] {
        let n = counts
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        row.push((column, V::C(n)));
    }
    row
}

const API_POD: &str = "api-6b8d9c7f5-q4w2e";

#[test]
fn restarts_crash_loop_with_backoff_is_critical() {
    let rule = restarts_rule();
    // 4 restarts in the last 25 min, spaced further apart each time (back-off), a BackOff
    // event after each.
    let at_minutes = [-25, -21, -15, -6];
    let rows = restart_rows(API_POD, "uid-api", -360..0, &at_minutes, 0);
    let events: Vec<Row> = at_minutes
        .iter()
        .map(|m| event_row(API_POD, m + 1, &[("backoff_events", 2)]))
        .collect();
    let f = only(run(&rule, &restarts_frame(&rows, &events)), "crash loop");
    assert_eq!(f.signal, Signal::RestartFrequency);
    assert_eq!(
        f.severity,
        Severity::Critical,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    assert!(f.summary.contains("BackOff"), "{}", f.summary);
    assert_eq!(evidence_text(&f, "pattern"), "crash_loop");
    assert_eq!(evidence_num(&f, "restarts_in_crash_loop_window"), 4.0);
    assert_eq!(f.entity.get("pod").map(String::as_str), Some(API_POD));
    assert_eq!(f.entity.get("container").map(String::as_str), Some("app"));
}

#[test]
fn restarts_single_restart_is_quiet() {
    let rule = restarts_rule();
    for minute in [-200, -45, -10] {
        let rows = restart_rows(API_POD, "uid-api", -360..0, &[minute], 0);
        let events = vec![event_row(API_POD, minute, &[("oom_events", 1)])];
        assert_quiet(
            &run(&rule, &restarts_frame(&rows, &events)),
            &format!("single restart at {minute} min"),
        );
    }
    // Control: the last of them with two more restarts in the 10 min before it fires.
    let rows = restart_rows(API_POD, "uid-api", -360..0, &[-20, -15, -10], 0);
    let events = vec![event_row(API_POD, -10, &[("oom_events", 1)])];
    let f = only(
        run(&rule, &restarts_frame(&rows, &events)),
        "control: three restarts",
    );
    assert_eq!(evidence_text(&f, "pattern"), "crash_loop");
}

#[test]
fn restarts_rolling_update_is_quiet() {
    let rule = restarts_rule();
    let old = [
        ("api-7d9f8b6c4-aaaaa", "uid-old-a", -40),
        ("api-7d9f8b6c4-bbbbb", "uid-old-b", -35),
        ("api-7d9f8b6c4-ccccc", "uid-old-c", -30),
    ];
    let new = [
        ("api-5c4b7d9e8-xxxxx", "uid-new-x", -42),
        ("api-5c4b7d9e8-yyyyy", "uid-new-y", -37),
        ("api-5c4b7d9e8-zzzzz", "uid-new-z", -32),
    ];
    let mut rows = Vec::new();
    let mut events = Vec::new();
    for (pod, uid, end) in old {
        // The old pods had restarted twice long ago (before the window): the counter is 2.
        rows.extend(restart_rows(pod, uid, -360..end, &[], 2));
        events.push(event_row(pod, end - 1, &[("killing_events", 1)]));
    }
    for (pod, uid, start) in new {
        rows.extend(restart_rows(pod, uid, start..0, &[], 0));
    }
    assert_quiet(
        &run(&rule, &restarts_frame(&rows, &events)),
        "rolling update",
    );
    // Control: the same rollout where one new pod's container keeps restarting fires for that
    // pod only.
    let (pod, uid, start) = new[0];
    rows.retain(|row| !matches!(&row[3].1, V::S(p) if p == pod));
    rows.extend(restart_rows(pod, uid, start..0, &[-30, -20, -10], 0));
    let f = only(
        run(&rule, &restarts_frame(&rows, &events)),
        "control: a new pod crash-looping",
    );
    assert_eq!(f.entity.get("pod").map(String::as_str), Some(pod));
}

#[test]
fn restarts_rate_rise_fires() {
    let rule = restarts_rule();
    // One restart 4 h ago, then three in the last hour 20 min apart.
    let rows = restart_rows(API_POD, "uid-api", -360..0, &[-240, -55, -35, -15], 0);
    let f = only(run(&rule, &restarts_frame(&rows, &[])), "rate rise");
    let pattern = evidence_text(&f, "pattern");
    assert!(
        pattern == "rate_rising" || pattern == "crash_loop",
        "pattern {pattern}"
    );
    assert_eq!(evidence_num(&f, "restarts_recent"), 3.0);
    assert!(f.severity >= Severity::Warning);
}

#[test]
fn restarts_chronic_steady_restarter_is_not_a_rising_rate() {
    let rule = restarts_rule();
    // Every 20 min for the whole 6 h (at minutes …:10, …:30, …:50).
    let at_minutes: Vec<i64> = (0..18).map(|i| -350 + 20 * i).collect();
    let rows = restart_rows(API_POD, "uid-api", -360..0, &at_minutes, 0);
    let findings = run(&rule, &restarts_frame(&rows, &[]));
    for f in &findings {
        assert_ne!(
            evidence_text(f, "pattern"),
            "rate_rising",
            "a steady rate is not rising: {}",
            describe(&findings)
        );
    }
    // Control: the same restarter whose last hour holds 8 restarts (2 of them in the last
    // 30 min, so no crash loop) is a rising rate: 8 of 23 where 1/6 are expected, p ≈ 0.03.
    let mut at_minutes: Vec<i64> = (0..15).map(|i| -350 + 20 * i).collect();
    at_minutes.extend([-60, -55, -50, -45, -40, -35, -20, -5]);
    let rows = restart_rows(API_POD, "uid-api", -360..0, &at_minutes, 0);
    let f = only(
        run(&rule, &restarts_frame(&rows, &[])),
        "control: rate rising",
    );
    assert_eq!(evidence_text(&f, "pattern"), "rate_rising");
}

#[test]
fn restarts_frame_keeps_entity_rows_contiguous_after_the_event_join() {
    // The restart detector walks each container's rows as one contiguous run of the frame, so
    // the pod-event join must keep the normalized (sorted) order. Many containers, events for
    // some of them in scattered buckets.
    let pods: Vec<String> = (0..60).map(|i| format!("api-6b8d9c7f5-p{i:03}")).collect();
    let mut rows = Vec::new();
    let mut events = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let uid = format!("uid-{i:03}");
        let restarts: Vec<i64> = if i % 7 == 0 {
            vec![-25, -21, -15, -6]
        } else {
            vec![]
        };
        for r in restart_rows(pod, &uid, -360..0, &restarts, 0) {
            rows.push(r);
        }
        if i % 3 == 0 {
            for m in (-300..0).step_by(37) {
                events.push(event_row(pod, m, &[("unhealthy_events", 1)]));
            }
        }
    }
    let normalized = frame(QueryKind::Restarts, &rows);
    let joined = restarts_frame(&rows, &events);
    assert_eq!(joined.height(), normalized.height());
    let keys = [
        "cluster",
        "namespace",
        "pod",
        "container",
        "pod_uid",
        "bucket",
    ];
    for key in keys {
        assert!(
            joined
                .column(key)
                .unwrap()
                .equals(normalized.column(key).unwrap()),
            "join changed the row order (column {key})"
        );
    }
    // And every crash-looping container is one finding.
    let rule = restarts_rule();
    let findings = run(&rule, &joined);
    assert_eq!(findings.len(), 9, "{}", describe(&findings));
}

// ---------------------------------------------------------------------------------------------
// Heartbeats
// ---------------------------------------------------------------------------------------------

fn heartbeats_rule() -> Rule {
    let rule = shipped(Signal::HeartbeatMissing);
    assert_eq!(
        rule.bucket.0.as_secs(),
        60,
        "the tests assume 1-minute buckets"
    );
    assert_eq!(
        rule.window.0.as_secs(),
        6 * 3600,
        "the tests assume a 6 h window"
    );
    rule
}

/// Rows of a canary from its beat times (seconds relative to AS_OF), grouped into minute
/// buckets as the heartbeats query does.
fn heartbeat_rows(canary: &str, beats: &[f64]) -> Vec<Row> {
    let mut by_bucket: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for b in beats {
        by_bucket
            .entry((b / 60.0).floor() as i64)
            .or_default()
            .push(*b);
    }
    by_bucket
        .into_iter()
        .map(|(minute, beats)| {
            let first = beats.iter().copied().fold(f64::MAX, f64::min);
            let last = beats.iter().copied().fold(f64::MIN, f64::max);
            vec![
                ("bucket", at(minute as f64 * 60.0)),
                ("cluster", s("prod")),
                ("canary", s(canary)),
                ("beats", V::C(beats.len() as u64)),
                ("first_seen_at", at(first)),
                ("last_seen_at", at(last)),
            ]
        })
        .collect()
}

/// Beats every `period` s at 17 s past the period from `from` (inclusive) to `to` (exclusive).
fn regular_beats(from: f64, to: f64, period: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut t = from + 17.0;
    while t < to {
        out.push(t);
        t += period;
    }
    out
}

const WINDOW_START_S: f64 = -2.0 * 3600.0;

#[test]
fn heartbeat_stopped_canary_is_down_and_critical() {
    let rule = heartbeats_rule();
    let mut rows = heartbeat_rows(
        "checkout-canary",
        &regular_beats(WINDOW_START_S, -300.0, 60.0),
    );
    rows.extend(heartbeat_rows(
        "search-canary",
        &regular_beats(WINDOW_START_S, 0.0, 60.0),
    ));
    let f = only(
        run(&rule, &frame(QueryKind::Heartbeats, &rows)),
        "stopped canary",
    );
    assert_eq!(f.signal, Signal::HeartbeatMissing);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.status, Status::Firing);
    assert_eq!(evidence_text(&f, "state"), "down");
    assert_eq!(
        f.entity.get("canary").map(String::as_str),
        Some("checkout-canary")
    );
    let silent = evidence_num(&f, "silent_for_s");
    assert!((300.0..=360.0).contains(&silent), "silent_for_s {silent}");
    let period = evidence_num(&f, "period_s");
    assert!((59.0..=61.0).contains(&period), "period_s {period}");
}

#[test]
fn heartbeat_jittered_canary_is_quiet() {
    let rule = heartbeats_rule();
    for seed in 0..5 {
        let mut rng = StdRng::seed_from_u64(300 + seed);
        // Scheduled every 60 s, each beat delayed by up to 40% of the period.
        let beats: Vec<f64> = (0..120)
            .map(|k| WINDOW_START_S + 60.0 * k as f64 + rng.random_range(0.0..24.0))
            .collect();
        let rows = heartbeat_rows("jittery-canary", &beats);
        assert_quiet(
            &run(&rule, &frame(QueryKind::Heartbeats, &rows)),
            &format!("jittered canary, seed {seed}"),
        );
        // Control: the same jittered canary silent for its last 10 minutes is down.
        let stopped: Vec<f64> = beats.iter().copied().filter(|t| *t < -600.0).collect();
        let rows = heartbeat_rows("jittery-canary", &stopped);
        let f = only(
            run(&rule, &frame(QueryKind::Heartbeats, &rows)),
            &format!("control: jittered canary stopped, seed {seed}"),
        );
        assert_eq!(evidence_text(&f, "state"), "down");
    }
}

#[test]
fn heartbeat_single_late_beat_within_grace_is_quiet() {
    let rule = heartbeats_rule();
    // One gap of 100 s (period 60 s) ten minutes ago, regular otherwise.
    let mut beats = regular_beats(WINDOW_START_S, -600.0, 60.0);
    let last = *beats.last().unwrap();
    beats.extend(regular_beats(last + 100.0 - 17.0, 0.0, 60.0));
    let mut rows = heartbeat_rows("late-once-canary", &beats);
    // And a canary that is late right now: its last beat 100 s before AS_OF.
    let late_now: Vec<f64> = (0..118).rev().map(|j| -100.0 - 60.0 * j as f64).collect();
    rows.extend(heartbeat_rows("late-now-canary", &late_now));
    assert_quiet(
        &run(&rule, &frame(QueryKind::Heartbeats, &rows)),
        "late but within grace",
    );
    // Control: past period + grace (130 s > 60 s + 60 s) the same shapes are reported: the
    // gap as a recovery, the current silence as down.
    let mut beats = regular_beats(WINDOW_START_S, -600.0, 60.0);
    let last = *beats.last().unwrap();
    beats.extend(regular_beats(last + 130.0 - 17.0, 0.0, 60.0));
    let gap = frame(QueryKind::Heartbeats, &heartbeat_rows("gap-canary", &beats));
    let f = only(run(&rule, &gap), "control: 130 s gap");
    assert_eq!(f.status, Status::Resolved);
    let silent: Vec<f64> = (0..118).rev().map(|j| -130.0 - 60.0 * j as f64).collect();
    let silent = frame(
        QueryKind::Heartbeats,
        &heartbeat_rows("silent-canary", &silent),
    );
    let f = only(run(&rule, &silent), "control: silent 130 s");
    assert_eq!(evidence_text(&f, "state"), "down");
}

#[test]
fn heartbeat_recovery_is_reported_resolved() {
    let rule = heartbeats_rule();
    // Silent from 15 min to 5 min before AS_OF, beating every minute otherwise.
    let mut beats = regular_beats(WINDOW_START_S, -15.0 * 60.0, 60.0);
    beats.extend(regular_beats(-5.0 * 60.0 - 17.0, 0.0, 60.0));
    let rows = heartbeat_rows("billing-canary", &beats);
    let f = only(run(&rule, &frame(QueryKind::Heartbeats, &rows)), "recovery");
    assert_eq!(
        f.status,
        Status::Resolved,
        "{}",
        describe(std::slice::from_ref(&f))
    );
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(evidence_text(&f, "state"), "up");
    let outage = evidence_num(&f, "outage_s");
    assert!((540.0..=660.0).contains(&outage), "outage_s {outage}");
}

#[test]
fn heartbeat_declared_canary_never_seen_is_down() {
    let mut rule = heartbeats_rule();
    rule.heartbeats
        .as_mut()
        .expect("the shipped rule has a heartbeats section")
        .canaries
        .push(DeclaredCanary {
            name: "nightly-backup".into(),
            cluster: Some("prod".into()),
            period: DurationText::secs(3600),
            grace: DurationText::secs(600),
        });
    let rows = heartbeat_rows("search-canary", &regular_beats(WINDOW_START_S, 0.0, 60.0));
    let f = only(
        run(&rule, &frame(QueryKind::Heartbeats, &rows)),
        "declared canary never seen",
    );
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.status, Status::Firing);
    assert_eq!(
        f.entity.get("canary").map(String::as_str),
        Some("nightly-backup")
    );
    assert_eq!(f.entity.get("cluster").map(String::as_str), Some("prod"));
    assert_eq!(evidence_text(&f, "state"), "down");
    assert_eq!(evidence_num(&f, "beats_in_window"), 0.0);
    // Also with no heartbeat data at all.
    let f = only(
        run(&rule, &window::empty_frame(QueryKind::Heartbeats)),
        "declared canary, empty window",
    );
    assert_eq!(
        f.entity.get("canary").map(String::as_str),
        Some("nightly-backup")
    );
}

#[test]
fn heartbeat_rule_that_sees_no_canary_at_all_fires_no_canary_seen() {
    let rule = heartbeats_rule();
    let f = only(
        run(&rule, &window::empty_frame(QueryKind::Heartbeats)),
        "empty heartbeats window",
    );
    assert_eq!(f.signal, Signal::HeartbeatMissing);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.status, Status::Firing);
    assert_eq!(f.entity.get("canary").map(String::as_str), Some("*"));
    assert!(
        f.summary
            .starts_with("no canary seen in the last 6.0 h: check the pipeline or the matcher ("),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("canary.name"), "{}", f.summary);
    assert_eq!(evidence_text(&f, "state"), "none_seen");
    // Positive control: the same rule with one healthy canary is quiet about "no canary".
    let rows = heartbeat_rows("search-canary", &regular_beats(WINDOW_START_S, 0.0, 60.0));
    assert_quiet(
        &run(&rule, &frame(QueryKind::Heartbeats, &rows)),
        "one healthy canary",
    );
}

#[test]
fn heartbeat_rule_with_its_own_matcher_watches_only_that_matchers_canaries() {
    let mut rule = heartbeats_rule();
    rule.heartbeats
        .as_mut()
        .expect("the shipped rule has a heartbeats section")
        .matchers = vec![CanaryMatcher::service(Some("pinger-*"))];
    let beats = regular_beats(WINDOW_START_S, -600.0, 60.0);
    let labelled = |canary: &str, matcher: &str| -> Vec<Row> {
        heartbeat_rows(canary, &beats)
            .into_iter()
            .map(|mut row| {
                row.push(("matcher", s(matcher)));
                row
            })
            .collect()
    };
    // A stopped canary recognised by another matcher: not this rule's, so it sees nothing.
    let other = labelled("checkout", "log attribute canary.name");
    let f = only(
        run(&rule, &frame(QueryKind::Heartbeats, &other)),
        "only another matcher's canary",
    );
    assert_eq!(f.entity.get("canary").map(String::as_str), Some("*"));
    assert!(f.summary.ends_with("(service = pinger-*)"), "{}", f.summary);
    // Control: the same stopped canary under the rule's own matcher is down.
    let own = labelled("pinger-eu", "service = pinger-*");
    let f = only(
        run(&rule, &frame(QueryKind::Heartbeats, &own)),
        "the rule's own matcher",
    );
    assert_eq!(
        f.entity.get("canary").map(String::as_str),
        Some("pinger-eu")
    );
    assert_eq!(evidence_text(&f, "state"), "down");
}

#[test]
fn rows_of_one_bucket_from_two_matchers_count_as_one_bucket() {
    let rule = heartbeats_rule();
    // Beats every minute, each bucket split over two matchers: the period stays one minute.
    let beats = regular_beats(WINDOW_START_S, -600.0, 60.0);
    let mut rows = Vec::new();
    for (i, mut row) in heartbeat_rows("split-canary", &beats)
        .into_iter()
        .enumerate()
    {
        let mut twin = row.clone();
        row.push(("matcher", s("log attribute canary")));
        twin.push(("matcher", s("log attribute canary.name")));
        // The twin holds the same beat once more, 1 s later.
        let shift = |v: &V| match v {
            V::T(ns) => V::T(ns + 1_000_000_000),
            other => other.clone(),
        };
        for cell in twin.iter_mut() {
            if cell.0 == "first_seen_at" || cell.0 == "last_seen_at" {
                cell.1 = shift(&cell.1);
            }
        }
        rows.push(row);
        if i % 2 == 0 {
            rows.push(twin);
        }
    }
    let f = only(
        run(&rule, &frame(QueryKind::Heartbeats, &rows)),
        "split canary stopped 10 min ago",
    );
    assert_eq!(evidence_text(&f, "state"), "down");
    let period = evidence_num(&f, "period_s");
    assert!((59.0..=61.0).contains(&period), "period {period}");
}

// ---------------------------------------------------------------------------------------------
// The finding contract
// ---------------------------------------------------------------------------------------------

#[test]
fn finding_json_has_exactly_the_contract_keys_and_a_stable_id() {
    let rule = memory_rule();
    let first = only(
        run(&rule, &frame(QueryKind::Memory, &linear_leak_rows())),
        "first run",
    );
    let second = only(
        run(&rule, &frame(QueryKind::Memory, &linear_leak_rows())),
        "second run",
    );
    assert_eq!(first.id, second.id, "identical runs give the same id");
    assert_eq!(first, second, "identical runs give the same finding");

    let json = serde_json::to_value(&first).unwrap();
    let keys: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "id",
        "rule",
        "signal",
        "severity",
        "status",
        "entity",
        "evaluated_at",
        "window",
        "summary",
        "evidence",
        "runbook",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);
    let window_keys: BTreeSet<&str> = json["window"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(window_keys, ["from", "to"].into_iter().collect());
    assert_eq!(json["rule"], "memory-pressure");
    assert_eq!(json["signal"], "memory_pressure");
    assert_eq!(json["severity"], "warning");
    assert_eq!(json["status"], "firing");
    assert_eq!(json["evaluated_at"], "2026-11-20T12:00:00Z");
    assert_eq!(json["window"]["from"], "2026-11-20T09:00:00Z");
    assert_eq!(json["window"]["to"], "2026-11-20T12:00:00Z");
    assert!(json["evidence"].is_object());
    assert!(json["id"].as_str().is_some_and(|id| id.len() == 16));

    // The same problem five minutes later keeps its id.
    let later = memory_rows(
        &CART,
        Some(GIB),
        -175..5,
        0.01,
        1,
        line(-180.0 * 60.0, 0.40, 60.0 * 60.0, 1.0),
        never_restarts,
    );
    let later = only(
        run_at(
            &rule,
            &frame(QueryKind::Memory, &later),
            AS_OF + time::Duration::minutes(5),
        ),
        "five minutes later",
    );
    assert_eq!(later.id, first.id);

    // The workload is reported (typed inside, `Kind/name` on the wire) but is not identity: the
    // same container with its owner attribute missing, or re-parented, keeps its id.
    assert_eq!(json["entity"]["workload"], "Deployment/cart");
    let workload = first.workload().expect("typed workload");
    assert_eq!(workload.kind, forewarn::findings::WorkloadKind::Deployment);
    assert_eq!(workload.name, "cart");
    for owner in ["", "StatefulSet/cart-v2"] {
        let mut rows = linear_leak_rows();
        for row in &mut rows {
            for (key, value) in row.iter_mut() {
                if *key == "workload" {
                    *value = s(owner);
                }
            }
        }
        let moved = only(run(&rule, &frame(QueryKind::Memory, &rows)), owner);
        assert_eq!(moved.id, first.id, "workload `{owner}`");
        assert_eq!(
            moved.entity.get("workload").map(String::as_str),
            Some(owner).filter(|o| !o.is_empty())
        );
    }
    // Control: another container is another id.
    let mut rows = linear_leak_rows();
    for row in &mut rows {
        for (key, value) in row.iter_mut() {
            if *key == "container" {
                *value = s("cart-sidecar");
            }
        }
    }
    let other = only(
        run(&rule, &frame(QueryKind::Memory, &rows)),
        "other container",
    );
    assert_ne!(other.id, first.id);
}

/// A pod labelled `forewarn.io/opt-out: "true"` (its resource attribute in the frame's
/// `opt_out` column) is skipped — unless the rule says not to honour opt-outs.
#[test]
fn an_opted_out_pod_is_skipped_unless_the_rule_ignores_opt_outs() {
    let mut rule = memory_rule();
    let mut rows = linear_leak_rows();
    for row in &mut rows {
        row.push(("opt_out", s("true")));
    }
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows)),
        "opted-out leak",
    );
    rule.select.honour_opt_out = false;
    let findings = run(&rule, &frame(QueryKind::Memory, &rows));
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    // A label set to something else does not opt out.
    let mut rule = memory_rule();
    rule.select.honour_opt_out = true;
    for row in &mut rows {
        row.retain(|(k, _)| *k != "opt_out");
        row.push(("opt_out", s("false")));
    }
    assert_eq!(run(&rule, &frame(QueryKind::Memory, &rows)).len(), 1);
}

/// SLO burn-rate mode (multi-window): both the long and the short window must burn the error
/// budget faster than the factor. The step and trend paths are switched off here so the test
/// isolates burn rates.
#[test]
fn errors_burn_rate_needs_both_windows_above_the_factor() {
    let mut rule = errors_rule();
    let mut params = rule.error_params();
    params.trend = false;
    params.min_absolute_increase = 0.9;
    params.burn_rate = Some(forewarn::config::rules::BurnRateParams {
        objective: 0.999,
        alerts: vec![forewarn::config::rules::BurnRateAlert {
            long: forewarn::config::DurationText::secs(3600),
            short: forewarn::config::DurationText::secs(300),
            factor: 14.4,
            severity: Severity::Critical,
        }],
    });
    rule.errors = Some(params);
    // 2% errors for the last hour (20× the 0.1% budget), 0.05% before.
    let burning = error_rows("payments", 31, |k| {
        (
            400,
            if k >= ERROR_BUCKETS - 12 {
                0.02
            } else {
                0.0005
            },
        )
    });
    let f = only(run(&rule, &frame(QueryKind::Errors, &burning)), "burn rate");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(evidence_text(&f, "method"), "burn_rate");
    assert!(f.summary.contains("error budget"), "{}", f.summary);
    // A steady 0.5% burns 5× — under 14.4: quiet.
    let steady = error_rows("payments", 32, |_| (400, 0.005));
    assert_quiet(&run(&rule, &frame(QueryKind::Errors, &steady)), "5× burn");
    // A short spike that the long window does not confirm: quiet.
    let spike = error_rows("payments", 33, |k| {
        (400, if k == ERROR_BUCKETS - 1 { 0.05 } else { 0.0005 })
    });
    assert_quiet(
        &run(&rule, &frame(QueryKind::Errors, &spike)),
        "5-minute spike",
    );
}

/// After an OOM kill the leak starts over. The kill lands mid-bucket, so that bucket holds the
/// old incarnation's peak next to the new one's floor; the relapse must still be warned of.
#[test]
fn memory_leak_relapse_after_an_oom_is_warned() {
    let rule = memory_rule();
    let oom = -59.5 * 60.0;
    let before = line(-180.0 * 60.0, 0.45, oom, 0.99);
    let relapse = line(oom, 0.30, 40.0 * 60.0, 1.0);
    let rows = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.005,
        41,
        move |t| if t < oom { before(t) } else { relapse(t) },
        move |t| if t < oom { 1.0 } else { 2.0 },
    );
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &rows)),
        "relapse after OOM",
    );
    assert_eq!(f.severity, Severity::Warning, "{}", f.summary);
    let truth = AS_OF + time::Duration::minutes(40);
    let error = (exhaustion_at(&f) - truth).whole_seconds().abs();
    assert!(
        error <= 20 * 60,
        "exhaustion forecast off by {error} s: {}",
        f.summary
    );
}

// ---------------------------------------------------------------------------------------------
// Memory: the forecast's interval
// ---------------------------------------------------------------------------------------------

fn evidence_time(f: &Finding, key: &str) -> OffsetDateTime {
    OffsetDateTime::parse(evidence_text(f, key), &Rfc3339)
        .unwrap_or_else(|e| panic!("{key} is not RFC 3339: {e}"))
}

/// Leaks of several speeds and noise levels: every finding's interval brackets its forecast,
/// severity is critical exactly when the earliest bound is within the critical horizon (30 min),
/// and the summary gives the range. The noisy leak whose central forecast lies beyond 30 min but
/// whose earliest bound does not is critical: a person must plan for the early end.
#[test]
fn memory_forecast_interval_brackets_the_forecast_and_severity_follows_the_earliest_bound() {
    let rule = memory_rule();
    let critical_s = 30.0 * 60.0;
    let mut beyond_central = 0;
    // (minutes from AS_OF until the limit, noise as a fraction of the limit, seed)
    for (minutes_left, noise, seed) in [
        (60.0, 0.01, 71),
        (20.0, 0.01, 72),
        (38.0, 0.04, 73),
        (42.0, 0.05, 74),
        (90.0, 0.03, 75),
    ] {
        let ramp = line(-120.0 * 60.0, 0.35, minutes_left * 60.0, 1.0);
        let rows = memory_rows(
            &CART,
            Some(GIB),
            -180..0,
            noise,
            seed,
            |t| if t < -120.0 * 60.0 { 0.35 } else { ramp(t) },
            never_restarts,
        );
        let what = format!("leak {minutes_left} min from the limit, noise {noise}");
        let f = only(run(&rule, &frame(QueryKind::Memory, &rows)), &what);
        let expected = evidence_time(&f, "exhaustion_at");
        let earliest = evidence_time(&f, "exhaustion_earliest_at");
        let latest = evidence_time(&f, "exhaustion_latest_at");
        assert!(
            earliest <= expected && expected <= latest && earliest < latest,
            "{what}: {earliest} ≤ {expected} ≤ {latest} fails"
        );
        let earliest_s = (earliest - AS_OF).as_seconds_f64();
        let expected_s = (expected - AS_OF).as_seconds_f64();
        let want = if earliest_s <= critical_s {
            Severity::Critical
        } else {
            Severity::Warning
        };
        assert_eq!(f.severity, want, "{what}: {}", f.summary);
        if earliest_s <= critical_s && expected_s > critical_s {
            beyond_central += 1;
        }
        assert!(
            f.summary.contains("limit reached in") && f.summary.contains('–'),
            "{what}: the summary gives the range: {}",
            f.summary
        );
    }
    assert!(
        beyond_central >= 1,
        "no case where the earliest bound, not the central forecast, made it critical"
    );
}

/// A leak under a GC ripple: the heap refills over `period` s and a collection trims it by
/// `depth` of the trend, so the trend is the top of each cycle, and the kill comes when that top
/// meets the limit — 45 min after AS_OF here. The scrapes see a cycle's top only now and then,
/// and the newest bucket may sit in a trough: the interval must hold the kill at every phase.
#[test]
fn memory_leak_under_a_gc_ripple_has_its_kill_inside_the_interval_at_every_phase() {
    let rule = memory_rule();
    let kill_s = 45.0 * 60.0;
    let trend = line(-180.0 * 60.0, 0.45, kill_s, 1.0);
    let mut missed = Vec::new();
    for (k, (period, depth)) in [(95.0, 0.05), (130.0, 0.04), (70.0, 0.06), (420.0, 0.03)]
        .into_iter()
        .enumerate()
    {
        for phase in 0..6 {
            let offset = phase as f64 * period / 6.0;
            let level = |t: f64| {
                let u = (t + offset).rem_euclid(period) / period;
                trend(t) * (1.0 - depth * (1.0 - u))
            };
            let rows = memory_rows(
                &CART,
                Some(GIB),
                -180..0,
                0.002,
                80 + k as u64 * 10 + phase,
                level,
                never_restarts,
            );
            let what = format!("ripple {period} s × {depth}, phase {phase}/6");
            let f = only(run(&rule, &frame(QueryKind::Memory, &rows)), &what);
            let earliest_s = (evidence_time(&f, "exhaustion_earliest_at") - AS_OF).as_seconds_f64();
            let latest_s = (evidence_time(&f, "exhaustion_latest_at") - AS_OF).as_seconds_f64();
            if !(earliest_s <= kill_s && kill_s <= latest_s) {
                missed.push(format!("{what}: {}", f.summary));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "the kill 45 min ahead fell outside the interval:\n{}",
        missed.join("\n")
    );
}

/// `from` + `rise`·(1 − (1 − age/span)²) for age ≥ 0: fast at first, slowing to a stop after
/// `span` seconds (a cache filling up). t in seconds relative to AS_OF.
fn slowing(start: f64, from: f64, rise: f64, span: f64) -> impl Fn(f64) -> f64 {
    move |t| {
        let s = ((t - start) / span).clamp(0.0, 1.0);
        from + rise * (1.0 - (1.0 - s) * (1.0 - s))
    }
}

/// A climb that slows down, 20 minutes into a new incarnation: after the same container was
/// OOM-killed at its limit it is the climb again and is warned; in a container that was never
/// killed the same climb is a warm-up levelling off below its limit and stays quiet.
#[test]
fn memory_slowing_climb_after_its_own_oom_kill_is_warned_and_a_warm_up_is_not() {
    let rule = memory_rule();
    let restart = -20.5 * 60.0;
    // Toward 90% of the limit, levelling off 30 minutes after the restart.
    let climb = slowing(restart, 0.30, 0.60, 30.0 * 60.0);
    let killed = line(-180.0 * 60.0, 0.45, restart, 0.995);
    let kill_then_climb = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.003,
        43,
        |t| if t < restart { killed(t) } else { climb(t) },
        move |t| if t < restart { 1.0 } else { 2.0 },
    );
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &kill_then_climb)),
        "slowing climb after an OOM kill",
    );
    assert!(f.summary.contains("limit reached"), "{}", f.summary);

    // The same container, restarted (rolled out) from a level far below its limit.
    let calm = |_t: f64| 0.30;
    let restart_then_climb = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.003,
        43,
        |t| if t < restart { calm(t) } else { climb(t) },
        move |t| if t < restart { 1.0 } else { 2.0 },
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &restart_then_climb)),
        "warm-up after a restart that was not an OOM kill",
    );
}

/// A leak that slows down while it climbs: the straight line through its last hour forecasts
/// the limit too early, so the interval a person plans for must reach past that to the actual
/// crossing; its expected time stays the line's (the earlier one, to act on).
#[test]
fn memory_slowing_leak_interval_holds_the_later_actual_crossing() {
    let rule = memory_rule();
    // Flat at 30% until 60 min before AS_OF, then slowing toward 105% over 150 minutes: the
    // limit is met 111 min after onset, 51 min after AS_OF; the tangent at AS_OF meets it
    // after ~37 min.
    let onset = -60.0 * 60.0;
    let leak = slowing(onset, 0.30, 0.75, 150.0 * 60.0);
    let truth = AS_OF + time::Duration::seconds(51 * 60);
    let mut covered = 0;
    for seed in 0..10 {
        let rows = memory_rows(
            &CART,
            Some(GIB),
            -180..0,
            0.004,
            100 + seed,
            |t| if t < onset { 0.30 } else { leak(t) },
            never_restarts,
        );
        let f = only(run(&rule, &frame(QueryKind::Memory, &rows)), "slowing leak");
        assert!(
            exhaustion_at(&f) < truth - time::Duration::minutes(5),
            "the expected time is the line's, before the actual crossing: {}",
            f.summary
        );
        let earliest = evidence_time(&f, "exhaustion_earliest_at");
        let latest = f
            .evidence
            .get("exhaustion_latest_at")
            .map(|_| evidence_time(&f, "exhaustion_latest_at"));
        if earliest <= truth && latest.is_none_or(|l| truth <= l) {
            covered += 1;
        }
    }
    assert!(
        covered >= 8,
        "the interval held the crossing in {covered}/10"
    );
}

/// A heap sawtooth whose full collections drop the floor by more than half, in a cluster that
/// does not report the restart counter: each collection looks like a restart to the segment
/// rule, so the climb after it looks young and steep. The cycles before it reached this height
/// and were collected, not killed: quiet. Control: the same climb after a drop from the limit
/// (an OOM kill, no counter either) is warned.
#[test]
fn memory_deep_gc_cycles_without_a_restart_counter_are_quiet_and_a_kill_is_not() {
    let rule = memory_rule();
    let period = 54.0 * 60.0;
    // From 30% to `top` over each cycle, then a full collection back to 30%; AS_OF is 40 min
    // into the newest cycle.
    let sawtooth = |top: f64| {
        move |t: f64| {
            let phase = (t + 40.0 * 60.0).rem_euclid(period) / period;
            0.30 + (top - 0.30) * phase
        }
    };
    let no_counter = |_t: f64| f64::NAN;
    let cycles = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.004,
        51,
        sawtooth(0.86),
        no_counter,
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &cycles)),
        "deep GC cycles without a restart counter",
    );

    // The cycles before reached the limit: killed, not collected. The newest climb is warned.
    let kills = memory_rows(
        &CART,
        Some(GIB),
        -180..0,
        0.004,
        51,
        sawtooth(1.0),
        no_counter,
    );
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &kills)),
        "climb after OOM kills without a restart counter",
    );
    assert!(f.summary.contains("limit reached"), "{}", f.summary);
}

/// A leak that kills its container every half hour: 15 minutes into the new incarnation the
/// segment is younger than the short window, and the whole of it is judged with the short
/// path's evidence (it used to be judged only with the regular path's 45 points, so such
/// relapses were warned 10–15 minutes before the kill instead of 20). The same young segment
/// flat after the restart stays quiet.
#[test]
fn memory_a_relapse_younger_than_the_short_window_is_warned() {
    let rule = memory_rule();
    let restart = -15.5 * 60.0;
    let killed = line(-180.0 * 60.0, 0.45, restart, 0.995);
    let climb = line(restart, 0.30, restart + 35.0 * 60.0, 1.0);
    let rows = |after: &dyn Fn(f64) -> f64| {
        memory_rows(
            &CART,
            Some(GIB),
            -180..0,
            0.003,
            44,
            |t| if t < restart { killed(t) } else { after(t) },
            move |t| if t < restart { 1.0 } else { 2.0 },
        )
    };
    let f = only(
        run(&rule, &frame(QueryKind::Memory, &rows(&climb))),
        "a relapse 15 minutes after the OOM kill",
    );
    assert_eq!(f.severity, Severity::Critical, "{}", f.summary);
    let points = f.evidence["points"].as_u64().unwrap();
    assert!(
        points <= 16,
        "judged on the young segment alone: {points} points"
    );
    assert_quiet(
        &run(&rule, &frame(QueryKind::Memory, &rows(&|_| 0.30))),
        "flat after the restart",
    );
}
