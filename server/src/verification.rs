//! Verification in the portal (issue 22): the dialer the verifier uses, the periodic run
//! (`--verify-interval`) and the `/metrics` lines.
use std::{fmt::Write as _, sync::Arc, time::Duration};

use backend::{
    auth::Principal,
    cluster::label_fix,
    verify::{self, DirectDialer, SharedDialer},
};
use views::verification::Outcome;

use crate::{Config, cluster::ClusterState, state::AppState};

/// The configured dialer; else, with a simulated cluster, its data path (VIP → loopback);
/// else the network.
pub fn dialer(config: &Config, clusters: &ClusterState) -> SharedDialer {
    if let Some(dialer) = &config.verify_dialer {
        return dialer.clone();
    }
    simulated_dialer(clusters).unwrap_or_else(|| Arc::new(DirectDialer))
}

#[cfg(feature = "demo")]
fn simulated_dialer(clusters: &ClusterState) -> Option<SharedDialer> {
    let simulated = clusters.simulated.first()?.clone();
    let resolve: verify::Resolve = Arc::new(move |address: &str| simulated.datapath().get(address).copied());
    Some(Arc::new(verify::MapDialer(resolve)))
}

#[cfg(not(feature = "demo"))]
fn simulated_dialer(_: &ClusterState) -> Option<SharedDialer> {
    None
}

/// Runs the checks of an application environment now, as `caller`.
pub async fn run(state: &AppState, caller: &Principal, application: &str, environment: &str) -> Result<views::verification::Verification, backend::db::DbError> {
    let label_fix_on = label_fix::enabled(&state.db).await.ok();
    verify::verify(
        &state.db,
        Some(&state.clusters.submitter.clusters),
        state.verify_dialer.as_ref(),
        caller,
        application,
        environment,
        label_fix_on,
        backend::plan::now_unix(),
    )
    .await
}

/// Verifies every application environment of the plan every `interval`, as Gatehouse itself.
pub fn spawn_periodic(state: &AppState, interval: Option<u64>) {
    let Some(seconds) = interval.filter(|s| *s > 0) else { return };
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(seconds));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let system = Principal::system("gatehouse-verifier");
        loop {
            tick.tick().await;
            let Ok(plan) = backend::plan::load_from(&state.db).await else { continue };
            for application in &plan.applications {
                for environment in application.environments.keys() {
                    if let Err(error) = run(&state, &system, application.name.as_str(), environment.as_str()).await {
                        tracing::warn!(application = %application.name, %environment, %error, "periodic verification failed");
                    }
                }
            }
        }
    });
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `gatehouse_verification_pass{application,environment,hostname,check}` (1 pass, 0 fail,
/// -1 unknown) of each latest portal run, and `gatehouse_verification_last_timestamp_seconds`.
pub async fn metrics_text(state: &AppState) -> String {
    let Ok((checks, last)) = verify::latest_all(&state.db).await else { return String::new() };
    let mut out = String::new();
    if !checks.is_empty() {
        out.push_str("# HELP gatehouse_verification_pass The latest verification check: 1 pass, 0 fail, -1 unknown.\n# TYPE gatehouse_verification_pass gauge\n");
        for (verification, check) in &checks {
            let value = match check.outcome {
                Outcome::Pass => 1,
                Outcome::Fail => 0,
                Outcome::Unknown => -1,
            };
            let _ = writeln!(
                out,
                "gatehouse_verification_pass{{application=\"{}\",environment=\"{}\",hostname=\"{}\",check=\"{}\"}} {value}",
                label(&verification.application),
                label(&verification.environment),
                label(check.hostname.as_deref().unwrap_or("")),
                label(&check.check)
            );
        }
    }
    if !last.is_empty() {
        out.push_str("# HELP gatehouse_verification_last_timestamp_seconds When the application environment was last verified.\n# TYPE gatehouse_verification_last_timestamp_seconds gauge\n");
        for ((application, environment), at) in &last {
            let seconds = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).map(|t| t.unix_timestamp()).unwrap_or(0);
            let _ = writeln!(out, "gatehouse_verification_last_timestamp_seconds{{application=\"{}\",environment=\"{}\"}} {seconds}", label(application), label(environment));
        }
    }
    out
}
