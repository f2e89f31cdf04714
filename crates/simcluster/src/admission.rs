//! ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1) for the simulated cluster,
//! evaluated as the API server's admission plugin does (k8s.io/apiserver, `policy/validating`)
//! for every write — create, update, patch (server-side apply included: `CREATE` when it
//! creates), delete — after authorization and before the object is stored:
//!
//! - a policy applies when one of its `matchConstraints.resourceRules` covers the request
//!   (operation, API group, version, resource — `*` for all, `*/*` for subresources too — and
//!   `resourceNames`) and no `excludeResourceRules` does; then its `matchConditions` must all
//!   be true (one false skips the policy; an error with none false is a failure);
//! - for each binding of the policy, its `variables` are evaluated, then each validation: not
//!   `true` denies, with the validation's `message` (else `failed expression: …`) and `reason`
//!   (else `Invalid`); an error denies under `failurePolicy: Fail` (the default) and is
//!   passed over under `Ignore`;
//! - a denial under a binding whose `validationActions` include `Deny` refuses the request
//!   with the API server's Status: `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy
//!   '<policy>' with binding '<binding>' denied request: <message>`, its code from the reason
//!   (403 Forbidden, 422 Invalid, 401, 413). `Warn` and `Audit` refuse nothing.
//!
//! The CEL is the subset in [`super::cel`]; `object`, `oldObject` (null on create and delete
//! respectively), `request` (operation, userInfo, resource, kind, namespace, name, dryRun) and
//! `namespaceObject` (null for cluster-scoped objects and for Namespaces themselves) are
//! declared. Not simulated, and refused when the policy is loaded rather than ignored:
//! `paramKind`/`paramRef`, namespace and object selectors, a binding's `matchResources`,
//! `messageExpression`, `auditAnnotations` and the `authorizer` variable.
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    cel::{self, Activation, Expr},
    rbac::Identity,
};

const DECLARED: &[&str] = &["object", "oldObject", "request", "namespaceObject", "variables"];

#[derive(Debug, Clone, Default)]
struct ResourceRule {
    groups: Vec<String>,
    versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
    names: Vec<String>,
}

impl ResourceRule {
    fn parse(rule: &Value) -> ResourceRule {
        let strings = |field: &str| -> Vec<String> {
            rule.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        ResourceRule {
            groups: strings("apiGroups"),
            versions: strings("apiVersions"),
            resources: strings("resources"),
            operations: strings("operations"),
            names: strings("resourceNames"),
        }
    }

    /// As the API server's rule matcher: `res/sub`, where `*` matches any resource and
    /// `*` after the slash any subresource; a bare resource matches no subresource.
    fn covers(&self, request: &Request<'_>) -> bool {
        let any = |values: &[String], wanted: &str| values.iter().any(|v| v == "*" || v == wanted);
        let subresource = request.subresource.unwrap_or_default();
        let resource = self.resources.iter().any(|r| {
            let (res, sub) = r.split_once('/').unwrap_or((r, ""));
            (res == "*" || res == request.resource) && (sub == "*" || sub == subresource)
        });
        any(&self.operations, request.operation)
            && any(&self.groups, request.group)
            && any(&self.versions, request.version)
            && resource
            && (self.names.is_empty() || self.names.iter().any(|n| n == request.name))
    }
}

#[derive(Debug, Clone)]
struct Validation {
    source: String,
    expression: Expr,
    message: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Binding {
    name: String,
    deny: bool,
}

#[derive(Debug, Clone)]
struct Policy {
    name: String,
    /// `failurePolicy: Fail` (the default) rather than `Ignore`.
    fail_closed: bool,
    rules: Vec<ResourceRule>,
    excluded: Vec<ResourceRule>,
    match_conditions: Vec<(String, Expr)>,
    variables: Vec<(String, Expr)>,
    validations: Vec<Validation>,
    bindings: Vec<Binding>,
}

/// The cluster's ValidatingAdmissionPolicies and their bindings.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    policies: Vec<Policy>,
}

/// One write, as admission sees it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub operation: &'a str,
    pub group: &'a str,
    pub version: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    pub kind: &'a str,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub user: &'a Identity,
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    /// The Namespace the object is in; `None` for cluster-scoped objects and Namespaces.
    pub namespace_object: Option<&'a Value>,
    pub dry_run: bool,
}

