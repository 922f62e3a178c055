//! Console pages and form handlers.

use super::{Admin, ConsoleState, cookie, csrf_ok, login_cookie_name, render, secure, session_cookie_name, set_cookie};
use crate::admin_api::{group_page, issue_token, log_query, member_page};
use crate::admin_ops::{self, AdminError, DEFAULT_PAGE, UserFields, UserSearch};
use askama::Template;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::service::{Service, ServiceId, UnknownAttributesPolicy};
use domain::user::{ProvisioningSource, User, UserStatus};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

// --- shared page parts -------------------------------------------------------------------------

/// What every signed-in page shows around its content.
pub struct Nav {
    pub admin: String,
    pub csrf: String,
    pub service: Option<(i64, String)>,
    /// The active tab: `dashboard`, `users`, `groups`, `deleted`, `settings`, `tokens`, `log`.
    pub tab: &'static str,
    /// A confirmation of the last action.
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Nav {
    fn new(admin: &Admin, service: Option<&Service>, tab: &'static str) -> Self {
        Self {
            admin: admin.name().to_owned(),
            csrf: admin.csrf().to_owned(),
            service: service.map(|s| (s.id.0, s.name.clone())),
            tab,
            notice: None,
            error: None,
        }
    }
    fn with_notice(mut self, done: Option<&str>) -> Self {
        self.notice = done.and_then(notice_text).map(str::to_owned);
        self
    }
}

/// Confirmations after a redirect (`?done=…`): fixed texts, so nothing from the URL is shown.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "blocked" => "The user is blocked (reason: admin).",
        "unblocked" => "The reason admin was removed.",
        "resent" => "A new activation email is queued; the previous link no longer works.",
        "deleted" => "The user was deleted.",
        "created" => "The user was created.",
        "saved" => "Saved.",
        "revoked" => "The token was revoked; it stops working at once.",
        _ => return None,
    })
}

/// Formats a time for people: `2026-11-28 15:52 UTC`.
pub fn when(t: domain::Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

fn when_opt(t: Option<domain::Timestamp>) -> String {
    t.map(when).unwrap_or_else(|| "—".to_owned())
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page with a title and a sentence (errors, refusals).
pub fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &MessagePage { title, message })
}

pub fn store_error_page(e: AdminError) -> Response {
    message_page(e.status, "Something went wrong", &e.message)
}

fn error_page(e: AdminError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Refused",
        StatusCode::BAD_REQUEST => "Invalid value",
        _ => "Something went wrong",
    };
    message_page(e.status, title, &e.message)
}

pub async fn not_found() -> Response {
    message_page(StatusCode::NOT_FOUND, "Not found", "There is no console page at this address.")
}

async fn service(state: &ConsoleState, sid: i64) -> Result<Service, Response> {
    match state.app.store.service_by_id(ServiceId(sid)).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(message_page(StatusCode::NOT_FOUND, "Not found", "There is no such service.")),
        Err(e) => Err(store_error_page(e.into())),
    }
}

fn see_other(url: &str) -> Response {
    Redirect::to(url).into_response()
}

fn client_ip(connect: Option<&axum::Extension<ConnectInfo<SocketAddr>>>) -> IpAddr {
    connect.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip())
}

// --- status badges ---------------------------------------------------------------------------

/// A user as a list row or detail header shows it.
pub struct UserRow {
    pub id: String,
    pub login: String,
    pub name: String,
    pub email: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub blocked: bool,
    pub reasons: Vec<String>,
    pub source: &'static str,
}

fn status_label(s: UserStatus) -> &'static str {
    match s {
        UserStatus::PendingActivation => "pending activation",
        UserStatus::Activated => "activated",
        UserStatus::NotActivated => "not activated",
        UserStatus::ActivationExpired => "activation expired",
    }
}

