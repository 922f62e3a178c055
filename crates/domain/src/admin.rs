//! Console administrators and their sessions (product.md §3).
//!
//! Passwords are stored as argon2id PHC strings (hashed by the binary, never here). Sessions
//! live in the database so that several `scimd serve` processes share them; the session id
//! is a random secret of which only the SHA-256 is stored, like API tokens.

use crate::Timestamp;

/// How long a console session lasts at most, whatever its use.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);
/// A session unused for this long ends.
pub const SESSION_IDLE_TIMEOUT: time::Duration = time::Duration::hours(2);

/// An administrator of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAccount {
    pub id: i64,
    pub name: String,
    /// argon2id in PHC string form (`$argon2id$v=19$…`).
    pub password_hash: String,
    pub created: Timestamp,
    pub last_login: Option<Timestamp>,
}

/// A session about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the session id carried by the cookie.
    pub id_hash: Vec<u8>,
    pub admin_id: i64,
    /// The synchronizer token every form of this session carries.
    pub csrf_token: String,
    pub created: Timestamp,
    pub expires_at: Timestamp,
}

/// A stored session, with its administrator's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub id_hash: Vec<u8>,
    pub admin_id: i64,
    pub admin_name: String,
    pub csrf_token: String,
    pub created: Timestamp,
    pub expires_at: Timestamp,
    pub last_seen: Timestamp,
}

impl AdminSession {
    /// Usable now: before its absolute expiry and used within the idle timeout.
    pub fn is_live_at(&self, now: Timestamp) -> bool {
        now < self.expires_at && now < self.last_seen + SESSION_IDLE_TIMEOUT
    }
}

/// Checks an administrator name: 1–64 characters, letters, digits and `. _ - @`.
pub fn check_admin_name(name: &str) -> Result<(), crate::DomainError> {
    let ok_len = (1..=64).contains(&name.chars().count());
    let ok_chars = name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(crate::DomainError::InvalidValue(format!(
            "administrator name {name:?} must be 1 to 64 letters, digits or . _ - @"
        )))
    }
}

/// Activity of a service's SCIM client over a period (console dashboard).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Time of the newest provisioning-log entry, whatever its age.
    pub last_request: Option<Timestamp>,
    /// Requests since the start of the period.
    pub requests: u64,
    /// Of which failed (status ≥ 400).
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_admin_name("admin").is_ok());
        assert!(check_admin_name("jane.doe@example.com").is_ok());
        assert!(check_admin_name("").is_err());
        assert!(check_admin_name("a b").is_err());
        assert!(check_admin_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn sessions_end_at_expiry_or_when_idle() {
        let t0 = time::macros::datetime!(2026-06-01 12:00 UTC);
        let s = AdminSession {
            id_hash: vec![1],
            admin_id: 1,
            admin_name: "admin".into(),
            csrf_token: "x".into(),
            created: t0,
            expires_at: t0 + SESSION_LIFETIME,
            last_seen: t0,
        };
        assert!(s.is_live_at(t0 + time::Duration::minutes(5)));
        assert!(!s.is_live_at(t0 + SESSION_IDLE_TIMEOUT));
        let busy = AdminSession { last_seen: t0 + SESSION_LIFETIME - time::Duration::MINUTE, ..s };
        assert!(!busy.is_live_at(t0 + SESSION_LIFETIME));
    }
}
