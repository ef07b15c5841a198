//! The demo data generator: a synthetic Kubernetes cluster as the OpenTelemetry Collector's
//! clickhouseexporter would store it, plus the truth about it (`Labels`), so backtests can score
//! the detectors.
//!
//! What it emits (`reference/telemetry.md` §2–§4):
//! - kubeletstats `container.memory.working_set` every 30 s per running container, and
//!   k8s_cluster `k8s.container.memory_limit` / `memory_request` / `restarts` every 60 s, each
//!   receiver with its own resource attribute set; scrape times jitter by up to 300 ms;
//! - application request logs (one record per request) per service;
//! - Kubernetes events in all three shapes, mixed per event (`scenarios::events`);
//! - canary heartbeats (`scenarios::canary`).
//!
//! Everything is drawn from one `StdRng` seeded with `DemoParams::seed`: the same parameters
//! give the same `Dataset`. Names, sizes, slopes, rates and timings all come from the seed, so a
//! detector tuned on one seed is judged on clusters it has not seen.
//!
//! Label conventions (what backtests score against):
//! - `memory_leak`: onset = when the working set starts to climb; impact = the OOM kill (the
//!   working set reaches the limit). Half the leaks leak again after the restart; **every** OOM
//!   inside the data is its own incident (the later ones with onset = the restart after the
//!   previous OOM).
//! - `crash_loop`: onset = first crash; impact = onset + 15 min (when `KubePodCrashLooping`
//!   would page). The loop lasts until the end of the data.
//! - `restart_rate_rise`: onset = just before the first liveness failure of the new regime;
//!   impact = the third restart after onset.
//! - `error_burst`: impact = onset. `error_creep`: impact = when the ratio reaches 5× baseline.
//! - `canary_stopped`: onset = the last beat (rounded up to the second); impact = onset +
//!   period + grace, with grace = max(period, 60 s) (`scenarios::canary::grace`). A resumed
//!   canary says so in its description.
//!
//! Incident entities: memory and restart → cluster/namespace/pod/container, error rate →
//! cluster/namespace/service, heartbeat → cluster/canary. Negatives that span a whole workload
//! (rolling update, CronJob runs) use cluster/namespace/container.
//!
//! Hard negatives (`labels.negatives`, signal = the detector each could fool): GC sawtooth,
//! flat-but-high usage, growth without a limit, rolling updates (with a first image pull that
//! fails: `Failed` and a Normal "Back-off pulling image" `BackOff`, not a restart), completed
//! CronJob pods, one isolated restart, chronically high but flat errors, traffic swings at a
//! constant error ratio, quiet services, a jittered canary, a canary with one late beat.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use time::OffsetDateTime;

use super::model::{Attributes, Dataset, Incident, Labels, LogRecord, Negative};

#[path = "scenarios/mod.rs"]
mod scenarios;

use scenarios::canary::{self, Canary, Role};
use scenarios::events::{self, KEvent, ObjRef};
use scenarios::memory::{MemoryModel, Ripple, Trend};
use scenarios::names::{self, random_string, uuid, Lang, NameBook, HEX, SAFE};
use scenarios::traffic::{self, ErrorShape, Service, TrafficShape};
use scenarios::{
    attrs, between, datetime, human_bytes, human_duration, log_uniform, uniform, Sink, Window,
    HOUR, MIB, MIN, SEC,
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoParams {
    pub seed: u64,
    /// Length of the data, ending at `end`.
    pub hours: f64,
    /// Exclusive end of the data (callers floor it to a minute).
    pub end: OffsetDateTime,
    /// Size of the cluster: 1.0 ≈ 250 containers. Scenario counts do not scale.
    pub scale: f64,
}

impl Default for DemoParams {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        let end = now
            .replace_nanosecond(0)
            .and_then(|t| t.replace_second(0))
            .expect("zero is a valid second and nanosecond");
        Self {
            seed: 42,
            hours: 12.0,
            end,
            scale: 1.0,
        }
    }
}

/// Generates the dataset for `params`: deterministic per parameters.
///
/// Scenario timings assume a window of several hours (12 h by default); in a window too short to
/// hold a scenario's required healthy history and growth, that scenario is left out (and so is
/// its label). Non-positive or non-finite `hours`/`scale` fall back to the defaults.
pub fn generate(params: &DemoParams) -> Dataset {
    let hours = if params.hours.is_finite() && params.hours > 0.0 {
        params.hours
    } else {
        12.0
    };
    let scale = if params.scale.is_finite() && params.scale > 0.0 {
        params.scale
    } else {
        1.0
    };
    let end = params.end.unix_timestamp_nanos() as i64;
    let start = end - (hours * HOUR as f64).round() as i64;
    let mut world = World::new(params.seed, Window { start, end }, scale);
    world.build_topology();
    world.inject_scenarios();
    world.into_dataset(params.seed)
}

/// Lifetime end of pods that outlive the data.
const FAR_FUTURE: i64 = i64::MAX / 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
}

struct Workload {
    kind: Kind,
    name: String,
    namespace: String,
    /// Pod-template hash of the current ReplicaSet (Deployments).
    template_hash: String,
    /// Claimed by a scenario: no second scenario touches it.
    busy: bool,
}

#[derive(Clone)]
struct ContainerRun {
    name: String,
    image: String,
    tag: String,
    /// The process the kernel OOM-kills (for node `OOMKilling` events).
    process: String,
    main: bool,
    limit: Option<f64>,
    /// Without a limit: emit a 0-valued limit series instead of none.
    limit_as_zero: bool,
    request: Option<f64>,
    memory: MemoryModel,
    /// Restart count the pod already had when the data starts.
    initial_restarts: u32,
    /// Times the container was started again, ascending.
    restarts: Vec<i64>,
    /// Intervals in which the container was not running (no working-set samples), ascending.
    down: Vec<(i64, i64)>,
}

struct Pod {
    workload: usize,
    name: String,
    uid: String,
    node: usize,
    ip: String,
    start: i64,
    end: i64,
    /// The ReplicaSet's pod-template hash (Deployments).
    template_hash: Option<String>,
    /// The Job that ran this pod (CronJobs).
    job: Option<String>,
    containers: Vec<ContainerRun>,
}

struct Node {
    name: String,
    uid: String,
}

