//! Users: create, read, update under the writer's lock, delete, query.

use super::internal;
use super::rows::{
    ChangedColumns, bind_params, is_unique_violation, json_text, parse_json, parse_opt_ts, parse_ts, ts,
};
use crate::sql_query::{Compiler, SqlParam, Sqlite, user_column};
use domain::limits::fold_key;
use domain::ports::{NewActivation, StoreError, StoreResult, UserCounts, UserGuard, UserMutation};
use domain::query::{Page, SortDirection, UserField, UserQuery};
use domain::service::ServiceId;
use domain::user::{BlockReason, NewUser, Profile, User, UserStatus};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::BTreeSet;

pub(crate) const USER_COLUMNS: &str = "u.pk, u.service_id, u.id, u.user_name, u.external_id, u.active, u.status, \
    u.source, u.activation_expires_at, u.email, u.display_name, u.given_name, u.family_name, \
    u.preferred_language, u.attributes, u.created, u.last_modified, u.version, \
    (SELECT group_concat(r.reason, char(10)) FROM user_block_reasons r WHERE r.user_pk = u.pk)";

pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, User)> {
    let reasons: Option<String> = row.get(18)?;
    let block_reasons = reasons
        .unwrap_or_default()
        .split('\n')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<BlockReason>().map_err(super::rows::bad_data))
        .collect::<rusqlite::Result<BTreeSet<_>>>()?;
    let user = User {
        id: row.get(2)?,
        service: ServiceId(row.get(1)?),
        user_name: row.get(3)?,
        external_id: row.get(4)?,
        active: row.get(5)?,
        status: row.get::<_, String>(6)?.parse().map_err(super::rows::bad_data)?,
        source: row.get::<_, String>(7)?.parse().map_err(super::rows::bad_data)?,
        activation_expires_at: parse_opt_ts(row.get(8)?)?,
        profile: Profile {
            email: row.get(9)?,
            display_name: row.get(10)?,
            given_name: row.get(11)?,
            family_name: row.get(12)?,
            preferred_language: row.get(13)?,
        },
        block_reasons,
        attributes: parse_json(&row.get::<_, String>(14)?)?,
        created: parse_ts(&row.get::<_, String>(15)?)?,
        last_modified: parse_ts(&row.get::<_, String>(16)?)?,
        version: row.get(17)?,
    };
    Ok((row.get(0)?, user))
}

fn login_taken(user_name: &str) -> StoreError {
    StoreError::Conflict(format!("userName {user_name:?} is already taken by another user of this service"))
}

/// A new user as its rows will be written, worked out before the job reaches the writer: the
/// writer thread is the one serial part of the server, so keys, timestamps and JSON text are
/// made on the request's thread and the writer only binds them.
pub(crate) struct NewUserRows {
    user: NewUser,
    status: UserStatus,
    now: domain::Timestamp,
    now_text: String,
    user_name_key: String,
    email_key: Option<String>,
    display_name_key: Option<String>,
    attributes_json: String,
    activation_expires_at: Option<domain::Timestamp>,
    activation: Option<ActivationRows>,
}

impl NewUserRows {
    pub(crate) fn new(user: NewUser, status: UserStatus, activation: Option<NewActivation>) -> Self {
        let now = domain::now();
        let now_text = ts(now);
        Self {
            now,
            user_name_key: fold_key(&user.user_name),
            email_key: user.profile.email.as_deref().map(fold_key),
            display_name_key: user.profile.display_name.as_deref().map(fold_key),
            attributes_json: json_text(&user.attributes),
            activation_expires_at: activation.as_ref().map(|a| a.expires_at),
            // Only the activation's rows go to the writer: the rest of it is dropped here.
            activation: activation.map(|a| ActivationRows::new(a, now_text.clone())),
            now_text,
            user,
            status,
        }
    }
}

