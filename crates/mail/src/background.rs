//! Delivery in the background, at a lower CPU priority than the server's other work.
//!
//! An activation email can wait a few seconds; Entra's requests should not. Sending costs CPU
//! (building the MIME message, five SMTP round trips, TLS), and during a provisioning burst the
//! outbox worker sends as fast as users are created: on equal terms, delivery would take CPU
//! from the very requests that queue the emails. [`BackgroundMailer`] runs another mailer on a
//! thread of its own with a raised nice value, so the kernel gives that thread the CPU the
//! request threads leave idle first; under full load it still gets a share, so emails are
//! delayed, never stopped. Nothing is lost meanwhile: the outbox holds every message until it
//! is marked sent.

use crate::{Email, Mailer, SendError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// How much lower the sending thread's priority is (nice +10: about a tenth of the CPU weight
/// of a normal thread when both want the CPU).
pub const BACKGROUND_NICE: i32 = 10;

struct Job {
    email: Email,
    reply: oneshot::Sender<Result<String, SendError>>,
}

/// Hands every message to `inner` on the `mail-sender` thread. The thread ends when the last
/// handle is dropped.
pub struct BackgroundMailer {
    jobs: mpsc::UnboundedSender<Job>,
    description: String,
}

impl BackgroundMailer {
    /// Starts the sending thread (its own single-threaded runtime: the inner mailer's
    /// connections and timers live there) with its nice value raised by `nice`.
    pub fn start(inner: Arc<dyn Mailer>, nice: i32) -> std::io::Result<Self> {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let description = inner.describe();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("mail-sender".into()).spawn(move || {
            lower_priority(nice);
            runtime.block_on(async move {
                while let Some(job) = queue.recv().await {
                    let _ = job.reply.send(inner.send(&job.email).await);
                }
            });
        })?;
        Ok(Self { jobs, description })
    }
}

#[async_trait::async_trait]
impl Mailer for BackgroundMailer {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        let stopped = || SendError::Transient("the mail-sender thread has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { email: email.clone(), reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    fn describe(&self) -> String {
        format!("{} (background priority)", self.description)
    }
}

/// Raises the calling thread's nice value. Linux keeps a nice value per thread, so only the
/// sending thread is affected; raising it needs no privilege. Elsewhere, and if it fails, the
/// thread runs at normal priority: slower requests under load, nothing worse.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::nice(nice) {
        tracing::warn!(error = %e, "cannot lower the mail-sender thread's priority; emails are sent at normal priority");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records, for each message, the thread that sent it and that thread's nice value.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<(Option<String>, Option<i32>)>>,
    }

    #[async_trait::async_trait]
    impl Mailer for Recorder {
        async fn send(&self, email: &Email) -> Result<String, SendError> {
            #[cfg(target_os = "linux")]
            let nice = rustix::process::getpriority_process(None).ok();
            #[cfg(not(target_os = "linux"))]
            let nice = None;
            let thread = std::thread::current().name().map(str::to_owned);
            self.seen.lock().map_err(|e| SendError::Transient(e.to_string()))?.push((thread, nice));
            if email.to == "refused@example.com" {
                return Err(SendError::Permanent("550 no such user".into()));
            }
            Ok(format!("sent to {}", email.to))
        }
        fn describe(&self) -> String {
            "recorder".into()
        }
    }

    fn email(to: &str) -> Email {
        Email {
            message_id: "<1@example.com>".into(),
            to: to.into(),
            subject: "s".into(),
            text: "t".into(),
            html: "<p>h</p>".into(),
        }
    }

    #[tokio::test]
    async fn sends_on_its_own_thread_at_a_lower_priority_and_returns_the_inner_answer() {
        let recorder = Arc::new(Recorder::default());
        let mailer = BackgroundMailer::start(recorder.clone(), BACKGROUND_NICE).expect("start");
        assert_eq!(mailer.send(&email("a@example.com")).await.expect("sent"), "sent to a@example.com");
        let refused = mailer.send(&email("refused@example.com")).await.expect_err("refused");
        assert!(refused.is_permanent(), "the inner mailer's error comes back as it was: {refused}");
        assert_eq!(mailer.describe(), "recorder (background priority)");

        let seen = recorder.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 2);
        for (thread, nice) in seen {
            assert_eq!(thread.as_deref(), Some("mail-sender"));
            #[cfg(target_os = "linux")]
            {
                let here = rustix::process::getpriority_process(None).expect("getpriority");
                let there = nice.expect("nice of the sending thread");
                assert_eq!(there, (here + BACKGROUND_NICE).min(19), "only the sending thread is lowered");
            }
            #[cfg(not(target_os = "linux"))]
            let _ = nice;
        }
    }
}
