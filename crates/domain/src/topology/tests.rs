//! Layout and drawing tests: snapshots of the seed's diagrams, the layout's promises (no
//! overlaps, pods grouped beyond six, 50 nodes), text alternatives, walks and errors.
#![expect(clippy::unwrap_used, reason = "in tests a failed lookup is a failed test")]

use std::collections::BTreeSet;

use super::design::Design;
use super::geometry::Rect;
use super::scene::{Kind, Mark, Scene};
use super::view::{Query, TopologyError, View, export, page};
use super::{application, cilium, hardware, svg, tasks};
use crate::{
    Application, Environment, IpAddr, Plan, Platform, Severity, check_application, seed_plan,
};

const NOW: i64 = 1_790_000_000;

type Pairs<'a> = &'a [(&'a str, &'a str)];

fn query(pairs: &[(&str, &str)]) -> Query {
    Query::from_pairs(pairs)
}

fn draw(plan: &Plan, view: &str, pairs: &[(&str, &str)]) -> Scene {
    export(plan, NOW, &View::parse(view).unwrap(), &query(pairs)).unwrap_or_else(|e| panic!("{view}: {e}"))
}

fn error(plan: &Plan, view: &str, pairs: &[(&str, &str)]) -> TopologyError {
    match View::parse(view).and_then(|v| export(plan, NOW, &v, &query(pairs))) {
        Ok(_) => panic!("{view} {pairs:?} should fail"),
        Err(e) => e,
    }
}

/// Every text of the drawing, lines joined by spaces (wrapping does not split phrases).
fn text(scene: &Scene) -> String {
    let mut out = Vec::new();
    for e in &scene.elements {
        out.extend(e.title.iter().chain(&e.lines).cloned());
    }
    for l in &scene.links {
        out.extend(l.label.iter().flat_map(|label| label.lines.iter().cloned()));
    }
    for z in &scene.zones {
        out.push(z.label.clone());
    }
    for n in &scene.notes {
        out.extend(n.lines.iter().map(|l| l.text.trim().to_owned()));
    }
    out.join(" ")
}

fn env<'p>(plan: &'p mut Plan, name: &str) -> &'p mut Environment {
    plan.environments.iter_mut().find(|e| e.name == name).unwrap()
}

fn api(plan: &mut Plan) -> &mut Application {
    plan.applications.iter_mut().find(|a| a.name == "api").unwrap()
}

/// Boxes must not overlap, except a pod inside its node; everything lies inside the scene;
/// ids are unique.
fn assert_laid_out(scene: &Scene) {
    let bounds = Rect::new(0, 0, scene.width, scene.height);
    let ids: Vec<&str> = scene.ids().collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "duplicate ids in {}", scene.id);
    let is_chip = |k: Kind| matches!(k, Kind::Pod | Kind::PodGroup);
    for (i, a) in scene.elements.iter().enumerate() {
        assert!(bounds.contains(&a.rect.inflate(-1)), "{} outside the scene: {:?}", a.id, a.rect);
        assert!(a.rect.w > 0 && a.rect.h > 0, "{} is empty", a.id);
        for b in &scene.elements[i + 1..] {
            let nested = (is_chip(a.kind) && b.rect.contains(&a.rect)) || (is_chip(b.kind) && a.rect.contains(&b.rect));
            assert!(nested || !a.rect.overlaps(&b.rect), "{} overlaps {}: {:?} {:?}", a.id, b.id, a.rect, b.rect);
        }
        if is_chip(a.kind) {
            let holders = scene.elements.iter().filter(|n| n.kind == Kind::Node && n.rect.contains(&a.rect)).count();
            assert_eq!(holders, 1, "pod {} sits in exactly one node", a.id);
        }
    }
    for link in &scene.links {
        for p in link.paths.iter().flatten() {
            assert!(p.x >= 0 && p.y >= 0 && p.x <= scene.width && p.y <= scene.height, "{} leaves the scene at {p:?}", link.id);
        }
    }
    for zone in &scene.zones {
        assert!(bounds.contains(&zone.rect), "{} outside the scene", zone.id);
    }
}

// =============================================================================================
// Snapshots of the seed example

#[test]
fn snapshot_seed_hardware() {
    insta::assert_snapshot!("seed_hardware_prod", svg::render(&draw(&seed_plan(), "hardware", &[])));
}

