//! Fields of Kubernetes objects, as server-side apply sees them: which manager set which
//! field (the simulated cluster), and what a bundle would change (the preview).
//!
//! A field is the path of a leaf of the object (a scalar, a list or an empty map). Lists are
//! atomic — a manager owns a whole list — where the real API server merges some lists by key
//! (containers by name, ports by port). Gatehouse applies whole objects, so the difference only
//! shows when two managers edit different entries of one list.
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

pub type FieldPath = Vec<String>;
pub type FieldSet = BTreeSet<FieldPath>;

/// Paths the API server owns or that name the object: never part of a manager's set.
fn is_identity(path: &[String]) -> bool {
    match path {
        [first] => first == "apiVersion" || first == "kind",
        [first, second, ..] if first == "metadata" => matches!(
            second.as_str(),
            "name" | "namespace" | "uid" | "resourceVersion" | "generation" | "creationTimestamp" | "managedFields"
        ),
        [first, ..] => first == "status",
        [] => true,
    }
}

/// Every leaf path of `object` that a manager can own.
pub fn leaves(object: &Value) -> FieldSet {
    fn walk(value: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    prefix.push(key.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            _ => {
                if !is_identity(prefix) {
                    out.insert(prefix.clone());
                }
            }
        }
    }
    let mut out = FieldSet::new();
    walk(object, &mut Vec::new(), &mut out);
    out
}

pub fn get<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, key| value.get(key))
}

pub fn set(object: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cursor = object;
    for key in parents {
        if !cursor.is_object() {
            *cursor = Value::Object(Map::new());
        }
        let Some(map) = cursor.as_object_mut() else { return };
        cursor = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    if !cursor.is_object() {
        *cursor = Value::Object(Map::new());
    }
    if let Some(map) = cursor.as_object_mut() {
        map.insert(last.clone(), value);
    }
}

/// Removes a leaf and the maps it leaves empty.
pub fn remove(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cursor = &mut *object;
    for key in parents {
        match cursor.get_mut(key) {
            Some(next) => cursor = next,
            None => return,
        }
    }
    if let Some(map) = cursor.as_object_mut() {
        map.remove(last);
        if map.is_empty() && parents.len() > 1 {
            remove(object, parents);
        }
    }
}

/// `.spec.replicas` or `.metadata.labels.gatehouse.io/advertise`, as the API server writes fields.
pub fn display(path: &[String]) -> String {
    path.iter().map(|key| format!(".{key}")).collect()
}

/// Two paths overlap when one is the other or lies inside it.
pub fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// A field set as `fieldsV1`: `{"f:spec": {"f:replicas": {}}}`.
pub fn fields_v1(fields: &FieldSet) -> Value {
    let mut root = Value::Object(Map::new());
    for path in fields {
        let keyed: FieldPath = path.iter().map(|key| format!("f:{key}")).collect();
        set(&mut root, &keyed, Value::Object(Map::new()));
    }
    root
}

/// One manager's share of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Managed {
    /// `Apply` or `Update`.
    pub operation: &'static str,
    pub api_version: String,
    pub time: String,
    pub fields: FieldSet,
}

pub type Managers = BTreeMap<String, Managed>;

/// `metadata.managedFields` for `managers`.
pub fn managed_fields(managers: &Managers) -> Value {
    Value::Array(
        managers
            .iter()
            .map(|(manager, managed)| {
                serde_json::json!({
                    "manager": manager,
                    "operation": managed.operation,
                    "apiVersion": managed.api_version,
                    "time": managed.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields_v1(&managed.fields),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(p: &str) -> FieldPath {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn leaves_skip_identity_and_status_and_keep_lists_whole() {
        let object = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "labels": {"x": "1"}},
                            "spec": {"ports": [{"port": 80}]}, "status": {"loadBalancer": {}}});
        let found: Vec<String> = leaves(&object).iter().map(|p| display(p)).collect();
        assert_eq!(found, [".metadata.labels.x", ".spec.ports"]);
    }

    #[test]
    fn removing_a_leaf_prunes_the_maps_it_empties() {
        let mut object = json!({"metadata": {"labels": {"x": "1"}, "name": "a"}});
        remove(&mut object, &path("metadata.labels.x"));
        assert_eq!(object, json!({"metadata": {"name": "a"}}));
        set(&mut object, &path("spec.replicas"), json!(3));
        assert_eq!(object["spec"]["replicas"], 3);
        assert_eq!(fields_v1(&leaves(&object)), json!({"f:spec": {"f:replicas": {}}}));
    }
}
