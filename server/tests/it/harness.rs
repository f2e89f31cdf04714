//! `spawn_app()`: a started portal on a fresh database, and helpers for talking to it.
use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use gatehouse::{Config, Gatehouse};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// Runs the listed `async fn name(kind: DbKind)` tests once per database.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::harness::DbKind::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::harness::DbKind::Postgres).await } )*
        }
    };
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn site_root() -> PathBuf {
    std::env::var_os("LEPTOS_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/site"))
}

/// A database that no other test uses: a new SQLite file, or a new PostgreSQL database
/// on the server named by GATEHOUSE_TEST_POSTGRES_URL (scripts/test starts one).
pub struct FreshDatabase {
    pub url: String,
    _dir: tempfile::TempDir,
    _postgres: Option<PostgresTestDatabase>,
}

/// Drops its PostgreSQL database when the test that created it ends, so runs do not pile
/// databases up on the server.
struct PostgresTestDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PostgresTestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // The test's runtime may be shutting down: a thread with a runtime of its own.
        let _ = std::thread::spawn(move || drop_database_blocking(&admin_url, &name)).join();
    }
}

fn drop_database_blocking(admin_url: &str, name: &str) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    runtime.block_on(async {
        if let Ok(mut admin) = PgConnection::connect(admin_url).await {
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
            admin.close().await.ok();
        }
    });
}

/// Drops the test databases of earlier runs whose process is gone (killed or crashed before
/// their tests could clean up). Their names carry the process id.
async fn drop_orphaned_databases(admin: &mut PgConnection) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'gh\\_test\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.strip_prefix("gh_test_").and_then(|rest| rest.split('_').next());
        let alive = pid.is_some_and(|pid| Path::new("/proc").join(pid).exists());
        if !alive {
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl FreshDatabase {
    pub async fn new(kind: DbKind) -> FreshDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (url, postgres) = match kind {
            DbKind::Sqlite => (format!("sqlite://{}", dir.path().join("gatehouse.db").display()), None),
            DbKind::Postgres => {
                let admin_url = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").expect(
                    "GATEHOUSE_TEST_POSTGRES_URL must name a PostgreSQL server for the PostgreSQL half of \
                     the suite; scripts/test starts one and sets it",
                );
                let name = format!(
                    "gh_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    rand_suffix()
                );
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .expect("connect to the PostgreSQL test server");
                drop_orphaned_databases(&mut admin).await;
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create a fresh test database");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                (url, Some(PostgresTestDatabase { admin_url, name }))
            }
        };
        FreshDatabase { url, _dir: dir, _postgres: postgres }
    }
}

impl FreshDatabase {
    /// The same database again, for a second server sharing it (the first keeps it alive).
    pub fn shared(&self) -> FreshDatabase {
        FreshDatabase {
            url: self.url.clone(),
            _dir: tempfile::tempdir().expect("a temporary directory"),
            _postgres: None,
        }
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos() as u64).unwrap_or(0)
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub database: FreshDatabase,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn(kind: DbKind) -> TestApp {
        TestApp::spawn_with(FreshDatabase::new(kind).await, |_| {}).await
    }

    pub async fn spawn_demo(kind: DbKind) -> TestApp {
        TestApp::spawn_with(FreshDatabase::new(kind).await, |config| config.demo = true).await
    }

    pub async fn spawn_with(database: FreshDatabase, configure: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::for_tests(&database.url, site_root());
        configure(&mut config);
        let gatehouse = Gatehouse::start(config).await.expect("the portal starts");
        let url = gatehouse.url();
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            gatehouse
                .serve(async {
                    let _ = stop.await;
                })
                .await
                .expect("the portal serves until shut down");
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        TestApp { url, client, database, shutdown: Some(shutdown), served: Some(served) }
    }

    /// Stops the server gracefully and hands back its database for a restart.
    pub async fn stop(mut self) -> FreshDatabase {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.expect("the server task ends cleanly");
        }
        let TestApp { database, .. } = self;
        database
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.at(path)).send().await.expect("GET answers")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .request(method, self.at(path))
            .json(body)
            .send()
            .await
            .expect("the request answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.send_json(reqwest::Method::POST, path, body).await
    }
}
