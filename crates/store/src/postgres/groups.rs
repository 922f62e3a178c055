//! Groups on PostgreSQL. A change locks the group row first, so concurrent PATCHes of one
//! group, and a deletion racing a member add, are serialised.

use super::{Params, boxed_params, execute, is_unique_violation, parse_json, parse_ts, pg_err, query, query_opt, ts};
use crate::sql_query::{Compiler, Postgres, SqlParam, group_column};
use deadpool_postgres::GenericClient;
use domain::DomainError;
use domain::group::{
    CreatedGroup, Group, Member, MembershipChange, MembershipOutcome, NewGroup, Tombstone, distinct_members,
};
use domain::limits::fold_key;
use domain::ports::{GroupMutation, StoreError, StoreResult};
use domain::query::{GroupField, GroupQuery, Page, PageRequest, SortDirection};
use domain::service::ServiceId;
use domain::user::BlockReason;
use tokio_postgres::Row;

const GROUP_COLUMNS: &str =
    "g.pk, g.service_id, g.id, g.display_name, g.external_id, g.attributes, g.created, g.last_modified, g.version";

fn group_from_row(row: &Row) -> StoreResult<(i64, Group)> {
    Ok((
        row.get(0),
        Group {
            service: ServiceId(row.get(1)),
            id: row.get(2),
            display_name: row.get(3),
            external_id: row.get(4),
            attributes: parse_json(row.get::<_, &str>(5))?,
            created: parse_ts(row.get::<_, &str>(6))?,
            last_modified: parse_ts(row.get::<_, &str>(7))?,
            version: row.get(8),
        },
    ))
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("a group named {name:?} already exists in this service"))
}

pub(crate) async fn find_group<C: GenericClient>(
    c: &C,
    service: ServiceId,
    id: &str,
    lock: bool,
) -> StoreResult<Option<(i64, Group)>> {
    let lock_sql = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = $1 AND g.service_id = $2{lock_sql}");
    match query_opt(c, &sql, &[&id, &service.0]).await.map_err(pg_err)? {
        Some(row) => Ok(Some(group_from_row(&row)?)),
        None => Ok(None),
    }
}

async fn resolve_member<C: GenericClient>(c: &C, service: ServiceId, id: &str) -> StoreResult<Option<i64>> {
    let pk = query_opt(c, "SELECT pk FROM users WHERE id = $1 AND service_id = $2", &[&id, &service.0])
        .await
        .map_err(pg_err)?
        .map(|r| r.get::<_, i64>(0));
    if pk.is_none() {
        let is_group = query_opt(c, "SELECT 1 FROM groups WHERE id = $1 AND service_id = $2", &[&id, &service.0])
            .await
            .map_err(pg_err)?
            .is_some();
        if is_group {
            return Err(StoreError::Rule(DomainError::InvalidValue(format!(
                "member {id:?} is a group; nested groups are not supported, only users can be members"
            ))));
        }
    }
    Ok(pk)
}

/// Adds members with one statement for the whole list (one round trip instead of two per
/// member). Each user appears once (`distinct_members`): an upsert may not touch a row twice.
async fn add_members<C: GenericClient>(
    c: &C,
    service: ServiceId,
    group_pk: i64,
    members: &[Member],
    outcome: &mut MembershipOutcome,
) -> StoreResult<()> {
    let members = distinct_members(members);
    if members.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    let displays: Vec<Option<&str>> = members.iter().map(|m| m.display.as_deref()).collect();
    // Each known user is one row inserted or updated, so fewer rows than members means some
    // ids named no user of this service.
    let changed = execute(
        c,
        "INSERT INTO group_members (group_pk, user_pk, display) \
         SELECT $1, u.pk, m.display FROM unnest($3::text[], $4::text[]) AS m(id, display) \
         JOIN users u ON u.id = m.id AND u.service_id = $2 \
         ON CONFLICT (group_pk, user_pk) DO UPDATE SET display = coalesce(excluded.display, group_members.display)",
        &[&group_pk, &service.0, &ids, &displays],
    )
    .await
    .map_err(pg_err)?;
    if changed < members.len() as u64 {
        // Rare (Entra adds only users it provisioned): name them, and refuse group ids.
        for m in &members {
            if resolve_member(c, service, &m.user_id).await?.is_none() {
                outcome.unknown_members.push(m.user_id.clone());
            }
        }
    }
    Ok(())
}

