//! The recursive check of a JSON value against an OpenAPI v3 / structural CRD schema.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::formats::{check_string_format, integer_range};
use super::{Origin, SchemaRegistry, Violation};

const REQUIRED: &str = "required field is missing";
/// Guards against `$ref` cycles; real objects are far shallower.
const MAX_DEPTH: u32 = 256;

/// What a schema node is checked in the context of.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// The document that `$ref`s resolve in.
    root: &'a Value,
    origin: Origin,
    /// Whether this node judges unknown fields. Off inside `anyOf`/`oneOf`/`not` branches, which
    /// only add constraints to the fields their enclosing schema declares.
    strict: bool,
    depth: u32,
}

pub(super) struct Validator<'r> {
    registry: &'r SchemaRegistry,
}

impl<'r> Validator<'r> {
    pub(super) fn new(registry: &'r SchemaRegistry) -> Self {
        Self { registry }
    }

    /// All violations of a whole object, unsorted.
    pub(super) fn validate_object(&self, object: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        let Some(fields) = object.as_object() else {
            out.push(Violation::new(
                "",
                format!("expected an object, found {}", describe(object)),
            ));
            return out;
        };
        let api_version = type_meta_field(fields, "apiVersion", &mut out);
        let kind = type_meta_field(fields, "kind", &mut out);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            return out;
        };
        let Some(entry) = self.registry.entry(api_version, kind) else {
            out.push(self.unknown_kind(api_version, kind));
            return out;
        };
        let Some((root, schema)) = self.registry.resolve(&entry.location) else {
            out.push(Violation::new(
                "",
                format!("the schema of {api_version} {kind} is missing"),
            ));
            return out;
        };
        let scope = Scope {
            root,
            origin: entry.origin,
            strict: true,
            depth: 0,
        };
        match entry.origin {
            // The API server defaults a custom resource before validating it, and `oneOf`
            // branches may depend on defaulted fields (Gateway `spec.addresses[].type`).
            Origin::CustomResource => {
                let mut defaulted = object.clone();
                apply_defaults(schema, &mut defaulted);
                self.check(scope, schema, &defaulted, "", &mut out);
            }
            Origin::BuiltIn => self.check(scope, schema, object, "", &mut out),
        }
        check_name(fields, &mut out);
        out
    }

    fn unknown_kind(&self, api_version: &str, kind: &str) -> Violation {
        let served = self.registry.api_versions_of(kind);
        if served.is_empty() {
            Violation::new(
                "kind",
                format!("unknown kind {kind:?}: no schema is loaded for {api_version} {kind}"),
            )
        } else {
            Violation::new(
                "apiVersion",
                format!(
                    "{kind} is not served as {api_version:?}; known apiVersions: {}",
                    served.join(", ")
                ),
            )
        }
    }

    fn check(
        &self,
        scope: Scope<'_>,
        schema: &Value,
        value: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let Some(schema) = schema.as_object() else {
            return;
        };
        if scope.depth >= MAX_DEPTH {
            out.push(Violation::new(
                path,
                "schema nesting is too deep (recursive $ref?)",
            ));
            return;
        }
        let scope = Scope {
            depth: scope.depth + 1,
            ..scope
        };
        if value.is_null() && flag(schema, "nullable") {
            return;
        }

        if let Some(reference) = string(schema, "$ref") {
            match resolve_ref(scope.root, reference) {
                Some(target) => self.check(scope, target, value, path, out),
                None => out.push(Violation::new(
                    path,
                    format!("schema reference {reference} cannot be resolved"),
                )),
            }
        }
        if let Some(branches) = array(schema, "allOf") {
            // Kubernetes documents wrap a referenced type as `allOf: [{$ref: …}]`; such a wrapper
            // leaves the unknown-field check to the referenced schema.
            let inner = Scope {
                strict: scope.strict && !schema.contains_key("properties"),
                ..scope
            };
            for branch in branches {
                self.check(inner, branch, value, path, out);
            }
        }
        self.check_alternatives(scope, schema, value, path, out);

        if !check_type(schema, value, path, out) {
            return;
        }
        if let Some(allowed) = array(schema, "enum")
            && !allowed.contains(value)
        {
            out.push(Violation::new(
                path,
                format!(
                    "unsupported value {}: must be one of {}",
                    preview(value),
                    list(allowed)
                ),
            ));
        }
        match value {
            Value::String(text) => self.check_string(schema, text, path, out),
            Value::Number(number) => check_number(schema, number, path, out),
            Value::Array(items) => self.check_array(scope, schema, items, path, out),
            Value::Object(fields) => self.check_object(scope, schema, fields, path, out),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// `anyOf`, `oneOf` and `not`.
    fn check_alternatives(
        &self,
        scope: Scope<'_>,
        schema: &Map<String, Value>,
        value: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let branch_scope = Scope {
            strict: false,
            ..scope
        };
        let attempt = |branch: &Value| {
            let mut found = Vec::new();
            self.check(branch_scope, branch, value, path, &mut found);
            found
        };
        if let Some(branches) = array(schema, "anyOf") {
            let failures: Vec<_> = branches.iter().map(attempt).collect();
            if failures.iter().all(|failure| !failure.is_empty()) {
                out.push(Violation::new(
                    path,
                    format!(
                        "must match at least one anyOf schema ({})",
                        explain(path, &failures)
                    ),
                ));
            }
        }
        if let Some(branches) = array(schema, "oneOf") {
            let failures: Vec<_> = branches.iter().map(attempt).collect();
            match failures.iter().filter(|failure| failure.is_empty()).count() {
                1 => {}
                0 => out.push(Violation::new(
                    path,
                    format!(
                        "must match exactly one oneOf schema, but matches none ({})",
                        explain(path, &failures)
                    ),
                )),
                matches => out.push(Violation::new(
                    path,
                    format!("must match exactly one oneOf schema, but matches {matches}"),
                )),
            }
        }
        if let Some(negated) = schema.get("not")
            && attempt(negated).is_empty()
        {
            let message = match negated.get("enum").and_then(Value::as_array) {
                Some(values) => format!("must not be {}", list(values)),
                None => "must not match the schema under `not`".to_owned(),
            };
            out.push(Violation::new(path, message));
        }
    }

    fn check_string(
        &self,
        schema: &Map<String, Value>,
        text: &str,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let length = text.chars().count() as u64;
        if let Some(min) = unsigned(schema, "minLength")
            && length < min
        {
            out.push(Violation::new(
                path,
                format!("must be at least {min} characters long, but is {length}"),
            ));
        }
        if let Some(max) = unsigned(schema, "maxLength")
            && length > max
        {
            out.push(Violation::new(
                path,
                format!("must be at most {max} characters long, but is {length}"),
            ));
        }
        if let Some(pattern) = string(schema, "pattern") {
            match self.registry.patterns.get(pattern) {
                Some(regex) if regex.is_match(text) => {}
                Some(_) => out.push(Violation::new(
                    path,
                    format!("{text:?} does not match the pattern {pattern}"),
                )),
                None => out.push(Violation::new(
                    path,
                    format!("the pattern {pattern} was not compiled when loading"),
                )),
            }
        }
        if let Some(format) = string(schema, "format")
            && let Some(problem) = check_string_format(format, text)
        {
            out.push(Violation::new(path, problem));
        }
    }

    fn check_array(
        &self,
        scope: Scope<'_>,
        schema: &Map<String, Value>,
        items: &[Value],
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let count = items.len() as u64;
        if let Some(min) = unsigned(schema, "minItems")
            && count < min
        {
            out.push(Violation::new(
                path,
                format!("must have at least {min} items, but has {count}"),
            ));
        }
        if let Some(max) = unsigned(schema, "maxItems")
            && count > max
        {
            out.push(Violation::new(
                path,
                format!("must have at most {max} items, but has {count}"),
            ));
        }
        if let Some(item_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                self.check(scope, item_schema, item, &index_path(path, index), out);
            }
        }
        match string(schema, "x-kubernetes-list-type") {
            Some("set") => {
                for (index, item) in items.iter().enumerate() {
                    if items[..index].contains(item) {
                        out.push(Violation::new(
                            index_path(path, index),
                            format!("duplicate value {} in a list of type set", preview(item)),
                        ));
                    }
                }
            }
            Some("map") => check_map_list(scope, schema, items, path, out),
            _ => {}
        }
    }

    fn check_object(
        &self,
        scope: Scope<'_>,
        schema: &Map<String, Value>,
        fields: &Map<String, Value>,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let embedded = flag(schema, "x-kubernetes-embedded-resource");
        let rejects_unknown = scope.strict
            && !flag(schema, "x-kubernetes-preserve-unknown-fields")
            && match scope.origin {
                Origin::BuiltIn => properties.is_some(),
                // A structural schema prunes, i.e. rejects, every field it does not declare.
                Origin::CustomResource => true,
            };

        // A custom resource's schema declares `metadata` as a bare `type: object`; the API server
        // treats it (and the metadata of embedded resources) as an ObjectMeta.
        let is_resource = embedded || (path.is_empty() && scope.origin == Origin::CustomResource);
        for (key, child) in fields {
            let child_path = key_path(path, key);
            if key == "metadata" && is_resource {
                self.check_object_meta(scope, child, &child_path, out);
            } else if let Some(property) = properties.and_then(|properties| properties.get(key)) {
                self.check(scope, property, child, &child_path, out);
            } else if embedded && (key == "apiVersion" || key == "kind") {
                if !child.is_string() {
                    out.push(Violation::new(
                        child_path,
                        format!("expected a string, found {}", describe(child)),
                    ));
                }
            } else {
                match schema.get("additionalProperties") {
                    Some(Value::Bool(true)) => {}
                    Some(Value::Bool(false)) => {
                        out.push(Violation::new(child_path, unknown_field(key, properties)));
                    }
                    Some(additional @ Value::Object(_)) => {
                        self.check(scope, additional, child, &child_path, out);
                    }
                    _ if rejects_unknown => {
                        out.push(Violation::new(child_path, unknown_field(key, properties)));
                    }
                    _ => {}
                }
            }
        }

        for name in array(schema, "required")
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !fields.contains_key(name) {
                out.push(Violation::new(key_path(path, name), REQUIRED));
            }
        }
        let count = fields.len() as u64;
        if let Some(min) = unsigned(schema, "minProperties")
            && count < min
        {
            out.push(Violation::new(
                path,
                format!("must have at least {min} entries, but has {count}"),
            ));
        }
        if let Some(max) = unsigned(schema, "maxProperties")
            && count > max
        {
            out.push(Violation::new(
                path,
                format!("must have at most {max} entries, but has {count}"),
            ));
        }
    }

    fn check_object_meta(
        &self,
        scope: Scope<'_>,
        value: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let meta = self.registry.object_meta.as_ref();
        let Some((root, schema)) = meta.and_then(|location| self.registry.resolve(location)) else {
            out.push(Violation::new(
                path,
                "no ObjectMeta schema is loaded to validate metadata",
            ));
            return;
        };
        let scope = Scope {
            root,
            origin: Origin::BuiltIn,
            strict: true,
            depth: scope.depth,
        };
        self.check(scope, schema, value, path, out);
    }
}

