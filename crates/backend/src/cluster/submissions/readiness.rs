//! What "ready" means for each kind, read from its status.
use super::*;

/// What "ready" means for a kind, read from its status.
#[derive(Debug, Clone, Copy)]
pub(super) enum Readiness {
    DeploymentAvailable,
    GatewayProgrammed,
    RouteAccepted,
    VipAssigned,
}

pub(super) fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object.pointer("/status/conditions").and_then(Value::as_array)?.iter().find(|c| c["type"] == kind)
}

pub(super) fn condition_text(condition: Option<&Value>, kind: &str) -> String {
    match condition {
        Some(c) => format!("{kind} is {} ({}: {})", text(c, "/status"), text(c, "/reason"), text(c, "/message")),
        None => format!("no {kind} condition yet: no controller has reported on it"),
    }
}

impl Readiness {
    pub(super) fn waiting(self) -> &'static str {
        match self {
            Readiness::DeploymentAvailable => "waiting for the Deployment to be Available",
            Readiness::GatewayProgrammed => "waiting for the Gateway to be Programmed with an address",
            Readiness::RouteAccepted => "waiting for the HTTPRoute to be Accepted by its Gateway",
            Readiness::VipAssigned => "waiting for LB-IPAM to assign the VIP",
        }
    }

    pub(super) fn timed_out(self) -> &'static str {
        match self {
            Readiness::DeploymentAvailable => "the Deployment is not Available",
            Readiness::GatewayProgrammed => "the Gateway is not Programmed",
            Readiness::RouteAccepted => "the HTTPRoute is not Accepted",
            Readiness::VipAssigned => "no VIP is assigned",
        }
    }

    /// `None` when ready; otherwise why not, from the object's status.
    pub(super) fn why_not(self, object: &Value) -> Option<String> {
        match self {
            Readiness::DeploymentAvailable => {
                let available = condition(object, "Available");
                let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
                let observed = object.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(0);
                (available.is_none_or(|c| c["status"] != "True") || observed < generation)
                    .then(|| condition_text(available, "Available"))
            }
            Readiness::GatewayProgrammed => {
                let programmed = condition(object, "Programmed");
                let address = object.pointer("/status/addresses/0/value").and_then(Value::as_str);
                (programmed.is_none_or(|c| c["status"] != "True") || address.is_none())
                    .then(|| condition_text(programmed, "Programmed"))
            }
            Readiness::RouteAccepted => {
                let parents = object.pointer("/status/parents").and_then(Value::as_array).cloned().unwrap_or_default();
                let refused: Vec<String> = parents
                    .iter()
                    .filter_map(|parent| {
                        let accepted = condition(&serde_json::json!({"status": parent}), "Accepted").cloned();
                        accepted
                            .as_ref()
                            .is_none_or(|c| c["status"] != "True")
                            .then(|| condition_text(accepted.as_ref(), &format!("Accepted by {}", text(parent, "/parentRef/name"))))
                    })
                    .collect();
                if parents.is_empty() {
                    Some("no Gateway has reported on it yet (status.parents is empty)".to_owned())
                } else if refused.is_empty() {
                    None
                } else {
                    Some(refused.join("; "))
                }
            }
            Readiness::VipAssigned => match vips::assigned_address(object) {
                Some(_) => None,
                None => Some(condition_text(condition(object, "io.cilium/lb-ipam-request-satisfied"), "LB-IPAM request satisfied")),
            },
        }
    }

    pub(super) fn ready(self, object: &Value) -> String {
        match self {
            Readiness::DeploymentAvailable => format!(
                "Available: {} of {} replicas",
                object.pointer("/status/availableReplicas").and_then(Value::as_i64).unwrap_or(0),
                object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
            ),
            Readiness::GatewayProgrammed => format!("Programmed at {}", text(object, "/status/addresses/0/value")),
            Readiness::RouteAccepted => "Accepted by its Gateway".to_owned(),
            Readiness::VipAssigned => {
                let labels: Vec<String> = vips::labels_of(object).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("VIP {} assigned; labels {}", vips::assigned_address(object).unwrap_or_default(), labels.join(", "))
            }
        }
    }
}
