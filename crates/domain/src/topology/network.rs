//! The top of the hardware and the Cilium diagrams: the client networks and the routers
//! between them and the servers, drawn down the main column.

use super::design::{Design, Hop, join};
use super::geometry::Rect;
use super::layout::{Columns, Spec, down, side_label};
use super::scene::{Kind, Scene};
use crate::Platform;

/// Vertical space between rows, for an arrow and its label.
pub const GAP: i32 = 48;

/// Where the path continues from: the boxes of the last row drawn.
pub struct PathEnd {
    pub bottom: i32,
    pub rects: Vec<Rect>,
    pub locals: Vec<String>,
}

impl PathEnd {
    /// Links from every box of the last row down to `to`.
    pub fn link_to(&self, scene: &mut Scene, to_local: &str, to: Rect, alt: &dyn Fn(&str) -> String, tasks: &[&'static str]) {
        for (local, rect) in self.locals.iter().zip(&self.rects) {
            let mut l = down(scene, local, to_local, *rect, to, alt(local));
            l.tasks = tasks.to_vec();
            scene.links.push(l);
        }
    }

    /// The id of the link from the last row's first box to `to_local`.
    pub fn link_id(&self, scene: &Scene, to_local: &str) -> String {
        let from = self.locals.first().map_or("", String::as_str);
        scene.id_of(&format!("link-{from}-{to_local}"))
    }
}

pub fn client_specs(design: &Design<'_>) -> Vec<Spec> {
    if design.clients.is_empty() {
        return vec![
            Spec::new(
                "clients",
                Kind::Clients,
                "Clients",
                vec!["networks not recorded".to_owned()],
                format!("The clients; their networks are not recorded in environment {} — add them to draw them", design.env.name),
            )
            .unrecorded(true),
        ];
    }
    design
        .clients
        .iter()
        .enumerate()
        .map(|(i, cidr)| {
            Spec::new(
                format!("clients-{}", i + 1),
                Kind::Clients,
                "Clients",
                vec![cidr.to_string()],
                format!("Client network {cidr}: where the requests come from"),
            )
        })
        .collect()
}

/// How a router is described: its address and, when the cluster peers with it, the peering.
/// `bgp` is false in the hardware design, which has no BGP with the cluster.
pub fn router_spec(design: &Design<'_>, hop: &Hop, role: &str, bgp: bool, tasks: &[&'static str]) -> Spec {
    let mut lines = vec![hop.address.map_or_else(|| "not recorded in the plan".to_owned(), |a| a.to_string())];
    let mut alt = match hop.address {
        Some(address) => format!("Router {} at {address}, {role}", hop.name),
        None => format!("A router, {role}; the environment lists none — add its routers to draw them"),
    };
    let mut badge = None;
    if let Some(peer) = hop.peer.as_ref().filter(|_| bgp) {
        let platform = match peer.platform {
            Platform::Hardware => "hardware",
            Platform::Vm => "virtual machine",
        };
        lines.push(format!("BGP peer {} · AS {}", peer.name, peer.asn));
        lines.push(format!("FRR on {platform}"));
        alt.push_str(&format!(
            "; it runs FRR as BGP peer {} (AS {}) on {platform}{}",
            peer.name,
            peer.asn,
            design.local_asn().map(|asn| format!(" and learns the VIP routes from the nodes (AS {asn})")).unwrap_or_default()
        ));
        badge = Some("BGP".to_owned());
    }
    Spec::new(hop.id.clone(), Kind::Router, format!("Router {}", hop.name), lines, alt)
        .tasks(tasks)
        .badge(badge)
        .unrecorded(!hop.recorded)
}

/// Draws the clients from `y`, then `hops` one below the other; labels the first link with
/// `request`. Returns the last row.
#[expect(clippy::too_many_arguments, reason = "a layout call names every part")]
pub fn clients_and_routers(
    scene: &mut Scene,
    design: &Design<'_>,
    cols: &Columns,
    y: i32,
    hops: &[&Hop],
    bgp: bool,
    request: &str,
    role: &dyn Fn(usize, &Hop) -> String,
    tasks: &[&'static str],
) -> PathEnd {
    let specs = client_specs(design);
    let locals: Vec<String> = specs.iter().map(|s| s.local.clone()).collect();
    let rects = cols.spread(scene, y, specs, cols.main);
    let mut end = PathEnd { bottom: rects.iter().map(|r| r.bottom()).max().unwrap_or(y), rects, locals };
    let clients = if design.clients.is_empty() { "the clients".to_owned() } else { format!("clients on {}", join(&design.clients)) };
    for (i, hop) in hops.iter().enumerate() {
        let top = end.bottom + GAP;
        let [_, Some(rect), _] = cols.row(scene, top, [None, Some(router_spec(design, hop, &role(i, hop), bgp, tasks)), None]) else {
            continue;
        };
        let previous = if i == 0 { clients.clone() } else { format!("router {}", hops[i - 1].name) };
        let first_link = scene.links.len();
        end.link_to(scene, &hop.id, rect, &|_| format!("The request goes from {previous} to router {}", hop.name), tasks);
        if i == 0
            && let Some(l) = scene.links.get_mut(first_link)
        {
            side_label(l, cols.center(), end.bottom, top, request, 250);
        }
        end = PathEnd { bottom: rect.bottom(), rects: vec![rect], locals: vec![hop.id.clone()] };
    }
    end
}
