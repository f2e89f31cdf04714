//! The network admins' area around the IP plan: its sub-navigation, the conflicts across the
//! whole plan, and the outputs for the cluster and the external router.
use leptos::prelude::*;
use leptos_router::components::A;

use super::{
    environments::FindingItems,
    layout::PageHeader,
    pages::ErrorNotice,
};
use crate::{
    api::{EnvironmentOutputs, Generated, generate_outputs, plan_findings},
    domain::Severity,
};

/// The pages of the IP-plan area.
#[component]
pub fn PlanNav() -> impl IntoView {
    view! {
        <nav class="sub-nav" aria-label="IP plan">
            <A href="/pools" exact=true>"Pools"</A>
            <A href="/environments">"Environments"</A>
            <A href="/pools/conflicts" exact=true>"Conflicts"</A>
            <A href="/pools/outputs" exact=true>"Outputs"</A>
        </nav>
    }
}

#[component]
pub fn ConflictsPage() -> impl IntoView {
    let report = Resource::new_blocking(|| (), |_| plan_findings());
    view! {
        <PageHeader
            title="Conflicts"
            lead="Every overlap and rule violation across the whole plan — all environments, pools and applications — grouped by severity."
        />
        <PlanNav />
        <Suspense fallback=|| view! { <p class="muted">"Checking the plan…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => {
                        let (errors, warnings): (Vec<_>, Vec<_>) =
                            report.findings.into_iter().partition(|finding| finding.severity == Severity::Error);
                        view! {
                            <section aria-labelledby="errors-title" data-testid="conflicts-errors">
                                <h2 id="errors-title">{format!("Errors ({})", errors.len())}</h2>
                                {if errors.is_empty() {
                                    view! { <p class="all-clear">"No errors: nothing blocks a submission."</p> }.into_any()
                                } else {
                                    view! { <FindingItems findings=errors /> }.into_any()
                                }}
                            </section>
                            <section aria-labelledby="warnings-title" data-testid="conflicts-warnings">
                                <h2 id="warnings-title">{format!("Warnings ({})", warnings.len())}</h2>
                                {if warnings.is_empty() {
                                    view! { <p class="all-clear">"No warnings."</p> }.into_any()
                                } else {
                                    view! { <FindingItems findings=warnings /> }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn OutputsPage() -> impl IntoView {
    let outputs = Resource::new_blocking(|| (), |_| generate_outputs());
    view! {
        <PageHeader
            title="Outputs"
            lead="What the plan means for the cluster and the external router, per environment: ready to copy, download, or apply with kubectl apply --server-side -f -."
        />
        <PlanNav />
        <p class="actions">
            <a class="button" href="/api/v1/bundle.yaml" download="gatehouse-plan.yaml">"Download the whole plan (YAML)"</a>
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Generating…"</p> }>
            {move || Suspend::new(async move {
                match outputs.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="muted">"No environments yet: create one on the environments page."</p>
                    }.into_any(),
                    Ok(list) => list.into_iter().map(|outputs| view! { <EnvironmentOutputsView outputs /> }).collect_view().into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EnvironmentOutputsView(outputs: EnvironmentOutputs) -> impl IntoView {
    let environment = outputs.environment;
    let heading = format!("outputs-{environment}");
    let labelled_by = heading.clone();
    let test_id = heading.clone();
    view! {
        <section class="outputs" aria-labelledby=labelled_by data-testid=test_id>
            <h2 id=heading>"Environment " <code>{environment.clone()}</code></h2>
            <OutputBlock
                title="Cilium LB-IPAM pools and L2/BGP policies"
                file=format!("{environment}-cilium.yaml")
                href=format!("/api/v1/environments/{environment}/cilium.yaml")
                content=outputs.cilium
            />
            <OutputBlock
                title="FRR configuration for the external router"
                file=format!("{environment}-frr.conf")
                href=format!("/api/v1/environments/{environment}/frr.conf")
                content=outputs.frr
            />
            <OutputBlock
                title="Cilium Helm values"
                file=format!("{environment}-helm-values.yaml")
                href=format!("/api/v1/environments/{environment}/helm-values.yaml")
                content=outputs.helm_values
            />
        </section>
    }
}

/// A generated file with copy and download buttons, or the reason there is none.
#[component]
pub fn OutputBlock(title: &'static str, file: String, href: String, content: Generated) -> impl IntoView {
    match content {
        Ok(text) => {
            let copied = RwSignal::new(false);
            let copy_text = text.clone();
            view! {
                <div class="output">
                    <div class="output__bar">
                        <h3>{title}</h3>
                        <button type="button" class="button" on:click=move |_| {
                            copy_to_clipboard(&copy_text);
                            copied.set(true);
                        }>
                            {move || if copied.get() { "Copied" } else { "Copy" }}
                        </button>
                        <a class="button" href=href download=file>"Download"</a>
                    </div>
                    <pre class="output__text" tabindex="0"><code>{text}</code></pre>
                </div>
            }.into_any()
        }
        Err(reason) => view! {
            <div class="output output--none">
                <h3>{title}</h3>
                <p class="muted">{reason}</p>
            </div>
        }.into_any(),
    }
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}
