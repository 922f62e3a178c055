//! Extractors: who is calling (bearer token → service), the query string, the JSON body.

use super::error::{ApiError, invalid_syntax, too_large, unauthorized};
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use domain::service::Service;
use domain::token::TokenScope;
use scim::ScimError;
use serde_json::Value;

/// The service a SCIM request acts for, taken from its token (never from the URL).
pub struct ScimCaller {
    pub service: Service,
    pub request_id: String,
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let (token, service) =
            crate::tokens::check_with_service(state.store.as_ref(), presented, TokenScope::Scim, domain::now())
            .await?
            .map_err(|why| {
                tracing::info!(reason = ?why, "SCIM request refused: bad token");
                unauthorized("a valid SCIM bearer token is required (Authorization: Bearer scimd_…)")
            })?;
        if let Err(wait) = state.limiter.check(token.id) {
            return Err(too_many_requests(wait));
        }
        touch(state, token.id);
        let request_id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Ok(Self { service, request_id })
    }
}

/// 429 (RFC 6585 §4) with a SCIM Error body; `Retry-After` is added by
/// [`super::error::scim_error_response`] (the per-token quota refills within a second).
fn too_many_requests(wait_seconds: u64) -> ApiError {
    ApiError(ScimError::new(
        429,
        None,
        format!("too many requests for this token; retry after {} s", wait_seconds.max(1)),
    ))
}

/// Records the token's last use, at most once a minute per token and off the request path.
pub(crate) fn touch(state: &AppState, token_id: i64) {
    let now = std::time::Instant::now();
    let due = state.token_touches.lock().is_ok_and(|mut seen| {
        let due = seen.get(&token_id).is_none_or(|t| now.duration_since(*t).as_secs() >= 60);
        if due {
            seen.insert(token_id, now);
        }
        due
    });
    if due {
        let store = std::sync::Arc::clone(&state.store);
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(token_id, domain::now()).await {
                tracing::warn!(error = %e, "cannot record token use");
            }
        });
    }
}

/// Query parameters, decoded as a form (`+` is a space, RFC 7644 §3.4.2 via HTML forms) and
/// matched case-insensitively. Unknown ones (`aadOptscim062020`) are ignored.
#[derive(Debug, Default)]
pub struct ScimQuery {
    pairs: Vec<(String, String)>,
}

impl ScimQuery {
    pub fn from_query(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
        Self { pairs }
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Reads list parameters from a `POST /.search` body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> Self {
        let mut pairs = Vec::new();
        if let Some(obj) = body.as_object() {
            for (k, v) in obj {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Array(items) => items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join(","),
                    _ => continue,
                };
                pairs.push((k.clone(), text));
            }
        }
        Self { pairs }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ScimQuery {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_query(parts.uri.query()))
    }
}

/// A JSON request body. Accepts `application/scim+json`, `application/json` (with any
/// parameters) or no content type; refuses others with 415, oversize bodies with 413 and
/// malformed JSON with 400 `invalidSyntax`, all as SCIM errors.
pub struct ScimBody(pub Value);

/// Which body limit applies.
pub fn body_limit(state: &AppState, path: &str) -> usize {
    if path.contains("/Groups") { state.settings.max_group_body_bytes } else { state.settings.max_body_bytes }
}

impl FromRequest<AppState> for ScimBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if !matches!(essence, "application/scim+json" | "application/json" | "") {
                return Err(ApiError(ScimError::new(
                    415,
                    None,
                    format!("content type {essence:?} is not accepted; send application/scim+json"),
                )));
            }
        }
        let limit = body_limit(state, req.uri().path());
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| too_large(limit))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            invalid_syntax(format!("request body is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()))
        })?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| invalid_syntax(format!("request body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(invalid_syntax("request body must be a JSON object"));
        }
        Ok(Self(value))
    }
}
