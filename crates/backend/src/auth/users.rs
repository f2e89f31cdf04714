//! Local accounts: a name, an Argon2id password hash, a role, and for app teams their scopes.
use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::{random_secret, sessions, tokens};
use crate::{
    audit,
    db::{Database, DbError, now_text},
};
use domain::{
        FieldError, FieldErrors,
        access::{Role, Scopes},
    };

/// The account the first start creates, and the one `--demo` signs visitors in as.
pub const FIRST_ADMIN: &str = "admin";
pub const DEMO_USER: &str = "demo";
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[serde(serialize_with = "scopes_text")]
    pub scopes: Scopes,
    pub disabled: bool,
    pub created_at: String,
}

fn scopes_text<S: serde::Serializer>(scopes: &Scopes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&scopes.to_string())
}

impl User {
    /// What the audit log keeps of an account (never its password hash).
    fn audit_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name, "role": self.role, "scopes": self.scopes.to_string(), "disabled": self.disabled,
        })
    }
}

/// A new account as typed in a form or an API body. `Debug` never shows the password.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    pub role: String,
    #[serde(default)]
    pub scopes: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A change to an account; `None` leaves that part as it is. `Debug` never shows a password.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub role: Option<String>,
    pub scopes: Option<String>,
    pub disabled: Option<bool>,
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for UserChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange")
            .field("role", &self.role)
            .field("scopes", &self.scopes)
            .field("disabled", &self.disabled)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

pub fn hash_password(password: &str) -> Result<String, DbError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| DbError::Internal(format!("hashing a password: {error}")))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn check_name(name: &str, errors: &mut FieldErrors) {
    let valid = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@'));
    if !valid {
        errors.push(FieldError::new(
            "name",
            "invalid_user_name",
            "a user name is 1 to 64 characters: lower-case letters, digits and . _ - @",
        ));
    }
}

fn check_password(password: &str, errors: &mut FieldErrors) {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            "password_too_short",
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters ({chars} given); a passphrase of several words is easiest"),
        ));
    } else if chars > 1024 {
        errors.push(FieldError::new("password", "password_too_long", "a password may have at most 1024 characters"));
    }
}

fn parse_role(text: &str, errors: &mut FieldErrors) -> Option<Role> {
    Role::parse(text)
        .map_err(|error| errors.push(FieldError::new("role", "unknown_role", error.to_string())))
        .ok()
}

fn parse_scopes(text: &str, errors: &mut FieldErrors) -> Option<Scopes> {
    Scopes::parse(text)
        .map_err(|error| errors.push(FieldError::new("scopes", "invalid_scope", error.to_string())))
        .ok()
}

const COLUMNS: &str = "id, name, role, scopes, disabled, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<User, DbError> {
    let role: String = row.try_get("role")?;
    let scopes: String = row.try_get("scopes")?;
    let disabled: i64 = row.try_get("disabled")?;
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).map_err(|error| DbError::Internal(format!("stored user: {error}")))?,
        scopes: Scopes::parse_stored(&scopes).map_err(|error| DbError::Internal(format!("stored user: {error}")))?,
        disabled: disabled != 0,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn list(db: &Database) -> Result<Vec<User>, DbError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY name")).fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Database, name: &str) -> Result<Option<User>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(from_row).transpose()
}

async fn get_in(tx: &mut Transaction<'_, Any>, name: &str) -> Result<Option<User>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE name = $1"))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Creates an account (audited). A taken name is a conflict.
pub async fn create(db: &Database, caller: &crate::auth::Principal, input: &NewUser) -> Result<User, DbError> {
    caller.require(domain::access::Role::Admin, "create users").map_err(DbError::from)?;
    let actor = &caller.actor();
    let mut errors = FieldErrors::new();
    let name = input.name.trim();
    check_name(name, &mut errors);
    check_password(&input.password, &mut errors);
    let role = parse_role(&input.role, &mut errors);
    let scopes = parse_scopes(&input.scopes, &mut errors);
    let (Some(role), Some(scopes), true) = (role, scopes, errors.is_empty()) else {
        return Err(DbError::Invalid(errors));
    };
    let password = input.password.clone();
    let hash = off_runtime(move || hash_password(&password)).await?;
    insert(db, actor, name, Some(&hash), role, &scopes, None).await
}

/// The account an OpenID provider vouches for: its issuer and subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalIdentity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
}

