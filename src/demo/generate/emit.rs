//! Turning the finished `World` into rows: the kubeletstats working set (every 30 s, per node
//! scrape) and the k8s_cluster limit, request and restart gauges (every 60 s), each receiver
//! with its own resource attributes; the services' request logs; the canaries' heartbeats; the
//! queued Kubernetes events; and the sorted labels. Only this module touches the `Sink`.
//! `merge` joins several clusters' datasets into one (`Variety::Wide`).

use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::StandardNormal;

use super::world::{ContainerRun, Kind, Pod, World};
use crate::demo::model::{Attributes, Dataset, Labels, LogRecord};
use crate::demo::scenarios::memory::Noise;
use crate::demo::scenarios::{
    attrs, between, datetime, events, traffic, Sink, Window, MIB, MIN, SEC,
};

impl World {
    pub(super) fn into_dataset(mut self, seed: u64) -> Dataset {
        let mut sink = Sink::default();
        let mut rng = self.child_rng();
        self.emit_metrics(&mut sink, &mut rng);
        self.emit_requests(&mut sink, &mut rng);
        self.emit_canaries(&mut sink);
        let pending = std::mem::take(&mut self.events);
        events::write(&mut sink, &mut rng, self.win, &self.cluster, pending);
        sink.dataset.logs.sort_by_key(|l| l.timestamp_ns);
        let mut incidents = std::mem::take(&mut self.incidents);
        incidents.sort_by(|a, b| (a.onset_at, &a.kind).cmp(&(b.onset_at, &b.kind)));
        sink.dataset.labels = Labels {
            seed,
            start: datetime(self.win.start),
            end: datetime(self.win.end),
            incidents,
            negatives: std::mem::take(&mut self.negatives),
        };
        sink.dataset
    }

    fn kubelet_attributes(&self, pod: &Pod, container: &ContainerRun) -> Attributes {
        attrs(&[
            ("k8s.cluster.name", &self.cluster),
            (
                "k8s.namespace.name",
                &self.workloads[pod.workload].namespace,
            ),
            ("k8s.node.name", &self.nodes[pod.node].name),
            ("k8s.pod.name", &pod.name),
            ("k8s.pod.uid", &pod.uid),
            ("k8s.container.name", &container.name),
        ])
    }

    fn cluster_attributes(&self, pod: &Pod, container: &ContainerRun) -> Attributes {
        let workload = &self.workloads[pod.workload];
        let mut attributes = attrs(&[
            ("k8s.cluster.name", &self.cluster),
            ("k8s.namespace.name", &workload.namespace),
            ("k8s.node.name", &self.nodes[pod.node].name),
            ("k8s.pod.name", &pod.name),
            ("k8s.pod.uid", &pod.uid),
            ("k8s.container.name", &container.name),
            ("container.image.name", &container.image),
            ("container.image.tag", &container.tag),
        ]);
        let mut add = |key: &str, value: String| attributes.push((key.to_string(), value));
        match workload.kind {
            Kind::Deployment => {
                add("k8s.deployment.name", workload.name.clone());
                let hash = pod
                    .template_hash
                    .as_deref()
                    .unwrap_or(&workload.template_hash);
                add("k8s.replicaset.name", format!("{}-{hash}", workload.name));
            }
            Kind::StatefulSet => add("k8s.statefulset.name", workload.name.clone()),
            Kind::DaemonSet => add("k8s.daemonset.name", workload.name.clone()),
            Kind::CronJob => {
                add("k8s.cronjob.name", workload.name.clone());
                add("k8s.job.name", pod.job.clone().unwrap_or_default());
            }
        }
        attributes
    }

