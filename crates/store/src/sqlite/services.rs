//! Services and API tokens.

use super::rows::{is_unique_violation, parse_opt_ts, parse_ts, ts};
use super::{SqliteStore, internal};
use domain::ports::{StoreError, StoreResult};
use domain::service::{Service, ServiceId, ServiceParams};
use domain::token::{ApiToken, NewToken};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

fn service_from_row(row: &Row<'_>) -> rusqlite::Result<Service> {
    let params: String = row.get(2)?;
    Ok(Service {
        id: ServiceId(row.get(0)?),
        name: row.get(1)?,
        // Parameters added in later versions take their defaults (serde(default)).
        params: serde_json::from_str(&params).map_err(|e| super::rows::bad_data(e.to_string()))?,
        created: parse_ts(&row.get::<_, String>(3)?)?,
    })
}

pub(crate) async fn create_service(store: &SqliteStore, name: &str, params: ServiceParams) -> StoreResult<Service> {
    let name = name.to_owned();
    let params_json = serde_json::to_string(&params).map_err(|e| StoreError::Internal(e.to_string()))?;
    store
        .write(move |c| {
            let r = c.execute(
                "INSERT INTO services (name, params, created) VALUES (?1, ?2, ?3)",
                params![name, params_json, ts(domain::now())],
            );
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict(format!("a service named {name:?} already exists")));
                }
                Err(e) => return Err(internal(e)),
            }
            service_where(c, "id = ?1", &c.last_insert_rowid())?.ok_or(StoreError::NotFound)
        })
        .await
}

pub(crate) fn list_services(c: &Connection) -> StoreResult<Vec<Service>> {
    c.prepare_cached("SELECT id, name, params, created FROM services ORDER BY id")
        .and_then(|mut st| st.query_map([], service_from_row)?.collect())
        .map_err(internal)
}

pub(crate) fn service_where(c: &Connection, cond: &str, value: &dyn ToSql) -> StoreResult<Option<Service>> {
    c.prepare_cached(&format!("SELECT id, name, params, created FROM services WHERE {cond}"))
        .and_then(|mut st| st.query_row([value], service_from_row).optional())
        .map_err(internal)
}

pub(crate) async fn update_params(store: &SqliteStore, id: ServiceId, params: ServiceParams) -> StoreResult<Service> {
    let params_json = serde_json::to_string(&params).map_err(|e| StoreError::Internal(e.to_string()))?;
    store
        .write(move |c| {
            let n = c
                .execute("UPDATE services SET params = ?2 WHERE id = ?1", params![id.0, params_json])
                .map_err(internal)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            service_where(c, "id = ?1", &id.0)?.ok_or(StoreError::NotFound)
        })
        .await
}

const TOKEN_COLUMNS: &str = "id, service_id, scope, prefix, description, created, expires_at, last_used, revoked_at";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: row.get(0)?,
        service: ServiceId(row.get(1)?),
        scope: row.get::<_, String>(2)?.parse().map_err(super::rows::bad_data)?,
        prefix: row.get(3)?,
        description: row.get(4)?,
        created: parse_ts(&row.get::<_, String>(5)?)?,
        expires_at: parse_opt_ts(row.get(6)?)?,
        last_used: parse_opt_ts(row.get(7)?)?,
        revoked_at: parse_opt_ts(row.get(8)?)?,
    })
}

pub(crate) async fn insert_token(store: &SqliteStore, t: NewToken) -> StoreResult<ApiToken> {
    store
        .write(move |c| {
            c.execute(
                "INSERT INTO api_tokens (service_id, scope, prefix, hash, description, created, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.service.0,
                    t.scope.as_str(),
                    t.prefix,
                    t.hash,
                    t.description,
                    ts(domain::now()),
                    t.expires_at.map(ts)
                ],
            )
            .map_err(internal)?;
            let id = c.last_insert_rowid();
            c.query_row(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"), [id], token_from_row)
                .map_err(internal)
        })
        .await
}

pub(crate) fn token_by_hash(c: &Connection, hash: &[u8]) -> StoreResult<Option<ApiToken>> {
    c.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = ?1"))
        .and_then(|mut st| st.query_row([hash], token_from_row).optional())
        .map_err(internal)
}

pub(crate) fn authenticate(c: &Connection, hash: &[u8]) -> StoreResult<Option<(ApiToken, Service)>> {
    let sql = format!(
        "SELECT {}, s.id, s.name, s.params, s.created FROM api_tokens t JOIN services s ON s.id = t.service_id \
         WHERE t.hash = ?1",
        TOKEN_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
    );
    c.prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_row([hash], |r| {
                let token = token_from_row(r)?;
                let params: String = r.get(11)?;
                let service = Service {
                    id: ServiceId(r.get(9)?),
                    name: r.get(10)?,
                    params: serde_json::from_str(&params).map_err(|e| super::rows::bad_data(e.to_string()))?,
                    created: parse_ts(&r.get::<_, String>(12)?)?,
                };
                Ok((token, service))
            })
            .optional()
        })
        .map_err(internal)
}

pub(crate) fn list_tokens(c: &Connection, service: Option<ServiceId>) -> StoreResult<Vec<ApiToken>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE (?1 IS NULL OR service_id = ?1) ORDER BY id");
    c.prepare_cached(&sql)
        .and_then(|mut st| st.query_map([service.map(|s| s.0)], token_from_row)?.collect())
        .map_err(internal)
}

pub(crate) fn revoke_token(c: &Connection, service: Option<ServiceId>, id: i64) -> StoreResult<ApiToken> {
    let n = c
        .execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?3) WHERE id = ?1 AND (?2 IS NULL OR service_id = ?2)",
            params![id, service.map(|s| s.0), ts(domain::now())],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    c.query_row(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"), [id], token_from_row)
        .map_err(internal)
}

pub(crate) fn touch_token(c: &Connection, id: i64, at: domain::Timestamp) -> StoreResult<()> {
    c.prepare_cached("UPDATE api_tokens SET last_used = ?2 WHERE id = ?1")
        .and_then(|mut st| st.execute(params![id, ts(at)]))
        .map_err(internal)?;
    Ok(())
}