impl UserRow {
    fn of(u: &User) -> Self {
        let status = u.effective_status(domain::now());
        let name = u
            .profile
            .display_name
            .clone()
            .or_else(|| {
                let parts: Vec<&str> =
                    [u.profile.given_name.as_deref(), u.profile.family_name.as_deref()].into_iter().flatten().collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
            .unwrap_or_default();
        Self {
            id: u.id.clone(),
            login: u.user_name.clone(),
            name,
            email: u.profile.email.clone().unwrap_or_default(),
            status: status.as_str(),
            status_label: status_label(status),
            blocked: u.blocked(),
            reasons: u.block_reasons.iter().map(ToString::to_string).collect(),
            source: u.source.as_str(),
        }
    }
}

// --- sign-in -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
    name: String,
}

fn login_page(state: &ConsoleState, status: StatusCode, error: Option<String>, name: String) -> Response {
    let token = crate::admin_auth::new_token();
    let is_secure = secure(&state.app);
    let mut resp = render(status, &LoginPage { csrf: token.clone(), error, name });
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(login_cookie_name(is_secure), &token, 3600, is_secure));
    resp
}

pub async fn login_form(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    // Already signed in: straight to the services.
    if let Some(id) = cookie(&headers, session_cookie_name(secure(&state.app)))
        && let Ok(Some(_)) = crate::admin_auth::live_session(state.app.store.as_ref(), &id).await
    {
        return see_other("/console");
    }
    login_page(&state, StatusCode::OK, None, String::new())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(
    State(state): State<ConsoleState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let is_secure = secure(&state.app);
    let expected = cookie(&headers, login_cookie_name(is_secure)).unwrap_or_default();
    if !csrf_ok(&expected, &form.csrf) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired. Please try again.".into()),
            form.name,
        );
    }
    let ip = client_ip(connect.as_ref());
    if let Err(wait) = state.sign_in.check(ip, form.name.trim()) {
        tracing::warn!(%ip, name = %form.name, "console sign-in rate-limited");
        let mut resp = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some(format!("Too many sign-in attempts. Wait {wait} seconds and try again.")),
            form.name,
        );
        if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let password: String = form.password.chars().take(crate::admin_auth::MAX_PASSWORD_LEN).collect();
    match crate::admin_auth::authenticate(state.app.store.as_ref(), form.name.trim(), &password).await {
        Ok(Some(admin)) => match crate::admin_auth::open_session(state.app.store.as_ref(), &admin).await {
            Ok(id) => {
                tracing::info!(admin = %admin.name, %ip, "console sign-in");
                let mut resp = see_other("/console");
                let h = resp.headers_mut();
                let max_age = domain::admin::SESSION_LIFETIME.whole_seconds();
                h.append(header::SET_COOKIE, set_cookie(session_cookie_name(is_secure), &id, max_age, is_secure));
                h.append(header::SET_COOKIE, set_cookie(login_cookie_name(is_secure), "", 0, is_secure));
                resp
            }
            Err(e) => store_error_page(e.into()),
        },
        Ok(None) => {
            tracing::warn!(%ip, name = %form.name, "console sign-in failed");
            login_page(&state, StatusCode::UNAUTHORIZED, Some("Wrong name or password.".into()), form.name)
        }
        Err(e) => store_error_page(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(State(state): State<ConsoleState>, admin: Admin, Form(form): Form<CsrfForm>) -> Response {
    if let Some(r) = admin.csrf_refusal(&form.csrf) {
        return r;
    }
    if let Err(e) = state.app.store.delete_session(&admin.session.id_hash).await {
        return store_error_page(e.into());
    }
    tracing::info!(admin = %admin.name(), "console sign-out");
    let is_secure = secure(&state.app);
    let mut resp = see_other("/console/login");
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(session_cookie_name(is_secure), "", 0, is_secure));
    resp
}

// --- services and dashboard --------------------------------------------------------------------

pub struct ServiceRow {
    pub id: i64,
    pub name: String,
    pub users: u64,
    pub blocked: u64,
    pub created: String,
}

#[derive(Template)]
#[template(path = "console/services.html")]
struct ServicesPage {
    nav: Nav,
    services: Vec<ServiceRow>,
}

pub async fn services(State(state): State<ConsoleState>, admin: Admin) -> Response {
    let list = match state.app.store.list_services().await {
        Ok(l) => l,
        Err(e) => return store_error_page(e.into()),
    };
    let mut rows = Vec::with_capacity(list.len());
    for s in list {
        let counts = match state.app.store.user_counts(s.id, domain::now()).await {
            Ok(c) => c,
            Err(e) => return store_error_page(e.into()),
        };
        rows.push(ServiceRow {
            id: s.id.0,
            name: s.name,
            users: counts.total,
            blocked: counts.blocked,
            created: when(s.created),
        });
    }
    render(StatusCode::OK, &ServicesPage { nav: Nav::new(&admin, None, "services"), services: rows })
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    total: u64,
    blocked: u64,
    by_status: Vec<(&'static str, &'static str, u64)>,
    groups: u64,
    deleted_groups: usize,
    last_request: String,
    requests: u64,
    errors: u64,
    error_rate: String,
    tenant_url: String,
}

pub async fn dashboard(State(state): State<ConsoleState>, admin: Admin, Path(sid): Path<i64>) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = &state.app.store;
    let now = domain::now();
    let result = async {
        let counts = store.user_counts(svc.id, now).await?;
        let groups = store
            .query_groups(
                svc.id,
                &domain::query::Query {
                    condition: domain::query::Condition::True,
                    sort: None,
                    page: Some(domain::query::PageRequest { offset: 0, limit: 1 }),
                },
            )
            .await?
            .total;
        let tombstones = store.list_tombstones(svc.id).await?.len();
        let stats = store.log_stats(svc.id, now - time::Duration::DAY).await?;
        Ok::<_, domain::ports::StoreError>((counts, groups, tombstones, stats))
    }
    .await;
    let (counts, groups, deleted_groups, stats) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e.into()),
    };
    let by_status = UserStatus::ALL
        .into_iter()
        .map(|s| {
            let n = counts.by_status.iter().filter(|(st, _)| *st == s).map(|(_, n)| *n).sum();
            (s.as_str(), status_label(s), n)
        })
        .collect();
    let error_rate = if stats.requests == 0 {
        "—".to_owned()
    } else {
        format!("{:.1} %", stats.errors as f64 * 100.0 / stats.requests as f64)
    };
    render(
        StatusCode::OK,
        &DashboardPage {
            nav: Nav::new(&admin, Some(&svc), "dashboard"),
            total: counts.total,
            blocked: counts.blocked,
            by_status,
            groups,
            deleted_groups,
            last_request: when_opt(stats.last_request),
            requests: stats.requests,
            errors: stats.errors,
            error_rate,
            tenant_url: state.app.settings.tenant_url(),
        },
    )
}

