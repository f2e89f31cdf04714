//! The simulated cluster's data path: what a client outside the cluster meets at a VIP.
//!
//! Each VIP that LB-IPAM assigned to a Gateway's generated Service (`cilium-gateway-<name>`)
//! and that an L2 announcement policy or a BGP advertisement selects is served on a loopback
//! listener (127.0.0.1, port 0); [`super::SimCluster::datapath`] publishes the VIP →
//! `127.0.0.1:port` map, and dialers (the portal's verifier, `gatehouse verify --resolve`) go
//! through it. A VIP that is not announced has no listener: connecting to its last port is
//! refused, as an unanswered ARP or a missing route leaves a real client with nothing.
//!
//! A connection is served as Cilium's Envoy would: the TLS ClientHello's SNI picks the
//! Gateway listener (exact hostname, then a `*.` wildcard, then one without a hostname), TLS
//! is terminated with the certificate of that listener's Secret as the store holds it now,
//! and the request is routed by the HTTPRoutes attached to the Gateway (hostname, then the
//! longest path prefix) to a small built-in backend: it answers 200 on the probe paths of
//! the Deployment behind the route's Service (readiness, liveness, startup; also under a
//! route's prefix), 404 elsewhere, and whatever status a test set for a path prefix
//! ([`super::SimCluster::set_backend_status`]). No listener for the SNI, or a listener whose
//! Secret is missing or unreadable: the handshake is dropped, as Envoy drops it.
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use backend::cluster::vips::{OWNING_GATEWAY_LABEL, announcement, assigned_address, labels_of};
use base64::Engine;
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::Acceptor,
};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tokio_rustls::LazyConfigAcceptor;

use super::{Shared, store::Store};

/// How long a connection may take to send its ClientHello and its request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the listeners follow the store when nobody asks for the map.
const SYNC_EVERY: Duration = Duration::from_millis(200);

/// One VIP being served.
struct Served {
    namespace: String,
    gateway: String,
    local: SocketAddr,
    task: JoinHandle<()>,
}

/// The listeners and the statuses tests set.
#[derive(Default)]
pub(crate) struct Datapath {
    served: Mutex<BTreeMap<String, Served>>,
    /// Path prefix → the status the backend answers under it.
    statuses: Mutex<BTreeMap<String, u16>>,
}

impl Drop for Datapath {
    fn drop(&mut self) {
        for served in self.served.get_mut().map(std::mem::take).unwrap_or_default().into_values() {
            served.task.abort();
        }
    }
}

impl Datapath {
    pub(crate) fn set_status(&self, prefix: &str, status: Option<u16>) {
        let mut statuses = self.statuses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match status {
            Some(status) => statuses.insert(prefix.to_owned(), status),
            None => statuses.remove(prefix),
        };
    }

    fn status_for(&self, path: &str) -> Option<u16> {
        let statuses = self.statuses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        statuses.iter().filter(|(prefix, _)| prefix_matches(prefix, path)).max_by_key(|(prefix, _)| prefix.len()).map(|(_, s)| *s)
    }
}

/// The Gateways whose VIP should be served now: address → (namespace, gateway).
fn wanted(store: &Store) -> BTreeMap<String, (String, String)> {
    let values = |kind: &str| -> Vec<Value> { store.all(kind).into_iter().map(|(_, v)| v).collect() };
    let l2 = values("CiliumL2AnnouncementPolicy");
    let bgp = values("CiliumBGPAdvertisement");
    let mut wanted = BTreeMap::new();
    for (key, service) in store.all("Service") {
        if service.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer") {
            continue;
        }
        let labels = labels_of(&service);
        let Some(gateway) = labels.get(OWNING_GATEWAY_LABEL).cloned() else { continue };
        let Some(address) = assigned_address(&service) else { continue };
        if announcement(&labels, &l2, &bgp).is_announced() {
            wanted.insert(address, (key.namespace.clone(), gateway));
        }
    }
    wanted
}

