//! Accounts, sessions, API tokens and sign-in limits.
//!
//! Secrets (passwords, session ids, API tokens) never reach the database or the log in the
//! clear: passwords are stored as Argon2id hashes, session ids and tokens — random 256-bit
//! values — as their SHA-256, which is enough for values that cannot be guessed.
pub mod limiter;
pub mod pending;
pub mod sessions;
pub mod tokens;
pub mod users;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};

use domain::access::{Role, Scopes};

/// Who is asking: resolved once per request from the session cookie, the bearer token or
/// (with `--demo`) the demo sign-in, and handed to handlers and server functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    pub scopes: Scopes,
    pub via: Via,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session; the SHA-256 of its id.
    Session { id_hash: String },
    /// An API token (its role may be below the user's).
    Token { id: i64, name: String },
    /// HTTP basic credentials (only to create an API token).
    Password,
    /// `--demo`: every visitor without a session is the demo user.
    Demo,
    /// Gatehouse itself: seeding, start-up migrations, background work.
    System,
}

impl Principal {
    /// How the audit log names this caller: the user, and the token when one was used.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Token { name, .. } => format!("{} (token:{name})", self.name),
            Via::Session { .. } | Via::Password | Via::Demo | Via::System => self.name.clone(),
        }
    }

    /// The user behind an audit actor that [`Principal::actor`] wrote: `alice` for `alice`
    /// and for `alice (token:ci)`.
    pub fn person_of(actor: &str) -> &str {
        actor.split_once(" (token:").map_or(actor, |(name, _)| name)
    }

    /// App teams change only applications inside their scopes; the roles above them any.
    pub fn may_change_application(&self, namespace: &str, application: &str) -> bool {
        match self.role {
            Role::Viewer => false,
            Role::AppTeam => self.scopes.cover(namespace, application),
            Role::NetworkAdmin | Role::Admin => true,
        }
    }
}

/// 256 random bits, URL-safe: a session id, an API token or a generated password.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // The system random source failing is not recoverable; ring reports it as an error
    // only on platforms without one.
    SystemRandom::new().fill(&mut bytes).expect("the system's secure random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a session id or token is stored: its SHA-256, hex.
pub fn secret_hash(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The current time in whole seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_stored_as_their_hash() {
        let a = random_secret();
        let b = random_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), secret_hash(&b));
        assert!(!secret_hash(&a).contains(&a));
    }

    #[test]
    fn app_teams_change_only_applications_in_their_scopes() {
        let mut principal = Principal {
            user_id: 1,
            name: "ana".to_owned(),
            role: Role::AppTeam,
            scopes: Scopes::parse("namespace:cd-service").unwrap(),
            via: Via::Token { id: 3, name: "ci".to_owned() },
        };
        assert!(principal.may_change_application("cd-service", "api"));
        assert!(!principal.may_change_application("billing", "api"));
        assert_eq!(principal.actor(), "ana (token:ci)");
        principal.role = Role::Viewer;
        assert!(!principal.may_change_application("cd-service", "api"));
        principal.role = Role::NetworkAdmin;
        assert!(principal.may_change_application("billing", "api"));
    }
}
