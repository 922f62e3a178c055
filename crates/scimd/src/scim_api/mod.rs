//! The SCIM 2.0 endpoints, mounted at `/scim/v2` and at the TrustBuilder-compatible alias
//! `/auth/v1/customer/services/scim`. The service always comes from the token.

pub mod audit;
pub mod discovery;
pub mod error;
pub mod extract;
pub mod groups;
pub mod mapping;
pub mod query;
pub mod schemas;
pub mod users;

use crate::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use domain::service::{ServiceParams, UnknownAttributesPolicy};
use error::{ApiError, SCIM_CONTENT_TYPE, scim_error_response};
use extract::ScimQuery;
use scim::ScimError;
use scim::filter::{AttrPath, Filter, parse_attr_path, parse_filter};
use scim::list::{Page, SortOrder};
use scim::patch::{PatchOpKind, PatchOperation};
use scim::projection::Projection;
use scim::schema::UnknownAttributes;
use std::sync::{Arc, Mutex};

/// The base paths the SCIM API answers on.
pub const BASES: [&str; 2] = ["/scim/v2", "/auth/v1/customer/services/scim"];

/// Default and largest page sizes (advertised as `filter.maxResults`).
pub const DEFAULT_COUNT: u64 = 100;
pub const MAX_COUNT: u64 = 1000;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route("/Users/{id}", get(users::get).put(users::replace).patch(users::patch).delete(users::delete))
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(groups::search))
        .route("/Groups/{id}", get(groups::get).put(groups::replace).patch(groups::patch).delete(groups::delete))
        .route("/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/serviceConfiguration", get(discovery::service_provider_config))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{name}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{urn}", get(discovery::schema));
    // The exact routes, answering 404 for anything else.
    let exact =
        routes.clone().fallback(unknown_route).layer(middleware::from_fn(scim_errors_only)).with_state(state.clone());
    // A path that matches no route is retried once in canonical form (endpoint name in its
    // canonical case, no trailing slash): Microsoft's SCIM Postman collection requests `/users`
    // and `/Users/?filter=…`, and its reference server (ASP.NET routing) accepts both. Ids keep
    // their case. See docs/conformance.md.
    let api = routes
        .fallback(move |req: Request| retry_canonical(exact.clone(), req))
        .layer(middleware::from_fn(scim_errors_only))
        .with_state(state);
    let mut router = Router::new();
    for base in BASES {
        router = router.nest(base, api.clone());
    }
    router
}

/// Endpoint names of RFC 7644 §3.2 (plus the `serviceConfiguration` alias) in canonical case.
const ENDPOINTS: [&str; 6] =
    ["Users", "Groups", "ServiceProviderConfig", "serviceConfiguration", "ResourceTypes", "Schemas"];

/// The canonical form of a path (relative to the SCIM base) that matched no route, or `None`
/// when it is already canonical (then it is a real 404).
fn canonical_path(path: &str) -> Option<String> {
    let trimmed = path.trim_end_matches('/');
    let mut segments: Vec<&str> = trimmed.split('/').collect();
    if let Some(first) = segments.get_mut(1)
        && let Some(name) = ENDPOINTS.iter().find(|e| e.eq_ignore_ascii_case(first))
    {
        *first = name;
    }
    if let Some(second) = segments.get_mut(2)
        && second.eq_ignore_ascii_case(".search")
    {
        *second = ".search";
    }
    let canonical = segments.join("/");
    (!canonical.is_empty() && canonical != path).then_some(canonical)
}

