//! Drift between the IP plan and the cluster, both ways: CiliumLoadBalancerIPPools the plan
//! does not have, the plan's pools the cluster does not have or has with other blocks, and
//! per address the plan's holder against the cluster's: VIPs LB-IPAM assigned that the plan
//! does not record (`cluster_only`) or holds for someone else (`conflict` — a VIP with two
//! holders), the plan's VIPs no Service holds (`plan_only`), and an application's VIP its
//! Gateway's Service does not have (`different`). Comparing is a pure function of the plan
//! and the objects read from the cluster.
use std::collections::BTreeMap;

use serde_json::Value;

use super::vips::{OWNING_GATEWAY_LABEL, assigned_address, generated_service_name, labels_of, selects};
pub use views::cluster::{AddressDrift, Drift, PoolDrift};
use crate::allocations::auto_vip_owner;
use domain::{Allocation, Application, EnvironmentName, IpAddr, Plan, PoolBlock, PoolBlockInput, VipRequest};

/// `cluster_only`, `plan_only`, `different` or (addresses) `conflict`.
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

    // Who holds each VIP in the cluster, and who holds it in the plan.
    let mut held: BTreeMap<IpAddr, (String, Option<String>)> = BTreeMap::new();
    for service in services.iter().filter(|s| s.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")) {
        let Some(address) = assigned_address(service).and_then(|a| IpAddr::parse(&a).ok()) else { continue };
        let name = format!("{}/{}", text(service, "/metadata/namespace"), text(service, "/metadata/name"));
        held.insert(address, (name, labels_of(service).get(OWNING_GATEWAY_LABEL).cloned()));
    }
    let mut claimed: BTreeMap<IpAddr, PlanHolder> = BTreeMap::new();
    for allocation in &plan.allocations {
        claimed.insert(allocation.address, PlanHolder::of_allocation(plan, allocation));
    }
    for application in &plan.applications {
        for (environment, entry) in &application.environments {
            let gateway = format!("{}-{environment}", application.name);
            let namespace = format!("{}/", plan.namespace_in(application, environment));
            let address = match entry.vip {
                VipRequest::Address(address) => {
                    claimed.insert(address, PlanHolder::of_application(plan, application, environment));
                    address
                }
                // The address held for it, when it has been submitted.
                VipRequest::Auto => {
                    let owner = auto_vip_owner(plan.namespace_in(application, environment).as_str(), &gateway);
                    let held = plan.allocations.iter().find(|a| a.owner == owner && a.environment == *environment);
                    let Some(allocation) = held else { continue };
                    allocation.address
                }
            };
            let holder = held.iter().find(|(_, (service, owner))| {
                owner.as_deref() == Some(gateway.as_str()) && service.starts_with(&namespace)
            });
            if let Some((actual, (service, _))) = holder.filter(|(actual, _)| **actual != address) {
                let plan_holder = &claimed[&address];
                drift.addresses.push(AddressDrift {
                    message: format!("the plan gives {} in {environment} VIP {address}, but its Gateway's Service {service} has {actual}: submit again so LB-IPAM assigns the plan's address", application.name),
                    ..plan_holder.drift(address, "different", Some(service.clone()))
                });
            }
        }
    }
    for (address, (service, _)) in &held {
        match claimed.get(address) {
            None => drift.addresses.push(AddressDrift {
                message: format!("{service} holds {address}, which the plan does not record: allocate it in the plan so nobody else is given it"),
                ..PlanHolder::none().drift(*address, "cluster_only", Some(service.clone()))
            }),
            Some(holder) if !holder.is(service) => drift.addresses.push(AddressDrift {
                message: format!(
                    "{service} holds {address} in the cluster, but the plan holds it for {}: two holders of one VIP — tear down or resubmit the Service's application so it asks for its own address, or release the plan's allocation if the Service's holder is right",
                    holder.owner
                ),
                ..holder.drift(*address, "conflict", Some(service.clone()))
            }),
            Some(_) => {}
        }
    }
    for (address, holder) in &claimed {
        if !held.contains_key(address) {
            drift.addresses.push(AddressDrift {
                message: format!("the plan has {address} for {}, but no LoadBalancer Service holds it: not submitted yet, torn down, or to be released", holder.owner),
                ..holder.drift(*address, "plan_only", None)
            });
        }
    }
    drift
}

/// Who holds an address in the plan, and which Service in the cluster that is, when the
/// holder is one: an application's Gateway's generated Service, or the Service an imported
/// allocation was taken from.
#[derive(Debug, Clone, Default)]
struct PlanHolder {
    /// `application/api in prod`, or an allocation's owner.
    owner: String,
    application: Option<String>,
    environment: Option<String>,
    /// `namespace/name`.
    service: Option<String>,
}

