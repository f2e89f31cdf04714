//! Environments: advertisement, ARP and BGP.
use super::*;

// =============================================================================================
// Environments: advertisement, ARP and BGP

pub(super) fn check_environment(ctx: &Ctx<'_>, env: &Environment, out: &mut Vec<Finding>) {
    let adv = &env.advertisement;
    let mode = adv.mode;
    if adv.label.value.is_empty() {
        let mut f = finding(
            &rule::ADVERT_LABEL,
            format!(
                "the advertisement label {} of {} has an empty value, so it cannot tell the environment's Services apart",
                adv.label.key, env.name
            ),
            format!("set the label value, e.g. {}={}", adv.label.key, env.name),
            vec![env_obj(&env.name)],
        );
        if !mode.uses_bgp() {
            f.diagram = Cow::Borrowed("cilium/l2-segment");
        }
        out.push(f);
    }
    if mode.uses_bgp() && adv.bgp.as_ref().is_none_or(|b| b.peers.is_empty()) {
        out.push(finding(
            &rule::BGP_PEER,
            format!("{} advertises its VIPs by BGP but has no BGP peer", env.name),
            "add the router as a peer (name, AS number, address), e.g. frr, 65000, 192.168.101.1".to_owned(),
            vec![env_obj(&env.name)],
        ));
    }

    if mode.uses_bgp() {
        for peer in adv.bgp.iter().flat_map(|b| &b.peers).filter(|p| p.router_id().is_none()) {
            out.push(finding(
                &rule::BGP_ROUTER_ID,
                format!(
                    "BGP peer {} of {} is reached only over IPv6 ({}) and has no router id: FRR would identify it as 0.0.0.0 and the nodes refuse the session (\"Bad BGP Identifier\")",
                    peer.name, env.name, peer.address
                ),
                format!("give peer {} a router id, one of its IPv4 addresses or any address unique among the BGP speakers, e.g. router_id 10.255.0.1", peer.name),
                vec![env_obj(&env.name)],
            ));
        }
        for peer in adv.bgp.iter().flat_map(|b| &b.peers).filter(|p| p.platform == Platform::Vm) {
            out.push(finding(
                &rule::BGP_PEER_VM,
                format!(
                    "BGP peer {} ({}) of {} runs on a virtual machine: it may not forward clients' traffic into the cluster, although traffic from the router itself reaches the VIPs",
                    peer.name, peer.address, env.name
                ),
                "peer with a hardware router, or prove forwarding from a client network (not from the router) before relying on it".to_owned(),
                vec![env_obj(&env.name)],
            ));
        }
    }

    for pool in ctx.pools(&env.name) {
        for block in &pool.blocks {
            let objects = || vec![pool_obj(pool), env_obj(&env.name)];
            let family = block.family();
            if family == IpFamily::Ipv6 {
                if mode == AdvertisementMode::Arp {
                    out.push(finding(
                        &rule::ARP_IPV6,
                        format!(
                            "pool {} of {} has the IPv6 block {block}, but {} announces VIPs by ARP only",
                            pool.name, env.name, env.name
                        ),
                        "announce IPv6 VIPs by BGP (mode bgp or both), or remove the IPv6 block".to_owned(),
                        objects(),
                    ));
                }
                // The ARP rules below are about IPv4; IPv6 in mode `both` goes by BGP.
                if mode.uses_arp() {
                    continue;
                }
            }
            if mode.uses_arp() {
                check_arp_block(env, pool, block, out);
            }
            if mode == AdvertisementMode::Bgp {
                let inside: Vec<&Cidr> = env
                    .node_subnets
                    .iter()
                    .filter(|s| {
                        s.family() == family
                            && s.first_u128() <= block.last_u128()
                            && block.first_u128() <= s.last_u128()
                    })
                    .collect();
                if !inside.is_empty() {
                    out.push(finding(
                        &rule::BGP_VIP_OUTSIDE_SUBNET,
                        format!(
                            "block {block} of pool {} lies in the node subnet {} of {}, which announces VIPs by BGP",
                            pool.name,
                            join(inside),
                            env.name
                        ),
                        "give BGP VIPs a range outside the node subnets, e.g. 172.16.100.0/24".to_owned(),
                        objects(),
                    ));
                }
            }
        }
    }
}

pub(super) fn check_arp_block(env: &Environment, pool: &VipPool, block: &PoolBlock, out: &mut Vec<Finding>) {
    let (first, last) = (block.first_u128(), block.last_u128());
    let family = block.family();
    let objects = || vec![pool_obj(pool), env_obj(&env.name)];
    let subnet = env.node_subnets.iter().find(|s| s.contains_span(family, first, last));
    match subnet {
        None => out.push(finding(
            &rule::ARP_VIP_IN_SUBNET,
            format!(
                "block {block} of pool {} is not inside a node subnet of {} ({}), so no client ever asks ARP for it",
                pool.name,
                env.name,
                join(&env.node_subnets)
            ),
            "move the block into the node subnet, clear of the nodes' addresses".to_owned(),
            objects(),
        )),
        Some(subnet) => {
            let mut clashes: Vec<String> = Vec::new();
            for node in &env.node_addresses {
                if block.contains(node) {
                    clashes.push(format!("node {node}"));
                }
            }
            for router in env.routers.iter().filter(|r| block.contains(&r.address)) {
                clashes.push(format!("router {} {}", router.name, router.address));
            }
            // Only IPv4 has network and broadcast addresses (and /31, /32 use both as hosts).
            if subnet.is_ipv4() && subnet.prefix_len() < 31 {
                if block.contains(&subnet.network()) {
                    clashes.push(format!("network address {}", subnet.network()));
                }
                if block.contains(&subnet.broadcast()) {
                    clashes.push(format!("broadcast address {}", subnet.broadcast()));
                }
            }
            if !clashes.is_empty() {
                out.push(finding(
                    &rule::ARP_VIP_NODE_CLASH,
                    format!("block {block} of pool {} contains the {} of {subnet}", pool.name, clashes.join(", ")),
                    "shrink or move the block so that it holds only free host addresses of the subnet".to_owned(),
                    objects(),
                ));
            }
        }
    }
}
