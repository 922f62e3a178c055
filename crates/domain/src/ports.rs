//! The storage port. Every backend (SQLite, PostgreSQL) implements [`Store`] and passes the
//! same conformance suite. Methods are coarse, one per use case, and each runs in one
//! transaction: a method either applies completely or not at all.

use crate::DomainError;
use crate::Timestamp;
use crate::activation::RedeemError;
use crate::admin::{AdminAccount, AdminSession, LogStats, NewSession};
use crate::audit::{LogEntry, LogQuery, StoredLogEntry};
use crate::group::{CreatedGroup, Group, Member, MembershipChange, MembershipOutcome, NewGroup, Tombstone};
use crate::outbox::{Claim, FailureOutcome, OutboxCounts, OutboxMessage, OutboxState};
use crate::query::{GroupQuery, Page, PageRequest, UserQuery};
use crate::service::{Service, ServiceId, ServiceParams};
use crate::token::{ApiToken, NewToken};
use crate::user::{NewUser, User, UserStatus};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the write; the text names the value.
    #[error("{0}")]
    Conflict(String),
    /// A domain rule refused the write (raised by a mutation or by the store's own checks).
    #[error(transparent)]
    Rule(#[from] DomainError),
    /// The database cannot be reached right now; the request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A change to a user, computed while the store holds the user locked. Pure: it may refuse
/// with a [`DomainError`], and then nothing is written.
pub type UserMutation = Box<dyn FnOnce(&mut User) -> Result<(), DomainError> + Send>;
/// A change to a group's own attributes (not its members).
pub type GroupMutation = Box<dyn FnOnce(&mut Group) -> Result<(), DomainError> + Send>;
/// A check run on a user before it is deleted (ownership rules).
pub type UserGuard = Box<dyn FnOnce(&User) -> Result<(), DomainError> + Send>;

/// An activation code issued with a user, and the email that carries it, written in the same
/// transaction as the user row (transactional outbox).
#[derive(Debug, Clone)]
pub struct NewActivation {
    pub code_hash: Vec<u8>,
    pub expires_at: Timestamp,
    pub email: OutboundEmail,
}

/// Called after a commit that queued outbox messages, so that a worker in this process sends
/// them at once instead of at its next poll. Only a hint: workers poll anyway, which is what
/// finds messages queued by other processes.
pub type OutboxListener = std::sync::Arc<dyn Fn() + Send + Sync>;

/// An email to send, as queued in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundEmail {
    pub recipient: String,
    /// The template to render (`activation`).
    pub template: String,
    /// Everything the template needs, rendered by the worker.
    pub payload: serde_json::Value,
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    // --- services --------------------------------------------------------------------------
    async fn create_service(&self, name: &str, params: ServiceParams) -> StoreResult<Service>;
    async fn list_services(&self) -> StoreResult<Vec<Service>>;
    async fn service_by_name(&self, name: &str) -> StoreResult<Option<Service>>;
    async fn service_by_id(&self, id: ServiceId) -> StoreResult<Option<Service>>;
    async fn update_service_params(&self, id: ServiceId, params: ServiceParams) -> StoreResult<Service>;

    // --- tokens ----------------------------------------------------------------------------
    async fn insert_token(&self, token: NewToken) -> StoreResult<ApiToken>;
    /// Looks a token up by the hash of its secret (the lookup key is a hash, so the database
    /// never compares secrets).
    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<ApiToken>>;
    /// The token with this hash and its service, in one round trip: every request needs both.
    async fn authenticate(&self, hash: &[u8]) -> StoreResult<Option<(ApiToken, Service)>> {
        let Some(token) = self.token_by_hash(hash).await? else { return Ok(None) };
        Ok(self.service_by_id(token.service).await?.map(|s| (token, s)))
    }
    async fn list_tokens(&self, service: Option<ServiceId>) -> StoreResult<Vec<ApiToken>>;
    /// Revokes at once. `service` restricts the revocation to that service's tokens.
    async fn revoke_token(&self, service: Option<ServiceId>, id: i64) -> StoreResult<ApiToken>;
    async fn touch_token(&self, id: i64, at: Timestamp) -> StoreResult<()>;

    // --- users -----------------------------------------------------------------------------
    /// Creates a user. `Conflict` when the login is taken in this service.
    async fn create_user(
        &self,
        user: NewUser,
        status: UserStatus,
        activation: Option<NewActivation>,
    ) -> StoreResult<User>;
    async fn get_user(&self, service: ServiceId, id: &str) -> StoreResult<Option<User>>;
    /// Applies `mutation` to the locked user and stores the result (login uniqueness checked).
    async fn update_user(&self, service: ServiceId, id: &str, mutation: UserMutation) -> StoreResult<User>;
    /// Removes the user, its memberships and codes. `guard` may refuse.
    async fn delete_user(&self, service: ServiceId, id: &str, guard: UserGuard) -> StoreResult<User>;
    async fn query_users(&self, service: ServiceId, query: &UserQuery) -> StoreResult<Page<User>>;
    /// Like [`Store::query_users`] without counting the matches, so a page costs one index
    /// range whatever the directory's size: keyset pages (`userName gt <last login>`, sorted
    /// by userName) for the console and the admin API.
    async fn query_users_page(&self, service: ServiceId, query: &UserQuery) -> StoreResult<Vec<User>>;
    /// Counts users per status and blocked users (dashboards).
    async fn user_counts(&self, service: ServiceId, now: Timestamp) -> StoreResult<UserCounts>;

    // --- groups ----------------------------------------------------------------------------
    /// Creates a group, or restores a deleted one: a tombstone with the same `externalId` (or,
    /// without one, the same displayName) gives back its id and unblocks its former members.
    async fn create_group(&self, group: NewGroup) -> StoreResult<CreatedGroup>;
    async fn get_group(&self, service: ServiceId, id: &str) -> StoreResult<Option<Group>>;
    async fn group_members(&self, service: ServiceId, id: &str, page: Option<PageRequest>)
    -> StoreResult<Page<Member>>;
    /// Changes a group's attributes and members in one transaction. Members change as set
    /// operations; unknown member ids are skipped and reported.
    async fn update_group(
        &self,
        service: ServiceId,
        id: &str,
        mutation: GroupMutation,
        membership: Vec<MembershipChange>,
    ) -> StoreResult<(Group, MembershipOutcome)>;
    /// Deletes a group, keeps a tombstone, and blocks each member with `groupDeleted:<id>`.
    async fn delete_group(&self, service: ServiceId, id: &str) -> StoreResult<Tombstone>;
    async fn query_groups(&self, service: ServiceId, query: &GroupQuery) -> StoreResult<Page<Group>>;
    async fn list_tombstones(&self, service: ServiceId) -> StoreResult<Vec<Tombstone>>;
    /// Groups a user belongs to (id, displayName).
    async fn user_groups(&self, service: ServiceId, user_id: &str) -> StoreResult<Vec<(String, String)>>;

    // --- activation (product.md §2.1) -------------------------------------------------------
    /// Redeems the code whose hash is `code_hash`, in one transaction: the rule is
    /// [`crate::activation::check_redemption`]; when it allows, the code row is deleted (single
    /// use) and the user becomes `activated` ([`crate::activation::activate`]). The inner `Err`
    /// says why the code was refused, and then nothing was written. A used code is `Unknown`.
    async fn redeem_activation(&self, code_hash: &[u8], now: Timestamp) -> StoreResult<Result<User, RedeemError>>;
    /// Gives a user a new activation code (an administrator's "resend"), in one transaction:
    /// [`crate::activation::prepare_reissue`] on the locked user (refusal → `Rule`), the new
    /// code replaces the old one (which stops working), pending activation emails of this
    /// user that no worker holds are dropped (their link is dead), and `activation.email` is
    /// queued. `NotFound` when the user is not in this service.
    async fn reissue_activation(
        &self,
        service: ServiceId,
        user_id: &str,
        activation: NewActivation,
    ) -> StoreResult<User>;

    // --- outbox ------------------------------------------------------------------------------
    /// Claims up to `claim.limit` due messages for `claim.worker` until `claim.until`, in one
    /// write: `state = 'pending' AND next_attempt_at <= now AND (claimed_until IS NULL OR
    /// claimed_until < now)`, oldest due first. No message is ever returned to two workers
    /// while a lease holds (PostgreSQL: `FOR UPDATE SKIP LOCKED` in the claiming UPDATE).
    async fn claim_outbox(&self, claim: &Claim) -> StoreResult<Vec<OutboxMessage>>;
    /// Marks a claimed message sent at `at` and stores `scrubbed_payload` (the payload without
    /// secrets, [`crate::outbox::scrub_payload`]) in place of the old one. Returns false when
    /// `worker` no longer holds the message (lease lost, or the message was dropped).
    async fn outbox_sent(
        &self,
        id: i64,
        worker: &str,
        at: Timestamp,
        scrubbed_payload: serde_json::Value,
    ) -> StoreResult<bool>;
    /// [`Store::outbox_sent`] for several messages `(id, scrubbed_payload)` at once (one write
    /// instead of one per message); one answer per message, in order.
    async fn outbox_sent_many(
        &self,
        sent: Vec<(i64, serde_json::Value)>,
        worker: &str,
        at: Timestamp,
    ) -> StoreResult<Vec<bool>> {
        let mut held = Vec::with_capacity(sent.len());
        for (id, payload) in sent {
            held.push(self.outbox_sent(id, worker, at, payload).await?);
        }
        Ok(held)
    }
    /// Records a failed attempt of a claimed message: `attempts + 1`, `last_error`, the lease
    /// released, and either `next_attempt_at` (retry) or `state = 'dead'`. The outcome comes
    /// from [`crate::outbox::RetryPolicy::after_failure`]. Returns false when `worker` no
    /// longer holds the message.
    async fn outbox_failed(&self, id: i64, worker: &str, error: &str, outcome: FailureOutcome) -> StoreResult<bool>;
    /// Gives back claimed messages that were not attempted (shutdown, lease running short),
    /// without counting an attempt. Returns how many were released.
    async fn release_outbox(&self, worker: &str, ids: Vec<i64>) -> StoreResult<u64>;
    /// Messages in `state` (all when `None`), newest first, at most `limit` (administrators).
    async fn list_outbox(&self, state: Option<OutboxState>, limit: u32) -> StoreResult<Vec<OutboxMessage>>;
    /// Pending and dead messages over all services (metrics).
    async fn outbox_counts(&self) -> StoreResult<OutboxCounts>;
    /// Puts dead messages back to `pending` with no attempts, due at `now`: the one with `id`,
    /// or every dead message when `None`. Returns how many.
    async fn requeue_outbox(&self, id: Option<i64>, now: Timestamp) -> StoreResult<u64>;
    /// Registers a hint called after commits that queued messages (see [`OutboxListener`]).
    /// The default ignores it: workers find new messages by polling.
    fn set_outbox_listener(&self, _listener: OutboxListener) {}

    // --- provisioning log ------------------------------------------------------------------
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()>;
    async fn query_log(&self, service: ServiceId, query: &LogQuery) -> StoreResult<Vec<StoredLogEntry>>;
    /// Deletes the service's entries older than `before`; returns how many.
    async fn prune_log(&self, service: ServiceId, before: Timestamp) -> StoreResult<u64>;

    // --- console administrators and sessions (product.md §3) --------------------------------
    /// Creates an administrator. `Conflict` when the name is taken (ignoring case).
    async fn create_admin(&self, name: &str, password_hash: &str) -> StoreResult<AdminAccount>;
    /// The administrator with this name (ignoring case).
    async fn admin_by_name(&self, name: &str) -> StoreResult<Option<AdminAccount>>;
    async fn list_admins(&self) -> StoreResult<Vec<AdminAccount>>;
    /// Replaces an administrator's password hash and ends all of its sessions, in one
    /// transaction. `NotFound` when there is no such administrator.
    async fn set_admin_password(&self, name: &str, password_hash: &str) -> StoreResult<AdminAccount>;
    async fn record_admin_login(&self, admin_id: i64, at: Timestamp) -> StoreResult<()>;
    /// Stores a new session; sessions past their expiry are deleted on the way.
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// The session whose id hashes to `id_hash`, with its administrator's name, expired or not
    /// (the caller checks [`AdminSession::is_live_at`]).
    async fn session_by_hash(&self, id_hash: &[u8]) -> StoreResult<Option<AdminSession>>;
    /// Records a session's use (idle timeout).
    async fn touch_session(&self, id_hash: &[u8], at: Timestamp) -> StoreResult<()>;
    /// Ends a session (sign-out). Ending an unknown session is not an error.
    async fn delete_session(&self, id_hash: &[u8]) -> StoreResult<()>;

    // --- console statistics ------------------------------------------------------------------
    /// The member count of each group of `group_ids` in this service; ids of no group of this
    /// service are left out. One index range count per group.
    async fn group_member_counts(&self, service: ServiceId, group_ids: &[String]) -> StoreResult<Vec<(String, u64)>>;
    /// The newest provisioning-log entry's time, and requests and errors since `since`.
    async fn log_stats(&self, service: ServiceId, since: Timestamp) -> StoreResult<LogStats>;

    // --- health ----------------------------------------------------------------------------
    /// Cheap round trip to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;

    // --- shutdown --------------------------------------------------------------------------
    /// Called once at a clean stop, after the last write. An embedded store makes its files
    /// self-contained here (SQLite: copies the WAL into the database file and empties it), so
    /// that the database file alone holds every change. A server needs nothing.
    async fn close(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Users per status, for dashboards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserCounts {
    pub total: u64,
    pub blocked: u64,
    pub by_status: Vec<(UserStatus, u64)>,
}
