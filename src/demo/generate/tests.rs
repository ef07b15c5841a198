//! The generator's contract: the same parameters give the same data, and every label is borne
//! out by the rows (an OOM where a leak says, restarts where a crash loop says, no beat where a
//! canary stopped, nothing that breaks a hard negative's promise).

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use time::OffsetDateTime;

use super::{generate, generate_with, DemoParams, Variety};
use crate::demo::model::{Dataset, LogRecord};
use crate::demo::scenarios::events;
use crate::demo::scenarios::{HOUR, MIN, SEC};

fn params(seed: u64, scale: f64) -> DemoParams {
    DemoParams {
        seed,
        hours: 12.0,
        end: time::macros::datetime!(2026-11-23 06:00 UTC),
        scale,
    }
}

fn ns(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

/// Seed 42 at scale 1, generated once for all tests.
fn main_dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| generate(&params(42, 1.0)))
}

/// Looks series up by (metric, pod, container) and canary beats / service logs by name.
struct Index<'a> {
    dataset: &'a Dataset,
    series: HashMap<(String, String, String), Vec<u32>>,
    points: HashMap<u32, Vec<(i64, f64)>>,
}

impl<'a> Index<'a> {
    fn new(dataset: &'a Dataset) -> Self {
        let mut series: HashMap<(String, String, String), Vec<u32>> = HashMap::new();
        for (i, s) in dataset.gauge_series.iter().enumerate() {
            let resource = &dataset.resources[s.resource as usize];
            let get = |key: &str| {
                resource
                    .attributes
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            series
                .entry((
                    s.metric_name.clone(),
                    get("k8s.pod.name"),
                    get("k8s.container.name"),
                ))
                .or_default()
                .push(i as u32);
        }
        let mut points: HashMap<u32, Vec<(i64, f64)>> = HashMap::new();
        for p in &dataset.gauge_points {
            points
                .entry(p.series)
                .or_default()
                .push((p.time_unix_ns, p.value));
        }
        for list in points.values_mut() {
            list.sort_by_key(|p| p.0);
        }
        Index {
            dataset,
            series,
            points,
        }
    }

    fn points(&self, metric: &str, pod: &str, container: &str) -> Vec<(i64, f64)> {
        let key = (metric.to_string(), pod.to_string(), container.to_string());
        let mut out: Vec<(i64, f64)> = self
            .series
            .get(&key)
            .into_iter()
            .flatten()
            .flat_map(|s| self.points.get(s).cloned().unwrap_or_default())
            .collect();
        out.sort_by_key(|p| p.0);
        out
    }

    fn log_attribute<'r>(record: &'r LogRecord, key: &str) -> Option<&'r str> {
        record
            .attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn beats(&self, canary: &str) -> Vec<i64> {
        self.dataset
            .logs
            .iter()
            .filter(|l| Self::log_attribute(l, "canary.name") == Some(canary))
            .map(|l| l.timestamp_ns)
            .collect()
    }

    /// (requests, errors) of a service in `[from, to)`.
    fn requests(&self, service: &str, from: i64, to: i64) -> (usize, usize) {
        let records: Vec<&LogRecord> = self
            .dataset
            .logs
            .iter()
            .filter(|l| {
                l.timestamp_ns >= from
                    && l.timestamp_ns < to
                    && self.dataset.resources[l.resource as usize].service_name == service
                    && Self::log_attribute(l, "canary.name").is_none()
            })
            .collect();
        let errors = records.iter().filter(|l| l.severity_number >= 17).count();
        (records.len(), errors)
    }
}

fn value_before(points: &[(i64, f64)], t: i64) -> f64 {
    points
        .iter()
        .rev()
        .find(|p| p.0 < t)
        .map(|p| p.1)
        .unwrap_or(0.0)
}

fn max_in(points: &[(i64, f64)], from: i64, to: i64) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.0 >= from && p.0 < to)
        .map(|p| p.1)
        .reduce(f64::max)
}

fn limit_of(index: &Index, pod: &str, container: &str) -> f64 {
    index
        .points("k8s.container.memory_limit", pod, container)
        .first()
        .map(|p| p.1)
        .unwrap_or(0.0)
}

