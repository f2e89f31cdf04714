//! Touch only what Gatehouse made (issue 17).
//!
//! An object in a cluster is Gatehouse's when it carries `app.kubernetes.io/managed-by:
//! gatehouse` **and** field manager `gatehouse` holds fields of it ([`is_managed`]). Both,
//! because either alone is easily had: anyone can set a label, and server-side apply makes
//! `gatehouse` a co-owner of any object whose fields happen to agree with the bundle's.
//!
//! - **Apply** reads every object of a submission before it writes any ([`Submitter::survey`]).
//!   One that exists and is not Gatehouse's refuses the whole submission: its row says
//!   `unmanaged` with one sentence naming it and the way out, the others `skipped`, and nothing
//!   is written. Server-side apply without `force` would not refuse by itself: it conflicts
//!   only on fields whose values differ, and silently shares the rest.
//! - **Adopt** ([`Submitter::adopt`], network admins): Gatehouse labels the named objects
//!   (server-side apply with `force` of its labels only, so nothing else changes yet), records
//!   the adoption and the audit entry; the next submission that applies an adopted object
//!   applies it with `force`, taking over the fields another manager holds, and marks the
//!   adoption done. So in a protected environment the object's content still changes only
//!   through an approved submission.
//! - **Teardown** deletes an object only when it is Gatehouse's, in the application's
//!   namespace (and the ReferenceGrant Gatehouse put beside a certificate's Secret); anything
//!   else is `kept`, saying why.
//! - **Namespaces**: a submission that creates the application's Namespace (none existed when
//!   it was read, and the API server's answer names `gatehouse` as its only manager) records it
//!   with its uid (`created_namespaces`). A teardown deletes the Namespace only when it is that
//!   Namespace — same uid — and nothing in it is someone else's ([`Submitter::strangers_in`]):
//!   deleting a Namespace deletes everything in it.
//!
//! What "nothing in it is someone else's" can see is bounded by Gatehouse's RBAC, on purpose:
//! it lists ConfigMaps, Services, Pods, Deployments, Gateways and HTTPRoutes. It cannot list
//! Secrets (that would let it read every Secret of the cluster) nor kinds it never uses.
use std::collections::BTreeSet;

use kube::api::{ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use super::{ObjectState, SubmissionObject, SubmissionStatus, SubmitError, Submitter, Vip, describe, get, identity, text};
use crate::{
    audit,
    auth::Principal,
    cluster::{Cluster, FIELD_MANAGER, failure::{self, Failure}},
    db::{DbError, now_text},
    manifests::labels::{MANAGED_BY, MANAGER},
    plan,
    policy::Denied,
};
use domain::{FieldError, access::Role};

/// Whether the object carries `app.kubernetes.io/managed-by: gatehouse`.
pub fn labelled(object: &Value) -> bool {
    object.pointer("/metadata/labels").and_then(|labels| labels.get(MANAGED_BY)).and_then(Value::as_str) == Some(MANAGER)
}

/// The field managers of a live object, each once, in order.
pub fn managers(object: &Value) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for entry in object.pointer("/metadata/managedFields").and_then(Value::as_array).into_iter().flatten() {
        if let Some(manager) = entry.get("manager").and_then(Value::as_str)
            && !found.iter().any(|m| m == manager)
        {
            found.push(manager.to_owned());
        }
    }
    found
}

/// Whether Gatehouse made (or was let adopt) this live object: its label and its field manager.
pub fn is_managed(object: &Value) -> bool {
    labelled(object) && managers(object).iter().any(|manager| manager == FIELD_MANAGER)
}

/// Why a live object is not Gatehouse's, for the parenthesis of a refusal.
fn why_not_ours(live: &Value) -> String {
    if !labelled(live) {
        return format!("no {MANAGED_BY}: {MANAGER} label");
    }
    let managers = managers(live);
    let by = if managers.is_empty() { "no field manager is recorded".to_owned() } else { format!("it was written by {}", managers.join(", ")) };
    format!("it carries {MANAGED_BY}: {MANAGER}, but field manager {FIELD_MANAGER} holds none of its fields; {by}")
}

