//! VIPs: duplicates and allocations outside their pools.
use super::*;

// =============================================================================================
// VIPs: duplicates and allocations outside their pools

/// Who holds or asks for a VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Claimant<'a> {
    Application(&'a K8sName),
    Owner(&'a str),
}

pub(super) struct Claim<'a> {
    pub(super) address: IpAddr,
    pub(super) claimant: Claimant<'a>,
    pub(super) env: &'a EnvironmentName,
    pub(super) pool: Option<&'a VipPool>,
    pub(super) allocation: bool,
}

pub(super) fn check_vips(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mut claims: Vec<Claim<'_>> = Vec::with_capacity(ctx.plan.allocations.len() + ctx.plan.applications.len());
    for app in &ctx.plan.applications {
        for (env, e) in &app.environments {
            if let VipRequest::Address(address) = e.vip {
                claims.push(Claim {
                    address,
                    claimant: Claimant::Application(&app.name),
                    env,
                    pool: None,
                    allocation: false,
                });
            }
        }
    }
    for alloc in &ctx.plan.allocations {
        let pool = ctx.pools_by_id.get(&alloc.pool_id).copied();
        let claimant = alloc.application.as_ref().map_or(Claimant::Owner(&alloc.owner), Claimant::Application);
        claims.push(Claim { address: alloc.address, claimant, env: &alloc.environment, pool, allocation: true });

        let objects = || {
            let mut objects = vec![vip_obj(alloc.address)];
            objects.extend(pool.map(pool_obj));
            objects.extend(alloc.application.as_ref().map(app_obj));
            objects.push(env_obj(&alloc.environment));
            objects
        };
        let info = ctx.info(&alloc.environment);
        if info.and_then(|i| i.env).is_none() {
            out.push(finding(
                &rule::ENV_UNKNOWN,
                format!(
                    "VIP {} is allocated in environment {}, which is not defined",
                    alloc.address, alloc.environment
                ),
                "release the allocation".to_owned(),
                objects(),
            ));
        }
        let outside = match pool {
            Some(pool) if pool.environment == alloc.environment => (!pool.contains(&alloc.address))
                .then(|| format!("outside its pool {} ({})", pool.name, join(&pool.blocks))),
            _ => (!info.is_some_and(|i| i.index.contains(alloc.address)))
                .then(|| format!("in none of the pools of {}", alloc.environment)),
        };
        if let Some(where_) = outside {
            out.push(finding(
                &rule::VIP_OUTSIDE_POOL,
                format!(
                    "VIP {} (allocated to {}) is {where_}",
                    alloc.address,
                    alloc.application.as_ref().map_or(alloc.owner.as_str(), K8sName::as_str)
                ),
                "release it and allocate an address from the environment's pool".to_owned(),
                objects(),
            ));
        }
    }

    // Claims of one address sit together after sorting.
    claims.sort_by_key(|c| c.address);
    for run in claims.chunk_by(|a, b| a.address == b.address).filter(|run| run.len() > 1) {
        let allocations = run.iter().filter(|c| c.allocation).count();
        let claimants: BTreeSet<Claimant<'_>> = run.iter().map(|c| c.claimant).collect();
        if claimants.len() < 2 && allocations < 2 {
            continue;
        }
        let address = run[0].address;
        let owners = join(claimants.iter().map(|c| match c {
            Claimant::Application(name) => name.as_str(),
            Claimant::Owner(owner) => owner,
        }));
        let mut objects = vec![vip_obj(address)];
        objects.extend(claimants.iter().filter_map(|c| match c {
            Claimant::Application(name) => Some(app_obj(name)),
            Claimant::Owner(_) => None,
        }));
        objects.extend(run.iter().filter_map(|c| c.pool).map(pool_obj).collect::<BTreeSet<_>>());
        objects.extend(run.iter().map(|c| env_obj(c.env)).collect::<BTreeSet<_>>());
        out.push(finding(
            &rule::VIP_DUPLICATE,
            format!("VIP {address} is claimed {} times (by {owners})", allocations.max(claimants.len())),
            "keep one owner: release the other allocations or ask for `auto`".to_owned(),
            objects,
        ));
    }
}