async fn retry_canonical(exact: Router, mut req: Request) -> Response {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    let Some(path) = canonical_path(req.uri().path()) else {
        return unknown_route(req).await.into_response();
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    match path_and_query.parse() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return unknown_route(req).await.into_response(),
    }
    match exact.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

async fn unknown_route(req: Request) -> ApiError {
    ApiError(ScimError::not_found(format!("no SCIM endpoint at {}", req.uri().path())))
}

/// Turns any non-SCIM error answer (axum's 405, a rejection's plain text) into a SCIM Error,
/// so Entra never meets a body it cannot parse.
async fn scim_errors_only(req: Request, next: Next) -> Response {
    // No id contains U+0000 (bodies carrying it are refused), and PostgreSQL cannot even be
    // asked about one (text cannot hold it: a 500). `/Users/a%00b` is simply not found (issue 8).
    if req.uri().path().contains("%00") {
        return scim_error_response(&ScimError::not_found(format!("no SCIM resource at {}", req.uri().path())));
    }
    let resp = next.run(req).await;
    let status = resp.status();
    let is_scim = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(SCIM_CONTENT_TYPE));
    if (status.is_client_error() || status.is_server_error()) && !is_scim {
        let detail = match status {
            StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this endpoint".to_owned(),
            StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_owned(),
            s => s.canonical_reason().unwrap_or("error").to_owned(),
        };
        let mut out = scim_error_response(&ScimError::new(status.as_u16(), None, detail));
        if let Some(allow) = resp.headers().get(header::ALLOW) {
            out.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return out;
    }
    resp
}

/// The list/search parameters of RFC 7644 §3.4.2.
pub struct ListParams {
    pub filter: Option<Filter>,
    pub page: Page,
    pub projection: Projection,
    pub sort_by: Option<AttrPath>,
    pub order: SortOrder,
}

pub fn list_params(q: &ScimQuery) -> Result<ListParams, ApiError> {
    // A filter value with U+0000 would reach PostgreSQL, which refuses it (a 500); nothing
    // stored contains it (issue 8).
    if q.get("filter").is_some_and(|f| f.contains('\0')) {
        return Err(ScimError::invalid_filter("the filter contains the NUL character (%00)").into());
    }
    Ok(ListParams {
        filter: q.get("filter").filter(|f| !f.trim().is_empty()).map(parse_filter).transpose()?,
        page: Page::from_query(q.get("startIndex"), q.get("count"), DEFAULT_COUNT, MAX_COUNT)?,
        projection: Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?,
        sort_by: q
            .get("sortBy")
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_attr_path(s).map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.detail))))
            .transpose()?,
        order: SortOrder::parse(q.get("sortOrder"))?,
    })
}

/// `id` and `schemas` are always returned (RFC 7643 §7 `returned: always`); meta is kept too,
/// as Entra reads it.
pub fn project(projection: &Projection, resource: &mut serde_json::Value) {
    if !projection.is_empty() {
        projection.apply(resource, &["id", "schemas", "meta"]);
    }
}

pub fn policy(params: &ServiceParams) -> UnknownAttributes {
    match params.unknown_attributes {
        UnknownAttributesPolicy::Reject => UnknownAttributes::Reject,
        UnknownAttributesPolicy::Ignore => UnknownAttributes::Ignore,
    }
}

/// A mutation runs inside the store and may only fail with a `DomainError`; a SCIM error
/// raised there (bad path, bad value) travels back through this carrier, keeping its
/// `scimType`.
pub struct Refusal(Arc<Mutex<Option<ScimError>>>);

impl Refusal {
    pub fn refuse(&self, e: ScimError) -> domain::DomainError {
        let detail = e.detail.clone();
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(e);
        }
        domain::DomainError::InvalidValue(detail)
    }
    pub fn take(&self) -> Option<ScimError> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

pub fn refusal_carrier() -> (Refusal, Refusal) {
    let slot = Arc::new(Mutex::new(None));
    (Refusal(Arc::clone(&slot)), Refusal(slot))
}

/// "replace active, replace emails[type eq "work"].value" for the provisioning log.
pub fn summarize_ops(ops: &[PatchOperation]) -> String {
    ops.iter()
        .map(|o| {
            let kind = match o.op {
                PatchOpKind::Add => "add",
                PatchOpKind::Replace => "replace",
                PatchOpKind::Remove => "remove",
            };
            match &o.path {
                Some(p) => format!("{kind} {}", path_text(p)),
                None => format!("{kind} (no path)"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn path_text(p: &scim::path::PatchPath) -> String {
    let mut s = String::new();
    if let Some(uri) = &p.uri {
        s.push_str(uri);
        s.push(':');
    }
    s.push_str(&p.attr);
    if let Some(f) = &p.filter {
        s.push_str(&format!("[{f}]"));
    }
    if let Some(sub) = &p.sub_attr {
        s.push('.');
        s.push_str(sub);
    }
    s
}

#[cfg(test)]
mod canonical_path_tests {
    use super::canonical_path;

    #[test]
    fn endpoint_case_and_trailing_slashes_are_canonicalised_ids_are_not() {
        assert_eq!(canonical_path("/users").as_deref(), Some("/Users"));
        assert_eq!(canonical_path("/Users/").as_deref(), Some("/Users"));
        assert_eq!(canonical_path("/GROUPS/AbC-1/").as_deref(), Some("/Groups/AbC-1"));
        assert_eq!(canonical_path("/users/.SEARCH").as_deref(), Some("/Users/.search"));
        assert_eq!(canonical_path("/serviceproviderconfig").as_deref(), Some("/ServiceProviderConfig"));
        // Already canonical, or unknown: a real 404.
        assert_eq!(canonical_path("/Users/abc"), None);
        assert_eq!(canonical_path("/Nope"), None);
        assert_eq!(canonical_path("/"), None);
    }
}