async fn apply_changes<C: GenericClient>(
    c: &C,
    service: ServiceId,
    group_pk: i64,
    changes: Vec<MembershipChange>,
    outcome: &mut MembershipOutcome,
) -> StoreResult<()> {
    for change in changes {
        match change {
            MembershipChange::Add(members) => add_members(c, service, group_pk, &members, outcome).await?,
            MembershipChange::Remove(ids) => {
                execute(
                    c,
                    "DELETE FROM group_members WHERE group_pk = $1 AND user_pk IN \
                     (SELECT pk FROM users WHERE id = ANY($2) AND service_id = $3)",
                    &[&group_pk, &ids, &service.0],
                )
                .await
                .map_err(pg_err)?;
            }
            MembershipChange::RemoveAll => {
                execute(c, "DELETE FROM group_members WHERE group_pk = $1", &[&group_pk]).await.map_err(pg_err)?;
            }
            MembershipChange::Replace(members) => {
                execute(c, "DELETE FROM group_members WHERE group_pk = $1", &[&group_pk]).await.map_err(pg_err)?;
                add_members(c, service, group_pk, &members, outcome).await?;
            }
        }
    }
    Ok(())
}

async fn touch_users_with_reason<C: GenericClient>(c: &C, reason: &str, now: &str) -> StoreResult<()> {
    execute(
        c,
        "UPDATE users SET version = version + 1, last_modified = $2 \
         WHERE pk IN (SELECT user_pk FROM user_block_reasons WHERE reason = $1)",
        &[&reason, &now],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn create_group<C: GenericClient>(c: &C, g: NewGroup) -> StoreResult<CreatedGroup> {
    let now = ts(domain::now());
    // Claiming the tombstone with DELETE … RETURNING makes a concurrent restore of the same
    // group see no tombstone (and then collide on the name).
    let tombstone: Option<String> = match &g.external_id {
        Some(ext) => {
            query_opt(
                c,
                "DELETE FROM group_tombstones WHERE group_id = (SELECT group_id FROM group_tombstones \
             WHERE service_id = $1 AND external_id = $2 LIMIT 1) RETURNING group_id",
                &[&g.service.0, ext],
            )
            .await
        }
        None => {
            query_opt(
                c,
                "DELETE FROM group_tombstones WHERE group_id = (SELECT group_id FROM group_tombstones \
             WHERE service_id = $1 AND display_name_key = $2 AND external_id IS NULL LIMIT 1) RETURNING group_id",
                &[&g.service.0, &fold_key(&g.display_name)],
            )
            .await
        }
    }
    .map_err(pg_err)?
    .map(|r| r.get(0));
    let id = tombstone.clone().unwrap_or(g.id);
    if let Some(old_id) = &tombstone {
        let reason = BlockReason::GroupDeleted(old_id.clone()).to_string();
        touch_users_with_reason(c, &reason, &now).await?;
        execute(c, "DELETE FROM user_block_reasons WHERE reason = $1", &[&reason]).await.map_err(pg_err)?;
    }
    let inserted = query_opt(
        c,
        "INSERT INTO groups (service_id, id, display_name, display_name_key, external_id, attributes, created, \
         last_modified, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1) RETURNING pk",
        &[
            &g.service.0,
            &id,
            &g.display_name,
            &fold_key(&g.display_name),
            &g.external_id,
            &g.attributes.to_string(),
            &now,
        ],
    )
    .await;
    let pk: i64 = match inserted {
        Ok(Some(row)) => row.get(0),
        Ok(None) => return Err(StoreError::Internal("INSERT returned no row".into())),
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&g.display_name)),
        Err(e) => return Err(pg_err(e)),
    };
    let mut membership = MembershipOutcome::default();
    add_members(c, g.service, pk, &g.members, &mut membership).await?;
    let group = find_group(c, g.service, &id, false).await?.map(|(_, g)| g).ok_or(StoreError::NotFound)?;
    Ok(CreatedGroup { group, restored_from_tombstone: tombstone.is_some(), membership })
}

