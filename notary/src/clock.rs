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
//!   clock's, so the two stay together and the offset stays put;
//! - when the wall clock is ahead of the notary's, by a step however long
//!   ago it happened, the offset grows towards it by at most the real time
//!   elapsed since the previous reading, and never by more than 1 s at once:
//!   the notary's clock runs at most twice as fast as real time, counted
//!   from when the step is seen, until it meets the wall clock;
//! - when the wall clock is behind, the notary's clock does not follow it:
//!   entries could not go back anyway, and freezing their times would refuse
//!   every statement signed by a correct clock.
//!
//! A difference of more than 1 s either way is logged when it appears and
//! when it is gone, counted, and exposed as a metric ([`Clock::offset_ms`]).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A difference from the wall clock larger than this is reported.
pub const REPORTED_MS: i64 = 1_000;
/// The most the notary's clock gains on real time in one reading.
pub const MAX_GAIN_MS: i64 = 1_000;

/// The wall clock in milliseconds since the Unix epoch.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The notary's clock. Not shared: the sequencer owns it.
#[derive(Debug)]
pub struct Clock {
    started: Instant,
    /// Notary time = monotonic ms + offset; `None` before the first reading.
    offset: Option<i64>,
    /// Monotonic ms of the previous reading.
    previous: i64,
    /// Wall clock minus notary time at the last reading.
    difference: i64,
    jumps: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            started: Instant::now(),
            offset: None,
            previous: 0,
            difference: 0,
            jumps: 0,
        }
    }
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
    /// The time to notarise at now.
    pub fn now(&mut self) -> (u64, Event) {
        let monotonic = self.started.elapsed().as_millis() as i64;
        self.read(wall_ms() as i64, monotonic)
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
        let offset = match self.offset {
            None => wall - monotonic,
            Some(offset) => {
                let ahead = wall - (monotonic + offset);
                let elapsed = (monotonic - self.previous).max(0);
                offset + ahead.clamp(0, elapsed.min(MAX_GAIN_MS))
            }
        };
        self.offset = Some(offset);
        self.previous = monotonic;
        let time = monotonic + offset;
        let before = self.difference;
        self.difference = wall - time;
        let event = match (
            before.abs() > REPORTED_MS,
            self.difference.abs() > REPORTED_MS,
        ) {
            (false, true) => {
                self.jumps += 1;
                Event::Jumped(self.difference)
            }
            (true, false) => Event::Agree,
            _ => Event::Steady,
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
        let mut c = Clock::default();
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
        let mut c = Clock::default();
        c.read(T, 0);
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
        assert_eq!((t, e), (at(T + 4010), Event::Steady));
        assert_eq!(c.offset_ms(), -2000);
    }

    #[test]
    fn agreement_is_reported_when_the_wall_clock_comes_back() {
        let mut c = Clock::default();
        c.read(T, 0);
        assert_eq!(c.read(T + 10 + DAY, 10).1, Event::Jumped(DAY - 10));
        assert_eq!(c.read(T + 20, 20), (at(T + 30), Event::Agree));
    }

    #[test]
    fn a_jump_during_an_idle_weekend_is_not_followed_at_once() {
        let mut c = Clock::default();
        c.read(T, 0);
        // Nothing to notarise for two days; meanwhile the wall clock jumped a day ahead.
        let (t, e) = c.read(T + 3 * DAY, 2 * DAY);
        assert_eq!(t, at(T + 2 * DAY + MAX_GAIN_MS));
        assert_eq!(e, Event::Jumped(DAY - MAX_GAIN_MS));
    }

    #[test]
    fn a_small_step_is_caught_up_in_as_long() {
        let mut c = Clock::default();
        c.read(T, 0);
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
    fn a_backward_jump_is_reported_and_not_followed() {
        let mut c = Clock::default();
        c.read(T, 0);
        let (t, e) = c.read(T - YEAR, 10);
        assert_eq!((t, e), (at(T + 10), Event::Jumped(-YEAR - 10)));
        // Time keeps going at the monotonic pace.
        assert_eq!(c.read(T - YEAR + 1000, 1010).0, at(T + 1010));
    }
}