fn assert_labels_consistent(dataset: &Dataset) {
    assert_labels_consistent_with(dataset, Variety::Default);
}

/// Under `Variety::Wide` a collector gap or a missing sample may hide the last sample before
/// an OOM kill; that one check is skipped when there is no sample to judge.
fn assert_labels_consistent_with(dataset: &Dataset, variety: Variety) {
    let labels = &dataset.labels;
    let index = Index::new(dataset);
    let (start, end) = (ns(labels.start), ns(labels.end));
    let clusters: BTreeSet<&String> = labels
        .incidents
        .iter()
        .map(|i| &i.entity["cluster"])
        .collect();
    assert!(
        variety == Variety::Wide || clusters.len() == 1,
        "{clusters:?}"
    );
    for cluster in clusters {
        let count = |kind: &str| {
            labels
                .incidents
                .iter()
                .filter(|i| i.kind == kind && &i.entity["cluster"] == cluster)
                .count()
        };
        let leaking: BTreeSet<_> = labels
            .incidents
            .iter()
            .filter(|i| i.kind == "memory_leak" && &i.entity["cluster"] == cluster)
            .map(|i| (i.entity["pod"].clone(), i.entity["container"].clone()))
            .collect();
        assert!(
            (3..=5).contains(&leaking.len()),
            "leaking containers in {cluster}: {}",
            leaking.len()
        );
        assert!((1..=3).contains(&count("crash_loop")), "{cluster}");
        assert!((1..=2).contains(&count("restart_rate_rise")), "{cluster}");
        assert!((1..=2).contains(&count("error_burst")), "{cluster}");
        assert_eq!(count("error_creep"), 1, "{cluster}");
        assert!((1..=2).contains(&count("canary_stopped")), "{cluster}");
    }

    for incident in &labels.incidents {
        let onset = ns(incident.onset_at);
        let impact = ns(incident.impact_at.expect("every incident has an impact"));
        assert!(
            onset >= start && impact < end && impact >= onset,
            "{incident:?}"
        );
        let e = &incident.entity;
        match incident.kind.as_str() {
            "memory_leak" => {
                let (pod, container) = (&e["pod"], &e["container"]);
                let limit = limit_of(&index, pod, container);
                assert!(limit > 0.0, "leak without a limit: {incident:?}");
                let ws = index.points("container.memory.working_set", pod, container);
                match max_in(&ws, impact - 90 * SEC, impact) {
                    Some(before) => {
                        assert!(before >= 0.9 * limit, "{before} vs {limit}: {incident:?}")
                    }
                    None => assert_eq!(variety, Variety::Wide, "no samples before the OOM"),
                }
                let after = ws
                    .iter()
                    .find(|p| p.0 > impact)
                    .expect("samples after the OOM");
                assert!(after.1 < 0.8 * limit, "no drop after the OOM: {incident:?}");
                let restarts = index.points("k8s.container.restarts", pod, container);
                let later = restarts
                    .iter()
                    .find(|p| p.0 > impact + 2 * MIN)
                    .expect("gauge after");
                assert!(later.1 > value_before(&restarts, impact), "{incident:?}");
                let first_leak = labels
                    .incidents
                    .iter()
                    .filter(|i| i.kind == "memory_leak" && &i.entity == e)
                    .map(|i| ns(i.onset_at))
                    .min()
                    .expect("this incident");
                assert!(first_leak >= start + (3 * HOUR).min((end - start) / 4));
                assert!(impact >= start + (end - start) / 2);
            }
            "crash_loop" => {
                let restarts = index.points("k8s.container.restarts", &e["pod"], &e["container"]);
                let base = value_before(&restarts, onset);
                let top = max_in(&restarts, onset, onset + 20 * MIN).expect("gauge samples");
                assert!(top - base >= 3.0, "{top} - {base}: {incident:?}");
            }
            "restart_rate_rise" => {
                let restarts = index.points("k8s.container.restarts", &e["pod"], &e["container"]);
                let base = value_before(&restarts, onset);
                let top = max_in(&restarts, onset, impact + 2 * MIN).expect("gauge samples");
                assert!(top - base >= 3.0, "{incident:?}");
            }
            "error_burst" | "error_creep" => {
                let service = &e["service"];
                let (n0, e0) = index.requests(service, start, onset);
                let (n1, e1) = index.requests(service, impact, (impact + HOUR).min(end));
                assert!(n0 > 100 && n1 > 100, "too few requests: {n0} {n1}");
                let (r0, r1) = (e0 as f64 / n0 as f64, e1 as f64 / n1 as f64);
                assert!(r1 >= 2.5 * r0, "{r0} → {r1}: {incident:?}");
            }
            "canary_stopped" => {
                let beats = index.beats(&e["canary"]);
                assert!(beats.iter().any(|&b| b <= onset));
                assert!(
                    !beats.iter().any(|&b| b > onset && b <= impact),
                    "{incident:?}"
                );
            }
            "oom_kill_loop" => {
                // Two OOM kills of one container within the hour: the restart gauge shows both.
                assert!(impact - onset <= HOUR, "{incident:?}");
                let restarts = index.points("k8s.container.restarts", &e["pod"], &e["container"]);
                let base = value_before(&restarts, onset);
                match max_in(&restarts, onset, impact + 10 * MIN) {
                    Some(top) => assert!(top - base >= 2.0, "{top} - {base}: {incident:?}"),
                    None => assert_eq!(variety, Variety::Wide, "no restart samples: {incident:?}"),
                }
            }
            other => panic!("unknown incident kind {other}"),
        }
    }

    for negative in &labels.negatives {
        let e = &negative.entity;
        match negative.kind.as_str() {
            "gc_sawtooth" | "gc_hour_cycle" | "flat_high" => {
                let limit = limit_of(&index, &e["pod"], &e["container"]);
                let ws = index.points("container.memory.working_set", &e["pod"], &e["container"]);
                let max = ws.iter().map(|p| p.1).fold(0.0, f64::max);
                let min = ws.iter().map(|p| p.1).fold(f64::MAX, f64::min);
                assert!(max < 0.97 * limit, "{negative:?}");
                if negative.kind != "flat_high" {
                    assert!(max > 0.75 * limit && min < 0.6 * limit, "{negative:?}");
                } else {
                    assert!(min > 0.85 * limit, "{negative:?}");
                }
            }
            "isolated_restart" => {
                let restarts = index.points("k8s.container.restarts", &e["pod"], &e["container"]);
                let rise = restarts.last().unwrap().1 - restarts.first().unwrap().1;
                assert_eq!(rise, 1.0, "{negative:?}");
            }
            "level_step" => {
                let ws = index.points("container.memory.working_set", &e["pod"], &e["container"]);
                let limit = limit_of(&index, &e["pod"], &e["container"]);
                let (first, last) = (&ws[..ws.len() / 4], &ws[ws.len() - 3..]);
                let mean = |p: &[(i64, f64)]| p.iter().map(|p| p.1).sum::<f64>() / p.len() as f64;
                assert!(mean(last) > 1.2 * mean(first), "{negative:?}");
                let max = ws.iter().map(|p| p.1).fold(0.0, f64::max);
                assert!(max < 0.8 * limit, "{negative:?}");
            }
            "rolling_update" | "batch_completed" | "batch_near_limit" => {
                let pods: BTreeSet<&String> = index
                    .series
                    .keys()
                    .filter(|(m, _, c)| m == "k8s.container.restarts" && c == &e["container"])
                    .map(|(_, p, _)| p)
                    .collect();
                assert!(pods.len() >= 2, "{negative:?}");
                if negative.kind == "batch_near_limit" {
                    let mut peak_share: f64 = 0.0;
                    for pod in &pods {
                        let ws = index.points("container.memory.working_set", pod, &e["container"]);
                        let limit = limit_of(&index, pod, &e["container"]);
                        if ws.is_empty() {
                            continue; // a run at the edge of the data, between scrapes
                        }
                        let max = ws.iter().map(|p| p.1).fold(0.0, f64::max);
                        assert!(max < limit, "{pod}: {max} vs {limit}");
                        peak_share = peak_share.max(max / limit);
                    }
                    assert!(peak_share > 0.8, "{peak_share}: {negative:?}");
                }
                for pod in pods {
                    let restarts = index.points("k8s.container.restarts", pod, &e["container"]);
                    assert!(restarts.iter().all(|p| p.1 == restarts[0].1), "{pod}");
                }
            }
            "jittered_canary" | "late_beat" => {
                let beats = index.beats(&e["canary"]);
                let mut gaps: Vec<i64> = beats.windows(2).map(|w| w[1] - w[0]).collect();
                gaps.sort_unstable();
                let median = gaps[gaps.len() / 2];
                let largest = *gaps.last().unwrap();
                let allowed = median + (median.max(60 * SEC) as f64 * 0.9) as i64;
                assert!(largest < allowed, "{largest} vs {allowed}: {negative:?}");
            }
            "no_limit_growth" => {
                assert_eq!(limit_of(&index, &e["pod"], &e["container"]), 0.0);
            }
            "chronic_errors" | "traffic_swing" | "quiet_service" => {
                let (n, _) = index.requests(&e["service"], start, end);
                assert!(n > 0, "{negative:?}");
            }
            other => panic!("unknown negative kind {other}"),
        }
    }

    for p in &dataset.gauge_points {
        assert!(p.time_unix_ns >= start && p.time_unix_ns < end);
    }
    for l in &dataset.logs {
        assert!(l.timestamp_ns >= start && l.timestamp_ns < end);
    }
}

