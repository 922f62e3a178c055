//! The outbox worker: claims due messages, renders them, sends them through the [`Mailer`],
//! and marks them sent or failed (product.md §2.1).
//!
//! Guarantees, and where they come from:
//! - **nothing lost**: a message is queued in the transaction of the change that causes it
//!   and stays `pending` in the database until a send succeeded; a crash or restart only
//!   delays it;
//! - **not sent twice while a lease holds**: messages are claimed with a lease
//!   ([`Store::claim_outbox`]); another worker (this process or another one on the same
//!   database) does not touch them until it expires. A send is started only while plenty of
//!   the lease remains, so a slow server cannot make the lease run out mid-send;
//! - **at least once**: if the process dies after the server accepted a message but before it
//!   was marked sent, the message is sent again once the lease expires. It keeps its
//!   Message-ID ([`mail::message_id`]), so the duplicate is recognisable;
//! - **retries**: a failed send is retried with exponential backoff and jitter and
//!   dead-lettered after the configured number of attempts ([`RetryPolicy`]);
//! - **clean stop**: on shutdown the message being sent is finished and the other claimed
//!   messages are released at once, so another process (or the next start) takes them without
//!   waiting for the lease.

use crate::settings::{ServeArgs, Settings};
use domain::outbox::{Claim, FailureOutcome, OutboxMessage, RetryPolicy, mask_email, scrub_payload};
use domain::ports::Store;
use mail::{BackgroundMailer, Email, FileMailer, Mailer, SmtpMailer};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How often the outbox is polled when nothing wakes the worker. Polling is what finds
    /// retries that fell due and messages queued by other processes.
    pub poll: Duration,
    pub retry: RetryPolicy,
    /// Most messages claimed at once.
    pub batch: u32,
    /// How long claimed messages stay this worker's.
    pub lease: Duration,
    /// A send starts only while at least this much of the lease remains (a bound on one
    /// send: connect, TLS, and a few SMTP commands, each limited by the SMTP timeout).
    pub min_lease_left: Duration,
    /// The server's public URL: activation links are built from it at send time.
    pub public_url: String,
    /// The domain part of Message-IDs (the sender's domain).
    pub message_id_domain: String,
}

impl WorkerConfig {
    /// The lease, and how much of it must remain to start a send: four SMTP timeouts
    /// (`smtp_timeout` bounds each SMTP command; a send is a handful of them), but at most
    /// half the lease, so a short lease still lets sends start.
    pub fn lease_for(lease: Duration, smtp_timeout: Duration) -> (Duration, Duration) {
        let lease = lease.max(Duration::from_secs(1));
        (lease, smtp_timeout.saturating_mul(4).min(lease / 2))
    }
}

/// Everything the worker needs, prepared (and checked) at startup before anything is served:
/// a wrong `--smtp-url` or `--mail-from` stops `scimd serve` with a clear message.
pub struct OutboxSetup {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    config: WorkerConfig,
}

impl OutboxSetup {
    pub fn new(args: &ServeArgs, settings: &Settings, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let from = match &args.mail.mail_from {
            Some(from) => mail::parse_from(from)?,
            // The public URL's host is the best guess of a domain this server speaks for.
            None => mail::parse_from(&format!("scimd <noreply@{}>", host_of(&settings.public_url)))
                .or_else(|_| mail::parse_from("scimd <noreply@localhost>"))?,
        };
        let message_id_domain = from.email.domain().to_owned();
        let timeout = Duration::from_secs(args.mail.smtp_timeout_secs.max(1));
        let mailer: Arc<dyn Mailer> = match &args.smtp_url {
            Some(url) => Arc::new(SmtpMailer::new(url, from, timeout)?),
            None => {
                let dir = args.storage.data_dir.join("outbox");
                tracing::warn!(
                    dir = %dir.display(),
                    "no --smtp-url: activation emails are written as .eml files instead of being sent"
                );
                Arc::new(FileMailer::new(dir, from))
            }
        };
        // Delivery yields the CPU to SCIM requests (mail::BackgroundMailer; docs/activation.md).
        let mailer: Arc<dyn Mailer> = Arc::new(BackgroundMailer::start(mailer, mail::BACKGROUND_NICE)?);
        let (lease, min_lease_left) =
            WorkerConfig::lease_for(Duration::from_secs(args.mail.outbox_lease_secs), timeout);
        let config = WorkerConfig {
            poll: Duration::from_millis(args.mail.outbox_poll_ms.max(10)),
            retry: args.mail.retry_policy(),
            batch: 20,
            lease,
            min_lease_left,
            public_url: settings.public_url.clone(),
            message_id_domain,
        };
        Ok(Self { store, mailer, config })
    }

