//! Everything the cluster and the external router need, generated from the plan.
//!
//! - [`application_bundle`]: one application in one environment, in apply order — Namespace,
//!   ConfigMap, Deployment, Service, Gateway, HTTPRoute.
//! - [`environment_cilium`]: the environment's CiliumLoadBalancerIPPools and its L2
//!   announcement policy and/or BGP resources.
//! - [`plan_bundle`]: every environment's Cilium objects, then every application bundle.
//! - [`frr_config`] and [`helm_values`]: text for the external router and for Cilium's Helm chart.
//! - [`application_bundle_with_tls`]: the same with the `kubernetes.io/tls` Secret the
//!   Gateway refers to, built from an uploaded certificate and its key ([`tls_secret`]). Only
//!   the download of one application's bundle for one environment carries a key; the whole
//!   plan's bundle never does, so dev and prod keys never travel in one file.
//!
//! Objects are typed — k8s-openapi for built-in kinds, the structs in `gateway_api` and
//! `cilium` for CRD kinds (field names as in the CRDs of `shared/crds`) — built by small pure
//! functions, and held in a [`Bundle`] as JSON values in apply order.
//!
//! # The traffic path (design choices)
//!
//! Clients reach an application through its environment's Gateway: Cilium creates a Service
//! `cilium-gateway-<app>-<env>` of type LoadBalancer for each Gateway, LB-IPAM gives it a VIP
//! from a CiliumLoadBalancerIPPool, the L2 policy (ARP) or the BGP advertisement announces the
//! VIP, and Envoy terminates TLS and forwards to the application's Service.
//!
//! - **The application's Service is `type: ClusterIP`**: the only way in from outside is the
//!   Gateway's VIP, where TLS is terminated, so plain HTTP never leaves the cluster and the
//!   application needs one VIP per environment, not two. (A second LoadBalancer Service would
//!   also race the Gateway for its requested address: LB-IPAM does not hold a requested address
//!   for a Service that has not asked yet, so an `auto` Service applied first could take it.)
//! - **A requested VIP goes on the Gateway** (`spec.addresses: [{type: IPAddress, value}]`): it
//!   is the address clients' DNS names point at. Cilium passes it to LB-IPAM for the generated
//!   Service. `auto` leaves the choice to LB-IPAM.
//! - **The advertisement label reaches the generated Service through
//!   `spec.infrastructure.labels`**: Cilium (≥ 1.15) copies those to `cilium-gateway-<name>`,
//!   but not the Gateway's `metadata.labels`. The label is on the Gateway's metadata too, for
//!   people selecting Gateways; only the advertisement label goes into `infrastructure`, so the
//!   Cilium-owned Service does not look Gatehouse-managed (a prune by `managed-by` must not
//!   delete it).
//!
//! # Labels
//!
//! Every object of an application bundle carries `app.kubernetes.io/name=<app>`,
//! `app.kubernetes.io/part-of=<app>` (Kubernetes' recommended meaning: the higher-level
//! application the object belongs to — Gatehouse is the manager, not the application),
//! `app.kubernetes.io/managed-by=gatehouse` and `gatehouse.io/environment=<env>`. Environment
//! objects (pools, announcement policies, BGP) belong to no application and carry only the
//! last two. Pods are selected by `app.kubernetes.io/name` alone, which never changes.
//!
//! # Names
//!
//! The ConfigMap is `<app>-config`, Deployment and Service are `<app>`, Gateway and HTTPRoute
//! `<app>-<env>`; cluster-scoped Cilium objects are `gatehouse-<env>` (pools keep their own
//! name). Two environments of one application therefore need separate clusters, or separate
//! namespaces: each environment names its cluster and a namespace template (`{namespace}-dev`),
//! and the objects go to the namespace it gives ([`Environment::namespace_of`]).

mod cilium;
mod cover;
mod frr;
mod gateway_api;
mod helm;
pub(crate) mod labels;
mod workload;
mod yaml;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::Value;

use domain::{AppEnvironment, Application, CertificateInfo, Environment, K8sName, Plan, VipPool};

pub use cover::cover_range;
pub use frr::frr_config;
pub use gateway_api::listener_name;
pub use helm::helm_values;
pub use workload::tls_secret;

/// Kubernetes objects in apply order, as JSON values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    objects: Vec<Value>,
}

impl Bundle {
    pub fn new() -> Self {
        Self::default()
    }

