//! What went wrong talking to a cluster, said so an operator can act on it: which object,
//! the API server's own message, and what to do.
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// `cluster_unreachable`, `credentials_rejected`, `forbidden`, `field_manager_conflict`,
    /// `object_rejected`, `admission_denied` (a ValidatingAdmissionPolicy), `not_found`, `api_error`.
    pub code: &'static str,
    /// The object (or request) concerned.
    pub object: String,
    /// The API server's message, or the transport's.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} — {}", self.object, self.message, self.hint)
    }
}

/// Explains an error from the kube client about `object`.
pub fn explain(error: &kube::Error, object: &str) -> Failure {
    let failure = |code, message: String, hint: &str| Failure { code, object: object.to_owned(), message, hint: hint.to_owned() };
    match error {
        kube::Error::Api(status) => explain_status(status, object),
        kube::Error::HyperError(_) | kube::Error::Service(_) => failure(
            "cluster_unreachable",
            error_chain(error),
            "Gatehouse cannot reach the API server: check the server address in the kubeconfig, the network and the cluster's health",
        ),
        kube::Error::Discovery(_) => failure(
            "not_found",
            error_chain(error),
            "the cluster does not serve this kind: install the CRDs listed on the Clusters page",
        ),
        other => failure("api_error", error_chain(other), "see the message; the server log has the details"),
    }
}

/// What the API server itself answered (its Status message, word for word), else the
/// failure's own message: the evidence kept beside the explanation.
pub fn answer(error: &kube::Error, failure: &Failure) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        _ => failure.message.clone(),
    }
}

/// Explains a wait that could not watch its object: the API server's refusal when the list
/// or the watch was refused, else what broke the stream.
pub fn explain_wait(error: &kube::runtime::wait::Error, object: &str) -> Failure {
    use kube::runtime::watcher::Error as Watch;
    let kube::runtime::wait::Error::ProbeFailed(watch) = error;
    match watch {
        Watch::InitialListFailed(error) | Watch::WatchStartFailed(error) | Watch::WatchFailed(error) => explain(error, object),
        Watch::WatchError(status) => explain_status(status, object),
        Watch::NoResourceVersion => Failure {
            code: "api_error",
            object: object.to_owned(),
            message: "the API server sent a watch event without a resourceVersion".to_owned(),
            hint: "the API server (or a proxy in front of it) does not serve watches of this kind properly: check it".to_owned(),
        },
    }
}

/// Explains a Kubernetes `Status` failure about `object`.
pub fn explain_status(status: &kube::core::Status, object: &str) -> Failure {
    let failure = |code, message: String, hint: &str| Failure { code, object: object.to_owned(), message, hint: hint.to_owned() };
    let message = if status.message.is_empty() { status.reason.clone() } else { status.message.clone() };
    if let Some(denial) = AdmissionDenial::parse(&message) {
        return Failure { code: "admission_denied", object: object.to_owned(), message: denial.sentence(), hint: denial.hint() };
    }
    match (status.code, status.reason.as_str()) {
        (401, _) => failure(
            "credentials_rejected",
            message,
            "the cluster does not accept Gatehouse's credentials (expired or revoked token or certificate): renew them in the kubeconfig and restart Gatehouse",
        ),
        (403, _) => match Refusal::parse(&message) {
            Some(refusal) => Failure { code: "forbidden", object: object.to_owned(), message: refusal.sentence(), hint: refusal.rule() },
            None => failure(
                "forbidden",
                message,
                "RBAC does not allow this: grant Gatehouse's user or service account the verb on this resource (a Role or ClusterRole and its binding), then submit again",
            ),
        },
        (409, "Conflict") if message.starts_with("Apply failed") => failure(
            "field_manager_conflict",
            message,
            "another field manager owns these fields with different values: change them back with that tool, or remove its ownership (kubectl apply --server-side --force-conflicts --field-manager gatehouse) if Gatehouse should own them",
        ),
        (409, _) => failure("conflict", message, "the object changed while it was written: submit again"),
        (422, _) | (400, "BadRequest") => failure(
            "object_rejected",
            message,
            "the API server refused the object: fix the field it names in the application or environment (or delete the object in the cluster when the field is immutable) and submit again",
        ),
        (404, _) => failure("not_found", message, "the object or its kind does not exist in the cluster: check the capability list on the Clusters page"),
        _ => failure("api_error", message, "the API server refused the request; its message says why"),
    }
}

/// What RBAC refused, read from the API server's 403 message: `… is forbidden: User "u"
/// cannot watch resource "deployments" in API group "apps" in the namespace "team"`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    user: String,
    verb: String,
    resource: String,
    group: String,
    namespace: Option<String>,
}

impl Refusal {
    fn parse(message: &str) -> Option<Refusal> {
        let quoted = |text: &str| -> Option<(String, String)> {
            let rest = text.strip_prefix('"')?;
            let end = rest.find('"')?;
            Some((rest[..end].to_owned(), rest[end + 1..].to_owned()))
        };
        let after_user = &message[message.find("forbidden: User ")? + "forbidden: User ".len()..];
        let (user, rest) = quoted(after_user)?;
        let rest = rest.strip_prefix(" cannot ")?;
        let (verb, rest) = rest.split_once(' ')?;
        let (resource, rest) = quoted(rest.strip_prefix("resource ")?)?;
        let (group, rest) = quoted(rest.strip_prefix(" in API group ")?)?;
        let namespace = match rest.strip_prefix(" in the namespace ") {
            Some(rest) => Some(quoted(rest)?.0),
            None => None,
        };
        Some(Refusal { user, verb: verb.to_owned(), resource, group, namespace })
    }

