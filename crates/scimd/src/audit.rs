//! The provisioning-log writer. Handlers hand entries to [`AuditLog::record`], which never
//! waits; a background task writes them in batches, so logging every request costs one write
//! per batch instead of one per request.

use domain::audit::LogEntry;
use domain::ports::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

enum Message {
    Entry(Box<LogEntry>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::UnboundedSender<Message>,
}

const MAX_BATCH: usize = 1000;
/// Entries per store write. A gathered burst is written in slices this size so that no single
/// write job holds the (single) SQLite writer for long: the requests queued behind it would
/// see that time as latency.
const WRITE_SLICE: usize = 100;
/// How long the writer gathers entries before writing them (a flush request writes at once).
const GATHER_WINDOW: Duration = Duration::from_millis(50);

impl AuditLog {
    /// Starts the writer task.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            let mut waiting = Vec::new();
            while let Some(first) = rx.recv().await {
                // Gather what arrives within a short window: one transaction for a whole
                // burst of requests instead of one per handful (fewer commits, fewer wake-ups).
                let window = tokio::time::sleep(GATHER_WINDOW);
                tokio::pin!(window);
                let mut next = Some(first);
                while let Some(msg) = next.take() {
                    let flush = matches!(msg, Message::Flush(_));
                    match msg {
                        Message::Entry(e) => batch.push(*e),
                        Message::Flush(done) => waiting.push(done),
                    }
                    if batch.len() >= MAX_BATCH || flush {
                        break;
                    }
                    next = tokio::select! {
                        msg = rx.recv() => msg,
                        () = &mut window => None,
                    };
                }
                let mut entries = std::mem::take(&mut batch);
                while !entries.is_empty() {
                    let rest = entries.split_off(entries.len().min(WRITE_SLICE));
                    if let Err(e) = store.append_log(entries).await {
                        tracing::error!(error = %e, "cannot write provisioning-log entries");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    entries = rest;
                }
                waiting.drain(..).for_each(|done| {
                    let _ = done.send(());
                });
            }
        });
        Self { tx }
    }

    /// Deletes each service's entries older than its `log_retention_days`, once an hour.
    pub fn spawn_retention(store: Arc<dyn Store>) {
        tokio::spawn(async move {
            loop {
                match store.list_services().await {
                    Ok(services) => {
                        for s in services {
                            let before = domain::now() - time::Duration::days(i64::from(s.params.log_retention_days));
                            match store.prune_log(s.id, before).await {
                                Ok(0) => {}
                                Ok(n) => tracing::info!(service = %s.name, deleted = n, "pruned provisioning log"),
                                Err(e) => tracing::warn!(error = %e, "cannot prune provisioning log"),
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot prune provisioning log"),
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
    }

    pub fn record(&self, entry: LogEntry) {
        let _ = self.tx.send(Message::Entry(Box::new(entry)));
    }

    /// Resolves once every entry recorded before the call is written (shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}
