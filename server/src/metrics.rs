//! `/metrics` for Prometheus: requests by route and status with their latency, counted as
//! they are served, the label fix's actions and latency and whether this replica leads, and
//! what the plan holds — every pool's addresses by state and its
//! utilization, every current certificate's days to expiry — read from the database at
//! each scrape, so every replica reports the same plan.
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use backend::{
    allocations,
    certificates,
    cluster::{label_fix::{self, Outcome}, submissions},
    db::{Database, DbError},
    pools,
};
use domain::certificates::InventoryQuery;
use axum::{
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::{Family, MetricConstructor},
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::state::AppState;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    environment: String,
    pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolStateLabels {
    environment: String,
    pool: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabels {
    environment: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubmissionLabels {
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    cluster: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaseLabels {
    lease: String,
}

#[derive(Clone, Debug)]
struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        // 1 ms to about 16 s.
        Histogram::new(exponential_buckets(0.001, 2.0, 15))
    }
}

/// The counters that live as long as the process; shared by every clone of the state.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, LatencyBuckets>,
    label_fix_actions: Family<OutcomeLabels, Counter>,
    label_fix_latency: Family<ClusterLabels, Histogram, LatencyBuckets>,
}

/// Reading the plan failed, or (never, writing to a String) encoding it.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("could not encode the metrics")]
    Encode(#[from] std::fmt::Error),
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(LatencyBuckets),
            label_fix_actions: Family::default(),
            label_fix_latency: Family::new_with_constructor(LatencyBuckets),
        })
    }

    fn observe(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status: status.as_u16() }).inc();
        self.latency.get_or_create(&RouteLabels { method, route }).observe(seconds);
    }

    /// The exposition: the process's counters, whether it leads (`lease`: the Lease's name),
    /// and the plan as the database holds it now.
    pub async fn render(&self, db: &Database, lease: &str, leading: bool) -> Result<String, ScrapeError> {
        let mut registry = Registry::with_prefix("gatehouse");
        registry.register("http_requests", "HTTP requests served, by route template and status", self.requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            self.latency.clone(),
        );
        registry.register(
            "label_fix_actions",
            "Generated Gateway Services the label fix patched, by cluster and outcome: labelled, unlabelled (switch off), failed",
            self.label_fix_actions.clone(),
        );
        registry.register(
            "label_fix_latency_seconds",
            "Time from the label fix's seeing a generated Gateway Service to its patch being answered, by cluster",
            self.label_fix_latency.clone(),
        );
        let leader = Family::<LeaseLabels, Gauge>::default();
        leader.get_or_create(&LeaseLabels { lease: lease.to_owned() }).set(i64::from(leading));
        registry.register("leader", "1 while this replica holds the leader Lease and runs the reconcilers, else 0", leader);

        let addresses = Family::<PoolStateLabels, Gauge>::default();
        let utilization = Family::<PoolLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let usage = allocations::usage_by_pool(db).await?;
        for pool in pools::list(db, None).await? {
            let used = pool.id.and_then(|id| usage.get(&id)).cloned().unwrap_or_default();
            let (environment, name) = (pool.environment.to_string(), pool.name.to_string());
            for (state, count) in [("allocated", used.allocated), ("reserved", used.reserved), ("free", used.free(&pool))] {
                let labels = PoolStateLabels { environment: environment.clone(), pool: name.clone(), state };
                addresses.get_or_create(&labels).set(i64::try_from(count).unwrap_or(i64::MAX));
            }
            let size = pool.size();
            let ratio = if size == 0 { 0.0 } else { (used.allocated + used.reserved) as f64 / size as f64 };
            utilization.get_or_create(&PoolLabels { environment, pool: name }).set(ratio);
        }
        registry.register("pool_addresses", "Addresses of each VIP pool by state: allocated, reserved, free", addresses);
        registry.register("pool_utilization_ratio", "Share of each VIP pool's addresses allocated or reserved", utilization);

        let days = Family::<CertificateLabels, Gauge>::default();
        for certificate in certificates::list(db, &backend::auth::Principal::system("metrics"), &InventoryQuery::default()).await? {
            if let Some(left) = certificate.days_left {
                days.get_or_create(&CertificateLabels { environment: certificate.environment, name: certificate.name }).set(left);
            }
        }
        registry.register(
            "certificate_days_to_expiry",
            "Whole days until each current certificate expires (negative once expired)",
            days,
        );

        let submissions_family = Family::<SubmissionLabels, Gauge>::default();
        for (operation, status, count) in submissions::counts(db).await? {
            submissions_family.get_or_create(&SubmissionLabels { operation, status }).set(count);
        }
        registry.register(
            "submissions",
            "Submissions kept, by operation (apply, teardown) and status (ready, failed, awaiting_approval, …)",
            submissions_family,
        );

        let mut text = String::new();
        encode(&mut text, &registry)?;
        Ok(text)
    }
}

impl label_fix::Observer for Metrics {
    fn action(&self, cluster: &str, outcome: Outcome, latency: Duration) {
        self.label_fix_actions.get_or_create(&OutcomeLabels { cluster: cluster.to_owned(), outcome: outcome.as_str() }).inc();
        if outcome == Outcome::Labelled {
            self.label_fix_latency.get_or_create(&ClusterLabels { cluster: cluster.to_owned() }).observe(latency.as_secs_f64());
        }
    }
}

/// Counts and times every request by its route template (`/api/v1/pools/{id}`, not the
/// address asked for, so the series stay few); the site's files count as `/pkg/{file}`.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None if request.uri().path().starts_with("/pkg/") => "/pkg/{file}".to_owned(),
        None => "unmatched".to_owned(),
    };
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(&method, &route, response.status(), started.elapsed().as_secs_f64());
    response
}

pub async fn scrape(State(state): State<AppState>) -> Response {
    // With no cluster configured there is no Lease to hold: the gauge says 0 for no name.
    let (lease, leading) =
        state.clusters.election.as_ref().map(|election| (election.settings.name.as_str(), election.is_leader())).unwrap_or_default();
    match state.metrics.render(&state.db, lease, leading).await {
        Ok(mut text) => {
            // The verification gauges come from the verifications table, ahead of `# EOF`.
            let verification = crate::verification::metrics_text(&state).await;
            let at = text.rfind("# EOF").unwrap_or(text.len());
            text.insert_str(at, &verification);
            ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "metrics: could not read the plan");
            (StatusCode::SERVICE_UNAVAILABLE, "the plan could not be read from the database\n").into_response()
        }
    }
}
