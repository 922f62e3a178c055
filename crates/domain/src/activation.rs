//! Activation rules (product.md §2.1): when a code may be redeemed, what redeeming does, and
//! when an administrator may send a new code. Stores call these inside the transaction that
//! holds the user, so the decision and the write see the same row.

use crate::DomainError;
use crate::Timestamp;
use crate::user::{User, UserStatus};

/// Why a code cannot be redeemed. In every case nothing changes.
///
/// A code that was already used is indistinguishable from one that never existed: a used
/// code is deleted, and telling the two apart would need to keep used codes around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    #[error("this activation code is not valid; it may have been used already")]
    Unknown,
    #[error("this activation code has expired; ask your administrator for a new activation email")]
    Expired,
    #[error("this account is blocked; ask your administrator")]
    Blocked,
}

/// Decides whether `user` may redeem a code that expires at `code_expires_at`.
///
/// A blocked user is refused before expiry is looked at: a blocked user could not
/// authenticate even with a fresh code, so "blocked" is the answer that helps.
pub fn check_redemption(user: &User, code_expires_at: Timestamp, now: Timestamp) -> Result<(), RedeemError> {
    if user.blocked() {
        return Err(RedeemError::Blocked);
    }
    if code_expires_at <= now {
        return Err(RedeemError::Expired);
    }
    Ok(())
}

/// What a successful redemption does to the user: status `activated`, no pending expiry.
pub fn activate(user: &mut User) {
    user.status = UserStatus::Activated;
    user.activation_expires_at = None;
}

/// Prepares `user` for a new activation code expiring at `expires_at` (resend by an
/// administrator): status back to `pendingActivation`. The caller's store replaces the old
/// code in the same transaction, so the old one stops working.
///
/// Refused for a user without an email (nowhere to send it) and for a blocked user (the code
/// could not be redeemed; unblock first).
pub fn prepare_reissue(user: &mut User, expires_at: Timestamp) -> Result<(), DomainError> {
    if user.profile.email.as_deref().is_none_or(str::is_empty) {
        return Err(DomainError::InvalidValue(format!(
            "user {:?} has no email address, so no activation email can be sent",
            user.user_name
        )));
    }
    if user.blocked() {
        let reasons: Vec<String> = user.block_reasons.iter().map(ToString::to_string).collect();
        return Err(DomainError::InvalidValue(format!(
            "user {:?} is blocked ({}) and could not activate; unblock it first",
            user.user_name,
            reasons.join(", ")
        )));
    }
    user.status = UserStatus::PendingActivation;
    user.activation_expires_at = Some(expires_at);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceId;
    use crate::user::{BlockReason, Profile, ProvisioningSource};

    fn now() -> Timestamp {
        time::macros::datetime!(2026-06-01 12:00 UTC)
    }

    fn user() -> User {
        User {
            id: "u1".into(),
            service: ServiceId(1),
            user_name: "jane@example.com".into(),
            external_id: None,
            active: true,
            status: UserStatus::PendingActivation,
            block_reasons: Default::default(),
            source: ProvisioningSource::Scim,
            activation_expires_at: Some(now() + time::Duration::days(1)),
            profile: Profile { email: Some("jane@example.com".into()), ..Profile::default() },
            attributes: serde_json::json!({}),
            created: now(),
            last_modified: now(),
            version: 1,
        }
    }

    #[test]
    fn a_live_code_of_an_unblocked_user_redeems() {
        assert_eq!(check_redemption(&user(), now() + time::Duration::SECOND, now()), Ok(()));
        let mut u = user();
        activate(&mut u);
        assert_eq!((u.status, u.activation_expires_at), (UserStatus::Activated, None));
    }

    #[test]
    fn expiry_is_exclusive() {
        assert_eq!(check_redemption(&user(), now(), now()), Err(RedeemError::Expired));
    }

    #[test]
    fn blocked_wins_over_expired() {
        let mut u = user();
        u.set_active(false);
        assert_eq!(check_redemption(&u, now() - time::Duration::DAY, now()), Err(RedeemError::Blocked));
        u.set_active(true);
        u.block_reasons.insert(BlockReason::GroupDeleted("g".into()));
        assert_eq!(check_redemption(&u, now() + time::Duration::DAY, now()), Err(RedeemError::Blocked));
    }

    #[test]
    fn reissue_needs_an_email_and_an_unblocked_user() {
        let exp = now() + crate::user::ACTIVATION_VALIDITY;
        let mut u = user();
        u.status = UserStatus::Activated;
        assert!(prepare_reissue(&mut u, exp).is_ok());
        assert_eq!((u.status, u.activation_expires_at), (UserStatus::PendingActivation, Some(exp)));

        let mut no_mail = user();
        no_mail.profile.email = None;
        assert!(
            matches!(prepare_reissue(&mut no_mail, exp), Err(DomainError::InvalidValue(m)) if m.contains("no email"))
        );

        let mut blocked = user();
        blocked.block_reasons.insert(BlockReason::Admin);
        let before = blocked.clone();
        assert!(prepare_reissue(&mut blocked, exp).is_err());
        assert_eq!(blocked, before, "a refusal changes nothing");
    }
}