struct World {
    rng: StdRng,
    win: Window,
    scale: f64,
    cluster: String,
    infra_namespace: String,
    app_namespaces: Vec<String>,
    nodes: Vec<Node>,
    org: String,
    registry: String,
    sidecar: (&'static str, &'static str, &'static str),
    sidecar_tag: String,
    /// Local hour of the traffic peak for this cluster's users.
    peak_hour: f64,
    names: NameBook,
    object_uids: BTreeMap<String, String>,
    /// Whether a rolling update already showed an image-pull failure.
    pull_failure_shown: bool,
    workloads: Vec<Workload>,
    pods: Vec<Pod>,
    services: Vec<Service>,
    canaries: Vec<Canary>,
    events: Vec<KEvent>,
    incidents: Vec<Incident>,
    negatives: Vec<Negative>,
}

type Entity = BTreeMap<String, String>;

fn entity(pairs: &[(&str, &str)]) -> Entity {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn round_to_16_mib(bytes: f64) -> f64 {
    (bytes / (16.0 * MIB)).round().max(1.0) * 16.0 * MIB
}

impl World {
    fn new(seed: u64, win: Window, scale: f64) -> World {
        let mut rng = StdRng::seed_from_u64(seed);
        let cluster = names::cluster_name(&mut rng);
        let infra_namespace = names::pick(&mut rng, names::INFRA_NAMESPACES).to_string();
        let app_count = rng.random_range(3..=5);
        let app_namespaces = names::pick_distinct(&mut rng, names::APP_NAMESPACES, app_count)
            .into_iter()
            .map(String::from)
            .collect();
        let node_count = ((rng.random_range(5..=8) as f64 * scale).round() as usize).clamp(3, 64);
        let node_names = names::node_names(&mut rng, &cluster, node_count);
        let nodes = node_names
            .into_iter()
            .map(|name| Node {
                name,
                uid: uuid(&mut rng),
            })
            .collect();
        let org = names::pick(&mut rng, names::ORGS).to_string();
        let registry = match rng.random_range(0..4) {
            0 => format!("ghcr.io/{org}"),
            1 => format!("registry.gitlab.com/{org}/platform"),
            2 => format!("quay.io/{org}"),
            _ => format!("harbor.{org}.internal/apps"),
        };
        let sidecar = *names::pick(&mut rng, names::SIDECARS);
        let sidecar_tag = names::version(&mut rng);
        let peak_hour = uniform(&mut rng, 0.0, 24.0);
        World {
            rng,
            win,
            scale,
            cluster,
            infra_namespace,
            app_namespaces,
            nodes,
            org,
            registry,
            sidecar,
            sidecar_tag,
            peak_hour,
            names: NameBook::default(),
            object_uids: BTreeMap::new(),
            pull_failure_shown: false,
            workloads: Vec::new(),
            pods: Vec::new(),
            services: Vec::new(),
            canaries: Vec::new(),
            events: Vec::new(),
            incidents: Vec::new(),
            negatives: Vec::new(),
        }
    }

    /// An independent stream for one scenario, so scenarios do not shift each other's draws.
    fn child_rng(&mut self) -> StdRng {
        StdRng::seed_from_u64(self.rng.random())
    }

    /// A stable UID per named object (ReplicaSets, Jobs, CronJobs …).
    fn object_uid(&mut self, key: &str) -> String {
        if let Some(uid) = self.object_uids.get(key) {
            return uid.clone();
        }
        let uid = uuid(&mut self.rng);
        self.object_uids.insert(key.to_string(), uid.clone());
        uid
    }

    // ---------------------------------------------------------------- topology

    fn build_topology(&mut self) {
        self.add_daemonsets();
        self.add_statefulsets();
        self.add_deployments();
    }

    fn push_workload(&mut self, kind: Kind, name: String, namespace: String) -> usize {
        let template_hash = random_string(&mut self.rng, HEX, 10);
        self.workloads.push(Workload {
            kind,
            name,
            namespace,
            template_hash,
            busy: false,
        });
        self.workloads.len() - 1
    }

    /// A pod that exists from long before the data until after it.
    fn push_long_lived_pod(
        &mut self,
        workload: usize,
        name: String,
        node: usize,
        template_hash: Option<String>,
        containers: Vec<ContainerRun>,
    ) -> usize {
        let start = self.win.start - between(&mut self.rng, 2 * HOUR, 40 * 24 * HOUR);
        self.push_pod(
            workload,
            name,
            node,
            template_hash,
            None,
            containers,
            start,
            FAR_FUTURE,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn push_pod(
        &mut self,
        workload: usize,
        name: String,
        node: usize,
        template_hash: Option<String>,
        job: Option<String>,
        containers: Vec<ContainerRun>,
        start: i64,
        end: i64,
    ) -> usize {
        let uid = uuid(&mut self.rng);
        let ip = names::pod_ip(&mut self.rng);
        self.pods.push(Pod {
            workload,
            name,
            uid,
            node,
            ip,
            start,
            end,
            template_hash,
            job,
            containers,
        });
        self.pods.len() - 1
    }

    /// A healthy container: flat or slowly wandering well below its limit (if it has one).
    #[allow(clippy::too_many_arguments)]
    fn new_container(
        &mut self,
        name: &str,
        image: &str,
        tag: &str,
        process: &str,
        main: bool,
        sizes_mib: &[f64],
        ripple_amplitude: f64,
    ) -> ContainerRun {
        let rng = &mut self.rng;
        let size = *names::pick(rng, sizes_mib) * MIB;
        let level = size * uniform(rng, 0.2, 0.55);
        let trend = if rng.random_bool(0.5) {
            Trend::Flat { level }
        } else {
            Trend::Wander {
                level,
                waves: [
                    (
                        uniform(rng, 0.02, 0.1),
                        between(rng, 2 * HOUR, 8 * HOUR),
                        between(rng, 0, 8 * HOUR),
                    ),
                    (
                        uniform(rng, 0.01, 0.05),
                        between(rng, 20 * MIN, 2 * HOUR),
                        between(rng, 0, 2 * HOUR),
                    ),
                ],
            }
        };
        let memory = MemoryModel {
            trend,
            noise: uniform(rng, 0.004, 0.02),
            ripple: Ripple {
                amplitude: ripple_amplitude,
                period: between(rng, MIN, 12 * MIN),
                phase: between(rng, 0, 12 * MIN),
            },
            warm_floor: uniform(rng, 0.4, 0.75),
            warm_tau: between(rng, 3 * MIN, 20 * MIN),
        };
        let limit = rng.random_bool(0.85).then_some(size);
        let request = rng.random_bool(0.95).then(|| match limit {
            Some(limit) => round_to_16_mib(limit * uniform(rng, 0.4, 1.0)),
            None => round_to_16_mib(level * uniform(rng, 0.8, 1.5)),
        });
        let initial_restarts = if rng.random_bool(0.1) {
            rng.random_range(1..=4)
        } else {
            0
        };
        ContainerRun {
            name: name.to_string(),
            image: image.to_string(),
            tag: tag.to_string(),
            process: process.to_string(),
            main,
            limit,
            limit_as_zero: rng.random_bool(0.5),
            request,
            memory,
            initial_restarts,
            restarts: Vec::new(),
            down: Vec::new(),
        }
    }

    /// Another replica of the same container spec: same limits, its own level and noise.
    fn replica_of(&mut self, container: &ContainerRun) -> ContainerRun {
        let rng = &mut self.rng;
        let mut replica = container.clone();
        replica.memory.trend = container.memory.trend.scaled(uniform(rng, 0.88, 1.12));
        replica.memory.ripple.phase = between(rng, 0, replica.memory.ripple.period);
        replica.memory.noise = uniform(rng, 0.004, 0.02);
        replica.initial_restarts = if rng.random_bool(0.1) {
            rng.random_range(1..=4)
        } else {
            0
        };
        replica
    }

    fn add_daemonsets(&mut self) {
        let count = self.rng.random_range(2..=3);
        for (base, image, process) in names::pick_distinct(&mut self.rng, names::DAEMONSETS, count)
        {
            let name = self.names.unique(base);
            let tag = format!("v{}", names::version(&mut self.rng));
            let namespace = self.infra_namespace.clone();
            let w = self.push_workload(Kind::DaemonSet, name.clone(), namespace);
            for node in 0..self.nodes.len() {
                let ripple = uniform(&mut self.rng, 0.0, 0.02);
                let container = self.new_container(
                    &name,
                    image,
                    &tag,
                    process,
                    true,
                    &[128.0, 200.0, 256.0, 512.0],
                    ripple,
                );
                let pod_name = format!("{name}-{}", random_string(&mut self.rng, SAFE, 5));
                self.push_long_lived_pod(w, pod_name, node, None, vec![container]);
            }
        }
    }

    fn add_statefulsets(&mut self) {
        let count = self.rng.random_range(2..=3);
        for (base, process) in names::pick_distinct(&mut self.rng, names::STATEFUL, count) {
            let name = self.names.unique(base);
            let namespace = names::pick(&mut self.rng, &self.app_namespaces).clone();
            let image = format!("docker.io/bitnami/{base}");
            let tag = names::version(&mut self.rng);
            let replicas = self.rng.random_range(1..=3);
            let exporter = self.rng.random_bool(0.5);
            let w = self.push_workload(Kind::StatefulSet, name.clone(), namespace);
            let ripple = if process == "java" {
                uniform(&mut self.rng, 0.02, 0.05)
            } else {
                uniform(&mut self.rng, 0.0, 0.01)
            };
            let first = self.new_container(
                &name,
                &image,
                &tag,
                process,
                true,
                &[1024.0, 2048.0, 3072.0, 4096.0, 8192.0],
                ripple,
            );
            let sidecar = exporter.then(|| {
                self.new_container(
                    "metrics",
                    &format!("quay.io/prometheuscommunity/{base}-exporter"),
                    "v0.15.0",
                    &format!("{base}_exporter"),
                    false,
                    &[64.0, 128.0],
                    0.0,
                )
            });
            for ordinal in 0..replicas {
                let mut containers = vec![if ordinal == 0 {
                    first.clone()
                } else {
                    self.replica_of(&first)
                }];
                if let Some(sidecar) = &sidecar {
                    containers.push(self.replica_of(sidecar));
                }
                let node = self.rng.random_range(0..self.nodes.len());
                self.push_long_lived_pod(w, format!("{name}-{ordinal}"), node, None, containers);
            }
        }
    }

    fn add_deployments(&mut self) {
        let target = (250.0 * self.scale).round() as usize;
        let service_count = ((16.0 * self.scale).round() as usize).max(10);
        // Enough workloads for every scenario even at a small scale.
        let minimum = service_count.max(26);
        let mut containers: usize = self.pods.iter().map(|p| p.containers.len()).sum();
        let mut index = 0;
        while containers < target || index < minimum {
            let serves = index < service_count;
            let (name, word) = self.names.deployment(&mut self.rng, serves);
            let namespace = names::pick(&mut self.rng, &self.app_namespaces).clone();
            let lang = Lang::random(&mut self.rng);
            let replicas = *names::pick(&mut self.rng, &[1, 2, 2, 3, 3, 4]);
            let has_sidecar = self.rng.random_bool(0.35);
            let image = format!("{}/{name}", self.registry);
            let tag = names::version(&mut self.rng);
            let process = lang.process(&name);
            let sizes: &[f64] = match lang {
                Lang::Java | Lang::Dotnet => &[768.0, 1024.0, 1536.0, 2048.0, 3072.0, 4096.0],
                _ => &[256.0, 384.0, 512.0, 768.0, 1024.0, 1536.0],
            };
            let w = self.push_workload(Kind::Deployment, name.clone(), namespace.clone());
            let hash = self.workloads[w].template_hash.clone();
            let ripple = lang.gc_ripple(&mut self.rng);
            let main = self.new_container(&name, &image, &tag, &process, true, sizes, ripple);
            let (sidecar_name, sidecar_image, sidecar_process) = self.sidecar;
            let sidecar_tag = self.sidecar_tag.clone();
            let sidecar = has_sidecar.then(|| {
                self.new_container(
                    sidecar_name,
                    sidecar_image,
                    &sidecar_tag,
                    sidecar_process,
                    false,
                    &[64.0, 128.0, 256.0],
                    0.01,
                )
            });
            for replica in 0..replicas {
                let mut pod_containers = vec![if replica == 0 {
                    main.clone()
                } else {
                    self.replica_of(&main)
                }];
                if let Some(sidecar) = &sidecar {
                    pod_containers.push(self.replica_of(sidecar));
                }
                containers += pod_containers.len();
                let pod_name = format!("{name}-{hash}-{}", random_string(&mut self.rng, SAFE, 5));
                let node = self.rng.random_range(0..self.nodes.len());
                self.push_long_lived_pod(w, pod_name, node, Some(hash.clone()), pod_containers);
            }
            if serves {
                let rng = &mut self.rng;
                let service = Service {
                    name: name.clone(),
                    namespace,
                    workload: w,
                    rate_per_minute: log_uniform(rng, 5.0, 100.0),
                    diurnal_amplitude: uniform(rng, 0.15, 0.5),
                    diurnal_peak_hour: (self.peak_hour + uniform(rng, -2.0, 2.0)).rem_euclid(24.0),
                    baseline_error_ratio: log_uniform(rng, 0.001, 0.02),
                    errors: ErrorShape::Steady,
                    traffic: TrafficShape::Diurnal,
                    routes: traffic::routes(rng, &word),
                    logger: lang.logger(rng, &self.org, &name),
                    latency_ms: log_uniform(rng, 4.0, 120.0),
                    role: None,
                };
                self.services.push(service);
            }
            index += 1;
        }
    }

    // ---------------------------------------------------------------- events

    fn pod_object(&self, p: usize, c: Option<usize>) -> ObjRef {
        let pod = &self.pods[p];
        ObjRef {
            kind: "Pod",
            api_version: "v1",
            name: pod.name.clone(),
            namespace: self.workloads[pod.workload].namespace.clone(),
            uid: pod.uid.clone(),
            field_path: c.map(|c| format!("spec.containers{{{}}}", pod.containers[c].name)),
        }
    }

    fn kubelet_event(
        &mut self,
        at: i64,
        p: usize,
        c: Option<usize>,
        reason: &'static str,
        message: String,
        warning: bool,
    ) {
        let object = self.pod_object(p, c);
        let host = self.nodes[self.pods[p].node].name.clone();
        self.events.push(KEvent {
            at,
            object,
            reason,
            message,
            warning,
            component: "kubelet",
            host,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn controller_event(
        &mut self,
        at: i64,
        kind: &'static str,
        api_version: &'static str,
        name: &str,
        namespace: &str,
        reason: &'static str,
        message: String,
        component: &'static str,
    ) {
        let uid = self.object_uid(&format!("{kind}/{namespace}/{name}"));
        self.events.push(KEvent {
            at,
            object: ObjRef {
                kind,
                api_version,
                name: name.to_string(),
                namespace: namespace.to_string(),
                uid,
                field_path: None,
            },
            reason,
            message,
            warning: false,
            component,
            host: String::new(),
        });
    }

    /// Pulled (or Pulling + Pulled), Created, Started for one container start at `at`.
    fn container_start_events(&mut self, at: i64, p: usize, c: usize, fresh_pull: bool) {
        let container = &self.pods[p].containers[c];
        let image = format!("{}:{}", container.image, container.tag);
        let name = container.name.clone();
        let mut t = at;
        if fresh_pull {
            self.kubelet_event(
                t,
                p,
                Some(c),
                "Pulling",
                format!("Pulling image \"{image}\""),
                false,
            );
            let pull = between(&mut self.rng, 800 * SEC / 1000, 9 * SEC);
            let bytes = self.rng.random_range(20_000_000..600_000_000u64);
            t += pull;
            let seconds = pull as f64 / SEC as f64;
            self.kubelet_event(
                t,
                p,
                Some(c),
                "Pulled",
                format!(
                    "Successfully pulled image \"{image}\" in {seconds:.3}s ({seconds:.3}s including waiting). Image size: {bytes} bytes."
                ),
                false,
            );
        } else {
            self.kubelet_event(
                t,
                p,
                Some(c),
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
                false,
            );
        }
        t += between(&mut self.rng, 50_000_000, 400_000_000);
        self.kubelet_event(
            t,
            p,
            Some(c),
            "Created",
            format!("Created container {name}"),
            false,
        );
        t += between(&mut self.rng, 100_000_000, 900_000_000);
        self.kubelet_event(
            t,
            p,
            Some(c),
            "Started",
            format!("Started container {name}"),
            false,
        );
    }

    /// Scheduled, then the start events of every container, for a pod created in the data.
    fn pod_start_events(&mut self, p: usize, fresh_pull: bool) {
        self.pod_scheduled_event(p);
        for c in 0..self.pods[p].containers.len() {
            let at = self.pods[p].start + between(&mut self.rng, SEC / 2, 3 * SEC);
            self.container_start_events(at, p, c, fresh_pull);
        }
    }

    fn pod_scheduled_event(&mut self, p: usize) {
        let pod = &self.pods[p];
        let message = format!(
            "Successfully assigned {}/{} to {}",
            self.workloads[pod.workload].namespace, pod.name, self.nodes[pod.node].name
        );
        let object = self.pod_object(p, None);
        let start = pod.start;
        self.events.push(KEvent {
            at: start,
            object,
            reason: "Scheduled",
            message,
            warning: false,
            component: "default-scheduler",
            host: String::new(),
        });
    }

    /// Pulled, Created, then `Failed` instead of `Started`: the runtime could not start the
    /// container (StartError), which still counts as a restart.
    fn container_start_failed_events(&mut self, at: i64, p: usize, c: usize) {
        let container = &self.pods[p].containers[c];
        let image = format!("{}:{}", container.image, container.tag);
        let name = container.name.clone();
        self.kubelet_event(
            at,
            p,
            Some(c),
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
            false,
        );
        self.kubelet_event(
            at + SEC / 10,
            p,
            Some(c),
            "Created",
            format!("Created container {name}"),
            false,
        );
        self.kubelet_event(
            at + SEC / 5,
            p,
            Some(c),
            "Failed",
            format!("Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/app/{name}\": permission denied: unknown"),
            true,
        );
    }

    /// A first image pull that times out (Failed ×2, sometimes the Normal "Back-off pulling
    /// image" BackOff, which is not a restart); returns when the retry starts.
    fn image_pull_failure_events(&mut self, p: usize, c: usize, from: i64) -> i64 {
        let container = &self.pods[p].containers[c];
        let image = format!("{}:{}", container.image, container.tag);
        let (host, path) = container
            .image
            .split_once('/')
            .unwrap_or(("docker.io", &container.image));
        let manifest = format!("https://{host}/v2/{path}/manifests/{}", container.tag);
        let mut t = from + between(&mut self.rng, SEC / 2, 2 * SEC);
        self.kubelet_event(
            t,
            p,
            Some(c),
            "Pulling",
            format!("Pulling image \"{image}\""),
            false,
        );
        t += between(&mut self.rng, 20 * SEC, 35 * SEC);
        self.kubelet_event(
            t,
            p,
            Some(c),
            "Failed",
            format!("Failed to pull image \"{image}\": rpc error: code = DeadlineExceeded desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"{manifest}\": dial tcp: i/o timeout"),
            true,
        );
        self.kubelet_event(
            t,
            p,
            Some(c),
            "Failed",
            "Error: ErrImagePull".to_string(),
            true,
        );
        if self.rng.random_bool(0.6) {
            t += SEC;
            self.kubelet_event(
                t,
                p,
                Some(c),
                "BackOff",
                format!("Back-off pulling image \"{image}\""),
                false,
            );
            self.kubelet_event(
                t,
                p,
                Some(c),
                "Failed",
                "Error: ImagePullBackOff".to_string(),
                true,
            );
        }
        t + between(&mut self.rng, 10 * SEC, 40 * SEC)
    }

    fn liveness_message(&self, p: usize, timeout: bool) -> String {
        let ip = &self.pods[p].ip;
        if timeout {
            format!("Liveness probe failed: Get \"http://{ip}:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
        } else {
            "Liveness probe failed: HTTP probe failed with statuscode: 503".to_string()
        }
    }

    /// Three liveness failures ten seconds apart, the kill, and the restart at `restart`.
    fn liveness_restart_events(&mut self, restart: i64, p: usize, c: usize, timeout: bool) {
        let message = self.liveness_message(p, timeout);
        for j in 0..3 {
            let at = restart - 35 * SEC + j * 10 * SEC + between(&mut self.rng, 0, SEC);
            self.kubelet_event(at, p, Some(c), "Unhealthy", message.clone(), true);
        }
        let name = self.pods[p].containers[c].name.clone();
        self.kubelet_event(
            restart - 6 * SEC,
            p,
            Some(c),
            "Killing",
            format!("Container {name} failed liveness probe, will be restarted"),
            false,
        );
        let started = restart + between(&mut self.rng, SEC / 5, SEC);
        self.container_start_events(started, p, c, false);
    }

    fn backoff_message(&self, p: usize, c: usize) -> String {
        let pod = &self.pods[p];
        format!(
            "Back-off restarting failed container {} in pod {}_{}({})",
            pod.containers[c].name, pod.name, self.workloads[pod.workload].namespace, pod.uid
        )
    }

    /// node-problem-detector's kernel-monitor event for an OOM kill in a container.
    fn node_oom_event(&mut self, at: i64, p: usize, c: usize) {
        let pod = &self.pods[p];
        let container = &pod.containers[c];
        let node = &self.nodes[pod.node];
        let rss_kb = (container.limit.unwrap_or(512.0 * MIB) / 1024.0 * 0.97) as u64;
        let rng = &mut self.rng;
        let message = format!(
            "Memory cgroup out of memory: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:{}kB, shmem-rss:0kB, UID:{} pgtables:{}kB oom_score_adj:{} pod {} container {}",
            rng.random_range(1000..60000),
            container.process,
            rss_kb * rng.random_range(2..5),
            rss_kb,
            rng.random_range(1000..40000),
            *names::pick(rng, &[0, 1000, 1001, 65532]),
            rng.random_range(1000..9000),
            rng.random_range(900..1000),
            pod.name,
            container.name,
        );
        let event = KEvent {
            at,
            object: ObjRef {
                kind: "Node",
                api_version: "v1",
                name: node.name.clone(),
                namespace: String::new(),
                uid: node.uid.clone(),
                field_path: None,
            },
            reason: "OOMKilling",
            message,
            warning: true,
            component: "kernel-monitor",
            host: node.name.clone(),
        };
        self.events.push(event);
    }

    // ---------------------------------------------------------------- scenarios

    fn inject_scenarios(&mut self) {
        for _ in 0..self.rng.random_range(3..=5) {
            self.inject_memory_leak();
        }
        for _ in 0..self.rng.random_range(1..=3) {
            self.inject_crash_loop();
        }
        for _ in 0..self.rng.random_range(1..=2) {
            self.inject_restart_rate_rise();
        }
        for _ in 0..self.rng.random_range(1..=2) {
            self.inject_gc_sawtooth();
        }
        self.inject_flat_high();
        self.inject_unlimited_growth();
        self.inject_isolated_restart();
        for _ in 0..self.rng.random_range(1..=2) {
            self.inject_rolling_update();
        }
        self.add_cronjobs();
        self.assign_service_roles();
        self.add_canaries();
        self.add_background_events();
    }

    /// A random container of a free workload of one of `kinds` whose pod spans the data;
    /// claims the workload.
    fn pick_container(&mut self, kinds: &[Kind], main_only: bool) -> Option<(usize, usize)> {
        let mut candidates = Vec::new();
        for (p, pod) in self.pods.iter().enumerate() {
            let workload = &self.workloads[pod.workload];
            if workload.busy
                || !kinds.contains(&workload.kind)
                || pod.start >= self.win.start
                || pod.end <= self.win.end
            {
                continue;
            }
            for (c, container) in pod.containers.iter().enumerate() {
                if !main_only || container.main {
                    candidates.push((p, c));
                }
            }
        }
        let &(p, c) = candidates.choose(&mut self.rng)?;
        let w = self.pods[p].workload;
        self.workloads[w].busy = true;
        Some((p, c))
    }

    fn container_entity(&self, p: usize, c: usize) -> Entity {
        let pod = &self.pods[p];
        entity(&[
            ("cluster", &self.cluster),
            ("namespace", &self.workloads[pod.workload].namespace),
            ("pod", &pod.name),
            ("container", &pod.containers[c].name),
        ])
    }

    fn incident(
        &mut self,
        signal: &str,
        kind: &str,
        entity: Entity,
        onset: i64,
        impact: Option<i64>,
        description: String,
    ) {
        self.incidents.push(Incident {
            signal: signal.to_string(),
            kind: kind.to_string(),
            entity,
            onset_at: datetime(onset),
            impact_at: impact.map(datetime),
            resolved_at: None,
            description,
        });
    }

    fn negative(&mut self, signal: &str, kind: &str, entity: Entity, description: String) {
        self.negatives.push(Negative {
            signal: signal.to_string(),
            kind: kind.to_string(),
            entity,
            description,
        });
    }

    /// Records a restart of container `c` at `restart`, not running since `down_from`.
    fn restart_container(&mut self, p: usize, c: usize, down_from: i64, restart: i64) {
        let container = &mut self.pods[p].containers[c];
        container.restarts.push(restart);
        container.restarts.sort_unstable();
        container.down.push((down_from, restart));
        container.down.sort_unstable();
    }

    fn ensure_limit(&mut self, p: usize, c: usize, sizes_mib: &[f64]) -> f64 {
        let size = *names::pick(&mut self.rng, sizes_mib) * MIB;
        let container = &mut self.pods[p].containers[c];
        let limit = *container.limit.get_or_insert(size);
        if container.request.is_some_and(|r| r > limit) {
            container.request = Some(limit);
        }
        limit
    }

    /// Working set climbs from a healthy level to the limit; the OOM kill restarts the
    /// container (restart gauge +1, working set back to baseline). Half of them leak again.
    fn inject_memory_leak(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let win = self.win;
        let latest_impact = win.end - 20 * MIN;
        let earliest_onset = win.start + (2 * HOUR).min(win.len() / 5);
        let room = latest_impact - earliest_onset;
        if room < 45 * MIN {
            return;
        }
        let growth = (log_uniform(&mut rng, 1.5 * HOUR as f64, 8.0 * HOUR as f64) as i64).min(room);
        let impact_lo = (win.start + win.len() / 2)
            .max(earliest_onset + growth)
            .min(latest_impact);
        let impact = between(&mut rng, impact_lo, latest_impact + 1);
        let onset = impact - growth;
        let limit = self.ensure_limit(p, c, &[512.0, 768.0, 1024.0, 1536.0, 2048.0]);
        let level = limit * uniform(&mut rng, 0.25, 0.55);
        let accel = if rng.random_bool(0.4) {
            uniform(&mut rng, 0.15, 0.5)
        } else {
            uniform(&mut rng, 0.0, 0.05)
        };
        let leaks_again = rng.random_bool(0.5);
        let mut starts = vec![Some(onset)];
        let mut kills = Vec::new();
        let mut oom = impact;
        loop {
            let restart = oom + between(&mut rng, SEC, 12 * SEC);
            kills.push((oom, restart));
            if !leaks_again {
                starts.push(None);
                break;
            }
            let next = restart + between(&mut rng, 0, 10 * MIN);
            starts.push(Some(next));
            if next + growth >= win.end - 5 * MIN {
                break;
            }
            oom = next + growth;
        }
        {
            let container = &mut self.pods[p].containers[c];
            container.memory = MemoryModel {
                trend: Trend::Leak {
                    level,
                    limit,
                    growth,
                    accel,
                    starts: starts.clone(),
                },
                noise: uniform(&mut rng, 0.004, 0.01),
                ripple: Ripple {
                    amplitude: uniform(&mut rng, 0.01, 0.03),
                    period: between(&mut rng, 2 * MIN, 10 * MIN),
                    phase: between(&mut rng, 0, 10 * MIN),
                },
                warm_floor: uniform(&mut rng, 0.5, 0.8),
                warm_tau: between(&mut rng, 3 * MIN, 10 * MIN),
            };
        }
        let slope_mib_per_min = (limit - level) / MIB / (growth as f64 / MIN as f64);
        let shape = if accel > 0.1 {
            "accelerating"
        } else {
            "linear"
        };
        let name = self.pods[p].containers[c].name.clone();
        let entity = self.container_entity(p, c);
        for (k, &(oom, restart)) in kills.iter().enumerate() {
            self.restart_container(p, c, oom, restart);
            let node_event = rng.random_bool(0.6);
            if node_event {
                self.node_oom_event(oom + between(&mut rng, SEC / 5, 2 * SEC), p, c);
            }
            if !node_event || rng.random_bool(0.4) {
                let message = self.backoff_message(p, c);
                self.kubelet_event(
                    oom + (restart - oom) / 2,
                    p,
                    Some(c),
                    "BackOff",
                    message,
                    true,
                );
            }
            self.container_start_events(restart, p, c, false);
            let leak_start = starts[k].expect("every OOM follows a leaking segment");
            let repeat = if k == 0 {
                String::new()
            } else {
                format!(
                    " (OOM #{}: leaking again since the previous restart)",
                    k + 1
                )
            };
            let after = if leaks_again {
                "leaks again after the restart"
            } else {
                "stays healthy after the restart"
            };
            self.incident(
                "memory_pressure",
                "memory_leak",
                entity.clone(),
                leak_start,
                Some(oom),
                format!(
                    "{name}: working set climbs ({shape}) from {} toward its {} limit at ~{slope_mib_per_min:.2} MiB/min over {}; OOM-killed at impact, restart count +1, then {after}{repeat}",
                    human_bytes(level),
                    human_bytes(limit),
                    human_duration(growth),
                ),
            );
        }
    }

    /// A container exits seconds after each start; the kubelet restarts it with back-off
    /// 10 s, 20 s, 40 s … capped at 5 min.
    fn inject_crash_loop(&mut self) {
        let main_only = self.rng.random_bool(0.8);
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], main_only)
        else {
            return;
        };
        let mut rng = self.child_rng();
        let win = self.win;
        let (lo, hi) = (win.at(0.25), win.end - 60 * MIN);
        if hi <= lo {
            return;
        }
        let onset = between(&mut rng, lo, hi);
        // Either the process exits after running a little, or (StartError) the runtime cannot
        // start it at all.
        let start_error = rng.random_bool(0.35);
        let mut crash = onset;
        let mut kills = Vec::new();
        let mut step = 0u32;
        while crash < win.end {
            let backoff =
                ((10 * SEC) << step.min(5)).min(300 * SEC) + between(&mut rng, 0, 2 * SEC);
            let restart = crash + backoff;
            if restart >= win.end {
                let container = &mut self.pods[p].containers[c];
                container.down.push((crash, win.end));
                break;
            }
            kills.push((crash, restart));
            let run = if start_error {
                between(&mut rng, SEC / 5, SEC)
            } else if rng.random_bool(0.8) {
                between(&mut rng, 2 * SEC, 50 * SEC)
            } else {
                between(&mut rng, 60 * SEC, 240 * SEC)
            };
            crash = restart + run;
            step += 1;
        }
        {
            let container = &mut self.pods[p].containers[c];
            container.memory.warm_floor = uniform(&mut rng, 0.2, 0.4);
            container.memory.warm_tau = between(&mut rng, 2 * MIN, 5 * MIN);
        }
        for (i, &(crash, restart)) in kills.iter().enumerate() {
            self.restart_container(p, c, crash, restart);
            if i >= 1 && (i % 3 == 1 || rng.random_bool(0.25)) {
                let message = self.backoff_message(p, c);
                let at = crash + between(&mut rng, SEC, ((restart - crash) / 2).max(2 * SEC));
                self.kubelet_event(at, p, Some(c), "BackOff", message, true);
            }
            if i < 2 || rng.random_bool(0.4) {
                if start_error {
                    self.container_start_failed_events(restart, p, c);
                } else {
                    self.container_start_events(restart, p, c, false);
                }
            }
        }
        let name = self.pods[p].containers[c].name.clone();
        let entity = self.container_entity(p, c);
        self.incident(
            "restart_frequency",
            "crash_loop",
            entity,
            onset,
            Some(onset + 15 * MIN),
            format!(
                "{name} {} from onset; kubelet back-off 10 s doubling to the 5 min cap; {} restarts by the end of the data",
                if start_error {
                    "fails to start (StartError, Failed events)"
                } else {
                    "exits seconds to minutes after each start"
                },
                kills.len()
            ),
        );
    }

    /// A container that restarted once every several hours starts failing its liveness probe
    /// every 10–30 min.
    fn inject_restart_rate_rise(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let win = self.win;
        let (lo, hi) = (win.at(0.35), win.end - 2 * HOUR);
        if hi <= lo {
            return;
        }
        let onset = between(&mut rng, lo, hi);
        let mut restarts = Vec::new();
        let mut earlier = onset - between(&mut rng, 150 * MIN, 5 * HOUR);
        for _ in 0..rng.random_range(1..=2) {
            if earlier > win.start + 20 * MIN {
                restarts.push(earlier);
            }
            earlier -= between(&mut rng, 150 * MIN, 5 * HOUR);
        }
        let history = restarts.len();
        let mut next = onset + between(&mut rng, 40 * SEC, 100 * SEC);
        while next < win.end {
            restarts.push(next);
            next += between(&mut rng, 10 * MIN, 30 * MIN);
        }
        restarts.sort_unstable();
        let timeout = rng.random_bool(0.5);
        for &restart in &restarts {
            self.restart_container(p, c, restart - 5 * SEC, restart);
            self.liveness_restart_events(restart, p, c, timeout);
        }
        let fast: Vec<i64> = restarts.iter().copied().filter(|&r| r > onset).collect();
        let name = self.pods[p].containers[c].name.clone();
        let entity = self.container_entity(p, c);
        self.incident(
            "restart_frequency",
            "restart_rate_rise",
            entity,
            onset,
            fast.get(2).copied(),
            format!(
                "{name}: {history} restart(s) in the hours before onset, then liveness-probe kills every 10–30 min ({} restarts after onset); impact = 3rd restart after onset",
                fast.len()
            ),
        );
    }

    fn inject_gc_sawtooth(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let limit = self.ensure_limit(p, c, &[1024.0, 2048.0, 3072.0, 4096.0]);
        let floor = limit * uniform(&mut rng, 0.35, 0.55);
        let peak = limit * uniform(&mut rng, 0.8, 0.9);
        let period = between(&mut rng, 20 * MIN, 90 * MIN);
        {
            let memory = &mut self.pods[p].containers[c].memory;
            memory.trend = Trend::Sawtooth {
                floor,
                peak,
                period,
                phase: between(&mut rng, 0, period),
            };
            memory.noise = uniform(&mut rng, 0.003, 0.008);
            memory.ripple.amplitude = 0.0;
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "memory_pressure",
            "gc_sawtooth",
            entity,
            format!(
                "heap sawtooth: climbs from a flat {} floor to ~{} ({:.0}% of the {} limit) every {}, then a full GC drops it back; the floor does not grow",
                human_bytes(floor),
                human_bytes(peak),
                peak / limit * 100.0,
                human_bytes(limit),
                human_duration(period)
            ),
        );
    }

    fn inject_flat_high(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment, Kind::StatefulSet], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let limit = self.ensure_limit(p, c, &[512.0, 1024.0, 2048.0]);
        let level = limit * uniform(&mut rng, 0.9, 0.95);
        {
            let memory = &mut self.pods[p].containers[c].memory;
            memory.trend = Trend::Flat { level };
            memory.noise = uniform(&mut rng, 0.002, 0.006);
            memory.ripple.amplitude = uniform(&mut rng, 0.0, 0.01);
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "memory_pressure",
            "flat_high",
            entity,
            format!(
                "flat at {:.0}% of its {} limit for the whole window (noise only, no trend)",
                level / limit * 100.0,
                human_bytes(limit)
            ),
        );
    }

    fn inject_unlimited_growth(&mut self) {
        let Some((p, c)) = self.pick_container(&[Kind::Deployment], true) else {
            return;
        };
        let mut rng = self.child_rng();
        let level = uniform(&mut rng, 200.0, 800.0) * MIB;
        let per_hour = level * uniform(&mut rng, 0.04, 0.15);
        let from = self.win.start - between(&mut rng, 0, 2 * HOUR);
        {
            let container = &mut self.pods[p].containers[c];
            container.limit = None;
            container.request = Some(round_to_16_mib(level));
            container.memory.trend = Trend::Grow {
                level,
                per_hour,
                from,
            };
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "memory_pressure",
            "no_limit_growth",
            entity,
            format!(
                "no memory limit; working set grows ~{:.0} MiB/h from {} — nothing to be OOM-killed against",
                per_hour / MIB,
                human_bytes(level)
            ),
        );
    }

    fn inject_isolated_restart(&mut self) {
        let kinds = [Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet];
        let Some((p, c)) = self.pick_container(&kinds, false) else {
            return;
        };
        let mut rng = self.child_rng();
        let at = between(&mut rng, self.win.at(0.15), self.win.at(0.9));
        let liveness = rng.random_bool(0.5);
        if liveness {
            self.restart_container(p, c, at - 5 * SEC, at);
            self.liveness_restart_events(at, p, c, rng.random_bool(0.5));
        } else {
            self.restart_container(p, c, at - between(&mut rng, SEC, 10 * SEC), at);
            self.container_start_events(at, p, c, false);
        }
        let entity = self.container_entity(p, c);
        self.negative(
            "restart_frequency",
            "isolated_restart",
            entity,
            format!(
                "a single restart ({}) of an otherwise healthy container",
                if liveness {
                    "one liveness-probe kill"
                } else {
                    "one non-zero exit"
                }
            ),
        );
    }

    /// Every pod of a Deployment replaced by a new ReplicaSet over about ten minutes: new pod
    /// names and UIDs, Killing/Scheduled/Started events, no container restarts, and the new
    /// pods start with less memory.
    fn inject_rolling_update(&mut self) {
        let candidates: Vec<usize> = (0..self.workloads.len())
            .filter(|&w| {
                let workload = &self.workloads[w];
                workload.kind == Kind::Deployment
                    && !workload.busy
                    && self.pods.iter().filter(|p| p.workload == w).count() >= 2
            })
            .collect();
        let Some(&w) = candidates.choose(&mut self.rng) else {
            return;
        };
        self.workloads[w].busy = true;
        let mut rng = self.child_rng();
        let win = self.win;
        let (lo, hi) = (win.at(0.2), win.end - 90 * MIN);
        if hi <= lo {
            return;
        }
        let at = between(&mut rng, lo, hi);
        let old: Vec<usize> = (0..self.pods.len())
            .filter(|&p| self.pods[p].workload == w)
            .collect();
        let name = self.workloads[w].name.clone();
        let namespace = self.workloads[w].namespace.clone();
        let old_hash = self.workloads[w].template_hash.clone();
        let new_hash = random_string(&mut rng, HEX, 10);
        let new_tag = names::version(&mut rng);
        let replicas = old.len();
        // The last replacement starts 8–12 min after the first, whatever the replica count.
        let step = between(&mut rng, 8 * MIN, 12 * MIN) / (replicas as i64 - 1).max(1);
        let (old_rs, new_rs) = (format!("{name}-{old_hash}"), format!("{name}-{new_hash}"));
        let mut finished = at;
        for (i, &p) in old.iter().enumerate() {
            let created = at + i as i64 * step + between(&mut rng, 0, 15 * SEC);
            self.controller_event(
                created - SEC,
                "Deployment",
                "apps/v1",
                &name,
                &namespace,
                "ScalingReplicaSet",
                format!("Scaled up replica set {new_rs} to {} from {i}", i + 1),
                "deployment-controller",
            );
            let containers: Vec<ContainerRun> = self.pods[p]
                .containers
                .iter()
                .map(|container| {
                    let mut fresh = container.clone();
                    fresh.restarts.clear();
                    fresh.down.clear();
                    fresh.initial_restarts = 0;
                    if fresh.main {
                        fresh.tag = new_tag.clone();
                    }
                    fresh.memory.trend =
                        container.memory.trend.scaled(uniform(&mut rng, 0.75, 0.95));
                    fresh.memory.warm_floor = uniform(&mut rng, 0.45, 0.7);
                    fresh.memory.warm_tau = between(&mut rng, 10 * MIN, 40 * MIN);
                    fresh
                })
                .collect();
            let pod_name = format!("{name}-{new_hash}-{}", random_string(&mut rng, SAFE, 5));
            let node = rng.random_range(0..self.nodes.len());
            let np = self.push_pod(
                w,
                pod_name.clone(),
                node,
                Some(new_hash.clone()),
                None,
                containers,
                created,
                FAR_FUTURE,
            );
            self.controller_event(
                created,
                "ReplicaSet",
                "apps/v1",
                &new_rs,
                &namespace,
                "SuccessfulCreate",
                format!("Created pod: {pod_name}"),
                "replicaset-controller",
            );
            let pull_fails = i == 0 && (!self.pull_failure_shown || rng.random_bool(0.5));
            let mut ready_from = created;
            if pull_fails {
                self.pull_failure_shown = true;
                self.pod_scheduled_event(np);
                let retry = self.image_pull_failure_events(np, 0, created);
                self.container_start_events(retry, np, 0, true);
                ready_from = retry + 10 * SEC;
                self.pods[np].containers[0].down.push((created, ready_from));
                for c in 1..self.pods[np].containers.len() {
                    self.container_start_events(created + SEC, np, c, false);
                }
            } else {
                self.pod_start_events(np, i == 0);
            }
            if !pull_fails && rng.random_bool(0.5) {
                let ip = self.pods[np].ip.clone();
                self.kubelet_event(
                    created + between(&mut rng, 5 * SEC, 12 * SEC),
                    np,
                    Some(0),
                    "Unhealthy",
                    format!("Readiness probe failed: Get \"http://{ip}:8080/ready\": dial tcp {ip}:8080: connect: connection refused"),
                    true,
                );
            }
            let kill = ready_from + between(&mut rng, 20 * SEC, 60 * SEC);
            for c in 0..self.pods[p].containers.len() {
                let container_name = self.pods[p].containers[c].name.clone();
                self.kubelet_event(
                    kill,
                    p,
                    Some(c),
                    "Killing",
                    format!("Stopping container {container_name}"),
                    false,
                );
            }
            let old_name = self.pods[p].name.clone();
            self.controller_event(
                kill,
                "ReplicaSet",
                "apps/v1",
                &old_rs,
                &namespace,
                "SuccessfulDelete",
                format!("Deleted pod: {old_name}"),
                "replicaset-controller",
            );
            self.controller_event(
                kill,
                "Deployment",
                "apps/v1",
                &name,
                &namespace,
                "ScalingReplicaSet",
                format!(
                    "Scaled down replica set {old_rs} to {} from {}",
                    replicas - i - 1,
                    replicas - i
                ),
                "deployment-controller",
            );
            self.pods[p].end = kill + between(&mut rng, 2 * SEC, 30 * SEC);
            finished = self.pods[p].end;
        }
        self.workloads[w].template_hash = new_hash;
        let main = self.pods[old[0]].containers[0].name.clone();
        let workload_entity = entity(&[
            ("cluster", &self.cluster),
            ("namespace", &namespace),
            ("container", &main),
        ]);
        let what = format!(
            "rolling update of Deployment {name} ({replicas} pods, {old_rs} → {new_rs}) from {} over {}",
            scenarios::rfc3339_seconds(at),
            human_duration(finished - at)
        );
        self.negative(
            "restart_frequency",
            "rolling_update",
            workload_entity.clone(),
            format!("{what}: new pod names and UIDs, Killing/Scheduled/Started events, no container restarts"),
        );
        self.negative(
            "memory_pressure",
            "rolling_update",
            workload_entity,
            format!(
                "{what}: old series end, new pods start lower and warm up over tens of minutes"
            ),
        );
    }

    /// CronJobs whose pods grow memory while they run, then complete: their series stop.
    fn add_cronjobs(&mut self) {
        let count = self.rng.random_range(1..=2);
        for base in names::pick_distinct(&mut self.rng, names::CRONJOBS, count) {
            let name = self.names.unique(base);
            let namespace = names::pick(&mut self.rng, &self.app_namespaces).clone();
            let w = self.push_workload(Kind::CronJob, name.clone(), namespace.clone());
            self.workloads[w].busy = true;
            let mut rng = self.child_rng();
            let period = *names::pick(&mut rng, &[30, 60, 120]) * MIN;
            let offset = between(&mut rng, 0, period / MIN) * MIN;
            let limit = *names::pick(&mut rng, &[512.0, 768.0, 1024.0, 2048.0]) * MIB;
            let typical = between(&mut rng, 3 * MIN, (period * 6 / 10).min(25 * MIN));
            let image = format!("{}/{name}", self.registry);
            let tag = names::version(&mut rng);
            let template = self.new_container(
                &name,
                &image,
                &tag,
                "python3",
                true,
                &[limit / MIB],
                uniform(&mut rng, 0.0, 0.01),
            );
            let mut scheduled =
                self.win.start - self.win.start.rem_euclid(period) - period + offset;
            let mut runs = 0;
            let mut peak_share: f64 = 0.0;
            while scheduled < self.win.end {
                let start = scheduled + between(&mut rng, SEC, 4 * SEC);
                let duration = (typical as f64 * uniform(&mut rng, 0.7, 1.3)) as i64;
                let end = start + duration;
                if end <= self.win.start {
                    scheduled += period;
                    continue;
                }
                let job = format!("{name}-{}", scheduled / MIN);
                let top = limit * uniform(&mut rng, 0.6, 0.92);
                peak_share = peak_share.max(top / limit);
                let mut container = template.clone();
                container.limit = Some(limit);
                container.request = Some(round_to_16_mib(limit * 0.5));
                container.initial_restarts = 0;
                container.memory.trend = Trend::Batch {
                    level: limit * uniform(&mut rng, 0.08, 0.2),
                    top,
                    duration,
                };
                container.memory.warm_floor = 1.0;
                let pod_name = format!("{job}-{}", random_string(&mut rng, SAFE, 5));
                let node = rng.random_range(0..self.nodes.len());
                let p = self.push_pod(
                    w,
                    pod_name.clone(),
                    node,
                    None,
                    Some(job.clone()),
                    vec![container],
                    start,
                    end,
                );
                self.controller_event(
                    scheduled,
                    "CronJob",
                    "batch/v1",
                    &name,
                    &namespace,
                    "SuccessfulCreate",
                    format!("Created job {job}"),
                    "cronjob-controller",
                );
                self.controller_event(
                    start - SEC / 2,
                    "Job",
                    "batch/v1",
                    &job,
                    &namespace,
                    "SuccessfulCreate",
                    format!("Created pod: {pod_name}"),
                    "job-controller",
                );
                self.pod_start_events(p, false);
                self.controller_event(
                    end + SEC,
                    "Job",
                    "batch/v1",
                    &job,
                    &namespace,
                    "Completed",
                    "Job completed".to_string(),
                    "job-controller",
                );
                self.controller_event(
                    end + 2 * SEC,
                    "CronJob",
                    "batch/v1",
                    &name,
                    &namespace,
                    "SawCompletedJob",
                    format!("Saw completed job: {job}, status: Complete"),
                    "cronjob-controller",
                );
                runs += 1;
                scheduled += period;
            }
            let batch_entity = entity(&[
                ("cluster", &self.cluster),
                ("namespace", &namespace),
                ("container", &name),
            ]);
            let what = format!(
                "CronJob {name} every {}: {runs} runs of ~{} each, memory grows to up to {:.0}% of the {} limit while a run lasts, then the pod completes and its series stop",
                human_duration(period),
                human_duration(typical),
                peak_share * 100.0,
                human_bytes(limit)
            );
            self.negative(
                "memory_pressure",
                "batch_completed",
                batch_entity.clone(),
                what.clone(),
            );
            self.negative(
                "restart_frequency",
                "batch_completed",
                batch_entity,
                format!("{what}; a new pod per run, no restarts"),
            );
        }
    }

    fn assign_service_roles(&mut self) {
        let mut rng = self.child_rng();
        let win = self.win;
        let mut order: Vec<usize> = (0..self.services.len()).collect();
        order.shuffle(&mut rng);
        let mut order = order.into_iter();

        for _ in 0..rng.random_range(1..=2) {
            let Some(s) = order.next() else { break };
            let (lo, hi) = (win.at(0.3), win.end - 45 * MIN);
            if hi <= lo {
                break;
            }
            let onset = between(&mut rng, lo, hi);
            let until = if rng.random_bool(0.4) {
                win.end
            } else {
                (onset + between(&mut rng, 30 * MIN, 3 * HOUR)).min(win.end)
            };
            let baseline = log_uniform(&mut rng, 0.002, 0.03);
            let multiplier = uniform(&mut rng, (0.04 / baseline).clamp(5.0, 30.0), 30.0);
            let svc = &mut self.services[s];
            svc.rate_per_minute = uniform(&mut rng, 15.0, 50.0);
            svc.baseline_error_ratio = baseline;
            svc.errors = ErrorShape::Burst {
                onset,
                until,
                multiplier,
            };
            svc.role = Some("error_burst");
            let description = format!(
                "{}: error ratio jumps from {:.2}% to {:.1}% ({multiplier:.0}×) at onset, for {}",
                svc.name,
                baseline * 100.0,
                (baseline * multiplier).min(0.9) * 100.0,
                human_duration(until - onset)
            );
            let service_entity = self.service_entity(s);
            self.incident(
                "error_rate",
                "error_burst",
                service_entity,
                onset,
                Some(onset),
                description,
            );
            let data_end = datetime(self.win.end);
            if let Some(last) = self.incidents.last_mut() {
                last.resolved_at = Some(datetime(until)).filter(|t| *t < data_end);
            }
        }

        if let Some(s) = order.next() {
            let ramp = between(&mut rng, HOUR, 3 * HOUR);
            let final_multiplier = uniform(&mut rng, 6.0, 12.0);
            let to_five = (ramp as f64 * 4.0 / (final_multiplier - 1.0)) as i64;
            let lo = win.at(0.3);
            let hi = (win.end - ramp - 15 * MIN).max(win.end - to_five - 45 * MIN);
            if hi > lo {
                let onset = between(&mut rng, lo, hi);
                let baseline = log_uniform(&mut rng, 0.005, 0.03);
                let svc = &mut self.services[s];
                svc.rate_per_minute = uniform(&mut rng, 15.0, 50.0);
                svc.baseline_error_ratio = baseline;
                svc.errors = ErrorShape::Creep {
                    onset,
                    ramp,
                    final_multiplier,
                };
                svc.role = Some("error_creep");
                let description = format!(
                    "{}: error ratio rises linearly from {:.2}% to {:.1}% ({final_multiplier:.1}×) over {}; impact when it reaches 5× baseline",
                    svc.name,
                    baseline * 100.0,
                    baseline * final_multiplier * 100.0,
                    human_duration(ramp)
                );
                let service_entity = self.service_entity(s);
                self.incident(
                    "error_rate",
                    "error_creep",
                    service_entity,
                    onset,
                    Some(onset + to_five),
                    description,
                );
            }
        }

        if let Some(s) = order.next() {
            let svc = &mut self.services[s];
            svc.rate_per_minute = uniform(&mut rng, 10.0, 60.0);
            svc.baseline_error_ratio = uniform(&mut rng, 0.05, 0.10);
            svc.role = Some("chronic_errors");
            let description = format!(
                "{}: {:.1}% errors all window long (chronically high but flat)",
                svc.name,
                svc.baseline_error_ratio * 100.0
            );
            let service_entity = self.service_entity(s);
            self.negative("error_rate", "chronic_errors", service_entity, description);
        }

        if let Some(s) = order.next() {
            let multiplier = uniform(&mut rng, 5.0, 10.0);
            let traffic = if rng.random_bool(0.5) {
                TrafficShape::Peak {
                    at: win.at(uniform(&mut rng, 0.3, 0.7)),
                    width: between(&mut rng, 90 * MIN, 3 * HOUR),
                    multiplier,
                }
            } else {
                let spans = (0..rng.random_range(2..=4))
                    .map(|_| {
                        let start = between(&mut rng, win.start, win.end - 30 * MIN);
                        (start, start + between(&mut rng, 20 * MIN, 90 * MIN))
                    })
                    .collect();
                TrafficShape::Bursts { spans, multiplier }
            };
            let svc = &mut self.services[s];
            let style = match traffic {
                TrafficShape::Peak { .. } => "a broad daily peak",
                _ => "bursts",
            };
            svc.traffic = traffic;
            svc.rate_per_minute = uniform(&mut rng, 4.0, 12.0);
            svc.diurnal_amplitude = uniform(&mut rng, 0.0, 0.1);
            svc.baseline_error_ratio = uniform(&mut rng, 0.005, 0.02);
            svc.role = Some("traffic_swing");
            let description = format!(
                "{}: traffic swings {multiplier:.0}× ({style}) while the error ratio stays {:.2}%",
                svc.name,
                svc.baseline_error_ratio * 100.0
            );
            let service_entity = self.service_entity(s);
            self.negative("error_rate", "traffic_swing", service_entity, description);
        }

        for _ in 0..rng.random_range(1..=2) {
            let Some(s) = order.next() else { break };
            let per_hour = uniform(&mut rng, 2.0, 12.0);
            let svc = &mut self.services[s];
            svc.traffic = TrafficShape::Quiet { per_hour };
            svc.baseline_error_ratio = uniform(&mut rng, 0.02, 0.08);
            svc.role = Some("quiet_service");
            let description = format!(
                "{}: ~{per_hour:.0} requests per hour, an occasional error ({:.0}% of requests)",
                svc.name,
                svc.baseline_error_ratio * 100.0
            );
            let service_entity = self.service_entity(s);
            self.negative("error_rate", "quiet_service", service_entity, description);
        }

        // Keep the log volume near 460 requests/min per unit of scale: normal services share
        // what the scenario services leave.
        let budget = 460.0 * self.scale;
        let fixed: f64 = self
            .services
            .iter()
            .filter(|s| s.role.is_some())
            .map(|s| s.mean_rate(win))
            .sum();
        let normal: Vec<usize> = (0..self.services.len())
            .filter(|&s| self.services[s].role.is_none())
            .collect();
        let normal_total: f64 = normal
            .iter()
            .map(|&s| self.services[s].mean_rate(win))
            .sum();
        let allowed = (budget - fixed).max(5.0 * normal.len() as f64);
        if normal_total > allowed {
            let factor = allowed / normal_total;
            for s in normal {
                let svc = &mut self.services[s];
                svc.rate_per_minute = (svc.rate_per_minute * factor).max(5.0);
            }
        }
    }

    fn service_entity(&self, s: usize) -> Entity {
        let svc = &self.services[s];
        entity(&[
            ("cluster", &self.cluster),
            ("namespace", &svc.namespace),
            ("service", &svc.name),
        ])
    }

    fn add_canaries(&mut self) {
        let mut rng = self.child_rng();
        let count = rng.random_range(3..=5);
        let mut roles = vec![Role::Stopped, Role::Jittered, Role::LateBeat];
        while roles.len() < count {
            roles.push(if roles.len() == 4 && rng.random_bool(0.5) {
                Role::Stopped
            } else {
                Role::Steady
            });
        }
        roles.shuffle(&mut rng);
        let mut may_resume = rng.random_bool(0.6);
        for role in roles {
            let name = self.names.canary(&mut rng);
            let period = *names::pick(&mut rng, &[30, 45, 60, 90, 120, 180, 240, 300]) * SEC;
            let planned = canary::plan(&mut rng, self.win, name, period, role, may_resume);
            let grace = canary::grace(planned.period);
            let canary_entity = entity(&[("cluster", &self.cluster), ("canary", &planned.name)]);
            let schedule = format!(
                "beats every {} with up to {:.0}% delay (grace assumed: {})",
                human_duration(planned.period),
                planned.jitter * 100.0,
                human_duration(grace)
            );
            match (&planned.role, &planned.stop, &planned.late_beat) {
                (Role::Stopped, Some(stop), _) => {
                    let resumed = match stop.resumed_at {
                        Some(r) => {
                            may_resume = false;
                            format!("; resumes at {}", scenarios::rfc3339_seconds(r))
                        }
                        None => "; never resumes".to_string(),
                    };
                    self.incident(
                        "heartbeat_missing",
                        "canary_stopped",
                        canary_entity,
                        stop.onset,
                        Some(stop.impact),
                        format!("{}: {schedule}; stops after the beat at onset, down at onset + period + grace{resumed}", planned.name),
                    );
                    if let Some(last) = self.incidents.last_mut() {
                        last.resolved_at = stop.resumed_at.map(datetime);
                    }
                }
                (Role::Jittered, _, _) => self.negative(
                    "heartbeat_missing",
                    "jittered_canary",
                    canary_entity,
                    format!("{}: {schedule}; never later than period + grace", planned.name),
                ),
                (Role::LateBeat, _, Some((_, gap))) => self.negative(
                    "heartbeat_missing",
                    "late_beat",
                    canary_entity,
                    format!(
                        "{}: {schedule}; one beat arrives {} after the previous one: late, within grace",
                        planned.name,
                        human_duration(*gap)
                    ),
                ),
                _ => {}
            }
            self.canaries.push(planned);
        }
    }

    /// A few readiness-probe failures on healthy pods: the everyday noise of a cluster.
    fn add_background_events(&mut self) {
        let count = ((uniform(&mut self.rng, 2.0, 6.0) * self.scale).round() as usize).max(1);
        let candidates: Vec<usize> = (0..self.pods.len())
            .filter(|&p| {
                let pod = &self.pods[p];
                self.workloads[pod.workload].kind == Kind::Deployment
                    && pod.start < self.win.start
                    && pod.end > self.win.end
            })
            .collect();
        for _ in 0..count {
            let Some(&p) = candidates.choose(&mut self.rng) else {
                return;
            };
            let at = between(&mut self.rng, self.win.start, self.win.end - MIN);
            let ip = self.pods[p].ip.clone();
            let message = format!("Readiness probe failed: Get \"http://{ip}:8080/ready\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
            for j in 0..self.rng.random_range(1..=3) {
                self.kubelet_event(
                    at + j * 10 * SEC,
                    p,
                    Some(0),
                    "Unhealthy",
                    message.clone(),
                    true,
                );
            }
        }
    }

    // ---------------------------------------------------------------- emission

    fn into_dataset(mut self, seed: u64) -> Dataset {
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
        let cluster_ticks = scrape_ticks(rng, win, MIN);
        let node_ticks: Vec<Vec<i64>> = (0..self.nodes.len())
            .map(|_| scrape_ticks(rng, win, 30 * SEC))
            .collect();
        let estimate = self.pods.iter().map(|p| p.containers.len()).sum::<usize>()
            * (win.len() / MIN).max(1) as usize
            * 5;
        sink.dataset.gauge_points.reserve(estimate);
        let rho: f64 = 0.9;
        let innovation = (1.0 - rho * rho).sqrt();
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
                    let mut value = container.memory.expected(t, segment, segment_start)
                        + noise * container.memory.noise * level;
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

/// Scrape times every `interval` with a fixed phase and up to ±300 ms of jitter, inside `win`.
fn scrape_ticks(rng: &mut StdRng, win: Window, interval: i64) -> Vec<i64> {
    let phase = between(rng, 0, interval);
    let mut nominal = win.start - win.start.rem_euclid(interval) + phase;
    let mut ticks = Vec::with_capacity((win.len() / interval) as usize + 2);
    while nominal < win.end + SEC {
        let t = nominal + between(rng, -300_000_000, 300_000_000);
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;

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

    /// Seed 42 at scale 1, generated once for all tests (and timed).
    fn main_dataset() -> &'static Dataset {
        static DATASET: OnceLock<Dataset> = OnceLock::new();
        DATASET.get_or_init(|| {
            let started = Instant::now();
            let dataset = generate(&params(42, 1.0));
            eprintln!(
                "generate(seed 42, scale 1, 12 h) took {:?}",
                started.elapsed()
            );
            dataset
        })
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
        let labels = &dataset.labels;
        let index = Index::new(dataset);
        let (start, end) = (ns(labels.start), ns(labels.end));
        let count = |kind: &str| labels.incidents.iter().filter(|i| i.kind == kind).count();
        let leaking: BTreeSet<_> = labels
            .incidents
            .iter()
            .filter(|i| i.kind == "memory_leak")
            .map(|i| (i.entity["pod"].clone(), i.entity["container"].clone()))
            .collect();
        assert!(
            (3..=5).contains(&leaking.len()),
            "leaking containers: {}",
            leaking.len()
        );
        assert!((1..=3).contains(&count("crash_loop")));
        assert!((1..=2).contains(&count("restart_rate_rise")));
        assert!((1..=2).contains(&count("error_burst")));
        assert_eq!(count("error_creep"), 1);
        assert!((1..=2).contains(&count("canary_stopped")));

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
                    let before =
                        max_in(&ws, impact - 90 * SEC, impact).expect("samples before the OOM");
                    assert!(before >= 0.9 * limit, "{before} vs {limit}: {incident:?}");
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
                    assert!(first_leak >= start + 2 * HOUR);
                    assert!(impact >= start + (end - start) / 2);
                }
                "crash_loop" => {
                    let restarts =
                        index.points("k8s.container.restarts", &e["pod"], &e["container"]);
                    let base = value_before(&restarts, onset);
                    let top = max_in(&restarts, onset, onset + 20 * MIN).expect("gauge samples");
                    assert!(top - base >= 3.0, "{top} - {base}: {incident:?}");
                }
                "restart_rate_rise" => {
                    let restarts =
                        index.points("k8s.container.restarts", &e["pod"], &e["container"]);
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
                other => panic!("unknown incident kind {other}"),
            }
        }

        for negative in &labels.negatives {
            let e = &negative.entity;
            match negative.kind.as_str() {
                "gc_sawtooth" | "flat_high" => {
                    let limit = limit_of(&index, &e["pod"], &e["container"]);
                    let ws =
                        index.points("container.memory.working_set", &e["pod"], &e["container"]);
                    let max = ws.iter().map(|p| p.1).fold(0.0, f64::max);
                    let min = ws.iter().map(|p| p.1).fold(f64::MAX, f64::min);
                    assert!(max < 0.97 * limit, "{negative:?}");
                    if negative.kind == "gc_sawtooth" {
                        assert!(max > 0.75 * limit && min < 0.6 * limit, "{negative:?}");
                    } else {
                        assert!(min > 0.85 * limit, "{negative:?}");
                    }
                }
                "isolated_restart" => {
                    let restarts =
                        index.points("k8s.container.restarts", &e["pod"], &e["container"]);
                    let rise = restarts.last().unwrap().1 - restarts.first().unwrap().1;
                    assert_eq!(rise, 1.0, "{negative:?}");
                }
                "rolling_update" | "batch_completed" => {
                    let pods: BTreeSet<&String> = index
                        .series
                        .keys()
                        .filter(|(m, _, c)| m == "k8s.container.restarts" && c == &e["container"])
                        .map(|(_, p, _)| p)
                        .collect();
                    assert!(pods.len() >= 2, "{negative:?}");
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

    #[test]
    fn runs_quickly_in_a_debug_build() {
        let started = Instant::now();
        let _ = main_dataset();
        let _ = started.elapsed();
        // Timing is printed by main_dataset; a loose bound guards against gross regressions
        // on a busy machine.
        let started = Instant::now();
        let _ = generate(&params(9, 1.0));
        let elapsed = started.elapsed();
        eprintln!("generate(seed 9, scale 1, 12 h) took {elapsed:?}");
        assert!(elapsed.as_secs_f64() < 15.0, "{elapsed:?}");
    }
}