/// The other way out of a refusal besides adopting, by kind.
fn or_else(kind: &str) -> &'static str {
    match kind {
        "Namespace" => "or give the application another namespace (its namespace, or the environment's namespace template)",
        "CiliumLoadBalancerIPPool" => "or rename the environment's pool",
        kind if kind.starts_with("Cilium") => "or rename the environment",
        _ => "or rename the application",
    }
}

/// The one-sentence refusal to take `live` over.
pub fn refusal(target: &SubmissionObject, live: &Value, application: &str, environment: &str) -> String {
    let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
    format!(
        "{label} exists and Gatehouse did not create it ({}); a network admin can adopt it with POST /api/v1/applications/{application}/environments/{environment}/adopt {{\"objects\": [{{\"kind\": \"{}\", \"name\": \"{}\"}}]}} (Adopt on the Applications page), {}",
        why_not_ours(live),
        target.kind,
        target.name,
        or_else(&target.kind)
    )
}

/// The live object's metadata (`{"metadata": …}`: labels, field managers, uid, owners),
/// `None` when there is none. Only the metadata is asked for, so no one else's Secret or
/// ConfigMap data reaches Gatehouse.
async fn read(cluster: &Cluster, target: &SubmissionObject) -> Result<Option<Value>, kube::Error> {
    let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
    let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
    Ok(api.get_metadata_opt(&target.name).await?.map(|live| json!({"metadata": live.metadata})))
}

/// What an apply learned about the live objects before it wrote any.
#[derive(Debug, Default)]
pub(super) struct Survey {
    /// Per object: whether it existed; `None` when it could not be read (the apply says why).
    existed: Vec<Option<bool>>,
    /// Per object: the adoption this apply completes, applying the object with `force`.
    adoptions: Vec<Option<i64>>,
}

impl Survey {
    pub(super) fn force(&self, position: usize) -> bool {
        self.adoptions.get(position).is_some_and(Option::is_some)
    }
}

/// Why a teardown deletes an object or leaves it.
pub(super) enum Verdict {
    Delete,
    /// Already gone; the API server's words.
    Gone(String),
    /// Not Gatehouse's to delete: why, in a sentence.
    Keep(String),
    /// The object could not be read.
    Failed(kube::Error),
}

/// The kinds a teardown looks through before it deletes a Namespace, and the only ones whose
/// owner references it can follow.
const LOOKED_AT: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
];

/// The ConfigMap kube-controller-manager puts in every Namespace.
const ROOT_CA: &str = "kube-root-ca.crt";

fn uid(object: &Value) -> Option<&str> {
    object.pointer("/metadata/uid").and_then(Value::as_str)
}

impl Submitter {
    /// Reads every object before any is applied. `None` — with the refusal recorded — when
    /// one exists that Gatehouse does not manage: then nothing is applied.
    pub(super) async fn survey(&self, cluster: &Cluster, id: i64, objects: &[Value]) -> Option<Survey> {
        let (application, environment) = match get(&self.db, id).await {
            Ok(Some(submission)) => (submission.application, submission.environment),
            _ => (String::new(), String::new()),
        };
        let mut survey = Survey::default();
        let mut refused = Vec::new();
        for (position, object) in objects.iter().enumerate() {
            let target = identity(object);
            match read(cluster, &target).await {
                Ok(None) => survey.existed.push(Some(false)),
                Ok(Some(live)) => {
                    survey.existed.push(Some(true));
                    if !is_managed(&live) {
                        refused.push((position, refusal(&target, &live, &application, &environment), live));
                    }
                }
                // The apply meets the same failure and explains it.
                Err(_) => survey.existed.push(None),
            }
            let adoption = self.pending_adoption(&cluster.name, &target).await.unwrap_or_else(|error| {
                tracing::error!(%error, id, "reading the adoptions failed");
                None
            });
            survey.adoptions.push(adoption);
        }
        let Some((_, first, _)) = refused.first() else { return Some(survey) };
        let message = if refused.len() == 1 {
            format!("{first} (unmanaged_object); nothing was applied")
        } else {
            let names: Vec<String> = refused
                .iter()
                .map(|(position, _, _)| {
                    let target = identity(&objects[*position]);
                    describe(&target.kind, target.namespace.as_deref(), &target.name)
                })
                .collect();
            format!(
                "{} objects exist that Gatehouse did not create ({}), and each one's row says how to adopt it (unmanaged_object); nothing was applied",
                refused.len(),
                names.join(", ")
            )
        };
        let reason = format!("not applied: {} of this submission {} that Gatehouse did not create", domain::counted(refused.len(), "object"), if refused.len() == 1 { "exists" } else { "exist" });
        for position in 0..objects.len() {
            match refused.iter().find(|(refused, _, _)| *refused == position) {
                Some((_, sentence, live)) => {
                    let answer = format!(
                        "labels {}; field managers {}",
                        live.pointer("/metadata/labels").map_or_else(|| "none".to_owned(), Value::to_string),
                        managers(live).join(", ")
                    );
                    self.set_object(id, position, ObjectState::Unmanaged, sentence, Some(&answer)).await;
                }
                None => self.set_object(id, position, ObjectState::Skipped, &reason, None).await,
            }
        }
        self.finish(id, SubmissionStatus::Failed, &message).await;
        None
    }

