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

// =============================================================================================
// The rules

macro_rules! rule {
    ($name:ident, $id:literal, $severity:ident, $diagram:literal, $title:literal, $training:literal) => {
        pub const $name: RuleInfo =
            RuleInfo { id: $id, severity: Severity::$severity, title: $title, training: $training, diagram: $diagram };
    };
}

/// The rules as constants, for code that wants to name one (`rule::VIP_DUPLICATE.id`).
pub mod rule {
    use super::{RuleInfo, Severity};

    rule!(
        POD_CIDR_DISTINCT,
        "GH-POD-CIDR-DISTINCT",
        Error,
        "cilium/pods",
        "Each environment has its own pod IP range",
        "Cilium's IPAM gives pods addresses from the pod CIDRs. If two environments share a range, the same pod address can exist in both and routers, firewalls and logs can no longer tell dev from prod."
    );
    rule!(
        VIP_DISTINCT,
        "GH-VIP-DISTINCT",
        Error,
        "cilium/vip-pool",
        "Each environment has its own VIP range",
        "LB-IPAM hands out Service VIPs from the environment's CiliumLoadBalancerIPPool. If two environments' pools overlap, both can hand out the same VIP and both answer for it, so clients reach either one."
    );
    rule!(
        CONFIGMAP_DISTINCT,
        "GH-CONFIGMAP-DISTINCT",
        Error,
        "cilium/configmap",
        "Each environment has its own ConfigMap data",
        "Every environment of an application gets its own ConfigMap. The same data in two environments, or data in one and none in another, is usually a copied setting: production reading dev's settings is the classic incident."
    );
    rule!(
        ENV_NAMESPACE,
        "GH-ENV-NAMESPACE",
        Error,
        "cilium/pods",
        "Each environment has the application's workload to itself",
        "Gatehouse names an application's Deployment, Service and ConfigMap after the application. Two environments that put it in the same cluster and the same namespace would share them: whichever is submitted last replaces the other's image, replicas and settings. Map the environments to separate clusters, or give one a namespace template such as {namespace}-dev."
    );
    rule!(
        TLS_DISTINCT,
        "GH-TLS-DISTINCT",
        Error,
        "cilium/certificate",
        "Each environment has its own TLS certificate and key",
        "A certificate or private key shared between environments means that a leak from the least protected environment also exposes production. Each environment's Gateway terminates TLS with its own key pair."
    );
    rule!(
        HOSTNAME_DISTINCT,
        "GH-HOSTNAME-DISTINCT",
        Error,
        "cilium/httproute",
        "Each environment has its own hostnames",
        "A hostname resolves to one VIP. If two environments route the same hostname, or a wildcard in one covers a name of another, DNS decides which environment users reach."
    );
    rule!(
        GATEWAY_TLS,
        "GH-GATEWAY-TLS",
        Error,
        "cilium/gateway",
        "Each environment has its own TLS Gateway",
        "Gatehouse gives each environment of an application its own Gateway with an HTTPS listener. The listener needs the hostnames it answers for and a certificate to terminate TLS with."
    );
    rule!(
        RANGE_OVERLAP,
        "GH-RANGE-OVERLAP",
        Error,
        "cilium/vip-pool",
        "No two address ranges overlap",
        "Pod CIDRs, service CIDRs, VIP pools and node subnets are separate routing domains: where two overlap, packets meant for one are delivered to the other. Node subnets may be shared between environments, and VIP pools are judged against node subnets by the ARP and BGP rules."
    );
    rule!(
        VIP_DUPLICATE,
        "GH-VIP-DUPLICATE",
        Error,
        "cilium/vip-pool",
        "Each VIP has one owner",
        "A VIP is a Service's public address. Two owners of one address means two Services answer for it, and each gets part of the other's traffic."
    );
    rule!(
        VIP_OUTSIDE_POOL,
        "GH-VIP-OUTSIDE-POOL",
        Error,
        "cilium/vip-pool",
        "VIPs come from their environment's pools",
        "Cilium LB-IPAM only assigns a requested address that lies in one of the cluster's pools; any other request leaves the Service pending with no external IP."
    );
    rule!(
        ARP_VIP_IN_SUBNET,
        "GH-ARP-VIP-IN-SUBNET",
        Error,
        "cilium/l2-segment",
        "ARP VIPs lie inside a node subnet",
        "With L2 announcements one node answers ARP for the VIP on its own network segment. Clients and the router only ask ARP for addresses of that subnet, so a VIP outside it is never reached."
    );
    rule!(
        ARP_VIP_NODE_CLASH,
        "GH-ARP-VIP-NODE-CLASH",
        Error,
        "cilium/l2-segment",
        "ARP VIPs avoid node, router, network and broadcast addresses",
        "A VIP that is also a node's or the router's address gets two answers to every ARP request, and the subnet's network and broadcast addresses are not usable host addresses."
    );
    rule!(
        ARP_IPV6,
        "GH-ARP-IPV6",
        Error,
        "cilium/l2-segment",
        "L2 announcements are IPv4 only",
        "Cilium's L2 announcements answer ARP, which exists only for IPv4; IPv6 uses neighbour discovery, which they do not answer. IPv6 VIPs need BGP."
    );
    rule!(
        BGP_PEER,
        "GH-BGP-PEER",
        Error,
        "cilium/bgp-router",
        "BGP has at least one peer",
        "With BGP the nodes advertise a route for each VIP to their peers. Without a peer nobody learns the routes and the VIPs are unreachable."
    );
    rule!(
        BGP_VIP_OUTSIDE_SUBNET,
        "GH-BGP-VIP-OUTSIDE-SUBNET",
        Warning,
        "cilium/bgp-router",
        "BGP VIPs lie outside the node subnets",
        "The router reaches the node subnet directly, so for a VIP inside it the router asks ARP instead of using the BGP route, and nobody answers. Give BGP VIPs a range of their own."
    );
    rule!(
        BGP_PEER_VM,
        "GH-BGP-PEER-VM",
        Warning,
        "cilium/bgp-router",
        "The BGP router forwards into the cluster",
        "FRR on a virtual machine learns the VIP routes and reaches the VIPs from the VM itself, yet may not forward clients' traffic into the cluster — commonly the hypervisor's anti-spoofing filter drops packets whose source is not the VM's own address, or forwarding is off in the VM. FRR on hardware forwards. Test from a client network before relying on a router VM."
    );
    rule!(
        BGP_ROUTER_ID,
        "GH-BGP-ROUTER-ID",
        Error,
        "cilium/bgp-router",
        "Every BGP router has a router id",
        "A BGP speaker identifies itself with a 32-bit router id, written as an IPv4 address. FRR takes it from an IPv4 address of the router; a router reached only over IPv6 may have none, and FRR then uses 0.0.0.0, which Cilium on the nodes refuses (\"Bad BGP Identifier\"), so no session and no VIP route. Gatehouse writes `bgp router-id` into the router's FRR configuration: from the router's IPv4 address, or the router id you give."
    );
    rule!(
        ADVERT_LABEL,
        "GH-ADVERT-LABEL",
        Error,
        "cilium/bgp-router",
        "The advertisement label selects the Services",
        "The L2 announcement policy and the BGP advertisement pick the Services to announce by the environment's advertisement label. Gatehouse puts the label on every Service, so it needs a value to match on."
    );
    rule!(
        GATEWAY_LABEL,
        "GH-GATEWAY-LABEL",
        Warning,
        "cilium/gateway",
        "The Gateway's generated Service carries the advertisement label",
        "Cilium creates a Service cilium-gateway-<name> for each Gateway, and it does not copy the Gateway's metadata.labels. Gatehouse puts the advertisement label in the Gateway's spec.infrastructure.labels and on the generated Service, which needs a usable label."
    );
    rule!(
        L2_ETP_LOCAL,
        "GH-L2-ETP-LOCAL",
        Error,
        "cilium/l2-segment",
        "No externalTrafficPolicy: Local with L2 announcements",
        "L2 announcements elect one node per VIP, wherever the pods run. With externalTrafficPolicy: Local that node drops the traffic when it has no local endpoint."
    );
    rule!(
        CERT_SAN,
        "GH-CERT-SAN",
        Error,
        "cilium/certificate",
        "The certificate covers every hostname",
        "Browsers check that the certificate names the hostname they asked for (a wildcard covers one label). A hostname missing from the certificate's SANs gets a certificate warning."
    );
    rule!(
        CERT_EXPIRED,
        "GH-CERT-EXPIRED",
        Error,
        "cilium/certificate",
        "The certificate is valid now",
        "An expired certificate, or one not valid yet, is refused by every client."
    );
    rule!(
        CERT_EXPIRING,
        "GH-CERT-EXPIRING",
        Warning,
        "cilium/certificate",
        "The certificate does not expire within 30 days",
        "Renewing takes time (issuing, approval, upload); starting 30 days ahead leaves room to do it without an outage."
    );
    rule!(
        CERT_MISSING,
        "GH-CERT-MISSING",
        Error,
        "cilium/certificate",
        "Referenced certificates exist",
        "The Gateway's listener refers to the TLS Secret by name. If the certificate was never uploaded to that environment, the listener has nothing to terminate TLS with."
    );
    rule!(
        CERT_UNVERIFIED,
        "GH-CERT-UNVERIFIED",
        Warning,
        "cilium/certificate",
        "Referenced Secrets are verified",
        "A certificate given as a reference to a kubernetes.io/tls Secret in the cluster is only a name until Gatehouse reads it: its hostnames, validity and key are checked once a cluster is connected."
    );
    rule!(
        PROD_REPLICAS,
        "GH-PROD-REPLICAS",
        Warning,
        "cilium/pods",
        "Production runs at least two replicas",
        "With one replica every rollout, node drain or crash is an outage. Two or more keep the Service's endpoints up while one is replaced."
    );
    rule!(
        PROD_PROBES,
        "GH-PROD-PROBES",
        Warning,
        "cilium/pods",
        "Production has readiness and liveness probes",
        "Without a readiness probe traffic reaches pods that are still starting; without a liveness probe a hung pod is never restarted."
    );
    rule!(
        ENV_UNKNOWN,
        "GH-ENV-UNKNOWN",
        Error,
        "cilium/gateway",
        "Objects belong to a defined environment",
        "Pools, allocations and application environments are generated into an environment's cluster; one that names an undefined environment has nowhere to go."
    );
}

static RULES: [RuleInfo; 28] = [
    rule::POD_CIDR_DISTINCT,
    rule::VIP_DISTINCT,
    rule::CONFIGMAP_DISTINCT,
    rule::ENV_NAMESPACE,
    rule::TLS_DISTINCT,
    rule::HOSTNAME_DISTINCT,
    rule::GATEWAY_TLS,
    rule::RANGE_OVERLAP,
    rule::VIP_DUPLICATE,
    rule::VIP_OUTSIDE_POOL,
    rule::ARP_VIP_IN_SUBNET,
    rule::ARP_VIP_NODE_CLASH,
    rule::ARP_IPV6,
    rule::BGP_PEER,
    rule::BGP_VIP_OUTSIDE_SUBNET,
    rule::BGP_PEER_VM,
    rule::BGP_ROUTER_ID,
    rule::ADVERT_LABEL,
    rule::GATEWAY_LABEL,
    rule::L2_ETP_LOCAL,
    rule::CERT_SAN,
    rule::CERT_EXPIRED,
    rule::CERT_EXPIRING,
    rule::CERT_MISSING,
    rule::CERT_UNVERIFIED,
    rule::PROD_REPLICAS,
    rule::PROD_PROBES,
    rule::ENV_UNKNOWN,
];