/// Structural-schema defaulting: fills in the `default` of every missing property, following
/// `properties`, `items` and `additionalProperties` (not `$ref` or junctors, which CRDs lack).
fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    // Like the API server, a `null` in a non-nullable field is defaulted too.
                    let unset = match fields.get(name) {
                        None => true,
                        Some(Value::Null) => property.get("nullable") != Some(&Value::Bool(true)),
                        Some(_) => false,
                    };
                    if let Some(default) = property.get("default")
                        && unset
                    {
                        fields.insert(name.clone(), default.clone());
                    }
                }
            }
            for (name, child) in fields.iter_mut() {
                let child_schema = schema
                    .get("properties")
                    .and_then(|properties| properties.get(name))
                    .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
                if let Some(child_schema) = child_schema {
                    apply_defaults(child_schema, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// `apiVersion` and `kind` must be present strings before the schema can even be found.
fn type_meta_field<'v>(
    fields: &'v Map<String, Value>,
    key: &str,
    out: &mut Vec<Violation>,
) -> Option<&'v str> {
    match fields.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Some(text),
        Some(Value::String(_)) | None => {
            out.push(Violation::new(key, REQUIRED));
            None
        }
        Some(other) => {
            out.push(Violation::new(
                key,
                format!("expected a string, found {}", describe(other)),
            ));
            None
        }
    }
}