/// A refusal, with the Status fields the API server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// The cause: `ValidatingAdmissionPolicy '…' with binding '…' denied request: …`.
    pub cause: String,
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn reason_of(reason: Option<&str>) -> (u16, &'static str) {
    match reason {
        Some("Forbidden") => (403, "Forbidden"),
        Some("Unauthorized") => (401, "Unauthorized"),
        Some("RequestEntityTooLarge") => (413, "RequestEntityTooLarge"),
        _ => (422, "Invalid"),
    }
}

impl Admission {
    /// Reads the ValidatingAdmissionPolicies and their bindings among `objects` (as `kubectl
    /// kustomize` renders them) and passes over every other kind. A policy using what is not
    /// simulated is an error, naming it.
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Result<Admission, String> {
        let objects: Vec<&Value> = objects
            .into_iter()
            .filter(|object| text(object, "/apiVersion") == Some("admissionregistration.k8s.io/v1"))
            .collect();
        let mut policies = Vec::new();
        for object in objects.iter().filter(|o| text(o, "/kind") == Some("ValidatingAdmissionPolicy")) {
            policies.push(Policy::parse(object)?);
        }
        for object in objects.iter().filter(|o| text(o, "/kind") == Some("ValidatingAdmissionPolicyBinding")) {
            let name = text(object, "/metadata/name").unwrap_or_default().to_owned();
            let spec = object.get("spec").cloned().unwrap_or_default();
            for unsupported in ["paramRef", "matchResources"] {
                if spec.get(unsupported).is_some() {
                    return Err(format!("binding {name}: {unsupported} is not simulated"));
                }
            }
            let actions: Vec<&str> = spec.get("validationActions").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            if actions.is_empty() {
                return Err(format!("binding {name}: validationActions is required"));
            }
            let policy_name = text(&spec, "/policyName").unwrap_or_default();
            let Some(policy) = policies.iter_mut().find(|p| p.name == policy_name) else {
                return Err(format!("binding {name} names policy {policy_name:?}, which is not among the objects"));
            };
            policy.bindings.push(Binding { name, deny: actions.contains(&"Deny") });
        }
        Ok(Admission { policies })
    }

    /// Admits the request, or refuses it as the API server would.
    pub fn review(&self, request: &Request<'_>) -> Result<(), Denial> {
        for policy in &self.policies {
            if let Some(denial) = policy.review(request) {
                return Err(denial);
            }
        }
        Ok(())
    }
}

