//! Running a submission: recording it and its objects, applying them in order with server-side apply, waiting until each is ready, deleting in reverse order, and releasing the VIPs a teardown frees. Every progress write is fenced by the job's claim.
use super::*;

impl Submitter {
    #[expect(clippy::too_many_arguments, reason = "the columns of one row")]
    pub(super) async fn record(
        &self,
        operation: Operation,
        actor: &str,
        application: &str,
        environment: &str,
        cluster: &Cluster,
        dry_run: bool,
        status: SubmissionStatus,
        message: &str,
        objects: &[Value],
    ) -> Result<i64, DbError> {
        let now = now_text();
        // What the job writes, Secrets sealed: a resumed job applies exactly this.
        let stored = jobs::seal_objects(&self.secret_key, objects)?;
        let mut tx = self.db.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO submissions (application, environment, cluster, operation, dry_run, status, message, bundle, \
             requested_by, created_at, updated_at, job_objects) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING id",
        )
        .bind(application)
        .bind(environment)
        .bind(&cluster.name)
        .bind(operation.as_str())
        .bind(i64::from(dry_run))
        .bind(status.as_str())
        .bind(message)
        .bind(recorded_bundle(objects))
        .bind(actor)
        .bind(&now)
        .bind(stored)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for (position, object) in objects.iter().enumerate() {
            insert_object(&mut *tx, id, position, &identity(object), &now).await?;
        }
        let after = serde_json::json!({"application": application, "environment": environment, "operation": operation,
                                       "dry_run": dry_run, "status": status, "objects": objects.len()});
        audit::record(&mut tx, actor, &format!("submission.{operation}"), &format!("submission/{id}"), None, Some(&after)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records an object's progress; inside a job only while the job still holds its claim.
    pub(super) async fn set_object(&self, id: i64, position: usize, state: ObjectState, message: &str, answer: Option<&str>) {
        let fence = if jobs::claim().is_some() { " AND EXISTS (SELECT 1 FROM submissions WHERE id = $5 AND claim = $7)" } else { "" };
        let query = format!(
            "UPDATE submission_objects SET state = $1, message = $2, answer = COALESCE($3, answer), updated_at = $4 \
             WHERE submission_id = $5 AND position = $6{fence}"
        );
        let mut query = sqlx::query(&query)
            .bind(state.as_str())
            .bind(message)
            .bind(answer)
            .bind(now_text())
            .bind(id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX));
        if let Some(claim) = jobs::claim() {
            query = query.bind(claim);
        }
        match query.execute(self.db.pool()).await {
            // The fence held nothing: another replica holds the job now; stop writing at once.
            Ok(done) if done.rows_affected() == 0 && jobs::claim().is_some() => jobs::claim_lost(),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, id, position, "recording an object's progress failed"),
        }
    }

    pub(super) async fn add_object(&self, id: i64, position: usize, object: &SubmissionObject) {
        if let Some(claim) = jobs::claim()
            && claim != self.current_claim_of(id).await
        {
            return;
        }
        if let Err(error) = insert_object(self.db.pool(), id, position, object, &now_text()).await {
            tracing::error!(%error, id, position, "recording an object failed");
        }
    }

    pub(super) async fn finish(&self, id: i64, status: SubmissionStatus, message: &str) {
        self.finish_with(id, status, None, message).await;
    }

    /// Records a failure and its code (which says whether a retry may cure it).
    pub(super) async fn fail(&self, id: i64, code: &str, message: &str) {
        self.finish_with(id, SubmissionStatus::Failed, Some(code), message).await;
    }

    /// Records the outcome; inside a job only while the job still holds its claim.
    pub(super) async fn finish_with(&self, id: i64, status: SubmissionStatus, code: Option<&str>, message: &str) {
        let fence = if jobs::claim().is_some() { " AND claim = $6" } else { "" };
        let query =
            format!("UPDATE submissions SET status = $1, message = $2, updated_at = $3, failure_code = $5 WHERE id = $4{fence}");
        let mut query = sqlx::query(&query).bind(status.as_str()).bind(message).bind(now_text()).bind(id).bind(code);
        if let Some(claim) = jobs::claim() {
            query = query.bind(claim);
        }
        match query.execute(self.db.pool()).await {
            Ok(done) if done.rows_affected() == 0 => tracing::warn!(id, %status, "a job that lost its claim did not record its outcome"),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, id, "recording a submission's outcome failed"),
        }
    }

    /// The claim number the row carries now (0 when it cannot be read).
    pub(super) async fn current_claim_of(&self, id: i64) -> i64 {
        sqlx::query("SELECT claim FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<i64, _>("claim").ok())
            .unwrap_or(0)
    }

    /// Per position, whether a run before this one confirmed the object in one of `done`.
    pub(super) async fn confirmed(&self, id: i64, total: usize, done: &[ObjectState]) -> Vec<bool> {
        let rows = sqlx::query("SELECT position, state FROM submission_objects WHERE submission_id = $1")
            .bind(id)
            .fetch_all(self.db.pool())
            .await
            .unwrap_or_default();
        let mut confirmed = vec![false; total];
        for row in rows {
            let (Ok(position), Ok(state)) = (row.try_get::<i64, _>("position"), row.try_get::<String, _>("state")) else { continue };
            if let Some(slot) = usize::try_from(position).ok().and_then(|position| confirmed.get_mut(position)) {
                *slot = ObjectState::parse(&state).is_some_and(|state| done.contains(&state));
            }
        }
        confirmed
    }

    /// Runs the job of submission `id` (a worker holds its claim): the objects recorded with
    /// it, never a bundle other than the recorded one, from the first object not confirmed.
    pub(in crate::cluster) async fn run_job(&self, id: i64) -> Outcome {
        let submission = match get(&self.db, id).await {
            Ok(Some(submission)) => submission,
            Ok(None) => return Outcome::Finished,
            Err(error) => {
                tracing::error!(%error, id, "reading a job failed");
                return Outcome::Stopped;
            }
        };
        let Some(cluster) = self.clusters.by_name(&submission.cluster).cloned() else {
            self.fail(id, "cluster_not_configured", &format!(
                "cluster {} is not configured in this Gatehouse (--kubeconfig, --in-cluster or --cluster {}=…); configure it and retry the submission",
                submission.cluster, submission.cluster
            )).await;
            return Outcome::Finished;
        };
        let stored = sqlx::query("SELECT job_objects FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await
            .and_then(|row| row.try_get::<Option<String>, _>("job_objects"));
        let objects = match stored {
            Ok(Some(stored)) => match jobs::open_objects(&self.secret_key, &stored) {
                Ok(objects) => objects,
                Err(why) => {
                    self.fail(id, "job_unreadable", &format!("{why}; submit again")).await;
                    return Outcome::Finished;
                }
            },
            Ok(None) => {
                self.fail(id, "interrupted", "this submission was interrupted before Gatehouse recorded jobs durably, so it cannot be resumed; submit again").await;
                return Outcome::Finished;
            }
            Err(error) => {
                tracing::error!(%error, id, "reading a job's objects failed");
                return Outcome::Stopped;
            }
        };
        if recorded_bundle(&objects) != submission.bundle {
            self.fail(id, "bundle_mismatch", "the stored objects do not give the bundle that was recorded and approved, so nothing more is applied; submit again").await;
            return Outcome::Finished;
        }
        if submission.operation == Operation::Teardown {
            let actor = submission.approved_by.as_deref().unwrap_or(&submission.requested_by).to_owned();
            self.delete(&cluster, id, objects, &actor).await
        } else {
            self.apply(&cluster, id, objects, submission.dry_run).await
        }
    }

    pub(super) async fn skip_rest(&self, id: i64, from: usize, total: usize, reason: &str) {
        for position in from..total {
            self.set_object(id, position, ObjectState::Skipped, reason, None).await;
        }
    }

    /// Server-side apply of every object in order; stops at the first refusal. A resumed job
    /// starts at the first object an earlier run did not confirm; a stopping replica stops
    /// between objects.
    pub async fn apply(&self, cluster: &Cluster, id: i64, objects: Vec<Value>, dry_run: bool) -> Outcome {
        // Nothing is written while one of the objects exists and is not Gatehouse's.
        let Some(survey) = self.survey(cluster, id, &objects).await else { return Outcome::Finished };
        // A dry run writes nothing, so it simply runs again.
        let confirmed = if dry_run {
            vec![false; objects.len()]
        } else {
            self.confirmed(id, objects.len(), &[ObjectState::Applied, ObjectState::Waiting, ObjectState::Ready]).await
        };
        let mut applied = Vec::new();
        // A dry run cannot create the Namespace, and an API server checks namespaced objects
        // only in a Namespace that exists: those are left out and say so.
        let mut new_namespaces = Vec::new();
        for (position, object) in objects.iter().enumerate() {
            let target = identity(object);
            let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
            if confirmed[position] {
                applied.push(label);
                continue;
            }
            if jobs::stopping() {
                return Outcome::Stopped;
            }
            if dry_run && target.namespace.as_ref().is_some_and(|ns| new_namespaces.contains(ns)) {
                let namespace = target.namespace.as_deref().unwrap_or_default();
                let message = format!(
                    "not checked: namespace {namespace} does not exist yet and a server-side dry run needs it; it is created when the bundle is submitted"
                );
                self.set_object(id, position, ObjectState::Skipped, &message, None).await;
                continue;
            }
            if dry_run && target.kind == "Namespace" && !Self::namespace_exists(cluster, &target.name).await {
                new_namespaces.push(target.name.clone());
            }
            let result = async {
                let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
                let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
                let mut params = PatchParams::apply(FIELD_MANAGER);
                params.dry_run = dry_run;
                // An adopted object's first apply takes over the fields others hold.
                params.force = survey.force(position);
                api.patch(&target.name, &params, &Patch::Apply(object)).await
            }
            .await;
            match result {
                Ok(written) => {
                    let written_value = serde_json::to_value(&written).unwrap_or(Value::Null);
                    self.applied(cluster, id, position, &written_value, &survey, dry_run).await;
                    let version = written.metadata.resource_version.unwrap_or_default();
                    let (message, answer) = if dry_run {
                        ("accepted by a server-side dry run".to_owned(), "dry run: accepted".to_owned())
                    } else {
                        ("applied".to_owned(), format!("applied: resourceVersion {version}"))
                    };
                    self.set_object(id, position, ObjectState::Applied, &message, Some(&answer)).await;
                    applied.push(label);
                }
                Err(error) => {
                    let failure = failure::explain(&error, &label);
                    let message = format!("{} — {}", failure.message, failure.hint);
                    self.set_object(id, position, ObjectState::Failed, &message, Some(&failure::answer(&error, &failure))).await;
                    self.skip_rest(id, position + 1, objects.len(), &format!("not applied: {label} failed before it")).await;
                    let done = if applied.is_empty() { "nothing was applied".to_owned() } else { format!("applied before it: {}", applied.join(", ")) };
                    self.fail(id, failure.code, &format!("{label}: {} ({}); {done}. {}", failure.message, failure.code, failure.hint))
                        .await;
                    return Outcome::Finished;
                }
            }
        }
        if dry_run {
            self.finish(id, SubmissionStatus::Validated, "every object checked passed a server-side dry run; nothing was changed").await;
            return Outcome::Finished;
        }
        self.wait(cluster, id, &objects).await
    }

    /// The Namespaces of the bundle the cluster does not have yet. A dry run does not create
    /// one, so the API server answers `namespaces "x" not found` for every object inside it.
    pub(super) async fn new_namespaces(cluster: &Cluster, objects: &[Value]) -> BTreeSet<String> {
        let mut new = BTreeSet::new();
        for target in objects.iter().map(identity).filter(|t| t.kind == "Namespace") {
            if !Self::namespace_exists(cluster, &target.name).await {
                new.insert(target.name);
            }
        }
        new
    }

    pub(super) async fn namespace_exists(cluster: &Cluster, name: &str) -> bool {
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(cluster.client.clone());
        // When the question fails, the dry run of the Namespace itself reports why.
        namespaces.get_opt(name).await.map(|found| found.is_some()).unwrap_or(true)
    }

    /// Waits for the Deployment to be available, the Gateway to be Programmed with an address,
    /// the VIP to be assigned and the HTTPRoute to be accepted; reports what is not ready.
    pub(super) async fn wait(&self, cluster: &Cluster, id: i64, objects: &[Value]) -> Outcome {
        let deadline = tokio::time::Instant::now() + self.timeout;
        // The rows of generated objects an earlier run added are added again below.
        let total = i64::try_from(objects.len()).unwrap_or(i64::MAX);
        // Fenced like every progress write: a holder that lost its claim clears nothing.
        let fence = if jobs::claim().is_some() { " AND EXISTS (SELECT 1 FROM submissions WHERE id = $1 AND claim = $3)" } else { "" };
        let query = format!("DELETE FROM submission_objects WHERE submission_id = $1 AND position >= $2{fence}");
        let mut query = sqlx::query(&query).bind(id).bind(total);
        if let Some(claim) = jobs::claim() {
            query = query.bind(claim);
        }
        if let Err(error) = query.execute(self.db.pool()).await {
            tracing::error!(%error, id, "clearing a resumed job's generated rows failed");
        }
        let mut waits = Vec::new();
        for (position, object) in objects.iter().enumerate() {
            let target = identity(object);
            let condition: Option<Readiness> = match target.kind.as_str() {
                "Deployment" => Some(Readiness::DeploymentAvailable),
                "Gateway" => Some(Readiness::GatewayProgrammed),
                "HTTPRoute" => Some(Readiness::RouteAccepted),
                _ => None,
            };
            let is_gateway = target.kind == "Gateway";
            let gateway_name = target.name.clone();
            let namespace = target.namespace.clone();
            match condition {
                Some(readiness) => {
                    self.set_object(id, position, ObjectState::Waiting, readiness.waiting(), None).await;
                    waits.push((position, target, readiness));
                }
                None => self.set_object(id, position, ObjectState::Ready, "applied; nothing to wait for", None).await,
            }
            if is_gateway {
                let service = SubmissionObject {
                    api_version: "v1".to_owned(),
                    kind: "Service".to_owned(),
                    namespace,
                    name: vips::generated_service_name(&gateway_name),
                    state: ObjectState::Waiting,
                    message: format!("created by Cilium for Gateway {gateway_name}; waiting for LB-IPAM to assign the VIP"),
                    answer: None,
                };
                let position = objects.len() + waits.len();
                self.add_object(id, position, &service).await;
                waits.push((position, service, Readiness::VipAssigned));
            }
        }
        let outcomes = join_all(waits.into_iter().map(|(position, target, readiness)| async move {
            let outcome = Self::wait_for(cluster, &target, readiness, deadline).await;
            match &outcome {
                Ok(message) => self.set_object(id, position, ObjectState::Ready, message, None).await,
                Err(message) => self.set_object(id, position, ObjectState::Failed, message, None).await,
            }
            outcome.err().map(|message| format!("{}: {message}", describe(&target.kind, target.namespace.as_deref(), &target.name)))
        }));
        // Waiting writes nothing: a stopping replica leaves it to the next holder at once.
        let outcomes = tokio::select! {
            outcomes = outcomes => outcomes,
            () = jobs::stopped() => return Outcome::Stopped,
        };
        let not_ready: Vec<String> = outcomes.into_iter().flatten().collect();
        if not_ready.is_empty() {
            self.finish(id, SubmissionStatus::Ready, "every object is ready").await;
        } else {
            self.fail(id, "not_ready", &format!("not ready after {} s: {}", self.timeout.as_secs(), not_ready.join("; ")))
                .await;
        }
        Outcome::Finished
    }

    pub(super) async fn wait_for(cluster: &Cluster, target: &SubmissionObject, readiness: Readiness, deadline: tokio::time::Instant) -> Result<String, String> {
        let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
        let (resource, capabilities) =
            cluster.resource(&target.api_version, &target.kind).await.map_err(|e| failure::explain(&e, &label).to_string())?;
        let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
        let check = move |object: Option<&DynamicObject>| object.is_some_and(|o| readiness.why_not(&o.data).is_none());
        match tokio::time::timeout_at(deadline, await_condition(api.clone(), &target.name, check)).await {
            Ok(Ok(Some(object))) => Ok(readiness.ready(&object.data)),
            Ok(Ok(None)) => Err("it was deleted while Gatehouse waited for it".to_owned()),
            Ok(Err(error)) => {
                let failure = failure::explain_wait(&error, &label);
                Err(format!("Gatehouse could not watch it: {} — {}", failure.message, failure.hint))
            }
            Err(_) => {
                let why = match api.get_opt(&target.name).await {
                    Ok(Some(object)) => readiness.why_not(&object.data).unwrap_or_else(|| "it became ready just now".to_owned()),
                    Ok(None) => "it does not exist".to_owned(),
                    Err(error) => failure::explain(&error, &label).to_string(),
                };
                Err(format!("{} — {why}", readiness.timed_out()))
            }
        }
    }

    /// Deletes every object in order that is Gatehouse's to delete (already gone counts as
    /// deleted; anything else is kept and says why — see `ownership`), then releases the
    /// application's VIPs in the environment's pools.
    pub async fn delete(&self, cluster: &Cluster, id: i64, objects: Vec<Value>, actor: &str) -> Outcome {
        // The application's namespace: its Deployment's, which every bundle has.
        let app_namespace = objects
            .iter()
            .find(|object| text(object, "/kind") == "Deployment")
            .and_then(|object| object.pointer("/metadata/namespace"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut deleted = Vec::new();
        let mut kept = Vec::new();
        // A resumed teardown starts at the first object an earlier run did not settle.
        let settled = self.confirmed(id, objects.len(), &[ObjectState::Deleted]).await;
        let left = self.confirmed(id, objects.len(), &[ObjectState::Kept]).await;
        for (position, object) in objects.iter().enumerate() {
            let target = identity(object);
            let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
            if settled[position] {
                deleted.push(label);
                continue;
            }
            if left[position] {
                kept.push(label);
                continue;
            }
            if jobs::stopping() {
                return Outcome::Stopped;
            }
            let result = match self.verdict(cluster, &target, app_namespace.as_deref()).await {
                Verdict::Keep(message) => {
                    self.set_object(id, position, ObjectState::Kept, &message, None).await;
                    kept.push(label);
                    continue;
                }
                Verdict::Gone(answer) => {
                    self.set_object(id, position, ObjectState::Deleted, "was already gone", Some(&answer)).await;
                    continue;
                }
                Verdict::Failed(error) => Err(error),
                Verdict::Delete => {
                    async {
                        let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
                        let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
                        api.delete(&target.name, &DeleteParams::default()).await
                    }
                    .await
                }
            };
            match result {
                Ok(_) => {
                    self.set_object(id, position, ObjectState::Deleted, "deleted", Some("deleted")).await;
                    if target.kind == "Namespace" {
                        self.forget_namespace(&cluster.name, &target.name).await;
                    }
                    deleted.push(label);
                }
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    self.set_object(id, position, ObjectState::Deleted, "was already gone", Some(&status.message)).await;
                }
                Err(error) => {
                    let failure = failure::explain(&error, &label);
                    let message = format!("{} — {}", failure.message, failure.hint);
                    self.set_object(id, position, ObjectState::Failed, &message, Some(&failure::answer(&error, &failure))).await;
                    self.skip_rest(id, position + 1, objects.len(), &format!("not deleted: {label} failed before it")).await;
                    self.fail(id, failure.code, &format!("{label}: {} ({}); deleted before it: {}. {}", failure.message, failure.code,
                        if deleted.is_empty() { "nothing".to_owned() } else { deleted.join(", ") }, failure.hint)).await;
                    return Outcome::Finished;
                }
            }
        }
        let released = self.release_vips(id, actor).await;
        let released = if released.is_empty() { "no VIP was allocated to it".to_owned() } else { format!("released {}", released.join(", ")) };
        let kept = if kept.is_empty() {
            String::new()
        } else {
            format!("; left {} in place that Gatehouse did not create or may not delete: {}", kept.len(), kept.join(", "))
        };
        self.finish(id, SubmissionStatus::TornDown, &format!("deleted {}{kept}; {released}", domain::counted(deleted.len(), "object"))).await;
        Outcome::Finished
    }

    pub(super) async fn release_vips(&self, id: i64, actor: &str) -> Vec<String> {
        let Ok(Some(submission)) = get(&self.db, id).await else { return Vec::new() };
        let Ok(plan) = plan::load_from(&self.db).await else { return Vec::new() };
        let Some(environment) = plan.environments.iter().find(|e| e.name.as_str() == submission.environment) else {
            return Vec::new();
        };
        let mut released = Vec::new();
        for pool in plan.pools_of(&environment.name) {
            let Some(pool_id) = pool.id else { continue };
            let Ok(holdings) = allocations::list(&self.db, pool_id).await else { continue };
            for holding in holdings {
                if holding.state == allocations::AddressState::Allocated
                    && holding.application.as_ref().is_some_and(|a| a.as_str() == submission.application)
                {
                    let reason = format!("teardown of {} in {} (submission {id})", submission.application, submission.environment);
                    match allocations::release(&self.db, &Principal::system(actor), holding.address, Some(&reason)).await {
                        Ok(_) => released.push(holding.address.to_string()),
                        Err(error) => tracing::warn!(%error, address = %holding.address, "releasing a VIP after teardown failed"),
                    }
                }
            }
        }
        released
    }
}