#[test]
fn same_seed_gives_the_same_dataset() {
    let a = generate(&params(7, 0.5));
    let b = generate(&params(7, 0.5));
    assert_eq!(a.resources, b.resources);
    assert_eq!(a.gauge_series, b.gauge_series);
    assert_eq!(a.gauge_points, b.gauge_points);
    assert_eq!(a.logs, b.logs);
    assert_eq!(a.labels, b.labels);
}

#[test]
fn different_seeds_give_different_clusters() {
    let a = main_dataset();
    let b = generate(&params(43, 1.0));
    let names = |d: &Dataset| -> BTreeSet<String> {
        d.resources
            .iter()
            .flat_map(|r| r.attributes.iter())
            .filter(|(k, _)| k == "k8s.pod.name")
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert!(names(a).is_disjoint(&names(&b)));
    let onsets = |d: &Dataset| -> BTreeSet<OffsetDateTime> {
        d.labels.incidents.iter().map(|i| i.onset_at).collect()
    };
    assert!(onsets(a).is_disjoint(&onsets(&b)));
    assert_ne!(a.labels.incidents.len(), 0);
}

#[test]
fn labels_match_the_data() {
    assert_labels_consistent(main_dataset());
}

#[test]
fn labels_match_the_data_for_other_seeds() {
    for seed in [1, 2, 3] {
        assert_labels_consistent(&generate(&params(seed, 1.0)));
    }
}

#[test]
fn leak_slopes_and_timings_vary() {
    let mut durations = BTreeSet::new();
    for seed in [42, 5] {
        let dataset = if seed == 42 {
            main_dataset().clone()
        } else {
            generate(&params(seed, 1.0))
        };
        for i in dataset
            .labels
            .incidents
            .iter()
            .filter(|i| i.kind == "memory_leak")
        {
            durations.insert((ns(i.impact_at.unwrap()) - ns(i.onset_at)) / MIN);
        }
    }
    let (shortest, longest) = (durations.first().unwrap(), durations.last().unwrap());
    assert!(
        longest - shortest >= 60,
        "growth times barely vary: {durations:?}"
    );
}

#[test]
fn sizes_stay_within_bounds() {
    let dataset = main_dataset();
    assert!(
        dataset.gauge_points.len() <= 1_500_000,
        "{} points",
        dataset.gauge_points.len()
    );
    assert!(dataset.logs.len() <= 400_000, "{} logs", dataset.logs.len());
    let middle = ns(dataset.labels.start) + 6 * HOUR;
    let running: BTreeSet<u32> = dataset
        .gauge_points
        .iter()
        .filter(|p| {
            (p.time_unix_ns - middle).abs() < 30 * SEC
                && dataset.gauge_series[p.series as usize].metric_name
                    == "container.memory.working_set"
        })
        .map(|p| p.series)
        .collect();
    assert!(
        (200..=320).contains(&running.len()),
        "{} running containers",
        running.len()
    );
    eprintln!(
        "sizes: {} resources, {} series, {} points, {} logs, {} containers running at mid-window",
        dataset.resources.len(),
        dataset.gauge_series.len(),
        dataset.gauge_points.len(),
        dataset.logs.len(),
        running.len()
    );
}

#[test]
fn events_come_in_all_three_shapes() {
    let dataset = main_dataset();
    let receiver = dataset
        .logs
        .iter()
        .filter(|l| l.scope_name == events::EVENTS_RECEIVER_SCOPE)
        .count();
    let watch_bodies: Vec<serde_json::Value> = dataset
        .logs
        .iter()
        .filter(|l| l.scope_name == events::OBJECTS_RECEIVER_SCOPE && !l.body.is_empty())
        .map(|l| serde_json::from_str(&l.body).expect("watch bodies are JSON"))
        .collect();
    let clickstack: Vec<serde_json::Value> = dataset
        .logs
        .iter()
        .filter(|l| l.scope_name == events::OBJECTS_RECEIVER_SCOPE && l.body.is_empty())
        .map(|l| {
            let object = Index::log_attribute(l, "object").expect("object attribute");
            serde_json::from_str(object).expect("object is JSON")
        })
        .collect();
    assert!(receiver > 0 && !watch_bodies.is_empty() && !clickstack.is_empty());
    assert!(watch_bodies.iter().all(|b| b["object"]["kind"] == "Event"));
    let reasons: BTreeSet<String> = dataset
        .logs
        .iter()
        .filter_map(|l| Index::log_attribute(l, "k8s.event.reason").map(str::to_string))
        .chain(
            watch_bodies
                .iter()
                .map(|b| b["object"]["reason"].as_str().unwrap().to_string()),
        )
        .chain(
            clickstack
                .iter()
                .map(|o| o["reason"].as_str().unwrap().to_string()),
        )
        .collect();
    for reason in [
        "BackOff",
        "Killing",
        "Unhealthy",
        "Failed",
        "Started",
        "Pulled",
        "Created",
        "Scheduled",
    ] {
        assert!(reasons.contains(reason), "no {reason} event: {reasons:?}");
    }
}

#[test]
fn odd_windows_and_scales_still_generate_consistent_data() {
    for (hours, scale) in [(1.5, 0.2), (5.0, 0.3), (20.0, 0.2), (12.0, 2.0)] {
        let dataset = generate(&DemoParams {
            hours,
            scale,
            ..params(11, 1.0)
        });
        let (start, end) = (ns(dataset.labels.start), ns(dataset.labels.end));
        assert_eq!(end - start, (hours * HOUR as f64) as i64);
        assert!(dataset
            .gauge_points
            .iter()
            .all(|p| p.time_unix_ns >= start && p.time_unix_ns < end));
        assert!(dataset
            .logs
            .iter()
            .all(|l| l.timestamp_ns >= start && l.timestamp_ns < end));
        for incident in &dataset.labels.incidents {
            let impact = ns(incident.impact_at.unwrap());
            assert!(
                ns(incident.onset_at) >= start && impact < end,
                "{hours} h: {incident:?}"
            );
        }
    }
}

/// The entity keys each label carries (module docs of `generate`): what backtests match
/// findings against.
fn entity_keys(signal: &str, kind: &str) -> &'static [&'static str] {
    match (signal, kind) {
        (_, "rolling_update" | "batch_completed" | "batch_near_limit") => {
            &["cluster", "container", "namespace"]
        }
        ("memory_pressure" | "restart_frequency", _) => {
            &["cluster", "container", "namespace", "pod"]
        }
        ("error_rate", _) => &["cluster", "namespace", "service"],
        ("heartbeat_missing", _) => &["canary", "cluster"],
        (signal, kind) => panic!("unknown signal {signal} ({kind})"),
    }
}