    /// The objects in apply order.
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    pub fn into_objects(self) -> Vec<Value> {
        self.objects
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Appends a typed object.
    pub fn push<T: Serialize>(&mut self, object: &T) -> Result<(), BundleError> {
        self.objects.push(serde_json::to_value(object).map_err(BundleError::Serialize)?);
        Ok(())
    }

    pub fn append(&mut self, other: Bundle) {
        self.objects.extend(other.objects);
    }

    /// A multi-document YAML stream (`---` before every document) for
    /// `kubectl apply --server-side -f -`. Keys are sorted; strings a YAML 1.1 reader (which
    /// kubectl uses) could take for something else — `no`, `on`, `0755`, `1e3` — are quoted.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for object in &self.objects {
            out.push_str("---\n");
            let _ = write!(out, "{}", yaml::Document(object));
        }
        out
    }
}

/// Why a bundle cannot be generated. Every message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("there is no application `{name}`; create it first or use one of: {known}")]
    UnknownApplication { name: String, known: String },
    #[error("there is no environment `{name}`; create it first or use one of: {known}")]
    UnknownEnvironment { name: String, known: String },
    #[error(
        "application `{application}` is not deployed to environment `{environment}`; add `{environment}` to its environments or use one of: {deployed}"
    )]
    NotDeployed { application: String, environment: String, deployed: String },
    #[error(
        "application `{application}` has no hostname in environment `{environment}`; the Gateway needs at least one HTTPS listener, so add a hostname such as {application}-{environment}.example.com"
    )]
    NoHostnames { application: String, environment: String },
    #[error(
        "application `{application}` has no certificate in environment `{environment}`; the HTTPS listener needs a TLS Secret to terminate with, so set its certificate (e.g. `{application}-tls`) and upload it"
    )]
    NoCertificate { application: String, environment: String },
    #[error(
        "application `{application}` has {count} hostnames in environment `{environment}`; an HTTPRoute takes at most {max}, so split the application or drop hostnames"
    )]
    TooManyHostnames { application: String, environment: String, count: usize, max: usize },
    #[error(
        "application `{application}` has {count} paths in environment `{environment}`; an HTTPRoute rule takes at most {max}, so use shorter common prefixes"
    )]
    TooManyPaths { application: String, environment: String, count: usize, max: usize },
    #[error(
        "the path `{path}` of application `{application}` in environment `{environment}` {reason}; the Gateway API rejects it, so normalise the path"
    )]
    InvalidRoutePath { application: String, environment: String, path: String, reason: &'static str },
    #[error(
        "the VIP {address} of application `{application}` in environment `{environment}` is in none of the environment's pools ({pools}); LB-IPAM would never assign it, so pick an address from a pool or use `auto`"
    )]
    VipOutsidePools { application: String, environment: String, address: String, pools: String },
    #[error(
        "environment `{environment}`'s namespace template `{template}` gives application `{application}` no valid namespace: {reason}; shorten the template or the application's namespace"
    )]
    Namespace { application: String, environment: String, template: String, reason: String },
    #[error(
        "environment `{environment}` announces its VIPs with ARP only; FRR is only needed for BGP, so switch the advertisement mode to `bgp` or `both` to get a router configuration"
    )]
    FrrNeedsBgp { environment: String },
    #[error(
        "environment `{environment}` uses BGP but has no BGP settings; set the local ASN and at least one peer"
    )]
    MissingBgpSettings { environment: String },
    #[error("environment `{environment}` uses BGP but has no peer; add the external router as a peer (name, ASN, address)")]
    NoBgpPeers { environment: String },
    #[error(
        "environment `{environment}` has no VIP pool; the router accepts only VIP routes, so create a pool for the environment first"
    )]
    NoVipPools { environment: String },
    #[error(
        "BGP peer `{peer}` of environment `{environment}` is reached only over IPv6 ({address}) and has no router id; FRR would use 0.0.0.0 and the nodes refuse that (\"Bad BGP Identifier\"), so give the peer a `router_id` (an IPv4 address unique among the BGP speakers)"
    )]
    NoRouterId { environment: String, peer: String, address: String },
    /// Not the user's fault: a generated object did not serialise.
    #[error("internal error while generating the bundle")]
    Serialize(#[source] serde_json::Error),
}

