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

fn schemas() -> backend::schema::SchemaRegistry {
    let shared = repo_root().join("../shared");
    backend::schema::SchemaRegistry::load(&shared.join("crds"), &shared.join("kubernetes-schemas"))
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
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ] {
            assert!(kinds.contains(kind), "{} renders a {kind}", overlay.display());
        }
        for object in &objects {
            let (api_version, kind) = (object["apiVersion"].as_str().unwrap_or(""), object["kind"].as_str().unwrap_or(""));
            let checked = if registry.contains(api_version, kind) {
                registry.validate(object).map_err(|violations| format!("{violations:?}"))
            } else {
                // ../shared has no schema of admissionregistration.k8s.io: the API's own types
                // (k8s-openapi, generated from Kubernetes' OpenAPI) read the object instead,
                // strictly — a field they do not know is lost on the way back, and fails.
                round_trips(object)
            };
            checked.unwrap_or_else(|problem| {
                panic!("{}: {kind} {} breaks its schema: {problem}", overlay.display(), object["metadata"]["name"])
            });
            let cluster_scoped = [
                "Namespace",
                "ClusterRole",
                "ClusterRoleBinding",
                "ValidatingAdmissionPolicy",
                "ValidatingAdmissionPolicyBinding",
            ]
            .contains(&kind);
            if cluster_scoped {
                assert!(object["metadata"].get("namespace").is_none(), "{kind} {} is cluster-scoped", object["metadata"]["name"]);
            } else {
                assert_eq!(object["metadata"]["namespace"], "gatehouse", "{} {}", object["kind"], object["metadata"]["name"]);
            }
        }
    }
}

/// An object of a kind ../shared has no schema for, read strictly through k8s-openapi's type
/// for it: it must deserialise, and serialise back to the same JSON (no unknown or misspelt
/// field, no wrong type).
fn round_trips(object: &Value) -> Result<(), String> {
    use k8s_openapi::api::admissionregistration::v1::{ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding};
    fn again<T: serde::de::DeserializeOwned + serde::Serialize>(object: &Value) -> Result<Value, String> {
        let typed: T = serde_json::from_value(object.clone()).map_err(|error| error.to_string())?;
        serde_json::to_value(&typed).map_err(|error| error.to_string())
    }
    let back = match (object["apiVersion"].as_str(), object["kind"].as_str()) {
        (Some("admissionregistration.k8s.io/v1"), Some("ValidatingAdmissionPolicy")) => again::<ValidatingAdmissionPolicy>(object)?,
        (Some("admissionregistration.k8s.io/v1"), Some("ValidatingAdmissionPolicyBinding")) => {
            again::<ValidatingAdmissionPolicyBinding>(object)?
        }
        (api_version, kind) => return Err(format!("no schema for {api_version:?} {kind:?}")),
    };
    match first_difference(object, &back, "") {
        None => Ok(()),
        Some(path) => Err(format!("{path} is not a field of the type (or has the wrong shape)")),
    }
}

fn first_difference(written: &Value, read: &Value, path: &str) -> Option<String> {
    match (written, read) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .find_map(|(key, value)| match b.get(key) {
                Some(other) => first_difference(value, other, &format!("{path}.{key}")),
                None => Some(format!("{path}.{key}")),
            }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]")))
        }
        (a, b) if a == b => None,
        _ => Some(if path.is_empty() { ".".to_owned() } else { path.to_owned() }),
    }
}

#[test]
fn the_strict_reading_of_admission_objects_finds_unknown_fields() {
    let objects = render(&repo_root().join("deploy/overlays/single"));
    let mut policy = one(&objects, "ValidatingAdmissionPolicy").clone();
    assert_eq!(round_trips(&policy), Ok(()));
    policy["spec"]["validations"][0]["mesage"] = Value::from("misspelt");
    assert_eq!(round_trips(&policy), Err(".spec.validations[0].mesage is not a field of the type (or has the wrong shape)".to_owned()));
    let mut binding = one(&objects, "ValidatingAdmissionPolicyBinding").clone();
    binding["spec"]["validationActions"] = Value::from("Deny");
    assert!(round_trips(&binding).is_err(), "validationActions is a list");
}

