//! The listener thread, the worker pool and the poller thread, joined by one channel: the
//! run queue.
//!
//! The listener accepts connections and pushes them on the run queue, applying the
//! full-queue policy (to new connections waiting for their first turn) and the connection
//! limit. Workers pop connections and serve them; a connection that would wait on its client
//! is parked in the poller, which pushes it back on the run queue when it is ready. The
//! channel is unbounded: the listener keeps new connections within `queue` (past it they wait
//! in the kernel's backlog or are refused), the poller never blocks on it, and every
//! connection on it is counted in `max_connections`.
//!
//! This module owns threads and the channel; it knows nothing of HTTP beyond the canned
//! `503`s.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::close_reason::CloseReason;
use crate::config::{Config, WhenFull};
use crate::connection::{Connection, Job};
use crate::handler::Handler;
use crate::poller::{self, Park, Poller, Waited};
use crate::shared::Shared;
use crate::stats::WorkerState;
use crate::worker::{Outcome, Worker};

/// A wrapper around each worker thread's loop, set with `Server::wrap_worker`.
pub(crate) type WorkerWrap = dyn Fn(&mut (dyn FnMut() + Send)) + Send + Sync;

/// How long the listener pauses while the queue is full under [`WhenFull::Block`].
const FULL_QUEUE_PAUSE: Duration = Duration::from_millis(1);
/// The first pause after a failed `accept` (out of descriptors, say); it doubles up to
/// [`ACCEPT_BACKOFF_MAX`] while failures continue, so the listener never spins.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);
/// How often a shutdown looks whether every connection has closed.
const SHUTDOWN_POLL: Duration = Duration::from_millis(5);
/// Descriptors kept back from `max_connections` for everything else: each worker's splice
/// pipe (two) and the files it serves, the poller, the log.
const RESERVED_FDS: usize = 64;

/// The canned answer to a connection refused because the queue is full.
const QUEUE_FULL_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nServer: basehttp\r\n\
Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 44\r\n\
Connection: close\r\n\r\n503 Service Unavailable: the queue is full.\n";

/// The canned answer to a connection past `max_connections`.
const TOO_MANY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nServer: basehttp\r\n\
Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 52\r\n\
Connection: close\r\n\r\n503 Service Unavailable: too many open connections.\n";

/// The running threads and the channel's ends.
pub(crate) struct Pool {
    pub(crate) shared: Arc<Shared>,
    tx: Sender<Job>,
    listener: Option<thread::JoinHandle<()>>,
    monitor: Option<thread::JoinHandle<()>>,
    flusher: Option<thread::JoinHandle<()>>,
    /// The poller thread, which hands back the connections still parked when it stops.
    #[allow(clippy::vec_box)]
    poller: Option<thread::JoinHandle<Vec<Box<Connection>>>>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    pub(crate) fn start(
        listener: TcpListener,
        config: Config,
        handler: Box<dyn Handler>,
        wrap: Option<Arc<WorkerWrap>>,
    ) -> io::Result<Pool> {
        check_descriptor_limit(&config);
        let (tx, rx) = crossbeam_channel::unbounded();
        let poller = Poller::new(tx.clone())?;
        let shared = Arc::new(Shared::new(config, handler, rx.clone(), poller));
        let workers = (0..shared.config.workers)
            .map(|id| spawn_worker(id, &shared, &rx, &tx, wrap.clone()))
            .collect::<io::Result<Vec<_>>>()?;
        let poller = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("basehttp-poller".into())
                .spawn(move || poller::run(&shared.poller, &shared.config))?
        };
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
                    .spawn(move || shared.access.run_flusher())?,
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
            poller: Some(poller),
            workers,
        })
    }

    /// Stops accepting; lets requests in flight finish, and answers the next request of a
    /// kept-alive client with `Connection: close` (an idle one is closed after a quiet
    /// moment), within the grace period; then stops the workers and the poller, closes what
    /// is left, and joins every thread. True if all finished in time.
    pub(crate) fn shutdown(&mut self, wake: impl FnOnce()) -> bool {
        let shared = self.shared.clone();
        if shared.shutting_down.swap(true, Relaxed) {
            return true;
        }
        let at = Instant::now();
        let _ = shared.shutdown_at.set(at);
        // The listener is blocked in accept(): one connection wakes it to see the flag.
        wake();
        if let Some(listener) = self.listener.take() {
            let _ = listener.join();
        }
        shared.poller.begin_shutdown(at);
        if let Some(monitor) = self.monitor.take() {
            shared.gate.wake_monitor();
            let _ = monitor.join();
        }
        // Workers parked at the gate must get through to serve what is left and to see their
        // stop message.
        shared.gate.open();
        let deadline = at + shared.config.shutdown_grace;
        while Instant::now() < deadline && shared.open.load(Relaxed) > 0 {
            thread::sleep(SHUTDOWN_POLL);
        }
        shared.stopping.store(true, Relaxed);
        for _ in 0..self.workers.len() {
            let _ = self.tx.send(Job::Stop);
        }
        shared.poller.wake_waiter();
        while Instant::now() < deadline && self.workers.iter().any(|w| !w.is_finished()) {
            thread::sleep(SHUTDOWN_POLL);
        }
        let clean = self.join_workers();
        shared.poller.stop();
        if let Some(poller) = self.poller.take() {
            for conn in poller.join().unwrap_or_default() {
                self.close_left(conn);
            }
        }
        if let Some(flusher) = self.flusher.take() {
            self.shared.access.stop_flusher();
            let _ = flusher.join();
        }
        // No access line is lost on a graceful stop.
        self.shared.access.flush_all();
        // Connections the poller put back after the last worker stopped.
        while let Ok(job) = self.shared.queue.try_recv() {
            if let Job::Conn(conn) = job {
                self.close_left(conn);
            }
        }
        clean
    }

    /// Joins the workers that have stopped: true if all had.
    fn join_workers(&mut self) -> bool {
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
                    self.shared.config.shutdown_grace
                );
            }
        }
        clean
    }

    /// Closes a connection still open when the workers have stopped.
    fn close_left(&self, mut conn: Box<Connection>) {
        self.shared.poller.forget(&mut conn);
        let _ = conn.wire.shutdown(Shutdown::Both);
        let slot = &self.shared.worker_slots[0];
        self.shared.count_close(slot, CloseReason::Shutdown);
    }
}

