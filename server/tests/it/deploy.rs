//! Gatehouse's own installation: every kustomize overlay in deploy/ renders with
//! `kubectl kustomize`, every object it renders validates strictly against the real schemas,
//! and the Deployment is what the issue asks of it. The Dockerfile copies what the release
//! build makes, where the manifests expect it.
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use serde::Deserialize;
use serde_json::Value;

use crate::harness::repo_root;

fn schemas() -> app::backend::schema::SchemaRegistry {
    let shared = repo_root().join("../shared");
    app::backend::schema::SchemaRegistry::load(&shared.join("crds"), &shared.join("kubernetes-schemas"))
        .expect("the schemas in ../shared load")
}

fn overlays() -> Vec<PathBuf> {
    let dir = repo_root().join("deploy/overlays");
    let mut overlays: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/overlays exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.join("kustomization.yaml").exists())
        .collect();
    overlays.sort();
    overlays
}

/// `kubectl kustomize <overlay>`, parsed into its objects.
fn render(overlay: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(overlay)
        .output()
        .expect("kubectl runs (scripts/test installs Debian's kubernetes-client where it is missing)");
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed: {}",
        overlay.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let yaml = String::from_utf8(output.stdout).expect("kustomize writes UTF-8");
    serde_yaml::Deserializer::from_str(&yaml)
        .map(|document| {
            serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(document).expect("a YAML document"))
                .expect("a JSON-shaped object")
        })
        .filter(|object| !object.is_null())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|object| object["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found[0]
}

fn env_var<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"].as_array()?.iter().find(|var| var["name"] == name)
}

#[test]
fn every_overlay_renders_and_validates_against_the_schemas() {
    let registry = schemas();
    let overlays = overlays();
    let names: Vec<String> =
        overlays.iter().map(|path| path.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["replicated", "single"]);
    for overlay in &overlays {
        let objects = render(overlay);
        let kinds: BTreeSet<&str> = objects.iter().filter_map(|object| object["kind"].as_str()).collect();
        for kind in [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "Service",
            "Gateway",
            "HTTPRoute",
            "PodDisruptionBudget",
        ] {
            assert!(kinds.contains(kind), "{} renders a {kind}", overlay.display());
        }
        for object in &objects {
            registry.validate(object).unwrap_or_else(|violations| {
                panic!(
                    "{}: {} {} breaks its schema: {violations:?}",
                    overlay.display(),
                    object["kind"],
                    object["metadata"]["name"]
                )
            });
            let cluster_scoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(&object["kind"].as_str().unwrap_or(""));
            if !cluster_scoped {
                assert_eq!(object["metadata"]["namespace"], "gatehouse", "{} {}", object["kind"], object["metadata"]["name"]);
            }
        }
    }
}

#[test]
fn the_deployment_is_locked_down_and_probed() {
    for overlay in overlays() {
        let objects = render(&overlay);
        let deployment = one(&objects, "Deployment");
        let replicated = overlay.ends_with("replicated");
        assert_eq!(deployment["spec"]["replicas"], if replicated { 2 } else { 1 }, "{}", overlay.display());
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "gatehouse");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let containers = pod["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1);
        let container = &containers[0];
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert!(container["resources"]["requests"]["memory"].is_string());
        assert!(container["resources"]["limits"]["memory"].is_string());

        assert_eq!(env_var(container, "GATEHOUSE_IN_CLUSTER").map(|var| &var["value"]), Some(&Value::from("true")), "the pod's service account");
        assert_eq!(env_var(container, "POD_NAME").map(|var| &var["valueFrom"]["fieldRef"]["fieldPath"]), Some(&Value::from("metadata.name")));
        let public_url = env_var(container, "GATEHOUSE_PUBLIC_URL").and_then(|var| var["value"].as_str()).expect("GATEHOUSE_PUBLIC_URL is set");
        assert!(public_url.starts_with("https://"), "the Gateway terminates TLS: Secure cookies and HSTS need an https:// public URL, not {public_url}");
        let secret_key = env_var(container, "GATEHOUSE_SECRET_KEY").expect("GATEHOUSE_SECRET_KEY is set");
        assert_eq!(secret_key["valueFrom"]["secretKeyRef"]["name"], "gatehouse-secret-key");
        let database = env_var(container, "DATABASE_URL").expect("DATABASE_URL is set");
        if replicated {
            assert_eq!(database["valueFrom"]["secretKeyRef"]["name"], "gatehouse-database");
        } else {
            let url = database["value"].as_str().expect("SQLite's URL is a value");
            let mount = container["volumeMounts"]
                .as_array()
                .and_then(|mounts| mounts.iter().find(|mount| mount["name"] == "data"))
                .expect("the data volume is mounted");
            let dir = mount["mountPath"].as_str().expect("a mount path");
            assert!(url.starts_with(&format!("sqlite://{dir}/")), "the SQLite file {url} lives on the volume at {dir}");
            assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate", "two pods never open one SQLite file");
            assert!(find(&objects, "PersistentVolumeClaim").len() == 1);
        }

        let budget = one(&objects, "PodDisruptionBudget");
        assert_eq!(budget["spec"]["selector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"]);
        if replicated {
            assert_eq!(budget["spec"]["minAvailable"], 1);
        } else {
            assert!(budget["spec"]["minAvailable"].is_null(), "one replica must stay drainable");
        }
    }
}

