//! The Gateway label fix: Cilium generates a LoadBalancer Service `cilium-gateway-<name>` for
//! each Gateway without the Gateway's metadata labels, so the L2 policy and BGP advertisement
//! (which select by the environment's advertisement label) miss it and the Gateway's VIP is
//! never announced. Gatehouse puts the label in the Gateway's `spec.infrastructure.labels`
//! (copied by Cilium since 1.15) and, for every Cilium version, a reconciler (a kube-runtime
//! watcher on those Services) applies the label as soon as the Service appears, again when it
//! is recreated, and again when someone removes the label.
//!
//! The fix can be switched off and on (for training: the VIP goes dark and comes back). Off,
//! the reconciler takes its label back, the Gateways lose `spec.infrastructure`, and new
//! submissions leave it out; on, all of it returns.
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::{
    Api,
    api::{DynamicObject, ListParams, Patch, PatchParams},
    core::ApiResource,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};
use sqlx::Row;
use tokio::sync::watch;

use super::{Cluster, FIELD_MANAGER, vips};
use crate::{
    audit,
    db::{Database, DbError},
    environments,
    manifests::labels::{ENVIRONMENT, MANAGED_BY, MANAGER},
};

/// The switch the running reconciler follows, shared by the API and the pages.
#[derive(Debug, Clone)]
pub struct LabelFixSwitch(pub std::sync::Arc<watch::Sender<bool>>);

/// The field manager of the labels the reconciler applies.
pub const LABEL_FIX_MANAGER: &str = "gatehouse-label-fix";
const SETTING: &str = "gateway_label_fix";
/// How often the reconciler reads the switch's setting (thrown at another replica).
const SETTING_POLL: Duration = Duration::from_secs(2);

/// Whether the fix is on (it is unless someone switched it off).
pub async fn enabled(db: &Database) -> Result<bool, DbError> {
    let row = sqlx::query("SELECT value FROM cluster_settings WHERE name = $1").bind(SETTING).fetch_optional(db.pool()).await?;
    Ok(match row {
        Some(row) => row.try_get::<String, _>("value")? != "off",
        None => true,
    })
}

/// Switches the fix; the running reconciler follows through `switch`.
pub async fn set_enabled(db: &Database, switch: &watch::Sender<bool>, caller: &crate::auth::Principal, on: bool) -> Result<(), DbError> {
    caller.require(domain::access::Role::NetworkAdmin, "switch the Gateway label fix").map_err(DbError::from)?;
    let actor = &caller.actor();
    let before = enabled(db).await?;
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM cluster_settings WHERE name = $1").bind(SETTING).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO cluster_settings (name, value) VALUES ($1, $2)")
        .bind(SETTING)
        .bind(if on { "on" } else { "off" })
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, actor, "label_fix.switch", "label-fix", Some(&json!({"enabled": before})), Some(&json!({"enabled": on})))
        .await?;
    tx.commit().await?;
    switch.send_replace(on);
    Ok(())
}

/// What the reconciler did to one generated Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The advertisement label was applied.
    Labelled,
    /// The switch is off: the reconciler took its label back.
    Unlabelled,
    /// The patch failed (it is tried again at the Service's next event).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Labelled => "labelled",
            Outcome::Unlabelled => "unlabelled",
            Outcome::Failed => "failed",
        }
    }
}

/// Told of every action with the time from the reconciler's seeing the Service to its
/// patch being answered (the server counts them for /metrics).
pub trait Observer: Send + Sync {
    /// One patch of a generated Service in `cluster` and how long it took from first sight.
    fn action(&self, cluster: &str, outcome: Outcome, latency: Duration);
}

struct Reconciler {
    cluster: Cluster,
    db: Database,
    observer: Arc<dyn Observer>,
}

/// Runs the reconciler until the switch's sender is dropped.
pub async fn run(cluster: Cluster, db: Database, mut switch: watch::Receiver<bool>, observer: Arc<dyn Observer>) {
    let reconciler = Reconciler { cluster, db, observer };
    let services: Api<Service> = Api::all(reconciler.cluster.client.clone());
    let config = watcher::Config::default().labels(vips::OWNING_GATEWAY_LABEL);
    let mut events = watcher(services, config).default_backoff().applied_objects().boxed();
    let mut on = *switch.borrow_and_update();
    // The switch may be thrown at another replica: its setting in the database is followed too.
    let mut setting = tokio::time::interval(SETTING_POLL);
    setting.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = setting.tick() => {
                if let Ok(stored) = enabled(&reconciler.db).await
                    && stored != on
                {
                    on = stored;
                    reconciler.switch(on).await;
                }
            },
            event = events.next() => match event {
                Some(Ok(service)) => reconciler.service(&service, on, Instant::now()).await,
                Some(Err(error)) => tracing::warn!(%error, "watching the Gateways' Services failed; retrying"),
                None => return,
            },
            changed = switch.changed() => {
                if changed.is_err() {
                    return;
                }
                on = *switch.borrow_and_update();
                reconciler.switch(on).await;
            }
        }
    }
}