impl Policy {
    fn parse(object: &Value) -> Result<Policy, String> {
        let name = text(object, "/metadata/name").unwrap_or_default().to_owned();
        let spec = object.get("spec").cloned().unwrap_or_default();
        let refuse = |what: &str| Err(format!("policy {name}: {what} is not simulated"));
        if spec.get("paramKind").is_some() {
            return refuse("paramKind");
        }
        if spec.get("auditAnnotations").is_some() {
            return refuse("auditAnnotations");
        }
        let constraints = spec.get("matchConstraints").cloned().unwrap_or_default();
        for selector in ["namespaceSelector", "objectSelector"] {
            if constraints.get(selector).and_then(Value::as_object).is_some_and(|s| !s.is_empty()) {
                return refuse(selector);
            }
        }
        let rules = |field: &str| -> Vec<ResourceRule> {
            constraints.get(field).and_then(Value::as_array).into_iter().flatten().map(ResourceRule::parse).collect()
        };
        let compile = |source: &str, what: &str| cel::compile(source, DECLARED).map_err(|error| format!("policy {name}, {what}: {error}"));
        let named = |field: &str| -> Result<Vec<(String, Expr)>, String> {
            spec.get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|entry| {
                    let entry_name = text(entry, "/name").unwrap_or_default().to_owned();
                    let expression = compile(text(entry, "/expression").unwrap_or_default(), &format!("{field} {entry_name}"))?;
                    Ok((entry_name, expression))
                })
                .collect()
        };
        let mut validations = Vec::new();
        for (index, validation) in spec.get("validations").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if validation.get("messageExpression").is_some() {
                return refuse("messageExpression");
            }
            let source = text(validation, "/expression").unwrap_or_default().to_owned();
            validations.push(Validation {
                expression: compile(&source, &format!("validations[{index}]"))?,
                source,
                message: text(validation, "/message").map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()),
                reason: text(validation, "/reason").map(str::to_owned),
            });
        }
        Ok(Policy {
            fail_closed: text(&spec, "/failurePolicy") != Some("Ignore"),
            rules: rules("resourceRules"),
            excluded: rules("excludeResourceRules"),
            match_conditions: named("matchConditions")?,
            variables: named("variables")?,
            validations,
            bindings: Vec::new(),
            name,
        })
    }

    fn review(&self, request: &Request<'_>) -> Option<Denial> {
        if !self.rules.iter().any(|rule| rule.covers(request)) || self.excluded.iter().any(|rule| rule.covers(request)) {
            return None;
        }
        let mut activation = Activation { values: activation_values(request), variables: BTreeMap::new() };
        let mut condition_error = None;
        for (name, condition) in &self.match_conditions {
            match condition.evaluate(&activation) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => return None,
                Ok(other) => condition_error = Some(format!("matchCondition {name} did not evaluate to a bool: {other}")),
                Err(error) => condition_error = Some(format!("matchCondition {name}: {error}")),
            }
        }
        for (name, variable) in &self.variables {
            let value = variable.evaluate(&activation);
            activation.variables.insert(name.clone(), value);
        }
        for binding in self.bindings.iter().filter(|binding| binding.deny) {
            let deny = |message: String, reason: Option<&str>| {
                let (code, reason) = reason_of(reason);
                let cause = format!("ValidatingAdmissionPolicy '{}' with binding '{}' denied request: {message}", self.name, binding.name);
                Denial { code, reason, message: forbidden(request, &cause), cause }
            };
            if let Some(error) = &condition_error {
                if self.fail_closed {
                    return Some(deny(error.clone(), None));
                }
                continue;
            }
            for validation in &self.validations {
                match validation.expression.evaluate(&activation) {
                    Ok(Value::Bool(true)) => {}
                    Ok(_) => {
                        let message = validation.message.clone().unwrap_or_else(|| format!("failed expression: {}", validation.source.trim()));
                        return Some(deny(message, validation.reason.as_deref()));
                    }
                    Err(error) if self.fail_closed => {
                        return Some(deny(format!("expression '{}' resulted in error: {error}", validation.source.trim()), None));
                    }
                    Err(_) => {}
                }
            }
        }
        None
    }
}

/// `<resource>[.<group>] "<name>" is forbidden: <cause>` (admission's `NewForbidden`).
fn forbidden(request: &Request<'_>, cause: &str) -> String {
    let resource = if request.group.is_empty() { request.resource.to_owned() } else { format!("{}.{}", request.resource, request.group) };
    if request.name.is_empty() { format!("{resource} is forbidden: {cause}") } else { format!("{resource} \"{}\" is forbidden: {cause}", request.name) }
}

