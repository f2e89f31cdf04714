//! The cluster Gatehouse submits to: its version, what Gatehouse needs from it (each missing
//! piece with how to install it), and the Gateway label fix's switch.
use leptos::prelude::*;

use super::{layout::PageHeader, pages::ErrorNotice};
use crate::api::cluster::{ClusterView, cluster_status, switch_label_fix};

#[component]
pub fn ClustersPage() -> impl IntoView {
    let status = Resource::new_blocking(|| (), |_| cluster_status());
    view! {
        <PageHeader
            title="Clusters"
            lead="The cluster submissions go to, whether it has what Gatehouse needs, and the Gateway label fix."
        />
        <Suspense fallback=|| view! { <p class="muted">"Asking the cluster…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Ok(cluster) => view! { <ClusterCard cluster /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ClusterCard(cluster: ClusterView) -> impl IntoView {
    let label_fix = RwSignal::new(cluster.label_fix);
    let switch = Action::new(move |on: &bool| switch_label_fix(*on));
    Effect::new(move |_| {
        if let Some(Ok(on)) = switch.value().get() {
            label_fix.set(on);
        }
    });
    let reach = match (&cluster.server_version, &cluster.failure) {
        (Some(version), _) => format!("reachable, Kubernetes {version}"),
        (None, Some(failure)) => format!("not reachable: {failure}"),
        (None, None) => "not reachable".to_owned(),
    };
    view! {
        <section class="card">
            <h2>{cluster.cluster.clone()}</h2>
            <p>{reach}</p>
            <ul class="capabilities">
                {cluster.capabilities.into_iter().map(|c| {
                    let badge = if c.present { "badge badge--ok" } else { "badge badge--error" };
                    view! {
                        <li data-present=c.present.to_string()>
                            <span class=badge>{if c.present { "present" } else { "missing" }}</span>
                            " " <strong>{c.name}</strong> " — " {c.detail}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
        <section class="card">
            <h2>"The Gateway label fix"</h2>
            <p>
                "Cilium's generated cilium-gateway-<name> Service does not carry the Gateway's labels, so the L2 policy and BGP advertisement miss its VIP. The fix labels it (and puts the label in the Gateway's spec.infrastructure.labels). Turn it off to watch the VIP go dark; on to bring it back. Per VIP: "
                <a href="/api/v1/vips">"labelled, assigned, announced (JSON)"</a> "."
            </p>
            <p class="label-fix-state">{move || if label_fix.get() { "The fix is on." } else { "The fix is off: Gateway VIPs are not announced." }}</p>
            <button type="button" class="button" disabled=move || switch.pending().get()
                on:click=move |_| { switch.dispatch(!label_fix.get_untracked()); }>
                {move || if label_fix.get() { "Turn the fix off" } else { "Turn the fix on" }}
            </button>
        </section>
    }
}
