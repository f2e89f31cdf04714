//! The topology pages' data: the server lays the diagrams out, draws them and renders the
//! static page to HTML; the browser gets that and the few facts the walk's controls need.
use leptos::prelude::*;

use super::AppError;
use crate::topology::page::TopologyScreen;

/// One topology page: `view` is the path below /topology (empty for the index).
#[server]
pub async fn load_topology(
    view: String,
    environment: Option<String>,
    application: Option<String>,
    step: Option<String>,
    caveat: Option<String>,
) -> Result<TopologyScreen, AppError> {
    use crate::backend::plan;
    use crate::topology::{Query, View, page};
    let db = crate::api::context::use_database()?;
    let view = View::parse(&view).map_err(to_app_error)?;
    let plan = plan::load_from(&db).await?;
    let mut query = Query {
        environment,
        application,
        step,
        caveat,
        live: Vec::new(),
    };
    if let Some(submitter) = use_context::<crate::backend::cluster::submissions::Submitter>() {
        crate::backend::cluster::live::read_for_view(&submitter.clusters, &plan, &view, &mut query)
            .await;
    }
    let page = page(&plan, plan::now_unix(), &view, &query).map_err(to_app_error)?;
    Ok(crate::ui::topology_html::screen(page))
}

#[cfg(feature = "ssr")]
fn to_app_error(error: crate::topology::TopologyError) -> AppError {
    if error.status() == 404 { AppError::NotFound(error.to_string()) } else { AppError::Invalid(error.to_string()) }
}
