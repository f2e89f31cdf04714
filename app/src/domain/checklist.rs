//! The checklist (work in progress: types are final, rules land next).
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::model::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Cow<'static, str>,
    pub severity: Severity,
    pub message: String,
    pub hint: String,
    pub objects: Vec<String>,
    pub diagram: Cow<'static, str>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
    pub passed: Vec<Cow<'static, str>>,
}

pub fn check_plan(_plan: &Plan, _now_unix: i64) -> Report {
    Report::default()
}
