//! Submissions to the cluster (`/api/v1/applications/{app}/submissions`,
//! `/api/v1/submissions/{id}`, teardown), the cluster's capabilities, the VIPs' status and the
//! Gateway label fix's switch.
use backend::cluster::{
    Capabilities, drift, overview,
    failure::Failure,
    import,
    label_fix,
    submissions::{self, AdoptError, Adopted, ObjectRef, SubmitError, Submission},
    vips,
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson};
use crate::access::Caller;
use crate::state::AppState;

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> ApiError {
        match error {
            SubmitError::NotFound(message) => ApiError::not_found("not_found", message),
            SubmitError::Bundle(error) => super::outputs::bundle_error(error),
            SubmitError::Checklist(findings) => ApiError::rejected(&findings),
            SubmitError::Conflict(message) => ApiError::conflict("submission_conflict", message),
            SubmitError::Denied(denied) => denied.into(),
            SubmitError::Invalid(error) => ApiError::unprocessable(&vec![error].into()),
            SubmitError::Cluster(unknown) => ApiError::conflict("cluster_not_configured", unknown.to_string()),
            SubmitError::Db(error) => error.into(),
            SubmitError::Certificate(_) => ApiError::internal(&error),
            SubmitError::Vip(error) => error.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    environment: String,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    id: i64,
}

/// `POST /api/v1/applications/{app}/submissions` → 202 `{"id"}`.
pub async fn submit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(application): Path<String>,
    ApiJson(request): ApiJson<SubmissionRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    if request.environment.is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "missing_environment", "say which environment to submit to, e.g. \"dev\"")
            .with_field("environment"));
    }
    let id = state.clusters.submitter.submit(&caller, &application, &request.environment, request.dry_run).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}

/// `GET /api/v1/applications/{app}/submissions`, newest first.
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(application): Path<String>,
) -> Result<Json<Vec<Submission>>, ApiError> {
    Ok(Json(submissions::list_for(&state.db, &caller, &application).await?))
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::bad_request("invalid_id", format!("{id:?} is not a submission id; ids are whole numbers")))
}

