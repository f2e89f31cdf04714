//! The account pages' data: the sign-in options, your account and API tokens, the users
//! (admins) and the audit log (network admins and admins). The pages read them through these
//! server functions; the server's form handlers (`POST /sign-in`, `/account/tokens`, `/users`
//! …) load the same data with the `load_*` functions to show a form's outcome.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::domain::access::Role;

/// What the sign-in page offers besides the password form. The server provides it as
/// context; the page reads it through [`get_sign_in_options`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    /// OpenID Connect sign-in is configured (`--oidc-issuer`).
    pub oidc: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    /// `None`: the token ends when Gatehouse next starts.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Your account: who you are and your API tokens (never their secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountData {
    pub name: String,
    pub role: Role,
    /// An app team's scopes, as written (`namespace:cd-service, application:api`).
    pub scopes: Option<String>,
    pub tokens: Vec<TokenRow>,
    pub default_days: u32,
    pub max_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub name: String,
    pub role: Role,
    pub scopes: String,
    pub disabled: bool,
}

/// The audit page's filter, as the query string gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    /// The object before and after, as JSON text.
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditData {
    pub entries: Vec<AuditRow>,
    /// The CSV export of the same filter.
    pub csv_href: String,
}

#[server]
pub async fn get_sign_in_options() -> Result<SignInOptions, AppError> {
    Ok(use_context::<SignInOptions>().unwrap_or_default())
}

#[server]
pub async fn get_account() -> Result<AccountData, AppError> {
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    let lifetimes = use_context::<crate::backend::auth::tokens::Lifetimes>().ok_or_else(|| {
        tracing::error!("no token Lifetimes in the Leptos context");
        AppError::Internal
    })?;
    Ok(load_account(&db, &caller, lifetimes).await?)
}

#[server]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    let db = crate::api::context::use_database()?;
    Ok(load_users(&db).await?)
}

#[server]
pub async fn search_audit(query: AuditQuery) -> Result<AuditData, AppError> {
    let db = crate::api::context::use_database()?;
    Ok(load_audit(&db, &query).await?)
}

#[cfg(feature = "ssr")]
pub async fn load_account(
    db: &crate::backend::db::Database,
    caller: &crate::backend::auth::Principal,
    lifetimes: crate::backend::auth::tokens::Lifetimes,
) -> Result<AccountData, crate::backend::db::DbError> {
    let tokens = crate::backend::auth::tokens::list(db, caller.user_id).await?;
    Ok(AccountData {
        name: caller.name.clone(),
        role: caller.role,
        scopes: (caller.role == Role::AppTeam).then(|| caller.scopes.to_string()),
        tokens: tokens
            .into_iter()
            .map(|token| TokenRow {
                id: token.id,
                name: token.name,
                role: token.role,
                created_at: token.created_at,
                expires_at: token.expires_at,
                last_used_at: token.last_used_at,
                revoked_at: token.revoked_at,
            })
            .collect(),
        default_days: lifetimes.default_days,
        max_days: lifetimes.max_days,
    })
}

#[cfg(feature = "ssr")]
pub async fn load_users(db: &crate::backend::db::Database) -> Result<Vec<UserRow>, crate::backend::db::DbError> {
    let users = crate::backend::auth::users::list(db).await?;
    Ok(users
        .into_iter()
        .map(|user| UserRow { name: user.name, role: user.role, scopes: user.scopes.to_string(), disabled: user.disabled })
        .collect())
}

#[cfg(feature = "ssr")]
pub async fn load_audit(db: &crate::backend::db::Database, query: &AuditQuery) -> Result<AuditData, crate::backend::db::DbError> {
    use crate::backend::audit::{self, AuditFilter};
    let AuditQuery { actor, action, object, from, to } = query.clone();
    let filter = AuditFilter { actor, action, object, from, to };
    let entries = audit::search(db, &filter).await?;
    let json = |value: Option<serde_json::Value>| value.map(|value| value.to_string());
    let query = filter.query_string();
    Ok(AuditData {
        entries: entries
            .into_iter()
            .map(|entry| AuditRow {
                at: entry.at,
                actor: entry.actor,
                action: entry.action,
                object: entry.object,
                before: json(entry.before),
                after: json(entry.after),
            })
            .collect(),
        csv_href: if query.is_empty() { "/audit.csv".to_owned() } else { format!("/audit.csv?{query}") },
    })
}
