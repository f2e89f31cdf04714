//! The turn-up tasks of the side-by-side view: what a hardware team did to bring a service
//! up behind an appliance, and what the Kubernetes admin does instead, each tied to the
//! diagram elements it concerns (by the `task-<id>` class) and, on the Kubernetes side, to
//! the Gatehouse page that does it.

use super::design::{Design, join};

pub const HW_APPLIANCE: &str = "hw-appliance";
pub const HW_KEYS: &str = "hw-keys";
pub const HW_HOST_IPS: &str = "hw-host-ips";
pub const HW_VIP: &str = "hw-vip";
pub const HW_ROUTING: &str = "hw-routing";
pub const HW_HEALTH: &str = "hw-health";

pub const K8S_OBJECTS: &str = "k8s-objects";
pub const K8S_KEYS: &str = "k8s-keys";
pub const K8S_POD_IPS: &str = "k8s-pod-ips";
pub const K8S_IP_POOL: &str = "k8s-ip-pool";
pub const K8S_ADVERTISE: &str = "k8s-advertise";
pub const K8S_HEALTH: &str = "k8s-health";
pub const K8S_CHECKLIST: &str = "k8s-checklist";

/// Every task id, for the stylesheet's highlight rules (a test holds them in step).
pub const ALL: [&str; 13] = [
    HW_APPLIANCE,
    HW_KEYS,
    HW_HOST_IPS,
    HW_VIP,
    HW_ROUTING,
    HW_HEALTH,
    K8S_OBJECTS,
    K8S_KEYS,
    K8S_POD_IPS,
    K8S_IP_POOL,
    K8S_ADVERTISE,
    K8S_HEALTH,
    K8S_CHECKLIST,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub detail: String,
    /// The Gatehouse page that does it (Kubernetes tasks).
    pub href: Option<String>,
}

fn task(id: &str, title: String, detail: String, href: Option<&str>) -> Task {
    Task { id: id.to_owned(), title, detail, href: href.map(str::to_owned) }
}

/// The hardware team's tasks, in the order they were done.
pub fn hardware(design: &Design<'_>) -> Vec<Task> {
    let host = design.app.as_ref().map_or_else(|| "the service's hostnames".to_owned(), |a| join(&a.hostnames()));
    let vip = design.app.as_ref().map_or_else(|| "a VIP".to_owned(), |a| a.vip.text());
    let hosts = design.nodes.len();
    let routers: Vec<&str> = design.hops.iter().filter(|h| h.recorded).map(|h| h.name.as_str()).collect();
    let health = design
        .app
        .as_ref()
        .and_then(|a| a.readiness().map(|p| format!("GET {p} on port {}", a.port())))
        .unwrap_or_else(|| "a TCP check of the service port".to_owned());
    vec![
        task(HW_APPLIANCE, "Buy the appliance".into(), "Order, rack, cable and license the load-balancer appliance (a pair, for failover).".into(), None),
        task(HW_KEYS, format!("Keys for {host}"), "Generate the key pair, get the certificate signed and install both on the appliance.".into(), None),
        task(HW_HOST_IPS, "Host IPs".into(), format!("Give each of the {hosts} hosts an address on {} and install the JVM service.", design.node_subnets()), None),
        task(HW_VIP, format!("The VIP {vip}"), "Reserve the address and configure it as the appliance's virtual server on port 443.".into(), None),
        task(HW_ROUTING, "Route the VIP range".into(), if routers.is_empty() { "Have the network team route the VIP range to the appliance.".into() } else { format!("Have the network team route the VIP range through {} to the appliance.", routers.join(" and ")) }, None),
        task(HW_HEALTH, "Health checks".into(), format!("Configure the appliance to probe each host ({health}) and take failing hosts out of the pool."), None),
    ]
}

/// The Kubernetes admin's tasks, each with the Gatehouse page that does it.
pub fn kubernetes(design: &Design<'_>) -> Vec<Task> {
    let mode = match design.mode() {
        crate::AdvertisementMode::Arp => "by ARP (L2 announcements)",
        crate::AdvertisementMode::Bgp => "by BGP to the router",
        crate::AdvertisementMode::Both => "by ARP and by BGP to the router",
    };
    let pools = design.pools.iter().map(|p| p.name.to_string()).collect::<Vec<_>>();
    vec![
        task(K8S_OBJECTS, "Service, HTTPRoute and Gateway".into(), format!("Generated per environment with the advertisement label {} — on the Gateway's generated Service too.", design.label()), Some("/applications")),
        task(K8S_KEYS, "Keys".into(), "A TLS certificate and key per environment, stored as the Secret the Gateway terminates with.".into(), Some("/certificates")),
        task(K8S_POD_IPS, "Pod IPs: automatic".into(), format!("Cilium's IPAM gives every pod an address from pod CIDR {}; nothing to hand out.", design.pod_cidrs()), Some("/environments")),
        task(K8S_IP_POOL, "The VIP pool".into(), if pools.is_empty() { "A CiliumLoadBalancerIPPool per environment; LB-IPAM assigns VIPs from it.".into() } else { format!("CiliumLoadBalancerIPPool {}; LB-IPAM assigns the Gateway's VIP from it.", pools.join(", ")) }, Some("/pools")),
        task(K8S_ADVERTISE, "Announce the VIPs".into(), format!("The environment announces its VIPs {mode}; Gatehouse writes the policy and the router's configuration."), Some("/environments")),
        task(K8S_HEALTH, "Health checks: probes".into(), "Readiness and liveness probes on the Deployment; a pod that fails readiness leaves the Service's endpoints.".into(), Some("/applications")),
        task(K8S_CHECKLIST, "Work the checklist".into(), "Every rule passes before the bundle goes to the cluster.".into(), Some("/checklist")),
    ]
}
