//! The seed example: the `dev` and `prod` environments on one node subnet, their VIP pools,
//! and the `api` application. Used by the server's `--demo`, the diagrams and the tests.
//!
//! Dev and prod share one cluster (the default one): prod puts an application in its own
//! namespace, dev in `<namespace>-dev`.
//!
//! Clients on 192.168.99.0/24 reach the node subnet through two routers: `edge` (on the
//! client network) and `core` (the node subnet's gateway, 192.168.101.1). Dev announces its
//! VIPs by ARP; prod by ARP and by BGP to FRR on `core`, a hardware router.

use serde_json::json;

use super::model::{Application, Environment, Plan, VipPool};

fn environment(name: &str, pod_cidr: &str, service_cidr: &str, protected: bool) -> Environment {
    let mut document = json!({
        "name": name,
        "node_subnets": ["192.168.101.0/24"],
        "node_addresses": ["192.168.101.11", "192.168.101.12", "192.168.101.13"],
        "pod_cidrs": [pod_cidr],
        "service_cidr": service_cidr,
        "advertisement": {
            "mode": "arp",
            "label": {"key": "gatehouse.io/advertise", "value": name},
            "arp": {"interfaces": ["^eth[0-9]+$"]}
        },
        "protected": protected,
        "client_networks": ["192.168.99.0/24"],
        "routers": [{"name": "edge", "address": "192.168.99.1"}, {"name": "core", "address": "192.168.101.1"}]
    });
    // Both environments run on the same three nodes: one cluster, so dev's objects get
    // namespaces of their own.
    if !protected {
        document["namespace_template"] = json!("{namespace}-dev");
    }
    if protected {
        document["advertisement"]["mode"] = json!("both");
        document["advertisement"]["bgp"] =
            json!({"local_asn": 65001, "peers": [{"name": "frr", "asn": 65000, "address": "192.168.101.1"}]});
    }
    // The document is a constant of this file; the seed test proves it parses.
    serde_json::from_value(document).expect("the seed environment is valid")
}

/// The seed plan. Certificates are unknown (`None`) here: certificates are made when they are
/// stored (`--demo` issues one per environment at seed time), never kept in the source.
pub fn seed_plan() -> Plan {
    let pools: Vec<VipPool> = serde_json::from_value(json!([
        {"id": 1, "environment": "dev", "name": "dev-vips", "blocks": [{"cidr": "192.168.101.192/28"}]},
        {"id": 2, "environment": "prod", "name": "prod-vips",
         "blocks": [{"start": "192.168.101.240", "stop": "192.168.101.250"}]}
    ]))
    .expect("the seed pools are valid");
    let api: Application = serde_json::from_value(json!({
        "name": "api", "namespace": "cd-service", "image": "registry.example/cd-service:1.4.2",
        "replicas": 3, "port": 8080,
        "readiness_path": "/actuator/health/readiness", "liveness_path": "/actuator/health/liveness",
        "environments": {
            "dev":  {"hostnames": ["api-dev.mdhlabs.com"], "paths": ["/"],
                     "config": {"SPRING_PROFILES_ACTIVE": "dev"}, "certificate": "api-tls", "vip": "auto"},
            "prod": {"hostnames": ["api.mdhlabs.com"], "paths": ["/"],
                     "config": {"SPRING_PROFILES_ACTIVE": "prod"}, "certificate": "api-tls",
                     "vip": "192.168.101.240"}
        }
    }))
    .expect("the seed application is valid");
    Plan {
        environments: vec![
            environment("dev", "10.10.0.0/16", "10.96.0.0/16", false),
            environment("prod", "10.20.0.0/16", "10.97.0.0/16", true),
        ],
        pools,
        applications: vec![api],
        allocations: Vec::new(),
        certificates: None,
    }
}