    /// After an object was applied: the adoption it completes is done, and a Namespace it
    /// created is recorded as Gatehouse's.
    pub(super) async fn applied(&self, cluster: &Cluster, id: i64, position: usize, written: &Value, survey: &Survey, dry_run: bool) {
        if dry_run {
            return;
        }
        if let Some(Some(adoption)) = survey.adoptions.get(position) {
            let done = sqlx::query("UPDATE adoptions SET applied_by = $1 WHERE id = $2 AND applied_by IS NULL")
                .bind(id)
                .bind(adoption)
                .execute(self.db.pool())
                .await;
            if let Err(error) = done {
                tracing::error!(%error, id, adoption, "recording an adoption as applied failed");
            }
        }
        let created = text(written, "/kind") == "Namespace"
            && survey.existed.get(position) == Some(&Some(false))
            && managers(written) == [FIELD_MANAGER];
        if let (true, Some(uid)) = (created, uid(written)) {
            let recorded = sqlx::query(
                "INSERT INTO created_namespaces (cluster, namespace, uid, submission_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (cluster, namespace) DO UPDATE SET uid = excluded.uid, submission_id = excluded.submission_id, \
                 created_at = excluded.created_at",
            )
            .bind(&cluster.name)
            .bind(text(written, "/metadata/name"))
            .bind(uid)
            .bind(id)
            .bind(now_text())
            .execute(self.db.pool())
            .await;
            if let Err(error) = recorded {
                tracing::error!(%error, id, "recording a created Namespace failed");
            }
        }
    }

