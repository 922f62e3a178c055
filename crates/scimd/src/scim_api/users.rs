//! `/Users` (RFC 7644 §3.2–§3.6) with the MFA directory's lifecycle rules.

use super::audit::{Operation, finish};
use super::error::{ApiError, scim_json};
use super::extract::{ScimBody, ScimCaller, ScimQuery};
use super::mapping::{UserJson, UserParts, split_user, user_attributes, user_to_scim};
use super::query::{user_filter, user_sort_field};
use super::{list_params, policy, project, refusal_carrier};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::DomainError;
use domain::limits::check_login;
use domain::query::{Condition, PageRequest, Query, SortDirection};
use domain::user::{NewUser, ProvisioningSource, User, claim_for_scim, decide_activation};
use scim::list::{ListResponse, SortOrder, list_response, sort_resources};
use scim::patch::{apply_patch, parse_patch_request};
use scim::schema::normalize_resource;
use serde_json::Value;
use std::sync::{Arc, Mutex};

fn base(state: &AppState) -> String {
    state.settings.tenant_url()
}

pub async fn list(State(state): State<AppState>, caller: ScimCaller, q: ScimQuery) -> Response {
    let op = Operation::new("GET", "User", describe_query(&q));
    let result = list_users(&state, &caller, &q).await;
    finish(&state, &caller, op, result)
}

pub async fn search(State(state): State<AppState>, caller: ScimCaller, body: Result<ScimBody, ApiError>) -> Response {
    let body = match body {
        Ok(ScimBody(body)) => body,
        // An unreadable body is refused here so that the refusal reaches the provisioning log.
        Err(e) => return finish(&state, &caller, Operation::new("POST", "User", "search"), Err(e)),
    };
    let q = ScimQuery::from_search_body(&body);
    let op = Operation::new("POST", "User", format!("search: {}", describe_query(&q)));
    let result = list_users(&state, &caller, &q).await;
    finish(&state, &caller, op, result)
}

pub(super) fn describe_query(q: &ScimQuery) -> String {
    match q.get("filter") {
        Some(f) => format!("query filter={f}"),
        None => "list".to_owned(),
    }
}

