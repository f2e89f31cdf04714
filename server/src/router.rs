//! One router for the whole portal: pages, /api/v1, health, static files.
use std::sync::Arc;

use app::{App, shell};
use backend::{auth::Principal, http::{DEFAULT_POLICY, page_policy}};
use domain::access::Access;
use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use leptos::{
    nonce::Nonce,
    prelude::{provide_context, use_context},
};
use leptos_axum::generate_route_list;
use leptos_router::SsrMode;
use tower::{Layer as _, ServiceBuilder};
use tower_http::{
    compression::CompressionLayer,
    set_header::{SetResponseHeader, SetResponseHeaderLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    access::{self, RouteRule, Routes, Surface},
    api, metrics, pages,
    state::AppState,
};

/// Every route with its access rule: health checks, the account pages, the Leptos pages and
/// server functions, and /api/v1. The router that serves them, and the list of rules.
/// No body of a request outside /api/v1 is read past this: the server functions read their
/// bodies whole. The /api/v1 routes have lower limits of their own, answered in the API's
/// error shape.
pub const REQUEST_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Forms (sign-in, account, users) and every request without a signed-in caller are read
/// no further than this, so an anonymous client cannot make the portal hold megabytes.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;

pub fn routes(state: &AppState) -> (Router<AppState>, Vec<RouteRule>) {
    let context = leptos_context(state);
    let (api, mut rules) = api::routes().into_parts();
    let (site, site_rules) = Routes::new("", Surface::Page)
        .get("/healthz", Access::Public, healthz)
        .get("/readyz", Access::Public, readyz)
        .get("/metrics", Access::VIEWER, metrics::scrape)
        .merge(pages::routes())
        .merge(crate::oidc::routes())
        .merge(leptos_pages(state, context.clone()))
        .merge(server_functions(context))
        .into_parts();
    rules.extend(site_rules);
    (site.nest("/api/v1", api::router(api)), rules)
}

pub fn router(state: AppState) -> Router {
    let context = leptos_context(&state);
    let strict_transport = state.https.then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });

    routes(&state)
        .0
        // The site's build output: open to anyone, served from the files cargo-leptos wrote
        // (`.br` and `.gz` beside them after `--precompress`, so nothing is compressed per request).
        .nest_service(&format!("/{}", state.leptos_options.site_pkg_dir), site_files(&state.leptos_options))
        // Other static files and the "page not found" page: open to anyone.
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        // Inside authentication: how much of a body is read depends on who sends it.
        .layer(middleware::from_fn(limit_request_body))
        .layer(middleware::from_fn(no_store))
        .layer(middleware::from_fn_with_state(state.clone(), access::authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
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

/// The site's `pkg` directory: the precompressed `.br` or `.gz` of a file when the browser
/// accepts it and the build wrote one, else the file (compressed on the way out). The names
/// are not content-hashed, so browsers revalidate (`no-cache`, answered 304 while unchanged)
/// rather than keep a file forever. A file that is not there is a 404.
fn site_files(
    options: &leptos::prelude::LeptosOptions,
) -> SetResponseHeader<tower_http::services::ServeDir, HeaderValue> {
    let pkg = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let files = tower_http::services::ServeDir::new(pkg).precompressed_br().precompressed_gzip();
    SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")).layer(files)
}

/// What pages and server functions find in their Leptos context: the database, the secret
/// key, the sign-in options, the API tokens' lifetimes, the signed-in caller and the page's
/// CSP nonce.
fn leptos_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let db = state.db.clone();
    let secret_key = state.secret_key.clone();
    let submitter = state.clusters.submitter.clone();
    let label_fix = state.clusters.label_fix.clone();
    let verify_dialer = state.verify_dialer.clone();
    let token_lifetimes = state.auth.token_lifetimes;
    let sign_in = app::api::account::SignInOptions { oidc: state.auth.oidc.is_some() };
    move || {
        provide_context(token_lifetimes);
        provide_context(sign_in);
        provide_context(db.clone());
        provide_context(secret_key.clone());
        provide_context(submitter.tenancy.clone());
        provide_context(submitter.clone());
        provide_context(label_fix.clone());
        provide_context(verify_dialer.clone());
        let parts = use_context::<Parts>();
        if let Some(caller) = parts.as_ref().and_then(|parts| parts.extensions.get::<Principal>()) {
            provide_context(caller.clone());
        }
        // `page_security_policy` wraps every route, so every request carries its nonce.
        if let Some(PageNonce(nonce)) = parts.and_then(|parts| parts.extensions.get::<PageNonce>().cloned()) {
            provide_context(Nonce::from_value(nonce));
        }
    }
}

/// The pages' routes, generated once per process. Generating them sets Leptos' process-wide
/// `SuppressResourceLoad` flag (leptos-rs/leptos #4773): a resource that a render on another
/// thread polls first while it is set never loads, and that render waits forever. Production
/// builds one router; the tests start many portals in one process, and each used to generate
/// the list twice (the router and `route_rules`) while the others rendered pages. Once, before
/// any router exists, nothing renders meanwhile.
fn page_listings() -> &'static [leptos_axum::AxumRouteListing] {
    static LISTINGS: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    LISTINGS.get_or_init(|| generate_route_list(App))
}