/// A large, clean plan for benchmarks and tests: `environments` ARP environments (the first
/// is `prod`), about `ranges` address ranges in all (a node subnet, a pod CIDR and a service
/// CIDR per environment, the rest /28 pool blocks in the node subnets), and `applications`
/// applications in two environments each, with certificates valid around `now_unix`,
/// a fixed VIP and its allocation in the first. Supports up to 200 environments.
#[doc(hidden)]
pub fn synthetic_plan(environments: usize, ranges: usize, applications: usize, now_unix: i64) -> Plan {
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    use super::model::{
        Advertisement, AdvertisementMode, Allocation, AppEnvironment, ArpSettings, CertificateInfo, PoolBlock,
        VipRequest,
    };
    use super::names::{
        ConfigKey, EnvironmentName, Hostname, HttpPath, ImageRef, K8sName, K8sSubdomain, Label, LabelKey, LabelValue,
        Port,
    };
    use super::net::{Cidr, IpAddr};

    const VALID: &str = "synthetic values are valid by construction";
    let e_count = environments.clamp(1, 200);
    let v4 = |a: u32| IpAddr::from(Ipv4Addr::from(a));
    let net = |a: u32, p: u8| Cidr::new(v4(a), p).expect(VALID);
    // 10.i.0.0/16 nodes, 11.i.0.0/16 pods, 12.i.0.0/16 services; blocks 10.i.1.0/28 onwards.
    let node_base = |i: usize| 0x0A00_0000u32 + ((i as u32) << 16);
    let blocks_per_env = (ranges.saturating_sub(3 * e_count) / e_count).clamp(1, 4000);
    let block_addr = |i: usize, j: usize| node_base(i) + 256 + 16 * j as u32;
    let env_name =
        |i: usize| EnvironmentName::parse(&if i == 0 { "prod".to_owned() } else { format!("env{i}") }).expect(VALID);

    let mut plan = Plan { certificates: Some(Vec::new()), ..Plan::default() };
    for i in 0..e_count {
        let name = env_name(i);
        plan.environments.push(Environment {
            node_subnets: vec![net(node_base(i), 16)],
            node_addresses: (11..14).map(|h| v4(node_base(i) + h)).collect(),
            pod_cidrs: vec![net(0x0B00_0000 + ((i as u32) << 16), 16)],
            service_cidr: net(0x0C00_0000 + ((i as u32) << 16), 16),
            advertisement: Advertisement {
                mode: AdvertisementMode::Arp,
                label: Label {
                    key: LabelKey::parse("gatehouse.io/advertise").expect(VALID),
                    value: LabelValue::from(name.clone()),
                },
                arp: Some(ArpSettings::default()),
                bgp: None,
            },
            protected: i == 0,
            client_networks: Vec::new(),
            routers: vec![super::model::Router {
                name: K8sName::parse("gateway").expect(VALID),
                address: v4(node_base(i) + 1),
            }],
            // Each environment has its own node subnet: its own cluster.
            cluster: Some(K8sName::parse(name.as_str()).expect(VALID)),
            namespace_template: super::placement::NamespaceTemplate::default(),
            name,
        });
        for (k, chunk) in (0..blocks_per_env).collect::<Vec<_>>().chunks(100).enumerate() {
            plan.pools.push(VipPool {
                id: Some((i * 1000 + k) as i64),
                environment: env_name(i),
                name: K8sName::parse(&format!("vips-{k}")).expect(VALID),
                blocks: chunk.iter().map(|&j| PoolBlock::Cidr(net(block_addr(i, j), 28))).collect(),
            });
        }
    }
    let image = ImageRef::parse("registry.example/synthetic:1.0.0").expect(VALID);
    let certificates = plan.certificates.get_or_insert_with(Vec::new);
    for k in 0..applications {
        let name = K8sName::parse(&format!("app{k}")).expect(VALID);
        let mut envs = BTreeMap::new();
        for (role, i) in [(0, k % e_count), (1, (k + 1) % e_count)] {
            let env = env_name(i);
            let host = Hostname::parse(&format!("app{k}.{env}.example.com")).expect(VALID);
            let cert = K8sSubdomain::parse(&format!("app{k}-tls")).expect(VALID);
            // The first environment asks for a fixed VIP: block k / E, host .1 of it.
            let vip = if role == 0 {
                let j = (k / e_count) % blocks_per_env;
                let address = v4(block_addr(i, j) + 1 + (k / e_count / blocks_per_env) as u32 % 14);
                plan.allocations.push(Allocation {
                    address,
                    pool_id: (i * 1000 + j / 100) as i64,
                    environment: env.clone(),
                    owner: "synthetic".to_owned(),
                    application: Some(name.clone()),
                });
                VipRequest::Address(address)
            } else {
                VipRequest::Auto
            };
            certificates.push(CertificateInfo {
                environment: env.clone(),
                name: cert.clone(),
                sans: vec![host.to_string()],
                not_before: now_unix - 86_400,
                not_after: now_unix + 365 * 86_400,
                fingerprint_sha256: format!("cert-{k}-{i}"),
                public_key_fingerprint: format!("key-{k}-{i}"),
                secret_ref: None,
                owners: Default::default(),
            });
            let config = BTreeMap::from([(ConfigKey::parse("ENVIRONMENT").expect(VALID), env.to_string())]);
            envs.insert(
                env,
                AppEnvironment {
                    hostnames: vec![host],
                    paths: vec![HttpPath::parse("/").expect(VALID)],
                    config,
                    certificate: Some(cert),
                    vip,
                    external_traffic_policy: Default::default(),
                },
            );
        }
        plan.applications.push(Application {
            name: name.clone(),
            namespace: name,
            image: image.clone(),
            replicas: 3,
            port: Port::new(8080).expect(VALID),
            readiness_path: Some(HttpPath::parse("/ready").expect(VALID)),
            liveness_path: Some(HttpPath::parse("/live").expect(VALID)),
            environments: envs,
        });
    }
    plan
}
