//! User creation with group commit. Creates that arrive while others are being written wait
//! in a queue; a writer takes the whole queue and writes it with one statement (one multi-row
//! `INSERT … SELECT FROM unnest(…)` per table, as data-modifying CTEs) and one commit, then
//! answers every caller. A lone create is written at once; under load a batch holds every
//! create that arrived during the previous one, so the per-statement and per-commit costs of
//! PostgreSQL (executor start-up, foreign-key checks, the WAL flush) are paid once per batch.
//!
//! Every caller is answered only after the commit that holds its user, so an acknowledged
//! create is as durable as before. A login that is taken (by a committed user, or by an
//! earlier create of the same batch) is skipped by `ON CONFLICT DO NOTHING` and answered with
//! the conflict; any other failure of a batch re-runs its creates one by one, so one bad
//! request never fails the others. Rows are inserted in login order, so two batches that
//! create the same logins wait for each other in one order and cannot deadlock.

use super::users::{login_taken, user_from_row};
use super::{pg_err, ts};
use deadpool_postgres::Pool;
use domain::limits::fold_key;
use domain::ports::{NewActivation, StoreError, StoreResult};
use domain::user::{NewUser, User, UserStatus};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Batches written at once (each on its own pooled connection): two let one batch execute while
/// the other waits for its WAL flush; more make smaller batches for no gain (measured with 1, 2,
/// 4 and 8 on 2 cores, 16 concurrent creates).
const MAX_IN_FLIGHT: usize = 2;
/// Creates per statement.
const MAX_BATCH: usize = 64;

const CREATE_USERS_SQL: &str = concat!(
    "WITH v AS (SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
     $6::BOOLEAN[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], \
     $14::TEXT[], $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], $19::BYTEA[], $20::TEXT[], $21::TEXT[], \
     $22::TEXT[]) WITH ORDINALITY AS v(service_id, id, user_name, user_name_key, external_id, active, status, \
     source, activation_expires_at, email, email_key, display_name, display_name_key, given_name, family_name, \
     preferred_language, attributes, created, code_hash, recipient, template, payload, n)), \
     u AS (INSERT INTO users (service_id, id, user_name, user_name_key, external_id, active, status, source, \
     activation_expires_at, email, email_key, display_name, display_name_key, given_name, family_name, \
     preferred_language, attributes, created, last_modified, version) \
     SELECT service_id, id, user_name, user_name_key, external_id, active, status, source, \
     activation_expires_at, email, email_key, display_name, display_name_key, given_name, family_name, \
     preferred_language, attributes, created, created, 1 FROM v ORDER BY service_id, user_name_key, n \
     ON CONFLICT DO NOTHING RETURNING *), \
     r AS (INSERT INTO user_block_reasons (user_pk, reason) SELECT pk, 'inactive' FROM u WHERE NOT u.active), \
     a AS (INSERT INTO activation_codes (user_pk, code_hash, expires_at, created) \
     SELECT u.pk, v.code_hash, v.activation_expires_at, v.created FROM u JOIN v ON v.id = u.id \
     WHERE v.code_hash IS NOT NULL), \
     o AS (INSERT INTO outbox (service_id, user_id, recipient, template, payload, state, next_attempt_at, created) \
     SELECT v.service_id, v.id, v.recipient, v.template, v.payload, 'pending', v.created, v.created \
     FROM u JOIN v ON v.id = u.id WHERE v.code_hash IS NOT NULL ORDER BY u.pk) \
     SELECT ",
    user_fields!(),
    ", CASE WHEN u.active THEN NULL ELSE 'inactive' END FROM u"
);

struct Job {
    user: NewUser,
    status: UserStatus,
    activation: Option<NewActivation>,
    now: String,
    reply: oneshot::Sender<StoreResult<User>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Job>,
    in_flight: usize,
}

/// The queue of creates and the writers working it off. Writers are tasks spawned on the
/// runtime of the create that starts them, so a create whose request is cancelled never
/// strands the others of its batch.
#[derive(Clone)]
pub(crate) struct CreateBatcher {
    pool: Pool,
    queue: Arc<Mutex<Queue>>,
}

