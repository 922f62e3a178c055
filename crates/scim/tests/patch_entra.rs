//! Real Entra ID PATCH payloads (entra-wire.md §2.5–2.10, quirks Q1–Q20) applied to a canonical
//! User, from the table in `fixtures/entra_patch_cases.json`, plus group-member splitting.

use scim::ScimType;
use scim::patch::{MemberOp, MemberRef, PatchOpKind, apply_patch, parse_patch_request, split_member_ops};
use scim::schema::{AttributeDef, ResourceSchema, SchemaDef, UnknownAttributes, enterprise_user_schema};
use serde_json::{Value, json};

const MFA: &str = "urn:scimd:schemas:extension:mfa:1.0:User";

/// The server's read-only MFA extension (product.md §2), as an arbitrary extension.
fn mfa_extension() -> SchemaDef {
    SchemaDef {
        id: MFA,
        name: "MfaUser",
        description: "MFA state",
        attributes: vec![
            AttributeDef::string("status", "activation status").read_only(),
            AttributeDef::boolean("blocked", "blocked").read_only(),
            AttributeDef::string("blockReasons", "why").multi().read_only(),
        ],
    }
}

fn user_rs() -> ResourceSchema {
    ResourceSchema::user(vec![(enterprise_user_schema().clone(), false), (mfa_extension(), false)])
}

fn ops(body: Value) -> Vec<scim::patch::PatchOperation> {
    match parse_patch_request(&body) {
        Ok(o) => o,
        Err(e) => panic!("parse failed: {e}"),
    }
}

#[test]
fn entra_patch_table() {
    let text = include_str!("fixtures/entra_patch_cases.json");
    let table: Value = serde_json::from_str(text).expect("fixture parses");
    let base = &table["base"];
    let rs = user_rs();
    let cases = table["cases"].as_array().expect("cases");
    assert!(cases.len() >= 40);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let before = case.get("before").unwrap_or(base).clone();
        let policy = match case.get("policy").and_then(Value::as_str) {
            Some("ignore") => UnknownAttributes::Ignore,
            _ => UnknownAttributes::Reject,
        };
        let mut resource = before.clone();
        let result = parse_patch_request(&case["request"]).and_then(|o| apply_patch(&mut resource, &o, &rs, policy));
        match (case.get("after"), case.get("error"), result) {
            (Some(after), None, Ok(outcome)) => {
                assert_eq!(&resource, after, "case '{name}'");
                let want = case.get("warnings").and_then(Value::as_u64).unwrap_or(0);
                assert_eq!(outcome.warnings.len() as u64, want, "case '{name}': warnings {:?}", outcome.warnings);
            }
            (None, Some(err), Err(e)) => {
                assert_eq!(resource, before, "case '{name}': failed PATCH changed the resource");
                assert_eq!(u64::from(e.status), err["status"].as_u64().expect("status"), "{name}");
                if let Some(t) = err.get("scimType").and_then(Value::as_str) {
                    assert_eq!(e.scim_type.map(ScimType::as_str), Some(t), "case '{name}': {e}");
                }
                for needle in err.get("detail_contains").and_then(Value::as_array).into_iter().flatten() {
                    let needle = needle.as_str().expect("needle");
                    assert!(e.detail.contains(needle), "case '{name}': '{}' lacks '{needle}'", e.detail);
                }
            }
            (_, _, r) => panic!("case '{name}': unexpected result {r:?}, resource {resource}"),
        }
    }
}

#[test]
fn parse_is_lenient_where_entra_and_postman_need_it() {
    // Postman: extra top-level "id", lowercase keys, extra "name" in the op.
    let o = ops(json!({
        "id": "g1",
        "schemas": ["whatever"],
        "operations": [{"name": "addMember", "OP": "Add", "Path": "members", "Value": "string id 1"}]
    }));
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].op, PatchOpKind::Add);
    assert_eq!(o[0].value, Some(json!("string id 1")));
    // value null is kept so that replace-with-null can clear.
    let o = ops(json!({"Operations": [{"op": "replace", "path": "title", "value": null}]}));
    assert_eq!(o[0].value, Some(Value::Null));
}

