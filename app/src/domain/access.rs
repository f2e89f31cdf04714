//! Who may do what: roles, the access rule every route declares, and app teams' scopes.
//!
//! Roles are ordered — each one may do everything the ones below it may:
//! viewer (topology, checklist and training views, read-only, never key material) <
//! app team (their own applications, within their scopes, and their bundles) <
//! network admin (environments, pools, allocations, certificates, the audit log) <
//! admin (users, roles and settings).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    AppTeam,
    NetworkAdmin,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role; use viewer, app_team, network_admin or admin")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::AppTeam, Role::NetworkAdmin, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::AppTeam => "app_team",
            Role::NetworkAdmin => "network_admin",
            Role::Admin => "admin",
        }
    }

    /// How pages name the role.
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::AppTeam => "app team",
            Role::NetworkAdmin => "network admin",
            Role::Admin => "admin",
        }
    }

    /// Accepts the stored spelling and the labels (`app team`, `app-team`), any case.
    pub fn parse(text: &str) -> Result<Role, UnknownRole> {
        let normal = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == normal)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// The rule a route declares: open to anyone, or to a role and the roles above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The sign-in page, health checks, static files.
    Public,
    /// Signed in with at least this role.
    AtLeast(Role),
    /// A route registered without a rule of its own: nobody may call it (deny by default).
    Unlisted,
}

/// What a rule says about one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not signed in: sign in first (401, or a redirect to the sign-in page).
    SignIn,
    /// Signed in, but the role does not allow it (403).
    Forbid,
}

impl Access {
    pub const VIEWER: Access = Access::AtLeast(Role::Viewer);
    pub const APP_TEAM: Access = Access::AtLeast(Role::AppTeam);
    pub const NETWORK_ADMIN: Access = Access::AtLeast(Role::NetworkAdmin);
    pub const ADMIN: Access = Access::AtLeast(Role::Admin);

    pub fn decide(self, role: Option<Role>) -> Decision {
        match (self, role) {
            (Access::Public, _) => Decision::Allow,
            (Access::AtLeast(_) | Access::Unlisted, None) => Decision::SignIn,
            (Access::AtLeast(needed), Some(role)) if role >= needed => Decision::Allow,
            (Access::AtLeast(_) | Access::Unlisted, Some(_)) => Decision::Forbid,
        }
    }

    pub fn allows(self, role: Option<Role>) -> bool {
        self.decide(role) == Decision::Allow
    }

    /// Words for the 403 page and the API error.
    pub fn describe(self) -> String {
        match self {
            Access::Public => "anyone".to_owned(),
            Access::AtLeast(Role::Viewer) => "anyone signed in".to_owned(),
            Access::AtLeast(Role::Admin) => "admins".to_owned(),
            Access::AtLeast(role) => format!("the {} role or above", role.label()),
            Access::Unlisted => "nobody (the route has no access rule)".to_owned(),
        }
    }
}

/// The namespaces and applications an app-team user may change: `namespace:cd-service`,
/// `application:api`, or a bare name, which matches either. Roles above app team are not
/// scoped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(Vec<Scope>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    Namespace(String),
    Application(String),
    Either(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a scope; write namespace:NAME, application:NAME or NAME, separated by commas")]
pub struct BadScope(pub String);

impl Scopes {
    /// Parses a comma- or whitespace-separated list.
    pub fn parse(text: &str) -> Result<Scopes, BadScope> {
        text.split([',', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                let (kind, name) = item.split_once(':').map_or((None, item), |(k, n)| (Some(k), n));
                let valid = !name.is_empty()
                    && name.len() <= 63
                    && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                match (kind, valid) {
                    (_, false) => Err(BadScope(item.to_owned())),
                    (None, true) => Ok(Scope::Either(name.to_owned())),
                    (Some("namespace" | "ns"), true) => Ok(Scope::Namespace(name.to_owned())),
                    (Some("application" | "app"), true) => Ok(Scope::Application(name.to_owned())),
                    (Some(_), true) => Err(BadScope(item.to_owned())),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Scopes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an application of this name in this namespace is inside the scopes.
    pub fn cover(&self, namespace: &str, application: &str) -> bool {
        self.0.iter().any(|scope| match scope {
            Scope::Namespace(name) => name == namespace,
            Scope::Application(name) => name == application,
            Scope::Either(name) => name == namespace || name == application,
        })
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|scope| match scope {
                Scope::Namespace(name) => format!("namespace:{name}"),
                Scope::Application(name) => format!("application:{name}"),
                Scope::Either(name) => name.clone(),
            })
            .collect();
        f.write_str(&items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_each_rule_admits_the_roles_above_it() {
        let callers = [None, Some(Role::Viewer), Some(Role::AppTeam), Some(Role::NetworkAdmin), Some(Role::Admin)];
        let allowed = |access: Access| callers.iter().filter(|role| access.allows(**role)).count();
        assert_eq!(allowed(Access::Public), 5);
        assert_eq!(allowed(Access::VIEWER), 4);
        assert_eq!(allowed(Access::APP_TEAM), 3);
        assert_eq!(allowed(Access::NETWORK_ADMIN), 2);
        assert_eq!(allowed(Access::ADMIN), 1);
        assert_eq!(allowed(Access::Unlisted), 0);
        assert_eq!(Access::NETWORK_ADMIN.decide(None), Decision::SignIn);
        assert_eq!(Access::NETWORK_ADMIN.decide(Some(Role::AppTeam)), Decision::Forbid);
        assert_eq!(Access::Unlisted.decide(Some(Role::Admin)), Decision::Forbid);
    }

    #[test]
    fn roles_parse_from_their_names_and_labels() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert_eq!(Role::parse(role.label()), Ok(role));
        }
        assert_eq!(Role::parse("App-Team"), Ok(Role::AppTeam));
        let error = Role::parse("root").unwrap_err();
        assert!(error.to_string().contains("viewer, app_team, network_admin or admin"));
    }

    #[test]
    fn scopes_cover_namespaces_and_applications() {
        let scopes = Scopes::parse("namespace:cd-service, application:billing web").unwrap();
        assert!(scopes.cover("cd-service", "anything"));
        assert!(scopes.cover("other", "billing"));
        assert!(scopes.cover("web", "x") && scopes.cover("x", "web"));
        assert!(!scopes.cover("other", "api"));
        assert_eq!(scopes.to_string(), "namespace:cd-service, application:billing, web");
        assert_eq!(Scopes::parse(&scopes.to_string()), Ok(scopes));
        assert!(Scopes::parse("").unwrap().is_empty());
        assert_eq!(Scopes::parse("team:x"), Err(BadScope("team:x".to_owned())));
        assert_eq!(Scopes::parse("Billing"), Err(BadScope("Billing".to_owned())));
    }
}
