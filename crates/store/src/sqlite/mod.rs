//! The embedded SQLite backend.
//!
//! Concurrency design (docs/architecture.md):
//! - **One writer thread** owns the only write connection. Write jobs arrive on a channel; the
//!   thread takes every job waiting, runs each inside its own SAVEPOINT (a failing job rolls
//!   back alone; a user create, update or delete, whose expected failures all come before its
//!   first change, needs none: batch.rs), and commits the batch: group commit. A job's caller
//!   hears back only once the batch is durable: with `synchronous=FULL` a **syncer thread** fsyncs the WAL for every
//!   batch committed since its last fsync while the writer already runs the next batch.
//! - **Readers** use a small pool of read-only connections; in WAL mode they never wait for
//!   the writer. A reader keeps its snapshot from one read to the next until the writer
//!   commits (readers.rs).

mod activation;
mod admin;
mod batch;
mod groups;
mod log;
mod outbox;
mod readers;
mod rows;
mod services;
mod users;
mod wal_reserve;

use batch::{Completion, Guard, Job};
use domain::ports::{StoreError, StoreResult};
use readers::ReadPool;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// Migrations, in order. The version is the file's number; both backends use the same numbers.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, "admin", include_str!("../../migrations/sqlite/0002_admin.sql")),
    (3, "log_time_index", include_str!("../../migrations/sqlite/0003_log_time_index.sql")),
    (4, "log_file", include_str!("../../migrations/sqlite/0004_log_file.sql")),
];

/// Most jobs committed together in one transaction.
const MAX_BATCH: usize = 512;
const READERS: usize = 4;

pub struct SqliteStore {
    /// The database file, for the final checkpoint of [`domain::ports::Store::close`].
    path: std::path::PathBuf,
    /// The provisioning log's file (log.rs), likewise.
    log_path: std::path::PathBuf,
    writer: mpsc::SyncSender<Job>,
    /// The provisioning log's writer thread, on the log file.
    log_writer: mpsc::SyncSender<Job>,
    readers: Arc<ReadPool>,
    /// Told after a commit that queued outbox messages (see `Store::set_outbox_listener`).
    outbox_listener: Mutex<Option<domain::ports::OutboxListener>>,
    /// The checkpoint thread runs while this lives.
    _alive: Arc<()>,
    /// Shared with the writer; `closed` also tells `Drop` that `close` emptied the WAL already.
    signals: Arc<WriterSignals>,
}

/// A CLI command drops its store when it is done (a server calls `close`, as its store lives
/// until the process exits): the database file is then self-contained as well. Without waiting:
/// should a server be using the database, the WAL is its to empty, and a `TRUNCATE` waiting for
/// its readers would hold its writers back meanwhile.
impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.signals.closed.load(Ordering::SeqCst) {
            return;
        }
        // This store's own readers' snapshots would make the checkpoint busy.
        self.readers.pause_reuse();
        for path in [&self.path, &self.log_path] {
            if let Err(e) = empty_the_wal(path, std::time::Duration::ZERO) {
                tracing::debug!(error = %e, "emptying the WAL when the store was dropped failed");
            }
        }
    }
}

/// Copies every WAL frame into the database file and truncates the WAL to nothing, so that the
/// database file alone holds every change. `TRUNCATE` waits for the writer's batch and for
/// readers, up to `wait`. SQLite does this itself when its last connection closes, but a
/// process that exits with its connections open (every scimd process: the store lives on its
/// threads) would leave the WAL, and with it the latest changes, beside the file.
fn empty_the_wal(path: &Path, wait: std::time::Duration) -> StoreResult<()> {
    let conn = Connection::open(path).map_err(internal)?;
    conn.busy_timeout(wait).map_err(internal)?;
    let (busy, frames, copied) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
        .map_err(internal)?;
    if busy != 0 {
        return Err(StoreError::Unavailable(format!(
            "the final checkpoint could not finish ({copied} of {frames} WAL frames copied); the WAL keeps the rest"
        )));
    }
    Ok(())
}

/// Page cache of the provisioning log's writer, in KiB: it only appends.
const LOG_CACHE_KIB: i64 = 2048;

/// Page cache of each reader and of the checkpoint connection, in KiB. SQLite empties a
/// connection's cache whenever another connection has committed, so a reader's stays small.
const CACHE_KIB: i64 = 8_000;

/// Page cache of the writer, in KiB. Only other connections' commits empty a cache, and a
/// running server's commits are all the writer's own (a CLI command's aside): its cache keeps
/// the indexes' hot pages from batch to batch.
///
/// At 1,000,000 users a create updates five indexes on random keys; 32 MiB instead of 8 made
/// creates 12 % and lookups 16 % faster there in three alternating scale runs, for about 30 MiB
/// more resident memory. The price grows with the size: until the database passes 1 GiB, a
/// commit after a B-tree split that swapped page numbers scans the whole cache's hash
/// (docs/performance-log.md, 2026-12-07).
const WRITER_CACHE_KIB: i64 = 32 * 1024;

fn configure(conn: &Connection, synchronous: &str, cache_kib: i64) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    // Savepoint journals stay in memory instead of spilling to temporary files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    for (version, name, sql) in MIGRATIONS {
        let done: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| {
                r.get(0)
            })?;
        if done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, domain::format_timestamp(domain::now())],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied SQLite migration");
    }
    Ok(())
}

