//! Evaluates a [`Filter`] against a JSON resource (RFC 7644 §3.4.2.2 semantics).
//! TODO(helper A): implement.

use super::ast::{AttrPath, Filter};
use serde_json::Value;

/// SCIM attribute data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl ValueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Boolean => "boolean",
            ValueKind::Decimal => "decimal",
            ValueKind::Integer => "integer",
            ValueKind::DateTime => "dateTime",
            ValueKind::Binary => "binary",
            ValueKind::Reference => "reference",
            ValueKind::Complex => "complex",
        }
    }
}

/// What the evaluator needs to know of the schema: the type of an attribute and whether its
/// string values compare case-exactly. `None` for unknown attributes (treated as
/// case-insensitive strings).
pub trait AttributeTypes {
    fn lookup(&self, path: &AttrPath) -> Option<(ValueKind, bool)>;
}

/// True when `resource` matches `filter`.
pub fn matches(filter: &Filter, resource: &Value, types: &dyn AttributeTypes) -> bool {
    let _ = (filter, resource, types);
    todo!()
}
