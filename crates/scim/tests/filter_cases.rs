//! Table tests for the filter parser (RFC 7644 §3.4.2.2 examples and Entra ID's dialect).

#![allow(clippy::unwrap_used)] // Tests panic on purpose when an expectation fails.

use scim::ScimType;
use scim::filter::{
    AttrPath, CompValue, CompareOp, Filter, MAX_FILTER_DEPTH, MAX_FILTER_LEN, parse_attr_path, parse_filter,
};
use serde_json::Number;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn p(attr: &str) -> AttrPath {
    AttrPath::new(attr)
}
fn ps(attr: &str, sub: &str) -> AttrPath {
    AttrPath::with_sub(attr, sub)
}
fn pu(uri: &str, attr: &str, sub: Option<&str>) -> AttrPath {
    AttrPath { uri: Some(uri.to_owned()), attr: attr.to_owned(), sub_attr: sub.map(str::to_owned) }
}
fn s(v: &str) -> CompValue {
    CompValue::Str(v.to_owned())
}
fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path, op, value }
}
fn eq(path: AttrPath, v: &str) -> Filter {
    cmp(path, CompareOp::Eq, s(v))
}
fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}
fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}
fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}
fn vp(path: AttrPath, f: Filter) -> Filter {
    Filter::ValuePath { path, filter: Box::new(f) }
}
fn pr(path: AttrPath) -> Filter {
    Filter::Present(path)
}

