//! Applications: hostnames, placements, namespaces, listeners and routes.
use super::*;

// =============================================================================================
// Applications

pub(super) fn check_application_rules(ctx: &Ctx<'_>, app: &Application, out: &mut Vec<Finding>) {
    let a = || app_obj(&app.name);
    for (env_name, e) in &app.environments {
        let info = ctx.info(env_name);
        let env = info.and_then(|i| i.env);
        let objects = || vec![a(), env_obj(env_name)];
        if env.is_none() {
            out.push(finding(
                &rule::ENV_UNKNOWN,
                format!("application {} has settings for environment {env_name}, which is not defined", app.name),
                format!("create environment {env_name} or remove it from the application"),
                objects(),
            ));
        }
        if e.hostnames.is_empty() || e.certificate.is_none() {
            let missing = match (e.hostnames.is_empty(), e.certificate.is_none()) {
                (true, true) => "no hostname and no certificate",
                (true, false) => "no hostname",
                _ => "no certificate",
            };
            out.push(finding(
                &rule::GATEWAY_TLS,
                format!(
                    "application {} in {env_name} has {missing}, so it cannot get a TLS Gateway of its own",
                    app.name
                ),
                "give the environment its hostnames and the name of its TLS certificate".to_owned(),
                objects(),
            ));
        }
        if let Some(env) = env {
            // GH-GATEWAY-LABEL: Gatehouse always copies the advertisement label into the
            // Gateway's spec.infrastructure.labels and onto the generated Service, so a
            // reminder on every application would be noise. It fires only where that copy
            // cannot work: a Gateway (the environment has hostnames) in an environment whose
            // label has no value. The environment itself gets GH-ADVERT-LABEL.
            if !e.hostnames.is_empty() && env.advertisement.label.value.is_empty() {
                out.push(finding(
                    &rule::GATEWAY_LABEL,
                    format!(
                        "the Gateway of application {} in {env_name} cannot carry a usable advertisement label ({} has an empty value), so its generated Service cilium-gateway-… is not announced",
                        app.name, env.advertisement.label.key
                    ),
                    format!("give environment {env_name} an advertisement label value; Gatehouse then sets it in spec.infrastructure.labels and on the generated Service"),
                    objects(),
                ));
            }
            if e.external_traffic_policy == ExternalTrafficPolicy::Local && env.advertisement.mode.uses_arp() {
                out.push(finding(
                    &rule::L2_ETP_LOCAL,
                    format!("application {} in {env_name} sets externalTrafficPolicy: Local, but {env_name} announces VIPs by ARP", app.name),
                    "use externalTrafficPolicy: Cluster (the default) for L2-announced Services".to_owned(),
                    objects(),
                ));
            }
            if let VipRequest::Address(vip) = e.vip
                && vip.is_ipv6()
                && env.advertisement.mode == AdvertisementMode::Arp
            {
                out.push(finding(
                    &rule::ARP_IPV6,
                    format!(
                        "application {} asks for the IPv6 VIP {vip} in {env_name}, which announces VIPs by ARP only",
                        app.name
                    ),
                    "ask for an IPv4 VIP, or announce IPv6 by BGP".to_owned(),
                    vec![a(), env_obj(env_name), vip_obj(vip)],
                ));
            }
        }
        if let VipRequest::Address(vip) = e.vip
            && !info.is_some_and(|i| i.index.contains(vip))
        {
            let pools = join(
                info.map_or(&[][..], |i| i.pools.as_slice())
                    .iter()
                    .map(|p| format!("{} ({})", p.name, join(&p.blocks))),
            );
            out.push(finding(
                &rule::VIP_OUTSIDE_POOL,
                format!(
                    "application {} asks for VIP {vip} in {env_name}, which is in none of its pools{}",
                    app.name,
                    if pools.is_empty() { String::from(" (it has none)") } else { format!(": {pools}") }
                ),
                "ask for an address from the environment's pools, or `auto`".to_owned(),
                vec![a(), env_obj(env_name), vip_obj(vip)],
            ));
        }
        if env.map_or_else(|| is_production_name(env_name), Environment::is_production) {
            if app.replicas < 2 {
                out.push(finding(
                    &rule::PROD_REPLICAS,
                    format!(
                        "application {} runs {} replica{} in production environment {env_name}",
                        app.name,
                        app.replicas,
                        if app.replicas == 1 { "" } else { "s" }
                    ),
                    "run at least 2 replicas".to_owned(),
                    objects(),
                ));
            }
            let missing: Vec<&str> =
                [("readiness", app.readiness_path.is_none()), ("liveness", app.liveness_path.is_none())]
                    .into_iter()
                    .filter_map(|(name, missing)| missing.then_some(name))
                    .collect();
            if !missing.is_empty() {
                out.push(finding(
                    &rule::PROD_PROBES,
                    format!("application {} has no {} probe in production environment {env_name}", app.name, missing.join(" and no ")),
                    "set readiness_path and liveness_path, e.g. /actuator/health/readiness and /actuator/health/liveness".to_owned(),
                    objects(),
                ));
            }
        }
    }
    check_config_distinct(app, out);
    check_namespaces(ctx, app, out);
}

