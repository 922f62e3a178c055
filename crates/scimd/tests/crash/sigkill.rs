//! SIGKILL at a random moment under concurrent Entra-shaped traffic, restart on the same data,
//! and check that every write answered 2xx is there and nothing is half-applied.
//!
//! Each backend gets one node whose data lives through all kill points: a cycle restarts the
//! server, checks everything acknowledged in all earlier cycles (over HTTP, and the database
//! directly), runs traffic from several tasks and kills the server mid-way. Each task owns its
//! users, so the expected state is exact: only the one request per task that was in flight at
//! the kill is uncertain, and the check resolves it (applied entirely, or not at all).
//!
//! `CRASH_SEED=n` replays a run (the seed is printed); `CRASH_KILLS_SQLITE` /
//! `CRASH_KILLS_POSTGRES` change the number of kill points (default 12 and 10).

use crate::integrity;
use crate::proc::{Backend, Node, Running};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const MFA: &str = "urn:scimd:schemas:extension:mfa:1.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const WORKERS: usize = 6;
const GROUPS: usize = 3;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A user as the acknowledged requests left it.
#[derive(Debug, Clone)]
struct UserM {
    id: String,
    user_name: String,
    given: String,
    active: bool,
    groups: BTreeSet<String>,
}

/// The request a task had in flight when the server died: applied entirely or not at all.
#[derive(Debug, Clone)]
enum InFlight {
    /// `committed`: the 201 arrived but its body did not, so the user must exist.
    Create {
        user_name: String,
        given: String,
        committed: bool,
    },
    Deactivate {
        id: String,
    },
    Delete {
        id: String,
    },
    AddMembers {
        group: String,
        ids: Vec<String>,
    },
}

/// What the test knows: every acknowledged write, across all cycles.
#[derive(Default)]
struct Model {
    /// Users that exist, by id.
    users: BTreeMap<String, UserM>,
    /// Users deleted (acknowledged, or in flight and found gone).
    deleted: BTreeSet<String>,
    groups: Vec<String>,
}

/// What one traffic task did.
struct Report {
    users: Vec<UserM>,
    deleted: Vec<String>,
    in_flight: Option<InFlight>,
    acked: u64,
}

/// Entra's user creation body.
fn user_body(user_name: &str, given: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": format!("{given} Crash"),
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} Crash"), "familyName": "Crash", "givenName": given},
        ENTERPRISE: {"department": "Reliability"},
    })
}

enum Answer {
    /// Status and body.
    Full(u16, Value),
    /// The status arrived, the body did not.
    HeadOnly(u16),
    /// No answer: the request may or may not have been applied.
    None,
}

