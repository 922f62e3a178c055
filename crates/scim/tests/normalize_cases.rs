//! Normalisation of POST/PUT bodies: the Postman suite's bodies and Entra's variants
//! (entra-wire.md §2.3, §2.10.2, quirks Q2, Q9–Q11, Q20).

use scim::ScimType;
use scim::schema::{
    AttributeDef, ENTERPRISE_USER_SCHEMA as ENT, ResourceSchema, SchemaDef, UnknownAttributes, enterprise_user_schema,
    normalize_resource,
};
use serde_json::{Value, json};

const MFA: &str = "urn:scimd:schemas:extension:mfa:1.0:User";

fn user_rs() -> ResourceSchema {
    let mfa = SchemaDef {
        id: MFA,
        name: "MfaUser",
        description: "MFA state",
        attributes: vec![
            AttributeDef::string("status", "activation status").read_only(),
            AttributeDef::boolean("blocked", "blocked").read_only(),
        ],
    };
    ResourceSchema::user(vec![(enterprise_user_schema().clone(), false), (mfa, false)])
}

fn norm(body: Value) -> Value {
    match normalize_resource(&body, &user_rs(), UnknownAttributes::Reject) {
        Ok(n) => {
            assert!(n.warnings.is_empty(), "{:?}", n.warnings);
            n.resource
        }
        Err(e) => panic!("normalize failed: {e}"),
    }
}

fn norm_err(body: Value, policy: UnknownAttributes) -> scim::ScimError {
    normalize_resource(&body, &user_rs(), policy).expect_err("must fail")
}

fn postman() -> serde_json::Map<String, Value> {
    let text = include_str!("fixtures/postman_bodies.json");
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        other => panic!("fixture: {other:?}"),
    }
}

#[test]
fn every_postman_body_gets_the_expected_answer() {
    let user = user_rs();
    let group = ResourceSchema::group(vec![]);
    for (name, case) in postman() {
        let rs = if case["resource"] == "Group" { &group } else { &user };
        let body = &case["body"];
        let reject = normalize_resource(body, rs, UnknownAttributes::Reject);
        let ignore = normalize_resource(body, rs, UnknownAttributes::Ignore);
        if name.contains("no username") {
            // Postman expects 400 for a POST/PUT without userName.
            let e = ignore.expect_err(&name);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{name}: {e}");
            assert!(e.detail.contains("userName"), "{name}: {e}");
            assert_eq!(reject.expect_err(&name).status, 400);
        } else if name.contains("misspelled") {
            // `adreses`: rejected under the default policy, ignored (200 in Postman) otherwise.
            let e = reject.expect_err(&name);
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
            assert!(e.detail.contains("adreses") && e.detail.contains("attribute mapping"), "{e}");
            let n = ignore.expect(&name);
            assert_eq!(n.warnings.len(), 1, "{:?}", n.warnings);
            assert!(n.warnings[0].contains("adreses"));
            assert!(n.resource.get("adreses").is_none());
        } else {
            let n = reject.unwrap_or_else(|e| panic!("{name}: {e}"));
            let r = &n.resource;
            for dropped in ["schemas", "meta", "id"] {
                assert!(r.get(dropped).is_none(), "{name}: {dropped} kept");
            }
        }
    }
}

#[test]
fn postman_enterprise_user_with_capitalised_keys() {
    let bodies = postman();
    let r = norm(bodies["Post EnterpriseUser"]["body"].clone());
    assert_eq!(r[ENT], json!({"department": "bob", "manager": {"value": "SuzzyQ"}}));
    assert_eq!(r["emails"][0], json!({"primary": true, "type": "work", "value": "testing@bob2.com"}));
    assert_eq!(r["active"], json!(true));
}

#[test]
fn postman_emp1_string_true_two_work_emails_nulls_and_meta() {
    let bodies = postman();
    let r = norm(bodies["Post emp1 with string \"True\""]["body"].clone());
    assert_eq!(r["active"], json!(true));
    assert_eq!(r["emails"].as_array().map(Vec::len), Some(2));
    assert_eq!(r["name"], json!({"formatted": "Daniel Mcgee", "familyName": "Employee", "givenName": "Darl"}));
    assert_eq!(
        r["addresses"][1],
        json!({"formatted": "18522 Lisa Unions\nEast Gregory, CT 52311", "type": "other", "primary": false})
    );
    assert_eq!(r["roles"], json!([]));
    assert!(r.get("meta").is_none());
    assert_eq!(r["preferredLanguage"], json!("xh"));
}

#[test]
fn entra_create_user_body() {
    let r = norm(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    }));
    assert_eq!(
        r,
        json!({
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        })
    );
}

#[test]
fn entra_old_example_with_explicit_nulls_and_malformed_urn_in_schemas() {
    let r = norm(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "userName": "Test_User", "active": "True", "addresses": null, "phoneNumbers": null,
        "title": null, "displayName": null, ENT: {"manager": null, "department": null}
    }));
    assert_eq!(r, json!({"userName": "Test_User", "active": true}));
}