/// The API server needs a name, or a prefix to generate one from.
fn check_name(fields: &Map<String, Value>, out: &mut Vec<Violation>) {
    match fields.get("metadata") {
        None => out.push(Violation::new("metadata", REQUIRED)),
        Some(Value::Object(metadata)) => {
            let unset = |key: &str| match metadata.get(key) {
                None => true,
                Some(Value::String(text)) => text.is_empty(),
                Some(_) => false, // a type error, reported by the schema
            };
            if unset("name") && unset("generateName") {
                out.push(Violation::new(
                    "metadata.name",
                    format!("{REQUIRED} (set metadata.name or metadata.generateName)"),
                ));
            }
        }
        Some(_) => {}
    }
}

/// Returns whether `value` has the declared type, so that the remaining keywords apply.
fn check_type(
    schema: &Map<String, Value>,
    value: &Value,
    path: &str,
    out: &mut Vec<Violation>,
) -> bool {
    if flag(schema, "x-kubernetes-int-or-string") {
        let valid = is_integer(value) || value.is_string();
        if !valid {
            out.push(Violation::new(
                path,
                format!("expected an integer or a string, found {}", describe(value)),
            ));
        }
        return valid;
    }
    let Some(expected) = string(schema, "type") else {
        return true;
    };
    let valid = match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        other => {
            out.push(Violation::new(
                path,
                format!("the schema has an unsupported type {other:?}"),
            ));
            return false;
        }
    };
    if !valid {
        let article = if expected.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        out.push(Violation::new(
            path,
            format!("expected {article} {expected}, found {}", describe(value)),
        ));
    }
    valid
}

