//! Word pools and Kubernetes-style name makers, so every seed yields a different-looking cluster
//! (cluster, namespaces, nodes, workloads, canaries) with names shaped like the real thing.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;

pub const HEX: &[u8] = b"0123456789abcdef";
/// The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alike digits).
pub const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const ENVIRONMENTS: &[&str] = &[
    "prod",
    "prd",
    "live",
    "production",
    "staging",
    "stg",
    "preprod",
    "shop-prod",
    "core-prod",
    "edge",
    "main",
    "platform-prod",
    "apps-prod",
];
const REGIONS: &[&str] = &[
    "eu-west-1",
    "eu-central-1",
    "eu-north-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-southeast-1",
    "ap-northeast-1",
    "sa-east-1",
    "europe-west4",
    "us-central1",
    "asia-east1",
    "westeurope",
    "eastus2",
];
const CLUSTER_SUFFIXES: &[&str] = &[
    "", "", "", "-a", "-b", "-blue", "-green", "-01", "-02", "-k8s",
];

pub const APP_NAMESPACES: &[&str] = &[
    "shop",
    "checkout",
    "payments",
    "catalog",
    "search",
    "identity",
    "media",
    "ingest",
    "logistics",
    "analytics",
    "messaging",
    "accounts",
    "billing",
    "content",
    "orders",
    "risk",
    "growth",
    "ml-serving",
    "partner",
    "backoffice",
];
pub const INFRA_NAMESPACES: &[&str] = &[
    "monitoring",
    "observability",
    "platform",
    "infra",
    "ops",
    "kube-system",
];

const SERVICE_WORDS: &[&str] = &[
    "cart",
    "checkout",
    "payment",
    "ledger",
    "catalog",
    "search",
    "inventory",
    "shipping",
    "auth",
    "session",
    "profile",
    "notification",
    "email",
    "recommend",
    "pricing",
    "review",
    "media",
    "upload",
    "thumbnail",
    "billing",
    "invoice",
    "gateway",
    "frontend",
    "orders",
    "fraud",
    "loyalty",
    "coupon",
    "tax",
    "geo",
    "rating",
    "wishlist",
    "ads",
    "feed",
    "chat",
    "report",
    "export",
    "sync",
    "audit",
    "quota",
    "account",
    "refund",
    "subscription",
    "currency",
    "address",
    "delivery",
    "warehouse",
    "returns",
    "promo",
    "identity",
    "consent",
    "webhook",
    "indexer",
    "translation",
    "image",
    "document",
    "storefront",
    "basket",
    "bff",
    "tracking",
    "label",
];
const SERVICE_SUFFIXES: &[&str] = &[
    "", "", "", "-api", "-svc", "-service", "-web", "-grpc", "-backend", "-server",
];
const WORKER_SUFFIXES: &[&str] = &[
    "-worker",
    "-consumer",
    "-processor",
    "-relay",
    "-dispatcher",
    "-reconciler",
    "-poller",
    "-projector",
    "-sync",
    "-scheduler",
];

