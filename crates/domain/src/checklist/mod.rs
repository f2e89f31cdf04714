//! The checklist: rules over the whole plan. Each rule has a stable id (`GH-…`), a severity
//! (an error blocks a submission, a warning informs), a title, a short training text for
//! learners and the diagram element it is drawn on.
//!
//! [`check_plan`] runs every rule over a [`Plan`]; [`check_application`] keeps the findings
//! that concern one application and its environments. All overlap checks sort and sweep
//! ([`overlapping_pairs`]); no rule compares all pairs of anything.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::certificates::uncovered;
use super::model::{
    AdvertisementMode, AppEnvironment, Application, CertificateInfo, Environment, ExternalTrafficPolicy, Plan,
    Platform, PoolBlock, VipPool, VipRequest, is_production_name,
};
use super::names::{EnvironmentName, Hostname, K8sName, K8sSubdomain};
use super::net::{Cidr, IpAddr, IpFamily, Span, overlapping_pairs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A rule as listed on the Checklist page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// One or two sentences on why the rule exists.
    pub training: &'static str,
    /// The diagram element the rule is about, e.g. `cilium/vip-pool`.
    pub diagram: &'static str,
}

/// One problem in the plan (API.md's Finding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Cow<'static, str>,
    pub severity: Severity,
    /// What is wrong, naming the objects involved.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// `environment/dev`, `pool/dev-vips`, `application/api`, `certificate/dev/api-tls`,
    /// `vip/192.168.101.240`.
    pub objects: Vec<String>,
    pub diagram: Cow<'static, str>,
    /// The field of the object being saved that the fix is in, when a save is refused over
    /// one (`namespace_template`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<Cow<'static, str>>,
}

impl Finding {
    /// The finding as one sentence for a message: `<what is wrong>. Fix: <how>`.
    pub fn sentence(&self) -> String {
        if self.hint.is_empty() {
            self.message.clone()
        } else {
            format!("{}. Fix: {}", self.message.trim_end_matches('.'), self.hint)
        }
    }
}

/// The checklist's answer: `{"errors", "warnings", "findings", "passed"}`, plus `skipped`
/// (rules that could not run, e.g. certificate rules while certificates are unknown) when
/// there are any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
    /// Ids of the rules that ran and found nothing, in checklist order.
    pub passed: Vec<Cow<'static, str>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Cow<'static, str>>,
}

impl Report {
    /// No error-level finding: the plan may be submitted.
    pub fn is_ok(&self) -> bool {
        self.errors == 0
    }
}

mod catalogue;
mod names;
mod engine;
mod ranges;
mod environments;
mod applications;
mod vips;
mod certificates;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests;

pub use {catalogue::*, engine::*, applications::*};
use {certificates::*, environments::*, names::*, ranges::*, vips::*};
