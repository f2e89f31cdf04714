//! Verification (issue 22): prove, hop by hop, that a client reaches each hostname of an
//! application environment through its VIP with the planned certificate.
//!
//! Four checks, each `pass`, `fail` or `unknown` with its evidence, and for a failure the
//! likely cause and the checklist rule or caveat behind it:
//! 1. *assigned* — the Gateway's generated Service has an address from the environment's
//!    pools (the fixed VIP where one is planned), read from the cluster;
//! 2. *announced* — an L2 announcement policy or a BGP advertisement selects that Service
//!    (what Cilium decides from the objects); the node holding the ARP Lease and the BGP
//!    sessions are not read yet, and the evidence says so;
//! 3. *tls* and 4. *http* — [`probe`], through a [`Dialer`].
//!
//! From inside the cluster a VIP is reachable through Cilium's datapath whether or not it is
//! announced, so the portal's own checks 3 and 4 cannot prove outside reachability:
//! `gatehouse verify` runs them from a client machine and reports back ([`record`] with
//! source `client`).
pub mod probe;
pub mod store;

use std::{collections::BTreeMap, fmt, future::Future, io, net::SocketAddr, pin::Pin, sync::Arc};

use domain::{Application, EnvironmentName, IpAddr, Plan, VipRequest};
use tokio::net::TcpStream;
use views::verification::{CheckResult, Outcome, PlannedCertificate, ProbePlan, Verification};

use crate::{
    auth::Principal,
    cluster::{Clusters, vips},
    db::{Database, DbError},
    plan,
};

/// Opens TCP connections to VIPs: directly, or through a map (the simulated cluster's data
/// path in the demo and the tests).
pub trait Dialer: Send + Sync + fmt::Debug {
    fn dial<'a>(&'a self, address: &'a str, port: u16) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + 'a>>;
}

/// Connects to the address itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirectDialer;

impl Dialer for DirectDialer {
    fn dial<'a>(&'a self, address: &'a str, port: u16) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + 'a>> {
        Box::pin(TcpStream::connect((address, port)))
    }
}

/// Where a VIP is served now: `None` refuses the connection, as an unannounced VIP does.
pub type Resolve = Arc<dyn Fn(&str) -> Option<SocketAddr> + Send + Sync>;

/// Connects to the address a map gives for the VIP (the port asked for is the VIP's; the map
/// names the loopback port serving it).
#[derive(Clone)]
pub struct MapDialer(pub Resolve);

impl fmt::Debug for MapDialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MapDialer")
    }
}

impl Dialer for MapDialer {
    fn dial<'a>(&'a self, address: &'a str, _port: u16) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + 'a>> {
        let target = (self.0)(address);
        Box::pin(async move {
            match target {
                Some(target) => TcpStream::connect(target).await,
                None => Err(io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused")),
            }
        })
    }
}

pub type SharedDialer = Arc<dyn Dialer>;

/// The port of the Gateway's HTTPS listener.
pub const HTTPS_PORT: u16 = 443;

fn not_found(application: &str, environment: &str) -> DbError {
    DbError::NotFound(format!("application {application:?} has no environment {environment:?}; GET /api/v1/applications lists them"))
}

/// The application and environment, when the caller may read them.
fn target<'p>(plan: &'p Plan, caller: &Principal, application: &str, environment: &str) -> Result<(&'p Application, EnvironmentName), DbError> {
    let app = plan.application(application).filter(|a| caller.may_read_application(plan, a)).ok_or_else(|| not_found(application, environment))?;
    let env = app.environments.keys().find(|e| e.as_str() == environment).cloned().ok_or_else(|| not_found(application, environment))?;
    Ok((app, env))
}

/// The request paths of the HTTP check: per path prefix, the readiness path (else the
/// liveness path, else the prefix) — under the prefix when the prefix does not contain it,
/// since routes forward the path unchanged.
fn request_paths(app: &Application, env: &EnvironmentName) -> Vec<String> {
    let probe = app.readiness_path.as_ref().or(app.liveness_path.as_ref()).map(ToString::to_string);
    let prefixes: Vec<String> = app.environments.get(env).map(|e| e.paths.iter().map(ToString::to_string).collect()).unwrap_or_default();
    let prefixes = if prefixes.is_empty() { vec!["/".to_owned()] } else { prefixes };
    let mut paths: Vec<String> = prefixes
        .iter()
        .map(|prefix| {
            let trimmed = prefix.trim_end_matches('/');
            match &probe {
                None => prefix.clone(),
                Some(probe) if trimmed.is_empty() || probe == trimmed || probe.starts_with(&format!("{trimmed}/")) => probe.clone(),
                Some(probe) => format!("{trimmed}{probe}"),
            }
        })
        .collect();
    paths.dedup();
    paths
}

