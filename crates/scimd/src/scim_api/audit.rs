//! Turns each SCIM request into a provisioning-log entry.

use super::error::ApiError;
use super::extract::ScimCaller;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use domain::audit::LogEntry;

/// What a handler did, for the provisioning log.
pub struct Operation {
    pub method: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub summary: String,
    pub warnings: Vec<String>,
}

impl Operation {
    pub fn new(method: &'static str, resource_type: &'static str, summary: impl Into<String>) -> Self {
        Self { method, resource_type, resource_id: None, summary: summary.into(), warnings: Vec::new() }
    }
    pub fn on(mut self, id: impl Into<String>) -> Self {
        self.resource_id = Some(id.into());
        self
    }
}

/// Records the outcome and returns the response.
pub fn finish(state: &AppState, caller: &ScimCaller, op: Operation, result: Result<Response, ApiError>) -> Response {
    let (response, error_detail) = match result {
        Ok(r) => (r, None),
        Err(e) => {
            let detail = e.0.detail.clone();
            (e.into_response(), Some(detail))
        }
    };
    if response.status().is_client_error() || response.status().is_server_error() {
        crate::telemetry::provisioning_error(&caller.service.name);
    }
    for w in &op.warnings {
        tracing::debug!(service = %caller.service.name, request_id = %caller.request_id, note = %w, "provisioning note");
    }
    state.audit.record(LogEntry {
        service: caller.service.id,
        time: domain::now(),
        request_id: caller.request_id.clone(),
        method: op.method.to_owned(),
        resource_type: op.resource_type.to_owned(),
        resource_id: op.resource_id,
        operation: op.summary,
        status: response.status().as_u16(),
        error_detail,
        warnings: op.warnings,
    });
    response
}
