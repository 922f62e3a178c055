//! Services and API tokens on PostgreSQL.

use super::{bad, execute, is_unique_violation, parse_opt_ts, parse_ts, pg_err, query, query_opt, ts};
use deadpool_postgres::GenericClient;
use domain::ports::{StoreError, StoreResult};
use domain::service::{Service, ServiceId, ServiceParams};
use domain::token::{ApiToken, NewToken};
use tokio_postgres::Row;

fn service_from_row(row: &Row) -> StoreResult<Service> {
    Ok(Service {
        id: ServiceId(row.get(0)),
        name: row.get(1),
        params: serde_json::from_str(row.get::<_, &str>(2)).map_err(bad)?,
        created: parse_ts(row.get::<_, &str>(3))?,
    })
}

pub(crate) async fn create_service<C: GenericClient>(c: &C, name: &str, params: ServiceParams) -> StoreResult<Service> {
    let params_json = serde_json::to_string(&params).map_err(bad)?;
    let row = query_opt(
        c,
        "INSERT INTO services (name, params, created) VALUES ($1, $2, $3) RETURNING id, name, params, created",
        &[&name, &params_json, &ts(domain::now())],
    )
    .await;
    match row {
        Ok(Some(r)) => service_from_row(&r),
        Ok(None) => Err(StoreError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::Conflict(format!("a service named {name:?} already exists")))
        }
        Err(e) => Err(pg_err(e)),
    }
}

pub(crate) async fn list_services<C: GenericClient>(c: &C) -> StoreResult<Vec<Service>> {
    let rows = query(c, "SELECT id, name, params, created FROM services ORDER BY id", &[]).await.map_err(pg_err)?;
    rows.iter().map(service_from_row).collect()
}

pub(crate) async fn service_by_name<C: GenericClient>(c: &C, name: &str) -> StoreResult<Option<Service>> {
    query_opt(c, "SELECT id, name, params, created FROM services WHERE name = $1", &[&name])
        .await
        .map_err(pg_err)?
        .map(|r| service_from_row(&r))
        .transpose()
}

pub(crate) async fn service_by_id<C: GenericClient>(c: &C, id: ServiceId) -> StoreResult<Option<Service>> {
    query_opt(c, "SELECT id, name, params, created FROM services WHERE id = $1", &[&id.0])
        .await
        .map_err(pg_err)?
        .map(|r| service_from_row(&r))
        .transpose()
}

pub(crate) async fn update_params<C: GenericClient>(
    c: &C,
    id: ServiceId,
    params: ServiceParams,
) -> StoreResult<Service> {
    let params_json = serde_json::to_string(&params).map_err(bad)?;
    query_opt(
        c,
        "UPDATE services SET params = $2 WHERE id = $1 RETURNING id, name, params, created",
        &[&id.0, &params_json],
    )
    .await
    .map_err(pg_err)?
    .map(|r| service_from_row(&r))
    .transpose()?
    .ok_or(StoreError::NotFound)
}

const TOKEN_COLUMNS: &str = "id, service_id, scope, prefix, description, created, expires_at, last_used, revoked_at";

fn token_from_row(row: &Row) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: row.get(0),
        service: ServiceId(row.get(1)),
        scope: row.get::<_, String>(2).parse().map_err(bad)?,
        prefix: row.get(3),
        description: row.get(4),
        created: parse_ts(row.get::<_, &str>(5))?,
        expires_at: parse_opt_ts(row.get(6))?,
        last_used: parse_opt_ts(row.get(7))?,
        revoked_at: parse_opt_ts(row.get(8))?,
    })
}

pub(crate) async fn insert_token<C: GenericClient>(c: &C, t: NewToken) -> StoreResult<ApiToken> {
    let row = query_opt(
        c,
        &format!(
            "INSERT INTO api_tokens (service_id, scope, prefix, hash, description, created, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
        ),
        &[
            &t.service.0,
            &t.scope.as_str(),
            &t.prefix,
            &t.hash,
            &t.description,
            &ts(domain::now()),
            &t.expires_at.map(ts),
        ],
    )
    .await
    .map_err(pg_err)?
    .ok_or(StoreError::NotFound)?;
    token_from_row(&row)
}

pub(crate) async fn token_by_hash<C: GenericClient>(c: &C, hash: &[u8]) -> StoreResult<Option<ApiToken>> {
    query_opt(c, &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1"), &[&hash])
        .await
        .map_err(pg_err)?
        .map(|r| token_from_row(&r))
        .transpose()
}

pub(crate) async fn authenticate<C: GenericClient>(c: &C, hash: &[u8]) -> StoreResult<Option<(ApiToken, Service)>> {
    let sql = format!(
        "SELECT {}, s.id, s.name, s.params, s.created FROM api_tokens t JOIN services s ON s.id = t.service_id \
         WHERE t.hash = $1",
        TOKEN_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
    );
    let Some(r) = query_opt(c, &sql, &[&hash]).await.map_err(pg_err)? else { return Ok(None) };
    let token = token_from_row(&r)?;
    let service = Service {
        id: ServiceId(r.get(9)),
        name: r.get(10),
        params: serde_json::from_str(r.get::<_, &str>(11)).map_err(bad)?,
        created: parse_ts(r.get::<_, &str>(12))?,
    };
    Ok(Some((token, service)))
}

pub(crate) async fn list_tokens<C: GenericClient>(c: &C, service: Option<ServiceId>) -> StoreResult<Vec<ApiToken>> {
    let rows = query(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1::BIGINT IS NULL OR service_id = $1) ORDER BY id"),
        &[&service.map(|s| s.0)],
    )
    .await
    .map_err(pg_err)?;
    rows.iter().map(token_from_row).collect()
}

pub(crate) async fn revoke_token<C: GenericClient>(
    c: &C,
    service: Option<ServiceId>,
    id: i64,
) -> StoreResult<ApiToken> {
    query_opt(
        c,
        &format!(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3) WHERE id = $1 \
             AND ($2::BIGINT IS NULL OR service_id = $2) RETURNING {TOKEN_COLUMNS}"
        ),
        &[&id, &service.map(|s| s.0), &ts(domain::now())],
    )
    .await
    .map_err(pg_err)?
    .map(|r| token_from_row(&r))
    .transpose()?
    .ok_or(StoreError::NotFound)
}

pub(crate) async fn touch_token<C: GenericClient>(c: &C, id: i64, at: domain::Timestamp) -> StoreResult<()> {
    execute(c, "UPDATE api_tokens SET last_used = $2 WHERE id = $1", &[&id, &ts(at)]).await.map_err(pg_err)?;
    Ok(())
}
