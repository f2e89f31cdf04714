//! The checklist at scale, and the sort-and-sweep overlap search against the pairwise one.
//!
//! `cargo bench -p app --bench checklist`. Targets: `check_plan` on 100 environments,
//! 100k ranges and 10k applications under 100 ms; the sweep at least 100× faster than the
//! pairwise check at 10k ranges.

use std::time::Duration;

use domain::seed::synthetic_plan;
use domain::{Plan, Span, check_application, check_plan, naive_overlaps, overlapping_pairs};
use criterion::{Criterion, black_box, criterion_group, criterion_main};

const NOW: i64 = 1_780_000_000;

/// Every range of the plan as a span: node subnets, pod and service CIDRs, pool blocks.
fn spans(plan: &Plan) -> Vec<Span<()>> {
    let mut spans = Vec::new();
    for env in &plan.environments {
        spans.extend(env.node_subnets.iter().chain(&env.pod_cidrs).map(|c| c.span(())));
        spans.push(env.service_cidr.span(()));
    }
    for pool in &plan.pools {
        spans.extend(pool.blocks.iter().map(|b| b.span(())));
    }
    spans
}

fn checklist(c: &mut Criterion) {
    let plan = synthetic_plan(100, 100_000, 10_000, NOW);
    let report = check_plan(&plan, NOW);
    assert_eq!(report.errors + report.warnings, 0, "the generated plan is clean");
    println!(
        "plan: {} environments, {} ranges, {} applications",
        plan.environments.len(),
        spans(&plan).len(),
        plan.applications.len()
    );

    let mut group = c.benchmark_group("checklist");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group
        .bench_function("check_plan 100 envs, 100k ranges, 10k apps", |b| b.iter(|| check_plan(black_box(&plan), NOW)));
    group.bench_function("check_application (same plan)", |b| {
        b.iter(|| check_application(black_box(&plan), "app42", NOW))
    });
    group.finish();
}

fn sweep_vs_naive(c: &mut Criterion) {
    let plan = synthetic_plan(10, 10_000, 0, NOW);
    let spans = spans(&plan);
    assert_eq!(overlapping_pairs(&spans), naive_overlaps(&spans));
    println!("overlap search over {} ranges", spans.len());

    let mut group = c.benchmark_group("overlaps 10k ranges");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.bench_function("sweep", |b| b.iter(|| overlapping_pairs(black_box(&spans))));
    group.bench_function("naive pairwise", |b| b.iter(|| naive_overlaps(black_box(&spans))));
    group.finish();
}

criterion_group!(benches, checklist, sweep_vs_naive);
criterion_main!(benches);