/// The admission policy: bound with `Deny`, failing closed, matching every resource and
/// subresource for the ServiceAccount the overlays render (and no one else), with the Lease
/// left out only in Gatehouse's own namespace; and within what the simulated cluster
/// evaluates, so the tests below run it rather than a stand-in.
#[test]
fn the_admission_policy_binds_gatehouses_service_account_and_fails_closed() {
    for overlay in overlays() {
        let objects = render(&overlay);
        let policy = one(&objects, "ValidatingAdmissionPolicy");
        let binding = one(&objects, "ValidatingAdmissionPolicyBinding");
        assert_eq!(binding["spec"]["policyName"], policy["metadata"]["name"]);
        assert_eq!(binding["spec"]["validationActions"], serde_json::json!(["Deny"]));
        let spec = &policy["spec"];
        assert_eq!(spec["failurePolicy"], "Fail", "an error in the policy refuses rather than lets through");
        assert_eq!(
            spec["matchConstraints"]["resourceRules"],
            serde_json::json!([{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "operations": ["CREATE", "UPDATE", "DELETE", "CONNECT"]}])
        );
        let account = one(&objects, "ServiceAccount");
        let (namespace, name) = (account["metadata"]["namespace"].as_str().unwrap_or(""), account["metadata"]["name"].as_str().unwrap_or(""));
        let conditions = spec["matchConditions"].to_string();
        assert!(conditions.contains(&format!("'system:serviceaccount:{namespace}:{name}'")), "{conditions}");
        assert!(conditions.contains(&format!("request.namespace == '{namespace}'")), "the Lease, in Gatehouse's namespace only: {conditions}");
        for validation in spec["validations"].as_array().expect("validations") {
            assert_eq!(validation["reason"], "Forbidden", "answered 403, as a refusal: {validation}");
            assert!(validation["message"].as_str().is_some_and(|m| !m.is_empty()), "{validation}");
        }
        simcluster::Admission::from_objects(&objects).expect("the simulated cluster evaluates the policy");
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
async fn full_run(app: crate::harness::TestApp, sim: &simcluster::SimCluster) {
    use std::time::Duration;

    use serde_json::json;

    use crate::cluster::{GATEWAY_SERVICE, eventually, settled, submit};

    let dev = settled(&app, submit(&app, "dev", false).await).await;
    assert_eq!(dev["status"], "ready", "{dev:#}");
    let prod = submit(&app, "prod", false).await;
    let approver = app.client_as(domain::access::Role::NetworkAdmin, "").await;
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
async fn slow_cluster(ready_after: std::time::Duration) -> std::sync::Arc<simcluster::SimCluster> {
    let behaviour = simcluster::CiliumBehaviour { copies_infrastructure_labels: false, ready_after, ..Default::default() };
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

/// deploy/'s RBAC and admission policy, rendered and enforced by the simulated cluster for
/// Gatehouse's ServiceAccount: a whole run — submissions, approval, previews, the label fix
/// labelling Cilium's Services and taking the label back, teardown down to the Namespace, and
/// leader election in Gatehouse's own namespace — passes without one refused request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_run_passes_under_the_rendered_rbac() {
    use simcluster::{Access, Admission, Identity, Rbac};
    use k8s_openapi::api::{coordination::v1::Lease, core::v1::Namespace};

    let sim = slow_cluster(ROLLOUT).await;
    let client = crate::cluster::kube_client(&sim.kubeconfig(None)).await;
    let namespace: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "gatehouse"}})).expect("a Namespace");
    kube::Api::<Namespace>::all(client.clone()).create(&Default::default(), &namespace).await.expect("Gatehouse's namespace");
    let objects = render(&repo_root().join("deploy/overlays/replicated"));
    sim.set_access(Access {
        identity: Identity::service_account("gatehouse", "gatehouse"),
        rbac: Some(Rbac::from_objects(&objects)),
        admission: Some(Admission::from_objects(&objects).expect("the admission policy loads")),
        ..Access::default()
    });
    let (app, _kubeconfig) = crate::cluster::portal_with(crate::harness::DbKind::Sqlite, &sim.kubeconfig(None), |config| {
        config.lease_namespace = Some("gatehouse".to_owned());
    })
    .await;
    full_run(app, &sim).await;
    assert!(
        kube::Api::<Namespace>::all(client.clone()).get_opt(crate::cluster::DEV_NAMESPACE).await.expect("answers").is_none(),
        "the teardown deleted the Namespace Gatehouse created, with the policy's leave"
    );
    assert_eq!(sim.refusals(), Vec::<String>::new(), "no request was refused");
    let lease = kube::Api::<Lease>::namespaced(client, "gatehouse").get("gatehouse-leader").await.expect("the leader Lease exists");
    assert!(lease.spec.and_then(|spec| spec.lease_duration_seconds).is_some(), "the Lease was taken");
}

