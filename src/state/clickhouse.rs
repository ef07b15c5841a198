//! The ClickHouse store: the history in forewarn's own database (default `forewarn`) on the
//! server that holds the telemetry, so reports and notebooks can query it beside the data.
//!
//! It creates its database and tables if missing and writes only there, through a writable
//! client aimed at that database; the telemetry read path stays `readonly=2`. `history` is a
//! plain MergeTree ordered by `(job, seq)`. ClickHouse has no autoincrement, so `seq` is the
//! append time in nanoseconds, kept strictly increasing per handle and above what is stored
//! (one writer per job makes that the order that matters).
//!
//! The run claim needs no transactions: `claims` is a MergeTree with
//! `non_replicated_deduplication_window`, and each claim is inserted with
//! `insert_deduplication_token` = the job and slot, so the server drops every insert of a slot
//! after the first (the deduplication log is updated under the table's lock); each claimant then
//! reads back which run holds the slot.

use std::sync::atomic::{AtomicU64, Ordering};

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::source::ClickHouseConfig;
use crate::state::history::{EventKind, HistoryEvent, NewEvent};
use crate::state::{to_micros, StateError, StateStore};

/// How many recent claims the server remembers for deduplication; a slot older than this many
/// newer claims could be claimed again, which for scheduled slots is years of runs.
const CLAIM_DEDUPLICATION_WINDOW: u64 = 100_000;

#[derive(Debug, Row, Serialize, Deserialize)]
struct HistoryRow {
    seq: u64,
    #[serde(with = "clickhouse::serde::time::datetime64::micros")]
    at: OffsetDateTime,
    job: String,
    run_id: String,
    kind: String,
    fingerprint: Option<String>,
    event: String,
    payload: String,
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct ClaimRow {
    job: String,
    slot: String,
    run_id: String,
    #[serde(with = "clickhouse::serde::time::datetime64::micros")]
    claimed_at: OffsetDateTime,
}

pub struct ClickHouseStore {
    config: ClickHouseConfig,
    client: Client,
    database: String,
    last_seq: AtomicU64,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("config", &self.config)
            .field("database", &self.database)
            .finish()
    }
}

/// A database name safe to write into DDL (identifiers cannot be bound as parameters there).
fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ClickHouseStore {
    /// Connects, creating `database` and its tables if missing.
    pub async fn connect(
        config: ClickHouseConfig,
        database: &str,
    ) -> Result<ClickHouseStore, StateError> {
        if !plain_identifier(database) {
            return Err(StateError::DatabaseName {
                name: database.into(),
            });
        }
        let client = config
            .writable_client()
            .with_database(database)
            .with_setting("async_insert", "0");
        let store = ClickHouseStore {
            config,
            client,
            database: database.into(),
            last_seq: AtomicU64::new(0),
        };
        let statements = [
            format!("CREATE DATABASE IF NOT EXISTS `{database}`"),
            format!(
                "CREATE TABLE IF NOT EXISTS `{database}`.history (\
                 seq UInt64, at DateTime64(6, 'UTC'), job String, run_id String, kind String, \
                 fingerprint Nullable(String), event String, payload String\
                 ) ENGINE = MergeTree ORDER BY (job, seq)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS `{database}`.claims (\
                 job String, slot String, run_id String, claimed_at DateTime64(6, 'UTC')\
                 ) ENGINE = MergeTree ORDER BY (job, slot) \
                 SETTINGS non_replicated_deduplication_window = {CLAIM_DEDUPLICATION_WINDOW}"
            ),
        ];
        // The database may not exist yet, so the DDL runs from a client not bound to it.
        let admin = store.config.writable_client();
        for sql in &statements {
            admin
                .query(sql)
                .execute()
                .await
                .map_err(|e| store.error("create tables", e))?;
        }
        let stored_max: u64 = store
            .client
            .query("SELECT max(seq) FROM history")
            .fetch_one()
            .await
            .map_err(|e| store.error("read the last seq", e))?;
        store.last_seq.store(stored_max, Ordering::SeqCst);
        Ok(store)
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    fn error(&self, operation: &'static str, error: clickhouse::error::Error) -> StateError {
        StateError::ClickHouse {
            database: self.database.clone(),
            operation,
            source: Box::new(
                self.config
                    .describe_error(error, &format!("{}: {operation}", self.database)),
            ),
        }
    }

    /// The next `seq`: now in nanoseconds, or one past the last, whichever is larger.
    fn next_seq(&self) -> u64 {
        let now_ns = u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(0);
        let mut last = self.last_seq.load(Ordering::SeqCst);
        loop {
            let next = now_ns.max(last + 1);
            match self
                .last_seq
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(current) => last = current,
            }
        }
    }

    async fn select(
        &self,
        operation: &'static str,
        filter: &str,
        bind: impl FnOnce(clickhouse::query::Query) -> clickhouse::query::Query,
    ) -> Result<Vec<HistoryEvent>, StateError> {
        let sql = format!("SELECT ?fields FROM history WHERE {filter} ORDER BY seq");
        let rows: Vec<HistoryRow> = bind(self.client.query(&sql))
            .fetch_all()
            .await
            .map_err(|e| self.error(operation, e))?;
        rows.into_iter()
            .map(|row| {
                let decode = |source| StateError::Decode {
                    store: format!("ClickHouse state database `{}`", self.database),
                    operation,
                    source,
                };
                Ok(HistoryEvent {
                    seq: row.seq,
                    at: row.at,
                    job: row.job,
                    run_id: row.run_id,
                    kind: serde_json::from_str(&row.event).map_err(decode)?,
                    fingerprint: row.fingerprint,
                    payload: serde_json::from_str(&row.payload).map_err(decode)?,
                })
            })
            .collect()
    }
}