/// The Leptos pages, each behind its rule from `app::page_rule`.
fn leptos_pages(state: &AppState, context: impl Fn() + Clone + Send + Sync + 'static) -> Routes {
    let options = state.leptos_options.clone();
    let app = move || shell(options.clone());
    page_listings().iter().fold(Routes::new("", Surface::Page), |routes, listing| {
        let path = listing.path().to_owned();
        let access = app::app::page_rule(&path);
        if access == Access::Unlisted {
            tracing::error!(%path, "a page has no access rule in app::page_rule; it answers 403 to everyone");
        }
        let handler = match listing.mode() {
            SsrMode::Async => axum::routing::get(leptos_axum::render_app_async_with_context(context.clone(), app.clone())),
            _ => axum::routing::get(leptos_axum::render_app_to_stream_with_context(context.clone(), app.clone())),
        };
        routes.route(Method::GET, &path, access, handler)
    })
}

/// A server function's error answers with its own status — 404, 409, 422 or 403 — rather
/// than the 500 Leptos sends for every `Err`: a typo is not a server fault, to the browser's
/// console or to the 5xx metrics.
async fn with_error_status(response: axum::response::Response) -> axum::response::Response {
    if response.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<app::api::AppError>(&bytes)
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The server functions, each behind its rule from `app::api::server_fn_rule`.
fn server_functions(context: impl Fn() + Clone + Send + Sync + 'static) -> Routes {
    leptos::server_fn::axum::server_fn_paths().fold(Routes::new("", Surface::ServerFn), |routes, (path, method)| {
        let access = app::api::server_fn_rule(path);
        if access == Access::Unlisted {
            tracing::error!(%path, "a server function has no access rule in app::api::server_fn_rule; it answers 403 to everyone");
        }
        let context = context.clone();
        let handler = move |request: Request| {
            let context = context.clone();
            async move { with_error_status(axum::response::IntoResponse::into_response(leptos_axum::handle_server_fns_with_context(context, request).await)).await }
        };
        let method_router = axum::routing::on(
            axum::routing::MethodFilter::try_from(method.clone()).unwrap_or(axum::routing::MethodFilter::POST),
            handler,
        );
        routes.route(method, path, access, method_router)
    })
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
    if is_page(&response) && let Ok(policy) = HeaderValue::from_str(&page_policy(&nonce)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

fn is_page(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"))
}

/// Dynamic answers (the API, server functions, pages) are never kept by a browser or a proxy
/// cache: bundles and previews carry private keys, and every page shows what only its caller
/// may see. Static files (the site's `/pkg/` and assets) stay cacheable.
async fn no_store(request: Request, next: Next) -> Response {
    let dynamic_path = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if dynamic_path || is_page(&response) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn limit_request_body(request: Request, next: Next) -> Response {
    use http_body_util::{BodyExt, LengthLimitError, Limited};
    if request.uri().path().starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let is_form = request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
        let mime = value.split(';').next().unwrap_or_default().trim();
        mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") || mime.eq_ignore_ascii_case("multipart/form-data")
    });
    let signed_in = request.extensions().get::<Principal>().is_some();
    let limit = if is_form || !signed_in { FORM_BODY_LIMIT } else { REQUEST_BODY_LIMIT };
    let too_large = || {
        let message = if limit == FORM_BODY_LIMIT {
            format!("The request is larger than {} KiB, the limit for forms and for requests before signing in.", limit / 1024)
        } else {
            format!("The request is larger than {} MiB.", limit / (1024 * 1024))
        };
        (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return too_large();
    }
    // Read here, within the limit, so a chunked body past it is a 413 rather than a failed
    // read inside a server function.
    let (parts, body) = request.into_parts();
    match Limited::new(body, limit).collect().await {
        Ok(body) => next.run(Request::from_parts(parts, axum::body::Body::from(body.to_bytes()))).await,
        Err(error) if error.is::<LengthLimitError>() => too_large(),
        Err(_) => (StatusCode::BAD_REQUEST, "The request body could not be read.").into_response(),
    }
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
