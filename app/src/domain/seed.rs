//! The seed example: the `dev` and `prod` environments on one node subnet, their VIP pools,
//! and the `api` application. Used by the server's `--demo`, the diagrams and the tests.

use serde_json::json;

use super::model::{Application, Environment, Plan, VipPool};

fn environment(name: &str, pod_cidr: &str, service_cidr: &str, protected: bool) -> Environment {
    let document = json!({
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
        "external_router": "192.168.101.1"
    });
    // The document is a constant of this file; the seed test proves it parses.
    serde_json::from_value(document).expect("the seed environment is valid")
}

/// The seed plan. Certificates are unknown (`None`): the demo uploads none.
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
