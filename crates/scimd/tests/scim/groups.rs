//! `/Groups`: Entra's group sequence and every member-change form (entra-wire §2.10).

use crate::common::*;
use serde_json::json;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

backend_tests! {
    async fn a_group_posted_with_microsofts_extra_schema_is_201_with_empty_members(srv: TestServer) {
        let r = srv.post("/Groups", &json!({
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
        })).await;
        r.expect(201);
        assert_eq!(r.body["members"], json!([]));
        assert_eq!(r.body["displayName"], json!("displayName"));
        assert_eq!(r.body["externalId"], json!("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"));
        assert_eq!(r.body["meta"]["resourceType"], json!("Group"));
        let id = id_of(&r.body);
        assert!(r.header("location").is_some_and(|l| l.ends_with(&format!("/Groups/{id}"))));
    }

    async fn group_lookup_by_display_name_with_excluded_members_has_no_members_key(srv: TestServer) {
        let gid = srv.create_group("Engineering", Some("g1")).await;
        let uid = srv.create_user("eng@contoso.com").await;
        srv.add_members(&gid, &[&uid]).await;
        let r = srv.query("Groups", &[("excludedAttributes", "members"), ("filter", "displayName eq \"Engineering\"")]).await;
        r.expect(200);
        assert_eq!(r.ids(), vec![gid.clone()]);
        assert!(r.resources()[0].get("members").is_none(), "{}", r.text);
        let r = srv.get(&format!("/Groups/{gid}?excludedAttributes=members")).await;
        r.expect(200);
        assert!(r.body.get("members").is_none());
        assert_eq!(r.body["displayName"], json!("Engineering"));
        // Case-insensitive match, and the Test Connection probe on a miss.
        assert_eq!(srv.filter_groups("DisplayName eq \"engineering\"").await.total(), 1);
        assert_eq!(srv.filter_groups("displayName eq \"a6d2f0f4-0000\"").await.body["Resources"], json!([]));
        assert_eq!(srv.filter_groups("externalId eq \"g1\"").await.ids(), vec![gid]);
    }

    async fn members_added_in_entras_default_form_show_on_get(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        let r = srv.patch_ops(&format!("/Groups/{gid}"), json!([
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}]},
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": b}]},
        ])).await;
        r.expect(204);
        assert!(r.text.is_empty());
        assert_eq!(srv.member_ids(&gid).await, sorted(vec![a.clone(), b.clone()]));
        let r = srv.get(&format!("/Groups/{gid}")).await;
        let m = r.body["members"].as_array().unwrap().iter().find(|m| m["value"] == json!(a)).unwrap().clone();
        assert!(m["$ref"].as_str().is_some_and(|r| r.ends_with(&format!("/Users/{a}"))), "{m}");
    }

    async fn members_added_in_flag_form_and_postman_forms(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "add", "path": "members", "value": [{"value": a}]}])).await.expect(204);
        // Postman: extra `name` key, displayName; bare string value; extra top-level id.
        let r = srv.patch(&format!("/Groups/{gid}"), &json!({
            "schemas": [PATCH_OP],
            "id": gid,
            "Operations": [
                {"name": "addMember", "op": "add", "path": "members", "value": [{"displayName": "new User", "value": b}]},
                {"op": "add", "path": "members", "value": "string id 1"},
            ],
        })).await;
        r.expect(204);
        assert_eq!(srv.member_ids(&gid).await, sorted(vec![a, b.clone()]));
        let r = srv.get(&format!("/Groups/{gid}")).await;
        let m = r.body["members"].as_array().unwrap().iter().find(|m| m["value"] == json!(b)).unwrap().clone();
        assert_eq!(m["display"], json!("new User"));
    }

    async fn remove_with_a_value_list_removes_only_those_members(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        let c = srv.create_user("c@contoso.com").await;
        srv.add_members(&gid, &[&a, &b, &c]).await;
        let r = srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": b}]}])).await;
        r.expect(204);
        assert_eq!(srv.member_ids(&gid).await, sorted(vec![a, c]));
    }

    async fn remove_with_a_value_filter_removes_only_that_member(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.add_members(&gid, &[&a, &b]).await;
        let r = srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])).await;
        r.expect(204);
        assert_eq!(srv.member_ids(&gid).await, vec![b.clone()]);
        // Removing a non-member is a no-op.
        srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])).await.expect(204);
        assert_eq!(srv.member_ids(&gid).await, vec![b]);
    }

    async fn remove_members_without_value_removes_all(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.add_members(&gid, &[&a, &b]).await;
        srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "remove", "path": "members"}])).await.expect(204);
        assert_eq!(srv.member_ids(&gid).await, Vec::<String>::new());
        // The users themselves are untouched.
        assert_eq!(srv.user(&a).await["active"], json!(true));
    }

    async fn adding_an_existing_member_is_a_no_op(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&gid, &[&a]).await;
        srv.add_members(&gid, &[&a, &a]).await;
        assert_eq!(srv.member_ids(&gid).await, vec![a]);
    }

    async fn unknown_member_ids_are_skipped_and_the_rest_applied(srv: TestServer) {
        let gid = srv.create_group("G", None).await;
        let a = srv.create_user("a@contoso.com").await;
        srv.add_members(&gid, &["f648f8d5ea4e4cd38e9c", &a]).await;
        assert_eq!(srv.member_ids(&gid).await, vec![a]);
    }

    async fn a_member_that_is_a_group_is_400_invalid_value_naming_it(srv: TestServer) {
        let gid = srv.create_group("Parent", None).await;
        let child = srv.create_group("Child", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let r = srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": child}]}])).await;
        r.expect_bad_request("invalidValue", &[&child]);
        assert_eq!(srv.member_ids(&gid).await, Vec::<String>::new(), "nothing half-applied");
        // Also on POST.
        let r = srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Nested", "members": [{"value": child}]})).await;
        r.expect_bad_request("invalidValue", &[&child]);
    }

    async fn a_group_is_renamed_by_patch(srv: TestServer) {
        let gid = srv.create_group("Old name", None).await;
        srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])).await.expect(204);
        let r = srv.get(&format!("/Groups/{gid}")).await;
        assert_eq!(r.body["displayName"], json!("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"));
        assert_eq!(srv.filter_groups("displayName eq \"Old name\"").await.total(), 0);
        // Flag form, no path.
        srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "replace", "value": {"displayName": "Newer"}}])).await.expect(204);
        assert_eq!(srv.get(&format!("/Groups/{gid}")).await.body["displayName"], json!("Newer"));
        // Asking for attributes gives the resource back.
        let r = srv.patch(&format!("/Groups/{gid}?attributes=displayName"), &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Newest"}]})).await;
        r.expect(200);
        assert_eq!(r.body["displayName"], json!("Newest"));
    }

    async fn a_duplicate_display_name_differing_in_case_is_409(srv: TestServer) {
        let gid = srv.create_group("Finance", None).await;
        let r = srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "FINANCE"})).await;
        r.expect_scim_error(409);
        assert_eq!(r.body["scimType"], json!("uniqueness"));
        let other = srv.create_group("Other", None).await;
        let r = srv.patch_ops(&format!("/Groups/{other}"), json!([{"op": "Replace", "path": "displayName", "value": "finance"}])).await;
        r.expect_scim_error(409);
        assert_eq!(srv.get(&format!("/Groups/{gid}")).await.body["displayName"], json!("Finance"));
    }

    async fn groups_are_filtered_by_member(srv: TestServer) {
        let g1 = srv.create_group("G1", None).await;
        let g2 = srv.create_group("G2", None).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.add_members(&g1, &[&a, &b]).await;
        srv.add_members(&g2, &[&b]).await;
        assert_eq!(srv.filter_groups(&format!("members[value eq \"{a}\"]")).await.ids(), vec![g1.clone()]);
        assert_eq!(sorted(srv.filter_groups(&format!("members.value eq \"{b}\"")).await.ids()), sorted(vec![g1.clone(), g2.clone()]));
        let r = srv.filter_groups(&format!("displayName eq \"G2\" and members.value eq \"{a}\"")).await;
        r.expect(200);
        assert_eq!(r.total(), 0);
        assert_eq!(srv.filter_groups("members pr").await.total(), 2);
    }

    async fn sixteen_concurrent_member_adds_lose_nothing(srv: TestServer) {
        let gid = srv.create_group("Busy", None).await;
        let mut users = vec![];
        for i in 0..16 {
            users.push(srv.create_bare_user(&format!("u{i}@contoso.com")).await);
        }
        let srv = std::sync::Arc::new(srv);
        let mut tasks = vec![];
        for u in users.clone() {
            let srv = std::sync::Arc::clone(&srv);
            let gid = gid.clone();
            tasks.push(tokio::spawn(async move {
                srv.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u}]}])).await.status.as_u16()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 204);
        }
        assert_eq!(srv.member_ids(&gid).await, sorted(users));
    }

    async fn put_replaces_a_groups_members(srv: TestServer) {
        let gid = srv.create_group("Put", Some("put-ext")).await;
        let a = srv.create_user("a@contoso.com").await;
        let b = srv.create_user("b@contoso.com").await;
        srv.add_members(&gid, &[&a]).await;
        let r = srv.put(&format!("/Groups/{gid}"), &json!({"schemas": [GROUP_SCHEMA], "displayName": "Put2", "members": [{"value": b}]})).await;
        r.expect(200);
        assert_eq!(r.body["displayName"], json!("Put2"));
        assert_eq!(srv.member_ids(&gid).await, vec![b]);
    }

    async fn groups_page_and_a_deleted_group_is_404(srv: TestServer) {
        for i in 0..3 {
            srv.create_group(&format!("P{i}"), None).await;
        }
        let r = srv.query("Groups", &[("startIndex", "2"), ("count", "1"), ("excludedAttributes", "members")]).await;
        assert_eq!(r.total(), 3);
        assert_eq!(r.ids().len(), 1);
        let gid = r.ids()[0].clone();
        srv.delete(&format!("/Groups/{gid}")).await.expect(204);
        srv.get(&format!("/Groups/{gid}")).await.expect_scim_error(404);
        srv.delete(&format!("/Groups/{gid}")).await.expect_scim_error(404);
        assert_eq!(srv.get("/Groups").await.total(), 2);
    }
}
