//! The live view of an application: what the cluster runs for it in one environment — nodes
//! with their pods, the Gateways, the LoadBalancer Services and their VIPs, each VIP marked
//! announced (by an L2 announcement policy or a BGP advertisement) or not. The server reads
//! the objects ([`LiveEnvironment`]); this module only draws them.

use serde::{Deserialize, Serialize};

use super::design::POD_GROUP_THRESHOLD;
use super::geometry::Rect;
use super::layout::{Columns, Spec, down, heading, zone};
use super::scene::{Kind, Mark, Scene, ZoneKind};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEnvironment {
    pub environment: String,
    pub cluster: String,
    pub namespace: String,
    /// When the objects were read (RFC 3339).
    pub read_at: String,
    /// Why the cluster could not be read, with what to do.
    pub failure: Option<String>,
    pub nodes: Vec<LiveNode>,
    /// The application's pods not (yet) on a node of the list.
    pub unscheduled: Vec<LivePod>,
    pub gateways: Vec<LiveGateway>,
    pub services: Vec<LiveService>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveNode {
    pub name: String,
    pub address: Option<String>,
    pub ready: bool,
    /// The application's pods on this node.
    pub pods: Vec<LivePod>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePod {
    pub name: String,
    pub ip: Option<String>,
    pub phase: String,
    pub ready: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveGateway {
    pub name: String,
    pub addresses: Vec<String>,
    pub programmed: bool,
    /// The HTTPRoutes attached to it, with their hostnames.
    pub routes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveService {
    pub name: String,
    /// `LoadBalancer`, `ClusterIP`, …
    pub service_type: String,
    /// The Gateway whose Service Cilium generated this one for.
    pub gateway: Option<String>,
    pub cluster_ip: Option<String>,
    /// The address LB-IPAM assigned.
    pub vip: Option<String>,
    /// Whether it carries the environment's advertisement label.
    pub labelled: bool,
    pub l2_policies: Vec<String>,
    pub bgp_advertisements: Vec<String>,
}

impl LiveService {
    pub fn is_load_balancer(&self) -> bool {
        self.service_type == "LoadBalancer"
    }

    pub fn announced(&self) -> bool {
        !self.l2_policies.is_empty() || !self.bgp_advertisements.is_empty()
    }

    /// `announced by L2 policy l2-prod and BGP advertisement bgp-prod`, or why it is not.
    pub fn announcement(&self) -> String {
        let mut by = Vec::new();
        if !self.l2_policies.is_empty() {
            by.push(format!("L2 policy {}", self.l2_policies.join(", ")));
        }
        if !self.bgp_advertisements.is_empty() {
            by.push(format!(
                "BGP advertisement {}",
                self.bgp_advertisements.join(", ")
            ));
        }
        match (self.vip.is_some(), by.is_empty(), self.labelled) {
            (false, _, false) => "NO VIP: without the advertisement label no pool assigns one and nothing announces it".to_owned(),
            (false, _, true) => "no VIP assigned yet".to_owned(),
            (true, false, _) => format!("announced by {}", by.join(" and ")),
            (true, true, false) => "NOT ANNOUNCED: no advertisement label, so no L2 or BGP selector picks it".to_owned(),
            (true, true, true) => "NOT ANNOUNCED: labelled, but no L2 policy or BGP advertisement selects it".to_owned(),
        }
    }
}

const WIDTH: i32 = 900;
const LEFT: i32 = 24;
const GAP: i32 = 16;
const ROW_GAP: i32 = 34;

/// One main column across the drawing, for rows of boxes spread across it.
const COLUMNS: Columns = Columns { left: LEFT + GAP, side: 0, gap: GAP, main: WIDTH - 2 * LEFT - 4 * GAP };

fn row(scene: &mut Scene, y: i32, specs: Vec<Spec>, max: i32) -> Vec<Rect> {
    if specs.is_empty() { Vec::new() } else { COLUMNS.spread(scene, y, specs, max) }
}

/// `10.0.1.10 · Ready`: a pod's address and state, below its name.
fn pod_state(pod: &LivePod) -> String {
    let state = if pod.ready {
        "Ready"
    } else {
        pod.phase.as_str()
    };
    format!("{} · {state}", pod.ip.as_deref().unwrap_or("no IP yet"))
}

fn pod_line(pod: &LivePod) -> String {
    format!("{} · {}", pod.name, pod_state(pod))
}

fn node_spec(node: &LiveNode) -> Spec {
    let mut lines = vec![format!(
        "{} · {}",
        node.address.as_deref().unwrap_or("no address"),
        if node.ready { "Ready" } else { "NotReady" }
    )];
    if node.pods.len() > POD_GROUP_THRESHOLD {
        let ready = node.pods.iter().filter(|p| p.ready).count();
        lines.push(format!("{} pods, {ready} Ready", node.pods.len()));
    } else if node.pods.is_empty() {
        lines.push("none of its pods".to_owned());
    } else {
        for pod in &node.pods {
            lines.push(pod.name.clone());
            lines.push(format!("  {}", pod_state(pod)));
        }
    }
    let pods: Vec<String> = node.pods.iter().map(pod_line).collect();
    Spec::new(
        format!("node-{}", node.name),
        Kind::Node,
        format!("Node {}", node.name),
        lines,
        format!(
            "Node {} at {}, {}; pods: {}",
            node.name,
            node.address.as_deref().unwrap_or("no address"),
            if node.ready { "Ready" } else { "not Ready" },
            if pods.is_empty() {
                "none".to_owned()
            } else {
                pods.join("; ")
            }
        ),
    )
}

/// The live diagram of one environment.
pub fn scene(application: &str, live: &LiveEnvironment, id: &str) -> Scene {
    let pods: usize =
        live.nodes.iter().map(|n| n.pods.len()).sum::<usize>() + live.unscheduled.len();
    let dark: Vec<&LiveService> = live
        .services
        .iter()
        .filter(|s| s.is_load_balancer() && !s.announced() && (s.vip.is_some() || !s.labelled))
        .collect();
    let title = format!("{application} in {}, live", live.environment);
    let summary = match &live.failure {
        Some(failure) => format!("The cluster {} could not be read: {failure}", live.cluster),
        None => format!(
            "Read from cluster {} (namespace {}) at {}: {}, {}, {}, {}; {}.",
            live.cluster,
            live.namespace,
            live.read_at,
            crate::counted(live.nodes.len(), "node"),
            crate::counted(pods, "pod"),
            crate::counted(live.gateways.len(), "Gateway"),
            crate::counted(live.services.len(), "Service"),
            if dark.is_empty() {
                "every assigned VIP is announced".to_owned()
            } else {
                format!(
                    "NOT announced: {}",
                    dark.iter()
                        .map(|s| format!(
                            "Service {} ({})",
                            s.name,
                            s.vip.as_deref().unwrap_or("no VIP")
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
    };
    let mut scene = Scene::new(id, title.clone(), summary.clone());
    scene.width = WIDTH;
    let subtitle = format!(
        "cluster {} · namespace {} · read at {}",
        live.cluster, live.namespace, live.read_at
    );
    let mut y = heading(&mut scene, LEFT, 16, &title, &subtitle, WIDTH - 2 * LEFT) + 12;
    if let Some(failure) = &live.failure {
        let h = scene.paragraph(
            "failure",
            super::geometry::pt(LEFT, y),
            WIDTH - 2 * LEFT,
            failure,
            14,
            true,
        );
        scene.height = y + h + 24;
        return scene;
    }
    if live.gateways.is_empty() && live.services.is_empty() && pods == 0 {
        // Nothing of the application runs there: say so, rather than draw bare nodes.
        let h = scene.paragraph(
            "not-deployed",
            super::geometry::pt(LEFT, y),
            WIDTH - 2 * LEFT,
            &format!(
                "Nothing of {application} runs in namespace {} on cluster {} yet: no Gateway, Service or pod. Submit it to {} from the Applications page; this view then draws what the cluster runs — the Gateway and its VIP, the Services, the pods on their nodes — and whether each VIP is announced.",
                live.namespace, live.cluster, live.environment
            ),
            14,
            false,
        );
        y += h + 12;
    }
    let cluster_zone = zone(
        &mut scene,
        "cluster",
        ZoneKind::Cluster,
        Rect::new(LEFT, y, WIDTH - 2 * LEFT, 0),
        format!("Cluster {} · namespace {}", live.cluster, live.namespace),
        summary,
    );
    y += 34;

    let gateway_specs: Vec<Spec> = live
        .gateways
        .iter()
        .map(|g| {
            let mut lines = vec![if g.addresses.is_empty() {
                "no address yet".to_owned()
            } else {
                format!("address {}", g.addresses.join(", "))
            }];
            lines.push(if g.programmed {
                "Programmed".to_owned()
            } else {
                "not Programmed".to_owned()
            });
            lines.extend(g.routes.iter().map(|r| format!("HTTPRoute {r}")));
            Spec::new(
                format!("gateway-{}", g.name),
                Kind::Gateway,
                format!("Gateway {}", g.name),
                lines.clone(),
                format!("Gateway {}: {}", g.name, lines.join("; ")),
            )
        })
        .collect();
    let gateway_rects = row(&mut scene, y, gateway_specs, 300);
    if let Some(bottom) = gateway_rects.iter().map(|r| r.y + r.h).max() {
        y = bottom + ROW_GAP;
    }

    let service_specs: Vec<Spec> = live
        .services
        .iter()
        .map(|s| {
            let lines = if s.is_load_balancer() {
                vec![
                    s.vip.as_ref().map_or_else(
                        || "LoadBalancer, no VIP assigned".to_owned(),
                        |vip| format!("LoadBalancer VIP {vip}"),
                    ),
                    format!(
                        "advertisement label: {}",
                        if s.labelled { "yes" } else { "NO" }
                    ),
                    s.announcement(),
                ]
            } else {
                vec![
                    format!(
                        "{} {}",
                        s.service_type,
                        s.cluster_ip.as_deref().unwrap_or_default()
                    ),
                    "inside the cluster: the HTTPRoute's backend".to_owned(),
                ]
            };
            Spec::new(
                format!("service-{}", s.name),
                if s.vip.is_some() {
                    Kind::Vip
                } else {
                    Kind::Service
                },
                format!("Service {}", s.name),
                lines.clone(),
                format!("Service {}: {}", s.name, lines.join("; ")),
            )
        })
        .collect();
    let service_rects = row(&mut scene, y, service_specs, 300);
    for (service, _) in live.services.iter().zip(&service_rects) {
        let local = format!("service-{}", service.name);
        let id = scene.id_of(&local);
        if !service.is_load_balancer() {
            continue;
        }
        if service.vip.is_some() {
            scene.mark(
                &id,
                if service.announced() {
                    Mark::Works
                } else {
                    Mark::Failed
                },
            );
        } else if !service.labelled {
            scene.mark(&id, Mark::Failed);
        }
    }
    for (gateway, from) in live.gateways.iter().zip(&gateway_rects) {
        for (service, to) in live.services.iter().zip(&service_rects) {
            if service.gateway.as_deref() == Some(gateway.name.as_str()) {
                let link = down(
                    &scene,
                    &format!("gateway-{}", gateway.name),
                    &format!("service-{}", service.name),
                    *from,
                    *to,
                    format!(
                        "Cilium generated Service {} for Gateway {}",
                        service.name, gateway.name
                    ),
                );
                scene.links.push(link);
            }
        }
    }
    if let Some(bottom) = service_rects.iter().map(|r| r.y + r.h).max() {
        y = bottom + ROW_GAP;
    }

    let mut node_specs: Vec<Spec> = live.nodes.iter().map(node_spec).collect();
    if !live.unscheduled.is_empty() {
        let lines: Vec<String> = live.unscheduled.iter().map(pod_line).collect();
        node_specs.push(Spec::new(
            "unscheduled",
            Kind::PodGroup,
            "Not on a node",
            lines.clone(),
            format!("Pods not scheduled on a node: {}", lines.join("; ")),
        ));
    }
    let node_rects = row(&mut scene, y, node_specs, 280);
    let bottom = node_rects.iter().map(|r| r.y + r.h).max().unwrap_or(y);
    scene.zones[cluster_zone].rect.h = bottom + 16 - scene.zones[cluster_zone].rect.y;
    scene.height = bottom + 40;
    scene
}
