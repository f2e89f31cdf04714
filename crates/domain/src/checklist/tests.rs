//! Unit and property tests of the rules.
use proptest::prelude::*;

use super::*;
use crate::model::{Allocation, ArpSettings, BgpPeer, BgpSettings};
use crate::names::{Asn, LabelValue};
use crate::net::naive_overlaps;
use crate::seed::{seed_plan, synthetic_plan};
use crate::placement::NamespaceTemplate;

const NOW: i64 = 1_780_000_000;
const DAY: i64 = 86_400;

fn env(s: &str) -> EnvironmentName {
    EnvironmentName::parse(s).unwrap()
}

fn ip(s: &str) -> IpAddr {
    IpAddr::parse(s).unwrap()
}

fn cert(environment: &str, sans: &[&str], fingerprint: &str, key: &str) -> CertificateInfo {
    CertificateInfo {
        environment: env(environment),
        name: K8sSubdomain::parse("api-tls").unwrap(),
        sans: sans.iter().map(|s| (*s).to_owned()).collect(),
        not_before: NOW - DAY,
        not_after: NOW + 365 * DAY,
        fingerprint_sha256: fingerprint.to_owned(),
        public_key_fingerprint: key.to_owned(),
        secret_ref: None,
        owners: Default::default(),
    }
}

/// The seed plan with its two certificates uploaded: passes every rule.
fn good() -> Plan {
    let mut plan = seed_plan();
    plan.certificates = Some(vec![
        cert("dev", &["api-dev.mdhlabs.com"], "f-dev", "k-dev"),
        cert("prod", &["api.mdhlabs.com"], "f-prod", "k-prod"),
    ]);
    plan
}

fn environment<'a>(plan: &'a mut Plan, name: &str) -> &'a mut Environment {
    plan.environments.iter_mut().find(|e| e.name == name).unwrap()
}

fn pool<'a>(plan: &'a mut Plan, name: &str) -> &'a mut VipPool {
    plan.pools.iter_mut().find(|p| p.name == name).unwrap()
}

fn api_in<'a>(plan: &'a mut Plan, name: &str) -> &'a mut AppEnvironment {
    plan.applications[0].environments.get_mut(&env(name)).unwrap()
}

fn certificate<'a>(plan: &'a mut Plan, environment: &str) -> &'a mut CertificateInfo {
    plan.certificates.as_mut().unwrap().iter_mut().find(|c| c.environment == environment).unwrap()
}

fn findings<'a>(report: &'a Report, rule: &RuleInfo) -> Vec<&'a Finding> {
    report.findings.iter().filter(|f| f.rule == rule.id).collect()
}

/// Runs the plan and returns the findings of `rule`, after checking the good plan is
/// quiet on it.
fn fires(plan: &Plan, rule: &RuleInfo) -> Vec<Finding> {
    let quiet = check_plan(&good(), NOW);
    assert!(findings(&quiet, rule).is_empty(), "{} fires on the good plan", rule.id);
    assert!(quiet.passed.contains(&Cow::Borrowed(rule.id)));
    let report = check_plan(plan, NOW);
    let found: Vec<Finding> = findings(&report, rule).into_iter().cloned().collect();
    assert!(!found.is_empty(), "{} does not fire: {:#?}", rule.id, report.findings);
    assert!(!report.passed.contains(&Cow::Borrowed(rule.id)));
    for f in &found {
        assert_eq!(f.severity, rule.severity);
        assert!(!f.message.is_empty() && !f.hint.is_empty() && !f.objects.is_empty());
    }
    found
}

fn set_mode(plan: &mut Plan, name: &str, mode: AdvertisementMode) {
    let e = environment(plan, name);
    e.advertisement.mode = mode;
    if mode.uses_bgp() {
        e.advertisement.bgp = Some(BgpSettings {
            local_asn: Asn::new(65_001).unwrap(),
            peers: vec![BgpPeer {
                name: K8sName::parse("frr").unwrap(),
                asn: Asn::new(65_000).unwrap(),
                address: ip("192.168.101.1"),
                platform: Platform::Hardware,
                router_id: None,
            }],
        });
    }
}

fn set_mode_keeping_peers(plan: &mut Plan, name: &str, mode: AdvertisementMode) {
    environment(plan, name).advertisement.mode = mode;
}

