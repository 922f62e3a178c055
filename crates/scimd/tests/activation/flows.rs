//! One user at a time: the email, the link, the page, redemption, refusals, resend.

use crate::harness::{ServeOptions, Server, Smtp, tally};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

async fn with_smtp() -> (Smtp, Server) {
    let smtp = Smtp::started().await;
    let srv = Server::start(ServeOptions { smtp_url: Some(smtp.url()), ..Default::default() }).await;
    (smtp, srv)
}

fn id(user: &Value) -> String {
    user["id"].as_str().expect("id").to_owned()
}

crate::both_backends! {
async fn entra_users_get_one_email_in_their_language_and_activate_once() {
    let (smtp, srv) = with_smtp().await;
    let en = srv.create_user(&srv.token, "jane@contoso.com", Some("jane.doe@contoso.com"), None).await;
    let fr = srv.create_user(&srv.token, "jean@contoso.com", Some("jean.dupont@contoso.com"), Some("fr-CA")).await;
    let none = srv.create_user(&srv.token, "nomail@contoso.com", None, Some("fr")).await;
    assert_eq!(en[crate::harness::MFA]["status"], "pendingActivation");
    assert_eq!(none[crate::harness::MFA]["status"], "notActivated");

    let mails = smtp.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mails = if smtp.messages().len() > mails.len() { smtp.messages() } else { mails };
    assert_eq!(mails.len(), 2, "exactly one email per user with an email");
    let (ids, rcpts) = tally(&mails);
    assert_eq!(ids.len(), 2);
    assert_eq!(rcpts.keys().collect::<Vec<_>>(), ["jane.doe@contoso.com", "jean.dupont@contoso.com"]);

    let find = |to: &str| mails.iter().find(|m| m.envelope_to == [to]).cloned().expect("message");
    let mail_en = find("jane.doe@contoso.com");
    let mail_fr = find("jean.dupont@contoso.com");
    assert_eq!(mail_en.to(), "jane.doe@contoso.com");
    assert_eq!(mail_en.header("Subject"), Some("Activate your default account"));
    assert!(mail_en.text.starts_with("Hello Given Family-jane@contoso.com,"), "{}", mail_en.text);
    assert!(mail_en.html.contains("<html lang=\"en\">"));
    assert_eq!(mail_fr.header("Subject"), Some("Activez votre compte default"));
    assert!(mail_fr.text.starts_with("Bonjour Given Family-jean@contoso.com,"), "{}", mail_fr.text);
    assert!(mail_fr.text.contains("valable jusqu'au"));
    assert!(mail_en.message_id().starts_with("<outbox-") && mail_en.message_id().ends_with('>'));

    // The link leads to a page with the code filled in and a button; opening it changes nothing.
    let link = mail_en.link();
    assert!(link.starts_with(&format!("{}/activate?code=", srv.root_url)), "{link}");
    let code = mail_en.code();
    assert_eq!(code.len(), 32, "128 bits, hex");
    let (status, page) = srv.get(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("value=\"{code}\"")), "{page}");
    assert!(page.contains("<button type=\"submit\">") && page.contains("method=\"post\""));
    assert!(!page.contains("<script"), "no scripts");
    assert_eq!(srv.status(&id(&en)).await, "pendingActivation");

    // Redeem with the form: activated; a second time: refused, nothing changes.
    let (status, page) = srv.activate_form(&code).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("jane@contoso.com") && page.contains("activated"));
    assert_eq!(srv.status(&id(&en)).await, "activated");
    let (status, page) = srv.activate_form(&code).await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("not valid"));
    assert_eq!(srv.status(&id(&en)).await, "activated");

    // The JSON variant, for the French user.
    let (status, answer) = srv.activate_json(&mail_fr.code()).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("activated")), "{answer}");
    assert_eq!(srv.status(&id(&fr)).await, "activated");
    let (status, answer) = srv.activate_json(&mail_fr.code()).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("unknown_code")), "{answer}");
    let (status, answer) = srv.activate_json("").await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_request")), "{answer}");

    // Sent messages no longer hold their code.
    let outbox = srv.outbox().await;
    assert!(outbox.iter().all(|(_, state, _, _)| state == "sent"), "{outbox:?}");
}

async fn a_blocked_user_cannot_activate_until_unblocked() {
    let (smtp, srv) = with_smtp().await;
    let user = srv.create_user(&srv.token, "bob@contoso.com", Some("bob@contoso.com"), None).await;
    let code = smtp.wait_for(1, WAIT).await[0].code();
    srv.set_active(&id(&user), false).await;
    let (status, page) = srv.activate_form(&code).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("blocked"));
    let (status, answer) = srv.activate_json(&code).await;
    assert_eq!((status, answer["error"].as_str()), (403, Some("blocked")));
    assert_eq!(srv.status(&id(&user)).await, "pendingActivation", "a refusal changes nothing");
    // The refusal did not use the code up.
    srv.set_active(&id(&user), true).await;
    assert_eq!(srv.activate_json(&code).await.0, 200);
    assert_eq!(srv.status(&id(&user)).await, "activated");
}

