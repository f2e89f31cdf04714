//! Environments: the list, one environment, and the editor whose checklist runs in the
//! browser as you type (the same Rust rules the server applies on save).
use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_params_map},
};

use super::{
    layout::{DataTable, PageHeader},
    pages::{ErrorNotice, NotFound, joined, mode_label},
};
use crate::{
    api::{AppError, PlanSnapshot, delete_environment, get_environment, list_environments, load_plan, save_environment},
    domain::{
        AdvertisementInput, ArpInput, BgpInput, BgpPeerInput, Environment, EnvironmentInput, FieldError, Finding,
        LabelInput, NumberInput, Platform, RouterInput, Severity, change::new_findings, namespace_clashes,
    },
};

#[component]
pub fn EnvironmentsPage() -> impl IntoView {
    let environments = Resource::new_blocking(|| (), |_| list_environments());
    view! {
        <PageHeader
            title="Environments"
            lead="Each environment has its own node subnets, pod CIDRs, service CIDR and VIP advertisement. Dev and prod must never share a range."
        />
        <p class="actions"><A href="/environments/new" attr:class="button">"New environment"</A></p>
        <Suspense fallback=|| view! { <p class="muted">"Loading environments…"</p> }>
            {move || Suspend::new(async move {
                match environments.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="muted" data-testid="no-environments">"No environments yet."</p>
                    }.into_any(),
                    Ok(list) => view! { <EnvironmentTable environments=list /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn EnvironmentTable(environments: Vec<Environment>) -> impl IntoView {
    view! {
        <DataTable label="Environments" test_id="environments-table" caption="Environments and their address plan" columns=&["Environment", "Node subnets", "Pod CIDRs", "Service CIDR", "Advertisement", "Cluster · namespace"]>
            {environments
                .into_iter()
                .map(|environment| {
                    let name = environment.name.to_string();
                    view! {
                        <tr>
                            <th scope="row">
                                <A href=format!("/environments/{name}")>{name.clone()}</A>
                                {environment.protected.then(|| view! { <span class="badge badge--warn">"protected"</span> })}
                            </th>
                            <td>{joined(&environment.node_subnets)}</td>
                            <td>{joined(&environment.pod_cidrs)}</td>
                            <td>{environment.service_cidr.to_string()}</td>
                            <td>{mode_label(environment.advertisement.mode)}</td>
                            <td>{format!("{} · {}", environment.cluster_name(), environment.namespace_template)}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

/// The environment the URL's `name` names, loaded before the page is sent.
fn environment_in_url() -> Resource<Result<Environment, AppError>> {
    let params = use_params_map();
    Resource::new_blocking(move || params.read().get("name").unwrap_or_default(), get_environment)
}

#[component]
pub fn EnvironmentPage() -> impl IntoView {
    let environment = environment_in_url();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match environment.await {
                    Ok(environment) => view! { <EnvironmentDetail environment /> }.into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EnvironmentDetail(environment: Environment) -> impl IntoView {
    let name = environment.name.to_string();
    let advertisement = environment.advertisement.clone();
    let label = format!("{}={}", advertisement.label.key, advertisement.label.value);
    let delete = Action::new(move |name: &String| {
        let name = name.clone();
        async move { delete_environment(name).await }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/environments", Default::default());
        }
    });
    let confirm_name = name.clone();
    view! {
        <PageHeader
            title=format!("Environment {name}")
            lead="The address plan of this environment and how its VIPs are advertised."
        />
        <dl class="facts">
            <dt>"Node subnets"</dt>
            <dd>{joined(&environment.node_subnets)}</dd>
            <dt>"Node addresses"</dt>
            <dd>{joined(&environment.node_addresses)}</dd>
            <dt>"Pod CIDRs"</dt>
            <dd>{joined(&environment.pod_cidrs)}</dd>
            <dt>"Service CIDR"</dt>
            <dd>{environment.service_cidr.to_string()}</dd>
            <dt>"Advertisement"</dt>
            <dd>{mode_label(advertisement.mode)}</dd>
            <dt>"Advertisement label"</dt>
            <dd><code>{label}</code></dd>
            {advertisement.arp.map(|arp| view! {
                <dt>"ARP interfaces"</dt>
                <dd>{if arp.interfaces.is_empty() { "all".to_owned() } else { arp.interfaces.join(", ") }}</dd>
            })}
            {advertisement.bgp.map(|bgp| view! {
                <dt>"BGP"</dt>
                <dd>
                    {format!("local AS {}; peers: ", bgp.local_asn)}
                    {bgp.peers.iter().map(|peer| format!("{} (AS {}, {}, {})", peer.name, peer.asn, peer.address, platform_label(peer.platform))).collect::<Vec<_>>().join(", ")}
                </dd>
            })}
            <dt>"Client networks"</dt>
            <dd>{if environment.client_networks.is_empty() { "—".to_owned() } else { joined(&environment.client_networks) }}</dd>
            <dt>"Routers, clients to nodes"</dt>
            <dd>{if environment.routers.is_empty() {
                "—".to_owned()
            } else {
                environment.routers.iter().map(|router| format!("{} ({})", router.name, router.address)).collect::<Vec<_>>().join(" → ")
            }}</dd>
            <dt>"Cluster"</dt>
            <dd>{environment.cluster_name().to_owned()}</dd>
            <dt>"Namespace of an application"</dt>
            <dd><code>{environment.namespace_template.to_string()}</code></dd>
            <dt>"Protected"</dt>
            <dd>{if environment.protected { "yes: submissions wait for a network admin's approval" } else { "no" }}</dd>
        </dl>
        <div class="actions">
            <A href=format!("/environments/{name}/edit") attr:class="button">"Edit"</A>
            <button
                type="button"
                class="button button--danger"
                data-testid="delete-environment"
                disabled=move || delete.pending().get()
                on:click=move |_| {
                    if confirm(&format!("Delete environment {confirm_name}? This cannot be undone.")) {
                        delete.dispatch(confirm_name.clone());
                    }
                }
            >
                "Delete"
            </button>
            <A href="/environments">"All environments"</A>
        </div>
        {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
    }
}

fn platform_label(platform: Platform) -> &'static str {
    match platform {
        Platform::Hardware => "hardware",
        Platform::Vm => "virtual machine",
    }
}

/// A confirmation dialog in the browser; on the server there is nothing to confirm.
fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        window().confirm_with_message(message).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

#[component]
pub fn NewEnvironmentPage() -> impl IntoView {
    view! {
        <PageHeader
            title="New environment"
            lead="Plan where this environment's addresses live. The checklist runs as you type; Save stays disabled while an error remains."
        />
        <EnvironmentForm initial=None />
    }
}

#[component]
pub fn EditEnvironmentPage() -> impl IntoView {
    let environment = environment_in_url();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match environment.await {
                    Ok(environment) => view! {
                        <PageHeader
                            title=format!("Edit environment {}", environment.name)
                            lead="Changes are checked against the whole plan before they are saved."
                        />
                        <EnvironmentForm initial=Some(environment) />
                    }.into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Lines or commas → trimmed, non-empty entries.
pub(crate) fn entries(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form's fields as the user typed them.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    node_subnets: RwSignal<String>,
    node_addresses: RwSignal<String>,
    pod_cidrs: RwSignal<String>,
    service_cidr: RwSignal<String>,
    mode: RwSignal<String>,
    label_key: RwSignal<String>,
    label_value: RwSignal<String>,
    interfaces: RwSignal<String>,
    local_asn: RwSignal<String>,
    peers: RwSignal<String>,
    client_networks: RwSignal<String>,
    routers: RwSignal<String>,
    protected: RwSignal<bool>,
    cluster: RwSignal<String>,
    namespace_template: RwSignal<String>,
}

impl Fields {
    fn new(initial: Option<&Environment>) -> Fields {
        let input = initial.map(EnvironmentInput::from).unwrap_or_else(|| EnvironmentInput {
            advertisement: AdvertisementInput {
                mode: "arp".to_owned(),
                label: LabelInput { key: "gatehouse.io/advertise".to_owned(), value: String::new() },
                ..Default::default()
            },
            ..Default::default()
        });
        let lines = |values: &[String]| values.join("\n");
        let bgp = input.advertisement.bgp.clone().unwrap_or_default();
        let number = |value: &Option<NumberInput>| match value {
            Some(NumberInput::Int(n)) => n.to_string(),
            Some(NumberInput::Text(text)) => text.clone(),
            None => String::new(),
        };
        Fields {
            name: RwSignal::new(input.name.clone()),
            node_subnets: RwSignal::new(lines(&input.node_subnets)),
            node_addresses: RwSignal::new(lines(&input.node_addresses)),
            pod_cidrs: RwSignal::new(lines(&input.pod_cidrs)),
            service_cidr: RwSignal::new(input.service_cidr.clone()),
            mode: RwSignal::new(input.advertisement.mode.clone()),
            label_key: RwSignal::new(input.advertisement.label.key.clone()),
            label_value: RwSignal::new(input.advertisement.label.value.clone()),
            interfaces: RwSignal::new(
                input.advertisement.arp.as_ref().map(|arp| lines(&arp.interfaces)).unwrap_or_default(),
            ),
            local_asn: RwSignal::new(number(&bgp.local_asn)),
            peers: RwSignal::new(
                bgp.peers
                    .iter()
                    .map(|peer| {
                        let platform = peer.platform.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
                        let router_id = peer.router_id.as_deref().map(|id| format!(" {ROUTER_ID_WORD}{id}")).unwrap_or_default();
                        format!("{} {} {}{platform}{router_id}", peer.name, number(&peer.asn), peer.address)
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            client_networks: RwSignal::new(lines(&input.client_networks)),
            routers: RwSignal::new(
                input.routers.iter().map(|router| format!("{} {}", router.name, router.address)).collect::<Vec<_>>().join("\n"),
            ),
            protected: RwSignal::new(input.protected),
            cluster: RwSignal::new(input.cluster.clone()),
            namespace_template: RwSignal::new(input.namespace_template.clone()),
        }
    }

    fn input(&self) -> EnvironmentInput {
        let mode = self.mode.get();
        let uses_arp = mode == "arp" || mode == "both";
        let uses_bgp = mode == "bgp" || mode == "both";
        let label_value = self.label_value.get();
        EnvironmentInput {
            name: self.name.get().trim().to_owned(),
            node_subnets: entries(&self.node_subnets.get()),
            node_addresses: entries(&self.node_addresses.get()),
            pod_cidrs: entries(&self.pod_cidrs.get()),
            service_cidr: self.service_cidr.get().trim().to_owned(),
            advertisement: AdvertisementInput {
                mode,
                label: LabelInput {
                    key: self.label_key.get().trim().to_owned(),
                    value: if label_value.trim().is_empty() { self.name.get().trim().to_owned() } else { label_value.trim().to_owned() },
                },
                arp: uses_arp.then(|| ArpInput { interfaces: entries(&self.interfaces.get()), node_selector: BTreeMap::new() }),
                bgp: uses_bgp.then(|| BgpInput {
                    local_asn: Some(NumberInput::Text(self.local_asn.get().trim().to_owned())),
                    peers: word_lines(&self.peers.get())
                        .map(|mut words| {
                            let name = words.next().unwrap_or_default().to_owned();
                            let asn = words.next().map(|asn| NumberInput::Text(asn.to_owned()));
                            let address = words.next().unwrap_or_default().to_owned();
                            let (router_id, platform): (Vec<&str>, Vec<&str>) = words.partition(|w| w.starts_with(ROUTER_ID_WORD));
                            BgpPeerInput {
                                name,
                                asn,
                                address,
                                platform: platform.first().map(|p| (*p).to_owned()),
                                router_id: router_id.first().map(|id| id.trim_start_matches(ROUTER_ID_WORD).to_owned()),
                            }
                        })
                        .collect(),
                }),
            },
            protected: self.protected.get(),
            client_networks: entries(&self.client_networks.get()),
            routers: word_lines(&self.routers.get())
                .map(|mut words| RouterInput {
                    name: words.next().unwrap_or_default().to_owned(),
                    address: words.next().unwrap_or_default().to_owned(),
                })
                .collect(),
            external_router: None,
            cluster: self.cluster.get().trim().to_owned(),
            namespace_template: self.namespace_template.get().trim().to_owned(),
        }
    }
}

/// How a peer's line in the form gives its BGP router id: `router-id=10.255.0.1`.
const ROUTER_ID_WORD: &str = "router-id=";

/// The words of each non-empty line (a peer or a router per line).
fn word_lines(text: &str) -> impl Iterator<Item = std::str::SplitWhitespace<'_>> {
    text.lines().filter(|line| !line.trim().is_empty()).map(str::split_whitespace)
}

/// The messages for one field and its elements (`pod_cidrs` collects `pod_cidrs[1]` too).
pub(crate) fn messages_for(errors: &[FieldError], field: &str) -> Vec<String> {
    errors
        .iter()
        .filter(|error| {
            error.field == field
                || error.field.strip_prefix(field).is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
        })
        .map(|error| error.message.clone())
        .collect()
}

/// The field errors the server answered a save with (empty after any other answer).
pub(crate) fn server_field_errors<I, T>(save: Action<I, Result<T, AppError>>) -> Memo<Vec<FieldError>>
where
    I: Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Memo::new(move |_| match save.value().get() {
        Some(Err(AppError::Fields(errors))) => errors,
        _ => Vec::new(),
    })
}

/// The messages under one field: the browser's parse first, then the server's, once each.
pub(crate) fn field_messages(field_errors: &[FieldError], server_errors: &[FieldError], field: &str) -> Vec<String> {
    let mut messages = messages_for(field_errors, field);
    messages.extend(messages_for(server_errors, field));
    messages.dedup();
    messages
}

/// The foot of a plan form: Save (disabled while `blocked` or saving), Cancel back to
/// `cancel`, and what the save answered — the findings that refused it, a pointer to the
/// fields' messages, or the error.
#[component]
pub(crate) fn SaveActions<I, T>(
    save: Action<I, Result<T, AppError>>,
    #[prop(into)] blocked: Signal<bool>,
    test_id: &'static str,
    label: &'static str,
    cancel: &'static str,
) -> impl IntoView
where
    I: Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    view! {
        <div class="actions">
            <button type="submit" class="button button--primary" data-testid=test_id
                disabled=move || blocked.get() || save.pending().get()>
                {move || if save.pending().get() { "Saving…" } else { label }}
            </button>
            <A href=cancel>"Cancel"</A>
        </div>
        {move || match save.value().get() {
            Some(Err(AppError::Rejected(findings))) => Some(view! { <RejectedNotice findings /> }.into_any()),
            Some(Err(AppError::Fields(_))) => Some(view! {
                <p class="notice notice--error" role="alert">"Some fields need fixing; see the messages above."</p>
            }.into_any()),
            Some(Err(error)) => Some(view! { <ErrorNotice error /> }.into_any()),
            _ => None,
        }}
    }
}

/// The checklist beside a plan form: how many fields to fix while any fails to parse,
/// otherwise what `checklist` shows for the change as it stands.
#[component]
pub(crate) fn LiveChecklist<F>(title: &'static str, #[prop(into)] field_errors: Signal<Vec<FieldError>>, checklist: F) -> impl IntoView
where
    F: Fn() -> AnyView + Send + Sync + 'static,
{
    view! {
        <aside class="live-checklist" aria-live="polite" aria-labelledby="live-checklist-title" data-testid="live-checklist">
            <h2 id="live-checklist-title">{title}</h2>
            {move || {
                let count = field_errors.read().len();
                if count > 0 {
                    return view! {
                        <p class="muted">{format!("{count} field{} to fix before the plan can be checked.", if count == 1 { "" } else { "s" })}</p>
                    }.into_any();
                }
                checklist()
            }}
        </aside>
    }
}

/// One list of addresses or names in the environment form: a labelled textarea (one entry a
/// line), its help, and the messages for its `field`.
#[derive(Clone, Copy)]
struct ListField {
    id: &'static str,
    label: &'static str,
    rows: &'static str,
    field: &'static str,
    placeholder: &'static str,
    help: Option<&'static str>,
}

#[component]
fn EnvironmentForm(initial: Option<Environment>) -> impl IntoView {
    let creating = initial.is_none();
    let original_name = initial.as_ref().map(|environment| environment.name.to_string());
    let initial_placement = initial.as_ref().map(|environment| (environment.namespace_template.clone(), environment.cluster.clone()));
    let fields = Fields::new(initial.as_ref());
    let plan = Resource::new(|| (), |_| load_plan());

    let parsed = Memo::new(move |_| Environment::try_from(fields.input()));
    let field_errors = Memo::new(move |_| match parsed.get() {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_vec(),
    });
    // The checklist for this change: what it would add to the stored plan.
    let findings = Memo::new(move |_| -> Option<Vec<Finding>> {
        let PlanSnapshot { plan: before, now_unix } = plan.get()?.ok()?;
        let environment = parsed.get().ok()?;
        let mut after = before.clone();
        after.environments.retain(|stored| Some(stored.name.to_string()) != original_name && stored.name != environment.name);
        // The server refuses a new placement that lands on another environment's (GH-ENV-NAMESPACE);
        // say so here, beside the field, before Save.
        let placed_anew = initial_placement
            .as_ref()
            .is_none_or(|(template, cluster)| *template != environment.namespace_template || *cluster != environment.cluster);
        let clashes = if placed_anew { namespace_clashes(&after, &environment) } else { Vec::new() };
        after.environments.push(environment);
        let mut found = new_findings(&before, &after, now_unix);
        found.extend(clashes);
        Some(found)
    });
    let blocking = move || {
        !field_errors.read().is_empty()
            || findings.read().as_ref().is_some_and(|list| list.iter().any(|f| f.severity == Severity::Error))
    };

    let save = Action::new(move |input: &EnvironmentInput| {
        let input = input.clone();
        async move { save_environment(input, creating).await }
    });
    let server_errors = server_field_errors(save);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(name)) = save.value().get() {
            navigate(&format!("/environments/{name}"), Default::default());
        }
    });

    let error_list = move |field: &'static str| {
        move || {
            field_messages(&field_errors.read(), &server_errors.read(), field)
                .into_iter()
                .map(|message| view! { <p class="field__error">{message}</p> })
                .collect_view()
        }
    };
    let invalid = move |field: &'static str| {
        move || (!messages_for(&field_errors.read(), field).is_empty()).then_some("true")
    };
    let mode = fields.mode;
    let list_field = move |value: RwSignal<String>, list: ListField| {
        let ListField { id, label, rows, field, placeholder, help } = list;
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <textarea id=id rows=rows bind:value=value aria-invalid=invalid(field) placeholder=placeholder></textarea>
                {help.map(|help| view! { <p class="field__help">{help}</p> })}
                {error_list(field)}
            </div>
        }
    };

    view! {
        <div class="editor">
            <form
                class="form"
                novalidate
                on:submit=move |ev| {
                    ev.prevent_default();
                    if !blocking() {
                        save.dispatch(fields.input());
                    }
                }
            >
                <fieldset>
                    <legend>"Identity"</legend>
                    <div class="field">
                        <label for="env-name">"Name"</label>
                        <input id="env-name" name="name" bind:value=fields.name readonly=!creating
                            aria-invalid=invalid("name") aria-describedby="env-name-help" placeholder="staging" />
                        <p class="field__help" id="env-name-help">"A DNS label: lower-case letters, digits and '-'."</p>
                        {error_list("name")}
                    </div>
                    <div class="field field--check">
                        <input id="env-protected" type="checkbox" bind:checked=fields.protected />
                        <label for="env-protected">"Protected: submissions wait for a network admin's approval"</label>
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Cluster and namespaces"</legend>
                    <div class="field">
                        <label for="env-cluster">"Cluster"</label>
                        <input id="env-cluster" name="cluster" bind:value=fields.cluster
                            aria-invalid=invalid("cluster") aria-describedby="env-cluster-help" placeholder="default" />
                        <p class="field__help" id="env-cluster-help">"The name Gatehouse is started with for the cluster (--cluster NAME=KUBECONFIG); empty: the default cluster. The Clusters page lists them."</p>
                        {error_list("cluster")}
                    </div>
                    <div class="field">
                        <label for="env-namespace-template">"Namespace template"</label>
                        <input id="env-namespace-template" name="namespace_template" bind:value=fields.namespace_template
                            aria-invalid=invalid("namespace_template") aria-describedby="env-namespace-template-help" placeholder="{namespace}" />
                        <p class="field__help" id="env-namespace-template-help">"The namespace an application gets here: {namespace} is the application's, {environment} this environment's name, e.g. {namespace}-dev. Environments sharing a cluster need different namespaces."</p>
                        {error_list("namespace_template")}
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Addresses"</legend>
                    {list_field(fields.node_subnets, ListField {
                        id: "env-node-subnets", label: "Node subnets", rows: "2", field: "node_subnets", placeholder: "192.168.101.0/24",
                        help: Some("One CIDR per line: the subnets the nodes' interfaces are on."),
                    })}
                    {list_field(fields.node_addresses, ListField {
                        id: "env-node-addresses", label: "Node addresses", rows: "3", field: "node_addresses", placeholder: "192.168.101.11",
                        help: None,
                    })}
                    {list_field(fields.pod_cidrs, ListField {
                        id: "env-pod-cidrs", label: "Pod CIDRs", rows: "2", field: "pod_cidrs", placeholder: "10.30.0.0/16",
                        help: Some("Distinct from every other environment's pod CIDRs."),
                    })}
                    <div class="field">
                        <label for="env-service-cidr">"Service CIDR"</label>
                        <input id="env-service-cidr" bind:value=fields.service_cidr aria-invalid=invalid("service_cidr") placeholder="10.98.0.0/16" />
                        {error_list("service_cidr")}
                    </div>
                    {list_field(fields.client_networks, ListField {
                        id: "env-clients", label: "Client networks", rows: "2", field: "client_networks", placeholder: "192.168.99.0/24",
                        help: Some("Where the clients are; drawn in the topology diagrams."),
                    })}
                    {list_field(fields.routers, ListField {
                        id: "env-routers", label: "Routers", rows: "2", field: "routers", placeholder: "edge 192.168.99.1\ncore 192.168.101.1",
                        help: Some("One per line: name and address, from the clients to the node subnet; the last is the node subnet's gateway. Drawn in the topology diagrams."),
                    })}
                </fieldset>
                <fieldset>
                    <legend>"VIP advertisement"</legend>
                    <div class="field">
                        <label for="env-mode">"Mode"</label>
                        <select id="env-mode" prop:value=move || mode.get() on:change=move |ev| mode.set(event_target_value(&ev))>
                            <option value="arp">"ARP — L2 announcements (VIPs inside the node subnet)"</option>
                            <option value="bgp">"BGP — /32 routes to an external router"</option>
                            <option value="both">"Both"</option>
                        </select>
                        {error_list("advertisement.mode")}
                    </div>
                    <div class="field field--pair">
                        <div>
                            <label for="env-label-key">"Label key"</label>
                            <input id="env-label-key" bind:value=fields.label_key aria-invalid=invalid("advertisement.label") />
                        </div>
                        <div>
                            <label for="env-label-value">"Label value"</label>
                            <input id="env-label-value" bind:value=fields.label_value placeholder="the environment's name" />
                        </div>
                        <p class="field__help">"Pools and the L2/BGP policies select Services by this label; Gatehouse also puts it on each Gateway's generated Service."</p>
                        {error_list("advertisement.label")}
                    </div>
                    <Show when=move || mode.get() != "bgp">
                        <div class="field">
                            <label for="env-interfaces">"ARP interfaces"</label>
                            <textarea id="env-interfaces" rows="2" bind:value=fields.interfaces placeholder="^eth[0-9]+$"></textarea>
                            <p class="field__help">"Regular expressions, one per line; empty means every interface."</p>
                            {error_list("advertisement.arp")}
                        </div>
                    </Show>
                    <Show when=move || mode.get() != "arp">
                        <div class="field">
                            <label for="env-local-asn">"Local ASN (Cilium)"</label>
                            <input id="env-local-asn" inputmode="numeric" bind:value=fields.local_asn placeholder="65001" />
                            {error_list("advertisement.bgp.local_asn")}
                        </div>
                        <div class="field">
                            <label for="env-peers">"BGP peers"</label>
                            <textarea id="env-peers" rows="2" bind:value=fields.peers placeholder="frr 65000 192.168.101.1"></textarea>
                            <p class="field__help">"One per line: name, ASN, address, vm when the router is a virtual machine (FRR on a VM may not forward into the cluster), and router-id=<IPv4> when the router is reached over IPv6 (it needs a BGP identifier)."</p>
                            {error_list("advertisement.bgp")}
                        </div>
                    </Show>
                </fieldset>
                <SaveActions save blocked=Signal::derive(blocking) test_id="save-environment" label="Save environment" cancel="/environments" />
            </form>
            <LiveChecklist title="Checklist for this change" field_errors checklist=move || match findings.get() {
                None => view! { <p class="muted">"Loading the stored plan…"</p> }.into_any(),
                Some(list) if list.is_empty() => view! {
                    <p class="all-clear" data-testid="checklist-clear">"No new findings: this change keeps the plan clean."</p>
                }.into_any(),
                Some(list) => view! { <FindingItems findings=list /> }.into_any(),
            } />
        </div>
    }
}

#[component]
pub fn FindingItems(findings: Vec<Finding>) -> impl IntoView {
    view! {
        <ul class="findings">
            {findings.into_iter().map(|finding| {
                let (class, label) = match finding.severity {
                    Severity::Error => ("finding finding--error", "error"),
                    Severity::Warning => ("finding finding--warning", "warning"),
                };
                view! {
                    <li class=class data-rule=finding.rule.to_string()>
                        <p class="finding__head">
                            <span class="finding__severity">{label}</span>
                            <a class="finding__rule" href=format!("/checklist#{}", finding.rule)><code>{finding.rule.to_string()}</code></a>
                        </p>
                        <p class="finding__message">{finding.message}</p>
                        <p class="finding__hint"><strong>"Fix: "</strong>{finding.hint}</p>
                        <p class="finding__objects muted">
                            {finding.objects.into_iter().map(|object| view! { <ObjectLink object /> }).collect_view()}
                        </p>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// A checklist object (`environment/dev`, `pool/dev-vips`, `application/api`, …) linked to the
/// page where it is fixed.
#[component]
pub fn ObjectLink(object: String) -> impl IntoView {
    let href = match object.split_once('/') {
        Some(("environment", name)) => Some(format!("/environments/{name}/edit")),
        Some(("pool", _)) => Some("/pools".to_owned()),
        Some(("application", _)) => Some("/checklist".to_owned()),
        Some(("certificate", place)) => {
            Some(format!("/certificates?environment={}", place.split('/').next().unwrap_or_default()))
        }
        _ => None,
    };
    match href {
        Some(href) => view! { <a class="object-link" href=href>{object}</a> }.into_any(),
        None => view! { <span class="object-link">{object}</span> }.into_any(),
    }
}

/// The server refused a change because it would break error-level checklist rules.
#[component]
pub fn RejectedNotice(findings: Vec<Finding>, #[prop(optional)] test_id: Option<&'static str>) -> impl IntoView {
    view! {
        <div class="notice notice--error" role="alert" data-testid=test_id>
            <p><strong>"The server refused the change:"</strong></p>
            <FindingItems findings />
        </div>
    }
}
