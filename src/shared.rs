//! The state the listener, the workers, the poller and the handle share: the configuration,
//! the handler, the counters, the run gate, the poller's table, the shutdown's start, and the
//! run queue's receiving end (read for its length: how many connections wait for a worker).
//!
//! Plain data with a few accessors; the threads that use it live in `pool`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::access_log::Sink;
use crate::close_reason::CloseReason;
use crate::config::Config;
use crate::connection::Job;
use crate::gate::Gate;
use crate::handler::Handler;
use crate::http1::encode::keep_alive_header;
use crate::poller::Poller;
use crate::received::Budgets;
use crate::stats::{self, ListenerSlot, Snapshot, Stats, WorkerSlot};

/// State shared by the listener, the workers and the handle.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) handler: Box<dyn Handler>,
    pub(crate) listener_slot: ListenerSlot,
    pub(crate) worker_slots: Box<[WorkerSlot]>,
    pub(crate) shutting_down: AtomicBool,
    /// When the shutdown began, once it has.
    pub(crate) shutdown_at: OnceLock<Instant>,
    /// The workers are told to stop: one that finds the run queue empty exits.
    pub(crate) stopping: AtomicBool,
    /// Connections open: accepted, not yet closed (the listener refuses past
    /// `max_connections`).
    pub(crate) open: AtomicUsize,
    /// New connections in the run queue that no worker has taken yet (the listener applies
    /// `when_full` past `queue`).
    pub(crate) arrivals: AtomicUsize,
    pub(crate) gate: Gate,
    /// The poller's table: where connections wait on their clients.
    /// (In an `Arc` so that an event stream can reach it later, weakly.)
    pub(crate) poller: Arc<Poller>,
    /// When the pool started: the clock the gate's monitor and the timings read.
    pub(crate) epoch: Instant,
    pub(crate) queue: Receiver<Job>,
    /// What received request bodies may use of memory and disk, and use now.
    pub(crate) budgets: Arc<Budgets>,
    /// `Keep-Alive: timeout=N` for persistent responses (empty when keep-alive is off).
    pub(crate) keep_alive_header: Box<[u8]>,
    /// Where access lines go, with the workers' buffers for the fast writer.
    pub(crate) access: Sink,
}

impl Shared {
    /// The state of a pool about to start: its workers will take connections from `queue`,
    /// and park them in `poller`.
    pub(crate) fn new(
        config: Config,
        handler: Box<dyn Handler>,
        queue: Receiver<Job>,
        poller: Poller,
    ) -> Shared {
        Shared {
            worker_slots: (0..config.workers).map(|_| WorkerSlot::default()).collect(),
            listener_slot: ListenerSlot::default(),
            shutting_down: AtomicBool::new(false),
            shutdown_at: OnceLock::new(),
            stopping: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            arrivals: AtomicUsize::new(0),
            gate: Gate::new(config.active_workers, config.workers),
            poller: Arc::new(poller),
            epoch: Instant::now(),
            queue,
            budgets: Arc::new(Budgets::new(
                config.max_buffered_memory,
                config.max_spill,
                config.spill_dir.clone().unwrap_or_else(std::env::temp_dir),
            )),
            keep_alive_header: if config.keep_alive.is_zero() {
                Box::default()
            } else {
                keep_alive_header(config.keep_alive).into_boxed_slice()
            },
            access: Sink::new(config.access_log, config.workers),
            handler,
            config,
        }
    }

    /// Connections waiting for a worker in the run queue.
    #[inline]
    pub(crate) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// True once shutdown has begun.
    #[inline]
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.load(Relaxed)
    }

    /// When the shutdown began, once it has.
    #[inline]
    pub(crate) fn shutdown_at(&self) -> Option<Instant> {
        self.shutdown_at.get().copied()
    }

    /// The latest a wait a handler chose may end while shutting down: `shutdown_grace` after
    /// the shutdown began.
    pub(crate) fn shutdown_deadline(&self) -> Option<Instant> {
        self.shutdown_at().map(|at| at + self.config.shutdown_grace)
    }

    /// Counts a connection closed for `reason`, in `slot`.
    pub(crate) fn count_close(&self, slot: &WorkerSlot, reason: CloseReason) {
        slot.count_close(reason);
        self.open.fetch_sub(1, Relaxed);
    }

    /// Microseconds since the pool started.
    #[inline]
    pub(crate) fn micros_since_start(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The instant `micros` microseconds after the pool started: a timestamp already taken,
    /// turned back into an `Instant` without reading the clock again.
    #[inline]
    pub(crate) fn instant_at(&self, micros: u64) -> Instant {
        self.epoch + Duration::from_micros(micros)
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> Stats {
        stats::snapshot(
            &self.listener_slot,
            &self.worker_slots,
            stats::Gauges {
                queue_depth: self.queue_len(),
                queue_capacity: self.config.queue,
                parked: self.poller.counts(),
                bodies: self.budgets.in_use(),
                now: self.micros_since_start(),
            },
        )
    }
}

impl Snapshot for Shared {
    fn snapshot(&self) -> Stats {
        self.stats()
    }
}
