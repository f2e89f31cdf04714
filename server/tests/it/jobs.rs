//! Durable jobs (issue 18), with real `gatehouse` processes on one database and one simulated
//! cluster that lives in the test process, so it outlives the portals the tests kill. The
//! cluster answers every write 250 ms late, so a test can stop a portal in the middle of a
//! submission: SIGKILL (no goodbye) and the next start, or the other replica, takes the job
//! over when its claim's lease runs out; SIGTERM and the claim is released at once.
use std::{
    collections::BTreeMap,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use simcluster::{CiliumBehaviour, SimCluster};
use serde_json::{Value, json};

use crate::{
    cluster::simulated,
    harness::{DbKind, FreshDatabase},
    on_both_databases,
    replicas::Replica,
};

/// Short, so that takeovers after SIGKILL come quickly.
const LEASE_SECS: u64 = 3;
const WRITE_DELAY: Duration = Duration::from_millis(250);

struct Setup {
    sim: Arc<SimCluster>,
    database: FreshDatabase,
    kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new(kind: DbKind, write_delay: Duration) -> Setup {
        let sim = simulated(CiliumBehaviour { write_delay, ..CiliumBehaviour::default() }, None).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, sim.kubeconfig(None)).expect("the kubeconfig is written");
        Setup { sim, database: FreshDatabase::new(kind).await, kubeconfig, _dir: dir }
    }

    async fn portal(&self, lease_secs: u64) -> Replica {
        let lease = lease_secs.to_string();
        Replica::start_with(&self.database.url, &self.kubeconfig, &["--job-lease-secs", &lease, "--shutdown-grace-secs", "10"]).await
    }

    /// How many times each object was applied (server-side apply by `gatehouse`), and
    /// deleted: `(kind, namespace, name) → (applies, deletes)`.
    fn writes(&self) -> BTreeMap<(String, String, String), (usize, usize)> {
        let mut counts = BTreeMap::new();
        for write in self.sim.writes() {
            let key = (write.kind, write.namespace.unwrap_or_default(), write.name);
            let entry: &mut (usize, usize) = counts.entry(key).or_default();
            match write.verb.as_str() {
                "apply" if write.manager == "gatehouse" => entry.0 += 1,
                "delete" => entry.1 += 1,
                _ => {}
            }
        }
        counts
    }

    fn exists(&self, kind: &str, namespace: &str, name: &str) -> usize {
        self.sim.names(kind).iter().filter(|(ns, n)| ns == namespace && n == name).count()
    }
}

async fn submit(portal: &Replica) -> i64 {
    let response = portal
        .http
        .post(format!("{}/api/v1/applications/api/submissions", portal.url))
        .json(&json!({"environment": "dev"}))
        .send()
        .await
        .expect("the portal answers");
    assert_eq!(response.status(), 202);
    response.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id")
}

async fn teardown(portal: &Replica) -> i64 {
    let response = portal.http.delete(format!("{}/api/v1/applications/api/environments/dev", portal.url)).send().await.expect("answers");
    assert_eq!(response.status(), 202);
    response.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id")
}

async fn submission(portal: &Replica, id: i64) -> Value {
    portal.http.get(format!("{}/api/v1/submissions/{id}", portal.url)).send().await.expect("answers").json().await.expect("JSON")
}