async fn planned_certificate(db: &Database, plan: &Plan, app: &Application, env: &EnvironmentName) -> Result<Option<PlannedCertificate>, DbError> {
    let Some(name) = app.environments.get(env).and_then(|e| e.certificate.as_ref()) else { return Ok(None) };
    let certificates = plan.certificates.as_deref().unwrap_or_default();
    let Some(info) = certificates.iter().find(|c| &c.environment == env && c.name == *name) else { return Ok(None) };
    let Some(chain_pem) = store::chain_pem(db, env.as_str(), name.as_str()).await? else { return Ok(None) };
    let others = certificates
        .iter()
        .filter(|c| !(c.environment == *env && c.name == *name) && !c.fingerprint_sha256.is_empty())
        .map(|c| (c.fingerprint_sha256.clone(), format!("{}/{}", c.environment, c.name)))
        .collect();
    Ok(Some(PlannedCertificate { name: name.to_string(), fingerprint_sha256: info.fingerprint_sha256.clone(), chain_pem, not_after: info.not_after, others }))
}

/// What a client needs for checks 3 and 4 (`GET …/verifications/plan`), with the VIP
/// assigned now when the cluster says (else the planned fixed VIP).
pub async fn probe_plan(db: &Database, clusters: Option<&Clusters>, caller: &Principal, application: &str, environment: &str) -> Result<ProbePlan, DbError> {
    let plan = plan::load_from(db).await?;
    let (app, env) = target(&plan, caller, application, environment)?;
    let mut probe = base_plan(db, &plan, app, &env).await?;
    if let Some(clusters) = clusters {
        let (statuses, _) = vips::statuses(clusters, &plan).await;
        if let Some(status) = gateway_status(&statuses, &plan, app, &env) {
            probe.vip = status.address.clone().or(probe.vip);
        }
    }
    Ok(probe)
}

async fn base_plan(db: &Database, plan: &Plan, app: &Application, env: &EnvironmentName) -> Result<ProbePlan, DbError> {
    let entry = app.environments.get(env);
    let fixed = entry.and_then(|e| match &e.vip {
        VipRequest::Address(address) => Some(address.to_string()),
        VipRequest::Auto => None,
    });
    Ok(ProbePlan {
        application: app.name.to_string(),
        environment: env.to_string(),
        vip: fixed,
        port: HTTPS_PORT,
        hostnames: entry.map(|e| e.hostnames.iter().map(ToString::to_string).collect()).unwrap_or_default(),
        paths: request_paths(app, env),
        certificate: planned_certificate(db, plan, app, env).await?,
    })
}

fn gateway_service(app: &Application, env: &EnvironmentName) -> String {
    vips::generated_service_name(&format!("{}-{}", app.name, env))
}

fn gateway_status<'s>(statuses: &'s [vips::VipStatus], plan: &Plan, app: &Application, env: &EnvironmentName) -> Option<&'s vips::VipStatus> {
    let namespace = plan.namespace_in(app, env).to_string();
    let service = gateway_service(app, env);
    statuses.iter().find(|s| s.namespace == namespace && s.service == service)
}

fn env_check(check: &str, outcome: Outcome, evidence: Vec<String>, reason: Option<String>, rule: Option<&str>) -> CheckResult {
    CheckResult { check: check.to_owned(), hostname: None, outcome, evidence, reason, rule: rule.map(str::to_owned) }
}