/// Least privilege: no wildcard anywhere, no verb beyond what Gatehouse does with the
/// Kubernetes API, and the Lease rule kept to Gatehouse's own namespace.
#[test]
fn rbac_is_least_privilege() {
    let allowed_verbs = ["get", "list", "watch", "create", "patch", "update", "delete"];
    for overlay in overlays() {
        let objects = render(&overlay);
        for role in find(&objects, "ClusterRole").into_iter().chain(find(&objects, "Role")) {
            for rule in role["rules"].as_array().expect("rules") {
                for field in ["apiGroups", "resources", "verbs"] {
                    let values = rule[field].as_array().expect("a list");
                    assert!(!values.iter().any(|value| value == "*"), "no wildcard in {field}: {rule}");
                }
                for verb in rule["verbs"].as_array().into_iter().flatten() {
                    assert!(allowed_verbs.contains(&verb.as_str().unwrap_or("")), "unexpected verb {verb}");
                }
                let resources = rule["resources"].as_array().expect("resources");
                assert!(!resources.iter().any(|resource| resource == "pods/exec" || resource == "pods/log"));
                // The live topology view reads nodes and pods; nothing else touches them.
                if resources.iter().any(|resource| resource == "nodes" || resource == "pods") {
                    assert_eq!(rule["verbs"], serde_json::json!(["list"]), "nodes and pods are only listed: {rule}");
                }
                if resources.iter().any(|resource| resource == "leases") {
                    assert_eq!(role["kind"], "Role", "Leases are only needed in Gatehouse's namespace");
                }
            }
        }
        let account = one(&objects, "ServiceAccount");
        for binding in find(&objects, "ClusterRoleBinding").into_iter().chain(find(&objects, "RoleBinding")) {
            let subject = &binding["subjects"][0];
            assert_eq!(subject["name"], account["metadata"]["name"]);
            assert_eq!(subject["namespace"], account["metadata"]["namespace"]);
        }
    }
}

