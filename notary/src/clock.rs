//! The notary's clock: the time a batch is notarised at (specs/notary.md
//! §Notarised time).
//!
//! Entries never go back in time, so a wall clock that jumps forward (a bad
//! time server, an operator's typo, a VM restored with a wrong clock) would,
//! if followed, pin every later entry at the jumped time, and every key with
//! a `valid_until` before it would expire at once. The notary's clock is
//! therefore the process's monotonic clock plus an offset, taken from the
//! wall clock at start:
//!
//! - time servers discipline the monotonic clock's rate along with the wall
//!   clock's, so the two stay together and the offset stays put (the clock
//!   used is Linux's `CLOCK_BOOTTIME`, which also counts time suspended, so
//!   a suspended and resumed machine is not taken for a jump);
//! - when the wall clock is ahead of the notary's, by a step however long
//!   ago it happened, the offset grows towards it by at most the real time
//!   elapsed since the previous reading, and never by more than 1 s at once:
//!   the notary's clock runs at most twice as fast as real time, counted
//!   from when the step is seen, until it meets the wall clock;
//! - when the wall clock is behind, the notary's clock does not follow it:
//!   entries could not go back anyway, and freezing their times would refuse
//!   every statement signed by a correct clock.
//!
//! A difference of more than 1 s either way is logged when it appears, when
//! it changes sign or grows again (a new jump), and when it is gone; each
//! jump is counted, and the difference exposed as a metric
//! ([`Clock::offset_ms`]). The sequencer reads the clock at least once a
//! second, idle or not, so a jump is seen within a second.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A difference from the wall clock larger than this is reported.
pub const REPORTED_MS: i64 = 1_000;
/// The most the notary's clock gains on real time in one reading.
pub const MAX_GAIN_MS: i64 = 1_000;

/// The wall clock in milliseconds since the Unix epoch.
pub use ledger::time::now_ms as wall_ms;

/// Milliseconds of a clock that never steps and counts time suspended
/// (`CLOCK_BOOTTIME`; its origin is of no meaning here).
pub fn monotonic_ms() -> i64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) } == 0;
    assert!(
        ok,
        "CLOCK_BOOTTIME is available on every Linux since 2.6.39"
    );
    now.tv_sec * 1000 + now.tv_nsec / 1_000_000
}

/// Where the notary reads the time. A running notary reads the system's
/// clocks; only the end-to-end tests' own notary binary (`e2e`'s
/// `notary-test-clock`, never built with the notary) sets it, so that cases
/// can span months of the regulation's calendar in seconds. The set time
/// stands for both clocks, and only moves forward.
#[derive(Debug, Clone, Default)]
pub enum TimeSource {
    #[default]
    System,
    Set(Arc<AtomicU64>),
}

impl TimeSource {
    /// Milliseconds since the Unix epoch.
    pub fn wall_ms(&self) -> u64 {
        match self {
            TimeSource::System => wall_ms(),
            TimeSource::Set(t) => t.load(Relaxed),
        }
    }

    fn monotonic_ms(&self) -> i64 {
        match self {
            TimeSource::System => monotonic_ms(),
            TimeSource::Set(t) => t.load(Relaxed) as i64,
        }
    }
}

/// The notary's clock. Not shared: the sequencer owns it.
#[derive(Debug)]
pub struct Clock {
    source: TimeSource,
    /// Notary time = monotonic ms + offset.
    offset: i64,
    /// Monotonic ms of the previous reading.
    previous: i64,
    /// Wall clock minus notary time at the last reading.
    difference: i64,
    jumps: u64,
}

/// What one reading found, for the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Nothing new: the clocks agree, or differ as they did before.
    Steady,
    /// The wall clock now differs from the notary's by this many ms
    /// (positive: ahead, caught up at most at real time; negative: behind,
    /// not followed).
    Jumped(i64),
    /// The clocks agree again.
    Agree,
}

impl Clock {
    /// The clock of a notary starting now: the wall clock as it is.
    pub fn start(source: TimeSource) -> Clock {
        let (wall, monotonic) = (source.wall_ms() as i64, source.monotonic_ms());
        Clock {
            source,
            ..Clock::start_at(wall, monotonic)
        }
    }

    /// A clock started when the wall clock read `wall` and the monotonic
    /// clock `monotonic` (both ms).
    pub fn start_at(wall: i64, monotonic: i64) -> Clock {
        Clock {
            source: TimeSource::System,
            offset: wall - monotonic,
            previous: monotonic,
            difference: 0,
            jumps: 0,
        }
    }

    /// The time to notarise at now.
    pub fn now(&mut self) -> (u64, Event) {
        self.read(self.source.wall_ms() as i64, self.source.monotonic_ms())
    }

    /// Wall clock minus notary time at the last reading, in ms.
    pub fn offset_ms(&self) -> i64 {
        self.difference
    }

    /// Jumps of the wall clock (more than 1 s either way) seen since start.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }

