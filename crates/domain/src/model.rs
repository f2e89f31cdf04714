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

// =============================================================================================
// Environment

/// How the environment's VIPs are announced to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvertisementMode {
    /// L2 announcements: a node answers ARP for each VIP (CiliumL2AnnouncementPolicy).
    Arp,
    /// BGP: nodes advertise VIP routes to peers (CiliumBGPClusterConfig and friends).
    Bgp,
    Both,
}

impl AdvertisementMode {
    pub fn parse(input: &str) -> Result<Self, ChoiceError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "arp" | "l2" => Ok(Self::Arp),
            "bgp" => Ok(Self::Bgp),
            "both" => Ok(Self::Both),
            _ => Err(ChoiceError {
                input: input.trim().to_owned(),
                what: "advertisement mode",
                allowed: "arp, bgp, both",
                code: "invalid_mode",
            }),
        }
    }

    pub fn uses_arp(self) -> bool {
        matches!(self, Self::Arp | Self::Both)
    }

    pub fn uses_bgp(self) -> bool {
        matches!(self, Self::Bgp | Self::Both)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arp => "arp",
            Self::Bgp => "bgp",
            Self::Both => "both",
        }
    }
}

impl fmt::Display for AdvertisementMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// L2 announcement settings (CiliumL2AnnouncementPolicy). Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpSettings {
    /// Regular expressions for the interfaces that answer ARP, e.g. `^eth[0-9]+$`.
    /// (Checked for shape here; compiled server-side where the regex crate is available.)
    pub interfaces: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<LabelKey, LabelValue>,
}

/// What a router runs on. FRR on a virtual machine may not forward traffic into the cluster
/// although traffic from the VM itself reaches the VIPs (the brief's second caveat).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    #[default]
    Hardware,
    Vm,
}

