//! What an address holds, a pool's usage, and why a request is refused.
use super::*;

pub use views::pools::AddressState;

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
    pub(super) fn describe(&self) -> String {
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

pub(super) fn taken_text(address: &IpAddr, holder: Option<&Holding>) -> String {
    holder.map_or_else(|| format!("{address} is taken"), Holding::describe)
}

pub(super) fn exhausted_text(pool: &str, environment: &str, size: u128, alternative: Option<&PoolRoom>) -> String {
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

pub(super) fn not_held_text(address: &IpAddr, wanted: AddressState, current: Option<&Holding>) -> String {
    match current {
        None => format!("{address} is not {}: it is free", wanted.as_str()),
        Some(holding) => format!("{address} is not {}: {}", wanted.as_str(), holding.describe()),
    }
}

pub(super) fn invalid(field: &str, code: &str, message: String) -> AllocationError {
    AllocationError::Invalid(FieldErrors::from(vec![FieldError::new(field, code, message)]))
}
