//! VIP allocations and reservations: handing out the addresses of a pool so that no address
//! is ever handed out twice — under concurrency, on SQLite and on PostgreSQL, and with several
//! Gatehouse processes sharing one PostgreSQL database.
//!
//! - **The database guarantees it.** Every allocated or reserved address is a row of
//!   `addresses` whose `address_key` is UNIQUE; a second row for one address cannot commit,
//!   whatever happens above. A free address has no row.
//! - **Next free = lowest free.** The pool's blocks are taken in address order (IPv4 first)
//!   and the search starts at the pool's cursor (`pool_cursors.low_key`, below which nothing
//!   is free), reading taken keys in address order through the unique index — a few rows per
//!   allocation, not every allocated address of the pool. The cursor is lowered by every
//!   release and raised by a search only while no release happened since it was read.
//! - **Claiming** is one statement in a short write transaction (with the audit entries): it
//!   inserts the lowest candidates that are still free (`NOT EXISTS`) while the pool still
//!   has the searched blocks. On SQLite the transaction takes the write lock first
//!   (`BEGIN IMMEDIATE`), so the busy timeout applies and the statement sees every committed
//!   row. On PostgreSQL writers run in parallel: a candidate whose advisory lock another
//!   transaction holds (`pg_try_advisory_xact_lock`, never waiting) is being claimed right now
//!   and is passed over; one committed after the statement's snapshot fails on the UNIQUE key
//!   and the attempt is repeated.
//! - **Batching.** Next-free requests of one pool that arrive while a claim of that pool is
//!   under way wait and are claimed together, the i-th lowest candidate to the i-th request:
//!   one read and one statement for many allocations. It is only about throughput; batches
//!   (from two processes, say) are still kept apart by the database alone.
//! - Transient failures (a unique violation after a stale read, serialization failure,
//!   deadlock, busy) are retried with a fresh read, a bounded number of times, with jitter.
//! - **Applications' VIPs.** A fixed VIP is held while the application asks for it; an
//!   `auto` VIP is chosen and held when the application is submitted, in one write
//!   transaction that first takes the holder's lock (SQLite: the write lock; PostgreSQL: an
//!   advisory lock of the application and environment, waited for) and reads whether it
//!   holds one already — so concurrent submissions of one application hold one address, and
//!   the UNIQUE key keeps that address from every other claim. The Gateway then asks LB-IPAM
//!   for exactly that address, so the cluster cannot assign one the plan does not hold.
//!
//! History: every change of an address is in the audit log under `address/<ip>` (who, when,
//! why), written in the transaction of the change.
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyConnection, Row, Transaction, any::AnyRow};

use super::{
    audit,
    db::{Backend, Database, DbError, now_text},
    plan, pools,
};
use domain::{Allocation, FieldError, FieldErrors, IpAddr, IpFamily, K8sName, VipPool, error::Collector};

/// The most addresses one reservation (or one removal of reservations) covers.
pub const MAX_RANGE: u128 = 65_536;
/// Pools up to this size (a /22 of IPv4) are mapped address by address; larger pools are
/// folded into runs of addresses in the same state.
pub const MAP_UNFOLDED_MAX: u128 = 1024;
pub const MAX_OWNER_LEN: usize = 128;
pub const MAX_REASON_LEN: usize = 1024;

/// Fresh reads before a request gives up as busy.
const MAX_ROUNDS: u32 = 12;
/// Taken keys read per query while searching for a free address.
const PAGE: usize = 256;
/// The cursor is moved once the search steps over this many taken addresses.
const CURSOR_STEP: u64 = 16;
/// Rows per multi-row INSERT (well under both databases' limits on bound parameters).
const BATCH: usize = 400;

// =============================================================================================
// Keys: '4' or '6', then the address as 32 zero-padded lower-case hex digits.

/// The text key of an address: sorts like the address (IPv4 before IPv6) on both databases.
pub fn address_key(address: IpAddr) -> String {
    key(address.family(), address.to_u128())
}

fn key(family: IpFamily, value: u128) -> String {
    let digit = match family {
        IpFamily::Ipv4 => '4',
        IpFamily::Ipv6 => '6',
    };
    format!("{digit}{value:032x}")
}

fn parse_key(text: &str) -> Option<(IpFamily, u128)> {
    let family = match text.get(..1)? {
        "4" => IpFamily::Ipv4,
        "6" => IpFamily::Ipv6,
        _ => return None,
    };
    let value = u128::from_str_radix(text.get(1..)?, 16).ok()?;
    Some((family, value))
}

fn audit_object(address: IpAddr) -> String {
    format!("address/{address}")
}

/// A pool block as numbers, for the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    family: IpFamily,
    first: u128,
    last: u128,
}

impl Extent {
    fn size(&self) -> u128 {
        (self.last - self.first).saturating_add(1)
    }
}

/// The pool's blocks in address order.
fn extents(pool: &VipPool) -> Vec<Extent> {
    let mut extents: Vec<Extent> = pool
        .blocks
        .iter()
        .map(|b| Extent { family: b.family(), first: b.first_u128(), last: b.last_u128() })
        .collect();
    extents.sort_by_key(|e| (e.family, e.first));
    extents
}

// =============================================================================================
// Requests

/// `POST /api/v1/pools/{id}/allocations` as sent; every field text so that every problem is
/// reported with its field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllocationInput {
    pub address: Option<String>,
    pub owner: Option<String>,
    pub application: Option<String>,
    pub reason: Option<String>,
}

/// An allocation to make: a given address, or the pool's lowest free one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRequest {
    pub address: Option<IpAddr>,
    pub owner: String,
    pub application: Option<K8sName>,
    pub reason: Option<String>,
}

impl TryFrom<AllocationInput> for AllocationRequest {
    type Error = FieldErrors;

    fn try_from(input: AllocationInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let address = match blank_to_none(input.address.as_deref()) {
            None => None,
            Some(text) => c.take("address", IpAddr::parse(text)),
        };
        let owner = text_field(&mut c, "owner", input.owner.as_deref(), MAX_OWNER_LEN, true);
        let application = blank_to_none(input.application.as_deref()).and_then(|text| c.take("application", K8sName::parse(text)));
        let reason = text_field(&mut c, "reason", input.reason.as_deref(), MAX_REASON_LEN, false);
        match owner {
            Some(owner) if c.is_empty() => Ok(AllocationRequest { address, owner, application, reason }),
            _ => Err(c.finish()),
        }
    }
}

/// `POST /api/v1/pools/{id}/reservations` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReservationInput {
    pub start: Option<String>,
    pub stop: Option<String>,
    pub reason: Option<String>,
}

/// A reservation to make: `start..=stop` (one address when they are equal), with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRequest {
    pub start: IpAddr,
    pub stop: IpAddr,
    pub reason: String,
}

impl ReservationRequest {
    pub fn count(&self) -> u128 {
        self.stop.to_u128() - self.start.to_u128() + 1
    }
}

impl TryFrom<ReservationInput> for ReservationRequest {
    type Error = FieldErrors;

    fn try_from(input: ReservationInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let start = c.take("start", IpAddr::parse(input.start.as_deref().unwrap_or_default()));
        let stop = match blank_to_none(input.stop.as_deref()) {
            None => start,
            Some(text) => c.take("stop", IpAddr::parse(text)),
        };
        let reason = text_field(&mut c, "reason", input.reason.as_deref(), MAX_REASON_LEN, true);
        if let (Some(start), Some(stop)) = (start, stop)
            && let Err(error) = check_range(start, stop)
        {
            c.push(error.field, &error.code, error.message);
        }
        match (start, stop, reason) {
            (Some(start), Some(stop), Some(reason)) if c.is_empty() => Ok(ReservationRequest { start, stop, reason }),
            _ => Err(c.finish()),
        }
    }
}

/// `start..=stop` is a range of one family, in order, of at most [`MAX_RANGE`] addresses.
fn check_range(start: IpAddr, stop: IpAddr) -> Result<(), FieldError> {
    if start.family() != stop.family() {
        return Err(FieldError::new(
            "stop",
            "family_mismatch",
            format!("{start} is {} and {stop} is {}; a range stays in one family", start.family(), stop.family()),
        ));
    }
    if stop < start {
        return Err(FieldError::new(
            "stop",
            "invalid_ip_range",
            format!("the range ends ({stop}) before it starts ({start}); swap start and stop"),
        ));
    }
    let count = stop.to_u128() - start.to_u128();
    if count >= MAX_RANGE {
        return Err(FieldError::new(
            "stop",
            "range_too_large",
            format!(
                "{start}–{stop} spans {} addresses; one request covers at most {MAX_RANGE} — split it into several",
                count.saturating_add(1)
            ),
        ));
    }
    Ok(())
}

