//! Services and their traffic: the first Deployments serve requests, each with its own rate,
//! diurnal swing, routes, logger and baseline error ratio (`scenarios::traffic` writes the
//! request logs). Once the cluster stands, a shuffled draw gives some services a role: an
//! error burst or an error creep (the error-rate incidents), or chronically high errors, a
//! traffic swing at a constant ratio, or a quiet service (the error-rate hard negatives). The
//! other services then share what is left of the log-volume budget.

use std::vec::IntoIter;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::world::{entity, Entity, World};
use crate::demo::scenarios::names::Lang;
use crate::demo::scenarios::traffic::{self, ErrorShape, Service, TrafficShape};
use crate::demo::scenarios::{between, datetime, human_duration, log_uniform, uniform, HOUR, MIN};

impl World {
    /// A serving Deployment's service with steady errors and diurnal traffic.
    pub(super) fn add_service(
        &mut self,
        name: String,
        namespace: String,
        workload: usize,
        word: &str,
        lang: Lang,
    ) {
        let rng = &mut self.rng;
        let service = Service {
            name: name.clone(),
            namespace,
            workload,
            // Wide: 0.2 to 200 requests a minute, three orders of magnitude.
            rate_per_minute: if self.wide.is_some() {
                log_uniform(rng, 0.2, 200.0)
            } else {
                log_uniform(rng, 5.0, 100.0)
            },
            diurnal_amplitude: uniform(rng, 0.15, 0.5),
            diurnal_peak_hour: (self.peak_hour + uniform(rng, -2.0, 2.0)).rem_euclid(24.0),
            baseline_error_ratio: log_uniform(rng, 0.001, 0.02),
            errors: ErrorShape::Steady,
            traffic: TrafficShape::Diurnal,
            routes: traffic::routes(rng, word),
            logger: lang.logger(rng, &self.org, &name),
            latency_ms: log_uniform(rng, 4.0, 120.0),
            role: None,
        };
        self.services.push(service);
    }

    /// 1–2 error bursts, one error creep, one service with chronic errors, one traffic swing,
    /// 1–2 quiet services, each on a different service (while services last); then the
    /// remaining services' rates are scaled to the log-volume budget.
    pub(super) fn assign_service_roles(&mut self) {
        let mut rng = self.child_rng();
        let mut order: Vec<usize> = (0..self.services.len()).collect();
        order.shuffle(&mut rng);
        let mut order = order.into_iter();
        for _ in 0..rng.random_range(1..=2) {
            let Some(s) = order.next() else { break };
            if !self.error_burst(&mut rng, s) {
                break;
            }
        }
        if let Some(s) = order.next() {
            self.error_creep(&mut rng, s);
        }
        if let Some(s) = order.next() {
            self.chronic_errors(&mut rng, s);
        }
        if let Some(s) = order.next() {
            self.traffic_swing(&mut rng, s);
        }
        self.quiet_services(&mut rng, &mut order);
        self.share_log_budget();
    }

    /// Incident: the error ratio jumps to 5–30× baseline at onset, until the end of the data
    /// or for 30 min to 3 h. False when the window has no room for it (nothing changed).
    fn error_burst(&mut self, rng: &mut StdRng, s: usize) -> bool {
        let win = self.win;
        let (lo, hi) = (win.at(0.3), win.end - 45 * MIN);
        if hi <= lo {
            return false;
        }
        let onset = between(rng, lo, hi);
        let until = if rng.random_bool(0.4) {
            win.end
        } else {
            (onset + between(rng, 30 * MIN, 3 * HOUR)).min(win.end)
        };
        let baseline = log_uniform(rng, 0.002, 0.03);
        let multiplier = uniform(rng, (0.04 / baseline).clamp(5.0, 30.0), 30.0);
        let svc = &mut self.services[s];
        svc.rate_per_minute = uniform(rng, 15.0, 50.0);
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
        true
    }

