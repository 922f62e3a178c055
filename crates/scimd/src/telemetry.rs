//! Prometheus metrics at `/metrics`: requests by route and status, latency histograms, outbox
//! depth, provisioning errors per service. The recorder is process-wide.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ports::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once (later calls reuse it).
pub fn init() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .ok()?;
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok()?;
        Some(handle)
    });
}

pub async fn render() -> Response {
    match HANDLE.get().and_then(Option::as_ref) {
        Some(h) => ([("content-type", "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed").into_response(),
    }
}

/// Records every HTTP request by its route template (never the raw path: ids would make
/// unbounded label sets).
pub async fn track_requests(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("scimd_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("scimd_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// A SCIM request a service's provisioning client saw fail.
pub fn provisioning_error(service: &str) {
    metrics::counter!("scimd_provisioning_errors_total", "service" => service.to_owned()).increment(1);
}

/// Samples the outbox depth every few seconds (cheap counts over an index).
pub fn spawn_outbox_gauges(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        loop {
            if let Ok(c) = store.outbox_counts().await {
                metrics::gauge!("scimd_outbox_pending").set(c.pending as f64);
                metrics::gauge!("scimd_outbox_dead").set(c.dead as f64);
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
}
