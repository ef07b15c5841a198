//! Jobs scheduled in a time zone that changes its UTC offset (daylight saving time).
//!
//! tokio-cron-scheduler reads a job's cron fields at the zone's UTC offset *as of the job's
//! creation* (`Job::new_async_tz` fixes it), so a `daily-report` at 07:00 Europe/Berlin created
//! in winter would run at 08:00 local after the change to summer time. The daemon therefore
//! watches each zoned job's offset and, when it changes, replaces the job with one created at
//! the new offset. The job's `running` flag is shared by the old and the new job, so a run in
//! flight across the change still makes an overlapping tick skip.

use chrono::{Offset, TimeZone, Utc};
use tokio_cron_scheduler::{JobScheduler, JobSchedulerError};
use uuid::Uuid;

/// The zone's offset from UTC in seconds at `at` (east positive), as tokio-cron-scheduler
/// computes the one it fixes.
pub fn utc_offset_s(zone: &chrono_tz::Tz, at: chrono::DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// A job in a zone other than UTC, as scheduled now.
pub struct ZonedJob {
    pub name: String,
    pub zone: chrono_tz::Tz,
    /// The offset the scheduled job was created with.
    pub offset_s: i32,
    pub id: Uuid,
    /// Creates the job again (at the offset current when called).
    pub make: Box<dyn Fn() -> Result<tokio_cron_scheduler::Job, JobSchedulerError> + Send + Sync>,
}

impl ZonedJob {
    /// Whether the zone's offset at `now` differs from the one the job was created with.
    pub fn is_stale(&self, now: chrono::DateTime<Utc>) -> bool {
        utc_offset_s(&self.zone, now) != self.offset_s
    }
}

/// Replaces every zoned job whose zone changed its offset; checks every `every` until `stop`,
/// then returns the jobs as they are scheduled.
pub async fn follow_offsets(
    scheduler: JobScheduler,
    mut jobs: Vec<ZonedJob>,
    every: std::time::Duration,
    stop: std::sync::Arc<tokio::sync::Notify>,
) -> Vec<ZonedJob> {
    if jobs.is_empty() {
        return jobs;
    }
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.notified() => return jobs,
            _ = interval.tick() => {}
        }
        let now = Utc::now();
        for job in jobs.iter_mut().filter(|j| j.is_stale(now)) {
            let offset_s = utc_offset_s(&job.zone, now);
            let replaced = async {
                let new = (job.make)()?;
                let id = scheduler.add(new).await?;
                scheduler.remove(&job.id).await?;
                Ok::<Uuid, JobSchedulerError>(id)
            }
            .await;
            match replaced {
                Ok(id) => {
                    tracing::info!(
                        job = %job.name,
                        time_zone = %job.zone.name(),
                        from_offset_s = job.offset_s,
                        to_offset_s = offset_s,
                        "the time zone changed its UTC offset; job rescheduled"
                    );
                    job.id = id;
                    job.offset_s = offset_s;
                }
                Err(error) => tracing::error!(
                    job = %job.name,
                    %error,
                    "rescheduling after a UTC offset change failed; retrying at the next check"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A job created at an offset that is no longer the zone's (as after a DST change) is
    /// replaced once by one at the current offset; the old one is gone from the scheduler.
    #[tokio::test]
    async fn a_stale_job_is_replaced_once_at_the_current_offset() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let scheduler = JobScheduler::new().await.unwrap();
        let made = Arc::new(AtomicUsize::new(0));
        let counter = made.clone();
        let berlin = chrono_tz::Europe::Berlin;
        let make =
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio_cron_scheduler::Job::new_async_tz("0 0 7 * * *", berlin, |_, _| {
                    Box::pin(async {})
                })
            };
        let old = scheduler.add(make().unwrap()).await.unwrap();
        let now = utc_offset_s(&berlin, Utc::now());
        let job = ZonedJob {
            name: "daily-report".into(),
            zone: berlin,
            // As if created before the last change: an hour off.
            offset_s: now - 3600,
            id: old,
            make: Box::new(make),
        };
        let stop = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(follow_offsets(
            scheduler.clone(),
            vec![job],
            std::time::Duration::from_millis(10),
            stop.clone(),
        ));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        stop.notify_one();
        let jobs = task.await.unwrap();
        assert_eq!(
            made.load(Ordering::SeqCst),
            2,
            "created once, replaced once"
        );
        assert_eq!(jobs[0].offset_s, now);
        assert_ne!(jobs[0].id, old);
        let mut scheduler = scheduler;
        assert!(scheduler
            .next_tick_for_job(jobs[0].id)
            .await
            .unwrap()
            .is_some());
        assert!(scheduler.next_tick_for_job(old).await.unwrap().is_none());
    }

    #[test]
    fn a_job_created_in_winter_is_stale_in_summer_and_not_before() {
        let berlin = chrono_tz::Europe::Berlin;
        // Summer time begins 2027-03-28 01:00 UTC (02:00 CET → 03:00 CEST).
        let before = Utc.with_ymd_and_hms(2027, 3, 28, 0, 59, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2027, 3, 28, 1, 1, 0).unwrap();
        assert_eq!(utc_offset_s(&berlin, before), 3600);
        assert_eq!(utc_offset_s(&berlin, after), 7200);
        let job = ZonedJob {
            name: "daily-report".into(),
            zone: berlin,
            offset_s: utc_offset_s(&berlin, before),
            id: Uuid::nil(),
            make: Box::new(|| Err(JobSchedulerError::ParseSchedule)),
        };
        assert!(!job.is_stale(before));
        assert!(job.is_stale(after));
        // UTC never changes.
        assert_eq!(utc_offset_s(&chrono_tz::UTC, after), 0);
    }
}
