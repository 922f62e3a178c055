//! Applies PATCH operations to a canonical resource (RFC 7644 §3.5.2.1–3), with the Entra
//! behaviours of entra-wire.md §2.5.3 (upsert on filtered paths, no-path value objects, `""` and
//! `null` as "clear", the four manager shapes).

use super::{PatchOpKind, PatchOperation, in_operation};
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter, matches};
use crate::path::PatchPath;
use crate::schema::{AttributeDef, Coercer, ElementTypes, KeyTarget, ResourceSchema, SchemaDef, UnknownAttributes};
use serde_json::{Map, Value};

/// What a successful PATCH produced besides the new resource: warnings for the provisioning
/// log (ignored unknown or read-only attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatchOutcome {
    pub warnings: Vec<String>,
}

/// Applies `ops` in order to `resource` (canonical JSON, as produced by
/// [`crate::schema::normalize_resource`]).
///
/// All or nothing (RFC 7644 §3.5.2: "If an operation fails, the entire PATCH request is
/// rejected"; product.md §2.3): the operations run on a copy that replaces `resource` only when
/// every one of them succeeded.
pub fn apply_patch(
    resource: &mut Value,
    ops: &[PatchOperation],
    rs: &ResourceSchema,
    policy: UnknownAttributes,
) -> Result<PatchOutcome, ScimError> {
    let mut work = resource.clone();
    let Value::Object(root) = &mut work else {
        return Err(ScimError::invalid_syntax("the resource to patch is not a JSON object"));
    };
    let mut c = Coercer::new(policy);
    for (i, op) in ops.iter().enumerate() {
        let mut ctx = Ctx { rs, c: &mut c, root: &mut *root };
        ctx.op(op).map_err(|e| in_operation(e, i, Some(op)))?;
    }
    // RFC 7643 §2.2 `required`: a PATCH may change `userName` (Group: `displayName`) but not
    // remove it; the Entra validator's "remove attributes" test expects this refusal.
    for attr in rs.core.attributes.iter().filter(|a| a.required) {
        let present = |m: &Map<String, Value>| match get_ci(m, attr.name) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if !present(root) && resource.as_object().is_some_and(present) {
            return Err(ScimError::invalid_value(format!(
                "attribute '{}' is required and cannot be removed or emptied (RFC 7643 §2.2)",
                attr.name
            )));
        }
    }
    // Extensions left without attributes are not kept as `{}`.
    for (schema, _) in &rs.extensions {
        if let Some(key) = key_ci(root, schema.id)
            && root.get(&key).is_some_and(is_empty_container)
        {
            root.remove(&key);
        }
    }
    *resource = work;
    Ok(PatchOutcome { warnings: c.warnings })
}

struct Ctx<'a, 'c> {
    rs: &'a ResourceSchema,
    c: &'c mut Coercer,
    root: &'c mut Map<String, Value>,
}

/// `""` and `null` in add/replace mean "clear the attribute" (quirk Q17: Microsoft's validator
/// clears with both; RFC 7643 §2.5 equates null and unassigned).
fn is_clear(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The actual spelling of the key of `map` equal to `name` ignoring case (RFC 7643 §2.1).
fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn get_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    key_ci(map, name).and_then(|k| map.get(&k))
}

fn get_ci_mut<'m>(map: &'m mut Map<String, Value>, name: &str) -> Option<&'m mut Value> {
    let k = key_ci(map, name)?;
    map.get_mut(&k)
}

fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let k = key_ci(map, name)?;
    map.remove(&k)
}

/// Inserts under the canonical spelling `name`, dropping any differently-cased duplicate.
fn set_ci(map: &mut Map<String, Value>, name: &str, v: Value) {
    if let Some(k) = key_ci(map, name)
        && k != name
    {
        map.remove(&k);
    }
    map.insert(name.to_owned(), v);
}

