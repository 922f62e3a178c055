//! Users on PostgreSQL. Mirrors `sqlite/users.rs`; changes lock the user row first.

use super::{
    Params, PipelinedTx, bad, boxed_params, execute, is_unique_violation, parse_json, parse_opt_ts, parse_ts, pg_err,
    query, query_opt, ts,
};
use crate::sql_query::{Compiler, Postgres, SqlParam, user_column};
use deadpool_postgres::GenericClient;
use domain::limits::fold_key;
use domain::ports::{NewActivation, StoreError, StoreResult, UserCounts, UserGuard, UserMutation};
use domain::query::{Page, SortDirection, UserField, UserQuery};
use domain::service::ServiceId;
use domain::user::{BlockReason, Profile, User};
use std::collections::BTreeSet;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

pub(crate) const USER_COLUMNS: &str = user_columns!();

const FIND_SQL: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1 AND u.service_id = $2");
/// The lock is taken on the user row alone (the aggregate sub-select cannot be locked).
const FIND_FOR_UPDATE_SQL: &str =
    concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1 AND u.service_id = $2 FOR NO KEY UPDATE OF u");
const LOAD_BY_PK_SQL: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.pk = $1");

pub(crate) fn user_from_row(row: &Row) -> StoreResult<(i64, User)> {
    let reasons: Option<String> = row.get(18);
    let block_reasons = reasons
        .unwrap_or_default()
        .split('\n')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<BlockReason>().map_err(bad))
        .collect::<StoreResult<BTreeSet<_>>>()?;
    let user = User {
        id: row.get(2),
        service: ServiceId(row.get(1)),
        user_name: row.get(3),
        external_id: row.get(4),
        active: row.get(5),
        status: row.get::<_, String>(6).parse().map_err(bad)?,
        source: row.get::<_, String>(7).parse().map_err(bad)?,
        activation_expires_at: parse_opt_ts(row.get(8))?,
        profile: Profile {
            email: row.get(9),
            display_name: row.get(10),
            given_name: row.get(11),
            family_name: row.get(12),
            preferred_language: row.get(13),
        },
        block_reasons,
        attributes: parse_json(row.get::<_, &str>(14))?,
        created: parse_ts(row.get::<_, &str>(15))?,
        last_modified: parse_ts(row.get::<_, &str>(16))?,
        version: row.get(17),
    };
    Ok((row.get(0), user))
}

pub(crate) fn login_taken(user_name: &str) -> StoreError {
    StoreError::Conflict(format!("userName {user_name:?} is already taken by another user of this service"))
}

