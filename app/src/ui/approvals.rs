//! Approvals: submissions to protected environments wait here for a network admin who is not
//! their requester. The approver reads the bundle and what it changes in the cluster before
//! approving or rejecting it.
use leptos::prelude::*;
use super::table::TableWrap;
use leptos_router::hooks::use_params_map;

use super::{
    layout::{EmptyState, PageHeader},
    pages::ErrorNotice,
    preview::PreviewObjects,
};
use crate::api::{
    AppError,
    approvals::{
        ApprovalDetail, ApprovalSummary, approve_submission, get_approval,
        list_approvals, reject_submission,
    },
    cluster::{Operation, SubmissionStatus},
};

fn operation_label(summary: &ApprovalSummary) -> String {
    let verb = if summary.operation == Operation::Teardown {
        "Tear down"
    } else {
        "Apply"
    };
    format!("{verb} {} in {}", summary.application, summary.environment)
}

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let waiting = Resource::new_blocking(|| (), |_| list_approvals());
    view! {
        <PageHeader
            title="Approvals"
            lead="A submission to a protected environment waits here until a network admin other than its requester reviews its bundle and diff, then approves or rejects it."
        />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match waiting.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="Nothing waits for approval">
                            <p>"Submissions to environments marked protected appear here. Mark an environment protected on its "<a href="/environments">"environment page"</a>"."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! { <ApprovalTable list /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ApprovalTable(list: Vec<ApprovalSummary>) -> impl IntoView {
    view! {
        <TableWrap label="Submissions waiting for approval"><table class="data-table" data-testid="approvals">
            <caption class="visually-hidden">"Submissions waiting for approval"</caption>
            <thead>
                <tr><th scope="col">"Submission"</th><th scope="col">"Change"</th><th scope="col">"Requested by"</th><th scope="col">"Since"</th><th scope="col"></th></tr>
            </thead>
            <tbody>
                {list.into_iter().map(|summary| {
                    let href = format!("/approvals/{}", summary.id);
                    let label = operation_label(&summary);
                    let review = if summary.own { "View (your own)" } else { "Review" };
                    view! {
                        <tr data-submission=summary.id.to_string()>
                            <td>{summary.id}</td>
                            <td>{label}</td>
                            <td>{summary.requested_by}</td>
                            <td><time datetime=summary.created_at.clone()>{summary.created_at.clone()}</time></td>
                            <td><a class="button" href=href>{review}</a></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></TableWrap>
    }
}

#[component]
pub fn ApprovalPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let detail = Resource::new_blocking(id, |id| async move {
        match id {
            Some(id) => get_approval(id).await,
            None => Err(AppError::NotFound(
                "a submission id is a number, as in /approvals/12".to_owned(),
            )),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the submission…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <Approval detail /> }.into_any(),
                    Err(error) => view! {
                        <PageHeader title="Approval" />
                        <ErrorNotice error />
                        <p><a href="/approvals">"Back to the approvals"</a></p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Approval(detail: ApprovalDetail) -> impl IntoView {
    let summary = detail.summary.clone();
    let id = summary.id;
    let waiting = detail.status == SubmissionStatus::AwaitingApproval;
    let title = format!("Submission {id}: {}", operation_label(&summary));
    let outcome = RwSignal::new(None::<Result<&'static str, String>>);
    let approve = Action::new(move |_: &()| approve_submission(id));
    let reason = RwSignal::new(String::new());
    let reject = Action::new(move |reason: &String| reject_submission(id, reason.clone()));
    Effect::new(move |_| match approve.value().get() {
        Some(Ok(())) => outcome.set(Some(Ok("approved: the bundle is being applied"))),
        Some(Err(error)) => outcome.set(Some(Err(error.to_string()))),
        None => {}
    });
    Effect::new(move |_| match reject.value().get() {
        Some(Ok(())) => outcome.set(Some(Ok("rejected: nothing was applied"))),
        Some(Err(AppError::Fields(errors))) => {
            outcome.set(Some(Err(errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; "))));
        }
        Some(Err(error)) => outcome.set(Some(Err(error.to_string()))),
        None => {}
    });
    let decided = move || matches!(outcome.get(), Some(Ok(_)));
    let busy = move || approve.pending().get() || reject.pending().get();
    let own = summary.own;
    let may_approve = waiting && !own;
    view! {
        <PageHeader title=title />
        <p><a href="/approvals">"All approvals"</a></p>
        <dl class="facts">
            <dt>"Status"</dt><dd data-testid="approval-status" data-status=detail.status.as_str()>{detail.status.in_words()}</dd>
            <dt>"Requested by"</dt><dd>{summary.requested_by.clone()}</dd>
            <dt>"Requested at"</dt><dd><time datetime=summary.created_at.clone()>{summary.created_at.clone()}</time></dd>
            <dt>"Message"</dt><dd>{detail.message.clone()}</dd>
        </dl>
        {own.then(|| view! {
            <p class="notice notice--warn" role="note">"You requested this submission, so you cannot approve it: another network admin must. You may reject it to withdraw it."</p>
        })}
        {waiting.then(|| view! {
            <section class="approval-decision" aria-labelledby="decision">
                <h2 id="decision">"Decision"</h2>
                <div class="actions">
                    <button type="button" class="button button--primary" data-testid="approve"
                        disabled=move || !may_approve || busy() || decided()
                        on:click=move |_| { approve.dispatch(()); }>"Approve and apply"</button>
                </div>
                <div class="field">
                    <label for="reject-reason">"Reason for rejecting (the requester reads it)"</label>
                    <textarea id="reject-reason" rows="2" prop:value=move || reason.get()
                        on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                </div>
                <div class="actions">
                    <button type="button" class="button button--danger" data-testid="reject"
                        disabled=move || busy() || decided()
                        on:click=move |_| { reject.dispatch(reason.get_untracked()); }>"Reject"</button>
                </div>
                {move || outcome.get().map(|outcome| match outcome {
                    Ok(done) => view! {
                        <p class="notice notice--ok" role="status" data-testid="decision">
                            {format!("Submission {id} {done}. ")}
                            <a href="/applications">"Follow it on Applications"</a>
                        </p>
                    }.into_any(),
                    Err(message) => view! { <p class="notice notice--error" role="alert">{message}</p> }.into_any(),
                })}
            </section>
        })}
        <Changes detail />
    }
}

#[component]
fn Changes(detail: ApprovalDetail) -> impl IntoView {
    let bundle = detail.bundle.clone();
    view! {
        <section aria-labelledby="changes">
            <h2 id="changes">"What it changes"</h2>
            {detail.diff_failure.map(|failure| view! {
                <p class="notice notice--error" role="alert">{format!("The diff against the cluster could not be computed: {failure}")}</p>
            })}
            {(!detail.deletes.is_empty()).then(|| view! {
                <p>"A teardown deletes these objects from the cluster, in this order, and releases their VIPs:"</p>
                <ol>{detail.deletes.iter().map(|object| view! { <li>{object.clone()}</li> }).collect_view()}</ol>
            })}
            {(!detail.diff.is_empty()).then(|| view! { <PreviewObjects objects=detail.diff /> })}
            <details class="output">
                <summary class="output__bar">"The bundle as requested (YAML, Secret data left out)"</summary>
                <pre class="output__text"><code>{bundle}</code></pre>
            </details>
        </section>
    }
}