/// Rules that need the plan's certificate list to be authoritative (`Plan::certificates`
/// is `Some`); skipped otherwise.
const CERTIFICATE_RULES: [&str; 6] = [
    rule::TLS_DISTINCT.id,
    rule::CERT_SAN.id,
    rule::CERT_EXPIRED.id,
    rule::CERT_EXPIRING.id,
    rule::CERT_MISSING.id,
    rule::CERT_UNVERIFIED.id,
];

/// Error-level rules about a certificate's readiness — not uploaded yet, not covering a
/// hostname, not valid now. They block a submission to the cluster, not saving the plan:
/// the certificate can be uploaded or renewed after the application is written down, and
/// the inventory shows it as mismatched or expired meanwhile. A shared certificate or key
/// (GH-TLS-DISTINCT) is never stored at all.
const READINESS_RULES: [&str; 3] = [rule::CERT_MISSING.id, rule::CERT_SAN.id, rule::CERT_EXPIRED.id];

/// Whether a new finding of this rule makes the server refuse to save a change.
pub fn blocks_saving(rule_id: &str) -> bool {
    !READINESS_RULES.contains(&rule_id)
}

/// Every rule, in checklist order.
pub fn rules() -> &'static [RuleInfo] {
    &RULES
}

pub fn rule_info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// A certificate expiring within this many seconds gets GH-CERT-EXPIRING.
pub const EXPIRY_WARNING_SECONDS: i64 = 30 * 24 * 60 * 60;

// =============================================================================================
// Object names and findings

fn env_obj(name: &EnvironmentName) -> String {
    format!("environment/{name}")
}

fn pool_obj(pool: &VipPool) -> String {
    format!("pool/{}", pool.name)
}

fn app_obj(name: &K8sName) -> String {
    format!("application/{name}")
}

fn cert_obj(env: &EnvironmentName, name: &K8sSubdomain) -> String {
    format!("certificate/{env}/{name}")
}

fn vip_obj(address: IpAddr) -> String {
    format!("vip/{address}")
}

fn finding(rule: &RuleInfo, message: String, hint: String, objects: Vec<String>) -> Finding {
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

fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

// =============================================================================================
// The engine

/// What the rules need to know about one environment name, found with one lookup.
struct EnvInfo<'a> {
    /// `None` for a name that pools refer to but the plan does not define.
    env: Option<&'a Environment>,
    pools: Vec<&'a VipPool>,
    /// The pools' blocks, for "is this address in a pool" in O(log n).
    index: AddressIndex,
}

/// Lookups shared by the rules, built once per run.
struct Ctx<'a> {
    plan: &'a Plan,
    now: i64,
    envs: HashMap<&'a str, EnvInfo<'a>>,
    pools_by_id: HashMap<i64, &'a VipPool>,
}

impl<'a> Ctx<'a> {
    fn new(plan: &'a Plan, now: i64) -> Self {
        let mut envs: HashMap<&str, EnvInfo<'_>> = HashMap::with_capacity(plan.environments.len());
        let empty = || EnvInfo { env: None, pools: Vec::new(), index: AddressIndex::default() };
        for e in &plan.environments {
            envs.entry(e.name.as_str()).or_insert_with(empty).env = Some(e);
        }
        let mut pools_by_id = HashMap::with_capacity(plan.pools.len());
        for p in &plan.pools {
            envs.entry(p.environment.as_str()).or_insert_with(empty).pools.push(p);
            if let Some(id) = p.id {
                pools_by_id.insert(id, p);
            }
        }
        for info in envs.values_mut() {
            info.index = AddressIndex::new(info.pools.iter().flat_map(|p| p.blocks.iter()));
        }
        Self { plan, now, envs, pools_by_id }
    }

    fn info(&self, name: &EnvironmentName) -> Option<&EnvInfo<'a>> {
        self.envs.get(name.as_str())
    }

    fn environment(&self, name: &EnvironmentName) -> Option<&'a Environment> {
        self.info(name).and_then(|i| i.env)
    }

    fn pools(&self, name: &EnvironmentName) -> &[&'a VipPool] {
        self.info(name).map_or(&[], |i| i.pools.as_slice())
    }
}

/// Sorted blocks with the running maximum of their ends (per family), so that containment
/// of an address is one binary search even when blocks overlap.
#[derive(Default)]
struct AddressIndex {
    spans: Vec<(IpFamily, u128, u128)>,
    max_end: Vec<u128>,
}

impl AddressIndex {
    fn new<'b>(blocks: impl Iterator<Item = &'b PoolBlock>) -> Self {
        let mut spans: Vec<_> = blocks.map(|b| (b.family(), b.first_u128(), b.last_u128())).collect();
        spans.sort_unstable();
        let mut max_end: Vec<u128> = Vec::with_capacity(spans.len());
        for (i, (family, _, end)) in spans.iter().enumerate() {
            let carried = match (i, max_end.last()) {
                (0, _) | (_, None) => *end,
                (_, Some(&m)) if spans[i - 1].0 == *family => m.max(*end),
                _ => *end,
            };
            max_end.push(carried);
        }
        Self { spans, max_end }
    }

    fn contains(&self, address: IpAddr) -> bool {
        let (family, a) = (address.family(), address.to_u128());
        let n = self.spans.partition_point(|&(f, start, _)| (f, start) <= (family, a));
        n > 0 && self.spans[n - 1].0 == family && self.max_end[n - 1] >= a
    }
}

/// Runs every rule over the plan. `now_unix` is the current time in Unix seconds (the
/// domain never reads the clock; it also runs in the browser).
///
/// Certificate rules (GH-TLS-DISTINCT, GH-CERT-*) run only when `plan.certificates` is
/// `Some`, i.e. the list is authoritative; otherwise they are reported as `skipped`.
pub fn check_plan(plan: &Plan, now_unix: i64) -> Report {
    let ctx = Ctx::new(plan, now_unix);
    let mut out = Vec::new();
    check_ranges(&ctx, &mut out);
    for env in &plan.environments {
        check_environment(&ctx, env, &mut out);
    }
    for pool in &plan.pools {
        if ctx.environment(&pool.environment).is_none() {
            out.push(finding(
                &rule::ENV_UNKNOWN,
                format!("pool {} belongs to environment {}, which is not defined", pool.name, pool.environment),
                format!(
                    "create environment {} or move the pool's blocks to a pool of an existing environment",
                    pool.environment
                ),
                vec![pool_obj(pool), env_obj(&pool.environment)],
            ));
        }
    }
    for app in &plan.applications {
        check_application_rules(&ctx, app, &mut out);
    }
    check_hostnames(&ctx, &mut out);
    check_vips(&ctx, &mut out);
    if let Some(certificates) = &plan.certificates {
        check_certificates(&ctx, certificates, &mut out);
    }
    let skipped: &[&str] = if plan.certificates.is_some() { &[] } else { &CERTIFICATE_RULES };
    report(out, skipped)
}

/// The findings of [`check_plan`] that concern application `app_name`: those that name the
/// application, and those that name no application but one of its environments, their
/// pools or certificates (an overlap of the environment's pod CIDR concerns every
/// application in it). An unknown application gets an empty report.
pub fn check_application(plan: &Plan, app_name: &str, now_unix: i64) -> Report {
    if plan.application(app_name).is_none() {
        return Report::default();
    }
    application_report(plan, &check_plan(plan, now_unix), app_name)
}

/// One application's part of a whole-plan report: what [`check_application`] answers, from
/// a report already made. Pages that show every application check the plan once and take
/// each application's part, rather than checking the whole plan once per application.
pub fn application_report(plan: &Plan, full: &Report, app_name: &str) -> Report {
    let Some(app) = plan.application(app_name) else {
        return Report::default();
    };
    let app_object = app_obj(&app.name);
    let mut related: BTreeSet<String> = BTreeSet::new();
    for env in app.environments.keys() {
        related.insert(env_obj(env));
        for pool in plan.pools_of(env) {
            related.insert(pool_obj(pool));
        }
    }
    let cert_prefixes: Vec<String> = app.environments.keys().map(|e| format!("certificate/{e}/")).collect();
    let concerns = |f: &Finding| {
        if f.objects.contains(&app_object) {
            return true;
        }
        let names_application = f.objects.iter().any(|o| o.starts_with("application/"));
        !names_application
            && f.objects.iter().any(|o| related.contains(o) || cert_prefixes.iter().any(|p| o.starts_with(p.as_str())))
    };
    let findings = full.findings.iter().filter(|f| concerns(f)).cloned().collect();
    let skipped: Vec<&str> = full.skipped.iter().filter_map(|s| rule_info(s).map(|r| r.id)).collect();
    report(findings, &skipped)
}

fn report(mut findings: Vec<Finding>, skipped: &[&str]) -> Report {
    let order = |id: &str| RULES.iter().position(|r| r.id == id).unwrap_or(RULES.len());
    findings.sort_by(|a, b| {
        (a.severity, order(&a.rule), &a.objects, &a.message).cmp(&(b.severity, order(&b.rule), &b.objects, &b.message))
    });
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.len() - errors;
    let fired: BTreeSet<&str> = findings.iter().map(|f| f.rule.as_ref()).collect();
    let passed = RULES
        .iter()
        .filter(|r| !fired.contains(r.id) && !skipped.contains(&r.id))
        .map(|r| Cow::Borrowed(r.id))
        .collect();
    let skipped = RULES.iter().filter(|r| skipped.contains(&r.id)).map(|r| Cow::Borrowed(r.id)).collect();
    Report { errors, warnings, findings, passed, skipped }
}

// =============================================================================================
// Ranges: one sweep over every range of the plan

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    NodeSubnet,
    PodCidr,
    ServiceCidr,
    PoolBlock,
}

#[derive(Clone, Copy)]
struct RangeOwner<'a> {
    kind: RangeKind,
    env: &'a EnvironmentName,
    pool: Option<&'a VipPool>,
    cidr: Option<&'a Cidr>,
    block: Option<&'a PoolBlock>,
}

impl RangeOwner<'_> {
    fn describe(&self) -> String {
        match (self.kind, self.pool, self.block, self.cidr) {
            (RangeKind::PoolBlock, Some(pool), Some(block), _) => {
                format!("block {block} of pool {} ({})", pool.name, pool.environment)
            }
            (RangeKind::NodeSubnet, _, _, Some(c)) => format!("node subnet {c} of {}", self.env),
            (RangeKind::PodCidr, _, _, Some(c)) => format!("pod CIDR {c} of {}", self.env),
            (RangeKind::ServiceCidr, _, _, Some(c)) => format!("service CIDR {c} of {}", self.env),
            _ => format!("a range of {}", self.env),
        }
    }

    fn object(&self) -> String {
        match self.pool {
            Some(pool) => pool_obj(pool),
            None => env_obj(self.env),
        }
    }
}

