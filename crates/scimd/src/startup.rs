//! Building and running the server.

use crate::audit::AuditLog;
use crate::scim_api;
use crate::settings::{ServeArgs, Settings};
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use domain::ports::Store;
use domain::service::ServiceParams;
use domain::token::TokenScope;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    outbox: crate::outbox_worker::OutboxSetup,
    /// How long in-flight requests may take after the shutdown signal.
    shutdown_timeout: std::time::Duration,
}

/// The first service's name, created on an empty database.
pub const DEFAULT_SERVICE: &str = "default";

impl Application {
    /// Opens the store, makes sure a first service exists, binds the listener.
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Self> {
        let store = store::open(&args.store_options()).await.map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr()?;
        let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let settings = Arc::new(Settings {
            public_url,
            max_body_bytes: args.max_body_bytes,
            max_group_body_bytes: args.max_group_body_bytes,
            activation_rate: crate::activation_page::RateLimit {
                per_minute: args.mail.activation_rate_per_minute,
                burst: args.mail.activation_rate_burst,
            },
            sign_in_rate_per_minute: args.sign_in_rate_per_minute,
        });
        let outbox = crate::outbox_worker::OutboxSetup::new(args, &settings, Arc::clone(&store))?;
        first_run(store.as_ref(), &settings).await?;
        let state = AppState::new(crate::state::Shared {
            audit: AuditLog::start(Arc::clone(&store)),
            store,
            settings,
            schemas: Arc::new(scim_api::schemas::Schemas::new()),
            limiter: Arc::new(crate::rate_limit::TokenLimiter::new(args.rate_limit_per_token)),
            auth_cache: Arc::default(),
            token_touches: Arc::default(),
        });
        crate::telemetry::init();
        crate::telemetry::spawn_outbox_gauges(Arc::clone(&state.store));
        AuditLog::spawn_retention(Arc::clone(&state.store));
        let router = router(state.clone());
        let shutdown_timeout = std::time::Duration::from_secs(args.shutdown_timeout_secs);
        Ok(Self { listener, router, state, outbox, shutdown_timeout })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops accepting connections and lets in-flight
    /// requests finish, for at most the shutdown timeout.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let audit = self.state.audit.clone();
        let store = Arc::clone(&self.state.store);
        let outbox = self.outbox.start();
        // Connect info: the activation page rate-limits per client address.
        let service = self.router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown_signal().await;
            let _ = signalled_tx.send(());
        };
        // Every response goes out as soon as it is written, never held back by Nagle's
        // algorithm waiting for the client's acknowledgement of the previous one.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |stream: &mut tokio::net::TcpStream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
            }
        });
        let server =
            std::future::IntoFuture::into_future(axum::serve(listener, service).with_graceful_shutdown(signal));
        // axum waits for every connection to close, without a bound: a client that never
        // finishes sending its body would hold the process forever (issue 8).
        let grace = self.shutdown_timeout;
        let served = tokio::select! {
            served = server => served,
            () = async move {
                if signalled_rx.await.is_err() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(timeout_secs = grace.as_secs(), "requests still in flight after the shutdown timeout; closing their connections");
                Ok(())
            }
        };
        // Finishes the email being sent and releases the other claimed ones; bounded too (a send
        // is bounded by four SMTP timeouts, which may exceed the shutdown timeout).
        if tokio::time::timeout(grace, outbox.stop()).await.is_err() {
            tracing::warn!("the outbox worker did not stop in time; the emails it holds are sent after their lease");
        }
        served?;
        audit.flush().await;
        // After the last write: SQLite's database file then holds everything (docs/operations.md).
        if let Err(e) = store.close().await {
            tracing::warn!(error = %e, "closing the store failed; the next start recovers from the WAL");
        }
        tracing::info!("scimd stopped");
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::telemetry::render))
        .with_state(state.clone())
        .merge(crate::activation_page::router(Arc::clone(&state.store), state.settings.activation_rate))
        .merge(crate::admin_api::router(state.clone()))
        .merge(crate::console::router(state.clone(), state.settings.sign_in_rate_per_minute))
        .merge(scim_api::router(state))
        .route_layer(axum::middleware::from_fn(crate::telemetry::track_requests))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Tokens and session cookies never reach the logs.
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION, axum::http::header::COOKIE]))
}

/// The request span of the HTTP trace: tower-http's default (method, URI, version), except
/// that `code` query parameters are hidden. `GET /activate?code=…` (the emailed link) carries an
/// activation code, which the trace logged at debug level (issue 8, tests/secrets).
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %req.method(), uri = %redact_codes(req.uri()), version = ?req.version())
}

fn redact_codes(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else { return uri.path().to_owned() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("code") => format!("{k}=[redacted]"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), pairs.join("&"))
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// On an empty database: create the service `default` and print, once, the tenant URL and a
/// SCIM token for it; without any console administrator, create `admin` and print, once, the
/// console's sign-in URL and its password.
async fn first_run(store: &dyn Store, settings: &Settings) -> anyhow::Result<()> {
    first_service(store, settings).await?;
    first_admin(store, settings).await
}

/// The console administrator created when there is none.
pub const DEFAULT_ADMIN: &str = "admin";

async fn first_admin(store: &dyn Store, settings: &Settings) -> anyhow::Result<()> {
    if !store.list_admins().await?.is_empty() {
        return Ok(());
    }
    let password = match crate::admin_cli::create(store, DEFAULT_ADMIN, None).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(()),
        // Another process starting on the same database created it first.
        Err(e) if store.admin_by_name(DEFAULT_ADMIN).await.ok().flatten().is_some() => {
            tracing::debug!(error = %e, "the first administrator was created by another process");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    println!("scimd: created the console administrator {DEFAULT_ADMIN:?}. Sign in at:");
    println!("  Console:  {}/console", settings.public_url.trim_end_matches('/'));
    println!("  Name:     {DEFAULT_ADMIN}");
    println!("  Password: {password}");
    println!("  (the password is shown only this once; `scimd admin reset-password {DEFAULT_ADMIN}` sets a new one)");
    Ok(())
}

async fn first_service(store: &dyn Store, settings: &Settings) -> anyhow::Result<()> {
    if !store.list_services().await?.is_empty() {
        return Ok(());
    }
    let service = store.create_service(DEFAULT_SERVICE, ServiceParams::default()).await?;
    let (token, _) = crate::tokens::issue(store, service.id, TokenScope::Scim, "created at first start", None).await?;
    println!(
        "scimd: created the service {DEFAULT_SERVICE:?}. Paste these into Entra ID (Provisioning > Admin Credentials):"
    );
    println!("  Tenant URL:   {}", settings.tenant_url());
    println!("  Secret Token: {token}");
    println!("  (the token is shown only this once; `scimd token create --service default` makes another)");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
