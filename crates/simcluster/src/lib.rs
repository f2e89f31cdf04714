//! A simulated Kubernetes cluster running Cilium, in process: an HTTP server on 127.0.0.1
//! speaking the Kubernetes API for the kinds Gatehouse uses, driven by the real kube client.
//!
//! The run command starts one when no cluster is configured, so the portal can be tried
//! (and taught with) without a cluster; the integration tests use it as their cluster.
//! Objects are checked strictly against the real schemas (`backend::schema`) and
//! rejected with 422 as an API server would; server-side apply tracks field managers
//! (`backend::cluster::fields`); the controllers in `cilium` do what Kubernetes and Cilium do where Gatehouse
//! depends on it.
mod admission;
mod cel;
mod cilium;
mod datapath;
mod http;
mod rbac;
mod store;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use backend::{
    cluster::vips::{Announcement, announcement, assigned_address, labels_of},
    schema::SchemaRegistry,
};
pub use admission::Admission;
pub use cilium::CiliumBehaviour;
pub use rbac::{Identity, Rbac};
use serde_json::{Value, json};
use store::{Change, Key, Store, kind_index};
use tokio::{net::TcpListener, sync::oneshot};

/// Who may do what, for the failure cases an operator meets with a real cluster.
#[derive(Debug, Clone)]
pub struct Access {
    /// When set, requests must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// The token no longer works (answered 401, as expired credentials are).
    pub expired: bool,
    /// Who the requests are authenticated as: the user 403 answers name, and whom RBAC asks about.
    pub identity: Identity,
    /// When set, every resource request must be allowed by these RBAC objects (rendered
    /// ClusterRoles, Roles and their bindings) for `identity`, or it is answered 403 with the
    /// API server's Status. Discovery is allowed to everyone, as the default
    /// `system:discovery` binding does.
    pub rbac: Option<Rbac>,
    /// `(verb, plural)` pairs refused whatever RBAC says (answered 403).
    pub forbidden: Vec<(String, String)>,
    /// When set, every write (create, update, patch, delete) that RBAC allowed must pass these
    /// ValidatingAdmissionPolicies for `identity`, as the API server's admission evaluates
    /// them (`admission`), or it is refused with the policy's Status.
    pub admission: Option<Admission>,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            token: None,
            expired: false,
            identity: Identity { user: "gatehouse".to_owned(), groups: vec!["system:authenticated".to_owned()] },
            rbac: None,
            forbidden: Vec::new(),
            admission: None,
        }
    }
}

/// One kind of request the cluster answered: what RBAC would have to allow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiRequest {
    pub verb: String,
    /// The API group; empty for the core group.
    pub group: String,
    pub resource: String,
    /// `None` for cluster-scoped resources and requests across all namespaces.
    pub namespace: Option<String>,
}

/// One write the cluster was asked for (not a dry run), in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// `apply` (server-side apply), `patch`, `create`, `update` or `delete`.
    pub verb: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The field manager named; empty for a delete.
    pub manager: String,
}

