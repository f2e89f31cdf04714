//! Command-line flags, each with an environment-variable twin.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

use backend::policy::Tenancy;
use domain::access::NamespacePattern;
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    Lint(crate::lint::LintArgs),
    Verify(crate::verify_cli::VerifyArgs),
}

#[derive(Debug, Clone, Parser)]
#[command(name = "gatehouse", version, about = "Plan, check and submit Cilium load balancing and TLS termination for Kubernetes")]
pub struct Config {
    /// `gatehouse lint …` or `gatehouse verify …`; without a command the portal starts.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// sqlite:PATH (created on first run) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/gatehouse.db")]
    pub database_url: String,

    /// Seed the example plan (dev and prod) where it is missing; idempotent.
    #[arg(long, env = "GATEHOUSE_DEMO")]
    pub demo: bool,

    /// Log as human-readable lines or as JSON objects.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,

    /// PEM certificate chain for HTTPS; with --tls-key the portal serves HTTPS only.
    #[arg(long, env = "GATEHOUSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for --tls-cert.
    #[arg(long, env = "GATEHOUSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Directory with the built site (the hydration script, WASM, CSS and assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Seconds a request may take before it is answered 408.
    #[arg(long, env = "GATEHOUSE_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// File with the secret key that encrypts certificates' private keys at rest (base64 of
    /// 32 bytes), created with mode 0600 on first run. Default: `secret.key` beside the
    /// SQLite database, or `data/secret.key` with PostgreSQL. Ignored when
    /// GATEHOUSE_SECRET_KEY is set.
    #[arg(long, env = "GATEHOUSE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,

    /// With --demo, sign every visitor without a session in as the `demo` user (a network
    /// admin); `--demo-sign-in false` keeps the demo data but asks everyone to sign in.
    #[arg(long, env = "GATEHOUSE_DEMO_SIGN_IN", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_sign_in: bool,

    /// A session ends this many seconds after its last request.
    #[arg(long, env = "GATEHOUSE_SESSION_IDLE_SECS", default_value_t = 1800, value_parser = clap::value_parser!(i64).range(60..))]
    pub session_idle_secs: i64,

    /// A session ends this many seconds after sign-in, however active.
    #[arg(long, env = "GATEHOUSE_SESSION_MAX_SECS", default_value_t = 43_200, value_parser = clap::value_parser!(i64).range(60..))]
    pub session_max_secs: i64,

    /// Failed sign-ins allowed per account within the lockout time (an address gets four
    /// times as many) before further attempts are refused.
    #[arg(long, env = "GATEHOUSE_SIGN_IN_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_attempts: u32,

    /// Seconds an account or address stays locked after too many failed sign-ins.
    #[arg(long, env = "GATEHOUSE_SIGN_IN_LOCKOUT_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub sign_in_lockout_secs: u64,

    /// The address people reach the portal at, `https://gatehouse.example.com` behind a
    /// TLS-terminating Gateway or proxy: with `https://`, cookies are `Secure` with the
    /// `__Host-` prefix and HSTS is sent; cross-site checks compare `Origin` with it and the
    /// OpenID Connect redirect URI is built on it.
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL", value_parser = PublicUrl::parse)]
    pub public_url: Option<PublicUrl>,

    /// Days an API token lives unless its maker asks for another lifetime.
    #[arg(long, env = "GATEHOUSE_TOKEN_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..))]
    pub token_days: u32,

    /// The most days anyone may ask an API token to live.
    #[arg(long, env = "GATEHOUSE_TOKEN_MAX_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..))]
    pub token_max_days: u32,

    /// Proxies whose `X-Forwarded-For` is believed: networks (`10.0.0.0/8`) or addresses,
    /// comma-separated. The client is the right-most address in the header that is not one of
    /// them; without this flag the header is ignored and the connection's address counts.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_trusted_proxy)]
    pub trusted_proxies: Vec<domain::Cidr>,

