//! The controllers of the simulated cluster, behaving as Kubernetes and Cilium do where
//! Gatehouse depends on it: Deployments become available, Cilium's Gateway controller
//! generates a LoadBalancer Service per Gateway and reports the Gateway Programmed with its
//! address, LB-IPAM assigns VIPs from the pools that select a Service, and HTTPRoutes are
//! accepted by their parent Gateways.
use std::collections::{BTreeMap, BTreeSet};

use backend::cluster::vips::{
    LBIPAM_IPS_ANNOTATION, OWNING_GATEWAY_LABEL, assigned_address, generated_service_name, labels_of, pool_contains,
    pool_serves, pool_spans, requested_addresses,
};
use domain::{IpAddr, IpFamily};
use serde_json::{Value, json};

use super::store::{Change, Key, Store, kind_index};

pub const CONTROLLER_NAME: &str = "io.cilium/gateway-controller";
pub const CILIUM_MANAGER: &str = "cilium-operator";
const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
const LB_IPAM_CONDITION: &str = "io.cilium/lb-ipam-request-satisfied";

/// How the simulated Cilium behaves.
#[derive(Debug, Clone, Copy)]
pub struct CiliumBehaviour {
    /// Cilium 1.15 and later copy a Gateway's `spec.infrastructure.labels` to the Service
    /// they generate; earlier versions do not, and only a label fix makes the VIP reachable.
    pub copies_infrastructure_labels: bool,
    /// How long a Deployment's rollout, a Gateway's programming and an HTTPRoute's acceptance
    /// take after each change of their generation. Zero reports them ready in the same
    /// write, faster than any real cluster: a client then never needs to watch them, so the
    /// RBAC test sets a delay to make Gatehouse wait the way it must on a real cluster.
    pub ready_after: std::time::Duration,
    /// How long every write (create, update, patch, delete; not a dry run) takes before the
    /// API server answers it: a test slows a submission down with it to stop Gatehouse in
    /// the middle of one.
    pub write_delay: std::time::Duration,
}

impl Default for CiliumBehaviour {
    fn default() -> Self {
        CiliumBehaviour {
            copies_infrastructure_labels: true,
            ready_after: std::time::Duration::ZERO,
            write_delay: std::time::Duration::ZERO,
        }
    }
}

/// Runs every controller until nothing changes any more.
pub fn reconcile(store: &mut Store, behaviour: CiliumBehaviour) {
    for _ in 0..10 {
        let before = store.revision();
        namespaces(store);
        nodes(store);
        gateway_classes(store);
        deployments(store, behaviour);
        pods(store);
        generated_services(store, behaviour);
        lb_ipam(store);
        gateways(store, behaviour);
        http_routes(store, behaviour);
        if store.revision() == before {
            return;
        }
    }
}

fn condition(kind: &str, ok: bool, reason: &str, message: &str, generation: Option<&Value>) -> Value {
    let mut condition = json!({"type": kind, "status": if ok { "True" } else { "False" }, "reason": reason,
                               "message": message, "lastTransitionTime": backend::db::now_text()});
    if let Some(generation) = generation {
        condition["observedGeneration"] = generation.clone();
    }
    condition
}

fn namespaces(store: &mut Store) {
    for (key, _) in store.all("Namespace") {
        store.set_status(&key, json!({"phase": "Active"}));
    }
}

fn gateway_classes(store: &mut Store) {
    for (key, class) in store.all("GatewayClass") {
        if class.pointer("/spec/controllerName").and_then(Value::as_str) == Some(CONTROLLER_NAME) {
            let generation = class.pointer("/metadata/generation");
            store.set_status(&key, json!({"conditions": [condition("Accepted", true, "Accepted", "Valid GatewayClass", generation)]}));
        }
    }
}

/// The simulated cluster's nodes, each Ready with an InternalIP on 192.168.101.0/24.
pub const NODES: [&str; 3] = ["node-1", "node-2", "node-3"];