/// Opens a listener for every VIP that should be served and closes the others; the map.
pub(crate) fn sync(shared: &Arc<Shared>) -> BTreeMap<String, SocketAddr> {
    let wanted = wanted(&shared.store());
    let mut served = shared.datapath.served.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    served.retain(|address, s| {
        let keep = wanted.get(address).is_some_and(|(ns, gw)| *ns == s.namespace && *gw == s.gateway) && !s.task.is_finished();
        if !keep {
            s.task.abort();
        }
        keep
    });
    for (address, (namespace, gateway)) in wanted {
        if served.contains_key(&address) {
            continue;
        }
        let listener = match std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| {
            l.set_nonblocking(true)?;
            TcpListener::from_std(l)
        }) {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%address, %error, "the simulated data path could not listen for a VIP");
                continue;
            }
        };
        let Ok(local) = listener.local_addr() else { continue };
        let weak = Arc::downgrade(shared);
        let (ns, gw) = (namespace.clone(), gateway.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (weak, ns, gw) = (weak.clone(), ns.clone(), gw.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(CLIENT_TIMEOUT, serve(weak, stream, &ns, &gw)).await;
                });
            }
        });
        tracing::debug!(%address, %local, gateway = %gateway, "the simulated data path serves a VIP");
        served.insert(address, Served { namespace, gateway, local, task });
    }
    served.iter().map(|(address, s)| (address.clone(), s.local)).collect()
}

/// Follows the store in the background until the cluster is dropped.
pub(crate) fn follow(shared: Weak<Shared>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SYNC_EVERY);
        loop {
            tick.tick().await;
            let Some(shared) = shared.upgrade() else { return };
            sync(&shared);
        }
    });
}

/// Whether `prefix` (a Gateway API PathPrefix) matches `path`: element-wise.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty() || path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// Whether a listener's hostname matches the SNI (exact, or a `*.` wildcard of one label).
fn hostname_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name.split_once('.').is_some_and(|(first, rest)| !first.is_empty() && rest.eq_ignore_ascii_case(suffix)),
        None => pattern.eq_ignore_ascii_case(name),
    }
}

/// The TLS configuration of the listener that `sni` selects on a Gateway, from its Secret.
fn tls_config(store: &Store, namespace: &str, gateway: &str, sni: Option<&str>) -> Option<ServerConfig> {
    let gateway = store.find("Gateway", namespace, gateway)?;
    let listeners = gateway.pointer("/spec/listeners").and_then(Value::as_array)?;
    let hostname_of = |l: &Value| l.get("hostname").and_then(Value::as_str).map(str::to_owned);
    let listener = sni
        .and_then(|sni| {
            listeners.iter().find(|l| hostname_of(l).is_some_and(|h| !h.starts_with("*.") && hostname_matches(&h, sni))).or_else(|| {
                listeners.iter().find(|l| hostname_of(l).is_some_and(|h| h.starts_with("*.") && hostname_matches(&h, sni)))
            })
        })
        .or_else(|| listeners.iter().find(|l| hostname_of(l).is_none()))?;
    let reference = listener.pointer("/tls/certificateRefs/0")?;
    let secret_namespace = reference.get("namespace").and_then(Value::as_str).unwrap_or(namespace);
    let secret = store.find("Secret", secret_namespace, reference.get("name").and_then(Value::as_str)?)?;
    let field = |name: &str| -> Option<Vec<u8>> {
        let encoded = secret.pointer(&format!("/data/{}", name.replace('/', "~1")))?.as_str()?;
        base64::engine::general_purpose::STANDARD.decode(encoded).ok()
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&field("tls.crt")?).collect::<Result<_, _>>().ok()?;
    let key = PrivateKeyDer::from_pem_slice(&field("tls.key")?).ok()?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .ok()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .ok()
}

