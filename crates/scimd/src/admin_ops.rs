//! What an administrator can do to a service's directory, shared by the console and the admin
//! REST API so that both apply the same rules:
//!
//! - users created here get the provisioning source of their front end (`console`, `api`),
//!   so SCIM writes to them are refused until adopted (product.md §2.4);
//! - attributes of SCIM-managed users are read-only here: Entra ID would overwrite changes;
//! - block and unblock add and remove only the `admin` reason: Entra's `inactive` and group
//!   deletions keep theirs;
//! - listings are keyset pages in login order, so page 1,000 costs what page 1 costs.

use crate::state::AppState;
use axum::http::StatusCode;
use domain::DomainError;
use domain::limits::check_login;
use domain::ports::StoreError;
use domain::query::{Condition, Op, PageRequest, Query, QueryValue, SortDirection, UserField};
use domain::service::Service;
use domain::user::{BlockReason, NewUser, ProvisioningSource, User, UserStatus, decide_activation};
use serde_json::{Map, Value, json};

/// Largest page of a listing.
pub const MAX_PAGE: u64 = 200;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: u64 = 50;

/// A refusal or failure, with an HTTP status, a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<DomainError> for AdminError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidValue(m) => Self::new(StatusCode::BAD_REQUEST, "invalid_value", m),
            DomainError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            DomainError::Owned(m) => Self::new(StatusCode::CONFLICT, "managed_elsewhere", m),
            DomainError::NotFound(m) => Self::not_found(m),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("not found"),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Rule(d) => d.into(),
            StoreError::Unavailable(d) => {
                tracing::error!(error = %d, "database unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is unavailable; retry later")
            }
            StoreError::Internal(d) => {
                tracing::error!(error = %d, "storage error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
            }
        }
    }
}

fn missing_user(id: &str) -> impl FnOnce(StoreError) -> AdminError + '_ {
    move |e| match e {
        StoreError::NotFound => AdminError::not_found(format!("no user with id {id:?} in this service")),
        other => other.into(),
    }
}

/// What a user search asks for.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    /// Part of the login, email, display name, given or family name (case-insensitive).
    pub text: Option<String>,
    pub status: Option<UserStatus>,
    pub blocked: Option<bool>,
}

impl UserSearch {
    /// The store condition. A pending code past its expiry reads `activationExpired`, as
    /// everywhere else.
    pub fn condition(&self, now: domain::Timestamp) -> Condition<UserField> {
        let mut all = Vec::new();
        if let Some(text) = self.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let contains = |f| Condition::Cmp(f, Op::Contains, QueryValue::Text(text.to_owned()));
            all.push(Condition::Or(vec![
                contains(UserField::UserName),
                contains(UserField::Email),
                contains(UserField::DisplayName),
                contains(UserField::GivenName),
                contains(UserField::FamilyName),
            ]));
        }
        let now_text = QueryValue::Text(domain::format_timestamp(now));
        let stored = |s: UserStatus| Condition::Cmp(UserField::Status, Op::Eq, QueryValue::Text(s.as_str().to_owned()));
        match self.status {
            None => {}
            Some(UserStatus::ActivationExpired) => all.push(Condition::Or(vec![
                stored(UserStatus::ActivationExpired),
                Condition::And(vec![
                    stored(UserStatus::PendingActivation),
                    Condition::Cmp(UserField::ActivationExpiresAt, Op::Le, now_text),
                ]),
            ])),
            Some(UserStatus::PendingActivation) => all.push(Condition::And(vec![
                stored(UserStatus::PendingActivation),
                Condition::Not(Box::new(Condition::Cmp(UserField::ActivationExpiresAt, Op::Le, now_text))),
            ])),
            Some(s) => all.push(stored(s)),
        }
        if let Some(b) = self.blocked {
            all.push(Condition::Cmp(UserField::Blocked, Op::Eq, QueryValue::Bool(b)));
        }
        Condition::And(all)
    }
}

