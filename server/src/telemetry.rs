//! Structured logs: human-readable by default, one JSON object per line with `--log-format json`.
use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests starting several servers) keeps the first subscriber.
    let _ = match format {
        LogFormat::Human => registry
            .with(fmt::layer().with_target(false).with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(false))
            .try_init(),
    };
}
