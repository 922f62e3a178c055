//! Console administrators, sessions, and the console's statistics.

use super::internal;
use super::rows::{is_unique_violation, parse_opt_ts, parse_ts, ts};
use domain::admin::{AdminAccount, AdminSession, LogStats, NewSession};
use domain::limits::fold_key;
use domain::ports::{StoreError, StoreResult};
use domain::service::ServiceId;
use rusqlite::{Connection, OptionalExtension, Row, params};

const ADMIN_COLUMNS: &str = "id, name, password_hash, created, last_login";

fn admin_from_row(row: &Row<'_>) -> rusqlite::Result<AdminAccount> {
    Ok(AdminAccount {
        id: row.get(0)?,
        name: row.get(1)?,
        password_hash: row.get(2)?,
        created: parse_ts(&row.get::<_, String>(3)?)?,
        last_login: parse_opt_ts(row.get(4)?)?,
    })
}

pub(crate) fn create_admin(c: &Connection, name: &str, password_hash: &str) -> StoreResult<AdminAccount> {
    let inserted = c.execute(
        "INSERT INTO admin_accounts (name, name_key, password_hash, created) VALUES (?1, ?2, ?3, ?4)",
        params![name, fold_key(name), password_hash, ts(domain::now())],
    );
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict(format!("an administrator named {name:?} already exists")));
        }
        Err(e) => return Err(internal(e)),
    }
    admin_by_name(c, name)?.ok_or(StoreError::NotFound)
}

pub(crate) fn admin_by_name(c: &Connection, name: &str) -> StoreResult<Option<AdminAccount>> {
    c.prepare_cached(&format!("SELECT {ADMIN_COLUMNS} FROM admin_accounts WHERE name_key = ?1"))
        .and_then(|mut st| st.query_row([fold_key(name)], admin_from_row).optional())
        .map_err(internal)
}

pub(crate) fn list_admins(c: &Connection) -> StoreResult<Vec<AdminAccount>> {
    c.prepare_cached(&format!("SELECT {ADMIN_COLUMNS} FROM admin_accounts ORDER BY name_key"))
        .and_then(|mut st| st.query_map([], admin_from_row)?.collect())
        .map_err(internal)
}

pub(crate) fn set_password(c: &Connection, name: &str, password_hash: &str) -> StoreResult<AdminAccount> {
    let admin = admin_by_name(c, name)?.ok_or(StoreError::NotFound)?;
    c.execute("UPDATE admin_accounts SET password_hash = ?2 WHERE id = ?1", params![admin.id, password_hash])
        .map_err(internal)?;
    // A new password ends every session opened with the old one.
    c.execute("DELETE FROM admin_sessions WHERE admin_id = ?1", [admin.id]).map_err(internal)?;
    Ok(AdminAccount { password_hash: password_hash.to_owned(), ..admin })
}

pub(crate) fn record_login(c: &Connection, admin_id: i64, at: domain::Timestamp) -> StoreResult<()> {
    c.execute("UPDATE admin_accounts SET last_login = ?2 WHERE id = ?1", params![admin_id, ts(at)])
        .map_err(internal)?;
    Ok(())
}

pub(crate) fn create_session(c: &Connection, s: NewSession) -> StoreResult<()> {
    c.prepare_cached("DELETE FROM admin_sessions WHERE expires_at <= ?1")
        .and_then(|mut st| st.execute([ts(s.created)]))
        .map_err(internal)?;
    c.prepare_cached(
        "INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, created, expires_at, last_seen) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
    )
    .and_then(|mut st| st.execute(params![s.id_hash, s.admin_id, s.csrf_token, ts(s.created), ts(s.expires_at)]))
    .map_err(internal)?;
    Ok(())
}

pub(crate) fn session_by_hash(c: &Connection, id_hash: &[u8]) -> StoreResult<Option<AdminSession>> {
    c.prepare_cached(
        "SELECT s.id_hash, s.admin_id, a.name, s.csrf_token, s.created, s.expires_at, s.last_seen \
         FROM admin_sessions s JOIN admin_accounts a ON a.id = s.admin_id WHERE s.id_hash = ?1",
    )
    .and_then(|mut st| {
        st.query_row([id_hash], |r| {
            Ok(AdminSession {
                id_hash: r.get(0)?,
                admin_id: r.get(1)?,
                admin_name: r.get(2)?,
                csrf_token: r.get(3)?,
                created: parse_ts(&r.get::<_, String>(4)?)?,
                expires_at: parse_ts(&r.get::<_, String>(5)?)?,
                last_seen: parse_ts(&r.get::<_, String>(6)?)?,
            })
        })
        .optional()
    })
    .map_err(internal)
}

pub(crate) fn touch_session(c: &Connection, id_hash: &[u8], at: domain::Timestamp) -> StoreResult<()> {
    c.prepare_cached("UPDATE admin_sessions SET last_seen = ?2 WHERE id_hash = ?1")
        .and_then(|mut st| st.execute(params![id_hash, ts(at)]))
        .map_err(internal)?;
    Ok(())
}

pub(crate) fn delete_session(c: &Connection, id_hash: &[u8]) -> StoreResult<()> {
    c.prepare_cached("DELETE FROM admin_sessions WHERE id_hash = ?1")
        .and_then(|mut st| st.execute([id_hash]))
        .map_err(internal)?;
    Ok(())
}

pub(crate) fn group_member_counts(
    c: &Connection,
    service: ServiceId,
    group_ids: &[String],
) -> StoreResult<Vec<(String, u64)>> {
    let mut st = c
        .prepare_cached(
            "SELECT g.id, (SELECT COUNT(*) FROM group_members gm WHERE gm.group_pk = g.pk) FROM groups g \
             WHERE g.id = ?1 AND g.service_id = ?2",
        )
        .map_err(internal)?;
    let mut out = Vec::with_capacity(group_ids.len());
    for id in group_ids {
        if let Some(row) = st
            .query_row(params![id, service.0], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .optional()
            .map_err(internal)?
        {
            out.push((row.0, u64::try_from(row.1).unwrap_or(0)));
        }
    }
    Ok(out)
}

pub(crate) fn log_stats(c: &Connection, service: ServiceId, since: domain::Timestamp) -> StoreResult<LogStats> {
    let last: Option<String> = c
        .prepare_cached("SELECT max(time) FROM provisioning_log WHERE service_id = ?1")
        .and_then(|mut st| st.query_row([service.0], |r| r.get(0)))
        .map_err(internal)?;
    let (requests, errors): (i64, i64) = c
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) FROM provisioning_log \
             WHERE service_id = ?1 AND time >= ?2",
        )
        .and_then(|mut st| st.query_row(params![service.0, ts(since)], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(internal)?;
    Ok(LogStats {
        last_request: parse_opt_ts(last).map_err(internal)?,
        requests: u64::try_from(requests).unwrap_or(0),
        errors: u64::try_from(errors).unwrap_or(0),
    })
}
