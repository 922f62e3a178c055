//! Console administrators, sessions, and the console's statistics on PostgreSQL.

use super::{execute, is_unique_violation, parse_opt_ts, parse_ts, pg_err, query, query_opt, ts};
use deadpool_postgres::GenericClient;
use domain::admin::{AdminAccount, AdminSession, LogStats, NewSession};
use domain::limits::fold_key;
use domain::ports::{StoreError, StoreResult};
use domain::service::ServiceId;
use tokio_postgres::Row;

const ADMIN_COLUMNS: &str = "id, name, password_hash, created, last_login";

fn admin_from_row(r: &Row) -> StoreResult<AdminAccount> {
    Ok(AdminAccount {
        id: r.get(0),
        name: r.get(1),
        password_hash: r.get(2),
        created: parse_ts(r.get::<_, &str>(3))?,
        last_login: parse_opt_ts(r.get(4))?,
    })
}

pub(crate) async fn create_admin<C: GenericClient>(
    c: &C,
    name: &str,
    password_hash: &str,
) -> StoreResult<AdminAccount> {
    let inserted = query_opt(
        c,
        &format!(
            "INSERT INTO admin_accounts (name, name_key, password_hash, created) VALUES ($1, $2, $3, $4) \
             RETURNING {ADMIN_COLUMNS}"
        ),
        &[&name, &fold_key(name), &password_hash, &ts(domain::now())],
    )
    .await;
    match inserted {
        Ok(Some(row)) => admin_from_row(&row),
        Ok(None) => Err(StoreError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::Conflict(format!("an administrator named {name:?} already exists")))
        }
        Err(e) => Err(pg_err(e)),
    }
}

pub(crate) async fn admin_by_name<C: GenericClient>(c: &C, name: &str) -> StoreResult<Option<AdminAccount>> {
    query_opt(c, &format!("SELECT {ADMIN_COLUMNS} FROM admin_accounts WHERE name_key = $1"), &[&fold_key(name)])
        .await
        .map_err(pg_err)?
        .map(|r| admin_from_row(&r))
        .transpose()
}

pub(crate) async fn list_admins<C: GenericClient>(c: &C) -> StoreResult<Vec<AdminAccount>> {
    query(c, &format!("SELECT {ADMIN_COLUMNS} FROM admin_accounts ORDER BY name_key"), &[])
        .await
        .map_err(pg_err)?
        .iter()
        .map(admin_from_row)
        .collect()
}

pub(crate) async fn set_password<C: GenericClient>(
    c: &C,
    name: &str,
    password_hash: &str,
) -> StoreResult<AdminAccount> {
    let row = query_opt(
        c,
        &format!("UPDATE admin_accounts SET password_hash = $2 WHERE name_key = $1 RETURNING {ADMIN_COLUMNS}"),
        &[&fold_key(name), &password_hash],
    )
    .await
    .map_err(pg_err)?
    .ok_or(StoreError::NotFound)?;
    let admin = admin_from_row(&row)?;
    // A new password ends every session opened with the old one.
    execute(c, "DELETE FROM admin_sessions WHERE admin_id = $1", &[&admin.id]).await.map_err(pg_err)?;
    Ok(admin)
}

pub(crate) async fn record_login<C: GenericClient>(c: &C, admin_id: i64, at: domain::Timestamp) -> StoreResult<()> {
    execute(c, "UPDATE admin_accounts SET last_login = $2 WHERE id = $1", &[&admin_id, &ts(at)])
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn create_session<C: GenericClient>(c: &C, s: NewSession) -> StoreResult<()> {
    let created = ts(s.created);
    execute(c, "DELETE FROM admin_sessions WHERE expires_at <= $1", &[&created]).await.map_err(pg_err)?;
    execute(
        c,
        "INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, created, expires_at, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $4)",
        &[&s.id_hash, &s.admin_id, &s.csrf_token, &created, &ts(s.expires_at)],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn session_by_hash<C: GenericClient>(c: &C, id_hash: &[u8]) -> StoreResult<Option<AdminSession>> {
    let Some(r) = query_opt(
        c,
        "SELECT s.id_hash, s.admin_id, a.name, s.csrf_token, s.created, s.expires_at, s.last_seen \
         FROM admin_sessions s JOIN admin_accounts a ON a.id = s.admin_id WHERE s.id_hash = $1",
        &[&id_hash],
    )
    .await
    .map_err(pg_err)?
    else {
        return Ok(None);
    };
    Ok(Some(AdminSession {
        id_hash: r.get(0),
        admin_id: r.get(1),
        admin_name: r.get(2),
        csrf_token: r.get(3),
        created: parse_ts(r.get::<_, &str>(4))?,
        expires_at: parse_ts(r.get::<_, &str>(5))?,
        last_seen: parse_ts(r.get::<_, &str>(6))?,
    }))
}

pub(crate) async fn touch_session<C: GenericClient>(c: &C, id_hash: &[u8], at: domain::Timestamp) -> StoreResult<()> {
    execute(c, "UPDATE admin_sessions SET last_seen = $2 WHERE id_hash = $1", &[&id_hash, &ts(at)])
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn delete_session<C: GenericClient>(c: &C, id_hash: &[u8]) -> StoreResult<()> {
    execute(c, "DELETE FROM admin_sessions WHERE id_hash = $1", &[&id_hash]).await.map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn group_member_counts<C: GenericClient>(
    c: &C,
    service: ServiceId,
    group_ids: &[String],
) -> StoreResult<Vec<(String, u64)>> {
    let ids: Vec<&str> = group_ids.iter().map(String::as_str).collect();
    let rows = query(
        c,
        "SELECT g.id, (SELECT COUNT(*) FROM group_members gm WHERE gm.group_pk = g.pk) FROM groups g \
         WHERE g.id = ANY($1) AND g.service_id = $2",
        &[&ids, &service.0],
    )
    .await
    .map_err(pg_err)?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0))).collect())
}

pub(crate) async fn log_stats<C: GenericClient>(
    c: &C,
    service: ServiceId,
    since: domain::Timestamp,
) -> StoreResult<LogStats> {
    let last = query_opt(c, "SELECT max(time) FROM provisioning_log WHERE service_id = $1", &[&service.0])
        .await
        .map_err(pg_err)?
        .and_then(|r| r.get::<_, Option<String>>(0));
    let counts = query_opt(
        c,
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE status >= 400) FROM provisioning_log \
         WHERE service_id = $1 AND time >= $2",
        &[&service.0, &ts(since)],
    )
    .await
    .map_err(pg_err)?;
    let (requests, errors) = counts.map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1))).unwrap_or((0, 0));
    Ok(LogStats {
        last_request: parse_opt_ts(last)?,
        requests: u64::try_from(requests).unwrap_or(0),
        errors: u64::try_from(errors).unwrap_or(0),
    })
}
