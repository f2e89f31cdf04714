//! An address's history, from the audit log.
use super::*;

/// One change of an address, from the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressEvent {
    pub at: String,
    pub by: String,
    /// `allocate`, `release`, `reserve` or `unreserve`.
    pub action: String,
    pub pool: Option<i64>,
    pub owner: Option<String>,
    pub application: Option<String>,
    pub reason: Option<String>,
}

/// Every change of an address, oldest first.
pub async fn history(db: &Database, address: IpAddr) -> Result<Vec<AddressEvent>, DbError> {
    let entries = audit::list(db, Some(&audit_object(address))).await?;
    Ok(entries
        .into_iter()
        .map(|entry| {
            let text = |value: Option<&serde_json::Value>, field: &str| {
                value.and_then(|v| v.get(field)).and_then(serde_json::Value::as_str).map(str::to_owned)
            };
            let held = entry.before.as_ref().filter(|_| entry.after.as_ref().is_some_and(|a| a["state"] == "free"));
            let holding = held.or(entry.after.as_ref());
            AddressEvent {
                action: entry.action.strip_prefix("address.").unwrap_or(&entry.action).to_owned(),
                pool: holding.and_then(|v| v.get("pool")).and_then(serde_json::Value::as_i64),
                owner: text(holding, "owner"),
                application: text(holding, "application"),
                reason: text(entry.after.as_ref(), "reason"),
                at: entry.at,
                by: entry.actor,
            }
        })
        .collect())
}
