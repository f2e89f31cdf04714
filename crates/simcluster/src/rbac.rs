//! Kubernetes RBAC as the API server's authorizer evaluates it, for the simulated cluster: a
//! request's attributes (user and groups, verb, API group, resource and subresource,
//! namespace, name) are allowed when a ClusterRoleBinding, or a RoleBinding in the request's
//! namespace, binds one of the caller's subjects to a role with a rule that covers them.
//! Nothing is allowed otherwise: RBAC has no deny rules, so the order of rules and bindings
//! does not matter.
use std::collections::BTreeMap;

use serde_json::Value;

/// Who makes the requests: a user name and the groups the authenticator put it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

impl Identity {
    /// A ServiceAccount's token, as the API server authenticates it:
    /// `system:serviceaccount:<namespace>:<name>`, in the groups `system:serviceaccounts`,
    /// `system:serviceaccounts:<namespace>` and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str) -> Identity {
        Identity {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_owned(),
            ],
        }
    }
}

/// What the authorizer is asked about one resource request (the API server's RequestInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    /// `None` at the cluster scope.
    pub namespace: Option<&'a str>,
    /// `None` for a collection, unless a field selector names one object.
    pub name: Option<&'a str>,
}

#[derive(Debug, Clone, Default)]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
    resource_names: Vec<String>,
}

impl Rule {
    fn parse(rule: &Value) -> Rule {
        let strings = |field: &str| -> Vec<String> {
            rule.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        Rule {
            api_groups: strings("apiGroups"),
            resources: strings("resources"),
            verbs: strings("verbs"),
            resource_names: strings("resourceNames"),
        }
    }

    fn allows(&self, request: &Attributes<'_>) -> bool {
        let any_or = |values: &[String], wanted: &str| values.iter().any(|v| v == "*" || v == wanted);
        let combined = match request.subresource {
            Some(subresource) => format!("{}/{subresource}", request.resource),
            None => request.resource.to_owned(),
        };
        let resource_matches = self.resources.iter().any(|r| {
            r == "*" || *r == combined || request.subresource.is_some_and(|sub| r.strip_prefix("*/") == Some(sub))
        });
        let name_matches =
            self.resource_names.is_empty() || request.name.is_some_and(|name| self.resource_names.iter().any(|n| n == name));
        any_or(&self.verbs, request.verb) && any_or(&self.api_groups, request.group) && resource_matches && name_matches
    }
}

#[derive(Debug, Clone)]
enum Subject {
    User(String),
    Group(String),
    ServiceAccount { namespace: String, name: String },
}

impl Subject {
    fn parse(subject: &Value, binding_namespace: Option<&str>) -> Option<Subject> {
        let name = subject.get("name")?.as_str()?.to_owned();
        match subject.get("kind")?.as_str()? {
            "User" => Some(Subject::User(name)),
            "Group" => Some(Subject::Group(name)),
            "ServiceAccount" => {
                let namespace = subject.get("namespace").and_then(Value::as_str).or(binding_namespace)?.to_owned();
                Some(Subject::ServiceAccount { namespace, name })
            }
            _ => None,
        }
    }

    fn covers(&self, identity: &Identity) -> bool {
        match self {
            Subject::User(name) => *name == identity.user,
            Subject::Group(name) => identity.groups.contains(name),
            Subject::ServiceAccount { namespace, name } => identity.user == format!("system:serviceaccount:{namespace}:{name}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Binding {
    /// `None` for a ClusterRoleBinding.
    namespace: Option<String>,
    /// `(kind, name)` of the role: `ClusterRole` or `Role`.
    role: (String, String),
    subjects: Vec<Subject>,
}

/// The RBAC objects of a cluster: roles, cluster roles and their bindings.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    cluster_roles: BTreeMap<String, Vec<Rule>>,
    roles: BTreeMap<(String, String), Vec<Rule>>,
    bindings: Vec<Binding>,
}

impl Rbac {
    /// Reads the ClusterRoles, Roles, ClusterRoleBindings and RoleBindings among `objects`
    /// (as `kubectl kustomize` renders them) and passes over every other kind.
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Rbac {
        let mut rbac = Rbac::default();
        for object in objects {
            if object.get("apiVersion").and_then(Value::as_str) != Some("rbac.authorization.k8s.io/v1") {
                continue;
            }
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
            let rules = || object.get("rules").and_then(Value::as_array).into_iter().flatten().map(Rule::parse).collect();
            match object.get("kind").and_then(Value::as_str) {
                Some("ClusterRole") => {
                    rbac.cluster_roles.insert(name, rules());
                }
                Some("Role") => {
                    rbac.roles.insert((namespace.unwrap_or_else(|| "default".to_owned()), name), rules());
                }
                Some(kind @ ("ClusterRoleBinding" | "RoleBinding")) => {
                    let namespace = (kind == "RoleBinding").then(|| namespace.unwrap_or_else(|| "default".to_owned()));
                    let role = (
                        object.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        object.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    );
                    let subjects = object
                        .get("subjects")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|s| Subject::parse(s, namespace.as_deref()))
                        .collect();
                    rbac.bindings.push(Binding { namespace, role, subjects });
                }
                _ => {}
            }
        }
        rbac
    }

    /// Whether RBAC allows `identity` the request. A RoleBinding grants only inside its own
    /// namespace, whether it names a Role or a ClusterRole; a ClusterRoleBinding grants in
    /// every namespace and at the cluster scope, and may name only a ClusterRole.
    pub fn allows(&self, identity: &Identity, request: &Attributes<'_>) -> bool {
        self.bindings.iter().any(|binding| {
            let in_scope = match &binding.namespace {
                None => true,
                Some(namespace) => request.namespace == Some(namespace.as_str()),
            };
            if !in_scope || !binding.subjects.iter().any(|s| s.covers(identity)) {
                return false;
            }
            let rules = match (binding.role.0.as_str(), &binding.namespace) {
                ("ClusterRole", _) => self.cluster_roles.get(&binding.role.1),
                ("Role", Some(namespace)) => self.roles.get(&(namespace.clone(), binding.role.1.clone())),
                _ => None,
            };
            rules.into_iter().flatten().any(|rule| rule.allows(request))
        })
    }
}

/// The message a real API server sends with its 403 (apiserver's `forbiddenMessage`, wrapped
/// by `NewForbidden`): `deployments.apps "api" is forbidden: User "…" cannot watch resource
/// "deployments" in API group "apps" in the namespace "team"`.
pub fn forbidden_message(user: &str, request: &Attributes<'_>) -> String {
    let resource = match request.subresource {
        Some(subresource) => format!("{}/{subresource}", request.resource),
        None => request.resource.to_owned(),
    };
    let scope = match request.namespace {
        Some(namespace) => format!("in the namespace \"{namespace}\""),
        None => "at the cluster scope".to_owned(),
    };
    let qualified = if request.group.is_empty() { request.resource.to_owned() } else { format!("{}.{}", request.resource, request.group) };
    let object = match request.name {
        Some(name) => format!("{qualified} \"{name}\""),
        None => qualified,
    };
    format!(
        "{object} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        request.verb, request.group
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rbac() -> Rbac {
        let objects = [
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "gatehouse"},
                   "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch"]},
                             {"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]},
                             {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["settings"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "gatehouse"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gatehouse"},
                   "subjects": [{"kind": "ServiceAccount", "name": "gatehouse", "namespace": "gatehouse"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "leases", "namespace": "gatehouse"},
                   "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "update"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "leases", "namespace": "gatehouse"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leases"},
                   "subjects": [{"kind": "ServiceAccount", "name": "gatehouse"}]}),
        ];
        Rbac::from_objects(&objects)
    }

