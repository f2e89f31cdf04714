//! The search for free addresses: the pool's cursor and the taken keys read ahead, a page at a time.
use super::*;

/// A pool read for an allocation, with its cursor.
pub(super) struct PoolRead {
    pub(super) pool: VipPool,
    pub(super) extents: Vec<Extent>,
    pub(super) blocks_text: String,
    pub(super) cursor: Option<Cursor>,
}

pub(super) struct Cursor {
    pub(super) blocks: String,
    pub(super) low_key: String,
    pub(super) version: i64,
}

impl PoolRead {
    /// Where the search starts: the cursor when it was computed for these blocks.
    pub(super) fn start(&self) -> Option<(IpFamily, u128)> {
        self.cursor.as_ref().filter(|c| c.blocks == self.blocks_text).and_then(|c| parse_key(&c.low_key))
    }

    pub(super) fn cursor_is_stale(&self, skipped: u64) -> bool {
        match &self.cursor {
            None => true,
            Some(cursor) => cursor.blocks != self.blocks_text || skipped >= CURSOR_STEP,
        }
    }
}

pub(super) async fn read_pool(conn: &mut AnyConnection, pool_id: i64) -> Result<PoolRead, AllocationError> {
    let row = sqlx::query(
        "SELECT p.blocks AS blocks, e.name AS environment, p.name AS name, \
                c.blocks AS cursor_blocks, c.low_key AS low_key, c.version AS version \
         FROM pools p JOIN environments e ON e.id = p.environment_id \
         LEFT JOIN pool_cursors c ON c.pool_id = p.id WHERE p.id = $1",
    )
    .bind(pool_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AllocationError::PoolNotFound(pool_id))?;
    pool_read(&row, pool_id)
}

pub(super) fn pool_read(row: &AnyRow, pool_id: i64) -> Result<PoolRead, AllocationError> {
    let blocks_text: String = row.try_get("blocks")?;
    let pool = plan::parse_pool(
        pool_id,
        &row.try_get::<String, _>("environment")?,
        &row.try_get::<String, _>("name")?,
        &blocks_text,
    )?;
    let cursor = match (
        row.try_get::<Option<String>, _>("cursor_blocks")?,
        row.try_get::<Option<String>, _>("low_key")?,
        row.try_get::<Option<i64>, _>("version")?,
    ) {
        (Some(blocks), Some(low_key), Some(version)) => Some(Cursor { blocks, low_key, version }),
        _ => None,
    };
    Ok(PoolRead { extents: extents(&pool), pool, blocks_text, cursor })
}

/// Taken keys read ahead of a search: every taken key from `from` on (`None`: from the start
/// of the key space), in order, up to a limit; `complete` when none follow the last.
pub(super) struct Prefetch {
    pub(super) from: Option<(IpFamily, u128)>,
    pub(super) keys: Vec<(IpFamily, u128)>,
    pub(super) complete: bool,
}

impl Prefetch {
    /// The taken keys of `lo..=hi` in `family` when this read covers that range from `lo`
    /// on, and whether more may follow the last of them.
    pub(super) fn serve(&self, family: IpFamily, lo: u128, hi: u128) -> Option<(Vec<u128>, bool)> {
        if self.from.is_some_and(|from| from > (family, lo)) {
            return None;
        }
        let keys: Vec<u128> =
            self.keys.iter().filter(|(f, v)| *f == family && *v >= lo && *v <= hi).map(|(_, v)| *v).collect();
        if self.complete || self.keys.last().is_some_and(|last| *last >= (family, hi)) {
            Some((keys, false))
        } else if keys.is_empty() {
            None
        } else {
            Some((keys, true))
        }
    }
}

/// An allocation's read, in one statement: the pool, its cursor, and the first page of taken
/// keys from the cursor on (from the start of the key space when the cursor is not valid).
pub(super) async fn read_for_allocation(
    conn: &mut AnyConnection,
    pool_id: i64,
    want: usize,
) -> Result<(PoolRead, Prefetch), AllocationError> {
    // Enough for the taken addresses the cursor lags behind, the candidates and some holes.
    let limit = CURSOR_STEP as usize + want + 16;
    let rows = sqlx::query(
        "SELECT 0 AS part, p.blocks AS blocks, e.name AS environment, p.name AS name, \
                c.blocks AS cursor_blocks, c.low_key AS low_key, c.version AS version, NULL AS address_key \
         FROM pools p JOIN environments e ON e.id = p.environment_id \
         LEFT JOIN pool_cursors c ON c.pool_id = p.id WHERE p.id = $1 \
         UNION ALL \
         SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, k.address_key FROM ( \
           SELECT address_key FROM addresses \
           WHERE address_key >= (SELECT CASE WHEN c.blocks = p.blocks THEN c.low_key ELSE '' END \
                                 FROM pools p LEFT JOIN pool_cursors c ON c.pool_id = p.id WHERE p.id = $1) \
           ORDER BY address_key LIMIT $2) k \
         ORDER BY 1, 8",
    )
    .bind(pool_id)
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await?;
    let head = rows.first().filter(|row| row.try_get::<i64, _>("part").is_ok_and(|part| part == 0));
    let head = head.ok_or(AllocationError::PoolNotFound(pool_id))?;
    let read = pool_read(head, pool_id)?;
    let keys: Vec<(IpFamily, u128)> = rows[1..]
        .iter()
        .map(|row| row.try_get::<String, _>("address_key"))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .filter_map(|key| parse_key(key))
        .collect();
    let prefetch = Prefetch { from: read.start(), complete: rows.len() <= limit, keys };
    Ok((read, prefetch))
}