    /// OpenID Connect sign-in: the provider's issuer URL (its discovery document is read
    /// from ISSUER/.well-known/openid-configuration). Needs --oidc-client-id and
    /// GATEHOUSE_OIDC_CLIENT_SECRET; register ORIGIN/sign-in/oidc/callback at the provider.
    #[arg(long, env = "GATEHOUSE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// This portal's client id at the OpenID provider.
    #[arg(long, env = "GATEHOUSE_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// The claim that lists the user's groups.
    #[arg(long, env = "GATEHOUSE_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,

    /// Groups and the roles they give: `netops=network_admin,staff=viewer`; a user gets the
    /// highest, and one without a mapped group is refused.
    #[arg(long, env = "GATEHOUSE_OIDC_ROLES", default_value = "")]
    pub oidc_roles: String,

    /// The client secret, from GATEHOUSE_OIDC_CLIENT_SECRET only.
    #[arg(skip = std::env::var("GATEHOUSE_OIDC_CLIENT_SECRET").ok().map(SecretText))]
    pub oidc_client_secret: Option<SecretText>,

    /// The first admin's password, from GATEHOUSE_ADMIN_PASSWORD only; used once, when no
    /// admin exists. Without it a password is generated and logged once.
    #[arg(skip = std::env::var("GATEHOUSE_ADMIN_PASSWORD").ok().map(SecretText))]
    pub admin_password: Option<SecretText>,

    /// Kubeconfig file of the cluster to submit to. Without it (and without --in-cluster)
    /// Gatehouse starts a simulated Cilium cluster in process.
    #[arg(long, env = "GATEHOUSE_KUBECONFIG", conflicts_with = "in_cluster")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (the file's current context otherwise).
    #[arg(long, env = "GATEHOUSE_KUBE_CONTEXT", requires = "kubeconfig")]
    pub kube_context: Option<String>,

    /// Use the pod's service account (Gatehouse running in the cluster).
    #[arg(long, env = "GATEHOUSE_IN_CLUSTER")]
    pub in_cluster: bool,

    /// Another cluster, for environments whose `cluster` is NAME: `NAME=KUBECONFIG` or
    /// `NAME=KUBECONFIG#CONTEXT`. Repeat the flag, or separate them with commas in
    /// GATEHOUSE_CLUSTERS. Environments without a cluster go to the default one (--kubeconfig,
    /// --in-cluster or the simulated cluster).
    #[arg(long = "cluster", env = "GATEHOUSE_CLUSTERS", value_delimiter = ',', value_parser = parse_cluster_spec)]
    pub clusters: Vec<ClusterSpec>,

    /// More simulated clusters, by name, beside the default one: a demo or a class can send
    /// dev and prod to clusters of their own without a real cluster. Repeat the flag, or
    /// separate the names with commas in GATEHOUSE_SIMULATED_CLUSTERS.
    #[arg(long = "simulated-cluster", env = "GATEHOUSE_SIMULATED_CLUSTERS", value_delimiter = ',', value_parser = parse_cluster_name)]
    pub simulated_clusters: Vec<String>,

    /// Seconds a submission waits for its objects to be ready before it reports what is not.
    #[arg(long, env = "GATEHOUSE_APPLY_TIMEOUT", default_value_t = 120)]
    pub apply_timeout_secs: u64,

    /// Seconds a job's claim lives without a heartbeat: a submission or teardown whose holder
    /// has not renewed its claim for this long (its process died) is taken over by another
    /// replica, or by this one after a restart. The holder renews every fifth of it.
    #[arg(long, env = "GATEHOUSE_JOB_LEASE_SECS", default_value_t = 15)]
    pub job_lease_secs: u64,

    /// Submissions and teardowns this replica runs at once.
    #[arg(long, env = "GATEHOUSE_JOB_WORKERS", default_value_t = 16)]
    pub job_workers: usize,

    /// Seconds a SIGTERM gives running jobs to finish their current object and release their
    /// claims, and open connections to close, before the process exits anyway. Keep it below
    /// the Deployment's terminationGracePeriodSeconds.
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// The simulated cluster behaves as Cilium before 1.15, which does not copy a Gateway's
    /// spec.infrastructure.labels to its Service: only the label fix's reconciler helps then.
    #[arg(long, env = "GATEHOUSE_SIMULATED_CILIUM_LEGACY")]
    pub simulated_cilium_legacy: bool,

