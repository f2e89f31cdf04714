//! What a diagram shows, read from the plan: one environment with its client networks,
//! routers, nodes and pools, and optionally one application deployed to it. Nothing here is
//! invented: what the plan does not record (a pod's address, which node Cilium elects) is
//! described as what it is ("from pod CIDR …", "one node, elected by Cilium").

use crate::{
    AdvertisementMode, AppEnvironment, Application, Cidr, Environment, IpAddr, Plan, Platform, PoolBlock, VipPool,
    VipRequest,
};

/// Pods of one node beyond this are drawn as one group.
pub const POD_GROUP_THRESHOLD: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub asn: u32,
    pub platform: Platform,
}

/// One router on the path from the clients to the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Local id, e.g. `router-core`.
    pub id: String,
    pub name: String,
    pub address: Option<IpAddr>,
    /// The BGP peer this router is, if the environment peers with it.
    pub peer: Option<Peer>,
    /// False for the stand-in drawn when the plan lists no router at all.
    pub recorded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub address: Option<IpAddr>,
    /// The replica numbers (1-based) of the pods scheduled here.
    pub pods: Vec<usize>,
}

impl Node {
    pub fn grouped(&self) -> bool {
        self.pods.len() > POD_GROUP_THRESHOLD
    }
}

/// Where the application's Gateway VIP comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vip {
    /// A requested address, and the pool it lies in (if any).
    Requested { address: IpAddr, pool: Option<String> },
    /// `auto`, already allocated to the application.
    Allocated { address: IpAddr, pool: Option<String> },
    /// `auto`, not allocated yet: the submission holds the lowest free address of the pools
    /// (`next`, as the plan stands now; `None` when every address is taken) and the Gateway
    /// asks LB-IPAM for exactly that one.
    NextFree { pools: Vec<String>, next: Option<IpAddr> },
}

impl Vip {
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Vip::Requested { address, .. } | Vip::Allocated { address, .. } => Some(*address),
            Vip::NextFree { next, .. } => *next,
        }
    }

    /// `192.168.101.240`; for an `auto` VIP not held yet, the address a submission would hold
    /// now; `no free VIP` when the pools are full.
    pub fn text(&self) -> String {
        self.address().map_or_else(|| "no free VIP".to_owned(), |a| a.to_string())
    }

    /// `VIP 192.168.101.240 from pool prod-vips`, or `VIP 192.168.101.192: next free in pool
    /// dev-vips`.
    pub fn line(&self) -> String {
        match (self, self.address()) {
            (Vip::NextFree { .. }, Some(address)) => format!("VIP {address}: next free in {}", self.source()),
            (Vip::NextFree { .. }, None) => format!("VIP: none free in {}", self.source()),
            (_, Some(address)) => format!("VIP {address} from {}", self.source()),
            (_, None) => format!("VIP from {}", self.source()),
        }
    }

    /// Where the address comes from: `pool prod-vips`.
    pub fn source(&self) -> String {
        match self {
            Vip::Requested { pool: Some(pool), .. } | Vip::Allocated { pool: Some(pool), .. } => format!("pool {pool}"),
            Vip::Requested { pool: None, .. } | Vip::Allocated { pool: None, .. } => "no pool of the environment".to_owned(),
            Vip::NextFree { pools, .. } if pools.is_empty() => "no pool yet".to_owned(),
            Vip::NextFree { pools, .. } => format!("pool {}", pools.join(", ")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppDesign<'p> {
    pub app: &'p Application,
    pub settings: &'p AppEnvironment,
    /// `<app>-<env>`: the Gateway's and the HTTPRoute's name.
    pub gateway: String,
    /// The Service Cilium generates for the Gateway.
    pub generated_service: String,
    pub config_map: String,
    pub vip: Vip,
    /// Whether the generated Service carries the advertisement label (Gatehouse labels it
    /// whenever the label has a value; a walk's caveat can take it away).
    pub generated_labelled: bool,
}

impl AppDesign<'_> {
    pub fn hostnames(&self) -> Vec<String> {
        self.settings.hostnames.iter().map(ToString::to_string).collect()
    }

    pub fn first_hostname(&self) -> String {
        self.settings.hostnames.first().map_or_else(|| format!("{}'s hostname", self.app.name), ToString::to_string)
    }

    pub fn paths(&self) -> Vec<String> {
        if self.settings.paths.is_empty() {
            vec!["/".to_owned()]
        } else {
            self.settings.paths.iter().map(ToString::to_string).collect()
        }
    }

    pub fn certificate(&self) -> Option<String> {
        self.settings.certificate.as_ref().map(ToString::to_string)
    }

    pub fn port(&self) -> u16 {
        self.app.port.get()
    }

    /// The ConfigMap's first `max` entries as `KEY=value`, then how many more.
    pub fn config_lines(&self, max: usize) -> Vec<String> {
        let config = &self.settings.config;
        if config.is_empty() {
            return vec!["no data".to_owned()];
        }
        let mut lines: Vec<String> = config.iter().take(max).map(|(k, v)| format!("{k}={v}")).collect();
        if config.len() > max {
            lines.push(format!("and {} more", config.len() - max));
        }
        lines
    }

    pub fn readiness(&self) -> Option<String> {
        self.app.readiness_path.as_ref().map(ToString::to_string)
    }
}

#[derive(Debug, Clone)]
pub struct Design<'p> {
    pub plan: &'p Plan,
    pub env: &'p Environment,
    pub pools: Vec<&'p VipPool>,
    pub clients: Vec<Cidr>,
    pub hops: Vec<Hop>,
    pub nodes: Vec<Node>,
    pub app: Option<AppDesign<'p>>,
}

