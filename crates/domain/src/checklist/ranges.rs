//! Ranges: one sweep over every range of the plan (pod ranges, node subnets, pools, peers).
use super::*;

// =============================================================================================
// Ranges: one sweep over every range of the plan

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeKind {
    NodeSubnet,
    PodCidr,
    ServiceCidr,
    PoolBlock,
}

#[derive(Clone, Copy)]
pub(super) struct RangeOwner<'a> {
    pub(super) kind: RangeKind,
    pub(super) env: &'a EnvironmentName,
    pub(super) pool: Option<&'a VipPool>,
    pub(super) cidr: Option<&'a Cidr>,
    pub(super) block: Option<&'a PoolBlock>,
}

impl RangeOwner<'_> {
    pub(super) fn describe(&self) -> String {
        match (self.kind, self.pool, self.block, self.cidr) {
            (RangeKind::PoolBlock, Some(pool), Some(block), _) => {
                format!("block {block} of pool {} ({})", pool.name, pool.environment)
            }
            (RangeKind::NodeSubnet, _, _, Some(c)) => format!("node subnet {c} of {}", self.env),
            (RangeKind::PodCidr, _, _, Some(c)) => format!("pod CIDR {c} of {}", self.env),
            (RangeKind::ServiceCidr, _, _, Some(c)) => format!("service CIDR {c} of {}", self.env),
            _ => format!("a range of {}", self.env),
        }
    }

    pub(super) fn object(&self) -> String {
        match self.pool {
            Some(pool) => pool_obj(pool),
            None => env_obj(self.env),
        }
    }
}

/// Every range of the plan as a sweep span: node subnets, pod and service CIDRs, pool blocks.
pub(super) fn plan_spans(plan: &Plan) -> Vec<Span<RangeOwner<'_>>> {
    let blocks: usize = plan.pools.iter().map(|p| p.blocks.len()).sum();
    let mut spans: Vec<Span<RangeOwner<'_>>> = Vec::with_capacity(blocks + plan.environments.len() * 4);
    for env in &plan.environments {
        let owner = |kind, cidr| RangeOwner { kind, env: &env.name, pool: None, cidr: Some(cidr), block: None };
        spans.extend(env.node_subnets.iter().map(|c| c.span(owner(RangeKind::NodeSubnet, c))));
        spans.extend(env.pod_cidrs.iter().map(|c| c.span(owner(RangeKind::PodCidr, c))));
        spans.push(env.service_cidr.span(owner(RangeKind::ServiceCidr, &env.service_cidr)));
    }
    for pool in &plan.pools {
        for block in &pool.blocks {
            let owner = RangeOwner {
                kind: RangeKind::PoolBlock,
                env: &pool.environment,
                pool: Some(pool),
                cidr: None,
                block: Some(block),
            };
            spans.push(block.span(owner));
        }
    }
    spans
}

pub(super) fn check_ranges(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let spans = plan_spans(ctx.plan);
    for (i, j) in overlapping_pairs(&spans) {
        let (a, b) = (&spans[i].owner, &spans[j].owner);
        let same_env = a.env == b.env;
        let rule = match (a.kind, b.kind) {
            // Environments may share the node network.
            (RangeKind::NodeSubnet, RangeKind::NodeSubnet) if !same_env => continue,
            // A pool on its own environment's node network: the ARP and BGP rules judge it.
            (RangeKind::NodeSubnet, RangeKind::PoolBlock) if pool_env_has_subnet(ctx, b, a) => continue,
            (RangeKind::PoolBlock, RangeKind::NodeSubnet) if pool_env_has_subnet(ctx, a, b) => continue,
            (RangeKind::PodCidr, RangeKind::PodCidr) if !same_env => &rule::POD_CIDR_DISTINCT,
            (RangeKind::PoolBlock, RangeKind::PoolBlock) if !same_env => &rule::VIP_DISTINCT,
            _ => &rule::RANGE_OVERLAP,
        };
        let (what_a, what_b) = (a.describe(), b.describe());
        let hint = match rule.id {
            "GH-POD-CIDR-DISTINCT" => format!(
                "give {} and {} pod CIDRs that do not overlap, e.g. 10.10.0.0/16 and 10.20.0.0/16",
                a.env, b.env
            ),
            "GH-VIP-DISTINCT" => {
                format!("give {} and {} VIP ranges of their own; shrink or move one of the pools", a.env, b.env)
            }
            _ => "move or shrink one of the two ranges so that no address is in both".to_owned(),
        };
        let mut f = finding(
            rule,
            format!("{what_a} overlaps {what_b}"),
            hint,
            vec![a.object(), b.object(), env_obj(a.env), env_obj(b.env)],
        );
        if rule.id == rule::RANGE_OVERLAP.id {
            let kinds = [a.kind, b.kind];
            f.diagram = Cow::Borrowed(if kinds.contains(&RangeKind::PoolBlock) {
                "cilium/vip-pool"
            } else if kinds.contains(&RangeKind::PodCidr) || kinds.contains(&RangeKind::ServiceCidr) {
                "cilium/pods"
            } else {
                "cilium/l2-segment"
            });
        }
        out.push(f);
    }
}

/// Whether the pool block's environment has `subnet` (a node subnet, possibly of another
/// environment) among its own node subnets.
pub(super) fn pool_env_has_subnet(ctx: &Ctx<'_>, block: &RangeOwner<'_>, subnet: &RangeOwner<'_>) -> bool {
    block.env == subnet.env
        || match (ctx.environment(block.env), subnet.cidr) {
            (Some(env), Some(cidr)) => env.node_subnets.contains(cidr),
            _ => false,
        }
}
