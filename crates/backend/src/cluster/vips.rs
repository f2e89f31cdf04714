//! What Cilium decides about a LoadBalancer Service's VIP, computed from the objects alone:
//! which pool may assign it, and which L2 announcement policies and BGP advertisements
//! select it. The simulated cluster uses it to behave as Cilium does; the VIP status page
//! uses it on objects read from a real cluster, so both say the same.
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use domain::{Cidr, IpAddr, IpRange};

/// The label Cilium's Gateway controller puts on the Service it generates for a Gateway.
pub const OWNING_GATEWAY_LABEL: &str = "io.cilium.gateway/owning-gateway";
/// The prefix of that Service's name.
pub const GENERATED_SERVICE_PREFIX: &str = "cilium-gateway-";
/// Requested addresses for LB-IPAM, comma-separated.
pub const LBIPAM_IPS_ANNOTATION: &str = "lbipam.cilium.io/ips";

/// The name of the Service Cilium generates for a Gateway.
pub fn generated_service_name(gateway: &str) -> String {
    format!("{GENERATED_SERVICE_PREFIX}{gateway}")
}

/// The labels of an object's metadata.
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a `metav1.LabelSelector` (as JSON) selects `labels`. A missing selector selects
/// everything, as in Cilium's pools and policies; an unknown operator selects nothing.
pub fn selects(selector: Option<&Value>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return true;
    };
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_match = match_labels.is_none_or(|wanted| {
        wanted.iter().all(|(key, value)| labels.get(key).map(String::as_str) == value.as_str())
    });
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let expressions_match = expressions.is_none_or(|expressions| {
        expressions.iter().all(|expression| {
            let key = expression.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = expression
                .get("values")
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let present = labels.get(key);
            match expression.get("operator").and_then(Value::as_str) {
                Some("In") => present.is_some_and(|v| values.contains(&v.as_str())),
                Some("NotIn") => present.is_none_or(|v| !values.contains(&v.as_str())),
                Some("Exists") => present.is_some(),
                Some("DoesNotExist") => present.is_none(),
                _ => false,
            }
        })
    });
    labels_match && expressions_match
}

/// The address LB-IPAM assigned to a Service (`status.loadBalancer.ingress[0].ip`).
pub fn assigned_address(service: &Value) -> Option<String> {
    service.pointer("/status/loadBalancer/ingress/0/ip").and_then(Value::as_str).map(str::to_owned)
}

/// The addresses a Service asks LB-IPAM for: the `lbipam.cilium.io/ips` annotation, else
/// `spec.loadBalancerIP`.
pub fn requested_addresses(service: &Value) -> Vec<String> {
    if let Some(ips) = service
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LBIPAM_IPS_ANNOTATION))
        .and_then(Value::as_str)
    {
        return ips.split(',').map(|ip| ip.trim().to_owned()).filter(|ip| !ip.is_empty()).collect();
    }
    service.pointer("/spec/loadBalancerIP").and_then(Value::as_str).map(|ip| vec![ip.to_owned()]).unwrap_or_default()
}

/// The address blocks of a CiliumLoadBalancerIPPool as inclusive spans, skipping blocks
/// that do not parse. With `allowFirstLastIPs: "No"` a CIDR loses its first and last address.
pub fn pool_spans(pool: &Value) -> Vec<(u128, u128, bool)> {
    let allow_first_last = pool.pointer("/spec/allowFirstLastIPs").and_then(Value::as_str) != Some("No");
    let blocks = pool.pointer("/spec/blocks").and_then(Value::as_array).cloned().unwrap_or_default();
    blocks
        .iter()
        .filter_map(|block| {
            if let Some(cidr) = block.get("cidr").and_then(Value::as_str) {
                let cidr = Cidr::parse(cidr).ok()?;
                let (first, last) = (cidr.first_u128(), cidr.last_u128());
                if allow_first_last || last - first < 2 {
                    Some((first, last, cidr.is_ipv4()))
                } else {
                    Some((first + 1, last - 1, cidr.is_ipv4()))
                }
            } else {
                let start = block.get("start").and_then(Value::as_str)?;
                let stop = block.get("stop").and_then(Value::as_str).unwrap_or(start);
                let range = IpRange::from_parts(start, stop).ok()?;
                Some((range.start().to_u128(), range.stop().to_u128(), range.is_ipv4()))
            }
        })
        .collect()
}

