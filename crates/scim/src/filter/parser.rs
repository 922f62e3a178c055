//! Recursive-descent parser for the filter grammar of RFC 7644 §3.4.2.2.
//! TODO(helper A): implement.

use super::ast::{AttrPath, Filter};
use crate::error::ScimError;

/// Longest filter text accepted; longer ones are refused with `invalidFilter`.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses / `not` / value paths accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    let _ = input;
    todo!()
}

/// Parses a bare attribute path (`name.givenName`, `urn:…:User:employeeNumber`).
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ScimError> {
    let _ = input;
    todo!()
}
