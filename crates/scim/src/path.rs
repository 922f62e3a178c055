//! PATCH paths (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`.
//!
//! Accepted forms (see `entra-wire.md` §2.5, §2.10 and quirks Q3, Q7, Q8):
//! `userName`, `name.givenName`, `emails[type eq "work"].value`, `members[value eq "id"]`,
//! `urn:…:enterprise:2.0:User:manager`, `urn:…:enterprise:2.0:User.department` (pre-2018 dot
//! form), and a bare extension URN (`urn:…:enterprise:2.0:User`, the whole extension object).

use crate::error::ScimError;
use crate::filter::Filter;
use crate::filter::parser::{is_attr_name, is_path_byte, parse_bracket_filter, split_attr_token};
use std::fmt;

/// Longest PATCH path accepted; the same bound as a filter since a path embeds one.
const MAX_PATH_LEN: usize = crate::filter::MAX_FILTER_LEN;

#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub uri: Option<String>,
    /// Empty when the path is a bare schema URN (the whole extension object).
    pub attr: String,
    /// `members[value eq "x"]`, `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// `name.givenName` → `givenName`; `emails[type eq "work"].value` → `value`.
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// The attribute part as a filter [`crate::filter::AttrPath`] (dropping any value filter).
    pub fn attr_path(&self) -> crate::filter::AttrPath {
        crate::filter::AttrPath { uri: self.uri.clone(), attr: self.attr.clone(), sub_attr: self.sub_attr.clone() }
    }
}

/// Canonical text: `[uri ":"] attr ["[" filter "]"] ["." sub]`; re-parses to an equal path.
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            f.write_str(uri)?;
            if !self.attr.is_empty() {
                f.write_str(":")?;
            }
        }
        f.write_str(&self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

fn invalid(input: &str, why: impl fmt::Display) -> ScimError {
    ScimError::invalid_path(format!("invalid path '{input}': {why}"))
}

/// Parses a PATCH operation's `path` (RFC 7644 §3.5.2). Surrounding whitespace is ignored.
/// Every error is `400 invalidPath` naming the path (RFC 7644 §3.5.2: "If the target location
/// path is invalid, return invalidPath"), including errors in the bracket filter.
pub fn parse_path(input: &str) -> Result<PatchPath, ScimError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ScimError::invalid_path("empty path"));
    }
    if text.len() > MAX_PATH_LEN {
        return Err(ScimError::invalid_path(format!("path is longer than the limit of {MAX_PATH_LEN} bytes")));
    }
    let tok_end = text.bytes().position(|b| !is_path_byte(b)).unwrap_or(text.len());
    let tok = text.get(..tok_end).unwrap_or("");
    let rest = text.get(tok_end..).unwrap_or("");
    if tok.is_empty() {
        return Err(invalid(text, "expected an attribute name"));
    }
    let base = split_attr_token(tok).map_err(|e| invalid(text, e))?;
    if rest.is_empty() {
        return Ok(PatchPath { uri: base.uri, attr: base.attr, filter: None, sub_attr: base.sub_attr });
    }
    // valuePath [subAttr]
    let Some(after_bracket) = rest.strip_prefix('[') else {
        return Err(invalid(
            text,
            format_args!("unexpected '{}' at position {tok_end}", rest.chars().next().unwrap_or(' ')),
        ));
    };
    if base.attr.is_empty() {
        return Err(invalid(text, "a value filter needs an attribute, not a bare schema URN"));
    }
    if base.sub_attr.is_some() {
        return Err(invalid(text, "a value filter applies to a multi-valued attribute, not a sub-attribute"));
    }
    let (filter, consumed) = parse_bracket_filter(after_bracket).map_err(|e| invalid(text, e.detail))?;
    let tail = after_bracket.get(consumed..).unwrap_or("");
    let sub_attr = if tail.is_empty() {
        None
    } else {
        match tail.strip_prefix('.') {
            Some(sub) if is_attr_name(sub) => Some(sub.to_owned()),
            _ => return Err(invalid(text, format_args!("unexpected '{tail}' after ']'"))),
        }
    };
    Ok(PatchPath { uri: base.uri, attr: base.attr, filter: Some(filter), sub_attr })
}