/// The image's build stage copies what `scripts/build-release` makes — the paths cargo-leptos
/// is configured to write in the workspace's Cargo.toml — and the runtime stage runs as the
/// user the Deployment expects, on the port it probes.
#[test]
fn the_dockerfile_copies_what_the_release_build_makes() {
    let root = repo_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("a Dockerfile");
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let leptos_metadata = |key: &str| -> String {
        let section = cargo.split("[[workspace.metadata.leptos]]").nth(1).expect("the leptos metadata");
        section
            .lines()
            .find_map(|line| line.strip_prefix(key)?.trim_start().strip_prefix('='))
            .map(|value| value.trim().trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{key} in the leptos metadata"))
    };
    let site_root = leptos_metadata("site-root");
    let binary = leptos_metadata("bin-package");

    let copies: Vec<(String, String)> = dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("COPY --from=build "))
        .map(|rest| {
            let mut parts = rest.split_whitespace();
            (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned())
        })
        .collect();
    let sources: Vec<&str> = copies.iter().map(|(source, _)| source.trim_start_matches("/src/")).collect();
    assert_eq!(sources, [format!("target/release/{binary}"), site_root.clone()]);
    assert!(dockerfile.contains("RUN scripts/build-release\n"), "the build stage runs scripts/build-release");
    let build = std::fs::read_to_string(root.join("scripts/build-release")).expect("scripts/build-release");
    assert!(build.contains("cargo leptos build --release --split"));

    let site_destination = &copies[1].1;
    assert!(dockerfile.contains(&format!("LEPTOS_SITE_ROOT={site_destination}")), "the server finds the site it copied");

    let deployment = render(&root.join("deploy/overlays/single"));
    let deployment = one(&deployment, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let user = pod["securityContext"]["runAsUser"].as_i64().expect("runAsUser");
    assert!(dockerfile.contains(&format!("USER {user}:{user}")), "the image runs as uid {user}");
    let port = pod["containers"][0]["ports"][0]["containerPort"].as_i64().expect("containerPort");
    assert!(dockerfile.contains(&format!("EXPOSE {port}")));
    assert!(dockerfile.contains(&format!("GATEHOUSE_LISTEN=0.0.0.0:{port}")));

    // After a release build (scripts/build-release, scripts/run), what the image copies exists.
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let released = target.join("release").join(&binary);
    if released.exists() {
        let site = root.join(&site_root);
        assert!(site.join("pkg").is_dir(), "{} holds the site's pkg directory", site.display());
    } else {
        eprintln!("no release build at {}: the copied paths are checked against Cargo.toml only", released.display());
    }
}

/// The README's configuration table names every flag and environment variable the binary
/// takes, so an option added later without documentation fails here.
#[test]
fn the_readme_documents_every_option() {
    use clap::CommandFactory;
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let configuration = readme
        .split("## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Configuration section");
    for argument in gatehouse::Config::command().get_arguments() {
        if let Some(long) = argument.get_long() {
            assert!(configuration.contains(&format!("`--{long}`")), "--{long} is documented");
        }
        if let Some(env) = argument.get_env() {
            let env = env.to_string_lossy();
            assert!(configuration.contains(&format!("`{env}`")), "{env} is documented");
        }
    }
    assert!(configuration.contains("`GATEHOUSE_SECRET_KEY`"));
}

/// What a rendered role grants: `(apiGroup, resource, verb)`.
fn grants(role: &Value) -> BTreeSet<(String, String, String)> {
    let strings = |value: &Value| -> Vec<String> {
        value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_array().into_iter().flatten() {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    granted.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    granted
}

/// Everything Gatehouse asks of a cluster, in one run: a submission to dev, one to prod (BGP
/// too; protected, so another network admin approves), previews, the VIP and cluster pages,
/// the live topology view, the label fix labelling and switched off and on, a teardown, and
/// the leader Lease taken, renewed and released at shutdown.
async fn full_run(app: crate::harness::TestApp, sim: &gatehouse::simcluster::SimCluster) {
    use std::time::Duration;

    use serde_json::json;

    use crate::cluster::{GATEWAY_SERVICE, eventually, settled, submit};

    let dev = settled(&app, submit(&app, "dev", false).await).await;
    assert_eq!(dev["status"], "ready", "{dev:#}");
    let prod = submit(&app, "prod", false).await;
    let approver = app.client_as(app::domain::access::Role::NetworkAdmin, "").await;
    let approved = approver.post(app.at(&format!("/api/v1/submissions/{prod}/approve"))).json(&json!({})).send().await.expect("answers");
    assert_eq!(approved.status(), 202);
    let prod = settled(&app, prod).await;
    assert_eq!(prod["status"], "ready", "{prod:#}");
    for environment in ["dev", "prod"] {
        let (status, body) = app.get_json(&format!("/api/v1/applications/api/preview?environment={environment}")).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(app.get_json("/api/v1/vips").await.0, 200);
    assert_eq!(app.get_json("/api/v1/clusters").await.0, 200);
    assert_eq!(app.get("/api/v1/topology/live/api.svg").await.status(), 200);
    for on in [false, true] {
        let (status, _) = app.send_json(reqwest::Method::PUT, "/api/v1/label-fix", &json!({"enabled": on})).await;
        assert_eq!(status, 200);
        eventually(Duration::from_secs(5), "the label fix follows its switch", || {
            sim.vip(crate::cluster::DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|vip| vip.is_announced()) == on
        })
        .await;
    }
    let response = app.client.delete(app.at("/api/v1/applications/api/environments/dev")).send().await.expect("answers");
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id");
    let teardown = settled(&app, id).await;
    assert_eq!(teardown["status"], "torn_down", "{teardown:#}");
    app.stop().await;
}

/// A simulated cluster as slow as a real one to roll a Deployment out and program a Gateway
/// (`ready_after`), so that Gatehouse finds them not ready yet when it first looks and waits
/// for them with watches; legacy Cilium, so the label fix labels.
async fn slow_cluster(ready_after: std::time::Duration) -> std::sync::Arc<gatehouse::simcluster::SimCluster> {
    let behaviour = gatehouse::simcluster::CiliumBehaviour { copies_infrastructure_labels: false, ready_after };
    crate::cluster::simulated(behaviour, None).await
}

/// Long enough for a submission's objects all to be applied and looked at before any is ready,
/// however busy the machine.
const ROLLOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// The RBAC in deploy/ against what Gatehouse really asks of a cluster: the simulated cluster
/// derives each request's verb as the API server's RequestInfo does (a watch is `watch`, a
/// server-side apply that creates is `patch` and `create`) and records it during a full run.
/// Every request must be granted — by the ClusterRole, or by the Role in Gatehouse's own
/// namespace for the Lease — and every grant must have been used, or be one the run cannot
/// exercise, named here with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_grants_what_gatehouse_uses() {
    let sim = slow_cluster(ROLLOUT).await;
    let (app, _kubeconfig) = crate::cluster::portal_with(crate::harness::DbKind::Sqlite, &sim.kubeconfig(None), |_| {}).await;
    full_run(app, &sim).await;

    let objects = render(&repo_root().join("deploy/overlays/replicated"));
    let cluster_wide: BTreeSet<_> = find(&objects, "ClusterRole").into_iter().flat_map(grants).collect();
    let own_namespace: BTreeSet<_> = find(&objects, "Role").into_iter().flat_map(grants).collect();
    // In the cluster the Lease lives in Gatehouse's namespace; with this kubeconfig, in `default`.
    let lease_namespace = "default";
    let mut used = BTreeSet::new();
    let mut refused = Vec::new();
    for request in sim.requests() {
        let wanted = (request.group.clone(), request.resource.clone(), request.verb.clone());
        let granted = cluster_wide.contains(&wanted)
            || (request.namespace.as_deref() == Some(lease_namespace) && own_namespace.contains(&wanted));
        if !granted {
            refused.push(request);
        }
        used.insert(wanted);
    }
    assert!(refused.is_empty(), "deploy/ does not grant: {refused:#?}");
    for resource in ["deployments", "gateways", "httproutes", "services"] {
        assert!(used.iter().any(|(_, r, verb)| r == resource && verb == "watch"), "the run watched {resource}: {used:?}");
    }
    let unexercised: BTreeSet<_> = cluster_wide.union(&own_namespace).filter(|grant| !used.contains(*grant)).cloned().collect();
    let explained = |(group, resource, verb): &(String, String, String)| {
        // A ReferenceGrant is applied only when a Gateway's certificate Secret lives in
        // another namespace; the demo's does not.
        (group == "gateway.networking.k8s.io" && resource == "referencegrants")
            // Importing the cluster's LB-IPAM pools into the plan lists them.
            || (group == "cilium.io" && resource == "ciliumloadbalancerippools" && verb == "list")
    };
    eprintln!("used: {used:?}\ngranted, not exercised by the run: {unexercised:?}");
    let unexplained: Vec<_> = unexercised.iter().filter(|grant| !explained(grant)).collect();
    assert!(unexplained.is_empty(), "deploy/ grants what Gatehouse does not use: {unexplained:?}");
}

/// deploy/'s RBAC, rendered and enforced by the simulated cluster for Gatehouse's
/// ServiceAccount: a whole run — submissions, approval, previews, the label fix, teardown and
/// leader election in Gatehouse's own namespace — passes without one refused request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_run_passes_under_the_rendered_rbac() {
    use gatehouse::simcluster::{Access, Identity, Rbac};
    use k8s_openapi::api::{coordination::v1::Lease, core::v1::Namespace};

    let sim = slow_cluster(ROLLOUT).await;
    let client = crate::cluster::kube_client(&sim.kubeconfig(None)).await;
    let namespace: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "gatehouse"}})).expect("a Namespace");
    kube::Api::<Namespace>::all(client.clone()).create(&Default::default(), &namespace).await.expect("Gatehouse's namespace");
    let objects = render(&repo_root().join("deploy/overlays/replicated"));
    sim.set_access(Access {
        identity: Identity::service_account("gatehouse", "gatehouse"),
        rbac: Some(Rbac::from_objects(&objects)),
        ..Access::default()
    });
    let (app, _kubeconfig) = crate::cluster::portal_with(crate::harness::DbKind::Sqlite, &sim.kubeconfig(None), |config| {
        config.lease_namespace = Some("gatehouse".to_owned());
    })
    .await;
    full_run(app, &sim).await;
    assert_eq!(sim.refusals(), Vec::<String>::new(), "no request was refused");
    let lease = kube::Api::<Lease>::namespaced(client, "gatehouse").get("gatehouse-leader").await.expect("the leader Lease exists");
    assert!(lease.spec.and_then(|spec| spec.lease_duration_seconds).is_some(), "the Lease was taken");
}

