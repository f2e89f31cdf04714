//! `/api/v1/certificates` and `/api/v1/environments/{env}/certificates`. A private key is
//! accepted on upload and returned by no route: every response is a `CertificateView`.
//! App teams see only the certificates whose owners overlap their scopes (the backend
//! decides); `PUT /api/v1/certificates/{id}/owners` changes who may use one.
use std::collections::HashMap;

use backend::{certificates::{self as repo, CertificateError, Uploaded}, db::DbError};
use domain::{
    CertificateUpload,
    CertificateUploadInput,
    CertificateView,
    FieldErrors,
    Finding,
    InventoryQuery,
    certificates::{CertificateOwners, OwnersInput},
};
use axum::{
    Json,
    extract::{FromRequest, Path, Query, Request, State},
    http::StatusCode,
    response::Response,
};
use serde::Serialize;

use super::{ApiError, ApiJson, created};
use crate::{access::Caller, state::AppState};

/// Two files of at most 1 MiB each, as JSON strings (newlines escaped), with room to spare.
pub const UPLOAD_BODY_LIMIT: usize = 3 * 1024 * 1024;

fn not_found(id: impl std::fmt::Display) -> ApiError {
    ApiError::not_found("certificate_not_found", format!("there is no certificate with id {id}; GET /api/v1/certificates lists them"))
}

/// Certificates are addressed by number; anything else names none (a JSON 404, not axum's
/// plain-text rejection).
fn certificate_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| not_found(format!("{id:?}")))
}

fn environment_not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "environment_not_found",
        format!("there is no environment named {name:?}; GET /api/v1/environments lists them"),
    )
}

/// Field errors; a file over the size limit is answered 413, like a body over the limit.
fn field_errors(errors: &FieldErrors) -> ApiError {
    let error = ApiError::unprocessable(errors);
    if errors.iter().any(|e| e.code == "file_too_large") { error.with_status(StatusCode::PAYLOAD_TOO_LARGE) } else { error }
}

/// A refusal of the key keeps its answer (403 `certificate_not_allowed`, 422 with GH-CERT-SAN);
/// a key that does not open is the server's problem.
impl From<CertificateError> for ApiError {
    fn from(error: CertificateError) -> ApiError {
        match error {
            CertificateError::Upload(error) => ApiError::unprocessable(&FieldErrors::from(vec![error.to_field_error()])),
            CertificateError::Db(error) => error.into(),
            CertificateError::Seal(error) => ApiError::internal(&error),
        }
    }
}

fn upload_error(error: CertificateError, environment: &str) -> ApiError {
    match error {
        CertificateError::Upload(error) => ApiError::unprocessable(&FieldErrors::from(vec![error.to_field_error()])),
        CertificateError::Db(DbError::NotFound(_)) => environment_not_found(environment),
        CertificateError::Db(error) => error.into(),
        CertificateError::Seal(error) => ApiError::internal(&error),
    }
}

/// `?environment=dev&status=expiring&sort=expiry` (unknown values are ignored).
fn query(pairs: &HashMap<String, String>) -> InventoryQuery {
    InventoryQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// `GET /api/v1/certificates`: the current certificate of every environment and name.
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(pairs): Query<HashMap<String, String>>,
) -> Result<Json<Vec<CertificateView>>, ApiError> {
    Ok(Json(repo::list(&state.db, &caller, &query(&pairs)).await?))
}

/// `GET /api/v1/environments/{env}/certificates`
pub async fn list_environment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(environment): Path<String>,
    Query(pairs): Query<HashMap<String, String>>,
) -> Result<Json<Vec<CertificateView>>, ApiError> {
    if backend::environments::get(&state.db, &environment).await?.is_none() {
        return Err(environment_not_found(&environment));
    }
    let query = InventoryQuery { environment: Some(environment), ..query(&pairs) };
    Ok(Json(repo::list(&state.db, &caller, &query).await?))
}

/// The stored certificate and what the upload adds to the checklist (warnings, and errors
/// that block a submission rather than the upload, such as a hostname it does not cover).
#[derive(Serialize)]
struct UploadResponse {
    #[serde(flatten)]
    certificate: CertificateView,
    findings: Vec<Finding>,
}

/// `POST /api/v1/environments/{env}/certificates`
/// `{"name", "certificate_pem", "private_key_pem"}` or `{"name", "secret_ref": {"namespace", "name"}}`.
pub async fn upload(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(environment): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let ApiJson(input) = ApiJson::<CertificateUploadInput>::from_request(request, &state).await.map_err(|error| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                "the upload is larger than 3 MiB; a certificate chain and a key are at most 1 MiB each — upload the leaf certificate and its intermediates only",
            )
        } else if error.code() == "malformed_body" {
            // The JSON reader quotes a misplaced string, which may be a private key.
            error.with_message(
                "the JSON body could not be read: send {\"name\", \"certificate_pem\", \"private_key_pem\"} or {\"name\", \"secret_ref\": {\"namespace\", \"name\"}}, every value a string",
            )
        } else {
            error
        }
    })?;
    let upload = CertificateUpload::parse(input).map_err(|errors| field_errors(&errors))?;
    let Uploaded { certificate, findings } =
        repo::upload(&state.db, &state.secret_key, &caller, &environment, &upload)
            .await
            .map_err(|error| upload_error(error, &environment))?;
    let location = format!("/api/v1/certificates/{}", certificate.id);
    Ok(created(UploadResponse { certificate, findings }, &location))
}

/// `GET /api/v1/certificates/{id}`: with its chain and the other versions of its name.
pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<CertificateView>, ApiError> {
    let id = certificate_id(&id)?;
    repo::get(&state.db, &caller, id).await?.map(Json).ok_or_else(|| not_found(id))
}

/// `PUT /api/v1/certificates/{id}/owners` `{"owners": ["team-x", "team-y-*"]}`: who may use
/// the certificate; answers it as `GET` does. 409 for an earlier version.
pub async fn set_owners(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<OwnersInput>,
) -> Result<Json<CertificateView>, ApiError> {
    let id = certificate_id(&id)?;
    let owners = CertificateOwners::parse("owners", &input.owners).map_err(|errors| ApiError::unprocessable(&errors))?;
    let certificate = repo::set_owners(&state.db, &caller, id, &owners).await.map_err(|error| match error {
        DbError::NotFound(_) => not_found(id),
        DbError::Conflict(message) => ApiError::conflict("earlier_version", message),
        other => other.into(),
    })?;
    Ok(Json(certificate))
}

/// `DELETE /api/v1/certificates/{id}`: the current version takes its history (and every key
/// of it) along; 409 while an application uses it.
pub async fn delete(State(state): State<AppState>,
    Caller(caller): Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = certificate_id(&id)?;
    repo::delete(&state.db, &caller, id).await.map_err(|error| match error {
        DbError::NotFound(_) => not_found(id),
        DbError::Conflict(message) => ApiError::conflict("certificate_in_use", message),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