/// (name, process) of stateful backends.
pub const STATEFUL: &[(&str, &str)] = &[
    ("postgres", "postgres"),
    ("redis", "redis-server"),
    ("kafka", "java"),
    ("zookeeper", "java"),
    ("rabbitmq", "beam.smp"),
    ("elasticsearch", "java"),
    ("mongodb", "mongod"),
    ("clickhouse", "clickhouse-server"),
    ("nats", "nats-server"),
    ("etcd", "etcd"),
    ("minio", "minio"),
    ("cassandra", "java"),
    ("valkey", "valkey-server"),
    ("mysql", "mysqld"),
];
/// (name, image, process) of per-node agents.
pub const DAEMONSETS: &[(&str, &str, &str)] = &[
    (
        "fluent-bit",
        "cr.fluentbit.io/fluent/fluent-bit",
        "fluent-bit",
    ),
    (
        "node-exporter",
        "quay.io/prometheus/node-exporter",
        "node_exporter",
    ),
    (
        "otel-agent",
        "otel/opentelemetry-collector-contrib",
        "otelcol-contrib",
    ),
    ("kube-proxy", "registry.k8s.io/kube-proxy", "kube-proxy"),
    ("calico-node", "docker.io/calico/node", "calico-node"),
    ("cilium", "quay.io/cilium/cilium", "cilium-agent"),
    ("promtail", "docker.io/grafana/promtail", "promtail"),
    (
        "ebs-csi-node",
        "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver",
        "aws-ebs-csi-driver",
    ),
    ("vector", "docker.io/timberio/vector", "vector"),
];
/// (container name, image, process) of a mesh or helper sidecar.
pub const SIDECARS: &[(&str, &str, &str)] = &[
    ("istio-proxy", "docker.io/istio/proxyv2", "pilot-agent"),
    ("envoy", "docker.io/envoyproxy/envoy", "envoy"),
    (
        "log-shipper",
        "cr.fluentbit.io/fluent/fluent-bit",
        "fluent-bit",
    ),
    (
        "otel-agent",
        "otel/opentelemetry-collector-contrib",
        "otelcol-contrib",
    ),
    (
        "cloud-sql-proxy",
        "gcr.io/cloud-sql-connectors/cloud-sql-proxy",
        "cloud-sql-proxy",
    ),
    ("vault-agent", "docker.io/hashicorp/vault", "vault"),
];
pub const CRONJOBS: &[&str] = &[
    "report-export",
    "nightly-etl",
    "cache-warmer",
    "invoice-batch",
    "db-backup",
    "sitemap-builder",
    "cleanup",
    "reindex",
    "metrics-rollup",
    "feed-import",
    "usage-aggregator",
    "dunning-run",
    "search-reindex",
    "thumbnail-sweep",
];
const CANARY_PREFIXES: &[&str] = &[
    "canary",
    "synthetic",
    "probe",
    "heartbeat",
    "smoke",
    "uptime",
];
const CANARY_TARGETS: &[&str] = &[
    "checkout",
    "login",
    "search",
    "api",
    "payments",
    "ingest",
    "orders",
    "frontend",
    "dns",
    "kafka-roundtrip",
    "cart",
    "signup",
    "webhooks",
    "email-delivery",
    "s3-upload",
    "graphql",
];
pub const ORGS: &[&str] = &[
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "soylent",
    "wonka",
];

pub fn random_string(rng: &mut StdRng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A version-4-shaped UUID, as Kubernetes gives pod and object UIDs.
pub fn uuid(rng: &mut StdRng) -> String {
    let h = random_string(rng, HEX, 32);
    let variant = ["8", "9", "a", "b"][rng.random_range(0..4)];
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}

pub fn pick<'a, T>(rng: &mut StdRng, pool: &'a [T]) -> &'a T {
    pool.choose(rng).expect("word pools are not empty")
}

/// `n` distinct entries of `pool`, in random order.
pub fn pick_distinct<T: Copy>(rng: &mut StdRng, pool: &[T], n: usize) -> Vec<T> {
    pool.choose_multiple(rng, n.min(pool.len()))
        .copied()
        .collect()
}

pub fn cluster_name(rng: &mut StdRng) -> String {
    format!(
        "{}-{}{}",
        pick(rng, ENVIRONMENTS),
        pick(rng, REGIONS),
        pick(rng, CLUSTER_SUFFIXES)
    )
}

