//! Findings — a contract (DESIGN.md): what a detector concluded about one entity, as of one
//! time. `--output jsonl` prints exactly this shape, one object per line.
//!
//! A finding's `id` is the fingerprint of its rule and its entity's identity keys
//! ([`entity::IDENTITY_KEYS`]), never of derived values such as the workload: the same problem
//! on the same container keeps its id across runs, re-parenting and versions. Changing what the
//! fingerprint hashes is a contract change (the test pins one value).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::window::timefmt;

pub mod entity;

pub use entity::{Entity, Workload, WorkloadKind, WorkloadParseError, IDENTITY_KEYS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    MemoryPressure,
    ErrorRate,
    RestartFrequency,
    HeartbeatMissing,
}

impl Signal {
    pub const ALL: [Signal; 4] = [
        Signal::MemoryPressure,
        Signal::ErrorRate,
        Signal::RestartFrequency,
        Signal::HeartbeatMissing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::MemoryPressure => "memory_pressure",
            Signal::ErrorRate => "error_rate",
            Signal::RestartFrequency => "restart_frequency",
            Signal::HeartbeatMissing => "heartbeat_missing",
        }
    }

    pub fn parse(text: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ordered: `info < warning < critical` (so `--fail-on warning` includes critical).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Firing,
    Resolved,
}

/// The time range a finding was judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingWindow {
    #[serde(with = "rfc3339_z")]
    pub from: OffsetDateTime,
    #[serde(with = "rfc3339_z")]
    pub to: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable fingerprint of rule + entity: the same problem keeps its id across runs.
    pub id: String,
    pub rule: String,
    pub signal: Signal,
    pub severity: Severity,
    pub status: Status,
    /// Only the keys that apply (cluster, namespace, pod, container, workload, service, canary):
    /// the contract's flat map. Typed: [`Finding::workload`], [`Entity::from_map`].
    pub entity: BTreeMap<String, String>,
    #[serde(with = "rfc3339_z")]
    pub evaluated_at: OffsetDateTime,
    pub window: FindingWindow,
    pub summary: String,
    /// Numbers a person needs to trust the finding, SI units, unit in the name.
    pub evidence: serde_json::Map<String, Value>,
    pub runbook: Option<String>,
}

impl Finding {
    /// Builds a finding with its fingerprint computed from the rule and the entity's identity.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rule: &str,
        signal: Signal,
        severity: Severity,
        status: Status,
        entity: impl Into<BTreeMap<String, String>>,
        evaluated_at: OffsetDateTime,
        window: FindingWindow,
        summary: String,
        evidence: serde_json::Map<String, Value>,
        runbook: Option<String>,
    ) -> Finding {
        let entity = entity.into();
        Finding {
            id: fingerprint(rule, &entity),
            rule: rule.to_string(),
            signal,
            severity,
            status,
            entity,
            evaluated_at,
            window,
            summary,
            evidence,
            runbook,
        }
    }

    /// The workload that owns the entity, typed (`Deployment/cart` → kind and name); `None`
    /// where the entity has none or the text is not a workload.
    pub fn workload(&self) -> Option<Workload> {
        self.entity.get(entity::WORKLOAD_KEY)?.parse().ok()
    }

    /// True when every key of `wanted` has the same value in this finding's entity.
    pub fn entity_matches(&self, wanted: &BTreeMap<String, String>) -> bool {
        wanted
            .iter()
            .all(|(k, v)| self.entity.get(k).is_some_and(|mine| mine == v))
    }
}

/// FNV-1a 64 over `rule` and the entity's identity pairs, sorted by key: stable across runs,
/// platforms and versions (unlike std's randomly seeded hasher). Keys outside
/// [`IDENTITY_KEYS`] (the workload) do not count.
pub fn fingerprint(rule: &str, entity: &BTreeMap<String, String>) -> String {
    stable_hash(
        rule,
        entity
            .iter()
            .filter(|(k, _)| IDENTITY_KEYS.contains(&k.as_str())),
    )
}

/// The same FNV-1a 64 over a label and *every* pair given: for ids derived from content
/// (silences, message idempotency keys), where no key may be dropped.
pub fn content_hash(label: &str, pairs: &BTreeMap<String, String>) -> String {
    stable_hash(label, pairs.iter())
}

fn stable_hash<'a>(label: &str, pairs: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= *b as u64;
            hash = hash.wrapping_mul(0x100000001b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x100000001b3);
    };
    feed(label.as_bytes());
    for (k, v) in pairs {
        feed(k.as_bytes());
        feed(v.as_bytes());
    }
    format!("{hash:016x}")
}

impl From<Entity> for BTreeMap<String, String> {
    fn from(entity: Entity) -> BTreeMap<String, String> {
        entity.to_map()
    }
}

