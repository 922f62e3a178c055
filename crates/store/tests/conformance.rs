//! One behaviour, two backends: every test here runs on SQLite and on PostgreSQL.
//! PostgreSQL needs `TEST_DATABASE_URL` (scripts/test-all.sh starts a server and sets it);
//! without it the PostgreSQL variants fail, unless `SCIMD_TEST_SKIP_POSTGRES=1` says to skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use domain::DomainError;
use domain::group::{Member, MembershipChange, MembershipOutcome, NewGroup};
use domain::ports::{Store, StoreError};
use domain::query::{Condition, GroupField, Op, PageRequest, Query, QueryValue, SortDirection, UserField};
use domain::service::{ServiceId, ServiceParams};
use domain::token::{NewToken, TokenScope};
use domain::user::{BlockReason, NewUser, ProvisioningSource, UserStatus};
use serde_json::json;
use std::sync::Arc;

struct Fixture {
    store: Arc<dyn Store>,
    service: ServiceId,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(store::sqlite::SqliteStore::open(&dir.path().join("t.db"), "normal").unwrap());
    let service = store.create_service("svc", ServiceParams::default()).await.unwrap().id;
    Fixture { store, service, _dir: Some(dir) }
}

async fn postgres() -> Option<Fixture> {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        if std::env::var("SCIMD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("skipping PostgreSQL variant: SCIMD_TEST_SKIP_POSTGRES=1");
            return None;
        }
        panic!("TEST_DATABASE_URL is not set: run scripts/test-all.sh, or set SCIMD_TEST_SKIP_POSTGRES=1");
    };
    let url = store::postgres::create_scratch_database(&admin).await.unwrap();
    let store: Arc<dyn Store> =
        Arc::new(store::postgres::PgStore::open(&url, &store::postgres::PgOptions::default()).await.unwrap());
    let service = store.create_service("svc", ServiceParams::default()).await.unwrap().id;
    Some(Fixture { store, service, _dir: None })
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::sqlite().await).await; })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { if let Some(f) = super::postgres().await { super::$name(f).await; } })*
        }
    };
}

both_backends!(
    users_round_trip_and_logins_are_unique_case_insensitively,
    a_refused_mutation_changes_nothing,
    block_reasons_change_by_difference,
    membership_changes_are_set_operations,
    an_updated_group_is_returned_as_stored,
    nested_groups_are_refused_and_unknown_members_reported,
    one_change_may_name_a_member_twice_or_an_existing_member,
    deleting_a_group_blocks_members_and_recreating_it_restores_them,
    a_user_in_two_deleted_groups_stays_blocked_until_both_return,
    restoring_without_external_id_matches_the_name,
    queries_filter_sort_and_page,
    deleting_a_user_removes_its_memberships,
    tokens_are_found_by_hash_and_revocable,
    services_are_isolated,
    provisioning_log_appends_queries_and_prunes,
    concurrent_member_adds_lose_nothing,
    concurrent_creates_of_one_login_make_one_user,
    a_refused_create_in_a_burst_leaves_nothing_and_loses_no_neighbour,
    admins_are_unique_ignoring_case_and_a_new_password_ends_sessions,
    sessions_are_found_by_hash_touched_and_deleted,
    console_statistics_count_members_and_log_activity,
    console_user_search_by_status_blocked_names_and_keyset_pages,
    a_round_of_sent_emails_is_marked_for_the_messages_the_worker_still_holds,
    deleting_a_user_drops_its_waiting_activation_email_but_not_one_a_worker_holds,
);

fn new_user(f: &Fixture, login: &str) -> NewUser {
    NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        service: f.service,
        user_name: login.to_owned(),
        external_id: Some(format!("ext-{login}")),
        active: true,
        source: ProvisioningSource::Scim,
        profile: domain::user::Profile { email: Some(format!("{login}@example.com")), ..Default::default() },
        attributes: json!({"title": "Engineer"}),
    }
}

async fn user(f: &Fixture, login: &str) -> String {
    f.store.create_user(new_user(f, login), UserStatus::NotActivated, None).await.unwrap().id
}

async fn group(f: &Fixture, name: &str, ext: Option<&str>, members: &[&str]) -> String {
    f.store
        .create_group(NewGroup {
            id: uuid::Uuid::new_v4().to_string(),
            service: f.service,
            display_name: name.to_owned(),
            external_id: ext.map(str::to_owned),
            attributes: json!({}),
            members: members.iter().map(|m| Member { user_id: (*m).to_owned(), display: None }).collect(),
        })
        .await
        .unwrap()
        .group
        .id
}

async fn reasons(f: &Fixture, id: &str) -> Vec<String> {
    f.store.get_user(f.service, id).await.unwrap().unwrap().block_reasons.iter().map(|r| r.to_string()).collect()
}

