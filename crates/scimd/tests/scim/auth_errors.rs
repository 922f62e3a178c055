//! Authentication, SCIM error envelopes, request limits and tenant isolation.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

backend_tests! {
    async fn a_request_without_token_is_401_scim_error(srv: TestServer) {
        let r = send(srv.client.get(srv.url("/Users"))).await;
        r.expect_scim_error(401);
        assert!(r.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
        // Discovery and the alias base need a token too.
        send(srv.client.get(format!("{}{ALIAS_BASE}/ServiceProviderConfig", srv.root_url))).await.expect_scim_error(401);
    }

    async fn an_invalid_token_is_401_scim_error(srv: TestServer) {
        srv.request_as("scimd_not-a-real-token", Method::GET, "/Users", None).await.expect_scim_error(401);
        srv.request_as("", Method::GET, "/Users", None).await.expect_scim_error(401);
        let r = send(srv.client.get(srv.url("/Users")).header("authorization", format!("Basic {}", srv.token))).await;
        r.expect_scim_error(401);
    }

    /// Revoked by the CLI (another process): refused once the server's token cache expires.
    /// (The console and the admin API revoke at once: tests/admin, tests/browser.)
    async fn a_token_revoked_by_the_cli_is_refused_within_a_second(srv: TestServer) {
        let token = srv.new_token("default").await;
        srv.request_as(&token, Method::GET, "/Users", None).await.expect(200);
        let list = srv.cli_ok(&["token", "list", "--service", "default"]).await;
        // Columns: ID, SERVICE, SCOPE, PREFIX…, …
        let id = list
            .lines()
            .skip(1)
            .find(|l| l.split('\t').nth(3).is_some_and(|p| token.starts_with(p.trim_end_matches('…'))))
            .and_then(|l| l.split('\t').next())
            .unwrap_or_else(|| panic!("new token not in `token list`:\n{list}"))
            .to_owned();
        srv.cli_ok(&["token", "revoke", &id]).await;
        tokio::time::sleep(scimd::tokens::AUTH_CACHE_TTL + std::time::Duration::from_millis(100)).await;
        srv.request_as(&token, Method::GET, "/Users", None).await.expect_scim_error(401);
        // The first-start token still works.
        srv.get("/Users").await.expect(200);
    }

    async fn an_expired_token_is_401(srv: TestServer) {
        // `--expires-in-days 0` expires immediately.
        let out = srv.cli(&["token", "create", "--service", "default", "--expires-in-days", "0"]).await;
        if !out.success {
            // A CLI that refuses a zero expiry is acceptable; nothing else to test then.
            assert!(out.stderr.contains("expires"), "{}", out.stderr);
            return;
        }
        let token = out.stdout.trim().to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        srv.request_as(&token, Method::GET, "/Users", None).await.expect_scim_error(401);
    }

    async fn an_unknown_route_under_the_base_is_404_scim_error(srv: TestServer) {
        srv.get("/Nope").await.expect_scim_error(404);
        srv.get("/Users/x/y").await.expect_scim_error(404);
        srv.get(&format!("{}{ALIAS_BASE}/Nope", srv.root_url)).await.expect_scim_error(404);
    }

    async fn a_wrong_method_is_405_scim_error(srv: TestServer) {
        srv.delete("/Users").await.expect_scim_error(405);
        srv.request(Method::PUT, "/ServiceProviderConfig", Some(&json!({}))).await.expect_scim_error(405);
        srv.post("/Schemas", &json!({})).await.expect_scim_error(405);
    }

    async fn malformed_json_is_400_invalid_syntax(srv: TestServer) {
        let req = srv
            .client
            .post(srv.url("/Users"))
            .bearer_auth(&srv.token)
            .header("content-type", "application/scim+json")
            .body("{\"userName\": \"a\",");
        let r = send(req).await;
        r.expect_scim_error(400);
        assert_eq!(r.body["scimType"], json!("invalidSyntax"));
        let id = srv.create_user("json@contoso.com").await;
        let req = srv
            .client
            .patch(srv.url(&format!("/Users/{id}")))
            .bearer_auth(&srv.token)
            .header("content-type", "application/json; charset=utf-8")
            .body("not json");
        let r = send(req).await;
        r.expect_scim_error(400);
        assert_eq!(r.body["scimType"], json!("invalidSyntax"));
    }

    async fn a_body_over_the_limit_is_413_scim_error(srv: TestServer) {
        let big = "x".repeat(2 * 1024 * 1024);
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "big@contoso.com", "nickName": big})).await;
        r.expect_scim_error(413);
        // The same client goes on working (the server closes the connection it cannot reuse).
        for _ in 0..5 {
            srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "big@contoso.com", "nickName": big})).await.expect(413);
            srv.get("/Users").await.expect(200);
        }
        srv.filter_users("userName eq \"big@contoso.com\"").await.expect(200);
        assert_eq!(srv.filter_users("userName eq \"big@contoso.com\"").await.total(), 0);
    }

    async fn unknown_query_parameters_are_ignored(srv: TestServer) {
        srv.create_user("flag@contoso.com").await;
        let r = srv.get("/Users?aadOptscim062020&filter=userName+eq+%22flag%40contoso.com%22").await;
        r.expect(200);
        assert_eq!(r.total(), 1);
        srv.get("/ServiceProviderConfig?aadOptscim062020").await.expect(200);
        srv.get("/Groups?AzureAdScimPatch2017&whatever=1").await.expect(200);
    }

    async fn another_service_cannot_see_or_touch_this_services_users(srv: TestServer) {
        let other = srv.other_service("other").await;
        let id = srv.create_user("alice@contoso.com").await;
        let as_other = |m: Method, path: String, body: Option<serde_json::Value>| {
            let srv = &srv;
            let other = other.clone();
            async move { srv.request_as(&other, m, &path, body.as_ref()).await }
        };
        as_other(Method::GET, format!("/Users/{id}"), None).await.expect_scim_error(404);
        as_other(
            Method::PATCH,
            format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
        )
        .await
        .expect_scim_error(404);
        as_other(Method::PUT, format!("/Users/{id}"), Some(json!({"schemas": [USER_SCHEMA], "userName": "x"})))
            .await
            .expect_scim_error(404);
        as_other(Method::DELETE, format!("/Users/{id}"), None).await.expect_scim_error(404);
        let r = as_other(Method::GET, "/Users?filter=userName+eq+%22alice%40contoso.com%22".into(), None).await;
        r.expect(200);
        assert_eq!(r.total(), 0);
        let r = as_other(Method::GET, "/Users".into(), None).await;
        assert_eq!(r.total(), 0);
        // Untouched in its own service.
        let u = srv.user(&id).await;
        assert_eq!(u["active"], json!(true));
        // The same login may exist in another service.
        let r = as_other(Method::POST, "/Users".into(), Some(json!({"schemas": [USER_SCHEMA], "userName": "alice@contoso.com"}))).await;
        r.expect(201);
        assert_ne!(id_of(&r.body), id);
    }

    async fn another_service_cannot_see_or_touch_this_services_groups(srv: TestServer) {
        let other = srv.other_service("other").await;
        let gid = srv.create_group("Sales", Some("g-ext")).await;
        let uid = srv.create_user("bob@contoso.com").await;
        srv.add_members(&gid, &[&uid]).await;
        srv.request_as(&other, Method::GET, &format!("/Groups/{gid}"), None).await.expect_scim_error(404);
        let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members"}]});
        srv.request_as(&other, Method::PATCH, &format!("/Groups/{gid}"), Some(&patch)).await.expect_scim_error(404);
        srv.request_as(&other, Method::DELETE, &format!("/Groups/{gid}"), None).await.expect_scim_error(404);
        let r = srv.request_as(&other, Method::GET, "/Groups?filter=displayName+eq+%22Sales%22", None).await;
        r.expect(200);
        assert_eq!(r.total(), 0);
        assert_eq!(srv.member_ids(&gid).await, vec![uid.clone()]);
        // A group in the other service cannot take this service's users as members.
        let r = srv
            .request_as(&other, Method::POST, "/Groups", Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales"})))
            .await;
        r.expect(201);
        let other_gid = id_of(&r.body);
        let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": uid}]}]});
        srv.request_as(&other, Method::PATCH, &format!("/Groups/{other_gid}"), Some(&add)).await.expect(204);
        let r = srv.request_as(&other, Method::GET, &format!("/Groups/{other_gid}"), None).await;
        assert_eq!(r.body["members"], json!([]));
    }
}
