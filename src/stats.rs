//! Counters: what the listener and each worker have done, and a snapshot of them.
//!
//! Each worker writes only its own cache-line-aligned slot, so counting costs no contention
//! on the hot path; a snapshot sums the slots with relaxed loads (the figures are a
//! consistent-enough picture for monitoring, not a transaction).

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};

/// What a worker is doing right now, as seen in [`Stats::worker_states`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Waiting on the queue for a connection.
    Idle,
    /// Holding a connection, waiting for (or reading) a request head.
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
}

/// One worker's counters, aligned so two workers never share a cache line.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct WorkerSlot {
    pub(crate) state: AtomicU8,
    pub(crate) served: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) requeued: AtomicU64,
    /// When the worker entered its current Handling or Writing state, in microseconds since
    /// the pool started (for the gate's monitor).
    busy_since: AtomicU64,
    /// The worker's standing at the run gate.
    pub(crate) place: crate::gate::Place,
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

    pub(crate) fn busy_since(&self) -> u64 {
        self.busy_since.load(Relaxed)
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
/// assert_eq!(stats.workers, 8);
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
    /// Connections waiting in the queue right now (new ones and handed-back ones).
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
    /// Times a worker handed a connection back to the queue to let others in.
    pub requeued: u64,
    /// Responses sent by each worker, indexed by worker number.
    pub served_per_worker: Vec<u64>,
    /// What each worker is doing, indexed by worker number.
    pub worker_states: Vec<WorkerState>,
}

pub(crate) fn snapshot(
    listener: &ListenerSlot,
    workers: &[WorkerSlot],
    queue_depth: usize,
    queue_capacity: usize,
) -> Stats {
    let sum = |f: fn(&WorkerSlot) -> &AtomicU64| workers.iter().map(|w| f(w).load(Relaxed)).sum();
    let accepted = listener.accepted.load(Relaxed);
    let rejected = listener.rejected.load(Relaxed);
    let closed: u64 = sum(|w| &w.closed);
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
        requeued: sum(|w| &w.requeued),
        served_per_worker: workers.iter().map(|w| w.served.load(Relaxed)).collect(),
        worker_states,
    }
}