/// The route and backend answer for a request: (status, body).
fn answer(shared: &Shared, namespace: &str, gateway: &str, host: &str, path: &str) -> (u16, String) {
    let store = shared.store();
    let attached = |route: &Value| {
        route.pointer("/spec/parentRefs").and_then(Value::as_array).is_some_and(|parents| {
            parents.iter().any(|p| {
                p.get("name").and_then(Value::as_str) == Some(gateway)
                    && p.get("namespace").and_then(Value::as_str).is_none_or(|n| n == namespace)
            })
        })
    };
    let host_ok = |route: &Value| {
        route.pointer("/spec/hostnames").and_then(Value::as_array).is_none_or(|names| {
            names.is_empty() || names.iter().filter_map(Value::as_str).any(|name| hostname_matches(name, host))
        })
    };
    let mut best: Option<(usize, String)> = None;
    for (_, route) in store.all("HTTPRoute") {
        let route_namespace = route.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
        if route_namespace != namespace || !attached(&route) || !host_ok(&route) {
            continue;
        }
        for rule in route.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten() {
            let prefixes: Vec<String> = match rule.get("matches").and_then(Value::as_array) {
                Some(matches) if !matches.is_empty() => matches
                    .iter()
                    .map(|m| m.pointer("/path/value").and_then(Value::as_str).unwrap_or("/").to_owned())
                    .collect(),
                _ => vec!["/".to_owned()],
            };
            let Some(service) = rule.pointer("/backendRefs/0/name").and_then(Value::as_str) else { continue };
            for prefix in prefixes.iter().filter(|p| prefix_matches(p, path)) {
                if best.as_ref().is_none_or(|(len, _)| prefix.len() > *len) {
                    best = Some((prefix.len(), service.to_owned()));
                }
            }
        }
    }
    let Some((_, service)) = best else {
        return (404, format!("no HTTPRoute of Gateway {namespace}/{gateway} matches {host}{path}\n"));
    };
    if let Some(status) = shared.datapath.status_for(path) {
        return (status, format!("{service}: answering {status} (set by the test)\n"));
    }
    let probes = probe_paths(&store, namespace, &service);
    if probes.is_empty() {
        return (503, format!("no ready endpoints for Service {namespace}/{service}\n"));
    }
    if probes.iter().any(|probe| path == probe || path.ends_with(probe.as_str())) {
        (200, format!("{service}: ok\n"))
    } else {
        (404, format!("{service}: {path} not found\n"))
    }
}

/// The probe paths of the Deployments whose pods the Service selects.
fn probe_paths(store: &Store, namespace: &str, service: &str) -> Vec<String> {
    let Some(selector) = store.find("Service", namespace, service).and_then(|s| s.pointer("/spec/selector")).and_then(Value::as_object).cloned()
    else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for (key, deployment) in store.all("Deployment") {
        if key.namespace != namespace {
            continue;
        }
        let labels = deployment.pointer("/spec/template/metadata/labels").cloned().unwrap_or(Value::Null);
        if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            continue;
        }
        for container in deployment.pointer("/spec/template/spec/containers").and_then(Value::as_array).into_iter().flatten() {
            for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
                if let Some(path) = container.pointer(&format!("/{probe}/httpGet/path")).and_then(Value::as_str) {
                    paths.push(path.to_owned());
                }
            }
        }
    }
    paths
}

/// One connection: TLS by SNI, then one HTTP/1.1 request.
async fn serve(shared: Weak<Shared>, stream: TcpStream, namespace: &str, gateway: &str) {
    let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), stream).await else { return };
    let sni = start.client_hello().server_name().map(str::to_owned);
    let config = {
        let Some(shared) = shared.upgrade() else { return };
        tls_config(&shared.store(), namespace, gateway, sni.as_deref())
    };
    let Some(config) = config else {
        tracing::debug!(?sni, %gateway, "no Gateway listener with a usable certificate for this SNI: the handshake is dropped");
        return;
    };
    let Ok(mut tls) = start.into_stream(Arc::new(config)).await else { return };
    let mut request = Vec::new();
    let mut buffer = [0_u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match tls.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let mut lines = text.split("\r\n");
    let path = lines.next().and_then(|line| line.split(' ').nth(1)).unwrap_or("/").to_owned();
    let host = lines
        .find_map(|line| line.split_once(':').filter(|(name, _)| name.trim().eq_ignore_ascii_case("host")).map(|(_, v)| v.trim().to_owned()))
        .or(sni)
        .unwrap_or_default();
    let host = host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host.as_str(), |(h, _)| h).to_owned();
    let (status, body) = {
        let Some(shared) = shared.upgrade() else { return };
        answer(&shared, namespace, gateway, &host, &path)
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nserver: envoy\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(response.as_bytes()).await;
    let _ = tls.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_element_wise() {
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api/", "/api/x"));
        assert!(prefix_matches("/api", "/api/x"));
        assert!(!prefix_matches("/api", "/apix"));
    }

    #[test]
    fn wildcards_match_one_label() {
        assert!(hostname_matches("*.mdhlabs.com", "api.mdhlabs.com"));
        assert!(!hostname_matches("*.mdhlabs.com", "mdhlabs.com"));
        assert!(hostname_matches("API.mdhlabs.com", "api.mdhlabs.com"));
    }
}
