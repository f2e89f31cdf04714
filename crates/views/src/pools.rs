//! A pool's addresses as the pages and `/api/v1/pools/{id}/addresses` show them.
use std::fmt;

use domain::{IpAddr, K8sName};
use serde::{Deserialize, Serialize};

/// Whether an address of a pool is free, allocated or reserved.
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

impl fmt::Display for AddressState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One address, or (in a folded map) a run of addresses in the same state. Holder fields are
/// given when every address of the entry shares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u128>,
    pub state: AddressState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<K8sName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// Every address of a pool with its state: one entry per address up to
/// `MAP_UNFOLDED_MAX` (1,024) addresses, runs of equal state beyond.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