async fn member_ids(f: &Fixture, gid: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        f.store.group_members(f.service, gid, None).await.unwrap().items.into_iter().map(|m| m.user_id).collect();
    ids.sort();
    ids
}

async fn users_round_trip_and_logins_are_unique_case_insensitively(f: Fixture) {
    let id = user(&f, "Alice").await;
    let u = f.store.get_user(f.service, &id).await.unwrap().unwrap();
    assert_eq!(u.user_name, "Alice");
    assert_eq!(u.attributes, json!({"title": "Engineer"}));
    assert_eq!(u.version, 1);
    let dup = f.store.create_user(new_user(&f, "ALICE"), UserStatus::NotActivated, None).await;
    assert!(matches!(dup, Err(StoreError::Conflict(ref d)) if d.contains("ALICE")), "{dup:?}");
}

async fn a_refused_mutation_changes_nothing(f: Fixture) {
    let id = user(&f, "bob").await;
    let r = f
        .store
        .update_user(
            f.service,
            &id,
            Box::new(|u| {
                u.user_name = "changed".into();
                Err(DomainError::InvalidValue("no".into()))
            }),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Rule(_))));
    assert_eq!(f.store.get_user(f.service, &id).await.unwrap().unwrap().user_name, "bob");
    // A rename onto another user's login is a conflict and changes nothing either.
    user(&f, "carol").await;
    let r = f
        .store
        .update_user(
            f.service,
            &id,
            Box::new(|u| {
                u.user_name = "CAROL".into();
                Ok(())
            }),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
}