pub(crate) fn internal(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens the database file (creating it), applies migrations, starts the writer thread.
    pub fn open(path: &Path, synchronous: &str) -> Result<Self, String> {
        Self::open_reserving(path, synchronous, 0)
    }

    /// As [`SqliteStore::open`], and the writer extends the WAL file to `wal_reserve_bytes`
    /// while it is idle (wal_reserve.rs). For a server; a short CLI command has no use for it.
    pub fn open_reserving(path: &Path, synchronous: &str, wal_reserve_bytes: u64) -> Result<Self, String> {
        let mut policy = WalPolicy::default();
        // A reserved WAL file is that large with nothing in it: truncate only well past it.
        policy.truncate_bytes = policy.truncate_bytes.max(wal_reserve_bytes.saturating_mul(2));
        Self::open_with_policy(path, synchronous, policy, wal_reserve_bytes)
    }

    fn open_with_policy(
        path: &Path,
        synchronous: &str,
        policy: WalPolicy,
        wal_reserve_bytes: u64,
    ) -> Result<Self, String> {
        let synchronous = match synchronous.to_ascii_lowercase().as_str() {
            "full" => "FULL",
            "normal" => "NORMAL",
            other => return Err(format!("sqlite synchronous must be full or normal, not {other:?}")),
        };
        let mut conn = Connection::open(path).map_err(|e| e.to_string())?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| e.to_string())?;
        configure(&conn, synchronous, WRITER_CACHE_KIB).map_err(|e| e.to_string())?;
        // The log file first: migration 4 drops the log table of the directory's file once
        // its rows are in the log file.
        let log_path = log::log_file(path);
        let log_conn = Connection::open(&log_path).map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        log_conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| e.to_string())?;
        // Log rows are written after their requests were answered (scimd's audit.rs): the
        // disk needs no flush per commit; a crash of the operating system may lose the last.
        configure(&log_conn, "NORMAL", LOG_CACHE_KIB).map_err(|e| e.to_string())?;
        log_conn.execute_batch(log::SCHEMA).map_err(|e| format!("provisioning log schema: {e}"))?;
        log::move_into_log_file(&conn, &log_path).map_err(|e| format!("moving the provisioning log: {e}"))?;
        migrate(&mut conn).map_err(|e| format!("migration failed: {e}"))?;

        let mut idle = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(|e| e.to_string())?;
            configure(&r, synchronous, CACHE_KIB).map_err(|e| e.to_string())?;
            r.execute(&format!("ATTACH DATABASE ?1 AS {}", log::ATTACHED_AS), [log_path.to_string_lossy()])
                .map_err(|e| format!("cannot attach {}: {e}", log_path.display()))?;
            idle.push(r);
        }
        let readers = Arc::new(ReadPool::new(idle));

        // Checkpoints run on their own thread and connection (PASSIVE: they never block the
        // writer), so the writer's commits never pay for copying the WAL into the database.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|e| e.to_string())?;
        let alive = Arc::new(());
        let checkpointer = Connection::open(path).map_err(|e| e.to_string())?;
        configure(&checkpointer, synchronous, CACHE_KIB).map_err(|e| e.to_string())?;
        let watch = Arc::downgrade(&alive);
        let signals = Arc::new(WriterSignals::default());
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = std::path::PathBuf::from(wal);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn({
                let wal = wal.clone();
                let signals = signals.clone();
                let readers = Arc::clone(&readers);
                move || checkpoint_loop(checkpointer, wal, watch, &signals, &readers, policy)
            })
            .map_err(|e| e.to_string())?;

        // synchronous=FULL: the writer commits without waiting for the disk (NORMAL) and hands
        // each committed batch to the syncer thread, which fsyncs the WAL once for every batch
        // committed meanwhile and only then answers their callers. The next batch runs while
        // the disk works: the same durability as FULL, without the fsync on the writer's path.
        let syncer = if synchronous == "FULL" {
            conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| e.to_string())?;
            let wal_file = std::fs::File::open(&wal).map_err(|e| format!("cannot open {}: {e}", wal.display()))?;
            let (sync_tx, sync_rx) = mpsc::channel::<Vec<Completion>>();
            std::thread::Builder::new()
                .name("sqlite-syncer".into())
                .spawn(move || syncer_loop(wal_file, sync_rx))
                .map_err(|e| e.to_string())?;
            Some(sync_tx)
        } else {
            None
        };
        let reserve = wal_reserve::WalReserve::open(&wal, wal_reserve_bytes);
        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn({
                let signals = Arc::clone(&signals);
                let readers = Arc::clone(&readers);
                move || writer_loop(conn, rx, syncer, &signals, &readers, reserve)
            })
            .map_err(|e| e.to_string())?;
        let (log_tx, log_rx) = mpsc::sync_channel::<Job>(1024);
        std::thread::Builder::new()
            .name("sqlite-log-writer".into())
            .spawn({
                let readers = Arc::clone(&readers);
                let signals = WriterSignals::default();
                move || writer_loop(log_conn, log_rx, None, &signals, &readers, None)
            })
            .map_err(|e| e.to_string())?;
        Ok(Self {
            path: path.to_owned(),
            log_path,
            writer: tx,
            log_writer: log_tx,
            readers,
            outbox_listener: Mutex::new(None),
            _alive: alive,
            signals,
        })
    }

    /// Runs `f` on the writer connection inside its own savepoint and resolves once the batch
    /// it joined has committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(&self.writer, Guard::Savepoint, f).await
    }

    /// As [`SqliteStore::write`], without the savepoint, for a job whose expected failures all
    /// come before its first change (see `batch.rs`).
    pub(crate) async fn write_without_savepoint<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(&self.writer, Guard::FailsBeforeChanging, f).await
    }

    /// As [`SqliteStore::write_without_savepoint`], on the provisioning log's file.
    async fn write_log<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(&self.log_writer, Guard::FailsBeforeChanging, f).await
    }

    async fn submit<T, F>(&self, writer: &mpsc::SyncSender<Job>, guard: Guard, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job = batch::job(guard, f, done_tx);
        match writer.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(job)) => {
                // A full queue blocks; wait for room off the async threads.
                let sender = writer.clone();
                tokio::task::spawn_blocking(move || sender.send(job))
                    .await
                    .map_err(|e| StoreError::Internal(e.to_string()))?
                    .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Err(StoreError::Unavailable("the SQLite writer has stopped".into()));
            }
        }
        done_rx.await.map_err(|_| StoreError::Internal("the SQLite writer dropped a job".into()))?
    }

    /// Runs `f` on a read-only connection from the pool.
    /// Runs a short read (an indexed lookup, a page) on a pooled read-only connection, inline
    /// on the calling thread: a handoff to a blocking thread would cost more than the read
    /// itself, and in WAL mode a read never waits for the writer.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self.readers.permits.acquire().await.map_err(|e| StoreError::Internal(e.to_string()))?;
        let reader = self.readers.take()?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(reader.connection())))
            .unwrap_or_else(|_| Err(StoreError::Internal("a read panicked".into())));
        self.readers.give_back(reader);
        drop(permit);
        result
    }

    /// Runs a read that may take long (a scan, a whole member list) on a blocking thread, so
    /// it never holds up the async workers.
    pub(crate) async fn read_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self.readers.permits.acquire().await.map_err(|e| StoreError::Internal(e.to_string()))?;
        let reader = self.readers.take()?;
        let (reader, result) = tokio::task::spawn_blocking(move || {
            let r = f(reader.connection());
            (reader, r)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        self.readers.give_back(reader);
        drop(permit);
        result
    }
}

