//! Submit-to-ready time of the seed example's bundle (`api` in `dev`) on the simulated
//! cluster, and the Gateway label fix's latency: from the deletion of a generated
//! `cilium-gateway-<name>` Service (Cilium recreates it at once, unlabelled, as Cilium before
//! 1.15 does) to the reconciler's label on the new one.
//!
//! `cargo bench -p gatehouse --bench submission` — SQLite in a temporary directory.
//! GATEHOUSE_BENCH_ROUNDS (default 20) sets the number of rounds. Not a timed test: it prints
//! the median, 95th percentile and worst time of each, polling every millisecond.
use std::time::{Duration, Instant};

use gatehouse::{Config, Gatehouse};
use simcluster::{CiliumBehaviour, SimCluster};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

fn rounds() -> usize {
    std::env::var("GATEHOUSE_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).filter(|v| *v > 0).unwrap_or(20)
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what}: median {:.1} ms, p95 {:.1} ms, worst {:.1} ms ({} rounds)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        samples.len()
    );
}

async fn status(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.expect("answers").json().await.expect("JSON")
}

/// Posts and polls until the submission settles; returns the time and the final status.
async fn run(client: &reqwest::Client, base: &str, request: reqwest::RequestBuilder) -> (Duration, String) {
    let started = Instant::now();
    let accepted: Value = request.send().await.expect("answers").json().await.expect("JSON");
    let id = accepted["id"].as_i64().unwrap_or_else(|| panic!("a submission id: {accepted}"));
    loop {
        let body = status(client, &format!("{base}/api/v1/submissions/{id}")).await;
        let state = body["status"].as_str().unwrap_or_default().to_owned();
        if state != "applying" && state != "tearing_down" {
            return (started.elapsed(), state);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let base_config = Config::for_tests(
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            "",
        );
        let schemas = gatehouse::cluster::schemas(&base_config.schemas_dir)
            .await
            .expect("the schemas load");
        let sim = SimCluster::start_seeded(schemas)
            .await
            .expect("the simulated cluster starts");
        sim.set_behaviour(CiliumBehaviour {
            copies_infrastructure_labels: false,
            ..CiliumBehaviour::default()
        });
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, sim.kubeconfig(None)).expect("the kubeconfig");
        let mut config = base_config;
        config.demo = true;
        config.kubeconfig = Some(kubeconfig);
        let gatehouse = Gatehouse::start(config).await.expect("the portal starts");
        let base = gatehouse.url();
        tokio::spawn(gatehouse.serve(std::future::pending()));
        let client = reqwest::Client::new();

        let mut ready = Vec::new();
        let mut relabel = Vec::new();
        let kube = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::from_yaml(&sim.kubeconfig(None)).expect("a kubeconfig"),
                &Default::default(),
            )
            .await
            .expect("a configuration"),
        )
        .expect("a client");
        let services: Api<Service> = Api::namespaced(kube, "cd-service-dev");
        for _ in 0..rounds() {
            let submit = client.post(format!("{base}/api/v1/applications/api/submissions")).json(&json!({"environment": "dev"}));
            let (took, state) = run(&client, &base, submit).await;
            assert_eq!(state, "ready");
            ready.push(took);

            services.delete("cilium-gateway-api-dev", &DeleteParams::default()).await.expect("deleted");
            let deleted = Instant::now();
            loop {
                let labelled = sim
                    .vip("cd-service-dev", "cilium-gateway-api-dev")
                    .is_some_and(|vip| vip.labels.get("gatehouse.io/advertise").map(String::as_str) == Some("dev"));
                if labelled {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            relabel.push(deleted.elapsed());

            let teardown = client.delete(format!("{base}/api/v1/applications/api/environments/dev"));
            let (_, state) = run(&client, &base, teardown).await;
            assert_eq!(state, "torn_down");
        }
        report("submit to ready (api in dev, 10 objects, simulated cluster)", ready);
        report("label fix: generated Service recreated to labelled", relabel);
    });
}
