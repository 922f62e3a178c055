//! The MFA directory's rules, independent of HTTP and SQL.
//!
//! - [`service`]: tenants and their parameters (activation email, unknown attributes, limits);
//! - [`user`]: users, activation status, block reasons, provisioning source;
//! - [`group`]: groups, membership deltas, tombstones of deleted groups;
//! - [`limits`]: which logins and group names the MFA directory accepts;
//! - [`query`]: protocol-neutral user and group queries that stores compile to SQL;
//! - [`token`]: API tokens (scope, expiry, revocation);
//! - [`audit`]: the provisioning log;
//! - [`activation`]: when an activation code may be redeemed or reissued;
//! - [`admin`]: console administrators, sessions, dashboard statistics;
//! - [`outbox`]: queued emails, leases, retry schedule and dead-lettering;
//! - [`ports`]: the storage trait every backend implements.

pub mod activation;
pub mod admin;
pub mod audit;
pub mod error;
pub mod group;
pub mod limits;
pub mod outbox;
pub mod ports;
pub mod query;
pub mod service;
pub mod token;
pub mod user;

pub use error::DomainError;

/// Timestamps everywhere are UTC instants.
pub type Timestamp = time::OffsetDateTime;

/// A new resource id (`id` of a user or group, RFC 7643 §3.1): a UUID version 7, whose leading
/// bits are the creation time. New ids land at the end of the id index instead of on a random
/// page, so a batch of creates dirties one index page, not one per create (docs/performance.md).
pub fn new_resource_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Current time, truncated to milliseconds so that what is stored is what is returned.
pub fn now() -> Timestamp {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond((t.nanosecond() / 1_000_000) * 1_000_000).unwrap_or(t)
}

/// The stored text form of a timestamp: RFC 3339, UTC, milliseconds (`2026-11-28T15:52:28.123Z`).
/// Fixed width, so text order is time order in every database.
pub fn format_timestamp(t: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses any RFC 3339 timestamp (the stored form included).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn timestamp_text_round_trips() {
        let t = crate::now();
        assert_eq!(crate::parse_timestamp(&crate::format_timestamp(t)), Some(t));
    }
}
