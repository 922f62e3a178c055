//! Property tests: the canonical printer round-trips through the parser, and the parser never
//! panics on arbitrary input.

#![allow(clippy::unwrap_used)] // Tests panic on purpose when an expectation fails.

use proptest::prelude::*;
use scim::filter::{AttrPath, CompValue, CompareOp, Filter, parse_attr_path, parse_filter};
use serde_json::Number;

const URIS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:Custom_App-1:2.0:User",
    "urn:example:acme:attrs",
];

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_-]{0,8}"
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (proptest::option::weighted(0.3, proptest::sample::select(URIS)), name(), proptest::option::weighted(0.3, name()))
        .prop_map(|(uri, attr, sub_attr)| AttrPath { uri: uri.map(str::to_owned), attr, sub_attr })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        4 => any::<String>().prop_map(CompValue::Str),
        1 => prop_oneof![
            Just("true".to_owned()),
            Just("null".to_owned()),
            Just("42".to_owned()),
            Just(" ".to_owned()),
            Just(")".to_owned()),
        ]
        .prop_map(CompValue::Str),
        1 => any::<i64>().prop_map(|n| CompValue::Num(Number::from(n))),
        1 => any::<u64>().prop_map(|n| CompValue::Num(Number::from(n))),
        1 => any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(CompValue::Num),
        1 => any::<bool>().prop_map(CompValue::Bool),
        1 => Just(CompValue::Null),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        3 => (attr_path(), compare_op(), comp_value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => attr_path().prop_map(Filter::Present),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    // Depth stays far below MAX_FILTER_DEPTH: each level adds at most one nesting level.
    leaf().prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
            (attr_path(), inner).prop_map(|(path, f)| Filter::ValuePath { path, filter: Box::new(f) }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn display_round_trips(f in filter()) {
        let text = f.to_string();
        prop_assert_eq!(parse_filter(&text), Ok(f), "canonical text: {}", text);
    }

    #[test]
    fn attr_path_round_trips(p in attr_path()) {
        prop_assert_eq!(parse_attr_path(&p.to_string()), Ok(p));
    }

    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = parse_filter(&s);
        let _ = parse_attr_path(&s);
    }

    #[test]
    fn parse_never_panics_on_filterish_text(
        s in r#"[a-zA-Z0-9 ()\[\]".:\\\-_$,tf]{0,80}"#,
    ) {
        if let Ok(f) = parse_filter(&s) {
            // Anything accepted prints to a canonical form that parses back to the same AST.
            prop_assert_eq!(parse_filter(&f.to_string()), Ok(f));
        }
        let _ = parse_attr_path(&s);
    }

    #[test]
    fn mutated_valid_filters_never_panic(f in filter(), cut in any::<prop::sample::Index>(), junk in "[()\\[\\]\" a-z.:\\\\]{0,3}") {
        let text = f.to_string();
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &text[..at], junk, &text[at..]);
        if let Ok(g) = parse_filter(&mutated) {
            prop_assert_eq!(parse_filter(&g.to_string()), Ok(g));
        }
    }
}