/// Whether a pool holds `address`.
pub fn pool_contains(pool: &Value, address: &str) -> bool {
    let Ok(address) = IpAddr::parse(address) else {
        return false;
    };
    let value = address.to_u128();
    pool_spans(pool)
        .iter()
        .any(|&(first, last, ipv4)| ipv4 == address.is_ipv4() && (first..=last).contains(&value))
}

/// Whether a pool may assign addresses to a Service: not disabled, and its
/// `serviceSelector` selects the Service's labels.
pub fn pool_serves(pool: &Value, service_labels: &BTreeMap<String, String>) -> bool {
    pool.pointer("/spec/disabled").and_then(Value::as_bool) != Some(true)
        && selects(pool.pointer("/spec/serviceSelector"), service_labels)
}

/// The policies and advertisements that announce one Service's VIP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Announcement {
    /// CiliumL2AnnouncementPolicies (with `loadBalancerIPs: true`) selecting the Service.
    pub l2_policies: Vec<String>,
    /// CiliumBGPAdvertisements of `LoadBalancerIP`s whose selector selects the Service.
    pub bgp_advertisements: Vec<String>,
}

impl Announcement {
    pub fn is_announced(&self) -> bool {
        !self.l2_policies.is_empty() || !self.bgp_advertisements.is_empty()
    }
}

fn name_of(object: &Value) -> String {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Which of `l2_policies` and `bgp_advertisements` select a Service with these labels.
pub fn announcement(
    service_labels: &BTreeMap<String, String>,
    l2_policies: &[Value],
    bgp_advertisements: &[Value],
) -> Announcement {
    let l2_policies = l2_policies
        .iter()
        .filter(|policy| policy.pointer("/spec/loadBalancerIPs").and_then(Value::as_bool) == Some(true))
        .filter(|policy| selects(policy.pointer("/spec/serviceSelector"), service_labels))
        .map(name_of)
        .collect();
    let bgp_advertisements = bgp_advertisements
        .iter()
        .filter(|advertisement| {
            advertisement.pointer("/spec/advertisements").and_then(Value::as_array).is_some_and(|entries| {
                entries.iter().any(|entry| {
                    entry.get("advertisementType").and_then(Value::as_str) == Some("Service")
                        && entry
                            .pointer("/service/addresses")
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.iter().any(|a| a.as_str() == Some("LoadBalancerIP")))
                        && selects(entry.get("selector"), service_labels)
                })
            })
        })
        .map(name_of)
        .collect();
    Announcement { l2_policies, bgp_advertisements }
}

/// One LoadBalancer Service's VIP, as the VIP status page and `GET /api/v1/vips` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VipStatus {
    /// The cluster it is in.
    pub cluster: String,
    pub namespace: String,
    pub service: String,
    /// The Gateway it was generated for, when Cilium generated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    pub address: Option<String>,
    /// Labels that match the advertisement label of some environment of the plan.
    pub advertisement_labels: Vec<String>,
    pub labelled: bool,
    pub assigned: bool,
    pub announcement: Announcement,
    pub announced: bool,
}

/// Every LoadBalancer Service's VIP in every cluster: labelled with the advertisement label of
/// an environment that goes to that cluster, assigned by LB-IPAM, and selected by an L2
/// announcement policy or a BGP advertisement.
///
/// The clusters are asked at once, and one that cannot be read does not hide the others: its
/// failure is returned beside their VIPs.
pub async fn statuses(
    clusters: &super::Clusters,
    plan: &domain::Plan,
) -> (Vec<VipStatus>, Vec<super::failure::Failure>) {
    let (placed, _) = clusters.placement(plan);
    let answers = futures_util::future::join_all(placed.iter().map(|(cluster, environments)| of_cluster(cluster, environments))).await;
    let mut statuses = Vec::new();
    let mut unreadable = Vec::new();
    for answer in answers {
        match answer {
            Ok(found) => statuses.extend(found),
            Err(failure) => unreadable.push(failure),
        }
    }
    (statuses, unreadable)
}

