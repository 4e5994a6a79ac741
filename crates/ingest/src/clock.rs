//! The injectable clock: `keen.created_at` (and later relative timeframes)
//! read "now" from it, so tests are deterministic.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of "now", in UTC milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that stays where it is set; clones share the same instant.
///
/// ```
/// use tally_ingest::{Clock, FixedClock};
/// let clock = FixedClock::at(1_718_202_920_123);
/// assert_eq!(clock.now_ms(), 1_718_202_920_123);
/// clock.advance(1_000);
/// assert_eq!(clock.now_ms(), 1_718_202_921_123);
/// ```
#[derive(Debug, Clone)]
pub struct FixedClock {
    now: Arc<AtomicI64>,
}

impl FixedClock {
    /// A clock fixed at `ms`.
    pub fn at(ms: i64) -> Self {
        FixedClock { now: Arc::new(AtomicI64::new(ms)) }
    }

    /// Moves the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}
