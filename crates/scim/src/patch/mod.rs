//! PATCH (RFC 7644 §3.5.2) with Entra ID's dialects (entra-wire.md §2.5, §2.10, quirks Q1–Q20).
//!
//! [`parse_patch_request`] reads a PatchOp body, [`split_member_ops`] takes group-membership
//! operations out (the server applies those to its membership table, never to a loaded member
//! list), and [`apply_patch`] applies the rest to a canonical resource, all or nothing.

mod apply;
mod members;

pub use apply::{PatchOutcome, apply_patch};
pub use members::{MemberOp, MemberRef, split_member_ops};

use crate::error::ScimError;
use crate::path::{PatchPath, parse_path};
use serde_json::Value;

/// URN of the PatchOp message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The three PATCH operations (RFC 7644 §3.5.2.1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

impl PatchOpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }

    /// Reads an `op` value case-insensitively: Entra sends `Add`/`Replace`/`Remove` (quirk Q1).
    pub fn parse(s: &str) -> Option<Self> {
        [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// One PATCH operation. `value` is `Some(Value::Null)` when the client sent `"value": null`, which
/// for add/replace clears the attribute (quirk Q17).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// The value of the first key of `obj` equal to `name` ignoring case (Entra and Postman vary the
/// case of JSON keys, quirk Q20).
fn get_ci<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Reads a PatchOp request body (RFC 7644 §3.5.2).
///
/// Lenient where Entra and the Postman suite need it: the `Operations` key and `op` values are
/// matched case-insensitively (Q1), the `schemas` content and unknown keys (Postman's top-level
/// `id`, an operation's `name`) are ignored. Strict where silence would lose data: an empty
/// `Operations` array is `invalidValue`, and `remove` without `path` is `invalidPath`
/// (RFC 7644 §3.5.2.2).
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax("a PATCH body must be a JSON object (RFC 7644 §3.5.2)"));
    };
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(_) => {
            return Err(ScimError::invalid_syntax("'Operations' must be an array of operations (RFC 7644 §3.5.2)"));
        }
        None => {
            return Err(ScimError::invalid_syntax("a PATCH body must contain an 'Operations' array (RFC 7644 §3.5.2)"));
        }
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_value("'Operations' is empty: nothing to apply"));
    }
    ops.iter().enumerate().map(|(i, op)| parse_operation(op).map_err(|e| in_operation(e, i, None))).collect()
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(obj) = op else {
        return Err(ScimError::invalid_syntax("an operation must be a JSON object"));
    };
    let kind = match get_ci(obj, "op") {
        Some(Value::String(s)) => PatchOpKind::parse(s).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "unknown op {}; expected add, replace or remove (RFC 7644 §3.5.2)",
                Value::String(s.clone())
            ))
        })?,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!("'op' must be a string, not {other}")));
        }
        None => return Err(ScimError::invalid_syntax("operation without 'op'")),
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        // Some clients send an empty path for "the resource itself".
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s)?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!("'path' must be a string, not {other}")));
        }
    };
    let value = get_ci(obj, "value").cloned();
    match kind {
        PatchOpKind::Remove if path.is_none() => {
            Err(ScimError::invalid_path("remove requires a path (RFC 7644 §3.5.2.2)"))
        }
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => Err(ScimError::invalid_value(format!(
            "{} requires a value (RFC 7644 §3.5.2.{})",
            kind.as_str(),
            if kind == PatchOpKind::Add { 1 } else { 3 }
        ))),
        _ => Ok(PatchOperation { op: kind, path, value }),
    }
}

/// Prefixes an error's detail with the (1-based) operation it came from, so the administrator
/// reading Entra's provisioning log knows which mapping is at fault.
fn in_operation(mut e: ScimError, index: usize, op: Option<&PatchOperation>) -> ScimError {
    let what = match op {
        Some(PatchOperation { op, path: Some(p), .. }) => format!(" ({} {p})", op.as_str()),
        Some(PatchOperation { op, path: None, .. }) => format!(" ({})", op.as_str()),
        None => String::new(),
    };
    e.detail = format!("operation {}{what}: {}", index + 1, e.detail);
    e
}