/// GH-ENV-NAMESPACE: the namespace each environment gives the application is a valid name,
/// and no two environments put it in the same namespace of the same cluster.
pub(super) fn check_namespaces(ctx: &Ctx<'_>, app: &Application, out: &mut Vec<Finding>) {
    let mut placed: BTreeMap<(&str, String), Vec<&EnvironmentName>> = BTreeMap::new();
    for env_name in app.environments.keys() {
        let Some(env) = ctx.environment(env_name) else { continue };
        match env.namespace_of(app) {
            Ok(namespace) => placed.entry((env.cluster_name(), namespace.to_string())).or_default().push(env_name),
            Err(error) => out.push(finding(
                &rule::ENV_NAMESPACE,
                format!(
                    "environment {env_name}'s namespace template {} gives application {} no valid namespace: {error}",
                    env.namespace_template, app.name
                ),
                format!("shorten the application's namespace or environment {env_name}'s namespace template"),
                vec![app_obj(&app.name), env_obj(env_name)],
            )),
        }
    }
    for ((cluster, namespace), envs) in placed.into_iter().filter(|(_, envs)| envs.len() > 1) {
        let to_change = least_protected(ctx, &envs);
        let mut objects = vec![app_obj(&app.name)];
        objects.extend(envs.iter().map(|e| env_obj(e)));
        out.push(finding(
            &rule::ENV_NAMESPACE,
            format!(
                "environments {} put application {} in namespace {namespace} of cluster {cluster}, so they would share its Deployment, Service and ConfigMap",
                join(&envs),
                app.name
            ),
            format!(
                "map {} to a cluster of its own, or give it a namespace template such as {{namespace}}-{}",
                to_change, to_change
            ),
            objects,
        ));
    }
}