fn local_id(prefix: &str, name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("{prefix}-{cleaned}")
}

impl<'p> Design<'p> {
    /// The design of `env`, with `app` in it when given (the caller checked that `app` has
    /// settings for `env`).
    pub fn new(plan: &'p Plan, env: &'p Environment, app: Option<&'p Application>) -> Design<'p> {
        let pools: Vec<&VipPool> = plan.pools_of(&env.name).collect();
        let app = app.and_then(|app| {
            let settings = app.environments.get(&env.name)?;
            Some(AppDesign {
                app,
                settings,
                gateway: format!("{}-{}", app.name, env.name),
                generated_service: format!("cilium-gateway-{}-{}", app.name, env.name),
                config_map: format!("{}-config", app.name),
                vip: vip(plan, env, app, settings, &pools),
                generated_labelled: !env.advertisement.label.value.is_empty(),
            })
        });
        let replicas = app.as_ref().map_or(0, |a| usize::try_from(a.app.replicas).unwrap_or(usize::MAX));
        Design { plan, env, clients: env.client_networks.clone(), hops: hops(env), nodes: nodes(env, replicas), pools, app }
    }

    pub fn mode(&self) -> AdvertisementMode {
        self.env.advertisement.mode
    }

    pub fn label(&self) -> String {
        format!("{}={}", self.env.advertisement.label.key, self.env.advertisement.label.value)
    }

    pub fn node_subnets(&self) -> String {
        join(&self.env.node_subnets)
    }

    pub fn pod_cidrs(&self) -> String {
        join(&self.env.pod_cidrs)
    }

    pub fn local_asn(&self) -> Option<u32> {
        self.env.advertisement.bgp.as_ref().map(|b| b.local_asn.get())
    }

    /// The router that asks ARP for a VIP: the last of the path.
    pub fn arp_router(&self) -> &Hop {
        // `hops` is never empty: a stand-in is drawn when the plan lists no router.
        &self.hops[self.hops.len() - 1]
    }

    /// The routers that peer with the cluster by BGP.
    pub fn peers(&self) -> impl Iterator<Item = &Hop> {
        self.hops.iter().filter(|h| h.peer.is_some())
    }

    /// The pool's blocks for a diagram: ranges as `a to b`, so they wrap at the space.
    pub fn pool_blocks(pool: &VipPool) -> String {
        let block = |b: &PoolBlock| match b {
            PoolBlock::Cidr(c) => c.to_string(),
            PoolBlock::Range(r) => format!("{} to {}", r.start(), r.stop()),
        };
        pool.blocks.iter().map(block).collect::<Vec<_>>().join(", ")
    }

    pub fn pod_count(&self) -> usize {
        self.nodes.iter().map(|n| n.pods.len()).sum()
    }

    /// The node holding the pod the walks follow: the last node with a pod, so that the
    /// request crosses from one node to another when there are several.
    pub fn target_pod(&self) -> Option<(usize, usize)> {
        self.nodes.iter().enumerate().rev().find_map(|(i, n)| n.pods.first().map(|pod| (i, *pod)))
    }
}

pub fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn vip(plan: &Plan, env: &Environment, app: &Application, settings: &AppEnvironment, pools: &[&VipPool]) -> Vip {
    let pool_of = |address: &IpAddr| pools.iter().find(|p| p.contains(address)).map(|p| p.name.to_string());
    match settings.vip {
        VipRequest::Address(address) => Vip::Requested { address, pool: pool_of(&address) },
        VipRequest::Auto => plan
            .allocations
            .iter()
            .find(|a| a.environment == env.name && a.application.as_ref() == Some(&app.name))
            .map_or_else(
                || Vip::NextFree { pools: pools.iter().map(|p| p.name.to_string()).collect(), next: next_free(plan, pools) },
                |a| Vip::Allocated { address: a.address, pool: pool_of(&a.address) },
            ),
    }
}

/// The lowest address of the pools (blocks in address order, IPv4 first) that no allocation
/// of the plan holds: what a submission of an `auto` application would hold now.
fn next_free(plan: &Plan, pools: &[&VipPool]) -> Option<IpAddr> {
    let taken: std::collections::BTreeSet<IpAddr> = plan.allocations.iter().map(|a| a.address).collect();
    let mut blocks: Vec<&PoolBlock> = pools.iter().flat_map(|p| p.blocks.iter()).collect();
    blocks.sort_by_key(|b| (b.family(), b.first_u128()));
    blocks.into_iter().find_map(|block| {
        (block.first_u128()..=block.last_u128())
            .filter_map(|value| IpAddr::from_u128(block.family(), value))
            .find(|address| !taken.contains(address))
    })
}

fn hops(env: &Environment) -> Vec<Hop> {
    let peers = env.advertisement.bgp.as_ref().map(|b| b.peers.as_slice()).unwrap_or_default();
    let uses_bgp = env.advertisement.mode.uses_bgp();
    let peer_info = |p: &crate::BgpPeer| Peer { name: p.name.to_string(), asn: p.asn.get(), platform: p.platform };
    let mut hops: Vec<Hop> = env
        .routers
        .iter()
        .map(|r| Hop {
            id: local_id("router", r.name.as_str()),
            name: r.name.to_string(),
            address: Some(r.address),
            peer: peers.iter().find(|p| uses_bgp && p.address == r.address).map(peer_info),
            recorded: true,
        })
        .collect();
    if uses_bgp {
        for p in peers.iter().filter(|p| !env.routers.iter().any(|r| r.address == p.address)) {
            hops.push(Hop {
                id: local_id("peer", p.name.as_str()),
                name: p.name.to_string(),
                address: Some(p.address),
                peer: Some(peer_info(p)),
                recorded: true,
            });
        }
    }
    if hops.is_empty() {
        hops.push(Hop { id: "router-unrecorded".to_owned(), name: "router".to_owned(), address: None, peer: None, recorded: false });
    }
    hops
}

/// The environment's nodes, with the application's replicas spread over them in turn (as
/// the generated Deployment's topology spread asks the scheduler to).
fn nodes(env: &Environment, replicas: usize) -> Vec<Node> {
    let mut nodes: Vec<Node> = env
        .node_addresses
        .iter()
        .enumerate()
        .map(|(i, address)| Node {
            id: format!("node-{}", i + 1),
            name: format!("node-{}", i + 1),
            address: Some(*address),
            pods: Vec::new(),
        })
        .collect();
    if nodes.is_empty() {
        nodes.push(Node { id: "node-unrecorded".to_owned(), name: "nodes".to_owned(), address: None, pods: Vec::new() });
    }
    let count = nodes.len();
    for replica in 0..replicas {
        nodes[replica % count].pods.push(replica + 1);
    }
    nodes
}