#[test]
fn snapshot_seed_cilium() {
    insta::assert_snapshot!("seed_cilium_prod", svg::render(&draw(&seed_plan(), "cilium", &[])));
    insta::assert_snapshot!("seed_cilium_dev", svg::render(&draw(&seed_plan(), "cilium", &[("environment", "dev")])));
}

#[test]
fn snapshot_seed_compare_and_application() {
    insta::assert_snapshot!("seed_compare_prod", svg::render(&draw(&seed_plan(), "compare", &[])));
    insta::assert_snapshot!("seed_application_api", svg::render(&draw(&seed_plan(), "applications/api", &[])));
}

#[test]
fn snapshot_seed_walks() {
    let plan = seed_plan();
    insta::assert_snapshot!("seed_walk_arp_step_5", svg::render(&draw(&plan, "walk/arp", &[("step", "5")])));
    insta::assert_snapshot!(
        "seed_walk_bgp_frr_vm",
        svg::render(&draw(&plan, "walk/bgp", &[("caveat", "frr-vm"), ("step", "4")]))
    );
}

#[test]
fn drawing_is_deterministic() {
    let plan = seed_plan();
    assert_eq!(svg::render(&draw(&plan, "compare", &[])), svg::render(&draw(&plan, "compare", &[])));
}

// =============================================================================================
// Content: what the issue asks each view to show

#[test]
fn the_hardware_view_is_the_seed_example() {
    let scene = draw(&seed_plan(), "hardware", &[]);
    let svg = text(&scene);
    for text in ["192.168.99.0/24", "Router edge", "Router core", "Load-balancer appliance", "VIP 192.168.101.240", "api.mdhlabs.com", "Host subnet 192.168.101.0/24", "host-1", "host-3", "JVM: cd-service 1.4.2 :8080", "health checks: GET /actuator/health/readiness :8080"] {
        assert!(svg.contains(text), "{text}");
    }
    assert_eq!(scene.elements.iter().filter(|e| e.kind == Kind::Host).count(), 3);
    let health = scene.links.iter().find(|l| l.id == "hardware-link-health").unwrap();
    assert_eq!(health.paths.len(), 3, "a health check reaches each of the three hosts");
    assert!(!svg.contains("BGP peer"), "the hardware design has no BGP with a cluster");
    assert_laid_out(&scene);
}

#[test]
fn the_cilium_view_follows_the_advertisement_mode() {
    let plan = seed_plan();
    let dev = draw(&plan, "cilium", &[("environment", "dev")]);
    let dev_svg = text(&dev);
    assert!(dev.element("cilium-l2-policy").is_some() && dev.element("cilium-bgp-advertisement").is_none());
    // Not submitted yet: the address a submission would hold now, the lowest free one.
    assert!(dev_svg.contains("ARP: who has 192.168.101.192?"), "dev's VIP is the next free one: {dev_svg}");
    assert!(dev_svg.contains("VIP 192.168.101.192: next free in pool dev-vips"), "{dev_svg}");
    assert!(!dev_svg.contains("next free VIP"), "no sentence names a VIP without its address");
    let prod = draw(&plan, "cilium", &[]);
    let prod_svg = text(&prod);
    assert!(prod.element("cilium-l2-policy").is_some() && prod.element("cilium-bgp-advertisement").is_some());
    for text in [
        "Gateway api-prod",
        "VIP 192.168.101.240 from pool prod-vips",
        "Secret api-tls",
        "HTTPRoute api-prod",
        "Service api",
        "ClusterIP from 10.97.0.0/16",
        "Deployment api",
        "pod IPs from 10.20.0.0/16",
        "BGP: every node advertises 192.168.101.240/32",
        "BGP peer frr · AS 65000",
        "answers ARP for 192.168.101.240",
    ] {
        assert!(prod_svg.contains(text), "{text}");
    }
    let pods: Vec<_> = prod.elements.iter().filter(|e| e.kind == Kind::Pod).collect();
    assert_eq!(pods.len(), 3, "three pods");
    let nodes: Vec<_> = prod.elements.iter().filter(|e| e.kind == Kind::Node).collect();
    assert_eq!(nodes.len(), 3);
    for (pod, node) in pods.iter().zip(&nodes) {
        assert!(node.rect.contains(&pod.rect), "one pod on each node");
    }
    assert!(prod.links.iter().any(|l| l.id == "cilium-link-bgp-router-core"));

    // BGP only: no L2 policy, the lane to the peer.
    let mut bgp = plan.clone();
    env(&mut bgp, "prod").advertisement.mode = crate::AdvertisementMode::Bgp;
    let scene = draw(&bgp, "cilium", &[]);
    assert!(scene.element("cilium-l2-policy").is_none() && scene.element("cilium-bgp-advertisement").is_some());
    assert_laid_out(&scene);
    assert_laid_out(&dev);
    assert_laid_out(&prod);
}

