//! Launches the ClickHouse test server (`tests/support/chserver.py`: the real ClickHouse engine
//! from PyPI `chdb-core` behind the ClickHouse HTTP interface) on a free loopback port. Used by
//! the integration tests and the benchmark; production never starts it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

pub const INSTALL_HINT: &str = "the ClickHouse test server needs the chdb-core virtualenv: run \
                                scripts/install-test-deps.sh (or scripts/test.sh, which runs it)";

#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    #[error("{python} not found — {hint}", hint = INSTALL_HINT)]
    NoPython { python: String },
    #[error("cannot start {python}: {message} — {hint}", hint = INSTALL_HINT)]
    Spawn { python: String, message: String },
    #[error("the ClickHouse test server did not start (it said {said:?}) — {hint}", hint = INSTALL_HINT)]
    NoPort { said: String },
}

/// A running test server; stopped when dropped (and when this process exits: it watches its
/// stdin, which this handle holds open).
pub struct DevServer {
    child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl DevServer {
    /// The virtualenv's Python (`FOREWARN_TEST_PYTHON` overrides).
    pub fn python(repo: &Path) -> PathBuf {
        std::env::var_os("FOREWARN_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join(".venv/bin/python"))
    }

    /// Starts the server from the repository at `repo`; `password` makes it require that
    /// password for user `default`.
    pub fn start(repo: &Path, password: Option<&str>) -> Result<DevServer, DevServerError> {
        DevServer::start_with(repo, password, None)
    }

    /// Like [`DevServer::start`]; `cluster` names a cluster of one shard, this server (a
    /// `Distributed` table can be hosted over it).
    pub fn start_with(
        repo: &Path,
        password: Option<&str>,
        cluster: Option<&str>,
    ) -> Result<DevServer, DevServerError> {
        let python = DevServer::python(repo);
        if !python.exists() {
            return Err(DevServerError::NoPython {
                python: python.display().to_string(),
            });
        }
        let dir = tempfile::tempdir().map_err(|e| DevServerError::Spawn {
            python: python.display().to_string(),
            message: e.to_string(),
        })?;
        let mut command = Command::new(&python);
        command
            .arg(repo.join("tests/support/chserver.py"))
            .args(["--port", "0", "--data-dir"])
            .arg(dir.path())
            // `reader` may read but never write (a readonly=2 profile), for tests of what
            // forewarn does without write access.
            .args(["--readonly-user", "reader"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(password) = password {
            command.args(["--password", password]);
        }
        if let Some(cluster) = cluster {
            command.args(["--cluster", cluster]);
        }
        let mut child = command.spawn().map_err(|e| DevServerError::Spawn {
            python: python.display().to_string(),
            message: e.to_string(),
        })?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(port) = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            return Err(DevServerError::NoPort { said: line });
        };
        let stdin = child.stdin.take().expect("piped stdin");
        Ok(DevServer {
            child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
            port,
            _dir: dir,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
