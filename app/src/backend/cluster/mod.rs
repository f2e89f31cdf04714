//! Gatehouse and Kubernetes: the cluster connection and what it offers ([`capabilities`]),
//! submissions that apply bundles with server-side apply and wait for them to be ready
//! ([`submissions`]), the Gateway label fix ([`label_fix`]), and what Cilium decides about a
//! VIP ([`vips`]).
pub mod drift;
pub mod failure;
pub mod fields;
pub mod import;
pub mod label_fix;
pub mod leader;
pub mod live;
pub mod submissions;
pub mod vips;

use std::{path::Path, time::Duration};

use kube::{
    Client,
    api::{Api, DynamicObject, ListParams},
    config::{KubeConfigOptions, Kubeconfig},
    core::{ApiResource, GroupVersionKind},
    discovery::{ApiCapabilities, Scope},
};
use serde::Serialize;

pub use failure::Failure;

/// The field manager of everything Gatehouse applies.
pub const FIELD_MANAGER: &str = "gatehouse";

/// A cluster Gatehouse submits to.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    /// How it was configured: `simulated`, `in-cluster`, or the kubeconfig context.
    pub name: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Why the configured cluster cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the kubeconfig {path}: {source}")]
    Kubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("the kubeconfig does not work: {0}; check the context name (--kube-context) and the credentials it names")]
    Config(#[source] kube::config::KubeconfigError),
    #[error("in-cluster configuration is not available: {0}; run Gatehouse in a pod with a service account, or pass --kubeconfig")]
    InCluster(#[source] kube::config::InClusterError),
    #[error("cannot build a client for the cluster: {0}")]
    Client(#[source] kube::Error),
}

fn tuned(mut config: kube::Config) -> kube::Config {
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(60));
    config
}

impl Cluster {
    fn from_config(config: kube::Config, name: String) -> Result<Cluster, ConnectError> {
        let client = Client::try_from(tuned(config)).map_err(ConnectError::Client)?;
        Ok(Cluster { client, name })
    }

    /// From a kubeconfig's text and an optional context (the current one otherwise).
    pub async fn from_kubeconfig_text(text: &str, context: Option<&str>, name: &str) -> Result<Cluster, ConnectError> {
        let kubeconfig = Kubeconfig::from_yaml(text).map_err(ConnectError::Config)?;
        let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(ConnectError::Config)?;
        Cluster::from_config(config, name.to_owned())
    }

    pub async fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<Cluster, ConnectError> {
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|source| ConnectError::Kubeconfig { path: path.display().to_string(), source })?;
        let name = context
            .map(str::to_owned)
            .or_else(|| kubeconfig.current_context.clone())
            .unwrap_or_else(|| path.display().to_string());
        let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(ConnectError::Config)?;
        Cluster::from_config(config, name)
    }

    pub fn in_cluster() -> Result<Cluster, ConnectError> {
        let config = kube::Config::incluster().map_err(ConnectError::InCluster)?;
        Cluster::from_config(config, "in-cluster".to_owned())
    }

    /// The API resource and scope of a kind, from discovery.
    pub async fn resource(&self, api_version: &str, kind: &str) -> Result<(ApiResource, ApiCapabilities), kube::Error> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        kube::discovery::pinned_kind(&self.client, &GroupVersionKind::gvk(group, version, kind)).await
    }

    /// A dynamic API for objects of a kind, in `namespace` when the kind is namespaced.
    pub fn api(&self, resource: &ApiResource, capabilities: &ApiCapabilities, namespace: Option<&str>) -> Api<DynamicObject> {
        match (&capabilities.scope, namespace) {
            (Scope::Namespaced, Some(namespace)) => Api::namespaced_with(self.client.clone(), namespace, resource),
            _ => Api::all_with(self.client.clone(), resource),
        }
    }
}

/// One thing Gatehouse needs from a cluster, and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capability {
    pub name: &'static str,
    pub present: bool,
    /// What was found, or what is missing and how to install it.
    pub detail: String,
}

/// What a cluster offers: its version, and every capability Gatehouse needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub cluster: String,
    pub reachable: bool,
    pub server_version: Option<String>,
    pub capabilities: Vec<Capability>,
    /// Why the cluster could not be asked, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

const GATEWAY_API_INSTALL: &str = "install the Gateway API v1.4 standard CRDs: kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.1/standard-install.yaml";
const CILIUM_UPGRADE: &str = "install or upgrade Cilium (1.16 or later) with helm; the Helm values Gatehouse generates (GET /api/v1/environments/{env}/helm-values.yaml) switch these on";

