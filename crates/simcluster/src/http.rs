//! The Kubernetes REST API of the simulated cluster: discovery, get, list, watch, create,
//! update, patch (server-side apply and merge patch), delete, `dryRun=All`, and `Status`
//! bodies for every failure.
use std::{
    collections::{BTreeMap, VecDeque},
    convert::Infallible,
    sync::Arc,
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{MatchedPath, Path, Query, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{
    Shared,
    admission,
    cilium::reconcile,
    rbac::Attributes,
    store::{Change, Event, Key, KINDS, StatusError, Store, find_kind},
};

impl IntoResponse for StatusError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/api", get(core_versions))
        .route("/apis", get(groups))
        .route("/api/{*rest}", any(resource))
        .route("/apis/{*rest}", any(resource))
        .with_state(shared)
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), StatusError> {
    let access = shared.access();
    let Some(token) = &access.token else { return Ok(()) };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if access.expired || presented != Some(token.as_str()) {
        return Err(StatusError::unauthorized());
    }
    Ok(())
}

async fn version(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Result<Json<Value>, StatusError> {
    authenticate(&shared, &headers)?;
    Ok(Json(json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-gatehouse-sim", "gitCommit": "simulated",
                   "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
                   "compiler": "gc", "platform": "linux/amd64"})))
}

