//! Shared application state handed to every handler.

use crate::audit::AuditLog;
use crate::settings::Settings;
use domain::ports::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub audit: AuditLog,
    pub schemas: Arc<crate::scim_api::schemas::Schemas>,
}