#[test]
fn seed_plan_passes_with_zero_errors() {
    let report = check_plan(&seed_plan(), NOW);
    assert_eq!((report.errors, report.warnings), (0, 0), "{:#?}", report.findings);
    assert_eq!(report.skipped.len(), CERTIFICATE_RULES.len(), "certificates unknown: certificate rules skipped");
    assert!(!report.passed.iter().any(|p| CERTIFICATE_RULES.contains(&p.as_ref())));
    let report = check_plan(&good(), NOW);
    assert_eq!((report.errors, report.warnings), (0, 0), "{:#?}", report.findings);
    assert_eq!(report.passed.len(), rules().len());
    assert!(report.skipped.is_empty());
}

#[test]
fn report_serialises_as_the_api() {
    let mut plan = good();
    api_in(&mut plan, "dev").certificate = None;
    let json = serde_json::to_value(check_plan(&plan, NOW)).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["errors", "findings", "passed", "warnings"]);
    let finding = &json["findings"][0];
    assert_eq!(finding["rule"], "GH-GATEWAY-TLS");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["diagram"], "cilium/gateway");
    assert_eq!(finding["objects"], serde_json::json!(["application/api", "environment/dev"]));
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back.errors, 1);
    assert!(serde_json::to_value(check_plan(&seed_plan(), NOW)).unwrap()["skipped"].is_array());
}

#[test]
fn each_applications_part_of_one_whole_plan_report_is_its_own_check() {
    for plan in [seed_plan(), synthetic_plan(4, 3, 30, NOW)] {
        let full = check_plan(&plan, NOW);
        for application in &plan.applications {
            let name = application.name.as_str();
            assert_eq!(application_report(&plan, &full, name), check_application(&plan, name, NOW), "{name}");
        }
    }
}

#[test]
fn rules_are_listed_with_unique_ids_and_training() {
    let diagrams = [
        "cilium/vip-pool",
        "cilium/gateway",
        "cilium/pods",
        "cilium/bgp-router",
        "cilium/l2-segment",
        "cilium/httproute",
        "cilium/configmap",
        "cilium/certificate",
    ];
    let ids: BTreeSet<&str> = rules().iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), rules().len());
    for r in rules() {
        assert!(r.id.starts_with("GH-"), "{}", r.id);
        assert!(r.training.len() > 40 && !r.title.is_empty(), "{}", r.id);
        assert!(diagrams.contains(&r.diagram), "{}: {}", r.id, r.diagram);
        assert_eq!(rule_info(r.id), Some(r));
    }
}

#[test]
fn pod_cidr_distinct() {
    let mut plan = good();
    environment(&mut plan, "prod").pod_cidrs = vec![Cidr::parse("10.10.0.0/17").unwrap()];
    let found = fires(&plan, &rule::POD_CIDR_DISTINCT);
    assert_eq!(found[0].objects, ["environment/dev", "environment/prod"]);
    assert_eq!(found[0].message, "pod CIDR 10.10.0.0/16 of dev overlaps pod CIDR 10.10.0.0/17 of prod");
    assert!(findings(&check_plan(&plan, NOW), &rule::RANGE_OVERLAP).is_empty(), "one rule per pair");
}

#[test]
fn vip_distinct() {
    let mut plan = good();
    pool(&mut plan, "prod-vips").blocks.push(PoolBlock::parse("192.168.101.200-192.168.101.201").unwrap());
    let found = fires(&plan, &rule::VIP_DISTINCT);
    assert_eq!(found[0].objects, ["pool/dev-vips", "pool/prod-vips", "environment/dev", "environment/prod"]);
}