#[test]
fn parse_rejects_what_cannot_be_applied() {
    let cases = [
        (json!({"Operations": []}), ScimType::InvalidValue),
        (json!({"schemas": []}), ScimType::InvalidSyntax),
        (json!([1]), ScimType::InvalidSyntax),
        (json!({"Operations": [{"op": "remove"}]}), ScimType::InvalidPath),
        (json!({"Operations": [{"op": "move", "path": "x"}]}), ScimType::InvalidSyntax),
        (json!({"Operations": [{"op": "add", "path": "title"}]}), ScimType::InvalidValue),
        (json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": 1}]}), ScimType::InvalidPath),
    ];
    for (body, want) in cases {
        let e = parse_patch_request(&body).expect_err("must fail");
        assert_eq!(e.status, 400, "{body}");
        assert!(
            e.scim_type == Some(want)
                || (want == ScimType::InvalidPath && e.scim_type == Some(ScimType::InvalidFilter)),
            "{body}: {e}"
        );
    }
}

fn split(body: Value) -> (Vec<scim::patch::PatchOperation>, Vec<MemberOp>) {
    split_member_ops(ops(body)).expect("split")
}

fn m(id: &str, display: Option<&str>) -> MemberRef {
    MemberRef { value: id.into(), display: display.map(Into::into) }
}

#[test]
fn entra_default_remove_with_value_list_removes_only_those() {
    let (rest, mo) = split(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"},{"value":"u2"}]}]}));
    assert!(rest.is_empty());
    assert_eq!(mo, vec![MemberOp::Remove(vec!["u1".into(), "u2".into()])]);
}

#[test]
fn flag_mode_remove_with_filter() {
    let (_, mo) = split(json!({"Operations":[{"op":"remove","path":"members[value eq \"7f4bc1a3\"]"}]}));
    assert_eq!(mo, vec![MemberOp::Remove(vec!["7f4bc1a3".into()])]);
    let (_, mo) = split(json!({"Operations":[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]}));
    assert_eq!(mo, vec![MemberOp::Remove(vec!["a".into(), "b".into()])]);
}

#[test]
fn remove_all_only_without_value_and_filter() {
    let (_, mo) = split(json!({"Operations":[{"op":"remove","path":"members"}]}));
    assert_eq!(mo, vec![MemberOp::RemoveAll]);
    // An empty value list removes nobody; it never means "all".
    let (_, mo) = split(json!({"Operations":[{"op":"Remove","path":"members","value":[]}]}));
    assert_eq!(mo, vec![MemberOp::Remove(vec![])]);
}

#[test]
fn add_members_in_every_shape() {
    let (rest, mo) = split(json!({"Operations":[
        {"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]},
        {"name":"addMember","op":"add","path":"members","value":[{"displayName":"new User","value":"u4"}]},
        {"op":"add","path":"members","value":"string id 1"},
        {"op":"add","path":"members","value":{"value":"u5","display":"VP"}},
        {"op":"Replace","path":"displayName","value":"renamed"}
    ]}));
    assert_eq!(rest.len(), 1);
    assert_eq!(
        mo,
        vec![
            MemberOp::Add(vec![m("f648f8d5ea4e4cd38e9c", None)]),
            MemberOp::Add(vec![m("u4", Some("new User"))]),
            MemberOp::Add(vec![m("string id 1", None)]),
            MemberOp::Add(vec![m("u5", Some("VP"))]),
        ]
    );
}

#[test]
fn replace_members_and_no_path_members_key() {
    let (rest, mo) = split(json!({"Operations":[
        {"op":"replace","path":"members","value":[{"value":"a"},{"value":"b","display":"B"}]},
        {"op":"replace","value":{"displayName":"G","members":[{"value":"c"}]}},
        {"op":"add","value":{"Members":[{"value":"d"}]}}
    ]}));
    assert_eq!(
        mo,
        vec![
            MemberOp::Replace(vec![m("a", None), m("b", Some("B"))]),
            MemberOp::Replace(vec![m("c", None)]),
            MemberOp::Add(vec![m("d", None)]),
        ]
    );
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].value, Some(json!({"displayName":"G"})));
}

#[test]
fn unsupported_member_filters_and_values_are_rejected() {
    for body in [
        json!({"Operations":[{"op":"remove","path":"members[display eq \"x\"]"}]}),
        json!({"Operations":[{"op":"remove","path":"members[value ne \"x\"]"}]}),
    ] {
        let e = split_member_ops(ops(body)).expect_err("must fail");
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{e}");
    }
    let e = split_member_ops(ops(json!({"Operations":[{"op":"add","path":"members","value":[{"display":"no id"}]}]})))
        .expect_err("must fail");
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("operation 1"), "{}", e.detail);
}

#[test]
fn group_rename_after_split() {
    let rs = ResourceSchema::group(vec![]);
    let (rest, mo) = split(json!({"Operations":[
        {"op":"Replace","path":"displayName","value":"1 updatedDisplayName"},
        {"op":"Add","path":"members","value":[{"value":"u1"}]}
    ]}));
    assert_eq!(mo.len(), 1);
    let mut g = json!({"displayName":"old","externalId":"e1"});
    apply_patch(&mut g, &rest, &rs, UnknownAttributes::Reject).expect("apply");
    assert_eq!(g, json!({"displayName":"1 updatedDisplayName","externalId":"e1"}));
}
