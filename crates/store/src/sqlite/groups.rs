//! Groups: membership as set operations, deletion with tombstones, restoration.

use super::internal;
use super::rows::{ChangedColumns, bind_params, is_unique_violation, json_text, parse_json, parse_ts, ts};
use crate::sql_query::{Compiler, SqlParam, Sqlite, group_column};
use domain::DomainError;
use domain::group::{
    CreatedGroup, Group, Member, MembershipChange, MembershipOutcome, NewGroup, Tombstone, distinct_members,
};
use domain::limits::fold_key;
use domain::ports::{GroupMutation, StoreError, StoreResult};
use domain::query::{GroupField, GroupQuery, Page, PageRequest, SortDirection};
use domain::service::ServiceId;
use domain::user::BlockReason;
use rusqlite::{Connection, OptionalExtension, Row, params};

const GROUP_COLUMNS: &str =
    "g.pk, g.service_id, g.id, g.display_name, g.external_id, g.attributes, g.created, g.last_modified, g.version";

fn group_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Group)> {
    Ok((
        row.get(0)?,
        Group {
            service: ServiceId(row.get(1)?),
            id: row.get(2)?,
            display_name: row.get(3)?,
            external_id: row.get(4)?,
            attributes: parse_json(&row.get::<_, String>(5)?)?,
            created: parse_ts(&row.get::<_, String>(6)?)?,
            last_modified: parse_ts(&row.get::<_, String>(7)?)?,
            version: row.get(8)?,
        },
    ))
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("a group named {name:?} already exists in this service"))
}

fn find_group(c: &Connection, service: ServiceId, id: &str) -> StoreResult<Option<(i64, Group)>> {
    c.prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1 AND g.service_id = ?2"))
        .and_then(|mut st| st.query_row(params![id, service.0], group_from_row).optional())
        .map_err(internal)
}

pub(crate) fn get_group(c: &Connection, service: ServiceId, id: &str) -> StoreResult<Option<Group>> {
    Ok(find_group(c, service, id)?.map(|(_, g)| g))
}

/// Resolves a member id to the user's row key. A group id is refused (no nested groups,
/// product.md §2.2); an id naming nothing in this service is `None` (skipped and reported).
fn resolve_member(c: &Connection, service: ServiceId, id: &str) -> StoreResult<Option<i64>> {
    let pk = c
        .prepare_cached("SELECT pk FROM users WHERE id = ?1 AND service_id = ?2")
        .and_then(|mut st| st.query_row(params![id, service.0], |r| r.get::<_, i64>(0)).optional())
        .map_err(internal)?;
    if pk.is_none() {
        let is_group = c
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM groups WHERE id = ?1 AND service_id = ?2)")
            .and_then(|mut st| st.query_row(params![id, service.0], |r| r.get::<_, bool>(0)))
            .map_err(internal)?;
        if is_group {
            return Err(StoreError::Rule(DomainError::InvalidValue(format!(
                "member {id:?} is a group; nested groups are not supported, only users can be members"
            ))));
        }
    }
    Ok(pk)
}

/// The members of one add as the writer binds them, worked out on the request's thread (the
/// writer thread is the one serial part of the server): each user once, and the ids and
/// display texts as JSON arrays.
pub(crate) struct MemberRows {
    members: Vec<Member>,
    ids: String,
    /// Only when some member came with a display text: Entra sends bare ids.
    displays: Option<String>,
}

impl MemberRows {
    pub(crate) fn new(members: &[Member]) -> Self {
        let members = distinct_members(members);
        // A flat array: `json_each` yields each id as text, nothing to extract.
        let ids = serde_json::Value::from_iter(members.iter().map(|m| m.user_id.as_str())).to_string();
        let displays = members
            .iter()
            .any(|m| m.display.is_some())
            .then(|| serde_json::Value::from_iter(members.iter().map(|m| m.display.as_deref())).to_string());
        Self { members, ids, displays }
    }
}

/// A [`MembershipChange`] as the writer applies it, its lists made on the request's thread.
pub(crate) enum ChangeRows {
    Add(MemberRows),
    /// The removed ids as a JSON array.
    Remove(String),
    RemoveAll,
    Replace(MemberRows),
}

pub(crate) fn change_rows(changes: Vec<MembershipChange>) -> Vec<ChangeRows> {
    changes
        .into_iter()
        .map(|change| match change {
            MembershipChange::Add(members) => ChangeRows::Add(MemberRows::new(&members)),
            MembershipChange::Remove(ids) => ChangeRows::Remove(serde_json::Value::from(ids).to_string()),
            MembershipChange::RemoveAll => ChangeRows::RemoveAll,
            MembershipChange::Replace(members) => ChangeRows::Replace(MemberRows::new(&members)),
        })
        .collect()
}