    fn request<'a>(verb: &'a str, group: &'a str, resource: &'a str, namespace: Option<&'a str>) -> Attributes<'a> {
        Attributes { verb, group, resource, subresource: None, namespace, name: None }
    }

    #[test]
    fn a_cluster_role_binding_grants_its_verbs_in_every_namespace_and_no_others() {
        let (rbac, me) = (rbac(), Identity::service_account("gatehouse", "gatehouse"));
        assert!(rbac.allows(&me, &request("list", "apps", "deployments", Some("team"))));
        assert!(rbac.allows(&me, &request("patch", "apps", "deployments", None)));
        assert!(!rbac.allows(&me, &request("watch", "apps", "deployments", Some("team"))), "watch is a verb of its own");
        assert!(!rbac.allows(&me, &request("get", "", "deployments", Some("team"))), "the API group must match");
        let other = Identity::service_account("team", "gatehouse");
        assert!(!rbac.allows(&other, &request("list", "apps", "deployments", Some("team"))), "a ServiceAccount is namespaced");
    }

    #[test]
    fn a_role_binding_grants_only_inside_its_namespace() {
        let (rbac, me) = (rbac(), Identity::service_account("gatehouse", "gatehouse"));
        assert!(rbac.allows(&me, &request("update", "coordination.k8s.io", "leases", Some("gatehouse"))));
        assert!(!rbac.allows(&me, &request("update", "coordination.k8s.io", "leases", Some("default"))));
        assert!(!rbac.allows(&me, &request("update", "coordination.k8s.io", "leases", None)));
    }

    #[test]
    fn subresources_and_resource_names_narrow_a_rule() {
        let (rbac, me) = (rbac(), Identity::service_account("gatehouse", "gatehouse"));
        let status = Attributes { subresource: Some("status"), ..request("get", "", "services", Some("team")) };
        assert!(rbac.allows(&me, &status), "*/status covers every resource's status");
        assert!(!rbac.allows(&me, &request("get", "", "services", Some("team"))), "but not the resource itself");
        let named = |name| Attributes { name, ..request("get", "", "configmaps", Some("team")) };
        assert!(rbac.allows(&me, &named(Some("settings"))));
        assert!(!rbac.allows(&me, &named(Some("other"))));
        assert!(!rbac.allows(&me, &named(None)), "a rule with resourceNames never covers a whole collection");
    }

    #[test]
    fn the_forbidden_message_is_the_api_servers() {
        let me = Identity::service_account("gatehouse", "gatehouse");
        let watch = Attributes { name: Some("api"), ..request("watch", "apps", "deployments", Some("cd-service-dev")) };
        assert_eq!(
            forbidden_message(&me.user, &watch),
            "deployments.apps \"api\" is forbidden: User \"system:serviceaccount:gatehouse:gatehouse\" cannot watch resource \"deployments\" in API group \"apps\" in the namespace \"cd-service-dev\""
        );
        assert_eq!(
            forbidden_message(&me.user, &request("list", "", "nodes", None)),
            "nodes is forbidden: User \"system:serviceaccount:gatehouse:gatehouse\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
        );
    }
}