impl Platform {
    pub fn parse(input: &str) -> Result<Self, ChoiceError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "" | "hardware" => Ok(Self::Hardware),
            "vm" => Ok(Self::Vm),
            _ => Err(ChoiceError {
                input: input.trim().to_owned(),
                what: "router platform",
                allowed: "hardware, vm",
                code: "invalid_platform",
            }),
        }
    }

    pub fn is_hardware(&self) -> bool {
        *self == Self::Hardware
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hardware => "hardware",
            Self::Vm => "vm",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpPeer {
    pub name: K8sName,
    pub asn: Asn,
    pub address: IpAddr,
    /// `hardware` unless said otherwise; omitted from JSON when `hardware`.
    #[serde(default, skip_serializing_if = "Platform::is_hardware")]
    pub platform: Platform,
    /// The router's BGP identifier (an IPv4 address). Without it the router's own IPv4
    /// address is used; a router reached only over IPv6 needs it (see [`BgpPeer::router_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<IpAddr>,
}

impl BgpPeer {
    /// The `bgp router-id` of the router: the one given, else its IPv4 address. `None` for a
    /// router reached only over IPv6 without one: FRR would then use 0.0.0.0 when the router
    /// has no IPv4 address at all, and the nodes refuse the session ("Bad BGP Identifier").
    pub fn router_id(&self) -> Option<IpAddr> {
        self.router_id.or_else(|| self.address.is_ipv4().then_some(self.address))
    }
}

/// A router on the way from the client networks to the node subnet. An environment lists
/// them in path order: the first is nearest the clients, the last is the node subnet's
/// gateway (the one that asks ARP for a VIP). A BGP peer with a router's address is that
/// router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    pub name: K8sName,
    pub address: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpSettings {
    pub local_asn: Asn,
    pub peers: Vec<BgpPeer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advertisement {
    pub mode: AdvertisementMode,
    /// The label Gatehouse puts on every LoadBalancer Service (and Gateway infrastructure)
    /// of the environment; the L2 policy and the BGP advertisement select Services by it.
    pub label: Label,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp: Option<ArpSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpSettings>,
}

/// One environment: a Kubernetes cluster (or a slice of one) with its address plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EnvironmentInput")]
pub struct Environment {
    pub name: EnvironmentName,
    pub node_subnets: Vec<Cidr>,
    pub node_addresses: Vec<IpAddr>,
    pub pod_cidrs: Vec<Cidr>,
    pub service_cidr: Cidr,
    pub advertisement: Advertisement,
    pub protected: bool,
    /// Networks the clients come from (for the topology diagrams).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_networks: Vec<Cidr>,
    /// The routers between the clients and the node subnet, in path order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<Router>,
    /// The cluster the environment's objects go to, by the name Gatehouse is configured with
    /// (`--cluster NAME=KUBECONFIG`); none: the default cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<K8sName>,
    /// The namespace an application gets in this environment.
    #[serde(default, skip_serializing_if = "NamespaceTemplate::is_identity")]
    pub namespace_template: NamespaceTemplate,
}

impl Environment {
    /// The namespace `application` gets in this environment; an error when the template makes
    /// it too long (the checklist reports that as GH-ENV-NAMESPACE).
    pub fn namespace_of(&self, application: &Application) -> Result<K8sName, K8sNameError> {
        self.namespace_template.resolve(&application.namespace, &self.name)
    }

    /// The namespace to show and compare with: what the template gives, or the application's
    /// own when the template gives no valid name (GH-ENV-NAMESPACE reports that).
    pub fn namespace_or_own(&self, application: &Application) -> K8sName {
        self.namespace_of(application).unwrap_or_else(|_| application.namespace.clone())
    }

    /// The cluster's name, or `default`.
    pub fn cluster_name(&self) -> &str {
        self.cluster.as_ref().map_or(DEFAULT_CLUSTER, K8sName::as_str)
    }

    /// The router on the node subnet: the last of the path.
    pub fn gateway_router(&self) -> Option<&Router> {
        self.routers.last()
    }

    /// Production is what is protected, or what is called so.
    pub fn is_production(&self) -> bool {
        self.protected || is_production_name(&self.name)
    }

    pub fn parse(input: EnvironmentInput) -> Result<Self, FieldErrors> {
        Self::try_from(input)
    }
}

pub fn is_production_name(name: &EnvironmentName) -> bool {
    matches!(name.as_str(), "prod" | "production" | "prd")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelInput {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArpInput {
    pub interfaces: Vec<String>,
    pub node_selector: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BgpPeerInput {
    pub name: String,
    pub asn: Option<NumberInput>,
    pub address: String,
    /// `"hardware"` (the default) or `"vm"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// An IPv4 address; needed when `address` is IPv6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterInput {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BgpInput {
    pub local_asn: Option<NumberInput>,
    pub peers: Vec<BgpPeerInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdvertisementInput {
    pub mode: String,
    pub label: LabelInput,
    pub arp: Option<ArpInput>,
    pub bgp: Option<BgpInput>,
}

/// An environment as typed into a form or sent to the API; every field plain text.
/// Missing fields default to empty and are reported as `required`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentInput {
    pub name: String,
    pub node_subnets: Vec<String>,
    pub node_addresses: Vec<String>,
    pub pod_cidrs: Vec<String>,
    pub service_cidr: String,
    pub advertisement: AdvertisementInput,
    pub protected: bool,
    pub client_networks: Vec<String>,
    pub routers: Vec<RouterInput>,
    /// Read only, from documents written before `routers`: becomes a router named `router`.
    #[serde(skip_serializing)]
    pub external_router: Option<String>,
    /// Empty: the default cluster.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Empty: `{namespace}`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace_template: String,
}

impl From<&Environment> for EnvironmentInput {
    fn from(e: &Environment) -> Self {
        let strings = |v: &[Cidr]| v.iter().map(ToString::to_string).collect();
        Self {
            name: e.name.to_string(),
            node_subnets: strings(&e.node_subnets),
            node_addresses: e.node_addresses.iter().map(ToString::to_string).collect(),
            pod_cidrs: strings(&e.pod_cidrs),
            service_cidr: e.service_cidr.to_string(),
            advertisement: AdvertisementInput {
                mode: e.advertisement.mode.to_string(),
                label: LabelInput {
                    key: e.advertisement.label.key.to_string(),
                    value: e.advertisement.label.value.to_string(),
                },
                arp: e.advertisement.arp.as_ref().map(|a| ArpInput {
                    interfaces: a.interfaces.clone(),
                    node_selector: a.node_selector.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                }),
                bgp: e.advertisement.bgp.as_ref().map(|b| BgpInput {
                    local_asn: Some(NumberInput::Int(i64::from(b.local_asn.get()))),
                    peers: b
                        .peers
                        .iter()
                        .map(|p| BgpPeerInput {
                            name: p.name.to_string(),
                            asn: Some(NumberInput::Int(i64::from(p.asn.get()))),
                            address: p.address.to_string(),
                            platform: (!p.platform.is_hardware()).then(|| p.platform.as_str().to_owned()),
                            router_id: p.router_id.map(|id| id.to_string()),
                        })
                        .collect(),
                }),
            },
            protected: e.protected,
            client_networks: strings(&e.client_networks),
            routers: e
                .routers
                .iter()
                .map(|r| RouterInput { name: r.name.to_string(), address: r.address.to_string() })
                .collect(),
            external_router: None,
            cluster: e.cluster.as_ref().map(ToString::to_string).unwrap_or_default(),
            namespace_template: if e.namespace_template.is_identity() { String::new() } else { e.namespace_template.to_string() },
        }
    }
}

fn parse_asn(c: &mut Collector, field: &str, input: Option<&NumberInput>) -> Option<Asn> {
    match input {
        None => {
            c.push(field, "required", "an AS number is required, like 65001");
            None
        }
        Some(NumberInput::Int(v)) => c.take(field, Asn::new(*v)),
        Some(NumberInput::Text(s)) => c.take(field, Asn::parse(s)),
    }
}

fn parse_list<T, E: ErrorCode>(
    c: &mut Collector,
    field: &str,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, E>,
) -> Vec<T> {
    items.iter().enumerate().filter_map(|(i, s)| c.take(format!("{field}[{i}]"), parse(s))).collect()
}

fn parse_label(c: &mut Collector, field: &str, input: &LabelInput) -> Option<Label> {
    let key = c.take(format!("{field}.key"), LabelKey::parse(&input.key));
    let value = c.take(format!("{field}.value"), LabelValue::parse(&input.value));
    Some(Label { key: key?, value: value? })
}

fn parse_arp(c: &mut Collector, input: &ArpInput) -> ArpSettings {
    let mut interfaces = Vec::new();
    for (i, pattern) in input.interfaces.iter().enumerate() {
        let field = format!("advertisement.arp.interfaces[{i}]");
        if pattern.trim().is_empty() {
            c.push(field, "required", "an interface pattern is required, like ^eth[0-9]+$");
        } else if pattern.chars().any(|ch| ch.is_whitespace() || ch.is_control()) || pattern.len() > 256 {
            c.push(
                field,
                "invalid_interface",
                format!("`{pattern}` is not an interface pattern; write a regular expression without spaces, like ^eth[0-9]+$"),
            );
        } else {
            interfaces.push(pattern.clone());
        }
    }
    let mut node_selector = BTreeMap::new();
    for (k, v) in &input.node_selector {
        let field = format!("advertisement.arp.node_selector.{k}");
        let key = c.take(field.clone(), LabelKey::parse(k));
        let value = c.take(field, LabelValue::parse(v));
        if let (Some(key), Some(value)) = (key, value) {
            node_selector.insert(key, value);
        }
    }
    ArpSettings { interfaces, node_selector }
}

fn parse_routers(c: &mut Collector, input: &[RouterInput], legacy: Option<&str>) -> Vec<Router> {
    let mut routers = Vec::with_capacity(input.len() + 1);
    match legacy.map(str::trim) {
        None | Some("") => {}
        Some(_) if !input.is_empty() => c.push(
            "external_router",
            "duplicate",
            "external_router is replaced by routers; list the router there and remove external_router",
        ),
        Some(address) => {
            if let (Ok(name), Some(address)) =
                (K8sName::parse("router"), c.take("external_router", IpAddr::parse(address)))
            {
                routers.push(Router { name, address });
            }
        }
    }
    for (i, r) in input.iter().enumerate() {
        let field = format!("routers[{i}]");
        let name = c.take(format!("{field}.name"), K8sName::parse(&r.name));
        let address = c.take(format!("{field}.address"), IpAddr::parse(&r.address));
        if let Some(n) = &name
            && routers.iter().any(|known: &Router| &known.name == n)
        {
            c.push(format!("{field}.name"), "duplicate", format!("the router name `{n}` is used twice"));
        }
        if let Some(a) = address
            && routers.iter().any(|known| known.address == a)
        {
            c.push(format!("{field}.address"), "duplicate", format!("{a} is listed twice; each router is listed once"));
        }
        if let (Some(name), Some(address)) = (name, address) {
            routers.push(Router { name, address });
        }
    }
    routers
}

/// A BGP identifier: blank for none; otherwise an IPv4 address other than 0.0.0.0 (BGP
/// identifiers are 32 bits, and FRR's 0.0.0.0 is the very value the nodes refuse).
/// `Some(None)` when there is none, `None` when it is wrong.
fn parse_router_id(c: &mut Collector, field: &str, input: Option<&str>) -> Option<Option<IpAddr>> {
    let text = input.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Some(None);
    }
    let address = c.take(field, IpAddr::parse(text))?;
    if !address.is_ipv4() || address.to_u128() == 0 {
        c.push(
            field,
            "invalid_router_id",
            format!("a BGP router id is an IPv4 address other than 0.0.0.0, not {address}; use one of the router's IPv4 addresses, or any unique one such as 10.255.0.1"),
        );
        return None;
    }
    Some(Some(address))
}

fn parse_bgp(c: &mut Collector, input: &BgpInput) -> Option<BgpSettings> {
    let local_asn = parse_asn(c, "advertisement.bgp.local_asn", input.local_asn.as_ref());
    let mut peers = Vec::new();
    let mut names = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    for (i, p) in input.peers.iter().enumerate() {
        let field = format!("advertisement.bgp.peers[{i}]");
        let name = c.take(format!("{field}.name"), K8sName::parse(&p.name));
        let asn = parse_asn(c, &format!("{field}.asn"), p.asn.as_ref());
        let address = c.take(format!("{field}.address"), IpAddr::parse(&p.address));
        let platform = c.take(format!("{field}.platform"), Platform::parse(p.platform.as_deref().unwrap_or("")));
        let router_id = parse_router_id(c, &format!("{field}.router_id"), p.router_id.as_deref());
        if let Some(n) = &name
            && !names.insert(n.clone())
        {
            c.push(
                format!("{field}.name"),
                "duplicate",
                format!("the peer name `{n}` is used twice; give each peer its own name"),
            );
        }
        if let Some(a) = address
            && !addresses.insert(a)
        {
            c.push(format!("{field}.address"), "duplicate", format!("{a} is listed twice; each router is one peer"));
        }
        if let (Some(name), Some(asn), Some(address), Some(platform), Some(router_id)) = (name, asn, address, platform, router_id) {
            peers.push(BgpPeer { name, asn, address, platform, router_id });
        }
    }
    Some(BgpSettings { local_asn: local_asn?, peers })
}

impl TryFrom<EnvironmentInput> for Environment {
    type Error = FieldErrors;

    fn try_from(input: EnvironmentInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let name = c.take("name", EnvironmentName::parse(&input.name));
        let node_subnets = parse_list(&mut c, "node_subnets", &input.node_subnets, Cidr::parse);
        let node_addresses = parse_list(&mut c, "node_addresses", &input.node_addresses, IpAddr::parse);
        let pod_cidrs = parse_list(&mut c, "pod_cidrs", &input.pod_cidrs, Cidr::parse);
        let service_cidr = c.take("service_cidr", Cidr::parse(&input.service_cidr));
        let client_networks = parse_list(&mut c, "client_networks", &input.client_networks, Cidr::parse);
        let routers = parse_routers(&mut c, &input.routers, input.external_router.as_deref());
        let cluster = match input.cluster.trim() {
            "" | DEFAULT_CLUSTER => None,
            name => c.take("cluster", K8sName::parse(name)),
        };
        let namespace_template = c.take("namespace_template", NamespaceTemplate::parse(&input.namespace_template));

        let adv = &input.advertisement;
        let mode = c.take("advertisement.mode", AdvertisementMode::parse(&adv.mode));
        let label = parse_label(&mut c, "advertisement.label", &adv.label);
        let arp = adv.arp.as_ref().map(|a| parse_arp(&mut c, a));
        let bgp = adv.bgp.as_ref().and_then(|b| parse_bgp(&mut c, b));
        if mode.is_some_and(AdvertisementMode::uses_bgp) && adv.bgp.is_none() {
            c.push("advertisement.bgp", "required", "BGP mode needs BGP settings: the local AS number and the peers");
        }

        if input.node_subnets.is_empty() {
            c.push("node_subnets", "required", "at least one node subnet is required, like 192.168.101.0/24");
        }
        if input.pod_cidrs.is_empty() {
            c.push("pod_cidrs", "required", "at least one pod CIDR is required, like 10.10.0.0/16");
        }
        // Node addresses: inside a node subnet, each once. Only judged when all subnets parsed.
        if node_subnets.len() == input.node_subnets.len() && !node_subnets.is_empty() {
            let mut seen = BTreeSet::new();
            for (i, a) in input.node_addresses.iter().enumerate() {
                let Ok(a) = IpAddr::parse(a) else { continue };
                if !node_subnets.iter().any(|s| s.contains(&a)) {
                    let subnets = node_subnets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                    c.push(
                        format!("node_addresses[{i}]"),
                        "outside_node_subnet",
                        format!("node address {a} is outside the node subnets ({subnets}); fix the address or add its subnet"),
                    );
                }
                if !seen.insert(a) {
                    c.push(format!("node_addresses[{i}]"), "duplicate", format!("node address {a} is listed twice"));
                }
            }
        }
        // Ranges of one environment must not overlap (pods, services, nodes).
        let mut spans: Vec<Span<String>> = Vec::new();
        for (i, s) in input.node_subnets.iter().enumerate() {
            if let Ok(cidr) = Cidr::parse(s) {
                spans.push(cidr.span(format!("node_subnets[{i}]")));
            }
        }
        for (i, s) in input.pod_cidrs.iter().enumerate() {
            if let Ok(cidr) = Cidr::parse(s) {
                spans.push(cidr.span(format!("pod_cidrs[{i}]")));
            }
        }
        if let Some(svc) = service_cidr {
            spans.push(svc.span("service_cidr".to_owned()));
        }
        for (i, j) in overlapping_pairs(&spans) {
            // Report on the later field, naming the earlier one.
            let (first, second) = (&spans[i].owner, &spans[j].owner);
            c.push(
                second.clone(),
                "range_overlap",
                format!("{second} overlaps {first}; the ranges of an environment must be distinct"),
            );
        }

        if !c.is_empty() {
            return Err(c.finish());
        }
        match (name, service_cidr, mode, label, namespace_template) {
            (Some(name), Some(service_cidr), Some(mode), Some(label), Some(namespace_template)) => Ok(Environment {
                name,
                node_subnets,
                node_addresses,
                pod_cidrs,
                service_cidr,
                advertisement: Advertisement { mode, label, arp, bgp },
                protected: input.protected,
                client_networks,
                routers,
                cluster,
                namespace_template,
            }),
            // Unreachable: every `None` above recorded an error.
            _ => Err(c.finish()),
        }
    }
}

// =============================================================================================
// VIP pools

/// One block of a CiliumLoadBalancerIPPool: `{"cidr": …}` or `{"start": …, "stop": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PoolBlock {
    Cidr(Cidr),
    Range(IpRange),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolBlockError {
    #[error("a block is either {{\"cidr\": …}} or {{\"start\": …, \"stop\": …}}; this one is neither")]
    Neither,
    #[error("a block is either {{\"cidr\": …}} or {{\"start\": …, \"stop\": …}}, not both")]
    Both,
    #[error("`{input}` is neither a CIDR (192.168.101.192/28) nor a range (192.168.101.240-192.168.101.250)")]
    Unrecognised { input: String },
    #[error(transparent)]
    Cidr(#[from] CidrError),
    #[error(transparent)]
    Range(#[from] IpRangeError),
}

impl ErrorCode for PoolBlockError {
    fn code(&self) -> &'static str {
        match self {
            Self::Cidr(e) => e.code(),
            Self::Range(e) => e.code(),
            _ => "invalid_block",
        }
    }
}

impl PoolBlock {
    /// Parses the text form: `192.168.101.192/28` or `192.168.101.240-192.168.101.250`.
    pub fn parse(input: &str) -> Result<Self, PoolBlockError> {
        let s = input.trim();
        if s.contains('/') {
            Ok(Self::Cidr(Cidr::parse(s)?))
        } else if s.contains('-') {
            Ok(Self::Range(IpRange::parse(s)?))
        } else if s.is_empty() {
            Err(PoolBlockError::Neither)
        } else {
            Err(PoolBlockError::Unrecognised { input: s.to_owned() })
        }
    }

    pub fn family(&self) -> IpFamily {
        match self {
            Self::Cidr(c) => c.family(),
            Self::Range(r) => r.family(),
        }
    }

    pub fn first_u128(&self) -> u128 {
        match self {
            Self::Cidr(c) => c.first_u128(),
            Self::Range(r) => r.first_u128(),
        }
    }

    pub fn last_u128(&self) -> u128 {
        match self {
            Self::Cidr(c) => c.last_u128(),
            Self::Range(r) => r.last_u128(),
        }
    }

    pub fn first(&self) -> IpAddr {
        match self {
            Self::Cidr(c) => c.network(),
            Self::Range(r) => r.start(),
        }
    }

    pub fn last(&self) -> IpAddr {
        match self {
            Self::Cidr(c) => c.last(),
            Self::Range(r) => r.stop(),
        }
    }

    pub fn size(&self) -> u128 {
        match self {
            Self::Cidr(c) => c.size(),
            Self::Range(r) => r.size(),
        }
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        match self {
            Self::Cidr(c) => c.contains(address),
            Self::Range(r) => r.contains(address),
        }
    }

    pub fn span<O>(&self, owner: O) -> Span<O> {
        Span { family: self.family(), start: self.first_u128(), end: self.last_u128(), owner }
    }

    pub fn as_range(&self) -> IpRange {
        match self {
            Self::Cidr(c) => IpRange::from(*c),
            Self::Range(r) => *r,
        }
    }
}

impl FromStr for PoolBlock {
    type Err = PoolBlockError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PoolBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cidr(c) => c.fmt(f),
            Self::Range(r) => r.fmt(f),
        }
    }
}

impl Serialize for PoolBlock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Cidr(c) => {
                let mut m = s.serialize_struct("PoolBlock", 1)?;
                m.serialize_field("cidr", c)?;
                m.end()
            }
            Self::Range(r) => {
                let mut m = s.serialize_struct("PoolBlock", 2)?;
                m.serialize_field("start", &r.start())?;
                m.serialize_field("stop", &r.stop())?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for PoolBlock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let input = PoolBlockInput::deserialize(d)?;
        input.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolBlockInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
}

impl PoolBlockInput {
    pub fn parse(&self) -> Result<PoolBlock, PoolBlockError> {
        match (&self.cidr, &self.start, &self.stop) {
            (Some(c), None, None) => Ok(PoolBlock::Cidr(Cidr::parse(c)?)),
            (None, Some(a), Some(b)) => Ok(PoolBlock::Range(IpRange::from_parts(a, b)?)),
            (None, None, None) => Err(PoolBlockError::Neither),
            (None, Some(_), None) | (None, None, Some(_)) => Err(PoolBlockError::Range(IpRangeError::MissingDash {
                input: "a range needs both start and stop".to_owned(),
            })),
            _ => Err(PoolBlockError::Both),
        }
    }
}

impl From<PoolBlock> for PoolBlockInput {
    fn from(b: PoolBlock) -> Self {
        match b {
            PoolBlock::Cidr(c) => Self { cidr: Some(c.to_string()), ..Self::default() },
            PoolBlock::Range(r) => {
                Self { start: Some(r.start().to_string()), stop: Some(r.stop().to_string()), cidr: None }
            }
        }
    }
}

/// A pool of VIPs for LoadBalancer Services (a CiliumLoadBalancerIPPool).
/// Serialised with its computed `size` (API.md); the server adds `allocated`/`reserved`/`free`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "VipPoolInput")]
pub struct VipPool {
    pub id: Option<i64>,
    pub environment: EnvironmentName,
    pub name: K8sName,
    pub blocks: Vec<PoolBlock>,
}

impl VipPool {
    pub fn parse(input: VipPoolInput) -> Result<Self, FieldErrors> {
        Self::try_from(input)
    }

    /// Number of addresses in all blocks (saturating).
    pub fn size(&self) -> u128 {
        self.blocks.iter().fold(0u128, |n, b| n.saturating_add(b.size()))
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        self.blocks.iter().any(|b| b.contains(address))
    }
}

impl Serialize for VipPool {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("VipPool", 5)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("environment", &self.environment)?;
        m.serialize_field("name", &self.name)?;
        m.serialize_field("blocks", &self.blocks)?;
        m.serialize_field("size", &self.size())?;
        m.end()
    }
}

/// A pool as sent to the API. The read-only fields of a pool read back from the API
/// (`size`, `allocated`, `reserved`, `free`) are accepted and ignored, so GET → PUT works.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VipPoolInput {
    pub id: Option<i64>,
    pub environment: String,
    pub name: String,
    pub blocks: Vec<PoolBlockInput>,
    #[serde(skip_serializing)]
    pub size: Option<IgnoredAny>,
    #[serde(skip_serializing)]
    pub allocated: Option<IgnoredAny>,
    #[serde(skip_serializing)]
    pub reserved: Option<IgnoredAny>,
    #[serde(skip_serializing)]
    pub free: Option<IgnoredAny>,
}

impl From<&VipPool> for VipPoolInput {
    fn from(p: &VipPool) -> Self {
        Self {
            id: p.id,
            environment: p.environment.to_string(),
            name: p.name.to_string(),
            blocks: p.blocks.iter().copied().map(PoolBlockInput::from).collect(),
            ..Self::default()
        }
    }
}

impl TryFrom<VipPoolInput> for VipPool {
    type Error = FieldErrors;

    fn try_from(input: VipPoolInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let environment = c.take("environment", EnvironmentName::parse(&input.environment));
        let name = c.take("name", K8sName::parse(&input.name));
        if input.blocks.is_empty() {
            c.push("blocks", "required", "a pool needs at least one block, like {\"cidr\": \"192.168.101.192/28\"}");
        }
        let mut blocks = Vec::with_capacity(input.blocks.len());
        let mut spans = Vec::with_capacity(input.blocks.len());
        for (i, b) in input.blocks.iter().enumerate() {
            if let Some(block) = c.take(format!("blocks[{i}]"), b.parse()) {
                spans.push(block.span(i));
                blocks.push(block);
            }
        }
        for (a, b) in overlapping_pairs(&spans) {
            let (first, second) = (spans[a].owner, spans[b].owner);
            c.push(
                format!("blocks[{second}]"),
                "range_overlap",
                format!(
                    "blocks[{second}] ({}) overlaps blocks[{first}] ({}); each address belongs to one block",
                    blocks[b], blocks[a]
                ),
            );
        }
        if !c.is_empty() {
            return Err(c.finish());
        }
        match (environment, name) {
            (Some(environment), Some(name)) => Ok(VipPool { id: input.id, environment, name, blocks }),
            _ => Err(c.finish()),
        }
    }
}

// =============================================================================================
// Applications

/// The VIP an application asks for in an environment: the next free one, or a given address.
/// Serialised as `"auto"` or the address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VipRequest {
    #[default]
    Auto,
    Address(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is neither `auto` nor an IP address; write `auto` to get the next free VIP, or an address from the environment's pool"
)]
pub struct VipRequestError {
    pub input: String,
}

