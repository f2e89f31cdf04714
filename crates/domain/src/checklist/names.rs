//! Object names and findings: how a finding names what it is about.
use super::*;

// =============================================================================================
// Object names and findings

pub(super) fn env_obj(name: &EnvironmentName) -> String {
    format!("environment/{name}")
}

pub(super) fn pool_obj(pool: &VipPool) -> String {
    format!("pool/{}", pool.name)
}

pub(super) fn app_obj(name: &K8sName) -> String {
    format!("application/{name}")
}

pub(super) fn cert_obj(env: &EnvironmentName, name: &K8sSubdomain) -> String {
    format!("certificate/{env}/{name}")
}

pub(super) fn vip_obj(address: IpAddr) -> String {
    format!("vip/{address}")
}

pub(super) fn finding(rule: &RuleInfo, message: String, hint: String, objects: Vec<String>) -> Finding {
    let mut unique = Vec::with_capacity(objects.len());
    for o in objects {
        if !unique.contains(&o) {
            unique.push(o);
        }
    }
    Finding {
        rule: Cow::Borrowed(rule.id),
        severity: rule.severity,
        message,
        hint,
        objects: unique,
        diagram: Cow::Borrowed(rule.diagram),
        field: None,
    }
}

pub(super) fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}
