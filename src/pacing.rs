//! Pacing: how long a transfer may wait on its client. One rule for request bodies being
//! received, response bodies being sent and the writes a handler makes: a transfer that moves
//! no byte for its timeout is cut, and so is one that, past a grace period of waiting, moves
//! fewer bytes than a minimum rate of the time it has waited (as Kestrel's
//! `MinRequestBodyDataRate` and `MinResponseDataRate`).
//!
//! Only time spent waiting on the client counts: a handler slow to read, or a body slow to be
//! made, is not the client's doing. A wait begins when a read or write would block and ends
//! when bytes move; bytes count against the rate from the first wait on, so a response whose
//! first megabytes went at once into the socket's buffer earns no credit for them.
//!
//! Plain arithmetic on instants: no clock is read here and no socket is touched.

use std::io;
use std::time::{Duration, Instant};

/// Why a transfer must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    /// No byte moved for the whole timeout.
    TimedOut,
    /// Past the grace, slower than the minimum rate.
    TooSlow,
}

impl Stall {
    /// The error a transfer stopped this way ends with.
    pub(crate) fn to_io(self) -> io::Error {
        match self {
            Stall::TimedOut => io::ErrorKind::TimedOut.into(),
            Stall::TooSlow => io::Error::new(io::ErrorKind::TimedOut, "the client is too slow"),
        }
    }
}

/// A transfer's waits on its client, and the limits on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pacing {
    /// The longest wait without progress.
    timeout: Duration,
    /// Bytes a second the transfer must keep up past the grace (0: no minimum).
    min_rate: u64,
    grace: Duration,
    /// Time waited in waits that have ended.
    waited: Duration,
    /// Bytes moved since the first wait began.
    moved: u64,
    /// When the current wait began, if the transfer is waiting.
    since: Option<Instant>,
    /// True once a wait has begun: bytes count against the rate from then on.
    started: bool,
}

impl Pacing {
    pub(crate) fn new(timeout: Duration, min_rate: u64, grace: Duration) -> Pacing {
        Pacing {
            timeout,
            min_rate,
            grace,
            waited: Duration::ZERO,
            moved: 0,
            since: None,
            started: false,
        }
    }

    /// The pacing of a request body: `body_timeout`, `min_body_rate`.
    pub(crate) fn request_body(config: &crate::config::Config) -> Pacing {
        Pacing::new(
            config.body_timeout,
            config.min_body_rate,
            config.min_rate_grace,
        )
    }

    /// The pacing of a response: `write_timeout`, `min_response_rate`.
    pub(crate) fn response(config: &crate::config::Config) -> Pacing {
        Pacing::new(
            config.write_timeout,
            config.min_response_rate,
            config.min_rate_grace,
        )
    }

    /// `n` bytes moved at `now`: the current wait, if any, ends.
    pub(crate) fn moved(&mut self, n: u64, now: Instant) {
        if n == 0 {
            return;
        }
        if self.started {
            self.moved += n;
        }
        if let Some(since) = self.since.take() {
            self.waited += now.saturating_duration_since(since);
        }
    }

    /// A read or write would block at `now`: a wait begins, unless one is already going on.
    pub(crate) fn blocked(&mut self, now: Instant) {
        self.started = true;
        self.since.get_or_insert(now);
    }

    /// Time waited so far, the current wait included.
    pub(crate) fn waited(&self, now: Instant) -> Duration {
        self.waited
            + self
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }

    /// When the current wait must end if no byte moves meanwhile (`None` when not waiting:
    /// nothing is due).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let since = self.since?;
        let timeout = since + self.timeout;
        if self.min_rate == 0 {
            return Some(timeout);
        }
        // The rate fails once waited > max(grace, moved / rate).
        let allowed = self.grace.max(Duration::from_secs_f64(
            self.moved as f64 / self.min_rate as f64,
        ));
        let rate = since + allowed.saturating_sub(self.waited);
        Some(timeout.min(rate))
    }

    /// Why the transfer must stop at `now`, if it must.
    pub(crate) fn stalled(&self, now: Instant) -> Option<Stall> {
        let since = self.since?;
        if now.saturating_duration_since(since) >= self.timeout {
            return Some(Stall::TimedOut);
        }
        let waited = self.waited(now);
        let too_slow = self.min_rate > 0
            && waited > self.grace
            && (self.moved as f64) < self.min_rate as f64 * waited.as_secs_f64();
        too_slow.then_some(Stall::TooSlow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_wait_without_progress_ends_at_the_timeout() {
        let t0 = Instant::now();
        let mut p = Pacing::new(100 * MS, 0, Duration::ZERO);
        assert_eq!(p.deadline(), None, "not waiting: nothing is due");
        assert_eq!(p.stalled(t0 + 1000 * MS), None);
        p.blocked(t0);
        p.blocked(t0 + 50 * MS); // a second block does not restart the wait
        assert_eq!(p.deadline(), Some(t0 + 100 * MS));
        assert_eq!(p.stalled(t0 + 99 * MS), None);
        assert_eq!(p.stalled(t0 + 100 * MS), Some(Stall::TimedOut));
        // Progress ends the wait; the next one has its own timeout.
        p.moved(10, t0 + 90 * MS);
        assert_eq!(p.deadline(), None, "the wait ended");
        p.blocked(t0 + 95 * MS);
        assert_eq!(p.deadline(), Some(t0 + 195 * MS));
    }

    #[test]
    fn the_rate_counts_time_waited_and_bytes_since_the_first_wait() {
        let t0 = Instant::now();
        // 100 bytes a second after a 1 s grace, a long timeout.
        let mut p = Pacing::new(Duration::from_secs(60), 100, Duration::from_secs(1));
        p.moved(1_000_000, t0); // before any wait: earns no credit
        p.blocked(t0);
        assert_eq!(p.deadline(), Some(t0 + Duration::from_secs(1)), "the grace");
        assert_eq!(p.stalled(t0 + 1500 * MS), Some(Stall::TooSlow));
        p.moved(150, t0 + 500 * MS); // 150 bytes in 0.5 s waited: 1.5 s allowed
        // Time between waits (a handler busy) does not count.
        p.blocked(t0 + 10_000 * MS);
        assert_eq!(p.waited(t0 + 10_000 * MS), 500 * MS);
        assert_eq!(p.deadline(), Some(t0 + 11_000 * MS));
        assert_eq!(p.stalled(t0 + 10_999 * MS), None);
        assert_eq!(p.stalled(t0 + 11_001 * MS), Some(Stall::TooSlow));
    }

    #[test]
    fn no_minimum_rate_leaves_only_the_timeout() {
        let t0 = Instant::now();
        let mut p = Pacing::new(Duration::from_secs(2), 0, Duration::ZERO);
        p.blocked(t0);
        assert_eq!(p.deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(p.stalled(t0 + Duration::from_secs(1)), None);
    }
}
