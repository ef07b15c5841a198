//! Hard negative: CronJobs. Each run is a new pod whose memory grows while the job works, then
//! the pod completes and its series stop; the CronJob and Job controllers' events go with it.
//! Memory detectors must not forecast an OOM from a run's growth, restart detectors must not
//! count the new pods as restarts.

use rand::Rng;

use crate::demo::generate::world::{entity, round_to_16_mib, Kind, World};
use crate::demo::scenarios::memory::Trend;
use crate::demo::scenarios::names::{self, random_string, SAFE};
use crate::demo::scenarios::{between, human_bytes, human_duration, uniform, MIB, MIN, SEC};

impl World {
    /// CronJobs whose pods grow memory while they run, then complete: their series stop.
    pub(super) fn add_cronjobs(&mut self) {
        let count = self.rng.random_range(1..=2);
        for base in names::pick_distinct(&mut self.rng, names::CRONJOBS, count) {
            self.add_cronjob(base, false);
        }
        if self.wide.is_some() {
            let base = *names::pick(&mut self.rng, names::CRONJOBS);
            self.add_cronjob(base, true);
        }
    }

    /// One CronJob and its runs in the data. `near_limit`: short, steep runs that reach
    /// 85–95 % of the limit (labelled `batch_near_limit` on memory).
    fn add_cronjob(&mut self, base: &str, near_limit: bool) {
        let name = self.names.unique(base);
        let namespace = names::pick(&mut self.rng, &self.app_namespaces).clone();
        let w = self.push_workload(Kind::CronJob, name.clone(), namespace.clone());
        self.workloads[w].busy = true;
        let mut rng = self.child_rng();
        let period = *names::pick(&mut rng, &[30, 60, 120]) * MIN;
        let offset = between(&mut rng, 0, period / MIN) * MIN;
        let limit = *names::pick(&mut rng, &[512.0, 768.0, 1024.0, 2048.0]) * MIB;
        let typical = if near_limit {
            between(&mut rng, 3 * MIN, 10 * MIN)
        } else {
            between(&mut rng, 3 * MIN, (period * 6 / 10).min(25 * MIN))
        };
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
        let mut scheduled = self.win.start - self.win.start.rem_euclid(period) - period + offset;
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
            let top = if near_limit {
                limit * uniform(&mut rng, 0.85, 0.95)
            } else {
                limit * uniform(&mut rng, 0.6, 0.92)
            };
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
            if near_limit {
                "batch_near_limit"
            } else {
                "batch_completed"
            },
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
