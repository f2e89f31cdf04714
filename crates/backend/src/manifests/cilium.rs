//! The Cilium objects of an environment: LB-IPAM pools, the L2 announcement policy (ARP) and
//! the BGP control plane (cluster config, peer config, advertisement). Field names as in the
//! Cilium v1.19 CRDs (`shared/crds/cilium`).
//!
//! Everything selects Services by the environment's advertisement label, which Gatehouse puts
//! on every LoadBalancer Service and Gateway of the environment. The BGP advertisement carries
//! the same label, and the peer config selects it by that label: one label marks everything
//! the environment announces.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde::Serialize;

use super::labels::{self, Labels};
use super::{CustomKind, CustomResource};
use domain::{BgpSettings, Environment, IpFamily, PoolBlock, VipPool};

/// Nodes with this label are control-plane nodes; by default they do not answer ARP for VIPs.
const CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";

pub type IpPool = CustomResource<IpPoolSpec>;
pub type L2AnnouncementPolicy = CustomResource<L2AnnouncementPolicySpec>;
pub type BgpClusterConfig = CustomResource<BgpClusterConfigSpec>;
pub type BgpPeerConfig = CustomResource<BgpPeerConfigSpec>;
pub type BgpAdvertisement = CustomResource<BgpAdvertisementSpec>;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpPoolSpec {
    #[serde(rename = "allowFirstLastIPs")]
    pub allow_first_last_ips: YesNo,
    pub blocks: Vec<IpBlock>,
    pub service_selector: LabelSelector,
}

impl CustomKind for IpPoolSpec {
    const API_VERSION: &'static str = "cilium.io/v2";
    const KIND: &'static str = "CiliumLoadBalancerIPPool";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum YesNo {
    Yes,
}

/// `{cidr}` or `{start, stop}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IpBlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L2AnnouncementPolicySpec {
    pub service_selector: LabelSelector,
    pub node_selector: LabelSelector,
    /// Regular expressions of interface names; empty means every interface.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    #[serde(rename = "loadBalancerIPs")]
    pub load_balancer_ips: bool,
    #[serde(rename = "externalIPs")]
    pub external_ips: bool,
}