pub(crate) async fn update_group<C: GenericClient>(
    c: &C,
    service: ServiceId,
    id: &str,
    mutation: GroupMutation,
    changes: Vec<MembershipChange>,
) -> StoreResult<(Group, MembershipOutcome)> {
    let (pk, before) = find_group(c, service, id, true).await?.ok_or(StoreError::NotFound)?;
    let mut after = before.clone();
    mutation(&mut after)?;
    let updated = execute(
        c,
        "UPDATE groups SET display_name = $2, display_name_key = $3, external_id = $4, attributes = $5, \
         last_modified = $6, version = version + 1 WHERE pk = $1",
        &[
            &pk,
            &after.display_name,
            &fold_key(&after.display_name),
            &after.external_id,
            &after.attributes.to_string(),
            &ts(domain::now()),
        ],
    )
    .await;
    match updated {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&after.display_name)),
        Err(e) => return Err(pg_err(e)),
    }
    let mut outcome = MembershipOutcome::default();
    apply_changes(c, service, pk, changes, &mut outcome).await?;
    let group = find_group(c, service, id, false).await?.map(|(_, g)| g).ok_or(StoreError::NotFound)?;
    Ok((group, outcome))
}

pub(crate) async fn delete_group<C: GenericClient>(c: &C, service: ServiceId, id: &str) -> StoreResult<Tombstone> {
    let (pk, group) = find_group(c, service, id, true).await?.ok_or(StoreError::NotFound)?;
    let now = domain::now();
    let reason = BlockReason::GroupDeleted(group.id.clone()).to_string();
    execute(
        c,
        "INSERT INTO user_block_reasons (user_pk, reason) SELECT user_pk, $2 FROM group_members \
         WHERE group_pk = $1 ON CONFLICT DO NOTHING",
        &[&pk, &reason],
    )
    .await
    .map_err(pg_err)?;
    touch_users_with_reason(c, &reason, &ts(now)).await?;
    execute(
        c,
        "INSERT INTO group_tombstones (group_id, service_id, display_name, display_name_key, external_id, deleted) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (group_id) DO UPDATE SET display_name = excluded.display_name, \
         display_name_key = excluded.display_name_key, external_id = excluded.external_id, deleted = excluded.deleted",
        &[&group.id, &service.0, &group.display_name, &fold_key(&group.display_name), &group.external_id, &ts(now)],
    )
    .await
    .map_err(pg_err)?;
    execute(c, "DELETE FROM groups WHERE pk = $1", &[&pk]).await.map_err(pg_err)?;
    Ok(Tombstone {
        member_ids: blocked_by(c, &group.id).await?,
        group_id: group.id,
        service,
        display_name: group.display_name,
        external_id: group.external_id,
        deleted: now,
    })
}

