//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) and the `returned`
//! characteristic (RFC 7643 §7).
//!
//! Names are matched case-insensitively (RFC 7643 §2.1). Microsoft's Postman suite sends
//! `attributes=emails[type eq "work"]`; such entries are accepted and read as the bare attribute
//! (`emails`): over-returning is harmless, refusing breaks the suite (`entra-wire.md` §2.12).

use crate::error::ScimError;
use crate::filter::AttrPath;
use crate::filter::eval::{get_ci, is_core_urn, is_urn_key};
use crate::filter::parser::{is_path_byte, split_attr_token};
use serde_json::{Map, Value};

/// Longest `attributes` / `excludedAttributes` value accepted.
const MAX_LIST_LEN: usize = crate::filter::MAX_FILTER_LEN;

/// Splits on commas that are outside brackets and quoted strings, so a bracket filter such as
/// `emails[value eq "a,b"]` stays one entry.
fn split_entries(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, c) in s.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

fn parse_list(param: &str, text: &str) -> Result<Vec<AttrPath>, ScimError> {
    if text.len() > MAX_LIST_LEN {
        return Err(ScimError::invalid_value(format!("{param} is longer than the limit of {MAX_LIST_LEN} bytes")));
    }
    let mut out = Vec::new();
    for entry in split_entries(text) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        // `emails[type eq "work"]` (and anything after the `]`) selects `emails`.
        let name = match entry.find('[') {
            Some(i) => {
                if !entry.contains(']') {
                    return Err(ScimError::invalid_value(format!("{param}: unbalanced '[' in '{entry}'")));
                }
                entry.get(..i).unwrap_or("").trim_end()
            }
            None => entry,
        };
        if name.is_empty() || !name.bytes().all(is_path_byte) {
            return Err(ScimError::invalid_value(format!("{param}: '{entry}' is not an attribute path")));
        }
        let path = split_attr_token(name)
            .map_err(|e| ScimError::invalid_value(format!("{param}: invalid attribute path '{entry}': {e}")))?;
        out.push(path);
    }
    Ok(out)
}

/// Parses a comma-separated attribute list (RFC 7644 §3.4.2.5). Whitespace around entries is
/// ignored and empty entries are skipped. A bare extension URN is accepted (empty `attr`) and
/// stands for the whole extension object. Errors are `400 invalidValue`.
pub fn parse_attribute_list(text: &str) -> Result<Vec<AttrPath>, ScimError> {
    parse_list("attribute list", text)
}

/// The `attributes` and `excludedAttributes` query parameters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

/// Whether `p` addresses the top level of the resource (no URI, or a core schema URN).
fn is_core_path(p: &AttrPath) -> bool {
    p.uri.as_deref().is_none_or(is_core_urn)
}

impl Projection {
    /// Builds a projection from the raw (form-decoded) query parameter values.
    pub fn from_query(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, ScimError> {
        Ok(Projection {
            attributes: attributes.map(|t| parse_list("attributes", t)).transpose()?.unwrap_or_default(),
            excluded: excluded.map(|t| parse_list("excludedAttributes", t)).transpose()?.unwrap_or_default(),
        })
    }

    /// True when neither parameter selects anything (the default attribute set is returned).
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// True when the top-level attribute `name` (e.g. `members`) will not be returned: it is
    /// excluded, or `attributes` is given and does not select it or one of its sub-attributes.
    /// Lets callers skip loading large attributes (Entra's `excludedAttributes=members`, Q15).
    pub fn excludes_attribute(&self, name: &str) -> bool {
        let named = |p: &AttrPath| is_core_path(p) && p.attr.eq_ignore_ascii_case(name);
        if self.excluded.iter().any(|p| named(p) && p.sub_attr.is_none()) {
            return true;
        }
        !self.attributes.is_empty() && !self.attributes.iter().any(named)
    }

    /// Applies the projection to a resource in canonical form (core attributes at the top level,
    /// extensions under their URN key).
    ///
    /// * `attributes` non-empty: only the selected attributes are kept (RFC 7644 §3.4.2.5),
    ///   plus the `always_returned` top-level names (RFC 7643 §7 `returned: "always"`, e.g. `id`,
    ///   `schemas`); `name.givenName` keeps only that sub-attribute; `urn:…:User:department`
    ///   selects inside the extension object and a bare extension URN selects all of it.
    /// * `excludedAttributes` non-empty: those are removed, except `always_returned` ones.
    ///
    /// Extension objects left empty are removed. An unprefixed name that is not a top-level
    /// attribute is also looked for in the extension objects, as the filter evaluator does.
    pub fn apply(&self, resource: &mut Value, always_returned: &[&str]) {
        if self.is_empty() {
            return;
        }
        let Some(obj) = resource.as_object_mut() else {
            return;
        };
        let always = |k: &str| always_returned.iter().any(|a| a.eq_ignore_ascii_case(k));
        if !self.attributes.is_empty() {
            include(obj, &self.attributes, &always);
        }
        if !self.excluded.is_empty() {
            exclude(obj, &self.excluded, &always);
        }
        obj.retain(|k, v| !(is_urn_key(k) && v.as_object().is_some_and(Map::is_empty)));
    }
}

/// Keeps only the sub-attributes `subs` of a complex value, or of each element of a
/// multi-valued one.
fn keep_subs(v: &mut Value, subs: &[&str]) {
    let keep = |o: &mut Map<String, Value>| {
        o.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)));
    };
    match v {
        Value::Object(o) => keep(o),
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(keep),
        _ => {}
    }
}

