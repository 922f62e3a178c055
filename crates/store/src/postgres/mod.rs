//! The PostgreSQL backend: any number of `scimd serve` processes share one database. Every
//! use case is one transaction; concurrent writers are serialised by row locks (`FOR UPDATE`
//! on the user or group being changed), and membership changes are set operations, so no
//! write ever rests on a stale read of a member list.

/// The user row's own columns, in the order `user_from_row` reads them (block reasons follow).
macro_rules! user_fields {
    () => {
        "u.pk, u.service_id, u.id, u.user_name, u.external_id, u.active, u.status, \
    u.source, u.activation_expires_at, u.email, u.display_name, u.given_name, u.family_name, \
    u.preferred_language, u.attributes, u.created, u.last_modified, u.version"
    };
}

/// Every column `user_from_row` reads, from `users u`.
macro_rules! user_columns {
    () => {
        concat!(
            user_fields!(),
            ", (SELECT string_agg(r.reason, E'\\n') FROM user_block_reasons r WHERE r.user_pk = u.pk)"
        )
    };
}

mod activation;
mod admin;
mod create_batch;
mod groups;
mod log;
mod outbox;
mod services;
#[cfg(test)]
mod tests;
mod users;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use domain::ports::{StoreError, StoreResult};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/postgres/0001_init.sql")),
    (2, "admin", include_str!("../../migrations/postgres/0002_admin.sql")),
    (3, "log_time_index", include_str!("../../migrations/postgres/0003_log_time_index.sql")),
    (4, "log_file", include_str!("../../migrations/postgres/0004_log_file.sql")),
];

/// Serialises migrations of several processes starting at once.
const MIGRATION_LOCK: i64 = 0x5c1d_0001;

pub struct PgStore {
    pool: Pool,
    creates: create_batch::CreateBatcher,
    /// Told after a commit that queued outbox messages, so this process's worker wakes at
    /// once; workers of other processes find them by polling.
    outbox_listener: std::sync::Mutex<Option<domain::ports::OutboxListener>>,
}

/// Connection options for PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub pool_size: usize,
    /// Longest a statement may run before the server cancels it.
    pub statement_timeout_ms: u64,
    /// Longest a request waits for a pooled connection.
    pub acquire_timeout_ms: u64,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self { pool_size: 16, statement_timeout_ms: 30_000, acquire_timeout_ms: 5_000 }
    }
}

pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Classifies a database error: anything that says "the database cannot serve you right now"
/// (connection lost or refused, server shutting down, too many connections, SQLSTATE classes
/// 08 and 57P, 53300) is `Unavailable` (503, retried by Entra); the rest is internal.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    let unavailable = e.is_closed()
        || match e.code() {
            None => true,
            Some(code) => {
                let c = code.code();
                c.starts_with("08") || c.starts_with("57P") || c == "53300" || c == "3D000"
            }
        };
    if unavailable { StoreError::Unavailable(e.to_string()) } else { StoreError::Internal(e.to_string()) }
}

pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Runs a cached prepared statement and returns its rows.
pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.query(&st, params).await
}

pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.query_opt(&st, params).await
}

pub(crate) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.execute(&st, params).await
}

/// A transaction whose `BEGIN` travels with its first statement and whose `COMMIT` travels with
/// its last one (tokio-postgres pipelines requests whose futures are polled together): a
/// read-lock-modify-write use case costs two round trips instead of five or more.
///
/// While the transaction is open the connection belongs to this value alone. Every path that
/// does not end it with `COMMIT` or `ROLLBACK` (an error from the server, a cancelled request
/// future) detaches the connection from the pool on drop, so the server rolls back when the
/// connection closes and no pooled connection is ever left inside a transaction.
pub(crate) struct PipelinedTx {
    client: Option<deadpool_postgres::Client>,
    open: bool,
}

impl PipelinedTx {
    pub(crate) fn new(client: deadpool_postgres::Client) -> Self {
        Self { client: Some(client), open: false }
    }

    fn client(&self) -> &deadpool_postgres::Client {
        self.client.as_ref().expect("PipelinedTx used after its connection was released")
    }

    /// Sends `BEGIN` and `statement` in one round trip and returns the statement's rows.
    pub(crate) async fn begin_query(
        &mut self,
        statement: &tokio_postgres::Statement,
        params: &Params<'_>,
    ) -> StoreResult<Vec<Row>> {
        self.open = true;
        let c = self.client();
        let (begin, rows) = tokio::join!(c.batch_execute("BEGIN"), c.query(statement, params));
        match begin.and(rows) {
            Ok(rows) => Ok(rows),
            Err(e) => {
                self.rollback().await;
                Err(pg_err(e))
            }
        }
    }

