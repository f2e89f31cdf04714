//! `gatehouse lint`, run as the real binary: the demo plan's outputs lint clean, each seeded
//! mistake is found at its line and column in text, JSON and SARIF (validated against the
//! SARIF 2.1.0 schema), malformed input exits 2, and a live (simulated) cluster is read
//! through its kubeconfig.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use backend::{
    certificates::issue::DemoCa,
    manifests::{self, TlsPem},
};
use base64::Engine as _;
use simcluster::CiliumBehaviour;
use serde_json::{Value, json};

use crate::cluster::{DEV_NAMESPACE, Fixture, GATEWAY_SERVICE, eventually, settled, submit};
use crate::harness::{DbKind, TestApp};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn finished(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn lint(args: &[&str]) -> Run {
    finished(Command::new(env!("CARGO_BIN_EXE_gatehouse")).arg("lint").args(args).output().expect("gatehouse runs"))
}

fn lint_stdin(args: &[&str], input: &[u8]) -> Run {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("lint")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gatehouse runs");
    let mut stdin = child.stdin.take().expect("stdin");
    // The binary may stop reading early (too large): a broken pipe is its answer, not ours.
    let _ = stdin.write_all(input);
    drop(stdin);
    finished(child.wait_with_output().expect("gatehouse finishes"))
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

/// The SARIF 2.1.0 schema of ../shared, compiled once per test.
fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("../shared/sarif/sarif-schema-2.1.0.json")).expect("the SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn assert_valid_sarif(validator: &jsonschema::Validator, sarif: &Value) {
    let errors: Vec<String> = validator.iter_errors(sarif).map(|e| format!("{e:?}")).collect();
    assert!(errors.is_empty(), "SARIF is not valid against the 2.1.0 schema: {errors:#?}");
}

/// Two distinct demo certificates (dev's and prod's), as the portal's `--demo` issues them.
fn demo_bundle_with_certificates() -> String {
    let plan = domain::seed_plan();
    let mut yaml = String::new();
    for env in &plan.environments {
        yaml.push_str(&manifests::environment_cilium(&plan, env.name.as_str()).expect("cilium objects").to_yaml());
    }
    let ca = DemoCa::new().expect("a demo CA");
    for (env, host) in [("dev", "api-dev.mdhlabs.com"), ("prod", "api.mdhlabs.com")] {
        let issued = ca.issue(&[host.to_owned()], 90).expect("a certificate");
        let tls = TlsPem { chain_pem: &issued.chain_pem, key_pem: issued.key_pem.expose() };
        yaml.push_str(&manifests::application_bundle_with_tls(&plan, "api", env, Some(tls)).expect("a bundle").to_yaml());
    }
    yaml
}

#[test]
fn the_demo_plans_bundles_and_cilium_outputs_lint_clean() {
    let dir = tempfile::tempdir().unwrap();
    let plan = domain::seed_plan();
    std::fs::write(dir.path().join("plan.yaml"), manifests::plan_bundle(&plan).expect("the plan bundle").to_yaml()).unwrap();
    std::fs::create_dir(dir.path().join("with-tls")).unwrap();
    std::fs::write(dir.path().join("with-tls/bundle.yml"), demo_bundle_with_certificates()).unwrap();

    for path in [dir.path().join("plan.yaml"), dir.path().join("with-tls")] {
        let run = lint(&[path.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("0 errors, 0 warnings"), "{}", run.stdout);
    }
    let run = lint(&["--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = json_of(&run);
    assert_eq!(report["findings"], json!([]));
    assert_eq!(report["inputs"].as_array().map(Vec::len), Some(2), "the directory's .yaml and .yml files");

    // At --severity info the rules the objects could not decide are mentioned.
    let run = lint(&["--severity", "info", dir.path().join("plan.yaml").to_str().unwrap()]);
    assert_eq!(run.code, 1, "an info finding counts at --severity info: {}", run.stdout);
    assert!(run.stdout.contains(": info[GH-FACTS-UNKNOWN] the node subnets of environment dev are unknown"), "{}", run.stdout);

    // The same objects through standard input, as `kubectl get -o yaml` would give them: a List.
    let objects: Vec<Value> = manifests::plan_bundle(&plan).unwrap().into_objects();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let run = lint_stdin(&["-"], list.to_string().as_bytes());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// (fixture, rule, line, column): one per seeded mistake.
const SEEDED: [(&str, &str, u32, u32); 8] = [
    ("overlapping-pools.yaml", "GH-VIP-DISTINCT", 10, 7),
    ("shared-certificate.yaml", "GH-TLS-DISTINCT", 12, 3),
    ("shared-hostname.yaml", "GH-HOSTNAME-DISTINCT", 11, 7),
    ("gateway-label-in-metadata.yaml", "GH-GATEWAY-LABEL", 35, 5),
    ("pool-outside-node-subnet.yaml", "GH-ARP-VIP-IN-SUBNET", 24, 7),
    ("etp-local-under-l2.yaml", "GH-L2-ETP-LOCAL", 37, 3),
    ("pool-selects-nothing.yaml", "GH-POOL-UNUSED", 24, 3),
    ("bgp-peering-policy.yaml", "GH-BGP-PEERING-POLICY", 3, 1),
];

/// The fixture as the binary reads it: the shared certificate filled in.
fn fixture_file(dir: &Path, name: &str, certificate: &(String, String)) -> PathBuf {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("the fixture");
    let text = text.replace("CERTIFICATE", &certificate.0).replace("KEY", &certificate.1);
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn shared_certificate() -> (String, String) {
    let ca = DemoCa::new().expect("a demo CA");
    let issued = ca.issue(&["shop.example.com".to_owned()], 90).expect("a certificate");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    (b64(&issued.chain_pem), b64(issued.key_pem.expose()))
}

#[test]
fn each_seeded_mistake_is_found_at_its_line_and_column_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = shared_certificate();
    let validator = sarif_validator();
    for (name, rule, line, column) in SEEDED {
        let path = fixture_file(dir.path(), name, &certificate);
        let path = path.to_str().unwrap();

        let run = lint(&[path]);
        assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
        let located: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with(' ') && l.contains('[')).collect();
        assert_eq!(located.len(), 1, "{name}: exactly one finding:\n{}", run.stdout);
        let severity = domain::checklist::rule_info(rule).map_or("warning", |r| match r.severity {
            domain::Severity::Error => "error",
            domain::Severity::Warning => "warning",
        });
        let expected = format!("{path}:{line}:{column}: {severity}[{rule}] ");
        assert!(located[0].starts_with(&expected), "{name}: expected `{expected}…`, got\n{}", run.stdout);
        assert!(run.stdout.contains("    fix: "), "{name}: a fix is given");

        let report = json_of(&lint(&["--format", "json", path]));
        let findings = report["findings"].as_array().expect("findings");
        assert_eq!(findings.len(), 1, "{name}: {report:#}");
        assert_eq!(
            (findings[0]["rule"].as_str(), findings[0]["file"].as_str(), findings[0]["line"].as_u64(), findings[0]["column"].as_u64()),
            (Some(rule), Some(path), Some(u64::from(line)), Some(u64::from(column))),
            "{name}: {report:#}"
        );

        let run = lint(&["--format", "sarif", path]);
        assert_eq!(run.code, 1);
        let sarif = json_of(&run);
        assert_valid_sarif(&validator, &sarif);
        let results = sarif["runs"][0]["results"].as_array().expect("results");
        assert_eq!(results.len(), 1, "{name}: {sarif:#}");
        assert_eq!(results[0]["ruleId"], rule);
        let region = &results[0]["locations"][0]["physicalLocation"]["region"];
        assert_eq!((region["startLine"].as_u64(), region["startColumn"].as_u64()), (Some(u64::from(line)), Some(u64::from(column))), "{name}");
        let index = results[0]["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"][index]["id"], rule, "ruleIndex points at the rule");
    }

    // --severity error leaves the warnings out and exits 0 on them.
    let path = fixture_file(dir.path(), "pool-selects-nothing.yaml", &certificate);
    let run = lint(&["--severity", "error", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn the_sarif_rules_carry_the_checklists_training_texts() {
    let run = lint(&["--format", "sarif", fixtures().join("overlapping-pools.yaml").to_str().unwrap()]);
    let sarif = json_of(&run);
    assert_valid_sarif(&sarif_validator(), &sarif);
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules");
    for info in domain::checklist::rules() {
        let rule = rules.iter().find(|r| r["id"] == info.id).unwrap_or_else(|| panic!("{} is listed", info.id));
        assert_eq!(rule["help"]["text"], info.training);
        assert_eq!(rule["shortDescription"]["text"], info.title);
    }
}

#[test]
fn malformed_input_is_a_clear_error_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let bad_yaml = write("bad.yaml", b"apiVersion: v1\nkind: Service\nmetadata:\n  name: [web\n");
    let no_kind = write("no-kind.yaml", b"apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\napiVersion: v1\nmetadata:\n  name: b\n");
    let binary = write("image.yaml", &[0x89, b'P', b'N', b'G', 0, 0, 0, 13, 0xff, 0xfe]);
    let latin1: &[u8] = b"kind: ConfigMap\ndata:\n  city: M\xfcnchen\n";
    let not_utf8 = write("latin1.yaml", latin1);
    let invalid_at = latin1.iter().position(|b| *b == 0xfc).unwrap();
    let large = dir.path().join("large.yaml");
    {
        use std::io::Write as _;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&large).unwrap());
        let line = b"# padding padding padding padding padding padding padding padding padding\n";
        for _ in 0..(50 * 1024 * 1024 / line.len() + 1) {
            file.write_all(line).unwrap();
        }
    }
    let large = large.to_str().unwrap().to_owned();
    let cases: [(&str, String); 6] = [
        (&bad_yaml, format!("{bad_yaml}:5:1: invalid YAML")),
        (&no_kind, format!("{no_kind}:6:1: this document has no `kind`")),
        (&binary, format!("{binary}: not a text file (a NUL byte at offset 4)")),
        (&not_utf8, format!("{not_utf8}: not UTF-8 text (an invalid byte at offset {invalid_at})")),
        (&large, format!("{large}: {} bytes is more than the 33554432 bytes", std::fs::metadata(&large).unwrap().len())),
        ("/nonexistent/manifests", "/nonexistent/manifests: No such file or directory".to_owned()),
    ];
    for (path, expected) in cases {
        let run = lint(&[path]);
        assert_eq!(run.code, 2, "{path}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(&expected), "{path}: expected `{expected}` in\n{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "no report on an input error: {}", run.stdout);
    }

    let run = lint_stdin(&["-"], &vec![b'#'; 33 * 1024 * 1024]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("stdin: 33554433 bytes is more than"), "{}", run.stderr);

    let run = lint(&[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("give manifests"), "{}", run.stderr);
    let run = lint(&["--format", "xml", &bad_yaml]);
    assert_eq!(run.code, 2, "a usage error: {}", run.stderr);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = lint(&[empty.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no .yaml, .yml or .json file"), "{}", run.stderr);
}

async fn lint_async(args: Vec<String>) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("lint")
        .args(args)
        .output()
        .await
        .expect("gatehouse runs");
    finished(output)
}

/// After a submission the simulated cluster lints clean; with the label fix switched off
/// (Cilium in legacy mode does not copy spec.infrastructure.labels) the caveat is reported
/// at the generated Service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_cluster_lints_clean_until_the_label_fix_is_switched_off() {
    let fixture = Fixture::with(DbKind::Sqlite, CiliumBehaviour { copies_infrastructure_labels: false, ..CiliumBehaviour::default() }, None).await;
    let app = &fixture.app;
    let done = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fixture.sim.kubeconfig(None)).unwrap();
    let kubeconfig = kubeconfig.to_str().unwrap().to_owned();

    let before = fixture.sim.requests();
    let run = lint_async(vec!["--kubeconfig".into(), kubeconfig.clone()]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 errors, 0 warnings, 0 info in 1 input"), "{}", run.stdout);

    // --cluster NAME: the context (or cluster) of the default kubeconfig.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["lint", "--cluster", "simulated", "--format", "json"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .await
        .unwrap();
    let run = finished(output);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(json_of(&run)["inputs"], json!(["cluster/simulated.yaml"]));

    let (status, body) = app.send_json(reqwest::Method::PUT, "/api/v1/label-fix", &json!({"enabled": false})).await;
    assert_eq!(status, 200, "{body}");
    let sim = fixture.sim.clone();
    eventually(Duration::from_secs(5), "the generated Service loses its label", move || {
        sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|vip| !vip.labels.contains_key("gatehouse.io/advertise"))
    })
    .await;

    let run = lint_async(vec!["--kubeconfig".into(), kubeconfig.clone(), "--format".into(), "json".into()]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = json_of(&run);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["rule"], "GH-GATEWAY-LABEL");
    let message = findings[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(GATEWAY_SERVICE) && message.contains("gatehouse.io/advertise=dev"), "{message}");
    assert_eq!(findings[0]["file"], "cluster/simulated.yaml");

    // What lint asked of the cluster (the kinds of request that appeared while it ran): lists only.
    let by_lint: Vec<_> = fixture.sim.requests().into_iter().filter(|r| !before.contains(r)).collect();
    assert!(!by_lint.is_empty() && by_lint.iter().all(|r| r.verb == "list"), "{by_lint:?}");
}

/// `--plan`: the demo's own manifests match the demo plan; a VIP, a hostname and a
/// certificate moved in the manifests are drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_linted_against_a_portals_plan() {
    let portal = TestApp::spawn_demo(DbKind::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = manifests::plan_bundle(&domain::seed_plan()).unwrap().to_yaml();
    let clean = dir.path().join("clean.yaml");
    std::fs::write(&clean, &bundle).unwrap();
    let drifted = dir.path().join("drifted.yaml");
    let changed = bundle
        .replace("value: \"192.168.101.240\"", "value: \"192.168.101.230\"")
        .replace("    - api.mdhlabs.com\n", "    - www.mdhlabs.com\n")
        .replacen("name: api-tls", "name: other-tls", 1);
    assert_ne!(changed, bundle);
    std::fs::write(&drifted, changed).unwrap();

    let run_with = |path: PathBuf, token: Option<String>| {
        let url = portal.url.clone();
        async move {
            let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
            command.args(["lint", "--format", "json", "--plan", &url, path.to_str().unwrap()]);
            match token {
                Some(token) => command.env("GATEHOUSE_PLAN_TOKEN", token),
                None => command.env_remove("GATEHOUSE_PLAN_TOKEN"),
            };
            finished(command.output().await.unwrap())
        }
    };
    let run = run_with(clean.clone(), Some(portal.admin_token.clone())).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let run = run_with(drifted, Some(portal.admin_token.clone())).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let rules: std::collections::BTreeSet<String> =
        json_of(&run)["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap_or_default().to_owned()).collect();
    for rule in ["GH-PLAN-VIP", "GH-PLAN-HOSTNAME", "GH-PLAN-CERTIFICATE"] {
        assert!(rules.contains(rule), "{rule} in {rules:?}\n{}", run.stdout);
    }

    let run = run_with(clean.clone(), None).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("set GATEHOUSE_PLAN_TOKEN"), "{}", run.stderr);
    let run = run_with(clean, Some("not-a-token".to_owned())).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("answered 401"), "{}", run.stderr);
}

fn readme_section(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    readme.split(heading).nth(1).and_then(|rest| rest.split("\n## ").next()).unwrap_or_else(|| panic!("a {heading} section")).to_owned()
}

#[test]
fn the_readme_lists_every_rule_and_documents_every_lint_flag() {
    let section = readme_section("## Lint");
    assert!(
        section.contains(&::lint::catalogue::markdown_table()),
        "the README's rule table differs from the catalogue; replace it with:\n{}",
        ::lint::catalogue::markdown_table()
    );
    use clap::CommandFactory;
    let command = gatehouse::Config::command();
    let subcommand = command.find_subcommand("lint").expect("a lint subcommand");
    let help = subcommand.clone().render_long_help().to_string();
    for argument in subcommand.get_arguments() {
        if let Some(long) = argument.get_long() {
            assert!(section.contains(&format!("`--{long}")), "--{long} is documented in the README");
            assert!(help.contains(&format!("--{long}")), "--{long} is in --help");
        }
    }
    assert!(section.contains("`GATEHOUSE_PLAN_TOKEN`"));
    let run = lint(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("--environment-label") && run.stdout.contains("--plan"), "{}", run.stdout);
}