/// The pod CIDR of the `i`-th node, as Cilium's cluster-pool IPAM hands them out.
pub fn node_pod_cidr(i: usize) -> String {
    format!("10.0.{}.0/24", i + 1)
}

fn nodes(store: &mut Store) {
    for (key, _) in store.all("Node") {
        let i = NODES
            .iter()
            .position(|n| *n == key.name)
            .unwrap_or(NODES.len());
        store.set_status(
            &key,
            json!({"addresses": [{"type": "InternalIP", "address": format!("192.168.101.{}", 11 + i)},
                                 {"type": "Hostname", "address": key.name}],
                   "conditions": [condition("Ready", true, "KubeletReady", "kubelet is posting ready status", None)]}),
        );
    }
}

/// A short, stable hash of a pod template, as the ReplicaSet's `pod-template-hash`.
fn template_hash(template: &Value) -> String {
    let text = template.to_string();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:010x}", hash & 0xff_ffff_ffff)
}

/// Each Deployment's pods, spread over the nodes in turn: created up to `spec.replicas`,
/// replaced when the template changes, Running and Ready. Deleting the Deployment deletes
/// them (their ownerReference).
fn pods(store: &mut Store) {
    let nodes: Vec<String> = store
        .all("Node")
        .into_iter()
        .map(|(key, _)| key.name)
        .collect();
    if nodes.is_empty() {
        return;
    }
    for (key, deployment) in store.all("Deployment") {
        let uid = deployment
            .pointer("/metadata/uid")
            .cloned()
            .unwrap_or(Value::Null);
        let replicas = usize::try_from(
            deployment
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1),
        )
        .unwrap_or(0);
        let template = deployment
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        let hash = template_hash(&template);
        let owned: Vec<(Key, Value)> = store
            .list(kind_index("Pod"), Some(&key.namespace))
            .into_iter()
            .filter(|(_, pod)| pod.pointer("/metadata/ownerReferences/0/uid") == Some(&uid))
            .collect();
        let mut keep = Vec::new();
        for (pod_key, pod) in owned {
            let current = pod
                .pointer("/metadata/labels/pod-template-hash")
                .and_then(Value::as_str)
                == Some(hash.as_str());
            if current && keep.len() < replicas {
                keep.push(pod_key);
            } else {
                let _ = store.delete(&pod_key, false);
            }
        }
        for replica in 0..replicas {
            let name = format!("{}-{hash}-{replica}", key.name);
            if keep.iter().any(|k| k.name == name) {
                continue;
            }
            let node = replica % nodes.len();
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or_else(|| json!({}));
            labels["pod-template-hash"] = json!(hash);
            let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
            spec["nodeName"] = json!(nodes[node]);
            let pod = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": key.namespace, "labels": labels,
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": key.name,
                                                  "uid": uid, "controller": true}]},
                "spec": spec});
            let pod_key = Key::new(kind_index("Pod"), &key.namespace, &name);
            if store
                .write(
                    pod_key.clone(),
                    "kube-controller-manager",
                    Change::Apply {
                        force: true,
                        patch: pod,
                    },
                    false,
                )
                .is_ok()
            {
                let host = 10 + replica / nodes.len();
                store.set_status(
                    &pod_key,
                    json!({"phase": "Running", "hostIP": format!("192.168.101.{}", 11 + node),
                           "podIP": format!("10.0.{}.{host}", node + 1),
                           "conditions": [condition("Ready", true, "", "", None)]}),
                );
            }
        }
    }
}

fn deployments(store: &mut Store, behaviour: CiliumBehaviour) {
    for (key, deployment) in store.all("Deployment") {
        let replicas = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let generation = deployment.pointer("/metadata/generation");
        if !store.has_settled(&key, &deployment, !behaviour.ready_after.is_zero()) {
            store.set_status(
                &key,
                json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                       "readyReplicas": 0, "availableReplicas": 0, "unavailableReplicas": replicas,
                       "conditions": [condition("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", None),
                                      condition("Progressing", true, "ReplicaSetUpdated", &format!("ReplicaSet \"{}\" is progressing.", key.name), None)]}),
            );
            continue;
        }
        store.set_status(
            &key,
            json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": replicas, "availableReplicas": replicas,
                   "conditions": [condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.", None),
                                  condition("Progressing", true, "NewReplicaSetAvailable", &format!("ReplicaSet \"{}\" has successfully progressed.", key.name), None)]}),
        );
    }
}