impl PlanHolder {
    fn none() -> Self {
        Self::default()
    }

    fn of_application(plan: &Plan, application: &Application, environment: &EnvironmentName) -> Self {
        let namespace = plan.namespace_in(application, environment);
        PlanHolder {
            owner: format!("application/{} in {environment}", application.name),
            application: Some(application.name.to_string()),
            environment: Some(environment.to_string()),
            service: Some(format!("{namespace}/{}", generated_service_name(&format!("{}-{environment}", application.name)))),
        }
    }

    fn of_allocation(plan: &Plan, allocation: &Allocation) -> Self {
        let deployed = allocation.application.as_ref().and_then(|name| plan.application(name.as_str())).filter(|application| {
            application.environments.contains_key(&allocation.environment)
        });
        if let Some(application) = deployed {
            return Self::of_application(plan, application, &allocation.environment);
        }
        // An imported allocation is owned by its Service, `namespace/name`; an `auto` VIP by
        // its Gateway, `Gateway namespace/name`.
        let service = match allocation.owner.strip_prefix("Gateway ").and_then(|gateway| gateway.split_once('/')) {
            Some((namespace, gateway)) => Some(format!("{namespace}/{}", generated_service_name(gateway))),
            None => allocation.owner.contains('/').then(|| allocation.owner.clone()),
        };
        PlanHolder {
            owner: match &allocation.application {
                Some(application) => format!("allocation of application/{application} in {}", allocation.environment),
                None => format!("allocation to {} in {}", allocation.owner, allocation.environment),
            },
            application: allocation.application.as_ref().map(ToString::to_string),
            environment: Some(allocation.environment.to_string()),
            service,
        }
    }

    /// Whether the cluster's holder `service` (`namespace/name`) is this holder.
    fn is(&self, service: &str) -> bool {
        self.service.as_deref() == Some(service)
    }

    fn drift(&self, address: IpAddr, kind: DriftKind, service: Option<String>) -> AddressDrift {
        AddressDrift {
            address: address.to_string(),
            drift: kind.to_owned(),
            service,
            plan_owner: (!self.owner.is_empty()).then(|| self.owner.clone()),
            plan_application: self.application.clone(),
            plan_environment: self.environment.clone(),
            plan_service: self.service.clone(),
            message: String::new(),
        }
    }
}

/// One cluster's pools and Services, and the environments that go to it.
pub struct ClusterRead {
    pub environments: Vec<EnvironmentName>,
    pub pools: Vec<Value>,
    pub services: Vec<Value>,
}

/// Reads the pools and Services of every cluster some environment of `plan` goes to, all at
/// once; the failure of each cluster that could not be read comes beside the others' reads.
/// Environments whose cluster is not configured are left out: the Clusters page says so.
pub async fn read(clusters: &super::Clusters, plan: &Plan) -> (Vec<ClusterRead>, Vec<super::failure::Failure>) {
    let (placed, _) = clusters.placement(plan);
    let asked = placed.into_iter().filter(|(_, environments)| !environments.is_empty()).map(|(cluster, environments)| async move {
        let read = |error: kube::Error| {
            super::failure::explain(&error, &format!("cluster {}'s CiliumLoadBalancerIPPools and Services", cluster.name))
        };
        let pools = super::list_all(cluster, "cilium.io/v2", "CiliumLoadBalancerIPPool").await.map_err(read)?;
        let services = super::list_all(cluster, "v1", "Service").await.map_err(read)?;
        Ok(ClusterRead { environments: environments.iter().map(|e| e.name.clone()).collect(), pools, services })
    });
    let mut reads = Vec::new();
    let mut unreadable = Vec::new();
    for answer in futures_util::future::join_all(asked).await {
        match answer {
            Ok(read) => reads.push(read),
            Err(failure) => unreadable.push(failure),
        }
    }
    (reads, unreadable)
}

