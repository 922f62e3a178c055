//! The provisioning log: one entry per SCIM request, per service (product.md §3).

use crate::Timestamp;
use crate::service::ServiceId;

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub service: ServiceId,
    pub time: Timestamp,
    pub request_id: String,
    pub method: String,
    /// `User`, `Group`, or a discovery resource.
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// A short human summary: "create user alice@contoso.com", "add 3 members".
    pub operation: String,
    /// HTTP status of the answer.
    pub status: u16,
    pub error_detail: Option<String>,
    /// Things an administrator should know though the request succeeded (skipped members,
    /// login renames, ignored attributes).
    pub warnings: Vec<String>,
}

/// A stored log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLogEntry {
    pub id: i64,
    pub entry: LogEntry,
}

/// Filters on the provisioning log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Only failures (status ≥ 400) or only successes.
    pub failed: Option<bool>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Entries with id below this (paging newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
}
