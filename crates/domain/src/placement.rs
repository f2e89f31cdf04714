//! Where an environment puts an application: the cluster (by the name Gatehouse's
//! configuration gives it; none means the default cluster) and the namespace, from a template
//! over the application's namespace and the environment's name.
//!
//! Gatehouse names an application's Deployment, Service and ConfigMap after the application,
//! so two environments that put it in one cluster and one namespace would share those objects.
//! Separate clusters (dev and prod often are) or a template like `{namespace}-dev` keep them
//! apart; the checklist's GH-ENV-NAMESPACE says when neither does.
use std::{fmt, str::FromStr};

use super::{
    error::{ErrorCode, serde_via_str},
    names::{EnvironmentName, K8sName, K8sNameError},
};

/// The application's namespace, as its placeholder in a template.
pub const NAMESPACE_PLACEHOLDER: &str = "{namespace}";
/// The environment's name, as its placeholder in a template.
pub const ENVIRONMENT_PLACEHOLDER: &str = "{environment}";

/// A namespace template such as `{namespace}-dev`, `{namespace}-{environment}` or `team-a`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceTemplate(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceTemplateError {
    #[error("`{input}` has `{{` or `}}` outside a placeholder; the placeholders are {{namespace}} and {{environment}}")]
    UnknownPlaceholder { input: String },
    #[error("`{input}` is not a namespace template: `{ch}` is not allowed; use lower-case letters, digits, `-` and the placeholders {{namespace}} and {{environment}}")]
    InvalidChar { input: String, ch: char },
    #[error("`{input}` cannot give a namespace name (tried with `x` for each placeholder): {reason}")]
    Resolves { input: String, reason: String },
}

impl ErrorCode for NamespaceTemplateError {
    fn code(&self) -> &'static str {
        "invalid_namespace_template"
    }
}

impl NamespaceTemplate {
    pub fn parse(input: &str) -> Result<Self, NamespaceTemplateError> {
        let s = input.trim();
        if s.is_empty() {
            return Ok(Self::default());
        }
        let literal = s.replace(NAMESPACE_PLACEHOLDER, "").replace(ENVIRONMENT_PLACEHOLDER, "");
        if literal.contains(['{', '}']) {
            return Err(NamespaceTemplateError::UnknownPlaceholder { input: s.to_owned() });
        }
        if let Some(ch) = literal.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(NamespaceTemplateError::InvalidChar { input: s.to_owned(), ch });
        }
        let template = Self(s.to_owned());
        if let Err(error) = K8sName::parse(&template.fill("x", "x")) {
            return Err(NamespaceTemplateError::Resolves { input: s.to_owned(), reason: error.to_string() });
        }
        Ok(template)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is the plain `{namespace}`: the application's own namespace.
    pub fn is_identity(&self) -> bool {
        self.0 == NAMESPACE_PLACEHOLDER
    }

    fn fill(&self, namespace: &str, environment: &str) -> String {
        self.0.replace(NAMESPACE_PLACEHOLDER, namespace).replace(ENVIRONMENT_PLACEHOLDER, environment)
    }

    /// Whether this template in `environment` gives every application the same namespace as
    /// `other` does in `other_environment` (the same text, placeholders and all once the
    /// environments are filled in).
    pub fn same_for_every_namespace(&self, environment: &EnvironmentName, other: &Self, other_environment: &EnvironmentName) -> bool {
        // The application's namespace stands in as a character no name can hold, so equal
        // fillings mean equal for every namespace.
        self.fill("\u{0}", environment.as_str()) == other.fill("\u{0}", other_environment.as_str())
    }

    /// The namespace an application with `namespace` gets in `environment`; an error when the
    /// result is too long for a namespace name.
    pub fn resolve(&self, namespace: &K8sName, environment: &EnvironmentName) -> Result<K8sName, K8sNameError> {
        K8sName::parse(&self.fill(namespace.as_str(), environment.as_str()))
    }
}

impl Default for NamespaceTemplate {
    fn default() -> Self {
        Self(NAMESPACE_PLACEHOLDER.to_owned())
    }
}

impl FromStr for NamespaceTemplate {
    type Err = NamespaceTemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for NamespaceTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(NamespaceTemplate);

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(template: &str, namespace: &str, environment: &str) -> Result<String, String> {
        let template = NamespaceTemplate::parse(template).map_err(|e| e.to_string())?;
        let (namespace, environment) = (K8sName::parse(namespace).unwrap(), EnvironmentName::parse(environment).unwrap());
        template.resolve(&namespace, &environment).map(|n| n.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn templates_fill_the_namespace_and_the_environment() {
        assert_eq!(resolve("{namespace}", "cd-service", "prod"), Ok("cd-service".to_owned()));
        assert_eq!(resolve("", "cd-service", "prod"), Ok("cd-service".to_owned()));
        assert_eq!(resolve("{namespace}-dev", "cd-service", "dev"), Ok("cd-service-dev".to_owned()));
        assert_eq!(resolve("{environment}-{namespace}", "cd-service", "qa"), Ok("qa-cd-service".to_owned()));
        assert_eq!(resolve("shared-apps", "cd-service", "qa"), Ok("shared-apps".to_owned()));
        assert!(NamespaceTemplate::parse("{namespace}").unwrap().is_identity());
    }

    #[test]
    fn an_environment_names_its_cluster_and_template_or_gets_the_defaults() {
        use crate::{Environment, EnvironmentInput, seed_plan};
        let plan = seed_plan();
        let mut input = EnvironmentInput::from(&plan.environments[1]);
        assert_eq!((input.cluster.as_str(), input.namespace_template.as_str()), ("", ""), "prod: defaults, written as nothing");
        let prod = Environment::parse(input.clone()).unwrap();
        assert_eq!((prod.cluster_name(), prod.namespace_of(&plan.applications[0]).unwrap().as_str()), ("default", "cd-service"));

        input.cluster = "prod-east".to_owned();
        input.namespace_template = "{environment}-{namespace}".to_owned();
        let moved = Environment::parse(input.clone()).unwrap();
        assert_eq!(moved.cluster_name(), "prod-east");
        assert_eq!(moved.namespace_of(&plan.applications[0]).unwrap().as_str(), "prod-cd-service");
        let json = serde_json::to_value(&moved).unwrap();
        assert_eq!((json["cluster"].as_str(), json["namespace_template"].as_str()), (Some("prod-east"), Some("{environment}-{namespace}")));
        assert_eq!(serde_json::from_value::<Environment>(json).unwrap(), moved);

        input.cluster = "Prod East".to_owned();
        input.namespace_template = "{ns}".to_owned();
        let errors = Environment::parse(input).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["cluster", "namespace_template"]);
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let error = |t: &str| NamespaceTemplate::parse(t).unwrap_err().to_string();
        assert!(error("{ns}-dev").contains("placeholders are {namespace} and {environment}"), "{}", error("{ns}-dev"));
        assert!(error("{namespace}_dev").contains("`_` is not allowed"));
        assert!(error("-{namespace}").contains("must start and end with a letter or a digit"));
        let long = format!("{{namespace}}-{}", "x".repeat(60));
        assert!(resolve(&long, "a", "dev").is_ok());
        assert!(resolve(&long, "cd-service", "dev").unwrap_err().contains("limit is 63"));
    }
}
