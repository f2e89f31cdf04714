//! CSV import and export of VIP pools, reservations and allocations (`/api/v1/pools.csv`).
//!
//! One row per pool block (`kind` = `pool`) and one per held address (`allocation` or
//! `reservation`), with the columns of [`COLUMNS`]. The export is a consistent snapshot in a
//! fixed order: pools by environment and name, each pool's block rows (in stored order)
//! followed by its held addresses (in address order). Fields are quoted per RFC 4180 and
//! records end with CRLF.
//!
//! An import is all or nothing:
//! 1. The file is read: a broken structure (no header, an unknown column, an unclosed quote,
//!    not UTF-8) is [`ImportError::Malformed`].
//! 2. A write transaction is opened and the plan lock taken ([`plan::lock`]), so the plan the
//!    file is checked against cannot change before the import commits.
//! 3. Every line is parsed into domain types and checked against that plan: the environment
//!    exists; a pool is defined by the file or exists (and then has exactly the file's
//!    blocks); an address is inside its pool, listed once, and not held by anyone else; and
//!    the would-be plan adds no error-level checklist finding. Every problem is collected
//!    with its line ([`ImportError::Invalid`]) and the transaction is rolled back.
//! 4. Pools, addresses and their audit entries are written in that same transaction and
//!    committed together. Allocations through the API do not take the plan lock; one that
//!    commits an address of the file meanwhile meets the UNIQUE address key, the whole
//!    transaction rolls back, and the line is reported as taken ([`ImportError::Conflict`]).
//!
//! Line numbers are those of the file as an editor shows them (the header is line 1); a
//! record whose quoted reason spans several lines is numbered by its first line.
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::{
    allocations::{
        self, AddressState, AllocationInput, AllocationRequest, Holding, ReservationInput, ReservationRequest,
        address_key,
    },
    db::{Backend, Database, DbError, now_text},
    plan::{self, POOL_COLUMNS},
    pools,
};
use crate::domain::{
    Allocation, EnvironmentName, ErrorCode, FieldErrors, Finding, IpAddr, K8sName, Plan, PoolBlock, PoolBlockInput,
    Severity, VipPool, VipPoolInput,
};

/// The columns, in the order the export writes them.
pub const COLUMNS: [&str; 8] = ["kind", "environment", "pool", "block", "address", "owner", "application", "reason"];
/// Columns an import cannot do without; the others may be left out of the header.
const REQUIRED_COLUMNS: [&str; 3] = ["kind", "environment", "pool"];
/// The largest body an import takes.
pub const MAX_BODY: usize = 1024 * 1024;
/// Rows per multi-row statement (9 parameters each: well under both databases' limits).
const BATCH: usize = 400;

const KIND: usize = 0;
const ENVIRONMENT: usize = 1;
const POOL: usize = 2;
const BLOCK: usize = 3;
const ADDRESS: usize = 4;
const OWNER: usize = 5;
const APPLICATION: usize = 6;
const REASON: usize = 7;

// =============================================================================================
// Errors and results

/// The file's structure is broken, so its lines cannot be read (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Malformed {
    /// The line where reading stopped, when there is one.
    pub line: Option<usize>,
    pub code: &'static str,
    pub message: String,
}

fn malformed(line: Option<usize>, code: &'static str, message: impl Into<String>) -> Malformed {
    Malformed { line, code, message: message.into() }
}

/// One problem with one line of the file (and, where it applies, one of its columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: usize,
    pub column: Option<&'static str>,
    pub code: String,
    pub message: String,
    /// The checklist rule the line breaks.
    pub rule: Option<String>,
}

impl LineError {
    fn new(line: usize, column: Option<&'static str>, code: &str, message: impl Into<String>) -> LineError {
        LineError { line, column, code: code.to_owned(), message: message.into(), rule: None }
    }