fn assert_every_label_kind_appears(dataset: &Dataset, variety: Variety) {
    let labels = &dataset.labels;
    let clusters: BTreeSet<&str> = dataset
        .resources
        .iter()
        .flat_map(|r| r.attributes.iter())
        .filter(|(k, _)| k == "k8s.cluster.name")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        variety == Variety::Wide || clusters.len() == 1,
        "{clusters:?}"
    );
    let labelled = labels
        .incidents
        .iter()
        .map(|i| (&i.signal, &i.kind, &i.entity))
        .chain(
            labels
                .negatives
                .iter()
                .map(|n| (&n.signal, &n.kind, &n.entity)),
        );
    let mut kinds = BTreeSet::new();
    for (signal, kind, entity) in labelled {
        let keys: Vec<&str> = entity.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            entity_keys(signal, kind),
            "{signal} {kind}: {entity:?}"
        );
        assert!(clusters.contains(entity["cluster"].as_str()), "{entity:?}");
        assert!(entity.values().all(|v| !v.is_empty()), "{entity:?}");
        kinds.insert((signal.as_str(), kind.as_str()));
    }
    for expected in [
        ("memory_pressure", "memory_leak"),
        ("restart_frequency", "crash_loop"),
        ("restart_frequency", "restart_rate_rise"),
        ("error_rate", "error_burst"),
        ("error_rate", "error_creep"),
        ("heartbeat_missing", "canary_stopped"),
        ("memory_pressure", "gc_sawtooth"),
        ("memory_pressure", "flat_high"),
        ("memory_pressure", "no_limit_growth"),
        ("restart_frequency", "isolated_restart"),
        ("restart_frequency", "rolling_update"),
        ("memory_pressure", "rolling_update"),
        ("restart_frequency", "batch_completed"),
        ("memory_pressure", "batch_completed"),
        ("error_rate", "chronic_errors"),
        ("error_rate", "traffic_swing"),
        ("error_rate", "quiet_service"),
        ("heartbeat_missing", "jittered_canary"),
        ("heartbeat_missing", "late_beat"),
    ]
    .into_iter()
    .chain(match variety {
        Variety::Default => vec![],
        Variety::Wide => vec![
            ("memory_pressure", "gc_hour_cycle"),
            ("memory_pressure", "level_step"),
            ("memory_pressure", "batch_near_limit"),
        ],
    }) {
        assert!(
            kinds.contains(&expected),
            "no {expected:?} label: {kinds:?}"
        );
    }
    // An OOM-kill loop is labelled only where a wide leak cycles within the hour.
    kinds.remove(&("restart_frequency", "oom_kill_loop"));
    let known = match variety {
        Variety::Default => 19,
        Variety::Wide => 22,
    };
    assert_eq!(
        kinds.len(),
        known,
        "a label kind this test does not know: {kinds:?}"
    );
}