/// Every range of the plan as a sweep span: node subnets, pod and service CIDRs, pool blocks.
fn plan_spans(plan: &Plan) -> Vec<Span<RangeOwner<'_>>> {
    let blocks: usize = plan.pools.iter().map(|p| p.blocks.len()).sum();
    let mut spans: Vec<Span<RangeOwner<'_>>> = Vec::with_capacity(blocks + plan.environments.len() * 4);
    for env in &plan.environments {
        let owner = |kind, cidr| RangeOwner { kind, env: &env.name, pool: None, cidr: Some(cidr), block: None };
        spans.extend(env.node_subnets.iter().map(|c| c.span(owner(RangeKind::NodeSubnet, c))));
        spans.extend(env.pod_cidrs.iter().map(|c| c.span(owner(RangeKind::PodCidr, c))));
        spans.push(env.service_cidr.span(owner(RangeKind::ServiceCidr, &env.service_cidr)));
    }
    for pool in &plan.pools {
        for block in &pool.blocks {
            let owner = RangeOwner {
                kind: RangeKind::PoolBlock,
                env: &pool.environment,
                pool: Some(pool),
                cidr: None,
                block: Some(block),
            };
            spans.push(block.span(owner));
        }
    }
    spans
}

fn check_ranges(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let spans = plan_spans(ctx.plan);
    for (i, j) in overlapping_pairs(&spans) {
        let (a, b) = (&spans[i].owner, &spans[j].owner);
        let same_env = a.env == b.env;
        let rule = match (a.kind, b.kind) {
            // Environments may share the node network.
            (RangeKind::NodeSubnet, RangeKind::NodeSubnet) if !same_env => continue,
            // A pool on its own environment's node network: the ARP and BGP rules judge it.
            (RangeKind::NodeSubnet, RangeKind::PoolBlock) if pool_env_has_subnet(ctx, b, a) => continue,
            (RangeKind::PoolBlock, RangeKind::NodeSubnet) if pool_env_has_subnet(ctx, a, b) => continue,
            (RangeKind::PodCidr, RangeKind::PodCidr) if !same_env => &rule::POD_CIDR_DISTINCT,
            (RangeKind::PoolBlock, RangeKind::PoolBlock) if !same_env => &rule::VIP_DISTINCT,
            _ => &rule::RANGE_OVERLAP,
        };
        let (what_a, what_b) = (a.describe(), b.describe());
        let hint = match rule.id {
            "GH-POD-CIDR-DISTINCT" => format!(
                "give {} and {} pod CIDRs that do not overlap, e.g. 10.10.0.0/16 and 10.20.0.0/16",
                a.env, b.env
            ),
            "GH-VIP-DISTINCT" => {
                format!("give {} and {} VIP ranges of their own; shrink or move one of the pools", a.env, b.env)
            }
            _ => "move or shrink one of the two ranges so that no address is in both".to_owned(),
        };
        let mut f = finding(
            rule,
            format!("{what_a} overlaps {what_b}"),
            hint,
            vec![a.object(), b.object(), env_obj(a.env), env_obj(b.env)],
        );
        if rule.id == rule::RANGE_OVERLAP.id {
            let kinds = [a.kind, b.kind];
            f.diagram = Cow::Borrowed(if kinds.contains(&RangeKind::PoolBlock) {
                "cilium/vip-pool"
            } else if kinds.contains(&RangeKind::PodCidr) || kinds.contains(&RangeKind::ServiceCidr) {
                "cilium/pods"
            } else {
                "cilium/l2-segment"
            });
        }
        out.push(f);
    }
}

/// Whether the pool block's environment has `subnet` (a node subnet, possibly of another
/// environment) among its own node subnets.
fn pool_env_has_subnet(ctx: &Ctx<'_>, block: &RangeOwner<'_>, subnet: &RangeOwner<'_>) -> bool {
    block.env == subnet.env
        || match (ctx.environment(block.env), subnet.cidr) {
            (Some(env), Some(cidr)) => env.node_subnets.contains(cidr),
            _ => false,
        }
}

// =============================================================================================
// Environments: advertisement, ARP and BGP

fn check_environment(ctx: &Ctx<'_>, env: &Environment, out: &mut Vec<Finding>) {
    let adv = &env.advertisement;
    let mode = adv.mode;
    if adv.label.value.is_empty() {
        let mut f = finding(
            &rule::ADVERT_LABEL,
            format!(
                "the advertisement label {} of {} has an empty value, so it cannot tell the environment's Services apart",
                adv.label.key, env.name
            ),
            format!("set the label value, e.g. {}={}", adv.label.key, env.name),
            vec![env_obj(&env.name)],
        );
        if !mode.uses_bgp() {
            f.diagram = Cow::Borrowed("cilium/l2-segment");
        }
        out.push(f);
    }
    if mode.uses_bgp() && adv.bgp.as_ref().is_none_or(|b| b.peers.is_empty()) {
        out.push(finding(
            &rule::BGP_PEER,
            format!("{} advertises its VIPs by BGP but has no BGP peer", env.name),
            "add the router as a peer (name, AS number, address), e.g. frr, 65000, 192.168.101.1".to_owned(),
            vec![env_obj(&env.name)],
        ));
    }

    if mode.uses_bgp() {
        for peer in adv.bgp.iter().flat_map(|b| &b.peers).filter(|p| p.router_id().is_none()) {
            out.push(finding(
                &rule::BGP_ROUTER_ID,
                format!(
                    "BGP peer {} of {} is reached only over IPv6 ({}) and has no router id: FRR would identify it as 0.0.0.0 and the nodes refuse the session (\"Bad BGP Identifier\")",
                    peer.name, env.name, peer.address
                ),
                format!("give peer {} a router id, one of its IPv4 addresses or any address unique among the BGP speakers, e.g. router_id 10.255.0.1", peer.name),
                vec![env_obj(&env.name)],
            ));
        }
        for peer in adv.bgp.iter().flat_map(|b| &b.peers).filter(|p| p.platform == Platform::Vm) {
            out.push(finding(
                &rule::BGP_PEER_VM,
                format!(
                    "BGP peer {} ({}) of {} runs on a virtual machine: it may not forward clients' traffic into the cluster, although traffic from the router itself reaches the VIPs",
                    peer.name, peer.address, env.name
                ),
                "peer with a hardware router, or prove forwarding from a client network (not from the router) before relying on it".to_owned(),
                vec![env_obj(&env.name)],
            ));
        }
    }

    for pool in ctx.pools(&env.name) {
        for block in &pool.blocks {
            let objects = || vec![pool_obj(pool), env_obj(&env.name)];
            let family = block.family();
            if family == IpFamily::Ipv6 {
                if mode == AdvertisementMode::Arp {
                    out.push(finding(
                        &rule::ARP_IPV6,
                        format!(
                            "pool {} of {} has the IPv6 block {block}, but {} announces VIPs by ARP only",
                            pool.name, env.name, env.name
                        ),
                        "announce IPv6 VIPs by BGP (mode bgp or both), or remove the IPv6 block".to_owned(),
                        objects(),
                    ));
                }
                // The ARP rules below are about IPv4; IPv6 in mode `both` goes by BGP.
                if mode.uses_arp() {
                    continue;
                }
            }
            if mode.uses_arp() {
                check_arp_block(env, pool, block, out);
            }
            if mode == AdvertisementMode::Bgp {
                let inside: Vec<&Cidr> = env
                    .node_subnets
                    .iter()
                    .filter(|s| {
                        s.family() == family
                            && s.first_u128() <= block.last_u128()
                            && block.first_u128() <= s.last_u128()
                    })
                    .collect();
                if !inside.is_empty() {
                    out.push(finding(
                        &rule::BGP_VIP_OUTSIDE_SUBNET,
                        format!(
                            "block {block} of pool {} lies in the node subnet {} of {}, which announces VIPs by BGP",
                            pool.name,
                            join(inside),
                            env.name
                        ),
                        "give BGP VIPs a range outside the node subnets, e.g. 172.16.100.0/24".to_owned(),
                        objects(),
                    ));
                }
            }
        }
    }
}

fn check_arp_block(env: &Environment, pool: &VipPool, block: &PoolBlock, out: &mut Vec<Finding>) {
    let (first, last) = (block.first_u128(), block.last_u128());
    let family = block.family();
    let objects = || vec![pool_obj(pool), env_obj(&env.name)];
    let subnet = env.node_subnets.iter().find(|s| s.contains_span(family, first, last));
    match subnet {
        None => out.push(finding(
            &rule::ARP_VIP_IN_SUBNET,
            format!(
                "block {block} of pool {} is not inside a node subnet of {} ({}), so no client ever asks ARP for it",
                pool.name,
                env.name,
                join(&env.node_subnets)
            ),
            "move the block into the node subnet, clear of the nodes' addresses".to_owned(),
            objects(),
        )),
        Some(subnet) => {
            let mut clashes: Vec<String> = Vec::new();
            for node in &env.node_addresses {
                if block.contains(node) {
                    clashes.push(format!("node {node}"));
                }
            }
            for router in env.routers.iter().filter(|r| block.contains(&r.address)) {
                clashes.push(format!("router {} {}", router.name, router.address));
            }
            // Only IPv4 has network and broadcast addresses (and /31, /32 use both as hosts).
            if subnet.is_ipv4() && subnet.prefix_len() < 31 {
                if block.contains(&subnet.network()) {
                    clashes.push(format!("network address {}", subnet.network()));
                }
                if block.contains(&subnet.broadcast()) {
                    clashes.push(format!("broadcast address {}", subnet.broadcast()));
                }
            }
            if !clashes.is_empty() {
                out.push(finding(
                    &rule::ARP_VIP_NODE_CLASH,
                    format!("block {block} of pool {} contains the {} of {subnet}", pool.name, clashes.join(", ")),
                    "shrink or move the block so that it holds only free host addresses of the subnet".to_owned(),
                    objects(),
                ));
            }
        }
    }
}

// =============================================================================================
// Applications

