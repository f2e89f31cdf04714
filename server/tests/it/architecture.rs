//! The crate graph is the architecture: a wrong arrow is a compile error only while the
//! manifests keep the rooms apart. Read from `cargo metadata`, as the README draws it.
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
};

use serde_json::Value;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// `cargo metadata` of the workspace, resolved (so transitive dependencies can be followed).
/// Not `--offline`: on a fresh machine the build has fetched only this platform's crates, and
/// metadata reads the manifests of every platform's (crates.io is reachable where tests run).
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(Path::new(WORKSPACE).join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Each workspace crate's dependencies on other workspace crates (normal and build
/// dependencies; the tests may use anything).
fn workspace_edges(metadata: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let members: BTreeSet<&str> = metadata["workspace_members"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let packages: Vec<&Value> = metadata["packages"].as_array().unwrap().iter().filter(|p| members.contains(p["id"].as_str().unwrap())).collect();
    let names: BTreeSet<&str> = packages.iter().map(|p| p["name"].as_str().unwrap()).collect();
    packages
        .iter()
        .map(|package| {
            let uses = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null() || d["kind"] == "build")
                .filter_map(|d| d["name"].as_str())
                .filter(|name| names.contains(name))
                .map(str::to_owned)
                .collect();
            (package["name"].as_str().unwrap().to_owned(), uses)
        })
        .collect()
}

/// Every package a workspace crate pulls in when built, following the resolved graph's
/// normal dependencies (all features the workspace enables).
fn closure(metadata: &Value, crate_name: &str) -> BTreeSet<String> {
    let nodes: BTreeMap<&str, &Value> =
        metadata["resolve"]["nodes"].as_array().unwrap().iter().map(|n| (n["id"].as_str().unwrap(), n)).collect();
    let name_of: BTreeMap<&str, &str> =
        metadata["packages"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap())).collect();
    let start = name_of.iter().find(|(_, name)| **name == crate_name).map(|(id, _)| *id).expect("the crate is in the workspace");
    let (mut seen, mut todo) = (BTreeSet::new(), vec![start]);
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null());
            if normal {
                todo.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    seen.into_iter().map(|id| name_of[id].to_owned()).collect()
}

/// The README's graph: `crate → dependency, dependency (note), …`, continued on lines that
/// start with blanks; "nothing of ours" is no dependency.
fn readme_edges() -> BTreeMap<String, BTreeSet<String>> {
    let readme = std::fs::read_to_string(Path::new(WORKSPACE).join("README.md")).expect("the README");
    let start = readme.find("```\ngatehouse (server/)").expect("the README's architecture section draws the crate graph") + 4;
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let without_notes = |text: &str| {
        let mut out = String::new();
        let mut depth = 0;
        for c in text.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in block.lines() {
        let targets = if let Some((name, targets)) = line.split_once('→').filter(|_| !line.starts_with(' ')) {
            current = without_notes(name).trim().to_owned();
            targets
        } else {
            line
        };
        let entry = edges.entry(current.clone()).or_default();
        if targets.contains("nothing of ours") {
            continue;
        }
        entry.extend(without_notes(targets).split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned));
    }
    edges
}

#[test]
fn the_crates_depend_on_each_other_as_the_readme_draws_them() {
    let mut from_metadata = workspace_edges(&metadata());
    // The server's package is `gatehouse`, the binary's name.
    assert!(from_metadata.contains_key("gatehouse"));
    let mut drawn = readme_edges();
    assert_eq!(from_metadata.keys().collect::<Vec<_>>(), drawn.keys().collect::<Vec<_>>(), "every crate is drawn");
    for name in from_metadata.keys().cloned().collect::<Vec<_>>() {
        assert_eq!(from_metadata.remove(&name), drawn.remove(&name), "{name}'s dependencies as drawn in the README");
    }
}

#[test]
fn the_domain_runs_anywhere_and_the_backend_knows_no_web_framework() {
    let metadata = metadata();
    let forbidden_in = |crate_name: &str, forbidden: &[&str]| {
        let pulled = closure(&metadata, crate_name);
        let found: Vec<&&str> = forbidden.iter().filter(|f| pulled.contains(**f)).collect();
        assert!(found.is_empty(), "{crate_name} pulls in {found:?}");
    };
    let io = ["leptos", "axum", "hyper", "sqlx", "kube", "k8s-openapi", "tokio", "ring", "rustls"];
    forbidden_in("gatehouse-domain", &io);
    forbidden_in("gatehouse-views", &io);
    forbidden_in("gatehouse-backend", &["leptos", "leptos_axum", "leptos_router", "leptos_meta", "axum", "gatehouse-simcluster"]);
    forbidden_in("gatehouse-lint", &["leptos", "axum"]);
    forbidden_in("app", &["gatehouse-simcluster"]);
}

/// The manifests alone do not stop a path like `leptos::` from creeping back in through a
/// re-export; the backend's source must not name the web framework at all.
#[test]
fn no_backend_source_names_leptos() {
    fn visit(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    if code.contains("leptos") || code.contains("axum") {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(&Path::new(WORKSPACE).join("crates/backend/src"), &mut found);
    assert!(found.is_empty(), "the backend names the web framework:\n{}", found.join("\n"));
}
