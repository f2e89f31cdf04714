//! The labels and metadata every generated object carries (see the module docs for why).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::Target;
use domain::{Environment, Label};

pub const NAME: &str = "app.kubernetes.io/name";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const ENVIRONMENT: &str = "gatehouse.io/environment";
pub const MANAGER: &str = "gatehouse";

pub type Labels = BTreeMap<String, String>;

/// `managed-by` and `environment`: what every generated object carries.
pub fn environment_labels(env: &Environment) -> Labels {
    Labels::from([
        (MANAGED_BY.to_owned(), MANAGER.to_owned()),
        (ENVIRONMENT.to_owned(), env.name.to_string()),
    ])
}

/// The labels of every object of an application bundle.
pub fn application_labels(target: &Target<'_>) -> Labels {
    let mut labels = environment_labels(target.env);
    labels.insert(NAME.to_owned(), target.app.name.to_string());
    labels.insert(PART_OF.to_owned(), target.app.name.to_string());
    labels
}

/// The labels that select the application's pods; never changes (selectors are immutable).
pub fn pod_selector(target: &Target<'_>) -> Labels {
    Labels::from([(NAME.to_owned(), target.app.name.to_string())])
}

/// The environment's advertisement label as a one-entry map.
pub fn advertisement(env: &Environment) -> Labels {
    label_map(&env.advertisement.label)
}

pub fn label_map(label: &Label) -> Labels {
    Labels::from([(label.key.to_string(), label.value.to_string())])
}

pub fn with_advertisement(mut labels: Labels, env: &Environment) -> Labels {
    labels.extend(advertisement(env));
    labels
}

pub fn match_labels(labels: Labels) -> LabelSelector {
    LabelSelector { match_labels: Some(labels), ..LabelSelector::default() }
}

/// Metadata of a cluster-scoped object.
pub fn cluster_meta(name: impl Into<String>, labels: Labels) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), labels: Some(labels), ..ObjectMeta::default() }
}

/// Metadata of an object in the application's namespace.
pub fn namespaced_meta(target: &Target<'_>, name: impl Into<String>, labels: Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(target.namespace.to_string()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}