/// Adds members with one statement for the whole list: per-statement overhead, not the index
/// work, dominated a 50-member PATCH when each member took a lookup and an insert. The user
/// ids travel as one JSON array; `CROSS JOIN` keeps the list as the outer loop, so each id
/// is one probe of the users' id index whatever the planner guesses about the list's size.
fn add_members(
    c: &Connection,
    service: ServiceId,
    group_pk: i64,
    rows: &MemberRows,
    outcome: &mut MembershipOutcome,
) -> StoreResult<()> {
    if rows.members.is_empty() {
        return Ok(());
    }
    // Each known user is one row inserted or updated, so fewer changes than members means
    // some ids named no user of this service.
    let changed = c
        .prepare_cached(
            "INSERT INTO group_members (group_pk, user_pk, display) \
             SELECT ?1, u.pk, ?4 ->> m.key FROM json_each(?3) m CROSS JOIN users u ON u.id = m.value \
             WHERE u.service_id = ?2 \
             ON CONFLICT (group_pk, user_pk) DO UPDATE SET display = coalesce(excluded.display, display)",
        )
        .and_then(|mut st| st.execute(params![group_pk, service.0, rows.ids, rows.displays]))
        .map_err(internal)?;
    if changed < rows.members.len() {
        // Rare (Entra adds only users it provisioned): name them, and refuse group ids.
        for m in &rows.members {
            if resolve_member(c, service, &m.user_id)?.is_none() {
                outcome.unknown_members.push(m.user_id.clone());
            }
        }
    }
    Ok(())
}

fn apply_changes(
    c: &Connection,
    service: ServiceId,
    group_pk: i64,
    changes: &[ChangeRows],
    outcome: &mut MembershipOutcome,
) -> StoreResult<()> {
    for change in changes {
        match change {
            ChangeRows::Add(members) => add_members(c, service, group_pk, members, outcome)?,
            ChangeRows::Remove(list) => {
                // One statement for the whole list, as in `add_members`.
                c.prepare_cached(
                    "DELETE FROM group_members WHERE group_pk = ?1 AND user_pk IN \
                     (SELECT u.pk FROM json_each(?3) j CROSS JOIN users u ON u.id = j.value WHERE u.service_id = ?2)",
                )
                .and_then(|mut st| st.execute(params![group_pk, service.0, list]))
                .map_err(internal)?;
            }
            ChangeRows::RemoveAll => {
                c.prepare_cached("DELETE FROM group_members WHERE group_pk = ?1")
                    .and_then(|mut st| st.execute([group_pk]))
                    .map_err(internal)?;
            }
            ChangeRows::Replace(members) => {
                c.prepare_cached("DELETE FROM group_members WHERE group_pk = ?1")
                    .and_then(|mut st| st.execute([group_pk]))
                    .map_err(internal)?;
                add_members(c, service, group_pk, members, outcome)?;
            }
        }
    }
    Ok(())
}

/// Bumps version and lastModified of every user holding `reason` (their representation changes).
fn touch_users_with_reason(c: &Connection, reason: &str, now: &str) -> StoreResult<()> {
    c.prepare_cached(
        "UPDATE users SET version = version + 1, last_modified = ?2 \
         WHERE pk IN (SELECT user_pk FROM user_block_reasons WHERE reason = ?1)",
    )
    .and_then(|mut st| st.execute(params![reason, now]))
    .map_err(internal)?;
    Ok(())
}

