//! `scimd-bench`: runs a Microsoft Entra ID-like provisioning workload against a SCIM 2.0 base
//! URL and prints, per phase, requests, errors by status, requests per second and p50/p99/max
//! latency (issue 7). `scimd-bench --help` lists the flags; docs/performance.md explains the
//! phases and the targets.
//!
//! Every phase runs a fixed number of operations with `--concurrency` workers that pull the next
//! operation number from a shared counter, so the run is bounded and stops by itself. Errors are
//! counted, never fatal.

mod http;
mod stats;
mod workload;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::Http;
use hyper::Method;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use stats::{PhaseResult, Recorder, sample_machine, sample_process};
use std::future::Future;
use std::io::Write as _;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use workload::mix;

#[derive(Parser)]
#[command(
    name = "scimd-bench",
    version,
    about = "Entra ID-like SCIM provisioning load against a SCIM base URL: per-phase throughput, latency and errors"
)]
struct Args {
    /// SCIM base URL (plain HTTP), e.g. http://127.0.0.1:8080/scim/v2.
    #[arg(long)]
    url: String,
    /// Bearer token (or set SCIMD_BENCH_TOKEN, which keeps it out of the process list).
    #[arg(long, env = "SCIMD_BENCH_TOKEN", hide_env_values = true, conflicts_with = "token_file")]
    token: Option<String>,
    /// File holding the bearer token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Users created (and later looked up, read, disabled and deleted).
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Concurrent workers (and pooled keep-alive connections) per phase.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Groups created.
    #[arg(long, default_value_t = 100)]
    groups: u64,
    /// Members per `Add members` PATCH in the patch-members phase.
    #[arg(long, default_value_t = 50)]
    member_batch: u64,
    /// Groups each user is added to in patch-members (member adds = users × this).
    #[arg(long, default_value_t = 10)]
    groups_per_user: u64,
    /// Lookups in filter-users and filter-groups [default: --users].
    #[arg(long)]
    lookups: Option<u64>,
    /// Phases to run (comma-separated; they always run in the listed order below) [default: all
    /// but delete-groups]. Phases that need users or groups create them first if needed.
    #[arg(long, value_enum, value_delimiter = ',')]
    phases: Vec<Phase>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write every request as a CSV line `phase,end_ms,latency_us,end_unix_ms` (end time
    /// from the phase's start, and as wall-clock time) to this file: shows whether slow
    /// requests come together (a stall of the server) or alone.
    #[arg(long)]
    latency_log: Option<PathBuf>,
    /// Scale mode: measure at --users, preload to --preload users and a --big-group-members
    /// group, measure again (filter lookups, creates, single-member PATCH, group lookup).
    #[arg(long, conflicts_with = "phases")]
    scale: bool,
    /// Scale mode: users to preload.
    #[arg(long, default_value_t = 1_000_000)]
    preload: u64,
    /// Scale mode: members of the big group.
    #[arg(long, default_value_t = 100_000)]
    big_group_members: u64,
    /// Scale mode: members of the small group it is compared with.
    #[arg(long, default_value_t = 10)]
    small_group_members: u64,
    /// Scale mode: operations in each measured phase.
    #[arg(long, default_value_t = 10_000)]
    scale_ops: u64,
    /// Scale mode: concurrent workers while preloading users and members [default: --concurrency].
    #[arg(long)]
    preload_concurrency: Option<usize>,
    /// Scale mode: members per PATCH while filling the big group.
    #[arg(long, default_value_t = 1_000)]
    preload_member_batch: u64,
    /// Per-request timeout in seconds (a timed-out request counts as an error).
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// The server's process id: adds its CPU use and resident memory to each phase.
    #[arg(long)]
    server_pid: Option<u32>,
    /// No progress bars (they are hidden anyway when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Allow a --url whose host is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Seed of the random choice of users and groups to look up.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, ValueEnum)]
enum Phase {
    /// POST /Users (Entra-shaped body).
    CreateUsers,
    /// GET /Users?filter=userName eq "…" for random existing users.
    FilterUsers,
    /// GET /Users/{id} for every user.
    GetUsers,
    /// PATCH /Users/{id} {"op":"Replace","path":"active","value":"False"} for every user.
    PatchActive,
    /// POST /Groups, then GET /Groups?excludedAttributes=members&filter=displayName eq "…".
    CreateGroups,
    /// PATCH /Groups/{id} {"op":"Add","path":"members","value":[…--member-batch ids]}.
    PatchMembers,
    /// GET /Groups?excludedAttributes=members&filter=displayName eq "…" for random groups.
    FilterGroups,
    /// DELETE /Users/{id} for every user.
    DeleteUsers,
    /// DELETE /Groups/{id} for every group (not run unless listed).
    DeleteGroups,
}

const DEFAULT_PHASES: [Phase; 8] = [
    Phase::CreateUsers,
    Phase::FilterUsers,
    Phase::GetUsers,
    Phase::PatchActive,
    Phase::CreateGroups,
    Phase::PatchMembers,
    Phase::FilterGroups,
    Phase::DeleteUsers,
];

/// Server-assigned ids of a set of users or groups, by index; unset where the create failed.
struct Ids(Vec<OnceLock<Box<str>>>);

impl Ids {
    fn new(n: u64) -> Arc<Self> {
        Arc::new(Ids((0..n).map(|_| OnceLock::new()).collect()))
    }

    fn get(&self, i: u32) -> &str {
        self.0[i as usize].get().map_or("", |s| s)
    }

    /// Indices in `range` whose create succeeded.
    fn live(&self, range: Range<u64>) -> Arc<Vec<u32>> {
        Arc::new(range.filter(|&i| self.0[i as usize].get().is_some()).map(|i| i as u32).collect())
    }
}

/// A named set of users or groups: names are derived from the tag and the index.
#[derive(Clone)]
struct Set {
    tag: Arc<str>,
    ids: Arc<Ids>,
}

impl Set {
    fn new(tag: String, n: u64) -> Self {
        Set { tag: tag.into(), ids: Ids::new(n) }
    }
}

struct Bench {
    http: Http,
    concurrency: usize,
    progress: bool,
    server_pid: Option<String>,
    seed: u64,
    results: Vec<PhaseResult>,
    /// `--latency-log`, open for appending each phase's requests.
    latency_log: Option<std::io::BufWriter<std::fs::File>>,
}

/// The request `per_object` sends: method, optional body, the statuses that count as success.
struct PerObject {
    method: Method,
    body: Option<Bytes>,
    expect: &'static [u16],
}

/// Sends one request and records it: an error unless the status is one of `expect` and
/// `check` accepts the body.
async fn call<T>(
    http: &Http,
    rec: &mut Recorder,
    method: Method,
    path: &str,
    body: Option<Bytes>,
    expect: &[u16],
    check: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Option<T> {
    let (latency, result) = http.send(method.clone(), path, body).await;
    match result {
        Ok(r) if expect.contains(&r.status) => match check(&r.body) {
            Ok(v) => {
                rec.ok(latency);
                Some(v)
            }
            Err(e) => {
                rec.error(latency, format!("{} unexpected body", r.status), &format!("{method} {path}"), &e);
                None
            }
        },
        Ok(r) => {
            let what = format!("{method} {path} → {}", r.status);
            rec.error(latency, r.status.to_string(), &what, &String::from_utf8_lossy(&r.body));
            None
        }
        Err(f) => {
            rec.error(latency, f.key().to_owned(), &format!("{method} {path}"), &f.detail());
            None
        }
    }
}

fn any_body(_: &[u8]) -> Result<(), String> {
    Ok(())
}

impl Bench {
    /// Runs `ops` operations, `op(i, recorder)` for i in 0..ops, on `concurrency` workers;
    /// prints and keeps the result; returns its index in `results`.
    async fn phase<F, Fut>(&mut self, name: &str, ops: u64, op: F) -> usize
    where
        F: Fn(u64, Recorder) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Recorder> + Send + 'static,
    {
        let bar = if self.progress { ProgressBar::new(ops) } else { ProgressBar::hidden() };
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:<28} [{bar:30}] {pos:>8}/{len:<8} {rate:>10} eta {eta}")
        {
            let rate = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            };
            bar.set_style(style.with_key("rate", rate).progress_chars("=> "));
        }
        bar.set_prefix(name.to_owned());
        let op = Arc::new(op);
        let next = Arc::new(AtomicU64::new(0));
        let client_before = sample_process("self");
        let server_before = self.server_pid.as_deref().and_then(sample_process);
        let machine_before = sample_machine();
        let start = Instant::now();
        let start_wall = std::time::SystemTime::now();
        let keep_timeline = self.latency_log.is_some();
        let workers: Vec<_> = (0..self.concurrency.clamp(1, ops.max(1) as usize))
            .map(|_| {
                let (op, next, bar) = (op.clone(), next.clone(), bar.clone());
                tokio::spawn(async move {
                    let mut rec = Recorder::with_timeline(keep_timeline);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= ops {
                            break;
                        }
                        rec = op(i, rec).await;
                        bar.inc(1);
                    }
                    rec
                })
            })
            .collect();
        let mut total = Recorder::new();
        for worker in workers {
            match worker.await {
                Ok(rec) => total.merge(rec),
                Err(e) => eprintln!("scimd-bench: a worker of {name} failed: {e}"),
            }
        }
        let elapsed = start.elapsed();
        bar.finish_and_clear();
        if let Some(log) = &mut self.latency_log {
            // Wall-clock time too, to line requests up with a trace of the server.
            let start_unix_ms =
                start_wall.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0;
            let written = total.take_timeline().into_iter().try_for_each(|(end, us)| {
                let end_ms = end.saturating_duration_since(start).as_secs_f64() * 1000.0;
                writeln!(log, "{name},{end_ms:.3},{us},{:.3}", start_unix_ms + end_ms)
            });
            if let Err(e) = written.and_then(|()| log.flush()) {
                eprintln!("scimd-bench: cannot write the latency log: {e}");
            }
        }
        let mut result = PhaseResult::new(name.to_owned(), ops, total, elapsed);
        if let (Some(a), Some(b)) = (client_before, sample_process("self")) {
            result.client_cpu = Some(b.cpu.saturating_sub(a.cpu));
        }
        if let (Some(a), Some(b)) = (server_before, self.server_pid.as_deref().and_then(sample_process)) {
            result.server_cpu = Some(b.cpu.saturating_sub(a.cpu));
            result.server_rss_kib = Some(b.rss_kib);
        }
        if let (Some(a), Some(b)) = (machine_before, sample_machine()) {
            result.machine = Some(a.until(&b));
        }
        println!("{}", result.line());
        self.results.push(result);
        self.results.len() - 1
    }