fn blank_to_none(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// A free-text field: trimmed, within `max` characters, no control characters (a reason may
/// span lines).
fn text_field(c: &mut Collector, field: &str, text: Option<&str>, max: usize, required: bool) -> Option<String> {
    let Some(text) = blank_to_none(text) else {
        if required {
            c.push(field, "required", format!("`{field}` is required"));
        }
        return None;
    };
    let len = text.chars().count();
    if len > max {
        c.push(field, "too_long", format!("`{field}` is {len} characters long; the limit is {max}"));
        return None;
    }
    if text.chars().any(|ch| ch.is_control() && !(field == "reason" && matches!(ch, '\n' | '\t'))) {
        c.push(field, "invalid_text", format!("`{field}` contains control characters; write plain text"));
        return None;
    }
    Some(text.to_owned())
}

// =============================================================================================
// Results

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressState {
    Free,
    Allocated,
    Reserved,
}

impl AddressState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Allocated => "allocated",
            Self::Reserved => "reserved",
        }
    }
}

/// An allocated or reserved address: who holds it, for what, since when, set by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub address: IpAddr,
    pub pool: i64,
    pub state: AddressState,
    pub owner: Option<String>,
    pub application: Option<K8sName>,
    pub reason: Option<String>,
    pub since: String,
    /// Who allocated or reserved it (the actor of the audit log).
    pub by: String,
}

impl Holding {
    fn describe(&self) -> String {
        let mut text = match (self.state, &self.owner) {
            (AddressState::Allocated, Some(owner)) => format!("{} is allocated to {owner}", self.address),
            (AddressState::Reserved, _) => format!("{} is reserved", self.address),
            _ => format!("{} is taken", self.address),
        };
        if let Some(application) = &self.application {
            text.push_str(&format!(" (application {application})"));
        }
        text.push_str(&format!(" in pool {} since {} by {}", self.pool, self.since, self.by));
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" — {reason:?}"));
        }
        text
    }
}

/// A reservation as made: the range and how many addresses it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    pub pool: i64,
    pub start: IpAddr,
    pub stop: IpAddr,
    pub count: u128,
    pub reason: String,
    pub since: String,
    pub by: String,
}

/// How many addresses of a pool are allocated and reserved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub allocated: u128,
    pub reserved: u128,
}

impl Usage {
    pub fn free(&self, pool: &VipPool) -> u128 {
        pool.size().saturating_sub(self.allocated + self.reserved)
    }
}

/// A pool with free addresses, suggested when another one is exhausted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolRoom {
    pub id: i64,
    pub name: String,
    pub free: u128,
}

#[derive(Debug, thiserror::Error)]
pub enum AllocationError {
    #[error("there is no pool with id {0}")]
    PoolNotFound(i64),
    #[error("{0}")]
    Invalid(FieldErrors),
    /// The address (or, for a range, the first taken address of it) is allocated or reserved.
    #[error("{}; {}", taken_text(.address, .holder.as_deref()), .hint)]
    Taken {
        field: &'static str,
        address: IpAddr,
        holder: Option<Box<Holding>>,
        hint: &'static str,
    },
    #[error("{}", exhausted_text(.pool, .environment, *.size, .alternative.as_ref()))]
    Exhausted {
        pool: String,
        environment: String,
        size: u128,
        alternative: Option<PoolRoom>,
    },
    #[error("{}", not_held_text(.address, AddressState::Allocated, .current.as_deref()))]
    NotAllocated { address: IpAddr, current: Option<Box<Holding>> },
    #[error("{}", not_held_text(.address, AddressState::Reserved, .current.as_deref()))]
    NotReserved { address: IpAddr, current: Option<Box<Holding>> },
    #[error("the database stayed busy through {MAX_ROUNDS} attempts; try again in a moment")]
    Busy,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AllocationError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(DbError::Sqlx(error))
    }
}

fn taken_text(address: &IpAddr, holder: Option<&Holding>) -> String {
    holder.map_or_else(|| format!("{address} is taken"), Holding::describe)
}

fn exhausted_text(pool: &str, environment: &str, size: u128, alternative: Option<&PoolRoom>) -> String {
    let head = format!(
        "pool {pool} of environment {environment} is exhausted: all {size} of its addresses are allocated or reserved"
    );
    match alternative {
        Some(room) => format!(
            "{head}; pool {} (id {}) of {environment} has {} free address{} — allocate from it instead",
            room.name,
            room.id,
            room.free,
            if room.free == 1 { "" } else { "es" }
        ),
        None => format!(
            "{head}, and no other pool of {environment} has room; add a block to {pool}, create another pool, or release addresses"
        ),
    }
}

fn not_held_text(address: &IpAddr, wanted: AddressState, current: Option<&Holding>) -> String {
    match current {
        None => format!("{address} is not {}: it is free", wanted.as_str()),
        Some(holding) => format!("{address} is not {}: {}", wanted.as_str(), holding.describe()),
    }
}

fn invalid(field: &str, code: &str, message: String) -> AllocationError {
    AllocationError::Invalid(FieldErrors::from(vec![FieldError::new(field, code, message)]))
}

// =============================================================================================
// Reading

const HOLDING_COLUMNS: &str = "address, pool_id, state, owner, application, reason, since, actor";

fn row_to_holding(row: &AnyRow) -> Result<Holding, DbError> {
    let corrupt = |what: &str| DbError::Corrupt {
        what: format!("address {what}"),
        source: serde::de::Error::custom("not a valid stored value"),
    };
    let address: String = row.try_get("address")?;
    let state: String = row.try_get("state")?;
    let application: Option<String> = row.try_get("application")?;
    Ok(Holding {
        address: IpAddr::parse(&address).map_err(|_| corrupt("address"))?,
        pool: row.try_get("pool_id")?,
        state: match state.as_str() {
            "allocated" => AddressState::Allocated,
            "reserved" => AddressState::Reserved,
            _ => return Err(corrupt("state")),
        },
        owner: row.try_get("owner")?,
        application: application.map(|a| K8sName::parse(&a).map_err(|_| corrupt("application"))).transpose()?,
        reason: row.try_get("reason")?,
        since: row.try_get("since")?,
        by: row.try_get("actor")?,
    })
}

/// The holder of an address, when it is allocated or reserved.
pub async fn get(db: &Database, address: IpAddr) -> Result<Option<Holding>, DbError> {
    let row = sqlx::query(&format!("SELECT {HOLDING_COLUMNS} FROM addresses WHERE address_key = $1"))
        .bind(address_key(address))
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(row_to_holding).transpose()
}

/// The allocated and reserved addresses of a pool, in address order.
pub async fn list(db: &Database, pool_id: i64) -> Result<Vec<Holding>, DbError> {
    sqlx::query(&format!("SELECT {HOLDING_COLUMNS} FROM addresses WHERE pool_id = $1 ORDER BY address_key"))
        .bind(pool_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(row_to_holding)
        .collect()
}

/// The allocated addresses of every pool, for the checklist (`Plan.allocations`).
pub async fn load_allocations(conn: &mut AnyConnection) -> Result<Vec<Allocation>, DbError> {
    sqlx::query(
        "SELECT a.address AS address, a.pool_id AS pool_id, e.name AS environment, a.owner AS owner, \
                a.application AS application \
         FROM addresses a JOIN pools p ON p.id = a.pool_id JOIN environments e ON e.id = p.environment_id \
         WHERE a.state = 'allocated' ORDER BY a.address_key",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let document = serde_json::json!({
            "address": row.try_get::<String, _>("address")?,
            "pool_id": row.try_get::<i64, _>("pool_id")?,
            "environment": row.try_get::<String, _>("environment")?,
            "owner": row.try_get::<Option<String>, _>("owner")?.unwrap_or_default(),
            "application": row.try_get::<Option<String>, _>("application")?,
        });
        serde_json::from_value(document).map_err(|source| DbError::Corrupt { what: "allocation".to_owned(), source })
    })
    .collect()
}

/// Allocated and reserved counts of one pool.
pub async fn usage(db: &Database, pool_id: i64) -> Result<Usage, DbError> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM addresses WHERE pool_id = $1 GROUP BY state")
        .bind(pool_id)
        .fetch_all(db.pool())
        .await?;
    let mut usage = Usage::default();
    for row in &rows {
        add_count(&mut usage, row)?;
    }
    Ok(usage)
}

/// Allocated and reserved counts of every pool that has any.
pub async fn usage_by_pool(db: &Database) -> Result<HashMap<i64, Usage>, DbError> {
    let rows = sqlx::query("SELECT pool_id, state, COUNT(*) AS n FROM addresses GROUP BY pool_id, state")
        .fetch_all(db.pool())
        .await?;
    let mut usage: HashMap<i64, Usage> = HashMap::new();
    for row in &rows {
        add_count(usage.entry(row.try_get("pool_id")?).or_default(), row)?;
    }
    Ok(usage)
}