    /// One reading, given the wall clock and the monotonic clock (both ms).
    pub fn read(&mut self, wall: i64, monotonic: i64) -> (u64, Event) {
        let ahead = wall - (monotonic + self.offset);
        let elapsed = (monotonic - self.previous).max(0);
        self.offset += ahead.clamp(0, elapsed.min(MAX_GAIN_MS));
        self.previous = monotonic;
        let time = monotonic + self.offset;
        let (before, now) = (self.difference, wall - time);
        self.difference = now;
        // Catching up only shrinks a forward difference, and a backward one
        // stays as it is: a difference that appears, changes sign or grows
        // by more than the reporting threshold is a new jump.
        let event = if now.abs() > REPORTED_MS
            && (before.abs() <= REPORTED_MS
                || now.signum() != before.signum()
                || now.abs() > before.abs() + REPORTED_MS)
        {
            self.jumps += 1;
            Event::Jumped(now)
        } else if now.abs() <= REPORTED_MS && before.abs() > REPORTED_MS {
            Event::Agree
        } else {
            Event::Steady
        };
        (time.max(0) as u64, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_201_600_000;
    const DAY: i64 = 24 * 3600 * 1000;
    const YEAR: i64 = 365 * DAY;

    fn at(t: i64) -> u64 {
        t as u64
    }

    #[test]
    fn follows_a_steady_wall_clock() {
        let mut c = Clock::start_at(T, 0);
        assert_eq!(c.read(T, 0), (at(T), Event::Steady));
        assert_eq!(c.read(T + 5, 5), (at(T + 5), Event::Steady));
        assert_eq!(
            c.read(T + 3_600_000, 3_600_000),
            (at(T + 3_600_000), Event::Steady)
        );
        assert_eq!(c.offset_ms(), 0);
    }

    #[test]
    fn a_jump_of_years_is_caught_up_at_most_at_real_time() {
        let mut c = Clock::start_at(T, 0);
        // The wall clock jumps five years ahead, 1 s later.
        let (t, e) = c.read(T + 1000 + 5 * YEAR, 1000);
        assert_eq!(t, at(T + 2000));
        assert_eq!(e, Event::Jumped(5 * YEAR - 1000));
        assert_eq!(c.jumps(), 1);
        // Readings every 10 ms for a second: the notary gains a second.
        let mut t = 0;
        for ms in (1010..=2000).step_by(10) {
            t = c.read(T + ms + 5 * YEAR, ms).0;
        }
        assert_eq!(t, at(T + 4000));
        // The operator sets the wall clock right: the notary does not go
        // back; it stays the 2 s it gained ahead, and says so.
        let (t, e) = c.read(T + 2010, 2010);
        assert_eq!((t, e), (at(T + 4010), Event::Jumped(-2000)));
        assert_eq!(c.jumps(), 2);
    }

    #[test]
    fn agreement_is_reported_when_the_wall_clock_comes_back() {
        let mut c = Clock::start_at(T, 0);
        assert_eq!(c.read(T + 10 + DAY, 10).1, Event::Jumped(DAY - 10));
        assert_eq!(c.read(T + 20, 20), (at(T + 30), Event::Agree));
    }

    #[test]
    fn a_jump_during_an_idle_weekend_is_not_followed_at_once() {
        let mut c = Clock::start_at(T, 0);
        // Nothing to notarise for two days; meanwhile the wall clock jumped a day ahead.
        let (t, e) = c.read(T + 3 * DAY, 2 * DAY);
        assert_eq!(t, at(T + 2 * DAY + MAX_GAIN_MS));
        assert_eq!(e, Event::Jumped(DAY - MAX_GAIN_MS));
    }

    #[test]
    fn a_small_step_is_caught_up_in_as_long() {
        let mut c = Clock::start_at(T, 0);
        let (t, e) = c.read(T + 10_000, 0);
        assert_eq!((t, e), (at(T), Event::Jumped(10_000)));
        let (t, _) = c.read(T + 15_000, 5_000);
        assert_eq!(t, at(T + 6_000));
        // 9 s behind: caught up 9 s of real time later.
        for ms in (5_100..=13_900).step_by(100) {
            c.read(T + 10_000 + ms, ms);
        }
        assert_eq!(c.offset_ms(), 100);
        assert_eq!(c.read(T + 24_000, 14_000), (at(T + 24_000), Event::Steady));
        assert_eq!(c.offset_ms(), 0);
    }

    #[test]
    fn a_jump_before_the_first_reading_is_not_adopted() {
        // Started, then idle; the wall clock jumps a day before anything
        // is notarised.
        let mut c = Clock::start_at(T, 0);
        let (t, e) = c.read(T + 60_000 + DAY, 60_000);
        assert_eq!(t, at(T + 60_000 + MAX_GAIN_MS));
        assert_eq!(e, Event::Jumped(DAY - MAX_GAIN_MS));
    }

    #[test]
    fn a_second_jump_is_reported_too() {
        let mut c = Clock::start_at(T, 0);
        assert!(matches!(c.read(T + 10 + DAY, 10).1, Event::Jumped(_)));
        assert_eq!(c.read(T + 20 + DAY, 20).1, Event::Steady);
        assert!(matches!(c.read(T + 30 + 2 * DAY, 30).1, Event::Jumped(_)));
        assert_eq!(c.jumps(), 2);
    }

    #[test]
    fn the_monotonic_clock_counts_forward() {
        let a = monotonic_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(monotonic_ms() >= a + 20);
    }

    #[test]
    fn a_backward_jump_is_reported_and_not_followed() {
        let mut c = Clock::start_at(T, 0);
        let (t, e) = c.read(T - YEAR, 10);
        assert_eq!((t, e), (at(T + 10), Event::Jumped(-YEAR - 10)));
        // Time keeps going at the monotonic pace.
        assert_eq!(c.read(T - YEAR + 1000, 1010).0, at(T + 1010));
    }
}
