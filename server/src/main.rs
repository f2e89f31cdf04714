use clap::Parser;
use gatehouse::{Config, run, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut config = Config::parse();
    match config.command.take() {
        Some(gatehouse::config::Command::Lint(args)) => return gatehouse::lint::run(args).await,
        Some(gatehouse::config::Command::Verify(args)) => return gatehouse::verify_cli::run(args).await,
        None => {}
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
