//! The provisioning log.

use super::internal;
use super::rows::{parse_ts, ts};
use domain::audit::{LogEntry, LogQuery, StoredLogEntry};
use domain::ports::StoreResult;
use domain::service::ServiceId;
use rusqlite::{Connection, params};

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
