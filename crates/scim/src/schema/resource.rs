//! A resource type (RFC 7643 §6): its core schema plus extensions, and name resolution against
//! them.

use super::defs::{common_attributes, group_schema, user_schema};
use super::{AttributeDef, SchemaDef};
use crate::filter::{AttrPath, AttributeTypes, ValueKind};

/// A resource type (RFC 7643 §6) with the schemas its resources carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    /// `User` / `Group`: also the resource type's `id` and `meta.resourceType`.
    pub name: &'static str,
    /// `/Users` / `/Groups`, relative to the base URL.
    pub endpoint: &'static str,
    pub description: &'static str,
    pub core: SchemaDef,
    /// Extension schemas and whether each is required (RFC 7643 §6 `schemaExtensions`).
    pub extensions: Vec<(SchemaDef, bool)>,
}

/// What a JSON key or a path text names, resolved against a [`ResourceSchema`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyTarget<'a> {
    /// A bare schema URN (`"urn:…:enterprise:2.0:User": {…}`): a nested object of that
    /// schema's attributes (RFC 7644 §3.5.2, RFC 7643 §3.3).
    Schema(&'a SchemaDef),
    /// An attribute, possibly with a sub-attribute (`name.givenName`,
    /// `urn:…:enterprise:2.0:User:manager`).
    Attr { schema: &'a SchemaDef, def: &'a AttributeDef, sub: Option<&'a AttributeDef> },
    /// Names nothing known: no schema declares it.
    Unknown,
}

impl ResourceSchema {
    /// The User resource type (RFC 7643 §4.1) with the given extensions, e.g.
    /// `[(enterprise_user_schema().clone(), false), (mfa_extension, false)]`.
    pub fn user(extensions: Vec<(SchemaDef, bool)>) -> Self {
        Self { name: "User", endpoint: "/Users", description: "User Account", core: user_schema().clone(), extensions }
    }

    /// The Group resource type (RFC 7643 §4.2) with the given extensions.
    pub fn group(extensions: Vec<(SchemaDef, bool)>) -> Self {
        Self { name: "Group", endpoint: "/Groups", description: "Group", core: group_schema().clone(), extensions }
    }

    /// Every schema URN of this resource type, core first.
    pub fn schema_ids(&self) -> Vec<&'static str> {
        std::iter::once(self.core.id).chain(self.extensions.iter().map(|(s, _)| s.id)).collect()
    }

    /// The core schema or the extension whose URN is `uri` (case-insensitive: RFC 7643 §2.1
    /// makes attribute names, and by extension their URN prefixes, case-insensitive).
    pub fn schema(&self, uri: &str) -> Option<&SchemaDef> {
        std::iter::once(&self.core)
            .chain(self.extensions.iter().map(|(s, _)| s))
            .find(|s| s.id.eq_ignore_ascii_case(uri))
    }

    /// True when `schema` is this resource type's core schema (its attributes live at the top
    /// level of the JSON; extension attributes live under the extension URN, RFC 7643 §3.3).
    pub fn is_core(&self, schema: &SchemaDef) -> bool {
        schema.id == self.core.id
    }

    /// Resolves an attribute name, case-insensitively (RFC 7643 §2.1).
    ///
    /// With `uri`, only that schema is searched (the common attributes `id`, `externalId` and
    /// `meta` belong to the core schema's URN for this purpose). Without, the common attributes
    /// (RFC 7643 §3.1) and the core schema come first, then the extensions in order: RFC 7644
    /// §3.10 lets clients omit the URN of an extension attribute when the name is unambiguous.
    pub fn resolve(&self, uri: Option<&str>, attr: &str) -> Option<(&SchemaDef, &AttributeDef)> {
        let common = || common_attributes().iter().find(|a| a.name.eq_ignore_ascii_case(attr)).map(|a| (&self.core, a));
        match uri {
            Some(uri) => {
                let schema = self.schema(uri)?;
                if self.is_core(schema) {
                    common().or_else(|| schema.attribute(attr).map(|a| (schema, a)))
                } else {
                    schema.attribute(attr).map(|a| (schema, a))
                }
            }
            None => common()
                .or_else(|| self.core.attribute(attr).map(|a| (&self.core, a)))
                .or_else(|| self.extensions.iter().find_map(|(s, _)| s.attribute(attr).map(|a| (s, a)))),
        }
    }

    /// Resolves a JSON key or PATCH key of the forms RFC 7644 §3.5.2 and Entra use:
    /// `displayName`, `name.givenName`, a full URN path (`urn:…:enterprise:2.0:User:department`,
    /// also with `.` after the URN as in Entra's pre-2018 dialect, quirk Q8), or a bare schema URN.
    /// `within` restricts the lookup to one schema (keys nested under an extension URN).
    pub fn resolve_key<'a>(&'a self, key: &str, within: Option<&'a SchemaDef>) -> KeyTarget<'a> {
        let (uri, rest): (Option<&str>, &str) = match within {
            Some(s) => (Some(s.id), key),
            None => {
                if let Some(schema) = self.schema(key) {
                    return KeyTarget::Schema(schema);
                }
                match self.split_urn(key) {
                    Some((id, rest)) => (Some(id), rest),
                    // A URN prefix that matches no schema of ours names nothing we know.
                    None if key.contains(':') => return KeyTarget::Unknown,
                    None => (None, key),
                }
            }
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        let Some((schema, def)) = self.resolve(uri, attr) else {
            return KeyTarget::Unknown;
        };
        match sub {
            None => KeyTarget::Attr { schema, def, sub: None },
            Some(sub) => match def.sub(sub) {
                Some(s) => KeyTarget::Attr { schema, def, sub: Some(s) },
                None => KeyTarget::Unknown,
            },
        }
    }

    /// Splits `urn:…:User:attr` into the schema URN and `attr` when the prefix is one of ours.
    fn split_urn<'k>(&self, key: &'k str) -> Option<(&'static str, &'k str)> {
        self.schema_ids().into_iter().find_map(|id| {
            let prefix = key.get(..id.len())?;
            if !prefix.eq_ignore_ascii_case(id) {
                return None;
            }
            let rest = key.get(id.len()..)?;
            let rest = rest.strip_prefix(':').or_else(|| rest.strip_prefix('.'))?;
            (!rest.is_empty()).then_some((id, rest))
        })
    }

    /// The definition an [`AttrPath`] names: the sub-attribute when it has one.
    pub fn attr_def(&self, path: &AttrPath) -> Option<&AttributeDef> {
        let (_, def) = self.resolve(path.uri.as_deref(), &path.attr)?;
        match &path.sub_attr {
            Some(sub) => def.sub(sub),
            None => Some(def),
        }
    }
}

