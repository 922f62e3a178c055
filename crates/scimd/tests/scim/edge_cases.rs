//! Edge cases beyond Entra's everyday traffic: where an index, a fold or a text form could
//! make the server answer differently from the SCIM semantics.

use crate::common::*;
use serde_json::json;

backend_tests! {
    async fn a_filter_on_a_non_work_email_finds_the_user(srv: TestServer) {
        let r = srv.post("/Users", &json!({
            "schemas": [USER_SCHEMA],
            "userName": "multi@contoso.com",
            "emails": [
                {"type": "work", "value": "work@contoso.com", "primary": true},
                {"type": "home", "value": "home@example.com"},
            ],
        })).await;
        r.expect(201);
        let id = id_of(&r.body);
        for f in [
            "emails[value eq \"home@example.com\"]",
            "emails[type eq \"home\"].value eq \"home@example.com\"",
            "emails[type eq \"home\" and value eq \"HOME@example.com\"]",
            "emails.value eq \"home@example.com\"",
            "emails[type eq \"work\"].value eq \"WORK@contoso.com\"",
        ] {
            assert_eq!(srv.filter_users(f).await.ids(), vec![id.clone()], "{f}");
        }
        assert_eq!(srv.filter_users("emails[type eq \"work\"].value eq \"home@example.com\"").await.total(), 0);
    }

    async fn logins_fold_case_beyond_ascii(srv: TestServer) {
        let id = srv.create_bare_user("élodie@contoso.fr").await;
        assert_eq!(srv.filter_users("userName eq \"ÉLODIE@CONTOSO.FR\"").await.ids(), vec![id]);
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "Élodie@contoso.fr"})).await;
        r.expect_scim_error(409);
        assert_eq!(srv.filter_users("userName sw \"ÉL\"").await.total(), 1);
    }

    async fn contains_and_starts_with_treat_wildcard_characters_literally(srv: TestServer) {
        srv.create_bare_user("a_b@contoso.com").await;
        srv.create_bare_user("axb@contoso.com").await;
        assert_eq!(srv.filter_users("userName co \"_\"").await.user_names(), vec!["a_b@contoso.com"]);
        assert_eq!(srv.filter_users("userName sw \"a_\"").await.user_names(), vec!["a_b@contoso.com"]);
        srv.create_group("100% sales", Some("e%1")).await;
        srv.create_group("1000 sales", None).await;
        assert_eq!(srv.filter_groups("displayName co \"0%\"").await.total(), 1);
        assert_eq!(srv.filter_groups("externalId eq \"e%1\"").await.total(), 1);
    }

    async fn quotes_and_backslashes_in_filter_values_are_unescaped(srv: TestServer) {
        let gid = srv.create_group("Say \"hi\" \\ o'clock", None).await;
        assert_eq!(srv.filter_groups("displayName eq \"Say \\\"hi\\\" \\\\ o'clock\"").await.ids(), vec![gid]);
    }

    async fn meta_created_comparisons_are_on_instants_not_text(srv: TestServer) {
        let first = srv.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "first@contoso.com"})).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let second = id_of(&srv.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "second@contoso.com"})).await);
        // The first user's creation instant, written in +02:00.
        let created = time::OffsetDateTime::parse(first["meta"]["created"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        let shifted = created
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap())
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        assert_eq!(srv.filter_users(&format!("meta.created gt \"{shifted}\"")).await.ids(), vec![second.clone()]);
        assert_eq!(srv.filter_users(&format!("meta.created le \"{shifted}\"")).await.ids(), vec![id_of(&first)]);
        assert_eq!(srv.filter_users(&format!("meta.created eq \"{shifted}\"")).await.ids(), vec![id_of(&first)]);
        // The same through the in-memory evaluator (a filter part with no index).
        let r = srv.filter_users(&format!("meta.created gt \"{shifted}\" and nickName pr")).await;
        assert_eq!(r.total(), 0);
        let r = srv.filter_users(&format!("meta.created gt \"{shifted}\" and not (nickName pr)")).await;
        assert_eq!(r.ids(), vec![second]);
    }

    async fn concurrent_creates_of_one_login_give_one_201_and_409s(srv: TestServer) {
        let srv = std::sync::Arc::new(srv);
        let mut tasks = vec![];
        for i in 0..8 {
            let srv = std::sync::Arc::clone(&srv);
            tasks.push(tokio::spawn(async move {
                let login = if i % 2 == 0 { "race@contoso.com" } else { "RACE@contoso.com" };
                srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": login})).await.status.as_u16()
            }));
        }
        let mut statuses = vec![];
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        statuses.sort();
        assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409, 409, 409]);
        assert_eq!(srv.filter_users("userName eq \"race@contoso.com\"").await.total(), 1);
    }

    async fn concurrent_patches_of_one_user_lose_no_attribute(srv: TestServer) {
        let id = srv.create_user("busy@contoso.com").await;
        let srv = std::sync::Arc::new(srv);
        let attrs = ["displayName", "nickName", "title", "profileUrl", "userType", "locale", "timezone", "preferredLanguage"];
        let mut tasks = vec![];
        for a in attrs {
            let srv = std::sync::Arc::clone(&srv);
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": a, "value": format!("v-{a}")}])).await.status.as_u16()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
        let u = srv.user(&id).await;
        for a in attrs {
            assert_eq!(u[a], json!(format!("v-{a}")), "{a} lost");
        }
    }

    async fn a_user_removed_from_a_group_before_its_deletion_is_not_blocked(srv: TestServer) {
        let gid = srv.create_group("G", Some("g")).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.add_members(&gid, &[&a, &b]).await;
        srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}])).await.expect(204);
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        assert_eq!(srv.mfa(&a).await["blocked"], json!(false));
        assert_eq!(srv.mfa(&b).await["blocked"], json!(true));
    }

    async fn a_new_group_with_a_deleted_groups_name_but_another_external_id_is_not_a_restore(srv: TestServer) {
        let gid = srv.create_group("Shared name", Some("entra-object-1")).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&gid, &[&a]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        let other = srv.create_group("Shared name", Some("entra-object-2")).await;
        assert_ne!(other, gid, "a different Entra group must not take over the tombstone");
        assert_eq!(srv.mfa(&a).await["blockReasons"], json!([format!("groupDeleted:{gid}")]));
        // The right one still restores, under another name too.
        assert_eq!(srv.create_group("Shared name (old)", Some("entra-object-1")).await, gid);
        assert_eq!(srv.mfa(&a).await["blocked"], json!(false));
    }

    async fn a_restored_group_deleted_again_blocks_its_new_members(srv: TestServer) {
        let gid = srv.create_group("Again", Some("again")).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.add_members(&gid, &[&a]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        assert_eq!(srv.create_group("Again", Some("again")).await, gid);
        srv.add_members(&gid, &[&b]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        assert_eq!(srv.mfa(&a).await["blocked"], json!(false), "a was not re-added before the second delete");
        assert_eq!(srv.mfa(&b).await["blockReasons"], json!([format!("groupDeleted:{gid}")]));
    }

    async fn a_hard_deleted_member_of_a_deleted_group_does_not_break_the_restore(srv: TestServer) {
        let gid = srv.create_group("Ghost", Some("ghost")).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.add_members(&gid, &[&a, &b]).await;
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        srv.delete(&format!("/Users/{a}")).await.expect(204);
        assert_eq!(srv.create_group("Ghost", Some("ghost")).await, gid);
        assert_eq!(srv.mfa(&b).await["blocked"], json!(false));
    }

    async fn a_user_created_inactive_is_blocked_as_inactive(srv: TestServer) {
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "off@contoso.com", "active": "False"})).await;
        r.expect(201);
        assert_eq!(r.body["active"], json!(false));
        assert_eq!(r.body[MFA]["blockReasons"], json!(["inactive"]));
        let id = id_of(&r.body);
        let r = srv.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "off@contoso.com", "active": true})).await;
        assert_eq!(r.body[MFA]["blocked"], json!(false));
    }

    async fn attribute_names_are_case_insensitive_on_input(srv: TestServer) {
        let r = srv.post("/Users", &json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "UserName": "case@contoso.com",
            "Emails": [{"Primary": true, "Type": "work", "Value": "case@contoso.com"}],
            "Name": {"GivenName": "Ca", "familyname": "Se"},
            ENTERPRISE: {"Department": "Dept", "Manager": {"Value": "m-1"}},
        })).await;
        r.expect(201);
        assert_eq!(r.body["userName"], json!("case@contoso.com"));
        assert_eq!(r.body["emails"][0]["value"], json!("case@contoso.com"));
        assert_eq!(r.body["emails"][0]["primary"], json!(true));
        assert_eq!(r.body["name"]["givenName"], json!("Ca"));
        assert_eq!(r.body["name"]["familyName"], json!("Se"));
        assert_eq!(r.body[ENTERPRISE]["department"], json!("Dept"));
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], json!("m-1"));
        assert_eq!(r.body[MFA]["status"], json!("pendingActivation"), "the email was recognised");
        let id = id_of(&r.body);
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "Name.FamilyName", "value": "X"}])).await;
        assert_eq!(r.body["name"]["familyName"], json!("X"));
    }

    async fn an_unsupported_content_type_is_415_scim_error(srv: TestServer) {
        let req = srv.client.post(srv.url("/Users")).bearer_auth(&srv.token).header("content-type", "text/plain").body("{}");
        send(req).await.expect_scim_error(415);
    }

    async fn a_patch_without_operations_is_400(srv: TestServer) {
        let id = srv.create_user("ops@contoso.com").await;
        srv.patch(&format!("/Users/{id}"), &json!({"schemas": [PATCH_OP]})).await.expect_scim_error(400);
        srv.patch(&format!("/Users/{id}"), &json!({"schemas": [PATCH_OP], "Operations": [{"path": "title", "value": "x"}]})).await.expect_scim_error(400);
        srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])).await.expect_scim_error(400);
    }

    async fn count_above_the_maximum_is_capped_and_groups_accept_count_zero(srv: TestServer) {
        srv.create_user("one@contoso.com").await;
        let r = srv.query("Users", &[("count", "100000")]).await;
        r.expect(200);
        assert_eq!(r.total(), 1);
        srv.create_group("G", None).await;
        let r = srv.query("Groups", &[("count", "0")]).await;
        r.expect(200);
        assert_eq!(r.total(), 1);
        assert!(r.body["Resources"].as_array().is_none_or(|a| a.is_empty()));
    }

    async fn group_member_filter_with_and_combines_with_display_name(srv: TestServer) {
        let g = srv.create_group("Filtered", None).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&g, &[&a]).await;
        let r = srv.filter_groups(&format!("displayName eq \"Filtered\" and members[value eq \"{a}\"]")).await;
        assert_eq!(r.ids(), vec![g.clone()]);
        // Users filtered by group.
        assert_eq!(srv.filter_users(&format!("groups.value eq \"{g}\"")).await.ids(), vec![a]);
    }

    async fn an_admin_scope_token_cannot_call_scim(srv: TestServer) {
        let admin = srv.cli_ok(&["token", "create", "--service", "default", "--scope", "admin"]).await.trim().to_owned();
        srv.request_as(&admin, reqwest::Method::GET, "/Users", None).await.expect_scim_error(401);
    }

    async fn entras_manager_check_query_with_unquoted_ids_and_attributes_id(srv: TestServer) {
        let boss = srv.create_user("boss@contoso.com").await;
        let id = srv.create_user("report@contoso.com").await;
        srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss}])).await.expect(200);
        let r = srv.query("Users", &[("filter", &format!("id eq {id} and manager eq {boss}")), ("attributes", "id")]).await;
        r.expect(200);
        assert_eq!(r.ids(), vec![id.clone()]);
        let r = srv.filter_users(&format!("{ENTERPRISE}:manager.value eq \"{boss}\"")).await;
        assert_eq!(r.ids(), vec![id.clone()]);
        let r = srv.filter_users(&format!("id eq {id} and manager eq \"someone-else\"")).await;
        assert_eq!(r.total(), 0);
    }

    async fn filters_on_extension_urn_paths_and_complex_multi_valued_attributes(srv: TestServer) {
        let r = srv.post("/Users", &json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "ext@contoso.com",
            "emails": [{"type": "work", "value": "ext@example.com"}],
            ENTERPRISE: {"employeeNumber": "E-123", "department": "R&D"},
        })).await;
        r.expect(201);
        let id = id_of(&r.body);
        srv.create_user("other@contoso.com").await;
        assert_eq!(srv.filter_users(&format!("{ENTERPRISE}:employeeNumber eq \"E-123\"")).await.ids(), vec![id.clone()]);
        assert_eq!(srv.filter_users("emails co \"ext@example\"").await.ids(), vec![id.clone()]);
        assert_eq!(srv.filter_users("Emails.Value sw \"EXT@\"").await.ids(), vec![id.clone()]);
    }

    async fn replace_on_a_complex_attribute_keeps_unspecified_sub_attributes(srv: TestServer) {
        let id = srv.create_user("complex@contoso.com").await;
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "name", "value": {"givenName": "New"}}])).await;
        r.expect(200);
        assert_eq!(r.body["name"]["givenName"], json!("New"));
        assert_eq!(r.body["name"]["familyName"], json!("Family"), "RFC 7644 §3.5.2.3");
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "value": {ENTERPRISE: {"department": "Ops"}, "name": {"middleName": "M"}}}])).await;
        r.expect(200);
        assert_eq!(r.body[ENTERPRISE]["department"], json!("Ops"));
        assert_eq!(r.body["name"]["middleName"], json!("M"));
        assert_eq!(r.body["name"]["givenName"], json!("New"));
    }

    async fn patch_on_filtered_email_paths_touches_only_the_matching_element(srv: TestServer) {
        let r = srv.post("/Users", &json!({
            "schemas": [USER_SCHEMA],
            "userName": "emails@contoso.com",
            "emails": [{"type": "work", "value": "w@contoso.com"}, {"type": "home", "value": "h@example.com"}],
        })).await;
        let id = id_of(&r.body);
        let r = srv.patch_ops(&format!("/Users/{id}?aadOptscim062020"), json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true}])).await;
        r.expect(200);
        let emails = r.body["emails"].as_array().unwrap().clone();
        assert_eq!(emails.len(), 2);
        assert!(emails.iter().any(|e| e["type"] == json!("work") && e["primary"] == json!(true)));
        assert!(emails.iter().any(|e| e["type"] == json!("home") && e.get("primary").is_none_or(|p| p == &json!(false))));
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).await;
        r.expect(200);
        assert_eq!(r.body["emails"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["emails"][0]["value"], json!("w@contoso.com"));
    }

    async fn member_operations_apply_in_order_within_one_patch(srv: TestServer) {
        let g = srv.create_group("Ordered", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.patch_ops(&format!("/Groups/{g}"), json!([
            {"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]},
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
        ])).await.expect(204);
        assert_eq!(srv.member_ids(&g).await, vec![b.clone()]);
        srv.patch_ops(&format!("/Groups/{g}"), json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": a}]},
        ])).await.expect(204);
        assert_eq!(srv.member_ids(&g).await, vec![a.clone()]);
        srv.patch_ops(&format!("/Groups/{g}"), json!([{"op": "replace", "path": "members", "value": [{"value": b}]}])).await.expect(204);
        assert_eq!(srv.member_ids(&g).await, vec![b]);
    }

    async fn in_memory_filtering_sorts_and_pages_like_the_store(srv: TestServer) {
        for (login, nick) in [("d@x.com", true), ("a@x.com", true), ("c@x.com", false), ("b@x.com", true)] {
            let mut body = json!({"schemas": [USER_SCHEMA], "userName": login});
            if nick {
                body["nickName"] = json!("n");
            }
            srv.create_user_with(body).await;
        }
        let r = srv.query("Users", &[("filter", "nickName pr"), ("sortBy", "userName"), ("startIndex", "2"), ("count", "1")]).await;
        r.expect(200);
        assert_eq!(r.total(), 3);
        assert_eq!(r.user_names(), vec!["b@x.com"]);
        let r = srv.post("/Groups/.search", &json!({"filter": "displayName eq \"none\""})).await;
        r.expect(200);
        assert_eq!(r.body["Resources"], json!([]));
    }

    async fn a_password_is_never_stored_or_returned(srv: TestServer) {
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "pw@contoso.com", "password": "Secret-1"})).await;
        r.expect(201);
        assert!(!r.text.contains("Secret-1"), "{}", r.text);
        let id = id_of(&r.body);
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "password", "value": "Secret-2"}])).await;
        r.expect(200);
        assert!(!r.text.contains("Secret-2"), "{}", r.text);
        let r = srv.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "pw@contoso.com", "password": "Secret-3"})).await;
        assert!(!r.text.contains("Secret-3"), "{}", r.text);
        for path in [format!("/Users/{id}"), format!("/Users/{id}?attributes=password"), "/Users".to_owned()] {
            let r = srv.get(&path).await;
            assert!(!r.text.contains("Secret-"), "{path}: {}", r.text);
        }
        assert_eq!(srv.filter_users("password pr").await.total(), 0);
    }
}