impl CustomKind for L2AnnouncementPolicySpec {
    const API_VERSION: &'static str = "cilium.io/v2alpha1";
    const KIND: &'static str = "CiliumL2AnnouncementPolicy";
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpClusterConfigSpec {
    pub bgp_instances: Vec<BgpInstance>,
}

impl CustomKind for BgpClusterConfigSpec {
    const API_VERSION: &'static str = "cilium.io/v2";
    const KIND: &'static str = "CiliumBGPClusterConfig";
}

#[derive(Debug, Clone, Serialize)]
pub struct BgpInstance {
    pub name: String,
    #[serde(rename = "localASN")]
    pub local_asn: u32,
    pub peers: Vec<BgpPeer>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpPeer {
    pub name: String,
    #[serde(rename = "peerASN")]
    pub peer_asn: u32,
    pub peer_address: String,
    pub peer_config_ref: PeerConfigReference,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeerConfigReference {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BgpPeerConfigSpec {
    pub families: Vec<BgpFamily>,
}

impl CustomKind for BgpPeerConfigSpec {
    const API_VERSION: &'static str = "cilium.io/v2";
    const KIND: &'static str = "CiliumBGPPeerConfig";
}

#[derive(Debug, Clone, Serialize)]
pub struct BgpFamily {
    pub afi: Afi,
    pub safi: Safi,
    /// Selects the CiliumBGPAdvertisements whose routes go to the peer.
    pub advertisements: LabelSelector,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Afi {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Safi {
    Unicast,
}

#[derive(Debug, Clone, Serialize)]
pub struct BgpAdvertisementSpec {
    pub advertisements: Vec<Advertisement>,
}

impl CustomKind for BgpAdvertisementSpec {
    const API_VERSION: &'static str = "cilium.io/v2";
    const KIND: &'static str = "CiliumBGPAdvertisement";
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Advertisement {
    pub advertisement_type: AdvertisementType,
    pub service: ServiceAdvertisement,
    pub selector: LabelSelector,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AdvertisementType {
    Service,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceAdvertisement {
    pub addresses: Vec<ServiceAddressType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServiceAddressType {
    LoadBalancerIP,
}

/// `gatehouse-<env>`: the name of the environment's announcement policy and BGP objects.
pub fn object_name(env: &Environment) -> String {
    format!("gatehouse-{}", env.name)
}

fn advertisement_selector(env: &Environment) -> LabelSelector {
    labels::match_labels(labels::advertisement(env))
}

pub fn ip_pool(env: &Environment, pool: &VipPool) -> IpPool {
    let blocks = pool
        .blocks
        .iter()
        .map(|block| match block {
            PoolBlock::Cidr(cidr) => IpBlock { cidr: Some(cidr.to_string()), ..IpBlock::default() },
            PoolBlock::Range(range) => IpBlock {
                start: Some(range.start().to_string()),
                stop: Some(range.stop().to_string()),
                ..IpBlock::default()
            },
        })
        .collect();
    IpPool::new(
        labels::cluster_meta(pool.name.to_string(), labels::environment_labels(env)),
        IpPoolSpec {
            // Explicit, so the pool holds as many addresses as Gatehouse counts in it (the
            // default has changed between Cilium releases).
            allow_first_last_ips: YesNo::Yes,
            blocks,
            service_selector: advertisement_selector(env),
        },
    )
}

pub fn l2_announcement_policy(env: &Environment) -> L2AnnouncementPolicy {
    let settings = env.advertisement.arp.clone().unwrap_or_default();
    let node_selector = if settings.node_selector.is_empty() {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: CONTROL_PLANE.to_owned(),
                operator: "DoesNotExist".to_owned(),
                values: None,
            }]),
            ..LabelSelector::default()
        }
    } else {
        labels::match_labels(settings.node_selector.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    };
    L2AnnouncementPolicy::new(
        labels::cluster_meta(object_name(env), labels::environment_labels(env)),
        L2AnnouncementPolicySpec {
            service_selector: advertisement_selector(env),
            node_selector,
            interfaces: settings.interfaces,
            load_balancer_ips: true,
            external_ips: false,
        },
    )
}

/// Every node peers with every peer of the environment (no node selector).
pub fn bgp_cluster_config(env: &Environment, bgp: &BgpSettings) -> BgpClusterConfig {
    let peers = bgp
        .peers
        .iter()
        .map(|peer| BgpPeer {
            name: peer.name.to_string(),
            peer_asn: peer.asn.get(),
            peer_address: peer.address.to_string(),
            peer_config_ref: PeerConfigReference { name: object_name(env) },
        })
        .collect();
    BgpClusterConfig::new(
        labels::cluster_meta(object_name(env), labels::environment_labels(env)),
        BgpClusterConfigSpec {
            bgp_instances: vec![BgpInstance { name: object_name(env), local_asn: bgp.local_asn.get(), peers }],
        },
    )
}

/// Unicast for each address family of the environment's pools (IPv4 when there are none),
/// with the environment's advertisements.
pub fn bgp_peer_config<'a>(env: &Environment, pools: impl Iterator<Item = &'a VipPool>) -> BgpPeerConfig {
    let mut afis: Vec<Afi> = pools
        .flat_map(|pool| &pool.blocks)
        .map(|block| match block.family() {
            IpFamily::Ipv4 => Afi::Ipv4,
            IpFamily::Ipv6 => Afi::Ipv6,
        })
        .collect();
    afis.sort();
    afis.dedup();
    if afis.is_empty() {
        afis.push(Afi::Ipv4);
    }
    let families = afis
        .into_iter()
        .map(|afi| BgpFamily { afi, safi: Safi::Unicast, advertisements: advertisement_selector(env) })
        .collect();
    BgpPeerConfig::new(
        labels::cluster_meta(object_name(env), labels::environment_labels(env)),
        BgpPeerConfigSpec { families },
    )
}

/// The LoadBalancer IPs of the environment's Services; labelled so the peer config picks it.
pub fn bgp_advertisement(env: &Environment) -> BgpAdvertisement {
    let metadata_labels: Labels = labels::with_advertisement(labels::environment_labels(env), env);
    BgpAdvertisement::new(
        labels::cluster_meta(object_name(env), metadata_labels),
        BgpAdvertisementSpec {
            advertisements: vec![Advertisement {
                advertisement_type: AdvertisementType::Service,
                service: ServiceAdvertisement { addresses: vec![ServiceAddressType::LoadBalancerIP] },
                selector: advertisement_selector(env),
            }],
        },
    )
}
