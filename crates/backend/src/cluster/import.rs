//! Import: the cluster's CiliumLoadBalancerIPPools the plan does not have, and the VIPs
//! LB-IPAM assigned that the plan does not record, taken into the IP plan — previewed first,
//! then written in one transaction through the plan guard, each pool and address audited.
//! The VIP of an application with `vip: auto` becomes its held `auto` VIP, so its next
//! submission keeps it. An address the plan holds for someone else is left out: a VIP with
//! two holders is for a person to settle.
use super::drift::{Drift, compare_clusters};
pub use views::cluster::{Import, ImportedAddress, ImportedPool};
use crate::{
    allocations::{self, AddressState, Holding},
    audit,
    db::{Database, DbError, now_text},
    plan, pools,
};
use domain::{Allocation, Application, EnvironmentName, IpAddr, K8sName, Plan, PoolBlock, VipPool, VipRequest};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Cluster(super::failure::Failure),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The Gatehouse application, and its environment, whose Gateway Cilium generated this
/// Service for.
fn application_of<'a>(plan: &'a Plan, service: &str) -> Option<(&'a Application, &'a EnvironmentName)> {
    let (namespace, name) = service.split_once('/')?;
    let gateway = name.strip_prefix(super::vips::GENERATED_SERVICE_PREFIX)?;
    plan.applications.iter().find_map(|a| {
        a.environments
            .keys()
            .find(|e| format!("{}-{e}", a.name) == gateway && plan.namespace_in(a, e).as_str() == namespace)
            .map(|e| (a, e))
    })
}

/// The row an imported address becomes: an application's `auto` VIP is held as one (so its
/// next submission asks LB-IPAM for this very address), anything else as an allocation to
/// the Service.
fn imported_holding(plan: &Plan, imported: &ImportedAddress, address: IpAddr, pool: &VipPool, since: &str, actor: &str) -> Holding {
    let auto = application_of(plan, &imported.owner).filter(|(application, environment)| {
        **environment == pool.environment
            && application.environments.get(*environment).is_some_and(|target| target.vip == VipRequest::Auto)
    });
    let (owner, reason) = match auto {
        Some((application, environment)) => (
            allocations::auto_vip_owner(plan.namespace_in(application, environment).as_str(), &format!("{}-{environment}", application.name)),
            allocations::AUTO_VIP_REASON,
        ),
        None => (imported.owner.clone(), "imported from the cluster"),
    };
    Holding {
        address,
        pool: pool.id.unwrap_or_default(),
        state: AddressState::Allocated,
        owner: Some(owner),
        application: imported.application.as_deref().and_then(|a| K8sName::parse(a).ok()),
        reason: Some(reason.to_owned()),
        since: since.to_owned(),
        by: actor.to_owned(),
    }
}

/// What the drift's cluster-only pools and addresses become in the plan.
pub fn importable(plan: &Plan, drift: &Drift) -> Import {
    let mut import = Import::default();
    let mut pools: Vec<VipPool> = plan.pools.clone();
    for pool in drift.pools.iter().filter(|p| p.drift == "cluster_only") {
        let Some(environment) = pool.environment.as_deref().and_then(|e| EnvironmentName::parse(e).ok()) else {
            import.left_out.push(format!("pool {}: its serviceSelector selects no environment's advertisement label", pool.name));
            continue;
        };
        let blocks: Result<Vec<PoolBlock>, _> = pool.cluster_blocks.iter().map(|b| PoolBlock::parse(b)).collect();
        match (K8sName::parse(&pool.name), blocks) {
            (Ok(name), Ok(blocks)) => {
                pools.push(VipPool { id: None, environment: environment.clone(), name, blocks });
                import.pools.push(ImportedPool { name: pool.name.clone(), environment: environment.to_string(), blocks: pool.cluster_blocks.clone() });
            }
            _ => import.left_out.push(format!("pool {}: its name or blocks are not ones the plan can hold", pool.name)),
        }
    }
    for address in drift.addresses.iter().filter(|a| a.drift == "cluster_only") {
        let owner = address.service.clone().unwrap_or_default();
        // A Gateway whose application the plan gives another address moves there when it is
        // submitted again; its present address is not the application's to keep.
        if let Some(planned) = drift.addresses.iter().find(|a| a.drift == "different" && a.service.as_deref() == Some(owner.as_str())) {
            import.left_out.push(format!(
                "{} of {owner}: the plan gives its application {} instead; submit the application again so LB-IPAM moves it there",
                address.address, planned.address
            ));
            continue;
        }
        let holder = IpAddr::parse(&address.address).ok().and_then(|ip| pools.iter().find(|p| p.contains(&ip)));
        match holder {
            Some(pool) => import.addresses.push(ImportedAddress {
                address: address.address.clone(),
                pool: pool.name.to_string(),
                environment: pool.environment.to_string(),
                application: application_of(plan, &owner).map(|(application, _)| application.name.to_string()),
                owner,
            }),
            None => import.left_out.push(format!("{} of {owner}: in none of the plan's pools", address.address)),
        }
    }
    for address in drift.addresses.iter().filter(|a| a.drift == "conflict") {
        import.left_out.push(format!(
            "{} of {}: the plan holds it for {}; two holders of one VIP are resolved by hand, not by an import",
            address.address,
            address.service.as_deref().unwrap_or_default(),
            address.plan_owner.as_deref().unwrap_or_default()
        ));
    }
    import
}

