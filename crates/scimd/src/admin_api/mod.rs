//! The admin REST API under `/api/v1` (product.md §3): the console's operations as JSON, for
//! scripts. Authenticated by an API token of scope `admin`; the token's service is the
//! service acted on (as for SCIM, the URL never names it). Every error is
//! `{"error": code, "message": text}`. The OpenAPI document at `/api/v1/openapi.json` is
//! generated from these handlers ([`openapi`]).

pub mod openapi;

use crate::admin_ops::{self, AdminError, DEFAULT_PAGE, UserFields, UserSearch};
use crate::state::AppState;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::query::{Condition, GroupField, Op, PageRequest, QueryValue, SortDirection};
use domain::service::Service;
use domain::token::TokenScope;
use domain::user::{ProvisioningSource, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{id}", get(get_user).patch(update_user).delete(delete_user))
        .route("/api/v1/users/{id}/block", post(block_user))
        .route("/api/v1/users/{id}/unblock", post(unblock_user))
        .route("/api/v1/users/{id}/resend-activation", post(resend_activation))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{id}", get(get_group))
        .route("/api/v1/service", get(get_service))
        .route("/api/v1/service/parameters", get(get_parameters).patch(update_parameters))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/api/v1/log", get(query_log))
        .route("/api/v1/{*rest}", axum::routing::any(unknown_route))
        .layer(axum::middleware::from_fn(json_errors_only))
        .with_state(state)
}

// --- errors --------------------------------------------------------------------------------

/// The body of every error answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code: `unauthorized`, `not_found`, `invalid_request`, `invalid_value`,
    /// `conflict`, `managed_elsewhere`, `cannot_resend`, `rate_limited`, `unavailable`,
    /// `internal`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

/// An error on its way out as JSON.
pub struct ApiError(pub AdminError);

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        Self(e)
    }
}
impl From<domain::ports::StoreError> for ApiError {
    fn from(e: domain::ports::StoreError) -> Self {
        Self(e.into())
    }
}
impl From<domain::DomainError> for ApiError {
    fn from(e: domain::DomainError) -> Self {
        Self(e.into())
    }
}

pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": code, "message": message});
    let mut resp = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scimd\""));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.0.status, self.0.code, &self.0.message)
    }
}

async fn unknown_route(req: Request) -> ApiError {
    ApiError(AdminError::not_found(format!("no admin API endpoint at {}", req.uri().path())))
}

/// Turns axum's own error answers (405, path rejections) into the JSON error body.
async fn json_errors_only(req: Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (code, message) = match status {
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this method is not allowed on this endpoint"),
            StatusCode::PAYLOAD_TOO_LARGE => ("invalid_request", "request body too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("invalid_request", "send application/json"),
            _ => ("invalid_request", status.canonical_reason().unwrap_or("error")),
        };
        let mut out = error_response(status, code, message);
        if let Some(allow) = resp.headers().get(header::ALLOW) {
            out.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return out;
    }
    resp
}

/// A JSON body whose rejections are [`ErrorBody`] answers.
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => {
                let status = match &e {
                    JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(ApiError(AdminError::new(status, "invalid_request", e.body_text())))
            }
        }
    }
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

// --- authentication ------------------------------------------------------------------------

/// The service an admin API request acts for, from its `admin`-scope token.
pub struct AdminCaller {
    pub service: Service,
    pub token_id: i64,
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized = || {
            ApiError(AdminError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an API token of scope admin is required (Authorization: Bearer scimd_…)",
            ))
        };
        let (token, service) =
            crate::tokens::authenticate(state, &parts.headers, TokenScope::Admin).await?.map_err(|why| {
                tracing::info!(reason = ?why, "admin API request refused: bad token");
                unauthorized()
            })?;
        if let Err(wait) = state.limiter.check(token.id) {
            return Err(ApiError(AdminError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests for this token; retry after {} s", wait.max(1)),
            )));
        }
        crate::scim_api::extract::touch(state, token.id);
        Ok(Self { service, token_id: token.id })
    }
}

// --- users -----------------------------------------------------------------------------------

