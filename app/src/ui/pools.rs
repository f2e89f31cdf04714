//! VIP pools: use per pool, the address map coloured by state, allocation, reservation and
//! release.
use leptos::prelude::*;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_params_map},
};

use super::{
    environments::{RejectedNotice, entries, messages_for},
    layout::{DataTable, PageHeader},
    pages::{ErrorNotice, NotFound},
    plan::PlanNav,
};
use crate::{
    api::{
        AppError, list_environments,
        pools::{
            AddressMap, AddressState, CsvImportOutcome, MapEntry, PoolSummary, allocate_address, create_pool, delete_pool,
            address_history, get_pool, import_pools_csv, update_pool, list_pools, pool_map, release_address, reserve_addresses,
        },
    },
};

fn percent(part: u128, whole: u128) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64) * 100.0 / (whole as f64) }
}

/// Allocated and reserved shares of a pool, drawn as a bar (SVG: no inline styles needed).
#[component]
fn UtilizationBar(allocated: u128, reserved: u128, size: u128) -> impl IntoView {
    let allocated_width = percent(allocated, size);
    let reserved_width = percent(reserved, size);
    let label = format!(
        "{:.0}% used: {allocated} allocated, {reserved} reserved of {size}",
        percent(allocated + reserved, size)
    );
    let title = label.clone();
    view! {
        <svg class="utilization" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label=label>
            <title>{title}</title>
            <rect class="utilization__track" x="0" y="0" width="100" height="8" rx="2" />
            <rect class="utilization__allocated" x="0" y="0" width=format!("{allocated_width:.3}") height="8" />
            <rect class="utilization__reserved" x=format!("{allocated_width:.3}") y="0" width=format!("{reserved_width:.3}") height="8" />
        </svg>
    }
}

