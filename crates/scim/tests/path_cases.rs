//! PATCH path parsing (RFC 7644 §3.5.2) with Entra ID's forms.

#![allow(clippy::unwrap_used)] // Tests panic on purpose when an expectation fails.

use scim::ScimType;
use scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim::path::{PatchPath, parse_path};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn pp(uri: Option<&str>, attr: &str, filter: Option<Filter>, sub: Option<&str>) -> PatchPath {
    PatchPath { uri: uri.map(str::to_owned), attr: attr.to_owned(), filter, sub_attr: sub.map(str::to_owned) }
}

fn eq(attr: &str, v: &str) -> Filter {
    Filter::Compare { path: AttrPath::new(attr), op: CompareOp::Eq, value: CompValue::Str(v.to_owned()) }
}

#[track_caller]
fn ok(input: &str, expected: PatchPath) {
    let got = parse_path(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(got, expected, "{input}");
    let printed = got.to_string();
    assert_eq!(parse_path(&printed), Ok(got), "round trip via {printed}");
}

#[track_caller]
fn bad(input: &str) {
    let e = parse_path(input).expect_err(input);
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{input}: {e}");
    if !input.trim().is_empty() && input.len() < 200 {
        assert!(e.detail.contains(input.trim()), "detail should name the path: {}", e.detail);
    }
}

#[test]
fn simple_paths() {
    ok("userName", pp(None, "userName", None, None));
    ok("  active ", pp(None, "active", None, None));
    ok("name.givenName", pp(None, "name", None, Some("givenName")));
    ok("members", pp(None, "members", None, None));
    ok("members.$ref", pp(None, "members", None, Some("$ref")));
}

#[test]
fn value_filter_paths() {
    ok(r#"emails[type eq "work"].value"#, pp(None, "emails", Some(eq("type", "work")), Some("value")));
    ok(
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        pp(None, "members", Some(eq("value", "2819c223-7f76-453a-919d-413861904646")), None),
    );
    ok(
        r#"addresses[type eq "work"].streetAddress"#,
        pp(None, "addresses", Some(eq("type", "work")), Some("streetAddress")),
    );
    ok(r#"manager[value eq "x"]"#, pp(None, "manager", Some(eq("value", "x")), None));
    ok(
        r#"emails[type eq "work" and primary eq true]"#,
        pp(
            None,
            "emails",
            Some(Filter::And(
                Box::new(eq("type", "work")),
                Box::new(Filter::Compare {
                    path: AttrPath::new("primary"),
                    op: CompareOp::Eq,
                    value: CompValue::Bool(true),
                }),
            )),
            None,
        ),
    );
    // A ']' inside the quoted value does not end the filter.
    ok(r#"members[value eq "a]b"]"#, pp(None, "members", Some(eq("value", "a]b")), None));
    // Entra flag-mode remove with bare GUID value.
    ok(
        "members[value eq 7f4bc1a3-0000-4000-8000-000000000001]",
        pp(None, "members", Some(eq("value", "7f4bc1a3-0000-4000-8000-000000000001")), None),
    );
}

#[test]
fn extension_paths() {
    ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        pp(Some(ENTERPRISE), "employeeNumber", None, None),
    );
    ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        pp(Some(ENTERPRISE), "manager", None, None),
    );
    ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        pp(Some(ENTERPRISE), "manager", None, Some("value")),
    );
    // Pre-2018 dot separator (Q8).
    ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department",
        pp(Some(ENTERPRISE), "department", None, None),
    );
    ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value",
        pp(Some(ENTERPRISE), "manager", None, Some("value")),
    );
    ok(
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:attr",
        pp(Some("urn:ietf:params:scim:schemas:extension:Custom:2.0:User"), "attr", None, None),
    );
    ok(
        "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
        pp(Some("urn:ietf:params:scim:schemas:core:2.0:User"), "name", None, Some("givenName")),
    );
    ok(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "x"]"#,
        pp(Some(ENTERPRISE), "manager", Some(eq("value", "x")), None),
    );
    // A bare schema URN: the whole extension object.
    ok(ENTERPRISE, pp(Some(ENTERPRISE), "", None, None));
    ok(
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User",
        pp(Some("urn:ietf:params:scim:schemas:extension:Custom:2.0:User"), "", None, None),
    );
    // Capitalised attributes after the colon stay attributes.
    ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Manager.Value",
        pp(Some(ENTERPRISE), "Manager", None, Some("Value")),
    );
}

#[test]
fn invalid_paths() {
    bad("");
    bad("   ");
    bad("name.");
    bad(".name");
    bad("name.a.b");
    bad("1abc");
    bad("user name");
    bad("emails[");
    bad(r#"emails[type eq "work""#);
    bad(r#"emails[type eq "work"]value"#);
    bad(r#"emails[type eq "work"]."#);
    bad(r#"emails[type eq "work"].a.b"#);
    bad(r#"emails[type eq "work"][x pr]"#);
    bad(r#"emails[type eq]"#);
    bad(r#"emails[]"#);
    bad(r#"name.givenName[x pr]"#);
    bad(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User[x pr]"#);
    bad("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:");
    bad("urn:");
    bad("foo:bar");
    bad("emails]");
    bad(&"x".repeat(100_000));
    bad(&format!("a{}b pr{}", "[".repeat(100), "]".repeat(100)));
}

#[test]
fn path_parser_never_panics() {
    for s in ["[", "]", "a[", "a[]]", "a[b pr]]", "a[b pr].", "\u{e9}", "a\u{e9}", "a[\"\u{e9}", "urn:x:"] {
        let _ = parse_path(s);
    }
}
