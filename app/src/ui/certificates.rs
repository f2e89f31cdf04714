//! Certificates: the inventory (status, expiry timeline, uses, sort and filter from the query
//! string so it works without JavaScript), the upload form, and one page per certificate with
//! its chain and history. The server computes everything shown; these components lay it out.
use leptos::prelude::*;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_params_map, use_query_map},
};

use super::{
    environments::{RejectedNotice, messages_for},
    layout::{EmptyState, PageHeader},
    pages::{ErrorNotice, NotFound},
};
use crate::api::{
    AppError,
    certificates::{
        InventoryView, TIMELINE_WIDTH, TimelineView, delete_certificate, get_certificate, list_certificates,
        upload_certificate,
    },
};
use crate::domain::{
    CertificateStatus, CertificateUploadInput, CertificateView, FieldError, InventoryQuery, PrivateKeyPem,
    certificates::{InventorySort, SecretReferenceInput},
};

#[component]
fn StatusBadge(status: CertificateStatus) -> impl IntoView {
    view! { <span class=format!("status status--{}", status.as_str())>{status.label()}</span> }
}

/// A SHA-256 fingerprint as colon-separated byte pairs, the way browsers show it.
fn grouped(hex: &str) -> String {
    hex.as_bytes().chunks(2).map(|pair| String::from_utf8_lossy(pair).to_ascii_uppercase()).collect::<Vec<_>>().join(":")
}

fn day(rfc3339: &Option<String>) -> String {
    rfc3339.as_deref().and_then(|t| t.split('T').next()).unwrap_or("—").to_owned()
}