    /// Adds the sum of two earlier phases (two halves of one measurement) as a phase.
    fn combine(&mut self, name: &str, a: usize, b: usize) -> usize {
        let result = PhaseResult::combine(name.to_owned(), &self.results[a], &self.results[b]);
        println!("{}", result.line());
        self.results.push(result);
        self.results.len() - 1
    }

    /// POST /Users for indices `range` of `users`.
    async fn create_users(&mut self, name: &str, users: &Set, range: Range<u64>) -> usize {
        let (http, users) = (self.http.clone(), users.clone());
        let start = range.start;
        self.phase(name, range.end.saturating_sub(range.start), move |i, mut rec| {
            let (http, users) = (http.clone(), users.clone());
            async move {
                let n = start + i;
                let body = workload::user_body(&users.tag, n);
                if let Some(id) =
                    call(&http, &mut rec, Method::POST, "/Users", Some(body), &[201], workload::parse_id).await
                {
                    let _ = users.ids.0[n as usize].set(id);
                }
                rec
            }
        })
        .await
    }

    /// `ops` lookups `GET /Users?filter=userName eq "…"` of random users among `live`.
    async fn filter_users(&mut self, name: &str, users: &Set, live: &Arc<Vec<u32>>, ops: u64) -> usize {
        let (http, tag, live, seed) = (self.http.clone(), users.tag.clone(), live.clone(), self.seed);
        self.phase(name, if live.is_empty() { 0 } else { ops }, move |i, mut rec| {
            let (http, tag, live) = (http.clone(), tag.clone(), live.clone());
            async move {
                let n = live[(mix(seed, i) % live.len() as u64) as usize];
                let path = workload::user_filter_path(&workload::user_name(&tag, u64::from(n)));
                call(&http, &mut rec, Method::GET, &path, None, &[200], |b| workload::expect_total(b, 1)).await;
                rec
            }
        })
        .await
    }

