//! Starting a real `gatehouse` process, shared by the replica tests (`tests/it/replicas.rs`)
//! and the benches: on the given database, JSON logs on stdout.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

/// Starts the binary with `--demo` and `flags`, and waits for its "listening" line for the
/// URL; its later log lines are drained by a thread so it never blocks on them. A process
/// that does not say where it listens within a minute is killed, and the caller panics.
pub async fn spawn_replica(database_url: &str, kubeconfig: &Path, flags: &[&str]) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.args(["--demo", "--apply-timeout-secs", "20"]).args(flags).arg("--kubeconfig").arg(kubeconfig);
    spawn_portal(command, database_url).await
}

/// Starts `command` (the binary and its flags) on `database_url`, listening on a loopback
/// port, with JSON logs; answers the process and its URL.
pub async fn spawn_portal(mut command: Command, database_url: &str) -> (Child, String) {
    let mut child = command
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("DATABASE_URL", database_url)
        .env("GATEHOUSE_SECRET_KEY", backend::certificates::SecretKey::derived_text_for_tests(database_url))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (found, url) = tokio::sync::oneshot::channel::<String>();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let entry: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if let Some(url) = entry["url"].as_str()
                && let Some(found) = found.take()
            {
                let _ = found.send(url.to_owned());
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(60), url).await {
        Ok(Ok(url)) => (child, url),
        failed => {
            // No process left behind by a failed start.
            let _ = child.kill();
            let _ = child.wait();
            panic!("the replica did not say where it listens within a minute: {failed:?}");
        }
    }
}
