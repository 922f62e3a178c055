//! scimd: the server wiring. Protocol rules live in the `scim` crate, directory rules in
//! `domain`, persistence in `store`; this crate connects them to HTTP and the command line.
//!
//! - [`settings`]: typed configuration (flags and `SCIMD_*` environment variables);
//! - [`startup`]: builds the application, binds, serves, shuts down gracefully;
//! - [`scim_api`]: the SCIM 2.0 endpoints (Entra ID's provisioning target);
//! - [`tokens`]: API token generation, hashing and checking;
//! - [`audit`]: the provisioning-log writer;
//! - [`activation`], [`activation_page`]: activation codes and the `/activate` page;
//! - [`outbox_worker`]: delivers queued emails (SMTP or .eml files) with retries;
//! - [`mail_cli`]: `scimd user resend-activation`, `scimd outbox list|retry`.

pub mod activation;
pub mod activation_page;
pub mod admin_api;
pub mod admin_auth;
pub mod admin_cli;
pub mod admin_ops;
pub mod audit;
pub mod console;
pub mod mail_cli;
pub mod outbox_worker;
pub mod rate_limit;
pub mod scim_api;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tokens;