impl BundleError {
    /// A stable machine-readable code for the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownApplication { .. } => "unknown_application",
            Self::UnknownEnvironment { .. } => "unknown_environment",
            Self::NotDeployed { .. } => "not_deployed",
            Self::NoHostnames { .. } => "no_hostnames",
            Self::NoCertificate { .. } => "no_certificate",
            Self::TooManyHostnames { .. } => "too_many_hostnames",
            Self::TooManyPaths { .. } => "too_many_paths",
            Self::InvalidRoutePath { .. } => "invalid_route_path",
            Self::VipOutsidePools { .. } => "vip_outside_pool",
            Self::FrrNeedsBgp { .. } => "bgp_not_used",
            Self::MissingBgpSettings { .. } => "missing_bgp_settings",
            Self::NoBgpPeers { .. } => "no_bgp_peers",
            Self::NoVipPools { .. } => "no_vip_pools",
            Self::NoRouterId { .. } => "no_router_id",
            Self::Namespace { .. } => "invalid_namespace",
            Self::Serialize(_) => "internal",
        }
    }

    /// The checklist rule (`GH-…`) that reports the same problem, where there is one.
    pub fn rule(&self) -> Option<&'static str> {
        use domain::checklist::rule;
        match self {
            Self::NoHostnames { .. } | Self::NoCertificate { .. } => Some(rule::GATEWAY_TLS.id),
            Self::VipOutsidePools { .. } => Some(rule::VIP_OUTSIDE_POOL.id),
            Self::NoBgpPeers { .. } => Some(rule::BGP_PEER.id),
            Self::NoRouterId { .. } => Some(rule::BGP_ROUTER_ID.id),
            Self::Namespace { .. } => Some(rule::ENV_NAMESPACE.id),
            _ => None,
        }
    }

    /// Whether the error names something that does not exist (HTTP 404) rather than a plan
    /// that cannot be generated (HTTP 422).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::UnknownApplication { .. } | Self::UnknownEnvironment { .. })
    }
}

/// Namespace, ConfigMap, Deployment, Service, Gateway and HTTPRoute of one application in one
/// environment, in apply order — and a ReferenceGrant before the Gateway when its
/// certificate is a Secret in another namespace. Without the TLS Secret: see
/// [`application_bundle_with_tls`].
pub fn application_bundle(plan: &Plan, application: &str, environment: &str) -> Result<Bundle, BundleError> {
    application_bundle_with_tls(plan, application, environment, None)
}

/// A certificate chain and its private key, both PEM, for a `kubernetes.io/tls` Secret.
pub struct TlsPem<'a> {
    pub chain_pem: &'a str,
    pub key_pem: &'a str,
}

/// [`application_bundle`] with the `kubernetes.io/tls` Secret the Gateway terminates with,
/// built from an uploaded certificate and its key, applied before the Gateway.
pub fn application_bundle_with_tls(
    plan: &Plan,
    application: &str,
    environment: &str,
    tls: Option<TlsPem<'_>>,
) -> Result<Bundle, BundleError> {
    let target = Target::resolve(plan, application, environment)?;
    let mut bundle = Bundle::new();
    bundle.push(&workload::namespace(&target))?;
    bundle.push(&workload::config_map(&target))?;
    bundle.push(&workload::deployment(&target))?;
    bundle.push(&workload::service(&target))?;
    if let (Some(tls), Some(name)) = (tls, &target.app_env.certificate) {
        bundle.push(&tls_secret(&target.namespace, name, tls.chain_pem, tls.key_pem))?;
    }
    if let Some(grant) = gateway_api::reference_grant(&target) {
        bundle.push(&grant)?;
    }
    bundle.push(&gateway_api::gateway(&target)?)?;
    bundle.push(&gateway_api::http_route(&target)?)?;
    Ok(bundle)
}

/// The environment's CiliumLoadBalancerIPPools, then its CiliumL2AnnouncementPolicy (ARP) and/or
/// CiliumBGPClusterConfig, CiliumBGPPeerConfig and CiliumBGPAdvertisement (BGP).
pub fn environment_cilium(plan: &Plan, environment: &str) -> Result<Bundle, BundleError> {
    let env = find_environment(plan, environment)?;
    let mut bundle = Bundle::new();
    for pool in plan.pools_of(&env.name) {
        bundle.push(&cilium::ip_pool(env, pool))?;
    }
    let mode = env.advertisement.mode;
    if mode.uses_arp() {
        bundle.push(&cilium::l2_announcement_policy(env))?;
    }
    if mode.uses_bgp() {
        let bgp = bgp_settings(env)?;
        bundle.push(&cilium::bgp_cluster_config(env, bgp))?;
        bundle.push(&cilium::bgp_peer_config(env, plan.pools_of(&env.name)))?;
        bundle.push(&cilium::bgp_advertisement(env))?;
    }
    Ok(bundle)
}

