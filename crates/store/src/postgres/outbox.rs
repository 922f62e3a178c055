//! The email outbox on PostgreSQL. Claiming uses `FOR UPDATE SKIP LOCKED`: several scimd
//! processes claim disjoint batches at once, and a leased row is invisible to the others until
//! its lease ends.

use super::{bad, execute, parse_json, parse_opt_ts, parse_ts, pg_err, query, ts};
use deadpool_postgres::GenericClient;
use domain::Timestamp;
use domain::outbox::{Claim, FailureOutcome, OutboxCounts, OutboxMessage, OutboxState};
use domain::ports::StoreResult;
use domain::service::ServiceId;
use tokio_postgres::Row;

const COLUMNS: &str = "id, service_id, user_id, recipient, template, payload, state, attempts, next_attempt_at, \
    claimed_by, claimed_until, last_error, created, sent_at";

/// Longest `last_error` kept.
const MAX_ERROR_LEN: usize = 1000;

fn message_from_row(row: &Row) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        id: row.get(0),
        service: ServiceId(row.get(1)),
        user_id: row.get(2),
        recipient: row.get(3),
        template: row.get(4),
        payload: parse_json(row.get::<_, &str>(5))?,
        state: row.get::<_, String>(6).parse().map_err(bad)?,
        attempts: u32::try_from(row.get::<_, i32>(7)).unwrap_or(0),
        next_attempt_at: parse_ts(row.get::<_, &str>(8))?,
        claimed_by: row.get(9),
        claimed_until: parse_opt_ts(row.get(10))?,
        last_error: row.get(11),
        created: parse_ts(row.get::<_, &str>(12))?,
        sent_at: parse_opt_ts(row.get(13))?,
    })
}

pub(crate) async fn claim<C: GenericClient>(c: &C, claim: &Claim) -> StoreResult<Vec<OutboxMessage>> {
    let rows = query(
        c,
        &format!(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id IN ( \
               SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $3 \
               AND (claimed_until IS NULL OR claimed_until < $3) \
               ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}"
        ),
        &[&claim.worker, &ts(claim.until), &ts(claim.now), &i64::from(claim.limit)],
    )
    .await
    .map_err(pg_err)?;
    let mut claimed = rows.iter().map(message_from_row).collect::<StoreResult<Vec<_>>>()?;
    claimed.sort_by_key(|m| (m.next_attempt_at, m.id));
    Ok(claimed)
}

pub(crate) async fn mark_sent<C: GenericClient>(
    c: &C,
    id: i64,
    worker: &str,
    at: Timestamp,
    scrubbed_payload: &serde_json::Value,
) -> StoreResult<bool> {
    let n = execute(
        c,
        "UPDATE outbox SET state = 'sent', sent_at = $3, payload = $4, claimed_by = NULL, \
         claimed_until = NULL WHERE id = $1 AND claimed_by = $2 AND state = 'pending'",
        &[&id, &worker, &ts(at), &scrubbed_payload.to_string()],
    )
    .await
    .map_err(pg_err)?;
    Ok(n == 1)
}

/// [`mark_sent`] for a round of messages in one statement and one commit (a commit per
/// message would cost a WAL flush each). Returns, in order, whether `worker` still held each.
pub(crate) async fn mark_sent_many<C: GenericClient>(
    c: &C,
    sent: &[(i64, serde_json::Value)],
    worker: &str,
    at: Timestamp,
) -> StoreResult<Vec<bool>> {
    let ids: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
    let payloads: Vec<String> = sent.iter().map(|(_, payload)| payload.to_string()).collect();
    let rows = query(
        c,
        "UPDATE outbox o SET state = 'sent', sent_at = $3, payload = m.payload, claimed_by = NULL, \
         claimed_until = NULL FROM unnest($1::BIGINT[], $4::TEXT[]) AS m(id, payload) \
         WHERE o.id = m.id AND o.claimed_by = $2 AND o.state = 'pending' RETURNING o.id",
        &[&ids, &worker, &ts(at), &payloads],
    )
    .await
    .map_err(pg_err)?;
    let held: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    Ok(ids.iter().map(|id| held.contains(id)).collect())
}

