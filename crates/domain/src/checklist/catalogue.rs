//! The rules: each one's id, severity, title, training text and the diagram element it is drawn on.
use super::*;

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

pub(super) static RULES: [RuleInfo; 28] = [
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
pub(super) const CERTIFICATE_RULES: [&str; 6] = [
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
pub(super) const READINESS_RULES: [&str; 3] = [rule::CERT_MISSING.id, rule::CERT_SAN.id, rule::CERT_EXPIRED.id];

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
