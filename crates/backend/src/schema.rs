//! Strict validation of generated objects against the schemas a real cluster enforces.
//!
//! [`SchemaRegistry`] holds the `openAPIV3Schema` of every served version of the Gateway API and
//! Cilium CustomResourceDefinitions and the Kubernetes OpenAPI v3 documents of the built-in
//! groups. [`SchemaRegistry::validate`] looks an object up by `apiVersion` + `kind` and checks it
//! the way strict server-side field validation (`kubectl apply --validate=strict`) would:
//! unknown fields are errors, and so are type, enum, pattern, length, range, format and
//! list-uniqueness violations.
//!
//! Besides the schemas themselves the validator knows three things the API server enforces
//! outside of them:
//! - the `metadata` of a custom resource is an `ObjectMeta` (its CRD only says `type: object`),
//!   and every object needs `metadata.name` or `metadata.generateName`;
//! - a small table of enumerations of built-in types (`Service.spec.type`, port protocols,
//!   `imagePullPolicy`, …) that the published Kubernetes documents no longer carry as `enum`;
//!   see `loader::NATIVE_ENUMS`;
//! - `null` is only accepted where a schema says `nullable: true`.
//!
//! # CEL rules that are *not* checked
//!
//! `x-kubernetes-validations` need a CEL engine and are skipped. The ones that matter for what
//! Gatehouse generates, to be covered by hand-written tests of the generators:
//! - Gateway `spec.listeners`: no `tls` for HTTP/TCP/UDP; HTTPS `tls.mode` must be `Terminate`;
//!   no `hostname` for TCP/UDP; port + protocol + hostname unique per listener;
//!   `tls` in `Terminate` mode needs `certificateRefs` (or `options`).
//! - Gateway `spec.infrastructure.labels`/`annotations`: keys must be valid label keys (the schema
//!   only checks values); `spec.addresses`: unique values, `Hostname` values must be hostnames.
//! - HTTPRoute `rules[].backendRefs[]`: `port` is required for a Service backend;
//!   `rules[].matches[].path` of type `PathPrefix`/`Exact` must start with `/` and must not contain
//!   `//`, `/./`, `/../`, `%2f`, `#`; fewer than 128 matches in total; a `RequestRedirect` filter
//!   excludes `backendRefs`; `replacePrefixMatch` needs exactly one `PathPrefix` match; a filter's
//!   `type` must match the one sub-field that is set; `parentRefs` naming the same parent twice
//!   need distinct `sectionName`s.
//! - CiliumBGPAdvertisement `advertisements[]`: `service` iff `advertisementType: Service`,
//!   `interface` iff `Interface`, no `selector` with `PodCIDR`.
//! - CiliumBGPPeerConfig `spec.timers`: `keepAliveTimeSeconds <= holdTimeSeconds`.

mod formats;
mod loader;
mod validator;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;

/// One schema file given in memory, e.g. through `include_str!`.
#[derive(Debug, Clone, Copy)]
pub struct SchemaSource<'a> {
    /// Shown in load errors; typically the file name.
    pub name: &'a str,
    pub contents: &'a str,
}

/// Why the schema files could not be loaded. Every variant names the offending file.
#[derive(Debug, thiserror::Error)]
pub enum SchemaLoadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: invalid YAML: {source}")]
    Yaml {
        file: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{file}: invalid JSON: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: pattern {pattern:?} is not a valid regular expression: {source}")]
    Pattern {
        file: String,
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("{file}: {api_version} {kind} is already defined by {previous}")]
    DuplicateKind {
        file: String,
        api_version: String,
        kind: String,
        previous: String,
    },
    #[error(
        "no Kubernetes document defines {}, which is needed to validate the metadata of custom resources",
        loader::OBJECT_META
    )]
    MissingObjectMeta,
}

/// A place in an object that breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    /// JSON path such as `spec.listeners[0].tls.certificateRefs[0].name`; map keys that are not
    /// plain identifiers are quoted: `metadata.labels["app.kubernetes.io/name"]`. Empty for the
    /// object itself.
    pub path: String,
    pub message: String,
}

impl Violation {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Where the schemas came from; decides how `metadata` and property-less objects are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A CRD's structural schema: an object without `properties`, `additionalProperties` or
    /// `x-kubernetes-preserve-unknown-fields` keeps no fields at all, and `metadata` is
    /// validated as `ObjectMeta`.
    CustomResource,
    /// A Kubernetes OpenAPI document: an object without `properties` is free-form.
    BuiltIn,
}

/// A schema inside one of the loaded documents.
#[derive(Debug, Clone)]
struct Location {
    document: usize,
    /// JSON pointer into the document.
    pointer: String,
}