/// Stores a new activation code (replacing any earlier one) and queues its email, in the
/// caller's transaction.
pub(crate) async fn insert_activation<C: GenericClient>(
    c: &C,
    user_pk: i64,
    service: ServiceId,
    user_id: &str,
    a: &NewActivation,
    now: &str,
) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO activation_codes (user_pk, code_hash, expires_at, created) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_pk) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, \
         created = excluded.created",
        &[&user_pk, &a.code_hash, &ts(a.expires_at), &now],
    )
    .await
    .map_err(pg_err)?;
    execute(
        c,
        "INSERT INTO outbox (service_id, user_id, recipient, template, payload, state, next_attempt_at, created) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
        &[&service.0, &user_id, &a.email.recipient, &a.email.template, &a.email.payload.to_string(), &now],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn load_by_pk<C: GenericClient>(c: &C, pk: i64) -> StoreResult<User> {
    let row = query_opt(c, LOAD_BY_PK_SQL, &[&pk]).await.map_err(pg_err)?.ok_or(StoreError::NotFound)?;
    Ok(user_from_row(&row)?.1)
}

/// Finds a user; with `lock`, takes the row lock that serialises writers of this user.
pub(crate) async fn find_user<C: GenericClient>(
    c: &C,
    service: ServiceId,
    id: &str,
    lock: bool,
) -> StoreResult<Option<(i64, User)>> {
    let sql = if lock { FIND_FOR_UPDATE_SQL } else { FIND_SQL };
    match query_opt(c, sql, &[&id, &service.0]).await.map_err(pg_err)? {
        Some(row) => Ok(Some(user_from_row(&row)?)),
        None => Ok(None),
    }
}

/// Locks the user (`BEGIN` sent with the locking `SELECT`), applies `mutation`, and writes the
/// result with `COMMIT` sent along: two round trips.
pub(crate) async fn update_user(
    client: deadpool_postgres::Client,
    service: ServiceId,
    id: &str,
    mutation: UserMutation,
) -> StoreResult<User> {
    let find = client.prepare_cached(FIND_FOR_UPDATE_SQL).await.map_err(pg_err)?;
    let save = client.prepare_cached(SAVE_USER_SQL).await.map_err(pg_err)?;
    let mut tx = PipelinedTx::new(client);
    let rows = tx.begin_query(&find, &[&id, &service.0]).await?;
    let locked = rows.first().map(user_from_row).transpose();
    let (pk, before) = match locked {
        Ok(Some(found)) => found,
        Ok(None) => {
            tx.rollback().await;
            return Err(StoreError::NotFound);
        }
        Err(e) => {
            tx.rollback().await;
            return Err(e);
        }
    };
    let mut after = before.clone();
    if let Err(e) = mutation(&mut after) {
        tx.rollback().await;
        return Err(e.into());
    }
    let values = SaveValues::new(pk, &before, &after);
    let saved = tx.query_commit(&save, &values.params()).await;
    saved_user(saved.map(|rows| rows.into_iter().next()), &after.user_name)
}

/// Writes a user and the block reasons that changed, and returns the row as written: the
/// reasons the statement saw, less those it removed, plus those it added (a statement does not
/// see its own CTEs' changes).
const SAVE_USER_SQL: &str = concat!(
    "WITH d AS (DELETE FROM user_block_reasons WHERE user_pk = $1 AND reason = ANY($18::TEXT[])), \
     i AS (INSERT INTO user_block_reasons (user_pk, reason) SELECT $1, unnest($19::TEXT[]) ON CONFLICT DO NOTHING) \
     UPDATE users u SET user_name = $2, user_name_key = $3, external_id = $4, active = $5, status = $6, \
     source = $7, activation_expires_at = $8, email = $9, email_key = $10, display_name = $11, \
     display_name_key = $12, given_name = $13, family_name = $14, preferred_language = $15, \
     attributes = $16, last_modified = $17, version = u.version + 1 WHERE u.pk = $1 RETURNING ",
    user_fields!(),
    ", (SELECT string_agg(x.reason, E'\\n') FROM (SELECT r.reason FROM user_block_reasons r \
     WHERE r.user_pk = u.pk AND r.reason <> ALL($18::TEXT[]) UNION SELECT unnest($19::TEXT[])) x(reason))"
);

/// The parameters of `SAVE_USER_SQL`.
struct SaveValues<'a> {
    pk: i64,
    after: &'a User,
    status: &'static str,
    source: &'static str,
    user_name_key: String,
    email_key: Option<String>,
    display_key: Option<String>,
    activation_expires_at: Option<String>,
    attributes: String,
    now: String,
    removed: Vec<String>,
    added: Vec<String>,
}

