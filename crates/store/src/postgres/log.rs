//! The provisioning log on PostgreSQL.

use super::{execute, parse_ts, pg_err, ts};
use deadpool_postgres::GenericClient;
use domain::audit::{LogEntry, LogQuery, StoredLogEntry};
use domain::ports::StoreResult;
use domain::service::ServiceId;

pub(crate) async fn append<C: GenericClient>(c: &C, entries: Vec<LogEntry>) -> StoreResult<()> {
    for e in entries {
        execute(
            c,
            "INSERT INTO provisioning_log (service_id, time, request_id, method, resource_type, resource_id, \
             operation, status, error_detail, warnings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &e.service.0,
                &ts(e.time),
                &e.request_id,
                &e.method,
                &e.resource_type,
                &e.resource_id,
                &e.operation,
                &i32::from(e.status),
                &e.error_detail,
                &serde_json::Value::from(e.warnings).to_string(),
            ],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}

pub(crate) async fn query<C: GenericClient>(
    c: &C,
    service: ServiceId,
    q: &LogQuery,
) -> StoreResult<Vec<StoredLogEntry>> {
    let limit = i64::from(if q.limit == 0 { 100 } else { q.limit.min(1000) });
    let rows = super::query(
        c,
        "SELECT id, time, request_id, method, resource_type, resource_id, operation, status, error_detail, warnings \
         FROM provisioning_log WHERE service_id = $1 \
         AND ($2::BOOLEAN IS NULL OR ($2 AND status >= 400) OR (NOT $2 AND status < 400)) \
         AND ($3::TEXT IS NULL OR resource_type = $3) AND ($4::TEXT IS NULL OR resource_id = $4) \
         AND ($5::BIGINT IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
        &[&service.0, &q.failed, &q.resource_type, &q.resource_id, &q.before_id, &limit],
    )
    .await
    .map_err(pg_err)?;
    rows.iter()
        .map(|r| {
            Ok(StoredLogEntry {
                id: r.get(0),
                entry: LogEntry {
                    service,
                    time: parse_ts(r.get::<_, &str>(1))?,
                    request_id: r.get(2),
                    method: r.get(3),
                    resource_type: r.get(4),
                    resource_id: r.get(5),
                    operation: r.get(6),
                    status: u16::try_from(r.get::<_, i32>(7)).unwrap_or(0),
                    error_detail: r.get(8),
                    warnings: serde_json::from_str(r.get::<_, &str>(9)).unwrap_or_default(),
                },
            })
        })
        .collect()
}

pub(crate) async fn prune<C: GenericClient>(c: &C, service: ServiceId, before: domain::Timestamp) -> StoreResult<u64> {
    execute(c, "DELETE FROM provisioning_log WHERE service_id = $1 AND time < $2", &[&service.0, &ts(before)])
        .await
        .map_err(pg_err)
}
