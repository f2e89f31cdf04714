//! OpenID Connect sign-in: the authorization code flow with PKCE (S256), a `state` and a
//! `nonce`, the ID token's RS256 signature checked against the provider's published keys, and
//! the provider's groups mapped to a role. Users signed in this way have no password here.
use std::time::Duration;

use backend::auth::{pending::{self, Pending}, random_secret, sessions, users};
use domain::access::{Access, Role};
use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;

use crate::{
    access::{MaybeCaller, Routes, Surface, session_cookie_header},
    pages,
    state::AppState,
};

/// The provider and how its groups become roles. `Debug` does not show the client secret.
/// Sign-ins under way are rows in the database ([`pending`]), so the provider may send the
/// browser back to another replica than the one it left.
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub groups_claim: String,
    /// Group → role; a user gets the highest role of their groups.
    pub roles: Vec<(String, Role)>,
    http: reqwest::Client,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("groups_claim", &self.groups_claim)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// How long a visitor may take at the provider.
const PENDING_FOR: Duration = Duration::from_secs(600);

fn pending_for_ms() -> i64 {
    i64::try_from(PENDING_FOR.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug, thiserror::Error)]
pub enum OidcConfigError {
    #[error("--oidc-roles: {0:?} is not GROUP=ROLE (for example netops=network_admin)")]
    Mapping(String),
    #[error("--oidc-roles: {0}")]
    Role(#[from] domain::access::UnknownRole),
    #[error("--oidc-issuer needs --oidc-client-id and GATEHOUSE_OIDC_CLIENT_SECRET")]
    Incomplete,
    #[error("OpenID Connect HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// `netops=network_admin, admins=admin` → the mapping.
pub fn parse_roles(text: &str) -> Result<Vec<(String, Role)>, OidcConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (group, role) = item.split_once('=').ok_or_else(|| OidcConfigError::Mapping(item.to_owned()))?;
            Ok((group.trim().to_owned(), Role::parse(role)?))
        })
        .collect()
}

impl OidcSettings {
    pub fn new(
        issuer: &str,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        groups_claim: &str,
        roles: &str,
    ) -> Result<OidcSettings, OidcConfigError> {
        let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
            return Err(OidcConfigError::Incomplete);
        };
        Ok(OidcSettings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            groups_claim: groups_claim.to_owned(),
            roles: parse_roles(roles)?,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        })
    }

    /// The highest role any of the groups maps to.
    pub fn role_for(&self, groups: &[String]) -> Option<Role> {
        self.roles.iter().filter(|(group, _)| groups.contains(group)).map(|(_, role)| *role).max()
    }
}

pub fn routes() -> Routes {
    Routes::new("", Surface::Page)
        .get("/sign-in/oidc", Access::Public, start)
        .get("/sign-in/oidc/callback", Access::Public, callback)
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

async fn discover(oidc: &OidcSettings) -> Result<Discovery, String> {
    let url = format!("{}/.well-known/openid-configuration", oidc.issuer);
    let discovery: Discovery = oidc
        .http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| format!("the OpenID provider's configuration could not be read ({error})"))?
        .json()
        .await
        .map_err(|error| format!("the OpenID provider's configuration is not what OpenID Connect says ({error})"))?;
    if discovery.issuer.trim_end_matches('/') != oidc.issuer {
        return Err(format!("the provider calls itself {:?}, not {:?}", discovery.issuer, oidc.issuer));
    }
    Ok(discovery)
}

/// Where the provider sends the browser back: the public URL, or else this portal as the
/// browser reached it.
fn redirect_uri(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(origin) = &state.auth.public_origin {
        return format!("{origin}/sign-in/oidc/callback");
    }
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("127.0.0.1");
    let scheme = if state.https { "https" } else { "http" };
    format!("{scheme}://{host}/sign-in/oidc/callback")
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
}

fn refuse(caller: Option<&backend::auth::Principal>, headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    let mut response = pages::forbidden(caller, headers, message);
    *response.status_mut() = status;
    response
}

