//! The listener thread and the worker pool, joined by one bounded channel.
//!
//! The listener accepts connections and pushes them on the channel, applying the full-queue
//! policy. Workers pop connections and serve them; a worker that gives a connection up while
//! others wait pushes it back, so the channel doubles as a run queue. The channel's capacity is
//! `queue + workers`: the listener stops at `queue`, which leaves a slot for every worker's
//! hand-back, and a hand-back that still finds no room keeps its connection instead of blocking.
//!
//! This module owns threads and the channel; it knows nothing of HTTP beyond the canned `503`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::access_log::{FLUSH_EVERY, Sink};
use crate::close_reason::CloseReason;
use crate::config::{Config, WhenFull};
use crate::connection::Connection;
use crate::gate::Gate;
use crate::handler::Handler;
use crate::http1::encode::keep_alive_header;
use crate::received::Budgets;
use crate::server::WorkerWrap;
use crate::shared::{Job, Shared};
use crate::stats::{ListenerSlot, WorkerSlot, WorkerState};
use crate::worker::{Outcome, Worker};

/// How long the listener pauses while the queue is full under [`WhenFull::Block`].
const FULL_QUEUE_PAUSE: Duration = Duration::from_millis(1);
/// The first pause after a failed `accept` (out of descriptors, say); it doubles up to
/// [`ACCEPT_BACKOFF_MAX`] while failures continue, so the listener never spins.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// The canned answer to a connection refused because the queue is full.
const REJECT_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nServer: basehttp\r\n\
Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 44\r\n\
Connection: close\r\n\r\n503 Service Unavailable: the queue is full.\n";

/// The running threads and the channel's ends.
pub(crate) struct Pool {
    pub(crate) shared: Arc<Shared>,
    tx: Sender<Job>,
    listener: Option<thread::JoinHandle<()>>,
    monitor: Option<thread::JoinHandle<()>>,
    flusher: Option<thread::JoinHandle<()>>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    pub(crate) fn start(
        listener: TcpListener,
        config: Config,
        handler: Box<dyn Handler>,
        wrap: Option<Arc<WorkerWrap>>,
    ) -> io::Result<Pool> {
        let (tx, rx) = crossbeam_channel::bounded(config.queue + config.workers);
        let shared = Arc::new(Shared {
            worker_slots: (0..config.workers).map(|_| WorkerSlot::default()).collect(),
            listener_slot: ListenerSlot::default(),
            shutting_down: AtomicBool::new(false),
            queue_full: AtomicBool::new(false),
            finds: AtomicUsize::new(0),
            gate: Gate::new(config.active_workers, config.workers),
            epoch: Instant::now(),
            queue: rx.clone(),
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
        });
        let mut workers = Vec::with_capacity(shared.config.workers);
        for id in 0..shared.config.workers {
            let (shared, rx, tx) = (shared.clone(), rx.clone(), tx.clone());
            let wrap = wrap.clone();
            workers.push(
                thread::Builder::new()
                    .name(format!("basehttp-worker-{id}"))
                    .spawn(move || match wrap {
                        None => worker_loop(id, &shared, &rx, &tx),
                        Some(wrap) => {
                            // The loop runs once, however often the wrapper calls it.
                            let mut ran = false;
                            wrap(&mut || {
                                if !std::mem::replace(&mut ran, true) {
                                    worker_loop(id, &shared, &rx, &tx);
                                }
                            });
                        }
                    })?,
            );
        }
        let monitor = if shared.gate.enabled() {
            let shared = shared.clone();
            Some(
                thread::Builder::new()
                    .name("basehttp-monitor".into())
                    .spawn(move || {
                        shared.gate.monitor(
                            &shared.worker_slots,
                            shared.epoch,
                            shared.config.lend_after,
                            shared.config.spare_places,
                            || shared.shutting_down.load(Relaxed),
                        );
                    })?,
            )
        } else {
            None
        };
        let flusher = if shared.access.buffered() {
            let shared = shared.clone();
            Some(
                thread::Builder::new()
                    .name("basehttp-log".into())
                    .spawn(move || {
                        while !shared.shutting_down() {
                            thread::sleep(FLUSH_EVERY);
                            shared.access.flush_all();
                        }
                    })?,
            )
        } else {
            None
        };
        let listener = {
            let (shared, tx) = (shared.clone(), tx.clone());
            thread::Builder::new()
                .name("basehttp-listener".into())
                .spawn(move || listener_loop(&listener, &shared, &tx))?
        };
        Ok(Pool {
            shared,
            tx,
            listener: Some(listener),
            monitor,
            flusher,
            workers,
        })
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, closes idle
    /// and queued connections, and joins every thread. True if all finished in time.
    pub(crate) fn shutdown(&mut self, wake: impl FnOnce()) -> bool {
        if self.shared.shutting_down.swap(true, Relaxed) {
            return true;
        }
        // The listener is blocked in accept(): one connection wakes it to see the flag.
        wake();
        if let Some(listener) = self.listener.take() {
            let _ = listener.join();
        }
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.join();
        }
        // Workers parked at the gate must get through to see their stop message.
        self.shared.gate.open();
        for _ in 0..self.workers.len() {
            // Workers drain the queue meanwhile (closing what they pop), so this cannot block
            // for long.
            let _ = self.tx.send(Job::Stop);
        }
        let grace = self.shared.config.shutdown_grace;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && self.workers.iter().any(|w| !w.is_finished()) {
            thread::sleep(Duration::from_millis(5));
        }
        let mut clean = true;
        for worker in self.workers.drain(..) {
            if worker.is_finished() {
                let _ = worker.join();
            } else {
                // A handler still running past the grace period cannot be interrupted; its
                // thread is left to finish on its own rather than hang the caller forever.
                clean = false;
                log::warn!(
                    "shutdown: {} still busy after {:?}; not waiting for it",
                    worker.thread().name().unwrap_or("a worker"),
                    grace
                );
            }
        }
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        // No access line is lost on a graceful stop.
        self.shared.access.flush_all();
        // Connections handed back after the last worker stopped.
        while let Ok(job) = self.shared.queue.try_recv() {
            if let Job::Conn(conn) = job {
                let _ = conn.stream.shutdown(Shutdown::Both);
                self.shared.worker_slots[0].count_close(CloseReason::Shutdown);
            }
        }
        clean
    }
}