    /// The adoption of this object that no submission has applied yet.
    pub(super) async fn pending_adoption(&self, cluster: &str, target: &SubmissionObject) -> Result<Option<i64>, DbError> {
        let row = sqlx::query(
            "SELECT id FROM adoptions WHERE cluster = $1 AND kind = $2 AND namespace = $3 AND name = $4 AND applied_by IS NULL \
             ORDER BY id DESC",
        )
        .bind(cluster)
        .bind(&target.kind)
        .bind(target.namespace.as_deref().unwrap_or_default())
        .bind(&target.name)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|row| row.try_get("id")).transpose()?)
    }

    /// Whether a teardown may delete this object, and if not, why.
    pub(super) async fn verdict(&self, cluster: &Cluster, target: &SubmissionObject, app_namespace: Option<&str>) -> Verdict {
        let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
        if let (Some(namespace), Some(app_namespace)) = (target.namespace.as_deref(), app_namespace)
            && namespace != app_namespace
            && target.kind != "ReferenceGrant"
        {
            return Verdict::Keep(format!("{label} is left in place: it is not in the application's namespace {app_namespace}"));
        }
        let live = match read(cluster, target).await {
            Ok(Some(live)) => live,
            Ok(None) => return Verdict::Gone(format!("{label} does not exist")),
            Err(error) => return Verdict::Failed(error),
        };
        if !is_managed(&live) {
            return Verdict::Keep(format!("{label} is left in place: Gatehouse did not create it ({})", why_not_ours(&live)));
        }
        if target.kind != "Namespace" {
            return Verdict::Delete;
        }
        let recorded = match self.created_namespace(&cluster.name, &target.name).await {
            Ok(recorded) => recorded,
            Err(error) => {
                tracing::error!(%error, "reading the created Namespaces failed");
                return Verdict::Keep(format!("{label} is left in place: Gatehouse could not read its record of the Namespaces it created"));
            }
        };
        match recorded {
            None => {
                return Verdict::Keep(format!(
                    "{label} is left in place: Gatehouse has no record of creating it (it existed before Gatehouse first applied there, or was created before Gatehouse kept such records); delete it yourself once nothing in it is needed"
                ));
            }
            Some(recorded) if Some(recorded.as_str()) != uid(&live) => {
                return Verdict::Keep(format!(
                    "{label} is left in place: it is not the Namespace Gatehouse created (that one was deleted, and this one made since)"
                ));
            }
            Some(_) => {}
        }
        match self.strangers_in(cluster, &target.name).await {
            Ok(strangers) if strangers.is_empty() => Verdict::Delete,
            Ok(strangers) => Verdict::Keep(format!(
                "{label} is left in place: it still holds objects Gatehouse did not create ({}), which deleting it would delete too; delete them first, or the Namespace yourself",
                strangers.join(", ")
            )),
            Err(error) => Verdict::Keep(format!(
                "{label} is left in place: Gatehouse could not look at what else is in it ({})",
                failure::explain(&error, &label)
            )),
        }
    }

    /// What Gatehouse recorded of creating this Namespace: its uid then.
    async fn created_namespace(&self, cluster: &str, namespace: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT uid FROM created_namespaces WHERE cluster = $1 AND namespace = $2")
            .bind(cluster)
            .bind(namespace)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(|row| row.try_get("uid")).transpose()?)
    }

    /// After the Namespace was deleted: no longer Gatehouse's.
    pub(super) async fn forget_namespace(&self, cluster: &str, namespace: &str) {
        let forgotten = sqlx::query("DELETE FROM created_namespaces WHERE cluster = $1 AND namespace = $2")
            .bind(cluster)
            .bind(namespace)
            .execute(self.db.pool())
            .await;
        if let Err(error) = forgotten {
            tracing::error!(%error, namespace, "forgetting a deleted Namespace failed");
        }
    }

    /// The objects in `namespace` that are not Gatehouse's, as `Kind namespace/name`: not
    /// labelled `managed-by: gatehouse` (Pods take the label from their Deployment's
    /// template), not the `kube-root-ca.crt` ConfigMap every Namespace gets, and not owned by
    /// a Gatehouse object or by one already deleted (garbage collection takes those, as it
    /// takes Cilium's Service of a deleted Gateway). Only the kinds of [`LOOKED_AT`] are seen;
    /// a kind the cluster does not serve is passed over.
    pub(super) async fn strangers_in(&self, cluster: &Cluster, namespace: &str) -> Result<Vec<String>, kube::Error> {
        let mut listed: Vec<(String, Value)> = Vec::new();
        for (api_version, kind) in LOOKED_AT {
            let (resource, capabilities) = match cluster.resource(api_version, kind).await {
                Ok(found) => found,
                Err(kube::Error::Discovery(_)) => continue,
                Err(error) => return Err(error),
            };
            let api = cluster.api(&resource, &capabilities, Some(namespace));
            for object in api.list_metadata(&ListParams::default()).await?.items {
                listed.push(((*kind).to_owned(), json!({"metadata": object.metadata})));
            }
        }
        let all: BTreeSet<&str> = listed.iter().filter_map(|(_, object)| uid(object)).collect();
        let ours: BTreeSet<&str> = listed.iter().filter(|(_, object)| labelled(object)).filter_map(|(_, object)| uid(object)).collect();
        let seen_kinds: BTreeSet<&str> = LOOKED_AT.iter().map(|(_, kind)| *kind).collect();
        let owned_by_us_or_gone = |object: &Value| {
            let owners = object.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
            !owners.is_empty()
                && owners.iter().all(|owner| {
                    let owner_uid = text(owner, "/uid");
                    ours.contains(owner_uid) || (seen_kinds.contains(text(owner, "/kind")) && !all.contains(owner_uid))
                })
        };
        let every_namespace_has = |kind: &str, object: &Value| kind == "ConfigMap" && text(object, "/metadata/name") == ROOT_CA;
        Ok(listed
            .iter()
            .filter(|(kind, object)| !(labelled(object) || every_namespace_has(kind, object) || owned_by_us_or_gone(object)))
            .map(|(kind, object)| describe(kind, Some(namespace), text(object, "/metadata/name")))
            .collect())
    }
}

