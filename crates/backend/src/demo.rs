//! `--demo`: the seed document's example, stored idempotently.
use std::collections::{BTreeMap, BTreeSet};

use super::{
    applications,
    auth::Principal,
    certificates::{self, CertificateError, SecretKey, issue::DemoCa},
    db::{Database, DbError},
    environments, pools,
};
use domain::{
    CertificateUpload, K8sSubdomain, Plan,
    access::NamespacePattern,
    certificates::{CertificateOwners, CertificateSource},
    seed_plan,
};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("storing a demo certificate: {0}")]
    Certificate(#[from] CertificateError),
    #[error("issuing a demo certificate: {0}")]
    Issue(#[from] rcgen::Error),
}

pub const DEMO_ACTOR: &str = "demo-seed";

/// Treats "another replica created it first" as done.
fn already_there(result: Result<(), DbError>) -> Result<bool, DbError> {
    match result {
        Ok(()) => Ok(true),
        Err(DbError::Conflict(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Stores what the demo plan has and the database lacks; never overwrites a change a user
/// made to a demo object. Returns how many objects it created.
pub async fn seed(db: &Database, secret_key: &SecretKey) -> Result<usize, DemoError> {
    store(db, secret_key, &seed_plan()).await
}

/// Stores what `plan` has and the database lacks through the services every user goes
/// through (each save checked against the plan), with certificates issued for its hostnames;
/// the plan's own allocations and certificate records are not copied. The demo and the
/// scale benchmark's organisation-sized plan are stored this way.
pub async fn store(db: &Database, secret_key: &SecretKey, plan: &Plan) -> Result<usize, DemoError> {
    let mut created = 0;
    for environment in &plan.environments {
        if environments::get(db, environment.name.as_str()).await?.is_none()
            && already_there(environments::create(db, &crate::auth::Principal::system(DEMO_ACTOR), environment).await.map(|_| ()))?
        {
            created += 1;
        }
    }
    for pool in &plan.pools {
        let existing = pools::list(db, Some(pool.environment.as_str())).await?;
        if !existing.iter().any(|p| p.name == pool.name)
            && already_there(pools::create(db, &crate::auth::Principal::system(DEMO_ACTOR), pool).await.map(|_| ()))?
        {
            created += 1;
        }
    }
    created += seed_certificates(db, secret_key, plan).await?;
    for application in &plan.applications {
        if applications::get(db, application.name.as_str()).await?.is_none()
            && already_there(applications::create(db, &Default::default(), &crate::auth::Principal::system(DEMO_ACTOR), application).await)?
        {
            created += 1;
        }
    }
    Ok(created)
}

/// Each environment gets its own key pair and a certificate for every hostname its
/// applications serve with that certificate name, issued now by a demo CA whose key is
/// forgotten afterwards: distinct per environment, so the demo's checklist stays clean. Each
/// belongs to the namespaces those applications go to there.
async fn seed_certificates(db: &Database, secret_key: &SecretKey, plan: &Plan) -> Result<usize, DemoError> {
    type Wanted = (BTreeSet<String>, BTreeSet<NamespacePattern>);
    let mut wanted: BTreeMap<(String, K8sSubdomain), Wanted> = BTreeMap::new();
    for application in &plan.applications {
        for (environment, entry) in &application.environments {
            if let Some(name) = &entry.certificate {
                let (hostnames, namespaces) = wanted.entry((environment.to_string(), name.clone())).or_default();
                hostnames.extend(entry.hostnames.iter().map(ToString::to_string));
                namespaces.extend(NamespacePattern::parse(plan.namespace_in(application, environment).as_str()).ok());
            }
        }
    }
    let mut ca: Option<DemoCa> = None;
    let mut created = 0;
    for ((environment, name), (hostnames, namespaces)) in wanted {
        if certificates::exists(db, &environment, name.as_str()).await? {
            continue;
        }
        let ca = match &mut ca {
            Some(ca) => ca,
            None => ca.insert(DemoCa::new()?),
        };
        let production = plan.environments.iter().any(|e| e.name.as_str() == environment && e.is_production());
        let hostnames: Vec<String> = hostnames.into_iter().collect();
        let issued = ca.issue(&hostnames, if production { 397 } else { 90 })?;
        let upload = CertificateUpload {
            name,
            source: CertificateSource::Pem { certificate_pem: issued.chain_pem, private_key_pem: issued.key_pem },
            owners: Some(CertificateOwners::new(namespaces)),
        };
        match certificates::upload(db, secret_key, &Principal::system(DEMO_ACTOR), &environment, &upload).await {
            Ok(_) => created += 1,
            // Another replica stored it first.
            Err(CertificateError::Db(error)) if error.is_unique_violation() => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(created)
}
