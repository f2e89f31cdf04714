use clap::Parser;
use gatehouse::{Config, run, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut config = Config::parse();
    if let Some(gatehouse::config::Command::Lint(args)) = config.command.take() {
        return gatehouse::lint::run(args).await;
    }
    telemetry::init(config.log_format);
    match run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("gatehouse: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
