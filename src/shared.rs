//! The state the listener, the workers and the handle share: the configuration, the handler,
//! the counters, the run gate, the shutdown and full-queue flags, and the queue's receiving end
//! (read for its length: how many connections wait).
//!
//! Plain data with a few accessors; the threads that use it live in `pool`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::access_log::Sink;
use crate::config::Config;
use crate::connection::Connection;
use crate::gate::Gate;
use crate::handler::Handler;
use crate::received::Budgets;
use crate::stats::{self, ListenerSlot, Snapshot, Stats, WorkerSlot};

/// What travels on the channel.
pub(crate) enum Job {
    Conn(Box<Connection>),
    /// Tells one worker to exit.
    Stop,
}

/// State shared by the listener, the workers and the handle.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) handler: Box<dyn Handler>,
    pub(crate) listener_slot: ListenerSlot,
    pub(crate) worker_slots: Box<[WorkerSlot]>,
    pub(crate) shutting_down: AtomicBool,
    /// The listener found the queue full: new connections wait outside (`Block`) or are
    /// turned away (`Reject`). Until it clears, workers close each connection after its
    /// current response, and idle ones at once, so newcomers get in. Without it, kept-alive
    /// connections handed back to a full queue would keep every newcomer out for as long as
    /// they keep sending.
    pub(crate) queue_full: AtomicBool,
    /// Connections the workers found with bytes after glancing at silent ones: a change
    /// starts every worker's run of glances over (see `worker::wait`).
    pub(crate) finds: AtomicUsize,
    pub(crate) gate: Gate,
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
    /// Connections waiting in the queue.
    #[inline]
    pub(crate) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// True once shutdown has begun.
    #[inline]
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.load(Relaxed)
    }

    /// True while the listener finds the queue full.
    #[inline]
    pub(crate) fn queue_full(&self) -> bool {
        self.queue_full.load(Relaxed)
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
