//! What a change to the plan would add to the checklist: the same answer in the browser (as
//! a form is filled) and on the server (where the change is refused if it adds errors).
use super::{Finding, Plan, Severity, check_plan};

/// Findings of `after` that `before` does not have. A plan's existing problems are not
/// held against a change that does not cause them.
pub fn new_findings(before: &Plan, after: &Plan, now_unix: i64) -> Vec<Finding> {
    let existing = check_plan(before, now_unix).findings;
    check_plan(after, now_unix)
        .findings
        .into_iter()
        .filter(|finding| {
            !existing
                .iter()
                .any(|old| old.rule == finding.rule && old.objects == finding.objects)
        })
        .collect()
}

/// The error-level findings a change would add; a change with any is refused.
pub fn new_errors(before: &Plan, after: &Plan, now_unix: i64) -> Vec<Finding> {
    new_findings(before, after, now_unix)
        .into_iter()
        .filter(|finding| finding.severity == Severity::Error)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::seed_plan;

    #[test]
    fn an_unchanged_plan_adds_nothing() {
        let plan = seed_plan();
        assert!(new_findings(&plan, &plan, 0).is_empty());
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
