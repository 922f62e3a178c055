//! SCIM representation ⇄ domain objects. The domain keeps typed fields for what the directory
//! uses (login, externalId, active, profile) and every other attribute verbatim.

use super::schemas::MFA_SCHEMA;
use domain::group::{Group, Member};
use domain::user::{Profile, User};
use scim::ScimError;
use scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

/// The attributes a PATCH or filter works on: everything the client may have set, in
/// canonical form, without `id`, `meta` or the MFA extension.
pub fn user_attributes(user: &User) -> Value {
    let mut obj = Map::new();
    obj.insert("userName".into(), Value::String(user.user_name.clone()));
    if let Some(ext) = &user.external_id {
        obj.insert("externalId".into(), Value::String(ext.clone()));
    }
    obj.insert("active".into(), Value::Bool(user.active));
    if let Value::Object(attrs) = &user.attributes {
        for (k, v) in attrs {
            obj.insert(k.clone(), v.clone());
        }
    }
    Value::Object(obj)
}

/// The full SCIM representation of a user (RFC 7643 §4.1) with the MFA extension, as a `Value`
/// (for projections and filters); [`UserJson`] is the one definition of it.
pub fn user_to_scim(user: &User, base_url: &str, now: domain::Timestamp) -> Value {
    serde_json::to_value(UserJson { user, base_url, now }).unwrap_or_default()
}

/// A user's SCIM representation, written straight from the `User` without building a `Value`
/// tree first: every read without `attributes`/`excludedAttributes` serialises this directly.
pub struct UserJson<'a> {
    pub user: &'a User,
    pub base_url: &'a str,
    pub now: domain::Timestamp,
}

/// Top-level names written by [`UserJson`] itself; stored attributes never carry them, and are
/// skipped if they ever did (a JSON object must not repeat a name, RFC 8259 §4).
const USER_OWN_NAMES: [&str; 7] = ["schemas", "id", "userName", "externalId", "active", MFA_SCHEMA, "meta"];

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let mut m = s.serialize_map(None)?;
        let schemas: &[&str] = if u.attributes.get(ENTERPRISE_USER_SCHEMA).is_some() {
            &[USER_SCHEMA, ENTERPRISE_USER_SCHEMA, MFA_SCHEMA]
        } else {
            &[USER_SCHEMA, MFA_SCHEMA]
        };
        m.serialize_entry("schemas", schemas)?;
        m.serialize_entry("id", &u.id)?;
        m.serialize_entry("userName", &u.user_name)?;
        if let Some(ext) = &u.external_id {
            m.serialize_entry("externalId", ext)?;
        }
        m.serialize_entry("active", &u.active)?;
        if let Value::Object(attrs) = &u.attributes {
            for (k, v) in attrs.iter().filter(|(k, _)| !USER_OWN_NAMES.contains(&k.as_str())) {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry(MFA_SCHEMA, &MfaJson(u, self.now))?;
        m.serialize_entry(
            "meta",
            &MetaJson {
                resource_type: "User",
                base_url: self.base_url,
                collection: "Users",
                id: &u.id,
                created: u.created,
                last_modified: u.last_modified,
                version: u.version,
            },
        )?;
        m.end()
    }
}

struct MfaJson<'a>(&'a User, domain::Timestamp);

impl Serialize for MfaJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (u, now) = (self.0, self.1);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("status", u.effective_status(now).as_str())?;
        m.serialize_entry("blocked", &u.blocked())?;
        m.serialize_entry("blockReasons", &u.block_reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>())?;
        m.serialize_entry("provisioningSource", u.source.as_str())?;
        if let Some(exp) = u.activation_expires_at.filter(|_| u.status == domain::user::UserStatus::PendingActivation) {
            m.serialize_entry("activationExpiresAt", &domain::format_timestamp(exp))?;
        }
        m.end()
    }
}

struct MetaJson<'a> {
    resource_type: &'static str,
    base_url: &'a str,
    collection: &'static str,
    id: &'a str,
    created: domain::Timestamp,
    last_modified: domain::Timestamp,
    version: i64,
}

