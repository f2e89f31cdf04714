//! Certificates (only when the plan's certificate list is authoritative).
use super::*;

// =============================================================================================
// Certificates (only when the plan's certificate list is authoritative)

/// Groups of certificates (indexes) with the same non-empty `key` in two or more
/// environments, each group sorted, the groups sorted.
pub(super) fn shared_across_environments(
    certificates: &[CertificateInfo],
    key: impl Fn(&CertificateInfo) -> &str,
) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&str, (&EnvironmentName, bool)> = HashMap::with_capacity(certificates.len());
    for c in certificates.iter().filter(|c| !key(c).is_empty()) {
        seen.entry(key(c))
            .and_modify(|(first, shared)| *shared |= *first != &c.environment)
            .or_insert((&c.environment, false));
    }
    let mut groups: HashMap<&str, Vec<usize>> =
        seen.into_iter().filter(|(_, (_, shared))| *shared).map(|(k, _)| (k, Vec::new())).collect();
    if groups.is_empty() {
        return Vec::new();
    }
    for (i, c) in certificates.iter().enumerate() {
        if let Some(group) = groups.get_mut(key(c)) {
            group.push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort();
    groups
}

pub(super) fn check_certificates(ctx: &Ctx<'_>, certificates: &[CertificateInfo], out: &mut Vec<Finding>) {
    let by_name: HashMap<(&str, &str), usize> =
        certificates.iter().enumerate().map(|(i, c)| ((c.environment.as_str(), c.name.as_str()), i)).collect();
    // (certificate index, application) for every use of a certificate.
    let mut uses: Vec<(usize, &K8sName)> = Vec::new();

    for app in &ctx.plan.applications {
        for (env, e) in &app.environments {
            let Some(name) = &e.certificate else { continue };
            let objects = || vec![app_obj(&app.name), cert_obj(env, name), env_obj(env)];
            let Some(&index) = by_name.get(&(env.as_str(), name.as_str())) else {
                out.push(finding(
                    &rule::CERT_MISSING,
                    format!(
                        "application {} in {env} uses certificate {name}, which is not uploaded to {env}",
                        app.name
                    ),
                    format!("upload certificate {name} to {env}, or pick one of its certificates"),
                    objects(),
                ));
                continue;
            };
            uses.push((index, &app.name));
            let cert = &certificates[index];
            if let Some(secret) = cert.secret_ref.as_ref().filter(|_| cert.is_pending()) {
                out.push(finding(
                    &rule::CERT_UNVERIFIED,
                    format!(
                        "certificate {name} in {env} of application {} refers to Secret {}/{}, which Gatehouse has not read yet",
                        app.name, secret.namespace, secret.name
                    ),
                    "connect the cluster so the Secret is read, or upload the certificate and key instead".to_owned(),
                    objects(),
                ));
                continue;
            }
            let uncovered = uncovered(cert, &e.hostnames);
            if !uncovered.is_empty() {
                out.push(finding(
                    &rule::CERT_SAN,
                    format!(
                        "certificate {name} in {env} does not cover {} of application {} (its names: {})",
                        join(&uncovered),
                        app.name,
                        if cert.sans.is_empty() { "none".to_owned() } else { join(&cert.sans) }
                    ),
                    "issue a certificate whose SANs list every hostname (a wildcard covers one label)".to_owned(),
                    objects(),
                ));
            }
        }
    }
    uses.sort_by_key(|(index, _)| *index);
    let users_of = |index: usize| {
        let from = uses.partition_point(|(i, _)| *i < index);
        uses[from..].iter().take_while(move |(i, _)| *i == index).map(|(_, app)| *app)
    };

    // Validity of every certificate in use.
    for run in uses.chunk_by(|a, b| a.0 == b.0) {
        let cert = &certificates[run[0].0];
        if cert.is_pending() {
            continue;
        }
        let (env, name) = (&cert.environment, &cert.name);
        let expired = cert.not_after <= ctx.now;
        let not_yet = cert.not_before > ctx.now;
        let expiring = cert.not_after - ctx.now <= EXPIRY_WARNING_SECONDS;
        if !(expired || not_yet || expiring) {
            continue;
        }
        let mut objects = vec![cert_obj(env, name)];
        objects.extend(run.iter().map(|(_, app)| app_obj(app)));
        objects.push(env_obj(env));
        if expired || not_yet {
            let message = if expired {
                format!("certificate {name} in {env} expired {} ago", human_duration(ctx.now - cert.not_after))
            } else {
                format!(
                    "certificate {name} in {env} is not valid for another {}",
                    human_duration(cert.not_before - ctx.now)
                )
            };
            out.push(finding(&rule::CERT_EXPIRED, message, "upload a renewed certificate".to_owned(), objects));
        } else {
            out.push(finding(
                &rule::CERT_EXPIRING,
                format!("certificate {name} in {env} expires in {}", human_duration(cert.not_after - ctx.now)),
                "renew it now and upload the new certificate".to_owned(),
                objects,
            ));
        }
    }

    // GH-TLS-DISTINCT over every certificate of the plan: a shared certificate or key is a
    // risk whether or not an application uses it yet. A shared key is only reported when the
    // certificates differ; the same certificate is reported once, as such.
    let same_cert = shared_across_environments(certificates, |c| c.fingerprint_sha256.as_str());
    let same_key = shared_across_environments(certificates, |c| c.public_key_fingerprint.as_str());
    let distinct_certs = |group: &Vec<usize>| {
        group.iter().map(|&i| certificates[i].fingerprint_sha256.as_str()).collect::<BTreeSet<_>>().len() > 1
    };
    let groups =
        same_cert.into_iter().map(|g| (true, g)).chain(same_key.into_iter().filter(distinct_certs).map(|g| (false, g)));
    for (is_same_cert, group) in groups {
        let certs: Vec<&CertificateInfo> = group.iter().map(|&i| &certificates[i]).collect();
        let names = join(certs.iter().map(|c| format!("{} in {}", c.name, c.environment)));
        let mut objects: Vec<String> = certs.iter().map(|c| cert_obj(&c.environment, &c.name)).collect();
        for &i in &group {
            objects.extend(users_of(i).map(app_obj));
        }
        objects.extend(certs.iter().map(|c| env_obj(&c.environment)));
        let what = if is_same_cert { "are the same certificate" } else { "share one private key" };
        out.push(finding(
            &rule::TLS_DISTINCT,
            format!("{names} {what}"),
            "issue each environment its own certificate with a freshly generated key".to_owned(),
            objects,
        ));
    }
}

pub(super) fn human_duration(seconds: i64) -> String {
    let days = seconds / 86_400;
    match days {
        0 => match seconds / 3600 {
            0 => "less than an hour".to_owned(),
            1 => "1 hour".to_owned(),
            h => format!("{h} hours"),
        },
        1 => "1 day".to_owned(),
        d => format!("{d} days"),
    }
}