/// The policies are optional CRDs: a cluster without them announces nothing.
async fn of_cluster(
    cluster: &super::Cluster,
    environments: &[&domain::Environment],
) -> Result<Vec<VipStatus>, super::failure::Failure> {
    let services = super::list_all(cluster, "v1", "Service").await.map_err(|error| {
        super::failure::explain(&error, &format!("cluster {}'s Services and announcement policies", cluster.name))
    })?;
    let l2 = super::list_all(cluster, "cilium.io/v2alpha1", "CiliumL2AnnouncementPolicy").await.unwrap_or_default();
    let bgp = super::list_all(cluster, "cilium.io/v2", "CiliumBGPAdvertisement").await.unwrap_or_default();
    let text = |service: &Value, pointer: &str| service.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(services
        .iter()
        .filter(|s| s.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer"))
        .map(|service| {
            let labels = labels_of(service);
            let advertisement_labels: Vec<String> = environments
                .iter()
                .map(|e| &e.advertisement.label)
                .filter(|l| labels.get(l.key.as_str()).map(String::as_str) == Some(l.value.as_str()))
                .map(ToString::to_string)
                .collect();
            let address = assigned_address(service);
            let announcement = announcement(&labels, &l2, &bgp);
            VipStatus {
                cluster: cluster.name.clone(),
                namespace: text(service, "/metadata/namespace"),
                service: text(service, "/metadata/name"),
                gateway: labels.get(OWNING_GATEWAY_LABEL).cloned(),
                labelled: !advertisement_labels.is_empty(),
                assigned: address.is_some(),
                announced: address.is_some() && announcement.is_announced(),
                advertisement_labels,
                address,
                announcement,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let selector = json!({"matchLabels": {"gatehouse.io/advertise": "dev"},
                              "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]});
        assert!(selects(Some(&selector), &labels(&[("gatehouse.io/advertise", "dev")])));
        assert!(!selects(Some(&selector), &labels(&[("gatehouse.io/advertise", "prod")])));
        assert!(!selects(Some(&selector), &labels(&[("gatehouse.io/advertise", "dev"), ("tier", "db")])));
        assert!(selects(None, &labels(&[])));
        let unknown = json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]});
        assert!(!selects(Some(&unknown), &labels(&[("a", "2")])));
    }

    #[test]
    fn pools_hold_cidrs_and_ranges_and_may_drop_first_and_last() {
        let pool = json!({"spec": {"blocks": [{"cidr": "192.168.101.192/28"}, {"start": "10.0.0.5", "stop": "10.0.0.6"}]}});
        assert!(pool_contains(&pool, "192.168.101.192"));
        assert!(pool_contains(&pool, "10.0.0.6"));
        assert!(!pool_contains(&pool, "10.0.0.7"));
        let strict = json!({"spec": {"allowFirstLastIPs": "No", "blocks": [{"cidr": "192.168.101.192/28"}]}});
        assert!(!pool_contains(&strict, "192.168.101.192"));
        assert!(pool_contains(&strict, "192.168.101.193"));
    }

    #[test]
    fn only_matching_policies_announce() {
        let l2 = json!({"metadata": {"name": "gatehouse-dev"}, "spec": {"loadBalancerIPs": true,
                         "serviceSelector": {"matchLabels": {"gatehouse.io/advertise": "dev"}}}});
        let bgp = json!({"metadata": {"name": "gatehouse-dev"}, "spec": {"advertisements": [{"advertisementType": "Service",
                          "service": {"addresses": ["LoadBalancerIP"]},
                          "selector": {"matchLabels": {"gatehouse.io/advertise": "dev"}}}]}});
        let labelled = labels(&[("gatehouse.io/advertise", "dev")]);
        let found = announcement(&labelled, &[l2.clone()], &[bgp.clone()]);
        assert_eq!(found.l2_policies, ["gatehouse-dev"]);
        assert_eq!(found.bgp_advertisements, ["gatehouse-dev"]);
        assert!(!announcement(&labels(&[]), &[l2], &[bgp]).is_announced());
    }
}