/// Checks 1 and 2 from the cluster's objects.
fn cluster_checks(plan: &Plan, app: &Application, env: &EnvironmentName, status: Option<&vips::VipStatus>, unreadable: Option<String>, label_fix_on: Option<bool>) -> Vec<CheckResult> {
    let service = format!("{}/{}", plan.namespace_in(app, env), gateway_service(app, env));
    if let Some(message) = unreadable {
        let evidence = vec![format!("the cluster could not be read: {message}")];
        return vec![
            env_check("assigned", Outcome::Unknown, evidence.clone(), Some("the cluster's Services could not be read".to_owned()), None),
            env_check("announced", Outcome::Unknown, evidence, Some("the cluster's Services could not be read".to_owned()), None),
        ];
    }
    let Some(status) = status else {
        let reason = format!("Service {service} does not exist: submit the application to {env} (and wait for ready) before verifying");
        return vec![
            env_check("assigned", Outcome::Fail, vec![format!("no Service {service} in the cluster")], Some(reason.clone()), None),
            env_check("announced", Outcome::Unknown, vec![format!("no Service {service} in the cluster")], Some(reason), None),
        ];
    };
    let pools: Vec<_> = plan.pools_of(env).collect();
    let fixed = app.environments.get(env).and_then(|e| match &e.vip {
        VipRequest::Address(address) => Some(address.to_string()),
        VipRequest::Auto => None,
    });
    let label = plan.environment(env).map(|e| format!("{}={}", e.advertisement.label.key, e.advertisement.label.value)).unwrap_or_default();
    let assigned = match &status.address {
        None if !status.labelled => env_check(
            "assigned",
            Outcome::Fail,
            vec![format!("Service {service} has no address in status.loadBalancer"), format!("Service {service} lacks the advertisement label {label}")],
            Some(format!("LB-IPAM assigned no address: the environment's pool selects Services by {label}, and Cilium generated {service} without the Gateway's labels (the Gateway label caveat; see the announced check)")),
            Some("GH-GATEWAY-LABEL"),
        ),
        None => env_check(
            "assigned",
            Outcome::Fail,
            vec![format!("Service {service} has no address in status.loadBalancer")],
            Some("LB-IPAM assigned no address: no CiliumLoadBalancerIPPool selects the Service, the pool is exhausted, or the requested address is taken (see the Gateway's Programmed condition)".to_owned()),
            Some("GH-VIP-OUTSIDE-POOL"),
        ),
        Some(address) => {
            let parsed = IpAddr::parse(address).ok();
            let pool = parsed.as_ref().and_then(|ip| pools.iter().find(|p| p.contains(ip)));
            let mut evidence = vec![format!("Service {service} has {address}")];
            if let Some(pool) = pool {
                evidence.push(format!("{address} is in pool {}", pool.name));
            }
            match (&fixed, pool) {
                (Some(fixed), _) if fixed != address => env_check(
                    "assigned",
                    Outcome::Fail,
                    evidence,
                    Some(format!("the plan fixes the VIP at {fixed} but the Service has {address}")),
                    Some("GH-VIP-DUPLICATE"),
                ),
                (_, None) => env_check("assigned", Outcome::Fail, evidence, Some(format!("{address} is in none of {env}'s pools")), Some("GH-VIP-OUTSIDE-POOL")),
                _ => env_check("assigned", Outcome::Pass, evidence, None, None),
            }
        }
    };
    let mut evidence = Vec::new();
    evidence.push(if status.labelled { format!("Service {service} carries {label}") } else { format!("Service {service} lacks the advertisement label {label}") });
    for policy in &status.announcement.l2_policies {
        evidence.push(format!("selected by CiliumL2AnnouncementPolicy {policy}"));
    }
    for advertisement in &status.announcement.bgp_advertisements {
        evidence.push(format!("selected by CiliumBGPAdvertisement {advertisement}"));
    }
    let announced = if status.announced {
        evidence.push("the node holding the L2 announcement Lease and the BGP sessions are not read by this check".to_owned());
        env_check("announced", Outcome::Pass, evidence, None, None)
    } else if !status.labelled {
        let fix = match label_fix_on {
            Some(false) => " The label fix is switched off: switch it on (Clusters page, or PUT /api/v1/label-fix) and Gatehouse labels the Service again.",
            Some(true) => " The label fix is on: it labels the Service within seconds; if this persists, check that the reconciler runs (this replica leads).",
            None => "",
        };
        env_check(
            "announced",
            Outcome::Fail,
            evidence,
            Some(format!(
                "not announced: Cilium generated {service} for the Gateway without the Gateway's labels (before Cilium 1.15 it copies not even spec.infrastructure.labels), so no L2 announcement policy or BGP advertisement — which select by {label} — picks it, and no client can reach the VIP.{fix}"
            )),
            Some("GH-GATEWAY-LABEL"),
        )
    } else {
        env_check(
            "announced",
            Outcome::Fail,
            evidence,
            Some(format!("no L2 announcement policy or BGP advertisement selects {service}: apply the environment's cilium.yaml (GET /api/v1/environments/{env}/cilium.yaml)")),
            Some("GH-ADVERT-LABEL"),
        )
    };
    vec![assigned, announced]
}

