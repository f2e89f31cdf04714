//! The packet walk: a request from a client to a pod and back, step by step, over the
//! Cilium diagram — by ARP or by BGP — with the two caveats at the step where they bite.

use super::cilium::{self, ids};
use super::design::{Design, Hop};
use super::geometry::pt;
use super::scene::{Anchor, LinkStyle, Mark, Scene, Token, label, link};
use crate::Platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkKind {
    Arp,
    Bgp,
}

impl WalkKind {
    pub fn parse(input: &str) -> Option<WalkKind> {
        match input {
            "arp" => Some(WalkKind::Arp),
            "bgp" => Some(WalkKind::Bgp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WalkKind::Arp => "arp",
            WalkKind::Bgp => "bgp",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WalkKind::Arp => "ARP",
            WalkKind::Bgp => "BGP",
        }
    }
}

/// What goes wrong in a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caveat {
    /// The Service Cilium generates for the Gateway lacks the advertisement label.
    GatewayLabel,
    /// The BGP router is FRR on a virtual machine.
    FrrVm,
}

impl Caveat {
    pub const ALL: [Caveat; 2] = [Caveat::GatewayLabel, Caveat::FrrVm];

    pub fn parse(input: &str) -> Option<Caveat> {
        match input {
            "gateway-label" => Some(Caveat::GatewayLabel),
            "frr-vm" => Some(Caveat::FrrVm),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Caveat::GatewayLabel => "gateway-label",
            Caveat::FrrVm => "frr-vm",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Caveat::GatewayLabel => "The Gateway's generated Service without the advertisement label",
            Caveat::FrrVm => "FRR on a virtual machine",
        }
    }

    pub fn applies_to(self, kind: WalkKind) -> bool {
        self == Caveat::GatewayLabel || kind == WalkKind::Bgp
    }
}

/// The caveat the plan itself has, if any: an empty advertisement label value, or a BGP
/// peer on a virtual machine.
pub fn caveat_in_plan(design: &Design<'_>, kind: WalkKind) -> Option<Caveat> {
    if design.env.advertisement.label.value.is_empty() {
        return Some(Caveat::GatewayLabel);
    }
    let peer_on_vm = bgp_hop(design).and_then(|(_, h)| h.peer.as_ref()).is_some_and(|p| p.platform == Platform::Vm);
    (kind == WalkKind::Bgp && peer_on_vm).then_some(Caveat::FrrVm)
}

/// The router the cluster peers with on the path, and its index.
pub fn bgp_hop<'d>(design: &'d Design<'_>) -> Option<(usize, &'d Hop)> {
    design.hops.iter().enumerate().find(|(_, h)| h.peer.is_some())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub sentence: String,
    /// Local ids of what this step is about.
    pub current: Vec<String>,
    /// Local id of the element the packet is at.
    pub at: String,
    /// Marks besides "current": where it fails, what works.
    pub marks: Vec<(String, Mark)>,
    /// The walk stops here.
    pub stops: bool,
    /// Draw the request the router sends itself, which works (FRR on a VM).
    pub from_router_works: bool,
}

fn step(sentence: String, current: &[&str], at: &str) -> Step {
    Step {
        sentence,
        current: current.iter().map(|s| (*s).to_owned()).collect(),
        at: at.to_owned(),
        marks: Vec::new(),
        stops: false,
        from_router_works: false,
    }
}

/// Draws the design as the caveat would have it: the generated Service without the label,
/// or the BGP router on a virtual machine.
pub fn suppose(design: &mut Design<'_>, caveat: Caveat) {
    match caveat {
        Caveat::GatewayLabel => {
            if let Some(app) = &mut design.app {
                app.generated_labelled = false;
            }
        }
        Caveat::FrrVm => {
            if let Some(peer) = design.hops.iter_mut().find_map(|h| h.peer.as_mut()) {
                peer.platform = Platform::Vm;
            }
        }
    }
}

fn link_id(from: &str, to: &str) -> String {
    format!("link-{from}-{to}")
}

