//! The OpenAPI document: generated from the code, compared with the committed snapshot
//! (`SCIMD_UPDATE_OPENAPI=1 cargo test --test admin openapi` rewrites it), and checked for
//! structure: OpenAPI 3, every operation answers something, every reference resolves.

use crate::common::*;
use serde_json::Value;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/admin/openapi.json");

#[test]
fn the_document_matches_the_committed_snapshot() {
    let doc = scimd::admin_api::openapi::document();
    if std::env::var("SCIMD_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(SNAPSHOT, format!("{doc}\n")).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        committed.trim_end() == doc.trim_end(),
        "the admin API changed its OpenAPI document; review the difference and run \
         `SCIMD_UPDATE_OPENAPI=1 cargo test -p scimd --test admin openapi` to update {SNAPSHOT}\n\
         generated:\n{doc}"
    );
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "$ref"
                    && let Some(r) = x.as_str()
                {
                    out.push(r.to_owned());
                }
                refs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_structurally_valid() {
    let doc: Value = serde_json::from_str(&scimd::admin_api::openapi::document()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["admin_token"]["scheme"], "bearer");
    let paths = doc["paths"].as_object().unwrap();
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut operations = 0;
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, op) in item.as_object().unwrap() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} has no success answer");
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()), "duplicate operationId");
            assert!(op["security"].is_array(), "{method} {path} says nothing of authentication");
            // Path parameters are declared.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                let declared = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
                assert!(declared, "{method} {path}: path parameter {name} undeclared");
            }
        }
    }
    assert_eq!(operations, 17, "every handler of the admin API is documented");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(schemas.contains_key(name), "reference {r} does not resolve");
    }
}

backend_tests! {
    async fn the_document_is_served_without_authentication(srv: TestServer) {
        let r = send(srv.client.get(format!("{}/api/v1/openapi.json", srv.root_url))).await;
        r.expect(200);
        assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")));
        assert_eq!(r.text, scimd::admin_api::openapi::document());
    }
}
