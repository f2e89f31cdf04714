//! The data lines parsed into domain types (every field error with its line and column),
//! then checked against the plan and the addresses already held.
use std::collections::{BTreeMap, HashMap};

use super::{
    ADDRESS, APPLICATION, BLOCK, COLUMNS, ENVIRONMENT, KIND, LineError, OWNER, POOL, REASON, codec::Values,
};
use crate::allocations::{AddressState, AllocationInput, AllocationRequest, ReservationInput, ReservationRequest};
use domain::{
    Allocation, EnvironmentName, FieldErrors, Finding, IpAddr, K8sName, Plan, PoolBlock, PoolBlockInput, Severity,
    VipPool, VipPoolInput,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Detail {
    Block(PoolBlock),
    Holding(HoldingRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HoldingRequest {
    pub(super) state: AddressState,
    pub(super) address: IpAddr,
    pub(super) owner: Option<String>,
    pub(super) application: Option<K8sName>,
    pub(super) reason: Option<String>,
}

/// A data line as far as it parsed. `ok`: no problem was found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Parsed {
    pub(super) line: usize,
    pub(super) ok: bool,
    pub(super) is_pool: bool,
    pub(super) environment: Option<EnvironmentName>,
    pub(super) pool: Option<K8sName>,
    pub(super) detail: Option<Detail>,
}

fn column_of(field: &str) -> usize {
    match field {
        "start" | "stop" | "address" => ADDRESS,
        "owner" => OWNER,
        "application" => APPLICATION,
        "reason" => REASON,
        _ => KIND,
    }
}

fn push_field_errors(errors: &mut Vec<LineError>, line: usize, field_errors: FieldErrors) {
    for error in field_errors {
        let column = column_of(&error.field);
        errors.push(LineError::new(line, Some(COLUMNS[column]), &error.code, error.message));
    }
}

/// Columns a line of this kind does not take must be empty, so nothing is silently dropped.
fn require_empty(values: &Values, columns: &[usize], kind: &str, errors: &mut Vec<LineError>) {
    for &column in columns {
        if !values.get(column).is_empty() {
            errors.push(LineError::new(
                values.line,
                Some(COLUMNS[column]),
                "not_applicable",
                format!("a `{kind}` line has no {}; leave the column empty", COLUMNS[column]),
            ));
        }
    }
}

pub(super) fn parse_line(values: &Values, errors: &mut Vec<LineError>) -> Parsed {
    let line = values.line;
    let before = errors.len();
    let environment = EnvironmentName::parse(values.get(ENVIRONMENT))
        .map_err(|error| errors.push(LineError::from_error(line, ENVIRONMENT, &error)))
        .ok();
    let pool =
        K8sName::parse(values.get(POOL)).map_err(|error| errors.push(LineError::from_error(line, POOL, &error))).ok();
    let kind = values.get(KIND).to_ascii_lowercase();
    let text = |column: usize| Some(values.get(column).to_owned());
    let detail = match kind.as_str() {
        "pool" => {
            require_empty(values, &[ADDRESS, OWNER, APPLICATION, REASON], "pool", errors);
            PoolBlock::parse(values.get(BLOCK))
                .map_err(|error| errors.push(LineError::from_error(line, BLOCK, &error)))
                .ok()
                .map(Detail::Block)
        }
        "allocation" => {
            require_empty(values, &[BLOCK], "allocation", errors);
            if values.get(ADDRESS).is_empty() {
                errors.push(LineError::new(
                    line,
                    Some("address"),
                    "required",
                    "an allocation line needs its address; an import does not pick free addresses",
                ));
            }
            let input = AllocationInput {
                address: text(ADDRESS),
                owner: text(OWNER),
                application: text(APPLICATION),
                reason: text(REASON),
            };
            match AllocationRequest::try_from(input) {
                Ok(request) => request.address.map(|address| {
                    Detail::Holding(HoldingRequest {
                        state: AddressState::Allocated,
                        address,
                        owner: Some(request.owner),
                        application: request.application,
                        reason: request.reason,
                    })
                }),
                Err(field_errors) => {
                    push_field_errors(errors, line, field_errors);
                    None
                }
            }
        }
        "reservation" => {
            require_empty(values, &[BLOCK, OWNER, APPLICATION], "reservation", errors);
            let input = ReservationInput { start: text(ADDRESS), stop: None, reason: text(REASON) };
            match ReservationRequest::try_from(input) {
                Ok(request) => Some(Detail::Holding(HoldingRequest {
                    state: AddressState::Reserved,
                    address: request.start,
                    owner: None,
                    application: None,
                    reason: Some(request.reason),
                })),
                Err(field_errors) => {
                    push_field_errors(errors, line, field_errors);
                    None
                }
            }
        }
        other => {
            let message = if other.is_empty() {
                "`kind` is required: pool, allocation or reservation".to_owned()
            } else {
                format!("`{other}` is not a kind of line; use pool, allocation or reservation")
            };
            let code = if other.is_empty() { "required" } else { "invalid_kind" };
            errors.push(LineError::new(line, Some("kind"), code, message));
            None
        }
    };
    Parsed { line, ok: errors.len() == before, is_pool: kind == "pool", environment, pool, detail }
}

// =============================================================================================
// Checking the lines against the plan

/// An address of the file that is allocated or reserved already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    pub(super) pool_id: i64,
    pub(super) pool: String,
    pub(super) environment: String,
    pub(super) state: String,
    pub(super) owner: Option<String>,
    pub(super) application: Option<String>,
    pub(super) reason: Option<String>,
}

impl Held {
    pub(super) fn describe(&self, address: IpAddr) -> String {
        let mut text = match (self.state.as_str(), &self.owner) {
            ("allocated", Some(owner)) => format!("{address} is allocated to {owner}"),
            ("reserved", _) => format!("{address} is reserved"),
            _ => format!("{address} is taken"),
        };
        if let Some(application) = &self.application {
            text.push_str(&format!(" (application {application})"));
        }
        text.push_str(&format!(" in pool {} of {}", self.pool, self.environment));
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" — {reason:?}"));
        }
        text
    }
}

