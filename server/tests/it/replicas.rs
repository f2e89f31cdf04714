//! Replicas: two real `gatehouse` processes on one database and one cluster (the simulated
//! cluster, started by the test and named to both by a kubeconfig). Exactly one holds the
//! leader Lease and runs the Gateway label fix; when it is killed (SIGKILL, no goodbye) the
//! other takes over within 15 s and labels a freshly generated `cilium-gateway-*` Service.
//! A replica stopped gracefully releases the Lease.
use std::{
    collections::HashMap,
    process::{Child, Command},
    time::{Duration, Instant},
};

use simcluster::CiliumBehaviour;
use k8s_openapi::api::{coordination::v1::Lease, core::v1::Service};
use kube::{Api, api::DeleteParams};
use serde_json::{Value, json};

use crate::{
    cluster::{GATEWAY_SERVICE, eventually, kube_client, simulated},
    harness::{DbKind, FreshDatabase},
    on_both_databases,
    replica_process::spawn_replica,
};

const LEASE: &str = "gatehouse-leader";

/// One `gatehouse` process; killed (SIGKILL) when dropped.
pub(crate) struct Replica {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Starts the binary with the demo plan (visitors are the demo network admin) and waits
    /// for its "listening" line; its later log lines are drained so it never blocks on them.
    async fn start(database_url: &str, kubeconfig: &std::path::Path) -> Replica {
        Replica::start_with(database_url, kubeconfig, &[]).await
    }

