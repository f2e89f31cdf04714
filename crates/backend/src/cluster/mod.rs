//! Gatehouse and Kubernetes: the cluster connection and what it offers ([`capabilities`]),
//! submissions that apply bundles with server-side apply and wait for them to be ready
//! ([`submissions`]), the Gateway label fix ([`label_fix`]), and what Cilium decides about a
//! VIP ([`vips`]).
pub mod drift;
pub mod failure;
pub mod fields;
pub mod import;
pub mod jobs;
pub mod label_fix;
pub mod leader;
pub mod live;
pub mod submissions;
pub mod vips;

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use kube::{
    Client,
    api::{Api, DynamicObject, ListParams},
    config::{KubeConfigOptions, Kubeconfig},
    core::{ApiResource, GroupVersionKind},
    discovery::{ApiCapabilities, Scope},
};
use serde::Serialize;

pub use failure::Failure;

use domain::{DEFAULT_CLUSTER, Environment, Plan};

/// The field manager of everything Gatehouse applies.
pub const FIELD_MANAGER: &str = "gatehouse";

/// A cluster Gatehouse submits to.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    /// The name environments choose it by: `default`, or the name it is configured with.
    pub name: String,
    /// Where its connection comes from: `simulated`, `in-cluster`, or the kubeconfig and context.
    pub source: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("name", &self.name).field("source", &self.source).finish_non_exhaustive()
    }
}

/// The clusters Gatehouse submits to: the default one, and any number more by name. Each
/// environment goes to the one its `cluster` names, or to the default.
#[derive(Clone, Debug)]
pub struct Clusters {
    /// `None` when Gatehouse was started with no kubeconfig, no in-cluster account and no
    /// simulated cluster: an environment that goes to the default cluster is then refused
    /// with what to configure, never sent to a stand-in.
    default: Option<Cluster>,
    named: Arc<BTreeMap<String, Cluster>>,
}

/// An environment names a cluster Gatehouse is not configured with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment {environment} goes to cluster {cluster}, which Gatehouse is not configured with ({}); {}", self.configured_text(), self.remedy())]
pub struct UnknownCluster {
    pub environment: String,
    pub cluster: String,
    pub configured: String,
}

impl UnknownCluster {
    fn configured_text(&self) -> String {
        if self.configured.is_empty() { "it has none".to_owned() } else { format!("it has: {}", self.configured) }
    }

    /// What to start Gatehouse with (or change) so that the environment has its cluster.
    pub fn remedy(&self) -> String {
        if self.cluster == DEFAULT_CLUSTER {
            "start Gatehouse with --kubeconfig FILE (GATEHOUSE_KUBECONFIG) or, in a pod, --in-cluster; or --demo for a simulated cluster to try it out, or set the environment's cluster to a configured one".to_owned()
        } else {
            format!(
                "start Gatehouse with --cluster {}=KUBECONFIG[#CONTEXT] (or GATEHOUSE_CLUSTERS), or set the environment's cluster to a configured one",
                self.cluster
            )
        }
    }
}

impl Clusters {
    /// `default` is named `default`; the others keep their names, which must be distinct.
    pub fn new(default: Option<Cluster>, named: impl IntoIterator<Item = Cluster>) -> Clusters {
        let default = default.map(|mut default| {
            DEFAULT_CLUSTER.clone_into(&mut default.name);
            default
        });
        let named = named.into_iter().map(|cluster| (cluster.name.clone(), cluster)).collect();
        Clusters { default, named: Arc::new(named) }
    }

    /// The default cluster, when one is configured.
    pub fn default_cluster(&self) -> Option<&Cluster> {
        self.default.as_ref()
    }

    /// Every configured cluster, the default first.
    pub fn all(&self) -> impl Iterator<Item = &Cluster> {
        self.default.iter().chain(self.named.values())
    }

    pub fn by_name(&self, name: &str) -> Option<&Cluster> {
        if name == DEFAULT_CLUSTER { self.default.as_ref() } else { self.named.get(name) }
    }

