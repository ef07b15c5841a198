//! `forewarn manifests`: the committed `cronjobs/` is exactly what the command generates from
//! the shipped rules; the RBAC grants exactly what the shipped runbooks request (and the
//! Lease); every pod is hardened and references its secrets; and every manifest validates
//! against the Kubernetes OpenAPI schemas (PyPI `kubernetes-validate`, strict).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::forewarn_bin;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, by its path relative to `dir`.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn generate() -> (tempfile::TempDir, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(forewarn_bin())
        .args(["manifests", "--out"])
        .arg(dir.path())
        .env_remove("FOREWARN_RULES")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = read_tree(dir.path());
    (dir, tree)
}

/// The documents of a (multi-document) YAML file, as JSON.
fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn all_documents(tree: &BTreeMap<String, String>) -> Vec<(String, Value)> {
    tree.iter()
        .flat_map(|(path, text)| {
            documents(text)
                .into_iter()
                .map(move |d| (path.clone(), d))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_committed_cronjobs_are_what_the_command_generates() {
    let (_dir, generated) = generate();
    let committed = read_tree(&repo().join("cronjobs"));
    let names = |t: &BTreeMap<String, String>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "run `forewarn manifests --out cronjobs/`"
    );
    for (path, text) in &generated {
        assert_eq!(
            &committed[path], text,
            "cronjobs/{path} differs from the generated one: run `forewarn manifests --out cronjobs/`"
        );
    }
}

#[test]
fn there_is_one_cronjob_per_job_on_its_schedule_plus_the_canary() {
    let (_dir, tree) = generate();
    let set = forewarn::config::RuleSet::embedded().unwrap();
    let docs = all_documents(&tree);
    let cronjobs: BTreeMap<String, &Value> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "CronJob")
        .map(|(_, d)| (d["metadata"]["name"].as_str().unwrap().to_string(), d))
        .collect();
    assert_eq!(cronjobs.len(), set.jobs.len() + 1, "{:?}", cronjobs.keys());
    for job in &set.jobs {
        let cronjob = cronjobs[&format!("forewarn-{}", job.name)];
        let expected = forewarn::schedule::kubernetes_schedule(job).unwrap();
        assert_eq!(cronjob["spec"]["schedule"], expected.as_str());
        assert_eq!(cronjob["spec"]["concurrencyPolicy"], "Forbid");
        let budget = forewarn::schedule::JobSchedule::of(job)
            .unwrap()
            .run_budget()
            .as_secs();
        assert_eq!(
            cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"],
            budget
        );
        let container =
            &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"], json!(["run", job.name]));
    }
    // The shipped heartbeat job runs every minute, the frequent one every five.
    assert_eq!(
        cronjobs["forewarn-heartbeat"]["spec"]["schedule"],
        "* * * * *"
    );
    assert_eq!(
        cronjobs["forewarn-frequent"]["spec"]["schedule"],
        "*/5 * * * *"
    );
    let canary = cronjobs["forewarn-canary"];
    let pod = &canary["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["args"][0], "canary");
    assert_eq!(pod["automountServiceAccountToken"], false);
}

#[test]
fn the_rbac_is_exactly_what_the_runbooks_and_the_lease_need() {
    let (_dir, tree) = generate();
    let docs = documents(&tree["base/rbac.yaml"]);
    let by_kind = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap();
    let runbooks = forewarn::config::runbooks::RunbookSet::embedded().unwrap();
    let wanted =
        serde_json::to_value(forewarn::act::kube::rbac_rules_for_runbooks(&runbooks)).unwrap();
    assert_eq!(by_kind("ClusterRole")["rules"], wanted);
    // What that is, spelled out: the owner chain read, workloads patched, nothing else.
    let mut grants: Vec<String> = Vec::new();
    for rule in wanted.as_array().unwrap() {
        for resource in rule["resources"].as_array().unwrap() {
            for verb in rule["verbs"].as_array().unwrap() {
                grants.push(format!(
                    "{}/{} {}",
                    rule["apiGroups"][0].as_str().unwrap(),
                    resource.as_str().unwrap(),
                    verb.as_str().unwrap()
                ));
            }
        }
    }
    grants.sort();
    assert_eq!(
        grants,
        [
            "/pods get",
            "apps/daemonsets get",
            "apps/daemonsets patch",
            "apps/deployments get",
            "apps/deployments patch",
            "apps/replicasets get",
            "apps/replicasets list",
            "apps/statefulsets get",
            "apps/statefulsets patch",
            "batch/jobs get",
        ]
    );
    let role = by_kind("Role");
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "resourceNames": ["forewarn-serve"], "verbs": ["get", "update"]},
        ])
    );
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        assert_eq!(by_kind(binding)["subjects"][0]["name"], "forewarn");
    }
    let text = &tree["base/rbac.yaml"];
    assert!(
        !text.contains("'*'") && !text.contains("\"*\""),
        "no wildcards: {text}"
    );
}

