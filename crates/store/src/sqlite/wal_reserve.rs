//! Allocates the WAL file's blocks before SQLite needs them (`scimd serve
//! --sqlite-wal-reserve-mib`).
//!
//! Appending to a file costs more than overwriting it. On ext4 an `fdatasync` of a file that
//! grew must also write the file's new size and block map (its inode) synchronously, and a
//! fresh WAL grows for its first 64–110 MiB, until the checkpoint thread restarts it (mod.rs).
//! Measured here (docs/performance.md): with the WAL already at its full size, creates on a
//! fresh server ran 12,605–13,193/s against 9,747–12,114 appending. PostgreSQL zero-fills its
//! WAL segments for the same reason.
//!
//! So while the writer has nothing to do, it extends the WAL file with zeros up to the reserve,
//! one chunk at a time, each chunk synced (else the first commit's `fdatasync` would have to
//! write the whole reserve). Zeros past the last frame are never taken for frames: a WAL frame
//! counts only if its salt matches the WAL header's and its checksum chains on from the
//! frame before (SQLite file format, section 4.1 "WAL File Format"). SQLite itself leaves old
//! frames past the end when it restarts a WAL, the same situation.

use rusqlite::Connection;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Zeros written per step: about 1–10 ms of disk time here, the longest a job arriving during a
/// step waits.
const CHUNK_BYTES: usize = 1 << 20;

pub(super) struct WalReserve {
    wal: std::fs::File,
    target_bytes: u64,
    /// The WAL file reached the reserve (until a checkpoint truncates it: [`Self::lost`]).
    complete: bool,
}

impl WalReserve {
    /// `None` when no reserve is asked for or the WAL file cannot be opened for writing (then
    /// SQLite simply grows it, as without a reserve).
    pub(super) fn open(wal: &Path, target_bytes: u64) -> Option<Self> {
        if target_bytes == 0 {
            return None;
        }
        match std::fs::OpenOptions::new().write(true).open(wal) {
            Ok(file) => Some(Self { wal: file, target_bytes, complete: false }),
            Err(e) => {
                tracing::warn!(error = %e, wal = %wal.display(), "cannot open the WAL to reserve its space");
                None
            }
        }
    }

    /// Whether the writer should extend the WAL when it next has nothing to do.
    pub(super) fn wanted(&self) -> bool {
        !self.complete
    }

    /// The checkpoint thread truncated the WAL (it had outgrown its bound): reserve it again.
    pub(super) fn lost(&mut self) {
        self.complete = false;
    }

    /// Extends the WAL file by one chunk. Called on the writer thread between transactions,
    /// inside `BEGIN IMMEDIATE`: SQLite's write lock keeps every connection, of this process or
    /// another (a CLI command), from appending a frame where the zeros go. `closed` is read
    /// under that lock: the store's close sets it before its final checkpoint, which needs the
    /// lock too, so no zeros land in the WAL that checkpoint emptied.
    pub(super) fn extend(&mut self, conn: &Connection, closed: &AtomicBool) {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::debug!(error = %e, "WAL reserve: the write lock is busy; trying later");
            return;
        }
        if closed.load(Ordering::SeqCst) {
            self.complete = true;
            let _ = conn.execute_batch("COMMIT");
            return;
        }
        let step = self.extend_locked();
        // Nothing was changed in the database: the commit writes no frame.
        if let Err(e) = conn.execute_batch("COMMIT") {
            tracing::warn!(error = %e, "WAL reserve: ending the empty transaction failed");
        }
        match step {
            Ok(false) => {}
            Ok(true) => {
                self.complete = true;
                tracing::info!(mib = self.target_bytes >> 20, "the SQLite WAL file has its reserved space");
            }
            Err(e) => {
                // Not fatal: SQLite grows the file itself, as without a reserve.
                self.complete = true;
                tracing::warn!(error = %e, "cannot reserve space for the SQLite WAL; it grows as it is written");
            }
        }
    }

    /// Writes the next chunk of zeros at the file's end and syncs it; `true` once the file holds
    /// the reserve.
    fn extend_locked(&mut self) -> std::io::Result<bool> {
        let len = self.wal.metadata()?.len();
        if len >= self.target_bytes {
            return Ok(true);
        }
        // At most a chunk; `as usize` cannot truncate: the value is at most CHUNK_BYTES.
        let step = (self.target_bytes - len).min(CHUNK_BYTES as u64) as usize;
        // A fresh zeroed buffer per step: the allocator maps zero pages; nothing to keep around.
        self.wal.write_all_at(&vec![0; step], len)?;
        self.wal.sync_data()?;
        Ok(len + step as u64 >= self.target_bytes)
    }
}