#[derive(Debug)]
struct Document {
    name: String,
    root: Value,
}

#[derive(Debug)]
struct KindEntry {
    location: Location,
    origin: Origin,
}

/// The schemas of every kind Gatehouse may generate, keyed by `(apiVersion, kind)`.
#[derive(Debug)]
pub struct SchemaRegistry {
    documents: Vec<Document>,
    kinds: BTreeMap<(String, String), KindEntry>,
    object_meta: Option<Location>,
    /// Every `pattern` of every loaded schema, compiled once.
    patterns: HashMap<String, Regex>,
}

impl SchemaRegistry {
    /// Loads every CRD under `crds_dir` (`*.yaml`/`*.yml`, recursively) and every Kubernetes
    /// OpenAPI v3 document under `kubernetes_schemas_dir` (`*.json`).
    pub fn load(crds_dir: &Path, kubernetes_schemas_dir: &Path) -> Result<Self, SchemaLoadError> {
        let crds = loader::read_files(crds_dir, &["yaml", "yml"])?;
        let kubernetes = loader::read_files(kubernetes_schemas_dir, &["json"])?;
        fn as_sources(files: &[(String, String)]) -> Vec<SchemaSource<'_>> {
            files
                .iter()
                .map(|(name, contents)| SchemaSource { name, contents })
                .collect()
        }
        Self::from_sources(&as_sources(&crds), &as_sources(&kubernetes))
    }

    /// Builds the registry from CRD YAML files and Kubernetes OpenAPI v3 JSON documents held in
    /// memory. Sources are processed in the order given; for built-in kinds that several
    /// documents define (`DeleteOptions`, `WatchEvent`) the first one wins.
    pub fn from_sources(
        crds: &[SchemaSource<'_>],
        kubernetes: &[SchemaSource<'_>],
    ) -> Result<Self, SchemaLoadError> {
        let mut registry = Self {
            documents: Vec::new(),
            kinds: BTreeMap::new(),
            object_meta: None,
            patterns: HashMap::new(),
        };
        for source in kubernetes {
            registry.add_kubernetes_document(source)?;
        }
        let mut has_crds = false;
        for source in crds {
            has_crds |= registry.add_crd_file(source)?;
        }
        if has_crds && registry.object_meta.is_none() {
            return Err(SchemaLoadError::MissingObjectMeta);
        }
        Ok(registry)
    }

    /// Every registered `(apiVersion, kind)`, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.kinds
            .keys()
            .map(|(api_version, kind)| (api_version.as_str(), kind.as_str()))
    }

    pub fn contains(&self, api_version: &str, kind: &str) -> bool {
        self.kinds
            .contains_key(&(api_version.to_owned(), kind.to_owned()))
    }

    /// Checks `object` against the schema of its `apiVersion` and `kind`. The violations are
    /// sorted by path (then message) and free of duplicates.
    pub fn validate(&self, object: &Value) -> Result<(), Vec<Violation>> {
        let mut violations = validator::Validator::new(self).validate_object(object);
        violations.sort();
        violations.dedup();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    fn entry(&self, api_version: &str, kind: &str) -> Option<&KindEntry> {
        self.kinds.get(&(api_version.to_owned(), kind.to_owned()))
    }

    /// The documents' root (for `$ref`) and the schema at `location`.
    fn resolve(&self, location: &Location) -> Option<(&Value, &Value)> {
        let root = &self.documents.get(location.document)?.root;
        Some((root, root.pointer(&location.pointer)?))
    }

    fn api_versions_of(&self, kind: &str) -> Vec<&str> {
        self.kinds
            .keys()
            .filter(|(_, k)| k == kind)
            .map(|(api_version, _)| api_version.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use serde_json::{Value, json};

    use super::*;

    const CRDS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/crds");
    const KUBERNETES_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/kubernetes-schemas"
    );

    static REGISTRY: LazyLock<SchemaRegistry> = LazyLock::new(|| {
        SchemaRegistry::load(Path::new(CRDS_DIR), Path::new(KUBERNETES_DIR))
            .unwrap_or_else(|error| panic!("loading the shared schemas failed: {error}"))
    });

    fn assert_valid(object: &Value) {
        if let Err(violations) = REGISTRY.validate(object) {
            let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("expected no violations, got:\n{}", listed.join("\n"));
        }
    }

    /// Asserts that validation fails with a violation at exactly `path` whose message contains
    /// `message`, and returns all violations.
    fn assert_violation(object: &Value, path: &str, message: &str) -> Vec<Violation> {
        let violations = REGISTRY.validate(object).expect_err("expected violations");
        assert!(
            violations
                .iter()
                .any(|v| v.path == path && v.message.contains(message)),
            "no violation at {path:?} containing {message:?}; got:\n{}",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        violations
    }

    /// Splits a JSON pointer into its parent pointer and its last, unescaped, segment.
    fn split_pointer(pointer: &str) -> (&str, String) {
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
        (parent, key.replace("~1", "/").replace("~0", "~"))
    }

    /// Sets (or adds) the value at a JSON pointer; the parent must exist.
    fn with(mut object: Value, pointer: &str, value: Value) -> Value {
        let (parent, key) = split_pointer(pointer);
        match object.pointer_mut(parent) {
            Some(Value::Object(fields)) => {
                fields.insert(key, value);
            }
            Some(Value::Array(items)) => items[key.parse::<usize>().expect("an index")] = value,
            _ => panic!("no {parent} in fixture"),
        }
        object
    }

    fn without(mut object: Value, pointer: &str) -> Value {
        let (parent, key) = split_pointer(pointer);
        let removed = object
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .and_then(|parent| parent.remove(&key));
        assert!(removed.is_some(), "no {pointer} in fixture");
        object
    }

    fn labels() -> Value {
        json!({ "app.kubernetes.io/name": "gatehouse", "app.kubernetes.io/managed-by": "gatehouse" })
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "gatehouse", "namespace": "gatehouse", "labels": labels() },
            "spec": {
                "replicas": 2,
                "selector": { "matchLabels": { "app.kubernetes.io/name": "gatehouse" } },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": { "maxUnavailable": 0, "maxSurge": "25%" }
                },
                "template": {
                    "metadata": { "labels": labels() },
                    "spec": {
                        "containers": [{
                            "name": "gatehouse",
                            "image": "ghcr.io/example/gatehouse:0.1.0",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["--listen", "0.0.0.0:3000"],
                            "ports": [{ "name": "http", "containerPort": 3000, "protocol": "TCP" }],
                            "env": [
                                { "name": "RUST_LOG", "value": "info" },
                                {
                                    "name": "DATABASE_PASSWORD",
                                    "valueFrom": { "secretKeyRef": { "name": "db", "key": "password" } }
                                }
                            ],
                            "resources": {
                                "requests": { "cpu": "100m", "memory": "128Mi" },
                                "limits": { "memory": "256Mi" }
                            },
                            "readinessProbe": {
                                "httpGet": { "path": "/healthz", "port": "http", "scheme": "HTTP" },
                                "periodSeconds": 10
                            },
                            "securityContext": {
                                "runAsNonRoot": true,
                                "allowPrivilegeEscalation": false,
                                "readOnlyRootFilesystem": true,
                                "capabilities": { "drop": ["ALL"] },
                                "seccompProfile": { "type": "RuntimeDefault" }
                            },
                            "volumeMounts": [{ "name": "tls", "mountPath": "/etc/gatehouse/tls", "readOnly": true }]
                        }],
                        "volumes": [{ "name": "tls", "secret": { "secretName": "portal-tls" } }]
                    }
                }
            }
        })
    }

    fn service() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": "gatehouse", "namespace": "gatehouse", "labels": labels() },
            "spec": {
                "type": "ClusterIP",
                "selector": { "app.kubernetes.io/name": "gatehouse" },
                "ports": [{ "name": "http", "port": 80, "targetPort": "http", "protocol": "TCP" }]
            }
        })
    }

    fn config_map() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "gatehouse-config", "namespace": "gatehouse" },
            "data": { "gatehouse.toml": "[server]\nlisten = \"0.0.0.0:3000\"\n" },
            "immutable": false
        })
    }

    fn tls_secret() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": { "name": "portal-tls", "namespace": "gatehouse" },
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
                "tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg=="
            }
        })
    }

    fn gateway() -> Value {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": { "name": "gatehouse", "namespace": "gatehouse", "labels": labels() },
            "spec": {
                "gatewayClassName": "cilium",
                "infrastructure": {
                    "labels": { "gatehouse.example.com/ip-pool": "public" },
                    "annotations": { "io.cilium/lb-ipam-ips": "192.168.10.20" }
                },
                "addresses": [{ "type": "IPAddress", "value": "192.168.10.20" }],
                "listeners": [
                    {
                        "name": "http",
                        "protocol": "HTTP",
                        "port": 80,
                        "hostname": "portal.example.com",
                        "allowedRoutes": { "namespaces": { "from": "Same" } }
                    },
                    {
                        "name": "https",
                        "protocol": "HTTPS",
                        "port": 443,
                        "hostname": "portal.example.com",
                        "tls": {
                            "mode": "Terminate",
                            "certificateRefs": [{ "group": "", "kind": "Secret", "name": "portal-tls" }]
                        },
                        "allowedRoutes": {
                            "namespaces": { "from": "Same" },
                            "kinds": [{ "group": "gateway.networking.k8s.io", "kind": "HTTPRoute" }]
                        }
                    }
                ]
            }
        })
    }

    fn http_route() -> Value {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": { "name": "portal", "namespace": "gatehouse" },
            "spec": {
                "parentRefs": [{ "name": "gatehouse", "sectionName": "https" }],
                "hostnames": ["portal.example.com"],
                "rules": [
                    {
                        "matches": [{ "path": { "type": "PathPrefix", "value": "/api" } }],
                        "backendRefs": [{ "name": "gatehouse-api", "port": 8080 }]
                    },
                    {
                        "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }],
                        "backendRefs": [{ "kind": "Service", "name": "gatehouse", "port": 80, "weight": 1 }]
                    }
                ]
            }
        })
    }

    fn selector() -> Value {
        json!({ "matchLabels": { "gatehouse.example.com/ip-pool": "public" } })
    }

    fn ip_pool() -> Value {
        json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumLoadBalancerIPPool",
            "metadata": { "name": "public" },
            "spec": {
                "blocks": [
                    { "cidr": "192.168.10.0/28" },
                    { "start": "192.168.20.10", "stop": "192.168.20.20" }
                ],
                "serviceSelector": selector(),
                "allowFirstLastIPs": "No"
            }
        })
    }

    fn l2_policy() -> Value {
        json!({
            "apiVersion": "cilium.io/v2alpha1",
            "kind": "CiliumL2AnnouncementPolicy",
            "metadata": { "name": "public" },
            "spec": {
                "serviceSelector": selector(),
                "nodeSelector": {
                    "matchExpressions": [
                        { "key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist" }
                    ]
                },
                "interfaces": ["^eth[0-9]+"],
                "externalIPs": false,
                "loadBalancerIPs": true
            }
        })
    }

    fn bgp_cluster_config() -> Value {
        json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumBGPClusterConfig",
            "metadata": { "name": "gatehouse" },
            "spec": {
                "nodeSelector": { "matchLabels": { "rack": "rack0" } },
                "bgpInstances": [{
                    "name": "instance-65000",
                    "localASN": 65000,
                    "peers": [{
                        "name": "tor-65001",
                        "peerASN": 65001,
                        "peerAddress": "10.0.0.1",
                        "peerConfigRef": { "name": "gatehouse-peer" }
                    }]
                }]
            }
        })
    }

    fn bgp_peer_config() -> Value {
        json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumBGPPeerConfig",
            "metadata": { "name": "gatehouse-peer" },
            "spec": {
                "timers": { "holdTimeSeconds": 9, "keepAliveTimeSeconds": 3 },
                "gracefulRestart": { "enabled": true, "restartTimeSeconds": 15 },
                "families": [{
                    "afi": "ipv4",
                    "safi": "unicast",
                    "advertisements": { "matchLabels": { "advertise": "gatehouse" } }
                }]
            }
        })
    }

    fn bgp_advertisement() -> Value {
        json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumBGPAdvertisement",
            "metadata": { "name": "gatehouse", "labels": { "advertise": "gatehouse" } },
            "spec": {
                "advertisements": [
                    {
                        "advertisementType": "Service",
                        "service": { "addresses": ["LoadBalancerIP"] },
                        "selector": selector()
                    },
                    {
                        "advertisementType": "PodCIDR",
                        "attributes": { "communities": { "standard": ["65000:100"] } }
                    }
                ]
            }
        })
    }

    #[test]
    fn loads_all_shared_schemas() {
        let expected = [
            ("apps/v1", "Deployment"),
            ("v1", "Service"),
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("v1", "ServiceAccount"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("policy/v1", "PodDisruptionBudget"),
            ("coordination.k8s.io/v1", "Lease"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("gateway.networking.k8s.io/v1", "GatewayClass"),
            ("gateway.networking.k8s.io/v1", "Gateway"),
            ("gateway.networking.k8s.io/v1beta1", "Gateway"),
            ("gateway.networking.k8s.io/v1", "HTTPRoute"),
            ("gateway.networking.k8s.io/v1", "GRPCRoute"),
            ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
            ("cilium.io/v2", "CiliumLoadBalancerIPPool"),
            ("cilium.io/v2alpha1", "CiliumLoadBalancerIPPool"),
            ("cilium.io/v2alpha1", "CiliumL2AnnouncementPolicy"),
            ("cilium.io/v2", "CiliumBGPClusterConfig"),
            ("cilium.io/v2", "CiliumBGPPeerConfig"),
            ("cilium.io/v2", "CiliumBGPAdvertisement"),
            ("cilium.io/v2", "CiliumBGPNodeConfigOverride"),
        ];
        for (api_version, kind) in expected {
            assert!(
                REGISTRY.contains(api_version, kind),
                "{api_version} {kind} is not registered"
            );
        }
        assert!(REGISTRY.object_meta.is_some());
        assert!(REGISTRY.kinds().count() > 100);
    }

    #[test]
    fn every_native_enum_targets_an_existing_schema() {
        for (component, pointer, values) in loader::NATIVE_ENUMS {
            let full = format!("/components/schemas/{component}{pointer}/enum");
            let applied = REGISTRY.documents.iter().any(|document| {
                document
                    .root
                    .pointer(&full)
                    .and_then(Value::as_array)
                    .is_some_and(|found| found.len() == values.len())
            });
            assert!(applied, "{component}{pointer} is in no Kubernetes document");
        }
    }

    #[test]
    fn valid_builtin_objects_pass() {
        assert_valid(&deployment());
        assert_valid(&service());
        assert_valid(&config_map());
        assert_valid(&tls_secret());
    }

    #[test]
    fn valid_gateway_api_objects_pass() {
        assert_valid(&gateway());
        assert_valid(&http_route());
        // The address `type` defaults to IPAddress, which decides the `oneOf` branch.
        assert_valid(&with(
            gateway(),
            "/spec/addresses",
            json!([{ "value": "192.168.10.20" }]),
        ));
        assert_valid(&with(
            gateway(),
            "/spec/addresses",
            json!([{ "type": "Hostname", "value": "lb.example.com" }]),
        ));
        let mut v1beta1 = http_route();
        v1beta1["apiVersion"] = json!("gateway.networking.k8s.io/v1beta1");
        assert_valid(&v1beta1);
    }

    #[test]
    fn valid_cilium_objects_pass() {
        assert_valid(&ip_pool());
        assert_valid(&l2_policy());
        assert_valid(&bgp_cluster_config());
        assert_valid(&bgp_peer_config());
        assert_valid(&bgp_advertisement());
    }

    #[test]
    fn misspelled_fields_are_unknown() {
        let misspelled = with(
            without(deployment(), "/spec/replicas"),
            "/spec/replica",
            json!(2),
        );
        assert_violation(
            &misspelled,
            "spec.replica",
            r#"unknown field "replica" (did you mean "replicas"?)"#,
        );

        let listeners = gateway()["spec"]["listeners"].clone();
        let misspelled = with(
            without(gateway(), "/spec/listeners"),
            "/spec/listener",
            listeners,
        );
        assert_violation(&misspelled, "spec.listener", "unknown field");
        assert_violation(&misspelled, "spec.listeners", "required field is missing");

        let deep = with(
            http_route(),
            "/spec/rules/0/backendRefs/0/prot",
            json!(8080),
        );
        assert_violation(&deep, "spec.rules[0].backendRefs[0].prot", "unknown field");
    }

    #[test]
    fn misspelled_metadata_fields_are_unknown_for_builtin_and_custom_resources() {
        for object in [deployment(), gateway(), ip_pool()] {
            let mut misspelled = object;
            misspelled["metadata"]["lables"] = labels();
            assert_violation(&misspelled, "metadata.lables", r#"did you mean "labels"?"#);
        }
        let nested = with(
            deployment(),
            "/spec/template/metadata/annotation",
            json!({}),
        );
        assert_violation(
            &nested,
            "spec.template.metadata.annotation",
            "unknown field",
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        assert_violation(
            &with(deployment(), "/spec/replicas", json!("3")),
            "spec.replicas",
            r#"expected an integer, found string "3""#,
        );
        assert_violation(
            &with(deployment(), "/spec/replicas", json!(null)),
            "spec.replicas",
            "found null",
        );
        assert_violation(
            &with(gateway(), "/spec/listeners/0/port", json!("80")),
            "spec.listeners[0].port",
            "expected an integer",
        );
        assert_violation(
            &with(service(), "/spec/ports/0/targetPort", json!(true)),
            "spec.ports[0].targetPort",
            "must match exactly one oneOf schema",
        );
    }

    #[test]
    fn missing_required_fields_are_reported() {
        assert_violation(
            &without(deployment(), "/spec/selector"),
            "spec.selector",
            "required field is missing",
        );
        assert_violation(
            &without(deployment(), "/spec/template/spec/containers/0/name"),
            "spec.template.spec.containers[0].name",
            "required field is missing",
        );
        assert_violation(
            &without(gateway(), "/spec/listeners/1/port"),
            "spec.listeners[1].port",
            "required field is missing",
        );
        assert_violation(
            &without(bgp_cluster_config(), "/spec/bgpInstances/0/name"),
            "spec.bgpInstances[0].name",
            "required field is missing",
        );
        assert_violation(
            &without(gateway(), "/metadata/name"),
            "metadata.name",
            "required field is missing",
        );
        assert_violation(
            &without(config_map(), "/metadata"),
            "metadata",
            "required field is missing",
        );
        let generated = with(
            without(config_map(), "/metadata/name"),
            "/metadata/generateName",
            json!("cfg-"),
        );
        assert_valid(&generated);
    }

    #[test]
    fn enum_violations_are_reported() {
        assert_violation(
            &with(service(), "/spec/type", json!("Loadbalancer")),
            "spec.type",
            r#"unsupported value "Loadbalancer": must be one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#,
        );
        assert_violation(
            &with(gateway(), "/spec/listeners/1/tls/mode", json!("terminate")),
            "spec.listeners[1].tls.mode",
            "unsupported value",
        );
        assert_violation(
            &with(ip_pool(), "/spec/allowFirstLastIPs", json!("yes")),
            "spec.allowFirstLastIPs",
            "unsupported value",
        );
        // A YAML 1.1 reader turns an unquoted `No` into a boolean.
        assert_violation(
            &with(ip_pool(), "/spec/allowFirstLastIPs", json!(false)),
            "spec.allowFirstLastIPs",
            "expected a string, found boolean false",
        );
    }

    #[test]
    fn pattern_violations_are_reported() {
        assert_violation(
            &with(
                gateway(),
                "/spec/listeners/0/hostname",
                json!("Portal.Example.com"),
            ),
            "spec.listeners[0].hostname",
            "does not match the pattern",
        );
        assert_violation(
            &with(
                gateway(),
                "/spec/listeners/1/hostname",
                json!("portal..example.com"),
            ),
            "spec.listeners[1].hostname",
            "does not match the pattern",
        );
        assert_violation(
            &with(
                http_route(),
                "/spec/hostnames/0",
                json!("portal.example.com:443"),
            ),
            "spec.hostnames[0]",
            "does not match the pattern",
        );
        assert_violation(
            &with(
                gateway(),
                "/spec/infrastructure/labels/gatehouse.example.com~1ip-pool",
                json!("not valid!"),
            ),
            r#"spec.infrastructure.labels["gatehouse.example.com/ip-pool"]"#,
            "does not match the pattern",
        );
    }

    #[test]
    fn ranges_lengths_formats_and_counts_are_checked() {
        assert_violation(
            &with(gateway(), "/spec/listeners/0/port", json!(70000)),
            "spec.listeners[0].port",
            "must be less than or equal to 65535",
        );
        assert_violation(
            &with(deployment(), "/spec/replicas", json!(3_000_000_000_u64)),
            "spec.replicas",
            "out of range for format int32",
        );
        assert_violation(
            &with(gateway(), "/spec/gatewayClassName", json!("")),
            "spec.gatewayClassName",
            "must be at least 1 characters long",
        );
        assert_violation(
            &with(ip_pool(), "/spec/blocks/0/cidr", json!("192.168.10.0/33")),
            "spec.blocks[0].cidr",
            "format cidr",
        );
        assert_violation(
            &with(
                tls_secret(),
                "/data/tls.crt",
                json!("-----BEGIN CERTIFICATE-----"),
            ),
            r#"data["tls.crt"]"#,
            "format byte",
        );
        assert_violation(
            &with(
                gateway(),
                "/spec/addresses/0/value",
                json!("192.168.10.256"),
            ),
            "spec.addresses[0]",
            "must match exactly one oneOf schema, but matches none",
        );
        let labels: serde_json::Map<String, Value> =
            (0..9).map(|i| (format!("label-{i}"), json!("x"))).collect();
        assert_violation(
            &with(
                gateway(),
                "/spec/infrastructure/labels",
                Value::Object(labels),
            ),
            "spec.infrastructure.labels",
            "must have at most 8 entries",
        );
        assert_violation(
            &with(bgp_cluster_config(), "/spec/bgpInstances", json!([])),
            "spec.bgpInstances",
            "must have at least 1 items",
        );
    }

    #[test]
    fn list_map_keys_and_sets_must_be_unique() {
        let duplicate_listener = with(gateway(), "/spec/listeners/1/name", json!("http"));
        assert_violation(
            &duplicate_listener,
            "spec.listeners[1]",
            r#"duplicate entry with name="http""#,
        );

        // `protocol` defaults to TCP, so these two ports collide.
        let ports = json!([
            { "name": "a", "port": 80, "targetPort": 3000 },
            { "name": "b", "port": 80, "targetPort": 3001, "protocol": "TCP" }
        ]);
        assert_violation(
            &with(service(), "/spec/ports", ports),
            "spec.ports[1]",
            r#"duplicate entry with port=80, protocol="TCP""#,
        );
        let udp = json!([
            { "name": "a", "port": 53, "protocol": "TCP" },
            { "name": "b", "port": 53, "protocol": "UDP" }
        ]);
        assert_valid(&with(service(), "/spec/ports", udp));

        let finalizers = with(config_map(), "/metadata/finalizers", json!(["a", "b", "a"]));
        assert_violation(&finalizers, "metadata.finalizers[2]", "duplicate value");
    }

    #[test]
    fn unknown_kinds_and_api_versions_are_reported() {
        let mut unknown_kind = config_map();
        unknown_kind["kind"] = json!("ConfigMapp");
        let violations = assert_violation(&unknown_kind, "kind", "unknown kind");
        assert_eq!(violations.len(), 1);

        let mut unknown_version = gateway();
        unknown_version["apiVersion"] = json!("gateway.networking.k8s.io/v2");
        assert_violation(
            &unknown_version,
            "apiVersion",
            "known apiVersions: gateway.networking.k8s.io/v1",
        );

        assert_violation(
            &without(gateway(), "/kind"),
            "kind",
            "required field is missing",
        );
        assert_violation(&json!("Gateway"), "", "expected an object");
    }

    #[test]
    fn violations_are_sorted_and_displayed_with_their_path() {
        let mut object = deployment();
        object["spec"]["zzz"] = json!(1);
        object["spec"]["replicas"] = json!("two");
        object["metadata"]["lables"] = json!({});
        let violations = REGISTRY.validate(&object).expect_err("invalid");
        let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["metadata.lables", "spec.replicas", "spec.zzz"]);
        assert_eq!(
            violations[1].to_string(),
            r#"spec.replicas: expected an integer, found string "two""#
        );
    }

    const TINY_OBJECT_META: &str = r#"{"components": {"schemas": {
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "generateName": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }
    }}}"#;

    const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [port]
              x-kubernetes-validations:
                - rule: "self.port != 0"
              properties:
                port: {x-kubernetes-int-or-string: true}
                note: {type: string, nullable: true}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
                template:
                  type: object
                  x-kubernetes-embedded-resource: true
                  x-kubernetes-preserve-unknown-fields: true
                tags: {type: array, items: {type: string}, x-kubernetes-list-type: set}
                closed: {type: object, properties: {a: {type: string}}, additionalProperties: false}
                ratio: {type: number, minimum: 0, maximum: 1, exclusiveMaximum: true}
                created: {type: string, format: date-time}
                digits: {type: string, pattern: '^\d+$'}
                empty: {type: object}
    - name: v0
      served: false
      storage: false
      schema:
        openAPIV3Schema: {type: object}
