//! The rules over the facts: a [`Plan`] rebuilt from the objects runs through Gatehouse's own
//! checklist (only the rules the objects can decide are kept), then the rules only manifests
//! can break, then — with `--plan` — the drift from the plan.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::checklist::{self, rule as ck};
use domain::{
    Advertisement, AdvertisementMode, AppEnvironment, Application, ArpSettings, Asn, BgpPeer, BgpSettings, CertificateInfo,
    Cidr, Environment, EnvironmentName, Hostname, HttpPath, ImageRef, K8sName, K8sSubdomain, Label,
    LabelKey, LabelValue, NamespaceTemplate, Plan, Platform, Port, VipPool, VipRequest, is_production_name,
};

use crate::catalogue::{self, Rule};
use crate::facts::{Facts, Loc, Pool, selects};

/// One finding, placed in the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub rule: Rule,
    pub message: String,
    pub fix: String,
    pub loc: Loc,
    /// The checklist's object names (`environment/dev`, `pool/dev-vips`, …) where it has them.
    pub objects: Vec<String>,
}

pub struct Settings<'a> {
    pub now_unix: i64,
    /// The objects are a whole cluster: a Secret that is not among them does not exist.
    pub complete: bool,
    pub plan: Option<&'a Plan>,
}

/// What the objects told about an environment, so findings that need an unknown fact are left out.
#[derive(Default)]
struct Known {
    subnets: bool,
    mode: bool,
    label: bool,
}

/// Where the rebuilt plan's parts are written.
#[derive(Default)]
struct Places {
    envs: HashMap<String, Loc>,
    hostnames: HashMap<(String, String), Loc>,
    gateways: HashMap<(String, String), Loc>,
    addresses: HashMap<(String, String), Loc>,
    certificate_refs: HashMap<(String, String), Loc>,
    config_maps: HashMap<(String, String), Loc>,
    secrets: HashMap<(String, String), Loc>,
}

pub fn run(facts: &Facts, settings: &Settings<'_>) -> Vec<Located> {
    let mut out = Vec::new();
    let (plan, known, places) = rebuild(facts, settings.plan);
    checklist_findings(facts, settings, &plan, &known, &places, &mut out);
    manifest_rules(facts, settings, &mut out);
    if let Some(reference) = settings.plan {
        plan_drift(facts, reference, &mut out);
    }
    out.sort_by(|a, b| (a.loc, a.rule.id, &a.message).cmp(&(b.loc, b.rule.id, &b.message)));
    out.dedup();
    out
}

fn valid_label(key: &str, value: &str) -> Option<Label> {
    Some(Label { key: LabelKey::parse(key).ok()?, value: LabelValue::parse(value).ok()? })
}

/// A placeholder service CIDR for an environment whose service CIDR is unknown: a slice of
/// the IPv6 discard prefix 100::/64 (RFC 6666), which no cluster uses, one per environment.
fn placeholder_service_cidr(i: usize) -> Option<Cidr> {
    Cidr::parse(&format!("100::{:x}:0:0:0/80", (i % 0xffff) + 1)).ok()
}

