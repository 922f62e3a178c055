//! API tokens: `scimd_` + 64 hex characters (256 random bits). Only the SHA-256 of the whole
//! token is stored; a token without the prefix is refused before any database lookup.
//! Never change the prefix: every issued token would stop working.

use domain::Timestamp;
use domain::ports::Store;
use domain::service::{Service, ServiceId};
use domain::token::{ApiToken, NewToken, TokenScope};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub const TOKEN_PREFIX: &str = "scimd_";
/// How many characters of a token are kept in clear to recognise it in lists.
const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 8;

/// SHA-256 of the token text. Tokens carry 256 random bits, so a fast hash is enough (a slow
/// password hash protects low-entropy secrets, which these are not).
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates and stores a token; returns the secret (shown once) and its record.
pub async fn issue(
    store: &dyn Store,
    service: ServiceId,
    scope: TokenScope,
    description: &str,
    expires_at: Option<Timestamp>,
) -> Result<(String, ApiToken), domain::ports::StoreError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let record = store
        .insert_token(NewToken {
            service,
            scope,
            prefix: secret[..SHOWN_PREFIX_LEN].to_owned(),
            hash: hash_token(&secret),
            description: description.to_owned(),
            expires_at,
        })
        .await?;
    Ok((secret, record))
}

/// The bearer token of an `Authorization` header (RFC 6750 §2.1), if there is one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// Why a presented token was refused. All of them answer 401 alike.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenRejection {
    Missing,
    Malformed,
    Unknown,
    Expired,
    Revoked,
    WrongScope,
}

/// Checks a bearer token and finds its service (one database round trip for both, none when
/// the token was verified within [`AUTH_CACHE_TTL`]). The database is searched by the token's
/// SHA-256, so no secret is ever compared byte by byte: what an attacker controls (the token)
/// and what the index compares (its hash) are unrelated, which makes the check constant-time
/// in effect.
async fn check_with_service(
    store: &dyn Store,
    cache: &AuthCache,
    presented: Option<&str>,
    scope: TokenScope,
    now: Timestamp,
) -> Result<Result<(ApiToken, Service), TokenRejection>, domain::ports::StoreError> {
    let Some(token) = presented else { return Ok(Err(TokenRejection::Missing)) };
    if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
        return Ok(Err(TokenRejection::Malformed));
    }
    let hash = hash_token(token);
    let (record, service) = match cache.get(&hash) {
        Some(found) => found,
        None => {
            let Some(found) = store.authenticate(&hash).await? else { return Ok(Err(TokenRejection::Unknown)) };
            cache.put(&hash, &found);
            found
        }
    };
    if record.revoked_at.is_some() {
        return Ok(Err(TokenRejection::Revoked));
    }
    if !record.is_valid_at(now) {
        return Ok(Err(TokenRejection::Expired));
    }
    if record.scope != scope {
        return Ok(Err(TokenRejection::WrongScope));
    }
    Ok(Ok((record, service)))
}

/// The token of a request's `Authorization` header, checked for `scope` with the server's
/// cache: what the SCIM and admin API extractors both ask.
pub async fn authenticate(
    state: &crate::state::AppState,
    headers: &axum::http::HeaderMap,
    scope: TokenScope,
) -> Result<Result<(ApiToken, Service), TokenRejection>, domain::ports::StoreError> {
    check_with_service(state.store.as_ref(), &state.auth_cache, bearer(headers), scope, domain::now()).await
}

/// How long a verified token is trusted without asking the database again. A change made
/// through this server (revoking a token, changing a service's settings) clears the cache at
/// once; a change made by another process (the `scimd token revoke` CLI, a second server on the
/// same PostgreSQL database) takes effect within this time.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(1);
/// A bound on the cache: more distinct tokens than this within one TTL start it afresh.
const AUTH_CACHE_CAPACITY: usize = 1024;

/// Tokens verified within [`AUTH_CACHE_TTL`], by SHA-256, with their service: authenticating
/// a request costs a hash and a map lookup instead of a database query. Only tokens that
/// exist are kept; unknown ones are looked up every time.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<HashMap<Vec<u8>, (Instant, ApiToken, Service)>>,
}

impl AuthCache {
    fn get(&self, hash: &[u8]) -> Option<(ApiToken, Service)> {
        let entries = self.entries.read().ok()?;
        let (at, token, service) = entries.get(hash)?;
        (at.elapsed() < AUTH_CACHE_TTL).then(|| (token.clone(), service.clone()))
    }

    fn put(&self, hash: &[u8], (token, service): &(ApiToken, Service)) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= AUTH_CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(hash.to_vec(), (Instant::now(), token.clone(), service.clone()));
        }
    }

    /// Forgets every verified token: called after any change to tokens or services.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