/// A user as the admin API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: String,
    /// The MFA login (SCIM `userName`).
    pub user_name: String,
    pub external_id: Option<String>,
    /// SCIM `active`, as the provisioning client last set it.
    pub active: bool,
    /// `pendingActivation`, `activated`, `notActivated` or `activationExpired`.
    pub status: String,
    /// True while at least one block reason exists.
    pub blocked: bool,
    /// `inactive`, `admin`, `groupDeleted:<group id>`.
    pub block_reasons: Vec<String>,
    /// `scim`, `api`, `console` or `import`.
    pub provisioning_source: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// When the pending activation code expires (RFC 3339).
    pub activation_expires_at: Option<String>,
    pub created: String,
    pub last_modified: String,
}

impl UserView {
    pub fn of(u: &User) -> Self {
        let now = domain::now();
        Self {
            id: u.id.clone(),
            user_name: u.user_name.clone(),
            external_id: u.external_id.clone(),
            active: u.active,
            status: u.effective_status(now).as_str().to_owned(),
            blocked: u.blocked(),
            block_reasons: u.block_reasons.iter().map(ToString::to_string).collect(),
            provisioning_source: u.source.as_str().to_owned(),
            email: u.profile.email.clone(),
            display_name: u.profile.display_name.clone(),
            given_name: u.profile.given_name.clone(),
            family_name: u.profile.family_name.clone(),
            activation_expires_at: u
                .activation_expires_at
                .filter(|_| u.status == domain::user::UserStatus::PendingActivation)
                .map(domain::format_timestamp),
            created: domain::format_timestamp(u.created),
            last_modified: domain::format_timestamp(u.last_modified),
        }
    }
}

/// One page of users, in login order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Part of the login, email, display name, given or family name (case-insensitive).
    pub q: Option<String>,
    /// `pendingActivation`, `activated`, `notActivated` or `activationExpired`.
    pub status: Option<String>,
    /// Only blocked (`true`) or only unblocked (`false`) users.
    pub blocked: Option<bool>,
    /// The login after which the page starts (`next_after` of the previous page).
    pub after: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserListQuery),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Lists or searches users (keyset pages in login order).
pub async fn list_users(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(q): Query<UserListQuery>,
) -> Result<Response, ApiError> {
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .transpose()
        .map_err(|e: String| AdminError::bad_request(e))?;
    let search = UserSearch { text: q.q, status, blocked: q.blocked };
    let (users, next) =
        admin_ops::list_users(&state, &caller.service, &search, q.after.as_deref(), q.limit.unwrap_or(DEFAULT_PAGE))
            .await?;
    Ok(json(StatusCode::OK, &UserPage { items: users.iter().map(UserView::of).collect(), next_after: next }))
}

/// A user to create, or changes to a user (absent: unchanged; empty text: removed).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// The login (required on creation).
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    /// The work email; activation emails go there.
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

impl From<UserInput> for UserFields {
    fn from(i: UserInput) -> Self {
        UserFields {
            user_name: i.user_name,
            external_id: i.external_id,
            email: i.email,
            display_name: i.display_name,
            given_name: i.given_name,
            family_name: i.family_name,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserInput,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "the login is taken", body = ErrorBody)),
    security(("admin_token" = [])))]
/// Creates a user with provisioning source `api` (SCIM writes to it are refused until adopted).
pub async fn create_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Json(input): Json<UserInput>,
) -> Result<Response, ApiError> {
    if input.user_name.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(AdminError::bad_request("user_name is required").into());
    }
    let user = admin_ops::create_user(&state, &caller.service, input.into(), ProvisioningSource::Api).await?;
    Ok(json(StatusCode::CREATED, &UserView::of(&user)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Reads a user.
pub async fn get_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = admin_ops::get_user(&state, &caller.service, &id).await?;
    Ok(json(StatusCode::OK, &UserView::of(&user)))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "user id")),
    request_body = UserInput,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the user is managed by Entra ID (SCIM), or the login is taken", body = ErrorBody)),
    security(("admin_token" = [])))]