impl<'a> SaveValues<'a> {
    fn new(pk: i64, before: &User, after: &'a User) -> Self {
        Self {
            pk,
            after,
            status: after.status.as_str(),
            source: after.source.as_str(),
            user_name_key: fold_key(&after.user_name),
            email_key: after.profile.email.as_deref().map(fold_key),
            display_key: after.profile.display_name.as_deref().map(fold_key),
            activation_expires_at: after.activation_expires_at.map(ts),
            attributes: after.attributes.to_string(),
            now: ts(domain::now()),
            removed: before.block_reasons.difference(&after.block_reasons).map(ToString::to_string).collect(),
            added: after.block_reasons.difference(&before.block_reasons).map(ToString::to_string).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 19] {
        let a = self.after;
        [
            &self.pk,
            &a.user_name,
            &self.user_name_key,
            &a.external_id,
            &a.active,
            &self.status,
            &self.source,
            &self.activation_expires_at,
            &a.profile.email,
            &self.email_key,
            &a.profile.display_name,
            &self.display_key,
            &a.profile.given_name,
            &a.profile.family_name,
            &a.profile.preferred_language,
            &self.attributes,
            &self.now,
            &self.removed,
            &self.added,
        ]
    }
}

fn saved_user(saved: Result<Option<Row>, tokio_postgres::Error>, user_name: &str) -> StoreResult<User> {
    match saved {
        Ok(Some(row)) => Ok(user_from_row(&row)?.1),
        Ok(None) => Err(StoreError::NotFound),
        Err(e) if is_unique_violation(&e) => Err(login_taken(user_name)),
        Err(e) => Err(pg_err(e)),
    }
}

/// Writes `after` over `before` in the caller's transaction, touching only the block reasons
/// that changed; one statement.
pub(crate) async fn save_user<C: GenericClient>(c: &C, pk: i64, before: &User, after: &User) -> StoreResult<User> {
    let values = SaveValues::new(pk, before, after);
    saved_user(query_opt(c, SAVE_USER_SQL, &values.params()).await, &after.user_name)
}

const DELETE_USER_SQL: &str = "WITH gone AS (DELETE FROM users WHERE pk = $1 RETURNING id) \
     DELETE FROM outbox o USING gone WHERE o.user_id = gone.id AND o.template = 'activation' \
     AND o.state = 'pending' AND (o.claimed_until IS NULL OR o.claimed_until < $2)";

/// Locks the user with `BEGIN` sent along, checks `guard`, and deletes with `COMMIT` sent along.
pub(crate) async fn delete_user(
    client: deadpool_postgres::Client,
    service: ServiceId,
    id: &str,
    guard: UserGuard,
) -> StoreResult<User> {
    let find = client.prepare_cached(FIND_FOR_UPDATE_SQL).await.map_err(pg_err)?;
    // Memberships, block reasons and activation codes go with the row (ON DELETE CASCADE);
    // emails not yet sent would carry a code that no longer exists, so those no worker holds
    // go too, in the same statement (as `outbox::drop_unclaimed_for_user`).
    let delete = client.prepare_cached(DELETE_USER_SQL).await.map_err(pg_err)?;
    let mut tx = PipelinedTx::new(client);
    let rows = tx.begin_query(&find, &[&id, &service.0]).await?;
    let checked = rows.first().map(user_from_row).transpose().and_then(|found| {
        let (pk, user) = found.ok_or(StoreError::NotFound)?;
        guard(&user)?;
        Ok((pk, user))
    });
    let (pk, user) = match checked {
        Ok(found) => found,
        Err(e) => {
            tx.rollback().await;
            return Err(e);
        }
    };
    tx.query_commit(&delete, &[&pk, &ts(domain::now())]).await.map_err(pg_err)?;
    Ok(user)
}

fn sort_column(f: UserField) -> &'static str {
    match f {
        UserField::Id => "u.id",
        UserField::UserName => "u.user_name_key",
        UserField::ExternalId => "u.external_id",
        UserField::Email => "u.email_key",
        UserField::DisplayName => "u.display_name_key",
        UserField::Active => "u.active",
        UserField::Created | UserField::MemberOf | UserField::Blocked => "u.created",
        UserField::LastModified => "u.last_modified",
        UserField::Status => "u.status",
        UserField::GivenName => "lower(u.given_name)",
        UserField::FamilyName => "lower(u.family_name)",
        UserField::ActivationExpiresAt => "u.activation_expires_at",
        UserField::Source => "u.source",
    }
}