impl SqliteStore {
    /// Tells this process's outbox worker that messages were committed. Called only after
    /// `write` returned, i.e. after the commit: a worker woken earlier would not see them.
    fn outbox_queued(&self) {
        let listener = self.outbox_listener.lock().ok().and_then(|l| l.clone());
        if let Some(listener) = listener {
            listener();
        }
    }
}

/// When the checkpoint thread copies the WAL into the database, and when it restarts it.
#[derive(Clone, Copy)]
struct WalPolicy {
    /// How often the checkpoint thread looks at the WAL.
    interval: std::time::Duration,
    /// A checkpoint runs once the WAL file is this large (SQLite's usual auto-checkpoint size).
    checkpoint_bytes: u64,
    /// The WAL is restarted once it holds this many frames (pages). Each restart pauses the
    /// writer for a millisecond or two (the catch-up below), so not too often: 16384 frames of
    /// 4 KiB keep the WAL file near 64 MiB.
    restart_frames: i64,
    /// Should restarts still fail (a reader holding an old snapshot each time), the WAL would
    /// grow without bound. Past this size the checkpoint waits for readers (briefly holding
    /// writers back) and truncates the file.
    truncate_bytes: u64,
}

impl Default for WalPolicy {
    fn default() -> Self {
        Self {
            interval: std::time::Duration::from_millis(200),
            checkpoint_bytes: 4 << 20,
            restart_frames: 16384,
            truncate_bytes: 256 << 20,
        }
    }
}

/// Copies committed WAL frames into the database file once the WAL has grown past SQLite's
/// usual auto-checkpoint size, while the store lives.
///
/// SQLite restarts the WAL (writes it again from its start) only when a checkpoint has copied
/// every frame. Under constant writes this thread never catches up: the writer appends while
/// it copies. So once the WAL holds `policy.restart_frames`, it makes a second pass (copying what
/// came during the first) and asks the writer (`catch_up`) to copy the few frames left
/// between two batches; the writer's next transaction then restarts the WAL. The WAL file
/// keeps its size and is overwritten, which the disk syncs faster than an appended file.
fn checkpoint_loop(
    conn: Connection,
    wal: std::path::PathBuf,
    alive: std::sync::Weak<()>,
    signals: &WriterSignals,
    readers: &ReadPool,
    policy: WalPolicy,
) {
    // Columns: busy, frames in the WAL, frames copied.
    let checkpoint = |mode: &str| {
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(1)).map_err(|e| {
            tracing::warn!(error = %e, mode, "WAL checkpoint failed");
        })
    };
    while alive.upgrade().is_some() {
        std::thread::sleep(policy.interval);
        // Idle readers' snapshots would hold back what this checkpoint may copy.
        readers.release_idle(false);
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if size >= policy.truncate_bytes {
            readers.pause_reuse();
            if checkpoint("TRUNCATE").is_ok() {
                signals.wal_truncated.store(true, Ordering::Relaxed);
            }
            readers.resume_reuse();
        } else if size >= policy.checkpoint_bytes
            && let Ok(frames) = checkpoint("PASSIVE")
            && frames >= policy.restart_frames
        {
            // No reader may keep a snapshot across the restart; the writer resumes the reuse
            // once it has restarted the WAL.
            readers.pause_reuse();
            if checkpoint("PASSIVE").is_ok() {
                signals.catch_up.store(true, Ordering::Relaxed);
            } else {
                readers.resume_reuse();
            }
        }
    }
}

/// What the checkpoint thread and `close` tell the writer thread.
#[derive(Default)]
struct WriterSignals {
    /// Copy the last frames between two batches, so that the next transaction restarts the WAL.
    catch_up: AtomicBool,
    /// The WAL file was truncated: its reserved space is gone.
    wal_truncated: AtomicBool,
    /// The store was closed (its WAL emptied into the database file): reserve no more space.
    closed: AtomicBool,
}

/// How long the writer must have had nothing to do before it extends the WAL's reserve: a
/// pause between requests, not the gap between two batches of a busy moment.
const RESERVE_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_millis(5);

