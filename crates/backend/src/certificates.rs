//! The certificates repository: TLS certificates per environment, their sealed keys and
//! their history.
//!
//! One row per version. The current version of an environment's certificate name has
//! `superseded_at` NULL; uploading the same name again supersedes it, and it stays as history
//! until the certificate is deleted. An upload is parsed and verified before anything is
//! written ([`parse`]), then stored in one transaction that passes the plan guard — so a
//! certificate or key that another environment has (now or in its history) is refused with
//! GH-TLS-DISTINCT — and records an audit entry without key material.
//!
//! Private keys exist in plaintext only in memory: sealed with AES-256-GCM under the
//! server's [`SecretKey`] and bound to their row, opened only to build the
//! `kubernetes.io/tls` Secret of an application's bundle. No view, log line or error carries one.
//!
//! # Who may use a certificate
//!
//! Every certificate has owners: the namespaces (`team-x`, `team-x-*`) whose applications may
//! terminate TLS with it, said by the network admin who uploads it and changed with
//! [`set_owners`]. An application's environment entry may name a certificate only when the
//! namespace the environment places it in is an owner: a save is refused otherwise
//! ([`refuse_not_allowed`], 422 on `environments.<env>.certificate`), and since owners and
//! placements change after a save, [`tls_for`] — the one function that opens a stored key,
//! used by the bundle download, submissions, approvals and previews — asks again, and also
//! refuses a certificate that does not cover every hostname the application serves there
//! (GH-CERT-SAN). The key is opened only after both checks, and its row's owners are read
//! in the same query as the key. App teams see only the certificates whose owners overlap
//! their scopes ([`list`], [`get`]); the roles above and viewers see every certificate, and
//! nobody its key.

pub mod issue;
pub mod parse;
pub mod pem;
pub mod sealing;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod tests;

use std::{borrow::Cow, collections::HashMap};

use serde::de::DeserializeOwned;
use sqlx::{Any, AnyConnection, Row, Transaction};
use zeroize::Zeroizing;

pub use parse::{ParsedUpload, UploadError, parse_upload};
pub use sealing::{KeyOrigin, SealError, SecretKey, SecretKeyError, load_or_create};

use super::{
    audit,
    auth::Principal,
    db::{Database, DbError, now_text},
    plan,
    policy::Denied,
};
use domain::access::{NamespacePattern, Role};
use domain::certificates::{
    CertificateOwners, CertificateSource, CertificateUse, ChainLinkView, certificate_status, not_allowed, not_allowed_in,
    uncovered,
};
use domain::checklist::rule;
use domain::{
    Application, CertificateDetails, CertificateInfo, CertificateStatus, CertificateUpload, CertificateView,
    EnvironmentName, Finding, FieldErrors, InventoryQuery, K8sSubdomain, Plan, SecretReference, Severity,
};

/// Why an upload or a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The upload is not a usable certificate and key; nothing was stored.
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Db(#[from] DbError),
    /// A stored key does not open: the server runs with another secret key.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// The server was started with another secret key than the one that sealed the stored keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "the database holds {} sealed under secret key {stored}, but this server's secret key is {current}: start it with the same GATEHOUSE_SECRET_KEY or key file as before (ids are public fingerprints of the keys, not the keys)",
        domain::counted(usize::try_from(*.count).unwrap_or(0), "private key")
    )]
    WrongSecretKey { count: i64, stored: String, current: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What an upload stored, and the checklist's findings about it now (warnings, and errors
/// that block a submission but not the upload: an expired certificate, a missing hostname).
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    pub certificate: CertificateView,
    pub findings: Vec<Finding>,
}

/// The chain and key of a stored certificate, for the `kubernetes.io/tls` Secret.
pub struct TlsMaterial {
    pub chain_pem: String,
    pub key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").field("key_pem", &"<redacted>").finish_non_exhaustive()
    }
}

// =============================================================================================
// Rows

const COLUMNS: &str = "c.id AS id, e.name AS environment, c.name AS name, c.chain AS chain, \
     c.secret_namespace AS secret_namespace, c.secret_name AS secret_name, c.uploaded_at AS uploaded_at, \
     c.uploaded_by AS uploaded_by, c.superseded_at AS superseded_at, c.owners AS owners";
const FROM: &str = "FROM certificates c JOIN environments e ON e.id = c.environment_id";

/// A stored version, without its key.
#[derive(Debug, Clone)]
struct Stored {
    id: i64,
    environment: EnvironmentName,
    name: K8sSubdomain,
    /// Leaf first; empty for a Secret reference not read yet.
    chain: Vec<CertificateDetails>,
    secret_ref: Option<SecretReference>,
    uploaded_at: String,
    uploaded_by: String,
    superseded_at: Option<String>,
    /// `None`: uploaded before certificates had owners (see [`grant_owners_to_users`]);
    /// nobody may use it until then.
    owners: Option<CertificateOwners>,
}

