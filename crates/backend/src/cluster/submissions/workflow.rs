//! What callers ask of a submission: the bundle with its VIP, submit, approve, reject, retry and teardown, each checked against the caller and the plan.
use super::*;

impl Submitter {
    /// The objects of one application in one environment, in apply order: its bundle with the
    /// TLS Secret, and the environment's pools and announcement policies before the Gateway.
    pub(super) async fn objects(&self, plan: &Plan, application: &str, environment: &str) -> Result<Vec<Value>, SubmitError> {
        let tls = certificates::tls_for(&self.db, &self.secret_key, plan, application, environment).await?;
        let tls_pem = tls.as_ref().map(|tls| TlsPem { chain_pem: &tls.chain_pem, key_pem: &tls.key_pem });
        let mut objects = manifests::application_bundle_with_tls(plan, application, environment, tls_pem)?.into_objects();
        objects.extend(manifests::environment_cilium(plan, environment)?.into_objects());
        objects.sort_by_key(|object| rank(text(object, "/kind")));
        if !label_fix::enabled(&self.db).await? {
            for gateway in objects.iter_mut().filter(|o| text(o, "/kind") == "Gateway") {
                if let Some(spec) = gateway.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("infrastructure");
                }
            }
        }
        Ok(objects)
    }

    /// `plan` with `application`'s VIP in `environment` as its Gateway asks LB-IPAM for it: a
    /// fixed address as it is; `auto` as the address the plan holds for it — held now for a
    /// submission, or for a preview the address it would be given (the one the cluster
    /// assigned, when the plan has it free, else the lowest free one).
    pub(super) async fn with_vip(&self, plan: &Plan, application: &str, environment: &str, cluster: &Cluster, vip: Vip<'_>) -> Result<Plan, SubmitError> {
        let (Some(app), Some(env)) = (plan.application(application), plan.environments.iter().find(|e| e.name.as_str() == environment))
        else {
            return Ok(plan.clone());
        };
        let wants_auto = app.environments.get(&env.name).is_some_and(|target| target.vip == VipRequest::Auto);
        if !wants_auto || plan.pools_of(&env.name).next().is_none() {
            // Nothing to hold; the bundle says what is missing.
            return Ok(plan.clone());
        }
        let held = allocations::auto_vips(&mut *self.db.pool().acquire().await.map_err(DbError::from)?).await?;
        let address = match allocations::held_auto_vip(&held, application, environment) {
            Some(address) => address,
            None => {
                let assigned = Self::assigned_vip(cluster, plan, app, &env.name).await;
                match vip {
                    Vip::Hold(actor) => allocations::hold_auto_vip(&self.db, actor, plan, app, &env.name, assigned)
                        .await
                        .map_err(SubmitError::Vip)?,
                    Vip::Preview => {
                        let free_in_plan = match assigned {
                            Some(address) if plan.pools_of(&env.name).any(|pool| pool.contains(&address)) => {
                                allocations::get(&self.db, address).await?.is_none().then_some(address)
                            }
                            _ => None,
                        };
                        match free_in_plan {
                            Some(address) => address,
                            None => match allocations::next_free_auto_vip(&self.db, plan, &env.name).await.map_err(SubmitError::Vip)? {
                                Some(address) => address,
                                // Exhausted: the submission says so; the preview shows `auto`.
                                None => return Ok(plan.clone()),
                            },
                        }
                    }
                }
            }
        };
        let mut plan = plan.clone();
        if let Some(target) = plan
            .applications
            .iter_mut()
            .find(|a| a.name.as_str() == application)
            .and_then(|a| a.environments.get_mut(&env.name))
        {
            target.vip = VipRequest::Address(address);
        }
        Ok(plan)
    }

    /// The address LB-IPAM assigned the Service Cilium generated for the application's
    /// Gateway, when it exists and has one. A cluster that cannot be asked has none to offer:
    /// the apply reports what is wrong with it.
    pub(super) async fn assigned_vip(cluster: &Cluster, plan: &Plan, app: &domain::Application, environment: &domain::EnvironmentName) -> Option<domain::IpAddr> {
        let namespace = plan.namespace_in(app, environment);
        let services: kube::Api<k8s_openapi::api::core::v1::Service> = kube::Api::namespaced(cluster.client.clone(), namespace.as_str());
        let name = vips::generated_service_name(&format!("{}-{environment}", app.name));
        match services.get_opt(&name).await {
            Ok(service) => {
                let service = serde_json::to_value(service?).ok()?;
                vips::assigned_address(&service).and_then(|address| domain::IpAddr::parse(&address).ok())
            }
            Err(error) => {
                tracing::warn!(%error, service = %name, "reading the Gateway's Service for its VIP failed");
                None
            }
        }
    }

    /// The cluster `environment` of `plan` goes to (an environment `unknown` has vetted).
    pub(super) fn cluster_of(&self, plan: &Plan, environment: &str) -> Result<Cluster, SubmitError> {
        let env = plan.environments.iter().find(|e| e.name.as_str() == environment);
        let env = env.ok_or_else(|| SubmitError::NotFound(format!("there is no environment named {environment:?}")))?;
        Ok(self.clusters.of(env)?.clone())
    }

    /// The application and environment exist, the caller may act on the application (an app
    /// team only inside its scopes, as the application is placed now) and no placement is
    /// a reserved namespace (an environment's template may have changed since it was saved).
    pub(super) fn allowed(&self, caller: &Principal, plan: &Plan, application: &str, environment: &str) -> Result<(), SubmitError> {
        let app = plan.application(application).filter(|app| caller.may_read_application(plan, app));
        let Some(app) = app else {
            return Err(SubmitError::NotFound(format!("there is no application named {application:?}")));
        };
        caller.require_application(plan, app)?;
        if let Some(error) = unknown(plan, application, environment) {
            return Err(error);
        }
        self.tenancy.check(plan, app).map_err(DbError::Invalid)?;
        Ok(())
    }

    /// The application's bundle for one environment with its TLS Secret — the one output that
    /// carries a private key — for a caller who may act on the application. Each `auto` VIP
    /// is as the plan holds it (`auto` until a submission holds one).
    pub async fn bundle(&self, caller: &Principal, application: &str, environment: &str) -> Result<Bundle, SubmitError> {
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let held = allocations::auto_vips(&mut *self.db.pool().acquire().await.map_err(DbError::from)?).await?;
        let plan = allocations::with_auto_vips(&plan, &held);
        let tls = certificates::tls_for(&self.db, &self.secret_key, &plan, application, environment).await?;
        let tls_pem = tls.as_ref().map(|tls| TlsPem { chain_pem: &tls.chain_pem, key_pem: &tls.key_pem });
        Ok(manifests::application_bundle_with_tls(&plan, application, environment, tls_pem)?)
    }

    /// Checks the plan, records the submission and — unless the environment is protected —
    /// starts applying it. Returns the submission's id.
    pub async fn submit(&self, caller: &Principal, application: &str, environment: &str, dry_run: bool) -> Result<i64, SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let findings = blocking_findings(&plan, application);
        if !findings.is_empty() {
            return Err(SubmitError::Checklist(findings));
        }
        certificates::require_usable(&plan, application, environment)?;
        let cluster = self.cluster_of(&plan, environment)?;
        // A dry run changes nothing, the plan's allocations included.
        let vip = if dry_run { Vip::Preview } else { Vip::Hold(actor) };
        let plan = self.with_vip(&plan, application, environment, &cluster, vip).await?;
        let objects = self.objects(&plan, application, environment).await?;
        let protected = plan.environments.iter().any(|e| e.name.as_str() == environment && e.protected);
        let awaiting = protected && !dry_run;
        let (status, message) = if awaiting {
            (
                SubmissionStatus::AwaitingApproval,
                format!("environment {environment} is protected: someone other than {actor} must approve (POST /api/v1/submissions/{{id}}/approve)"),
            )
        } else {
            (SubmissionStatus::Applying, "applying".to_owned())
        };
        let id = self.record(Operation::Apply, actor, application, environment, &cluster, dry_run, status, &message, &objects).await?;
        if !awaiting {
            self.jobs.job_ready();
        }
        Ok(id)
    }

    /// Approves a submission waiting for it and starts it. The requester cannot approve their
    /// own, and the plan must still produce the bundle that was requested.
    /// Someone other than the requester — whether either signed in or used an API token —
    /// lets a submission to a protected environment go ahead.
    pub async fn approve(&self, caller: &Principal, id: i64) -> Result<(), SubmitError> {
        caller.require(Role::NetworkAdmin, "approve submissions")?;
        let actor = caller.actor();
        let actor = actor.as_str();
        let submission = get(&self.db, id).await?.ok_or_else(|| not_found(id))?;
        if submission.status != SubmissionStatus::AwaitingApproval {
            return Err(SubmitError::Conflict(format!(
                "submission {id} is {}; only a submission awaiting approval can be approved",
                submission.status
            )));
        }
        if Principal::person_of(&submission.requested_by) == Principal::person_of(actor) {
            return Err(crate::policy::Denied::new(
                "own_submission",
                format!("{actor} requested submission {id} and cannot approve it too; another person must approve it"),
            )
            .into());
        }
        let plan = plan::load_from(&self.db).await?;
        self.require_recorded_bundle(&plan, &submission, Vip::Hold(actor), "is not the one to approve").await?;
        let next = if submission.operation == Operation::Teardown { SubmissionStatus::TearingDown } else { SubmissionStatus::Applying };
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let updated = sqlx::query(
            "UPDATE submissions SET status = $1, approved_by = $2, message = $3, updated_at = $4 WHERE id = $5 AND status = $6",
        )
        .bind(next.as_str())
        .bind(actor)
        .bind(format!("approved by {actor}"))
        .bind(now_text())
        .bind(id)
        .bind(SubmissionStatus::AwaitingApproval.as_str())
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        if updated.rows_affected() != 1 {
            return Err(SubmitError::Conflict(format!("submission {id} was approved or changed meanwhile")));
        }
        audit::record(&mut tx, actor, "submission.approve", &format!("submission/{id}"), None, None).await?;
        tx.commit().await.map_err(DbError::from)?;
        // The job applies the objects recorded with the request, which give this bundle.
        self.jobs.job_ready();
        Ok(())
    }

    /// Declines a submission waiting for approval, with the reason the requester reads. The
    /// requester may withdraw their own this way.
    pub async fn reject(&self, caller: &Principal, id: i64, reason: &str) -> Result<(), SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let withdraws = get(&self.db, id).await?.is_some_and(|submission| {
            Principal::person_of(&submission.requested_by) == Principal::person_of(actor)
        });
        if !withdraws {
            caller.require(Role::NetworkAdmin, "reject another person's submission")?;
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SubmitError::Invalid(domain::FieldError::new(
                "reason",
                "required",
                "say why the submission is rejected, so its requester knows what to change",
            )));
        }
        let message = format!("rejected by {actor}: {reason}");
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let updated = sqlx::query(
            "UPDATE submissions SET status = $1, message = $2, updated_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(SubmissionStatus::Rejected.as_str())
        .bind(&message)
        .bind(now_text())
        .bind(id)
        .bind(SubmissionStatus::AwaitingApproval.as_str())
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        if updated.rows_affected() != 1 {
            let submission = get(&self.db, id).await?.ok_or_else(|| not_found(id))?;
            return Err(SubmitError::Conflict(format!(
                "submission {id} is {}; only a submission awaiting approval can be rejected",
                submission.status
            )));
        }
        sqlx::query(
            "UPDATE submission_objects SET state = $1, updated_at = $2 WHERE submission_id = $3",
        )
        .bind(ObjectState::Skipped.as_str())
        .bind(now_text())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        let after = serde_json::json!({"status": SubmissionStatus::Rejected, "reason": reason});
        audit::record(
            &mut tx,
            actor,
            "submission.reject",
            &format!("submission/{id}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(())
    }

    /// Runs a failed job again — the same recorded objects, from the first one not confirmed —
    /// when it failed for a cause a retry can cure ([`RETRYABLE`]). Its requester or a
    /// network admin may retry it, under the approval rules it was run under: the plan must
    /// still give the recorded (and, in a protected environment, approved) bundle; a
    /// submission to an environment protected now that nobody approved waits for approval.
    pub async fn retry(&self, caller: &Principal, id: i64) -> Result<(), SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let submission = get_for(&self.db, caller, id).await?.ok_or_else(|| not_found(id))?;
        if Principal::person_of(&submission.requested_by) != Principal::person_of(actor) {
            caller.require(Role::NetworkAdmin, "retry another person's submission")?;
        }
        if submission.status != SubmissionStatus::Failed {
            return Err(SubmitError::Conflict(format!(
                "submission {id} is {}; only a failed submission can be retried",
                submission.status
            )));
        }
        if !submission.retryable {
            let code = submission.failure_code.as_deref().unwrap_or("a refusal");
            return Err(SubmitError::Conflict(format!(
                "submission {id} failed with {code}, which running it again cannot cure; fix what its message names and submit again"
            )));
        }
        let plan = plan::load_from(&self.db).await?;
        let environment = submission.environment.as_str();
        self.allowed(caller, &plan, &submission.application, environment)?;
        // The job applies its recorded objects; the plan must still give that bundle, so a
        // retry never applies what the plan no longer says, nor anything not approved.
        let vip = if submission.dry_run { Vip::Preview } else { Vip::Hold(&submission.requested_by) };
        self.require_recorded_bundle(&plan, &submission, vip, "is no longer the plan's").await?;
        let protected = plan.environments.iter().any(|e| e.name.as_str() == environment && e.protected);
        let (next, message) = if protected && !submission.dry_run && submission.approved_by.is_none() {
            (
                SubmissionStatus::AwaitingApproval,
                format!("retried by {actor}; environment {environment} is protected now: someone other than {} must approve it", submission.requested_by),
            )
        } else if submission.operation == Operation::Teardown {
            (SubmissionStatus::TearingDown, format!("retried by {actor}"))
        } else {
            (SubmissionStatus::Applying, format!("retried by {actor}"))
        };
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let updated = sqlx::query(
            "UPDATE submissions SET status = $1, message = $2, updated_at = $3, failure_code = NULL, claimed_by = NULL, heartbeat_ms = NULL \
             WHERE id = $4 AND status = $5",
        )
        .bind(next.as_str())
        .bind(&message)
        .bind(now_text())
        .bind(id)
        .bind(SubmissionStatus::Failed.as_str())
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        if updated.rows_affected() != 1 {
            return Err(SubmitError::Conflict(format!("submission {id} was retried or changed meanwhile")));
        }
        // What failed or was skipped is written again; what was confirmed stays confirmed.
        sqlx::query("UPDATE submission_objects SET state = $1, message = $2, updated_at = $3 WHERE submission_id = $4 AND state IN ($5, $6)")
            .bind(ObjectState::Pending.as_str())
            .bind(&message)
            .bind(now_text())
            .bind(id)
            .bind(ObjectState::Failed.as_str())
            .bind(ObjectState::Skipped.as_str())
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?;
        let before = serde_json::json!({"status": SubmissionStatus::Failed, "failure_code": submission.failure_code, "message": submission.message});
        let after = serde_json::json!({"status": next, "attempts_before": submission.attempts});
        audit::record(&mut tx, actor, "submission.retry", &format!("submission/{id}"), Some(&before), Some(&after)).await?;
        tx.commit().await.map_err(DbError::from)?;
        self.jobs.job_ready();
        Ok(())
    }

    /// Refuses to go on with a recorded submission (an approval, a retry) unless its
    /// environment still goes to the cluster it was requested for and `plan` still gives the
    /// bundle that was recorded; `mismatch` ends the sentence when it does not.
    pub(super) async fn require_recorded_bundle(&self, plan: &Plan, submission: &Submission, vip: Vip<'_>, mismatch: &str) -> Result<(), SubmitError> {
        let (id, application, environment) = (submission.id, submission.application.as_str(), submission.environment.as_str());
        let cluster = self.cluster_of(plan, environment)?;
        if cluster.name != submission.cluster {
            return Err(SubmitError::Conflict(format!(
                "environment {environment} went to cluster {} when submission {id} was requested and goes to cluster {} now; submit again",
                submission.cluster, cluster.name
            )));
        }
        let objects = match submission.operation.as_str() {
            "teardown" => self.teardown_objects(plan, application, environment)?,
            _ => {
                let plan = self.with_vip(plan, application, environment, &cluster, vip).await?;
                self.objects(&plan, application, environment).await?
            }
        };
        if recorded_bundle(&objects) != submission.bundle {
            return Err(SubmitError::Conflict(format!(
                "the plan changed since submission {id} was requested, so its bundle {mismatch}; submit again"
            )));
        }
        Ok(())
    }

    /// What a teardown deletes, in reverse apply order: the application's objects (not the
    /// environment's pools and policies, which other applications share), its Namespace only
    /// when nothing else of the plan goes to that namespace of that cluster.
    pub(super) fn teardown_objects(&self, plan: &Plan, application: &str, environment: &str) -> Result<Vec<Value>, SubmitError> {
        let mut objects = manifests::application_bundle(plan, application, environment)?.into_objects();
        let app = plan.application(application).ok_or_else(|| SubmitError::NotFound(application.to_owned()))?;
        let env = plan.environments.iter().find(|e| e.name.as_str() == environment);
        let env = env.ok_or_else(|| SubmitError::NotFound(environment.to_owned()))?;
        let namespace = plan.namespace_in(app, &env.name);
        if let Some(entry) = app.environments.get(&env.name)
            && let Some(certificate) = &entry.certificate
            && plan.certificates.iter().flatten().any(|c| c.environment == env.name && c.name == *certificate)
        {
            objects.push(serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": certificate.as_str(), "namespace": namespace.as_str()}}));
        }
        let shared_namespace = plan.applications.iter().any(|other| {
            other.environments.keys().filter_map(|e| plan.environment(e)).any(|other_env| {
                (other.name != app.name || other_env.name != env.name)
                    && other_env.cluster_name() == env.cluster_name()
                    && plan.namespace_in(other, &other_env.name) == namespace
            })
        });
        if shared_namespace {
            objects.retain(|object| text(object, "/kind") != "Namespace");
        }
        objects.sort_by_key(|object| std::cmp::Reverse(rank(text(object, "/kind"))));
        Ok(objects)
    }

    /// Records a teardown of an application in an environment and — unless the environment
    /// is protected — starts it.
    pub async fn teardown(&self, caller: &Principal, application: &str, environment: &str) -> Result<i64, SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let cluster = self.cluster_of(&plan, environment)?;
        let objects = self.teardown_objects(&plan, application, environment)?;
        let protected = plan.environments.iter().any(|e| e.name.as_str() == environment && e.protected);
        let (status, message) = if protected {
            (SubmissionStatus::AwaitingApproval, format!("environment {environment} is protected: someone other than {actor} must approve the teardown"))
        } else {
            (SubmissionStatus::TearingDown, "deleting in reverse order".to_owned())
        };
        let id = self.record(Operation::Teardown, actor, application, environment, &cluster, false, status, &message, &objects).await?;
        if !protected {
            self.jobs.job_ready();
        }
        Ok(id)
    }

}