#[component]
pub fn CertificatesPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let map = query.read();
        let pairs = ["environment", "status", "sort"].map(|key| (key, map.get(key).unwrap_or_default()));
        InventoryQuery::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
    };
    let inventory = Resource::new_blocking(filters, list_certificates);
    view! {
        <PageHeader
            title="Certificates"
            lead="TLS certificates and keys per environment: parsed, checked against their key and the hostnames their Gateways serve, expiry tracked. Keys are encrypted at rest and never shown again."
        />
        <Suspense fallback=|| view! { <p class="muted">"Loading certificates…"</p> }>
            {move || Suspend::new(async move {
                match inventory.await {
                    Ok(inventory) => view! { <Inventory inventory filters=filters() /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Inventory(inventory: InventoryView, filters: InventoryQuery) -> impl IntoView {
    let InventoryView { certificates, total, environments, timeline } = inventory;
    let upload_environments = environments.clone();
    let preselected = filters.environment.clone();
    view! {
        <FilterForm environments filters />
        {if total == 0 {
            view! {
                <EmptyState title="No certificates uploaded yet">
                    <p>"Each environment's Gateway terminates TLS with a certificate of its own. Upload a PEM chain and its key below, or refer to a kubernetes.io/tls Secret in the cluster."</p>
                </EmptyState>
            }.into_any()
        } else if certificates.is_empty() {
            view! { <p class="muted" data-testid="no-match">{format!("None of the {total} certificates match these filters. ")}<a href="/certificates">"Show all"</a></p> }.into_any()
        } else {
            view! {
                <Timeline timeline />
                <CertificateTable certificates />
            }.into_any()
        }}
        <UploadForm environments=upload_environments preselected />
    }
}

/// Plain GET form: the filters live in the query string, so links can be shared and the
/// form works without JavaScript.
#[component]
fn FilterForm(environments: Vec<String>, filters: InventoryQuery) -> impl IntoView {
    let chosen_environment = filters.environment.clone().unwrap_or_default();
    let chosen_status = filters.status;
    let chosen_sort = filters.sort;
    view! {
        <form class="filters" method="get" action="/certificates" aria-label="Filter and sort">
            <div class="field">
                <label for="filter-environment">"Environment"</label>
                <select id="filter-environment" name="environment">
                    <option value="" selected=chosen_environment.is_empty()>"All environments"</option>
                    {environments.into_iter().map(|name| {
                        let selected = name == chosen_environment;
                        view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-status">"Status"</label>
                <select id="filter-status" name="status">
                    <option value="" selected=chosen_status.is_none()>"Any status"</option>
                    {CertificateStatus::ALL.into_iter().filter(|s| *s != CertificateStatus::Superseded).map(|status| view! {
                        <option value=status.as_str() selected=chosen_status == Some(status)>{status.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-sort">"Sort by"</label>
                <select id="filter-sort" name="sort">
                    {InventorySort::ALL.into_iter().map(|(sort, key, label)| view! {
                        <option value=key selected=chosen_sort == sort>{label}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button">"Apply"</button>
        </form>
    }
}

/// Validity periods as bars against the calendar; today and 30 days from now marked.
#[component]
fn Timeline(timeline: TimelineView) -> impl IntoView {
    const ROW: f64 = 26.0;
    const LABEL: f64 = 190.0;
    const TOP: f64 = 24.0;
    let height = TOP + ROW * timeline.bars.len() as f64 + 8.0;
    let full = LABEL + TIMELINE_WIDTH;
    let at = move |x: f64| format!("{:.1}", LABEL + x);
    view! {
        <figure class="timeline" data-testid="expiry-timeline">
            <figcaption>"Expiry timeline"</figcaption>
            <svg viewBox=format!("0 0 {full} {height}") role="img" aria-label="Validity of each certificate against the calendar, with today and the 30-day warning marked">
                {timeline.ticks.into_iter().map(|tick| view! {
                    <line class="timeline__tick" x1=at(tick.x) x2=at(tick.x) y1="16" y2=format!("{height}") />
                    <text class="timeline__tick-label" x=at(tick.x) y="12">{tick.label}</text>
                }).collect_view()}
                <rect class="timeline__warning" x=at(timeline.today) y="16" width=format!("{:.1}", timeline.warning - timeline.today) height=format!("{}", height - 16.0) />
                {timeline.bars.into_iter().enumerate().map(|(i, bar)| {
                    let y = TOP + ROW * i as f64;
                    let href = format!("/certificates/{}", bar.id);
                    view! {
                        <a href=href>
                            <title>{bar.title.clone()}</title>
                            <text class="timeline__label" x="0" y=format!("{:.1}", y + 14.0)>{bar.label}</text>
                            <rect class=format!("timeline__bar status--{}", bar.status.as_str()) x=at(bar.start) y=format!("{:.1}", y + 3.0)
                                width=format!("{:.1}", (bar.end - bar.start).max(2.0)) height="14" rx="3" />
                        </a>
                    }
                }).collect_view()}
                <line class="timeline__today" x1=at(timeline.today) x2=at(timeline.today) y1="16" y2=format!("{height}") />
                <text class="timeline__today-label" x=at(timeline.today) y=format!("{}", height - 2.0)>"today"</text>
            </svg>
        </figure>
    }
}

#[component]
fn CertificateTable(certificates: Vec<CertificateView>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="data-table certificates" data-testid="certificates">
                <thead>
                    <tr>
                        <th scope="col">"Environment"</th>
                        <th scope="col">"Certificate"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Names (SANs)"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Used by"</th>
                    </tr>
                </thead>
                <tbody>
                    {certificates.into_iter().map(|c| {
                        let row_id = format!("certificate-{}-{}", c.environment, c.name);
                        let (href, name) = (format!("/certificates/{}", c.id), c.name.clone());
                        let expires = match c.days_left {
                            Some(days) => format!("{} ({days} days)", day(&c.not_after)),
                            None => "—".to_owned(),
                        };
                        view! {
                            <tr data-testid=row_id>
                                <td>{c.environment.clone()}</td>
                                <th scope="row"><A href=href>{name}</A></th>
                                <td><StatusBadge status=c.status /><br /><span class="muted small">{c.status_detail.clone()}</span></td>
                                <td><ul class="plain">{c.sans.iter().map(|san| view! { <li><code>{san.clone()}</code></li> }).collect_view()}</ul></td>
                                <td>{expires}</td>
                                <td>{c.key_type.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                <td><Uses certificate=c /></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Uses(certificate: CertificateView) -> impl IntoView {
    if certificate.used_by.is_empty() {
        return view! { <span class="muted">"no application yet"</span> }.into_any();
    }
    view! {
        <ul class="plain">
            {certificate.used_by.into_iter().map(|u| view! {
                <li>"application "<strong>{u.application}</strong>", Gateway "<code>{u.gateway}</code></li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// Reads a chosen file into `into` in the browser (the server gets the text, as if pasted).
fn read_file_into(ev: leptos::ev::Event, into: RwSignal<String>, problem: RwSignal<Option<String>>) {
    #[cfg(feature = "hydrate")]
    {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
        if file.size() > crate::domain::certificates::MAX_PEM_BYTES as f64 {
            problem.set(Some(format!("{} is over 1 MiB; a certificate chain or a key file is at most 1 MiB", file.name())));
            return;
        }
        problem.set(None);
        leptos::task::spawn_local(async move {
            let text = wasm_bindgen_futures::JsFuture::from(file.text()).await.ok().and_then(|v| v.as_string());
            match text {
                Some(text) => into.set(text),
                None => problem.set(Some(format!("{} could not be read as text; choose a PEM file", file.name()))),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, into, problem);
}

#[component]
fn UploadForm(environments: Vec<String>, preselected: Option<String>) -> impl IntoView {
    let environment = RwSignal::new(preselected.filter(|e| environments.contains(e)).or_else(|| environments.first().cloned()).unwrap_or_default());
    let name = RwSignal::new(String::new());
    let by_reference = RwSignal::new(false);
    let certificate_pem = RwSignal::new(String::new());
    let private_key_pem = RwSignal::new(String::new());
    let secret_namespace = RwSignal::new(String::new());
    let secret_name = RwSignal::new(String::new());
    let file_problem = RwSignal::new(None::<String>);
    let upload = Action::new(move |_: &()| {
        let input = if by_reference.get_untracked() {
            CertificateUploadInput {
                name: name.get_untracked(),
                secret_ref: Some(SecretReferenceInput { namespace: secret_namespace.get_untracked(), name: secret_name.get_untracked() }),
                ..CertificateUploadInput::default()
            }
        } else {
            CertificateUploadInput {
                name: name.get_untracked(),
                certificate_pem: Some(certificate_pem.get_untracked()),
                private_key_pem: Some(PrivateKeyPem::new(private_key_pem.get_untracked())),
                secret_ref: None,
            }
        };
        let environment = environment.get_untracked();
        async move { upload_certificate(environment, input).await }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(uploaded)) = upload.value().get() {
            // The key has left the page; do not keep it in memory.
            private_key_pem.set(String::new());
            navigate(&format!("/certificates/{}", uploaded.id), Default::default());
        }
    });
    let field_errors = move || match upload.value().get() {
        Some(Err(AppError::Fields(errors))) => errors,
        _ => Vec::<FieldError>::new(),
    };
    let errors_for = move |field: &'static str| {
        move || {
            messages_for(&field_errors(), field)
                .into_iter()
                .map(|message| view! { <p class="field__error" data-field=field>{message}</p> })
                .collect_view()
        }
    };
    let invalid = move |field: &'static str| move || !messages_for(&field_errors(), field).is_empty();
    view! {
        <section class="upload" aria-labelledby="upload-title">
            <h2 id="upload-title">"Upload a certificate"</h2>
            <p class="muted">"A new upload for the same environment and name replaces the current certificate; the old one stays in its history. A certificate or key another environment has is refused (GH-TLS-DISTINCT)."</p>
            <form class="form upload-form" on:submit=move |ev| { ev.prevent_default(); upload.dispatch(()); }>
                <div class="field--pair">
                    <div class="field">
                        <label for="upload-environment">"Environment"</label>
                        <select id="upload-environment" on:change=move |ev| environment.set(event_target_value(&ev)) prop:value=environment>
                            {environments.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="upload-name">"Name (the Secret the Gateway refers to)"</label>
                        <input id="upload-name" bind:value=name placeholder="api-tls" autocomplete="off" aria-invalid=invalid("name") />
                        {errors_for("name")}
                    </div>
                </div>
                <fieldset class="source">
                    <legend>"Source"</legend>
                    <div class="field--check">
                        <input type="radio" id="source-pem" name="source" checked=move || !by_reference.get() on:change=move |_| by_reference.set(false) />
                        <label for="source-pem">"PEM certificate chain and private key"</label>
                    </div>
                    <div class="field--check">
                        <input type="radio" id="source-secret" name="source" checked=move || by_reference.get() on:change=move |_| by_reference.set(true) />
                        <label for="source-secret">"An existing kubernetes.io/tls Secret in the cluster"</label>
                    </div>
                </fieldset>
                <Show when=move || !by_reference.get() fallback=move || view! {
                    <div class="field--pair">
                        <div class="field">
                            <label for="secret-namespace">"Secret namespace"</label>
                            <input id="secret-namespace" bind:value=secret_namespace placeholder="cd-service" aria-invalid=invalid("secret_ref.namespace") />
                            {errors_for("secret_ref.namespace")}
                        </div>
                        <div class="field">
                            <label for="secret-name">"Secret name"</label>
                            <input id="secret-name" bind:value=secret_name placeholder="api-tls" aria-invalid=invalid("secret_ref.name") />
                            {errors_for("secret_ref.name")}
                        </div>
                        <p class="field__help">"Stored as a reference, pending: Gatehouse reads and checks the Secret once a cluster is connected. Until then the checklist warns (GH-CERT-UNVERIFIED)."</p>
                    </div>
                }>
                    <div class="field">
                        <label for="upload-certificate">"Certificate chain (PEM, the server's certificate first, then its intermediates)"</label>
                        <textarea id="upload-certificate" rows="6" spellcheck="false" bind:value=certificate_pem aria-invalid=invalid("certificate_pem")
                            placeholder="-----BEGIN CERTIFICATE-----"></textarea>
                        <input type="file" id="upload-certificate-file" accept=".pem,.crt,.cer,.txt"
                            aria-label="Read the certificate chain from a file" on:change=move |ev| read_file_into(ev, certificate_pem, file_problem) />
                        {errors_for("certificate_pem")}
                    </div>
                    <div class="field">
                        <label for="upload-key">"Private key (PEM: PKCS#8, PKCS#1 or SEC1, not encrypted)"</label>
                        <textarea id="upload-key" rows="4" spellcheck="false" autocomplete="off" bind:value=private_key_pem aria-invalid=invalid("private_key_pem")></textarea>
                        <input type="file" id="upload-key-file" accept=".pem,.key,.txt"
                            aria-label="Read the private key from a file" on:change=move |ev| read_file_into(ev, private_key_pem, file_problem) />
                        {errors_for("private_key_pem")}
                        <p class="field__help">"RSA of 2048 bits or more, ECDSA P-256 or P-384, or Ed25519; at most 1 MiB per file. The key is encrypted before it is stored and is never shown again."</p>
                    </div>
                </Show>
                {move || file_problem.get().map(|problem| view! { <p class="field__error" role="alert">{problem}</p> })}
                {errors_for("secret_ref")}
                <button type="submit" class="button button--primary" data-testid="upload-certificate" disabled=move || upload.pending().get()>
                    "Upload certificate"
                </button>
            </form>
            {move || match upload.value().get() {
                Some(Err(AppError::Rejected(findings))) => view! { <RejectedNotice findings test_id="certificate-rejected" /> }.into_any(),
                Some(Err(AppError::Fields(_))) | Some(Ok(_)) | None => ().into_any(),
                Some(Err(error)) => view! { <ErrorNotice error /> }.into_any(),
            }}
        </section>
    }
}

#[component]
pub fn CertificatePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let certificate = Resource::new_blocking(id, |id| async move {
        match id {
            Some(id) => get_certificate(id).await,
            None => Err(AppError::NotFound("a certificate id is a number".to_owned())),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the certificate…"</p> }>
            {move || Suspend::new(async move {
                match certificate.await {
                    Ok(certificate) => view! { <CertificateDetail certificate /> }.into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CertificateDetail(certificate: CertificateView) -> impl IntoView {
    let id = certificate.id;
    let title = format!("Certificate {} ({})", certificate.name, certificate.environment);
    let delete = Action::new(move |_: &()| async move { delete_certificate(id).await });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/certificates", Default::default());
        }
    });
    let history = certificate.history.clone().unwrap_or_default();
    let chain = certificate.chain.clone().unwrap_or_default();
    let is_current = certificate.superseded_at.is_none();
    let delete_label = if is_current { "Delete certificate and its history" } else { "Delete this old version" };
    let source = match &certificate.secret_ref {
        Some(reference) => format!("Secret {}/{} in the cluster", reference.namespace, reference.name),
        None => "uploaded PEM; the key is stored encrypted".to_owned(),
    };
    let fact = |label: &'static str, value: Option<String>| {
        value.map(|value| view! { <dt>{label}</dt><dd>{value}</dd> })
    };
    view! {
        <PageHeader title=title />
        <p><A href="/certificates">"← All certificates"</A></p>
        {certificate.current_id.map(|current| view! {
            <p class="notice" role="status">"This version was replaced. "<A href=format!("/certificates/{current}")>"See the current one"</A>"."</p>
        })}
        <p class="status-line" data-testid="certificate-status"><StatusBadge status=certificate.status />" "{certificate.status_detail.clone()}</p>
        <dl class="facts" data-testid="certificate-facts">
            {fact("Subject", certificate.subject.clone())}
            <dt>"Names (SANs)"</dt>
            <dd data-testid="certificate-sans">
                {if certificate.sans.is_empty() {
                    view! { <span class="muted">{if certificate.source == "secret" { "unknown until the Secret is read" } else { "none: browsers ignore the subject's CN, so this certificate covers no hostname" }}</span> }.into_any()
                } else {
                    view! { <ul class="plain">{certificate.sans.iter().map(|san| view! { <li><code>{san.clone()}</code></li> }).collect_view()}</ul> }.into_any()
                }}
            </dd>
            {fact("Issuer", certificate.issuer.clone())}
            {fact("Serial", certificate.serial.clone())}
            {fact("Valid from", certificate.not_before.clone())}
            {fact("Valid until", certificate.not_after.clone())}
            {fact("Key", certificate.key_type.clone().map(|k| format!("{k} ({} bits)", certificate.key_bits.unwrap_or_default())))}
            {fact("SHA-256 fingerprint", certificate.fingerprint_sha256.as_deref().map(grouped))}
            <dt>"Source"</dt><dd>{source}</dd>
            <dt>"Uploaded"</dt><dd>{format!("{} by {}", certificate.uploaded_at, certificate.uploaded_by)}</dd>
            {fact("Replaced", certificate.superseded_at.clone())}
        </dl>
        <h2>"Used by"</h2>
        {if certificate.used_by.is_empty() {
            view! { <p class="muted">{if is_current { "No application's Gateway uses this certificate yet." } else { "An old version is used by nothing." }}</p> }.into_any()
        } else {
            view! {
                <ul class="uses">
                    {certificate.used_by.clone().into_iter().map(|u| view! {
                        <li>
                            "Application "<strong>{u.application}</strong>", Gateway "<code>{u.gateway}</code>
                            ", serving "{u.hostnames.join(", ")}
                            {(!u.uncovered.is_empty()).then(|| view! { <span class="field__error">{format!(" — not covered: {}", u.uncovered.join(", "))}</span> })}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        {(!chain.is_empty()).then(|| view! {
            <h2>"Chain"</h2>
            <ol class="chain" data-testid="certificate-chain">
                {chain.into_iter().map(|link| view! {
                    <li>
                        <p><strong>{link.subject}</strong>{if link.is_ca { " (CA)" } else { "" }}</p>
                        <p class="muted">{format!("issued by {} · {} · valid {} to {} · {}", link.issuer, link.key_type, link.not_before, link.not_after, link.signature_algorithm)}</p>
                        <p class="muted"><code>{grouped(&link.fingerprint_sha256)}</code></p>
                    </li>
                }).collect_view()}
            </ol>
        })}
        <h2>"History"</h2>
        {if history.is_empty() {
            view! { <p class="muted">"No other versions."</p> }.into_any()
        } else {
            view! {
                <table class="data-table" data-testid="certificate-history">
                    <thead><tr><th scope="col">"Uploaded"</th><th scope="col">"Status"</th><th scope="col">"Valid until"</th><th scope="col">"Fingerprint"</th></tr></thead>
                    <tbody>
                        {history.into_iter().map(|version| {
                            let (href, uploaded) = (format!("/certificates/{}", version.id), version.uploaded_at.clone());
                            view! {
                            <tr>
                                <th scope="row"><A href=href>{uploaded}</A></th>
                                <td><StatusBadge status=version.status /></td>
                                <td>{day(&version.not_after)}</td>
                                <td><code>{version.fingerprint_sha256.clone().map(|f| f[..16].to_owned()).unwrap_or_default()}</code></td>
                            </tr>
                        }}).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <p class="actions">
            <button type="button" class="button button--danger" on:click=move |_| { delete.dispatch(()); } disabled=move || delete.pending().get()>{delete_label}</button>
            <a class="button" href=format!("/api/v1/certificates/{id}")>"As JSON"</a>
        </p>
        {move || match delete.value().get() {
            Some(Err(error)) => view! { <div class="notice notice--error" role="alert">{error.to_string()}</div> }.into_any(),
            _ => ().into_any(),
        }}
    }
}