/// One object a network admin asks Gatehouse to adopt: an object of the application's bundle
/// in the environment (or of the environment's pools and policies), by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    pub kind: String,
    pub name: String,
    /// Only needed when two objects of the kind share the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// What adopting one object did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adopted {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// `adopted`, or `already_managed` (Gatehouse's already; nothing was done).
    pub outcome: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Denied(#[from] Denied),
    /// A field of the request names nothing Gatehouse would apply there.
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// The object does not exist in the cluster: there is nothing to adopt.
    #[error("{0}")]
    Missing(String),
    /// The cluster refused, or could not be asked.
    #[error("{0}")]
    Cluster(Failure),
}

impl From<DbError> for AdoptError {
    fn from(error: DbError) -> AdoptError {
        AdoptError::Submit(SubmitError::Db(error))
    }
}

impl Submitter {
    /// Lets Gatehouse take over existing objects it did not create, so that a submission may
    /// apply them: network admins (and admins) only. Each named object must be one the
    /// application's submission to `environment` applies, and must exist. Gatehouse puts its
    /// labels on it now (server-side apply with `force`, of the labels alone) and records the
    /// adoption with an audit entry; the next submission applies Gatehouse's version of it
    /// with `force` — through approval in a protected environment, like any other change.
    pub async fn adopt(&self, caller: &Principal, application: &str, environment: &str, names: &[ObjectRef]) -> Result<Vec<Adopted>, AdoptError> {
        caller.require(Role::NetworkAdmin, "adopt objects Gatehouse did not create")?;
        if names.is_empty() {
            return Err(AdoptError::Invalid(FieldError::new(
                "objects",
                "required",
                "name the objects to adopt, e.g. {\"objects\": [{\"kind\": \"Service\", \"name\": \"api\"}]}",
            )));
        }
        let plan = plan::load_from(&self.db).await.map_err(SubmitError::from)?;
        // The same placement checks as a submission's: a reserved namespace is never adopted into.
        self.allowed(caller, &plan, application, environment)?;
        let cluster = self.cluster_of(&plan, environment)?;
        let plan = self.with_vip(&plan, application, environment, &cluster, Vip::Preview).await?;
        let objects = self.objects(&plan, application, environment).await?;
        let mut chosen = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let found = objects.iter().find(|object| {
                let target = identity(object);
                target.kind == name.kind
                    && target.name == name.name
                    && name.namespace.as_ref().is_none_or(|namespace| target.namespace.as_ref() == Some(namespace))
            });
            let Some(object) = found else {
                let listed: Vec<String> = objects
                    .iter()
                    .map(|object| {
                        let target = identity(object);
                        describe(&target.kind, target.namespace.as_deref(), &target.name)
                    })
                    .collect();
                return Err(AdoptError::Invalid(FieldError::new(
                    format!("objects[{index}]"),
                    "not_in_bundle",
                    format!(
                        "{} {} is not an object Gatehouse applies for {application} in {environment}; those are: {}",
                        name.kind,
                        name.name,
                        listed.join(", ")
                    ),
                )));
            };
            chosen.push(object.clone());
        }
        let mut adopted = Vec::new();
        for object in &chosen {
            adopted.push(self.adopt_one(caller, &cluster, application, environment, object).await?);
        }
        Ok(adopted)
    }

    async fn adopt_one(&self, caller: &Principal, cluster: &Cluster, application: &str, environment: &str, object: &Value) -> Result<Adopted, AdoptError> {
        let target = identity(object);
        let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
        let done = |outcome, message: String| Adopted {
            api_version: target.api_version.clone(),
            kind: target.kind.clone(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            outcome,
            message,
        };
        let live = match read(cluster, &target).await {
            Ok(Some(live)) => live,
            Ok(None) => {
                return Err(AdoptError::Missing(format!(
                    "{label} does not exist in cluster {}, so there is nothing to adopt; submit the application to create it",
                    cluster.name
                )));
            }
            Err(error) => return Err(AdoptError::Cluster(failure::explain(&error, &label))),
        };
        if is_managed(&live) {
            return Ok(done("already_managed", format!("{label} is Gatehouse's already; nothing was done")));
        }
        let mut metadata = json!({"name": target.name, "labels": object.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}))});
        if let Some(namespace) = &target.namespace {
            metadata["namespace"] = json!(namespace);
        }
        let patch = json!({"apiVersion": target.api_version, "kind": target.kind, "metadata": metadata});
        let written = async {
            let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
            let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
            api.patch(&target.name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await
        }
        .await
        .map_err(|error| AdoptError::Cluster(failure::explain(&error, &label)))?;
        let written = serde_json::to_value(written).unwrap_or(Value::Null);
        let actor = caller.actor();
        let before = json!({"labels": live.pointer("/metadata/labels"), "field_managers": managers(&live)});
        let after = json!({"labels": written.pointer("/metadata/labels"), "field_managers": managers(&written),
                           "cluster": cluster.name, "application": application, "environment": environment});
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        sqlx::query(
            "INSERT INTO adoptions (cluster, api_version, kind, namespace, name, application, environment, adopted_by, adopted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&cluster.name)
        .bind(&target.api_version)
        .bind(&target.kind)
        .bind(target.namespace.as_deref().unwrap_or_default())
        .bind(&target.name)
        .bind(application)
        .bind(environment)
        .bind(&actor)
        .bind(now_text())
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        audit::record(&mut tx, &actor, "cluster.adopt", &label, Some(&before), Some(&after)).await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(done(
            "adopted",
            format!("{label} now carries Gatehouse's labels; the next submission of {application} to {environment} applies Gatehouse's version of it, taking over the fields others set"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(labels: Value, managers: &[&str]) -> Value {
        let fields: Vec<Value> = managers.iter().map(|m| json!({"manager": m, "operation": "Apply"})).collect();
        json!({"metadata": {"labels": labels, "managedFields": fields}})
    }

    fn target(kind: &str, namespace: Option<&str>, name: &str) -> SubmissionObject {
        identity(&json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}))
    }

    #[test]
    fn gatehouses_objects_carry_its_label_and_its_field_manager() {
        let label = json!({MANAGED_BY: MANAGER});
        assert!(is_managed(&live(label.clone(), &["kubectl", "gatehouse"])));
        assert!(!is_managed(&live(label.clone(), &["kubectl"])), "a label anyone can set is not enough");
        assert!(!is_managed(&live(json!({}), &["gatehouse"])), "nor co-owning fields that agree");
        assert!(!is_managed(&live(json!({MANAGED_BY: "helm"}), &["gatehouse"])));
    }

    #[test]
    fn a_refusal_says_why_and_how_to_adopt_or_avoid_it() {
        let service = target("Service", Some("cd-service-dev"), "api");
        let labelled = live(json!({MANAGED_BY: MANAGER}), &["kubectl", "kubectl-label"]);
        assert_eq!(
            refusal(&service, &labelled, "api", "dev"),
            "Service cd-service-dev/api exists and Gatehouse did not create it (it carries app.kubernetes.io/managed-by: gatehouse, but field manager gatehouse holds none of its fields; it was written by kubectl, kubectl-label); a network admin can adopt it with POST /api/v1/applications/api/environments/dev/adopt {\"objects\": [{\"kind\": \"Service\", \"name\": \"api\"}]} (Adopt on the Applications page), or rename the application"
        );
        let pool = target("CiliumLoadBalancerIPPool", None, "dev-vips");
        assert!(refusal(&pool, &live(json!({}), &["kubectl"]), "api", "dev").ends_with("or rename the environment's pool"));
        let policy = target("CiliumL2AnnouncementPolicy", None, "gatehouse-dev");
        assert!(refusal(&policy, &live(json!({}), &[]), "api", "dev").ends_with("or rename the environment"));
    }
}
