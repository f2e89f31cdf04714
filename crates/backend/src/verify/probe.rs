//! Checks 3 (TLS) and 4 (HTTP): what a client at the dialer's place meets at a VIP. Shared
//! by the portal's verifier and `gatehouse verify`, which differ only in their dialer.
//!
//! The TLS check completes a real handshake (rustls, SNI = the hostname) while accepting any
//! certificate — the handshake still proves that the server holds the key of the leaf it
//! sends — and then judges what was served: its SHA-256 fingerprint against the planned
//! certificate's, its chain against the uploaded chain (webpki, with the uploaded chain's top
//! certificate as the only trust anchor, and the hostname), and its expiry against the
//! warning window. The HTTP check sends one `GET` per path over its own handshake, with the
//! Host header, and wants a 2xx within the timeout.
use std::{sync::Arc, time::Duration};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsConnector, client::TlsStream};
use views::verification::{CheckResult, Outcome, ProbePlan};

use super::Dialer;
use crate::certificates::parse::sha256_hex;

/// How long a connection, a handshake or an answer may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The rule of the caveat that a VIP reachable from the router but not from clients points to.
pub const ROUTER_VM_RULE: &str = "GH-BGP-PEER-VM";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any certificate (judged afterwards) but checks the handshake signatures.
#[derive(Debug)]
struct Recorder(Arc<CryptoProvider>);

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector() -> Result<TlsConnector, rustls::Error> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recorder(provider)))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Why a connection or handshake failed, as a check's reason and rule.
#[derive(Debug, Clone)]
pub struct Unreachable {
    pub evidence: String,
    pub reason: String,
    pub rule: Option<String>,
}

/// Dials `address:port` and completes a handshake with SNI = `hostname`.
async fn handshake(dialer: &dyn Dialer, address: &str, port: u16, hostname: &str) -> Result<(TlsStream<tokio::net::TcpStream>, String), Unreachable> {
    let tcp = match tokio::time::timeout(TIMEOUT, dialer.dial(address, port)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Unreachable {
                evidence: format!("TCP to {address}:{port}: connection refused"),
                reason: format!("nothing answers at {address}:{port}: the VIP is not announced to this network (no node answers ARP for it, or no route leads to it), or the Gateway has no listener on {port}"),
                rule: None,
            });
        }
        Ok(Err(error)) => {
            return Err(Unreachable {
                evidence: format!("TCP to {address}:{port}: {error}"),
                reason: format!("could not connect to {address}:{port}: {error}"),
                rule: None,
            });
        }
        Err(_) => {
            return Err(Unreachable {
                evidence: format!("TCP to {address}:{port}: no answer within {}s", TIMEOUT.as_secs()),
                reason: format!("{address}:{port} does not answer: if the router itself connects, the router learns the route but does not forward clients' traffic into the cluster (FRR on a VM)"),
                rule: Some(ROUTER_VM_RULE.to_owned()),
            });
        }
    };
    let via = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let connector = connector().map_err(|error| Unreachable { evidence: error.to_string(), reason: format!("TLS client: {error}"), rule: None })?;
    let name = ServerName::try_from(hostname.to_owned()).map_err(|_| Unreachable {
        evidence: format!("{hostname} is not a DNS name"),
        reason: format!("{hostname} cannot be sent as SNI"),
        rule: None,
    })?;
    match tokio::time::timeout(TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => Ok((tls, via)),
        Ok(Err(error)) => Err(Unreachable {
            evidence: format!("TCP to {address}:{port} connected; TLS handshake with SNI {hostname}: {error}"),
            reason: format!("the Gateway accepted the connection but ended the handshake for SNI {hostname}: no listener (or no usable certificate Secret) for that hostname — is it in the Gateway's listeners and the HTTPRoute's hostnames, and was the application submitted?"),
            rule: Some("GH-GATEWAY-TLS".to_owned()),
        }),
        Err(_) => Err(Unreachable {
            evidence: format!("TCP to {address}:{port} connected; TLS handshake with SNI {hostname}: no answer within {}s", TIMEOUT.as_secs()),
            reason: "the TCP connection opens but TLS times out: typical of a router that learns the route but does not forward clients' traffic (FRR on a VM)".to_owned(),
            rule: Some(ROUTER_VM_RULE.to_owned()),
        }),
    }
}

fn result(check: &str, hostname: &str, outcome: Outcome, evidence: Vec<String>, reason: Option<String>, rule: Option<String>) -> CheckResult {
    CheckResult { check: check.to_owned(), hostname: Some(hostname.to_owned()), outcome, evidence, reason, rule }
}

