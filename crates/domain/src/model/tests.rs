//! Unit and property tests of the plan's parsing.
use serde_json::json;

use super::*;

/// The environment example of API.md, verbatim.
fn api_environment() -> serde_json::Value {
    json!({"name": "dev",
     "node_subnets": ["192.168.101.0/24"], "node_addresses": ["192.168.101.11", "192.168.101.12", "192.168.101.13"],
     "pod_cidrs": ["10.10.0.0/16"], "service_cidr": "10.96.0.0/16",
     "advertisement": {"mode": "arp",
                       "label": {"key": "gatehouse.io/advertise", "value": "dev"},
                       "arp": {"interfaces": ["^eth[0-9]+$"]},
                       "bgp": {"local_asn": 65001, "peers": [{"name": "frr", "asn": 65000, "address": "192.168.101.1"}]}},
     "protected": false})
}

fn errors_of(input: EnvironmentInput) -> Vec<(String, String)> {
    Environment::try_from(input).unwrap_err().into_iter().map(|e| (e.field, e.code)).collect()
}

#[test]
fn environment_parses_the_api_example_and_round_trips() {
    let env: Environment = serde_json::from_value(api_environment()).unwrap();
    assert_eq!(env.name, "dev");
    assert_eq!(env.advertisement.mode, AdvertisementMode::Arp);
    assert_eq!(env.advertisement.bgp.as_ref().unwrap().peers[0].asn.get(), 65_000);
    assert!(!env.is_production());
    let back = serde_json::to_value(&env).unwrap();
    assert_eq!(back, api_environment(), "serialises to the API shape");
    assert_eq!(Environment::try_from(EnvironmentInput::from(&env)).unwrap(), env);
}

#[test]
fn environment_collects_every_field_error() {
    let mut doc = api_environment();
    doc["name"] = json!("Dev");
    doc["pod_cidrs"] = json!(["10.10.0.5/16", "10.300.0.0/16"]);
    doc["service_cidr"] = json!("");
    doc["advertisement"]["mode"] = json!("ospf");
    doc["advertisement"]["bgp"]["peers"] = json!([
        {"name": "frr", "asn": 65000, "address": "192.168.101.1"},
        {"name": "frr", "asn": 23456, "address": "nope"}
    ]);
    let input: EnvironmentInput = serde_json::from_value(doc).unwrap();
    let errors = Environment::try_from(input).unwrap_err();
    let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
    for expected in [
        ("name", "invalid_environment_name"),
        ("pod_cidrs[0]", "invalid_cidr"),
        ("pod_cidrs[1]", "invalid_cidr"),
        ("service_cidr", "required"),
        ("advertisement.mode", "invalid_mode"),
        ("advertisement.bgp.peers[1].name", "duplicate"),
        ("advertisement.bgp.peers[1].asn", "invalid_asn"),
        ("advertisement.bgp.peers[1].address", "invalid_ip"),
    ] {
        assert!(fields.contains(&expected), "{expected:?} missing from {fields:?}");
    }
    let host_bits = errors.get("pod_cidrs[0]").unwrap();
    assert!(host_bits.message.contains("did you mean 10.10.0.0/16?"), "{}", host_bits.message);
}

#[test]
fn environment_cross_field_checks() {
    let mut input: EnvironmentInput = serde_json::from_value(api_environment()).unwrap();
    input.node_addresses.push("192.168.102.7".into());
    input.node_addresses.push("192.168.101.11".into());
    input.service_cidr = "10.10.128.0/17".into();
    input.pod_cidrs.push("192.168.0.0/16".into());
    input.advertisement.mode = "bgp".into();
    input.advertisement.bgp = None;
    let errors = errors_of(input);
    for expected in [
        ("node_addresses[3]", "outside_node_subnet"),
        ("node_addresses[4]", "duplicate"),
        ("service_cidr", "range_overlap"),
        ("advertisement.bgp", "required"),
    ] {
        assert!(
            errors.iter().any(|(f, c)| (f.as_str(), c.as_str()) == expected),
            "{expected:?} missing from {errors:?}"
        );
    }
    assert!(errors.contains(&("pod_cidrs[1]".to_owned(), "range_overlap".to_owned())), "{errors:?}");
}

