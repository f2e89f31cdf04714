//! `gatehouse lint`: the command-line side of the `lint` crate — flags, reading a live cluster
//! through a kubeconfig (list only), fetching a plan from a portal, exit codes. No server is
//! started and no database opened.

use std::{io::Write as _, path::PathBuf, process::ExitCode};

use domain::{Application, Environment, Plan, VipPool};
use clap::{Args, ValueEnum};
use kube::{
    Client,
    api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use lint::{Format, InputError, Level, Options, SourceFile};
use serde_json::Value;

/// Check manifests or a live cluster against Gatehouse's checklist: LB-IPAM pools, L2
/// announcements, BGP, Gateways, HTTPRoutes, certificates. Exit code 0: clean; 1: findings at
/// or above --severity; 2: usage or input error.
#[derive(Debug, Clone, Args)]
pub struct LintArgs {
    /// Files and directories of YAML or JSON manifests (directories recursively: .yaml, .yml,
    /// .json); `-` reads standard input (Helm or kustomize output, `kubectl get -o yaml`).
    pub paths: Vec<PathBuf>,

    /// Read a live cluster: the context named NAME (or the context whose cluster is NAME) of
    /// the default kubeconfig ($KUBECONFIG, else ~/.kube/config). Only list requests are made.
    #[arg(long, value_name = "NAME", conflicts_with = "kubeconfig")]
    pub cluster: Option<String>,

    /// Read the live cluster of this kubeconfig (its current context unless --context names one).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use with --kubeconfig.
    #[arg(long, value_name = "CONTEXT", requires = "kubeconfig")]
    pub context: Option<String>,

    /// Report format: human text, JSON, or SARIF 2.1.0 for code scanning.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,

    /// The lowest severity that is reported and makes the exit code 1.
    #[arg(long, value_enum, default_value = "warning")]
    pub severity: SeverityArg,

    /// The label whose value names an object's environment (dev, prod, …). Without it on an
    /// object: its Namespace's label, the pools' and policies' selectors, or the namespace.
    #[arg(long, value_name = "KEY", default_value = lint::DEFAULT_ENVIRONMENT_LABEL)]
    pub environment_label: String,

    /// Lint against the plan of the Gatehouse portal at URL: the environments' node subnets,
    /// pod CIDRs and advertisement come from the plan, and every VIP, hostname and
    /// certificate must be where the plan puts it. The API token comes from
    /// GATEHOUSE_PLAN_TOKEN.
    #[arg(long, value_name = "URL")]
    pub plan: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Error,
    Warning,
    Info,
}

/// The environment variable with the API token for --plan (a flag would show it in the
/// process list).
pub const PLAN_TOKEN_ENV: &str = "GATEHOUSE_PLAN_TOKEN";

#[derive(Debug, thiserror::Error)]
enum LintError {
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("give manifests (PATH…, or - for standard input) or a cluster (--cluster NAME or --kubeconfig FILE)")]
    NothingToLint,
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("cluster {cluster}: {message}")]
    Cluster { cluster: String, message: String },
    #[error("plan {url}: {message}")]
    Plan { url: String, message: String },
}