fn check_application_rules(ctx: &Ctx<'_>, app: &Application, out: &mut Vec<Finding>) {
    let a = || app_obj(&app.name);
    for (env_name, e) in &app.environments {
        let info = ctx.info(env_name);
        let env = info.and_then(|i| i.env);
        let objects = || vec![a(), env_obj(env_name)];
        if env.is_none() {
            out.push(finding(
                &rule::ENV_UNKNOWN,
                format!("application {} has settings for environment {env_name}, which is not defined", app.name),
                format!("create environment {env_name} or remove it from the application"),
                objects(),
            ));
        }
        if e.hostnames.is_empty() || e.certificate.is_none() {
            let missing = match (e.hostnames.is_empty(), e.certificate.is_none()) {
                (true, true) => "no hostname and no certificate",
                (true, false) => "no hostname",
                _ => "no certificate",
            };
            out.push(finding(
                &rule::GATEWAY_TLS,
                format!(
                    "application {} in {env_name} has {missing}, so it cannot get a TLS Gateway of its own",
                    app.name
                ),
                "give the environment its hostnames and the name of its TLS certificate".to_owned(),
                objects(),
            ));
        }
        if let Some(env) = env {
            // GH-GATEWAY-LABEL: Gatehouse always copies the advertisement label into the
            // Gateway's spec.infrastructure.labels and onto the generated Service, so a
            // reminder on every application would be noise. It fires only where that copy
            // cannot work: a Gateway (the environment has hostnames) in an environment whose
            // label has no value. The environment itself gets GH-ADVERT-LABEL.
            if !e.hostnames.is_empty() && env.advertisement.label.value.is_empty() {
                out.push(finding(
                    &rule::GATEWAY_LABEL,
                    format!(
                        "the Gateway of application {} in {env_name} cannot carry a usable advertisement label ({} has an empty value), so its generated Service cilium-gateway-… is not announced",
                        app.name, env.advertisement.label.key
                    ),
                    format!("give environment {env_name} an advertisement label value; Gatehouse then sets it in spec.infrastructure.labels and on the generated Service"),
                    objects(),
                ));
            }
            if e.external_traffic_policy == ExternalTrafficPolicy::Local && env.advertisement.mode.uses_arp() {
                out.push(finding(
                    &rule::L2_ETP_LOCAL,
                    format!("application {} in {env_name} sets externalTrafficPolicy: Local, but {env_name} announces VIPs by ARP", app.name),
                    "use externalTrafficPolicy: Cluster (the default) for L2-announced Services".to_owned(),
                    objects(),
                ));
            }
            if let VipRequest::Address(vip) = e.vip
                && vip.is_ipv6()
                && env.advertisement.mode == AdvertisementMode::Arp
            {
                out.push(finding(
                    &rule::ARP_IPV6,
                    format!(
                        "application {} asks for the IPv6 VIP {vip} in {env_name}, which announces VIPs by ARP only",
                        app.name
                    ),
                    "ask for an IPv4 VIP, or announce IPv6 by BGP".to_owned(),
                    vec![a(), env_obj(env_name), vip_obj(vip)],
                ));
            }
        }
        if let VipRequest::Address(vip) = e.vip
            && !info.is_some_and(|i| i.index.contains(vip))
        {
            let pools = join(
                info.map_or(&[][..], |i| i.pools.as_slice())
                    .iter()
                    .map(|p| format!("{} ({})", p.name, join(&p.blocks))),
            );
            out.push(finding(
                &rule::VIP_OUTSIDE_POOL,
                format!(
                    "application {} asks for VIP {vip} in {env_name}, which is in none of its pools{}",
                    app.name,
                    if pools.is_empty() { String::from(" (it has none)") } else { format!(": {pools}") }
                ),
                "ask for an address from the environment's pools, or `auto`".to_owned(),
                vec![a(), env_obj(env_name), vip_obj(vip)],
            ));
        }
        if env.map_or_else(|| is_production_name(env_name), Environment::is_production) {
            if app.replicas < 2 {
                out.push(finding(
                    &rule::PROD_REPLICAS,
                    format!(
                        "application {} runs {} replica{} in production environment {env_name}",
                        app.name,
                        app.replicas,
                        if app.replicas == 1 { "" } else { "s" }
                    ),
                    "run at least 2 replicas".to_owned(),
                    objects(),
                ));
            }
            let missing: Vec<&str> =
                [("readiness", app.readiness_path.is_none()), ("liveness", app.liveness_path.is_none())]
                    .into_iter()
                    .filter_map(|(name, missing)| missing.then_some(name))
                    .collect();
            if !missing.is_empty() {
                out.push(finding(
                    &rule::PROD_PROBES,
                    format!("application {} has no {} probe in production environment {env_name}", app.name, missing.join(" and no ")),
                    "set readiness_path and liveness_path, e.g. /actuator/health/readiness and /actuator/health/liveness".to_owned(),
                    objects(),
                ));
            }
        }
    }
    check_config_distinct(app, out);
    check_namespaces(ctx, app, out);
}

/// GH-ENV-NAMESPACE: the namespace each environment gives the application is a valid name,
/// and no two environments put it in the same namespace of the same cluster.
fn check_namespaces(ctx: &Ctx<'_>, app: &Application, out: &mut Vec<Finding>) {
    let mut placed: BTreeMap<(&str, String), Vec<&EnvironmentName>> = BTreeMap::new();
    for env_name in app.environments.keys() {
        let Some(env) = ctx.environment(env_name) else { continue };
        match env.namespace_of(app) {
            Ok(namespace) => placed.entry((env.cluster_name(), namespace.to_string())).or_default().push(env_name),
            Err(error) => out.push(finding(
                &rule::ENV_NAMESPACE,
                format!(
                    "environment {env_name}'s namespace template {} gives application {} no valid namespace: {error}",
                    env.namespace_template, app.name
                ),
                format!("shorten the application's namespace or environment {env_name}'s namespace template"),
                vec![app_obj(&app.name), env_obj(env_name)],
            )),
        }
    }
    for ((cluster, namespace), envs) in placed.into_iter().filter(|(_, envs)| envs.len() > 1) {
        let to_change = least_protected(ctx, &envs);
        let mut objects = vec![app_obj(&app.name)];
        objects.extend(envs.iter().map(|e| env_obj(e)));
        out.push(finding(
            &rule::ENV_NAMESPACE,
            format!(
                "environments {} put application {} in namespace {namespace} of cluster {cluster}, so they would share its Deployment, Service and ConfigMap",
                join(&envs),
                app.name
            ),
            format!(
                "map {} to a cluster of its own, or give it a namespace template such as {{namespace}}-{}",
                to_change, to_change
            ),
            objects,
        ));
    }
}

/// Of environments that clash, the one whose placement a fix should change: the last that is
/// not production (protected or named so), else the last.
fn least_protected<'e>(ctx: &Ctx<'_>, envs: &[&'e EnvironmentName]) -> &'e EnvironmentName {
    let production = |name: &EnvironmentName| ctx.environment(name).is_some_and(Environment::is_production);
    let last = envs.last().copied();
    envs.iter().rev().copied().find(|name| !production(name)).or(last).expect("a clash has two environments")
}

/// GH-ENV-NAMESPACE, asked when `environment` is saved into `plan` (created or changed):
/// an application of another environment on the same cluster that `environment`'s namespace
/// template would put in the namespace it already has there. The applications' own checks
/// catch a clash only once one is in both environments; this catches it where it is made.
/// The fix named is always `environment`'s, the one being saved, never the other's.
pub fn namespace_clashes(plan: &Plan, environment: &Environment) -> Vec<Finding> {
    let mut out = Vec::new();
    let others = plan.environments.iter().filter(|other| other.name != environment.name && other.cluster_name() == environment.cluster_name());
    for other in others {
        let clashing: Vec<(&K8sName, K8sName)> = plan
            .applications
            .iter()
            .filter(|app| app.environments.contains_key(&other.name) || app.environments.contains_key(&environment.name))
            .filter_map(|app| match (environment.namespace_of(app), other.namespace_of(app)) {
                (Ok(here), Ok(there)) if here == there => Some((&app.name, here)),
                _ => None,
            })
            .collect();
        if clashing.is_empty() {
            continue;
        }
        let (name, template) = (&environment.name, &environment.namespace_template);
        let same = if template.same_for_every_namespace(name, &other.namespace_template, &other.name) {
            format!(" (the same placement as environment {}'s template {})", other.name, other.namespace_template)
        } else {
            String::new()
        };
        let placements = join(clashing.iter().map(|(app, namespace)| format!("application {app} in namespace {namespace}")));
        let mut objects = vec![env_obj(name), env_obj(&other.name)];
        objects.extend(clashing.iter().map(|(app, _)| app_obj(app)));
        let mut found = finding(
            &rule::ENV_NAMESPACE,
            format!(
                "environment {name}'s namespace template {template} puts {placements} of cluster {}, where environment {} puts it too{same}; \
                 the two environments would share its Deployment, Service and ConfigMap",
                environment.cluster_name(),
                other.name,
            ),
            format!("give environment {name} a namespace template of its own, such as {{namespace}}-{name}, or map it to another cluster"),
            objects,
        );
        found.field = Some(Cow::Borrowed("namespace_template"));
        out.push(found);
    }
    out
}

fn check_config_distinct(app: &Application, out: &mut Vec<Finding>) {
    if app.environments.len() < 2 {
        return;
    }
    let a = || app_obj(&app.name);
    let (with, without): (Vec<_>, Vec<_>) = app.environments.iter().partition(|(_, e)| !e.config.is_empty());
    if with.is_empty() {
        // No environment has config data: there is nothing to keep apart.
        return;
    }
    for (env, _) in &without {
        out.push(finding(
            &rule::CONFIGMAP_DISTINCT,
            format!(
                "application {} has ConfigMap data in {} but none in {env}",
                app.name,
                join(with.iter().map(|(e, _)| e))
            ),
            format!("give {env} its own settings, or remove the data from the other environments if none is needed"),
            vec![a(), env_obj(env)],
        ));
    }
    // Group the environments by identical data; a group of two or more is a finding.
    let mut groups: Vec<(&AppEnvironment, Vec<&EnvironmentName>)> = Vec::new();
    for (env, e) in &with {
        match groups.iter_mut().find(|(data, _)| data.config == e.config) {
            Some((_, envs)) => envs.push(env),
            None => groups.push((e, vec![env])),
        }
    }
    for (_, envs) in groups.into_iter().filter(|(_, envs)| envs.len() > 1) {
        let mut objects = vec![a()];
        objects.extend(envs.iter().map(|e| env_obj(e)));
        out.push(finding(
            &rule::CONFIGMAP_DISTINCT,
            format!("application {} has identical ConfigMap data in {}", app.name, join(&envs)),
            "set the environment-specific values (profile, URLs, credentials references) in each environment"
                .to_owned(),
            objects,
        ));
    }
}

/// GH-HOSTNAME-DISTINCT: the same hostname in two environments, or a wildcard in one
/// environment covering a hostname of another. Hash maps, no pairwise comparison.
fn check_hostnames(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    type Use<'a> = (&'a Hostname, &'a EnvironmentName, &'a K8sName);
    let mut uses: Vec<Use<'_>> = Vec::new();
    for app in &ctx.plan.applications {
        for (env, e) in &app.environments {
            uses.extend(e.hostnames.iter().map(|h| (h, env, &app.name)));
        }
    }
    let uses_objects = |uses: &[Use<'_>]| {
        let mut objects: Vec<String> = uses.iter().map(|(_, _, app)| app_obj(app)).collect();
        objects.extend(uses.iter().map(|(_, env, _)| env_obj(env)));
        objects
    };

    // The first environment seen per hostname, and whether another environment uses it too.
    let mut seen: HashMap<&str, (&EnvironmentName, bool)> = HashMap::with_capacity(uses.len());
    for (host, env, _) in &uses {
        seen.entry(host.as_str()).and_modify(|(first, shared)| *shared |= first != env).or_insert((env, false));
    }
    let mut shared: HashMap<&str, Vec<Use<'_>>> =
        seen.into_iter().filter(|(_, (_, shared))| *shared).map(|(host, _)| (host, Vec::new())).collect();
    if !shared.is_empty() {
        for u in &uses {
            if let Some(list) = shared.get_mut(u.0.as_str()) {
                list.push(*u);
            }
        }
        for (host, mut list) in shared {
            list.sort();
            let envs: BTreeSet<&EnvironmentName> = list.iter().map(|(_, env, _)| *env).collect();
            out.push(finding(
                &rule::HOSTNAME_DISTINCT,
                format!(
                    "{host} is routed in {} ({})",
                    join(&envs),
                    join(list.iter().map(|(_, env, app)| format!("{app} in {env}")))
                ),
                format!("give each environment its own hostname, e.g. {}", suggest_env_hostname(list[0].0, &envs)),
                uses_objects(&list),
            ));
        }
    }

    let wildcards: Vec<&Use<'_>> = uses.iter().filter(|u| u.0.is_wildcard()).collect();
    if wildcards.is_empty() {
        return;
    }
    let mut by_parent: HashMap<&str, Vec<&Use<'_>>> = HashMap::new();
    for u in uses.iter().filter(|u| !u.0.is_wildcard()) {
        if let Some(parent) = u.0.parent() {
            by_parent.entry(parent).or_default().push(u);
        }
    }
    for &&(wildcard, w_env, w_app) in &wildcards {
        let Some(covered) = wildcard.parent().and_then(|p| by_parent.get(p)) else { continue };
        for &&(host, env, app) in covered.iter().filter(|u| u.1 != w_env && wildcard.matches(u.0)) {
            out.push(finding(
                &rule::HOSTNAME_DISTINCT,
                format!("{wildcard} of {w_app} in {w_env} covers {host} of {app} in {env}"),
                format!("use a wildcard that {env}'s names do not fall under, or list {w_env}'s hostnames one by one"),
                uses_objects(&[(wildcard, w_env, w_app), (host, env, app)]),
            ));
        }
    }
}

