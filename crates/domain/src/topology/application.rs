//! One application in one environment, as its environments compare: pod range, VIP pool,
//! ConfigMap, certificate, hostnames and Gateway — each checklist finding drawn on the
//! element it concerns, with its message below.

use super::design::{Design, join};
use super::geometry::Rect;
use super::layout::{Columns, Spec, beside, down, heading, zone};
use super::network::GAP;
use super::scene::{Kind, Mark, Note, NoteLine, Scene, ZoneKind};
use crate::{Finding, Plan, Severity};

pub const WIDTH: i32 = 760;
const LEFT: i32 = 24;
pub const COLUMNS: Columns = Columns { left: 38, side: 210, gap: 16, main: 232 };

pub mod ids {
    pub const POOL: &str = "pool";
    pub const GATEWAY: &str = "gateway";
    pub const CERTIFICATE: &str = "certificate";
    pub const ADVERTISEMENT: &str = "advertisement";
    pub const HTTPROUTE: &str = "httproute";
    pub const CONFIGMAP: &str = "configmap";
    pub const PODS: &str = "pods";
    pub const SERVICE: &str = "service";
    pub const DEPLOYMENT: &str = "deployment";
    pub const ENVIRONMENT: &str = "environment";
}

/// The element a finding is drawn on, from its `diagram` (and, for `cilium/pods`, whether it
/// is about the application's pods or the environment's pod range).
pub fn element_for(finding: &Finding) -> &'static str {
    match finding.diagram.as_ref() {
        "cilium/pods" if finding.objects.iter().any(|o| o.starts_with("application/")) => ids::DEPLOYMENT,
        "cilium/pods" => ids::PODS,
        "cilium/vip-pool" => ids::POOL,
        "cilium/configmap" => ids::CONFIGMAP,
        "cilium/certificate" => ids::CERTIFICATE,
        "cilium/httproute" => ids::HTTPROUTE,
        "cilium/l2-segment" | "cilium/bgp-router" => ids::ADVERTISEMENT,
        _ => ids::GATEWAY,
    }
}

/// The environments a finding concerns: named ones, those of named pools and certificates;
/// every environment when it names none.
pub fn concerns(plan: &Plan, finding: &Finding, env: &str) -> bool {
    let mut named = Vec::new();
    for object in &finding.objects {
        match object.split_once('/') {
            Some(("environment", e)) => named.push(e.to_owned()),
            Some(("certificate", rest)) => named.extend(rest.split('/').next().map(str::to_owned)),
            Some(("pool", name)) => {
                named.extend(plan.pools.iter().filter(|p| p.name.as_str() == name).map(|p| p.environment.to_string()));
            }
            _ => {}
        }
    }
    named.is_empty() || named.iter().any(|e| e == env)
}