// --- users -------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    q: Option<String>,
    status: Option<String>,
    blocked: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    nav: Nav,
    q: String,
    status: String,
    blocked: String,
    statuses: Vec<(&'static str, &'static str)>,
    users: Vec<UserRow>,
    /// Query string of the next page, when there is one.
    next: Option<String>,
    first_page: bool,
}

pub async fn users(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Query(q): Query<UsersQuery>,
) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let status = q.status.as_deref().filter(|s| !s.is_empty()).and_then(|s| s.parse::<UserStatus>().ok());
    let blocked = match q.blocked.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let search = UserSearch { text: q.q.clone(), status, blocked };
    let (list, next) = match admin_ops::list_users(&state.app, &svc, &search, q.after.as_deref(), DEFAULT_PAGE).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let text = q.q.clone().unwrap_or_default();
    let status_text = status.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let blocked_text = q.blocked.clone().filter(|b| b == "yes" || b == "no").unwrap_or_default();
    let next = next.map(|after| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &text)
            .append_pair("status", &status_text)
            .append_pair("blocked", &blocked_text)
            .append_pair("after", &after)
            .finish()
    });
    render(
        StatusCode::OK,
        &UsersPage {
            nav: Nav::new(&admin, Some(&svc), "users").with_notice(q.done.as_deref()),
            q: text,
            status: status_text,
            blocked: blocked_text,
            statuses: UserStatus::ALL.into_iter().map(|s| (s.as_str(), status_label(s))).collect(),
            users: list.iter().map(UserRow::of).collect(),
            next,
            first_page: q.after.as_deref().is_none_or(str::is_empty),
        },
    )
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
struct NewUserPage {
    nav: Nav,
    form: UserForm,
    send_activation_email: bool,
}

