//! Reads what the cluster runs for an application in its environments, for the live
//! topology view: nodes and the application's pods, its Gateways (with their HTTPRoutes),
//! its Services and the Services Cilium generated for its Gateways, each VIP with the L2
//! policies and BGP advertisements that select it.
use serde_json::Value;

use super::{Cluster, failure, list_all, vips};
use crate::{db::now_text, manifests::labels};
use domain::{Application, Environment, Plan};
use domain::topology::live::{LiveEnvironment, LiveGateway, LiveNode, LivePod, LiveService};

fn text(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Whether `conditions` (a list of metav1.Condition) has `kind` with status True.
fn has_condition(conditions: Option<&Value>, kind: &str) -> bool {
    conditions
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(kind)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// Everything the view needs from the cluster, listed once for every environment.
struct Objects {
    nodes: Vec<Value>,
    pods: Vec<Value>,
    services: Vec<Value>,
    gateways: Vec<Value>,
    routes: Vec<Value>,
    l2_policies: Vec<Value>,
    bgp_advertisements: Vec<Value>,
}

async fn list(cluster: &Cluster) -> Result<Objects, kube::Error> {
    Ok(Objects {
        nodes: list_all(cluster, "v1", "Node").await?,
        pods: list_all(cluster, "v1", "Pod").await?,
        services: list_all(cluster, "v1", "Service").await?,
        gateways: list_all(cluster, "gateway.networking.k8s.io/v1", "Gateway")
            .await
            .unwrap_or_default(),
        routes: list_all(cluster, "gateway.networking.k8s.io/v1", "HTTPRoute")
            .await
            .unwrap_or_default(),
        // A cluster without L2 announcements or the BGP control plane announces nothing.
        l2_policies: list_all(cluster, "cilium.io/v2alpha1", "CiliumL2AnnouncementPolicy")
            .await
            .unwrap_or_default(),
        bgp_advertisements: list_all(cluster, "cilium.io/v2", "CiliumBGPAdvertisement")
            .await
            .unwrap_or_default(),
    })
}

/// Reads the cluster into `query.live` when `view` is a live view of an application of
/// `plan` (for the environment the query names, or every one it is deployed to); other views
/// and unknown names are left for the view to explain.
pub async fn read_for_view(
    clusters: &super::Clusters,
    plan: &Plan,
    view: &domain::topology::View,
    query: &mut domain::topology::Query,
) {
    let domain::topology::View::Live(name) = view else {
        return;
    };
    let Some(application) = plan.application(name) else {
        return;
    };
    let only = query.environment.as_deref().filter(|e| !e.is_empty());
    let environments: Vec<&Environment> = application
        .environments
        .keys()
        .filter(|e| only.is_none_or(|only| e.as_str() == only))
        .filter_map(|e| plan.environment(e))
        .collect();
    // Each cluster is read once, for every environment of the view that goes to it.
    let mut by_cluster: Vec<(&Cluster, Vec<&Environment>)> = Vec::new();
    let mut unknown = Vec::new();
    for environment in environments {
        match clusters.of(environment) {
            Ok(cluster) => match by_cluster.iter_mut().find(|(c, _)| c.name == cluster.name) {
                Some((_, placed)) => placed.push(environment),
                None => by_cluster.push((cluster, vec![environment])),
            },
            Err(error) => unknown.push(LiveEnvironment {
                environment: environment.name.to_string(),
                cluster: error.cluster.clone(),
                namespace: environment.namespace_or_own(application).to_string(),
                read_at: now_text(),
                failure: Some(error.to_string()),
                ..LiveEnvironment::default()
            }),
        }
    }
    let mut live = Vec::new();
    for (cluster, placed) in by_cluster {
        live.extend(read(cluster, application, &placed).await);
    }
    live.extend(unknown);
    live.sort_by(|a, b| a.environment.cmp(&b.environment));
    query.live = live;
}

/// The live state of `application` in each of `environments`.
pub async fn read(
    cluster: &Cluster,
    application: &Application,
    environments: &[&Environment],
) -> Vec<LiveEnvironment> {
    let read_at = now_text();
    let base = |environment: &Environment| LiveEnvironment {
        environment: environment.name.to_string(),
        cluster: cluster.name.clone(),
        namespace: environment.namespace_or_own(application).to_string(),
        read_at: read_at.clone(),
        ..LiveEnvironment::default()
    };
    match list(cluster).await {
        Ok(objects) => environments
            .iter()
            .map(|environment| {
                of_environment(&objects, application, environment, base(environment))
            })
            .collect(),
        Err(error) => {
            let failure = failure::explain(&error, "the cluster's nodes, pods and Services");
            environments
                .iter()
                .map(|environment| LiveEnvironment {
                    failure: Some(failure.to_string()),
                    ..base(environment)
                })
                .collect()
        }
    }
}

fn of_environment(
    objects: &Objects,
    application: &Application,
    environment: &Environment,
    mut live: LiveEnvironment,
) -> LiveEnvironment {
    let app = application.name.as_str();
    let env = environment.name.as_str();
    let in_namespace = |o: &&Value| text(o, "/metadata/namespace") == live.namespace;
    // The application's own objects in this environment; a pod carries the environment's
    // label only if its template does, so one without it counts for every environment.
    let ours = |o: &&Value| {
        let labels = vips::labels_of(o);
        labels.get(labels::NAME).map(String::as_str) == Some(app)
            && labels.get(labels::ENVIRONMENT).is_none_or(|e| e == env)
    };

    let gateways: Vec<&Value> = objects
        .gateways
        .iter()
        .filter(in_namespace)
        .filter(ours)
        .collect();
    let gateway_names: Vec<String> = gateways.iter().map(|g| text(g, "/metadata/name")).collect();
    live.gateways = gateways
        .iter()
        .map(|gateway| {
            let name = text(gateway, "/metadata/name");
            let routes = objects
                .routes
                .iter()
                .filter(in_namespace)
                .filter(|route| {
                    route
                        .pointer("/spec/parentRefs")
                        .and_then(Value::as_array)
                        .is_some_and(|parents| {
                            parents.iter().any(|p| {
                                p.get("name").and_then(Value::as_str) == Some(name.as_str())
                            })
                        })
                })
                .map(|route| {
                    let hosts: Vec<&str> = route
                        .pointer("/spec/hostnames")
                        .and_then(Value::as_array)
                        .map(|h| h.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    // Each parent Gateway reports on the route in `status.parents`.
                    let accepted = route
                        .pointer("/status/parents")
                        .and_then(Value::as_array)
                        .is_some_and(|parents| {
                            parents
                                .iter()
                                .any(|p| has_condition(p.get("conditions"), "Accepted"))
                        });
                    format!(
                        "{} ({}){}",
                        text(route, "/metadata/name"),
                        hosts.join(", "),
                        if accepted { "" } else { ", not Accepted" }
                    )
                })
                .collect();
            LiveGateway {
                addresses: gateway
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|a| {
                                a.get("value").and_then(Value::as_str).map(str::to_owned)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                programmed: has_condition(gateway.pointer("/status/conditions"), "Programmed"),
                routes,
                name,
            }
        })
        .collect();

    let advertisement = &environment.advertisement.label;
    live.services = objects
        .services
        .iter()
        .filter(in_namespace)
        .filter_map(|service| {
            let labels = vips::labels_of(service);
            let generated_for = labels
                .get(vips::OWNING_GATEWAY_LABEL)
                .cloned()
                .or_else(|| {
                    text(service, "/metadata/name")
                        .strip_prefix(vips::GENERATED_SERVICE_PREFIX)
                        .map(str::to_owned)
                })
                .filter(|g| gateway_names.contains(g));
            if generated_for.is_none() && !ours(&service) {
                return None;
            }
            let announcement =
                vips::announcement(&labels, &objects.l2_policies, &objects.bgp_advertisements);
            Some(LiveService {
                name: text(service, "/metadata/name"),
                service_type: text(service, "/spec/type"),
                cluster_ip: Some(text(service, "/spec/clusterIP"))
                    .filter(|ip| !ip.is_empty() && ip != "None"),
                gateway: generated_for,
                vip: vips::assigned_address(service),
                labelled: labels.get(advertisement.key.as_str()).map(String::as_str)
                    == Some(advertisement.value.as_str()),
                l2_policies: announcement.l2_policies,
                bgp_advertisements: announcement.bgp_advertisements,
            })
        })
        .collect();

    let pods: Vec<(String, LivePod)> = objects
        .pods
        .iter()
        .filter(in_namespace)
        .filter(ours)
        .map(|pod| {
            let ip = text(pod, "/status/podIP");
            (
                text(pod, "/spec/nodeName"),
                LivePod {
                    name: text(pod, "/metadata/name"),
                    ip: (!ip.is_empty()).then_some(ip),
                    phase: text(pod, "/status/phase"),
                    ready: has_condition(pod.pointer("/status/conditions"), "Ready"),
                },
            )
        })
        .collect();
    live.nodes = objects
        .nodes
        .iter()
        .map(|node| {
            let name = text(node, "/metadata/name");
            LiveNode {
                address: node
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
                    })
                    .and_then(|a| a.get("address").and_then(Value::as_str))
                    .map(str::to_owned),
                ready: has_condition(node.pointer("/status/conditions"), "Ready"),
                pods: pods
                    .iter()
                    .filter(|(on, _)| *on == name)
                    .map(|(_, pod)| pod.clone())
                    .collect(),
                name,
            }
        })
        .collect();
    live.unscheduled = pods
        .into_iter()
        .filter(|(on, _)| !live.nodes.iter().any(|n| n.name == *on))
        .map(|(_, pod)| pod)
        .collect();
    live
}
