//! `/Groups` (RFC 7644 §3.2–§3.6). Members live in a join table: they are changed as set
//! operations and loaded only when the answer includes them.

use super::audit::{Operation, finish};
use super::error::{ApiError, scim_json};
use super::extract::{ScimBody, ScimCaller, ScimQuery};
use super::mapping::{group_attributes, group_to_scim, members_of, split_group};
use super::query::{group_filter, group_sort_field};
use super::users::{describe_query, map_missing};
use super::{list_params, policy, project, refusal_carrier};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::group::{Group, Member, MembershipChange, MembershipOutcome, NewGroup};
use domain::limits::check_group_name;
use domain::query::{Condition, PageRequest, Query, SortDirection};
use scim::ScimError;
use scim::list::{SortOrder, list_response, sort_resources};
use scim::patch::{MemberOp, MemberRef, apply_patch, parse_patch_request, split_member_ops};
use scim::projection::Projection;
use scim::schema::normalize_resource;
use serde_json::Value;
use std::sync::Arc;

fn not_found(id: &str) -> ApiError {
    ApiError(ScimError::not_found(format!("no Group with id {id:?}")))
}

fn missing(e: domain::ports::StoreError, id: &str) -> ApiError {
    match e {
        domain::ports::StoreError::NotFound => not_found(id),
        other => map_missing(other, id),
    }
}

pub async fn list(State(state): State<AppState>, caller: ScimCaller, q: ScimQuery) -> Response {
    let op = Operation::new("GET", "Group", describe_query(&q));
    let result = list_groups(&state, &caller, &q).await;
    finish(&state, &caller, op, result)
}

pub async fn search(State(state): State<AppState>, caller: ScimCaller, body: Result<ScimBody, ApiError>) -> Response {
    let body = match body {
        Ok(ScimBody(body)) => body,
        // An unreadable body is refused here so that the refusal reaches the provisioning log.
        Err(e) => return finish(&state, &caller, Operation::new("POST", "Group", "search"), Err(e)),
    };
    let q = ScimQuery::from_search_body(&body);
    let op = Operation::new("POST", "Group", format!("search: {}", describe_query(&q)));
    let result = list_groups(&state, &caller, &q).await;
    finish(&state, &caller, op, result)
}

/// Members are loaded only when the answer shows them (Entra always sends
/// `excludedAttributes=members`, entra-wire §2.10.1).
async fn members_if_shown(
    state: &AppState,
    caller: &ScimCaller,
    group: &Group,
    projection: &Projection,
) -> Result<Option<Vec<Member>>, ApiError> {
    if projection.excludes_attribute("members") {
        return Ok(None);
    }
    let page =
        state.store.group_members(caller.service.id, &group.id, None).await.map_err(|e| missing(e, &group.id))?;
    Ok(Some(page.items))
}

