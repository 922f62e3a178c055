//! The console over plain HTTP (forms, cookies, headers); the browser suite drives it in
//! Chromium.

use crate::common::*;
use crate::support::{Console, admin_token, api, hidden, new_admin};
use serde_json::json;

backend_tests! {
    async fn pages_need_a_session_and_carry_security_headers(srv: TestServer) {
        let mut c = Console::new(&srv);
        let r = c.get("/console/services/1/users").await;
        assert_eq!((r.status.as_u16(), r.header("location")), (303, Some("/console/login")));
        let r = c.post("/console/services/1/users/x/block", &[("csrf", "x")]).await;
        assert_eq!(r.status.as_u16(), 401);
        let login = c.get("/console/login").await;
        login.expect(200);
        let csp = login.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(login.header("x-frame-options"), Some("DENY"));
        assert_eq!(login.header("x-content-type-options"), Some("nosniff"));
        assert!(!login.text.contains("<script") && !login.text.contains("style="), "no inline script or style");
        let css = c.get("/console/static/console.css").await;
        css.expect(200);
        assert!(css.header("content-type").unwrap().starts_with("text/css"));

        let pw = new_admin(&srv, "ops").await;
        assert_eq!(c.try_sign_in("ops", "wrong password").await.status.as_u16(), 401);
        assert_eq!(c.try_sign_in("nobody", "wrong password").await.status.as_u16(), 401);
        c.sign_in("ops", &pw).await;
        let cookie = c.cookies.get("scimd_session").unwrap().clone();
        assert_eq!(cookie.len(), 64);
        let home = c.get("/console").await;
        home.expect(200);
        assert!(home.text.contains("default"));

        // Sign-out ends the session in the database: the old cookie no longer works.
        let csrf = hidden(&home.text, "csrf");
        assert_eq!(c.post("/console/logout", &[("csrf", &csrf)]).await.status.as_u16(), 303);
        let mut replay = Console::new(&srv);
        replay.cookies.insert("scimd_session".into(), cookie);
        assert_eq!(replay.get("/console").await.status.as_u16(), 303);
    }

    async fn forms_need_the_session_csrf_token(srv: TestServer) {
        let id = srv.create_user("jane@contoso.com").await;
        let pw = new_admin(&srv, "ops").await;
        let mut c = Console::new(&srv);
        c.sign_in("ops", &pw).await;
        let page = c.get(&format!("/console/services/1/users/{id}")).await;
        page.expect(200);
        assert!(page.text.contains("Managed by Entra ID — changes here are overwritten"));
        let csrf = hidden(&page.text, "csrf");
        let forged = c.post(&format!("/console/services/1/users/{id}/block"), &[("csrf", "0000")]).await;
        assert_eq!(forged.status.as_u16(), 403);
        assert_eq!(srv.mfa(&id).await["blocked"], json!(false));
        let ok = c.post(&format!("/console/services/1/users/{id}/block"), &[("csrf", &csrf)]).await;
        assert_eq!(ok.status.as_u16(), 303);
        assert_eq!(srv.mfa(&id).await["blockReasons"], json!(["admin"]));
        // The sign-in form refuses a missing double-submit token.
        let r = Console::new(&srv).post("/console/login", &[("name", "ops"), ("password", &pw), ("csrf", "x")]).await;
        assert_eq!(r.status.as_u16(), 403);
    }

    async fn sign_in_attempts_are_rate_limited(srv: TestServer) {
        let pw = new_admin(&srv, "ops").await;
        let mut c = Console::new(&srv);
        let mut statuses = Vec::new();
        for _ in 0..8 {
            statuses.push(c.try_sign_in("ops", "wrong password").await.status.as_u16());
        }
        assert!(statuses.contains(&429), "{statuses:?}");
        let r = c.try_sign_in("ops", &pw).await;
        assert_eq!(r.status.as_u16(), 429, "the account stays limited for a while");
        assert!(r.header("retry-after").is_some());
    }

    async fn users_created_in_the_console_are_console_owned(srv: TestServer) {
        let pw = new_admin(&srv, "ops").await;
        let mut c = Console::new(&srv);
        c.sign_in("ops", &pw).await;
        let form = c.get("/console/services/1/users/new").await;
        let csrf = hidden(&form.text, "csrf");
        let r = c
            .post("/console/services/1/users", &[("csrf", &csrf), ("user_name", "kim@contoso.com"), ("email", "kim@contoso.com"), ("given_name", "Kim")])
            .await;
        assert_eq!(r.status.as_u16(), 303, "{}", r.text);
        let found = srv.filter_users("userName eq \"kim@contoso.com\"").await;
        let id = found.ids()[0].clone();
        assert_eq!(found.resources()[0][MFA]["provisioningSource"], json!("console"));
        srv.delete(&format!("/Users/{id}")).await.expect_scim_error(409).expect_detail(&["\"console\""]);
        // Editable in the console, unlike SCIM-managed users.
        let page = c.get(&format!("/console/services/1/users/{id}")).await;
        assert!(!page.text.contains("Managed by Entra ID"));
        let r = c
            .post(&format!("/console/services/1/users/{id}/edit"), &[("csrf", &csrf), ("user_name", "kim@contoso.com"), ("family_name", "Lee")])
            .await;
        assert_eq!(r.status.as_u16(), 303, "{}", r.text);
        let t = admin_token(&srv).await;
        let u = api(&srv, &t, reqwest::Method::GET, &format!("/users/{id}"), None).await;
        assert_eq!(u.body["family_name"], json!("Lee"));
        // A refused creation shows the reason on the form.
        let dup = c.post("/console/services/1/users", &[("csrf", &csrf), ("user_name", "KIM@contoso.com")]).await;
        assert_eq!(dup.status.as_u16(), 400);
        assert!(dup.text.contains("already taken"), "{}", dup.text);
    }

    async fn every_page_renders(srv: TestServer) {
        let a = srv.create_user("a@x.com").await;
        let g = srv.create_group("Doomed", Some("ext-doomed")).await;
        srv.add_members(&g, &[&a]).await;
        srv.create_group("Kept", None).await;
        srv.delete(&format!("/Groups/{g}")).await.expect(204);
        let pw = new_admin(&srv, "ops").await;
        let mut c = Console::new(&srv);
        c.sign_in("ops", &pw).await;
        for (path, expect) in [
            ("/console", "default"),
            ("/console/services/1", "Users per status"),
            ("/console/services/1/users?q=a%40x&status=pendingActivation&blocked=yes", "a@x.com"),
            (&format!("/console/services/1/users/{a}") as &str, "groupDeleted:"),
            ("/console/services/1/groups", "Kept"),
            ("/console/services/1/deleted-groups", "Doomed"),
            ("/console/services/1/settings", "/scim/v2"),
            ("/console/services/1/tokens", "scimd_"),
            ("/console/services/1/log?outcome=succeeded&resource_type=Group", "Group/"),
            ("/console/services/1/log?user=a%40x.com", "a@x.com"),
        ] {
            let r = c.get(path).await;
            assert_eq!(r.status.as_u16(), 200, "{path}: {}", r.text);
            assert!(r.text.contains(expect), "{path} lacks {expect:?}: {}", r.text);
        }
        assert_eq!(c.get("/console/services/99").await.status.as_u16(), 404);
        assert_eq!(c.get("/console/services/1/users/nope").await.status.as_u16(), 404);
        assert_eq!(c.get("/console/nope").await.status.as_u16(), 404);
    }
}
