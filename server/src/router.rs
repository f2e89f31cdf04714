//! One router for the whole portal: pages, /api/v1, health, static files.
use std::sync::Arc;

use app::{
    App,
    backend::http::{DEFAULT_POLICY, page_policy},
    shell,
};
use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use leptos::{
    nonce::Nonce,
    prelude::{provide_context, use_context},
};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{api, state::AppState};

pub fn router(state: AppState) -> Router {
    let leptos_routes = generate_route_list(App);
    let context = {
        let db = state.db.clone();
        let secret_key = state.secret_key.clone();
        let submitter = state.clusters.submitter.clone();
        let label_fix = state.clusters.label_fix.clone();
        move || {
            provide_context(db.clone());
            provide_context(secret_key.clone());
            provide_context(submitter.clone());
            provide_context(label_fix.clone());
            let nonce = use_context::<Parts>().and_then(|parts| parts.extensions.get::<PageNonce>().cloned());
            match nonce {
                Some(PageNonce(nonce)) => provide_context(Nonce::from_value(nonce)),
                None => leptos::nonce::provide_nonce(),
            }
        }
    };
    let strict_transport = state.tls.then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .nest("/api/v1", api::routes())
        .leptos_routes_with_context(&state, leptos_routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http())
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.request_timeout))
                .layer(CompressionLayer::new())
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(DEFAULT_POLICY),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    HeaderName::from_static("cross-origin-opener-policy"),
                    HeaderValue::from_static("same-origin"),
                ))
                .option_layer(strict_transport)
                .layer(middleware::from_fn(page_security_policy)),
        )
        .with_state(state)
}

/// This request's CSP nonce: the page's scripts carry it, the page's policy admits it.
#[derive(Clone)]
struct PageNonce(Arc<str>);

/// Gives every request a fresh nonce and every HTML response the page policy that admits
/// it. Set here, by the HTTP layer, rather than while the page renders, so no rendering path
/// (lazy routes, async data, error pages) can leave a page with the fallback policy that
/// blocks its own hydration script.
async fn page_security_policy(mut request: Request, next: Next) -> Response {
    let nonce: Arc<str> = Nonce::new().to_string().into();
    request.extensions_mut().insert(PageNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if is_page && let Ok(policy) = HeaderValue::from_str(&page_policy(&nonce)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(error) => {
            tracing::warn!(%error, "readiness check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "reason": "the database does not answer"})),
            )
        }
    }
}
