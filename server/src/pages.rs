//! The account pages, rendered on the server as plain HTML forms (they work without
//! JavaScript and load no WASM): sign-in and sign-out, the 403 page, your account and API
//! tokens, users (admins) and the audit log (network admins and admins).
use std::fmt::Write as _;

use app::{
    backend::{
        audit::{self, AuditFilter},
        policy,
        auth::{
            Principal, Via,
            sessions, tokens,
            users::{self, NewUser, UserChange},
        },
        db::DbError,
    },
    domain::{
        FieldError, FieldErrors,
        access::{Access, Role},
    },
    ui::layout::SECTIONS,
};
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use crate::{
    access::{Caller, MaybeCaller, Routes, SignInRefused, Surface, client_address, session_cookie_header},
    api::ApiError,
    state::AppState,
};

/// The account pages with their rules.
pub fn routes() -> Routes {
    Routes::new("", Surface::Page)
        .get("/sign-in", Access::Public, sign_in_page)
        .post("/sign-in", Access::Public, sign_in)
        .post("/sign-out", Access::Public, sign_out)
        .post("/sign-out-everywhere", Access::VIEWER, sign_out_everywhere)
        .get("/account", Access::VIEWER, account)
        .post("/account/tokens", Access::VIEWER, create_token)
        .post("/account/tokens/{id}/revoke", Access::VIEWER, revoke_token)
        .get("/users", Access::ADMIN, users_page)
        .post("/users", Access::ADMIN, create_user)
        .post("/users/{name}", Access::ADMIN, update_user)
        .get("/audit", Access::NETWORK_ADMIN, audit_page)
        .get("/audit.csv", Access::NETWORK_ADMIN, crate::api::audit_csv)
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Where to go after signing in: a path on this portal only. Browsers drop tabs and line
/// breaks and read `\\` as `/`, so `/\t/evil.example` would leave the portal: anything with a
/// control character, a backslash or a leading `//` is refused, and what remains must resolve
/// to this origin.
pub fn safe_return(target: Option<&str>) -> &str {
    let Some(path) = target else { return "/" };
    if !path.starts_with('/') || path.starts_with("//") || path.contains('\\') || path.chars().any(char::is_control) {
        return "/";
    }
    let Ok(base) = reqwest::Url::parse("http://gatehouse.invalid/") else { return "/" };
    match base.join(path) {
        Ok(url) if url.origin() == base.origin() => path,
        _ => "/",
    }
}

/// The frame of an account page: the portal's header and navigation, who is signed in.
fn frame(title: &str, caller: Option<&Principal>, body: &str) -> String {
    let mut nav = String::new();
    for (href, label) in SECTIONS {
        let _ = write!(nav, "<li><a href=\"{href}\">{label}</a></li>");
    }
    let mut account = String::new();
    match caller {
        Some(caller) => {
            if caller.role >= Role::NetworkAdmin {
                account.push_str("<a href=\"/audit\">Audit log</a> ");
            }
            if caller.role == Role::Admin {
                account.push_str("<a href=\"/users\">Users</a> ");
            }
            let _ = write!(
                account,
                "<a href=\"/account\" data-testid=\"signed-in-as\">{} ({})</a> \
                 <form class=\"inline-form\" method=\"post\" action=\"/sign-out\"><button class=\"button\" type=\"submit\">Sign out</button></form>",
                escape(&caller.name),
                caller.role.label()
            );
        }
        None => account.push_str("<a href=\"/sign-in\">Sign in</a>"),
    }
    let banner = match caller {
        Some(caller) if caller.via == Via::Demo => demo_banner(caller),
        _ => String::new(),
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · Gatehouse</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head><body>\
         <a class=\"skip-link\" href=\"#main\">Skip to content</a>{banner}\
         <header class=\"site-header\"><div class=\"site-header__inner\">\
         <a href=\"/\" class=\"brand\"><span class=\"brand__name\">Gatehouse</span></a>\
         <nav class=\"site-nav\" aria-label=\"Main\"><ul>{nav}</ul></nav>\
         <div class=\"account\">{account}</div></div></header>\
         <main id=\"main\" class=\"page\" tabindex=\"-1\"><div class=\"page-header\"><h1>{title}</h1></div>{body}</main>\
         </body></html>",
        title = escape(title),
    )
}

fn demo_banner(caller: &Principal) -> String {
    format!(
        "<p class=\"demo-banner\" role=\"status\" data-testid=\"demo-banner\">Demo: you are signed in as \
         <strong>{}</strong> ({}) without a password. Everyone visiting this demo shares that account. \
         <a href=\"/sign-in\">Sign in as yourself</a></p>",
        escape(&caller.name),
        caller.role.label()
    )
}

fn html(status: StatusCode, page: String) -> Response {
    (status, Html(page)).into_response()
}

/// The page for a signed-in caller whose role does not allow what they asked for.
pub fn forbidden(caller: Option<&Principal>, message: &str) -> Response {
    let body = format!(
        "<section class=\"notice notice--error\" role=\"alert\"><p class=\"error-page__code\">403</p><p>{}</p>\
         <p>Ask an admin for another role, or <a href=\"/sign-in\">sign in as someone else</a>. \
         <a href=\"/\">Back to the overview</a></p></section>",
        escape(message)
    );
    html(StatusCode::FORBIDDEN, frame("Not allowed", caller, &body))
}

fn field_errors_html(errors: &FieldErrors) -> String {
    let items: String = errors
        .iter()
        .map(|error| format!("<li data-field=\"{}\">{}: {}</li>", escape(&error.field), escape(&error.field), escape(&error.message)))
        .collect();
    format!("<div class=\"notice notice--error\" role=\"alert\"><ul>{items}</ul></div>")
}

fn db_error_html(error: DbError) -> Result<String, Response> {
    match error {
        DbError::Invalid(errors) => Ok(field_errors_html(&errors)),
        DbError::Conflict(message) | DbError::NotFound(message) | DbError::Denied(policy::Denied { message, .. }) => {
            Ok(format!("<p class=\"notice notice--error\" role=\"alert\">{}</p>", escape(&message)))
        }
        other => Err(ApiError::internal(&other).into_response()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
    ended: Option<u64>,
}

fn sign_in_form(state: &AppState, return_to: &str, name: &str, notice: &str) -> String {
    let oidc = match &state.auth.oidc {
        Some(_) => format!(
            "<p><a class=\"button\" href=\"/sign-in/oidc?return={}\">Sign in with OpenID Connect</a></p>",
            escape(&app::backend::audit::query_escape(return_to))
        ),
        None => String::new(),
    };
    format!(
        "{notice}<form class=\"form\" method=\"post\" action=\"/sign-in\">\
         <input type=\"hidden\" name=\"return\" value=\"{return_to}\">\
         <div class=\"field\"><label for=\"name\">User name</label>\
         <input id=\"name\" name=\"name\" autocomplete=\"username\" required value=\"{name}\"></div>\
         <div class=\"field\"><label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></div>\
         <div class=\"actions\"><button class=\"button button--primary\" type=\"submit\">Sign in</button></div></form>{oidc}",
        return_to = escape(return_to),
        name = escape(name),
    )
}

async fn sign_in_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(query): Query<SignInQuery>,
) -> Response {
    let notice = match query.ended {
        Some(count) => format!("<p class=\"notice notice--ok\" role=\"status\">Signed out everywhere ({count} session(s) ended).</p>"),
        None => String::new(),
    };
    let return_to = safe_return(query.return_to.as_deref());
    html(StatusCode::OK, frame("Sign in", caller.as_ref(), &sign_in_form(&state, return_to, "", &notice)))
}

#[derive(Deserialize)]
pub struct SignInForm {
    name: String,
    password: String,
    #[serde(rename = "return")]
    return_to: Option<String>,
}

async fn sign_in(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    request: axum::extract::Request,
) -> Response {
    let address = client_address(&state.auth, request.extensions(), request.headers());
    let presented = crate::access::session_cookie(&state.auth, request.headers()).map(app::backend::auth::secret_hash);
    let Form(form) = match Form::<SignInForm>::from_request(request, &state).await {
        Ok(form) => form,
        Err(_) => {
            let notice = "<p class=\"notice notice--error\" role=\"alert\">Fill in your user name and password.</p>";
            return html(StatusCode::BAD_REQUEST, frame("Sign in", caller.as_ref(), &sign_in_form(&state, "/", "", notice)));
        }
    };
    let return_to = safe_return(form.return_to.as_deref()).to_owned();
    let refuse = |status: StatusCode, message: &str| {
        let notice = format!("<p class=\"notice notice--error\" role=\"alert\" data-testid=\"sign-in-error\">{}</p>", escape(message));
        html(status, frame("Sign in", caller.as_ref(), &sign_in_form(&state, &return_to, &form.name, &notice)))
    };
    let user = match crate::access::check_password(&state, &form.name, &form.password, address).await {
        Ok(user) => user,
        Err(SignInRefused::Failed(error)) => return ApiError::internal(&error).into_response(),
        Err(refused) => {
            let message = match &refused {
                SignInRefused::Locked(locked) => locked.message(),
                _ => SignInRefused::WRONG.to_owned(),
            };
            return refused.annotate(refuse(refused.status(), &message));
        }
    };
    // A new session id at every sign-in; the one the browser brought (if any) ends.
    if let Some(old) = presented
        && let Err(error) = sessions::end(&state.db, &old).await
    {
        return ApiError::internal(&error).into_response();
    }
    let id = match sessions::start(&state.db, user.id, app::backend::auth::now_unix()).await {
        Ok(id) => id,
        Err(error) => return ApiError::internal(&error).into_response(),
    };
    tracing::info!(user = %user.name, "signed in");
    let mut response = Redirect::to(&return_to).into_response();
    set_cookie(&mut response, &session_cookie_header(&state.auth, Some(&id)));
    response
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

async fn sign_out(State(state): State<AppState>, MaybeCaller(caller): MaybeCaller) -> Response {
    if let Some(Principal { via: Via::Session { id_hash }, name, .. }) = &caller {
        if let Err(error) = sessions::end(&state.db, id_hash).await {
            return ApiError::internal(&error).into_response();
        }
        tracing::info!(user = %name, "signed out");
    }
    let mut response = Redirect::to("/sign-in").into_response();
    set_cookie(&mut response, &session_cookie_header(&state.auth, None));
    response
}

async fn sign_out_everywhere(State(state): State<AppState>, Caller(caller): Caller) -> Response {
    let ended = match sessions::end_all(&state.db, caller.user_id).await {
        Ok(ended) => ended,
        Err(error) => return ApiError::internal(&error).into_response(),
    };
    tracing::info!(user = %caller.name, ended, "signed out everywhere");
    let mut response = Redirect::to(&format!("/sign-in?ended={ended}")).into_response();
    set_cookie(&mut response, &session_cookie_header(&state.auth, None));
    response
}

fn role_options(up_to: Role, selected: Role) -> String {
    Role::ALL
        .into_iter()
        .filter(|role| *role <= up_to)
        .map(|role| {
            let mark = if role == selected { " selected" } else { "" };
            format!("<option value=\"{}\"{mark}>{}</option>", role.as_str(), role.label())
        })
        .collect()
}

async fn account_page(state: &AppState, caller: &Principal, status: StatusCode, notice: &str) -> Response {
    let list = match tokens::list(&state.db, caller.user_id).await {
        Ok(list) => list,
        Err(error) => return ApiError::internal(&error).into_response(),
    };
    let mut rows = String::new();
    for token in &list {
        let action = match &token.revoked_at {
            Some(at) => format!("revoked {}", escape(at)),
            None => format!(
                "<form class=\"inline-form\" method=\"post\" action=\"/account/tokens/{}/revoke\">\
                 <button class=\"button button--danger\" type=\"submit\">Revoke</button></form>",
                token.id
            ),
        };
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            escape(&token.name),
            token.role.label(),
            escape(&token.created_at),
            escape(token.expires_at.as_deref().unwrap_or("at the next start")),
            escape(token.last_used_at.as_deref().unwrap_or("never")),
        );
    }
    let table = if list.is_empty() {
        "<p class=\"muted\">No API tokens yet.</p>".to_owned()
    } else {
        format!(
            "<div class=\"table-wrap\"><table class=\"data-table\" data-testid=\"tokens\"><thead><tr><th>Name</th><th>Role</th>\
             <th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    };
    let scopes = if caller.role == Role::AppTeam {
        format!("<p>Your applications: {}</p>", escape(&caller.scopes.to_string()))
    } else {
        String::new()
    };
    let body = format!(
        "{notice}<p>Signed in as <strong>{name}</strong>, role <strong>{role}</strong>.</p>{scopes}\
         <form class=\"inline-form\" method=\"post\" action=\"/sign-out-everywhere\">\
         <button class=\"button\" type=\"submit\">Sign out everywhere</button></form>\
         <h2>API tokens</h2><p>Scripts call /api/v1 with <code>Authorization: Bearer &lt;token&gt;</code>. \
         A token acts as you with the role it was given (never above yours); it is shown once.</p>{table}\
         <form class=\"form\" method=\"post\" action=\"/account/tokens\"><div class=\"field--pair\">\
         <div class=\"field\"><label for=\"token-name\">Token name</label><input id=\"token-name\" name=\"name\" required maxlength=\"64\"></div>\
         <div class=\"field\"><label for=\"token-role\">Role</label><select id=\"token-role\" name=\"role\">{options}</select></div>\
         <div class=\"field\"><label for=\"token-days\">Lives (days)</label>\
         <input id=\"token-days\" name=\"expires_in_days\" type=\"number\" min=\"1\" max=\"{max_days}\" value=\"{default_days}\"></div></div>\
         <div class=\"actions\"><button class=\"button button--primary\" type=\"submit\">Create token</button></div></form>",
        name = escape(&caller.name),
        role = caller.role.label(),
        options = role_options(caller.role, caller.role),
        max_days = state.auth.token_lifetimes.max_days,
        default_days = state.auth.token_lifetimes.default_days,
    );
    html(status, frame("Your account", Some(caller), &body))
}

async fn account(State(state): State<AppState>, Caller(caller): Caller) -> Response {
    account_page(&state, &caller, StatusCode::OK, "").await
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
    role: Option<String>,
    expires_in_days: Option<String>,
}

async fn create_token(State(state): State<AppState>, Caller(caller): Caller, Form(form): Form<TokenForm>) -> Response {
    let days = match form.expires_in_days.as_deref().map(str::trim).filter(|days| !days.is_empty()) {
        None => None,
        Some(days) => match days.parse::<i64>() {
            Ok(days) => Some(days),
            Err(_) => {
                let errors = FieldErrors::from(vec![FieldError::new(
                    "expires_in_days",
                    "token_lifetime_out_of_range",
                    format!("write how many days the token lives as a whole number, 1 to {}", state.auth.token_lifetimes.max_days),
                )]);
                return account_page(&state, &caller, StatusCode::UNPROCESSABLE_ENTITY, &field_errors_html(&errors)).await;
            }
        },
    };
    match tokens::create(&state.db, &caller, &form.name, form.role.as_deref(), days, state.auth.token_lifetimes).await {
        Ok(created) => {
            let notice = format!(
                "<div class=\"notice notice--ok\" role=\"status\"><p>Token <strong>{}</strong> created; it expires {}. Copy it now: it is not shown again.</p>\
                 <p><code data-testid=\"new-token\">{}</code></p></div>",
                escape(&created.info.name),
                escape(created.info.expires_at.as_deref().unwrap_or_default()),
                escape(&created.token)
            );
            account_page(&state, &caller, StatusCode::CREATED, &notice).await
        }
        Err(error) => match db_error_html(error) {
            Ok(notice) => account_page(&state, &caller, StatusCode::UNPROCESSABLE_ENTITY, &notice).await,
            Err(response) => response,
        },
    }
}

async fn revoke_token(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<i64>) -> Response {
    match tokens::revoke(&state.db, &caller, id).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(error) => match db_error_html(error) {
            Ok(notice) => account_page(&state, &caller, StatusCode::NOT_FOUND, &notice).await,
            Err(response) => response,
        },
    }
}

async fn users_page_with(state: &AppState, caller: &Principal, status: StatusCode, notice: &str) -> Response {
    let list = match users::list(&state.db).await {
        Ok(list) => list,
        Err(error) => return ApiError::internal(&error).into_response(),
    };
    let mut rows = String::new();
    for user in &list {
        let name = escape(&user.name);
        let checked = if user.disabled { " checked" } else { "" };
        let _ = write!(
            rows,
            "<tr data-user=\"{name}\"><td>{name}</td><td colspan=\"4\"><form class=\"inline-form\" method=\"post\" action=\"/users/{name}\">\
             <label>Role <select name=\"role\">{roles}</select></label> \
             <label>Scopes <input name=\"scopes\" value=\"{scopes}\" placeholder=\"namespace:cd-service\"></label> \
             <label class=\"field--check\"><input type=\"checkbox\" name=\"disabled\" value=\"true\"{checked}> disabled</label> \
             <label>New password <input type=\"password\" name=\"password\" autocomplete=\"new-password\"></label> \
             <button class=\"button\" type=\"submit\">Save</button></form></td></tr>",
            roles = role_options(Role::Admin, user.role),
            scopes = escape(&user.scopes.to_string()),
        );
    }
    let body = format!(
        "{notice}<div class=\"table-wrap\"><table class=\"data-table\" data-testid=\"users\"><thead><tr><th>User</th>\
         <th colspan=\"4\">Role, scopes (app teams: namespace:NAME or application:NAME), disabled, password reset</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>\
         <h2>New user</h2><form class=\"form\" method=\"post\" action=\"/users\"><div class=\"field--pair\">\
         <div class=\"field\"><label for=\"new-name\">User name</label><input id=\"new-name\" name=\"name\" required></div>\
         <div class=\"field\"><label for=\"new-password\">Password (12 characters or more)</label>\
         <input id=\"new-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required></div></div>\
         <div class=\"field--pair\"><div class=\"field\"><label for=\"new-role\">Role</label><select id=\"new-role\" name=\"role\">{roles}</select></div>\
         <div class=\"field\"><label for=\"new-scopes\">Scopes (app teams)</label><input id=\"new-scopes\" name=\"scopes\" placeholder=\"namespace:cd-service, application:api\"></div></div>\
         <div class=\"actions\"><button class=\"button button--primary\" type=\"submit\">Create user</button></div></form>",
        roles = role_options(Role::Admin, Role::Viewer),
    );
    html(status, frame("Users", Some(caller), &body))
}

async fn users_page(State(state): State<AppState>, Caller(caller): Caller) -> Response {
    users_page_with(&state, &caller, StatusCode::OK, "").await
}

async fn create_user(State(state): State<AppState>, Caller(caller): Caller, Form(form): Form<NewUser>) -> Response {
    match users::create(&state.db, &caller, &form).await {
        Ok(_) => Redirect::to("/users").into_response(),
        Err(error) => match db_error_html(error) {
            Ok(notice) => users_page_with(&state, &caller, StatusCode::UNPROCESSABLE_ENTITY, &notice).await,
            Err(response) => response,
        },
    }
}

#[derive(Deserialize)]
pub struct UserForm {
    role: String,
    #[serde(default)]
    scopes: String,
    disabled: Option<String>,
    #[serde(default)]
    password: String,
}

async fn update_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    Form(form): Form<UserForm>,
) -> Response {
    let change = UserChange {
        role: Some(form.role),
        scopes: Some(form.scopes),
        disabled: Some(form.disabled.is_some()),
        password: Some(form.password).filter(|password| !password.is_empty()),
    };
    match users::update(&state.db, &caller, &name, &change).await {
        Ok(_) => Redirect::to("/users").into_response(),
        Err(error) => match db_error_html(error) {
            Ok(notice) => users_page_with(&state, &caller, StatusCode::UNPROCESSABLE_ENTITY, &notice).await,
            Err(response) => response,
        },
    }
}

async fn audit_page(State(state): State<AppState>, Caller(caller): Caller, Query(filter): Query<AuditFilter>) -> Response {
    let (status, notice, entries) = match audit::search(&state.db, &filter).await {
        Ok(entries) => (StatusCode::OK, String::new(), entries),
        Err(error) => match db_error_html(error) {
            Ok(notice) => (StatusCode::UNPROCESSABLE_ENTITY, notice, Vec::new()),
            Err(response) => return response,
        },
    };
    let value = |value: &Option<String>| escape(value.as_deref().unwrap_or(""));
    let json = |value: &Option<serde_json::Value>| value.as_ref().map_or(String::new(), |value| escape(&value.to_string()));
    let mut rows = String::new();
    for entry in &entries {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            escape(&entry.at),
            escape(&entry.actor),
            escape(&entry.action),
            escape(&entry.object),
            json(&entry.before),
            json(&entry.after),
        );
    }
    let query = filter.query_string();
    let csv = if query.is_empty() { "/audit.csv".to_owned() } else { format!("/audit.csv?{}", escape(&query)) };
    let body = format!(
        "<p class=\"lead\">Every change, who made it and when, with the object before and after. Entries are only ever added.</p>\
         <form class=\"form filters\" method=\"get\" action=\"/audit\"><div class=\"field--pair\">\
         <div class=\"field\"><label for=\"actor\">Who</label><input id=\"actor\" name=\"actor\" value=\"{actor}\"></div>\
         <div class=\"field\"><label for=\"action\">Action</label><input id=\"action\" name=\"action\" value=\"{action}\" placeholder=\"pool.create\"></div>\
         <div class=\"field\"><label for=\"object\">Object</label><input id=\"object\" name=\"object\" value=\"{object}\" placeholder=\"environment/dev\"></div></div>\
         <div class=\"field--pair\"><div class=\"field\"><label for=\"from\">From</label><input id=\"from\" name=\"from\" value=\"{from}\" placeholder=\"2026-11-25\"></div>\
         <div class=\"field\"><label for=\"to\">To</label><input id=\"to\" name=\"to\" value=\"{to}\" placeholder=\"2026-11-25T18:00:00Z\"></div></div>\
         <div class=\"actions\"><button class=\"button button--primary\" type=\"submit\">Filter</button> \
         <a class=\"button\" href=\"{csv}\" download>Download CSV</a></div></form>{notice}\
         <p class=\"muted\">{count} entries, newest first.</p>\
         <div class=\"table-wrap\"><table class=\"data-table\" data-testid=\"audit\"><thead><tr><th>When</th><th>Who</th><th>Action</th>\
         <th>Object</th><th>Before</th><th>After</th></tr></thead><tbody>{rows}</tbody></table></div>",
        actor = value(&filter.actor),
        action = value(&filter.action),
        object = value(&filter.object),
        from = value(&filter.from),
        to = value(&filter.to),
        count = entries.len(),
    );
    html(status, frame("Audit log", Some(&caller), &body))
}

use axum::extract::FromRequest as _;
