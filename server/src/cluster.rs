//! The cluster Gatehouse submits to — from a kubeconfig, the pod's service account, or (with
//! neither) a simulated Cilium cluster started in process — and the label fix's reconciler.
use std::{path::Path, sync::Arc};

use app::backend::{
    certificates::SecretKey,
    cluster::{
        Cluster, ConnectError,
        label_fix::{self, LabelFixSwitch},
        leader::{self, Election, LeaseSettings},
        submissions::Submitter,
    },
    db::Database,
    schema::{SchemaLoadError, SchemaRegistry},
};
use tokio::sync::watch;

use crate::{
    Config,
    metrics::Metrics,
    simcluster::{CiliumBehaviour, SimCluster},
};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the schemas for the simulated cluster: {0} (set --schemas-dir to the directory holding crds/ and kubernetes-schemas/)")]
    Schemas(#[from] SchemaLoadError),
    #[error("the simulated cluster could not start: {0}")]
    Simulated(#[source] std::io::Error),
    #[error(transparent)]
    Database(#[from] app::backend::db::DbError),
}

/// Everything cluster-related a handler may need; cheap to clone.
#[derive(Clone)]
pub struct ClusterState {
    pub submitter: Submitter,
    /// The label fix's switch; the reconciler follows it and stops when it is dropped.
    pub label_fix: LabelFixSwitch,
    /// The simulated cluster, when no real one is configured.
    pub simulated: Option<Arc<SimCluster>>,
    /// Whether this replica holds the Lease and runs the reconcilers.
    pub election: Arc<Election>,
}

impl std::fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterState")
            .field("cluster", &self.submitter.cluster.name)
            .field("simulated", &self.simulated.is_some())
            .finish_non_exhaustive()
    }
}

impl ClusterState {
    pub fn cluster(&self) -> &Cluster {
        &self.submitter.cluster
    }
}

/// The schemas, loaded once per process: they take a moment to parse, so the first caller
/// parses them on a blocking thread (not on a runtime worker that requests wait for) and the
/// others wait for it instead of parsing them again.
pub async fn schemas(dir: &Path) -> Result<Arc<SchemaRegistry>, SchemaLoadError> {
    static LOADED: tokio::sync::OnceCell<Arc<SchemaRegistry>> = tokio::sync::OnceCell::const_new();
    LOADED
        .get_or_try_init(|| {
            let (crds, core) = (dir.join("crds"), dir.join("kubernetes-schemas"));
            async move {
                tokio::task::spawn_blocking(move || {
                    SchemaRegistry::load(&crds, &core).map(Arc::new)
                })
                .await
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
            }
        })
        .await
        .cloned()
}

/// Connects to the configured cluster (or starts the simulated one), campaigns for the
/// leader Lease, and runs the label fix's reconciler while this replica leads.
pub async fn connect(
    config: &Config,
    db: &Database,
    secret_key: Arc<SecretKey>,
    metrics: Arc<Metrics>,
) -> Result<ClusterState, ClusterError> {
    let (cluster, simulated) = if config.in_cluster {
        (Cluster::in_cluster()?, None)
    } else if let Some(path) = &config.kubeconfig {
        (Cluster::from_kubeconfig(path, config.kube_context.as_deref()).await?, None)
    } else {
        let simulated = SimCluster::start_seeded(schemas(&config.schemas_dir).await?)
            .await
            .map_err(ClusterError::Simulated)?;
        simulated.set_behaviour(CiliumBehaviour {
            copies_infrastructure_labels: !config.simulated_cilium_legacy,
        });
        let cluster =
            Cluster::from_kubeconfig_text(&simulated.kubeconfig(None), None, "simulated").await?;
        tracing::info!(api_server = %simulated.url(), "no cluster configured: using a simulated Cilium cluster");
        (cluster, Some(Arc::new(simulated)))
    };
    let on = label_fix::enabled(db).await?;
    let (switch, follows) = watch::channel(on);
    let namespace = config.lease_namespace.clone().unwrap_or_else(|| cluster.client.default_namespace().to_owned());
    let election = Arc::new(Election::start(cluster.client.clone(), LeaseSettings::new(namespace, &config.lease_name)));
    tracing::info!(identity = %election.settings.identity, lease = %election.settings.name, namespace = %election.settings.namespace, "campaigning for the leader Lease");
    let (reconciled, database) = (cluster.clone(), db.clone());
    tokio::spawn(leader::while_leading(election.leading(), move || {
        let observer: Arc<dyn label_fix::Observer> = metrics.clone();
        label_fix::run(reconciled.clone(), database.clone(), follows.clone(), observer)
    }));
    let submitter = Submitter { cluster, db: db.clone(), secret_key, timeout: config.apply_timeout() };
    Ok(ClusterState { submitter, label_fix: LabelFixSwitch(Arc::new(switch)), simulated, election })
}
