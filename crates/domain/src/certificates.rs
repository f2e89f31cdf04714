//! Certificates as the plan sees them: the upload form (a PEM chain and its key, or a
//! reference to a `kubernetes.io/tls` Secret), the status shown on the inventory, which
//! hostnames a certificate covers, and who may use it. Parsing the PEM and everything about
//! keys happens on the server (`backend::certificates`); nothing here ever prints a private key.
//!
//! # Owners
//!
//! A certificate belongs to namespaces: its [`CertificateOwners`] are namespace names
//! (`team-x`) and prefixes (`team-x-*`), and an application may terminate TLS with it only
//! where the environment places the application in one of them
//! ([`Plan::namespace_in`](super::model::Plan::namespace_in)). The owners are checked against
//! that namespace, not against who is asking: a network admin cannot hand team A's key to
//! team B's namespace by saving B's application either. [`not_allowed`] says where an
//! application breaks the rule, on the field a form shows it beside.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::access::NamespacePattern;
use super::checklist::EXPIRY_WARNING_SECONDS;
use super::error::{Collector, FieldError, FieldErrors};
use super::model::{Application, CertificateInfo, Plan};
use super::names::{EnvironmentName, Hostname, K8sName, K8sSubdomain};

/// The most a certificate chain or a key file may hold: 1 MiB.
pub const MAX_PEM_BYTES: usize = 1024 * 1024;

/// A private key in PEM form as it travels from the form or the API to the server. Its
/// `Debug` form never shows the key, and the text is wiped from memory when dropped.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    pub fn new(pem: String) -> Self {
        Self(pem)
    }

    /// The key itself, for the parser and the encryption at rest only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKeyPem(<redacted, {} bytes>)", self.0.len())
    }
}

impl Drop for PrivateKeyPem {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// An existing `kubernetes.io/tls` Secret in the cluster, used instead of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretReference {
    pub namespace: K8sName,
    pub name: K8sSubdomain,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretReferenceInput {
    pub namespace: String,
    pub name: String,
}

/// A certificate as sent to `POST /api/v1/environments/{env}/certificates` or typed into
/// the upload form: `{"name", "certificate_pem", "private_key_pem"}` or
/// `{"name", "secret_ref": {"namespace", "name"}}`, each with `"owners": ["team-x", "team-y-*"]`
/// — the namespaces that may use it. Without `owners` a replacement keeps the owners of the
/// certificate it replaces, and a new certificate has none (no application may use it yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertificateUploadInput {
    pub name: String,
    pub certificate_pem: Option<String>,
    pub private_key_pem: Option<PrivateKeyPem>,
    pub secret_ref: Option<SecretReferenceInput>,
    pub owners: Option<Vec<String>>,
}

/// What an upload carries once its fields make sense on their own. Whether the PEM holds
/// a usable certificate and key is for the server's parser to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    Pem { certificate_pem: String, private_key_pem: PrivateKeyPem },
    Secret(SecretReference),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateUpload {
    pub name: K8sSubdomain,
    pub source: CertificateSource,
    /// `None`: not said — a replacement keeps the owners it had, a new certificate has none.
    pub owners: Option<CertificateOwners>,
}

fn too_large(c: &mut Collector, field: &str, what: &str, bytes: usize) {
    c.push(
        field,
        "file_too_large",
        format!(
            "the {what} is {} KiB; a file here is at most 1 MiB (1024 KiB) — upload the leaf certificate and its intermediates only, without unrelated certificates",
            bytes.div_ceil(1024)
        ),
    );
}

