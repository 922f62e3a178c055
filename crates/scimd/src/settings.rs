//! Configuration: every option is a flag with a `SCIMD_*` environment variable behind it.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the data lives; taken by every command.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory for the embedded SQLite database (`DIR/scimd.db`) and the email outbox.
    #[arg(long, env = "SCIMD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://user:pass@host/db` for PostgreSQL, or `sqlite://path/to/file.db`.
    /// Default: SQLite in the data directory.
    #[arg(long, env = "SCIMD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// SQLite durability: `full` fsyncs every commit (survives power loss), `normal` survives
    /// a process crash only.
    #[arg(long, env = "SCIMD_SQLITE_SYNCHRONOUS", default_value = "full")]
    pub sqlite_synchronous: String,
    /// PostgreSQL: connections per process (several processes share the server's limit).
    #[arg(long, env = "SCIMD_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// PostgreSQL: statements running longer are cancelled by the server.
    #[arg(long, env = "SCIMD_DB_STATEMENT_TIMEOUT_MS", default_value_t = 30_000)]
    pub db_statement_timeout_ms: u64,
}

impl StorageArgs {
    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            sqlite_synchronous: self.sqlite_synchronous.clone(),
            postgres: store::postgres::PgOptions {
                pool_size: self.db_pool_size,
                statement_timeout_ms: self.db_statement_timeout_ms,
                ..Default::default()
            },
        }
    }
}

/// Options of `scimd serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "SCIMD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// SMTP server for activation emails: `smtp://host:port`, `smtps://user:pass@host:465`,
    /// `smtp://host:587?tls=starttls`. Without it, emails are written as .eml files under
    /// `DATA_DIR/outbox/`.
    #[arg(long, env = "SCIMD_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The URL users and Entra reach this server at (used in the tenant URL and in activation
    /// links). Default: `http://<listen address>`.
    #[arg(long, env = "SCIMD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest request body accepted on user endpoints, in bytes (larger: 413).
    #[arg(long, env = "SCIMD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest request body accepted for group PATCH/PUT/POST (member lists), in bytes.
    #[arg(long, env = "SCIMD_MAX_GROUP_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_group_body_bytes: usize,
}

/// Settings the running server needs, derived from [`ServeArgs`] once the address is bound.
#[derive(Debug, Clone)]
pub struct Settings {
    pub public_url: String,
    pub max_body_bytes: usize,
    pub max_group_body_bytes: usize,
}

impl Settings {
    /// The SCIM base URL an administrator pastes into Entra as the Tenant URL.
    pub fn tenant_url(&self) -> String {
        format!("{}/scim/v2", self.public_url.trim_end_matches('/'))
    }
}
