//! ListResponse and pagination (RFC 7644 §3.4.2, §3.4.2.4) and sorting (§3.4.2.3).

use crate::error::ScimError;
use crate::filter::eval::{Numeric, as_bool, get_ci, kind_of, locate_attr, parse_datetime, scalar_text};
use crate::filter::{AttrPath, AttributeTypes, ValueKind};
use serde_json::{Value, json};
use std::cmp::Ordering;
use time::OffsetDateTime;

/// URN of the list response message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// One page of results (RFC 7644 §3.4.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Maximum number of resources to return; 0 asks only for `totalResults`.
    pub count: u64,
}

/// Parses an integer query parameter. Out-of-range integers saturate (a huge `startIndex` is
/// simply past the end); text that is not an integer is `invalidValue` naming the parameter.
fn parse_int(param: &str, text: &str) -> Result<Option<i64>, ScimError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Ok(v) = t.parse::<i64>() {
        return Ok(Some(v));
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(if t.starts_with('-') { i64::MIN } else { i64::MAX }));
    }
    Err(ScimError::invalid_value(format!(
        "query parameter {param} must be an integer, got '{}'",
        t.chars().take(40).collect::<String>()
    )))
}

impl Page {
    /// Reads `startIndex` and `count` (RFC 7644 §3.4.2.4): `startIndex` is 1-based and values
    /// below 1 are read as 1; a negative `count` is read as 0 and one above `max_count` is
    /// clamped to it; `count=0` is legal (only `totalResults` is wanted). Absent or empty
    /// parameters take the defaults (`startIndex` 1, `count` `default_count`).
    pub fn from_query(
        start_index: Option<&str>,
        count: Option<&str>,
        default_count: u64,
        max_count: u64,
    ) -> Result<Page, ScimError> {
        let start = match start_index.map(|t| parse_int("startIndex", t)).transpose()?.flatten() {
            Some(v) => u64::try_from(v).unwrap_or(0).max(1),
            None => 1,
        };
        let count = match count.map(|t| parse_int("count", t)).transpose()?.flatten() {
            Some(v) => u64::try_from(v).unwrap_or(0),
            None => default_count,
        };
        Ok(Page { start_index: start, count: count.min(max_count) })
    }

    /// Number of resources to skip (`startIndex - 1`).
    pub fn offset(&self) -> u64 {
        self.start_index.saturating_sub(1)
    }
}

/// A ListResponse (RFC 7644 §3.4.2). `Resources` is always present, `[]` when empty (Microsoft's
/// Postman suite checks `Resources == []`); `itemsPerPage` is the number actually returned.
pub fn list_response(total_results: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

/// [`list_response`] as a serializer over resources of any serializable type: the same JSON,
/// written straight to the output without a `Value` tree in between.
pub struct ListResponse<'a, T> {
    pub total_results: u64,
    pub start_index: u64,
    pub resources: &'a [T],
}

impl<T: serde::Serialize> serde::Serialize for ListResponse<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("schemas", &[LIST_RESPONSE_SCHEMA])?;
        m.serialize_entry("totalResults", &self.total_results)?;
        m.serialize_entry("itemsPerPage", &self.resources.len())?;
        m.serialize_entry("startIndex", &self.start_index)?;
        m.serialize_entry("Resources", self.resources)?;
        m.end()
    }
}

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    /// Case-insensitive `ascending` / `descending`; absent or empty means ascending
    /// (RFC 7644 §3.4.2.3); anything else is `invalidValue`.
    pub fn parse(text: Option<&str>) -> Result<SortOrder, ScimError> {
        let t = text.map(str::trim).unwrap_or("");
        if t.is_empty() || t.eq_ignore_ascii_case("ascending") {
            Ok(SortOrder::Ascending)
        } else if t.eq_ignore_ascii_case("descending") {
            Ok(SortOrder::Descending)
        } else {
            Err(ScimError::invalid_value(format!(
                "sortOrder must be 'ascending' or 'descending', got '{}'",
                t.chars().take(40).collect::<String>()
            )))
        }
    }
}

/// A sort key. Variants are ordered by rank when values of different types meet.
#[derive(Debug)]
enum Key {
    Bool(bool),
    Num(Numeric),
    Time(OffsetDateTime),
    Str(String),
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Bool(_) => 0,
            Key::Num(_) => 1,
            Key::Time(_) => 2,
            Key::Str(_) => 3,
        }
    }

    fn cmp(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Num(a), Key::Num(b)) => a.cmp(*b),
            (Key::Time(a), Key::Time(b)) => a.cmp(b),
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

/// The value a resource sorts by: like the filter evaluator's lookup, but a multi-valued
/// attribute contributes one value, its primary element's, else its first (RFC 7644 §3.4.2.3).
fn sort_value<'a>(resource: &'a Value, by: &AttrPath) -> Option<&'a Value> {
    let attr = locate_attr(resource, by)?;
    let elem = match attr {
        Value::Array(items) => items
            .iter()
            .find(|e| e.as_object().and_then(|o| get_ci(o, "primary")).and_then(as_bool) == Some(true))
            .or_else(|| items.first())?,
        v => v,
    };
    let leaf = match (elem, by.sub_attr.as_deref()) {
        (Value::Object(o), Some(sub)) => get_ci(o, sub)?,
        (_, Some(_)) => return None,
        (Value::Object(o), None) => get_ci(o, "value")?,
        (v, None) => v,
    };
    match leaf {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        v => Some(v),
    }
}

fn key_of(v: &Value, kind: Option<(ValueKind, bool)>) -> Option<Key> {
    let (kind, case_exact) = kind.unwrap_or(match v {
        Value::Bool(_) => (ValueKind::Boolean, false),
        Value::Number(_) => (ValueKind::Decimal, false),
        _ => (ValueKind::String, false),
    });
    let typed = match kind {
        ValueKind::Boolean => as_bool(v).map(Key::Bool),
        ValueKind::Integer | ValueKind::Decimal => Numeric::from_json(v).map(Key::Num),
        ValueKind::DateTime => v.as_str().and_then(parse_datetime).map(Key::Time),
        _ => None,
    };
    typed.or_else(|| scalar_text(v).map(|s| Key::Str(if case_exact { s } else { s.to_lowercase() })))
}

/// Sorts `resources` by `by` (RFC 7644 §3.4.2.3), stably. Strings compare case-insensitively
/// unless `caseExact`, dateTimes as instants, numbers numerically. Resources without a value
/// sort last when ascending and first when descending (descending is the exact reverse).
pub fn sort_resources(resources: &mut [Value], by: &AttrPath, order: SortOrder, types: &dyn AttributeTypes) {
    let kind = kind_of(types, by);
    let mut keyed: Vec<(Option<Key>, Value)> = resources
        .iter_mut()
        .map(|r| {
            let key = sort_value(r, by).and_then(|v| key_of(v, kind));
            (key, std::mem::take(r))
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let asc = match (a, b) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        match order {
            SortOrder::Ascending => asc,
            SortOrder::Descending => asc.reverse(),
        }
    });
    for (slot, (_, v)) in resources.iter_mut().zip(keyed) {
        *slot = v;
    }
}
