//! Tenant isolation, extended (issue 8): with service A's token, service B's users and groups
//! are indistinguishable from ids that never existed — same status, same body apart from the
//! id — for every method; filters and `.search` never return them; B's logins and group names
//! are free in A (no 409 that would reveal them); B's users cannot become members of A's
//! groups. Here A is the service `default` (`srv.token`) and B is created by the test.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// B's objects, created with B's token.
struct OtherService {
    token: String,
    user: String,
    user_name: &'static str,
    group: String,
    group_name: &'static str,
}

async fn service_b(srv: &TestServer) -> OtherService {
    let token = srv.other_service("b").await;
    let user_name = "bonly@fabrikam.com";
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE], "userName": user_name, "externalId": "b-ext-1",
        "displayName": "B Only", "emails": [{"type": "work", "primary": true, "value": user_name}],
        ENTERPRISE: {"department": "B-Dept"},
    });
    let r = srv.request_as(&token, Method::POST, "/Users", Some(&body)).await;
    r.expect(201);
    let user = id_of(&r.body);
    let group_name = "B Only Group";
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": group_name, "externalId": "b-gext-1",
                      "members": [{"value": user}]});
    let r = srv.request_as(&token, Method::POST, "/Groups", Some(&body)).await;
    r.expect(201);
    OtherService { token, user, user_name, group: id_of(&r.body), group_name }
}

/// A's answer for `path_of(id)` with B's id and with a random id: same status, same headers
/// that matter, same body once the id is blanked out.
async fn same_as_unknown(
    srv: &TestServer,
    method: Method,
    path_of: impl Fn(&str) -> String,
    b_id: &str,
    body: Option<&Value>,
) {
    let unknown = uuid::Uuid::new_v4().to_string();
    let for_b = srv.request(method.clone(), &path_of(b_id), body).await;
    let for_unknown = srv.request(method.clone(), &path_of(&unknown), body).await;
    for_b.expect_scim_error(404);
    assert_eq!(for_b.status, for_unknown.status, "{method} {}", path_of("ID"));
    assert_eq!(for_b.header("content-type"), for_unknown.header("content-type"));
    assert_eq!(
        for_b.text.replace(b_id, "ID"),
        for_unknown.text.replace(&unknown, "ID"),
        "{method} {}: another service's object answers differently from an unknown id",
        path_of("ID")
    );
}