#[test]
fn clients_and_routers_come_from_the_plan() {
    let mut plan = seed_plan();
    let prod = env(&mut plan, "prod");
    prod.client_networks.push("10.50.0.0/16".parse().unwrap());
    prod.routers.insert(0, crate::Router { name: "branch".parse().unwrap(), address: IpAddr::parse("10.50.0.1").unwrap() });
    let scene = draw(&plan, "cilium", &[]);
    let svg = text(&scene);
    assert!(svg.contains("10.50.0.0/16") && svg.contains("Router branch"));
    assert_laid_out(&scene);

    env(&mut plan, "prod").routers.clear();
    env(&mut plan, "prod").client_networks.clear();
    env(&mut plan, "prod").advertisement.mode = crate::AdvertisementMode::Arp;
    let scene = draw(&plan, "cilium", &[]);
    let router = scene.element("cilium-router-unrecorded").unwrap();
    assert!(router.unrecorded && router.alt.contains("lists none"), "a stand-in, drawn dashed, says so");
    assert!(scene.element("cilium-clients").unwrap().unrecorded);
}

#[test]
fn an_environment_without_an_application_is_drawn_without_one() {
    let mut plan = seed_plan();
    plan.applications.clear();
    let scene = draw(&plan, "cilium", &[]);
    assert!(scene.element("cilium-gateway").unwrap().unrecorded);
    assert!(scene.element("cilium-service").is_none());
    assert_laid_out(&scene);
    assert_laid_out(&draw(&plan, "hardware", &[]));
}

// =============================================================================================
// Scale

fn scaled(nodes: usize, replicas: u32) -> Plan {
    let mut plan = seed_plan();
    let prod = env(&mut plan, "prod");
    prod.node_subnets = vec!["10.200.0.0/16".parse().unwrap()];
    prod.node_addresses = (0..nodes).map(|i| IpAddr::parse(&format!("10.200.{}.{}", i / 200, 10 + i % 200)).unwrap()).collect();
    api(&mut plan).replicas = replicas;
    plan
}

#[test]
fn pods_are_drawn_one_by_one_up_to_six_per_node_and_grouped_beyond() {
    let six = draw(&scaled(2, 12), "cilium", &[]);
    assert_eq!(six.elements.iter().filter(|e| e.kind == Kind::Pod).count(), 12);
    assert_eq!(six.elements.iter().filter(|e| e.kind == Kind::PodGroup).count(), 0);
    assert_laid_out(&six);

    let seven = draw(&scaled(2, 13), "cilium", &[]);
    let groups: Vec<_> = seven.elements.iter().filter(|e| e.kind == Kind::PodGroup).collect();
    assert_eq!(groups.len(), 1, "node-1 has seven pods: one group");
    assert_eq!(groups[0].lines, ["7 pods of api"]);
    assert_eq!(seven.elements.iter().filter(|e| e.kind == Kind::Pod).count(), 6, "node-2 keeps its six");
    assert_laid_out(&seven);
}

