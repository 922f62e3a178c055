//! PostgreSQL-only behaviour that the shared conformance suite cannot see: how batched creates
//! and pipelined transactions fail. Needs `TEST_DATABASE_URL`, like the conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{PgOptions, PgStore, create_scratch_database};
use domain::DomainError;
use domain::ports::{Store, StoreError};
use domain::service::{ServiceId, ServiceParams};
use domain::user::{NewUser, Profile, ProvisioningSource, UserStatus};
use std::sync::Arc;

async fn store(pool_size: usize) -> Option<(Arc<PgStore>, String, ServiceId)> {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        if std::env::var("SCIMD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            return None;
        }
        panic!("TEST_DATABASE_URL is not set: run scripts/test-all.sh, or set SCIMD_TEST_SKIP_POSTGRES=1");
    };
    let url = create_scratch_database(&admin).await.unwrap();
    let store = PgStore::open(&url, &PgOptions { pool_size, ..PgOptions::default() }).await.unwrap();
    let service = store.create_service("svc", ServiceParams::default()).await.unwrap().id;
    Some((Arc::new(store), url, service))
}

fn new_user(service: ServiceId, login: &str) -> NewUser {
    NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        service,
        user_name: login.to_owned(),
        external_id: None,
        active: true,
        source: ProvisioningSource::Scim,
        profile: Profile::default(),
        attributes: serde_json::json!({}),
    }
}

/// Creates issued together share batches; a taken login and a value PostgreSQL refuses (a NUL
/// character) fail only their own create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_create_does_not_fail_its_batch() {
    let Some((store, _, service)) = store(4).await else { return };
    let logins = ["a", "b", "dup", "DUP", "bad\u{0}", "c", "d", "e", "f", "g"];
    let tasks: Vec<_> = logins
        .iter()
        .map(|login| {
            let store = Arc::clone(&store);
            let user = new_user(service, login);
            tokio::spawn(async move { store.create_user(user, UserStatus::NotActivated, None).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    for (login, result) in logins.iter().zip(&results) {
        match *login {
            "dup" | "DUP" | "bad\u{0}" => {}
            _ => assert_eq!(result.as_ref().unwrap().user_name, *login),
        }
    }
    let dups: Vec<_> = results[2..4].iter().collect();
    assert_eq!(dups.iter().filter(|r| r.is_ok()).count(), 1, "{dups:?}");
    assert!(dups.iter().any(|r| matches!(r, Err(StoreError::Conflict(_)))), "{dups:?}");
    assert!(matches!(results[4], Err(StoreError::Internal(_))), "{:?}", results[4]);
    assert_eq!(store.user_counts(service, domain::now()).await.unwrap().total, 8);
}

/// A pipelined transaction that ends in a conflict, a missing user or a refused mutation leaves
/// no transaction open on the (single) pooled connection: the next write is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_updates_leave_the_connection_clean() {
    let Some((store, url, service)) = store(1).await else { return };
    let alice = store.create_user(new_user(service, "alice"), UserStatus::NotActivated, None).await.unwrap();
    store.create_user(new_user(service, "bob"), UserStatus::NotActivated, None).await.unwrap();
    let rename = store
        .update_user(
            service,
            &alice.id,
            Box::new(|u| {
                u.user_name = "BOB".into();
                Ok(())
            }),
        )
        .await;
    assert!(matches!(rename, Err(StoreError::Conflict(_))), "{rename:?}");
    let missing = store.update_user(service, "no-such-id", Box::new(|_| Ok(()))).await;
    assert_eq!(missing.unwrap_err(), StoreError::NotFound);
    let refused =
        store.update_user(service, &alice.id, Box::new(|_| Err(DomainError::InvalidValue("no".into())))).await;
    assert!(matches!(refused, Err(StoreError::Rule(_))), "{refused:?}");
    let refused_delete =
        store.delete_user(service, &alice.id, Box::new(|_| Err(DomainError::InvalidValue("no".into())))).await;
    assert!(matches!(refused_delete, Err(StoreError::Rule(_))), "{refused_delete:?}");
    let saved = store
        .update_user(
            service,
            &alice.id,
            Box::new(|u| {
                u.active = false;
                u.block_reasons.insert(domain::user::BlockReason::Inactive);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(saved.version, 2);
    assert!(saved.block_reasons.contains(&domain::user::BlockReason::Inactive));

    // Another connection sees the write: it was committed, not left in an open transaction.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = client.query_one("SELECT version, active FROM users WHERE id = $1", &[&alice.id]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, bool>(1)), (2, false));
    let reasons: i64 = client
        .query_one(
            "SELECT count(*) FROM user_block_reasons r JOIN users u ON u.pk = r.user_pk WHERE u.id = $1",
            &[&alice.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reasons, 1);
}