/// Runs all four checks for an application environment from the portal and records them.
/// An app team verifies only its own applications.
#[expect(clippy::too_many_arguments)]
pub async fn verify(
    db: &Database,
    clusters: Option<&Clusters>,
    dialer: &dyn Dialer,
    caller: &Principal,
    application: &str,
    environment: &str,
    label_fix_on: Option<bool>,
    now_unix: i64,
) -> Result<Verification, DbError> {
    let plan = plan::load_from(db).await?;
    let (app, env) = target(&plan, caller, application, environment)?;
    caller.require_application(&plan, app)?;
    let mut probe = base_plan(db, &plan, app, &env).await?;
    let mut checks = match clusters {
        None => vec![
            env_check("assigned", Outcome::Unknown, vec!["no cluster is configured".to_owned()], Some("Gatehouse has no cluster to read".to_owned()), None),
            env_check("announced", Outcome::Unknown, vec!["no cluster is configured".to_owned()], Some("Gatehouse has no cluster to read".to_owned()), None),
        ],
        Some(clusters) => {
            let (statuses, unreadable) = vips::statuses(clusters, &plan).await;
            let status = gateway_status(&statuses, &plan, app, &env);
            if let Some(address) = status.and_then(|s| s.address.clone()) {
                probe.vip = Some(address);
            }
            let unreadable = (status.is_none() && !unreadable.is_empty()).then(|| unreadable.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "));
            cluster_checks(&plan, app, &env, status, unreadable, label_fix_on)
        }
    };
    let vip = probe.vip.clone();
    let port = probe.port;
    let mut network = probe::run(dialer, &probe, |_| vip.clone().map(|v| (v, port)), now_unix).await;
    // A refused connection after a failed announcement has the announcement's cause.
    if let Some(announced) = checks.iter().find(|c| c.check == "announced" && c.outcome == Outcome::Fail).cloned() {
        for check in network.iter_mut().filter(|c| c.outcome == Outcome::Fail && c.rule.is_none()) {
            check.reason = Some(format!("{} — the VIP is not announced: {}", check.reason.clone().unwrap_or_default(), announced.reason.clone().unwrap_or_default()));
            check.rule = announced.rule.clone();
        }
    }
    checks.append(&mut network);
    store::record(db, application, environment, "portal", None, &caller.name, &checks).await
}

/// Records a client's report (`gatehouse verify --report`).
pub async fn report(db: &Database, caller: &Principal, application: &str, environment: &str, report: &views::verification::ClientReport) -> Result<Verification, DbError> {
    let plan = plan::load_from(db).await?;
    let (app, _) = target(&plan, caller, application, environment)?;
    caller.require_application(&plan, app)?;
    let reporter = report.reporter.trim();
    if reporter.is_empty() || reporter.len() > 200 {
        let mut errors = domain::FieldErrors::new();
        errors.push(domain::FieldError::new("reporter", "invalid_reporter", "give `<host> (<address>)`, at most 200 characters"));
        return Err(DbError::Invalid(errors));
    }
    store::record(db, application, environment, "client", Some(reporter), &caller.name, &report.checks).await
}

/// The latest verifications and the history of an application environment.
pub async fn list(db: &Database, caller: &Principal, application: &str, environment: &str) -> Result<views::verification::Verifications, DbError> {
    let plan = plan::load_from(db).await?;
    target(&plan, caller, application, environment)?;
    store::list(db, application, environment).await
}

/// The latest result per application, environment, hostname and check (for `/metrics`), and
/// the time of the last verification per application and environment.
pub async fn latest_all(db: &Database) -> Result<(Vec<(Verification, CheckResult)>, BTreeMap<(String, String), String>), DbError> {
    store::latest_all(db).await
}