#[test]
fn fifty_nodes_and_five_hundred_pods_stay_readable() {
    let plan = scaled(50, 500);
    for view in ["cilium", "hardware", "walk/arp"] {
        let scene = draw(&plan, view, &[]);
        assert_laid_out(&scene);
        let nodes: Vec<_> = scene.elements.iter().filter(|e| matches!(e.kind, Kind::Node | Kind::Host)).collect();
        assert_eq!(nodes.len(), 50, "{view}");
        assert!(nodes.iter().all(|n| n.rect.w >= 150), "{view}: node boxes keep room for their text");
        assert!(scene.height < 3000, "{view}: {} high", scene.height);
    }
    let scene = draw(&plan, "cilium", &[]);
    let groups: Vec<_> = scene.elements.iter().filter(|e| e.kind == Kind::PodGroup).collect();
    assert_eq!(groups.len(), 50);
    assert!(groups.iter().all(|g| g.lines == ["10 pods of api"]));
    assert!(scene.links.iter().any(|l| l.id == "cilium-link-fan-all"), "one link to the grid instead of fifty");

    let one = draw(&scaled(1, 1), "cilium", &[]);
    assert_laid_out(&one);
    assert_eq!(one.elements.iter().filter(|e| e.kind == Kind::Node).count(), 1);
}

// =============================================================================================
// Text alternatives

#[test]
fn every_element_has_a_text_alternative() {
    let plan = seed_plan();
    for view in ["hardware", "cilium", "compare", "applications/api", "walk/bgp"] {
        let scene = draw(&plan, view, &[]);
        for e in &scene.elements {
            assert!(e.alt.len() > 10, "{view}: {} has no alternative", e.id);
        }
        for l in &scene.links {
            assert!(!l.alt.is_empty(), "{view}: {} has no alternative", l.id);
        }
        let svg = svg::render(&scene);
        assert_eq!(svg.matches("<g id=").count(), svg.matches("aria-label=").count() + scene.notes.len(), "{view}: every group but the notes is labelled");
        let items = scene.text_items();
        assert!(scene.elements.iter().all(|e| items.iter().any(|i| i.id == e.id)), "{view}: the text version lists every element");
    }
}

// =============================================================================================
// Turn-up tasks

#[test]
fn every_task_highlights_something_and_the_stylesheet_knows_it() {
    let scene = draw(&seed_plan(), "compare", &[]);
    let css = include_str!("../../../../style/main.css");
    for task in tasks::ALL {
        let tagged = scene.elements.iter().any(|e| e.tasks.contains(&task))
            || scene.links.iter().any(|l| l.tasks.contains(&task))
            || scene.zones.iter().any(|z| z.tasks.contains(&task));
        assert!(tagged, "task {task} highlights nothing");
        assert!(css.contains(&format!("[data-task=\"{task}\"]")), "style/main.css has no highlight rule for {task}");
    }
    let plan = seed_plan();
    let prod = plan.environments.iter().find(|e| e.name == "prod").unwrap();
    let design = Design::new(&plan, prod, plan.applications.first());
    let k8s = tasks::kubernetes(&design);
    assert!(k8s.iter().all(|t| t.href.is_some()), "each Kubernetes task links to its page");
    let pages: BTreeSet<&str> = k8s.iter().filter_map(|t| t.href.as_deref()).collect();
    assert_eq!(pages, BTreeSet::from(["/applications", "/certificates", "/checklist", "/environments", "/pools"]));
    assert_eq!(tasks::hardware(&design).len(), 6);
}

// =============================================================================================
// Dev beside prod, with the findings

#[test]
fn findings_are_drawn_on_the_elements_they_concern() {
    let mut plan = seed_plan();
    // Prod copies dev's settings and hostname, and runs one replica without probes.
    let dev_config = api(&mut plan).environments[&"dev".parse().unwrap()].config.clone();
    let prod = api(&mut plan).environments.get_mut(&"prod".parse().unwrap()).unwrap();
    prod.config = dev_config;
    prod.hostnames.push("api-dev.mdhlabs.com".parse().unwrap());
    api(&mut plan).replicas = 1;
    let report = check_application(&plan, "api", NOW);
    assert!(report.findings.len() >= 3, "{:#?}", report.findings);

    let scene = draw(&plan, "applications/api", &[]);
    assert_laid_out(&scene);
    let marked = |id: &str| scene.element(id).unwrap().marks.iter().filter(|m| matches!(m, Mark::Finding { .. })).count();
    assert!(marked("app-prod-configmap") > 0 && marked("app-dev-configmap") > 0, "GH-CONFIGMAP-DISTINCT on both ConfigMaps");
    assert!(marked("app-prod-httproute") > 0 && marked("app-dev-httproute") > 0, "GH-HOSTNAME-DISTINCT on both routes");
    assert!(marked("app-prod-deployment") > 0 && marked("app-dev-deployment") == 0, "GH-PROD-REPLICAS on prod only");
    let svg = text(&scene);
    assert!(svg.contains("GH-CONFIGMAP-DISTINCT") && svg.contains("GH-HOSTNAME-DISTINCT") && svg.contains("GH-PROD-REPLICAS"));
    let drawn = svg::render(&scene);
    assert!(drawn.contains("finding-error") && drawn.contains("finding-warning"));
    for f in &report.findings {
        let words: Vec<&str> = f.message.split_whitespace().take(4).collect();
        assert!(svg.contains(&words.join(" ")), "the message of {} is written out", f.rule);
    }
    let prod_findings: Vec<_> = report.findings.iter().filter(|f| application::concerns(&plan, f, "prod")).collect();
    assert!(prod_findings.iter().any(|f| f.severity == Severity::Warning));
    insta::assert_snapshot!("application_with_findings", drawn);
}

