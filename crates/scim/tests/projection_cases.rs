//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) parsing and application.

#![allow(clippy::unwrap_used)] // Tests panic on purpose when an expectation fails.

use scim::ScimType;
use scim::filter::AttrPath;
use scim::projection::{Projection, parse_attribute_list};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:Custom:2.0:User";
const ALWAYS: &[&str] = &["id", "schemas"];

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "u1",
        "externalId": "ext-1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        "emails": [
            {"value": "b@example.com", "type": "work", "primary": true},
            {"value": "b@home.org", "type": "home"}
        ],
        "active": true,
        "meta": {"resourceType": "User", "created": "2020-01-01T00:00:00Z"},
        ENTERPRISE: {
            "employeeNumber": "701984",
            "department": "Tour",
            "manager": {"value": "m1", "displayName": "Boss"}
        },
        CUSTOM: {"costCenter": "CC"}
    })
}

fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let p = Projection::from_query(attributes, excluded).unwrap();
    let mut u = user();
    p.apply(&mut u, ALWAYS);
    u
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn parse_lists() {
    assert_eq!(
        parse_attribute_list("userName, emails ,,name.givenName,").unwrap(),
        vec![AttrPath::new("userName"), AttrPath::new("emails"), AttrPath::with_sub("name", "givenName")]
    );
    assert_eq!(parse_attribute_list("").unwrap(), vec![]);
    assert_eq!(parse_attribute_list(" , ").unwrap(), vec![]);
    // Postman's bracket filters are read as the bare attribute.
    assert_eq!(parse_attribute_list(r#"emails[type eq "work"]"#).unwrap(), vec![AttrPath::new("emails")]);
    assert_eq!(
        parse_attribute_list(r#"emails[value eq "emailName357"],userName"#).unwrap(),
        vec![AttrPath::new("emails"), AttrPath::new("userName")]
    );
    assert_eq!(
        parse_attribute_list(r#"emails[value eq "a,b"],id"#).unwrap(),
        vec![AttrPath::new("emails"), AttrPath::new("id")]
    );
    assert_eq!(
        parse_attribute_list(&format!("{ENTERPRISE}:department,{ENTERPRISE},{ENTERPRISE}.manager.value")).unwrap(),
        vec![
            AttrPath { uri: Some(ENTERPRISE.into()), attr: "department".into(), sub_attr: None },
            AttrPath { uri: Some(ENTERPRISE.into()), attr: String::new(), sub_attr: None },
            AttrPath { uri: Some(ENTERPRISE.into()), attr: "manager".into(), sub_attr: Some("value".into()) },
        ]
    );
    for bad in ["user name", "a.b.c", "emails[type eq", "1x", "a:b", "[x]"] {
        let e = parse_attribute_list(bad).expect_err(bad);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
    }
    let e = Projection::from_query(Some("ok,bad name"), None).unwrap_err();
    assert!(e.detail.contains("attributes"), "{}", e.detail);
    let e = Projection::from_query(None, Some("bad name")).unwrap_err();
    assert!(e.detail.contains("excludedAttributes"), "{}", e.detail);
}

#[test]
fn empty_projection_is_identity() {
    let p = Projection::from_query(None, Some(" ")).unwrap();
    assert!(p.is_empty());
    let mut u = user();
    p.apply(&mut u, ALWAYS);
    assert_eq!(u, user());
}

#[test]
fn attributes_keep_only_selected_plus_always_returned() {
    let u = project(Some("userName,emails"), None);
    assert_eq!(keys(&u), vec!["schemas", "id", "userName", "emails"]);
    assert_eq!(u["emails"], user()["emails"]);
    let u = project(Some("id"), None);
    assert_eq!(keys(&u), vec!["schemas", "id"]);
    let u = project(Some("USERNAME"), None);
    assert_eq!(u["userName"], "bjensen");
    let u = project(Some(r#"emails[type eq "work"]"#), None);
    assert_eq!(keys(&u), vec!["schemas", "id", "emails"]);
    assert_eq!(u["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn sub_attribute_selection() {
    let u = project(Some("name.givenName"), None);
    assert_eq!(u["name"], json!({"givenName": "Barbara"}));
    let u = project(Some("name.givenName,name.FAMILYNAME"), None);
    assert_eq!(u["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
    // The whole attribute wins over a sub-attribute selection.
    let u = project(Some("name.givenName,name"), None);
    assert_eq!(u["name"], user()["name"]);
    let u = project(Some("emails.value"), None);
    assert_eq!(u["emails"], json!([{"value": "b@example.com"}, {"value": "b@home.org"}]));
    let u = project(Some("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName"), None);
    assert_eq!(u["name"], json!({"familyName": "Jensen"}));
}

#[test]
fn extension_selection() {
    let u = project(Some(&format!("{ENTERPRISE}:department")), None);
    assert_eq!(keys(&u), vec!["schemas", "id", ENTERPRISE]);
    assert_eq!(u[ENTERPRISE], json!({"department": "Tour"}));
    let u = project(Some(&format!("{ENTERPRISE}:manager.value")), None);
    assert_eq!(u[ENTERPRISE], json!({"manager": {"value": "m1"}}));
    let u = project(Some(&format!("{}.employeeNumber", ENTERPRISE.to_lowercase())), None);
    assert_eq!(u[ENTERPRISE], json!({"employeeNumber": "701984"}));
    // A bare extension URN selects the whole extension object.
    let u = project(Some(ENTERPRISE), None);
    assert_eq!(keys(&u), vec!["schemas", "id", ENTERPRISE]);
    assert_eq!(u[ENTERPRISE], user()[ENTERPRISE]);
    // Unprefixed extension attribute names are found too.
    let u = project(Some("userName,costCenter"), None);
    assert_eq!(keys(&u), vec!["schemas", "id", "userName", CUSTOM]);
    // Selection of an absent extension attribute leaves no empty object behind.
    let u = project(Some(&format!("userName,{ENTERPRISE}:nosuch")), None);
    assert_eq!(keys(&u), vec!["schemas", "id", "userName"]);
}

#[test]
fn excluded_attributes() {
    let u = project(None, Some("emails,NAME"));
    assert!(u.get("emails").is_none() && u.get("name").is_none());
    assert_eq!(u["userName"], "bjensen");
    // Always-returned attributes cannot be excluded.
    let u = project(None, Some("id,schemas,userName"));
    assert_eq!(u["id"], "u1");
    assert!(u.get("schemas").is_some());
    assert!(u.get("userName").is_none());
    let u = project(None, Some("name.givenName,emails.type"));
    assert_eq!(u["name"], json!({"familyName": "Jensen", "formatted": "Barbara Jensen"}));
    assert_eq!(u["emails"], json!([{"value": "b@example.com", "primary": true}, {"value": "b@home.org"}]));
    let u = project(None, Some(&format!("{ENTERPRISE}:manager,{ENTERPRISE}:department")));
    assert_eq!(u[ENTERPRISE], json!({"employeeNumber": "701984"}));
    let u = project(None, Some(ENTERPRISE));
    assert!(u.get(ENTERPRISE).is_none());
    assert!(u.get(CUSTOM).is_some());
    // Emptied extension objects disappear.
    let u = project(None, Some("costCenter"));
    assert!(u.get(CUSTOM).is_none());
    let u = project(None, Some(&format!("{ENTERPRISE}:manager.displayName")));
    assert_eq!(u[ENTERPRISE]["manager"], json!({"value": "m1"}));
    // Unknown names are ignored.
    let u = project(None, Some("nosuch,name.nosuch"));
    assert_eq!(u, user());
}

#[test]
fn group_members_exclusion() {
    let p = Projection::from_query(None, Some("members")).unwrap();
    assert!(p.excludes_attribute("members"));
    assert!(p.excludes_attribute("MEMBERS"));
    assert!(!p.excludes_attribute("displayName"));
    let mut g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "G", "members": [{"value": "u1"}]});
    p.apply(&mut g, ALWAYS);
    assert_eq!(keys(&g), vec!["schemas", "id", "displayName"]);

    let p = Projection::from_query(Some("displayName"), None).unwrap();
    assert!(p.excludes_attribute("members"));
    assert!(!p.excludes_attribute("displayname"));
    let p = Projection::from_query(Some("members.value"), None).unwrap();
    assert!(!p.excludes_attribute("members"));
    let p = Projection::from_query(None, Some("members.display")).unwrap();
    assert!(!p.excludes_attribute("members"));
    let p = Projection::from_query(None, None).unwrap();
    assert!(!p.excludes_attribute("members"));
    let p = Projection::from_query(Some("urn:ietf:params:scim:schemas:core:2.0:Group:members"), None).unwrap();
    assert!(!p.excludes_attribute("members"));
}

#[test]
fn both_parameters_and_odd_resources() {
    let u = project(Some("name,emails"), Some("name.formatted"));
    assert_eq!(keys(&u), vec!["schemas", "id", "name", "emails"]);
    assert_eq!(u["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
    let p = Projection::from_query(Some("userName"), Some("id")).unwrap();
    for mut v in [json!(null), json!([1]), json!("x"), json!({})] {
        let before = v.clone();
        p.apply(&mut v, ALWAYS);
        assert_eq!(v, before);
    }
    // Primitive selected with a sub-attribute: kept as it is (over-returning is safe).
    let u = project(Some("userName.x"), None);
    assert_eq!(u["userName"], "bjensen");
    // A bare core URN selects all core attributes.
    let u = project(Some("urn:ietf:params:scim:schemas:core:2.0:User"), None);
    assert!(u.get("userName").is_some() && u.get("emails").is_some());
    assert!(u.get(ENTERPRISE).is_none());
}