impl StateStore for ClickHouseStore {
    async fn append(&self, events: &[NewEvent]) -> Result<(), StateError> {
        if events.is_empty() {
            return Ok(());
        }
        let encode = |value: serde_json::Result<String>| {
            value.map_err(|source| StateError::Decode {
                store: format!("ClickHouse state database `{}`", self.database),
                operation: "append",
                source,
            })
        };
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            rows.push(HistoryRow {
                seq: self.next_seq(),
                at: to_micros(event.at),
                job: event.job.clone(),
                run_id: event.run_id.clone(),
                kind: event.kind.name().to_string(),
                fingerprint: event.fingerprint.clone(),
                event: encode(serde_json::to_string(&event.kind))?,
                payload: encode(serde_json::to_string(&event.payload))?,
            });
        }
        let mut insert = self
            .client
            .insert::<HistoryRow>("history")
            .await
            .map_err(|e| self.error("append", e))?;
        for row in &rows {
            insert
                .write(row)
                .await
                .map_err(|e| self.error("append", e))?;
        }
        insert.end().await.map_err(|e| self.error("append", e))
    }

    async fn events_for_job(&self, job: &str) -> Result<Vec<HistoryEvent>, StateError> {
        self.select("read job history", "job = {job:String}", |q| {
            q.param("job", job)
        })
        .await
    }

    async fn episode_history(&self, fingerprint: &str) -> Result<Vec<HistoryEvent>, StateError> {
        self.select(
            "read episode history",
            "fingerprint = {fingerprint:String}",
            |q| q.param("fingerprint", fingerprint),
        )
        .await
    }

    async fn silence_events(&self) -> Result<Vec<HistoryEvent>, StateError> {
        self.select("read silences", "kind IN {kinds:Array(String)}", |q| {
            q.param("kinds", EventKind::SILENCE_KINDS.to_vec())
        })
        .await
    }

    async fn action_events(&self) -> Result<Vec<HistoryEvent>, StateError> {
        self.select("read actions", "kind IN {kinds:Array(String)}", |q| {
            q.param("kinds", EventKind::ACTION_KINDS.to_vec())
        })
        .await
    }

    async fn claim_run(&self, job: &str, run_id: &str, slot: &str) -> Result<bool, StateError> {
        let token = serde_json::to_string(&[job, slot]).unwrap_or_default();
        let row = ClaimRow {
            job: job.into(),
            slot: slot.into(),
            run_id: run_id.into(),
            claimed_at: to_micros(OffsetDateTime::now_utc()),
        };
        let mut insert = self
            .client
            .insert::<ClaimRow>("claims")
            .await
            .map_err(|e| self.error("claim run", e))?
            .with_setting("insert_deduplicate", "1")
            .with_setting("insert_deduplication_token", token);
        insert
            .write(&row)
            .await
            .map_err(|e| self.error("claim run", e))?;
        insert.end().await.map_err(|e| self.error("claim run", e))?;
        let holder: Vec<String> = self
            .client
            .query(
                "SELECT run_id FROM claims WHERE job = {job:String} AND slot = {slot:String} \
                 ORDER BY claimed_at, run_id LIMIT 1",
            )
            .param("job", job)
            .param("slot", slot)
            .fetch_all()
            .await
            .map_err(|e| self.error("read the run claim", e))?;
        Ok(holder.first().map(String::as_str) == Some(run_id))
    }
}