// =============================================================================================
// Packet walks

fn sentences(plan: &Plan, view: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    page(plan, NOW, &View::parse(view).unwrap(), &query(pairs)).unwrap().walk.unwrap().steps
}

#[test]
fn the_arp_walk_goes_to_a_pod_and_back() {
    let plan = seed_plan();
    let steps = sentences(&plan, "walk/arp", &[]);
    assert_eq!(steps.len(), 9, "{steps:#?}");
    assert!(steps[0].contains("192.168.99.0/24") && steps[0].contains("api.mdhlabs.com"));
    assert!(steps[2].contains("who has 192.168.101.240?"));
    assert!(steps[3].contains("node-1 holds Cilium's L2 announcement lease"));
    assert!(steps[4].contains("terminates TLS with the key pair in Secret api-tls"));
    assert!(steps[6].contains("pod 3 on node-3") && steps[6].contains("from node-1 to node-3"));
    assert!(steps[8].contains("round trip"));
    for (i, _) in steps.iter().enumerate() {
        let scene = draw(&plan, "walk/arp", &[("step", &(i + 1).to_string())]);
        assert_eq!(scene.tokens.len(), 1, "the packet is drawn at step {}", i + 1);
        assert!(scene.elements.iter().any(|e| e.marks.contains(&Mark::Current)));
        assert_laid_out(&scene);
    }
}

#[test]
fn the_gateway_label_caveat_stops_the_walk_where_the_vip_is_not_announced() {
    let plan = seed_plan();
    let arp = sentences(&plan, "walk/arp", &[("caveat", "gateway-label")]);
    assert_eq!(arp.len(), 3, "stops at the router's ARP request");
    assert!(arp[2].starts_with("Suppose") && arp[2].contains("no node answers") && arp[2].contains("cilium-gateway-api-prod"));
    let scene = draw(&plan, "walk/arp", &[("caveat", "gateway-label"), ("step", "3")]);
    assert!(scene.element("walk-router-core").unwrap().marks.contains(&Mark::Failed));
    assert!(text(&scene).contains("lacks the label gatehouse.io/advertise=prod"));

    let bgp = sentences(&plan, "walk/bgp", &[("caveat", "gateway-label")]);
    assert_eq!(bgp.len(), 3);
    assert!(bgp[2].contains("no node advertises 192.168.101.240/32") && bgp[2].contains("stops at the router"));

    // In the plan itself: an empty label value is the caveat, shown without "Suppose".
    let mut unlabelled = seed_plan();
    env(&mut unlabelled, "dev").advertisement.label.value = "".parse().unwrap();
    let steps = sentences(&unlabelled, "walk/arp", &[("environment", "dev")]);
    assert_eq!(steps.len(), 3);
    assert!(steps[2].starts_with("Router core asks"), "{}", steps[2]);
}

