//! The provisioning-log writer. Handlers hand entries to [`AuditLog::record`], which never
//! waits; a background task writes them in batches, so logging every request costs one write
//! per batch instead of one per request.

use domain::audit::LogEntry;
use domain::ports::Store;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// Entries recorded since the writer last looked, and flush requests waiting for them.
#[derive(Default)]
struct Pending {
    entries: Vec<LogEntry>,
    flushes: Vec<oneshot::Sender<()>>,
}

#[derive(Clone)]
pub struct AuditLog {
    pending: Arc<Mutex<Pending>>,
    /// Wakes the writer early: a flush request, or a full batch.
    wake: Arc<Notify>,
}

/// Recorded entries past which the writer is woken before its next tick.
const MAX_BATCH: usize = 1000;
/// How often the writer looks for recorded entries. Recording only appends to a vector, and
/// the writer wakes on this tick rather than per entry: no task wake-up per request.
const GATHER_WINDOW: Duration = Duration::from_millis(50);
/// Entries per store write. A gathered burst is written in slices this size so that no single
/// write job holds the (single) SQLite writer for long: the requests queued behind it would
/// see that time as latency.
const WRITE_SLICE: usize = 250;

impl AuditLog {
    /// Starts the writer task.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let log = Self { pending: Arc::default(), wake: Arc::new(Notify::new()) };
        let (pending, wake) = (Arc::clone(&log.pending), Arc::clone(&log.wake));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(GATHER_WINDOW) => {}
                    () = wake.notified() => {}
                }
                let Pending { mut entries, flushes } = match pending.lock() {
                    Ok(mut p) => std::mem::take(&mut *p),
                    Err(_) => return,
                };
                while !entries.is_empty() {
                    let rest = entries.split_off(entries.len().min(WRITE_SLICE));
                    if let Err(e) = store.append_log(entries).await {
                        tracing::error!(error = %e, "cannot write provisioning-log entries");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    entries = rest;
                }
                flushes.into_iter().for_each(|done| {
                    let _ = done.send(());
                });
            }
        });
        log
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
        let full = self.pending.lock().is_ok_and(|mut p| {
            p.entries.push(entry);
            p.entries.len() == MAX_BATCH
        });
        if full {
            self.wake.notify_one();
        }
    }

    /// Resolves once every entry recorded before the call is written (shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        let queued = self.pending.lock().is_ok_and(|mut p| {
            p.flushes.push(done);
            true
        });
        if queued {
            self.wake.notify_one();
            let _ = wait.await;
        }
    }
}