/// Inserts a new user. Its one expected failure, a login already taken, comes from its first
/// statement, before any change: the store runs it without a savepoint (`batch.rs`).
pub(crate) fn create_user(c: &Connection, rows: NewUserRows) -> StoreResult<User> {
    let NewUserRows {
        user: u,
        status,
        now,
        now_text,
        user_name_key,
        email_key,
        display_name_key,
        attributes_json,
        activation_expires_at,
        activation,
    } = rows;
    let inserted = c
        .prepare_cached(
            "INSERT INTO users (service_id, id, user_name, user_name_key, external_id, active, status, source, \
             activation_expires_at, email, email_key, display_name, display_name_key, given_name, family_name, \
             preferred_language, attributes, created, last_modified, version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, 1)",
        )
        .and_then(|mut st| {
            st.insert(params![
                u.service.0,
                u.id,
                u.user_name,
                user_name_key,
                u.external_id,
                u.active,
                status.as_str(),
                u.source.as_str(),
                activation.as_ref().map(|rows| &rows.expires_at),
                u.profile.email,
                email_key,
                u.profile.display_name,
                display_name_key,
                u.profile.given_name,
                u.profile.family_name,
                u.profile.preferred_language,
                attributes_json,
                now_text,
            ])
        });
    let pk = match inserted {
        Ok(pk) => pk,
        Err(e) if is_unique_violation(&e) => return Err(login_taken(&u.user_name)),
        Err(e) => return Err(internal(e)),
    };
    if !u.active {
        c.prepare_cached("INSERT INTO user_block_reasons (user_pk, reason) VALUES (?1, 'inactive')")
            .and_then(|mut st| st.execute([pk]))
            .map_err(internal)?;
    }
    if let Some(rows) = &activation {
        insert_activation(c, pk, u.service, &u.id, rows)?;
    }
    // What was just written, without reading it back (the writer thread is the one serial
    // part of the server: every statement saved there is throughput).
    Ok(User {
        id: u.id,
        service: u.service,
        user_name: u.user_name,
        external_id: u.external_id,
        active: u.active,
        status,
        block_reasons: if u.active { BTreeSet::new() } else { BTreeSet::from([BlockReason::Inactive]) },
        source: u.source,
        activation_expires_at,
        profile: u.profile,
        attributes: u.attributes,
        created: now,
        last_modified: now,
        version: 1,
    })
}

/// An activation code and its email as their rows will be written.
pub(crate) struct ActivationRows {
    code_hash: Vec<u8>,
    expires_at: String,
    created: String,
    recipient: String,
    template: String,
    payload_json: String,
}

impl ActivationRows {
    /// `created`: the stored text of the creation time (`ts`).
    pub(crate) fn new(a: NewActivation, created: String) -> Self {
        Self {
            expires_at: ts(a.expires_at),
            payload_json: json_text(&a.email.payload),
            code_hash: a.code_hash,
            created,
            recipient: a.email.recipient,
            template: a.email.template,
        }
    }
}

/// Stores a new activation code (replacing any earlier one, which stops working) and queues
/// its email, in the caller's transaction.
pub(crate) fn insert_activation(
    c: &Connection,
    user_pk: i64,
    service: ServiceId,
    user_id: &str,
    a: &ActivationRows,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO activation_codes (user_pk, code_hash, expires_at, created) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (user_pk) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, \
         created = excluded.created",
    )
    .and_then(|mut st| st.execute(params![user_pk, a.code_hash, a.expires_at, a.created]))
    .map_err(internal)?;
    c.prepare_cached(
        "INSERT INTO outbox (service_id, user_id, recipient, template, payload, state, next_attempt_at, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
    )
    .and_then(|mut st| st.execute(params![service.0, user_id, a.recipient, a.template, a.payload_json, a.created]))
    .map_err(internal)?;
    Ok(())
}

pub(crate) fn load_by_pk(c: &Connection, pk: i64) -> StoreResult<User> {
    c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.pk = ?1"))
        .and_then(|mut st| st.query_row([pk], user_from_row))
        .map(|(_, u)| u)
        .map_err(internal)
}

pub(crate) fn find_user(c: &Connection, service: ServiceId, id: &str) -> StoreResult<Option<(i64, User)>> {
    c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1 AND u.service_id = ?2"))
        .and_then(|mut st| st.query_row(params![id, service.0], user_from_row).optional())
        .map_err(internal)
}