async fn block_reasons_change_by_difference(f: Fixture) {
    let id = user(&f, "dave").await;
    let u = f
        .store
        .update_user(
            f.service,
            &id,
            Box::new(|u| {
                u.set_active(false);
                u.block_reasons.insert(BlockReason::Admin);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert!(!u.active && u.blocked());
    assert_eq!(reasons(&f, &id).await, vec!["inactive", "admin"]);
    f.store
        .update_user(
            f.service,
            &id,
            Box::new(|u| {
                u.set_active(true);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(reasons(&f, &id).await, vec!["admin"]);
}

async fn membership_changes_are_set_operations(f: Fixture) {
    let (a, b, c) = (user(&f, "a").await, user(&f, "b").await, user(&f, "c").await);
    let g = group(&f, "G", None, &[&a]).await;
    let add = |ids: Vec<&String>| {
        MembershipChange::Add(
            ids.into_iter().map(|i| Member { user_id: i.clone(), display: Some("x".into()) }).collect(),
        )
    };
    f.store.update_group(f.service, &g, Box::new(|_| Ok(())), vec![add(vec![&a, &b, &c])]).await.unwrap();
    let mut all = vec![a.clone(), b.clone(), c.clone()];
    all.sort();
    assert_eq!(member_ids(&f, &g).await, all);
    f.store
        .update_group(f.service, &g, Box::new(|_| Ok(())), vec![MembershipChange::Remove(vec![b.clone()])])
        .await
        .unwrap();
    assert_eq!(member_ids(&f, &g).await.len(), 2);
    f.store.update_group(f.service, &g, Box::new(|_| Ok(())), vec![MembershipChange::RemoveAll]).await.unwrap();
    assert!(member_ids(&f, &g).await.is_empty());
}

/// The group an update returns is the group a read finds afterwards, whether the update
/// renamed it, changed its attributes or only its members (version and time move each time).
async fn an_updated_group_is_returned_as_stored(f: Fixture) {
    let a = user(&f, "a").await;
    let g = group(&f, "Before", None, &[]).await;
    let (renamed, _) = f
        .store
        .update_group(
            f.service,
            &g,
            Box::new(|g| {
                g.display_name = "After".into();
                g.external_id = Some("ext-1".into());
                g.attributes = json!({"urn:example:extra": {"cost": 1.25, "tags": ["a", "b"]}});
                Ok(())
            }),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(Some(&renamed), f.store.get_group(f.service, &g).await.unwrap().as_ref());
    assert_eq!((renamed.display_name.as_str(), renamed.version), ("After", 2));
    let (members_only, _) = f
        .store
        .update_group(
            f.service,
            &g,
            Box::new(|_| Ok(())),
            vec![MembershipChange::Add(vec![Member { user_id: a.clone(), display: None }])],
        )
        .await
        .unwrap();
    assert_eq!(Some(&members_only), f.store.get_group(f.service, &g).await.unwrap().as_ref());
    assert_eq!(members_only.version, 3);
    assert_eq!(members_only.attributes, renamed.attributes);
    assert!(members_only.last_modified >= renamed.last_modified);
    // The old name is free again, the new one taken.
    assert!(f.store.query_groups(f.service, &name_query("Before")).await.unwrap().items.is_empty());
    assert_eq!(f.store.query_groups(f.service, &name_query("after")).await.unwrap().items.len(), 1);
}

fn name_query(name: &str) -> domain::query::GroupQuery {
    Query {
        condition: Condition::Cmp(GroupField::DisplayName, Op::Eq, QueryValue::Text(name.into())),
        sort: None,
        page: None,
    }
}

async fn nested_groups_are_refused_and_unknown_members_reported(f: Fixture) {
    let a = user(&f, "a").await;
    let g1 = group(&f, "G1", None, &[]).await;
    let g2 = group(&f, "G2", None, &[]).await;
    let nested = f
        .store
        .update_group(
            f.service,
            &g2,
            Box::new(|_| Ok(())),
            vec![MembershipChange::Add(vec![Member { user_id: g1.clone(), display: None }])],
        )
        .await;
    assert!(matches!(nested, Err(StoreError::Rule(DomainError::InvalidValue(ref d))) if d.contains(&g1)), "{nested:?}");
    let outcome = change_members(
        &f,
        &g2,
        vec![MembershipChange::Add(vec![
            Member { user_id: "nobody".into(), display: None },
            Member { user_id: a.clone(), display: None },
        ])],
    )
    .await;
    assert_eq!(outcome.unknown_members, vec!["nobody".to_owned()]);
    assert_eq!(member_ids(&f, &g2).await, vec![a]);
}

/// Applies membership changes only (no attribute change) and returns the store's report.
async fn change_members(f: &Fixture, gid: &str, changes: Vec<MembershipChange>) -> MembershipOutcome {
    f.store.update_group(f.service, gid, Box::new(|_| Ok(())), changes).await.unwrap().1
}

async fn member_displays(f: &Fixture, gid: &str) -> Vec<(String, Option<String>)> {
    let page = f.store.group_members(f.service, gid, None).await.unwrap();
    let mut d: Vec<(String, Option<String>)> = page.items.into_iter().map(|m| (m.user_id, m.display)).collect();
    d.sort();
    d
}

/// An add is one set operation in the store: a user listed twice counts once with the last
/// display given, a member added again keeps its display unless a new one is given, and
/// removals skip ids that name nobody.
async fn one_change_may_name_a_member_twice_or_an_existing_member(f: Fixture) {
    let (a, b, c) = (user(&f, "a").await, user(&f, "b").await, user(&f, "c").await);
    let g = group(&f, "G", None, &[&a]).await;
    let m = |id: &str, display: Option<&str>| Member { user_id: id.to_owned(), display: display.map(str::to_owned) };
    let named = |pairs: &[(&String, &str)]| {
        let mut v: Vec<(String, Option<String>)> =
            pairs.iter().map(|(id, d)| ((*id).clone(), Some((*d).to_owned()))).collect();
        v.sort();
        v
    };

    let add = vec![m(&a, Some("A")), m(&b, None), m("nobody", None), m(&b, Some("B")), m(&a, None), m("nobody", None)];
    let outcome = change_members(&f, &g, vec![MembershipChange::Add(add)]).await;
    assert_eq!(outcome.unknown_members, vec!["nobody".to_owned()]);
    assert_eq!(member_displays(&f, &g).await, named(&[(&a, "A"), (&b, "B")]));

    let remove = vec![b.clone(), "nobody".into(), b.clone()];
    let changes = vec![MembershipChange::Add(vec![m(&a, None), m(&c, Some("C"))]), MembershipChange::Remove(remove)];
    change_members(&f, &g, changes).await;
    assert_eq!(member_displays(&f, &g).await, named(&[(&a, "A"), (&c, "C")]));
}

async fn deleting_a_group_blocks_members_and_recreating_it_restores_them(f: Fixture) {
    let a = user(&f, "a").await;
    let g = group(&f, "Sales", Some("obj-1"), &[&a]).await;
    let t = f.store.delete_group(f.service, &g).await.unwrap();
    assert_eq!(t.member_ids, vec![a.clone()]);
    assert_eq!(reasons(&f, &a).await, vec![format!("groupDeleted:{g}")]);
    assert!(f.store.get_user(f.service, &a).await.unwrap().unwrap().active, "active is never derived");
    assert!(f.store.get_group(f.service, &g).await.unwrap().is_none());
    assert_eq!(f.store.list_tombstones(f.service).await.unwrap().len(), 1);
    let created = f
        .store
        .create_group(NewGroup {
            id: "fresh".into(),
            service: f.service,
            display_name: "Sales renamed".into(),
            external_id: Some("obj-1".into()),
            attributes: json!({}),
            members: vec![],
        })
        .await
        .unwrap();
    assert!(created.restored_from_tombstone);
    assert_eq!(created.group.id, g, "the restored group keeps its id");
    assert!(reasons(&f, &a).await.is_empty());
    assert!(f.store.list_tombstones(f.service).await.unwrap().is_empty());
}

async fn a_user_in_two_deleted_groups_stays_blocked_until_both_return(f: Fixture) {
    let a = user(&f, "a").await;
    let g1 = group(&f, "G1", Some("e1"), &[&a]).await;
    let g2 = group(&f, "G2", Some("e2"), &[&a]).await;
    f.store.delete_group(f.service, &g1).await.unwrap();
    f.store.delete_group(f.service, &g2).await.unwrap();
    assert_eq!(reasons(&f, &a).await.len(), 2);
    group(&f, "G1", Some("e1"), &[]).await;
    assert_eq!(reasons(&f, &a).await, vec![format!("groupDeleted:{g2}")]);
    group(&f, "G2", Some("e2"), &[]).await;
    assert!(reasons(&f, &a).await.is_empty());
}

async fn restoring_without_external_id_matches_the_name(f: Fixture) {
    let a = user(&f, "a").await;
    let g = group(&f, "Support", None, &[&a]).await;
    f.store.delete_group(f.service, &g).await.unwrap();
    let again = group(&f, "SUPPORT", None, &[]).await;
    assert_eq!(again, g);
    assert!(reasons(&f, &a).await.is_empty());
}

async fn queries_filter_sort_and_page(f: Fixture) {
    for login in ["carol", "alice", "Bob", "dave", "erin"] {
        user(&f, login).await;
    }
    let q = |condition, sort, page| Query { condition, sort, page };
    let eq = |v: &str| Condition::Cmp(UserField::UserName, Op::Eq, QueryValue::Text(v.into()));
    let p = f.store.query_users(f.service, &q(eq("BOB"), None, None)).await.unwrap();
    assert_eq!(p.items.len(), 1);
    assert_eq!(p.items[0].user_name, "Bob");
    let p = f
        .store
        .query_users(
            f.service,
            &q(Condition::Cmp(UserField::ExternalId, Op::Eq, QueryValue::Text("ext-bob".into())), None, None),
        )
        .await
        .unwrap();
    assert!(p.items.is_empty(), "externalId is case-exact");
    let p = f
        .store
        .query_users(
            f.service,
            &q(
                Condition::Not(Box::new(eq("alice"))),
                Some((UserField::UserName, SortDirection::Ascending)),
                Some(PageRequest { offset: 1, limit: 2 }),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.total, 4);
    assert_eq!(p.items.iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(), vec!["carol", "dave"]);
    let p = f
        .store
        .query_users(
            f.service,
            &q(
                Condition::Or(vec![
                    Condition::Cmp(UserField::UserName, Op::StartsWith, QueryValue::Text("A".into())),
                    Condition::Cmp(UserField::Email, Op::EndsWith, QueryValue::Text("N@EXAMPLE.COM".into())),
                ]),
                Some((UserField::UserName, SortDirection::Descending)),
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.items.iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(), vec!["erin", "alice"]);
    let p = f
        .store
        .query_users(
            f.service,
            &q(Condition::Cmp(UserField::UserName, Op::Contains, QueryValue::Text("AR".into())), None, None),
        )
        .await
        .unwrap();
    assert_eq!(p.items.len(), 1);
    let p = f
        .store
        .query_users(f.service, &q(Condition::True, None, Some(PageRequest { offset: 0, limit: 0 })))
        .await
        .unwrap();
    assert_eq!((p.total, p.items.len()), (5, 0));
    let g = group(&f, "Team", Some("x"), &[]).await;
    let gp = f
        .store
        .query_groups(
            f.service,
            &Query {
                condition: Condition::Cmp(GroupField::DisplayName, Op::Eq, QueryValue::Text("team".into())),
                sort: None,
                page: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(gp.items[0].id, g);
}

async fn deleting_a_user_removes_its_memberships(f: Fixture) {
    let a = user(&f, "a").await;
    let g = group(&f, "G", None, &[&a]).await;
    let r = f.store.delete_user(f.service, &a, Box::new(|_| Ok(()))).await.unwrap();
    assert_eq!(r.id, a);
    assert!(f.store.get_user(f.service, &a).await.unwrap().is_none());
    assert!(member_ids(&f, &g).await.is_empty());
    let again = f.store.delete_user(f.service, &a, Box::new(|_| Ok(()))).await;
    assert!(matches!(again, Err(StoreError::NotFound)));
}

async fn tokens_are_found_by_hash_and_revocable(f: Fixture) {
    let t = f
        .store
        .insert_token(NewToken {
            service: f.service,
            scope: TokenScope::Scim,
            prefix: "scimd_ab".into(),
            hash: vec![7; 32],
            description: "d".into(),
            expires_at: None,
        })
        .await
        .unwrap();
    let found = f.store.token_by_hash(&[7; 32]).await.unwrap().unwrap();
    assert_eq!(found.id, t.id);
    assert!(found.is_valid_at(domain::now()));
    assert!(f.store.token_by_hash(&[8; 32]).await.unwrap().is_none());
    let other = f.store.create_service("other", ServiceParams::default()).await.unwrap();
    assert!(matches!(f.store.revoke_token(Some(other.id), t.id).await, Err(StoreError::NotFound)));
    f.store.revoke_token(Some(f.service), t.id).await.unwrap();
    assert!(!f.store.token_by_hash(&[7; 32]).await.unwrap().unwrap().is_valid_at(domain::now()));
}

async fn services_are_isolated(f: Fixture) {
    let a = user(&f, "shared").await;
    let other = f.store.create_service("other", ServiceParams::default()).await.unwrap().id;
    assert!(f.store.get_user(other, &a).await.unwrap().is_none());
    let b = f
        .store
        .create_user(NewUser { service: other, ..new_user(&f, "shared") }, UserStatus::NotActivated, None)
        .await
        .unwrap();
    assert_ne!(a, b.id);
    let g = group(&f, "G", None, &[]).await;
    // A user of another service is not a member candidate: reported unknown, not added.
    let (_, outcome) = f
        .store
        .update_group(
            f.service,
            &g,
            Box::new(|_| Ok(())),
            vec![MembershipChange::Add(vec![Member { user_id: b.id.clone(), display: None }])],
        )
        .await
        .unwrap();
    assert_eq!(outcome.unknown_members, vec![b.id.clone()]);
    assert!(matches!(f.store.delete_user(f.service, &b.id, Box::new(|_| Ok(()))).await, Err(StoreError::NotFound)));
    assert!(matches!(f.store.delete_group(other, &g).await, Err(StoreError::NotFound)));
}

async fn provisioning_log_appends_queries_and_prunes(f: Fixture) {
    let entry = |status: u16, id: &str| domain::audit::LogEntry {
        service: f.service,
        time: domain::now(),
        request_id: "r".into(),
        method: "PATCH".into(),
        resource_type: "User".into(),
        resource_id: Some(id.into()),
        operation: "patch".into(),
        status,
        error_detail: (status >= 400).then(|| "bad".into()),
        warnings: vec!["w".into()],
    };
    f.store.append_log(vec![entry(200, "u1"), entry(400, "u1"), entry(204, "u2")]).await.unwrap();
    let all = f.store.query_log(f.service, &domain::audit::LogQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].entry.resource_id.as_deref(), Some("u2"), "newest first");
    let failed = f
        .store
        .query_log(f.service, &domain::audit::LogQuery { failed: Some(true), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entry.warnings, vec!["w".to_owned()]);
    let u1 = f
        .store
        .query_log(
            f.service,
            &domain::audit::LogQuery { resource_id: Some("u1".into()), limit: 10, ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(u1.len(), 2);
    assert_eq!(f.store.prune_log(f.service, domain::now() + time::Duration::seconds(1)).await.unwrap(), 3);
}

async fn concurrent_member_adds_lose_nothing(f: Fixture) {
    let mut ids = Vec::new();
    for i in 0..16 {
        ids.push(user(&f, &format!("u{i}")).await);
    }
    let g = group(&f, "Big", None, &[]).await;
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let store = Arc::clone(&f.store);
        let (service, g) = (f.service, g.clone());
        tasks.push(tokio::spawn(async move {
            store
                .update_group(
                    service,
                    &g,
                    Box::new(|_| Ok(())),
                    vec![MembershipChange::Add(vec![Member { user_id: id, display: None }])],
                )
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    ids.sort();
    assert_eq!(member_ids(&f, &g).await, ids);
}

async fn concurrent_creates_of_one_login_make_one_user(f: Fixture) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&f.store);
        let u = new_user(&f, "same");
        tasks.push(tokio::spawn(async move { store.create_user(u, UserStatus::NotActivated, None).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

/// Creates that arrive together are committed together (SQLite runs them without a savepoint:
/// its batch.rs): the refused ones must leave no row and no email, and must not take the
/// accepted ones of their batch down with them.
async fn a_refused_create_in_a_burst_leaves_nothing_and_loses_no_neighbour(f: Fixture) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&f.store);
        // Every other create asks for the same login.
        let login = if i % 2 == 0 { "taken".to_owned() } else { format!("free{i}") };
        let (u, activation) = (new_user(&f, &login), activation_for(&login));
        tasks.push(tokio::spawn(async move {
            (login.clone(), store.create_user(u, UserStatus::PendingActivation, Some(activation)).await)
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (_, Ok(u)) => created.push(u.id),
            (login, Err(StoreError::Conflict(_))) => assert_eq!(login, "taken"),
            (login, Err(e)) => panic!("{login}: unexpected {e:?}"),
        }
    }
    assert_eq!(created.len(), 9, "eight distinct logins and one of the eight that share one");
    for id in &created {
        assert!(f.store.get_user(f.service, id).await.unwrap().is_some(), "{id} was answered created");
    }
    let mut emailed: Vec<String> = pending_user_ids_up_to(&f, 100).await.into_iter().flatten().collect();
    emailed.sort();
    created.sort();
    assert_eq!(emailed, created, "one waiting email per created user, none for a refused one");
}

async fn admins_are_unique_ignoring_case_and_a_new_password_ends_sessions(f: Fixture) {
    let a = f.store.create_admin("Admin", "$argon2id$hash1").await.unwrap();
    assert_eq!((a.name.as_str(), a.password_hash.as_str(), a.last_login), ("Admin", "$argon2id$hash1", None));
    let dup = f.store.create_admin("admin", "$argon2id$other").await;
    assert!(matches!(dup, Err(StoreError::Conflict(ref d)) if d.contains("admin")), "{dup:?}");
    assert_eq!(f.store.admin_by_name("ADMIN").await.unwrap().map(|a| a.id), Some(a.id));
    assert_eq!(f.store.admin_by_name("nobody").await.unwrap(), None);
    f.store.create_admin("bob", "$argon2id$b").await.unwrap();
    let names: Vec<String> = f.store.list_admins().await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["Admin", "bob"]);

    let now = domain::now();
    f.store.record_admin_login(a.id, now).await.unwrap();
    assert_eq!(f.store.admin_by_name("admin").await.unwrap().unwrap().last_login, Some(now));
    f.store.create_session(session(a.id, b"s1", now)).await.unwrap();
    let changed = f.store.set_admin_password("admin", "$argon2id$hash2").await.unwrap();
    assert_eq!(changed.password_hash, "$argon2id$hash2");
    assert_eq!(f.store.admin_by_name("admin").await.unwrap().unwrap().password_hash, "$argon2id$hash2");
    assert_eq!(f.store.session_by_hash(b"s1").await.unwrap(), None, "a new password ends the sessions");
    assert!(matches!(f.store.set_admin_password("nobody", "x").await, Err(StoreError::NotFound)));
}

fn session(admin_id: i64, id_hash: &[u8], created: domain::Timestamp) -> domain::admin::NewSession {
    domain::admin::NewSession {
        id_hash: id_hash.to_vec(),
        admin_id,
        csrf_token: "csrf".into(),
        created,
        expires_at: created + domain::admin::SESSION_LIFETIME,
    }
}

async fn sessions_are_found_by_hash_touched_and_deleted(f: Fixture) {
    let a = f.store.create_admin("admin", "h").await.unwrap();
    let t0 = domain::now() - time::Duration::days(2);
    // An old, expired session is cleaned up when a new one is created.
    f.store.create_session(session(a.id, b"old", t0)).await.unwrap();
    let now = domain::now();
    f.store.create_session(session(a.id, b"new", now)).await.unwrap();
    assert_eq!(f.store.session_by_hash(b"old").await.unwrap(), None);
    let s = f.store.session_by_hash(b"new").await.unwrap().unwrap();
    assert_eq!((s.admin_id, s.admin_name.as_str(), s.csrf_token.as_str()), (a.id, "admin", "csrf"));
    assert_eq!((s.created, s.last_seen, s.expires_at), (now, now, now + domain::admin::SESSION_LIFETIME));
    assert!(s.is_live_at(now));
    let later = now + time::Duration::minutes(30);
    f.store.touch_session(b"new", later).await.unwrap();
    assert_eq!(f.store.session_by_hash(b"new").await.unwrap().unwrap().last_seen, later);
    f.store.delete_session(b"new").await.unwrap();
    assert_eq!(f.store.session_by_hash(b"new").await.unwrap(), None);
    f.store.delete_session(b"new").await.unwrap();
}

async fn console_statistics_count_members_and_log_activity(f: Fixture) {
    let (a, b) = (user(&f, "alice").await, user(&f, "bob").await);
    let g1 = group(&f, "two", None, &[&a, &b]).await;
    let g2 = group(&f, "none", None, &[]).await;
    let mut counts = f.store.group_member_counts(f.service, &[g1.clone(), g2.clone(), "missing".into()]).await.unwrap();
    counts.sort();
    let mut expected = vec![(g1, 2), (g2, 0)];
    expected.sort();
    assert_eq!(counts, expected);

    let empty = f.store.log_stats(f.service, domain::now() - time::Duration::DAY).await.unwrap();
    assert_eq!(empty, domain::admin::LogStats::default());
    let now = domain::now();
    let entry = |status: u16, time: domain::Timestamp| domain::audit::LogEntry {
        service: f.service,
        time,
        request_id: "r".into(),
        method: "GET".into(),
        resource_type: "User".into(),
        resource_id: None,
        operation: "list".into(),
        status,
        error_detail: None,
        warnings: vec![],
    };
    f.store
        .append_log(vec![
            entry(200, now - time::Duration::days(3)),
            entry(500, now - time::Duration::days(3)),
            entry(200, now - time::Duration::hours(1)),
            entry(409, now - time::Duration::minutes(1)),
            entry(201, now),
        ])
        .await
        .unwrap();
    let stats = f.store.log_stats(f.service, now - time::Duration::DAY).await.unwrap();
    assert_eq!(stats, domain::admin::LogStats { last_request: Some(now), requests: 3, errors: 1 });
    let other = f.store.create_service("other", ServiceParams::default()).await.unwrap().id;
    assert_eq!(f.store.log_stats(other, now - time::Duration::DAY).await.unwrap().requests, 0);
}

async fn console_user_search_by_status_blocked_names_and_keyset_pages(f: Fixture) {
    let mut ids = std::collections::HashMap::new();
    for (login, given, family) in
        [("ann", "Ann", "Smith"), ("ben", "Ben", "Jones"), ("cat", "Cat", "SMITHERS"), ("dan", "Dan", "Brown")]
    {
        let mut nu = new_user(&f, login);
        nu.profile.given_name = Some(given.into());
        nu.profile.family_name = Some(family.into());
        if login == "dan" {
            nu.source = ProvisioningSource::Api;
        }
        let status = if login == "ben" { UserStatus::Activated } else { UserStatus::NotActivated };
        ids.insert(login, f.store.create_user(nu, status, None).await.unwrap().id);
    }
    f.store
        .update_user(
            f.service,
            &ids["cat"],
            Box::new(|u| {
                u.block_reasons.insert(BlockReason::Admin);
                Ok(())
            }),
        )
        .await
        .unwrap();
    let logins = |cond: Condition<UserField>| {
        let store = Arc::clone(&f.store);
        let service = f.service;
        async move {
            let q = Query { condition: cond, sort: Some((UserField::UserName, SortDirection::Ascending)), page: None };
            store.query_users(service, &q).await.unwrap().items.into_iter().map(|u| u.user_name).collect::<Vec<_>>()
        }
    };
    let text = |v: &str| QueryValue::Text(v.into());
    assert_eq!(logins(Condition::Cmp(UserField::Blocked, Op::Eq, QueryValue::Bool(true))).await, ["cat"]);
    assert_eq!(
        logins(Condition::Cmp(UserField::Blocked, Op::Eq, QueryValue::Bool(false))).await,
        ["ann", "ben", "dan"]
    );
    assert_eq!(logins(Condition::Cmp(UserField::Status, Op::Eq, text("activated"))).await, ["ben"]);
    assert_eq!(logins(Condition::Cmp(UserField::FamilyName, Op::Contains, text("smith"))).await, ["ann", "cat"]);
    assert_eq!(logins(Condition::Cmp(UserField::GivenName, Op::StartsWith, text("D"))).await, ["dan"]);
    assert_eq!(logins(Condition::Cmp(UserField::Source, Op::Eq, text("api"))).await, ["dan"]);
    assert_eq!(logins(Condition::Cmp(UserField::ActivationExpiresAt, Op::Present, QueryValue::None)).await.len(), 0);

    // Keyset pages in login order: each page starts after the previous page's last login.
    let page = |after: Option<&str>| {
        let store = Arc::clone(&f.store);
        let service = f.service;
        let condition = match after {
            Some(a) => Condition::Cmp(UserField::UserName, Op::Gt, text(a)),
            None => Condition::True,
        };
        async move {
            let q = Query {
                condition,
                sort: Some((UserField::UserName, SortDirection::Ascending)),
                page: Some(PageRequest { offset: 0, limit: 2 }),
            };
            let counted = store.query_users(service, &q).await.unwrap().items;
            let page = store.query_users_page(service, &q).await.unwrap();
            assert_eq!(counted, page);
            page.into_iter().map(|u| u.user_name).collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None).await, ["ann", "ben"]);
    assert_eq!(page(Some("BEN")).await, ["cat", "dan"]);
    assert!(page(Some("dan")).await.is_empty());
}

async fn a_round_of_sent_emails_is_marked_for_the_messages_the_worker_still_holds(f: Fixture) {
    use domain::outbox::{Claim, OutboxState};
    for login in ["alice", "bob", "carol"] {
        f.store
            .create_user(new_user(&f, login), UserStatus::PendingActivation, Some(activation_for(login)))
            .await
            .unwrap();
    }
    // Messages are due from their creation on.
    let now = domain::now();
    let claim = Claim { worker: "w1".into(), now, until: now + time::Duration::MINUTE, limit: 10 };
    let claimed = f.store.claim_outbox(&claim).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
    // The second message's lease is given back before the round is marked: w1 no longer holds it.
    assert_eq!(f.store.release_outbox("w1", vec![ids[1]]).await.unwrap(), 1);

    let marks = ids.iter().map(|id| (*id, json!({"scrubbed": id}))).collect();
    let held = f.store.outbox_sent_many(marks, "w1", now).await.unwrap();
    assert_eq!(held, vec![true, false, true]);

    let sent = f.store.list_outbox(Some(OutboxState::Sent), 10).await.unwrap();
    let mut sent_ids: Vec<i64> = sent.iter().map(|m| m.id).collect();
    sent_ids.sort();
    assert_eq!(sent_ids, vec![ids[0], ids[2]]);
    for m in &sent {
        assert_eq!(m.payload, json!({"scrubbed": m.id}), "the scrubbed payload replaces the one with the link");
        assert_eq!((m.sent_at, m.claimed_by.as_deref()), (Some(now), None));
    }
    let pending = f.store.list_outbox(Some(OutboxState::Pending), 10).await.unwrap();
    assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[1]]);
    assert_eq!(pending[0].payload, json!({"link": "https://mfa.example/a/bob"}));
    // Another worker marks nothing it does not hold.
    assert_eq!(f.store.outbox_sent_many(vec![(ids[1], json!({}))], "w2", now).await.unwrap(), vec![false]);
}

async fn deleting_a_user_drops_its_waiting_activation_email_but_not_one_a_worker_holds(f: Fixture) {
    use domain::outbox::{Claim, OutboxState};
    let mut ids = Vec::new();
    for login in ["alice", "bob", "carol"] {
        let user = f.store.create_user(new_user(&f, login), UserStatus::PendingActivation, Some(activation_for(login)));
        ids.push(user.await.unwrap().id);
    }
    // A worker holds alice's email (the oldest); bob's and carol's wait.
    let now = domain::now();
    let claim = Claim { worker: "w1".into(), now, until: now + time::Duration::MINUTE, limit: 1 };
    let claimed = f.store.claim_outbox(&claim).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.user_id.clone()).collect::<Vec<_>>(), vec![Some(ids[0].clone())]);

    for id in &ids[..2] {
        f.store.delete_user(f.service, id, Box::new(|_| Ok(()))).await.unwrap();
    }
    let pending: Vec<Option<String>> =
        f.store.list_outbox(Some(OutboxState::Pending), 10).await.unwrap().into_iter().map(|m| m.user_id).collect();
    assert!(!pending.contains(&Some(ids[1].clone())), "bob's waiting email carries a dead link: dropped");
    assert!(pending.contains(&Some(ids[0].clone())), "alice's email is held by a worker (it may be on the wire): kept");
    assert!(pending.contains(&Some(ids[2].clone())), "carol still exists: her email waits");

    // The worker gives alice's email back unsent: her link is dead, so it does not wait again.
    assert_eq!(f.store.release_outbox("w1", vec![claimed[0].id]).await.unwrap(), 1);
    let pending = pending_user_ids(&f).await;
    assert_eq!(pending, vec![Some(ids[2].clone())], "only carol's email waits");

    // A failed attempt that will be retried: the same, when the user is gone; kept otherwise.
    let dave = f.store.create_user(new_user(&f, "dave"), UserStatus::PendingActivation, Some(activation_for("dave")));
    let dave = dave.await.unwrap().id;
    let now = domain::now();
    let claim = Claim { worker: "w2".into(), now, until: now + time::Duration::MINUTE, limit: 10 };
    let claimed = f.store.claim_outbox(&claim).await.unwrap();
    assert_eq!(claimed.len(), 2, "carol's and dave's");
    f.store.delete_user(f.service, &dave, Box::new(|_| Ok(()))).await.unwrap();
    let retry = domain::outbox::FailureOutcome::RetryAt(now + time::Duration::MINUTE);
    for m in &claimed {
        assert!(f.store.outbox_failed(m.id, "w2", "421 try again later", retry).await.unwrap());
    }
    assert_eq!(pending_user_ids(&f).await, vec![Some(ids[2].clone())], "dave's email is dropped, carol's waits");
}

async fn pending_user_ids(f: &Fixture) -> Vec<Option<String>> {
    pending_user_ids_up_to(f, 10).await
}

async fn pending_user_ids_up_to(f: &Fixture, limit: u32) -> Vec<Option<String>> {
    let pending = f.store.list_outbox(Some(domain::outbox::OutboxState::Pending), limit).await.unwrap();
    pending.into_iter().map(|m| m.user_id).collect()
}

fn activation_for(login: &str) -> domain::ports::NewActivation {
    domain::ports::NewActivation {
        code_hash: login.as_bytes().to_vec(),
        expires_at: domain::now() + time::Duration::DAY,
        email: domain::ports::OutboundEmail {
            recipient: format!("{login}@example.com"),
            template: "activation".into(),
            payload: json!({"link": format!("https://mfa.example/a/{login}")}),
        },
    }
}
