//! `spawn_app()`: a started portal on a fresh database, and helpers for talking to it.
use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use backend::{auth::{Principal, Via, tokens, users::{self, NewUser, User}}, db::Database};
use domain::access::Role;
use gatehouse::{Config, Gatehouse, access::RouteRule, config::SecretText};
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
            drop_database(&mut admin, name).await;
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
            drop_database(admin, &name).await;
        }
    }
}

/// Best effort: a database another run still uses is dropped with its connections.
async fn drop_database(admin: &mut PgConnection, name: &str) {
    let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
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

/// The first admin's password in every test portal.
pub const ADMIN_PASSWORD: &str = "the admin of the test portal";
/// How the audit log names requests made with `TestApp::client` (the admin's API token).
pub const ADMIN_ACTOR: &str = "admin (token:tests)";

pub struct TestApp {
    pub url: String,
    /// Carries the first admin's API token, so every route is open to it.
    pub client: reqwest::Client,
    pub admin_token: String,
    pub database: FreshDatabase,
    /// The portal's database, for setting up users and checking what is stored.
    pub db: Database,
    /// Every route the portal registered, with its access rule.
    pub rules: Vec<RouteRule>,
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
        config.admin_password = Some(SecretText(ADMIN_PASSWORD.to_owned()));
        configure(&mut config);
        let gatehouse = Gatehouse::start(config).await.expect("the portal starts");
        let url = gatehouse.url();
        let db = gatehouse.state().db.clone();
        let rules = gatehouse.route_rules();
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            gatehouse
                .serve(async {
                    let _ = stop.await;
                })
                .await
                .expect("the portal serves until shut down");
        });
        let admin = users::get(&db, users::FIRST_ADMIN).await.expect("read users").expect("the first admin exists");
        // A restarted portal finds the first server's token: the new one gets another name.
        let earlier = tokens::list(&db, admin.id).await.expect("list tokens").len();
        let name = if earlier == 0 { "tests".to_owned() } else { format!("tests-{earlier}") };
        let admin_token = api_token(&db, &admin, &name).await;
        let client = client_with(Some(&admin_token), None);
        TestApp { url, client, admin_token, database, db, rules, shutdown: Some(shutdown), served: Some(served) }
    }

    /// Another client with the admin's token (its own connections).
    pub fn new_client(&self) -> reqwest::Client {
        client_with(Some(&self.admin_token), None)
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> reqwest::Client {
        client_with(None, None)
    }

    /// A new user with this role (and, for app teams, scopes), named after the role.
    pub async fn user(&self, role: Role, scopes: &str) -> TestUser {
        let name = format!("{}-{}", role.as_str().replace('_', "-"), USERS.fetch_add(1, Ordering::SeqCst));
        let password = format!("password of {name}");
        let input = NewUser { name: name.clone(), password: password.clone(), role: role.as_str().to_owned(), scopes: scopes.to_owned() };
        let user = users::create(&self.db, &backend::auth::Principal::system("tests"), &input).await.expect("create a test user");
        TestUser { name, password, user }
    }

    /// A client carrying an API token of a new user with this role.
    pub async fn client_as(&self, role: Role, scopes: &str) -> reqwest::Client {
        let user = self.user(role, scopes).await;
        let token = api_token(&self.db, &user.user, "tests").await;
        client_with(Some(&token), None)
    }

    /// Signs in through the form; answers the session cookie (`name=value`), or the
    /// response when sign-in did not succeed.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<String, reqwest::Response> {
        let response = self
            .anonymous()
            .post(self.at("/sign-in"))
            .header("origin", &self.url)
            .form(&[("name", name), ("password", password), ("return", "/")])
            .send()
            .await
            .expect("POST /sign-in answers");
        session_cookie(&response).ok_or(response)
    }

    /// A browser-like client with a session: it sends the cookie and the portal's Origin.
    pub fn client_with_session(&self, cookie: &str) -> reqwest::Client {
        client_with(None, Some((cookie, &self.url)))
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

    /// The id of the pool named `name` in `environment`.
    pub async fn pool_id(&self, environment: &str, name: &str) -> i64 {
        let (status, pools) = self.get_json(&format!("/api/v1/environments/{environment}/pools")).await;
        assert_eq!(status, 200, "{pools}");
        pools
            .as_array()
            .and_then(|pools| pools.iter().find(|p| p["name"] == name))
            .and_then(|p| p["id"].as_i64())
            .unwrap_or_else(|| panic!("pool {name} in {pools}"))
    }
}

static USERS: AtomicUsize = AtomicUsize::new(1);

pub struct TestUser {
    pub name: String,
    pub password: String,
    pub user: User,
}

/// A new API token for the user, with the user's role.
pub async fn api_token(db: &Database, user: &User, name: &str) -> String {
    let owner = Principal {
        user_id: user.id,
        name: user.name.clone(),
        role: user.role,
        scopes: user.scopes.clone(),
        via: Via::Password,
    };
    tokens::create(db, &owner, name, None, None, tokens::Lifetimes::default()).await.expect("create an API token").token
}

/// A new API token named `token` made through `POST {base}/api/v1/tokens` with the user's
/// name and password (Basic auth).
pub async fn basic_auth_token(client: &reqwest::Client, base: &str, name: &str, password: &str, token: &str) -> String {
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/tokens"))
        .basic_auth(name, Some(password))
        .json(&serde_json::json!({"name": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["token"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned()
}

/// The `gatehouse-session=…` pair a response sets (`__Host-gatehouse-session=…` over
/// HTTPS), if it sets a session.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| {
            let value = pair.strip_prefix("__Host-").unwrap_or(pair).strip_prefix("gatehouse-session=");
            value.is_some_and(|value| !value.is_empty())
        })
        .map(str::to_owned)
}

fn client_with(token: Option<&str>, session: Option<(&str, &str)>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert("authorization", format!("Bearer {token}").parse().expect("a header value"));
    }
    if let Some((cookie, origin)) = session {
        headers.insert("cookie", cookie.parse().expect("a header value"));
        headers.insert("origin", origin.parse().expect("a header value"));
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}