pub(crate) fn get_user(c: &Connection, service: ServiceId, id: &str) -> StoreResult<Option<User>> {
    Ok(find_user(c, service, id)?.map(|(_, u)| u))
}

/// Its expected failures (no such user, a rule the mutation refuses, a login already taken by
/// the `UPDATE` itself) all come before any change: the store runs it without a savepoint.
pub(crate) fn update_user(c: &Connection, service: ServiceId, id: &str, mutation: UserMutation) -> StoreResult<User> {
    let (pk, before) = find_user(c, service, id)?.ok_or(StoreError::NotFound)?;
    let mut after = before.clone();
    mutation(&mut after)?;
    save_user(c, pk, &before, &after)
}

/// Writes `after` over `before`: columns, then the block-reason difference (only added and
/// removed reasons are touched, so a concurrent group deletion's reason is never lost).
pub(crate) fn save_user(c: &Connection, pk: i64, before: &User, after: &User) -> StoreResult<User> {
    let now = domain::now();
    // Only the columns that changed are written: disabling a user then touches the row and
    // the status index, not all six indexes.
    let mut changed = ChangedColumns::new();
    if after.user_name != before.user_name {
        changed.set(
            &["user_name", "user_name_key"],
            vec![Box::new(after.user_name.clone()), Box::new(fold_key(&after.user_name))],
        );
    }
    if after.external_id != before.external_id {
        changed.set(&["external_id"], vec![Box::new(after.external_id.clone())]);
    }
    if after.active != before.active {
        changed.set(&["active"], vec![Box::new(after.active)]);
    }
    if after.status != before.status {
        changed.set(&["status"], vec![Box::new(after.status.as_str())]);
    }
    if after.source != before.source {
        changed.set(&["source"], vec![Box::new(after.source.as_str())]);
    }
    if after.activation_expires_at != before.activation_expires_at {
        changed.set(&["activation_expires_at"], vec![Box::new(after.activation_expires_at.map(ts))]);
    }
    let (p, q) = (&after.profile, &before.profile);
    if p.email != q.email {
        changed
            .set(&["email", "email_key"], vec![Box::new(p.email.clone()), Box::new(p.email.as_deref().map(fold_key))]);
    }
    if p.display_name != q.display_name {
        changed.set(
            &["display_name", "display_name_key"],
            vec![Box::new(p.display_name.clone()), Box::new(p.display_name.as_deref().map(fold_key))],
        );
    }
    if p.given_name != q.given_name {
        changed.set(&["given_name"], vec![Box::new(p.given_name.clone())]);
    }
    if p.family_name != q.family_name {
        changed.set(&["family_name"], vec![Box::new(p.family_name.clone())]);
    }
    if p.preferred_language != q.preferred_language {
        changed.set(&["preferred_language"], vec![Box::new(p.preferred_language.clone())]);
    }
    if after.attributes != before.attributes {
        changed.set(&["attributes"], vec![Box::new(json_text(&after.attributes))]);
    }
    let updated = changed.execute(c, "users", pk, now);
    match updated {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(login_taken(&after.user_name)),
        Err(e) => return Err(internal(e)),
    }
    for removed in before.block_reasons.difference(&after.block_reasons) {
        c.prepare_cached("DELETE FROM user_block_reasons WHERE user_pk = ?1 AND reason = ?2")
            .and_then(|mut st| st.execute(params![pk, removed.to_string()]))
            .map_err(internal)?;
    }
    for added in after.block_reasons.difference(&before.block_reasons) {
        c.prepare_cached("INSERT OR IGNORE INTO user_block_reasons (user_pk, reason) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![pk, added.to_string()]))
            .map_err(internal)?;
    }
    // `before` was read in this same write job, so the stored row is now exactly `after` with
    // the new version and time: no need to read it back on the writer thread.
    Ok(User { last_modified: now, version: before.version + 1, ..after.clone() })
}

/// Its expected failures (no such user, a guard that refuses) come before any change: the store
/// runs it without a savepoint.
pub(crate) fn delete_user(c: &Connection, service: ServiceId, id: &str, guard: UserGuard) -> StoreResult<User> {
    let (pk, user) = find_user(c, service, id)?.ok_or(StoreError::NotFound)?;
    guard(&user)?;
    // Memberships, block reasons and activation codes go with the row (ON DELETE CASCADE).
    c.prepare_cached("DELETE FROM users WHERE pk = ?1").and_then(|mut st| st.execute([pk])).map_err(internal)?;
    // Emails not yet sent would carry a code that no longer exists.
    super::outbox::drop_unclaimed_for_user(c, &user.id, domain::now())?;
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

pub(crate) fn query_users(c: &Connection, service: ServiceId, q: &UserQuery) -> StoreResult<Page<User>> {
    query_users_counted(c, service, q, true)
}

/// One page without the total (`total` is the page's length).
pub(crate) fn query_users_page(c: &Connection, service: ServiceId, q: &UserQuery) -> StoreResult<Vec<User>> {
    Ok(query_users_counted(c, service, q, false)?.items)
}

fn query_users_counted(c: &Connection, service: ServiceId, q: &UserQuery, count: bool) -> StoreResult<Page<User>> {
    let mut compiler = Compiler::new(&Sqlite);
    let service_param = compiler.bind(SqlParam::Int(service.0));
    let cond = compiler.condition(&q.condition, &user_column);
    let where_sql = format!("u.service_id = {service_param} AND ({cond})");
    let params = bind_params(&compiler.params);
    let param_refs: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();

    let order = match q.sort {
        // Logins are never NULL and unique per service: the order is the login index's own, so
        // a keyset page (`userName gt <last>`) reads just its rows.
        Some((UserField::UserName, SortDirection::Ascending)) => "u.user_name_key ASC".to_owned(),
        Some((UserField::UserName, SortDirection::Descending)) => "u.user_name_key DESC".to_owned(),
        Some((f, SortDirection::Ascending)) => format!("{} ASC NULLS LAST, u.pk", sort_column(f)),
        Some((f, SortDirection::Descending)) => format!("{} DESC NULLS FIRST, u.pk", sort_column(f)),
        None => "u.pk".to_owned(),
    };
    let (limit, offset) = match q.page {
        Some(p) => (i64::try_from(p.limit).unwrap_or(i64::MAX), i64::try_from(p.offset).unwrap_or(i64::MAX)),
        None => (-1, 0),
    };
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        ))
        .map_err(internal)?;
    let items = st
        .query_map(param_refs.as_slice(), user_from_row)
        .and_then(|rows| rows.map(|r| r.map(|(_, u)| u)).collect::<rusqlite::Result<Vec<_>>>())
        .map_err(internal)?;
    let total = if !count || q.page.is_none() || (offset == 0 && (items.len() as i64) < limit) {
        items.len() as u64
    } else {
        c.prepare_cached(&format!("SELECT COUNT(*) FROM users u WHERE {where_sql}"))
            .and_then(|mut st| st.query_row(param_refs.as_slice(), |r| r.get::<_, i64>(0)))
            .map_err(internal)? as u64
    };
    Ok(Page { total, items })
}

pub(crate) fn user_counts(c: &Connection, service: ServiceId, now: domain::Timestamp) -> StoreResult<UserCounts> {
    let mut st = c
        .prepare_cached(
            "SELECT CASE WHEN status = 'pendingActivation' AND activation_expires_at <= ?2 \
             THEN 'activationExpired' ELSE status END AS s, COUNT(*) FROM users WHERE service_id = ?1 GROUP BY s",
        )
        .map_err(internal)?;
    let rows = st
        .query_map(params![service.0, ts(now)], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(internal)?;
    let mut counts = UserCounts::default();
    for (s, n) in rows {
        if let Ok(status) = s.parse() {
            counts.total += n as u64;
            counts.by_status.push((status, n as u64));
        }
    }
    counts.blocked = c
        .prepare_cached(
            "SELECT COUNT(DISTINCT r.user_pk) FROM user_block_reasons r JOIN users u ON u.pk = r.user_pk \
             WHERE u.service_id = ?1",
        )
        .and_then(|mut st| st.query_row([service.0], |r| r.get::<_, i64>(0)))
        .map_err(internal)? as u64;
    Ok(counts)
}