    fn from_error<E: ErrorCode + ?Sized>(line: usize, column: usize, error: &E) -> LineError {
        LineError::new(line, Some(COLUMNS[column]), error.code(), error.to_string())
    }

    /// Where the problem is, as the API's `field`: `line 7` or `line 7: address`.
    pub fn field(&self) -> String {
        match self.column {
            Some(column) => format!("line {}: {column}", self.line),
            None => format!("line {}", self.line),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Malformed(Malformed),
    /// Lines that break a rule; nothing was changed.
    #[error("{} problem(s) in the file; nothing was imported", .0.len())]
    Invalid(Vec<LineError>),
    /// Addresses of the file that another request took while the import ran; nothing was
    /// changed. Empty when the addresses were free again by the time they were looked up.
    #[error("addresses of the file were taken while the import ran; nothing was imported")]
    Conflict(Vec<LineError>),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ImportError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(DbError::Sqlx(error))
    }
}

impl From<Malformed> for ImportError {
    fn from(error: Malformed) -> Self {
        Self::Malformed(error)
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub created_pools: usize,
    pub allocations: usize,
    pub reservations: usize,
    /// Addresses of the file already held exactly so (same pool, state, owner, application
    /// and reason), left as they are: importing a file twice changes nothing the second time.
    pub unchanged: usize,
}

// =============================================================================================
// RFC 4180

/// One record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Whether the reader stands at the end of a field: a comma, a line end (LF or CRLF) or the
/// end of the text.
fn at_field_end(chars: &std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let mut ahead = chars.clone();
    match ahead.next() {
        None | Some(',' | '\n') => true,
        Some('\r') => ahead.next() == Some('\n'),
        Some(_) => false,
    }
}

/// Splits RFC 4180 text into records. Lines may end with CRLF or LF (a CRLF inside a quoted
/// field is read as LF); blank lines are skipped.
fn read_records(text: &str) -> Result<Vec<Record>, Malformed> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut quoted = false;
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                quoted = true;
                let opened = line;
                loop {
                    match chars.next() {
                        None => {
                            return Err(malformed(
                                Some(opened),
                                "unclosed_quote",
                                format!(
                                    "the quoted field that starts on line {opened} is never closed; end it with \""
                                ),
                            ));
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some('\r') if chars.peek() == Some(&'\n') => {
                            chars.next();
                            field.push('\n');
                            line += 1;
                        }
                        Some('\n') => {
                            field.push('\n');
                            line += 1;
                        }
                        Some(ch) => field.push(ch),
                    }
                }
                if !at_field_end(&chars) {
                    return Err(malformed(
                        Some(line),
                        "text_after_quote",
                        format!(
                            "line {line} has text after the closing quote of a field; put the whole field in quotes \
                             and write a quote inside it as \"\""
                        ),
                    ));
                }
            } else {
                while !at_field_end(&chars) {
                    match chars.next() {
                        Some('"') => {
                            return Err(malformed(
                                Some(line),
                                "stray_quote",
                                format!(
                                    "line {line} has a quote inside an unquoted field; put the whole field in quotes \
                                     and write a quote inside it as \"\""
                                ),
                            ));
                        }
                        Some(ch) => field.push(ch),
                        None => break,
                    }
                }
            }
            fields.push(unneutralised(field));
            match chars.next() {
                Some(',') => {}
                Some('\r') => {
                    chars.next();
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        let blank = !quoted && fields.len() == 1 && fields[0].trim().is_empty();
        if !blank {
            records.push(Record { line: start, fields });
        }
    }
    Ok(records)
}

/// Characters that make a spreadsheet read a cell as a formula (or, for tab and CR, shift it
/// into one); a cell starting with one is written with a leading `'`, which spreadsheets
/// show as text. The reader drops that `'` again, so an exported file imports unchanged.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn neutralised(field: &str) -> std::borrow::Cow<'_, str> {
    if field.starts_with(FORMULA_STARTS) { format!("'{field}").into() } else { field.into() }
}

fn unneutralised(field: String) -> String {
    match field.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest.to_owned(),
        _ => field,
    }
}

