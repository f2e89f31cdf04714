//! Specifications of the generated manifests: snapshots of the seed example and of BGP
//! variants, strict validation of every object against the real CRD and Kubernetes schemas,
//! the Gateway API CEL rules the validator cannot run, and the errors.

use std::path::Path;
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::*;
use crate::schema::SchemaRegistry;
use domain::{Environment, Hostname, K8sName, K8sSubdomain, seed_plan};

// =============================================================================================
// Fixtures

/// The seed plan plus two environments for the `api` application:
/// - `lab`: BGP only, VIPs outside the node subnet (a CIDR and a range), a requested VIP,
///   `externalTrafficPolicy: Local`, two hostnames (one a wildcard) and two paths;
/// - `edge`: ARP and BGP, a node selector and two interface patterns, two BGP peers.
fn variants_plan() -> Plan {
    let mut plan = seed_plan();
    let lab: Environment = parse(json!({
        "name": "lab",
        "node_subnets": ["192.168.102.0/24"],
        "node_addresses": ["192.168.102.11", "192.168.102.12", "192.168.102.13"],
        "pod_cidrs": ["10.30.0.0/16"],
        "service_cidr": "10.98.0.0/16",
        "advertisement": {
            "mode": "bgp",
            "label": {"key": "gatehouse.io/advertise", "value": "lab"},
            "bgp": {"local_asn": 65001, "peers": [{"name": "frr", "asn": 65000, "address": "192.168.102.1"}]}
        },
        "protected": false
    }));
    let edge: Environment = parse(json!({
        "name": "edge",
        "node_subnets": ["192.168.103.0/24"],
        "node_addresses": ["192.168.103.11", "192.168.103.12"],
        "pod_cidrs": ["10.40.0.0/16"],
        "service_cidr": "10.99.0.0/16",
        "advertisement": {
            "mode": "both",
            "label": {"key": "gatehouse.io/advertise", "value": "edge"},
            "arp": {"interfaces": ["^eth0$", "^ens[0-9]+$"], "node_selector": {"gatehouse.io/edge": "true"}},
            "bgp": {"local_asn": 65010, "peers": [
                {"name": "frr-a", "asn": 65000, "address": "192.168.103.1"},
                {"name": "frr-b", "asn": 65000, "address": "192.168.103.2"}
            ]}
        },
        "protected": false
    }));
    plan.environments.extend([lab, edge]);
    plan.pools.extend(parse::<Vec<domain::VipPool>>(json!([
        {"id": 3, "environment": "lab", "name": "lab-vips",
         "blocks": [{"cidr": "10.255.0.0/28"}, {"start": "10.255.1.10", "stop": "10.255.1.20"}]},
        {"id": 4, "environment": "edge", "name": "edge-vips", "blocks": [{"cidr": "192.168.103.200/29"}]}
    ])));
    let api = &mut plan.applications[0];
    api.environments.insert(
        parse(json!("lab")),
        parse(json!({
            "hostnames": ["api-lab.mdhlabs.com", "*.lab.mdhlabs.com"], "paths": ["/", "/admin"],
            "config": {"SPRING_PROFILES_ACTIVE": "lab", "FEATURE_X": "no"},
            "certificate": "api-lab-tls", "vip": "10.255.0.5", "external_traffic_policy": "Local"
        })),
    );
    api.environments.insert(
        parse(json!("edge")),
        parse(json!({
            "hostnames": ["api-edge.mdhlabs.com"], "paths": [],
            "config": {}, "certificate": "api-edge-tls", "vip": "auto"
        })),
    );
    plan
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture does not parse: {e}"))
}

fn ok<T>(result: Result<T, BundleError>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn err<T: std::fmt::Debug>(result: Result<T, BundleError>) -> BundleError {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e,
    }
}

/// The object of `kind` in the bundle (the first one).
fn object<'a>(bundle: &'a Bundle, kind: &str) -> &'a Value {
    bundle
        .objects()
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in the bundle"))
}

fn kinds(bundle: &Bundle) -> Vec<&str> {
    bundle.objects().iter().filter_map(|o| o["kind"].as_str()).collect()
}

// =============================================================================================
// The seed example