#[derive(Deserialize, Default, Clone)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    external_id: String,
}

impl UserForm {
    fn fields(&self) -> UserFields {
        UserFields {
            user_name: Some(self.user_name.clone()),
            external_id: Some(self.external_id.clone()),
            email: Some(self.email.clone()),
            display_name: Some(self.display_name.clone()),
            given_name: Some(self.given_name.clone()),
            family_name: Some(self.family_name.clone()),
        }
    }
}

pub async fn new_user_form(State(state): State<ConsoleState>, admin: Admin, Path(sid): Path<i64>) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &NewUserPage {
            nav: Nav::new(&admin, Some(&svc), "users"),
            form: UserForm::default(),
            send_activation_email: svc.params.send_activation_email,
        },
    )
}

pub async fn create_user(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Form(form): Form<UserForm>,
) -> Response {
    if let Some(r) = admin.csrf_refusal(&form.csrf) {
        return r;
    }
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match admin_ops::create_user(&state.app, &svc, form.fields(), ProvisioningSource::Console).await {
        Ok(user) => see_other(&format!("/console/services/{sid}/users/{}?done=created", user.id)),
        Err(e) => {
            let mut nav = Nav::new(&admin, Some(&svc), "users");
            nav.error = Some(e.message);
            render(
                StatusCode::BAD_REQUEST,
                &NewUserPage { nav, form, send_activation_email: svc.params.send_activation_email },
            )
        }
    }
}

pub struct LogRow {
    pub time: String,
    pub request_id: String,
    pub method: String,
    pub resource: String,
    pub operation: String,
    pub status: u16,
    pub failed: bool,
    pub detail: String,
    pub warnings: Vec<String>,
}

impl LogRow {
    fn of(e: &domain::audit::StoredLogEntry) -> Self {
        let x = &e.entry;
        Self {
            time: when(x.time),
            request_id: x.request_id.clone(),
            method: x.method.clone(),
            resource: match &x.resource_id {
                Some(id) => format!("{}/{id}", x.resource_type),
                None => x.resource_type.clone(),
            },
            operation: x.operation.clone(),
            status: x.status,
            failed: x.status >= 400,
            detail: x.error_detail.clone().unwrap_or_default(),
            warnings: x.warnings.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    nav: Nav,
    user: UserRow,
    managed_by_scim: bool,
    external_id: String,
    active: bool,
    given_name: String,
    family_name: String,
    display_name: String,
    activation_expires: String,
    created: String,
    last_modified: String,
    attributes: String,
    groups: Vec<(String, String)>,
    log: Vec<LogRow>,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn user(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, uid)): Path<(i64, String)>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = match admin_ops::get_user(&state.app, &svc, &uid).await {
        Ok(u) => u,
        Err(e) => return error_page(e),
    };
    let result = async {
        let groups = state.app.store.user_groups(svc.id, &uid).await?;
        let log = state
            .app
            .store
            .query_log(
                svc.id,
                &domain::audit::LogQuery { resource_id: Some(uid.clone()), limit: 50, ..Default::default() },
            )
            .await?;
        Ok::<_, domain::ports::StoreError>((groups, log))
    }
    .await;
    let (groups, log) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e.into()),
    };
    render(
        StatusCode::OK,
        &UserPage {
            nav: Nav::new(&admin, Some(&svc), "users").with_notice(q.done.as_deref()),
            managed_by_scim: user.source == ProvisioningSource::Scim,
            external_id: user.external_id.clone().unwrap_or_default(),
            active: user.active,
            given_name: user.profile.given_name.clone().unwrap_or_default(),
            family_name: user.profile.family_name.clone().unwrap_or_default(),
            display_name: user.profile.display_name.clone().unwrap_or_default(),
            activation_expires: when_opt(
                user.activation_expires_at.filter(|_| user.status == UserStatus::PendingActivation),
            ),
            created: when(user.created),
            last_modified: when(user.last_modified),
            attributes: serde_json::to_string_pretty(&user.attributes).unwrap_or_default(),
            groups,
            log: log.iter().map(LogRow::of).collect(),
            user: UserRow::of(&user),
        },
    )
}

