//! Normalisation of POST/PUT bodies (RFC 7644 §3.3, §3.5.1) to the canonical JSON the rest of the
//! server stores and compares.

use super::coerce::Coercer;
use super::resource::{KeyTarget, ResourceSchema};
use crate::error::ScimError;
use serde_json::{Map, Value};

/// What to do with attributes no schema of the resource declares (product.md §2, service
/// parameter `unknown_attributes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownAttributes {
    /// 400 `invalidPath` naming the attribute (the product default): the administrator learns
    /// at once that the mapping sends something the directory does not keep.
    #[default]
    Reject,
    /// Dropped, with a warning for the provisioning log.
    Ignore,
}

/// A normalised resource and the warnings produced on the way (ignored unknown attributes).
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub resource: Value,
    pub warnings: Vec<String>,
}

/// Turns a client's resource body into canonical JSON:
///
/// * core attributes at the top level, extension attributes under their schema URN (RFC 7643
///   §3.3), every attribute and sub-attribute name in its schema spelling (names are
///   case-insensitive, RFC 7643 §2.1; Postman sends `"Manager": {"Value": …}`);
/// * extension attributes accepted nested under the URN, as full-URN keys
///   (`urn:…:enterprise:2.0:User:department`) or unprefixed when unambiguous (RFC 7644 §3.10);
/// * `schemas` dropped (the server recomputes it; Entra sends unknown URIs there, quirk Q9/Q10),
///   as are explicit nulls (RFC 7643 §2.5: null is unassigned, quirk Q11) and every `readOnly`
///   attribute such as `id`, `meta` or `groups` (RFC 7643 §2.2: client writes are ignored);
/// * values coerced to the schema's types (`"active": "True"` → `true`, quirk Q2);
/// * required core attributes checked (RFC 7643 §2.2 `required`; `userName` of §4.1).
///
/// String values are kept exactly as sent: no trimming, no case change (entra-wire.md §2.5.3).
pub fn normalize_resource(
    input: &Value,
    rs: &ResourceSchema,
    policy: UnknownAttributes,
) -> Result<Normalized, ScimError> {
    let Value::Object(obj) = input else {
        return Err(ScimError::invalid_syntax(format!("a {} resource must be a JSON object", rs.name)));
    };
    let mut c = Coercer::new(policy);
    let mut out = Map::new();
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        match rs.resolve_key(key, None) {
            KeyTarget::Schema(schema) => match v {
                Value::Null => {}
                Value::Object(inner) => {
                    for (k, v) in inner {
                        let name = format!("{}:{k}", schema.id);
                        let target = rs.resolve_key(k, Some(schema));
                        place(&mut c, rs, &mut out, target, &name, v)?;
                    }
                }
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "'{key}' must be an object of that schema's attributes, not {}",
                        super::coerce::show(other)
                    )));
                }
            },
            target => place(&mut c, rs, &mut out, target, key, v)?,
        }
    }
    // An extension whose attributes all dropped out leaves no empty object behind.
    out.retain(|_, v| !matches!(v, Value::Object(m) if m.is_empty()));

    for attr in rs.core.attributes.iter().filter(|a| a.required) {
        let missing = match out.get(attr.name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if missing {
            return Err(ScimError::invalid_value(format!(
                "attribute '{}' is required for a {} (RFC 7643 §{})",
                attr.name,
                rs.name,
                if rs.name == "Group" { "4.2" } else { "4.1" }
            )));
        }
    }
    Ok(Normalized { resource: Value::Object(out), warnings: c.warnings })
}

/// Stores the value of one resolved key into the canonical output.
fn place(
    c: &mut Coercer,
    rs: &ResourceSchema,
    out: &mut Map<String, Value>,
    target: KeyTarget<'_>,
    name: &str,
    v: &Value,
) -> Result<(), ScimError> {
    let (schema, def, sub) = match target {
        KeyTarget::Attr { schema, def, sub } => (schema, def, sub),
        KeyTarget::Schema(_) | KeyTarget::Unknown => return c.unknown(name),
    };
    // RFC 7643 §2.2: readOnly values sent by a client are ignored (`id`, `meta`, `groups`,
    // read-only extensions, `manager.displayName`).
    if def.is_read_only() || sub.is_some_and(|s| s.is_read_only()) {
        return Ok(());
    }
    let container = if rs.is_core(schema) {
        out
    } else {
        match object_entry(out, schema.id) {
            Some(m) => m,
            None => return Ok(()),
        }
    };
    match sub {
        None => {
            if let Some(x) = c.attribute(def, v, name)? {
                // Names are case-insensitive (RFC 7643 §2.1): `userName` and `USERNAME` (or an
                // extension attribute both nested and as a full-URN key) are one attribute sent
                // twice, and which value won depended on key order (issue 8).
                if container.contains_key(def.name) {
                    return Err(ScimError::invalid_syntax(format!(
                        "attribute '{}' is given more than once (attribute names are case-insensitive)",
                        def.name
                    )));
                }
                container.insert(def.name.to_owned(), x);
            }
        }
        Some(sub) if !def.multi_valued => {
            if let Some(x) = c.attribute(sub, v, name)?
                && let Some(m) = object_entry(container, def.name)
            {
                m.insert(sub.name.to_owned(), x);
            }
        }
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "'{name}' addresses a sub-attribute of the multi-valued '{}'; send '{}' as an \
                 array of objects",
                def.name, def.name
            )));
        }
    }
    Ok(())
}

/// The object under `key`, created (or replacing a non-object) when needed.
pub(crate) fn object_entry<'m>(map: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Map<String, Value>> {
    let slot = map.entry(key.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}
