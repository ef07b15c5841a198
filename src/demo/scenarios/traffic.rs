//! Application request logs: one log record per request, `GET /api/cart 200 12ms`, severity
//! INFO for success, WARN for client errors and slow requests (not errors), ERROR for 5xx and a
//! rare FATAL (also an error). Traffic per minute is Poisson around a rate with diurnal
//! modulation; the error ratio follows the service's error shape.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::{uniform, Sink, Window, HOUR, MIN};
use crate::demo::model::LogRecord;

#[derive(Debug, Clone)]
pub enum ErrorShape {
    /// The baseline ratio throughout.
    Steady,
    /// `multiplier` × baseline in `[onset, until)`.
    Burst {
        onset: i64,
        until: i64,
        multiplier: f64,
    },
    /// Rises linearly from baseline at `onset` to `final_multiplier` × baseline over `ramp`,
    /// then stays there.
    Creep {
        onset: i64,
        ramp: i64,
        final_multiplier: f64,
    },
}

#[derive(Debug, Clone)]
pub enum TrafficShape {
    /// Rate × diurnal modulation.
    Diurnal,
    /// A broad daily peak `multiplier` × the base rate around `at` (business hours).
    Peak {
        at: i64,
        width: i64,
        multiplier: f64,
    },
    /// Bursts of `multiplier` × the base rate, with five-minute ramps.
    Bursts {
        spans: Vec<(i64, i64)>,
        multiplier: f64,
    },
    /// A handful of requests per hour.
    Quiet { per_hour: f64 },
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    /// Index of the serving Deployment.
    pub workload: usize,
    pub rate_per_minute: f64,
    pub diurnal_amplitude: f64,
    pub diurnal_peak_hour: f64,
    pub baseline_error_ratio: f64,
    pub errors: ErrorShape,
    pub traffic: TrafficShape,
    /// (method, route, relative weight).
    pub routes: Vec<(&'static str, String, f64)>,
    pub logger: String,
    pub latency_ms: f64,
    /// Set once a scenario claimed the service.
    pub role: Option<&'static str>,
}

const ROUTE_TAILS: &[&str] = &[
    "",
    "/items",
    "/search",
    "/summary",
    "/batch",
    "/status",
    "/export",
    "/:id",
    "/:id/history",
    "/validate",
    "/preview",
    "/lookup",
];
const ERROR_MESSAGES: &[&str] = &[
    "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
    "context deadline exceeded",
    "dial tcp: connect: connection refused",
    "read timeout after 5000ms",
    "database connection pool exhausted",
    "unexpected EOF from upstream",
    "internal server error",
    "circuit breaker open",
];
const FATAL_MESSAGES: &[&str] = &[
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "Unhandled exception in request handler, worker exiting",
    "fatal: out of file descriptors",
];

pub fn routes(rng: &mut StdRng, word: &str) -> Vec<(&'static str, String, f64)> {
    let base = match rng.random_range(0..3) {
        0 => format!("/api/{word}"),
        1 => format!("/api/v1/{word}"),
        _ => format!("/v2/{word}"),
    };
    let n = rng.random_range(3..7);
    ROUTE_TAILS
        .choose_multiple(rng, n)
        .enumerate()
        .map(|(i, tail)| {
            let method = if i == 0 {
                "GET"
            } else {
                *["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"]
                    .choose(rng)
                    .expect("not empty")
            };
            (method, format!("{base}{tail}"), 1.0 / (i as f64 + 1.0))
        })
        .collect()
}

impl Service {
    pub fn requests_per_minute_at(&self, t: i64) -> f64 {
        let hour = t.rem_euclid(24 * HOUR) as f64 / HOUR as f64;
        let diurnal = 1.0
            + self.diurnal_amplitude
                * (std::f64::consts::TAU * (hour - self.diurnal_peak_hour) / 24.0).cos();
        let swing = match &self.traffic {
            TrafficShape::Quiet { per_hour } => return per_hour / 60.0,
            TrafficShape::Diurnal => 1.0,
            TrafficShape::Peak {
                at,
                width,
                multiplier,
            } => {
                let z = (t - at) as f64 / *width as f64;
                1.0 + (multiplier - 1.0) * (-z * z).exp()
            }
            TrafficShape::Bursts { spans, multiplier } => {
                let ramp = 5 * MIN;
                let level = spans
                    .iter()
                    .filter(|(s, e)| t >= *s && t < *e)
                    .map(|(s, e)| {
                        let up = (t - s) as f64 / ramp as f64;
                        let down = (e - t) as f64 / ramp as f64;
                        up.min(down).min(1.0)
                    })
                    .fold(0.0, f64::max);
                1.0 + (multiplier - 1.0) * level
            }
        };
        self.rate_per_minute * diurnal * swing
    }

