//! The hardware design the Cilium design replaces, drawn from the same plan: the clients,
//! the routers, a load-balancer appliance holding the VIP and the key pair, and the hosts on
//! the node subnet each running the service, health-checked by the appliance.

use super::design::{Design, Hop, Node, join};
use super::geometry::{Rect, pt};
use super::layout::{NodeText, Spec, beside, down, heading, node_grid, side_label, zone};
use super::network::{GAP, clients_and_routers};
use super::scene::{Anchor, Kind, LinkStyle, Scene, ZoneKind, label, link};
use super::tasks::{HW_APPLIANCE, HW_HEALTH, HW_HOST_IPS, HW_KEYS, HW_ROUTING, HW_VIP};

pub use super::cilium::{COLUMNS, WIDTH};

const LEFT: i32 = 40;
const LANE: i32 = 20;

pub mod ids {
    pub const APPLIANCE: &str = "appliance";
    pub const VIP: &str = "vip";
    pub const KEYS: &str = "keys";
    pub const HOSTS: &str = "hosts";
    pub const HEALTH: &str = "link-health";
}

pub fn scene(design: &Design<'_>, id: &str) -> Scene {
    let cols = COLUMNS;
    let env = &design.env.name;
    let service = design.app.as_ref().map_or_else(|| "the service".to_owned(), |a| a.app.name.to_string());
    let title = match &design.app {
        Some(a) => format!("Hardware: {} in {env}", a.app.name),
        None => format!("Hardware: environment {env}"),
    };
    let vip = design.app.as_ref().map_or_else(|| "the VIP".to_owned(), |a| a.vip.text());
    let hosts = design.nodes.len();
    let port = design.app.as_ref().map(|a| a.port());
    let hostnames = design.app.as_ref().map_or_else(|| "the service's hostnames".to_owned(), |a| join(&a.hostnames()));
    let health = match design.app.as_ref().and_then(|a| a.readiness().map(|p| (p, a.port()))) {
        Some((path, port)) => format!("GET {path} :{port}"),
        None => format!("TCP :{}", port.map_or_else(|| "service port".to_owned(), |p| p.to_string())),
    };
    let summary = format!(
        "The design Cilium replaces, for {service} in {env}: clients{} reach a load-balancer appliance through routers {}; the appliance holds VIP {vip} and the key pair for {hostnames}, terminates TLS and balances over {hosts} hosts on {}, each running {service} as a JVM service, and health-checks each host ({health}).",
        if design.clients.is_empty() { String::new() } else { format!(" on {}", join(&design.clients)) },
        design.hops.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(" and "),
        design.node_subnets()
    );
    let mut scene = Scene::new(id, title.clone(), summary);
    scene.width = WIDTH;
    let subtitle = format!(
        "What a hardware team built before Cilium: one appliance in front of {hosts} host{} on {}",
        if hosts == 1 { "" } else { "s" },
        design.node_subnets()
    );
    let y = heading(&mut scene, LEFT, 16, &title, &subtitle, WIDTH - 2 * LEFT) + 16;

    // Routers in front of the appliance; the last one (the hosts' gateway) behind it.
    let all: Vec<&Hop> = design.hops.iter().collect();
    let (before, after): (Vec<&Hop>, Vec<&Hop>) = if all.len() >= 2 {
        (all[..all.len() - 1].to_vec(), vec![all[all.len() - 1]])
    } else {
        (all.clone(), Vec::new())
    };
    let role = |_: usize, _: &Hop| "routing the clients' traffic towards the appliance".to_owned();
    let request = format!("HTTPS to {} = {vip}", design.app.as_ref().map_or_else(|| "the service".to_owned(), |a| a.first_hostname()));
    let end = clients_and_routers(&mut scene, design, &cols, y, &before, false, &request, &role, &[HW_ROUTING]);

    let appliance_y = end.bottom + GAP;
    let vip_spec = Spec::new(
        ids::VIP,
        Kind::Vip,
        format!("VIP {vip}"),
        vec!["virtual server :443".to_owned()],
        format!("The VIP {vip}, configured on the appliance as a virtual server on port 443"),
    )
    .tasks(&[HW_VIP]);
    let appliance = Spec::new(
        ids::APPLIANCE,
        Kind::Appliance,
        "Load-balancer appliance",
        vec![
            "terminates TLS".to_owned(),
            format!("balances over {hosts} host{}{}", if hosts == 1 { "" } else { "s" }, port.map(|p| format!(" :{p}")).unwrap_or_default()),
            "health-checks each host".to_owned(),
        ],
        format!("A hardware load-balancer appliance: it answers on {vip}, terminates TLS with the key pair it holds and balances the requests over the healthy hosts"),
    )
    .tasks(&[HW_APPLIANCE, HW_HEALTH]);
    let keys = Spec::new(
        ids::KEYS,
        Kind::Keys,
        "Key pair",
        vec![hostnames.clone()],
        format!("The TLS certificate and private key for {hostnames}, installed on the appliance"),
    )
    .tasks(&[HW_KEYS]);
    let [vip_rect, appliance_rect, keys_rect] = cols.row(&mut scene, appliance_y, [Some(vip_spec), Some(appliance), Some(keys)]);
    let appliance_rect = appliance_rect.unwrap_or_default();
    let router_name = |local: &str| design.hops.iter().find(|h| h.id == local).map_or_else(|| "router".to_owned(), |h| h.name.clone());
    end.link_to(&mut scene, ids::APPLIANCE, appliance_rect, &|from| format!("Router {} forwards the request to the appliance's VIP {vip}", router_name(from)), &[HW_ROUTING]);
    if before.is_empty()
        && let Some(l) = scene.links.last_mut()
    {
        side_label(l, cols.center(), end.bottom, appliance_y, &request, 250);
    }
    let appliance_at = (ids::APPLIANCE, appliance_rect);
    beside(&mut scene, (ids::VIP, vip_rect), appliance_at, format!("The appliance answers on VIP {vip}"), &[HW_VIP]);
    beside(&mut scene, (ids::KEYS, keys_rect), appliance_at, format!("The appliance terminates TLS with the key pair for {hostnames}"), &[HW_KEYS]);

    // The router behind the appliance, if any.
    let mut upstream = (ids::APPLIANCE.to_owned(), appliance_rect);
    let mut y = appliance_rect.bottom();
    for hop in &after {
        let spec = super::network::router_spec(design, hop, "the gateway of the hosts' subnet", false, &[HW_ROUTING]);
        let [_, Some(rect), _] = cols.row(&mut scene, y + GAP, [None, Some(spec), None]) else { continue };
        let mut l = down(&scene, &upstream.0, &hop.id, upstream.1, rect, format!("The appliance sends the request to router {}, towards the host it chose", hop.name));
        l.tasks = vec![HW_ROUTING];
        scene.links.push(l);
        upstream = (hop.id.clone(), rect);
        y = rect.bottom();
    }

    // The hosts.
    // Room for the health checks' label when no router separates the appliance from the hosts.
    let hosts_top = y + if after.is_empty() { 96 } else { 56 };
    let hosts_zone = zone(
        &mut scene,
        ids::HOSTS,
        ZoneKind::Network,
        Rect::new(cols.left, hosts_top, cols.width(), 0),
        format!("Host subnet {}", design.node_subnets()),
        format!("The {hosts} physical hosts on {}", design.node_subnets()),
    );
    scene.zones[hosts_zone].tasks = vec![HW_HOST_IPS];
    let jvm = design.app.as_ref().map(|a| {
        let image = a.app.image.repository().rsplit('/').next().unwrap_or_default().to_owned();
        let tag = a.app.image.tag().map(|t| format!(" {t}")).unwrap_or_default();
        format!("JVM: {image}{tag}{}", port.map(|p| format!(" :{p}")).unwrap_or_default())
    });
    let host_text = |i: usize, node: &Node| {
        let mut lines = vec![node.address.map_or_else(|| "addresses not recorded".to_owned(), |a| a.to_string())];
        lines.extend(jvm.clone());
        NodeText {
            title: Some(format!("host-{}", i + 1)),
            alt: format!(
                "Physical host host-{} at {}, running {service} as a JVM service{}",
                i + 1,
                node.address.map_or_else(|| "an address not recorded".to_owned(), |a| a.to_string()),
                port.map(|p| format!(" on port {p}")).unwrap_or_default()
            ),
            lines,
            badge: None,
        }
    };
    let grid = node_grid(&mut scene, design, cols.left + 12, hosts_top + 52, cols.width() - 24, Kind::Host, &host_text, false);
    for e in scene.elements.iter_mut().filter(|e| e.kind == Kind::Host) {
        e.tasks = vec![HW_HOST_IPS, HW_HEALTH];
    }
    let fan_alt = |node: &Node| {
        let host = node.id.replacen("node", "host", 1);
        format!("The request reaches {host}{}", node.address.map(|a| format!(" on {a}")).unwrap_or_default())
    };
    let mut links = super::layout::fan(&scene, upstream.1, &grid, design, hosts_top, hosts_top + 30, &fan_alt, format!("The request reaches one of the {hosts} hosts"));
    for l in &mut links {
        l.id = l.id.replace("link-fan-node", "link-fan-host");
        l.tasks = vec![HW_ROUTING];
    }
    scene.links.extend(links);

    // Health checks: from the appliance down the left lane, to every host from below.
    let bus = grid.bottom + 12;
    let turn = appliance_rect.bottom() + 24;
    let start = pt(appliance_rect.x + 24, appliance_rect.bottom());
    let mut paths = Vec::new();
    if grid.one_row {
        let last = grid.rects.last().copied().unwrap_or_default();
        paths.push(vec![start, pt(start.x, turn), pt(LANE, turn), pt(LANE, bus), pt(last.cx(), bus), last.bottom_mid()]);
        for r in &grid.rects[..grid.rects.len().saturating_sub(1)] {
            paths.push(vec![pt(r.cx(), bus), r.bottom_mid()]);
        }
    } else {
        let mid = (hosts_top + grid.bottom) / 2;
        paths.push(vec![start, pt(start.x, turn), pt(LANE, turn), pt(LANE, mid), pt(cols.left, mid)]);
    }
    let mut health_link = link(
        scene.id_of(ids::HEALTH),
        LinkStyle::Health,
        paths,
        format!("The appliance health-checks every host ({health}) and stops sending requests to a host that fails"),
    );
    health_link.label = label(&format!("health checks: {health} to each host"), pt(LANE + 8, turn + 18), Anchor::Start, cols.main_x() - LANE - 24);
    health_link.tasks = vec![HW_HEALTH];
    scene.links.push(health_link);

    let hosts_bottom = grid.bottom + if grid.one_row { 26 } else { 16 };
    scene.zones[hosts_zone].rect.h = hosts_bottom - hosts_top;
    scene.height = hosts_bottom + 24;
    scene
}
