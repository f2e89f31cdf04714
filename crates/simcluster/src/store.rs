//! The simulated API server's objects, their field managers and the event history watches
//! replay.
use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
};

use backend::schema::SchemaRegistry;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use backend::cluster::fields::{self, FieldPath, Managed, Managers, display, get, leaves, overlaps, remove, set};

/// A kind the simulated cluster serves.
#[derive(Debug)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_owned() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `deployments.apps` or `services`, as the API server names resources in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.to_owned() } else { format!("{}.{}", self.plural, self.group) }
    }
}

const fn kind(group: &'static str, version: &'static str, kind: &'static str, plural: &'static str, namespaced: bool) -> Kind {
    Kind { group, version, kind, plural, namespaced }
}

/// Every kind Gatehouse applies, reads or watches, and the Lease its replicas elect a leader with.
pub const KINDS: &[Kind] = &[
    kind("", "v1", "Namespace", "namespaces", false),
    kind("", "v1", "Node", "nodes", false),
    kind("", "v1", "Pod", "pods", true),
    kind("", "v1", "ConfigMap", "configmaps", true),
    kind("", "v1", "Secret", "secrets", true),
    kind("", "v1", "Service", "services", true),
    kind("apps", "v1", "Deployment", "deployments", true),
    kind("gateway.networking.k8s.io", "v1", "GatewayClass", "gatewayclasses", false),
    kind("gateway.networking.k8s.io", "v1", "Gateway", "gateways", true),
    kind("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", true),
    kind("gateway.networking.k8s.io", "v1beta1", "ReferenceGrant", "referencegrants", true),
    kind("cilium.io", "v2", "CiliumLoadBalancerIPPool", "ciliumloadbalancerippools", false),
    kind("cilium.io", "v2alpha1", "CiliumL2AnnouncementPolicy", "ciliuml2announcementpolicies", false),
    kind("cilium.io", "v2", "CiliumBGPClusterConfig", "ciliumbgpclusterconfigs", false),
    kind("cilium.io", "v2", "CiliumBGPPeerConfig", "ciliumbgppeerconfigs", false),
    kind("cilium.io", "v2", "CiliumBGPAdvertisement", "ciliumbgpadvertisements", false),
    kind("coordination.k8s.io", "v1", "Lease", "leases", true),
];

/// The index of a kind in [`KINDS`] by its `kind` name.
pub fn kind_index(name: &str) -> usize {
    KINDS.iter().position(|k| k.kind == name).unwrap_or_else(|| unreachable!("{name} is in KINDS"))
}

pub fn find_kind(group: &str, version: &str, plural: &str) -> Option<usize> {
    KINDS.iter().position(|k| k.group == group && k.version == version && k.plural == plural)
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: usize,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(kind: usize, namespace: &str, name: &str) -> Key {
        Key { kind, namespace: namespace.to_owned(), name: name.to_owned() }
    }

    pub fn of(&self) -> &'static Kind {
        &KINDS[self.kind]
    }
}

/// A Kubernetes `Status` failure.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl StatusError {
    fn new(code: u16, reason: &'static str, message: String, details: Value) -> StatusError {
        StatusError { code, reason, message, details }
    }

    /// `details` of a Status about one object; `group` is left out for the core group, as the
    /// API server's `omitempty` does.
    fn named(kind: &Kind, name: &str) -> Value {
        if kind.group.is_empty() {
            json!({"name": name, "kind": kind.plural})
        } else {
            json!({"name": name, "group": kind.group, "kind": kind.plural})
        }
    }

    pub fn not_found(kind: &Kind, name: &str) -> StatusError {
        Self::new(404, "NotFound", format!("{} \"{name}\" not found", kind.qualified()), Self::named(kind, name))
    }

    pub fn bad_request(message: impl Into<String>) -> StatusError {
        Self::new(400, "BadRequest", message.into(), json!({}))
    }

    pub fn unsupported_media_type(content_type: &str) -> StatusError {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/apply-patch+yaml, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"), json!({}))
    }

    pub fn method_not_allowed() -> StatusError {
        Self::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource".into(), json!({}))
    }

    pub fn gone(message: String) -> StatusError {
        Self::new(410, "Expired", message, json!({}))
    }

    pub fn unauthorized() -> StatusError {
        Self::new(401, "Unauthorized", "Unauthorized".into(), json!({}))
    }

    /// The API server's 403, word for word (see `rbac::forbidden_message`); `details` leaves
    /// out what is empty, as its `omitempty` fields do.
    pub fn forbidden(user: &str, request: &super::rbac::Attributes<'_>) -> StatusError {
        let mut details = serde_json::Map::new();
        if let Some(name) = request.name {
            details.insert("name".into(), json!(name));
        }
        if !request.group.is_empty() {
            details.insert("group".into(), json!(request.group));
        }
        details.insert("kind".into(), json!(request.resource));
        Self::new(403, "Forbidden", super::rbac::forbidden_message(user, request), Value::Object(details))
    }

    fn invalid(kind: &Kind, name: &str, causes: Vec<(String, String)>) -> StatusError {
        let summary: Vec<String> = causes.iter().map(|(field, message)| format!("{field}: {message}")).collect();
        let causes: Vec<Value> = causes
            .iter()
            .map(|(field, message)| json!({"reason": "FieldValueInvalid", "message": message, "field": field}))
            .collect();
        let mut details = Self::named(kind, name);
        details["kind"] = json!(kind.kind);
        details["causes"] = Value::Array(causes);
        Self::new(422, "Invalid", format!("{} \"{name}\" is invalid: {}", kind.kind, summary.join(", ")), details)
    }

    pub fn body(&self) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "details": self.details, "code": self.code})
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub revision: u64,
    pub key: Key,
    pub kind: EventType,
    pub object: Value,
}

