//! The Gateway and HTTPRoute of an application environment (Gateway API v1, standard channel),
//! with the CEL rules of the CRDs that the schema validator cannot run enforced here.

use std::collections::BTreeSet;

use serde::Serialize;

use super::labels::{self, Labels};
use super::workload::SERVICE_PORT;
use super::{BundleError, CustomKind, CustomResource, Fnv1a, Target};
use domain::{Hostname, VipRequest};

pub const GATEWAY_CLASS: &str = "cilium";
pub const HTTPS_PORT: u16 = 443;
/// A listener name (`SectionName`) may be a DNS subdomain, but a label keeps it usable
/// wherever a section name ends up in a label or a generated name.
pub const MAX_LISTENER_NAME: usize = 63;
/// `HTTPRoute.spec.hostnames` has `maxItems: 16`.
pub const MAX_HOSTNAMES: usize = 16;
/// `HTTPRoute.spec.rules[].matches` has `maxItems: 64`.
pub const MAX_PATHS: usize = 64;

pub type Gateway = CustomResource<GatewaySpec>;
pub type HttpRoute = CustomResource<HttpRouteSpec>;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    pub gateway_class_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<GatewayAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infrastructure: Option<GatewayInfrastructure>,
    pub listeners: Vec<Listener>,
}

impl CustomKind for GatewaySpec {
    const API_VERSION: &'static str = "gateway.networking.k8s.io/v1";
    const KIND: &'static str = "Gateway";
}