fn add_count(usage: &mut Usage, row: &AnyRow) -> Result<(), DbError> {
    let n = u128::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default();
    match row.try_get::<String, _>("state")?.as_str() {
        "allocated" => usage.allocated += n,
        "reserved" => usage.reserved += n,
        _ => {}
    }
    Ok(())
}

// =============================================================================================
// The search for free addresses

/// A pool read for an allocation, with its cursor.
struct PoolRead {
    pool: VipPool,
    extents: Vec<Extent>,
    blocks_text: String,
    cursor: Option<Cursor>,
}

struct Cursor {
    blocks: String,
    low_key: String,
    version: i64,
}

impl PoolRead {
    /// Where the search starts: the cursor when it was computed for these blocks.
    fn start(&self) -> Option<(IpFamily, u128)> {
        self.cursor.as_ref().filter(|c| c.blocks == self.blocks_text).and_then(|c| parse_key(&c.low_key))
    }

    fn cursor_is_stale(&self, skipped: u64) -> bool {
        match &self.cursor {
            None => true,
            Some(cursor) => cursor.blocks != self.blocks_text || skipped >= CURSOR_STEP,
        }
    }
}

async fn read_pool(conn: &mut AnyConnection, pool_id: i64) -> Result<PoolRead, AllocationError> {
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

fn pool_read(row: &AnyRow, pool_id: i64) -> Result<PoolRead, AllocationError> {
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
struct Prefetch {
    from: Option<(IpFamily, u128)>,
    keys: Vec<(IpFamily, u128)>,
    complete: bool,
}

impl Prefetch {
    /// The taken keys of `lo..=hi` in `family` when this read covers that range from `lo`
    /// on, and whether more may follow the last of them.
    fn serve(&self, family: IpFamily, lo: u128, hi: u128) -> Option<(Vec<u128>, bool)> {
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
async fn read_for_allocation(
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
struct Found {
    free: Vec<IpAddr>,
    skipped: u64,
}

impl Found {
    /// Adds the free addresses `from..=last` until `want` are found.
    fn push_run(&mut self, family: IpFamily, from: u128, last: u128, want: usize) {
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
async fn find_free(
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
async fn advance_cursor(conn: &mut AnyConnection, backend: Backend, read: &PoolRead, low: IpAddr) -> Result<(), sqlx::Error> {
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
async fn lower_cursor(conn: &mut AnyConnection, pool_id: i64, key: &str) -> Result<(), sqlx::Error> {
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

// =============================================================================================
// Writing

/// A failure that a fresh attempt may not meet again.
fn is_transient(backend: Backend, error: &AllocationError) -> bool {
    let AllocationError::Db(DbError::Sqlx(sqlx::Error::Database(error))) = error else {
        return false;
    };
    let Some(code) = error.code() else { return false };
    match backend {
        // serialization_failure, deadlock_detected, lock_not_available
        Backend::Postgres => matches!(&*code, "40001" | "40P01" | "55P03"),
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes
        Backend::Sqlite => code.parse::<i32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
    }
}

/// A number below `bound` (at least 1), for jitter.
fn random_below(bound: usize) -> usize {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    // Without a random source every writer retries in step; jitter is then only the backoff.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    (u64::from_le_bytes(bytes) % bound.max(1) as u64) as usize
}

async fn jitter(round: u32) {
    let ceiling_ms = 1usize << round.min(5);
    tokio::time::sleep(Duration::from_micros(200 + random_below(ceiling_ms * 1000) as u64)).await;
}

/// One attempt: `Ok(None)` asks for another with a fresh read.
type Attempt<T> = Result<Option<T>, AllocationError>;

/// Runs `attempt` until it gives an answer, retrying transient failures a bounded number of
/// times with a little jitter.
async fn with_retries<T, F, Fut>(db: &Database, mut attempt: F) -> Result<T, AllocationError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    for round in 0..MAX_ROUNDS {
        match attempt(round).await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) if is_transient(db.backend(), &error) => {
                tracing::debug!(%error, round, "transient database error; trying again");
            }
            Err(error) => return Err(error),
        }
        jitter(round).await;
    }
    Err(AllocationError::Busy)
}

/// A statement whose `$n` placeholders are numbered as its values are added.
#[derive(Default)]
struct Statement {
    sql: String,
    values: Vec<Option<Value>>,
}

enum Value {
    Text(String),
    Int(i64),
}

impl Statement {
    fn param(&mut self, value: Option<Value>) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    fn text(&mut self, value: impl Into<String>) -> String {
        self.param(Some(Value::Text(value.into())))
    }

    fn optional_text(&mut self, value: Option<&str>) -> String {
        self.param(value.map(|v| Value::Text(v.to_owned())))
    }

    fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut query = sqlx::query(&self.sql);
        for value in &self.values {
            query = match value {
                Some(Value::Text(text)) => query.bind(text.clone()),
                Some(Value::Int(n)) => query.bind(*n),
                None => query.bind(None::<String>),
            };
        }
        query
    }
}

/// The advisory-lock class of Gatehouse addresses (PostgreSQL).
const LOCK_CLASS: i32 = 0x4748_0001;

const INSERT_COLUMNS: &str = "address_key, address, pool_id, state, owner, application, reason, actor, since";

/// The statement that claims the lowest candidates still free for `requests`. The
/// candidates are listed lowest first; the i-th candidate claimed goes to the i-th request, so
/// the i-th lowest key returned is the i-th request's address. A candidate that is taken is
/// passed over, and so — on PostgreSQL — is one whose advisory lock another transaction holds
/// (it is claiming it right now; the lock is held until that transaction ends). Rows are only
/// written while the pool still has the blocks that were searched.
fn claim_statement(
    backend: Backend,
    read: &PoolRead,
    requests: &[&Holding],
    candidates: &[IpAddr],
) -> Statement {
    let mut s = Statement::default();
    let pool = s.param(Some(Value::Int(read.pool.id.unwrap_or_default())));
    let blocks = s.text(read.blocks_text.clone());
    let mut with = Vec::new();
    let limit = s.param(Some(Value::Int(requests.len() as i64)));
    let wanted: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| {
            serde_json::json!({"owner": r.owner, "application": r.application, "reason": r.reason,
                               "by": r.by, "since": r.since})
        })
        .collect();
    let wanted = s.text(serde_json::Value::Array(wanted).to_string());
    let guard = format!(
        "NOT EXISTS (SELECT 1 FROM addresses t WHERE t.address_key = c.k) \
         AND EXISTS (SELECT 1 FROM pools p WHERE p.id = {pool} AND p.blocks = {blocks})"
    );
    let field = |name: &str| match backend {
        Backend::Sqlite => format!("json_extract(r.v, '$.{name}')"),
        Backend::Postgres => format!("r.v->>'{name}'"),
    };
    match backend {
        // One writer at a time: the statement sees every committed row.
        Backend::Sqlite => {
            let pairs: Vec<serde_json::Value> =
                candidates.iter().map(|a| serde_json::json!([address_key(*a), a.to_string()])).collect();
            let pairs = s.text(serde_json::Value::Array(pairs).to_string());
            with.push(format!(
                "c AS (SELECT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS a, key AS o \
                 FROM json_each({pairs}))"
            ));
            with.push(format!("claimed AS (SELECT k, a, o FROM c WHERE {guard} ORDER BY o LIMIT {limit})"));
            with.push(format!("r AS (SELECT value AS v, key + 1 AS i FROM json_each({wanted}))"));
        }
        // The candidates as two lists (one statement text whatever their number); the scan
        // yields them in order and stops once enough are claimed. The advisory lock of an
        // address is its low 32 bits (a collision only makes a request pass over a candidate).
        Backend::Postgres => {
            let keys: Vec<String> = candidates.iter().map(|a| address_key(*a)).collect();
            let texts: Vec<String> = candidates.iter().map(ToString::to_string).collect();
            let (keys, texts) = (s.text(keys.join(",")), s.text(texts.join(",")));
            with.push(format!(
                "claimed AS (SELECT c.k, c.a, c.o \
                 FROM unnest(string_to_array({keys}, ','), string_to_array({texts}, ',')) WITH ORDINALITY AS c(k, a, o) \
                 WHERE {guard} AND pg_try_advisory_xact_lock({LOCK_CLASS}, ('x' || right(c.k, 8))::bit(32)::int4) \
                 LIMIT {limit})"
            ));
            with.push(format!("r AS (SELECT value AS v, i FROM json_array_elements({wanted}::json) WITH ORDINALITY AS e(value, i))"));
        }
    }
    with.push("n AS (SELECT k, a, row_number() OVER (ORDER BY o) AS i FROM claimed)".to_owned());
    s.sql = format!(
        "WITH {} INSERT INTO addresses ({INSERT_COLUMNS}) \
         SELECT n.k, n.a, {pool}, 'allocated', {}, {}, {}, {}, {} FROM n JOIN r ON r.i = n.i \
         RETURNING address_key",
        with.join(", "),
        field("owner"),
        field("application"),
        field("reason"),
        field("by"),
        field("since"),
    );
    s
}

// =============================================================================================
// Allocate

/// Allocates `request.address`, or the pool's lowest free address, to `request.owner`.
pub async fn allocate(
    db: &Database,
    caller: &crate::auth::Principal,
    pool_id: i64,
    request: &AllocationRequest,
) -> Result<Holding, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "allocate addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    let template = |address: IpAddr| Holding {
        address,
        pool: pool_id,
        state: AddressState::Allocated,
        owner: Some(request.owner.clone()),
        application: request.application.clone(),
        reason: request.reason.clone(),
        since: now_text(),
        by: actor.to_owned(),
    };
    match request.address {
        Some(address) => take(db, &template(address)).await,
        None => allocate_next(db, pool_id, template(IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED))).await,
    }
}

fn outside_pool(field: &str, address: IpAddr, pool: &VipPool) -> AllocationError {
    let blocks: Vec<String> = pool.blocks.iter().map(ToString::to_string).collect();
    invalid(
        field,
        "outside_pool",
        format!("{address} is not in pool {} (blocks: {}); pick an address inside it", pool.name, blocks.join(", ")),
    )
}

// ---------------------------------------------------------------------------------------------
// Next free: the waiting requests of a pool are claimed together

/// The most next-free requests one statement claims.
const MAX_BATCH: usize = 64;

/// Candidates searched beyond one per request, for what other writers claim meanwhile.
fn slack(backend: Backend) -> usize {
    match backend {
        // One writer at a time, and one batch at a time per process.
        Backend::Sqlite => 8,
        // Other processes claim in parallel.
        Backend::Postgres => 32,
    }
}

/// A next-free request waiting for its batch.
struct Pending {
    template: Holding,
    reply: tokio::sync::oneshot::Sender<Result<Holding, AllocationError>>,
}

/// The waiting requests of one pool of one database, and whether a task is claiming them.
#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    draining: bool,
}

/// (database, pool): a pool's connect options are shared by its clones and never replaced.
type QueueKey = (usize, i64);

fn queues() -> std::sync::MutexGuard<'static, HashMap<QueueKey, Queue>> {
    static QUEUES: std::sync::LazyLock<std::sync::Mutex<HashMap<QueueKey, Queue>>> =
        std::sync::LazyLock::new(Default::default);
    QUEUES.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The lowest free address of the pool. Requests that arrive while a batch of the pool is
/// being claimed wait and are claimed together in the next one: one read and one statement
/// for many allocations (and, on SQLite, one turn of the write lock). Batching is only about
/// throughput — two batches, from two processes say, still cannot claim one address.
async fn allocate_next(db: &Database, pool_id: i64, template: Holding) -> Result<Holding, AllocationError> {
    let key = (std::sync::Arc::as_ptr(&db.pool().connect_options()).cast::<()>() as usize, pool_id);
    let (reply, answer) = tokio::sync::oneshot::channel();
    let lead = {
        let mut queues = queues();
        let queue = queues.entry(key).or_default();
        queue.pending.push(Pending { template, reply });
        !std::mem::replace(&mut queue.draining, true)
    };
    if lead {
        // Its own task: a request that goes away does not strand the others.
        tokio::spawn(drain(db.clone(), key));
    }
    answer.await.unwrap_or(Err(AllocationError::Busy))
}

/// Claims the waiting requests of one pool, a batch at a time, until none is left.
async fn drain(db: Database, key: QueueKey) {
    let mut guard = DrainGuard { key, done: false };
    loop {
        let batch: Vec<Pending> = {
            let mut queues = queues();
            let Some(queue) = queues.get_mut(&key) else {
                guard.done = true;
                return;
            };
            if queue.pending.is_empty() {
                queues.remove(&key);
                guard.done = true;
                return;
            }
            let n = queue.pending.len().min(MAX_BATCH);
            queue.pending.drain(..n).collect()
        };
        let templates: Vec<Holding> = batch.iter().map(|p| p.template.clone()).collect();
        let results = claim_batch(&db, key.1, &templates).await;
        for (pending, result) in batch.into_iter().zip(results) {
            // A request that went away no longer listens; its address stays allocated.
            let _ = pending.reply.send(result);
        }
    }
}

/// Should a drain end early (a panic, or its runtime shutting down): its waiting requests are
/// answered (busy) and the next request starts a new drain, instead of waiting forever.
struct DrainGuard {
    key: QueueKey,
    done: bool,
}

impl Drop for DrainGuard {
    fn drop(&mut self) {
        if !self.done {
            queues().remove(&self.key);
        }
    }
}

/// The outcome of one attempt at a batch.
struct Round {
    /// (index of the request, what it got).
    claimed: Vec<(usize, Holding)>,
    /// Set when the pool has no free address left for the requests not claimed.
    exhausted: Option<ExhaustedInfo>,
}

/// Claims the lowest free addresses for `templates`, in order; retries what is left with a
/// fresh read, a bounded number of times.
async fn claim_batch(db: &Database, pool_id: i64, templates: &[Holding]) -> Vec<Result<Holding, AllocationError>> {
    let mut results: Vec<Option<Result<Holding, AllocationError>>> = templates.iter().map(|_| None).collect();
    let mut open: Vec<usize> = (0..templates.len()).collect();
    for round in 0..MAX_ROUNDS {
        match claim_round(db, pool_id, templates, &open).await {
            Ok(Round { claimed, exhausted }) => {
                for (index, holding) in claimed {
                    results[index] = Some(Ok(holding));
                }
                open.retain(|&index| results[index].is_none());
                if let Some(info) = exhausted {
                    for &index in &open {
                        results[index] = Some(Err(info.error()));
                    }
                    open.clear();
                }
                if open.is_empty() {
                    break;
                }
            }
            Err(error) if is_transient(db.backend(), &error) => {
                tracing::debug!(%error, round, "transient database error; trying again");
            }
            Err(error) => {
                for (&index, error) in open.iter().zip(spread(error, open.len())) {
                    results[index] = Some(Err(error));
                }
                open.clear();
                break;
            }
        }
        jitter(round).await;
    }
    results.into_iter().map(|result| result.unwrap_or(Err(AllocationError::Busy))).collect()
}

/// One error for each of `n` requests (the database's own error to the first; the others
/// carry its text).
fn spread(error: AllocationError, n: usize) -> Vec<AllocationError> {
    let copy = |error: &AllocationError| match error {
        AllocationError::PoolNotFound(id) => AllocationError::PoolNotFound(*id),
        AllocationError::Busy => AllocationError::Busy,
        other => AllocationError::Db(DbError::Sqlx(sqlx::Error::Protocol(other.to_string()))),
    };
    let mut errors: Vec<AllocationError> = (1..n).map(|_| copy(&error)).collect();
    errors.insert(0, error);
    errors
}

/// One read, then one write transaction (the cursor when it lags, the claiming statement and
/// the audit entries) for the requests `open` of `templates`.
async fn claim_round(db: &Database, pool_id: i64, templates: &[Holding], open: &[usize]) -> Result<Round, AllocationError> {
    let backend = db.backend();
    let want = open.len() + slack(backend);
    let (read, found) = {
        let mut conn = db.pool().acquire().await?;
        let (read, prefetch) = read_for_allocation(&mut conn, pool_id, want).await?;
        let found = find_free(&mut conn, &read.extents, read.start(), Some(&prefetch), want).await?;
        (read, found)
    };
    let Some(&lowest) = found.free.first() else {
        return Ok(Round { claimed: Vec::new(), exhausted: Some(exhausted_info(db, &read.pool).await?) });
    };
    let mut tx = db.begin_write().await?;
    if read.cursor_is_stale(found.skipped) {
        advance_cursor(&mut tx, backend, &read, lowest).await?;
    }
    let requests: Vec<&Holding> = open.iter().map(|&index| &templates[index]).collect();
    let statement = claim_statement(backend, &read, &requests, &found.free);
    let rows = match statement.query().fetch_all(&mut *tx).await.map_err(DbError::from) {
        Ok(rows) => rows,
        // Committed by someone else after this statement's snapshot: search again.
        Err(error) if error.is_unique_violation() => return Ok(Round { claimed: Vec::new(), exhausted: None }),
        Err(error) if error.is_foreign_key_violation() => return Err(AllocationError::PoolNotFound(pool_id)),
        Err(error) => return Err(error.into()),
    };
    let mut keys = rows
        .iter()
        .map(|row| row.try_get::<String, _>("address_key"))
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort();
    let mut claimed = Vec::with_capacity(keys.len());
    for (key, &index) in keys.iter().zip(open) {
        let address = parse_key(key).and_then(|(family, value)| IpAddr::from_u128(family, value)).ok_or_else(|| {
            DbError::Corrupt { what: "claimed address".to_owned(), source: serde::de::Error::custom("not a key") }
        })?;
        claimed.push((index, Holding { address, ..templates[index].clone() }));
    }
    let holdings: Vec<Holding> = claimed.iter().map(|(_, holding)| holding.clone()).collect();
    record_taken(&mut tx, &holdings).await?;
    tx.commit().await?;
    // The search reached the end of the pool and every free address it found is now taken.
    let exhausted = if found.free.len() < want && claimed.len() == found.free.len() && claimed.len() < open.len() {
        Some(exhausted_info(db, &read.pool).await?)
    } else {
        None
    };
    Ok(Round { claimed, exhausted })
}

/// Stores `holding` at its given address: 422 outside the pool, 409 with its holder when it
/// is taken.
async fn take(db: &Database, holding: &Holding) -> Result<Holding, AllocationError> {
    let stored = with_retries(db, |_| async move {
        let read = read_pool(&mut *db.pool().acquire().await?, holding.pool).await?;
        if !read.pool.contains(&holding.address) {
            return Err(outside_pool("address", holding.address, &read.pool));
        }
        let mut tx = db.begin_write().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO addresses ({INSERT_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE EXISTS (SELECT 1 FROM pools p WHERE p.id = $3 AND p.blocks = $10)"
        ))
        .bind(address_key(holding.address))
        .bind(holding.address.to_string())
        .bind(holding.pool)
        .bind(holding.state.as_str())
        .bind(holding.owner.as_deref())
        .bind(holding.application.as_ref().map(K8sName::as_str))
        .bind(holding.reason.as_deref())
        .bind(&holding.by)
        .bind(&holding.since)
        .bind(&read.blocks_text)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from);
        match inserted {
            Ok(result) if result.rows_affected() == 1 => {}
            // The pool changed since it was read: check the address against it again.
            Ok(_) => return Ok(None),
            Err(error) if error.is_unique_violation() => return Ok(Some(false)),
            Err(error) if error.is_foreign_key_violation() => return Err(AllocationError::PoolNotFound(holding.pool)),
            Err(error) => return Err(error.into()),
        }
        record_taken(&mut tx, std::slice::from_ref(holding)).await?;
        tx.commit().await?;
        Ok(Some(true))
    })
    .await?;
    if stored {
        return Ok(holding.clone());
    }
    Err(AllocationError::Taken {
        field: "address",
        address: holding.address,
        holder: get(db, holding.address).await?.map(Box::new),
        hint: "choose another address, or leave out `address` to get the next free one",
    })
}