fn corrupt(what: &str) -> impl FnOnce(serde_json::Error) -> DbError + '_ {
    move |source| DbError::Corrupt { what: what.to_owned(), source }
}

fn decode<T: DeserializeOwned>(what: &str, value: serde_json::Value) -> Result<T, DbError> {
    serde_json::from_value(value).map_err(corrupt(what))
}

impl Stored {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Stored, DbError> {
        let text = |column: &str| row.try_get::<String, _>(column);
        let chain: Vec<CertificateDetails> =
            serde_json::from_str(&text("chain")?).map_err(corrupt("certificate chain"))?;
        let secret_ref = match (
            row.try_get::<Option<String>, _>("secret_namespace")?,
            row.try_get::<Option<String>, _>("secret_name")?,
        ) {
            (Some(namespace), Some(name)) => {
                Some(decode("secret reference", serde_json::json!({"namespace": namespace, "name": name}))?)
            }
            _ => None,
        };
        Ok(Stored {
            id: row.try_get("id")?,
            environment: decode("certificate environment", serde_json::Value::String(text("environment")?))?,
            name: decode("certificate name", serde_json::Value::String(text("name")?))?,
            chain,
            secret_ref,
            uploaded_at: text("uploaded_at")?,
            uploaded_by: text("uploaded_by")?,
            superseded_at: row.try_get("superseded_at")?,
            owners: row
                .try_get::<Option<String>, _>("owners")?
                .map(|owners| serde_json::from_str(&owners).map_err(corrupt("certificate owners")))
                .transpose()?,
        })
    }

    fn owners(&self) -> CertificateOwners {
        self.owners.clone().unwrap_or_default()
    }

    fn leaf(&self) -> Option<&CertificateDetails> {
        self.chain.first()
    }

    fn info(&self) -> CertificateInfo {
        let leaf = self.leaf();
        CertificateInfo {
            environment: self.environment.clone(),
            name: self.name.clone(),
            sans: leaf.map(|l| l.sans.clone()).unwrap_or_default(),
            not_before: leaf.map_or(0, |l| l.not_before),
            not_after: leaf.map_or(0, |l| l.not_after),
            fingerprint_sha256: leaf.map(|l| l.fingerprint_sha256.clone()).unwrap_or_default(),
            public_key_fingerprint: leaf.map(|l| l.public_key_sha256.clone()).unwrap_or_default(),
            secret_ref: self.secret_ref.clone(),
            owners: self.owners(),
        }
    }

    fn object(&self) -> String {
        format!("certificate/{}/{}", self.environment, self.name)
    }

    /// The audit log's picture of a version: metadata, never key material.
    fn audit_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "environment": self.environment,
            "name": self.name,
            "chain": self.chain,
            "secret_ref": self.secret_ref,
            "uploaded_at": self.uploaded_at,
            "owners": self.owners,
        })
    }
}

/// The current version of every environment's certificates.
async fn current(conn: &mut AnyConnection) -> Result<Vec<Stored>, DbError> {
    sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE c.superseded_at IS NULL ORDER BY e.name, c.name"))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(Stored::from_row)
        .collect()
}

/// The current certificates, for the plan.
pub(crate) async fn load_infos(conn: &mut AnyConnection) -> Result<Vec<CertificateInfo>, DbError> {
    Ok(current(conn).await?.iter().map(Stored::info).collect())
}

async fn find(conn: &mut AnyConnection, id: i64) -> Result<Option<Stored>, DbError> {
    sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(Stored::from_row)
        .transpose()
}

/// Every version of an environment's certificate name, newest first.
async fn versions(conn: &mut AnyConnection, environment: &str, name: &str) -> Result<Vec<Stored>, DbError> {
    sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE e.name = $1 AND c.name = $2 ORDER BY c.id DESC"))
        .bind(environment)
        .bind(name)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(Stored::from_row)
        .collect()
}

// =============================================================================================
// Views