/// Runs an action on a user after the CSRF check, then back to the user page (or the list).
async fn user_action<F, Fut>(
    state: ConsoleState,
    admin: Admin,
    sid: i64,
    uid: String,
    csrf: &str,
    done: &str,
    f: F,
) -> Response
where
    F: FnOnce(ConsoleState, Service, String) -> Fut,
    Fut: std::future::Future<Output = Result<User, AdminError>>,
{
    if let Some(r) = admin.csrf_refusal(csrf) {
        return r;
    }
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    tracing::info!(admin = %admin.name(), service = %svc.name, user_id = %uid, action = done, "console action");
    match f(state, svc, uid.clone()).await {
        Ok(_) if done == "deleted" => see_other(&format!("/console/services/{sid}/users?done=deleted")),
        Ok(_) => see_other(&format!("/console/services/{sid}/users/{uid}?done={done}")),
        Err(e) => error_page(e),
    }
}

pub async fn block_user(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, uid)): Path<(i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    user_action(state, admin, sid, uid, &form.csrf, "blocked", |st, svc, id| async move {
        admin_ops::set_admin_block(&st.app, &svc, &id, true).await
    })
    .await
}

pub async fn unblock_user(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, uid)): Path<(i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    user_action(state, admin, sid, uid, &form.csrf, "unblocked", |st, svc, id| async move {
        admin_ops::set_admin_block(&st.app, &svc, &id, false).await
    })
    .await
}

pub async fn resend_activation(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, uid)): Path<(i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    user_action(state, admin, sid, uid, &form.csrf, "resent", |st, svc, id| async move {
        admin_ops::resend_activation(&st.app, &svc, &id).await
    })
    .await
}

pub async fn delete_user(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, uid)): Path<(i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    user_action(state, admin, sid, uid, &form.csrf, "deleted", |st, svc, id| async move {
        admin_ops::delete_user(&st.app, &svc, &id).await
    })
    .await
}

pub async fn edit_user(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, uid)): Path<(i64, String)>,
    Form(form): Form<UserForm>,
) -> Response {
    let csrf = form.csrf.clone();
    user_action(state, admin, sid, uid, &csrf, "saved", |st, svc, id| async move {
        admin_ops::update_user(&st.app, &svc, &id, form.fields()).await
    })
    .await
}

// --- groups ------------------------------------------------------------------------------------

pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub external_id: String,
    pub members: u64,
    pub modified: String,
}

#[derive(Deserialize, Default)]
pub struct GroupsQuery {
    q: Option<String>,
    offset: Option<u64>,
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct GroupsPage {
    nav: Nav,
    q: String,
    groups: Vec<GroupRow>,
    total: u64,
    prev: Option<String>,
    next: Option<String>,
}

fn page_links(base: &[(&str, &str)], offset: u64, shown: u64, total: u64) -> (Option<String>, Option<String>) {
    let link = |o: u64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in base {
            s.append_pair(k, v);
        }
        s.append_pair("offset", &o.to_string()).finish()
    };
    let prev = (offset > 0).then(|| link(offset.saturating_sub(DEFAULT_PAGE)));
    let next = (offset + shown < total).then(|| link(offset + shown));
    (prev, next)
}

