//! Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas. They
//! require a token too, like every SCIM endpoint here: Entra always sends one.

use super::audit::{Operation, finish};
use super::error::{ApiError, scim_json};
use super::extract::ScimCaller;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use scim::ScimError;
use scim::list::list_response;
use scim::schema::{ServiceProviderFeatures, resource_type_json, schema_json, service_provider_config_json};

fn features() -> ServiceProviderFeatures {
    ServiceProviderFeatures {
        documentation_uri: None,
        max_results: u32::try_from(super::MAX_COUNT).unwrap_or(u32::MAX),
        sort: true,
        etag: false,
    }
}

pub async fn service_provider_config(State(state): State<AppState>, caller: ScimCaller) -> Response {
    let body = service_provider_config_json(&state.settings.tenant_url(), &features());
    finish(
        &state,
        &caller,
        Operation::new("GET", "ServiceProviderConfig", "discovery"),
        Ok(scim_json(StatusCode::OK, &body)),
    )
}

pub async fn resource_types(State(state): State<AppState>, caller: ScimCaller) -> Response {
    let base = state.settings.tenant_url();
    let items = vec![resource_type_json(&state.schemas.user, &base), resource_type_json(&state.schemas.group, &base)];
    let body = list_response(items.len() as u64, 1, items);
    finish(&state, &caller, Operation::new("GET", "ResourceType", "discovery"), Ok(scim_json(StatusCode::OK, &body)))
}

pub async fn resource_type(State(state): State<AppState>, caller: ScimCaller, Path(name): Path<String>) -> Response {
    let base = state.settings.tenant_url();
    let result = [&state.schemas.user, &state.schemas.group]
        .into_iter()
        .find(|rs| rs.name.eq_ignore_ascii_case(&name))
        .map(|rs| scim_json(StatusCode::OK, &resource_type_json(rs, &base)))
        .ok_or_else(|| ApiError(ScimError::not_found(format!("no resource type {name:?}"))));
    finish(&state, &caller, Operation::new("GET", "ResourceType", "discovery").on(name.clone()), result)
}

pub async fn schemas(State(state): State<AppState>, caller: ScimCaller) -> Response {
    let base = state.settings.tenant_url();
    let items: Vec<_> = state.schemas.all().into_iter().map(|s| schema_json(s, &base)).collect();
    let body = list_response(items.len() as u64, 1, items);
    finish(&state, &caller, Operation::new("GET", "Schema", "discovery"), Ok(scim_json(StatusCode::OK, &body)))
}

pub async fn schema(State(state): State<AppState>, caller: ScimCaller, Path(urn): Path<String>) -> Response {
    let base = state.settings.tenant_url();
    let result = state
        .schemas
        .all()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(&urn))
        .map(|s| scim_json(StatusCode::OK, &schema_json(s, &base)))
        .ok_or_else(|| ApiError(ScimError::not_found(format!("no schema {urn:?}"))));
    finish(&state, &caller, Operation::new("GET", "Schema", "discovery").on(urn.clone()), result)
}
