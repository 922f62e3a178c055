//! Property tests for PATCH paths: canonical text round-trips, arbitrary text never panics.

#![allow(clippy::unwrap_used)] // Tests panic on purpose when an expectation fails.

use proptest::prelude::*;
use scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim::path::{PatchPath, parse_path};
use scim::projection::{Projection, parse_attribute_list};

const URIS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:Custom:2.0:User",
];

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z$][A-Za-z0-9_-]{0,8}"
}

fn cmp() -> impl Strategy<Value = Filter> {
    (name(), any::<String>()).prop_map(|(attr, v)| Filter::Compare {
        path: AttrPath::new(attr),
        op: CompareOp::Eq,
        value: CompValue::Str(v),
    })
}

fn inner_filter() -> impl Strategy<Value = Filter> {
    (cmp(), proptest::option::of(cmp())).prop_map(|(a, b)| match b {
        Some(b) => Filter::And(Box::new(a), Box::new(b)),
        None => a,
    })
}

fn patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        // attrPath
        (proptest::option::of(proptest::sample::select(URIS)), name(), proptest::option::of(name()))
            .prop_map(|(uri, attr, sub_attr)| PatchPath { uri: uri.map(str::to_owned), attr, filter: None, sub_attr }),
        // valuePath [subAttr]
        (proptest::option::of(proptest::sample::select(URIS)), name(), inner_filter(), proptest::option::of(name()))
            .prop_map(|(uri, attr, f, sub_attr)| PatchPath {
                uri: uri.map(str::to_owned),
                attr,
                filter: Some(f),
                sub_attr
            }),
        // bare schema URN
        proptest::sample::select(URIS).prop_map(|u| PatchPath {
            uri: Some(u.to_owned()),
            attr: String::new(),
            filter: None,
            sub_attr: None
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn display_round_trips(p in patch_path()) {
        let text = p.to_string();
        prop_assert_eq!(parse_path(&text), Ok(p), "text: {}", text);
    }

    #[test]
    fn never_panics(s in any::<String>()) {
        let _ = parse_path(&s);
        let _ = parse_attribute_list(&s);
        let _ = Projection::from_query(Some(&s), Some(&s));
    }

    #[test]
    fn never_panics_on_pathish_text(s in r#"[a-zA-Z0-9 \[\]".:$,\\-]{0,60}"#) {
        if let Ok(p) = parse_path(&s) {
            prop_assert_eq!(parse_path(&p.to_string()), Ok(p));
        }
        if let Ok(p) = Projection::from_query(Some(&s), Some(&s)) {
            let mut v = serde_json::json!({"a": {"b": 1}, "urn:x:2.0:User": {"a": [{"b": 2}]}});
            p.apply(&mut v, &["id"]);
        }
    }
}
