//! The built-in kinds of an application bundle: Namespace, ConfigMap, Deployment, Service —
//! and the TLS Secret the certificates feature creates.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, HTTPGetAction,
    Namespace, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    Secret, SecurityContext, Service, ServicePort, ServiceSpec, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Target;
use super::labels::{self, Labels};
use domain::{HttpPath, K8sName, K8sSubdomain};

/// The name of the container port, which the probes and the Service refer to.
pub const PORT_NAME: &str = "http";
/// The Service's port; the HTTPRoute's backendRef points here.
pub const SERVICE_PORT: u16 = 80;
/// Annotation on the pod template that changes with the ConfigMap data (see [`deployment`]).
pub const CONFIG_HASH: &str = "gatehouse.io/config-hash";

pub fn config_map_name(target: &Target<'_>) -> String {
    format!("{}-config", target.app.name)
}

pub fn namespace(target: &Target<'_>) -> Namespace {
    Namespace {
        metadata: labels::cluster_meta(target.namespace.to_string(), labels::application_labels(target)),
        ..Namespace::default()
    }
}

pub fn config_map(target: &Target<'_>) -> ConfigMap {
    let data: BTreeMap<String, String> =
        target.app_env.config.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    ConfigMap {
        metadata: labels::namespaced_meta(target, config_map_name(target), labels::application_labels(target)),
        data: (!data.is_empty()).then_some(data),
        ..ConfigMap::default()
    }
}

pub fn deployment(target: &Target<'_>) -> Deployment {
    let app = target.app;
    let labels = labels::application_labels(target);
    Deployment {
        metadata: labels::namespaced_meta(target, app.name.to_string(), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(app.replicas).unwrap_or(i32::MAX)),
            selector: labels::match_labels(labels::pod_selector(target)),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    // Pods read the ConfigMap through envFrom only when they start: a changed
                    // hash in the template makes a config change roll the pods.
                    annotations: Some(BTreeMap::from([(CONFIG_HASH.to_owned(), config_hash(target))])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    affinity: Some(spread_over_nodes(target)),
                    containers: vec![container(target)],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn container(target: &Target<'_>) -> Container {
    let app = target.app;
    Container {
        name: app.name.to_string(),
        image: Some(app.image.to_string()),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: i32::from(app.port.get()),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: config_map_name(target), optional: None }),
            ..EnvFromSource::default()
        }]),
        readiness_probe: app.readiness_path.as_ref().map(|path| Probe {
            period_seconds: Some(10),
            failure_threshold: Some(3),
            ..http_probe(path)
        }),
        liveness_probe: app.liveness_path.as_ref().map(|path| Probe {
            period_seconds: Some(10),
            failure_threshold: Some(3),
            ..http_probe(path)
        }),
        // A JVM can take a minute or two to start; the startup probe holds the liveness probe
        // back until then (up to 5 minutes) instead of restarting a slow but healthy pod.
        startup_probe: app.liveness_path.as_ref().map(|path| Probe {
            period_seconds: Some(10),
            failure_threshold: Some(30),
            ..http_probe(path)
        }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity("100m".to_owned())),
                ("memory".to_owned(), Quantity("256Mi".to_owned())),
            ])),
            limits: Some(BTreeMap::from([("memory".to_owned(), Quantity("512Mi".to_owned()))])),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            // A JVM writes to /tmp (and often elsewhere); a read-only root would need
            // volumes the plan does not describe.
            read_only_root_filesystem: Some(false),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_owned()]), add: None }),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), localhost_profile: None }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

fn http_probe(path: &HttpPath) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    }
}

/// Prefer one replica per node, so a node failure takes one replica, not all of them. A
/// preference, not a rule: more replicas than nodes must still schedule.
fn spread_over_nodes(target: &Target<'_>) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(labels::match_labels(labels::pod_selector(target))),
                    topology_key: "kubernetes.io/hostname".to_owned(),
                    ..PodAffinityTerm::default()
                },
            }]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

pub fn service(target: &Target<'_>) -> Service {
    Service {
        // The advertisement label does nothing on a ClusterIP Service (LB-IPAM and the L2/BGP
        // policies only act on LoadBalancer Services); it marks what the environment announces.
        metadata: labels::namespaced_meta(
            target,
            target.app.name.to_string(),
            labels::with_advertisement(labels::application_labels(target), target.env),
        ),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(labels::pod_selector(target)),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_owned()),
                port: i32::from(SERVICE_PORT),
                target_port: Some(IntOrString::String(PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The `kubernetes.io/tls` Secret a Gateway listener terminates TLS with, built from an
/// uploaded certificate chain and its key (see [`super::application_bundle_with_tls`]).
pub fn tls_secret(namespace: &K8sName, name: &K8sSubdomain, cert_pem: &str, key_pem: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(Labels::from([(labels::MANAGED_BY.to_owned(), labels::MANAGER.to_owned())])),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_owned(), ByteString(cert_pem.as_bytes().to_vec())),
            ("tls.key".to_owned(), ByteString(key_pem.as_bytes().to_vec())),
        ])),
        ..Secret::default()
    }
}

/// FNV-1a (64 bit) of the ConfigMap data, stable across Rust versions and platforms
/// (std's `DefaultHasher` is not).
fn config_hash(target: &Target<'_>) -> String {
    let mut hash = super::Fnv1a::new();
    for (key, value) in &target.app_env.config {
        hash.write(key.as_str().as_bytes());
        hash.write(&[0]);
        hash.write(value.as_bytes());
        hash.write(&[0]);
    }
    format!("{:016x}", hash.finish())
}