/// The clusters' reads, or — when not one cluster could be read — the first failure: an
/// answer made of nothing but failures is no answer.
pub fn answered(
    (reads, unreadable): (Vec<ClusterRead>, Vec<super::failure::Failure>),
) -> Result<(Vec<ClusterRead>, Vec<String>), super::failure::Failure> {
    match unreadable.first() {
        Some(failure) if reads.is_empty() => Err(failure.clone()),
        _ => Ok((reads, unreadable.iter().map(ToString::to_string).collect())),
    }
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
    let (reads, unreadable) = answered(read(clusters, plan).await)?;
    Ok(Drift { unreadable, ..compare_clusters(plan, &reads) })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use domain::seed_plan;

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
    fn an_address_the_plan_holds_for_someone_else_has_two_holders() {
        let mut plan = seed_plan();
        let dev = EnvironmentName::parse("dev").unwrap();
        let allocation = |address: &str, owner: &str, application: Option<&str>| Allocation {
            address: IpAddr::parse(address).unwrap(),
            pool_id: 1,
            environment: dev.clone(),
            owner: owner.to_owned(),
            application: application.map(|a| domain::K8sName::parse(a).unwrap()),
        };
        plan.allocations = vec![
            allocation("192.168.101.192", "Gateway cd-service-dev/api-dev", Some("api")),
            allocation("192.168.101.193", "team-b", None),
            allocation("192.168.101.194", "default/imported", None),
        ];
        let pools = [
            pool("dev-vips", json!([{"cidr": "192.168.101.192/28"}]), "dev"),
            pool("prod-vips", json!([{"start": "192.168.101.240", "stop": "192.168.101.250"}]), "prod"),
        ];
        let services = [
            service("cd-service", "cilium-gateway-api-prod", Some("api-prod"), "192.168.101.240"),
            service("cd-service-dev", "cilium-gateway-api-dev", Some("api-dev"), "192.168.101.192"),
            service("default", "rogue", None, "192.168.101.193"),
            service("default", "imported", None, "192.168.101.194"),
        ];
        let drift = compare(&plan, &pools, &services);
        assert!(drift.pools.is_empty(), "{:?}", drift.pools);
        assert_eq!(
            drift.addresses,
            [AddressDrift {
                address: "192.168.101.193".into(),
                drift: "conflict".into(),
                service: Some("default/rogue".into()),
                plan_owner: Some("allocation to team-b in dev".into()),
                plan_application: None,
                plan_environment: Some("dev".into()),
                plan_service: None,
                message: "default/rogue holds 192.168.101.193 in the cluster, but the plan holds it for allocation to team-b in dev: two holders of one VIP — tear down or resubmit the Service's application so it asks for its own address, or release the plan's allocation if the Service's holder is right".into(),
            }]
        );

        // The application's VIP on another Service is a conflict too, naming the plan's Service.
        let services = [services[0].clone(), service("default", "copy", None, "192.168.101.192")];
        let drift = compare(&plan, &pools, &services);
        let conflict = drift.addresses.iter().find(|a| a.drift == "conflict").expect("a conflict");
        assert_eq!(conflict.address, "192.168.101.192");
        assert_eq!(conflict.plan_application.as_deref(), Some("api"));
        assert_eq!(conflict.plan_service.as_deref(), Some("cd-service-dev/cilium-gateway-api-dev"));
    }

    #[test]
    fn an_auto_vip_on_another_address_than_the_plan_holds_is_different_and_not_imported() {
        let mut plan = seed_plan();
        plan.allocations = vec![Allocation {
            address: IpAddr::parse("192.168.101.192").unwrap(),
            pool_id: 1,
            environment: EnvironmentName::parse("dev").unwrap(),
            owner: "Gateway cd-service-dev/api-dev".to_owned(),
            application: Some(domain::K8sName::parse("api").unwrap()),
        }];
        let pools = [
            pool("dev-vips", json!([{"cidr": "192.168.101.192/28"}]), "dev"),
            pool("prod-vips", json!([{"start": "192.168.101.240", "stop": "192.168.101.250"}]), "prod"),
        ];
        let services = [
            service("cd-service", "cilium-gateway-api-prod", Some("api-prod"), "192.168.101.240"),
            service("cd-service-dev", "cilium-gateway-api-dev", Some("api-dev"), "192.168.101.195"),
        ];
        let drift = compare(&plan, &pools, &services);
        let addresses: Vec<(&str, &str)> = drift.addresses.iter().map(|a| (a.address.as_str(), a.drift.as_str())).collect();
        assert_eq!(addresses, [("192.168.101.192", "different"), ("192.168.101.195", "cluster_only"), ("192.168.101.192", "plan_only")]);
        assert_eq!(drift.addresses[0].plan_application.as_deref(), Some("api"));
        let import = super::super::import::importable(&plan, &drift);
        assert!(import.addresses.is_empty(), "{import:?}");
        assert!(import.left_out[0].contains("the plan gives its application 192.168.101.192 instead"), "{:?}", import.left_out);
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