    /// The cluster `environment` goes to.
    pub fn of(&self, environment: &Environment) -> Result<&Cluster, UnknownCluster> {
        self.by_name(environment.cluster_name()).ok_or_else(|| UnknownCluster {
            environment: environment.name.to_string(),
            cluster: environment.cluster_name().to_owned(),
            configured: self.all().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Each configured cluster with the environments of `plan` that go to it, then the
    /// environments whose cluster is not configured.
    pub fn placement<'p>(&self, plan: &'p Plan) -> (Vec<(&Cluster, Vec<&'p Environment>)>, Vec<(&'p Environment, UnknownCluster)>) {
        let mut placed: Vec<(&Cluster, Vec<&Environment>)> = self.all().map(|cluster| (cluster, Vec::new())).collect();
        let mut unknown = Vec::new();
        for environment in &plan.environments {
            match self.of(environment) {
                Ok(cluster) => {
                    if let Some((_, environments)) = placed.iter_mut().find(|(c, _)| c.name == cluster.name) {
                        environments.push(environment);
                    }
                }
                Err(error) => unknown.push((environment, error)),
            }
        }
        (placed, unknown)
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
    #[error("cluster {cluster}: {source}")]
    Named { cluster: String, source: Box<ConnectError> },
}

fn tuned(mut config: kube::Config) -> kube::Config {
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(60));
    config
}

impl Cluster {
    fn from_config(config: kube::Config, name: &str, source: String) -> Result<Cluster, ConnectError> {
        let client = Client::try_from(tuned(config)).map_err(ConnectError::Client)?;
        Ok(Cluster { client, name: name.to_owned(), source })
    }

    /// From a kubeconfig's text and an optional context (the current one otherwise).
    pub async fn from_kubeconfig_text(text: &str, context: Option<&str>, name: &str, source: &str) -> Result<Cluster, ConnectError> {
        let kubeconfig = Kubeconfig::from_yaml(text).map_err(ConnectError::Config)?;
        let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(ConnectError::Config)?;
        Cluster::from_config(config, name, source.to_owned())
    }

    /// From a kubeconfig file and an optional context (the file's current one otherwise).
    pub async fn from_kubeconfig(name: &str, path: &Path, context: Option<&str>) -> Result<Cluster, ConnectError> {
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|source| ConnectError::Kubeconfig { path: path.display().to_string(), source })?;
        let source = match context.or(kubeconfig.current_context.as_deref()) {
            Some(context) => format!("kubeconfig {}, context {context}", path.display()),
            None => format!("kubeconfig {}", path.display()),
        };
        let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|error| {
            ConnectError::Named { cluster: name.to_owned(), source: Box::new(ConnectError::Config(error)) }
        })?;
        Cluster::from_config(config, name, source)
    }

    pub fn in_cluster() -> Result<Cluster, ConnectError> {
        let config = kube::Config::incluster().map_err(ConnectError::InCluster)?;
        Cluster::from_config(config, DEFAULT_CLUSTER, "in-cluster: the pod's service account".to_owned())
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
    /// Where its connection comes from (`simulated`, `in-cluster`, a kubeconfig and context),
    /// or `not configured`.
    pub source: String,
    /// The environments that go to it.
    pub environments: Vec<String>,
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
                source: cluster.source.clone(),
                environments: Vec::new(),
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
    Capabilities {
        cluster: cluster.name.clone(),
        source: cluster.source.clone(),
        environments: Vec::new(),
        reachable: true,
        server_version: Some(version),
        capabilities,
        failure: None,
    }
}

/// Every configured cluster, asked at once, with the environments of `plan` that go to it;
/// then each cluster environments name that is not configured, with how to configure it.
pub async fn overview(clusters: &Clusters, plan: &Plan) -> Vec<Capabilities> {
    let (placed, unknown) = clusters.placement(plan);
    let asked = futures_util::future::join_all(placed.iter().map(|(cluster, _)| capabilities(cluster))).await;
    let mut overview: Vec<Capabilities> = asked
        .into_iter()
        .zip(&placed)
        .map(|(mut found, (_, environments))| {
            found.environments = environments.iter().map(|e| e.name.to_string()).collect();
            found
        })
        .collect();
    for (environment, error) in unknown {
        match overview.iter_mut().find(|c| c.cluster == error.cluster) {
            Some(missing) => missing.environments.push(environment.name.to_string()),
            None => overview.push(Capabilities {
                cluster: error.cluster.clone(),
                source: "not configured".to_owned(),
                environments: vec![environment.name.to_string()],
                reachable: false,
                server_version: None,
                capabilities: Vec::new(),
                failure: Some(Failure {
                    code: "cluster_not_configured",
                    object: format!("cluster {}", error.cluster),
                    message: error.to_string(),
                    hint: error.remedy(),
                }),
            }),
        }
    }
    overview
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
