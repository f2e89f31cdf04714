//! Sign-in attempts limited per account and per client address.
//!
//! After `attempts` failures within `window`, the account (or the address, which is
//! allowed four times as many, since several people may share one) is locked for
//! `lockout`; the caller is told how long. A success clears the account's failures. Kept in
//! memory: a restart forgets the counts, and each process counts its own.
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

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

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug)]
pub struct SignInLimiter {
    limits: Limits,
    failures: Mutex<HashMap<Key, Failures>>,
}

impl SignInLimiter {
    pub fn new(limits: Limits) -> SignInLimiter {
        SignInLimiter { limits, failures: Mutex::new(HashMap::new()) }
    }

    fn allowed(&self, key: &Key) -> u32 {
        match key {
            Key::Account(_) => self.limits.attempts,
            Key::Address(_) => self.limits.attempts.saturating_mul(4),
        }
    }

    fn with_failures<T>(&self, work: impl FnOnce(&mut HashMap<Key, Failures>) -> T) -> T {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut failures)
    }

    /// Whether a sign-in for `account` from `address` may be tried now.
    pub fn check(&self, account: &str, address: Option<IpAddr>, now: Instant) -> Result<(), Locked> {
        self.with_failures(|failures| {
            let locked = |key: &Key| {
                failures
                    .get(key)
                    .and_then(|entry| entry.locked_until)
                    .filter(|until| *until > now)
                    .map(|until| until - now)
            };
            if let Some(retry_after) = address.and_then(|address| locked(&Key::Address(address))) {
                return Err(Locked::Address { retry_after });
            }
            match locked(&Key::Account(account.to_lowercase())) {
                Some(retry_after) => Err(Locked::Account { retry_after }),
                None => Ok(()),
            }
        })
    }

    /// Counts a failed sign-in against the account and the address.
    pub fn failed(&self, account: &str, address: Option<IpAddr>, now: Instant) {
        let keys = std::iter::once(Key::Account(account.to_lowercase())).chain(address.map(Key::Address));
        let limits = self.limits;
        let allowed: Vec<(Key, u32)> = keys.map(|key| {
            let allowed = self.allowed(&key);
            (key, allowed)
        }).collect();
        self.with_failures(|failures| {
            for (key, allowed) in allowed {
                let entry = failures.entry(key).or_insert(Failures { count: 0, since: now, locked_until: None });
                let lock_over = entry.locked_until.is_some_and(|until| until <= now);
                if lock_over || now.duration_since(entry.since) > limits.window {
                    *entry = Failures { count: 0, since: now, locked_until: None };
                }
                entry.count += 1;
                if entry.count >= allowed {
                    entry.locked_until = Some(now + limits.lockout);
                }
            }
            // Forget entries whose window and lock are over, so the map stays small.
            failures.retain(|_, entry| {
                entry.locked_until.is_some_and(|until| until > now) || now.duration_since(entry.since) <= limits.window
            });
        });
    }

    /// A successful sign-in clears the account's failures (not the address's).
    pub fn succeeded(&self, account: &str) {
        self.with_failures(|failures| failures.remove(&Key::Account(account.to_lowercase())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits =
        Limits { attempts: 3, window: Duration::from_secs(600), lockout: Duration::from_secs(900) };

    #[test]
    fn an_account_is_locked_after_its_attempts_and_unlocked_when_the_lockout_ends() {
        let limiter = SignInLimiter::new(LIMITS);
        let start = Instant::now();
        let address = Some(IpAddr::from([192, 168, 99, 7]));
        for second in 0..2 {
            limiter.failed("alice", address, start + Duration::from_secs(second));
            assert_eq!(limiter.check("alice", address, start + Duration::from_secs(second)), Ok(()));
        }
        limiter.failed("Alice", address, start + Duration::from_secs(2));
        let locked = limiter.check("alice", address, start + Duration::from_secs(62)).unwrap_err();
        assert_eq!(locked, Locked::Account { retry_after: Duration::from_secs(840) });
        assert_eq!(locked.message(), "Too many failed sign-ins for this account. Try again in 14 minutes.");
        // Another account from the same address is not locked.
        assert_eq!(limiter.check("bob", address, start + Duration::from_secs(62)), Ok(()));
        // The lockout ends.
        assert_eq!(limiter.check("alice", address, start + Duration::from_secs(902)), Ok(()));
        limiter.failed("alice", address, start + Duration::from_secs(903));
        assert_eq!(limiter.check("alice", address, start + Duration::from_secs(903)), Ok(()), "counting starts over");
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_success_clears_them() {
        let limiter = SignInLimiter::new(LIMITS);
        let start = Instant::now();
        limiter.failed("alice", None, start);
        limiter.failed("alice", None, start + Duration::from_secs(1));
        limiter.failed("alice", None, start + Duration::from_secs(700));
        assert_eq!(limiter.check("alice", None, start + Duration::from_secs(700)), Ok(()));
        limiter.succeeded("alice");
        limiter.failed("alice", None, start + Duration::from_secs(701));
        limiter.failed("alice", None, start + Duration::from_secs(702));
        assert_eq!(limiter.check("alice", None, start + Duration::from_secs(702)), Ok(()));
    }

    #[test]
    fn an_address_trying_many_accounts_is_locked() {
        let limiter = SignInLimiter::new(LIMITS);
        let start = Instant::now();
        let address = Some(IpAddr::from([10, 0, 0, 9]));
        for n in 0..12 {
            limiter.failed(&format!("user{n}"), address, start);
        }
        let locked = limiter.check("someone-else", address, start).unwrap_err();
        assert!(matches!(locked, Locked::Address { .. }), "{locked:?}");
        assert!(locked.message().contains("from your address"));
        assert_eq!(limiter.check("someone-else", Some(IpAddr::from([10, 0, 0, 10])), start), Ok(()));
    }

    #[test]
    fn waits_are_rounded_up() {
        let wait = |retry_after| Locked::Account { retry_after }.message();
        assert!(wait(Duration::from_millis(200)).ends_with("Try again in 1 second."));
        assert_eq!(Locked::Account { retry_after: Duration::from_millis(1200) }.retry_after_secs(), 2);
        assert!(wait(Duration::from_secs(45)).ends_with("45 seconds."));
        assert!(wait(Duration::from_secs(91)).ends_with("2 minutes."));
        assert!(wait(Duration::from_secs(900)).ends_with("15 minutes."));
    }
}
