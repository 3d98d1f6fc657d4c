//! Where "now" comes from: the system clock in production, a fixed one in tests.

use std::fmt::Debug;
use std::sync::Mutex;

use time::OffsetDateTime;

/// A source of the current time. Everything that resolves `now` (relative times, token expiry,
/// transition times) reads it from a clock it is given, so tests can fix it.
pub trait Clock: Debug + Send + Sync {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that says what it was set to, until it is set again (for tests).
#[derive(Debug)]
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    /// A clock stopped at `now`.
    pub fn new(now: OffsetDateTime) -> FixedClock {
        FixedClock(Mutex::new(now))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_12_a_fixed_clock_says_what_it_was_set_to() {
        let clock = FixedClock::new(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(clock.now(), OffsetDateTime::UNIX_EPOCH);
        clock.set(OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1));
        assert_eq!(clock.now(), OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1));
    }
}
