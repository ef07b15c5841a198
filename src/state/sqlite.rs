//! The SQLite store: the history in one embedded file (`--state PATH`, the demo, a laptop).
//!
//! WAL mode, so a reader (`forewarn findings`) never blocks a run; a busy timeout, so two
//! processes on one file wait for each other instead of failing. rusqlite is synchronous: each
//! call runs on tokio's blocking pool. The run claim is an `INSERT OR IGNORE` into a table with
//! `UNIQUE(job, slot)` inside an immediate transaction, so exactly one claimant's row exists.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::state::history::{EventKind, HistoryEvent, NewEvent};
use crate::state::{to_micros, StateError, StateStore};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    job TEXT NOT NULL,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    fingerprint TEXT,
    event TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_job ON history (job, seq);
CREATE INDEX IF NOT EXISTS history_by_fingerprint ON history (fingerprint, seq);
CREATE INDEX IF NOT EXISTS history_by_kind ON history (kind, seq);
CREATE TABLE IF NOT EXISTS claims (
    job TEXT NOT NULL,
    slot TEXT NOT NULL,
    run_id TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    UNIQUE (job, slot)
);
";

const COLUMNS: &str = "seq, at, job, run_id, event, fingerprint, payload";

#[derive(Clone)]
pub struct SqliteStore {
    path: String,
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the state file and its tables.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StateError> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        let connection = tokio::task::spawn_blocking({
            let shown = shown.clone();
            move || -> Result<Connection, StateError> {
                let sqlite_error = |operation| {
                    let path = shown.clone();
                    move |source| StateError::Sqlite {
                        path,
                        operation,
                        source,
                    }
                };
                let connection = Connection::open(&path).map_err(sqlite_error("open"))?;
                connection
                    .busy_timeout(Duration::from_secs(10))
                    .map_err(sqlite_error("set busy timeout"))?;
                connection
                    .pragma_update(None, "journal_mode", "WAL")
                    .map_err(sqlite_error("enable WAL"))?;
                connection
                    .pragma_update(None, "synchronous", "NORMAL")
                    .map_err(sqlite_error("set synchronous"))?;
                connection
                    .execute_batch(SCHEMA)
                    .map_err(sqlite_error("create tables"))?;
                Ok(connection)
            }
        })
        .await
        .map_err(|e| StateError::Worker {
            store: format!("SQLite state {shown}"),
            operation: "open",
            message: e.to_string(),
        })??;
        Ok(SqliteStore {
            path: shown,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with_connection<T, F>(&self, operation: &'static str, work: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let result = tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut connection)
        })
        .await
        .map_err(|e| StateError::Worker {
            store: format!("SQLite state {}", self.path),
            operation,
            message: e.to_string(),
        })?;
        result.map_err(|source| StateError::Sqlite {
            path: self.path.clone(),
            operation,
            source,
        })
    }