pub(crate) fn create_group(c: &Connection, g: NewGroup, members: &MemberRows) -> StoreResult<CreatedGroup> {
    let now = ts(domain::now());
    // A tombstone with the same externalId — or, without one, the same name — is this group
    // coming back (product.md §2.2): it gets its old id and its former members are unblocked.
    let tombstone: Option<String> = match &g.external_id {
        Some(ext) => c
            .prepare_cached("SELECT group_id FROM group_tombstones WHERE service_id = ?1 AND external_id = ?2")
            .and_then(|mut st| st.query_row(params![g.service.0, ext], |r| r.get(0)).optional()),
        None => c
            .prepare_cached(
                "SELECT group_id FROM group_tombstones WHERE service_id = ?1 AND display_name_key = ?2 \
                 AND external_id IS NULL",
            )
            .and_then(|mut st| st.query_row(params![g.service.0, fold_key(&g.display_name)], |r| r.get(0)).optional()),
    }
    .map_err(internal)?;
    let id = tombstone.clone().unwrap_or(g.id);
    if let Some(old_id) = &tombstone {
        let reason = BlockReason::GroupDeleted(old_id.clone()).to_string();
        touch_users_with_reason(c, &reason, &now)?;
        c.prepare_cached("DELETE FROM user_block_reasons WHERE reason = ?1")
            .and_then(|mut st| st.execute([&reason]))
            .map_err(internal)?;
        c.prepare_cached("DELETE FROM group_tombstones WHERE group_id = ?1")
            .and_then(|mut st| st.execute([old_id]))
            .map_err(internal)?;
    }
    let inserted = c
        .prepare_cached(
            "INSERT INTO groups (service_id, id, display_name, display_name_key, external_id, attributes, created, \
             last_modified, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1)",
        )
        .and_then(|mut st| {
            st.insert(params![
                g.service.0,
                id,
                g.display_name,
                fold_key(&g.display_name),
                g.external_id,
                json_text(&g.attributes),
                now
            ])
        });
    let pk = match inserted {
        Ok(pk) => pk,
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&g.display_name)),
        Err(e) => return Err(internal(e)),
    };
    let mut membership = MembershipOutcome::default();
    add_members(c, g.service, pk, members, &mut membership)?;
    let group = find_group(c, g.service, &id)?.map(|(_, g)| g).ok_or(StoreError::NotFound)?;
    Ok(CreatedGroup { group, restored_from_tombstone: tombstone.is_some(), membership })
}

pub(crate) fn update_group(
    c: &Connection,
    service: ServiceId,
    id: &str,
    mutation: GroupMutation,
    changes: &[ChangeRows],
) -> StoreResult<(Group, MembershipOutcome)> {
    let (pk, before) = find_group(c, service, id)?.ok_or(StoreError::NotFound)?;
    let mut after = before.clone();
    mutation(&mut after)?;
    let now = domain::now();
    // A membership PATCH changes none of these: it writes the row's time and version only.
    let mut changed = ChangedColumns::new();
    if after.display_name != before.display_name {
        changed.set(
            &["display_name", "display_name_key"],
            vec![Box::new(after.display_name.clone()), Box::new(fold_key(&after.display_name))],
        );
    }
    if after.external_id != before.external_id {
        changed.set(&["external_id"], vec![Box::new(after.external_id.clone())]);
    }
    if after.attributes != before.attributes {
        changed.set(&["attributes"], vec![Box::new(json_text(&after.attributes))]);
    }
    match changed.execute(c, "groups", pk, now) {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&after.display_name)),
        Err(e) => return Err(internal(e)),
    }
    let mut outcome = MembershipOutcome::default();
    apply_changes(c, service, pk, changes, &mut outcome)?;
    // `before` was read in this same write job, so the stored row is now exactly `after` with
    // the new version and time: no need to read it back on the writer thread.
    Ok((Group { last_modified: now, version: before.version + 1, ..after }, outcome))
}

pub(crate) fn delete_group(c: &Connection, service: ServiceId, id: &str) -> StoreResult<Tombstone> {
    let (pk, group) = find_group(c, service, id)?.ok_or(StoreError::NotFound)?;
    let now = domain::now();
    let reason = BlockReason::GroupDeleted(group.id.clone()).to_string();
    // Every member is blocked by the deletion, in one set operation (product.md §2.2).
    c.prepare_cached(
        "INSERT OR IGNORE INTO user_block_reasons (user_pk, reason) SELECT user_pk, ?2 FROM group_members \
         WHERE group_pk = ?1",
    )
    .and_then(|mut st| st.execute(params![pk, reason]))
    .map_err(internal)?;
    touch_users_with_reason(c, &reason, &ts(now))?;
    c.prepare_cached(
        "INSERT OR REPLACE INTO group_tombstones (group_id, service_id, display_name, display_name_key, external_id, \
         deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            group.id,
            service.0,
            group.display_name,
            fold_key(&group.display_name),
            group.external_id,
            ts(now)
        ])
    })
    .map_err(internal)?;
    c.prepare_cached("DELETE FROM groups WHERE pk = ?1").and_then(|mut st| st.execute([pk])).map_err(internal)?;
    Ok(Tombstone {
        member_ids: blocked_by(c, &group.id)?,
        group_id: group.id,
        service,
        display_name: group.display_name,
        external_id: group.external_id,
        deleted: now,
    })
}

fn blocked_by(c: &Connection, group_id: &str) -> StoreResult<Vec<String>> {
    let reason = BlockReason::GroupDeleted(group_id.to_owned()).to_string();
    c.prepare_cached(
        "SELECT u.id FROM user_block_reasons r JOIN users u ON u.pk = r.user_pk WHERE r.reason = ?1 ORDER BY u.pk",
    )
    .and_then(|mut st| st.query_map([reason], |r| r.get(0))?.collect())
    .map_err(internal)
}