pub async fn groups(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Query(q): Query<GroupsQuery>,
) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let offset = q.offset.unwrap_or(0);
    let (items, total) = match group_page(&state.app, &svc, q.q.as_deref(), offset, DEFAULT_PAGE).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let text = q.q.unwrap_or_default();
    let (prev, next) = page_links(&[("q", &text)], offset, items.len() as u64, total);
    let groups = items
        .into_iter()
        .map(|(g, n)| GroupRow {
            id: g.id,
            name: g.display_name,
            external_id: g.external_id.unwrap_or_default(),
            members: n,
            modified: when(g.last_modified),
        })
        .collect();
    render(
        StatusCode::OK,
        &GroupsPage { nav: Nav::new(&admin, Some(&svc), "groups"), q: text, groups, total, prev, next },
    )
}

#[derive(Template)]
#[template(path = "console/group.html")]
struct GroupPage {
    nav: Nav,
    id: String,
    name: String,
    external_id: String,
    total: u64,
    members: Vec<(String, Option<UserRow>)>,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct OffsetQuery {
    offset: Option<u64>,
}

pub async fn group(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, gid)): Path<(i64, String)>,
    Query(q): Query<OffsetQuery>,
) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let offset = q.offset.unwrap_or(0);
    let (group, members, total) = match member_page(&state.app, &svc, &gid, offset, DEFAULT_PAGE).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let (prev, next) = page_links(&[], offset, members.len() as u64, total);
    render(
        StatusCode::OK,
        &GroupPage {
            nav: Nav::new(&admin, Some(&svc), "groups"),
            id: group.id,
            name: group.display_name,
            external_id: group.external_id.unwrap_or_default(),
            total,
            members: members.into_iter().map(|(id, u)| (id, u.as_ref().map(UserRow::of))).collect(),
            prev,
            next,
        },
    )
}

pub struct TombstoneRow {
    pub id: String,
    pub name: String,
    pub external_id: String,
    pub deleted: String,
    /// Up to 20 blocked members (id, login).
    pub blocked: Vec<(String, String)>,
    pub blocked_total: usize,
}

#[derive(Template)]
#[template(path = "console/deleted_groups.html")]
struct DeletedGroupsPage {
    nav: Nav,
    tombstones: Vec<TombstoneRow>,
}

/// Blocked members listed per deleted group (the total is always shown).
const SHOWN_BLOCKED: usize = 20;

pub async fn deleted_groups(State(state): State<ConsoleState>, admin: Admin, Path(sid): Path<i64>) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let tombstones = match state.app.store.list_tombstones(svc.id).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e.into()),
    };
    let mut rows = Vec::with_capacity(tombstones.len());
    for t in tombstones {
        let shown: Vec<&String> = t.member_ids.iter().take(SHOWN_BLOCKED).collect();
        let mut blocked = Vec::with_capacity(shown.len());
        for id in shown {
            let login = match state.app.store.get_user(svc.id, id).await {
                Ok(Some(u)) => u.user_name,
                Ok(None) => String::new(),
                Err(e) => return store_error_page(e.into()),
            };
            blocked.push((id.clone(), login));
        }
        rows.push(TombstoneRow {
            id: t.group_id,
            name: t.display_name,
            external_id: t.external_id.unwrap_or_default(),
            deleted: when(t.deleted),
            blocked,
            blocked_total: t.member_ids.len(),
        });
    }
    render(StatusCode::OK, &DeletedGroupsPage { nav: Nav::new(&admin, Some(&svc), "deleted"), tombstones: rows })
}

// --- service parameters ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    nav: Nav,
    tenant_url: String,
    send_activation_email: bool,
    ignore_unknown: bool,
    adopt_existing_users: bool,
    login_max_length: String,
    login_extra_chars: String,
    group_name_max_length: String,
    log_retention_days: String,
}

fn settings_page(state: &ConsoleState, nav: Nav, p: &domain::service::ServiceParams, status: StatusCode) -> Response {
    render(
        status,
        &SettingsPage {
            nav,
            tenant_url: state.app.settings.tenant_url(),
            send_activation_email: p.send_activation_email,
            ignore_unknown: p.unknown_attributes == UnknownAttributesPolicy::Ignore,
            adopt_existing_users: p.adopt_existing_users,
            login_max_length: p.login_max_length.to_string(),
            login_extra_chars: p.login_extra_chars.clone(),
            group_name_max_length: p.group_name_max_length.to_string(),
            log_retention_days: p.log_retention_days.to_string(),
        },
    )
}