    async fn select(
        &self,
        operation: &'static str,
        filter: &'static str,
        value: Vec<String>,
    ) -> Result<Vec<HistoryEvent>, StateError> {
        let rows = self
            .with_connection(operation, move |connection| {
                let sql = format!("SELECT {COLUMNS} FROM history WHERE {filter} ORDER BY seq");
                let mut statement = connection.prepare_cached(&sql)?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(value.iter()), |row| {
                        Ok(StoredRow {
                            seq: row.get::<_, i64>(0)? as u64,
                            at: row.get(1)?,
                            job: row.get(2)?,
                            run_id: row.get(3)?,
                            event: row.get(4)?,
                            fingerprint: row.get(5)?,
                            payload: row.get(6)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|row| row.decode(&self.path, operation))
            .collect()
    }
}

/// A history row as SQLite holds it (times as RFC 3339 text, JSON as text).
struct StoredRow {
    seq: u64,
    at: String,
    job: String,
    run_id: String,
    event: String,
    fingerprint: Option<String>,
    payload: String,
}

impl StoredRow {
    fn decode(self, path: &str, operation: &'static str) -> Result<HistoryEvent, StateError> {
        let decode_error = |source| StateError::Decode {
            store: format!("SQLite state {path}"),
            operation,
            source,
        };
        let at = OffsetDateTime::parse(&self.at, &Rfc3339).map_err(|e| StateError::Decode {
            store: format!("SQLite state {path}"),
            operation,
            source: serde::de::Error::custom(format!("event {} time `{}`: {e}", self.seq, self.at)),
        })?;
        let kind: EventKind = serde_json::from_str(&self.event).map_err(decode_error)?;
        let payload = serde_json::from_str(&self.payload).map_err(decode_error)?;
        Ok(HistoryEvent {
            seq: self.seq,
            at,
            job: self.job,
            run_id: self.run_id,
            kind,
            fingerprint: self.fingerprint,
            payload,
        })
    }
}

fn rfc3339_micros(at: OffsetDateTime) -> String {
    to_micros(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

impl StateStore for SqliteStore {
    async fn append(&self, events: &[NewEvent]) -> Result<(), StateError> {
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            let encode = |value: serde_json::Result<String>| {
                value.map_err(|source| StateError::Decode {
                    store: format!("SQLite state {}", self.path),
                    operation: "append",
                    source,
                })
            };
            rows.push((
                rfc3339_micros(event.at),
                event.job.clone(),
                event.run_id.clone(),
                event.kind.name(),
                event.fingerprint.clone(),
                encode(serde_json::to_string(&event.kind))?,
                encode(serde_json::to_string(&event.payload))?,
            ));
        }
        self.with_connection("append", move |connection| {
            let transaction = connection.transaction()?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT INTO history (at, job, run_id, kind, fingerprint, event, payload) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for row in &rows {
                    insert.execute(params![row.0, row.1, row.2, row.3, row.4, row.5, row.6])?;
                }
            }
            transaction.commit()
        })
        .await
    }

    async fn events_for_job(&self, job: &str) -> Result<Vec<HistoryEvent>, StateError> {
        self.select("read job history", "job = ?1", vec![job.to_string()])
            .await
    }

    async fn episode_history(&self, fingerprint: &str) -> Result<Vec<HistoryEvent>, StateError> {
        self.select(
            "read episode history",
            "fingerprint = ?1",
            vec![fingerprint.to_string()],
        )
        .await
    }

    async fn silence_events(&self) -> Result<Vec<HistoryEvent>, StateError> {
        let [added, expired] = EventKind::SILENCE_KINDS;
        self.select(
            "read silences",
            "kind IN (?1, ?2)",
            vec![added.to_string(), expired.to_string()],
        )
        .await
    }

    async fn action_events(&self) -> Result<Vec<HistoryEvent>, StateError> {
        let [recorded, updated] = EventKind::ACTION_KINDS;
        self.select(
            "read actions",
            "kind IN (?1, ?2)",
            vec![recorded.to_string(), updated.to_string()],
        )
        .await
    }

    async fn claim_run(&self, job: &str, run_id: &str, slot: &str) -> Result<bool, StateError> {
        let (job, run_id, slot) = (job.to_string(), run_id.to_string(), slot.to_string());
        let claimed_at = rfc3339_micros(OffsetDateTime::now_utc());
        self.with_connection("claim run", move |connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            transaction.execute(
                "INSERT OR IGNORE INTO claims (job, slot, run_id, claimed_at) VALUES (?1, ?2, ?3, ?4)",
                params![job, slot, run_id, claimed_at],
            )?;
            let holder: Option<String> = transaction
                .query_row(
                    "SELECT run_id FROM claims WHERE job = ?1 AND slot = ?2",
                    params![job, slot],
                    |row| row.get(0),
                )
                .optional()?;
            transaction.commit()?;
            Ok(holder.as_deref() == Some(run_id.as_str()))
        })
        .await
    }
}
