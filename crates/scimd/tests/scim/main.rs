//! Black-box HTTP tests of scimd: the real binary, over loopback, as Microsoft Entra ID
//! provisions it (issue 2: SCIM core; issue 3: MFA directory semantics).
//!
//! One test binary for every module, to link once. Each test starts its own server.

#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

mod auth_errors;
mod discovery;
mod edge_cases;
mod groups;
mod isolation;
mod lifecycle;
mod ops;
mod provisioning_log;
mod users;
