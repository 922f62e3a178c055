//! Group membership operations, kept out of the JSON resource.
//!
//! The server keeps members in a table of its own and must never load a whole member list (a
//! group may have 100,000 members), so membership PATCH operations are turned into set
//! operations here and the server applies them directly (entra-wire.md §2.10.3–4).

use super::{PatchOpKind, PatchOperation, get_ci, in_operation};
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::path::PatchPath;
use crate::schema::{GROUP_SCHEMA, show};
use serde_json::{Map, Value};

/// A member named in a PATCH: its id and the display text the client sent with it (`display`,
/// or Postman's `displayName`), which the server stores and returns (entra-wire.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    pub display: Option<String>,
}

/// A set operation on a group's members, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Add these members (adding an existing member is a no-op).
    Add(Vec<MemberRef>),
    /// Remove exactly these member ids (removing a non-member is a no-op).
    Remove(Vec<String>),
    /// Remove every member: only for `remove` on `members` with neither value nor filter.
    RemoveAll,
    /// The members become exactly these.
    Replace(Vec<MemberRef>),
}

/// True for `members` and `urn:ietf:params:scim:schemas:core:2.0:Group:members`.
fn is_members_path(p: &PatchPath) -> bool {
    p.attr.eq_ignore_ascii_case("members") && p.uri.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

fn is_members_key(key: &str) -> bool {
    if key.eq_ignore_ascii_case("members") {
        return true;
    }
    key.len() == GROUP_SCHEMA.len() + 8
        && key.get(..GROUP_SCHEMA.len()).is_some_and(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
        && key.get(GROUP_SCHEMA.len()..).is_some_and(|a| a.eq_ignore_ascii_case(":members"))
}

/// Takes every operation addressing `members` out of `ops`, in order, as [`MemberOp`]s; the other
/// operations are returned for [`super::apply_patch`].
///
/// Forms accepted (entra-wire.md §2.10.3–4, quirk Q3):
/// * `add` `members` with `[{"value":id, "display"|"displayName":…, "$ref":null}]`, a single
///   object, or a bare id string (Postman) → [`MemberOp::Add`];
/// * `remove` `members` **with** a value list → [`MemberOp::Remove`] of only those ids: Entra's
///   default dialect removes members this way, and treating it as "remove the attribute" would
///   empty the group;
/// * `remove` `members[value eq "a" or value eq "b"]` → [`MemberOp::Remove`] of those ids;
/// * `remove` `members` with neither value nor filter → [`MemberOp::RemoveAll`] (RFC 7644
///   §3.5.2.2);
/// * `replace` `members` → [`MemberOp::Replace`];
/// * a no-path `add`/`replace` whose value object has a `members` key → that key as
///   [`MemberOp::Add`]/[`MemberOp::Replace`]; the rest of the object stays an operation.
pub fn split_member_ops(ops: Vec<PatchOperation>) -> Result<(Vec<PatchOperation>, Vec<MemberOp>), ScimError> {
    let mut rest = Vec::with_capacity(ops.len());
    let mut members = Vec::new();
    for (i, op) in ops.into_iter().enumerate() {
        split_one(op, i, &mut rest, &mut members)?;
    }
    Ok((rest, members))
}

/// Sorts operation number `index` into `rest` or `members`; errors name the operation.
fn split_one(
    op: PatchOperation,
    index: usize,
    rest: &mut Vec<PatchOperation>,
    members: &mut Vec<MemberOp>,
) -> Result<(), ScimError> {
    match &op.path {
        Some(p) if is_members_path(p) => match member_op(&op, p) {
            Ok(m) => {
                members.push(m);
                Ok(())
            }
            Err(e) => Err(in_operation(e, index, Some(&op))),
        },
        Some(_) => {
            rest.push(op);
            Ok(())
        }
        None => {
            let PatchOperation { op: kind, value, path } = op;
            let Some(Value::Object(mut obj)) = value else {
                rest.push(PatchOperation { op: kind, path, value });
                return Ok(());
            };
            let keys: Vec<String> = obj.keys().filter(|k| is_members_key(k)).cloned().collect();
            for key in keys {
                let Some(v) = obj.remove(&key) else { continue };
                let refs = match member_refs(&v) {
                    Ok(r) => r,
                    Err(e) => {
                        let mut back = Map::new();
                        back.insert(key, v);
                        let op = PatchOperation { op: kind, path: None, value: Some(Value::Object(back)) };
                        return Err(in_operation(e, index, Some(&op)));
                    }
                };
                members.push(match kind {
                    PatchOpKind::Replace => MemberOp::Replace(refs),
                    _ => MemberOp::Add(refs),
                });
            }
            if !obj.is_empty() {
                rest.push(PatchOperation { op: kind, path, value: Some(Value::Object(obj)) });
            }
            Ok(())
        }
    }
}

fn member_op(op: &PatchOperation, p: &PatchPath) -> Result<MemberOp, ScimError> {
    if p.sub_attr.is_some() {
        return Err(ScimError::invalid_path(format!(
            "'{p}': member operations address 'members' or 'members[value eq \"<id>\"]'"
        )));
    }
    match (op.op, &p.filter) {
        (PatchOpKind::Remove, Some(f)) => value_eq_ids(f).map(MemberOp::Remove).ok_or_else(|| {
            ScimError::invalid_filter(format!(
                "unsupported members filter '{f}': use value eq \"<id>\", optionally joined with or"
            ))
        }),
        (PatchOpKind::Remove, None) => match &op.value {
            None | Some(Value::Null) => Ok(MemberOp::RemoveAll),
            Some(v) => Ok(MemberOp::Remove(member_refs(v)?.into_iter().map(|m| m.value).collect())),
        },
        (_, Some(_)) => Err(ScimError::invalid_path(format!(
            "'{p}': {} on members takes the path 'members' and a list of members",
            op.op.as_str()
        ))),
        (PatchOpKind::Add, None) => Ok(MemberOp::Add(member_refs(op.value.as_ref().unwrap_or(&Value::Null))?)),
        (PatchOpKind::Replace, None) => Ok(MemberOp::Replace(member_refs(op.value.as_ref().unwrap_or(&Value::Null))?)),
    }
}

/// `value eq "a" or value eq "b"` → `[a, b]`; anything else → `None`.
fn value_eq_ids(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value }
            if path.uri.is_none() && path.sub_attr.is_none() && path.attr.eq_ignore_ascii_case("value") =>
        {
            match value {
                CompValue::Str(s) => Some(vec![s.clone()]),
                CompValue::Num(n) => Some(vec![n.to_string()]),
                CompValue::Bool(_) | CompValue::Null => None,
            }
        }
        Filter::Or(a, b) => {
            let mut v = value_eq_ids(a)?;
            v.extend(value_eq_ids(b)?);
            Some(v)
        }
        _ => None,
    }
}

/// The members of a value: an array of member objects or ids, one object, or one id.
fn member_refs(v: &Value) -> Result<Vec<MemberRef>, ScimError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().filter(|x| !x.is_null()).map(member_ref).collect(),
        other => Ok(vec![member_ref(other)?]),
    }
}

fn member_ref(v: &Value) -> Result<MemberRef, ScimError> {
    let (id, display) = match v {
        Value::Object(m) => {
            let display =
                ["display", "displayName"].iter().find_map(|k| get_ci(m, k).and_then(Value::as_str)).map(str::to_owned);
            (get_ci(m, "value"), display)
        }
        other => (Some(other), None),
    };
    let value = match id {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ScimError::invalid_value(format!(
                "a member must be an object with a non-empty 'value' holding the member's id, \
                 or the id itself; got {}",
                show(v)
            )));
        }
    };
    Ok(MemberRef { value, display })
}