async fn until(portal: &Replica, id: i64, within: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let body = submission(portal, id).await;
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}: {body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn in_state(body: &Value, states: &[&str]) -> usize {
    body["objects"].as_array().into_iter().flatten().filter(|o| states.contains(&o["state"].as_str().unwrap_or_default())).count()
}

/// The objects a submission writes itself (not the Service Cilium generates for its Gateway).
fn written(body: &Value) -> Vec<(String, String, String)> {
    body["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| !o["name"].as_str().unwrap_or_default().starts_with("cilium-gateway-"))
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or_default().to_owned(),
                o["namespace"].as_str().unwrap_or_default().to_owned(),
                o["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn audit(portal: &Replica, action: &str, id: i64) -> Vec<Value> {
    let entries: Vec<Value> = portal
        .http
        .get(format!("{}/api/v1/audit?action={action}&object=submission/{id}", portal.url))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    entries.into_iter().filter(|entry| entry["object"] == format!("submission/{id}")).collect()
}

fn holder_is(body: &Value, portal: &Replica) -> bool {
    body["claimed_by"].as_str().is_some_and(|holder| holder.contains(&format!("-{}-", portal.pid())))
}

async fn a_portal_killed_mid_apply_and_mid_teardown_resumes_both_on_its_next_start(kind: DbKind) {
    let setup = Setup::new(kind, WRITE_DELAY).await;
    let first = setup.portal(LEASE_SECS).await;
    let id = submit(&first).await;
    let before = until(&first, id, Duration::from_secs(30), "three objects applied", |body| {
        in_state(body, &["applied"]) >= 3 && body["status"] == "applying"
    })
    .await;
    let objects = written(&before);
    drop(first); // SIGKILL in the middle of the apply

    let second = setup.portal(LEASE_SECS).await;
    let after = until(&second, id, Duration::from_secs(40), "the submission settles", |body| body["status"] != "applying").await;
    assert_eq!(after["status"], "ready", "{after:#}");
    assert_eq!(after["attempts"], 2, "claimed twice: {after:#}");
    let writes = setup.writes();
    let mut twice = 0;
    for object in &objects {
        assert_eq!(setup.exists(&object.0, &object.1, &object.2), 1, "{object:?} exists once");
        let applies = writes.get(object).map_or(0, |w| w.0);
        assert!((1..=2).contains(&applies), "{object:?} applied {applies} times");
        twice += usize::from(applies == 2);
    }
    assert!(twice <= 1, "only the object in flight when the portal died is applied again: {writes:?}");
    let resumed = audit(&second, "submission.resume", id).await;
    assert_eq!(resumed.len(), 1, "{resumed:#?}");
    assert!(resumed[0]["actor"].as_str().is_some_and(|actor| actor.contains(&format!("-{}-", second.pid()))), "{resumed:#?}");
    let reason = resumed[0]["after"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("past the 3 s lease"), "{reason}");

    // The same for a teardown.
    let down = teardown(&second).await;
    let before = until(&second, down, Duration::from_secs(30), "two objects deleted", |body| {
        in_state(body, &["deleted"]) >= 2 && body["status"] == "tearing_down"
    })
    .await;
    let objects = written(&before);
    drop(second);
    let third = setup.portal(LEASE_SECS).await;
    let after = until(&third, down, Duration::from_secs(40), "the teardown settles", |body| body["status"] != "tearing_down").await;
    assert_eq!(after["status"], "torn_down", "{after:#}");
    let writes = setup.writes();
    for object in &objects {
        assert_eq!(setup.exists(&object.0, &object.1, &object.2), 0, "{object:?} is gone");
        let deletes = writes.get(object).map_or(0, |w| w.1);
        assert!((1..=2).contains(&deletes), "{object:?} deleted {deletes} times");
    }
    let resumed = audit(&third, "submission.resume", down).await;
    assert_eq!(resumed.len(), 1, "{resumed:#?}");
    assert!(resumed[0]["actor"].as_str().is_some_and(|actor| actor.contains(&format!("-{}-", third.pid()))));
}

async fn the_other_replica_finishes_a_job_whose_holder_was_killed_within_the_lease(kind: DbKind) {
    let setup = Setup::new(kind, WRITE_DELAY).await;
    let one = setup.portal(LEASE_SECS).await;
    let two = setup.portal(LEASE_SECS).await;
    let id = submit(&one).await;
    let running = until(&one, id, Duration::from_secs(30), "three objects applied", |body| {
        in_state(body, &["applied"]) >= 3 && body["status"] == "applying"
    })
    .await;
    let (holder, survivor) = if holder_is(&running, &one) { (one, two) } else { (two, one) };
    assert!(holder_is(&running, &holder), "one of the two holds it: {running:#}");
    let killed = Instant::now();
    drop(holder);
    until(&survivor, id, Duration::from_secs(LEASE_SECS + 5), "the survivor claims it", |body| holder_is(body, &survivor)).await;
    let takeover = killed.elapsed();
    let after = until(&survivor, id, Duration::from_secs(30), "the submission settles", |body| body["status"] != "applying").await;
    let finished = killed.elapsed();
    assert_eq!(after["status"], "ready", "{after:#}");
    let writes = setup.writes();
    for object in written(&after) {
        let applies = writes.get(&object).map_or(0, |w| w.0);
        assert!((1..=2).contains(&applies), "{object:?} applied {applies} times");
    }
    assert_eq!(audit(&survivor, "submission.resume", id).await.len(), 1);
    eprintln!(
        "job takeover ({kind:?}): SIGKILL to the survivor's claim {takeover:?}, to ready {finished:?} (lease {LEASE_SECS} s, heartbeat every {} ms)",
        LEASE_SECS * 1000 / 5
    );
}

fn sigterm(portal: &Replica) {
    let status = Command::new("kill").args(["-TERM", &portal.pid().to_string()]).status().expect("kill runs");
    assert!(status.success());
}

async fn sigterm_mid_job_exits_within_the_grace_period_and_the_other_replica_resumes_at_once(kind: DbKind) {
    let setup = Setup::new(kind, WRITE_DELAY).await;
    // A lease far longer than the test: only a released claim lets the other take it soon.
    let one = setup.portal(60).await;
    let two = setup.portal(60).await;
    let id = submit(&one).await;
    let running = until(&one, id, Duration::from_secs(30), "two objects applied", |body| {
        in_state(body, &["applied"]) >= 2 && body["status"] == "applying"
    })
    .await;
    let (mut holder, other) = if holder_is(&running, &one) { (one, two) } else { (two, one) };
    let stopped = Instant::now();
    sigterm(&holder);
    let exit = holder.child.wait().expect("the portal exits");
    let took = stopped.elapsed();
    assert!(exit.success(), "a graceful stop exits 0 (a stop past the grace period would not): {exit:?}");
    let after = until(&other, id, Duration::from_secs(20), "the other replica finishes it", |body| body["status"] != "applying").await;
    assert_eq!(after["status"], "ready", "{after:#}");
    assert_eq!(audit(&other, "submission.release", id).await.len(), 1);
    let resumed = audit(&other, "submission.resume", id).await;
    assert_eq!(resumed.len(), 1);
    assert!(resumed[0]["after"]["reason"].as_str().is_some_and(|reason| reason.contains("released it when it stopped")), "{resumed:#?}");
    eprintln!("SIGTERM mid-job ({kind:?}): exited after {took:?}; the other replica finished the job {:?} after the signal", stopped.elapsed());
}

async fn two_hundred_submissions_at_two_replicas_each_run_exactly_once(kind: DbKind) {
    const SUBMISSIONS: usize = 200;
    let setup = Setup::new(kind, Duration::ZERO).await;
    let portals = Arc::new([setup.portal(15).await, setup.portal(15).await]);
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let mut fired = tokio::task::JoinSet::new();
    for i in 0..SUBMISSIONS {
        let (portals, limit) = (portals.clone(), limit.clone());
        fired.spawn(async move {
            let _permit = limit.acquire().await.expect("the semaphore");
            submit(&portals[i % 2]).await
        });
    }
    let mut ids = Vec::new();
    while let Some(id) = fired.join_next().await {
        ids.push(id.expect("a submission"));
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut bodies = Vec::new();
    for id in &ids {
        loop {
            let body = submission(&portals[0], *id).await;
            if body["status"] != "applying" {
                bodies.push(body);
                break;
            }
            assert!(Instant::now() < deadline, "submission {id} did not settle: {body:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let elapsed = started.elapsed();
    let per_submission = written(&bodies[0]);
    let mut by_holder: BTreeMap<String, usize> = BTreeMap::new();
    for body in &bodies {
        assert_eq!(body["status"], "ready", "{body:#}");
        assert_eq!(body["attempts"], 1, "claimed once: {body:#}");
        *by_holder.entry(body["claimed_by"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    let writes = setup.writes();
    let applies: usize = per_submission.iter().map(|object| writes.get(object).map_or(0, |w| w.0)).sum();
    assert_eq!(applies, SUBMISSIONS * per_submission.len(), "every job applied its {} objects exactly once", per_submission.len());
    for id in &ids {
        assert!(audit(&portals[0], "submission.resume", *id).await.is_empty(), "submission {id} was never resumed");
    }
    eprintln!("{SUBMISSIONS} submissions at two replicas ({kind:?}): all ready in {elapsed:?}; jobs per replica {by_holder:?}");
}

/// A TCP gate in front of the simulated cluster: closed, it drops every connection (the
/// cluster is unreachable); open, it passes them through.
async fn gate(sim: &SimCluster) -> (String, Arc<std::sync::atomic::AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (upstream, is_open) = (sim.url().trim_start_matches("http://").to_owned(), open.clone());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !is_open.load(std::sync::atomic::Ordering::SeqCst) {
                continue; // dropped: the connection is reset
            }
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, open)
}

async fn a_job_that_failed_on_an_unreachable_cluster_is_retried_by_its_requester_or_a_network_admin(kind: DbKind) {
    use domain::access::Role;

    let sim = simulated(CiliumBehaviour::default(), None).await;
    let (url, open) = gate(&sim).await;
    let kubeconfig = sim.kubeconfig(None).replace(&sim.url(), &url);
    let (app, _dir) = crate::cluster::portal_with(kind, &kubeconfig, |_| {}).await;
    let scopes = "namespace:cd-service, namespace:cd-service-*";
    let (requester, colleague) = (app.client_as(Role::AppTeam, scopes).await, app.client_as(Role::AppTeam, scopes).await);
    let viewer = app.client_as(Role::Viewer, "").await;

    let submitted = requester.post(app.at("/api/v1/applications/api/submissions")).json(&json!({"environment": "dev"})).send().await.unwrap();
    assert_eq!(submitted.status(), 202);
    let id = submitted.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let again = requester.post(app.at("/api/v1/applications/api/submissions")).json(&json!({"environment": "dev"})).send().await.unwrap();
    let second = again.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(crate::cluster::settled(&app, second).await["failure_code"], "cluster_unreachable");
    let failed = crate::cluster::settled(&app, id).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["failure_code"], "cluster_unreachable");
    assert_eq!(failed["retryable"], true);

    let retry = |client: &reqwest::Client| client.post(app.at(&format!("/api/v1/submissions/{id}/retry"))).send();
    assert_eq!(retry(&viewer).await.unwrap().status(), 403, "a viewer changes nothing");
    let refused = retry(&colleague).await.unwrap();
    assert_eq!(refused.status(), 403, "another app-team member is neither the requester nor a network admin");
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("retry another person's submission"), "{body}");

    // The cluster is back: the requester retries, and it runs from where it failed.
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    let retried = retry(&requester).await.unwrap();
    assert_eq!(retried.status(), 202);
    let done = crate::cluster::settled(&app, id).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    assert_eq!(done["attempts"], 2);
    assert_eq!(done["bundle"], failed["bundle"], "the same bundle");
    let (_, audit) = app.get_json(&format!("/api/v1/audit?action=submission.retry&object=submission/{id}")).await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit:#}");

    // A ready submission is not retried; a failure a retry cannot cure is not either.
    let again = retry(&requester).await.unwrap();
    assert_eq!(again.status(), 409);
    sim.set_access(simcluster::Access { forbidden: vec![("patch".into(), "deployments".into())], ..Default::default() });
    let (_, body) = app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev"})).await;
    let refused_id = body["id"].as_i64().unwrap();
    let failed = crate::cluster::settled(&app, refused_id).await;
    assert_eq!((failed["failure_code"].as_str(), failed["retryable"].as_bool()), (Some("forbidden"), Some(false)), "{failed:#}");
    let (status, body) = app.post_json(&format!("/api/v1/submissions/{refused_id}/retry"), &json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("failed with forbidden, which running it again cannot cure"), "{body}");

    // A network admin retries anyone's.
    sim.set_access(simcluster::Access::default());
    let admin = app.client_as(Role::NetworkAdmin, "").await;
    assert_eq!(admin.post(app.at(&format!("/api/v1/submissions/{second}/retry"))).send().await.unwrap().status(), 202);
    assert_eq!(crate::cluster::settled(&app, second).await["status"], "ready");
}

on_both_databases!(
    a_portal_killed_mid_apply_and_mid_teardown_resumes_both_on_its_next_start,
    the_other_replica_finishes_a_job_whose_holder_was_killed_within_the_lease,
    sigterm_mid_job_exits_within_the_grace_period_and_the_other_replica_resumes_at_once,
    two_hundred_submissions_at_two_replicas_each_run_exactly_once,
    a_job_that_failed_on_an_unreachable_cluster_is_retried_by_its_requester_or_a_network_admin,
);
