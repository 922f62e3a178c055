//! Schema definitions and discovery documents (RFC 7643 §7, §8.7, RFC 7644 §4), plus the
//! normalisation of client-supplied resources against those schemas.
//!
//! The schemas are data, not code: the PATCH engine, the normaliser and the filter evaluator all
//! read attribute characteristics from here, so a rule such as "writes to `readOnly` attributes are
//! ignored" (RFC 7643 §2.2) is enforced the same way everywhere.

mod coerce;
mod defs;
mod discovery;
mod normalize;
mod resource;

pub use defs::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, common_attributes, enterprise_user_schema, group_schema,
    user_schema,
};
pub use discovery::{
    RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, ServiceProviderFeatures, attribute_json,
    resource_type_json, schema_json, service_provider_config_json,
};
pub use normalize::{Normalized, UnknownAttributes, normalize_resource};
pub use resource::{KeyTarget, ResourceSchema};

pub(crate) use coerce::{Coercer, show};
pub(crate) use resource::ElementTypes;

use crate::error::ScimError;
use crate::filter::ValueKind;

/// The error for an attribute no schema declares, under the `reject` policy (product.md §2):
/// 400 `invalidPath` with a `detail` an Entra administrator can act on.
pub(crate) fn unknown_attribute_error(name: &str) -> ScimError {
    ScimError::invalid_path(format!(
        "attribute '{name}' is not defined by any schema of this resource; remove it from the \
         attribute mapping of the provisioning app (or set the service parameter \
         unknown_attributes to ignore)"
    ))
}

/// `mutability` characteristic (RFC 7643 §2.2, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// `returned` characteristic (RFC 7643 §2.2, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// `uniqueness` characteristic (RFC 7643 §2.2, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with the characteristics of RFC 7643 §7. The builder methods start
/// from the RFC defaults (§2.2: single-valued, optional, `caseExact` false, `readWrite`,
/// `returned` default, `uniqueness` none) so that definitions only state what differs.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    pub name: &'static str,
    pub kind: ValueKind,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub description: &'static str,
    pub sub_attributes: Vec<AttributeDef>,
    pub canonical_values: Vec<&'static str>,
    pub reference_types: Vec<&'static str>,
}

impl AttributeDef {
    /// An attribute of `kind` with the RFC 7643 §2.2 default characteristics.
    pub fn new(name: &'static str, kind: ValueKind, description: &'static str) -> Self {
        Self {
            name,
            kind,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            description,
            sub_attributes: Vec::new(),
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
        }
    }
    pub fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, ValueKind::String, description)
    }
    pub fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, ValueKind::Boolean, description)
    }
    pub fn date_time(name: &'static str, description: &'static str) -> Self {
        Self::new(name, ValueKind::DateTime, description)
    }
    pub fn binary(name: &'static str, description: &'static str) -> Self {
        Self::new(name, ValueKind::Binary, description)
    }
    /// A reference (RFC 7643 §2.3.7) to the given `referenceTypes`.
    pub fn reference(name: &'static str, types: &[&'static str], description: &'static str) -> Self {
        let mut a = Self::new(name, ValueKind::Reference, description);
        a.reference_types = types.to_vec();
        a
    }
    /// A complex attribute (RFC 7643 §2.3.8) with its sub-attributes.
    pub fn complex(name: &'static str, description: &'static str, sub_attributes: Vec<AttributeDef>) -> Self {
        let mut a = Self::new(name, ValueKind::Complex, description);
        a.sub_attributes = sub_attributes;
        a
    }
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    /// Shorthand for `mutability(Mutability::ReadOnly)`.
    pub fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    pub fn canonical(mut self, values: &[&'static str]) -> Self {
        self.canonical_values = values.to_vec();
        self
    }

    /// The sub-attribute called `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// True when clients cannot write this attribute (RFC 7643 §2.2: `readOnly`).
    pub fn is_read_only(&self) -> bool {
        self.mutability == Mutability::ReadOnly
    }
}

/// A schema (RFC 7643 §7): its URN, name, description and top-level attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// The top-level attribute called `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}