    /// One request per object of `live`: `method {collection}/{id}` with an optional body.
    async fn per_object(
        &mut self,
        name: &str,
        target: (&'static str, &Arc<Ids>, &Arc<Vec<u32>>),
        req: PerObject,
    ) -> usize {
        let (collection, ids, live) = target;
        let PerObject { method, body, expect } = req;
        let (http, ids, live) = (self.http.clone(), ids.clone(), live.clone());
        self.phase(name, live.len() as u64, move |i, mut rec| {
            let (http, ids, live, method, body) =
                (http.clone(), ids.clone(), live.clone(), method.clone(), body.clone());
            async move {
                let path = format!("{collection}/{}", ids.get(live[i as usize]));
                call(&http, &mut rec, method, &path, body, expect, any_body).await;
                rec
            }
        })
        .await
    }

    /// POST /Groups for groups 0..n, each followed by Entra's lookup of it by displayName.
    async fn create_groups(&mut self, name: &str, groups: &Set, n: u64) -> usize {
        let (http, groups) = (self.http.clone(), groups.clone());
        self.phase(name, n, move |g, mut rec| {
            let (http, groups) = (http.clone(), groups.clone());
            async move {
                let display_name = workload::group_name(&groups.tag, g);
                let body = workload::group_body(&display_name);
                if let Some(id) =
                    call(&http, &mut rec, Method::POST, "/Groups", Some(body), &[201], workload::parse_id).await
                {
                    let _ = groups.ids.0[g as usize].set(id);
                    let path = workload::group_filter_path(&display_name);
                    call(&http, &mut rec, Method::GET, &path, None, &[200], |b| workload::expect_total(b, 1)).await;
                }
                rec
            }
        })
        .await
    }

    /// `ops` lookups `GET /Groups?excludedAttributes=members&filter=displayName eq "…"` of
    /// random groups among `live`.
    async fn filter_groups(&mut self, name: &str, groups: &Set, live: &Arc<Vec<u32>>, ops: u64) -> usize {
        let (http, tag, live, seed) = (self.http.clone(), groups.tag.clone(), live.clone(), self.seed);
        self.phase(name, if live.is_empty() { 0 } else { ops }, move |i, mut rec| {
            let (http, tag, live) = (http.clone(), tag.clone(), live.clone());
            async move {
                let g = live[(mix(seed ^ 0x6772, i) % live.len() as u64) as usize];
                let path = workload::group_filter_path(&workload::group_name(&tag, u64::from(g)));
                call(&http, &mut rec, Method::GET, &path, None, &[200], |b| workload::expect_total(b, 1)).await;
                rec
            }
        })
        .await
    }

    /// One `Add members` PATCH per batch: `(group index, user indices)`.
    async fn add_members(&mut self, name: &str, users: &Set, groups: &Set, batches: Vec<(u32, Vec<u32>)>) -> usize {
        let (http, users, groups, batches) =
            (self.http.clone(), users.ids.clone(), groups.ids.clone(), Arc::new(batches));
        self.phase(name, batches.len() as u64, move |i, mut rec| {
            let (http, users, groups, batches) = (http.clone(), users.clone(), groups.clone(), batches.clone());
            async move {
                let (g, members) = &batches[i as usize];
                let body = workload::members_patch("Add", members.iter().map(|&u| users.get(u)));
                let path = format!("/Groups/{}", groups.get(*g));
                call(&http, &mut rec, Method::PATCH, &path, Some(body), &[200, 204], any_body).await;
                rec
            }
        })
        .await
    }

    /// `ops` times: add one user of `candidates` to the group, then remove it again.
    async fn add_remove_one(
        &mut self,
        name: &str,
        group_id: &str,
        users: &Arc<Ids>,
        candidates: &Arc<Vec<u32>>,
        ops: u64,
    ) -> usize {
        let path: Arc<str> = format!("/Groups/{group_id}").into();
        let (http, users, candidates) = (self.http.clone(), users.clone(), candidates.clone());
        self.phase(name, if candidates.is_empty() { 0 } else { ops }, move |i, mut rec| {
            let (http, users, candidates, path) = (http.clone(), users.clone(), candidates.clone(), path.clone());
            async move {
                let id = users.get(candidates[(i % candidates.len() as u64) as usize]);
                for op in ["Add", "Remove"] {
                    let body = workload::members_patch(op, [id]);
                    call(&http, &mut rec, Method::PATCH, &path, Some(body), &[200, 204], any_body).await;
                }
                rec
            }
        })
        .await
    }
}

/// Member batches for patch-members: user `u` (by position in `users`) joins the `per_user`
/// groups following `u mod groups`; each group's member list is cut into batches of `batch`,
/// and batches are interleaved across groups so that concurrent workers patch different groups.
fn member_batches(users: &[u32], groups: &[u32], per_user: u64, batch: u64) -> Vec<(u32, Vec<u32>)> {
    if groups.is_empty() || users.is_empty() {
        return Vec::new();
    }
    let g = groups.len();
    let per_user = (per_user as usize).min(g);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); g];
    for (pos, &u) in users.iter().enumerate() {
        for k in 0..per_user {
            members[(pos + k) % g].push(u);
        }
    }
    let chunked: Vec<Vec<Vec<u32>>> =
        members.into_iter().map(|m| m.chunks(batch.max(1) as usize).map(<[u32]>::to_vec).collect()).collect();
    let rounds = chunked.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for r in 0..rounds {
        for (gi, chunks) in chunked.iter().enumerate() {
            if let Some(c) = chunks.get(r) {
                out.push((groups[gi], c.clone()));
            }
        }
    }
    out
}