fn writer_loop(
    conn: Connection,
    rx: mpsc::Receiver<Job>,
    syncer: Option<mpsc::Sender<Vec<Completion>>>,
    signals: &WriterSignals,
    readers: &ReadPool,
    mut reserve: Option<wal_reserve::WalReserve>,
) {
    // Answers the callers of a committed batch: at once, or after the syncer's fsync.
    let acknowledge = |completions: Vec<Completion>| match &syncer {
        None => completions.into_iter().for_each(|c| c(None)),
        Some(syncer) => {
            if let Err(mpsc::SendError(completions)) = syncer.send(completions) {
                let err = StoreError::Unavailable("the SQLite syncer has stopped".into());
                completions.into_iter().for_each(|c| c(Some(err.clone())));
            }
        }
    };
    loop {
        if let Some(reserve) = reserve.as_mut()
            && signals.wal_truncated.swap(false, Ordering::Relaxed)
        {
            reserve.lost();
        }
        let first = match reserve.as_mut().filter(|r| r.wanted()) {
            Some(reserve) => match rx.recv_timeout(RESERVE_WHEN_IDLE_FOR) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    reserve.extend(&conn, &signals.closed);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let catch_up = signals.catch_up.swap(false, Ordering::Relaxed);
        if catch_up {
            // Between transactions nothing is appended while it copies, so it copies every
            // frame no reader still needs, and the next transaction restarts the WAL.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "catch-up checkpoint failed");
            }
        }
        let committed = batch::run(&conn, batch);
        // Before any caller hears of the batch: readers.rs.
        readers.committed();
        if catch_up {
            readers.resume_reuse();
        }
        if !committed.is_empty() {
            acknowledge(committed);
        }
    }
}

/// Makes committed batches durable: one `fdatasync` of the WAL covers every batch committed
/// before it (WAL frames are appended in commit order, so a synced batch implies every earlier
/// one), then their callers hear back. A reader may see a batch a moment before it is
/// durable; its caller is answered only after.
fn syncer_loop(wal: std::fs::File, rx: mpsc::Receiver<Vec<Completion>>) {
    while let Ok(mut completions) = rx.recv() {
        while let Ok(more) = rx.try_recv() {
            completions.extend(more);
        }
        match wal.sync_data() {
            Ok(()) => completions.into_iter().for_each(|c| c(None)),
            Err(e) => {
                // The data may or may not be on disk: the callers are told it failed (Entra
                // retries), never that it succeeded.
                tracing::error!(error = %e, "fsync of the SQLite WAL failed");
                let err = StoreError::Unavailable(format!("cannot make the write durable: {e}"));
                completions.into_iter().for_each(|c| c(Some(err.clone())));
            }
        }
    }
}

