//! Building blocks of the demo generator (`demo::generate`): time and random helpers, the `Sink`
//! that assembles a `Dataset`, and one module per kind of telemetry the generator fakes
//! (working-set shapes, request logs, event shapes, canary schedules, name pools). They know
//! nothing of the cluster being built; `generate` decides what happens to whom.
//!
//! All times are nanoseconds since the Unix epoch (UTC) as `i64`, like the model's points; the
//! generator converts to `OffsetDateTime` only for labels and event timestamps.

pub mod canary;
pub mod events;
pub mod memory;
pub mod names;
pub mod traffic;

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::Rng;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::demo::model::{Attributes, Dataset, LogRecord, MetricPoint, MetricSeries, Resource};

pub const SEC: i64 = 1_000_000_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;
pub const MIB: f64 = 1024.0 * 1024.0;

/// The generated span, `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    pub fn len(&self) -> i64 {
        self.end - self.start
    }

    /// The instant `fraction` of the way through the window.
    pub fn at(&self, fraction: f64) -> i64 {
        self.start + (self.len() as f64 * fraction) as i64
    }

    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && t < self.end
    }
}

pub fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Assembles a `Dataset`, interning resources so each attribute set is stored once and every
/// point or record refers to it by index (as the model intends).
#[derive(Default)]
pub struct Sink {
    pub dataset: Dataset,
    interned: HashMap<(String, Attributes), u32>,
}

impl Sink {
    pub fn resource(&mut self, service_name: &str, attributes: Attributes) -> u32 {
        let key = (service_name.to_string(), attributes);
        if let Some(&index) = self.interned.get(&key) {
            return index;
        }
        let index = self.dataset.resources.len() as u32;
        self.dataset.resources.push(Resource {
            service_name: key.0.clone(),
            attributes: key.1.clone(),
        });
        self.interned.insert(key, index);
        index
    }

    pub fn series(
        &mut self,
        metric_name: &str,
        description: &str,
        unit: &str,
        resource: u32,
    ) -> u32 {
        let index = self.dataset.gauge_series.len() as u32;
        self.dataset.gauge_series.push(MetricSeries {
            metric_name: metric_name.to_string(),
            description: description.to_string(),
            unit: unit.to_string(),
            resource,
            attributes: Vec::new(),
        });
        index
    }

    pub fn point(&mut self, series: u32, time_unix_ns: i64, value: f64) {
        self.dataset.gauge_points.push(MetricPoint {
            series,
            time_unix_ns,
            value,
        });
    }

    pub fn log(&mut self, record: LogRecord) {
        self.dataset.logs.push(record);
    }
}

/// Uniform in `[lo, hi)`; `lo` when the range is empty.
pub fn uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// Log-uniform in `[lo, hi)`: as likely to land in 1–2 as in 10–20 (slopes, rates, sizes).
pub fn log_uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    uniform(rng, lo.ln(), hi.ln()).exp()
}

/// Uniform integer in `[lo, hi)`; `lo` when the range is empty.
pub fn between(rng: &mut StdRng, lo: i64, hi: i64) -> i64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// A deterministic value in `[0, 1)` for an integer key (splitmix64), for per-cycle variation
/// that must not consume the random stream.
pub fn unit_hash(key: u64) -> f64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

pub fn datetime(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ns as i128).expect("generated times are in range")
}

/// RFC 3339 at whole seconds, as Kubernetes serialises `metav1.Time`.
pub fn rfc3339_seconds(ns: i64) -> String {
    datetime(ns - ns.rem_euclid(SEC))
        .format(&Rfc3339)
        .expect("RFC 3339 formats any UTC time")
}

/// Go's `time.Time.String()` form, which the k8s_events receiver writes to
/// `k8s.event.start_time`: `2026-11-23 06:00:00 +0000 UTC`.
pub fn go_time(ns: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC");
    datetime(ns)
        .format(&format)
        .expect("Go time format applies to any UTC time")
}

pub fn human_bytes(bytes: f64) -> String {
    if bytes >= 1024.0 * MIB {
        format!("{:.2} GiB", bytes / (1024.0 * MIB))
    } else {
        format!("{:.0} MiB", bytes / MIB)
    }
}

pub fn human_duration(ns: i64) -> String {
    let seconds = ns / SEC;
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}
