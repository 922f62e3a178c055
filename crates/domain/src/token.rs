//! API tokens: bearer secrets bound to one service (product.md §1).

use crate::Timestamp;
use crate::service::ServiceId;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// What Entra's "Secret Token" holds: the SCIM endpoints only.
    Scim,
    /// The admin REST API.
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Scim => "scim",
            TokenScope::Admin => "admin",
        }
    }
}

impl FromStr for TokenScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "scim" => Ok(Self::Scim),
            "admin" => Ok(Self::Admin),
            _ => Err(format!("unknown token scope {s:?} (expected scim or admin)")),
        }
    }
}

/// A token as stored: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: i64,
    pub service: ServiceId,
    pub scope: TokenScope,
    /// The first characters of the secret, to recognise it in lists.
    pub prefix: String,
    pub description: String,
    pub created: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    /// Usable now: not revoked and not expired.
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|exp| now < exp)
    }
}

/// A token about to be stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub service: ServiceId,
    pub scope: TokenScope,
    pub prefix: String,
    pub hash: Vec<u8>,
    pub description: String,
    pub expires_at: Option<Timestamp>,
}