/// Of environments that clash, the one whose placement a fix should change: the last that is
/// not production (protected or named so), else the last.
pub(super) fn least_protected<'e>(ctx: &Ctx<'_>, envs: &[&'e EnvironmentName]) -> &'e EnvironmentName {
    let production = |name: &EnvironmentName| ctx.environment(name).is_some_and(Environment::is_production);
    let last = envs.last().copied();
    envs.iter().rev().copied().find(|name| !production(name)).or(last).expect("a clash has two environments")
}

/// GH-ENV-NAMESPACE, asked when `environment` is saved into `plan` (created or changed):
/// an application of another environment on the same cluster that `environment`'s namespace
/// template would put in the namespace it already has there. The applications' own checks
/// catch a clash only once one is in both environments; this catches it where it is made.
/// The fix named is always `environment`'s, the one being saved, never the other's.
pub fn namespace_clashes(plan: &Plan, environment: &Environment) -> Vec<Finding> {
    let mut out = Vec::new();
    let others = plan.environments.iter().filter(|other| other.name != environment.name && other.cluster_name() == environment.cluster_name());
    for other in others {
        let clashing: Vec<(&K8sName, K8sName)> = plan
            .applications
            .iter()
            .filter(|app| app.environments.contains_key(&other.name) || app.environments.contains_key(&environment.name))
            .filter_map(|app| match (environment.namespace_of(app), other.namespace_of(app)) {
                (Ok(here), Ok(there)) if here == there => Some((&app.name, here)),
                _ => None,
            })
            .collect();
        if clashing.is_empty() {
            continue;
        }
        let (name, template) = (&environment.name, &environment.namespace_template);
        let same = if template.same_for_every_namespace(name, &other.namespace_template, &other.name) {
            format!(" (the same placement as environment {}'s template {})", other.name, other.namespace_template)
        } else {
            String::new()
        };
        let placements = join(clashing.iter().map(|(app, namespace)| format!("application {app} in namespace {namespace}")));
        let mut objects = vec![env_obj(name), env_obj(&other.name)];
        objects.extend(clashing.iter().map(|(app, _)| app_obj(app)));
        let mut found = finding(
            &rule::ENV_NAMESPACE,
            format!(
                "environment {name}'s namespace template {template} puts {placements} of cluster {}, where environment {} puts it too{same}; \
                 the two environments would share its Deployment, Service and ConfigMap",
                environment.cluster_name(),
                other.name,
            ),
            format!("give environment {name} a namespace template of its own, such as {{namespace}}-{name}, or map it to another cluster"),
            objects,
        );
        found.field = Some(Cow::Borrowed("namespace_template"));
        out.push(found);
    }
    out
}

pub(super) fn check_config_distinct(app: &Application, out: &mut Vec<Finding>) {
    if app.environments.len() < 2 {
        return;
    }
    let a = || app_obj(&app.name);
    let (with, without): (Vec<_>, Vec<_>) = app.environments.iter().partition(|(_, e)| !e.config.is_empty());
    if with.is_empty() {
        // No environment has config data: there is nothing to keep apart.
        return;
    }
    for (env, _) in &without {
        out.push(finding(
            &rule::CONFIGMAP_DISTINCT,
            format!(
                "application {} has ConfigMap data in {} but none in {env}",
                app.name,
                join(with.iter().map(|(e, _)| e))
            ),
            format!("give {env} its own settings, or remove the data from the other environments if none is needed"),
            vec![a(), env_obj(env)],
        ));
    }
    // Group the environments by identical data; a group of two or more is a finding.
    let mut groups: Vec<(&AppEnvironment, Vec<&EnvironmentName>)> = Vec::new();
    for (env, e) in &with {
        match groups.iter_mut().find(|(data, _)| data.config == e.config) {
            Some((_, envs)) => envs.push(env),
            None => groups.push((e, vec![env])),
        }
    }
    for (_, envs) in groups.into_iter().filter(|(_, envs)| envs.len() > 1) {
        let mut objects = vec![a()];
        objects.extend(envs.iter().map(|e| env_obj(e)));
        out.push(finding(
            &rule::CONFIGMAP_DISTINCT,
            format!("application {} has identical ConfigMap data in {}", app.name, join(&envs)),
            "set the environment-specific values (profile, URLs, credentials references) in each environment"
                .to_owned(),
            objects,
        ));
    }
}

/// GH-HOSTNAME-DISTINCT: the same hostname in two environments, or a wildcard in one
/// environment covering a hostname of another. Hash maps, no pairwise comparison.
pub(super) fn check_hostnames(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    type Use<'a> = (&'a Hostname, &'a EnvironmentName, &'a K8sName);
    let mut uses: Vec<Use<'_>> = Vec::new();
    for app in &ctx.plan.applications {
        for (env, e) in &app.environments {
            uses.extend(e.hostnames.iter().map(|h| (h, env, &app.name)));
        }
    }
    let uses_objects = |uses: &[Use<'_>]| {
        let mut objects: Vec<String> = uses.iter().map(|(_, _, app)| app_obj(app)).collect();
        objects.extend(uses.iter().map(|(_, env, _)| env_obj(env)));
        objects
    };

    // The first environment seen per hostname, and whether another environment uses it too.
    let mut seen: HashMap<&str, (&EnvironmentName, bool)> = HashMap::with_capacity(uses.len());
    for (host, env, _) in &uses {
        seen.entry(host.as_str()).and_modify(|(first, shared)| *shared |= first != env).or_insert((env, false));
    }
    let mut shared: HashMap<&str, Vec<Use<'_>>> =
        seen.into_iter().filter(|(_, (_, shared))| *shared).map(|(host, _)| (host, Vec::new())).collect();
    if !shared.is_empty() {
        for u in &uses {
            if let Some(list) = shared.get_mut(u.0.as_str()) {
                list.push(*u);
            }
        }
        for (host, mut list) in shared {
            list.sort();
            let envs: BTreeSet<&EnvironmentName> = list.iter().map(|(_, env, _)| *env).collect();
            out.push(finding(
                &rule::HOSTNAME_DISTINCT,
                format!(
                    "{host} is routed in {} ({})",
                    join(&envs),
                    join(list.iter().map(|(_, env, app)| format!("{app} in {env}")))
                ),
                format!("give each environment its own hostname, e.g. {}", suggest_env_hostname(list[0].0, &envs)),
                uses_objects(&list),
            ));
        }
    }

    let wildcards: Vec<&Use<'_>> = uses.iter().filter(|u| u.0.is_wildcard()).collect();
    if wildcards.is_empty() {
        return;
    }
    let mut by_parent: HashMap<&str, Vec<&Use<'_>>> = HashMap::new();
    for u in uses.iter().filter(|u| !u.0.is_wildcard()) {
        if let Some(parent) = u.0.parent() {
            by_parent.entry(parent).or_default().push(u);
        }
    }
    for &&(wildcard, w_env, w_app) in &wildcards {
        let Some(covered) = wildcard.parent().and_then(|p| by_parent.get(p)) else { continue };
        for &&(host, env, app) in covered.iter().filter(|u| u.1 != w_env && wildcard.matches(u.0)) {
            out.push(finding(
                &rule::HOSTNAME_DISTINCT,
                format!("{wildcard} of {w_app} in {w_env} covers {host} of {app} in {env}"),
                format!("use a wildcard that {env}'s names do not fall under, or list {w_env}'s hostnames one by one"),
                uses_objects(&[(wildcard, w_env, w_app), (host, env, app)]),
            ));
        }
    }
}

pub(super) fn suggest_env_hostname(host: &Hostname, envs: &BTreeSet<&EnvironmentName>) -> String {
    let env = envs.iter().find(|e| !is_production_name(e)).or_else(|| envs.iter().next());
    match (host.as_str().split_once('.'), env) {
        (Some((first, rest)), Some(env)) if first != "*" => format!("{first}-{env}.{rest}"),
        _ => "api-dev.example.com for dev and api.example.com for prod".to_owned(),
    }
}
