//! The run gate: at most [`Config::active_workers`](crate::Config::active_workers) workers
//! serve connections at once, and a monitor lends a running worker's place to a parked one when
//! its handler (or its response write) has been busy longer than
//! [`Config::lend_after`](crate::Config::lend_after).
//!
//! Why: fast handlers want as many running threads as cores. More runnable threads than cores
//! only add context switches, and on a shared machine take CPU from everything else (measured:
//! hello at 64 connections, 8 ungated workers served 0.7x of what 2 did). Blocking handlers want
//! many threads (Little's law: throughput = workers / service time). The gate gives both, the
//! way Go's scheduler hands a processor to another thread when one blocks in a system call: a
//! worker keeps its place while it is quick, and loses it, to a parked worker, once it blocks.
//!
//! A worker whose last handler blocked lends its place itself as its next handler starts, so a
//! blocking workload does not wait `lend_after` per request for places.
//!
//! Spare places: by default the gate keeps one core for the clients (a development server
//! shares its machine with the browser or the load generator), and opens the spare places
//! ([`Config::spare_places`](crate::Config::spare_places)) while handlers are long: then the
//! work is the server's own (CPU-bound or blocking handlers) and every core serves. The
//! monitor opens them when it sees a handler busy past `lend_after` and closes them after
//! [`SPARE_LINGER`] without one; a place is closed by taking a free one, or else by the next
//! place given up (a lend, or a running worker at the end of its turn).
//!
//! A freed place goes to the worker parked last, so the few that run stay warm. The hot path
//! costs two atomic loads per turn; the mutex and the condition variables are touched only
//! when a place is lent or taken back. This module decides who runs; it does no I/O.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::stats::{WorkerSlot, WorkerState};

/// A worker's standing at the gate.
const OUTSIDE: u8 = 0;
const HOLDING: u8 = 1;
/// The monitor gave this worker's place away; it parks at the end of its turn.
const LENT: u8 = 2;

/// How often the monitor looks when no worker is busy in a handler.
const IDLE_TICK: Duration = Duration::from_millis(5);
/// Once no request has been served for this long and no worker holds a connection, the
/// monitor sleeps until a handler starts ([`Gate::poke`]), so an idle server is not woken 200
/// times a second; while requests come, however sparse, it ticks, so a handler's start does
/// not have to wake it. Asleep, it still looks every [`ASLEEP_TICK`], which bounds what a
/// wake-up it missed costs.
const QUIET_BEFORE_SLEEP: Duration = Duration::from_secs(1);
const ASLEEP_TICK: Duration = Duration::from_secs(1);
/// The spare places close after this long without a handler busy past `lend_after`.
pub(crate) const SPARE_LINGER: Duration = Duration::from_millis(100);

/// The places to run, and the workers waiting for one.
pub(crate) struct Gate {
    state: Mutex<Places>,
    /// One wake-up per worker: a freed place is handed to one chosen worker, not raced for.
    signals: Box<[Signal]>,
    enabled: bool,
    /// Each worker's standing (`OUTSIDE`, `HOLDING`, `LENT`), by worker number.
    places: Box<[AtomicU8]>,
    /// `Places::owed`, readable without the lock: the hot path checks it once per turn.
    owed: AtomicUsize,
    /// The monitor thread, once it runs, and whether it sleeps until poked.
    monitor: OnceLock<Thread>,
    monitor_asleep: AtomicBool,
}

struct Places {
    free: usize,
    /// Shutdown: the gate lets everybody through.
    open: bool,
    /// Workers waiting for a place, the most recently parked last. A freed place goes to the
    /// last: the workers that run stay few and warm (their stacks and buffers resident, in
    /// cache), where handing places round in turn would touch every worker's memory in time
    /// (measured: with 256 workers under the soak's bad clients the resident size kept
    /// growing, 39 MB at 3 s to 57 MB at 30 s). Nobody starves: a parked worker holds no
    /// connection.
    parked: Vec<usize>,
    /// Places closed while none was free: the next places given up are not handed on.
    owed: usize,
}