/// RFC 3339 with a `Z` for findings' times.
pub mod rfc3339_z {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::timefmt::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }

    /// The same for optional times (`null` when absent).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            let text: Option<String> = Option::deserialize(d)?;
            text.map(|t| {
                OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}

/// Evidence builder: `evidence!{"limit_bytes" => 2e9, ...}` style without a macro.
#[derive(Default)]
pub struct Evidence(serde_json::Map<String, Value>);

impl Evidence {
    pub fn new() -> Evidence {
        Evidence::default()
    }

    pub fn num(mut self, key: &str, value: f64) -> Evidence {
        let value = if value.is_finite() {
            // Round to 6 significant digits: evidence is for people, and stable text diffs.
            let digits = 6 - value.abs().log10().ceil().clamp(-12.0, 15.0) as i32;
            let scale = 10f64.powi(digits.clamp(0, 12));
            serde_json::Number::from_f64((value * scale).round() / scale)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        self.0.insert(key.into(), value);
        self
    }

    pub fn int(mut self, key: &str, value: u64) -> Evidence {
        self.0.insert(key.into(), Value::from(value));
        self
    }

    pub fn time(mut self, key: &str, value: OffsetDateTime) -> Evidence {
        self.0
            .insert(key.into(), Value::String(timefmt::rfc3339(value)));
        self
    }

    pub fn text(mut self, key: &str, value: &str) -> Evidence {
        self.0.insert(key.into(), Value::String(value.into()));
        self
    }

    pub fn build(self) -> serde_json::Map<String, Value> {
        self.0
    }
}

/// Human-readable bytes: `1.62 GiB`.
pub fn bytes_text(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.2} {}", units[unit])
    }
}

/// Human-readable duration: `42 min`, `2.5 h`, `30 s`.
pub fn duration_text(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 90.0 * 60.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cart(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_fingerprint_is_pinned() {
        // A contract: state, silences and notifications key on it. Change it deliberately.
        // (FNV-1a 64 as documented; recomputed independently when pinned.)
        let entity = cart(&[
            ("cluster", "prod-eu"),
            ("namespace", "shop"),
            ("pod", "cart-7d9f"),
            ("container", "cart"),
        ]);
        assert_eq!(fingerprint("memory-pressure", &entity), "f3881c5b90329411");
    }

    #[test]
    fn the_fingerprint_hashes_identity_only_whatever_the_order() {
        let forward = cart(&[("namespace", "shop"), ("pod", "cart-1")]);
        // Built in the other order, and through the typed entity.
        let typed = Entity::new(&[("pod", "cart-1"), ("namespace", "shop")]);
        let id = fingerprint("memory-pressure", &forward);
        assert_eq!(id, fingerprint("memory-pressure", &typed.clone().into()));
        // The workload is derived: it may change (or be missing) without changing the id.
        let with_workload = typed.with_workload(Some(Workload {
            kind: WorkloadKind::Deployment,
            name: "cart".into(),
        }));
        let with_workload: BTreeMap<String, String> = with_workload.into();
        assert!(with_workload.contains_key("workload"));
        assert_eq!(id, fingerprint("memory-pressure", &with_workload));
        // Controls: another rule, or another value of an identity key, is another id.
        assert_ne!(id, fingerprint("error-rate", &forward));
        assert_ne!(
            id,
            fingerprint(
                "memory-pressure",
                &cart(&[("namespace", "shop"), ("pod", "cart-2")])
            )
        );
        // Moving a value to another key is another entity, not a collision.
        assert_ne!(
            fingerprint("r", &cart(&[("namespace", "a"), ("pod", "b")])),
            fingerprint("r", &cart(&[("namespace", "b"), ("pod", "a")]))
        );
        assert_eq!(id.len(), 16);
    }

    #[test]
    fn a_findings_workload_is_typed() {
        let entity = Entity::new(&[("namespace", "shop"), ("pod", "cart-1")]).with_workload(Some(
            Workload {
                kind: WorkloadKind::StatefulSet,
                name: "db".into(),
            },
        ));
        let at = OffsetDateTime::UNIX_EPOCH;
        let finding = Finding::new(
            "r",
            Signal::MemoryPressure,
            Severity::Warning,
            Status::Firing,
            entity,
            at,
            FindingWindow { from: at, to: at },
            String::new(),
            serde_json::Map::new(),
            None,
        );
        assert_eq!(finding.entity["workload"], "StatefulSet/db");
        let workload = finding.workload().expect("typed workload");
        assert_eq!(
            (workload.kind, workload.name.as_str()),
            (WorkloadKind::StatefulSet, "db")
        );
    }

    #[test]
    fn severities_order_for_fail_on() {
        assert!(Severity::Critical > Severity::Warning);
        assert!(Severity::Warning > Severity::Info);
    }
}