#[test]
fn every_label_kind_appears_with_its_entity_keys() {
    assert_every_label_kind_appears(main_dataset(), Variety::Default);
    assert_every_label_kind_appears(&generate(&params(9, 1.0)), Variety::Default);
}

/// FNV-1a over every row and the labels: a digest that changes with any byte of the data.
fn fingerprint(dataset: &Dataset) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for r in &dataset.resources {
        eat(r.service_name.as_bytes());
        for (k, v) in &r.attributes {
            eat(k.as_bytes());
            eat(v.as_bytes());
        }
    }
    for s in &dataset.gauge_series {
        eat(s.metric_name.as_bytes());
        eat(&s.resource.to_le_bytes());
    }
    for p in &dataset.gauge_points {
        eat(&p.series.to_le_bytes());
        eat(&p.time_unix_ns.to_le_bytes());
        eat(&p.value.to_bits().to_le_bytes());
    }
    for l in &dataset.logs {
        eat(&l.resource.to_le_bytes());
        eat(&l.timestamp_ns.to_le_bytes());
        eat(&[l.severity_number]);
        eat(l.body.as_bytes());
        for (k, v) in &l.attributes {
            eat(k.as_bytes());
            eat(v.as_bytes());
        }
        eat(l.scope_name.as_bytes());
    }
    eat(serde_json::to_string(&dataset.labels).unwrap().as_bytes());
    hash
}