impl Serialize for MetaJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("resourceType", self.resource_type)?;
        m.serialize_entry("created", &domain::format_timestamp(self.created))?;
        m.serialize_entry("lastModified", &domain::format_timestamp(self.last_modified))?;
        m.serialize_entry("location", &format_args!("{}/{}/{}", self.base_url, self.collection, self.id))?;
        m.serialize_entry("version", &format_args!("W/\"{}\"", self.version))?;
        m.end()
    }
}

/// A user's attributes split into what the directory uses and the rest.
#[derive(Debug, Clone)]
pub struct UserParts {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: Option<bool>,
    pub profile: Profile,
    pub attributes: Value,
}

/// Splits canonical user attributes (as produced by normalisation or PATCH).
pub fn split_user(resource: Value) -> Result<UserParts, ScimError> {
    let Value::Object(mut obj) = resource else {
        return Err(ScimError::invalid_syntax("a User must be a JSON object"));
    };
    for k in ["id", "meta", "schemas", MFA_SCHEMA] {
        obj.remove(k);
    }
    // `password` is write-only (RFC 7643 §4.1.1, `returned: never`) and the MFA directory has
    // no use for it: it is never stored, so it can never be returned or leak. (Canonical
    // normalisation and PATCH both come through here.)
    obj.remove("password");
    let user_name = match obj.remove("userName") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(other) if !other.is_null() && !other.is_string() => {
            return Err(ScimError::invalid_value(format!("userName must be a string, got {other}")));
        }
        _ => return Err(ScimError::invalid_value("userName is required (RFC 7643 §4.1.1)")),
    };
    let external_id = match obj.remove("externalId") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Null) | None => None,
        Some(Value::String(_)) => None,
        Some(other) => return Err(ScimError::invalid_value(format!("externalId must be a string, got {other}"))),
    };
    let active = match obj.remove("active") {
        Some(Value::Bool(b)) => Some(b),
        None | Some(Value::Null) => None,
        Some(other) => return Err(ScimError::invalid_value(format!("active must be true or false, got {other}"))),
    };
    let attributes = Value::Object(obj);
    let profile = profile_of(&attributes);
    Ok(UserParts { user_name, external_id, active, profile, attributes })
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The profile the directory uses: the work email (else the primary, else the first), names,
/// language.
pub fn profile_of(attributes: &Value) -> Profile {
    let emails = attributes.get("emails").and_then(Value::as_array);
    let pick = |pred: &dyn Fn(&Value) -> bool| {
        emails.and_then(|es| es.iter().find(|e| pred(e))).and_then(|e| text(e.get("value")))
    };
    let email = pick(&|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")))
        .or_else(|| pick(&|e| e.get("primary") == Some(&Value::Bool(true))))
        .or_else(|| pick(&|_| true));
    let name = attributes.get("name");
    Profile {
        email,
        display_name: text(attributes.get("displayName")),
        given_name: text(name.and_then(|n| n.get("givenName"))),
        family_name: text(name.and_then(|n| n.get("familyName"))),
        preferred_language: text(attributes.get("preferredLanguage")),
    }
}

/// Group attributes a PATCH or filter works on (without members).
pub fn group_attributes(group: &Group) -> Value {
    let mut obj = Map::new();
    obj.insert("displayName".into(), Value::String(group.display_name.clone()));
    if let Some(ext) = &group.external_id {
        obj.insert("externalId".into(), Value::String(ext.clone()));
    }
    if let Value::Object(attrs) = &group.attributes {
        for (k, v) in attrs {
            obj.insert(k.clone(), v.clone());
        }
    }
    Value::Object(obj)
}

/// The SCIM representation of a group (RFC 7643 §4.2). `members` is `None` when they were
/// not asked for (`excludedAttributes=members`), and then never loaded.
pub fn group_to_scim(group: &Group, members: Option<&[Member]>, base_url: &str) -> Value {
    let mut obj = Map::new();
    obj.insert("schemas".into(), json!([GROUP_SCHEMA]));
    obj.insert("id".into(), Value::String(group.id.clone()));
    if let Value::Object(attrs) = group_attributes(group) {
        obj.extend(attrs);
    }
    if let Some(members) = members {
        let list = members
            .iter()
            .map(|m| {
                let mut e = Map::new();
                e.insert("value".into(), Value::String(m.user_id.clone()));
                e.insert("$ref".into(), Value::String(format!("{base_url}/Users/{}", m.user_id)));
                e.insert("type".into(), Value::from("User"));
                if let Some(d) = &m.display {
                    e.insert("display".into(), Value::String(d.clone()));
                }
                Value::Object(e)
            })
            .collect();
        obj.insert("members".into(), Value::Array(list));
    }
    let meta = MetaJson {
        resource_type: "Group",
        base_url,
        collection: "Groups",
        id: &group.id,
        created: group.created,
        last_modified: group.last_modified,
        version: group.version,
    };
    obj.insert("meta".into(), serde_json::to_value(meta).unwrap_or_default());
    Value::Object(obj)
}

#[derive(Debug, Clone)]
pub struct GroupParts {
    pub display_name: String,
    pub external_id: Option<String>,
    /// `members` as sent, if any (handled as membership changes, never stored as JSON).
    pub members: Option<Value>,
    pub attributes: Value,
}

pub fn split_group(resource: Value) -> Result<GroupParts, ScimError> {
    let Value::Object(mut obj) = resource else {
        return Err(ScimError::invalid_syntax("a Group must be a JSON object"));
    };
    for k in ["id", "meta", "schemas"] {
        obj.remove(k);
    }
    let display_name = match obj.remove("displayName") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err(ScimError::invalid_value("displayName is required for a Group (RFC 7643 §4.2)")),
    };
    let external_id = match obj.remove("externalId") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let members = obj.remove("members");
    Ok(GroupParts { display_name, external_id, members, attributes: Value::Object(obj) })
}

