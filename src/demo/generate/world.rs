//! The cluster being built: its nodes, workloads, pods and containers, its services and
//! canaries, the Kubernetes events waiting to be written, and the labels collected so far.
//! Every other module of `generate` adds one job to `World` in its own `impl` block; this one
//! owns the state and the helpers all scenarios share: one random stream per scenario, stable
//! object UIDs, claiming a container so no two scenarios touch the same workload, and recording
//! an incident or a hard negative with its entity.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::wide::{Variety, Wide};
use crate::demo::model::{Incident, Negative};
use crate::demo::scenarios::canary::Canary;
use crate::demo::scenarios::events::KEvent;
use crate::demo::scenarios::memory::MemoryModel;
use crate::demo::scenarios::names::{self, uuid, NameBook};
use crate::demo::scenarios::traffic::Service;
use crate::demo::scenarios::{datetime, uniform, Window, MIB};

/// Lifetime end of pods that outlive the data.
pub(super) const FAR_FUTURE: i64 = i64::MAX / 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
}

pub(super) struct Workload {
    pub(super) kind: Kind,
    pub(super) name: String,
    pub(super) namespace: String,
    /// Pod-template hash of the current ReplicaSet (Deployments).
    pub(super) template_hash: String,
    /// Claimed by a scenario: no second scenario touches it.
    pub(super) busy: bool,
}

#[derive(Clone)]
pub(super) struct ContainerRun {
    pub(super) name: String,
    pub(super) image: String,
    pub(super) tag: String,
    /// The process the kernel OOM-kills (for node `OOMKilling` events).
    pub(super) process: String,
    pub(super) main: bool,
    pub(super) limit: Option<f64>,
    /// Without a limit: emit a 0-valued limit series instead of none.
    pub(super) limit_as_zero: bool,
    pub(super) request: Option<f64>,
    pub(super) memory: MemoryModel,
    /// Restart count the pod already had when the data starts.
    pub(super) initial_restarts: u32,
    /// Times the container was started again, ascending.
    pub(super) restarts: Vec<i64>,
    /// Intervals in which the container was not running (no working-set samples), ascending.
    pub(super) down: Vec<(i64, i64)>,
}

pub(super) struct Pod {
    pub(super) workload: usize,
    pub(super) name: String,
    pub(super) uid: String,
    pub(super) node: usize,
    pub(super) ip: String,
    pub(super) start: i64,
    pub(super) end: i64,
    /// The ReplicaSet's pod-template hash (Deployments).
    pub(super) template_hash: Option<String>,
    /// The Job that ran this pod (CronJobs).
    pub(super) job: Option<String>,
    pub(super) containers: Vec<ContainerRun>,
}

pub(super) struct Node {
    pub(super) name: String,
    pub(super) uid: String,
}

pub(super) struct World {
    /// The extra variety drawn under `Variety::Wide`; `None` keeps the default story.
    pub(super) wide: Option<Wide>,
    pub(super) rng: StdRng,
    pub(super) win: Window,
    pub(super) scale: f64,
    pub(super) cluster: String,
    pub(super) infra_namespace: String,
    pub(super) app_namespaces: Vec<String>,
    pub(super) nodes: Vec<Node>,
    pub(super) org: String,
    pub(super) registry: String,
    pub(super) sidecar: (&'static str, &'static str, &'static str),
    pub(super) sidecar_tag: String,
    /// Local hour of the traffic peak for this cluster's users.
    pub(super) peak_hour: f64,
    pub(super) names: NameBook,
    pub(super) object_uids: BTreeMap<String, String>,
    /// Whether a rolling update already showed an image-pull failure.
    pub(super) pull_failure_shown: bool,
    pub(super) workloads: Vec<Workload>,
    pub(super) pods: Vec<Pod>,
    pub(super) services: Vec<Service>,
    pub(super) canaries: Vec<Canary>,
    pub(super) events: Vec<KEvent>,
    pub(super) incidents: Vec<Incident>,
    pub(super) negatives: Vec<Negative>,
}

pub(super) type Entity = BTreeMap<String, String>;

pub(super) fn entity(pairs: &[(&str, &str)]) -> Entity {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn round_to_16_mib(bytes: f64) -> f64 {
    (bytes / (16.0 * MIB)).round().max(1.0) * 16.0 * MIB
}

impl World {
    pub(super) fn new(seed: u64, win: Window, scale: f64, variety: Variety) -> World {
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
        let wide = (variety == Variety::Wide).then(|| Wide::draw(&mut rng, win));
        World {
            wide,
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
    pub(super) fn child_rng(&mut self) -> StdRng {
        StdRng::seed_from_u64(self.rng.random())
    }

    /// A stable UID per named object (ReplicaSets, Jobs, CronJobs …).
    pub(super) fn object_uid(&mut self, key: &str) -> String {
        if let Some(uid) = self.object_uids.get(key) {
            return uid.clone();
        }
        let uid = uuid(&mut self.rng);
        self.object_uids.insert(key.to_string(), uid.clone());
        uid
    }

    // ------------------------------------------------- shared by every scenario

    /// A random container of a free workload of one of `kinds` whose pod spans the data;
    /// claims the workload.
    pub(super) fn pick_container(
        &mut self,
        kinds: &[Kind],
        main_only: bool,
    ) -> Option<(usize, usize)> {
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

    pub(super) fn container_entity(&self, p: usize, c: usize) -> Entity {
        let pod = &self.pods[p];
        entity(&[
            ("cluster", &self.cluster),
            ("namespace", &self.workloads[pod.workload].namespace),
            ("pod", &pod.name),
            ("container", &pod.containers[c].name),
        ])
    }

    pub(super) fn incident(
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

    pub(super) fn negative(
        &mut self,
        signal: &str,
        kind: &str,
        entity: Entity,
        description: String,
    ) {
        self.negatives.push(Negative {
            signal: signal.to_string(),
            kind: kind.to_string(),
            entity,
            description,
        });
    }

    /// Records a restart of container `c` at `restart`, not running since `down_from`.
    pub(super) fn restart_container(&mut self, p: usize, c: usize, down_from: i64, restart: i64) {
        let container = &mut self.pods[p].containers[c];
        container.restarts.push(restart);
        container.restarts.sort_unstable();
        container.down.push((down_from, restart));
        container.down.sort_unstable();
    }

    pub(super) fn ensure_limit(&mut self, p: usize, c: usize, sizes_mib: &[f64]) -> f64 {
        let size = *names::pick(&mut self.rng, sizes_mib) * MIB;
        let container = &mut self.pods[p].containers[c];
        let limit = *container.limit.get_or_insert(size);
        if container.request.is_some_and(|r| r > limit) {
            container.request = Some(limit);
        }
        limit
    }
}
