//! Filter abstract syntax tree (RFC 7644 §3.4.2.2).

use serde_json::Number;

/// `attrPath = [URI ":"] ATTRNAME *1subAttr`. Names keep the case the client sent; every
/// comparison of names is case-insensitive (RFC 7643 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub uri: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    pub fn new(attr: impl Into<String>) -> Self {
        Self { uri: None, attr: attr.into(), sub_attr: None }
    }
    pub fn with_sub(attr: impl Into<String>, sub: impl Into<String>) -> Self {
        Self { uri: None, attr: attr.into(), sub_attr: Some(sub.into()) }
    }
}

/// Comparison operators of RFC 7644 §3.4.2.2, table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// `compValue = false / null / true / number / string` (RFC 7644 §3.4.2.2). Entra sometimes
/// sends unquoted words (`externalId eq jyoung`, GUIDs); the parser reads those as `Str`.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    /// `attrPath "[" valFilter "]"`: some element of the multi-valued `path` matches `filter`,
    /// whose paths are relative to the element (sub-attribute names). Entra's
    /// `emails[type eq "work"].value eq "x"` is read as
    /// `emails[type eq "work" and value eq "x"]`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}
