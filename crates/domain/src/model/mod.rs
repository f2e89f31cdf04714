//! The plan: environments, VIP pools, applications, allocations and certificate metadata,
//! in the JSON shapes of `/api/v1` (see shared/API.md), with raw `…Input` forms that parse
//! into them while collecting every field error.
//!
//! Parsing checks what an object needs to make sense on its own (every field valid, node
//! addresses inside a node subnet, no overlapping ranges inside one environment, BGP
//! settings present when BGP is used). Whether the plan as a whole works — overlaps across
//! environments, peers, certificates, VIPs — is the checklist's job
//! ([`super::checklist`]), which re-checks everything it needs because model structs have
//! public fields and may be built directly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::de::IgnoredAny;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

use super::error::{Collector, ErrorCode, FieldErrors, serde_via_str};
use super::names::{
    Asn, ConfigKey, EnvironmentName, Hostname, HttpPath, ImageRef, K8sName, K8sNameError, K8sSubdomain, Label, LabelKey,
    LabelValue, Port,
};
use super::net::{Cidr, CidrError, IpAddr, IpFamily, IpRange, IpRangeError, Span, overlapping_pairs};
use super::placement::NamespaceTemplate;

/// What an environment without a `cluster` goes to: the cluster Gatehouse is configured with
/// by `--kubeconfig` or `--in-cluster`, or the simulated one.
pub const DEFAULT_CLUSTER: &str = "default";

/// A number field that also accepts its text form, so forms can pass what the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberInput {
    Int(i64),
    Text(String),
}

impl From<i64> for NumberInput {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<&str> for NumberInput {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for NumberInput {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

/// The error of a field that is neither of its allowed words (`mode`, `vip`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {what}; use one of: {allowed}")]
pub struct ChoiceError {
    pub input: String,
    pub what: &'static str,
    pub allowed: &'static str,
    code: &'static str,
}

impl ErrorCode for ChoiceError {
    fn code(&self) -> &'static str {
        if self.input.is_empty() { "required" } else { self.code }
    }
}

mod environment;
mod pools;
mod application;
mod plan;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests;

pub use {application::*, environment::*, plan::*, pools::*};