/// Whether the attribute `k` is selected by `sels` (`(attr, sub)` pairs); when it is selected
/// only through sub-attributes, `v` is narrowed to those.
fn select(k: &str, v: &mut Value, sels: &[(&str, Option<&str>)]) -> bool {
    let matching: Vec<Option<&str>> = sels.iter().filter(|(a, _)| a.eq_ignore_ascii_case(k)).map(|(_, s)| *s).collect();
    if matching.is_empty() {
        return false;
    }
    if matching.iter().all(Option::is_some) {
        let subs: Vec<&str> = matching.into_iter().flatten().collect();
        keep_subs(v, &subs);
    }
    true
}

fn include(obj: &mut Map<String, Value>, sels: &[AttrPath], always: &dyn Fn(&str) -> bool) {
    let core: Vec<(&str, Option<&str>)> = sels
        .iter()
        .filter(|p| is_core_path(p) && !p.attr.is_empty())
        .map(|p| (p.attr.as_str(), p.sub_attr.as_deref()))
        .collect();
    // A bare core schema URN selects every core attribute.
    let all_core = sels.iter().any(|p| p.uri.is_some() && is_core_path(p) && p.attr.is_empty());
    // Unprefixed names that are not top-level attributes may be extension attributes.
    let unprefixed_elsewhere: Vec<(&str, Option<&str>)> = sels
        .iter()
        .filter(|p| p.uri.is_none() && get_ci(obj, &p.attr).is_none())
        .map(|p| (p.attr.as_str(), p.sub_attr.as_deref()))
        .collect();
    obj.retain(|k, v| {
        if always(k) {
            return true;
        }
        if is_urn_key(k) && !is_core_urn(k) {
            let ext: Vec<&AttrPath> =
                sels.iter().filter(|p| p.uri.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(k))).collect();
            if ext.iter().any(|p| p.attr.is_empty()) {
                return true;
            }
            let mut inner: Vec<(&str, Option<&str>)> =
                ext.iter().map(|p| (p.attr.as_str(), p.sub_attr.as_deref())).collect();
            inner.extend(unprefixed_elsewhere.iter().copied());
            return match v.as_object_mut() {
                Some(ext_obj) if !inner.is_empty() => {
                    ext_obj.retain(|k, v| select(k, v, &inner));
                    !ext_obj.is_empty()
                }
                _ => false,
            };
        }
        all_core || select(k, v, &core)
    });
}

/// Removes `attr` (or only its sub-attribute `sub`) from `map`.
fn remove_from(map: &mut Map<String, Value>, attr: &str, sub: Option<&str>) -> bool {
    let Some(sub) = sub else {
        let before = map.len();
        map.retain(|k, _| !k.eq_ignore_ascii_case(attr));
        return map.len() != before;
    };
    let mut found = false;
    for (k, v) in map.iter_mut() {
        if !k.eq_ignore_ascii_case(attr) {
            continue;
        }
        found = true;
        let drop_sub = |o: &mut Map<String, Value>| o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
        match v {
            Value::Object(o) => drop_sub(o),
            Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(drop_sub),
            _ => {}
        }
    }
    found
}

fn exclude(obj: &mut Map<String, Value>, sels: &[AttrPath], always: &dyn Fn(&str) -> bool) {
    for p in sels {
        match p.uri.as_deref() {
            Some(uri) if !is_core_urn(uri) => {
                if p.attr.is_empty() {
                    obj.retain(|k, _| !k.eq_ignore_ascii_case(uri));
                    continue;
                }
                for (k, v) in obj.iter_mut() {
                    if k.eq_ignore_ascii_case(uri)
                        && let Some(ext) = v.as_object_mut()
                    {
                        remove_from(ext, &p.attr, p.sub_attr.as_deref());
                    }
                }
            }
            _ => {
                if p.attr.is_empty() || always(&p.attr) {
                    continue;
                }
                let removed = remove_from(obj, &p.attr, p.sub_attr.as_deref());
                if !removed && p.uri.is_none() {
                    for (k, v) in obj.iter_mut() {
                        if is_urn_key(k)
                            && let Some(ext) = v.as_object_mut()
                        {
                            remove_from(ext, &p.attr, p.sub_attr.as_deref());
                        }
                    }
                }
            }
        }
    }
}
