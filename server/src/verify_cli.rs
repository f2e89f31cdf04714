//! `gatehouse verify`: the TLS and HTTP checks run from where clients are (a machine on the
//! clients' network, the FRR host), not from inside the cluster, where Cilium's datapath
//! reaches a VIP whether or not it is announced. It reads what to check from the portal's
//! API, resolves each hostname (DNS, or `--resolve` as curl does), and with `--report` posts
//! the results back so the portal shows them beside its own.

use std::{collections::BTreeMap, io::Write as _, net::SocketAddr, process::ExitCode};

use backend::verify::{DirectDialer, probe};
use clap::{Args, ValueEnum};
use serde_json::json;
use views::verification::{CheckResult, ClientReport, Outcome, ProbePlan};

/// Check from this machine that clients reach each hostname of an application environment
/// through its VIP with the planned certificate. Exit code 0: every check passes; 1: a check
/// fails; 2: nothing fails but something could not be decided; 3: the checks could not run
/// (the portal, the token, the arguments).
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The application.
    pub application: String,
    /// The environment (dev, prod, …).
    pub environment: String,

    /// The Gatehouse portal to read the plan from (and to report to).
    #[arg(long, value_name = "URL", env = "GATEHOUSE_URL")]
    pub portal: String,

    /// Connect to ADDRESS (and PORT, else the Gateway's) for HOST instead of resolving it, as
    /// curl's --resolve does; may be given for each hostname.
    #[arg(long = "resolve", value_name = "HOST=ADDRESS[:PORT]", value_parser = parse_resolve)]
    pub resolve: Vec<(String, String, Option<u16>)>,

    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,

    /// Post the results to the portal, which shows them as "verified from <host> (<address>)".
    #[arg(long)]
    pub report: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
}

/// The environment variable with the API token (a flag would show it in the process list).
pub const TOKEN_ENV: &str = "GATEHOUSE_TOKEN";

fn parse_resolve(text: &str) -> Result<(String, String, Option<u16>), String> {
    let (host, target) = text.split_once('=').ok_or("write HOST=ADDRESS or HOST=ADDRESS:PORT, e.g. api.example.com=192.168.99.10")?;
    if host.is_empty() || target.is_empty() {
        return Err("write HOST=ADDRESS or HOST=ADDRESS:PORT, e.g. api.example.com=192.168.99.10".to_owned());
    }
    if let Ok(address) = target.parse::<std::net::IpAddr>() {
        return Ok((host.to_ascii_lowercase(), address.to_string(), None));
    }
    match target.parse::<SocketAddr>() {
        Ok(socket) => Ok((host.to_ascii_lowercase(), socket.ip().to_string(), Some(socket.port()))),
        Err(_) => Err(format!("{target} is not an IP address or ADDRESS:PORT ([v6]:PORT for IPv6)")),
    }
}

#[derive(Debug, thiserror::Error)]
enum VerifyError {
    #[error("set {TOKEN_ENV} to an API token of the portal (POST /api/v1/tokens makes one)")]
    NoToken,
    #[error("the portal {url}: {message}")]
    Portal { url: String, message: String },
}

/// Runs `gatehouse verify`; the exit code says how it went.
pub async fn run(args: VerifyArgs) -> ExitCode {
    match verify(&args).await {
        Ok((text, outcome)) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).is_err() {
                return ExitCode::from(3);
            }
            match outcome {
                Outcome::Pass => ExitCode::SUCCESS,
                Outcome::Fail => ExitCode::from(1),
                Outcome::Unknown => ExitCode::from(2),
            }
        }
        Err(error) => {
            eprintln!("gatehouse verify: {error}");
            ExitCode::from(3)
        }
    }
}