pub async fn settings(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let nav = Nav::new(&admin, Some(&svc), "settings").with_notice(q.done.as_deref());
    settings_page(&state, nav, &svc.params, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    /// Checkboxes: present when ticked.
    send_activation_email: Option<String>,
    adopt_existing_users: Option<String>,
    #[serde(default)]
    unknown_attributes: String,
    #[serde(default)]
    login_max_length: String,
    #[serde(default)]
    login_extra_chars: String,
    #[serde(default)]
    group_name_max_length: String,
    #[serde(default)]
    log_retention_days: String,
}

pub async fn save_settings(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Form(form): Form<SettingsForm>,
) -> Response {
    if let Some(r) = admin.csrf_refusal(&form.csrf) {
        return r;
    }
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let changes = vec![
        ("send_activation_email".to_owned(), form.send_activation_email.is_some().to_string()),
        ("adopt_existing_users".to_owned(), form.adopt_existing_users.is_some().to_string()),
        ("unknown_attributes".to_owned(), form.unknown_attributes.trim().to_owned()),
        ("login_max_length".to_owned(), form.login_max_length.trim().to_owned()),
        ("login_extra_chars".to_owned(), form.login_extra_chars.clone()),
        ("group_name_max_length".to_owned(), form.group_name_max_length.trim().to_owned()),
        ("log_retention_days".to_owned(), form.log_retention_days.trim().to_owned()),
    ];
    match admin_ops::set_params(&state.app, &svc, &changes).await {
        Ok(_) => {
            tracing::info!(admin = %admin.name(), service = %svc.name, "service parameters saved in the console");
            see_other(&format!("/console/services/{sid}/settings?done=saved"))
        }
        Err(e) => {
            let mut nav = Nav::new(&admin, Some(&svc), "settings");
            nav.error = Some(e.message);
            settings_page(&state, nav, &svc.params, StatusCode::BAD_REQUEST)
        }
    }
}

// --- tokens ------------------------------------------------------------------------------------

pub struct TokenRow {
    pub id: i64,
    pub scope: &'static str,
    pub prefix: String,
    pub description: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub revoked: String,
    pub usable: bool,
}

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct TokensPage {
    nav: Nav,
    tokens: Vec<TokenRow>,
    /// A token just created: shown this once.
    created: Option<(String, &'static str)>,
    tenant_url: String,
}

async fn tokens_page(
    state: &ConsoleState,
    nav: Nav,
    svc: &Service,
    created: Option<(String, &'static str)>,
    status: StatusCode,
) -> Response {
    let list = match state.app.store.list_tokens(Some(svc.id)).await {
        Ok(l) => l,
        Err(e) => return store_error_page(e.into()),
    };
    let now = domain::now();
    let tokens = list
        .iter()
        .rev()
        .map(|t| TokenRow {
            id: t.id,
            scope: t.scope.as_str(),
            prefix: t.prefix.clone(),
            description: t.description.clone(),
            created: when(t.created),
            last_used: when_opt(t.last_used),
            expires: t.expires_at.map(when).unwrap_or_else(|| "never".into()),
            revoked: when_opt(t.revoked_at),
            usable: t.is_valid_at(now),
        })
        .collect();
    let mut resp = render(status, &TokensPage { nav, tokens, created, tenant_url: state.app.settings.tenant_url() });
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}

pub async fn tokens(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let nav = Nav::new(&admin, Some(&svc), "tokens").with_notice(q.done.as_deref());
    tokens_page(&state, nav, &svc, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_in_days: String,
    #[serde(default)]
    description: String,
}

pub async fn create_token(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(r) = admin.csrf_refusal(&form.csrf) {
        return r;
    }
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut nav = Nav::new(&admin, Some(&svc), "tokens");
    let days = match form.expires_in_days.trim() {
        "" | "never" => None,
        d => match d.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                nav.error = Some(format!("expiry must be a number of days, got {d:?}"));
                return tokens_page(&state, nav, &svc, None, StatusCode::BAD_REQUEST).await;
            }
        },
    };
    match issue_token(&state.app, &svc, &form.scope, days, &form.description).await {
        Ok((secret, record)) => {
            tracing::info!(admin = %admin.name(), service = %svc.name, token_id = record.id, "token created in the console");
            tokens_page(&state, nav, &svc, Some((secret, record.scope.as_str())), StatusCode::OK).await
        }
        Err(e) => {
            nav.error = Some(e.message);
            tokens_page(&state, nav, &svc, None, StatusCode::BAD_REQUEST).await
        }
    }
}

pub async fn revoke_token(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path((sid, tid)): Path<(i64, i64)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(r) = admin.csrf_refusal(&form.csrf) {
        return r;
    }
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.app.store.revoke_token(Some(svc.id), tid).await {
        Ok(_) => {
            state.app.auth_cache.clear();
            tracing::info!(admin = %admin.name(), service = %svc.name, token_id = tid, "token revoked in the console");
            see_other(&format!("/console/services/{sid}/tokens?done=revoked"))
        }
        Err(domain::ports::StoreError::NotFound) => {
            error_page(AdminError::not_found(format!("no token with id {tid} in this service")))
        }
        Err(e) => store_error_page(e.into()),
    }
}

// --- provisioning log ----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct LogQueryForm {
    outcome: Option<String>,
    resource_type: Option<String>,
    /// A user's login or id.
    user: Option<String>,
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "console/log.html")]
struct LogPage {
    nav: Nav,
    outcome: String,
    resource_type: String,
    user: String,
    entries: Vec<LogRow>,
    next: Option<String>,
}