pub(crate) fn list_tombstones(c: &Connection, service: ServiceId) -> StoreResult<Vec<Tombstone>> {
    let rows: Vec<(String, String, Option<String>, String)> = c
        .prepare_cached(
            "SELECT group_id, display_name, external_id, deleted FROM group_tombstones WHERE service_id = ?1 \
             ORDER BY deleted DESC",
        )
        .and_then(|mut st| st.query_map([service.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
        .map_err(internal)?;
    rows.into_iter()
        .map(|(group_id, display_name, external_id, deleted)| {
            Ok(Tombstone {
                member_ids: blocked_by(c, &group_id)?,
                deleted: parse_ts(&deleted).map_err(internal)?,
                group_id,
                service,
                display_name,
                external_id,
            })
        })
        .collect()
}

pub(crate) fn group_members(
    c: &Connection,
    service: ServiceId,
    id: &str,
    page: Option<PageRequest>,
) -> StoreResult<Page<Member>> {
    let (pk, _) = find_group(c, service, id)?.ok_or(StoreError::NotFound)?;
    let (limit, offset) = match page {
        Some(p) => (i64::try_from(p.limit).unwrap_or(i64::MAX), i64::try_from(p.offset).unwrap_or(i64::MAX)),
        None => (-1, 0),
    };
    let items: Vec<Member> = c
        .prepare_cached(
            "SELECT u.id, gm.display FROM group_members gm JOIN users u ON u.pk = gm.user_pk WHERE gm.group_pk = ?1 \
             ORDER BY gm.user_pk LIMIT ?2 OFFSET ?3",
        )
        .and_then(|mut st| {
            st.query_map(params![pk, limit, offset], |r| Ok(Member { user_id: r.get(0)?, display: r.get(1)? }))?
                .collect()
        })
        .map_err(internal)?;
    let total = if page.is_none() {
        items.len() as u64
    } else {
        c.prepare_cached("SELECT COUNT(*) FROM group_members WHERE group_pk = ?1")
            .and_then(|mut st| st.query_row([pk], |r| r.get::<_, i64>(0)))
            .map_err(internal)? as u64
    };
    Ok(Page { total, items })
}

pub(crate) fn user_groups(c: &Connection, service: ServiceId, user_id: &str) -> StoreResult<Vec<(String, String)>> {
    c.prepare_cached(
        "SELECT g.id, g.display_name FROM users u JOIN group_members gm ON gm.user_pk = u.pk \
         JOIN groups g ON g.pk = gm.group_pk WHERE u.id = ?1 AND u.service_id = ?2 ORDER BY g.display_name_key",
    )
    .and_then(|mut st| st.query_map(params![user_id, service.0], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
    .map_err(internal)
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

pub(crate) fn query_groups(c: &Connection, service: ServiceId, q: &GroupQuery) -> StoreResult<Page<Group>> {
    let mut compiler = Compiler::new(&Sqlite);
    let service_param = compiler.bind(SqlParam::Int(service.0));
    let cond = compiler.condition(&q.condition, &group_column);
    let where_sql = format!("g.service_id = {service_param} AND ({cond})");
    let params = bind_params(&compiler.params);
    let param_refs: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();
    let order = match q.sort {
        Some((f, SortDirection::Ascending)) => format!("{} ASC NULLS LAST, g.pk", sort_column(f)),
        Some((f, SortDirection::Descending)) => format!("{} DESC NULLS FIRST, g.pk", sort_column(f)),
        None => "g.pk".to_owned(),
    };
    let (limit, offset) = match q.page {
        Some(p) => (i64::try_from(p.limit).unwrap_or(i64::MAX), i64::try_from(p.offset).unwrap_or(i64::MAX)),
        None => (-1, 0),
    };
    let items: Vec<Group> = c
        .prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        ))
        .and_then(|mut st| st.query_map(param_refs.as_slice(), |r| group_from_row(r).map(|(_, g)| g))?.collect())
        .map_err(internal)?;
    let total = if q.page.is_none() || (offset == 0 && (items.len() as i64) < limit) {
        items.len() as u64
    } else {
        c.prepare_cached(&format!("SELECT COUNT(*) FROM groups g WHERE {where_sql}"))
            .and_then(|mut st| st.query_row(param_refs.as_slice(), |r| r.get::<_, i64>(0)))
            .map_err(internal)? as u64
    };
    Ok(Page { total, items })
}
