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

/// A namespace name, or a prefix ending in `*` (`team-x-*`) for every namespace that starts
/// with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamespacePattern {
    prefix: String,
    wildcard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a namespace or namespace pattern; write a namespace name (lower-case letters, digits and `-`, at most 63) or a prefix ending in `*`, e.g. team-x or team-x-*")]
pub struct BadNamespacePattern(pub String);

impl NamespacePattern {
    pub fn parse(text: &str) -> Result<NamespacePattern, BadNamespacePattern> {
        let text = text.trim();
        let (prefix, wildcard) = text.strip_suffix('*').map_or((text, false), |prefix| (prefix, true));
        let valid = prefix.len() <= 63
            && (wildcard || !prefix.is_empty())
            && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !prefix.starts_with('-')
            && (wildcard || !prefix.ends_with('-'));
        if !valid {
            return Err(BadNamespacePattern(text.to_owned()));
        }
        Ok(NamespacePattern { prefix: prefix.to_owned(), wildcard })
    }

    pub fn matches(&self, namespace: &str) -> bool {
        if self.wildcard { namespace.starts_with(&self.prefix) } else { namespace == self.prefix }
    }

    /// Whether some namespace matches both patterns.
    pub fn overlaps(&self, other: &NamespacePattern) -> bool {
        match (self.wildcard, other.wildcard) {
            (false, _) => other.matches(&self.prefix),
            (true, false) => self.matches(&other.prefix),
            (true, true) => self.prefix.starts_with(&other.prefix) || other.prefix.starts_with(&self.prefix),
        }
    }
}

impl std::fmt::Display for NamespacePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.prefix, if self.wildcard { "*" } else { "" })
    }
}

impl TryFrom<String> for NamespacePattern {
    type Error = BadNamespacePattern;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        NamespacePattern::parse(&text)
    }
}

impl From<NamespacePattern> for String {
    fn from(pattern: NamespacePattern) -> String {
        pattern.to_string()
    }
}