/// The column of `design`'s application in its environment; `findings` are the
/// application's checklist findings (those of other environments are left out).
pub fn scene(design: &Design<'_>, findings: &[Finding], id: &str) -> Scene {
    let cols = COLUMNS;
    let env = design.env;
    let env_name = env.name.as_str();
    let Some(app) = &design.app else {
        return Scene::new(id, format!("Environment {env_name}"), "No application".to_owned());
    };
    let title = format!("{} in {env_name}", app.app.name);
    let mine: Vec<&Finding> = findings.iter().filter(|f| concerns(design.plan, f, env_name)).collect();
    let (errors, warnings) = (
        mine.iter().filter(|f| f.severity == Severity::Error).count(),
        mine.iter().filter(|f| f.severity == Severity::Warning).count(),
    );
    let summary = format!(
        "Application {} in environment {env_name}: Gateway {} on VIP {} from {}, hostnames {}, certificate {}, ConfigMap {}, pods from {}; {} and {} on the checklist.",
        app.app.name,
        app.gateway,
        app.vip.text(),
        app.vip.source(),
        join(&app.hostnames()),
        app.certificate().unwrap_or_else(|| "none".to_owned()),
        app.config_map,
        design.pod_cidrs(),
        crate::counted(errors, "error"),
        crate::counted(warnings, "warning")
    );
    let mut scene = Scene::new(id, title.clone(), summary);
    scene.width = WIDTH;
    let mode = match design.mode() {
        crate::AdvertisementMode::Arp => "ARP",
        crate::AdvertisementMode::Bgp => "BGP",
        crate::AdvertisementMode::Both => "ARP and BGP",
    };
    let subtitle = format!("{mode} · label {} · node subnet {}", design.label(), design.node_subnets());
    let top = heading(&mut scene, LEFT, 16, &title, &subtitle, WIDTH - 2 * LEFT) + 12;
    let env_zone = zone(
        &mut scene,
        ids::ENVIRONMENT,
        ZoneKind::Cluster,
        Rect::new(LEFT, top, WIDTH - 2 * LEFT, 0),
        format!("Environment {env_name}{}", if env.is_production() { " · production" } else { "" }),
        format!("Everything {} has in {env_name}", app.app.name),
    );
    let mut y = top + 36;

    let pool = match design.pools.as_slice() {
        [] => Spec::new(ids::POOL, Kind::Pool, "No VIP pool", vec![format!("{env_name} has none")], format!("{env_name} has no VIP pool")).unrecorded(true),
        pools => Spec::new(
            ids::POOL,
            Kind::Pool,
            "VIP range",
            pools.iter().map(|p| format!("{}: {}", p.name, Design::pool_blocks(p))).collect(),
            format!(
                "The VIP range of {env_name}: {}",
                pools.iter().map(|p| format!("pool {} ({})", p.name, Design::pool_blocks(p))).collect::<Vec<_>>().join(", ")
            ),
        ),
    };
    let gateway = Spec::new(
        ids::GATEWAY,
        Kind::Gateway,
        format!("Gateway {}", app.gateway),
        vec![app.vip.line(), "HTTPS :443 listener per hostname".to_owned()],
        format!("Gateway {} of {env_name}: VIP {} from {}, an HTTPS listener per hostname", app.gateway, app.vip.text(), app.vip.source()),
    );
    let certificate = match app.certificate() {
        Some(cert) => Spec::new(
            ids::CERTIFICATE,
            Kind::Keys,
            format!("Certificate {cert}"),
            vec![certificate_line(design.plan, env_name, &cert)],
            format!("TLS certificate and key {cert} of {env_name}"),
        ),
        None => Spec::new(ids::CERTIFICATE, Kind::Keys, "No certificate", vec![format!("none named in {env_name}")], format!("No TLS certificate named in {env_name}")).unrecorded(true),
    };
    let [pool_rect, gateway_rect, cert_rect] = cols.row(&mut scene, y, [Some(pool), Some(gateway), Some(certificate)]);
    let gateway_rect = gateway_rect.unwrap_or_default();
    let gw = (ids::GATEWAY, gateway_rect);
    beside(&mut scene, (ids::POOL, pool_rect), gw, "The Gateway's VIP comes from this range".to_owned(), &[]);
    beside(&mut scene, (ids::CERTIFICATE, cert_rect), gw, "The Gateway terminates TLS with this certificate".to_owned(), &[]);
    y = gateway_rect.bottom() + GAP;

    let advertisement = Spec::new(
        ids::ADVERTISEMENT,
        Kind::Advertisement,
        format!("Announced by {mode}"),
        advertisement_lines(design),
        format!("How {env_name} announces its VIPs: {mode}, selecting Services labelled {}", design.label()),
    );
    let route = Spec::new(
        ids::HTTPROUTE,
        Kind::HttpRoute,
        format!("HTTPRoute {}", app.gateway),
        vec![format!("hosts {}", join(&app.hostnames())), format!("paths {}", app.paths().join(" "))],
        format!("The hostnames {} and paths {} of {env_name}", join(&app.hostnames()), app.paths().join(", ")),
    );
    let configmap = Spec::new(
        ids::CONFIGMAP,
        Kind::ConfigMap,
        format!("ConfigMap {}", app.config_map),
        app.config_lines(4),
        format!(
            "ConfigMap {} of {env_name}: {}",
            app.config_map,
            if app.settings.config.is_empty() { "no data".to_owned() } else { app.settings.config.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ") }
        ),
    );
    let [_, route_rect, _] = cols.row(&mut scene, y, [Some(advertisement), Some(route), Some(configmap)]);
    let route_rect = route_rect.unwrap_or_default();
    scene.links.push(down(&scene, ids::GATEWAY, ids::HTTPROUTE, gateway_rect, route_rect, "The Gateway hands requests to the HTTPRoute".to_owned()));
    y = route_rect.bottom() + GAP;

    let pods = Spec::new(
        ids::PODS,
        Kind::Node,
        "Pod range",
        vec![design.pod_cidrs(), format!("service CIDR {}", env.service_cidr)],
        format!("Pods of {env_name} get addresses from pod CIDR {}; Services from {}", design.pod_cidrs(), env.service_cidr),
    );
    let service = Spec::new(
        ids::SERVICE,
        Kind::Service,
        format!("Service {}", app.app.name),
        vec![format!("port {}", app.port())],
        format!("Service {} of {env_name} on port {}", app.app.name, app.port()),
    );
    let probes = match (app.app.readiness_path.is_some(), app.app.liveness_path.is_some()) {
        (true, true) => "readiness and liveness probes",
        (true, false) => "readiness probe only",
        (false, true) => "liveness probe only",
        (false, false) => "no probes",
    };
    let deployment = Spec::new(
        ids::DEPLOYMENT,
        Kind::Deployment,
        format!("Deployment {}", app.app.name),
        vec![format!("{} replica{}", app.app.replicas, if app.app.replicas == 1 { "" } else { "s" }), probes.to_owned()],
        format!("Deployment {} runs {} replicas in {env_name} with {probes}", app.app.name, app.app.replicas),
    );
    let [_, service_rect, _] = cols.row(&mut scene, y, [Some(pods), Some(service), Some(deployment)]);
    let service_rect = service_rect.unwrap_or_default();
    scene.links.push(down(&scene, ids::HTTPROUTE, ids::SERVICE, route_rect, service_rect, "The HTTPRoute sends requests to the Service".to_owned()));
    y = service_rect.bottom() + 24;
    scene.zones[env_zone].rect.h = y - top;

    // The findings: an outline and a numbered tag on the element, the message below.
    y += 16;
    let mut lines = vec![NoteLine {
        text: if mine.is_empty() { format!("No findings: every rule passes for {} in {env_name}.", app.app.name) } else { "Findings".to_owned() },
        size: 15,
        strong: true,
        class: None,
    }];
    for (i, finding) in mine.iter().enumerate() {
        let number = i + 1;
        let local = element_for(finding);
        scene.mark(&scene.id_of(local), Mark::Finding { number, severity: finding.severity });
        let (tag, class) = match finding.severity {
            Severity::Error => (format!("E{number}"), "finding-error"),
            Severity::Warning => (format!("W{number}"), "finding-warning"),
        };
        let text = format!("{tag} {}: {}", finding.rule, finding.message);
        for (k, line) in super::geometry::wrap(&text, WIDTH - 2 * LEFT, 13).into_iter().enumerate() {
            lines.push(NoteLine { text: line, size: 13, strong: k == 0, class: Some(class) });
        }
    }
    let note = Note { id: scene.id_of("findings"), x: LEFT, y, lines };
    y += note.height();
    scene.notes.push(note);
    scene.height = y + 20;
    scene
}

fn certificate_line(plan: &Plan, env: &str, name: &str) -> String {
    match &plan.certificates {
        None => "uploaded certificates are not checked yet".to_owned(),
        Some(list) => match list.iter().find(|c| c.environment.as_str() == env && c.name.as_str() == name) {
            Some(c) => format!("SANs {}", c.sans.join(", ")),
            None => "not uploaded".to_owned(),
        },
    }
}

fn advertisement_lines(design: &Design<'_>) -> Vec<String> {
    let mut lines = vec![format!("label {}", design.label())];
    if let Some(router) = design.hops.last().filter(|_| design.mode().uses_arp()) {
        lines.push(format!("ARP towards router {}", router.name));
    }
    for hop in design.peers() {
        if let Some(peer) = &hop.peer {
            lines.push(format!("BGP peer {} AS {}", peer.name, peer.asn));
        }
    }
    lines
}