impl CreateBatcher {
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool, queue: Arc::default() }
    }

    pub(crate) async fn create(
        &self,
        user: NewUser,
        status: UserStatus,
        activation: Option<NewActivation>,
    ) -> StoreResult<User> {
        let (reply, answer) = oneshot::channel();
        let job = Job { user, status, activation, now: ts(domain::now()), reply };
        let start = {
            let mut q = lock(&self.queue);
            q.waiting.push(job);
            if q.in_flight < MAX_IN_FLIGHT {
                q.in_flight += 1;
                Some(take_batch(&mut q))
            } else {
                None
            }
        };
        if let Some(batch) = start {
            let this = self.clone();
            tokio::spawn(async move { this.write_until_idle(batch).await });
        }
        answer.await.map_err(|_| StoreError::Internal("the create batch was dropped".into()))?
    }

    /// Writes `batch`, then whatever queued meanwhile, until the queue is empty.
    async fn write_until_idle(self, mut batch: Vec<Job>) {
        let mut writer = Writer { queue: &self.queue, done: false };
        loop {
            self.write(batch).await;
            let mut q = lock(&self.queue);
            if q.waiting.is_empty() {
                // Under the lock that a create queues under: no create is left waiting.
                q.in_flight -= 1;
                writer.done = true;
                return;
            }
            batch = take_batch(&mut q);
        }
    }

    async fn write(&self, batch: Vec<Job>) {
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(e) => {
                let err = StoreError::Unavailable(e.to_string());
                for job in batch {
                    let _ = job.reply.send(Err(err.clone()));
                }
                return;
            }
        };
        match insert(&client, &batch).await {
            Ok(mut created) => {
                for job in batch {
                    let result = created.remove(&job.user.id).ok_or_else(|| login_taken(&job.user.user_name));
                    let _ = job.reply.send(result);
                }
            }
            Err(e) if batch.len() > 1 && !matches!(e, StoreError::Unavailable(_)) => {
                // Find the create that failed the batch: each alone.
                for job in batch {
                    let one = std::slice::from_ref(&job);
                    let result = insert(&client, one).await.and_then(|mut created| {
                        created.remove(&job.user.id).ok_or_else(|| login_taken(&job.user.user_name))
                    });
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Gives the writer's slot back if its task ends without emptying the queue (a panic); the
/// creates still waiting are taken by the next create's writer.
struct Writer<'a> {
    queue: &'a Mutex<Queue>,
    done: bool,
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if !self.done {
            lock(self.queue).in_flight -= 1;
        }
    }
}

fn take_batch(q: &mut Queue) -> Vec<Job> {
    if q.waiting.len() <= MAX_BATCH {
        std::mem::take(&mut q.waiting)
    } else {
        let rest = q.waiting.split_off(MAX_BATCH);
        std::mem::replace(&mut q.waiting, rest)
    }
}

/// Inserts the batch in one statement (its own transaction) and returns the created users by
/// id; a create whose login was taken is missing.
async fn insert(c: &deadpool_postgres::Client, batch: &[Job]) -> StoreResult<HashMap<String, User>> {
    let n = batch.len();
    let mut service = Vec::with_capacity(n);
    let mut id = Vec::with_capacity(n);
    let mut user_name = Vec::with_capacity(n);
    let mut user_name_key = Vec::with_capacity(n);
    let mut external_id = Vec::with_capacity(n);
    let mut active = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut source = Vec::with_capacity(n);
    let mut expires = Vec::with_capacity(n);
    let mut email = Vec::with_capacity(n);
    let mut email_key = Vec::with_capacity(n);
    let mut display_name = Vec::with_capacity(n);
    let mut display_key = Vec::with_capacity(n);
    let mut given_name = Vec::with_capacity(n);
    let mut family_name = Vec::with_capacity(n);
    let mut language = Vec::with_capacity(n);
    let mut attributes = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut code_hash = Vec::with_capacity(n);
    let mut recipient = Vec::with_capacity(n);
    let mut template = Vec::with_capacity(n);
    let mut payload = Vec::with_capacity(n);
    for job in batch {
        let u = &job.user;
        let a = job.activation.as_ref();
        service.push(u.service.0);
        id.push(u.id.as_str());
        user_name.push(u.user_name.as_str());
        user_name_key.push(fold_key(&u.user_name));
        external_id.push(u.external_id.as_deref());
        active.push(u.active);
        status.push(job.status.as_str());
        source.push(u.source.as_str());
        expires.push(a.map(|a| ts(a.expires_at)));
        email.push(u.profile.email.as_deref());
        email_key.push(u.profile.email.as_deref().map(fold_key));
        display_name.push(u.profile.display_name.as_deref());
        display_key.push(u.profile.display_name.as_deref().map(fold_key));
        given_name.push(u.profile.given_name.as_deref());
        family_name.push(u.profile.family_name.as_deref());
        language.push(u.profile.preferred_language.as_deref());
        attributes.push(u.attributes.to_string());
        created.push(job.now.as_str());
        code_hash.push(a.map(|a| a.code_hash.as_slice()));
        recipient.push(a.map(|a| a.email.recipient.as_str()));
        template.push(a.map(|a| a.email.template.as_str()));
        payload.push(a.map(|a| a.email.payload.to_string()));
    }
    let rows = super::query(
        c,
        CREATE_USERS_SQL,
        &[
            &service,
            &id,
            &user_name,
            &user_name_key,
            &external_id,
            &active,
            &status,
            &source,
            &expires,
            &email,
            &email_key,
            &display_name,
            &display_key,
            &given_name,
            &family_name,
            &language,
            &attributes,
            &created,
            &code_hash,
            &recipient,
            &template,
            &payload,
        ],
    )
    .await
    .map_err(pg_err)?;
    rows.iter()
        .map(|row| {
            let user = user_from_row(row)?.1;
            Ok((user.id.clone(), user))
        })
        .collect()
}