impl ErrorCode for VipRequestError {
    fn code(&self) -> &'static str {
        "invalid_vip"
    }
}

impl VipRequest {
    pub fn parse(input: &str) -> Result<Self, VipRequestError> {
        let s = input.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        IpAddr::parse(s).map(Self::Address).map_err(|_| VipRequestError { input: s.to_owned() })
    }

    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Self::Auto => None,
            Self::Address(a) => Some(*a),
        }
    }
}

impl FromStr for VipRequest {
    type Err = VipRequestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for VipRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Address(a) => a.fmt(f),
        }
    }
}

serde_via_str!(VipRequest);

/// `externalTrafficPolicy` of the Service in front of the application (the Gateway's
/// generated Service or a LoadBalancer Service). Kubernetes spelling in JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExternalTrafficPolicy {
    #[default]
    Cluster,
    Local,
}

impl ExternalTrafficPolicy {
    pub fn parse(input: &str) -> Result<Self, ChoiceError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "" | "cluster" => Ok(Self::Cluster),
            "local" => Ok(Self::Local),
            _ => Err(ChoiceError {
                input: input.trim().to_owned(),
                what: "external traffic policy",
                allowed: "Cluster, Local",
                code: "invalid_traffic_policy",
            }),
        }
    }

    fn is_cluster(&self) -> bool {
        *self == Self::Cluster
    }
}

