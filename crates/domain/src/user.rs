//! Users of the MFA directory: activation status, block reasons and provisioning source.
//!
//! Three things are kept apart on purpose (product.md §1):
//! - SCIM `active` is exactly what Entra last set, and nothing else;
//! - the *status* is the MFA activation state;
//! - *blocked* means "cannot authenticate" and holds while at least one block reason exists.
//!
//! `active` is never derived from the other reasons: if a group deletion made `active` read
//! false, Entra would "repair" it on its next cycle and unblock the user.

use crate::Timestamp;
use crate::service::ServiceId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// How long an activation code stays valid (product.md §2.1).
pub const ACTIVATION_VALIDITY: time::Duration = time::Duration::days(21);

/// The MFA activation state (product.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserStatus {
    PendingActivation,
    Activated,
    NotActivated,
    ActivationExpired,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::PendingActivation => "pendingActivation",
            UserStatus::Activated => "activated",
            UserStatus::NotActivated => "notActivated",
            UserStatus::ActivationExpired => "activationExpired",
        }
    }
    pub const ALL: [UserStatus; 4] =
        [UserStatus::PendingActivation, UserStatus::Activated, UserStatus::NotActivated, UserStatus::ActivationExpired];
}

impl FromStr for UserStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown status {s:?}"))
    }
}

/// Why a user cannot authenticate (product.md §1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockReason {
    /// Entra set `active` to false (soft delete, unassignment, disabled account).
    Inactive,
    /// A group the user belonged to was deleted or unassigned; holds the group id.
    GroupDeleted(String),
    /// An administrator blocked the user.
    Admin,
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockReason::Inactive => f.write_str("inactive"),
            BlockReason::GroupDeleted(id) => write!(f, "groupDeleted:{id}"),
            BlockReason::Admin => f.write_str("admin"),
        }
    }
}

impl FromStr for BlockReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inactive" => Ok(BlockReason::Inactive),
            "admin" => Ok(BlockReason::Admin),
            _ => match s.strip_prefix("groupDeleted:") {
                Some(id) if !id.is_empty() => Ok(BlockReason::GroupDeleted(id.to_owned())),
                _ => Err(format!("unknown block reason {s:?}")),
            },
        }
    }
}

/// Who created and owns a user (product.md §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningSource {
    Scim,
    Api,
    Console,
    Import,
}

impl ProvisioningSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningSource::Scim => "scim",
            ProvisioningSource::Api => "api",
            ProvisioningSource::Console => "console",
            ProvisioningSource::Import => "import",
        }
    }
}

impl FromStr for ProvisioningSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "scim" => Ok(Self::Scim),
            "api" => Ok(Self::Api),
            "console" => Ok(Self::Console),
            "import" => Ok(Self::Import),
            _ => Err(format!("unknown provisioning source {s:?}")),
        }
    }
}

/// The parts of a user's attributes that the directory itself uses (search, emails). Derived
/// from the SCIM attributes by the protocol mapping; stored in indexed columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub preferred_language: Option<String>,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub service: ServiceId,
    /// The MFA login = SCIM `userName`.
    pub user_name: String,
    pub external_id: Option<String>,
    /// SCIM `active`, exactly as the provisioning client last set it.
    pub active: bool,
    pub status: UserStatus,
    pub block_reasons: BTreeSet<BlockReason>,
    pub source: ProvisioningSource,
    pub activation_expires_at: Option<Timestamp>,
    pub profile: Profile,
    /// Every other attribute, stored and returned verbatim (canonical SCIM JSON without
    /// `id`, `meta`, `schemas`, `userName`, `externalId`, `active`).
    pub attributes: serde_json::Value,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    pub version: i64,
}

impl User {
    pub fn blocked(&self) -> bool {
        !self.block_reasons.is_empty()
    }

    /// The status as it reads now: a pending code past its expiry reads `activationExpired`.
    pub fn effective_status(&self, now: Timestamp) -> UserStatus {
        match (self.status, self.activation_expires_at) {
            (UserStatus::PendingActivation, Some(exp)) if exp <= now => UserStatus::ActivationExpired,
            (s, _) => s,
        }
    }

    /// Applies a new SCIM `active` value: false adds the `inactive` reason, true removes it and
    /// leaves every other reason in place (product.md §2.2).
    pub fn set_active(&mut self, active: bool) {
        self.active = active;
        if active {
            self.block_reasons.remove(&BlockReason::Inactive);
        } else {
            self.block_reasons.insert(BlockReason::Inactive);
        }
    }
}

/// What a creation decides about activation (product.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationDecision {
    pub status: UserStatus,
    /// Issue a code and queue an activation email in the same transaction as the user.
    pub send_email: bool,
}

/// A user with an email, in a service that sends activation emails, starts
/// `pendingActivation` with an email queued; anyone else starts `notActivated`.
pub fn decide_activation(has_email: bool, send_activation_email: bool) -> ActivationDecision {
    if has_email && send_activation_email {
        ActivationDecision { status: UserStatus::PendingActivation, send_email: true }
    } else {
        ActivationDecision { status: UserStatus::NotActivated, send_email: false }
    }
}

/// A user about to be created.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub service: ServiceId,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub source: ProvisioningSource,
    pub profile: Profile,
    pub attributes: serde_json::Value,
}

/// The ownership rule for SCIM writes (product.md §2.4): a user created by another source
/// (admin API, console, import) is refused with a conflict naming its owner, unless the
/// service adopts existing users, in which case the write makes it SCIM-owned. Returns a
/// note for the provisioning log when the user was adopted.
pub fn claim_for_scim(user: &mut User, adopt_existing_users: bool) -> Result<Option<String>, crate::DomainError> {
    if user.source == ProvisioningSource::Scim {
        return Ok(None);
    }
    if !adopt_existing_users {
        return Err(crate::DomainError::Owned(format!(
            "user {:?} is managed by provisioning source {:?}, not by SCIM; enable the service \
             parameter adopt_existing_users to let SCIM take it over",
            user.user_name,
            user.source.as_str()
        )));
    }
    let note = format!("adopted user {:?} from provisioning source {:?}", user.user_name, user.source.as_str());
    user.source = ProvisioningSource::Scim;
    Ok(Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_reasons_round_trip() {
        for r in [BlockReason::Inactive, BlockReason::Admin, BlockReason::GroupDeleted("g1".into())] {
            assert_eq!(r.to_string().parse::<BlockReason>(), Ok(r));
        }
        assert!("groupDeleted:".parse::<BlockReason>().is_err());
    }

    #[test]
    fn activation_decision() {
        assert_eq!(decide_activation(true, true).status, UserStatus::PendingActivation);
        assert!(!decide_activation(false, true).send_email);
        assert_eq!(decide_activation(true, false).status, UserStatus::NotActivated);
    }
}