/// The object under `name` (created, or replacing a non-object, when `create`).
fn object_ci<'m>(map: &'m mut Map<String, Value>, name: &str, create: bool) -> Option<&'m mut Map<String, Value>> {
    if key_ci(map, name).is_none() {
        if !create {
            return None;
        }
        map.insert(name.to_owned(), Value::Object(Map::new()));
    }
    let slot = get_ci_mut(map, name)?;
    if !slot.is_object() {
        if !create {
            return None;
        }
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// The elements of the multi-valued `name` (an empty array created when `create`).
fn array_ci<'m>(map: &'m mut Map<String, Value>, name: &str, create: bool) -> Option<&'m mut Vec<Value>> {
    if key_ci(map, name).is_none() {
        if !create {
            return None;
        }
        map.insert(name.to_owned(), Value::Array(Vec::new()));
    }
    let slot = get_ci_mut(map, name)?;
    if !slot.is_array() {
        if !create {
            return None;
        }
        // A stray single value is kept as the first element.
        let old = std::mem::take(slot);
        *slot = Value::Array(if old.is_null() { Vec::new() } else { vec![old] });
    }
    slot.as_array_mut()
}

/// Removes `name` from `map` when it holds an empty object or array.
fn drop_if_empty(map: &mut Map<String, Value>, name: &str) {
    if get_ci(map, name).is_some_and(is_empty_container) {
        remove_ci(map, name);
    }
}

/// `a eq x and b eq y`: the (name, value) pairs of a conjunction of `eq` comparisons on plain
/// sub-attribute names, from which a missing element can be created (quirk Q6).
fn eq_pairs(f: &Filter) -> Option<Vec<(&str, &CompValue)>> {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value } if path.uri.is_none() && path.sub_attr.is_none() => {
            Some(vec![(path.attr.as_str(), value)])
        }
        Filter::And(a, b) => {
            let mut v = eq_pairs(a)?;
            v.extend(eq_pairs(b)?);
            Some(v)
        }
        _ => None,
    }
}

fn comp_json(v: &CompValue) -> Value {
    match v {
        CompValue::Str(s) => Value::String(s.clone()),
        CompValue::Num(n) => Value::Number(n.clone()),
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Null => Value::Null,
    }
}

/// True when the element's `primary` is `true`.
fn is_primary(el: &Value) -> bool {
    el.as_object().and_then(|m| get_ci(m, "primary")).is_some_and(|p| p == &Value::Bool(true))
}

/// RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more than once." When the
/// elements at `keep` became primary, every other element stops being primary.
fn demote_other_primaries(arr: &mut [Value], keep: &[usize]) {
    if !keep.iter().any(|&i| arr.get(i).is_some_and(is_primary)) {
        return;
    }
    for (i, el) in arr.iter_mut().enumerate() {
        if !keep.contains(&i)
            && is_primary(el)
            && let Some(m) = el.as_object_mut()
        {
            set_ci(m, "primary", Value::Bool(false));
        }
    }
}

/// Merges the sub-attributes of `new` into `old` (RFC 7644 §3.5.2.1: complex values are merged).
fn merge_into(old: &mut Map<String, Value>, new: Map<String, Value>) {
    for (k, v) in new {
        set_ci(old, &k, v);
    }
}

/// The path as text for messages, without its filter when it has none.
fn path_name(p: &PatchPath) -> String {
    p.to_string()
}

impl Ctx<'_, '_> {
    fn op(&mut self, op: &PatchOperation) -> Result<(), ScimError> {
        let value = op.value.as_ref();
        match &op.path {
            None => {
                if op.op == PatchOpKind::Remove {
                    return Err(ScimError::invalid_path("remove requires a path (RFC 7644 §3.5.2.2)"));
                }
                match value {
                    Some(Value::Object(obj)) => self.no_path(op.op, obj, None),
                    _ => Err(ScimError::invalid_value(
                        "an operation without 'path' needs an object 'value' whose keys are \
                         attribute paths (RFC 7644 §3.5.2.1, §3.5.2.3)",
                    )),
                }
            }
            Some(p) => self.with_path(op.op, p, value),
        }
    }