/// How an application runs in one environment: its routes, its config and its VIP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppEnvironment {
    pub hostnames: Vec<Hostname>,
    /// HTTPRoute path prefixes; empty means every path (`/`).
    pub paths: Vec<HttpPath>,
    /// The data of the environment's ConfigMap.
    pub config: BTreeMap<ConfigKey, String>,
    /// Name of the TLS certificate (Secret) the environment's Gateway terminates with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<K8sSubdomain>,
    #[serde(default)]
    pub vip: VipRequest,
    #[serde(default, skip_serializing_if = "ExternalTrafficPolicy::is_cluster")]
    pub external_traffic_policy: ExternalTrafficPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ApplicationInput")]
pub struct Application {
    pub name: K8sName,
    pub namespace: K8sName,
    pub image: ImageRef,
    pub replicas: u32,
    pub port: Port,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_path: Option<HttpPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_path: Option<HttpPath>,
    pub environments: BTreeMap<EnvironmentName, AppEnvironment>,
}

impl Application {
    pub fn parse(input: ApplicationInput) -> Result<Self, FieldErrors> {
        Self::try_from(input)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppEnvironmentInput {
    pub hostnames: Vec<String>,
    pub paths: Vec<String>,
    pub config: BTreeMap<String, String>,
    pub certificate: Option<String>,
    /// `"auto"` (the default) or an address.
    pub vip: Option<String>,
    /// `"Cluster"` (the default) or `"Local"`.
    pub external_traffic_policy: Option<String>,
}

/// An application as typed into a form or sent to the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: String,
    pub namespace: String,
    pub image: String,
    /// Defaults to 1, like a Deployment.
    pub replicas: Option<NumberInput>,
    pub port: Option<NumberInput>,
    pub readiness_path: Option<String>,
    pub liveness_path: Option<String>,
    pub environments: BTreeMap<String, AppEnvironmentInput>,
}

impl From<&Application> for ApplicationInput {
    fn from(a: &Application) -> Self {
        Self {
            name: a.name.to_string(),
            namespace: a.namespace.to_string(),
            image: a.image.to_string(),
            replicas: Some(NumberInput::Int(i64::from(a.replicas))),
            port: Some(NumberInput::Int(i64::from(a.port.get()))),
            readiness_path: a.readiness_path.as_ref().map(ToString::to_string),
            liveness_path: a.liveness_path.as_ref().map(ToString::to_string),
            environments: a
                .environments
                .iter()
                .map(|(name, e)| {
                    let input = AppEnvironmentInput {
                        hostnames: e.hostnames.iter().map(ToString::to_string).collect(),
                        paths: e.paths.iter().map(ToString::to_string).collect(),
                        config: e.config.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
                        certificate: e.certificate.as_ref().map(ToString::to_string),
                        vip: Some(e.vip.to_string()),
                        external_traffic_policy: match e.external_traffic_policy {
                            ExternalTrafficPolicy::Cluster => None,
                            ExternalTrafficPolicy::Local => Some("Local".to_owned()),
                        },
                    };
                    (name.to_string(), input)
                })
                .collect(),
        }
    }
}

fn optional_path(c: &mut Collector, field: &str, input: Option<&str>) -> Option<HttpPath> {
    match input.map(str::trim) {
        None | Some("") => None,
        Some(p) => c.take(field, HttpPath::parse(p)),
    }
}

fn parse_app_environment(c: &mut Collector, prefix: &str, input: &AppEnvironmentInput) -> AppEnvironment {
    let mut hostnames = Vec::with_capacity(input.hostnames.len());
    for (i, h) in input.hostnames.iter().enumerate() {
        let field = format!("{prefix}.hostnames[{i}]");
        if let Some(h) = c.take(field.clone(), Hostname::parse(h)) {
            if hostnames.contains(&h) {
                c.push(field, "duplicate", format!("{h} is listed twice"));
            } else {
                hostnames.push(h);
            }
        }
    }
    let mut paths = Vec::with_capacity(input.paths.len());
    for (i, p) in input.paths.iter().enumerate() {
        let field = format!("{prefix}.paths[{i}]");
        if let Some(p) = c.take(field.clone(), HttpPath::parse(p)) {
            if paths.contains(&p) {
                c.push(field, "duplicate", format!("the path {p} is listed twice"));
            } else {
                paths.push(p);
            }
        }
    }
    let mut config = BTreeMap::new();
    for (k, v) in &input.config {
        if let Some(key) = c.take(format!("{prefix}.config.{k}"), ConfigKey::parse(k)) {
            config.insert(key, v.clone());
        }
    }
    let certificate = match input.certificate.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => c.take(format!("{prefix}.certificate"), K8sSubdomain::parse(s)),
    };
    let vip =
        c.take(format!("{prefix}.vip"), VipRequest::parse(input.vip.as_deref().unwrap_or("auto"))).unwrap_or_default();
    let external_traffic_policy = c
        .take(
            format!("{prefix}.external_traffic_policy"),
            ExternalTrafficPolicy::parse(input.external_traffic_policy.as_deref().unwrap_or("")),
        )
        .unwrap_or_default();
    AppEnvironment { hostnames, paths, config, certificate, vip, external_traffic_policy }
}

