//! What a change to the plan would add to the checklist: the same answer in the browser (as
//! a form is filled) and on the server (where the change is refused if it adds errors).
use std::collections::HashSet;

use super::{Finding, Plan, Report, Severity, check_plan};

/// Findings of `after` that `before` does not have. A plan's existing problems are not
/// held against a change that does not cause them.
pub fn new_findings(before: &Plan, after: &Plan, now_unix: i64) -> Vec<Finding> {
    new_findings_since(&check_plan(before, now_unix), after, now_unix)
}

/// [`new_findings`], from the report of the plan before the change.
pub fn new_findings_since(before: &Report, after: &Plan, now_unix: i64) -> Vec<Finding> {
    let existing: HashSet<(&str, &[String])> =
        before.findings.iter().map(|old| (old.rule.as_ref(), old.objects.as_slice())).collect();
    check_plan(after, now_unix)
        .findings
        .into_iter()
        .filter(|finding| !existing.contains(&(finding.rule.as_ref(), finding.objects.as_slice())))
        .collect()
}

/// The error-level findings a change would add; a change with any is refused. Certificate
/// readiness (missing, not covering a hostname, not valid now) blocks a submission, not a
/// save: see [`super::checklist::blocks_saving`].
pub fn new_errors(before: &Plan, after: &Plan, now_unix: i64) -> Vec<Finding> {
    new_errors_since(&check_plan(before, now_unix), after, now_unix)
}

/// [`new_errors`], from the report of the plan before the change.
pub fn new_errors_since(before: &Report, after: &Plan, now_unix: i64) -> Vec<Finding> {
    new_findings_since(before, after, now_unix)
        .into_iter()
        .filter(|finding| finding.severity == Severity::Error && super::checklist::blocks_saving(&finding.rule))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CertificateInfo, EnvironmentName, K8sSubdomain, seed_plan};

    #[test]
    fn an_unchanged_plan_adds_nothing() {
        let plan = seed_plan();
        assert!(new_findings(&plan, &plan, 0).is_empty());
    }

    #[test]
    fn certificate_readiness_does_not_block_saving_but_a_shared_key_does() {
        let cert = |environment: &str, sans: &str, fingerprint: &str, not_after: i64| CertificateInfo {
            environment: EnvironmentName::parse(environment).expect("valid"),
            name: K8sSubdomain::parse("api-tls").expect("valid"),
            sans: vec![sans.to_owned()],
            not_before: 0,
            not_after,
            fingerprint_sha256: fingerprint.to_owned(),
            public_key_fingerprint: format!("key-{fingerprint}"),
            secret_ref: None,
            owners: Default::default(),
        };
        let before = Plan { certificates: Some(Vec::new()), ..seed_plan() };
        // Both applications' certificates missing, then a dev one for the wrong name that has
        // expired: errors the checklist reports, none that refuse the save.
        let mut after = before.clone();
        after.certificates = Some(vec![cert("dev", "www.mdhlabs.com", "a", 10)]);
        assert!(!new_findings(&before, &after, 100).is_empty());
        assert!(new_errors(&before, &after, 100).is_empty());
        // The same certificate in prod: refused.
        let mut shared = after.clone();
        shared.certificates = Some(vec![cert("dev", "api-dev.mdhlabs.com", "a", 1000), cert("prod", "api.mdhlabs.com", "a", 1000)]);
        let errors = new_errors(&after, &shared, 100);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].rule, "GH-TLS-DISTINCT");
    }

    #[test]
    fn a_pod_range_copied_from_prod_is_a_new_error() {
        let before = seed_plan();
        let mut after = before.clone();
        let prod_pods = after.environments[1].pod_cidrs.clone();
        after.environments[0].pod_cidrs = prod_pods;
        let errors = new_errors(&before, &after, 0);
        assert!(!errors.is_empty());
        assert!(errors.iter().any(|f| f.objects.iter().any(|o| o == "environment/dev")), "{errors:?}");
    }
}