impl Reconciler {
    async fn gateway_resource(&self) -> Result<ApiResource, kube::Error> {
        Ok(self.cluster.resource("gateway.networking.k8s.io/v1", "Gateway").await?.0)
    }

    /// The advertisement label of a Gatehouse Gateway's environment; `None` for Gateways
    /// Gatehouse did not create.
    async fn advertisement_label(&self, gateway: &DynamicObject) -> Option<(String, String)> {
        let labels = gateway.metadata.labels.clone().unwrap_or_default();
        if labels.get(MANAGED_BY).map(String::as_str) != Some(MANAGER) {
            return None;
        }
        let environment = labels.get(ENVIRONMENT)?;
        let environment = environments::get(&self.db, environment).await.ok()??;
        let label = environment.advertisement.label;
        Some((label.key.to_string(), label.value.to_string()))
    }

    /// Labels (on) or unlabels (off) one generated Service of a Gatehouse Gateway, seen at
    /// `seen`.
    async fn service(&self, service: &Service, on: bool, seen: Instant) {
        let (Some(name), Some(namespace)) = (&service.metadata.name, &service.metadata.namespace) else { return };
        let Some(gateway) = service.metadata.labels.as_ref().and_then(|l| l.get(vips::OWNING_GATEWAY_LABEL)) else { return };
        let gateways = match self.gateway_resource().await {
            Ok(resource) => Api::<DynamicObject>::namespaced_with(self.cluster.client.clone(), namespace, &resource),
            Err(error) => {
                tracing::warn!(%error, "the Gateway API is not served; the label fix waits");
                return;
            }
        };
        let Ok(Some(gateway)) = gateways.get_opt(gateway).await else { return };
        let Some((key, value)) = self.advertisement_label(&gateway).await else { return };
        let labels = service.metadata.labels.clone().unwrap_or_default();
        let owned = service.metadata.managed_fields.iter().flatten().any(|m| m.manager.as_deref() == Some(LABEL_FIX_MANAGER));
        let patch = if on && labels.get(&key) != Some(&value) {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace, "labels": {key.clone(): value}}})
        } else if !on && owned {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}})
        } else {
            return;
        };
        let services: Api<Service> = Api::namespaced(self.cluster.client.clone(), namespace);
        let outcome = match services.patch(name, &PatchParams::apply(LABEL_FIX_MANAGER).force(), &Patch::Apply(&patch)).await {
            Ok(_) if on => {
                tracing::info!(service = %name, %namespace, label = %key, "labelled the Gateway's Service");
                Outcome::Labelled
            }
            Ok(_) => {
                tracing::info!(service = %name, %namespace, "took the label fix's label back");
                Outcome::Unlabelled
            }
            Err(error) => {
                tracing::warn!(%error, service = %name, %namespace, "labelling the Gateway's Service failed");
                Outcome::Failed
            }
        };
        self.observer.action(&self.cluster.name, outcome, seen.elapsed());
    }

    /// Follows the switch: every Gatehouse Gateway's `spec.infrastructure`, then every
    /// generated Service.
    async fn switch(&self, on: bool) {
        let resource = match self.gateway_resource().await {
            Ok(resource) => resource,
            Err(error) => return tracing::warn!(%error, "the Gateway API is not served"),
        };
        let gateways = Api::<DynamicObject>::all_with(self.cluster.client.clone(), &resource);
        let listed = gateways.list(&ListParams::default().labels(&format!("{MANAGED_BY}={MANAGER}"))).await;
        for gateway in listed.map(|l| l.items).unwrap_or_default() {
            let (Some(name), Some(namespace)) = (&gateway.metadata.name, &gateway.metadata.namespace) else { continue };
            let Some((key, value)) = self.advertisement_label(&gateway).await else { continue };
            let patch = if on {
                json!({"spec": {"infrastructure": {"labels": BTreeMap::from([(key, value)])}}})
            } else {
                json!({"spec": {"infrastructure": Value::Null}})
            };
            let api = Api::<DynamicObject>::namespaced_with(self.cluster.client.clone(), namespace, &resource);
            let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
            if let Err(error) = api.patch(name, &params, &Patch::Merge(&patch)).await {
                tracing::warn!(%error, gateway = %name, %namespace, "switching the Gateway's infrastructure labels failed");
            }
        }
        let services: Api<Service> = Api::all(self.cluster.client.clone());
        let listed = services.list(&ListParams::default().labels(vips::OWNING_GATEWAY_LABEL)).await;
        for service in listed.map(|l| l.items).unwrap_or_default() {
            self.service(&service, on, Instant::now()).await;
        }
    }
}
