//! The pool of read-only connections, and the read snapshots they keep between reads.
//!
//! Starting and ending a read transaction costs SQLite a lock on the WAL index (an `fcntl`)
//! each time: about a tenth of an indexed lookup's CPU (docs/performance-log.md, 2026-12-08).
//! So a reader keeps its read transaction open after a read, and the next read on it uses the
//! same snapshot, as long as that snapshot still holds every acknowledged write:
//!
//! - Each writer thread (the directory's, and the provisioning log's: log.rs) bumps
//!   [`ReadPool::commits`] after every batch it commits and before it answers the batch's
//!   callers. A log commit thus ends the kept snapshots but leaves the page caches: SQLite
//!   empties a connection's cache only when the file it caches has changed. A snapshot is taken after reading the counter, so it holds every
//!   commit counted until then; while the counter has not moved, no caller has been told of a
//!   write it lacks. A read after an acknowledged write therefore always sees that write.
//! - Another process's commits (a CLI command on the same file) are not counted: a snapshot is
//!   kept at most [`MAX_SNAPSHOT_AGE`], so they show within that time.
//! - An open snapshot holds WAL frames: a checkpoint cannot copy past it, nor can the WAL
//!   restart or be truncated. Idle readers' snapshots are ended by the checkpoint thread
//!   ([`ReadPool::release_idle`]), and before a restart or truncation it pauses the reuse
//!   ([`ReadPool::pause_reuse`]) until the writer has restarted the WAL.

use super::internal;
use domain::ports::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest a read snapshot is reused: another process's commit shows within this time.
pub(super) const MAX_SNAPSHOT_AGE: Duration = Duration::from_millis(5);

pub(super) struct ReadPool {
    idle: Mutex<Vec<Reader>>,
    pub(super) permits: tokio::sync::Semaphore,
    /// Batches the writer has committed; see the module's comment.
    commits: AtomicU64,
    /// False while a WAL restart or truncation waits for readers to let go of their snapshots.
    reuse: AtomicBool,
}

pub(super) struct Reader {
    conn: Connection,
    /// The writer's commit count read just before the open read transaction began, and when.
    snapshot: Option<(u64, Instant)>,
}

impl ReadPool {
    pub(super) fn new(connections: Vec<Connection>) -> Self {
        let permits = tokio::sync::Semaphore::new(connections.len());
        let idle = connections.into_iter().map(|conn| Reader { conn, snapshot: None }).collect();
        Self { idle: Mutex::new(idle), permits, commits: AtomicU64::new(0), reuse: AtomicBool::new(true) }
    }

    /// Called by the writer after each commit, before its callers are answered.
    pub(super) fn committed(&self) {
        self.commits.fetch_add(1, Ordering::SeqCst);
    }

    /// Takes an idle reader, inside a read transaction that holds every acknowledged write.
    /// The caller holds one of `permits`, so there is one.
    pub(super) fn take(&self) -> StoreResult<Reader> {
        let mut reader = self
            .idle
            .lock()
            .map_err(|_| StoreError::Internal("reader pool poisoned".into()))?
            .pop()
            .ok_or_else(|| StoreError::Internal("reader pool empty".into()))?;
        if let Err(e) = reader.begin(self) {
            self.give_back(reader);
            return Err(e);
        }
        Ok(reader)
    }

    pub(super) fn give_back(&self, mut reader: Reader) {
        if !self.reuse.load(Ordering::SeqCst) {
            reader.end();
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(reader);
        }
    }

    /// Ends the read transactions of the idle readers that are older than
    /// [`MAX_SNAPSHOT_AGE`] (all of them when `all`), so that they hold no WAL frames.
    pub(super) fn release_idle(&self, all: bool) {
        if let Ok(mut idle) = self.idle.lock() {
            for reader in idle.iter_mut() {
                if all || reader.snapshot.is_none_or(|(_, began)| began.elapsed() >= MAX_SNAPSHOT_AGE) {
                    reader.end();
                }
            }
        }
    }

    /// Until [`ReadPool::resume_reuse`], every read ends its transaction; the idle readers'
    /// end now. For a WAL restart or truncation, which no snapshot may hold back.
    pub(super) fn pause_reuse(&self) {
        self.reuse.store(false, Ordering::SeqCst);
        self.release_idle(true);
    }

    pub(super) fn resume_reuse(&self) {
        self.reuse.store(true, Ordering::SeqCst);
    }
}

impl Reader {
    pub(super) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Keeps the open read transaction if it may be reused, else starts a new one.
    fn begin(&mut self, pool: &ReadPool) -> StoreResult<()> {
        // Read before the snapshot is taken (at the transaction's first read): see the module.
        let commits = pool.commits.load(Ordering::SeqCst);
        let reuse = pool.reuse.load(Ordering::SeqCst);
        if !self.conn.is_autocommit() {
            let fresh =
                self.snapshot.is_some_and(|(counted, began)| counted == commits && began.elapsed() < MAX_SNAPSHOT_AGE);
            if reuse && fresh {
                return Ok(());
            }
            self.end();
        }
        if reuse {
            self.conn.prepare_cached("BEGIN").and_then(|mut st| st.execute([])).map_err(internal)?;
            self.snapshot = Some((commits, Instant::now()));
        }
        Ok(())
    }

    /// Ends the open read transaction, if any.
    fn end(&mut self) {
        self.snapshot = None;
        if self.conn.is_autocommit() {
            return;
        }
        if let Err(e) = self.conn.prepare_cached("COMMIT").and_then(|mut st| st.execute([])) {
            tracing::warn!(error = %e, "ending a read transaction failed");
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
