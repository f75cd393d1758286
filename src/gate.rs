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
//! A freed place goes to the worker parked last, so the few that run stay warm. The hot path
//! costs one atomic load per turn; the mutex and the condition variables are touched only
//! when a place is lent or taken back. This module decides who runs; it does no I/O.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::stats::{WorkerSlot, WorkerState};

/// A worker's standing at the gate.
const OUTSIDE: u8 = 0;
const HOLDING: u8 = 1;
/// The monitor gave this worker's place away; it parks at the end of its turn.
const LENT: u8 = 2;

/// How often the monitor looks when no worker is busy in a handler.
const IDLE_TICK: Duration = Duration::from_millis(5);

/// The places to run, and the workers waiting for one.
pub(crate) struct Gate {
    state: Mutex<Places>,
    /// One wake-up per worker: a freed place is handed to one chosen worker, not raced for.
    signals: Box<[Signal]>,
    enabled: bool,
    /// Each worker's standing (`OUTSIDE`, `HOLDING`, `LENT`), by worker number.
    places: Box<[AtomicU8]>,
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
            }),
            signals: (0..workers).map(|_| Signal::default()).collect(),
            enabled: active < workers,
            places: (0..workers).map(|_| AtomicU8::new(OUTSIDE)).collect(),
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

    /// Gives a place to the most recently parked worker, or back to the pool if none waits.
    fn free_place(&self) {
        let next = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
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
    pub(crate) fn lost_place(&self, worker: usize) -> bool {
        if self.enabled && self.places[worker].load(Ordering::Relaxed) == LENT {
            self.places[worker].store(OUTSIDE, Ordering::Relaxed);
            return true;
        }
        false
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
    /// longer than `lend_after`, until `stop` says to end.
    pub(crate) fn monitor(
        &self,
        workers: &[WorkerSlot],
        epoch: Instant,
        lend_after: Duration,
        stop: impl Fn() -> bool,
    ) {
        let lend_after_us = lend_after.as_micros() as u64;
        let busy_tick = (lend_after / 2).max(Duration::from_micros(50));
        while !stop() {
            let now = epoch.elapsed().as_micros() as u64;
            let mut busy = false;
            for (worker, slot) in workers.iter().enumerate() {
                let running = matches!(slot.state(), WorkerState::Handling | WorkerState::Writing);
                if running && self.places[worker].load(Ordering::Relaxed) == HOLDING {
                    busy = true;
                    if now.saturating_sub(slot.busy_since()) >= lend_after_us {
                        self.lend(worker);
                    }
                }
            }
            std::thread::sleep(if busy { busy_tick } else { IDLE_TICK });
        }
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
    fn a_full_gate_is_a_no_op() {
        let gate = Gate::new(4, 4);
        assert!(!gate.enabled());
        gate.enter(0);
        assert!(!gate.lost_place(0));
    }
}
