//! Prometheus metrics at `/metrics`: requests by route and status, latency histograms, outbox
//! depth, provisioning errors per service. The recorder is process-wide.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ports::Store;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::cell::RefCell;
use std::collections::HashMap;
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
        spawn_upkeep(handle.clone());
        Some(handle)
    });
}

/// Drains recorded latencies into the histograms every few seconds. The recorder keeps every
/// recorded value until this runs (or a scrape renders): without it, a server nobody scrapes
/// would grow by eight bytes a request, for ever. A thread, not a task, so it outlives any one
/// runtime (the recorder is process-wide).
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            handle.run_upkeep();
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the metrics upkeep thread; latencies are drained at each scrape only");
    }
}

const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

pub async fn render() -> Response {
    match HANDLE.get().and_then(Option::as_ref) {
        Some(h) => ([("content-type", "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed").into_response(),
    }
}

/// Records every HTTP request by its route template (never the raw path: ids would make
/// unbounded label sets) and its method (one of the standard ones, else `other`: a client may
/// send any token as a method).
pub async fn track_requests(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let (counter, histogram) = request_handles(route.as_ref().map_or("unmatched", MatchedPath::as_str), method, status);
    counter.increment(1);
    histogram.record(started.elapsed().as_secs_f64());
    resp
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The request counter and latency histogram of one route, method and status. Registering a
/// metric builds its labelled key (three owned strings) and looks it up in the recorder's
/// registry, about 2 % of a lookup's CPU; the handles are kept per worker thread instead. Their
/// number is bounded: route templates × standard methods × status codes.
fn request_handles(route: &str, method: &'static str, status: u16) -> (Counter, Histogram) {
    type Handles = HashMap<Box<str>, Vec<(&'static str, u16, Counter, Histogram)>>;
    thread_local! {
        static HANDLES: RefCell<Handles> = RefCell::new(HashMap::new());
    }
    HANDLES.with_borrow_mut(|handles| {
        let by_route = match handles.get_mut(route) {
            Some(v) => v,
            None => handles.entry(route.into()).or_default(),
        };
        if let Some((_, _, c, h)) = by_route.iter().find(|(m, s, _, _)| *m == method && *s == status) {
            return (c.clone(), h.clone());
        }
        let counter = metrics::counter!(
            "scimd_http_requests_total",
            "route" => route.to_owned(),
            "method" => method,
            "status" => status.to_string()
        );
        let histogram =
            metrics::histogram!("scimd_http_request_duration_seconds", "route" => route.to_owned(), "method" => method);
        by_route.push((method, status, counter.clone(), histogram.clone()));
        (counter, histogram)
    })
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