    /// Verify every submitted application environment this often (seconds); off when unset.
    #[arg(long = "verify-interval", env = "GATEHOUSE_VERIFY_INTERVAL", value_name = "SECONDS")]
    pub verify_interval_secs: Option<u64>,

    /// How the verifier dials VIPs; tests set it to the simulated cluster's data path. By
    /// default: the simulated cluster's when one was started, else the network's.
    #[arg(skip)]
    pub verify_dialer: Option<backend::verify::SharedDialer>,

    /// The clock sessions, sign-in limits and OpenID Connect read; tests move one by hand.
    /// By default the system's.
    #[arg(skip)]
    pub clock: Option<backend::clock::SharedClock>,

    /// The coordination.k8s.io Lease the replicas elect the one running the reconcilers with.
    #[arg(long, env = "GATEHOUSE_LEASE_NAME", default_value = "gatehouse-leader")]
    pub lease_name: String,

    /// The namespace Gatehouse runs in, which no application may go to. Default: the
    /// --lease-namespace, else the service account's namespace when run in a Pod, else
    /// `gatehouse`.
    #[arg(long, env = "GATEHOUSE_NAMESPACE")]
    pub own_namespace: Option<String>,

    /// More namespaces no application may go to, beside `kube-*`, `default`, `cilium`,
    /// `cilium-*` and Gatehouse's own: names or prefixes ending in `*`, comma-separated.
    #[arg(long, env = "GATEHOUSE_RESERVED_NAMESPACES", value_delimiter = ',', value_parser = parse_namespace_pattern)]
    pub reserved_namespaces: Vec<NamespacePattern>,

    /// The namespace of that Lease. Default: the namespace Gatehouse runs in (its service
    /// account's), or the kubeconfig context's namespace (`default` when it names none).
    #[arg(long, env = "GATEHOUSE_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// Directory with `crds/` and `kubernetes-schemas/`, the schemas the simulated cluster
    /// checks objects against.
    #[arg(long, env = "GATEHOUSE_SCHEMAS_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))]
    pub schemas_dir: PathBuf,

    /// The secret key itself, from GATEHOUSE_SECRET_KEY only (a flag would show it in the
    /// process list): 64 hex digits or base64 of 32 random bytes.
    #[arg(skip = std::env::var("GATEHOUSE_SECRET_KEY").ok().map(SecretText))]
    pub secret_key: Option<SecretText>,
}

/// A named cluster from `--cluster NAME=KUBECONFIG[#CONTEXT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: String,
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
}

/// A cluster's name: a DNS label other than `default`.
fn parse_cluster_name(name: &str) -> Result<String, String> {
    let name = domain::K8sName::parse(name).map_err(|error| format!("the cluster name: {error}"))?;
    if name.as_str() == domain::DEFAULT_CLUSTER {
        return Err(
            "`default` names the cluster of --kubeconfig, --in-cluster or the simulated one; give this cluster another name".to_owned()
        );
    }
    Ok(name.to_string())
}

fn parse_cluster_spec(text: &str) -> Result<ClusterSpec, String> {
    let (name, location) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=KUBECONFIG[#CONTEXT]: give the cluster a name, e.g. prod-east=/etc/gatehouse/prod.kubeconfig"))?;
    let name = parse_cluster_name(name).map_err(|error| format!("`{text}`: {error}"))?;
    let (path, context) = match location.split_once('#') {
        Some((path, context)) => (path, Some(context.trim().to_owned()).filter(|c| !c.is_empty())),
        None => (location, None),
    };
    if path.trim().is_empty() {
        return Err(format!("`{text}` names no kubeconfig file after `=`"));
    }
    Ok(ClusterSpec { name, kubeconfig: PathBuf::from(path.trim()), context })
}

/// Whether every cluster a kubeconfig names has its API server on loopback (a simulated or
/// throw-away local cluster, reachable only from this machine). A file that cannot be read
/// counts as a real cluster; starting will say what is wrong with it.
fn only_loopback_clusters(path: &std::path::Path) -> bool {
    let Ok(kubeconfig) = kube::config::Kubeconfig::read_from(path) else { return false };
    !kubeconfig.clusters.is_empty()
        && kubeconfig.clusters.iter().all(|named| {
            let server = named.cluster.as_ref().and_then(|cluster| cluster.server.as_deref());
            let url = server.and_then(|server| reqwest::Url::parse(server).ok());
            let host = url.as_ref().and_then(reqwest::Url::host_str).map(|host| host.trim_start_matches('[').trim_end_matches(']'));
            host.is_some_and(|host| host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback()))
        })
}

