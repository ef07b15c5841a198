//! Test harness for the loopback notification fakes (`tests/support/loopback.py`): Slack,
//! Alertmanager, generic webhooks and healthchecks pings over real HTTP, and a real SMTP server
//! (aiosmtpd). One process per test, on free loopback ports, stopped on drop and dying with the
//! test process (its stdin closes).
//!
//! The Python comes from the virtualenv `scripts/install-test-deps.sh` builds
//! (`FOREWARN_TEST_PYTHON` overrides); if the fake cannot start, the test fails saying how to
//! install it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde::Deserialize;
use serde_json::{json, Value};

pub struct Loopback {
    child: Child,
    _stdin: ChildStdin,
    pub http_port: u16,
    /// Plain SMTP.
    pub smtp_port: u16,
    /// With TLS (`with_tls`): SMTP requiring STARTTLS, SMTP over TLS, and the CA (PEM) that
    /// signed their certificate for 127.0.0.1.
    pub starttls_port: Option<u16>,
    pub smtps_port: Option<u16>,
    pub ca_pem: Option<String>,
    control: reqwest::Client,
}

/// One HTTP request as the fake received it.
#[derive(Debug, Clone, Deserialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub received_at: f64,
}

impl Recorded {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body of {} {} is not JSON: {e}", self.method, self.path))
    }
}

/// One SMTP message as the fake received it.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// Which SMTP server took it: `plain`, `starttls` or `smtps`.
    pub server: String,
    /// The login of a successful AUTH, if any.
    pub login: Option<String>,
    /// The raw RFC 5322 message.
    pub data: String,
}

#[derive(Deserialize)]
struct Ports {
    http_port: u16,
    smtp_port: u16,
    #[serde(default)]
    starttls_port: Option<u16>,
    #[serde(default)]
    smtps_port: Option<u16>,
    #[serde(default)]
    ca_pem: Option<String>,
}

fn python() -> PathBuf {
    std::env::var_os("FOREWARN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

impl Loopback {
    /// Starts the fakes; SMTP accepts mail without AUTH.
    pub fn start() -> Loopback {
        Loopback::start_with(&[])
    }

    /// Starts the fakes with SMTP requiring this login.
    pub fn with_smtp_login(user: &str, password: &str) -> Loopback {
        Loopback::start_with(&["--smtp-user", user, "--smtp-password", password])
    }

    /// Starts the fakes with SMTP requiring this login, plus STARTTLS and TLS ports whose
    /// certificate a fresh private CA signed (`ca_pem`).
    pub fn with_tls(user: &str, password: &str) -> Loopback {
        Loopback::start_with(&["--smtp-user", user, "--smtp-password", password, "--tls"])
    }

    fn start_with(args: &[&str]) -> Loopback {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/loopback.py");
        let python = python();
        let mut child = Command::new(&python)
            .arg(&script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} {}: {e}; run scripts/install-test-deps.sh \
                     (or set FOREWARN_TEST_PYTHON)",
                    python.display(),
                    script.display()
                )
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading the fake's ports");
        let ports: Ports = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "loopback.py did not print its ports ({e}): {line:?}; is aiosmtpd installed? \
                 run scripts/install-test-deps.sh"
            )
        });
        Loopback {
            child,
            _stdin: stdin,
            http_port: ports.http_port,
            smtp_port: ports.smtp_port,
            starttls_port: ports.starttls_port,
            smtps_port: ports.smtps_port,
            ca_pem: ports.ca_pem,
            control: {
                forewarn::act::notify::install_tls_provider();
                reqwest::Client::new()
            },
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// Scripts `path`: answer `responses` in order, then `then` for ever.
    /// Each response is `{"status": N, "headers": {..}, "body": "..", "delay_s": F}`.
    pub async fn script(&self, path: &str, responses: Value, then: Value) {
        let reply = self
            .control
            .post(self.url("/_loopback/script"))
            .body(json!({"path": path, "responses": responses, "then": then}).to_string())
            .send()
            .await
            .expect("scripting the fake");
        assert!(reply.status().is_success(), "scripting {path}: {reply:?}");
    }

    /// Every HTTP request received so far, oldest first.
    pub async fn requests(&self) -> Vec<Recorded> {
        self.control
            .get(self.url("/_loopback/requests"))
            .send()
            .await
            .expect("fetching records")
            .json()
            .await
            .expect("records are JSON")
    }

    /// The requests received on `path`.
    pub async fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Every SMTP message received so far, oldest first.
    pub async fn mails(&self) -> Vec<RecordedMail> {
        self.control
            .get(self.url("/_loopback/smtp"))
            .send()
            .await
            .expect("fetching mails")
            .json()
            .await
            .expect("mails are JSON")
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
