//! The account pages: sign-in, your account and API tokens, users (admins), the audit log
//! (network admins and admins) and the 403 page.
//!
//! Every form here is a plain HTML form that the server's handlers answer
//! (`server/src/pages.rs`), so each works without JavaScript. A `GET` of `/sign-in`,
//! `/account`, `/users` or `/audit` is an ordinary page of the portal (a lazy route that
//! hydrates). A form's answer that must be shown — an error to correct, a token to copy — and
//! the 403 page are the same views with an [`Outcome`], rendered once by the server in
//! [`super::layout::StaticFrame`] and not hydrated: nothing on them needs a script.
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{
    layout::{DataTable, PageHeader},
    pages::{ErrorNotice, set_status},
};
use crate::{
    api::{
        AppError,
        account::{AccountData, AuditData, AuditQuery, TokenRow, UserRow, get_account, get_sign_in_options, list_users, search_audit},
    },
    domain::{FieldError, access::Role},
};

/// What a form's POST came to, shown at the top of the page it answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A sentence saying what went wrong and what to do.
    Refused(String),
    /// Fields that need fixing: which, why and how.
    Fields(Vec<FieldError>),
    /// A token was made; its secret is shown this once.
    TokenCreated { name: String, expires_at: Option<String>, token: String },
}

impl Outcome {
    fn field_errors(&self, field: &str) -> Vec<String> {
        match self {
            Outcome::Fields(errors) => errors.iter().filter(|error| error.field == field).map(|error| error.message.clone()).collect(),
            _ => Vec::new(),
        }
    }
}

/// How the forms name a field the server refers to by its key.
fn field_label(field: &str) -> &str {
    match field {
        "name" => "Name",
        "password" => "Password",
        "role" => "Role",
        "scopes" => "Scopes",
        "expires_in_days" => "Lives (days)",
        "from" => "From",
        "to" => "To",
        other => other,
    }
}

#[component]
fn OutcomeNotice(outcome: Option<Outcome>) -> impl IntoView {
    outcome.map(|outcome| match outcome {
        Outcome::Refused(message) => view! { <p class="notice notice--error" role="alert" data-testid="form-error">{message}</p> }.into_any(),
        Outcome::Fields(errors) => view! { <FieldErrorList errors /> }.into_any(),
        Outcome::TokenCreated { name, expires_at, token } => view! {
            <div class="notice notice--ok" role="status">
                <p>
                    "Token " <strong>{name}</strong>
                    {format!(" created; it expires {}. Copy it now: it is not shown again.", expires_at.as_deref().unwrap_or("when Gatehouse next starts"))}
                </p>
                <p><code data-testid="new-token">{token}</code></p>
            </div>
        }
        .into_any(),
    })
}

#[component]
fn FieldErrorList(errors: Vec<FieldError>) -> impl IntoView {
    view! {
        <div class="notice notice--error" role="alert" data-testid="form-error">
            <p>{if errors.len() == 1 { "One field needs fixing:" } else { "These fields need fixing:" }}</p>
            <ul>
                {errors
                    .into_iter()
                    .map(|error| view! { <li data-field=error.field.clone()>{format!("{}: {}", field_label(&error.field), error.message)}</li> })
                    .collect_view()}
            </ul>
        </div>
    }
}

/// The messages for one field, under its input.
fn field_messages(messages: Vec<String>, field: &'static str) -> impl IntoView {
    messages.into_iter().map(move |message| view! { <p class="field__error" data-field=field>{message}</p> }).collect_view()
}

fn role_options(up_to: Role, selected: &str) -> AnyView {
    Role::ALL
        .into_iter()
        .filter(|role| *role <= up_to)
        .map(|role| {
            let chosen = role.as_str() == selected;
            view! { <option value=role.as_str() selected=chosen>{role.label()}</option> }
        })
        .collect_view()
        .into_any()
}

/// Percent-encodes a path segment or query value (unreserved characters and `/` stay), the
/// same on the server and in the browser so a hydrated page matches its HTML.
fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn loading() -> impl IntoView {
    view! { <p class="muted">"Loading…"</p> }
}

// ---- Sign-in ----------------------------------------------------------------------------

/// `/sign-in`: `?return=` is where to go afterwards (the server keeps it on this portal),
/// `?ended=` how many sessions "Sign out everywhere" ended.
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let options = Resource::new_blocking(|| (), |_| get_sign_in_options());
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let oidc = options.await.is_ok_and(|options| options.oidc);
                let (return_to, ended) = query.with(|query| (query.get("return").unwrap_or_default(), query.get("ended").and_then(|n| n.parse::<u64>().ok())));
                view! { <SignInView return_to name=String::new() oidc ended outcome=None /> }
            })}
        </Suspense>
    }
}

