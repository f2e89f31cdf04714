//! Verification (issue 22): real TLS handshakes on loopback through the simulated cluster's
//! data path — the portal's four checks per hostname, their causes and rules, the history,
//! the policy, the metrics — on both databases.
use std::{sync::Arc, time::Duration};

use backend::{
    certificates::testing::{TestKey, Validity, self_signed},
    verify::{MapDialer, Resolve},
};
use domain::access::Role;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api,
    api::{DynamicObject, Patch, PatchParams},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::{Value, json};
use simcluster::{CiliumBehaviour, SimCluster};

use crate::{
    cluster::{DEV_NAMESPACE, GATEWAY_SERVICE, eventually, kube_client, portal_with, settled, simulated, submit},
    harness::{DbKind, TestApp},
    on_both_databases,
};

const DEV_HOST: &str = "api-dev.mdhlabs.com";
const VERIFY: &str = "/api/v1/applications/api/environments/dev/verifications";

struct Fixture {
    app: TestApp,
    sim: Arc<SimCluster>,
    _kubeconfig: tempfile::TempDir,
}

/// A demo portal whose verifier dials through the simulated cluster's data path, with dev
/// submitted and ready.
async fn deployed(kind: DbKind) -> Fixture {
    let sim = simulated(CiliumBehaviour::default(), None).await;
    let map = sim.clone();
    let resolve: Resolve = Arc::new(move |address: &str| map.datapath().get(address).copied());
    let (app, kubeconfig) = portal_with(kind, &sim.kubeconfig(None), |config| config.verify_dialer = Some(Arc::new(MapDialer(resolve)))).await;
    let done = settled(&app, submit(&app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    Fixture { app, sim, _kubeconfig: kubeconfig }
}

async fn verify(app: &TestApp) -> Value {
    let (status, body) = app.post_json(VERIFY, &json!({})).await;
    assert_eq!(status, 201, "{body:#}");
    body
}

fn check<'v>(verification: &'v Value, name: &str) -> &'v Value {
    verification["checks"].as_array().and_then(|c| c.iter().find(|c| c["check"] == name)).unwrap_or_else(|| panic!("no {name} check in {verification:#}"))
}