/// `GET /api/v1/submissions/{id}`
pub async fn get(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> Result<Json<Submission>, ApiError> {
    let id = parse_id(&id)?;
    submissions::get_for(&state.db, &caller, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("submission_not_found", format!("there is no submission {id}")))
}

/// `POST /api/v1/submissions/{id}/approve` → 202 with the submission.
pub async fn approve(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = parse_id(&id)?;
    state.clusters.submitter.approve(&caller, id).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}

/// `POST /api/v1/submissions/{id}/retry` → 202 `{"id"}`: a failed job runs again from the
/// first object not confirmed (its requester or a network admin).
pub async fn retry(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = parse_id(&id)?;
    state.clusters.submitter.retry(&caller, id).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    reason: String,
}

/// `POST /api/v1/submissions/{id}/reject` `{"reason"}` → 200 with the submission, now
/// `rejected`; nothing is applied.
pub async fn reject(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(rejection): ApiJson<Rejection>,
) -> Result<Json<Submission>, ApiError> {
    let id = parse_id(&id)?;
    state
        .clusters
        .submitter
        .reject(&caller, id, &rejection.reason)
        .await?;
    get(State(state), Caller(caller), Path(id.to_string())).await
}

/// `GET /api/v1/approvals` → the submissions waiting for approval, oldest first.
pub async fn approvals(State(state): State<AppState>) -> Result<Json<Vec<Submission>>, ApiError> {
    Ok(Json(submissions::awaiting_approval(&state.db).await?))
}

/// `DELETE /api/v1/applications/{app}/environments/{env}` → 202 `{"id"}` of the teardown.
pub async fn teardown(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((application, environment)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = state.clusters.submitter.teardown(&caller, &application, &environment).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    #[serde(default)]
    objects: Vec<ObjectRef>,
}

#[derive(Debug, Serialize)]
pub struct AdoptAnswer {
    adopted: Vec<Adopted>,
}

impl From<AdoptError> for ApiError {
    fn from(error: AdoptError) -> ApiError {
        match error {
            AdoptError::Submit(error) => error.into(),
            AdoptError::Denied(denied) => denied.into(),
            AdoptError::Invalid(error) => ApiError::unprocessable(&vec![error].into()),
            AdoptError::Missing(message) => ApiError::not_found("not_in_cluster", message),
            AdoptError::Cluster(failure) => {
                let status = match failure.code {
                    "cluster_unreachable" | "credentials_rejected" => StatusCode::BAD_GATEWAY,
                    _ => StatusCode::CONFLICT,
                };
                ApiError::new(status, failure.code, failure.to_string())
            }
        }
    }
}

/// `POST /api/v1/applications/{app}/environments/{env}/adopt` `{"objects": [{"kind", "name",
/// "namespace"?}]}` → 200 `{"adopted": [...]}`: Gatehouse labels existing objects it did not
/// create so that the next submission may take them over. The service checks the network
/// admin role itself.
pub async fn adopt(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((application, environment)): Path<(String, String)>,
    ApiJson(request): ApiJson<AdoptRequest>,
) -> Result<Json<AdoptAnswer>, ApiError> {
    let adopted = state.clusters.submitter.adopt(&caller, &application, &environment, &request.objects).await?;
    Ok(Json(AdoptAnswer { adopted }))
}

/// `GET /api/v1/clusters`: every cluster, the environments that go to it, its version and
/// what Gatehouse needs from it; then any cluster an environment names that is not configured.
pub async fn clusters(State(state): State<AppState>) -> Result<Json<Vec<Capabilities>>, ApiError> {
    let plan = backend::plan::load_from(&state.db).await?;
    Ok(Json(overview(state.clusters.clusters(), &plan).await))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelFix {
    enabled: bool,
}

/// `GET /api/v1/label-fix`
pub async fn label_fix_get(State(state): State<AppState>) -> Result<Json<LabelFix>, ApiError> {
    Ok(Json(LabelFix { enabled: label_fix::enabled(&state.db).await? }))
}

/// `PUT /api/v1/label-fix` `{"enabled": false}`
pub async fn label_fix_put(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<LabelFix>,
) -> Result<Json<LabelFix>, ApiError> {
    label_fix::set_enabled(&state.db, &state.clusters.label_fix.0, &caller, body.enabled).await?;
    Ok(Json(body))
}

/// `GET /api/v1/vips`: every LoadBalancer Service's VIP — labelled, assigned, and selected by
/// an L2 announcement policy or a BGP advertisement.
/// Scripts read this as one list of every cluster's VIPs, so a cluster that cannot be read
/// still answers 502 here; `GET /api/v1/vips/report` answers the others' VIPs beside it.
pub async fn vip_status(State(state): State<AppState>) -> Result<Json<Vec<vips::VipStatus>>, ApiError> {
    let plan = backend::plan::load_from(&state.db).await?;
    let (statuses, failures) = vips::statuses(state.clusters.clusters(), &plan).await;
    match failures.into_iter().next() {
        Some(failure) => Err(unreadable(failure)),
        None => Ok(Json(statuses)),
    }
}

/// `GET /api/v1/vips/report`'s answer.
#[derive(Debug, Serialize)]
pub struct VipStatusReport {
    vips: Vec<vips::VipStatus>,
    /// Each cluster that could not be read, in a sentence.
    unreadable: Vec<String>,
}

/// `GET /api/v1/vips/report`: the VIPs of every cluster that answered, and why each other one
/// could not be read — one dead cluster does not hide the others.
pub async fn vip_status_report(State(state): State<AppState>) -> Result<Json<VipStatusReport>, ApiError> {
    let plan = backend::plan::load_from(&state.db).await?;
    let (vips, failures) = vips::statuses(state.clusters.clusters(), &plan).await;
    Ok(Json(VipStatusReport { vips, unreadable: failures.iter().map(ToString::to_string).collect() }))
}

/// 502 with the failure: the cluster could not be read.
fn unreadable(failure: Failure) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, failure.code, format!("{}: {} {}", failure.object, failure.message, failure.hint))
}

/// `GET /api/v1/import`: what importing from the cluster would add to the plan.
pub async fn import_preview(State(state): State<AppState>) -> Result<Json<import::Import>, ApiError> {
    let plan = backend::plan::load_from(&state.db).await?;
    Ok(Json(import::preview(state.clusters.clusters(), &plan).await.map_err(unreadable)?))
}

/// `POST /api/v1/import`: the cluster's pools and assigned VIPs into the plan, in one
/// transaction; answers what was imported.
pub async fn import(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<import::Import>, ApiError> {
    match import::apply(&state.db, state.clusters.clusters(), &caller).await {
        Ok(imported) => Ok(Json(imported)),
        Err(import::ImportError::Cluster(failure)) => Err(unreadable(failure)),
        Err(import::ImportError::Db(error)) => Err(error.into()),
    }
}

/// `GET /api/v1/drift`: the plan's pools and VIPs against the cluster's, both ways.
pub async fn drift(State(state): State<AppState>) -> Result<Json<drift::Drift>, ApiError> {
    let plan = backend::plan::load_from(&state.db).await?;
    Ok(Json(drift::drift(state.clusters.clusters(), &plan).await.map_err(unreadable)?))
}

#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    environment: Option<String>,
}

/// `GET /api/v1/applications/{app}/preview?environment=dev`: every object's YAML and its
/// fields against the live cluster (added, changed, unchanged), from a server-side dry run.
pub async fn preview(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(application): Path<String>,
    axum::extract::Query(query): axum::extract::Query<PreviewQuery>,
) -> Result<Json<Vec<submissions::PreviewObject>>, ApiError> {
    let Some(environment) = query.environment.filter(|e| !e.is_empty()) else {
        return Err(ApiError::bad_request("missing_environment", "say which environment to preview: ?environment=dev").with_field("environment"));
    };
    Ok(Json(state.clusters.submitter.preview(&caller, &application, &environment).await?))
}