/// Runs the selected phases of the standard workload.
async fn standard(bench: &mut Bench, args: &Args, run: &str) {
    let mut phases = if args.phases.is_empty() { DEFAULT_PHASES.to_vec() } else { args.phases.clone() };
    phases.sort();
    phases.dedup();
    let lookups = args.lookups.unwrap_or(args.users);
    let users = Set::new(format!("bench_{run}_u"), args.users);
    let groups = Set::new(format!("Bench {run} Group "), args.groups);
    let mut users_made = false;
    let mut groups_made = false;
    let needs_users = |p: Phase| {
        p != Phase::CreateUsers && p != Phase::CreateGroups && p != Phase::FilterGroups && p != Phase::DeleteGroups
    };
    let needs_groups = |p: Phase| matches!(p, Phase::PatchMembers | Phase::FilterGroups | Phase::DeleteGroups);
    for phase in phases {
        if needs_users(phase) && !users_made {
            bench.create_users("setup: create-users", &users, 0..args.users).await;
            users_made = true;
        }
        if needs_groups(phase) && !groups_made {
            bench.create_groups("setup: create-groups", &groups, args.groups).await;
            groups_made = true;
        }
        let live_users = || users.ids.live(0..args.users);
        let live_groups = || groups.ids.live(0..args.groups);
        match phase {
            Phase::CreateUsers => {
                bench.create_users("create-users", &users, 0..args.users).await;
                users_made = true;
            }
            Phase::FilterUsers => {
                bench.filter_users("filter-users", &users, &live_users(), lookups).await;
            }
            Phase::GetUsers => {
                let req = PerObject { method: Method::GET, body: None, expect: &[200] };
                bench.per_object("get-users", ("/Users", &users.ids, &live_users()), req).await;
            }
            Phase::PatchActive => {
                let body = Some(Bytes::from_static(workload::PATCH_ACTIVE_FALSE.as_bytes()));
                let req = PerObject { method: Method::PATCH, body, expect: &[200, 204] };
                bench.per_object("patch-active", ("/Users", &users.ids, &live_users()), req).await;
            }
            Phase::CreateGroups => {
                bench.create_groups("create-groups", &groups, args.groups).await;
                groups_made = true;
            }
            Phase::PatchMembers => {
                let batches = member_batches(&live_users(), &live_groups(), args.groups_per_user, args.member_batch);
                let name = format!("patch-members (batch {})", args.member_batch);
                bench.add_members(&name, &users, &groups, batches).await;
            }
            Phase::FilterGroups => {
                bench.filter_groups("filter-groups", &groups, &live_groups(), lookups).await;
            }
            Phase::DeleteUsers => {
                let req = PerObject { method: Method::DELETE, body: None, expect: &[204] };
                bench.per_object("delete-users", ("/Users", &users.ids, &live_users()), req).await;
            }
            Phase::DeleteGroups => {
                let req = PerObject { method: Method::DELETE, body: None, expect: &[204] };
                bench.per_object("delete-groups", ("/Groups", &groups.ids, &live_groups()), req).await;
            }
        }
    }
}