    pub fn start(self) -> OutboxWorker {
        OutboxWorker::start(self.store, self.mailer, self.config)
    }
}

/// The host of a URL (`https://user@mfa.example.com:8443/x` → `mfa.example.com`).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.split_inclusive(']').next().unwrap_or(host_port).to_owned();
    }
    host_port.split(':').next().unwrap_or(host_port).to_owned()
}

/// A running worker; [`OutboxWorker::stop`] ends it cleanly.
pub struct OutboxWorker {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl OutboxWorker {
    /// Starts the worker. The store is asked to wake it after every commit that queued
    /// messages, so a user created with an email gets it within milliseconds.
    pub fn start(store: Arc<dyn Store>, mailer: Arc<dyn Mailer>, config: WorkerConfig) -> Self {
        let wake = Arc::new(Notify::new());
        let hint = Arc::clone(&wake);
        store.set_outbox_listener(Arc::new(move || hint.notify_one()));
        let (stop, stopped) = watch::channel(false);
        let worker = Worker { id: worker_id(), store, mailer, config };
        tracing::info!(worker = %worker.id, mailer = %worker.mailer.describe(), "outbox worker started");
        let handle = tokio::spawn(worker.run(wake, stopped));
        Self { stop, handle }
    }

    /// Asks the worker to stop and waits: the message being sent is finished, the other
    /// claimed messages are released.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "the outbox worker ended abnormally");
        }
    }
}

/// Unique per worker, readable in `scimd outbox list`: host, process, random part.
fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "scimd".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..8])
}

struct Worker {
    id: String,
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    config: WorkerConfig,
}

/// What one send attempt came to.
enum Attempt {
    /// Sent; the mailer's note (where it went).
    Sent(String),
    /// Failed, and the failure says the mail server is unreachable or refusing for now:
    /// no point trying the rest of the batch this round.
    TransientFailure,
    Failed,
}