fn rebuild(facts: &Facts, reference: Option<&Plan>) -> (Plan, HashMap<String, Known>, Places) {
    let mut places = Places::default();
    let mut names: BTreeSet<&str> = facts.envs.keys().map(String::as_str).collect();
    names.extend(facts.pools.iter().map(|p| p.env.as_str()));
    names.extend(facts.gateways.iter().map(|g| g.env.as_str()));
    names.extend(facts.deployments.iter().map(|d| d.env.as_str()));
    names.extend(facts.routes.iter().map(|r| r.env.as_str()));
    names.extend(facts.secrets.iter().map(|s| s.env.as_str()));

    let mut plan = Plan::default();
    let mut known = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let Ok(env_name) = EnvironmentName::parse(name) else { continue };
        if let Some(loc) = facts.envs.get(*name).and_then(|e| e.loc) {
            places.envs.insert((*name).to_owned(), loc);
        }
        if let Some(planned) = reference.and_then(|p| p.environment(&env_name)) {
            plan.environments.push(planned.clone());
            known.insert((*name).to_owned(), Known { subnets: true, mode: true, label: true });
            continue;
        }
        let env_facts = facts.envs.get(*name);
        let l2 = facts.announcers.iter().any(|a| a.env == *name && a.l2);
        let bgp = facts.announcers.iter().any(|a| a.env == *name && !a.l2) || facts.bgp_peers.contains_key(*name);
        let mode = match (l2, bgp) {
            (true, true) => AdvertisementMode::Both,
            (false, true) => AdvertisementMode::Bgp,
            _ => AdvertisementMode::Arp,
        };
        let selected_label = facts
            .announcers
            .iter()
            .filter(|a| a.env == *name)
            .filter_map(|a| a.selector.as_ref())
            .chain(facts.pools.iter().filter(|p| p.env == *name).filter_map(|p| p.selector.as_ref()))
            .find_map(|s| s.single_label().and_then(|(k, v)| valid_label(k, v)));
        let label_known = selected_label.is_some();
        let Some(label) = selected_label.or_else(|| valid_label("gatehouse.io/environment", name)) else { continue };
        let node_subnets = env_facts.and_then(|e| e.node_subnets.clone());
        let Some(service_cidr) = env_facts.and_then(|e| e.service_cidr.clone()).or_else(|| placeholder_service_cidr(i)) else {
            continue;
        };
        let node_addresses = node_subnets
            .as_ref()
            .map(|subnets| facts.node_addresses.iter().filter(|a| subnets.iter().any(|s| s.contains(a))).copied().collect())
            .unwrap_or_default();
        let peers = facts
            .bgp_peers
            .get(*name)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(BgpPeer {
                    name: K8sName::parse(&p.name).or_else(|_| K8sName::parse("peer")).ok()?,
                    asn: Asn::new(i64::from(p.asn)).or_else(|_| Asn::new(65000)).ok()?,
                    address: p.address,
                    platform: Platform::Hardware,
                    // The router's own identifier is in its configuration, not in any object.
                    router_id: None,
                })
            })
            .collect();
        let local_asn = facts.bgp_local_asn.get(*name).copied().unwrap_or(65000);
        let bgp_settings = Asn::new(i64::from(local_asn)).ok().map(|local_asn| BgpSettings { local_asn, peers });
        known.insert((*name).to_owned(), Known { subnets: node_subnets.is_some(), mode: l2 || bgp, label: label_known });
        plan.environments.push(Environment {
            name: env_name,
            node_subnets: node_subnets.unwrap_or_default(),
            node_addresses,
            pod_cidrs: env_facts.and_then(|e| e.pod_cidrs.clone()).unwrap_or_default(),
            service_cidr,
            advertisement: Advertisement {
                mode,
                label,
                arp: mode.uses_arp().then(ArpSettings::default),
                bgp: if mode.uses_bgp() { bgp_settings } else { None },
            },
            protected: false,
            client_networks: Vec::new(),
            routers: Vec::new(),
            cluster: None,
            namespace_template: NamespaceTemplate::default(),
        });
    }
    let defined: BTreeSet<String> = plan.environments.iter().map(|e| e.name.to_string()).collect();

    for (i, pool) in facts.pools.iter().enumerate().filter(|(_, p)| !p.disabled && defined.contains(&p.env)) {
        let (Ok(environment), Ok(name)) = (EnvironmentName::parse(&pool.env), K8sName::parse(&pool.name)) else { continue };
        plan.pools.push(VipPool {
            id: Some(i as i64),
            environment,
            name,
            blocks: pool.blocks.iter().map(|(b, _)| b.clone()).collect(),
        });
    }

    let mut apps: Apps = BTreeMap::new();
    let push_host = |e: &mut AppEnvironment, host: &str| {
        if let Ok(h) = Hostname::parse(host)
            && !e.hostnames.contains(&h)
        {
            e.hostnames.push(h);
        }
    };
    for g in &facts.gateways {
        let key = (g.app.clone(), g.env.clone());
        places.gateways.insert(key.clone(), g.loc);
        let Some(e) = app_environment(&mut apps, &defined, &g.app, &g.env, &g.namespace) else { continue };
        for (host, loc) in &g.hostnames {
            push_host(e, host);
            places.hostnames.entry((g.env.clone(), host.clone())).or_insert(*loc);
        }
        if let Some((_, name, loc)) = g.certificates.first() {
            e.certificate = K8sSubdomain::parse(name).ok();
            places.certificate_refs.insert(key.clone(), *loc);
        }
        if let Some((address, loc)) = g.addresses.first() {
            e.vip = VipRequest::Address(*address);
            places.addresses.insert(key, *loc);
        }
    }
    for r in &facts.routes {
        let app = route_app(facts, r);
        let Some(e) = app_environment(&mut apps, &defined, app, &r.env, &r.namespace) else { continue };
        for (host, loc) in &r.hostnames {
            push_host(e, host);
            // The route's hostname is where a user fixes a hostname clash.
            places.hostnames.insert((r.env.clone(), host.clone()), *loc);
        }
    }
    for d in &facts.deployments {
        let config: Vec<_> = d.config_maps.iter().filter_map(|name| facts.config_maps.get(&(d.namespace.clone(), name.clone()))).collect();
        let Some(e) = app_environment(&mut apps, &defined, &d.app, &d.env, &d.namespace) else { continue };
        for cm in &config {
            for (k, v) in &cm.data {
                if let Ok(key) = domain::ConfigKey::parse(k) {
                    e.config.insert(key, v.clone());
                }
            }
            places.config_maps.entry((d.app.clone(), d.env.clone())).or_insert(cm.loc);
        }
    }
    for (name, (namespace, environments)) in apps {
        let (Ok(name), Ok(namespace), Ok(image), Ok(port), Ok(probe)) = (
            K8sName::parse(&name),
            K8sName::parse(&namespace),
            ImageRef::parse("lint.invalid/application:1"),
            Port::new(80),
            HttpPath::parse("/"),
        ) else {
            continue;
        };
        let environments =
            environments.into_iter().filter_map(|(env, e)| EnvironmentName::parse(&env).ok().map(|n| (n, e))).collect();
        plan.applications.push(Application {
            name,
            namespace,
            image,
            // Replicas and probes are judged per Deployment (GH-PROD-REPLICAS, GH-PROD-PROBES below).
            replicas: 2,
            port,
            readiness_path: Some(probe.clone()),
            liveness_path: Some(probe),
            environments,
        });
    }
    if !facts.secrets.is_empty() {
        let mut certificates = Vec::new();
        for s in &facts.secrets {
            places.secrets.entry((s.env.clone(), s.name.clone())).or_insert(s.loc);
            let (Ok(details), Ok(environment), Ok(name)) = (&s.parsed, EnvironmentName::parse(&s.env), K8sSubdomain::parse(&s.name)) else {
                continue;
            };
            certificates.push(CertificateInfo {
                environment,
                name,
                sans: details.sans.clone(),
                not_before: details.not_before,
                not_after: details.not_after,
                fingerprint_sha256: details.fingerprint_sha256.clone(),
                public_key_fingerprint: details.public_key_sha256.clone(),
                secret_ref: None,
                owners: Default::default(),
            });
        }
        plan.certificates = Some(certificates);
    }
    (plan, known, places)
}

