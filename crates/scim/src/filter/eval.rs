//! Evaluates a [`Filter`] against a JSON resource (RFC 7644 §3.4.2.2 semantics).
//!
//! Resources are in canonical form: core attributes at the top level, extension attributes in an
//! object under their schema URN key. Attribute names are matched case-insensitively
//! (RFC 7643 §2.1), which also absorbs Entra's `name.FamilyName` / `meta.Created` spellings
//! (quirk Q20).

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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

/// An [`AttributeTypes`] that knows nothing: every attribute is a case-insensitive string
/// (or, for JSON booleans and numbers, compared as such).
impl AttributeTypes for () {
    fn lookup(&self, _path: &AttrPath) -> Option<(ValueKind, bool)> {
        None
    }
}

/// Prefix of the core schema URNs (`…:core:2.0:User`, `…:core:2.0:Group`): attributes of these
/// schemas live at the top level of a resource, not under a URN key (RFC 7643 §3).
pub(crate) const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// True when `uri` is a core schema URN, whose attributes sit at the top level.
pub(crate) fn is_core_urn(uri: &str) -> bool {
    uri.get(..CORE_URN_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(CORE_URN_PREFIX))
}

/// True when a top-level key names an extension schema object.
pub(crate) fn is_urn_key(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// Case-insensitive member lookup (RFC 7643 §2.1: attribute names are case-insensitive).
/// An exact match wins over a case-folded one.
pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// Finds the value of `path.uri` + `path.attr` (ignoring the sub-attribute) in `resource`.
///
/// With a URI, the attribute is looked up in that extension object (or at the top level for a
/// core URN). Without one, the top level is tried first, then every extension object, so that
/// `manager eq "x"` and `employeeNumber pr` work unprefixed.
pub(crate) fn locate_attr<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let top = resource.as_object()?;
    match &path.uri {
        Some(uri) if is_core_urn(uri) => get_ci(top, &path.attr),
        Some(uri) => get_ci(get_ci(top, uri)?.as_object()?, &path.attr),
        None => get_ci(top, &path.attr).filter(|v| !v.is_null()).or_else(|| {
            top.iter()
                .filter(|(k, v)| is_urn_key(k) && v.is_object())
                .find_map(|(_, v)| v.as_object().and_then(|o| get_ci(o, &path.attr)))
        }),
    }
}

/// Looks an attribute up in an element of a multi-valued attribute (relative path of a value
/// filter): no URN handling, just `attr`.
fn locate_relative<'a>(element: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    get_ci(element.as_object()?, &path.attr)
}

/// The leaf values a comparison looks at, nulls dropped.
///
/// * with a sub-attribute: that member of the complex value, or of every element of a
///   multi-valued one;
/// * without: the value itself, every element of an array, and for complex values (single or in
///   an array) their `value` sub-attribute (RFC 7644 §3.4.2.2: "If the attribute is complex and
///   multi-valued with no sub-attribute, the `value` sub-attribute is used").
fn leaves<'a>(attr: &'a Value, sub: Option<&str>, out: &mut Vec<&'a Value>) {
    fn push<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Null => {}
            Value::Array(items) => out.extend(items.iter().filter(|i| !i.is_null())),
            v => out.push(v),
        }
    }
    let elems: Vec<&Value> = match attr {
        Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    for e in elems {
        match (e, sub) {
            (Value::Object(o), Some(s)) => {
                if let Some(v) = get_ci(o, s) {
                    push(v, out);
                }
            }
            (_, Some(_)) => {}
            (Value::Object(o), None) => {
                if let Some(v) = get_ci(o, "value") {
                    push(v, out);
                }
            }
            (Value::Null, None) => {}
            (v, None) => out.push(v),
        }
    }
}

/// RFC 7644 §3.4.2.2 `pr`: the attribute has a non-empty value — not null, not `""`, not `[]`,
/// not `{}`.
pub(crate) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Where attribute paths are resolved: the resource itself, or one element of a multi-valued
/// attribute inside a value filter (`emails[type eq "work"]`), whose paths are relative.
#[derive(Clone, Copy)]
enum Scope<'p> {
    Root,
    Element(&'p AttrPath),
}

impl Scope<'_> {
    fn locate<'v>(&self, container: &'v Value, path: &AttrPath) -> Option<&'v Value> {
        match self {
            Scope::Root => locate_attr(container, path),
            Scope::Element(_) => locate_relative(container, path),
        }
    }

    /// The full path to ask the schema about: inside `emails[...]`, `type` is `emails.type`.
    fn schema_path(&self, path: &AttrPath) -> AttrPath {
        match (self, &path.sub_attr) {
            (Scope::Element(outer), None) => {
                AttrPath { uri: outer.uri.clone(), attr: outer.attr.clone(), sub_attr: Some(path.attr.clone()) }
            }
            _ => path.clone(),
        }
    }
}