#[component]
pub fn PoolsPage() -> impl IntoView {
    let pools = Resource::new_blocking(|| (), |_| list_pools());
    let environments = Resource::new_blocking(|| (), |_| list_environments());
    view! {
        <PageHeader
            title="IP Pools"
            lead="VIP pools per environment: how full each one is, its address map, and what is allocated to whom."
        />
        <PlanNav />
        <Suspense fallback=|| view! { <p class="muted">"Loading pools…"</p> }>
            {move || Suspend::new(async move {
                let (pools, environments) = (pools.await, environments.await);
                match (pools, environments) {
                    (Ok(pools), Ok(environments)) if environments.is_empty() => {
                        let _ = pools;
                        view! {
                            <p class="muted">"No environments yet. VIP pools belong to an environment: "<A href="/environments/new">"create one first"</A>"."</p>
                        }.into_any()
                    }
                    (Ok(pools), Ok(environments)) => environments.into_iter().map(|environment| {
                        let name = environment.name.to_string();
                        let mine: Vec<PoolSummary> = pools.iter().filter(|p| p.pool.environment == environment.name).cloned().collect();
                        view! { <EnvironmentPools environment=name pools=mine /> }
                    }).collect_view().into_any(),
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
        <CsvPanel />
    }
}

/// Export and import of pools, allocations and reservations as CSV.
#[component]
fn CsvPanel() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let import = Action::new(move |text: &String| {
        let text = text.clone();
        async move { import_pools_csv(text).await }
    });
    view! {
        <section class="csv-panel" aria-labelledby="csv-title">
            <h2 id="csv-title">"CSV"</h2>
            <p>
                <a class="button" href="/api/v1/pools.csv" download="gatehouse-pools.csv">"Export pools, allocations and reservations"</a>
            </p>
            <form class="form" on:submit=move |ev| { ev.prevent_default(); import.dispatch(text.get()); }>
                <div class="field">
                    <label for="csv-import">"Import: paste CSV with the header kind,environment,pool,block,address,owner,application,reason"</label>
                    <textarea id="csv-import" rows="6" bind:value=text data-testid="csv-text"></textarea>
                    <p class="field__help">"Every bad line is reported with its number; a file with any error changes nothing."</p>
                </div>
                <button type="submit" class="button" disabled=move || import.pending().get()>"Import"</button>
            </form>
            {move || import.value().get().map(|outcome| match outcome {
                Ok(CsvImportOutcome::Imported { created_pools, allocations, reservations, unchanged }) => view! {
                    <p class="notice notice--ok" role="status" data-testid="csv-imported">
                        {format!("Imported: {created_pools} pools created, {allocations} allocations, {reservations} reservations ({unchanged} already so).")}
                    </p>
                }.into_any(),
                Ok(CsvImportOutcome::Refused { problems }) => view! {
                    <div class="notice notice--error" role="alert" data-testid="csv-refused">
                        <p><strong>"Nothing was imported:"</strong></p>
                        <ul>{problems.into_iter().map(|problem| view! { <li>{problem}</li> }).collect_view()}</ul>
                    </div>
                }.into_any(),
                Err(error) => view! { <ErrorNotice error /> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn EnvironmentPools(environment: String, pools: Vec<PoolSummary>) -> impl IntoView {
    let heading = format!("pools-{environment}");
    let labelled_by = heading.clone();
    let test_id = heading.clone();
    let environment_href = format!("/environments/{environment}");
    let environment_name = environment.clone();
    let table_label = format!("VIP pools of {environment}");
    view! {
        <section class="pool-group" aria-labelledby=labelled_by data-testid=test_id>
            <h2 id=heading>"Environment " <A href=environment_href>{environment_name}</A></h2>
            {if pools.is_empty() {
                view! { <p class="muted">"No VIP pools in this environment yet."</p> }.into_any()
            } else {
                view! {
                    <DataTable label=table_label columns=&["Pool", "Blocks", "Size", "Allocated", "Reserved", "Free", "Use"]>
                        {pools.into_iter().map(|summary| {
                            let id = summary.pool.id.unwrap_or_default();
                            let size = summary.pool.size();
                            let blocks = summary.pool.blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                            view! {
                                <tr>
                                    <th scope="row"><A href=format!("/pools/{id}")>{summary.pool.name.to_string()}</A></th>
                                    <td><code>{blocks}</code></td>
                                    <td>{size.to_string()}</td>
                                    <td>{summary.allocated.to_string()}</td>
                                    <td>{summary.reserved.to_string()}</td>
                                    <td>{summary.free.to_string()}</td>
                                    <td class="utilization-cell"><UtilizationBar allocated=summary.allocated reserved=summary.reserved size /></td>
                                </tr>
                            }
                        }).collect_view()}
                    </DataTable>
                }.into_any()
            }}
            <NewPoolForm environment />
        </section>
    }
}

#[component]
fn NewPoolForm(environment: String) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let blocks = RwSignal::new(String::new());
    let env = environment.clone();
    let create = Action::new(move |(name, blocks): &(String, String)| {
        let environment = env.clone();
        let name = name.trim().to_owned();
        let blocks = entries(blocks);
        async move { create_pool(environment, name, blocks).await }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/pools/{id}"), Default::default());
        }
    });
    let errors = move |prefix: &'static str| {
        move || match create.value().get() {
            Some(Err(AppError::Fields(errors))) => messages_for(&errors, prefix)
                .into_iter()
                .map(|message| view! { <p class="field__error">{message}</p> })
                .collect_view()
                .into_any(),
            _ => ().into_any(),
        }
    };
    let name_id = format!("new-pool-name-{environment}");
    let blocks_id = format!("new-pool-blocks-{environment}");
    view! {
        <details class="new-pool">
            <summary>{format!("New pool in {environment}")}</summary>
            <form class="form inline-form" on:submit=move |ev| {
                ev.prevent_default();
                create.dispatch((name.get(), blocks.get()));
            }>
                <div class="field">
                    <label for=name_id.clone()>"Name"</label>
                    <input id=name_id bind:value=name placeholder=format!("{environment}-vips") data-testid="new-pool-name" />
                    {errors("name")}
                </div>
                <div class="field">
                    <label for=blocks_id.clone()>"Blocks"</label>
                    <input id=blocks_id bind:value=blocks placeholder="192.168.101.192/28, 192.168.101.240-192.168.101.250" data-testid="new-pool-blocks" />
                    {errors("blocks")}
                </div>
                <button type="submit" class="button button--primary" disabled=move || create.pending().get()>"Create pool"</button>
            </form>
            {move || match create.value().get() {
                Some(Err(AppError::Rejected(findings))) => view! { <RejectedNotice findings test_id="pool-rejected" /> }.into_any(),
                Some(Err(AppError::Fields(_))) | None | Some(Ok(_)) => ().into_any(),
                Some(Err(error)) => view! { <ErrorNotice error /> }.into_any(),
            }}
        </details>
    }
}

#[component]
pub fn PoolPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let resource = Resource::new_blocking(id, |id| async move {
        match id {
            Some(id) => pool_map(id).await,
            None => Err(AppError::NotFound("a pool id is a number".to_owned())),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the pool…"</p> }>
            {move || Suspend::new(async move {
                match resource.await {
                    Ok(map) => view! { <PoolDetail map /> }.into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn entry_label(entry: &MapEntry) -> String {
    let what = match (&entry.address, &entry.start, &entry.stop) {
        (Some(address), _, _) => address.to_string(),
        (None, Some(start), Some(stop)) => format!("{start} – {stop} ({} addresses)", entry.count.unwrap_or_default()),
        _ => "addresses".to_owned(),
    };
    let mut label = format!("{what}: {}", entry.state);
    if let Some(owner) = &entry.owner {
        label.push_str(&format!(", owner {owner}"));
    }
    if let Some(application) = &entry.application {
        label.push_str(&format!(", application {application}"));
    }
    if let Some(since) = &entry.since {
        label.push_str(&format!(", since {since}"));
    }
    if let Some(reason) = &entry.reason {
        label.push_str(&format!(", reason: {reason}"));
    }
    label
}

#[component]
fn PoolDetail(map: AddressMap) -> impl IntoView {
    let pool_id = map.pool;
    let title = format!("Pool {} ({})", map.name, map.environment);
    // The map as last loaded; reloaded in place after each change so the page keeps its state.
    let current = RwSignal::new(map);
    let reload = Action::new(move |_: &()| async move { pool_map(pool_id).await });
    Effect::new(move |_| {
        if let Some(Ok(map)) = reload.value().get() {
            current.set(map);
        }
    });
    let refresh = move || {
        reload.dispatch(());
    };
    let selected = RwSignal::new(None::<MapEntry>);

    let owner = RwSignal::new(String::new());
    let address = RwSignal::new(String::new());
    let application = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let allocate = Action::new(move |_: &()| {
        let (address, owner, application, reason) = (address.get(), owner.get(), application.get(), reason.get());
        async move {
            allocate_address(pool_id, Some(address), owner, Some(application), Some(reason)).await
        }
    });
    let reserve_start = RwSignal::new(String::new());
    let reserve_stop = RwSignal::new(String::new());
    let reserve_reason = RwSignal::new(String::new());
    let reserve = Action::new(move |_: &()| {
        let (start, stop, reason) = (reserve_start.get(), reserve_stop.get(), reserve_reason.get());
        async move { reserve_addresses(pool_id, start, Some(stop), reason).await }
    });
    let release = Action::new(move |(address, reserved): &(String, bool)| {
        let (address, reserved) = (address.clone(), *reserved);
        async move { release_address(address, reserved).await }
    });
    let delete = Action::new(move |_: &()| async move { delete_pool(pool_id).await });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/pools", Default::default());
        }
    });
    // Any successful change reloads the map.
    Effect::new(move |_| {
        let changed = matches!(allocate.value().get(), Some(Ok(_)))
            || matches!(reserve.value().get(), Some(Ok(())))
            || matches!(release.value().get(), Some(Ok(())));
        if changed {
            selected.set(None);
            refresh();
        }
    });

    let status = move || -> Option<AnyView> {
        let error = |error: AppError| view! { <div class="notice notice--error" role="alert" data-testid="pool-error">{error.to_string()}{match error {
            AppError::Fields(errors) => errors.into_iter().map(|e| view! { <p>{format!("{}: {}", e.field, e.message)}</p> }).collect_view().into_any(),
            _ => ().into_any(),
        }}</div> }.into_any();
        if let Some(Err(e)) = allocate.value().get() { return Some(error(e)); }
        if let Some(Err(e)) = reserve.value().get() { return Some(error(e)); }
        if let Some(Err(e)) = release.value().get() { return Some(error(e)); }
        if let Some(Err(e)) = delete.value().get() { return Some(error(e)); }
        allocate.value().get().and_then(Result::ok).map(|address| view! {
            <p class="notice notice--ok" role="status" data-testid="allocated">{format!("Allocated {address}.")}</p>
        }.into_any())
    };

    view! {
        <PageHeader title=title lead="Every address of the pool by state. Hover or focus an address for its details." />
        <PlanNav />
        {move || {
            let map = current.get();
            view! {
                <dl class="pool-facts">
                    <div><dt>"Size"</dt><dd>{map.size.to_string()}</dd></div>
                    <div><dt>"Allocated"</dt><dd data-testid="count-allocated">{map.allocated.to_string()}</dd></div>
                    <div><dt>"Reserved"</dt><dd>{map.reserved.to_string()}</dd></div>
                    <div><dt>"Free"</dt><dd data-testid="count-free">{map.free.to_string()}</dd></div>
                </dl>
                <UtilizationBar allocated=map.allocated reserved=map.reserved size=map.size />
            }
        }}
        <ul class="legend" aria-label="Legend">
            <li><span class="swatch swatch--free"></span>"free"</li>
            <li><span class="swatch swatch--allocated"></span>"allocated"</li>
            <li><span class="swatch swatch--reserved"></span>"reserved"</li>
        </ul>
        {status}
        <div class="pool-layout">
            <div>
                {move || {
                    let map = current.get();
                    let folded = map.folded;
                    view! {
                        <h2>{if folded { "Address map (runs of addresses in the same state)" } else { "Address map" }}</h2>
                        <ul class=if folded { "address-map address-map--folded" } else { "address-map" } data-testid="address-map">
                            {map.addresses.into_iter().map(|entry| {
                                let label = entry_label(&entry);
                                let class = format!("address address--{}", entry.state);
                                let text = entry.address.map(|a| a.to_string().rsplit(['.', ':']).next().unwrap_or_default().to_owned())
                                    .unwrap_or_else(|| format!("{}×", entry.count.unwrap_or_default()));
                                let data_address = entry.address.or(entry.start).map(|a| a.to_string()).unwrap_or_default();
                                let pick = entry.clone();
                                let focus = entry.clone();
                                let title = label.clone();
                                view! {
                                    <li>
                                        <button type="button" class=class title=title aria-label=label data-address=data_address
                                            on:click=move |_| selected.set(Some(pick.clone()))
                                            on:focus=move |_| selected.set(Some(focus.clone()))>
                                            {text}
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }
                }}
            </div>
            <aside class="address-details" aria-live="polite" data-testid="address-details">
                <h2>"Details"</h2>
                {move || match selected.get() {
                    None => view! { <p class="muted">"Select an address to see who holds it."</p> }.into_any(),
                    Some(entry) => {
                        let releasable = entry.address.map(|a| a.to_string()).filter(|_| entry.state != AddressState::Free);
                        let reserved = entry.state == AddressState::Reserved;
                        view! {
                            <p>{entry_label(&entry)}</p>
                            {entry.by.clone().map(|by| view! { <p class="muted">{format!("Set by {by}")}</p> })}
                            {releasable.map(|address| view! {
                                <button type="button" class="button button--danger" data-testid="release"
                                    on:click=move |_| { release.dispatch((address.clone(), reserved)); }>
                                    {if reserved { "Lift reservation" } else { "Release" }}
                                </button>
                            })}
                            {entry.address.map(|address| view! { <AddressHistory address=address.to_string() /> })}
                        }.into_any()
                    }
                }}
            </aside>
        </div>
        <div class="pool-actions">
            <form class="form" on:submit=move |ev| { ev.prevent_default(); allocate.dispatch(()); }>
                <fieldset>
                    <legend>"Allocate a VIP"</legend>
                    <div class="field"><label for="alloc-owner">"Owner"</label><input id="alloc-owner" bind:value=owner placeholder="team-a" required /></div>
                    <div class="field"><label for="alloc-address">"Address"</label><input id="alloc-address" bind:value=address placeholder="empty: the lowest free address" /></div>
                    <div class="field"><label for="alloc-application">"Application"</label><input id="alloc-application" bind:value=application placeholder="api" /></div>
                    <div class="field"><label for="alloc-reason">"Reason"</label><input id="alloc-reason" bind:value=reason /></div>
                    <button type="submit" class="button button--primary" data-testid="allocate" disabled=move || allocate.pending().get()>"Allocate"</button>
                </fieldset>
            </form>
            <form class="form" on:submit=move |ev| { ev.prevent_default(); reserve.dispatch(()); }>
                <fieldset>
                    <legend>"Reserve addresses"</legend>
                    <div class="field"><label for="reserve-start">"First address"</label><input id="reserve-start" bind:value=reserve_start /></div>
                    <div class="field"><label for="reserve-stop">"Last address"</label><input id="reserve-stop" bind:value=reserve_stop placeholder="empty: just the first" /></div>
                    <div class="field"><label for="reserve-reason">"Reason"</label><input id="reserve-reason" bind:value=reserve_reason placeholder="kept for the network team" /></div>
                    <button type="submit" class="button" disabled=move || reserve.pending().get()>"Reserve"</button>
                </fieldset>
            </form>
        </div>
        <EditPool pool_id on_saved=move || refresh() />
        <p class="actions">
            <button type="button" class="button button--danger" on:click=move |_| { delete.dispatch(()); }>"Delete pool"</button>
            <a class="button" href=format!("/api/v1/pools/{pool_id}/addresses")>"Address map as JSON"</a>
        </p>
    }
}

/// Every change to one address, newest last.
#[component]
fn AddressHistory(address: String) -> impl IntoView {
    let history = Resource::new(move || address.clone(), address_history);
    view! {
        <h3 class="history-title">"History"</h3>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(events) if events.is_empty() => view! { <p class="muted">"Never allocated or reserved."</p> }.into_any(),
                    Ok(events) => view! {
                        <ol class="history" data-testid="address-history">
                            {events.into_iter().map(|event| {
                                let mut text = format!("{} by {}", event.action, event.by);
                                if let Some(owner) = event.owner { text.push_str(&format!(" for {owner}")); }
                                if let Some(application) = event.application { text.push_str(&format!(" ({application})")); }
                                if let Some(reason) = event.reason { text.push_str(&format!(": {reason}")); }
                                view! { <li><time>{event.at}</time>" "{text}</li> }
                            }).collect_view()}
                        </ol>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Rename a pool or change its blocks; the server checks the plan as for a new pool.
#[component]
fn EditPool(pool_id: i64, on_saved: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let pool = Resource::new(move || pool_id, get_pool);
    let name = RwSignal::new(String::new());
    let blocks = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(pool)) = pool.get() {
            name.set(pool.name.to_string());
            blocks.set(pool.blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "));
        }
    });
    let save = Action::new(move |(name, blocks): &(String, String)| {
        let name = name.trim().to_owned();
        let blocks = entries(blocks);
        async move { update_pool(pool_id, name, blocks).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            on_saved();
        }
    });
    view! {
        <details class="edit-pool">
            <summary>"Edit pool"</summary>
            <form class="form inline-form" on:submit=move |ev| { ev.prevent_default(); save.dispatch((name.get(), blocks.get())); }>
                <div class="field"><label for="edit-pool-name">"Name"</label><input id="edit-pool-name" bind:value=name /></div>
                <div class="field"><label for="edit-pool-blocks">"Blocks"</label><input id="edit-pool-blocks" bind:value=blocks /></div>
                <button type="submit" class="button button--primary" disabled=move || save.pending().get()>"Save pool"</button>
            </form>
            {move || save.value().get().map(|result| match result {
                Ok(()) => view! { <p class="notice notice--ok" role="status">"Saved."</p> }.into_any(),
                Err(AppError::Rejected(findings)) => view! { <RejectedNotice findings /> }.into_any(),
                Err(AppError::Fields(errors)) => view! {
                    <div class="notice notice--error" role="alert">
                        {errors.into_iter().map(|e| view! { <p>{format!("{}: {}", e.field, e.message)}</p> }).collect_view()}
                    </div>
                }.into_any(),
                Err(error) => view! { <ErrorNotice error /> }.into_any(),
            })}
        </details>
    }
}
