//! Storage backends for scimd. Each implements [`domain::ports::Store`] and passes the shared
//! conformance suite (`tests/conformance.rs`).
//!
//! - [`sqlite`]: the embedded default; one writer thread with group commit, a pool of readers.
//! - [`postgres`]: for several `scimd` processes on one database.

pub mod postgres;
pub mod sql_query;
pub mod sqlite;

use domain::ports::Store;
use std::path::Path;
use std::sync::Arc;

/// Storage options shared by every command.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `postgres://…`, `sqlite://path`, or `None` for `DATA_DIR/scimd.db`.
    pub database_url: Option<String>,
    pub data_dir: std::path::PathBuf,
    /// SQLite `synchronous`: `full` (fsync every commit; the default) or `normal`.
    pub sqlite_synchronous: String,
    /// SQLite: bytes of WAL file the writer allocates ahead while idle (0: none). Only
    /// `scimd serve` asks for it; a CLI command exits before it would help.
    pub sqlite_wal_reserve_bytes: u64,
    pub postgres: postgres::PgOptions,
}

/// Opens (and migrates) the store the options name.
pub async fn open(options: &StoreOptions) -> Result<Arc<dyn Store>, String> {
    match options.database_url.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = postgres::PgStore::open(url, &options.postgres).await?;
            Ok(Arc::new(store))
        }
        Some(url) => {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
            open_sqlite(Path::new(path), options).await
        }
        None => {
            std::fs::create_dir_all(&options.data_dir)
                .map_err(|e| format!("cannot create data directory {}: {e}", options.data_dir.display()))?;
            open_sqlite(&options.data_dir.join("scimd.db"), options).await
        }
    }
}

async fn open_sqlite(path: &Path, options: &StoreOptions) -> Result<Arc<dyn Store>, String> {
    let store =
        sqlite::SqliteStore::open_reserving(path, &options.sqlite_synchronous, options.sqlite_wal_reserve_bytes)
            .map_err(|e| format!("cannot open SQLite database {}: {e}", path.display()))?;
    Ok(Arc::new(store))
}