#[test]
fn frr_on_a_vm_forwards_nothing_into_the_cluster_though_the_router_itself_gets_through() {
    let plan = seed_plan();
    let hardware = sentences(&plan, "walk/bgp", &[]);
    assert_eq!(hardware.len(), 9, "FRR on hardware forwards: the full walk");
    assert!(hardware[2].contains("advertised 192.168.101.240/32 to frr on router core (AS 65000)"));

    let supposed = sentences(&plan, "walk/bgp", &[("caveat", "frr-vm")]);
    assert_eq!(supposed.len(), 4);
    assert!(supposed[3].starts_with("Suppose router core runs FRR on a virtual machine"));
    let scene = draw(&plan, "walk/bgp", &[("caveat", "frr-vm"), ("step", "4")]);
    let itself = scene.links.iter().find(|l| l.id == "walk-link-router-itself").unwrap();
    assert!(itself.marks.contains(&Mark::Works));
    assert!(scene.links.iter().find(|l| l.id == "walk-link-router-core-gateway").unwrap().marks.contains(&Mark::Failed));
    assert!(text(&scene).contains("FRR on virtual machine"));

    let mut vm = seed_plan();
    env(&mut vm, "prod").advertisement.bgp.as_mut().unwrap().peers[0].platform = Platform::Vm;
    let steps = sentences(&vm, "walk/bgp", &[]);
    assert_eq!(steps.len(), 4, "the plan's own VM router is the default caveat");
    assert!(steps[3].starts_with("Router core runs FRR"));
    assert_eq!(sentences(&vm, "walk/bgp", &[("caveat", "none")]).len(), 9);
}

