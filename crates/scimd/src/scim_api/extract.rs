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
        let (token, service) =
            crate::tokens::authenticate(state, &parts.headers, TokenScope::Scim).await?.map_err(|why| {
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

/// Most bytes of an oversize body read (the discarded rest included) before the 413 is sent.
const DRAIN_MAX: usize = 16 * 1024 * 1024;

/// Reads a body of at most `limit` bytes. A larger one is refused with 413 only after the rest
/// of it has been read and discarded (up to [`DRAIN_MAX`] bytes in all): the server closes a
/// connection whose request it did not read to the end, and a client still sending its body
/// would then see the connection reset instead of the answer (issue 8: bad input gets a clear
/// answer).
async fn read_limited(mut body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    use axum::body::HttpBody;
    let mut kept: Vec<u8> = Vec::new();
    let mut discarded: Option<usize> = None;
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        // A body that cannot be read to its end is refused as before, with the 413.
        let Ok(data) = frame.map_err(|_| too_large(limit))?.into_data() else { continue };
        match discarded.as_mut() {
            Some(n) => {
                *n += data.len();
                if *n > DRAIN_MAX {
                    break;
                }
            }
            None if kept.len() + data.len() > limit => {
                discarded = Some(kept.len() + data.len());
                kept = Vec::new();
            }
            None => kept.extend_from_slice(&data),
        }
    }
    match discarded {
        Some(_) => Err(too_large(limit)),
        None => Ok(kept.into()),
    }
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
        // A client sending `Expect: 100-continue` waits for the go-ahead before sending its
        // body: a declared length over the limit is refused at once, and the body is never sent
        // (issue 8, tests/badinput). Other clients are already sending: `read_limited` reads
        // their body to its end before the 413.
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let expects_continue = req
            .headers()
            .get(header::EXPECT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expects_continue && declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let bytes = read_limited(req.into_body(), limit).await?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            invalid_syntax(format!("request body is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()))
        })?;
        let value = parse_strict(text).map_err(|e| invalid_syntax(format!("request body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(invalid_syntax("request body must be a JSON object"));
        }
        // U+0000 is valid JSON (`"\u0000"`) but PostgreSQL text cannot hold it (the request
        // failed with a 500 there) and no SCIM value needs it: refused alike on every backend
        // (issue 8, tests/badinput).
        if text.contains("\\u0000") && has_nul(&value) {
            return Err(ApiError(ScimError::invalid_value(
                "request body contains the NUL character (\\u0000), which no SCIM value may contain",
            )));
        }
        Ok(Self(value))
    }
}

/// Parses JSON like `serde_json::from_str`, but refuses an object with the same key twice
/// (RFC 8259 §4: names SHOULD be unique). Parsers disagree on which duplicate wins, so
/// `{"userName": "a", "userName": "b"}` meant different things to a proxy and to scimd; it is
/// now a 400 (issue 8). serde_json's nesting limit (128) still applies.
pub fn parse_strict(text: &str) -> Result<Value, serde_json::Error> {
    use serde::Deserialize;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue::deserialize(&mut de)?.0;
    de.end()?;
    Ok(value)
}

struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As serde_json's own `Value` does (a non-finite number cannot be parsed anyway).
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|v: StrictValue| v.0)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            obj.insert(key, v);
        }
        Ok(Value::Object(obj))
    }
}

/// True when a string or key anywhere in `v` contains U+0000.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(obj) => obj.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod strict_json_tests {
    use super::parse_strict;
    use serde_json::json;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth_and_the_rest_parses_as_serde_json() {
        for dup in [r#"{"a":1,"a":2}"#, r#"{"x":{"b":1,"b":1}}"#, r#"[{"c":[{"d":0,"d":0}]}]"#] {
            let e = parse_strict(dup).expect_err(dup).to_string();
            assert!(e.contains("duplicate key"), "{e}");
        }
        let text = r#"{"a":[1,-2,3.5,1e300,true,null,"s",{"b":{}}],"B":"x","b":""}"#;
        assert_eq!(parse_strict(text).expect("valid"), serde_json::from_str::<serde_json::Value>(text).expect("valid"));
        assert_eq!(parse_strict(" {} ").expect("valid"), json!({}));
        for bad in ["", "{} {}", "[1,]", "1e999", &format!("{}{}", "[".repeat(200), "]".repeat(200))] {
            assert!(parse_strict(bad).is_err(), "{bad}");
        }
    }
}
