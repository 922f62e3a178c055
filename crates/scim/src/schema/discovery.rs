//! Discovery documents: `/Schemas` (RFC 7643 §7), `/ResourceTypes` (RFC 7643 §6) and
//! `/ServiceProviderConfig` (RFC 7643 §5), served as described in RFC 7644 §4.
//!
//! Nulls are never emitted (Entra's schema-discovery rules: "omit nulls", entra-wire.md §2.2).

use super::resource::ResourceSchema;
use super::{AttributeDef, SchemaDef};
use serde_json::{Map, Value, json};

/// URN of a Schema resource (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// URN of a ResourceType resource (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the ServiceProviderConfig resource (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// The features a deployment advertises in `/ServiceProviderConfig` (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderFeatures {
    /// Human-readable help for this service provider (`documentationUri`).
    pub documentation_uri: Option<String>,
    /// `filter.maxResults`: the most resources one list response returns.
    pub max_results: u32,
    /// `sort.supported` (RFC 7644 §3.4.2.3).
    pub sort: bool,
    /// `etag.supported` (RFC 7644 §3.14).
    pub etag: bool,
}

impl Default for ServiceProviderFeatures {
    fn default() -> Self {
        Self { documentation_uri: None, max_results: 200, sort: true, etag: false }
    }
}

/// `base_url` without a trailing slash, so `base + "/Schemas"` never doubles it.
fn trim_base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// One attribute with every characteristic of RFC 7643 §7 (`name`, `type`, `multiValued`,
/// `description`, `required`, `caseExact`, `mutability`, `returned`, `uniqueness`), plus
/// `subAttributes`, `canonicalValues` and `referenceTypes` when they have content.
pub fn attribute_json(a: &AttributeDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    m.insert("type".into(), json!(a.kind.as_str()));
    m.insert("multiValued".into(), json!(a.multi_valued));
    m.insert("description".into(), json!(a.description));
    m.insert("required".into(), json!(a.required));
    m.insert("caseExact".into(), json!(a.case_exact));
    m.insert("mutability".into(), json!(a.mutability.as_str()));
    m.insert("returned".into(), json!(a.returned.as_str()));
    m.insert("uniqueness".into(), json!(a.uniqueness.as_str()));
    if !a.sub_attributes.is_empty() {
        m.insert("subAttributes".into(), Value::Array(a.sub_attributes.iter().map(attribute_json).collect()));
    }
    if !a.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), json!(a.canonical_values));
    }
    if !a.reference_types.is_empty() {
        m.insert("referenceTypes".into(), json!(a.reference_types));
    }
    Value::Object(m)
}

/// The Schema resource for `def` (RFC 7643 §7, representation as in §8.7.1).
pub fn schema_json(def: &SchemaDef, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": def.id,
        "name": def.name,
        "description": def.description,
        "attributes": def.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", trim_base(base_url), def.id),
        },
    })
}

/// The ResourceType resource for `rs` (RFC 7643 §6).
pub fn resource_type_json(rs: &ResourceSchema, base_url: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rs.name,
        "name": rs.name,
        "endpoint": rs.endpoint,
        "description": rs.description,
        "schema": rs.core.id,
        "schemaExtensions": rs
            .extensions
            .iter()
            .map(|(s, required)| json!({"schema": s.id, "required": required}))
            .collect::<Vec<_>>(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", trim_base(base_url), rs.name),
        },
    })
}

/// The ServiceProviderConfig resource (RFC 7643 §5). PATCH is supported (Entra requires it,
/// entra-wire.md §2.10); bulk and password change are not.
pub fn service_provider_config_json(base_url: &str, cfg: &ServiceProviderFeatures) -> Value {
    let mut auth = json!({
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication scheme using the OAuth Bearer Token Standard (the \
                        service's SCIM API token, sent by Entra ID as its Secret Token)",
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": true,
    });
    let mut body = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": cfg.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": cfg.sort},
        "etag": {"supported": cfg.etag},
        "authenticationSchemes": [],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", trim_base(base_url)),
        },
    });
    if let Some(doc) = &cfg.documentation_uri {
        body["documentationUri"] = json!(doc);
        auth["documentationUri"] = json!(doc);
    }
    body["authenticationSchemes"] = json!([auth]);
    body
}
