//! What each fuzz target checks, on one input. Shared by the cargo-fuzz targets
//! (fuzz/fuzz_targets/*.rs) and by the corpus replay of the normal test suite
//! (crates/scim/tests/fuzz_corpus.rs), so a committed corpus file checks exactly what the
//! fuzzer checked. Every function panics when a property fails.

use scim::filter::{MAX_FILTER_LEN, parse_filter};
use scim::patch::{apply_patch, parse_patch_request, split_member_ops};
use scim::path::parse_path;
use scim::schema::{ResourceSchema, UnknownAttributes, enterprise_user_schema, normalize_resource};
use serde_json::{Value, json};

/// `filter_parse`: the parser never panics, and what it accepts prints (Display) to a text
/// that parses back to the same filter. The printed form escapes control characters (`\u0001`
/// is six bytes for one), so it may exceed the length limit the input respected: such a text
/// is not expected to re-parse (the first finding of this target; the server never re-parses
/// a printed filter).
pub fn filter_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(filter) = parse_filter(text) {
        let printed = filter.to_string();
        if printed.len() > MAX_FILTER_LEN {
            return;
        }
        match parse_filter(&printed) {
            Ok(again) => assert_eq!(again, filter, "{text:?} printed as {printed:?} re-parses differently"),
            Err(e) => panic!("{text:?} printed as {printed:?} does not re-parse: {e}"),
        }
    }
}

/// `patch_path`: the PATCH path parser never panics; an accepted path prints to a text that
/// parses back to the same path (within the length limit, as for filters).
pub fn patch_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(path) = parse_path(text) {
        let printed = path.to_string();
        if printed.len() > MAX_FILTER_LEN {
            return;
        }
        match parse_path(&printed) {
            Ok(again) => assert_eq!(again, path, "{text:?} printed as {printed:?} re-parses differently"),
            Err(e) => panic!("{text:?} printed as {printed:?} does not re-parse: {e}"),
        }
    }
}

/// A provisioned user as stored (canonical JSON, as `normalize_resource` produces it).
pub fn fixed_user() -> Value {
    json!({
        "userName": "alice@contoso.com",
        "externalId": "ext-1",
        "active": true,
        "displayName": "Alice Smith",
        "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"},
        "emails": [{"value": "alice@contoso.com", "type": "work", "primary": true},
                   {"value": "a@home.example", "type": "home"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}],
        "roles": [{"value": "admin"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Sales", "employeeNumber": "42", "manager": {"value": "m-1"}
        }
    })
}

fn user_schema() -> ResourceSchema {
    ResourceSchema::user(vec![(enterprise_user_schema().clone(), false)])
}

/// `patch_apply`: a PATCH body is parsed and applied to a fixed user under both policies for
/// unknown attributes. Nothing panics; a failed PATCH leaves the user exactly as it was
/// (all or nothing) and fails with a 400; a successful one leaves an object. The same body is
/// also applied to a group (after taking member operations out, as the server does).
pub fn patch_apply(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(ops) = parse_patch_request(&body) else { return };
    let rs = user_schema();
    for policy in [UnknownAttributes::Reject, UnknownAttributes::Ignore] {
        let start = fixed_user();
        let mut user = start.clone();
        match apply_patch(&mut user, &ops, &rs, policy) {
            Ok(_) => assert!(user.is_object(), "a PATCH made the user a non-object: {user}"),
            Err(e) => {
                assert_eq!(user, start, "a failed PATCH ({e}) changed the user");
                assert_eq!(e.status, 400, "a PATCH failed with {e}");
            }
        }
    }
    if let Ok((rest, _members)) = split_member_ops(ops) {
        let start = json!({"displayName": "Sales", "externalId": "g-1"});
        let mut group = start.clone();
        if apply_patch(&mut group, &rest, &ResourceSchema::group(vec![]), UnknownAttributes::Ignore).is_err() {
            assert_eq!(group, start, "a failed group PATCH changed the group");
        }
    }
}

/// `scim_json`: any JSON document through the normaliser of users and groups. Nothing panics,
/// and a normalised resource is a fixed point (normalising it again changes nothing).
pub fn scim_json(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    for rs in [user_schema(), ResourceSchema::group(vec![])] {
        for policy in [UnknownAttributes::Reject, UnknownAttributes::Ignore] {
            if let Ok(n) = normalize_resource(&body, &rs, policy) {
                assert!(n.resource.is_object());
                match normalize_resource(&n.resource, &rs, policy) {
                    Ok(again) => assert_eq!(again.resource, n.resource, "normalising is not idempotent for {body}"),
                    Err(e) => panic!("normalised {} does not normalise again: {e}", n.resource),
                }
            }
        }
    }
}
