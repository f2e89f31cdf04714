//! The clusters Gatehouse submits to: for each, the environments that go to it, its version,
//! and what Gatehouse needs from it (each missing piece with how to install it); then the
//! Gateway label fix's switch.
use leptos::prelude::*;

use super::{
    layout::{DataTable, PageHeader},
    pages::ErrorNotice,
};
use crate::api::cluster::{
    ClusterView, ClustersView, Drift, Import, VipRow, cluster_drift, cluster_status, import_from_cluster, import_preview, switch_label_fix,
    vip_statuses,
};

#[component]
pub fn ClustersPage() -> impl IntoView {
    let status = Resource::new_blocking(|| (), |_| cluster_status());
    view! {
        <PageHeader
            title="Clusters"
            lead="The clusters submissions go to, the environments each serves, whether it has what Gatehouse needs, and the Gateway label fix."
        />
        <Suspense fallback=|| view! { <p class="muted">"Asking the clusters…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Ok(ClustersView { clusters, label_fix }) => view! {
                        {clusters.into_iter().map(|cluster| view! { <ClusterCard cluster /> }).collect_view()}
                        <LabelFixCard on=label_fix />
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ClusterCard(cluster: ClusterView) -> impl IntoView {
    let reach = match (&cluster.server_version, &cluster.failure) {
        (Some(version), _) => format!("reachable, Kubernetes {version}"),
        (None, Some(failure)) => format!("not reachable: {failure}"),
        (None, None) => "not reachable".to_owned(),
    };
    let environments = if cluster.environments.is_empty() {
        "No environment goes to it.".to_owned()
    } else {
        format!("Environments: {}.", cluster.environments.join(", "))
    };
    view! {
        <section class="card" data-cluster=cluster.cluster.clone()>
            <h2>{format!("Cluster {}", cluster.cluster)}</h2>
            <p class="muted">{cluster.source.clone()}</p>
            <p>{environments}</p>
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
    }
}

#[component]
fn LabelFixCard(on: bool) -> impl IntoView {
    let label_fix = RwSignal::new(on);
    let confirming = RwSignal::new(false);
    let switch = Action::new(move |on: &bool| switch_label_fix(*on));
    Effect::new(move |_| {
        if let Some(Ok(on)) = switch.value().get() {
            label_fix.set(on);
            if let Some(super::layout::SignedInNow(banners)) = use_context() {
                banners.refetch();
            }
        }
    });
    view! {
        <section class="card">
            <h2>"The Gateway label fix"</h2>
            <p>
                "Cilium's generated cilium-gateway-<name> Service does not carry the Gateway's labels, so the L2 policy and BGP advertisement miss its VIP. The fix labels it (and puts the label in the Gateway's spec.infrastructure.labels). Turn it off to watch the VIP go dark; on to bring it back. Per VIP: "
                <a href="/vips">"labelled, assigned, announced"</a> " (" <a href="/api/v1/vips">"JSON"</a> ")."
            </p>
            <p class="label-fix-state">{move || if label_fix.get() { "The fix is on." } else { "The fix is off: Gateway VIPs are not announced." }}</p>
            <button type="button" class="button" disabled=move || switch.pending().get() || confirming.get()
                on:click=move |_| {
                    // Turning it on restores announcements; turning it off darkens VIPs, so it asks first.
                    if label_fix.get_untracked() { confirming.set(true) } else { switch.dispatch(true); }
                }>
                {move || if label_fix.get() { "Turn the fix off" } else { "Turn the fix on" }}
            </button>
            <Show when=move || confirming.get()>
                <div class="notice notice--warn confirm" role="alertdialog" aria-label="Turn the Gateway label fix off?">
                    <p>
                        "Turn the fix off? On every cluster the reconciler takes the advertisement label off each generated cilium-gateway-… Service, and new submissions leave spec.infrastructure.labels out of their Gateways: the L2 announcement policies and BGP advertisements stop selecting those Services, so every Gateway VIP stops being announced and clients lose them. Every page shows a banner until the fix is on again; the switch is in the audit log."
                    </p>
                    <div class="actions">
                        <button type="button" class="button button--danger"
                            on:click=move |_| { confirming.set(false); switch.dispatch(false); }>"Yes, turn it off"</button>
                        <button type="button" class="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </div>
                </div>
            </Show>
        </section>
    }
}

/// Per VIP of the cluster: labelled with an environment's advertisement label, assigned by
/// LB-IPAM, and selected by an L2 announcement policy or a BGP advertisement.
#[component]
pub fn VipsPage() -> impl IntoView {
    let report = Resource::new_blocking(|| (), |_| vip_statuses());
    view! {
        <PageHeader
            title="VIPs"
            lead="Every LoadBalancer Service in the cluster: whether it carries an environment's advertisement label, whether LB-IPAM assigned its VIP, and which L2 announcement policy or BGP advertisement selects it. A VIP is reachable from outside only when all three hold."
        />
        <Suspense fallback=|| view! { <p class="muted">"Asking the cluster…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => {
                        let fix = if report.label_fix {
                            "The Gateway label fix is on: generated cilium-gateway-… Services get the advertisement label."
                        } else {
                            "The Gateway label fix is off: generated cilium-gateway-… Services may miss the advertisement label and go dark."
                        };
                        view! {
                            <p class="muted">{fix} " " <a href="/clusters">"Switch it on the Clusters page"</a> "."</p>
                            <Unreadable clusters=report.unreadable />
                            <VipTable vips=report.vips />
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
        <DriftSection />
    }
}

/// The clusters that could not be read: what is shown beside it is the other clusters'.
#[component]
fn Unreadable(clusters: Vec<String>) -> impl IntoView {
    (!clusters.is_empty()).then(|| {
        view! {
            <div class="notice notice--error" role="alert" data-testid="unreadable-clusters">
                <p>"Not every cluster could be read; what is shown is the other clusters':"</p>
                <ul>{clusters.into_iter().map(|failure| view! { <li>{failure}</li> }).collect_view()}</ul>
            </div>
        }
    })
}

/// The IP plan against the cluster, both ways: pools and VIPs one side has and the other not,
/// or has differently.
#[component]
fn DriftSection() -> impl IntoView {
    let drift = Resource::new_blocking(|| (), |_| cluster_drift());
    view! {
        <section class="card" data-testid="drift">
            <h2>"Drift between the IP plan and the cluster"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Comparing…"</p> }>
                {move || Suspend::new(async move {
                    match drift.await {
                        Ok(Ok(drift)) => view! { <Unreadable clusters=drift.unreadable.clone() /> <DriftTables drift /> }.into_any(),
                        Ok(Err(failure)) => view! { <p class="notice notice--error" role="alert">{format!("The cluster could not be read: {failure}")}</p> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <ImportSection on_imported=move || drift.refetch() />
    }
}

/// Network admins take the cluster's own pools and the VIPs LB-IPAM assigned into the plan:
/// first what would be imported, then all of it in one transaction.
#[component]
fn ImportSection(on_imported: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let preview = Resource::new_blocking(|| (), |_| async {
        let may_import = crate::api::signed_in_as()
            .await
            .is_ok_and(|who| who.is_some_and(|who| who.role >= crate::domain::access::Role::NetworkAdmin));
        (import_preview().await, may_import)
    });
    let import = Action::new(|_: &()| import_from_cluster());
    Effect::new(move |_| {
        if let Some(Ok(Ok(_))) = import.value().get() {
            preview.refetch();
            on_imported();
        }
    });
    view! {
        <section class="card" data-testid="import">
            <h2>"Import from the cluster"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Reading the cluster…"</p> }>
                {move || Suspend::new(async move {
                    let (found, may_import) = preview.await;
                    let unreadable = found.as_ref().ok().and_then(|found| found.as_ref().ok()).map(|f| f.unreadable.clone()).unwrap_or_default();
                    let listed = match found {
                        Ok(Ok(found)) if found.is_empty() => view! {
                            <p class="muted" data-testid="nothing-to-import">"Nothing to import: the plan has every pool and assigned VIP it can hold."</p>
                            <ImportList import=found />
                        }.into_any(),
                        Ok(Ok(found)) => view! {
                            <p>"Importing adds these to the IP plan in one change, checked like every other (a pool overlapping the plan is refused), and recorded in the audit log:"</p>
                            <ImportList import=found />
                            {if may_import {
                                view! {
                                    <button type="button" class="button button--primary" data-testid="import-button"
                                        disabled=move || import.pending().get() on:click=move |_| { import.dispatch(()); }>
                                        "Import into the plan"
                                    </button>
                                }.into_any()
                            } else {
                                view! { <p class="muted">"A network admin imports them."</p> }.into_any()
                            }}
                        }.into_any(),
                        Ok(Err(failure)) => view! { <p class="notice notice--error" role="alert">{format!("The cluster could not be read: {failure}")}</p> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    };
                    view! { <Unreadable clusters=unreadable /> {listed} }.into_any()
                })}
            </Suspense>
            {move || match import.value().get() {
                Some(Ok(Ok(done))) => Some(view! {
                    <p class="notice notice--ok" role="status" data-testid="imported">
                        {format!("Imported {} and {}.", crate::domain::counted(done.pools.len(), "pool"), crate::domain::counted(done.addresses.len(), "VIP"))}
                    </p>
                }.into_any()),
                Some(Ok(Err(failure))) => Some(view! { <p class="notice notice--error" role="alert">{failure}</p> }.into_any()),
                Some(Err(crate::api::AppError::Rejected(findings))) => Some(view! { <super::environments::RejectedNotice findings /> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNotice error /> }.into_any()),
                None => None,
            }}
        </section>
    }
}

#[component]
fn ImportList(import: Import) -> impl IntoView {
    view! {
        <ul class="import-list">
            {import.pools.into_iter().map(|pool| view! {
                <li data-import-pool=pool.name.clone()>{format!("pool {} in {}: {}", pool.name, pool.environment, pool.blocks.join(", "))}</li>
            }).collect_view()}
            {import.addresses.into_iter().map(|address| {
                let application = address.application.map(|a| format!(", application {a}")).unwrap_or_default();
                view! {
                    <li data-import-address=address.address.clone()>{format!("VIP {} in pool {} ({}), allocated to {}{application}", address.address, address.pool, address.environment, address.owner)}</li>
                }
            }).collect_view()}
            {import.left_out.into_iter().map(|reason| view! { <li class="muted">{format!("left out — {reason}")}</li> }).collect_view()}
        </ul>
    }
}

fn drift_label(drift: &str) -> &'static str {
    match drift {
        "cluster_only" => "in the cluster, not in the plan",
        "plan_only" => "in the plan, not in the cluster",
        "conflict" => "two holders",
        _ => "different",
    }
}

#[component]
fn DriftTables(drift: Drift) -> impl IntoView {
    if drift.pools.is_empty() && drift.addresses.is_empty() {
        return view! { <p class="all-clear" data-testid="no-drift">"The cluster's pools and VIPs match the plan."</p> }.into_any();
    }
    view! {
        {(!drift.pools.is_empty()).then(|| view! {
            <h3>"Pools"</h3>
            <DataTable label="Pools that differ" test_id="pool-drift" columns=&["Pool", "Drift", "Plan", "Cluster", "What to do"]>
                {drift.pools.into_iter().map(|pool| {
                    let (row, kind, label) = (pool.name.clone(), pool.drift.clone(), drift_label(&pool.drift));
                    let name = match &pool.environment { Some(e) => format!("{} ({e})", pool.name), None => pool.name.clone() };
                    view! {
                    <tr data-pool=row data-drift=kind>
                        <th scope="row">{name}</th>
                        <td><span class="badge badge--warn">{label}</span></td>
                        <td>{pool.plan_blocks.join(", ")}</td>
                        <td>{pool.cluster_blocks.join(", ")}</td>
                        <td>{pool.message}</td>
                    </tr>
                }}).collect_view()}
            </DataTable>
        })}
        {(!drift.addresses.is_empty()).then(|| view! {
            <h3>"VIPs"</h3>
            <DataTable label="VIPs that differ" test_id="address-drift" columns=&["VIP", "Drift", "Plan", "Cluster", "What to do"]>
                {drift.addresses.into_iter().map(|address| {
                    let (row, kind, label) = (address.address.clone(), address.drift.clone(), drift_label(&address.drift));
                    view! {
                    <tr data-address=row data-drift=kind>
                        <th scope="row"><code>{address.address}</code></th>
                        <td><span class="badge badge--warn">{label}</span></td>
                        <td>{match (address.plan_owner, address.plan_service) {
                            (Some(owner), Some(service)) => format!("{owner} (Service {service})"),
                            (Some(owner), None) => owner,
                            (None, _) => "—".to_owned(),
                        }}</td>
                        <td>{address.service.unwrap_or_else(|| "—".to_owned())}</td>
                        <td>{address.message}</td>
                    </tr>
                }}).collect_view()}
            </DataTable>
        })}
    }.into_any()
}

#[component]
fn VipTable(vips: Vec<VipRow>) -> impl IntoView {
    if vips.is_empty() {
        return view! { <p class="muted" data-testid="no-vips">"No LoadBalancer Service in the cluster yet: submit an application to get one."</p> }.into_any();
    }
    let yes_no = |ok: bool, yes: String, no: &'static str| {
        let class = if ok { "badge badge--ok" } else { "badge badge--error" };
        view! { <span class=class>{if ok { yes } else { no.to_owned() }}</span> }
    };
    view! {
        <DataTable label="LoadBalancer Services and their VIPs" test_id="vips-table" columns=&["Cluster", "Service", "VIP", "Labelled", "Assigned", "Selected by", "Announced"]>
            {vips.into_iter().map(|vip| {
                let service = format!("{}/{}", vip.namespace, vip.service);
                let row = service.clone();
                let gateway = vip.gateway.map(|gateway| format!("generated for Gateway {gateway}"));
                let mut selected: Vec<String> = vip.l2_policies.iter().map(|p| format!("L2 policy {p}")).collect();
                selected.extend(vip.bgp_advertisements.iter().map(|a| format!("BGP advertisement {a}")));
                let selected_by = if selected.is_empty() { "none".to_owned() } else { selected.join(", ") };
                view! {
                    <tr data-service=row data-announced=vip.announced.to_string()>
                        <td>{vip.cluster}</td>
                        <th scope="row">{service}{gateway.map(|g| view! { <br /> <span class="muted">{g}</span> })}</th>
                        <td><code>{vip.address.clone().unwrap_or_else(|| "—".to_owned())}</code></td>
                        <td data-labelled=vip.labelled.to_string()>{yes_no(vip.labelled, vip.advertisement_labels.join(", "), "no advertisement label")}</td>
                        <td>{yes_no(vip.assigned, "assigned".to_owned(), "pending")}</td>
                        <td>{selected_by}</td>
                        <td>{yes_no(vip.announced, "announced".to_owned(), "not announced")}</td>
                    </tr>
                }
            }).collect_view()}
        </DataTable>
    }.into_any()
}
