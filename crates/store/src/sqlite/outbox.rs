//! The email outbox: claim with a lease, mark sent or failed, dead letters, counts.
//!
//! SQLite has one writer at a time (this process's writer thread, and `BEGIN IMMEDIATE`
//! between processes sharing the file), so the claiming `UPDATE … WHERE id IN (SELECT …)` is
//! atomic: two workers can never both see a row as unclaimed. On PostgreSQL the same
//! statement needs `FOR UPDATE SKIP LOCKED` in the sub-select.

use super::internal;
use super::rows::{json_text, parse_json, parse_opt_ts, parse_ts, ts};
use domain::Timestamp;
use domain::outbox::{Claim, FailureOutcome, OutboxCounts, OutboxMessage, OutboxState};
use domain::ports::StoreResult;
use domain::service::ServiceId;
use rusqlite::{Connection, Row, params};

const COLUMNS: &str = "id, service_id, user_id, recipient, template, payload, state, attempts, next_attempt_at, \
    claimed_by, claimed_until, last_error, created, sent_at";

/// Longest `last_error` kept; SMTP replies can be long and only the gist is useful.
const MAX_ERROR_LEN: usize = 1000;

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: row.get(0)?,
        service: ServiceId(row.get(1)?),
        user_id: row.get(2)?,
        recipient: row.get(3)?,
        template: row.get(4)?,
        payload: parse_json(&row.get::<_, String>(5)?)?,
        state: row.get::<_, String>(6)?.parse().map_err(super::rows::bad_data)?,
        attempts: row.get(7)?,
        next_attempt_at: parse_ts(&row.get::<_, String>(8)?)?,
        claimed_by: row.get(9)?,
        claimed_until: parse_opt_ts(row.get(10)?)?,
        last_error: row.get(11)?,
        created: parse_ts(&row.get::<_, String>(12)?)?,
        sent_at: parse_opt_ts(row.get(13)?)?,
    })
}

pub(crate) fn claim(c: &Connection, claim: &Claim) -> StoreResult<Vec<OutboxMessage>> {
    let mut st = c
        .prepare_cached(&format!(
            "UPDATE outbox SET claimed_by = ?1, claimed_until = ?2 WHERE id IN ( \
               SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?3 \
               AND (claimed_until IS NULL OR claimed_until < ?3) \
               ORDER BY next_attempt_at, id LIMIT ?4) \
             RETURNING {COLUMNS}"
        ))
        .map_err(internal)?;
    let mut claimed = st
        .query_map(params![claim.worker, ts(claim.until), ts(claim.now), claim.limit], message_from_row)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(internal)?;
    // RETURNING has no defined order.
    claimed.sort_by_key(|m| (m.next_attempt_at, m.id));
    Ok(claimed)
}

pub(crate) fn mark_sent(
    c: &Connection,
    id: i64,
    worker: &str,
    at: Timestamp,
    scrubbed_payload: &serde_json::Value,
) -> StoreResult<bool> {
    let n = c
        .prepare_cached(
            "UPDATE outbox SET state = 'sent', sent_at = ?3, payload = ?4, claimed_by = NULL, \
             claimed_until = NULL WHERE id = ?1 AND claimed_by = ?2 AND state = 'pending'",
        )
        .and_then(|mut st| st.execute(params![id, worker, ts(at), json_text(scrubbed_payload)]))
        .map_err(internal)?;
    Ok(n == 1)
}

pub(crate) fn mark_failed(
    c: &Connection,
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
    let n = c
        .prepare_cached(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?3, claimed_by = NULL, claimed_until = NULL, \
             state = CASE WHEN ?4 IS NULL THEN 'dead' ELSE 'pending' END, \
             next_attempt_at = COALESCE(?4, next_attempt_at) \
             WHERE id = ?1 AND claimed_by = ?2 AND state = 'pending'",
        )
        .and_then(|mut st| st.execute(params![id, worker, error, retry_at]))
        .map_err(internal)?;
    if n == 1 && retry_at.is_some() {
        drop_if_user_gone(c, id)?;
    }
    Ok(n == 1)
}

