//! Verification (issue 22): `…/environments/{env}/verifications` — run the checks from the
//! portal (POST), read the latest and the history (GET), take a client's report
//! (`…/verifications/reports`, from `gatehouse verify --report`) and hand a client the plan
//! of checks 3 and 4 (`…/verifications/plan`). Policy lives in `backend::verify`.
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use views::verification::{ClientReport, ProbePlan, Verification, Verifications};

use super::{ApiError, ApiJson};
use crate::{access::Caller, state::AppState};

/// `GET …/verifications` → the latest portal run, the latest client report and the history.
pub async fn list(State(state): State<AppState>, Caller(caller): Caller, Path((app, env)): Path<(String, String)>) -> Result<Json<Verifications>, ApiError> {
    Ok(Json(backend::verify::list(&state.db, &caller, &app, &env).await?))
}

/// `POST …/verifications` → 201 with the run.
pub async fn verify(State(state): State<AppState>, Caller(caller): Caller, Path((app, env)): Path<(String, String)>) -> Result<(StatusCode, Json<Verification>), ApiError> {
    let verification = crate::verification::run(&state, &caller, &app, &env).await?;
    Ok((StatusCode::CREATED, Json(verification)))
}

/// `POST …/verifications/reports` `{"reporter", "checks"}` → 201.
pub async fn report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((app, env)): Path<(String, String)>,
    ApiJson(report): ApiJson<ClientReport>,
) -> Result<(StatusCode, Json<Verification>), ApiError> {
    let verification = backend::verify::report(&state.db, &caller, &app, &env, &report).await?;
    Ok((StatusCode::CREATED, Json(verification)))
}

/// `GET …/verifications/plan` → what `gatehouse verify` checks.
pub async fn plan(State(state): State<AppState>, Caller(caller): Caller, Path((app, env)): Path<(String, String)>) -> Result<Json<ProbePlan>, ApiError> {
    Ok(Json(backend::verify::probe_plan(&state.db, Some(&state.clusters.submitter.clusters), &caller, &app, &env).await?))
}