/// Applications by name: their namespace and their settings per environment.
type Apps = BTreeMap<String, (String, BTreeMap<String, AppEnvironment>)>;

fn app_environment<'a>(apps: &'a mut Apps, defined: &BTreeSet<String>, app: &str, env: &str, namespace: &str) -> Option<&'a mut AppEnvironment> {
    if !defined.contains(env) || K8sName::parse(app).is_err() {
        return None;
    }
    let (_, envs) = apps.entry(app.to_owned()).or_insert_with(|| (namespace.to_owned(), BTreeMap::new()));
    Some(envs.entry(env.to_owned()).or_default())
}

/// The application of an HTTPRoute: its parent Gateway's, else its own.
fn route_app<'a>(facts: &'a Facts, r: &'a crate::facts::Route) -> &'a str {
    r.parent
        .as_ref()
        .and_then(|parent| facts.gateways.iter().find(|g| g.namespace == r.namespace && g.name == *parent))
        .map_or(r.app.as_str(), |g| g.app.as_str())
}

/// Rules the checklist has but lint decides from the objects themselves (where the objects
/// say more than the plan model holds), or cannot decide at all.
/// Judged per object below, or not knowable from objects (a router's `bgp router-id` is in the
/// router's own configuration).
const DECIDED_ELSEWHERE: [&str; 7] = [
    ck::ENV_NAMESPACE.id,
    ck::ENV_UNKNOWN.id,
    ck::PROD_REPLICAS.id,
    ck::PROD_PROBES.id,
    ck::L2_ETP_LOCAL.id,
    ck::GATEWAY_LABEL.id,
    ck::BGP_ROUTER_ID.id,
];
const NEED_SUBNETS: [&str; 3] = [ck::ARP_VIP_IN_SUBNET.id, ck::ARP_VIP_NODE_CLASH.id, ck::BGP_VIP_OUTSIDE_SUBNET.id];
const NEED_MODE: [&str; 6] =
    [ck::ARP_VIP_IN_SUBNET.id, ck::ARP_VIP_NODE_CLASH.id, ck::ARP_IPV6.id, ck::BGP_PEER.id, ck::BGP_VIP_OUTSIDE_SUBNET.id, ck::BGP_PEER_VM.id];