#[test]
fn walks_and_views_refuse_what_does_not_exist() {
    let plan = seed_plan();
    let cases: &[(&str, Pairs<'_>, &str, u16)] = &[
        ("nope", &[], "unknown_view", 404),
        ("walk/ospf", &[], "unknown_view", 404),
        ("cilium", &[("environment", "staging")], "environment_not_found", 404),
        ("hardware", &[("application", "web")], "application_not_found", 404),
        ("applications/web", &[], "application_not_found", 404),
        ("walk/bgp", &[("environment", "dev")], "advertisement_mode", 422),
        ("walk/arp", &[("step", "10")], "invalid_step", 400),
        ("walk/arp", &[("step", "x")], "invalid_step", 400),
        ("walk/arp", &[("caveat", "frr-vm")], "invalid_caveat", 400),
        ("walk/bgp", &[("caveat", "dns")], "invalid_caveat", 400),
    ];
    for (view, pairs, code, status) in cases {
        let e = error(&plan, view, pairs);
        assert_eq!((e.code(), e.status()), (*code, *status), "{view} {pairs:?}: {e}");
    }
    let mut other = seed_plan();
    let mut web = api(&mut other).clone();
    web.name = "web".parse().unwrap();
    web.environments.retain(|e, _| e.as_str() == "dev");
    other.applications.push(web);
    let e = error(&other, "cilium", &[("environment", "prod"), ("application", "web")]);
    assert_eq!(e.code(), "application_not_in_environment");
    assert!(e.to_string().contains("it is in dev"));
    assert_eq!(error(&Plan::default(), "hardware", &[]).code(), "no_environments");
}

#[test]
fn pages_carry_links_for_every_step_and_the_text_version() {
    let plan = seed_plan();
    let p = page(&plan, NOW, &View::parse("walk/bgp").unwrap(), &query(&[("step", "2")])).unwrap();
    let walk = p.walk.clone().unwrap();
    assert_eq!(walk.step, 2);
    assert_eq!(walk.step_hrefs[2], "/topology/walk/bgp?environment=prod&application=api&step=3&caveat=none");
    assert_eq!(walk.caveats.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["none", "gateway-label", "frr-vm"]);
    assert_eq!(p.export_href("png"), "/api/v1/topology/walk/bgp.png?environment=prod&application=api&step=2&caveat=none");
    assert_eq!(p.environments.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["prod"], "only environments that use BGP");

    let compare = page(&plan, NOW, &View::Compare, &Query::default()).unwrap();
    assert_eq!(compare.panels.len(), 2);
    assert!(compare.panels.iter().all(|p| p.tasks.is_some() && !p.items.is_empty()));
    assert!(compare.panels[0].svg.starts_with("<svg") && !compare.panels[0].svg.contains("<style"), "no inline style: the page's CSP forbids it");

    let index = page(&plan, NOW, &View::Index, &Query::default()).unwrap();
    let hrefs: Vec<&str> = index.sections.iter().flat_map(|(_, links)| links.iter().map(|l| l.href.as_str())).collect();
    for href in ["/topology/compare?environment=prod", "/topology/hardware?environment=dev", "/topology/applications/api", "/topology/walk/bgp?environment=prod&caveat=frr-vm", "/topology/walk/arp?environment=dev"] {
        assert!(hrefs.contains(&href), "{href} in {hrefs:?}");
    }
    assert!(!hrefs.contains(&"/topology/walk/bgp?environment=dev"), "dev does not use BGP");
}

#[test]
fn hardware_and_cilium_share_the_width_for_side_by_side() {
    assert_eq!(hardware::WIDTH, cilium::WIDTH);
    let scene = draw(&seed_plan(), "compare", &[]);
    assert_eq!(scene.width, 2 * cilium::WIDTH + 32);
    assert_laid_out(&scene);
}

mod live {
    use super::super::live::{LiveEnvironment, LiveGateway, LiveNode, LivePod, LiveService, scene};
    use super::super::scene::Mark;
    use super::super::svg;

    fn pod(i: usize) -> LivePod {
        LivePod {
            name: format!("api-abc-{i}"),
            ip: Some(format!("10.0.1.{}", 10 + i)),
            phase: "Running".into(),
            ready: true,
        }
    }

    fn environment(pods_on_first: usize, labelled: bool) -> LiveEnvironment {
        LiveEnvironment {
            environment: "prod".into(),
            cluster: "prod-cluster".into(),
            namespace: "cd-service".into(),
            read_at: "2026-11-25T12:00:00Z".into(),
            nodes: (1..=3)
                .map(|n| LiveNode {
                    name: format!("node-{n}"),
                    address: Some(format!("192.168.101.{}", 10 + n)),
                    ready: true,
                    pods: if n == 1 {
                        (0..pods_on_first).map(pod).collect()
                    } else {
                        vec![pod(n)]
                    },
                })
                .collect(),
            gateways: vec![LiveGateway {
                name: "api-prod".into(),
                addresses: vec!["192.168.101.240".into()],
                programmed: true,
                routes: vec!["api-prod (api.mdhlabs.com)".into()],
            }],
            services: vec![LiveService {
                name: "cilium-gateway-api-prod".into(),
                service_type: "LoadBalancer".into(),
                cluster_ip: Some("10.96.0.20".into()),
                gateway: Some("api-prod".into()),
                vip: Some("192.168.101.240".into()),
                labelled,
                l2_policies: if labelled {
                    vec!["gatehouse-prod".into()]
                } else {
                    vec![]
                },
                bgp_advertisements: vec![],
            }],
            ..LiveEnvironment::default()
        }
    }

    #[test]
    fn an_announced_vip_works_and_a_dark_one_fails() {
        let lit = scene("api", &environment(1, true), "live-prod");
        let service = lit
            .element("live-prod-service-cilium-gateway-api-prod")
            .unwrap();
        assert_eq!(service.marks, vec![Mark::Works]);
        assert!(
            service
                .lines
                .iter()
                .any(|l| l.contains("announced by L2 policy gatehouse-prod")),
            "{:?}",
            service.lines
        );
        assert!(
            lit.summary.contains("every assigned VIP is announced"),
            "{}",
            lit.summary
        );
        assert!(
            !lit.links.is_empty(),
            "the Gateway leads to its generated Service"
        );

        let dark = scene("api", &environment(1, false), "live-prod");
        let service = dark
            .element("live-prod-service-cilium-gateway-api-prod")
            .unwrap();
        assert_eq!(service.marks, vec![Mark::Failed]);
        assert!(
            dark.summary
                .contains("NOT announced: Service cilium-gateway-api-prod (192.168.101.240)"),
            "{}",
            dark.summary
        );
        assert!(svg::render(&dark).contains("NOT ANNOUNCED"));
    }

    #[test]
    fn pods_beyond_six_on_a_node_are_counted_and_every_element_has_a_text() {
        let many = scene("api", &environment(40, true), "live-prod");
        let node = many.element("live-prod-node-node-1").unwrap();
        assert!(
            node.lines.contains(&"40 pods, 40 Ready".to_owned()),
            "{:?}",
            node.lines
        );
        assert!(
            many.summary.contains("3 nodes, 42 pods"),
            "{}",
            many.summary
        );
        assert!(many.elements.iter().all(|e| !e.alt.is_empty()));
    }

    #[test]
    fn an_unreadable_cluster_is_explained() {
        let failed = LiveEnvironment {
            environment: "prod".into(),
            cluster: "prod-cluster".into(),
            failure: Some(
                "cluster unreachable: connection refused — check the kubeconfig's server".into(),
            ),
            ..LiveEnvironment::default()
        };
        let drawn = scene("api", &failed, "live-prod");
        assert!(drawn.elements.is_empty());
        assert!(svg::render(&drawn).contains("connection refused"));
    }

    #[test]
    fn an_application_never_submitted_is_said_to_run_nowhere_yet() {
        let mut empty = environment(0, true);
        empty.gateways.clear();
        empty.services.clear();
        for node in &mut empty.nodes {
            node.pods.clear();
        }
        // The drawn text, its wrapped lines joined again.
        let svg = svg::render(&scene("api", &empty, "live-prod"));
        let mut text = String::new();
        let mut in_tag = false;
        for c in svg.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    text.push(' ');
                }
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        let drawn = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(drawn.contains("Nothing of api runs in namespace cd-service on cluster prod-cluster yet"), "{drawn}");
        assert!(drawn.contains("Submit it to prod from the Applications page"), "{drawn}");
        let deployed = svg::render(&scene("api", &environment(2, true), "live-prod"));
        assert!(!deployed.contains("Nothing of api runs"));
    }
}