/// True when `resource` matches `filter`.
pub fn matches(filter: &Filter, resource: &Value, types: &dyn AttributeTypes) -> bool {
    eval(filter, resource, types, Scope::Root)
}

fn eval(filter: &Filter, container: &Value, types: &dyn AttributeTypes, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(l, r) => eval(l, container, types, scope) && eval(r, container, types, scope),
        Filter::Or(l, r) => eval(l, container, types, scope) || eval(r, container, types, scope),
        Filter::Not(inner) => !eval(inner, container, types, scope),
        Filter::Present(path) => present(container, path, scope),
        Filter::Compare { path, op, value } => compare_attr(container, path, *op, value, types, scope),
        Filter::ValuePath { path, filter } => {
            let Some(attr) = scope.locate(container, path) else {
                return false;
            };
            // `name.x[...]` is not RFC grammar but is representable: descend into the sub first.
            let attr = match &path.sub_attr {
                Some(sub) => match attr.as_object().and_then(|o| get_ci(o, sub)) {
                    Some(v) => v,
                    None => return false,
                },
                None => attr,
            };
            // A nested value path is resolved against the outermost schema path, the best
            // approximation available for a construct RFC 7644 does not define.
            let inner_scope = match scope {
                Scope::Root => Scope::Element(path),
                Scope::Element(outer) => Scope::Element(outer),
            };
            match attr {
                Value::Array(items) => {
                    items.iter().filter(|e| e.is_object()).any(|e| eval(filter, e, types, inner_scope))
                }
                // Single-valued complex attribute (`manager[value eq "x"]`, `name[givenName …]`).
                Value::Object(_) => eval(filter, attr, types, inner_scope),
                _ => false,
            }
        }
    }
}

fn present(container: &Value, path: &AttrPath, scope: Scope<'_>) -> bool {
    let Some(attr) = scope.locate(container, path) else {
        return false;
    };
    match &path.sub_attr {
        None => is_present(attr),
        Some(sub) => {
            let mut out = Vec::new();
            leaves(attr, Some(sub), &mut out);
            out.into_iter().any(is_present)
        }
    }
}

/// Type and case-exactness of `path`. A complex attribute compared without sub-attribute is
/// compared through its `value` sub-attribute (RFC 7644 §3.4.2.2), so when `path` has no
/// sub-attribute and is declared complex (or not declared at all), `path.value` is asked.
pub(crate) fn kind_of(types: &dyn AttributeTypes, path: &AttrPath) -> Option<(ValueKind, bool)> {
    let direct = types.lookup(path);
    if path.sub_attr.is_some() || !matches!(direct, None | Some((ValueKind::Complex, _))) {
        return direct;
    }
    let value_path = AttrPath { uri: path.uri.clone(), attr: path.attr.clone(), sub_attr: Some("value".to_owned()) };
    types.lookup(&value_path).or(direct).filter(|(k, _)| *k != ValueKind::Complex)
}

fn compare_attr(
    container: &Value,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
    types: &dyn AttributeTypes,
    scope: Scope<'_>,
) -> bool {
    // `ne` is the negation of `eq`: a missing attribute is "not equal", and a multi-valued one
    // is "not equal" when no element equals.
    if op == CompareOp::Ne {
        return !compare_attr(container, path, CompareOp::Eq, value, types, scope);
    }
    // `eq null` asks whether the attribute has no value (RFC 7643 §2.5: null ≡ unassigned).
    if matches!(value, CompValue::Null) {
        return op == CompareOp::Eq && !present(container, path, scope);
    }
    let Some(attr) = scope.locate(container, path) else {
        return false;
    };
    let mut candidates = Vec::new();
    leaves(attr, path.sub_attr.as_deref(), &mut candidates);
    if candidates.is_empty() {
        return false;
    }
    let declared = kind_of(types, &scope.schema_path(path));
    candidates.into_iter().any(|c| {
        let (kind, case_exact) = declared.unwrap_or_else(|| (infer_kind(c), false));
        compare_value(c, op, value, kind, case_exact)
    })
}

/// For undeclared attributes: JSON booleans and numbers compare as such, everything else as a
/// case-insensitive string.
fn infer_kind(v: &Value) -> ValueKind {
    match v {
        Value::Bool(_) => ValueKind::Boolean,
        Value::Number(_) => ValueKind::Decimal,
        _ => ValueKind::String,
    }
}

/// Reads a boolean, accepting Entra's string booleans (`"True"`, `"false"`; quirk Q2).
pub(crate) fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => str_bool(s),
        _ => None,
    }
}

fn str_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A numeric value kept as exactly as JSON allows, for comparisons without f64 rounding of
/// large integers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Numeric {
    Int(i128),
    Float(f64),
}