fn checklist_findings(
    facts: &Facts,
    settings: &Settings<'_>,
    plan: &Plan,
    known: &HashMap<String, Known>,
    places: &Places,
    out: &mut Vec<Located>,
) {
    let report = checklist::check_plan(plan, settings.now_unix);
    for f in report.findings {
        let id = f.rule.as_ref();
        let envs: Vec<&str> = f.objects.iter().filter_map(|o| o.strip_prefix("environment/")).collect();
        let apps: Vec<&str> = f.objects.iter().filter_map(|o| o.strip_prefix("application/")).collect();
        let lacks = |what: fn(&Known) -> bool| envs.iter().any(|e| known.get(*e).is_none_or(|k| !what(k)));
        if DECIDED_ELSEWHERE.contains(&id)
            || (NEED_SUBNETS.contains(&id) && lacks(|k| k.subnets))
            || (NEED_MODE.contains(&id) && lacks(|k| k.mode))
            || (id == ck::ADVERT_LABEL.id && lacks(|k| k.label))
            || (id == ck::CERT_MISSING.id && !settings.complete)
            || (id == ck::GATEWAY_TLS.id
                && !apps.iter().any(|a| envs.iter().any(|e| places.gateways.contains_key(&((*a).to_owned(), (*e).to_owned())))))
        {
            continue;
        }
        let Some(rule) = catalogue::rule(id) else { continue };
        let loc = locate(facts, places, &f, &envs, &apps);
        out.push(Located { rule, message: f.message, fix: f.hint, loc, objects: f.objects });
    }

    for (name, k) in known {
        let has_pools = facts.pools.iter().any(|p| p.env == *name);
        if !has_pools || k.subnets {
            continue;
        }
        let Some(loc) = places.envs.get(name).copied() else { continue };
        out.push(Located {
            rule: catalogue::FACTS_UNKNOWN,
            message: format!(
                "the node subnets of environment {name} are unknown, so {} were not checked",
                NEED_SUBNETS.join(", ")
            ),
            fix: format!("annotate the environment's Namespace or CiliumL2AnnouncementPolicy with {}: <CIDR>[,<CIDR>…], or lint with --plan", crate::facts::NODE_SUBNETS),
            loc,
            objects: vec![format!("environment/{name}")],
        });
    }
}

