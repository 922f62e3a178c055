//! Administrator authentication: argon2id passwords, console sessions, sign-in rate limits.
//!
//! - Passwords are hashed with argon2id (default parameters: 19 MiB, 2 passes) on the blocking
//!   pool, never on the async threads.
//! - A sign-in with an unknown name still verifies a password against a dummy hash, so the
//!   answer takes as long as for a known name and timing does not reveal which names exist.
//! - A session id is 256 random bits; the cookie carries it, the database only its SHA-256
//!   (a stolen database copy opens no session).
//! - Sign-in attempts are limited per client address and per account name (GCRA).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use domain::admin::{AdminAccount, AdminSession, NewSession, SESSION_LIFETIME};
use domain::ports::{Store, StoreError};
use governor::{Quota, RateLimiter};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;

/// Shortest password accepted from `--password-stdin`.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password looked at (argon2 cost does not depend on it, but bodies are bounded).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Hashes a password (argon2id, random salt) on the blocking pool; returns the PHC string.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
    })
    .await?
}

/// Verifies against a PHC string; false for a wrong password or an unreadable hash.
fn verify_blocking(password: &[u8], phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password, &h).is_ok())
}

/// A hash no password is known for, verified when the name is unknown (timing).
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    Argon2::default().hash_password(&random).map(|h| h.to_string()).unwrap_or_default()
});

/// Checks a name and password. `Ok(None)` for an unknown name or a wrong password, after the
/// same amount of work in both cases.
pub async fn authenticate(store: &dyn Store, name: &str, password: &str) -> Result<Option<AdminAccount>, StoreError> {
    let account = store.admin_by_name(name).await?;
    let phc = account.as_ref().map(|a| a.password_hash.clone());
    let password = password.as_bytes().to_vec();
    let ok = tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_blocking(&password, &phc),
        None => {
            verify_blocking(&password, &DUMMY_HASH);
            false
        }
    })
    .await
    .map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(account.filter(|_| ok))
}

/// A password for a new or reset account: 20 characters of an unambiguous alphabet (~114 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| {
            let i = (rng.next_u32() as usize) % ALPHABET.len();
            char::from(ALPHABET[i])
        })
        .collect()
}

/// Checks a password chosen by a person.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("the password must have at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("the password must have at most {MAX_PASSWORD_LEN} bytes"));
    }
    Ok(())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash_session_id(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// Opens a session for `admin`; returns the session id for the cookie (never stored).
pub async fn open_session(store: &dyn Store, admin: &AdminAccount) -> Result<String, StoreError> {
    let id = random_hex();
    let now = domain::now();
    store
        .create_session(NewSession {
            id_hash: hash_session_id(&id),
            admin_id: admin.id,
            csrf_token: random_hex(),
            created: now,
            expires_at: now + SESSION_LIFETIME,
        })
        .await?;
    store.record_admin_login(admin.id, now).await?;
    Ok(id)
}

/// The live session a cookie names, if any. Records its use at most once a minute.
pub async fn live_session(store: &dyn Store, id: &str) -> Result<Option<AdminSession>, StoreError> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = hash_session_id(id);
    let Some(session) = store.session_by_hash(&hash).await? else { return Ok(None) };
    let now = domain::now();
    if !session.is_live_at(now) {
        store.delete_session(&hash).await?;
        return Ok(None);
    }
    if now - session.last_seen >= time::Duration::MINUTE {
        store.touch_session(&hash, now).await?;
    }
    Ok(Some(session))
}

/// A fresh random token (CSRF double-submit token of the sign-in form).
pub fn new_token() -> String {
    random_hex()
}

type KeyedLimiter<K> = RateLimiter<
    K,
    governor::state::keyed::HashMapStateStore<K>,
    governor::clock::DefaultClock,
    governor::middleware::NoOpMiddleware,
>;

/// Sign-in attempts allowed per client address and per account name.
pub struct SignInLimiter {
    by_ip: KeyedLimiter<IpAddr>,
    by_account: KeyedLimiter<String>,
}

/// Keys tracked before idle ones are forgotten (memory bound under a scan).
const MAX_TRACKED: usize = 10_000;

impl SignInLimiter {
    /// `per_minute` attempts per client address (burst of the same size); an account name
    /// gets half of that from all addresses together.
    pub fn new(per_minute: u32) -> Self {
        let ip = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let account = NonZeroU32::new((per_minute / 2).max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            by_ip: RateLimiter::hashmap(Quota::per_minute(ip)),
            by_account: RateLimiter::hashmap(Quota::per_minute(account)),
        }
    }

    /// Counts one attempt; `Err(seconds to wait)` when over either limit.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), u64> {
        if self.by_ip.len() > MAX_TRACKED {
            self.by_ip.retain_recent();
        }
        if self.by_account.len() > MAX_TRACKED {
            self.by_account.retain_recent();
        }
        let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
        self.by_ip.check_key(&ip).map_err(|n| n.wait_time_from(now).as_secs().max(1))?;
        self.by_account
            .check_key(&domain::limits::fold_key(account))
            .map_err(|n| n.wait_time_from(now).as_secs().max(1))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_generated_passwords_are_long() {
        let phc = Argon2::default().hash_password(b"correct horse battery").map(|h| h.to_string()).unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_blocking(b"correct horse battery", &phc));
        assert!(!verify_blocking(b"wrong", &phc));
        assert!(!verify_blocking(b"x", "not a hash"));
        let p = generate_password();
        assert_eq!(p.len(), 20);
        assert!(check_password(&p).is_ok());
        assert!(check_password("short").is_err());
    }

    #[test]
    fn sign_in_is_limited_per_address_and_per_account() {
        let l = SignInLimiter::new(4);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        assert!(l.check(ip, "a").is_ok());
        assert!(l.check(ip, "a").is_ok());
        assert!(l.check(other, "A").is_err(), "the account's quota is shared by every address");
        assert!(l.check(ip, "b").is_ok());
        assert!(l.check(ip, "c").is_ok());
        assert!(l.check(ip, "d").is_err(), "the address's quota is spent");
    }
}
