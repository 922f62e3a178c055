//! Activation codes (product.md §2.1): 128 random bits, shown once in the email link, stored
//! only as a SHA-256 hash, valid 21 days.

use crate::scim_api::mapping::UserParts;
use crate::state::AppState;
use domain::ports::{NewActivation, OutboundEmail};
use domain::service::Service;
use domain::user::ACTIVATION_VALIDITY;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

pub fn hash_code(code: &str) -> Vec<u8> {
    Sha256::digest(code.as_bytes()).to_vec()
}

fn new_code() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Issues a code for a user being created and the activation email carrying it; both are
/// written in the user's transaction.
pub fn issue_for_new_user(state: &AppState, service: &Service, user_id: &str, parts: &UserParts) -> NewActivation {
    let code = new_code();
    let expires_at = domain::now() + ACTIVATION_VALIDITY;
    let link = format!("{}/activate?code={code}", state.settings.public_url.trim_end_matches('/'));
    NewActivation {
        code_hash: hash_code(&code),
        expires_at,
        email: OutboundEmail {
            recipient: parts.profile.email.clone().unwrap_or_default(),
            template: "activation".to_owned(),
            payload: json!({
                "user_id": user_id,
                "login": parts.user_name,
                "given_name": parts.profile.given_name,
                "family_name": parts.profile.family_name,
                "display_name": parts.profile.display_name,
                "language": parts.profile.preferred_language,
                "service": service.name,
                "link": link,
                "expires_at": domain::format_timestamp(expires_at),
            }),
        },
    }
}
