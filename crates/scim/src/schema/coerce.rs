//! Type coercion of client values to the schema's types (RFC 7643 §2.3), with the leniency Entra
//! needs: `"True"`/`"False"` for booleans (quirk Q2), a bare id for a complex attribute with a
//! `value` sub-attribute (quirk Q7), a single object for a multi-valued attribute.

use super::normalize::UnknownAttributes;
use super::{AttributeDef, unknown_attribute_error};
use crate::error::ScimError;
use crate::filter::ValueKind;
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Longest excerpt of a client value quoted in an error `detail`.
const MAX_SHOWN: usize = 120;

/// A value for an error `detail`: its JSON text, cut short so a huge value cannot bloat the
/// error (Entra shows the body verbatim in its provisioning log).
pub(crate) fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.len() <= MAX_SHOWN {
        return text;
    }
    let mut end = MAX_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// An attribute name for a message, cut short: names come from client JSON keys of any length.
pub(crate) fn clip(name: &str) -> String {
    const MAX: usize = 200;
    if name.len() <= MAX {
        return name.to_owned();
    }
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}

/// Coerces values and collects the warnings of the [`UnknownAttributes::Ignore`] policy.
pub(crate) struct Coercer {
    pub policy: UnknownAttributes,
    pub warnings: Vec<String>,
}

impl Coercer {
    pub fn new(policy: UnknownAttributes) -> Self {
        Self { policy, warnings: Vec::new() }
    }

    /// Applies the unknown-attributes policy (product.md §2) to `name`.
    pub fn unknown(&mut self, name: &str) -> Result<(), ScimError> {
        let name = &clip(name);
        match self.policy {
            UnknownAttributes::Reject => Err(unknown_attribute_error(name)),
            UnknownAttributes::Ignore => {
                self.warnings.push(format!(
                    "ignored unknown attribute '{name}': it is in no schema of this resource; \
                     remove it from the attribute mapping"
                ));
                Ok(())
            }
        }
    }

    /// Notes that a write to the read-only `name` was ignored (RFC 7643 §2.2).
    pub fn read_only(&mut self, name: &str) {
        let name = &clip(name);
        self.warnings.push(format!("ignored write to read-only attribute '{name}'"));
    }

    /// The whole value of attribute `def` (named `name` in errors). `None` when the value is
    /// null or empties out: "unassigned" (RFC 7643 §2.5).
    pub fn attribute(&mut self, def: &AttributeDef, v: &Value, name: &str) -> Result<Option<Value>, ScimError> {
        if !def.multi_valued {
            return self.single(def, v, name);
        }
        match v {
            Value::Null => Ok(None),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(x) = self.single(def, item, name)? {
                        out.push(x);
                    }
                }
                // An empty array is kept: `roles: []` is a valid "no values".
                Ok(Some(Value::Array(out)))
            }
            // One element where an array is expected: wrap it.
            other => Ok(self.single(def, other, name)?.map(|x| Value::Array(vec![x]))),
        }
    }

    /// One value of `def`: the attribute's value when single-valued, one element when
    /// multi-valued.
    pub fn single(&mut self, def: &AttributeDef, v: &Value, name: &str) -> Result<Option<Value>, ScimError> {
        if v.is_null() {
            return Ok(None);
        }
        if def.kind != ValueKind::Complex {
            return scalar(def, v, name);
        }
        match v {
            Value::Object(obj) => self.complex(def, obj, name),
            // Entra's manager as `[{"$ref":…,"value":"id"}]` on a single-valued complex
            // attribute (quirk Q7): one element is the value.
            Value::Array(items) if !def.multi_valued => match items.as_slice() {
                [] => Ok(None),
                [one] if !one.is_array() => self.single(def, one, name),
                _ => Err(ScimError::invalid_value(format!(
                    "attribute '{name}' is single-valued; {} is not a valid value for it",
                    show(v)
                ))),
            },
            // A bare id for a complex attribute with a `value` sub-attribute:
            // `manager: "id"` (quirk Q7), `members: "id"` (Postman).
            Value::String(_) | Value::Number(_) | Value::Bool(_) => match def.sub("value") {
                Some(value_def) => Ok(scalar(value_def, v, name)?.map(|x| {
                    let mut m = Map::new();
                    m.insert(value_def.name.to_owned(), x);
                    Value::Object(m)
                })),
                None => Err(ScimError::invalid_value(format!(
                    "attribute '{name}' is complex; {} is not a valid value for it",
                    show(v)
                ))),
            },
            _ => Err(ScimError::invalid_value(format!(
                "attribute '{name}' is complex; {} is not a valid value for it",
                show(v)
            ))),
        }
    }

    /// A complex value: sub-attribute names canonicalised, values coerced, nulls and read-only
    /// sub-attributes dropped (RFC 7643 §2.2: client writes to readOnly are ignored).
    fn complex(
        &mut self,
        def: &AttributeDef,
        obj: &Map<String, Value>,
        name: &str,
    ) -> Result<Option<Value>, ScimError> {
        let mut out = Map::new();
        for (k, v) in obj {
            let sub_name = format!("{name}.{k}");
            // Postman sends a member's display text as `displayName` (entra-wire.md §2.10.3).
            let alias =
                (def.name == "members" && k.eq_ignore_ascii_case("displayName")).then(|| def.sub("display")).flatten();
            let Some(sub) = def.sub(k).or(alias) else {
                self.unknown(&sub_name)?;
                continue;
            };
            if sub.is_read_only() {
                continue;
            }
            if let Some(x) = self.attribute(sub, v, &sub_name)? {
                out.insert(sub.name.to_owned(), x);
            }
        }
        Ok((!out.is_empty()).then_some(Value::Object(out)))
    }
}

/// A value of a non-complex attribute. Strings are kept exactly as sent (entra-wire.md §2.5.3).
pub(crate) fn scalar(def: &AttributeDef, v: &Value, name: &str) -> Result<Option<Value>, ScimError> {
    let bad = || {
        ScimError::invalid_value(format!(
            "attribute '{name}' has type {}; {} is not a valid value",
            def.kind.as_str(),
            show(v)
        ))
    };
    Ok(Some(match (def.kind, v) {
        (_, Value::Null) => return Ok(None),
        (ValueKind::Boolean, Value::Bool(_)) => v.clone(),
        // Entra's `"True"`/`"False"` (quirk Q2), in any case.
        (ValueKind::Boolean, Value::String(s)) => {
            if s.eq_ignore_ascii_case("true") {
                Value::Bool(true)
            } else if s.eq_ignore_ascii_case("false") {
                Value::Bool(false)
            } else {
                return Err(bad());
            }
        }
        (ValueKind::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        (ValueKind::Integer, Value::String(s)) => Value::Number(s.trim().parse::<i64>().map_err(|_| bad())?.into()),
        (ValueKind::Decimal, Value::Number(_)) => v.clone(),
        (ValueKind::Decimal, Value::String(s)) => {
            let f = s.trim().parse::<f64>().map_err(|_| bad())?;
            Value::Number(Number::from_f64(f).ok_or_else(bad)?)
        }
        // dateTime is xsd:dateTime, which RFC 3339 timestamps satisfy (RFC 7643 §2.3.5).
        (ValueKind::DateTime, Value::String(s)) => {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
            v.clone()
        }
        (ValueKind::String | ValueKind::Reference | ValueKind::Binary, Value::String(_)) => v.clone(),
        // A number or boolean where a string is expected (`employeeNumber: 12345`): its text.
        (ValueKind::String | ValueKind::Reference, Value::Number(_) | Value::Bool(_)) => Value::String(v.to_string()),
        _ => return Err(bad()),
    }))
}