impl CertificateUpload {
    /// Checks the name, that exactly one of the two forms is given, and the size limit.
    pub fn parse(input: CertificateUploadInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let name = c.take("name", K8sSubdomain::parse(&input.name));
        let owners = input.owners.as_deref().map(|items| CertificateOwners::collect(&mut c, "owners", items));
        let certificate = input.certificate_pem.filter(|pem| !pem.trim().is_empty());
        let key = input.private_key_pem.filter(|pem| !pem.is_blank());
        let source = match (certificate, key, input.secret_ref) {
            (None, None, Some(reference)) => {
                let namespace = c.take("secret_ref.namespace", K8sName::parse(&reference.namespace));
                let secret = c.take("secret_ref.name", K8sSubdomain::parse(&reference.name));
                namespace.zip(secret).map(|(namespace, name)| CertificateSource::Secret(SecretReference { namespace, name }))
            }
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                c.push(
                    "secret_ref",
                    "ambiguous_source",
                    "send either the PEM certificate and key, or a reference to a Secret in the cluster — not both",
                );
                None
            }
            (certificate, key, None) => {
                if certificate.is_none() {
                    c.push(
                        "certificate_pem",
                        "required",
                        "the certificate is required: paste the PEM chain (-----BEGIN CERTIFICATE----- …), leaf first, or refer to a Secret with secret_ref",
                    );
                }
                if key.is_none() {
                    c.push(
                        "private_key_pem",
                        "required",
                        "the private key is required: paste the PEM key (-----BEGIN PRIVATE KEY----- …) that belongs to the certificate",
                    );
                }
                if let Some(pem) = &certificate
                    && pem.len() > MAX_PEM_BYTES
                {
                    too_large(&mut c, "certificate_pem", "certificate file", pem.len());
                }
                if let Some(pem) = &key
                    && pem.len() > MAX_PEM_BYTES
                {
                    too_large(&mut c, "private_key_pem", "key file", pem.len());
                }
                certificate
                    .zip(key)
                    .map(|(certificate_pem, private_key_pem)| CertificateSource::Pem { certificate_pem, private_key_pem })
            }
        };
        if !c.is_empty() {
            return Err(c.finish());
        }
        match (name, source) {
            (Some(name), Some(source)) => Ok(Self { name, source, owners }),
            _ => Err(c.finish()),
        }
    }
}

// =============================================================================================
// Owners

/// The namespaces that may use a certificate: names (`team-x`) and prefixes (`team-x-*`),
/// sorted, each once. Empty: no application may use it (yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CertificateOwners(Vec<NamespacePattern>);

/// `PUT /api/v1/certificates/{id}/owners`: `{"owners": ["team-x", "team-y-*"]}` (an empty
/// list takes the certificate away from every namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnersInput {
    pub owners: Vec<String>,
}

impl CertificateOwners {
    pub fn new(patterns: impl IntoIterator<Item = NamespacePattern>) -> Self {
        let mut patterns: Vec<NamespacePattern> = patterns.into_iter().collect();
        patterns.sort();
        patterns.dedup();
        Self(patterns)
    }

    /// Parses a list as a person or a script writes it; blank items are skipped, every bad
    /// one is reported on `field[i]`.
    pub fn parse(field: &str, items: &[String]) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let owners = Self::collect(&mut c, field, items);
        if c.is_empty() { Ok(owners) } else { Err(c.finish()) }
    }

    /// Splits a text field (`team-a, team-b-*` or one per line) into items for [`Self::parse`].
    pub fn split(text: &str) -> Vec<String> {
        text.split([',', ' ', '\n', '\t', '\r']).map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
    }

    fn collect(c: &mut Collector, field: &str, items: &[String]) -> Self {
        let mut patterns = Vec::new();
        for (i, item) in items.iter().enumerate().filter(|(_, item)| !item.trim().is_empty()) {
            match NamespacePattern::parse(item) {
                Ok(pattern) => patterns.push(pattern),
                Err(error) => c.push(format!("{field}[{i}]"), "invalid_namespace_pattern", error.to_string()),
            }
        }
        Self::new(patterns)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &NamespacePattern> {
        self.0.iter()
    }

    /// Whether an application placed in `namespace` may use the certificate.
    pub fn admit(&self, namespace: &str) -> bool {
        self.0.iter().any(|pattern| pattern.matches(namespace))
    }

    /// Whether some namespace is both an owner and matched by one of `patterns` (an app
    /// team's scopes): what decides whether the team sees the certificate at all.
    pub fn overlap<'a>(&self, patterns: impl IntoIterator<Item = &'a NamespacePattern>) -> bool {
        patterns.into_iter().any(|scope| self.0.iter().any(|owner| owner.overlaps(scope)))
    }

    /// As the pages and messages say it: `team-a, team-b-*`, or `no namespace`.
    pub fn describe(&self) -> String {
        if self.0.is_empty() { "no namespace".to_owned() } else { self.to_string() }
    }
}