pub(crate) async fn mark_failed<C: GenericClient>(
    c: &C,
    id: i64,
    worker: &str,
    error: &str,
    outcome: FailureOutcome,
) -> StoreResult<bool> {
    let error: String = error.chars().take(MAX_ERROR_LEN).collect();
    let retry_at = match outcome {
        FailureOutcome::RetryAt(at) => Some(ts(at)),
        FailureOutcome::Dead => None,
    };
    let n = execute(
        c,
        "UPDATE outbox SET attempts = attempts + 1, last_error = $3, claimed_by = NULL, claimed_until = NULL, \
         state = CASE WHEN $4::TEXT IS NULL THEN 'dead' ELSE 'pending' END, \
         next_attempt_at = COALESCE($4, next_attempt_at) \
         WHERE id = $1 AND claimed_by = $2 AND state = 'pending'",
        &[&id, &worker, &error, &retry_at],
    )
    .await
    .map_err(pg_err)?;
    if n == 1 && retry_at.is_some() {
        drop_if_user_gone(c, &[id]).await?;
    }
    Ok(n == 1)
}

pub(crate) async fn release<C: GenericClient>(c: &C, worker: &str, ids: &[i64]) -> StoreResult<u64> {
    let released = execute(
        c,
        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL \
         WHERE id = ANY($1) AND claimed_by = $2 AND state = 'pending'",
        &[&ids, &worker],
    )
    .await
    .map_err(pg_err)?;
    if released > 0 {
        drop_if_user_gone(c, ids).await?;
    }
    Ok(released)
}

/// Drops messages just handed back to wait again (released, or failed with a retry) that are
/// activation emails of users who no longer exist. Deleting the user left them alone because a
/// worker held them then (`drop_unclaimed_for_user`); waiting again, they would go out with a
/// dead link. Run after the hand-back: a user deleted in between finds the message unclaimed
/// and drops it itself.
async fn drop_if_user_gone<C: GenericClient>(c: &C, ids: &[i64]) -> StoreResult<()> {
    execute(
        c,
        "DELETE FROM outbox o WHERE o.id = ANY($1) AND o.claimed_by IS NULL AND o.state = 'pending' \
         AND o.template = 'activation' AND o.user_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)",
        &[&ids],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn list<C: GenericClient>(
    c: &C,
    state: Option<OutboxState>,
    limit: u32,
) -> StoreResult<Vec<OutboxMessage>> {
    let rows = query(
        c,
        &format!("SELECT {COLUMNS} FROM outbox WHERE ($1::TEXT IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"),
        &[&state.map(OutboxState::as_str), &i64::from(limit)],
    )
    .await
    .map_err(pg_err)?;
    rows.iter().map(message_from_row).collect()
}

pub(crate) async fn counts<C: GenericClient>(c: &C) -> StoreResult<OutboxCounts> {
    let rows = query(c, "SELECT state, COUNT(*) FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state", &[])
        .await
        .map_err(pg_err)?;
    let mut counts = OutboxCounts::default();
    for r in rows {
        let n = r.get::<_, i64>(1) as u64;
        match r.get::<_, &str>(0) {
            "pending" => counts.pending = n,
            "dead" => counts.dead = n,
            _ => {}
        }
    }
    Ok(counts)
}

pub(crate) async fn requeue<C: GenericClient>(c: &C, id: Option<i64>, now: Timestamp) -> StoreResult<u64> {
    execute(
        c,
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2, claimed_by = NULL, \
         claimed_until = NULL WHERE state = 'dead' AND ($1::BIGINT IS NULL OR id = $1)",
        &[&id, &ts(now)],
    )
    .await
    .map_err(pg_err)
}

/// Drops a user's waiting activation emails that no worker holds (their link is dead).
pub(crate) async fn drop_unclaimed_for_user<C: GenericClient>(
    c: &C,
    user_id: &str,
    now: Timestamp,
) -> StoreResult<u64> {
    execute(
        c,
        "DELETE FROM outbox WHERE user_id = $1 AND template = 'activation' AND state = 'pending' \
         AND (claimed_until IS NULL OR claimed_until < $2)",
        &[&user_id, &ts(now)],
    )
    .await
    .map_err(pg_err)
}