/// One row of the scale-mode comparison: the same measurement at small and at large size.
struct Comparison {
    what: &'static str,
    small: (String, usize),
    large: (String, usize),
}

/// Scale mode: the same measurements at `--users` and at `--preload` users, and on a small
/// and a big group.
async fn scale(bench: &mut Bench, args: &Args, run: &str) -> anyhow::Result<Vec<Comparison>> {
    let (base, total, big, small, ops) =
        (args.users, args.preload, args.big_group_members, args.small_group_members, args.scale_ops);
    if base > total || big > total || small > big {
        bail!(
            "scale mode needs --users ≤ --preload, --big-group-members ≤ --preload and --small-group-members ≤ --big-group-members"
        );
    }
    let pre = Set::new(format!("bench_{run}_p"), total);
    let fresh_small = Set::new(format!("bench_{run}_a"), ops);
    let fresh_large = Set::new(format!("bench_{run}_b"), ops);
    let groups = Set::new(format!("Bench {run} Scale "), 2);

    let measure_concurrency = bench.concurrency;
    let preload_concurrency = args.preload_concurrency.unwrap_or(measure_concurrency).max(1);
    bench.concurrency = preload_concurrency;
    bench.create_users(&format!("preload users to {base}"), &pre, 0..base).await;
    bench.concurrency = measure_concurrency;
    let live = pre.ids.live(0..base);
    let filter_small = bench.filter_users(&format!("filter-users @{base}"), &pre, &live, ops).await;
    let create_small = bench.create_users(&format!("create-users @{base}"), &fresh_small, 0..ops).await;

    bench.concurrency = preload_concurrency;
    bench.create_users(&format!("preload users to {total}"), &pre, base..total).await;
    bench.concurrency = measure_concurrency;
    let live = pre.ids.live(0..total);
    let population = live.len() as u64 + ops;
    let filter_large = bench.filter_users(&format!("filter-users @{total}"), &pre, &live, ops).await;
    let create_large = bench.create_users(&format!("create-users @{total}"), &fresh_large, 0..ops).await;

    bench.create_groups("setup: 2 groups", &groups, 2).await;
    let (big_id, small_id) = match (groups.ids.0[0].get(), groups.ids.0[1].get()) {
        (Some(b), Some(s)) => (b.to_string(), s.to_string()),
        _ => bail!("could not create the two scale-mode groups"),
    };
    let batches = |n: u64, group: u32| -> Vec<(u32, Vec<u32>)> {
        let members: Vec<u32> = pre.ids.live(0..n).iter().copied().collect();
        members.chunks(args.preload_member_batch.max(1) as usize).map(|c| (group, c.to_vec())).collect()
    };
    bench.concurrency = preload_concurrency;
    bench.add_members(&format!("preload {big} members"), &pre, &groups, batches(big, 0)).await;
    bench.add_members(&format!("preload {small} members"), &pre, &groups, batches(small, 1)).await;
    bench.concurrency = measure_concurrency;

    // Users outside the big group: the rest of the preload, else the freshly created ones.
    let (cand_ids, candidates) = if big < total {
        (pre.ids.clone(), pre.ids.live(big..total))
    } else {
        (fresh_large.ids.clone(), fresh_large.ids.live(0..ops))
    };
    // Small and big group alternate in A B B A order, half the operations each time, so that
    // drift during the run (WAL checkpoints, background work, other load) favours neither.
    let half = ops.div_ceil(2);
    let group_filter = |g: u32| Arc::new(vec![g]);
    let mut patch = Vec::new();
    let mut gfilter = Vec::new();
    for (n, (size, id, index)) in
        [(small, &small_id, 1), (big, &big_id, 0), (big, &big_id, 0), (small, &small_id, 1)].into_iter().enumerate()
    {
        let part = if n < 2 { "a" } else { "b" };
        let name = format!("member +1/-1 @{size} ({part})");
        patch.push(bench.add_remove_one(&name, id, &cand_ids, &candidates, half).await);
        let name = format!("filter-group @{size} ({part})");
        gfilter.push(bench.filter_groups(&name, &groups, &group_filter(index), half).await);
    }
    let patch_small = bench.combine(&format!("member +1/-1 @{small}"), patch[0], patch[3]);
    let patch_large = bench.combine(&format!("member +1/-1 @{big}"), patch[1], patch[2]);
    let gfilter_small = bench.combine(&format!("filter-group @{small} members"), gfilter[0], gfilter[3]);
    let gfilter_large = bench.combine(&format!("filter-group @{big} members"), gfilter[1], gfilter[2]);

    let users_label = |n: u64| format!("{n} users");
    let members_label = |n: u64| format!("{n} members");
    Ok(vec![
        Comparison {
            what: "filter-users",
            small: (users_label(base), filter_small),
            large: (users_label(total), filter_large),
        },
        Comparison {
            what: "create-users",
            small: (users_label(base + ops), create_small),
            large: (users_label(population), create_large),
        },
        Comparison {
            what: "single-member PATCH",
            small: (members_label(small), patch_small),
            large: (members_label(big), patch_large),
        },
        Comparison {
            what: "group filter (excl. members)",
            small: (members_label(small), gfilter_small),
            large: (members_label(big), gfilter_large),
        },
    ])
}

