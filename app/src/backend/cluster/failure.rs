//! What went wrong talking to a cluster, said so an operator can act on it: which object,
//! the API server's own message, and what to do.
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// `cluster_unreachable`, `credentials_rejected`, `forbidden`, `field_manager_conflict`,
    /// `object_rejected`, `not_found`, `api_error`.
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
        kube::Error::Api(status) => {
            let message = if status.message.is_empty() { status.reason.clone() } else { status.message.clone() };
            match (status.code, status.reason.as_str()) {
                (401, _) => failure(
                    "credentials_rejected",
                    message,
                    "the cluster does not accept Gatehouse's credentials (expired or revoked token or certificate): renew them in the kubeconfig and restart Gatehouse",
                ),
                (403, _) => failure(
                    "forbidden",
                    message,
                    "RBAC does not allow this: grant Gatehouse's user or service account the verb on this resource (a Role or ClusterRole and its binding), then submit again",
                ),
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
