//! The engine: one pass over the plan with shared indexes, and the per-application view of its findings.
use super::*;

// =============================================================================================
// The engine

/// What the rules need to know about one environment name, found with one lookup.
pub(super) struct EnvInfo<'a> {
    /// `None` for a name that pools refer to but the plan does not define.
    pub(super) env: Option<&'a Environment>,
    pub(super) pools: Vec<&'a VipPool>,
    /// The pools' blocks, for "is this address in a pool" in O(log n).
    pub(super) index: AddressIndex,
}

/// Lookups shared by the rules, built once per run.
pub(super) struct Ctx<'a> {
    pub(super) plan: &'a Plan,
    pub(super) now: i64,
    pub(super) envs: HashMap<&'a str, EnvInfo<'a>>,
    pub(super) pools_by_id: HashMap<i64, &'a VipPool>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(plan: &'a Plan, now: i64) -> Self {
        let mut envs: HashMap<&str, EnvInfo<'_>> = HashMap::with_capacity(plan.environments.len());
        let empty = || EnvInfo { env: None, pools: Vec::new(), index: AddressIndex::default() };
        for e in &plan.environments {
            envs.entry(e.name.as_str()).or_insert_with(empty).env = Some(e);
        }
        let mut pools_by_id = HashMap::with_capacity(plan.pools.len());
        for p in &plan.pools {
            envs.entry(p.environment.as_str()).or_insert_with(empty).pools.push(p);
            if let Some(id) = p.id {
                pools_by_id.insert(id, p);
            }
        }
        for info in envs.values_mut() {
            info.index = AddressIndex::new(info.pools.iter().flat_map(|p| p.blocks.iter()));
        }
        Self { plan, now, envs, pools_by_id }
    }

    pub(super) fn info(&self, name: &EnvironmentName) -> Option<&EnvInfo<'a>> {
        self.envs.get(name.as_str())
    }

    pub(super) fn environment(&self, name: &EnvironmentName) -> Option<&'a Environment> {
        self.info(name).and_then(|i| i.env)
    }

    pub(super) fn pools(&self, name: &EnvironmentName) -> &[&'a VipPool] {
        self.info(name).map_or(&[], |i| i.pools.as_slice())
    }
}

/// Sorted blocks with the running maximum of their ends (per family), so that containment
/// of an address is one binary search even when blocks overlap.
#[derive(Default)]
pub(super) struct AddressIndex {
    pub(super) spans: Vec<(IpFamily, u128, u128)>,
    pub(super) max_end: Vec<u128>,
}

impl AddressIndex {
    pub(super) fn new<'b>(blocks: impl Iterator<Item = &'b PoolBlock>) -> Self {
        let mut spans: Vec<_> = blocks.map(|b| (b.family(), b.first_u128(), b.last_u128())).collect();
        spans.sort_unstable();
        let mut max_end: Vec<u128> = Vec::with_capacity(spans.len());
        for (i, (family, _, end)) in spans.iter().enumerate() {
            let carried = match (i, max_end.last()) {
                (0, _) | (_, None) => *end,
                (_, Some(&m)) if spans[i - 1].0 == *family => m.max(*end),
                _ => *end,
            };
            max_end.push(carried);
        }
        Self { spans, max_end }
    }

    pub(super) fn contains(&self, address: IpAddr) -> bool {
        let (family, a) = (address.family(), address.to_u128());
        let n = self.spans.partition_point(|&(f, start, _)| (f, start) <= (family, a));
        n > 0 && self.spans[n - 1].0 == family && self.max_end[n - 1] >= a
    }
}

