//! scimd-bench end to end: the tool runs its workloads against a real `scimd serve` on
//! loopback (SQLite, temp directory) and must report every phase with the right request
//! counts and no errors; a wrong token must be counted as errors, not stop the run.
//!
//! The server binary belongs to another package: the test uses the one the workspace build
//! put next to this test's directory (`cargo build --workspace`, or any workspace test run,
//! builds it), or the one `SCIMD_BIN` names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn scimd_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("SCIMD_BIN") {
        return PathBuf::from(bin);
    }
    // target/<profile>/deps/<this test> → target/<profile>/scimd
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("scimd");
    assert!(
        bin.exists(),
        "{} is missing: build the server first (cargo build -p scimd, or run the workspace's tests), or set SCIMD_BIN",
        bin.display()
    );
    bin
}

/// A `scimd serve` on a free loopback port, stopped on drop.
struct Server {
    child: Child,
    url: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    start_server_sending_to(None)
}

/// A server whose service sends activation emails to `smtp_url`, or none without one.
fn start_server_sending_to(smtp_url: Option<&str>) -> Server {
    let scimd = scimd_binary();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = |args: &[&str]| {
        let out = Command::new(&scimd).args(args).arg("--data-dir").arg(&data).output().unwrap();
        assert!(out.status.success(), "scimd {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    match smtp_url {
        Some(_) => cli(&["service", "create", "default"]),
        None => cli(&["service", "create", "default", "--no-activation-email"]),
    };
    let token = cli(&["token", "create", "--service", "default", "--description", "bench test"]).trim().to_owned();
    let mut child = Command::new(&scimd)
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit-per-token", "0", "--sqlite-wal-reserve-mib", "0"])
        .arg("--data-dir")
        .arg(&data)
        .args(smtp_url.map(|url| ["--smtp-url", url]).iter().flatten())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(addr) = line.split("scimd listening on ").nth(1) {
            url = Some(format!("{}/scim/v2", addr.trim()));
            break;
        }
    }
    let url = url.expect("scimd printed no 'listening on' line");
    Server { child, url, token, _dir: dir }
}

/// Runs scimd-bench against `server` with `token` and returns its exit status and JSON output.
fn bench(server: &Server, token: &str, args: &[&str]) -> (bool, Value) {
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_scimd-bench"))
        .args(["--url", &server.url, "--token", token, "--no-progress", "--json"])
        .arg(&json)
        .arg("--server-pid")
        .arg(server.child.id().to_string())
        .args(args)
        .output()
        .unwrap();
    let report = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), serde_json::from_str(&report).unwrap())
}

fn phase<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == name)
        .unwrap_or_else(|| panic!("no phase {name:?} in {report}"))
}

/// Runs scimd-bench with `args` against a fresh server; it must succeed without errors.
fn bench_without_errors(args: &[&str]) -> Value {
    let server = start_server();
    let (ok, report) = bench(&server, &server.token, args);
    assert!(ok, "{report}");
    assert_eq!(report["totalErrors"], 0, "{report}");
    report
}

#[test]
fn the_standard_workload_runs_every_phase_without_errors() {
    let report = bench_without_errors(&[
        "--users",
        "120",
        "--groups",
        "6",
        "--concurrency",
        "4",
        "--member-batch",
        "10",
        "--groups-per-user",
        "3",
    ]);
    for (name, requests) in [
        ("create-users", 120),
        ("filter-users", 120),
        ("get-users", 120),
        ("patch-active", 120),
        ("create-groups", 12), // a POST and a lookup per group
        ("patch-members (batch 10)", 36),
        ("filter-groups", 120),
        ("delete-users", 120),
    ] {
        let p = phase(&report, name);
        assert_eq!(p["requests"], requests, "{name}: {p}");
        assert_eq!(p["errors"], 0, "{name}: {p}");
        assert!(p["requestsPerSec"].as_f64().unwrap() > 0.0, "{name}: {p}");
        let (p50, max) = (p["latencyMs"]["p50"].as_f64().unwrap(), p["latencyMs"]["max"].as_f64().unwrap());
        assert!(p50 > 0.0 && p50 <= max, "{name}: {p}");
    }
    assert!(report["serverPeakRssKiB"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn the_scale_mode_compares_small_and_large() {
    let report = bench_without_errors(&[
        "--scale",
        "--users",
        "40",
        "--preload",
        "160",
        "--big-group-members",
        "100",
        "--small-group-members",
        "10",
        "--scale-ops",
        "20",
        "--concurrency",
        "4",
        "--preload-member-batch",
        "50",
    ]);
    let rows = report["comparison"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{report}");
    assert!(rows.iter().all(|r| r["ratio"].as_f64().unwrap() > 0.0), "{report}");
    assert_eq!(phase(&report, "filter-users @160")["requests"], 20);
    assert_eq!(phase(&report, "member +1/-1 @100")["requests"], 40, "two requests per operation");
}

#[test]
fn refused_requests_are_counted_as_errors_and_the_run_goes_on() {
    let server = start_server();
    let (_, report) =
        bench(&server, "scimd_not-a-valid-token", &["--users", "5", "--concurrency", "2", "--phases", "create-users"]);
    let p = phase(&report, "create-users");
    assert_eq!(p["requests"], 5, "{p}");
    assert_eq!(p["errors"], 5, "{p}");
    assert_eq!(p["errorsByStatus"]["401"], 5, "{p}");
    assert!(p["errorSamples"].as_array().is_some_and(|s| !s.is_empty()), "{p}");
}

/// `scimd-smtp-sink` on a free loopback port, stopped on drop.
struct Sink {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    addr: String,
}

impl Sink {
    fn start() -> Sink {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scimd-smtp-sink"))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let addr = first.strip_prefix("listening on ").unwrap_or_else(|| panic!("sink said {first:?}")).to_owned();
        Sink { child, lines, addr }
    }

    /// Messages received so far (the sink prints the count on SIGUSR1).
    fn received(&mut self) -> u64 {
        let status = Command::new("kill").args(["-USR1", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let line = self.lines.next().unwrap().unwrap();
        line.strip_prefix("received ")
            .and_then(|rest| rest.strip_suffix(" messages"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("sink said {line:?}"))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `scripts/bench.sh` runs by default: activation emails over SMTP to the sink, which
/// must receive one per created user.
#[test]
fn activation_emails_reach_the_smtp_sink() {
    let mut sink = Sink::start();
    let server = start_server_sending_to(Some(&format!("smtp://{}", sink.addr)));
    let (ok, report) =
        bench(&server, &server.token, &["--phases", "create-users", "--users", "40", "--concurrency", "4"]);
    assert!(ok && report["totalErrors"] == 0, "{report}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut received = sink.received();
    while received < 40 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        received = sink.received();
    }
    assert_eq!(received, 40, "one activation email per created user");
}
