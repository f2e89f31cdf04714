//! CSV import and export of VIP pools, reservations and allocations (`/api/v1/pools.csv`).
//!
//! One row per pool block (`kind` = `pool`) and one per held address (`allocation` or
//! `reservation`), with the columns of [`COLUMNS`]. The export is a consistent snapshot in a
//! fixed order: pools by environment and name, each pool's block rows (in stored order)
//! followed by its held addresses (in address order). Fields are quoted per RFC 4180 and
//! records end with CRLF.
//!
//! An import is all or nothing:
//! 1. The file is read: a broken structure (no header, an unknown column, an unclosed quote,
//!    not UTF-8) is [`ImportError::Malformed`].
//! 2. A write transaction is opened and the plan lock taken ([`plan::lock`]), so the plan the
//!    file is checked against cannot change before the import commits.
//! 3. Every line is parsed into domain types and checked against that plan: the environment
//!    exists; a pool is defined by the file or exists (and then has exactly the file's
//!    blocks); an address is inside its pool, listed once, and not held by anyone else; and
//!    the would-be plan adds no error-level checklist finding. Every problem is collected
//!    with its line ([`ImportError::Invalid`]) and the transaction is rolled back.
//! 4. Pools, addresses and their audit entries are written in that same transaction and
//!    committed together. Allocations through the API do not take the plan lock; one that
//!    commits an address of the file meanwhile meets the UNIQUE address key, the whole
//!    transaction rolls back, and the line is reported as taken ([`ImportError::Conflict`]).
//!
//! Line numbers are those of the file as an editor shows them (the header is line 1); a
//! record whose quoted reason spans several lines is numbered by its first line.
//!
//! The rooms: `codec` reads and writes the text, `check` turns lines into domain types and
//! checks them against the plan, `apply` reads what is held and writes a checked file.
mod apply;
mod check;
mod codec;

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

pub(crate) use codec::Writer;

use super::{
    db::{Backend, Database, DbError},
    plan,
};
use domain::{ErrorCode, IpAddr};
use apply::{ApplyError, held_addresses};
use check::{Detail, Parsed, check, parse_line};
use codec::read_file;

/// The columns, in the order the export writes them.
pub const COLUMNS: [&str; 8] = ["kind", "environment", "pool", "block", "address", "owner", "application", "reason"];
/// Columns an import cannot do without; the others may be left out of the header.
const REQUIRED_COLUMNS: [&str; 3] = ["kind", "environment", "pool"];
/// The largest body an import takes.
pub const MAX_BODY: usize = 1024 * 1024;

const KIND: usize = 0;
const ENVIRONMENT: usize = 1;
const POOL: usize = 2;
const BLOCK: usize = 3;
const ADDRESS: usize = 4;
const OWNER: usize = 5;
const APPLICATION: usize = 6;
const REASON: usize = 7;

/// The file's structure is broken, so its lines cannot be read (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Malformed {
    /// The line where reading stopped, when there is one.
    pub line: Option<usize>,
    pub code: &'static str,
    pub message: String,
}

fn malformed(line: Option<usize>, code: &'static str, message: impl Into<String>) -> Malformed {
    Malformed { line, code, message: message.into() }
}

/// One problem with one line of the file (and, where it applies, one of its columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: usize,
    pub column: Option<&'static str>,
    pub code: String,
    pub message: String,
    /// The checklist rule the line breaks.
    pub rule: Option<String>,
}

impl LineError {
    fn new(line: usize, column: Option<&'static str>, code: &str, message: impl Into<String>) -> LineError {
        LineError { line, column, code: code.to_owned(), message: message.into(), rule: None }
    }

    fn from_error<E: ErrorCode + ?Sized>(line: usize, column: usize, error: &E) -> LineError {
        LineError::new(line, Some(COLUMNS[column]), error.code(), error.to_string())
    }