fn format_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Check 3 for one hostname.
pub async fn tls(dialer: &dyn Dialer, plan: &ProbePlan, address: &str, port: u16, hostname: &str, now_unix: i64) -> CheckResult {
    let (tls, via) = match handshake(dialer, address, port, hostname).await {
        Ok(done) => done,
        Err(unreachable) => return result("tls", hostname, Outcome::Fail, vec![unreachable.evidence], Some(unreachable.reason), unreachable.rule),
    };
    let connection = tls.get_ref().1;
    let mut evidence = vec![format!(
        "TCP to {address}:{port}{} and a {} handshake with SNI {hostname}",
        if via.is_empty() || via == format!("{address}:{port}") { String::new() } else { format!(" (through {via})") },
        connection.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default()
    )];
    let served: Vec<CertificateDer<'static>> = connection.peer_certificates().unwrap_or_default().iter().map(|c| c.clone().into_owned()).collect();
    let Some(leaf) = served.first() else {
        return result("tls", hostname, Outcome::Fail, evidence, Some("the server sent no certificate".to_owned()), Some("GH-GATEWAY-TLS".to_owned()));
    };
    let fingerprint = sha256_hex(leaf.as_ref());
    evidence.push(format!("served leaf SHA-256 {fingerprint}"));
    let Some(planned) = &plan.certificate else {
        evidence.push("the plan names no uploaded certificate to compare with".to_owned());
        return result("tls", hostname, Outcome::Unknown, evidence, Some("no planned certificate: the fingerprint and chain cannot be judged".to_owned()), Some("GH-CERT-MISSING".to_owned()));
    };
    let mut failures: Vec<(String, &str)> = Vec::new();
    let parsed = x509_parser::parse_x509_certificate(leaf.as_ref()).ok().map(|(_, c)| (c.validity().not_before.timestamp(), c.validity().not_after.timestamp()));
    if let Some((not_before, not_after)) = parsed {
        evidence.push(format!("valid from {} to {}", format_time(not_before), format_time(not_after)));
        if not_after < now_unix {
            failures.push((format!("the served certificate expired on {}", format_time(not_after)), "GH-CERT-EXPIRED"));
        } else if not_before > now_unix {
            failures.push((format!("the served certificate is not valid until {}", format_time(not_before)), "GH-CERT-EXPIRED"));
        }
    }
    if fingerprint != planned.fingerprint_sha256 {
        let known = planned.others.iter().find(|(fp, _)| *fp == fingerprint).map(|(_, name)| name.clone());
        let (what, rule) = match known {
            Some(other) => (format!("certificate {other} of another environment"), "GH-TLS-DISTINCT"),
            None => ("a certificate the plan does not know".to_owned(), "GH-CERT-MISSING"),
        };
        failures.push((
            format!(
                "{hostname} serves {what} (SHA-256 {fingerprint}), not the planned {} of {} (SHA-256 {}): the Gateway's Secret holds another certificate — resubmit to put the planned one back",
                planned.name, plan.environment, planned.fingerprint_sha256
            ),
            rule,
        ));
    } else {
        evidence.push(format!("equals the planned {}'s fingerprint", planned.name));
    }
    let uploaded: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(planned.chain_pem.as_bytes()).filter_map(Result::ok).collect();
    match chain_check(&uploaded, &served, hostname, now_unix) {
        Ok(()) => evidence.push("the served chain validates to the uploaded chain for this hostname".to_owned()),
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired | rustls::CertificateError::NotValidYet))
            if failures.iter().any(|(_, rule)| *rule == "GH-CERT-EXPIRED") => {}
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. })) => {
            failures.push((format!("the served certificate does not name {hostname}"), "GH-CERT-SAN"));
        }
        Err(error) => failures.push((format!("the served chain does not validate to the uploaded chain: {error}"), "GH-CERT-UNVERIFIED")),
    }
    if failures.is_empty() {
        if let Some((_, not_after)) = parsed {
            let window = domain::checklist::EXPIRY_WARNING_SECONDS;
            if not_after - now_unix < window {
                failures.push((
                    format!("the certificate expires on {}, within {} days: renew and upload it", format_time(not_after), window / 86_400),
                    "GH-CERT-EXPIRING",
                ));
            }
        }
    }
    if failures.is_empty() {
        return result("tls", hostname, Outcome::Pass, evidence, None, None);
    }
    let rule = failures[0].1.to_owned();
    let reason = failures.into_iter().map(|(reason, _)| reason).collect::<Vec<_>>().join("; ");
    result("tls", hostname, Outcome::Fail, evidence, Some(reason), Some(rule))
}

