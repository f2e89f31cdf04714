//! Durable jobs (issue 18): how fast an orphaned job is taken over, and what durability costs
//! a submission.
//!
//! 1. **Takeover.** Two real `gatehouse` processes on one database (a SQLite file; also a
//!    fresh PostgreSQL database when GATEHOUSE_TEST_POSTGRES_URL names a server) and one
//!    simulated cluster in this process that answers every write [`WRITE_DELAY`] late, lease
//!    [`LEASE_SECS`]. A submission of `api` to `dev` is made; once its holder has applied
//!    [`APPLIED_BEFORE_KILL`] objects the holder is killed (SIGKILL, no goodbye), and the bench
//!    times the survivor's claim from the kill and from the lease's expiry — the dead holder's
//!    last heartbeat (`submissions.heartbeat_ms`, read from the database once the holder is
//!    dead) plus the lease. The claim's time is the `heartbeat_ms` the survivor's claim
//!    writes, by the database's clock, which on this one machine is the bench's clock too.
//!    Fresh database, cluster and processes every round.
//! 2. **Cost of durability.** Submit-to-ready of the same submission with no write delay, in
//!    process, as `benches/submission.rs` measures it, with the default lease; and the rows
//!    each job writes, counted by triggers the bench adds to its own database (the claim, the
//!    heartbeats, the fenced per-object progress and what was there before jobs were durable).
//!
//! `cargo bench -p gatehouse --bench jobs` (`--profile dev` for the debug build the README's
//! submission figure was taken with). GATEHOUSE_BENCH_ROUNDS (default 5) sets the takeover
//! rounds, each some seconds; GATEHOUSE_BENCH_READY_ROUNDS (default 20) the submit-to-ready
//! rounds. Not a timed test: it prints the median, 95th percentile and worst (and best).
//! Only loopback: the portals listen on 127.0.0.1, the cluster too.
use std::{
    collections::BTreeMap,
    path::Path,
    process::Child,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use backend::{
    cluster::jobs::JobSettings,
    db::{Backend, Database},
};
use gatehouse::{Config, Gatehouse};
use simcluster::{CiliumBehaviour, SimCluster};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, Row};

mod support {
    pub mod replica;
}
use support::replica::spawn_replica;

/// The takeover's lease: short, so that a round takes seconds.
const LEASE_SECS: u64 = 3;
/// How long the simulated API server takes to answer each write, so the job is mid-apply.
const WRITE_DELAY: Duration = Duration::from_millis(250);
/// Objects the holder has applied when it is killed.
const APPLIED_BEFORE_KILL: usize = 3;
/// How often the bench reads the job's row while it waits for the survivor's claim.
const ROW_POLL: Duration = Duration::from_millis(2);
/// Submit-and-teardown rounds whose row writes are counted (after the timed rounds).
const COUNTED_ROUNDS: usize = 3;

fn env_rounds(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

/// Milliseconds since 1970 by this machine's clock (the databases' clock too: both local).
fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Prints the median, 95th percentile, worst and best of samples in milliseconds.
fn report(what: &str, mut samples: Vec<f64>) {
    if samples.is_empty() {
        println!("  {what}: no samples");
        return;
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  {what}: median {:.1} ms, p95 {:.1} ms, worst {:.1} ms, best {:.1} ms ({} rounds)",
        at(0.5),
        at(0.95),
        at(1.0),
        at(0.0),
        samples.len()
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "SQLite",
            DbKind::Postgres => "PostgreSQL",
        }
    }
}

fn databases() -> Vec<DbKind> {
    let mut kinds = vec![DbKind::Sqlite];
    if std::env::var_os("GATEHOUSE_TEST_POSTGRES_URL").is_some() {
        kinds.push(DbKind::Postgres);
    } else {
        println!("GATEHOUSE_TEST_POSTGRES_URL is not set: SQLite only");
    }
    kinds
}