async fn verify(args: &VerifyArgs) -> Result<(String, Outcome), VerifyError> {
    let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()).ok_or(VerifyError::NoToken)?;
    let base = args.portal.trim_end_matches('/');
    let path = format!("{base}/api/v1/applications/{}/environments/{}/verifications", args.application, args.environment);
    let portal_error = |message: String| VerifyError::Portal { url: base.to_owned(), message };
    let client = reqwest::Client::builder().build().map_err(|e| portal_error(e.to_string()))?;
    let answer = client.get(format!("{path}/plan")).bearer_auth(&token).send().await.map_err(|e| portal_error(format!("cannot be reached: {e}")))?;
    if !answer.status().is_success() {
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        let message = body["error"]["message"].as_str().map_or_else(|| status.to_string(), str::to_owned);
        return Err(portal_error(format!("answered {}: {message}", status.as_u16())));
    }
    let plan: ProbePlan = answer.json().await.map_err(|e| portal_error(format!("sent a plan this version cannot read: {e}")))?;

    let targets = resolve_all(&plan, &args.resolve).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let checks = probe::run(&DirectDialer, &plan, |hostname| targets.get(hostname).cloned(), now).await;
    let outcome = Outcome::worst(checks.iter().map(|c| c.outcome));

    let reporter = reporter(base).await;
    let mut reported = None;
    if args.report {
        let report = ClientReport { reporter: reporter.clone(), checks: checks.clone() };
        let answer = client.post(format!("{path}/reports")).bearer_auth(&token).json(&report).send().await.map_err(|e| portal_error(format!("cannot be reached: {e}")))?;
        if !answer.status().is_success() {
            let status = answer.status();
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            let message = body["error"]["message"].as_str().map_or_else(|| status.to_string(), str::to_owned);
            return Err(portal_error(format!("refused the report ({}): {message}", status.as_u16())));
        }
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        reported = body["id"].as_i64();
    }

    let text = match args.format {
        FormatArg::Json => {
            let document = json!({
                "application": plan.application,
                "environment": plan.environment,
                "reporter": reporter,
                "outcome": outcome,
                "checks": checks,
                "reported": reported,
            });
            format!("{document:#}\n")
        }
        FormatArg::Text => text_report(&plan, &reporter, &checks, outcome, reported),
    };
    Ok((text, outcome))
}

/// Where each hostname is dialled: `--resolve`, else DNS, else the plan's VIP; the port from
/// `--resolve`, else the Gateway's.
async fn resolve_all(plan: &ProbePlan, given: &[(String, String, Option<u16>)]) -> BTreeMap<String, (String, u16)> {
    let mut targets = BTreeMap::new();
    for hostname in &plan.hostnames {
        let target = if let Some((_, address, port)) = given.iter().find(|(host, _, _)| host.eq_ignore_ascii_case(hostname)) {
            Some((address.clone(), port.unwrap_or(plan.port)))
        } else {
            match tokio::net::lookup_host((hostname.as_str(), plan.port)).await {
                Ok(mut addresses) => addresses.next().map(|a| (a.ip().to_string(), plan.port)),
                Err(_) => plan.vip.clone().map(|vip| (vip, plan.port)),
            }
        };
        if let Some(target) = target {
            targets.insert(hostname.clone(), target);
        }
    }
    targets
}

/// `<host> (<address>)`: this machine's name and the address it reaches the portal from.
async fn reporter(portal: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown host".to_owned());
    let address = local_address(portal).await.unwrap_or_else(|| "unknown address".to_owned());
    format!("{host} ({address})")
}

/// The local address a connection to the portal leaves from (a UDP socket is only pointed at
/// it: no packet is sent).
async fn local_address(portal: &str) -> Option<String> {
    let url = reqwest::Url::parse(portal).ok()?;
    let port = url.port_or_known_default()?;
    let remote = tokio::net::lookup_host((url.host_str()?.trim_matches(['[', ']']), port)).await.ok()?.next()?;
    let bind: SocketAddr = if remote.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = tokio::net::UdpSocket::bind(bind).await.ok()?;
    socket.connect(remote).await.ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

fn text_report(plan: &ProbePlan, reporter: &str, checks: &[CheckResult], outcome: Outcome, reported: Option<i64>) -> String {
    let mut out = format!("{} in {}, checked from {reporter}: {}\n", plan.application, plan.environment, outcome.as_str());
    for check in checks {
        let hostname = check.hostname.as_deref().unwrap_or("");
        out.push_str(&format!("{:<7} {:<5} {hostname}\n", check.outcome.as_str().to_uppercase(), check.check));
        for line in &check.evidence {
            out.push_str(&format!("        {line}\n"));
        }
        if let Some(reason) = &check.reason {
            let rule = check.rule.as_deref().map(|rule| format!(" ({rule})")).unwrap_or_default();
            out.push_str(&format!("        why: {reason}{rule}\n"));
        }
    }
    if let Some(id) = reported {
        out.push_str(&format!("reported to the portal as verification {id}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_reads_hosts_addresses_and_ports_as_curl_writes_them() {
        assert_eq!(parse_resolve("API.example.com=192.0.2.7"), Ok(("api.example.com".to_owned(), "192.0.2.7".to_owned(), None)));
        assert_eq!(parse_resolve("a.example=127.0.0.1:8443"), Ok(("a.example".to_owned(), "127.0.0.1".to_owned(), Some(8443))));
        assert_eq!(parse_resolve("a.example=[2001:db8::1]:443"), Ok(("a.example".to_owned(), "2001:db8::1".to_owned(), Some(443))));
        assert!(parse_resolve("a.example").is_err());
        assert!(parse_resolve("a.example=not-an-address").unwrap_err().contains("not an IP address"));
    }
}