/// The place a checklist finding is about: the field a user edits to fix it.
fn locate(facts: &Facts, places: &Places, f: &checklist::Finding, envs: &[&str], apps: &[&str]) -> Loc {
    let pairs = || apps.iter().flat_map(|a| envs.iter().map(move |e| ((*a).to_owned(), (*e).to_owned())));
    let first = |map: &HashMap<(String, String), Loc>| pairs().find_map(|k| map.get(&k).copied());
    let pool_block = || {
        let pool: &Pool = f.objects.iter().filter_map(|o| o.strip_prefix("pool/")).find_map(|n| facts.pools.iter().find(|p| p.name == n))?;
        let block = pool.blocks.iter().find(|(b, _)| f.message.contains(&format!("block {b} of pool {}", pool.name)));
        Some(block.map_or(pool.loc, |(_, loc)| *loc))
    };
    let certificate = || {
        f.objects.iter().filter_map(|o| o.strip_prefix("certificate/")).find_map(|c| {
            let (env, name) = c.split_once('/')?;
            places.secrets.get(&(env.to_owned(), name.to_owned())).copied()
        })
    };
    let id = f.rule.as_ref();
    let found = if id == ck::HOSTNAME_DISTINCT.id {
        let host = f.message.split_whitespace().next().unwrap_or_default();
        envs.iter().find_map(|e| places.hostnames.get(&((*e).to_owned(), host.to_owned())).copied())
    } else if id == ck::CONFIGMAP_DISTINCT.id {
        first(&places.config_maps)
    } else if [ck::TLS_DISTINCT.id, ck::CERT_EXPIRED.id, ck::CERT_EXPIRING.id].contains(&id) {
        certificate()
    } else if [ck::CERT_SAN.id, ck::CERT_MISSING.id, ck::CERT_UNVERIFIED.id].contains(&id) {
        first(&places.certificate_refs)
    } else if [ck::VIP_DUPLICATE.id, ck::VIP_OUTSIDE_POOL.id].contains(&id) {
        first(&places.addresses)
    } else {
        None
    };
    found
        .or_else(pool_block)
        .or_else(|| first(&places.gateways))
        .or_else(|| envs.iter().find_map(|e| places.envs.get(*e).copied()))
        .unwrap_or(Loc { file: 0, pos: crate::yaml::Pos { line: 1, column: 1 } })
}

