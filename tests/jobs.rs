//! `forewarn jobs` and schedule validation, through the real binary: the shipped jobs with their
//! rules and next runs, a daily job at 07:00 in a time zone across a daylight-saving change, and
//! `forewarn check` placing a bad schedule or zone at its file:line:column.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::forewarn_bin;

fn forewarn(args: &[&str]) -> Output {
    Command::new(forewarn_bin())
        .args(args)
        .env_remove("FOREWARN_RULES")
        .output()
        .expect("running forewarn")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

const DAILY_JOBS: &str = "\
jobs:
  - name: morning
    schedule: \"0 0 7 * * *\"
    time_zone: Europe/Berlin
    description: The morning report.
";

const DAILY_RULES: &str = "\
rules:
  - name: slow-canaries
    signal: heartbeat_missing
    job: morning
    window: 1h
    bucket: 1m
";

/// The shipped rules (the shipped runbooks need their rules) plus `daily.yaml`: the given
/// `jobs:` section and one rule in the daily job.
fn rules_dir(jobs: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in forewarn::config::rules::EMBEDDED_RULES {
        let name = Path::new(file).file_name().unwrap();
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(
        dir.path().join("daily.yaml"),
        format!("{jobs}{DAILY_RULES}"),
    )
    .unwrap();
    dir
}

fn daily(jobs: &Value) -> &Value {
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "morning")
        .expect("the daily job is listed")
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

fn utc_runs(job: &Value) -> Vec<&str> {
    job["next_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["utc"].as_str().unwrap())
        .collect()
}

#[test]
fn the_shipped_jobs_list_their_rules_and_next_runs() {
    let out = forewarn(&["jobs", "--json", "--at", "2026-11-20T10:02:30Z"]);
    let jobs = json(&out);
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["frequent", "heartbeat", "daily-report"]);
    // The report job runs no rules; it runs at 07:00 in its zone.
    let report = &jobs[2];
    assert!(report["rules"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(report["time_zone"], "UTC");
    assert_eq!(utc_runs(report)[0], "2026-11-21T07:00:00Z");
    let frequent = &jobs[0];
    assert_eq!(frequent["schedule"], "0 */5 * * * *");
    assert_eq!(frequent["time_zone"], "UTC");
    let rules: Vec<&str> = frequent["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"memory-pressure"), "{rules:?}");
    assert!(!rules.contains(&"canary-heartbeat"), "{rules:?}");
    assert_eq!(
        utc_runs(frequent),
        [
            "2026-11-20T10:05:00Z",
            "2026-11-20T10:10:00Z",
            "2026-11-20T10:15:00Z"
        ]
    );
    let heartbeat = &jobs[1];
    assert_eq!(heartbeat["rules"][0]["name"], "canary-heartbeat");
    assert_eq!(heartbeat["rules"][0]["signal"], "heartbeat_missing");
    assert_eq!(
        utc_runs(heartbeat),
        [
            "2026-11-20T10:03:00Z",
            "2026-11-20T10:04:00Z",
            "2026-11-20T10:05:00Z"
        ]
    );

    let text = forewarn(&["jobs", "--at", "2026-11-20T10:02:30Z", "--count", "1"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(text.contains("frequent  `0 */5 * * * *` (UTC)"), "{text}");
    assert!(text.contains("next:  2026-11-20T10:05:00Z"), "{text}");
    assert!(
        !text.contains("10:10:00Z"),
        "--count 1 shows one run: {text}"
    );
}

#[test]
fn a_daily_job_runs_at_seven_in_its_zone_across_daylight_saving() {
    let dir = rules_dir(DAILY_JOBS);
    // Berlin leaves summer time on 2026-10-25: 07:00 local is 05:00 UTC, then 06:00 UTC.
    let out = forewarn(&[
        "jobs",
        "--json",
        "--rules",
        path(dir.path()),
        "--at",
        "2026-10-24T00:00:00Z",
        "--count",
        "2",
    ]);
    let jobs = json(&out);
    let job = daily(&jobs);
    assert_eq!(job["time_zone"], "Europe/Berlin");
    assert_eq!(job["rules"][0]["name"], "slow-canaries");
    assert_eq!(
        utc_runs(job),
        ["2026-10-24T05:00:00Z", "2026-10-25T06:00:00Z"]
    );
    assert_eq!(job["next_runs"][0]["local"], "2026-10-24T07:00:00+02:00");
    assert_eq!(job["next_runs"][1]["local"], "2026-10-25T07:00:00+01:00");

    // --tz changes only how the times are shown, not when the job runs.
    let out = forewarn(&[
        "jobs",
        "--json",
        "--rules",
        path(dir.path()),
        "--at",
        "2026-10-24T00:00:00Z",
        "--count",
        "1",
        "--tz",
        "America/New_York",
    ]);
    let jobs = json(&out);
    assert_eq!(utc_runs(daily(&jobs)), ["2026-10-24T05:00:00Z"]);
    assert_eq!(
        daily(&jobs)["next_runs"][0]["local"],
        "2026-10-24T01:00:00-04:00"
    );

    let out = forewarn(&["jobs", "--rules", path(dir.path()), "--tz", "Mars/Olympus"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("Mars/Olympus"), "{}", stderr(&out));
}

#[test]
fn check_places_a_bad_schedule_and_a_bad_zone_at_file_line_and_column() {
    let good = rules_dir(DAILY_JOBS);
    let out = forewarn(&["check", "--rules", path(good.path())]);
    assert!(out.status.success(), "positive control: {}", stderr(&out));

    let bad = rules_dir(&DAILY_JOBS.replace("0 0 7 * * *", "0 0 25 * * *"));
    let out = forewarn(&["check", "--rules", path(bad.path())]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let jobs_file = bad.path().join("daily.yaml");
    let expected = format!("{}:3:5: jobs[0].schedule:", jobs_file.display());
    assert!(err.contains(&expected), "want {expected} in: {err}");
    assert!(err.contains("0 0 25 * * *"), "{err}");

    let five = rules_dir(&DAILY_JOBS.replace("0 0 7 * * *", "0 7 * * *"));
    let err = stderr(&forewarn(&["check", "--rules", path(five.path())]));
    assert!(err.contains("jobs[0].schedule:"), "{err}");
    assert!(err.contains("6-field"), "{err}");

    let zone = rules_dir(&DAILY_JOBS.replace("Europe/Berlin", "Europe/Atlantis"));
    let out = forewarn(&["check", "--rules", path(zone.path())]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let expected = format!(
        "{}:4:5: jobs[0].time_zone:",
        zone.path().join("daily.yaml").display()
    );
    assert!(err.contains(&expected), "want {expected} in: {err}");
    assert!(err.contains("Europe/Atlantis"), "{err}");
}
