//! Counters: what the listener and each worker have done, and a snapshot of them.
//!
//! Each worker writes only its own cache-line-aligned slot, so counting costs no contention
//! on the hot path; a snapshot sums the slots with relaxed loads (the figures are a
//! consistent-enough picture for monitoring, not a transaction).
//!
//! Response times go into a fixed-size log-scale histogram per worker, kept for two rotating
//! windows of [`LATENCY_WINDOW`], so percentiles describe the last few seconds in constant
//! memory and recording one costs a few loads and stores, never an allocation.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::close_reason::CloseReason;
use crate::connection::Parked;

/// What a worker is doing right now, as seen in [`Stats::worker_states`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Waiting for work: on the run queue, or on the poller for a ready connection.
    Idle,
    /// Holding a connection: reading a request head or body, or a slow client's turn.
    Reading,
    /// Running the handler.
    Handling,
    /// Writing a response.
    Writing,
}

impl WorkerState {
    fn from_u8(v: u8) -> WorkerState {
        match v {
            1 => WorkerState::Reading,
            2 => WorkerState::Handling,
            3 => WorkerState::Writing,
            _ => WorkerState::Idle,
        }
    }

    /// The state's name in lower case, as `/stats` and the Python package's `stats()` show it.
    ///
    /// ```
    /// assert_eq!(basehttp::WorkerState::Handling.name(), "handling");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            WorkerState::Idle => "idle",
            WorkerState::Reading => "reading",
            WorkerState::Handling => "handling",
            WorkerState::Writing => "writing",
        }
    }
}

/// One worker's counters, aligned so two workers never share a cache line.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct WorkerSlot {
    pub(crate) state: AtomicU8,
    pub(crate) served: AtomicU64,
    /// Connections closed, per [`CloseReason`].
    closes: [AtomicU64; CloseReason::COUNT],
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) writes: AtomicU64,
    /// Connections this worker parked in the poller.
    pub(crate) parks: AtomicU64,
    /// When the worker entered its current Handling or Writing state, in microseconds since
    /// the pool started (for the gate's monitor).
    busy_since: AtomicU64,
    /// Response times of the requests this worker answered recently.
    pub(crate) latency: LatencyWindows,
}

impl WorkerSlot {
    pub(crate) fn set_state(&self, s: WorkerState) {
        self.state.store(s as u8, Relaxed);
    }

    /// Sets the state and notes when it began (`since`: microseconds since the pool started).
    pub(crate) fn set_busy(&self, s: WorkerState, since: u64) {
        self.busy_since.store(since, Relaxed);
        self.state.store(s as u8, Relaxed);
    }

    pub(crate) fn state(&self) -> WorkerState {
        WorkerState::from_u8(self.state.load(Relaxed))
    }

    /// Requests this worker has answered.
    pub(crate) fn served(&self) -> u64 {
        self.served.load(Relaxed)
    }

    /// True while the worker holds a connection (reading, handling or writing).
    pub(crate) fn holds_connection(&self) -> bool {
        self.state() != WorkerState::Idle
    }

    pub(crate) fn busy_since(&self) -> u64 {
        self.busy_since.load(Relaxed)
    }

    /// Counts a connection closed for `reason`.
    pub(crate) fn count_close(&self, reason: CloseReason) {
        self.closes[reason.index()].fetch_add(1, Relaxed);
    }

    /// Connections closed for `reason`.
    #[cfg(test)]
    pub(crate) fn closed_for(&self, reason: CloseReason) -> u64 {
        self.closes[reason.index()].load(Relaxed)
    }

    fn closed(&self) -> u64 {
        self.closes.iter().map(|c| c.load(Relaxed)).sum()
    }
}

/// How long one latency window lasts. Two rotate, so a snapshot covers between one and two of
/// them: the percentiles follow a change in load within seconds, yet rest on enough samples.
pub const LATENCY_WINDOW: Duration = Duration::from_secs(2);
const WINDOW_MICROS: u64 = LATENCY_WINDOW.as_micros() as u64;

