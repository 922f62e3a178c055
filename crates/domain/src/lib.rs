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
/// Fixed width, so text order is time order in every database. Written digit by digit: every
/// user in every response carries two of these, and `format!` was 2 % of a lookup's CPU.
pub fn format_timestamp(t: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    // Years outside 0..=9999 have no four-digit form; RFC 3339 §5.6 allows none.
    let year = t.year().clamp(0, 9999) as u32;
    let fields: [(u32, usize); 7] = [
        (year, 4),
        (u32::from(u8::from(t.month())), 2),
        (u32::from(t.day()), 2),
        (u32::from(t.hour()), 2),
        (u32::from(t.minute()), 2),
        (u32::from(t.second()), 2),
        (u32::from(t.millisecond()), 3),
    ];
    let mut text = String::with_capacity(24);
    for ((value, width), separator) in fields.into_iter().zip(['-', '-', 'T', ':', ':', '.', 'Z']) {
        for place in (0..width).rev() {
            let digit = (value / 10u32.pow(place as u32)) % 10;
            text.push(char::from(b'0' + digit as u8));
        }
        text.push(separator);
    }
    text
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

    #[test]
    fn timestamp_text_is_fixed_width_utc_with_milliseconds() {
        let t = time::macros::datetime!(2026-01-02 03:04:05.067 +02:00);
        assert_eq!(crate::format_timestamp(t), "2026-01-02T01:04:05.067Z");
        let t = time::macros::datetime!(0999-12-31 23:59:59.9 UTC);
        assert_eq!(crate::format_timestamp(t), "0999-12-31T23:59:59.900Z");
    }
}