async fn list_groups(state: &AppState, caller: &ScimCaller, q: &ScimQuery) -> Result<Response, ApiError> {
    let p = list_params(q)?;
    let schema = &state.schemas.group;
    let url = state.settings.tenant_url();
    let translated = match &p.filter {
        Some(f) => group_filter(f),
        None => super::query::Translated { condition: Condition::True, exact: true },
    };
    let sort_field = p.sort_by.as_ref().map(group_sort_field);
    let store_sort = match (sort_field, p.order) {
        (Some(Some(f)), SortOrder::Ascending) => Some((f, SortDirection::Ascending)),
        (Some(Some(f)), SortOrder::Descending) => Some((f, SortDirection::Descending)),
        _ => None,
    };
    let in_store = translated.exact && !matches!(sort_field, Some(None));
    let (total, groups) = if in_store {
        let page = state
            .store
            .query_groups(
                caller.service.id,
                &Query {
                    condition: translated.condition,
                    sort: store_sort,
                    page: Some(PageRequest { offset: p.page.offset(), limit: p.page.count }),
                },
            )
            .await?;
        (page.total, page.items)
    } else {
        let page = state
            .store
            .query_groups(caller.service.id, &Query { condition: translated.condition, sort: store_sort, page: None })
            .await?;
        let mut matched = Vec::new();
        for g in page.items {
            // Evaluate on the full representation, members included when the filter needs them.
            let members = state.store.group_members(caller.service.id, &g.id, None).await?.items;
            let r = group_to_scim(&g, Some(&members), &url);
            if p.filter.as_ref().is_none_or(|f| scim::filter::matches(f, &r, schema)) {
                matched.push((r, g));
            }
        }
        if let (Some(by), Some(None)) = (&p.sort_by, sort_field) {
            let mut reps: Vec<Value> = matched.iter().map(|(r, _)| r.clone()).collect();
            sort_resources(&mut reps, by, p.order, schema);
            let order: Vec<String> = reps.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect();
            matched.sort_by_key(|(_, g)| order.iter().position(|id| *id == g.id));
        }
        let total = matched.len() as u64;
        let page = matched
            .into_iter()
            .skip(usize::try_from(p.page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(p.page.count).unwrap_or(usize::MAX))
            .map(|(_, g)| g)
            .collect();
        (total, page)
    };
    let mut resources = Vec::with_capacity(groups.len());
    for g in &groups {
        let members = members_if_shown(state, caller, g, &p.projection).await?;
        let mut r = group_to_scim(g, members.as_deref(), &url);
        project(&p.projection, &mut r);
        resources.push(r);
    }
    Ok(scim_json(StatusCode::OK, &list_response(total, p.page.start_index, resources)))
}

async fn group_response(
    state: &AppState,
    caller: &ScimCaller,
    group: &Group,
    status: StatusCode,
    projection: &Projection,
) -> Result<Response, ApiError> {
    let members = members_if_shown(state, caller, group, projection).await?;
    let mut body = group_to_scim(group, members.as_deref(), &state.settings.tenant_url());
    project(projection, &mut body);
    let mut resp = scim_json(status, &body);
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", group.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("{}/Groups/{}", state.settings.tenant_url(), group.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn get(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, q: ScimQuery) -> Response {
    let op = Operation::new("GET", "Group", "read group").on(&id);
    let result = async {
        let p = list_params(&q)?;
        let group = state.store.get_group(caller.service.id, &id).await?.ok_or_else(|| not_found(&id))?;
        group_response(&state, &caller, &group, StatusCode::OK, &p.projection).await
    }
    .await;
    finish(&state, &caller, op, result)
}

fn note_membership(op: &mut Operation, outcome: &MembershipOutcome) {
    for id in &outcome.unknown_members {
        op.warnings.push(format!("member {id:?} is not a user of this service; skipped"));
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: ScimCaller,
    q: ScimQuery,
    body: Result<ScimBody, ApiError>,
) -> Response {
    let mut op = Operation::new("POST", "Group", "create group");
    let result = async {
        // An unreadable body is refused inside the handler, so that the refusal reaches
        // the provisioning log like any other failure.
        let ScimBody(body) = body?;
        let p = list_params(&q)?;
        let params = &caller.service.params;
        let normalized = normalize_resource(&body, &state.schemas.group, policy(params))?;
        op.warnings.extend(normalized.warnings);
        let parts = split_group(normalized.resource)?;
        op.summary = format!("create group {}", parts.display_name);
        check_group_name(&parts.display_name, params)?;
        let members = parts.members.as_ref().map(members_of).transpose()?.unwrap_or_default();
        let created = state
            .store
            .create_group(NewGroup {
                id: domain::new_resource_id(),
                service: caller.service.id,
                display_name: parts.display_name,
                external_id: parts.external_id,
                attributes: parts.attributes,
                members,
            })
            .await?;
        op.resource_id = Some(created.group.id.clone());
        if created.restored_from_tombstone {
            op.warnings.push(format!(
                "group restored with its former id {}; its former members are no longer blocked by its deletion",
                created.group.id
            ));
        }
        note_membership(&mut op, &created.membership);
        group_response(&state, &caller, &created.group, StatusCode::CREATED, &p.projection).await
    }
    .await;
    finish(&state, &caller, op, result)
}

fn member_changes(ops: Vec<MemberOp>) -> Vec<MembershipChange> {
    // One member per id (the last `display` given wins, as when the store applied each): a
    // 5 MiB PATCH repeating ids cost one store round trip per repetition and outlasted client
    // timeouts on PostgreSQL (issue 8, tests/badinput).
    let members = |refs: Vec<MemberRef>| -> Vec<Member> {
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut out: Vec<Member> = Vec::new();
        for r in refs {
            match index.get(&r.value) {
                Some(&i) => {
                    if r.display.is_some() {
                        out[i].display = r.display;
                    }
                }
                None => {
                    index.insert(r.value.clone(), out.len());
                    out.push(Member { user_id: r.value, display: r.display });
                }
            }
        }
        out
    };
    ops.into_iter()
        .map(|op| match op {
            MemberOp::Add(refs) => MembershipChange::Add(members(refs)),
            MemberOp::Remove(ids) => MembershipChange::Remove(ids),
            MemberOp::RemoveAll => MembershipChange::RemoveAll,
            MemberOp::Replace(refs) => MembershipChange::Replace(members(refs)),
        })
        .collect()
}

fn describe_changes(changes: &[MembershipChange]) -> String {
    changes
        .iter()
        .map(|c| match c {
            MembershipChange::Add(m) => format!("add {} member(s)", m.len()),
            MembershipChange::Remove(ids) => format!("remove {} member(s)", ids.len()),
            MembershipChange::RemoveAll => "remove all members".to_owned(),
            MembershipChange::Replace(m) => format!("set {} member(s)", m.len()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn patch(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    q: ScimQuery,
    body: Result<ScimBody, ApiError>,
) -> Response {
    let mut op = Operation::new("PATCH", "Group", "patch group").on(&id);
    let result = async {
        // An unreadable body is refused inside the handler, so that the refusal reaches
        // the provisioning log like any other failure.
        let ScimBody(body) = body?;
        let p = list_params(&q)?;
        let ops = parse_patch_request(&body)?;
        let (attr_ops, member_ops) = split_member_ops(ops)?;
        let changes = member_changes(member_ops);
        let mut summary = vec![];
        if !attr_ops.is_empty() {
            summary.push(super::summarize_ops(&attr_ops));
        }
        if !changes.is_empty() {
            summary.push(describe_changes(&changes));
        }
        op.summary = format!("patch group: {}", summary.join(", "));
        let params = caller.service.params.clone();
        let schemas = Arc::clone(&state.schemas);
        let (refusal, refusal_in) = refusal_carrier();
        let (group, outcome) = state
            .store
            .update_group(
                caller.service.id,
                &id,
                Box::new(move |group| {
                    if attr_ops.is_empty() {
                        return Ok(());
                    }
                    let mut resource = group_attributes(group);
                    let parts = apply_patch(&mut resource, &attr_ops, &schemas.group, policy(&params))
                        .and_then(|_| split_group(resource))
                        .map_err(|e| refusal_in.refuse(e))?;
                    check_group_name(&parts.display_name, &params)?;
                    group.display_name = parts.display_name;
                    group.external_id = parts.external_id;
                    group.attributes = parts.attributes;
                    Ok(())
                }),
                changes,
            )
            .await
            .map_err(|e| refusal.take().map(ApiError).unwrap_or_else(|| missing(e, &id)))?;
        note_membership(&mut op, &outcome);
        // Groups answer 204 (as Microsoft's reference code does) unless the client asked for
        // attributes back (RFC 7644 §3.5.2).
        if p.projection.is_empty() {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            group_response(&state, &caller, &group, StatusCode::OK, &p.projection).await
        }
    }
    .await;
    finish(&state, &caller, op, result)
}

pub async fn replace(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    q: ScimQuery,
    body: Result<ScimBody, ApiError>,
) -> Response {
    let mut op = Operation::new("PUT", "Group", "replace group").on(&id);
    let result = async {
        // An unreadable body is refused inside the handler, so that the refusal reaches
        // the provisioning log like any other failure.
        let ScimBody(body) = body?;
        let p = list_params(&q)?;
        let params = caller.service.params.clone();
        let normalized = normalize_resource(&body, &state.schemas.group, policy(&params))?;
        op.warnings.extend(normalized.warnings);
        let parts = split_group(normalized.resource)?;
        check_group_name(&parts.display_name, &params)?;
        let members = parts.members.as_ref().map(members_of).transpose()?.unwrap_or_default();
        let (group, outcome) = state
            .store
            .update_group(
                caller.service.id,
                &id,
                Box::new(move |group| {
                    group.display_name = parts.display_name;
                    group.external_id = parts.external_id;
                    group.attributes = parts.attributes;
                    Ok(())
                }),
                vec![MembershipChange::Replace(members)],
            )
            .await
            .map_err(|e| missing(e, &id))?;
        note_membership(&mut op, &outcome);
        group_response(&state, &caller, &group, StatusCode::OK, &p.projection).await
    }
    .await;
    finish(&state, &caller, op, result)
}

pub async fn delete(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>) -> Response {
    let mut op = Operation::new("DELETE", "Group", "delete group").on(&id);
    let result = async {
        let tombstone = state.store.delete_group(caller.service.id, &id).await.map_err(|e| missing(e, &id))?;
        if !tombstone.member_ids.is_empty() {
            op.warnings.push(format!(
                "{} member(s) blocked with reason groupDeleted:{} until the group is restored",
                tombstone.member_ids.len(),
                tombstone.group_id
            ));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    finish(&state, &caller, op, result)
}