fn print_comparison(results: &[PhaseResult], rows: &[Comparison]) {
    println!("\nflat cost growth (small → large; ratio = large req/s ÷ small req/s):");
    println!(
        "{:<30} {:>16} {:>10} {:>8}   {:>16} {:>10} {:>8}   {:>6}",
        "measure", "small", "req/s", "p99 ms", "large", "req/s", "p99 ms", "ratio"
    );
    for row in rows {
        let (s, l) = (&results[row.small.1], &results[row.large.1]);
        let ratio = if s.ops_per_sec() > 0.0 { 100.0 * l.ops_per_sec() / s.ops_per_sec() } else { 0.0 };
        println!(
            "{:<30} {:>16} {:>10.0} {:>8.2}   {:>16} {:>10.0} {:>8.2}   {:>5.0}%",
            row.what,
            row.small.0,
            s.ops_per_sec(),
            s.quantile_ms(0.99),
            row.large.0,
            l.ops_per_sec(),
            l.quantile_ms(0.99),
            ratio
        );
    }
}

fn comparison_json(results: &[PhaseResult], rows: &[Comparison]) -> serde_json::Value {
    rows.iter()
        .map(|row| {
            let (s, l) = (&results[row.small.1], &results[row.large.1]);
            serde_json::json!({
                "measure": row.what,
                "small": { "size": row.small.0, "phase": s.name, "requestsPerSec": s.ops_per_sec(), "p99Ms": s.quantile_ms(0.99) },
                "large": { "size": row.large.0, "phase": l.name, "requestsPerSec": l.ops_per_sec(), "p99Ms": l.quantile_ms(0.99) },
                "ratio": if s.ops_per_sec() > 0.0 { l.ops_per_sec() / s.ops_per_sec() } else { 0.0 },
            })
        })
        .collect()
}