#[test]
fn env_namespace() {
    // The seed's dev and prod share the default cluster; dev's template keeps them apart.
    let mut plan = good();
    environment(&mut plan, "dev").namespace_template = NamespaceTemplate::default();
    let found = fires(&plan, &rule::ENV_NAMESPACE);
    assert!(
        found[0].message.contains("environments dev, prod put application api in namespace cd-service of cluster default"),
        "{}",
        found[0].message
    );
    assert!(found[0].hint.contains("{namespace}-dev"), "{}", found[0].hint);
    assert_eq!(found[0].objects, ["application/api", "environment/dev", "environment/prod"]);

    // Separate clusters need no template.
    environment(&mut plan, "prod").cluster = Some(K8sName::parse("prod-east").unwrap());
    assert!(findings(&check_plan(&plan, NOW), &rule::ENV_NAMESPACE).is_empty());

    let mut plan = good();
    environment(&mut plan, "dev").namespace_template =
        NamespaceTemplate::parse(&format!("{{namespace}}-{}", "d".repeat(55))).unwrap();
    let found = fires(&plan, &rule::ENV_NAMESPACE);
    assert!(found[0].message.contains("limit is 63"), "{}", found[0].message);
}

/// A copy of dev named `name` on the same cluster, with the plain `{namespace}` template
/// (prod's): added to the plan and answered.
fn copy_of_dev_with_prods_template(plan: &mut Plan, name: &str) -> Environment {
    let mut copy = environment(plan, "dev").clone();
    copy.name = env(name);
    copy.namespace_template = NamespaceTemplate::default();
    plan.environments.push(copy.clone());
    copy
}

#[test]
fn env_namespace_fix_changes_the_environment_that_is_not_production() {
    // prod and qa clash; prod sorts first, but the fix is qa's.
    let mut plan = good();
    copy_of_dev_with_prods_template(&mut plan, "qa");
    let dev = api_in(&mut plan, "dev").clone();
    plan.applications[0].environments.insert(env("qa"), dev);
    let found = fires(&plan, &rule::ENV_NAMESPACE);
    assert!(found[0].message.contains("environments prod, qa put application api"), "{}", found[0].message);
    assert_eq!(found[0].hint, "map qa to a cluster of its own, or give it a namespace template such as {namespace}-qa");
}

#[test]
fn an_environment_saved_onto_anothers_placement_is_refused_with_its_own_fix() {
    let mut plan = good();
    let staging = copy_of_dev_with_prods_template(&mut plan, "staging");
    let found = namespace_clashes(&plan, &staging);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, rule::ENV_NAMESPACE.id);
    assert_eq!(found[0].field.as_deref(), Some("namespace_template"));
    assert_eq!(
        found[0].message,
        "environment staging's namespace template {namespace} puts application api in namespace cd-service of cluster default, \
         where environment prod puts it too (the same placement as environment prod's template {namespace}); \
         the two environments would share its Deployment, Service and ConfigMap"
    );
    assert_eq!(
        found[0].hint,
        "give environment staging a namespace template of its own, such as {namespace}-staging, or map it to another cluster"
    );
    assert_eq!(found[0].objects, ["environment/staging", "environment/prod", "application/api"]);

    // A template of its own, or a cluster of its own: no clash.
    let own = |plan: &mut Plan, change: &dyn Fn(&mut Environment)| {
        let staging = plan.environments.iter_mut().find(|e| e.name.as_str() == "staging").unwrap();
        change(staging);
        staging.clone()
    };
    let templated = own(&mut plan, &|e| e.namespace_template = NamespaceTemplate::parse("{namespace}-staging").unwrap());
    assert!(namespace_clashes(&plan, &templated).is_empty());
    let elsewhere = own(&mut plan, &|e| {
        e.namespace_template = NamespaceTemplate::default();
        e.cluster = Some(K8sName::parse("east").unwrap());
    });
    assert!(namespace_clashes(&plan, &elsewhere).is_empty());

    // A different template that still lands the application on prod's namespace says so
    // without calling it the same template.
    let mut plan = good();
    environment(&mut plan, "dev").namespace_template = NamespaceTemplate::parse("cd-service").unwrap();
    let dev = environment(&mut plan, "dev").clone();
    let found = namespace_clashes(&plan, &dev);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("where environment prod puts it too;"), "{}", found[0].message);
    assert!(found[0].hint.starts_with("give environment dev "), "{}", found[0].hint);
}

