//! Applications: what each asks of each environment (VIP, hostnames, paths, certificate), and the input form.
use super::*;

// =============================================================================================
// Applications

/// The VIP an application asks for in an environment: the next free one, or a given address.
/// Serialised as `"auto"` or the address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VipRequest {
    #[default]
    Auto,
    Address(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is neither `auto` nor an IP address; write `auto` to get the next free VIP, or an address from the environment's pool"
)]
pub struct VipRequestError {
    pub input: String,
}

impl ErrorCode for VipRequestError {
    fn code(&self) -> &'static str {
        "invalid_vip"
    }
}

impl VipRequest {
    pub fn parse(input: &str) -> Result<Self, VipRequestError> {
        let s = input.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        IpAddr::parse(s).map(Self::Address).map_err(|_| VipRequestError { input: s.to_owned() })
    }

    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Self::Auto => None,
            Self::Address(a) => Some(*a),
        }
    }
}

impl FromStr for VipRequest {
    type Err = VipRequestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for VipRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Address(a) => a.fmt(f),
        }
    }
}

serde_via_str!(VipRequest);

/// `externalTrafficPolicy` of the Service in front of the application (the Gateway's
/// generated Service or a LoadBalancer Service). Kubernetes spelling in JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExternalTrafficPolicy {
    #[default]
    Cluster,
    Local,
}

impl ExternalTrafficPolicy {
    pub fn parse(input: &str) -> Result<Self, ChoiceError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "" | "cluster" => Ok(Self::Cluster),
            "local" => Ok(Self::Local),
            _ => Err(ChoiceError {
                input: input.trim().to_owned(),
                what: "external traffic policy",
                allowed: "Cluster, Local",
                code: "invalid_traffic_policy",
            }),
        }
    }

    pub(super) fn is_cluster(&self) -> bool {
        *self == Self::Cluster
    }
}

/// How an application runs in one environment: its routes, its config and its VIP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppEnvironment {
    pub hostnames: Vec<Hostname>,
    /// HTTPRoute path prefixes; empty means every path (`/`).
    pub paths: Vec<HttpPath>,
    /// The data of the environment's ConfigMap.
    pub config: BTreeMap<ConfigKey, String>,
    /// Name of the TLS certificate (Secret) the environment's Gateway terminates with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<K8sSubdomain>,
    #[serde(default)]
    pub vip: VipRequest,
    #[serde(default, skip_serializing_if = "ExternalTrafficPolicy::is_cluster")]
    pub external_traffic_policy: ExternalTrafficPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ApplicationInput")]
pub struct Application {
    pub name: K8sName,
    pub namespace: K8sName,
    pub image: ImageRef,
    pub replicas: u32,
    pub port: Port,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_path: Option<HttpPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_path: Option<HttpPath>,
    pub environments: BTreeMap<EnvironmentName, AppEnvironment>,
}