fn read_token(args: &Args) -> anyhow::Result<String> {
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        (None, None) => bail!("give the bearer token with --token, --token-file or SCIMD_BENCH_TOKEN"),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("the bearer token is empty");
    }
    Ok(token)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let token = read_token(&args)?;
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if args.users > u64::from(u32::MAX) || args.preload > u64::from(u32::MAX) || args.groups > u64::from(u32::MAX) {
        bail!("--users, --preload and --groups must be below 2^32");
    }
    let http = Http::new(&args.url, &token, Duration::from_secs(args.timeout_secs.max(1)), args.allow_remote)?;
    // A run id in every userName and displayName, so that runs against one server never collide.
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut bench = Bench {
        http,
        concurrency: args.concurrency,
        progress: !args.no_progress,
        server_pid: args.server_pid.map(|p| p.to_string()),
        seed: args.seed,
        results: Vec::new(),
        latency_log: match &args.latency_log {
            Some(path) => {
                let mut file = std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
                );
                writeln!(file, "phase,end_ms,latency_us,end_unix_ms")?;
                Some(file)
            }
            None => None,
        },
    };
    let mode = if args.scale { "scale" } else { "standard" };
    println!(
        "scimd-bench: {mode} run {run} against {} (concurrency {}, users {}, groups {}, member batch {}{})",
        args.url,
        args.concurrency,
        args.users,
        args.groups,
        args.member_batch,
        if args.scale {
            format!(
                ", preload {}, big group {}, {} ops per measure",
                args.preload, args.big_group_members, args.scale_ops
            )
        } else {
            String::new()
        }
    );
    println!("{}", PhaseResult::header());
    let started = Instant::now();
    let comparison = if args.scale { Some(scale(&mut bench, &args, &run).await?) } else { None };
    if !args.scale {
        standard(&mut bench, &args, &run).await;
    }
    let results = &bench.results;
    let reports: Vec<String> = results.iter().filter_map(PhaseResult::error_report).collect();
    if !reports.is_empty() {
        println!("\nerrors (status ×count, then the first response bodies):");
        for r in &reports {
            println!("{r}");
        }
    }
    if let Some(rows) = &comparison {
        print_comparison(results, rows);
    }
    let server = bench.server_pid.as_deref().and_then(sample_process);
    if let Some(s) = server {
        println!("\nserver memory: peak resident {} MiB (VmHWM), now {} MiB", s.hwm_kib / 1024, s.rss_kib / 1024);
    }
    let total_errors: u64 = results.iter().map(PhaseResult::error_count).sum();
    println!("\ndone in {:.1} s, {total_errors} errors", started.elapsed().as_secs_f64());
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "tool": "scimd-bench",
            "version": env!("CARGO_PKG_VERSION"),
            "mode": mode,
            "run": run,
            "url": args.url,
            "config": {
                "users": args.users, "concurrency": args.concurrency, "groups": args.groups,
                "memberBatch": args.member_batch, "groupsPerUser": args.groups_per_user,
                "lookups": args.lookups.unwrap_or(args.users), "preload": args.preload,
                "bigGroupMembers": args.big_group_members, "smallGroupMembers": args.small_group_members,
                "scaleOps": args.scale_ops, "preloadConcurrency": args.preload_concurrency.unwrap_or(args.concurrency),
                "preloadMemberBatch": args.preload_member_batch, "timeoutSecs": args.timeout_secs,
            },
            "phases": results.iter().map(PhaseResult::to_json).collect::<Vec<_>>(),
            "comparison": comparison.as_ref().map(|rows| comparison_json(results, rows)),
            "serverPeakRssKiB": server.map(|s| s.hwm_kib),
            "totalErrors": total_errors,
            "elapsedSec": started.elapsed().as_secs_f64(),
        });
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        println!("results written to {}", path.display());
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimd-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_batches_cover_every_membership_once_and_interleave_groups() {
        let users: Vec<u32> = (0..100).collect();
        let groups: Vec<u32> = (0..10).collect();
        let batches = member_batches(&users, &groups, 3, 7);
        let adds: usize = batches.iter().map(|(_, m)| m.len()).sum();
        assert_eq!(adds, 300);
        assert!(batches.iter().all(|(_, m)| m.len() <= 7));
        // Consecutive batches go to different groups.
        assert_ne!(batches[0].0, batches[1].0);
        let mut pairs: Vec<(u32, u32)> = batches.iter().flat_map(|(g, m)| m.iter().map(move |&u| (*g, u))).collect();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), 300);
    }

    #[test]
    fn cli_parses() {
        let args = Args::try_parse_from([
            "scimd-bench",
            "--url",
            "http://127.0.0.1:1/scim/v2",
            "--token",
            "t",
            "--phases",
            "filter-users,create-users",
        ])
        .expect("valid arguments");
        assert_eq!(args.phases, vec![Phase::FilterUsers, Phase::CreateUsers]);
        assert!(
            Args::try_parse_from(["scimd-bench", "--url", "u", "--token", "t", "--scale", "--phases", "get-users"])
                .is_err()
        );
    }
}
