//! A pool's address map, folded into runs of one state for large pools.
use super::*;

pub use views::pools::{AddressMap, MapEntry};

/// How the map is built from free runs and holdings (the wire type itself carries no logic).
pub(super) trait BuildEntry: Sized {
    fn free(family: IpFamily, first: u128, last: u128, folded: bool) -> Vec<MapEntry>;
    fn held(holding: Holding) -> MapEntry;
    /// The entry as a run (a folded map has runs only).
    fn into_run(self) -> MapEntry;
    /// Adds `next`, the address after the end of this run, keeping only the holder fields
    /// they share.
    fn absorb(&mut self, next: &MapEntry);
}

impl BuildEntry for MapEntry {
    fn free(family: IpFamily, first: u128, last: u128, folded: bool) -> Vec<MapEntry> {
        let entry = |address: Option<IpAddr>, start, stop, count| MapEntry {
            address,
            start,
            stop,
            count,
            state: AddressState::Free,
            owner: None,
            application: None,
            since: None,
            reason: None,
            by: None,
        };
        if folded {
            let count = (last - first).saturating_add(1);
            vec![entry(None, IpAddr::from_u128(family, first), IpAddr::from_u128(family, last), Some(count))]
        } else {
            (first..=last).map(|value| entry(IpAddr::from_u128(family, value), None, None, None)).collect()
        }
    }

    fn held(holding: Holding) -> MapEntry {
        MapEntry {
            address: Some(holding.address),
            start: None,
            stop: None,
            count: None,
            state: holding.state,
            owner: holding.owner,
            application: holding.application,
            since: Some(holding.since),
            reason: holding.reason,
            by: Some(holding.by),
        }
    }

    fn into_run(mut self) -> MapEntry {
        if let Some(address) = self.address.take() {
            self.start = Some(address);
            self.stop = Some(address);
            self.count = Some(1);
        }
        self
    }

    fn absorb(&mut self, next: &MapEntry) {
        self.stop = next.stop.or(next.address);
        self.count = self.count.map(|n| n + 1);
        fn keep<T: PartialEq>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine != theirs {
                *mine = None;
            }
        }
        keep(&mut self.owner, &next.owner);
        keep(&mut self.application, &next.application);
        keep(&mut self.since, &next.since);
        keep(&mut self.reason, &next.reason);
        keep(&mut self.by, &next.by);
    }
}

/// The pool's address map.
pub async fn address_map(db: &Database, pool_id: i64) -> Result<AddressMap, AllocationError> {
    let mut conn = db.pool().acquire().await?;
    let pool = read_pool(&mut conn, pool_id).await?.pool;
    let folded = pool.size() > MAP_UNFOLDED_MAX;
    let mut entries: Vec<MapEntry> = Vec::new();
    let (mut allocated, mut reserved) = (0u128, 0u128);
    for extent in extents(&pool) {
        let rows = sqlx::query(&format!(
            "SELECT {HOLDING_COLUMNS} FROM addresses WHERE address_key >= $1 AND address_key <= $2 ORDER BY address_key"
        ))
        .bind(key(extent.family, extent.first))
        .bind(key(extent.family, extent.last))
        .fetch_all(&mut *conn)
        .await?;
        let mut next = Some(extent.first);
        let mut run: Option<MapEntry> = None;
        for row in &rows {
            let holding = row_to_holding(row)?;
            let value = holding.address.to_u128();
            match holding.state {
                AddressState::Allocated => allocated += 1,
                AddressState::Reserved => reserved += 1,
                AddressState::Free => {}
            }
            if let Some(from) = next.filter(|from| *from < value) {
                entries.extend(run.take());
                entries.extend(MapEntry::free(extent.family, from, value - 1, folded));
            }
            next = value.checked_add(1);
            let entry = if folded { MapEntry::held(holding).into_run() } else { MapEntry::held(holding) };
            run = match run.take() {
                Some(mut current)
                    if folded
                        && current.state == entry.state
                        && current.stop.map(|a| a.to_u128() + 1) == Some(value) =>
                {
                    current.absorb(&entry);
                    Some(current)
                }
                Some(current) => {
                    entries.push(current);
                    Some(entry)
                }
                None => Some(entry),
            };
        }
        entries.extend(run.take());
        if let Some(from) = next.filter(|from| *from <= extent.last) {
            entries.extend(MapEntry::free(extent.family, from, extent.last, folded));
        }
        debug_assert!(folded || extent.size() <= MAP_UNFOLDED_MAX);
    }
    let size = pool.size();
    Ok(AddressMap {
        pool: pool_id,
        name: pool.name.to_string(),
        environment: pool.environment.to_string(),
        size,
        allocated,
        reserved,
        free: size.saturating_sub(allocated + reserved),
        folded,
        addresses: entries,
    })
}
