//! Who may do what, decided in one place: every use case in the backend takes the caller
//! (`&Principal`) and asks here before it reads or writes. The `/api/v1` handlers and the
//! pages' server functions only translate; a new route cannot skip a check that the service
//! it calls makes itself.
use crate::auth::{Principal, Via};
use domain::{
    Application, FieldError, FieldErrors, Plan,
    access::{NamespacePattern, Role},
};

/// A refusal: the caller's role, scopes or ownership do not allow it. Always answered 403,
/// with a code scripts can match and a sentence that says what would be allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub code: &'static str,
    pub message: String,
    /// The request field that the refusal is about, when there is one.
    pub field: Option<&'static str>,
}

impl Denied {
    pub fn new(code: &'static str, message: impl Into<String>) -> Denied {
        Denied { code, message: message.into(), field: None }
    }

    pub fn on(mut self, field: &'static str) -> Denied {
        self.field = Some(field);
        self
    }
}

impl Principal {
    /// Gatehouse itself (seeding, start-up migrations, background work): an admin that is
    /// nobody's session.
    pub fn system(name: &str) -> Principal {
        Principal { user_id: 0, name: name.to_owned(), role: Role::Admin, scopes: Default::default(), via: Via::System }
    }

    /// The caller holds at least `role`; `what` finishes "only … may": "change pools".
    pub fn require(&self, role: Role, what: &str) -> Result<(), Denied> {
        if self.role >= role {
            return Ok(());
        }
        let who = match role {
            Role::Admin => "admins".to_owned(),
            role => format!("the {} role or above", role.label()),
        };
        Err(Denied::new("forbidden", format!("only {who} may {what}; you are {}", self.role.label())))
    }
}

/// The namespaces no application may go to, each with the reason a refusal gives.
#[derive(Debug, Clone)]
pub struct Tenancy {
    reserved: Vec<(NamespacePattern, String)>,
}

impl Default for Tenancy {
    fn default() -> Tenancy {
        Tenancy::new("gatehouse", &[])
    }
}

impl Tenancy {
    /// Kubernetes' and Cilium's namespaces, `default`, Gatehouse's own, and a deny-list
    /// (`--reserved-namespaces`).
    pub fn new(own_namespace: &str, deny: &[NamespacePattern]) -> Tenancy {
        let pattern = |text: &str| NamespacePattern::parse(text).expect("a built-in namespace pattern");
        let mut reserved = vec![
            (pattern("kube-*"), "Kubernetes' own namespaces (kube-*)".to_owned()),
            (pattern("default"), "the namespace every unqualified kubectl command lands in (default)".to_owned()),
            (pattern("cilium"), "Cilium's namespace (cilium)".to_owned()),
            (pattern("cilium-*"), "Cilium's namespaces (cilium-*; cilium-secrets holds the Gateways' TLS keys)".to_owned()),
        ];
        if let Ok(own) = NamespacePattern::parse(own_namespace) {
            reserved.push((own, format!("Gatehouse's own namespace ({own_namespace})")));
        }
        reserved.extend(deny.iter().map(|pattern| (pattern.clone(), format!("the --reserved-namespaces deny-list ({pattern})"))));
        Tenancy { reserved }
    }

    /// Why `namespace` is reserved, if it is.
    pub fn reserved(&self, namespace: &str) -> Option<&str> {
        self.reserved.iter().find(|(pattern, _)| pattern.matches(namespace)).map(|(_, why)| why.as_str())
    }

    /// Every placement of the application (its namespace, and where each environment puts
    /// it) is outside the reserved namespaces; 422 naming the field and the rule otherwise.
    pub fn check(&self, plan: &Plan, application: &Application) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        for (field, environment, namespace) in placements(plan, application) {
            if let Some(why) = self.reserved(&namespace) {
                let place = environment.map_or_else(String::new, |environment| format!(" in {environment}"));
                errors.push(FieldError::new(
                    field,
                    "reserved_namespace",
                    format!(
                        "application {:?} would go to namespace {namespace:?}{place}, which is reserved: {why}; choose a namespace of your own team",
                        application.name.as_str()
                    ),
                ));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// The application's namespace and, per environment, the namespace it goes to there: the
/// request field each comes from, the environment, the namespace.
fn placements(plan: &Plan, application: &Application) -> Vec<(String, Option<String>, String)> {
    let mut placements = vec![("namespace".to_owned(), None, application.namespace.to_string())];
    for environment in application.environments.keys() {
        let namespace = plan.namespace_in(application, environment).to_string();
        if namespace != application.namespace.as_str() {
            placements.push((format!("environments.{environment}"), Some(environment.to_string()), namespace));
        }
    }
    placements
}

impl Principal {
    /// Whether the caller may read the application's details (its spec, bundle, submissions,
    /// preview): app teams only inside their scopes, in every placement; the roles above
    /// them, and viewers (who never see key material), any.
    pub fn may_read_application(&self, plan: &Plan, application: &Application) -> bool {
        self.role != Role::AppTeam || self.covers_application(plan, application)
    }

    /// The plan as an app team's browser may hold it, to run the checklist as it types:
    /// other teams' applications keep what the checks compare (names, namespaces, hostnames,
    /// paths, VIPs, certificate names) and lose their image and configuration.
    pub fn redact_other_teams(&self, mut plan: Plan) -> Plan {
        if self.role != Role::AppTeam {
            return plan;
        }
        let hidden: Vec<bool> = plan.applications.iter().map(|application| !self.covers_application(&plan, application)).collect();
        for (application, hidden) in plan.applications.iter_mut().zip(hidden) {
            if hidden {
                if let Ok(image) = domain::ImageRef::parse("hidden") {
                    application.image = image;
                }
                for entry in application.environments.values_mut() {
                    entry.config.clear();
                }
            }
        }
        plan
    }

    fn covers_application(&self, plan: &Plan, application: &Application) -> bool {
        placements(plan, application)
            .iter()
            .all(|(_, _, namespace)| self.scopes.cover(namespace, application.name.as_str()))
    }

    /// The caller may change, submit, tear down and download the bundle of the application:
    /// an app team only when every placement is inside its scopes.
    pub fn require_application(&self, plan: &Plan, application: &Application) -> Result<(), Denied> {
        self.require(Role::AppTeam, "change applications")?;
        if self.role > Role::AppTeam {
            return Ok(());
        }
        match placements(plan, application)
            .into_iter()
            .find(|(_, _, namespace)| !self.scopes.cover(namespace, application.name.as_str()))
        {
            None => Ok(()),
            Some((field, environment, namespace)) => {
                let place = environment.map_or_else(String::new, |environment| format!(" (where {environment} puts it)"));
                Err(Denied::new(
                    "outside_your_scopes",
                    format!(
                        "application {:?} in namespace {namespace:?}{place} is outside your scopes ({}); ask an admin to add the namespace",
                        application.name.as_str(),
                        if self.scopes.is_empty() { "none".to_owned() } else { self.scopes.to_string() }
                    ),
                )
                .on(if field == "namespace" { "namespace" } else { "environments" }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_below_the_one_needed_is_refused_with_what_would_be_allowed() {
        let mut caller = Principal::system("seed");
        assert_eq!(caller.require(Role::Admin, "manage users"), Ok(()));
        caller.role = Role::AppTeam;
        let denied = caller.require(Role::NetworkAdmin, "change pools").unwrap_err();
        assert_eq!(denied.code, "forbidden");
        assert_eq!(denied.message, "only the network admin role or above may change pools; you are app team");
    }
}
