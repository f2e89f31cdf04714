//! The self-service form of an application: what it runs and, per environment, its routes,
//! ConfigMap, certificate and VIP. The checklist runs in the browser on the plan as it would
//! be, its findings appear beside the fields they concern, and Save stays disabled while the
//! change would add an error the server refuses. Saving goes through the same repository as
//! `POST`/`PUT /api/v1/applications` (validation, plan guard, audit).
use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::{
    environments::{FindingItems, LiveChecklist, SaveActions, entries, field_messages, server_field_errors},
    layout::PageHeader,
    pages::{ErrorNotice, NotFound},
};
use crate::{
    api::{
        AppError, PlanSnapshot,
        applications::{get_application, save_application},
        load_plan,
    },
    domain::{
        AppEnvironmentInput, Application, ApplicationInput, CertificateInfo, EnvironmentName, FieldError, Finding, K8sName,
        NamespaceTemplate, NumberInput, Plan, Severity, certificates, change::new_errors, check_application, checklist::rule,
    },
};

#[component]
pub fn NewApplicationPage() -> impl IntoView {
    let plan = Resource::new_blocking(|| (), |_| load_plan());
    view! {
        <PageHeader
            title="New application"
            lead="Describe what runs and how each environment reaches it. The checklist runs as you type; Save stays disabled while the change would break a rule."
        />
        <Suspense fallback=|| view! { <p class="muted">"Loading the plan…"</p> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(snapshot) => view! { <ApplicationForm snapshot initial=None /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn EditApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let loaded = Resource::new_blocking(
        move || params.read().get("name").unwrap_or_default(),
        |name| async move { (get_application(name).await, load_plan().await) },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    (Ok(application), Ok(snapshot)) => view! {
                        <PageHeader
                            title=format!("Edit application {}", application.name)
                            lead="Changes are checked against the whole plan before they are saved."
                        />
                        <ApplicationForm snapshot initial=Some(application) />
                    }.into_any(),
                    (Err(AppError::NotFound(_)), _) => view! { <NotFound /> }.into_any(),
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// One environment's part of the form.
#[derive(Clone)]
struct EnvironmentFields {
    environment: String,
    deployed: RwSignal<bool>,
    hostnames: RwSignal<String>,
    paths: RwSignal<String>,
    /// `KEY=value` per line.
    config: RwSignal<String>,
    certificate: RwSignal<String>,
    /// `auto` (the next free address of the environment's pools, assigned by LB-IPAM) or `address`.
    vip_choice: RwSignal<String>,
    vip_address: RwSignal<String>,
    /// Not on the form; kept as stored so that editing does not lose it.
    external_traffic_policy: Option<String>,
}

/// The form's fields as the user typed them.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    namespace: RwSignal<String>,
    image: RwSignal<String>,
    replicas: RwSignal<String>,
    port: RwSignal<String>,
    readiness_path: RwSignal<String>,
    liveness_path: RwSignal<String>,
    environments: StoredValue<Vec<EnvironmentFields>>,
}

impl Fields {
    fn new(plan: &Plan, initial: Option<&Application>) -> Fields {
        let input = initial.map(ApplicationInput::from).unwrap_or_else(|| ApplicationInput {
            replicas: Some(NumberInput::Int(2)),
            port: Some(NumberInput::Int(8080)),
            ..Default::default()
        });
        let number = |value: &Option<NumberInput>| match value {
            Some(NumberInput::Int(n)) => n.to_string(),
            Some(NumberInput::Text(text)) => text.clone(),
            None => String::new(),
        };
        let environments = plan
            .environments
            .iter()
            .map(|environment| {
                let name = environment.name.to_string();
                let stored = input.environments.get(&name);
                let entry = stored.cloned().unwrap_or_else(|| AppEnvironmentInput { paths: vec!["/".to_owned()], ..Default::default() });
                let vip = entry.vip.clone().unwrap_or_else(|| "auto".to_owned());
                let automatic = vip.trim().is_empty() || vip.eq_ignore_ascii_case("auto");
                EnvironmentFields {
                    environment: name,
                    deployed: RwSignal::new(initial.is_none() || stored.is_some()),
                    hostnames: RwSignal::new(entry.hostnames.join("\n")),
                    paths: RwSignal::new(entry.paths.join("\n")),
                    config: RwSignal::new(entry.config.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("\n")),
                    certificate: RwSignal::new(entry.certificate.clone().unwrap_or_default()),
                    vip_choice: RwSignal::new(if automatic { "auto" } else { "address" }.to_owned()),
                    vip_address: RwSignal::new(if automatic { String::new() } else { vip }),
                    external_traffic_policy: entry.external_traffic_policy.clone(),
                }
            })
            .collect();
        Fields {
            name: RwSignal::new(input.name.clone()),
            namespace: RwSignal::new(input.namespace.clone()),
            image: RwSignal::new(input.image.clone()),
            replicas: RwSignal::new(number(&input.replicas)),
            port: RwSignal::new(number(&input.port)),
            readiness_path: RwSignal::new(input.readiness_path.clone().unwrap_or_default()),
            liveness_path: RwSignal::new(input.liveness_path.clone().unwrap_or_default()),
            environments: StoredValue::new(environments),
        }
    }

    /// The input the server gets, and the mistakes only the form can make (a ConfigMap line
    /// without `=`).
    fn input(&self) -> (ApplicationInput, Vec<FieldError>) {
        let text = |signal: RwSignal<String>| signal.get().trim().to_owned();
        let mut errors = Vec::new();
        let mut environments = BTreeMap::new();
        for e in self.environments.get_value().into_iter().filter(|e| e.deployed.get()) {
            let mut config = BTreeMap::new();
            for (number, line) in e.config.get().lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
                match line.split_once('=') {
                    Some((key, value)) => {
                        config.insert(key.trim().to_owned(), value.trim().to_owned());
                    }
                    None => errors.push(FieldError::new(
                        format!("environments.{}.config", e.environment),
                        "invalid_config_line",
                        format!("line {} `{}` has no `=`: write one KEY=value per line", number + 1, line.trim()),
                    )),
                }
            }
            let vip = if e.vip_choice.get() == "address" { text(e.vip_address) } else { "auto".to_owned() };
            if vip.is_empty() {
                errors.push(FieldError::new(
                    format!("environments.{}.vip", e.environment),
                    "required",
                    "type the VIP address, or choose the next free address",
                ));
            }
            let certificate = text(e.certificate);
            environments.insert(
                e.environment.clone(),
                AppEnvironmentInput {
                    hostnames: entries(&e.hostnames.get()),
                    paths: entries(&e.paths.get()),
                    config,
                    certificate: (!certificate.is_empty()).then_some(certificate),
                    vip: Some(vip),
                    external_traffic_policy: e.external_traffic_policy.clone(),
                },
            );
        }
        let optional = |signal: RwSignal<String>| Some(text(signal)).filter(|value| !value.is_empty());
        let input = ApplicationInput {
            name: text(self.name),
            namespace: text(self.namespace),
            image: text(self.image),
            replicas: optional(self.replicas).map(NumberInput::Text),
            port: optional(self.port).map(NumberInput::Text),
            readiness_path: optional(self.readiness_path),
            liveness_path: optional(self.liveness_path),
            environments,
        };
        (input, errors)
    }
}

/// The form fields a checklist finding is about, so it is shown beside them: `replicas`,
/// `readiness_path`, or `environments.<env>.<hostnames|config|certificate|vip>` for each
/// environment of the application the finding names. Findings about the plan elsewhere
/// (pools, the environment's own settings) concern no field and are listed with the rest.
pub fn finding_fields(finding: &Finding, application: &Application) -> Vec<String> {
    let environments = || {
        finding
            .objects
            .iter()
            .filter_map(|object| object.strip_prefix("environment/"))
            .filter(|name| application.environments.keys().any(|e| e.as_str() == *name))
    };
    let per_environment = |field: &str| environments().map(|e| format!("environments.{e}.{field}")).collect();
    let id = finding.rule.as_ref();
    if id == rule::PROD_REPLICAS.id {
        vec!["replicas".to_owned()]
    } else if id == rule::PROD_PROBES.id {
        vec!["readiness_path".to_owned()]
    } else if id == rule::HOSTNAME_DISTINCT.id {
        per_environment("hostnames")
    } else if id == rule::CONFIGMAP_DISTINCT.id {
        per_environment("config")
    } else if id == rule::GATEWAY_TLS.id {
        environments()
            .map(|e| {
                let no_hostname = application.environments.iter().any(|(name, entry)| name.as_str() == e && entry.hostnames.is_empty());
                format!("environments.{e}.{}", if no_hostname { "hostnames" } else { "certificate" })
            })
            .collect()
    } else if [rule::TLS_DISTINCT.id, rule::CERT_SAN.id, rule::CERT_EXPIRED.id, rule::CERT_EXPIRING.id, rule::CERT_MISSING.id, rule::CERT_UNVERIFIED.id]
        .contains(&id)
    {
        per_environment("certificate")
    } else if [rule::VIP_OUTSIDE_POOL.id, rule::VIP_DUPLICATE.id, rule::ARP_IPV6.id, rule::ARP_VIP_IN_SUBNET.id, rule::BGP_VIP_OUTSIDE_SUBNET.id]
        .contains(&id)
        && finding.objects.iter().any(|o| o == &format!("application/{}", application.name))
    {
        per_environment("vip")
    } else {
        Vec::new()
    }
}

/// What the checklist says about the application as typed: every finding of the
/// application on the plan as it would be, and those the server would refuse to save.
#[derive(Clone, PartialEq)]
struct Checked {
    application: Application,
    findings: Vec<Finding>,
    refused: Vec<Finding>,
}

#[component]
fn ApplicationForm(snapshot: PlanSnapshot, initial: Option<Application>) -> impl IntoView {
    let creating = initial.is_none();
    let PlanSnapshot { plan: before, now_unix } = snapshot;
    let fields = Fields::new(&before, initial.as_ref());
    let before = StoredValue::new(before);

    let typed = Memo::new(move |_| fields.input());
    let parsed = Memo::new(move |_| {
        let (input, mut errors) = typed.get();
        if creating && before.with_value(|plan| plan.application(input.name.trim()).is_some()) {
            errors.push(FieldError::new(
                "name",
                "application_exists",
                format!("an application named {:?} already exists; edit it instead, or choose another name", input.name),
            ));
        }
        if input.environments.is_empty() {
            errors.push(FieldError::new("environments", "required", "deploy to at least one environment"));
        }
        match (Application::try_from(input), errors.is_empty()) {
            (Ok(application), true) => {
                let refused = before.with_value(|plan| certificates::not_allowed(plan, &application));
                if refused.is_empty() { Ok(application) } else { Err(refused) }
            }
            (Ok(_), false) => Err(errors),
            (Err(parse), _) => {
                errors.extend(parse.into_vec());
                Err(errors)
            }
        }
    });
    let field_errors = Memo::new(move |_| parsed.get().err().unwrap_or_default());
    let checked = Memo::new(move |_| {
        let application = parsed.get().ok()?;
        before.with_value(|before| {
            let mut after = before.clone();
            after.applications.retain(|stored| stored.name != application.name);
            after.applications.push(application.clone());
            Some(Checked {
                findings: check_application(&after, application.name.as_str(), now_unix).findings,
                refused: new_errors(before, &after, now_unix),
                application,
            })
        })
    });
    let blocking = move || !field_errors.read().is_empty() || checked.read().as_ref().is_some_and(|c| !c.refused.is_empty());

    let save = Action::new(move |input: &ApplicationInput| {
        let input = input.clone();
        async move { save_application(input, creating).await }
    });
    let server_errors = server_field_errors(save);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(name)) = save.value().get() {
            let first = fields.environments.with_value(|list| list.iter().find(|e| e.deployed.get_untracked()).map(|e| e.environment.clone()));
            let target = match first {
                Some(environment) => format!("/applications/{name}/preview?environment={environment}"),
                None => "/applications".to_owned(),
            };
            navigate(&target, Default::default());
        }
    });

    let messages = move |field: &str| field_messages(&field_errors.read(), &server_errors.read(), field);
    let error_list = move |field: String| {
        move || {
            let errors = messages(&field).into_iter().map(|message| view! { <p class="field__error">{message}</p> });
            let findings = checked.with(|checked| {
                checked
                    .as_ref()
                    .map(|c| c.findings.iter().filter(|f| finding_fields(f, &c.application).contains(&field)).cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            });
            view! {
                {errors.collect_view()}
                {findings.into_iter().map(|finding| view! { <FieldFinding finding /> }).collect_view()}
            }
        }
    };
    let invalid = move |field: &'static str| move || (!messages(field).is_empty()).then_some("true");

    let environment_sections = fields
        .environments
        .get_value()
        .into_iter()
        .map(|e| {
            let certificates: Vec<CertificateInfo> = before.with_value(|plan| {
                plan.certificates.iter().flatten().filter(|c| c.environment.as_str() == e.environment).cloned().collect()
            });
            let pools = before.with_value(|plan| {
                plan.pools
                    .iter()
                    .filter(|p| p.environment.as_str() == e.environment)
                    .map(|p| format!("{} ({})", p.name, p.blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            let target = before.with_value(|plan| {
                plan.environments
                    .iter()
                    .find(|env| env.name.as_str() == e.environment)
                    .map(|env| (env.name.clone(), env.cluster_name().to_owned(), env.namespace_template.clone()))
            });
            let namespace = fields.namespace;
            let target = StoredValue::new(target);
            // The namespace this environment puts the application in, as typed so far.
            let namespace_there = Signal::derive(move || {
                let resolve = |(environment, _, template): &(EnvironmentName, String, NamespaceTemplate)| {
                    K8sName::parse(&namespace.get()).ok().and_then(|n| template.resolve(&n, environment).ok()).map(|n| n.to_string())
                };
                target.with_value(|target| target.as_ref().and_then(resolve))
            });
            let placement = Signal::derive(move || {
                target.with_value(|target| {
                    let Some((_, cluster, template)) = target else { return String::new() };
                    let namespace = namespace_there.get().unwrap_or_else(|| template.to_string());
                    format!("Goes to cluster {cluster}, namespace {namespace}.")
                })
            });
            view! { <EnvironmentSection fields=e certificates namespace_there pools placement error_list=error_list /> }
        })
        .collect_view();

    view! {
        <div class="editor">
            <form
                class="form application-form"
                novalidate
                on:submit=move |ev| {
                    ev.prevent_default();
                    if !blocking() {
                        save.dispatch(fields.input().0);
                    }
                }
            >
                <fieldset>
                    <legend>"Application"</legend>
                    <div class="field">
                        <label for="app-name">"Name"</label>
                        <input id="app-name" name="name" bind:value=fields.name readonly=!creating aria-invalid=invalid("name") placeholder="shop" />
                        <p class="field__help">"A DNS label: lower-case letters, digits and '-'. Names the Deployment, Service, Gateway and HTTPRoute."</p>
                        {error_list("name".to_owned())}
                    </div>
                    <div class="field">
                        <label for="app-namespace">"Namespace"</label>
                        <input id="app-namespace" name="namespace" bind:value=fields.namespace aria-invalid=invalid("namespace") placeholder="shop" />
                        {error_list("namespace".to_owned())}
                    </div>
                    <div class="field">
                        <label for="app-image">"Image"</label>
                        <input id="app-image" name="image" bind:value=fields.image aria-invalid=invalid("image") placeholder="registry.example/shop:1.0.0" />
                        {error_list("image".to_owned())}
                    </div>
                    <div class="field field--pair">
                        <div>
                            <label for="app-replicas">"Replicas"</label>
                            <input id="app-replicas" name="replicas" inputmode="numeric" bind:value=fields.replicas aria-invalid=invalid("replicas") />
                        </div>
                        <div>
                            <label for="app-port">"Container port"</label>
                            <input id="app-port" name="port" inputmode="numeric" bind:value=fields.port aria-invalid=invalid("port") />
                        </div>
                        <div>{error_list("replicas".to_owned())}</div>
                        <div>{error_list("port".to_owned())}</div>
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Probes"</legend>
                    <p class="field__help">"HTTP GET on the container port; a production environment needs both."</p>
                    <div class="field">
                        <label for="app-readiness">"Readiness path"</label>
                        <input id="app-readiness" name="readiness_path" bind:value=fields.readiness_path aria-invalid=invalid("readiness_path") placeholder="/actuator/health/readiness" />
                        {error_list("readiness_path".to_owned())}
                    </div>
                    <div class="field">
                        <label for="app-liveness">"Liveness path"</label>
                        <input id="app-liveness" name="liveness_path" bind:value=fields.liveness_path aria-invalid=invalid("liveness_path") placeholder="/actuator/health/liveness" />
                        {error_list("liveness_path".to_owned())}
                    </div>
                </fieldset>
                {environment_sections}
                {error_list("environments".to_owned())}
                <SaveActions save blocked=Signal::derive(blocking) test_id="save-application" label="Save and preview" cancel="/applications" />
            </form>
            <LiveChecklist title="Checklist for this application" field_errors checklist=move || match checked.get() {
                None => view! { <p class="muted">"Checking…"</p> }.into_any(),
                Some(c) if c.findings.is_empty() => view! {
                    <p class="all-clear" data-testid="checklist-clear">"Every rule passes: this application may be saved and submitted."</p>
                }.into_any(),
                Some(c) => {
                    let readiness = c.findings.iter().any(|f| f.severity == Severity::Error && !c.refused.contains(f));
                    view! {
                        {readiness.then(|| view! {
                            <p class="muted">"Errors about a certificate's readiness let you save, but block submitting until the certificate is uploaded or renewed."</p>
                        })}
                        <FindingItems findings=c.findings />
                    }.into_any()
                }
            } />
        </div>
    }
}

#[component]
fn EnvironmentSection<F, V>(
    fields: EnvironmentFields,
    /// The environment's certificates; the choice lists those its owners give `namespace_there`.
    certificates: Vec<CertificateInfo>,
    /// The namespace the environment puts the application in, once the namespace parses.
    namespace_there: Signal<Option<String>>,
    pools: String,
    /// The cluster and the namespace the environment puts the application in.
    placement: Signal<String>,
    error_list: F,
) -> impl IntoView
where
    F: Fn(String) -> V + Copy + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let env = fields.environment.clone();
    let id = move |what: &str| format!("app-{env}-{what}");
    let field = {
        let env = fields.environment.clone();
        move |what: &str| format!("environments.{env}.{what}")
    };
    let deployed = fields.deployed;
    let vip_choice = fields.vip_choice;
    let certificate = fields.certificate;
    // Only the certificates this application's namespace there may use; the chosen one too
    // when it is not among them, saying why (the error beside the field says what to do).
    let options = Memo::new(move |_| {
        let namespace = namespace_there.get();
        let mut options: Vec<(String, String)> = certificates
            .iter()
            .filter(|c| namespace.as_deref().is_some_and(|namespace| c.owners.admit(namespace)))
            .map(|c| (c.name.to_string(), if c.sans.is_empty() { c.name.to_string() } else { format!("{} — {}", c.name, c.sans.join(", ")) }))
            .collect();
        let chosen = certificate.get();
        if !chosen.is_empty() && !options.iter().any(|(name, _)| *name == chosen) {
            let why = match certificates.iter().find(|c| c.name.as_str() == chosen) {
                Some(c) => format!("not for namespace {} (owners: {})", namespace.as_deref().unwrap_or("?"), c.owners.describe()),
                None => "not uploaded yet".to_owned(),
            };
            options.push((chosen.clone(), format!("{chosen} — {why}")));
        }
        options
    });
    let pools = if pools.is_empty() { "this environment has no VIP pool yet".to_owned() } else { pools };
    let auto_label = format!("Next free address, assigned by LB-IPAM from {pools}");
    let legend = format!("Environment {}", fields.environment);
    let deploy_label = format!("Deploy to {}", fields.environment);
    let (hostnames_id, paths_id, config_id, certificate_id, vip_id, address_id, deploy_id) =
        (id("hostnames"), id("paths"), id("config"), id("certificate"), id("vip"), id("vip-address"), id("deployed"));
    let (for_hostnames, for_paths, for_config, for_certificate, for_vip, for_address) =
        (hostnames_id.clone(), paths_id.clone(), config_id.clone(), certificate_id.clone(), vip_id.clone(), address_id.clone());
    view! {
        <fieldset class="environment-fields" data-environment=fields.environment.clone()>
            <legend>{legend}</legend>
            <p class="field__help" data-testid="placement">{placement}</p>
            <div class="field field--check">
                <input id=deploy_id.clone() type="checkbox" bind:checked=deployed />
                <label for=deploy_id>{deploy_label}</label>
            </div>
            <Show when=move || deployed.get()>
                <div class="field">
                    <label for=for_hostnames.clone()>"Hostnames"</label>
                    <textarea id=hostnames_id.clone() rows="2" bind:value=fields.hostnames placeholder="shop-dev.mdhlabs.com"></textarea>
                    <p class="field__help">"One per line; each environment has its own. The Gateway's HTTPS listener answers for them."</p>
                    {error_list(field("hostnames"))}
                </div>
                <div class="field">
                    <label for=for_paths.clone()>"Paths"</label>
                    <textarea id=paths_id.clone() rows="1" bind:value=fields.paths placeholder="/"></textarea>
                    <p class="field__help">"HTTPRoute path prefixes, one per line; empty means every path."</p>
                    {error_list(field("paths"))}
                </div>
                <div class="field">
                    <label for=for_config.clone()>"ConfigMap entries"</label>
                    <textarea id=config_id.clone() rows="2" bind:value=fields.config placeholder="SPRING_PROFILES_ACTIVE=dev"></textarea>
                    <p class="field__help">"KEY=value, one per line; this environment's own settings."</p>
                    {error_list(field("config"))}
                </div>
                <div class="field">
                    <label for=for_certificate.clone()>"Certificate"</label>
                    <select id=certificate_id.clone() prop:value=move || certificate.get() on:change=move |ev| certificate.set(event_target_value(&ev))>
                        <option value="">"— none —"</option>
                        {move || options.get().into_iter().map(|(name, label)| {
                            let selected = certificate.get_untracked() == name;
                            view! { <option value=name selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                    <p class="field__help">"The TLS certificate this environment's Gateway terminates with. Listed: the environment's certificates whose owners include the namespace it puts the application in; a network admin uploads them, and adds owners, on the Certificates page."</p>
                    {error_list(field("certificate"))}
                </div>
                <div class="field">
                    <label for=for_vip.clone()>"Gateway VIP"</label>
                    <select id=vip_id.clone() prop:value=move || vip_choice.get() on:change=move |ev| vip_choice.set(event_target_value(&ev))>
                        <option value="auto">{auto_label.clone()}</option>
                        <option value="address">"This address"</option>
                    </select>
                    <div hidden=move || vip_choice.get() != "address">
                        <label for=for_address.clone() class="visually-hidden">"VIP address"</label>
                        <input id=address_id.clone() bind:value=fields.vip_address placeholder="an address from the environment's pool" />
                    </div>
                    {error_list(field("vip"))}
                </div>
            </Show>
        </fieldset>
    }
}

/// A checklist finding beside the field it concerns, with how to fix it.
#[component]
fn FieldFinding(finding: Finding) -> impl IntoView {
    let class = match finding.severity {
        Severity::Error => "field__finding field__finding--error",
        Severity::Warning => "field__finding field__finding--warning",
    };
    view! {
        <p class=class data-rule=finding.rule.to_string()>
            <a href=format!("/checklist#{}", finding.rule)><code>{finding.rule.to_string()}</code></a>
            " " {finding.message} " " <strong>"Fix: "</strong> {finding.hint}
        </p>
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use super::*;
    use crate::domain::seed_plan;

    #[test]
    fn findings_land_beside_the_fields_they_concern() {
        let mut plan = seed_plan();
        let api = &mut plan.applications[0];
        api.replicas = 1;
        let dev = api.environments.keys().next().unwrap().clone();
        let prod_hostnames = api.environments.values().nth(1).unwrap().hostnames.clone();
        api.environments.get_mut(&dev).unwrap().hostnames = prod_hostnames;
        let outside = crate::domain::VipRequest::parse("10.99.0.1").unwrap();
        api.environments.get_mut(&dev).unwrap().vip = outside;
        let application = plan.applications[0].clone();
        let report = check_application(&plan, "api", 0);
        let placed = |rule_id: &str| {
            report.findings.iter().filter(|f| f.rule == rule_id).flat_map(|f| finding_fields(f, &application)).collect::<Vec<_>>()
        };
        assert_eq!(placed(rule::PROD_REPLICAS.id), ["replicas"]);
        assert_eq!(placed(rule::HOSTNAME_DISTINCT.id), ["environments.dev.hostnames", "environments.prod.hostnames"]);
        assert_eq!(placed(rule::VIP_OUTSIDE_POOL.id), ["environments.dev.vip"]);
    }
}
