//! Environments: nodes, pod ranges, advertisement (ARP, BGP and its routers), and the input form that parses into one.
use super::*;

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

pub(super) fn parse_asn(c: &mut Collector, field: &str, input: Option<&NumberInput>) -> Option<Asn> {
    match input {
        None => {
            c.push(field, "required", "an AS number is required, like 65001");
            None
        }
        Some(NumberInput::Int(v)) => c.take(field, Asn::new(*v)),
        Some(NumberInput::Text(s)) => c.take(field, Asn::parse(s)),
    }
}

pub(super) fn parse_list<T, E: ErrorCode>(
    c: &mut Collector,
    field: &str,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, E>,
) -> Vec<T> {
    items.iter().enumerate().filter_map(|(i, s)| c.take(format!("{field}[{i}]"), parse(s))).collect()
}

pub(super) fn parse_label(c: &mut Collector, field: &str, input: &LabelInput) -> Option<Label> {
    let key = c.take(format!("{field}.key"), LabelKey::parse(&input.key));
    let value = c.take(format!("{field}.value"), LabelValue::parse(&input.value));
    Some(Label { key: key?, value: value? })
}

pub(super) fn parse_arp(c: &mut Collector, input: &ArpInput) -> ArpSettings {
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

pub(super) fn parse_routers(c: &mut Collector, input: &[RouterInput], legacy: Option<&str>) -> Vec<Router> {
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
pub(super) fn parse_router_id(c: &mut Collector, field: &str, input: Option<&str>) -> Option<Option<IpAddr>> {
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

pub(super) fn parse_bgp(c: &mut Collector, input: &BgpInput) -> Option<BgpSettings> {
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
