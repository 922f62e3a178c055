//! Filter evaluation against JSON resources (RFC 7644 §3.4.2.2 semantics).

#![allow(clippy::unwrap_used)] // Tests panic on purpose when an expectation fails.

use scim::filter::{AttrPath, AttributeTypes, ValueKind, matches, parse_filter};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A tiny slice of the User schema (RFC 7643 §4.1, §4.3) keyed by lower-cased dotted names.
struct Types;

impl AttributeTypes for Types {
    fn lookup(&self, path: &AttrPath) -> Option<(ValueKind, bool)> {
        let key = match &path.sub_attr {
            Some(sub) => format!("{}.{}", path.attr, sub),
            None => path.attr.clone(),
        }
        .to_ascii_lowercase();
        Some(match key.as_str() {
            "id" => (ValueKind::String, true),
            "externalid" => (ValueKind::String, true),
            "username" | "displayname" | "title" | "usertype" => (ValueKind::String, false),
            "active" => (ValueKind::Boolean, false),
            "name" | "emails" | "meta" | "manager" | "members" => (ValueKind::Complex, false),
            "name.familyname" | "name.givenname" => (ValueKind::String, false),
            "emails.value" | "emails.type" => (ValueKind::String, false),
            "emails.primary" => (ValueKind::Boolean, false),
            "meta.created" | "meta.lastmodified" => (ValueKind::DateTime, false),
            "manager.value" => (ValueKind::String, true),
            "employeenumber" | "department" => (ValueKind::String, false),
            "loginCount" | "logincount" => (ValueKind::Integer, false),
            "score" => (ValueKind::Decimal, false),
            "code" => (ValueKind::String, true),
            _ => return None,
        })
    }
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "jyoung",
        "userName": "Bjensen@Example.com",
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "loginCount": 12,
        "score": 2.5,
        "code": "AbC",
        "nickName": "",
        "locale": null,
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "roles": ["admin", "user"],
        "meta": {
            "resourceType": "User",
            "created": "2015-10-10T21:38:21.8617979Z",
            "lastModified": "2011-05-13T04:42:34Z"
        },
        ENTERPRISE: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User": {"costCenter": "CC-42"}
    })
}

#[track_caller]
fn check(filter: &str, expected: bool) {
    check_on(&user(), filter, expected);
}

#[track_caller]
fn check_on(resource: &Value, filter: &str, expected: bool) {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    assert_eq!(matches(&f, resource, &Types), expected, "{filter}");
}

