//! Test harness: the real ClickHouse engine (chdb-core) behind the ClickHouse HTTP interface
//! (`tests/support/chserver.py`), started on a free loopback port, one fresh database per test.
//!
//! The server runs from the virtualenv that `scripts/install-test-deps.sh` creates. If it cannot
//! start, tests fail with a message saying how to install it; they never skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use forewarn::source::ClickHouseConfig;
use forewarn_devserver::DevServer;

pub struct TestServer(DevServer);

impl TestServer {
    /// Starts a server; `password` makes it require that password for user `default`.
    pub fn start(password: Option<&str>) -> TestServer {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        TestServer(DevServer::start(repo, password).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Starts a server on which `cluster` is a cluster of one shard: itself.
    pub fn start_with_cluster(cluster: &str) -> TestServer {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        TestServer(
            DevServer::start_with(repo, None, Some(cluster)).unwrap_or_else(|e| panic!("{e}")),
        )
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    /// A client configuration for a fresh, empty database on this server.
    pub async fn fresh_database(&self) -> ClickHouseConfig {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = ClickHouseConfig::new(self.url()).writable_client();
        admin
            .query_raw(&format!("CREATE DATABASE `{name}`"))
            .execute()
            .await
            .expect("creating a test database");
        let mut config = ClickHouseConfig::new(self.url());
        config.database = Some(name);
        config
    }
}

/// The server shared by the tests of one test binary (started on first use).
pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| TestServer::start(None))
}

/// The cluster of one shard that [`cluster_server`] hosts.
pub const TEST_CLUSTER: &str = "forewarn_test";

/// A server of one test binary on which [`TEST_CLUSTER`] is a cluster of one shard, itself.
pub fn cluster_server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| TestServer::start_with_cluster(TEST_CLUSTER))
}

/// The forewarn binary built for these tests.
pub fn forewarn_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forewarn"))
}

/// The demo's seed-5 cluster, 8 h ending at 2026-11-20T12:00Z, generated once per test binary.
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(forewarn_bin())
            .args(["demo", "generate"])
            .arg(dir.path())
            .args([
                "--seed",
                "5",
                "--hours",
                "8",
                "--end",
                "2026-11-20T12:00:00Z",
            ])
            .env("RUST_LOG", "error")
            .output()
            .expect("running forewarn demo generate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

/// Hand-made exporter-schema datasets for source parity tests.
pub mod fixtures;
/// A loopback Kubernetes API server (the real kube client under test).
pub mod kubeapi;
/// Loopback fakes of the notification receivers (Slack, SMTP, Alertmanager, webhooks, dead-man).
pub mod loopback;
/// The remediation end-to-end harness (demo data, loopback API server, the binary).
pub mod remediate;
