//! Organisation scale (issue 20): every page and API GET, and an application save, at demo
//! size and at 1,000 applications in 20 environments with 50,000 allocated VIPs.
//!
//! The organisation is stored straight through the backend's services in this process (the
//! same calls /api/v1 makes, each save checked against the plan; certificates issued per
//! environment and hostname), then 50,000 addresses are allocated (next free, 8 at a time).
//! A release `gatehouse` process is then started on that database, and each route is asked
//! on its own `GATEHOUSE_BENCH_ROUNDS` times (median and p95), then by 16 clients at once for
//! two seconds (answers per second); the process's resident memory is read from /proc at the
//! end. The demo column is the same binary started with `--demo` on a database of its own.
//!
//! `cargo bench -p gatehouse --bench scale` runs SQLite (a temporary file) and, when
//! GATEHOUSE_TEST_POSTGRES_URL names a server, PostgreSQL (a fresh database, dropped after).
//! GATEHOUSE_BENCH_APPLICATIONS (1000), GATEHOUSE_BENCH_ALLOCATIONS (50000) and
//! GATEHOUSE_BENCH_ROUNDS (11) change the size. With a built site (`cargo leptos build`),
//! the stylesheet is measured against /healthz too. Not a test: it prints the table.
use std::{
    collections::BTreeMap,
    process::{Child, Command},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use backend::{
    allocations::{self, AllocationRequest},
    auth::Principal,
    certificates::SecretKey,
    db::Database,
};
use serde_json::Value;

mod support {
    pub mod postgres;
    #[allow(dead_code, reason = "spawn_replica serves the jobs bench and the replica tests")]
    pub mod replica;
}
use support::{
    postgres::{drop_postgres, fresh_postgres},
    replica::spawn_portal,
};

const ENVIRONMENTS: usize = 20;
const ADMIN_PASSWORD: &str = "scale-bench-password";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|v| *v > 0).unwrap_or(default)
}

/// What one database holds and how long storing it took.
struct Stored {
    applications: usize,
    allocations: usize,
    took: Duration,
}