fn rfc3339(unix: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn day(unix: i64) -> String {
    rfc3339(unix).split('T').next().unwrap_or_default().to_owned()
}

fn days(count: i64) -> String {
    match count {
        ..=0 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// The applications (and their Gateways) whose environment entry names this certificate.
/// The applications among `applications` that serve `certificate`, and how.
fn uses(plan: &Plan, applications: &[&Application], certificate: &CertificateInfo) -> Vec<CertificateUse> {
    applications
        .iter()
        .filter_map(|app| {
            let entry = app.environments.get(&certificate.environment)?;
            (entry.certificate.as_ref() == Some(&certificate.name)).then(|| {
                let namespace = plan.namespace_in(app, &certificate.environment);
                CertificateUse {
                    application: app.name.to_string(),
                    gateway: format!("{namespace}/{}-{}", app.name, certificate.environment),
                    hostnames: entry.hostnames.iter().map(ToString::to_string).collect(),
                    uncovered: uncovered(certificate, &entry.hostnames).iter().map(ToString::to_string).collect(),
                    allowed: certificate.owners.admit(namespace.as_str()),
                }
            })
        })
        .collect()
}

fn status_detail(status: CertificateStatus, info: &CertificateInfo, used_by: &[CertificateUse], now: i64) -> String {
    let left = (info.not_after - now).div_euclid(86_400);
    match status {
        CertificateStatus::Pending => "pending: resolved once a cluster is connected".to_owned(),
        CertificateStatus::Expired => format!("expired {} ago, on {}", days((now - info.not_after) / 86_400), day(info.not_after)),
        CertificateStatus::NotYetValid => {
            format!("not valid until {} (in {})", day(info.not_before), days((info.not_before - now + 86_399) / 86_400))
        }
        CertificateStatus::Mismatch => {
            let missing: Vec<String> = used_by
                .iter()
                .filter(|u| !u.uncovered.is_empty())
                .map(|u| format!("{} of application {}", u.uncovered.join(", "), u.application))
                .collect();
            format!("does not cover {}", missing.join("; "))
        }
        CertificateStatus::Expiring => format!("expires in {}, on {}", days(left), day(info.not_after)),
        CertificateStatus::Valid => format!("valid until {} ({} left)", day(info.not_after), days(left)),
        CertificateStatus::Superseded => "replaced by a newer upload".to_owned(),
    }
}

fn view(stored: &Stored, plan: &Plan, now: i64) -> CertificateView {
    let applications: Vec<&Application> = plan.applications.iter().collect();
    view_among(stored, plan, &applications, now)
}

/// Which applications name each environment's certificate names: looked up once per list, so
/// listing every certificate is not a scan of every application per certificate.
fn users_by_certificate(plan: &Plan) -> HashMap<(&str, &str), Vec<&Application>> {
    let mut users: HashMap<(&str, &str), Vec<&Application>> = HashMap::new();
    for application in &plan.applications {
        for (environment, entry) in &application.environments {
            if let Some(name) = &entry.certificate {
                users.entry((environment.as_str(), name.as_str())).or_default().push(application);
            }
        }
    }
    users
}

/// [`view`], where `applications` holds at least every application that names the certificate.
fn view_among(stored: &Stored, plan: &Plan, applications: &[&Application], now: i64) -> CertificateView {
    let info = stored.info();
    let leaf = stored.leaf();
    let (status, used_by) = if stored.superseded_at.is_some() {
        (CertificateStatus::Superseded, Vec::new())
    } else {
        let used_by = uses(plan, applications, &info);
        let served = applications
            .iter()
            .filter_map(|app| app.environments.get(&info.environment))
            .filter(|entry| entry.certificate.as_ref() == Some(&info.name))
            .flat_map(|entry| entry.hostnames.iter());
        (certificate_status(&info, served, now), used_by)
    };
    CertificateView {
        id: stored.id,
        environment: stored.environment.to_string(),
        name: stored.name.to_string(),
        source: if stored.secret_ref.is_some() { "secret" } else { "upload" }.to_owned(),
        secret_ref: stored.secret_ref.clone(),
        owners: info.owners.clone(),
        subject: leaf.map(|l| l.subject.clone()),
        sans: info.sans.clone(),
        issuer: leaf.map(|l| l.issuer.clone()),
        serial: leaf.map(|l| l.serial.clone()),
        not_before: leaf.map(|l| rfc3339(l.not_before)),
        not_after: leaf.map(|l| rfc3339(l.not_after)),
        days_left: leaf.map(|l| (l.not_after - now).div_euclid(86_400)),
        fingerprint_sha256: leaf.map(|l| l.fingerprint_sha256.clone()),
        key_type: leaf.map(|l| l.key_type.clone()),
        key_bits: leaf.map(|l| l.key_bits),
        chain_length: stored.chain.len(),
        status,
        status_detail: status_detail(status, &info, &used_by, now),
        used_by,
        uploaded_at: stored.uploaded_at.clone(),
        uploaded_by: stored.uploaded_by.clone(),
        superseded_at: stored.superseded_at.clone(),
        current_id: None,
        chain: None,
        history: None,
    }
}

fn chain_view(chain: &[CertificateDetails]) -> Vec<ChainLinkView> {
    chain
        .iter()
        .map(|c| ChainLinkView {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            fingerprint_sha256: c.fingerprint_sha256.clone(),
            key_type: c.key_type.clone(),
            signature_algorithm: c.signature_algorithm.clone(),
            is_ca: c.is_ca,
        })
        .collect()
}

/// Whether `caller` sees a certificate with these owners: an app team only when the owners
/// overlap the namespaces of its scopes; viewers and the roles above app team always.
fn visible(caller: &Principal, owners: &CertificateOwners) -> bool {
    caller.role != Role::AppTeam || owners.overlap(caller.scopes.namespaces())
}

/// The current certificates `caller` may see ([`visible`]) that pass the query's filters, in
/// its order.
pub async fn list(db: &Database, caller: &Principal, query: &InventoryQuery) -> Result<Vec<CertificateView>, DbError> {
    // The shared plan first: it takes a connection of its own, and holding one while waiting
    // for another starves the pool under load.
    let plan = plan::load_from(db).await?;
    let mut conn = db.pool().acquire().await?;
    let users = users_by_certificate(&plan);
    let now = plan::now_unix();
    let views = current(&mut conn)
        .await?
        .iter()
        .filter(|stored| visible(caller, &stored.owners()))
        .map(|stored| {
            let applications = users.get(&(stored.environment.as_str(), stored.name.as_str())).map_or(&[][..], Vec::as_slice);
            view_among(stored, &plan, applications, now)
        })
        .collect();
    Ok(query.apply(views))
}

/// One version with its chain and the other versions of its name; `None` when there is none
/// or `caller` may not see it (an app team outside its owners).
pub async fn get(db: &Database, caller: &Principal, id: i64) -> Result<Option<CertificateView>, DbError> {
    let plan = plan::load_from(db).await?;
    let mut conn = db.pool().acquire().await?;
    let Some(stored) = find(&mut conn, id).await?.filter(|stored| visible(caller, &stored.owners())) else { return Ok(None) };
    let now = plan::now_unix();
    let all = versions(&mut conn, stored.environment.as_str(), stored.name.as_str()).await?;
    let current_id = all.iter().find(|v| v.superseded_at.is_none()).map(|v| v.id);
    let mut shown = view(&stored, &plan, now);
    shown.chain = Some(chain_view(&stored.chain));
    shown.current_id = current_id.filter(|current| *current != id);
    shown.history = Some(all.iter().filter(|v| v.id != id).map(|v| view(v, &plan, now)).collect());
    Ok(Some(shown))
}

// =============================================================================================
// Writes

fn associated_data(id: i64, environment: &str, name: &str, fingerprint: &str) -> Vec<u8> {
    format!("gatehouse certificate key v1\n{id}\n{environment}\n{name}\n{fingerprint}").into_bytes()
}

fn environment_not_found(environment: &str) -> DbError {
    DbError::NotFound(format!(
        "there is no environment named {environment:?}; create it first or use one of the existing environments"
    ))
}

/// GH-TLS-DISTINCT over history: a certificate or key another environment has ever had.
async fn shared_with_other_environments(
    tx: &mut Transaction<'_, Any>,
    environment: &EnvironmentName,
    name: &K8sSubdomain,
    leaf: &CertificateDetails,
) -> Result<Vec<Finding>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT e.name AS environment, c.name AS name, c.superseded_at AS superseded_at, \
         c.fingerprint_sha256 AS fingerprint {FROM} \
         WHERE e.name <> $1 AND (c.fingerprint_sha256 = $2 OR c.public_key_sha256 = $3) ORDER BY c.id"
    ))
    .bind(environment.as_str())
    .bind(&leaf.fingerprint_sha256)
    .bind(&leaf.public_key_sha256)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| {
            let other_env: String = row.try_get("environment")?;
            let other_name: String = row.try_get("name")?;
            let superseded: Option<String> = row.try_get("superseded_at")?;
            let fingerprint: Option<String> = row.try_get("fingerprint")?;
            let what = if fingerprint.as_deref() == Some(leaf.fingerprint_sha256.as_str()) {
                "the same certificate as"
            } else {
                "a certificate with the same private key as"
            };
            let when = superseded.map(|at| format!(" (replaced there on {at})")).unwrap_or_default();
            Ok(Finding {
                rule: Cow::Borrowed(rule::TLS_DISTINCT.id),
                severity: Severity::Error,
                message: format!(
                    "certificate {name} in {environment} would be {what} {other_name} in {other_env}{when}; dev and prod never share a certificate or a key"
                ),
                hint: "issue each environment its own certificate with a freshly generated key".to_owned(),
                objects: vec![
                    format!("certificate/{environment}/{name}"),
                    format!("certificate/{other_env}/{other_name}"),
                    format!("environment/{environment}"),
                    format!("environment/{other_env}"),
                ],
                diagram: Cow::Borrowed(rule::TLS_DISTINCT.diagram),
                field: None,
            })
        })
        .collect()
}