/// Sub-buckets per power of two: 8 keeps the error of a reported percentile under 1/16 (the
/// bucket midpoint is reported), as HdrHistogram does with 3 significant bits.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// The largest power of two tracked, in microseconds: 2^25 µs is about 34 s; anything longer
/// lands in the last bucket.
const MAX_EXPONENT: u32 = 25;
/// Buckets per window: values below `SUB` µs exactly, then `SUB` per power of two.
const BUCKETS: usize = ((MAX_EXPONENT - SUB_BITS + 2) as u64 * SUB) as usize;

/// The bucket of a response time in microseconds.
fn bucket(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let exponent = (63 - micros.leading_zeros()).min(MAX_EXPONENT);
    if exponent == MAX_EXPONENT && micros >> MAX_EXPONENT > 1 {
        return BUCKETS - 1;
    }
    let sub = (micros >> (exponent - SUB_BITS)) & (SUB - 1);
    ((exponent - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

/// The value a bucket stands for: its midpoint, in microseconds.
fn bucket_value(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let exponent = (index / SUB) as u32 + SUB_BITS - 1;
    let width = 1u64 << (exponent - SUB_BITS);
    (1u64 << exponent) + (index % SUB) * width + width / 2
}

/// One window's histogram, tagged with the window's number (plus one: 0 means unused).
struct Window {
    number: AtomicU64,
    counts: [AtomicU32; BUCKETS],
}

/// A worker's two rotating latency windows. Only the owning worker writes them.
pub(crate) struct LatencyWindows {
    windows: [Window; 2],
}

impl Default for LatencyWindows {
    fn default() -> Self {
        let window = || Window {
            number: AtomicU64::new(0),
            counts: std::array::from_fn(|_| AtomicU32::new(0)),
        };
        LatencyWindows {
            windows: [window(), window()],
        }
    }
}

impl LatencyWindows {
    /// Records a response time of `micros`, at `now` (microseconds since the pool started).
    pub(crate) fn record(&self, now: u64, micros: u64) {
        let number = now / WINDOW_MICROS + 1;
        let window = &self.windows[(number % 2) as usize];
        if window.number.load(Relaxed) != number {
            // A new window reuses the one before last. Readers skip it while its number is
            // stale, so they never mix it into the current figures.
            for count in &window.counts {
                count.store(0, Relaxed);
            }
            window.number.store(number, Ordering::Release);
        }
        // A single writer: a plain load and store, not a locked read-modify-write.
        let count = &window.counts[bucket(micros)];
        count.store(count.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Adds the counts of the current and the previous window to `into`.
    fn add_recent(&self, now: u64, into: &mut [u64; BUCKETS]) {
        let current = now / WINDOW_MICROS + 1;
        for window in &self.windows {
            let number = window.number.load(Ordering::Acquire);
            if number == current || number + 1 == current {
                for (sum, count) in into.iter_mut().zip(&window.counts) {
                    *sum += u64::from(count.load(Relaxed));
                }
            }
        }
    }
}

/// Response-time percentiles over the last few seconds, in [`Stats::latency`].
///
/// A response time runs from the moment the request's connection was taken from the run queue
/// (minus the time it had waited there) to the moment its response was written: queueing,
/// handler and write, but not the time a client took to send its request. Percentiles come
/// from a log-scale histogram (within 1/16 of the true value); `window` is the span covered,
/// between one and two [`LATENCY_WINDOW`]s.
///
/// ```
/// let server = basehttp::Server::bind("127.0.0.1:0")?
///     .spawn(|_req: &mut basehttp::Request| basehttp::Response::text("ok"))?;
/// let latency = server.stats().latency;
/// assert_eq!(latency.samples, 0);
/// assert!(latency.p50 <= latency.p99);
/// server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latency {
    /// Responses the percentiles are computed from.
    pub samples: u64,
    /// The median response time.
    pub p50: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The span of time the samples come from.
    pub window: Duration,
}

fn latency(workers: &[WorkerSlot], now: u64) -> Latency {
    let mut counts = [0u64; BUCKETS];
    for w in workers {
        w.latency.add_recent(now, &mut counts);
    }
    let samples: u64 = counts.iter().sum();
    let percentile = |p: f64| {
        let rank = ((samples as f64 * p).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(bucket_value(index));
            }
        }
        Duration::ZERO
    };
    if samples == 0 {
        return Latency::default();
    }
    Latency {
        samples,
        p50: percentile(0.50),
        p90: percentile(0.90),
        p99: percentile(0.99),
        window: Duration::from_micros(now % WINDOW_MICROS + WINDOW_MICROS),
    }
}

/// The listener's counters (only the listener thread writes them).
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct ListenerSlot {
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
}

/// A snapshot of a running server's counters, from [`ServerHandle::stats`](crate::ServerHandle::stats).
///
/// ```
/// let server = basehttp::Server::bind("127.0.0.1:0")?
///     .spawn(|_req: &mut basehttp::Request| basehttp::Response::text("ok"))?;
/// let stats = server.stats();
/// assert_eq!(stats.served, 0);
/// assert_eq!(stats.workers, basehttp::Config::default().workers);
/// server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Worker threads in the pool.
    pub workers: usize,
    /// Workers holding a connection (reading, handling or writing) right now.
    pub busy_workers: usize,
    /// Connections waiting for a worker in the run queue right now: new ones, and ones the
    /// poller found ready.
    pub queue_depth: usize,
    /// The queue's capacity for new connections ([`Config::queue`](crate::Config::queue)).
    pub queue_capacity: usize,
    /// Connections accepted since start (including rejected ones).
    pub accepted: u64,
    /// Connections answered `503` because the queue was full.
    pub rejected: u64,
    /// Failed `accept` calls (e.g. out of file descriptors).
    pub accept_errors: u64,
    /// Responses sent, error responses included.
    pub served: u64,
    /// Connections open right now: accepted, not rejected, not yet closed.
    pub active_connections: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// `write` system calls made for responses; pipelined responses share writes.
    pub writes: u64,
    /// Connections waiting on their clients in the poller right now, by what they wait for.
    pub parked: ParkedConnections,
    /// Times a worker parked a connection in the poller to wait on its client (once per
    /// request on a kept-alive connection, more for slow clients).
    pub parks: u64,
    /// Responses sent by each worker, indexed by worker number.
    pub served_per_worker: Vec<u64>,
    /// What each worker is doing, indexed by worker number.
    pub worker_states: Vec<WorkerState>,
    /// Response-time percentiles over the last few seconds.
    pub latency: Latency,
    /// Connections closed since start, for each [`CloseReason`] in the order of
    /// [`CloseReason::ALL`] (zero counts included).
    pub closes: Vec<(CloseReason, u64)>,
    /// Bytes of request bodies received ahead of their handlers and held in memory right
    /// now (within [`Config::max_buffered_memory`](crate::Config::max_buffered_memory)).
    pub body_memory: u64,
    /// Bytes of request bodies spilled to disk right now (within
    /// [`Config::max_spill`](crate::Config::max_spill)).
    pub body_disk: u64,
}

/// Connections waiting on their clients in the poller, by what they wait for, in
/// [`Stats::parked`]. None of them holds a worker.
///
/// ```
/// let parked = basehttp::ParkedConnections::default();
/// assert_eq!(parked.total(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkedConnections {
    /// Kept alive between requests, or new and not yet sending.
    pub idle: usize,
    /// Part of a request head has arrived; the rest has not.
    pub head: usize,
    /// A request body is being received before its handler runs.
    pub body: usize,
    /// A response the client is slow to take.
    pub write: usize,
    /// A request body the handler left unread, being read and discarded.
    pub drain: usize,
    /// A lingering close: the response is sent, the client has not closed yet.
    pub linger: usize,
    /// A server-sent event stream waiting for its next message
    /// ([`EventStreams`](crate::EventStreams)).
    pub stream: usize,
}

impl ParkedConnections {
    /// Every parked connection.
    pub fn total(&self) -> usize {
        self.idle + self.head + self.body + self.write + self.drain + self.linger + self.stream
    }

    fn from_counts(counts: [usize; Parked::COUNT]) -> ParkedConnections {
        ParkedConnections {
            idle: counts[Parked::Idle.index()],
            head: counts[Parked::Head.index()],
            body: counts[Parked::Body.index()],
            write: counts[Parked::Write.index()],
            drain: counts[Parked::Drain.index()],
            linger: counts[Parked::Linger.index()],
            stream: counts[Parked::Stream.index()],
        }
    }
}

/// What can take a snapshot of a running server's counters (the pool's shared state), for
/// [`Request::server_stats`](crate::Request::server_stats).
pub(crate) trait Snapshot: Sync {
    fn snapshot(&self) -> Stats;
}

/// The figures a snapshot takes from outside the slots: the queue and the body budgets.
pub(crate) struct Gauges {
    pub(crate) queue_depth: usize,
    pub(crate) queue_capacity: usize,
    /// Parked connections by what they wait for.
    pub(crate) parked: [usize; Parked::COUNT],
    /// Bytes of received bodies in memory and on disk.
    pub(crate) bodies: (u64, u64),
    /// Microseconds since the pool started.
    pub(crate) now: u64,
}

pub(crate) fn snapshot(listener: &ListenerSlot, workers: &[WorkerSlot], gauges: Gauges) -> Stats {
    let Gauges {
        queue_depth,
        queue_capacity,
        parked,
        bodies,
        now,
    } = gauges;
    let sum = |f: fn(&WorkerSlot) -> &AtomicU64| workers.iter().map(|w| f(w).load(Relaxed)).sum();
    let accepted = listener.accepted.load(Relaxed);
    let rejected = listener.rejected.load(Relaxed);
    let closed: u64 = workers.iter().map(WorkerSlot::closed).sum();
    let worker_states: Vec<WorkerState> = workers
        .iter()
        .map(|w| WorkerState::from_u8(w.state.load(Relaxed)))
        .collect();
    Stats {
        workers: workers.len(),
        busy_workers: worker_states
            .iter()
            .filter(|s| **s != WorkerState::Idle)
            .count(),
        queue_depth,
        queue_capacity,
        accepted,
        rejected,
        accept_errors: listener.accept_errors.load(Relaxed),
        served: sum(|w| &w.served),
        active_connections: accepted.saturating_sub(rejected).saturating_sub(closed),
        bytes_in: sum(|w| &w.bytes_in),
        bytes_out: sum(|w| &w.bytes_out),
        writes: sum(|w| &w.writes),
        parked: ParkedConnections::from_counts(parked),
        parks: sum(|w| &w.parks),
        served_per_worker: workers.iter().map(|w| w.served.load(Relaxed)).collect(),
        worker_states,
        latency: latency(workers, now),
        closes: CloseReason::ALL
            .iter()
            .map(|&r| {
                let n = workers
                    .iter()
                    .map(|w| w.closes[r.index()].load(Relaxed))
                    .sum();
                (r, n)
            })
            .collect(),
        body_memory: bodies.0,
        body_disk: bodies.1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_close() {
        let mut last = 0;
        for micros in 0..100_000u64 {
            let b = bucket(micros);
            assert!(b == last || b == last + 1, "{micros}: {b} after {last}");
            last = b;
            let shown = bucket_value(b);
            let err = shown.abs_diff(micros) as f64 / micros.max(1) as f64;
            assert!(err <= 1.0 / 16.0 + 1e-9, "{micros} shown as {shown}");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket(1 << 25), BUCKETS - SUB as usize);
        assert!(bucket((1 << 26) - 1) < BUCKETS);
    }

    #[test]
    fn percentiles_over_the_recent_windows() {
        let slots: Vec<WorkerSlot> = (0..2).map(|_| WorkerSlot::default()).collect();
        let now = 10 * WINDOW_MICROS + 5;
        for i in 0..90 {
            slots[i % 2].latency.record(now, 1_000);
        }
        for _ in 0..10 {
            slots[0].latency.record(now, 50_000);
        }
        let l = latency(&slots, now);
        assert_eq!(l.samples, 100);
        assert!(l.p50.as_micros().abs_diff(1_000) < 70, "{l:?}");
        assert!(l.p90.as_micros().abs_diff(1_000) < 70, "{l:?}");
        assert!(l.p99.as_micros().abs_diff(50_000) < 3_200, "{l:?}");
        // One window later the samples are still seen; two later they are gone.
        assert_eq!(latency(&slots, now + WINDOW_MICROS).samples, 100);
        assert_eq!(latency(&slots, now + 2 * WINDOW_MICROS).samples, 0);
        // Recording in a new window reuses the oldest one, starting from zero.
        slots[0].latency.record(now + 2 * WINDOW_MICROS, 7);
        let later = latency(&slots, now + 2 * WINDOW_MICROS);
        assert_eq!((later.samples, later.p99), (1, Duration::from_micros(7)));
    }
}