    /// Ends the transaction without writing anything. Best effort: if the `ROLLBACK` fails,
    /// the connection is dropped (and the server rolls back) instead of going back to the pool.
    pub(crate) async fn rollback(&mut self) {
        if self.open && self.client().batch_execute("ROLLBACK").await.is_ok() {
            self.open = false;
        }
    }

    /// Sends `statement` and `COMMIT` in one round trip. If the statement fails, the server
    /// turns the `COMMIT` of the failed transaction into a rollback and the statement's error
    /// is returned; nothing was written.
    pub(crate) async fn query_commit(
        mut self,
        statement: &tokio_postgres::Statement,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let c = self.client();
        let (rows, commit) = tokio::join!(c.query(statement, params), c.batch_execute("COMMIT"));
        if commit.is_ok() {
            self.open = false;
        }
        let rows = rows?;
        commit?;
        Ok(rows)
    }
}

impl Drop for PipelinedTx {
    fn drop(&mut self) {
        if self.open
            && let Some(client) = self.client.take()
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl PgStore {
    /// Connects, checks the server answers, applies migrations. Fails with the reason when
    /// the database is unreachable, so `scimd serve` exits non-zero at once.
    pub async fn open(url: &str, options: &PgOptions) -> Result<Self, String> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
        config.options(format!("-c statement_timeout={}", options.statement_timeout_ms));
        config.connect_timeout(std::time::Duration::from_secs(10));
        if config.get_application_name().is_none() {
            config.application_name("scimd");
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .wait_timeout(Some(std::time::Duration::from_millis(options.acquire_timeout_ms)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| e.to_string())?;
        let store = Self {
            creates: create_batch::CreateBatcher::new(pool.clone()),
            pool,
            outbox_listener: std::sync::Mutex::new(None),
        };
        let mut client = store.pool.get().await.map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
        migrate(&mut client).await.map_err(|e| format!("PostgreSQL migration failed: {e}"))?;
        Ok(store)
    }

    fn notify_outbox(&self) {
        let listener = self.outbox_listener.lock().ok().and_then(|l| l.clone());
        if let Some(listener) = listener {
            listener();
        }
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

async fn migrate(client: &mut deadpool_postgres::Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await?;
    for (version, name, sql) in MIGRATIONS {
        let done = tx.query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version]).await?.is_some();
        if done {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[version, name, &domain::format_timestamp(domain::now())],
        )
        .await?;
        tracing::info!(version, name, "applied PostgreSQL migration");
    }
    tx.commit().await
}

pub(crate) fn parse_ts(s: &str) -> StoreResult<domain::Timestamp> {
    domain::parse_timestamp(s).ok_or_else(|| StoreError::Internal(format!("bad timestamp {s:?} in database")))
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> StoreResult<Option<domain::Timestamp>> {
    s.map(|s| parse_ts(&s)).transpose()
}

pub(crate) fn ts(t: domain::Timestamp) -> String {
    domain::format_timestamp(t)
}

pub(crate) fn parse_json(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Internal(format!("bad JSON in database: {e}")))
}

pub(crate) fn bad<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Turns compiled query parameters into tokio-postgres parameters.
pub(crate) fn boxed_params(params: &[crate::sql_query::SqlParam]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                crate::sql_query::SqlParam::Text(t) => Box::new(t.clone()),
                crate::sql_query::SqlParam::Int(i) => Box::new(*i),
            }
        })
        .collect()
}

use domain::audit::{LogEntry, LogQuery, StoredLogEntry};
use domain::group::{CreatedGroup, Group, Member, MembershipChange, MembershipOutcome, NewGroup, Tombstone};
use domain::ports::{GroupMutation, NewActivation, UserCounts, UserGuard, UserMutation};
use domain::query::{GroupQuery, Page, PageRequest, UserQuery};
use domain::service::{Service, ServiceId, ServiceParams};
use domain::token::{ApiToken, NewToken};
use domain::user::{NewUser, User, UserStatus};