pub(crate) struct Shared {
    store: Mutex<Store>,
    writes: Mutex<Vec<Write>>,
    access: Mutex<Access>,
    behaviour: Mutex<CiliumBehaviour>,
    requests: Mutex<std::collections::BTreeSet<ApiRequest>>,
    /// The 403 Status messages sent, in order.
    refusals: Mutex<Vec<String>>,
    /// The VIPs served on loopback (`datapath`).
    datapath: datapath::Datapath,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn access(&self) -> MutexGuard<'_, Access> {
        self.access.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn behaviour(&self) -> CiliumBehaviour {
        *self.behaviour.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One LoadBalancer Service's VIP as the simulated Cilium sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VipState {
    pub namespace: String,
    pub service: String,
    pub address: Option<String>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub announcement: Announcement,
}

impl VipState {
    /// Reachable from outside: assigned and announced by ARP or BGP.
    pub fn is_announced(&self) -> bool {
        self.address.is_some() && self.announcement.is_announced()
    }
}

/// A running simulated cluster; stops when dropped.
pub struct SimCluster {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

impl SimCluster {
    /// Starts an empty cluster on 127.0.0.1, port 0.
    pub async fn start(registry: Arc<SchemaRegistry>) -> std::io::Result<SimCluster> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(registry)),
            writes: Mutex::new(Vec::new()),
            access: Mutex::new(Access::default()),
            behaviour: Mutex::new(CiliumBehaviour::default()),
            requests: Mutex::new(std::collections::BTreeSet::new()),
            refusals: Mutex::new(Vec::new()),
            datapath: datapath::Datapath::default(),
        });
        datapath::follow(Arc::downgrade(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(shared.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "the simulated cluster stopped serving");
            }
        });
        Ok(SimCluster { addr, shared, _stop: stop })
    }

    /// Starts a cluster seeded like a small Cilium cluster: three Ready nodes on
    /// 192.168.101.0/24 (the demo plan's node subnet), the `default` and `kube-system`
    /// namespaces and the GatewayClass `cilium` (accepted by Cilium's Gateway controller).
    pub async fn start_seeded(registry: Arc<SchemaRegistry>) -> std::io::Result<SimCluster> {
        let cluster = SimCluster::start(registry).await?;
        for (i, name) in cilium::NODES.iter().enumerate() {
            cluster.apply_as(
                "kubelet",
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name,
                       "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
                       "spec": {"podCIDR": cilium::node_pod_cidr(i)}}),
            );
        }
        for namespace in ["default", "kube-system"] {
            cluster.apply_as("kubeadm", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}));
        }
        cluster.apply_as(
            "cilium-operator",
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                   "metadata": {"name": "cilium"}, "spec": {"controllerName": cilium::CONTROLLER_NAME}}),
        );
        Ok(cluster)
    }

    /// Applies an object directly (as its field manager), the way an operator with kubectl
    /// would; panics on a rejected object, since callers seed known-good ones.
    fn apply_as(&self, manager: &str, object: Value) {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut store = self.shared.store();
        if let Err(error) = store.write(Key::new(kind_index(&kind), &namespace, &name), manager, Change::Apply { force: true, patch: object }, false) {
            tracing::error!(kind, name, error = %error.message, "seeding the simulated cluster failed");
        }
        cilium::reconcile(&mut store, self.shared.behaviour());
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig for this cluster, with a bearer token when given.
    pub fn kubeconfig(&self, token: Option<&str>) -> String {
        let user = match token {
            Some(token) => json!({"name": "gatehouse", "user": {"token": token}}),
            None => json!({"name": "gatehouse", "user": {}}),
        };
        let config = json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "simulated",
            "clusters": [{"name": "simulated", "cluster": {"server": self.url()}}],
            "users": [user],
            "contexts": [{"name": "simulated", "context": {"cluster": "simulated", "user": "gatehouse"}}],
        });
        // JSON is YAML; kubeconfig readers take either.
        config.to_string()
    }

    /// Changes who may do what (401 and 403 answers).
    pub fn set_access(&self, access: Access) {
        *self.shared.access() = access;
    }

    /// Every kind of request answered so far (verb, resource, namespace), each once.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.shared.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect()
    }

    /// The namespace (empty when cluster-scoped) and name of every object of `kind` stored now.
    pub fn names(&self, kind: &str) -> Vec<(String, String)> {
        self.shared.store().all(kind).into_iter().map(|(key, _)| (key.namespace.clone(), key.name.clone())).collect()
    }

    /// Every write asked for so far (dry runs left out), in arrival order.
    pub fn writes(&self) -> Vec<Write> {
        self.shared.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The message of every request refused with 403 so far, in order.
    pub fn refusals(&self) -> Vec<String> {
        self.shared.refusals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn set_behaviour(&self, behaviour: CiliumBehaviour) {
        *self.shared.behaviour.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = behaviour;
    }

    /// Every LoadBalancer Service's VIP: its address and which L2 announcement policies and
    /// BGP advertisements select it.
    pub fn vips(&self) -> Vec<VipState> {
        let store = self.shared.store();
        let values = |kind: &str| -> Vec<Value> { store.all(kind).into_iter().map(|(_, v)| v).collect() };
        let l2 = values("CiliumL2AnnouncementPolicy");
        let bgp = values("CiliumBGPAdvertisement");
        store
            .all("Service")
            .into_iter()
            .filter(|(_, s)| s.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer"))
            .map(|(key, service)| {
                let labels = labels_of(&service);
                VipState {
                    namespace: key.namespace.clone(),
                    service: key.name.clone(),
                    address: assigned_address(&service),
                    announcement: announcement(&labels, &l2, &bgp),
                    labels,
                }
            })
            .collect()
    }

    /// One Service's VIP state.
    pub fn vip(&self, namespace: &str, service: &str) -> Option<VipState> {
        self.vips().into_iter().find(|v| v.namespace == namespace && v.service == service)
    }

    /// The data path: every VIP that is assigned to a Gateway's generated Service and
    /// announced, mapped to the loopback address that serves it (TLS by the Gateway's
    /// listeners, HTTP by its HTTPRoutes). A VIP missing here refuses connections.
    pub fn datapath(&self) -> std::collections::BTreeMap<String, SocketAddr> {
        datapath::sync(&self.shared)
    }

    /// Makes the built-in backend answer `status` under the path prefix (`None`: as usual).
    pub fn set_backend_status(&self, prefix: &str, status: Option<u16>) {
        self.shared.datapath.set_status(prefix, status);
    }
}
