//! Certificate metadata, allocations, and the plan that holds everything.
use super::*;

// =============================================================================================
// Certificates, allocations, the plan

/// What Gatehouse knows about an uploaded TLS certificate: metadata only, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub environment: EnvironmentName,
    pub name: K8sSubdomain,
    /// Subject alternative names as found in the certificate (DNS names; IP SANs as text).
    pub sans: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub fingerprint_sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo: equal values mean a shared private key.
    pub public_key_fingerprint: String,
    /// Set when the certificate is a `kubernetes.io/tls` Secret already in the cluster rather
    /// than an upload. Until Gatehouse reads it (an empty fingerprint) its names, validity and
    /// key are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<crate::certificates::SecretReference>,
    /// The namespaces whose applications may use it ([`crate::certificates::not_allowed`]).
    #[serde(default, skip_serializing_if = "crate::certificates::CertificateOwners::is_empty")]
    pub owners: crate::certificates::CertificateOwners,
}

impl CertificateInfo {
    /// A Secret reference whose certificate has not been read yet.
    pub fn is_pending(&self) -> bool {
        self.secret_ref.is_some() && self.fingerprint_sha256.is_empty()
    }
}

/// An address handed out from a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub address: IpAddr,
    pub pool_id: i64,
    pub environment: EnvironmentName,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<K8sName>,
}

/// Everything the checklist looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plan {
    pub environments: Vec<Environment>,
    pub pools: Vec<VipPool>,
    pub applications: Vec<Application>,
    pub allocations: Vec<Allocation>,
    /// `None`: certificates are not known (e.g. not uploaded yet, or a draft plan), so the
    /// certificate rules are skipped. `Some(list)`: the list is authoritative — a referenced
    /// certificate that is not in it is missing.
    pub certificates: Option<Vec<CertificateInfo>>,
}

impl Plan {
    pub fn environment(&self, name: &EnvironmentName) -> Option<&Environment> {
        self.environments.iter().find(|e| &e.name == name)
    }

    pub fn application(&self, name: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.name.as_str() == name)
    }

    /// The part of the plan about `environments`: them, their pools and allocations, and the
    /// applications' settings for them (applications in none of them left out). What one
    /// cluster is compared with, when environments go to different clusters.
    pub fn only_environments(&self, environments: &[&EnvironmentName]) -> Plan {
        let kept = |name: &EnvironmentName| environments.contains(&name);
        Plan {
            environments: self.environments.iter().filter(|e| kept(&e.name)).cloned().collect(),
            pools: self.pools.iter().filter(|p| kept(&p.environment)).cloned().collect(),
            applications: self
                .applications
                .iter()
                .filter_map(|a| {
                    let mut a = a.clone();
                    a.environments.retain(|name, _| kept(name));
                    (!a.environments.is_empty()).then_some(a)
                })
                .collect(),
            allocations: self.allocations.iter().filter(|a| kept(&a.environment)).cloned().collect(),
            certificates: self
                .certificates
                .as_ref()
                .map(|certificates| certificates.iter().filter(|c| kept(&c.environment)).cloned().collect()),
        }
    }

    /// The namespace `application` gets in `environment` ([`Environment::namespace_or_own`]),
    /// or the application's own when the environment is unknown.
    pub fn namespace_in(&self, application: &Application, environment: &EnvironmentName) -> K8sName {
        self.environment(environment).map_or_else(|| application.namespace.clone(), |env| env.namespace_or_own(application))
    }

    pub fn pools_of<'a>(&'a self, environment: &'a EnvironmentName) -> impl Iterator<Item = &'a VipPool> + 'a {
        self.pools.iter().filter(move |p| &p.environment == environment)
    }
}
