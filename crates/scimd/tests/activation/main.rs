//! Activation emails end to end (product.md §2.1), against the real `scimd` binary and a real
//! SMTP server on loopback (`python3-aiosmtpd`; `scripts/test-all.sh` installs it).
//!
//! The outbox is configured with short polls and retries through `SCIMD_OUTBOX_*` variables
//! (see `harness::FAST_OUTBOX`), so outage tests finish in seconds.

/// Turns each `async fn name() { … }` into a module with a `sqlite` and a `postgres` test
/// (the backend reaches `Server::start` through the task-local [`harness::BACKEND`]).
#[macro_export]
macro_rules! both_backends {
    ($( async fn $name:ident() $body:block )*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run() $body

                #[tokio::test]
                async fn sqlite() {
                    $crate::harness::BACKEND.scope($crate::harness::Backend::Sqlite, run()).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if $crate::harness::skip_postgres() {
                        return;
                    }
                    $crate::harness::BACKEND.scope($crate::harness::Backend::Postgres, run()).await;
                }
            }
        )*
    };
}

mod flows;
mod harness;
mod outage;