    /// Quirk Q4: a value object whose keys are attribute names, dotted paths (`name.givenName`),
    /// full URN paths, or bare extension URNs holding an object of that extension's attributes.
    fn no_path(
        &mut self,
        kind: PatchOpKind,
        obj: &Map<String, Value>,
        within: Option<&SchemaDef>,
    ) -> Result<(), ScimError> {
        let rs = self.rs;
        for (key, v) in obj {
            if within.is_none() && key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let name = match within {
                Some(s) => format!("{}:{key}", s.id),
                None => key.clone(),
            };
            match rs.resolve_key(key, within) {
                KeyTarget::Schema(schema) if within.is_none() => match v {
                    Value::Object(inner) => self.no_path(kind, inner, Some(schema))?,
                    Value::Null => {}
                    other => {
                        return Err(ScimError::invalid_value(format!(
                            "'{key}' must be an object of that schema's attributes, not {}",
                            crate::schema::show(other)
                        )));
                    }
                },
                KeyTarget::Attr { schema, def, sub } => {
                    self.set(kind, schema, def, sub, v, &name, true)?;
                }
                KeyTarget::Schema(_) | KeyTarget::Unknown => self.c.unknown(&name)?,
            }
        }
        Ok(())
    }

    fn with_path(&mut self, kind: PatchOpKind, p: &PatchPath, value: Option<&Value>) -> Result<(), ScimError> {
        let rs = self.rs;
        let name = path_name(p);
        // A bare schema URN as the path: the value is an object of its attributes.
        if p.filter.is_none() && p.sub_attr.is_none() {
            let full = match (&p.uri, p.attr.is_empty()) {
                (Some(u), true) => Some(u.clone()),
                (Some(u), false) => Some(format!("{u}:{}", p.attr)),
                (None, _) => None,
            };
            if let Some(schema) = full.as_deref().and_then(|f| rs.schema(f))
                && rs.resolve(p.uri.as_deref(), &p.attr).is_none()
            {
                return self.whole_schema(kind, schema, value, &name);
            }
        }
        let Some((schema, def)) = rs.resolve(p.uri.as_deref(), &p.attr) else {
            return self.c.unknown(&name);
        };
        let sub = match &p.sub_attr {
            None => None,
            Some(s) => match def.sub(s) {
                Some(sub) => Some(sub),
                None => return self.c.unknown(&name),
            },
        };
        if def.is_read_only() || sub.is_some_and(|s| s.is_read_only()) {
            self.c.read_only(&name);
            return Ok(());
        }
        match (&p.filter, kind) {
            (Some(f), _) => self.filtered(kind, schema, def, f, sub, value, &name),
            (None, PatchOpKind::Remove) => self.remove(schema, def, sub, value, &name),
            (None, _) => {
                let v = value.unwrap_or(&Value::Null);
                self.set(kind, schema, def, sub, v, &name, false)
            }
        }
    }

    /// Add/replace/remove addressed at a whole schema (`path: "urn:…:enterprise:2.0:User"`).
    fn whole_schema(
        &mut self,
        kind: PatchOpKind,
        schema: &SchemaDef,
        value: Option<&Value>,
        name: &str,
    ) -> Result<(), ScimError> {
        match (kind, value) {
            (PatchOpKind::Remove, _) => {
                for def in schema.attributes.iter().filter(|a| !a.is_read_only()) {
                    self.remove(schema, def, None, None, name)?;
                }
                Ok(())
            }
            (_, Some(Value::Object(obj))) => {
                if self.rs.is_core(schema) {
                    self.no_path(kind, obj, None)
                } else {
                    self.no_path(kind, obj, Some(schema))
                }
            }
            (_, _) => Err(ScimError::invalid_value(format!(
                "'{name}' names a schema: its value must be an object of that schema's attributes"
            ))),
        }
    }

    /// The JSON object that holds `schema`'s attributes: the resource itself for the core
    /// schema, the object under the extension URN otherwise (RFC 7643 §3.3).
    fn container(&mut self, schema: &SchemaDef, create: bool) -> Option<&mut Map<String, Value>> {
        if self.rs.is_core(schema) { Some(&mut *self.root) } else { object_ci(self.root, schema.id, create) }
    }