impl Numeric {
    fn from_number(n: &serde_json::Number) -> Option<Numeric> {
        if let Some(i) = n.as_i64() {
            Some(Numeric::Int(i128::from(i)))
        } else if let Some(u) = n.as_u64() {
            Some(Numeric::Int(i128::from(u)))
        } else {
            n.as_f64().filter(|f| f.is_finite()).map(Numeric::Float)
        }
    }

    /// Numbers, or strings holding a JSON number (`"42"`).
    pub(crate) fn from_json(v: &Value) -> Option<Numeric> {
        match v {
            Value::Number(n) => Numeric::from_number(n),
            Value::String(s) => Numeric::from_str(s),
            _ => None,
        }
    }

    fn from_str(s: &str) -> Option<Numeric> {
        // Only JSON number syntax: `f64::from_str` alone would also take `NaN` and `inf`.
        super::parser::parse_number(s.trim()).and_then(|n| Numeric::from_number(&n))
    }

    pub(crate) fn cmp(self, other: Numeric) -> Ordering {
        match (self, other) {
            (Numeric::Int(a), Numeric::Int(b)) => a.cmp(&b),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn as_f64(self) -> f64 {
        match self {
            Numeric::Int(i) => i as f64,
            Numeric::Float(f) => f,
        }
    }
}

/// Parses an RFC 3339 timestamp (RFC 7643 §2.3.5 `dateTime`). Any number of fractional digits is
/// accepted (Entra sends 7: `2015-10-10T14:38:21.8617979-07:00`); a timestamp without offset is
/// read as UTC rather than refused.
pub(crate) fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339).ok())
}

/// Text of a scalar for string comparison.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn comp_text(v: &CompValue) -> Option<String> {
    match v {
        CompValue::Str(s) => Some(s.clone()),
        CompValue::Num(n) => Some(n.to_string()),
        CompValue::Bool(b) => Some(b.to_string()),
        CompValue::Null => None,
    }
}

fn ordering_satisfies(ord: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// One attribute value against the filter's value, by the attribute's type (RFC 7644 §3.4.2.2,
/// table 3). Operators that make no sense for a type (`gt` on booleans, `co` on numbers) are
/// false rather than errors: a query must not fail on data it cannot compare.
fn compare_value(actual: &Value, op: CompareOp, expected: &CompValue, kind: ValueKind, case_exact: bool) -> bool {
    match kind {
        ValueKind::Boolean => {
            let want = match expected {
                CompValue::Bool(b) => Some(*b),
                CompValue::Str(s) => str_bool(s),
                _ => None,
            };
            match (as_bool(actual), want, op) {
                (Some(a), Some(w), CompareOp::Eq) => a == w,
                (Some(a), Some(w), CompareOp::Ne) => a != w,
                _ => false,
            }
        }
        ValueKind::Integer | ValueKind::Decimal => {
            let want = match expected {
                CompValue::Num(n) => Numeric::from_number(n),
                CompValue::Str(s) => Numeric::from_str(s),
                _ => None,
            };
            match (Numeric::from_json(actual), want) {
                (Some(a), Some(w)) => ordering_satisfies(a.cmp(w), op),
                _ => compare_strings(actual, op, expected, case_exact),
            }
        }
        ValueKind::DateTime => {
            let ordered = matches!(
                op,
                CompareOp::Eq | CompareOp::Ne | CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
            );
            let instants = match (actual, expected) {
                (Value::String(a), CompValue::Str(w)) if ordered => parse_datetime(a).zip(parse_datetime(w)),
                _ => None,
            };
            match instants {
                Some((a, w)) => ordering_satisfies(a.cmp(&w), op),
                None => compare_strings(actual, op, expected, case_exact),
            }
        }
        ValueKind::String | ValueKind::Binary | ValueKind::Reference | ValueKind::Complex => {
            compare_strings(actual, op, expected, case_exact)
        }
    }
}

/// String comparison: case-insensitive unless `caseExact` (RFC 7643 §2.2), `co`/`sw`/`ew` as
/// substring/prefix/suffix, ordering lexicographic (RFC 7644 §3.4.2.2).
fn compare_strings(actual: &Value, op: CompareOp, expected: &CompValue, case_exact: bool) -> bool {
    let (Some(mut a), Some(mut w)) = (scalar_text(actual), comp_text(expected)) else {
        return false;
    };
    if !case_exact {
        a = a.to_lowercase();
        w = w.to_lowercase();
    }
    match op {
        CompareOp::Co => a.contains(&w),
        CompareOp::Sw => a.starts_with(&w),
        CompareOp::Ew => a.ends_with(&w),
        _ => ordering_satisfies(a.cmp(&w), op),
    }
}