/// An app-team user's scopes: the namespaces they may work in (`namespace:team-x`,
/// `namespace:team-x-*`), optionally narrowed to some applications there (`application:api`).
/// Application scopes never reach outside the namespace scopes. Roles above app team are not
/// scoped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(Vec<Scope>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    Namespace(NamespacePattern),
    Application(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadScope {
    #[error("{0:?} is not a scope; write namespace:NAME, namespace:PREFIX-* or application:NAME, separated by commas")]
    Syntax(String),
    #[error("{0:?} does not say what it names; a team's scopes name its namespaces: write namespace:{0}")]
    Bare(String),
    #[error("application: scopes only narrow a namespace: scope; add the namespace those applications are in, e.g. namespace:team-x")]
    ApplicationOnly,
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Scopes {
    /// Parses a comma- or whitespace-separated list as a person writes it: every item says
    /// its kind, and application scopes come with the namespace scope they narrow.
    pub fn parse(text: &str) -> Result<Scopes, BadScope> {
        let scopes = Scopes::parse_items(text, false)?;
        if scopes.applications().next().is_some() && scopes.namespaces().next().is_none() {
            return Err(BadScope::ApplicationOnly);
        }
        Ok(scopes)
    }

    /// Parses a stored list, which may predate namespace scopes: a bare `name` there meant
    /// "the namespace or the application of that name" and reads as `namespace:name` (the
    /// start-up migration rewrites such rows and adds the namespace of each application scope).
    pub fn parse_stored(text: &str) -> Result<Scopes, BadScope> {
        Scopes::parse_items(text, true)
    }

    fn parse_items(text: &str, legacy: bool) -> Result<Scopes, BadScope> {
        text.split([',', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| match item.split_once(':') {
                Some(("namespace" | "ns", pattern)) => NamespacePattern::parse(pattern)
                    .map(Scope::Namespace)
                    .map_err(|_| BadScope::Syntax(item.to_owned())),
                Some(("application" | "app", name)) if is_name(name) => Ok(Scope::Application(name.to_owned())),
                None if legacy && is_name(item) => Ok(Scope::Namespace(NamespacePattern { prefix: item.to_owned(), wildcard: false })),
                None if is_name(item) => Err(BadScope::Bare(item.to_owned())),
                _ => Err(BadScope::Syntax(item.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Scopes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn namespaces(&self) -> impl Iterator<Item = &NamespacePattern> {
        self.0.iter().filter_map(|scope| match scope {
            Scope::Namespace(pattern) => Some(pattern),
            Scope::Application(_) => None,
        })
    }

    pub fn applications(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|scope| match scope {
            Scope::Application(name) => Some(name.as_str()),
            Scope::Namespace(_) => None,
        })
    }

    /// Whether a namespace is inside the namespace scopes.
    pub fn covers_namespace(&self, namespace: &str) -> bool {
        self.namespaces().any(|pattern| pattern.matches(namespace))
    }

    /// Whether an application of this name in this namespace is inside the scopes.
    pub fn cover(&self, namespace: &str, application: &str) -> bool {
        let mut applications = self.applications().peekable();
        self.covers_namespace(namespace) && (applications.peek().is_none() || applications.any(|name| name == application))
    }

    /// Adds a scope (the start-up migration: the namespace an application scope lived in).
    pub fn with(mut self, scope: Scope) -> Scopes {
        if !self.0.contains(&scope) {
            self.0.push(scope);
        }
        self
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|scope| match scope {
                Scope::Namespace(pattern) => format!("namespace:{pattern}"),
                Scope::Application(name) => format!("application:{name}"),
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
    fn scopes_name_namespaces_and_application_scopes_only_narrow_them() {
        let scopes = Scopes::parse("namespace:cd-service, namespace:team-x-*").unwrap();
        assert!(scopes.cover("cd-service", "anything") && scopes.cover("team-x-dev", "api"));
        assert!(!scopes.cover("team-x", "api") && !scopes.cover("other", "cd-service"));
        let narrowed = Scopes::parse("namespace:team-x-* application:billing").unwrap();
        assert!(narrowed.cover("team-x-prod", "billing"));
        assert!(!narrowed.cover("team-x-prod", "api") && !narrowed.cover("other", "billing"));
        assert_eq!(narrowed.to_string(), "namespace:team-x-*, application:billing");
        assert_eq!(Scopes::parse(&narrowed.to_string()), Ok(narrowed));
        assert!(Scopes::parse("").unwrap().is_empty());
    }

    #[test]
    fn scopes_that_are_not_namespaces_are_refused_with_how_to_write_one() {
        assert_eq!(Scopes::parse("team:x"), Err(BadScope::Syntax("team:x".to_owned())));
        assert_eq!(Scopes::parse("Billing"), Err(BadScope::Syntax("Billing".to_owned())));
        assert_eq!(Scopes::parse("namespace:-x"), Err(BadScope::Syntax("namespace:-x".to_owned())));
        let bare = Scopes::parse("billing").unwrap_err();
        assert_eq!(bare, BadScope::Bare("billing".to_owned()));
        assert!(bare.to_string().contains("write namespace:billing"));
        assert_eq!(Scopes::parse("application:api"), Err(BadScope::ApplicationOnly));
        // Stored rows from before namespace scopes still read: a bare name is its namespace.
        assert_eq!(Scopes::parse_stored("billing, application:api").unwrap().to_string(), "namespace:billing, application:api");
    }

    #[test]
    fn namespace_patterns_match_and_overlap_by_prefix() {
        let exact = NamespacePattern::parse("team-x").unwrap();
        let wide = NamespacePattern::parse("team-*").unwrap();
        let narrow = NamespacePattern::parse("team-x-*").unwrap();
        assert!(wide.matches("team-x") && !exact.matches("team-x-dev") && narrow.matches("team-x-dev"));
        assert!(exact.overlaps(&wide) && wide.overlaps(&exact) && wide.overlaps(&narrow) && narrow.overlaps(&wide));
        assert!(!exact.overlaps(&narrow) && !narrow.overlaps(&NamespacePattern::parse("team-y-*").unwrap()));
        assert!(NamespacePattern::parse("*").unwrap().matches("anything"));
        assert!(NamespacePattern::parse("").is_err() && NamespacePattern::parse("team-").is_err());
    }
}
