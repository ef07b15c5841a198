//! Test harness: the loopback Kubernetes API server (`tests/support/kubeapi.py`, Python stdlib
//! only) on a free loopback port, a kubeconfig file pointing at it, and a `kube::Client` built
//! the way a user's is (`Kubeconfig::read_from` → `Config::from_custom_kubeconfig` →
//! `Client::try_from`). One server per test, so each test sees only its own requests.
//!
//! The server dies with the test process: it exits when the stdin pipe this handle holds closes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::Value;

/// The bearer token of the kubeconfig's `forewarn` user; the server requires it.
pub const TOKEN: &str = "forewarn-loopback-token";

/// One request the server received, as it recorded it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, "" when none.
    pub query: String,
    pub content_type: Option<String>,
    pub body: Option<Value>,
    /// The bearer token matched.
    pub authorized: bool,
}

impl Recorded {
    /// `"PATCH /apis/apps/v1/namespaces/shop/deployments/web?dryRun=All"`.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }

    /// Whether it changes stored state (a write without `dryRun=All`).
    pub fn persists(&self) -> bool {
        self.method != "GET" && !self.query.split('&').any(|p| p == "dryRun=All")
    }
}

pub struct KubeApi {
    child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl KubeApi {
    /// Starts a server and writes its kubeconfig (current context `loopback`; context
    /// `stranger` has a token the server refuses; context `tls` points at an HTTPS address where
    /// nothing listens, so a client with TLS is built but cannot connect).
    pub fn start() -> KubeApi {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("FOREWARN_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("python3"));
        let mut child = Command::new(&python)
            .arg(repo.join("tests/support/kubeapi.py"))
            .args(["--port", "0", "--token", TOKEN])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("the loopback Kubernetes API server did not start (it said {line:?})")
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let server = KubeApi {
            child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
            port,
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        std::fs::write(server.kubeconfig_path(), server.kubeconfig()).expect("writing kubeconfig");
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: loopback\n\
             clusters:\n- name: loopback\n  cluster:\n    server: {url}\n\
             - name: tls-nowhere\n  cluster:\n    server: https://127.0.0.1:9\n\
             users:\n- name: forewarn\n  user:\n    token: {TOKEN}\n\
             - name: stranger\n  user:\n    token: not-the-token\n\
             contexts:\n- name: loopback\n  context:\n    cluster: loopback\n    user: forewarn\n    namespace: shop\n\
             - name: stranger\n  context:\n    cluster: loopback\n    user: stranger\n\
             - name: tls\n  context:\n    cluster: tls-nowhere\n    user: forewarn\n",
            url = self.url()
        )
    }

    /// A client from the kubeconfig file and its current context.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path())
            .expect("reading kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("a config from the kubeconfig");
        kube::Client::try_from(config).expect("a client")
    }

    /// Seeds objects (full objects with apiVersion and kind); returns them as stored.
    pub fn seed(&self, objects: Value) -> Vec<Value> {
        let stored = self.control("POST", "/_control/objects", Some(&objects));
        stored["items"].as_array().cloned().unwrap_or_default()
    }

    /// Every stored object.
    pub fn objects(&self) -> Vec<Value> {
        let stored = self.control("GET", "/_control/objects", None);
        stored["items"].as_array().cloned().unwrap_or_default()
    }

    /// The stored object of `kind` `namespace/name`, if any.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects().into_iter().find(|o| {
            o["kind"] == kind
                && o["metadata"]["namespace"] == namespace
                && o["metadata"]["name"] == name
        })
    }

    /// Makes the next `rule.times` requests matching `rule` fail (see kubeapi.py).
    pub fn fail(&self, rule: Value) {
        self.control("POST", "/_control/fail", Some(&rule));
    }

    /// Every API request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        let answer = self.control("GET", "/_control/requests", None);
        serde_json::from_value(answer["requests"].clone()).expect("recorded requests")
    }

    pub fn clear_requests(&self) {
        self.control("DELETE", "/_control/requests", None);
    }

    fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connecting");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("sending a control request");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("reading the answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "control {method} {path} failed: {answer}"
        );
        serde_json::from_str(body).expect("a JSON answer")
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