/// The portal's public origin (`--public-url`): scheme, host and port, no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    https: bool,
}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let url = reqwest::Url::parse(text.trim())
            .map_err(|error| format!("`{text}` is not a URL ({error}); write it like https://gatehouse.example.com"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(format!("`{text}` uses {other}:; the public URL starts with https:// (or http:// without TLS)")),
        };
        if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{text}` needs a host and no user name, like https://gatehouse.example.com"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{text}` has a path, query or fragment; Gatehouse is served at the root of its host, so give only https://HOST[:PORT]"
            ));
        }
        Ok(PublicUrl { origin: url.origin().ascii_serialization(), https })
    }

    /// `https://gatehouse.example.com` (no trailing slash), as browsers send it in `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.https
    }
}

/// A trusted proxy: a network in CIDR notation, or one address.
fn parse_namespace_pattern(text: &str) -> Result<NamespacePattern, String> {
    NamespacePattern::parse(text).map_err(|error| error.to_string())
}

fn parse_trusted_proxy(text: &str) -> Result<domain::Cidr, String> {
    let text = text.trim();
    if !text.contains('/')
        && let Ok(address) = text.parse::<std::net::IpAddr>()
    {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        return domain::Cidr::containing(address.into(), bits).ok_or_else(|| format!("`{text}` is not an address"));
    }
    domain::Cidr::parse(text).map_err(|error| format!("a trusted proxy is a network like 10.0.0.0/8 or one address: {error}"))
}

/// A secret as given in the environment; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

impl Config {
    /// Whether visitors without a session are signed in as the demo user.
    pub fn demo_signs_in(&self) -> bool {
        self.demo && self.demo_sign_in
    }

    /// Why the demo sign-in may not start with these flags, naming the flag: it makes every
    /// visitor a network admin, which is for a laptop and a simulated cluster only.
    pub fn demo_sign_in_refusal(&self) -> Option<String> {
        if !self.demo_signs_in() {
            return None;
        }
        let flag = if self.kubeconfig.as_deref().is_some_and(|path| !only_loopback_clusters(path)) {
            "--kubeconfig (GATEHOUSE_KUBECONFIG), a cluster that is not on this machine's loopback"
        } else if self.in_cluster {
            "--in-cluster (GATEHOUSE_IN_CLUSTER), a real cluster"
        } else if self.clusters.iter().any(|cluster| !only_loopback_clusters(&cluster.kubeconfig)) {
            "--cluster (GATEHOUSE_CLUSTERS), a cluster that is not on this machine's loopback"
        } else if !self.listen.ip().is_loopback() {
            "--listen (GATEHOUSE_LISTEN) on an address other than loopback"
        } else {
            return None;
        };
        Some(format!(
            "the demo sign-in makes every visitor a network admin, so --demo refuses to start it with {flag}: \
             add --demo-sign-in false to keep the demo data and ask everyone to sign in, or drop --demo"
        ))
    }

    /// Whether browsers reach the portal over HTTPS: served with TLS here, or behind a
    /// TLS-terminating Gateway named by an `https://` public URL.
    pub fn https(&self) -> bool {
        self.tls_cert.is_some() || self.public_url.as_ref().is_some_and(PublicUrl::is_https)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }

    /// The OpenID Connect settings, when an issuer is given.
    pub fn oidc(&self) -> Result<Option<crate::oidc::OidcSettings>, crate::oidc::OidcConfigError> {
        let Some(issuer) = &self.oidc_issuer else { return Ok(None) };
        crate::oidc::OidcSettings::new(
            issuer,
            self.oidc_client_id.as_deref(),
            self.oidc_client_secret.as_ref().map(|secret| secret.0.as_str()),
            &self.oidc_groups_claim,
            &self.oidc_roles,
        )
        .map(Some)
    }

