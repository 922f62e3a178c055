//! What the tool sends: request bodies and query strings shaped like Microsoft Entra ID's
//! provisioning traffic (see /work/shared/spec/entra-wire.md §2), and small response checks.

use bytes::Bytes;
use serde::Deserialize;
use std::fmt::Write as _;

const GIVEN: [&str; 8] = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus"];
const FAMILY: [&str; 8] = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds"];
const LANGUAGES: [&str; 4] = ["en-US", "nl-BE", "fr-FR", "de-DE"];

/// A stateless pseudo-random number for operation `i` (splitmix64), so that runs are
/// reproducible and workers need no shared random state.
pub fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `userName` of user `i` of a set: `<tag><i>@contoso.example`, e.g. `bench_3f2a_u0000042@contoso.example`.
pub fn user_name(tag: &str, i: u64) -> String {
    format!("{tag}{i:07}@contoso.example")
}

/// `POST /Users` body in the shape Entra sends with the default attribute mapping: both
/// schema URNs (the enterprise one without enterprise attributes), `meta` and `roles: []`.
pub fn user_body(tag: &str, i: u64) -> Bytes {
    let user_name = user_name(tag, i);
    let given = GIVEN[(i % 8) as usize];
    let family = FAMILY[((i / 8) % 8) as usize];
    let language = LANGUAGES[(i % 4) as usize];
    let external_id = uuid::Uuid::new_v4();
    format!(
        concat!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"#,
            r#""externalId":"{external_id}","userName":"{user_name}","active":true,"#,
            r#""emails":[{{"primary":true,"type":"work","value":"{user_name}"}}],"#,
            r#""meta":{{"resourceType":"User"}},"#,
            r#""name":{{"formatted":"{given} {family}","familyName":"{family}","givenName":"{given}"}},"#,
            r#""preferredLanguage":"{language}","roles":[]}}"#
        ),
        external_id = external_id,
        user_name = user_name,
        given = given,
        family = family,
        language = language,
    )
    .into()
}

/// `/Users?filter=userName+eq+%22…%22`: Entra's matching-attribute lookup, form-encoded.
pub fn user_filter_path(user_name: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", &format!("userName eq \"{user_name}\""))
        .finish();
    format!("/Users?{query}")
}

/// `displayName` of group `g` of a set.
pub fn group_name(tag: &str, g: u64) -> String {
    format!("{tag}{g:05}")
}

/// `POST /Groups` body as Entra sends it: with Microsoft's extra schema URI, no members.
pub fn group_body(display_name: &str) -> Bytes {
    let external_id = uuid::Uuid::new_v4();
    format!(
        concat!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"#,
            r#""externalId":"{external_id}","displayName":"{display_name}","meta":{{"resourceType":"Group"}}}}"#
        ),
        external_id = external_id,
        display_name = display_name,
    )
    .into()
}

/// `/Groups?excludedAttributes=members&filter=displayName+eq+%22…%22` (Entra's group lookup).
pub fn group_filter_path(display_name: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("excludedAttributes", "members")
        .append_pair("filter", &format!("displayName eq \"{display_name}\""))
        .finish();
    format!("/Groups?{query}")
}

/// Entra's default-dialect disable: `Replace` with a capitalised op and a string boolean.
pub const PATCH_ACTIVE_FALSE: &str = concat!(
    r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"#,
    r#""Operations":[{"op":"Replace","path":"active","value":"False"}]}"#
);

/// `{"op":"Add"|"Remove","path":"members","value":[{"value":id},…]}` in a PatchOp.
pub fn members_patch<'a>(op: &str, ids: impl IntoIterator<Item = &'a str>) -> Bytes {
    let mut s = String::with_capacity(160);
    s.push_str(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":""#);
    s.push_str(op);
    s.push_str(r#"","path":"members","value":["#);
    for (n, id) in ids.into_iter().enumerate() {
        if n > 0 {
            s.push(',');
        }
        // Server-assigned ids are opaque; escape them as JSON strings.
        let _ = write!(s, r#"{{"value":{}}}"#, serde_json::Value::from(id));
    }
    s.push_str("]}]}");
    s.into()
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(rename = "totalResults")]
    total_results: u64,
}

/// The `id` of a created resource.
pub fn parse_id(body: &[u8]) -> Result<Box<str>, String> {
    serde_json::from_slice::<Created>(body)
        .map(|c| c.id.into_boxed_str())
        .map_err(|e| format!("no id in the response: {e}"))
}

/// Checks that a ListResponse has exactly `want` results.
pub fn expect_total(body: &[u8], want: u64) -> Result<(), String> {
    match serde_json::from_slice::<ListResponse>(body) {
        Ok(l) if l.total_results == want => Ok(()),
        Ok(l) => Err(format!("totalResults {} (expected {want})", l.total_results)),
        Err(e) => Err(format!("not a ListResponse: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_body_is_entra_shaped_json() {
        let body: serde_json::Value = serde_json::from_slice(&user_body("t_", 42)).expect("valid JSON");
        assert_eq!(body["userName"], "t_0000042@contoso.example");
        assert_eq!(body["schemas"][1], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
        assert_eq!(body["emails"][0]["type"], "work");
        assert_eq!(body["active"], true);
        assert!(body["name"]["givenName"].is_string());
        assert!(body["preferredLanguage"].is_string());
        assert_eq!(body["externalId"].as_str().map(str::len), Some(36));
    }

    #[test]
    fn group_body_and_filters() {
        let body: serde_json::Value = serde_json::from_slice(&group_body("G 1")).expect("valid JSON");
        assert_eq!(body["schemas"][1], "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group");
        assert_eq!(user_filter_path("a@b.c"), "/Users?filter=userName+eq+%22a%40b.c%22");
        assert_eq!(group_filter_path("G 1"), "/Groups?excludedAttributes=members&filter=displayName+eq+%22G+1%22");
    }

    #[test]
    fn patch_bodies() {
        let v: serde_json::Value = serde_json::from_str(PATCH_ACTIVE_FALSE).expect("valid JSON");
        assert_eq!(v["Operations"][0]["value"], "False");
        let v: serde_json::Value = serde_json::from_slice(&members_patch("Add", ["a", "b\"c"])).expect("valid JSON");
        assert_eq!(v["Operations"][0]["op"], "Add");
        assert_eq!(v["Operations"][0]["value"][1]["value"], "b\"c");
    }

    #[test]
    fn response_checks() {
        assert_eq!(parse_id(br#"{"id":"x","userName":"u"}"#).as_deref(), Ok("x"));
        assert!(parse_id(b"{}").is_err());
        assert!(expect_total(br#"{"totalResults":1,"Resources":[]}"#, 1).is_ok());
        assert!(expect_total(br#"{"totalResults":0,"Resources":[]}"#, 1).is_err());
    }
}
