//! Activation emails end to end (product.md §2.1), against the real `scimd` binary and a real
//! SMTP server on loopback (`python3-aiosmtpd`; `scripts/test-all.sh` installs it).
//!
//! The outbox is configured with short polls and retries through `SCIMD_OUTBOX_*` variables
//! (see `harness::FAST_OUTBOX`), so outage tests finish in seconds.

mod flows;
mod harness;
mod outage;
