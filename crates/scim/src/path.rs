//! PATCH paths (RFC 7644 §3.5.2): `attrPath / valuePath [subAttr]`.
//! TODO(helper A): implement.

use crate::error::ScimError;
use crate::filter::Filter;

#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub uri: Option<String>,
    pub attr: String,
    /// `members[value eq "x"]`, `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// `name.givenName` → `givenName`; `emails[type eq "work"].value` → `value`.
    pub sub_attr: Option<String>,
}

pub fn parse_path(input: &str) -> Result<PatchPath, ScimError> {
    let _ = input;
    todo!()
}
