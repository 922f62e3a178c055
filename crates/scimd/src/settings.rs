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
    /// Storage options for a CLI command: no WAL reserve (`ServeArgs::store_options` adds it).
    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            sqlite_synchronous: self.sqlite_synchronous.clone(),
            sqlite_wal_reserve_bytes: 0,
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
    /// SQLite: MiB of WAL file allocated ahead (zero-filled while the server is idle), so that
    /// commits overwrite blocks instead of growing the file, which costs each fsync more.
    /// 0: none (the WAL grows as written).
    #[arg(long, env = "SCIMD_SQLITE_WAL_RESERVE_MIB", default_value_t = 128, value_parser = clap::value_parser!(u64).range(0..=4096))]
    pub sqlite_wal_reserve_mib: u64,
    /// SMTP server for activation emails: `smtp://host:port`, `smtps://user:pass@host:465`,
    /// `smtp://host:587?tls=starttls`. Without it, emails are written as .eml files under
    /// `DATA_DIR/outbox/`.
    #[arg(long, env = "SCIMD_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The URL users and Entra reach this server at (used in the tenant URL and in activation
    /// links). Default: `http://<listen address>`.
    #[arg(long, env = "SCIMD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Sender, outbox retries and the activation page's rate limit.
    #[command(flatten)]
    pub mail: MailArgs,
    /// Largest request body accepted on user endpoints, in bytes (larger: 413).
    #[arg(long, env = "SCIMD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest request body accepted for group PATCH/PUT/POST (member lists), in bytes.
    #[arg(long, env = "SCIMD_MAX_GROUP_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_group_body_bytes: usize,
    /// Requests per second allowed per API token (0: unlimited). Entra sends far fewer.
    #[arg(long, env = "SCIMD_RATE_LIMIT_PER_TOKEN", default_value_t = 2000)]
    pub rate_limit_per_token: u32,
    /// Console sign-in attempts allowed per client address and minute; an account name gets
    /// half as many from all addresses together.
    #[arg(long, env = "SCIMD_SIGN_IN_RATE_PER_MINUTE", default_value_t = 10)]
    pub sign_in_rate_per_minute: u32,
    /// On SIGTERM/Ctrl-C: how long requests in flight may take to finish, in seconds. After it,
    /// connections still open are dropped (their requests were never answered) and the
    /// process stops anyway (issue 8: shutdown is bounded).
    #[arg(long, env = "SCIMD_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
}

impl ServeArgs {
    /// Storage options for the server: those of every command, and the WAL reserve.
    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            sqlite_wal_reserve_bytes: self.sqlite_wal_reserve_mib << 20,
            ..self.storage.store_options()
        }
    }
}

/// Settings the running server needs, derived from [`ServeArgs`] once the address is bound.
#[derive(Debug, Clone)]
pub struct Settings {
    pub public_url: String,
    pub max_body_bytes: usize,
    pub max_group_body_bytes: usize,
    /// Activation attempts allowed per client address.
    pub activation_rate: crate::activation_page::RateLimit,
    /// Console sign-in attempts allowed per client address and minute (half per account).
    pub sign_in_rate_per_minute: u32,
}

impl Settings {
    /// The SCIM base URL an administrator pastes into Entra as the Tenant URL.
    pub fn tenant_url(&self) -> String {
        format!("{}/scim/v2", self.public_url.trim_end_matches('/'))
    }
}

/// Options of activation emails and the activation page (`scimd serve`).
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// Sender of activation emails, e.g. `MFA <noreply@example.com>`.
    /// Default: `scimd <noreply@HOST>` with the host of the public URL.
    #[arg(long, env = "SCIMD_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Limit on each SMTP command (connect, TLS, each reply), in seconds.
    #[arg(long, env = "SCIMD_SMTP_TIMEOUT_SECS", default_value_t = 30)]
    pub smtp_timeout_secs: u64,
    /// Failed delivery attempts after which an email is dead-lettered
    /// (`scimd outbox list --dead`).
    #[arg(long, env = "SCIMD_OUTBOX_MAX_ATTEMPTS", default_value_t = 10)]
    pub outbox_max_attempts: u32,
    /// Delay before the first retry of a failed email, in milliseconds; it doubles with each
    /// failure (with jitter). Tests shorten it.
    #[arg(long, env = "SCIMD_OUTBOX_RETRY_BASE_MS", default_value_t = 60_000)]
    pub outbox_retry_base_ms: u64,
    /// Longest delay between two attempts, in milliseconds.
    #[arg(long, env = "SCIMD_OUTBOX_RETRY_MAX_MS", default_value_t = 6 * 3600 * 1000)]
    pub outbox_retry_max_ms: u64,
    /// How long a worker holds the emails it claimed before another worker (another scimd
    /// process on the same database) may take them, in seconds. After a crash, claimed emails
    /// wait this long. Must comfortably outlast one send (several SMTP timeouts).
    #[arg(long, env = "SCIMD_OUTBOX_LEASE_SECS", default_value_t = 300)]
    pub outbox_lease_secs: u64,
    /// How often the outbox is checked for due emails, in milliseconds (new emails of this
    /// process are sent at once regardless).
    #[arg(long, env = "SCIMD_OUTBOX_POLL_MS", default_value_t = 500)]
    pub outbox_poll_ms: u64,
    /// Activation attempts allowed per client address and minute.
    #[arg(long, env = "SCIMD_ACTIVATION_RATE_PER_MINUTE", default_value_t = 10)]
    pub activation_rate_per_minute: u32,
    /// Activation attempts a client address may make in a burst.
    #[arg(long, env = "SCIMD_ACTIVATION_RATE_BURST", default_value_t = 20)]
    pub activation_rate_burst: u32,
}

impl MailArgs {
    pub fn retry_policy(&self) -> domain::outbox::RetryPolicy {
        domain::outbox::RetryPolicy {
            base: std::time::Duration::from_millis(self.outbox_retry_base_ms.max(1)),
            max_delay: std::time::Duration::from_millis(self.outbox_retry_max_ms.max(self.outbox_retry_base_ms)),
            max_attempts: self.outbox_max_attempts.max(1),
        }
    }
}