/// Every environment's Cilium objects, then every application in every environment it is
/// deployed to (applications and environments in plan order).
pub fn plan_bundle(plan: &Plan) -> Result<Bundle, BundleError> {
    let mut bundle = Bundle::new();
    for env in &plan.environments {
        bundle.append(environment_cilium(plan, env.name.as_str())?);
    }
    for app in &plan.applications {
        for env in &plan.environments {
            if app.environments.contains_key(&env.name) {
                bundle.append(application_bundle(plan, app.name.as_str(), env.name.as_str())?);
            }
        }
    }
    Ok(bundle)
}

/// A custom resource: `apiVersion`, `kind`, `metadata` and the typed `spec` of a CRD kind.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomResource<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: S,
}

/// The spec of a CRD kind knows its kind.
pub(crate) trait CustomKind {
    const API_VERSION: &'static str;
    const KIND: &'static str;
}

impl<S: CustomKind> CustomResource<S> {
    pub(crate) fn new(metadata: ObjectMeta, spec: S) -> Self {
        Self { api_version: S::API_VERSION, kind: S::KIND, metadata, spec }
    }
}

/// One application in one environment, with everything its objects are built from.
pub(crate) struct Target<'a> {
    pub app: &'a Application,
    pub env: &'a Environment,
    pub app_env: &'a AppEnvironment,
    /// The application's namespace in this environment (its namespace template applied).
    pub namespace: K8sName,
    pub pools: Vec<&'a VipPool>,
    /// The stored certificate the Gateway uses, when the plan knows it.
    pub certificate: Option<&'a CertificateInfo>,
}

impl<'a> Target<'a> {
    fn resolve(plan: &'a Plan, application: &str, environment: &str) -> Result<Self, BundleError> {
        let app = plan.application(application).ok_or_else(|| BundleError::UnknownApplication {
            name: application.to_owned(),
            known: known(plan.applications.iter().map(|a| a.name.as_str())),
        })?;
        let env = find_environment(plan, environment)?;
        let app_env = app
            .environments
            .iter()
            .find_map(|(name, e)| (name.as_str() == environment).then_some(e))
            .ok_or_else(|| BundleError::NotDeployed {
                application: application.to_owned(),
                environment: environment.to_owned(),
                deployed: known(app.environments.keys().map(|n| n.as_str())),
            })?;
        let certificate = app_env.certificate.as_ref().and_then(|name| {
            plan.certificates.iter().flatten().find(|c| c.environment == env.name && &c.name == name)
        });
        let namespace = env.namespace_of(app).map_err(|error| BundleError::Namespace {
            application: application.to_owned(),
            environment: environment.to_owned(),
            template: env.namespace_template.to_string(),
            reason: error.to_string(),
        })?;
        Ok(Self { app, env, app_env, namespace, pools: plan.pools_of(&env.name).collect(), certificate })
    }

    fn error_context(&self) -> (String, String) {
        (self.app.name.to_string(), self.env.name.to_string())
    }
}

fn find_environment<'a>(plan: &'a Plan, environment: &str) -> Result<&'a Environment, BundleError> {
    plan.environments.iter().find(|e| e.name.as_str() == environment).ok_or_else(|| {
        BundleError::UnknownEnvironment {
            name: environment.to_owned(),
            known: known(plan.environments.iter().map(|e| e.name.as_str())),
        }
    })
}

fn bgp_settings(env: &Environment) -> Result<&domain::BgpSettings, BundleError> {
    env.advertisement.bgp.as_ref().ok_or_else(|| BundleError::MissingBgpSettings { environment: env.name.to_string() })
}

/// `a, b, c` for error messages, or `(none yet)`.
fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<&str> = names.collect();
    if list.is_empty() { "(none yet)".to_owned() } else { list.join(", ") }
}

/// FNV-1a, 64 bit: a short fingerprint for generated names and annotations that stays the same
/// across Rust versions and platforms (std's `DefaultHasher` does not promise that).
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}
