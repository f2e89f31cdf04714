//! The portal's pages.
use leptos::prelude::*;
use leptos_router::components::A;

use super::layout::{DataTable, EmptyState, PageHeader};
use crate::{
    api::{AppError, ChecklistSummary, checklist_overview, list_environments},
    domain::{AdvertisementMode, Finding, Severity, rules},
};

/// Sets the HTTP status of the page being rendered on the server; nothing in the browser.
pub(crate) fn set_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(code)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(status),
    ) {
        response.set_status(code);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let environments = Resource::new_blocking(|| (), |_| list_environments());
    view! {
        <PageHeader
            title="Overview"
            lead="Gatehouse is the checklist, the IP plan and the submit button for running load balancing and TLS termination on Kubernetes with Cilium."
        />
        <section class="prose" aria-labelledby="what-title">
            <h2 id="what-title">"What Gatehouse does"</h2>
            <p>
                "A hardware load balancer used to hold a service's virtual IP, its TLS key pair and its health checks, and a team of people split the work of turning it up. With Cilium the same job is done in software: a Deployment's pods sit behind a Service whose virtual IP comes from a "
                <code>"CiliumLoadBalancerIPPool"</code>
                ", an HTTPRoute steers hostnames and paths, and a Gateway terminates TLS on a second VIP. The VIPs reach the outside world by ARP (L2 announcements) or by BGP host routes to a router such as FRR."
            </p>
            <p>
                "That puts every task on one Kubernetes admin, and it goes wrong unless it is worked from a formal checklist. Gatehouse keeps the plan — node subnets, pod CIDRs and VIP pools per environment, certificates, hostnames — checks it against that checklist as you type, draws it beside the hardware design it replaces, and submits validated bundles to the cluster with the advertisement labels applied, including on the Service Cilium generates for each Gateway."
            </p>
        </section>
        <section aria-labelledby="environments-title">
            <h2 id="environments-title">"Environments"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading environments…"</p> }>
                {move || Suspend::new(async move {
                    match environments.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted" data-testid="no-environments">
                                "No environments yet. Create one with POST /api/v1/environments, or start Gatehouse with --demo to load the dev and prod example."
                            </p>
                        }.into_any(),
                        Ok(list) => view! { <super::environments::EnvironmentTable environments=list /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

pub(crate) fn mode_label(mode: AdvertisementMode) -> &'static str {
    match mode {
        AdvertisementMode::Arp => "ARP (L2 announcements)",
        AdvertisementMode::Bgp => "BGP",
        AdvertisementMode::Both => "ARP and BGP",
    }
}

pub(crate) fn joined<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[component]
pub fn ChecklistPage() -> impl IntoView {
    let overview = Resource::new_blocking(|| (), |_| checklist_overview());
    view! {
        <PageHeader
            title="Checklist"
            lead="The formal checklist every environment and application is held to before it reaches a cluster. Errors block a submission; warnings inform."
        />
        <Suspense fallback=|| view! { <p class="muted">"Checking…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <ChecklistReports overview /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
        <RuleCatalogue />
    }
}

#[component]
fn ChecklistReports(overview: ChecklistSummary) -> impl IntoView {
    let plan_findings = overview.plan.findings.clone();
    view! {
        {if overview.applications.is_empty() {
            view! {
                <EmptyState title="No applications to check yet">
                    <p>"Once an application is stored (POST /api/v1/applications, or start with --demo) its checklist appears here, finding by finding, with the fix for each."</p>
                </EmptyState>
            }.into_any()
        } else {
            overview.applications.into_iter().map(|(name, report)| {
                let heading_id = format!("app-{name}");
                let labelled_by = heading_id.clone();
                let test_id = format!("checklist-{name}");
                view! {
                    <section class="checklist" aria-labelledby=labelled_by data-testid=test_id>
                        <h2 id=heading_id>
                            "Application " <code>{name.clone()}</code>
                            <ReportBadges errors=report.errors warnings=report.warnings />
                        </h2>
                        <FindingList findings=report.findings />
                        <details class="passed">
                            <summary>{format!("{} rules passed", report.passed.len())}</summary>
                            <ul class="rule-ids">
                                {report.passed.into_iter().map(|rule| view! { <li><code>{rule.to_string()}</code></li> }).collect_view()}
                            </ul>
                        </details>
                    </section>
                }
            }).collect_view().into_any()
        }}
        <section class="checklist" aria-labelledby="plan-findings" data-testid="checklist-plan">
            <h2 id="plan-findings">
                "The whole plan"
                <ReportBadges errors=overview.plan.errors warnings=overview.plan.warnings />
            </h2>
            <p class="muted">"Overlaps and rule violations across every environment, pool and application."</p>
            <FindingList findings=plan_findings />
        </section>
    }
}

#[component]
fn ReportBadges(errors: usize, warnings: usize) -> impl IntoView {
    view! {
        <span class={if errors > 0 { "badge badge--error" } else { "badge badge--ok" }}>
            {format!("{errors} error{}", if errors == 1 { "" } else { "s" })}
        </span>
        <span class={if warnings > 0 { "badge badge--warn" } else { "badge" }}>
            {format!("{warnings} warning{}", if warnings == 1 { "" } else { "s" })}
        </span>
    }
}

#[component]
fn FindingList(findings: Vec<Finding>) -> impl IntoView {
    if findings.is_empty() {
        view! { <p class="all-clear">"No findings: every rule passes."</p> }.into_any()
    } else {
        view! { <super::environments::FindingItems findings /> }.into_any()
    }
}

#[component]
fn RuleCatalogue() -> impl IntoView {
    view! {
        <section aria-labelledby="rules-title" class="rule-catalogue">
            <h2 id="rules-title">"The rules"</h2>
            <DataTable label="The rules" columns=&["Rule", "Severity", "What it checks, and why"]>
                {rules().iter().map(|rule| view! {
                    <tr id=rule.id>
                        <th scope="row"><code>{rule.id}</code></th>
                        <td>{match rule.severity { Severity::Error => "error", Severity::Warning => "warning" }}</td>
                        <td><strong>{rule.title}</strong><br />{rule.training}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    view! {
        <PageHeader title="Page not found" />
        <section class="error-page" data-testid="not-found">
            <p class="error-page__code">"404"</p>
            <p>"There is nothing at this address. It may have been renamed or deleted, or the link may be mistyped."</p>
            <p><A href="/">"Go to the overview"</A></p>
        </section>
    }
}

/// A failed load, shown in place of the content with the matching HTTP status.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    set_status(error.status());
    view! {
        <div class="notice notice--error" role="alert">
            <p><strong>"Could not load this: "</strong>{error.to_string()}</p>
        </div>
    }
}