/// The steps of the walk. The design must have an application; a BGP walk needs a peer
/// ([`bgp_hop`]).
///
/// `supposed`: the caveat is not in the plan but asked for; its step says "Suppose …".
pub fn steps(design: &Design<'_>, kind: WalkKind, caveat: Option<Caveat>, supposed: bool) -> Vec<Step> {
    let Some(app) = &design.app else { return Vec::new() };
    let vip = app.vip.text();
    let host = app.first_hostname();
    let label = design.label();
    let generated = &app.generated_service;
    let clients: Vec<String> = if design.clients.is_empty() {
        vec!["clients".to_owned()]
    } else {
        (1..=design.clients.len()).map(|i| format!("clients-{i}")).collect()
    };
    let client_net = design.clients.first().map_or_else(|| "a client network".to_owned(), ToString::to_string);
    let hops = &design.hops;
    // The path the request takes to the cluster: to the last router (ARP) or the peer (BGP).
    let (last, bgp) = match kind {
        WalkKind::Arp => (hops.len() - 1, None),
        WalkKind::Bgp => match bgp_hop(design) {
            Some((i, hop)) => (i, Some(hop)),
            None => return Vec::new(),
        },
    };
    let entry = design.nodes.first().map_or_else(|| "a node".to_owned(), |n| n.name.clone());
    let entry_id = design.nodes.first().map_or_else(|| "node-1".to_owned(), |n| n.id.clone());
    let mut out = Vec::new();

    let first_link = link_id(&clients[0], &hops[0].id);
    out.push(step(
        format!(
            "A client on {client_net} looks up {host}, gets the Gateway VIP {vip} and sends its HTTPS request (TCP port 443) to its router, {}.",
            hops[0].name
        ),
        &[&clients[0], &first_link],
        &clients[0],
    ));
    for i in 0..last {
        let (from, to) = (&hops[i], &hops[i + 1]);
        out.push(step(
            format!(
                "Router {} forwards the packet towards {} to router {}{}.",
                from.name,
                design.node_subnets(),
                to.name,
                to.address.map(|a| format!(" ({a})")).unwrap_or_default()
            ),
            &[&from.id, &link_id(&from.id, &to.id)],
            &from.id,
        ));
    }
    let router = &hops[last];
    let into_cluster = link_id(&router.id, ids::GATEWAY);
    let reaches_gateway = last == hops.len() - 1;

    match (kind, bgp) {
        (WalkKind::Arp, _) | (_, None) => {
            let mut ask = step(
                format!(
                    "Router {} has {} on a directly connected interface, so it asks on the node segment: who has {vip}?",
                    router.name,
                    design.node_subnets()
                ),
                &[&router.id, &into_cluster],
                &router.id,
            );
            if caveat == Some(Caveat::GatewayLabel) {
                ask.sentence = format!(
                    "{}outer {} asks who has {vip} — and no node answers. Cilium generated the Service {generated} for the Gateway without the Gateway's labels, so the L2 announcement policy, which selects {label}, does not pick it: no node holds a lease for the VIP, it is never announced, and the packet goes no further. Label the generated Service (Gatehouse does, and sets spec.infrastructure.labels for Cilium 1.15 and later to copy).",
                    if supposed { "Suppose the generated Service lacked its label: r" } else { "R" },
                    router.name
                );
                ask.current.push(ids::L2_POLICY.to_owned());
                ask.marks = vec![(router.id.clone(), Mark::Failed), (ids::L2_POLICY.to_owned(), Mark::Failed), (into_cluster.clone(), Mark::Failed)];
                ask.stops = true;
                out.push(ask);
                return out;
            }
            out.push(ask);
            out.push(step(
                format!(
                    "{entry} holds Cilium's L2 announcement lease for {vip} (the policy selects {generated} by {label}) and answers with its MAC address; router {} sends the frame to {entry}.",
                    router.name
                ),
                &[&entry_id, ids::L2_POLICY, &into_cluster],
                &entry_id,
            ));
        }
        (WalkKind::Bgp, Some(peer_hop)) => {
            let peer = peer_hop.peer.as_ref().map_or_else(|| router.name.clone(), |p| p.name.clone());
            let peer_asn = peer_hop.peer.as_ref().map_or(0, |p| p.asn);
            let local = design.local_asn().map_or_else(|| "the cluster's AS".to_owned(), |a| format!("AS {a}"));
            let lane = ids::bgp_lane(&router.id);
            let mut learn = step(
                format!(
                    "Before any request, every node ({local}) advertised {vip}/32 to {peer} on router {} (AS {peer_asn}); the router holds {} equal-cost routes for the VIP, one via each node.",
                    router.name,
                    design.nodes.len()
                ),
                &[&router.id, &lane, ids::BGP_ADVERTISEMENT],
                &router.id,
            );
            if caveat == Some(Caveat::GatewayLabel) {
                learn.sentence = format!(
                    "{}o node advertises {vip}/32: the BGP advertisement selects Services by {label}, and the Service {generated} that Cilium generated for the Gateway does not carry the Gateway's labels. Router {} has no route for the VIP and drops the packet — the walk stops at the router. Label the generated Service (Gatehouse does, and sets spec.infrastructure.labels for Cilium 1.15 and later to copy).",
                    if supposed { "Suppose the Service lacked its label: n" } else { "N" },
                    router.name
                );
                learn.marks = vec![(router.id.clone(), Mark::Failed), (lane.clone(), Mark::Failed), (ids::BGP_ADVERTISEMENT.to_owned(), Mark::Failed)];
                learn.stops = true;
                out.push(learn);
                return out;
            }
            out.push(learn);
            let forward_current: Vec<&str> = if reaches_gateway { vec![&router.id, &into_cluster, &entry_id] } else { vec![&router.id, &lane, &entry_id] };
            let mut forward = step(
                format!(
                    "Router {} forwards the packet to one of the next hops — here {entry}; ECMP hashing keeps each connection on one node.",
                    router.name
                ),
                &forward_current,
                &router.id,
            );
            if caveat == Some(Caveat::FrrVm) {
                forward.sentence = format!(
                    "{}outer {} runs FRR on a virtual machine. It learned the routes, and a request sent from the router itself (curl https://{vip}) reaches the Gateway — but the packets it forwards for clients never arrive at {entry}: commonly the hypervisor's anti-spoofing filter drops traffic whose source is not the VM's own address, or forwarding is off in the VM. The walk stops here; FRR on hardware forwards.",
                    if supposed { "Suppose r" } else { "R" },
                    router.name
                );
                forward.current = vec![router.id.clone(), lane.clone()];
                forward.marks = vec![(router.id.clone(), Mark::Failed), (lane.clone(), Mark::Works)];
                if reaches_gateway {
                    forward.marks.push((into_cluster.clone(), Mark::Failed));
                }
                forward.from_router_works = true;
                forward.stops = true;
                out.push(forward);
                return out;
            }
            out.push(forward);
        }
    }

    let cert = app.certificate().map_or_else(|| "no certificate (the checklist flags it)".to_owned(), |c| format!("the key pair in Secret {c}"));
    out.push(step(
        format!("On {entry}, Cilium hands the connection to Gateway {}, whose listener for {host} terminates TLS with {cert}.", app.gateway),
        &[ids::GATEWAY, ids::CERTIFICATE, &entry_id],
        ids::GATEWAY,
    ));
    out.push(step(
        format!(
            "HTTPRoute {} matches the hostname {host} and path {} and sends the request to Service {} on port {}.",
            app.gateway,
            app.paths().first().cloned().unwrap_or_else(|| "/".to_owned()),
            app.app.name,
            app.port()
        ),
        &[ids::HTTPROUTE, &link_id(ids::GATEWAY, ids::HTTPROUTE)],
        ids::HTTPROUTE,
    ));
    let (pod_local, pod_sentence, fan_link) = match design.target_pod() {
        Some((node_index, pod)) => {
            let node = &design.nodes[node_index];
            let local = if node.grouped() { format!("{}-pods", node.id) } else { format!("pod-{pod}") };
            let crossing = if node.id == entry_id { format!("on {entry} itself") } else { format!("from {entry} to {}", node.name) };
            (
                local,
                format!(
                    "Service {} picks a ready endpoint — here pod {pod} on {}, with an address from pod CIDR {} — and Cilium forwards the request {crossing}.",
                    app.app.name,
                    node.name,
                    design.pod_cidrs()
                ),
                if design.nodes.len() <= 3 { cilium::ids::fan(&node.id) } else { "link-fan-all".to_owned() },
            )
        }
        None => (
            ids::SERVICE.to_owned(),
            format!("Service {} has no ready pod (the Deployment runs 0 replicas): the request fails with 503.", app.app.name),
            String::new(),
        ),
    };
    out.push(step(pod_sentence, &[ids::SERVICE, &link_id(ids::HTTPROUTE, ids::SERVICE), &fan_link, &pod_local], ids::SERVICE));
    out.push(step(
        format!("The JVM service in the pod answers; the reply goes back to the Gateway on {entry}, which encrypts it for the client."),
        &[&pod_local, ids::GATEWAY],
        &pod_local,
    ));
    let mut back: Vec<String> = vec![into_cluster];
    back.extend((0..last).map(|i| link_id(&hops[i].id, &hops[i + 1].id)));
    back.push(first_link);
    back.push(clients[0].clone());
    let back_refs: Vec<&str> = back.iter().map(String::as_str).collect();
    out.push(step(
        format!(
            "{entry} sends the reply from {vip} back through {} to the client: the request has made the round trip.",
            hops[..=last].iter().rev().map(|h| h.name.as_str()).collect::<Vec<_>>().join(" and ")
        ),
        &back_refs,
        &clients[0],
    ));
    out
}

