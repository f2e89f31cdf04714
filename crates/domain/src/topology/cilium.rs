//! The Cilium design of one environment (and one application in it): clients → routers →
//! the Gateway VIP, found by ARP (one node answers) or BGP (the router learned a /32 from
//! every node) → TLS terminated → HTTPRoute → Service → pods on the nodes.

use super::design::{Design, Node, join};
use super::geometry::{Rect, pt};
use super::layout::{Columns, NodeText, Spec, beside, fan, heading, node_grid, side_label, zone};
use super::network::{GAP, clients_and_routers};
use super::scene::{Anchor, Kind, LinkStyle, Scene, ZoneKind, label, link};
use super::tasks::{K8S_ADVERTISE, K8S_CHECKLIST, K8S_HEALTH, K8S_IP_POOL, K8S_KEYS, K8S_OBJECTS, K8S_POD_IPS};
use crate::AdvertisementMode;

pub const WIDTH: i32 = 880;
const LEFT: i32 = 40;
const RIGHT: i32 = 840;
pub const COLUMNS: Columns = Columns { left: 54, side: 226, gap: 22, main: 276 };

/// Local ids of the elements the packet walk follows.
pub mod ids {
    pub const GATEWAY: &str = "gateway";
    pub const HTTPROUTE: &str = "httproute";
    pub const SERVICE: &str = "service";
    pub const CERTIFICATE: &str = "certificate";
    pub const POOL: &str = "pool";
    pub const L2_POLICY: &str = "l2-policy";
    pub const BGP_ADVERTISEMENT: &str = "bgp-advertisement";
    pub const DEPLOYMENT: &str = "deployment";
    pub const CONFIGMAP: &str = "configmap";
    pub const CLUSTER: &str = "cluster";
    pub const NODES: &str = "nodes";

    pub fn bgp_lane(hop: &str) -> String {
        format!("link-bgp-{hop}")
    }

    pub fn fan(node: &str) -> String {
        format!("link-fan-{node}")
    }
}

fn mode_words(mode: AdvertisementMode) -> &'static str {
    match mode {
        AdvertisementMode::Arp => "announces its VIPs by ARP (L2 announcements)",
        AdvertisementMode::Bgp => "announces its VIPs by BGP",
        AdvertisementMode::Both => "announces its VIPs by ARP and by BGP",
    }
}