async fn insert(
    db: &Database,
    actor: &str,
    name: &str,
    password_hash: Option<&str>,
    role: Role,
    scopes: &Scopes,
    identity: Option<ExternalIdentity<'_>>,
) -> Result<User, DbError> {
    let mut tx = db.pool().begin().await?;
    if get_in(&mut tx, name).await?.is_some() {
        return Err(DbError::Conflict(format!("there is already a user named {name:?}; choose another name")));
    }
    sqlx::query(
        "INSERT INTO users (name, password_hash, role, scopes, disabled, created_at, oidc_issuer, oidc_subject) \
         VALUES ($1, $2, $3, $4, 0, $5, $6, $7)",
    )
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(scopes.to_string())
    .bind(now_text())
    .bind(identity.map(|identity| identity.issuer))
    .bind(identity.map(|identity| identity.subject))
    .execute(&mut *tx)
    .await?;
    let user = get_in(&mut tx, name).await?.ok_or_else(|| DbError::NotFound(format!("user {name:?}")))?;
    audit::record(&mut tx, actor, "user.create", &format!("user/{name}"), None, Some(&user.audit_json())).await?;
    tx.commit().await?;
    Ok(user)
}

/// Changes an account's role, scopes, disabled flag or password (audited; the password
/// only as "reset"). Disabling or resetting a password ends the account's sessions; any
/// change but an enabling one revokes its API tokens.
pub async fn update(db: &Database, caller: &crate::auth::Principal, name: &str, change: &UserChange) -> Result<User, DbError> {
    caller.require(domain::access::Role::Admin, "change users").map_err(DbError::from)?;
    let actor = &caller.actor();
    let mut errors = FieldErrors::new();
    let role = change.role.as_deref().map(|text| parse_role(text, &mut errors));
    let scopes = change.scopes.as_deref().map(|text| parse_scopes(text, &mut errors));
    if let Some(password) = &change.password {
        check_password(password, &mut errors);
    }
    if !errors.is_empty() {
        return Err(DbError::Invalid(errors));
    }
    let hash = match change.password.clone() {
        Some(password) => Some(off_runtime(move || hash_password(&password)).await?),
        None => None,
    };
    let mut tx = db.pool().begin().await?;
    let before = get_in(&mut tx, name).await?.ok_or_else(|| DbError::NotFound(format!("there is no user named {name:?}")))?;
    let role = role.flatten().unwrap_or(before.role);
    let scopes = scopes.flatten().unwrap_or_else(|| before.scopes.clone());
    let disabled = change.disabled.unwrap_or(before.disabled);
    if before.role == Role::Admin && (role != Role::Admin || disabled) && active_admins(&mut tx).await? <= 1 {
        return Err(DbError::Conflict(format!(
            "{name} is the last active admin; make another user admin before changing or disabling this one"
        )));
    }
    sqlx::query("UPDATE users SET role = $1, scopes = $2, disabled = $3 WHERE id = $4")
        .bind(role.as_str())
        .bind(scopes.to_string())
        .bind(i64::from(disabled))
        .bind(before.id)
        .execute(&mut *tx)
        .await?;
    if let Some(hash) = &hash {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(before.id).execute(&mut *tx).await?;
    }
    let after = get_in(&mut tx, name).await?.ok_or_else(|| DbError::NotFound(format!("user {name:?}")))?;
    let object = format!("user/{name}");
    if after != before {
        audit::record(&mut tx, actor, "user.update", &object, Some(&before.audit_json()), Some(&after.audit_json())).await?;
    }
    if hash.is_some() {
        audit::record(&mut tx, actor, "user.password_reset", &object, None, None).await?;
    }
    if disabled || hash.is_some() {
        sessions::end_all_in(&mut tx, before.id).await?;
    }
    // A token was made for the user as they were; a changed password, role or scopes or a
    // disabled account ends them all (the user makes new ones).
    if disabled || hash.is_some() || after.role != before.role || after.scopes != before.scopes {
        let revoked = tokens::revoke_all_in(&mut tx, before.id).await?;
        if revoked > 0 {
            audit::record(&mut tx, actor, "user.tokens_revoked", &object, None, Some(&serde_json::json!({"tokens_revoked": revoked}))).await?;
        }
    }
    tx.commit().await?;
    Ok(after)
}

async fn active_admins(tx: &mut Transaction<'_, Any>) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("n")?)
}

/// A name as typed at sign-in, as accounts are named: user names are lower case without
/// spaces, so surrounding white space and capitals are dropped. Authentication and the
/// sign-in limits both use this, so a variant of a name never gets a count of its own.
pub fn normalise_name(typed: &str) -> String {
    typed.trim().to_lowercase()
}

/// The account for this name and password, or `None` (unknown, wrong password, disabled,
/// or an account without a password such as the demo user). An unknown name costs the
/// same hashing time as a known one, so timing does not tell which names exist.
pub async fn authenticate(db: &Database, name: &str, password: &str) -> Result<Option<User>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS}, password_hash FROM users WHERE name = $1"))
        .bind(normalise_name(name))
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else {
        let password = password.to_owned();
        let _ = off_runtime(move || verify_password(unknown_user_hash(), &password)).await;
        return Ok(None);
    };
    let hash: Option<String> = row.try_get("password_hash")?;
    let user = from_row(&row)?;
    let password = password.to_owned();
    let verified = match hash {
        Some(hash) => off_runtime(move || verify_password(&hash, &password)).await,
        None => false,
    };
    Ok((verified && !user.disabled).then_some(user))
}

