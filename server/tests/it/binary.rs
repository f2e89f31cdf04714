//! The `gatehouse` binary itself: flags, JSON logs, graceful shutdown on SIGTERM.
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

#[test]
fn json_logs_port_zero_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json", "--demo"])
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("data/gatehouse.db").display()))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        assert!(Instant::now() < deadline, "no 'listening' line in time");
        let line = lines.next().expect("a log line").unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(entry["level"].is_string() && entry["timestamp"].is_string(), "{entry}");
        if let Some(url) = entry["url"].as_str() {
            break url.to_owned();
        }
    };
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    assert!(dir.path().join("data/gatehouse.db").exists(), "the SQLite file and its directory are created");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--listen", "127.0.0.1:0", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL must start with sqlite:"), "{stderr}");
}