#[test]
fn extension_attributes_in_all_three_spellings() {
    let r = norm(json!({
        "userName": "u",
        "Manager": {"Value": "SuzzyQ"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": 42,
        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Department": "bob"}
    }));
    assert_eq!(r[ENT], json!({"manager": {"value": "SuzzyQ"}, "employeeNumber": "42", "department": "bob"}));
    assert!(r.get("Manager").is_none());
}

#[test]
fn shapes_are_coerced() {
    let r = norm(json!({
        "userName": "u",
        ENT: {"manager": "m1"},
        "emails": {"value": "a@b", "type": "work"},
        "active": "FALSE",
        "displayName": "  Spaces Kept  "
    }));
    assert_eq!(r[ENT]["manager"], json!({"value": "m1"}));
    assert_eq!(r["emails"], json!([{"value": "a@b", "type": "work"}]));
    assert_eq!(r["active"], json!(false));
    assert_eq!(r["displayName"], json!("  Spaces Kept  "));
}

#[test]
fn read_only_input_is_dropped() {
    let r = norm(json!({
        "userName": "u",
        "id": "client-id",
        "groups": [{"value": "g1"}],
        MFA: {"status": "activated"},
        "urn:scimd:schemas:extension:mfa:1.0:User:blocked": true,
        ENT: {"manager": {"value": "m", "displayName": "Boss"}}
    }));
    assert_eq!(r, json!({"userName": "u", ENT: {"manager": {"value": "m"}}}));
}

#[test]
fn invalid_values_name_the_attribute_and_value() {
    let e = norm_err(json!({"userName": "u", "active": "maybe"}), UnknownAttributes::Ignore);
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("active") && e.detail.contains("maybe"), "{e}");
    let e = norm_err(json!({"userName": "u", "title": {"a": 1}}), UnknownAttributes::Ignore);
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("title"), "{e}");
    let e = norm_err(json!({"userName": "u", "displayName": ["a", "b"]}), UnknownAttributes::Ignore);
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = norm_err(json!("not an object"), UnknownAttributes::Ignore);
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    let e = norm_err(json!({"userName": ""}), UnknownAttributes::Ignore);
    assert!(e.detail.contains("userName"), "{e}");
}

#[test]
fn unknown_attributes_follow_the_policy() {
    let body = json!({
        "userName": "u",
        "favouriteColour": "blue",
        "urn:ietf:params:scim:schemas:extension:CustomApp:2.0:User": {"costume": "x"},
        "name": {"givenName": "A", "nickname2": "B"}
    });
    let e = norm_err(body.clone(), UnknownAttributes::Reject);
    assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidPath)));
    assert!(e.detail.contains("favouriteColour") && e.detail.contains("attribute mapping"), "{e}");
    let n = normalize_resource(&body, &user_rs(), UnknownAttributes::Ignore).expect("ignore");
    assert_eq!(n.resource, json!({"userName": "u", "name": {"givenName": "A"}}));
    assert_eq!(n.warnings.len(), 3, "{:?}", n.warnings);
    assert!(n.warnings.iter().any(|w| w.contains("CustomApp")));
    assert!(n.warnings.iter().any(|w| w.contains("name.nickname2")));
}

#[test]
fn entra_group_create_with_microsoft_schema_uri() {
    let rs = ResourceSchema::group(vec![]);
    let n = normalize_resource(
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
            "members": [{"value": "u1", "display": "VP"}, {"value": "u2", "displayName": "SenorVP"}, "u3"]
        }),
        &rs,
        UnknownAttributes::Reject,
    )
    .expect("group");
    assert_eq!(
        n.resource,
        json!({
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "members": [{"value": "u1", "display": "VP"}, {"value": "u2", "display": "SenorVP"}, {"value": "u3"}]
        })
    );
    let e = normalize_resource(&json!({"externalId": "x"}), &rs, UnknownAttributes::Ignore)
        .expect_err("displayName required");
    assert!(e.detail.contains("displayName"), "{e}");
}

/// Issue 8 (tests/badinput): one attribute under two spellings is refused, whichever comes
/// first, instead of the last one silently winning.
#[test]
fn an_attribute_sent_twice_under_different_case_is_refused() {
    for body in [
        json!({"userName": "a@x", "USERNAME": "b@x"}),
        json!({"userName": "a@x", "displayName": "A", "DisplayName": "B"}),
        json!({"userName": "a@x", ENT: {"department": "A"}, format!("{ENT}:department"): "B"}),
    ] {
        let e = normalize_resource(&body, &user_rs(), UnknownAttributes::Reject).expect_err("refused");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{body}: {e}");
        assert!(e.detail.contains("more than once"), "{}", e.detail);
    }
    // A null under one spelling is no value: the other spelling stands.
    let ok = normalize_resource(
        &json!({"userName": "a@x", "displayName": null, "DISPLAYNAME": "B"}),
        &user_rs(),
        UnknownAttributes::Reject,
    );
    assert_eq!(ok.expect("accepted").resource["displayName"], json!("B"));
}