fn activation_values(request: &Request<'_>) -> BTreeMap<String, Value> {
    let request_value = json!({
        "operation": request.operation,
        "userInfo": {"username": request.user.user, "groups": request.user.groups},
        "resource": {"group": request.group, "version": request.version, "resource": request.resource},
        "subResource": request.subresource.unwrap_or_default(),
        "kind": {"group": request.group, "version": request.version, "kind": request.kind},
        "namespace": request.namespace.unwrap_or_default(),
        "name": request.name,
        "dryRun": request.dry_run,
    });
    BTreeMap::from([
        ("object".to_owned(), request.object.cloned().unwrap_or(Value::Null)),
        ("oldObject".to_owned(), request.old_object.cloned().unwrap_or(Value::Null)),
        ("request".to_owned(), request_value),
        ("namespaceObject".to_owned(), request.namespace_object.cloned().unwrap_or(Value::Null)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(validations: Value, failure: &str) -> Vec<Value> {
        vec![
            json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "p"},
                   "spec": {"failurePolicy": failure,
                            "matchConstraints": {"resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"],
                                                                    "operations": ["CREATE", "UPDATE", "DELETE"]}],
                                                 "excludeResourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"],
                                                                           "resources": ["leases"], "operations": ["*"]}]},
                            "matchConditions": [{"name": "me", "expression": "request.userInfo.username == 'me'"}],
                            "variables": [{"name": "labelled", "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels"}],
                            "validations": validations}}),
            json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": "b"},
                   "spec": {"policyName": "p", "validationActions": ["Deny"]}}),
        ]
    }

    fn request<'a>(user: &'a Identity, resource: &'a str, subresource: Option<&'a str>, object: &'a Value) -> Request<'a> {
        Request {
            operation: "CREATE",
            group: "",
            version: "v1",
            resource,
            subresource,
            kind: "ConfigMap",
            namespace: Some("team"),
            name: "c",
            user,
            object: Some(object),
            old_object: None,
            namespace_object: None,
            dry_run: false,
        }
    }

    #[test]
    fn a_failed_validation_is_the_api_servers_refusal() {
        let admission = Admission::from_objects(&policy(
            json!([{"expression": "variables.labelled", "message": "label it", "reason": "Forbidden"}]),
            "Fail",
        ))
        .expect("the policy loads");
        let me = Identity { user: "me".to_owned(), groups: vec![] };
        let bare = json!({"metadata": {"name": "c"}});
        let denial = admission.review(&request(&me, "configmaps", None, &bare)).expect_err("refused");
        assert_eq!((denial.code, denial.reason), (403, "Forbidden"));
        assert_eq!(denial.message, "configmaps \"c\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: label it");
        let labelled = json!({"metadata": {"name": "c", "labels": {"team": "a"}}});
        assert_eq!(admission.review(&request(&me, "configmaps", None, &labelled)), Ok(()));
        let someone = Identity { user: "someone".to_owned(), groups: vec![] };
        assert_eq!(admission.review(&request(&someone, "configmaps", None, &bare)), Ok(()), "the match condition leaves others alone");
        assert_eq!(admission.review(&request(&me, "leases", None, &bare)), Ok(()), "excluded");
        assert_eq!(admission.review(&request(&me, "configmaps", Some("status"), &bare)), Ok(()), "'*' covers no subresource");
    }

    #[test]
    fn an_error_denies_under_fail_and_is_passed_over_under_ignore() {
        let validations = json!([{"expression": "object.metadata.labels['team'] == 'a'"}]);
        let me = Identity { user: "me".to_owned(), groups: vec![] };
        let bare = json!({"metadata": {"name": "c"}});
        let fail = Admission::from_objects(&policy(validations.clone(), "Fail")).expect("loads");
        let denial = fail.review(&request(&me, "configmaps", None, &bare)).expect_err("refused");
        assert_eq!((denial.code, denial.reason), (422, "Invalid"), "the default reason");
        assert!(denial.cause.ends_with("denied request: expression 'object.metadata.labels['team'] == 'a'' resulted in error: no such key: labels"), "{}", denial.cause);
        let ignore = Admission::from_objects(&policy(validations, "Ignore")).expect("loads");
        assert_eq!(ignore.review(&request(&me, "configmaps", None, &bare)), Ok(()));
        let unlabelled = json!({"metadata": {"name": "c", "labels": {}}});
        let message = fail.review(&request(&me, "configmaps", None, &unlabelled)).map_err(|d| d.cause);
        assert!(message.is_err_and(|m| m.ends_with("resulted in error: no such key: team")));
        let wrong = json!({"metadata": {"name": "c", "labels": {"team": "b"}}});
        let message = fail.review(&request(&me, "configmaps", None, &wrong)).map_err(|d| d.cause);
        assert!(message.is_err_and(|m| m.ends_with("denied request: failed expression: object.metadata.labels['team'] == 'a'")));
    }

    #[test]
    fn what_is_not_simulated_is_refused_when_loaded() {
        let mut objects = policy(json!([{"expression": "true", "messageExpression": "'x'"}]), "Fail");
        assert_eq!(Admission::from_objects(&objects).err().as_deref(), Some("policy p: messageExpression is not simulated"));
        objects = policy(json!([{"expression": "size(object) > 0"}]), "Fail");
        assert_eq!(
            Admission::from_objects(&objects).err().as_deref(),
            Some("policy p, validations[0]: the function size() is not simulated")
        );
        objects = policy(json!([{"expression": "true"}]), "Fail");
        objects[1]["spec"]["paramRef"] = json!({"name": "x"});
        assert_eq!(Admission::from_objects(&objects).err().as_deref(), Some("binding b: paramRef is not simulated"));
    }
}