#[test]
fn configmap_distinct() {
    let mut plan = good();
    let dev = api_in(&mut plan, "dev").config.clone();
    api_in(&mut plan, "prod").config = dev;
    let found = fires(&plan, &rule::CONFIGMAP_DISTINCT);
    assert!(found[0].message.contains("identical ConfigMap data in dev, prod"), "{}", found[0].message);

    let mut plan = good();
    api_in(&mut plan, "prod").config.clear();
    let found = fires(&plan, &rule::CONFIGMAP_DISTINCT);
    assert!(found[0].message.contains("none in prod"), "{}", found[0].message);

    let mut plan = good();
    api_in(&mut plan, "prod").config.clear();
    api_in(&mut plan, "dev").config.clear();
    assert!(findings(&check_plan(&plan, NOW), &rule::CONFIGMAP_DISTINCT).is_empty(), "no config at all is fine");
}

#[test]
fn tls_distinct() {
    let mut plan = good();
    certificate(&mut plan, "prod").fingerprint_sha256 = "f-dev".into();
    certificate(&mut plan, "prod").public_key_fingerprint = "k-dev".into();
    let found = fires(&plan, &rule::TLS_DISTINCT);
    assert_eq!(found.len(), 1, "a shared certificate is reported once, not also as a shared key");
    assert!(found[0].message.ends_with("are the same certificate"), "{}", found[0].message);
    assert!(found[0].objects.contains(&"application/api".to_owned()));

    let mut plan = good();
    certificate(&mut plan, "prod").public_key_fingerprint = "k-dev".into();
    let found = fires(&plan, &rule::TLS_DISTINCT);
    assert!(found[0].message.ends_with("share one private key"), "{}", found[0].message);
}

#[test]
fn hostname_distinct() {
    let mut plan = good();
    api_in(&mut plan, "prod").hostnames = vec![Hostname::parse("api-dev.mdhlabs.com").unwrap()];
    let found = fires(&plan, &rule::HOSTNAME_DISTINCT);
    assert!(found[0].message.starts_with("api-dev.mdhlabs.com is routed in dev, prod"), "{}", found[0].message);

    let mut plan = good();
    api_in(&mut plan, "dev").hostnames = vec![Hostname::parse("*.mdhlabs.com").unwrap()];
    let found = fires(&plan, &rule::HOSTNAME_DISTINCT);
    assert_eq!(found[0].message, "*.mdhlabs.com of api in dev covers api.mdhlabs.com of api in prod");
}

#[test]
fn gateway_tls() {
    let mut plan = good();
    api_in(&mut plan, "prod").hostnames.clear();
    let found = fires(&plan, &rule::GATEWAY_TLS);
    assert!(found[0].message.contains("in prod has no hostname"), "{}", found[0].message);
}

#[test]
fn range_overlap() {
    let mut plan = good();
    environment(&mut plan, "dev").service_cidr = Cidr::parse("10.20.0.0/16").unwrap();
    let found = fires(&plan, &rule::RANGE_OVERLAP);
    assert_eq!(found[0].message, "service CIDR 10.20.0.0/16 of dev overlaps pod CIDR 10.20.0.0/16 of prod");
    assert_eq!(found[0].diagram, "cilium/pods");

    let mut plan = good();
    pool(&mut plan, "dev-vips").blocks.push(PoolBlock::parse("10.96.0.0/28").unwrap());
    let found = fires(&plan, &rule::RANGE_OVERLAP);
    assert_eq!(found[0].objects, ["environment/dev", "pool/dev-vips"]);
    assert_eq!(found[0].diagram, "cilium/vip-pool");

    // A node subnet of another environment that the pool's environment does not share.
    let mut plan = good();
    environment(&mut plan, "prod").node_subnets.push(Cidr::parse("172.16.0.0/24").unwrap());
    pool(&mut plan, "dev-vips").blocks.push(PoolBlock::parse("172.16.0.64/28").unwrap());
    let found = fires(&plan, &rule::RANGE_OVERLAP);
    assert!(found[0].message.contains("node subnet 172.16.0.0/24 of prod"), "{}", found[0].message);
}