/// What the 409 of an exhausted pool says: the pool, and the next pool of its environment
/// with room.
#[derive(Debug, Clone)]
struct ExhaustedInfo {
    pool: String,
    environment: String,
    size: u128,
    alternative: Option<PoolRoom>,
}

impl ExhaustedInfo {
    fn error(&self) -> AllocationError {
        AllocationError::Exhausted {
            pool: self.pool.clone(),
            environment: self.environment.clone(),
            size: self.size,
            alternative: self.alternative.clone(),
        }
    }
}

async fn exhausted_info(db: &Database, pool: &VipPool) -> Result<ExhaustedInfo, DbError> {
    let others = pools::list(db, Some(pool.environment.as_str())).await?;
    let usage = usage_by_pool(db).await?;
    let (after, before): (Vec<&VipPool>, Vec<&VipPool>) =
        others.iter().filter(|other| other.id != pool.id).partition(|other| other.name > pool.name);
    let alternative = after.into_iter().chain(before).find_map(|other| {
        let id = other.id?;
        let free = usage.get(&id).copied().unwrap_or_default().free(other);
        (free > 0).then(|| PoolRoom { id, name: other.name.to_string(), free })
    });
    Ok(ExhaustedInfo {
        pool: pool.name.to_string(),
        environment: pool.environment.to_string(),
        size: pool.size(),
        alternative,
    })
}

