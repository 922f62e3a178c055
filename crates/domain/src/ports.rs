//! The storage port. Every backend (SQLite, PostgreSQL) implements [`Store`] and passes the
//! same conformance suite. Methods are coarse, one per use case, and each runs in one
//! transaction: a method either applies completely or not at all.

use crate::DomainError;
use crate::Timestamp;
use crate::audit::{LogEntry, LogQuery, StoredLogEntry};
use crate::group::{CreatedGroup, Group, Member, MembershipChange, MembershipOutcome, NewGroup, Tombstone};
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

    // --- provisioning log ------------------------------------------------------------------
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()>;
    async fn query_log(&self, service: ServiceId, query: &LogQuery) -> StoreResult<Vec<StoredLogEntry>>;
    /// Deletes entries older than `before`; returns how many.
    async fn prune_log(&self, before: Timestamp) -> StoreResult<u64>;

    // --- health ----------------------------------------------------------------------------
    /// Cheap round trip to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;
}

/// Users per status, for dashboards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserCounts {
    pub total: u64,
    pub blocked: u64,
    pub by_status: Vec<(UserStatus, u64)>,
}