    /// Where the problem is, as the API's `field`: `line 7` or `line 7: address`.
    pub fn field(&self) -> String {
        match self.column {
            Some(column) => format!("line {}: {column}", self.line),
            None => format!("line {}", self.line),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Malformed(Malformed),
    /// Lines that break a rule; nothing was changed.
    #[error("{} in the file; nothing was imported", domain::counted(.0.len(), "problem"))]
    Invalid(Vec<LineError>),
    /// Addresses of the file that another request took while the import ran; nothing was
    /// changed. Empty when the addresses were free again by the time they were looked up.
    #[error("addresses of the file were taken while the import ran; nothing was imported")]
    Conflict(Vec<LineError>),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ImportError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(DbError::Sqlx(error))
    }
}

impl From<Malformed> for ImportError {
    fn from(error: Malformed) -> Self {
        Self::Malformed(error)
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub created_pools: usize,
    pub allocations: usize,
    pub reservations: usize,
    /// Addresses of the file already held exactly so (same pool, state, owner, application
    /// and reason), left as they are: importing a file twice changes nothing the second time.
    pub unchanged: usize,
}


/// Imports a CSV file (see the module documentation): everything or nothing.
pub async fn import(db: &Database, caller: &crate::auth::Principal, body: &[u8]) -> Result<ImportSummary, ImportError> {
    caller.require(domain::access::Role::NetworkAdmin, "import pools and addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    let (values, mut errors) = read_file(body)?;
    let lines: Vec<Parsed> = values.iter().map(|values| parse_line(values, &mut errors)).collect();
    if lines.is_empty() && errors.is_empty() {
        return Ok(ImportSummary::default());
    }
    let addresses: Vec<IpAddr> = lines
        .iter()
        .filter_map(|parsed| match &parsed.detail {
            Some(Detail::Holding(request)) => Some(request.address),
            _ => None,
        })
        .collect();

    let mut tx = db.begin_write().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let held = held_addresses(&mut tx, &addresses).await?;
    let checked = match check(&before, &held, lines, errors, plan::now_unix()) {
        Ok(checked) => checked,
        Err(errors) => {
            tx.rollback().await?;
            return Err(ImportError::Invalid(errors));
        }
    };
    if checked.is_empty() {
        tx.rollback().await?;
        return Ok(ImportSummary { unchanged: checked.unchanged, ..ImportSummary::default() });
    }
    match apply::apply(&mut tx, actor, &checked).await {
        Ok(summary) => {
            tx.commit().await?;
            Ok(summary)
        }
        Err(ApplyError::Taken) => {
            tx.rollback().await?;
            let wanted: Vec<IpAddr> = checked.holdings.iter().map(|h| h.request.address).collect();
            let mut conn = db.pool().acquire().await?;
            let now_held = held_addresses(&mut conn, &wanted).await?;
            let taken = checked
                .holdings
                .iter()
                .filter_map(|h| {
                    now_held.get(&h.request.address).map(|holder| {
                        LineError::new(
                            h.line,
                            Some("address"),
                            "address_taken",
                            format!("{} (taken while the import ran)", holder.describe(h.request.address)),
                        )
                    })
                })
                .collect();
            Err(ImportError::Conflict(taken))
        }
        Err(ApplyError::Failed(error)) => Err(error),
    }
}

// =============================================================================================
// Export

/// A held address as exported.
struct Exported {
    address: IpAddr,
    state: String,
    owner: Option<String>,
    application: Option<String>,
    reason: Option<String>,
}

/// Every pool block and held address as CSV, from one consistent snapshot.
pub async fn export(db: &Database) -> Result<String, DbError> {
    let mut tx = match db.backend() {
        Backend::Sqlite => db.pool().begin().await?,
        Backend::Postgres => db.pool().begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?,
    };
    let mut pools = plan::load_pools(&mut tx).await?;
    let rows = sqlx::query("SELECT address, pool_id, state, owner, application, reason FROM addresses")
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;

    let mut held: HashMap<i64, Vec<Exported>> = HashMap::new();
    for row in &rows {
        let text: String = row.try_get("address")?;
        let address = IpAddr::parse(&text).map_err(|error| DbError::Corrupt {
            what: "address".to_owned(),
            source: serde::de::Error::custom(error),
        })?;
        held.entry(row.try_get("pool_id")?).or_default().push(Exported {
            address,
            state: row.try_get("state")?,
            owner: row.try_get("owner")?,
            application: row.try_get("application")?,
            reason: row.try_get("reason")?,
        });
    }
    // Sorted here too (not only by SQL), so both databases give the same order whatever their
    // collation.
    pools.sort_by(|a, b| (a.environment.as_str(), a.name.as_str()).cmp(&(b.environment.as_str(), b.name.as_str())));

    let mut out = Writer::new();
    out.record(&COLUMNS)?;
    for pool in &pools {
        let (environment, name) = (pool.environment.as_str(), pool.name.as_str());
        for block in &pool.blocks {
            out.record(&["pool", environment, name, &block.to_string(), "", "", "", ""])?;
        }
        let Some(addresses) = pool.id.and_then(|id| held.get_mut(&id)) else { continue };
        addresses.sort_by_key(|h| h.address);
        for h in addresses.iter() {
            let kind = if h.state == "reserved" { "reservation" } else { "allocation" };
            out.record(&[
                    kind,
                    environment,
                    name,
                    "",
                    &h.address.to_string(),
                    h.owner.as_deref().unwrap_or_default(),
                    h.application.as_deref().unwrap_or_default(),
                h.reason.as_deref().unwrap_or_default(),
            ])?;
        }
    }
    out.finish()
}
