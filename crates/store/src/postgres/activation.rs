//! Activation codes on PostgreSQL: redeem (single use) and reissue. Rules come from
//! `domain::activation`. Redeeming locks the code row, so two concurrent redemptions of one
//! code cannot both succeed: the second finds the row gone.

use super::users::{find_user, insert_activation, load_by_pk, save_user};
use super::{execute, parse_ts, pg_err, query_opt, ts};
use deadpool_postgres::GenericClient;
use domain::Timestamp;
use domain::activation::{RedeemError, activate, check_redemption, prepare_reissue};
use domain::ports::{NewActivation, StoreError, StoreResult};
use domain::service::ServiceId;
use domain::user::User;

pub(crate) async fn redeem<C: GenericClient>(
    c: &C,
    code_hash: &[u8],
    now: Timestamp,
) -> StoreResult<Result<User, RedeemError>> {
    let row =
        query_opt(c, "SELECT user_pk, expires_at FROM activation_codes WHERE code_hash = $1 FOR UPDATE", &[&code_hash])
            .await
            .map_err(pg_err)?;
    let Some(row) = row else { return Ok(Err(RedeemError::Unknown)) };
    let pk: i64 = row.get(0);
    let expires_at = parse_ts(row.get::<_, &str>(1))?;
    execute(c, "SELECT 1 FROM users WHERE pk = $1 FOR NO KEY UPDATE", &[&pk]).await.map_err(pg_err)?;
    let before = load_by_pk(c, pk).await?;
    if let Err(refused) = check_redemption(&before, expires_at, now) {
        return Ok(Err(refused));
    }
    execute(c, "DELETE FROM activation_codes WHERE user_pk = $1", &[&pk]).await.map_err(pg_err)?;
    let mut after = before.clone();
    activate(&mut after);
    save_user(c, pk, &before, &after).await.map(Ok)
}

pub(crate) async fn reissue<C: GenericClient>(
    c: &C,
    service: ServiceId,
    user_id: &str,
    a: NewActivation,
) -> StoreResult<User> {
    let (pk, before) = find_user(c, service, user_id, true).await?.ok_or(StoreError::NotFound)?;
    let mut after = before.clone();
    prepare_reissue(&mut after, a.expires_at)?;
    let now = domain::now();
    super::outbox::drop_unclaimed_for_user(c, user_id, now).await?;
    insert_activation(c, pk, service, user_id, &a, &ts(now)).await?;
    save_user(c, pk, &before, &after).await
}
