//! `GET /api/v1/topology/{view}.svg` (and `.png`): the diagrams, as the pages show them,
//! for `hardware`, `cilium`, `compare`, `applications/{app}`, `live/{app}` and `walk/{arp|bgp}`, with
//! `?environment=`, `?application=`, and for walks `?step=` and `?caveat=`.
use backend::{plan, png};
use domain::topology::{self, Query as ViewQuery, TopologyError, View};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::ApiError;
use crate::state::AppState;

enum Format {
    Svg,
    Png,
}

fn view_error(error: &TopologyError) -> ApiError {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::NOT_FOUND);
    let api_error = ApiError::new(status, error.code(), error.to_string());
    match error.field() {
        Some(field) => api_error.with_field(field),
        None => api_error,
    }
}

/// `cilium.svg` → (`cilium`, SVG); anything else is an unknown diagram.
fn split(prefix: &str, file: &str) -> Result<(View, Format), ApiError> {
    let unknown = || view_error(&TopologyError::UnknownView(format!("{prefix}{file}")));
    let (name, extension) = file.rsplit_once('.').ok_or_else(unknown)?;
    let format = match extension {
        "svg" => Format::Svg,
        "png" => Format::Png,
        _ => return Err(unknown()),
    };
    let view = View::parse(&format!("{prefix}{name}")).map_err(|e| view_error(&e))?;
    if view == View::Index {
        return Err(unknown());
    }
    Ok((view, format))
}

async fn answer(
    state: &AppState,
    view: View,
    format: Format,
    mut query: ViewQuery,
) -> Result<Response, ApiError> {
    let plan = plan::load_from(&state.db).await?;
    backend::cluster::live::read_for_view(state.clusters.clusters(), &plan, &view, &mut query)
        .await;
    let scene =
        topology::export(&plan, plan::now_unix(), &view, &query).map_err(|e| view_error(&e))?;
    let svg = topology::svg::render(&scene);
    let filename = format!("gatehouse-{}", view.path().replace('/', "-"));
    let (content_type, extension, body) = match format {
        Format::Svg => ("image/svg+xml; charset=utf-8", "svg", svg.into_bytes()),
        Format::Png => {
            let png = tokio::task::spawn_blocking(move || png::render(&svg)).await.map_err(|e| ApiError::internal(&e))?;
            let png = png.map_err(|error| match error {
                png::PngError::NoFonts => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "png_unavailable", error.to_string()),
                other => ApiError::internal(&other),
            })?;
            ("image/png", "png", png)
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{filename}.{extension}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `GET /api/v1/topology/{prefix}{file}`: `prefix` is empty (hardware, cilium, compare),
/// `applications/` or `walk/`; `file` is the view's last segment with `.svg` or `.png`.
pub async fn serve(
    prefix: &'static str,
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let (view, format) = split(prefix, &file)?;
    answer(&state, view, format, query).await
}