/// Argon2 is slow on purpose: it runs on a blocking thread, not on a runtime worker other
/// requests wait for.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_secret()).unwrap_or_default())
}

/// On first start: when there is no admin, creates `admin` with `password` (from
/// GATEHOUSE_ADMIN_PASSWORD) or a generated one, which is returned to be logged once.
pub async fn ensure_admin(db: &Database, password: Option<&str>) -> Result<Option<String>, DbError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'").fetch_one(db.pool()).await?;
    let admins: i64 = row.try_get("n")?;
    if admins > 0 {
        return Ok(None);
    }
    let generated = password.is_none().then(random_secret);
    let password = password.or(generated.as_deref()).unwrap_or_default();
    let input = NewUser {
        name: FIRST_ADMIN.to_owned(),
        password: password.to_owned(),
        role: Role::Admin.as_str().to_owned(),
        scopes: String::new(),
    };
    create(db, &super::Principal::system("gatehouse"), &input).await?;
    Ok(generated)
}

/// Rewrites users' scopes stored before scopes named namespaces, once, at start: a bare
/// `name` becomes `namespace:name`, and an `application:` scope without a namespace scope
/// gains the namespace that application is in now, so nobody gains or loses access. Each
/// rewrite is audited; answers how many users changed. Idempotent.
pub async fn migrate_scopes(db: &Database) -> Result<usize, DbError> {
    use domain::access::{NamespacePattern, Scope};
    let rows = sqlx::query("SELECT name, scopes FROM users WHERE scopes <> ''").fetch_all(db.pool()).await?;
    let applications = crate::applications::list(db).await?;
    let mut changed = 0;
    for row in rows {
        let (name, stored): (String, String) = (row.try_get("name")?, row.try_get("scopes")?);
        let Ok(mut scopes) = Scopes::parse_stored(&stored) else { continue };
        if scopes.namespaces().next().is_none() {
            let homes: Vec<String> = scopes
                .applications()
                .filter_map(|app| applications.iter().find(|a| a.name.as_str() == app))
                .map(|app| app.namespace.to_string())
                .collect();
            for home in homes {
                if let Ok(pattern) = NamespacePattern::parse(&home) {
                    scopes = scopes.with(Scope::Namespace(pattern));
                }
            }
        }
        let rewritten = scopes.to_string();
        if rewritten == stored {
            continue;
        }
        let mut tx = db.pool().begin().await?;
        sqlx::query("UPDATE users SET scopes = $1 WHERE name = $2").bind(&rewritten).bind(&name).execute(&mut *tx).await?;
        audit::record(
            &mut tx,
            "gatehouse",
            "user.scopes_migrated",
            &format!("user/{name}"),
            Some(&serde_json::json!({ "scopes": stored })),
            Some(&serde_json::json!({ "scopes": rewritten })),
        )
        .await?;
        tx.commit().await?;
        changed += 1;
    }
    Ok(changed)
}