/// Stores an upload for `environment`, replacing (and keeping as history) the current
/// certificate of that name. Parsed and verified first; nothing is written on any error.
/// Network admins only. Its owners are the upload's, else the replaced certificate's, else
/// none.
pub async fn upload(
    db: &Database,
    secret_key: &SecretKey,
    caller: &Principal,
    environment: &str,
    upload: &CertificateUpload,
) -> Result<Uploaded, CertificateError> {
    caller.require(Role::NetworkAdmin, "upload certificates").map_err(DbError::from)?;
    let actor = caller.actor();
    let actor = actor.as_str();
    let (parsed, secret_ref) = match &upload.source {
        CertificateSource::Pem { certificate_pem, private_key_pem } => {
            (Some(parse_upload(certificate_pem, private_key_pem)?), None)
        }
        CertificateSource::Secret(reference) => (None, Some(reference.clone())),
    };
    let chain: &[CertificateDetails] = parsed.as_ref().map_or(&[], |p| p.chain.as_slice());

    let mut tx = db.pool().begin().await.map_err(DbError::from)?;
    let before = plan::lock_and_load(&mut tx, db).await?;
    let env = before
        .environments
        .iter()
        .find(|e| e.name.as_str() == environment)
        .ok_or_else(|| environment_not_found(environment))?
        .name
        .clone();
    let environment_id: i64 = sqlx::query("SELECT id FROM environments WHERE name = $1")
        .bind(env.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(DbError::from)?
        .try_get("id")
        .map_err(DbError::from)?;
    let previous = versions(&mut tx, env.as_str(), upload.name.as_str()).await?.into_iter().find(|v| v.superseded_at.is_none());

    let now_text = now_text();
    let owners = upload.owners.clone().or_else(|| previous.as_ref().map(Stored::owners)).unwrap_or_default();
    let mut stored = Stored {
        id: 0,
        environment: env.clone(),
        name: upload.name.clone(),
        chain: chain.to_vec(),
        secret_ref: secret_ref.clone(),
        uploaded_at: now_text.clone(),
        uploaded_by: actor.to_owned(),
        superseded_at: None,
        owners: Some(owners.clone()),
    };
    let mut after = Plan::clone(&before);
    let certificates = after.certificates.get_or_insert_with(Vec::new);
    certificates.retain(|c| !(c.environment == env && c.name == upload.name));
    certificates.push(stored.info());
    let now = plan::now_unix();
    plan::refuse_new_errors(&before, &after, now)?;
    if let Some(leaf) = chain.first() {
        let shared = shared_with_other_environments(&mut tx, &env, &upload.name, leaf).await?;
        if !shared.is_empty() {
            return Err(DbError::Rejected(shared).into());
        }
    }

    if let Some(previous) = &previous {
        sqlx::query("UPDATE certificates SET superseded_at = $1 WHERE id = $2")
            .bind(&now_text)
            .bind(previous.id)
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?;
    }
    let chain_json = serde_json::to_string(chain).map_err(corrupt("certificate chain"))?;
    let leaf = chain.first();
    let row = sqlx::query(
        "INSERT INTO certificates (environment_id, name, chain, chain_pem, fingerprint_sha256, public_key_sha256, \
         secret_namespace, secret_name, uploaded_at, uploaded_by, owners) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(environment_id)
    .bind(upload.name.as_str())
    .bind(chain_json)
    .bind(parsed.as_ref().map(|p| p.chain_pem.clone()))
    .bind(leaf.map(|l| l.fingerprint_sha256.clone()))
    .bind(leaf.map(|l| l.public_key_sha256.clone()))
    .bind(secret_ref.as_ref().map(|r| r.namespace.to_string()))
    .bind(secret_ref.as_ref().map(|r| r.name.to_string()))
    .bind(&now_text)
    .bind(actor)
    .bind(owners_json(&owners)?)
    .fetch_one(&mut *tx)
    .await
    .map_err(DbError::from)?;
    stored.id = row.try_get("id").map_err(DbError::from)?;
    if let (Some(parsed), Some(leaf)) = (&parsed, leaf) {
        let aad = associated_data(stored.id, env.as_str(), upload.name.as_str(), &leaf.fingerprint_sha256);
        let sealed = secret_key.seal(parsed.key_pem.as_bytes(), &aad)?;
        sqlx::query("UPDATE certificates SET sealed_key = $1, key_id = $2 WHERE id = $3")
            .bind(sealed)
            .bind(secret_key.id())
            .bind(stored.id)
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?;
    }
    let action = if previous.is_some() { "certificate.replace" } else { "certificate.upload" };
    audit::record(
        &mut tx,
        actor,
        action,
        &stored.object(),
        previous.as_ref().map(Stored::audit_json).as_ref(),
        Some(&stored.audit_json()),
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;

    let object = stored.object();
    let findings =
        domain::check_plan(&after, now).findings.into_iter().filter(|f| f.objects.contains(&object)).collect();
    Ok(Uploaded { certificate: view(&stored, &after, now), findings })
}

/// Deletes a version. Deleting the current version deletes the certificate with its
/// history (and every sealed key of it); refused while an application uses it. Network
/// admins only.
pub async fn delete(db: &Database, caller: &Principal, id: i64) -> Result<(), DbError> {
    caller.require(Role::NetworkAdmin, "delete certificates")?;
    let actor = caller.actor();
    let actor = actor.as_str();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let stored = find(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    let before = plan::load(&mut tx).await?;
    if stored.superseded_at.is_none() {
        let users: Vec<String> = uses(&before, &before.applications.iter().collect::<Vec<_>>(), &stored.info()).into_iter().map(|u| u.application).collect();
        if !users.is_empty() {
            return Err(DbError::Conflict(format!(
                "certificate {} in {} is used by application {}; give those applications another certificate first",
                stored.name,
                stored.environment,
                users.join(", ")
            )));
        }
        let all = versions(&mut tx, stored.environment.as_str(), stored.name.as_str()).await?;
        for version in &all {
            sqlx::query("DELETE FROM certificates WHERE id = $1").bind(version.id).execute(&mut *tx).await?;
        }
        let before_json = serde_json::Value::Array(all.iter().map(Stored::audit_json).collect());
        audit::record(&mut tx, actor, "certificate.delete", &stored.object(), Some(&before_json), None).await?;
    } else {
        sqlx::query("DELETE FROM certificates WHERE id = $1").bind(id).execute(&mut *tx).await?;
        audit::record(&mut tx, actor, "certificate.delete_version", &stored.object(), Some(&stored.audit_json()), None)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub fn not_found(id: i64) -> DbError {
    DbError::NotFound(format!("there is no certificate with id {id}; GET /api/v1/certificates lists them"))
}

fn owners_json(owners: &CertificateOwners) -> Result<String, DbError> {
    serde_json::to_string(owners).map_err(corrupt("certificate owners"))
}

/// Changes who may use the certificate `id` (its current version): network admins only,
/// recorded in the audit log as `certificate.owners` with the owners before and after.
/// Applications that named it keep their choice; those whose namespace is no longer an owner
/// get neither a bundle nor a submission with it ([`tls_for`]) until they choose another.
pub async fn set_owners(db: &Database, caller: &Principal, id: i64, owners: &CertificateOwners) -> Result<CertificateView, DbError> {
    caller.require(Role::NetworkAdmin, "change who may use a certificate")?;
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let stored = find(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    if stored.superseded_at.is_some() {
        let current = versions(&mut tx, stored.environment.as_str(), stored.name.as_str()).await?;
        let current = current.iter().find(|v| v.superseded_at.is_none()).map_or_else(String::new, |v| format!(", id {}", v.id));
        return Err(DbError::Conflict(format!(
            "certificate {id} is an earlier version of {} in {}; owners belong to the current version{current}: change them there",
            stored.name, stored.environment
        )));
    }
    sqlx::query("UPDATE certificates SET owners = $1 WHERE id = $2").bind(owners_json(owners)?).bind(id).execute(&mut *tx).await?;
    audit::record(
        &mut tx,
        &caller.actor(),
        "certificate.owners",
        &stored.object(),
        Some(&serde_json::json!({"id": id, "owners": stored.owners})),
        Some(&serde_json::json!({"id": id, "owners": owners})),
    )
    .await?;
    tx.commit().await?;
    get(db, caller, id).await?.ok_or_else(|| not_found(id))
}

/// Refuses to save `application` into `plan` (the plan as it would be) while one of its
/// environments names a certificate its namespace there may not use: 422, one error per such
/// environment on `environments.<env>.certificate`.
pub fn refuse_not_allowed(plan: &Plan, application: &Application) -> Result<(), DbError> {
    let refused = not_allowed(plan, application);
    if refused.is_empty() { Ok(()) } else { Err(DbError::Invalid(FieldErrors::from(refused))) }
}

/// Whether `application` may terminate TLS in `environment` with the certificate it names
/// there (see [`tls_for`]), asked before anything is written for a submission (such as
/// holding its `auto` VIP). Nothing to refuse when the plan has no such application or
/// environment.
pub fn require_usable(plan: &Plan, application: &str, environment: &str) -> Result<(), DbError> {
    let Some(app) = plan.application(application) else { return Ok(()) };
    match app.environments.keys().find(|env| env.as_str() == environment) {
        Some(env) => require_usable_in(plan, app, env),
        None => Ok(()),
    }
}

/// Whether `application` may terminate TLS in `environment` with the certificate it names
/// there: its namespace there is an owner (else 403 `certificate_not_allowed`), and the
/// certificate covers every hostname it serves there (else the GH-CERT-SAN findings).
fn require_usable_in(plan: &Plan, application: &Application, environment: &EnvironmentName) -> Result<(), DbError> {
    if let Some(refusal) = not_allowed_in(plan, application, environment) {
        return Err(Denied::new("certificate_not_allowed", refusal.message).into());
    }
    let Some(name) = application.environments.get(environment).and_then(|entry| entry.certificate.as_ref()) else {
        return Ok(());
    };
    let object = format!("certificate/{environment}/{name}");
    let uncovered: Vec<Finding> = domain::check_application(plan, application.name.as_str(), plan::now_unix())
        .findings
        .into_iter()
        .filter(|finding| finding.rule == rule::CERT_SAN.id && finding.objects.contains(&object))
        .collect();
    if uncovered.is_empty() { Ok(()) } else { Err(DbError::Rejected(uncovered)) }
}

/// The chain and opened key of the certificate `application` names in `environment`, for the
/// `kubernetes.io/tls` Secret of its bundle: the only way a stored key leaves the database.
/// Refused — before the key is read — when the application's namespace there is not among
/// the certificate's owners (403 `certificate_not_allowed`, naming the certificate and its
/// owners) or the certificate misses one of its hostnames there (GH-CERT-SAN). `None` when
/// the application or environment is not in `plan` (the bundle says so), or the entry names
/// no certificate, one not uploaded yet, or a Secret reference (no key to open; the owners
/// are checked all the same, since the bundle grants the Gateway that Secret).
pub async fn tls_for(
    db: &Database,
    secret_key: &SecretKey,
    plan: &Plan,
    application: &str,
    environment: &str,
) -> Result<Option<TlsMaterial>, CertificateError> {
    let Some(app) = plan.application(application) else { return Ok(None) };
    let Some((env, entry)) = app.environments.iter().find(|(env, _)| env.as_str() == environment) else { return Ok(None) };
    let Some(name) = &entry.certificate else { return Ok(None) };
    require_usable_in(plan, app, env)?;
    tls_material(db, secret_key, env, name, plan.namespace_in(app, env).as_str()).await
}

/// The chain and opened key of the current upload of `name` in `environment`, for an
/// application in `namespace`; `None` when there is none or it is a Secret reference. The
/// owners are read with the key and checked once more, so owners changed since the caller's
/// plan was loaded still hold.
async fn tls_material(
    db: &Database,
    secret_key: &SecretKey,
    environment: &EnvironmentName,
    name: &K8sSubdomain,
    namespace: &str,
) -> Result<Option<TlsMaterial>, CertificateError> {
    let row = sqlx::query(&format!(
        "SELECT c.id AS id, c.chain_pem AS chain_pem, c.sealed_key AS sealed_key, c.fingerprint_sha256 AS fingerprint, \
         c.owners AS owners {FROM} WHERE e.name = $1 AND c.name = $2 AND c.superseded_at IS NULL"
    ))
    .bind(environment.as_str())
    .bind(name.as_str())
    .fetch_optional(db.pool())
    .await
    .map_err(DbError::from)?;
    let Some(row) = row else { return Ok(None) };
    let owners: CertificateOwners = match row.try_get::<Option<String>, _>("owners").map_err(DbError::from)? {
        Some(owners) => serde_json::from_str(&owners).map_err(corrupt("certificate owners"))?,
        None => CertificateOwners::default(),
    };
    if !owners.admit(namespace) {
        return Err(DbError::from(Denied::new(
            "certificate_not_allowed",
            format!(
                "certificate {name} in {environment} belongs to namespaces {} and not to {namespace}; ask a network admin to add {namespace} to its owners",
                owners.describe()
            ),
        ))
        .into());
    }
    let (Some(chain_pem), Some(sealed), Some(fingerprint)) = (
        row.try_get::<Option<String>, _>("chain_pem").map_err(DbError::from)?,
        row.try_get::<Option<Vec<u8>>, _>("sealed_key").map_err(DbError::from)?,
        row.try_get::<Option<String>, _>("fingerprint").map_err(DbError::from)?,
    ) else {
        return Ok(None);
    };
    let id: i64 = row.try_get("id").map_err(DbError::from)?;
    let key = secret_key.open(&sealed, &associated_data(id, environment.as_str(), name.as_str(), &fingerprint))?;
    let key_pem = Zeroizing::new(String::from_utf8(key.to_vec()).map_err(|_| SealError::Open)?);
    Ok(Some(TlsMaterial { chain_pem, key_pem }))
}

/// The upgrade to certificates with owners: each current certificate stored before owners
/// existed (its `owners` NULL) is granted to exactly the namespaces of the applications that
/// use it now — each in the namespace its environment places it in — and to nothing else;
/// earlier versions get no owners. One `certificate.owners_granted` audit entry per
/// certificate, as `actor`, and a warning in the log, so a network admin can review what was
/// granted. Runs at every start; does nothing once no row is left without owners.
pub async fn grant_owners_to_users(db: &Database, actor: &str) -> Result<usize, DbError> {
    let unowned = format!("SELECT {COLUMNS} {FROM} WHERE c.owners IS NULL ORDER BY c.id");
    if sqlx::query(&unowned).fetch_optional(db.pool()).await?.is_none() {
        return Ok(0);
    }
    // Read again under the plan's lock: another replica starting at the same time may have
    // granted them already.
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let legacy: Vec<Stored> =
        sqlx::query(&unowned).fetch_all(&mut *tx).await?.iter().map(Stored::from_row).collect::<Result<_, _>>()?;
    let plan = plan::load(&mut tx).await?;
    let mut granted = 0;
    for stored in &legacy {
        let owners = if stored.superseded_at.is_some() {
            CertificateOwners::default()
        } else {
            CertificateOwners::new(
                plan.applications
                    .iter()
                    .filter(|app| {
                        app.environments.get(&stored.environment).and_then(|entry| entry.certificate.as_ref()) == Some(&stored.name)
                    })
                    .filter_map(|app| NamespacePattern::parse(plan.namespace_in(app, &stored.environment).as_str()).ok()),
            )
        };
        sqlx::query("UPDATE certificates SET owners = $1 WHERE id = $2").bind(owners_json(&owners)?).bind(stored.id).execute(&mut *tx).await?;
        if stored.superseded_at.is_none() {
            tracing::warn!(
                certificate = %stored.object(),
                owners = %owners.describe(),
                "certificates now have owners: this certificate, uploaded before, was granted to the namespaces of the applications using it; review them on its page"
            );
            audit::record(
                &mut tx,
                actor,
                "certificate.owners_granted",
                &stored.object(),
                Some(&serde_json::json!({"id": stored.id, "owners": null})),
                Some(&serde_json::json!({
                    "id": stored.id,
                    "owners": owners,
                    "reason": "uploaded before certificates had owners: granted to the namespaces of the applications using it then",
                })),
            )
            .await?;
            granted += 1;
        }
    }
    tx.commit().await?;
    Ok(granted)
}

impl From<CertificateError> for super::cluster::submissions::SubmitError {
    /// A refusal keeps its type (403, or the GH-CERT-SAN findings); a key that does not open
    /// is the server's problem.
    fn from(error: CertificateError) -> Self {
        match error {
            CertificateError::Db(error) => Self::Db(error),
            other => Self::Certificate(other.to_string()),
        }
    }
}

/// Refuses a secret key other than the one the stored keys were sealed with.
pub async fn check_secret_key(db: &Database, secret_key: &SecretKey) -> Result<(), KeyCheckError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS count, MIN(key_id) AS stored FROM certificates WHERE key_id IS NOT NULL AND key_id <> $1",
    )
    .bind(secret_key.id())
    .fetch_one(db.pool())
    .await
    .map_err(DbError::from)?;
    let count: i64 = row.try_get("count").map_err(DbError::from)?;
    if count == 0 {
        return Ok(());
    }
    Err(KeyCheckError::WrongSecretKey {
        count,
        stored: row.try_get::<Option<String>, _>("stored").map_err(DbError::from)?.unwrap_or_default(),
        current: secret_key.id().to_owned(),
    })
}

/// Whether `environment` has a current certificate called `name`.
pub async fn exists(db: &Database, environment: &str, name: &str) -> Result<bool, DbError> {
    let row = sqlx::query(&format!("SELECT c.id AS id {FROM} WHERE e.name = $1 AND c.name = $2 AND c.superseded_at IS NULL"))
        .bind(environment)
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.is_some())
}
