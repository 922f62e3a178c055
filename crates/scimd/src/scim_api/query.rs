//! SCIM filters → domain queries. What maps onto an indexed field becomes a store condition;
//! anything else makes the translation *inexact*: the store then returns a superset of
//! candidates and the handler keeps those the SCIM evaluator accepts.

use domain::query::{Condition, GroupField, Op, QueryValue, UserField};
use scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// A translated filter: `condition` selects a superset of the matches; when `exact`, exactly
/// the matches.
pub struct Translated<F> {
    pub condition: Condition<F>,
    pub exact: bool,
}

fn exact<F>(condition: Condition<F>) -> Translated<F> {
    Translated { condition, exact: true }
}
fn loose<F>() -> Translated<F> {
    Translated { condition: Condition::True, exact: false }
}

fn op_of(op: CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Contains,
        CompareOp::Sw => Op::StartsWith,
        CompareOp::Ew => Op::EndsWith,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

/// The path as lower-case `attr` or `attr.sub`, with a core-schema URN prefix dropped.
/// Extension paths keep a marker so they never match a core name.
fn path_key(path: &AttrPath, core: &str) -> String {
    let base = match &path.uri {
        Some(uri) if uri.eq_ignore_ascii_case(core) => path.attr.to_ascii_lowercase(),
        Some(uri) if uri.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) => {
            format!("ent:{}", path.attr.to_ascii_lowercase())
        }
        Some(_) => return "?".into(),
        None => path.attr.to_ascii_lowercase(),
    };
    match &path.sub_attr {
        Some(sub) => format!("{base}.{}", sub.to_ascii_lowercase()),
        None => base,
    }
}

fn text_value(v: &CompValue) -> Option<QueryValue> {
    match v {
        CompValue::Str(s) => Some(QueryValue::Text(s.clone())),
        CompValue::Num(n) => Some(QueryValue::Text(n.to_string())),
        CompValue::Bool(b) => Some(QueryValue::Text(b.to_string())),
        CompValue::Null => None,
    }
}

/// Date comparisons run on the stored text form (UTC, milliseconds), so the value is
/// converted to it. Only order comparisons and equality on an instant are exact.
fn time_value(v: &CompValue) -> Option<QueryValue> {
    match v {
        CompValue::Str(s) => domain::parse_timestamp(s).map(|t| QueryValue::Text(domain::format_timestamp(t))),
        _ => None,
    }
}

fn bool_value(v: &CompValue) -> Option<QueryValue> {
    match v {
        CompValue::Bool(b) => Some(QueryValue::Bool(*b)),
        CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Some(QueryValue::Bool(true)),
        CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Some(QueryValue::Bool(false)),
        _ => None,
    }
}

enum Kind {
    Text,
    Time,
    Bool,
    /// Only `eq`/`ne` against an id.
    Ref,
}

fn cmp<F: Copy>(field: F, kind: Kind, op: CompareOp, v: &CompValue) -> Translated<F> {
    let value = match kind {
        Kind::Text => text_value(v),
        Kind::Time => time_value(v),
        Kind::Bool => bool_value(v),
        Kind::Ref => match (op, v) {
            (CompareOp::Eq | CompareOp::Ne, CompValue::Str(s)) => Some(QueryValue::Text(s.clone())),
            _ => None,
        },
    };
    let ok_op = match kind {
        Kind::Bool | Kind::Ref => matches!(op, CompareOp::Eq | CompareOp::Ne),
        Kind::Time => !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew),
        Kind::Text => true,
    };
    match value {
        Some(value) if ok_op => exact(Condition::Cmp(field, op_of(op), value)),
        _ => loose(),
    }
}

fn combine<F>(a: Translated<F>, b: Translated<F>, and: bool) -> Translated<F> {
    if and {
        Translated { condition: Condition::And(vec![a.condition, b.condition]), exact: a.exact && b.exact }
    } else if a.exact && b.exact {
        exact(Condition::Or(vec![a.condition, b.condition]))
    } else {
        // A loose side is `True`; an OR with it selects everything: keep it simple.
        loose()
    }
}

fn translate<F: Copy>(f: &Filter, leaf: &dyn Fn(&Filter) -> Translated<F>) -> Translated<F> {
    match f {
        Filter::And(a, b) => combine(translate(a, leaf), translate(b, leaf), true),
        Filter::Or(a, b) => combine(translate(a, leaf), translate(b, leaf), false),
        Filter::Not(inner) => {
            let t = translate(inner, leaf);
            if t.exact { exact(Condition::Not(Box::new(t.condition))) } else { loose() }
        }
        _ => leaf(f),
    }
}