async fn list_users(state: &AppState, caller: &ScimCaller, q: &ScimQuery) -> Result<Response, ApiError> {
    let p = list_params(q)?;
    let schema = &state.schemas.user;
    let translated = match &p.filter {
        Some(f) => user_filter(f),
        None => super::query::Translated { condition: Condition::True, exact: true },
    };
    let sort_field = p.sort_by.as_ref().map(user_sort_field);
    let now = domain::now();
    let url = base(state);
    let store_sort = match (sort_field, p.order) {
        (Some(Some(f)), SortOrder::Ascending) => Some((f, SortDirection::Ascending)),
        (Some(Some(f)), SortOrder::Descending) => Some((f, SortDirection::Descending)),
        _ => None,
    };
    let in_store = translated.exact && !matches!(sort_field, Some(None));
    let (total, mut resources) = if in_store {
        let page = state
            .store
            .query_users(
                caller.service.id,
                &Query {
                    condition: translated.condition,
                    sort: store_sort,
                    page: Some(PageRequest { offset: p.page.offset(), limit: p.page.count }),
                },
            )
            .await?;
        if p.projection.is_empty() {
            // The common case (Entra's `userName eq "…"` lookups): serialise straight from the rows.
            let resources: Vec<UserJson> =
                page.items.iter().map(|user| UserJson { user, base_url: &url, now }).collect();
            let list =
                ListResponse { total_results: page.total, start_index: p.page.start_index, resources: &resources };
            return Ok(scim_json(StatusCode::OK, &list));
        }
        (page.total, page.items.iter().map(|u| user_to_scim(u, &url, now)).collect::<Vec<_>>())
    } else {
        // Candidates from the indexed part of the filter, then the exact SCIM semantics.
        let page = state
            .store
            .query_users(caller.service.id, &Query { condition: translated.condition, sort: store_sort, page: None })
            .await?;
        let mut matched: Vec<Value> = page
            .items
            .iter()
            .map(|u| user_to_scim(u, &url, now))
            .filter(|r| p.filter.as_ref().is_none_or(|f| scim::filter::matches(f, r, schema)))
            .collect();
        if let (Some(by), Some(None)) = (&p.sort_by, sort_field) {
            sort_resources(&mut matched, by, p.order, schema);
        }
        let total = matched.len() as u64;
        let page: Vec<Value> = matched
            .into_iter()
            .skip(usize::try_from(p.page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(p.page.count).unwrap_or(usize::MAX))
            .collect();
        (total, page)
    };
    for r in &mut resources {
        project(&p.projection, r);
    }
    Ok(scim_json(StatusCode::OK, &list_response(total, p.page.start_index, resources)))
}

pub async fn get(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, q: ScimQuery) -> Response {
    let op = Operation::new("GET", "User", "read user").on(&id);
    let result = async {
        let p = list_params(&q)?;
        let user = state.store.get_user(caller.service.id, &id).await?.ok_or_else(|| not_found(&id))?;
        Ok(user_response(&state, &user, StatusCode::OK, &p.projection))
    }
    .await;
    finish(&state, &caller, op, result)
}

pub(super) fn not_found(id: &str) -> ApiError {
    ApiError(scim::ScimError::not_found(format!("no User with id {id:?}")))
}

fn user_response(
    state: &AppState,
    user: &User,
    status: StatusCode,
    projection: &scim::projection::Projection,
) -> Response {
    let url = base(state);
    let mut resp = if projection.is_empty() {
        scim_json(status, &UserJson { user, base_url: &url, now: domain::now() })
    } else {
        let mut body = user_to_scim(user, &url, domain::now());
        project(projection, &mut body);
        scim_json(status, &body)
    };
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", user.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("{url}/Users/{}", user.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub async fn create(
    State(state): State<AppState>,
    caller: ScimCaller,
    q: ScimQuery,
    body: Result<ScimBody, ApiError>,
) -> Response {
    let mut op = Operation::new("POST", "User", "create user");
    // An unreadable body is refused here so that the refusal reaches the provisioning log.
    let result = match body {
        Ok(ScimBody(body)) => create_user(&state, &caller, &q, body, &mut op).await,
        Err(e) => Err(e),
    };
    finish(&state, &caller, op, result)
}

async fn create_user(
    state: &AppState,
    caller: &ScimCaller,
    q: &ScimQuery,
    body: Value,
    op: &mut Operation,
) -> Result<Response, ApiError> {
    let p = list_params(q)?;
    let params = &caller.service.params;
    let normalized = normalize_resource(&body, &state.schemas.user, policy(params))?;
    op.warnings.extend(normalized.warnings);
    let parts = split_user(normalized.resource)?;
    op.summary = format!("create user {}", parts.user_name);
    check_login(&parts.user_name, params)?;
    let decision = decide_activation(parts.profile.email.is_some(), params.send_activation_email);
    let id = domain::new_resource_id();
    let activation = if decision.send_email {
        Some(crate::activation::issue_for_new_user(state, &caller.service, &id, &parts))
    } else {
        None
    };
    let user = state
        .store
        .create_user(
            NewUser {
                id,
                service: caller.service.id,
                user_name: parts.user_name,
                external_id: parts.external_id,
                active: parts.active.unwrap_or(true),
                source: ProvisioningSource::Scim,
                profile: parts.profile,
                attributes: parts.attributes,
            },
            decision.status,
            activation,
        )
        .await?;
    op.resource_id = Some(user.id.clone());
    Ok(user_response(state, &user, StatusCode::CREATED, &p.projection))
}

/// Writes the new attributes of a SCIM write into the user, applying the lifecycle rules:
/// ownership, login limits, `active` → block reason `inactive`, login renames noted.
fn apply_parts(
    user: &mut User,
    parts: UserParts,
    params: &domain::service::ServiceParams,
    notes: &Mutex<Vec<String>>,
) -> Result<(), DomainError> {
    let push = |n: String| {
        if let Ok(mut v) = notes.lock() {
            v.push(n);
        }
    };
    if let Some(note) = claim_for_scim(user, params.adopt_existing_users)? {
        push(note);
    }
    if parts.user_name != user.user_name {
        check_login(&parts.user_name, params)?;
        // Entra's soft delete may rename the UPN to `<objectId><old UPN>` (entra-wire §2.6).
        let how = if parts.user_name.ends_with(&user.user_name) { " (Entra soft-delete rename)" } else { "" };
        push(format!("login renamed from {:?} to {:?}{how}", user.user_name, parts.user_name));
        user.user_name = parts.user_name;
    }
    user.external_id = parts.external_id;
    if let Some(active) = parts.active {
        if active != user.active {
            push(format!("active set to {active}"));
        }
        user.set_active(active);
    }
    user.profile = parts.profile;
    user.attributes = parts.attributes;
    Ok(())
}

pub async fn replace(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    q: ScimQuery,
    body: Result<ScimBody, ApiError>,
) -> Response {
    let mut op = Operation::new("PUT", "User", "replace user").on(&id);
    let result = async {
        // An unreadable body is refused inside the handler, so that the refusal reaches
        // the provisioning log like any other failure.
        let ScimBody(body) = body?;
        let p = list_params(&q)?;
        let params = caller.service.params.clone();
        let normalized = normalize_resource(&body, &state.schemas.user, policy(&params))?;
        op.warnings.extend(normalized.warnings);
        let parts = split_user(normalized.resource)?;
        let notes = Arc::new(Mutex::new(Vec::new()));
        let notes_in = Arc::clone(&notes);
        let user = state
            .store
            .update_user(caller.service.id, &id, Box::new(move |user| apply_parts(user, parts, &params, &notes_in)))
            .await
            .map_err(|e| map_missing(e, &id))?;
        op.warnings.extend(take(&notes));
        Ok(user_response(&state, &user, StatusCode::OK, &p.projection))
    }
    .await;
    finish(&state, &caller, op, result)
}

fn take(notes: &Mutex<Vec<String>>) -> Vec<String> {
    notes.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
}

pub(super) fn map_missing(e: domain::ports::StoreError, id: &str) -> ApiError {
    match e {
        domain::ports::StoreError::NotFound => not_found(id),
        other => other.into(),
    }
}

pub async fn patch(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    q: ScimQuery,
    body: Result<ScimBody, ApiError>,
) -> Response {
    let mut op = Operation::new("PATCH", "User", "patch user").on(&id);
    let result = async {
        // An unreadable body is refused inside the handler, so that the refusal reaches
        // the provisioning log like any other failure.
        let ScimBody(body) = body?;
        let p = list_params(&q)?;
        let ops = parse_patch_request(&body)?;
        op.summary = format!("patch user: {}", super::summarize_ops(&ops));
        let params = caller.service.params.clone();
        let schemas = Arc::clone(&state.schemas);
        let notes = Arc::new(Mutex::new(Vec::new()));
        let notes_in = Arc::clone(&notes);
        let (refusal, refusal_in) = refusal_carrier();
        let user = state
            .store
            .update_user(
                caller.service.id,
                &id,
                Box::new(move |user| {
                    // RFC 7644 §3.5.2: all operations or none — apply_patch works on a copy.
                    let mut resource = user_attributes(user);
                    let outcome = apply_patch(&mut resource, &ops, &schemas.user, policy(&params))
                        .and_then(|o| split_user(resource).map(|parts| (o, parts)));
                    let (outcome, parts) = match outcome {
                        Ok(v) => v,
                        Err(e) => return Err(refusal_in.refuse(e)),
                    };
                    if let Ok(mut n) = notes_in.lock() {
                        n.extend(outcome.warnings);
                    }
                    apply_parts(user, parts, &params, &notes_in)
                }),
            )
            .await
            .map_err(|e| refusal.take().map(ApiError).unwrap_or_else(|| map_missing(e, &id)))?;
        op.warnings.extend(take(&notes));
        Ok(user_response(&state, &user, StatusCode::OK, &p.projection))
    }
    .await;
    finish(&state, &caller, op, result)
}

pub async fn delete(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>) -> Response {
    let op = Operation::new("DELETE", "User", "delete user").on(&id);
    let adopt = caller.service.params.adopt_existing_users;
    let result = async {
        state
            .store
            .delete_user(
                caller.service.id,
                &id,
                Box::new(move |user| {
                    let mut probe = user.clone();
                    claim_for_scim(&mut probe, adopt).map(|_| ())
                }),
            )
            .await
            .map_err(|e| map_missing(e, &id))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    finish(&state, &caller, op, result)
}