#[derive(Default)]
struct Signal {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    /// A gate with `active` places for `workers` workers; with as many places as workers it
    /// does nothing.
    pub(crate) fn new(active: usize, workers: usize) -> Gate {
        Gate {
            state: Mutex::new(Places {
                free: active,
                open: false,
                parked: Vec::with_capacity(workers),
                owed: 0,
            }),
            signals: (0..workers).map(|_| Signal::default()).collect(),
            enabled: active < workers,
            places: (0..workers).map(|_| AtomicU8::new(OUTSIDE)).collect(),
            owed: AtomicUsize::new(0),
            monitor: OnceLock::new(),
            monitor_asleep: AtomicBool::new(false),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Waits for a place to run.
    pub(crate) fn enter(&self, worker: usize) {
        if !self.enabled {
            return;
        }
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.free > 0 || state.open {
                state.free = state.free.saturating_sub(1);
                drop(state);
                self.places[worker].store(HOLDING, Ordering::Relaxed);
                return;
            }
            state.parked.push(worker);
        }
        // Handed a place by `free_place` (or let through by `open`).
        let signal = &self.signals[worker];
        let mut woken = signal.woken.lock().unwrap_or_else(PoisonError::into_inner);
        while !*woken {
            woken = signal
                .cv
                .wait(woken)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *woken = false;
        drop(woken);
        self.places[worker].store(HOLDING, Ordering::Relaxed);
    }

    /// Gives a place to the most recently parked worker, or back to the pool if none waits
    /// (or, while places are owed, closes it).
    fn free_place(&self) {
        let next = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.owed > 0 {
                state.owed -= 1;
                self.owed.store(state.owed, Ordering::Relaxed);
                return;
            }
            let next = state.parked.pop();
            if next.is_none() {
                state.free += 1;
            }
            next
        };
        if let Some(worker) = next {
            self.wake(worker);
        }
    }

    fn wake(&self, worker: usize) {
        let signal = &self.signals[worker];
        *signal.woken.lock().unwrap_or_else(PoisonError::into_inner) = true;
        signal.cv.notify_one();
    }

    /// At the end of a turn: true if the worker's place was lent away, so it must
    /// [`enter`](Self::enter) again before taking another connection.
    /// A running worker also gives its place up here while places are owed.
    pub(crate) fn lost_place(&self, worker: usize) -> bool {
        if !self.enabled {
            return false;
        }
        let standing = self.places[worker].load(Ordering::Relaxed);
        if standing == LENT {
            self.places[worker].store(OUTSIDE, Ordering::Relaxed);
            return true;
        }
        if standing == HOLDING && self.owed.load(Ordering::Relaxed) > 0 {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.owed > 0 {
                state.owed -= 1;
                self.owed.store(state.owed, Ordering::Relaxed);
                drop(state);
                self.places[worker].store(OUTSIDE, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// Opens `n` more places: owed ones are forgiven first, the rest go to parked workers.
    fn add_places(&self, n: usize) {
        let rest = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let forgiven = state.owed.min(n);
            state.owed -= forgiven;
            self.owed.store(state.owed, Ordering::Relaxed);
            n - forgiven
        };
        for _ in 0..rest {
            self.free_place();
        }
    }

    /// Closes `n` places: free ones at once, the rest as they are given up.
    fn remove_places(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = state.free.min(n);
        state.free -= taken;
        state.owed += n - taken;
        self.owed.store(state.owed, Ordering::Relaxed);
    }

    /// Gives a busy worker's place to a parked worker (if it holds one).
    pub(crate) fn lend(&self, worker: usize) {
        if !self.enabled {
            return;
        }
        let lent = self.places[worker]
            .compare_exchange(HOLDING, LENT, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if lent {
            self.free_place();
        }
    }

    /// A handler starts: wakes the monitor if it sleeps (one relaxed load otherwise).
    pub(crate) fn poke(&self) {
        if self.monitor_asleep.load(Ordering::Relaxed)
            && self.monitor_asleep.swap(false, Ordering::Relaxed)
            && let Some(monitor) = self.monitor.get()
        {
            monitor.unpark();
        }
    }

    /// Wakes the monitor wherever it sleeps (to see that it must stop).
    pub(crate) fn wake_monitor(&self) {
        if let Some(monitor) = self.monitor.get() {
            monitor.unpark();
        }
    }

    /// Lets every worker through, for shutdown.
    pub(crate) fn open(&self) {
        let parked = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.open = true;
            std::mem::take(&mut state.parked)
        };
        for worker in parked {
            self.wake(worker);
        }
    }

    /// The monitor: lends the place of every worker that has been handling or writing for
    /// longer than `lend_after`, and opens `spare` more places while such long handlers run
    /// (closing them after [`SPARE_LINGER`] without one), until `stop` says to end.
    pub(crate) fn monitor(
        &self,
        workers: &[WorkerSlot],
        epoch: Instant,
        lend_after: Duration,
        spare: usize,
        stop: impl Fn() -> bool,
    ) {
        let lend_after_us = lend_after.as_micros() as u64;
        let linger_us = SPARE_LINGER.as_micros() as u64;
        let busy_tick = (lend_after / 2).max(Duration::from_micros(50));
        let _ = self.monitor.set(std::thread::current());
        // When a long handler was last seen, while the spare places are open.
        let mut spare_open: Option<u64> = None;
        // Requests served, and when that count last moved.
        let mut served = 0;
        let mut active_at = 0;
        while !stop() {
            let now = epoch.elapsed().as_micros() as u64;
            let (busy, long) = self.scan(workers, now, lend_after_us);
            if spare > 0 {
                spare_open = match spare_open {
                    None if long => {
                        self.add_places(spare);
                        Some(now)
                    }
                    Some(_) if long => Some(now),
                    Some(seen) if now.saturating_sub(seen) >= linger_us => {
                        self.remove_places(spare);
                        None
                    }
                    open => open,
                };
            }
            let total = workers.iter().map(WorkerSlot::served).sum();
            if total != served {
                (served, active_at) = (total, now);
            }
            let quiet = spare_open.is_none()
                && now.saturating_sub(active_at) >= QUIET_BEFORE_SLEEP.as_micros() as u64
                && !workers.iter().any(WorkerSlot::holds_connection);
            if busy {
                std::thread::sleep(busy_tick);
            } else if !quiet {
                std::thread::sleep(IDLE_TICK);
            } else {
                self.monitor_asleep.store(true, Ordering::Relaxed);
                std::thread::park_timeout(ASLEEP_TICK);
                self.monitor_asleep.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Lends the place of every worker holding one that has been busy (in a handler or a
    /// write) for `lend_after_us` at `now`: whether a worker holding a place is busy, and
    /// whether any handler has been running that long.
    fn scan(&self, workers: &[WorkerSlot], now: u64, lend_after_us: u64) -> (bool, bool) {
        let (mut busy, mut long) = (false, false);
        for (worker, slot) in workers.iter().enumerate() {
            let state = slot.state();
            if !matches!(state, WorkerState::Handling | WorkerState::Writing) {
                continue;
            }
            let past = now.saturating_sub(slot.busy_since()) >= lend_after_us;
            // (A worker that lent its place as its handler started counts as long too.)
            long |= past && state == WorkerState::Handling;
            if self.places[worker].load(Ordering::Relaxed) == HOLDING {
                busy = true;
                if past {
                    self.lend(worker);
                }
            }
        }
        (busy, long)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_lent_and_taken_back() {
        let gate = Gate::new(1, 2);
        let (a, b) = (0, 1);
        gate.enter(a);
        assert!(!gate.lost_place(a));
        gate.lend(a);
        gate.lend(a); // lending twice frees one place only
        assert_eq!(gate.state.lock().unwrap().free, 1);
        gate.enter(b);
        assert_eq!(gate.state.lock().unwrap().free, 0);
        assert!(gate.lost_place(a));
        assert!(!gate.lost_place(a));
    }

    #[test]
    fn a_freed_place_goes_to_the_worker_parked_last() {
        let gate = std::sync::Arc::new(Gate::new(1, 4));
        gate.enter(0);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut threads = Vec::new();
        for worker in 1..4 {
            let (shared, tx) = (gate.clone(), tx.clone());
            threads.push(std::thread::spawn(move || {
                shared.enter(worker);
                tx.send(worker).unwrap();
            }));
            while gate.state.lock().unwrap().parked.len() < worker {
                std::thread::yield_now();
            }
        }
        gate.lend(0);
        assert_eq!(rx.recv().unwrap(), 3, "the most recently parked runs first");
        gate.lend(3);
        assert_eq!(rx.recv().unwrap(), 2);
        gate.open();
        assert_eq!(rx.recv().unwrap(), 1, "shutdown lets the rest through");
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn spare_places_open_and_close_without_losing_one() {
        let gate = Gate::new(1, 4);
        let free = |g: &Gate| g.state.lock().unwrap().free;
        gate.enter(0);
        gate.add_places(1);
        assert_eq!(free(&gate), 1, "nobody parked: the spare place is free");
        gate.enter(1);
        assert_eq!(free(&gate), 0);
        // Closed while both run: owed, paid by the first running worker to end its turn.
        gate.remove_places(1);
        assert_eq!(gate.owed.load(Ordering::Relaxed), 1);
        assert!(
            gate.lost_place(1),
            "a running worker gives its place up while one is owed"
        );
        assert!(!gate.lost_place(0), "one owed place is paid once");
        assert_eq!(free(&gate), 0);
        // Closed again while a lend is due: the lent place pays, nobody parked gets it.
        gate.add_places(1);
        assert_eq!(free(&gate), 1);
        gate.remove_places(1);
        assert_eq!((free(&gate), gate.owed.load(Ordering::Relaxed)), (0, 0));
        gate.remove_places(1);
        gate.lend(0);
        assert_eq!((free(&gate), gate.owed.load(Ordering::Relaxed)), (0, 0));
        // Opening forgives what is still owed before it frees anything.
        gate.remove_places(1);
        gate.add_places(1);
        assert_eq!((free(&gate), gate.owed.load(Ordering::Relaxed)), (0, 0));
    }

    #[test]
    fn the_monitor_opens_the_spare_places_while_a_handler_is_long() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let gate = Arc::new(Gate::new(1, 3));
        let slots: Arc<[WorkerSlot]> = (0..3).map(|_| WorkerSlot::default()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        gate.enter(0);
        // Worker 0 lent its place as its handler started (as after a long one) and is still
        // in it: the work is the server's, so the spare place opens.
        gate.lend(0);
        slots[0].set_busy(WorkerState::Handling, 0);
        let monitor = {
            let (gate, slots, stop) = (gate.clone(), slots.clone(), stop.clone());
            std::thread::spawn(move || {
                gate.monitor(&slots, epoch, Duration::from_millis(1), 1, || {
                    stop.load(Ordering::Relaxed)
                })
            })
        };
        let free = || gate.state.lock().unwrap().free;
        let until = |want: usize| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while free() != want {
                assert!(
                    Instant::now() < deadline,
                    "free stayed {}, not {want}",
                    free()
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        until(2);
        // The handler ends: after SPARE_LINGER the spare place closes again.
        slots[0].set_state(WorkerState::Idle);
        let ended = Instant::now();
        until(1);
        assert!(ended.elapsed() >= SPARE_LINGER - Duration::from_millis(10));
        stop.store(true, Ordering::Relaxed);
        monitor.join().unwrap();
    }

    #[test]
    fn a_full_gate_is_a_no_op() {
        let gate = Gate::new(4, 4);
        assert!(!gate.enabled());
        gate.enter(0);
        assert!(!gate.lost_place(0));
    }
}
