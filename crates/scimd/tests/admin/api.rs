//! The admin REST API through the real binary.

use crate::common::*;
use crate::support::{admin_token, api, expect_error};
use reqwest::Method;
use serde_json::json;

backend_tests! {
    async fn requires_an_admin_scope_token(srv: TestServer) {
        expect_error(&api(&srv, "", Method::GET, "/users", None).await, 401, "unauthorized");
        let r = api(&srv, &srv.token, Method::GET, "/users", None).await;
        expect_error(&r, 401, "unauthorized");
        assert!(r.header("www-authenticate").is_some());
        let admin = admin_token(&srv).await;
        api(&srv, &admin, Method::GET, "/users", None).await.expect(200);
        // An admin token is not a SCIM token.
        srv.request_as(&admin, Method::GET, "/Users", None).await.expect_scim_error(401);
    }

    async fn errors_are_one_json_shape(srv: TestServer) {
        let t = admin_token(&srv).await;
        expect_error(&api(&srv, &t, Method::GET, "/nope", None).await, 404, "not_found");
        expect_error(&api(&srv, &t, Method::PUT, "/users", Some(&json!({}))).await, 405, "method_not_allowed");
        let bad = srv
            .client
            .post(format!("{}/api/v1/users", srv.root_url))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body("{not json");
        expect_error(&send(bad).await, 400, "invalid_request");
        let unknown_field = api(&srv, &t, Method::POST, "/users", Some(&json!({"user_name": "a", "colour": "red"}))).await;
        expect_error(&unknown_field, 422, "invalid_request");
        expect_error(&api(&srv, &t, Method::POST, "/users", Some(&json!({"email": "x@y"}))).await, 400, "invalid_request");
        let bad_login = api(&srv, &t, Method::POST, "/users", Some(&json!({"user_name": "a b"}))).await;
        expect_error(&bad_login, 400, "invalid_value");
        expect_error(&api(&srv, &t, Method::GET, "/users/missing", None).await, 404, "not_found");
        expect_error(&api(&srv, &t, Method::GET, "/users?status=sleeping", None).await, 400, "invalid_request");
        expect_error(&api(&srv, &t, Method::GET, "/log?outcome=maybe", None).await, 400, "invalid_request");
    }

    async fn user_lifecycle_through_the_api(srv: TestServer) {
        let t = admin_token(&srv).await;
        let body = json!({"user_name": "ann@contoso.com", "email": "ann@contoso.com", "given_name": "Ann",
            "family_name": "Smith", "display_name": "Ann Smith", "external_id": "e-ann"});
        let r = api(&srv, &t, Method::POST, "/users", Some(&body)).await;
        r.expect(201);
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["provisioning_source"], json!("api"));
        assert_eq!(r.body["status"], json!("pendingActivation"), "an email and send_activation_email: pending");
        assert!(r.body["activation_expires_at"].is_string());
        expect_error(&api(&srv, &t, Method::POST, "/users", Some(&json!({"user_name": "ANN@contoso.com"}))).await, 409, "conflict");

        // SCIM sees the same user, with the SCIM attributes the API wrote.
        let scim = srv.user(&id).await;
        assert_eq!(scim["emails"][0]["value"], json!("ann@contoso.com"));
        assert_eq!(scim["name"]["givenName"], json!("Ann"));
        assert_eq!(scim[MFA]["provisioningSource"], json!("api"));

        let got = api(&srv, &t, Method::GET, &format!("/users/{id}"), None).await;
        got.expect(200);
        assert_eq!(got.body["display_name"], json!("Ann Smith"));

        let upd = api(&srv, &t, Method::PATCH, &format!("/users/{id}"), Some(&json!({"family_name": "Jones", "display_name": ""}))).await;
        upd.expect(200);
        assert_eq!((upd.body["family_name"].clone(), upd.body["display_name"].clone()), (json!("Jones"), json!(null)));

        let blocked = api(&srv, &t, Method::POST, &format!("/users/{id}/block"), None).await;
        blocked.expect(200);
        assert_eq!((blocked.body["blocked"].clone(), blocked.body["block_reasons"].clone()), (json!(true), json!(["admin"])));
        assert_eq!(srv.mfa(&id).await["blockReasons"], json!(["admin"]));
        let refused = api(&srv, &t, Method::POST, &format!("/users/{id}/resend-activation"), None).await;
        expect_error(&refused, 409, "cannot_resend");
        let unblocked = api(&srv, &t, Method::POST, &format!("/users/{id}/unblock"), None).await;
        assert_eq!(unblocked.body["blocked"], json!(false));
        let resent = api(&srv, &t, Method::POST, &format!("/users/{id}/resend-activation"), None).await;
        resent.expect(200);
        assert_eq!(resent.body["status"], json!("pendingActivation"));

        api(&srv, &t, Method::DELETE, &format!("/users/{id}"), None).await.expect(204);
        expect_error(&api(&srv, &t, Method::GET, &format!("/users/{id}"), None).await, 404, "not_found");
        srv.get(&format!("/Users/{id}")).await.expect_scim_error(404);
    }

    async fn users_are_searched_filtered_and_paged_in_login_order(srv: TestServer) {
        let t = admin_token(&srv).await;
        for (login, family) in [("dave", "Brown"), ("carol", "Smith"), ("bob", "Smithers"), ("erin", "Young"), ("alice", "Jones")] {
            api(&srv, &t, Method::POST, "/users", Some(&json!({"user_name": login, "family_name": family}))).await.expect(201);
        }
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let r = api(&srv, &t, Method::GET, &format!("/users?limit=2&after={after}"), None).await;
            r.expect(200);
            seen.extend(r.body["items"].as_array().unwrap().iter().map(|u| u["user_name"].as_str().unwrap().to_owned()));
            match r.body["next_after"].as_str() {
                Some(n) => after = n.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, ["alice", "bob", "carol", "dave", "erin"]);
        let smith = api(&srv, &t, Method::GET, "/users?q=SMITH", None).await;
        let names: Vec<&str> = smith.body["items"].as_array().unwrap().iter().map(|u| u["user_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["bob", "carol"]);
        let carol = smith.body["items"][1]["id"].as_str().unwrap().to_owned();
        api(&srv, &t, Method::POST, &format!("/users/{carol}/block"), None).await.expect(200);
        let blocked = api(&srv, &t, Method::GET, "/users?blocked=true", None).await;
        assert_eq!(blocked.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(blocked.body["items"][0]["user_name"], json!("carol"));
        // No email: notActivated.
        let not_activated = api(&srv, &t, Method::GET, "/users?status=notActivated&blocked=false", None).await;
        assert_eq!(not_activated.body["items"].as_array().unwrap().len(), 4);
        let pending = api(&srv, &t, Method::GET, "/users?status=pendingActivation", None).await;
        assert_eq!(pending.body["items"].as_array().unwrap().len(), 0);
    }

    async fn scim_managed_users_are_read_only_in_the_api(srv: TestServer) {
        let t = admin_token(&srv).await;
        let id = srv.create_user("jane@contoso.com").await;
        let r = api(&srv, &t, Method::PATCH, &format!("/users/{id}"), Some(&json!({"display_name": "X"}))).await;
        expect_error(&r, 409, "managed_elsewhere");
        assert!(r.body["message"].as_str().unwrap().contains("Entra ID"), "{}", r.text);
        // Administrative actions still apply to them.
        let b = api(&srv, &t, Method::POST, &format!("/users/{id}/block"), None).await;
        assert_eq!(b.body["block_reasons"], json!(["admin"]));
        // Entra's active=false adds its own reason; unblocking removes only admin's.
        srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "active", "value": "False"}])).await.expect(200);
        let u = api(&srv, &t, Method::POST, &format!("/users/{id}/unblock"), None).await;
        assert_eq!((u.body["blocked"].clone(), u.body["block_reasons"].clone()), (json!(true), json!(["inactive"])));
    }

    /// product.md §2.4: a user created by the admin API is found by SCIM filters, SCIM writes
    /// to it are refused with 409 naming its owner, and with adopt_existing_users the first
    /// SCIM write takes it over (noted in the provisioning log).
    async fn provisioning_source_conflicts_and_adoption(srv: TestServer) {
        let t = admin_token(&srv).await;
        let r = api(&srv, &t, Method::POST, "/users", Some(&json!({"user_name": "bob@contoso.com", "email": "bob@contoso.com"}))).await;
        r.expect(201);
        let id = r.body["id"].as_str().unwrap().to_owned();

        let found = srv.filter_users("userName eq \"bob@contoso.com\"").await;
        found.expect(200);
        assert_eq!(found.ids(), std::slice::from_ref(&id), "Entra matches instead of creating a duplicate");
        assert_eq!(found.resources()[0][MFA]["provisioningSource"], json!("api"));

        let patch = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "displayName", "value": "Bob"}])).await;
        patch.expect_scim_error(409).expect_detail(&["\"api\"", "adopt_existing_users"]);
        let mut put_body = srv.user(&id).await;
        put_body["displayName"] = json!("Bob");
        srv.put(&format!("/Users/{id}"), &put_body).await.expect_scim_error(409).expect_detail(&["\"api\""]);
        srv.delete(&format!("/Users/{id}")).await.expect_scim_error(409).expect_detail(&["\"api\""]);
        // A POST of the same login is a uniqueness conflict (Entra then matches by filter).
        srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "bob@contoso.com"})).await.expect_scim_error(409);
        assert_eq!(srv.mfa(&id).await["provisioningSource"], json!("api"), "refusals change nothing");

        srv.set_param("adopt_existing_users=true").await;
        let adopted = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "displayName", "value": "Bob"}])).await;
        assert!(adopted.status.is_success(), "{}", adopted.text);
        let mfa = srv.mfa(&id).await;
        assert_eq!(mfa["provisioningSource"], json!("scim"));
        let entry = srv
            .wait_for_log("default", false, |e| {
                e["resourceId"] == json!(id) && e["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w.as_str().is_some_and(|w| w.contains("adopted"))))
            })
            .await;
        let warnings: Vec<&str> = entry["warnings"].as_array().unwrap().iter().filter_map(|w| w.as_str()).collect();
        assert!(warnings.iter().any(|w| w.contains("adopted") && w.contains("\"api\"")), "{entry}");
        // Now SCIM-managed: read-only in the admin API.
        let r = api(&srv, &t, Method::PATCH, &format!("/users/{id}"), Some(&json!({"display_name": "Y"}))).await;
        expect_error(&r, 409, "managed_elsewhere");
    }

    async fn groups_parameters_tokens_and_log(srv: TestServer) {
        let t = admin_token(&srv).await;
        let (a, b) = (srv.create_user("a@x.com").await, srv.create_user("b@x.com").await);
        let g = srv.create_group("Sales", Some("ext-sales")).await;
        srv.add_members(&g, &[&a, &b]).await;
        srv.create_group("Empty", None).await;
        let groups = api(&srv, &t, Method::GET, "/groups", None).await;
        groups.expect(200);
        assert_eq!(groups.body["total"], json!(2));
        assert_eq!(groups.body["items"][1]["display_name"], json!("Sales"));
        assert_eq!(groups.body["items"][1]["member_count"], json!(2));
        let detail = api(&srv, &t, Method::GET, &format!("/groups/{g}?member_limit=1"), None).await;
        detail.expect(200);
        assert_eq!(detail.body["group"]["member_count"], json!(2));
        assert_eq!(detail.body["members"].as_array().unwrap().len(), 1);
        assert!(detail.body["members"][0]["user_name"].as_str().unwrap().ends_with("@x.com"));
        expect_error(&api(&srv, &t, Method::GET, "/groups/nope", None).await, 404, "not_found");

        let svc = api(&srv, &t, Method::GET, "/service", None).await;
        assert_eq!(svc.body["name"], json!("default"));
        assert_eq!(svc.body["tenant_url"], json!(srv.base_url));
        let p = api(&srv, &t, Method::PATCH, "/service/parameters", Some(&json!({"send_activation_email": false, "login_max_length": 64}))).await;
        p.expect(200);
        assert_eq!((p.body["send_activation_email"].clone(), p.body["login_max_length"].clone()), (json!(false), json!(64)));
        let bad = api(&srv, &t, Method::PATCH, "/service/parameters", Some(&json!({"unknown_attributes": "shrug", "adopt_existing_users": true}))).await;
        expect_error(&bad, 400, "invalid_value");
        let now = api(&srv, &t, Method::GET, "/service/parameters", None).await;
        assert_eq!(now.body["adopt_existing_users"], json!(false), "all or nothing");
        assert_eq!(now.body["send_activation_email"], json!(false));
        // The parameter applies to the next SCIM creation.
        let u = srv.create_user("c@x.com").await;
        assert_eq!(srv.mfa(&u).await["status"], json!("notActivated"));

        let created = api(&srv, &t, Method::POST, "/tokens", Some(&json!({"scope": "scim", "expires_in_days": 30, "description": "spare"}))).await;
        created.expect(201);
        let secret = created.body["token"].as_str().unwrap().to_owned();
        let tid = created.body["record"]["id"].as_i64().unwrap();
        assert!(created.body["record"]["expires_at"].is_string());
        srv.request_as(&secret, Method::GET, "/Users", None).await.expect(200);
        let list = api(&srv, &t, Method::GET, "/tokens", None).await;
        let listed = list.body.as_array().unwrap().iter().find(|x| x["id"] == json!(tid)).unwrap().clone();
        assert_eq!(listed["description"], json!("spare"));
        assert!(!list.text.contains(&secret), "secrets are never listed");
        let revoked = api(&srv, &t, Method::DELETE, &format!("/tokens/{tid}"), None).await;
        revoked.expect(200);
        assert!(revoked.body["revoked_at"].is_string());
        srv.request_as(&secret, Method::GET, "/Users", None).await.expect_scim_error(401);
        expect_error(&api(&srv, &t, Method::POST, "/tokens", Some(&json!({"scope": "root"}))).await, 400, "invalid_value");
        expect_error(&api(&srv, &t, Method::DELETE, "/tokens/999999", None).await, 404, "not_found");

        srv.get("/Users/missing").await.expect_scim_error(404);
        srv.wait_for_log("default", true, |e| e["status"] == json!(404)).await;
        let failed = api(&srv, &t, Method::GET, "/log?outcome=failed", None).await;
        failed.expect(200);
        let items = failed.body["items"].as_array().unwrap();
        assert!(!items.is_empty() && items.iter().all(|e| e["status"].as_u64().unwrap() >= 400), "{}", failed.text);
        assert!(items[0]["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        let for_user = api(&srv, &t, Method::GET, &format!("/log?resource_id={a}&resource_type=User"), None).await;
        assert!(for_user.body["items"].as_array().unwrap().iter().all(|e| e["resource_id"] == json!(a)));
        let paged = api(&srv, &t, Method::GET, "/log?limit=1", None).await;
        let before = paged.body["next_before"].as_i64().unwrap();
        let older = api(&srv, &t, Method::GET, &format!("/log?limit=1&before={before}"), None).await;
        assert!(older.body["items"][0]["id"].as_i64().unwrap() < before);
    }
}