fn worker_loop(id: usize, shared: &Shared, rx: &Receiver<Job>, tx: &Sender<Job>) {
    let mut worker = Worker::new(id, shared);
    let slot = &shared.worker_slots[id];
    shared.gate.enter(id);
    while let Some(mut conn) = next_conn(shared, rx) {
        loop {
            // Handler panics are caught closer to the handler; this catches the rest (a bug
            // here, a panicking `Drop`), so a panic costs one connection, never a worker.
            let turn = catch_unwind(AssertUnwindSafe(|| worker.serve(conn)));
            match turn {
                Ok(Outcome::Closed) => break,
                Ok(Outcome::Yield(back)) => match tx.try_send(Job::Conn(back)) {
                    Ok(()) => {
                        slot.requeued.fetch_add(1, Relaxed);
                        break;
                    }
                    // No room: keep serving it; it waits in a short slice before asking again.
                    Err(TrySendError::Full(Job::Conn(back))) => conn = back,
                    Err(_) => break,
                },
                Err(_) => {
                    // The connection was dropped (closed) while unwinding.
                    log::error!("basehttp-worker-{id}: a connection was dropped after a panic");
                    worker.recover();
                    slot.count_close(CloseReason::Panicked);
                    break;
                }
            }
        }
        slot.set_state(WorkerState::Idle);
        if shared.gate.lost_place(id) {
            shared.gate.enter(id);
        }
    }
}

/// The next connection for a worker, or `None` when it must exit: on a stop message, or once
/// shutdown has begun and the queue is empty. The second rule matters for a worker whose
/// handler outlived the shutdown's grace period: its stop message may have been drained with
/// the queue, and its own `Sender` keeps the channel open, so a blocking `recv` would never
/// return.
fn next_conn(shared: &Shared, rx: &Receiver<Job>) -> Option<Box<Connection>> {
    let job = if shared.shutting_down.load(Relaxed) {
        rx.try_recv().ok()?
    } else {
        rx.recv().ok()?
    };
    match job {
        Job::Conn(conn) => Some(conn),
        Job::Stop => None,
    }
}

fn listener_loop(listener: &TcpListener, shared: &Shared, tx: &Sender<Job>) {
    let slot = &shared.listener_slot;
    let config = &shared.config;
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut failing = false;
    loop {
        let accepted = listener.accept();
        if shared.shutting_down.load(Relaxed) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                ) {
                    continue;
                }
                slot.accept_errors.fetch_add(1, Relaxed);
                if !failing {
                    log::error!("accept failed: {e}; retrying with backoff");
                    failing = true;
                }
                thread::sleep(backoff);
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        if failing {
            log::info!("accept works again");
            failing = false;
            backoff = ACCEPT_BACKOFF_MIN;
        }
        slot.accepted.fetch_add(1, Relaxed);
        if tx.len() >= config.queue {
            shared.queue_full.store(true, Relaxed);
            match config.when_full {
                WhenFull::Reject => {
                    slot.rejected.fetch_add(1, Relaxed);
                    reject(stream);
                    continue;
                }
                WhenFull::Block => {
                    while tx.len() >= config.queue {
                        if shared.shutting_down.load(Relaxed) {
                            return;
                        }
                        thread::sleep(FULL_QUEUE_PAUSE);
                    }
                }
            }
        }
        if shared.queue_full.load(Relaxed) {
            shared.queue_full.store(false, Relaxed);
        }
        if tx
            .send(Job::Conn(Box::new(Connection::new(
                stream,
                peer,
                Instant::now(),
            ))))
            .is_err()
        {
            return;
        }
    }
}

/// Answers `503` without ever blocking the listener: one non-blocking write, a non-blocking
/// read of whatever request already arrived (so the close is not a reset), then close.
fn reject(stream: TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let _ = (&stream).write(REJECT_RESPONSE);
    let _ = stream.shutdown(Shutdown::Write);
    let mut scratch = [0u8; 4096];
    let _ = (&stream).read(&mut scratch);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_response_length_is_right() {
        let text = std::str::from_utf8(REJECT_RESPONSE).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
    }
}