/// Changes a user's attributes (not for SCIM-managed users: Entra ID would overwrite them).
pub async fn update_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
    Json(input): Json<UserInput>,
) -> Result<Response, ApiError> {
    let user = admin_ops::update_user(&state, &caller.service, &id, input.into()).await?;
    Ok(json(StatusCode::OK, &UserView::of(&user)))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "user id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Deletes a user with its memberships and activation code.
pub async fn delete_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_ops::delete_user(&state, &caller.service, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/api/v1/users/{id}/block", tag = "users", params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Blocks a user with the reason `admin`.
pub async fn block_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = admin_ops::set_admin_block(&state, &caller.service, &id, true).await?;
    Ok(json(StatusCode::OK, &UserView::of(&user)))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/unblock", tag = "users", params(("id" = String, Path, description = "user id")),
    responses((status = 200, description = "the reason `admin` is removed; other reasons stay", body = UserView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Removes the block reason `admin` (other reasons stay).
pub async fn unblock_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = admin_ops::set_admin_block(&state, &caller.service, &id, false).await?;
    Ok(json(StatusCode::OK, &UserView::of(&user)))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/resend-activation", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, description = "a new activation email is queued; the previous code no longer works", body = UserView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the user has no email or is blocked", body = ErrorBody)),
    security(("admin_token" = [])))]
/// Sends a new activation email.
pub async fn resend_activation(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = admin_ops::resend_activation(&state, &caller.service, &id).await?;
    Ok(json(StatusCode::OK, &UserView::of(&user)))
}

// --- groups ----------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub member_count: u64,
    pub created: String,
    pub last_modified: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupPage {
    pub items: Vec<GroupView>,
    /// Groups matching, over all pages.
    pub total: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupListQuery {
    /// Part of the display name (case-insensitive).
    pub q: Option<String>,
    /// Groups to skip (default 0).
    pub offset: Option<u64>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u64>,
}

/// A page of groups with their member counts, in name order.
pub async fn group_page(
    state: &AppState,
    service: &Service,
    text: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(domain::group::Group, u64)>, u64), AdminError> {
    let condition = match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Condition::Cmp(GroupField::DisplayName, Op::Contains, QueryValue::Text(t.to_owned())),
        None => Condition::True,
    };
    let page = state
        .store
        .query_groups(
            service.id,
            &domain::query::Query {
                condition,
                sort: Some((GroupField::DisplayName, SortDirection::Ascending)),
                page: Some(PageRequest { offset, limit: limit.clamp(1, admin_ops::MAX_PAGE) }),
            },
        )
        .await?;
    let ids: Vec<String> = page.items.iter().map(|g| g.id.clone()).collect();
    let counts: std::collections::HashMap<String, u64> =
        state.store.group_member_counts(service.id, &ids).await?.into_iter().collect();
    let items = page
        .items
        .into_iter()
        .map(|g| {
            let n = counts.get(&g.id).copied().unwrap_or(0);
            (g, n)
        })
        .collect();
    Ok((items, page.total))
}

fn group_view(g: &domain::group::Group, member_count: u64) -> GroupView {
    GroupView {
        id: g.id.clone(),
        display_name: g.display_name.clone(),
        external_id: g.external_id.clone(),
        member_count,
        created: domain::format_timestamp(g.created),
        last_modified: domain::format_timestamp(g.last_modified),
    }
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(GroupListQuery),
    responses((status = 200, body = GroupPage), (status = 401, body = ErrorBody)), security(("admin_token" = [])))]
