//! Drift between the IP plan and the cluster, both ways: CiliumLoadBalancerIPPools the plan
//! does not have, the plan's pools the cluster does not have or has with other blocks, and
//! VIPs LB-IPAM assigned that the plan does not record, the plan's VIPs no Service holds, and
//! an application's fixed VIP its Gateway's Service does not have. Comparing is a pure
//! function of the plan and the objects read from the cluster.
use std::collections::BTreeMap;

use serde_json::Value;

use super::vips::{OWNING_GATEWAY_LABEL, assigned_address, labels_of, selects};
pub use crate::api::cluster::{AddressDrift, Drift, PoolDrift};
use crate::domain::{EnvironmentName, IpAddr, Plan, PoolBlock, PoolBlockInput, VipRequest};

/// `cluster_only`, `plan_only` or `different`.
type DriftKind = &'static str;

/// The blocks of a CiliumLoadBalancerIPPool, as the plan writes them; blocks that do not
/// parse are kept as written so that they still show as a difference.
fn cluster_blocks(pool: &Value) -> Vec<String> {
    let blocks = pool.pointer("/spec/blocks").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out: Vec<String> = blocks
        .iter()
        .map(|block| {
            let text = |key: &str| block.get(key).and_then(Value::as_str).map(str::to_owned);
            let input = PoolBlockInput { cidr: text("cidr"), start: text("start"), stop: text("stop") };
            input.parse().map(|b| b.to_string()).unwrap_or_else(|_| block.to_string())
        })
        .collect();
    out.sort();
    out
}

fn sorted_blocks(blocks: &[PoolBlock]) -> Vec<String> {
    let mut out: Vec<String> = blocks.iter().map(ToString::to_string).collect();
    out.sort();
    out
}