#[test]
fn string_equality_is_case_insensitive_unless_case_exact() {
    check(r#"userName eq "bjensen@example.com""#, true);
    check(r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#, true);
    check(r#"userName eq "bjensen""#, false);
    check("externalId eq jyoung", true);
    check("externalId eq JYOUNG", false); // caseExact
    check(r#"code eq "AbC""#, true);
    check(r#"code eq "abc""#, false);
    check(r#"code co "B""#, false);
    check(r#"code co "bC""#, true);
    check("id eq 2819c223-7f76-453a-919d-413861904646", true);
}

#[test]
fn substring_and_ordering_operators() {
    check(r#"name.familyName co "o'mal""#, true);
    check(r#"userName sw "BJ""#, true);
    check(r#"userName ew "example.COM""#, true);
    check(r#"userName ew "example.org""#, false);
    check(r#"title gt "Tour""#, true);
    check(r#"title ge "tour guide""#, true);
    check(r#"title lt "tour guide""#, false);
    check(r#"title le "tour guide""#, true);
    check(r#"title lt "Z""#, true);
    check(r#"displayName ne "Babs Jensen""#, false);
    check(r#"displayName ne "Someone""#, true);
    check(r#"displayName co """#, true);
}

#[test]
fn attribute_names_are_case_insensitive() {
    check("name.FamilyName eq o'malley", true);
    check(r#"Name.FAMILYNAME eq "O'Malley""#, true);
    check(r#"emails.Value co "example.com""#, true);
    check(r#"meta.Created gt "2015-01-01T00:00:00Z""#, true);
    check(r#"DisplayName eq "babs jensen""#, true);
}

#[test]
fn multi_valued_any_element() {
    // No sub-attribute on a complex multi-valued attribute: its `value` is compared.
    check(r#"emails co "example.com""#, true);
    check(r#"emails co "jensen.org""#, true);
    check(r#"emails eq "babs@jensen.org""#, true);
    check(r#"emails co "example.net""#, false);
    check(r#"emails.value co "example.org""#, false);
    check(r#"emails.type eq "home""#, true);
    check(r#"roles eq "USER""#, true);
    check(r#"roles eq "guest""#, false);
    check(r#"emails ne "babs@jensen.org""#, false);
}

#[test]
fn value_paths() {
    check(r#"emails[type eq "work" and value co "@example.com"]"#, true);
    check(r#"emails[type eq "home" and value co "@example.com"]"#, false);
    check(r#"emails[type eq "work"].value eq "bjensen@example.com""#, true);
    check(r#"emails[type eq "work"].value eq "babs@jensen.org""#, false);
    check(r#"emails[primary eq true].value ew ".com""#, true);
    check(r#"emails[primary eq "True"]"#, true);
    check(r#"emails[not (type eq "work")]"#, true);
    check(r#"emails[type eq "other"]"#, false);
    check(r#"ims[type eq "xmpp" and value co "@foo.com"]"#, true);
    check(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@bar.com"]"#, true);
    check(r#"phoneNumbers[type eq "work"]"#, false);
    check(r#"nosuch[type eq "work"]"#, false);
    check(r#"roles[value eq "admin"]"#, false); // elements are not complex
    // A single-valued complex attribute can be filtered too.
    check(r#"manager[value eq "26118915-6090-4610-87e4-49d8ca9f808d"]"#, true);
    check(r#"name[givenName sw "barb"]"#, true);
    check(r#"emails[type pr]"#, true);
    check(r#"emails[primary pr and type eq "home"]"#, false);
}

#[test]
fn value_path_inner_types_use_full_path() {
    // emails.value is case-insensitive in Types; with a caseExact type the inner compare is exact.
    struct ExactValue;
    impl AttributeTypes for ExactValue {
        fn lookup(&self, path: &AttrPath) -> Option<(ValueKind, bool)> {
            (path.attr.eq_ignore_ascii_case("emails")
                && path.sub_attr.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("value")))
            .then_some((ValueKind::String, true))
        }
    }
    let f = parse_filter(r#"emails[value eq "BJENSEN@example.com"]"#).unwrap();
    assert!(!matches(&f, &user(), &ExactValue));
    assert!(matches(&f, &user(), &Types));
    let f = parse_filter(r#"emails eq "BJENSEN@example.com""#).unwrap();
    assert!(!matches(&f, &user(), &ExactValue));
}

#[test]
fn extension_attributes() {
    let e = ENTERPRISE;
    check(&format!(r#"{e}:employeeNumber eq "701984""#), true);
    check(&format!(r#"{e}.employeeNumber eq "701984""#), true);
    check(&format!(r#"{e}:department eq "tour operations""#), true);
    check(&format!(r#"{e}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#), true);
    check(&format!(r#"{e}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#), true);
    check(&format!(r#"{e}:manager.value eq "26118915-6090-4610-87E4-49d8ca9f808d""#), false);
    check(&format!(r#"{e}:manager.displayName pr"#), true);
    check(&format!(r#"{e}:userName pr"#), false);
    // Unprefixed names fall back to the extension objects.
    check(r#"employeeNumber eq "701984""#, true);
    check(r#"manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#, true);
    check(r#"manager.value pr"#, true);
    check(r#"costCenter eq "cc-42""#, true);
    check(r#"urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCenter eq "CC-42""#, true);
    // The URN key itself is matched case-insensitively.
    check(&format!(r#"{}:department pr"#, e.to_uppercase().replace("URN:", "urn:")), true);
    // Core URN prefix looks at the top level.
    check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#, true);
    check(r#"urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber pr"#, false);
}

#[test]
fn datetime_comparisons() {
    check("meta.created gt 2015-10-10T14:38:21.8617979-07:00", false); // same instant
    check("meta.created eq 2015-10-10T14:38:21.8617979-07:00", true);
    check("meta.created ge 2015-10-10T14:38:21.8617979-07:00", true);
    check("meta.Created gt 2015-10-10T14:38:21.8617978-07:00", true);
    check(r#"meta.created lt "2015-10-10T23:00:00+02:00""#, false);
    check(r#"meta.created lt "2015-10-11T00:00:00+02:00""#, true);
    check(r#"meta.created lt "2015-10-11T00:00:00-02:00""#, true);
    check(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false);
    check(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true);
    check(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true);
    check(r#"meta.lastModified eq "2011-05-13T04:42:34.000000000001Z""#, true);
    // Without an offset: read as UTC.
    check(r#"meta.lastModified eq "2011-05-13T04:42:34""#, true);
    // Unparseable: falls back to string comparison.
    check(r#"meta.lastModified sw "2011-05""#, true);
    check(r#"meta.lastModified gt "2010""#, true);
    check(r#"meta.lastModified eq "yesterday""#, false);
    let r = json!({"meta": {"created": "not a date"}});
    check_on(&r, r#"meta.created eq "NOT A DATE""#, true);
}

#[test]
fn booleans_including_entra_strings() {
    check("active eq true", true);
    check("active eq TRUE", true);
    check("active eq false", false);
    check(r#"active eq "True""#, true);
    check(r#"active eq "false""#, false);
    check("active ne false", true);
    check("active gt false", false);
    check(r#"active eq "yes""#, false);
    let r = json!({"active": "False"});
    check_on(&r, "active eq false", true);
    check_on(&r, r#"active eq "FALSE""#, true);
    check_on(&r, "active eq true", false);
    // Undeclared JSON booleans compare as booleans too.
    let r = json!({"flag": true});
    check_on(&r, "flag eq true", true);
    check_on(&r, r#"flag eq "true""#, true);
}

#[test]
fn numbers() {
    check("loginCount eq 12", true);
    check("loginCount gt 11", true);
    check("loginCount ge 12.0", true);
    check("loginCount lt 12", false);
    check(r#"loginCount eq "12""#, true);
    check("score gt 2", true);
    check("score le 2.5", true);
    check("score eq 2.50", true);
    check("loginCount co 1", false);
    let r = json!({"big": 9007199254740993u64});
    check_on(&r, "big gt 9007199254740992", true);
    check_on(&r, "big eq 9007199254740993", true);
    let r = json!({"loginCount": "7"});
    check_on(&r, "loginCount lt 10", true); // numeric, not lexicographic
}

#[test]
fn presence_and_null() {
    check("title pr", true);
    check("nickName pr", false); // ""
    check("locale pr", false); // null
    check("phoneNumbers pr", false); // []
    check("nosuch pr", false);
    check("emails pr", true);
    check("emails.value pr", true);
    check("emails.display pr", false);
    check("name.familyName pr", true);
    check("name.middleName pr", false);
    check("locale eq null", true);
    check("nosuch eq null", true);
    check("title eq null", false);
    check("title ne null", true);
    check("nosuch ne null", false);
    check("title gt null", false);
    let r = json!({"name": {}});
    check_on(&r, "name pr", false);
    let r = json!({"addresses": [null]});
    check_on(&r, "addresses pr", false);
}

#[test]
fn missing_attributes() {
    check(r#"nosuch eq "x""#, false);
    check(r#"nosuch ne "x""#, true);
    check(r#"nosuch co "x""#, false);
    check(r#"nosuch gt "x""#, false);
    check(r#"name.nosuch eq "x""#, false);
    check(r#"userName.sub eq "x""#, false);
}

#[test]
fn logical_operators() {
    check(r#"title pr and userType eq "Employee""#, true);
    check(r#"title pr and userType eq "Intern""#, false);
    check(r#"title pr or userType eq "Intern""#, true);
    check(r#"not (title pr)"#, false);
    check(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, true);
    check(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, false);
    check(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, true);
}

#[test]
fn postman_queries() {
    let users: Vec<Value> = (0..5)
        .map(|i| {
            json!({
                "userName": format!("{}User{i}", if i == 0 { "O" } else { "U" }),
                "name": {"familyName": if i < 4 { "Employee" } else { "Contractor" }},
                "emails": [{"value": format!("u{i}@{}", if i % 2 == 0 { "example.com" } else { "example.org" }), "type": "work"}],
                "meta": {"created": "2020-01-01T00:00:00Z"}
            })
        })
        .collect();
    let count = |f: &str| {
        let f = parse_filter(f).unwrap();
        users.iter().filter(|u| matches(&f, u, &Types)).count()
    };
    assert_eq!(
        count("name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)"),
        4
    );
    assert_eq!(count("userName sw O"), 1);
    assert_eq!(count("meta.Created gt 2015-10-10T14:38:21.8617979-07:00"), 5);
}

#[test]
fn unknown_types_and_odd_resources() {
    // The unit type knows nothing: everything is a case-insensitive string.
    let f = parse_filter(r#"userName eq "BJENSEN@example.com""#).unwrap();
    assert!(matches(&f, &user(), &()));
    assert!(!matches(&f, &json!(null), &Types));
    assert!(!matches(&f, &json!([1, 2]), &Types));
    assert!(!matches(&f, &json!("userName"), &Types));
    let f = parse_filter("a ne 1").unwrap();
    assert!(matches(&f, &json!(null), &Types));
    // Objects compared without a `value` member do not match.
    let r = json!({"thing": {"other": "x"}, "list": [{"other": "x"}, "x"]});
    check_on(&r, r#"thing eq "x""#, false);
    check_on(&r, r#"list eq "x""#, true);
    check_on(&r, r#"list.other eq "x""#, true);
}
