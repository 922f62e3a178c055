//! Activation codes: redeem (single use) and reissue. The rules come from
//! `domain::activation`; this module only reads and writes rows, in the caller's transaction.

use super::internal;
use super::rows::{parse_ts, ts};
use super::users::{find_user, insert_activation, load_by_pk, save_user};
use domain::Timestamp;
use domain::activation::{RedeemError, activate, check_redemption, prepare_reissue};
use domain::ports::{NewActivation, StoreError, StoreResult};
use domain::service::ServiceId;
use domain::user::User;
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn redeem(c: &Connection, code_hash: &[u8], now: Timestamp) -> StoreResult<Result<User, RedeemError>> {
    let code: Option<(i64, String)> = c
        .prepare_cached("SELECT user_pk, expires_at FROM activation_codes WHERE code_hash = ?1")
        .and_then(|mut st| st.query_row([code_hash], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(internal)?;
    // A used code was deleted, so it lands here too: "unknown" and "used" are one answer.
    let Some((pk, expires_at)) = code else { return Ok(Err(RedeemError::Unknown)) };
    let expires_at = parse_ts(&expires_at).map_err(internal)?;
    // The code row cascades with its user, so the user exists.
    let before = load_by_pk(c, pk)?;
    if let Err(refused) = check_redemption(&before, expires_at, now) {
        return Ok(Err(refused));
    }
    c.prepare_cached("DELETE FROM activation_codes WHERE user_pk = ?1")
        .and_then(|mut st| st.execute(params![pk]))
        .map_err(internal)?;
    let mut after = before.clone();
    activate(&mut after);
    save_user(c, pk, &before, &after).map(Ok)
}

pub(crate) fn reissue(c: &Connection, service: ServiceId, user_id: &str, a: NewActivation) -> StoreResult<User> {
    let (pk, before) = find_user(c, service, user_id)?.ok_or(StoreError::NotFound)?;
    let mut after = before.clone();
    prepare_reissue(&mut after, a.expires_at)?;
    let now = domain::now();
    super::outbox::drop_unclaimed_for_user(c, user_id, now)?;
    insert_activation(c, pk, service, user_id, &super::users::ActivationRows::new(a, ts(now)))?;
    save_user(c, pk, &before, &after)
}
