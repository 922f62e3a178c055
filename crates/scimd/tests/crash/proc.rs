//! Runs `scimd serve` as a child process that the tests may kill (SIGKILL), stop (SIGTERM) and
//! restart on the same data: the SQLite data directory or the same PostgreSQL database.
//! Shared with tests/secrets (not every helper is used by both).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL cluster to create scratch databases on, or `None` when PostgreSQL tests are
/// explicitly skipped (`SCIMD_TEST_SKIP_POSTGRES=1` and no `TEST_DATABASE_URL`).
pub fn postgres_cluster() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("SCIMD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") => None,
        Err(_) => panic!("TEST_DATABASE_URL is not set: run scripts/test-all.sh, or set SCIMD_TEST_SKIP_POSTGRES=1"),
    }
}

/// One server's data (a data directory, and a database on PostgreSQL) and what was learnt at
/// its first start (the token of the service `default`). Survives restarts of the process.
pub struct Node {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
    pub token: String,
    /// Extra `scimd serve` arguments.
    pub args: Vec<String>,
    /// `RUST_LOG` of the server and CLI processes.
    pub rust_log: String,
    /// Every line the server printed on stdout before listening, all starts.
    pub stdout: Vec<String>,
    starts: u32,
}

/// A running `scimd serve` process.
pub struct Running {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub root: String,
    /// `http://127.0.0.1:PORT/scim/v2`.
    pub base: String,
    pub addr: String,
}

impl Node {
    /// A node with fresh data, or `None` when the PostgreSQL variant is skipped.
    pub async fn new(backend: Backend, args: &[&str]) -> Option<Self> {
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let cluster = postgres_cluster()?;
                Some(store::postgres::create_scratch_database(&cluster).await.expect("scratch database"))
            }
        };
        Some(Self {
            backend,
            dir: tempfile::tempdir().expect("temp dir"),
            database_url,
            token: String::new(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            rust_log: "info,tower_http=warn".to_owned(),
            stdout: Vec::new(),
            starts: 0,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Everything the server processes wrote to stderr so far (all starts, appended).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn storage_args(&self, cmd: &mut Command) {
        cmd.arg("--data-dir").arg(self.dir.path());
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("SCIMD_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("RUST_LOG", &self.rust_log);
        // A small WAL reserve (not the default 128 MiB, to spare the disk): recovery after a
        // kill must take the zeros past the last frame for the end of the WAL.
        cmd.env("SCIMD_SQLITE_WAL_RESERVE_MIB", "8");
    }

    /// Starts `scimd serve` on this node's data and waits until it listens. The first start
    /// records the token it prints.
    pub async fn start(&mut self) -> Running {
        self.starts += 1;
        let mut log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("server log file");
        std::io::Write::write_all(&mut log, format!("===== start {} =====\n", self.starts).as_bytes())
            .expect("write server log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(&self.args);
        self.storage_args(&mut cmd);
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(log)).stdin(Stdio::null()).kill_on_drop(true);
        let mut child = cmd.spawn().expect("start scimd serve");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut addr = None;
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                self.stdout.push(line.clone());
                if let Some(t) = line.split("Secret Token:").nth(1) {
                    self.token = t.trim().to_owned();
                }
                if let Some(a) = line.split("scimd listening on http://").nth(1) {
                    addr = Some(a.trim().to_owned());
                    return;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), read).await.is_err() || addr.is_none() {
            panic!("scimd serve (start {}) did not listen; server log:\n{}", self.starts, self.log());
        }
        assert!(!self.token.is_empty(), "the first start printed no token; log:\n{}", self.log());
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = addr.expect("address");
        let root = format!("http://{addr}");
        Running { child, base: format!("{root}/scim/v2"), root, addr }
    }

    /// Runs a `scimd` CLI command on this node's data; returns (success, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
        cmd.args(args);
        self.storage_args(&mut cmd);
        let out = cmd.stdin(Stdio::null()).output().await.expect("run scimd");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// SIGKILL: no chance to finish anything. Waits until the process is gone.
    pub async fn sigkill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub async fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().await;
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// Waits for the process to exit, at most `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.child.wait()).await.ok().map(|r| r.expect("wait for scimd"))
    }
}