/// Node names in one cloud's style (EKS, GKE or AKS), chosen per cluster.
pub fn node_names(rng: &mut StdRng, cluster: &str, n: usize) -> Vec<String> {
    let style = rng.random_range(0..3);
    let region = REGIONS
        .iter()
        .find(|r| cluster.contains(*r) && r.contains('-') && r.matches('-').count() == 2)
        .map(|r| format!("{r}.compute.internal"))
        .unwrap_or_else(|| "ec2.internal".to_string());
    let gke_pool = *pick(rng, &["default-pool", "pool-1", "apps", "highmem"]);
    let gke_group = random_string(rng, HEX, 8);
    let aks_pool = *pick(rng, &["nodepool1", "user", "apps", "system"]);
    let aks_id: u32 = rng.random_range(10_000_000..99_999_999);
    let subnet: u8 = rng.random_range(0..64);
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    let mut i = 0u32;
    while out.len() < n {
        let name = match style {
            0 => format!(
                "ip-10-{}-{}-{}.{}",
                subnet,
                rng.random_range(0..256),
                rng.random_range(1..255),
                region
            ),
            1 => {
                let short: String = cluster.chars().take(20).collect();
                format!(
                    "gke-{short}-{gke_pool}-{gke_group}-{}",
                    random_string(rng, SAFE, 4)
                )
            }
            _ => format!("aks-{aks_pool}-{aks_id}-vmss{i:06x}"),
        };
        i += 1;
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// Cluster-wide unique names: a taken candidate gets a numeric suffix.
#[derive(Default)]
pub struct NameBook {
    used: BTreeSet<String>,
}

impl NameBook {
    pub fn unique(&mut self, candidate: &str) -> String {
        let mut name = candidate.to_string();
        let mut n = 2;
        while self.used.contains(&name) {
            name = format!("{candidate}-{n}");
            n += 1;
        }
        self.used.insert(name.clone());
        name
    }

    /// A deployment name and its domain word (`cart-api` → `cart`).
    pub fn deployment(&mut self, rng: &mut StdRng, serves_requests: bool) -> (String, String) {
        for _ in 0..40 {
            let word = *pick(rng, SERVICE_WORDS);
            let suffix = if serves_requests || rng.random_bool(0.4) {
                *pick(rng, SERVICE_SUFFIXES)
            } else {
                *pick(rng, WORKER_SUFFIXES)
            };
            let name = format!("{word}{suffix}");
            if !self.used.contains(&name) {
                self.used.insert(name.clone());
                return (name, word.to_string());
            }
        }
        let word = *pick(rng, SERVICE_WORDS);
        (self.unique(word), word.to_string())
    }

    pub fn canary(&mut self, rng: &mut StdRng) -> String {
        for _ in 0..40 {
            let name = format!(
                "{}-{}",
                pick(rng, CANARY_PREFIXES),
                pick(rng, CANARY_TARGETS)
            );
            if !self.used.contains(&name) {
                self.used.insert(name.clone());
                return name;
            }
        }
        self.unique("canary")
    }
}

/// The runtime of an application container: what its OOM-killed process is called and which
/// logger writes its access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Java,
    Go,
    Node,
    Python,
    Dotnet,
    Ruby,
}

impl Lang {
    pub fn random(rng: &mut StdRng) -> Lang {
        let roll = rng.random_range(0..100);
        match roll {
            0..30 => Lang::Java,
            30..60 => Lang::Go,
            60..75 => Lang::Node,
            75..90 => Lang::Python,
            90..95 => Lang::Dotnet,
            _ => Lang::Ruby,
        }
    }

    pub fn process(self, binary: &str) -> String {
        match self {
            Lang::Java => "java".into(),
            Lang::Go => binary.into(),
            Lang::Node => "node".into(),
            Lang::Python => "python3".into(),
            Lang::Dotnet => "dotnet".into(),
            Lang::Ruby => "ruby".into(),
        }
    }

    pub fn logger(self, rng: &mut StdRng, org: &str, service: &str) -> String {
        match self {
            Lang::Java => format!("com.{org}.{}.web.AccessLogFilter", service.replace('-', "")),
            Lang::Go => format!("github.com/{org}/{service}/internal/httpserver"),
            Lang::Node => pick(rng, &["express", "pino-http", "fastify"]).to_string(),
            Lang::Python => pick(
                rng,
                &["uvicorn.access", "gunicorn.access", "django.request"],
            )
            .to_string(),
            Lang::Dotnet => "Microsoft.AspNetCore.Hosting.Diagnostics".into(),
            Lang::Ruby => "Rails".into(),
        }
    }

    /// Relative size of the garbage-collection ripple in the working set.
    pub fn gc_ripple(self, rng: &mut StdRng) -> f64 {
        match self {
            Lang::Java | Lang::Dotnet => rng.random_range(0.02..0.05),
            Lang::Go | Lang::Node => rng.random_range(0.01..0.03),
            Lang::Python | Lang::Ruby => rng.random_range(0.0..0.01),
        }
    }
}

pub fn version(rng: &mut StdRng) -> String {
    format!(
        "{}.{}.{}",
        rng.random_range(1..6),
        rng.random_range(0..30),
        rng.random_range(0..20)
    )
}

pub fn pod_ip(rng: &mut StdRng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.random_range(32..128),
        rng.random_range(0..256),
        rng.random_range(2..255)
    )
}