#[track_caller]
fn ok(input: &str, expected: Filter) {
    let got = parse_filter(input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"));
    assert_eq!(got, expected, "parsing {input:?}");
    // Every parsed filter must round-trip through its canonical form.
    let printed = got.to_string();
    assert_eq!(parse_filter(&printed).as_ref(), Ok(&got), "round trip of {input:?} via {printed:?}");
}

#[track_caller]
fn bad(input: &str) -> String {
    match parse_filter(input) {
        Ok(f) => panic!("{input:?} parsed as {f:?}"),
        Err(e) => {
            assert_eq!(e.status, 400);
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{input:?}: {e}");
            e.detail
        }
    }
}

#[test]
fn rfc_examples() {
    ok(r#"userName eq "bjensen""#, eq(p("userName"), "bjensen"));
    ok(r#"name.familyName co "O'Malley""#, cmp(ps("name", "familyName"), CompareOp::Co, s("O'Malley")));
    ok(r#"userName sw "J""#, cmp(p("userName"), CompareOp::Sw, s("J")));
    ok(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        cmp(pu(CORE_USER, "userName", None), CompareOp::Sw, s("J")),
    );
    ok("title pr", pr(p("title")));
    ok(
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        cmp(ps("meta", "lastModified"), CompareOp::Gt, s("2011-05-13T04:42:34Z")),
    );
    ok(
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        cmp(ps("meta", "lastModified"), CompareOp::Ge, s("2011-05-13T04:42:34Z")),
    );
    ok(
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        cmp(ps("meta", "lastModified"), CompareOp::Lt, s("2011-05-13T04:42:34Z")),
    );
    ok(
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        cmp(ps("meta", "lastModified"), CompareOp::Le, s("2011-05-13T04:42:34Z")),
    );
    ok(r#"title pr and userType eq "Employee""#, and(pr(p("title")), eq(p("userType"), "Employee")));
    ok(r#"title pr or userType eq "Intern""#, or(pr(p("title")), eq(p("userType"), "Intern")));
    ok(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, eq(p("schemas"), ENTERPRISE));
    ok(
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        and(
            eq(p("userType"), "Employee"),
            or(
                cmp(p("emails"), CompareOp::Co, s("example.com")),
                cmp(ps("emails", "value"), CompareOp::Co, s("example.org")),
            ),
        ),
    );
    ok(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        and(
            cmp(p("userType"), CompareOp::Ne, s("Employee")),
            not(or(
                cmp(p("emails"), CompareOp::Co, s("example.com")),
                cmp(ps("emails", "value"), CompareOp::Co, s("example.org")),
            )),
        ),
    );
    ok(
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        and(eq(p("userType"), "Employee"), eq(ps("emails", "type"), "work")),
    );
    ok(
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        and(
            eq(p("userType"), "Employee"),
            vp(p("emails"), and(eq(p("type"), "work"), cmp(p("value"), CompareOp::Co, s("@example.com")))),
        ),
    );
    ok(
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        or(
            vp(p("emails"), and(eq(p("type"), "work"), cmp(p("value"), CompareOp::Co, s("@example.com")))),
            vp(p("ims"), and(eq(p("type"), "xmpp"), cmp(p("value"), CompareOp::Co, s("@foo.com")))),
        ),
    );
}

#[test]
fn entra_bare_words() {
    ok("externalId eq jyoung", eq(p("externalId"), "jyoung"));
    ok("id eq 2819c223-7f76-453a-919d-413861904646", eq(p("id"), "2819c223-7f76-453a-919d-413861904646"));
    ok(
        "meta.Created gt 2015-10-10T14:38:21.8617979-07:00",
        cmp(ps("meta", "Created"), CompareOp::Gt, s("2015-10-10T14:38:21.8617979-07:00")),
    );
    ok("name.FamilyName eq Employee", eq(ps("name", "FamilyName"), "Employee"));
    ok("userName sw O", cmp(p("userName"), CompareOp::Sw, s("O")));
    ok(
        "name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)",
        and(
            eq(ps("name", "FamilyName"), "Employee"),
            or(
                cmp(ps("emails", "Value"), CompareOp::Co, s("example.com")),
                cmp(ps("emails", "Value"), CompareOp::Co, s("example.org")),
            ),
        ),
    );
    // Bare words end at ')' and ']'.
    ok("(userName eq bob)", eq(p("userName"), "bob"));
    ok("emails[type eq work]", vp(p("emails"), eq(p("type"), "work")));
}

#[test]
fn literal_values() {
    ok("active eq true", cmp(p("active"), CompareOp::Eq, CompValue::Bool(true)));
    ok("active eq TRUE", cmp(p("active"), CompareOp::Eq, CompValue::Bool(true)));
    ok("active eq False", cmp(p("active"), CompareOp::Eq, CompValue::Bool(false)));
    ok("manager eq NULL", cmp(p("manager"), CompareOp::Eq, CompValue::Null));
    ok(r#"active eq "true""#, eq(p("active"), "true"));
    ok("age gt 42", cmp(p("age"), CompareOp::Gt, CompValue::Num(Number::from(42))));
    ok("n eq -1.5", cmp(p("n"), CompareOp::Eq, CompValue::Num(Number::from_f64(-1.5).unwrap())));
    ok("n eq 1e3", cmp(p("n"), CompareOp::Eq, CompValue::Num("1e3".parse().unwrap())));
    // Not plain number tokens: strings.
    ok("n eq 007", eq(p("n"), "007"));
    ok("n eq 42abc", eq(p("n"), "42abc"));
    ok("n eq 1.", eq(p("n"), "1."));
    ok("n eq -", eq(p("n"), "-"));
    ok("n eq 1e999", eq(p("n"), "1e999"));
    ok("n eq truex", eq(p("n"), "truex"));
    ok(r#"n eq "42""#, eq(p("n"), "42"));
}

#[test]
fn string_escapes() {
    ok(r#"displayName eq "a\"b""#, eq(p("displayName"), "a\"b"));
    ok(r#"displayName eq "caf\u00e9""#, eq(p("displayName"), "café"));
    ok(r#"displayName eq "\ud83d\ude00""#, eq(p("displayName"), "😀"));
    ok(r#"displayName eq "a\\b\/c\n\t""#, eq(p("displayName"), "a\\b/c\n\t"));
    ok(r#"displayName eq "x) or (y""#, eq(p("displayName"), "x) or (y"));
    ok(r#"displayName eq """#, eq(p("displayName"), ""));
    ok(r#"displayName eq "naïve 日本""#, eq(p("displayName"), "naïve 日本"));
    bad(r#"displayName eq "\x""#);
    bad(r#"displayName eq "\u12""#);
    bad(r#"displayName eq "\ud83d""#);
    bad(r#"displayName eq "abc"#);
}

#[test]
fn case_insensitive_keywords() {
    ok(r#"userName EQ "a""#, eq(p("userName"), "a"));
    ok(r#"userName Eq "a""#, eq(p("userName"), "a"));
    ok("title PR", pr(p("title")));
    ok(r#"a eq "1" AND b eq "2" Or NOT (c pr)"#, or(and(eq(p("a"), "1"), eq(p("b"), "2")), not(pr(p("c")))));
    for op in ["ne", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
        let f = parse_filter(&format!("x {} \"v\"", op.to_uppercase())).unwrap();
        match f {
            Filter::Compare { op: got, .. } => assert_eq!(got.as_str(), op),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn precedence_and_grouping() {
    let (a, b, c) = (pr(p("a")), pr(p("b")), pr(p("c")));
    ok("a pr or b pr and c pr", or(a.clone(), and(b.clone(), c.clone())));
    ok("a pr and b pr or c pr", or(and(a.clone(), b.clone()), c.clone()));
    ok("a pr and b pr and c pr", and(and(a.clone(), b.clone()), c.clone()));
    ok("a pr or b pr or c pr", or(or(a.clone(), b.clone()), c.clone()));
    ok("a pr and (b pr or c pr)", and(a.clone(), or(b.clone(), c.clone())));
    ok("(a pr or b pr) and c pr", and(or(a.clone(), b.clone()), c.clone()));
    ok("not (a pr) and b pr", and(not(a.clone()), b.clone()));
    ok("not(a pr)", not(a.clone()));
    ok("((a pr))", a.clone());
    ok("a pr and(b pr)", and(a.clone(), b.clone()));
    // "not" without "(" is an attribute called "not".
    ok("not pr", pr(p("not")));
    ok(r#"not eq "x""#, eq(p("not"), "x"));
    ok("and pr and or pr", and(pr(p("and")), pr(p("or"))));
}

#[test]
fn whitespace_runs() {
    ok("  userName   eq\t\"a\"  ", eq(p("userName"), "a"));
    ok("a pr\tand\t\tb pr", and(pr(p("a")), pr(p("b"))));
    ok("emails[ type eq \"work\" ]", vp(p("emails"), eq(p("type"), "work")));
}

#[test]
fn urn_paths() {
    ok(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#,
        eq(pu(ENTERPRISE, "manager", Some("value")), "x"),
    );
    ok(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#,
        eq(pu(ENTERPRISE, "employeeNumber", None), "7"),
    );
    // Entra pre-2018 dot form (Q8).
    ok(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.employeeNumber eq "7""#,
        eq(pu(ENTERPRISE, "employeeNumber", None), "7"),
    );
    ok(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value eq "7""#,
        eq(pu(ENTERPRISE, "manager", Some("value")), "7"),
    );
    // A capitalised attribute after the colon is still an attribute.
    ok(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Manager.Value eq "7""#,
        eq(pu(ENTERPRISE, "Manager", Some("Value")), "7"),
    );
    ok(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "x"]"#,
        vp(pu(ENTERPRISE, "manager", None), eq(p("value"), "x")),
    );
    bad(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq "x""#);
    bad(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User: eq "x""#);
    bad(r#"foo:bar eq "x""#);
}

#[test]
fn entra_value_path_sub_attr() {
    ok(r#"emails[type eq "work"].value eq "x""#, vp(p("emails"), and(eq(p("type"), "work"), eq(p("value"), "x"))));
    ok(
        r#"emails[type eq "work"].value eq "alice@contoso.com" and active eq true"#,
        and(
            vp(p("emails"), and(eq(p("type"), "work"), eq(p("value"), "alice@contoso.com"))),
            cmp(p("active"), CompareOp::Eq, CompValue::Bool(true)),
        ),
    );
    ok(r#"emails[type eq "work"].value pr"#, vp(p("emails"), and(eq(p("type"), "work"), pr(p("value")))));
    ok(
        r#"emails[type eq "work" or primary eq true].value eq "x""#,
        vp(
            p("emails"),
            and(
                or(eq(p("type"), "work"), cmp(p("primary"), CompareOp::Eq, CompValue::Bool(true))),
                eq(p("value"), "x"),
            ),
        ),
    );
    // The canonical form is the bracket form.
    let f = parse_filter(r#"emails[type eq "work"].value eq "x""#).unwrap();
    assert_eq!(f.to_string(), r#"emails[type eq "work" and value eq "x"]"#);
    bad(r#"emails[type eq "work"]."#);
    bad(r#"emails[type eq "work"].value"#);
    bad(r#"emails[type eq "work"].value eq"#);
}

#[test]
fn display_canonical() {
    let f = parse_filter(r#"a eq "x" and (b eq "y" or c pr) or not (d ne 3)"#).unwrap();
    assert_eq!(f.to_string(), r#"a eq "x" and (b eq "y" or c pr) or not (d ne 3)"#);
    let f = and(pr(p("a")), and(pr(p("b")), pr(p("c"))));
    assert_eq!(f.to_string(), "a pr and (b pr and c pr)");
    assert_eq!(parse_filter(&f.to_string()), Ok(f));
    let f = or(pr(p("a")), or(pr(p("b")), pr(p("c"))));
    assert_eq!(f.to_string(), "a pr or (b pr or c pr)");
    assert_eq!(parse_filter(&f.to_string()), Ok(f));
    let f = eq(p("x"), "true");
    assert_eq!(f.to_string(), r#"x eq "true""#);
    let f = eq(p("x"), "a\"b\\c\u{1}");
    assert_eq!(f.to_string(), r#"x eq "a\"b\\c\u0001""#);
    assert_eq!(parse_filter(&f.to_string()), Ok(f));
    assert_eq!(pu(ENTERPRISE, "manager", Some("value")).to_string(), format!("{ENTERPRISE}:manager.value"));
}

#[test]
fn bad_inputs() {
    bad("");
    bad("   ");
    bad(r#"(userName eq "a""#);
    bad(r#"userName eq "a")"#);
    bad(r#"userName eq "a"))"#);
    bad("userName eq");
    bad("userName eq ");
    bad("userName");
    bad(r#"userName xx "a""#);
    bad(r#"userName equals "a""#);
    bad(r#"userName eq "a" garbage"#);
    bad(r#"userName eq "a" and"#);
    bad(r#"userName eq "a" or"#);
    bad(r#"userName eq "a" and or"#);
    bad(r#"and eq"#);
    bad("not");
    bad("not ()");
    bad("()");
    bad(r#"emails[type eq "work""#);
    bad(r#"emails[]"#);
    bad(r#"emails]"#);
    bad(r#"name..x eq "a""#);
    bad(r#"name.a.b eq "a""#);
    bad(r#"1abc eq "a""#);
    bad(r#""userName" eq "a""#);
    bad(r#"userName eq (a)"#);
    bad("title pr pr");
    bad(r#"userName"a""#);
}

#[test]
fn error_details_name_position_and_token() {
    let d = bad(r#"userName eq "a")"#);
    assert!(d.contains("')'") && d.contains("position 15"), "{d}");
    let d = bad(r#"(userName eq "a") )"#);
    assert!(d.contains("unexpected token ')' at position 18 in filter"), "{d}");
    let d = bad(r#"userName zz "a""#);
    assert!(d.contains("'zz'") && d.contains("position 9"), "{d}");
    let d = bad("userName eq");
    assert!(d.contains("position 11"), "{d}");
    let d = bad(r#"userName eq "a" garbage"#);
    assert!(d.contains("'garbage'") && d.contains("position 16"), "{d}");
}

#[test]
fn limits() {
    let deep = format!("{}a pr{}", "(".repeat(100), ")".repeat(100));
    let d = bad(&deep);
    assert!(d.contains(&MAX_FILTER_DEPTH.to_string()), "{d}");
    let ok_depth = format!("{}a pr{}", "(".repeat(MAX_FILTER_DEPTH), ")".repeat(MAX_FILTER_DEPTH));
    assert!(parse_filter(&ok_depth).is_ok());
    let too_deep = format!("{}a pr{}", "(".repeat(MAX_FILTER_DEPTH + 1), ")".repeat(MAX_FILTER_DEPTH + 1));
    bad(&too_deep);
    let nots = format!("{}a pr{}", "not (".repeat(100), ")".repeat(100));
    bad(&nots);
    let brackets = format!("{}a pr{}", "x[".repeat(100), "]".repeat(100));
    bad(&brackets);
    // Far deeper than any stack could take if depth were not counted.
    let huge = "(".repeat(MAX_FILTER_LEN);
    bad(&huge);
    let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN));
    let d = bad(&long);
    assert!(d.contains(&MAX_FILTER_LEN.to_string()), "{d}");
    // A long flat conjunction within the length limit is fine.
    let flat = vec!["a pr"; 900].join(" and ");
    assert!(flat.len() <= MAX_FILTER_LEN);
    let f = parse_filter(&flat).unwrap();
    assert_eq!(parse_filter(&f.to_string()), Ok(f));
}

#[test]
fn attr_path_parser() {
    assert_eq!(parse_attr_path("userName"), Ok(p("userName")));
    assert_eq!(parse_attr_path(" name.givenName "), Ok(ps("name", "givenName")));
    assert_eq!(
        parse_attr_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
        Ok(pu(ENTERPRISE, "employeeNumber", None))
    );
    assert_eq!(
        parse_attr_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department"),
        Ok(pu(ENTERPRISE, "department", None))
    );
    assert_eq!(parse_attr_path("members.$ref"), Ok(ps("members", "$ref")));
    for input in ["", "a b", "a.", ".a", "a.b.c", "emails[type eq \"x\"]", ENTERPRISE, "1a", "a:b"] {
        let e = parse_attr_path(input).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{input}");
    }
}
