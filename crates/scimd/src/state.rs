//! Shared application state handed to every handler.

use crate::audit::AuditLog;
use crate::settings::Settings;
use domain::ports::Store;
use std::sync::Arc;

/// Cloned for every request (axum's `State`), so it is one reference count, not nine.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub audit: AuditLog,
    pub schemas: Arc<crate::scim_api::schemas::Schemas>,
    pub limiter: Arc<crate::rate_limit::TokenLimiter>,
    /// Recently verified bearer tokens (cleared on every token or service change).
    pub auth_cache: Arc<crate::tokens::AuthCache>,
    /// When each token's `last_used` was last written (written at most once a minute).
    pub token_touches: Arc<std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>>,
}
