//! The rules `gatehouse lint` reports: every rule of Gatehouse's checklist
//! (`domain::checklist`), then the rules only manifests and a cluster can break.

use domain::checklist::{self, RuleInfo};

/// How bad a finding is. `Info` findings never fail a run unless `--severity info` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }

    /// SARIF's word for it.
    pub fn sarif(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "note",
        }
    }

    /// Parses `error`, `warning` or `info`.
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "error" => Some(Level::Error),
            "warning" => Some(Level::Warning),
            "info" => Some(Level::Info),
            _ => None,
        }
    }

    /// Whether a finding of this level counts at `threshold` (`error` counts at `warning`).
    pub fn reaches(self, threshold: Level) -> bool {
        self <= threshold
    }
}

impl From<checklist::Severity> for Level {
    fn from(severity: checklist::Severity) -> Self {
        match severity {
            checklist::Severity::Error => Level::Error,
            checklist::Severity::Warning => Level::Warning,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    pub training: &'static str,
}

impl From<&RuleInfo> for Rule {
    fn from(r: &RuleInfo) -> Self {
        Rule { id: r.id, level: r.severity.into(), title: r.title, training: r.training }
    }
}

macro_rules! lint_rule {
    ($name:ident, $id:literal, $level:ident, $title:literal, $training:literal) => {
        pub const $name: Rule = Rule { id: $id, level: Level::$level, title: $title, training: $training };
    };
}

lint_rule!(
    SERVICE_NO_POOL,
    "GH-SERVICE-NO-POOL",
    Error,
    "Every LoadBalancer Service is selected by a pool",
    "LB-IPAM gives a LoadBalancer Service (a Gateway's generated cilium-gateway-* Service too) a VIP only from a CiliumLoadBalancerIPPool whose serviceSelector matches its labels. A Service no pool selects stays pending with no external IP."
);
lint_rule!(
    SERVICE_POOLS,
    "GH-SERVICE-POOLS",
    Warning,
    "Every LoadBalancer Service is selected by one pool",
    "When two pools select one Service, the pool its VIP comes from depends on the order LB-IPAM meets them and changes when one fills up, so the VIP can land in another environment's range. Give each pool a selector of its own."
);
lint_rule!(
    POOL_UNUSED,
    "GH-POOL-UNUSED",
    Warning,
    "Every pool selects a Service",
    "A CiliumLoadBalancerIPPool whose serviceSelector matches no LoadBalancer Service or Gateway hands out nothing. Usually its label differs from the one the Services carry: a typo, or an environment's advertisement label that changed."
);
lint_rule!(
    BGP_PEERING_POLICY,
    "GH-BGP-PEERING-POLICY",
    Warning,
    "No deprecated CiliumBGPPeeringPolicy",
    "CiliumBGPPeeringPolicy is Cilium's BGP control plane v1, deprecated since Cilium 1.16 and removed after it. Describe the same peers and announcements with CiliumBGPClusterConfig, CiliumBGPPeerConfig and CiliumBGPAdvertisement."
);
lint_rule!(
    TLS_KEY,
    "GH-TLS-KEY",
    Error,
    "A TLS Secret holds a readable certificate and its own key",
    "A Gateway terminates TLS with the kubernetes.io/tls Secret its listener names. When tls.crt cannot be read, or tls.key is not the certificate's private key, every handshake on that listener fails."
);
lint_rule!(
    PLAN_VIP,
    "GH-PLAN-VIP",
    Error,
    "VIPs lie in the plan's pools",
    "With --plan, each VIP a Gateway or LoadBalancer Service asks for must lie in a pool the Gatehouse plan gives its environment. An address outside is drift: the plan no longer describes what the cluster announces."
);
lint_rule!(
    PLAN_HOSTNAME,
    "GH-PLAN-HOSTNAME",
    Error,
    "Hostnames are routed where the plan puts them",
    "With --plan, each hostname an HTTPRoute serves must be one the Gatehouse plan gives an application in that environment. A hostname the plan does not know, or puts in another environment, is drift."
);
lint_rule!(
    PLAN_CERTIFICATE,
    "GH-PLAN-CERTIFICATE",
    Error,
    "Gateways terminate with the plan's certificates",
    "With --plan, each Gateway listener must terminate TLS with the certificate the Gatehouse plan names for its application and environment. Another Secret is drift, and the plan's renewals and checks miss it."
);
lint_rule!(
    FACTS_UNKNOWN,
    "GH-FACTS-UNKNOWN",
    Info,
    "Rules the objects could not decide",
    "Some checklist rules need facts Kubernetes objects do not carry, such as an environment's node subnets. Give them as annotations (gatehouse.io/node-subnets, gatehouse.io/pod-cidrs, gatehouse.io/service-cidr) on the environment's Namespace or Cilium objects, or lint against the plan with --plan."
);

/// The rules only `gatehouse lint` has, after the checklist's.
pub const LINT_RULES: [Rule; 9] =
    [SERVICE_NO_POOL, SERVICE_POOLS, POOL_UNUSED, BGP_PEERING_POLICY, TLS_KEY, PLAN_VIP, PLAN_HOSTNAME, PLAN_CERTIFICATE, FACTS_UNKNOWN];

/// Every rule `gatehouse lint` reports, in the order the README lists them.
pub fn catalogue() -> Vec<Rule> {
    checklist::rules().iter().map(Rule::from).chain(LINT_RULES).collect()
}

pub fn rule(id: &str) -> Option<Rule> {
    catalogue().into_iter().find(|r| r.id == id)
}

/// The README's rule table, generated so it cannot drift from the catalogue.
pub fn markdown_table() -> String {
    let mut out = String::from("| rule | severity | what it checks |\n| --- | --- | --- |\n");
    for r in catalogue() {
        out.push_str(&format!("| `{}` | {} | {} |\n", r.id, r.level.as_str(), r.title));
    }
    out
}
