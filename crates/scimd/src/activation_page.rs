//! The activation page (product.md §2.1): `GET /activate?code=…` shows a form with the code
//! filled in; `POST /activate` redeems it.
//!
//! - **GET never redeems.** Mail security scanners open every link of an incoming message;
//!   if opening the link activated the account, the scanner would activate it. The person
//!   presses the button (a plain HTML form: no JavaScript, no inline script, and a CSP that
//!   forbids scripts altogether).
//! - `POST /activate` takes the form field `code` and answers with an HTML page, or JSON
//!   `{"code": …}` (`Content-Type: application/json`) and answers with JSON.
//! - Refusals are 4xx and change nothing: 404 unknown or used code, 410 expired, 403 blocked
//!   user, 400 no code, 429 too many attempts from one client address.
//! - Redemptions are rate-limited per client IP address (GCRA, `governor`). Behind a reverse
//!   proxy every request shares the proxy's address; size the limit accordingly.
//! - Pages are in English or French, from `Accept-Language`.

use crate::activation::hash_code;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::activation::RedeemError;
use domain::ports::{Store, StoreError};
use governor::{Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Largest request body accepted (a code is 32 characters).
const MAX_BODY: usize = 16 * 1024;
/// Longest code looked at; anything longer is not a code.
const MAX_CODE_LEN: usize = 256;
/// Clients tracked before forgetting idle ones (memory bound under a scan from many addresses).
const MAX_TRACKED_CLIENTS: usize = 10_000;

type IpLimiter = RateLimiter<
    IpAddr,
    governor::state::keyed::HashMapStateStore<IpAddr>,
    governor::clock::DefaultClock,
    governor::middleware::NoOpMiddleware,
>;

/// Redemptions allowed per client address.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Clone)]
struct PageState {
    store: Arc<dyn Store>,
    limiter: Arc<IpLimiter>,
}

/// The `/activate` routes, with their own state (they need only the store and the limiter).
pub fn router(store: Arc<dyn Store>, rate: RateLimit) -> Router {
    let per_minute = NonZeroU32::new(rate.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let limiter = Arc::new(RateLimiter::hashmap(Quota::per_minute(per_minute).allow_burst(burst)));
    Router::new().route("/activate", get(show).post(redeem)).with_state(PageState { store, limiter })
}

#[derive(serde::Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

async fn show(headers: HeaderMap, Query(q): Query<CodeQuery>) -> Response {
    let t = texts(&headers);
    let code = q.code.as_deref().map(normalize_code).unwrap_or_default();
    html(StatusCode::OK, t, t.title, None, &form(t, &code))
}

/// Accepts what people paste: surrounding spaces, upper case, or the whole link.
fn normalize_code(raw: &str) -> String {
    let raw = raw.trim();
    let raw = raw.rsplit_once("code=").map_or(raw, |(_, c)| c);
    raw.split('&').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// How the client wants its answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
}

async fn redeem(State(state): State<PageState>, req: Request) -> Response {
    let client =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let (parts, body) = req.into_parts();
    let t = texts(&parts.headers);
    let format = if parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"))
    {
        Format::Json
    } else {
        Format::Html
    };

    if state.limiter.len() > MAX_TRACKED_CLIENTS {
        state.limiter.retain_recent();
    }
    if let Err(not_until) = state.limiter.check_key(&client) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        let secs = wait.as_secs().max(1);
        tracing::warn!(%client, "activation attempts rate-limited");
        let mut resp = refusal(format, t, StatusCode::TOO_MANY_REQUESTS, "rate_limited", t.rate_limited, "");
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }

    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return refusal(format, t, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", t.no_code, ""),
    };
    let code = match format {
        Format::Json => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(normalize_code)),
        Format::Html => form_urlencoded::parse(&body).find(|(k, _)| k == "code").map(|(_, v)| normalize_code(&v)),
    }
    .filter(|c| !c.is_empty());
    let Some(code) = code else {
        return refusal(format, t, StatusCode::BAD_REQUEST, "invalid_request", t.no_code, "");
    };
    if code.len() > MAX_CODE_LEN {
        return refusal(format, t, StatusCode::NOT_FOUND, "unknown_code", t.unknown, "");
    }

    match state.store.redeem_activation(&hash_code(&code), domain::now()).await {
        Ok(Ok(user)) => {
            tracing::info!(user_id = %user.id, service = user.service.0, "account activated");
            match format {
                Format::Json => json(
                    StatusCode::OK,
                    serde_json::json!({"status": "activated", "userName": user.user_name, "id": user.id}),
                ),
                Format::Html => {
                    let msg = t.activated.replace("{login}", &mail::template::html_escape(&user.user_name));
                    html(StatusCode::OK, t, t.done_title, Some(Notice::Success(&msg)), "")
                }
            }
        }
        Ok(Err(refused)) => {
            let (status, key, text) = match refused {
                RedeemError::Unknown => (StatusCode::NOT_FOUND, "unknown_code", t.unknown),
                RedeemError::Expired => (StatusCode::GONE, "expired_code", t.expired),
                RedeemError::Blocked => (StatusCode::FORBIDDEN, "blocked", t.blocked),
            };
            tracing::info!(%client, reason = key, "activation refused");
            // Unknown and expired codes offer the form again (a mistyped code can be fixed).
            let again = if refused == RedeemError::Blocked { String::new() } else { form(t, "") };
            refusal(format, t, status, key, text, &again)
        }
        Err(e) => {
            let status = match e {
                StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            tracing::error!(error = %e, "activation failed");
            refusal(format, t, status, "unavailable", t.unavailable, "")
        }
    }
}

fn refusal(format: Format, t: &Texts, status: StatusCode, key: &str, text: &str, extra: &str) -> Response {
    match format {
        Format::Json => json(status, serde_json::json!({"error": key, "message": text})),
        Format::Html => html(status, t, t.title, Some(Notice::Error(text)), extra),
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

enum Notice<'a> {
    Success(&'a str),
    Error(&'a str),
}

fn form(t: &Texts, code: &str) -> String {
    format!(
        r#"<form method="post" action="activate">
<label for="code">{label}</label>
<input id="code" name="code" type="text" value="{code}" autocomplete="off" spellcheck="false" required maxlength="{MAX_CODE_LEN}">
<button type="submit">{button}</button>
</form>"#,
        label = t.label,
        code = mail::template::html_escape(code),
        button = t.button,
    )
}

const STYLE: &str = "body{margin:0;padding:32px 16px;background:#f4f5f7;font-family:system-ui,Arial,sans-serif;\
color:#1f2328}main{max-width:480px;margin:0 auto;background:#fff;border-radius:8px;padding:32px}\
h1{font-size:1.4rem;margin:0 0 16px}label{display:block;margin:16px 0 8px}\
input{box-sizing:border-box;width:100%;padding:10px;font:inherit;font-family:monospace;border:1px solid #8c959f;\
border-radius:6px}button{margin-top:16px;padding:10px 20px;font:inherit;color:#fff;background:#0b5cad;border:0;\
border-radius:6px;cursor:pointer}.ok{padding:12px;background:#dafbe1;border-radius:6px}\
.err{padding:12px;background:#ffebe9;border-radius:6px}";

/// A whole page. Every dynamic value reaching here is escaped by the caller.
fn html(status: StatusCode, t: &Texts, title: &str, notice: Option<Notice<'_>>, body: &str) -> Response {
    let notice = match notice {
        Some(Notice::Success(m)) => format!(r#"<p class="ok" role="status">{m}</p>"#),
        Some(Notice::Error(m)) => format!(r#"<p class="err" role="alert">{m}</p>"#),
        None => format!("<p>{}</p>", t.intro),
    };
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{title}</h1>
{notice}
{body}
</main>
</body>
</html>
"#,
        lang = t.lang,
    );
    let mut resp = (status, page).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // No scripts at all; the page posts only to itself and cannot be framed.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    // The URL holds the code: never send it on as a Referer, never cache it.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// The page's words in one language.
struct Texts {
    lang: &'static str,
    title: &'static str,
    done_title: &'static str,
    intro: &'static str,
    label: &'static str,
    button: &'static str,
    /// `{login}` is replaced by the (escaped) login.
    activated: &'static str,
    unknown: &'static str,
    expired: &'static str,
    blocked: &'static str,
    no_code: &'static str,
    rate_limited: &'static str,
    unavailable: &'static str,
}

const EN: Texts = Texts {
    lang: "en",
    title: "Activate your account",
    done_title: "Account activated",
    intro: "Press the button to activate your account.",
    label: "Activation code",
    button: "Activate my account",
    activated: "Your account {login} is activated. You can close this page.",
    unknown: "This activation code is not valid. It may have been used already, or replaced by a newer activation \
              email.",
    expired: "This activation code has expired. Ask your administrator to send you a new activation email.",
    blocked: "This account is blocked and cannot be activated. Ask your administrator.",
    no_code: "Enter the activation code from your email.",
    rate_limited: "Too many attempts from your address. Wait a minute and try again.",
    unavailable: "The service cannot activate accounts right now. Try again in a few minutes.",
};

const FR: Texts = Texts {
    lang: "fr",
    title: "Activez votre compte",
    done_title: "Compte activé",
    intro: "Appuyez sur le bouton pour activer votre compte.",
    label: "Code d'activation",
    button: "Activer mon compte",
    activated: "Votre compte {login} est activé. Vous pouvez fermer cette page.",
    unknown: "Ce code d'activation n'est pas valide. Il a peut-être déjà été utilisé, ou remplacé par un message \
              d'activation plus récent.",
    expired: "Ce code d'activation a expiré. Demandez à votre administrateur de vous envoyer un nouveau message \
              d'activation.",
    blocked: "Ce compte est bloqué et ne peut pas être activé. Contactez votre administrateur.",
    no_code: "Saisissez le code d'activation reçu par e-mail.",
    rate_limited: "Trop de tentatives depuis votre adresse. Attendez une minute et réessayez.",
    unavailable: "Le service ne peut pas activer de compte pour le moment. Réessayez dans quelques minutes.",
};

/// French when the browser's first language is French, English otherwise.
fn texts(headers: &HeaderMap) -> &'static Texts {
    let first = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|tag| tag.split(';').next().unwrap_or_default().trim());
    match mail::Language::from_tag(first) {
        mail::Language::Fr => &FR,
        mail::Language::En => &EN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalized() {
        assert_eq!(normalize_code("  ABCdef01 "), "abcdef01");
        assert_eq!(normalize_code("https://mfa.example.com/activate?code=abc123&x=1"), "abc123");
        assert_eq!(normalize_code(""), "");
    }

    #[test]
    fn the_form_escapes_the_code() {
        let f = form(&EN, "\"><script>x</script>");
        assert!(!f.contains("<script>"), "{f}");
        assert!(f.contains("value=\"&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn language_follows_accept_language() {
        let mut h = HeaderMap::new();
        assert_eq!(texts(&h).lang, "en");
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr-CA,fr;q=0.9,en;q=0.8"));
        assert_eq!(texts(&h).lang, "fr");
    }
}