impl TryFrom<ApplicationInput> for Application {
    type Error = FieldErrors;

    fn try_from(input: ApplicationInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let name = c.take("name", K8sName::parse(&input.name));
        let namespace = c.take("namespace", K8sName::parse(&input.namespace));
        let image = c.take("image", ImageRef::parse(&input.image));
        let replicas = match &input.replicas {
            None => Some(1),
            Some(n) => {
                let value = match n {
                    NumberInput::Int(v) => Some(*v),
                    NumberInput::Text(s) => s.trim().parse::<i64>().ok(),
                };
                let replicas = value.and_then(|v| u32::try_from(v).ok()).filter(|v| *v <= 10_000);
                if replicas.is_none() {
                    c.push("replicas", "invalid_replicas", "replicas must be a whole number from 0 to 10000, like 3");
                }
                replicas
            }
        };
        let port = match &input.port {
            None => {
                c.push("port", "required", "the container port is required, like 8080");
                None
            }
            Some(NumberInput::Int(v)) => c.take("port", Port::new(*v)),
            Some(NumberInput::Text(s)) => c.take("port", Port::parse(s)),
        };
        let readiness_path = optional_path(&mut c, "readiness_path", input.readiness_path.as_deref());
        let liveness_path = optional_path(&mut c, "liveness_path", input.liveness_path.as_deref());
        let mut environments = BTreeMap::new();
        for (env, e) in &input.environments {
            let prefix = format!("environments.{env}");
            let env_name = c.take(prefix.clone(), EnvironmentName::parse(env));
            let parsed = parse_app_environment(&mut c, &prefix, e);
            if let Some(env_name) = env_name {
                environments.insert(env_name, parsed);
            }
        }
        if !c.is_empty() {
            return Err(c.finish());
        }
        match (name, namespace, image, replicas, port) {
            (Some(name), Some(namespace), Some(image), Some(replicas), Some(port)) => {
                Ok(Application { name, namespace, image, replicas, port, readiness_path, liveness_path, environments })
            }
            _ => Err(c.finish()),
        }
    }
}

// =============================================================================================
// Certificates, allocations, the plan

/// What Gatehouse knows about an uploaded TLS certificate: metadata only, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub environment: EnvironmentName,
    pub name: K8sSubdomain,
    /// Subject alternative names as found in the certificate (DNS names; IP SANs as text).
    pub sans: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub fingerprint_sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo: equal values mean a shared private key.
    pub public_key_fingerprint: String,
    /// Set when the certificate is a `kubernetes.io/tls` Secret already in the cluster rather
    /// than an upload. Until Gatehouse reads it (an empty fingerprint) its names, validity and
    /// key are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<super::certificates::SecretReference>,
    /// The namespaces whose applications may use it ([`super::certificates::not_allowed`]).
    #[serde(default, skip_serializing_if = "super::certificates::CertificateOwners::is_empty")]
    pub owners: super::certificates::CertificateOwners,
}

impl CertificateInfo {
    /// A Secret reference whose certificate has not been read yet.
    pub fn is_pending(&self) -> bool {
        self.secret_ref.is_some() && self.fingerprint_sha256.is_empty()
    }
}

/// An address handed out from a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub address: IpAddr,
    pub pool_id: i64,
    pub environment: EnvironmentName,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<K8sName>,
}