/// Where a line's address goes: a stored pool, or one the import creates (index into
/// [`Checked::pools`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Existing(i64),
    New(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewPool {
    /// With a provisional negative id until it is stored.
    pub(super) pool: VipPool,
    pub(super) lines: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewHolding {
    pub(super) line: usize,
    pub(super) target: Target,
    pub(super) request: HoldingRequest,
}

/// What an import writes, once every line checked out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Checked {
    pub(super) pools: Vec<NewPool>,
    pub(super) holdings: Vec<NewHolding>,
    pub(super) unchanged: usize,
}

impl Checked {
    pub(super) fn is_empty(&self) -> bool {
        self.pools.is_empty() && self.holdings.is_empty()
    }
}

/// The pool lines of one pool of the file, and whether all of them parsed.
#[derive(Debug)]
struct PoolLines {
    blocks: Vec<(usize, Option<PoolBlock>)>,
    ok: bool,
}

fn blocks_text(blocks: &[PoolBlock]) -> String {
    blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The pool each pool of the file stands for; `None`: its lines are in error, so the
/// addresses in it cannot be judged.
type Targets = HashMap<(EnvironmentName, K8sName), Option<Target>>;

/// Checks every line against `plan` (read under the plan lock) and `held` (the file's
/// addresses that are taken), collecting every problem.
pub(super) fn check(
    plan: &Plan,
    held: &HashMap<IpAddr, Held>,
    mut lines: Vec<Parsed>,
    mut errors: Vec<LineError>,
    now_unix: i64,
) -> Result<Checked, Vec<LineError>> {
    check_environments(plan, &mut lines, &mut errors);
    let mut checked = Checked::default();
    let targets = check_pools(plan, &lines, &mut checked, &mut errors);
    check_addresses(plan, held, &lines, &targets, &mut checked, &mut errors);
    check_rules(plan, &checked, now_unix, &mut errors);
    if errors.is_empty() {
        Ok(checked)
    } else {
        errors.sort_by_key(|error| error.line);
        errors.dedup();
        Err(errors)
    }
}

/// Every environment the file names exists.
fn check_environments(plan: &Plan, lines: &mut [Parsed], errors: &mut Vec<LineError>) {
    for parsed in lines {
        if let Some(environment) = &parsed.environment
            && plan.environment(environment).is_none()
        {
            errors.push(LineError::new(
                parsed.line,
                Some("environment"),
                "unknown_environment",
                format!(
                    "there is no environment named {environment}; create it first (GET /api/v1/environments lists them)"
                ),
            ));
            parsed.ok = false;
        }
    }
}

/// The pools the file defines: created when missing (their blocks must not overlap each
/// other), or identical to the stored pool of that name.
fn check_pools(plan: &Plan, lines: &[Parsed], checked: &mut Checked, errors: &mut Vec<LineError>) -> Targets {
    let mut defined: BTreeMap<(EnvironmentName, K8sName), PoolLines> = BTreeMap::new();
    for parsed in lines.iter().filter(|p| p.is_pool) {
        if let (Some(environment), Some(pool)) = (&parsed.environment, &parsed.pool) {
            let entry = defined
                .entry((environment.clone(), pool.clone()))
                .or_insert_with(|| PoolLines { blocks: Vec::new(), ok: true });
            let block = match &parsed.detail {
                Some(Detail::Block(block)) => Some(*block),
                _ => None,
            };
            entry.blocks.push((parsed.line, block));
            entry.ok &= parsed.ok;
        }
    }
    let mut targets = Targets::new();
    for ((environment, name), pool_lines) in &defined {
        let key = (environment.clone(), name.clone());
        if !pool_lines.ok {
            targets.insert(key, None);
            continue;
        }
        let blocks: Vec<PoolBlock> = pool_lines.blocks.iter().filter_map(|(_, block)| *block).collect();
        let first_line = pool_lines.blocks.first().map_or(0, |(line, _)| *line);
        if let Some(existing) = plan.pools_of(environment).find(|p| &p.name == name) {
            let mut want = blocks.clone();
            let mut have = existing.blocks.clone();
            want.sort();
            have.sort();
            if want == have {
                targets.insert(key, existing.id.map(Target::Existing));
                continue;
            }
            let message = |detail: String| {
                format!(
                    "pool {name} of {environment} exists with the blocks {}; {detail} — an import creates pools but \
                     does not change them: list exactly its blocks, or change the pool with PUT /api/v1/pools/{}",
                    blocks_text(&existing.blocks),
                    existing.id.unwrap_or_default()
                )
            };
            let mut reported = false;
            for (line, block) in &pool_lines.blocks {
                if let Some(block) = block
                    && !existing.blocks.contains(block)
                {
                    errors.push(LineError::new(
                        *line,
                        Some("block"),
                        "pool_mismatch",
                        message(format!("{block} is not one of them")),
                    ));
                    reported = true;
                }
            }
            if !reported {
                errors.push(LineError::new(
                    first_line,
                    Some("block"),
                    "pool_mismatch",
                    message(format!("the file lists only {}", blocks_text(&blocks))),
                ));
            }
            targets.insert(key, None);
            continue;
        }
        let input = VipPoolInput {
            environment: environment.to_string(),
            name: name.to_string(),
            blocks: blocks.iter().copied().map(PoolBlockInput::from).collect(),
            ..VipPoolInput::default()
        };
        match VipPool::parse(input) {
            Ok(mut pool) => {
                let index = checked.pools.len();
                pool.id = Some(-1 - index as i64);
                checked.pools.push(NewPool { pool, lines: pool_lines.blocks.iter().map(|(line, _)| *line).collect() });
                targets.insert(key, Some(Target::New(index)));
            }
            Err(field_errors) => {
                for error in field_errors {
                    let line = error
                        .field
                        .strip_prefix("blocks[")
                        .and_then(|rest| rest.strip_suffix(']'))
                        .and_then(|i| i.parse::<usize>().ok())
                        .and_then(|i| pool_lines.blocks.get(i))
                        .map_or(first_line, |(line, _)| *line);
                    errors.push(LineError::new(line, Some("block"), &error.code, error.message));
                }
                targets.insert(key, None);
            }
        }
    }
    targets
}

/// Each address: in a known pool, inside it, once in the file, and not held by another.
fn check_addresses(
    plan: &Plan,
    held: &HashMap<IpAddr, Held>,
    lines: &[Parsed],
    targets: &Targets,
    checked: &mut Checked,
    errors: &mut Vec<LineError>,
) {
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    for parsed in lines.iter().filter(|p| p.ok) {
        let (Some(environment), Some(name), Some(Detail::Holding(request))) =
            (&parsed.environment, &parsed.pool, &parsed.detail)
        else {
            continue;
        };
        let address = request.address;
        if let Some(first) = seen.get(&address) {
            errors.push(LineError::new(
                parsed.line,
                Some("address"),
                "duplicate",
                format!("{address} is also on line {first}; an address is allocated or reserved once"),
            ));
            continue;
        }
        seen.insert(address, parsed.line);
        let key = (environment.clone(), name.clone());
        let target = match targets.get(&key) {
            Some(Some(target)) => *target,
            Some(None) => continue,
            None => match plan.pools_of(environment).find(|p| &p.name == name).and_then(|p| p.id) {
                Some(id) => Target::Existing(id),
                None => {
                    errors.push(LineError::new(
                        parsed.line,
                        Some("pool"),
                        "unknown_pool",
                        format!(
                            "{environment} has no pool named {name} and the file defines none; add its `pool` lines"
                        ),
                    ));
                    continue;
                }
            },
        };
        let pool = match target {
            Target::New(index) => checked.pools.get(index).map(|p| &p.pool),
            Target::Existing(id) => plan.pools.iter().find(|p| p.id == Some(id)),
        };
        if let Some(pool) = pool
            && !pool.contains(&address)
        {
            errors.push(LineError::new(
                parsed.line,
                Some("address"),
                "outside_pool",
                format!(
                    "{address} is not in pool {} (blocks: {}); pick an address inside it",
                    pool.name,
                    blocks_text(&pool.blocks)
                ),
            ));
            continue;
        }
        if let Some(holder) = held.get(&address) {
            let same = target == Target::Existing(holder.pool_id)
                && holder.state == request.state.as_str()
                && holder.owner == request.owner
                && holder.application.as_deref() == request.application.as_ref().map(K8sName::as_str)
                && holder.reason == request.reason;
            if same {
                checked.unchanged += 1;
            } else {
                errors.push(LineError::new(
                    parsed.line,
                    Some("address"),
                    "address_taken",
                    format!("{}; release it first, or leave this line out", holder.describe(address)),
                ));
            }
            continue;
        }
        checked.holdings.push(NewHolding { line: parsed.line, target, request: request.clone() });
    }
}

/// The would-be plan (the parts of the file that checked out) adds no error-level finding.
fn check_rules(plan: &Plan, checked: &Checked, now_unix: i64, errors: &mut Vec<LineError>) {
    let mut after = plan.clone();
    after.pools.extend(checked.pools.iter().map(|p| p.pool.clone()));
    for holding in checked.holdings.iter().filter(|h| h.request.state == AddressState::Allocated) {
        let (pool_id, environment) = match holding.target {
            Target::Existing(id) => (id, plan.pools.iter().find(|p| p.id == Some(id)).map(|p| p.environment.clone())),
            Target::New(index) => {
                let pool = checked.pools.get(index).map(|p| &p.pool);
                (pool.and_then(|p| p.id).unwrap_or_default(), pool.map(|p| p.environment.clone()))
            }
        };
        if let Some(environment) = environment {
            after.allocations.push(Allocation {
                address: holding.request.address,
                pool_id,
                environment,
                owner: holding.request.owner.clone().unwrap_or_default(),
                application: holding.request.application.clone(),
            });
        }
    }
    for finding in domain::change::new_errors(plan, &after, now_unix) {
        debug_assert_eq!(finding.severity, Severity::Error);
        errors.extend(finding_lines(&finding, checked));
    }
}

/// The lines of the file a checklist finding is about: the allocations of the VIPs it names,
/// else the blocks of the file's pools it names (the block the message names when it does,
/// else the pool's first line).
fn finding_lines(finding: &Finding, checked: &Checked) -> Vec<LineError> {
    let names = |object: &str| finding.objects.iter().any(|o| o == object);
    let error = |line: usize, column: &'static str| LineError {
        line,
        column: Some(column),
        code: "checklist_violation".to_owned(),
        message: finding.sentence(),
        rule: Some(finding.rule.to_string()),
    };
    let mut found: Vec<LineError> = checked
        .holdings
        .iter()
        .filter(|h| names(&format!("vip/{}", h.request.address)))
        .map(|h| error(h.line, "address"))
        .collect();
    if found.is_empty() {
        for new in &checked.pools {
            let pool = &new.pool;
            if !names(&format!("pool/{}", pool.name)) || !names(&format!("environment/{}", pool.environment)) {
                continue;
            }
            // The pool rules describe a block as "block <block> of pool <name>".
            let named: Vec<usize> = pool
                .blocks
                .iter()
                .zip(&new.lines)
                .filter(|(block, _)| names_whole(&finding.message, &format!("block {block} of pool {}", pool.name)))
                .map(|(_, line)| *line)
                .collect();
            let lines = if named.is_empty() { new.lines.first().copied().into_iter().collect() } else { named };
            found.extend(lines.into_iter().map(|line| error(line, "block")));
        }
    }
    if found.is_empty() {
        // A finding that names none of the file's objects still refuses the import: it is
        // put on the file's first change.
        let pools = checked.pools.iter().filter_map(|p| p.lines.first().copied());
        let first = pools.chain(checked.holdings.iter().map(|h| h.line)).min().unwrap_or(1);
        found.push(LineError { column: None, ..error(first, "block") });
    }
    found
}

/// Whether `text` contains `needle` not followed by a character of a name (so pool `vips`
/// is not found in "pool vips-2").
fn names_whole(text: &str, needle: &str) -> bool {
    text.match_indices(needle).any(|(at, _)| {
        !text[at + needle.len()..].starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '-')
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use super::*;
    use crate::csv::codec::read_file;
    use domain::seed_plan;

    fn check_text(plan: &Plan, text: &str) -> Result<Checked, Vec<LineError>> {
        let (values, mut errors) = read_file(text.as_bytes()).unwrap();
        let lines = values.iter().map(|v| parse_line(v, &mut errors)).collect();
        check(plan, &HashMap::new(), lines, errors, 0)
    }

    const HEADER: &str = "kind,environment,pool,block,address,owner,application,reason\n";

    #[test]
    fn a_good_file_checks_out() {
        let text = format!(
            "{HEADER}pool,dev,dev-vips,192.168.101.192/28,,,,\n\
             pool,dev,dev-more,192.168.101.160/28,,,,\n\
             allocation,dev,dev-more,,192.168.101.161,team-a,api,\"public, \"\"v2\"\"\"\n\
             reservation,dev,dev-vips,,192.168.101.200,,,router\n"
        );
        let checked = check_text(&seed_plan(), &text).unwrap();
        assert_eq!(checked.pools.len(), 1);
        assert_eq!(checked.pools[0].pool.name.as_str(), "dev-more");
        assert_eq!(checked.holdings.len(), 2);
        assert_eq!(checked.holdings[0].target, Target::New(0));
        assert_eq!(checked.holdings[0].request.reason.as_deref(), Some("public, \"v2\""));
        assert_eq!(checked.holdings[1].target, Target::Existing(1));
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text = format!(
            "{HEADER}pool,qa,qa-vips,192.168.101.160/28,,,,\n\
             allocation,dev,dev-vips,,192.168.101.10,team-a,,\n\
             pool,dev,dev-more,192.168.101.160/33,,,,\n\
             pool,dev,dev-vips,192.168.101.192/27,,,,\n\
             allocation,dev,dev-vips,,192.168.101.193,,,\n\
             reservation,dev,dev-vips,,192.168.101.194,team-a,,\n\
             allocation,dev,nowhere,,192.168.101.195,team-a,,\n\
             allocation,dev,dev-vips,,192.168.101.196,team-a,,\n\
             allocation,dev,dev-vips,,192.168.101.196,team-b,,\n\
             pool,dev,clash,192.168.101.240/29,,,,\n\
             lease,dev,dev-vips,,,,,\n"
        );
        let errors = check_text(&seed_plan(), &text).unwrap_err();
        let got: Vec<(String, &str)> = errors.iter().map(|e| (e.field(), e.code.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("line 2: environment".to_owned(), "unknown_environment"),
                ("line 4: block".to_owned(), "invalid_cidr"),
                ("line 5: block".to_owned(), "pool_mismatch"),
                ("line 6: owner".to_owned(), "required"),
                ("line 7: owner".to_owned(), "not_applicable"),
                ("line 7: reason".to_owned(), "required"),
                ("line 8: pool".to_owned(), "unknown_pool"),
                ("line 10: address".to_owned(), "duplicate"),
                ("line 11: block".to_owned(), "checklist_violation"),
                ("line 12: kind".to_owned(), "invalid_kind"),
            ],
            "{errors:#?}"
        );
        assert!(errors.iter().find(|e| e.line == 11).unwrap().rule.as_deref().is_some_and(|r| r.starts_with("GH-")));
        // The address outside its pool is not judged while its pool's lines are wrong …
        assert!(!errors.iter().any(|e| e.line == 3));
        // … and is once they are right.
        let text = format!("{HEADER}allocation,dev,dev-vips,,192.168.101.10,team-a,,\n");
        let errors = check_text(&seed_plan(), &text).unwrap_err();
        assert_eq!((errors[0].field().as_str(), errors[0].code.as_str()), ("line 2: address", "outside_pool"));
    }

    #[test]
    fn findings_point_at_the_block_they_name() {
        let text = format!(
            "{HEADER}pool,dev,dev-clash,192.168.101.176/28,,,,\n\
             pool,dev,dev-clash,192.168.101.248/29,,,,\n\
             pool,dev,dev-clash-2,192.168.101.160/28,,,,\n"
        );
        let errors = check_text(&seed_plan(), &text).unwrap_err();
        let rules: Vec<(String, &str)> =
            errors.iter().map(|e| (e.field(), e.rule.as_deref().unwrap_or_default())).collect();
        // The block overlaps prod's pool and holds the node subnet's broadcast address.
        assert_eq!(rules.len(), 2, "{errors:#?}");
        assert!(rules.iter().all(|(field, _)| field == "line 3: block"), "{errors:#?}");
        assert!(rules.iter().any(|(_, rule)| *rule == "GH-VIP-DISTINCT"), "{errors:#?}");
        assert!(names_whole("block 10.0.0.0/28 of pool vips (dev)", "block 10.0.0.0/28 of pool vips"));
        assert!(!names_whole("block 10.0.0.0/28 of pool vips-2", "block 10.0.0.0/28 of pool vips"));
    }

    #[test]
    fn held_addresses_are_unchanged_or_taken() {
        let plan = seed_plan();
        let address = IpAddr::parse("192.168.101.193").unwrap();
        let held = HashMap::from([(
            address,
            Held {
                pool_id: 1,
                pool: "dev-vips".into(),
                environment: "dev".into(),
                state: "allocated".into(),
                owner: Some("team-a".into()),
                application: None,
                reason: None,
            },
        )]);
        let run = |owner: &str| {
            let text = format!("{HEADER}allocation,dev,dev-vips,,192.168.101.193,{owner},,\n");
            let (values, mut errors) = read_file(text.as_bytes()).unwrap();
            let lines = values.iter().map(|v| parse_line(v, &mut errors)).collect();
            check(&plan, &held, lines, errors, 0)
        };
        let same = run("team-a").unwrap();
        assert_eq!((same.unchanged, same.holdings.len()), (1, 0));
        let errors = run("team-b").unwrap_err();
        assert_eq!(errors[0].code, "address_taken");
        assert!(errors[0].message.contains("team-a"), "{}", errors[0].message);
    }
}
