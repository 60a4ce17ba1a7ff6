//! The notary's clock: the time a batch is notarised at (specs/notary.md
//! §Notarised time).
//!
//! Entries never go back in time, so a wall clock that jumps forward (a bad
//! NTP server, an operator's typo, a VM restored with a wrong clock) would,
//! if followed, pin every later entry at the jumped time, and every key with
//! a `valid_until` before it would expire at once. The notary therefore does
//! not follow a forward jump at once: its clock advances at most twice as
//! fast as real time (the monotonic clock) until it meets the wall clock
//! again. A jump of a few seconds is caught up in as many seconds; a jump of
//! years would take years, so the wall clock is corrected long before it
//! matters. Backward jumps are followed (the log keeps times from
//! decreasing). Every jump is logged and counted ([`Clock::lag_ms`]).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A lag behind the wall clock larger than this is reported as a jump.
pub const REPORTED_LAG_MS: u64 = 1_000;

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
    /// The last reading: notarised time and monotonic time, both in ms.
    last: Option<(u64, u64)>,
    /// How far the last reading was behind the wall clock.
    lag_ms: u64,
    /// Forward jumps seen so far.
    jumps: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            started: Instant::now(),
            last: None,
            lag_ms: 0,
            jumps: 0,
        }
    }
}

/// What one reading found, for the logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The clock agrees with the wall clock, or is catching up as before.
    Steady,
    /// The wall clock jumped ahead by this many ms; the notary's clock is
    /// catching up at most at twice real time.
    JumpedAhead(u64),
    /// The notary's clock has caught up with the wall clock again.
    CaughtUp,
}

impl Clock {
    /// The time to notarise at now.
    pub fn now(&mut self) -> (u64, Event) {
        let monotonic = Duration::as_millis(&self.started.elapsed()) as u64;
        self.read(wall_ms(), monotonic)
    }

    /// How far behind the wall clock the last reading was (0 when they agree).
    pub fn lag_ms(&self) -> u64 {
        self.lag_ms
    }

    /// Forward jumps of the wall clock seen since start.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }

    /// One reading, given the wall clock and a monotonic clock (both ms).
    pub fn read(&mut self, wall: u64, monotonic: u64) -> (u64, Event) {
        let time = match self.last {
            None => wall,
            Some((time, at)) => {
                let elapsed = monotonic.saturating_sub(at);
                wall.min(time.saturating_add(elapsed.saturating_mul(2)))
            }
        };
        self.last = Some((time, monotonic));
        let lag = wall - time;
        let event = if lag > REPORTED_LAG_MS && self.lag_ms <= REPORTED_LAG_MS {
            self.jumps += 1;
            Event::JumpedAhead(lag)
        } else if lag <= REPORTED_LAG_MS && self.lag_ms > REPORTED_LAG_MS {
            Event::CaughtUp
        } else {
            Event::Steady
        };
        self.lag_ms = lag;
        (time, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_764_201_600_000;
    const YEAR: u64 = 365 * 24 * 3600 * 1000;

    #[test]
    fn follows_a_steady_wall_clock() {
        let mut c = Clock::default();
        assert_eq!(c.read(T, 0), (T, Event::Steady));
        assert_eq!(c.read(T + 5, 5), (T + 5, Event::Steady));
        // Slewing by NTP (a little faster than real time) is followed.
        assert_eq!(c.read(T + 1006, 1005), (T + 1006, Event::Steady));
        assert_eq!(c.lag_ms(), 0);
    }

    #[test]
    fn a_jump_of_years_is_caught_up_at_twice_real_time() {
        let mut c = Clock::default();
        c.read(T, 0);
        // The wall clock jumps five years ahead, 1 s later.
        let (t, e) = c.read(T + 1000 + 5 * YEAR, 1000);
        assert_eq!(t, T + 2000);
        assert_eq!(e, Event::JumpedAhead(5 * YEAR - 1000));
        assert_eq!(c.jumps(), 1);
        // An hour on, the notary is two hours on, not five years.
        let (t, e) = c.read(T + 3_601_000 + 5 * YEAR, 3_601_000);
        assert_eq!((t, e), (T + 7_202_000, Event::Steady));
        // The operator sets the wall clock right: it is followed again.
        let (t, e) = c.read(T + 3_602_000, 3_602_000);
        assert_eq!((t, e), (T + 3_602_000, Event::CaughtUp));
        assert_eq!(c.lag_ms(), 0);
    }

    #[test]
    fn a_small_jump_is_caught_up_in_as_long() {
        let mut c = Clock::default();
        c.read(T, 0);
        let (t, e) = c.read(T + 10_000, 0);
        assert_eq!((t, e), (T, Event::JumpedAhead(10_000)));
        let (t, _) = c.read(T + 15_000, 5_000);
        assert_eq!(t, T + 10_000);
        let (t, e) = c.read(T + 20_000, 10_000);
        assert_eq!((t, e), (T + 20_000, Event::CaughtUp));
    }

    #[test]
    fn a_backward_jump_is_followed() {
        let mut c = Clock::default();
        c.read(T, 0);
        assert_eq!(c.read(T - 60_000, 10), (T - 60_000, Event::Steady));
    }
}