// =============================================================================================
// Reserve

/// Reserves `request.start..=request.stop` of the pool: every address must be inside the pool
/// and free (otherwise 409 naming the first taken one).
pub async fn reserve(
    db: &Database,
    caller: &crate::auth::Principal,
    pool_id: i64,
    request: &ReservationRequest,
) -> Result<Reservation, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "reserve addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    if let Err(error) = check_range(request.start, request.stop) {
        return Err(AllocationError::Invalid(FieldErrors::from(vec![error])));
    }
    let since = now_text();
    let family = request.start.family();
    let holdings: Vec<Holding> = (request.start.to_u128()..=request.stop.to_u128())
        .filter_map(|value| IpAddr::from_u128(family, value))
        .map(|address| Holding {
            address,
            pool: pool_id,
            state: AddressState::Reserved,
            owner: None,
            application: None,
            reason: Some(request.reason.clone()),
            since: since.clone(),
            by: actor.to_owned(),
        })
        .collect();
    let holdings = &holdings;
    let stored = with_retries(db, |_| async move {
        let read = read_pool(&mut *db.pool().acquire().await?, pool_id).await?;
        for (field, address) in [("start", request.start), ("stop", request.stop)] {
            if !read.pool.contains(&address) {
                return Err(outside_pool(field, address, &read.pool));
            }
        }
        if let Some(gap) = first_outside(&read.pool, request.start, request.stop) {
            return Err(outside_pool("stop", gap, &read.pool));
        }
        let mut tx = db.begin_write().await?;
        let unchanged = sqlx::query("SELECT id FROM pools WHERE id = $1 AND blocks = $2")
            .bind(pool_id)
            .bind(&read.blocks_text)
            .fetch_optional(&mut *tx)
            .await?;
        if unchanged.is_none() {
            return Ok(None);
        }
        match insert_holdings(&mut tx, holdings).await {
            Ok(()) => {}
            Err(error) if error.is_unique_violation() => return Ok(Some(false)),
            Err(error) if error.is_foreign_key_violation() => return Err(AllocationError::PoolNotFound(pool_id)),
            Err(error) => return Err(error.into()),
        }
        record_taken(&mut tx, holdings).await?;
        tx.commit().await?;
        Ok(Some(true))
    })
    .await?;
    if !stored {
        let first = sqlx::query(&format!(
            "SELECT {HOLDING_COLUMNS} FROM addresses WHERE address_key >= $1 AND address_key <= $2 \
             ORDER BY address_key LIMIT 1"
        ))
        .bind(address_key(request.start))
        .bind(address_key(request.stop))
        .fetch_optional(db.pool())
        .await?;
        let holder = first.as_ref().map(row_to_holding).transpose()?;
        return Err(AllocationError::Taken {
            field: "start",
            address: holder.as_ref().map_or(request.start, |h| h.address),
            holder: holder.map(Box::new),
            hint: "every address of a reservation must be free; reserve around it",
        });
    }
    Ok(Reservation {
        pool: pool_id,
        start: request.start,
        stop: request.stop,
        count: request.count(),
        reason: request.reason.clone(),
        since,
        by: actor.to_owned(),
    })
}

/// The first address of `start..=stop` that none of the pool's blocks contains.
fn first_outside(pool: &VipPool, start: IpAddr, stop: IpAddr) -> Option<IpAddr> {
    let family = start.family();
    let mut next = start.to_u128();
    for extent in extents(pool).iter().filter(|e| e.family == family) {
        if extent.first > next {
            break;
        }
        if extent.last >= next {
            if extent.last >= stop.to_u128() {
                return None;
            }
            next = extent.last + 1;
        }
    }
    IpAddr::from_u128(family, next)
}

/// Rows for many addresses, [`BATCH`] rows per statement.
pub(crate) async fn insert_holdings(conn: &mut AnyConnection, holdings: &[Holding]) -> Result<(), DbError> {
    for chunk in holdings.chunks(BATCH) {
        insert_holdings_batch(conn, chunk).await?;
    }
    Ok(())
}