/// Asks the cluster for its version and for every kind and the GatewayClass Gatehouse uses.
pub async fn capabilities(cluster: &Cluster) -> Capabilities {
    let version = match cluster.client.apiserver_version().await {
        Ok(info) => info.git_version,
        Err(error) => {
            return Capabilities {
                cluster: cluster.name.clone(),
                reachable: false,
                server_version: None,
                capabilities: Vec::new(),
                failure: Some(failure::explain(&error, "the cluster's version (GET /version)")),
            };
        }
    };
    let needed: [(&str, &str, &str, String); 7] = [
        ("Gateway API: Gateway", "gateway.networking.k8s.io/v1", "Gateway", GATEWAY_API_INSTALL.to_owned()),
        ("Gateway API: HTTPRoute", "gateway.networking.k8s.io/v1", "HTTPRoute", GATEWAY_API_INSTALL.to_owned()),
        ("Gateway API: ReferenceGrant", "gateway.networking.k8s.io/v1beta1", "ReferenceGrant", GATEWAY_API_INSTALL.to_owned()),
        ("Cilium LB-IPAM: CiliumLoadBalancerIPPool", "cilium.io/v2", "CiliumLoadBalancerIPPool", CILIUM_UPGRADE.to_owned()),
        (
            "Cilium L2 announcements: CiliumL2AnnouncementPolicy",
            "cilium.io/v2alpha1",
            "CiliumL2AnnouncementPolicy",
            format!("{CILIUM_UPGRADE} (l2announcements.enabled=true)"),
        ),
        (
            "Cilium BGP control plane: CiliumBGPClusterConfig",
            "cilium.io/v2",
            "CiliumBGPClusterConfig",
            format!("{CILIUM_UPGRADE} (bgpControlPlane.enabled=true)"),
        ),
        (
            "Cilium BGP control plane: CiliumBGPAdvertisement",
            "cilium.io/v2",
            "CiliumBGPAdvertisement",
            format!("{CILIUM_UPGRADE} (bgpControlPlane.enabled=true)"),
        ),
    ];
    let mut capabilities = Vec::new();
    for (name, api_version, kind, install) in needed {
        let capability = match cluster.resource(api_version, kind).await {
            Ok(_) => Capability { name, present: true, detail: format!("{kind} ({api_version}) is served") },
            Err(error) => {
                let missing = matches!(&error, kube::Error::Discovery(_))
                    || matches!(&error, kube::Error::Api(status) if status.code == 404);
                let detail = if missing {
                    format!("{kind} ({api_version}) is not served: {install}")
                } else {
                    failure::explain(&error, &format!("discovery of {kind}")).to_string()
                };
                Capability { name, present: false, detail }
            }
        };
        capabilities.push(capability);
    }
    capabilities.push(gateway_class(cluster).await);
    Capabilities { cluster: cluster.name.clone(), reachable: true, server_version: Some(version), capabilities, failure: None }
}

async fn gateway_class(cluster: &Cluster) -> Capability {
    let name = "GatewayClass cilium, accepted";
    let missing = |detail: String| Capability { name, present: false, detail };
    let resource = match cluster.resource("gateway.networking.k8s.io/v1", "GatewayClass").await {
        Ok((resource, _)) => resource,
        Err(_) => return missing(format!("GatewayClass is not served: {GATEWAY_API_INSTALL}")),
    };
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &resource);
    match api.get_opt("cilium").await {
        Ok(Some(class)) => {
            let accepted = class.data.pointer("/status/conditions").and_then(serde_json::Value::as_array).is_some_and(|c| {
                c.iter().any(|c| c["type"] == "Accepted" && c["status"] == "True")
            });
            if accepted {
                Capability { name, present: true, detail: "GatewayClass cilium is accepted by Cilium's Gateway controller".to_owned() }
            } else {
                missing("GatewayClass cilium exists but no controller accepted it: enable Cilium's Gateway API support (gatewayAPI.enabled=true, kubeProxyReplacement=true) and restart the operator".to_owned())
            }
        }
        Ok(None) => missing(format!(
            "there is no GatewayClass cilium: install the Gateway API CRDs before Cilium, then enable gatewayAPI.enabled=true ({GATEWAY_API_INSTALL})"
        )),
        Err(error) => missing(failure::explain(&error, "GatewayClass cilium").to_string()),
    }
}

/// Lists objects of a kind across the cluster, as JSON (for the VIP status and import).
pub async fn list_all(cluster: &Cluster, api_version: &str, kind: &str) -> Result<Vec<serde_json::Value>, kube::Error> {
    let (resource, _) = cluster.resource(api_version, kind).await?;
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &resource);
    let list = api.list(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|mut object| {
            object.types = Some(kube::core::TypeMeta { api_version: api_version.to_owned(), kind: kind.to_owned() });
            serde_json::to_value(object).ok()
        })
        .collect())
}