pub fn scene(design: &Design<'_>, id: &str) -> Scene {
    let env = &design.env.name;
    let mode = design.mode();
    let cols = COLUMNS;
    let title = match &design.app {
        Some(a) => format!("Cilium: {} in {env}", a.app.name),
        None => format!("Cilium: environment {env}"),
    };
    let vip = design.app.as_ref().map_or_else(|| "a VIP".to_owned(), |a| a.vip.text());
    let arp_node = design.nodes.first().map_or("a node", |n| n.name.as_str()).to_owned();
    let summary = summary(design, &vip, &arp_node);
    let mut scene = Scene::new(id, title.clone(), summary);
    scene.width = WIDTH;
    let subtitle = format!("{env} {} · label {} · node subnet {}", mode_words(mode), design.label(), design.node_subnets());
    let y = heading(&mut scene, LEFT, 16, &title, &subtitle, RIGHT - LEFT) + 16;

    // Clients and routers.
    let hops: Vec<&super::design::Hop> = design.hops.iter().collect();
    let last = hops.len().saturating_sub(1);
    let request = match &design.app {
        Some(a) => format!("HTTPS to {} = {vip}", a.first_hostname()),
        None => "requests to the environment's VIPs".to_owned(),
    };
    let role = |i: usize, hop: &super::design::Hop| {
        if i == last && mode.uses_arp() {
            format!("the gateway of the node subnet; it asks ARP for {vip} on the node segment")
        } else if hop.peer.is_some() {
            "the cluster's BGP peer".to_owned()
        } else {
            "on the way to the node subnet".to_owned()
        }
    };
    let end = clients_and_routers(&mut scene, design, &cols, y, &hops, true, &request, &role, &[K8S_ADVERTISE]);

    // The cluster.
    let cluster_top = end.bottom + 72;
    let cluster_zone = zone(
        &mut scene,
        ids::CLUSTER,
        ZoneKind::Cluster,
        Rect::new(LEFT, cluster_top, RIGHT - LEFT, 0),
        {
            let cluster = match &design.env.cluster {
                Some(cluster) => format!("Cluster {cluster} ({env})"),
                None => format!("Cluster {env}"),
            };
            match &design.app {
                Some(a) => format!("{cluster} · namespace {}", design.env.namespace_or_own(a.app)),
                None => cluster,
            }
        },
        format!("The Kubernetes cluster of environment {env}; Cilium implements the Gateway, the Service and the VIP announcements on its nodes"),
    );
    scene.zones[cluster_zone].tasks = vec![K8S_CHECKLIST];
    let mut y = cluster_top + 36;

    let pool = pool_spec(design);
    let (gateway, certificate) = match &design.app {
        Some(a) => {
            let gateway = Spec::new(
                ids::GATEWAY,
                Kind::Gateway,
                format!("Gateway {}", a.gateway),
                vec![
                    a.vip.line(),
                    "HTTPS :443, TLS terminated here".to_owned(),
                    if a.generated_labelled {
                        format!("generated Service {} labelled {}", a.generated_service, design.label())
                    } else {
                        format!("generated Service {} lacks the label {}", a.generated_service, design.label())
                    },
                ],
                format!(
                    "Gateway {} listens on VIP {vip} (from {}) for HTTPS and terminates TLS; Cilium generates the LoadBalancer Service {} for it, which Gatehouse labels {} so that the VIP is announced",
                    a.gateway,
                    a.vip.source(),
                    a.generated_service,
                    design.label()
                ),
            )
            .tasks(&[K8S_OBJECTS, K8S_KEYS, K8S_IP_POOL]);
            let certificate = match a.certificate() {
                Some(cert) => Spec::new(
                    ids::CERTIFICATE,
                    Kind::Keys,
                    format!("Secret {cert}"),
                    vec![format!("TLS key pair for {}", join(&a.hostnames()))],
                    format!("The TLS certificate and private key {cert} of {env}, for {}; the Gateway terminates TLS with it", join(&a.hostnames())),
                ),
                None => Spec::new(
                    ids::CERTIFICATE,
                    Kind::Keys,
                    "No certificate",
                    vec![format!("{} names none in {env}", a.app.name)],
                    format!("Application {} names no TLS certificate in {env}, so its Gateway has nothing to terminate TLS with", a.app.name),
                )
                .unrecorded(true),
            }
            .tasks(&[K8S_KEYS]);
            (gateway, Some(certificate))
        }
        None => (
            Spec::new(
                ids::GATEWAY,
                Kind::Gateway,
                "No application yet",
                vec![format!("deploy one to {env} to draw its Gateway, HTTPRoute, Service and pods")],
                format!("No application is deployed to {env} yet"),
            )
            .unrecorded(true),
            None,
        ),
    };
    let [pool_rect, gateway_rect, certificate_rect] = cols.row(&mut scene, y, [Some(pool), Some(gateway), certificate]);
    let gateway_rect = gateway_rect.unwrap_or_default();
    let gw_lower = gateway_rect.y + 2 * gateway_rect.h / 3;

    // Router → Gateway, with how the router finds the VIP.
    let router = design.arp_router();
    let finding = match mode {
        AdvertisementMode::Arp => format!("ARP: who has {vip}? {arp_node} answers"),
        AdvertisementMode::Bgp => format!("BGP: {vip}/32 via every node"),
        AdvertisementMode::Both => format!("ARP: {arp_node} answers for {vip}; BGP: /32 via every node"),
    };
    end.link_to(
        &mut scene,
        ids::GATEWAY,
        gateway_rect,
        &|_| format!("Router {} forwards the request to the Gateway VIP {vip} on a node ({finding})", router.name),
        &[K8S_ADVERTISE],
    );
    if let Some(l) = scene.links.last_mut() {
        side_label(l, cols.center(), end.bottom, cluster_top, &finding, 300);
    }
    let gw = (ids::GATEWAY, gateway_rect);
    beside(&mut scene, (ids::POOL, pool_rect), gw, format!("The pool assigns the Gateway's VIP {vip}"), &[K8S_IP_POOL]);
    beside(&mut scene, (ids::CERTIFICATE, certificate_rect), gw, "The Gateway terminates TLS with this key pair".to_owned(), &[K8S_KEYS]);
    y = gateway_rect.bottom() + GAP;

    // Announcement policies beside the HTTPRoute.
    let l2 = mode.uses_arp().then(|| {
        let interfaces = design.env.advertisement.arp.as_ref().map(|a| a.interfaces.join(" ")).filter(|s| !s.is_empty());
        Spec::new(
            ids::L2_POLICY,
            Kind::Advertisement,
            "L2 announcements",
            vec![
                "CiliumL2AnnouncementPolicy".to_owned(),
                format!("selects {}", design.label()),
                format!("interfaces {}", interfaces.unwrap_or_else(|| "all".to_owned())),
            ],
            format!(
                "The CiliumL2AnnouncementPolicy selects Services labelled {}; for each selected VIP one node (elected by a lease) answers ARP",
                design.label()
            ),
        )
        .tasks(&[K8S_ADVERTISE, K8S_OBJECTS])
        .badge(Some("ARP".to_owned()))
    });
    let bgp = mode.uses_bgp().then(|| {
        let asn = design.local_asn().map_or_else(|| "not set".to_owned(), |a| a.to_string());
        let peers: Vec<String> = design.peers().map(|h| h.name.clone()).collect();
        Spec::new(
            ids::BGP_ADVERTISEMENT,
            Kind::Advertisement,
            "BGP advertisement",
            vec![
                "CiliumBGPAdvertisement".to_owned(),
                format!("selects {}", design.label()),
                format!("local AS {asn} → {}", if peers.is_empty() { "no peer".to_owned() } else { peers.join(", ") }),
            ],
            format!(
                "The CiliumBGPAdvertisement selects Services labelled {}; every node advertises a /32 route for each selected VIP to the BGP peers",
                design.label()
            ),
        )
        .tasks(&[K8S_ADVERTISE, K8S_OBJECTS])
        .badge(Some("BGP".to_owned()))
    });
    let route = design.app.as_ref().map(|a| {
        Spec::new(
            ids::HTTPROUTE,
            Kind::HttpRoute,
            format!("HTTPRoute {}", a.gateway),
            vec![format!("hosts {}", join(&a.hostnames())), format!("paths {}", a.paths().join(" ")), format!("→ Service {} :{}", a.app.name, a.port())],
            format!(
                "HTTPRoute {} sends requests for {} with paths {} to Service {} on port {}",
                a.gateway,
                join(&a.hostnames()),
                a.paths().join(", "),
                a.app.name,
                a.port()
            ),
        )
        .tasks(&[K8S_OBJECTS])
    });
    let has_route_row = l2.is_some() || bgp.is_some() || route.is_some();
    let [l2_rect, route_rect, bgp_rect] = cols.row(&mut scene, y, [l2, route, bgp]);
    let gutter_left = cols.main_x() - cols.gap / 2;
    let gutter_right = cols.main_x() + cols.main + cols.gap / 2;
    if let Some(rect) = l2_rect {
        let mut l = link(
            scene.id_of("link-l2-policy-gateway"),
            LinkStyle::Routing,
            vec![vec![pt(rect.right(), rect.y + 18), pt(gutter_left, rect.y + 18), pt(gutter_left, gw_lower), pt(gateway_rect.x, gw_lower)]],
            format!("The L2 announcement policy selects the Gateway's generated Service by its label {}", design.label()),
        );
        l.tasks = vec![K8S_ADVERTISE];
        scene.links.push(l);
    }
    if let Some(rect) = bgp_rect {
        let mut l = link(
            scene.id_of("link-bgp-advertisement-gateway"),
            LinkStyle::Routing,
            vec![vec![pt(rect.x, rect.y + 18), pt(gutter_right, rect.y + 18), pt(gutter_right, gw_lower), pt(gateway_rect.right(), gw_lower)]],
            format!("The BGP advertisement selects the Gateway's generated Service by its label {}", design.label()),
        );
        l.tasks = vec![K8S_ADVERTISE];
        scene.links.push(l);
    }
    if let Some(rect) = route_rect {
        let mut l = super::layout::down(&scene, ids::GATEWAY, ids::HTTPROUTE, gateway_rect, rect, "The Gateway hands the decrypted request to the HTTPRoute".to_owned());
        l.tasks = vec![K8S_OBJECTS];
        scene.links.push(l);
    }
    if has_route_row {
        y = [l2_rect, route_rect, bgp_rect].iter().flatten().map(Rect::bottom).max().unwrap_or(y) + GAP;
    }

    // Service, ConfigMap and Deployment.
    let mut service_rect = None;
    let mut side_drops: Vec<(Rect, &str, String, &'static str)> = Vec::new();
    if let Some(a) = &design.app {
        let configmap = Spec::new(
            ids::CONFIGMAP,
            Kind::ConfigMap,
            format!("ConfigMap {}", a.config_map),
            a.config_lines(3),
            format!("ConfigMap {} holds {env}'s settings of {}; the pods read it as environment variables", a.config_map, a.app.name),
        );
        let service = Spec::new(
            ids::SERVICE,
            Kind::Service,
            format!("Service {}", a.app.name),
            vec![format!("ClusterIP from {}", design.env.service_cidr), format!("port {} → ready pods", a.port())],
            format!(
                "Service {} (ClusterIP from service CIDR {}) balances port {} over the ready pods of the Deployment",
                a.app.name,
                design.env.service_cidr,
                a.port()
            ),
        )
        .tasks(&[K8S_OBJECTS]);
        let mut deployment_lines = vec![
            format!("ReplicaSet: {} pods", a.app.replicas),
            format!("pod IPs from {}", design.pod_cidrs()),
        ];
        deployment_lines.push(match a.readiness() {
            Some(path) => format!("readiness {path}"),
            None => "no readiness probe".to_owned(),
        });
        let deployment = Spec::new(
            ids::DEPLOYMENT,
            Kind::Deployment,
            format!("Deployment {}", a.app.name),
            deployment_lines,
            format!(
                "Deployment {} keeps {} pods ({}) running through its ReplicaSet, spread over the nodes; pods get their IPs from pod CIDR {} and are probed at {}",
                a.app.name,
                a.app.replicas,
                a.app.image,
                design.pod_cidrs(),
                a.readiness().unwrap_or_else(|| "no readiness path".to_owned())
            ),
        )
        .tasks(&[K8S_HEALTH, K8S_POD_IPS]);
        let [cm_rect, svc_rect, dep_rect] = cols.row(&mut scene, y, [Some(configmap), Some(service), Some(deployment)]);
        if let (Some(route), Some(svc)) = (route_rect, svc_rect) {
            let mut l = super::layout::down(&scene, ids::HTTPROUTE, ids::SERVICE, route, svc, format!("The HTTPRoute sends the request to Service {}", a.app.name));
            l.tasks = vec![K8S_OBJECTS];
            scene.links.push(l);
        }
        service_rect = svc_rect;
        if let Some(r) = cm_rect {
            side_drops.push((r, ids::CONFIGMAP, format!("The pods read ConfigMap {} as environment variables", a.config_map), K8S_OBJECTS));
        }
        if let Some(r) = dep_rect {
            side_drops.push((r, ids::DEPLOYMENT, format!("Deployment {} runs its pods on the nodes", a.app.name), K8S_POD_IPS));
        }
        y = [cm_rect, svc_rect, dep_rect].iter().flatten().map(Rect::bottom).max().unwrap_or(y) + 56;
    }

    // The nodes on their subnet, with the pods.
    let nodes_top = y;
    let nodes_zone = zone(
        &mut scene,
        ids::NODES,
        ZoneKind::Network,
        Rect::new(cols.left, nodes_top, cols.width(), 0),
        if mode.uses_arp() { format!("Node subnet {} · L2 segment", design.node_subnets()) } else { format!("Node subnet {}", design.node_subnets()) },
        format!(
            "The {} nodes of {env} on {}; pods get addresses from pod CIDR {}",
            design.nodes.len(),
            design.node_subnets(),
            design.pod_cidrs()
        ),
    );
    scene.zones[nodes_zone].tasks = vec![K8S_POD_IPS];
    let app_name = design.app.as_ref().map(|a| a.app.name.to_string());
    let node_text = |i: usize, node: &Node| {
        let mut lines = vec![node.address.map_or_else(|| "addresses not recorded".to_owned(), |a| a.to_string())];
        let mut badges = Vec::new();
        let mut alt = match node.address {
            Some(address) => format!("{} ({address}), a Kubernetes node on {}", node.name, design.node_subnets()),
            None => format!("The nodes of {env}; their addresses are not recorded"),
        };
        if let Some(app) = &app_name {
            alt.push_str(&format!(", running {} pod{} of {app}", node.pods.len(), if node.pods.len() == 1 { "" } else { "s" }));
        }
        let announced = design.app.as_ref().is_some_and(|a| a.generated_labelled);
        if i == 0 && mode.uses_arp() && announced {
            badges.push("ARP");
            lines.push(format!("answers ARP for {vip}"));
            alt.push_str(&format!("; it holds the L2 announcement lease for {vip} and answers ARP for it (Cilium elects one node per VIP; the drawing shows it here)"));
        }
        if mode.uses_bgp() && announced {
            badges.push("BGP");
            alt.push_str(&format!("; it advertises {vip}/32 to the BGP peers"));
        }
        NodeText { title: None, lines, alt, badge: (!badges.is_empty()).then(|| badges.join(" · ")) }
    };
    let grid = node_grid(&mut scene, design, cols.left + 12, nodes_top + 52, cols.width() - 24, Kind::Node, &node_text, true);
    let nodes_bottom = grid.bottom + 16;
    scene.zones[nodes_zone].rect.h = nodes_bottom - nodes_top;
    for (rect, local, alt, task) in side_drops {
        let mut l = link(
            scene.id_of(&format!("link-{local}-nodes")),
            LinkStyle::Relation,
            vec![vec![rect.bottom_mid(), pt(rect.cx(), nodes_top)]],
            alt,
        );
        l.tasks = vec![task];
        scene.links.push(l);
    }
    if let (Some(svc), Some(a)) = (service_rect, &design.app) {
        let alt = |node: &Node| {
            format!("Service {} forwards to the pods on {} ({} pod{})", a.app.name, node.name, node.pods.len(), if node.pods.len() == 1 { "" } else { "s" })
        };
        let all = format!("Service {} forwards to {} pods on {} nodes", a.app.name, design.pod_count(), design.nodes.len());
        let mut links = fan(&scene, svc, &grid, design, nodes_top, nodes_top + 30, &alt, all);
        for l in &mut links {
            l.tasks = vec![K8S_OBJECTS];
        }
        scene.links.extend(links);
    }

    // BGP: a lane from the nodes up to each peer, labelled with what it carries.
    if mode.uses_bgp() {
        let local_asn = design.local_asn().map_or_else(|| "the cluster's AS".to_owned(), |a| format!("AS {a}"));
        for (k, hop) in design.peers().enumerate() {
            let Some(router) = scene.element(&scene.id_of(&hop.id)).map(|e| e.rect) else { continue };
            let k = i32::try_from(k).unwrap_or(0);
            let lane = WIDTH - 20 - 10 * k;
            let start_y = nodes_top + 44 + 10 * k;
            let peer_asn = hop.peer.as_ref().map_or(0, |p| p.asn);
            let mut l = link(
                scene.id_of(&ids::bgp_lane(&hop.id)),
                LinkStyle::Routing,
                vec![vec![pt(cols.left + cols.width(), start_y), pt(lane, start_y), pt(lane, router.bottom() - 12), pt(router.right(), router.bottom() - 12)]],
                format!("Every node advertises {vip}/32 by BGP ({local_asn}) to router {} (AS {peer_asn})", hop.name),
            );
            let text = format!("BGP: every node advertises {vip}/32 ({local_asn} → AS {peer_asn})");
            l.label = label(&text, pt(router.right() + 12, router.y + 12), Anchor::Start, lane - router.right() - 24);
            l.tasks = vec![K8S_ADVERTISE];
            scene.links.push(l);
        }
    }

    let cluster_bottom = nodes_bottom + 14;
    scene.zones[cluster_zone].rect.h = cluster_bottom - cluster_top;
    scene.height = cluster_bottom + 24;
    scene
}

fn pool_spec(design: &Design<'_>) -> Spec {
    let env = &design.env.name;
    let spec = match design.pools.as_slice() {
        [] => Spec::new(
            ids::POOL,
            Kind::Pool,
            "No VIP pool",
            vec![format!("{env} has none yet")],
            format!("{env} has no CiliumLoadBalancerIPPool yet, so no Service gets a VIP"),
        )
        .unrecorded(true),
        [pool] => Spec::new(
            ids::POOL,
            Kind::Pool,
            format!("VIP pool {}", pool.name),
            vec![Design::pool_blocks(pool)],
            format!("CiliumLoadBalancerIPPool {} of {env} with {}", pool.name, Design::pool_blocks(pool)),
        ),
        pools => Spec::new(
            ids::POOL,
            Kind::Pool,
            "VIP pools",
            pools.iter().map(|p| format!("{}: {}", p.name, Design::pool_blocks(p))).collect(),
            format!(
                "The CiliumLoadBalancerIPPools of {env}: {}",
                pools.iter().map(|p| format!("{} ({})", p.name, Design::pool_blocks(p))).collect::<Vec<_>>().join(", ")
            ),
        ),
    };
    spec.tasks(&[K8S_IP_POOL])
}

fn summary(design: &Design<'_>, vip: &str, arp_node: &str) -> String {
    let env = &design.env.name;
    let clients = if design.clients.is_empty() { "Clients".to_owned() } else { format!("Clients on {}", join(&design.clients)) };
    let routers = design.hops.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(" and ");
    let found = match design.mode() {
        AdvertisementMode::Arp => format!("{} asks ARP for it and {arp_node} answers", design.arp_router().name),
        AdvertisementMode::Bgp => "the router learned a /32 route for it from every node by BGP".to_owned(),
        AdvertisementMode::Both => format!("{arp_node} answers ARP for it and every node also advertises it by BGP"),
    };
    match &design.app {
        Some(a) => format!(
            "{clients} send HTTPS for {} to VIP {vip} through routers {routers}; {found}. The Gateway {} terminates TLS{}, the HTTPRoute sends the request to Service {}, which forwards it to {} pods on {} nodes in {env}.",
            join(&a.hostnames()),
            a.gateway,
            a.certificate().map(|c| format!(" with {c}")).unwrap_or_default(),
            a.app.name,
            design.pod_count(),
            design.nodes.len()
        ),
        None => format!("{clients} reach environment {env} through routers {routers}; {found}. No application is deployed to {env} yet."),
    }
}
