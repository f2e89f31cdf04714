//! Who is asking, and may they: every request is authenticated once (session cookie, bearer
//! token, or the demo sign-in), checked against cross-site forgery, and every route is
//! registered through [`Routes`] with the [`Access`] rule it declares — there is no way to add
//! a route without one, and pages or server functions that have no rule answer 403.
use std::net::SocketAddr;

use backend::auth::{Principal, Via, limiter::{Locked, SignInLimiter}, sessions::{self, Timeouts}, tokens, users};
use domain::access::{Access, Decision};
use axum::{
    Router,
    extract::{ConnectInfo, FromRequestParts, Request, State, connect_info::Connected},
    handler::Handler,
    http::{Extensions, HeaderMap, Method, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::MethodRouter,
    serve::IncomingStream,
};

use crate::{api::ApiError, pages, state::AppState};

pub const SESSION_COOKIE: &str = "gatehouse-session";
/// The session cookie's name over HTTPS: `__Host-` makes browsers refuse it unless it is
/// `Secure`, for `Path=/` and without a `Domain`, so a sibling host cannot plant or widen it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-gatehouse-session";

impl AuthSettings {
    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure_cookies { SECURE_SESSION_COOKIE } else { SESSION_COOKIE }
    }
}

/// Sign-in settings shared by every request.
#[derive(Debug)]
pub struct AuthSettings {
    pub timeouts: Timeouts,
    pub limiter: SignInLimiter,
    /// `--demo` with the demo sign-in: visitors without a session are this user.
    pub demo_user: Option<Principal>,
    /// Cookies carry `Secure` and the `__Host-` prefix (browsers reach the portal over HTTPS).
    pub secure_cookies: bool,
    /// `--public-url`'s origin: the one `Origin` a browser's write may carry.
    pub public_origin: Option<String>,
    /// How long API tokens live.
    pub token_lifetimes: backend::auth::tokens::Lifetimes,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxies`).
    pub trusted_proxies: Vec<domain::Cidr>,
    /// OpenID Connect sign-in, when configured.
    pub oidc: Option<crate::oidc::OidcSettings>,
}

/// Where a route is served, which decides how a refusal looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// HTML: anonymous callers are sent to the sign-in page, others get a 403 page.
    Page,
    /// /api/v1 JSON: 401 or 403 with the API's error body.
    Api,
    /// Leptos server functions: 401 or 403 with the API's error body.
    ServerFn,
}

/// One registered route and its rule; the role × route test walks these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub method: Method,
    pub path: String,
    pub access: Access,
    pub surface: Surface,
}

/// A router that takes every route with its access rule and keeps the list of rules.
pub struct Routes {
    router: Router<AppState>,
    rules: Vec<RouteRule>,
    prefix: &'static str,
    surface: Surface,
}

impl Routes {
    /// Routes served under `prefix` (for the rule list; the caller nests the router there).
    pub fn new(prefix: &'static str, surface: Surface) -> Routes {
        Routes { router: Router::new(), rules: Vec::new(), prefix, surface }
    }

    /// `handler` must route exactly `method`; it is guarded by `access`.
    pub fn route(mut self, method: Method, path: &str, access: Access, handler: MethodRouter<AppState>) -> Routes {
        self.rules.push(RouteRule { method, path: format!("{}{path}", self.prefix), access, surface: self.surface });
        let guard = Guard { access, surface: self.surface };
        self.router = self.router.route(path, handler.route_layer(middleware::from_fn_with_state(guard, guard_route)));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.route(Method::GET, path, access, axum::routing::get(handler))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.route(Method::POST, path, access, axum::routing::post(handler))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.route(Method::PUT, path, access, axum::routing::put(handler))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.route(Method::DELETE, path, access, axum::routing::delete(handler))
    }

    /// Joins routes registered elsewhere (their rules come along).
    pub fn merge(mut self, other: Routes) -> Routes {
        self.rules.extend(other.rules);
        self.router = self.router.merge(other.router);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteRule>) {
        (self.router, self.rules)
    }
}

#[derive(Debug, Clone, Copy)]
struct Guard {
    access: Access,
    surface: Surface,
}

async fn guard_route(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let caller = request.extensions().get::<Principal>();
    match guard.access.decide(caller.map(|caller| caller.role)) {
        Decision::Allow => next.run(request).await,
        Decision::SignIn => match guard.surface {
            Surface::Page => {
                let wanted = request.uri().path_and_query().map_or("/", |path| path.as_str());
                Redirect::to(&format!("/sign-in?return={}", backend::audit::query_escape(wanted))).into_response()
            }
            Surface::Api | Surface::ServerFn => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "sign_in_required",
                "sign in first: send a session cookie or `Authorization: Bearer <token>` (POST /api/v1/tokens makes one)",
            )
            .into_response(),
        },
        Decision::Forbid => {
            let role = caller.map_or("", |caller| caller.role.label());
            let message = format!("your role ({role}) does not allow this; it is open to {}", guard.access.describe());
            match guard.surface {
                Surface::Page => pages::forbidden(caller, request.headers(), &message),
                Surface::Api | Surface::ServerFn => {
                    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message).into_response()
                }
            }
        }
    }
}

/// The signed-in caller, for handlers behind a rule that requires one.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts.extensions.get::<Principal>().cloned().map(Caller).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "sign_in_required", "sign in first")
        })
    }
}

/// The caller if there is one (for public routes that greet signed-in users).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<MaybeCaller, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<Principal>().cloned()))
    }
}

/// The client's address, as the listener (plain or TLS) saw it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, crate::PlainListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, crate::PlainListener>) -> ClientAddr {
        ClientAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> ClientAddr {
        ClientAddr(*stream.remote_addr())
    }
}

/// The client's address, when the server knows it (not in `oneshot` tests). A connection
/// from a trusted proxy is taken for the right-most address of `X-Forwarded-For` that is
/// not a trusted proxy: hops to the left of it could have been written by the client.
pub fn client_address(settings: &AuthSettings, extensions: &Extensions, headers: &HeaderMap) -> Option<std::net::IpAddr> {
    let peer = extensions.get::<ConnectInfo<ClientAddr>>().map(|ConnectInfo(ClientAddr(address))| address.ip())?;
    Some(forwarded_client(&settings.trusted_proxies, peer, headers))
}

fn forwarded_client(trusted: &[domain::Cidr], peer: std::net::IpAddr, headers: &HeaderMap) -> std::net::IpAddr {
    let is_trusted = |address: std::net::IpAddr| {
        let address = domain::IpAddr::from(address.to_canonical());
        trusted.iter().any(|network| network.contains(&address))
    };
    let mut client = peer;
    if !is_trusted(client) {
        return client;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        // A hop that is not an address stops the walk: the last proxy trusted so far counts,
        // so a forged entry cannot earn a fresh count.
        let Ok(address) = hop.trim().parse::<std::net::IpAddr>() else { break };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    client
}

/// The value of the request's cookie of that name, if it sent one.
pub fn cookie<'a>(headers: &'a HeaderMap, cookie_name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value)
}

/// The session id in the request's cookie, if any.
pub fn session_cookie<'a>(settings: &AuthSettings, headers: &'a HeaderMap) -> Option<&'a str> {
    cookie(headers, settings.session_cookie_name())
}

/// The `Set-Cookie` value that starts a session, and the one that ends it.
pub fn session_cookie_header(settings: &AuthSettings, id: Option<&str>) -> String {
    let secure = if settings.secure_cookies { "; Secure" } else { "" };
    let name = settings.session_cookie_name();
    match id {
        Some(id) => format!("{name}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}", settings.timeouts.absolute),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// User name and password from `Authorization: Basic …`.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

/// Why a user name and password did not sign anyone in.
#[derive(Debug)]
pub enum SignInRefused {
    Locked(Locked),
    Wrong,
    Failed(backend::db::DbError),
}

impl SignInRefused {
    pub const WRONG: &str = "The user name or password is wrong (or the account is disabled).";

    pub fn status(&self) -> StatusCode {
        match self {
            SignInRefused::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
            SignInRefused::Wrong => StatusCode::UNAUTHORIZED,
            SignInRefused::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Adds `Retry-After` to a refusal for a locked account or address.
    pub fn annotate(&self, mut response: Response) -> Response {
        if let SignInRefused::Locked(locked) = self
            && let Ok(value) = header::HeaderValue::from_str(&locked.retry_after_secs().to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }

    fn into_api_response(self) -> Response {
        let response = match &self {
            SignInRefused::Locked(locked) => ApiError::new(self.status(), "too_many_sign_ins", locked.message()),
            SignInRefused::Wrong => ApiError::new(self.status(), "wrong_credentials", SignInRefused::WRONG),
            SignInRefused::Failed(error) => ApiError::internal(error),
        };
        self.annotate(response.into_response())
    }
}

/// Checks a user name and password under the sign-in limits (per account and address).
pub async fn check_password(
    state: &AppState,
    name: &str,
    password: &str,
    address: Option<std::net::IpAddr>,
) -> Result<users::User, SignInRefused> {
    let (limiter, db) = (&state.auth.limiter, &state.db);
    let now = state.clock.now_millis();
    limiter.check(db, name, address, now).await.map_err(SignInRefused::Failed)?.map_err(SignInRefused::Locked)?;
    match users::authenticate(db, name, password).await {
        Ok(Some(user)) => {
            limiter.succeeded(db, name).await.map_err(SignInRefused::Failed)?;
            Ok(user)
        }
        Ok(None) => {
            limiter.failed(db, name, address, state.clock.now_millis()).await.map_err(SignInRefused::Failed)?;
            tracing::info!(name, "failed sign-in");
            Err(SignInRefused::Wrong)
        }
        Err(error) => Err(SignInRefused::Failed(error)),
    }
}

/// Resolves the caller once per request and refuses cross-site writes. A request with an
/// `Authorization` header is not ambient (a page on another site cannot add one), so it is
/// exempt from the cross-site check; a bearer token that does not resolve is a 401, never a
/// silent anonymous request.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let now = state.clock.now_unix();
    let caller = if let Some((name, password)) = basic(headers) {
        // HTTP basic credentials only make an API token (POST /api/v1/tokens), under the
        // same sign-in limits as the form.
        if !(request.method() == Method::POST && request.uri().path() == "/api/v1/tokens") {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "basic_credentials_only_for_tokens",
                "user name and password are accepted only by POST /api/v1/tokens; send the token it answers as `Authorization: Bearer <token>`",
            )
            .into_response();
        }
        let address = client_address(&state.auth, request.extensions(), request.headers());
        match check_password(&state, &name, &password, address).await {
            Ok(user) => Some(Principal { user_id: user.id, name: user.name, role: user.role, scopes: user.scopes, via: Via::Password }),
            Err(refused) => return refused.into_api_response(),
        }
    } else if let Some(token) = bearer(headers) {
        match tokens::resolve(&state.db, token).await {
            Ok(Some(principal)) => Some(principal),
            Ok(None) => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the bearer token is unknown, revoked, or its user is disabled; make a new one with POST /api/v1/tokens",
                )
                .into_response();
            }
            Err(error) => return ApiError::internal(&error).into_response(),
        }
    } else if let Some(id) = session_cookie(&state.auth, headers) {
        match sessions::resolve(&state.db, id, state.auth.timeouts, now).await {
            Ok(principal) => principal,
            Err(error) => return ApiError::internal(&error).into_response(),
        }
    } else {
        None
    };
    let caller = caller.or_else(|| state.auth.demo_user.clone());
    let has_authorization = request.headers().contains_key(header::AUTHORIZATION);
    if !has_authorization && let Some(why) = cross_site(&request, &state) {
        tracing::warn!(path = %request.uri().path(), why, "refused a cross-site request");
        let message = format!("refused: {why}. Use the portal's own pages, or an API token for scripts");
        if request.uri().path().starts_with("/api/") {
            return ApiError::new(StatusCode::FORBIDDEN, "cross_site_request", message).into_response();
        }
        return pages::forbidden(caller.as_ref(), request.headers(), &message);
    }
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

/// Why an unsafe request looks forged, or `None`. Browsers send `Sec-Fetch-Site` or
/// `Origin` with every cross-origin POST, PUT and DELETE (forms and `fetch` alike); a request
/// with neither is not a browser's, cannot carry a victim's cookie, and passes — the rule of
/// Go's `CrossOriginProtection`.
fn cross_site(request: &Request, state: &AppState) -> Option<&'static str> {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return (!matches!(site, "same-origin" | "none")).then_some("the request came from another site");
    }
    if let Some(origin) = text("origin") {
        let same = match &state.auth.public_origin {
            Some(public) => origin.eq_ignore_ascii_case(public),
            None => {
                let scheme = if state.https { "https" } else { "http" };
                text("host").is_some_and(|host| origin == format!("{scheme}://{host}"))
            }
        };
        return (!same).then_some("its Origin is not this portal");
    }
    None
}


#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::forwarded_client;

    #[test]
    fn the_client_is_the_right_most_hop_that_is_not_a_trusted_proxy() {
        let trusted = [domain::Cidr::parse("10.0.0.0/8").unwrap()];
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.4"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.1.2.3"));
        let client = |peer: &str, headers: &HeaderMap| forwarded_client(&trusted, peer.parse().unwrap(), headers).to_string();
        assert_eq!(client("10.0.0.1", &headers), "198.51.100.4", "the left-most hop could be forged");
        assert_eq!(client("192.0.2.1", &headers), "192.0.2.1", "an untrusted peer's header is ignored");
        assert_eq!(forwarded_client(&[], "10.0.0.1".parse().unwrap(), &headers).to_string(), "10.0.0.1");
        let mut garbled = HeaderMap::new();
        garbled.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, not-an-address, 10.1.2.3"));
        assert_eq!(client("10.0.0.1", &garbled), "10.1.2.3");
        assert_eq!(client("10.0.0.1", &HeaderMap::new()), "10.0.0.1");
    }
}