/// The default generator's output is pinned: backtests and the detection-quality sweep are
/// only comparable across commits while a seed keeps giving the same cluster, so changing the
/// default data must be a deliberate act (update the digest and say why). New variety goes
/// behind an opt-in parameter. (The digest covers float bits from `ln`/`exp`/`sin`; it was
/// taken on x86_64 Linux.)
#[test]
fn default_data_for_a_seed_is_pinned() {
    let dataset = generate(&DemoParams {
        hours: 6.0,
        ..params(7, 0.3)
    });
    assert!(dataset.gauge_points.len() > 10_000 && dataset.logs.len() > 1_000);
    assert_eq!(
        format!("{:016x}", fingerprint(&dataset)),
        // 9a97c6e6…: leaks start no earlier than the 3 h warm-up (a quarter of shorter data),
        // so every backtest step judges a leak on a full rule window.
        "9a97c6e6a6bc5727",
        "the default data for seed 7 changed"
    );
}

fn wide(seed: u64) -> Dataset {
    generate_with(&params(seed, 1.0), Variety::Wide)
}

#[test]
fn wide_data_is_deterministic_and_differs_from_the_default() {
    let (a, b) = (wide(7), wide(7));
    assert_eq!(a.gauge_points, b.gauge_points);
    assert_eq!(a.logs, b.logs);
    assert_eq!(a.labels, b.labels);
    assert_ne!(a.gauge_points, generate(&params(7, 1.0)).gauge_points);
}

