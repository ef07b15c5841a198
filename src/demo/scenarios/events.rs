//! Kubernetes events as they land in `otel_logs`, in the three shapes of `telemetry.md` §3,
//! mixed per event (each dataset draws its own mix):
//! 1. the k8s_events receiver (message in `Body`, reason and count in `LogAttributes`),
//! 2. the k8sobjects receiver watching `events` (the watch event as JSON in `Body`, core/v1 or
//!    events.k8s.io/v1),
//! 3. ClickStack's collector, which moves that map into `LogAttributes['type']` and
//!    `LogAttributes['object']` and leaves `Body` empty.
//!
//! Repeats of the same (object, reason, message) are aggregated as Kubernetes does: same event
//! name, `count` incremented, `MODIFIED` instead of `ADDED` in the watch shapes.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::names::uuid;
use super::{attrs, between, go_time, rfc3339_seconds, uniform, Sink, Window, SEC};
use crate::demo::model::LogRecord;

pub const EVENTS_RECEIVER_SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/k8seventsreceiver";
pub const OBJECTS_RECEIVER_SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/k8sobjectsreceiver";

/// The object an event is about (`involvedObject` / `regarding`).
#[derive(Debug, Clone)]
pub struct ObjRef {
    pub kind: &'static str,
    pub api_version: &'static str,
    pub name: String,
    /// Empty for cluster-scoped objects (nodes).
    pub namespace: String,
    pub uid: String,
    pub field_path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct KEvent {
    pub at: i64,
    pub object: ObjRef,
    pub reason: &'static str,
    pub message: String,
    pub warning: bool,
    /// Reporting component: kubelet, default-scheduler, kernel-monitor, …-controller.
    pub component: &'static str,
    /// Reporting host (the node for kubelet and kernel-monitor events), or empty.
    pub host: String,
}

struct Aggregate {
    name: String,
    uid: String,
    first: i64,
    count: u32,
}

/// Writes `events` (any order) into `sink`; those outside `win` still count toward the
/// aggregation of later repeats.
pub fn write(
    sink: &mut Sink,
    rng: &mut StdRng,
    win: Window,
    cluster: &str,
    mut events: Vec<KEvent>,
) {
    events.sort_by_key(|e| e.at);
    let weights = [
        uniform(rng, 0.2, 1.0),
        uniform(rng, 0.2, 1.0),
        uniform(rng, 0.2, 1.0),
    ];
    let total: f64 = weights.iter().sum();
    let share_events_v1 = uniform(rng, 0.1, 0.5);
    let objects_resource = sink.resource("", attrs(&[("k8s.cluster.name", cluster)]));
    let mut aggregates: HashMap<(String, &'static str, String), Aggregate> = HashMap::new();
    let mut resource_version: u64 = rng.random_range(10_000_000..90_000_000);
    for ev in events {
        resource_version += rng.random_range(1..40);
        let key = (ev.object.uid.clone(), ev.reason, ev.message.clone());
        let aggregate = aggregates.entry(key).or_insert_with(|| Aggregate {
            name: format!("{}.{:x}", ev.object.name, ev.at),
            uid: uuid(rng),
            first: ev.at,
            count: 0,
        });
        aggregate.count += 1;
        if !win.contains(ev.at) {
            continue;
        }
        let roll = rng.random_range(0.0..total);
        let namespace = if ev.object.namespace.is_empty() {
            "default".to_string()
        } else {
            ev.object.namespace.clone()
        };
        if roll < weights[0] {
            let record = receiver_record(sink, cluster, &ev, aggregate, &namespace);
            sink.log(record);
            continue;
        }
        let events_v1 = rng.random_bool(share_events_v1);
        let object = if events_v1 {
            events_k8s_io(&ev, aggregate, &namespace, resource_version)
        } else {
            core_v1(&ev, aggregate, &namespace, resource_version)
        };
        let watch_type = if aggregate.count == 1 {
            "ADDED"
        } else {
            "MODIFIED"
        };
        // The watch shapes carry only the observed time, a little after the event.
        let observed = (ev.at + between(rng, SEC / 20, 3 * SEC / 2)).min(win.end - 1);
        let mut attributes = attrs(&[
            ("k8s.resource.name", "events"),
            ("event.domain", "k8s"),
            ("event.name", &aggregate.name),
        ]);
        let body = if roll < weights[0] + weights[1] {
            json!({ "type": watch_type, "object": object }).to_string()
        } else {
            attributes.push(("type".into(), watch_type.into()));
            attributes.push(("object".into(), object.to_string()));
            String::new()
        };
        sink.log(LogRecord {
            resource: objects_resource,
            timestamp_ns: observed,
            severity_number: 0,
            severity_text: String::new(),
            body,
            attributes,
            scope_name: OBJECTS_RECEIVER_SCOPE.to_string(),
        });
    }
}

fn receiver_record(
    sink: &mut Sink,
    cluster: &str,
    ev: &KEvent,
    aggregate: &Aggregate,
    namespace: &str,
) -> LogRecord {
    let resource = sink.resource(
        "",
        attrs(&[
            ("k8s.object.kind", ev.object.kind),
            ("k8s.object.name", &ev.object.name),
            ("k8s.object.uid", &ev.object.uid),
            (
                "k8s.object.fieldpath",
                ev.object.field_path.as_deref().unwrap_or(""),
            ),
            ("k8s.object.api_version", ev.object.api_version),
            ("k8s.node.name", &ev.host),
            ("k8s.cluster.name", cluster),
        ]),
    );
    let action = if ev.reason == "Scheduled" {
        "Binding"
    } else {
        ""
    };
    let (severity_number, severity_text) = if ev.warning {
        (13, "WARN")
    } else {
        (9, "INFO")
    };
    LogRecord {
        resource,
        timestamp_ns: ev.at,
        severity_number,
        severity_text: severity_text.to_string(),
        body: ev.message.clone(),
        attributes: attrs(&[
            ("k8s.event.reason", ev.reason),
            ("k8s.event.action", action),
            ("k8s.event.start_time", &go_time(aggregate.first)),
            ("k8s.event.name", &aggregate.name),
            ("k8s.event.uid", &aggregate.uid),
            ("k8s.namespace.name", namespace),
            ("k8s.event.count", &aggregate.count.to_string()),
        ]),
        scope_name: EVENTS_RECEIVER_SCOPE.to_string(),
    }
}

fn object_reference(ev: &KEvent) -> Value {
    let mut reference = json!({
        "kind": ev.object.kind,
        "name": ev.object.name,
        "uid": ev.object.uid,
        "apiVersion": ev.object.api_version,
    });
    if !ev.object.namespace.is_empty() {
        reference["namespace"] = json!(ev.object.namespace);
    }
    if let Some(field_path) = &ev.object.field_path {
        reference["fieldPath"] = json!(field_path);
    }
    reference
}

fn metadata(aggregate: &Aggregate, namespace: &str, resource_version: u64) -> Value {
    json!({
        "name": aggregate.name,
        "namespace": namespace,
        "uid": aggregate.uid,
        "resourceVersion": resource_version.to_string(),
        "creationTimestamp": rfc3339_seconds(aggregate.first),
    })
}

fn event_type(ev: &KEvent) -> &'static str {
    if ev.warning {
        "Warning"
    } else {
        "Normal"
    }
}

fn source(ev: &KEvent) -> Value {
    if ev.host.is_empty() {
        json!({ "component": ev.component })
    } else {
        json!({ "component": ev.component, "host": ev.host })
    }
}

fn core_v1(ev: &KEvent, aggregate: &Aggregate, namespace: &str, resource_version: u64) -> Value {
    json!({
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": metadata(aggregate, namespace, resource_version),
        "involvedObject": object_reference(ev),
        "reason": ev.reason,
        "message": ev.message,
        "source": source(ev),
        "firstTimestamp": rfc3339_seconds(aggregate.first),
        "lastTimestamp": rfc3339_seconds(ev.at),
        "count": aggregate.count,
        "type": event_type(ev),
        "eventTime": null,
        "reportingComponent": ev.component,
        "reportingInstance": ev.host,
    })
}

fn events_k8s_io(
    ev: &KEvent,
    aggregate: &Aggregate,
    namespace: &str,
    resource_version: u64,
) -> Value {
    json!({
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": metadata(aggregate, namespace, resource_version),
        "eventTime": null,
        "reportingController": ev.component,
        "reportingInstance": ev.host,
        "reason": ev.reason,
        "regarding": object_reference(ev),
        "note": ev.message,
        "type": event_type(ev),
        "deprecatedSource": source(ev),
        "deprecatedFirstTimestamp": rfc3339_seconds(aggregate.first),
        "deprecatedLastTimestamp": rfc3339_seconds(ev.at),
        "deprecatedCount": aggregate.count,
    })
}
