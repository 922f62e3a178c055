//! Discovery documents (RFC 7643 §5–§7, RFC 7644 §4) and name resolution.

use scim::filter::{AttrPath, AttributeTypes, ValueKind};
use scim::schema::{
    AttributeDef, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, KeyTarget, Mutability, ResourceSchema, SchemaDef,
    ServiceProviderFeatures, USER_SCHEMA, enterprise_user_schema, group_schema, resource_type_json, schema_json,
    service_provider_config_json, user_schema,
};
use serde_json::{Value, json};

const BASE: &str = "https://scim.example.com/scim/v2/";
const CHARACTERISTICS: [&str; 9] =
    ["name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"];

fn check_attributes(attrs: &Value, schema: &str) {
    for a in attrs.as_array().expect("attributes array") {
        for c in CHARACTERISTICS {
            assert!(a.get(c).is_some_and(|v| !v.is_null()), "{schema}: {a} lacks {c}");
        }
        assert!(
            ["string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"]
                .contains(&a["type"].as_str().expect("type"))
        );
        if a["type"] == "complex" {
            check_attributes(&a["subAttributes"], schema);
        } else {
            assert!(a.get("subAttributes").is_none());
        }
        if a["type"] == "reference" {
            assert!(a["referenceTypes"].as_array().is_some_and(|r| !r.is_empty()), "{a}");
        }
        for k in ["canonicalValues", "referenceTypes"] {
            if let Some(v) = a.get(k) {
                assert!(v.as_array().is_some_and(|x| !x.is_empty()), "{a}: empty {k}");
            }
        }
    }
}

fn find<'a>(attrs: &'a Value, name: &str) -> &'a Value {
    attrs.as_array().and_then(|a| a.iter().find(|x| x["name"] == name)).expect(name)
}

fn no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in discovery document"),
        Value::Array(a) => a.iter().for_each(no_nulls),
        Value::Object(m) => m.values().for_each(no_nulls),
        _ => {}
    }
}

#[test]
fn every_schema_has_the_nine_characteristics_and_no_nulls() {
    for def in [user_schema(), enterprise_user_schema(), group_schema()] {
        let j = schema_json(def, BASE);
        no_nulls(&j);
        assert_eq!(j["id"], def.id);
        assert_eq!(j["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]));
        assert_eq!(j["meta"]["resourceType"], "Schema");
        assert_eq!(j["meta"]["location"], format!("https://scim.example.com/scim/v2/Schemas/{}", def.id));
        check_attributes(&j["attributes"], def.id);
    }
}

#[test]
fn user_schema_matches_rfc_7643_8_7_1() {
    let j = schema_json(user_schema(), BASE);
    assert_eq!(j["id"], USER_SCHEMA);
    assert_eq!(j["description"], "User Account"); // Postman looks for this text.
    let attrs = &j["attributes"];
    assert_eq!(attrs[0]["name"], "userName");
    let user_name = find(attrs, "userName");
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["required"], true);
    assert!(attrs.as_array().expect("a").iter().all(|a| a["name"] != "id" && a["name"] != "meta"));
    let password = find(attrs, "password");
    assert_eq!((password["mutability"].as_str(), password["returned"].as_str()), (Some("writeOnly"), Some("never")));
    assert_eq!(find(attrs, "active")["type"], "boolean");
    assert_eq!(find(attrs, "profileUrl")["referenceTypes"], json!(["external"]));
    let emails = find(attrs, "emails");
    assert_eq!(emails["multiValued"], true);
    assert_eq!(find(&emails["subAttributes"], "type")["canonicalValues"], json!(["work", "home", "other"]));
    let phones = find(attrs, "phoneNumbers");
    assert_eq!(
        find(&phones["subAttributes"], "type")["canonicalValues"],
        json!(["work", "home", "mobile", "fax", "pager", "other"])
    );
    let groups = find(attrs, "groups");
    assert_eq!(groups["mutability"], "readOnly");
    for s in groups["subAttributes"].as_array().expect("subs") {
        assert_eq!(s["mutability"], "readOnly");
    }
    let addresses = find(attrs, "addresses");
    for s in ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"] {
        find(&addresses["subAttributes"], s);
    }
    let names: Vec<&str> = attrs.as_array().expect("a").iter().filter_map(|a| a["name"].as_str()).collect();
    for n in [
        "name",
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "ims",
        "photos",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        assert!(names.contains(&n), "{n}");
    }
}

#[test]
fn enterprise_and_group_schemas() {
    let e = schema_json(enterprise_user_schema(), BASE);
    let manager = find(&e["attributes"], "manager");
    assert_eq!(find(&manager["subAttributes"], "displayName")["mutability"], "readOnly");
    assert_eq!(find(&manager["subAttributes"], "$ref")["referenceTypes"], json!(["User"]));
    for n in ["employeeNumber", "costCenter", "organization", "division", "department"] {
        find(&e["attributes"], n);
    }
    let g = schema_json(group_schema(), BASE);
    assert_eq!(g["id"], GROUP_SCHEMA);
    let dn = find(&g["attributes"], "displayName");
    assert_eq!((dn["required"].as_bool(), dn["uniqueness"].as_str()), (Some(true), Some("server")));
    let members = find(&g["attributes"], "members");
    assert_eq!(find(&members["subAttributes"], "value")["mutability"], "immutable");
    assert_eq!(find(&members["subAttributes"], "type")["canonicalValues"], json!(["User", "Group"]));
}