async fn start(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Response {
    let Some(oidc) = &state.auth.oidc else {
        return refuse(caller.as_ref(), &headers, StatusCode::NOT_FOUND, "OpenID Connect sign-in is not configured (--oidc-issuer)");
    };
    let discovery = match discover(oidc).await {
        Ok(discovery) => discovery,
        Err(message) => return refuse(caller.as_ref(), &headers, StatusCode::BAD_GATEWAY, &message),
    };
    let state_id = random_secret();
    // The state is bound to this browser: the callback needs the cookie as well, so a
    // callback URL planted in another browser (login CSRF) finds no sign-in to complete.
    let binding = random_secret();
    let pending = Pending {
        verifier: random_secret(),
        nonce: random_secret(),
        return_to: pages::safe_return(query.return_to.as_deref()).to_owned(),
        redirect_uri: redirect_uri(&state, &headers),
    };
    let url = reqwest::Url::parse_with_params(
        &discovery.authorization_endpoint,
        &[
            ("response_type", "code"),
            ("client_id", oidc.client_id.as_str()),
            ("redirect_uri", pending.redirect_uri.as_str()),
            ("scope", &format!("openid profile {}", oidc.groups_claim)),
            ("state", state_id.as_str()),
            ("nonce", pending.nonce.as_str()),
            ("code_challenge", &pkce_challenge(&pending.verifier)),
            ("code_challenge_method", "S256"),
        ],
    );
    let Ok(url) = url else {
        return refuse(caller.as_ref(), &headers, StatusCode::BAD_GATEWAY, "the provider's authorization endpoint is not a URL");
    };
    if let Err(error) = pending::store(&state.db, &bound_state(&state_id, &binding), &pending, state.clock.now_millis(), pending_for_ms()).await {
        return crate::api::ApiError::internal(&error).into_response();
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    set_binding_cookie(&mut response, &state, Some(&binding));
    response
}

/// The cookie that binds a sign-in under way to the browser that started it; it lives as long
/// as the sign-in may take. `SameSite=Lax` still sends it with the provider's redirect back,
/// a top-level GET.
fn binding_cookie_name(state: &AppState) -> &'static str {
    if state.auth.secure_cookies { "__Host-gatehouse-oidc" } else { "gatehouse-oidc" }
}

fn set_binding_cookie(response: &mut Response, state: &AppState, binding: Option<&str>) {
    let secure = if state.auth.secure_cookies { "; Secure" } else { "" };
    let name = binding_cookie_name(state);
    let cookie = match binding {
        Some(binding) => format!("{name}={binding}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}", PENDING_FOR.as_secs()),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    if let Ok(cookie) = header::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

fn binding_cookie<'a>(state: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    crate::access::cookie(headers, binding_cookie_name(state))
}

/// What a sign-in under way is stored under: its `state` and its browser's binding.
fn bound_state(state_id: &str, binding: &str) -> String {
    format!("{state_id}.{binding}")
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: String,
    access_token: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let mut response = completed(&state, caller.as_ref(), &headers, query).await;
    set_binding_cookie(&mut response, &state, None);
    response
}

async fn completed(
    state: &AppState,
    caller: Option<&backend::auth::Principal>,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Response {
    let Some(oidc) = &state.auth.oidc else {
        return refuse(caller, headers, StatusCode::NOT_FOUND, "OpenID Connect sign-in is not configured (--oidc-issuer)");
    };
    if let Some(error) = &query.error {
        let detail = query.error_description.as_deref().unwrap_or("");
        return refuse(caller, headers, StatusCode::UNAUTHORIZED, &format!("the OpenID provider refused the sign-in: {error} {detail}"));
    }
    let pending = match (&query.state, binding_cookie(state, headers)) {
        (Some(id), Some(binding)) => match pending::take(&state.db, &bound_state(id, binding), state.clock.now_millis(), pending_for_ms()).await {
            Ok(pending) => pending,
            Err(error) => return crate::api::ApiError::internal(&error).into_response(),
        },
        _ => None,
    };
    let (Some(pending), Some(code)) = (pending, query.code) else {
        return refuse(
            caller,
            headers,
            StatusCode::BAD_REQUEST,
            "this sign-in link is unknown, too old (10 minutes) or was started in another browser; start again from the sign-in page",
        );
    };
    let user = match verified_user(state, oidc, &pending, &code).await {
        Ok(user) => user,
        Err(message) => {
            tracing::warn!(reason = %message, "OpenID Connect sign-in refused");
            return refuse(caller, headers, StatusCode::FORBIDDEN, &message);
        }
    };
    let id = match sessions::start(&state.db, user.id, state.clock.now_unix()).await {
        Ok(id) => id,
        Err(error) => return crate::api::ApiError::internal(&error).into_response(),
    };
    tracing::info!(user = %user.name, "signed in with OpenID Connect");
    let mut response = Redirect::to(&pending.return_to).into_response();
    if let Ok(cookie) = header::HeaderValue::from_str(&session_cookie_header(&state.auth, Some(&id))) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Exchanges the code (with the PKCE verifier), checks the ID token, reads the groups and
/// finds or creates the user with the role they map to.
async fn verified_user(state: &AppState, oidc: &OidcSettings, pending: &Pending, code: &str) -> Result<users::User, String> {
    let discovery = discover(oidc).await?;
    let answer: TokenAnswer = oidc
        .http
        .post(&discovery.token_endpoint)
        .basic_auth(&oidc.client_id, Some(&oidc.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", pending.redirect_uri.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ])
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| format!("the OpenID provider did not exchange the code ({error})"))?
        .json()
        .await
        .map_err(|error| format!("the OpenID provider's token answer is malformed ({error})"))?;
    let keys: Jwks = oidc
        .http
        .get(&discovery.jwks_uri)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| format!("the OpenID provider's keys could not be read ({error})"))?
        .json()
        .await
        .map_err(|error| format!("the OpenID provider's keys are malformed ({error})"))?;
    let mut claims = verify_id_token(&answer.id_token, &keys, oidc, &pending.nonce, state.clock.now_unix())?;
    if claims.get(&oidc.groups_claim).is_none()
        && let (Some(userinfo), Some(access_token)) = (&discovery.userinfo_endpoint, &answer.access_token)
    {
        let info: serde_json::Map<String, serde_json::Value> = oidc
            .http
            .get(userinfo)
            .bearer_auth(access_token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| format!("the OpenID provider's userinfo could not be read ({error})"))?
            .json()
            .await
            .map_err(|error| format!("the OpenID provider's userinfo is malformed ({error})"))?;
        if info.get("sub") == claims.get("sub") {
            claims.extend(info);
        }
    }
    let groups: Vec<String> = match claims.get(&oidc.groups_claim) {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let subject = claims.get("sub").and_then(|value| value.as_str()).filter(|sub| !sub.is_empty()).ok_or("the ID token has no subject (sub)")?;
    let name = display_name(&claims).unwrap_or(subject).to_lowercase();
    let role = oidc.role_for(&groups).ok_or_else(|| {
        format!(
            "your groups ({}) give no Gatehouse role; an admin maps groups to roles with --oidc-roles",
            if groups.is_empty() { "none".to_owned() } else { groups.join(", ") }
        )
    })?;
    let identity = users::ExternalIdentity { issuer: &oidc.issuer, subject };
    users::ensure_external(&state.db, identity, &name, role).await.map_err(|error| match error {
        backend::db::DbError::Conflict(message) => message,
        other => {
            tracing::error!(error = %other, "OpenID Connect sign-in: the user could not be stored");
            "the user could not be stored; the server log has the details".to_owned()
        }
    })
}

/// The name a provider's user is shown as: `preferred_username`, else an `email` the
/// provider has verified. Only a display name: the user is their issuer and subject.
fn display_name(claims: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    let text = |claim: &str| claims.get(claim).and_then(|value| value.as_str()).filter(|text| !text.is_empty());
    let email_verified = claims.get("email_verified").is_some_and(|value| value == true || value == "true");
    text("preferred_username").or_else(|| text("email").filter(|_| email_verified))
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Checks the ID token's RS256 signature against the provider's keys and its claims: the
/// issuer, this client as audience, not expired, and our nonce.
fn verify_id_token(
    token: &str,
    keys: &Jwks,
    oidc: &OidcSettings,
    nonce: &str,
    now: i64,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let malformed = || "the ID token is malformed".to_owned();
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed());
    let header: serde_json::Value = serde_json::from_slice(&decode(head)?).map_err(|_| malformed())?;
    if header["alg"] != "RS256" {
        return Err(format!("the ID token is signed with {}, and Gatehouse accepts RS256", header["alg"]));
    }
    let kid = header["kid"].as_str();
    let key = keys
        .keys
        .iter()
        .find(|key| key.kty == "RSA" && (kid.is_none() || key.kid.as_deref() == kid))
        .ok_or("the provider publishes no key for the ID token's signature")?;
    let (Some(n), Some(e)) = (&key.n, &key.e) else { return Err(malformed()) };
    let public = ring::signature::RsaPublicKeyComponents { n: decode(n)?, e: decode(e)? };
    public
        .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, format!("{head}.{body}").as_bytes(), &decode(signature)?)
        .map_err(|_| "the ID token's signature does not verify".to_owned())?;
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&decode(body)?).map_err(|_| malformed())?;
    check_claims(claims, oidc, nonce, now)
}

/// Clocks of the provider and the portal may differ this much.
const CLOCK_SKEW_SECS: i64 = 60;

/// The ID token's claims: the issuer, this client as audience (and as `azp` when it names one
/// or there are several audiences), issued recently (`iat`), valid now (`nbf`, `exp`), and our
/// nonce.
fn check_claims(
    claims: serde_json::Map<String, serde_json::Value>,
    oidc: &OidcSettings,
    nonce: &str,
    now: i64,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    if claims.get("iss").and_then(|v| v.as_str()).map(|iss| iss.trim_end_matches('/')) != Some(oidc.issuer.as_str()) {
        return Err("the ID token comes from another issuer".to_owned());
    }
    let audience_ok = match claims.get("aud") {
        Some(serde_json::Value::String(aud)) => *aud == oidc.client_id,
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(oidc.client_id.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err("the ID token is for another client".to_owned());
    }
    let several_audiences = claims.get("aud").and_then(serde_json::Value::as_array).is_some_and(|auds| auds.len() > 1);
    match claims.get("azp").and_then(|v| v.as_str()) {
        Some(azp) if azp != oidc.client_id => return Err("the ID token was issued to another client (azp)".to_owned()),
        None if several_audiences => return Err("the ID token has several audiences and names no authorized party (azp)".to_owned()),
        _ => {}
    }
    match claims.get("iat").and_then(serde_json::Value::as_i64) {
        None => return Err("the ID token has no issue time (iat)".to_owned()),
        Some(iat) if iat > now + CLOCK_SKEW_SECS => return Err("the ID token is issued in the future (iat); check the clocks".to_owned()),
        Some(iat) if iat < now - i64::try_from(PENDING_FOR.as_secs()).unwrap_or(600) => {
            return Err("the ID token was issued too long ago (iat); sign in again".to_owned());
        }
        Some(_) => {}
    }
    if claims.get("nbf").and_then(serde_json::Value::as_i64).is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS) {
        return Err("the ID token is not valid yet (nbf); check the clocks".to_owned());
    }
    if claims.get("exp").and_then(serde_json::Value::as_i64).is_none_or(|exp| exp <= now) {
        return Err("the ID token has expired".to_owned());
    }
    if claims.get("nonce").and_then(|v| v.as_str()) != Some(nonce) {
        return Err("the ID token's nonce is not this sign-in's".to_owned());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_the_highest_role() {
        let oidc = OidcSettings::new("http://idp/", Some("gatehouse"), Some("s"), "groups", "staff=viewer, netops=network_admin,admins=admin").unwrap();
        assert_eq!(oidc.issuer, "http://idp");
        let groups = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        assert_eq!(oidc.role_for(&groups(&["staff", "netops"])), Some(Role::NetworkAdmin));
        assert_eq!(oidc.role_for(&groups(&["others"])), None);
        assert!(matches!(parse_roles("netops"), Err(OidcConfigError::Mapping(_))));
        assert!(parse_roles("netops=root").unwrap_err().to_string().contains("not a role"));
        assert!(matches!(OidcSettings::new("http://idp", None, None, "groups", ""), Err(OidcConfigError::Incomplete)));
        assert!(!format!("{oidc:?}").contains("\"s\""), "the client secret is not shown");
    }

    #[test]
    fn id_token_claims_are_checked_for_time_audience_and_party() {
        let oidc = OidcSettings::new("http://idp", Some("gatehouse"), Some("s"), "groups", "").unwrap();
        let now = 1_000_000;
        let good = serde_json::json!({"iss": "http://idp", "aud": "gatehouse", "exp": now + 300, "iat": now - 5, "nonce": "n", "sub": "42"});
        let check = |change: serde_json::Value| {
            let mut claims = good.as_object().unwrap().clone();
            for (key, value) in change.as_object().unwrap() {
                if value.is_null() { claims.remove(key); } else { claims.insert(key.clone(), value.clone()); }
            }
            check_claims(claims, &oidc, "n", now)
        };
        assert!(check(serde_json::json!({})).is_ok());
        assert!(check(serde_json::json!({"iat": null})).unwrap_err().contains("iat"));
        assert!(check(serde_json::json!({"iat": now + 600})).unwrap_err().contains("future"));
        assert!(check(serde_json::json!({"iat": now - 3600})).unwrap_err().contains("too long ago"));
        assert!(check(serde_json::json!({"nbf": now + 600})).unwrap_err().contains("nbf"));
        assert!(check(serde_json::json!({"azp": "other"})).unwrap_err().contains("azp"));
        assert!(check(serde_json::json!({"aud": ["gatehouse", "other"]})).unwrap_err().contains("azp"));
        assert!(check(serde_json::json!({"aud": ["gatehouse", "other"], "azp": "gatehouse"})).is_ok());
        assert!(check(serde_json::json!({"nonce": "m"})).unwrap_err().contains("nonce"));
    }

    #[test]
    fn only_a_verified_email_names_a_user() {
        let claims = |value: serde_json::Value| value.as_object().unwrap().clone();
        assert_eq!(display_name(&claims(serde_json::json!({"preferred_username": "ana", "email": "x@y"}))), Some("ana"));
        assert_eq!(display_name(&claims(serde_json::json!({"email": "ana@example.com"}))), None);
        assert_eq!(display_name(&claims(serde_json::json!({"email": "ana@example.com", "email_verified": true}))), Some("ana@example.com"));
    }

    #[test]
    fn the_pkce_challenge_is_the_rfc_7636_example() {
        assert_eq!(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