/// The IPv4 addresses and prefixes a sentence names (`192.168.101.11`, `10.10.0.0/16`).
fn addresses_in(sentence: &str) -> Vec<IpAddr> {
    sentence
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '/'))
        .map(|token| token.trim_end_matches('.').split('/').next().unwrap_or(""))
        .filter(|token| token.matches('.').count() == 3)
        .filter_map(|token| IpAddr::parse(token).ok())
        .collect()
}

/// A training aid never says what its own plan contradicts: every sentence of every packet
/// walk (ARP and BGP, with and without each caveat) names only addresses of the environment it
/// was drawn for — its node subnets, pod and Service ranges, pools, client networks, routers
/// and peers — and names the VIP by the address the plan gives it, for the seed plan and for
/// a generated one.
#[test]
fn every_walk_sentence_names_only_the_plans_addresses() {
    use super::walk::{Caveat, WalkKind, steps};
    for plan in [seed_plan(), crate::seed::synthetic_plan(4, 16, 8, NOW)] {
        let mut walked = 0;
        for app in &plan.applications {
            for env in plan.environments.iter().filter(|e| app.environments.contains_key(&e.name)) {
                let design = Design::new(&plan, env, Some(app));
                let vip = design.app.as_ref().and_then(|a| a.vip.address());
                let pools = design.pools.clone();
                let peers: Vec<IpAddr> = env.advertisement.bgp.iter().flat_map(|b| b.peers.iter().map(|p| p.address)).collect();
                let of_the_plan = |address: &IpAddr| {
                    env.node_subnets.iter().chain(&env.pod_cidrs).chain(&env.client_networks).chain(std::iter::once(&env.service_cidr)).any(|c| c.contains(address))
                        || pools.iter().any(|p| p.contains(address))
                        || env.routers.iter().any(|r| r.address == *address)
                        || design.hops.iter().any(|h| h.address == Some(*address))
                        || peers.contains(address)
                        || vip == Some(*address)
                };
                for kind in [WalkKind::Arp, WalkKind::Bgp] {
                    for caveat in [None, Some(Caveat::GatewayLabel), Some(Caveat::FrrVm)] {
                        for step in steps(&design, kind, caveat, true) {
                            walked += 1;
                            assert!(!step.sentence.contains("next free VIP"), "{}: {}", env.name, step.sentence);
                            for address in addresses_in(&step.sentence) {
                                assert!(of_the_plan(&address), "{} in {}: {address} is not the plan's: {}", app.name, env.name, step.sentence);
                            }
                        }
                    }
                }
                if let Some(vip) = vip {
                    let first = steps(&design, WalkKind::Arp, None, false);
                    assert!(first.first().is_some_and(|s| s.sentence.contains(&vip.to_string())), "the walk names the VIP {vip}: {first:?}");
                }
            }
        }
        assert!(walked > 0, "some walk was checked");
    }
}