/// A user signed in by an OpenID provider, found by the provider's issuer and subject (the
/// name is what the user is shown as): created without a password on first sign-in, given the
/// role their groups map to on every sign-in (audited when it changes). A name already taken
/// is never claimed — not a local account's, nor one without a password such as the demo
/// user — with one exception for upgrades: an account the OpenID sign-in itself created
/// before users were keyed on issuer and subject is linked at its next sign-in. A disabled
/// account stays out.
pub async fn ensure_external(db: &Database, identity: ExternalIdentity<'_>, name: &str, role: Role) -> Result<User, DbError> {
    let linked = sqlx::query("SELECT name FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2")
        .bind(identity.issuer)
        .bind(identity.subject)
        .fetch_optional(db.pool())
        .await?;
    let user = match linked {
        Some(row) => {
            let linked_name: String = row.try_get("name")?;
            get(db, &linked_name).await?.ok_or_else(|| DbError::NotFound(format!("user {linked_name:?}")))?
        }
        None => {
            let mut errors = FieldErrors::new();
            check_name(name, &mut errors);
            if !errors.is_empty() {
                return Err(DbError::Conflict(format!(
                    "the provider's user name {name:?} cannot be a Gatehouse user name (lower-case letters, digits and . _ - @)"
                )));
            }
            let Some(row) = sqlx::query("SELECT password_hash, oidc_issuer FROM users WHERE name = $1").bind(name).fetch_optional(db.pool()).await?
            else {
                return insert(db, "openid-connect", name, None, role, &Scopes::default(), Some(identity)).await;
            };
            let password_hash: Option<String> = row.try_get("password_hash")?;
            let issuer: Option<String> = row.try_get("oidc_issuer")?;
            let made_by_oidc: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM audit_log WHERE action = 'user.create' AND object = $1 AND actor = 'openid-connect'",
            )
            .bind(format!("user/{name}"))
            .fetch_optional(db.pool())
            .await?;
            if password_hash.is_some() || issuer.is_some() || made_by_oidc.is_none() {
                return Err(DbError::Conflict(format!(
                    "a Gatehouse account named {name:?} already exists and is not yours at this provider; \
                     sign in with its password, or ask an admin"
                )));
            }
            let mut tx = db.pool().begin().await?;
            sqlx::query("UPDATE users SET oidc_issuer = $1, oidc_subject = $2 WHERE name = $3 AND oidc_issuer IS NULL")
                .bind(identity.issuer)
                .bind(identity.subject)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            let link = serde_json::json!({"oidc_issuer": identity.issuer, "oidc_subject": identity.subject});
            audit::record(&mut tx, "openid-connect", "user.link", &format!("user/{name}"), None, Some(&link)).await?;
            tx.commit().await?;
            get(db, name).await?.ok_or_else(|| DbError::NotFound(format!("user {name:?}")))?
        }
    };
    if user.disabled {
        return Err(DbError::Conflict(format!("the account {:?} is disabled; ask an admin", user.name)));
    }
    if user.role == role {
        return Ok(user);
    }
    let change = UserChange { role: Some(role.as_str().to_owned()), ..UserChange::default() };
    update(db, &super::Principal::system("openid-connect"), &user.name, &change).await
}

/// The demo user `--demo` signs visitors in as: a network admin without a password, so
/// nobody can sign in as it by the form. A demo user an earlier start retired is enabled
/// again (audited); the tokens and sessions it lost stay gone.
pub async fn ensure_demo(db: &Database) -> Result<User, DbError> {
    let Some(user) = get(db, DEMO_USER).await? else {
        return insert(db, "gatehouse", DEMO_USER, None, Role::NetworkAdmin, &Scopes::default(), None).await;
    };
    if !user.disabled {
        return Ok(user);
    }
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE users SET disabled = 0 WHERE id = $1").bind(user.id).execute(&mut *tx).await?;
    let after = User { disabled: false, ..user.clone() };
    audit::record(&mut tx, "gatehouse", "user.update", &format!("user/{DEMO_USER}"), Some(&user.audit_json()), Some(&after.audit_json())).await?;
    tx.commit().await?;
    Ok(after)
}

/// At a start without the demo sign-in: the demo user, if an earlier start made one, is
/// disabled, signed out everywhere and loses its API tokens (audited), so nothing made
/// under `--demo` answers afterwards. Answers whether anything changed.
pub async fn retire_demo(db: &Database) -> Result<bool, DbError> {
    let mut tx = db.pool().begin().await?;
    let Some(user) = get_in(&mut tx, DEMO_USER).await? else { return Ok(false) };
    let revoked = tokens::revoke_all_in(&mut tx, user.id).await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.id).execute(&mut *tx).await?.rows_affected();
    if user.disabled && revoked == 0 && ended == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1").bind(user.id).execute(&mut *tx).await?;
    let after = serde_json::json!({
        "name": user.name, "role": user.role, "scopes": user.scopes.to_string(), "disabled": true,
        "tokens_revoked": revoked, "sessions_ended": ended,
    });
    audit::record(&mut tx, "gatehouse", "user.demo_retired", &format!("user/{DEMO_USER}"), Some(&user.audit_json()), Some(&after)).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_argon2id_and_verified() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_password(&hash, "correct horse battery staple"));
        assert!(!verify_password(&hash, "correct horse battery stapler"));
        assert!(!verify_password("not a hash", "anything"));
    }

    #[test]
    fn names_passwords_roles_and_scopes_are_checked_together() {
        let mut errors = FieldErrors::new();
        check_name("Alice Smith", &mut errors);
        check_password("short", &mut errors);
        let role = parse_role("root", &mut errors);
        let scopes = parse_scopes("team:x", &mut errors);
        assert!(role.is_none() && scopes.is_none());
        let codes: Vec<&str> = errors.iter().map(|error| error.code.as_str()).collect();
        assert_eq!(codes, ["invalid_user_name", "password_too_short", "unknown_role", "invalid_scope"]);
        assert!(errors.get("password").unwrap().message.contains("at least 12 characters (5 given)"));
        let input = NewUser { name: "ana".into(), password: "a secret passphrase".into(), ..NewUser::default() };
        let change = UserChange { password: Some("another secret".into()), ..UserChange::default() };
        assert!(!format!("{input:?}{change:?}").contains("secret"));
    }
}