    fn sentence(&self) -> String {
        let group = if self.group.is_empty() { "the core API group".to_owned() } else { format!("API group {}", self.group) };
        let scope = match &self.namespace {
            Some(namespace) => format!("in namespace {namespace}"),
            None => "at the cluster scope".to_owned(),
        };
        format!("the cluster's RBAC does not let {} {} {} ({group}) {scope}", self.user, self.verb, self.resource)
    }

    fn rule(&self) -> String {
        let role = if self.namespace.is_some() {
            "Gatehouse's ClusterRole (deploy/base/rbac.yaml) or to a Role in that namespace"
        } else {
            "Gatehouse's ClusterRole (deploy/base/rbac.yaml)"
        };
        format!(
            "add the rule {{apiGroups: [\"{}\"], resources: [{}], verbs: [{}]}} to {role}, then try again",
            self.group, self.resource, self.verb
        )
    }
}

/// What a ValidatingAdmissionPolicy refused, read from the API server's message:
/// `services "api" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied
/// request: …` (with the policy's `reason`, 403 or by default 422).
#[derive(Debug, Clone, PartialEq, Eq)]
struct AdmissionDenial {
    policy: String,
    said: String,
}

impl AdmissionDenial {
    fn parse(message: &str) -> Option<AdmissionDenial> {
        let rest = &message[message.find("ValidatingAdmissionPolicy '")? + "ValidatingAdmissionPolicy '".len()..];
        let (policy, rest) = rest.split_once('\'')?;
        let (_, said) = rest.split_once("denied request: ")?;
        Some(AdmissionDenial { policy: policy.to_owned(), said: said.trim().to_owned() })
    }

    fn sentence(&self) -> String {
        format!("the cluster's admission policy {} refused it: {}", self.policy, self.said)
    }

    fn hint(&self) -> String {
        if self.policy.starts_with("gatehouse") {
            "Gatehouse's own policy (deploy/base/admission-policy.yaml) lets it change only objects labelled app.kubernetes.io/managed-by=gatehouse: a cluster admin who wants Gatehouse to take this object over labels it so (kubectl label …), then a network admin adopts it".to_owned()
        } else {
            format!("ask the cluster's admins about policy {}, or change what it refuses", self.policy)
        }
    }
}

/// The error and its sources, joined: transport errors hide the cause (connection refused)
/// a few levels down.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::core::Status {
        serde_json::from_value(serde_json::json!({"status": "Failure", "code": code, "reason": reason, "message": message}))
            .expect("a Status")
    }

    #[test]
    fn a_refusal_by_rbac_says_who_what_where_and_which_rule_to_add() {
        let refused = status(
            403,
            "Forbidden",
            "deployments.apps \"api\" is forbidden: User \"system:serviceaccount:gatehouse:gatehouse\" cannot watch resource \"deployments\" in API group \"apps\" in the namespace \"cd-service-dev\"",
        );
        let failure = explain_status(&refused, "Deployment cd-service-dev/api");
        assert_eq!(failure.code, "forbidden");
        assert_eq!(
            failure.to_string(),
            "Deployment cd-service-dev/api: the cluster's RBAC does not let system:serviceaccount:gatehouse:gatehouse watch deployments (API group apps) in namespace cd-service-dev — add the rule {apiGroups: [\"apps\"], resources: [deployments], verbs: [watch]} to Gatehouse's ClusterRole (deploy/base/rbac.yaml) or to a Role in that namespace, then try again"
        );
        let cluster_scope = status(403, "Forbidden", "nodes is forbidden: User \"u\" cannot list resource \"nodes\" in API group \"\" at the cluster scope");
        let failure = explain_status(&cluster_scope, "the cluster's nodes");
        assert!(failure.message.ends_with("list nodes (the core API group) at the cluster scope"), "{}", failure.message);
        assert!(failure.hint.contains("apiGroups: [\"\"]"), "{}", failure.hint);
    }

    #[test]
    fn a_refusal_in_another_words_keeps_the_api_servers_message() {
        let failure = explain_status(&status(403, "Forbidden", "access denied by the webhook"), "Service a/b");
        assert_eq!(failure.message, "access denied by the webhook");
        assert!(failure.hint.starts_with("RBAC does not allow this"));
    }

    #[test]
    fn an_admission_policys_refusal_names_the_policy_and_what_it_said() {
        let message = "services \"api\" is forbidden: ValidatingAdmissionPolicy 'gatehouse-touches-only-its-own' with binding 'gatehouse-touches-only-its-own' denied request: Gatehouse may change only objects labelled app.kubernetes.io/managed-by=gatehouse";
        for (code, reason) in [(403, "Forbidden"), (422, "Invalid")] {
            let failure = explain_status(&status(code, reason, message), "Service cd-service-dev/api");
            assert_eq!(failure.code, "admission_denied");
            assert_eq!(
                failure.message,
                "the cluster's admission policy gatehouse-touches-only-its-own refused it: Gatehouse may change only objects labelled app.kubernetes.io/managed-by=gatehouse"
            );
            assert!(failure.hint.contains("kubectl label"), "{}", failure.hint);
        }
    }

    #[test]
    fn a_refused_watch_is_explained_like_any_refusal() {
        let refused = status(403, "Forbidden", "gateways.gateway.networking.k8s.io \"api-dev\" is forbidden: User \"u\" cannot watch resource \"gateways\" in API group \"gateway.networking.k8s.io\" in the namespace \"team\"");
        let error = kube::runtime::wait::Error::ProbeFailed(kube::runtime::watcher::Error::WatchStartFailed(kube::Error::Api(Box::new(refused))));
        let failure = explain_wait(&error, "Gateway team/api-dev");
        assert_eq!(failure.code, "forbidden");
        assert!(!failure.to_string().contains("Status {"), "no Debug dump: {failure}");
        assert!(failure.hint.contains("verbs: [watch]"));
    }
}