---
"#;

    fn widgets() -> SchemaRegistry {
        let crds = [SchemaSource {
            name: "widgets.yaml",
            contents: WIDGET_CRD,
        }];
        let kubernetes = [SchemaSource {
            name: "meta.json",
            contents: TINY_OBJECT_META,
        }];
        SchemaRegistry::from_sources(&crds, &kubernetes).unwrap_or_else(|error| panic!("{error}"))
    }

    fn widget() -> Value {
        json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": { "name": "w" },
            "spec": {
                "port": "http",
                "note": null,
                "extra": { "anything": [1, 2, { "goes": true }] },
                "template": {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": { "name": "inner", "labels": { "a": "b" } },
                    "data": { "free": "form" }
                },
                "tags": ["a", "b"],
                "closed": { "a": "x" },
                "ratio": 0.5,
                "created": "2026-05-13T10:00:00Z",
                "digits": "123",
                "empty": {}
            }
        })
    }

    fn widget_violations(pointer: &str, value: Value) -> Vec<String> {
        widgets()
            .validate(&with(widget(), pointer, value))
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn in_memory_sources_support_the_remaining_keywords() {
        let registry = widgets();
        assert_eq!(
            registry.kinds().collect::<Vec<_>>(),
            [("example.com/v1", "Widget")]
        );
        assert_eq!(registry.validate(&widget()), Ok(()));
        assert_eq!(
            registry.validate(&with(widget(), "/spec/port", json!(8080))),
            Ok(())
        );

        let cases = [
            (
                "/spec/port",
                json!(true),
                "spec.port: expected an integer or a string, found boolean true",
            ),
            (
                "/spec/tags",
                json!(["a", "a"]),
                r#"spec.tags[1]: duplicate value "a" in a list of type set"#,
            ),
            (
                "/spec/closed",
                json!({ "a": "x", "b": "y" }),
                r#"spec.closed.b: unknown field "b""#,
            ),
            (
                "/spec/ratio",
                json!(1),
                "spec.ratio: must be less than 1, but is 1",
            ),
            (
                "/spec/ratio",
                json!(-0.5),
                "spec.ratio: must be greater than or equal to 0, but is -0.5",
            ),
            (
                "/spec/created",
                json!("yesterday"),
                "spec.created: \"yesterday\" is not an RFC 3339 date-time",
            ),
            (
                "/spec/digits",
                json!("١٢٣"),
                "spec.digits: \"١٢٣\" does not match the pattern ^\\d+$",
            ),
            (
                "/spec/empty",
                json!({ "x": 1 }),
                r#"spec.empty.x: unknown field "x""#,
            ),
            (
                "/spec/template/metadata",
                json!({ "nmae": "x" }),
                r#"spec.template.metadata.nmae: unknown field "nmae" (did you mean "name"?)"#,
            ),
            (
                "/spec/template/kind",
                json!(1),
                "spec.template.kind: expected a string, found integer 1",
            ),
            (
                "/metadata",
                json!({ "name": "w", "uid": "x" }),
                r#"metadata.uid: unknown field "uid""#,
            ),
        ];
        for (pointer, value, expected) in cases {
            let found = widget_violations(pointer, value);
            assert!(
                found
                    .iter()
                    .any(|violation| violation.starts_with(expected)),
                "{pointer}: expected {expected:?}, got {found:?}"
            );
        }

        let mut unserved = widget();
        unserved["apiVersion"] = json!("example.com/v0");
        let violations = registry.validate(&unserved).expect_err("v0 is not served");
        assert_eq!(violations[0].path, "apiVersion");
    }

    #[test]
    fn load_errors_name_the_file() {
        let kubernetes = [SchemaSource {
            name: "meta.json",
            contents: TINY_OBJECT_META,
        }];
        let broken = [SchemaSource {
            name: "broken.yaml",
            contents: "kind: [unclosed",
        }];
        let error = SchemaRegistry::from_sources(&broken, &kubernetes).expect_err("invalid YAML");
        assert!(
            error.to_string().starts_with("broken.yaml: invalid YAML"),
            "{error}"
        );

        let not_a_crd = [SchemaSource {
            name: "pod.yaml",
            contents: "kind: Pod\napiVersion: v1\n",
        }];
        let error = SchemaRegistry::from_sources(&not_a_crd, &kubernetes).expect_err("not a CRD");
        assert_eq!(
            error.to_string(),
            "pod.yaml: expected a CustomResourceDefinition, found Pod"
        );

        let bad_pattern = WIDGET_CRD.replace(r"'^\d+$'", "'^(unclosed$'");
        let crds = [SchemaSource {
            name: "widgets.yaml",
            contents: &bad_pattern,
        }];
        let error = SchemaRegistry::from_sources(&crds, &kubernetes).expect_err("bad pattern");
        assert!(
            error
                .to_string()
                .starts_with(r#"widgets.yaml: pattern "^(unclosed$""#),
            "{error}"
        );

        let crds = [SchemaSource {
            name: "widgets.yaml",
            contents: WIDGET_CRD,
        }];
        let error = SchemaRegistry::from_sources(&crds, &[]).expect_err("no ObjectMeta");
        assert!(matches!(error, SchemaLoadError::MissingObjectMeta));

        let twice = [
            crds[0],
            SchemaSource {
                name: "again.yaml",
                contents: WIDGET_CRD,
            },
        ];
        let error = SchemaRegistry::from_sources(&twice, &kubernetes).expect_err("duplicate");
        assert_eq!(
            error.to_string(),
            "again.yaml: example.com/v1 Widget is already defined by widgets.yaml"
        );

        let error = SchemaRegistry::load(Path::new("/nonexistent/crds"), Path::new(KUBERNETES_DIR))
            .expect_err("missing directory");
        assert!(
            error
                .to_string()
                .starts_with("cannot read /nonexistent/crds"),
            "{error}"
        );
    }
}