/// One keyset page of users in login order, after the login `after`; returns the page and the
/// cursor of the next page (the last login) when there is one.
pub async fn list_users(
    state: &AppState,
    service: &Service,
    search: &UserSearch,
    after: Option<&str>,
    limit: u64,
) -> Result<(Vec<User>, Option<String>), AdminError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut condition = search.condition(domain::now());
    if let Some(after) = after.filter(|a| !a.is_empty()) {
        condition = Condition::And(vec![
            condition,
            Condition::Cmp(UserField::UserName, Op::Gt, QueryValue::Text(after.to_owned())),
        ]);
    }
    let query = Query {
        condition,
        sort: Some((UserField::UserName, SortDirection::Ascending)),
        page: Some(PageRequest { offset: 0, limit: limit + 1 }),
    };
    let mut users = state.store.query_users_page(service.id, &query).await?;
    let next = if users.len() as u64 > limit {
        users.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        users.last().map(|u| u.user_name.clone())
    } else {
        None
    };
    Ok((users, next))
}

pub async fn get_user(state: &AppState, service: &Service, id: &str) -> Result<User, AdminError> {
    state
        .store
        .get_user(service.id, id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no user with id {id:?} in this service")))
}

/// A user's editable attributes. In an update, `None` leaves a value as it is and an empty
/// text removes it.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

fn clean(v: Option<String>) -> Option<Option<String>> {
    v.map(|s| Some(s.trim().to_owned()).filter(|s| !s.is_empty()))
}

/// Writes the fields into a user's SCIM attributes (`emails`, `name`, `displayName`) the
/// way a SCIM client would have sent them, so SCIM reads show the same user.
fn apply_fields(attributes: &mut Value, f: &UserFields) {
    if !attributes.is_object() {
        *attributes = Value::Object(Map::new());
    }
    let Some(obj) = attributes.as_object_mut() else { return };
    if let Some(email) = clean(f.email.clone()) {
        match email {
            Some(e) => obj.insert("emails".into(), json!([{"value": e, "type": "work", "primary": true}])),
            None => obj.remove("emails"),
        };
    }
    if let Some(d) = clean(f.display_name.clone()) {
        match d {
            Some(d) => obj.insert("displayName".into(), Value::String(d)),
            None => obj.remove("displayName"),
        };
    }
    for (key, value) in [("givenName", &f.given_name), ("familyName", &f.family_name)] {
        let Some(v) = clean(value.clone()) else { continue };
        let name = obj.entry("name").or_insert_with(|| Value::Object(Map::new()));
        if let Some(name) = name.as_object_mut() {
            match v {
                Some(v) => name.insert(key.into(), Value::String(v)),
                None => name.remove(key),
            };
        }
    }
    if obj.get("name").and_then(Value::as_object).is_some_and(Map::is_empty) {
        obj.remove("name");
    }
}

/// Creates a user owned by `source`. With an email and `send_activation_email` on, the user
/// starts `pendingActivation` with an activation email queued in the same transaction.
pub async fn create_user(
    state: &AppState,
    service: &Service,
    fields: UserFields,
    source: ProvisioningSource,
) -> Result<User, AdminError> {
    let user_name = fields.user_name.clone().map(|s| s.trim().to_owned()).unwrap_or_default();
    check_login(&user_name, &service.params)?;
    let mut attributes = Value::Object(Map::new());
    apply_fields(&mut attributes, &fields);
    let profile = crate::scim_api::mapping::profile_of(&attributes);
    let decision = decide_activation(profile.email.is_some(), service.params.send_activation_email);
    let id = domain::new_resource_id();
    let activation = decision.send_email.then(|| crate::activation::issue(service, &id, &user_name, &profile));
    let user = state
        .store
        .create_user(
            NewUser {
                id,
                service: service.id,
                user_name,
                external_id: clean(fields.external_id).flatten(),
                active: true,
                source,
                profile,
                attributes,
            },
            decision.status,
            activation,
        )
        .await?;
    tracing::info!(service = %service.name, user_id = %user.id, login = %user.user_name, source = source.as_str(), "user created by an administrator");
    Ok(user)
}

/// The refusal for editing a SCIM-managed user.
pub fn managed_by_scim(user: &User) -> DomainError {
    DomainError::Owned(format!(
        "user {:?} is managed by Entra ID (provisioning source \"scim\"): change it in Entra ID; changes made here \
         would be overwritten at the next provisioning cycle",
        user.user_name
    ))
}

/// Changes a user's attributes; refused for SCIM-managed users.
pub async fn update_user(
    state: &AppState,
    service: &Service,
    id: &str,
    fields: UserFields,
) -> Result<User, AdminError> {
    let params = service.params.clone();
    let user = state
        .store
        .update_user(
            service.id,
            id,
            Box::new(move |u: &mut User| {
                if u.source == ProvisioningSource::Scim {
                    return Err(managed_by_scim(u));
                }
                if let Some(Some(login)) = clean(fields.user_name.clone()) {
                    check_login(&login, &params)?;
                    u.user_name = login;
                }
                if let Some(ext) = clean(fields.external_id.clone()) {
                    u.external_id = ext;
                }
                apply_fields(&mut u.attributes, &fields);
                u.profile = crate::scim_api::mapping::profile_of(&u.attributes);
                Ok(())
            }),
        )
        .await
        .map_err(missing_user(id))?;
    tracing::info!(service = %service.name, user_id = %user.id, "user updated by an administrator");
    Ok(user)
}

/// Adds (`true`) or removes the `admin` block reason; other reasons stay.
pub async fn set_admin_block(state: &AppState, service: &Service, id: &str, blocked: bool) -> Result<User, AdminError> {
    let user = state
        .store
        .update_user(
            service.id,
            id,
            Box::new(move |u: &mut User| {
                if blocked {
                    u.block_reasons.insert(BlockReason::Admin);
                } else {
                    u.block_reasons.remove(&BlockReason::Admin);
                }
                Ok(())
            }),
        )
        .await
        .map_err(missing_user(id))?;
    tracing::info!(service = %service.name, user_id = %user.id, blocked, "administrator block changed");
    Ok(user)
}

/// Sends a new activation email (the previous code stops working).
pub async fn resend_activation(state: &AppState, service: &Service, id: &str) -> Result<User, AdminError> {
    let user = get_user(state, service, id).await?;
    let activation = crate::activation::issue(service, &user.id, &user.user_name, &user.profile);
    let user = state.store.reissue_activation(service.id, id, activation).await.map_err(|e| match e {
        StoreError::Rule(DomainError::InvalidValue(m)) => AdminError::new(StatusCode::CONFLICT, "cannot_resend", m),
        other => missing_user(id)(other),
    })?;
    tracing::info!(service = %service.name, user_id = %user.id, "activation email resent by an administrator");
    Ok(user)
}

/// Deletes a user, its memberships and codes (whatever its source: Entra recreates a user
/// that is still assigned).
pub async fn delete_user(state: &AppState, service: &Service, id: &str) -> Result<User, AdminError> {
    let user = state.store.delete_user(service.id, id, Box::new(|_| Ok(()))).await.map_err(missing_user(id))?;
    tracing::info!(service = %service.name, user_id = %user.id, login = %user.user_name, "user deleted by an administrator");
    Ok(user)
}

/// Applies `name=value` parameter changes; all or nothing.
pub async fn set_params(
    state: &AppState,
    service: &Service,
    changes: &[(String, String)],
) -> Result<Service, AdminError> {
    let mut params = service.params.clone();
    for (k, v) in changes {
        params.set(k, v)?;
    }
    let updated = state.store.update_service_params(service.id, params).await?;
    state.auth_cache.clear();
    tracing::info!(service = %service.name, changes = ?changes, "service parameters changed by an administrator");
    Ok(updated)
}
