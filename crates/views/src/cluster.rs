//! What the portal says about the cluster beside the plan: drift and imports.
use serde::{Deserialize, Serialize};

/// One pool, by name, that differs between the plan and the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolDrift {
    pub name: String,
    /// `cluster_only`, `plan_only` or `different`.
    pub drift: String,
    /// The plan's environment, or for a pool only the cluster has, the environment whose
    /// advertisement label its `serviceSelector` selects.
    pub environment: Option<String>,
    pub plan_blocks: Vec<String>,
    pub cluster_blocks: Vec<String>,
    pub message: String,
}

/// One VIP that differs between the plan and the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressDrift {
    pub address: String,
    /// `cluster_only` (the plan does not hold it), `conflict` (the plan holds it for someone
    /// other than the Service the cluster assigned it to), `plan_only` or `different` (an
    /// application's Gateway's Service has another address than the plan's).
    pub drift: String,
    /// `namespace/name` of the LoadBalancer Service holding it in the cluster: the cluster's
    /// holder.
    pub service: Option<String>,
    /// Who holds or asks for it in the plan: `application/api in prod`, or an allocation's owner.
    pub plan_owner: Option<String>,
    /// The application the plan holds it for, when it is one.
    #[serde(default)]
    pub plan_application: Option<String>,
    /// The environment of the plan's holder.
    #[serde(default)]
    pub plan_environment: Option<String>,
    /// `namespace/name` of the Service that should hold it by the plan (the plan's holder's
    /// Gateway's generated Service, or the Service an imported allocation came from); none
    /// when the plan holds it for an owner that is not a Service.
    #[serde(default)]
    pub plan_service: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub pools: Vec<PoolDrift>,
    pub addresses: Vec<AddressDrift>,
    /// Each cluster that could not be read, in a sentence: the drift above is the other
    /// clusters'.
    #[serde(default)]
    pub unreadable: Vec<String>,
}

/// A CiliumLoadBalancerIPPool of the cluster that an import adds to the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedPool {
    pub name: String,
    pub environment: String,
    pub blocks: Vec<String>,
}

/// A VIP LB-IPAM assigned that an import records as an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedAddress {
    pub address: String,
    pub pool: String,
    pub environment: String,
    /// The Service holding it, `namespace/name`: the allocation's owner.
    pub owner: String,
    /// The Gatehouse application whose Gateway's Service it is.
    pub application: Option<String>,
}

/// What an import adds to the plan (previewed, then applied in one transaction), and what it
/// leaves out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    pub pools: Vec<ImportedPool>,
    pub addresses: Vec<ImportedAddress>,
    pub left_out: Vec<String>,
    /// Each cluster that could not be read, in a sentence: nothing of it is imported.
    #[serde(default)]
    pub unreadable: Vec<String>,
}

impl Import {
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty() && self.addresses.is_empty()
    }
}