fn suggest_env_hostname(host: &Hostname, envs: &BTreeSet<&EnvironmentName>) -> String {
    let env = envs.iter().find(|e| !is_production_name(e)).or_else(|| envs.iter().next());
    match (host.as_str().split_once('.'), env) {
        (Some((first, rest)), Some(env)) if first != "*" => format!("{first}-{env}.{rest}"),
        _ => "api-dev.example.com for dev and api.example.com for prod".to_owned(),
    }
}

// =============================================================================================
// VIPs: duplicates and allocations outside their pools

/// Who holds or asks for a VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Claimant<'a> {
    Application(&'a K8sName),
    Owner(&'a str),
}

struct Claim<'a> {
    address: IpAddr,
    claimant: Claimant<'a>,
    env: &'a EnvironmentName,
    pool: Option<&'a VipPool>,
    allocation: bool,
}

fn check_vips(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mut claims: Vec<Claim<'_>> = Vec::with_capacity(ctx.plan.allocations.len() + ctx.plan.applications.len());
    for app in &ctx.plan.applications {
        for (env, e) in &app.environments {
            if let VipRequest::Address(address) = e.vip {
                claims.push(Claim {
                    address,
                    claimant: Claimant::Application(&app.name),
                    env,
                    pool: None,
                    allocation: false,
                });
            }
        }
    }
    for alloc in &ctx.plan.allocations {
        let pool = ctx.pools_by_id.get(&alloc.pool_id).copied();
        let claimant = alloc.application.as_ref().map_or(Claimant::Owner(&alloc.owner), Claimant::Application);
        claims.push(Claim { address: alloc.address, claimant, env: &alloc.environment, pool, allocation: true });

        let objects = || {
            let mut objects = vec![vip_obj(alloc.address)];
            objects.extend(pool.map(pool_obj));
            objects.extend(alloc.application.as_ref().map(app_obj));
            objects.push(env_obj(&alloc.environment));
            objects
        };
        let info = ctx.info(&alloc.environment);
        if info.and_then(|i| i.env).is_none() {
            out.push(finding(
                &rule::ENV_UNKNOWN,
                format!(
                    "VIP {} is allocated in environment {}, which is not defined",
                    alloc.address, alloc.environment
                ),
                "release the allocation".to_owned(),
                objects(),
            ));
        }
        let outside = match pool {
            Some(pool) if pool.environment == alloc.environment => (!pool.contains(&alloc.address))
                .then(|| format!("outside its pool {} ({})", pool.name, join(&pool.blocks))),
            _ => (!info.is_some_and(|i| i.index.contains(alloc.address)))
                .then(|| format!("in none of the pools of {}", alloc.environment)),
        };
        if let Some(where_) = outside {
            out.push(finding(
                &rule::VIP_OUTSIDE_POOL,
                format!(
                    "VIP {} (allocated to {}) is {where_}",
                    alloc.address,
                    alloc.application.as_ref().map_or(alloc.owner.as_str(), K8sName::as_str)
                ),
                "release it and allocate an address from the environment's pool".to_owned(),
                objects(),
            ));
        }
    }

    // Claims of one address sit together after sorting.
    claims.sort_by_key(|c| c.address);
    for run in claims.chunk_by(|a, b| a.address == b.address).filter(|run| run.len() > 1) {
        let allocations = run.iter().filter(|c| c.allocation).count();
        let claimants: BTreeSet<Claimant<'_>> = run.iter().map(|c| c.claimant).collect();
        if claimants.len() < 2 && allocations < 2 {
            continue;
        }
        let address = run[0].address;
        let owners = join(claimants.iter().map(|c| match c {
            Claimant::Application(name) => name.as_str(),
            Claimant::Owner(owner) => owner,
        }));
        let mut objects = vec![vip_obj(address)];
        objects.extend(claimants.iter().filter_map(|c| match c {
            Claimant::Application(name) => Some(app_obj(name)),
            Claimant::Owner(_) => None,
        }));
        objects.extend(run.iter().filter_map(|c| c.pool).map(pool_obj).collect::<BTreeSet<_>>());
        objects.extend(run.iter().map(|c| env_obj(c.env)).collect::<BTreeSet<_>>());
        out.push(finding(
            &rule::VIP_DUPLICATE,
            format!("VIP {address} is claimed {} times (by {owners})", allocations.max(claimants.len())),
            "keep one owner: release the other allocations or ask for `auto`".to_owned(),
            objects,
        ));
    }
}

// =============================================================================================
// Certificates (only when the plan's certificate list is authoritative)