fn check_number(
    schema: &Map<String, Value>,
    number: &Number,
    path: &str,
    out: &mut Vec<Violation>,
) {
    let bounds = [
        (
            "minimum",
            "exclusiveMinimum",
            Ordering::Less,
            "greater than",
        ),
        (
            "maximum",
            "exclusiveMaximum",
            Ordering::Greater,
            "less than",
        ),
    ];
    for (keyword, exclusive_keyword, beyond, relation) in bounds {
        let Some(bound) = schema.get(keyword).and_then(Value::as_number) else {
            continue;
        };
        let exclusive = flag(schema, exclusive_keyword);
        let violated = match compare(number, bound) {
            Some(Ordering::Equal) => exclusive,
            Some(ordering) => ordering == beyond,
            None => false,
        };
        if violated {
            let or_equal = if exclusive { "" } else { " or equal to" };
            out.push(Violation::new(
                path,
                format!("must be {relation}{or_equal} {bound}, but is {number}"),
            ));
        }
    }
    if let Some(format) = string(schema, "format")
        && let Some((min, max)) = integer_range(format)
        && (number.is_i64() || number.is_u64())
        && !number
            .as_i64()
            .is_some_and(|value| (min..=max).contains(&value))
    {
        out.push(Violation::new(
            path,
            format!("{number} is out of range for format {format} ({min}..={max})"),
        ));
    }
}

