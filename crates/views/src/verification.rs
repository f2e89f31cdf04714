//! Verification: what a client meets, hop by hop, at an application environment's VIP — the
//! checks the portal runs (and `gatehouse verify` runs from elsewhere), as recorded.
use serde::{Deserialize, Serialize};

/// A check's result. `unknown`: what could not be read or reached is never called a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }

    /// The worst of several: a fail beats an unknown, which beats a pass.
    pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        outcomes.into_iter().fold(Outcome::Pass, |worst, o| match (worst, o) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Outcome::Fail,
            (Outcome::Unknown, _) | (_, Outcome::Unknown) => Outcome::Unknown,
            _ => Outcome::Pass,
        })
    }
}

/// One check of one hostname (or of the environment, for `assigned` and `announced`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `assigned`, `announced`, `tls` or `http`.
    pub check: String,
    /// The hostname checked; none for the environment-wide checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub outcome: Outcome,
    /// What was seen, one fact a line.
    pub evidence: Vec<String>,
    /// Why it did not pass: the likely cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The checklist rule or caveat behind the failure (`GH-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// One verification run, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub id: i64,
    pub application: String,
    pub environment: String,
    /// `portal` (the portal's own probe) or `client` (`gatehouse verify --report`).
    pub source: String,
    /// For a client report: `<host> (<address>)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    pub requested_by: String,
    pub outcome: Outcome,
    pub checks: Vec<CheckResult>,
    /// RFC 3339.
    pub created_at: String,
}

/// `GET …/verifications`: the latest of each source and the history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifications {
    pub latest: Option<Verification>,
    pub latest_from_client: Option<Verification>,
    pub history: Vec<Verification>,
}

/// What a client needs to run the TLS and HTTP checks (`GET …/verifications/plan`): public
/// facts only (the certificate chain, never a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbePlan {
    pub application: String,
    pub environment: String,
    /// The Gateway's VIP as assigned now, when known (else the planned fixed VIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<String>,
    pub port: u16,
    pub hostnames: Vec<String>,
    /// The request paths the HTTP check asks for, one per HTTPRoute path prefix.
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PlannedCertificate>,
}

/// The certificate the plan says the Gateway serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCertificate {
    pub name: String,
    pub fingerprint_sha256: String,
    /// The uploaded chain (PEM), the leaf first.
    pub chain_pem: String,
    /// Unix seconds.
    pub not_after: i64,
    /// Other certificates of the plan by fingerprint (`<environment>/<name>`), so a wrong one
    /// served can be named.
    #[serde(default)]
    pub others: Vec<(String, String)>,
}

/// `POST …/verifications` with a client's results (`gatehouse verify --report`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientReport {
    /// `<host> (<address>)` of the machine that ran the checks.
    pub reporter: String,
    pub checks: Vec<CheckResult>,
}