/// Entries per log page.
const LOG_PAGE: u32 = 100;

pub async fn log(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(sid): Path<i64>,
    Query(q): Query<LogQueryForm>,
) -> Response {
    let svc = match service(&state, sid).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut nav = Nav::new(&admin, Some(&svc), "log");
    let user = q.user.clone().unwrap_or_default().trim().to_owned();
    // A login is looked up; anything else is taken as a user id.
    let resource_id = if user.is_empty() {
        None
    } else {
        let by_login = domain::query::Query {
            condition: domain::query::Condition::Cmp(
                domain::query::UserField::UserName,
                domain::query::Op::Eq,
                domain::query::QueryValue::Text(user.clone()),
            ),
            sort: None,
            page: Some(domain::query::PageRequest { offset: 0, limit: 1 }),
        };
        match state.app.store.query_users_page(svc.id, &by_login).await {
            Ok(found) => Some(found.into_iter().next().map_or_else(|| user.clone(), |u| u.id)),
            Err(e) => return store_error_page(e.into()),
        }
    };
    let outcome = q.outcome.clone().unwrap_or_default();
    let resource_type = q.resource_type.clone().unwrap_or_default();
    let query = match log_query(Some(&outcome), Some(resource_type.clone()), resource_id, q.before, LOG_PAGE) {
        Ok(query) => query,
        Err(e) => {
            nav.error = Some(e.message);
            domain::audit::LogQuery { limit: LOG_PAGE, ..Default::default() }
        }
    };
    let entries = match state.app.store.query_log(svc.id, &query).await {
        Ok(e) => e,
        Err(e) => return store_error_page(e.into()),
    };
    let next = (entries.len() as u32 >= LOG_PAGE).then(|| entries.last().map(|e| e.id)).flatten().map(|before| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("outcome", &outcome)
            .append_pair("resource_type", &resource_type)
            .append_pair("user", &user)
            .append_pair("before", &before.to_string())
            .finish()
    });
    render(
        StatusCode::OK,
        &LogPage { nav, outcome, resource_type, user, entries: entries.iter().map(LogRow::of).collect(), next },
    )
}