async fn call(c: &reqwest::Client, token: &str, m: Method, url: String, body: Option<&Value>) -> Answer {
    let mut req = c.request(m, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let Ok(resp) = req.send().await else { return Answer::None };
    let status = resp.status().as_u16();
    match resp.text().await {
        Ok(t) => Answer::Full(status, serde_json::from_str(&t).unwrap_or(Value::Null)),
        Err(_) => Answer::HeadOnly(status),
    }
}

/// One traffic task: creates (with emails, so each queues an activation email), member-add
/// PATCHes in batches to shared groups, `active=false` PATCHes and deletes of its own users,
/// until the server stops answering.
async fn traffic(
    c: reqwest::Client,
    base: String,
    token: String,
    mut users: Vec<UserM>,
    groups: Vec<String>,
    prefix: String,
    seed: u64,
) -> Result<Report, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut deleted = Vec::new();
    let mut acked = 0;
    let mut n = 0;
    let unexpected = |what: &str, status: u16, body: &Value| format!("{what}: unexpected status {status}: {body}");
    loop {
        let roll = rng.random_range(0..100);
        let alive: Vec<usize> = (0..users.len()).collect();
        if roll < 45 || users.is_empty() {
            n += 1;
            let user_name = format!("{prefix}n{n}@crash.example");
            let given = format!("G{}", rng.random_range(0..1_000_000));
            match call(&c, &token, Method::POST, format!("{base}/Users"), Some(&user_body(&user_name, &given))).await {
                Answer::Full(201, v) => {
                    let id = v["id"].as_str().ok_or("201 without id")?.to_owned();
                    users.push(UserM { id, user_name, given, active: true, groups: BTreeSet::new() });
                }
                Answer::Full(s, v) => return Err(unexpected("create", s, &v)),
                Answer::HeadOnly(201) => {
                    let f = InFlight::Create { user_name, given, committed: true };
                    return Ok(Report { users, deleted, in_flight: Some(f), acked });
                }
                Answer::HeadOnly(s) => return Err(unexpected("create", s, &Value::Null)),
                Answer::None => {
                    let f = InFlight::Create { user_name, given, committed: false };
                    return Ok(Report { users, deleted, in_flight: Some(f), acked });
                }
            }
        } else if roll < 70 {
            let group = groups[rng.random_range(0..groups.len())].clone();
            let mut candidates: Vec<usize> =
                alive.iter().copied().filter(|&i| !users[i].groups.contains(&group)).collect();
            if candidates.is_empty() {
                continue;
            }
            let take = rng.random_range(1..=candidates.len().min(20));
            // A random subset: shuffle by swapping.
            for i in 0..take {
                let j = rng.random_range(i..candidates.len());
                candidates.swap(i, j);
            }
            candidates.truncate(take);
            let ids: Vec<String> = candidates.iter().map(|&i| users[i].id.clone()).collect();
            let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
            let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": value}]});
            match call(&c, &token, Method::PATCH, format!("{base}/Groups/{group}"), Some(&body)).await {
                Answer::Full(200 | 204, _) | Answer::HeadOnly(200 | 204) => {
                    for &i in &candidates {
                        users[i].groups.insert(group.clone());
                    }
                }
                Answer::Full(s, v) => return Err(unexpected("add members", s, &v)),
                Answer::HeadOnly(s) => return Err(unexpected("add members", s, &Value::Null)),
                Answer::None => {
                    return Ok(Report { users, deleted, in_flight: Some(InFlight::AddMembers { group, ids }), acked });
                }
            }
        } else if roll < 85 {
            let active: Vec<usize> = alive.iter().copied().filter(|&i| users[i].active).collect();
            if active.is_empty() {
                continue;
            }
            let i = active[rng.random_range(0..active.len())];
            let id = users[i].id.clone();
            let body =
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
            match call(&c, &token, Method::PATCH, format!("{base}/Users/{id}"), Some(&body)).await {
                Answer::Full(200 | 204, _) | Answer::HeadOnly(200 | 204) => users[i].active = false,
                Answer::Full(s, v) => return Err(unexpected("deactivate", s, &v)),
                Answer::HeadOnly(s) => return Err(unexpected("deactivate", s, &Value::Null)),
                Answer::None => {
                    return Ok(Report { users, deleted, in_flight: Some(InFlight::Deactivate { id }), acked });
                }
            }
        } else {
            let i = rng.random_range(0..users.len());
            let id = users[i].id.clone();
            match call(&c, &token, Method::DELETE, format!("{base}/Users/{id}"), None).await {
                Answer::Full(204, _) | Answer::HeadOnly(204) => {
                    users.remove(i);
                    deleted.push(id);
                }
                Answer::Full(s, v) => return Err(unexpected("delete", s, &v)),
                Answer::HeadOnly(s) => return Err(unexpected("delete", s, &Value::Null)),
                Answer::None => return Ok(Report { users, deleted, in_flight: Some(InFlight::Delete { id }), acked }),
            }
        }
        acked += 1;
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

/// Every user of the service, by id (paged listing).
async fn all_users(c: &reqwest::Client, base: &str, token: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut start = 1;
    loop {
        let r = call(c, token, Method::GET, format!("{base}/Users?startIndex={start}&count=1000"), None).await;
        let Answer::Full(200, body) = r else { panic!("listing users failed") };
        let page = body["Resources"].as_array().cloned().unwrap_or_default();
        let total = body["totalResults"].as_u64().expect("totalResults");
        for u in &page {
            out.insert(u["id"].as_str().expect("id").to_owned(), u.clone());
        }
        start += page.len();
        if page.is_empty() || out.len() as u64 >= total {
            return out;
        }
    }
}

async fn group_members(c: &reqwest::Client, base: &str, token: &str, group: &str) -> BTreeSet<String> {
    let Answer::Full(200, g) = call(c, token, Method::GET, format!("{base}/Groups/{group}"), None).await else {
        panic!("GET group {group} failed")
    };
    g["members"]
        .as_array()
        .map(|ms| ms.iter().map(|m| m["value"].as_str().expect("member value").to_owned()).collect())
        .unwrap_or_default()
}

/// Checks one user's SCIM representation against the model; `active` is `None` when a
/// deactivation was in flight (then only consistency is checked).
fn check_user(u: &Value, m: &UserM, active: Option<bool>, problems: &mut Vec<String>) {
    let mut expect = |what: &str, ok: bool| {
        if !ok {
            problems.push(format!("user {} ({}): {what}: {u}", m.id, m.user_name));
        }
    };
    expect("userName", u["userName"] == json!(m.user_name));
    expect("externalId", u["externalId"] == json!(format!("ext-{}", m.user_name)));
    expect("name.givenName", u["name"]["givenName"] == json!(m.given));
    expect("work email", u["emails"][0]["value"] == json!(m.user_name));
    expect("enterprise department", u[ENTERPRISE]["department"] == json!("Reliability"));
    // Created with an email in a service that sends activation emails: pending, with the code
    // and the email written in the same transaction (the database checks verify those).
    expect("status pendingActivation", u[MFA]["status"] == json!("pendingActivation"));
    let is_active = u["active"].as_bool();
    if let Some(a) = active {
        expect("active as acknowledged", is_active == Some(a));
    }
    let reasons: Vec<&str> =
        u[MFA]["blockReasons"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let inactive_reason = reasons.contains(&"inactive");
    expect("block reason `inactive` exactly when active=false", inactive_reason == (is_active == Some(false)));
    expect("blocked exactly when it has reasons", u[MFA]["blocked"] == json!(!reasons.is_empty()));
}

/// After a restart: compares the server's state with the model, resolves the in-flight
/// requests (and updates the model with their outcome). Panics listing every discrepancy.
async fn verify(node: &Node, srv: &Running, model: &mut Model, in_flight: &[InFlight], when: &str) -> (usize, usize) {
    let c = client();
    let token = &node.token;
    let actual = all_users(&c, &srv.base, token).await;
    let mut problems = Vec::new();
    let mut applied = 0;

    let deactivating: BTreeSet<&str> = in_flight
        .iter()
        .filter_map(|f| if let InFlight::Deactivate { id } = f { Some(id.as_str()) } else { None })
        .collect();
    let deleting: BTreeSet<&str> = in_flight
        .iter()
        .filter_map(|f| if let InFlight::Delete { id } = f { Some(id.as_str()) } else { None })
        .collect();

    // Acknowledged users (and in-flight deletes: there or not, but whole).
    let mut gone = Vec::new();
    for (id, m) in &mut model.users {
        match actual.get(id) {
            Some(u) => {
                let active = if deactivating.contains(id.as_str()) { None } else { Some(m.active) };
                check_user(u, m, active, &mut problems);
                if active.is_none() && u["active"] == json!(false) {
                    m.active = false;
                    applied += 1;
                }
            }
            None if deleting.contains(id.as_str()) => {
                gone.push(id.clone());
                applied += 1;
            }
            None => problems.push(format!("user {id} ({}) acknowledged but missing", m.user_name)),
        }
    }
    for id in gone {
        model.users.remove(&id);
        model.deleted.insert(id);
    }
    for id in &model.deleted {
        if actual.contains_key(id) {
            problems.push(format!("user {id} deleted (204) but still there"));
        }
    }
    // Users nobody acknowledged: only an in-flight create may have made them, entirely.
    for (id, u) in &actual {
        if model.users.contains_key(id) {
            continue;
        }
        let name = u["userName"].as_str().unwrap_or_default();
        let created = in_flight.iter().find_map(|f| match f {
            InFlight::Create { user_name, given, .. } if user_name == name => Some(given.clone()),
            _ => None,
        });
        match created {
            Some(given) => {
                let m =
                    UserM { id: id.clone(), user_name: name.to_owned(), given, active: true, groups: BTreeSet::new() };
                check_user(u, &m, Some(true), &mut problems);
                model.users.insert(id.clone(), m);
                applied += 1;
            }
            None => problems.push(format!("user {id} ({name}) exists but was never created: {u}")),
        }
    }
    for f in in_flight {
        if let InFlight::Create { user_name, committed: true, .. } = f
            && !model.users.values().any(|m| &m.user_name == user_name)
        {
            problems.push(format!("user {user_name} answered 201 (body lost) but missing"));
        }
    }

    // Memberships: every acknowledged one present, nothing else, in-flight batches all or nothing.
    for group in model.groups.clone() {
        let actual_members = group_members(&c, &srv.base, token, &group).await;
        let expected: BTreeSet<String> =
            model.users.values().filter(|m| m.groups.contains(&group)).map(|m| m.id.clone()).collect();
        let batch: BTreeSet<String> = in_flight
            .iter()
            .filter_map(|f| match f {
                InFlight::AddMembers { group: g, ids } if *g == group => Some(ids.clone()),
                _ => None,
            })
            .flatten()
            .filter(|id| model.users.contains_key(id))
            .collect();
        for id in expected.difference(&actual_members) {
            problems.push(format!("group {group}: acknowledged member {id} missing"));
        }
        for id in actual_members.difference(&expected) {
            if !batch.contains(id) {
                problems.push(format!("group {group}: member {id} was never added (or its user is gone)"));
            }
        }
        // Batches of different tasks never share users, so per-batch all-or-nothing holds.
        for f in in_flight {
            if let InFlight::AddMembers { group: g, ids } = f
                && *g == group
            {
                let ids: Vec<&String> = ids.iter().filter(|id| model.users.contains_key(*id)).collect();
                let present = ids.iter().filter(|id| actual_members.contains(**id)).count();
                if present != 0 && present != ids.len() {
                    problems.push(format!("group {group}: member batch half-applied ({present} of {})", ids.len()));
                }
                if present > 0 {
                    applied += 1;
                    for id in ids {
                        if let Some(m) = model.users.get_mut(id) {
                            m.groups.insert(group.clone());
                        }
                    }
                }
            }
        }
    }

    // Each user has exactly one activation email; every activation email is of a user that
    // exists or was deleted.
    let dup = integrity::users_without_exactly_one_email(node).await;
    if !dup.is_empty() {
        problems.push(format!("users without exactly one activation email: {dup:?}"));
    }
    for uid in integrity::outbox_user_ids(node).await {
        if !model.users.contains_key(&uid) && !model.deleted.contains(&uid) {
            problems.push(format!("activation email for user {uid}, who never existed"));
        }
    }
    assert!(problems.is_empty(), "{when}: {} problem(s):\n  {}", problems.len(), problems.join("\n  "));
    integrity::check(node, when).await;
    (actual.len(), applied)
}

async fn kill_cycles(backend: Backend, kills: u64, extra_args: &[&str]) {
    let mut args = vec!["--rate-limit-per-token", "0", "--outbox-poll-ms", "100"];
    args.extend_from_slice(extra_args);
    let Some(mut node) = Node::new(backend, &args).await else {
        return;
    };
    let seed = env_num("CRASH_SEED", rand::random::<u32>().into());
    eprintln!("crash test {backend:?}: CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    let mut in_flight: Vec<InFlight> = Vec::new();
    let started = Instant::now();

    let mut srv = node.start().await;
    let c = client();
    for g in 0..GROUPS {
        let body =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("Crash {g}")});
        match call(&c, &node.token, Method::POST, format!("{}/Groups", srv.base), Some(&body)).await {
            Answer::Full(201, v) => model.groups.push(v["id"].as_str().expect("group id").to_owned()),
            _ => panic!("cannot create the groups; log:\n{}", node.log()),
        }
    }

    for cycle in 1..=kills {
        // Split the live users among the tasks (each task owns its users for this cycle).
        let mut owned: Vec<Vec<UserM>> = vec![Vec::new(); WORKERS];
        for (i, u) in model.users.values().enumerate() {
            owned[i % WORKERS].push(u.clone());
        }
        let mut tasks = Vec::new();
        for (w, users) in owned.into_iter().enumerate() {
            let prefix = format!("c{cycle}w{w}");
            let task_seed = rng.random::<u64>();
            tasks.push(tokio::spawn(traffic(
                client(),
                srv.base.clone(),
                node.token.clone(),
                users,
                model.groups.clone(),
                prefix,
                task_seed,
            )));
        }
        let delay = Duration::from_millis(rng.random_range(20..700));
        tokio::time::sleep(delay).await;
        srv.sigkill().await;
        integrity::wait_for_orphaned_sessions(&node).await;

        model.users.clear();
        in_flight.clear();
        let mut acked = 0;
        for t in tasks {
            let report = tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("traffic task did not notice the kill")
                .expect("traffic task panicked")
                .unwrap_or_else(|e| panic!("cycle {cycle}: {e}\nlog:\n{}", node.log()));
            acked += report.acked;
            for u in report.users {
                model.users.insert(u.id.clone(), u);
            }
            model.deleted.extend(report.deleted);
            in_flight.extend(report.in_flight);
        }

        srv = node.start().await;
        let when = format!("{backend:?} kill point {cycle} (after {} ms, seed {seed})", delay.as_millis());
        let (users, applied) = verify(&node, &srv, &mut model, &in_flight, &when).await;
        eprintln!(
            "{when}: {acked} writes acknowledged, {} in flight of which {applied} applied; {users} users, {} deleted",
            in_flight.len(),
            model.deleted.len()
        );
    }
    srv.sigkill().await;
    let log = node.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    eprintln!("crash test {backend:?}: {kills} kill points in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sigkill_under_load_loses_and_half_applies_nothing() {
    kill_cycles(Backend::Sqlite, env_num("CRASH_KILLS_SQLITE", 12), &[]).await;
}

/// `--sqlite-synchronous normal` never fsyncs, yet a commit is in the operating system's hands
/// (written to the WAL file) before its caller hears back: a process crash loses nothing.
/// Only an operating-system crash or a power loss could (docs/operations.md, Durability).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_without_fsync_sigkill_under_load_loses_and_half_applies_nothing() {
    kill_cycles(Backend::Sqlite, env_num("CRASH_KILLS_SQLITE", 12) / 2, &["--sqlite-synchronous", "normal"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sigkill_under_load_loses_and_half_applies_nothing() {
    kill_cycles(Backend::Postgres, env_num("CRASH_KILLS_POSTGRES", 10), &[]).await;
}
