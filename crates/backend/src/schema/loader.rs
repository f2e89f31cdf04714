//! Reading CRDs and Kubernetes OpenAPI documents into a [`SchemaRegistry`].

use std::collections::btree_map::Entry;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::formats::re2_to_rust;
use super::{Document, KindEntry, Location, Origin, SchemaLoadError, SchemaRegistry, SchemaSource};

pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Enumerations of built-in types that the API server enforces in Go code
/// (`pkg/apis/*/validation`) but that the published OpenAPI v3 documents do not declare as
/// `enum`. Each entry is a component schema, a JSON pointer inside it and the accepted values;
/// the `enum` is added wherever a document contains that schema.
pub(super) const NATIVE_ENUMS: &[(&str, &str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "/properties/type",
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "/properties/externalTrafficPolicy",
        &["Cluster", "Local"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "/properties/internalTrafficPolicy",
        &["Cluster", "Local"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "/properties/sessionAffinity",
        &["ClientIP", "None"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "/properties/ipFamilyPolicy",
        &["SingleStack", "PreferDualStack", "RequireDualStack"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "/properties/ipFamilies/items",
        &["IPv4", "IPv6"],
    ),
    (
        "io.k8s.api.core.v1.ServicePort",
        "/properties/protocol",
        &["TCP", "UDP", "SCTP"],
    ),
    (
        "io.k8s.api.core.v1.ContainerPort",
        "/properties/protocol",
        &["TCP", "UDP", "SCTP"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        "/properties/imagePullPolicy",
        &["Always", "IfNotPresent", "Never"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        "/properties/terminationMessagePolicy",
        &["File", "FallbackToLogsOnError"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "/properties/restartPolicy",
        &["Always", "OnFailure", "Never"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "/properties/dnsPolicy",
        &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
    ),
    (
        "io.k8s.api.core.v1.HTTPGetAction",
        "/properties/scheme",
        &["HTTP", "HTTPS"],
    ),
    (
        "io.k8s.api.core.v1.SeccompProfile",
        "/properties/type",
        &["Localhost", "RuntimeDefault", "Unconfined"],
    ),
    (
        "io.k8s.api.core.v1.Toleration",
        "/properties/operator",
        &["Equal", "Exists"],
    ),
    (
        "io.k8s.api.core.v1.Toleration",
        "/properties/effect",
        // Empty means "every effect".
        &["", "NoSchedule", "PreferNoSchedule", "NoExecute"],
    ),
    (
        "io.k8s.api.core.v1.TopologySpreadConstraint",
        "/properties/whenUnsatisfiable",
        &["DoNotSchedule", "ScheduleAnyway"],
    ),
    (
        "io.k8s.api.apps.v1.DeploymentStrategy",
        "/properties/type",
        &["Recreate", "RollingUpdate"],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
        "/properties/operator",
        &["In", "NotIn", "Exists", "DoesNotExist"],
    ),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
        "/properties/unhealthyPodEvictionPolicy",
        &["IfHealthyBudget", "AlwaysAllow"],
    ),
    (
        "io.k8s.api.networking.v1.HTTPIngressPath",
        "/properties/pathType",
        &["Exact", "Prefix", "ImplementationSpecific"],
    ),
    (
        "io.k8s.api.networking.v1.NetworkPolicySpec",
        "/properties/policyTypes/items",
        &["Ingress", "Egress"],
    ),
    (
        "io.k8s.api.networking.v1.NetworkPolicyPort",
        "/properties/protocol",
        &["TCP", "UDP", "SCTP"],
    ),
];

/// Reads every file below `dir` whose extension is one of `extensions`, sorted by path.
pub(super) fn read_files(
    dir: &Path,
    extensions: &[&str],
) -> Result<Vec<(String, String)>, SchemaLoadError> {
    let mut paths = Vec::new();
    collect_paths(dir, extensions, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| match fs::read_to_string(&path) {
            Ok(contents) => Ok((path.display().to_string(), contents)),
            Err(source) => Err(SchemaLoadError::Io { path, source }),
        })
        .collect()
}

fn collect_paths(
    dir: &Path,
    extensions: &[&str],
    paths: &mut Vec<PathBuf>,
) -> Result<(), SchemaLoadError> {
    let io_error = |source| SchemaLoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        if path.is_dir() {
            collect_paths(&path, extensions, paths)?;
        } else if path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| extensions.contains(&extension))
        {
            paths.push(path);
        }
    }
    Ok(())
}

fn invalid(file: &str, message: impl Into<String>) -> SchemaLoadError {
    SchemaLoadError::Invalid {
        file: file.to_owned(),
        message: message.into(),
    }
}

fn str_at<'v>(value: &'v Value, pointer: &str, file: &str) -> Result<&'v str, SchemaLoadError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(file, format!("missing string at {pointer}")))
}

/// `~` and `/` must be escaped in a JSON pointer segment.
fn pointer_segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl SchemaRegistry {
    /// Adds every CustomResourceDefinition of a (possibly multi-document) YAML file. Returns
    /// whether the file held at least one.
    pub(super) fn add_crd_file(
        &mut self,
        source: &SchemaSource<'_>,
    ) -> Result<bool, SchemaLoadError> {
        let file = source.name;
        let mut found = false;
        for document in serde_yaml::Deserializer::from_str(source.contents) {
            let yaml = serde_yaml::Value::deserialize(document).map_err(|source| {
                SchemaLoadError::Yaml {
                    file: file.to_owned(),
                    source,
                }
            })?;
            if yaml.is_null() {
                continue; // an empty document, e.g. after a trailing `---`
            }
            let crd = serde_json::to_value(yaml).map_err(|source| SchemaLoadError::Json {
                file: file.to_owned(),
                source,
            })?;
            self.add_crd(file, crd)?;
            found = true;
        }
        Ok(found)
    }

    fn add_crd(&mut self, file: &str, crd: Value) -> Result<(), SchemaLoadError> {
        let kind_of_file = str_at(&crd, "/kind", file)?;
        if kind_of_file != "CustomResourceDefinition" {
            return Err(invalid(
                file,
                format!("expected a CustomResourceDefinition, found {kind_of_file}"),
            ));
        }
        let group = str_at(&crd, "/spec/group", file)?.to_owned();
        let kind = str_at(&crd, "/spec/names/kind", file)?.to_owned();
        let versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid(file, "missing spec.versions"))?;

        let mut served = Vec::new();
        for (index, version) in versions.iter().enumerate() {
            if !version
                .get("served")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                continue;
            }
            let name = version
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(file, format!("spec.versions[{index}] has no name")))?;
            let pointer = format!("/spec/versions/{index}/schema/openAPIV3Schema");
            let schema = crd
                .pointer(&pointer)
                .filter(|schema| schema.is_object())
                .ok_or_else(|| {
                    invalid(
                        file,
                        format!("served version {name} has no openAPIV3Schema"),
                    )
                })?;
            self.compile_patterns(file, schema)?;
            served.push((format!("{group}/{name}"), pointer));
        }

        let document = self.push_document(file, crd);
        for (api_version, pointer) in served {
            self.register(
                file,
                api_version,
                kind.clone(),
                KindEntry {
                    location: Location { document, pointer },
                    origin: Origin::CustomResource,
                },
            )?;
        }
        Ok(())
    }

    /// Adds an OpenAPI v3 document: every schema under `components.schemas` with an
    /// `x-kubernetes-group-version-kind` becomes a kind.
    pub(super) fn add_kubernetes_document(
        &mut self,
        source: &SchemaSource<'_>,
    ) -> Result<(), SchemaLoadError> {
        let file = source.name;
        let mut root: Value =
            serde_json::from_str(source.contents).map_err(|source| SchemaLoadError::Json {
                file: file.to_owned(),
                source,
            })?;
        add_native_enums(&mut root);
        let schemas = root
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(file, "missing components.schemas"))?;

        let mut kinds = Vec::new();
        for (name, schema) in schemas {
            self.compile_patterns(file, schema)?;
            let pointer = format!("/components/schemas/{}", pointer_segment(name));
            let gvks = schema
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for gvk in gvks {
                let field = |key: &str| {
                    gvk.get(key).and_then(Value::as_str).ok_or_else(|| {
                        invalid(
                            file,
                            format!("{name}: x-kubernetes-group-version-kind without {key}"),
                        )
                    })
                };
                let (group, version, kind) = (field("group")?, field("version")?, field("kind")?);
                let api_version = if group.is_empty() {
                    version.to_owned()
                } else {
                    format!("{group}/{version}")
                };
                kinds.push((api_version, kind.to_owned(), pointer.clone()));
            }
        }
        let has_object_meta = schemas.contains_key(OBJECT_META);

        let document = self.push_document(file, root);
        if has_object_meta && self.object_meta.is_none() {
            self.object_meta = Some(Location {
                document,
                pointer: format!("/components/schemas/{}", pointer_segment(OBJECT_META)),
            });
        }
        for (api_version, kind, pointer) in kinds {
            let entry = KindEntry {
                location: Location { document, pointer },
                origin: Origin::BuiltIn,
            };
            self.register(file, api_version, kind, entry)?;
        }
        Ok(())
    }

    fn push_document(&mut self, name: &str, root: Value) -> usize {
        self.documents.push(Document {
            name: name.to_owned(),
            root,
        });
        self.documents.len() - 1
    }

    /// A kind defined twice is an error, except between Kubernetes documents, which all repeat
    /// the `meta/v1` kinds (`DeleteOptions`, `WatchEvent`): there the first one is kept.
    fn register(
        &mut self,
        file: &str,
        api_version: String,
        kind: String,
        entry: KindEntry,
    ) -> Result<(), SchemaLoadError> {
        match self.kinds.entry((api_version, kind)) {
            Entry::Vacant(vacant) => {
                vacant.insert(entry);
                Ok(())
            }
            Entry::Occupied(occupied) => {
                let previous = occupied.get();
                if previous.origin == Origin::BuiltIn && entry.origin == Origin::BuiltIn {
                    return Ok(());
                }
                let (api_version, kind) = occupied.key().clone();
                Err(SchemaLoadError::DuplicateKind {
                    file: file.to_owned(),
                    api_version,
                    kind,
                    previous: self.documents[previous.location.document].name.clone(),
                })
            }
        }
    }

    /// Compiles every `pattern` reachable from `schema` through schema keywords (not through
    /// `$ref`: referenced schemas are compiled as components of their own document).
    fn compile_patterns(&mut self, file: &str, schema: &Value) -> Result<(), SchemaLoadError> {
        let Some(schema) = schema.as_object() else {
            return Ok(());
        };
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && !self.patterns.contains_key(pattern)
        {
            let regex = regex::Regex::new(&re2_to_rust(pattern)).map_err(|source| {
                SchemaLoadError::Pattern {
                    file: file.to_owned(),
                    pattern: pattern.to_owned(),
                    source,
                }
            })?;
            self.patterns.insert(pattern.to_owned(), regex);
        }
        let nested = schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|properties| properties.values())
            .chain(
                ["items", "additionalProperties", "not"]
                    .iter()
                    .filter_map(|key| schema.get(*key)),
            )
            .chain(
                ["allOf", "anyOf", "oneOf"]
                    .iter()
                    .filter_map(|key| schema.get(*key).and_then(Value::as_array))
                    .flatten(),
            );
        for child in nested {
            self.compile_patterns(file, child)?;
        }
        Ok(())
    }
}

fn add_native_enums(root: &mut Value) {
    for (component, pointer, values) in NATIVE_ENUMS {
        let full = format!(
            "/components/schemas/{}{pointer}",
            pointer_segment(component)
        );
        if let Some(Value::Object(schema)) = root.pointer_mut(&full) {
            schema.entry("enum").or_insert_with(|| {
                Value::Array(values.iter().map(|value| Value::from(*value)).collect())
            });
        }
    }
}