/// Runs every rule over the plan. `now_unix` is the current time in Unix seconds (the
/// domain never reads the clock; it also runs in the browser).
///
/// Certificate rules (GH-TLS-DISTINCT, GH-CERT-*) run only when `plan.certificates` is
/// `Some`, i.e. the list is authoritative; otherwise they are reported as `skipped`.
pub fn check_plan(plan: &Plan, now_unix: i64) -> Report {
    let ctx = Ctx::new(plan, now_unix);
    let mut out = Vec::new();
    check_ranges(&ctx, &mut out);
    for env in &plan.environments {
        check_environment(&ctx, env, &mut out);
    }
    for pool in &plan.pools {
        if ctx.environment(&pool.environment).is_none() {
            out.push(finding(
                &rule::ENV_UNKNOWN,
                format!("pool {} belongs to environment {}, which is not defined", pool.name, pool.environment),
                format!(
                    "create environment {} or move the pool's blocks to a pool of an existing environment",
                    pool.environment
                ),
                vec![pool_obj(pool), env_obj(&pool.environment)],
            ));
        }
    }
    for app in &plan.applications {
        check_application_rules(&ctx, app, &mut out);
    }
    check_hostnames(&ctx, &mut out);
    check_vips(&ctx, &mut out);
    if let Some(certificates) = &plan.certificates {
        check_certificates(&ctx, certificates, &mut out);
    }
    let skipped: &[&str] = if plan.certificates.is_some() { &[] } else { &CERTIFICATE_RULES };
    report(out, skipped)
}

/// The findings of [`check_plan`] that concern application `app_name`: those that name the
/// application, and those that name no application but one of its environments, their
/// pools or certificates (an overlap of the environment's pod CIDR concerns every
/// application in it). An unknown application gets an empty report.
pub fn check_application(plan: &Plan, app_name: &str, now_unix: i64) -> Report {
    if plan.application(app_name).is_none() {
        return Report::default();
    }
    application_report(plan, &check_plan(plan, now_unix), app_name)
}

/// One application's part of a whole-plan report: what [`check_application`] answers, from
/// a report already made. Pages that show every application check the plan once and take
/// each application's part, rather than checking the whole plan once per application.
pub fn application_report(plan: &Plan, full: &Report, app_name: &str) -> Report {
    let Some(app) = plan.application(app_name) else {
        return Report::default();
    };
    let app_object = app_obj(&app.name);
    let mut related: BTreeSet<String> = BTreeSet::new();
    for env in app.environments.keys() {
        related.insert(env_obj(env));
        for pool in plan.pools_of(env) {
            related.insert(pool_obj(pool));
        }
    }
    let cert_prefixes: Vec<String> = app.environments.keys().map(|e| format!("certificate/{e}/")).collect();
    let concerns = |f: &Finding| {
        if f.objects.contains(&app_object) {
            return true;
        }
        let names_application = f.objects.iter().any(|o| o.starts_with("application/"));
        !names_application
            && f.objects.iter().any(|o| related.contains(o) || cert_prefixes.iter().any(|p| o.starts_with(p.as_str())))
    };
    let findings = full.findings.iter().filter(|f| concerns(f)).cloned().collect();
    let skipped: Vec<&str> = full.skipped.iter().filter_map(|s| rule_info(s).map(|r| r.id)).collect();
    report(findings, &skipped)
}

pub(super) fn report(mut findings: Vec<Finding>, skipped: &[&str]) -> Report {
    let order = |id: &str| RULES.iter().position(|r| r.id == id).unwrap_or(RULES.len());
    findings.sort_by(|a, b| {
        (a.severity, order(&a.rule), &a.objects, &a.message).cmp(&(b.severity, order(&b.rule), &b.objects, &b.message))
    });
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.len() - errors;
    let fired: BTreeSet<&str> = findings.iter().map(|f| f.rule.as_ref()).collect();
    let passed = RULES
        .iter()
        .filter(|r| !fired.contains(r.id) && !skipped.contains(&r.id))
        .map(|r| Cow::Borrowed(r.id))
        .collect();
    let skipped = RULES.iter().filter(|r| skipped.contains(&r.id)).map(|r| Cow::Borrowed(r.id)).collect();
    Report { errors, warnings, findings, passed, skipped }
}