/// A database of its own: a SQLite file in a temporary directory, or a new PostgreSQL
/// database (dropped with this). Its name starts `gh_test_<pid>_` as the integration tests'
/// do, so their sweep drops it should this bench be killed before it can.
struct FreshDatabase {
    url: String,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl FreshDatabase {
    async fn new(kind: DbKind) -> FreshDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match kind {
            DbKind::Sqlite => FreshDatabase {
                url: format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
                _dir: dir,
                postgres: None,
            },
            DbKind::Postgres => {
                let admin_url = std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
                    .expect("GATEHOUSE_TEST_POSTGRES_URL");
                let name = format!(
                    "gh_test_{}_jobsbench_{}",
                    std::process::id(),
                    DATABASES.fetch_add(1, Ordering::SeqCst)
                );
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .expect("connect to the PostgreSQL server");
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create a database");
                admin.close().await.ok();
                let (base, query) = admin_url
                    .split_once('?')
                    .map_or((admin_url.as_str(), None), |(b, q)| (b, Some(q)));
                let base = base
                    .rfind('/')
                    .filter(|slash| *slash > "postgres://".len())
                    .map_or(base, |slash| &base[..slash]);
                let url = match query {
                    Some(query) => format!("{base}/{name}?{query}"),
                    None => format!("{base}/{name}"),
                };
                FreshDatabase {
                    url,
                    _dir: dir,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Possibly inside the runtime: a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

async fn simulated(behaviour: CiliumBehaviour) -> SimCluster {
    let config = Config::for_tests("sqlite::memory:", "");
    let schemas = gatehouse::cluster::schemas(&config.schemas_dir)
        .await
        .expect("the schemas load");
    let sim = SimCluster::start_seeded(schemas)
        .await
        .expect("the simulated cluster starts");
    sim.set_behaviour(behaviour);
    sim
}

/// Applies by `gatehouse` the simulated cluster has received (counted when they arrive).
fn applies(sim: &SimCluster) -> usize {
    sim.writes()
        .iter()
        .filter(|write| write.verb == "apply" && write.manager == "gatehouse")
        .count()
}

/// One `gatehouse` process with the demo plan (visitors are the demo network admin);
/// SIGKILLed when dropped.
struct Replica {
    child: Child,
    url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Starts the binary and waits for its "listening" line (JSON logs on stdout, which a
    /// thread drains so the process never blocks on them).
    async fn start(database_url: &str, kubeconfig: &Path) -> Replica {
        let lease = LEASE_SECS.to_string();
        let (child, url) = spawn_replica(database_url, kubeconfig, &["--job-lease-secs", &lease]).await;
        Replica { child, url }
    }

    /// Whether this process holds the claim (`claimed_by` is `<host>-<pid>-<random>`).
    fn holds(&self, body: &Value) -> bool {
        body["claimed_by"]
            .as_str()
            .is_some_and(|holder| holder.contains(&format!("-{}-", self.child.id())))
    }
}

async fn submit(http: &reqwest::Client, base: &str) -> i64 {
    let response = http
        .post(format!("{base}/api/v1/applications/api/submissions"))
        .json(&json!({"environment": "dev"}))
        .send()
        .await
        .expect("the portal answers");
    assert_eq!(response.status(), 202);
    response.json::<Value>().await.expect("JSON")["id"]
        .as_i64()
        .expect("an id")
}

async fn submission(http: &reqwest::Client, base: &str, id: i64) -> Value {
    http.get(format!("{base}/api/v1/submissions/{id}"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON")
}

async fn until(
    http: &reqwest::Client,
    base: &str,
    id: i64,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let body = submission(http, base, id).await;
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "not within {within:?}: {what}: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn applied(body: &Value) -> usize {
    body["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["state"] == "applied")
        .count()
}

/// The claim columns of a job's row.
struct ClaimRow {
    claim: i64,
    claimed_by: Option<String>,
    heartbeat_ms: Option<i64>,
}

async fn claim_row(db: &Database, id: i64) -> ClaimRow {
    let row = sqlx::query("SELECT claim, claimed_by, heartbeat_ms FROM submissions WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .expect("the job's row");
    ClaimRow {
        claim: row.try_get("claim").expect("claim"),
        claimed_by: row.try_get("claimed_by").expect("claimed_by"),
        heartbeat_ms: row.try_get("heartbeat_ms").expect("heartbeat_ms"),
    }
}

/// Counts every row the portal inserts, updates or deletes, by table and, for `submissions`,
/// by what the update is (claim, heartbeat, release, status, other), in `bench_writes`.
async fn count_writes(db: &Database) {
    let backend = db.backend();
    let list = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\'"
        }
        Backend::Postgres => {
            "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_sqlx%'"
        }
    };
    let tables: Vec<String> = sqlx::query(list)
        .fetch_all(db.pool())
        .await
        .expect("the tables")
        .iter()
        .map(|row| row.try_get::<String, _>("name").expect("a name"))
        .collect();
    sqlx::query("CREATE TABLE bench_writes (what TEXT NOT NULL)")
        .execute(db.pool())
        .await
        .expect("bench_writes");
    if backend == Backend::Postgres {
        sqlx::query(
            "CREATE FUNCTION bench_count() RETURNS trigger LANGUAGE plpgsql AS \
             $body$ BEGIN INSERT INTO bench_writes (what) VALUES (TG_ARGV[0]); RETURN NULL; END $body$",
        )
        .execute(db.pool())
        .await
        .expect("bench_count()");
    }
    let (same, differs) = match backend {
        Backend::Sqlite => ("IS", "IS NOT"),
        Backend::Postgres => ("IS NOT DISTINCT FROM", "IS DISTINCT FROM"),
    };
    let mut triggers: Vec<(String, &str, Option<String>, String)> = Vec::new();
    for table in &tables {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            if table == "submissions" && op == "UPDATE" {
                continue;
            }
            triggers.push((
                table.clone(),
                op,
                None,
                format!("{table} {}", op.to_lowercase()),
            ));
        }
    }
    let claim_kept = format!("NEW.claim {same} OLD.claim");
    let status_kept = format!("NEW.status {same} OLD.status");
    let beat_changed = format!("NEW.heartbeat_ms {differs} OLD.heartbeat_ms");
    for (when, what) in [
        (
            format!("NEW.claim {differs} OLD.claim"),
            "submissions update: claim",
        ),
        (
            format!(
                "{claim_kept} AND {status_kept} AND {beat_changed} AND NEW.heartbeat_ms IS NOT NULL"
            ),
            "submissions update: heartbeat",
        ),
        (
            format!(
                "{claim_kept} AND {status_kept} AND {beat_changed} AND NEW.heartbeat_ms IS NULL"
            ),
            "submissions update: claim released",
        ),
        (
            format!("{claim_kept} AND NEW.status {differs} OLD.status"),
            "submissions update: status",
        ),
        (
            format!("{claim_kept} AND {status_kept} AND NEW.heartbeat_ms {same} OLD.heartbeat_ms"),
            "submissions update: other (the message of a resumed job)",
        ),
    ] {
        triggers.push((
            "submissions".to_owned(),
            "UPDATE",
            Some(when),
            what.to_owned(),
        ));
    }
    for (n, (table, op, when, what)) in triggers.iter().enumerate() {
        let sql = match backend {
            Backend::Sqlite => {
                let when = when
                    .as_ref()
                    .map(|when| format!(" WHEN {when}"))
                    .unwrap_or_default();
                format!(
                    "CREATE TRIGGER bench_{n} AFTER {op} ON {table} FOR EACH ROW{when} BEGIN INSERT INTO bench_writes (what) VALUES ('{what}'); END"
                )
            }
            Backend::Postgres => {
                let when = when
                    .as_ref()
                    .map(|when| format!(" WHEN ({when})"))
                    .unwrap_or_default();
                format!(
                    "CREATE TRIGGER bench_{n} AFTER {op} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION bench_count('{what}')"
                )
            }
        };
        sqlx::query(&sql)
            .execute(db.pool())
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
}

/// The rows counted since the last call, by what; the count starts again.
async fn take_writes(db: &Database) -> BTreeMap<String, f64> {
    let rows = sqlx::query("SELECT what, COUNT(*) AS n FROM bench_writes GROUP BY what")
        .fetch_all(db.pool())
        .await
        .expect("the counts");
    sqlx::query("DELETE FROM bench_writes")
        .execute(db.pool())
        .await
        .expect("the counts cleared");
    rows.iter()
        .map(|row| {
            (
                row.try_get::<String, _>("what").expect("what"),
                row.try_get::<i64, _>("n").expect("n") as f64,
            )
        })
        .collect()
}

/// Whether the durable-jobs design added these row writes (the rest were there before).
fn added_by_durability(what: &str) -> bool {
    [
        "submissions update: claim",
        "submissions update: heartbeat",
        "submissions update: claim released",
    ]
    .contains(&what)
}

fn print_writes(what: &str, counted: &[BTreeMap<String, f64>]) {
    let mut sum: BTreeMap<String, f64> = BTreeMap::new();
    for counts in counted {
        for (what, n) in counts {
            *sum.entry(what.clone()).or_default() += n;
        }
    }
    let jobs = counted.len().max(1) as f64;
    let total: f64 = sum.values().sum::<f64>() / jobs;
    println!(
        "  row writes per {what} (mean of {} jobs; rows changed, counted by triggers: reads and statements that change no row are not): {total:.1}",
        counted.len()
    );
    for (what, n) in &sum {
        let mark = if added_by_durability(what) {
            "  [durable jobs]"
        } else {
            ""
        };
        println!("    {:>5.1}  {what}{mark}", n / jobs);
    }
}

/// One takeover round's times, milliseconds.
struct Takeover {
    /// SIGKILL to the survivor's claim (the claim's `heartbeat_ms`).
    kill_to_claim: f64,
    /// The dead holder's last heartbeat plus the lease, to the survivor's claim.
    expiry_to_claim: f64,
    /// How old the holder's last heartbeat was when it was killed.
    beat_age_at_kill: f64,
    /// The heartbeat's age the survivor recorded in its `submission.resume` audit, less the lease.
    audited_past_lease: f64,
    /// SIGKILL to the bench's seeing the claim (rows read every ROW_POLL).
    kill_to_claim_seen: f64,
    /// The survivor's claim to its first write reaching the cluster (the job resumed).
    claim_to_first_write: f64,
    /// SIGKILL to the submission's being ready.
    kill_to_ready: f64,
    writes: BTreeMap<String, f64>,
}

/// A takeover round; the submission waits `before_submit` and the kill `before_kill`, so that
/// rounds meet the survivor's look for runnable jobs and the holder's heartbeat at different
/// moments (with a cluster this regular, every round would otherwise meet them alike).
async fn takeover_round(kind: DbKind, before_submit: Duration, before_kill: Duration) -> Takeover {
    let sim = simulated(CiliumBehaviour {
        write_delay: WRITE_DELAY,
        ..CiliumBehaviour::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig(None)).expect("the kubeconfig is written");
    let database = FreshDatabase::new(kind).await;
    // The first migrates and seeds; the second finds both done.
    let one = Replica::start(&database.url, &kubeconfig).await;
    let two = Replica::start(&database.url, &kubeconfig).await;
    let db = Database::connect(&database.url)
        .await
        .expect("the bench's own connection");
    count_writes(&db).await;
    let http = reqwest::Client::new();

    tokio::time::sleep(before_submit).await;
    let id = submit(&http, &one.url).await;
    let running = until(
        &http,
        &one.url,
        id,
        Duration::from_secs(30),
        "objects applied",
        |body| applied(body) >= APPLIED_BEFORE_KILL && body["status"] == "applying",
    )
    .await;
    let (holder, survivor) = if one.holds(&running) {
        (one, two)
    } else {
        (two, one)
    };
    assert!(
        holder.holds(&running),
        "one of the two holds it: {running:#}"
    );

    // Watches the cluster for the survivor's first write: nothing the dead holder sent
    // arrives after it is dead, so the first write past this count is the survivor's.
    let writes_at_kill = Arc::new(AtomicUsize::new(usize::MAX));
    let sim = Arc::new(sim);
    let first_write = {
        let (sim, writes_at_kill) = (sim.clone(), writes_at_kill.clone());
        tokio::spawn(async move {
            loop {
                let before = writes_at_kill.load(Ordering::SeqCst);
                if before != usize::MAX && applies(&sim) > before {
                    return unix_ms();
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };

    tokio::time::sleep(before_kill).await;
    let killed_ms = unix_ms();
    let killed = Instant::now();
    drop(holder); // SIGKILL, and reaped
    // A request the holder sent just before it died may still be read by the cluster; the
    // survivor cannot claim for seconds yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    writes_at_kill.store(applies(&sim), Ordering::SeqCst);
    let dead = claim_row(&db, id).await;
    let last_beat = dead.heartbeat_ms.expect("the dead holder's heartbeat") as f64;
    let claimed = loop {
        let row = claim_row(&db, id).await;
        if row.claim != dead.claim {
            break row;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(LEASE_SECS + 10),
            "the survivor did not claim the job"
        );
        tokio::time::sleep(ROW_POLL).await;
    };
    let claim_seen_ms = unix_ms();
    assert!(
        claimed
            .claimed_by
            .as_deref()
            .is_some_and(|by| by.contains(&format!("-{}-", survivor.child.id()))),
        "the survivor claims it"
    );
    // What the claim wrote: the survivor renews it only a fifth of the lease later.
    let claim_ms = claimed.heartbeat_ms.expect("the claim's heartbeat") as f64;
    assert!(
        claim_seen_ms - claim_ms < LEASE_SECS as f64 * 1e3 / 5.0,
        "read before the survivor's first renewal"
    );

    let done = until(
        &http,
        &survivor.url,
        id,
        Duration::from_secs(40),
        "the submission settles",
        |body| body["status"] != "applying",
    )
    .await;
    let ready_ms = unix_ms();
    assert_eq!(done["status"], "ready", "{done:#}");
    assert_eq!(done["attempts"], 2, "claimed twice: {done:#}");
    let first_write_ms = first_write.await.expect("the survivor wrote");
    let audited = sqlx::query(
        "SELECT before_json FROM audit_log WHERE action = 'submission.resume' AND object = $1",
    )
    .bind(format!("submission/{id}"))
    .fetch_one(db.pool())
    .await
    .expect("the resume is audited");
    let before: Value = serde_json::from_str(
        &audited
            .try_get::<String, _>("before_json")
            .expect("before_json"),
    )
    .expect("JSON");
    let audited_age = before["heartbeat_age_ms"]
        .as_f64()
        .expect("the heartbeat's age");
    let writes = take_writes(&db).await;
    db.close().await;
    drop(survivor);

    let lease_ms = LEASE_SECS as f64 * 1e3;
    Takeover {
        kill_to_claim: claim_ms - killed_ms,
        expiry_to_claim: claim_ms - (last_beat + lease_ms),
        beat_age_at_kill: killed_ms - last_beat,
        audited_past_lease: audited_age - lease_ms,
        kill_to_claim_seen: claim_seen_ms - killed_ms,
        claim_to_first_write: first_write_ms - claim_ms,
        kill_to_ready: ready_ms - killed_ms,
        writes,
    }
}

async fn takeover(kind: DbKind, rounds: usize) {
    let settings = JobSettings::new(String::new(), Duration::from_secs(LEASE_SECS), 1);
    println!(
        "\n== takeover of an orphaned job, {}: two gatehouse processes, lease {LEASE_SECS} s (heartbeat every {} ms, an idle replica looks every {} ms), \
         cluster writes {} ms each, holder SIGKILLed after {APPLIED_BEFORE_KILL} objects applied ==",
        kind.name(),
        settings.heartbeat().as_millis(),
        settings.poll.as_millis(),
        WRITE_DELAY.as_millis()
    );
    println!(
        "  lease expiry = the dead holder's last heartbeat_ms (read from the database after SIGKILL) + {LEASE_SECS} s; \
         claim = the heartbeat_ms the survivor's claim wrote (database clock, ms); SIGKILL = the bench's clock (same machine)"
    );
    let mut results = Vec::new();
    for round in 0..rounds {
        // Spread over one look interval and one heartbeat interval, in different orders.
        let spread = |interval: Duration, k: usize| {
            interval.mul_f64(((round * k + k / 2) % rounds) as f64 / rounds as f64)
        };
        let (before_submit, before_kill) =
            (spread(settings.poll, 1), spread(settings.heartbeat(), 2));
        let result = takeover_round(kind, before_submit, before_kill).await;
        println!(
            "  round {} (submitted after {} ms, killed {} ms after {APPLIED_BEFORE_KILL} objects were applied): SIGKILL→claim {:.0} ms, lease expiry→claim {:.0} ms (heartbeat {:.0} ms old at SIGKILL), claim→first write {:.0} ms, SIGKILL→ready {:.0} ms",
            round + 1,
            before_submit.as_millis(),
            before_kill.as_millis(),
            result.kill_to_claim,
            result.expiry_to_claim,
            result.beat_age_at_kill,
            result.claim_to_first_write,
            result.kill_to_ready
        );
        results.push(result);
    }
    let column = |f: fn(&Takeover) -> f64| results.iter().map(f).collect::<Vec<f64>>();
    report(
        "SIGKILL to the survivor's claim",
        column(|r| r.kill_to_claim),
    );
    report(
        "lease expiry to the survivor's claim",
        column(|r| r.expiry_to_claim),
    );
    report(
        "  cross-check, the survivor's audit: heartbeat age less the lease",
        column(|r| r.audited_past_lease),
    );
    let seen = format!(
        "  cross-check, SIGKILL to the bench's seeing the claim (the row read every {} ms)",
        ROW_POLL.as_millis()
    );
    report(&seen, column(|r| r.kill_to_claim_seen));
    report(
        "the dead holder's heartbeat age at SIGKILL",
        column(|r| r.beat_age_at_kill),
    );
    report(
        "the survivor's claim to its first write at the cluster (resumed)",
        column(|r| r.claim_to_first_write),
    );
    report("SIGKILL to ready", column(|r| r.kill_to_ready));
    let writes: Vec<BTreeMap<String, f64>> = results.into_iter().map(|r| r.writes).collect();
    print_writes("taken-over submission (both holders)", &writes);
}

async fn durability_cost(kind: DbKind, rounds: usize) {
    let database = FreshDatabase::new(kind).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    // As benches/submission.rs: Cilium before 1.15, no write delay.
    let sim = simulated(CiliumBehaviour {
        copies_infrastructure_labels: false,
        ..CiliumBehaviour::default()
    })
    .await;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig(None)).expect("the kubeconfig");
    let mut config = Config::for_tests(&database.url, "");
    config.demo = true;
    config.kubeconfig = Some(kubeconfig);
    let settings = config.job_settings();
    println!(
        "\n== cost of durability, {}: submit to ready of api in dev, one portal in this process, no write delay, lease {} s (heartbeat every {} ms) ==",
        kind.name(),
        settings.lease.as_secs(),
        settings.heartbeat().as_millis()
    );
    let gatehouse = Gatehouse::start(config).await.expect("the portal starts");
    let base = gatehouse.url();
    let db = gatehouse.state().db.clone();
    tokio::spawn(gatehouse.serve(std::future::pending()));
    let http = reqwest::Client::new();

    // Posts and polls every millisecond until it settles (as benches/submission.rs).
    let run = async |request: reqwest::RequestBuilder| -> (i64, f64, f64, f64, String) {
        let sent_ms = unix_ms();
        let started = Instant::now();
        let accepted: Value = request
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        let answered = started.elapsed().as_secs_f64() * 1e3;
        let id = accepted["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("a submission id: {accepted}"));
        loop {
            let body = submission(&http, &base, id).await;
            let state = body["status"].as_str().unwrap_or_default().to_owned();
            if state != "applying" && state != "tearing_down" {
                return (
                    id,
                    sent_ms,
                    answered,
                    started.elapsed().as_secs_f64() * 1e3,
                    state,
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let submit_request = || {
        http.post(format!("{base}/api/v1/applications/api/submissions"))
            .json(&json!({"environment": "dev"}))
    };
    let teardown_request =
        || http.delete(format!("{base}/api/v1/applications/api/environments/dev"));

    let (mut ready, mut accepted, mut to_claim, mut torn_down) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut beaten = 0;
    for _ in 0..rounds {
        let (id, sent_ms, answered, took, state) = run(submit_request()).await;
        assert_eq!(state, "ready");
        ready.push(took);
        accepted.push(answered);
        let row = claim_row(&db, id).await;
        let claim_ms = row.heartbeat_ms.expect("claimed") as f64;
        // A job shorter than a heartbeat interval keeps the claim's heartbeat_ms.
        if took < settings.heartbeat().as_secs_f64() * 1e3 {
            to_claim.push(claim_ms - sent_ms);
        } else {
            beaten += 1;
        }
        let (_, _, _, took, state) = run(teardown_request()).await;
        assert_eq!(state, "torn_down");
        torn_down.push(took);
    }
    report(
        "submit to ready (api in dev, 10 objects, simulated cluster)",
        ready,
    );
    report(
        "  of which: POST to its 202 (the job row, its objects sealed, recorded)",
        accepted,
    );
    report(
        "  of which: POST sent to the job's claim (wake, claim by this replica's pool)",
        to_claim,
    );
    if beaten > 0 {
        println!(
            "  ({beaten} jobs ran longer than a heartbeat interval: their claim time is not in the row any more)"
        );
    }
    report("teardown to torn down", torn_down);

    let sizes = sqlx::query("SELECT CAST(LENGTH(job_objects) AS BIGINT) AS stored, CAST(LENGTH(bundle) AS BIGINT) AS bundle FROM submissions WHERE operation = 'apply' ORDER BY id DESC LIMIT 1")
        .fetch_one(db.pool())
        .await
        .expect("a submission");
    println!(
        "  the job's stored objects (job_objects, Secrets sealed): {} bytes per submission, beside its bundle's {} bytes",
        sizes.try_get::<i64, _>("stored").unwrap_or_default(),
        sizes.try_get::<i64, _>("bundle").unwrap_or_default()
    );

    count_writes(&db).await;
    let (mut submits, mut teardowns) = (Vec::new(), Vec::new());
    for _ in 0..COUNTED_ROUNDS {
        let (_, _, _, _, state) = run(submit_request()).await;
        assert_eq!(state, "ready");
        // Anything the job writes after saying ready is its too.
        tokio::time::sleep(Duration::from_millis(300)).await;
        submits.push(take_writes(&db).await);
        let (_, _, _, _, state) = run(teardown_request()).await;
        assert_eq!(state, "torn_down");
        tokio::time::sleep(Duration::from_millis(300)).await;
        teardowns.push(take_writes(&db).await);
    }
    print_writes("submission, POST to ready", &submits);
    print_writes("teardown, DELETE to torn down", &teardowns);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let kinds = databases();
        let rounds = env_rounds("GATEHOUSE_BENCH_ROUNDS", 5);
        let ready_rounds = env_rounds("GATEHOUSE_BENCH_READY_ROUNDS", 20);
        for kind in &kinds {
            takeover(*kind, rounds).await;
        }
        for kind in &kinds {
            durability_cost(*kind, ready_rounds).await;
        }
    });
}
