//! `gatehouse lint` end to end on a large cluster's export: 10,000 objects in one
//! multi-document YAML file, the real binary started each round (reading, parsing with
//! positions, the checklist, the report). Prints the median, best and worst of 11 rounds.
//!
//! `cargo bench -p gatehouse --bench lint --profile dev` (the binary is built with the bench).
use std::{fmt::Write as _, process::Command, time::Instant};

/// Objects per application: ConfigMap, Deployment, LoadBalancer Service, Gateway, HTTPRoute.
const PER_APPLICATION: usize = 5;
const OBJECTS: usize = 10_000;

fn export() -> String {
    let mut yaml = String::new();
    for (env, cidr) in [("dev", "10.64.0.0/16"), ("prod", "10.65.0.0/16")] {
        let _ = write!(
            yaml,
            "---\napiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: {env}-vips\n  labels:\n    gatehouse.io/environment: {env}\nspec:\n  blocks:\n    - cidr: {cidr}\n  serviceSelector:\n    matchLabels:\n      gatehouse.io/advertise: {env}\n\
             ---\napiVersion: cilium.io/v2alpha1\nkind: CiliumL2AnnouncementPolicy\nmetadata:\n  name: l2-{env}\n  labels:\n    gatehouse.io/environment: {env}\nspec:\n  loadBalancerIPs: true\n  serviceSelector:\n    matchLabels:\n      gatehouse.io/advertise: {env}\n"
        );
    }
    for i in 0..(OBJECTS - 4).div_ceil(PER_APPLICATION) {
        let env = if i % 2 == 0 { "dev" } else { "prod" };
        let app = format!("app{i}");
        let ns = format!("team{}-{env}", i % 50);
        let labels = format!("  labels:\n    app.kubernetes.io/name: {app}\n    gatehouse.io/environment: {env}\n");
        let _ = write!(
            yaml,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}-config\n  namespace: {ns}\n{labels}data:\n  PROFILE: {env}-{i}\n\
             ---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  namespace: {ns}\n{labels}spec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {app}\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {app}\n    spec:\n      containers:\n        - name: {app}\n          image: registry.example/{app}:1.0.0\n          envFrom:\n            - configMapRef:\n                name: {app}-config\n          readinessProbe:\n            httpGet:\n              path: /ready\n              port: 8080\n          livenessProbe:\n            httpGet:\n              path: /live\n              port: 8080\n\
             ---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {app}\n  namespace: {ns}\n  labels:\n    app.kubernetes.io/name: {app}\n    gatehouse.io/environment: {env}\n    gatehouse.io/advertise: {env}\nspec:\n  type: LoadBalancer\n  selector:\n    app.kubernetes.io/name: {app}\n  ports:\n    - port: 8080\n\
             ---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: {app}-{env}\n  namespace: {ns}\n{labels}spec:\n  gatewayClassName: cilium\n  infrastructure:\n    labels:\n      gatehouse.io/advertise: {env}\n  listeners:\n    - name: https\n      hostname: {app}.{env}.example.com\n      port: 443\n      protocol: HTTPS\n      tls:\n        certificateRefs:\n          - name: {app}-tls\n\
             ---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: {app}-{env}\n  namespace: {ns}\n{labels}spec:\n  parentRefs:\n    - name: {app}-{env}\n  hostnames:\n    - {app}.{env}.example.com\n  rules:\n    - backendRefs:\n        - name: {app}\n          port: 8080\n"
        );
    }
    yaml
}

fn main() {
    let dir = std::env::temp_dir().join(format!("gatehouse-lint-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("export.yaml");
    let yaml = export();
    std::fs::write(&file, &yaml).expect("the export is written");
    let objects = yaml.matches("\nkind: ").count();
    println!("lint: {objects} objects, {} bytes", yaml.len());

    let mut times = Vec::new();
    for round in 0..12 {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_gatehouse")).args(["lint"]).arg(&file).output().expect("gatehouse runs");
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "the export lints clean: {stdout}{}", String::from_utf8_lossy(&output.stderr));
        // The first round warms the page cache and is not counted.
        if round > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    println!(
        "lint: {objects} objects end to end: median {:.0} ms, best {:.0} ms, worst {:.0} ms ({} rounds)",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        times.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
