//! `GET|POST /api/v1/pools.csv`: the VIP pools, allocations and reservations as CSV — an
//! export, and an all-or-nothing import of the same format (see `backend::csv`).
use backend::csv::{self as repo, ImportError, LineError, MAX_BODY};
use axum::{
    Json,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, post},
};

use super::{ApiError, ErrorDetail};
use crate::{access::Caller, state::AppState};

/// The import with its body limit.
pub fn import_route() -> MethodRouter<AppState> {
    post(import).layer(DefaultBodyLimit::max(MAX_BODY))
}

/// `GET /api/v1/pools.csv`.
pub async fn export(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = repo::export(&state.db).await?;
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"gatehouse-pools.csv\""),
    );
    Ok(response)
}

fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("text/csv") || mime.eq_ignore_ascii_case("application/csv")
        })
}

/// 422 (or 409) with every line's problem: `{"error": first, "errors": [...]}`.
fn lines_response(status: StatusCode, errors: Vec<LineError>, otherwise: &str) -> Response {
    let details: Vec<ErrorDetail> = errors
        .into_iter()
        .map(|error| ErrorDetail {
            field: Some(error.field()),
            code: error.code,
            message: error.message,
            rule: error.rule,
        })
        .collect();
    let first = details.first().cloned().unwrap_or_else(|| ErrorDetail {
        code: "conflict".to_owned(),
        message: otherwise.to_owned(),
        field: None,
        rule: None,
    });
    (status, Json(serde_json::json!({"error": first, "errors": details}))).into_response()
}

/// `POST /api/v1/pools.csv` with `Content-Type: text/csv`: creates the file's pools and
/// makes its allocations and reservations, or — when any line is wrong — changes nothing.
pub async fn import(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the CSV file is larger than {} MiB; split it into several imports", MAX_BODY / (1024 * 1024)),
            )
        } else {
            ApiError::new(rejection.status(), "unreadable_body", rejection.body_text())
        }
    })?;
    if !is_csv(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as CSV with the header Content-Type: text/csv",
        ));
    }
    match repo::import(&state.db, &caller, &body).await {
        Ok(summary) => Ok(Json(summary).into_response()),
        Err(ImportError::Malformed(error)) => {
            let rejection = ApiError::bad_request(error.code, error.message);
            Err(match error.line {
                Some(line) => rejection.with_field(format!("line {line}")),
                None => rejection,
            })
        }
        Err(ImportError::Invalid(errors)) => Ok(lines_response(StatusCode::UNPROCESSABLE_ENTITY, errors, "")),
        Err(ImportError::Conflict(errors)) => Ok(lines_response(
            StatusCode::CONFLICT,
            errors,
            "an address of the file was taken while the import ran; nothing was imported — try again",
        )),
        Err(ImportError::Db(error)) => Err(error.into()),
    }
}