fn manifest_rules(facts: &Facts, settings: &Settings<'_>, out: &mut Vec<Located>) {
    let live_pools: Vec<&Pool> = facts.pools.iter().filter(|p| !p.disabled).collect();
    for t in &facts.targets {
        let selecting: Vec<&str> =
            live_pools.iter().filter(|p| selects(&p.selector, &t.labels)).map(|p| p.name.as_str()).collect();
        let intended_selected = t.intended.as_ref().is_some_and(|labels| live_pools.iter().any(|p| selects(&p.selector, labels)));
        if !live_pools.is_empty() && selecting.is_empty() && !intended_selected {
            out.push(Located {
                rule: catalogue::SERVICE_NO_POOL,
                message: format!("{} is selected by no CiliumLoadBalancerIPPool ({}), so it never gets a VIP", t.what, join(live_pools.iter().map(|p| p.name.as_str()))),
                fix: "give it the label its environment's pool selects, or widen a pool's serviceSelector".to_owned(),
                loc: t.labels_loc,
                objects: vec![format!("environment/{}", t.env)],
            });
        }
        if selecting.len() > 1 {
            out.push(Located {
                rule: catalogue::SERVICE_POOLS,
                message: format!("{} is selected by {} pools: {}", t.what, selecting.len(), selecting.join(", ")),
                fix: "narrow the pools' serviceSelectors so that exactly one selects it".to_owned(),
                loc: t.labels_loc,
                objects: selecting.iter().map(|p| format!("pool/{p}")).collect(),
            });
        }
        if let Some(loc) = t.etp_local {
            let l2: Vec<&str> =
                facts.announcers.iter().filter(|a| a.l2 && selects(&a.selector, &t.labels)).map(|a| a.name.as_str()).collect();
            if !l2.is_empty() {
                out.push(Located {
                    rule: catalogue::rule(ck::L2_ETP_LOCAL.id).unwrap_or(catalogue::SERVICE_NO_POOL),
                    message: format!("{} sets externalTrafficPolicy: Local, but its VIP is announced by the L2 policy {}", t.what, l2.join(", ")),
                    fix: "use externalTrafficPolicy: Cluster (the default) for L2-announced Services, or announce the VIP by BGP".to_owned(),
                    loc,
                    objects: vec![format!("environment/{}", t.env)],
                });
            }
        }
    }
    if !facts.targets.is_empty() {
        for p in &live_pools {
            let selected = |t: &crate::facts::Target| {
                selects(&p.selector, &t.labels) || t.intended.as_ref().is_some_and(|labels| selects(&p.selector, labels))
            };
            if !facts.targets.iter().any(selected) {
                let selector = p.selector.as_ref().map_or_else(String::new, |s| {
                    join(s.labels.iter().map(|(k, v)| format!("{k}={v}")).chain(s.expressions.iter().map(|(k, op, _)| format!("{k} {op} …"))))
                });
                out.push(Located {
                    rule: catalogue::POOL_UNUSED,
                    message: format!("pool {} selects no LoadBalancer Service or Gateway among the inputs (its serviceSelector: {selector})", p.name),
                    fix: "correct the serviceSelector to the label the environment's Services carry, or delete the pool".to_owned(),
                    loc: p.selector_loc,
                    objects: vec![format!("pool/{}", p.name), format!("environment/{}", p.env)],
                });
            }
        }
    }
    for loc in &facts.peering_policies {
        out.push(Located {
            rule: catalogue::BGP_PEERING_POLICY,
            message: "CiliumBGPPeeringPolicy is deprecated (BGP control plane v1) and removed in current Cilium releases".to_owned(),
            fix: "replace it with a CiliumBGPClusterConfig, a CiliumBGPPeerConfig and a CiliumBGPAdvertisement".to_owned(),
            loc: *loc,
            objects: Vec::new(),
        });
    }
    gateway_labels(facts, out);
    for d in &facts.deployments {
        let production = settings
            .plan
            .and_then(|p| EnvironmentName::parse(&d.env).ok().and_then(|n| p.environment(&n).map(Environment::is_production)))
            .unwrap_or_else(|| EnvironmentName::parse(&d.env).is_ok_and(|n| is_production_name(&n)));
        if !production {
            continue;
        }
        let objects = vec![format!("application/{}", d.app), format!("environment/{}", d.env)];
        if d.replicas < 2 {
            out.push(Located {
                rule: catalogue::rule(ck::PROD_REPLICAS.id).unwrap_or(catalogue::SERVICE_NO_POOL),
                message: format!("Deployment {}/{} runs {} replica{} in production environment {}", d.namespace, d.name, d.replicas, if d.replicas == 1 { "" } else { "s" }, d.env),
                fix: "run at least 2 replicas".to_owned(),
                loc: d.replicas_loc,
                objects: objects.clone(),
            });
        }
        let missing: Vec<&str> = [("readiness", !d.readiness), ("liveness", !d.liveness)].into_iter().filter_map(|(n, m)| m.then_some(n)).collect();
        if !missing.is_empty() {
            out.push(Located {
                rule: catalogue::rule(ck::PROD_PROBES.id).unwrap_or(catalogue::SERVICE_NO_POOL),
                message: format!("Deployment {}/{} has no {} probe in production environment {}", d.namespace, d.name, missing.join(" and no "), d.env),
                fix: "add a readinessProbe and a livenessProbe to the container".to_owned(),
                loc: d.containers_loc,
                objects,
            });
        }
    }
    for s in &facts.secrets {
        if let Err(reason) = &s.parsed {
            out.push(Located {
                rule: catalogue::TLS_KEY,
                message: format!("TLS Secret {}/{}: {reason}", s.namespace, s.name),
                fix: "store the certificate chain (leaf first) in tls.crt and its own private key in tls.key".to_owned(),
                loc: if reason.starts_with("tls.key") { s.key_loc } else { s.loc },
                objects: vec![format!("certificate/{}/{}", s.env, s.name)],
            });
        }
    }
}