/// Warns when `max_connections` is more than the process's descriptor limit allows: past the
/// limit `accept` fails (and backs off) before the refusal at `max_connections` can answer.
/// The `basehttp` binary raises its soft limit to the hard limit at start; as nginx does with
/// `worker_connections`, the configuration is left as given.
fn check_descriptor_limit(config: &Config) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let Some(soft) = limit.current else {
        return;
    };
    let reserved = RESERVED_FDS + 2 * config.workers;
    let fits = usize::try_from(soft)
        .unwrap_or(usize::MAX)
        .saturating_sub(reserved);
    if fits < config.max_connections {
        log::warn!(
            "max_connections ({}) is more than the descriptor limit ({soft}) allows, about \
             {fits}: raise it with `ulimit -n`",
            config.max_connections
        );
    }
}

fn spawn_worker(
    id: usize,
    shared: &Arc<Shared>,
    rx: &Receiver<Job>,
    tx: &Sender<Job>,
    wrap: Option<Arc<WorkerWrap>>,
) -> io::Result<thread::JoinHandle<()>> {
    let (shared, rx, tx) = (shared.clone(), rx.clone(), tx.clone());
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
        })
}

fn worker_loop(id: usize, shared: &Shared, rx: &Receiver<Job>, tx: &Sender<Job>) {
    let mut worker = Worker::new(id, shared);
    let slot = &shared.worker_slots[id];
    shared.gate.enter(id);
    while let Some(conn) = next_conn(shared, rx) {
        // Handler panics are caught closer to the handler; this catches the rest (a bug
        // here, a panicking `Drop`), so a panic costs one connection, never a worker.
        let turn = catch_unwind(AssertUnwindSafe(|| worker.serve(conn)));
        match turn {
            Ok(Outcome::Closed) => {}
            Ok(Outcome::Wait(conn, waiting)) => {
                slot.parks.fetch_add(1, Relaxed);
                match shared.poller.park(conn, waiting) {
                    Park::Waiting => {}
                    Park::Ready(mut conn) => {
                        conn.queued_at = Some(Instant::now());
                        let _ = tx.send(Job::Conn(conn));
                        // Another worker may be waiting on the poller, and this one may lose
                        // its place at the gate before it looks at the queue again.
                        shared.poller.wake_waiter();
                    }
                    Park::Failed(mut conn, e) => {
                        log::error!("{}: cannot wait for the client: {e}", conn.peer);
                        shared.poller.forget(&mut conn);
                        drop(conn);
                        shared.count_close(slot, CloseReason::SocketError);
                    }
                }
            }
            Ok(Outcome::Requeue(mut conn)) => {
                conn.queued_at = Some(Instant::now());
                let _ = tx.send(Job::Conn(conn));
                shared.poller.wake_waiter();
            }
            Err(_) => {
                // The connection was dropped (closed) while unwinding; its registration with
                // the poller goes with its descriptor, and a stale event finds its slot
                // empty.
                log::error!("basehttp-worker-{id}: a connection was dropped after a panic");
                worker.recover();
                shared.count_close(slot, CloseReason::Panicked);
            }
        }
        slot.set_state(WorkerState::Idle);
        if shared.gate.lost_place(id) {
            shared.gate.enter(id);
        }
    }
}