/// Lists groups with their member counts.
pub async fn list_groups(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(q): Query<GroupListQuery>,
) -> Result<Response, ApiError> {
    let (items, total) =
        group_page(&state, &caller.service, q.q.as_deref(), q.offset.unwrap_or(0), q.limit.unwrap_or(DEFAULT_PAGE))
            .await?;
    let items = items.iter().map(|(g, n)| group_view(g, *n)).collect();
    Ok(json(StatusCode::OK, &GroupPage { items, total }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// The member's user id.
    pub id: String,
    /// The member's login.
    pub user_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupDetail {
    pub group: GroupView,
    /// One page of members (`member_offset`, `member_limit`).
    pub members: Vec<MemberView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberPageQuery {
    /// Members to skip (default 0).
    pub member_offset: Option<u64>,
    /// Members per page, 1–200 (default 50).
    pub member_limit: Option<u64>,
}

/// A group's members (one page) with their logins.
pub async fn member_page(
    state: &AppState,
    service: &Service,
    group_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(domain::group::Group, Vec<(String, Option<User>)>, u64), AdminError> {
    let group = state
        .store
        .get_group(service.id, group_id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no group with id {group_id:?} in this service")))?;
    let page = state
        .store
        .group_members(service.id, group_id, Some(PageRequest { offset, limit: limit.clamp(1, admin_ops::MAX_PAGE) }))
        .await?;
    let ids: Vec<Condition<domain::query::UserField>> = page
        .items
        .iter()
        .map(|m| Condition::Cmp(domain::query::UserField::Id, Op::Eq, QueryValue::Text(m.user_id.clone())))
        .collect();
    let users = if ids.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .query_users_page(
                service.id,
                &domain::query::Query { condition: Condition::Or(ids), sort: None, page: None },
            )
            .await?
    };
    let mut by_id: std::collections::HashMap<String, User> = users.into_iter().map(|u| (u.id.clone(), u)).collect();
    let members = page.items.into_iter().map(|m| (m.user_id.clone(), by_id.remove(&m.user_id))).collect();
    Ok((group, members, page.total))
}

#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups",
    params(("id" = String, Path, description = "group id"), MemberPageQuery),
    responses((status = 200, body = GroupDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Reads a group and one page of its members.
pub async fn get_group(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
    Query(q): Query<MemberPageQuery>,
) -> Result<Response, ApiError> {
    let (group, members, total) =
        member_page(&state, &caller.service, &id, q.member_offset.unwrap_or(0), q.member_limit.unwrap_or(DEFAULT_PAGE))
            .await?;
    let members = members.into_iter().map(|(id, u)| MemberView { id, user_name: u.map(|u| u.user_name) }).collect();
    Ok(json(StatusCode::OK, &GroupDetail { group: group_view(&group, total), members }))
}

// --- service and parameters -------------------------------------------------------------------

/// The service's SCIM parameters.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParametersView {
    /// Send an activation email when a user with an email is created.
    pub send_activation_email: bool,
    /// Attributes in no published schema: `reject` (400) or `ignore` (dropped, logged).
    pub unknown_attributes: String,
    /// Let the first SCIM write take over a user created by another source.
    pub adopt_existing_users: bool,
    pub login_max_length: usize,
    /// Characters accepted in a login besides letters and digits.
    pub login_extra_chars: String,
    pub group_name_max_length: usize,
    /// How long provisioning-log entries are kept.
    pub log_retention_days: u32,
}

impl ParametersView {
    pub fn of(p: &domain::service::ServiceParams) -> Self {
        Self {
            send_activation_email: p.send_activation_email,
            unknown_attributes: match p.unknown_attributes {
                domain::service::UnknownAttributesPolicy::Reject => "reject".into(),
                domain::service::UnknownAttributesPolicy::Ignore => "ignore".into(),
            },
            adopt_existing_users: p.adopt_existing_users,
            login_max_length: p.login_max_length,
            login_extra_chars: p.login_extra_chars.clone(),
            group_name_max_length: p.group_name_max_length,
            log_retention_days: p.log_retention_days,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceView {
    pub id: i64,
    pub name: String,
    /// The SCIM base URL to paste into Entra ID as the Tenant URL.
    pub tenant_url: String,
    pub parameters: ParametersView,
}

#[utoipa::path(get, path = "/api/v1/service", tag = "service",
    responses((status = 200, body = ServiceView), (status = 401, body = ErrorBody)), security(("admin_token" = [])))]
/// The token's service, its SCIM tenant URL and parameters.
pub async fn get_service(State(state): State<AppState>, caller: AdminCaller) -> Response {
    let s = &caller.service;
    json(
        StatusCode::OK,
        &ServiceView {
            id: s.id.0,
            name: s.name.clone(),
            tenant_url: state.settings.tenant_url(),
            parameters: ParametersView::of(&s.params),
        },
    )
}

#[utoipa::path(get, path = "/api/v1/service/parameters", tag = "service",
    responses((status = 200, body = ParametersView), (status = 401, body = ErrorBody)), security(("admin_token" = [])))]
/// The service's SCIM parameters.
pub async fn get_parameters(caller: AdminCaller) -> Response {
    json(StatusCode::OK, &ParametersView::of(&caller.service.params))
}

/// Parameters to change; absent ones stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParametersPatch {
    pub send_activation_email: Option<bool>,
    /// `reject` or `ignore`.
    pub unknown_attributes: Option<String>,
    pub adopt_existing_users: Option<bool>,
    /// 1–1024.
    pub login_max_length: Option<usize>,
    pub login_extra_chars: Option<String>,
    /// 1–1024.
    pub group_name_max_length: Option<usize>,
    /// 1–3650.
    pub log_retention_days: Option<u32>,
}

impl ParametersPatch {
    pub fn changes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k.to_owned(), v));
            }
        };
        put("send_activation_email", self.send_activation_email.map(|b| b.to_string()));
        put("unknown_attributes", self.unknown_attributes.clone());
        put("adopt_existing_users", self.adopt_existing_users.map(|b| b.to_string()));
        put("login_max_length", self.login_max_length.map(|n| n.to_string()));
        put("login_extra_chars", self.login_extra_chars.clone());
        put("group_name_max_length", self.group_name_max_length.map(|n| n.to_string()));
        put("log_retention_days", self.log_retention_days.map(|n| n.to_string()));
        out
    }
}