#[test]
fn vip_duplicate() {
    let mut plan = good();
    plan.allocations.push(Allocation {
        address: ip("192.168.101.240"),
        pool_id: 2,
        environment: env("prod"),
        owner: "team-a".into(),
        application: Some(K8sName::parse("api").unwrap()),
    });
    assert!(findings(&check_plan(&plan, NOW), &rule::VIP_DUPLICATE).is_empty(), "api's own allocation");
    plan.allocations.push(Allocation {
        address: ip("192.168.101.240"),
        pool_id: 2,
        environment: env("prod"),
        owner: "team-b".into(),
        application: Some(K8sName::parse("web").unwrap()),
    });
    let found = fires(&plan, &rule::VIP_DUPLICATE);
    assert_eq!(
        found[0].objects,
        ["vip/192.168.101.240", "application/api", "application/web", "pool/prod-vips", "environment/prod"]
    );
}

#[test]
fn vip_outside_pool() {
    let mut plan = good();
    api_in(&mut plan, "prod").vip = VipRequest::Address(ip("192.168.101.200"));
    let found = fires(&plan, &rule::VIP_OUTSIDE_POOL);
    assert!(
        found[0].message.contains("none of its pools: prod-vips (192.168.101.240-192.168.101.250)"),
        "{}",
        found[0].message
    );

    let mut plan = good();
    plan.allocations.push(Allocation {
        address: ip("192.168.101.100"),
        pool_id: 1,
        environment: env("dev"),
        owner: "team-a".into(),
        application: None,
    });
    let found = fires(&plan, &rule::VIP_OUTSIDE_POOL);
    assert_eq!(found[0].objects, ["vip/192.168.101.100", "pool/dev-vips", "environment/dev"]);
}

#[test]
fn arp_vip_in_subnet() {
    let mut plan = good();
    pool(&mut plan, "dev-vips").blocks = vec![PoolBlock::parse("192.168.102.0/28").unwrap()];
    let found = fires(&plan, &rule::ARP_VIP_IN_SUBNET);
    assert_eq!(found[0].objects, ["pool/dev-vips", "environment/dev"]);
}

#[test]
fn arp_vip_node_clash() {
    let mut plan = good();
    pool(&mut plan, "dev-vips").blocks = vec![PoolBlock::parse("192.168.101.0/28").unwrap()];
    let found = fires(&plan, &rule::ARP_VIP_NODE_CLASH);
    assert_eq!(
        found[0].message,
        "block 192.168.101.0/28 of pool dev-vips contains the node 192.168.101.11, node 192.168.101.12, node 192.168.101.13, router core 192.168.101.1, network address 192.168.101.0 of 192.168.101.0/24"
    );
    let mut plan = good();
    pool(&mut plan, "prod-vips").blocks = vec![PoolBlock::parse("192.168.101.250-192.168.101.255").unwrap()];
    assert!(fires(&plan, &rule::ARP_VIP_NODE_CLASH)[0].message.contains("broadcast address 192.168.101.255"));
}

#[test]
fn arp_ipv6() {
    let mut plan = good();
    pool(&mut plan, "dev-vips").blocks.push(PoolBlock::parse("fd00:101::/120").unwrap());
    let found = fires(&plan, &rule::ARP_IPV6);
    assert_eq!(found.len(), 1);
    assert!(findings(&check_plan(&plan, NOW), &rule::ARP_VIP_IN_SUBNET).is_empty());
    set_mode(&mut plan, "dev", AdvertisementMode::Both);
    assert!(findings(&check_plan(&plan, NOW), &rule::ARP_IPV6).is_empty(), "IPv6 goes by BGP in mode both");
}

#[test]
fn bgp_peer() {
    let mut plan = good();
    set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
    assert!(findings(&check_plan(&plan, NOW), &rule::BGP_PEER).is_empty());
    environment(&mut plan, "dev").advertisement.bgp.as_mut().unwrap().peers.clear();
    let found = fires(&plan, &rule::BGP_PEER);
    assert_eq!(found[0].objects, ["environment/dev"]);
}

#[test]
fn bgp_peer_vm() {
    let mut plan = good();
    set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
    assert!(findings(&check_plan(&plan, NOW), &rule::BGP_PEER_VM).is_empty(), "FRR on hardware forwards");
    environment(&mut plan, "dev").advertisement.bgp.as_mut().unwrap().peers[0].platform = Platform::Vm;
    let found = fires(&plan, &rule::BGP_PEER_VM);
    assert_eq!(found[0].objects, ["environment/dev"]);
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(found[0].message.contains("frr (192.168.101.1) of dev runs on a virtual machine"), "{}", found[0].message);
    set_mode(&mut plan, "dev", AdvertisementMode::Arp);
    environment(&mut plan, "dev").advertisement.bgp.as_mut().unwrap().peers[0].platform = Platform::Vm;
    assert!(findings(&check_plan(&plan, NOW), &rule::BGP_PEER_VM).is_empty(), "only where BGP is used");
}