async fn a_service_without_activation_emails_sends_nothing() {
    let (smtp, srv) = with_smtp().await;
    let created = srv.cli(&["service", "create", "quiet", "--no-activation-email"]).await;
    assert!(created.success, "{}", created.stderr);
    let token = srv.cli(&["token", "create", "--service", "quiet"]).await;
    assert!(token.success, "{}", token.stderr);
    let token = token.stdout.trim().to_owned();
    let user = srv.create_user(&token, "carol@contoso.com", Some("carol@contoso.com"), Some("fr")).await;
    assert_eq!(user[crate::harness::MFA]["status"], "notActivated");

    // And switching the parameter off on an existing service works the same.
    let set = srv.cli(&["service", "set", "default", "send_activation_email=false"]).await;
    assert!(set.success, "{}", set.stderr);
    // A change made by another process reaches the server within its token cache's lifetime.
    tokio::time::sleep(scimd::tokens::AUTH_CACHE_TTL + Duration::from_millis(100)).await;
    let other = srv.create_user(&srv.token, "dave@contoso.com", Some("dave@contoso.com"), None).await;
    assert_eq!(other[crate::harness::MFA]["status"], "notActivated");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtp.messages().is_empty(), "no email expected");
    assert!(srv.outbox().await.is_empty(), "nothing queued");
}

async fn without_smtp_emails_are_written_as_eml_files() {
    let mut srv = Server::start(ServeOptions::default()).await;
    let user = srv.create_user(&srv.token, "erin@contoso.com", Some("erin@contoso.com"), Some("fr-FR")).await;
    let dir = srv.data_dir.join("outbox");
    let files = crate::harness::wait_until(WAIT, ".eml file in DATA_DIR/outbox", async || {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        (!files.is_empty()).then_some(files)
    })
    .await;
    assert_eq!(files.len(), 1);
    let mail = crate::harness::Mail::parse(&std::fs::read(&files[0]).expect("read .eml"));
    assert_eq!(mail.to(), "erin@contoso.com");
    assert_eq!(mail.header("Subject"), Some("Activez votre compte default"));
    assert_eq!(srv.activate_json(&mail.code()).await.0, 200);
    assert_eq!(srv.status(&id(&user)).await, "activated");
    assert!(srv.log().contains("written to"), "the file is logged");

    // A clean stop: exit status 0, the worker says it stopped.
    assert!(srv.terminate().await, "scimd exits cleanly on SIGTERM");
    assert!(srv.log().contains("outbox worker stopped"));
}

async fn resend_activation_replaces_the_code() {
    let (smtp, srv) = with_smtp().await;
    let user = srv.create_user(&srv.token, "Frank@Contoso.com", Some("frank@contoso.com"), None).await;
    let first = smtp.wait_for(1, WAIT).await[0].clone();
    // Logins compare case-insensitively.
    let out = srv.cli(&["user", "resend-activation", "--service", "default", "frank@contoso.com"]).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("previous code no longer works"), "{}", out.stdout);
    let mails = smtp.wait_for(2, WAIT).await;
    let second = mails[1].clone();
    assert_eq!(second.envelope_to, ["frank@contoso.com"]);
    assert_ne!(first.code(), second.code());
    assert_ne!(first.message_id(), second.message_id(), "a new message, not a retry");

    assert_eq!(srv.activate_json(&first.code()).await.0, 404, "the old code no longer works");
    assert_eq!(srv.status(&id(&user)).await, "pendingActivation");
    assert_eq!(srv.activate_json(&second.code()).await.0, 200);
    assert_eq!(srv.status(&id(&user)).await, "activated");

    // No email address: nothing to resend to.
    srv.create_user(&srv.token, "gina@contoso.com", None, None).await;
    let out = srv.cli(&["user", "resend-activation", "--service", "default", "gina@contoso.com"]).await;
    assert!(!out.success);
    assert!(out.stderr.contains("no email address"), "{}", out.stderr);
    let out = srv.cli(&["user", "resend-activation", "--service", "default", "nobody@contoso.com"]).await;
    assert!(!out.success && out.stderr.contains("no user with login"), "{}", out.stderr);
}

async fn redemption_attempts_are_rate_limited_per_client() {
    let srv = Server::start(ServeOptions::default()).await;
    let mut statuses = Vec::new();
    for i in 0..25 {
        let (status, _) = srv.activate_json(&format!("{i:032x}")).await;
        statuses.push(status);
    }
    assert!(statuses[..20].iter().all(|&s| s == 404), "burst of 20 allowed: {statuses:?}");
    assert!(statuses[20..].iter().all(|&s| s == 429), "then limited: {statuses:?}");
    let resp = srv.client.post(format!("{}/activate", srv.root_url)).form(&[("code", "x")]).send().await.expect("POST");
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some(), "Retry-After is set");
}
}