/// What an import would add now.
pub async fn preview(clusters: &super::Clusters, plan: &Plan) -> Result<Import, super::failure::Failure> {
    let drift = super::drift::drift(clusters, plan).await?;
    Ok(Import { unreadable: drift.unreadable.clone(), ..importable(plan, &drift) })
}

/// Reads the clusters, then adds their pools and addresses to the plan in one transaction:
/// the plan guard refuses the whole import if it would add an error-level finding.
pub async fn apply(db: &Database, clusters: &super::Clusters, caller: &crate::auth::Principal) -> Result<Import, ImportError> {
    caller.require(domain::access::Role::NetworkAdmin, "import from the cluster").map_err(DbError::from)?;
    let actor = &caller.actor();
    let (reads, unreadable) = super::drift::answered(super::drift::read(clusters, &*plan::load_from(db).await?).await)
        .map_err(ImportError::Cluster)?;

    let mut tx = db.pool().begin().await.map_err(DbError::from)?;
    let before = plan::lock_and_load(&mut tx, db).await?;
    // Compared with the plan as it is under the lock.
    let import = Import { unreadable, ..importable(&before, &compare_clusters(&before, &reads)) };
    if import.is_empty() {
        return Ok(import);
    }
    let mut after = Plan::clone(&before);
    // `importable` parsed every name and block already.
    for pool in &import.pools {
        let (Ok(environment), Ok(name)) = (EnvironmentName::parse(&pool.environment), K8sName::parse(&pool.name)) else { continue };
        let blocks = pool.blocks.iter().filter_map(|b| PoolBlock::parse(b).ok()).collect();
        after.pools.push(pools::insert(&mut tx, actor, &VipPool { id: None, environment, name, blocks }).await?);
    }
    let since = now_text();
    let mut holdings = Vec::with_capacity(import.addresses.len());
    for imported in &import.addresses {
        let (Ok(address), Some(pool)) = (IpAddr::parse(&imported.address), after.pools.iter().find(|p| p.name.as_str() == imported.pool)) else {
            continue;
        };
        let holding = imported_holding(&before, imported, address, pool, &since, actor);
        after.allocations.push(Allocation {
            address,
            pool_id: holding.pool,
            environment: pool.environment.clone(),
            owner: holding.owner.clone().unwrap_or_default(),
            application: holding.application.clone(),
        });
        holdings.push(holding);
    }
    plan::refuse_new_errors(&before, &after, plan::now_unix())?;
    allocations::insert_holdings(&mut tx, &holdings).await?;
    allocations::record_taken(&mut tx, &holdings).await?;
    let summary = serde_json::to_value(&import).unwrap_or(serde_json::Value::Null);
    audit::record(&mut tx, actor, "plan.import", "cluster", None, Some(&summary)).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(import)
}

#[cfg(test)]
mod tests {
    use super::*;
    use views::cluster::{AddressDrift, PoolDrift};
use domain::seed_plan;

    #[test]
    fn cluster_only_pools_and_their_addresses_are_importable() {
        let plan = seed_plan();
        let drift = Drift {
            pools: vec![
                PoolDrift { name: "legacy".into(), drift: "cluster_only".into(), environment: Some("prod".into()), plan_blocks: vec![], cluster_blocks: vec!["192.168.101.160/29".into()], message: String::new() },
                PoolDrift { name: "stray".into(), drift: "cluster_only".into(), environment: None, plan_blocks: vec![], cluster_blocks: vec!["10.0.0.0/29".into()], message: String::new() },
                PoolDrift { name: "prod-vips".into(), drift: "plan_only".into(), environment: Some("prod".into()), plan_blocks: vec![], cluster_blocks: vec![], message: String::new() },
            ],
            addresses: vec![
                AddressDrift { address: "192.168.101.160".into(), drift: "cluster_only".into(), service: Some("default/old".into()), plan_owner: None, plan_application: None, plan_environment: None, plan_service: None, message: String::new() },
                AddressDrift { address: "192.168.101.193".into(), drift: "cluster_only".into(), service: Some("cd-service-dev/cilium-gateway-api-dev".into()), plan_owner: None, plan_application: None, plan_environment: None, plan_service: None, message: String::new() },
                AddressDrift { address: "10.9.9.9".into(), drift: "cluster_only".into(), service: Some("default/far".into()), plan_owner: None, plan_application: None, plan_environment: None, plan_service: None, message: String::new() },
            ],
            unreadable: Vec::new(),
        };
        let import = importable(&plan, &drift);
        assert_eq!(import.pools, [ImportedPool { name: "legacy".into(), environment: "prod".into(), blocks: vec!["192.168.101.160/29".into()] }]);
        let addresses: Vec<(&str, &str, Option<&str>)> =
            import.addresses.iter().map(|a| (a.address.as_str(), a.pool.as_str(), a.application.as_deref())).collect();
        assert_eq!(addresses, [("192.168.101.160", "legacy", None), ("192.168.101.193", "dev-vips", Some("api"))]);
        assert_eq!(import.left_out.len(), 2, "{:?}", import.left_out);
    }
}