/// Reads a `members` value (array of `{value, display}` or bare id strings) as members.
pub fn members_of(value: &Value) -> Result<Vec<Member>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(id) => Ok(Member { user_id: id.clone(), display: None }),
            Value::Object(o) => {
                let get = |name: &str| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
                let id = get("value").and_then(Value::as_str).ok_or_else(|| {
                    ScimError::invalid_value(format!("a member needs a \"value\" holding the user id, got {item}"))
                })?;
                let display = get("display").or_else(|| get("displayName")).and_then(Value::as_str).map(str::to_owned);
                Ok(Member { user_id: id.to_owned(), display })
            }
            other => Err(ScimError::invalid_value(format!("a member must be an object with a value, got {other}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::user::{BlockReason, ProvisioningSource, UserStatus};

    fn user(attributes: Value, status: UserStatus, reasons: &[BlockReason]) -> User {
        let t = domain::parse_timestamp("2026-11-28T10:00:00.123Z").unwrap();
        User {
            id: "0193a5b0-0000-7000-8000-000000000001".into(),
            service: domain::service::ServiceId(1),
            user_name: "ada@contoso.com".into(),
            external_id: Some("ext-\"1\"".into()),
            active: false,
            status,
            block_reasons: reasons.iter().cloned().collect(),
            source: ProvisioningSource::Scim,
            activation_expires_at: Some(t + time::Duration::days(7)),
            profile: Profile::default(),
            attributes,
            created: t,
            last_modified: t + time::Duration::seconds(5),
            version: 3,
        }
    }

    /// The serializer and the `Value` builder produce the same JSON, name for name.
    #[test]
    fn user_json_writes_what_user_to_scim_builds() {
        let now = domain::parse_timestamp("2026-11-29T00:00:00Z").unwrap();
        let cases = [
            user(json!({}), UserStatus::Activated, &[]),
            user(
                json!({"name": {"givenName": "Ada"}, "emails": [{"value": "ada@contoso.com", "primary": true}],
                       ENTERPRISE_USER_SCHEMA: {"department": "R&D"}, "displayName": "Ada \u{e9}"}),
                UserStatus::PendingActivation,
                &[BlockReason::Inactive],
            ),
            user(json!({"nickName": "a"}), UserStatus::NotActivated, &[BlockReason::Inactive, BlockReason::Admin]),
        ];
        for u in &cases {
            let built = serde_json::to_string(&user_to_scim(u, "https://mfa.example/scim/v2", now)).unwrap();
            let written =
                serde_json::to_string(&UserJson { user: u, base_url: "https://mfa.example/scim/v2", now }).unwrap();
            assert_eq!(written, built);
        }
    }
}