/// A multi-cluster dataset as one dataset per cluster (by `k8s.cluster.name`), each with the
/// labels whose entity names that cluster; every row and label lands in exactly one.
fn split_by_cluster(dataset: &Dataset) -> Vec<Dataset> {
    let cluster_of = |r: &crate::demo::model::Resource| {
        r.attributes
            .iter()
            .find(|(k, _)| k == "k8s.cluster.name")
            .map(|(_, v)| v.clone())
            .expect("every resource names its cluster")
    };
    let clusters: BTreeSet<String> = dataset.resources.iter().map(cluster_of).collect();
    let parts: Vec<Dataset> = clusters
        .iter()
        .map(|cluster| {
            let mut part = Dataset::default();
            let mut resource_map = HashMap::new();
            for (i, r) in dataset.resources.iter().enumerate() {
                if &cluster_of(r) == cluster {
                    resource_map.insert(i as u32, part.resources.len() as u32);
                    part.resources.push(r.clone());
                }
            }
            let mut series_map = HashMap::new();
            for (i, s) in dataset.gauge_series.iter().enumerate() {
                if let Some(&resource) = resource_map.get(&s.resource) {
                    series_map.insert(i as u32, part.gauge_series.len() as u32);
                    part.gauge_series.push(crate::demo::model::MetricSeries {
                        resource,
                        ..s.clone()
                    });
                }
            }
            part.gauge_points = dataset
                .gauge_points
                .iter()
                .filter_map(|p| {
                    let series = *series_map.get(&p.series)?;
                    Some(crate::demo::model::MetricPoint { series, ..*p })
                })
                .collect();
            part.logs = dataset
                .logs
                .iter()
                .filter_map(|l| {
                    let resource = *resource_map.get(&l.resource)?;
                    Some(LogRecord {
                        resource,
                        ..l.clone()
                    })
                })
                .collect();
            part.labels = dataset.labels.clone();
            part.labels
                .incidents
                .retain(|i| &i.entity["cluster"] == cluster);
            part.labels
                .negatives
                .retain(|n| &n.entity["cluster"] == cluster);
            part
        })
        .collect();
    let rows = |d: &Dataset| {
        (
            d.gauge_points.len() + d.logs.len(),
            d.labels.incidents.len() + d.labels.negatives.len(),
        )
    };
    let total = parts
        .iter()
        .map(rows)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!(total, rows(dataset), "rows or labels outside every cluster");
    parts
}