    /// add / replace of an unfiltered attribute or sub-attribute.
    ///
    /// * `add` of a single value replaces it (quirk Q5, RFC 7644 §3.5.2.1);
    /// * `add` to a multi-valued attribute appends the new values, skipping exact duplicates;
    ///   `replace` replaces the whole array (RFC 7644 §3.5.2.3);
    /// * complex values merge their sub-attributes, except `replace` in a no-path operation
    ///   (the listed attributes are replaced, RFC 7644 §3.5.2.3) and values carrying a `value`
    ///   sub-attribute (a new manager id makes the old `$ref` meaningless);
    /// * `""`/`null` removes (quirk Q17).
    #[allow(clippy::too_many_arguments)]
    fn set(
        &mut self,
        kind: PatchOpKind,
        schema: &SchemaDef,
        def: &AttributeDef,
        sub: Option<&AttributeDef>,
        v: &Value,
        name: &str,
        no_path: bool,
    ) -> Result<(), ScimError> {
        if def.is_read_only() || sub.is_some_and(|s| s.is_read_only()) {
            self.c.read_only(name);
            return Ok(());
        }
        if kind == PatchOpKind::Remove {
            return self.remove(schema, def, sub, None, name);
        }
        if is_clear(v) {
            return self.remove(schema, def, sub, None, name);
        }
        if let Some(sub) = sub {
            return self.set_sub(schema, def, sub, v, name);
        }
        if def.multi_valued {
            let new = match self.c.attribute(def, v, name)? {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            let Some(container) = self.container(schema, true) else {
                return Ok(());
            };
            if kind == PatchOpKind::Replace {
                if new.is_empty() {
                    remove_ci(container, def.name);
                } else {
                    let keep: Vec<usize> = (0..new.len()).collect();
                    let mut new = new;
                    demote_other_primaries(&mut new, &keep);
                    set_ci(container, def.name, Value::Array(new));
                }
                return Ok(());
            }
            let Some(arr) = array_ci(container, def.name, true) else {
                return Ok(());
            };
            let mut added = Vec::new();
            for el in new {
                if !arr.contains(&el) {
                    arr.push(el);
                    added.push(arr.len() - 1);
                }
            }
            demote_other_primaries(arr, &added);
            drop_if_empty(container, def.name);
            return Ok(());
        }
        let Some(new) = self.c.single(def, v, name)? else {
            return self.remove(schema, def, None, None, name);
        };
        let Some(container) = self.container(schema, true) else {
            return Ok(());
        };
        let merge = match (&new, get_ci(container, def.name)) {
            (Value::Object(n), Some(Value::Object(_))) => {
                !(kind == PatchOpKind::Replace && no_path) && get_ci(n, "value").is_none()
            }
            _ => false,
        };
        match (merge, new) {
            (true, Value::Object(n)) => {
                if let Some(old) = object_ci(container, def.name, true) {
                    merge_into(old, n);
                }
            }
            (_, new) => set_ci(container, def.name, new),
        }
        Ok(())
    }

    /// add / replace of `attr.sub` without a filter: the sub-attribute of a single complex value
    /// (`name.givenName`), or of every element of a multi-valued one (an element is created when
    /// there is none).
    fn set_sub(
        &mut self,
        schema: &SchemaDef,
        def: &AttributeDef,
        sub: &AttributeDef,
        v: &Value,
        name: &str,
    ) -> Result<(), ScimError> {
        let Some(x) = self.c.attribute(sub, v, name)? else {
            return self.remove(schema, def, Some(sub), None, name);
        };
        let Some(container) = self.container(schema, true) else {
            return Ok(());
        };
        if def.multi_valued {
            let Some(arr) = array_ci(container, def.name, true) else {
                return Ok(());
            };
            let mut touched = false;
            for el in arr.iter_mut() {
                if let Some(m) = el.as_object_mut() {
                    set_ci(m, sub.name, x.clone());
                    touched = true;
                }
            }
            if !touched {
                let mut m = Map::new();
                m.insert(sub.name.to_owned(), x);
                arr.push(Value::Object(m));
            }
        } else if let Some(obj) = object_ci(container, def.name, true) {
            set_ci(obj, sub.name, x);
        }
        Ok(())
    }

    /// remove without a filter (RFC 7644 §3.5.2.2). With a `value` on a multi-valued attribute
    /// (Entra's `{"op":"Remove","path":"emails","value":[{"value":"a@b"}]}` style, quirk Q3), only
    /// the listed values are removed. Removing something absent is a no-op: an error would only
    /// make Entra log a failure.
    fn remove(
        &mut self,
        schema: &SchemaDef,
        def: &AttributeDef,
        sub: Option<&AttributeDef>,
        value: Option<&Value>,
        name: &str,
    ) -> Result<(), ScimError> {
        let listed = match value {
            Some(v) if def.multi_valued && sub.is_none() && !is_clear(v) => match self.c.attribute(def, v, name)? {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            },
            _ => None,
        };
        let Some(container) = self.container(schema, false) else {
            return Ok(());
        };
        match (sub, listed) {
            (None, None) => {
                remove_ci(container, def.name);
            }
            (None, Some(listed)) => {
                if let Some(arr) = array_ci(container, def.name, false) {
                    arr.retain(|el| !listed.iter().any(|l| same_value(el, l)));
                }
                drop_if_empty(container, def.name);
            }
            (Some(sub), _) => {
                if def.multi_valued {
                    if let Some(arr) = array_ci(container, def.name, false) {
                        for el in arr.iter_mut() {
                            if let Some(m) = el.as_object_mut() {
                                remove_ci(m, sub.name);
                            }
                        }
                        arr.retain(|el| !is_empty_container(el));
                    }
                } else if let Some(obj) = object_ci(container, def.name, false) {
                    remove_ci(obj, sub.name);
                }
                drop_if_empty(container, def.name);
            }
        }
        if !self.rs.is_core(schema) {
            drop_if_empty(self.root, schema.id);
        }
        Ok(())
    }

    /// Operations on `attr[filter]` and `attr[filter].sub` (RFC 7644 §3.5.2, valuePath).
    #[allow(clippy::too_many_arguments)]
    fn filtered(
        &mut self,
        kind: PatchOpKind,
        schema: &SchemaDef,
        def: &AttributeDef,
        f: &Filter,
        sub: Option<&AttributeDef>,
        value: Option<&Value>,
        name: &str,
    ) -> Result<(), ScimError> {
        if def.kind != crate::filter::ValueKind::Complex {
            return Err(ScimError::invalid_path(format!(
                "'{name}': a value filter applies only to complex attributes, and '{}' is not one",
                def.name
            )));
        }
        let rs = self.rs;
        let types = ElementTypes { rs, parent: def };
        if !def.multi_valued {
            // `manager[value eq "id"]` (quirk Q7): the single value when it matches.
            let Some(container) = self.container(schema, false) else {
                return if kind == PatchOpKind::Remove {
                    Ok(())
                } else {
                    self.set(kind, schema, def, sub, value.unwrap_or(&Value::Null), name, false)
                };
            };
            let hit = get_ci(container, def.name).is_some_and(|cur| matches(f, cur, &types));
            return match kind {
                PatchOpKind::Remove if hit => self.remove(schema, def, sub, None, name),
                PatchOpKind::Remove => Ok(()),
                _ => self.set(kind, schema, def, sub, value.unwrap_or(&Value::Null), name, false),
            };
        }

        let v = value.unwrap_or(&Value::Null);
        // Coerce before borrowing the resource; `None` means "clear".
        let new = match (kind, sub) {
            (PatchOpKind::Remove, _) => None,
            _ if is_clear(v) => None,
            (_, Some(s)) => self.c.attribute(s, v, name)?,
            (_, None) => self.c.single(def, v, name)?,
        };
        let clear = kind == PatchOpKind::Remove || new.is_none();
        // Elements built from the filter's `eq` pairs, for upsert and replace (quirk Q6).
        let seed = match (clear, eq_pairs(f)) {
            (false, Some(pairs)) => Some(self.seed(def, &pairs, name)?),
            _ => None,
        };

        let Some(container) = self.container(schema, !clear) else {
            return Ok(());
        };
        let Some(arr) = array_ci(container, def.name, !clear) else {
            return Ok(());
        };
        let hits: Vec<usize> =
            arr.iter().enumerate().filter(|(_, el)| matches(f, el, &types)).map(|(i, _)| i).collect();

        match (new, sub) {
            // remove, or add/replace with ""/null.
            (None, sub) => {
                // Clearing `value` (or removing the elements) drops the matching elements: an
                // element without its value means nothing (RFC 7643 §2.4).
                let whole = match sub {
                    None => true,
                    Some(s) => kind != PatchOpKind::Remove && s.name == "value",
                };
                let mut i = 0;
                arr.retain_mut(|el| {
                    let hit = hits.contains(&i);
                    i += 1;
                    if !hit {
                        return true;
                    }
                    if whole {
                        return false;
                    }
                    if let (Some(m), Some(s)) = (el.as_object_mut(), sub) {
                        remove_ci(m, s.name);
                    }
                    !is_empty_container(el)
                });
            }
            (Some(x), Some(s)) => {
                let targets = if hits.is_empty() {
                    let Some(mut el) = seed else {
                        return Err(no_target(name));
                    };
                    set_ci(&mut el, s.name, x);
                    arr.push(Value::Object(el));
                    vec![arr.len() - 1]
                } else {
                    for &i in &hits {
                        if let Some(m) = arr.get_mut(i).and_then(Value::as_object_mut) {
                            set_ci(m, s.name, x.clone());
                        }
                    }
                    hits
                };
                demote_other_primaries(arr, &targets);
            }
            (Some(new), None) => {
                let Value::Object(new) = new else {
                    return Err(ScimError::invalid_value(format!(
                        "'{name}' selects elements of '{}': the value must be an object",
                        def.name
                    )));
                };
                let targets = if hits.is_empty() {
                    let Some(mut el) = seed else {
                        return Err(no_target(name));
                    };
                    merge_into(&mut el, new);
                    arr.push(Value::Object(el));
                    vec![arr.len() - 1]
                } else {
                    for &i in &hits {
                        let Some(slot) = arr.get_mut(i) else { continue };
                        match (kind, slot.as_object_mut()) {
                            (PatchOpKind::Add, Some(m)) => merge_into(m, new.clone()),
                            // RFC 7644 §3.5.2.3: matching records are replaced; the filter's
                            // `eq` pairs are kept so `emails[type eq "work"]` stays findable.
                            _ => {
                                let mut el = seed.clone().unwrap_or_default();
                                merge_into(&mut el, new.clone());
                                *slot = Value::Object(el);
                            }
                        }
                    }
                    hits
                };
                demote_other_primaries(arr, &targets);
            }
        }
        drop_if_empty(container, def.name);
        if !self.rs.is_core(schema) {
            drop_if_empty(self.root, schema.id);
        }
        Ok(())
    }

    /// A new element holding the filter's `eq` pairs, coerced to the sub-attributes' types
    /// (`primary eq "True"` → `true`).
    fn seed(
        &mut self,
        def: &AttributeDef,
        pairs: &[(&str, &CompValue)],
        name: &str,
    ) -> Result<Map<String, Value>, ScimError> {
        let mut el = Map::new();
        for (attr, cv) in pairs {
            let Some(sub) = def.sub(attr) else {
                self.c.unknown(&format!("{}.{attr}", def.name))?;
                continue;
            };
            if sub.is_read_only() {
                continue;
            }
            if let Some(x) = self.c.attribute(sub, &comp_json(cv), name)? {
                el.insert(sub.name.to_owned(), x);
            }
        }
        Ok(el)
    }
}

/// RFC 7644 §3.5.2.3: a filter that matches nothing and cannot be turned into a new element.
fn no_target(name: &str) -> ScimError {
    ScimError::no_target(format!(
        "'{name}' matches no value, and its filter is not a conjunction of 'eq' comparisons from \
         which one could be created"
    ))
}

/// True when `el` is the value `listed` names: equal `value` sub-attributes for complex
/// elements, equality otherwise.
fn same_value(el: &Value, listed: &Value) -> bool {
    match (el, listed) {
        (Value::Object(e), Value::Object(l)) => match get_ci(l, "value") {
            Some(lv) => get_ci(e, "value") == Some(lv),
            None => el == listed,
        },
        _ => el == listed,
    }
}
