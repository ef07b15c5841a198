//! State: what forewarn remembers between runs (each CronJob run is a fresh pod).
//!
//! The only thing stored is the append-only history (`history`); episodes, the outbox, silences
//! in force and blind sources are derived from it (`derive`), and the lifecycle that decides
//! what to announce is a pure function over that derived state (`lifecycle`). Two stores keep
//! the history behind one trait: SQLite for a laptop, the demo and `--state PATH` (`sqlite`), and
//! forewarn's own ClickHouse database beside the telemetry (`clickhouse`). The CLI holds an
//! `AnyStore`, which delegates to whichever was configured.
//!
//! One writer per job: `claim_run` is atomic in both stores, so of two racing runs of the same
//! job and slot exactly one proceeds to notify.

pub mod clickhouse;
pub mod derive;
pub mod history;
pub mod lifecycle;
pub mod silence;
pub mod sqlite;

use std::future::Future;

use time::OffsetDateTime;

pub use self::clickhouse::ClickHouseStore;
pub use self::derive::{BlindSource, Episode, OutboxItem};
pub use self::history::{
    AnnouncementKind, EventKind, HistoryEvent, NewEvent, ResolveReason, RunOutcome,
};
pub use self::lifecycle::{Announcement, LifecyclePolicy, RunContext, Step};
pub use self::silence::{Matcher, Silence, SilenceError};
pub use self::sqlite::SqliteStore;

use crate::source::SourceError;

/// The default name of forewarn's own ClickHouse database.
pub const DEFAULT_CLICKHOUSE_DATABASE: &str = "forewarn";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("SQLite state {path}: {operation}: {source}")]
    Sqlite {
        path: String,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("ClickHouse state database `{database}`: {operation}: {source}")]
    ClickHouse {
        database: String,
        operation: &'static str,
        #[source]
        source: Box<SourceError>,
    },
    #[error("ClickHouse state database name `{name}` must be letters, digits and `_` (not starting with a digit)")]
    DatabaseName { name: String },
    #[error("{store}: {operation}: a stored event cannot be read: {source}")]
    Decode {
        store: String,
        operation: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{store}: {operation}: the database worker stopped: {message}")]
    Worker {
        store: String,
        operation: &'static str,
        message: String,
    },
}

/// A history store. Events come back in `seq` order; the derived views are provided on top of
/// the few required reads, so both stores derive state with the same code.
pub trait StateStore: Sync {
    /// Appends events in order (one transaction in SQLite, one insert in ClickHouse).
    fn append(&self, events: &[NewEvent]) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Every event of one job.
    fn events_for_job(
        &self,
        job: &str,
    ) -> impl Future<Output = Result<Vec<HistoryEvent>, StateError>> + Send;

    /// One finding's timeline across jobs: every event with this fingerprint
    /// (`forewarn history FINGERPRINT`).
    fn episode_history(
        &self,
        fingerprint: &str,
    ) -> impl Future<Output = Result<Vec<HistoryEvent>, StateError>> + Send;

    /// Every silence event, of any job (silences apply to all jobs).
    fn silence_events(&self) -> impl Future<Output = Result<Vec<HistoryEvent>, StateError>> + Send;

    /// Every remediation action event, of any job (the fence counts across jobs, and
    /// `forewarn approve ID` finds an action without knowing its job).
    fn action_events(&self) -> impl Future<Output = Result<Vec<HistoryEvent>, StateError>> + Send;

    /// Claims `slot` (e.g. the run's scheduled time) of `job` for `run_id`: true for exactly one
    /// of any number of racing claimants, and again for the winner if it asks twice.
    fn claim_run(
        &self,
        job: &str,
        run_id: &str,
        slot: &str,
    ) -> impl Future<Output = Result<bool, StateError>> + Send;

    /// The job's episodes not yet resolved.
    fn open_episodes(
        &self,
        job: &str,
    ) -> impl Future<Output = Result<Vec<Episode>, StateError>> + Send {
        async move { Ok(derive::open_episodes(&self.events_for_job(job).await?)) }
    }

    /// The job's notifications queued or failed and not yet delivered.
    fn outbox(
        &self,
        job: &str,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StateError>> + Send {
        async move { Ok(derive::outbox(&self.events_for_job(job).await?)) }
    }

    /// The silences in force at `now`.
    fn silences(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Silence>, StateError>> + Send {
        async move { Ok(derive::active_silences(&self.silence_events().await?, now)) }
    }
}

/// The store the CLI configured: SQLite (`--state PATH`) or forewarn's ClickHouse database.
pub enum AnyStore {
    Sqlite(SqliteStore),
    ClickHouse(Box<ClickHouseStore>),
}

impl StateStore for AnyStore {
    async fn append(&self, events: &[NewEvent]) -> Result<(), StateError> {
        match self {
            AnyStore::Sqlite(s) => s.append(events).await,
            AnyStore::ClickHouse(s) => s.append(events).await,
        }
    }

    async fn events_for_job(&self, job: &str) -> Result<Vec<HistoryEvent>, StateError> {
        match self {
            AnyStore::Sqlite(s) => s.events_for_job(job).await,
            AnyStore::ClickHouse(s) => s.events_for_job(job).await,
        }
    }

    async fn episode_history(&self, fingerprint: &str) -> Result<Vec<HistoryEvent>, StateError> {
        match self {
            AnyStore::Sqlite(s) => s.episode_history(fingerprint).await,
            AnyStore::ClickHouse(s) => s.episode_history(fingerprint).await,
        }
    }

    async fn silence_events(&self) -> Result<Vec<HistoryEvent>, StateError> {
        match self {
            AnyStore::Sqlite(s) => s.silence_events().await,
            AnyStore::ClickHouse(s) => s.silence_events().await,
        }
    }

    async fn action_events(&self) -> Result<Vec<HistoryEvent>, StateError> {
        match self {
            AnyStore::Sqlite(s) => s.action_events().await,
            AnyStore::ClickHouse(s) => s.action_events().await,
        }
    }

    async fn claim_run(&self, job: &str, run_id: &str, slot: &str) -> Result<bool, StateError> {
        match self {
            AnyStore::Sqlite(s) => s.claim_run(job, run_id, slot).await,
            AnyStore::ClickHouse(s) => s.claim_run(job, run_id, slot).await,
        }
    }
}

/// Event times are kept to the microsecond in both stores (ClickHouse's `DateTime64(6)`), so
/// what one store returns equals what the other does.
pub(crate) fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(at.nanosecond() / 1000 * 1000)
        .unwrap_or(at)
}
