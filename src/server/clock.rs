//! The server clock: 17-digit timetokens (Unix time in 100 ns units) that are
//! strictly increasing across the whole server, plus a test hook that shifts
//! the server's notion of "now".
//!
//! "Now" is the wall-clock time at start plus a monotonic elapsed time, so it
//! never runs backwards even when the system clock is adjusted, plus the
//! offset added by [`Clock::advance`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Timetoken units per second (a timetoken counts 100 ns steps).
pub(crate) const TT_PER_SEC: u64 = 10_000_000;

#[derive(Debug)]
pub(crate) struct Clock {
    /// Wall-clock time at start, in timetoken units.
    base: u64,
    /// Monotonic reference for `base`.
    start: Instant,
    /// Test offset in timetoken units.
    offset: AtomicU64,
    /// The last timetoken handed out by [`Clock::tick`].
    last: AtomicU64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(duration_to_tt)
            // A system clock before 1970 is broken; any 17-digit start works.
            .unwrap_or(10_000_000_000_000_000);
        Self {
            base,
            start: Instant::now(),
            offset: AtomicU64::new(0),
            last: AtomicU64::new(0),
        }
    }

    /// The current time as a timetoken (not reserved: two calls may agree).
    pub(crate) fn now(&self) -> u64 {
        self.base
            .saturating_add(duration_to_tt(self.start.elapsed()))
            .saturating_add(self.offset.load(Ordering::Acquire))
    }

    /// A fresh timetoken: the current time, or one more than the previous
    /// timetoken when the clock has not moved since.
    pub(crate) fn tick(&self) -> u64 {
        let now = self.now();
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            let next = now.max(last.saturating_add(1));
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Makes every later [`Clock::tick`] larger than `timetoken` (one read
    /// back from the data dir), even if the system clock went back.
    pub(crate) fn observe(&self, timetoken: u64) {
        self.last.fetch_max(timetoken, Ordering::AcqRel);
    }

    /// The last timetoken handed out (0 before the first).
    pub(crate) fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Unix seconds of "now" (presence event timestamps).
    pub(crate) fn unix_secs(&self) -> u64 {
        self.now() / TT_PER_SEC
    }

    /// Shifts "now" forward.
    pub(crate) fn advance(&self, by: Duration) {
        let by = duration_to_tt(by);
        // Saturates instead of wrapping around to the past.
        let _ = self
            .offset
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |offset| {
                Some(offset.saturating_add(by))
            });
    }
}

/// A duration in timetoken units, saturating.
pub(crate) fn duration_to_tt(d: Duration) -> u64 {
    let secs = d.as_secs().saturating_mul(TT_PER_SEC);
    secs.saturating_add(u64::from(d.subsec_nanos()) / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_17_digits_and_strictly_increasing() {
        let clock = Clock::new();
        let mut prev = 0;
        for _ in 0..10_000 {
            let tt = clock.tick();
            assert!(tt > prev, "{tt} after {prev}");
            assert_eq!(tt.to_string().len(), 17);
            prev = tt;
        }
    }

    #[test]
    fn advance_moves_now_and_ticks() {
        let clock = Clock::new();
        let before = clock.tick();
        clock.advance(Duration::from_secs(3600));
        let after = clock.tick();
        assert!(after >= before + 3600 * TT_PER_SEC);
        assert!(clock.unix_secs() >= before / TT_PER_SEC + 3600);
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert!(clock.tick() > after, "saturates, never wraps to the past");
    }
}