    /// `start` with more flags.
    pub(crate) async fn start_with(database_url: &str, kubeconfig: &std::path::Path, flags: &[&str]) -> Replica {
        let (child, url) = spawn_replica(database_url, kubeconfig, flags).await;
        Replica { child, url, http: reqwest::Client::new() }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn metrics(&self) -> HashMap<String, f64> {
        let text = self.http.get(format!("{}/metrics", self.url)).send().await.expect("/metrics answers").text().await.expect("a body");
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    async fn leading(&self) -> bool {
        self.metrics().await.get(&format!("gatehouse_leader{{lease=\"{LEASE}\"}}")) == Some(&1.0)
    }

    /// Submits `api` to dev and waits until the submission is ready.
    async fn submit_dev(&self) {
        let response = self
            .http
            .post(format!("{}/api/v1/applications/api/submissions", self.url))
            .json(&json!({"environment": "dev"}))
            .send()
            .await
            .expect("the submission is accepted");
        assert_eq!(response.status(), 202);
        let id = response.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body: Value =
                self.http.get(format!("{}/api/v1/submissions/{id}", self.url)).send().await.expect("answers").json().await.expect("JSON");
            if body["status"] != "applying" {
                assert_eq!(body["status"], "ready", "{body:#}");
                return;
            }
            assert!(Instant::now() < deadline, "the submission did not settle: {body:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases.get(LEASE).await.expect("the Lease exists").spec.and_then(|spec| spec.holder_identity)
}

async fn one_leader_and_a_takeover_within_15_seconds(kind: DbKind) {
    // Cilium before 1.15: only the label fix labels the generated Service.
    let sim = simulated(CiliumBehaviour { copies_infrastructure_labels: false, ..CiliumBehaviour::default() }, None).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig(None)).expect("the kubeconfig is written");
    let database = FreshDatabase::new(kind).await;

    // The first migrates and seeds; the second finds both done.
    let first = Replica::start(&database.url, &kubeconfig).await;
    let second = Replica::start(&database.url, &kubeconfig).await;

    let client = kube_client(&sim.kubeconfig(None)).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(10);
    let (leader, follower) = loop {
        match (first.leading().await, second.leading().await) {
            (true, false) => break (first, second),
            (false, true) => break (second, first),
            (both, _) => assert!(!both, "two leaders at once"),
        }
        assert!(Instant::now() < deadline, "nobody leads after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let holding = holder(&leases).await.expect("the Lease has a holder");
    assert!(holding.contains(&format!("-{}-", leader.pid())), "the Lease names the leader's process: {holding}");
    // The follower keeps following while the leader renews.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(leader.leading().await && !follower.leading().await);
    assert_eq!(holder(&leases).await, Some(holding.clone()));

    // The leader labels the generated Service of a submission made through the follower.
    let labelled = |sim: &simcluster::SimCluster| {
        sim.vip(crate::cluster::DEV_NAMESPACE, GATEWAY_SERVICE)
            .is_some_and(|vip| vip.labels.get("gatehouse.io/advertise").map(String::as_str) == Some("dev"))
    };
    follower.submit_dev().await;
    assert!(labelled(&sim));
    let labelled_by_leader = leader.metrics().await.get("gatehouse_label_fix_actions_total{cluster=\"default\",outcome=\"labelled\"}").copied();
    assert!(labelled_by_leader.is_some_and(|n| n >= 1.0), "the leader did the labelling: {labelled_by_leader:?}");
    assert_eq!(follower.metrics().await.get("gatehouse_label_fix_actions_total{cluster=\"default\",outcome=\"labelled\"}"), None, "the follower did not");

    // The switch thrown at the follower is followed by the leader's reconciler.
    for on in [false, true] {
        let switched = follower.http.put(format!("{}/api/v1/label-fix", follower.url)).json(&json!({"enabled": on})).send().await;
        assert_eq!(switched.expect("answers").status(), 200);
        let watched = sim.clone();
        eventually(Duration::from_secs(5), "the leader follows the switch", move || labelled(&watched) == on).await;
    }

    // SIGKILL: the Lease is not released; the follower must wait for it to run out.
    let killed = Instant::now();
    drop(leader);
    let services: Api<Service> = Api::namespaced(client.clone(), crate::cluster::DEV_NAMESPACE);
    services.delete(GATEWAY_SERVICE, &DeleteParams::default()).await.expect("the generated Service is deleted");
    // Cilium generates it again at once, without the label.
    assert!(sim.vip(crate::cluster::DEV_NAMESPACE, GATEWAY_SERVICE).is_some() && !labelled(&sim));
    let within = Duration::from_secs(15);
    let watched = sim.clone();
    eventually(within, "the survivor takes over and labels the new Service", move || labelled(&watched)).await;
    let takeover = killed.elapsed();
    assert!(follower.leading().await, "the survivor says it leads");
    let taken = holder(&leases).await.expect("the Lease has a holder");
    assert!(taken.contains(&format!("-{}-", follower.pid())), "the Lease names the survivor: {taken}");
    eprintln!("takeover: the killed leader's Service labelled by the survivor {takeover:?} after SIGKILL");

    // SIGTERM: a graceful stop gives the Lease back.
    let mut survivor = follower;
    let status = Command::new("kill").args(["-TERM", &survivor.pid().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let exit = survivor.child.wait().expect("the survivor exits");
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    assert_eq!(holder(&leases).await, None, "released on shutdown");
}

on_both_databases!(one_leader_and_a_takeover_within_15_seconds);

/// Three candidates campaigning at the same instant for one Lease: the create and the
/// resourceVersion-guarded updates let exactly one win; a released Lease goes to another at
/// its next look, long before the term would run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_candidates_elect_exactly_one_and_a_release_hands_over() {
    use backend::cluster::leader::{Election, LeaseSettings};

    let sim = simulated(CiliumBehaviour::default(), None).await;
    let client = kube_client(&sim.kubeconfig(None)).await;
    let elections: Vec<Election> =
        (0..3).map(|_| Election::start(client.clone(), LeaseSettings::new("default", "race"))).collect();
    let leaders = || elections.iter().filter(|election| election.is_leader()).count();
    let deadline = Instant::now() + Duration::from_secs(5);
    while leaders() == 0 {
        assert!(Instant::now() < deadline, "nobody won");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..30 {
        assert_eq!(leaders(), 1, "exactly one leads");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let winner = elections.iter().position(Election::is_leader).expect("a leader");
    let released = Instant::now();
    elections[winner].release().await;
    let rest: Vec<&Election> = elections.iter().enumerate().filter(|(i, _)| *i != winner).map(|(_, e)| e).collect();
    while !rest.iter().any(|election| election.is_leader()) {
        assert!(released.elapsed() < Duration::from_secs(5), "a released Lease is taken at the next look, not after its term");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rest.iter().filter(|election| election.is_leader()).count(), 1);
    assert!(!elections[winner].is_leader());
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let lease = leases.get("race").await.expect("the Lease").spec.expect("a spec");
    assert_eq!(lease.lease_transitions, Some(1), "one hand-over");
    for election in &elections {
        election.release().await;
    }
}