/// GH-GATEWAY-LABEL: Cilium copies a Gateway's spec.infrastructure.labels to its generated
/// Service (from 1.15), never its metadata.labels. A label an announcer selects that reaches
/// the Gateway only through metadata.labels — or that the generated Service lacks — leaves
/// the VIP unannounced.
fn gateway_labels(facts: &Facts, out: &mut Vec<Located>) {
    for g in &facts.gateways {
        let generated_name = format!("cilium-gateway-{}", g.name);
        let intended = {
            let mut all = g.labels.clone();
            all.extend(g.infrastructure.clone());
            all.insert("io.kubernetes.service.namespace".to_owned(), g.namespace.clone());
            all.insert("io.kubernetes.service.name".to_owned(), generated_name.clone());
            all
        };
        let generated = facts.generated.get(&(g.namespace.clone(), generated_name.clone()));
        let actual = {
            let mut labels = match generated {
                Some((labels, _)) => labels.clone(),
                None => g.infrastructure.clone(),
            };
            labels.insert("io.kubernetes.service.namespace".to_owned(), g.namespace.clone());
            labels.insert("io.kubernetes.service.name".to_owned(), generated_name.clone());
            labels
        };
        let missed: Vec<_> = facts.announcers.iter().filter(|a| selects(&a.selector, &intended) && !selects(&a.selector, &actual)).collect();
        let Some(announcer) = missed.first() else { continue };
        let label = announcer
            .selector
            .as_ref()
            .and_then(|s| s.labels.iter().find(|(k, v)| intended.get(k) == Some(v) && actual.get(k) != Some(v)))
            .cloned()
            .unwrap_or_default();
        let how = if announcer.l2 { "L2 announcement policy" } else { "BGP advertisement" };
        let objects = vec![format!("application/{}", g.app), format!("environment/{}", g.env)];
        let rule = catalogue::rule(ck::GATEWAY_LABEL.id).unwrap_or(catalogue::SERVICE_NO_POOL);
        match generated {
            Some((_, loc)) => out.push(Located {
                rule,
                message: format!(
                    "Service {}/{generated_name}, which Cilium generated for Gateway {}, lacks the label {}={} that the Gateway carries, so the {how} {} does not announce its VIP",
                    g.namespace, g.name, label.0, label.1, announcer.name
                ),
                fix: format!("label the generated Service {}={} (Gatehouse's label fix does this), or upgrade to Cilium 1.15 or later and set the label in the Gateway's spec.infrastructure.labels", label.0, label.1),
                loc: *loc,
                objects,
            }),
            None => out.push(Located {
                rule,
                message: format!(
                    "Gateway {}/{} carries {}={} in metadata.labels only; Cilium does not copy metadata.labels to the generated Service {generated_name}, so the {how} {} does not announce its VIP",
                    g.namespace, g.name, label.0, label.1, announcer.name
                ),
                fix: format!("add {}: \"{}\" under spec.infrastructure.labels (Cilium 1.15 and later copy it to {generated_name})", label.0, label.1),
                loc: g.label_locs.get(&label.0).copied().unwrap_or(g.loc),
                objects,
            }),
        }
    }
}