/// Without `watch` on Deployments — the grant deploy/ once lacked — a submission fails, and
/// the failure says in one sentence which verb on which resource was refused and which rule
/// to add, not a dump of the client's error type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_watch_grant_is_named_with_the_rule_to_add() {
    use simcluster::{Access, Identity, Rbac};

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

/// What a compromised Gatehouse would do with its ClusterRole, the admission policy refuses —
/// as the API server would, with its Status — while Gatehouse's own work goes through:
/// deleting a Namespace it did not make, writing to someone else's object, creating in a
/// Namespace it did not make or without its label, taking the label off its own. Adopting
/// an object under the policy takes a cluster admin's label first: the adopt says so, then
/// works, and the next submission takes the object over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admission_policy_keeps_gatehouse_to_what_it_made() {
    use simcluster::{Access, Admission, CiliumBehaviour, Identity, Rbac};
    use k8s_openapi::api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, Namespace, Service},
    };
    use kube::{
        Api,
        api::{DeleteParams, Patch, PatchParams},
    };
    use serde_json::json;

    use crate::cluster::{DEV_NAMESPACE, kube_client, portal_with, settled, submit};

    let sim = crate::cluster::simulated(CiliumBehaviour::default(), None).await;
    let client = kube_client(&sim.kubeconfig(None)).await;
    let as_admin = |manager: &str| PatchParams::apply(manager);
    // A cluster admin's, before Gatehouse is started: its namespace and a Service of another team.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch("gatehouse", &as_admin("kubectl"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gatehouse"}})))
        .await
        .expect("Gatehouse's namespace");
    let legacy = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "legacy", "namespace": "default"},
                        "spec": {"selector": {"app": "legacy"}, "ports": [{"port": 80, "protocol": "TCP"}]}});
    Api::<Service>::namespaced(client.clone(), "default").patch("legacy", &as_admin("kubectl"), &Patch::Apply(&legacy)).await.expect("legacy");

    let objects = render(&repo_root().join("deploy/overlays/replicated"));
    let as_gatehouse = Access {
        identity: Identity::service_account("gatehouse", "gatehouse"),
        rbac: Some(Rbac::from_objects(&objects)),
        admission: Some(Admission::from_objects(&objects).expect("the admission policy loads")),
        ..Access::default()
    };
    sim.set_access(as_gatehouse.clone());
    let (app, _kubeconfig) = portal_with(crate::harness::DbKind::Sqlite, &sim.kubeconfig(None), |config| {
        config.lease_namespace = Some("gatehouse".to_owned());
    })
    .await;
    assert_eq!(settled(&app, submit(&app, "dev", false).await).await["status"], "ready", "Gatehouse's own work goes through");
    assert_eq!(sim.refusals(), Vec::<String>::new());

    // From here the test's client is a compromised Gatehouse: its identity, its ClusterRole.
    let refusal = |result: Result<(), kube::Error>| match result {
        Err(kube::Error::Api(status)) if status.code == 403 => status.message,
        other => panic!("expected the policy's 403, got {other:?}"),
    };
    let policy = "ValidatingAdmissionPolicy 'gatehouse-touches-only-its-own' with binding 'gatehouse-touches-only-its-own' denied request";
    let gatehouse = PatchParams::apply("gatehouse");
    let message = refusal(namespaces.delete("kube-system", &DeleteParams::default()).await.map(|_| ()));
    assert_eq!(message, format!("namespaces \"kube-system\" is forbidden: {policy}: Gatehouse deletes only objects labelled app.kubernetes.io/managed-by=gatehouse"));
    let mut taken = legacy.clone();
    taken["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "gatehouse"});
    let services_default: Api<Service> = Api::namespaced(client.clone(), "default");
    let message = refusal(services_default.patch("legacy", &gatehouse.clone().force(), &Patch::Apply(&taken)).await.map(|_| ()));
    assert!(message.ends_with("Gatehouse changes only objects labelled app.kubernetes.io/managed-by=gatehouse and keeps the label; to let it adopt an object, a cluster admin labels it so first"), "{message}");
    let planted = |namespace: &str, labelled: bool| {
        let labels = if labelled { json!({"app.kubernetes.io/managed-by": "gatehouse"}) } else { json!({}) };
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planted", "namespace": namespace, "labels": labels}})
    };
    let config_maps = |namespace: &str| Api::<ConfigMap>::namespaced(client.clone(), namespace);
    let message = refusal(config_maps("kube-system").patch("planted", &gatehouse, &Patch::Apply(planted("kube-system", true))).await.map(|_| ()));
    assert!(message.ends_with("Gatehouse creates only objects labelled app.kubernetes.io/managed-by=gatehouse, and only in Namespaces labelled so"), "{message}");
    refusal(config_maps(DEV_NAMESPACE).patch("planted", &gatehouse, &Patch::Apply(planted(DEV_NAMESPACE, false))).await.map(|_| ()));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), DEV_NAMESPACE);
    let unlabel = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": null}}});
    refusal(deployments.patch("api", &PatchParams::default(), &Patch::Merge(&unlabel)).await.map(|_| ()));
    assert_eq!(sim.refusals().len(), 5, "{:#?}", sim.refusals());
    assert!(config_maps(DEV_NAMESPACE).get_opt("planted").await.expect("answers").is_none(), "nothing was written");

    // Another team's Service where Gatehouse's was: refused at submission; the adopt is refused
    // by the policy until a cluster admin labels the Service.
    sim.set_access(Access::default());
    let services: Api<Service> = Api::namespaced(client.clone(), DEV_NAMESPACE);
    services.delete("api", &DeleteParams::default()).await.expect("deleted by a cluster admin");
    let mut theirs = legacy.clone();
    theirs["metadata"] = json!({"name": "api", "namespace": DEV_NAMESPACE});
    services.patch("api", &as_admin("kubectl"), &Patch::Apply(&theirs)).await.expect("their Service");
    sim.set_access(as_gatehouse.clone());
    let refused = settled(&app, submit(&app, "dev", false).await).await;
    assert_eq!(refused["status"], "failed", "{refused:#}");
    let network_admin = app.client_as(domain::access::Role::NetworkAdmin, "").await;
    let adopt = || {
        network_admin
            .post(app.at("/api/v1/applications/api/environments/dev/adopt"))
            .json(&json!({"objects": [{"kind": "Service", "name": "api"}]}))
            .send()
    };
    let response = adopt().await.expect("answers");
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "admission_denied", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("kubectl label")), "{body}");

    sim.set_access(Access::default());
    let label = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": "gatehouse"}}});
    services.patch("api", &PatchParams::default(), &Patch::Merge(&label)).await.expect("a cluster admin labels it");
    sim.set_access(as_gatehouse);
    let response = adopt().await.expect("answers");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(settled(&app, submit(&app, "dev", false).await).await["status"], "ready");
    let torn_down = crate::cluster::settled(&app, {
        let response = app.client.delete(app.at("/api/v1/applications/api/environments/dev")).send().await.expect("answers");
        response.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id")
    })
    .await;
    assert_eq!(torn_down["status"], "torn_down", "{torn_down:#}");
    assert!(namespaces.get_opt(DEV_NAMESPACE).await.expect("answers").is_none(), "Gatehouse created it; nothing else is in it");
    assert_eq!(sim.refusals().len(), 6, "only the five attempts and the first adopt: {:#?}", sim.refusals());
    app.stop().await;
}