#[component]
pub fn SignInView(return_to: String, name: String, oidc: bool, ended: Option<u64>, outcome: Option<Outcome>) -> impl IntoView {
    let oidc_href = if return_to.is_empty() { "/sign-in/oidc".to_owned() } else { format!("/sign-in/oidc?return={}", url_escape(&return_to)) };
    view! {
        <PageHeader title="Sign in" />
        {ended.map(|count| view! { <p class="notice notice--ok" role="status">{format!("Signed out everywhere ({count} session(s) ended).")}</p> })}
        {outcome.map(|outcome| match outcome {
            Outcome::Refused(message) => view! { <p class="notice notice--error" role="alert" data-testid="sign-in-error">{message}</p> }.into_any(),
            other => view! { <OutcomeNotice outcome=Some(other) /> }.into_any(),
        })}
        <form class="form" method="post" action="/sign-in">
            <input type="hidden" name="return" value=return_to />
            <div class="field">
                <label for="name">"User name"</label>
                <input id="name" name="name" autocomplete="username" required value=name />
            </div>
            <div class="field">
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
            </div>
            <div class="actions">
                <button class="button button--primary" type="submit">"Sign in"</button>
            </div>
        </form>
        {oidc.then(|| view! { <p><a class="button" href=oidc_href rel="external">"Sign in with OpenID Connect"</a></p> })}
    }
}

// ---- Your account ------------------------------------------------------------------------

