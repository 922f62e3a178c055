//! Pagination (RFC 7644 §3.4.2.4), ListResponse (§3.4.2) and sorting (§3.4.2.3).

#![allow(clippy::unwrap_used)] // Tests panic on purpose when an expectation fails.

use scim::ScimType;
use scim::filter::{AttrPath, AttributeTypes, ValueKind, parse_attr_path};
use scim::list::{LIST_RESPONSE_SCHEMA, Page, SortOrder, list_response, sort_resources};
use serde_json::{Value, json};

#[test]
fn page_defaults_and_clamping() {
    assert_eq!(Page::from_query(None, None, 100, 200).unwrap(), Page { start_index: 1, count: 100 });
    assert_eq!(Page::from_query(Some("6"), Some("5"), 100, 200).unwrap(), Page { start_index: 6, count: 5 });
    assert_eq!(Page::from_query(Some("0"), Some("-3"), 100, 200).unwrap(), Page { start_index: 1, count: 0 });
    assert_eq!(Page::from_query(Some("-10"), Some("0"), 100, 200).unwrap(), Page { start_index: 1, count: 0 });
    assert_eq!(Page::from_query(Some(" 2 "), Some("1000"), 100, 200).unwrap(), Page { start_index: 2, count: 200 });
    assert_eq!(Page::from_query(Some(""), Some(""), 100, 50).unwrap(), Page { start_index: 1, count: 50 });
    assert_eq!(Page::from_query(Some("+3"), None, 10, 50).unwrap(), Page { start_index: 3, count: 10 });
    let huge = Page::from_query(Some("99999999999999999999999"), Some("99999999999999999999"), 10, 50).unwrap();
    assert_eq!(huge, Page { start_index: i64::MAX as u64, count: 50 });
    let neg = Page::from_query(Some("-99999999999999999999999"), Some("-99999999999999999999"), 10, 50).unwrap();
    assert_eq!(neg, Page { start_index: 1, count: 0 });
    assert_eq!(Page { start_index: 1, count: 5 }.offset(), 0);
    assert_eq!(Page { start_index: 6, count: 5 }.offset(), 5);
    assert_eq!(Page { start_index: 0, count: 5 }.offset(), 0);
}

#[test]
fn page_rejects_non_integers() {
    for (s, c, name) in [
        (Some("abc"), None, "startIndex"),
        (None, Some("1.5"), "count"),
        (Some("1e3"), None, "startIndex"),
        (None, Some("ten"), "count"),
        (Some("-"), None, "startIndex"),
    ] {
        let e = Page::from_query(s, c, 10, 50).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains(name), "{}", e.detail);
    }
}

#[test]
fn list_response_shape() {
    let r = list_response(5, 1, vec![json!({"id": "a"}), json!({"id": "b"})]);
    assert_eq!(
        r,
        json!({"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": 5, "itemsPerPage": 2, "startIndex": 1,
               "Resources": [{"id": "a"}, {"id": "b"}]})
    );
    let empty = list_response(0, 1, vec![]);
    assert_eq!(empty["Resources"], json!([]));
    assert_eq!(empty["itemsPerPage"], 0);
    assert_eq!(empty["totalResults"], 0);
    let count0 = list_response(7, 1, vec![]);
    assert_eq!(count0["totalResults"], 7);
    assert_eq!(
        r.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["schemas", "totalResults", "itemsPerPage", "startIndex", "Resources"]
    );
}

#[test]
fn sort_order_parsing() {
    assert_eq!(SortOrder::parse(None).unwrap(), SortOrder::Ascending);
    assert_eq!(SortOrder::parse(Some("")).unwrap(), SortOrder::Ascending);
    assert_eq!(SortOrder::parse(Some("ASCENDING")).unwrap(), SortOrder::Ascending);
    assert_eq!(SortOrder::parse(Some("Descending")).unwrap(), SortOrder::Descending);
    let e = SortOrder::parse(Some("up")).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("sortOrder"));
}

struct Types;
impl AttributeTypes for Types {
    fn lookup(&self, path: &AttrPath) -> Option<(ValueKind, bool)> {
        let key = match &path.sub_attr {
            Some(s) => format!("{}.{}", path.attr, s),
            None => path.attr.clone(),
        }
        .to_ascii_lowercase();
        match key.as_str() {
            "username" | "emails.value" | "name.familyname" => Some((ValueKind::String, false)),
            "emails" | "name" | "meta" => Some((ValueKind::Complex, false)),
            "code" => Some((ValueKind::String, true)),
            "meta.created" => Some((ValueKind::DateTime, false)),
            "logincount" => Some((ValueKind::Integer, false)),
            "active" => Some((ValueKind::Boolean, false)),
            _ => None,
        }
    }
}

