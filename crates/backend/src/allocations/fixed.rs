//! Fixed VIPs of applications: held while the application asks for them by address.
use super::*;

/// The reason on the rows that hold the addresses applications ask for by address. Such rows
/// come and go with the application; "next free" passes over them like any allocation.
pub const FIXED_VIP_REASON: &str = "the application's fixed VIP";

/// The rows application `name` holds for `reason`.
pub(super) async fn held_for_reason(tx: &mut Transaction<'_, Any>, name: &str, reason: &str) -> Result<Vec<Holding>, DbError> {
    sqlx::query(&format!("SELECT {HOLDING_COLUMNS} FROM addresses WHERE application = $1 AND reason = $2"))
        .bind(name)
        .bind(reason)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(row_to_holding)
        .collect()
}

/// Makes the rows of `name`'s fixed VIPs match `application` (`None`: deleted), in the
/// caller's transaction: holds each address it asks for in a pool of that environment, and
/// gives back those it held that way and no longer asks for — and the `auto` VIPs it holds in
/// environments where it no longer asks for `auto`. An address someone else holds is
/// left to them — the checklist (GH-VIP-DUPLICATE) refuses that plan before this runs.
pub async fn hold_fixed_vips(
    tx: &mut Transaction<'_, Any>,
    plan: &domain::Plan,
    actor: &str,
    name: &str,
    application: Option<&domain::Application>,
) -> Result<(), DbError> {
    let wanted: Vec<(IpAddr, i64)> = application
        .into_iter()
        .flat_map(|application| &application.environments)
        .filter_map(|(environment, target)| match target.vip {
            domain::VipRequest::Address(address) => plan
                .pools
                .iter()
                .find(|pool| pool.environment == *environment && pool.contains(&address))
                .and_then(|pool| pool.id)
                .map(|pool| (address, pool)),
            domain::VipRequest::Auto => None,
        })
        .collect();
    let held = held_for_reason(tx, name, FIXED_VIP_REASON).await?;

    let mut given_back: Vec<Holding> = held
        .iter()
        .filter(|h| {
            !wanted
                .iter()
                .any(|&(address, pool)| (address, pool) == (h.address, h.pool))
        })
        .cloned()
        .collect();
    // The `auto` VIPs of environments the application no longer asks `auto` in.
    let auto_environments: Vec<&domain::EnvironmentName> = application
        .into_iter()
        .flat_map(|application| &application.environments)
        .filter(|(_, target)| target.vip == domain::VipRequest::Auto)
        .map(|(environment, _)| environment)
        .collect();
    given_back.extend(held_for_reason(tx, name, AUTO_VIP_REASON).await?.into_iter().filter(|h| {
        let environment = plan.pools.iter().find(|pool| pool.id == Some(h.pool)).map(|pool| &pool.environment);
        !environment.is_some_and(|environment| auto_environments.contains(&environment))
    }));
    for holding in &given_back {
        sqlx::query("DELETE FROM addresses WHERE address_key = $1")
            .bind(address_key(holding.address))
            .execute(&mut **tx)
            .await?;
        lower_cursor(tx, holding.pool, &address_key(holding.address)).await?;
    }
    record_removals(
        tx,
        actor,
        &given_back,
        Some("the application no longer asks for it"),
    )
    .await?;

    let mut taken = Vec::new();
    for &(address, pool) in wanted
        .iter()
        .filter(|&&(address, _)| !held.iter().any(|h| h.address == address))
    {
        let holding = Holding {
            address,
            pool,
            state: AddressState::Allocated,
            owner: Some(name.to_owned()),
            application: K8sName::parse(name).ok(),
            reason: Some(FIXED_VIP_REASON.to_owned()),
            since: now_text(),
            by: actor.to_owned(),
        };
        let inserted = sqlx::query(&format!(
            "INSERT INTO addresses ({INSERT_COLUMNS}) VALUES ($1, $2, $3, 'allocated', $4, $5, $6, $7, $8) \
             ON CONFLICT (address_key) DO NOTHING"
        ))
        .bind(address_key(address))
        .bind(address.to_string())
        .bind(pool)
        .bind(name)
        .bind(name)
        .bind(FIXED_VIP_REASON)
        .bind(actor)
        .bind(&holding.since)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 1 {
            taken.push(holding);
        }
    }
    record_taken(tx, &taken).await
}
