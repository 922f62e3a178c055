//! The MFA directory's lifecycle (product.md §2.1–§2.3, issue 3), read through the MFA
//! extension `urn:scimd:schemas:extension:mfa:1.0:User`.
//!
//! Not tested here yet: provisioning-source conflicts (product.md §2.4) need a way to create
//! a user that SCIM does not own (admin API, console, import), which does not exist yet.

use crate::common::*;
use serde_json::{Value, json};

fn reasons(mfa: &Value) -> Vec<String> {
    let mut r: Vec<String> = mfa["blockReasons"]
        .as_array()
        .expect("blockReasons array")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    r.sort();
    r
}

fn group_deleted(gid: &str) -> String {
    format!("groupDeleted:{gid}")
}

async fn deactivate(srv: &TestServer, id: &str, op: Value) -> Value {
    let r = srv.patch_ops(&format!("/Users/{id}"), json!([op])).await;
    r.expect(200);
    r.body
}

backend_tests! {
    async fn a_user_created_with_an_email_is_pending_activation_for_21_days(srv: TestServer) {
        let before = now_rfc3339();
        let id = srv.create_user("pending@contoso.com").await;
        let mfa = srv.mfa(&id).await;
        assert_eq!(mfa["status"], json!("pendingActivation"));
        assert_eq!(mfa["blocked"], json!(false));
        assert_eq!(mfa["blockReasons"], json!([]));
        assert_eq!(mfa["provisioningSource"], json!("scim"));
        let expires = mfa["activationExpiresAt"].as_str().expect("activationExpiresAt while pending");
        let secs = seconds_between(&before, expires);
        let days21 = 21 * 24 * 3600;
        assert!((days21 - 120..=days21 + 120).contains(&secs), "expires {secs}s after creation");
        // The POST answer already carries it.
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "p2@contoso.com", "emails": [{"type": "work", "value": "p2@contoso.com"}]})).await;
        assert_eq!(r.body[MFA]["status"], json!("pendingActivation"));
    }

    async fn a_user_created_without_an_email_is_not_activated(srv: TestServer) {
        let id = srv.create_bare_user("noemail@contoso.com").await;
        let mfa = srv.mfa(&id).await;
        assert_eq!(mfa["status"], json!("notActivated"));
        assert!(mfa.get("activationExpiresAt").is_none(), "{mfa}");
    }

    async fn a_service_without_activation_emails_creates_not_activated_users(srv: TestServer) {
        srv.set_param("send_activation_email=false").await;
        let id = srv.create_user("quiet@contoso.com").await;
        let mfa = srv.mfa(&id).await;
        assert_eq!(mfa["status"], json!("notActivated"));
        assert!(mfa.get("activationExpiresAt").is_none());
    }

    async fn soft_delete_in_every_encoding_adds_inactive_and_keeps_user_and_memberships(srv: TestServer) {
        let gid = srv.create_group("Team", Some("team-ext")).await;
        let encodings = [
            json!({"op": "Replace", "path": "active", "value": "False"}),
            json!({"op": "Replace", "path": "active", "value": "false"}),
            json!({"op": "replace", "path": "active", "value": false}),
            json!({"op": "Replace", "path": "active", "value": false}),
            json!({"op": "replace", "value": {"active": false}}),
            json!({"op": "Replace", "value": {"active": "False"}}),
        ];
        for (i, op) in encodings.into_iter().enumerate() {
            let login = format!("soft{i}@contoso.com");
            let id = srv.create_user(&login).await;
            srv.add_members(&gid, &[&id]).await;
            let body = deactivate(&srv, &id, op.clone()).await;
            assert_eq!(body["active"], json!(false), "{op}");
            let u = srv.user(&id).await;
            assert_eq!(u["active"], json!(false), "{op}");
            assert_eq!(u[MFA]["blocked"], json!(true), "{op}");
            assert_eq!(reasons(&u[MFA]), vec!["inactive"], "{op}");
            assert_eq!(u[MFA]["status"], json!("pendingActivation"), "status is not touched by active: {op}");
            let r = srv.filter_users(&format!("userName eq \"{login}\"")).await;
            assert_eq!(r.ids(), vec![id.clone()], "a disabled user stays findable: {op}");
            assert!(srv.member_ids(&gid).await.contains(&id), "memberships kept: {op}");
        }
        assert_eq!(srv.filter_users("active eq false").await.total(), 6);
    }

    async fn soft_delete_with_upn_rename_updates_the_login(srv: TestServer) {
        let id = srv.create_user("renamed@contoso.com").await;
        let object_id = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";
        let new_login = format!("{}renamed@contoso.com", object_id.replace('-', ""));
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "userName", "value": new_login},
            {"op": "Replace", "path": "active", "value": "False"},
        ])).await;
        r.expect(200);
        assert_eq!(r.body["userName"], json!(new_login));
        assert_eq!(reasons(&r.body[MFA]), vec!["inactive"]);
        assert_eq!(srv.filter_users(&format!("userName eq \"{new_login}\"")).await.ids(), vec![id.clone()]);
        assert_eq!(srv.filter_users("userName eq \"renamed@contoso.com\"").await.total(), 0);
        // Restore brings the old UPN back.
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "userName", "value": "renamed@contoso.com"},
            {"op": "Replace", "path": "active", "value": "True"},
        ])).await;
        r.expect(200);
        assert_eq!(r.body["userName"], json!("renamed@contoso.com"));
        assert_eq!(r.body[MFA]["blocked"], json!(false));
    }

    async fn restore_removes_inactive_and_keeps_other_reasons(srv: TestServer) {
        let gid = srv.create_group("Doomed", Some("doomed")).await;
        let id = srv.create_user("restore@contoso.com").await;
        srv.add_members(&gid, &[&id]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        deactivate(&srv, &id, json!({"op": "Replace", "path": "active", "value": "False"})).await;
        assert_eq!(reasons(&srv.mfa(&id).await), {
            let mut v = vec![group_deleted(&gid), "inactive".to_owned()];
            v.sort();
            v
        });
        let body = deactivate(&srv, &id, json!({"op": "Replace", "path": "active", "value": "True"})).await;
        assert_eq!(body["active"], json!(true));
        assert_eq!(reasons(&body[MFA]), vec![group_deleted(&gid)]);
        assert_eq!(body[MFA]["blocked"], json!(true), "still blocked by the group deletion");
        // Flag-mode restore of another user.
        let other = srv.create_user("restore2@contoso.com").await;
        deactivate(&srv, &other, json!({"op": "replace", "path": "active", "value": false})).await;
        let body = deactivate(&srv, &other, json!({"op": "replace", "value": {"active": true}})).await;
        assert_eq!(body[MFA]["blocked"], json!(false));
        assert_eq!(body[MFA]["blockReasons"], json!([]));
    }

    async fn hard_delete_removes_the_user_and_its_memberships(srv: TestServer) {
        let gid = srv.create_group("Members", None).await;
        let id = srv.create_user("hard@contoso.com").await;
        let keep = srv.create_user("keep@contoso.com").await;
        srv.add_members(&gid, &[&id, &keep]).await;
        srv.delete(&format!("/Users/{id}")).await.expect(204);
        srv.get(&format!("/Users/{id}")).await.expect_scim_error(404);
        assert_eq!(srv.member_ids(&gid).await, vec![keep]);
        assert_eq!(srv.filter_groups(&format!("members.value eq \"{id}\"")).await.total(), 0);
        // A user created again with the same login is a new user with no memberships.
        let again = srv.create_user("hard@contoso.com").await;
        assert_ne!(again, id);
        assert_eq!(srv.filter_groups(&format!("members.value eq \"{again}\"")).await.total(), 0);
    }

    async fn group_delete_blocks_each_member_and_leaves_active_true(srv: TestServer) {
        let gid = srv.create_group("Gone", Some("gone-ext")).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        let outsider = srv.create_user("c@contoso.com").await;
        srv.add_members(&gid, &[&a, &b]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        for id in [&a, &b] {
            let u = srv.user(id).await;
            assert_eq!(u["active"], json!(true), "active is never derived from block reasons");
            assert_eq!(u[MFA]["blocked"], json!(true));
            assert_eq!(reasons(&u[MFA]), vec![group_deleted(&gid)]);
        }
        assert_eq!(srv.mfa(&outsider).await["blocked"], json!(false));
        srv.get(&format!("/Groups/{gid}")).await.expect_scim_error(404);
        assert_eq!(srv.filter_groups("displayName eq \"Gone\"").await.total(), 0);
        // Entra's next cycle sets active true again: the group block stays.
        let body = deactivate(&srv, &a, json!({"op": "Replace", "path": "active", "value": "True"})).await;
        assert_eq!(reasons(&body[MFA]), vec![group_deleted(&gid)]);
    }

    async fn a_group_recreated_with_the_same_external_id_gets_its_old_id_and_unblocks(srv: TestServer) {
        let gid = srv.create_group("Restorable", Some("8aa1a0c0-restore")).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&gid, &[&a]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        assert_eq!(srv.mfa(&a).await["blocked"], json!(true));
        // Entra's lookup misses, then it re-creates (possibly under a new name).
        assert_eq!(srv.filter_groups("displayName eq \"Restorable (renamed)\"").await.total(), 0);
        let r = srv.post("/Groups", &json!({
            "schemas": [GROUP_SCHEMA],
            "externalId": "8aa1a0c0-restore",
            "displayName": "Restorable (renamed)",
        })).await;
        r.expect(201);
        assert_eq!(id_of(&r.body), gid, "same id as before");
        assert_eq!(r.body["members"], json!([]));
        let mfa = srv.mfa(&a).await;
        assert_eq!(mfa["blocked"], json!(false));
        assert_eq!(mfa["blockReasons"], json!([]));
        // The member PATCH that follows re-adds it.
        srv.add_members(&gid, &[&a]).await;
        assert_eq!(srv.member_ids(&gid).await, vec![a]);
    }

    async fn a_group_recreated_without_external_id_is_matched_by_display_name(srv: TestServer) {
        let gid = srv.create_group("By Name", None).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&gid, &[&a]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        assert_eq!(srv.mfa(&a).await["blocked"], json!(true));
        let again = srv.create_group("by name", None).await;
        assert_eq!(again, gid);
        assert_eq!(srv.mfa(&a).await["blocked"], json!(false));
    }

    async fn a_user_in_two_deleted_groups_stays_blocked_until_both_are_restored(srv: TestServer) {
        let g1 = srv.create_group("One", Some("one")).await;
        let g2 = srv.create_group("Two", Some("two")).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&g1, &[&a]).await;
        srv.add_members(&g2, &[&a]).await;
        srv.delete(&format!("/Groups/{g1}")).await.expect(204);
        srv.delete(&format!("/Groups/{g2}")).await.expect(204);
        let mut both = vec![group_deleted(&g1), group_deleted(&g2)];
        both.sort();
        assert_eq!(reasons(&srv.mfa(&a).await), both);
        assert_eq!(srv.create_group("One", Some("one")).await, g1);
        let mfa = srv.mfa(&a).await;
        assert_eq!(reasons(&mfa), vec![group_deleted(&g2)]);
        assert_eq!(mfa["blocked"], json!(true));
        assert_eq!(srv.create_group("Two", Some("two")).await, g2);
        assert_eq!(srv.mfa(&a).await["blocked"], json!(false));
    }

    async fn a_group_delete_racing_a_member_add_leaves_a_consistent_state(srv: TestServer) {
        let srv = std::sync::Arc::new(srv);
        for i in 0..6 {
            let gid = srv.create_group(&format!("Race{i}"), Some(&format!("race{i}"))).await;
            let a = srv.create_bare_user(&format!("race{i}@contoso.com")).await;
            let (s1, s2) = (std::sync::Arc::clone(&srv), std::sync::Arc::clone(&srv));
            let (g1, g2, a1) = (gid.clone(), gid.clone(), a.clone());
            let add = tokio::spawn(async move {
                s1.patch_ops(&format!("/Groups/{g1}"), json!([{"op": "Add", "path": "members", "value": [{"value": a1}]}])).await.status.as_u16()
            });
            let del = tokio::spawn(async move { s2.delete(&format!("/Groups/{g2}")).await.status.as_u16() });
            let (add, del) = (add.await.unwrap(), del.await.unwrap());
            assert_eq!(del, 204);
            let blocked = reasons(&srv.mfa(&a).await) == vec![group_deleted(&gid)];
            match add {
                204 => assert!(blocked, "member added before the delete must be blocked by the tombstone"),
                404 => assert!(!blocked, "member never added must not be blocked"),
                s => panic!("member add answered {s}"),
            }
        }
    }

    async fn client_writes_to_the_mfa_extension_are_ignored(srv: TestServer) {
        let forged = json!({"status": "activated", "blocked": true, "blockReasons": ["admin"], "provisioningSource": "api"});
        let r = srv.post("/Users", &json!({
            "schemas": [USER_SCHEMA, MFA],
            "userName": "forger@contoso.com",
            MFA: forged,
        })).await;
        r.expect(201);
        let id = id_of(&r.body);
        let expected = json!({"status": "notActivated", "blocked": false, "blockReasons": [], "provisioningSource": "scim"});
        assert_eq!(r.body[MFA], expected);
        let r = srv.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "forger@contoso.com", MFA: forged})).await;
        r.expect(200);
        assert_eq!(r.body[MFA], expected);
        for op in [
            json!({"op": "replace", "path": format!("{MFA}:blocked"), "value": true}),
            json!({"op": "add", "path": format!("{MFA}:blockReasons"), "value": ["admin"]}),
            json!({"op": "replace", "value": {format!("{MFA}:status"): "activated"}}),
            json!({"op": "replace", "path": MFA, "value": forged}),
        ] {
            let r = srv.patch_ops(&format!("/Users/{id}"), json!([op])).await;
            assert!(matches!(r.status.as_u16(), 200 | 400), "{op}: {}", r.text);
            assert_eq!(srv.mfa(&id).await, expected, "{op}");
        }
    }

    async fn a_login_with_a_forbidden_character_is_refused_naming_it_and_its_position(srv: TestServer) {
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "o'brien@contoso.com"})).await;
        r.expect_bad_request("invalidValue", &["'", "position 2"]);
        for (login, ch, pos) in [("a!b@contoso.com", "!", "position 2"), ("abc#@contoso.com", "#", "position 4"), ("x{y}", "{", "position 2")] {
            let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": login})).await;
            r.expect_bad_request("invalidValue", &[ch, pos]);
        }
        // Letters, digits and . _ - @ + \ are accepted.
        srv.create_bare_user("First.Last_1-x+tag@contoso.com").await;
        srv.create_bare_user("DOMAIN\\user").await;
        srv.create_bare_user("élodie@contoso.fr").await;
        // A PATCH rename is checked too.
        let id = srv.create_bare_user("ok@contoso.com").await;
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "userName", "value": "ok%@contoso.com"}])).await;
        r.expect_bad_request("invalidValue", &["%", "position 3"]);
        assert_eq!(srv.user(&id).await["userName"], json!("ok@contoso.com"));
    }

    async fn a_login_over_256_characters_is_refused_naming_the_limit(srv: TestServer) {
        let long = format!("{}@contoso.com", "a".repeat(250));
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": long})).await;
        r.expect_bad_request("invalidValue", &["256"]);
        let exact = format!("{}@c.com", "a".repeat(250));
        assert_eq!(exact.chars().count(), 256);
        srv.create_bare_user(&exact).await;
    }

    async fn the_login_length_parameter_takes_effect_at_once(srv: TestServer) {
        srv.create_bare_user("elevenchars").await;
        srv.set_param("login_max_length=10").await;
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "elevenchar2"})).await;
        r.expect_bad_request("invalidValue", &["10"]);
        srv.create_bare_user("tenchars10").await;
    }

    async fn a_group_name_over_256_characters_is_refused(srv: TestServer) {
        let r = srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "g".repeat(257)})).await;
        r.expect_bad_request("invalidValue", &["256"]);
        let gid = srv.create_group(&"g".repeat(256), None).await;
        let r = srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Replace", "path": "displayName", "value": "h".repeat(300)}])).await;
        r.expect_bad_request("invalidValue", &["256"]);
        srv.set_param("group_name_max_length=5").await;
        srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "sixsix"})).await.expect_scim_error(400);
    }

    async fn an_unknown_attribute_is_refused_naming_it_by_default(srv: TestServer) {
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "unk@contoso.com", "favouriteColour": "blue"})).await;
        r.expect_scim_error(400);
        assert!(matches!(r.body["scimType"].as_str(), Some("invalidPath" | "invalidValue")), "{}", r.text);
        r.expect_detail(&["favouriteColour"]);
        let id = srv.create_bare_user("unk@contoso.com").await;
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "favouriteColour", "value": "blue"}])).await;
        r.expect_bad_request("invalidPath", &["favouriteColour"]);
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "value": {"favouriteColour": "blue"}}])).await;
        r.expect_scim_error(400);
        r.expect_detail(&["favouriteColour"]);
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:badge", "value": "42"}])).await;
        r.expect_scim_error(400);
        r.expect_detail(&["badge"]);
    }

    async fn an_unknown_attribute_is_dropped_when_the_service_ignores_them(srv: TestServer) {
        srv.set_param("unknown_attributes=ignore").await;
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "unk@contoso.com", "favouriteColour": "blue", "displayName": "Kept"})).await;
        r.expect(201);
        assert!(r.body.get("favouriteColour").is_none());
        assert_eq!(r.body["displayName"], json!("Kept"));
        let id = id_of(&r.body);
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "favouriteColour", "value": "red"},
            {"op": "Replace", "path": "active", "value": "False"},
        ])).await;
        r.expect(200);
        assert_eq!(r.body["active"], json!(false), "the co-sent active=false still applies");
        assert!(r.body.get("favouriteColour").is_none());
    }
}