/// A write to one object.
#[derive(Debug, Clone)]
pub enum Change {
    /// `PATCH application/apply-patch+yaml`.
    Apply { force: bool, patch: Value },
    /// `POST` to the collection.
    Create(Value),
    /// `PUT`: the body's `resourceVersion`, when given, must be the stored one.
    Update(Value),
    /// `PATCH application/merge-patch+json` (and strategic merge, treated alike).
    Merge(Value),
}

#[derive(Debug, Clone)]
struct Stored {
    object: Value,
    managers: Managers,
}

/// How many events watches can replay; an older `resourceVersion` is answered 410 Expired.
const HISTORY: usize = 10_000;

pub struct Store {
    objects: BTreeMap<Key, Stored>,
    revision: u64,
    history: VecDeque<Event>,
    events: broadcast::Sender<Event>,
    registry: Arc<SchemaRegistry>,
    next_uid: u64,
    /// `(object, generation)` pairs whose rollout has taken its time and may report ready.
    settled: std::collections::BTreeSet<(Key, i64)>,
    /// Generations a controller saw that have not settled yet, for the clock to settle.
    settling: std::collections::BTreeSet<(Key, i64)>,
}

impl Store {
    pub fn new(registry: Arc<SchemaRegistry>) -> Store {
        Store {
            objects: BTreeMap::new(),
            revision: 1,
            history: VecDeque::new(),
            events: broadcast::channel(4096).0,
            registry,
            next_uid: 1,
            settled: std::collections::BTreeSet::new(),
            settling: std::collections::BTreeSet::new(),
        }
    }

    /// Whether an object's current generation may be reported ready: at once when rollouts
    /// take no time, else once the clock has settled it (`settle`).
    pub fn has_settled(&mut self, key: &Key, object: &Value, takes_time: bool) -> bool {
        let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        let entry = (key.clone(), generation);
        if !takes_time || self.settled.contains(&entry) {
            return true;
        }
        self.settling.insert(entry);
        false
    }

    /// The generations waiting to settle, handed to the clock once.
    pub fn take_settling(&mut self) -> Vec<(Key, i64)> {
        std::mem::take(&mut self.settling).into_iter().filter(|entry| !self.settled.contains(entry)).collect()
    }

    pub fn settle(&mut self, entries: Vec<(Key, i64)>) {
        self.settled.extend(entries.into_iter().filter(|(key, _)| self.objects.contains_key(key)));
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn get(&self, key: &Key) -> Result<Value, StatusError> {
        self.objects.get(key).map(|stored| stored.object.clone()).ok_or_else(|| StatusError::not_found(key.of(), &key.name))
    }

    pub fn find(&self, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&Key::new(kind_index(kind), namespace, name)).map(|stored| &stored.object)
    }

    /// Every object of a kind, in a namespace or in all, in name order.
    pub fn list(&self, kind: usize, namespace: Option<&str>) -> Vec<(Key, Value)> {
        self.objects
            .iter()
            .filter(|(key, _)| key.kind == kind && namespace.is_none_or(|ns| key.namespace == ns))
            .map(|(key, stored)| (key.clone(), stored.object.clone()))
            .collect()
    }