fn push_field(out: &mut String, field: &str) {
    let field = &*neutralised(field);
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

pub(crate) fn push_record(out: &mut String, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field);
    }
    out.push_str("\r\n");
}

// =============================================================================================
// Reading a file into lines

/// A data line with its values by column ([`COLUMNS`] order; absent columns are empty).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Values {
    line: usize,
    values: [String; 8],
}

impl Values {
    fn get(&self, column: usize) -> &str {
        self.values[column].trim()
    }
}

/// The data lines of a file, and the lines that could not be split into its columns.
fn read_file(body: &[u8]) -> Result<(Vec<Values>, Vec<LineError>), Malformed> {
    let text = std::str::from_utf8(body).map_err(|error| {
        let line = body[..error.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        malformed(Some(line), "not_utf8", format!("line {line} is not UTF-8 text; save the file as UTF-8"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = read_records(text)?.into_iter();
    let expected = COLUMNS.join(",");
    let header = records.next().ok_or_else(|| {
        malformed(None, "empty_file", format!("the file is empty; its first line must be the header {expected}"))
    })?;
    let mut positions: Vec<usize> = Vec::with_capacity(header.fields.len());
    for name in &header.fields {
        let name = name.trim().to_ascii_lowercase();
        let Some(column) = COLUMNS.iter().position(|c| *c == name) else {
            return Err(malformed(
                Some(header.line),
                "unknown_column",
                format!("the header names an unknown column `{name}`; the first line must be the header {expected}"),
            ));
        };
        if positions.contains(&column) {
            return Err(malformed(
                Some(header.line),
                "duplicate_column",
                format!("the header names the column `{name}` twice; name each column once"),
            ));
        }
        positions.push(column);
    }
    for required in REQUIRED_COLUMNS {
        if !header.fields.iter().any(|name| name.trim().eq_ignore_ascii_case(required)) {
            return Err(malformed(
                Some(header.line),
                "missing_column",
                format!("the header has no `{required}` column; the first line must be the header {expected}"),
            ));
        }
    }
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        if record.fields.len() != positions.len() {
            errors.push(LineError::new(
                record.line,
                None,
                "wrong_field_count",
                format!(
                    "line {} has {} field(s) but the header has {}; quote a value that contains a comma",
                    record.line,
                    record.fields.len(),
                    positions.len()
                ),
            ));
            continue;
        }
        let mut values: [String; 8] = Default::default();
        for (field, &column) in record.fields.into_iter().zip(&positions) {
            values[column] = field;
        }
        lines.push(Values { line: record.line, values });
    }
    Ok((lines, errors))
}

// =============================================================================================
// Parsing lines into domain types

#[derive(Debug, Clone, PartialEq, Eq)]
enum Detail {
    Block(PoolBlock),
    Holding(HoldingRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HoldingRequest {
    state: AddressState,
    address: IpAddr,
    owner: Option<String>,
    application: Option<K8sName>,
    reason: Option<String>,
}

/// A data line as far as it parsed. `ok`: no problem was found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    line: usize,
    ok: bool,
    is_pool: bool,
    environment: Option<EnvironmentName>,
    pool: Option<K8sName>,
    detail: Option<Detail>,
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

fn parse_line(values: &Values, errors: &mut Vec<LineError>) -> Parsed {
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
struct Held {
    pool_id: i64,
    pool: String,
    environment: String,
    state: String,
    owner: Option<String>,
    application: Option<String>,
    reason: Option<String>,
}

impl Held {
    fn describe(&self, address: IpAddr) -> String {
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
enum Target {
    Existing(i64),
    New(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NewPool {
    /// With a provisional negative id until it is stored.
    pool: VipPool,
    lines: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NewHolding {
    line: usize,
    target: Target,
    request: HoldingRequest,
}

/// What an import writes, once every line checked out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Checked {
    pools: Vec<NewPool>,
    holdings: Vec<NewHolding>,
    unchanged: usize,
}

impl Checked {
    fn is_empty(&self) -> bool {
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
fn check(
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
    for finding in crate::domain::change::new_errors(plan, &after, now_unix) {
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
        message: format!("{} {}", finding.message, finding.hint),
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

// =============================================================================================
// Database

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Which of `addresses` are allocated or reserved, and by whom.
async fn held_addresses(conn: &mut AnyConnection, addresses: &[IpAddr]) -> Result<HashMap<IpAddr, Held>, DbError> {
    let mut held = HashMap::new();
    for chunk in addresses.chunks(BATCH) {
        let sql = format!(
            "SELECT a.address AS address, a.pool_id AS pool_id, p.name AS pool, e.name AS environment, \
                    a.state AS state, a.owner AS owner, a.application AS application, a.reason AS reason \
             FROM addresses a JOIN pools p ON p.id = a.pool_id JOIN environments e ON e.id = p.environment_id \
             WHERE a.address_key IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for address in chunk {
            query = query.bind(address_key(*address));
        }
        for row in query.fetch_all(&mut *conn).await? {
            let text: String = row.try_get("address")?;
            let Ok(address) = IpAddr::parse(&text) else { continue };
            held.insert(
                address,
                Held {
                    pool_id: row.try_get("pool_id")?,
                    pool: row.try_get("pool")?,
                    environment: row.try_get("environment")?,
                    state: row.try_get("state")?,
                    owner: row.try_get("owner")?,
                    application: row.try_get("application")?,
                    reason: row.try_get("reason")?,
                },
            );
        }
    }
    Ok(held)
}

enum ApplyError {
    /// An address of the file was taken meanwhile.
    Taken,
    Failed(ImportError),
}

impl From<DbError> for ApplyError {
    fn from(error: DbError) -> Self {
        Self::Failed(error.into())
    }
}

/// Writes the checked import inside `tx` through the repositories the API uses: the pools
/// ([`pools::insert`], with their audit entries), then the addresses in address order (as a
/// range reservation takes them) and their audit entries.
async fn apply(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    checked: &Checked,
) -> Result<ImportSummary, ApplyError> {
    let now = now_text();
    let mut summary = ImportSummary { unchanged: checked.unchanged, ..ImportSummary::default() };
    let mut stored_ids = Vec::with_capacity(checked.pools.len());
    for new in &checked.pools {
        let stored = pools::insert(tx, actor, &new.pool).await?;
        stored_ids.push(stored.id.unwrap_or_default());
        summary.created_pools += 1;
    }

    let mut holdings: Vec<Holding> = checked
        .holdings
        .iter()
        .map(|new| Holding {
            address: new.request.address,
            pool: match new.target {
                Target::Existing(id) => id,
                Target::New(index) => stored_ids.get(index).copied().unwrap_or_default(),
            },
            state: new.request.state,
            owner: new.request.owner.clone(),
            application: new.request.application.clone(),
            reason: new.request.reason.clone(),
            since: now.clone(),
            by: actor.to_owned(),
        })
        .collect();
    holdings.sort_by_key(|h| h.address);
    match allocations::insert_holdings(tx, &holdings).await {
        Ok(()) => {}
        Err(error) if error.is_unique_violation() => return Err(ApplyError::Taken),
        Err(error) => return Err(error.into()),
    }
    allocations::record_taken(tx, &holdings).await?;
    for holding in &holdings {
        match holding.state {
            AddressState::Reserved => summary.reservations += 1,
            _ => summary.allocations += 1,
        }
    }
    Ok(summary)
}

/// Imports a CSV file (see the module documentation): everything or nothing.
pub async fn import(db: &Database, caller: &crate::backend::auth::Principal, body: &[u8]) -> Result<ImportSummary, ImportError> {
    caller.require(crate::domain::access::Role::NetworkAdmin, "import pools and addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    let (values, mut errors) = read_file(body)?;
    let lines: Vec<Parsed> = values.iter().map(|values| parse_line(values, &mut errors)).collect();
    if lines.is_empty() && errors.is_empty() {
        return Ok(ImportSummary::default());
    }
    let addresses: Vec<IpAddr> = lines
        .iter()
        .filter_map(|parsed| match &parsed.detail {
            Some(Detail::Holding(request)) => Some(request.address),
            _ => None,
        })
        .collect();

    let mut tx = db.begin_write().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let held = held_addresses(&mut tx, &addresses).await?;
    let checked = match check(&before, &held, lines, errors, plan::now_unix()) {
        Ok(checked) => checked,
        Err(errors) => {
            tx.rollback().await?;
            return Err(ImportError::Invalid(errors));
        }
    };
    if checked.is_empty() {
        tx.rollback().await?;
        return Ok(ImportSummary { unchanged: checked.unchanged, ..ImportSummary::default() });
    }
    match apply(&mut tx, actor, &checked).await {
        Ok(summary) => {
            tx.commit().await?;
            Ok(summary)
        }
        Err(ApplyError::Taken) => {
            tx.rollback().await?;
            let wanted: Vec<IpAddr> = checked.holdings.iter().map(|h| h.request.address).collect();
            let mut conn = db.pool().acquire().await?;
            let now_held = held_addresses(&mut conn, &wanted).await?;
            let taken = checked
                .holdings
                .iter()
                .filter_map(|h| {
                    now_held.get(&h.request.address).map(|holder| {
                        LineError::new(
                            h.line,
                            Some("address"),
                            "address_taken",
                            format!("{} (taken while the import ran)", holder.describe(h.request.address)),
                        )
                    })
                })
                .collect();
            Err(ImportError::Conflict(taken))
        }
        Err(ApplyError::Failed(error)) => Err(error),
    }
}

// =============================================================================================
// Export

/// A held address as exported.
struct Exported {
    address: IpAddr,
    state: String,
    owner: Option<String>,
    application: Option<String>,
    reason: Option<String>,
}

/// Every pool block and held address as CSV, from one consistent snapshot.
pub async fn export(db: &Database) -> Result<String, DbError> {
    let mut tx = match db.backend() {
        Backend::Sqlite => db.pool().begin().await?,
        Backend::Postgres => db.pool().begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?,
    };
    let mut pools = sqlx::query(&format!(
        "SELECT {POOL_COLUMNS} FROM pools p JOIN environments e ON e.id = p.environment_id"
    ))
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|row| {
        plan::parse_pool(
            row.try_get("id")?,
            &row.try_get::<String, _>("environment")?,
            &row.try_get::<String, _>("name")?,
            &row.try_get::<String, _>("blocks")?,
        )
    })
    .collect::<Result<Vec<_>, _>>()?;
    let rows = sqlx::query("SELECT address, pool_id, state, owner, application, reason FROM addresses")
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;

    let mut held: HashMap<i64, Vec<Exported>> = HashMap::new();
    for row in &rows {
        let text: String = row.try_get("address")?;
        let address = IpAddr::parse(&text).map_err(|error| DbError::Corrupt {
            what: "address".to_owned(),
            source: serde::de::Error::custom(error),
        })?;
        held.entry(row.try_get("pool_id")?).or_default().push(Exported {
            address,
            state: row.try_get("state")?,
            owner: row.try_get("owner")?,
            application: row.try_get("application")?,
            reason: row.try_get("reason")?,
        });
    }
    // Sorted here rather than by SQL, so both databases give the same order whatever their
    // collation.
    pools.sort_by(|a, b| (a.environment.as_str(), a.name.as_str()).cmp(&(b.environment.as_str(), b.name.as_str())));

    let mut out = String::new();
    push_record(&mut out, &COLUMNS);
    for pool in &pools {
        let (environment, name) = (pool.environment.as_str(), pool.name.as_str());
        for block in &pool.blocks {
            push_record(&mut out, &["pool", environment, name, &block.to_string(), "", "", "", ""]);
        }
        let Some(addresses) = pool.id.and_then(|id| held.get_mut(&id)) else { continue };
        addresses.sort_by_key(|h| h.address);
        for h in addresses.iter() {
            let kind = if h.state == "reserved" { "reservation" } else { "allocation" };
            push_record(
                &mut out,
                &[
                    kind,
                    environment,
                    name,
                    "",
                    &h.address.to_string(),
                    h.owner.as_deref().unwrap_or_default(),
                    h.application.as_deref().unwrap_or_default(),
                    h.reason.as_deref().unwrap_or_default(),
                ],
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use super::*;
    use crate::domain::seed_plan;

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        read_records(text).unwrap().into_iter().map(|r| (r.line, r.fields)).collect()
    }

    #[test]
    fn records_follow_rfc_4180() {
        let text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n\r\nlast,,\n";
        assert_eq!(
            fields(text),
            vec![
                (1, vec!["a".into(), "b".into(), "c".into()]),
                (2, vec!["x, y".into(), "say \"hi\"".into(), "two\nlines".into()]),
                (5, vec!["last".into(), String::new(), String::new()]),
            ]
        );
        assert_eq!(fields("a,b"), vec![(1, vec!["a".into(), "b".into()])]);
        assert_eq!(read_records("a,\"open\n").unwrap_err().code, "unclosed_quote");
        assert_eq!(read_records("a,\"x\"y\n").unwrap_err().code, "text_after_quote");
        assert_eq!(read_records("a\nb,x\"y\n").unwrap_err().line, Some(2));
    }

    #[test]
    fn written_fields_read_back() {
        let values = ["plain", "with, comma", "with \"quotes\"", "two\nlines", ""];
        let mut out = String::new();
        push_record(&mut out, &values);
        assert_eq!(out, "plain,\"with, comma\",\"with \"\"quotes\"\"\",\"two\nlines\",\r\n");
        assert_eq!(fields(&out), vec![(1, values.iter().map(|v| (*v).to_owned()).collect())]);
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_written_as_text_and_read_back() {
        let values = ["=1+2", "+1", "-2", "@SUM(A1)", "\tx", "a=b", "'plain"];
        let mut out = String::new();
        push_record(&mut out, &values);
        assert_eq!(out, "'=1+2,'+1,'-2,'@SUM(A1),'\tx,a=b,'plain\r\n");
        assert_eq!(fields(&out), vec![(1, values.iter().map(|v| (*v).to_owned()).collect())]);
        let mut carriage_return = String::new();
        push_field(&mut carriage_return, "\rx");
        assert_eq!(carriage_return, "\"'\rx\"");
    }

    #[test]
    fn the_header_is_checked() {
        let code = |text: &str| read_file(text.as_bytes()).unwrap_err().code;
        assert_eq!(code(""), "empty_file");
        assert_eq!(code("kind,environment,pool,colour\n"), "unknown_column");
        assert_eq!(code("kind,environment,pool,pool\n"), "duplicate_column");
        assert_eq!(code("kind,environment,block\n"), "missing_column");
        assert_eq!(read_file(b"kind,\xff\n").unwrap_err().code, "not_utf8");
        // Any order, optional columns left out, a byte-order mark.
        let text = "\u{feff}Pool,kind,environment,block\ndev-vips,pool,dev,10.0.0.0/28\nx\n";
        let (lines, errors) = read_file(text.as_bytes()).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].get(POOL), lines[0].get(BLOCK)), ("dev-vips", "10.0.0.0/28"));
        assert_eq!((errors[0].line, errors[0].code.as_str()), (3, "wrong_field_count"));
    }

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