    fn emit_metrics(&self, sink: &mut Sink, rng: &mut StdRng) {
        let win = self.win;
        let (cluster_interval, kubelet_interval, jitter) = match &self.wide {
            Some(wide) => (wide.cluster_interval, wide.kubelet_interval, wide.jitter),
            None => (MIN, 30 * SEC, 300_000_000),
        };
        let mut cluster_ticks = scrape_ticks(rng, win, cluster_interval, jitter);
        let mut node_ticks: Vec<Vec<i64>> = (0..self.nodes.len())
            .map(|_| scrape_ticks(rng, win, kubelet_interval, jitter))
            .collect();
        let missing_probability = match &self.wide {
            Some(wide) => {
                cluster_ticks.retain(|&t| !wide.in_gap(t));
                for ticks in &mut node_ticks {
                    ticks.retain(|&t| !wide.in_gap(t));
                }
                wide.missing_probability
            }
            None => 0.0,
        };
        let estimate = self.pods.iter().map(|p| p.containers.len()).sum::<usize>()
            * (win.len() / MIN).max(1) as usize
            * 5;
        sink.dataset.gauge_points.reserve(estimate);
        for pod in &self.pods {
            let (lo, hi) = (pod.start.max(win.start), pod.end.min(win.end));
            if lo >= hi {
                continue;
            }
            for container in &pod.containers {
                let resource = sink.resource("", self.kubelet_attributes(pod, container));
                let working_set = sink.series(
                    "container.memory.working_set",
                    "Container memory working_set",
                    "By",
                    resource,
                );
                let level = container.memory.trend.level();
                let shape = container.memory.noise_shape;
                let rho = shape.rho();
                let innovation = (1.0 - rho * rho).sqrt();
                let mut noise = 0.0;
                let (mut segment, mut down) = (0usize, 0usize);
                for &t in within(&node_ticks[pod.node], lo, hi) {
                    while segment < container.restarts.len() && container.restarts[segment] <= t {
                        segment += 1;
                    }
                    while down < container.down.len() && container.down[down].1 <= t {
                        down += 1;
                    }
                    if down < container.down.len() && container.down[down].0 <= t {
                        continue;
                    }
                    let segment_start = if segment == 0 {
                        pod.start
                    } else {
                        container.restarts[segment - 1]
                    };
                    let z: f64 = rng.sample::<f64, _>(StandardNormal).clamp(-2.5, 2.5);
                    noise = (rho * noise + innovation * z).clamp(-3.0, 3.0);
                    if missing_probability > 0.0 && rng.random_bool(missing_probability) {
                        continue;
                    }
                    let mut value = container.memory.expected(t, segment, segment_start)
                        + noise * container.memory.noise * level;
                    if let Noise::Spiky {
                        probability, size, ..
                    } = shape
                    {
                        if rng.random_bool(probability) {
                            value += size * level;
                        }
                    }
                    if let Some(limit) = container.limit {
                        value = value.min(0.995 * limit);
                    }
                    sink.point(working_set, t, value.max(4.0 * MIB).round());
                }

                let resource = sink.resource("", self.cluster_attributes(pod, container));
                let limit = match (container.limit, container.limit_as_zero) {
                    (Some(limit), _) => Some(limit),
                    (None, true) => Some(0.0),
                    (None, false) => None,
                };
                let limit_series = limit.map(|value| {
                    let series = sink.series(
                        "k8s.container.memory_limit",
                        "Maximum resource limit set for the container",
                        "By",
                        resource,
                    );
                    (series, value)
                });
                let request_series = container.request.map(|value| {
                    let series = sink.series(
                        "k8s.container.memory_request",
                        "Resource requested for the container",
                        "By",
                        resource,
                    );
                    (series, value)
                });
                let restarts = sink.series(
                    "k8s.container.restarts",
                    "How many times the container has restarted in the recent past",
                    "1",
                    resource,
                );
                let mut restarted = 0usize;
                for &t in within(&cluster_ticks, lo, hi) {
                    while restarted < container.restarts.len() && container.restarts[restarted] <= t
                    {
                        restarted += 1;
                    }
                    if missing_probability > 0.0 && rng.random_bool(missing_probability) {
                        continue;
                    }
                    if let Some((series, value)) = limit_series {
                        sink.point(series, t, value);
                    }
                    if let Some((series, value)) = request_series {
                        sink.point(series, t, value);
                    }
                    let count = container.initial_restarts as usize + restarted;
                    sink.point(restarts, t, count as f64);
                }
            }
        }
    }

