//! Test harness: the real ClickHouse engine (chdb-core) behind the ClickHouse HTTP interface
//! (`tests/support/chserver.py`), started on a free loopback port, one fresh database per test.
//!
//! The server runs from the virtualenv that `scripts/install-test-deps.sh` creates. If it cannot
//! start, tests fail with a message saying how to install it; they never skip.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use forewarn::source::ClickHouseConfig;

pub struct TestServer {
    child: Mutex<Child>,
    /// Held open: the server exits when this pipe closes (the test process ended).
    _stdin: Mutex<ChildStdin>,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts a server; `password` makes it require that password for user `default`.
    pub fn start(password: Option<&str>) -> TestServer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("FOREWARN_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        let install_hint = "the ClickHouse test server needs the chdb-core virtualenv: run \
                            scripts/install-test-deps.sh (or scripts/test.sh, which runs it)";
        assert!(
            python.exists(),
            "{} not found — {install_hint}",
            python.display()
        );
        let dir = tempfile::tempdir().expect("temp dir for the test server");
        let mut command = Command::new(&python);
        command
            .arg(root.join("tests/support/chserver.py"))
            .args(["--port", "0", "--data-dir"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(password) = password {
            command.args(["--password", password]);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e} — {install_hint}", python.display()));
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the test server's first line");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let status = child.try_wait().ok().flatten();
                panic!(
                    "the ClickHouse test server did not start (said {line:?}, exit {status:?}) — {install_hint}"
                )
            });
        let stdin = child.stdin.take().expect("server stdin");
        TestServer {
            child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
            port,
            _dir: dir,
        }
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

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The server shared by the tests of one test binary (started on first use).
pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| TestServer::start(None))
}

/// The forewarn binary built for these tests.
pub fn forewarn_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forewarn"))
}