    pub fn all(&self, kind: &str) -> Vec<(Key, Value)> {
        self.list(kind_index(kind), None)
    }

    /// The events after `revision`, or 410 when the history no longer reaches back that far.
    pub fn events_since(&self, revision: u64) -> Result<Vec<Event>, StatusError> {
        if let Some(oldest) = self.history.front()
            && revision + 1 < oldest.revision
        {
            return Err(StatusError::gone(format!("too old resource version: {revision} ({})", oldest.revision - 1)));
        }
        Ok(self.history.iter().filter(|event| event.revision > revision).cloned().collect())
    }

    fn emit(&mut self, key: Key, kind: EventType, object: Value) {
        let event = Event { revision: self.revision, key, kind, object };
        self.history.push_back(event.clone());
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
        let _ = self.events.send(event);
    }

    fn bump(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// Applies a change as `manager` and returns the object as stored (or as it would be,
    /// with `dry_run`).
    pub fn write(&mut self, key: Key, manager: &str, change: Change, dry_run: bool) -> Result<Value, StatusError> {
        let kind = key.of();
        let existing = self.objects.get(&key).cloned();
        let body = match &change {
            Change::Apply { patch, .. } => patch,
            Change::Create(body) | Change::Update(body) | Change::Merge(body) => body,
        };
        check_identity(kind, &key, body, matches!(change, Change::Merge(_)))?;
        if kind.namespaced && existing.is_none() && self.find("Namespace", "", &key.namespace).is_none() {
            return Err(StatusError::not_found(&KINDS[kind_index("Namespace")], &key.namespace));
        }
        let now = backend::db::now_text();
        let (mut object, mut managers) = match &existing {
            Some(stored) => (stored.object.clone(), stored.managers.clone()),
            None => (json!({}), Managers::new()),
        };
        match change {
            Change::Apply { force, patch } => {
                let applied = leaves(&patch);
                let mut conflicts: Vec<(String, FieldPath)> = Vec::new();
                for (other, managed) in &managers {
                    if other == manager {
                        continue;
                    }
                    for path in &applied {
                        let owned = managed.fields.iter().any(|field| overlaps(field, path));
                        if owned && get(&object, path) != get(&patch, path) {
                            conflicts.push((other.clone(), path.clone()));
                        }
                    }
                }
                if !conflicts.is_empty() {
                    if !force {
                        return Err(apply_conflict(kind, &key.name, &conflicts));
                    }
                    for (other, path) in &conflicts {
                        if let Some(managed) = managers.get_mut(other) {
                            managed.fields.retain(|field| !overlaps(field, path));
                        }
                    }
                }
                let previous = managers.get(manager).map(|m| m.fields.clone()).unwrap_or_default();
                for dropped in previous.difference(&applied) {
                    let kept_by_other = managers
                        .iter()
                        .any(|(other, m)| other != manager && m.fields.iter().any(|f| overlaps(f, dropped)));
                    if !kept_by_other {
                        remove(&mut object, dropped);
                    }
                }
                for path in &applied {
                    if let Some(value) = get(&patch, path) {
                        set(&mut object, path, value.clone());
                    }
                }
                managers.insert(
                    manager.to_owned(),
                    Managed { operation: "Apply", api_version: kind.api_version(), time: now.clone(), fields: applied },
                );
            }
            Change::Create(body) => {
                if existing.is_some() {
                    return Err(StatusError::new(
                        409,
                        "AlreadyExists",
                        format!("{} \"{}\" already exists", kind.qualified(), key.name),
                        StatusError::named(kind, &key.name),
                    ));
                }
                take_over(&mut object, &mut managers, manager, kind, &now, body);
            }
            Change::Update(body) => {
                let Some(stored) = &existing else {
                    return Err(StatusError::not_found(kind, &key.name));
                };
                let given = body.pointer("/metadata/resourceVersion").and_then(Value::as_str);
                let current = stored.object.pointer("/metadata/resourceVersion").and_then(Value::as_str);
                if given.is_some() && given != current {
                    return Err(StatusError::new(
                        409,
                        "Conflict",
                        format!(
                            "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                            kind.qualified(),
                            key.name
                        ),
                        StatusError::named(kind, &key.name),
                    ));
                }
                take_over(&mut object, &mut managers, manager, kind, &now, body);
            }
            Change::Merge(patch) => {
                let Some(stored) = &existing else {
                    return Err(StatusError::not_found(kind, &key.name));
                };
                let mut merged = stored.object.clone();
                merge_patch(&mut merged, &patch);
                take_over(&mut object, &mut managers, manager, kind, &now, merged);
            }
        }
        managers.retain(|_, managed| !managed.fields.is_empty());
        set_identity(&mut object, kind, &key);
        if let Some(stored) = &existing {
            check_immutable(kind, &key.name, &stored.object, &object)?;
        }
        self.validate(kind, &key.name, &object)?;

        if let Some(stored) = &existing {
            let unchanged = without_server_fields(&stored.object) == without_server_fields(&object)
                && field_sets(&stored.managers) == field_sets(&managers);
            if unchanged {
                return Ok(stored.object.clone());
            }
            if stored.object.get("spec") != object.get("spec") {
                let generation = stored.object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
                set(&mut object, &path(&["metadata", "generation"]), json!(generation + 1));
            }
        } else {
            set(&mut object, &path(&["metadata", "uid"]), json!(format!("00000000-0000-4000-8000-{:012x}", self.next_uid)));
            set(&mut object, &path(&["metadata", "creationTimestamp"]), json!(now));
            set(&mut object, &path(&["metadata", "generation"]), json!(1));
            if !dry_run {
                self.next_uid += 1;
            }
        }
        set(&mut object, &path(&["metadata", "managedFields"]), fields::managed_fields(&managers));
        if dry_run {
            let version = existing.as_ref().and_then(|s| s.object.pointer("/metadata/resourceVersion").cloned());
            set(&mut object, &path(&["metadata", "resourceVersion"]), version.unwrap_or(json!("")));
            return Ok(object);
        }
        let version = self.bump();
        set(&mut object, &path(&["metadata", "resourceVersion"]), json!(version));
        self.objects.insert(key.clone(), Stored { object: object.clone(), managers });
        let event = if existing.is_some() { EventType::Modified } else { EventType::Added };
        self.emit(key, event, object.clone());
        Ok(object)
    }

    fn validate(&self, kind: &Kind, name: &str, object: &Value) -> Result<(), StatusError> {
        let mut checked = object.clone();
        if let Some(map) = checked.as_object_mut() {
            map.remove("status");
        }
        remove(&mut checked, &path(&["metadata", "managedFields"]));
        if !self.registry.contains(&kind.api_version(), kind.kind) {
            return Ok(());
        }
        self.registry.validate(&checked).map_err(|violations| {
            StatusError::invalid(
                kind,
                name,
                violations.into_iter().map(|violation| (violation.path, violation.message)).collect(),
            )
        })
    }

    /// Replaces an object's `status` as its controller does; nothing happens (no event, no
    /// new resourceVersion) when only condition times would change.
    pub fn set_status(&mut self, key: &Key, status: Value) {
        let Some(stored) = self.objects.get(key) else { return };
        if stored.object.get("status").map(without_times) == Some(without_times(&status)) {
            return;
        }
        let mut object = stored.object.clone();
        object["status"] = status;
        let version = self.bump();
        object["metadata"]["resourceVersion"] = json!(version);
        if let Some(stored) = self.objects.get_mut(key) {
            stored.object = object.clone();
        }
        self.emit(key.clone(), EventType::Modified, object);
    }

    /// Deletes an object, everything in it when it is a Namespace, and whatever its
    /// ownerReferences tie to a deleted owner.
    pub fn delete(&mut self, key: &Key, dry_run: bool) -> Result<Value, StatusError> {
        let object = self.get(key)?;
        if dry_run {
            return Ok(object);
        }
        self.remove_object(key);
        if key.of().kind == "Namespace" {
            let inside: Vec<Key> = self.objects.keys().filter(|k| k.of().namespaced && k.namespace == key.name).cloned().collect();
            for inner in inside {
                self.remove_object(&inner);
            }
        }
        self.collect_garbage();
        Ok(object)
    }

    fn remove_object(&mut self, key: &Key) {
        if let Some(stored) = self.objects.remove(key) {
            let mut object = stored.object;
            let version = self.bump();
            object["metadata"]["resourceVersion"] = json!(version);
            self.emit(key.clone(), EventType::Deleted, object);
        }
    }

    fn collect_garbage(&mut self) {
        loop {
            let uids: std::collections::BTreeSet<String> = self
                .objects
                .values()
                .filter_map(|s| s.object.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let orphans: Vec<Key> = self
                .objects
                .iter()
                .filter(|(_, stored)| {
                    stored.object.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|owners| {
                        owners.iter().any(|owner| owner.get("uid").and_then(Value::as_str).is_some_and(|uid| !uids.contains(uid)))
                    })
                })
                .map(|(key, _)| key.clone())
                .collect();
            if orphans.is_empty() {
                return;
            }
            for orphan in orphans {
                self.remove_object(&orphan);
            }
        }
    }
}

fn path(segments: &[&str]) -> FieldPath {
    segments.iter().map(|s| (*s).to_owned()).collect()
}

fn check_identity(kind: &Kind, key: &Key, body: &Value, partial: bool) -> Result<(), StatusError> {
    let api_version = body.get("apiVersion").and_then(Value::as_str);
    let body_kind = body.get("kind").and_then(Value::as_str);
    if (!partial || api_version.is_some())
        && (api_version != Some(kind.api_version().as_str()) || body_kind != Some(kind.kind))
    {
        return Err(StatusError::bad_request(format!(
            "the body is {}/{}, but the URL is for {} {}",
            api_version.unwrap_or("(no apiVersion)"),
            body_kind.unwrap_or("(no kind)"),
            kind.api_version(),
            kind.kind
        )));
    }
    let name = body.pointer("/metadata/name").and_then(Value::as_str);
    if (!partial || name.is_some()) && name != Some(key.name.as_str()) {
        return Err(StatusError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            name.unwrap_or("none"),
            key.name
        )));
    }
    let namespace = body.pointer("/metadata/namespace").and_then(Value::as_str);
    if kind.namespaced && namespace.is_some_and(|ns| ns != key.namespace) {
        return Err(StatusError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request".to_owned(),
        ));
    }
    Ok(())
}

