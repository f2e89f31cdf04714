//! VIP allocations per second through the HTTP API, against the database's raw single-row
//! INSERT rate through sqlx — same database, same pool settings, same concurrency, a table of
//! the same shape. Target: the API reaches at least 50 % of the raw rate.
//!
//! `cargo bench -p gatehouse --bench allocations` runs SQLite (a temporary file) and, when
//! GATEHOUSE_TEST_POSTGRES_URL names a server, PostgreSQL (a fresh database, dropped after).
//! GATEHOUSE_BENCH_CLIENTS (default 64) and GATEHOUSE_BENCH_ALLOCATIONS (default 20000) set the
//! concurrency and the number of allocations per run. Not a timed test: it prints the rates
//! and only checks, untimed, that every allocation was stored once.
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use backend::db::Database;
use gatehouse::{Config, Gatehouse};
use serde_json::json;
use sqlx::Row;

mod support {
    pub mod postgres;
}
use support::postgres::{drop_postgres, fresh_postgres};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|v| *v > 0).unwrap_or(default)
}

/// Runs `total` operations on `clients` concurrent tasks; returns operations per second.
async fn measure<F, Fut>(clients: usize, total: usize, operation: F) -> (f64, Duration)
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let operation = Arc::new(operation);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let next = Arc::clone(&next);
        let operation = Arc::clone(&operation);
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                operation(client, i).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a client task ends");
    }
    let elapsed = started.elapsed();
    (total as f64 / elapsed.as_secs_f64(), elapsed)
}

/// The raw rate: single-row INSERTs (autocommit) into a table shaped like `addresses`, through
/// a pool with the server's settings.
async fn raw_insert_rate(url: &str, clients: usize, total: usize) -> (f64, Duration) {
    let db = Database::connect(url).await.expect("the database connects");
    let identity = match db.backend() {
        backend::db::Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        backend::db::Backend::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    };
    let create = format!(
        "CREATE TABLE bench_raw (id {identity}, address_key TEXT NOT NULL UNIQUE, address TEXT NOT NULL, \
         pool_id BIGINT NOT NULL, state TEXT NOT NULL, owner TEXT, application TEXT, reason TEXT, \
         actor TEXT NOT NULL, since TEXT NOT NULL)"
    );
    sqlx::query(&create).execute(db.pool()).await.expect("the raw table is created");
    sqlx::query("CREATE INDEX bench_raw_pool ON bench_raw (pool_id, state)")
        .execute(db.pool())
        .await
        .expect("the raw index is created");
    let pool = db.pool().clone();
    let result = measure(clients, total, move |client, i| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO bench_raw (address_key, address, pool_id, state, owner, application, reason, actor, since) \
                 VALUES ($1, $2, $3, 'allocated', $4, NULL, NULL, 'anonymous', $5)",
            )
            .bind(format!("4{:032x}", 0x0a40_0000_u128 + i as u128))
            .bind(format!("10.64.{}.{}", i / 256, i % 256))
            .bind(1_i64)
            .bind(format!("client-{client}"))
            .bind(backend::db::now_text())
            .execute(&pool)
            .await
            .expect("the raw INSERT succeeds");
        }
    })
    .await;
    db.close().await;
    result
}

/// The API rate: `POST /api/v1/pools/{id}/allocations` (next free) from `clients` clients.
async fn api_rate(url: &str, clients: usize, total: usize) -> (f64, Duration) {
    let site = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::for_tests(url, site.path());
    config.request_timeout_secs = 120;
    let gatehouse = Gatehouse::start(config).await.expect("the portal starts");
    let base = gatehouse.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(gatehouse.serve(async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let environment = json!({
        "name": "bench", "node_subnets": ["10.64.0.0/16"], "node_addresses": ["10.64.255.11"],
        "pod_cidrs": ["10.65.0.0/16"], "service_cidr": "10.66.0.0/16",
        "advertisement": {"mode": "arp", "label": {"key": "gatehouse.io/advertise", "value": "bench"},
                          "arp": {"interfaces": ["^eth[0-9]+$"]}},
        "protected": false
    });
    let response = http.post(format!("{base}/api/v1/environments")).json(&environment).send().await.expect("POST");
    assert_eq!(response.status(), 201, "the environment is created");
    let pool: serde_json::Value = http
        .post(format!("{base}/api/v1/environments/bench/pools"))
        .json(&json!({"name": "bench-vips", "blocks": [{"start": "10.64.0.1", "stop": "10.64.254.254"}]}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("the pool");
    let endpoint = format!("{base}/api/v1/pools/{}/allocations", pool["id"]);

    let clients_http: Arc<Vec<reqwest::Client>> = Arc::new((0..clients).map(|_| reqwest::Client::new()).collect());
    let result = measure(clients, total, move |client, _| {
        let http = clients_http[client].clone();
        let endpoint = endpoint.clone();
        async move {
            let response = http
                .post(&endpoint)
                .json(&json!({"owner": format!("client-{client}")}))
                .send()
                .await
                .expect("the allocation answers");
            let status = response.status();
            assert_eq!(status, 201, "allocation failed: {}", response.text().await.unwrap_or_default());
        }
    })
    .await;
    let _ = stop.send(());
    let _ = served.await;
    // Not timed: every answer was a 201; the database holds that many different addresses.
    let db = Database::connect(url).await.expect("the database connects");
    let row = sqlx::query("SELECT COUNT(*) AS n, COUNT(DISTINCT address_key) AS d FROM addresses")
        .fetch_one(db.pool())
        .await
        .expect("the allocations are counted");
    let (n, d): (i64, i64) = (row.get("n"), row.get("d"));
    assert_eq!((n, d), (total as i64, total as i64), "allocations stored and distinct");
    db.close().await;
    result
}

fn report(backend: &str, clients: usize, total: usize, api: (f64, Duration), raw: (f64, Duration)) {
    println!(
        "{backend:<10} API allocations: {:>8.0}/s ({total} in {:.2} s, {clients} clients)",
        api.0,
        api.1.as_secs_f64()
    );
    println!(
        "{backend:<10} raw INSERTs:     {:>8.0}/s ({total} in {:.2} s, {clients} tasks)",
        raw.0,
        raw.1.as_secs_f64()
    );
    println!("{backend:<10} ratio API/raw:   {:>8.0} %  (target ≥ 50 %)", 100.0 * api.0 / raw.0);
}

async fn run() {
    let clients = setting("GATEHOUSE_BENCH_CLIENTS", 64);
    let total = setting("GATEHOUSE_BENCH_ALLOCATIONS", 20_000);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    let raw = raw_insert_rate(&sqlite, clients, total).await;
    let api = api_rate(&sqlite, clients, total).await;
    report("sqlite", clients, total, api, raw);

    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        Err(_) => println!("postgres   skipped: set GATEHOUSE_TEST_POSTGRES_URL to a PostgreSQL server to measure it"),
        Ok(admin_url) => {
            let (url, name) = fresh_postgres(&admin_url).await;
            let raw = raw_insert_rate(&url, clients, total).await;
            let api = api_rate(&url, clients, total).await;
            report("postgres", clients, total, api, raw);
            drop_postgres(&admin_url, &name).await;
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(run());
}