async fn insert_holdings_batch(conn: &mut AnyConnection, holdings: &[Holding]) -> Result<(), DbError> {
    let mut s = Statement::default();
    let rows: Vec<String> = holdings
        .iter()
        .map(|h| {
            let values = [
                s.text(address_key(h.address)),
                s.text(h.address.to_string()),
                s.param(Some(Value::Int(h.pool))),
                s.text(h.state.as_str()),
                s.optional_text(h.owner.as_deref()),
                s.optional_text(h.application.as_ref().map(K8sName::as_str)),
                s.optional_text(h.reason.as_deref()),
                s.text(h.by.clone()),
                s.text(h.since.clone()),
            ];
            format!("({})", values.join(", "))
        })
        .collect();
    s.sql = format!("INSERT INTO addresses ({INSERT_COLUMNS}) VALUES {}", rows.join(", "));
    s.query().execute(&mut *conn).await?;
    Ok(())
}

/// One audit entry: when, who, action, object, before, after.
type AuditRow = (String, String, &'static str, String, Option<String>, Option<String>);

/// Audit entries, many rows per statement, inside the change's transaction.
async fn insert_audit(tx: &mut Transaction<'_, Any>, entries: Vec<AuditRow>) -> Result<(), DbError> {
    for chunk in entries.chunks(BATCH) {
        let mut s = Statement::default();
        let rows: Vec<String> = chunk
            .iter()
            .map(|(at, actor, action, object, before, after)| {
                let values = [
                    s.text(at.clone()),
                    s.text(actor.clone()),
                    s.text(*action),
                    s.text(object.clone()),
                    s.optional_text(before.as_deref()),
                    s.optional_text(after.as_deref()),
                ];
                format!("({})", values.join(", "))
            })
            .collect();
        s.sql = format!(
            "INSERT INTO audit_log (at, actor, action, object, before_json, after_json) VALUES {}",
            rows.join(", ")
        );
        s.query().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Audit entries of addresses taken: `after` the holding (who, since when, why).
pub(crate) async fn record_taken(tx: &mut Transaction<'_, Any>, holdings: &[Holding]) -> Result<(), DbError> {
    let entries = holdings
        .iter()
        .map(|holding| {
            let action = match holding.state {
                AddressState::Reserved => "address.reserve",
                _ => "address.allocate",
            };
            let after = holding_json(holding).to_string();
            (holding.since.clone(), holding.by.clone(), action, audit_object(holding.address), None, Some(after))
        })
        .collect();
    insert_audit(tx, entries).await
}

/// Audit entries of addresses given back: `before` the holding, `after` the address free
/// with the reason.
async fn record_removals(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    holdings: &[Holding],
    reason: Option<&str>,
) -> Result<(), DbError> {
    let at = now_text();
    let entries = holdings
        .iter()
        .map(|holding| {
            let action = match holding.state {
                AddressState::Reserved => "address.unreserve",
                _ => "address.release",
            };
            let before = holding_json(holding).to_string();
            let after = freed_json(holding, reason).to_string();
            (at.clone(), actor.to_owned(), action, audit_object(holding.address), Some(before), Some(after))
        })
        .collect();
    insert_audit(tx, entries).await
}

fn holding_json(holding: &Holding) -> serde_json::Value {
    serde_json::to_value(holding).unwrap_or(serde_json::Value::Null)
}

fn freed_json(holding: &Holding, reason: Option<&str>) -> serde_json::Value {
    serde_json::json!({"address": holding.address, "pool": holding.pool, "state": "free", "reason": reason})
}

// =============================================================================================
// Release

/// Releases an allocated address (404 when it is not allocated).
pub async fn release(db: &Database, caller: &crate::auth::Principal, address: IpAddr, reason: Option<&str>) -> Result<Holding, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "release addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    let released = remove(db, actor, AddressState::Allocated, address, address, reason).await?;
    match released.into_iter().next() {
        Some(holding) => Ok(holding),
        None => Err(AllocationError::NotAllocated { address, current: get(db, address).await?.map(Box::new) }),
    }
}

/// Gives back the reserved addresses of `start..=stop` (one address when `stop` is `None`);
/// 404 when none of them is reserved. Allocated addresses in the range stay allocated.
pub async fn unreserve(
    db: &Database,
    caller: &crate::auth::Principal,
    start: IpAddr,
    stop: Option<IpAddr>,
    reason: Option<&str>,
) -> Result<Vec<Holding>, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "release reservations").map_err(DbError::from)?;
    let actor = &caller.actor();
    let stop = stop.unwrap_or(start);
    if let Err(error) = check_range(start, stop) {
        return Err(AllocationError::Invalid(FieldErrors::from(vec![error])));
    }
    let removed = remove(db, actor, AddressState::Reserved, start, stop, reason).await?;
    if removed.is_empty() {
        return Err(AllocationError::NotReserved { address: start, current: get(db, start).await?.map(Box::new) });
    }
    Ok(removed)
}

async fn remove(
    db: &Database,
    actor: &str,
    state: AddressState,
    start: IpAddr,
    stop: IpAddr,
    reason: Option<&str>,
) -> Result<Vec<Holding>, AllocationError> {
    with_retries(db, |_| async move {
        let mut tx = db.begin_write().await?;
        let rows = sqlx::query(&format!(
            "DELETE FROM addresses WHERE address_key >= $1 AND address_key <= $2 AND state = $3 \
             RETURNING {HOLDING_COLUMNS}"
        ))
        .bind(address_key(start))
        .bind(address_key(stop))
        .bind(state.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let mut removed = rows.iter().map(row_to_holding).collect::<Result<Vec<_>, _>>()?;
        removed.sort_by_key(|h| h.address);
        record_removals(&mut tx, actor, &removed, reason).await?;
        let mut lowest: HashMap<i64, IpAddr> = HashMap::new();
        for holding in &removed {
            let low = lowest.entry(holding.pool).or_insert(holding.address);
            *low = (*low).min(holding.address);
        }
        for (pool_id, address) in lowest {
            lower_cursor(&mut tx, pool_id, &address_key(address)).await?;
        }
        tx.commit().await?;
        Ok(Some(removed))
    })
    .await
}

/// For `pools::delete`, inside its transaction: refuses while addresses of the pool are
/// allocated, and gives back its reservations (each recorded in the audit log).
pub(crate) async fn clear_pool_for_delete(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    pool: &VipPool,
) -> Result<(), DbError> {
    let id = pool.id.unwrap_or_default();
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM addresses WHERE pool_id = $1 AND state = 'allocated'")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if count > 0 {
        let first: Vec<String> = sqlx::query(
            "SELECT address FROM addresses WHERE pool_id = $1 AND state = 'allocated' ORDER BY address_key LIMIT 3",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.try_get("address"))
        .collect::<Result<_, _>>()?;
        let more = if count > 3 { ", …" } else { "" };
        return Err(DbError::Conflict(format!(
            "pool {} still has {count} allocated address{} ({}{more}); release them before deleting the pool",
            pool.name,
            if count == 1 { "" } else { "es" },
            first.join(", "),
        )));
    }
    let rows = sqlx::query(&format!(
        "DELETE FROM addresses WHERE pool_id = $1 AND state = 'reserved' RETURNING {HOLDING_COLUMNS}"
    ))
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let removed = rows.iter().map(row_to_holding).collect::<Result<Vec<_>, _>>()?;
    record_removals(tx, actor, &removed, Some("pool deleted")).await
}

/// Whether a failed pool deletion was refused because an address still refers to the pool
/// (an allocation that committed after the check).
pub fn is_pool_in_use(error: &DbError) -> bool {
    error.is_foreign_key_violation()
}

// =============================================================================================
// The address map

/// One address, or (in a folded map) a run of addresses in the same state. Holder fields are
/// given when every address of the entry shares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u128>,
    pub state: AddressState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<K8sName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// Every address of a pool with its state: one entry per address up to
/// [`MAP_UNFOLDED_MAX`] addresses, runs of equal state beyond.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressMap {
    pub pool: i64,
    pub name: String,
    pub environment: String,
    pub size: u128,
    pub allocated: u128,
    pub reserved: u128,
    pub free: u128,
    pub folded: bool,
    pub addresses: Vec<MapEntry>,
}

impl MapEntry {
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

    /// The entry as a run (a folded map has runs only).
    fn into_run(mut self) -> MapEntry {
        if let Some(address) = self.address.take() {
            self.start = Some(address);
            self.stop = Some(address);
            self.count = Some(1);
        }
        self
    }

    /// Adds `next`, the address after the end of this run, keeping only the holder fields
    /// they share.
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

// =============================================================================================
// History

/// One change of an address, from the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressEvent {
    pub at: String,
    pub by: String,
    /// `allocate`, `release`, `reserve` or `unreserve`.
    pub action: String,
    pub pool: Option<i64>,
    pub owner: Option<String>,
    pub application: Option<String>,
    pub reason: Option<String>,
}