pub(crate) async fn query_users<C: GenericClient>(c: &C, service: ServiceId, q: &UserQuery) -> StoreResult<Page<User>> {
    query_users_counted(c, service, q, true).await
}

/// One page without the total.
pub(crate) async fn query_users_page<C: GenericClient>(
    c: &C,
    service: ServiceId,
    q: &UserQuery,
) -> StoreResult<Vec<User>> {
    Ok(query_users_counted(c, service, q, false).await?.items)
}

async fn query_users_counted<C: GenericClient>(
    c: &C,
    service: ServiceId,
    q: &UserQuery,
    count: bool,
) -> StoreResult<Page<User>> {
    let mut compiler = Compiler::new(&Postgres);
    let service_param = compiler.bind(SqlParam::Int(service.0));
    let cond = compiler.condition(&q.condition, &user_column);
    let where_sql = format!("u.service_id = {service_param} AND ({cond})");
    let boxed = boxed_params(&compiler.params);
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        boxed.iter().map(|b| b.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
    let order = match q.sort {
        // Logins are never NULL and unique per service: the order is the login index's own, so
        // a keyset page (`userName gt <last>`) reads just its rows.
        Some((UserField::UserName, SortDirection::Ascending)) => "u.user_name_key ASC".to_owned(),
        Some((UserField::UserName, SortDirection::Descending)) => "u.user_name_key DESC".to_owned(),
        Some((f, SortDirection::Ascending)) => format!("{} ASC NULLS LAST, u.pk", sort_column(f)),
        Some((f, SortDirection::Descending)) => format!("{} DESC NULLS FIRST, u.pk", sort_column(f)),
        None => "u.pk".to_owned(),
    };
    let (limit_sql, limit, offset) = match q.page {
        Some(p) => (p.limit.to_string(), p.limit, p.offset),
        None => ("ALL".to_owned(), u64::MAX, 0),
    };
    let rows = query(
        c,
        &format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE {where_sql} ORDER BY {order} LIMIT {limit_sql} OFFSET {offset}"
        ),
        params.as_slice() as &Params<'_>,
    )
    .await
    .map_err(pg_err)?;
    let items = rows.iter().map(|r| user_from_row(r).map(|(_, u)| u)).collect::<StoreResult<Vec<_>>>()?;
    let total = if !count || q.page.is_none() || (offset == 0 && (items.len() as u64) < limit) {
        items.len() as u64
    } else {
        let row = query_opt(c, &format!("SELECT COUNT(*) FROM users u WHERE {where_sql}"), params.as_slice())
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound)?;
        row.get::<_, i64>(0) as u64
    };
    Ok(Page { total, items })
}

pub(crate) async fn user_counts<C: GenericClient>(
    c: &C,
    service: ServiceId,
    now: domain::Timestamp,
) -> StoreResult<UserCounts> {
    let rows = query(
        c,
        "SELECT CASE WHEN status = 'pendingActivation' AND activation_expires_at <= $2 \
         THEN 'activationExpired' ELSE status END AS s, COUNT(*) FROM users WHERE service_id = $1 GROUP BY s",
        &[&service.0, &ts(now)],
    )
    .await
    .map_err(pg_err)?;
    let mut counts = UserCounts::default();
    for row in rows {
        if let Ok(status) = row.get::<_, String>(0).parse() {
            let n = row.get::<_, i64>(1) as u64;
            counts.total += n;
            counts.by_status.push((status, n));
        }
    }
    let row = query_opt(
        c,
        "SELECT COUNT(DISTINCT r.user_pk) FROM user_block_reasons r JOIN users u ON u.pk = r.user_pk \
         WHERE u.service_id = $1",
        &[&service.0],
    )
    .await
    .map_err(pg_err)?;
    counts.blocked = row.map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0);
    Ok(counts)
}
