//! The email outbox (product.md §2.1): messages queued in the same transaction as the change
//! that causes them, then delivered by a worker with retries.
//!
//! The rules here are pure so that every backend and the worker agree on them:
//! - a message is delivered *at least once*: it stays `pending` until a send succeeded;
//! - a worker *leases* the messages it claims, and no other worker claims them while the
//!   lease holds, so two `scimd` processes never send one message twice in that time;
//! - a failed send is retried after an exponentially growing, jittered delay, and after
//!   [`RetryPolicy::max_attempts`] failures the message is dead-lettered (`dead`) where an
//!   administrator sees it (`scimd outbox list --dead`) and can requeue it.

use crate::Timestamp;
use crate::service::ServiceId;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// Accepted by the mail server (or written to a file); its secrets are scrubbed.
    Sent,
    /// Given up after too many failures, or refused permanently; needs an administrator.
    Dead,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Dead => "dead",
        }
    }
}

impl FromStr for OutboxState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "sent" => Ok(Self::Sent),
            "dead" => Ok(Self::Dead),
            _ => Err(format!("unknown outbox state {s:?}")),
        }
    }
}

impl fmt::Display for OutboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queued message as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Stable for the life of the message; the Message-ID is derived from it, so a retry of
    /// the same row carries the same Message-ID and receivers can drop a duplicate.
    pub id: i64,
    pub service: ServiceId,
    /// The user the message is about, when there is one (activation emails).
    pub user_id: Option<String>,
    pub recipient: String,
    /// The template to render (`activation`).
    pub template: String,
    /// What the template needs. Secrets (the activation link) are removed once sent.
    pub payload: serde_json::Value,
    pub state: OutboxState,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// A worker's lease on the messages it claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Who holds the lease (unique per worker: host, process and a random part).
    pub worker: String,
    /// Only messages due at this instant are claimed; the lease is measured from it.
    pub now: Timestamp,
    /// Until when the claimed messages belong to this worker. Must outlast a send, or
    /// another worker could claim and send the same message.
    pub until: Timestamp,
    /// Most messages claimed at once.
    pub limit: u32,
}

/// What a failed delivery attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Try again at this instant.
    RetryAt(Timestamp),
    /// Stop trying: the message becomes `dead`.
    Dead,
}

/// Retry schedule of the outbox worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry; each further failure doubles it.
    pub base: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
    /// Failed attempts after which a message is dead-lettered.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// One minute, doubling up to six hours, ten attempts: about eight and a half hours of
    /// outage are bridged before a message needs an administrator.
    fn default() -> Self {
        Self { base: Duration::from_secs(60), max_delay: Duration::from_secs(6 * 3600), max_attempts: 10 }
    }
}

impl RetryPolicy {
    /// The nominal delay after the `failures`-th failure (1-based), before jitter:
    /// `base · 2^(failures-1)`, capped at `max_delay`.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << exp).min(self.max_delay)
    }

    /// Decides what follows a failure. `failures` counts this one; `permanent` is true when
    /// the mail server refused for good (5xx, invalid address), so retrying cannot help.
    /// `jitter` in `[0, 1)` spreads retries ("equal jitter": between half and all of the
    /// nominal delay), so that messages failed together during an outage do not all come
    /// back in the same instant.
    pub fn after_failure(&self, failures: u32, permanent: bool, now: Timestamp, jitter: f64) -> FailureOutcome {
        if permanent || failures >= self.max_attempts {
            return FailureOutcome::Dead;
        }
        let nominal = self.delay(failures);
        let factor = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
        let delay = nominal.mul_f64(factor);
        let delay = time::Duration::try_from(delay).unwrap_or(time::Duration::HOUR);
        FailureOutcome::RetryAt(now + delay)
    }
}

/// Pending and dead messages (metrics, dashboards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub dead: u64,
}

/// Keys of a payload that hold secrets. They are needed only to render the message, and are
/// removed from the stored payload once it was sent, so the database keeps no usable code.
pub const SECRET_PAYLOAD_KEYS: [&str; 2] = ["link", "code"];

/// The payload without its secrets (what is kept after sending).
pub fn scrub_payload(payload: &serde_json::Value) -> serde_json::Value {
    let mut scrubbed = payload.clone();
    if let Some(obj) = scrubbed.as_object_mut() {
        for key in SECRET_PAYLOAD_KEYS {
            obj.remove(key);
        }
    }
    scrubbed
}

/// Shows an address the way logs may: `j***@e***.com`. Recipients are personal data, so a
/// log line carries only enough to tell messages apart.
pub fn mask_email(address: &str) -> String {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return "***".to_owned();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let (host, tld) = match domain.rsplit_once('.') {
        Some((host, tld)) => (host, format!(".{tld}")),
        None => (domain, String::new()),
    };
    format!("{}***@{}***{}", first(local), first(host), tld)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        time::macros::datetime!(2026-01-01 00:00 UTC)
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy { base: Duration::from_secs(1), max_delay: Duration::from_secs(10), max_attempts: 5 };
        let d: Vec<u64> = (1..=6).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 10, 10]);
        assert_eq!(p.delay(200), Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_delay() {
        let p = RetryPolicy { base: Duration::from_secs(8), max_delay: Duration::from_secs(100), max_attempts: 5 };
        for (jitter, ms) in [(0.0, 4000), (0.5, 6000), (0.75, 7000), (7.0, 8000)] {
            let FailureOutcome::RetryAt(at) = p.after_failure(1, false, t0(), jitter) else { panic!("dead") };
            assert_eq!((at - t0()).whole_milliseconds(), ms, "jitter {jitter}");
        }
    }

    #[test]
    fn dead_after_max_attempts_or_a_permanent_refusal() {
        let p = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        assert!(matches!(p.after_failure(2, false, t0(), 0.3), FailureOutcome::RetryAt(_)));
        assert_eq!(p.after_failure(3, false, t0(), 0.3), FailureOutcome::Dead);
        assert_eq!(p.after_failure(1, true, t0(), 0.3), FailureOutcome::Dead);
    }

    #[test]
    fn scrubbing_removes_the_link_only() {
        let p = serde_json::json!({"link": "https://x/activate?code=abc", "code": "abc", "service": "s"});
        assert_eq!(scrub_payload(&p), serde_json::json!({"service": "s"}));
    }

    #[test]
    fn masks_addresses() {
        assert_eq!(mask_email("jane.doe@example.com"), "j***@e***.com");
        assert_eq!(mask_email("x@localhost"), "x***@l***");
        assert_eq!(mask_email("nonsense"), "***");
    }
}
