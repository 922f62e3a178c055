//! Crash safety and graceful shutdown of the real `scimd serve` process (issue 8), on SQLite
//! and PostgreSQL:
//! - `sigkill`: SIGKILL at random moments under concurrent Entra-shaped traffic; after each
//!   restart every write answered 2xx is there and nothing is half-applied (checked over HTTP
//!   and directly in the database);
//! - `sigterm`: SIGTERM finishes in-flight requests, refuses new connections, exits 0 within a
//!   bound and leaves no outbox email claimed; SQLite's database file alone then holds every
//!   change (also after a CLI command).
//!
//! PostgreSQL variants need `TEST_DATABASE_URL` (skipped only with SCIMD_TEST_SKIP_POSTGRES=1).

#![allow(clippy::unwrap_used)]

mod integrity;
mod proc;
mod sigkill;
mod sigterm;
