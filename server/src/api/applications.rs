//! `/api/v1/applications`, their checklist, and the whole plan's conflicts.
use backend::{applications as repo, db::DbError, plan};
use domain::{Application, ApplicationInput, Finding, Report, application_report};
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{ApiError, ApiJson, created};
use crate::{access::Caller, state::AppState};

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "application_not_found",
        format!("there is no application named {name:?}; GET /api/v1/applications lists them"),
    )
}

fn parse(input: ApplicationInput) -> Result<Application, ApiError> {
    Application::parse(input).map_err(|errors| ApiError::unprocessable(&errors))
}

/// `GET /api/v1/applications?limit=&after=&namespace=&environment=`'s query.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<String>,
    after: Option<String>,
    namespace: Option<String>,
    environment: Option<String>,
}

/// How many applications a page holds unless `limit` says otherwise, and at most.
pub const PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

/// `GET /api/v1/applications`: a page of the applications the caller may read, by name, as
/// a JSON array; when there are more, a `Link: <…>; rel="next"` header names the next page.
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = match query.limit.as_deref() {
        None | Some("") => PAGE_SIZE,
        Some(text) => text.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_limit",
                format!("limit {text:?} is not a page size; give a whole number from 1 to {MAX_PAGE_SIZE}"),
            )
            .with_field("limit")
        })?,
    };
    let nonempty = |value: Option<String>| value.filter(|value| !value.is_empty());
    let request = repo::ApplicationQuery {
        limit,
        after: nonempty(query.after),
        namespace: nonempty(query.namespace),
        environment: nonempty(query.environment),
    };
    let page = repo::page_for(&state.db, &caller, &request).await?;
    let mut response = Json(&page.items).into_response();
    if let Some(next) = page.next {
        let mut link = form_urlencoded::Serializer::new(String::new());
        link.append_pair("limit", &limit.to_string()).append_pair("after", &next);
        if let Some(namespace) = &request.namespace {
            link.append_pair("namespace", namespace);
        }
        if let Some(environment) = &request.environment {
            link.append_pair("environment", environment);
        }
        if let Ok(value) = HeaderValue::from_str(&format!("</api/v1/applications?{}>; rel=\"next\"", link.finish())) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

pub async fn get(State(state): State<AppState>, Caller(caller): Caller, Path(name): Path<String>) -> Result<Json<Application>, ApiError> {
    repo::get_for(&state.db, &caller, &name).await.map(Json).map_err(|error| match error {
        DbError::NotFound(_) => not_found(&name),
        other => other.into(),
    })
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<Response, ApiError> {
    let application = parse(input)?;
    repo::create(&state.db, &state.clusters.submitter.tenancy, &caller, &application).await.map_err(|error| match error {
        DbError::Conflict(message) => ApiError::conflict("application_exists", message).with_field("name"),
        other => other.into(),
    })?;
    let location = format!("/api/v1/applications/{}", application.name);
    Ok(created(&application, &location))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<Json<Application>, ApiError> {
    let application = parse(input)?;
    if application.name.as_str() != name {
        return Err(ApiError::invalid_field(
            "name",
            "name_mismatch",
            format!(
                "the body names {:?} but the URL names {name:?}; create the application under its new name and delete this one",
                application.name.as_str()
            ),
        ));
    }
    repo::update(&state.db, &state.clusters.submitter.tenancy, &caller, &application).await.map_err(|error| match error {
        DbError::NotFound(_) => not_found(&name),
        other => other.into(),
    })?;
    Ok(Json(application))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    repo::delete(&state.db, &caller, &name).await.map_err(|error| match error {
        DbError::NotFound(_) => not_found(&name),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn checklist(State(state): State<AppState>, Caller(caller): Caller, Path(name): Path<String>) -> Result<Json<Report>, ApiError> {
    let (plan, full) = plan::checked(&state.db).await?;
    if !plan.application(&name).is_some_and(|application| caller.may_read_application(&plan, application)) {
        return Err(not_found(&name));
    }
    Ok(Json(application_report(&plan, &full, &name)))
}

#[derive(Serialize)]
pub struct Conflicts {
    findings: Vec<Finding>,
}

pub async fn conflicts(State(state): State<AppState>) -> Result<Json<Conflicts>, ApiError> {
    let (_, report) = plan::checked(&state.db).await?;
    Ok(Json(Conflicts { findings: report.findings.clone() }))
}