impl fmt::Display for CertificateOwners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&items.join(", "))
    }
}

/// The field an application's certificate choice in `environment` is on.
pub fn certificate_field(environment: &EnvironmentName) -> String {
    format!("environments.{environment}.certificate")
}

/// Where `application` names, in `environment`, a certificate of the plan that its namespace
/// there may not use: the refusal, on `environments.<env>.certificate`, naming the certificate,
/// its owners and what to do. `None` when it names none, names one the plan does not hold
/// (GH-CERT-MISSING says so), or may use it.
pub fn not_allowed_in(plan: &Plan, application: &Application, environment: &EnvironmentName) -> Option<FieldError> {
    let name = application.environments.get(environment)?.certificate.as_ref()?;
    let certificate = plan.certificates.iter().flatten().find(|c| &c.environment == environment && &c.name == name)?;
    let namespace = plan.namespace_in(application, environment);
    if certificate.owners.admit(namespace.as_str()) {
        return None;
    }
    let whose = if certificate.owners.is_empty() {
        "has no owners yet, so no namespace may use it".to_owned()
    } else {
        format!("belongs to namespaces {}", certificate.owners)
    };
    Some(FieldError::new(
        certificate_field(environment),
        "certificate_not_allowed",
        format!(
            "certificate {name} in {environment} {whose}, and application {} goes to namespace {namespace} there; choose a certificate of {namespace}, or ask a network admin to add {namespace} to the owners of {name} on its certificate page",
            application.name
        ),
    ))
}

/// Every environment where `application` names a certificate its namespace may not use
/// ([`not_allowed_in`]), in the application's environment order.
pub fn not_allowed(plan: &Plan, application: &Application) -> Vec<FieldError> {
    application.environments.keys().filter_map(|environment| not_allowed_in(plan, application, environment)).collect()
}

/// The certificates of `environment` an application placed in `namespace` may choose.
pub fn usable_in<'a>(plan: &'a Plan, environment: &'a str, namespace: &'a str) -> impl Iterator<Item = &'a CertificateInfo> + 'a {
    plan.certificates
        .iter()
        .flatten()
        .filter(move |c| c.environment.as_str() == environment && c.owners.admit(namespace))
}

/// What one certificate of a chain says about itself, as the server parsed it. Public
/// information only: the key's type and size, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateDetails {
    /// The subject's distinguished name, e.g. `CN=api-dev.mdhlabs.com`.
    pub subject: String,
    pub issuer: String,
    /// Hex bytes separated by colons, as browsers show it.
    pub serial: String,
    /// DNS names (and IP addresses as text) of the subjectAltName extension.
    pub sans: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// SHA-256 of the certificate (DER), lower-case hex.
    pub fingerprint_sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo (DER), lower-case hex: equal values, same key.
    pub public_key_sha256: String,
    /// `RSA 2048`, `ECDSA P-256`, `ECDSA P-384`, `Ed25519`.
    pub key_type: String,
    pub key_bits: u32,
    pub signature_algorithm: String,
    pub is_ca: bool,
}

/// Where a certificate stands, worst first: what the inventory's badge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    /// Past its `notAfter`.
    Expired,
    /// Before its `notBefore`.
    NotYetValid,
    /// Its SANs miss a hostname a Gateway serves with it.
    Mismatch,
    /// Valid for 30 days or less.
    Expiring,
    /// A Secret reference Gatehouse has not read yet: resolved once a cluster is connected.
    Pending,
    Valid,
    /// An earlier version, replaced by a newer upload of the same name.
    Superseded,
}

