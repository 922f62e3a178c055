//! The admin console at `/console` (product.md §3): server-rendered HTML (askama templates,
//! `templates/console/`), usable without JavaScript, one stylesheet served from the binary.
//!
//! Security measures (docs/console.md):
//! - sign-in with an administrator account (argon2id), rate-limited per client address and
//!   per account name;
//! - the session lives in the database (several processes share it); the cookie holds a
//!   256-bit id (`HttpOnly`, `SameSite=Strict`, `Secure` and the `__Host-` prefix when the
//!   public URL is https); sessions end after 12 h, or 2 h unused, or at sign-out;
//! - every form carries the session's CSRF token, compared in constant time (`subtle`); the
//!   sign-in form uses a double-submit token;
//! - every answer carries a CSP without inline scripts or styles (`default-src 'self'`,
//!   `frame-ancestors 'none'`), `X-Frame-Options: DENY`, `nosniff`, `no-referrer` and
//!   `Cache-Control: no-store`.

mod pages;

use crate::admin_auth::SignInLimiter;
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::admin::AdminSession;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The stylesheet, compiled into the binary.
const CSS: &str = include_str!("../../static/console.css");

/// The console's state: the application's, plus the sign-in limiter.
#[derive(Clone)]
pub struct ConsoleState {
    pub app: AppState,
    pub sign_in: Arc<SignInLimiter>,
}

pub fn router(app: AppState, sign_in_per_minute: u32) -> Router {
    let state = ConsoleState { app, sign_in: Arc::new(SignInLimiter::new(sign_in_per_minute)) };
    let s = "/console/services/{sid}";
    Router::new()
        .route("/console", get(pages::services))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/login", get(pages::login_form).post(pages::login))
        .route("/console/logout", post(pages::logout))
        .route(s, get(pages::dashboard))
        .route(&format!("{s}/users"), get(pages::users).post(pages::create_user))
        .route(&format!("{s}/users/new"), get(pages::new_user_form))
        .route(&format!("{s}/users/{{uid}}"), get(pages::user))
        .route(&format!("{s}/users/{{uid}}/edit"), post(pages::edit_user))
        .route(&format!("{s}/users/{{uid}}/block"), post(pages::block_user))
        .route(&format!("{s}/users/{{uid}}/unblock"), post(pages::unblock_user))
        .route(&format!("{s}/users/{{uid}}/resend"), post(pages::resend_activation))
        .route(&format!("{s}/users/{{uid}}/delete"), post(pages::delete_user))
        .route(&format!("{s}/groups"), get(pages::groups))
        .route(&format!("{s}/groups/{{gid}}"), get(pages::group))
        .route(&format!("{s}/deleted-groups"), get(pages::deleted_groups))
        .route(&format!("{s}/settings"), get(pages::settings).post(pages::save_settings))
        .route(&format!("{s}/tokens"), get(pages::tokens).post(pages::create_token))
        .route(&format!("{s}/tokens/{{tid}}/revoke"), post(pages::revoke_token))
        .route(&format!("{s}/log"), get(pages::log))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

async fn stylesheet() -> Response {
    let mut resp = CSS.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    resp
}

/// The content security policy of every console page: no scripts at all, styles only from
/// the console's own stylesheet, no framing, forms only to this origin.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

// --- cookies ---------------------------------------------------------------------------------

/// Cookie names: with https the `__Host-` prefix pins the cookie to this host and path `/`.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-scimd_session" } else { "scimd_session" }
}
pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-scimd_login" } else { "scimd_login" }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure over https. `max_age`
/// zero deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// True when the console is served over https (cookies get `Secure`).
pub fn secure(state: &AppState) -> bool {
    state.settings.public_url.to_ascii_lowercase().starts_with("https://")
}

/// Constant-time comparison of a presented CSRF token with the expected one.
pub fn csrf_ok(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

// --- the signed-in administrator ----------------------------------------------------------------

/// A request from a signed-in administrator. Without a live session, GET requests are sent to
/// the sign-in page and other requests refused.
pub struct Admin {
    pub session: AdminSession,
}

impl Admin {
    pub fn name(&self) -> &str {
        &self.session.admin_name
    }
    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
    /// The refusal of a form whose CSRF token is not this session's; `None` when it is.
    pub fn csrf_refusal(&self, presented: &str) -> Option<Response> {
        if csrf_ok(&self.session.csrf_token, presented) {
            None
        } else {
            tracing::warn!(admin = %self.session.admin_name, "console form refused: bad CSRF token");
            Some(pages::message_page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from this session (or the session changed). Go back, reload the page and try \
                 again.",
            ))
        }
    }
}

impl FromRequestParts<ConsoleState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        let name = session_cookie_name(secure(&state.app));
        let found = match cookie(&parts.headers, name) {
            Some(id) => crate::admin_auth::live_session(state.app.store.as_ref(), &id)
                .await
                .map_err(|e| pages::store_error_page(e.into()))?,
            None => None,
        };
        match found {
            Some(session) => Ok(Self { session }),
            None if parts.method == axum::http::Method::GET => Err(Redirect::to("/console/login").into_response()),
            None => Err(pages::message_page(
                StatusCode::UNAUTHORIZED,
                "Signed out",
                "Your session has ended. Sign in again, then repeat the action.",
            )),
        }
    }
}

/// Renders an askama template as an HTML answer.
pub fn render<T: askama::Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log").into_response()
        }
    }
}