/// Everything the checklist looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plan {
    pub environments: Vec<Environment>,
    pub pools: Vec<VipPool>,
    pub applications: Vec<Application>,
    pub allocations: Vec<Allocation>,
    /// `None`: certificates are not known (e.g. not uploaded yet, or a draft plan), so the
    /// certificate rules are skipped. `Some(list)`: the list is authoritative — a referenced
    /// certificate that is not in it is missing.
    pub certificates: Option<Vec<CertificateInfo>>,
}

impl Plan {
    pub fn environment(&self, name: &EnvironmentName) -> Option<&Environment> {
        self.environments.iter().find(|e| &e.name == name)
    }

    pub fn application(&self, name: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.name.as_str() == name)
    }

    /// The part of the plan about `environments`: them, their pools and allocations, and the
    /// applications' settings for them (applications in none of them left out). What one
    /// cluster is compared with, when environments go to different clusters.
    pub fn only_environments(&self, environments: &[&EnvironmentName]) -> Plan {
        let kept = |name: &EnvironmentName| environments.contains(&name);
        Plan {
            environments: self.environments.iter().filter(|e| kept(&e.name)).cloned().collect(),
            pools: self.pools.iter().filter(|p| kept(&p.environment)).cloned().collect(),
            applications: self
                .applications
                .iter()
                .filter_map(|a| {
                    let mut a = a.clone();
                    a.environments.retain(|name, _| kept(name));
                    (!a.environments.is_empty()).then_some(a)
                })
                .collect(),
            allocations: self.allocations.iter().filter(|a| kept(&a.environment)).cloned().collect(),
            certificates: self
                .certificates
                .as_ref()
                .map(|certificates| certificates.iter().filter(|c| kept(&c.environment)).cloned().collect()),
        }
    }

    /// The namespace `application` gets in `environment` ([`Environment::namespace_or_own`]),
    /// or the application's own when the environment is unknown.
    pub fn namespace_in(&self, application: &Application, environment: &EnvironmentName) -> K8sName {
        self.environment(environment).map_or_else(|| application.namespace.clone(), |env| env.namespace_or_own(application))
    }

    pub fn pools_of<'a>(&'a self, environment: &'a EnvironmentName) -> impl Iterator<Item = &'a VipPool> + 'a {
        self.pools.iter().filter(move |p| &p.environment == environment)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use serde_json::json;

    use super::*;

    /// The environment example of API.md, verbatim.
    fn api_environment() -> serde_json::Value {
        json!({"name": "dev",
         "node_subnets": ["192.168.101.0/24"], "node_addresses": ["192.168.101.11", "192.168.101.12", "192.168.101.13"],
         "pod_cidrs": ["10.10.0.0/16"], "service_cidr": "10.96.0.0/16",
         "advertisement": {"mode": "arp",
                           "label": {"key": "gatehouse.io/advertise", "value": "dev"},
                           "arp": {"interfaces": ["^eth[0-9]+$"]},
                           "bgp": {"local_asn": 65001, "peers": [{"name": "frr", "asn": 65000, "address": "192.168.101.1"}]}},
         "protected": false})
    }

    fn errors_of(input: EnvironmentInput) -> Vec<(String, String)> {
        Environment::try_from(input).unwrap_err().into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn environment_parses_the_api_example_and_round_trips() {
        let env: Environment = serde_json::from_value(api_environment()).unwrap();
        assert_eq!(env.name, "dev");
        assert_eq!(env.advertisement.mode, AdvertisementMode::Arp);
        assert_eq!(env.advertisement.bgp.as_ref().unwrap().peers[0].asn.get(), 65_000);
        assert!(!env.is_production());
        let back = serde_json::to_value(&env).unwrap();
        assert_eq!(back, api_environment(), "serialises to the API shape");
        assert_eq!(Environment::try_from(EnvironmentInput::from(&env)).unwrap(), env);
    }

    #[test]
    fn environment_collects_every_field_error() {
        let mut doc = api_environment();
        doc["name"] = json!("Dev");
        doc["pod_cidrs"] = json!(["10.10.0.5/16", "10.300.0.0/16"]);
        doc["service_cidr"] = json!("");
        doc["advertisement"]["mode"] = json!("ospf");
        doc["advertisement"]["bgp"]["peers"] = json!([
            {"name": "frr", "asn": 65000, "address": "192.168.101.1"},
            {"name": "frr", "asn": 23456, "address": "nope"}
        ]);
        let input: EnvironmentInput = serde_json::from_value(doc).unwrap();
        let errors = Environment::try_from(input).unwrap_err();
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        for expected in [
            ("name", "invalid_environment_name"),
            ("pod_cidrs[0]", "invalid_cidr"),
            ("pod_cidrs[1]", "invalid_cidr"),
            ("service_cidr", "required"),
            ("advertisement.mode", "invalid_mode"),
            ("advertisement.bgp.peers[1].name", "duplicate"),
            ("advertisement.bgp.peers[1].asn", "invalid_asn"),
            ("advertisement.bgp.peers[1].address", "invalid_ip"),
        ] {
            assert!(fields.contains(&expected), "{expected:?} missing from {fields:?}");
        }
        let host_bits = errors.get("pod_cidrs[0]").unwrap();
        assert!(host_bits.message.contains("did you mean 10.10.0.0/16?"), "{}", host_bits.message);
    }

    #[test]
    fn environment_cross_field_checks() {
        let mut input: EnvironmentInput = serde_json::from_value(api_environment()).unwrap();
        input.node_addresses.push("192.168.102.7".into());
        input.node_addresses.push("192.168.101.11".into());
        input.service_cidr = "10.10.128.0/17".into();
        input.pod_cidrs.push("192.168.0.0/16".into());
        input.advertisement.mode = "bgp".into();
        input.advertisement.bgp = None;
        let errors = errors_of(input);
        for expected in [
            ("node_addresses[3]", "outside_node_subnet"),
            ("node_addresses[4]", "duplicate"),
            ("service_cidr", "range_overlap"),
            ("advertisement.bgp", "required"),
        ] {
            assert!(
                errors.iter().any(|(f, c)| (f.as_str(), c.as_str()) == expected),
                "{expected:?} missing from {errors:?}"
            );
        }
        assert!(errors.contains(&("pod_cidrs[1]".to_owned(), "range_overlap".to_owned())), "{errors:?}");
    }

    #[test]
    fn environment_missing_fields_are_required_errors_and_unknown_fields_are_refused() {
        let input: EnvironmentInput = serde_json::from_value(json!({"name": "dev"})).unwrap();
        let errors = errors_of(input);
        for field in ["node_subnets", "pod_cidrs", "service_cidr", "advertisement.mode", "advertisement.label.key"] {
            assert!(errors.contains(&(field.to_owned(), "required".to_owned())), "{field} in {errors:?}");
        }
        let mut doc = api_environment();
        doc["colour"] = json!("blue");
        assert!(serde_json::from_value::<EnvironmentInput>(doc.clone()).is_err());
        assert!(serde_json::from_value::<Environment>(doc).is_err());
    }

    #[test]
    fn routers_and_peer_platforms_parse_and_round_trip() {
        let mut doc = api_environment();
        doc["client_networks"] = json!(["192.168.99.0/24"]);
        doc["routers"] = json!([{"name": "edge", "address": "192.168.99.1"}, {"name": "core", "address": "192.168.101.1"}]);
        doc["advertisement"]["bgp"]["peers"][0]["platform"] = json!("vm");
        let env: Environment = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(env.gateway_router().map(|r| r.name.as_str()), Some("core"));
        assert_eq!(env.advertisement.bgp.as_ref().unwrap().peers[0].platform, Platform::Vm);
        assert_eq!(serde_json::to_value(&env).unwrap(), doc, "routers and a vm platform are written back");
        assert_eq!(Environment::try_from(EnvironmentInput::from(&env)).unwrap(), env);

        doc["routers"] = json!([{"name": "edge", "address": "192.168.99.1"}, {"name": "edge", "address": "192.168.99.1"}, {"name": "Core", "address": "x"}]);
        doc["advertisement"]["bgp"]["peers"][0]["platform"] = json!("cloud");
        let errors = errors_of(serde_json::from_value(doc).unwrap());
        for expected in [
            ("routers[1].name", "duplicate"),
            ("routers[1].address", "duplicate"),
            ("routers[2].name", "invalid_k8s_name"),
            ("routers[2].address", "invalid_ip"),
            ("advertisement.bgp.peers[0].platform", "invalid_platform"),
        ] {
            assert!(errors.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {errors:?}");
        }
    }

    #[test]
    fn a_router_id_is_an_ipv4_address_and_defaults_to_the_routers_ipv4_address() {
        let mut doc = api_environment();
        let env: Environment = serde_json::from_value(doc.clone()).unwrap();
        let peer = &env.advertisement.bgp.as_ref().unwrap().peers[0];
        assert_eq!((peer.router_id, peer.router_id()), (None, Some(peer.address)), "an IPv4 router is its own id");

        doc["advertisement"]["bgp"]["peers"][0]["address"] = json!("fd00:101::1");
        let env: Environment = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(env.advertisement.bgp.as_ref().unwrap().peers[0].router_id(), None, "an IPv6-only router has none");

        doc["advertisement"]["bgp"]["peers"][0]["router_id"] = json!("10.255.0.1");
        let env: Environment = serde_json::from_value(doc.clone()).unwrap();
        let peer = &env.advertisement.bgp.as_ref().unwrap().peers[0];
        assert_eq!(peer.router_id().map(|id| id.to_string()).as_deref(), Some("10.255.0.1"));
        assert_eq!(serde_json::to_value(&env).unwrap(), doc, "the router id is written back");
        assert_eq!(Environment::try_from(EnvironmentInput::from(&env)).unwrap(), env);

        for wrong in ["fd00::1", "0.0.0.0", "router"] {
            doc["advertisement"]["bgp"]["peers"][0]["router_id"] = json!(wrong);
            let errors = errors_of(serde_json::from_value(doc.clone()).unwrap());
            assert!(
                errors.iter().any(|(field, _)| field == "advertisement.bgp.peers[0].router_id"),
                "{wrong}: {errors:?}"
            );
        }
    }

    #[test]
    fn documents_with_the_older_external_router_still_load() {
        let mut doc = api_environment();
        doc["external_router"] = json!("192.168.101.1");
        let env: Environment = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(env.routers, vec![Router { name: K8sName::parse("router").unwrap(), address: IpAddr::parse("192.168.101.1").unwrap() }]);
        assert!(serde_json::to_value(&env).unwrap().get("external_router").is_none(), "written as routers");
        doc["routers"] = json!([{"name": "core", "address": "192.168.101.1"}]);
        let errors = errors_of(serde_json::from_value(doc).unwrap());
        assert_eq!(errors, vec![("external_router".to_owned(), "duplicate".to_owned())]);
    }

    #[test]
    fn asn_fields_accept_numbers_and_text() {
        let mut input: EnvironmentInput = serde_json::from_value(api_environment()).unwrap();
        if let Some(bgp) = input.advertisement.bgp.as_mut() {
            bgp.local_asn = Some("AS65010".into());
        }
        let env = Environment::try_from(input).unwrap();
        assert_eq!(env.advertisement.bgp.unwrap().local_asn.get(), 65_010);
    }

    #[test]
    fn arp_node_selector_is_typed() {
        let mut doc = api_environment();
        doc["advertisement"]["arp"]["node_selector"] = json!({"node-role.kubernetes.io/worker": "", "Bad Key": "x"});
        let input: EnvironmentInput = serde_json::from_value(doc).unwrap();
        let errors = errors_of(input);
        assert_eq!(
            errors,
            vec![("advertisement.arp.node_selector.Bad Key".to_owned(), "invalid_label_key".to_owned())]
        );
    }

    /// The pool example of API.md, verbatim (read-only fields included).
    fn api_pool() -> serde_json::Value {
        json!({"id": 1, "environment": "dev", "name": "dev-vips",
         "blocks": [{"cidr": "192.168.101.192/28"}, {"start": "192.168.101.240", "stop": "192.168.101.250"}],
         "size": 27, "allocated": 3, "reserved": 1, "free": 23})
    }

    #[test]
    fn pool_parses_the_api_example() {
        let pool: VipPool = serde_json::from_value(api_pool()).unwrap();
        assert_eq!(pool.size(), 27);
        assert!(pool.contains(&IpAddr::parse("192.168.101.245").unwrap()));
        assert!(!pool.contains(&IpAddr::parse("192.168.101.230").unwrap()));
        let back = serde_json::to_value(&pool).unwrap();
        assert_eq!(
            back,
            json!({"id": 1, "environment": "dev", "name": "dev-vips",
                   "blocks": [{"cidr": "192.168.101.192/28"}, {"start": "192.168.101.240", "stop": "192.168.101.250"}],
                   "size": 27})
        );
        assert_eq!(serde_json::from_value::<VipPool>(back).unwrap(), pool);
        let blocks: Vec<PoolBlock> = serde_json::from_value(api_pool()["blocks"].clone()).unwrap();
        assert_eq!(blocks, pool.blocks);
    }

    #[test]
    fn pool_errors() {
        let input: VipPoolInput = serde_json::from_value(json!({
            "environment": "dev", "name": "Dev VIPs",
            "blocks": [{"cidr": "192.168.101.192/28"}, {"cidr": "192.168.101.200/29"}, {}, {"cidr": "10.0.0.0/8", "start": "10.0.0.1"},
                       {"start": "10.0.0.9", "stop": "10.0.0.1"}]
        }))
        .unwrap();
        let errors: Vec<(String, String)> =
            VipPool::try_from(input).unwrap_err().into_iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(
            errors,
            vec![
                ("name".to_owned(), "invalid_k8s_name".to_owned()),
                ("blocks[2]".to_owned(), "invalid_block".to_owned()),
                ("blocks[3]".to_owned(), "invalid_block".to_owned()),
                ("blocks[4]".to_owned(), "invalid_ip_range".to_owned()),
                ("blocks[1]".to_owned(), "range_overlap".to_owned()),
            ]
        );
        let empty: VipPoolInput = serde_json::from_value(json!({"environment": "dev", "name": "x"})).unwrap();
        assert_eq!(VipPool::try_from(empty).unwrap_err().get("blocks").unwrap().code, "required");
    }

    #[test]
    fn pool_block_text_form() {
        assert_eq!(PoolBlock::parse("192.168.101.192/28").unwrap().size(), 16);
        assert_eq!(PoolBlock::parse("192.168.101.240-192.168.101.250").unwrap().size(), 11);
        assert!(matches!(PoolBlock::parse("192.168.101.240"), Err(PoolBlockError::Unrecognised { .. })));
        let block = PoolBlock::parse("fd00::/120").unwrap();
        assert_eq!(PoolBlock::parse(&block.to_string()).unwrap(), block);
    }

    /// The application example of API.md, verbatim.
    fn api_application() -> serde_json::Value {
        json!({"name": "api", "namespace": "cd-service", "image": "registry.example/cd-service:1.4.2",
         "replicas": 3, "port": 8080,
         "readiness_path": "/actuator/health/readiness", "liveness_path": "/actuator/health/liveness",
         "environments": {
           "dev":  {"hostnames": ["api-dev.mdhlabs.com"], "paths": ["/"], "config": {"SPRING_PROFILES_ACTIVE": "dev"},
                    "certificate": "api-tls", "vip": "auto"},
           "prod": {"hostnames": ["api.mdhlabs.com"], "paths": ["/"], "config": {"SPRING_PROFILES_ACTIVE": "prod"},
                    "certificate": "api-tls", "vip": "192.168.101.240"}}})
    }

    #[test]
    fn application_parses_the_api_example_and_round_trips() {
        let app: Application = serde_json::from_value(api_application()).unwrap();
        let prod = &app.environments[&EnvironmentName::parse("prod").unwrap()];
        assert_eq!(prod.vip, VipRequest::Address(IpAddr::parse("192.168.101.240").unwrap()));
        assert_eq!(prod.external_traffic_policy, ExternalTrafficPolicy::Cluster);
        assert_eq!(app.port.get(), 8080);
        assert_eq!(serde_json::to_value(&app).unwrap(), api_application());
        assert_eq!(Application::try_from(ApplicationInput::from(&app)).unwrap(), app);
    }

    #[test]
    fn application_collects_every_field_error() {
        let mut doc = api_application();
        doc["image"] = json!("Registry.example/CD:1.4.2");
        doc["replicas"] = json!(-1);
        doc["port"] = json!("http");
        doc["readiness_path"] = json!("health");
        doc["environments"]["dev"]["hostnames"] = json!(["api_dev.mdhlabs.com", "x.mdhlabs.com", "X.mdhlabs.com"]);
        doc["environments"]["dev"]["paths"] = json!(["api"]);
        doc["environments"]["dev"]["config"] = json!({"SPRING PROFILE": "dev"});
        doc["environments"]["dev"]["vip"] = json!("next");
        doc["environments"]["prod"]["certificate"] = json!("API_TLS");
        doc["environments"]["prod"]["external_traffic_policy"] = json!("Sometimes");
        doc["environments"]["Staging"] = json!({});
        let input: ApplicationInput = serde_json::from_value(doc).unwrap();
        let errors = Application::try_from(input).unwrap_err();
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                ("image", "invalid_image"),
                ("replicas", "invalid_replicas"),
                ("port", "invalid_port"),
                ("readiness_path", "invalid_path"),
                ("environments.Staging", "invalid_environment_name"),
                ("environments.dev.hostnames[0]", "invalid_hostname"),
                ("environments.dev.hostnames[2]", "duplicate"),
                ("environments.dev.paths[0]", "invalid_path"),
                ("environments.dev.config.SPRING PROFILE", "invalid_config_key"),
                ("environments.dev.vip", "invalid_vip"),
                ("environments.prod.certificate", "invalid_k8s_name"),
                ("environments.prod.external_traffic_policy", "invalid_traffic_policy"),
            ]
        );
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(json[0]["field"], "image");
        assert!(json[0]["message"].as_str().unwrap().contains("lower case"));
    }

    #[test]
    fn application_defaults() {
        let input: ApplicationInput = serde_json::from_value(json!({
            "name": "web", "namespace": "web", "image": "nginx", "port": "80",
            "readiness_path": "", "environments": {"dev": {"hostnames": ["web.example.com"]}}
        }))
        .unwrap();
        let app = Application::try_from(input).unwrap();
        assert_eq!(app.replicas, 1);
        assert_eq!(app.readiness_path, None);
        let dev = app.environments.values().next().unwrap();
        assert_eq!(dev.vip, VipRequest::Auto);
        assert_eq!(dev.certificate, None);
        let missing_port: ApplicationInput =
            serde_json::from_value(json!({"name": "web", "namespace": "web", "image": "nginx"})).unwrap();
        assert_eq!(Application::try_from(missing_port).unwrap_err().get("port").unwrap().code, "required");
    }

    #[test]
    fn vip_request_and_traffic_policy_serialise_like_the_api() {
        assert_eq!(serde_json::to_string(&VipRequest::Auto).unwrap(), r#""auto""#);
        assert_eq!(VipRequest::parse("AUTO").unwrap(), VipRequest::Auto);
        assert_eq!(serde_json::from_str::<VipRequest>(r#""10.0.0.1""#).unwrap().to_string(), "10.0.0.1");
        assert_eq!(serde_json::to_string(&ExternalTrafficPolicy::Local).unwrap(), r#""Local""#);
        assert_eq!(ExternalTrafficPolicy::parse("local").unwrap(), ExternalTrafficPolicy::Local);
    }

    proptest::proptest! {
        #[test]
        fn model_parsers_round_trip_and_never_panic(garbage in ".{0,40}", block in "[0-9a-f.:/ -]{0,40}") {
            for input in [garbage.as_str(), block.as_str()] {
                if let Ok(b) = PoolBlock::parse(input) {
                    proptest::prop_assert_eq!(PoolBlock::parse(&b.to_string()).unwrap(), b);
                }
                if let Ok(v) = VipRequest::parse(input) {
                    proptest::prop_assert_eq!(VipRequest::parse(&v.to_string()).unwrap(), v);
                }
                let _ = AdvertisementMode::parse(input);
                let _ = ExternalTrafficPolicy::parse(input);
            }
        }

        #[test]
        fn inputs_of_garbage_give_field_errors_not_panics(
            words in proptest::collection::vec(".{0,12}", 12),
            numbers in proptest::collection::vec(proptest::num::i64::ANY, 3),
        ) {
            let w = |i: usize| words[i].clone();
            let env = EnvironmentInput {
                name: w(0),
                node_subnets: vec![w(1)],
                node_addresses: vec![w(2)],
                pod_cidrs: vec![w(3)],
                service_cidr: w(4),
                advertisement: AdvertisementInput {
                    mode: w(5),
                    label: LabelInput { key: w(6), value: w(7) },
                    arp: Some(ArpInput { interfaces: vec![w(8)], node_selector: BTreeMap::from([(w(9), w(10))]) }),
                    bgp: Some(BgpInput {
                        local_asn: Some(NumberInput::Int(numbers[0])),
                        peers: vec![BgpPeerInput { name: w(11), asn: Some(NumberInput::Text(w(1))), address: w(2), platform: Some(w(3)), router_id: Some(w(4)) }],
                    }),
                },
                routers: vec![RouterInput { name: w(4), address: w(5) }],
                ..EnvironmentInput::default()
            };
            if let Err(errors) = Environment::try_from(env) {
                proptest::prop_assert!(!errors.is_empty());
            }
            let pool = VipPoolInput {
                environment: w(0),
                name: w(1),
                blocks: vec![PoolBlockInput { cidr: Some(w(2)), ..PoolBlockInput::default() },
                             PoolBlockInput { start: Some(w(3)), stop: Some(w(4)), cidr: None }],
                ..VipPoolInput::default()
            };
            let _ = VipPool::try_from(pool);
            let app = ApplicationInput {
                name: w(0),
                namespace: w(1),
                image: w(2),
                replicas: Some(NumberInput::Int(numbers[1])),
                port: Some(NumberInput::Int(numbers[2])),
                readiness_path: Some(w(3)),
                liveness_path: None,
                environments: BTreeMap::from([(w(4), AppEnvironmentInput {
                    hostnames: vec![w(5)],
                    paths: vec![w(6)],
                    config: BTreeMap::from([(w(7), w(8))]),
                    certificate: Some(w(9)),
                    vip: Some(w(10)),
                    external_traffic_policy: Some(w(11)),
                })]),
            };
            let _ = Application::try_from(app);
        }
    }

    #[test]
    fn plan_round_trips_through_json() {
        let plan = crate::seed::seed_plan();
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
    }
}
