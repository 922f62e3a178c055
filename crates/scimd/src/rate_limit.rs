//! Per-token rate limiting (GCRA, `governor`). The default is far above Entra's pace (Entra
//! sends at most a few dozen requests per second per job), so it only stops runaway clients.
//! Beyond it: 429 with `Retry-After` and a SCIM Error body.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;

pub struct TokenLimiter {
    limiter: Option<DefaultKeyedRateLimiter<i64>>,
}

impl TokenLimiter {
    /// `per_second` requests per second per token, with bursts of the same size; 0 disables.
    pub fn new(per_second: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_second(n)));
        Self { limiter }
    }

    /// `Err(seconds)` to wait when the token is over its rate.
    pub fn check(&self, token_id: i64) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&token_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}