pub(crate) fn release(c: &Connection, worker: &str, ids: &[i64]) -> StoreResult<u64> {
    let mut st = c
        .prepare_cached(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL \
             WHERE id = ?1 AND claimed_by = ?2 AND state = 'pending'",
        )
        .map_err(internal)?;
    let mut released = 0;
    for id in ids {
        if st.execute(params![id, worker]).map_err(internal)? == 1 {
            released += 1;
            drop_if_user_gone(c, *id)?;
        }
    }
    Ok(released)
}

/// Drops a message that was just handed back to wait again (released, or failed with a retry)
/// if it is an activation email whose user no longer exists. Deleting the user left it alone
/// because a worker held it then (`drop_unclaimed_for_user`); waiting again, it would go out
/// with a dead link.
fn drop_if_user_gone(c: &Connection, id: i64) -> StoreResult<()> {
    c.prepare_cached(
        "DELETE FROM outbox WHERE id = ?1 AND claimed_by IS NULL AND state = 'pending' \
         AND template = 'activation' AND user_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = outbox.user_id)",
    )
    .and_then(|mut st| st.execute([id]))
    .map_err(internal)?;
    Ok(())
}

pub(crate) fn list(c: &Connection, state: Option<OutboxState>, limit: u32) -> StoreResult<Vec<OutboxMessage>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
        ))
        .map_err(internal)?;
    st.query_map(params![state.map(OutboxState::as_str), limit], message_from_row)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(internal)
}

pub(crate) fn counts(c: &Connection) -> StoreResult<OutboxCounts> {
    let mut st = c
        .prepare_cached("SELECT state, COUNT(*) FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state")
        .map_err(internal)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(internal)?;
    let mut counts = OutboxCounts::default();
    for (state, n) in rows {
        match state.as_str() {
            "pending" => counts.pending = n as u64,
            "dead" => counts.dead = n as u64,
            _ => {}
        }
    }
    Ok(counts)
}

pub(crate) fn requeue(c: &Connection, id: Option<i64>, now: Timestamp) -> StoreResult<u64> {
    let n = c
        .prepare_cached(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2, claimed_by = NULL, \
             claimed_until = NULL WHERE state = 'dead' AND (?1 IS NULL OR id = ?1)",
        )
        .and_then(|mut st| st.execute(params![id, ts(now)]))
        .map_err(internal)?;
    Ok(n as u64)
}