/// Stores the organisation: 20 environments with two pools of 1,600 addresses each,
/// `applications` applications in two environments each (one with a fixed VIP), their
/// certificates, and `allocations` addresses allocated next free across the pools.
async fn store_organisation(url: &str, applications: usize, allocations: usize) -> Stored {
    let started = Instant::now();
    let db = Database::connect(url).await.expect("the database connects");
    let key = SecretKey::parse(&SecretKey::derived_text_for_tests(url), "the bench").expect("a secret key");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Three ranges per environment (nodes, pods, services) and 200 /28 pool blocks.
    let plan = domain::seed::synthetic_plan(ENVIRONMENTS, ENVIRONMENTS * 203, applications, now);
    backend::demo::store(&db, &key, &plan).await.expect("the organisation is stored");
    let pools: Vec<i64> = backend::pools::list(&db, None)
        .await
        .expect("the pools are listed")
        .iter()
        .filter_map(|pool| pool.id)
        .collect();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (db, pools, next) = (db.clone(), pools.clone(), next.clone());
            tokio::spawn(async move {
                let caller = Principal::system("scale-bench");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= allocations {
                        break;
                    }
                    let request = AllocationRequest {
                        address: None,
                        owner: format!("team-{}", i % 50),
                        application: None,
                        reason: None,
                    };
                    allocations::allocate(&db, &caller, pools[i % pools.len()], &request)
                        .await
                        .unwrap_or_else(|error| panic!("allocation {i}: {error}"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("the allocating task ends");
    }
    db.close().await;
    Stored { applications, allocations, took: started.elapsed() }
}

/// A started portal, asked with an admin's token; killed when dropped.
struct Portal {
    child: Child,
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Portal {
    async fn start(url: &str, demo: bool) -> Portal {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        if demo {
            command.args(["--demo", "--demo-sign-in", "false"]);
        }
        command.env("GATEHOUSE_ADMIN_PASSWORD", ADMIN_PASSWORD).env("RUST_LOG", "warn");
        if let Some(site) = site_root() {
            command.env("LEPTOS_SITE_ROOT", site);
        }
        let (child, base) = spawn_portal(command, url).await;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("an HTTP client");
        let created: Value = http
            .post(format!("{base}/api/v1/tokens"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&serde_json::json!({"name": "scale-bench"}))
            .send()
            .await
            .expect("POST /api/v1/tokens")
            .json()
            .await
            .expect("the token");
        let token = created["token"].as_str().unwrap_or_else(|| panic!("no token: {created}")).to_owned();
        Portal { child, base, http, token }
    }

    /// One GET: its status, its body's size and how long it took.
    async fn get(&self, path: &str) -> (u16, usize, Duration) {
        let started = Instant::now();
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = response.status().as_u16();
        let body = response.bytes().await.map_or(0, |body| body.len());
        (status, body, started.elapsed())
    }

    /// The process's resident memory now and at its peak, in MB.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(0, |kb| kb / 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

/// The built site, when there is one: its stylesheet is measured too.
fn site_root() -> Option<String> {
    let site = std::env::var("LEPTOS_SITE_ROOT").ok().unwrap_or_else(|| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
        format!("{target}/site")
    });
    std::path::Path::new(&site).join("pkg").is_dir().then_some(site)
}

fn stylesheet() -> Option<String> {
    let pkg = std::path::Path::new(&site_root()?).join("pkg");
    std::fs::read_dir(pkg)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".css"))
        .map(|name| format!("/pkg/{name}"))
}

/// A route's figures: lone median and p95 (ms), answers per second with 16 clients, body size.
#[derive(Clone, Copy, Default)]
struct Figures {
    median: f64,
    p95: f64,
    per_second: Option<f64>,
    bytes: usize,
    status: u16,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn measure_get(portal: &Arc<Portal>, path: &str, rounds: usize) -> Figures {
    let mut times = Vec::new();
    let (mut status, mut bytes) = (0, 0);
    for round in 0..rounds + 1 {
        let (s, b, took) = portal.get(path).await;
        (status, bytes) = (s, b);
        // The first answer warms caches and the connection.
        if round > 0 {
            times.push(took.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = percentile(&times, 0.5);
    // Throughput only where a lone answer is quick enough for two seconds to say something.
    let per_second = if median < 1000.0 { Some(throughput(portal, path).await) } else { None };
    Figures { median, p95: percentile(&times, 0.95), per_second, bytes, status }
}

async fn throughput(portal: &Arc<Portal>, path: &str) -> f64 {
    let answered = Arc::new(AtomicUsize::new(0));
    let window = Duration::from_secs(2);
    let started = Instant::now();
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (portal, path, answered) = (portal.clone(), path.to_owned(), answered.clone());
            tokio::spawn(async move {
                while started.elapsed() < window {
                    if portal.get(&path).await.0 < 400 {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("a client ends");
    }
    answered.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Saving an application: PUT it back with one replica more or less, `rounds` times.
async fn measure_save(portal: &Portal, application: &str, rounds: usize) -> Figures {
    let path = format!("{}/api/v1/applications/{application}", portal.base);
    let mut spec: Value = portal
        .http
        .get(&path)
        .bearer_auth(&portal.token)
        .send()
        .await
        .expect("GET the application")
        .json()
        .await
        .expect("the application");
    let mut times = Vec::new();
    let mut status = 0;
    for round in 0..rounds + 1 {
        spec["replicas"] = Value::from(3 + (round % 2));
        let started = Instant::now();
        let response = portal.http.put(&path).bearer_auth(&portal.token).json(&spec).send().await.expect("PUT");
        status = response.status().as_u16();
        let answer = response.text().await.unwrap_or_default();
        assert!(status < 300, "saving {application} answered {status}: {answer}");
        if round > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Figures { median: percentile(&times, 0.5), p95: percentile(&times, 0.95), per_second: None, bytes: 0, status }
}

/// Every route asked, for an application and one of its environments.
fn routes(application: &str, environment: &str) -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = [
        ("/", "/"),
        ("/applications", "/applications"),
        ("/applications/{app}", "/applications/{app}"),
        ("/applications/new", "/applications/new"),
        ("/checklist", "/checklist"),
        ("/topology", "/topology"),
        ("/certificates", "/certificates"),
        ("/pools", "/pools"),
        ("/environments", "/environments"),
        ("/vips", "/vips"),
        ("GET /api/v1/applications", "/api/v1/applications"),
        ("GET /api/v1/environments", "/api/v1/environments"),
        ("GET /api/v1/certificates", "/api/v1/certificates"),
        ("GET /api/v1/conflicts", "/api/v1/conflicts"),
        ("GET /api/v1/vips", "/api/v1/vips"),
        ("GET /api/v1/applications/{app}/checklist", "/api/v1/applications/{app}/checklist"),
        ("bundle.yaml of one application", "/api/v1/applications/{app}/bundle.yaml?environment={env}"),
        ("/healthz", "/healthz"),
    ]
    .iter()
    .map(|(label, path)| {
        (label.to_string(), path.replace("{app}", application).replace("{env}", environment))
    })
    .collect();
    if let Some(css) = stylesheet() {
        routes.push(("the stylesheet (static)".to_owned(), css));
    }
    routes
}

/// The figures of every route and the save on one portal, and its memory.
async fn measure_portal(portal: Portal, application: &str, environment: &str, rounds: usize) -> (BTreeMap<String, Figures>, (u64, u64)) {
    let portal = Arc::new(portal);
    let mut figures = BTreeMap::new();
    for (label, path) in routes(application, environment) {
        let measured = measure_get(&portal, &path, rounds).await;
        eprintln!("  {label}: {:.1} ms ({})", measured.median, measured.status);
        figures.insert(label, measured);
    }
    figures.insert("saving an application (PUT)".to_owned(), measure_save(&portal, application, rounds).await);
    let memory = portal.memory();
    (figures, memory)
}

fn cell(figures: Option<&Figures>) -> String {
    match figures {
        None => "—".to_owned(),
        Some(f) if f.status >= 400 => format!("answered {}", f.status),
        Some(f) => {
            let rate = f.per_second.map_or(String::new(), |r| format!(", {r:.0}/s"));
            let size = if f.bytes >= 100_000 { format!(", {:.1} MB", f.bytes as f64 / 1e6) } else { String::new() };
            format!("{:.1} ms (p95 {:.1}{rate}{size})", f.median, f.p95)
        }
    }
}

async fn run_database(label: &str, demo_url: &str, scale_url: &str) {
    let applications = setting("GATEHOUSE_BENCH_APPLICATIONS", 1000);
    let allocations = setting("GATEHOUSE_BENCH_ALLOCATIONS", 50_000);
    let rounds = setting("GATEHOUSE_BENCH_ROUNDS", 11);

    eprintln!("{label}: the demo");
    let demo = Portal::start(demo_url, true).await;
    let (demo_figures, demo_memory) = measure_portal(demo, "api", "dev", rounds).await;

    eprintln!("{label}: storing {applications} applications in {ENVIRONMENTS} environments and {allocations} allocations");
    let stored = store_organisation(scale_url, applications, allocations).await;
    eprintln!("{label}: stored in {:.1} s", stored.took.as_secs_f64());
    let scale = Portal::start(scale_url, false).await;
    let (scale_figures, scale_memory) = measure_portal(scale, "app7", "env7", rounds).await;

    println!();
    println!(
        "{label}: demo vs {} applications × {ENVIRONMENTS} environments + {} allocations (stored through the services in {:.0} s); lone median (p95, answers/s with 16 clients, body)",
        stored.applications,
        stored.allocations,
        stored.took.as_secs_f64()
    );
    println!("| route | demo | organisation | ratio |");
    println!("| --- | --- | --- | --- |");
    for (route, scale) in &scale_figures {
        let demo = demo_figures.get(route);
        let ratio = demo.map_or(String::new(), |d| format!("{:.1}×", scale.median / d.median.max(0.001)));
        println!("| {route} | {} | {} | {ratio} |", cell(demo), cell(Some(scale)));
    }
    println!(
        "| server RSS after, peak (MB) | {} / {} | {} / {} | |",
        demo_memory.0, demo_memory.1, scale_memory.0, scale_memory.1
    );
}

async fn run() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    run_database("sqlite", &sqlite("demo.db"), &sqlite("scale.db")).await;

    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        Err(_) => println!("\npostgres skipped: set GATEHOUSE_TEST_POSTGRES_URL to a PostgreSQL server to measure it"),
        Ok(admin_url) => {
            let (demo_url, demo_name) = fresh_postgres(&admin_url).await;
            let (scale_url, scale_name) = fresh_postgres(&admin_url).await;
            run_database("postgres", &demo_url, &scale_url).await;
            drop_postgres(&admin_url, &demo_name).await;
            drop_postgres(&admin_url, &scale_name).await;
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(run());
}
