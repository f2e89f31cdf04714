//! Submissions and their objects in the database: reading them for a caller, the latest per target, counts.
use super::*;

pub(super) fn not_found(id: i64) -> SubmitError {
    SubmitError::NotFound(format!("there is no submission {id}; GET /api/v1/applications/{{app}}/submissions lists them"))
}

pub(super) const SUBMISSION_COLUMNS: &str = "id, application, environment, cluster, operation, dry_run, status, message, bundle, \
    requested_by, approved_by, created_at, updated_at, attempts, claimed_by, failure_code";

/// The failure codes a retry may cure: the cluster could not be reached or answered with a
/// server error, an object changed while it was written, it was not ready in time, or the
/// job was interrupted before jobs were durable.
pub const RETRYABLE: &[&str] = &["cluster_unreachable", "api_error", "conflict", "not_ready", "cluster_not_configured"];

/// A stored name (a status, a state, an operation) as its value; one this version does not
/// know means the database was written by another one.
fn stored<T>(row: &sqlx::any::AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, DbError> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| DbError::Internal(format!("a submission's stored {column} {text:?} is not one this version of Gatehouse knows")))
}

pub(super) fn submission_from(row: &sqlx::any::AnyRow) -> Result<Submission, DbError> {
    Ok(Submission {
        id: row.try_get("id")?,
        application: row.try_get("application")?,
        environment: row.try_get("environment")?,
        cluster: row.try_get("cluster")?,
        operation: stored(row, "operation", Operation::parse)?,
        dry_run: row.try_get::<i64, _>("dry_run")? != 0,
        status: stored(row, "status", SubmissionStatus::parse)?,
        message: row.try_get("message")?,
        bundle: row.try_get("bundle")?,
        requested_by: row.try_get("requested_by")?,
        approved_by: row.try_get("approved_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        objects: Vec::new(),
        attempts: row.try_get("attempts")?,
        claimed_by: row.try_get("claimed_by")?,
        retryable: false,
        failure_code: row.try_get("failure_code")?,
    })
    .map(|mut submission: Submission| {
        submission.retryable = submission.status == SubmissionStatus::Failed
            && submission.failure_code.as_deref().is_some_and(|code| RETRYABLE.contains(&code));
        submission
    })
}

/// Whether the caller may read the submissions of `application`: an app team those of the
/// applications inside its scopes.
pub(super) async fn may_read(db: &Database, caller: &Principal, application: &str) -> Result<bool, DbError> {
    if caller.role != Role::AppTeam {
        return Ok(true);
    }
    let plan = plan::load_from(db).await?;
    Ok(plan.application(application).is_some_and(|app| caller.may_read_application(&plan, app)))
}

/// One submission the caller may read, with its objects in apply order.
pub async fn get_for(db: &Database, caller: &Principal, id: i64) -> Result<Option<Submission>, DbError> {
    match get(db, id).await? {
        Some(submission) if may_read(db, caller, &submission.application).await? => Ok(Some(submission)),
        _ => Ok(None),
    }
}

/// The submissions of an application the caller may read, newest first; `NotFound` for
/// another team's application.
pub async fn list_for(db: &Database, caller: &Principal, application: &str) -> Result<Vec<Submission>, DbError> {
    if !may_read(db, caller, application).await? {
        return Err(DbError::NotFound(format!("there is no application named {application:?}")));
    }
    list(db, application).await
}

/// One submission with its objects in apply order.
pub async fn get(db: &Database, id: i64) -> Result<Option<Submission>, DbError> {
    let Some(row) = sqlx::query(&format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let mut submission = submission_from(&row)?;
    let rows = sqlx::query(
        "SELECT api_version, kind, namespace, name, state, message, answer FROM submission_objects \
         WHERE submission_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    submission.objects = rows.iter().map(object_from).collect::<Result<_, DbError>>()?;
    Ok(Some(submission))
}

pub(super) fn object_from(row: &sqlx::any::AnyRow) -> Result<SubmissionObject, DbError> {
    Ok(SubmissionObject {
        api_version: row.try_get("api_version")?,
        kind: row.try_get("kind")?,
        namespace: row.try_get("namespace")?,
        name: row.try_get("name")?,
        state: stored(row, "state", ObjectState::parse)?,
        message: row.try_get("message")?,
        answer: row.try_get("answer")?,
    })
}

/// The latest submission of every application (or of those in `only`) and environment, with
/// its objects, keyed by `(application, environment)`: two queries for the applications page,
/// however many applications it lists (not two per application and environment).
pub async fn latest_per_target(db: &Database, only: Option<&[&str]>) -> Result<HashMap<(String, String), Submission>, DbError> {
    let latest = match only {
        Some([]) => return Ok(HashMap::new()),
        Some(applications) => {
            let placeholders: Vec<String> = (1..=applications.len()).map(|n| format!("${n}")).collect();
            format!("SELECT MAX(id) FROM submissions WHERE application IN ({}) GROUP BY application, environment", placeholders.join(", "))
        }
        None => "SELECT MAX(id) FROM submissions GROUP BY application, environment".to_owned(),
    };
    let rows_sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id IN ({latest})");
    let objects_sql = format!(
        "SELECT submission_id, api_version, kind, namespace, name, state, message, answer FROM submission_objects \
         WHERE submission_id IN ({latest}) ORDER BY submission_id, position"
    );
    let (mut rows, mut objects) = (sqlx::query(&rows_sql), sqlx::query(&objects_sql));
    for application in only.unwrap_or_default() {
        rows = rows.bind(*application);
        objects = objects.bind(*application);
    }
    let rows = rows.fetch_all(db.pool()).await?;
    let mut by_id: HashMap<i64, Submission> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let submission = submission_from(row)?;
        by_id.insert(submission.id, submission);
    }
    let objects = objects.fetch_all(db.pool()).await?;
    for row in &objects {
        let id: i64 = row.try_get("submission_id")?;
        if let Some(submission) = by_id.get_mut(&id) {
            submission.objects.push(object_from(row)?);
        }
    }
    Ok(by_id.into_values().map(|submission| ((submission.application.clone(), submission.environment.clone()), submission)).collect())
}

/// The submissions waiting for a network admin's approval, oldest first, without their
/// objects and bundles.
pub async fn awaiting_approval(db: &Database) -> Result<Vec<Submission>, DbError> {
    summaries(db, "status = $1 ORDER BY id", SubmissionStatus::AwaitingApproval.as_str()).await
}

/// The submissions `condition` (with one `$1`, bound to `value`) picks, without their objects
/// and bundles.
pub(super) async fn summaries(db: &Database, condition: &str, value: &str) -> Result<Vec<Submission>, DbError> {
    let rows = sqlx::query(&format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE {condition}"))
        .bind(value)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let mut submission = submission_from(row)?;
            submission.bundle.clear();
            Ok(submission)
        })
        .collect()
}

/// How many submissions there are of each operation and status: `(operation, status, count)`.
pub async fn counts(db: &Database) -> Result<Vec<(String, String, i64)>, DbError> {
    let rows = sqlx::query("SELECT operation, status, COUNT(*) AS n FROM submissions GROUP BY operation, status")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("operation")?, row.try_get("status")?, row.try_get("n")?)))
        .collect()
}

/// An application's submissions, newest first, without their objects and bundles.
pub async fn list(db: &Database, application: &str) -> Result<Vec<Submission>, DbError> {
    summaries(db, "application = $1 ORDER BY id DESC", application).await
}

/// One object's row of a submission, in the state and with the message it has.
pub(super) async fn insert_object<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
    position: usize,
    object: &SubmissionObject,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO submission_objects (submission_id, position, api_version, kind, namespace, name, state, message, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(i64::try_from(position).unwrap_or(i64::MAX))
    .bind(&object.api_version)
    .bind(&object.kind)
    .bind(&object.namespace)
    .bind(&object.name)
    .bind(object.state.as_str())
    .bind(&object.message)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}