/// Groups of certificates (indexes) with the same non-empty `key` in two or more
/// environments, each group sorted, the groups sorted.
fn shared_across_environments(
    certificates: &[CertificateInfo],
    key: impl Fn(&CertificateInfo) -> &str,
) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&str, (&EnvironmentName, bool)> = HashMap::with_capacity(certificates.len());
    for c in certificates.iter().filter(|c| !key(c).is_empty()) {
        seen.entry(key(c))
            .and_modify(|(first, shared)| *shared |= *first != &c.environment)
            .or_insert((&c.environment, false));
    }
    let mut groups: HashMap<&str, Vec<usize>> =
        seen.into_iter().filter(|(_, (_, shared))| *shared).map(|(k, _)| (k, Vec::new())).collect();
    if groups.is_empty() {
        return Vec::new();
    }
    for (i, c) in certificates.iter().enumerate() {
        if let Some(group) = groups.get_mut(key(c)) {
            group.push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort();
    groups
}

fn check_certificates(ctx: &Ctx<'_>, certificates: &[CertificateInfo], out: &mut Vec<Finding>) {
    let by_name: HashMap<(&str, &str), usize> =
        certificates.iter().enumerate().map(|(i, c)| ((c.environment.as_str(), c.name.as_str()), i)).collect();
    // (certificate index, application) for every use of a certificate.
    let mut uses: Vec<(usize, &K8sName)> = Vec::new();

    for app in &ctx.plan.applications {
        for (env, e) in &app.environments {
            let Some(name) = &e.certificate else { continue };
            let objects = || vec![app_obj(&app.name), cert_obj(env, name), env_obj(env)];
            let Some(&index) = by_name.get(&(env.as_str(), name.as_str())) else {
                out.push(finding(
                    &rule::CERT_MISSING,
                    format!(
                        "application {} in {env} uses certificate {name}, which is not uploaded to {env}",
                        app.name
                    ),
                    format!("upload certificate {name} to {env}, or pick one of its certificates"),
                    objects(),
                ));
                continue;
            };
            uses.push((index, &app.name));
            let cert = &certificates[index];
            if let Some(secret) = cert.secret_ref.as_ref().filter(|_| cert.is_pending()) {
                out.push(finding(
                    &rule::CERT_UNVERIFIED,
                    format!(
                        "certificate {name} in {env} of application {} refers to Secret {}/{}, which Gatehouse has not read yet",
                        app.name, secret.namespace, secret.name
                    ),
                    "connect the cluster so the Secret is read, or upload the certificate and key instead".to_owned(),
                    objects(),
                ));
                continue;
            }
            let uncovered = uncovered(cert, &e.hostnames);
            if !uncovered.is_empty() {
                out.push(finding(
                    &rule::CERT_SAN,
                    format!(
                        "certificate {name} in {env} does not cover {} of application {} (its names: {})",
                        join(&uncovered),
                        app.name,
                        if cert.sans.is_empty() { "none".to_owned() } else { join(&cert.sans) }
                    ),
                    "issue a certificate whose SANs list every hostname (a wildcard covers one label)".to_owned(),
                    objects(),
                ));
            }
        }
    }
    uses.sort_by_key(|(index, _)| *index);
    let users_of = |index: usize| {
        let from = uses.partition_point(|(i, _)| *i < index);
        uses[from..].iter().take_while(move |(i, _)| *i == index).map(|(_, app)| *app)
    };

    // Validity of every certificate in use.
    for run in uses.chunk_by(|a, b| a.0 == b.0) {
        let cert = &certificates[run[0].0];
        if cert.is_pending() {
            continue;
        }
        let (env, name) = (&cert.environment, &cert.name);
        let expired = cert.not_after <= ctx.now;
        let not_yet = cert.not_before > ctx.now;
        let expiring = cert.not_after - ctx.now <= EXPIRY_WARNING_SECONDS;
        if !(expired || not_yet || expiring) {
            continue;
        }
        let mut objects = vec![cert_obj(env, name)];
        objects.extend(run.iter().map(|(_, app)| app_obj(app)));
        objects.push(env_obj(env));
        if expired || not_yet {
            let message = if expired {
                format!("certificate {name} in {env} expired {} ago", human_duration(ctx.now - cert.not_after))
            } else {
                format!(
                    "certificate {name} in {env} is not valid for another {}",
                    human_duration(cert.not_before - ctx.now)
                )
            };
            out.push(finding(&rule::CERT_EXPIRED, message, "upload a renewed certificate".to_owned(), objects));
        } else {
            out.push(finding(
                &rule::CERT_EXPIRING,
                format!("certificate {name} in {env} expires in {}", human_duration(cert.not_after - ctx.now)),
                "renew it now and upload the new certificate".to_owned(),
                objects,
            ));
        }
    }

    // GH-TLS-DISTINCT over every certificate of the plan: a shared certificate or key is a
    // risk whether or not an application uses it yet. A shared key is only reported when the
    // certificates differ; the same certificate is reported once, as such.
    let same_cert = shared_across_environments(certificates, |c| c.fingerprint_sha256.as_str());
    let same_key = shared_across_environments(certificates, |c| c.public_key_fingerprint.as_str());
    let distinct_certs = |group: &Vec<usize>| {
        group.iter().map(|&i| certificates[i].fingerprint_sha256.as_str()).collect::<BTreeSet<_>>().len() > 1
    };
    let groups =
        same_cert.into_iter().map(|g| (true, g)).chain(same_key.into_iter().filter(distinct_certs).map(|g| (false, g)));
    for (is_same_cert, group) in groups {
        let certs: Vec<&CertificateInfo> = group.iter().map(|&i| &certificates[i]).collect();
        let names = join(certs.iter().map(|c| format!("{} in {}", c.name, c.environment)));
        let mut objects: Vec<String> = certs.iter().map(|c| cert_obj(&c.environment, &c.name)).collect();
        for &i in &group {
            objects.extend(users_of(i).map(app_obj));
        }
        objects.extend(certs.iter().map(|c| env_obj(&c.environment)));
        let what = if is_same_cert { "are the same certificate" } else { "share one private key" };
        out.push(finding(
            &rule::TLS_DISTINCT,
            format!("{names} {what}"),
            "issue each environment its own certificate with a freshly generated key".to_owned(),
            objects,
        ));
    }
}

fn human_duration(seconds: i64) -> String {
    let days = seconds / 86_400;
    match days {
        0 => match seconds / 3600 {
            0 => "less than an hour".to_owned(),
            1 => "1 hour".to_owned(),
            h => format!("{h} hours"),
        },
        1 => "1 day".to_owned(),
        d => format!("{d} days"),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::{Allocation, ArpSettings, BgpPeer, BgpSettings};
    use crate::names::{Asn, LabelValue};
    use crate::net::naive_overlaps;
    use crate::seed::{seed_plan, synthetic_plan};
    use crate::placement::NamespaceTemplate;

    const NOW: i64 = 1_780_000_000;
    const DAY: i64 = 86_400;

    fn env(s: &str) -> EnvironmentName {
        EnvironmentName::parse(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        IpAddr::parse(s).unwrap()
    }

    fn cert(environment: &str, sans: &[&str], fingerprint: &str, key: &str) -> CertificateInfo {
        CertificateInfo {
            environment: env(environment),
            name: K8sSubdomain::parse("api-tls").unwrap(),
            sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            not_before: NOW - DAY,
            not_after: NOW + 365 * DAY,
            fingerprint_sha256: fingerprint.to_owned(),
            public_key_fingerprint: key.to_owned(),
            secret_ref: None,
            owners: Default::default(),
        }
    }

    /// The seed plan with its two certificates uploaded: passes every rule.
    fn good() -> Plan {
        let mut plan = seed_plan();
        plan.certificates = Some(vec![
            cert("dev", &["api-dev.mdhlabs.com"], "f-dev", "k-dev"),
            cert("prod", &["api.mdhlabs.com"], "f-prod", "k-prod"),
        ]);
        plan
    }

    fn environment<'a>(plan: &'a mut Plan, name: &str) -> &'a mut Environment {
        plan.environments.iter_mut().find(|e| e.name == name).unwrap()
    }

    fn pool<'a>(plan: &'a mut Plan, name: &str) -> &'a mut VipPool {
        plan.pools.iter_mut().find(|p| p.name == name).unwrap()
    }

    fn api_in<'a>(plan: &'a mut Plan, name: &str) -> &'a mut AppEnvironment {
        plan.applications[0].environments.get_mut(&env(name)).unwrap()
    }

    fn certificate<'a>(plan: &'a mut Plan, environment: &str) -> &'a mut CertificateInfo {
        plan.certificates.as_mut().unwrap().iter_mut().find(|c| c.environment == environment).unwrap()
    }

    fn findings<'a>(report: &'a Report, rule: &RuleInfo) -> Vec<&'a Finding> {
        report.findings.iter().filter(|f| f.rule == rule.id).collect()
    }

    /// Runs the plan and returns the findings of `rule`, after checking the good plan is
    /// quiet on it.
    fn fires(plan: &Plan, rule: &RuleInfo) -> Vec<Finding> {
        let quiet = check_plan(&good(), NOW);
        assert!(findings(&quiet, rule).is_empty(), "{} fires on the good plan", rule.id);
        assert!(quiet.passed.contains(&Cow::Borrowed(rule.id)));
        let report = check_plan(plan, NOW);
        let found: Vec<Finding> = findings(&report, rule).into_iter().cloned().collect();
        assert!(!found.is_empty(), "{} does not fire: {:#?}", rule.id, report.findings);
        assert!(!report.passed.contains(&Cow::Borrowed(rule.id)));
        for f in &found {
            assert_eq!(f.severity, rule.severity);
            assert!(!f.message.is_empty() && !f.hint.is_empty() && !f.objects.is_empty());
        }
        found
    }

    fn set_mode(plan: &mut Plan, name: &str, mode: AdvertisementMode) {
        let e = environment(plan, name);
        e.advertisement.mode = mode;
        if mode.uses_bgp() {
            e.advertisement.bgp = Some(BgpSettings {
                local_asn: Asn::new(65_001).unwrap(),
                peers: vec![BgpPeer {
                    name: K8sName::parse("frr").unwrap(),
                    asn: Asn::new(65_000).unwrap(),
                    address: ip("192.168.101.1"),
                    platform: Platform::Hardware,
                    router_id: None,
                }],
            });
        }
    }

    fn set_mode_keeping_peers(plan: &mut Plan, name: &str, mode: AdvertisementMode) {
        environment(plan, name).advertisement.mode = mode;
    }

    #[test]
    fn seed_plan_passes_with_zero_errors() {
        let report = check_plan(&seed_plan(), NOW);
        assert_eq!((report.errors, report.warnings), (0, 0), "{:#?}", report.findings);
        assert_eq!(report.skipped.len(), CERTIFICATE_RULES.len(), "certificates unknown: certificate rules skipped");
        assert!(!report.passed.iter().any(|p| CERTIFICATE_RULES.contains(&p.as_ref())));
        let report = check_plan(&good(), NOW);
        assert_eq!((report.errors, report.warnings), (0, 0), "{:#?}", report.findings);
        assert_eq!(report.passed.len(), rules().len());
        assert!(report.skipped.is_empty());
    }

    #[test]
    fn report_serialises_as_the_api() {
        let mut plan = good();
        api_in(&mut plan, "dev").certificate = None;
        let json = serde_json::to_value(check_plan(&plan, NOW)).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["errors", "findings", "passed", "warnings"]);
        let finding = &json["findings"][0];
        assert_eq!(finding["rule"], "GH-GATEWAY-TLS");
        assert_eq!(finding["severity"], "error");
        assert_eq!(finding["diagram"], "cilium/gateway");
        assert_eq!(finding["objects"], serde_json::json!(["application/api", "environment/dev"]));
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back.errors, 1);
        assert!(serde_json::to_value(check_plan(&seed_plan(), NOW)).unwrap()["skipped"].is_array());
    }

    #[test]
    fn each_applications_part_of_one_whole_plan_report_is_its_own_check() {
        for plan in [seed_plan(), synthetic_plan(4, 3, 30, NOW)] {
            let full = check_plan(&plan, NOW);
            for application in &plan.applications {
                let name = application.name.as_str();
                assert_eq!(application_report(&plan, &full, name), check_application(&plan, name, NOW), "{name}");
            }
        }
    }

    #[test]
    fn rules_are_listed_with_unique_ids_and_training() {
        let diagrams = [
            "cilium/vip-pool",
            "cilium/gateway",
            "cilium/pods",
            "cilium/bgp-router",
            "cilium/l2-segment",
            "cilium/httproute",
            "cilium/configmap",
            "cilium/certificate",
        ];
        let ids: BTreeSet<&str> = rules().iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), rules().len());
        for r in rules() {
            assert!(r.id.starts_with("GH-"), "{}", r.id);
            assert!(r.training.len() > 40 && !r.title.is_empty(), "{}", r.id);
            assert!(diagrams.contains(&r.diagram), "{}: {}", r.id, r.diagram);
            assert_eq!(rule_info(r.id), Some(r));
        }
    }

    #[test]
    fn pod_cidr_distinct() {
        let mut plan = good();
        environment(&mut plan, "prod").pod_cidrs = vec![Cidr::parse("10.10.0.0/17").unwrap()];
        let found = fires(&plan, &rule::POD_CIDR_DISTINCT);
        assert_eq!(found[0].objects, ["environment/dev", "environment/prod"]);
        assert_eq!(found[0].message, "pod CIDR 10.10.0.0/16 of dev overlaps pod CIDR 10.10.0.0/17 of prod");
        assert!(findings(&check_plan(&plan, NOW), &rule::RANGE_OVERLAP).is_empty(), "one rule per pair");
    }

    #[test]
    fn vip_distinct() {
        let mut plan = good();
        pool(&mut plan, "prod-vips").blocks.push(PoolBlock::parse("192.168.101.200-192.168.101.201").unwrap());
        let found = fires(&plan, &rule::VIP_DISTINCT);
        assert_eq!(found[0].objects, ["pool/dev-vips", "pool/prod-vips", "environment/dev", "environment/prod"]);
    }

    #[test]
    fn env_namespace() {
        // The seed's dev and prod share the default cluster; dev's template keeps them apart.
        let mut plan = good();
        environment(&mut plan, "dev").namespace_template = NamespaceTemplate::default();
        let found = fires(&plan, &rule::ENV_NAMESPACE);
        assert!(
            found[0].message.contains("environments dev, prod put application api in namespace cd-service of cluster default"),
            "{}",
            found[0].message
        );
        assert!(found[0].hint.contains("{namespace}-dev"), "{}", found[0].hint);
        assert_eq!(found[0].objects, ["application/api", "environment/dev", "environment/prod"]);

        // Separate clusters need no template.
        environment(&mut plan, "prod").cluster = Some(K8sName::parse("prod-east").unwrap());
        assert!(findings(&check_plan(&plan, NOW), &rule::ENV_NAMESPACE).is_empty());

        let mut plan = good();
        environment(&mut plan, "dev").namespace_template =
            NamespaceTemplate::parse(&format!("{{namespace}}-{}", "d".repeat(55))).unwrap();
        let found = fires(&plan, &rule::ENV_NAMESPACE);
        assert!(found[0].message.contains("limit is 63"), "{}", found[0].message);
    }

    /// A copy of dev named `name` on the same cluster, with the plain `{namespace}` template
    /// (prod's): added to the plan and answered.
    fn copy_of_dev_with_prods_template(plan: &mut Plan, name: &str) -> Environment {
        let mut copy = environment(plan, "dev").clone();
        copy.name = env(name);
        copy.namespace_template = NamespaceTemplate::default();
        plan.environments.push(copy.clone());
        copy
    }

    #[test]
    fn env_namespace_fix_changes_the_environment_that_is_not_production() {
        // prod and qa clash; prod sorts first, but the fix is qa's.
        let mut plan = good();
        copy_of_dev_with_prods_template(&mut plan, "qa");
        let dev = api_in(&mut plan, "dev").clone();
        plan.applications[0].environments.insert(env("qa"), dev);
        let found = fires(&plan, &rule::ENV_NAMESPACE);
        assert!(found[0].message.contains("environments prod, qa put application api"), "{}", found[0].message);
        assert_eq!(found[0].hint, "map qa to a cluster of its own, or give it a namespace template such as {namespace}-qa");
    }

    #[test]
    fn an_environment_saved_onto_anothers_placement_is_refused_with_its_own_fix() {
        let mut plan = good();
        let staging = copy_of_dev_with_prods_template(&mut plan, "staging");
        let found = namespace_clashes(&plan, &staging);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].rule, rule::ENV_NAMESPACE.id);
        assert_eq!(found[0].field.as_deref(), Some("namespace_template"));
        assert_eq!(
            found[0].message,
            "environment staging's namespace template {namespace} puts application api in namespace cd-service of cluster default, \
             where environment prod puts it too (the same placement as environment prod's template {namespace}); \
             the two environments would share its Deployment, Service and ConfigMap"
        );
        assert_eq!(
            found[0].hint,
            "give environment staging a namespace template of its own, such as {namespace}-staging, or map it to another cluster"
        );
        assert_eq!(found[0].objects, ["environment/staging", "environment/prod", "application/api"]);

        // A template of its own, or a cluster of its own: no clash.
        let own = |plan: &mut Plan, change: &dyn Fn(&mut Environment)| {
            let staging = plan.environments.iter_mut().find(|e| e.name.as_str() == "staging").unwrap();
            change(staging);
            staging.clone()
        };
        let templated = own(&mut plan, &|e| e.namespace_template = NamespaceTemplate::parse("{namespace}-staging").unwrap());
        assert!(namespace_clashes(&plan, &templated).is_empty());
        let elsewhere = own(&mut plan, &|e| {
            e.namespace_template = NamespaceTemplate::default();
            e.cluster = Some(K8sName::parse("east").unwrap());
        });
        assert!(namespace_clashes(&plan, &elsewhere).is_empty());

        // A different template that still lands the application on prod's namespace says so
        // without calling it the same template.
        let mut plan = good();
        environment(&mut plan, "dev").namespace_template = NamespaceTemplate::parse("cd-service").unwrap();
        let dev = environment(&mut plan, "dev").clone();
        let found = namespace_clashes(&plan, &dev);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].message.contains("where environment prod puts it too;"), "{}", found[0].message);
        assert!(found[0].hint.starts_with("give environment dev "), "{}", found[0].hint);
    }

    #[test]
    fn configmap_distinct() {
        let mut plan = good();
        let dev = api_in(&mut plan, "dev").config.clone();
        api_in(&mut plan, "prod").config = dev;
        let found = fires(&plan, &rule::CONFIGMAP_DISTINCT);
        assert!(found[0].message.contains("identical ConfigMap data in dev, prod"), "{}", found[0].message);

        let mut plan = good();
        api_in(&mut plan, "prod").config.clear();
        let found = fires(&plan, &rule::CONFIGMAP_DISTINCT);
        assert!(found[0].message.contains("none in prod"), "{}", found[0].message);

        let mut plan = good();
        api_in(&mut plan, "prod").config.clear();
        api_in(&mut plan, "dev").config.clear();
        assert!(findings(&check_plan(&plan, NOW), &rule::CONFIGMAP_DISTINCT).is_empty(), "no config at all is fine");
    }

    #[test]
    fn tls_distinct() {
        let mut plan = good();
        certificate(&mut plan, "prod").fingerprint_sha256 = "f-dev".into();
        certificate(&mut plan, "prod").public_key_fingerprint = "k-dev".into();
        let found = fires(&plan, &rule::TLS_DISTINCT);
        assert_eq!(found.len(), 1, "a shared certificate is reported once, not also as a shared key");
        assert!(found[0].message.ends_with("are the same certificate"), "{}", found[0].message);
        assert!(found[0].objects.contains(&"application/api".to_owned()));

        let mut plan = good();
        certificate(&mut plan, "prod").public_key_fingerprint = "k-dev".into();
        let found = fires(&plan, &rule::TLS_DISTINCT);
        assert!(found[0].message.ends_with("share one private key"), "{}", found[0].message);
    }

    #[test]
    fn hostname_distinct() {
        let mut plan = good();
        api_in(&mut plan, "prod").hostnames = vec![Hostname::parse("api-dev.mdhlabs.com").unwrap()];
        let found = fires(&plan, &rule::HOSTNAME_DISTINCT);
        assert!(found[0].message.starts_with("api-dev.mdhlabs.com is routed in dev, prod"), "{}", found[0].message);

        let mut plan = good();
        api_in(&mut plan, "dev").hostnames = vec![Hostname::parse("*.mdhlabs.com").unwrap()];
        let found = fires(&plan, &rule::HOSTNAME_DISTINCT);
        assert_eq!(found[0].message, "*.mdhlabs.com of api in dev covers api.mdhlabs.com of api in prod");
    }

    #[test]
    fn gateway_tls() {
        let mut plan = good();
        api_in(&mut plan, "prod").hostnames.clear();
        let found = fires(&plan, &rule::GATEWAY_TLS);
        assert!(found[0].message.contains("in prod has no hostname"), "{}", found[0].message);
    }

    #[test]
    fn range_overlap() {
        let mut plan = good();
        environment(&mut plan, "dev").service_cidr = Cidr::parse("10.20.0.0/16").unwrap();
        let found = fires(&plan, &rule::RANGE_OVERLAP);
        assert_eq!(found[0].message, "service CIDR 10.20.0.0/16 of dev overlaps pod CIDR 10.20.0.0/16 of prod");
        assert_eq!(found[0].diagram, "cilium/pods");

        let mut plan = good();
        pool(&mut plan, "dev-vips").blocks.push(PoolBlock::parse("10.96.0.0/28").unwrap());
        let found = fires(&plan, &rule::RANGE_OVERLAP);
        assert_eq!(found[0].objects, ["environment/dev", "pool/dev-vips"]);
        assert_eq!(found[0].diagram, "cilium/vip-pool");

        // A node subnet of another environment that the pool's environment does not share.
        let mut plan = good();
        environment(&mut plan, "prod").node_subnets.push(Cidr::parse("172.16.0.0/24").unwrap());
        pool(&mut plan, "dev-vips").blocks.push(PoolBlock::parse("172.16.0.64/28").unwrap());
        let found = fires(&plan, &rule::RANGE_OVERLAP);
        assert!(found[0].message.contains("node subnet 172.16.0.0/24 of prod"), "{}", found[0].message);
    }

    #[test]
    fn vip_duplicate() {
        let mut plan = good();
        plan.allocations.push(Allocation {
            address: ip("192.168.101.240"),
            pool_id: 2,
            environment: env("prod"),
            owner: "team-a".into(),
            application: Some(K8sName::parse("api").unwrap()),
        });
        assert!(findings(&check_plan(&plan, NOW), &rule::VIP_DUPLICATE).is_empty(), "api's own allocation");
        plan.allocations.push(Allocation {
            address: ip("192.168.101.240"),
            pool_id: 2,
            environment: env("prod"),
            owner: "team-b".into(),
            application: Some(K8sName::parse("web").unwrap()),
        });
        let found = fires(&plan, &rule::VIP_DUPLICATE);
        assert_eq!(
            found[0].objects,
            ["vip/192.168.101.240", "application/api", "application/web", "pool/prod-vips", "environment/prod"]
        );
    }

    #[test]
    fn vip_outside_pool() {
        let mut plan = good();
        api_in(&mut plan, "prod").vip = VipRequest::Address(ip("192.168.101.200"));
        let found = fires(&plan, &rule::VIP_OUTSIDE_POOL);
        assert!(
            found[0].message.contains("none of its pools: prod-vips (192.168.101.240-192.168.101.250)"),
            "{}",
            found[0].message
        );

        let mut plan = good();
        plan.allocations.push(Allocation {
            address: ip("192.168.101.100"),
            pool_id: 1,
            environment: env("dev"),
            owner: "team-a".into(),
            application: None,
        });
        let found = fires(&plan, &rule::VIP_OUTSIDE_POOL);
        assert_eq!(found[0].objects, ["vip/192.168.101.100", "pool/dev-vips", "environment/dev"]);
    }

    #[test]
    fn arp_vip_in_subnet() {
        let mut plan = good();
        pool(&mut plan, "dev-vips").blocks = vec![PoolBlock::parse("192.168.102.0/28").unwrap()];
        let found = fires(&plan, &rule::ARP_VIP_IN_SUBNET);
        assert_eq!(found[0].objects, ["pool/dev-vips", "environment/dev"]);
    }

    #[test]
    fn arp_vip_node_clash() {
        let mut plan = good();
        pool(&mut plan, "dev-vips").blocks = vec![PoolBlock::parse("192.168.101.0/28").unwrap()];
        let found = fires(&plan, &rule::ARP_VIP_NODE_CLASH);
        assert_eq!(
            found[0].message,
            "block 192.168.101.0/28 of pool dev-vips contains the node 192.168.101.11, node 192.168.101.12, node 192.168.101.13, router core 192.168.101.1, network address 192.168.101.0 of 192.168.101.0/24"
        );
        let mut plan = good();
        pool(&mut plan, "prod-vips").blocks = vec![PoolBlock::parse("192.168.101.250-192.168.101.255").unwrap()];
        assert!(fires(&plan, &rule::ARP_VIP_NODE_CLASH)[0].message.contains("broadcast address 192.168.101.255"));
    }

    #[test]
    fn arp_ipv6() {
        let mut plan = good();
        pool(&mut plan, "dev-vips").blocks.push(PoolBlock::parse("fd00:101::/120").unwrap());
        let found = fires(&plan, &rule::ARP_IPV6);
        assert_eq!(found.len(), 1);
        assert!(findings(&check_plan(&plan, NOW), &rule::ARP_VIP_IN_SUBNET).is_empty());
        set_mode(&mut plan, "dev", AdvertisementMode::Both);
        assert!(findings(&check_plan(&plan, NOW), &rule::ARP_IPV6).is_empty(), "IPv6 goes by BGP in mode both");
    }

    #[test]
    fn bgp_peer() {
        let mut plan = good();
        set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
        assert!(findings(&check_plan(&plan, NOW), &rule::BGP_PEER).is_empty());
        environment(&mut plan, "dev").advertisement.bgp.as_mut().unwrap().peers.clear();
        let found = fires(&plan, &rule::BGP_PEER);
        assert_eq!(found[0].objects, ["environment/dev"]);
    }

    #[test]
    fn bgp_peer_vm() {
        let mut plan = good();
        set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
        assert!(findings(&check_plan(&plan, NOW), &rule::BGP_PEER_VM).is_empty(), "FRR on hardware forwards");
        environment(&mut plan, "dev").advertisement.bgp.as_mut().unwrap().peers[0].platform = Platform::Vm;
        let found = fires(&plan, &rule::BGP_PEER_VM);
        assert_eq!(found[0].objects, ["environment/dev"]);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0].message.contains("frr (192.168.101.1) of dev runs on a virtual machine"), "{}", found[0].message);
        set_mode(&mut plan, "dev", AdvertisementMode::Arp);
        environment(&mut plan, "dev").advertisement.bgp.as_mut().unwrap().peers[0].platform = Platform::Vm;
        assert!(findings(&check_plan(&plan, NOW), &rule::BGP_PEER_VM).is_empty(), "only where BGP is used");
    }

    #[test]
    fn bgp_router_id() {
        let mut plan = good();
        set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
        assert!(findings(&check_plan(&plan, NOW), &rule::BGP_ROUTER_ID).is_empty(), "an IPv4 router is its own id");
        fn peer(plan: &mut Plan) -> &mut BgpPeer {
            &mut environment(plan, "dev").advertisement.bgp.as_mut().unwrap().peers[0]
        }
        peer(&mut plan).address = ip("fd00:101::1");
        let found = fires(&plan, &rule::BGP_ROUTER_ID);
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].objects, ["environment/dev"]);
        assert!(found[0].message.contains("frr of dev is reached only over IPv6 (fd00:101::1)"), "{}", found[0].message);
        peer(&mut plan).router_id = Some(ip("10.255.0.1"));
        assert!(findings(&check_plan(&plan, NOW), &rule::BGP_ROUTER_ID).is_empty(), "the router id given is used");
        peer(&mut plan).router_id = None;
        set_mode_keeping_peers(&mut plan, "dev", AdvertisementMode::Arp);
        assert!(findings(&check_plan(&plan, NOW), &rule::BGP_ROUTER_ID).is_empty(), "only where BGP is used");
    }

    #[test]
    fn bgp_vip_outside_subnet() {
        let mut plan = good();
        set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
        let found = fires(&plan, &rule::BGP_VIP_OUTSIDE_SUBNET);
        assert_eq!(found[0].severity, Severity::Warning);
        pool(&mut plan, "dev-vips").blocks = vec![PoolBlock::parse("172.16.100.0/28").unwrap()];
        let report = check_plan(&plan, NOW);
        assert!(findings(&report, &rule::BGP_VIP_OUTSIDE_SUBNET).is_empty());
        assert_eq!(report.errors, 0, "{:#?}", report.findings);
    }

    #[test]
    fn advert_label_and_gateway_label() {
        let mut plan = good();
        environment(&mut plan, "dev").advertisement.label.value = LabelValue::default();
        let found = fires(&plan, &rule::ADVERT_LABEL);
        assert_eq!(found[0].diagram, "cilium/l2-segment", "ARP environment");
        let found = fires(&plan, &rule::GATEWAY_LABEL);
        assert_eq!(found[0].objects, ["application/api", "environment/dev"]);
        assert!(found[0].message.contains("cilium-gateway-"));
    }

    #[test]
    fn l2_etp_local() {
        let mut plan = good();
        api_in(&mut plan, "dev").external_traffic_policy = ExternalTrafficPolicy::Local;
        fires(&plan, &rule::L2_ETP_LOCAL);
        set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
        assert!(findings(&check_plan(&plan, NOW), &rule::L2_ETP_LOCAL).is_empty(), "Local is fine with BGP");
    }

    #[test]
    fn cert_san() {
        let mut plan = good();
        certificate(&mut plan, "prod").sans = vec!["www.mdhlabs.com".into()];
        let found = fires(&plan, &rule::CERT_SAN);
        assert!(found[0].message.contains("does not cover api.mdhlabs.com"), "{}", found[0].message);
        certificate(&mut plan, "prod").sans = vec!["*.mdhlabs.com".into(), "192.168.1.1".into()];
        assert!(findings(&check_plan(&plan, NOW), &rule::CERT_SAN).is_empty(), "wildcard covers it");
    }

    #[test]
    fn cert_expired_and_expiring() {
        let mut plan = good();
        certificate(&mut plan, "prod").not_after = NOW - 3 * DAY;
        let found = fires(&plan, &rule::CERT_EXPIRED);
        assert_eq!(found[0].message, "certificate api-tls in prod expired 3 days ago");
        assert_eq!(found[0].objects, ["certificate/prod/api-tls", "application/api", "environment/prod"]);

        let mut plan = good();
        certificate(&mut plan, "dev").not_before = NOW + 2 * 3600;
        assert!(fires(&plan, &rule::CERT_EXPIRED)[0].message.contains("not valid for another 2 hours"));

        let mut plan = good();
        certificate(&mut plan, "dev").not_after = NOW + 10 * DAY;
        let found = fires(&plan, &rule::CERT_EXPIRING);
        assert_eq!(found[0].message, "certificate api-tls in dev expires in 10 days");
        certificate(&mut plan, "dev").not_after = NOW + 31 * DAY;
        assert!(findings(&check_plan(&plan, NOW), &rule::CERT_EXPIRING).is_empty());
    }

    #[test]
    fn cert_missing_only_when_certificates_are_known() {
        let mut plan = good();
        plan.certificates.as_mut().unwrap().retain(|c| c.environment != "prod");
        let found = fires(&plan, &rule::CERT_MISSING);
        assert_eq!(found[0].objects, ["application/api", "certificate/prod/api-tls", "environment/prod"]);
        plan.certificates = None;
        let report = check_plan(&plan, NOW);
        assert!(findings(&report, &rule::CERT_MISSING).is_empty());
        assert!(report.skipped.contains(&Cow::Borrowed(rule::CERT_MISSING.id)));
    }

    #[test]
    fn an_unread_secret_reference_is_a_warning_not_a_mismatch() {
        let mut plan = good();
        let dev = certificate(&mut plan, "dev");
        dev.sans.clear();
        dev.fingerprint_sha256.clear();
        dev.public_key_fingerprint.clear();
        dev.not_after = 0;
        dev.secret_ref = Some(crate::certificates::SecretReference {
            namespace: K8sName::parse("cd-service").unwrap(),
            name: K8sSubdomain::parse("api-dev-tls").unwrap(),
        });
        let found = fires(&plan, &rule::CERT_UNVERIFIED);
        assert_eq!(
            found[0].message,
            "certificate api-tls in dev of application api refers to Secret cd-service/api-dev-tls, which Gatehouse has not read yet"
        );
        let report = check_plan(&plan, NOW);
        assert_eq!(report.errors, 0, "names and validity are unknown, not wrong: {:?}", report.findings);
    }

    #[test]
    fn prod_replicas_and_probes() {
        let mut plan = good();
        plan.applications[0].replicas = 1;
        plan.applications[0].liveness_path = None;
        let found = fires(&plan, &rule::PROD_REPLICAS);
        assert_eq!(found.len(), 1, "only prod");
        assert_eq!(found[0].message, "application api runs 1 replica in production environment prod");
        let found = fires(&plan, &rule::PROD_PROBES);
        assert_eq!(found[0].message, "application api has no liveness probe in production environment prod");
        // `protected` makes an environment production whatever its name.
        environment(&mut plan, "dev").protected = true;
        assert_eq!(findings(&check_plan(&plan, NOW), &rule::PROD_REPLICAS).len(), 2);
    }

    #[test]
    fn env_unknown() {
        let mut plan = good();
        let staging = plan.applications[0].environments[&env("dev")].clone();
        plan.applications[0].environments.insert(env("staging"), staging);
        let found = fires(&plan, &rule::ENV_UNKNOWN);
        assert_eq!(found[0].objects, ["application/api", "environment/staging"]);
        let mut plan = good();
        pool(&mut plan, "dev-vips").environment = env("qa");
        fires(&plan, &rule::ENV_UNKNOWN);
    }

    #[test]
    fn check_application_keeps_what_concerns_the_application() {
        let mut plan = good();
        let mut web = plan.applications[0].clone();
        web.name = K8sName::parse("web").unwrap();
        web.replicas = 1;
        for e in web.environments.values_mut() {
            e.vip = VipRequest::Auto;
            for h in &mut e.hostnames {
                *h = Hostname::parse(&h.as_str().replace("api", "web")).unwrap();
            }
        }
        web.environments.remove(&env("dev"));
        plan.applications.push(web);
        certificate(&mut plan, "prod").sans.push("web.mdhlabs.com".into());
        // An environment-level problem in dev: concerns api (in dev), not web (prod only).
        environment(&mut plan, "dev").advertisement.arp = Some(ArpSettings::default());
        environment(&mut plan, "dev").pod_cidrs.push(Cidr::parse("10.97.0.0/16").unwrap());

        let all = check_plan(&plan, NOW);
        assert_eq!(findings(&all, &rule::PROD_REPLICAS).len(), 1);
        assert_eq!(findings(&all, &rule::RANGE_OVERLAP).len(), 1);

        let api = check_application(&plan, "api", NOW);
        assert!(findings(&api, &rule::PROD_REPLICAS).is_empty(), "web's finding is not api's");
        assert!(api.passed.contains(&Cow::Borrowed(rule::PROD_REPLICAS.id)));
        assert_eq!(findings(&api, &rule::RANGE_OVERLAP).len(), 1, "dev ⊃ api; prod ⊃ api");

        let web = check_application(&plan, "web", NOW);
        assert_eq!(findings(&web, &rule::PROD_REPLICAS).len(), 1);
        assert_eq!(findings(&web, &rule::RANGE_OVERLAP).len(), 1, "the overlap names prod's service CIDR");
        assert_eq!((web.errors, web.warnings), (1, 1));

        assert_eq!(check_application(&plan, "nope", NOW), Report::default());
    }

    #[test]
    fn synthetic_plan_is_clean() {
        let plan = synthetic_plan(6, 300, 40, NOW);
        assert_eq!(plan.environments.len(), 6);
        let ranges: usize = 3 * plan.environments.len() + plan.pools.iter().map(|p| p.blocks.len()).sum::<usize>();
        assert!((290..=300).contains(&ranges), "{ranges}");
        let report = check_plan(&plan, NOW);
        assert_eq!((report.errors, report.warnings), (0, 0), "{:#?}", &report.findings[..report.findings.len().min(5)]);
    }

    fn arb_cidr() -> impl Strategy<Value = Cidr> {
        // A /20 of IPv4 and a sliver of IPv6 so that random ranges overlap often.
        prop_oneof![
            (0u32..4096, 20u8..=32)
                .prop_map(|(a, p)| Cidr::containing(IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + a)), p)),
            (0u128..4096, 116u8..=128)
                .prop_map(|(a, p)| Cidr::containing(IpAddr::from(std::net::Ipv6Addr::from(a)), p)),
        ]
        .prop_map(|c| c.unwrap())
    }

    fn arb_plan() -> impl Strategy<Value = Plan> {
        let environment = (
            proptest::collection::vec(arb_cidr(), 1..3),
            proptest::collection::vec(arb_cidr(), 1..3),
            arb_cidr(),
            proptest::collection::vec(proptest::collection::vec(arb_cidr(), 1..4), 0..3),
        );
        proptest::collection::vec(environment, 1..5).prop_map(|envs| {
            let mut plan = seed_plan();
            let template = plan.environments[0].clone();
            plan.environments.clear();
            plan.pools.clear();
            for (i, (nodes, pods, service, pools)) in envs.into_iter().enumerate() {
                let name = env(&format!("e{i}"));
                for (k, blocks) in pools.into_iter().enumerate() {
                    plan.pools.push(VipPool {
                        id: Some((i * 10 + k) as i64),
                        environment: name.clone(),
                        name: K8sName::parse(&format!("p{i}-{k}")).unwrap(),
                        blocks: blocks.into_iter().map(PoolBlock::Cidr).collect(),
                    });
                }
                plan.environments.push(Environment {
                    name,
                    node_subnets: nodes,
                    pod_cidrs: pods,
                    service_cidr: service,
                    ..template.clone()
                });
            }
            plan
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sweep_equals_naive_on_random_plans(plan in arb_plan()) {
            let spans = plan_spans(&plan);
            let pairs = overlapping_pairs(&spans);
            prop_assert_eq!(&pairs, &naive_overlaps(&spans));
            let report = check_plan(&plan, NOW);
            let range_findings = report
                .findings
                .iter()
                .filter(|f| [rule::RANGE_OVERLAP.id, rule::POD_CIDR_DISTINCT.id, rule::VIP_DISTINCT.id].contains(&f.rule.as_ref()))
                .count();
            prop_assert!(range_findings <= pairs.len());
            prop_assert_eq!(report.errors + report.warnings, report.findings.len());
        }
    }
}