/// Every change of an address, oldest first.
pub async fn history(db: &Database, address: IpAddr) -> Result<Vec<AddressEvent>, DbError> {
    let entries = audit::list(db, Some(&audit_object(address))).await?;
    Ok(entries
        .into_iter()
        .map(|entry| {
            let text = |value: Option<&serde_json::Value>, field: &str| {
                value.and_then(|v| v.get(field)).and_then(serde_json::Value::as_str).map(str::to_owned)
            };
            let held = entry.before.as_ref().filter(|_| entry.after.as_ref().is_some_and(|a| a["state"] == "free"));
            let holding = held.or(entry.after.as_ref());
            AddressEvent {
                action: entry.action.strip_prefix("address.").unwrap_or(&entry.action).to_owned(),
                pool: holding.and_then(|v| v.get("pool")).and_then(serde_json::Value::as_i64),
                owner: text(holding, "owner"),
                application: text(holding, "application"),
                reason: text(entry.after.as_ref(), "reason"),
                at: entry.at,
                by: entry.actor,
            }
        })
        .collect())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        IpAddr::parse(text).unwrap()
    }

    #[test]
    fn keys_sort_like_addresses_and_read_back() {
        let addresses = ["0.0.0.0", "10.0.0.9", "10.0.0.10", "192.168.101.192", "255.255.255.255", "::", "::1", "fd00::1", "ffff::"];
        let keys: Vec<String> = addresses.iter().map(|a| address_key(ip(a))).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, keys, "text order is address order, IPv4 first");
        for (address, key) in addresses.iter().zip(&keys) {
            assert_eq!(key.len(), 33);
            let (family, value) = parse_key(key).unwrap();
            assert_eq!(IpAddr::from_u128(family, value), Some(ip(address)));
        }
        assert_eq!(parse_key("x000"), None);
    }

    #[test]
    fn requests_report_every_field() {
        let input = AllocationInput {
            address: Some("10.0.0.300".into()),
            owner: Some("  ".into()),
            application: Some("Api".into()),
            reason: Some("x".repeat(MAX_REASON_LEN + 1)),
        };
        let errors = AllocationRequest::try_from(input).unwrap_err();
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            fields,
            [("address", "invalid_ip"), ("owner", "required"), ("application", "invalid_k8s_name"), ("reason", "too_long")]
        );
        let ok = AllocationRequest::try_from(AllocationInput { owner: Some(" team-a ".into()), ..Default::default() }).unwrap();
        assert_eq!((ok.owner.as_str(), ok.address, ok.application), ("team-a", None, None));

        let range = |start: &str, stop: &str| ReservationInput {
            start: Some(start.into()),
            stop: Some(stop.into()),
            reason: Some("router".into()),
        };
        assert_eq!(ReservationRequest::try_from(range("10.0.0.1", "10.0.255.255")).unwrap().count(), 65_535);
        assert_eq!(ReservationRequest::try_from(range("10.0.0.0", "10.0.255.255")).unwrap().count(), MAX_RANGE);
        let too_large = ReservationRequest::try_from(range("10.0.0.0", "10.1.0.0")).unwrap_err();
        assert_eq!(too_large.get("stop").unwrap().code, "range_too_large");
        let backwards = ReservationRequest::try_from(range("10.0.0.9", "10.0.0.1")).unwrap_err();
        assert_eq!(backwards.get("stop").unwrap().code, "invalid_ip_range");
        let mixed = ReservationRequest::try_from(range("10.0.0.1", "fd00::1")).unwrap_err();
        assert_eq!(mixed.get("stop").unwrap().code, "family_mismatch");
        let single = ReservationRequest::try_from(ReservationInput { start: Some("fd00::5".into()), ..range("", "") }).unwrap();
        assert_eq!((single.start, single.stop, single.count()), (ip("fd00::5"), ip("fd00::5"), 1));
    }

    fn pool(blocks: serde_json::Value) -> VipPool {
        serde_json::from_value(serde_json::json!({"environment": "dev", "name": "vips", "blocks": blocks})).unwrap()
    }

    #[test]
    fn extents_are_in_address_order_and_ranges_may_span_adjacent_blocks() {
        let pool = pool(serde_json::json!([
            {"cidr": "fd00::/126"}, {"start": "10.0.0.16", "stop": "10.0.0.20"}, {"cidr": "10.0.0.0/28"}
        ]));
        let firsts: Vec<u128> = extents(&pool).iter().map(|e| e.first).collect();
        assert_eq!(firsts, [ip("10.0.0.0").to_u128(), ip("10.0.0.16").to_u128(), ip("fd00::").to_u128()]);
        assert_eq!(first_outside(&pool, ip("10.0.0.3"), ip("10.0.0.20")), None, "10.0.0.0/28 and .16-.20 touch");
        assert_eq!(first_outside(&pool, ip("10.0.0.3"), ip("10.0.0.21")), Some(ip("10.0.0.21")));
        assert_eq!(first_outside(&pool, ip("fd00::1"), ip("fd00::3")), None);
    }

    #[test]
    fn a_prefetch_serves_only_what_it_covers() {
        let v4 = |last: u8| (IpFamily::Ipv4, u128::from(last));
        let read = Prefetch { from: Some(v4(10)), keys: vec![v4(10), v4(11), v4(14)], complete: false };
        assert_eq!(read.serve(IpFamily::Ipv4, 5, 20), None, "starts before what was read");
        assert_eq!(read.serve(IpFamily::Ipv4, 10, 20), Some((vec![10, 11, 14], true)), "more may follow 14");
        assert_eq!(read.serve(IpFamily::Ipv4, 11, 13), Some((vec![11], false)), "14 proves nothing else is below it");
        assert_eq!(read.serve(IpFamily::Ipv4, 15, 20), None, "past what was read");
        let complete = Prefetch { complete: true, ..read };
        assert_eq!(complete.serve(IpFamily::Ipv4, 15, 20), Some((vec![], false)));
        assert_eq!(complete.serve(IpFamily::Ipv6, 0, 9), Some((vec![], false)));
    }

    #[test]
    fn runs_keep_the_holder_fields_they_share() {
        let held = |last: &str, owner: &str| {
            MapEntry::held(Holding {
                address: ip(&format!("10.0.0.{last}")),
                pool: 1,
                state: AddressState::Allocated,
                owner: Some(owner.to_owned()),
                application: None,
                reason: Some("api".to_owned()),
                since: "2026-01-01T00:00:00Z".to_owned(),
                by: "anonymous".to_owned(),
            })
            .into_run()
        };
        let mut run = held("1", "team-a");
        run.absorb(&held("2", "team-a"));
        assert_eq!((run.start, run.stop, run.count), (Some(ip("10.0.0.1")), Some(ip("10.0.0.2")), Some(2)));
        assert_eq!(run.owner.as_deref(), Some("team-a"));
        run.absorb(&held("3", "team-b"));
        assert_eq!((run.count, run.owner.as_deref(), run.reason.as_deref()), (Some(3), None, Some("api")));
        let free = MapEntry::free(IpFamily::Ipv4, 4, 7, true);
        assert_eq!((free.len(), free[0].count), (1, Some(4)));
        assert_eq!(MapEntry::free(IpFamily::Ipv4, 4, 7, false).len(), 4);
    }

    #[test]
    fn messages_say_who_holds_an_address_and_where_to_go() {
        let holder = Holding {
            address: ip("10.0.0.7"),
            pool: 3,
            state: AddressState::Allocated,
            owner: Some("team-a".into()),
            application: Some(K8sName::parse("api").unwrap()),
            reason: None,
            since: "2026-01-01T00:00:00Z".into(),
            by: "anonymous".into(),
        };
        let taken =
            AllocationError::Taken { field: "address", address: holder.address, holder: Some(Box::new(holder)), hint: "pick another" };
        assert_eq!(
            taken.to_string(),
            "10.0.0.7 is allocated to team-a (application api) in pool 3 since 2026-01-01T00:00:00Z by anonymous; pick another"
        );
        let room = PoolRoom { id: 7, name: "dev-more".into(), free: 1 };
        let exhausted = exhausted_text("dev-vips", "dev", 16, Some(&room));
        assert!(exhausted.contains("all 16") && exhausted.contains("dev-more (id 7) of dev has 1 free address —"), "{exhausted}");
        assert!(exhausted_text("dev-vips", "dev", 16, None).contains("no other pool of dev has room"));
    }
}

// =============================================================================================
// Fixed VIPs of applications

/// The reason on the rows that hold the addresses applications ask for by address. Such rows
/// come and go with the application; "next free" passes over them like any allocation.
pub const FIXED_VIP_REASON: &str = "the application's fixed VIP";

