//! The provisioning log on PostgreSQL.

use super::{execute, parse_ts, pg_err, ts};
use deadpool_postgres::GenericClient;
use domain::audit::{LogEntry, LogQuery, StoredLogEntry};
use domain::ports::StoreResult;
use domain::service::ServiceId;

/// Appends a batch of entries with one multi-row `INSERT … SELECT FROM unnest(…)`: one round
/// trip and, run on its own, one commit for the whole batch. Ids follow the batch's order.
pub(crate) async fn append<C: GenericClient>(c: &C, entries: Vec<LogEntry>) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = entries.len();
    let mut service = Vec::with_capacity(n);
    let mut time = Vec::with_capacity(n);
    let mut request_id = Vec::with_capacity(n);
    let mut method = Vec::with_capacity(n);
    let mut resource_type = Vec::with_capacity(n);
    let mut resource_id = Vec::with_capacity(n);
    let mut operation = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut error_detail = Vec::with_capacity(n);
    let mut warnings = Vec::with_capacity(n);
    for e in entries {
        service.push(e.service.0);
        time.push(ts(e.time));
        request_id.push(e.request_id);
        method.push(e.method);
        resource_type.push(e.resource_type);
        resource_id.push(e.resource_id);
        operation.push(e.operation);
        status.push(i32::from(e.status));
        error_detail.push(e.error_detail);
        warnings.push(serde_json::Value::from(e.warnings).to_string());
    }
    execute(
        c,
        "INSERT INTO provisioning_log (service_id, time, request_id, method, resource_type, resource_id, \
         operation, status, error_detail, warnings) \
         SELECT service_id, time, request_id, method, resource_type, resource_id, operation, status, \
         error_detail, warnings FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
         $6::TEXT[], $7::TEXT[], $8::INTEGER[], $9::TEXT[], $10::TEXT[]) WITH ORDINALITY \
         AS e(service_id, time, request_id, method, resource_type, resource_id, operation, status, \
         error_detail, warnings, n) ORDER BY n",
        &[
            &service,
            &time,
            &request_id,
            &method,
            &resource_type,
            &resource_id,
            &operation,
            &status,
            &error_detail,
            &warnings,
        ],
    )
    .await
    .map_err(pg_err)?;
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
