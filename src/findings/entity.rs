//! What a finding is about, typed: the entity's identity keys (cluster, namespace, pod,
//! container / service / canary) and, for containers, the owning workload as a kind and a name.
//!
//! Identity is what lasts: the finding's `id` hashes the rule and the identity keys only. The
//! workload is derived (picked from whichever owner attribute is set, and it can change when a
//! pod is re-parented), so it is carried beside the identity, never in it. On the wire (the
//! findings contract, DESIGN.md) both are one flat map, the workload written `Kind/name`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The keys that identify an entity, in the order they narrow it down. (`source` is the
/// monitor's own: "monitor blind" findings are about the source forewarn could not read.)
pub const IDENTITY_KEYS: [&str; 7] = [
    "cluster",
    "namespace",
    "pod",
    "container",
    "service",
    "canary",
    "source",
];

/// The contract key of the workload.
pub const WORKLOAD_KEY: &str = "workload";

/// The kind of object that owns a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicaSet,
    /// A bare pod, owned by nothing.
    Pod,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 7] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::ReplicaSet,
        WorkloadKind::Pod,
    ];

    /// The Kubernetes `kind`, as in `Deployment/cart`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::Pod => "Pod",
        }
    }
}

impl Serialize for WorkloadKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The workload that owns a pod: `Deployment/cart` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// A workload text that is not `Kind/name` with a known kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a workload like `Deployment/cart` (kinds: Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, Pod)")]
pub struct WorkloadParseError {
    pub text: String,
}

impl FromStr for Workload {
    type Err = WorkloadParseError;

    /// The inverse of `Display`: where a frame or a stored finding carries the text.
    fn from_str(text: &str) -> Result<Workload, WorkloadParseError> {
        let error = || WorkloadParseError {
            text: text.to_string(),
        };
        let (kind, name) = text.split_once('/').ok_or_else(error)?;
        let kind = WorkloadKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(error)?;
        if name.is_empty() {
            return Err(error());
        }
        Ok(Workload {
            kind,
            name: name.to_string(),
        })
    }
}

impl Serialize for Workload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Workload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Workload, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An entity: identity keys (only those that apply, none empty) and the workload, if known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entity {
    identity: BTreeMap<String, String>,
    workload: Option<Workload>,
}

impl Entity {
    /// From identity (key, value) pairs; empty values are left out (an entity holds only the
    /// keys that apply).
    ///
    /// # Panics
    /// On a key outside [`IDENTITY_KEYS`]: derived values (the workload) have their own setter,
    /// so that they can never reach the fingerprint.
    pub fn new(pairs: &[(&str, &str)]) -> Entity {
        let identity = pairs
            .iter()
            .inspect(|(k, _)| assert!(IDENTITY_KEYS.contains(k), "`{k}` is not an identity key"))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Entity {
            identity,
            workload: None,
        }
    }

    pub fn with_workload(mut self, workload: Option<Workload>) -> Entity {
        self.workload = workload;
        self
    }

    /// The identity keys and values: what the fingerprint hashes.
    pub fn identity(&self) -> &BTreeMap<String, String> {
        &self.identity
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.identity.get(key).map(String::as_str)
    }

    pub fn workload(&self) -> Option<&Workload> {
        self.workload.as_ref()
    }

    /// The contract's flat map: the identity keys and `workload` as `Kind/name`.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = self.identity.clone();
        if let Some(w) = &self.workload {
            map.insert(WORKLOAD_KEY.to_string(), w.to_string());
        }
        map
    }

    /// From the contract's map: identity keys kept, `workload` typed, other keys dropped.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Entity, WorkloadParseError> {
        let identity = map
            .iter()
            .filter(|(k, v)| IDENTITY_KEYS.contains(&k.as_str()) && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let workload = map
            .get(WORKLOAD_KEY)
            .filter(|w| !w.is_empty())
            .map(|w| w.parse())
            .transpose()?;
        Ok(Entity { identity, workload })
    }
}

impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entity, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        Entity::from_map(&map).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cart() -> Entity {
        Entity::new(&[
            ("cluster", "prod"),
            ("namespace", "shop"),
            ("pod", "cart-7d9f"),
            ("container", "cart"),
        ])
        .with_workload(Some(Workload {
            kind: WorkloadKind::Deployment,
            name: "cart".into(),
        }))
    }

    #[test]
    fn the_workload_is_kind_slash_name_on_the_wire_and_typed_inside() {
        let json = serde_json::to_value(cart()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"cluster": "prod", "namespace": "shop", "pod": "cart-7d9f",
                               "container": "cart", "workload": "Deployment/cart"})
        );
        let back: Entity = serde_json::from_value(json).unwrap();
        assert_eq!(back, cart());
        assert_eq!(
            back.workload().map(|w| w.kind),
            Some(WorkloadKind::Deployment)
        );
        assert!(!back.identity().contains_key(WORKLOAD_KEY));
    }

    #[test]
    fn every_kind_round_trips_and_unknown_ones_are_refused() {
        for kind in WorkloadKind::ALL {
            let w = Workload {
                kind,
                name: "x".into(),
            };
            assert_eq!(w.to_string().parse::<Workload>(), Ok(w));
        }
        for bad in ["cart", "Deploy/cart", "Deployment/", ""] {
            assert!(bad.parse::<Workload>().is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_values_are_left_out() {
        let e = Entity::new(&[("cluster", ""), ("canary", "ping")]);
        assert_eq!(e.to_map().len(), 1);
        assert_eq!(e.get("canary"), Some("ping"));
    }

    #[test]
    #[should_panic(expected = "not an identity key")]
    fn a_derived_key_cannot_enter_the_identity() {
        Entity::new(&[("pod", "a"), ("workload", "Deployment/a")]);
    }
}