/// Runs `gatehouse lint` and prints the report; the exit code says how it went.
pub async fn run(args: LintArgs) -> ExitCode {
    match lint(&args).await {
        Ok((report, fails)) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(report.as_bytes()).and_then(|()| stdout.flush()).is_err() {
                return ExitCode::from(2);
            }
            if fails { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Err(error) => {
            eprintln!("gatehouse lint: {error}");
            ExitCode::from(2)
        }
    }
}

async fn lint(args: &LintArgs) -> Result<(String, bool), LintError> {
    if args.paths.is_empty() && args.cluster.is_none() && args.kubeconfig.is_none() {
        return Err(LintError::NothingToLint);
    }
    let mut files = lint::read_paths(&args.paths, &mut std::io::stdin().lock())?;
    let live = args.cluster.is_some() || args.kubeconfig.is_some();
    if live {
        files.push(read_cluster(args).await?);
    }
    let plan = match &args.plan {
        Some(url) => Some(fetch_plan(url).await?),
        None => None,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let options = Options {
        environment_label: args.environment_label.clone(),
        now_unix: now,
        complete: live && args.paths.is_empty(),
        plan: plan.as_ref(),
    };
    let outcome = lint::lint(&files, &options)?;
    let threshold = match args.severity {
        SeverityArg::Error => Level::Error,
        SeverityArg::Warning => Level::Warning,
        SeverityArg::Info => Level::Info,
    };
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Sarif => Format::Sarif,
    };
    Ok((lint::report::render(&outcome, format, threshold), outcome.fails_at(threshold)))
}

/// The kinds lint reads from a cluster: (group, version, kind, plural).
const KINDS: [(&str, &str, &str, &str); 14] = [
    ("", "v1", "Namespace", "namespaces"),
    ("", "v1", "Node", "nodes"),
    ("", "v1", "Service", "services"),
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    ("apps", "v1", "Deployment", "deployments"),
    ("gateway.networking.k8s.io", "v1", "Gateway", "gateways"),
    ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
    ("cilium.io", "v2", "CiliumLoadBalancerIPPool", "ciliumloadbalancerippools"),
    ("cilium.io", "v2alpha1", "CiliumL2AnnouncementPolicy", "ciliuml2announcementpolicies"),
    ("cilium.io", "v2", "CiliumBGPClusterConfig", "ciliumbgpclusterconfigs"),
    ("cilium.io", "v2", "CiliumBGPPeerConfig", "ciliumbgppeerconfigs"),
    ("cilium.io", "v2", "CiliumBGPAdvertisement", "ciliumbgpadvertisements"),
    ("cilium.io", "v2alpha1", "CiliumBGPPeeringPolicy", "ciliumbgppeeringpolicies"),
];

/// The cluster's objects of [`KINDS`] as one YAML stream named `cluster/<context>.yaml`,
/// which findings point into. Kinds the cluster does not serve (Cilium's BGP CRDs where BGP
/// is off) are skipped; Secrets other than `kubernetes.io/tls` are dropped unread.
async fn read_cluster(args: &LintArgs) -> Result<SourceFile, LintError> {
    let (kubeconfig, context) = match (&args.kubeconfig, &args.cluster) {
        (Some(path), _) => {
            let config = Kubeconfig::read_from(path).map_err(|e| LintError::Kubeconfig(format!("{}: {e}", path.display())))?;
            (config, args.context.clone())
        }
        (None, Some(name)) => {
            let config = Kubeconfig::read().map_err(|e| LintError::Kubeconfig(format!("the default kubeconfig ($KUBECONFIG or ~/.kube/config): {e}")))?;
            let context = config
                .contexts
                .iter()
                .find(|c| c.name == *name)
                .or_else(|| config.contexts.iter().find(|c| c.context.as_ref().is_some_and(|c| c.cluster == *name)))
                .map(|c| c.name.clone())
                .ok_or_else(|| {
                    let known: Vec<&str> = config.contexts.iter().map(|c| c.name.as_str()).collect();
                    LintError::Kubeconfig(format!("no context or cluster named {name}; the contexts are: {}", known.join(", ")))
                })?;
            (config, Some(context))
        }
        (None, None) => return Err(LintError::NothingToLint),
    };
    let label = context.clone().or_else(|| kubeconfig.current_context.clone()).unwrap_or_else(|| "cluster".to_owned());
    let options = KubeConfigOptions { context, ..KubeConfigOptions::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| LintError::Kubeconfig(e.to_string()))?;
    let client = Client::try_from(config).map_err(|e| LintError::Kubeconfig(e.to_string()))?;
    let cluster_error = |message: String| LintError::Cluster { cluster: label.clone(), message };

    let mut text = String::new();
    for (group, version, kind, plural) in KINDS {
        let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let list = match api.list(&ListParams::default()).await {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(kube::Error::Api(status)) if status.code == 403 => {
                return Err(cluster_error(format!("the kubeconfig's user may not list {plural}: {}", status.message)));
            }
            Err(error) => return Err(cluster_error(format!("listing {plural}: {error}"))),
        };
        for item in list.items {
            let mut value = serde_json::to_value(&item).map_err(|e| cluster_error(e.to_string()))?;
            if kind == "Secret" && value.get("type").and_then(Value::as_str) != Some("kubernetes.io/tls") {
                continue;
            }
            value["apiVersion"] = Value::from(resource.api_version.clone());
            value["kind"] = Value::from(kind);
            if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
            }
            text.push_str("---\n");
            text.push_str(&serde_yaml::to_string(&value).map_err(|e| cluster_error(e.to_string()))?);
        }
    }
    Ok(SourceFile { path: format!("cluster/{label}.yaml"), text })
}

/// The plan of the portal at `url`: environments, their pools and the applications, read
/// with the API token in GATEHOUSE_PLAN_TOKEN.
async fn fetch_plan(url: &str) -> Result<Plan, LintError> {
    let base = url.trim_end_matches('/').to_owned();
    let plan_error = |message: String| LintError::Plan { url: base.clone(), message };
    let token = std::env::var(PLAN_TOKEN_ENV).map_err(|_| plan_error(format!("set {PLAN_TOKEN_ENV} to an API token of a viewer (POST /api/v1/tokens makes one)")))?;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let request = client.get(format!("{base}/api/v1{path}")).bearer_auth(&token);
        async move {
            let response = request.send().await.map_err(|e| format!("GET /api/v1{path}: {e}"))?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                return Err(format!("GET /api/v1{path} answered {status}: {}", body.chars().take(300).collect::<String>()));
            }
            response.json::<Value>().await.map_err(|e| format!("GET /api/v1{path}: not JSON: {e}"))
        }
    };
    let environments: Vec<Environment> =
        serde_json::from_value(get("/environments".to_owned()).await.map_err(&plan_error)?).map_err(|e| plan_error(format!("environments: {e}")))?;
    let mut pools: Vec<VipPool> = Vec::new();
    for env in &environments {
        let list = get(format!("/environments/{}/pools", env.name)).await.map_err(&plan_error)?;
        pools.extend(serde_json::from_value::<Vec<VipPool>>(list).map_err(|e| plan_error(format!("pools of {}: {e}", env.name)))?);
    }
    let applications: Vec<Application> =
        serde_json::from_value(get("/applications".to_owned()).await.map_err(&plan_error)?).map_err(|e| plan_error(format!("applications: {e}")))?;
    Ok(Plan { environments, pools, applications, allocations: Vec::new(), certificates: None })
}
