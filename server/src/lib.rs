//! The `gatehouse` server: configuration, startup, state and the router that joins the
//! Leptos pages, the /api/v1 JSON API and the health endpoints.
pub mod access;
pub mod api;
pub mod cluster;
pub mod config;
pub mod lint;
pub mod verify_cli;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod pages;
pub mod router;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod verification;

use std::{future::Future, net::SocketAddr, sync::Arc};

use backend::{
    auth::{Principal, Via},
    certificates::{SecretKey, load_or_create},
    db::{Database, DbError},
};
pub use config::{ClusterSpec, Config};
pub use router::router;
pub use state::AppState;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("secret key: {0}")]
    SecretKey(#[from] backend::certificates::SecretKeyError),
    #[error("secret key: {0}")]
    WrongSecretKey(#[from] backend::certificates::KeyCheckError),
    #[error("OpenID Connect: {0}")]
    Oidc(#[from] oidc::OidcConfigError),
    #[error("cluster: {0}")]
    Cluster(#[from] cluster::ClusterError),
    #[error("demo data: {0}")]
    Demo(#[from] backend::demo::DemoError),
    #[error("{0}")]
    DemoSignIn(String),
    #[error("{0}")]
    Config(String),
}

/// The secret key that seals certificates' private keys, from GATEHOUSE_SECRET_KEY or the
/// key file (created on first run). The log says where it came from, never what it is.
fn secret_key(config: &Config) -> Result<SecretKey, StartError> {
    use backend::certificates::KeyOrigin;
    let path = config.secret_key_path();
    let (key, origin) = load_or_create(config.secret_key.as_ref().map(|s| s.0.as_str()), &path)?;
    match origin {
        KeyOrigin::Environment => tracing::info!(key_id = key.id(), "secret key from GATEHOUSE_SECRET_KEY"),
        KeyOrigin::File { path, created, readable_by_others } => {
            let path = path.display().to_string();
            if created {
                tracing::info!(key_id = key.id(), %path, "created a new secret key file (mode 0600); back it up with the database");
            } else {
                tracing::info!(key_id = key.id(), %path, "secret key from file");
            }
            if readable_by_others {
                tracing::warn!(%path, "the secret key file can be read by other users; chmod 600 it");
            }
        }
    }
    Ok(key)
}

/// The first admin (when there is none), and with `--demo` and the demo sign-in the demo
/// user every visitor without a session becomes.
async fn accounts(db: &Database, config: &Config) -> Result<Option<Principal>, StartError> {
    use backend::auth::users;
    let password = config.admin_password.as_ref().map(|secret| secret.0.as_str());
    if let Some(generated) = users::ensure_admin(db, password).await? {
        // Printed once, on the first start; the database keeps only its hash.
        tracing::warn!(
            user = users::FIRST_ADMIN,
            password = %generated,
            "created the first admin with a generated password; sign in and change it (or set GATEHOUSE_ADMIN_PASSWORD before the first start)"
        );
    } else if password.is_some() {
        tracing::info!("an admin exists; GATEHOUSE_ADMIN_PASSWORD is only used on the first start");
    }
    if !config.demo_signs_in() {
        if users::retire_demo(db).await? {
            tracing::warn!(user = users::DEMO_USER, "no demo sign-in at this start: the demo user is disabled, its sessions ended and its API tokens revoked");
        }
        return Ok(None);
    }
    let demo = users::ensure_demo(db).await?;
    tracing::info!(user = %demo.name, role = demo.role.as_str(), "demo sign-in: visitors without a session are the demo user");
    Ok(Some(Principal { user_id: demo.id, name: demo.name, role: demo.role, scopes: demo.scopes, via: Via::Demo }))
}

/// A started portal: the database is migrated (and seeded with `--demo`) and the
/// socket is bound, so `local_addr` is known before serving begins.
pub struct Gatehouse {
    state: AppState,
    listener: TcpListener,
    tls: Option<tls::TlsAcceptorConfig>,
    jobs: backend::cluster::jobs::JobSettings,
    /// How long a stop waits for jobs and connections before exiting anyway.
    grace: std::time::Duration,
}

impl Gatehouse {
    pub async fn start(config: Config) -> Result<Gatehouse, StartError> {
        if let Some(refusal) = config.demo_sign_in_refusal() {
            return Err(StartError::DemoSignIn(refusal));
        }
        let token_lifetimes = config.token_lifetimes().map_err(StartError::Config)?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls::TlsAcceptorConfig::load(cert, key)?),
            _ => None,
        };
        // A database URL that cannot work is reported before a key file is created for it.
        backend::db::Backend::from_url(&config.database_url)?;
        let secret_key = Arc::new(secret_key(&config)?);
        let db = Database::connect(&config.database_url).await?;
        backend::certificates::check_secret_key(&db, &secret_key).await?;
        backend::certificates::grant_owners_to_users(&db, "gatehouse (certificate owners upgrade)").await?;
        backend::applications::hold_all_fixed_vips(&db, "gatehouse").await?;
        let migrated = backend::auth::users::migrate_scopes(&db).await?;
        if migrated > 0 {
            tracing::info!(users = migrated, "scopes stored before scopes named namespaces now say namespace: (see the upgrade notes)");
        }
        if config.demo {
            let created = backend::demo::seed(&db, &secret_key).await?;
            tracing::info!(created, "demo data seeded");
        }
        let demo_user = accounts(&db, &config).await?;
        let dated = backend::auth::tokens::expire_unlimited(&db, token_lifetimes).await?;
        if dated > 0 {
            tracing::info!(tokens = dated, days = token_lifetimes.max_days, "API tokens made before tokens expired now expire after --token-max-days");
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let oidc = config.oidc()?;
        let metrics = metrics::Metrics::new();
        let clusters = cluster::connect(&config, &db, secret_key.clone(), metrics.clone()).await?;
        let state = AppState::new(db, secret_key, demo_user, oidc, clusters, metrics, &config);
        verification::spawn_periodic(&state, config.verify_interval_secs);
        Ok(Gatehouse { state, listener, tls, jobs: config.job_settings(), grace: config.shutdown_grace() })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Every route with its access rule (pages, server functions, /api/v1).
    pub fn route_rules(&self) -> Vec<access::RouteRule> {
        router::routes(&self.state).1
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr())
    }

    /// Serves and runs this replica's job workers until `shutdown` completes. Then it stops
    /// claiming jobs, lets running jobs finish their current object and release their claims,
    /// and lets requests in flight finish — all within the grace period (`--shutdown-grace-secs`),
    /// after which connections still open and jobs still running are dropped: a dropped job's
    /// claim runs out with its lease and another replica resumes it.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let db = self.state.db.clone();
        let election = self.state.clusters.election.clone();
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut workers =
            tokio::spawn(backend::cluster::jobs::pool(self.state.clusters.submitter.clone(), self.jobs, stopping.clone()));
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        // The client's address reaches handlers (sign-in limits per address).
        let app = router(self.state).into_make_service_with_connect_info::<access::ClientAddr>();
        let server = async move {
            match self.tls {
                None => axum::serve(PlainListener(self.listener), app).with_graceful_shutdown(shutdown).await,
                Some(tls) => {
                    let listener = tls::TlsListener::new(self.listener, tls);
                    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
                }
            }
        };
        let grace = self.grace;
        let deadline = async {
            let mut stopping = stopping.clone();
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        let (served, workers_done) = tokio::select! {
            outcome = async { tokio::join!(server, &mut workers) } => (outcome.0, outcome.1.is_ok()),
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "stopping: connections or jobs still busy after the grace period are dropped");
                (Ok(()), false)
            }
        };
        if !workers_done {
            workers.abort();
        }
        if let Some(election) = election {
            election.release().await;
        }
        db.close().await;
        served.map_err(StartError::Serve)
    }
}

/// The plain-HTTP listener: every accepted connection without Nagle's delay, so small
/// responses (JSON, a page's head) go out at once.
pub struct PlainListener(tokio::net::TcpListener);

impl axum::serve::Listener for PlainListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, peer) = axum::serve::Listener::accept(&mut self.0).await;
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
        (stream, peer)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Runs the portal until SIGTERM or ctrl-c.
pub async fn run(config: Config) -> Result<(), StartError> {
    let gatehouse = Gatehouse::start(config).await?;
    // Listen for signals before saying we listen for requests: a supervisor that stops us
    // right after the "listening" line must get a graceful shutdown, not the default action.
    let shutdown = shutdown_signal()?;
    tracing::info!(url = %gatehouse.url(), "gatehouse listening on {}", gatehouse.url());
    gatehouse.serve(shutdown).await?;
    tracing::info!("gatehouse stopped");
    Ok(())
}

/// A future that completes on SIGTERM or ctrl-c; the handlers are installed when it is made.
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, StartError> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(StartError::Serve)?;
    Ok(async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let terminate = async move {
            terminate.recv().await;
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("shutdown requested; finishing requests in flight");
    })
}