#[test]
fn bgp_router_id() {
    let mut plan = good();
    set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
    assert!(findings(&check_plan(&plan, NOW), &rule::BGP_ROUTER_ID).is_empty(), "an IPv4 router is its own id");
    fn peer(plan: &mut Plan) -> &mut BgpPeer {
        &mut environment(plan, "dev").advertisement.bgp.as_mut().unwrap().peers[0]
    }
    peer(&mut plan).address = ip("fd00:101::1");
    let found = fires(&plan, &rule::BGP_ROUTER_ID);
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(found[0].objects, ["environment/dev"]);
    assert!(found[0].message.contains("frr of dev is reached only over IPv6 (fd00:101::1)"), "{}", found[0].message);
    peer(&mut plan).router_id = Some(ip("10.255.0.1"));
    assert!(findings(&check_plan(&plan, NOW), &rule::BGP_ROUTER_ID).is_empty(), "the router id given is used");
    peer(&mut plan).router_id = None;
    set_mode_keeping_peers(&mut plan, "dev", AdvertisementMode::Arp);
    assert!(findings(&check_plan(&plan, NOW), &rule::BGP_ROUTER_ID).is_empty(), "only where BGP is used");
}

#[test]
fn bgp_vip_outside_subnet() {
    let mut plan = good();
    set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
    let found = fires(&plan, &rule::BGP_VIP_OUTSIDE_SUBNET);
    assert_eq!(found[0].severity, Severity::Warning);
    pool(&mut plan, "dev-vips").blocks = vec![PoolBlock::parse("172.16.100.0/28").unwrap()];
    let report = check_plan(&plan, NOW);
    assert!(findings(&report, &rule::BGP_VIP_OUTSIDE_SUBNET).is_empty());
    assert_eq!(report.errors, 0, "{:#?}", report.findings);
}

#[test]
fn advert_label_and_gateway_label() {
    let mut plan = good();
    environment(&mut plan, "dev").advertisement.label.value = LabelValue::default();
    let found = fires(&plan, &rule::ADVERT_LABEL);
    assert_eq!(found[0].diagram, "cilium/l2-segment", "ARP environment");
    let found = fires(&plan, &rule::GATEWAY_LABEL);
    assert_eq!(found[0].objects, ["application/api", "environment/dev"]);
    assert!(found[0].message.contains("cilium-gateway-"));
}

#[test]
fn l2_etp_local() {
    let mut plan = good();
    api_in(&mut plan, "dev").external_traffic_policy = ExternalTrafficPolicy::Local;
    fires(&plan, &rule::L2_ETP_LOCAL);
    set_mode(&mut plan, "dev", AdvertisementMode::Bgp);
    assert!(findings(&check_plan(&plan, NOW), &rule::L2_ETP_LOCAL).is_empty(), "Local is fine with BGP");
}

#[test]
fn cert_san() {
    let mut plan = good();
    certificate(&mut plan, "prod").sans = vec!["www.mdhlabs.com".into()];
    let found = fires(&plan, &rule::CERT_SAN);
    assert!(found[0].message.contains("does not cover api.mdhlabs.com"), "{}", found[0].message);
    certificate(&mut plan, "prod").sans = vec!["*.mdhlabs.com".into(), "192.168.1.1".into()];
    assert!(findings(&check_plan(&plan, NOW), &rule::CERT_SAN).is_empty(), "wildcard covers it");
}