    pub fn session_timeouts(&self) -> backend::auth::sessions::Timeouts {
        backend::auth::sessions::Timeouts { idle: self.session_idle_secs, absolute: self.session_max_secs }
    }

    pub fn sign_in_limits(&self) -> backend::auth::limiter::Limits {
        let lockout = Duration::from_secs(self.sign_in_lockout_secs);
        backend::auth::limiter::Limits { attempts: self.sign_in_attempts, window: lockout, lockout }
    }

    /// The tokens' lifetimes, or why `--token-days` cannot be the default.
    pub fn token_lifetimes(&self) -> Result<backend::auth::tokens::Lifetimes, String> {
        if self.token_days > self.token_max_days {
            return Err(format!(
                "--token-days ({}) is above --token-max-days ({}); a token's default lifetime cannot be longer than the longest allowed",
                self.token_days, self.token_max_days
            ));
        }
        Ok(backend::auth::tokens::Lifetimes { default_days: self.token_days, max_days: self.token_max_days })
    }

    /// The namespaces no application may go to.
    pub fn tenancy(&self) -> Tenancy {
        const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
        let own = self
            .own_namespace
            .clone()
            .or_else(|| self.lease_namespace.clone())
            .or_else(|| std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE).ok().map(|text| text.trim().to_owned()))
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| "gatehouse".to_owned());
        Tenancy::new(&own, &self.reserved_namespaces)
    }

    pub fn job_settings(&self) -> backend::cluster::jobs::JobSettings {
        backend::cluster::jobs::JobSettings::new(
            backend::cluster::leader::identity(),
            Duration::from_secs(self.job_lease_secs.max(1)),
            self.job_workers,
        )
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn apply_timeout(&self) -> Duration {
        Duration::from_secs(self.apply_timeout_secs.max(1))
    }

    /// Where the secret key file is (or will be created): `--secret-key-file`, else beside
    /// the SQLite database, else `data/secret.key`.
    pub fn secret_key_path(&self) -> PathBuf {
        if let Some(path) = &self.secret_key_file {
            return path.clone();
        }
        backend::db::sqlite_file(&self.database_url)
            .and_then(|file| file.parent().map(|dir| dir.join("secret.key")))
            .unwrap_or_else(|| PathBuf::from("data/secret.key"))
    }

    /// A configuration for tests: port 0 on loopback and the given database.
    pub fn for_tests(database_url: impl Into<String>, site_root: impl Into<PathBuf>) -> Config {
        let database_url = database_url.into();
        Config {
            command: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.clone(),
            demo: false,
            log_format: LogFormat::Human,
            tls_cert: None,
            tls_key: None,
            site_root: site_root.into(),
            request_timeout_secs: 30,
            secret_key_file: None,
            demo_sign_in: true,
            session_idle_secs: 1800,
            session_max_secs: 43_200,
            sign_in_attempts: 5,
            sign_in_lockout_secs: 900,
            trusted_proxies: Vec::new(),
            public_url: None,
            token_days: 90,
            token_max_days: 365,
            admin_password: None,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_groups_claim: "groups".to_owned(),
            oidc_roles: String::new(),
            oidc_client_secret: None,
            kubeconfig: None,
            kube_context: None,
            in_cluster: false,
            clusters: Vec::new(),
            simulated_clusters: Vec::new(),
            apply_timeout_secs: 30,
            job_lease_secs: 15,
            job_workers: 16,
            shutdown_grace_secs: 20,
            simulated_cilium_legacy: false,
            verify_interval_secs: None,
            verify_dialer: None,
            clock: None,
            lease_name: "gatehouse-leader".to_owned(),
            lease_namespace: None,
            own_namespace: None,
            reserved_namespaces: Vec::new(),
            schemas_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
            // One key per test database, the same for every server started on it, and no
            // key file beside a PostgreSQL test.
            secret_key: Some(SecretText(backend::certificates::SecretKey::derived_text_for_tests(&database_url))),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn named_clusters_come_from_flags_or_one_variable() {
        let config = Config::try_parse_from(["gatehouse", "--cluster", "east=/etc/east.yaml#admin@east", "--cluster", "west=/etc/west.yaml"])
            .expect("the flags parse");
        assert_eq!(
            config.clusters,
            [
                ClusterSpec { name: "east".to_owned(), kubeconfig: "/etc/east.yaml".into(), context: Some("admin@east".to_owned()) },
                ClusterSpec { name: "west".to_owned(), kubeconfig: "/etc/west.yaml".into(), context: None },
            ]
        );
        let refused = |text: &str| parse_cluster_spec(text).expect_err(text);
        assert!(refused("/etc/east.yaml").contains("NAME=KUBECONFIG"));
        assert!(refused("East=/etc/east.yaml").contains("lower case"));
        assert!(refused("default=/etc/east.yaml").contains("give this cluster another name"));
        assert!(refused("east=").contains("names no kubeconfig"));
        let simulated = Config::try_parse_from(["gatehouse", "--simulated-cluster", "prod-sim", "--simulated-cluster", "qa-sim"])
            .expect("the flags parse");
        assert_eq!(simulated.simulated_clusters, ["prod-sim", "qa-sim"]);
        assert!(Config::try_parse_from(["gatehouse", "--simulated-cluster", "default"]).is_err());
    }

    #[test]
    fn the_public_url_is_an_origin() {
        let url = PublicUrl::parse("https://Gatehouse.Example.com/").unwrap();
        assert_eq!((url.origin(), url.is_https()), ("https://gatehouse.example.com", true));
        assert_eq!(PublicUrl::parse("http://127.0.0.1:3000").unwrap().origin(), "http://127.0.0.1:3000");
        assert!(PublicUrl::parse("https://gatehouse.example.com/portal").unwrap_err().contains("path"));
        assert!(PublicUrl::parse("ftp://gatehouse.example.com").unwrap_err().contains("https://"));
        assert!(PublicUrl::parse("gatehouse.example.com").unwrap_err().contains("not a URL"));
    }

    #[test]
    fn trusted_proxies_are_networks_or_addresses() {
        let config = Config::try_parse_from(["gatehouse", "--trusted-proxies", "10.0.0.0/8,192.0.2.1,2001:db8::/32"]).expect("the flags parse");
        let proxies: Vec<String> = config.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]);
        assert!(parse_trusted_proxy("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(parse_trusted_proxy("proxy.example").unwrap_err().contains("a trusted proxy is a network"));
    }

    #[test]
    fn the_demo_sign_in_is_refused_beside_a_real_cluster_or_on_a_public_address() {
        let refusal = |args: &[&str]| {
            let config = Config::try_parse_from(["gatehouse", "--demo"].iter().chain(args)).expect("the flags parse");
            config.demo_sign_in_refusal()
        };
        assert_eq!(refusal(&[]), None);
        assert_eq!(refusal(&["--listen", "[::1]:3000"]), None);
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = |name: &str, server: &str| {
            let path = dir.path().join(name);
            let text = format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
                 contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
            );
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let (real, local) = (kubeconfig("real", "https://k8s.example.com:6443"), kubeconfig("local", "https://127.0.0.1:6443"));
        assert!(refusal(&["--kubeconfig", &real]).unwrap().contains("--kubeconfig"));
        assert!(refusal(&["--kubeconfig", "/no/such/kubeconfig"]).unwrap().contains("--kubeconfig"));
        assert_eq!(refusal(&["--kubeconfig", &local]), None, "a simulated or local cluster");
        assert!(refusal(&["--in-cluster"]).unwrap().contains("--in-cluster"));
        assert!(refusal(&["--cluster", &format!("east={real}")]).unwrap().contains("--cluster"));
        assert_eq!(refusal(&["--cluster", &format!("east={local}")]), None);
        let public = refusal(&["--listen", "0.0.0.0:3000"]).unwrap();
        assert!(public.contains("--listen") && public.contains("--demo-sign-in false"), "{public}");
        assert_eq!(refusal(&["--listen", "0.0.0.0:3000", "--demo-sign-in", "false"]), None);
    }
}
