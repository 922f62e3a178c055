//! Services (tenants) and their per-service parameters.

use serde::{Deserialize, Serialize};

/// Identifies a service. Every store call is scoped by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceId(pub i64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub params: ServiceParams,
    pub created: crate::Timestamp,
}

/// What to do with attributes that are in no published schema (product.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownAttributesPolicy {
    /// 400 naming the attribute, so the administrator removes it from the mapping.
    #[default]
    Reject,
    /// Drop it and write a warning to the provisioning log.
    Ignore,
}

/// Per-service parameters ("Service parameters › SCIM" in the console).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceParams {
    /// Send an activation email when a user with an email is created (product.md §2.1).
    pub send_activation_email: bool,
    pub unknown_attributes: UnknownAttributesPolicy,
    /// Let the first SCIM write take over a user created by another source (product.md §2.4).
    pub adopt_existing_users: bool,
    /// Longest login accepted (product.md §2.3).
    pub login_max_length: usize,
    /// Characters accepted in a login besides letters and digits.
    pub login_extra_chars: String,
    /// Longest group name accepted.
    pub group_name_max_length: usize,
    /// How long provisioning-log entries are kept.
    pub log_retention_days: u32,
}

impl Default for ServiceParams {
    fn default() -> Self {
        Self {
            send_activation_email: true,
            unknown_attributes: UnknownAttributesPolicy::Reject,
            adopt_existing_users: false,
            login_max_length: 256,
            login_extra_chars: crate::limits::DEFAULT_LOGIN_EXTRA_CHARS.to_owned(),
            group_name_max_length: 256,
            log_retention_days: 30,
        }
    }
}

impl ServiceParams {
    /// Sets one parameter from its `name=value` text form (CLI `service set`, admin API).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), crate::DomainError> {
        let bad = |what: &str| crate::DomainError::InvalidValue(format!("parameter {name}: {what}, got {value:?}"));
        let parse_bool = |v: &str| match v.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Ok(true),
            "false" | "off" | "no" | "0" => Ok(false),
            _ => Err(bad("expected true or false")),
        };
        match name {
            "send_activation_email" => self.send_activation_email = parse_bool(value)?,
            "adopt_existing_users" => self.adopt_existing_users = parse_bool(value)?,
            "unknown_attributes" => {
                self.unknown_attributes = match value.to_ascii_lowercase().as_str() {
                    "reject" => UnknownAttributesPolicy::Reject,
                    "ignore" => UnknownAttributesPolicy::Ignore,
                    _ => return Err(bad("expected reject or ignore")),
                }
            }
            "login_max_length" => {
                self.login_max_length =
                    value.parse().ok().filter(|n| (1..=1024).contains(n)).ok_or_else(|| bad("expected 1..=1024"))?
            }
            "login_extra_chars" => self.login_extra_chars = value.to_owned(),
            "group_name_max_length" => {
                self.group_name_max_length =
                    value.parse().ok().filter(|n| (1..=1024).contains(n)).ok_or_else(|| bad("expected 1..=1024"))?
            }
            "log_retention_days" => {
                self.log_retention_days =
                    value.parse().ok().filter(|n| (1..=3650).contains(n)).ok_or_else(|| bad("expected 1..=3650"))?
            }
            _ => {
                return Err(crate::DomainError::InvalidValue(format!(
                    "unknown parameter {name:?}; known: send_activation_email, unknown_attributes, \
                     adopt_existing_users, login_max_length, login_extra_chars, \
                     group_name_max_length, log_retention_days"
                )));
            }
        }
        Ok(())
    }
}