async fn core_versions(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Result<Json<Value>, StatusError> {
    authenticate(&shared, &headers)?;
    Ok(Json(json!({"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})))
}

async fn groups(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Result<Json<Value>, StatusError> {
    authenticate(&shared, &headers)?;
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for kind in KINDS.iter().filter(|k| !k.group.is_empty()) {
        let list = versions.entry(kind.group).or_default();
        if !list.contains(&kind.version) {
            list.push(kind.version);
        }
    }
    let groups: Vec<Value> = versions
        .iter()
        .map(|(group, versions)| {
            let listed: Vec<Value> =
                versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
            json!({"name": group, "versions": listed, "preferredVersion": listed[0]})
        })
        .collect();
    Ok(Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})))
}

fn resource_list(group: &str, version: &str) -> Result<Value, StatusError> {
    let resources: Vec<Value> = KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .flat_map(|k| {
            [
                json!({"name": k.plural, "singularName": k.kind.to_lowercase(), "namespaced": k.namespaced, "kind": k.kind,
                       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}),
                json!({"name": format!("{}/status", k.plural), "singularName": "", "namespaced": k.namespaced,
                       "kind": k.kind, "verbs": ["get"]}),
            ]
        })
        .collect();
    if resources.is_empty() {
        return Err(StatusError::not_found_path());
    }
    let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    Ok(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

impl StatusError {
    fn not_found_path() -> StatusError {
        StatusError { code: 404, reason: "NotFound", message: "the server could not find the requested resource".into(), details: json!({}) }
    }
}

type Params = Vec<(String, String)>;

/// A resource path: `/api/{version}/…` for the core group, `/apis/{group}/{version}/…` for
/// the others (which of the two routes matched says which).
async fn resource(
    State(shared): State<Arc<Shared>>,
    matched: MatchedPath,
    Path(rest): Path<String>,
    method: Method,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let grouped = matched.as_str().starts_with("/apis/");
    match (grouped, segments.as_slice()) {
        (false, [version, rest @ ..]) => serve(&shared, "", version, rest, method, &params, &headers, body).await,
        (true, [group, version, rest @ ..]) => serve(&shared, group, version, rest, method, &params, &headers, body).await,
        _ => StatusError::not_found_path().into_response(),
    }
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// A request for a resource, after the group and version.
struct Target<'a> {
    kind: usize,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    status: bool,
    /// The deprecated `/watch/` path form: a watch whatever the query says.
    watch_path: bool,
}

fn target<'a>(group: &str, version: &str, rest: &[&'a str]) -> Option<Target<'a>> {
    let (watch_path, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let namespaced = |plural: &str| find_kind(group, version, plural).filter(|k| KINDS[*k].namespaced);
    let (kind, namespace, rest) = match rest {
        ["namespaces", namespace, plural, rest @ ..] if namespaced(plural).is_some() => (namespaced(plural)?, Some(*namespace), rest),
        [plural, rest @ ..] => (find_kind(group, version, plural)?, None, rest),
        [] => return None,
    };
    match rest {
        [] => Some(Target { kind, namespace, name: None, status: false, watch_path }),
        [name] => Some(Target { kind, namespace, name: Some(name), status: false, watch_path }),
        [name, "status"] if !watch_path => Some(Target { kind, namespace, name: Some(name), status: true, watch_path }),
        _ => None,
    }
}

/// The verb RBAC is asked about, derived from the request as the API server's RequestInfo
/// does: a GET of a named object is `get`, of a collection `list`, or `watch` with
/// `watch=true` (or `1`) or under `/watch/`; a DELETE of a collection is `deletecollection`.
fn verb(method: &Method, target: &Target<'_>, params: &Params) -> &'static str {
    match (method.as_str(), target.name) {
        ("GET" | "HEAD", _) if target.watch_path => "watch",
        ("GET" | "HEAD", None) if is_true(param(params, "watch")) => "watch",
        ("GET" | "HEAD", None) => "list",
        ("GET" | "HEAD", Some(_)) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", None) => "deletecollection",
        ("DELETE", Some(_)) => "delete",
        _ => "unknown",
    }
}

/// The object a request names, for RBAC's `resourceNames` and the 403 message: the path's
/// name, or for a collection the name an exact `metadata.name` field selector picks, as the
/// API server reads it (so `await_condition`'s single-object watch names its object).
fn request_name<'a>(target: &Target<'a>, params: &'a Params) -> Option<&'a str> {
    target.name.or_else(|| {
        let selector = param(params, "fieldSelector")?;
        let mut terms = selector.split(',').map(str::trim).filter(|t| !t.is_empty());
        let (field, value) = match (terms.next(), terms.next()) {
            (Some(term), None) => term.split_once("==").or_else(|| term.split_once('='))?,
            _ => return None,
        };
        (field.trim() == "metadata.name").then(|| value.trim())
    })
}

fn is_true(value: Option<&str>) -> bool {
    matches!(value, Some("true" | "1"))
}

/// Records the request and asks the authorizer: the test's forbidden list, then RBAC when
/// it is enforced.
fn authorize(shared: &Shared, request: &Attributes<'_>) -> Result<(), StatusError> {
    shared.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(super::ApiRequest {
        verb: request.verb.to_owned(),
        group: request.group.to_owned(),
        resource: match request.subresource {
            Some(subresource) => format!("{}/{subresource}", request.resource),
            None => request.resource.to_owned(),
        },
        namespace: request.namespace.map(str::to_owned),
    });
    let access = shared.access();
    let listed = access.forbidden.iter().any(|(verb, plural)| verb == request.verb && plural == request.resource);
    let refused = listed || access.rbac.as_ref().is_some_and(|rbac| !rbac.allows(&access.identity, request));
    if refused {
        let error = StatusError::forbidden(&access.identity.user, request);
        shared.refusals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(error.message.clone());
        return Err(error);
    }
    Ok(())
}

#[expect(clippy::too_many_arguments, reason = "one request's parts, passed on once")]
async fn serve(
    shared: &Arc<Shared>,
    group: &str,
    version: &str,
    rest: &[&str],
    method: Method,
    params: &Params,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = authenticate(shared, headers) {
        return error.into_response();
    }
    if rest.is_empty() {
        return match resource_list(group, version) {
            Ok(list) => Json(list).into_response(),
            Err(error) => error.into_response(),
        };
    }
    let Some(target) = target(group, version, rest) else {
        return StatusError::not_found_path().into_response();
    };
    let kind = &KINDS[target.kind];
    let verb = verb(&method, &target, params);
    let request = Attributes {
        verb,
        group: kind.group,
        resource: kind.plural,
        subresource: target.status.then_some("status"),
        namespace: target.namespace,
        name: request_name(&target, params),
    };
    if let Err(error) = authorize(shared, &request) {
        return error.into_response();
    }
    // Server-side apply of an object that does not exist creates it, and the API server asks
    // the authorizer for `create` as well before it does.
    let applies = content_type(headers).starts_with("application/apply-patch+yaml");
    if verb == "patch" && applies && let Some(name) = target.name {
        let absent = shared.store().get(&Key::new(target.kind, target.namespace.unwrap_or_default(), name)).is_err();
        if absent && let Err(error) = authorize(shared, &Attributes { verb: "create", ..request.clone() }) {
            return error.into_response();
        }
    }
    let dry_run = param(params, "dryRun") == Some("All");
    if matches!(verb, "create" | "update" | "patch" | "delete") && !dry_run && !target.status {
        let written = super::Write {
            verb: if verb == "patch" && applies { "apply".to_owned() } else { verb.to_owned() },
            kind: kind.kind.to_owned(),
            namespace: target.namespace.map(str::to_owned),
            name: target.name.map(str::to_owned).or_else(|| {
                parse_body(headers, &body).ok().and_then(|o| o.pointer("/metadata/name").and_then(Value::as_str).map(str::to_owned))
            }).unwrap_or_default(),
            manager: param(params, "fieldManager").unwrap_or_default().to_owned(),
        };
        shared.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(written);
        let delay = shared.behaviour().write_delay;
        if !delay.is_zero() {
            // The simulated API server is slow to answer, as a loaded one is.
            tokio::time::sleep(delay).await;
        }
    }
    let result = match (verb, target.name) {
        ("watch", _) => return watch(shared, &target, params),
        ("list", None) => Ok((StatusCode::OK, list(shared, &target, params))),
        ("get", Some(name)) => {
            let key = Key::new(target.kind, target.namespace.unwrap_or_default(), name);
            shared.store().get(&key).map(|object| (StatusCode::OK, object))
        }
        (_, _) if target.status => Err(StatusError::method_not_allowed()),
        ("create", None) => parse_body(headers, &body).and_then(|object| {
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let manager = param(params, "fieldManager").unwrap_or("unknown");
            write(shared, Key::new(target.kind, target.namespace.unwrap_or_default(), &name), manager, Change::Create(object), dry_run)
                .map(|object| (StatusCode::CREATED, object))
        }),
        ("update", Some(name)) => parse_body(headers, &body).and_then(|object| {
            let manager = param(params, "fieldManager").unwrap_or("unknown");
            write(shared, Key::new(target.kind, target.namespace.unwrap_or_default(), name), manager, Change::Update(object), dry_run)
                .map(|object| (StatusCode::OK, object))
        }),
        ("patch", Some(name)) => patch(shared, &target, name, params, headers, &body, dry_run),
        ("delete", Some(name)) => {
            let key = Key::new(target.kind, target.namespace.unwrap_or_default(), name);
            let mut store = shared.store();
            if let Ok(existing) = store.get(&key)
                && let Err(denied) = admit(shared, &store, &key, "DELETE", None, Some(&existing), dry_run)
            {
                return denied.into_response();
            }
            let deleted = store.delete(&key, dry_run);
            if !dry_run {
                reconcile_now(shared, &mut store);
            }
            deleted.map(|object| (StatusCode::OK, object))
        }
        ("deletecollection", None) => delete_collection(shared, &target, params, dry_run).map(|list| (StatusCode::OK, list)),
        _ => Err(StatusError::method_not_allowed()),
    };
    match result {
        Ok((status, object)) => (status, Json(object)).into_response(),
        Err(error) => error.into_response(),
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json")
}

/// JSON, or YAML for server-side apply (kubectl sends YAML; kube sends JSON, which is YAML too).
fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, StatusError> {
    let parsed = serde_json::from_slice::<Value>(body).or_else(|json_error| {
        if content_type(headers).starts_with("application/apply-patch+yaml") {
            serde_yaml::from_slice::<Value>(body).map_err(|e| e.to_string())
        } else {
            Err(json_error.to_string())
        }
    });
    match parsed {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(StatusError::bad_request("the body must be an object")),
        Err(error) => Err(StatusError::bad_request(format!("the body does not parse: {error}"))),
    }
}

fn patch(
    shared: &Arc<Shared>,
    target: &Target<'_>,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
    dry_run: bool,
) -> Result<(StatusCode, Value), StatusError> {
    let key = Key::new(target.kind, target.namespace.unwrap_or_default(), name);
    let content_type = content_type(headers);
    let patch = parse_body(headers, body)?;
    let change = if content_type.starts_with("application/apply-patch+yaml") {
        if param(params, "fieldManager").is_none_or(str::is_empty) {
            return Err(StatusError::bad_request("PATCH with apply-patch+yaml needs ?fieldManager= naming the field manager"));
        }
        Change::Apply { force: is_true(param(params, "force")), patch }
    } else if content_type.starts_with("application/merge-patch+json")
        || content_type.starts_with("application/strategic-merge-patch+json")
    {
        Change::Merge(patch)
    } else {
        return Err(StatusError::unsupported_media_type(content_type));
    };
    let manager = param(params, "fieldManager").unwrap_or("unknown");
    let created = shared.store().get(&key).is_err();
    write(shared, key, manager, change, dry_run)
        .map(|object| (if created && !dry_run { StatusCode::CREATED } else { StatusCode::OK }, object))
}

fn write(shared: &Arc<Shared>, key: Key, manager: &str, change: Change, dry_run: bool) -> Result<Value, StatusError> {
    let mut store = shared.store();
    if shared.access().admission.is_some() {
        // Validating admission sees the object as it would be stored: after the change is
        // merged and the schema has passed it.
        let existing = store.get(&key).ok();
        let would_be = store.write(key.clone(), manager, change.clone(), true)?;
        let operation = if existing.is_some() { "UPDATE" } else { "CREATE" };
        admit(shared, &store, &key, operation, Some(&would_be), existing.as_ref(), dry_run)?;
    }
    let written = store.write(key.clone(), manager, change, dry_run)?;
    if dry_run {
        return Ok(written);
    }
    reconcile_now(shared, &mut store);
    Ok(store.get(&key).unwrap_or(written))
}

/// The ValidatingAdmissionPolicies of `Access::admission`, for its identity, on one write;
/// a refusal is answered with the API server's Status (and counted among the refusals).
fn admit(
    shared: &Shared,
    store: &Store,
    key: &Key,
    operation: &str,
    object: Option<&Value>,
    old_object: Option<&Value>,
    dry_run: bool,
) -> Result<(), StatusError> {
    let access = shared.access();
    let Some(policies) = &access.admission else { return Ok(()) };
    let kind = key.of();
    let namespace = kind.namespaced.then_some(key.namespace.as_str());
    let namespace_object = namespace.and_then(|namespace| store.find("Namespace", "", namespace)).cloned();
    let request = admission::Request {
        operation,
        group: kind.group,
        version: kind.version,
        resource: kind.plural,
        subresource: None,
        kind: kind.kind,
        namespace,
        name: &key.name,
        user: &access.identity,
        object,
        old_object,
        namespace_object: namespace_object.as_ref(),
        dry_run,
    };
    policies.review(&request).map_err(|denial| {
        shared.refusals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(denial.message.clone());
        let mut details = json!({"name": key.name, "kind": kind.plural, "causes": [{"message": denial.cause}]});
        if !kind.group.is_empty() {
            details["group"] = json!(kind.group);
        }
        StatusError { code: denial.code, reason: denial.reason, message: denial.message, details }
    })
}

/// Runs the controllers, and when a rollout takes time, settles what they left waiting once
/// that time has passed and runs them again.
fn reconcile_now(shared: &Arc<Shared>, store: &mut Store) {
    let behaviour = shared.behaviour();
    reconcile(store, behaviour);
    let settling = store.take_settling();
    if settling.is_empty() {
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(behaviour.ready_after).await;
        let mut store = shared.store();
        store.settle(settling);
        reconcile_now(&shared, &mut store);
    });
}

/// `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated: every term must hold.
pub fn label_selector_matches(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector.split(',').map(str::trim).filter(|t| !t.is_empty()).all(|term| {
        if let Some((key, value)) = term.split_once("!=") {
            labels.get(key.trim()).map(String::as_str) != Some(value.trim())
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels.get(key.trim()).map(String::as_str) == Some(value.trim())
        } else if let Some(key) = term.strip_prefix('!') {
            !labels.contains_key(key.trim())
        } else {
            labels.contains_key(term)
        }
    })
}

fn field_selector_matches(selector: &str, object: &Value) -> bool {
    selector.split(',').map(str::trim).filter(|t| !t.is_empty()).all(|term| {
        let (field, value, equal) = match term.split_once("!=") {
            Some((f, v)) => (f, v, false),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((f, v)) => (f, v, true),
                None => return false,
            },
        };
        let pointer = format!("/{}", field.trim().replace('.', "/"));
        let actual = object.pointer(&pointer).and_then(Value::as_str).unwrap_or_default();
        (actual == value.trim()) == equal
    })
}

fn matches(target_kind: usize, namespace: Option<&str>, params: &Params, key: &Key, object: &Value) -> bool {
    key.kind == target_kind
        && namespace.is_none_or(|ns| key.namespace == ns)
        && param(params, "labelSelector")
            .is_none_or(|s| label_selector_matches(s, &backend::cluster::vips::labels_of(object)))
        && param(params, "fieldSelector").is_none_or(|s| field_selector_matches(s, object))
}

fn list(shared: &Arc<Shared>, target: &Target<'_>, params: &Params) -> Value {
    let store = shared.store();
    let items: Vec<Value> = store
        .list(target.kind, target.namespace)
        .into_iter()
        .filter(|(key, object)| matches(target.kind, target.namespace, params, key, object))
        .map(|(_, object)| object)
        .collect();
    let kind = &KINDS[target.kind];
    json!({"apiVersion": kind.api_version(), "kind": format!("{}List", kind.kind),
           "metadata": {"resourceVersion": store.revision().to_string()}, "items": items})
}

/// Deletes every object of the collection the selectors pick and answers the list of them.
fn delete_collection(shared: &Arc<Shared>, target: &Target<'_>, params: &Params, dry_run: bool) -> Result<Value, StatusError> {
    let mut store = shared.store();
    let picked: Vec<(Key, Value)> = store
        .list(target.kind, target.namespace)
        .into_iter()
        .filter(|(key, object)| matches(target.kind, target.namespace, params, key, object))
        .collect();
    // Each object is admitted as a delete of its own; the first refusal answers the request.
    for (key, object) in &picked {
        admit(shared, &store, key, "DELETE", None, Some(object), dry_run)?;
    }
    let picked: Vec<Key> = picked.into_iter().map(|(key, _)| key).collect();
    let items: Vec<Value> = picked.iter().filter_map(|key| store.delete(key, dry_run).ok()).collect();
    if !dry_run {
        reconcile_now(shared, &mut store);
    }
    let kind = &KINDS[target.kind];
    Ok(json!({"apiVersion": kind.api_version(), "kind": format!("{}List", kind.kind),
              "metadata": {"resourceVersion": store.revision().to_string()}, "items": items}))
}

struct WatchState {
    replay: VecDeque<Event>,
    live: broadcast::Receiver<Event>,
    deadline: tokio::time::Instant,
    kind: usize,
    namespace: Option<String>,
    params: Params,
}

/// A stream of `{"type", "object"}` lines from `resourceVersion` on (or every current object
/// as ADDED without one), until `timeoutSeconds`.
fn watch(shared: &Arc<Shared>, target: &Target<'_>, params: &Params) -> Response {
    let mut params = params.clone();
    if let Some(name) = target.name {
        // `/watch/namespaces/team/services/api` watches one object, as a name selector would.
        let by_name = format!("metadata.name={name}");
        match params.iter_mut().find(|(key, _)| key == "fieldSelector") {
            Some((_, selector)) => *selector = format!("{selector},{by_name}"),
            None => params.push(("fieldSelector".to_owned(), by_name)),
        }
    }
    let params = &params;
    let store = shared.store();
    let since = param(params, "resourceVersion").and_then(|v| v.parse::<u64>().ok()).filter(|v| *v > 0);
    let replay = match since {
        Some(revision) => match store.events_since(revision) {
            Ok(events) => events.into(),
            Err(error) => return error.into_response(),
        },
        None => store
            .list(target.kind, target.namespace)
            .into_iter()
            .map(|(key, object)| Event { revision: store.revision(), key, kind: super::store::EventType::Added, object })
            .collect(),
    };
    let timeout = param(params, "timeoutSeconds").and_then(|v| v.parse::<u64>().ok()).unwrap_or(1800);
    let state = WatchState {
        replay,
        live: store.subscribe(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        kind: target.kind,
        namespace: target.namespace.map(str::to_owned),
        params: params.clone(),
    };
    drop(store);
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            let event = match state.replay.pop_front() {
                Some(event) => event,
                None => match tokio::time::timeout_at(state.deadline, state.live.recv()).await {
                    Ok(Ok(event)) => event,
                    // Lagged, closed, or the timeout: the client watches again from its last version.
                    Ok(Err(_)) | Err(_) => return None,
                },
            };
            if matches(state.kind, state.namespace.as_deref(), &state.params, &event.key, &event.object) {
                let mut line = json!({"type": event.kind.as_str(), "object": event.object}).to_string();
                line.push('\n');
                return Some((Ok::<_, Infallible>(Bytes::from(line)), state));
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors_take_equality_and_existence_terms() {
        let labels = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        assert!(label_selector_matches("a=1", &labels));
        assert!(label_selector_matches("a==1,!b", &labels));
        assert!(label_selector_matches("a", &labels));
        assert!(!label_selector_matches("a!=1", &labels));
        assert!(!label_selector_matches("b", &labels));
    }

    #[test]
    fn paths_name_namespaced_and_cluster_resources() {
        let t = target("", "v1", &["namespaces", "team", "services", "api"]).expect("a target");
        assert_eq!((KINDS[t.kind].kind, t.namespace, t.name), ("Service", Some("team"), Some("api")));
        let t = target("", "v1", &["namespaces", "team"]).expect("a target");
        assert_eq!((KINDS[t.kind].kind, t.namespace, t.name), ("Namespace", None, Some("team")));
        let t = target("apps", "v1", &["deployments"]).expect("a target");
        assert_eq!((KINDS[t.kind].kind, t.name), ("Deployment", None));
        assert!(target("", "v1", &["events"]).is_none());
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// The verbs of k8s.io/apiserver's RequestInfo, which RBAC is asked about.
    #[test]
    fn verbs_are_derived_from_the_request_as_the_api_server_does() {
        let named = target("apps", "v1", &["namespaces", "team", "deployments", "api"]).expect("a target");
        let collection = target("apps", "v1", &["namespaces", "team", "deployments"]).expect("a target");
        let none = params(&[]);
        assert_eq!(verb(&Method::GET, &named, &none), "get");
        assert_eq!(verb(&Method::GET, &named, &params(&[("watch", "true")])), "get", "a named GET is a get whatever the query");
        assert_eq!(verb(&Method::GET, &collection, &none), "list");
        assert_eq!(verb(&Method::GET, &collection, &params(&[("watch", "true")])), "watch");
        assert_eq!(verb(&Method::GET, &collection, &params(&[("watch", "1")])), "watch");
        assert_eq!(verb(&Method::GET, &collection, &params(&[("watch", "false")])), "list");
        let watch_path = target("apps", "v1", &["watch", "namespaces", "team", "deployments", "api"]).expect("a target");
        assert_eq!(verb(&Method::GET, &watch_path, &none), "watch");
        assert_eq!(verb(&Method::PATCH, &named, &none), "patch");
        assert_eq!(verb(&Method::PUT, &named, &none), "update");
        assert_eq!(verb(&Method::POST, &collection, &none), "create");
        assert_eq!(verb(&Method::DELETE, &named, &none), "delete");
        assert_eq!(verb(&Method::DELETE, &collection, &none), "deletecollection");
    }

    #[test]
    fn an_exact_name_selector_names_the_object_of_a_collection_request() {
        let collection = target("apps", "v1", &["namespaces", "team", "deployments"]).expect("a target");
        let by_name = params(&[("fieldSelector", "metadata.name=api"), ("watch", "true")]);
        assert_eq!(request_name(&collection, &by_name), Some("api"));
        assert_eq!(request_name(&collection, &params(&[("fieldSelector", "metadata.name==api")])), Some("api"));
        assert_eq!(request_name(&collection, &params(&[("fieldSelector", "metadata.name!=api")])), None);
        assert_eq!(request_name(&collection, &params(&[("fieldSelector", "metadata.name=api,spec.x=y")])), None);
        assert_eq!(request_name(&collection, &params(&[])), None);
    }
}