    /// Incident: the error ratio rises linearly to 6–12× baseline over 1–3 h; impact when it
    /// reaches 5×. Left out when the window has no room for it.
    fn error_creep(&mut self, rng: &mut StdRng, s: usize) {
        let win = self.win;
        let ramp = between(rng, HOUR, 3 * HOUR);
        let final_multiplier = uniform(rng, 6.0, 12.0);
        let to_five = (ramp as f64 * 4.0 / (final_multiplier - 1.0)) as i64;
        let lo = win.at(0.3);
        let hi = (win.end - ramp - 15 * MIN).max(win.end - to_five - 45 * MIN);
        if hi <= lo {
            return;
        }
        let onset = between(rng, lo, hi);
        // Wide: a busy service whose fraction of a percent creeps up (thousands of requests an
        // hour, so the trend is significant long before 5×).
        let (baseline, rate_per_minute) = if self.wide.is_some() {
            (
                log_uniform(rng, 0.001, 0.005),
                log_uniform(rng, 60.0, 400.0),
            )
        } else {
            (log_uniform(rng, 0.005, 0.03), uniform(rng, 15.0, 50.0))
        };
        let svc = &mut self.services[s];
        svc.rate_per_minute = rate_per_minute;
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

    /// Hard negative: 5–10 % errors all window long, high but flat.
    fn chronic_errors(&mut self, rng: &mut StdRng, s: usize) {
        let svc = &mut self.services[s];
        svc.rate_per_minute = uniform(rng, 10.0, 60.0);
        svc.baseline_error_ratio = uniform(rng, 0.05, 0.10);
        svc.role = Some("chronic_errors");
        let description = format!(
            "{}: {:.1}% errors all window long (chronically high but flat)",
            svc.name,
            svc.baseline_error_ratio * 100.0
        );
        let service_entity = self.service_entity(s);
        self.negative("error_rate", "chronic_errors", service_entity, description);
    }

    /// Hard negative: traffic swings 5–10× (one broad peak or a few bursts) while the error
    /// ratio stays the same.
    fn traffic_swing(&mut self, rng: &mut StdRng, s: usize) {
        let win = self.win;
        let multiplier = uniform(rng, 5.0, 10.0);
        let traffic = if rng.random_bool(0.5) {
            TrafficShape::Peak {
                at: win.at(uniform(rng, 0.3, 0.7)),
                width: between(rng, 90 * MIN, 3 * HOUR),
                multiplier,
            }
        } else {
            let spans = (0..rng.random_range(2..=4))
                .map(|_| {
                    let start = between(rng, win.start, win.end - 30 * MIN);
                    (start, start + between(rng, 20 * MIN, 90 * MIN))
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
        svc.rate_per_minute = uniform(rng, 4.0, 12.0);
        svc.diurnal_amplitude = uniform(rng, 0.0, 0.1);
        svc.baseline_error_ratio = uniform(rng, 0.005, 0.02);
        svc.role = Some("traffic_swing");
        let description = format!(
            "{}: traffic swings {multiplier:.0}× ({style}) while the error ratio stays {:.2}%",
            svc.name,
            svc.baseline_error_ratio * 100.0
        );
        let service_entity = self.service_entity(s);
        self.negative("error_rate", "traffic_swing", service_entity, description);
    }

    /// Hard negative: 1–2 services with a few requests an hour and an occasional error.
    fn quiet_services(&mut self, rng: &mut StdRng, order: &mut IntoIter<usize>) {
        for _ in 0..rng.random_range(1..=2) {
            let Some(s) = order.next() else { break };
            let per_hour = uniform(rng, 2.0, 12.0);
            let svc = &mut self.services[s];
            svc.traffic = TrafficShape::Quiet { per_hour };
            svc.baseline_error_ratio = uniform(rng, 0.02, 0.08);
            svc.role = Some("quiet_service");
            let description = format!(
                "{}: ~{per_hour:.0} requests per hour, an occasional error ({:.0}% of requests)",
                svc.name,
                svc.baseline_error_ratio * 100.0
            );
            let service_entity = self.service_entity(s);
            self.negative("error_rate", "quiet_service", service_entity, description);
        }
    }

    /// Keeps the log volume near 460 requests/min per unit of scale: normal services share
    /// what the scenario services leave (at least 5 requests/min each). Under `Wide` the
    /// budget is twice that and the floor 0.05/min, so one factor scales every normal service
    /// and their rates keep spanning three orders of magnitude.
    fn share_log_budget(&mut self) {
        let win = self.win;
        let (budget, floor) = match self.wide {
            Some(_) => (920.0 * self.scale, 0.05),
            None => (460.0 * self.scale, 5.0),
        };
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
        let allowed = (budget - fixed).max(floor * normal.len() as f64);
        if normal_total > allowed {
            let factor = allowed / normal_total;
            for s in normal {
                let svc = &mut self.services[s];
                svc.rate_per_minute = (svc.rate_per_minute * factor).max(floor);
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
}
