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
                assert!(!resources.iter().any(|resource| resource == "pods/exec" || resource == "nodes"));
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