/// The next connection for a worker, or `None` when it must exit: on a stop message, or once
/// the workers are told to stop and the run queue is empty. The second rule matters for a
/// worker whose handler outlived the shutdown's grace period: its stop message may have been
/// drained with the queue, and its own `Sender` keeps the channel open, so a blocking `recv`
/// would never return.
fn next_conn(shared: &Shared, rx: &Receiver<Job>) -> Option<Box<Connection>> {
    let poller = &shared.poller;
    // Told to take over the wait on the poller: it goes there before anything else, so the
    // wait is not dropped for a connection on the run queue (a `Queue` then leaves that to
    // the next follower, told in turn).
    let mut to_poller = false;
    loop {
        let mut job = None;
        // (An empty queue is told by one load; a `try_recv` on it costs four times that.)
        if !to_poller && !rx.is_empty() {
            job = rx.try_recv().ok();
        }
        if job.is_none() && shared.stopping.load(Relaxed) {
            return None;
        }
        to_poller = false;
        let job = match job {
            Some(job) => job,
            // Out of work: wait for a ready connection on the poller, unless another idle
            // worker does; then on the run queue.
            None => match poller.wait_for_work(rx) {
                Waited::Conn(conn) => return Some(conn),
                Waited::Queue => continue,
                Waited::Follow if !poller.follow(true) => {
                    let job = rx.recv();
                    poller.follow(false);
                    job.ok()?
                }
                Waited::Follow => continue,
            },
        };
        match job {
            Job::Conn(conn) => return Some(conn),
            Job::Poll => to_poller = true,
            Job::Stop => return None,
        }
    }
}

fn listener_loop(listener: &TcpListener, shared: &Shared, tx: &Sender<Job>) {
    let slot = &shared.listener_slot;
    let config = &shared.config;
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut failing = false;
    loop {
        let accepted = listener.accept();
        let stopping = shared.shutting_down.load(Relaxed);
        let (stream, peer) = match accepted {
            // Our own wake-up connection (or a client's that raced it): an unshared listener
            // is woken by connecting to it.
            Ok(_) if stopping && !is_shared(listener) => return,
            Ok(pair) => pair,
            Err(_) if stopping => return,
            Err(e) => {
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        // A shared listener's SO_RCVTIMEO: a look at the stop flag.
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
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
        if shared.open.load(Relaxed) >= config.max_connections {
            slot.rejected.fetch_add(1, Relaxed);
            reject(stream, TOO_MANY_RESPONSE);
            continue;
        }
        // Only new connections count against the queue: one the poller put back (a kept-alive
        // client's next request) never keeps a newcomer out, who waits behind it for one turn.
        if shared.arrivals.load(Relaxed) >= config.queue {
            match config.when_full {
                WhenFull::Reject => {
                    slot.rejected.fetch_add(1, Relaxed);
                    reject(stream, QUEUE_FULL_RESPONSE);
                    continue;
                }
                WhenFull::Block => {
                    while shared.arrivals.load(Relaxed) >= config.queue {
                        if shared.shutting_down.load(Relaxed) {
                            return;
                        }
                        thread::sleep(FULL_QUEUE_PAUSE);
                    }
                }
            }
        }
        shared.open.fetch_add(1, Relaxed);
        shared.arrivals.fetch_add(1, Relaxed);
        let conn = Box::new(Connection::new(stream, peer, Instant::now()));
        if tx.send(Job::Conn(conn)).is_err() {
            return;
        }
        shared.poller.wake_waiter();
        // A shared listener's connection accepted after the stop began: served, and then no
        // more (the kernel keeps the rest for the siblings).
        if stopping {
            return;
        }
    }
}

/// Whether `listener` waits in `accept` with a timeout (a [`shared_listener`]), which is how
/// it is told apart: the flag lives on the socket.
///
/// [`shared_listener`]: crate::Server::shared_listener
fn is_shared(listener: &TcpListener) -> bool {
    rustix::net::sockopt::socket_timeout(listener, rustix::net::sockopt::Timeout::Recv)
        .is_ok_and(|t| t.is_some())
}

/// Answers `503` without ever blocking the listener: one non-blocking write, a non-blocking
/// read of whatever request already arrived (so the close is not a reset), then close.
fn reject(stream: TcpStream, response: &[u8]) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let _ = (&stream).write(response);
    let _ = stream.shutdown(Shutdown::Write);
    let mut scratch = [0u8; 4096];
    let _ = (&stream).read(&mut scratch);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_responses_have_the_right_length() {
        for response in [QUEUE_FULL_RESPONSE, TOO_MANY_RESPONSE] {
            let text = std::str::from_utf8(response).unwrap();
            let (_, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        }
    }
}