impl Application {
    pub fn parse(input: ApplicationInput) -> Result<Self, FieldErrors> {
        Self::try_from(input)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppEnvironmentInput {
    pub hostnames: Vec<String>,
    pub paths: Vec<String>,
    pub config: BTreeMap<String, String>,
    pub certificate: Option<String>,
    /// `"auto"` (the default) or an address.
    pub vip: Option<String>,
    /// `"Cluster"` (the default) or `"Local"`.
    pub external_traffic_policy: Option<String>,
}

/// An application as typed into a form or sent to the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: String,
    pub namespace: String,
    pub image: String,
    /// Defaults to 1, like a Deployment.
    pub replicas: Option<NumberInput>,
    pub port: Option<NumberInput>,
    pub readiness_path: Option<String>,
    pub liveness_path: Option<String>,
    pub environments: BTreeMap<String, AppEnvironmentInput>,
}

impl From<&Application> for ApplicationInput {
    fn from(a: &Application) -> Self {
        Self {
            name: a.name.to_string(),
            namespace: a.namespace.to_string(),
            image: a.image.to_string(),
            replicas: Some(NumberInput::Int(i64::from(a.replicas))),
            port: Some(NumberInput::Int(i64::from(a.port.get()))),
            readiness_path: a.readiness_path.as_ref().map(ToString::to_string),
            liveness_path: a.liveness_path.as_ref().map(ToString::to_string),
            environments: a
                .environments
                .iter()
                .map(|(name, e)| {
                    let input = AppEnvironmentInput {
                        hostnames: e.hostnames.iter().map(ToString::to_string).collect(),
                        paths: e.paths.iter().map(ToString::to_string).collect(),
                        config: e.config.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
                        certificate: e.certificate.as_ref().map(ToString::to_string),
                        vip: Some(e.vip.to_string()),
                        external_traffic_policy: match e.external_traffic_policy {
                            ExternalTrafficPolicy::Cluster => None,
                            ExternalTrafficPolicy::Local => Some("Local".to_owned()),
                        },
                    };
                    (name.to_string(), input)
                })
                .collect(),
        }
    }
}

pub(super) fn optional_path(c: &mut Collector, field: &str, input: Option<&str>) -> Option<HttpPath> {
    match input.map(str::trim) {
        None | Some("") => None,
        Some(p) => c.take(field, HttpPath::parse(p)),
    }
}

pub(super) fn parse_app_environment(c: &mut Collector, prefix: &str, input: &AppEnvironmentInput) -> AppEnvironment {
    let mut hostnames = Vec::with_capacity(input.hostnames.len());
    for (i, h) in input.hostnames.iter().enumerate() {
        let field = format!("{prefix}.hostnames[{i}]");
        if let Some(h) = c.take(field.clone(), Hostname::parse(h)) {
            if hostnames.contains(&h) {
                c.push(field, "duplicate", format!("{h} is listed twice"));
            } else {
                hostnames.push(h);
            }
        }
    }
    let mut paths = Vec::with_capacity(input.paths.len());
    for (i, p) in input.paths.iter().enumerate() {
        let field = format!("{prefix}.paths[{i}]");
        if let Some(p) = c.take(field.clone(), HttpPath::parse(p)) {
            if paths.contains(&p) {
                c.push(field, "duplicate", format!("the path {p} is listed twice"));
            } else {
                paths.push(p);
            }
        }
    }
    let mut config = BTreeMap::new();
    for (k, v) in &input.config {
        if let Some(key) = c.take(format!("{prefix}.config.{k}"), ConfigKey::parse(k)) {
            config.insert(key, v.clone());
        }
    }
    let certificate = match input.certificate.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => c.take(format!("{prefix}.certificate"), K8sSubdomain::parse(s)),
    };
    let vip =
        c.take(format!("{prefix}.vip"), VipRequest::parse(input.vip.as_deref().unwrap_or("auto"))).unwrap_or_default();
    let external_traffic_policy = c
        .take(
            format!("{prefix}.external_traffic_policy"),
            ExternalTrafficPolicy::parse(input.external_traffic_policy.as_deref().unwrap_or("")),
        )
        .unwrap_or_default();
    AppEnvironment { hostnames, paths, config, certificate, vip, external_traffic_policy }
}

impl TryFrom<ApplicationInput> for Application {
    type Error = FieldErrors;

    fn try_from(input: ApplicationInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let name = c.take("name", K8sName::parse(&input.name));
        let namespace = c.take("namespace", K8sName::parse(&input.namespace));
        let image = c.take("image", ImageRef::parse(&input.image));
        let replicas = match &input.replicas {
            None => Some(1),
            Some(n) => {
                let value = match n {
                    NumberInput::Int(v) => Some(*v),
                    NumberInput::Text(s) => s.trim().parse::<i64>().ok(),
                };
                let replicas = value.and_then(|v| u32::try_from(v).ok()).filter(|v| *v <= 10_000);
                if replicas.is_none() {
                    c.push("replicas", "invalid_replicas", "replicas must be a whole number from 0 to 10000, like 3");
                }
                replicas
            }
        };
        let port = match &input.port {
            None => {
                c.push("port", "required", "the container port is required, like 8080");
                None
            }
            Some(NumberInput::Int(v)) => c.take("port", Port::new(*v)),
            Some(NumberInput::Text(s)) => c.take("port", Port::parse(s)),
        };
        let readiness_path = optional_path(&mut c, "readiness_path", input.readiness_path.as_deref());
        let liveness_path = optional_path(&mut c, "liveness_path", input.liveness_path.as_deref());
        let mut environments = BTreeMap::new();
        for (env, e) in &input.environments {
            let prefix = format!("environments.{env}");
            let env_name = c.take(prefix.clone(), EnvironmentName::parse(env));
            let parsed = parse_app_environment(&mut c, &prefix, e);
            if let Some(env_name) = env_name {
                environments.insert(env_name, parsed);
            }
        }
        if !c.is_empty() {
            return Err(c.finish());
        }
        match (name, namespace, image, replicas, port) {
            (Some(name), Some(namespace), Some(image), Some(replicas), Some(port)) => {
                Ok(Application { name, namespace, image, replicas, port, readiness_path, liveness_path, environments })
            }
            _ => Err(c.finish()),
        }
    }
}