fn ids(v: &[Value]) -> Vec<&str> {
    v.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

fn sorted(mut v: Vec<Value>, by: &str, order: SortOrder) -> Vec<Value> {
    sort_resources(&mut v, &parse_attr_path(by).unwrap(), order, &Types);
    v
}

#[test]
fn sort_strings_case_insensitive_missing_last() {
    let v = vec![
        json!({"id": "1", "userName": "bob"}),
        json!({"id": "2"}),
        json!({"id": "3", "userName": "Alice"}),
        json!({"id": "4", "userName": "carol"}),
        json!({"id": "5", "userName": null}),
        json!({"id": "6", "userName": "BOB"}),
    ];
    assert_eq!(ids(&sorted(v.clone(), "userName", SortOrder::Ascending)), ["3", "1", "6", "4", "2", "5"]);
    assert_eq!(ids(&sorted(v.clone(), "USERNAME", SortOrder::Descending)), ["2", "5", "4", "1", "6", "3"]);
}

#[test]
fn sort_case_exact() {
    let v = vec![json!({"id": "1", "code": "b"}), json!({"id": "2", "code": "B"}), json!({"id": "3", "code": "a"})];
    assert_eq!(ids(&sorted(v, "code", SortOrder::Ascending)), ["2", "3", "1"]);
}

#[test]
fn sort_datetimes_as_instants() {
    let v = vec![
        json!({"id": "1", "meta": {"created": "2020-01-01T10:00:00+05:00"}}), // 05:00Z
        json!({"id": "2", "meta": {"created": "2020-01-01T06:00:00Z"}}),
        json!({"id": "3", "meta": {"created": "2020-01-01T01:00:00-03:00"}}), // 04:00Z
        json!({"id": "4", "meta": {"created": "2020-01-01T04:30:00.1234567Z"}}),
    ];
    assert_eq!(ids(&sorted(v, "meta.created", SortOrder::Ascending)), ["3", "4", "1", "2"]);
}

#[test]
fn sort_numbers_and_booleans() {
    let v = vec![
        json!({"id": "1", "loginCount": 10}),
        json!({"id": "2", "loginCount": 9}),
        json!({"id": "3", "loginCount": "100"}),
    ];
    assert_eq!(ids(&sorted(v, "loginCount", SortOrder::Ascending)), ["2", "1", "3"]);
    let v = vec![json!({"id": "1", "active": true}), json!({"id": "2", "active": "False"}), json!({"id": "3"})];
    assert_eq!(ids(&sorted(v, "active", SortOrder::Ascending)), ["2", "1", "3"]);
}

#[test]
fn sort_multi_valued_uses_primary_then_first() {
    let v = vec![
        json!({"id": "1", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
        json!({"id": "2", "emails": [{"value": "m@x"}, {"value": "b@x"}]}),
        json!({"id": "3", "emails": []}),
        json!({"id": "4", "emails": [{"value": "c@x", "primary": "True"}]}),
    ];
    assert_eq!(ids(&sorted(v.clone(), "emails", SortOrder::Ascending)), ["1", "4", "2", "3"]);
    assert_eq!(ids(&sorted(v, "emails.value", SortOrder::Descending)), ["3", "2", "4", "1"]);
}

#[test]
fn sort_is_stable_and_handles_extensions() {
    let e = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let v = vec![
        json!({"id": "1", e: {"department": "B"}}),
        json!({"id": "2", e: {"department": "a"}}),
        json!({"id": "3", e: {"department": "b"}}),
        json!({"id": "4"}),
    ];
    assert_eq!(ids(&sorted(v.clone(), &format!("{e}:department"), SortOrder::Ascending)), ["2", "1", "3", "4"]);
    assert_eq!(ids(&sorted(v.clone(), "department", SortOrder::Ascending)), ["2", "1", "3", "4"]);
    assert_eq!(ids(&sorted(v, "department", SortOrder::Descending)), ["4", "1", "3", "2"]);
    let mut none: Vec<Value> = vec![];
    sort_resources(&mut none, &AttrPath::new("x"), SortOrder::Ascending, &Types);
    let mut odd = vec![json!(null), json!({"id": "x", "userName": "a"}), json!([1])];
    sort_resources(&mut odd, &AttrPath::new("userName"), SortOrder::Ascending, &Types);
    assert_eq!(odd[0]["id"], "x");
}