/// The Cilium scene with step `number` (1-based) of `steps` drawn on it: earlier steps
/// visited, this one current, the packet where it is.
pub fn draw(mut scene: Scene, steps: &[Step], number: usize) -> Scene {
    let index = number.clamp(1, steps.len().max(1)) - 1;
    for s in steps.iter().take(index) {
        for local in &s.current {
            scene.mark(&scene.id_of(local), Mark::Visited);
        }
    }
    if let Some(s) = steps.get(index) {
        for local in &s.current {
            let id = scene.id_of(local);
            strip_visited(&mut scene, &id);
            scene.mark(&id, Mark::Current);
        }
        for (local, mark) in &s.marks {
            let id = scene.id_of(local);
            strip_visited(&mut scene, &id);
            strip(&mut scene, &id, &Mark::Current);
            scene.mark(&id, mark.clone());
        }
        if s.from_router_works {
            let router = scene.element(&scene.id_of(&s.at)).map(|e| e.rect);
            let gateway = scene.element(&scene.id_of(ids::GATEWAY)).map(|e| e.rect);
            if let (Some(router), Some(gateway)) = (router, gateway) {
                let x = router.x + 36;
                let mut l = link(
                    scene.id_of("link-router-itself"),
                    LinkStyle::Request,
                    vec![vec![pt(x, router.bottom()), pt(x, gateway.y)]],
                    "A request sent from the router itself reaches the Gateway".to_owned(),
                );
                l.marks = vec![Mark::Works];
                l.label = label("from the router itself: works", pt(x - 10, (router.bottom() + gateway.y) / 2), Anchor::End, router.x - 30);
                scene.links.push(l);
            }
        }
        if let Some(rect) = scene.element(&scene.id_of(&s.at)).map(|e| e.rect) {
            scene.tokens.push(Token {
                id: scene.id_of("packet"),
                at: pt(rect.x + 2, rect.y + 2),
                text: number.to_string(),
                alt: format!("Step {number}: {}", s.sentence),
            });
        }
    }
    scene
}

fn strip_visited(scene: &mut Scene, id: &str) {
    strip(scene, id, &Mark::Visited);
}

fn strip(scene: &mut Scene, id: &str, mark: &Mark) {
    if let Some(e) = scene.element_mut(id) {
        e.marks.retain(|m| m != mark);
    } else if let Some(l) = scene.link_mut(id) {
        l.marks.retain(|m| m != mark);
    }
}