/// Free addresses found by a search, in address order, and how many taken addresses the
/// search stepped over before the first free one.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) free: Vec<IpAddr>,
    pub(super) skipped: u64,
}

impl Found {
    /// Adds the free addresses `from..=last` until `want` are found.
    pub(super) fn push_run(&mut self, family: IpFamily, from: u128, last: u128, want: usize) {
        let mut value = from;
        while value <= last && self.free.len() < want {
            if let Some(address) = IpAddr::from_u128(family, value) {
                self.free.push(address);
            }
            match value.checked_add(1) {
                Some(next) => value = next,
                None => break,
            }
        }
    }
}

/// The lowest free addresses of `extents` (up to `want`), from `start` on: reads the taken
/// keys in address order, a page at a time, and stops at the first gaps.
pub(super) async fn find_free(
    conn: &mut AnyConnection,
    extents: &[Extent],
    start: Option<(IpFamily, u128)>,
    prefetch: Option<&Prefetch>,
    want: usize,
) -> Result<Found, AllocationError> {
    let mut found = Found::default();
    for extent in extents {
        let mut next = Some(extent.first);
        if let Some((family, value)) = start {
            if (extent.family, extent.last) < (family, value) {
                continue;
            }
            if (extent.family, extent.first) < (family, value) {
                next = Some(value);
            }
        }
        while let Some(from) = next.filter(|from| *from <= extent.last) {
            let (taken_keys, more) = match prefetch.and_then(|p| p.serve(extent.family, from, extent.last)) {
                Some(served) => served,
                None => {
                    let rows = sqlx::query(
                        "SELECT address_key FROM addresses WHERE address_key >= $1 AND address_key <= $2 \
                         ORDER BY address_key LIMIT $3",
                    )
                    .bind(key(extent.family, from))
                    .bind(key(extent.family, extent.last))
                    .bind(PAGE as i64)
                    .fetch_all(&mut *conn)
                    .await?;
                    let keys: Vec<u128> = rows
                        .iter()
                        .map(|row| row.try_get::<String, _>("address_key"))
                        .collect::<Result<Vec<_>, _>>()?
                        .iter()
                        .filter_map(|text| parse_key(text).map(|(_, value)| value))
                        .collect();
                    (keys, rows.len() == PAGE)
                }
            };
            for taken in taken_keys {
                if let Some(from) = next.filter(|from| *from < taken) {
                    found.push_run(extent.family, from, taken - 1, want);
                }
                if found.free.len() >= want {
                    return Ok(found);
                }
                if found.free.is_empty() {
                    found.skipped += 1;
                }
                next = taken.checked_add(1);
            }
            if !more {
                if let Some(from) = next {
                    found.push_run(extent.family, from, extent.last, want);
                }
                break;
            }
        }
        if found.free.len() >= want {
            break;
        }
    }
    Ok(found)
}

/// Raises (or creates, or resets for changed blocks) the pool's cursor to `low`, the lowest
/// free address a search just found — only when no release happened since the cursor was
/// read (same `version`), so the cursor never passes a free address. On PostgreSQL whoever
/// holds the cursor row moves it and the others go on without waiting.
pub(super) async fn advance_cursor(conn: &mut AnyConnection, backend: Backend, read: &PoolRead, low: IpAddr) -> Result<(), sqlx::Error> {
    let statement = match &read.cursor {
        None => sqlx::query(
            "INSERT INTO pool_cursors (pool_id, blocks, low_key, version) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (pool_id) DO NOTHING",
        ),
        Some(_) => sqlx::query(match backend {
            Backend::Sqlite => {
                "UPDATE pool_cursors SET blocks = $2, low_key = $3 \
                 WHERE pool_id = $1 AND version = $4 AND (blocks <> $2 OR low_key < $3)"
            }
            Backend::Postgres => {
                "UPDATE pool_cursors SET blocks = $2, low_key = $3 \
                 WHERE pool_id = (SELECT pool_id FROM pool_cursors WHERE pool_id = $1 FOR UPDATE SKIP LOCKED) \
                   AND version = $4 AND (blocks <> $2 OR low_key < $3)"
            }
        }),
    };
    let statement = statement.bind(read.pool.id.unwrap_or_default()).bind(&read.blocks_text).bind(address_key(low));
    match &read.cursor {
        None => statement.execute(&mut *conn).await?,
        Some(cursor) => statement.bind(cursor.version).execute(&mut *conn).await?,
    };
    Ok(())
}

/// Lowers the cursor of `pool_id` to `key` (a released address) and bumps its version, so
/// that no search started before the release moves the cursor past it.
pub(super) async fn lower_cursor(conn: &mut AnyConnection, pool_id: i64, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pool_cursors (pool_id, blocks, low_key, version) VALUES ($1, '', $2, 1) \
         ON CONFLICT (pool_id) DO UPDATE SET \
           low_key = CASE WHEN pool_cursors.low_key > excluded.low_key THEN excluded.low_key ELSE pool_cursors.low_key END, \
           version = pool_cursors.version + 1",
    )
    .bind(pool_id)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