async fn blocked_by<C: GenericClient>(c: &C, group_id: &str) -> StoreResult<Vec<String>> {
    let reason = BlockReason::GroupDeleted(group_id.to_owned()).to_string();
    let rows = query(
        c,
        "SELECT u.id FROM user_block_reasons r JOIN users u ON u.pk = r.user_pk WHERE r.reason = $1 ORDER BY u.pk",
        &[&reason],
    )
    .await
    .map_err(pg_err)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn list_tombstones<C: GenericClient>(c: &C, service: ServiceId) -> StoreResult<Vec<Tombstone>> {
    let rows = query(
        c,
        "SELECT group_id, display_name, external_id, deleted FROM group_tombstones WHERE service_id = $1 \
         ORDER BY deleted DESC",
        &[&service.0],
    )
    .await
    .map_err(pg_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let group_id: String = r.get(0);
        out.push(Tombstone {
            member_ids: blocked_by(c, &group_id).await?,
            deleted: parse_ts(r.get::<_, &str>(3))?,
            group_id,
            service,
            display_name: r.get(1),
            external_id: r.get(2),
        });
    }
    Ok(out)
}

pub(crate) async fn group_members<C: GenericClient>(
    c: &C,
    service: ServiceId,
    id: &str,
    page: Option<PageRequest>,
) -> StoreResult<Page<Member>> {
    let (pk, _) = find_group(c, service, id, false).await?.ok_or(StoreError::NotFound)?;
    let (limit, offset) = match page {
        Some(p) => (i64::try_from(p.limit).unwrap_or(i64::MAX), i64::try_from(p.offset).unwrap_or(i64::MAX)),
        None => (i64::MAX, 0),
    };
    let rows = query(
        c,
        "SELECT u.id, gm.display FROM group_members gm JOIN users u ON u.pk = gm.user_pk WHERE gm.group_pk = $1 \
         ORDER BY gm.user_pk LIMIT $2 OFFSET $3",
        &[&pk, &limit, &offset],
    )
    .await
    .map_err(pg_err)?;
    let items: Vec<Member> = rows.iter().map(|r| Member { user_id: r.get(0), display: r.get(1) }).collect();
    let total = if page.is_none() {
        items.len() as u64
    } else {
        query_opt(c, "SELECT COUNT(*) FROM group_members WHERE group_pk = $1", &[&pk])
            .await
            .map_err(pg_err)?
            .map(|r| r.get::<_, i64>(0) as u64)
            .unwrap_or(0)
    };
    Ok(Page { total, items })
}

pub(crate) async fn user_groups<C: GenericClient>(
    c: &C,
    service: ServiceId,
    user_id: &str,
) -> StoreResult<Vec<(String, String)>> {
    let rows = query(
        c,
        "SELECT g.id, g.display_name FROM users u JOIN group_members gm ON gm.user_pk = u.pk \
         JOIN groups g ON g.pk = gm.group_pk WHERE u.id = $1 AND u.service_id = $2 ORDER BY g.display_name_key",
        &[&user_id, &service.0],
    )
    .await
    .map_err(pg_err)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn sort_column(f: GroupField) -> &'static str {
    match f {
        GroupField::Id => "g.id",
        GroupField::DisplayName => "g.display_name_key",
        GroupField::ExternalId => "g.external_id",
        GroupField::Created | GroupField::Member => "g.created",
        GroupField::LastModified => "g.last_modified",
    }
}

pub(crate) async fn query_groups<C: GenericClient>(
    c: &C,
    service: ServiceId,
    q: &GroupQuery,
) -> StoreResult<Page<Group>> {
    let mut compiler = Compiler::new(&Postgres);
    let service_param = compiler.bind(SqlParam::Int(service.0));
    let cond = compiler.condition(&q.condition, &group_column);
    let where_sql = format!("g.service_id = {service_param} AND ({cond})");
    let boxed = boxed_params(&compiler.params);
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        boxed.iter().map(|b| b.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
    let order = match q.sort {
        Some((f, SortDirection::Ascending)) => format!("{} ASC NULLS LAST, g.pk", sort_column(f)),
        Some((f, SortDirection::Descending)) => format!("{} DESC NULLS FIRST, g.pk", sort_column(f)),
        None => "g.pk".to_owned(),
    };
    let (limit_sql, limit, offset) = match q.page {
        Some(p) => (p.limit.to_string(), p.limit, p.offset),
        None => ("ALL".to_owned(), u64::MAX, 0),
    };
    let rows = query(
        c,
        &format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE {where_sql} ORDER BY {order} LIMIT {limit_sql} OFFSET {offset}"
        ),
        params.as_slice() as &Params<'_>,
    )
    .await
    .map_err(pg_err)?;
    let items = rows.iter().map(|r| group_from_row(r).map(|(_, g)| g)).collect::<StoreResult<Vec<_>>>()?;
    let total = if q.page.is_none() || (offset == 0 && (items.len() as u64) < limit) {
        items.len() as u64
    } else {
        query_opt(c, &format!("SELECT COUNT(*) FROM groups g WHERE {where_sql}"), params.as_slice())
            .await
            .map_err(pg_err)?
            .map(|r| r.get::<_, i64>(0) as u64)
            .unwrap_or(0)
    };
    Ok(Page { total, items })
}
