//! The healthy cluster every scenario starts from: DaemonSets on every node, StatefulSets with
//! optional exporter sidecars, and Deployments (some with the cluster's sidecar) until the
//! cluster holds about 250 containers per unit of scale. Every pod here outlives the data; each
//! container is flat or slowly wandering well below its limit. The first Deployments serve
//! requests (`services`). Scenarios later claim containers and reshape them.

use rand::Rng;

use super::world::{round_to_16_mib, ContainerRun, Kind, Pod, Workload, World, FAR_FUTURE};
use crate::demo::scenarios::memory::{MemoryModel, Noise, Ripple, Trend};
use crate::demo::scenarios::names::{self, random_string, uuid, Lang, HEX, SAFE};
use crate::demo::scenarios::{between, uniform, HOUR, MIB, MIN};

impl World {
    pub(super) fn build_topology(&mut self) {
        self.add_daemonsets();
        self.add_statefulsets();
        self.add_deployments();
    }

    pub(super) fn push_workload(&mut self, kind: Kind, name: String, namespace: String) -> usize {
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
    pub(super) fn push_pod(
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
    pub(super) fn new_container(
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
            noise_shape: Noise::DEFAULT,
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

    /// Under `Wide`, some Deployments carry a second sidecar (another of the pool than the
    /// cluster's own); none otherwise.
    fn second_sidecar(&mut self) -> Option<ContainerRun> {
        if self.wide.is_none() || !self.rng.random_bool(0.3) {
            return None;
        }
        let (name, image, process) = *names::pick(&mut self.rng, names::SIDECARS);
        if name == self.sidecar.0 {
            return None;
        }
        let tag = names::version(&mut self.rng);
        Some(self.new_container(
            name,
            image,
            &tag,
            process,
            false,
            &[64.0, 128.0, 256.0],
            0.01,
        ))
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
            let second_sidecar = self.second_sidecar();
            for replica in 0..replicas {
                let mut pod_containers = vec![if replica == 0 {
                    main.clone()
                } else {
                    self.replica_of(&main)
                }];
                for sidecar in sidecar.iter().chain(&second_sidecar) {
                    pod_containers.push(self.replica_of(sidecar));
                }
                containers += pod_containers.len();
                let pod_name = format!("{name}-{hash}-{}", random_string(&mut self.rng, SAFE, 5));
                let node = self.rng.random_range(0..self.nodes.len());
                self.push_long_lived_pod(w, pod_name, node, Some(hash.clone()), pod_containers);
            }
            if serves {
                self.add_service(name, namespace, w, &word, lang);
            }
            index += 1;
        }
    }
}
