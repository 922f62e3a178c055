//! SCIM 2.0 protocol layer (RFC 7643 / RFC 7644).
//!
//! Everything here is pure: parsing filters and paths, applying PATCH operations to JSON
//! resources, schema definitions and discovery documents, projection (`attributes` /
//! `excludedAttributes`), list responses and error bodies. Nothing in this crate knows about
//! storage, HTTP frameworks or the MFA domain.

pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod projection;
pub mod schema;

pub use error::{ScimError, ScimType};
