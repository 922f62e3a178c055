//! The OpenAPI 3 document of the admin API, generated from the handlers' annotations and
//! served at `/api/v1/openapi.json`. `tests/admin/openapi.json` is a committed snapshot that
//! a test compares with (`SCIMD_UPDATE_OPENAPI=1` rewrites it).

use super::*;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimd admin API",
        description = "Operate a scimd service's directory: users, groups, SCIM parameters, API tokens and the \
                       provisioning log. Authenticate with an API token of scope `admin` \
                       (`scimd token create --service NAME --scope admin`); the token's service is the one acted on.",
    ),
    paths(
        list_users, create_user, get_user, update_user, delete_user, block_user, unblock_user, resend_activation,
        list_groups, get_group,
        get_service, get_parameters, update_parameters,
        list_tokens, create_token, revoke_token,
        query_log,
    ),
    components(schemas(
        ErrorBody, UserView, UserPage, UserInput, GroupView, GroupPage, GroupDetail, MemberView, ServiceView,
        ParametersView, ParametersPatch, TokenView, TokenInput, CreatedToken, LogEntryView, LogPage,
    )),
    modifiers(&BearerToken),
    tags(
        (name = "users", description = "Users of the MFA directory"),
        (name = "groups", description = "Groups and their members"),
        (name = "service", description = "The service and its SCIM parameters"),
        (name = "tokens", description = "API tokens (SCIM and admin)"),
        (name = "log", description = "The provisioning log: every SCIM request"),
    )
)]
pub struct AdminApiDoc;

struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some("an API token of scope admin (`scimd_…`)".to_owned());
        components.add_security_scheme("admin_token", SecurityScheme::Http(http));
    }
}

/// The document as JSON text (pretty, stable: maps are ordered).
pub fn document() -> String {
    let mut doc = AdminApiDoc::openapi();
    // The version is the crate's, not utoipa's default (the package version of the caller).
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"internal\", \"message\": \"{e}\"}}"))
}

pub async fn serve() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], document()).into_response()
}
