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

mod keys;
mod request;
mod holding;
mod read;
mod search;
mod claim;
mod allocate;
mod reserve;
mod release;
mod map;
mod history;
mod fixed;
mod auto;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests;

pub use {allocate::*, auto::*, fixed::*, history::*, holding::*, keys::*, map::*, read::*, release::*, request::*, reserve::*};
use {claim::*, search::*};
