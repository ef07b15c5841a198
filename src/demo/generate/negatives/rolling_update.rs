//! Hard negative: a rolling update. Every pod of a Deployment is replaced by a new ReplicaSet's
//! pod over about ten minutes: new pod names and UIDs, the controllers' and kubelet's events
//! (sometimes a first image pull that fails, which is not a restart), no container restarts,
//! and the new pods start lower and warm up. Restart and memory detectors must not see a
//! restart or a leak in it.

use rand::seq::IndexedRandom;
use rand::Rng;

use crate::demo::generate::world::{entity, ContainerRun, Kind, World, FAR_FUTURE};
use crate::demo::scenarios::names::{self, random_string, HEX, SAFE};
use crate::demo::scenarios::{between, human_duration, rfc3339_seconds, uniform, MIN, SEC};

impl World {
    /// Every pod of a Deployment replaced by a new ReplicaSet over about ten minutes: new pod
    /// names and UIDs, Killing/Scheduled/Started events, no container restarts, and the new
    /// pods start with less memory.
    pub(super) fn inject_rolling_update(&mut self) {
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
            rfc3339_seconds(at),
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
}