fn mfa() -> SchemaDef {
    SchemaDef {
        id: "urn:scimd:schemas:extension:mfa:1.0:User",
        name: "MfaUser",
        description: "MFA state, read-only",
        attributes: vec![AttributeDef::string("status", "status").read_only()],
    }
}

#[test]
fn resource_types_and_service_provider_config() {
    let rs = ResourceSchema::user(vec![(enterprise_user_schema().clone(), false), (mfa(), true)]);
    let j = resource_type_json(&rs, BASE);
    no_nulls(&j);
    assert_eq!(
        j,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
                {"schema": "urn:scimd:schemas:extension:mfa:1.0:User", "required": true}
            ],
            "meta": {"resourceType": "ResourceType", "location": "https://scim.example.com/scim/v2/ResourceTypes/User"}
        })
    );
    let g = resource_type_json(&ResourceSchema::group(vec![]), BASE);
    assert_eq!((g["endpoint"].as_str(), g["schemaExtensions"].clone()), (Some("/Groups"), json!([])));

    let spc = service_provider_config_json(BASE, &ServiceProviderFeatures::default());
    no_nulls(&spc);
    assert!(spc.get("documentationUri").is_none());
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"], json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0}));
    assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 200}));
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["etag"]["supported"], false);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(spc["authenticationSchemes"][0]["primary"], true);
    assert_eq!(spc["meta"]["location"], "https://scim.example.com/scim/v2/ServiceProviderConfig");
    let cfg = ServiceProviderFeatures {
        documentation_uri: Some("https://docs".into()),
        max_results: 50,
        sort: false,
        etag: true,
    };
    let spc = service_provider_config_json("https://x", &cfg);
    assert_eq!(spc["documentationUri"], "https://docs");
    assert_eq!(
        (spc["filter"]["maxResults"].as_u64(), spc["sort"]["supported"].as_bool(), spc["etag"]["supported"].as_bool()),
        (Some(50), Some(false), Some(true))
    );
}

#[test]
fn resolution_is_case_insensitive_and_covers_common_attributes() {
    let rs = ResourceSchema::user(vec![(enterprise_user_schema().clone(), false), (mfa(), false)]);
    let (s, a) = rs.resolve(None, "USERNAME").expect("userName");
    assert_eq!((s.id, a.name), (USER_SCHEMA, "userName"));
    let (s, a) = rs.resolve(None, "manager").expect("manager");
    assert_eq!((s.id, a.name), (ENTERPRISE_USER_SCHEMA, "manager"));
    let (_, a) =
        rs.resolve(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"), "Department").expect("dept");
    assert_eq!(a.name, "department");
    assert!(rs.resolve(Some(ENTERPRISE_USER_SCHEMA), "userName").is_none());
    assert!(rs.resolve(Some("urn:unknown"), "userName").is_none());
    for common in ["id", "externalId", "meta"] {
        assert_eq!(rs.resolve(None, common).expect(common).1.name, common);
        assert_eq!(rs.resolve(Some(USER_SCHEMA), common).expect(common).1.name, common);
    }
    assert_eq!(rs.resolve(None, "id").map(|(_, a)| a.mutability), Some(Mutability::ReadOnly));
    assert_eq!(rs.resolve(None, "status").map(|(_, a)| a.mutability), Some(Mutability::ReadOnly));

    assert!(matches!(
        rs.resolve_key("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", None),
        KeyTarget::Schema(_)
    ));
    assert!(matches!(
        rs.resolve_key("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", None),
        KeyTarget::Attr { def, sub: Some(sub), .. } if def.name == "manager" && sub.name == "value"
    ));
    assert!(
        matches!(rs.resolve_key("name.GIVENNAME", None), KeyTarget::Attr { sub: Some(s), .. } if s.name == "givenName")
    );
    assert!(matches!(rs.resolve_key("urn:other:thing:attr", None), KeyTarget::Unknown));
    assert!(matches!(rs.resolve_key("name.nope", None), KeyTarget::Unknown));
}

#[test]
fn attribute_types_for_filters() {
    let rs = ResourceSchema::user(vec![(enterprise_user_schema().clone(), false)]);
    assert_eq!(rs.lookup(&AttrPath::new("userName")), Some((ValueKind::String, false)));
    assert_eq!(rs.lookup(&AttrPath::new("id")), Some((ValueKind::String, true)));
    assert_eq!(rs.lookup(&AttrPath::new("externalId")), Some((ValueKind::String, true)));
    assert_eq!(rs.lookup(&AttrPath::new("Active")), Some((ValueKind::Boolean, false)));
    assert_eq!(rs.lookup(&AttrPath::with_sub("meta", "created")), Some((ValueKind::DateTime, false)));
    assert_eq!(rs.lookup(&AttrPath::with_sub("emails", "primary")), Some((ValueKind::Boolean, false)));
    // A complex attribute compares through its `value` (`manager eq "id"`).
    assert_eq!(rs.lookup(&AttrPath::new("manager")), Some((ValueKind::String, false)));
    assert_eq!(rs.lookup(&AttrPath::new("nope")), None);
}