#[utoipa::path(patch, path = "/api/v1/service/parameters", tag = "service", request_body = ParametersPatch,
    responses((status = 200, body = ParametersView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Changes SCIM parameters (all or nothing); they apply to the next SCIM request.
pub async fn update_parameters(
    State(state): State<AppState>,
    caller: AdminCaller,
    Json(patch): Json<ParametersPatch>,
) -> Result<Response, ApiError> {
    let updated = admin_ops::set_params(&state, &caller.service, &patch.changes()).await?;
    Ok(json(StatusCode::OK, &ParametersView::of(&updated.params)))
}

// --- tokens ----------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    /// `scim` (Entra's Secret Token) or `admin` (this API).
    pub scope: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub description: String,
    pub created: String,
    pub expires_at: Option<String>,
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
}

impl TokenView {
    pub fn of(t: &domain::token::ApiToken) -> Self {
        Self {
            id: t.id,
            scope: t.scope.as_str().to_owned(),
            prefix: t.prefix.clone(),
            description: t.description.clone(),
            created: domain::format_timestamp(t.created),
            expires_at: t.expires_at.map(domain::format_timestamp),
            last_used: t.last_used.map(domain::format_timestamp),
            revoked_at: t.revoked_at.map(domain::format_timestamp),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody)), security(("admin_token" = [])))]
/// The service's tokens (never their secrets).
pub async fn list_tokens(State(state): State<AppState>, caller: AdminCaller) -> Result<Response, ApiError> {
    let tokens = state.store.list_tokens(Some(caller.service.id)).await?;
    Ok(json(StatusCode::OK, &tokens.iter().map(TokenView::of).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// `scim` or `admin`.
    pub scope: String,
    /// Days until it expires (absent: never; Entra quarantines a job whose token expired).
    pub expires_in_days: Option<u32>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The secret: shown only in this answer.
    pub token: String,
    pub record: TokenView,
}

/// Creates a token; returns the secret (shown once) and its record.
pub async fn issue_token(
    state: &AppState,
    service: &Service,
    scope: &str,
    expires_in_days: Option<u32>,
    description: &str,
) -> Result<(String, domain::token::ApiToken), AdminError> {
    let scope: TokenScope =
        scope.parse().map_err(|e: String| AdminError::new(StatusCode::BAD_REQUEST, "invalid_value", e))?;
    let expires = match expires_in_days {
        Some(0) => {
            return Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_value",
                "expires_in_days must be at least 1",
            ));
        }
        Some(d) if d > 3650 => {
            return Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_value",
                "expires_in_days must be at most 3650",
            ));
        }
        Some(d) => Some(domain::now() + time::Duration::days(i64::from(d))),
        None => None,
    };
    let description: String = description.trim().chars().take(200).collect();
    let (secret, record) = crate::tokens::issue(state.store.as_ref(), service.id, scope, &description, expires).await?;
    tracing::info!(service = %service.name, token_id = record.id, scope = scope.as_str(), "token created by an administrator");
    Ok((secret, record))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenInput,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Creates a token for this service; the secret is in this answer only.