#[test]
fn cert_expired_and_expiring() {
    let mut plan = good();
    certificate(&mut plan, "prod").not_after = NOW - 3 * DAY;
    let found = fires(&plan, &rule::CERT_EXPIRED);
    assert_eq!(found[0].message, "certificate api-tls in prod expired 3 days ago");
    assert_eq!(found[0].objects, ["certificate/prod/api-tls", "application/api", "environment/prod"]);

    let mut plan = good();
    certificate(&mut plan, "dev").not_before = NOW + 2 * 3600;
    assert!(fires(&plan, &rule::CERT_EXPIRED)[0].message.contains("not valid for another 2 hours"));

    let mut plan = good();
    certificate(&mut plan, "dev").not_after = NOW + 10 * DAY;
    let found = fires(&plan, &rule::CERT_EXPIRING);
    assert_eq!(found[0].message, "certificate api-tls in dev expires in 10 days");
    certificate(&mut plan, "dev").not_after = NOW + 31 * DAY;
    assert!(findings(&check_plan(&plan, NOW), &rule::CERT_EXPIRING).is_empty());
}

#[test]
fn cert_missing_only_when_certificates_are_known() {
    let mut plan = good();
    plan.certificates.as_mut().unwrap().retain(|c| c.environment != "prod");
    let found = fires(&plan, &rule::CERT_MISSING);
    assert_eq!(found[0].objects, ["application/api", "certificate/prod/api-tls", "environment/prod"]);
    plan.certificates = None;
    let report = check_plan(&plan, NOW);
    assert!(findings(&report, &rule::CERT_MISSING).is_empty());
    assert!(report.skipped.contains(&Cow::Borrowed(rule::CERT_MISSING.id)));
}

#[test]
fn an_unread_secret_reference_is_a_warning_not_a_mismatch() {
    let mut plan = good();
    let dev = certificate(&mut plan, "dev");
    dev.sans.clear();
    dev.fingerprint_sha256.clear();
    dev.public_key_fingerprint.clear();
    dev.not_after = 0;
    dev.secret_ref = Some(crate::certificates::SecretReference {
        namespace: K8sName::parse("cd-service").unwrap(),
        name: K8sSubdomain::parse("api-dev-tls").unwrap(),
    });
    let found = fires(&plan, &rule::CERT_UNVERIFIED);
    assert_eq!(
        found[0].message,
        "certificate api-tls in dev of application api refers to Secret cd-service/api-dev-tls, which Gatehouse has not read yet"
    );
    let report = check_plan(&plan, NOW);
    assert_eq!(report.errors, 0, "names and validity are unknown, not wrong: {:?}", report.findings);
}

#[test]
fn prod_replicas_and_probes() {
    let mut plan = good();
    plan.applications[0].replicas = 1;
    plan.applications[0].liveness_path = None;
    let found = fires(&plan, &rule::PROD_REPLICAS);
    assert_eq!(found.len(), 1, "only prod");
    assert_eq!(found[0].message, "application api runs 1 replica in production environment prod");
    let found = fires(&plan, &rule::PROD_PROBES);
    assert_eq!(found[0].message, "application api has no liveness probe in production environment prod");
    // `protected` makes an environment production whatever its name.
    environment(&mut plan, "dev").protected = true;
    assert_eq!(findings(&check_plan(&plan, NOW), &rule::PROD_REPLICAS).len(), 2);
}

#[test]
fn env_unknown() {
    let mut plan = good();
    let staging = plan.applications[0].environments[&env("dev")].clone();
    plan.applications[0].environments.insert(env("staging"), staging);
    let found = fires(&plan, &rule::ENV_UNKNOWN);
    assert_eq!(found[0].objects, ["application/api", "environment/staging"]);
    let mut plan = good();
    pool(&mut plan, "dev-vips").environment = env("qa");
    fires(&plan, &rule::ENV_UNKNOWN);
}