fn is_cilium_gateway(store: &Store, gateway: &Value) -> bool {
    let Some(class) = gateway.pointer("/spec/gatewayClassName").and_then(Value::as_str) else {
        return false;
    };
    store
        .find("GatewayClass", "", class)
        .is_some_and(|c| c.pointer("/spec/controllerName").and_then(Value::as_str) == Some(CONTROLLER_NAME))
}

/// The `cilium-gateway-<name>` Service of every Cilium Gateway, applied as Cilium's operator:
/// the Gateway's metadata labels are NOT copied — only `spec.infrastructure` (from 1.15).
fn generated_services(store: &mut Store, behaviour: CiliumBehaviour) {
    for (key, gateway) in store.all("Gateway") {
        if !is_cilium_gateway(store, &gateway) {
            continue;
        }
        let mut labels = BTreeMap::new();
        let mut annotations = BTreeMap::new();
        if behaviour.copies_infrastructure_labels {
            for (field, into) in [("labels", &mut labels), ("annotations", &mut annotations)] {
                if let Some(map) = gateway.pointer(&format!("/spec/infrastructure/{field}")).and_then(Value::as_object) {
                    for (k, v) in map {
                        into.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        labels.insert(OWNING_GATEWAY_LABEL.to_owned(), json!(key.name));
        labels.insert(GATEWAY_NAME_LABEL.to_owned(), json!(key.name));
        let requested: Vec<&str> = gateway
            .pointer("/spec/addresses")
            .and_then(Value::as_array)
            .map(|addresses| {
                addresses
                    .iter()
                    .filter(|a| a.get("type").and_then(Value::as_str).is_none_or(|t| t == "IPAddress"))
                    .filter_map(|a| a.get("value").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if !requested.is_empty() {
            annotations.insert(LBIPAM_IPS_ANNOTATION.to_owned(), json!(requested.join(",")));
        }
        let ports: BTreeSet<i64> = gateway
            .pointer("/spec/listeners")
            .and_then(Value::as_array)
            .map(|listeners| listeners.iter().filter_map(|l| l.get("port").and_then(Value::as_i64)).collect())
            .unwrap_or_default();
        let ports: Vec<Value> =
            ports.iter().map(|port| json!({"name": format!("port-{port}"), "port": port, "protocol": "TCP"})).collect();
        let mut metadata = json!({
            "name": generated_service_name(&key.name), "namespace": key.namespace, "labels": labels,
            "ownerReferences": [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": key.name,
                                 "uid": gateway.pointer("/metadata/uid"), "controller": true}],
        });
        if !annotations.is_empty() {
            metadata["annotations"] = json!(annotations);
        }
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata,
                             "spec": {"type": "LoadBalancer", "ports": ports}});
        let service_key = Key::new(kind_index("Service"), &key.namespace, &generated_service_name(&key.name));
        if let Err(error) = store.write(service_key, CILIUM_MANAGER, Change::Apply { force: true, patch: service }, false) {
            tracing::warn!(gateway = %key.name, error = %error.message, "the simulated Cilium could not write the Gateway's Service");
        }
    }
}

fn format_address(ipv4: bool, value: u128) -> Option<String> {
    let family = if ipv4 { IpFamily::Ipv4 } else { IpFamily::Ipv6 };
    IpAddr::from_u128(family, value).map(|address| address.to_string())
}

/// LB-IPAM: every LoadBalancer Service gets an address from a pool that selects it — each
/// address it asks for, or the lowest free one — and loses it when no such pool holds it any
/// more. Requests are honoured as Cilium's operator does (`satisfySpecificIPRequests`): an
/// address no enabled pool holds, one whose pool does not select the Service, and one another
/// Service has are not assigned, and the Service's condition says which (reasons `no_pool`,
/// `pool_selector_mismatch`, `already_allocated`); the Service that had an address first
/// keeps it.
fn lb_ipam(store: &mut Store) {
    let pools: Vec<Value> = store.all("CiliumLoadBalancerIPPool").into_iter().map(|(_, pool)| pool).collect();
    let services: Vec<(Key, Value)> = store
        .all("Service")
        .into_iter()
        .filter(|(_, s)| s.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer"))
        .collect();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut pending = Vec::new();
    for (key, service) in &services {
        let labels = labels_of(service);
        let requested = requested_addresses(service);
        let kept = assigned_address(service).filter(|address| {
            (requested.is_empty() || requested.contains(address))
                && !used.contains(address)
                && pools.iter().any(|pool| pool_serves(pool, &labels) && pool_contains(pool, address))
        });
        match kept {
            Some(address) if requested.len() <= 1 => {
                used.insert(address);
            }
            _ => pending.push((key.clone(), labels, requested)),
        }
    }
    for (key, labels, requested) in pending {
        let (assigned, refusal) = if requested.is_empty() {
            match next_free(&pools, &labels, &used) {
                Ok(address) => (vec![address], None),
                Err(refusal) => (Vec::new(), Some(refusal)),
            }
        } else {
            let mut assigned = Vec::new();
            let mut refusal = None;
            for address in &requested {
                match requested_address(&pools, &labels, &used, address) {
                    Ok(()) => {
                        used.insert(address.clone());
                        assigned.push(address.clone());
                    }
                    Err(why) => refusal = Some(why),
                }
            }
            (assigned, refusal)
        };
        used.extend(assigned.iter().cloned());
        let ingress: Vec<Value> = assigned.iter().map(|address| json!({"ip": address})).collect();
        let condition = match refusal {
            None => condition(LB_IPAM_CONDITION, true, "satisfied", "", None),
            Some((reason, message)) => condition(LB_IPAM_CONDITION, false, reason, &message, None),
        };
        let load_balancer = if ingress.is_empty() { json!({}) } else { json!({"ingress": ingress}) };
        store.set_status(&key, json!({"loadBalancer": load_balancer, "conditions": [condition]}));
    }
}

/// Why LB-IPAM does not assign an address: the condition's reason and message, as Cilium's.
type Refusal = (&'static str, String);

/// Whether an address a Service asks for may be assigned to it.
fn requested_address(pools: &[Value], labels: &BTreeMap<String, String>, used: &BTreeSet<String>, address: &str) -> Result<(), Refusal> {
    let holding: Vec<&Value> = pools
        .iter()
        .filter(|pool| pool.pointer("/spec/disabled").and_then(Value::as_bool) != Some(true) && pool_contains(pool, address))
        .collect();
    if holding.is_empty() {
        return Err(("no_pool", format!("No pool exists with a CIDR containing '{address}'")));
    }
    if !holding.iter().any(|pool| pool_serves(pool, labels)) {
        return Err(("pool_selector_mismatch", format!("The pool with the CIDR containing '{address}', doesn't select this service")));
    }
    if used.contains(address) {
        return Err(("already_allocated", format!("The IP '{address}' is already allocated to another service")));
    }
    Ok(())
}

/// The lowest free address of the pools that select a Service.
fn next_free(pools: &[Value], labels: &BTreeMap<String, String>, used: &BTreeSet<String>) -> Result<String, Refusal> {
    let serving: Vec<&Value> = pools.iter().filter(|pool| pool_serves(pool, labels)).collect();
    if serving.is_empty() {
        return Err(("no_pool", "There are no enabled CiliumLoadBalancerIPPools that match this service".to_owned()));
    }
    serving
        .iter()
        .flat_map(|pool| pool_spans(pool))
        .find_map(|(first, last, ipv4)| {
            (first..=last).take(65_536).filter_map(|value| format_address(ipv4, value)).find(|a| !used.contains(a))
        })
        .ok_or(("out_of_ips", "All enabled CiliumLoadBalancerIPPools that match this service ran out of allocatable IPs".to_owned()))
}

/// Cilium's Gateway status: Accepted, and Programmed once its Service has an address.
fn gateways(store: &mut Store, behaviour: CiliumBehaviour) {
    for (key, gateway) in store.all("Gateway") {
        if !is_cilium_gateway(store, &gateway) {
            continue;
        }
        let generation = gateway.pointer("/metadata/generation").cloned();
        if !store.has_settled(&key, &gateway, !behaviour.ready_after.is_zero()) {
            let pending = condition("Programmed", false, "Pending", "Waiting for controller", generation.as_ref());
            let accepted = condition("Accepted", false, "Pending", "Waiting for controller", generation.as_ref());
            store.set_status(&key, json!({"conditions": [accepted, pending]}));
            continue;
        }
        let service_name = generated_service_name(&key.name);
        let service = store.find("Service", &key.namespace, &service_name);
        let address = service.and_then(assigned_address);
        let mut status = json!({"conditions": [condition("Accepted", true, "Accepted", "Gateway successfully scheduled", generation.as_ref())]});
        match &address {
            Some(address) => {
                status["addresses"] = json!([{"type": "IPAddress", "value": address}]);
                if let Some(conditions) = status["conditions"].as_array_mut() {
                    conditions.push(condition("Programmed", true, "Programmed", "Gateway successfully reconciled", generation.as_ref()));
                }
            }
            None => {
                let why = service
                    .and_then(|s| s.pointer("/status/conditions/0/message").and_then(Value::as_str))
                    .filter(|m| !m.is_empty())
                    .unwrap_or("LB-IPAM has not assigned one yet");
                let message = format!("Service {service_name} has no address: {why}");
                if let Some(conditions) = status["conditions"].as_array_mut() {
                    conditions.push(condition("Programmed", false, "AddressNotAssigned", &message, generation.as_ref()));
                }
            }
        }
        store.set_status(&key, status);
    }
}

/// Every parent of an HTTPRoute: Accepted when it is a Cilium Gateway; ResolvedRefs when
/// every backend Service exists.
fn http_routes(store: &mut Store, behaviour: CiliumBehaviour) {
    for (key, route) in store.all("HTTPRoute") {
        let generation = route.pointer("/metadata/generation").cloned();
        if !store.has_settled(&key, &route, !behaviour.ready_after.is_zero()) {
            // No parent has reported on the route yet.
            store.set_status(&key, json!({"parents": []}));
            continue;
        }
        let backends_exist = route
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|rule| rule.get("backendRefs").and_then(Value::as_array).cloned().unwrap_or_default())
            .all(|backend| {
                let namespace = backend.get("namespace").and_then(Value::as_str).unwrap_or(&key.namespace);
                let name = backend.get("name").and_then(Value::as_str).unwrap_or_default();
                store.find("Service", namespace, name).is_some()
            });
        let parents: Vec<Value> = route
            .pointer("/spec/parentRefs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|parent| {
                let namespace = parent.get("namespace").and_then(Value::as_str).unwrap_or(&key.namespace);
                let name = parent.get("name").and_then(Value::as_str).unwrap_or_default();
                let accepted = store.find("Gateway", namespace, name).is_some_and(|g| is_cilium_gateway(store, g));
                let accepted_condition = if accepted {
                    condition("Accepted", true, "Accepted", "Accepted HTTPRoute", generation.as_ref())
                } else {
                    condition("Accepted", false, "NoMatchingParent", &format!("there is no Cilium Gateway {namespace}/{name}"), generation.as_ref())
                };
                let resolved = if backends_exist {
                    condition("ResolvedRefs", true, "ResolvedRefs", "Service reference is valid", generation.as_ref())
                } else {
                    condition("ResolvedRefs", false, "BackendNotFound", "a backend Service does not exist", generation.as_ref())
                };
                json!({"parentRef": parent, "controllerName": CONTROLLER_NAME, "conditions": [accepted_condition, resolved]})
            })
            .collect();
        store.set_status(&key, json!({"parents": parents}));
    }
}
