//! `gatehouse lint`: Gatehouse's checklist over Kubernetes and Cilium objects that Gatehouse
//! did not write — manifests in files, Helm or kustomize output, `kubectl get -o yaml` Lists,
//! or a live cluster's objects — with text, JSON and SARIF 2.1.0 reports.
//!
//! Plain Rust with no web, database or cluster types: the binary reads the inputs (files, or
//! a cluster through its kubeconfig, or a plan from a portal) and hands them here.
//!
//! 1. [`load`] reads the inputs into objects, each with the line and column it starts at
//!    ([`yaml`] keeps a position for every node and key).
//! 2. [`facts`] reconstructs what the checklist needs: environments (from the
//!    `--environment-label` label, the Namespace's label, the namespace, or the pools' and
//!    policies' selectors), pools, announcement policies, BGP resources, Gateways,
//!    HTTPRoutes, Services, Deployments, ConfigMaps and TLS Secrets.
//! 3. [`check`] rebuilds a [`domain::Plan`] from the facts and runs Gatehouse's own
//!    checklist over it, keeping the rules the objects can decide, then the rules only
//!    manifests can break, and — against a plan — the drift from it.
//! 4. [`report`] writes the findings as text, JSON or SARIF.

pub mod catalogue;
pub mod check;
pub mod facts;
pub mod load;
pub mod report;
pub mod yaml;

pub use catalogue::{Level, Rule, catalogue};
pub use check::Located;
pub use load::{InputError, SourceFile, read_paths};
pub use report::Format;

/// The label that names an object's environment, unless `--environment-label` says otherwise:
/// the one Gatehouse puts on everything it generates.
pub const DEFAULT_ENVIRONMENT_LABEL: &str = "gatehouse.io/environment";

pub struct Options<'a> {
    pub environment_label: String,
    /// Unix seconds, for certificate validity.
    pub now_unix: i64,
    /// The inputs are a whole cluster, so a Secret missing from them does not exist.
    pub complete: bool,
    /// Lint against this plan: its environments' facts, and drift from it.
    pub plan: Option<&'a domain::Plan>,
}

/// The result of a run: the inputs' names (findings refer to them by index) and the findings.
#[derive(Debug)]
pub struct Outcome {
    pub files: Vec<String>,
    pub objects: usize,
    pub findings: Vec<Located>,
}

impl Outcome {
    /// Whether any finding reaches `threshold` (exit code 1).
    pub fn fails_at(&self, threshold: Level) -> bool {
        self.findings.iter().any(|f| f.rule.level.reaches(threshold))
    }
}

pub fn lint(files: &[SourceFile], options: &Options<'_>) -> Result<Outcome, InputError> {
    let mut objects = load::objects(files)?;
    let count = objects.len();
    // The same object in two inputs (a base and a rendered copy, a plan bundle and an
    // application's bundle) is one object: its first definition counts.
    let mut seen = std::collections::HashSet::new();
    objects.retain(|o| o.name.is_empty() || seen.insert((o.kind.clone(), o.namespace.clone(), o.name.clone())));
    let facts = facts::gather(files, &objects, &options.environment_label)?;
    let settings = check::Settings { now_unix: options.now_unix, complete: options.complete, plan: options.plan };
    let findings = check::run(&facts, &settings);
    Ok(Outcome { files: files.iter().map(|f| f.path.clone()).collect(), objects: count, findings })
}
