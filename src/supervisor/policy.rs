//! The supervisor's decisions that need no process: how long to wait before restarting a
//! worker that keeps dying, and where in its life a worker is replaced for `max_requests`.

use std::time::Duration;

/// A worker that lived at least this long is taken to have started well: it is restarted at
/// once and its slot's failure count starts again.
pub const HEALTHY_LIFE: Duration = Duration::from_secs(5);

/// The first pause after a worker that died young; it doubles with each further one.
pub const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between two attempts: a worker that cannot start (an application that
/// fails to import) is tried again every 10 s, logged each time, while the others serve.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// After a worker of a slot exits having lived `lived`, with `failures` young deaths before
/// it: the new failure count and the pause before the next start.
///
/// ```
/// use std::time::Duration;
/// use basehttp::supervisor::policy::after_exit;
/// assert_eq!(after_exit(Duration::from_secs(60), 3), (0, Duration::ZERO));
/// assert_eq!(after_exit(Duration::from_millis(20), 0), (1, Duration::from_millis(100)));
/// assert_eq!(after_exit(Duration::from_millis(20), 1), (2, Duration::from_millis(200)));
/// ```
pub fn after_exit(lived: Duration, failures: u32) -> (u32, Duration) {
    if lived >= HEALTHY_LIFE {
        return (0, Duration::ZERO);
    }
    let failures = failures.saturating_add(1);
    let doubled = FIRST_PAUSE.saturating_mul(1u32 << (failures - 1).min(16));
    (failures, doubled.min(LONGEST_PAUSE))
}

/// The request count after which one worker is replaced, for `max_requests`: `max` plus up to
/// a tenth of it more, spread by `seed` (each worker's own), so workers started together are
/// not all replaced at once (gunicorn's `--max-requests-jitter`, chosen here).
///
/// ```
/// use basehttp::supervisor::policy::jittered;
/// assert_eq!(jittered(1000, 0), 1000);
/// assert!((1000..=1100).contains(&jittered(1000, 12345)));
/// ```
pub fn jittered(max: u64, seed: u64) -> u64 {
    let spread = max / 10;
    if spread == 0 {
        return max;
    }
    // A multiplicative hash, so that neighbouring seeds (pids) land far apart.
    let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17;
    max.saturating_add(mixed % (spread + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn young_deaths_back_off_to_a_ceiling_and_a_healthy_life_resets() {
        let young = Duration::from_millis(50);
        let mut failures = 0;
        let mut pauses = Vec::new();
        for _ in 0..10 {
            let (f, pause) = after_exit(young, failures);
            failures = f;
            pauses.push(pause.as_millis());
        }
        assert_eq!(
            pauses,
            [100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000]
        );
        assert_eq!(after_exit(HEALTHY_LIFE, failures), (0, Duration::ZERO));
        // No overflow however long it fails.
        assert_eq!(after_exit(young, u32::MAX).1, LONGEST_PAUSE);
    }

    #[test]
    fn jitter_stays_within_a_tenth_and_spreads() {
        let limits: Vec<u64> = (1000..1064).map(|pid| jittered(500, pid)).collect();
        assert!(limits.iter().all(|l| (500..=550).contains(l)), "{limits:?}");
        let mut distinct = limits.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 20, "{distinct:?}");
        assert_eq!(jittered(5, 77), 5);
        assert_eq!(jittered(u64::MAX, 3), u64::MAX);
    }
}