fn set_identity(object: &mut Value, kind: &Kind, key: &Key) {
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.kind);
    set(object, &path(&["metadata", "name"]), json!(key.name));
    if kind.namespaced {
        set(object, &path(&["metadata", "namespace"]), json!(key.namespace));
    }
}

/// A whole-object write (create, update, merge patch): `manager` takes the fields it changed
/// from whoever had them; fields it dropped leave their owners.
fn take_over(object: &mut Value, managers: &mut Managers, manager: &str, kind: &Kind, now: &str, body: Value) {
    let old = leaves(object);
    let new = leaves(&body);
    let changed: Vec<FieldPath> = new.iter().filter(|p| get(object, p) != get(&body, p)).cloned().collect();
    let dropped: Vec<FieldPath> = old.difference(&new).cloned().collect();
    for managed in managers.values_mut() {
        managed.fields.retain(|f| !changed.iter().chain(&dropped).any(|p| overlaps(f, p)));
    }
    let mine = managers.entry(manager.to_owned()).or_insert_with(|| Managed {
        operation: "Update",
        api_version: kind.api_version(),
        time: now.to_owned(),
        fields: Default::default(),
    });
    mine.time = now.to_owned();
    mine.fields.extend(changed);
    let status = object.get("status").cloned();
    *object = body;
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(status) = status {
            map.insert("status".to_owned(), status);
        }
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(map) = target.as_object_mut() else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn check_immutable(kind: &Kind, name: &str, before: &Value, after: &Value) -> Result<(), StatusError> {
    if kind.kind == "Deployment" && before.pointer("/spec/selector") != after.pointer("/spec/selector") {
        let value = after.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
        return Err(StatusError::invalid(
            kind,
            name,
            vec![("spec.selector".to_owned(), format!("Invalid value: {value}: field is immutable"))],
        ));
    }
    Ok(())
}

fn apply_conflict(kind: &Kind, name: &str, conflicts: &[(String, FieldPath)]) -> StatusError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, path)| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": display(path)})
        })
        .collect();
    let listed: Vec<String> = conflicts.iter().map(|(manager, path)| format!("conflict with \"{manager}\": {}", display(path))).collect();
    let mut details = StatusError::named(kind, name);
    details["causes"] = Value::Array(causes);
    StatusError::new(
        409,
        "Conflict",
        format!("Apply failed with {} conflict{}: {}", conflicts.len(), if conflicts.len() == 1 { "" } else { "s" }, listed.join(", ")),
        details,
    )
}

fn without_server_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"] {
            metadata.remove(field);
        }
    }
    object
}

fn field_sets(managers: &Managers) -> BTreeMap<&str, &fields::FieldSet> {
    managers.iter().map(|(name, managed)| (name.as_str(), &managed.fields)).collect()
}

fn without_times(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(k, _)| k.as_str() != "lastTransitionTime").map(|(k, v)| (k.clone(), without_times(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_times).collect()),
        other => other.clone(),
    }
}
