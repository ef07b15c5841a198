//! Job schedules: a job's 6-field cron expression (seconds first) and optional IANA time zone,
//! parsed once with `croner` — the parser `tokio-cron-scheduler` uses, configured the same way
//! (seconds required, day-of-month AND day-of-week) — so `forewarn jobs`, the daemon and the
//! generated CronJobs agree on when a job runs.
//!
//! The rule loader validates schedules while it parses ([`deserialize_cron`],
//! [`deserialize_time_zone`]), so a bad one is reported at its `file:line:column` like any
//! other field.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

use crate::config::Job;

/// The parser shared with the daemon's scheduler (tokio-cron-scheduler's own settings).
pub fn cron_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
}

/// Parses a 6-field cron expression; the message says what a valid one looks like.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    if text.split_whitespace().count() != 6 {
        return Err(format!(
            "`{text}` is not a 6-field cron expression (seconds first, e.g. `0 */5 * * * *`)"
        ));
    }
    cron_parser()
        .parse(text)
        .map_err(|e| format!("`{text}` is not a valid cron expression: {e}"))
}

/// Parses an IANA time zone name (`Europe/Berlin`, `UTC`).
pub fn parse_time_zone(text: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(text)
        .map_err(|_| format!("`{text}` is not an IANA time zone name (e.g. `Europe/Berlin`)"))
}

/// `deserialize_with` for a job's `schedule`: the text, once it parses.
pub fn deserialize_cron<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_cron(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

/// `deserialize_with` for a job's optional `time_zone`.
pub fn deserialize_time_zone<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_time_zone(&text).map_err(serde::de::Error::custom)?;
    Ok(Some(text))
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("job {job}: {message}")]
    Invalid { job: String, message: String },
}

/// A job's schedule, ready to compute run times.
#[derive(Debug, Clone)]
pub struct JobSchedule {
    pub cron: Cron,
    /// The zone the cron fields are read in (UTC unless the job names one).
    pub time_zone: chrono_tz::Tz,
}

impl JobSchedule {
    pub fn of(job: &Job) -> Result<JobSchedule, ScheduleError> {
        let invalid = |message| ScheduleError::Invalid {
            job: job.name.clone(),
            message,
        };
        let cron = parse_cron(&job.schedule).map_err(invalid)?;
        let time_zone = match &job.time_zone {
            Some(zone) => parse_time_zone(zone).map_err(invalid)?,
            None => chrono_tz::UTC,
        };
        Ok(JobSchedule { cron, time_zone })
    }

    /// The next `count` run times strictly after `after` (fewer if the expression runs out).
    pub fn next_runs(&self, after: OffsetDateTime, count: usize) -> Vec<OffsetDateTime> {
        let mut runs = Vec::with_capacity(count);
        let Some(mut cursor) = to_chrono(after) else {
            return runs;
        };
        let mut cursor_local = cursor.with_timezone(&self.time_zone);
        while runs.len() < count {
            match self.cron.find_next_occurrence(&cursor_local, false) {
                Ok(next) => {
                    cursor = next.with_timezone(&Utc);
                    cursor_local = next;
                    match from_chrono(cursor) {
                        Some(t) => runs.push(t),
                        None => break,
                    }
                }
                Err(_) => break,
            }
        }
        runs
    }
}

impl JobSchedule {
    /// The shortest interval between consecutive runs (over the first 50 after a fixed
    /// reference time, so generated manifests do not depend on when they were generated).
    pub fn period(&self) -> std::time::Duration {
        let reference = time::macros::datetime!(2026-01-05 00:00 UTC);
        let runs = self.next_runs(reference, 50);
        runs.windows(2)
            .map(|w| (w[1] - w[0]).unsigned_abs())
            .min()
            .unwrap_or(std::time::Duration::from_secs(24 * 3600))
    }

    /// How long one run may take: 80 % of the period (so a run ends before the next is due),
    /// at least 10 s, at most an hour. The CronJob's `activeDeadlineSeconds` and the daemon's
    /// per-run budget.
    pub fn run_budget(&self) -> std::time::Duration {
        let budget = self.period().mul_f64(0.8);
        budget.clamp(
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(3600),
        )
    }

    /// How late a CronJob may still start a missed run: half the period, 10 s to 10 min
    /// (Kubernetes checks schedules every 10 s; later than half a period, the next run is the
    /// better one).
    pub fn starting_deadline(&self) -> std::time::Duration {
        (self.period() / 2).clamp(
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(600),
        )
    }
}

