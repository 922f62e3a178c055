//! SMTP outages, restarts and several processes: nothing lost, nothing sent twice.

use crate::harness::{ServeOptions, Server, Smtp, tally, wait_until};
use std::collections::BTreeSet;
use std::time::Duration;

/// An outage must not dead-letter anything in these tests.
fn patient() -> Vec<(String, String)> {
    vec![("SCIMD_OUTBOX_MAX_ATTEMPTS".into(), "1000".into())]
}

crate::both_backends! {
async fn an_smtp_outage_loses_nothing_and_sends_nothing_twice() {
    let mut smtp = Smtp::reserve();
    let srv = Server::start(ServeOptions { smtp_url: Some(smtp.url()), env: patient() }).await;
    let mut expected = BTreeSet::new();
    for i in 0..100 {
        let email = format!("user{i:03}@contoso.com");
        srv.create_user(&srv.token, &format!("login{i:03}@contoso.com"), Some(&email), None).await;
        expected.insert(email);
    }
    // The worker has been failing: everything is still pending, some attempts are recorded.
    let outbox = wait_until(Duration::from_secs(20), "failed attempts recorded", async || {
        let o = srv.outbox().await;
        o.iter().any(|(_, _, attempts, _)| *attempts > 0).then_some(o)
    })
    .await;
    assert_eq!(outbox.len(), 100);
    assert!(outbox.iter().all(|(_, state, _, _)| state == "pending"), "{outbox:?}");

    smtp.start().await;
    let mails = smtp.wait_for(100, Duration::from_secs(60)).await;
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = if smtp.messages().len() > mails.len() { smtp.messages() } else { mails };
    let (ids, rcpts) = tally(&mails);
    assert_eq!(mails.len(), 100, "one message per user, none twice");
    assert_eq!(ids.len(), 100, "distinct Message-IDs");
    assert_eq!(rcpts.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(rcpts.values().all(|&n| n == 1));
    let outbox = srv.outbox().await;
    assert!(outbox.iter().all(|(_, state, _, _)| state == "sent"), "{outbox:?}");
}

async fn pending_emails_survive_a_crash_and_restart() {
    let mut smtp = Smtp::reserve();
    let mut srv = Server::start(ServeOptions { smtp_url: Some(smtp.url()), env: patient() }).await;
    for i in 0..5 {
        srv.create_user(&srv.token, &format!("r{i}@contoso.com"), Some(&format!("r{i}@contoso.com")), None).await;
    }
    wait_until(Duration::from_secs(20), "a failed attempt", async || {
        srv.outbox().await.iter().any(|(_, _, attempts, _)| *attempts > 0).then_some(())
    })
    .await;
    srv.kill().await;
    smtp.start().await;
    // Nothing is sent while no scimd runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.messages().is_empty());
    srv.restart().await;
    // A message claimed at the moment of the crash waits for its lease (5 s in tests).
    let mails = smtp.wait_for(5, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ids, rcpts) = tally(&smtp.messages());
    assert_eq!((ids.len(), rcpts.len()), (5, 5), "{mails:?}");
    assert!(rcpts.values().all(|&n| n == 1));
}

async fn two_processes_on_one_database_send_each_email_once() {
    let smtp = Smtp::started().await;
    let a = Server::start(ServeOptions { smtp_url: Some(smtp.url()), env: patient() }).await;
    let b = a.sibling().await;
    let mut expected = BTreeSet::new();
    for i in 0..40 {
        let srv = if i % 2 == 0 { &a } else { &b };
        let email = format!("p{i:02}@contoso.com");
        srv.create_user(&a.token, &email, Some(&email), None).await;
        expected.insert(email);
    }
    let mails = smtp.wait_for(40, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = if smtp.messages().len() > mails.len() { smtp.messages() } else { mails };
    let (ids, rcpts) = tally(&mails);
    assert_eq!((mails.len(), ids.len()), (40, 40), "each email once");
    assert_eq!(rcpts.keys().cloned().collect::<BTreeSet<_>>(), expected);
}
}