#[test]
fn wide_labels_match_the_data() {
    for seed in [1, 2, 3, 4] {
        for cluster in split_by_cluster(&wide(seed)) {
            assert_labels_consistent_with(&cluster, Variety::Wide);
            assert_every_label_kind_appears(&cluster, Variety::Wide);
        }
    }
}

/// The kubelet interval of a dataset: the median gap between one container's samples.
fn working_set_interval_s(dataset: &Dataset) -> i64 {
    let index = Index::new(dataset);
    // The container with the most samples, ties broken by name: `series` is a HashMap, and
    // choosing by its iteration order made this test pick a different container each run.
    let points = index
        .series
        .keys()
        .filter(|k| k.0 == "container.memory.working_set")
        .map(|k| (index.points(&k.0, &k.1, &k.2), k))
        .max_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| b.1.cmp(a.1)))
        .map(|(points, _)| points)
        .expect("working-set series");
    assert!(
        points.len() >= 2,
        "the busiest working-set series has no gaps to measure"
    );
    let mut gaps: Vec<i64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort_unstable();
    (gaps[gaps.len() / 2] as f64 / SEC as f64).round() as i64
}

#[test]
fn wide_clusters_vary_what_the_default_holds_fixed() {
    let datasets: Vec<Dataset> = (1..=6).map(wide).collect();
    let clusters: BTreeSet<usize> = datasets
        .iter()
        .map(|d| {
            d.resources
                .iter()
                .flat_map(|r| r.attributes.iter())
                .filter(|(k, _)| k == "k8s.cluster.name")
                .map(|(_, v)| v)
                .collect::<BTreeSet<_>>()
                .len()
        })
        .collect();
    assert!(
        clusters.len() >= 2 && clusters.iter().all(|n| (1..=3).contains(n)),
        "{clusters:?}"
    );
    let intervals: BTreeSet<i64> = datasets
        .iter()
        .flat_map(split_by_cluster)
        .map(|d| working_set_interval_s(&d))
        .collect();
    assert!(intervals.len() >= 2, "{intervals:?}");
    assert!(
        // 10–60 s, give or take the jitter (up to a tenth of the interval).
        intervals.iter().all(|s| (9..=66).contains(s)),
        "{intervals:?}"
    );
    assert_eq!(working_set_interval_s(main_dataset()), 30);

    let shapes: BTreeSet<&str> = datasets
        .iter()
        .flat_map(|d| d.labels.incidents.iter())
        .filter(|i| i.kind == "memory_leak")
        .filter_map(|i| {
            ["linear", "accelerating", "concave", "stepwise"]
                .into_iter()
                .find(|shape| i.description.contains(&format!("({shape})")))
        })
        .collect();
    assert_eq!(shapes.len(), 4, "leak shapes: {shapes:?}");

    // Request rates over three orders of magnitude (per service, requests per minute).
    let mut rates: Vec<f64> = Vec::new();
    for dataset in &datasets {
        let mut per_service: HashMap<&str, usize> = HashMap::new();
        for l in &dataset.logs {
            let service = &dataset.resources[l.resource as usize].service_name;
            if !service.is_empty() && Index::log_attribute(l, "canary.name").is_none() {
                *per_service.entry(service).or_default() += 1;
            }
        }
        let minutes = (ns(dataset.labels.end) - ns(dataset.labels.start)) as f64 / MIN as f64;
        rates.extend(per_service.values().map(|&n| n as f64 / minutes));
    }
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    assert!(hi / lo >= 1000.0, "request rates {lo:.2}–{hi:.2}/min");

    // A second sidecar on some pods: more than two containers in a pod.
    let crowded = datasets.iter().any(|d| {
        let mut per_pod: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for r in &d.resources {
            let get = |key: &str| {
                r.attributes
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
            };
            if let (Some(pod), Some(container)) = (get("k8s.pod.name"), get("k8s.container.name")) {
                per_pod.entry(pod).or_default().insert(container);
            }
        }
        per_pod.values().any(|c| c.len() >= 3)
    });
    assert!(crowded, "no pod with two sidecars");
}
