//! Certificates: the inventory (status, expiry timeline, owners, uses, sort and filter from the
//! query string so it works without JavaScript), the upload form, and one page per certificate
//! with its owners, chain and history.
//!
//! Everything that only shows data is rendered to HTML on the server ([`fragments`], not
//! compiled into the WASM bundle) and placed in the page as it is; only the upload form, the
//! owners' form and the delete button hydrate.
#[cfg(feature = "ssr")]
pub mod fragments;

use leptos::prelude::*;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_params_map, use_query_map},
};

use super::{
    environments::RejectedNotice,
    layout::PageHeader,
    pages::{ErrorNotice, NotFound},
};
use crate::api::{
    AppError,
    certificates::{delete_certificate, get_certificate, list_certificates, set_certificate_owners, upload_certificate},
};
use crate::domain::{
    CertificateUploadInput, FieldError, InventoryQuery, PrivateKeyPem,
    certificates::{CertificateOwners, SecretReferenceInput},
};

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
                    Ok(page) => {
                        let preselected = filters().environment;
                        view! {
                            <div class="inventory" inner_html=page.html></div>
                            {if page.environments.is_empty() {
                                view! {
                                    <p class="muted">"Certificates belong to an environment: "<A href="/environments/new">"create one first"</A>"."</p>
                                }.into_any()
                            } else {
                                view! { <UploadForm environments=page.environments preselected /> }.into_any()
                            }}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
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

fn messages(errors: &[FieldError], field: &str) -> Vec<String> {
    errors.iter().filter(|e| e.field == field).map(|e| e.message.clone()).collect()
}

/// The messages about the owners' list and its items (`owners[2]`).
fn owner_messages(errors: &[FieldError]) -> Vec<String> {
    errors.iter().filter(|e| e.field == "owners" || e.field.starts_with("owners[")).map(|e| e.message.clone()).collect()
}

/// The owners as typed: `None` when nothing was typed (a replacement keeps its owners).
fn typed_owners(text: &str) -> Option<Vec<String>> {
    let items = CertificateOwners::split(text);
    (!items.is_empty()).then_some(items)
}

/// The messages of one field, from the last answer of the server.
#[component]
fn FieldMessages(field: &'static str, errors: Memo<Vec<FieldError>>) -> impl IntoView {
    move || {
        messages(&errors.get(), field)
            .into_iter()
            .map(|message| view! { <p class="field__error" data-field=field>{message}</p> })
            .collect_view()
    }
}

#[component]
fn InputField(
    id: &'static str,
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    errors: Memo<Vec<FieldError>>,
    placeholder: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id bind:value=value placeholder=placeholder autocomplete="off"
                aria-invalid=move || !messages(&errors.get(), field).is_empty() />
            <FieldMessages field errors />
        </div>
    }
}

/// A PEM text area, filled by pasting or from a file read in the browser.
#[component]
fn PemField(
    id: &'static str,
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    errors: Memo<Vec<FieldError>>,
    problem: RwSignal<Option<String>>,
    help: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <textarea id=id rows="5" spellcheck="false" autocomplete="off" bind:value=value
                aria-invalid=move || !messages(&errors.get(), field).is_empty()></textarea>
            <input type="file" id=format!("{id}-file") accept=".pem,.crt,.cer,.key,.txt" aria-label=format!("{label}: read from a file")
                on:change=move |ev| read_file_into(ev, value, problem) />
            <FieldMessages field errors />
            <p class="field__help">{help}</p>
        </div>
    }
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
    let owners = RwSignal::new(String::new());
    let file_problem = RwSignal::new(None::<String>);
    let upload = Action::new(move |_: &()| {
        let input = if by_reference.get_untracked() {
            CertificateUploadInput {
                name: name.get_untracked(),
                secret_ref: Some(SecretReferenceInput { namespace: secret_namespace.get_untracked(), name: secret_name.get_untracked() }),
                owners: typed_owners(&owners.get_untracked()),
                ..CertificateUploadInput::default()
            }
        } else {
            CertificateUploadInput {
                name: name.get_untracked(),
                certificate_pem: Some(certificate_pem.get_untracked()),
                private_key_pem: Some(PrivateKeyPem::new(private_key_pem.get_untracked())),
                secret_ref: None,
                owners: typed_owners(&owners.get_untracked()),
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
    let errors = Memo::new(move |_| match upload.value().get() {
        Some(Err(AppError::Fields(errors))) => errors,
        _ => Vec::new(),
    });
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
                    <InputField id="upload-name" label="Name (the Secret the Gateway refers to)" field="name" value=name errors placeholder="api-tls" />
                </div>
                <div class="field">
                    <label for="upload-owners">"Owners: the namespaces that may use it"</label>
                    <input id="upload-owners" bind:value=owners placeholder="cd-service, team-x-*" autocomplete="off"
                        aria-invalid=move || !owner_messages(&errors.get()).is_empty() />
                    {move || owner_messages(&errors.get()).into_iter().map(|message| view! { <p class="field__error" data-field="owners">{message}</p> }).collect_view()}
                    <p class="field__help">"Namespace names, or prefixes ending in * (team-x-* is every namespace starting with team-x-), separated by commas. Only applications that this environment places in one of them may name the certificate; their bundles and submissions carry its key. Left empty, a replacement keeps the owners of the certificate it replaces, and a new certificate has none until you add them on its page."</p>
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
                <div hidden=by_reference>
                    <PemField id="upload-certificate" label="Certificate chain (PEM, the server's certificate first, then its intermediates)"
                        field="certificate_pem" value=certificate_pem errors problem=file_problem
                        help="-----BEGIN CERTIFICATE----- …; at most 1 MiB." />
                    <PemField id="upload-key" label="Private key (PEM: PKCS#8, PKCS#1 or SEC1, not encrypted)"
                        field="private_key_pem" value=private_key_pem errors problem=file_problem
                        help="RSA of 2048 bits or more, ECDSA P-256 or P-384, or Ed25519; at most 1 MiB. The key is encrypted before it is stored and is never shown again." />
                </div>
                <div class="field--pair" hidden=move || !by_reference.get()>
                    <InputField id="secret-namespace" label="Secret namespace" field="secret_ref.namespace" value=secret_namespace errors placeholder="cd-service" />
                    <InputField id="secret-name" label="Secret name" field="secret_ref.name" value=secret_name errors placeholder="api-tls" />
                    <p class="field__help">"Stored as a reference, pending: Gatehouse reads and checks the Secret once a cluster is connected. Until then the checklist warns (GH-CERT-UNVERIFIED)."</p>
                </div>
                {move || file_problem.get().map(|problem| view! { <p class="field__error" role="alert">{problem}</p> })}
                <FieldMessages field="secret_ref" errors />
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
                    Ok(page) => {
                        let id = page.id;
                        let delete_label = if page.is_current { "Delete certificate and its history" } else { "Delete this old version" };
                        view! {
                            <PageHeader title=page.title />
                            <div class="certificate" inner_html=page.html></div>
                            {(page.is_current && page.may_change_owners).then(|| view! { <OwnersForm id owners=page.owners.clone() /> })}
                            <DeleteButton id label=delete_label />
                        }.into_any()
                    }
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Who may use the certificate, for network admins to change (recorded in the audit log).
#[component]
fn OwnersForm(id: i64, owners: String) -> impl IntoView {
    let text = RwSignal::new(owners);
    let save = Action::new(move |_: &()| {
        let owners = text.get_untracked();
        async move { set_certificate_owners(id, owners).await }
    });
    let errors = Memo::new(move |_| match save.value().get() {
        Some(Err(AppError::Fields(errors))) => errors,
        _ => Vec::new(),
    });
    Effect::new(move |_| {
        if let Some(Ok(stored)) = save.value().get() {
            text.set(stored);
        }
    });
    view! {
        <section class="owners" aria-labelledby="owners-title">
            <h2 id="owners-title">"Change who may use it"</h2>
            <form class="form owners-form" on:submit=move |ev| { ev.prevent_default(); save.dispatch(()); }>
                <div class="field">
                    <label for="certificate-owners">"Owners: namespaces, or prefixes ending in *"</label>
                    <input id="certificate-owners" bind:value=text placeholder="cd-service, team-x-*" autocomplete="off"
                        aria-invalid=move || !owner_messages(&errors.get()).is_empty() />
                    {move || owner_messages(&errors.get()).into_iter().map(|message| view! { <p class="field__error" data-field="owners">{message}</p> }).collect_view()}
                    <p class="field__help">"Applications whose namespace is no longer an owner keep naming the certificate, but get neither a bundle nor a submission with it until they choose another one. Empty: no namespace may use it."</p>
                </div>
                <button type="submit" class="button" data-testid="save-owners" disabled=move || save.pending().get()>"Save owners"</button>
            </form>
            {move || match save.value().get() {
                Some(Ok(_)) => view! { <p class="notice" role="status" data-testid="owners-saved">"Owners saved. Reload the page to see who uses it now."</p> }.into_any(),
                Some(Err(AppError::Fields(_))) | None => ().into_any(),
                Some(Err(error)) => view! { <ErrorNotice error /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn DeleteButton(id: i64, label: &'static str) -> impl IntoView {
    let delete = Action::new(move |_: &()| async move { delete_certificate(id).await });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/certificates", Default::default());
        }
    });
    view! {
        <p class="actions">
            <button type="button" class="button button--danger" on:click=move |_| { delete.dispatch(()); } disabled=move || delete.pending().get()>{label}</button>
            <a class="button" href=format!("/api/v1/certificates/{id}")>"As JSON"</a>
        </p>
        {move || match delete.value().get() {
            Some(Err(error)) => view! { <div class="notice notice--error" role="alert">{error.to_string()}</div> }.into_any(),
            _ => ().into_any(),
        }}
    }
}
