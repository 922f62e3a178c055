//! Discovery endpoints (RFC 7644 §4, entra-wire §2.2) on both base paths.

use crate::common::*;
use serde_json::{Value, json};

/// Both SCIM base paths, as absolute prefixes.
fn bases(srv: &TestServer) -> [String; 2] {
    [srv.base_url.clone(), format!("{}{ALIAS_BASE}", srv.root_url)]
}

const CHARACTERISTICS: [&str; 9] =
    ["name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"];

fn assert_characteristics(schema: &str, attrs: &Value) {
    for a in attrs.as_array().unwrap_or_else(|| panic!("{schema}: attributes is not an array")) {
        for c in CHARACTERISTICS {
            assert!(a.get(c).is_some(), "{schema}: attribute {} lacks {c}", a["name"]);
        }
        if let Some(subs) = a.get("subAttributes") {
            assert_characteristics(schema, subs);
        }
    }
}

backend_tests! {
    async fn service_provider_config_advertises_patch_on_both_bases_and_the_alias(srv: TestServer) {
        for base in bases(&srv) {
            for path in ["/ServiceProviderConfig", "/serviceConfiguration"] {
                let r = srv.get(&format!("{base}{path}")).await;
                r.expect(200);
                assert!(r.header("content-type").unwrap().starts_with("application/scim+json"));
                assert_eq!(r.body["patch"]["supported"], json!(true), "{base}{path}");
                assert_eq!(r.body["bulk"]["supported"], json!(false));
                assert_eq!(r.body["filter"]["supported"], json!(true));
                assert!(r.body["authenticationSchemes"].as_array().is_some_and(|a| !a.is_empty()));
            }
        }
    }

    async fn resource_types_list_users_first_with_enterprise_and_mfa_extensions(srv: TestServer) {
        for base in bases(&srv) {
            let r = srv.get(&format!("{base}/ResourceTypes")).await;
            r.expect(200);
            let types = r.resources();
            assert_eq!(types[0]["endpoint"], json!("/Users"));
            assert_eq!(types[0]["schema"], json!(USER_SCHEMA));
            let exts: Vec<&str> =
                types[0]["schemaExtensions"].as_array().unwrap().iter().map(|e| e["schema"].as_str().unwrap()).collect();
            assert!(exts.contains(&ENTERPRISE), "{exts:?}");
            assert!(exts.contains(&MFA), "{exts:?}");
            assert!(types.iter().any(|t| t["endpoint"] == json!("/Groups") && t["schema"] == json!(GROUP_SCHEMA)));
        }
    }

    async fn resource_type_user_is_served_by_name(srv: TestServer) {
        let r = srv.get("/ResourceTypes/User").await;
        r.expect(200);
        assert_eq!(r.body["name"], json!("User"));
        assert_eq!(r.body["endpoint"], json!("/Users"));
        srv.get("/ResourceTypes/Nope").await.expect_scim_error(404);
    }

    async fn schemas_list_user_enterprise_mfa_and_group_with_all_nine_characteristics(srv: TestServer) {
        for base in bases(&srv) {
            let r = srv.get(&format!("{base}/Schemas")).await;
            r.expect(200);
            let ids: Vec<&str> = r.resources().iter().map(|s| s["id"].as_str().unwrap()).collect();
            for urn in [USER_SCHEMA, ENTERPRISE, MFA, GROUP_SCHEMA] {
                assert!(ids.contains(&urn), "{urn} missing from {ids:?}");
            }
            // Microsoft's Postman collection looks for this text.
            assert!(r.text.contains("User Account"), "no \"User Account\" in /Schemas");
            for s in r.resources() {
                assert_characteristics(s["id"].as_str().unwrap(), &s["attributes"]);
            }
        }
    }

    async fn mfa_schema_is_read_only_and_served_by_urn(srv: TestServer) {
        let r = srv.get(&format!("/Schemas/{MFA}")).await;
        r.expect(200);
        assert_eq!(r.body["id"], json!(MFA));
        let names: Vec<&str> = r.body["attributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        for n in ["status", "blocked", "blockReasons", "provisioningSource", "activationExpiresAt"] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        for a in r.body["attributes"].as_array().unwrap() {
            assert_eq!(a["mutability"], json!("readOnly"), "{}", a["name"]);
        }
        let r = srv.get(&format!("/Schemas/{USER_SCHEMA}")).await;
        r.expect(200);
        let user_name = r.body["attributes"].as_array().unwrap().iter().find(|a| a["name"] == json!("userName")).unwrap();
        assert_eq!(user_name["uniqueness"], json!("server"));
        assert_eq!(user_name["caseExact"], json!(false));
        assert_eq!(user_name["required"], json!(true));
        srv.get("/Schemas/urn:nope").await.expect_scim_error(404);
    }
}
