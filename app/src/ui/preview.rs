//! The preview of one application in one environment: each object's YAML and its fields
//! against the live cluster (added, changed, unchanged) from a server-side-apply dry run,
//! with the submit panel below it.
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    applications::TargetPanel,
    layout::{DataTable, PageHeader},
    pages::{ErrorNotice, NotFound},
};
use crate::api::{
    AppError,
    applications::{PreviewItem, preview_application},
    cluster::list_application_targets,
};

#[component]
pub fn ApplicationPreviewPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let target = move || (params.read().get("name").unwrap_or_default(), query.read().get("environment").unwrap_or_default());
    let loaded = Resource::new_blocking(target, |(application, environment)| async move {
        let targets = list_application_targets().await;
        (preview_application(application, environment).await, targets)
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Asking the cluster for a dry run…"</p> }>
            {move || Suspend::new(async move {
                let (application, environment) = target();
                match loaded.await {
                    (Ok(objects), Ok(targets)) => {
                        let Some(found) = targets.into_iter().find(|t| t.name == application) else {
                            return view! { <NotFound /> }.into_any();
                        };
                        let others = found.targets.iter().map(|t| t.environment.clone()).filter(|e| *e != environment).collect::<Vec<_>>();
                        let panel = found.targets.into_iter().find(|t| t.environment == environment);
                        let edit = format!("/applications/{application}/edit");
                        view! {
                            <PageHeader
                                title=format!("Preview {application} in {environment}")
                                lead="What a submission would apply, object by object, compared field by field with what is live in the cluster now. Nothing has been written."
                            />
                            <p class="actions">
                                <a class="button" href=edit>"Edit the application"</a>
                                {others.into_iter().map(|other| {
                                    let href = format!("/applications/{application}/preview?environment={other}");
                                    view! { <a class="button" href=href>{format!("Preview {other}")}</a> }
                                }).collect_view()}
                            </p>
                            <PreviewObjects objects />
                            {panel.map(|target| view! {
                                <section class="card submission-card" data-application=application.clone()>
                                    <h2>"Submit"</h2>
                                    <TargetPanel application=application.clone() target />
                                </section>
                            })}
                        }.into_any()
                    }
                    (Err(AppError::NotFound(_)), _) => view! { <NotFound /> }.into_any(),
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Every object of a bundle with its fields against the live cluster and its YAML (the
/// preview page, and an approval's diff).
#[component]
pub(crate) fn PreviewObjects(objects: Vec<PreviewItem>) -> impl IntoView {
    let totals = objects.iter().fold((0, 0, 0), |(a, c, u), o| (a + o.added, c + o.changed, u + o.unchanged));
    let summary = format!(
        "{} objects: {} fields added, {} changed, {} unchanged.",
        objects.len(),
        totals.0,
        totals.1,
        totals.2
    );
    view! {
        <p data-testid="preview-summary">{summary}</p>
        {objects.into_iter().map(|object| {
            let title = match &object.namespace {
                Some(namespace) => format!("{} {namespace}/{}", object.kind, object.name),
                None => format!("{} {}", object.kind, object.name),
            };
            let counts = format!(
                "{} — {} added, {} changed, {} unchanged",
                if object.live { "live in the cluster" } else { "new: not in the cluster yet" },
                object.added, object.changed, object.unchanged
            );
            let has_changes = object.changed > 0;
            view! {
                <section class="card preview-object" data-kind=object.kind.clone() data-live=object.live.to_string()>
                    <h2>{title}</h2>
                    <p class="muted">{counts}</p>
                    {object.note.map(|note| view! { <p class="notice notice--warn" role="status">{note}</p> })}
                    {object.info.map(|info| view! { <p class="notice" role="status">{info}</p> })}
                    <details open=has_changes>
                        <summary>"Fields against the live object"</summary>
                        <DataTable label="Fields against the live object" class="preview-fields" columns=&["Field", "Change", "Live", "Desired"]>
                            {object.fields.into_iter().map(|field| {
                                let badge = format!("badge change change--{}", field.change);
                                view! {
                                    <tr data-change=field.change.clone()>
                                        <td><code>{field.field}</code></td>
                                        <td><span class=badge>{field.change.clone()}</span></td>
                                        <td><code>{field.live.unwrap_or_else(|| "—".to_owned())}</code></td>
                                        <td><code>{field.desired}</code></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </DataTable>
                    </details>
                    <details>
                        <summary>"YAML"</summary>
                        <pre class="yaml"><code>{object.yaml}</code></pre>
                    </details>
                </section>
            }
        }).collect_view()}
    }
}
