//! Kubernetes events as the cluster would report them, queued on `World::events` for `emit` to
//! write in the three `otel_logs` shapes (`scenarios::events`): the kubelet's container
//! lifecycle (Scheduled, Pulling/Pulled, Created, Started, Killing, Unhealthy, BackOff, Failed),
//! controller events (ScalingReplicaSet, SuccessfulCreate/Delete, Completed), and
//! node-problem-detector's `OOMKilling`. Scenarios call these to tell their story in events;
//! `add_background_events` adds the readiness-probe noise of a healthy cluster.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::world::{Kind, World};
use crate::demo::scenarios::events::{KEvent, ObjRef};
use crate::demo::scenarios::names;
use crate::demo::scenarios::{between, uniform, MIB, MIN, SEC};

impl World {
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

    pub(super) fn kubelet_event(
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
    pub(super) fn controller_event(
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
    pub(super) fn container_start_events(&mut self, at: i64, p: usize, c: usize, fresh_pull: bool) {
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
    pub(super) fn pod_start_events(&mut self, p: usize, fresh_pull: bool) {
        self.pod_scheduled_event(p);
        for c in 0..self.pods[p].containers.len() {
            let at = self.pods[p].start + between(&mut self.rng, SEC / 2, 3 * SEC);
            self.container_start_events(at, p, c, fresh_pull);
        }
    }

    pub(super) fn pod_scheduled_event(&mut self, p: usize) {
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
    pub(super) fn container_start_failed_events(&mut self, at: i64, p: usize, c: usize) {
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
    pub(super) fn image_pull_failure_events(&mut self, p: usize, c: usize, from: i64) -> i64 {
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
    pub(super) fn liveness_restart_events(
        &mut self,
        restart: i64,
        p: usize,
        c: usize,
        timeout: bool,
    ) {
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

    pub(super) fn backoff_message(&self, p: usize, c: usize) -> String {
        let pod = &self.pods[p];
        format!(
            "Back-off restarting failed container {} in pod {}_{}({})",
            pod.containers[c].name, pod.name, self.workloads[pod.workload].namespace, pod.uid
        )
    }

    /// node-problem-detector's kernel-monitor event for an OOM kill in a container.
    pub(super) fn node_oom_event(&mut self, at: i64, p: usize, c: usize) {
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

    /// A few readiness-probe failures on healthy pods: the everyday noise of a cluster.
    pub(super) fn add_background_events(&mut self) {
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
}