pub fn user_filter(f: &Filter) -> Translated<UserField> {
    translate(f, &|leaf| match leaf {
        Filter::Compare { path, op, value } => match path_key(path, USER_SCHEMA).as_str() {
            "id" => cmp(UserField::Id, Kind::Text, *op, value),
            "username" => cmp(UserField::UserName, Kind::Text, *op, value),
            "externalid" => cmp(UserField::ExternalId, Kind::Text, *op, value),
            "displayname" => cmp(UserField::DisplayName, Kind::Text, *op, value),
            "active" => cmp(UserField::Active, Kind::Bool, *op, value),
            "meta.created" => cmp(UserField::Created, Kind::Time, *op, value),
            "meta.lastmodified" => cmp(UserField::LastModified, Kind::Time, *op, value),
            "groups" | "groups.value" => cmp(UserField::MemberOf, Kind::Ref, *op, value),
            // The email column holds the work (else primary) address: a good candidate set
            // for an `eq`, checked exactly afterwards.
            "emails" | "emails.value" if *op == CompareOp::Eq => {
                let t = cmp(UserField::Email, Kind::Text, *op, value);
                Translated { condition: Condition::Or(vec![t.condition, Condition::True]), exact: false }
            }
            _ => loose(),
        },
        Filter::Present(path) => match path_key(path, USER_SCHEMA).as_str() {
            "id" | "username" | "active" | "meta.created" | "meta.lastmodified" => exact(Condition::True),
            "externalid" => exact(Condition::Cmp(UserField::ExternalId, Op::Present, QueryValue::None)),
            _ => loose(),
        },
        // Entra's matching query `emails[type eq "work"].value eq "x"`. The email column
        // holds only the work address (else the primary, else the first), so it narrows the
        // candidates only when the filter itself asks for the work email; any other value
        // filter (`emails[value eq "x"]`, `emails[type eq "home"]…`) may match an address
        // that is not indexed and needs the evaluator on every user.
        Filter::ValuePath { path, filter } if path_key(path, USER_SCHEMA) == "emails" => {
            match (email_eq(filter), pins_work_type(filter)) {
                (Some(v), true) => Translated {
                    condition: Condition::Cmp(UserField::Email, Op::Eq, QueryValue::Text(v)),
                    exact: false,
                },
                _ => loose(),
            }
        }
        _ => loose(),
    })
}

/// The value of a `value eq "…"` inside an emails value filter, if there is one in a
/// conjunction.
fn email_eq(f: &Filter) -> Option<String> {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(s) }
            if path.attr.eq_ignore_ascii_case("value") && path.sub_attr.is_none() =>
        {
            Some(s.clone())
        }
        Filter::And(a, b) => email_eq(a).or_else(|| email_eq(b)),
        _ => None,
    }
}

/// Whether a conjunction inside an emails value filter contains `type eq "work"`.
fn pins_work_type(f: &Filter) -> bool {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(s) } => {
            path.attr.eq_ignore_ascii_case("type") && path.sub_attr.is_none() && s.eq_ignore_ascii_case("work")
        }
        Filter::And(a, b) => pins_work_type(a) || pins_work_type(b),
        _ => false,
    }
}

pub fn group_filter(f: &Filter) -> Translated<GroupField> {
    translate(f, &|leaf| match leaf {
        Filter::Compare { path, op, value } => match path_key(path, GROUP_SCHEMA).as_str() {
            "id" => cmp(GroupField::Id, Kind::Text, *op, value),
            "displayname" => cmp(GroupField::DisplayName, Kind::Text, *op, value),
            "externalid" => cmp(GroupField::ExternalId, Kind::Text, *op, value),
            "meta.created" => cmp(GroupField::Created, Kind::Time, *op, value),
            "meta.lastmodified" => cmp(GroupField::LastModified, Kind::Time, *op, value),
            "members" | "members.value" => cmp(GroupField::Member, Kind::Ref, *op, value),
            _ => loose(),
        },
        Filter::Present(path) => match path_key(path, GROUP_SCHEMA).as_str() {
            "id" | "displayname" | "meta.created" | "meta.lastmodified" => exact(Condition::True),
            "externalid" => exact(Condition::Cmp(GroupField::ExternalId, Op::Present, QueryValue::None)),
            _ => loose(),
        },
        Filter::ValuePath { path, filter } if path_key(path, GROUP_SCHEMA) == "members" => match member_eq(filter) {
            Some(id) => exact(Condition::Cmp(GroupField::Member, Op::Eq, QueryValue::Text(id))),
            None => loose(),
        },
        _ => loose(),
    })
}

fn member_eq(f: &Filter) -> Option<String> {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(s) }
            if path.attr.eq_ignore_ascii_case("value") && path.sub_attr.is_none() =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

/// Sort fields the store can order by; others are sorted in memory.
pub fn user_sort_field(path: &AttrPath) -> Option<UserField> {
    match path_key(path, USER_SCHEMA).as_str() {
        "id" => Some(UserField::Id),
        "username" => Some(UserField::UserName),
        "externalid" => Some(UserField::ExternalId),
        "displayname" => Some(UserField::DisplayName),
        "meta.created" => Some(UserField::Created),
        "meta.lastmodified" => Some(UserField::LastModified),
        _ => None,
    }
}

pub fn group_sort_field(path: &AttrPath) -> Option<GroupField> {
    match path_key(path, GROUP_SCHEMA).as_str() {
        "id" => Some(GroupField::Id),
        "displayname" => Some(GroupField::DisplayName),
        "externalid" => Some(GroupField::ExternalId),
        "meta.created" => Some(GroupField::Created),
        "meta.lastmodified" => Some(GroupField::LastModified),
        _ => None,
    }
}