/// Type and case-exactness of `def`; for a complex attribute with a `value` sub-attribute, those
/// of `value`, because a filter on the attribute itself (`emails co "x"`, `manager eq "id"`)
/// compares its `value` (RFC 7644 §3.4.2.2, and Entra's `manager eq <id>` in §2.5.4 of the notes).
fn kind_of(def: &AttributeDef) -> (ValueKind, bool) {
    if def.kind == ValueKind::Complex
        && let Some(v) = def.sub("value")
    {
        return (v.kind, v.case_exact);
    }
    (def.kind, def.case_exact)
}

impl AttributeTypes for ResourceSchema {
    fn lookup(&self, path: &AttrPath) -> Option<(ValueKind, bool)> {
        self.attr_def(path).map(kind_of)
    }
}

/// Types for filters that are relative to the elements of one multi-valued attribute
/// (`emails[type eq "work"]`): bare names are that attribute's sub-attributes.
pub(crate) struct ElementTypes<'a> {
    pub rs: &'a ResourceSchema,
    pub parent: &'a AttributeDef,
}

impl AttributeTypes for ElementTypes<'_> {
    fn lookup(&self, path: &AttrPath) -> Option<(ValueKind, bool)> {
        if path.uri.is_none()
            && let Some(sub) = self.parent.sub(&path.attr)
        {
            return Some(kind_of(sub));
        }
        self.rs.lookup(path)
    }
}
