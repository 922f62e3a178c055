//! Properties of the PATCH engine and the normaliser on generated input: nothing panics, and a
//! failing PATCH leaves the resource exactly as it was (all or nothing, RFC 7644 §3.5.2).

use proptest::prelude::*;
use scim::patch::{PatchOpKind, PatchOperation, apply_patch, split_member_ops};
use scim::path::parse_path;
use scim::schema::{
    AttributeDef, ResourceSchema, SchemaDef, UnknownAttributes, enterprise_user_schema, normalize_resource,
};
use serde_json::{Map, Value, json};

const PATHS: &[&str] = &[
    "displayName",
    "active",
    "userName",
    "name",
    "name.givenName",
    "Name.FamilyName",
    "emails",
    "emails.value",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\"].primary",
    "emails[value co \"x\"].primary",
    "emails[type eq \"work\" and primary eq true].display",
    "phoneNumbers[type eq \"mobile\"].value",
    "addresses[type eq \"work\"].streetAddress",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "manager[value eq \"m\"]",
    "manager.value",
    "groups",
    "id",
    "meta.created",
    "unknownAttr",
    "urn:scimd:schemas:extension:mfa:1.0:User:status",
    "roles",
    "members",
    "members[value eq \"a\"]",
    "x509Certificates[type eq \"x\"].value",
    "title[value eq \"x\"]",
];

const KEYS: &[&str] = &[
    "value",
    "type",
    "primary",
    "display",
    "displayName",
    "name.givenName",
    "givenName",
    "active",
    "Manager",
    "emails",
    "members",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "userName",
    "id",
    "meta",
    "schemas",
    "name",
    "roles",
    "unknown",
    "$ref",
];

const STRINGS: &[&str] = &["", "True", "false", "x", "work", "m", "a", "2020-01-01T00:00:00Z"];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(|n| json!(n)),
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())
            }),
        ]
    })
}

fn op() -> impl Strategy<Value = PatchOperation> {
    (
        prop::sample::select(&[PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove][..]),
        prop::option::weighted(0.85, prop::sample::select(PATHS)),
        prop::option::of(value()),
    )
        .prop_map(|(op, path, value)| PatchOperation { op, path: path.and_then(|p| parse_path(p).ok()), value })
}

fn resource() -> impl Strategy<Value = Value> {
    let base = json!({
        "userName": "alice", "active": true, "displayName": "Alice",
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [{"value": "a@x", "type": "work", "primary": true}, {"value": "h@x", "type": "home"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "S", "manager": {"value": "m"}}
    });
    // The stored resource may also be odd (emails as a string, extension as an array, …).
    prop::collection::vec((prop::sample::select(KEYS), value()), 0..3).prop_map(move |extra| {
        let mut r = base.clone();
        if let Value::Object(m) = &mut r {
            for (k, v) in extra {
                m.insert(k.to_owned(), v);
            }
        }
        r
    })
}

fn user_rs() -> ResourceSchema {
    let mfa = SchemaDef {
        id: "urn:scimd:schemas:extension:mfa:1.0:User",
        name: "MfaUser",
        description: "MFA state",
        attributes: vec![AttributeDef::string("status", "status").read_only()],
    };
    ResourceSchema::user(vec![(enterprise_user_schema().clone(), false), (mfa, false)])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn apply_never_panics_and_failure_changes_nothing(
        start in resource(),
        ops in prop::collection::vec(op(), 1..6),
        ignore in any::<bool>(),
    ) {
        let rs = user_rs();
        let policy = if ignore { UnknownAttributes::Ignore } else { UnknownAttributes::Reject };
        let mut r = start.clone();
        match apply_patch(&mut r, &ops, &rs, policy) {
            Ok(_) => prop_assert!(r.is_object()),
            Err(e) => {
                prop_assert_eq!(&r, &start);
                prop_assert!(e.status == 400, "{}", e);
            }
        }
        let _ = split_member_ops(ops);
    }

    #[test]
    fn group_patch_never_panics(ops in prop::collection::vec(op(), 1..6)) {
        let rs = ResourceSchema::group(vec![]);
        let start = json!({"displayName": "G", "members": [{"value": "a"}]});
        let mut r = start.clone();
        if apply_patch(&mut r, &ops, &rs, UnknownAttributes::Ignore).is_err() {
            prop_assert_eq!(r, start);
        }
    }

    #[test]
    fn normalize_never_panics(mut body in value(), ignore in any::<bool>(), named in any::<bool>()) {
        if let (true, Value::Object(m)) = (named, &mut body) {
            m.entry("userName").or_insert(json!("u"));
        }
        let policy = if ignore { UnknownAttributes::Ignore } else { UnknownAttributes::Reject };
        if let Ok(n) = normalize_resource(&body, &user_rs(), policy) {
            prop_assert!(n.resource.is_object());
            // Normalised output is a fixed point.
            let again = normalize_resource(&n.resource, &user_rs(), policy);
            prop_assert_eq!(again.map(|a| a.resource).ok(), Some(n.resource));
        }
    }
}