#[derive(Debug, Clone, Serialize)]
pub struct GatewayAddress {
    #[serde(rename = "type")]
    pub type_: AddressType,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AddressType {
    IPAddress,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayInfrastructure {
    /// Copied by Cilium to the generated `cilium-gateway-<name>` Service.
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub port: u16,
    pub protocol: ProtocolType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProtocolType {
    #[serde(rename = "HTTPS")]
    Https,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    pub mode: TlsMode,
    pub certificate_refs: Vec<SecretObjectReference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TlsMode {
    Terminate,
}

/// A Secret (`group` defaults to the core group), in the Gateway's namespace unless
/// `namespace` names another one, which a ReferenceGrant there must allow.
#[derive(Debug, Clone, Serialize)]
pub struct SecretObjectReference {
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

pub type ReferenceGrant = CustomResource<ReferenceGrantSpec>;

#[derive(Debug, Clone, Serialize)]
pub struct ReferenceGrantSpec {
    pub from: Vec<ReferenceGrantFrom>,
    pub to: Vec<ReferenceGrantTo>,
}

impl CustomKind for ReferenceGrantSpec {
    const API_VERSION: &'static str = "gateway.networking.k8s.io/v1beta1";
    const KIND: &'static str = "ReferenceGrant";
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferenceGrantFrom {
    pub group: &'static str,
    pub kind: &'static str,
    pub namespace: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferenceGrantTo {
    pub group: &'static str,
    pub kind: &'static str,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AllowedRoutes {
    pub namespaces: RouteNamespaces,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteNamespaces {
    pub from: FromNamespaces,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FromNamespaces {
    Same,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    pub parent_refs: Vec<ParentReference>,
    pub hostnames: Vec<String>,
    pub rules: Vec<HttpRouteRule>,
}

impl CustomKind for HttpRouteSpec {
    const API_VERSION: &'static str = "gateway.networking.k8s.io/v1";
    const KIND: &'static str = "HTTPRoute";
}

/// A Gateway in the route's namespace (`group` and `kind` default to the Gateway).
#[derive(Debug, Clone, Serialize)]
pub struct ParentReference {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    pub matches: Vec<HttpRouteMatch>,
    pub backend_refs: Vec<HttpBackendRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpRouteMatch {
    pub path: HttpPathMatch,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpPathMatch {
    #[serde(rename = "type")]
    pub type_: PathMatchType,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PathMatchType {
    PathPrefix,
}

/// A Service in the route's namespace (`kind` defaults to Service).
#[derive(Debug, Clone, Serialize)]
pub struct HttpBackendRef {
    pub name: String,
    pub port: u16,
}

/// `<app>-<env>`: the Gateway's and the HTTPRoute's name.
pub fn gateway_name(target: &Target<'_>) -> String {
    format!("{}-{}", target.app.name, target.env.name)
}

pub fn gateway(target: &Target<'_>) -> Result<Gateway, BundleError> {
    let (application, environment) = target.error_context();
    let hostnames = hostnames(target)?;
    let certificate = target
        .app_env
        .certificate
        .as_ref()
        .ok_or_else(|| BundleError::NoCertificate { application: application.clone(), environment: environment.clone() })?;
    let addresses = match target.app_env.vip {
        VipRequest::Auto => Vec::new(),
        VipRequest::Address(address) => {
            if !target.pools.iter().any(|pool| pool.contains(&address)) {
                let pools = super::known(target.pools.iter().map(|p| p.name.as_str()));
                return Err(BundleError::VipOutsidePools { application, environment, address: address.to_string(), pools });
            }
            vec![GatewayAddress { type_: AddressType::IPAddress, value: address.to_string() }]
        }
    };
    let listeners = listener_names(&hostnames)
        .into_iter()
        .zip(&hostnames)
        .map(|(name, hostname)| Listener {
            name,
            hostname: Some(hostname.to_string()),
            port: HTTPS_PORT,
            protocol: ProtocolType::Https,
            tls: Some(ListenerTls {
                mode: TlsMode::Terminate,
                certificate_refs: vec![secret_reference(target, certificate)],
            }),
            allowed_routes: Some(AllowedRoutes { namespaces: RouteNamespaces { from: FromNamespaces::Same } }),
        })
        .collect();
    let metadata = labels::namespaced_meta(
        target,
        gateway_name(target),
        labels::with_advertisement(labels::application_labels(target), target.env),
    );
    Ok(Gateway::new(
        metadata,
        GatewaySpec {
            gateway_class_name: GATEWAY_CLASS.to_owned(),
            addresses,
            infrastructure: Some(GatewayInfrastructure { labels: labels::advertisement(target.env) }),
            listeners,
        },
    ))
}

/// The Secret the listeners terminate with: the uploaded certificate's Secret (named as
/// the certificate, in the application's namespace), or the Secret a certificate refers to.
fn secret_reference(target: &Target<'_>, certificate: &domain::K8sSubdomain) -> SecretObjectReference {
    match target.certificate.and_then(|c| c.secret_ref.as_ref()) {
        Some(reference) => SecretObjectReference {
            kind: "Secret",
            name: reference.name.to_string(),
            namespace: (reference.namespace != target.namespace).then(|| reference.namespace.to_string()),
        },
        None => SecretObjectReference { kind: "Secret", name: certificate.to_string(), namespace: None },
    }
}

/// When the certificate is a Secret in another namespace: the ReferenceGrant there that lets
/// this Gateway use it (and no other Secret of that namespace).
pub fn reference_grant(target: &Target<'_>) -> Option<ReferenceGrant> {
    let reference = target.certificate?.secret_ref.as_ref()?;
    if reference.namespace == target.namespace {
        return None;
    }
    let metadata = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(format!("{}-tls", gateway_name(target))),
        namespace: Some(reference.namespace.to_string()),
        labels: Some(labels::application_labels(target)),
        ..Default::default()
    };
    Some(ReferenceGrant::new(
        metadata,
        ReferenceGrantSpec {
            from: vec![ReferenceGrantFrom {
                group: "gateway.networking.k8s.io",
                kind: "Gateway",
                namespace: target.namespace.to_string(),
            }],
            to: vec![ReferenceGrantTo { group: "", kind: "Secret", name: reference.name.to_string() }],
        },
    ))
}

pub fn http_route(target: &Target<'_>) -> Result<HttpRoute, BundleError> {
    let (application, environment) = target.error_context();
    let hostnames = hostnames(target)?;
    let paths: Vec<&str> = if target.app_env.paths.is_empty() {
        vec!["/"]
    } else {
        target.app_env.paths.iter().map(|p| p.as_str()).collect()
    };
    if paths.len() > MAX_PATHS {
        return Err(BundleError::TooManyPaths { application, environment, count: paths.len(), max: MAX_PATHS });
    }
    if let Some((path, reason)) = paths.iter().find_map(|p| route_path_problem(p).map(|reason| (*p, reason))) {
        return Err(BundleError::InvalidRoutePath { application, environment, path: path.to_owned(), reason });
    }
    let matches = paths
        .into_iter()
        .map(|path| HttpRouteMatch { path: HttpPathMatch { type_: PathMatchType::PathPrefix, value: path.to_owned() } })
        .collect();
    Ok(HttpRoute::new(
        labels::namespaced_meta(target, gateway_name(target), labels::application_labels(target)),
        HttpRouteSpec {
            parent_refs: vec![ParentReference { name: gateway_name(target) }],
            hostnames: hostnames.iter().map(ToString::to_string).collect(),
            rules: vec![HttpRouteRule {
                matches,
                backend_refs: vec![HttpBackendRef { name: target.app.name.to_string(), port: SERVICE_PORT }],
            }],
        },
    ))
}

/// The environment's hostnames, each once, in the order given; at least one, at most
/// [`MAX_HOSTNAMES`].
fn hostnames<'a>(target: &Target<'a>) -> Result<Vec<&'a Hostname>, BundleError> {
    let mut seen = BTreeSet::new();
    let hostnames: Vec<&Hostname> = target.app_env.hostnames.iter().filter(|h| seen.insert(*h)).collect();
    let (application, environment) = target.error_context();
    match hostnames.len() {
        0 => Err(BundleError::NoHostnames { application, environment }),
        count if count > MAX_HOSTNAMES => {
            Err(BundleError::TooManyHostnames { application, environment, count, max: MAX_HOSTNAMES })
        }
        _ => Ok(hostnames),
    }
}

/// The HTTPS listener name of a hostname: `api.mdhlabs.com` → `https-api-mdhlabs-com`,
/// `*.example.com` → `https-wildcard-example-com`. Longer than 63 characters, it is cut and
/// ends in a hash of the hostname, so distinct long hostnames keep distinct names.
pub fn listener_name(hostname: &Hostname) -> String {
    let base = listener_base(hostname);
    if base.len() <= MAX_LISTENER_NAME { base } else { hashed(&base, hostname.as_str()) }
}

fn listener_base(hostname: &Hostname) -> String {
    let host = hostname.as_str();
    let host = host.strip_prefix("*.").map_or_else(|| host.to_owned(), |rest| format!("wildcard.{rest}"));
    format!("https-{}", host.replace('.', "-"))
}

/// `base` cut to leave room for `-` and 8 hex digits of the hash of `seed`.
fn hashed(base: &str, seed: &str) -> String {
    let mut hash = Fnv1a::new();
    hash.write(seed.as_bytes());
    // Listener bases are ASCII, so any byte index is a char boundary.
    let cut = base.get(..MAX_LISTENER_NAME - 9).unwrap_or(base).trim_end_matches('-');
    format!("{cut}-{:08x}", hash.finish() & 0xffff_ffff)
}

/// The listener names of `hostnames` (each distinct), unique within the Gateway. Dots and
/// dashes both become `-`, so `a-b.example.com` and `a.b-example.com` would share a name; the
/// later one gets a hashed name instead.
pub fn listener_names(hostnames: &[&Hostname]) -> Vec<String> {
    let mut used = BTreeSet::new();
    hostnames
        .iter()
        .map(|hostname| {
            let mut name = listener_name(hostname);
            let mut attempt = 0u32;
            while !used.insert(name.clone()) {
                attempt += 1;
                name = hashed(&listener_base(hostname), &format!("{hostname}#{attempt}"));
            }
            name
        })
        .collect()
}

/// Why the Gateway API's CEL rules for `PathPrefix` matches would reject `path`, if they would.
pub fn route_path_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("does not start with `/`");
    }
    let contains = [("//", "contains `//`"), ("/./", "contains `/./`"), ("/../", "contains `/../`"), ("%2f", "contains `%2f`"), ("%2F", "contains `%2F`"), ("#", "contains `#`")];
    if let Some((_, reason)) = contains.iter().find(|(needle, _)| path.contains(needle)) {
        return Some(reason);
    }
    if path.ends_with("/..") {
        return Some("ends with `/..`");
    }
    if path.ends_with("/.") {
        return Some("ends with `/.`");
    }
    // ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return Some("has a `%` that is not followed by two hex digits");
                }
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&b) => i += 1,
            _ => return Some("contains a character that must be percent-encoded"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> Hostname {
        Hostname::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn is_section_name(s: &str) -> bool {
        let re = regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .unwrap_or_else(|e| panic!("{e}"));
        re.is_match(s)
    }

    #[test]
    fn listener_names_follow_the_hostname() {
        assert_eq!(listener_name(&host("api.mdhlabs.com")), "https-api-mdhlabs-com");
        assert_eq!(listener_name(&host("api-dev.mdhlabs.com")), "https-api-dev-mdhlabs-com");
        assert_eq!(listener_name(&host("*.mdhlabs.com")), "https-wildcard-mdhlabs-com");
    }

    #[test]
    fn long_hostnames_get_short_distinct_valid_names() {
        let label = "a".repeat(63);
        let long_a = host(&format!("{label}.{label}.example.com"));
        let long_b = host(&format!("{label}.{label}.example.org"));
        let (a, b) = (listener_name(&long_a), listener_name(&long_b));
        for name in [&a, &b] {
            assert!(name.len() <= MAX_LISTENER_NAME, "{name} is {} characters", name.len());
            assert!(is_section_name(name), "{name} is not a valid section name");
            assert!(name.starts_with("https-aaaa"), "{name}");
        }
        assert_ne!(a, b);
        // Deterministic: the same hostname always gets the same name.
        assert_eq!(listener_name(&long_a), a);
        // A cut that lands on a dash does not leave a dash before the hash.
        let dashy = host(&format!("{}.example.com", "a-".repeat(30) + "a"));
        let name = listener_name(&dashy);
        assert!(is_section_name(&name) && !name.contains("--"), "{name}");
        // Exactly 63 characters is not cut.
        let exact = host(&format!("{}.example.com", "b".repeat(MAX_LISTENER_NAME - "https-".len() - ".example.com".len())));
        assert_eq!(listener_name(&exact).len(), MAX_LISTENER_NAME);
        assert_eq!(listener_name(&exact), listener_base(&exact));
    }

    #[test]
    fn clashing_listener_names_are_made_unique() {
        let (a, b) = (host("a-b.example.com"), host("a.b-example.com"));
        assert_eq!(listener_name(&a), listener_name(&b));
        let names = listener_names(&[&a, &b]);
        assert_eq!(names[0], "https-a-b-example-com");
        assert_ne!(names[0], names[1]);
        assert!(names[1].len() <= MAX_LISTENER_NAME && is_section_name(&names[1]), "{}", names[1]);
    }

    #[test]
    fn route_paths_are_checked_like_the_crd_does() {
        for good in ["/", "/api", "/api/v1/", "/a%2Bb", "/~user/@me:1;x=y"] {
            assert_eq!(route_path_problem(good), None, "{good}");
        }
        let bad = [
            ("api", "does not start with `/`"),
            ("/a//b", "contains `//`"),
            ("/a/./b", "contains `/./`"),
            ("/a/../b", "contains `/../`"),
            ("/a%2fb", "contains `%2f`"),
            ("/a%2Fb", "contains `%2F`"),
            ("/a/..", "ends with `/..`"),
            ("/a/.", "ends with `/.`"),
            ("/a%zz", "has a `%` that is not followed by two hex digits"),
            ("/a%2", "has a `%` that is not followed by two hex digits"),
            ("/a\"b", "contains a character that must be percent-encoded"),
            ("/caf\u{e9}", "contains a character that must be percent-encoded"),
        ];
        for (path, reason) in bad {
            assert_eq!(route_path_problem(path), Some(reason), "{path}");
        }
    }
}