/// `x-kubernetes-list-type: map`: the `x-kubernetes-list-map-keys` identify an entry, so their
/// values must be unique. A missing key counts with its default, as the API server defaults it
/// before comparing (e.g. a Service port's `protocol: TCP`).
fn check_map_list(
    scope: Scope<'_>,
    schema: &Map<String, Value>,
    items: &[Value],
    path: &str,
    out: &mut Vec<Violation>,
) {
    static MISSING: Value = Value::Null;
    let keys: Vec<&str> = array(schema, "x-kubernetes-list-map-keys")
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let item_schema = schema.get("items");
    let mut seen: Vec<Vec<&Value>> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(fields) = item.as_object() else {
            continue; // a type error, reported by `items`
        };
        let identity: Vec<&Value> = keys
            .iter()
            .map(|key| {
                fields
                    .get(*key)
                    .or_else(|| item_schema.and_then(|s| property_default(scope.root, s, key, 0)))
                    .unwrap_or(&MISSING)
            })
            .collect();
        if seen.contains(&identity) {
            let described: Vec<String> = keys
                .iter()
                .zip(&identity)
                .map(|(key, value)| format!("{key}={}", preview(value)))
                .collect();
            out.push(Violation::new(
                index_path(path, index),
                format!(
                    "duplicate entry with {} in a list of type map",
                    described.join(", ")
                ),
            ));
        } else {
            seen.push(identity);
        }
    }
}

/// The `default` of property `key` of an object schema, looking through `$ref` and `allOf`.
fn property_default<'v>(
    root: &'v Value,
    schema: &'v Value,
    key: &str,
    depth: u32,
) -> Option<&'v Value> {
    let schema = schema.as_object()?;
    if depth > 8 {
        return None;
    }
    let declared = schema
        .get("properties")
        .and_then(|properties| properties.get(key))
        .and_then(|property| property.get("default"));
    if declared.is_some() {
        return declared;
    }
    let referenced = string(schema, "$ref").and_then(|reference| resolve_ref(root, reference));
    referenced
        .into_iter()
        .chain(array(schema, "allOf").into_iter().flatten())
        .find_map(|inner| property_default(root, inner, key, depth + 1))
}

/// `#/components/schemas/…` within the same document.
fn resolve_ref<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    root.pointer(reference.strip_prefix('#')?)
}

fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    let exact = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (exact(a), exact(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64()
}

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn string<'s>(schema: &'s Map<String, Value>, key: &str) -> Option<&'s str> {
    schema.get(key).and_then(Value::as_str)
}

fn unsigned(schema: &Map<String, Value>, key: &str) -> Option<u64> {
    schema.get(key).and_then(Value::as_u64)
}

fn array<'s>(schema: &'s Map<String, Value>, key: &str) -> Option<&'s Vec<Value>> {
    schema.get(key).and_then(Value::as_array)
}

/// `spec.replicas`, or `metadata.labels["app.kubernetes.io/name"]` for keys that are not plain
/// identifiers.
fn key_path(path: &str, key: &str) -> String {
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (plain, path.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{path}.{key}"),
        (false, _) => format!("{path}[{}]", Value::from(key)),
    }
}

fn index_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

fn unknown_field(key: &str, properties: Option<&Map<String, Value>>) -> String {
    let closest = properties
        .into_iter()
        .flat_map(Map::keys)
        .map(|candidate| (edit_distance(key, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    match closest {
        Some((_, candidate)) => format!("unknown field {key:?} (did you mean {candidate:?}?)"),
        None => format!("unknown field {key:?}"),
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Summarises why each branch of an `anyOf`/`oneOf` failed, with paths relative to `path`.
fn explain(path: &str, failures: &[Vec<Violation>]) -> String {
    failures
        .iter()
        .enumerate()
        .map(|(index, violations)| {
            let reasons: Vec<String> = violations
                .iter()
                .map(|violation| {
                    let relative = violation.path.strip_prefix(path).unwrap_or(&violation.path);
                    let relative = relative.trim_start_matches('.');
                    if relative.is_empty() {
                        violation.message.clone()
                    } else {
                        format!("{relative}: {}", violation.message)
                    }
                })
                .collect();
            format!("option {}: {}", index + 1, reasons.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("boolean {flag}"),
        Value::Number(number) if number.is_f64() => format!("number {number}"),
        Value::Number(number) => format!("integer {number}"),
        Value::String(_) => format!("string {}", preview(value)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Compact JSON of a value, shortened to keep messages readable.
fn preview(value: &Value) -> String {
    const LIMIT: usize = 80;
    let text = value.to_string();
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn list(values: &[Value]) -> String {
    values.iter().map(preview).collect::<Vec<_>>().join(", ")
}
