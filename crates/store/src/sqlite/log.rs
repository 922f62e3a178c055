//! The provisioning log, in a database file of its own beside the directory's.
//!
//! Every SCIM request adds a row, and the rows are committed every few hundred requests. In
//! the directory's file each such commit emptied every reader's page cache and ended its
//! kept snapshot (readers.rs), though no user or group had changed: lookups ran about 10 %
//! slower than without a log (docs/performance-log.md, 2026-12-08). In a file of its own the
//! log has its own writer thread, and the directory's readers keep their caches. The readers
//! attach the log file (as `log_file`), so the log's queries read it by its table name.

use super::internal;
use super::rows::{parse_ts, ts};
use domain::audit::{LogEntry, LogQuery, StoredLogEntry};
use domain::ports::StoreResult;
use domain::service::ServiceId;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};

/// The log file's schema; every statement is idempotent, so it runs at every start.
pub(crate) const SCHEMA: &str = include_str!("../../migrations/sqlite-log/0001_log.sql");

/// The schema name under which the readers attach the log file.
pub(crate) const ATTACHED_AS: &str = "log_file";

/// `scimd.db` → `scimd.log.db`, in the same directory.
pub(crate) fn log_file(database: &Path) -> PathBuf {
    database.with_extension("log.db")
}

/// Copies the rows of a log kept in the directory's file (before migration 4, which then
/// drops that table) into the log file. Idempotent: a copy cut short is redone at the next
/// start, and rows copied already keep their ids and are skipped.
pub(crate) fn move_into_log_file(directory: &Connection, log: &Path) -> rusqlite::Result<()> {
    let old_table: bool = directory.query_row(
        "SELECT EXISTS (SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'provisioning_log')",
        [],
        |r| r.get(0),
    )?;
    if !old_table {
        return Ok(());
    }
    directory.execute("ATTACH DATABASE ?1 AS moving_log", [log.to_string_lossy()])?;
    const COLUMNS: &str = "id, service_id, time, request_id, method, resource_type, resource_id, operation, \
        status, error_detail, warnings";
    let copied = directory.execute(
        &format!(
            "INSERT OR IGNORE INTO moving_log.provisioning_log ({COLUMNS}) SELECT {COLUMNS} FROM main.provisioning_log"
        ),
        [],
    );
    directory.execute_batch("DETACH DATABASE moving_log")?;
    let copied = copied?;
    if copied > 0 {
        tracing::info!(rows = copied, log = %log.display(), "moved the provisioning log into its own file");
    }
    Ok(())
}

/// Log entries as their rows will be written: the time and warnings are turned into text on
/// the caller's thread, so the writer thread (the one serial part of the server) only binds them.
pub(crate) struct LogRows(Vec<(LogEntry, String, String)>);

impl LogRows {
    pub(crate) fn new(entries: Vec<LogEntry>) -> Self {
        Self(
            entries
                .into_iter()
                .map(|mut e| {
                    let warnings = serde_json::Value::from(std::mem::take(&mut e.warnings)).to_string();
                    let time = ts(e.time);
                    (e, time, warnings)
                })
                .collect(),
        )
    }
}

/// Appends the entries. Nothing in it is expected to fail (no unique key): the store runs it
/// without a savepoint.
pub(crate) fn append(c: &Connection, rows: LogRows) -> StoreResult<()> {
    let mut st = c
        .prepare_cached(
            "INSERT INTO provisioning_log (service_id, time, request_id, method, resource_type, resource_id, \
             operation, status, error_detail, warnings) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(internal)?;
    for (e, time, warnings) in &rows.0 {
        st.execute(params![
            e.service.0,
            time,
            e.request_id,
            e.method,
            e.resource_type,
            e.resource_id,
            e.operation,
            e.status,
            e.error_detail,
            warnings,
        ])
        .map_err(internal)?;
    }
    Ok(())
}

pub(crate) fn query(c: &Connection, service: ServiceId, q: &LogQuery) -> StoreResult<Vec<StoredLogEntry>> {
    let failed: Option<bool> = q.failed;
    let limit = if q.limit == 0 { 100 } else { q.limit.min(1000) };
    let mut st = c
        .prepare_cached(
            "SELECT id, time, request_id, method, resource_type, resource_id, operation, status, error_detail, warnings \
             FROM provisioning_log WHERE service_id = ?1 \
             AND (?2 IS NULL OR (?2 = 1 AND status >= 400) OR (?2 = 0 AND status < 400)) \
             AND (?3 IS NULL OR resource_type = ?3) AND (?4 IS NULL OR resource_id = ?4) \
             AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6",
        )
        .map_err(internal)?;
    let rows = st
        .query_map(params![service.0, failed, q.resource_type, q.resource_id, q.before_id, limit], |r| {
            let warnings: String = r.get(9)?;
            Ok(StoredLogEntry {
                id: r.get(0)?,
                entry: LogEntry {
                    service,
                    time: parse_ts(&r.get::<_, String>(1)?)?,
                    request_id: r.get(2)?,
                    method: r.get(3)?,
                    resource_type: r.get(4)?,
                    resource_id: r.get(5)?,
                    operation: r.get(6)?,
                    status: r.get(7)?,
                    error_detail: r.get(8)?,
                    warnings: serde_json::from_str(&warnings).unwrap_or_default(),
                },
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(internal)?;
    Ok(rows)
}

pub(crate) fn prune(c: &Connection, service: ServiceId, before: domain::Timestamp) -> StoreResult<u64> {
    let n = c
        .execute("DELETE FROM provisioning_log WHERE service_id = ?1 AND time < ?2", params![service.0, ts(before)])
        .map_err(internal)?;
    Ok(n as u64)
}
