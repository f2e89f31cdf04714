use std::{sync::Arc, time::Duration};

use app::backend::{certificates::SecretKey, db::Database};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::{Config, cluster::ClusterState};

/// What every handler may need; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Database,
    pub leptos_options: LeptosOptions,
    pub request_timeout: Duration,
    pub tls: bool,
    /// Seals and opens certificates' private keys.
    pub secret_key: Arc<SecretKey>,
    pub clusters: ClusterState,
}

impl AppState {
    pub fn new(db: Database, secret_key: Arc<SecretKey>, clusters: ClusterState, config: &Config) -> AppState {
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
            tls: config.tls_cert.is_some(),
            secret_key,
            clusters,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}