/// With `--plan`: VIPs, hostnames and certificates where the plan puts them.
fn plan_drift(facts: &Facts, reference: &Plan, out: &mut Vec<Located>) {
    let env_named = |name: &str| EnvironmentName::parse(name).ok().and_then(|n| reference.environment(&n).map(|_| n));
    for t in &facts.targets {
        for (address, loc) in &t.addresses {
            let Some(env) = env_named(&t.env) else {
                out.push(Located {
                    rule: catalogue::PLAN_VIP,
                    message: format!("{} asks for VIP {address} in environment {}, which the plan does not have", t.what, t.env),
                    fix: "label the object with its environment (see --environment-label), or add the environment to the plan".to_owned(),
                    loc: *loc,
                    objects: vec![format!("vip/{address}")],
                });
                continue;
            };
            let pools: Vec<&VipPool> = reference.pools_of(&env).collect();
            if !pools.iter().any(|p| p.contains(address)) {
                out.push(Located {
                    rule: catalogue::PLAN_VIP,
                    message: format!(
                        "{} asks for VIP {address}, which is in none of the plan's pools of {env} ({})",
                        t.what,
                        join(pools.iter().map(|p| format!("{} {}", p.name, join(p.blocks.iter().map(ToString::to_string)))))
                    ),
                    fix: format!("use an address the plan allocates in {env}, or change the plan first"),
                    loc: *loc,
                    objects: vec![format!("vip/{address}"), format!("environment/{env}")],
                });
            }
        }
    }
    let mut planned_hosts: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for a in &reference.applications {
        for (env, e) in &a.environments {
            for h in &e.hostnames {
                planned_hosts.entry(h.to_string()).or_default().push((env.to_string(), a.name.to_string()));
            }
        }
    }
    for r in &facts.routes {
        for (host, loc) in &r.hostnames {
            let places = planned_hosts.get(host).cloned().unwrap_or_default();
            if places.iter().any(|(env, _)| *env == r.env) {
                continue;
            }
            let message = if places.is_empty() {
                format!("HTTPRoute hostname {host} in environment {} is in no application of the plan", r.env)
            } else {
                format!("HTTPRoute hostname {host} is routed in environment {}, but the plan puts it in {}", r.env, join(places.iter().map(|(e, a)| format!("{a} in {e}"))))
            };
            out.push(Located {
                rule: catalogue::PLAN_HOSTNAME,
                message,
                fix: "route the hostname in the environment the plan gives it, or change the plan first".to_owned(),
                loc: *loc,
                objects: vec![format!("environment/{}", r.env)],
            });
        }
    }
    for g in &facts.gateways {
        let planned = reference
            .application(&g.app)
            .and_then(|a| EnvironmentName::parse(&g.env).ok().and_then(|n| a.environments.get(&n)))
            .and_then(|e| e.certificate.as_ref());
        for (_, name, loc) in &g.certificates {
            match planned {
                Some(planned) if planned.as_str() == name => {}
                _ => out.push(Located {
                    rule: catalogue::PLAN_CERTIFICATE,
                    message: match planned {
                        Some(planned) => format!("Gateway {}/{} terminates with Secret {name}, but the plan gives {} in {} the certificate {planned}", g.namespace, g.name, g.app, g.env),
                        None => format!("Gateway {}/{} terminates with Secret {name}, but the plan has no certificate for application {} in {}", g.namespace, g.name, g.app, g.env),
                    },
                    fix: "refer to the certificate the plan names, or change the plan first".to_owned(),
                    loc: *loc,
                    objects: vec![format!("application/{}", g.app), format!("environment/{}", g.env)],
                }),
            }
        }
    }
}

fn join<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|s| s.as_ref().to_owned()).collect::<Vec<_>>().join(", ")
}