/// The served chain against the uploaded chain's top certificate as the only anchor.
fn chain_check(uploaded: &[CertificateDer<'static>], served: &[CertificateDer<'static>], hostname: &str, now_unix: i64) -> Result<(), rustls::Error> {
    let anchor = uploaded.last().ok_or_else(|| rustls::Error::General("the uploaded chain is empty".to_owned()))?;
    let mut roots = RootCertStore::empty();
    roots.add(anchor.clone()).map_err(|error| rustls::Error::General(format!("the uploaded chain's top certificate: {error}")))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|error| rustls::Error::General(error.to_string()))?;
    let name = ServerName::try_from(hostname.to_owned()).map_err(|_| rustls::Error::General(format!("{hostname} is not a DNS name")))?;
    let now = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now_unix).unwrap_or(0)));
    let (leaf, intermediates) = served.split_first().ok_or_else(|| rustls::Error::General("no certificate served".to_owned()))?;
    verifier.verify_server_cert(leaf, intermediates, &name, &[], now).map(|_| ())
}

/// Check 4 for one hostname: every path of the plan through its own handshake.
pub async fn http(dialer: &dyn Dialer, plan: &ProbePlan, address: &str, port: u16, hostname: &str) -> CheckResult {
    let mut evidence = Vec::new();
    let mut failures: Vec<(String, Option<String>)> = Vec::new();
    for path in &plan.paths {
        let url = format!("https://{hostname}{path}");
        let mut tls = match handshake(dialer, address, port, hostname).await {
            Ok((tls, _)) => tls,
            Err(unreachable) => {
                evidence.push(format!("GET {url}: {}", unreachable.evidence));
                failures.push((unreachable.reason, unreachable.rule));
                continue;
            }
        };
        match tokio::time::timeout(TIMEOUT, get(&mut tls, hostname, path)).await {
            Ok(Ok((status, server))) => {
                evidence.push(format!("GET {url} through {address}:{port}: {status}{}", server.map(|s| format!(" (server: {s})")).unwrap_or_default()));
                if !(200..300).contains(&status) {
                    let why = match status {
                        404 => "no HTTPRoute rule (hostname and path prefix) leads there, or the application does not serve that path".to_owned(),
                        502..=504 => "the route reached the Service but no ready pod answered: check the Deployment's readiness and the Service's endpoints".to_owned(),
                        _ => "the application answered with an error".to_owned(),
                    };
                    failures.push((format!("GET {url} answered {status}: {why}"), (status >= 500).then(|| "GH-PROD-PROBES".to_owned())));
                }
            }
            Ok(Err(error)) => {
                evidence.push(format!("GET {url}: {error}"));
                failures.push((format!("GET {url}: no HTTP answer ({error})"), None));
            }
            Err(_) => {
                evidence.push(format!("GET {url}: no answer within {}s", TIMEOUT.as_secs()));
                failures.push((format!("GET {url} timed out after the handshake: the backend does not answer"), None));
            }
        }
    }
    if failures.is_empty() {
        return result("http", hostname, Outcome::Pass, evidence, None, None);
    }
    let rule = failures.iter().find_map(|(_, rule)| rule.clone());
    let reason = failures.into_iter().map(|(reason, _)| reason).collect::<Vec<_>>().join("; ");
    result("http", hostname, Outcome::Fail, evidence, Some(reason), rule)
}

/// One HTTP/1.1 GET; the status and the Server header.
async fn get(tls: &mut TlsStream<tokio::net::TcpStream>, hostname: &str, path: &str) -> std::io::Result<(u16, Option<String>)> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: gatehouse-verify\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = tls.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))?;
    let server = lines.find_map(|line| line.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("server")).map(|(_, v)| v.trim().to_owned()));
    Ok((status, server))
}

/// Checks 3 and 4 for every hostname, each dialled at `target(hostname)`.
pub async fn run(dialer: &dyn Dialer, plan: &ProbePlan, target: impl Fn(&str) -> Option<(String, u16)>, now_unix: i64) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for hostname in &plan.hostnames {
        let Some((address, port)) = target(hostname) else {
            for check in ["tls", "http"] {
                results.push(result(check, hostname, Outcome::Unknown, vec![format!("no address for {hostname}")], Some("the VIP is not known (not assigned, or the name does not resolve)".to_owned()), None));
            }
            continue;
        };
        let (tls, http) = futures_util::join!(tls(dialer, plan, &address, port, hostname, now_unix), http(dialer, plan, &address, port, hostname));
        results.push(tls);
        results.push(http);
    }
    results
}