backend_tests! {
    async fn another_services_ids_answer_exactly_like_unknown_ids(srv: TestServer) {
        let b = service_b(&srv).await;
        let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
        let put_user = json!({"schemas": [USER_SCHEMA], "userName": b.user_name});
        let group_patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members"}]});
        let put_group = json!({"schemas": [GROUP_SCHEMA], "displayName": b.group_name});
        for base in ["", ALIAS_BASE] {
            let url = |kind: &str, id: &str| {
                if base.is_empty() { format!("/{kind}/{id}") } else { format!("{}{base}/{kind}/{id}", srv.root_url) }
            };
            let user = |id: &str| url("Users", id);
            let group = |id: &str| url("Groups", id);
            same_as_unknown(&srv, Method::GET, user, &b.user, None).await;
            same_as_unknown(&srv, Method::GET, |id| format!("{}?attributes=userName", user(id)), &b.user, None).await;
            same_as_unknown(&srv, Method::PUT, user, &b.user, Some(&put_user)).await;
            same_as_unknown(&srv, Method::PATCH, user, &b.user, Some(&patch)).await;
            same_as_unknown(&srv, Method::DELETE, user, &b.user, None).await;
            same_as_unknown(&srv, Method::GET, group, &b.group, None).await;
            same_as_unknown(&srv, Method::GET, |id| format!("{}?excludedAttributes=members", group(id)), &b.group, None).await;
            same_as_unknown(&srv, Method::PUT, group, &b.group, Some(&put_group)).await;
            same_as_unknown(&srv, Method::PATCH, group, &b.group, Some(&group_patch)).await;
            same_as_unknown(&srv, Method::DELETE, group, &b.group, None).await;
        }
        // B's objects are untouched.
        let r = srv.request_as(&b.token, Method::GET, &format!("/Users/{}", b.user), None).await;
        r.expect(200);
        assert_eq!(r.body["active"], json!(true));
        let r = srv.request_as(&b.token, Method::GET, &format!("/Groups/{}", b.group), None).await;
        r.expect(200);
        assert_eq!(r.body["members"][0]["value"], json!(b.user));
    }

    async fn filters_and_searches_never_return_another_services_objects(srv: TestServer) {
        let b = service_b(&srv).await;
        let a_user = srv.create_user("aonly@contoso.com").await;
        let a_group = srv.create_group("A Only Group", None).await;
        srv.add_members(&a_group, &[&a_user]).await;
        let user_filters = [
            format!("userName eq \"{}\"", b.user_name),
            "userName sw \"bonly\"".to_owned(),
            "userName co \"fabrikam\"".to_owned(),
            "externalId eq \"b-ext-1\"".to_owned(),
            format!("id eq \"{}\"", b.user),
            format!("emails.value eq \"{}\"", b.user_name),
            format!("emails[type eq \"work\" and value eq \"{}\"]", b.user_name),
            "displayName eq \"B Only\"".to_owned(),
            format!("{ENTERPRISE}:department eq \"B-Dept\""),
            "meta.created gt \"2000-01-01T00:00:00Z\"".to_owned(),
            "userName pr".to_owned(),
            "not (userName eq \"nobody\")".to_owned(),
            format!("groups.value eq \"{}\"", b.group),
        ];
        for f in &user_filters {
            for r in [
                srv.filter_users(f).await,
                srv.post("/Users/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f})).await,
            ] {
                if r.status.as_u16() == 400 {
                    continue; // a filter the server does not support is refused alike in every service
                }
                r.expect(200);
                let ids = r.ids();
                assert!(!ids.contains(&b.user), "filter {f} returned B's user: {}", r.text);
                assert!(ids.iter().all(|id| *id == a_user), "filter {f}: {}", r.text);
            }
        }
        let group_filters = [
            format!("displayName eq \"{}\"", b.group_name),
            "displayName sw \"B\"".to_owned(),
            "externalId eq \"b-gext-1\"".to_owned(),
            format!("id eq \"{}\"", b.group),
            format!("members.value eq \"{}\"", b.user),
            format!("members[value eq \"{}\"]", b.user),
            "displayName pr".to_owned(),
        ];
        for f in &group_filters {
            for r in [
                srv.filter_groups(f).await,
                srv.post("/Groups/.search", &json!({"filter": f})).await,
            ] {
                if r.status.as_u16() == 400 {
                    continue;
                }
                r.expect(200);
                let ids = r.ids();
                assert!(!ids.contains(&b.group), "filter {f} returned B's group: {}", r.text);
                assert!(ids.iter().all(|id| *id == a_group), "filter {f}: {}", r.text);
            }
        }
        // Plain listings, every page size and sort.
        for q in ["/Users", "/Users?count=1000", "/Users?sortBy=userName&sortOrder=descending", "/Users?startIndex=2"] {
            let r = srv.get(q).await;
            r.expect(200);
            assert!(r.ids().iter().all(|id| *id == a_user), "{q}: {}", r.text);
            assert!(r.total() <= 1, "{q} counts another service's users: {}", r.text);
        }
        let r = srv.get("/Groups").await;
        assert_eq!(r.ids(), vec![a_group.clone()]);
        assert_eq!(r.total(), 1);
        // A user's `groups` (when the server returns it) never names another service's group.
        let u = srv.user(&a_user).await;
        let groups: Vec<&str> = u["groups"].as_array().into_iter().flatten().filter_map(|g| g["value"].as_str()).collect();
        assert!(groups.iter().all(|g| *g == a_group), "{u}");
    }

    async fn another_services_names_are_free_and_reveal_nothing(srv: TestServer) {
        let b = service_b(&srv).await;
        // The same login, external id and group name as B's: created, no 409.
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": b.user_name, "externalId": "b-ext-1",
                                           "emails": [{"type": "work", "value": b.user_name}]})).await;
        r.expect(201);
        assert_ne!(id_of(&r.body), b.user);
        // Case variants too (the uniqueness key is per service).
        let r = srv.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "BOnly@Fabrikam.com"})).await;
        r.expect_scim_error(409); // A's own user, created just above, is the conflict
        let r = srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": b.group_name, "externalId": "b-gext-1"})).await;
        r.expect(201);
        assert_ne!(id_of(&r.body), b.group);
        // Renaming a user of A to another name B holds is fine too.
        let other = srv.create_user("renamed@contoso.com").await;
        let r = srv.patch_ops(&format!("/Users/{other}"),
            json!([{"op": "Replace", "path": "userName", "value": "second@fabrikam.com"}])).await;
        assert!(r.status.is_success(), "{}", r.text);
        // B still has exactly its own objects.
        let r = srv.request_as(&b.token, Method::GET, "/Users", None).await;
        assert_eq!(r.ids(), vec![b.user.clone()]);
        let r = srv.request_as(&b.token, Method::GET, "/Groups", None).await;
        assert_eq!(r.ids(), vec![b.group.clone()]);
    }

    async fn another_services_users_never_become_members(srv: TestServer) {
        let b = service_b(&srv).await;
        let a_user = srv.create_user("member@contoso.com").await;
        let group = srv.create_group("A Group", None).await;
        // PATCH add (Entra's default mode), B's user alongside an A user: A's is added, B's is
        // skipped with a warning in A's provisioning log.
        srv.add_members(&group, &[&a_user, &b.user]).await;
        assert_eq!(srv.member_ids(&group).await, vec![a_user.clone()]);
        srv.wait_for_log("default", false, |e| {
            e["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w.as_str().is_some_and(|w| w.contains(&b.user))))
        })
        .await;
        // Replace (PATCH without path, and PUT) and POST with members.
        let r = srv.patch_ops(&format!("/Groups/{group}"),
            json!([{"op": "Replace", "path": "members", "value": [{"value": b.user}]}])).await;
        assert!(r.status.is_success(), "{}", r.text);
        assert!(srv.member_ids(&group).await.is_empty());
        let r = srv.patch_ops(&format!("/Groups/{group}"),
            json!([{"op": "Add", "value": {"members": [{"value": b.user}, {"value": a_user}]}}])).await;
        assert!(r.status.is_success(), "{}", r.text);
        assert_eq!(srv.member_ids(&group).await, vec![a_user.clone()]);
        let r = srv.put(&format!("/Groups/{group}"), &json!({"schemas": [GROUP_SCHEMA], "displayName": "A Group",
            "members": [{"value": b.user}]})).await;
        r.expect(200);
        assert_eq!(r.body["members"], json!([]));
        let r = srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "A Second",
            "members": [{"value": b.user}, {"value": a_user}]})).await;
        r.expect(201);
        let second = id_of(&r.body);
        assert_eq!(srv.member_ids(&second).await, vec![a_user.clone()]);
        // Removing B's user from A's group changes nothing in B.
        let r = srv.patch_ops(&format!("/Groups/{second}"),
            json!([{"op": "Remove", "path": format!("members[value eq \"{}\"]", b.user)}])).await;
        assert!(r.status.is_success(), "{}", r.text);
        // Never visible: not through A's filters, not in B's user, not in B's group.
        let r = srv.filter_groups(&format!("members.value eq \"{}\"", b.user)).await;
        r.expect(200);
        assert_eq!(r.total(), 0);
        let r = srv.request_as(&b.token, Method::GET, &format!("/Users/{}", b.user), None).await;
        let groups: Vec<&str> = r.body["groups"].as_array().into_iter().flatten().filter_map(|g| g["value"].as_str()).collect();
        assert!(groups.iter().all(|g| *g == b.group), "{}", r.text);
        let r2 = srv.request_as(&b.token, Method::GET, &format!("/Groups/{}", b.group), None).await;
        assert_eq!(r2.body["members"].as_array().map(Vec::len), Some(1), "{}", r2.text);
        assert_eq!(r2.body["members"][0]["value"], json!(b.user), "{}", r2.text);
        assert_eq!(r.body[MFA]["blocked"], json!(false), "{}", r.text);
        // And a group deletion in A blocks no user of B.
        srv.delete(&format!("/Groups/{second}")).await.expect(204);
        let r = srv.request_as(&b.token, Method::GET, &format!("/Users/{}", b.user), None).await;
        assert_eq!(r.body[MFA]["blocked"], json!(false), "{}", r.text);
    }
}