pub async fn create_token(
    State(state): State<AppState>,
    caller: AdminCaller,
    Json(input): Json<TokenInput>,
) -> Result<Response, ApiError> {
    let (token, record) =
        issue_token(&state, &caller.service, &input.scope, input.expires_in_days, &input.description).await?;
    Ok(json(StatusCode::CREATED, &CreatedToken { token, record: TokenView::of(&record) }))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path, description = "token id")),
    responses((status = 200, description = "revoked at once", body = TokenView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
/// Revokes a token of this service, effective at once.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let t = state.store.revoke_token(Some(caller.service.id), id).await.map_err(|e| match e {
        domain::ports::StoreError::NotFound => AdminError::not_found(format!("no token with id {id} in this service")),
        other => other.into(),
    })?;
    state.auth_cache.clear();
    tracing::info!(service = %caller.service.name, token_id = id, "token revoked by an administrator");
    Ok(json(StatusCode::OK, &TokenView::of(&t)))
}

// --- provisioning log ------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogEntryView {
    pub id: i64,
    pub time: String,
    /// The `X-Request-Id` of the SCIM request.
    pub request_id: String,
    pub method: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub operation: String,
    /// HTTP status of the answer.
    pub status: u16,
    pub detail: Option<String>,
    pub warnings: Vec<String>,
}

impl LogEntryView {
    pub fn of(e: &domain::audit::StoredLogEntry) -> Self {
        Self {
            id: e.id,
            time: domain::format_timestamp(e.entry.time),
            request_id: e.entry.request_id.clone(),
            method: e.entry.method.clone(),
            resource_type: e.entry.resource_type.clone(),
            resource_id: e.entry.resource_id.clone(),
            operation: e.entry.operation.clone(),
            status: e.entry.status,
            detail: e.entry.error_detail.clone(),
            warnings: e.entry.warnings.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// Newest first.
    pub items: Vec<LogEntryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogListQuery {
    /// `failed` (status ≥ 400) or `succeeded`.
    pub outcome: Option<String>,
    /// `User`, `Group`, …
    pub resource_type: Option<String>,
    /// A user or group id.
    pub resource_id: Option<String>,
    /// Entries older than this entry id (`next_before` of the previous page).
    pub before: Option<i64>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<u32>,
}

/// The log query a listing asks for.
pub fn log_query(
    outcome: Option<&str>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    before: Option<i64>,
    limit: u32,
) -> Result<domain::audit::LogQuery, AdminError> {
    let failed = match outcome.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("all") => None,
        Some("failed") => Some(true),
        Some("succeeded") => Some(false),
        Some(other) => {
            return Err(AdminError::bad_request(format!("outcome must be failed or succeeded, got {other:?}")));
        }
    };
    Ok(domain::audit::LogQuery {
        failed,
        resource_type: resource_type.filter(|s| !s.trim().is_empty()),
        resource_id: resource_id.filter(|s| !s.trim().is_empty()),
        before_id: before,
        limit: limit.clamp(1, 1000),
    })
}

#[utoipa::path(get, path = "/api/v1/log", tag = "log", params(LogListQuery),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("admin_token" = [])))]
/// The provisioning log (every SCIM request), newest first.
pub async fn query_log(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(q): Query<LogListQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let query = log_query(q.outcome.as_deref(), q.resource_type, q.resource_id, q.before, limit)?;
    let entries = state.store.query_log(caller.service.id, &query).await?;
    let next_before = (entries.len() as u32 >= limit).then(|| entries.last().map(|e| e.id)).flatten();
    Ok(json(StatusCode::OK, &LogPage { items: entries.iter().map(LogEntryView::of).collect(), next_before }))
}