fn text(object: &Value, pointer: &str) -> String {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Compares the plan with the cluster's pools and Services (as JSON objects).
pub fn compare(plan: &Plan, cluster_pools: &[Value], services: &[Value]) -> Drift {
    let mut drift = Drift::default();
    let in_cluster: BTreeMap<String, &Value> = cluster_pools.iter().map(|p| (text(p, "/metadata/name"), p)).collect();
    for pool in &plan.pools {
        let plan_blocks = sorted_blocks(&pool.blocks);
        let (kind, cluster, message): (DriftKind, Vec<String>, String) = match in_cluster.get(pool.name.as_str()) {
            None => ("plan_only", Vec::new(), format!("pool {} of {} is not in the cluster: submit an application there, or apply GET /api/v1/environments/{}/cilium.yaml", pool.name, pool.environment, pool.environment)),
            Some(found) => {
                let cluster = cluster_blocks(found);
                if cluster == plan_blocks {
                    continue;
                }
                ("different", cluster, format!("pool {} has other blocks in the cluster than in the plan: submit to apply the plan's, or change the plan to match", pool.name))
            }
        };
        drift.pools.push(PoolDrift {
            name: pool.name.to_string(),
            drift: kind.to_owned(),
            environment: Some(pool.environment.to_string()),
            plan_blocks,
            cluster_blocks: cluster,
            message,
        });
    }
    for (name, pool) in &in_cluster {
        if plan.pools.iter().any(|p| p.name.as_str() == name) {
            continue;
        }
        let environment = plan.environments.iter().find(|e| {
            let label = &e.advertisement.label;
            selects(pool.pointer("/spec/serviceSelector"), &BTreeMap::from([(label.key.to_string(), label.value.to_string())]))
        });
        drift.pools.push(PoolDrift {
            name: name.clone(),
            drift: "cluster_only".to_owned(),
            environment: environment.map(|e| e.name.to_string()),
            plan_blocks: Vec::new(),
            cluster_blocks: cluster_blocks(pool),
            message: match environment {
                Some(e) => format!("pool {name} is in the cluster but not in the plan; it serves {}: add it to the plan", e.name),
                None => format!("pool {name} is in the cluster but not in the plan, and selects no environment's advertisement label"),
            },
        });
    }

    // Who holds each VIP in the cluster, and who claims it in the plan.
    let mut held: BTreeMap<IpAddr, (String, Option<String>)> = BTreeMap::new();
    for service in services.iter().filter(|s| s.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")) {
        let Some(address) = assigned_address(service).and_then(|a| IpAddr::parse(&a).ok()) else { continue };
        let name = format!("{}/{}", text(service, "/metadata/namespace"), text(service, "/metadata/name"));
        held.insert(address, (name, labels_of(service).get(OWNING_GATEWAY_LABEL).cloned()));
    }
    let mut claimed: BTreeMap<IpAddr, String> = BTreeMap::new();
    for allocation in &plan.allocations {
        let owner = match &allocation.application {
            Some(application) => format!("allocation of application/{application} in {}", allocation.environment),
            None => format!("allocation to {} in {}", allocation.owner, allocation.environment),
        };
        claimed.insert(allocation.address, owner);
    }
    for application in &plan.applications {
        for (environment, entry) in &application.environments {
            let gateway = format!("{}-{environment}", application.name);
            let namespace = format!("{}/", plan.namespace_in(application, environment));
            let VipRequest::Address(address) = entry.vip else { continue };
            claimed.insert(address, format!("application/{} in {environment}", application.name));
            let holder = held.iter().find(|(_, (service, owner))| {
                owner.as_deref() == Some(gateway.as_str()) && service.starts_with(&namespace)
            });
            if let Some((actual, (service, _))) = holder.filter(|(actual, _)| **actual != address) {
                drift.addresses.push(AddressDrift {
                    address: address.to_string(),
                    drift: "different".to_owned(),
                    service: Some(service.clone()),
                    plan_owner: Some(format!("application/{} in {environment}", application.name)),
                    message: format!("the plan gives {} in {environment} VIP {address}, but its Gateway's Service {service} has {actual}: submit again so LB-IPAM assigns the plan's address", application.name),
                });
            }
        }
    }
    for (address, (service, _)) in &held {
        if !claimed.contains_key(address) {
            drift.addresses.push(AddressDrift {
                address: address.to_string(),
                drift: "cluster_only".to_owned(),
                service: Some(service.clone()),
                plan_owner: None,
                message: format!("{service} holds {address}, which the plan does not record: allocate it in the plan so nobody else is given it"),
            });
        }
    }
    for (address, owner) in &claimed {
        if !held.contains_key(address) {
            drift.addresses.push(AddressDrift {
                address: address.to_string(),
                drift: "plan_only".to_owned(),
                service: None,
                plan_owner: Some(owner.clone()),
                message: format!("the plan has {address} for {owner}, but no LoadBalancer Service holds it: not submitted yet, torn down, or to be released"),
            });
        }
    }
    drift
}

/// One cluster's pools and Services, and the environments that go to it.
pub struct ClusterRead {
    pub environments: Vec<EnvironmentName>,
    pub pools: Vec<Value>,
    pub services: Vec<Value>,
}

/// Reads the pools and Services of every cluster some environment of `plan` goes to.
/// Environments whose cluster is not configured are left out: the Clusters page says so.
pub async fn read(clusters: &super::Clusters, plan: &Plan) -> Result<Vec<ClusterRead>, super::failure::Failure> {
    let (placed, _) = clusters.placement(plan);
    let mut reads = Vec::new();
    for (cluster, environments) in placed.into_iter().filter(|(_, environments)| !environments.is_empty()) {
        let read = |error: kube::Error| {
            super::failure::explain(&error, &format!("cluster {}'s CiliumLoadBalancerIPPools and Services", cluster.name))
        };
        let pools = super::list_all(cluster, "cilium.io/v2", "CiliumLoadBalancerIPPool").await.map_err(read)?;
        let services = super::list_all(cluster, "v1", "Service").await.map_err(read)?;
        reads.push(ClusterRead { environments: environments.iter().map(|e| e.name.clone()).collect(), pools, services });
    }
    Ok(reads)
}

/// Compares each cluster with the part of the plan that goes to it.
pub fn compare_clusters(plan: &Plan, reads: &[ClusterRead]) -> Drift {
    let mut drift = Drift::default();
    for read in reads {
        let names: Vec<&EnvironmentName> = read.environments.iter().collect();
        let part = compare(&plan.only_environments(&names), &read.pools, &read.services);
        drift.pools.extend(part.pools);
        drift.addresses.extend(part.addresses);
    }
    drift
}

/// Reads every cluster's pools and Services and compares them with the plan.
pub async fn drift(clusters: &super::Clusters, plan: &Plan) -> Result<Drift, super::failure::Failure> {
    Ok(compare_clusters(plan, &read(clusters, plan).await?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::seed_plan;

    fn pool(name: &str, blocks: Value, advertise: &str) -> Value {
        json!({"metadata": {"name": name}, "spec": {"blocks": blocks,
               "serviceSelector": {"matchLabels": {"gatehouse.io/advertise": advertise}}}})
    }

    fn service(namespace: &str, name: &str, gateway: Option<&str>, address: &str) -> Value {
        let mut labels = json!({});
        if let Some(gateway) = gateway {
            labels[OWNING_GATEWAY_LABEL] = json!(gateway);
        }
        json!({"metadata": {"namespace": namespace, "name": name, "labels": labels},
               "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": address}]}}})
    }

    #[test]
    fn drift_is_reported_both_ways() {
        let plan = seed_plan();
        let pools = [
            pool("dev-vips", json!([{"cidr": "192.168.101.192/28"}]), "dev"),
            pool("prod-vips", json!([{"start": "192.168.101.240", "stop": "192.168.101.245"}]), "prod"),
            pool("legacy", json!([{"cidr": "192.168.101.160/29"}]), "prod"),
        ];
        let services = [
            service("cd-service", "cilium-gateway-api-prod", Some("api-prod"), "192.168.101.241"),
            service("cd-service", "cilium-gateway-api-dev", Some("api-dev"), "192.168.101.193"),
            service("billing", "old", None, "192.168.101.161"),
        ];
        let drift = compare(&plan, &pools, &services);
        let pools: Vec<(&str, &str, Option<&str>)> =
            drift.pools.iter().map(|p| (p.name.as_str(), p.drift.as_str(), p.environment.as_deref())).collect();
        assert_eq!(pools, [("prod-vips", "different", Some("prod")), ("legacy", "cluster_only", Some("prod"))]);
        let addresses: Vec<(&str, &str)> = drift.addresses.iter().map(|a| (a.address.as_str(), a.drift.as_str())).collect();
        assert_eq!(
            addresses,
            [
                ("192.168.101.240", "different"),
                ("192.168.101.161", "cluster_only"),
                ("192.168.101.193", "cluster_only"),
                ("192.168.101.241", "cluster_only"),
                ("192.168.101.240", "plan_only"),
            ]
        );
        assert_eq!(drift.addresses[0].service.as_deref(), Some("cd-service/cilium-gateway-api-prod"));
    }

    #[test]
    fn each_cluster_is_compared_with_the_environments_that_go_to_it() {
        let plan = seed_plan();
        let dev = || EnvironmentName::parse("dev").unwrap();
        let prod = || EnvironmentName::parse("prod").unwrap();
        let reads = [
            ClusterRead { environments: vec![dev()], pools: vec![pool("dev-vips", json!([{"cidr": "192.168.101.192/28"}]), "dev")], services: vec![] },
            ClusterRead {
                environments: vec![prod()],
                pools: vec![pool("prod-vips", json!([{"start": "192.168.101.240", "stop": "192.168.101.250"}]), "prod")],
                services: vec![service("cd-service", "cilium-gateway-api-prod", Some("api-prod"), "192.168.101.240")],
            },
        ];
        assert_eq!(compare_clusters(&plan, &reads), Drift::default(), "each cluster holds its environment's pool");

        // Prod's pool in dev's cluster is dev's cluster's own; prod's cluster lacks it.
        let swapped = [
            ClusterRead { environments: vec![dev()], pools: vec![reads[0].pools[0].clone(), reads[1].pools[0].clone()], services: vec![] },
            ClusterRead { environments: vec![prod()], pools: vec![], services: reads[1].services.clone() },
        ];
        let drift = compare_clusters(&plan, &swapped);
        let pools: Vec<(&str, &str)> = drift.pools.iter().map(|p| (p.name.as_str(), p.drift.as_str())).collect();
        assert_eq!(pools, [("prod-vips", "cluster_only"), ("prod-vips", "plan_only")]);
    }

    #[test]
    fn a_cluster_matching_the_plan_has_no_drift() {
        let plan = seed_plan();
        let pools = [
            pool("dev-vips", json!([{"cidr": "192.168.101.192/28"}]), "dev"),
            pool("prod-vips", json!([{"start": "192.168.101.240", "stop": "192.168.101.250"}]), "prod"),
        ];
        let services = [service("cd-service", "cilium-gateway-api-prod", Some("api-prod"), "192.168.101.240")];
        assert_eq!(compare(&plan, &pools, &services), Drift::default());
    }
}
