//! Laying out and drawing the diagrams at the largest size the issue names: 50 nodes and
//! 500 pods (ten per node, so grouped).
//!
//! `cargo bench -p app --bench topology`. Target: the Cilium view laid out in under 50 ms.

use std::time::Duration;

use domain::{IpAddr, Plan, seed_plan};
use domain::topology::{Query, View, export, svg};
use criterion::{Criterion, black_box, criterion_group, criterion_main};

const NOW: i64 = 1_780_000_000;

/// The seed plan with prod on 50 nodes and the `api` application at 500 replicas.
fn large_plan() -> Plan {
    let mut plan = seed_plan();
    let prod = plan.environments.iter_mut().find(|e| e.name == "prod").expect("the seed has prod");
    prod.node_subnets = vec!["10.200.0.0/16".parse().expect("a CIDR")];
    prod.node_addresses =
        (0..50).map(|i| IpAddr::parse(&format!("10.200.0.{}", 10 + i)).expect("an address")).collect();
    plan.applications[0].replicas = 500;
    plan
}

fn topology(c: &mut Criterion) {
    let plan = large_plan();
    let query = Query::default();
    let mut group = c.benchmark_group("topology_50_nodes_500_pods");
    group.sample_size(50).measurement_time(Duration::from_secs(5));
    for (name, view) in [("cilium", View::Cilium), ("hardware", View::Hardware), ("compare", View::Compare)] {
        let scene = export(&plan, NOW, &view, &query).expect("the view draws");
        println!("{name}: {} elements, {}×{}", scene.elements.len(), scene.width, scene.height);
        group.bench_function(format!("layout_{name}"), |b| {
            b.iter(|| export(black_box(&plan), NOW, &view, &query).expect("the view draws"))
        });
        group.bench_function(format!("layout_and_svg_{name}"), |b| {
            b.iter(|| svg::render(&export(black_box(&plan), NOW, &view, &query).expect("the view draws")))
        });
    }
    let walk = View::Walk(domain::topology::walk::WalkKind::Bgp);
    group.bench_function("layout_and_svg_walk_bgp", |b| {
        b.iter(|| svg::render(&export(black_box(&plan), NOW, &walk, &query).expect("the walk draws")))
    });
    group.finish();
}

criterion_group!(benches, topology);
criterion_main!(benches);
