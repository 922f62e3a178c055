//! Black-box tests of the admin REST API (`/api/v1`), the console over plain HTTP, the admin
//! CLI, and the provisioning-source conflict rules of product.md §2.4 now that users can be
//! created outside SCIM. The real binary, over loopback, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../scim/common/mod.rs"]
mod common;

mod api;
mod cli;
mod console;
mod openapi;
mod support;