impl CertificateStatus {
    pub const ALL: [CertificateStatus; 7] = [
        Self::Valid,
        Self::Expiring,
        Self::Expired,
        Self::NotYetValid,
        Self::Mismatch,
        Self::Pending,
        Self::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Mismatch => "mismatch",
            Self::Expiring => "expiring",
            Self::Pending => "pending",
            Self::Valid => "valid",
            Self::Superseded => "superseded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::NotYetValid => "not yet valid",
            other => other.as_str(),
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == input.trim())
    }

    /// Needs someone to act: expired, not yet valid or mismatched.
    pub fn is_problem(self) -> bool {
        matches!(self, Self::Expired | Self::NotYetValid | Self::Mismatch)
    }
}

impl fmt::Display for CertificateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One certificate of a chain as `GET /api/v1/certificates/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLinkView {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub fingerprint_sha256: String,
    pub key_type: String,
    pub signature_algorithm: String,
    pub is_ca: bool,
}

/// An application whose Gateway terminates TLS with a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateUse {
    pub application: String,
    /// `<namespace>/<app>-<env>`, the Gateway as the bundle names it.
    pub gateway: String,
    pub hostnames: Vec<String>,
    /// Hostnames of the Gateway the certificate does not cover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncovered: Vec<String>,
    /// Whether the Gateway's namespace is among the certificate's owners; one that is not
    /// gets neither the bundle nor a submission until the owners or the application change.
    pub allowed: bool,
}

/// A certificate as `/api/v1/certificates` and the inventory show it: metadata, status and
/// use. There is no field for a private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    pub id: i64,
    pub environment: String,
    pub name: String,
    /// `upload`, or `secret` for a reference to a Secret in the cluster.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
    /// The namespaces whose applications may use it (names and `prefix-*`); empty: none.
    pub owners: CertificateOwners,
    /// The leaf's fields; absent while a Secret reference is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Whole days until `not_after` (negative once expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_bits: Option<u32>,
    /// Certificates in the uploaded chain, the leaf included.
    pub chain_length: usize,
    pub status: CertificateStatus,
    /// The status in words: until when, what it does not cover, why it is pending.
    pub status_detail: String,
    pub used_by: Vec<CertificateUse>,
    pub uploaded_at: String,
    pub uploaded_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<String>,
    /// The id of the current version when this one is history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_id: Option<i64>,
    /// `GET /api/v1/certificates/{id}` only: the chain, leaf first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<ChainLinkView>>,
    /// `GET /api/v1/certificates/{id}` only: earlier versions of this environment and name,
    /// newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<CertificateView>>,
}

/// How the inventory is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventorySort {
    /// By environment, then name.
    #[default]
    Environment,
    Name,
    /// Soonest expiry first.
    Expiry,
    /// Latest expiry first.
    ExpiryDesc,
    /// Worst status first.
    Status,
}

impl InventorySort {
    pub const ALL: [(InventorySort, &'static str, &'static str); 5] = [
        (Self::Environment, "environment", "Environment"),
        (Self::Name, "name", "Name"),
        (Self::Expiry, "expiry", "Expiry, soonest first"),
        (Self::ExpiryDesc, "-expiry", "Expiry, latest first"),
        (Self::Status, "status", "Status, worst first"),
    ];

    pub fn parse(input: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, key, _)| *key == input.trim()).map(|(sort, _, _)| *sort)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(sort, _, _)| *sort == self).map_or("environment", |(_, key, _)| key)
    }
}

/// The inventory's filters and order, as a query string carries them
/// (`?environment=dev&status=expiring&sort=expiry`), so links and the form work without
/// JavaScript. Unknown values are ignored, not errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryQuery {
    pub environment: Option<String>,
    pub status: Option<CertificateStatus>,
    pub sort: InventorySort,
}

impl InventoryQuery {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut query = Self::default();
        for (key, value) in pairs {
            let value = value.trim();
            match key {
                "environment" if !value.is_empty() => query.environment = Some(value.to_owned()),
                "status" => query.status = CertificateStatus::parse(value),
                "sort" => query.sort = InventorySort::parse(value).unwrap_or_default(),
                _ => {}
            }
        }
        query
    }

    /// Keeps the certificates that pass the filters, in the chosen order.
    pub fn apply(&self, mut certificates: Vec<CertificateView>) -> Vec<CertificateView> {
        certificates.retain(|c| {
            self.environment.as_ref().is_none_or(|e| &c.environment == e) && self.status.is_none_or(|s| c.status == s)
        });
        let expiry = |c: &CertificateView| c.not_after.clone().unwrap_or_else(|| "~".to_owned());
        let by_place = |a: &CertificateView, b: &CertificateView| (&a.environment, &a.name).cmp(&(&b.environment, &b.name));
        match self.sort {
            InventorySort::Environment => certificates.sort_by(by_place),
            InventorySort::Name => certificates.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| by_place(a, b))),
            InventorySort::Expiry => certificates.sort_by(|a, b| expiry(a).cmp(&expiry(b)).then_with(|| by_place(a, b))),
            InventorySort::ExpiryDesc => certificates.sort_by(|a, b| {
                let (a_key, b_key) = (a.not_after.clone().unwrap_or_default(), b.not_after.clone().unwrap_or_default());
                b_key.cmp(&a_key).then_with(|| by_place(a, b))
            }),
            InventorySort::Status => certificates.sort_by(|a, b| a.status.cmp(&b.status).then_with(|| by_place(a, b))),
        }
        certificates
    }
}

/// Whether a certificate with these SANs covers `host`, as browsers decide: an equal name,
/// or a wildcard standing for exactly one left-most label (`*.example.com` covers
/// `api.example.com`, not `example.com` nor `a.b.example.com`).
pub fn covers(sans: &[String], host: &Hostname) -> bool {
    sans.iter().any(|san| san.eq_ignore_ascii_case(host.as_str()))
        || sans.iter().filter_map(|san| Hostname::parse(san).ok()).any(|san| san.matches(host))
}

/// The hostnames of `served` that the certificate does not cover.
pub fn uncovered<'a>(certificate: &CertificateInfo, served: impl IntoIterator<Item = &'a Hostname>) -> Vec<&'a Hostname> {
    served.into_iter().filter(|host| !covers(&certificate.sans, host)).collect()
}

/// The status of a current certificate at `now` (Unix seconds), given the hostnames the
/// Gateways that use it serve.
pub fn certificate_status<'a>(
    certificate: &CertificateInfo,
    served: impl IntoIterator<Item = &'a Hostname>,
    now: i64,
) -> CertificateStatus {
    if certificate.is_pending() {
        CertificateStatus::Pending
    } else if certificate.not_after <= now {
        CertificateStatus::Expired
    } else if certificate.not_before > now {
        CertificateStatus::NotYetValid
    } else if !uncovered(certificate, served).is_empty() {
        CertificateStatus::Mismatch
    } else if certificate.not_after - now <= EXPIRY_WARNING_SECONDS {
        CertificateStatus::Expiring
    } else {
        CertificateStatus::Valid
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::EnvironmentName;

    fn info(sans: &[&str], not_before: i64, not_after: i64) -> CertificateInfo {
        CertificateInfo {
            environment: EnvironmentName::parse("dev").unwrap(),
            name: K8sSubdomain::parse("api-tls").unwrap(),
            sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            not_before,
            not_after,
            fingerprint_sha256: "f".into(),
            public_key_fingerprint: "k".into(),
            secret_ref: None,
            owners: CertificateOwners::default(),
        }
    }

    fn host(name: &str) -> Hostname {
        Hostname::parse(name).unwrap()
    }

    #[test]
    fn wildcards_cover_one_leftmost_label_as_browsers_do() {
        let sans = vec!["*.mdhlabs.com".to_owned(), "mdhlabs.org".to_owned()];
        assert!(covers(&sans, &host("api.mdhlabs.com")));
        assert!(covers(&sans, &host("API.MDHLABS.COM")));
        assert!(!covers(&sans, &host("mdhlabs.com")), "the bare domain is not covered");
        assert!(!covers(&sans, &host("a.b.mdhlabs.com")), "two labels are not covered");
        assert!(!covers(&sans, &host("api.mdhlabs.org")));
        assert!(covers(&sans, &host("mdhlabs.org")));
        assert!(!covers(&["*.com".to_owned()], &host("example.com")), "no wildcard under a top-level domain");
        assert!(!covers(&["api*.mdhlabs.com".to_owned()], &host("api1.mdhlabs.com")), "partial wildcards are not honoured");
    }

    #[test]
    fn status_follows_validity_then_names_then_expiry() {
        let now = 1_000_000_000;
        let day = 86_400;
        let dev = host("api-dev.mdhlabs.com");
        let valid = info(&["api-dev.mdhlabs.com"], now - day, now + 90 * day);
        assert_eq!(certificate_status(&valid, [&dev], now), CertificateStatus::Valid);
        let expiring = info(&["api-dev.mdhlabs.com"], now - day, now + 10 * day);
        assert_eq!(certificate_status(&expiring, [&dev], now), CertificateStatus::Expiring);
        let expired = info(&["other.mdhlabs.com"], now - 90 * day, now - day);
        assert_eq!(certificate_status(&expired, [&dev], now), CertificateStatus::Expired, "expiry before names");
        let early = info(&["api-dev.mdhlabs.com"], now + day, now + 90 * day);
        assert_eq!(certificate_status(&early, [&dev], now), CertificateStatus::NotYetValid);
        let wrong = info(&["api.mdhlabs.com"], now - day, now + 10 * day);
        assert_eq!(certificate_status(&wrong, [&dev], now), CertificateStatus::Mismatch, "names before expiring");
        assert_eq!(certificate_status(&wrong, [], now), CertificateStatus::Expiring, "unused: nothing to mismatch");
        let mut pending = info(&[], 0, 0);
        pending.fingerprint_sha256.clear();
        pending.secret_ref = Some(SecretReference {
            namespace: K8sName::parse("cd-service").unwrap(),
            name: K8sSubdomain::parse("api-tls").unwrap(),
        });
        assert_eq!(certificate_status(&pending, [&dev], now), CertificateStatus::Pending);
        assert_eq!(CertificateStatus::parse("not_yet_valid"), Some(CertificateStatus::NotYetValid));
        assert_eq!(serde_json::to_value(CertificateStatus::NotYetValid).unwrap(), json!("not_yet_valid"));
    }

    #[test]
    fn upload_input_checks_its_fields() {
        let parse = |value: serde_json::Value| {
            CertificateUpload::parse(serde_json::from_value::<CertificateUploadInput>(value).unwrap())
        };
        let codes = |errors: FieldErrors| errors.into_iter().map(|e| (e.field, e.code)).collect::<Vec<_>>();
        assert_eq!(
            codes(parse(json!({"name": "API_TLS"})).unwrap_err()),
            vec![
                ("name".to_owned(), "invalid_k8s_name".to_owned()),
                ("certificate_pem".to_owned(), "required".to_owned()),
                ("private_key_pem".to_owned(), "required".to_owned()),
            ]
        );
        let both = parse(json!({"name": "api-tls", "certificate_pem": "x", "secret_ref": {"namespace": "a", "name": "b"}}));
        assert_eq!(codes(both.unwrap_err()), vec![("secret_ref".to_owned(), "ambiguous_source".to_owned())]);
        let reference = parse(json!({"name": "api-tls", "secret_ref": {"namespace": "cd-service", "name": "api-tls"}})).unwrap();
        assert!(matches!(reference.source, CertificateSource::Secret(_)));
        let big = "A".repeat(MAX_PEM_BYTES + 1);
        let errors = parse(json!({"name": "api-tls", "certificate_pem": big, "private_key_pem": "k"})).unwrap_err();
        assert_eq!(errors.get("certificate_pem").unwrap().code, "file_too_large");
        assert!(errors.get("certificate_pem").unwrap().message.contains("1 MiB"));
        assert!(serde_json::from_value::<CertificateUploadInput>(json!({"name": "x", "key": "y"})).is_err());
    }

    fn owners(items: &[&str]) -> CertificateOwners {
        CertificateOwners::parse("owners", &items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn owners_are_namespaces_and_prefixes_sorted_once_and_bad_items_are_named() {
        let parsed = owners(&["team-x-*", " cd-service ", "", "team-x-*"]);
        assert_eq!(parsed.to_string(), "cd-service, team-x-*");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), json!(["cd-service", "team-x-*"]));
        assert!(parsed.admit("cd-service") && parsed.admit("team-x-dev") && !parsed.admit("team-x") && !parsed.admit("cd-service-dev"));
        let team = |text: &str| crate::access::Scopes::parse(text).unwrap();
        assert!(parsed.overlap(team("namespace:team-*").namespaces()), "a wider scope overlaps");
        assert!(parsed.overlap(team("namespace:team-x-prod").namespaces()));
        assert!(!parsed.overlap(team("namespace:team-y, namespace:cd-service-*").namespaces()));
        assert_eq!(CertificateOwners::default().describe(), "no namespace");
        assert_eq!(CertificateOwners::split("a, b-*\nc"), ["a", "b-*", "c"]);

        let items = vec!["ok".to_owned(), "Team_X".to_owned(), "-x".to_owned()];
        let errors = CertificateOwners::parse("owners", &items).unwrap_err();
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(fields, [("owners[1]", "invalid_namespace_pattern"), ("owners[2]", "invalid_namespace_pattern")]);
        let upload = CertificateUpload::parse(
            serde_json::from_value(json!({"name": "api-tls", "secret_ref": {"namespace": "a", "name": "b"}, "owners": ["x*", "Y"]})).unwrap(),
        );
        assert_eq!(upload.unwrap_err().get("owners[1]").unwrap().code, "invalid_namespace_pattern");
        let said = json!({"name": "api-tls", "secret_ref": {"namespace": "a", "name": "b"}, "owners": []});
        assert_eq!(CertificateUpload::parse(serde_json::from_value(said).unwrap()).unwrap().owners, Some(CertificateOwners::default()));
        let unsaid = json!({"name": "api-tls", "secret_ref": {"namespace": "a", "name": "b"}});
        assert_eq!(CertificateUpload::parse(serde_json::from_value(unsaid).unwrap()).unwrap().owners, None);
    }

    #[test]
    fn an_application_may_name_only_a_certificate_its_namespace_there_owns() {
        let mut plan = crate::seed_plan();
        let mut dev = info(&["api-dev.mdhlabs.com"], 0, i64::MAX);
        dev.owners = owners(&["cd-service"]);
        plan.certificates = Some(vec![dev]);
        let api = plan.applications[0].clone();
        // dev puts api in cd-service-dev: an owner of cd-service only does not cover it.
        let refused = not_allowed(&plan, &api);
        assert_eq!(refused.len(), 1, "prod's certificate is not uploaded: GH-CERT-MISSING's business, not this");
        assert_eq!((refused[0].field.as_str(), refused[0].code.as_str()), ("environments.dev.certificate", "certificate_not_allowed"));
        let message = &refused[0].message;
        for part in ["api-tls", "belongs to namespaces cd-service", "namespace cd-service-dev", "add cd-service-dev to the owners"] {
            assert!(message.contains(part), "{part:?} in {message}");
        }
        assert_eq!(usable_in(&plan, "dev", "cd-service-dev").count(), 0);

        plan.certificates.as_mut().unwrap()[0].owners = owners(&["cd-service*"]);
        assert!(not_allowed(&plan, &api).is_empty(), "a prefix covers cd-service-dev");
        assert_eq!(usable_in(&plan, "dev", "cd-service-dev").count(), 1);
        assert_eq!(usable_in(&plan, "prod", "cd-service-dev").count(), 0, "another environment's certificate is not offered");

        plan.certificates.as_mut().unwrap()[0].owners = CertificateOwners::default();
        let nobody = not_allowed_in(&plan, &api, &EnvironmentName::parse("dev").unwrap()).unwrap();
        assert!(nobody.message.contains("has no owners yet"), "{}", nobody.message);
    }

    #[test]
    fn the_debug_form_of_an_upload_never_shows_the_key() {
        let input = CertificateUploadInput {
            name: "api-tls".into(),
            certificate_pem: None,
            private_key_pem: Some(PrivateKeyPem::new("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n".into())),
            secret_ref: None,
            owners: None,
        };
        let shown = format!("{input:?}");
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("BEGIN"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
