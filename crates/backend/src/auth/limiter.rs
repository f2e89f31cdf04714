//! Sign-in attempts limited per account and per client address.
//!
//! After `attempts` failures within `window`, the account (or the address, which is
//! allowed four times as many, since several people may share one) is locked for
//! `lockout`; the caller is told how long. A success clears the account's failures. The
//! counts are rows in the database, so replicas share them and a restart keeps them.
use std::{net::IpAddr, time::Duration};

use crate::db::{Database, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub attempts: u32,
    pub window: Duration,
    pub lockout: Duration,
}

/// Which limit stopped a sign-in, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    Account { retry_after: Duration },
    Address { retry_after: Duration },
}

impl Locked {
    pub fn retry_after(self) -> Duration {
        match self {
            Locked::Account { retry_after } | Locked::Address { retry_after } => retry_after,
        }
    }

    /// Whole seconds to wait, rounded up (for `Retry-After`).
    pub fn retry_after_secs(self) -> u64 {
        let wait = self.retry_after();
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    }

    /// The message the sign-in page and the API show.
    pub fn message(self) -> String {
        let wait = wait_text(self.retry_after_secs());
        match self {
            Locked::Account { .. } => {
                format!("Too many failed sign-ins for this account. Try again in {wait}.")
            }
            Locked::Address { .. } => {
                format!("Too many failed sign-ins from your address. Try again in {wait}.")
            }
        }
    }
}

/// "2 minutes", "45 seconds"; the seconds are rounded up, so "try again in" is never too early.
fn wait_text(seconds: u64) -> String {
    if seconds > 90 {
        let minutes = seconds.div_ceil(60);
        format!("{minutes} minutes")
    } else if seconds == 1 {
        "1 second".to_owned()
    } else {
        format!("{seconds} seconds")
    }
}

/// The row of an account or an address in `sign_in_failures`. The account is named as
/// authentication names it, so `" admin"` counts against `admin`.
fn account_key(account: &str) -> String {
    format!("account:{}", super::users::normalise_name(account))
}

/// An IPv6 client is counted by its /64: one host commonly has a whole /64 to pick
/// addresses from, so counting single addresses would give it a fresh count per address.
fn address_key(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => format!("address:{v4}"),
        v6 @ IpAddr::V6(_) => match domain::Cidr::containing(v6.into(), 64) {
            Some(network) => format!("address:{network}"),
            None => format!("address:{v6}"),
        },
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The limits, counted in the database so every replica sees every failure.
#[derive(Debug)]
pub struct SignInLimiter {
    limits: Limits,
}

impl SignInLimiter {
    pub fn new(limits: Limits) -> SignInLimiter {
        SignInLimiter { limits }
    }

    /// Whether a sign-in for `account` from `address` may be tried at `now` (Unix ms).
    pub async fn check(&self, db: &Database, account: &str, address: Option<IpAddr>, now: i64) -> Result<Result<(), Locked>, DbError> {
        let locked = |key: String| async move {
            let until: Option<i64> = sqlx::query_scalar(
                "SELECT locked_until_ms FROM sign_in_failures WHERE key = $1 AND locked_until_ms > $2",
            )
            .bind(key)
            .bind(now)
            .fetch_optional(db.pool())
            .await?
            .flatten();
            Ok::<_, DbError>(until.map(|until| Duration::from_millis(u64::try_from(until - now).unwrap_or(0))))
        };
        if let Some(address) = address
            && let Some(retry_after) = locked(address_key(address)).await?
        {
            return Ok(Err(Locked::Address { retry_after }));
        }
        Ok(match locked(account_key(account)).await? {
            Some(retry_after) => Err(Locked::Account { retry_after }),
            None => Ok(()),
        })
    }

    /// Counts a failed sign-in against the account and the address, each in one statement,
    /// so failures counted by two replicas at once both count.
    pub async fn failed(&self, db: &Database, account: &str, address: Option<IpAddr>, now: i64) -> Result<(), DbError> {
        let keys = std::iter::once((account_key(account), self.limits.attempts))
            .chain(address.map(|address| (address_key(address), self.limits.attempts.saturating_mul(4))));
        // A count starts over when the lock is over or the window has passed.
        const START_OVER: &str = "((sign_in_failures.locked_until_ms IS NOT NULL AND sign_in_failures.locked_until_ms <= $2) \
                                   OR $2 - sign_in_failures.since_ms > $5)";
        let upsert = format!(
            "INSERT INTO sign_in_failures (key, failures, since_ms, locked_until_ms) \
             VALUES ($1, 1, $2, CASE WHEN 1 >= $3 THEN $2 + $4 ELSE NULL END) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN {START_OVER} THEN 1 ELSE sign_in_failures.failures + 1 END, \
               since_ms = CASE WHEN {START_OVER} THEN $2 ELSE sign_in_failures.since_ms END, \
               locked_until_ms = CASE \
                 WHEN (CASE WHEN {START_OVER} THEN 1 ELSE sign_in_failures.failures + 1 END) >= $3 THEN $2 + $4 \
                 WHEN {START_OVER} THEN NULL \
                 ELSE sign_in_failures.locked_until_ms END"
        );
        let (lockout, window) = (millis(self.limits.lockout), millis(self.limits.window));
        for (key, allowed) in keys {
            sqlx::query(&upsert)
                .bind(key)
                .bind(now)
                .bind(i64::from(allowed))
                .bind(lockout)
                .bind(window)
                .execute(db.pool())
                .await?;
        }
        // Forget entries whose window and lock are over, so the table stays small.
        sqlx::query("DELETE FROM sign_in_failures WHERE (locked_until_ms IS NULL OR locked_until_ms <= $1) AND since_ms < $1 - $2")
            .bind(now)
            .bind(window)
            .execute(db.pool())
            .await?;
        Ok(())
    }

    /// A successful sign-in clears the account's failures (not the address's).
    pub async fn succeeded(&self, db: &Database, account: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM sign_in_failures WHERE key = $1").bind(account_key(account)).execute(db.pool()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_counted_by_their_normalised_name_and_ipv6_clients_by_their_64() {
        assert_eq!(account_key(" Admin\t"), account_key("admin"));
        let address = |text: &str| address_key(text.parse().unwrap());
        assert_eq!(address("192.0.2.7"), "address:192.0.2.7");
        assert_eq!(address("::ffff:192.0.2.7"), "address:192.0.2.7");
        assert_eq!(address("2001:db8:1:2::1"), "address:2001:db8:1:2::/64");
        assert_eq!(address("2001:db8:1:2:ffff::9"), address("2001:db8:1:2::1"));
        assert_ne!(address("2001:db8:1:3::1"), address("2001:db8:1:2::1"));
    }

    #[test]
    fn waits_are_rounded_up() {
        let wait = |retry_after| Locked::Account { retry_after }.message();
        assert!(wait(Duration::from_millis(200)).ends_with("Try again in 1 second."));
        assert_eq!(Locked::Account { retry_after: Duration::from_millis(1200) }.retry_after_secs(), 2);
        assert!(wait(Duration::from_secs(45)).ends_with("45 seconds."));
        assert!(wait(Duration::from_secs(91)).ends_with("2 minutes."));
        assert!(wait(Duration::from_secs(900)).ends_with("15 minutes."));
        assert_eq!(
            Locked::Account { retry_after: Duration::from_secs(840) }.message(),
            "Too many failed sign-ins for this account. Try again in 14 minutes."
        );
    }
}
