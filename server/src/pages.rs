//! The account pages' forms and the 403 page. The pages themselves are Leptos pages
//! (`app::ui::account`: `/sign-in`, `/account`, `/users`, `/audit`, rendered and hydrated
//! like every other page); this module answers their plain HTML form posts — sign-in and
//! sign-out, API tokens, users — so they work without JavaScript. A post that succeeds
//! redirects to its page; one whose outcome must be shown (a refusal, the fields to fix, a
//! new token) answers with the page's view and that outcome, rendered once by Leptos in the
//! portal's frame ([`render`]). No HTML is written by hand here: Leptos escapes every value.
use app::{
    api::{SignedIn, account::{AccountData, load_account, load_users}},
    ui::{
        account::{AccountView, ForbiddenView, Outcome, SignInView, UsersForm, UsersView},
        layout::StaticFrame,
        theme::Theme,
    },
};
use backend::{auth::{Principal, Via, sessions, tokens, users::{self, NewUser, UserChange}}, db::DbError, policy};
use domain::{FieldError, access::Access};
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use leptos::prelude::*;
use serde::Deserialize;

use crate::{
    access::{Caller, MaybeCaller, Routes, SignInRefused, Surface, client_address, session_cookie_header},
    api::ApiError,
    state::AppState,
};

/// The account pages' forms with their rules. Their `GET` pages are Leptos routes, whose
/// rules are in `app::app::page_rule`.
pub fn routes() -> Routes {
    Routes::new("", Surface::Page)
        .post("/sign-in", Access::Public, sign_in)
        .post("/sign-out", Access::Public, sign_out)
        .post("/sign-out-everywhere", Access::VIEWER, sign_out_everywhere)
        .post("/account/tokens", Access::VIEWER, create_token)
        .post("/account/tokens/{id}/revoke", Access::VIEWER, revoke_token)
        .post("/users", Access::ADMIN, create_user)
        .post("/users/{name}", Access::ADMIN, update_user)
        .get("/audit.csv", Access::NETWORK_ADMIN, crate::api::audit_csv)
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

/// The theme the request's cookie chose, if any.
fn theme(headers: &HeaderMap) -> Option<Theme> {
    headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(Theme::from_cookie_header)
}

/// The caller as the frame shows them. `label_fix_off` needs the database; the 403 page,
/// answered before any handler runs, leaves that banner out.
fn who(caller: Option<&Principal>, label_fix_off: bool) -> Option<SignedIn> {
    caller.map(|caller| SignedIn { name: caller.name.clone(), role: caller.role, demo: caller.via == Via::Demo, label_fix_off })
}

async fn who_with_banners(state: &AppState, caller: Option<&Principal>) -> Option<SignedIn> {
    let label_fix_off = match backend::cluster::label_fix::enabled(&state.db).await {
        Ok(enabled) => !enabled,
        Err(error) => {
            tracing::warn!(%error, "could not read whether the label fix is on; the page leaves its banner out");
            false
        }
    };
    who(caller, label_fix_off)
}

/// A page rendered once by Leptos in the portal's frame, not hydrated (see the module doc).
fn render<V: IntoView + 'static>(
    status: StatusCode,
    headers: &HeaderMap,
    who: Option<SignedIn>,
    path: &str,
    title: &str,
    body: impl FnOnce() -> V + Send + 'static,
) -> Response {
    let path = path.to_owned();
    let html = app::app::static_document(theme(headers), title, move || {
        view! { <StaticFrame who path>{body()}</StaticFrame> }.into_any()
    });
    (status, Html(html)).into_response()
}

/// The page for a signed-in caller whose role does not allow what they asked for.
pub fn forbidden(caller: Option<&Principal>, headers: &HeaderMap, message: &str) -> Response {
    let message = message.to_owned();
    render(StatusCode::FORBIDDEN, headers, who(caller, false), "", "Not allowed", move || view! { <ForbiddenView message /> })
}

