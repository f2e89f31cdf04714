//! What the checklist needs, read from the objects: environments, pools, announcement
//! policies, BGP resources, Gateways, HTTPRoutes, Services, Deployments, ConfigMaps and TLS
//! Secrets, each with where it is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::{Cidr, IpAddr, PoolBlock};
use base64::Engine as _;

use crate::load::{InputError, Object, SourceFile};
use crate::yaml::{Node, Pos};

/// Annotations giving an environment's facts that objects do not carry.
pub const NODE_SUBNETS: &str = "gatehouse.io/node-subnets";
pub const POD_CIDRS: &str = "gatehouse.io/pod-cidrs";
pub const SERVICE_CIDR: &str = "gatehouse.io/service-cidr";

/// A place in the inputs: file index and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub file: usize,
    pub pos: Pos,
}

impl Object {
    pub fn loc(&self, path: &[&str]) -> Loc {
        Loc { file: self.file, pos: self.pos_of(path) }
    }
}

/// A Kubernetes label selector (matchLabels and matchExpressions). `None` where an object
/// has no selector: Cilium then selects every Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub labels: Vec<(String, String)>,
    pub expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn parse(node: &Node) -> Selector {
        let labels = node.get("matchLabels").map(|m| m.string_map().into_iter().collect()).unwrap_or_default();
        let expressions = node
            .get("matchExpressions")
            .map(|list| {
                list.items()
                    .iter()
                    .map(|e| {
                        let values = e.get("values").map(|v| v.items().iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default();
                        (e.str_at(&["key"]).unwrap_or_default().to_owned(), e.str_at(&["operator"]).unwrap_or_default().to_owned(), values)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Selector { labels, expressions }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(key, op, values)| {
                let value = labels.get(key);
                match op.as_str() {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    /// The one label it asks for, when it asks for exactly one by matchLabels.
    pub fn single_label(&self) -> Option<(&str, &str)> {
        match self.labels.as_slice() {
            [(k, v)] => Some((k, v)),
            _ => None,
        }
    }
}

pub fn selects(selector: &Option<Selector>, labels: &BTreeMap<String, String>) -> bool {
    selector.as_ref().is_none_or(|s| s.matches(labels))
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub name: String,
    pub env: String,
    pub blocks: Vec<(PoolBlock, Loc)>,
    pub selector: Option<Selector>,
    pub loc: Loc,
    pub selector_loc: Loc,
    pub disabled: bool,
}

/// An L2 announcement policy, a BGP advertisement or a BGP peering policy: what announces
/// the VIPs of the Services it selects.
#[derive(Debug, Clone)]
pub struct Announcer {
    pub kind: String,
    pub name: String,
    pub env: String,
    pub l2: bool,
    pub selector: Option<Selector>,
}

#[derive(Debug, Clone)]
pub struct BgpPeerFact {
    pub name: String,
    pub asn: u32,
    pub address: IpAddr,
}

/// A LoadBalancer Service, or a Gateway whose generated Service is not among the inputs (its
/// labels then are the Gateway's spec.infrastructure.labels).
#[derive(Debug, Clone)]
pub struct Target {
    pub what: String,
    pub namespace: String,
    pub env: String,
    /// With `io.kubernetes.service.namespace` and `…name`, which pool selectors may use.
    pub labels: BTreeMap<String, String>,
    pub labels_loc: Loc,
    pub etp_local: Option<Loc>,
    pub addresses: Vec<(IpAddr, Loc)>,
    /// For a Gateway's Service: the labels the Gateway asks for (metadata and
    /// infrastructure), which GH-GATEWAY-LABEL judges; other rules then leave it alone.
    pub intended: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct Gateway {
    pub namespace: String,
    pub name: String,
    pub env: String,
    pub app: String,
    pub labels: BTreeMap<String, String>,
    pub infrastructure: BTreeMap<String, String>,
    /// Where each of metadata.labels is written.
    pub label_locs: HashMap<String, Loc>,
    pub addresses: Vec<(IpAddr, Loc)>,
    pub hostnames: Vec<(String, Loc)>,
    /// (namespace, name, where) of each listener's certificate.
    pub certificates: Vec<(String, String, Loc)>,
    pub loc: Loc,
    pub object: usize,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub env: String,
    pub namespace: String,
    /// The Gateway of its first parentRef.
    pub parent: Option<String>,
    /// Its own `app.kubernetes.io/name`, else its name: the application unless the parent
    /// Gateway names one.
    pub app: String,
    pub hostnames: Vec<(String, Loc)>,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub namespace: String,
    pub name: String,
    pub env: String,
    pub app: String,
    pub replicas: u32,
    pub replicas_loc: Loc,
    pub readiness: bool,
    pub liveness: bool,
    pub containers_loc: Loc,
    pub config_maps: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ConfigMap {
    pub namespace: String,
    pub name: String,
    pub data: BTreeMap<String, String>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct TlsSecret {
    pub namespace: String,
    pub name: String,
    pub env: String,
    /// The certificate's details, or why it cannot be used (never key material).
    pub parsed: Result<domain::CertificateDetails, String>,
    pub loc: Loc,
    pub key_loc: Loc,
}

#[derive(Debug, Default)]
pub struct EnvFacts {
    pub node_subnets: Option<Vec<Cidr>>,
    pub pod_cidrs: Option<Vec<Cidr>>,
    pub service_cidr: Option<Cidr>,
    /// Where the environment is first seen.
    pub loc: Option<Loc>,
}

#[derive(Debug, Default)]
pub struct Facts {
    pub envs: BTreeMap<String, EnvFacts>,
    pub pools: Vec<Pool>,
    pub announcers: Vec<Announcer>,
    /// BGP peers by environment (from CiliumBGPClusterConfig and CiliumBGPPeeringPolicy).
    pub bgp_peers: BTreeMap<String, Vec<BgpPeerFact>>,
    pub bgp_local_asn: BTreeMap<String, u32>,
    pub peering_policies: Vec<Loc>,
    pub targets: Vec<Target>,
    pub gateways: Vec<Gateway>,
    /// Generated Services `cilium-gateway-<name>` by (namespace, name), with their labels.
    pub generated: HashMap<(String, String), (BTreeMap<String, String>, Loc)>,
    pub routes: Vec<Route>,
    pub deployments: Vec<Deployment>,
    pub config_maps: HashMap<(String, String), ConfigMap>,
    pub secrets: Vec<TlsSecret>,
    pub node_addresses: Vec<IpAddr>,
}

const GATEWAY_SERVICE_PREFIX: &str = "cilium-gateway-";

/// Reads the facts from the objects; an unusable value that Cilium or Kubernetes would refuse
/// (a pool block that is no CIDR) is an input error at its line.
pub fn gather(files: &[SourceFile], objects: &[Object], environment_label: &str) -> Result<Facts, InputError> {
    let mut facts = Facts::default();
    let namespace_env: HashMap<&str, &str> = objects
        .iter()
        .filter(|o| o.kind == "Namespace")
        .filter_map(|o| o.label(environment_label).map(|env| (o.name.as_str(), env)))
        .collect();
    let env_of = |o: &Object, selector: Option<&Selector>| -> String {
        if let Some(env) = o.label(environment_label) {
            return env.to_owned();
        }
        if o.kind == "Namespace" {
            return o.name.clone();
        }
        if let Some(selector) = selector {
            if let Some((_, v)) = selector.labels.iter().find(|(k, _)| k == environment_label) {
                return v.clone();
            }
            if let Some((_, v)) = selector.single_label() {
                return v.to_owned();
            }
        }
        let namespace = namespace_of(o);
        namespace_env.get(namespace).map_or_else(|| namespace.to_owned(), |e| (*e).to_owned())
    };

    for (index, o) in objects.iter().enumerate() {
        let file = &files[o.file];
        match o.kind.as_str() {
            "CiliumLoadBalancerIPPool" => {
                let selector = o.node.at(&["spec", "serviceSelector"]).filter(|n| !n.is_null()).map(Selector::parse);
                let env = env_of(o, selector.as_ref());
                let mut blocks = Vec::new();
                // v2alpha1 pools may still say `cidrs`.
                for key in ["blocks", "cidrs"] {
                    for item in o.node.items_at(&["spec", key]) {
                        blocks.push((pool_block(file, item)?, Loc { file: o.file, pos: item.pos() }));
                    }
                }
                facts.pools.push(Pool {
                    name: o.name.clone(),
                    env: env.clone(),
                    blocks,
                    selector,
                    loc: Loc { file: o.file, pos: o.pos },
                    selector_loc: o.loc(&["spec", "serviceSelector"]),
                    disabled: o.node.at(&["spec", "disabled"]).and_then(Node::as_bool).unwrap_or(false),
                });
                facts.note_env(file, o, &env)?;
            }
            "CiliumL2AnnouncementPolicy" => {
                let selector = o.node.at(&["spec", "serviceSelector"]).filter(|n| !n.is_null()).map(Selector::parse);
                let env = env_of(o, selector.as_ref());
                // Without loadBalancerIPs the policy announces external IPs only.
                if o.node.at(&["spec", "loadBalancerIPs"]).and_then(Node::as_bool).unwrap_or(false) {
                    facts.announcers.push(Announcer { kind: o.kind.clone(), name: o.name.clone(), env: env.clone(), l2: true, selector });
                }
                facts.note_env(file, o, &env)?;
            }
            "CiliumBGPAdvertisement" => {
                for advertisement in o.node.items_at(&["spec", "advertisements"]) {
                    if advertisement.str_at(&["advertisementType"]) != Some("Service") {
                        continue;
                    }
                    let selector = advertisement.get("selector").filter(|n| !n.is_null()).map(Selector::parse);
                    let env = env_of(o, selector.as_ref());
                    facts.announcers.push(Announcer { kind: o.kind.clone(), name: o.name.clone(), env: env.clone(), l2: false, selector });
                    facts.note_env(file, o, &env)?;
                }
            }
            "CiliumBGPClusterConfig" => {
                let env = env_of(o, None);
                for instance in o.node.items_at(&["spec", "bgpInstances"]) {
                    if let Some(asn) = instance.str_at(&["localASN"]).and_then(|a| a.parse().ok()) {
                        facts.bgp_local_asn.insert(env.clone(), asn);
                    }
                    for peer in instance.items_at(&["peers"]) {
                        let address = peer.str_at(&["peerAddress"]).and_then(|a| IpAddr::parse(a).ok());
                        if let Some(address) = address {
                            facts.bgp_peers.entry(env.clone()).or_default().push(BgpPeerFact {
                                name: peer.str_at(&["name"]).unwrap_or("peer").to_owned(),
                                asn: peer.str_at(&["peerASN"]).and_then(|a| a.parse().ok()).unwrap_or(0),
                                address,
                            });
                        }
                    }
                }
                facts.note_env(file, o, &env)?;
            }
            "CiliumBGPPeeringPolicy" => {
                facts.peering_policies.push(o.loc(&["kind"]));
                for router in o.node.items_at(&["spec", "virtualRouters"]) {
                    let selector = router.get("serviceSelector").filter(|n| !n.is_null()).map(Selector::parse);
                    let env = env_of(o, selector.as_ref());
                    if let Some(asn) = router.str_at(&["localASN"]).and_then(|a| a.parse().ok()) {
                        facts.bgp_local_asn.insert(env.clone(), asn);
                    }
                    for neighbor in router.items_at(&["neighbors"]) {
                        // `peerAddress` is a CIDR there (`192.168.1.1/32`).
                        let address = neighbor.str_at(&["peerAddress"]).and_then(|a| IpAddr::parse(a.split('/').next().unwrap_or(a)).ok());
                        if let Some(address) = address {
                            facts.bgp_peers.entry(env.clone()).or_default().push(BgpPeerFact {
                                name: "neighbor".to_owned(),
                                asn: neighbor.str_at(&["peerASN"]).and_then(|a| a.parse().ok()).unwrap_or(0),
                                address,
                            });
                        }
                    }
                    facts.announcers.push(Announcer { kind: o.kind.clone(), name: o.name.clone(), env: env.clone(), l2: false, selector });
                    facts.note_env(file, o, &env)?;
                }
            }
            "Namespace" => {
                let env = env_of(o, None);
                facts.note_env(file, o, &env)?;
            }
            "Node" => {
                for address in o.node.items_at(&["status", "addresses"]) {
                    if address.str_at(&["type"]) == Some("InternalIP")
                        && let Some(ip) = address.str_at(&["address"]).and_then(|a| IpAddr::parse(a).ok())
                    {
                        facts.node_addresses.push(ip);
                    }
                }
            }
            "Service" => {
                let env = env_of(o, None);
                let namespace = namespace_of(o).to_owned();
                if o.name.starts_with(GATEWAY_SERVICE_PREFIX) {
                    facts.generated.insert((namespace.clone(), o.name.clone()), (o.labels.clone(), o.loc(&["metadata", "labels"])));
                }
                if o.node.str_at(&["spec", "type"]) != Some("LoadBalancer") {
                    continue;
                }
                let mut addresses = Vec::new();
                if let Some(ip) = o.node.str_at(&["spec", "loadBalancerIP"]).and_then(|a| IpAddr::parse(a).ok()) {
                    addresses.push((ip, o.loc(&["spec", "loadBalancerIP"])));
                }
                for key in ["lbipam.cilium.io/ips", "io.cilium/lb-ipam-ips"] {
                    for ip in o.annotations.get(key).into_iter().flat_map(|v| v.split(',')).filter_map(|a| IpAddr::parse(a.trim()).ok()) {
                        addresses.push((ip, o.loc(&["metadata", "annotations", key])));
                    }
                }
                let etp_local = (o.node.str_at(&["spec", "externalTrafficPolicy"]) == Some("Local")).then(|| o.loc(&["spec", "externalTrafficPolicy"]));
                facts.targets.push(Target {
                    what: format!("Service {namespace}/{}", o.name),
                    labels: service_labels(&o.labels, &namespace, &o.name),
                    namespace,
                    env,
                    labels_loc: o.loc(&["metadata", "labels"]),
                    etp_local,
                    addresses,
                    intended: None,
                });
            }
            "Gateway" => {
                let env = env_of(o, None);
                facts.gateways.push(gateway(o, env, index));
            }
            "HTTPRoute" => {
                let env = env_of(o, None);
                let parent = o.node.at(&["spec", "parentRefs"]).and_then(|p| p.items().first()).and_then(|p| p.str_at(&["name"]));
                let hostnames = o
                    .node
                    .items_at(&["spec", "hostnames"])
                    .iter()
                    .filter_map(|h| h.as_str().map(|s| (s.to_owned(), Loc { file: o.file, pos: h.pos() })))
                    .collect();
                facts.routes.push(Route {
                    env,
                    namespace: namespace_of(o).to_owned(),
                    parent: parent.map(str::to_owned),
                    app: app_of(o),
                    hostnames,
                });
            }
            "Deployment" => {
                let env = env_of(o, None);
                let containers = o.node.at(&["spec", "template", "spec", "containers"]);
                let items = containers.map(Node::items).unwrap_or_default();
                let mut config_maps = BTreeSet::new();
                for container in items {
                    for source in container.items_at(&["envFrom"]) {
                        config_maps.extend(source.str_at(&["configMapRef", "name"]).map(str::to_owned));
                    }
                    for var in container.items_at(&["env"]) {
                        config_maps.extend(var.str_at(&["valueFrom", "configMapKeyRef", "name"]).map(str::to_owned));
                    }
                }
                for volume in o.node.items_at(&["spec", "template", "spec", "volumes"]) {
                    config_maps.extend(volume.str_at(&["configMap", "name"]).map(str::to_owned));
                }
                facts.deployments.push(Deployment {
                    namespace: namespace_of(o).to_owned(),
                    name: o.name.clone(),
                    env,
                    app: app_of(o),
                    replicas: o.node.str_at(&["spec", "replicas"]).and_then(|r| r.parse().ok()).unwrap_or(1),
                    replicas_loc: o.loc(&["spec", "replicas"]),
                    readiness: items.iter().any(|c| c.get("readinessProbe").is_some_and(|p| !p.is_null())),
                    liveness: items.iter().any(|c| c.get("livenessProbe").is_some_and(|p| !p.is_null())),
                    containers_loc: items.first().map_or_else(|| o.loc(&["spec", "template", "spec", "containers"]), |c| Loc { file: o.file, pos: c.pos() }),
                    config_maps: config_maps.into_iter().collect(),
                });
            }
            "ConfigMap" => {
                let data = o.node.get("data").map(Node::string_map).unwrap_or_default();
                let namespace = namespace_of(o).to_owned();
                facts.config_maps.insert(
                    (namespace.clone(), o.name.clone()),
                    ConfigMap { namespace, name: o.name.clone(), data, loc: o.loc(&["data"]) },
                );
            }
            "Secret" if o.node.str_at(&["type"]) == Some("kubernetes.io/tls") => {
                let env = env_of(o, None);
                facts.secrets.push(tls_secret(o, env));
            }
            _ => {}
        }
    }
    // A Gateway whose generated Service is among the inputs is judged by that Service.
    for g in &facts.gateways {
        let generated = (g.namespace.clone(), format!("{GATEWAY_SERVICE_PREFIX}{}", g.name));
        if facts.generated.contains_key(&generated) {
            continue;
        }
        facts.targets.push(Target {
            what: format!("Gateway {}/{} (its generated Service {})", g.namespace, g.name, generated.1),
            namespace: g.namespace.clone(),
            env: g.env.clone(),
            labels: service_labels(&g.infrastructure, &g.namespace, &generated.1),
            labels_loc: objects_loc(objects, g, &["spec", "infrastructure", "labels"]),
            etp_local: None,
            addresses: g.addresses.clone(),
            intended: None,
        });
    }
    for t in &mut facts.targets {
        let Some(name) = t.labels.get("io.kubernetes.service.name").and_then(|n| n.strip_prefix(GATEWAY_SERVICE_PREFIX)) else { continue };
        if let Some(g) = facts.gateways.iter().find(|g| g.namespace == t.namespace && g.name == name) {
            let mut intended = g.labels.clone();
            intended.extend(g.infrastructure.clone());
            t.intended = Some(service_labels(&intended, &g.namespace, &format!("{GATEWAY_SERVICE_PREFIX}{name}")));
        }
    }
    for g in &facts.gateways {
        let env = g.env.clone();
        facts.envs.entry(env).or_default().loc.get_or_insert(g.loc);
    }
    Ok(facts)
}

fn objects_loc(objects: &[Object], g: &Gateway, path: &[&str]) -> Loc {
    objects[g.object].loc(path)
}

impl Facts {
    /// Records the environment and the facts its annotations give.
    fn note_env(&mut self, file: &SourceFile, o: &Object, env: &str) -> Result<(), InputError> {
        let facts = self.envs.entry(env.to_owned()).or_default();
        facts.loc.get_or_insert(Loc { file: o.file, pos: o.pos });
        let cidrs = |key: &str| -> Result<Option<Vec<Cidr>>, InputError> {
            let Some(value) = o.annotations.get(key) else { return Ok(None) };
            value
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| {
                    Cidr::parse(c).map_err(|e| InputError::at(file, o.pos_of(&["metadata", "annotations", key]), format!("annotation {key}: `{c}` is not a CIDR: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        if let Some(subnets) = cidrs(NODE_SUBNETS)? {
            facts.node_subnets = Some(subnets);
        }
        if let Some(pods) = cidrs(POD_CIDRS)? {
            facts.pod_cidrs = Some(pods);
        }
        if let Some(service) = cidrs(SERVICE_CIDR)? {
            facts.service_cidr = service.into_iter().next();
        }
        Ok(())
    }

}

fn namespace_of(o: &Object) -> &str {
    if o.namespace.is_empty() { "default" } else { &o.namespace }
}

/// The application an object belongs to: `app.kubernetes.io/name`, else its name.
fn app_of(o: &Object) -> String {
    o.label("app.kubernetes.io/name").unwrap_or(&o.name).to_owned()
}

fn service_labels(labels: &BTreeMap<String, String>, namespace: &str, name: &str) -> BTreeMap<String, String> {
    let mut all = labels.clone();
    all.insert("io.kubernetes.service.namespace".to_owned(), namespace.to_owned());
    all.insert("io.kubernetes.service.name".to_owned(), name.to_owned());
    all
}

fn pool_block(file: &SourceFile, item: &Node) -> Result<PoolBlock, InputError> {
    let text = match (item.str_at(&["cidr"]), item.str_at(&["start"]), item.str_at(&["stop"]), item.as_str()) {
        (Some(cidr), _, _, _) => cidr.to_owned(),
        (None, Some(start), Some(stop), _) => format!("{start}-{stop}"),
        (None, Some(start), None, _) => start.to_owned(),
        (_, _, _, Some(plain)) => plain.to_owned(),
        _ => return Err(InputError::at(file, item.pos(), "a pool block needs `cidr`, or `start` (and `stop`)")),
    };
    PoolBlock::parse(&text).map_err(|e| InputError::at(file, item.pos(), format!("pool block `{text}` is not usable: {e}")))
}

fn gateway(o: &Object, env: String, index: usize) -> Gateway {
    let namespace = namespace_of(o).to_owned();
    let infrastructure = o.node.at(&["spec", "infrastructure", "labels"]).map(Node::string_map).unwrap_or_default();
    let addresses = o
        .node
        .items_at(&["spec", "addresses"])
        .iter()
        .filter(|a| a.str_at(&["type"]).is_none_or(|t| t == "IPAddress"))
        .filter_map(|a| {
            let value = a.get("value")?;
            IpAddr::parse(value.as_str()?).ok().map(|ip| (ip, Loc { file: o.file, pos: value.pos() }))
        })
        .collect();
    let mut hostnames = Vec::new();
    let mut certificates = Vec::new();
    for listener in o.node.items_at(&["spec", "listeners"]) {
        if let Some(h) = listener.get("hostname").and_then(|h| h.as_str().map(|s| (s, h.pos()))) {
            hostnames.push((h.0.to_owned(), Loc { file: o.file, pos: h.1 }));
        }
        for reference in listener.items_at(&["tls", "certificateRefs"]) {
            if reference.str_at(&["kind"]).is_some_and(|k| k != "Secret") {
                continue;
            }
            if let Some(name) = reference.str_at(&["name"]) {
                let ns = reference.str_at(&["namespace"]).unwrap_or(&namespace).to_owned();
                let pos = reference.entry("name").map_or(reference.pos(), |e| e.value.pos());
                certificates.push((ns, name.to_owned(), Loc { file: o.file, pos }));
            }
        }
    }
    // Gatehouse names Gateways `<app>-<env>`; others are their own application.
    let app = o.label("app.kubernetes.io/name").map_or_else(|| o.name.strip_suffix(&format!("-{env}")).unwrap_or(&o.name).to_owned(), str::to_owned);
    Gateway {
        name: o.name.clone(),
        namespace,
        app,
        env,
        labels: o.labels.clone(),
        label_locs: o.labels.keys().map(|k| (k.clone(), o.loc(&["metadata", "labels", k]))).collect(),
        infrastructure,
        addresses,
        hostnames,
        certificates,
        loc: Loc { file: o.file, pos: o.pos },
        object: index,
    }
}

fn tls_secret(o: &Object, env: String) -> TlsSecret {
    let field = |key: &str| -> Option<String> {
        if let Some(text) = o.node.at(&["stringData", key]).and_then(Node::as_str) {
            return Some(text.to_owned());
        }
        let encoded: String = o.node.at(&["data", key]).and_then(Node::as_str)?.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD.decode(encoded).ok().and_then(|b| String::from_utf8(b).ok())
    };
    let parsed = match (field("tls.crt"), field("tls.key")) {
        (None, _) => Err("tls.crt is missing or not base64 of PEM text".to_owned()),
        (Some(_), None) => Err("tls.key is missing or not base64 of PEM text".to_owned()),
        (Some(certificate), Some(key)) => {
            let key = domain::PrivateKeyPem::new(key);
            match backend::certificates::parse_upload(&certificate, &key) {
                Ok(upload) => Ok(upload.leaf().clone()),
                Err(backend::certificates::UploadError::KeyMismatch { .. }) => {
                    Err("tls.key does not match the certificate in tls.crt".to_owned())
                }
                Err(error) => Err(error.to_string()),
            }
        }
    };
    let data_key = if o.node.get("stringData").is_some() { "stringData" } else { "data" };
    TlsSecret {
        namespace: namespace_of(o).to_owned(),
        name: o.name.clone(),
        env,
        parsed,
        loc: o.loc(&[data_key, "tls.crt"]),
        key_loc: o.loc(&[data_key, "tls.key"]),
    }
}
