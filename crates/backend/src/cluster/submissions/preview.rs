//! The preview: each object of the bundle compared field by field with the live one, Secrets hidden, through a server-side dry run.
use super::*;

/// How a field of the bundle compares with the live object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// `.spec.replicas`, as the API server writes fields.
    pub field: String,
    /// `added`, `changed` or `unchanged`.
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    pub desired: Value,
}

/// One object of a preview: its YAML and its fields against the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewObject {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// Whether the object exists in the cluster now.
    pub live: bool,
    /// The YAML Gatehouse would apply (a Secret's values hidden).
    pub yaml: String,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub fields: Vec<FieldChange>,
    /// Why the server-side dry run did not run or failed, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the preview left to the API server at apply time, and why: an object in a
    /// namespace this submission creates cannot be dry-run (a dry run creates nothing, so
    /// the API server answers 404 for the namespace), and is not a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

pub(super) const HIDDEN: &str = "(hidden)";

pub(super) fn hide_secret(object: &Value) -> Value {
    let mut object = object.clone();
    if text(&object, "/kind") == "Secret"
        && let Some(data) = object.get_mut("data").and_then(Value::as_object_mut)
    {
        for value in data.values_mut() {
            *value = Value::String(HIDDEN.to_owned());
        }
    }
    object
}

impl Submitter {
    /// Each object's YAML and a field-level diff against the live cluster, computed from a
    /// server-side-apply dry run (so defaults and other managers' fields are as the API server
    /// would leave them). Nothing is written.
    pub async fn preview(&self, caller: &Principal, application: &str, environment: &str) -> Result<Vec<PreviewObject>, SubmitError> {
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let cluster = self.cluster_of(&plan, environment)?;
        let plan = self.with_vip(&plan, application, environment, &cluster, Vip::Preview).await?;
        let objects = self.objects(&plan, application, environment).await?;
        let new_namespaces = Self::new_namespaces(&cluster, &objects).await;
        let mut preview = Vec::new();
        for object in &objects {
            let target = identity(object);
            let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
            if let Some(namespace) = target.namespace.as_ref().filter(|ns| new_namespaces.contains(*ns)) {
                let info = format!(
                    "new: its namespace {namespace} is created by this submission; the server checks it when it is applied"
                );
                let live = Live { exists: false, value: None };
                preview.push(preview_object(target, object, live, object, None, Some(info)));
                continue;
            }
            let outcome = async {
                let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
                let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
                let live = api.get_opt(&target.name).await?;
                let mut params = PatchParams::apply(FIELD_MANAGER).dry_run();
                // An adopted object's next apply takes over the fields others hold: so does its preview.
                params.force = matches!(self.pending_adoption(&cluster.name, &target).await, Ok(Some(_)));
                let dry = api.patch(&target.name, &params, &Patch::Apply(object)).await;
                Ok::<_, kube::Error>((live, dry))
            }
            .await;
            let (live, result, note) = match outcome {
                Ok((live, Ok(result))) => (live, serde_json::to_value(result).unwrap_or(Value::Null), None),
                Ok((live, Err(error))) => {
                    (live, object.clone(), Some(format!("the dry run was refused: {}", failure::explain(&error, &label))))
                }
                Err(error) => (None, object.clone(), Some(format!("the cluster could not be asked: {}", failure::explain(&error, &label)))),
            };
            let live_value = live.as_ref().and_then(|live| serde_json::to_value(live).ok());
            let note = match &live_value {
                Some(live) if !is_managed(live) => Some(ownership::refusal(&target, live, application, environment)),
                _ => note,
            };
            let live = Live { exists: live.is_some(), value: live_value.as_ref() };
            preview.push(preview_object(target, object, live, &result, note, None));
        }
        Ok(preview)
    }
}

/// The live object of a preview: whether it exists, and as JSON.
pub(super) struct Live<'a> {
    pub(super) exists: bool,
    pub(super) value: Option<&'a Value>,
}

/// One object of a preview: each field of `object` as `result` (the dry run's answer, or the
/// object itself) would leave it, against the live object.
pub(super) fn preview_object(
    target: SubmissionObject,
    object: &Value,
    live: Live<'_>,
    result: &Value,
    note: Option<String>,
    info: Option<String>,
) -> PreviewObject {
    let mut fields = Vec::new();
    for path in super::super::fields::leaves(object) {
        let desired = super::super::fields::get(result, &path).or_else(|| super::super::fields::get(object, &path)).cloned().unwrap_or(Value::Null);
        let before = live.value.and_then(|live| super::super::fields::get(live, &path)).cloned();
        let change = match &before {
            None => "added",
            Some(before) if *before == desired => "unchanged",
            Some(_) => "changed",
        };
        let secret = target.kind == "Secret" && path.first().is_some_and(|p| p == "data");
        let hide = |value: Value| if secret { Value::String(HIDDEN.to_owned()) } else { value };
        fields.push(FieldChange { field: super::super::fields::display(&path), change, live: before.map(hide), desired: hide(desired) });
    }
    let count = |kind: &str| fields.iter().filter(|f| f.change == kind).count();
    let mut yaml = Bundle::new();
    let _ = yaml.push(&hide_secret(object));
    PreviewObject {
        api_version: target.api_version,
        kind: target.kind,
        namespace: target.namespace,
        name: target.name,
        live: live.exists,
        yaml: yaml.to_yaml().trim_start_matches("---\n").to_owned(),
        added: count("added"),
        changed: count("changed"),
        unchanged: count("unchanged"),
        fields,
        note,
        info,
    }
}