/// The rows application `name` holds for `reason`.
async fn held_for_reason(tx: &mut Transaction<'_, Any>, name: &str, reason: &str) -> Result<Vec<Holding>, DbError> {
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

// =============================================================================================
// `auto` VIPs of applications

/// The reason on the rows that hold the address an application with `vip: auto` was given in
/// an environment. The plan chooses it when the application is submitted there, and the
/// Gateway asks LB-IPAM for exactly that address (`spec.addresses`), so the cluster can only
/// assign what the plan holds. Such a row lasts until a teardown, or until the application
/// no longer asks for `auto` there.
pub const AUTO_VIP_REASON: &str = "the application's VIP (vip: auto), requested from LB-IPAM";

/// The owner written on an `auto` VIP's row: the object the address is for.
pub fn auto_vip_owner(namespace: &str, gateway: &str) -> String {
    format!("Gateway {namespace}/{gateway}")
}

/// An `auto` VIP as held: for which application in which environment (the pool's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoVip {
    pub application: String,
    pub environment: String,
    pub address: IpAddr,
    pool: i64,
}

/// Every `auto` VIP held, oldest first.
pub async fn auto_vips(conn: &mut AnyConnection) -> Result<Vec<AutoVip>, DbError> {
    let rows = sqlx::query(
        "SELECT a.address AS address, a.pool_id AS pool_id, a.application AS application, e.name AS environment \
         FROM addresses a JOIN pools p ON p.id = a.pool_id JOIN environments e ON e.id = p.environment_id \
         WHERE a.reason = $1 AND a.state = 'allocated' AND a.application IS NOT NULL ORDER BY a.id",
    )
    .bind(AUTO_VIP_REASON)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let address: String = row.try_get("address")?;
            Ok(AutoVip {
                address: IpAddr::parse(&address).map_err(|_| DbError::Corrupt {
                    what: "address address".to_owned(),
                    source: serde::de::Error::custom("not a valid stored value"),
                })?,
                pool: row.try_get("pool_id")?,
                application: row.try_get("application")?,
                environment: row.try_get("environment")?,
            })
        })
        .collect()
}

/// The address `application` holds for its `auto` VIP in `environment`: the oldest row, should
/// two submissions have raced.
pub fn held_auto_vip(vips: &[AutoVip], application: &str, environment: &str) -> Option<IpAddr> {
    vips.iter().find(|v| v.application == application && v.environment == environment).map(|v| v.address)
}

/// Gives every `auto` VIP of the plan that is held its address, so that its Gateway asks
/// LB-IPAM for it. Those not held yet stay `auto`.
pub fn with_auto_vips(plan: &domain::Plan, vips: &[AutoVip]) -> domain::Plan {
    let mut plan = plan.clone();
    for application in &mut plan.applications {
        for (environment, target) in &mut application.environments {
            if target.vip == domain::VipRequest::Auto
                && let Some(address) = held_auto_vip(vips, application.name.as_str(), environment.as_str())
            {
                target.vip = domain::VipRequest::Address(address);
            }
        }
    }
    plan
}

/// The pools of an environment to take an `auto` VIP from: those with IPv4 blocks first, as
/// LB-IPAM gives a single-stack Service an IPv4 address.
fn auto_vip_pools<'a>(plan: &'a domain::Plan, environment: &'a domain::EnvironmentName) -> Vec<&'a VipPool> {
    let mut pools: Vec<&VipPool> = plan.pools_of(environment).filter(|pool| pool.id.is_some()).collect();
    pools.sort_by_key(|pool| !pool.blocks.iter().any(|block| block.family() == IpFamily::Ipv4));
    pools
}

/// The address an `auto` VIP would be given now without holding it (for previews): the
/// lowest free address of the environment's pools.
pub async fn next_free_auto_vip(
    db: &Database,
    plan: &domain::Plan,
    environment: &domain::EnvironmentName,
) -> Result<Option<IpAddr>, AllocationError> {
    let mut conn = db.pool().acquire().await?;
    for pool in auto_vip_pools(plan, environment) {
        let (read, prefetch) = read_for_allocation(&mut conn, pool.id.unwrap_or_default(), 1).await?;
        let found = find_free(&mut conn, &read.extents, read.start(), Some(&prefetch), 1).await?;
        if let Some(address) = found.free.first() {
            return Ok(Some(*address));
        }
    }
    Ok(None)
}

/// The advisory-lock class of `auto` VIP holders (PostgreSQL): one submission at a time
/// decides the address of one application in one environment.
const AUTO_VIP_LOCK_CLASS: i32 = 0x4748_0002;

/// The advisory-lock key of an (application, environment): a hash, so two holders may share
/// a key now and then and merely wait for each other.
fn holder_key(application: &str, environment: &str) -> i32 {
    let mut hash = crate::manifests::Fnv1a::new();
    hash.write(application.as_bytes());
    hash.write(&[0]);
    hash.write(environment.as_bytes());
    (hash.finish() & 0x7fff_ffff) as i32
}

/// Holds the `auto` VIP of `application` in `environment` and returns it: the address it
/// holds already; else `assigned` — the address the cluster gave its Gateway's Service —
/// when it is in one of the environment's pools and free in the plan; else the lowest free
/// address of the environment's pools. One short write transaction decides, with the
/// holder's lock (SQLite: the write lock; PostgreSQL: an advisory lock of the application and
/// environment), so two submissions of one application hold one address between them; the
/// address itself is kept from everyone else by the UNIQUE key like every allocation, and a
/// claim that meets a concurrent one is tried again with a fresh read.
pub async fn hold_auto_vip(
    db: &Database,
    actor: &str,
    plan: &domain::Plan,
    application: &domain::Application,
    environment: &domain::EnvironmentName,
    assigned: Option<IpAddr>,
) -> Result<IpAddr, AllocationError> {
    let (name, env) = (application.name.as_str(), environment.as_str());
    let pools: Vec<i64> = auto_vip_pools(plan, environment).iter().filter_map(|pool| pool.id).collect();
    if pools.is_empty() {
        return Err(invalid(
            "vip",
            "no_vip_pools",
            format!("environment {env} has no VIP pool to give the application's `auto` VIP from; create a pool for it"),
        ));
    }
    let owner = auto_vip_owner(plan.namespace_in(application, environment).as_str(), &format!("{name}-{env}"));
    let pools = &pools;
    let owner = &owner;
    with_retries(db, |_| async move {
        let mut tx = db.begin_write().await?;
        if db.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(AUTO_VIP_LOCK_CLASS)
                .bind(holder_key(name, env))
                .execute(&mut *tx)
                .await?;
        }
        let held: Option<String> = sqlx::query(
            "SELECT a.address AS address FROM addresses a JOIN pools p ON p.id = a.pool_id              JOIN environments e ON e.id = p.environment_id              WHERE a.reason = $1 AND a.application = $2 AND e.name = $3 AND a.state = 'allocated' ORDER BY a.id LIMIT 1",
        )
        .bind(AUTO_VIP_REASON)
        .bind(name)
        .bind(env)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.try_get("address"))
        .transpose()?;
        if let Some(address) = held.as_deref().and_then(|a| IpAddr::parse(a).ok()) {
            return Ok(Some(address));
        }
        let mut reads = Vec::with_capacity(pools.len());
        for &pool in pools {
            reads.push(read_pool(&mut tx, pool).await?);
        }
        let mut chosen = None;
        if let Some(address) = assigned
            && let Some(read) = reads.iter().find(|read| read.pool.contains(&address))
        {
            let taken = sqlx::query("SELECT 1 AS taken FROM addresses WHERE address_key = $1")
                .bind(address_key(address))
                .fetch_optional(&mut *tx)
                .await?;
            // Someone else holds it: the plan's own choice below wins, and the Gateway asks
            // LB-IPAM to move to it.
            if taken.is_none() {
                chosen = read.pool.id.map(|pool| (address, pool));
            }
        }
        for read in &reads {
            if chosen.is_some() {
                break;
            }
            let found = find_free(&mut tx, &read.extents, read.start(), None, 1).await?;
            chosen = found.free.first().copied().zip(read.pool.id);
        }
        let Some((address, pool)) = chosen else {
            drop(tx);
            return Err(exhausted_info(db, &reads[0].pool).await?.error());
        };
        let holding = Holding {
            address,
            pool,
            state: AddressState::Allocated,
            owner: Some(owner.clone()),
            application: Some(application.name.clone()),
            reason: Some(AUTO_VIP_REASON.to_owned()),
            since: now_text(),
            by: actor.to_owned(),
        };
        match insert_holdings(&mut tx, std::slice::from_ref(&holding)).await {
            Ok(()) => {}
            // Claimed meanwhile by another writer: read again.
            Err(error) if error.is_unique_violation() => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        record_taken(&mut tx, std::slice::from_ref(&holding)).await?;
        tx.commit().await?;
        Ok(Some(address))
    })
    .await
}