/// Drops a user's activation emails that are still waiting and that no worker holds: their
/// code was replaced or deleted, so the link they carry is dead. A message a worker holds
/// right now is left alone (it may be on the wire).
pub(crate) fn drop_unclaimed_for_user(c: &Connection, user_id: &str, now: Timestamp) -> StoreResult<u64> {
    let n = c
        .prepare_cached(
            "DELETE FROM outbox WHERE user_id = ?1 AND template = 'activation' AND state = 'pending' \
             AND (claimed_until IS NULL OR claimed_until < ?2)",
        )
        .and_then(|mut st| st.execute(params![user_id, ts(now)]))
        .map_err(internal)?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use crate::sqlite::SqliteStore;
    use domain::activation::RedeemError;
    use domain::outbox::{Claim, FailureOutcome, OutboxState};
    use domain::ports::{NewActivation, OutboundEmail, Store};
    use domain::service::{ServiceId, ServiceParams};
    use domain::user::{NewUser, Profile, ProvisioningSource, User, UserStatus};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use time::Duration;

    struct Fixture {
        store: SqliteStore,
        service: ServiceId,
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("t.db"), "normal").expect("open");
        let service = store.create_service("s", ServiceParams::default()).await.expect("service").id;
        Fixture { store, service, _dir: dir }
    }

    fn activation(code: &str, expires_at: domain::Timestamp) -> NewActivation {
        NewActivation {
            code_hash: code.as_bytes().to_vec(),
            expires_at,
            email: OutboundEmail {
                recipient: format!("{code}@example.com"),
                template: "activation".into(),
                payload: serde_json::json!({"link": format!("https://x/activate?code={code}"), "service": "s"}),
            },
        }
    }

    async fn user_with_code(f: &Fixture, login: &str, code: &str, expires_at: domain::Timestamp) -> User {
        let new = NewUser {
            id: uuid::Uuid::new_v4().to_string(),
            service: f.service,
            user_name: login.into(),
            external_id: None,
            active: true,
            source: ProvisioningSource::Scim,
            profile: Profile { email: Some(format!("{login}@example.com")), ..Profile::default() },
            attributes: serde_json::json!({}),
        };
        f.store.create_user(new, UserStatus::PendingActivation, Some(activation(code, expires_at))).await.expect("user")
    }

    fn claim(worker: &str, now: domain::Timestamp) -> Claim {
        Claim { worker: worker.into(), now, until: now + Duration::minutes(5), limit: 10 }
    }

    #[tokio::test]
    async fn a_lease_keeps_other_workers_away_until_it_expires() {
        let f = fixture().await;
        user_with_code(&f, "a", "code-a", domain::now() + Duration::DAY).await;
        let now = domain::now();
        let mine = f.store.claim_outbox(&claim("w1", now)).await.expect("claim");
        assert_eq!(mine.len(), 1);
        assert!(mine[0].user_id.is_some());
        assert!(f.store.claim_outbox(&claim("w2", now)).await.expect("claim").is_empty());
        // After the lease: another worker takes it, and the first one can no longer mark it.
        let later = now + Duration::minutes(6);
        assert_eq!(f.store.claim_outbox(&claim("w2", later)).await.expect("claim").len(), 1);
        assert!(!f.store.outbox_sent(mine[0].id, "w1", later, serde_json::json!({})).await.expect("sent"));
        assert!(f.store.outbox_sent(mine[0].id, "w2", later, serde_json::json!({})).await.expect("sent"));
        assert!(f.store.claim_outbox(&claim("w3", later + Duration::HOUR)).await.expect("claim").is_empty());
    }

    #[tokio::test]
    async fn failures_back_off_then_dead_letter_and_requeue() {
        let f = fixture().await;
        user_with_code(&f, "a", "code-a", domain::now() + Duration::DAY).await;
        let now = domain::now();
        let m = f.store.claim_outbox(&claim("w", now)).await.expect("claim").remove(0);
        let retry_at = now + Duration::seconds(30);
        assert!(f.store.outbox_failed(m.id, "w", "421 busy", FailureOutcome::RetryAt(retry_at)).await.expect("fail"));
        assert!(f.store.claim_outbox(&claim("w", now + Duration::seconds(29))).await.expect("claim").is_empty());
        let again = f.store.claim_outbox(&claim("w", retry_at)).await.expect("claim").remove(0);
        assert_eq!((again.attempts, again.last_error.as_deref()), (1, Some("421 busy")));
        assert!(f.store.outbox_failed(m.id, "w", "550 no such user", FailureOutcome::Dead).await.expect("fail"));
        let counts = f.store.outbox_counts().await.expect("counts");
        assert_eq!((counts.pending, counts.dead), (0, 1));
        let dead = f.store.list_outbox(Some(OutboxState::Dead), 10).await.expect("list");
        assert_eq!((dead.len(), dead[0].attempts), (1, 2));
        assert_eq!(f.store.requeue_outbox(None, now).await.expect("requeue"), 1);
        let back = f.store.claim_outbox(&claim("w", now)).await.expect("claim");
        assert_eq!((back.len(), back[0].attempts), (1, 0));
    }

    #[tokio::test]
    async fn sending_scrubs_the_payload_and_release_frees_the_claim() {
        let f = fixture().await;
        user_with_code(&f, "a", "code-a", domain::now() + Duration::DAY).await;
        user_with_code(&f, "b", "code-b", domain::now() + Duration::DAY).await;
        let now = domain::now();
        let claimed = f.store.claim_outbox(&claim("w", now)).await.expect("claim");
        assert_eq!(claimed.len(), 2);
        let scrubbed = domain::outbox::scrub_payload(&claimed[0].payload);
        assert!(f.store.outbox_sent(claimed[0].id, "w", now, scrubbed).await.expect("sent"));
        assert_eq!(f.store.release_outbox("w", vec![claimed[1].id]).await.expect("release"), 1);
        let sent = f.store.list_outbox(Some(OutboxState::Sent), 10).await.expect("list");
        assert_eq!(sent[0].payload, serde_json::json!({"service": "s"}));
        let again = f.store.claim_outbox(&claim("other", now)).await.expect("claim");
        assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), [claimed[1].id]);
    }

    #[tokio::test]
    async fn a_code_redeems_once() {
        let f = fixture().await;
        let u = user_with_code(&f, "a", "code-a", domain::now() + Duration::DAY).await;
        let now = domain::now();
        let activated = f.store.redeem_activation(b"code-a", now).await.expect("redeem").expect("allowed");
        assert_eq!((activated.id.as_str(), activated.status), (u.id.as_str(), UserStatus::Activated));
        assert_eq!(activated.activation_expires_at, None);
        assert_eq!(f.store.redeem_activation(b"code-a", now).await.expect("redeem"), Err(RedeemError::Unknown));
        assert_eq!(f.store.redeem_activation(b"nope", now).await.expect("redeem"), Err(RedeemError::Unknown));
    }

    #[tokio::test]
    async fn expired_and_blocked_change_nothing() {
        let f = fixture().await;
        let soon = domain::now() + Duration::seconds(1);
        let u = user_with_code(&f, "a", "code-a", soon).await;
        let after = soon + Duration::seconds(1);
        assert_eq!(f.store.redeem_activation(b"code-a", after).await.expect("redeem"), Err(RedeemError::Expired));
        let v = user_with_code(&f, "b", "code-b", domain::now() + Duration::DAY).await;
        f.store
            .update_user(
                f.service,
                &v.id,
                Box::new(|u| {
                    u.set_active(false);
                    Ok(())
                }),
            )
            .await
            .expect("block");
        let now = domain::now();
        assert_eq!(f.store.redeem_activation(b"code-b", now).await.expect("redeem"), Err(RedeemError::Blocked));
        for (id, code) in [(&u.id, "code-a"), (&v.id, "code-b")] {
            let user = f.store.get_user(f.service, id).await.expect("get").expect("user");
            assert_eq!(user.status, UserStatus::PendingActivation, "{code}");
        }
        // Still redeemable once unblocked: the refusal did not consume the code.
        f.store
            .update_user(
                f.service,
                &v.id,
                Box::new(|u| {
                    u.set_active(true);
                    Ok(())
                }),
            )
            .await
            .expect("unblock");
        assert!(f.store.redeem_activation(b"code-b", now).await.expect("redeem").is_ok());
    }

    #[tokio::test]
    async fn reissue_replaces_the_code_and_the_unsent_email() {
        let f = fixture().await;
        let u = user_with_code(&f, "a", "old", domain::now() + Duration::DAY).await;
        let exp = domain::now() + Duration::days(21);
        let user = f.store.reissue_activation(f.service, &u.id, activation("new", exp)).await.expect("reissue");
        assert_eq!((user.status, user.activation_expires_at), (UserStatus::PendingActivation, Some(exp)));
        let pending = f.store.list_outbox(Some(OutboxState::Pending), 10).await.expect("list");
        assert_eq!(pending.iter().map(|m| m.recipient.as_str()).collect::<Vec<_>>(), ["new@example.com"]);
        let now = domain::now();
        assert_eq!(f.store.redeem_activation(b"old", now).await.expect("redeem"), Err(RedeemError::Unknown));
        assert!(f.store.redeem_activation(b"new", now).await.expect("redeem").is_ok());
        let missing = f.store.reissue_activation(f.service, "nobody", activation("x", exp)).await;
        assert_eq!(missing.err(), Some(domain::ports::StoreError::NotFound));
    }

    #[tokio::test]
    async fn the_listener_hears_of_queued_emails_after_commit() {
        let f = fixture().await;
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        f.store.set_outbox_listener(Arc::new(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        }));
        user_with_code(&f, "a", "code-a", domain::now() + Duration::DAY).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