#[async_trait::async_trait]
impl domain::ports::Store for PgStore {
    async fn create_service(&self, name: &str, params: ServiceParams) -> StoreResult<Service> {
        services::create_service(&self.client().await?, name, params).await
    }
    async fn list_services(&self) -> StoreResult<Vec<Service>> {
        services::list_services(&self.client().await?).await
    }
    async fn service_by_name(&self, name: &str) -> StoreResult<Option<Service>> {
        services::service_by_name(&self.client().await?, name).await
    }
    async fn service_by_id(&self, id: ServiceId) -> StoreResult<Option<Service>> {
        services::service_by_id(&self.client().await?, id).await
    }
    async fn update_service_params(&self, id: ServiceId, params: ServiceParams) -> StoreResult<Service> {
        services::update_params(&self.client().await?, id, params).await
    }
    async fn insert_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        services::insert_token(&self.client().await?, token).await
    }
    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<ApiToken>> {
        services::token_by_hash(&self.client().await?, hash).await
    }
    async fn authenticate(&self, hash: &[u8]) -> StoreResult<Option<(ApiToken, Service)>> {
        services::authenticate(&self.client().await?, hash).await
    }
    async fn list_tokens(&self, service: Option<ServiceId>) -> StoreResult<Vec<ApiToken>> {
        services::list_tokens(&self.client().await?, service).await
    }
    async fn revoke_token(&self, service: Option<ServiceId>, id: i64) -> StoreResult<ApiToken> {
        services::revoke_token(&self.client().await?, service, id).await
    }
    async fn touch_token(&self, id: i64, at: domain::Timestamp) -> StoreResult<()> {
        services::touch_token(&self.client().await?, id, at).await
    }
    async fn create_user(
        &self,
        user: NewUser,
        status: UserStatus,
        activation: Option<NewActivation>,
    ) -> StoreResult<User> {
        // Group commit: one statement and one commit for every create waiting at the time;
        // each user's rows (user, block reason, activation code, outbox message) commit together.
        self.creates.create(user, status, activation).await
    }
    async fn get_user(&self, service: ServiceId, id: &str) -> StoreResult<Option<User>> {
        Ok(users::find_user(&self.client().await?, service, id, false).await?.map(|(_, u)| u))
    }
    async fn update_user(&self, service: ServiceId, id: &str, mutation: UserMutation) -> StoreResult<User> {
        users::update_user(self.client().await?, service, id, mutation).await
    }
    async fn delete_user(&self, service: ServiceId, id: &str, guard: UserGuard) -> StoreResult<User> {
        users::delete_user(self.client().await?, service, id, guard).await
    }
    async fn query_users(&self, service: ServiceId, query: &UserQuery) -> StoreResult<Page<User>> {
        users::query_users(&self.client().await?, service, query).await
    }
    async fn query_users_page(&self, service: ServiceId, query: &UserQuery) -> StoreResult<Vec<User>> {
        users::query_users_page(&self.client().await?, service, query).await
    }
    async fn user_counts(&self, service: ServiceId, now: domain::Timestamp) -> StoreResult<UserCounts> {
        users::user_counts(&self.client().await?, service, now).await
    }
    async fn create_group(&self, group: NewGroup) -> StoreResult<CreatedGroup> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let created = groups::create_group(&tx, group).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }
    async fn get_group(&self, service: ServiceId, id: &str) -> StoreResult<Option<Group>> {
        Ok(groups::find_group(&self.client().await?, service, id, false).await?.map(|(_, g)| g))
    }
    async fn group_members(
        &self,
        service: ServiceId,
        id: &str,
        page: Option<PageRequest>,
    ) -> StoreResult<Page<Member>> {
        groups::group_members(&self.client().await?, service, id, page).await
    }
    async fn update_group(
        &self,
        service: ServiceId,
        id: &str,
        mutation: GroupMutation,
        membership: Vec<MembershipChange>,
    ) -> StoreResult<(Group, MembershipOutcome)> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let out = groups::update_group(&tx, service, id, mutation, membership).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(out)
    }
    async fn delete_group(&self, service: ServiceId, id: &str) -> StoreResult<Tombstone> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let out = groups::delete_group(&tx, service, id).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(out)
    }
    async fn query_groups(&self, service: ServiceId, query: &GroupQuery) -> StoreResult<Page<Group>> {
        groups::query_groups(&self.client().await?, service, query).await
    }
    async fn list_tombstones(&self, service: ServiceId) -> StoreResult<Vec<Tombstone>> {
        groups::list_tombstones(&self.client().await?, service).await
    }
    async fn user_groups(&self, service: ServiceId, user_id: &str) -> StoreResult<Vec<(String, String)>> {
        groups::user_groups(&self.client().await?, service, user_id).await
    }
    async fn redeem_activation(
        &self,
        code_hash: &[u8],
        now: domain::Timestamp,
    ) -> StoreResult<Result<User, domain::activation::RedeemError>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let out = activation::redeem(&tx, code_hash, now).await?;
        if out.is_ok() {
            tx.commit().await.map_err(pg_err)?;
        }
        Ok(out)
    }
    async fn reissue_activation(&self, service: ServiceId, user_id: &str, a: NewActivation) -> StoreResult<User> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let user = activation::reissue(&tx, service, user_id, a).await?;
        tx.commit().await.map_err(pg_err)?;
        self.notify_outbox();
        Ok(user)
    }
    async fn claim_outbox(&self, claim: &domain::outbox::Claim) -> StoreResult<Vec<domain::outbox::OutboxMessage>> {
        outbox::claim(&self.client().await?, claim).await
    }
    async fn outbox_sent(
        &self,
        id: i64,
        worker: &str,
        at: domain::Timestamp,
        scrubbed: serde_json::Value,
    ) -> StoreResult<bool> {
        outbox::mark_sent(&self.client().await?, id, worker, at, &scrubbed).await
    }
    async fn outbox_sent_many(
        &self,
        sent: Vec<(i64, serde_json::Value)>,
        worker: &str,
        at: domain::Timestamp,
    ) -> StoreResult<Vec<bool>> {
        outbox::mark_sent_many(&self.client().await?, &sent, worker, at).await
    }
    async fn outbox_failed(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        outcome: domain::outbox::FailureOutcome,
    ) -> StoreResult<bool> {
        outbox::mark_failed(&self.client().await?, id, worker, error, outcome).await
    }
    async fn release_outbox(&self, worker: &str, ids: Vec<i64>) -> StoreResult<u64> {
        outbox::release(&self.client().await?, worker, &ids).await
    }
    async fn list_outbox(
        &self,
        state: Option<domain::outbox::OutboxState>,
        limit: u32,
    ) -> StoreResult<Vec<domain::outbox::OutboxMessage>> {
        outbox::list(&self.client().await?, state, limit).await
    }
    async fn outbox_counts(&self) -> StoreResult<domain::outbox::OutboxCounts> {
        outbox::counts(&self.client().await?).await
    }
    async fn requeue_outbox(&self, id: Option<i64>, now: domain::Timestamp) -> StoreResult<u64> {
        outbox::requeue(&self.client().await?, id, now).await
    }

    fn set_outbox_listener(&self, listener: domain::ports::OutboxListener) {
        if let Ok(mut slot) = self.outbox_listener.lock() {
            *slot = Some(listener);
        }
    }

    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()> {
        // One multi-row INSERT: atomic on its own, one round trip and one commit per batch.
        log::append(&self.client().await?, entries).await
    }
    async fn query_log(&self, service: ServiceId, query: &LogQuery) -> StoreResult<Vec<StoredLogEntry>> {
        log::query(&self.client().await?, service, query).await
    }
    async fn prune_log(&self, service: ServiceId, before: domain::Timestamp) -> StoreResult<u64> {
        log::prune(&self.client().await?, service, before).await
    }
    async fn create_admin(&self, name: &str, password_hash: &str) -> StoreResult<domain::admin::AdminAccount> {
        admin::create_admin(&self.client().await?, name, password_hash).await
    }
    async fn admin_by_name(&self, name: &str) -> StoreResult<Option<domain::admin::AdminAccount>> {
        admin::admin_by_name(&self.client().await?, name).await
    }
    async fn list_admins(&self) -> StoreResult<Vec<domain::admin::AdminAccount>> {
        admin::list_admins(&self.client().await?).await
    }
    async fn set_admin_password(&self, name: &str, password_hash: &str) -> StoreResult<domain::admin::AdminAccount> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let admin = admin::set_password(&tx, name, password_hash).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(admin)
    }
    async fn record_admin_login(&self, admin_id: i64, at: domain::Timestamp) -> StoreResult<()> {
        admin::record_login(&self.client().await?, admin_id, at).await
    }
    async fn create_session(&self, session: domain::admin::NewSession) -> StoreResult<()> {
        admin::create_session(&self.client().await?, session).await
    }
    async fn session_by_hash(&self, id_hash: &[u8]) -> StoreResult<Option<domain::admin::AdminSession>> {
        admin::session_by_hash(&self.client().await?, id_hash).await
    }
    async fn touch_session(&self, id_hash: &[u8], at: domain::Timestamp) -> StoreResult<()> {
        admin::touch_session(&self.client().await?, id_hash, at).await
    }
    async fn delete_session(&self, id_hash: &[u8]) -> StoreResult<()> {
        admin::delete_session(&self.client().await?, id_hash).await
    }
    async fn group_member_counts(&self, service: ServiceId, group_ids: &[String]) -> StoreResult<Vec<(String, u64)>> {
        admin::group_member_counts(&self.client().await?, service, group_ids).await
    }
    async fn log_stats(&self, service: ServiceId, since: domain::Timestamp) -> StoreResult<domain::admin::LogStats> {
        admin::log_stats(&self.client().await?, service, since).await
    }
    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(pg_err)?;
        Ok(())
    }
}

/// Creates an empty database next to the one `admin_url` names and returns its URL. Used by
/// the test suites to give every test its own database on one server.
pub async fn create_scratch_database(admin_url: &str) -> Result<String, String> {
    let (client, connection) = tokio_postgres::connect(admin_url, NoTls).await.map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let name = format!("scimd_test_{}", uuid::Uuid::new_v4().simple());
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.map_err(|e| e.to_string())?;
    drop(client);
    let _ = driver.await;
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}
