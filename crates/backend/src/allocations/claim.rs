//! Writing: retries with jitter, and the one statement that claims the lowest candidates still free.
use super::*;

/// A failure that a fresh attempt may not meet again.
pub(super) fn is_transient(backend: Backend, error: &AllocationError) -> bool {
    let AllocationError::Db(DbError::Sqlx(sqlx::Error::Database(error))) = error else {
        return false;
    };
    let Some(code) = error.code() else { return false };
    match backend {
        // serialization_failure, deadlock_detected, lock_not_available
        Backend::Postgres => matches!(&*code, "40001" | "40P01" | "55P03"),
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes
        Backend::Sqlite => code.parse::<i32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
    }
}

/// A number below `bound` (at least 1), for jitter.
pub(super) fn random_below(bound: usize) -> usize {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    // Without a random source every writer retries in step; jitter is then only the backoff.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    (u64::from_le_bytes(bytes) % bound.max(1) as u64) as usize
}

pub(super) async fn jitter(round: u32) {
    let ceiling_ms = 1usize << round.min(5);
    tokio::time::sleep(Duration::from_micros(200 + random_below(ceiling_ms * 1000) as u64)).await;
}

/// One attempt: `Ok(None)` asks for another with a fresh read.
pub(super) type Attempt<T> = Result<Option<T>, AllocationError>;

/// Runs `attempt` until it gives an answer, retrying transient failures a bounded number of
/// times with a little jitter.
pub(super) async fn with_retries<T, F, Fut>(db: &Database, mut attempt: F) -> Result<T, AllocationError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    for round in 0..MAX_ROUNDS {
        match attempt(round).await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) if is_transient(db.backend(), &error) => {
                tracing::debug!(%error, round, "transient database error; trying again");
            }
            Err(error) => return Err(error),
        }
        jitter(round).await;
    }
    Err(AllocationError::Busy)
}

/// A statement whose `$n` placeholders are numbered as its values are added.
#[derive(Default)]
pub(super) struct Statement {
    pub(super) sql: String,
    pub(super) values: Vec<Option<Value>>,
}

pub(super) enum Value {
    Text(String),
    Int(i64),
}

impl Statement {
    pub(super) fn param(&mut self, value: Option<Value>) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    pub(super) fn text(&mut self, value: impl Into<String>) -> String {
        self.param(Some(Value::Text(value.into())))
    }

    pub(super) fn optional_text(&mut self, value: Option<&str>) -> String {
        self.param(value.map(|v| Value::Text(v.to_owned())))
    }

    pub(super) fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut query = sqlx::query(&self.sql);
        for value in &self.values {
            query = match value {
                Some(Value::Text(text)) => query.bind(text.clone()),
                Some(Value::Int(n)) => query.bind(*n),
                None => query.bind(None::<String>),
            };
        }
        query
    }
}

/// The advisory-lock class of Gatehouse addresses (PostgreSQL).
pub(super) const LOCK_CLASS: i32 = 0x4748_0001;

pub(super) const INSERT_COLUMNS: &str = "address_key, address, pool_id, state, owner, application, reason, actor, since";

/// The statement that claims the lowest candidates still free for `requests`. The
/// candidates are listed lowest first; the i-th candidate claimed goes to the i-th request, so
/// the i-th lowest key returned is the i-th request's address. A candidate that is taken is
/// passed over, and so — on PostgreSQL — is one whose advisory lock another transaction holds
/// (it is claiming it right now; the lock is held until that transaction ends). Rows are only
/// written while the pool still has the blocks that were searched.
pub(super) fn claim_statement(
    backend: Backend,
    read: &PoolRead,
    requests: &[&Holding],
    candidates: &[IpAddr],
) -> Statement {
    let mut s = Statement::default();
    let pool = s.param(Some(Value::Int(read.pool.id.unwrap_or_default())));
    let blocks = s.text(read.blocks_text.clone());
    let mut with = Vec::new();
    let limit = s.param(Some(Value::Int(requests.len() as i64)));
    let wanted: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| {
            serde_json::json!({"owner": r.owner, "application": r.application, "reason": r.reason,
                               "by": r.by, "since": r.since})
        })
        .collect();
    let wanted = s.text(serde_json::Value::Array(wanted).to_string());
    let guard = format!(
        "NOT EXISTS (SELECT 1 FROM addresses t WHERE t.address_key = c.k) \
         AND EXISTS (SELECT 1 FROM pools p WHERE p.id = {pool} AND p.blocks = {blocks})"
    );
    let field = |name: &str| match backend {
        Backend::Sqlite => format!("json_extract(r.v, '$.{name}')"),
        Backend::Postgres => format!("r.v->>'{name}'"),
    };
    match backend {
        // One writer at a time: the statement sees every committed row.
        Backend::Sqlite => {
            let pairs: Vec<serde_json::Value> =
                candidates.iter().map(|a| serde_json::json!([address_key(*a), a.to_string()])).collect();
            let pairs = s.text(serde_json::Value::Array(pairs).to_string());
            with.push(format!(
                "c AS (SELECT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS a, key AS o \
                 FROM json_each({pairs}))"
            ));
            with.push(format!("claimed AS (SELECT k, a, o FROM c WHERE {guard} ORDER BY o LIMIT {limit})"));
            with.push(format!("r AS (SELECT value AS v, key + 1 AS i FROM json_each({wanted}))"));
        }
        // The candidates as two lists (one statement text whatever their number); the scan
        // yields them in order and stops once enough are claimed. The advisory lock of an
        // address is its low 32 bits (a collision only makes a request pass over a candidate).
        Backend::Postgres => {
            let keys: Vec<String> = candidates.iter().map(|a| address_key(*a)).collect();
            let texts: Vec<String> = candidates.iter().map(ToString::to_string).collect();
            let (keys, texts) = (s.text(keys.join(",")), s.text(texts.join(",")));
            with.push(format!(
                "claimed AS (SELECT c.k, c.a, c.o \
                 FROM unnest(string_to_array({keys}, ','), string_to_array({texts}, ',')) WITH ORDINALITY AS c(k, a, o) \
                 WHERE {guard} AND pg_try_advisory_xact_lock({LOCK_CLASS}, ('x' || right(c.k, 8))::bit(32)::int4) \
                 LIMIT {limit})"
            ));
            with.push(format!("r AS (SELECT value AS v, i FROM json_array_elements({wanted}::json) WITH ORDINALITY AS e(value, i))"));
        }
    }
    with.push("n AS (SELECT k, a, row_number() OVER (ORDER BY o) AS i FROM claimed)".to_owned());
    s.sql = format!(
        "WITH {} INSERT INTO addresses ({INSERT_COLUMNS}) \
         SELECT n.k, n.a, {pool}, 'allocated', {}, {}, {}, {}, {} FROM n JOIN r ON r.i = n.i \
         RETURNING address_key",
        with.join(", "),
        field("owner"),
        field("application"),
        field("reason"),
        field("by"),
        field("since"),
    );
    s
}