impl Worker {
    async fn run(self, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
        loop {
            if *stopped.borrow() {
                break;
            }
            let more = self.round(&stopped).await;
            if more && !*stopped.borrow() {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll) => {}
                () = wake.notified() => {}
                _ = stopped.changed() => {}
            }
        }
        tracing::info!(worker = %self.id, "outbox worker stopped");
    }

    /// Claims one batch and works through it. True when the batch was full and every message
    /// was attempted, i.e. more may be due right now.
    async fn round(&self, stopped: &watch::Receiver<bool>) -> bool {
        let now = domain::now();
        let lease = time::Duration::try_from(self.config.lease).unwrap_or(time::Duration::MINUTE * 5);
        let claim = Claim { worker: self.id.clone(), now, until: now + lease, limit: self.config.batch };
        let mut queue: VecDeque<OutboxMessage> = match self.store.claim_outbox(&claim).await {
            Ok(claimed) => claimed.into(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim outbox messages; will retry");
                return false;
            }
        };
        let full = queue.len() as u32 >= self.config.batch;
        let min_left = time::Duration::try_from(self.config.min_lease_left).unwrap_or(time::Duration::MINUTE);
        let mut sent = Vec::new();
        while let Some(msg) = queue.pop_front() {
            if *stopped.borrow() || claim.until - domain::now() < min_left {
                queue.push_front(msg);
                break;
            }
            match self.attempt(&msg).await {
                Attempt::Sent(note) => sent.push((msg, note)),
                Attempt::TransientFailure => break,
                Attempt::Failed => {}
            }
        }
        self.mark_sent(sent).await;
        if queue.is_empty() {
            return full;
        }
        // Not attempted: give them back now rather than when the lease expires.
        let ids: Vec<i64> = queue.iter().map(|m| m.id).collect();
        if let Err(e) = self.store.release_outbox(&self.id, ids).await {
            tracing::warn!(error = %e, "cannot release outbox claims; they free up when the lease expires");
        }
        false
    }

    async fn attempt(&self, msg: &OutboxMessage) -> Attempt {
        let to = mask_email(&msg.recipient);
        let message_id = mail::message_id(msg.id, msg.created, &self.config.message_id_domain);
        let email = match self.render(msg) {
            Ok(rendered) => Email::new(message_id.clone(), msg.recipient.clone(), rendered),
            Err(e) => {
                // A payload the templates cannot render will not render next time either.
                self.failed(msg, &to, &format!("cannot render: {e}"), true).await;
                return Attempt::Failed;
            }
        };
        match self.mailer.send(&email).await {
            Ok(note) => Attempt::Sent(note),
            Err(e) => {
                let permanent = e.is_permanent();
                self.failed(msg, &to, &e.to_string(), permanent).await;
                if permanent { Attempt::Failed } else { Attempt::TransientFailure }
            }
        }
    }

    /// Marks the messages of a round that were sent, in one store write. A crash before it
    /// means they are sent again after the lease (at least once, same Message-ID).
    async fn mark_sent(&self, sent: Vec<(OutboxMessage, String)>) {
        if sent.is_empty() {
            return;
        }
        let marks = sent.iter().map(|(msg, _)| (msg.id, scrub_payload(&msg.payload))).collect();
        let held = self.store.outbox_sent_many(marks, &self.id, domain::now()).await;
        for (i, (msg, note)) in sent.iter().enumerate() {
            let to = mask_email(&msg.recipient);
            let message_id = mail::message_id(msg.id, msg.created, &self.config.message_id_domain);
            match held.as_ref().map(|h| h.get(i).copied().unwrap_or(false)) {
                Ok(true) => {
                    tracing::info!(outbox_id = msg.id, %to, %message_id, template = %msg.template, %note, "email sent")
                }
                Ok(false) => tracing::warn!(
                    outbox_id = msg.id, %to, %message_id,
                    "email sent, but this worker no longer held the message (lease expired or message dropped)"
                ),
                Err(e) => tracing::error!(
                    outbox_id = msg.id, %to, %message_id, error = %e,
                    "email sent but not marked sent; it will be sent again when the lease expires"
                ),
            }
        }
    }

    fn render(&self, msg: &OutboxMessage) -> Result<mail::Rendered, mail::RenderError> {
        let mut payload = msg.payload.clone();
        // Activation payloads carry the code; the link is built from this server's URL.
        if let Some(code) = payload.get("code").and_then(|c| c.as_str()).map(str::to_owned)
            && let Some(obj) = payload.as_object_mut()
        {
            obj.insert("link".into(), crate::activation::link(&self.config.public_url, &code).into());
        }
        mail::render(&msg.template, &payload)
    }

    async fn failed(&self, msg: &OutboxMessage, to: &str, error: &str, permanent: bool) {
        let failures = msg.attempts.saturating_add(1);
        let outcome = self.config.retry.after_failure(failures, permanent, domain::now(), rand::random::<f64>());
        if let Err(e) = self.store.outbox_failed(msg.id, &self.id, error, outcome).await {
            tracing::error!(outbox_id = msg.id, error = %e, "cannot record a failed send; retried after the lease");
            return;
        }
        match outcome {
            FailureOutcome::RetryAt(at) => tracing::warn!(
                outbox_id = msg.id, %to, attempt = failures, retry_at = %domain::format_timestamp(at), %error,
                "email not sent; will retry"
            ),
            FailureOutcome::Dead => tracing::error!(
                outbox_id = msg.id, %to, attempts = failures, %error,
                "email dead-lettered; see `scimd outbox list --dead`, requeue with `scimd outbox retry`"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_public_urls() {
        assert_eq!(host_of("https://mfa.example.com"), "mfa.example.com");
        assert_eq!(host_of("http://127.0.0.1:8080/base"), "127.0.0.1");
        assert_eq!(host_of("https://u:p@h.example:8443?x"), "h.example");
        assert_eq!(host_of("http://[::1]:8080"), "[::1]");
    }

    #[test]
    fn a_send_starts_only_with_enough_lease_left() {
        let t = Duration::from_secs(30);
        assert_eq!(WorkerConfig::lease_for(Duration::from_secs(300), t).1, Duration::from_secs(120));
        assert_eq!(WorkerConfig::lease_for(Duration::from_secs(3), t).1, Duration::from_millis(1500));
        assert_eq!(WorkerConfig::lease_for(Duration::ZERO, t).0, Duration::from_secs(1));
    }
}