/// What a refused change says on a page: the fields to fix, or the sentence; `Err` for
/// anything unexpected (a logged 500 without detail).
fn outcome_of(error: DbError) -> Result<Outcome, Response> {
    match error {
        DbError::Invalid(errors) => Ok(Outcome::Fields(errors.into_vec())),
        DbError::Conflict(message) | DbError::NotFound(message) | DbError::Denied(policy::Denied { message, .. }) => {
            Ok(Outcome::Refused(message))
        }
        other => Err(ApiError::internal(&other).into_response()),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    name: String,
    password: String,
    #[serde(rename = "return")]
    return_to: Option<String>,
}

fn sign_in_page(state: &AppState, headers: &HeaderMap, caller: Option<&Principal>, status: StatusCode, return_to: &str, name: &str, message: String) -> Response {
    let (return_to, name) = (return_to.to_owned(), name.to_owned());
    let oidc = state.auth.oidc.is_some();
    render(status, headers, who(caller, false), "/sign-in", "Sign in", move || {
        view! { <SignInView return_to name oidc ended=None outcome=Some(Outcome::Refused(message)) /> }
    })
}

async fn sign_in(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    request: axum::extract::Request,
) -> Response {
    let address = client_address(&state.auth, request.extensions(), request.headers());
    let presented = crate::access::session_cookie(&state.auth, request.headers()).map(backend::auth::secret_hash);
    let headers = request.headers().clone();
    let Form(form) = match Form::<SignInForm>::from_request(request, &state).await {
        Ok(form) => form,
        Err(_) => {
            let message = "Fill in your user name and password.".to_owned();
            return sign_in_page(&state, &headers, caller.as_ref(), StatusCode::BAD_REQUEST, "/", "", message);
        }
    };
    let return_to = safe_return(form.return_to.as_deref()).to_owned();
    let user = match crate::access::check_password(&state, &form.name, &form.password, address).await {
        Ok(user) => user,
        Err(SignInRefused::Failed(error)) => return ApiError::internal(&error).into_response(),
        Err(refused) => {
            let message = match &refused {
                SignInRefused::Locked(locked) => locked.message(),
                _ => SignInRefused::WRONG.to_owned(),
            };
            let page = sign_in_page(&state, &headers, caller.as_ref(), refused.status(), &return_to, &form.name, message);
            return refused.annotate(page);
        }
    };
    // A new session id at every sign-in; the one the browser brought (if any) ends.
    if let Some(old) = presented
        && let Err(error) = sessions::end(&state.db, &old).await
    {
        return ApiError::internal(&error).into_response();
    }
    let id = match sessions::start(&state.db, user.id, state.clock.now_unix()).await {
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

/// The account page with what a token form came to.
async fn account_page(state: &AppState, headers: &HeaderMap, caller: &Principal, status: StatusCode, outcome: Outcome) -> Response {
    let data: AccountData = match load_account(&state.db, caller, state.auth.token_lifetimes).await {
        Ok(data) => data,
        Err(error) => return ApiError::internal(&error).into_response(),
    };
    let who = who_with_banners(state, Some(caller)).await;
    render(status, headers, who, "/account", "Your account", move || view! { <AccountView data outcome=Some(outcome) /> })
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
    role: Option<String>,
    expires_in_days: Option<String>,
}

async fn create_token(State(state): State<AppState>, Caller(caller): Caller, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    let days = match form.expires_in_days.as_deref().map(str::trim).filter(|days| !days.is_empty()) {
        None => None,
        Some(days) => match days.parse::<i64>() {
            Ok(days) => Some(days),
            Err(_) => {
                let errors = vec![FieldError::new(
                    "expires_in_days",
                    "token_lifetime_out_of_range",
                    format!("write how many days the token lives as a whole number, 1 to {}", state.auth.token_lifetimes.max_days),
                )];
                return account_page(&state, &headers, &caller, StatusCode::UNPROCESSABLE_ENTITY, Outcome::Fields(errors)).await;
            }
        },
    };
    match tokens::create(&state.db, &caller, &form.name, form.role.as_deref(), days, state.auth.token_lifetimes).await {
        Ok(created) => {
            let outcome = Outcome::TokenCreated { name: created.info.name, expires_at: created.info.expires_at, token: created.token };
            account_page(&state, &headers, &caller, StatusCode::CREATED, outcome).await
        }
        Err(error) => match outcome_of(error) {
            Ok(outcome) => account_page(&state, &headers, &caller, StatusCode::UNPROCESSABLE_ENTITY, outcome).await,
            Err(response) => response,
        },
    }
}

async fn revoke_token(State(state): State<AppState>, Caller(caller): Caller, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    match tokens::revoke(&state.db, &caller, id).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(error) => match outcome_of(error) {
            Ok(outcome) => account_page(&state, &headers, &caller, StatusCode::NOT_FOUND, outcome).await,
            Err(response) => response,
        },
    }
}

/// The users page with what one of its forms came to.
async fn users_page(state: &AppState, headers: &HeaderMap, caller: &Principal, typed: UsersForm, error: DbError) -> Response {
    let outcome = match outcome_of(error) {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    let users = match load_users(&state.db).await {
        Ok(users) => users,
        Err(error) => return ApiError::internal(&error).into_response(),
    };
    let who = who_with_banners(state, Some(caller)).await;
    render(StatusCode::UNPROCESSABLE_ENTITY, headers, who, "/users", "Users", move || {
        view! { <UsersView users failed=Some((typed, outcome)) /> }
    })
}

async fn create_user(State(state): State<AppState>, Caller(caller): Caller, headers: HeaderMap, Form(form): Form<NewUser>) -> Response {
    match users::create(&state.db, &caller, &form).await {
        Ok(_) => Redirect::to("/users").into_response(),
        Err(error) => {
            let typed = UsersForm { user: None, name: form.name, role: form.role, scopes: form.scopes, disabled: false };
            users_page(&state, &headers, &caller, typed, error).await
        }
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
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<UserForm>,
) -> Response {
    let change = UserChange {
        role: Some(form.role.clone()),
        scopes: Some(form.scopes.clone()),
        disabled: Some(form.disabled.is_some()),
        password: Some(form.password).filter(|password| !password.is_empty()),
    };
    match users::update(&state.db, &caller, &name, &change).await {
        Ok(_) => Redirect::to("/users").into_response(),
        Err(error) => {
            let typed = UsersForm { user: Some(name.clone()), name, role: form.role, scopes: form.scopes, disabled: form.disabled.is_some() };
            users_page(&state, &headers, &caller, typed, error).await
        }
    }
}

use axum::extract::FromRequest as _;
