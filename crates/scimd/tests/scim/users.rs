//! `/Users`: Entra's create sequence, filters, paging, sorting, projection, PATCH in both
//! dialects, PUT and DELETE (issue 2, entra-wire §2.3–§2.8, §2.11–§2.12).

use crate::common::*;
use serde_json::{Value, json};

/// Five users with distinct names, emails and family names, for filter and paging tests.
async fn five_users(srv: &TestServer) -> Vec<String> {
    let mut ids = vec![];
    for (login, family, mail) in [
        ("alice@contoso.com", "Employee", "alice@example.com"),
        ("bob@contoso.com", "Employee", "bob@example.org"),
        ("carol@fabrikam.com", "Employee", "carol@example.net"),
        ("dave@contoso.com", "Manager", "dave@example.com"),
        ("Oscar@contoso.com", "Employee", "oscar@example.org"),
    ] {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": login,
            "externalId": format!("ext-{}", login.split('@').next().unwrap()),
            "name": {"givenName": "G", "familyName": family},
            "emails": [{"type": "work", "value": mail, "primary": true}, {"type": "home", "value": format!("home-{mail}")}],
        });
        ids.push(id_of(&srv.create_user_with(body).await));
    }
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

backend_tests! {
    async fn entras_create_sequence_misses_then_creates_with_id_meta_and_location(srv: TestServer) {
        let r = srv.filter_users("userName eq \"4c1d1a2e-5d7b-4e8f-9a0b-123456789abc\"").await;
        r.expect(200);
        assert_eq!(r.total(), 0);
        assert_eq!(r.body["Resources"], json!([]), "an empty ListResponse carries Resources: []");
        assert_eq!(r.body["startIndex"], json!(1));
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@contoso.com",
            "active": "True",
            "emails": [{"primary": true, "type": "work", "value": "Test_User_ab6490ee@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
        });
        let r = srv.post("/Users", &body).await;
        r.expect(201);
        assert!(r.header("content-type").unwrap().starts_with("application/scim+json"));
        let id = id_of(&r.body);
        assert_eq!(r.body["userName"], json!("Test_User_ab6490ee@contoso.com"));
        assert_eq!(r.body["externalId"], json!("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"));
        assert_eq!(r.body["active"], json!(true), "\"True\" is returned as a JSON boolean");
        assert_eq!(r.body["meta"]["resourceType"], json!("User"));
        assert!(r.body["meta"]["created"].is_string() && r.body["meta"]["lastModified"].is_string());
        let location = r.header("location").expect("Location header");
        assert!(location.ends_with(&format!("/Users/{id}")), "{location}");
        assert_eq!(r.body["meta"]["location"], json!(location));
        // The location answers.
        srv.get(location).await.expect(200);
        let r = srv.filter_users("userName eq \"Test_User_ab6490ee@contoso.com\"").await;
        assert_eq!(r.ids(), vec![id]);
    }

    async fn a_duplicate_login_differing_only_in_case_is_409_uniqueness(srv: TestServer) {
        srv.create_user("Alice@Contoso.com").await;
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "alice@contoso.COM"})).await;
        r.expect_scim_error(409);
        assert_eq!(r.body["scimType"], json!("uniqueness"));
        assert!(r.body["detail"].as_str().unwrap().to_lowercase().contains("alice@contoso.com"), "{}", r.text);
        // The filter finds what the uniqueness check collides with.
        assert_eq!(srv.filter_users("userName eq \"ALICE@contoso.com\"").await.total(), 1);
    }

    async fn a_post_without_user_name_is_400(srv: TestServer) {
        srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "externalId": "x"})).await.expect_scim_error(400);
    }

    async fn filter_user_name_eq_is_case_insensitive_and_external_id_is_exact(srv: TestServer) {
        let ids = five_users(&srv).await;
        assert_eq!(srv.filter_users("userName eq \"ALICE@CONTOSO.COM\"").await.ids(), vec![ids[0].clone()]);
        assert_eq!(srv.filter_users("UserName EQ \"alice@contoso.com\"").await.ids(), vec![ids[0].clone()]);
        assert_eq!(srv.filter_users("externalId eq \"ext-bob\"").await.ids(), vec![ids[1].clone()]);
        assert_eq!(srv.filter_users("externalId eq \"EXT-BOB\"").await.total(), 0, "externalId is caseExact");
    }

    async fn filter_on_work_email_value_path_and_on_id(srv: TestServer) {
        let ids = five_users(&srv).await;
        assert_eq!(srv.filter_users("emails[type eq \"work\"].value eq \"bob@example.org\"").await.ids(), vec![ids[1].clone()]);
        assert_eq!(srv.filter_users("emails[type eq \"home\"].value eq \"bob@example.org\"").await.total(), 0);
        assert_eq!(srv.filter_users(&format!("id eq \"{}\"", ids[2])).await.ids(), vec![ids[2].clone()]);
        assert_eq!(srv.filter_users("emails.value eq \"home-dave@example.com\"").await.ids(), vec![ids[3].clone()]);
    }

    async fn filter_accepts_unquoted_values_and_plus_encoding(srv: TestServer) {
        let ids = five_users(&srv).await;
        // Unquoted GUID-like value, as in Microsoft's older examples.
        assert_eq!(srv.filter_users("externalId eq ext-carol").await.ids(), vec![ids[2].clone()]);
        assert_eq!(srv.filter_users(&format!("id eq {} and userName eq \"carol@fabrikam.com\"", ids[2])).await.ids(), vec![ids[2].clone()]);
        // Literal form encoding as Entra sends it.
        let r = srv.get("/Users?filter=externalId+eq+%22ext-dave%22").await;
        assert_eq!(r.ids(), vec![ids[3].clone()]);
        let r = srv.get("/Users?filter=userName%20eq%20%22dave%40contoso.com%22").await;
        assert_eq!(r.ids(), vec![ids[3].clone()]);
    }

    async fn filter_supports_and_or_not_and_parentheses(srv: TestServer) {
        let ids = five_users(&srv).await;
        // Microsoft's Postman collection.
        let r = srv.filter_users("name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)").await;
        assert_eq!(sorted(r.ids()), sorted(vec![ids[0].clone(), ids[1].clone(), ids[4].clone()]));
        let r = srv.filter_users("not (name.familyName eq \"Employee\")").await;
        assert_eq!(r.ids(), vec![ids[3].clone()]);
        let r = srv.filter_users("userName eq \"alice@contoso.com\" or userName eq \"bob@contoso.com\"").await;
        assert_eq!(sorted(r.ids()), sorted(vec![ids[0].clone(), ids[1].clone()]));
        let r = srv.filter_users("userName ew \"@contoso.com\" and not (userName sw \"b\" or userName sw \"d\")").await;
        assert_eq!(sorted(r.ids()), sorted(vec![ids[0].clone(), ids[4].clone()]));
    }

    async fn filter_supports_co_sw_ew_gt_and_pr(srv: TestServer) {
        let ids = five_users(&srv).await;
        assert_eq!(srv.filter_users("userName sw \"O\"").await.ids(), vec![ids[4].clone()]);
        assert_eq!(srv.filter_users("userName co \"fabrikam\"").await.ids(), vec![ids[2].clone()]);
        assert_eq!(srv.filter_users("userName ew \"fabrikam.com\"").await.ids(), vec![ids[2].clone()]);
        assert_eq!(srv.filter_users("userName gt \"d\"").await.total(), 2, "dave and Oscar sort after \"d\"");
        assert_eq!(srv.filter_users("externalId pr").await.total(), 5);
        assert_eq!(srv.filter_users("title pr").await.total(), 0);
        assert_eq!(srv.filter_users("userName ne \"alice@contoso.com\"").await.total(), 4);
    }

    async fn filter_meta_created_gt_a_date_with_an_offset(srv: TestServer) {
        five_users(&srv).await;
        let r = srv.filter_users("meta.Created gt 2015-10-10T14:38:21.8617979-07:00").await;
        r.expect(200);
        assert_eq!(r.total(), 5);
        let r = srv.filter_users("meta.created gt \"2999-01-01T00:00:00+02:00\"").await;
        r.expect(200);
        assert_eq!(r.total(), 0);
        let r = srv.filter_users("meta.lastModified lt \"2999-01-01T00:00:00Z\"").await;
        assert_eq!(r.total(), 5);
    }

    async fn a_filter_matching_nothing_is_200_with_empty_resources(srv: TestServer) {
        five_users(&srv).await;
        for f in ["userName eq \"nobody\"", "emails[type eq \"work\"].value eq \"nobody@x\"", "title eq \"CEO\"", "id eq \"does-not-exist\""] {
            let r = srv.filter_users(f).await;
            r.expect(200);
            assert_eq!(r.total(), 0, "{f}");
            assert_eq!(r.body["Resources"], json!([]), "{f}");
        }
        let r = srv.filter_groups("displayName eq \"nothing\"").await;
        r.expect(200);
        assert_eq!(r.body["Resources"], json!([]));
    }

    async fn an_invalid_filter_is_400_invalid_filter(srv: TestServer) {
        let r = srv.filter_users("userName eq").await;
        r.expect_scim_error(400);
        assert_eq!(r.body["scimType"], json!("invalidFilter"));
        let r = srv.filter_users("userName zz \"a\"").await;
        assert_eq!(r.body["scimType"], json!("invalidFilter"), "{}", r.text);
    }

    async fn pagination_is_one_based_and_count_zero_gives_only_the_total(srv: TestServer) {
        five_users(&srv).await;
        let r = srv.query("Users", &[("startIndex", "1"), ("count", "2")]).await;
        r.expect(200);
        assert_eq!(r.total(), 5);
        assert_eq!(r.body["itemsPerPage"], json!(2));
        assert_eq!(r.body["startIndex"], json!(1));
        let first = r.ids();
        let r = srv.query("Users", &[("startIndex", "3"), ("count", "2")]).await;
        assert_eq!(r.body["startIndex"], json!(3));
        let second = r.ids();
        let r = srv.query("Users", &[("startIndex", "5"), ("count", "2")]).await;
        let third = r.ids();
        assert_eq!(third.len(), 1);
        let mut all: Vec<String> = first.into_iter().chain(second).chain(third).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5, "pages overlap or miss users");
        let r = srv.query("Users", &[("count", "0")]).await;
        assert_eq!(r.total(), 5);
        assert!(r.body["Resources"].as_array().is_none_or(|a| a.is_empty()), "{}", r.text);
        let r = srv.query("Users", &[("startIndex", "0"), ("count", "1")]).await;
        r.expect(200);
        assert_eq!(r.body["startIndex"], json!(1), "startIndex < 1 is read as 1");
        let r = srv.query("Users", &[("startIndex", "99")]).await;
        assert_eq!(r.total(), 5);
        assert_eq!(r.body["Resources"], json!([]));
    }

    async fn sort_by_user_name_ascending_and_descending(srv: TestServer) {
        five_users(&srv).await;
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        let r = srv.query("Users", &[("sortBy", "userName")]).await;
        let asc = lower(r.user_names());
        let mut expected = asc.clone();
        expected.sort();
        assert_eq!(asc, expected);
        assert_eq!(asc[0], "alice@contoso.com");
        let r = srv.query("Users", &[("sortBy", "userName"), ("sortOrder", "descending")]).await;
        let desc = lower(r.user_names());
        assert_eq!(desc, expected.iter().rev().cloned().collect::<Vec<_>>());
        let r = srv.query("Users", &[("sortBy", "name.familyName"), ("sortOrder", "descending"), ("count", "1")]).await;
        r.expect(200);
        assert_eq!(r.user_names(), vec!["dave@contoso.com"]);
    }

    async fn attributes_and_excluded_attributes_shape_the_answer(srv: TestServer) {
        let id = srv.create_user("proj@contoso.com").await;
        let r = srv.query("Users", &[("attributes", "userName")]).await;
        r.expect(200);
        let u = &r.resources()[0];
        assert_eq!(u["id"], json!(id));
        assert_eq!(u["userName"], json!("proj@contoso.com"));
        assert!(u.get("emails").is_none() && u.get("name").is_none(), "{u}");
        let r = srv.query("Users", &[("attributes", "emails[type eq \"work\"]")]).await;
        r.expect(200);
        assert!(r.text.contains("proj@contoso.com"));
        let r = srv.query("Users", &[("attributes", "userName,emails")]).await;
        assert!(r.resources()[0]["emails"].is_array());
        let r = srv.get(&format!("/Users/{id}?excludedAttributes=emails,name")).await;
        r.expect(200);
        assert!(r.body.get("emails").is_none() && r.body.get("name").is_none());
        assert_eq!(r.body["userName"], json!("proj@contoso.com"));
        let r = srv.get(&format!("/Users/{id}?attributes=id")).await;
        assert_eq!(r.body["id"], json!(id));
        assert!(r.body.get("userName").is_none() || r.body["userName"] == json!("proj@contoso.com"));
    }

    async fn post_search_filters_like_get(srv: TestServer) {
        let ids = five_users(&srv).await;
        let r = srv.post("/Users/.search", &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"a\"",
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10,
        })).await;
        r.expect(200);
        assert_eq!(r.ids(), vec![ids[0].clone()]);
        assert!(r.resources()[0].get("emails").is_none());
    }

    async fn patch_in_default_dialect_replaces_with_capitalised_ops_and_string_booleans(srv: TestServer) {
        let id = srv.create_user("def@contoso.com").await;
        let r = srv.patch(&format!("/Users/{id}"), &patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "Replace", "path": "active", "value": "False"},
        ]))).await;
        r.expect(200);
        let u = &r.body;
        assert_eq!(u["active"], json!(false));
        assert_eq!(u["name"]["familyName"], json!("updatedFamilyName"));
        assert_eq!(u["name"]["givenName"], json!("Given"));
        assert_eq!(u["nickName"], json!("Babs"));
        assert_eq!(u[ENTERPRISE]["department"], json!("Sales"));
        let work: Vec<&Value> = u["emails"].as_array().unwrap().iter().filter(|e| e["type"] == json!("work")).collect();
        assert_eq!(work.len(), 1, "{}", u["emails"]);
        assert_eq!(work[0]["value"], json!("updatedEmail@microsoft.com"));
        // Persisted, not just echoed.
        assert_eq!(srv.user(&id).await["nickName"], json!("Babs"));
    }

    async fn patch_in_flag_dialect_applies_no_path_ops_with_dotted_and_urn_keys(srv: TestServer) {
        let id = srv.create_user("flag@contoso.com").await;
        let r = srv.patch(&format!("/Users/{id}?aadOptscim062020"), &patch(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            }},
            {"op": "add", "value": {"name.formatted": "Kkom Unua"}},
        ]))).await;
        r.expect(200);
        let u = &r.body;
        assert_eq!(u["displayName"], json!("Bjfe"));
        assert_eq!(u["name"]["givenName"], json!("Kkom"));
        assert_eq!(u["name"]["familyName"], json!("Unua"));
        assert_eq!(u["name"]["formatted"], json!("Kkom Unua"));
        assert_eq!(u[ENTERPRISE]["employeeNumber"], json!("Aklq"));
        assert!(u.get("name.givenName").is_none(), "dotted keys are paths, not literal attributes");
        assert!(u["emails"].as_array().unwrap().iter().any(|e| e["value"] == json!("TestMhvaes@test.microsoft.com")));
        assert!(u["schemas"].as_array().unwrap().contains(&json!(ENTERPRISE)));
    }

    async fn patch_upserts_a_work_email_and_phone_that_do_not_exist_yet(srv: TestServer) {
        let id = srv.create_bare_user("noemail@contoso.com").await;
        let r = srv.patch(&format!("/Users/{id}"), &patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+33 6 12 34 56 78"},
        ]))).await;
        r.expect(200);
        assert_eq!(r.body["emails"], json!([{"type": "work", "value": "new@contoso.com"}]));
        assert_eq!(r.body["phoneNumbers"], json!([{"type": "mobile", "value": "+33 6 12 34 56 78"}]));
        // Adding again replaces instead of appending a second work email.
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "again@contoso.com"}])).await;
        assert_eq!(r.body["emails"], json!([{"type": "work", "value": "again@contoso.com"}]));
        // Filterable at once.
        assert_eq!(srv.filter_users("emails[type eq \"work\"].value eq \"again@contoso.com\"").await.ids(), vec![id]);
    }

    async fn patch_sets_the_manager_from_a_bare_string_and_clears_it_with_an_empty_string(srv: TestServer) {
        let boss = srv.create_user("boss@contoso.com").await;
        let id = srv.create_user("worker@contoso.com").await;
        let path = format!("{ENTERPRISE}:manager");
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Add", "path": path, "value": boss}])).await;
        r.expect(200);
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], json!(boss));
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": path, "value": ""}])).await;
        r.expect(200);
        assert!(r.body[ENTERPRISE]["manager"].is_null(), "{}", r.text);
        // Old docs' array form.
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Add", "path": "manager", "value": [{"$ref": null, "value": boss}]}])).await;
        r.expect(200);
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], json!(boss));
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "remove", "path": format!("manager[value eq \"{boss}\"]")}])).await;
        r.expect(200);
        assert!(r.body[ENTERPRISE]["manager"].is_null(), "{}", r.text);
    }

    async fn patch_with_empty_string_or_null_clears_an_attribute(srv: TestServer) {
        let id = srv.create_user("clear@contoso.com").await;
        srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Add", "path": "title", "value": "Boss"},
            {"op": "Add", "path": "nickName", "value": "Nick"},
        ])).await.expect(200);
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "title", "value": ""},
            {"op": "replace", "path": "nickName", "value": null},
            {"op": "Remove", "path": "name.givenName"},
        ])).await;
        r.expect(200);
        assert!(r.body["title"].is_null(), "{}", r.text);
        assert!(r.body["nickName"].is_null(), "{}", r.text);
        assert!(r.body["name"]["givenName"].is_null(), "{}", r.text);
        assert_eq!(r.body["name"]["familyName"], json!("Family"));
    }

    async fn a_patch_is_all_or_nothing(srv: TestServer) {
        let id = srv.create_user("atomic@contoso.com").await;
        let before = srv.user(&id).await;
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": "userName", "value": "o'brien@contoso.com"},
        ])).await;
        r.expect_bad_request("invalidValue", &["'", "position 2"]);
        let after = srv.user(&id).await;
        assert_eq!(after["displayName"], before["displayName"]);
        assert_eq!(after["active"], json!(true));
        assert_eq!(after[MFA]["blockReasons"], json!([]));
        assert_eq!(after["meta"]["version"], before["meta"]["version"]);
        // An unparseable boolean, then a bad op name.
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "Replace", "path": "active", "value": "maybe"},
        ])).await;
        r.expect_bad_request("invalidValue", &["active"]);
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "frobnicate", "path": "title", "value": "x"},
        ])).await;
        r.expect_scim_error(400);
        assert_eq!(srv.user(&id).await["displayName"], before["displayName"]);
    }

    async fn patch_of_an_unknown_user_is_404(srv: TestServer) {
        srv.patch_ops("/Users/does-not-exist", json!([{"op": "Replace", "path": "active", "value": "False"}]))
            .await
            .expect_scim_error(404);
    }

    async fn a_login_change_to_an_existing_login_is_409(srv: TestServer) {
        srv.create_user("taken@contoso.com").await;
        let id = srv.create_user("mover@contoso.com").await;
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "userName", "value": "TAKEN@contoso.com"}])).await;
        r.expect_scim_error(409);
        assert_eq!(r.body["scimType"], json!("uniqueness"));
        assert_eq!(srv.user(&id).await["userName"], json!("mover@contoso.com"));
    }

    async fn put_replaces_the_whole_user(srv: TestServer) {
        let id = srv.create_user("put@contoso.com").await;
        srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Add", "path": "title", "value": "Boss"}])).await.expect(200);
        let r = srv.put(&format!("/Users/{id}"), &json!({
            "schemas": [USER_SCHEMA],
            "userName": "put2@contoso.com",
            "active": "False",
            "displayName": "Replaced",
        })).await;
        r.expect(200);
        assert_eq!(r.body["userName"], json!("put2@contoso.com"));
        assert_eq!(r.body["displayName"], json!("Replaced"));
        assert_eq!(r.body["active"], json!(false));
        assert!(r.body.get("title").is_none(), "PUT drops what it does not carry: {}", r.text);
        assert!(r.body.get("emails").is_none(), "{}", r.text);
        assert_eq!(r.body["id"], json!(id));
        let r = srv.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "displayName": "No login"})).await;
        r.expect_scim_error(400);
        assert_eq!(srv.user(&id).await["userName"], json!("put2@contoso.com"));
        srv.put("/Users/nope", &json!({"schemas": [USER_SCHEMA], "userName": "x"})).await.expect_scim_error(404);
    }

    async fn delete_is_204_then_the_user_is_gone_and_a_second_delete_is_404(srv: TestServer) {
        let id = srv.create_user("gone@contoso.com").await;
        let r = srv.delete(&format!("/Users/{id}")).await;
        r.expect(204);
        assert!(r.text.is_empty());
        srv.get(&format!("/Users/{id}")).await.expect_scim_error(404);
        let r = srv.filter_users("userName eq \"gone@contoso.com\"").await;
        r.expect(200);
        assert_eq!(r.total(), 0);
        srv.delete(&format!("/Users/{id}")).await.expect_scim_error(404);
        // The login is free again.
        srv.create_user("gone@contoso.com").await;
    }

    async fn user_answers_carry_an_etag_and_meta_version(srv: TestServer) {
        let id = srv.create_user("etag@contoso.com").await;
        let r = srv.get(&format!("/Users/{id}")).await;
        let etag = r.header("etag").expect("ETag").to_owned();
        assert_eq!(r.body["meta"]["version"], json!(etag));
        let r = srv.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "displayName", "value": "v2"}])).await;
        assert_ne!(r.header("etag").unwrap(), etag, "a change bumps the version");
    }

    async fn post_tolerates_entras_nulls_malformed_urns_and_custom_extensions_when_ignoring(srv: TestServer) {
        srv.set_param("unknown_attributes=ignore").await;
        let r = srv.post("/Users", &json!({
            "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "userName": "nulls@contoso.com",
            "addresses": null,
            "phoneNumbers": null,
            "title": null,
            "manager": null,
            "urn:ietf:params:scim:schemas:extension:Custom:2.0:User": {"badge": "42"},
        })).await;
        r.expect(201);
        assert!(r.body.get("title").is_none());
    }
}
