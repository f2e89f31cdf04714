//! The import's database side: which of the file's addresses are held already, and the
//! writes of a checked file, through the repositories the API uses.
use std::collections::HashMap;

use sqlx::{Any, AnyConnection, Row, Transaction};

use super::{
    ImportError, ImportSummary,
    check::{Checked, Held, Target},
};
use crate::{
    allocations::{self, AddressState, Holding, address_key},
    db::{DbError, now_text},
    pools,
};
use domain::IpAddr;

/// Rows per multi-row statement (well under both databases' limits on bound parameters).
const BATCH: usize = 400;

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Which of `addresses` are allocated or reserved, and by whom.
pub(super) async fn held_addresses(conn: &mut AnyConnection, addresses: &[IpAddr]) -> Result<HashMap<IpAddr, Held>, DbError> {
    let mut held = HashMap::new();
    for chunk in addresses.chunks(BATCH) {
        let sql = format!(
            "SELECT a.address AS address, a.pool_id AS pool_id, p.name AS pool, e.name AS environment, \
                    a.state AS state, a.owner AS owner, a.application AS application, a.reason AS reason \
             FROM addresses a JOIN pools p ON p.id = a.pool_id JOIN environments e ON e.id = p.environment_id \
             WHERE a.address_key IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for address in chunk {
            query = query.bind(address_key(*address));
        }
        for row in query.fetch_all(&mut *conn).await? {
            let text: String = row.try_get("address")?;
            let Ok(address) = IpAddr::parse(&text) else { continue };
            held.insert(
                address,
                Held {
                    pool_id: row.try_get("pool_id")?,
                    pool: row.try_get("pool")?,
                    environment: row.try_get("environment")?,
                    state: row.try_get("state")?,
                    owner: row.try_get("owner")?,
                    application: row.try_get("application")?,
                    reason: row.try_get("reason")?,
                },
            );
        }
    }
    Ok(held)
}

pub(super) enum ApplyError {
    /// An address of the file was taken meanwhile.
    Taken,
    Failed(ImportError),
}

impl From<DbError> for ApplyError {
    fn from(error: DbError) -> Self {
        Self::Failed(error.into())
    }
}

/// Writes the checked import inside `tx` through the repositories the API uses: the pools
/// ([`pools::insert`], with their audit entries), then the addresses in address order (as a
/// range reservation takes them) and their audit entries.
pub(super) async fn apply(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    checked: &Checked,
) -> Result<ImportSummary, ApplyError> {
    let now = now_text();
    let mut summary = ImportSummary { unchanged: checked.unchanged, ..ImportSummary::default() };
    let mut stored_ids = Vec::with_capacity(checked.pools.len());
    for new in &checked.pools {
        let stored = pools::insert(tx, actor, &new.pool).await?;
        stored_ids.push(stored.id.unwrap_or_default());
        summary.created_pools += 1;
    }

    let mut holdings: Vec<Holding> = checked
        .holdings
        .iter()
        .map(|new| Holding {
            address: new.request.address,
            pool: match new.target {
                Target::Existing(id) => id,
                Target::New(index) => stored_ids.get(index).copied().unwrap_or_default(),
            },
            state: new.request.state,
            owner: new.request.owner.clone(),
            application: new.request.application.clone(),
            reason: new.request.reason.clone(),
            since: now.clone(),
            by: actor.to_owned(),
        })
        .collect();
    holdings.sort_by_key(|h| h.address);
    match allocations::insert_holdings(tx, &holdings).await {
        Ok(()) => {}
        Err(error) if error.is_unique_violation() => return Err(ApplyError::Taken),
        Err(error) => return Err(error.into()),
    }
    allocations::record_taken(tx, &holdings).await?;
    for holding in &holdings {
        match holding.state {
            AddressState::Reserved => summary.reservations += 1,
            _ => summary.allocations += 1,
        }
    }
    Ok(summary)
}