pub fn to_chrono(t: OffsetDateTime) -> Option<chrono::DateTime<Utc>> {
    Utc.timestamp_opt(t.unix_timestamp(), t.nanosecond())
        .single()
}

pub fn from_chrono(t: chrono::DateTime<Utc>) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(t.timestamp_nanos_opt()? as i128).ok()
}

/// A Kubernetes CronJob schedule (5 fields, minute first) for a job's 6-field expression.
/// Kubernetes has no seconds, so only expressions firing at second 0 translate; and it ORs
/// day-of-month with day-of-week where croner ANDs them, so restricting both is refused.
pub fn kubernetes_schedule(job: &Job) -> Result<String, ScheduleError> {
    let invalid = |message: String| ScheduleError::Invalid {
        job: job.name.clone(),
        message,
    };
    parse_cron(&job.schedule).map_err(invalid)?;
    let fields: Vec<&str> = job.schedule.split_whitespace().collect();
    if fields[0] != "0" {
        return Err(invalid(format!(
            "schedule `{}` fires at seconds other than 0; a CronJob runs at most once a minute \
             (use `forewarn serve` for sub-minute schedules)",
            job.schedule
        )));
    }
    let restricted = |f: &str| f != "*" && f != "?";
    if restricted(fields[3]) && restricted(fields[5]) {
        return Err(invalid(format!(
            "schedule `{}` restricts both day of month and day of week, which Kubernetes \
             reads as either (forewarn as both)",
            job.schedule
        )));
    }
    Ok(fields[1..].join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn job(schedule: &str, zone: Option<&str>) -> Job {
        Job {
            name: "j".into(),
            schedule: schedule.into(),
            description: String::new(),
            time_zone: zone.map(str::to_string),
            report: None,
        }
    }

    #[test]
    fn every_five_minutes_runs_on_the_five_minute_marks() {
        let s = JobSchedule::of(&job("0 */5 * * * *", None)).unwrap();
        let runs = s.next_runs(datetime!(2026-11-20 10:02:30 UTC), 3);
        assert_eq!(
            runs,
            [
                datetime!(2026-11-20 10:05 UTC),
                datetime!(2026-11-20 10:10 UTC),
                datetime!(2026-11-20 10:15 UTC)
            ]
        );
        // Strictly after: a run time itself is not its own next run.
        let runs = s.next_runs(datetime!(2026-11-20 10:05 UTC), 1);
        assert_eq!(runs, [datetime!(2026-11-20 10:10 UTC)]);
    }

    #[test]
    fn a_daily_run_at_seven_follows_its_zone_across_daylight_saving() {
        let s = JobSchedule::of(&job("0 0 7 * * *", Some("Europe/Berlin"))).unwrap();
        // 2026-10-25 is the end of summer time in Berlin: 07:00 is 05:00 UTC before, 06:00 after.
        let runs = s.next_runs(datetime!(2026-10-24 00:00 UTC), 2);
        assert_eq!(
            runs,
            [
                datetime!(2026-10-24 05:00 UTC),
                datetime!(2026-10-25 06:00 UTC)
            ]
        );
    }

    #[test]
    fn budgets_follow_the_period() {
        let every_minute = JobSchedule::of(&job("0 * * * * *", None)).unwrap();
        assert_eq!(every_minute.period().as_secs(), 60);
        assert_eq!(every_minute.run_budget().as_secs(), 48);
        assert_eq!(every_minute.starting_deadline().as_secs(), 30);
        let daily = JobSchedule::of(&job("0 0 7 * * *", Some("Europe/Berlin"))).unwrap();
        assert_eq!(daily.run_budget().as_secs(), 3600);
        assert_eq!(daily.starting_deadline().as_secs(), 600);
    }

    #[test]
    fn bad_expressions_and_zones_are_explained() {
        assert!(parse_cron("*/5 * * * *").unwrap_err().contains("6-field"));
        assert!(parse_cron("0 61 * * * *")
            .unwrap_err()
            .contains("not a valid cron"));
        assert!(parse_cron("0 */5 * * * *").is_ok(), "positive control");
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(parse_time_zone("America/New_York").is_ok());
    }

    #[test]
    fn kubernetes_schedules_drop_the_seconds_field_only_when_it_is_zero() {
        assert_eq!(
            kubernetes_schedule(&job("0 */5 * * * *", None)).unwrap(),
            "*/5 * * * *"
        );
        assert!(kubernetes_schedule(&job("*/2 * * * * *", None)).is_err());
        assert!(kubernetes_schedule(&job("0 0 7 1 * MON", None)).is_err());
    }
}