#[component]
pub fn AccountPage() -> impl IntoView {
    let data = Resource::new_blocking(|| (), |_| get_account());
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <AccountView data outcome=None /> }.into_any(),
                    Err(error) => view! { <PageHeader title="Your account" /><ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AccountView(data: AccountData, outcome: Option<Outcome>) -> impl IntoView {
    let AccountData { name, role, scopes, tokens, default_days, max_days } = data;
    let errors = |field| outcome.as_ref().map(|outcome| outcome.field_errors(field)).unwrap_or_default();
    let (name_errors, role_errors, days_errors) = (errors("name"), errors("role"), errors("expires_in_days"));
    let token_roles = role_options(role, role.as_str());
    view! {
        <PageHeader title="Your account" />
        <OutcomeNotice outcome />
        <p>"Signed in as " <strong>{name}</strong> ", role " <strong>{role.label()}</strong> "."</p>
        {scopes.map(|scopes| view! { <p>"Your applications: " {scopes}</p> })}
        <form class="inline-form" method="post" action="/sign-out-everywhere">
            <button class="button" type="submit">"Sign out everywhere"</button>
        </form>
        <h2>"API tokens"</h2>
        <p>
            "Scripts call /api/v1 with " <code>"Authorization: Bearer <token>"</code>
            ". A token acts as you with the role it was given (never above yours); it is shown once."
        </p>
        {if tokens.is_empty() {
            view! { <p class="muted">"No API tokens yet."</p> }.into_any()
        } else {
            view! { <TokenTable tokens /> }.into_any()
        }}
        <form class="form" method="post" action="/account/tokens">
            <div class="field--pair">
                <div class="field">
                    <label for="token-name">"Token name"</label>
                    <input id="token-name" name="name" required maxlength="64" />
                    {field_messages(name_errors, "name")}
                </div>
                <div class="field">
                    <label for="token-role">"Role"</label>
                    <select id="token-role" name="role">{token_roles}</select>
                    {field_messages(role_errors, "role")}
                </div>
                <div class="field">
                    <label for="token-days">"Lives (days)"</label>
                    <input id="token-days" name="expires_in_days" type="number" min="1" max=max_days.to_string() value=default_days.to_string() />
                    {field_messages(days_errors, "expires_in_days")}
                </div>
            </div>
            <div class="actions">
                <button class="button button--primary" type="submit">"Create token"</button>
            </div>
        </form>
    }
}

#[component]
fn TokenTable(tokens: Vec<TokenRow>) -> impl IntoView {
    view! {
        <DataTable label="API tokens" test_id="tokens" action_column="Revoke" columns=&["Name", "Role", "Created", "Expires", "Last used"]>
            {tokens
                .into_iter()
                .map(|token| {
                    let action = match token.revoked_at {
                        Some(at) => view! { {format!("revoked {at}")} }.into_any(),
                        None => view! {
                            <form class="inline-form" method="post" action=format!("/account/tokens/{}/revoke", token.id)>
                                <button class="button button--danger" type="submit">"Revoke"</button>
                            </form>
                        }
                        .into_any(),
                    };
                    view! {
                        <tr>
                            <td>{token.name}</td>
                            <td>{token.role.label()}</td>
                            <td>{token.created_at}</td>
                            <td>{token.expires_at.unwrap_or_else(|| "when Gatehouse next starts".to_owned())}</td>
                            <td>{token.last_used_at.unwrap_or_else(|| "never".to_owned())}</td>
                            <td>{action}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

// ---- Users -------------------------------------------------------------------------------

/// What was typed into a users form whose POST failed (never the password), and which form:
/// `user` names the row's user, `None` is the new-user form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersForm {
    pub user: Option<String>,
    pub name: String,
    pub role: String,
    pub scopes: String,
    pub disabled: bool,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new_blocking(|| (), |_| list_users());
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! { <UsersView users failed=None /> }.into_any(),
                    Err(error) => view! { <PageHeader title="Users" /><ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn UsersView(users: Vec<UserRow>, failed: Option<(UsersForm, Outcome)>) -> impl IntoView {
    let (typed, outcome) = failed.map_or((None, None), |(typed, outcome)| (Some(typed), Some(outcome)));
    let for_new = typed.as_ref().filter(|typed| typed.user.is_none()).and(outcome.clone());
    let errors = |field| for_new.as_ref().map(|outcome| outcome.field_errors(field)).unwrap_or_default();
    let new = typed.clone().filter(|typed| typed.user.is_none()).unwrap_or_else(|| UsersForm { role: Role::Viewer.as_str().to_owned(), ..UsersForm::default() });
    let new_roles = role_options(Role::Admin, &new.role);
    let rows = users
        .into_iter()
        .map(|user| {
            let edited = typed.clone().filter(|typed| typed.user.as_deref() == Some(user.name.as_str()));
            let row_outcome = edited.as_ref().and(outcome.clone());
            let row_errors = row_outcome.as_ref().map(|outcome| match outcome {
                Outcome::Fields(errors) => errors.iter().map(|e| format!("{}: {}", field_label(&e.field), e.message)).collect(),
                Outcome::Refused(message) => vec![message.clone()],
                Outcome::TokenCreated { .. } => Vec::new(),
            });
            let (role, scopes, disabled) = match edited {
                Some(typed) => (typed.role, typed.scopes, typed.disabled),
                None => (user.role.as_str().to_owned(), user.scopes, user.disabled),
            };
            view! { <UserRowForm name=user.name role scopes disabled errors=row_errors.unwrap_or_default() /> }
        })
        .collect_view();
    view! {
        <PageHeader title="Users" lead="Who may sign in, with which role; app teams change only the applications their scopes name." />
        <OutcomeNotice outcome=outcome.clone() />
        <DataTable label="Users" test_id="users" columns=&["User", "Role, scopes (app teams: namespace:NAME or application:NAME), disabled, password reset"]>
            {rows}
        </DataTable>
        <h2>"New user"</h2>
        <form class="form" method="post" action="/users">
            <div class="field--pair">
                <div class="field">
                    <label for="new-name">"User name"</label>
                    <input id="new-name" name="name" required value=new.name />
                    {field_messages(errors("name"), "name")}
                </div>
                <div class="field">
                    <label for="new-password">"Password (12 characters or more)"</label>
                    <input id="new-password" name="password" type="password" autocomplete="new-password" required />
                    {field_messages(errors("password"), "password")}
                </div>
            </div>
            <div class="field--pair">
                <div class="field">
                    <label for="new-role">"Role"</label>
                    <select id="new-role" name="role">{new_roles}</select>
                    {field_messages(errors("role"), "role")}
                </div>
                <div class="field">
                    <label for="new-scopes">"Scopes (app teams)"</label>
                    <input id="new-scopes" name="scopes" placeholder="namespace:cd-service, application:api" value=new.scopes />
                    {field_messages(errors("scopes"), "scopes")}
                </div>
            </div>
            <div class="actions">
                <button class="button button--primary" type="submit">"Create user"</button>
            </div>
        </form>
    }
}

/// One user's row: a form of its own that posts to `/users/{name}`.
#[component]
fn UserRowForm(name: String, role: String, scopes: String, disabled: bool, errors: Vec<String>) -> impl IntoView {
    let action = format!("/users/{}", url_escape(&name));
    let user = name.clone();
    let roles = role_options(Role::Admin, &role);
    view! {
        <tr data-user=user>
            <td>{name}</td>
            <td>
                <form class="inline-form" method="post" action=action>
                    <label>"Role " <select name="role">{roles}</select></label>
                    " "
                    <label>"Scopes " <input name="scopes" value=scopes placeholder="namespace:cd-service" /></label>
                    " "
                    <label class="field--check"><input type="checkbox" name="disabled" value="true" checked=disabled />" disabled"</label>
                    " "
                    <label>"New password " <input type="password" name="password" autocomplete="new-password" /></label>
                    " "
                    <button class="button" type="submit">"Save"</button>
                </form>
                {(!errors.is_empty()).then(|| view! {
                    <ul class="field__error" role="alert" data-testid="row-error">
                        {errors.into_iter().map(|error| view! { <li>{error}</li> }).collect_view()}
                    </ul>
                })}
            </td>
        </tr>
    }
}

// ---- Audit log ---------------------------------------------------------------------------

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        query.with(|query| {
            let get = |key: &str| query.get(key).filter(|value| !value.is_empty());
            AuditQuery { actor: get("actor"), action: get("action"), object: get("object"), from: get("from"), to: get("to") }
        })
    };
    let data = Resource::new_blocking(filter, search_audit);
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let result = data.await;
                view! { <AuditView query=filter() result /> }
            })}
        </Suspense>
    }
}

#[component]
pub fn AuditView(query: AuditQuery, result: Result<AuditData, AppError>) -> impl IntoView {
    let value = |value: &Option<String>| value.clone().unwrap_or_default();
    let (csv_href, entries, failure) = match result {
        Ok(AuditData { entries, csv_href }) => (csv_href, entries, None),
        Err(error) => {
            set_status(error.status());
            ("/audit.csv".to_owned(), Vec::new(), Some(error))
        }
    };
    let field_errors = |field: &str| match &failure {
        Some(AppError::Fields(errors)) => errors.iter().filter(|error| error.field == field).map(|error| error.message.clone()).collect(),
        _ => Vec::new(),
    };
    let (from_errors, to_errors) = (field_errors("from"), field_errors("to"));
    let count = entries.len();
    view! {
        <PageHeader title="Audit log" lead="Every change, who made it and when, with the object before and after. Entries are only ever added." />
        <form class="form filters" method="get" action="/audit">
            <div class="field--pair">
                <div class="field"><label for="actor">"Who"</label><input id="actor" name="actor" value=value(&query.actor) /></div>
                <div class="field"><label for="action">"Action"</label><input id="action" name="action" value=value(&query.action) placeholder="pool.create" /></div>
                <div class="field"><label for="object">"Object"</label><input id="object" name="object" value=value(&query.object) placeholder="environment/dev" /></div>
            </div>
            <div class="field--pair">
                <div class="field">
                    <label for="from">"From"</label>
                    <input id="from" name="from" value=value(&query.from) placeholder="2026-11-25" />
                    {field_messages(from_errors, "from")}
                </div>
                <div class="field">
                    <label for="to">"To"</label>
                    <input id="to" name="to" value=value(&query.to) placeholder="2026-11-25T18:00:00Z" />
                    {field_messages(to_errors, "to")}
                </div>
            </div>
            <div class="actions">
                <button class="button button--primary" type="submit">"Filter"</button>
                " "
                <a class="button" href=csv_href download rel="external">"Download CSV"</a>
            </div>
        </form>
        {failure.map(|error| match error {
            AppError::Fields(errors) => view! { <FieldErrorList errors /> }.into_any(),
            other => view! { <p class="notice notice--error" role="alert">{other.to_string()}</p> }.into_any(),
        })}
        <p class="muted">{format!("{count} {}, newest first.", if count == 1 { "entry" } else { "entries" })}</p>
        <DataTable label="Audit entries" test_id="audit" columns=&["When", "Who", "Action", "Object", "Before", "After"]>
            {entries
                .into_iter()
                .map(|entry| view! {
                    <tr>
                        <td>{entry.at}</td>
                        <td>{entry.actor}</td>
                        <td>{entry.action}</td>
                        <td>{entry.object}</td>
                        <td><code>{entry.before}</code></td>
                        <td><code>{entry.after}</code></td>
                    </tr>
                })
                .collect_view()}
        </DataTable>
    }
}

// ---- 403 -----------------------------------------------------------------------------------

/// The page for a caller whose role does not allow what they asked for.
#[component]
pub fn ForbiddenView(message: String) -> impl IntoView {
    view! {
        <PageHeader title="Not allowed" />
        <section class="notice notice--error error-page" role="alert" data-testid="forbidden">
            <p class="error-page__code">"403"</p>
            <p>{message}</p>
            <p>
                "Ask an admin for another role, or " <a href="/sign-in">"sign in as someone else"</a> ". "
                <a href="/">"Back to the overview"</a>
            </p>
        </section>
    }
}