/// Without `watch` on Deployments — the grant deploy/ once lacked — a submission fails, and
/// the failure says in one sentence which verb on which resource was refused and which rule
/// to add, not a dump of the client's error type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_watch_grant_is_named_with_the_rule_to_add() {
    use gatehouse::simcluster::{Access, Identity, Rbac};

    // Never ready within the submission's 5 s: Gatehouse must watch, and is refused.
    let sim = slow_cluster(std::time::Duration::from_secs(3600)).await;
    let mut objects = render(&repo_root().join("deploy/overlays/replicated"));
    for role in objects.iter_mut().filter(|object| object["kind"] == "ClusterRole") {
        for rule in role["rules"].as_array_mut().into_iter().flatten() {
            if rule["resources"].as_array().is_some_and(|r| r.iter().any(|r| r == "deployments")) {
                rule["verbs"].as_array_mut().expect("verbs").retain(|verb| verb != "watch");
            }
        }
    }
    sim.set_access(Access {
        identity: Identity::service_account("gatehouse", "gatehouse"),
        rbac: Some(Rbac::from_objects(&objects)),
        ..Access::default()
    });
    let (app, _kubeconfig) = crate::cluster::portal_with(crate::harness::DbKind::Sqlite, &sim.kubeconfig(None), |_| {}).await;
    let submission = crate::cluster::settled(&app, crate::cluster::submit(&app, "dev", false).await).await;
    assert_eq!(submission["status"], "failed", "{submission:#}");
    let deployment = submission["objects"]
        .as_array()
        .and_then(|objects| objects.iter().find(|object| object["kind"] == "Deployment"))
        .expect("the Deployment's row");
    let message = deployment["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the cluster's RBAC does not let system:serviceaccount:gatehouse:gatehouse watch deployments (API group apps) in namespace cd-service-dev"),
        "{message}"
    );
    assert!(message.contains("{apiGroups: [\"apps\"], resources: [deployments], verbs: [watch]}"), "{message}");
    assert!(!message.contains("Status {") && !message.contains("ErrorResponse"), "no Debug dump: {message}");
    app.stop().await;
}
