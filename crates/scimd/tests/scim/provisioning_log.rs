//! The provisioning log (issue 3), read with `scimd log --service NAME --json`.

use crate::common::*;
use serde_json::{Value, json};

fn warnings(e: &Value) -> Vec<String> {
    e["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

backend_tests! {
    async fn every_request_is_logged_with_its_request_id(srv: TestServer) {
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "logged@contoso.com"})).await;
        r.expect(201);
        let id = id_of(&r.body);
        let request_id = r.header("x-request-id").expect("x-request-id on the answer").to_owned();
        let e = srv.wait_for_log("default", false, |e| e["requestId"] == json!(request_id)).await;
        assert_eq!(e["method"], json!("POST"));
        assert_eq!(e["resourceType"], json!("User"));
        assert_eq!(e["resourceId"], json!(id));
        assert_eq!(e["status"], json!(201));
        assert!(e["operation"].as_str().unwrap().contains("logged@contoso.com"), "{e}");
        // The text form prints too.
        let text = srv.cli_ok(&["log", "--service", "default"]).await;
        assert!(text.contains(&request_id), "{text}");
    }

    async fn a_skipped_unknown_member_is_a_warning(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&gid, &["f648f8d5ea4e4cd38e9c", &a]).await;
        let e = srv
            .wait_for_log("default", false, |e| e["method"] == json!("PATCH") && e["resourceId"] == json!(gid))
            .await;
        assert_eq!(e["status"], json!(204));
        assert!(warnings(&e).iter().any(|w| w.contains("f648f8d5ea4e4cd38e9c")), "{e}");
    }

    async fn a_login_rename_is_a_warning(srv: TestServer) {
        let id = srv.create_user("upn@contoso.com").await;
        srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "userName", "value": "0a21f0f28d2aupn@contoso.com"},
            {"op": "Replace", "path": "active", "value": "False"},
        ])).await.expect(200);
        let e = srv
            .wait_for_log("default", false, |e| e["method"] == json!("PATCH") && e["resourceId"] == json!(id))
            .await;
        let w = warnings(&e);
        assert!(
            w.iter().any(|w| w.contains("upn@contoso.com") && w.contains("0a21f0f28d2aupn@contoso.com")),
            "{e}"
        );
    }

    async fn a_failed_request_shows_its_detail(srv: TestServer) {
        srv.create_user("dup@contoso.com").await;
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "DUP@contoso.com"})).await;
        r.expect_scim_error(409);
        let detail = r.body["detail"].as_str().unwrap().to_owned();
        let e = srv.wait_for_log("default", true, |e| e["status"] == json!(409)).await;
        assert_eq!(e["detail"], json!(detail));
        // --failed lists only failures.
        assert!(srv.log("default", true).await.iter().all(|e| e["status"].as_u64().unwrap() >= 400));
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "bad'login"})).await;
        r.expect_scim_error(400);
        let e = srv.wait_for_log("default", true, |e| e["status"] == json!(400)).await;
        assert!(e["detail"].as_str().unwrap().contains("position 4"), "{e}");
    }

    async fn an_ignored_unknown_attribute_is_a_warning(srv: TestServer) {
        srv.set_param("unknown_attributes=ignore").await;
        srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "ign@contoso.com", "favouriteColour": "blue"})).await.expect(201);
        let e = srv.wait_for_log("default", false, |e| e["method"] == json!("POST") && e["status"] == json!(201)).await;
        assert!(warnings(&e).iter().any(|w| w.contains("favouriteColour")), "{e}");
    }

    async fn a_group_delete_notes_the_blocked_members(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&gid, &[&a]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        let e = srv.wait_for_log("default", false, |e| e["method"] == json!("DELETE")).await;
        assert!(warnings(&e).iter().any(|w| w.contains(&format!("groupDeleted:{gid}"))), "{e}");
    }

    async fn the_log_is_per_service(srv: TestServer) {
        let other = srv.other_service("other").await;
        srv.request_as(&other, reqwest::Method::POST, "/Users", Some(&json!({"schemas": [USER_SCHEMA], "userName": "o@contoso.com"})))
            .await
            .expect(201);
        srv.wait_for_log("other", false, |e| e["method"] == json!("POST")).await;
        assert!(srv.log("default", false).await.iter().all(|e| e["method"] != json!("POST")));
    }

    async fn a_request_with_an_unreadable_body_is_logged_as_failed(srv: TestServer) {
        let id = srv.create_user("body@contoso.com").await;
        let req = srv
            .client
            .patch(srv.url(&format!("/Users/{id}")))
            .bearer_auth(&srv.token)
            .header("content-type", "application/scim+json")
            .body("{\"schemas\": [");
        send(req).await.expect_scim_error(400);
        let e = srv.wait_for_log("default", true, |e| e["method"] == json!("PATCH")).await;
        assert_eq!(e["status"], json!(400));
        assert_eq!(e["resourceId"], json!(id));
        assert!(e["detail"].as_str().unwrap().contains("JSON"), "{e}");
        let big = "x".repeat(2 * 1024 * 1024);
        srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "big@contoso.com", "nickName": big})).await.expect_scim_error(413);
        srv.wait_for_log("default", true, |e| e["status"] == json!(413) && e["method"] == json!("POST")).await;
    }
}