/// Replaces the TLS Secret the dev Gateway terminates with, as someone with kubectl might.
async fn replace_secret(sim: &SimCluster, certificate_pem: &str, key_pem: &str) {
    let secrets: Api<Secret> = Api::namespaced(kube_client(&sim.kubeconfig(None)).await, DEV_NAMESPACE);
    let patch = json!({"data": {"tls.crt": base64_of(certificate_pem), "tls.key": base64_of(key_pem)}});
    secrets.patch("api-tls", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("the Secret is replaced");
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn the_right_certificate_passes_every_check_and_is_kept(kind: DbKind) {
    let fixture = deployed(kind).await;
    assert!(fixture.sim.datapath().len() == 1, "the dev Gateway's VIP is served: {:?}", fixture.sim.datapath());
    let run = verify(&fixture.app).await;
    assert_eq!(run["outcome"], "pass", "{run:#}");
    for name in ["assigned", "announced", "tls", "http"] {
        assert_eq!(check(&run, name)["outcome"], "pass", "{name}: {run:#}");
    }
    let tls = check(&run, "tls");
    assert_eq!(tls["hostname"], DEV_HOST);
    let evidence = tls["evidence"].to_string();
    assert!(evidence.contains("equals the planned api-tls's fingerprint") && evidence.contains("validates to the uploaded chain"), "{tls:#}");
    assert!(check(&run, "http")["evidence"].to_string().contains("/actuator/health/readiness"), "{run:#}");

    verify(&fixture.app).await;
    let (status, listed) = fixture.app.get_json(VERIFY).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["history"].as_array().map(Vec::len), Some(2), "{listed:#}");
    assert_eq!(listed["latest"]["id"], listed["history"][0]["id"]);

    let metrics = fixture.app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains(&format!("gatehouse_verification_pass{{application=\"api\",environment=\"dev\",hostname=\"{DEV_HOST}\",check=\"tls\"}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains("gatehouse_verification_last_timestamp_seconds{application=\"api\",environment=\"dev\"}"), "{metrics}");

    // An app team verifies only its own applications.
    let theirs = fixture.app.client_as(Role::AppTeam, "namespace:billing").await;
    let response = theirs.post(fixture.app.at(VERIFY)).json(&json!({})).send().await.expect("answers");
    assert!(matches!(response.status().as_u16(), 403 | 404), "{}", response.status());
    let ours = fixture.app.client_as(Role::AppTeam, "namespace:cd-service, namespace:cd-service-*").await;
    let response = ours.post(fixture.app.at(VERIFY)).json(&json!({})).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 201);
    let viewer = fixture.app.client_as(Role::Viewer, "").await;
    assert_eq!(viewer.post(fixture.app.at(VERIFY)).json(&json!({})).send().await.expect("answers").status().as_u16(), 403);
}

/// The seed's dev ≠ prod: prod's certificate served on dev's hostname fails, naming both.
async fn another_environments_certificate_fails_naming_both_fingerprints(kind: DbKind) {
    let fixture = deployed(kind).await;
    let key = TestKey::p256();
    let prod_pem = self_signed(&[DEV_HOST, "api.mdhlabs.com"], &key, Validity::YEAR);
    let key_pem = key.pem(backend::certificates::testing::Encoding::Pkcs8);
    let (status, uploaded) = fixture
        .app
        .post_json("/api/v1/environments/prod/certificates", &json!({"name": "other-tls", "certificate_pem": prod_pem, "private_key_pem": key_pem}))
        .await;
    assert_eq!(status, 201, "{uploaded:#}");
    let prod_fingerprint = uploaded["fingerprint_sha256"].as_str().expect("a fingerprint").to_owned();
    let (_, plan) = fixture.app.get_json(&format!("{VERIFY}/plan")).await;
    let dev_fingerprint = plan["certificate"]["fingerprint_sha256"].as_str().expect("dev's fingerprint").to_owned();
    replace_secret(&fixture.sim, &prod_pem, &key_pem).await;

    let run = verify(&fixture.app).await;
    let tls = check(&run, "tls");
    assert_eq!(tls["outcome"], "fail", "{run:#}");
    let reason = tls["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(&prod_fingerprint) && reason.contains(&dev_fingerprint) && reason.contains("prod/other-tls"), "{reason}");
    assert_eq!(tls["rule"], "GH-TLS-DISTINCT");
    assert_eq!(check(&run, "announced")["outcome"], "pass");
}

async fn an_expired_certificate_fails(kind: DbKind) {
    let fixture = deployed(kind).await;
    let key = TestKey::p256();
    let expired = self_signed(&[DEV_HOST], &key, Validity::EXPIRED);
    replace_secret(&fixture.sim, &expired, &key.pem(backend::certificates::testing::Encoding::Pkcs8)).await;
    let run = verify(&fixture.app).await;
    let tls = check(&run, "tls");
    assert_eq!((tls["outcome"].as_str(), tls["rule"].as_str()), (Some("fail"), Some("GH-CERT-EXPIRED")), "{run:#}");
    assert!(tls["reason"].as_str().is_some_and(|r| r.contains("expired on")), "{tls:#}");
}

/// The Gateway's listener no longer names the hostname: the handshake is refused by SNI.
async fn a_missing_sni_route_fails_the_handshake(kind: DbKind) {
    let fixture = deployed(kind).await;
    let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway");
    let gateways: Api<DynamicObject> = Api::namespaced_with(kube_client(&fixture.sim.kubeconfig(None)).await, DEV_NAMESPACE, &ApiResource::from_gvk(&gvk));
    let mut gateway = gateways.get("api-dev").await.expect("the Gateway");
    let listeners = gateway.data["spec"]["listeners"].as_array_mut().expect("listeners");
    for listener in listeners.iter_mut() {
        listener["hostname"] = json!("elsewhere.mdhlabs.com");
    }
    let patch = json!({"spec": {"listeners": gateway.data["spec"]["listeners"].clone()}});
    gateways.patch("api-dev", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("the listener is changed");
    let run = verify(&fixture.app).await;
    let tls = check(&run, "tls");
    assert_eq!(tls["outcome"], "fail", "{run:#}");
    assert!(tls["reason"].as_str().is_some_and(|r| r.contains("SNI api-dev.mdhlabs.com")), "{tls:#}");
    assert_eq!(tls["rule"], "GH-GATEWAY-TLS");
}

async fn a_path_answering_503_fails_the_http_check(kind: DbKind) {
    let fixture = deployed(kind).await;
    fixture.sim.set_backend_status("/actuator", Some(503));
    let run = verify(&fixture.app).await;
    let http = check(&run, "http");
    assert_eq!(http["outcome"], "fail", "{run:#}");
    assert!(http["reason"].as_str().is_some_and(|r| r.contains("answered 503")), "{http:#}");
    assert_eq!(check(&run, "tls")["outcome"], "pass");
    fixture.sim.set_backend_status("/actuator", None);
    assert_eq!(verify(&fixture.app).await["outcome"], "pass");
}

/// The seed's first caveat: the label fix off leaves the generated Service unlabelled, so the
/// VIP is assigned but not announced and refuses connections; on again, everything passes.
async fn label_fix_off_fails_with_the_caveat_and_on_again_passes(kind: DbKind) {
    let fixture = deployed(kind).await;
    let app = &fixture.app;
    let (status, body) = app.send_json(reqwest::Method::PUT, "/api/v1/label-fix", &json!({"enabled": false})).await;
    assert_eq!(status, 200, "{body}");
    let sim = fixture.sim.clone();
    eventually(Duration::from_secs(5), "the VIP goes dark", move || sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|v| !v.is_announced())).await;
    assert!(fixture.sim.datapath().is_empty(), "an unannounced VIP is not served");

    let run = verify(app).await;
    assert_eq!(run["outcome"], "fail");
    // The pool selects by the same label, so LB-IPAM takes the address back too.
    let assigned = check(&run, "assigned");
    assert_eq!((assigned["outcome"].as_str(), assigned["rule"].as_str()), (Some("fail"), Some("GH-GATEWAY-LABEL")), "{run:#}");
    let announced = check(&run, "announced");
    assert_eq!((announced["outcome"].as_str(), announced["rule"].as_str()), (Some("fail"), Some("GH-GATEWAY-LABEL")), "{run:#}");
    let reason = announced["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("without the Gateway's labels") && reason.contains("label fix is switched off"), "{reason}");
    assert_ne!(check(&run, "tls")["outcome"], "pass", "{run:#}");

    let (status, _) = app.send_json(reqwest::Method::PUT, "/api/v1/label-fix", &json!({"enabled": true})).await;
    assert_eq!(status, 200);
    let sim = fixture.sim.clone();
    eventually(Duration::from_secs(5), "the VIP comes back", move || sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|v| v.is_announced())).await;
    assert_eq!(verify(app).await["outcome"], "pass");
}

/// Runs `gatehouse verify` as its own process, as on a client machine, with the token in the
/// environment; the exit code and standard output.
async fn verify_command(app: &TestApp, token: Option<&str>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.args(["verify", "api", "dev", "--portal", &app.url]).args(args).env_remove("GATEHOUSE_TOKEN");
    if let Some(token) = token {
        command.env("GATEHOUSE_TOKEN", token);
    }
    let output = command.output().await.expect("gatehouse verify runs");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `gatehouse verify` from outside: the plan from the portal's API, the hostname dialled where
/// `--resolve` says (the simulated cluster's data path stands in for the VIP on the network),
/// JSON out, exit code 0; `--report` is recorded and shown beside the portal's own run. A VIP
/// that refuses connections fails (exit 1) with the cause; no token is a usage error (exit 3).
async fn the_verify_command_checks_from_outside_and_reports_back(kind: DbKind) {
    let fixture = deployed(kind).await;
    let vip = fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).and_then(|vip| vip.address).expect("the Gateway has its VIP");
    let served = fixture.sim.datapath()[&vip];
    let resolve = format!("{DEV_HOST}={}:{}", served.ip(), served.port());
    let token = fixture.app.admin_token.clone();

    let (code, stdout, stderr) = verify_command(&fixture.app, Some(&token), &["--resolve", &resolve, "--format", "json", "--report"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let run: Value = serde_json::from_str(&stdout).expect("JSON on standard output");
    assert_eq!(run["outcome"], "pass", "{run:#}");
    for name in ["tls", "http"] {
        assert_eq!(check(&run, name)["outcome"], "pass", "{name}: {run:#}");
        assert_eq!(check(&run, name)["hostname"], DEV_HOST);
    }
    assert!(run["reporter"].as_str().is_some_and(|r| r.ends_with("(127.0.0.1)")), "{run:#}");
    let reported = run["reported"].as_i64().expect("the report's id");

    let (status, shown) = fixture.app.get_json(VERIFY).await;
    assert_eq!(status, 200, "{shown:#}");
    let client = &shown["latest_from_client"];
    assert_eq!((client["id"].as_i64(), client["source"].as_str()), (Some(reported), Some("client")), "{shown:#}");
    assert_eq!(client["reporter"], run["reporter"]);

    // Text for people; a VIP that refuses the connection fails with why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("its address").port();
    let (code, stdout, _) = verify_command(&fixture.app, Some(&token), &["--resolve", &format!("{DEV_HOST}=127.0.0.1:{closed}")]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.starts_with("api in dev, checked from ") && stdout.contains("FAIL    tls   api-dev.mdhlabs.com") && stdout.contains("why: "), "{stdout}");

    let (code, _, stderr) = verify_command(&fixture.app, None, &["--resolve", &resolve]).await;
    assert_eq!(code, Some(3));
    assert!(stderr.contains("set GATEHOUSE_TOKEN to an API token"), "{stderr}");
    let (code, _, stderr) = verify_command(&fixture.app, Some("not-a-token"), &["--resolve", &resolve]).await;
    assert_eq!(code, Some(3));
    assert!(stderr.contains("answered 401"), "{stderr}");
}

on_both_databases!(
    the_right_certificate_passes_every_check_and_is_kept,
    another_environments_certificate_fails_naming_both_fingerprints,
    an_expired_certificate_fails,
    a_missing_sni_route_fails_the_handshake,
    a_path_answering_503_fails_the_http_check,
    label_fix_off_fails_with_the_caveat_and_on_again_passes,
    the_verify_command_checks_from_outside_and_reports_back,
);