#[test]
fn check_application_keeps_what_concerns_the_application() {
    let mut plan = good();
    let mut web = plan.applications[0].clone();
    web.name = K8sName::parse("web").unwrap();
    web.replicas = 1;
    for e in web.environments.values_mut() {
        e.vip = VipRequest::Auto;
        for h in &mut e.hostnames {
            *h = Hostname::parse(&h.as_str().replace("api", "web")).unwrap();
        }
    }
    web.environments.remove(&env("dev"));
    plan.applications.push(web);
    certificate(&mut plan, "prod").sans.push("web.mdhlabs.com".into());
    // An environment-level problem in dev: concerns api (in dev), not web (prod only).
    environment(&mut plan, "dev").advertisement.arp = Some(ArpSettings::default());
    environment(&mut plan, "dev").pod_cidrs.push(Cidr::parse("10.97.0.0/16").unwrap());

    let all = check_plan(&plan, NOW);
    assert_eq!(findings(&all, &rule::PROD_REPLICAS).len(), 1);
    assert_eq!(findings(&all, &rule::RANGE_OVERLAP).len(), 1);

    let api = check_application(&plan, "api", NOW);
    assert!(findings(&api, &rule::PROD_REPLICAS).is_empty(), "web's finding is not api's");
    assert!(api.passed.contains(&Cow::Borrowed(rule::PROD_REPLICAS.id)));
    assert_eq!(findings(&api, &rule::RANGE_OVERLAP).len(), 1, "dev ⊃ api; prod ⊃ api");

    let web = check_application(&plan, "web", NOW);
    assert_eq!(findings(&web, &rule::PROD_REPLICAS).len(), 1);
    assert_eq!(findings(&web, &rule::RANGE_OVERLAP).len(), 1, "the overlap names prod's service CIDR");
    assert_eq!((web.errors, web.warnings), (1, 1));

    assert_eq!(check_application(&plan, "nope", NOW), Report::default());
}

#[test]
fn synthetic_plan_is_clean() {
    let plan = synthetic_plan(6, 300, 40, NOW);
    assert_eq!(plan.environments.len(), 6);
    let ranges: usize = 3 * plan.environments.len() + plan.pools.iter().map(|p| p.blocks.len()).sum::<usize>();
    assert!((290..=300).contains(&ranges), "{ranges}");
    let report = check_plan(&plan, NOW);
    assert_eq!((report.errors, report.warnings), (0, 0), "{:#?}", &report.findings[..report.findings.len().min(5)]);
}

fn arb_cidr() -> impl Strategy<Value = Cidr> {
    // A /20 of IPv4 and a sliver of IPv6 so that random ranges overlap often.
    prop_oneof![
        (0u32..4096, 20u8..=32)
            .prop_map(|(a, p)| Cidr::containing(IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + a)), p)),
        (0u128..4096, 116u8..=128)
            .prop_map(|(a, p)| Cidr::containing(IpAddr::from(std::net::Ipv6Addr::from(a)), p)),
    ]
    .prop_map(|c| c.unwrap())
}

fn arb_plan() -> impl Strategy<Value = Plan> {
    let environment = (
        proptest::collection::vec(arb_cidr(), 1..3),
        proptest::collection::vec(arb_cidr(), 1..3),
        arb_cidr(),
        proptest::collection::vec(proptest::collection::vec(arb_cidr(), 1..4), 0..3),
    );
    proptest::collection::vec(environment, 1..5).prop_map(|envs| {
        let mut plan = seed_plan();
        let template = plan.environments[0].clone();
        plan.environments.clear();
        plan.pools.clear();
        for (i, (nodes, pods, service, pools)) in envs.into_iter().enumerate() {
            let name = env(&format!("e{i}"));
            for (k, blocks) in pools.into_iter().enumerate() {
                plan.pools.push(VipPool {
                    id: Some((i * 10 + k) as i64),
                    environment: name.clone(),
                    name: K8sName::parse(&format!("p{i}-{k}")).unwrap(),
                    blocks: blocks.into_iter().map(PoolBlock::Cidr).collect(),
                });
            }
            plan.environments.push(Environment {
                name,
                node_subnets: nodes,
                pod_cidrs: pods,
                service_cidr: service,
                ..template.clone()
            });
        }
        plan
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sweep_equals_naive_on_random_plans(plan in arb_plan()) {
        let spans = plan_spans(&plan);
        let pairs = overlapping_pairs(&spans);
        prop_assert_eq!(&pairs, &naive_overlaps(&spans));
        let report = check_plan(&plan, NOW);
        let range_findings = report
            .findings
            .iter()
            .filter(|f| [rule::RANGE_OVERLAP.id, rule::POD_CIDR_DISTINCT.id, rule::VIP_DISTINCT.id].contains(&f.rule.as_ref()))
            .count();
        prop_assert!(range_findings <= pairs.len());
        prop_assert_eq!(report.errors + report.warnings, report.findings.len());
    }
}