    pub fn error_ratio_at(&self, t: i64) -> f64 {
        let b = self.baseline_error_ratio;
        let ratio = match self.errors {
            ErrorShape::Steady => b,
            ErrorShape::Burst {
                onset,
                until,
                multiplier,
            } => {
                if t >= onset && t < until {
                    b * multiplier
                } else {
                    b
                }
            }
            ErrorShape::Creep {
                onset,
                ramp,
                final_multiplier,
            } => {
                let u = ((t - onset) as f64 / ramp as f64).clamp(0.0, 1.0);
                b * (1.0 + (final_multiplier - 1.0) * u)
            }
        };
        ratio.min(0.9)
    }

    /// Mean requests per minute over the window (for the log budget).
    pub fn mean_rate(&self, win: Window) -> f64 {
        let samples = 48;
        (0..samples)
            .map(|i| self.requests_per_minute_at(win.at((i as f64 + 0.5) / samples as f64)))
            .sum::<f64>()
            / samples as f64
    }
}

/// Emits the request logs of `svc`, each from one of `pods` (`(start, end, resource)`) alive at
/// the time.
pub fn emit_requests(
    sink: &mut Sink,
    rng: &mut StdRng,
    win: Window,
    svc: &Service,
    pods: &[(i64, i64, u32)],
) {
    let total_weight: f64 = svc.routes.iter().map(|r| r.2).sum();
    let minutes = (win.len() + MIN - 1) / MIN;
    for minute in 0..minutes {
        let t0 = win.start + minute * MIN;
        let lambda = svc.requests_per_minute_at(t0 + MIN / 2);
        let Ok(poisson) = Poisson::new(lambda) else {
            continue;
        };
        let n = poisson.sample(rng) as u64;
        for _ in 0..n {
            let t = t0 + rng.random_range(0..MIN);
            if t >= win.end {
                continue;
            }
            let alive = pods.iter().filter(|p| p.0 <= t && t < p.1).count();
            if alive == 0 {
                continue;
            }
            let pick = rng.random_range(0..alive);
            let resource = pods
                .iter()
                .filter(|p| p.0 <= t && t < p.1)
                .nth(pick)
                .expect("pick < alive")
                .2;
            let mut r = rng.random_range(0.0..total_weight);
            let (method, route) = svc
                .routes
                .iter()
                .find(|(_, _, w)| {
                    r -= w;
                    r < 0.0
                })
                .map(|(m, route, _)| (*m, route.as_str()))
                .unwrap_or((svc.routes[0].0, svc.routes[0].1.as_str()));
            let z: f64 = rng.sample(StandardNormal);
            let mut latency = svc.latency_ms * (0.6 * z).exp();
            let is_error = rng.random_bool(svc.error_ratio_at(t));
            let (severity_number, severity_text, status, body);
            if is_error {
                if rng.random_bool(0.25) {
                    latency = latency * 10.0 + uniform(rng, 1000.0, 30_000.0);
                }
                status = *[500u16, 500, 502, 503, 504].choose(rng).expect("not empty");
                if rng.random_bool(0.01) {
                    severity_number = 21;
                    severity_text = "FATAL";
                    body = FATAL_MESSAGES.choose(rng).expect("not empty").to_string();
                } else {
                    severity_number = 17;
                    severity_text = "ERROR";
                    body = if rng.random_bool(0.3) {
                        format!(
                            "{method} {route} {status} {:.0}ms: {}",
                            latency,
                            ERROR_MESSAGES.choose(rng).expect("not empty")
                        )
                    } else {
                        format!("{method} {route} {status} {latency:.0}ms")
                    };
                }
            } else if rng.random_bool(0.02) {
                severity_number = 13;
                severity_text = "WARN";
                if rng.random_bool(0.5) {
                    status = *[400u16, 404, 404, 409, 429].choose(rng).expect("not empty");
                    body = format!("{method} {route} {status} {latency:.0}ms");
                } else {
                    status = 200;
                    latency = latency * 20.0 + 1000.0;
                    body = format!("slow request: {method} {route} {status} {latency:.0}ms");
                }
            } else {
                severity_number = 9;
                severity_text = "INFO";
                status = match method {
                    "POST" => 201,
                    "DELETE" => 204,
                    _ if rng.random_bool(0.03) => 304,
                    _ => 200,
                };
                body = format!("{method} {route} {status} {latency:.0}ms");
            }
            sink.log(LogRecord {
                resource,
                timestamp_ns: t,
                severity_number,
                severity_text: severity_text.to_string(),
                body,
                attributes: vec![
                    ("http.request.method".to_string(), method.to_string()),
                    ("url.path".to_string(), route.to_string()),
                    ("http.response.status_code".to_string(), status.to_string()),
                ],
                scope_name: svc.logger.clone(),
            });
        }
    }
}