    fn emit_requests(&self, sink: &mut Sink, rng: &mut StdRng) {
        for svc in &self.services {
            let pods: Vec<(i64, i64, u32)> = self
                .pods
                .iter()
                .filter(|p| p.workload == svc.workload)
                .map(|pod| {
                    let resource = sink.resource(
                        &svc.name,
                        attrs(&[
                            ("service.name", &svc.name),
                            ("k8s.cluster.name", &self.cluster),
                            ("k8s.namespace.name", &svc.namespace),
                            ("k8s.node.name", &self.nodes[pod.node].name),
                            ("k8s.pod.name", &pod.name),
                            ("k8s.pod.uid", &pod.uid),
                            ("k8s.container.name", &pod.containers[0].name),
                            ("k8s.deployment.name", &svc.name),
                        ]),
                    );
                    (pod.start, pod.end, resource)
                })
                .collect();
            traffic::emit_requests(sink, rng, self.win, svc, &pods);
        }
    }

    fn emit_canaries(&self, sink: &mut Sink) {
        for canary in &self.canaries {
            let resource = sink.resource(
                &canary.name,
                attrs(&[
                    ("service.name", &canary.name),
                    ("k8s.cluster.name", &self.cluster),
                ]),
            );
            for &t in &canary.beats {
                sink.log(LogRecord {
                    resource,
                    timestamp_ns: t,
                    severity_number: 9,
                    severity_text: "INFO".to_string(),
                    body: "heartbeat".to_string(),
                    attributes: attrs(&[("canary.name", &canary.name)]),
                    scope_name: "synthetics.heartbeat".to_string(),
                });
            }
        }
    }
}

/// Several clusters' datasets as one: indices shifted, logs in time order, labels joined
/// (incidents sorted as in one cluster). All share the window and the seed.
pub(super) fn merge(datasets: Vec<Dataset>) -> Dataset {
    let mut merged = Dataset::default();
    let mut incidents = Vec::new();
    for (i, dataset) in datasets.into_iter().enumerate() {
        let resources = merged.resources.len() as u32;
        let series = merged.gauge_series.len() as u32;
        merged.resources.extend(dataset.resources);
        merged
            .gauge_series
            .extend(dataset.gauge_series.into_iter().map(|mut s| {
                s.resource += resources;
                s
            }));
        merged
            .gauge_points
            .extend(dataset.gauge_points.into_iter().map(|mut p| {
                p.series += series;
                p
            }));
        merged.logs.extend(dataset.logs.into_iter().map(|mut l| {
            l.resource += resources;
            l
        }));
        if i == 0 {
            merged.labels = Labels {
                incidents: Vec::new(),
                negatives: Vec::new(),
                ..dataset.labels.clone()
            };
        }
        incidents.extend(dataset.labels.incidents);
        merged.labels.negatives.extend(dataset.labels.negatives);
    }
    merged.logs.sort_by_key(|l| l.timestamp_ns);
    incidents.sort_by(|a, b| (a.onset_at, &a.kind).cmp(&(b.onset_at, &b.kind)));
    merged.labels.incidents = incidents;
    merged
}

/// Scrape times every `interval` with a fixed phase and up to ±`jitter` (300 ms by default),
/// inside `win`.
fn scrape_ticks(rng: &mut StdRng, win: Window, interval: i64, jitter: i64) -> Vec<i64> {
    let phase = between(rng, 0, interval);
    let mut nominal = win.start - win.start.rem_euclid(interval) + phase;
    let mut ticks = Vec::with_capacity((win.len() / interval) as usize + 2);
    while nominal < win.end + SEC {
        let t = nominal + between(rng, -jitter, jitter);
        if win.contains(t) {
            ticks.push(t);
        }
        nominal += interval;
    }
    ticks
}

/// The ascending `ticks` in `[lo, hi)`.
fn within(ticks: &[i64], lo: i64, hi: i64) -> &[i64] {
    let a = ticks.partition_point(|&t| t < lo);
    let b = ticks.partition_point(|&t| t < hi);
    &ticks[a..b]
}
