//! Rule violations, phrased for the administrator who has to fix them.

/// A request that the directory's rules refuse. Each variant carries a detail that names the
/// attribute, value or limit, so it can be shown verbatim in Entra's provisioning log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value breaks a rule (login characters, name length, nested group…).
    #[error("{0}")]
    InvalidValue(String),
    /// Another object already holds this unique value (login, group name).
    #[error("{0}")]
    Conflict(String),
    /// The user belongs to another provisioning source (product.md §2.4).
    #[error("{0}")]
    Owned(String),
    #[error("{0}")]
    NotFound(String),
}