#[test]
fn environment_missing_fields_are_required_errors_and_unknown_fields_are_refused() {
    let input: EnvironmentInput = serde_json::from_value(json!({"name": "dev"})).unwrap();
    let errors = errors_of(input);
    for field in ["node_subnets", "pod_cidrs", "service_cidr", "advertisement.mode", "advertisement.label.key"] {
        assert!(errors.contains(&(field.to_owned(), "required".to_owned())), "{field} in {errors:?}");
    }
    let mut doc = api_environment();
    doc["colour"] = json!("blue");
    assert!(serde_json::from_value::<EnvironmentInput>(doc.clone()).is_err());
    assert!(serde_json::from_value::<Environment>(doc).is_err());
}

#[test]
fn routers_and_peer_platforms_parse_and_round_trip() {
    let mut doc = api_environment();
    doc["client_networks"] = json!(["192.168.99.0/24"]);
    doc["routers"] = json!([{"name": "edge", "address": "192.168.99.1"}, {"name": "core", "address": "192.168.101.1"}]);
    doc["advertisement"]["bgp"]["peers"][0]["platform"] = json!("vm");
    let env: Environment = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(env.gateway_router().map(|r| r.name.as_str()), Some("core"));
    assert_eq!(env.advertisement.bgp.as_ref().unwrap().peers[0].platform, Platform::Vm);
    assert_eq!(serde_json::to_value(&env).unwrap(), doc, "routers and a vm platform are written back");
    assert_eq!(Environment::try_from(EnvironmentInput::from(&env)).unwrap(), env);

    doc["routers"] = json!([{"name": "edge", "address": "192.168.99.1"}, {"name": "edge", "address": "192.168.99.1"}, {"name": "Core", "address": "x"}]);
    doc["advertisement"]["bgp"]["peers"][0]["platform"] = json!("cloud");
    let errors = errors_of(serde_json::from_value(doc).unwrap());
    for expected in [
        ("routers[1].name", "duplicate"),
        ("routers[1].address", "duplicate"),
        ("routers[2].name", "invalid_k8s_name"),
        ("routers[2].address", "invalid_ip"),
        ("advertisement.bgp.peers[0].platform", "invalid_platform"),
    ] {
        assert!(errors.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {errors:?}");
    }
}

#[test]
fn a_router_id_is_an_ipv4_address_and_defaults_to_the_routers_ipv4_address() {
    let mut doc = api_environment();
    let env: Environment = serde_json::from_value(doc.clone()).unwrap();
    let peer = &env.advertisement.bgp.as_ref().unwrap().peers[0];
    assert_eq!((peer.router_id, peer.router_id()), (None, Some(peer.address)), "an IPv4 router is its own id");

    doc["advertisement"]["bgp"]["peers"][0]["address"] = json!("fd00:101::1");
    let env: Environment = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(env.advertisement.bgp.as_ref().unwrap().peers[0].router_id(), None, "an IPv6-only router has none");

    doc["advertisement"]["bgp"]["peers"][0]["router_id"] = json!("10.255.0.1");
    let env: Environment = serde_json::from_value(doc.clone()).unwrap();
    let peer = &env.advertisement.bgp.as_ref().unwrap().peers[0];
    assert_eq!(peer.router_id().map(|id| id.to_string()).as_deref(), Some("10.255.0.1"));
    assert_eq!(serde_json::to_value(&env).unwrap(), doc, "the router id is written back");
    assert_eq!(Environment::try_from(EnvironmentInput::from(&env)).unwrap(), env);

    for wrong in ["fd00::1", "0.0.0.0", "router"] {
        doc["advertisement"]["bgp"]["peers"][0]["router_id"] = json!(wrong);
        let errors = errors_of(serde_json::from_value(doc.clone()).unwrap());
        assert!(
            errors.iter().any(|(field, _)| field == "advertisement.bgp.peers[0].router_id"),
            "{wrong}: {errors:?}"
        );
    }
}

#[test]
fn documents_with_the_older_external_router_still_load() {
    let mut doc = api_environment();
    doc["external_router"] = json!("192.168.101.1");
    let env: Environment = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(env.routers, vec![Router { name: K8sName::parse("router").unwrap(), address: IpAddr::parse("192.168.101.1").unwrap() }]);
    assert!(serde_json::to_value(&env).unwrap().get("external_router").is_none(), "written as routers");
    doc["routers"] = json!([{"name": "core", "address": "192.168.101.1"}]);
    let errors = errors_of(serde_json::from_value(doc).unwrap());
    assert_eq!(errors, vec![("external_router".to_owned(), "duplicate".to_owned())]);
}

#[test]
fn asn_fields_accept_numbers_and_text() {
    let mut input: EnvironmentInput = serde_json::from_value(api_environment()).unwrap();
    if let Some(bgp) = input.advertisement.bgp.as_mut() {
        bgp.local_asn = Some("AS65010".into());
    }
    let env = Environment::try_from(input).unwrap();
    assert_eq!(env.advertisement.bgp.unwrap().local_asn.get(), 65_010);
}

#[test]
fn arp_node_selector_is_typed() {
    let mut doc = api_environment();
    doc["advertisement"]["arp"]["node_selector"] = json!({"node-role.kubernetes.io/worker": "", "Bad Key": "x"});
    let input: EnvironmentInput = serde_json::from_value(doc).unwrap();
    let errors = errors_of(input);
    assert_eq!(
        errors,
        vec![("advertisement.arp.node_selector.Bad Key".to_owned(), "invalid_label_key".to_owned())]
    );
}

/// The pool example of API.md, verbatim (read-only fields included).
fn api_pool() -> serde_json::Value {
    json!({"id": 1, "environment": "dev", "name": "dev-vips",
     "blocks": [{"cidr": "192.168.101.192/28"}, {"start": "192.168.101.240", "stop": "192.168.101.250"}],
     "size": 27, "allocated": 3, "reserved": 1, "free": 23})
}

#[test]
fn pool_parses_the_api_example() {
    let pool: VipPool = serde_json::from_value(api_pool()).unwrap();
    assert_eq!(pool.size(), 27);
    assert!(pool.contains(&IpAddr::parse("192.168.101.245").unwrap()));
    assert!(!pool.contains(&IpAddr::parse("192.168.101.230").unwrap()));
    let back = serde_json::to_value(&pool).unwrap();
    assert_eq!(
        back,
        json!({"id": 1, "environment": "dev", "name": "dev-vips",
               "blocks": [{"cidr": "192.168.101.192/28"}, {"start": "192.168.101.240", "stop": "192.168.101.250"}],
               "size": 27})
    );
    assert_eq!(serde_json::from_value::<VipPool>(back).unwrap(), pool);
    let blocks: Vec<PoolBlock> = serde_json::from_value(api_pool()["blocks"].clone()).unwrap();
    assert_eq!(blocks, pool.blocks);
}

#[test]
fn pool_errors() {
    let input: VipPoolInput = serde_json::from_value(json!({
        "environment": "dev", "name": "Dev VIPs",
        "blocks": [{"cidr": "192.168.101.192/28"}, {"cidr": "192.168.101.200/29"}, {}, {"cidr": "10.0.0.0/8", "start": "10.0.0.1"},
                   {"start": "10.0.0.9", "stop": "10.0.0.1"}]
    }))
    .unwrap();
    let errors: Vec<(String, String)> =
        VipPool::try_from(input).unwrap_err().into_iter().map(|e| (e.field, e.code)).collect();
    assert_eq!(
        errors,
        vec![
            ("name".to_owned(), "invalid_k8s_name".to_owned()),
            ("blocks[2]".to_owned(), "invalid_block".to_owned()),
            ("blocks[3]".to_owned(), "invalid_block".to_owned()),
            ("blocks[4]".to_owned(), "invalid_ip_range".to_owned()),
            ("blocks[1]".to_owned(), "range_overlap".to_owned()),
        ]
    );
    let empty: VipPoolInput = serde_json::from_value(json!({"environment": "dev", "name": "x"})).unwrap();
    assert_eq!(VipPool::try_from(empty).unwrap_err().get("blocks").unwrap().code, "required");
}

#[test]
fn pool_block_text_form() {
    assert_eq!(PoolBlock::parse("192.168.101.192/28").unwrap().size(), 16);
    assert_eq!(PoolBlock::parse("192.168.101.240-192.168.101.250").unwrap().size(), 11);
    assert!(matches!(PoolBlock::parse("192.168.101.240"), Err(PoolBlockError::Unrecognised { .. })));
    let block = PoolBlock::parse("fd00::/120").unwrap();
    assert_eq!(PoolBlock::parse(&block.to_string()).unwrap(), block);
}

/// The application example of API.md, verbatim.
fn api_application() -> serde_json::Value {
    json!({"name": "api", "namespace": "cd-service", "image": "registry.example/cd-service:1.4.2",
     "replicas": 3, "port": 8080,
     "readiness_path": "/actuator/health/readiness", "liveness_path": "/actuator/health/liveness",
     "environments": {
       "dev":  {"hostnames": ["api-dev.mdhlabs.com"], "paths": ["/"], "config": {"SPRING_PROFILES_ACTIVE": "dev"},
                "certificate": "api-tls", "vip": "auto"},
       "prod": {"hostnames": ["api.mdhlabs.com"], "paths": ["/"], "config": {"SPRING_PROFILES_ACTIVE": "prod"},
                "certificate": "api-tls", "vip": "192.168.101.240"}}})
}

#[test]
fn application_parses_the_api_example_and_round_trips() {
    let app: Application = serde_json::from_value(api_application()).unwrap();
    let prod = &app.environments[&EnvironmentName::parse("prod").unwrap()];
    assert_eq!(prod.vip, VipRequest::Address(IpAddr::parse("192.168.101.240").unwrap()));
    assert_eq!(prod.external_traffic_policy, ExternalTrafficPolicy::Cluster);
    assert_eq!(app.port.get(), 8080);
    assert_eq!(serde_json::to_value(&app).unwrap(), api_application());
    assert_eq!(Application::try_from(ApplicationInput::from(&app)).unwrap(), app);
}

#[test]
fn application_collects_every_field_error() {
    let mut doc = api_application();
    doc["image"] = json!("Registry.example/CD:1.4.2");
    doc["replicas"] = json!(-1);
    doc["port"] = json!("http");
    doc["readiness_path"] = json!("health");
    doc["environments"]["dev"]["hostnames"] = json!(["api_dev.mdhlabs.com", "x.mdhlabs.com", "X.mdhlabs.com"]);
    doc["environments"]["dev"]["paths"] = json!(["api"]);
    doc["environments"]["dev"]["config"] = json!({"SPRING PROFILE": "dev"});
    doc["environments"]["dev"]["vip"] = json!("next");
    doc["environments"]["prod"]["certificate"] = json!("API_TLS");
    doc["environments"]["prod"]["external_traffic_policy"] = json!("Sometimes");
    doc["environments"]["Staging"] = json!({});
    let input: ApplicationInput = serde_json::from_value(doc).unwrap();
    let errors = Application::try_from(input).unwrap_err();
    let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
    assert_eq!(
        fields,
        vec![
            ("image", "invalid_image"),
            ("replicas", "invalid_replicas"),
            ("port", "invalid_port"),
            ("readiness_path", "invalid_path"),
            ("environments.Staging", "invalid_environment_name"),
            ("environments.dev.hostnames[0]", "invalid_hostname"),
            ("environments.dev.hostnames[2]", "duplicate"),
            ("environments.dev.paths[0]", "invalid_path"),
            ("environments.dev.config.SPRING PROFILE", "invalid_config_key"),
            ("environments.dev.vip", "invalid_vip"),
            ("environments.prod.certificate", "invalid_k8s_name"),
            ("environments.prod.external_traffic_policy", "invalid_traffic_policy"),
        ]
    );
    let json = serde_json::to_value(&errors).unwrap();
    assert_eq!(json[0]["field"], "image");
    assert!(json[0]["message"].as_str().unwrap().contains("lower case"));
}

#[test]
fn application_defaults() {
    let input: ApplicationInput = serde_json::from_value(json!({
        "name": "web", "namespace": "web", "image": "nginx", "port": "80",
        "readiness_path": "", "environments": {"dev": {"hostnames": ["web.example.com"]}}
    }))
    .unwrap();
    let app = Application::try_from(input).unwrap();
    assert_eq!(app.replicas, 1);
    assert_eq!(app.readiness_path, None);
    let dev = app.environments.values().next().unwrap();
    assert_eq!(dev.vip, VipRequest::Auto);
    assert_eq!(dev.certificate, None);
    let missing_port: ApplicationInput =
        serde_json::from_value(json!({"name": "web", "namespace": "web", "image": "nginx"})).unwrap();
    assert_eq!(Application::try_from(missing_port).unwrap_err().get("port").unwrap().code, "required");
}

#[test]
fn vip_request_and_traffic_policy_serialise_like_the_api() {
    assert_eq!(serde_json::to_string(&VipRequest::Auto).unwrap(), r#""auto""#);
    assert_eq!(VipRequest::parse("AUTO").unwrap(), VipRequest::Auto);
    assert_eq!(serde_json::from_str::<VipRequest>(r#""10.0.0.1""#).unwrap().to_string(), "10.0.0.1");
    assert_eq!(serde_json::to_string(&ExternalTrafficPolicy::Local).unwrap(), r#""Local""#);
    assert_eq!(ExternalTrafficPolicy::parse("local").unwrap(), ExternalTrafficPolicy::Local);
}

proptest::proptest! {
    #[test]
    fn model_parsers_round_trip_and_never_panic(garbage in ".{0,40}", block in "[0-9a-f.:/ -]{0,40}") {
        for input in [garbage.as_str(), block.as_str()] {
            if let Ok(b) = PoolBlock::parse(input) {
                proptest::prop_assert_eq!(PoolBlock::parse(&b.to_string()).unwrap(), b);
            }
            if let Ok(v) = VipRequest::parse(input) {
                proptest::prop_assert_eq!(VipRequest::parse(&v.to_string()).unwrap(), v);
            }
            let _ = AdvertisementMode::parse(input);
            let _ = ExternalTrafficPolicy::parse(input);
        }
    }

    #[test]
    fn inputs_of_garbage_give_field_errors_not_panics(
        words in proptest::collection::vec(".{0,12}", 12),
        numbers in proptest::collection::vec(proptest::num::i64::ANY, 3),
    ) {
        let w = |i: usize| words[i].clone();
        let env = EnvironmentInput {
            name: w(0),
            node_subnets: vec![w(1)],
            node_addresses: vec![w(2)],
            pod_cidrs: vec![w(3)],
            service_cidr: w(4),
            advertisement: AdvertisementInput {
                mode: w(5),
                label: LabelInput { key: w(6), value: w(7) },
                arp: Some(ArpInput { interfaces: vec![w(8)], node_selector: BTreeMap::from([(w(9), w(10))]) }),
                bgp: Some(BgpInput {
                    local_asn: Some(NumberInput::Int(numbers[0])),
                    peers: vec![BgpPeerInput { name: w(11), asn: Some(NumberInput::Text(w(1))), address: w(2), platform: Some(w(3)), router_id: Some(w(4)) }],
                }),
            },
            routers: vec![RouterInput { name: w(4), address: w(5) }],
            ..EnvironmentInput::default()
        };
        if let Err(errors) = Environment::try_from(env) {
            proptest::prop_assert!(!errors.is_empty());
        }
        let pool = VipPoolInput {
            environment: w(0),
            name: w(1),
            blocks: vec![PoolBlockInput { cidr: Some(w(2)), ..PoolBlockInput::default() },
                         PoolBlockInput { start: Some(w(3)), stop: Some(w(4)), cidr: None }],
            ..VipPoolInput::default()
        };
        let _ = VipPool::try_from(pool);
        let app = ApplicationInput {
            name: w(0),
            namespace: w(1),
            image: w(2),
            replicas: Some(NumberInput::Int(numbers[1])),
            port: Some(NumberInput::Int(numbers[2])),
            readiness_path: Some(w(3)),
            liveness_path: None,
            environments: BTreeMap::from([(w(4), AppEnvironmentInput {
                hostnames: vec![w(5)],
                paths: vec![w(6)],
                config: BTreeMap::from([(w(7), w(8))]),
                certificate: Some(w(9)),
                vip: Some(w(10)),
                external_traffic_policy: Some(w(11)),
            })]),
        };
        let _ = Application::try_from(app);
    }
}

#[test]
fn plan_round_trips_through_json() {
    let plan = crate::seed::seed_plan();
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
}