#[test]
fn application_bundle_holds_the_objects_in_apply_order() {
    let bundle = ok(application_bundle(&seed_plan(), "api", "dev"));
    assert_eq!(kinds(&bundle), ["Namespace", "ConfigMap", "Deployment", "Service", "Gateway", "HTTPRoute"]);
    for o in bundle.objects() {
        let labels = &o["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], "api", "{}", o["kind"]);
        assert_eq!(labels["app.kubernetes.io/part-of"], "api", "{}", o["kind"]);
        assert_eq!(labels["app.kubernetes.io/managed-by"], "gatehouse", "{}", o["kind"]);
        assert_eq!(labels["gatehouse.io/environment"], "dev", "{}", o["kind"]);
        if o["kind"] != "Namespace" {
            assert_eq!(o["metadata"]["namespace"], "cd-service-dev", "dev's namespace template: {}", o["kind"]);
        }
    }
}

#[test]
fn seed_deployment_spreads_three_replicas_over_the_nodes() {
    let bundle = ok(application_bundle(&seed_plan(), "api", "prod"));
    let deployment = object(&bundle, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"]["spec"];
    let preferred = &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(preferred["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(preferred["podAffinityTerm"]["labelSelector"]["matchLabels"], json!({"app.kubernetes.io/name": "api"}));
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "registry.example/cd-service:1.4.2");
    assert_eq!(container["ports"][0], json!({"name": "http", "containerPort": 8080, "protocol": "TCP"}));
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/actuator/health/readiness");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/actuator/health/liveness");
    assert_eq!(container["envFrom"][0]["configMapRef"]["name"], "api-config");
    assert_eq!(container["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], false);
    assert_eq!(object(&bundle, "ConfigMap")["data"], json!({"SPRING_PROFILES_ACTIVE": "prod"}));
}

#[test]
fn seed_service_is_internal_and_the_gateway_carries_the_advertisement_label() {
    let bundle = ok(application_bundle(&seed_plan(), "api", "prod"));
    let service = object(&bundle, "Service");
    // Only the Gateway's VIP is reachable from outside; the Service stays inside the cluster.
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert!(service["spec"].get("externalTrafficPolicy").is_none());
    assert_eq!(service["spec"]["ports"][0], json!({"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}));
    assert_eq!(service["metadata"]["labels"]["gatehouse.io/advertise"], "prod");

    let gateway = object(&bundle, "Gateway");
    assert_eq!(gateway["metadata"]["name"], "api-prod");
    assert_eq!(gateway["metadata"]["labels"]["gatehouse.io/advertise"], "prod");
    // What Cilium copies to the generated cilium-gateway-api-prod Service:
    assert_eq!(gateway["spec"]["infrastructure"]["labels"], json!({"gatehouse.io/advertise": "prod"}));
    assert_eq!(gateway["spec"]["addresses"], json!([{"type": "IPAddress", "value": "192.168.101.240"}]));
    assert_eq!(
        gateway["spec"]["listeners"],
        json!([{
            "name": "https-api-mdhlabs-com", "hostname": "api.mdhlabs.com", "port": 443, "protocol": "HTTPS",
            "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "api-tls"}]},
            "allowedRoutes": {"namespaces": {"from": "Same"}}
        }])
    );
    let route = object(&bundle, "HTTPRoute");
    assert_eq!(route["spec"]["parentRefs"], json!([{"name": "api-prod"}]));
    assert_eq!(route["spec"]["hostnames"], json!(["api.mdhlabs.com"]));
    assert_eq!(
        route["spec"]["rules"],
        json!([{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "api", "port": 80}]}])
    );
}

#[test]
fn an_automatic_vip_requests_no_address() {
    let bundle = ok(application_bundle(&seed_plan(), "api", "dev"));
    assert_eq!(object(&bundle, "Gateway")["spec"].get("addresses"), None);
}

#[test]
fn seed_dev_cilium_is_a_pool_and_an_l2_policy() {
    let bundle = ok(environment_cilium(&seed_plan(), "dev"));
    assert_eq!(kinds(&bundle), ["CiliumLoadBalancerIPPool", "CiliumL2AnnouncementPolicy"]);
    let pool = object(&bundle, "CiliumLoadBalancerIPPool");
    assert_eq!(pool["spec"]["blocks"], json!([{"cidr": "192.168.101.192/28"}]));
    assert_eq!(pool["spec"]["serviceSelector"], json!({"matchLabels": {"gatehouse.io/advertise": "dev"}}));
    let policy = object(&bundle, "CiliumL2AnnouncementPolicy");
    assert_eq!(
        policy["spec"]["nodeSelector"],
        json!({"matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}]})
    );
    assert_eq!(policy["spec"]["interfaces"], json!(["^eth[0-9]+$"]));
    assert_eq!(policy["spec"]["loadBalancerIPs"], true);
    assert_eq!(policy["spec"]["externalIPs"], false);

    let prod = ok(environment_cilium(&seed_plan(), "prod"));
    assert_eq!(
        object(&prod, "CiliumLoadBalancerIPPool")["spec"]["blocks"],
        json!([{"start": "192.168.101.240", "stop": "192.168.101.250"}])
    );
}

#[test]
fn bgp_objects_reference_each_other() {
    let plan = variants_plan();
    let bundle = ok(environment_cilium(&plan, "lab"));
    assert_eq!(
        kinds(&bundle),
        ["CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement"]
    );
    let cluster = object(&bundle, "CiliumBGPClusterConfig");
    let instance = &cluster["spec"]["bgpInstances"][0];
    assert_eq!(instance["localASN"], 65001);
    assert_eq!(
        instance["peers"],
        json!([{"name": "frr", "peerASN": 65000, "peerAddress": "192.168.102.1", "peerConfigRef": {"name": "gatehouse-lab"}}])
    );
    let peer_config = object(&bundle, "CiliumBGPPeerConfig");
    assert_eq!(peer_config["metadata"]["name"], "gatehouse-lab");
    let selector = &peer_config["spec"]["families"][0]["advertisements"]["matchLabels"];
    let advertisement = object(&bundle, "CiliumBGPAdvertisement");
    // The peer config picks the advertisement by its labels.
    for (key, value) in selector.as_object().into_iter().flatten() {
        assert_eq!(&advertisement["metadata"]["labels"][key], value, "{key}");
    }
    assert_eq!(
        advertisement["spec"]["advertisements"],
        json!([{
            "advertisementType": "Service",
            "service": {"addresses": ["LoadBalancerIP"]},
            "selector": {"matchLabels": {"gatehouse.io/advertise": "lab"}}
        }])
    );

    let both = ok(environment_cilium(&plan, "edge"));
    assert_eq!(
        kinds(&both),
        [
            "CiliumLoadBalancerIPPool",
            "CiliumL2AnnouncementPolicy",
            "CiliumBGPClusterConfig",
            "CiliumBGPPeerConfig",
            "CiliumBGPAdvertisement"
        ]
    );
    assert_eq!(
        object(&both, "CiliumL2AnnouncementPolicy")["spec"]["nodeSelector"],
        json!({"matchLabels": {"gatehouse.io/edge": "true"}})
    );
}

#[test]
fn plan_bundle_is_environments_then_applications() {
    let bundle = ok(plan_bundle(&seed_plan()));
    assert_eq!(
        kinds(&bundle),
        [
            "CiliumLoadBalancerIPPool",
            "CiliumL2AnnouncementPolicy",
            "CiliumLoadBalancerIPPool",
            "CiliumL2AnnouncementPolicy",
            "CiliumBGPClusterConfig",
            "CiliumBGPPeerConfig",
            "CiliumBGPAdvertisement",
            "Namespace",
            "ConfigMap",
            "Deployment",
            "Service",
            "Gateway",
            "HTTPRoute",
            "Namespace",
            "ConfigMap",
            "Deployment",
            "Service",
            "Gateway",
            "HTTPRoute"
        ]
    );
}

#[test]
fn tls_secret_is_a_kubernetes_io_tls_secret() {
    let namespace = K8sName::parse("cd-service").unwrap_or_else(|e| panic!("{e}"));
    let name = K8sSubdomain::parse("api-tls").unwrap_or_else(|e| panic!("{e}"));
    let secret = tls_secret(&namespace, &name, "CERT", "KEY");
    let value = serde_json::to_value(&secret).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value["type"], "kubernetes.io/tls");
    assert_eq!(value["metadata"]["namespace"], "cd-service");
    assert_eq!(value["data"], json!({"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}));
    assert_valid(&value);
}

// =============================================================================================
// Snapshots (the exact text kubectl, the router and Helm get)

#[test]
fn snapshot_seed_dev_application_bundle() {
    insta::assert_snapshot!("seed_dev_application_bundle", ok(application_bundle(&seed_plan(), "api", "dev")).to_yaml());
}

#[test]
fn snapshot_seed_prod_application_bundle() {
    insta::assert_snapshot!("seed_prod_application_bundle", ok(application_bundle(&seed_plan(), "api", "prod")).to_yaml());
}

#[test]
fn snapshot_seed_dev_environment_cilium() {
    insta::assert_snapshot!("seed_dev_environment_cilium", ok(environment_cilium(&seed_plan(), "dev")).to_yaml());
}

#[test]
fn snapshot_bgp_environment_cilium() {
    insta::assert_snapshot!("bgp_environment_cilium", ok(environment_cilium(&variants_plan(), "lab")).to_yaml());
}

#[test]
fn snapshot_both_environment_cilium() {
    insta::assert_snapshot!("both_environment_cilium", ok(environment_cilium(&variants_plan(), "edge")).to_yaml());
}

#[test]
fn snapshot_bgp_application_bundle() {
    insta::assert_snapshot!("bgp_application_bundle", ok(application_bundle(&variants_plan(), "api", "lab")).to_yaml());
}

#[test]
fn snapshot_bgp_frr_config() {
    insta::assert_snapshot!("bgp_frr_config", ok(frr_config(&variants_plan(), "lab")));
}

#[test]
fn snapshot_both_frr_config() {
    insta::assert_snapshot!("both_frr_config", ok(frr_config(&variants_plan(), "edge")));
}

#[test]
fn snapshot_seed_dev_helm_values() {
    insta::assert_snapshot!("seed_dev_helm_values", ok(helm_values(&seed_plan(), "dev")));
}

#[test]
fn snapshot_bgp_helm_values() {
    insta::assert_snapshot!("bgp_helm_values", ok(helm_values(&variants_plan(), "lab")));
}

// =============================================================================================
// Text outputs

#[test]
fn frr_accepts_only_host_routes_inside_the_pools() {
    let config = ok(frr_config(&variants_plan(), "lab"));
    for line in [
        "router bgp 65000",
        " neighbor CILIUM peer-group",
        " neighbor CILIUM remote-as 65001",
        " bgp listen range 192.168.102.0/24 peer-group CILIUM",
        "  neighbor CILIUM route-map CILIUM-IN in",
        "  maximum-paths 3",
        "ip prefix-list CILIUM-VIPS seq 10 permit 10.255.0.0/28 ge 32 le 32",
        // 10.255.1.10–20 as its minimal cover: /31, /30, /30, /32.
        "ip prefix-list CILIUM-VIPS seq 20 permit 10.255.1.10/31 ge 32 le 32",
        "ip prefix-list CILIUM-VIPS seq 30 permit 10.255.1.12/30 ge 32 le 32",
        "ip prefix-list CILIUM-VIPS seq 40 permit 10.255.1.16/30 ge 32 le 32",
        "ip prefix-list CILIUM-VIPS seq 50 permit 10.255.1.20/32",
        "route-map CILIUM-IN permit 10",
        " match ip address prefix-list CILIUM-VIPS",
        "route-map CILIUM-IN deny 100",
    ] {
        assert!(config.lines().any(|l| l == line), "missing line {line:?} in\n{config}");
    }
    assert!(config.contains("may not forward traffic into the cluster"), "the caveat comment is missing");
}

#[test]
fn frr_is_only_for_bgp_environments() {
    let error = err(frr_config(&seed_plan(), "dev"));
    assert_eq!(error.code(), "bgp_not_used");
    assert!(error.to_string().contains("FRR is only needed for BGP"), "{error}");
}

#[test]
fn frr_has_a_section_per_peer() {
    let config = ok(frr_config(&variants_plan(), "edge"));
    assert_eq!(config.matches("router bgp 65000\n").count(), 2);
    assert!(config.contains(" bgp router-id 192.168.103.1\n") && config.contains(" bgp router-id 192.168.103.2\n"));
    assert!(config.contains("  maximum-paths 2\n"));
}

/// A BGP environment of two dual-stack nodes whose router is reached only over IPv6, with
/// IPv4 and IPv6 VIPs.
fn dual_stack_plan(router_id: Option<&str>) -> Plan {
    let mut plan = seed_plan();
    let mut peer = json!({"name": "frr6", "asn": 65000, "address": "fd00:104::1"});
    if let Some(router_id) = router_id {
        peer["router_id"] = json!(router_id);
    }
    plan.environments.push(parse(json!({
        "name": "six",
        "node_subnets": ["192.168.104.0/24", "fd00:104::/64"],
        "node_addresses": ["192.168.104.11", "fd00:104::11", "192.168.104.12", "fd00:104::12"],
        "pod_cidrs": ["10.50.0.0/16"],
        "service_cidr": "10.100.0.0/16",
        "advertisement": {
            "mode": "bgp",
            "label": {"key": "gatehouse.io/advertise", "value": "six"},
            "bgp": {"local_asn": 65020, "peers": [peer]}
        },
        "protected": false
    })));
    plan.pools.extend(parse::<Vec<domain::VipPool>>(json!([
        {"id": 5, "environment": "six", "name": "six-vips", "blocks": [{"cidr": "172.16.104.0/28"}, {"cidr": "fd00:1104::/124"}]}
    ])));
    plan
}

#[test]
fn snapshot_dual_stack_frr_config() {
    insta::assert_snapshot!("dual_stack_frr_config", ok(frr_config(&dual_stack_plan(Some("10.255.104.1")), "six")));
}

#[test]
fn frr_always_names_the_router_id_and_counts_nodes_not_addresses() {
    let config = ok(frr_config(&dual_stack_plan(Some("10.255.104.1")), "six"));
    assert!(config.contains(" bgp router-id 10.255.104.1\n"), "{config}");
    // Two dual-stack nodes: two paths per family, not four.
    assert_eq!(config.matches("  maximum-paths 2\n").count(), 2, "{config}");
    assert!(!config.contains("maximum-paths 4"), "{config}");

    let e = err(frr_config(&dual_stack_plan(None), "six"));
    assert_eq!((e.code(), e.rule()), ("no_router_id", Some("GH-BGP-ROUTER-ID")));
    assert!(e.to_string().contains("peer `frr6` of environment `six` is reached only over IPv6 (fd00:104::1)"), "{e}");

    // An IPv4 router is its own id unless another is given.
    let config = ok(frr_config(&variants_plan(), "lab"));
    assert!(config.contains(" bgp router-id 192.168.102.1\n"), "{config}");
}

#[test]
fn helm_values_follow_the_advertisement_mode() {
    let read = |plan: &Plan, env: &str| -> Value {
        serde_yaml::from_str(&ok(helm_values(plan, env))).unwrap_or_else(|e| panic!("{e}"))
    };
    let dev = read(&seed_plan(), "dev");
    assert_eq!(dev["kubeProxyReplacement"], true);
    assert_eq!(dev["l2announcements"]["enabled"], true);
    assert_eq!(dev["bgpControlPlane"]["enabled"], false);
    assert_eq!(dev["gatewayAPI"]["enabled"], true);
    assert_eq!(dev["externalIPs"]["enabled"], false);
    assert_eq!(dev["ipam"]["mode"], "cluster-pool");
    assert_eq!(dev["ipam"]["operator"]["clusterPoolIPv4PodCIDRList"], json!(["10.10.0.0/16"]));
    assert_eq!(dev["ipam"]["operator"]["clusterPoolIPv4MaskSize"], 24);
    // Above the agent's default (10 qps / 20 burst), per Cilium's L2 sizing guide.
    assert!(dev["k8sClientRateLimit"]["qps"].as_u64().is_some_and(|q| q > 10));
    assert!(dev["k8sClientRateLimit"]["burst"].as_u64() > dev["k8sClientRateLimit"]["qps"].as_u64());

    let prod = read(&seed_plan(), "prod");
    assert_eq!(prod["ipam"]["operator"]["clusterPoolIPv4PodCIDRList"], json!(["10.20.0.0/16"]));

    let plan = variants_plan();
    let lab = read(&plan, "lab");
    assert_eq!((lab["l2announcements"]["enabled"].clone(), lab["bgpControlPlane"]["enabled"].clone()), (json!(false), json!(true)));
    let edge = read(&plan, "edge");
    assert_eq!((edge["l2announcements"]["enabled"].clone(), edge["bgpControlPlane"]["enabled"].clone()), (json!(true), json!(true)));
}

#[test]
fn yaml_reads_back_as_the_objects() {
    let bundle = ok(plan_bundle(&variants_plan()));
    let text = bundle.to_yaml();
    let documents: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(documents, bundle.objects());
    // A value a YAML 1.1 reader would take for a boolean stays a string.
    assert!(text.contains("FEATURE_X: \"no\"\n"), "{text}");
    assert!(text.contains("allowFirstLastIPs: \"Yes\"\n"), "{text}");
}

#[test]
fn generation_is_deterministic() {
    let plan = variants_plan();
    let first = ok(plan_bundle(&plan)).to_yaml();
    for _ in 0..3 {
        assert_eq!(ok(plan_bundle(&plan)).to_yaml(), first);
    }
    for env in ["lab", "edge"] {
        assert_eq!(ok(frr_config(&plan, env)), ok(frr_config(&plan, env)));
        assert_eq!(ok(helm_values(&plan, env)), ok(helm_values(&plan, env)));
    }
    // Listing the environments in another order changes nothing within an environment.
    let mut reversed = plan.clone();
    reversed.environments.reverse();
    assert_eq!(ok(environment_cilium(&reversed, "lab")).to_yaml(), ok(environment_cilium(&plan, "lab")).to_yaml());
    assert_eq!(ok(application_bundle(&reversed, "api", "edge")), ok(application_bundle(&plan, "api", "edge")));
}

#[test]
fn a_config_change_rolls_the_pods() {
    let hash = |plan: &Plan| {
        let bundle = ok(application_bundle(plan, "api", "dev"));
        object(&bundle, "Deployment")["spec"]["template"]["metadata"]["annotations"]["gatehouse.io/config-hash"].clone()
    };
    let plan = seed_plan();
    let mut changed = plan.clone();
    for app_env in changed.applications[0].environments.values_mut() {
        for value in app_env.config.values_mut() {
            value.push('x');
        }
    }
    assert!(hash(&plan).is_string());
    assert_ne!(hash(&plan), hash(&changed));
}

// =============================================================================================
// Errors

#[test]
fn errors_say_what_to_fix() {
    let plan = seed_plan();
    let e = err(application_bundle(&plan, "web", "dev"));
    assert_eq!((e.code(), e.is_not_found()), ("unknown_application", true));
    assert_eq!(e.to_string(), "there is no application `web`; create it first or use one of: api");

    let e = err(application_bundle(&plan, "api", "staging"));
    assert_eq!((e.code(), e.is_not_found()), ("unknown_environment", true));
    assert_eq!(e.to_string(), "there is no environment `staging`; create it first or use one of: dev, prod");

    let e = err(environment_cilium(&plan, "staging"));
    assert_eq!(e.code(), "unknown_environment");
    let e = err(helm_values(&plan, "staging"));
    assert_eq!(e.code(), "unknown_environment");

    let mut plan = variants_plan();
    plan.applications[0].environments.retain(|name, _| name.as_str() != "edge");
    let e = err(application_bundle(&plan, "api", "edge"));
    assert_eq!((e.code(), e.is_not_found()), ("not_deployed", false));
    assert_eq!(
        e.to_string(),
        "application `api` is not deployed to environment `edge`; add `edge` to its environments or use one of: dev, lab, prod"
    );
}

/// The seed plan with the `dev` environment of `api` changed by `change`.
fn with_dev(change: impl FnOnce(&mut domain::AppEnvironment)) -> Plan {
    let mut plan = seed_plan();
    if let Some((_, dev)) = plan.applications[0].environments.iter_mut().find(|(name, _)| name.as_str() == "dev") {
        change(dev);
    }
    plan
}

#[test]
fn a_gateway_needs_hostnames_a_certificate_and_a_vip_from_a_pool() {
    let e = err(application_bundle(&with_dev(|e| e.hostnames.clear()), "api", "dev"));
    assert_eq!((e.code(), e.rule()), ("no_hostnames", Some("GH-GATEWAY-TLS")));

    let e = err(application_bundle(&with_dev(|e| e.certificate = None), "api", "dev"));
    assert_eq!((e.code(), e.rule()), ("no_certificate", Some("GH-GATEWAY-TLS")));
    assert!(e.to_string().contains("set its certificate"), "{e}");

    let outside = domain::VipRequest::Address(parse(json!("192.168.101.100")));
    let e = err(application_bundle(&with_dev(|e| e.vip = outside), "api", "dev"));
    assert_eq!((e.code(), e.rule()), ("vip_outside_pool", Some("GH-VIP-OUTSIDE-POOL")));
    assert!(e.to_string().contains("dev-vips"), "{e}");

    let inside = domain::VipRequest::Address(parse(json!("192.168.101.200")));
    ok(application_bundle(&with_dev(|e| e.vip = inside), "api", "dev"));
}

#[test]
fn route_paths_the_gateway_api_rejects_are_refused() {
    let e = err(application_bundle(&with_dev(|e| e.paths = vec![parse(json!("/a//b"))]), "api", "dev"));
    assert_eq!(e.code(), "invalid_route_path");
    assert!(e.to_string().contains("contains `//`"), "{e}");

    let many: Vec<domain::HttpPath> = (0..65).map(|i| parse(json!(format!("/p{i}")))).collect();
    let e = err(application_bundle(&with_dev(|e| e.paths = many), "api", "dev"));
    assert_eq!(e.code(), "too_many_paths");

    let hosts: Vec<Hostname> = (0..17).map(|i| parse(json!(format!("h{i}.example.com")))).collect();
    let e = err(application_bundle(&with_dev(|e| e.hostnames = hosts), "api", "dev"));
    assert_eq!(e.code(), "too_many_hostnames");
}

#[test]
fn bgp_without_peers_or_pools_has_no_router_config() {
    let mut plan = variants_plan();
    plan.pools.retain(|p| p.environment.as_str() != "lab");
    assert_eq!(err(frr_config(&plan, "lab")).code(), "no_vip_pools");
    if let Some(bgp) = plan.environments.iter_mut().find(|e| e.name.as_str() == "lab").and_then(|e| e.advertisement.bgp.as_mut()) {
        bgp.peers.clear();
    }
    let e = err(frr_config(&plan, "lab"));
    assert_eq!((e.code(), e.rule()), ("no_bgp_peers", Some("GH-BGP-PEER")));
}

// =============================================================================================
// Strict schema validation

const CRDS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/crds");
const KUBERNETES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/kubernetes-schemas");

static REGISTRY: LazyLock<SchemaRegistry> = LazyLock::new(|| {
    SchemaRegistry::load(Path::new(CRDS_DIR), Path::new(KUBERNETES_DIR))
        .unwrap_or_else(|e| panic!("loading the shared schemas failed: {e}"))
});

fn describe(object: &Value) -> String {
    format!("{} {}", object["kind"].as_str().unwrap_or("?"), object["metadata"]["name"].as_str().unwrap_or("?"))
}

fn assert_valid(object: &Value) {
    if let Err(violations) = REGISTRY.validate(object) {
        let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
        panic!("{} breaks its schema:\n{}", describe(object), listed.join("\n"));
    }
}

fn assert_all_valid(bundle: &Bundle) {
    assert!(!bundle.is_empty());
    let mut failures = Vec::new();
    for object in bundle.objects() {
        if let Err(violations) = REGISTRY.validate(object) {
            for v in violations {
                failures.push(format!("{}: {v}", describe(object)));
            }
        }
    }
    assert!(failures.is_empty(), "schema violations:\n{}", failures.join("\n"));
}

#[test]
fn seed_application_bundles_match_the_schemas() {
    for env in ["dev", "prod"] {
        assert_all_valid(&ok(application_bundle(&seed_plan(), "api", env)));
    }
}

#[test]
fn arp_bgp_and_both_environments_match_the_schemas() {
    let plan = variants_plan();
    for env in ["dev", "lab", "edge"] {
        assert_all_valid(&ok(environment_cilium(&plan, env)));
    }
}

#[test]
fn the_whole_seed_plan_matches_the_schemas() {
    assert_all_valid(&ok(plan_bundle(&seed_plan())));
}

#[test]
fn the_variants_plan_matches_the_schemas() {
    assert_all_valid(&ok(plan_bundle(&variants_plan())));
}

/// Renames the field at `pointer` (a JSON pointer to an object member) to `new_name`.
fn rename(mut object: Value, pointer: &str, new_name: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {pointer}"));
    let fields = object.pointer_mut(parent).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("no {parent}"));
    let value = fields.remove(key).unwrap_or_else(|| panic!("no {pointer}"));
    fields.insert(new_name.to_owned(), value);
    object
}

fn first_violation_path(object: &Value) -> Vec<String> {
    match REGISTRY.validate(object) {
        Ok(()) => Vec::new(),
        Err(violations) => violations.into_iter().map(|v| v.path).collect(),
    }
}

#[test]
fn validation_has_teeth() {
    let app = ok(application_bundle(&seed_plan(), "api", "prod"));
    let cilium = ok(environment_cilium(&variants_plan(), "edge"));
    let broken = [
        (rename(object(&app, "Gateway").clone(), "/spec/gatewayClassName", "gatewayClass"), "spec.gatewayClass"),
        (
            rename(object(&app, "Deployment").clone(), "/spec/template/spec/containers/0/ports/0/containerPort", "port"),
            "spec.template.spec.containers[0].ports[0].port",
        ),
        (rename(object(&app, "HTTPRoute").clone(), "/spec/parentRefs", "parents"), "spec.parents"),
        (rename(object(&cilium, "CiliumLoadBalancerIPPool").clone(), "/spec/allowFirstLastIPs", "allowFirstLastIps"), "spec.allowFirstLastIps"),
        (rename(object(&cilium, "CiliumL2AnnouncementPolicy").clone(), "/spec/loadBalancerIPs", "loadBalancerIps"), "spec.loadBalancerIps"),
        (
            rename(object(&cilium, "CiliumBGPClusterConfig").clone(), "/spec/bgpInstances/0/localASN", "localAsn"),
            "spec.bgpInstances[0].localAsn",
        ),
    ];
    for (object, path) in broken {
        let paths = first_violation_path(&object);
        assert!(paths.iter().any(|p| p == path), "{}: expected a violation at {path}, got {paths:?}", describe(&object));
    }
    // A YAML 1.1 reader's boolean where the CRD wants "Yes".
    let mut pool = object(&cilium, "CiliumLoadBalancerIPPool").clone();
    pool["spec"]["allowFirstLastIPs"] = json!(true);
    assert_eq!(first_violation_path(&pool), ["spec.allowFirstLastIPs"]);
}

// =============================================================================================
// CEL rules of the Gateway API and Cilium CRDs, which the validator skips

fn label_key_is_valid(key: &str) -> bool {
    let re = regex::Regex::new(
        r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    re.is_match(key) && key.split('/').next().is_some_and(|prefix| prefix.len() < 253)
}

/// The `x-kubernetes-validations` of Gateway `spec` that concern what Gatehouse generates.
fn gateway_cel_violations(gateway: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let empty = Vec::new();
    let listeners = gateway["spec"]["listeners"].as_array().unwrap_or(&empty);
    for (i, l) in listeners.iter().enumerate() {
        let protocol = l["protocol"].as_str().unwrap_or("");
        let tls = l.get("tls");
        if ["HTTP", "TCP", "UDP"].contains(&protocol) && tls.is_some() {
            found.push(format!("listeners[{i}]: tls must not be specified for {protocol}"));
        }
        if protocol == "HTTPS" {
            match tls {
                None => found.push(format!("listeners[{i}]: an HTTPS listener needs tls")),
                Some(tls) => {
                    let mode = tls["mode"].as_str().unwrap_or("Terminate");
                    if mode != "Terminate" {
                        found.push(format!("listeners[{i}]: tls mode must be Terminate for HTTPS"));
                    }
                }
            }
        }
        if let Some(tls) = tls {
            let refs = tls["certificateRefs"].as_array().map_or(0, Vec::len);
            let options = tls["options"].as_object().map_or(0, serde_json::Map::len);
            if tls["mode"].as_str().unwrap_or("Terminate") == "Terminate" && refs == 0 && options == 0 {
                found.push(format!("listeners[{i}]: certificateRefs or options must be specified when mode is Terminate"));
            }
        }
        for (j, other) in listeners.iter().enumerate().skip(i + 1) {
            if l["name"] == other["name"] {
                found.push(format!("listeners[{j}]: listener name must be unique"));
            }
            if l["port"] == other["port"] && l["protocol"] == other["protocol"] && l.get("hostname") == other.get("hostname") {
                found.push(format!("listeners[{j}]: port, protocol and hostname must be unique"));
            }
        }
    }
    let addresses = gateway["spec"]["addresses"].as_array().unwrap_or(&empty);
    for (i, a) in addresses.iter().enumerate() {
        if addresses[..i].iter().any(|b| b["type"] == a["type"] && b["value"] == a["value"]) {
            found.push(format!("addresses[{i}]: values must be unique"));
        }
    }
    for key in gateway["spec"]["infrastructure"]["labels"].as_object().into_iter().flat_map(|m| m.keys()) {
        if !label_key_is_valid(key) {
            found.push(format!("infrastructure.labels: invalid key {key}"));
        }
    }
    found
}

/// The `x-kubernetes-validations` of HTTPRoute `spec.rules` that concern what Gatehouse generates.
fn http_route_cel_violations(route: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let empty = Vec::new();
    let rules = route["spec"]["rules"].as_array().unwrap_or(&empty);
    let mut total_matches = 0;
    for (i, rule) in rules.iter().enumerate() {
        for (j, m) in rule["matches"].as_array().unwrap_or(&empty).iter().enumerate() {
            total_matches += 1;
            let path = &m["path"];
            if ["Exact", "PathPrefix"].contains(&path["type"].as_str().unwrap_or("PathPrefix"))
                && let Some(problem) = gateway_api::route_path_problem(path["value"].as_str().unwrap_or("/"))
            {
                found.push(format!("rules[{i}].matches[{j}].path: {problem}"));
            }
        }
        for (j, b) in rule["backendRefs"].as_array().unwrap_or(&empty).iter().enumerate() {
            let core = b["group"].as_str().unwrap_or("").is_empty();
            if core && b["kind"].as_str().unwrap_or("Service") == "Service" && b.get("port").is_none() {
                found.push(format!("rules[{i}].backendRefs[{j}]: port is required for a Service"));
            }
        }
    }
    if total_matches > 128 {
        found.push("more than 128 matches".to_owned());
    }
    found
}

/// CiliumBGPAdvertisement: `service` exactly when `advertisementType` is Service.
fn bgp_advertisement_cel_violations(advertisement: &Value) -> Vec<String> {
    let empty = Vec::new();
    advertisement["spec"]["advertisements"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .enumerate()
        .filter(|(_, a)| (a["advertisementType"] == "Service") != a.get("service").is_some())
        .map(|(i, _)| format!("advertisements[{i}]: service iff advertisementType Service"))
        .collect()
}

fn cel_violations(object: &Value) -> Vec<String> {
    match object["kind"].as_str() {
        Some("Gateway") => gateway_cel_violations(object),
        Some("HTTPRoute") => http_route_cel_violations(object),
        Some("CiliumBGPAdvertisement") => bgp_advertisement_cel_violations(object),
        _ => Vec::new(),
    }
}

#[test]
fn generated_objects_keep_the_cel_rules() {
    let bundle = ok(plan_bundle(&variants_plan()));
    let checked: Vec<&Value> = bundle
        .objects()
        .iter()
        .filter(|o| ["Gateway", "HTTPRoute", "CiliumBGPAdvertisement"].contains(&o["kind"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(checked.len(), 4 * 2 + 3, "every Gateway, HTTPRoute and BGP advertisement is checked");
    for object in checked {
        assert_eq!(cel_violations(object), Vec::<String>::new(), "{}", describe(object));
    }
}

#[test]
fn several_hostnames_get_one_listener_each() {
    let hosts: Vec<Hostname> =
        ["api-dev.mdhlabs.com", "a-b.mdhlabs.com", "a.b-mdhlabs.com", "*.dev.mdhlabs.com", "api-dev.mdhlabs.com"]
            .into_iter()
            .map(|h| parse(json!(h)))
            .collect();
    let bundle = ok(application_bundle(&with_dev(|e| e.hostnames = hosts), "api", "dev"));
    let gateway = object(&bundle, "Gateway");
    assert_eq!(cel_violations(gateway), Vec::<String>::new());
    let listeners = gateway["spec"]["listeners"].as_array().map_or(0, Vec::len);
    assert_eq!(listeners, 4, "the repeated hostname gets no second listener");
    assert_eq!(gateway["spec"]["listeners"][3]["name"], "https-wildcard-dev-mdhlabs-com");
    assert_eq!(gateway["spec"]["listeners"][3]["hostname"], "*.dev.mdhlabs.com");
    assert_all_valid(&bundle);
}

#[test]
fn cel_checks_have_teeth() {
    let bundle = ok(application_bundle(&variants_plan(), "api", "lab"));
    let gateway = object(&bundle, "Gateway").clone();
    let route = object(&bundle, "HTTPRoute").clone();

    let mut same_hostname = gateway.clone();
    same_hostname["spec"]["listeners"][1]["hostname"] = gateway["spec"]["listeners"][0]["hostname"].clone();
    assert_eq!(gateway_cel_violations(&same_hostname), ["listeners[1]: port, protocol and hostname must be unique"]);

    let mut same_name = gateway.clone();
    same_name["spec"]["listeners"][1]["name"] = gateway["spec"]["listeners"][0]["name"].clone();
    assert_eq!(gateway_cel_violations(&same_name), ["listeners[1]: listener name must be unique"]);

    let mut no_tls = gateway.clone();
    if let Some(listener) = no_tls["spec"]["listeners"][0].as_object_mut() {
        listener.remove("tls");
    }
    assert_eq!(gateway_cel_violations(&no_tls), ["listeners[0]: an HTTPS listener needs tls"]);

    let mut no_refs = gateway.clone();
    no_refs["spec"]["listeners"][0]["tls"]["certificateRefs"] = json!([]);
    assert_eq!(
        gateway_cel_violations(&no_refs),
        ["listeners[0]: certificateRefs or options must be specified when mode is Terminate"]
    );

    let mut passthrough = gateway.clone();
    passthrough["spec"]["listeners"][0]["tls"]["mode"] = json!("Passthrough");
    assert_eq!(gateway_cel_violations(&passthrough), ["listeners[0]: tls mode must be Terminate for HTTPS"]);

    let mut bad_path = route.clone();
    bad_path["spec"]["rules"][0]["matches"][1]["path"]["value"] = json!("/admin/../x");
    assert_eq!(http_route_cel_violations(&bad_path), ["rules[0].matches[1].path: contains `/../`"]);

    let mut no_port = route;
    if let Some(backend) = no_port["spec"]["rules"][0]["backendRefs"][0].as_object_mut() {
        backend.remove("port");
    }
    assert_eq!(http_route_cel_violations(&no_port), ["rules[0].backendRefs[0]: port is required for a Service"]);

    let cilium = ok(environment_cilium(&variants_plan(), "lab"));
    let mut advertisement = object(&cilium, "CiliumBGPAdvertisement").clone();
    advertisement["spec"]["advertisements"][0]["advertisementType"] = json!("PodCIDR");
    assert_eq!(bgp_advertisement_cel_violations(&advertisement).len(), 1);
}

// =============================================================================================
// TLS: the Secret from an upload, or a reference to a Secret elsewhere

#[test]
fn the_bundle_carries_the_tls_secret_before_the_gateway() {
    use crate::certificates::testing::{Encoding, TestKey, Validity, self_signed};
    let key = TestKey::p256();
    let chain = self_signed(&["api-dev.mdhlabs.com"], &key, Validity::YEAR);
    let key_pem = key.pem(Encoding::Pkcs8);
    let tls = TlsPem { chain_pem: &chain, key_pem: &key_pem };
    let bundle = ok(application_bundle_with_tls(&seed_plan(), "api", "dev", Some(tls)));
    assert_eq!(kinds(&bundle), ["Namespace", "ConfigMap", "Deployment", "Service", "Secret", "Gateway", "HTTPRoute"]);
    let secret = object(&bundle, "Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["name"], "api-tls", "named as the Gateway's certificateRef");
    assert_eq!(secret["metadata"]["namespace"], "cd-service-dev");
    let gateway = object(&bundle, "Gateway");
    assert_eq!(gateway["spec"]["listeners"][0]["tls"]["certificateRefs"][0]["name"], secret["metadata"]["name"]);
    assert_all_valid(&bundle);
    assert!(bundle.to_yaml().contains("tls.key: "));
    assert!(!ok(plan_bundle(&seed_plan())).to_yaml().contains("tls.key"), "the whole plan carries no keys");
}

#[test]
fn a_secret_in_another_namespace_gets_a_reference_grant() {
    use domain::{CertificateInfo, SecretReference};
    let reference = |namespace: &str| {
        let mut plan = seed_plan();
        plan.certificates = Some(vec![CertificateInfo {
            environment: parse(json!("dev")),
            name: parse(json!("api-tls")),
            sans: Vec::new(),
            not_before: 0,
            not_after: 0,
            fingerprint_sha256: String::new(),
            public_key_fingerprint: String::new(),
            secret_ref: Some(SecretReference { namespace: parse(json!(namespace)), name: parse(json!("wildcard-tls")) }),
            owners: Default::default(),
        }]);
        ok(application_bundle(&plan, "api", "dev"))
    };
    let elsewhere = reference("certificates");
    assert_eq!(kinds(&elsewhere), ["Namespace", "ConfigMap", "Deployment", "Service", "ReferenceGrant", "Gateway", "HTTPRoute"]);
    let grant = object(&elsewhere, "ReferenceGrant");
    assert_eq!(grant["metadata"]["namespace"], "certificates");
    assert_eq!(grant["spec"]["from"], json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "cd-service-dev"}]));
    assert_eq!(grant["spec"]["to"], json!([{"group": "", "kind": "Secret", "name": "wildcard-tls"}]));
    let listener_ref = &object(&elsewhere, "Gateway")["spec"]["listeners"][0]["tls"]["certificateRefs"][0];
    assert_eq!(*listener_ref, json!({"kind": "Secret", "name": "wildcard-tls", "namespace": "certificates"}));
    assert_all_valid(&elsewhere);

    let same = reference("cd-service-dev");
    assert!(!kinds(&same).contains(&"ReferenceGrant"));
    let listener_ref = &object(&same, "Gateway")["spec"]["listeners"][0]["tls"]["certificateRefs"][0];
    assert_eq!(*listener_ref, json!({"kind": "Secret", "name": "wildcard-tls"}));
}
