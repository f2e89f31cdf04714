//! Applications: per environment, submit the bundle to the cluster (or dry-run it), watch
//! every object's progress live, and tear it down after a confirmation. Submit stays disabled
//! while an error-level checklist rule fails, with the findings listed.
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    layout::{EmptyState, PageHeader},
    pages::{ErrorNotice, NotFound},
    table::TableWrap,
    verification::VerificationPanel,
};
use crate::api::{
    AppError,
    verification::Outcome,
    cluster::{
        AdoptTarget, ApplicationGlance, ApplicationTargets, EnvironmentGlance, ObjectState, Operation, SubmissionProgress, SubmissionStatus, TargetView,
        adopt_objects,
        get_application_glance, get_submission_progress, list_application_targets, retry_submission, submit_to_cluster, tear_down,
    },
};

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let applications = Resource::new_blocking(|| (), |_| list_application_targets());
    view! {
        <PageHeader
            title="Applications"
            lead="Submit an application's bundle to the cluster with server-side apply, watch every object become ready, and tear it down again. The checklist's errors block a submission."
        />
        <p class="actions"><a class="button button--primary" href="/applications/new">"New application"</a></p>
        <p class="muted">"The cluster, what it offers and the Gateway label fix: " <a href="/clusters">"Clusters"</a> "; every VIP's advertisement: " <a href="/vips">"VIPs"</a> "."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match applications.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No applications yet">
                            <p>"Create one with " <a href="/applications/new">"the form"</a> " (or POST /api/v1/applications); it appears here with a panel per environment."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => list.into_iter().map(|application| view! { <ApplicationCard application /> }).collect_view().into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ApplicationCard(application: ApplicationTargets) -> impl IntoView {
    let name = application.name.clone();
    let page = format!("/applications/{}", application.name);
    let namespace = format!("namespace {}", application.namespace);
    let edit = format!("/applications/{}/edit", application.name);
    view! {
        <section class="card submission-card" data-application=name.clone()>
            <h2><a href=page>{application.name.clone()}</a> <span class="muted">{namespace}</span></h2>
            <p><a class="button" href=edit>"Edit"</a></p>
            {application
                .targets
                .into_iter()
                .map(|target| view! { <TargetPanel application=name.clone() target /> })
                .collect_view()}
        </section>
    }
}

/// `/applications/{name}`: one application at a glance — what it runs, where each environment
/// puts it, how it is reached, what the checklist finds there, and the submission panel per
/// environment. An application the caller may not read is not found, like one that is not there.
#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let glance = Resource::new_blocking(move || params.read().get("name").unwrap_or_default(), get_application_glance);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match glance.await {
                    Ok(glance) => view! { <ApplicationGlanceView glance /> }.into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ApplicationGlanceView(glance: ApplicationGlance) -> impl IntoView {
    let application = glance.application;
    let name = application.name.to_string();
    let probe = |path: &Option<crate::domain::HttpPath>| path.as_ref().map_or_else(|| "none".to_owned(), |p| format!("HTTP GET {p}"));
    let (readiness, liveness) = (probe(&application.readiness_path), probe(&application.liveness_path));
    let edit = format!("/applications/{name}/edit");
    let topology = format!("/topology/applications/{name}");
    let environments = glance.environments;
    // The preview and the bundle are per environment: the first one's preview (it switches
    // between them), every one's bundle.
    let preview = environments.first().map(|e| {
        let href = format!("/applications/{name}/preview?environment={}", e.target.environment);
        view! { <a class="button" href=href>"Preview and diff"</a> }
    });
    let bundles = environments
        .iter()
        .map(|e| {
            let environment = e.target.environment.clone();
            let href = format!("/api/v1/applications/{name}/bundle.yaml?environment={environment}");
            view! { <a class="button" href=href>{format!("Bundle for {environment} (YAML)")}</a> }
        })
        .collect_view();
    let form = edit.clone();
    let environment_names = if environments.is_empty() {
        "none yet".to_owned()
    } else {
        environments.iter().map(|e| e.target.environment.clone()).collect::<Vec<_>>().join(", ")
    };
    view! {
        <PageHeader
            title=format!("Application {name}")
            lead="What it runs, where each environment puts it and how it is reached, what the checklist finds, and its submissions."
        />
        <p class="actions">
            <a class="button button--primary" href=edit>"Edit"</a>
            {preview}
            <a class="button" href=topology>"Topology"</a>
            {bundles}
            <a class="button" href="/applications">"All applications"</a>
        </p>
        <section class="card" data-testid="application-summary">
            <h2>"Workload"</h2>
            <dl class="facts">
                <dt>"Namespace"</dt><dd>{application.namespace.to_string()}</dd>
                <dt>"Image"</dt><dd><code>{application.image.to_string()}</code></dd>
                <dt>"Replicas"</dt><dd>{application.replicas}</dd>
                <dt>"Port"</dt><dd>{application.port.to_string()}</dd>
                <dt>"Readiness probe"</dt><dd>{readiness}</dd>
                <dt>"Liveness probe"</dt><dd>{liveness}</dd>
                <dt>"Environments"</dt><dd>{environment_names}</dd>
            </dl>
        </section>
        {environments.is_empty().then(|| view! {
            <EmptyState title="Not deployed to any environment">
                <p>"Add an environment on " <a href=form>"the form"</a> " to submit it somewhere."</p>
            </EmptyState>
        })}
        {environments
            .into_iter()
            .map(|environment| view! { <EnvironmentCard application=name.clone() environment /> })
            .collect_view()}
    }
}

/// One environment of an application's page: where it goes, how it is reached, its findings,
/// then the submission panel shared with the Applications list.
#[component]
fn EnvironmentCard(application: String, environment: EnvironmentGlance) -> impl IntoView {
    let EnvironmentGlance { target, hostnames, paths, fixed_vip, held, certificate, errors, warnings } = environment;
    let where_to = format!("cluster {} · namespace {}", target.cluster, target.namespace);
    let join = |list: Vec<String>, none: &str| if list.is_empty() { none.to_owned() } else { list.join(", ") };
    let hostnames = join(hostnames, "none");
    let paths = join(paths, "/ (every path)");
    let vip = match (fixed_vip, held) {
        (Some(fixed), _) => format!("fixed: {fixed}"),
        (None, Some(held)) => format!("auto: holds {held}"),
        (None, None) => "auto: no address held yet (LB-IPAM assigns the next free one on submission)".to_owned(),
    };
    let certificate = certificate.unwrap_or_else(|| "none (plain HTTP)".to_owned());
    let clean = errors.is_empty() && warnings.is_empty();
    let (glance, owner) = (target.environment.clone(), application.clone());
    view! {
        <section class="card submission-card" data-application=owner data-glance=glance>
            <h2>{format!("Environment {}", target.environment)}</h2>
            <dl class="facts">
                <dt>"Goes to"</dt><dd>{where_to}</dd>
                <dt>"Hostnames"</dt><dd>{hostnames}</dd>
                <dt>"Paths"</dt><dd>{paths}</dd>
                <dt>"VIP"</dt><dd>{vip}</dd>
                <dt>"Certificate"</dt><dd>{certificate}</dd>
            </dl>
            {clean.then(|| view! { <p class="muted" data-testid="findings-clean">"The checklist finds nothing here."</p> })}
            {(!errors.is_empty()).then(|| view! {
                <div class="notice notice--error" data-testid="findings-errors">
                    <p><strong>"Errors"</strong></p>
                    <ul>{errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                </div>
            })}
            {(!warnings.is_empty()).then(|| view! {
                <div class="notice notice--warn" data-testid="findings-warnings">
                    <p><strong>"Warnings"</strong></p>
                    <ul>{warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
                </div>
            })}
            <VerificationPanel application=application.clone() environment=target.environment.clone() />
            <TargetPanel application target />
        </section>
    }
}

/// Where a target stands in one phrase, as Argo CD shows sync and health: the latest
/// submission's result and, when there is one, the latest verification's; and the chip's tone.
fn target_status(latest: Option<&SubmissionProgress>, verified: Option<Outcome>) -> (String, &'static str) {
    let (submission, tone) = match latest.map(|p| (p.status, p.dry_run)) {
        None => ("not submitted", "none"),
        Some((SubmissionStatus::Ready, _)) => ("synced", "ok"),
        Some((SubmissionStatus::Validated, _)) => ("dry run passed, not applied", "none"),
        Some((SubmissionStatus::Applying, _)) => ("progressing", "warn"),
        Some((SubmissionStatus::TearingDown, _)) => ("deleting", "warn"),
        Some((SubmissionStatus::AwaitingApproval, _)) => ("awaiting approval", "warn"),
        Some((SubmissionStatus::Failed, _)) => ("failed", "error"),
        Some((SubmissionStatus::Rejected, _)) => ("rejected", "warn"),
        Some((SubmissionStatus::TornDown, _)) => ("torn down", "none"),
    };
    let live = latest.is_some_and(|p| p.status == SubmissionStatus::Ready);
    match verified.filter(|_| live) {
        Some(Outcome::Pass) => (format!("{submission} · verified"), tone),
        Some(Outcome::Fail) => (format!("{submission} · verification failed"), "error"),
        Some(Outcome::Unknown) => (format!("{submission} · verification unsure"), "warn"),
        None => (submission.to_owned(), tone),
    }
}

#[component]
pub(crate) fn TargetPanel(application: String, target: TargetView) -> impl IntoView {
    let environment = target.environment.clone();
    let verified = target.verified;
    let blocked = !target.errors.is_empty();
    let current = RwSignal::new(target.latest.clone());
    let problem = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(false);

    let poll = Action::new(move |id: &i64| get_submission_progress(*id));
    Effect::new(move |_| match poll.value().get() {
        Some(Ok(progress)) => {
            let running = progress.is_running();
            let id = progress.id;
            current.set(Some(progress));
            if running {
                set_timeout(move || { poll.dispatch(id); }, Duration::from_millis(300));
            }
        }
        Some(Err(error)) => problem.set(Some(error.to_string())),
        None => {}
    });
    if let Some(latest) = target.latest.as_ref().filter(|latest| latest.is_running()) {
        let id = latest.id;
        Effect::new(move |_| { poll.dispatch(id); });
    }

    let (app_for_submit, env_for_submit) = (application.clone(), environment.clone());
    let submit = Action::new(move |dry_run: &bool| {
        let (application, environment, dry_run) = (app_for_submit.clone(), env_for_submit.clone(), *dry_run);
        async move { submit_to_cluster(application, environment, dry_run).await }
    });
    let (app_for_teardown, env_for_teardown) = (application.clone(), environment.clone());
    let teardown = Action::new(move |_: &()| {
        let (application, environment) = (app_for_teardown.clone(), env_for_teardown.clone());
        async move { tear_down(application, environment).await }
    });
    let started = move |result: Option<Result<i64, crate::api::AppError>>| match result {
        Some(Ok(id)) => {
            problem.set(None);
            poll.dispatch(id);
        }
        Some(Err(error)) => problem.set(Some(error.to_string())),
        None => {}
    };
    Effect::new(move |_| started(submit.value().get()));
    Effect::new(move |_| started(teardown.value().get()));
    let retry = Action::new(move |id: &i64| retry_submission(*id));
    Effect::new(move |_| started(retry.value().get()));

    // Network admins let Gatehouse take over an object it did not create; the next
    // submission then applies Gatehouse's version of it.
    let adopted = RwSignal::new(None::<String>);
    let (app_for_adopt, env_for_adopt) = (application.clone(), environment.clone());
    let adopt = Action::new(move |object: &AdoptTarget| {
        let (application, environment, object) = (app_for_adopt.clone(), env_for_adopt.clone(), object.clone());
        async move { adopt_objects(application, environment, vec![object]).await }
    });
    Effect::new(move |_| match adopt.value().get() {
        Some(Ok(messages)) => {
            problem.set(None);
            adopted.set(Some(format!("{} Submit again to apply it.", messages.join(" "))));
        }
        Some(Err(error)) => problem.set(Some(error.to_string())),
        None => {}
    });
    let on_adopt = target.may_adopt.then(|| Callback::new(move |object: AdoptTarget| { adopt.dispatch(object); }));

    let busy = move || {
        current.get().is_some_and(|p| p.is_running()) || submit.pending().get() || teardown.pending().get() || retry.pending().get()
    };
    let preview = format!("/applications/{application}/preview?environment={environment}");
    let bundle = format!("/api/v1/applications/{application}/bundle.yaml?environment={environment}");
    let title = format!("{environment}{}", if target.protected { " (protected: a submission waits for approval)" } else { "" });
    let submit_label = format!("Submit to {environment}");
    let confirm_text = format!("Delete every object of {application} in {environment} from the cluster and release its VIPs?");
    let confirm_label = format!("Tear down {application} in {environment}?");
    let errors = target.errors.clone();
    view! {
        <div class="submission" data-environment=environment.clone()>
            <h3>{title} " " {move || {
                let (status, tone) = target_status(current.get().as_ref(), verified);
                view! { <span class=format!("status-chip status-chip--{tone}") data-testid="target-status">{status}</span> }
            }}</h3>
            <p class="muted">{format!("Cluster {} · namespace {}", target.cluster, target.namespace)}</p>
            {(!errors.is_empty()).then(|| view! {
                <div class="notice notice--error" role="alert">
                    <p>"The checklist finds errors; fix them before submitting:"</p>
                    <ul>{errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                </div>
            })}
            <div class="actions">
                <button type="button" class="button button--primary" disabled=move || blocked || busy()
                    on:click=move |_| { submit.dispatch(false); }>{submit_label}</button>
                <button type="button" class="button" disabled=move || blocked || busy()
                    on:click=move |_| { submit.dispatch(true); }>"Dry run"</button>
                <a class="button" href=preview>"Preview and diff"</a>
                <a class="button" href=bundle>"Bundle (YAML)"</a>
                <button type="button" class="button button--danger" disabled=busy
                    on:click=move |_| confirming.set(true)>"Tear down"</button>
            </div>
            <Show when=move || confirming.get()>
                <div class="notice notice--warn confirm" role="alertdialog" aria-label=confirm_label.clone()>
                    <p>{confirm_text.clone()}</p>
                    <div class="actions">
                        <button type="button" class="button button--danger"
                            on:click=move |_| { confirming.set(false); teardown.dispatch(()); }>"Yes, tear down"</button>
                        <button type="button" class="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </div>
                </div>
            </Show>
            {move || problem.get().map(|message| view! { <p class="notice notice--error" role="alert">{message}</p> })}
            {move || adopted.get().map(|message| view! { <p class="notice" role="status" data-testid="adopted">{message}</p> })}
            {move || current.get().filter(|p| p.status == SubmissionStatus::Failed && p.retryable).map(|p| {
                let id = p.id;
                view! {
                    <p class="actions">
                        <button type="button" class="button" data-testid="retry-submission" disabled=busy
                            on:click=move |_| { retry.dispatch(id); }>{format!("Retry submission {id}")}</button>
                        <span class="muted">" It failed for a cause that may have passed; a retry applies the same objects."</span>
                    </p>
                }
            })}
            {move || current.get().map(|progress| view! { <Progress progress on_adopt /> })}
        </div>
    }
}

/// A submission's objects and their states. An object that exists and Gatehouse did not
/// create (`unmanaged`) gets an Adopt button when `on_adopt` is given (network admins).
#[component]
fn Progress(progress: SubmissionProgress, on_adopt: Option<Callback<AdoptTarget>>) -> impl IntoView {
    let adoptable = progress.operation != Operation::Teardown;
    let heading = format!(
        "Submission {}{}: {}",
        progress.id,
        if !adoptable { " (teardown)" } else if progress.dry_run { " (dry run)" } else { "" },
        progress.status.in_words()
    );
    let who = match &progress.approved_by {
        Some(approver) => format!("requested by {} at {}, approved by {approver}", progress.requested_by, progress.created_at),
        None => format!("requested by {} at {}", progress.requested_by, progress.created_at),
    };
    view! {
        <div class="progress" data-status=progress.status.as_str()>
            <p><strong class="submission-status">{heading}</strong> " — " {progress.message.clone()}</p>
            <p class="muted">{who}</p>
            <TableWrap label=format!("Objects of submission {}", progress.id) plain=true><table class="table">
                <thead><tr><th>"Object"</th><th>"State"</th><th>"Message"</th></tr></thead>
                <tbody>
                    {progress.objects.into_iter().map(|object| {
                        let name = match &object.namespace {
                            Some(namespace) => format!("{} {namespace}/{}", object.kind, object.name),
                            None => format!("{} {}", object.kind, object.name),
                        };
                        let badge = format!("badge state state--{}", object.state);
                        let adopt = on_adopt.filter(|_| adoptable && object.state == ObjectState::Unmanaged).map(|on_adopt| {
                            let target = AdoptTarget { kind: object.kind.clone(), namespace: object.namespace.clone(), name: object.name.clone() };
                            view! {
                                <button type="button" class="button" data-testid="adopt-button"
                                    on:click=move |_| on_adopt.run(target.clone())>"Adopt"</button>
                            }
                        });
                        view! {
                            <tr data-state=object.state.as_str()>
                                <td>{name}</td>
                                <td><span class=badge>{object.state.as_str()}</span></td>
                                <td>{object.message} {adopt}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></TableWrap>
        </div>
    }
}
