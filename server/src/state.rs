use std::{sync::Arc, time::Duration};

use backend::{
    auth::{Principal, limiter::SignInLimiter},
    certificates::SecretKey,
    db::Database,
};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::{Config, access::AuthSettings, cluster::ClusterState, metrics::Metrics, oidc::OidcSettings};

/// What every handler may need; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Database,
    pub leptos_options: LeptosOptions,
    pub request_timeout: Duration,
    /// Browsers reach the portal over HTTPS (`--tls-cert`, or an `https://` `--public-url`).
    pub https: bool,
    /// Seals and opens certificates' private keys.
    pub secret_key: Arc<SecretKey>,
    pub metrics: Arc<Metrics>,
    /// Sessions, sign-in limits and the demo sign-in.
    pub auth: Arc<AuthSettings>,
    pub clusters: ClusterState,
    /// How the verifier reaches VIPs (`crate::verification::dialer`).
    pub verify_dialer: backend::verify::SharedDialer,
    /// What the request path reads the time from (`Config::clock`).
    pub clock: backend::clock::SharedClock,
}

impl AppState {
    pub fn new(
        db: Database,
        secret_key: Arc<SecretKey>,
        demo_user: Option<Principal>,
        oidc: Option<OidcSettings>,
        clusters: ClusterState,
        metrics: Arc<Metrics>,
        config: &Config,
    ) -> AppState {
        let leptos_options = LeptosOptions::builder()
            .output_name("gatehouse")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(config.listen)
            .build();
        AppState {
            db,
            leptos_options,
            request_timeout: config.request_timeout(),
            https: config.https(),
            secret_key,
            metrics,
            auth: Arc::new(AuthSettings {
                timeouts: config.session_timeouts(),
                limiter: SignInLimiter::new(config.sign_in_limits()),
                demo_user,
                secure_cookies: config.https(),
                public_origin: config.public_url.as_ref().map(|url| url.origin().to_owned()),
                trusted_proxies: config.trusted_proxies.clone(),
                token_lifetimes: config.token_lifetimes().unwrap_or_default(),
                oidc,
            }),
            verify_dialer: crate::verification::dialer(config, &clusters),
            clock: config.clock.clone().unwrap_or_else(|| std::sync::Arc::new(backend::clock::SystemClock)),
            clusters,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}