/// Every pod template in the manifests, with where it came from.
fn pod_specs(docs: &[(String, Value)]) -> Vec<(String, Value)> {
    docs.iter()
        .filter_map(|(path, d)| match d["kind"].as_str() {
            Some("CronJob") => Some((
                path.clone(),
                d["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone(),
            )),
            Some("Deployment") => Some((path.clone(), d["spec"]["template"]["spec"].clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn every_pod_is_hardened_and_only_references_secrets() {
    let (_dir, tree) = generate();
    let docs = all_documents(&tree);
    assert!(
        docs.iter().all(|(_, d)| d["kind"] != "Secret"),
        "no Secret objects: credentials are created out of band"
    );
    let pods = pod_specs(&docs);
    assert_eq!(
        pods.len(),
        5,
        "three jobs (the daily report among them), the canary, serve"
    );
    for (path, pod) in &pods {
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{path}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{path}"
        );
        for container in pod["containers"].as_array().unwrap() {
            let sc = &container["securityContext"];
            assert_eq!(sc["runAsNonRoot"], true, "{path}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{path}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{path}");
            assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{path}");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{path}");
            assert!(container["resources"]["requests"]["memory"].is_string());
            assert!(container["resources"]["limits"]["memory"].is_string());
            for env in container["env"].as_array().unwrap() {
                let name = env["name"].as_str().unwrap();
                let secret = ["PASSWORD", "WEBHOOK", "DEADMAN", "ALERTMANAGER", "USER"]
                    .iter()
                    .any(|s| name.contains(s));
                if secret {
                    assert!(env.get("value").is_none(), "{path}: {name} is a literal");
                    assert_eq!(
                        env["valueFrom"]["secretKeyRef"]["name"], "forewarn-secrets",
                        "{path}: {name}"
                    );
                }
            }
        }
    }
    let serve = &pods
        .iter()
        .find(|(p, _)| p.starts_with("serve/"))
        .unwrap()
        .1;
    let container = &serve["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let pdb = documents(&tree["serve/poddisruptionbudget.yaml"]);
    assert_eq!(pdb[0]["spec"]["minAvailable"], 1);
}

#[test]
fn the_configmap_carries_the_rules_and_the_pods_mount_them_at_their_paths() {
    let (_dir, tree) = generate();
    let docs = documents(&tree["base/rules-configmap.yaml"]);
    let data = docs[0]["data"].as_object().unwrap();
    for (path, text) in forewarn::manifests::embedded_files() {
        let key = path.replace('/', ".");
        assert_eq!(data[&key], text.as_str(), "{path}");
    }
    let cronjob = documents(&tree["cronjob-frequent.yaml"]);
    let volumes = &cronjob[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"];
    let items = volumes[0]["configMap"]["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|i| i["key"] == "runbooks.memory.yaml" && i["path"] == "runbooks/memory.yaml"));
}

fn python() -> PathBuf {
    forewarn_devserver::DevServer::python(&repo())
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schemas() {
    let (dir, tree) = generate();
    let files: Vec<PathBuf> = tree
        .keys()
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .map(|p| dir.path().join(p))
        .collect();
    assert!(files.len() >= 8, "{files:?}");
    for version in ["1.33.0", "1.37.0"] {
        let out = Command::new(python())
            .args(["-m", "kubernetes_validate", "--strict", "-k", version])
            .args(&files)
            .output()
            .expect("the test venv's python (scripts/install-test-deps.sh)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "kubernetes-validate {version} (install it with scripts/install-test-deps.sh):\n{text}"
        );
        assert!(!text.contains("ERROR"), "{text}");
    }
    // A broken manifest is caught (positive control): a CronJob without a schedule.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        tree["cronjob-frequent.yaml"].replace("schedule: \"*/5 * * * *\"", "scheduel: x"),
    )
    .unwrap();
    let out = Command::new(python())
        .args(["-m", "kubernetes_validate", "--strict"])
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
