//! The time as the services read it: the system's clock in production, a clock a test moves
//! by hand in tests, so no test sleeps to let time pass. The services take `now` as an
//! argument; the server reads it from the one clock in its state.
use std::{
    fmt::Debug,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub trait Clock: Send + Sync + Debug {
    /// Unix time in milliseconds.
    fn now_millis(&self) -> i64;

    /// Unix time in seconds.
    fn now_unix(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock (replicas share it, as they share the database).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until it is moved: tests start it at the system's time and
/// advance it past a lockout or a session's timeout instead of waiting.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    pub fn starting_now() -> Self {
        ManualClock { millis: AtomicI64::new(SystemClock.now_millis()) }
    }

    pub fn advance(&self, by: Duration) {
        self.millis.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.millis.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::starting_now();
        let start = clock.now_millis();
        assert_eq!(clock.now_millis(), start);
        clock.advance(Duration::from_millis(2100));
        assert_eq!(clock.now_millis(), start + 2100);
        assert_eq!(clock.now_unix(), (start + 2100).div_euclid(1000));
    }
}
