//! Activation codes (product.md §2.1): 128 random bits, shown once in the email link, stored
//! only as a SHA-256 hash, valid 21 days.
//!
//! The queued payload holds the code itself, not the link: the link is built by the outbox
//! worker from the server's `--public-url` when the message is sent, so the CLI and the admin
//! API can queue emails without knowing the public URL, and a changed public URL applies to
//! messages still waiting. The code is scrubbed from the payload once the message is sent.

use crate::scim_api::mapping::UserParts;
use crate::state::AppState;
use domain::ports::{NewActivation, OutboundEmail};
use domain::service::Service;
use domain::user::{ACTIVATION_VALIDITY, Profile};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The outbox template of activation emails.
pub const TEMPLATE: &str = "activation";

/// The lookup key of a code: fast hash, because the code has 128 random bits (no dictionary
/// to protect against), and only the hash is stored.
pub fn hash_code(code: &str) -> Vec<u8> {
    Sha256::digest(code.as_bytes()).to_vec()
}

fn new_code() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The link an activation email carries.
pub fn link(public_url: &str, code: &str) -> String {
    format!("{}/activate?code={code}", public_url.trim_end_matches('/'))
}

/// Issues a code for a user being created and the activation email carrying it; both are
/// written in the user's transaction.
pub fn issue_for_new_user(_state: &AppState, service: &Service, user_id: &str, parts: &UserParts) -> NewActivation {
    issue(service, user_id, &parts.user_name, &parts.profile)
}

/// Issues a new code (creation, or an administrator's resend) and the email carrying it,
/// addressed to the profile's email. The store writes both in one transaction.
pub fn issue(service: &Service, user_id: &str, login: &str, profile: &Profile) -> NewActivation {
    let code = new_code();
    let expires_at = domain::now() + ACTIVATION_VALIDITY;
    NewActivation {
        code_hash: hash_code(&code),
        expires_at,
        email: OutboundEmail {
            recipient: profile.email.clone().unwrap_or_default(),
            template: TEMPLATE.to_owned(),
            payload: json!({
                "user_id": user_id,
                "login": login,
                "given_name": profile.given_name,
                "family_name": profile.family_name,
                "display_name": profile.display_name,
                "language": profile.preferred_language,
                "service": service.name,
                "code": code,
                "expires_at": domain::format_timestamp(expires_at),
            }),
        },
    }
}