#[async_trait::async_trait]
impl domain::ports::Store for SqliteStore {
    async fn create_service(
        &self,
        name: &str,
        params: domain::service::ServiceParams,
    ) -> StoreResult<domain::service::Service> {
        services::create_service(self, name, params).await
    }
    async fn list_services(&self) -> StoreResult<Vec<domain::service::Service>> {
        self.read(services::list_services).await
    }
    async fn service_by_name(&self, name: &str) -> StoreResult<Option<domain::service::Service>> {
        let name = name.to_owned();
        self.read(move |c| services::service_where(c, "name = ?1", &name)).await
    }
    async fn service_by_id(&self, id: domain::service::ServiceId) -> StoreResult<Option<domain::service::Service>> {
        self.read(move |c| services::service_where(c, "id = ?1", &id.0)).await
    }
    async fn update_service_params(
        &self,
        id: domain::service::ServiceId,
        params: domain::service::ServiceParams,
    ) -> StoreResult<domain::service::Service> {
        services::update_params(self, id, params).await
    }
    async fn insert_token(&self, token: domain::token::NewToken) -> StoreResult<domain::token::ApiToken> {
        services::insert_token(self, token).await
    }
    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<domain::token::ApiToken>> {
        let hash = hash.to_vec();
        self.read(move |c| services::token_by_hash(c, &hash)).await
    }
    async fn authenticate(
        &self,
        hash: &[u8],
    ) -> StoreResult<Option<(domain::token::ApiToken, domain::service::Service)>> {
        let hash = hash.to_vec();
        self.read(move |c| services::authenticate(c, &hash)).await
    }
    async fn list_tokens(
        &self,
        service: Option<domain::service::ServiceId>,
    ) -> StoreResult<Vec<domain::token::ApiToken>> {
        self.read(move |c| services::list_tokens(c, service)).await
    }
    async fn revoke_token(
        &self,
        service: Option<domain::service::ServiceId>,
        id: i64,
    ) -> StoreResult<domain::token::ApiToken> {
        self.write(move |c| services::revoke_token(c, service, id)).await
    }
    async fn touch_token(&self, id: i64, at: domain::Timestamp) -> StoreResult<()> {
        self.write(move |c| services::touch_token(c, id, at)).await
    }
    async fn create_user(
        &self,
        user: domain::user::NewUser,
        status: domain::user::UserStatus,
        activation: Option<domain::ports::NewActivation>,
    ) -> StoreResult<domain::user::User> {
        let queues_email = activation.is_some();
        let rows = users::NewUserRows::new(user, status, activation);
        let user = self.write_without_savepoint(move |c| users::create_user(c, rows)).await?;
        if queues_email {
            self.outbox_queued();
        }
        Ok(user)
    }
    async fn get_user(&self, service: domain::service::ServiceId, id: &str) -> StoreResult<Option<domain::user::User>> {
        let id = id.to_owned();
        self.read(move |c| users::get_user(c, service, &id)).await
    }
    async fn update_user(
        &self,
        service: domain::service::ServiceId,
        id: &str,
        mutation: domain::ports::UserMutation,
    ) -> StoreResult<domain::user::User> {
        let id = id.to_owned();
        self.write_without_savepoint(move |c| users::update_user(c, service, &id, mutation)).await
    }
    async fn delete_user(
        &self,
        service: domain::service::ServiceId,
        id: &str,
        guard: domain::ports::UserGuard,
    ) -> StoreResult<domain::user::User> {
        let id = id.to_owned();
        self.write_without_savepoint(move |c| users::delete_user(c, service, &id, guard)).await
    }
    async fn query_users(
        &self,
        service: domain::service::ServiceId,
        query: &domain::query::UserQuery,
    ) -> StoreResult<domain::query::Page<domain::user::User>> {
        let query = query.clone();
        if query.page.is_none() {
            self.read_blocking(move |c| users::query_users(c, service, &query)).await
        } else {
            self.read(move |c| users::query_users(c, service, &query)).await
        }
    }
    async fn query_users_page(
        &self,
        service: domain::service::ServiceId,
        query: &domain::query::UserQuery,
    ) -> StoreResult<Vec<domain::user::User>> {
        let query = query.clone();
        self.read(move |c| users::query_users_page(c, service, &query)).await
    }
    async fn user_counts(
        &self,
        service: domain::service::ServiceId,
        now: domain::Timestamp,
    ) -> StoreResult<domain::ports::UserCounts> {
        self.read_blocking(move |c| users::user_counts(c, service, now)).await
    }
    async fn create_group(&self, group: domain::group::NewGroup) -> StoreResult<domain::group::CreatedGroup> {
        let members = groups::MemberRows::new(&group.members);
        self.write(move |c| groups::create_group(c, group, &members)).await
    }
    async fn get_group(
        &self,
        service: domain::service::ServiceId,
        id: &str,
    ) -> StoreResult<Option<domain::group::Group>> {
        let id = id.to_owned();
        self.read(move |c| groups::get_group(c, service, &id)).await
    }
    async fn group_members(
        &self,
        service: domain::service::ServiceId,
        id: &str,
        page: Option<domain::query::PageRequest>,
    ) -> StoreResult<domain::query::Page<domain::group::Member>> {
        let id = id.to_owned();
        self.read_blocking(move |c| groups::group_members(c, service, &id, page)).await
    }
    async fn update_group(
        &self,
        service: domain::service::ServiceId,
        id: &str,
        mutation: domain::ports::GroupMutation,
        membership: Vec<domain::group::MembershipChange>,
    ) -> StoreResult<(domain::group::Group, domain::group::MembershipOutcome)> {
        let id = id.to_owned();
        let changes = groups::change_rows(membership);
        self.write(move |c| groups::update_group(c, service, &id, mutation, &changes)).await
    }
    async fn delete_group(
        &self,
        service: domain::service::ServiceId,
        id: &str,
    ) -> StoreResult<domain::group::Tombstone> {
        let id = id.to_owned();
        self.write(move |c| groups::delete_group(c, service, &id)).await
    }
    async fn query_groups(
        &self,
        service: domain::service::ServiceId,
        query: &domain::query::GroupQuery,
    ) -> StoreResult<domain::query::Page<domain::group::Group>> {
        let query = query.clone();
        if query.page.is_none() {
            self.read_blocking(move |c| groups::query_groups(c, service, &query)).await
        } else {
            self.read(move |c| groups::query_groups(c, service, &query)).await
        }
    }
    async fn list_tombstones(&self, service: domain::service::ServiceId) -> StoreResult<Vec<domain::group::Tombstone>> {
        self.read_blocking(move |c| groups::list_tombstones(c, service)).await
    }
    async fn user_groups(
        &self,
        service: domain::service::ServiceId,
        user_id: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let user_id = user_id.to_owned();
        self.read(move |c| groups::user_groups(c, service, &user_id)).await
    }
    async fn redeem_activation(
        &self,
        code_hash: &[u8],
        now: domain::Timestamp,
    ) -> StoreResult<Result<domain::user::User, domain::activation::RedeemError>> {
        let code_hash = code_hash.to_vec();
        self.write(move |c| activation::redeem(c, &code_hash, now)).await
    }
    async fn reissue_activation(
        &self,
        service: domain::service::ServiceId,
        user_id: &str,
        new: domain::ports::NewActivation,
    ) -> StoreResult<domain::user::User> {
        let user_id = user_id.to_owned();
        let user = self.write(move |c| activation::reissue(c, service, &user_id, new)).await?;
        self.outbox_queued();
        Ok(user)
    }
    async fn claim_outbox(&self, claim: &domain::outbox::Claim) -> StoreResult<Vec<domain::outbox::OutboxMessage>> {
        let claim = claim.clone();
        self.write(move |c| outbox::claim(c, &claim)).await
    }
    async fn outbox_sent(
        &self,
        id: i64,
        worker: &str,
        at: domain::Timestamp,
        scrubbed_payload: serde_json::Value,
    ) -> StoreResult<bool> {
        let worker = worker.to_owned();
        self.write(move |c| outbox::mark_sent(c, id, &worker, at, &scrubbed_payload)).await
    }
    async fn outbox_sent_many(
        &self,
        sent: Vec<(i64, serde_json::Value)>,
        worker: &str,
        at: domain::Timestamp,
    ) -> StoreResult<Vec<bool>> {
        let worker = worker.to_owned();
        self.write(move |c| sent.iter().map(|(id, payload)| outbox::mark_sent(c, *id, &worker, at, payload)).collect())
            .await
    }
    async fn outbox_failed(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        outcome: domain::outbox::FailureOutcome,
    ) -> StoreResult<bool> {
        let (worker, error) = (worker.to_owned(), error.to_owned());
        self.write(move |c| outbox::mark_failed(c, id, &worker, &error, outcome)).await
    }
    async fn release_outbox(&self, worker: &str, ids: Vec<i64>) -> StoreResult<u64> {
        let worker = worker.to_owned();
        self.write(move |c| outbox::release(c, &worker, &ids)).await
    }
    async fn list_outbox(
        &self,
        state: Option<domain::outbox::OutboxState>,
        limit: u32,
    ) -> StoreResult<Vec<domain::outbox::OutboxMessage>> {
        self.read(move |c| outbox::list(c, state, limit)).await
    }
    async fn outbox_counts(&self) -> StoreResult<domain::outbox::OutboxCounts> {
        self.read(outbox::counts).await
    }
    async fn requeue_outbox(&self, id: Option<i64>, now: domain::Timestamp) -> StoreResult<u64> {
        let n = self.write(move |c| outbox::requeue(c, id, now)).await?;
        if n > 0 {
            self.outbox_queued();
        }
        Ok(n)
    }
    fn set_outbox_listener(&self, listener: domain::ports::OutboxListener) {
        if let Ok(mut slot) = self.outbox_listener.lock() {
            *slot = Some(listener);
        }
    }
    async fn append_log(&self, entries: Vec<domain::audit::LogEntry>) -> StoreResult<()> {
        let rows = log::LogRows::new(entries);
        self.write_log(move |c| log::append(c, rows)).await
    }
    async fn query_log(
        &self,
        service: domain::service::ServiceId,
        query: &domain::audit::LogQuery,
    ) -> StoreResult<Vec<domain::audit::StoredLogEntry>> {
        let query = query.clone();
        self.read(move |c| log::query(c, service, &query)).await
    }
    async fn prune_log(&self, service: domain::service::ServiceId, before: domain::Timestamp) -> StoreResult<u64> {
        self.write_log(move |c| log::prune(c, service, before)).await
    }
    async fn create_admin(&self, name: &str, password_hash: &str) -> StoreResult<domain::admin::AdminAccount> {
        let (name, hash) = (name.to_owned(), password_hash.to_owned());
        self.write(move |c| admin::create_admin(c, &name, &hash)).await
    }
    async fn admin_by_name(&self, name: &str) -> StoreResult<Option<domain::admin::AdminAccount>> {
        let name = name.to_owned();
        self.read(move |c| admin::admin_by_name(c, &name)).await
    }
    async fn list_admins(&self) -> StoreResult<Vec<domain::admin::AdminAccount>> {
        self.read(admin::list_admins).await
    }
    async fn set_admin_password(&self, name: &str, password_hash: &str) -> StoreResult<domain::admin::AdminAccount> {
        let (name, hash) = (name.to_owned(), password_hash.to_owned());
        self.write(move |c| admin::set_password(c, &name, &hash)).await
    }
    async fn record_admin_login(&self, admin_id: i64, at: domain::Timestamp) -> StoreResult<()> {
        self.write(move |c| admin::record_login(c, admin_id, at)).await
    }
    async fn create_session(&self, session: domain::admin::NewSession) -> StoreResult<()> {
        self.write(move |c| admin::create_session(c, session)).await
    }
    async fn session_by_hash(&self, id_hash: &[u8]) -> StoreResult<Option<domain::admin::AdminSession>> {
        let id_hash = id_hash.to_vec();
        self.read(move |c| admin::session_by_hash(c, &id_hash)).await
    }
    async fn touch_session(&self, id_hash: &[u8], at: domain::Timestamp) -> StoreResult<()> {
        let id_hash = id_hash.to_vec();
        self.write(move |c| admin::touch_session(c, &id_hash, at)).await
    }
    async fn delete_session(&self, id_hash: &[u8]) -> StoreResult<()> {
        let id_hash = id_hash.to_vec();
        self.write(move |c| admin::delete_session(c, &id_hash)).await
    }
    async fn group_member_counts(
        &self,
        service: domain::service::ServiceId,
        group_ids: &[String],
    ) -> StoreResult<Vec<(String, u64)>> {
        let ids = group_ids.to_vec();
        self.read(move |c| admin::group_member_counts(c, service, &ids)).await
    }
    async fn log_stats(
        &self,
        service: domain::service::ServiceId,
        since: domain::Timestamp,
    ) -> StoreResult<domain::admin::LogStats> {
        self.read(move |c| admin::log_stats(c, service, since)).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(internal)).await
    }
    /// See [`empty_the_wal`].
    async fn close(&self) -> StoreResult<()> {
        let (path, log_path, signals) = (self.path.clone(), self.log_path.clone(), Arc::clone(&self.signals));
        // The readers' snapshots would hold the final checkpoint back.
        self.readers.pause_reuse();
        tokio::task::spawn_blocking(move || {
            // Before the checkpoint: the writer checks it under the write lock (wal_reserve.rs).
            signals.closed.store(true, Ordering::SeqCst);
            // Requests are over; only another process (a CLI command) could hold it up.
            empty_the_wal(&log_path, std::time::Duration::from_secs(2))?;
            empty_the_wal(&path, std::time::Duration::from_secs(2))
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::{SqliteStore, WalPolicy};
    use domain::ports::Store;
    use domain::query::{Condition, Query};
    use domain::service::ServiceParams;
    use domain::user::{NewUser, Profile, ProvisioningSource, UserStatus};
    use std::sync::Arc;

    fn scim_user(service: domain::service::ServiceId, user_name: String, attributes: serde_json::Value) -> NewUser {
        NewUser {
            id: domain::new_resource_id(),
            service,
            user_name,
            external_id: None,
            active: true,
            source: ProvisioningSource::Scim,
            profile: Profile::default(),
            attributes,
        }
    }

    /// Under writes without a pause the checkpoint thread alone never copies the last frame, so
    /// SQLite would never restart the WAL: it would grow with everything written. The writer's
    /// catch-up keeps it near `restart_frames` pages.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_continuous_writes() {
        wal_stays_bounded(false).await;
    }

    /// The same with lookups running all along: the snapshots the readers keep between reads
    /// (readers.rs) must not keep the WAL from restarting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_continuous_writes_and_reads() {
        wal_stays_bounded(true).await;
    }

    async fn wal_stays_bounded(with_reads: bool) {
        // Small thresholds, so that a few restarts happen in a short test.
        let policy = WalPolicy {
            interval: std::time::Duration::from_millis(20),
            checkpoint_bytes: 1 << 20,
            restart_frames: 1024,
            truncate_bytes: 256 << 20,
        };
        const DB_BYTES: u64 = 48 * 1024 * 1024;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let store = Arc::new(SqliteStore::open_with_policy(&db, "full", policy, 0).expect("open"));
        let service = store.create_service("s", ServiceParams::default()).await.expect("service").id;
        // Large users (two overflow pages each) fill the database in a few thousand creates.
        let padding = "x".repeat(7000);
        // Entra's lookups: one user by id, again and again.
        let looked_up = scim_user(service, "looked-up".into(), serde_json::json!({}));
        let looked_up = store.create_user(looked_up, UserStatus::NotActivated, None).await.expect("create").id;
        let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let lookups: Vec<_> = (0..if with_reads { 2 } else { 0 })
            .map(|_| {
                let (store, writing, id) = (Arc::clone(&store), Arc::clone(&writing), looked_up.clone());
                tokio::spawn(async move {
                    let mut found = 0u64;
                    while writing.load(std::sync::atomic::Ordering::Relaxed) {
                        found += u64::from(store.get_user(service, &id).await.expect("lookup").is_some());
                        tokio::task::yield_now().await;
                    }
                    found
                })
            })
            .collect();
        let mut largest_wal = 0;
        let mut n = 0u32;
        while std::fs::metadata(&db).map_or(0, |m| m.len()) < DB_BYTES {
            let creates: Vec<_> = (0..16)
                .map(|_| {
                    n += 1;
                    let (store, login) = (Arc::clone(&store), format!("user{n}"));
                    let attributes = serde_json::json!({ "padding": padding });
                    tokio::spawn(async move {
                        let user = scim_user(service, login, attributes);
                        store.create_user(user, UserStatus::NotActivated, None).await.expect("create");
                    })
                })
                .collect();
            for create in creates {
                create.await.expect("task");
            }
            largest_wal = largest_wal.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            assert!(n < 200_000, "the database never reached {DB_BYTES} bytes");
        }
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
        for lookup in lookups {
            assert!(lookup.await.expect("lookups") > 0, "the lookups found nobody");
        }
        // Every page reached the database file through the WAL: without restarts the WAL would
        // now be at least as large as the database.
        assert!(
            largest_wal < DB_BYTES / 2,
            "the WAL grew to {largest_wal} bytes while the database reached {DB_BYTES}"
        );
    }

    fn everyone() -> Query<domain::query::UserField> {
        Query { condition: Condition::True, sort: None, page: None }
    }

    /// Readers keep their snapshot from read to read (readers.rs); a write's caller hears back
    /// only once the next read would see it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_after_an_acknowledged_write_sees_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("t.db"), "full").expect("open");
        let service = store.create_service("s", ServiceParams::default()).await.expect("service").id;
        for n in 1..=50 {
            let user = scim_user(service, format!("user{n}"), serde_json::json!({}));
            let id = user.id.clone();
            store.create_user(user, UserStatus::NotActivated, None).await.expect("create");
            assert!(store.get_user(service, &id).await.expect("get").is_some(), "user{n} not found");
            assert_eq!(store.query_users(service, &everyone()).await.expect("query").total, n);
        }
    }

    /// Another process's commits (a CLI command's) are not counted by this store's writer; a
    /// kept snapshot still shows them once it is `MAX_SNAPSHOT_AGE` old.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_process_commit_shows_within_the_snapshot_age() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        let server = SqliteStore::open(&db, "full").expect("open");
        let service = server.create_service("s", ServiceParams::default()).await.expect("service").id;
        let cli = SqliteStore::open(&db, "full").expect("open again");
        for n in 1..=5 {
            // Opens a snapshot on the reader the next read takes again.
            server.query_users(service, &everyone()).await.expect("query");
            let user = scim_user(service, format!("user{n}"), serde_json::json!({}));
            cli.create_user(user, UserStatus::NotActivated, None).await.expect("create");
            tokio::time::sleep(super::readers::MAX_SNAPSHOT_AGE + std::time::Duration::from_millis(1)).await;
            assert_eq!(server.query_users(service, &everyone()).await.expect("query").total, n);
        }
    }

    fn log_entry(service: domain::service::ServiceId, n: u32) -> domain::audit::LogEntry {
        domain::audit::LogEntry {
            service,
            time: domain::now(),
            request_id: format!("req-{n}"),
            method: "GET".into(),
            resource_type: "User".into(),
            resource_id: None,
            operation: format!("lookup {n}"),
            status: 200,
            error_detail: None,
            warnings: vec![],
        }
    }

    /// The provisioning log lives in its own file (log.rs): appending to it commits nothing to
    /// the directory's file, whose readers therefore keep their caches and snapshots.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appending_to_the_log_leaves_the_directory_file_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        let store = SqliteStore::open(&db, "full").expect("open");
        let service = store.create_service("s", ServiceParams::default()).await.expect("service").id;
        let watcher = rusqlite::Connection::open(&db).expect("open");
        let data_version = || watcher.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).expect("version");
        let before = data_version();
        store.append_log((0..3).map(|n| log_entry(service, n)).collect()).await.expect("append");
        assert_eq!(data_version(), before, "a log append committed to the directory's file");
        let logged = store.query_log(service, &domain::audit::LogQuery::default()).await.expect("query");
        assert_eq!(logged.len(), 3);
        assert!(dir.path().join("t.log.db").exists());
        // The watcher does see the directory's own commits.
        let user = scim_user(service, "u".into(), serde_json::json!({}));
        store.create_user(user, UserStatus::NotActivated, None).await.expect("create");
        assert_ne!(data_version(), before);
    }

    /// A database from before migration 4 kept the log in its own file: opening it moves the
    /// rows into the log file, once, ids and all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_log_kept_in_the_directory_file_moves_into_the_log_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        {
            let old = rusqlite::Connection::open(&db).expect("open");
            old.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            )
            .expect("migrations table");
            for (version, name, sql) in &super::MIGRATIONS[..3] {
                old.execute_batch(sql).expect("old migration");
                old.execute(
                    "INSERT INTO schema_migrations VALUES (?1, ?2, '2026-01-01T00:00:00Z')",
                    rusqlite::params![version, name],
                )
                .expect("record");
            }
        }
        let service = {
            let store = SqliteStore::open(&db, "full").expect("open");
            store.create_service("s", ServiceParams::default()).await.expect("service").id
        };
        // Rows as the old layout held them, written behind the store's back.
        std::fs::remove_file(dir.path().join("t.log.db")).expect("no log file yet");
        {
            let old = rusqlite::Connection::open(&db).expect("open");
            old.execute_batch(
                "DELETE FROM schema_migrations WHERE version = 4;
                 CREATE TABLE provisioning_log (id INTEGER PRIMARY KEY, service_id INTEGER NOT NULL, time TEXT NOT NULL,
                   request_id TEXT NOT NULL, method TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT,
                   operation TEXT NOT NULL, status INTEGER NOT NULL, error_detail TEXT, warnings TEXT NOT NULL);",
            )
            .expect("old log table");
            for id in [7, 8, 9] {
                old.execute(
                    "INSERT INTO provisioning_log VALUES (?1, ?2, '2026-01-01T00:00:00.000Z', 'r', 'GET', 'User', NULL, 'old', 200, NULL, '[]')",
                    rusqlite::params![id, service.0],
                )
                .expect("old row");
            }
        }
        for _ in 0..2 {
            let store = SqliteStore::open(&db, "full").expect("open");
            let logged = store.query_log(service, &domain::audit::LogQuery::default()).await.expect("query");
            assert_eq!(logged.iter().map(|e| e.id).collect::<Vec<_>>(), vec![9, 8, 7]);
            drop(store);
            let old = rusqlite::Connection::open(&db).expect("open");
            let left: bool = old
                .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'provisioning_log')", [], |r| {
                    r.get(0)
                })
                .expect("schema");
            assert!(!left, "the directory's file still has a log table");
        }
    }

    /// The writer fills the WAL file with zeros up to its reserve while idle; SQLite then
    /// writes its frames over them, and zeros past the last frame are never taken for frames:
    /// the database and WAL files as a crash leaves them (copied while the store runs, without
    /// the shared-memory index) recover every committed user.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reserved_wal_is_overwritten_and_recovers_every_commit() {
        const RESERVE: u64 = 4 << 20;
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, wal) = (dir.path().join("t.db"), dir.path().join("t.db-wal"));
        let store = Arc::new(SqliteStore::open_reserving(&db, "full", RESERVE).expect("open"));
        let wal_len = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while wal_len() < RESERVE {
            assert!(std::time::Instant::now() < deadline, "the WAL reached {} of {RESERVE} bytes", wal_len());
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(wal_len(), RESERVE, "the reserve is filled exactly");

        let service = store.create_service("s", ServiceParams::default()).await.expect("service").id;
        for chunk in 0..8 {
            let creates: Vec<_> = (0..16)
                .map(|i| {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move {
                        let user = scim_user(service, format!("user{chunk}-{i}"), serde_json::json!({}));
                        store.create_user(user, UserStatus::NotActivated, None).await.expect("create");
                    })
                })
                .collect();
            for create in creates {
                create.await.expect("task");
            }
        }
        assert_eq!(wal_len(), RESERVE, "SQLite wrote inside the reserved file instead of appending");

        let copy = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&db, copy.path().join("c.db")).expect("copy db");
        std::fs::copy(&wal, copy.path().join("c.db-wal")).expect("copy wal");
        let recovered = rusqlite::Connection::open(copy.path().join("c.db")).expect("open copy");
        let check: String = recovered.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
        assert_eq!(check, "ok");
        let users: i64 = recovered.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).expect("count");
        assert_eq!(users, 128);
    }

    /// `close` empties the WAL into the database file, and the writer, though it was still
    /// filling the WAL's reserve, writes no more zeros after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_while_the_reserve_is_filling_leaves_an_empty_wal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, wal) = (dir.path().join("t.db"), dir.path().join("t.db-wal"));
        let store = SqliteStore::open_reserving(&db, "full", 256 << 20).expect("open");
        store.create_service("s", ServiceParams::default()).await.expect("service");
        let wal_len = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while wal_len() < 2 << 20 {
            assert!(std::time::Instant::now() < deadline, "the reserve did not start filling");
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        store.close().await.expect("close");
        // Idle long enough for the writer to have filled several more chunks.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(wal_len(), 0, "the WAL holds bytes after close");
        let copy = rusqlite::Connection::open(&db).expect("open");
        let services: i64 = copy.query_row("SELECT count(*) FROM services", [], |r| r.get(0)).expect("count");
        assert_eq!(services, 1);
    }

    /// The bundled SQLite is built with the flags of `.cargo/config.toml`: without them every
    /// connection's page cache shares one global mutex (see that file). A build that lost them
    /// (the file moved, `LIBSQLITE3_FLAGS` overridden) fails here rather than only slower.
    #[test]
    fn sqlite_is_built_without_memory_management_and_memory_statistics() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let mut st = conn.prepare("PRAGMA compile_options").expect("prepare");
        let options: Vec<String> =
            st.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows");
        assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "{options:?}");
        assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
    }
}
