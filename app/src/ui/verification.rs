//! An application environment's verification on its page: the Verify button, the latest
//! checks per hostname with their evidence and cause, and the latest report from a client
//! (`gatehouse verify --report`).
use leptos::prelude::*;

use super::table::TableWrap;
use crate::api::verification::{CheckResult, Outcome, Verification, get_verifications, verify_environment};

fn outcome_badge(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "badge badge--ok",
        Outcome::Fail => "badge badge--error",
        Outcome::Unknown => "badge badge--warn",
    }
}

/// What each check proves, for the table's caption.
fn check_title(check: &str) -> &str {
    match check {
        "assigned" => "VIP assigned from the planned pool",
        "announced" => "VIP announced (ARP or BGP)",
        "tls" => "TLS with the planned certificate",
        "http" => "HTTP through the Gateway",
        other => other,
    }
}

#[component]
pub fn VerificationPanel(application: String, environment: String) -> impl IntoView {
    let (app, env) = (application.clone(), environment.clone());
    let runs = Resource::new(move || (app.clone(), env.clone()), |(app, env)| get_verifications(app, env));
    let (app, env) = (application.clone(), environment.clone());
    let verify = Action::new(move |_: &()| verify_environment(app.clone(), env.clone()));
    let latest = RwSignal::new(None::<Verification>);
    Effect::new(move |_| {
        if let Some(Ok(run)) = verify.value().get() {
            latest.set(Some(run));
        }
    });
    view! {
        <div class="verification" data-testid="verification">
            <h3>"Verification"</h3>
            <p class="muted">"Proves that clients reach each hostname through its VIP with the planned certificate: the VIP assigned and announced, a TLS handshake with the hostname, and an HTTP request through the Gateway."</p>
            <button type="button" class="button" data-testid="verify-button" disabled=move || verify.pending().get() on:click=move |_| { verify.dispatch(()); }>
                {move || if verify.pending().get() { "Verifying…" } else { "Verify" }}
            </button>
            {move || verify.value().get().and_then(Result::err).map(|error| view! { <p class="notice notice--error" role="alert">{error.to_string()}</p> })}
            <Transition fallback=|| ()>
                {move || runs.get().map(|answer| match answer {
                    Err(error) => view! { <p class="notice notice--error" role="alert">{error.to_string()}</p> }.into_any(),
                    Ok(found) => {
                        let client = found.latest_from_client.map(|run| view! {
                            <p data-testid="verified-from" data-outcome=run.outcome.as_str()>
                                <span class=outcome_badge(run.outcome)>{run.outcome.as_str()}</span>
                                {format!(" verified from {} at {}", run.reporter.clone().unwrap_or_default(), run.created_at)}
                            </p>
                        });
                        let portal = found.latest;
                        view! {
                            {move || latest.get().or_else(|| portal.clone()).map(|run| view! { <Run run /> })}
                            {client}
                        }.into_any()
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn Run(run: Verification) -> impl IntoView {
    let rows = run.checks.into_iter().map(|check| view! { <CheckRow check /> }).collect_view();
    view! {
        <p data-testid="verification-outcome" data-outcome=run.outcome.as_str() data-run=run.id>
            <span class=outcome_badge(run.outcome)>{run.outcome.as_str()}</span>
            {format!(" from the portal at {}, by {}", run.created_at, run.requested_by)}
        </p>
        <TableWrap label=format!("Checks of verification {}", run.id) plain=true>
            <table class="table">
                <thead><tr><th>"Check"</th><th>"Hostname"</th><th>"Result"</th><th>"Evidence and cause"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </TableWrap>
    }
}

#[component]
fn CheckRow(check: CheckResult) -> impl IntoView {
    let CheckResult { check, hostname, outcome, evidence, reason, rule } = check;
    let why = reason.map(|reason| {
        let rule = rule.map(|rule| format!(" ({rule})")).unwrap_or_default();
        view! { <p class="verification__why"><strong>"Why: "</strong>{format!("{reason}{rule}")}</p> }
    });
    view! {
        <tr data-check=check.clone() data-outcome=outcome.as_str()>
            <td>{check_title(&check).to_owned()}</td>
            <td>{hostname.unwrap_or_else(|| "—".to_owned())}</td>
            <td><span class=outcome_badge(outcome)>{outcome.as_str()}</span></td>
            <td>
                <ul class="verification__evidence">{evidence.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
                {why}
            </td>
        </tr>
    }
}
