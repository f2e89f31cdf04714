//! The clusters Gatehouse submits to — the default one from a kubeconfig, the pod's service
//! account, or (only with `--demo`) a simulated Cilium cluster started in process; named ones
//! from kubeconfigs or simulated — and the label fix's reconciler on each.
use std::{path::Path, sync::Arc};

use backend::{
    certificates::SecretKey,
    cluster::{
        Cluster, Clusters, ConnectError,
        label_fix::{self, LabelFixSwitch},
        leader::{self, Election, LeaseSettings},
        submissions::Submitter,
    },
    db::Database,
    schema::{SchemaLoadError, SchemaRegistry},
};
use domain::DEFAULT_CLUSTER;
use tokio::sync::watch;

use crate::{Config, metrics::Metrics};

/// A simulated cluster this portal started (`--demo`, `--simulated-cluster`).
#[cfg(feature = "demo")]
pub type Simulated = Arc<simcluster::SimCluster>;
/// Built without the `demo` feature, there are none.
#[cfg(not(feature = "demo"))]
#[derive(Debug, Clone)]
pub enum Simulated {}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the schemas for the simulated cluster: {0} (set --schemas-dir to the directory holding crds/ and kubernetes-schemas/)")]
    Schemas(#[from] SchemaLoadError),
    #[error("the simulated cluster could not start: {0}")]
    Simulated(#[source] std::io::Error),
    #[error(transparent)]
    Database(#[from] backend::db::DbError),
    #[error("this gatehouse was built without the simulated cluster (cargo feature `demo`): --demo and --simulated-cluster need it; connect a real cluster with --kubeconfig, --cluster or --in-cluster")]
    NoSimulator,
    #[error("--cluster {0} is given twice; give each cluster one name")]
    DuplicateCluster(String),
}

/// Everything cluster-related a handler may need; cheap to clone.
#[derive(Clone)]
pub struct ClusterState {
    pub submitter: Submitter,
    /// The label fix's switch; the reconciler follows it and stops when it is dropped.
    pub label_fix: LabelFixSwitch,
    /// The simulated clusters: the default one when no real one is configured, and those
    /// of --simulated-cluster.
    pub simulated: Vec<Simulated>,
    /// Whether this replica holds the Lease and runs the reconcilers; `None` when no cluster
    /// is configured at all.
    pub election: Option<Arc<Election>>,
}

impl std::fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterState")
            .field("clusters", &self.submitter.clusters)
            .field("simulated", &self.simulated.len())
            .finish_non_exhaustive()
    }
}

impl ClusterState {
    pub fn clusters(&self) -> &Clusters {
        &self.submitter.clusters
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
    let mut simulated = Vec::new();
    let cluster = if config.in_cluster {
        Some(Cluster::in_cluster()?)
    } else if let Some(path) = &config.kubeconfig {
        Some(Cluster::from_kubeconfig(DEFAULT_CLUSTER, path, config.kube_context.as_deref()).await?)
    } else if config.demo {
        let (cluster, sim) = start_simulated(config, DEFAULT_CLUSTER).await?;
        simulated.push(sim);
        Some(cluster)
    } else {
        // A portal started without a cluster must not submit to a stand-in: every submission
        // to the default cluster is refused, saying what to configure.
        tracing::warn!(
            "no default cluster is configured: submissions to environments on it are refused until Gatehouse is started with --kubeconfig or --in-cluster (or --demo, for a simulated cluster)"
        );
        None
    };
    let mut named: Vec<Cluster> = Vec::with_capacity(config.clusters.len() + config.simulated_clusters.len());
    let taken = |named: &[Cluster], name: &str| {
        if named.iter().any(|c| c.name == name) { Err(ClusterError::DuplicateCluster(name.to_owned())) } else { Ok(()) }
    };
    for spec in &config.clusters {
        taken(&named, &spec.name)?;
        named.push(Cluster::from_kubeconfig(&spec.name, &spec.kubeconfig, spec.context.as_deref()).await?);
    }
    for name in &config.simulated_clusters {
        taken(&named, name)?;
        let (cluster, sim) = start_simulated(config, name).await?;
        named.push(cluster);
        simulated.push(sim);
    }
    let clusters = Clusters::new(cluster, named);
    let on = label_fix::enabled(db).await?;
    let (switch, follows) = watch::channel(on);
    // The replicas elect their leader on the default cluster (the first named one without
    // it); the leader runs the label fix on every cluster. With no cluster there is nothing
    // to lead.
    let election = clusters.default_cluster().or_else(|| clusters.all().next()).map(|home| {
        let namespace = config.lease_namespace.clone().unwrap_or_else(|| home.client.default_namespace().to_owned());
        let election = Arc::new(Election::start(home.client.clone(), LeaseSettings::new(namespace, &config.lease_name)));
        tracing::info!(identity = %election.settings.identity, lease = %election.settings.name, namespace = %election.settings.namespace, cluster = %home.name, "campaigning for the leader Lease");
        election
    });
    for (cluster, election) in clusters.all().zip(std::iter::repeat(election.clone()).flatten()) {
        tracing::info!(cluster = %cluster.name, source = %cluster.source, "submitting to this cluster");
        let (reconciled, database, follows, metrics) = (cluster.clone(), db.clone(), follows.clone(), metrics.clone());
        tokio::spawn(leader::while_leading(election.leading(), move || {
            let observer: Arc<dyn label_fix::Observer> = metrics.clone();
            label_fix::run(reconciled.clone(), database.clone(), follows.clone(), observer)
        }));
    }
    let submitter =
        Submitter { clusters, db: db.clone(), secret_key, timeout: config.apply_timeout(), tenancy: Arc::new(config.tenancy()), jobs: Default::default() };
    Ok(ClusterState { submitter, label_fix: LabelFixSwitch(Arc::new(switch)), simulated, election })
}

/// Starts a simulated Cilium cluster in process and a client of it named `name`.
#[cfg(feature = "demo")]
async fn start_simulated(config: &Config, name: &str) -> Result<(Cluster, Simulated), ClusterError> {
    use simcluster::{CiliumBehaviour, SimCluster};
    let simulated = SimCluster::start_seeded(schemas(&config.schemas_dir).await?).await.map_err(ClusterError::Simulated)?;
    simulated.set_behaviour(CiliumBehaviour { copies_infrastructure_labels: !config.simulated_cilium_legacy, ..CiliumBehaviour::default() });
    let cluster = Cluster::from_kubeconfig_text(&simulated.kubeconfig(None), None, name, "simulated").await?;
    tracing::info!(cluster = %name, api_server = %simulated.url(), "using a simulated Cilium cluster");
    Ok((cluster, Arc::new(simulated)))
}

#[cfg(not(feature = "demo"))]
async fn start_simulated(_: &Config, _: &str) -> Result<(Cluster, Simulated), ClusterError> {
    Err(ClusterError::NoSimulator)
}
