//! Waiting on a client by the pool's rules: a worker never sleeps on a silent connection
//! while other connections wait for a worker.
//!
//! - a connection handed back after a silent slice (`swept`) is only glanced at while others
//!   wait: one non-blocking read, not a timed one (`SO_RCVTIMEO` is rounded up to the kernel's
//!   tick, 4 ms or more, which would make every visit to an idle connection that long). Once
//!   the running workers together have swept the queue and found nothing (each its share),
//!   the worker waits properly again, so idle connections are never spun through;
//! - otherwise it waits in read-timeout slices that double while nobody else waits, and gives
//!   way after a silent slice when somebody does;
//! - it stops at the phase's deadline or at shutdown.

use std::io::{self, Read};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::{Worker, log_io_error};
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase};

/// The first read-timeout slice when waiting for a request. A request on a busy connection
/// usually arrives within microseconds; the slice only bounds how long a waiting connection
/// in the queue can go unnoticed.
const FIRST_SLICE: Duration = Duration::from_millis(1);
/// Slices double up to this while nobody waits, so an idle connection costs a few wake-ups a
/// second, not a thousand.
const MAX_SLICE: Duration = Duration::from_millis(32);
/// While others wait, an idle connection found silent is glanced at again only after a
/// sixteenth of the time it has been idle, and at least every this often: a thousand idle
/// connections then cost a few thousand `read`s a second, not one per pass of the queue, and a
/// request on a long-idle connection waits at most this long more to be noticed.
const MAX_GLANCE_GAP: Duration = Duration::from_millis(20);
/// The first nap of a worker that found the whole queue silent: a precise timer, where a
/// timed read would wait a whole kernel tick on one of the silent connections.
pub(super) const MIN_NAP: Duration = Duration::from_micros(50);
/// Naps double while the queue stays silent, up to this: about what a timed read's tick cost.
const MAX_NAP: Duration = Duration::from_millis(4);
/// A connection idle for less than this is a busy client's between two requests: a worker
/// that found the whole queue silent waits on it rather than napping.
const RECENT: Duration = MAX_GLANCE_GAP;

/// What a read by the pool's waiting rules gave.
pub(super) enum Got {
    Bytes(usize),
    /// The client closed (`ClientClosed`), or the connection failed (`SocketError`).
    Closed(CloseReason),
    /// Others wait and this connection had nothing: hand it back.
    GiveWay,
    /// The deadline passed, or the server is shutting down.
    Stopped,
}

impl Got {
    /// Bytes read on a swept (non-blocking) socket: make it blocking again for the request.
    fn unswept(conn: &mut Connection, n: usize) -> Got {
        conn.swept = false;
        match conn.stream.set_nonblocking(false) {
            Ok(()) => Got::Bytes(n),
            Err(_) => Got::Closed(CloseReason::SocketError),
        }
    }

    fn failed(e: &io::Error) -> Got {
        log_io_error("reading from a client", e);
        Got::Closed(CloseReason::SocketError)
    }
}

/// What waiting for more of a request head gave.
pub(super) enum Wait {
    /// More bytes are buffered.
    Data,
    /// Others wait: hand the connection back.
    GiveWay,
    /// The connection is gone: close it at once.
    Closed(CloseReason),
    /// Close the idle connection quietly.
    Idle(CloseReason),
    /// The head did not arrive in time: answer `408`.
    HeaderTimeout,
}

impl Worker<'_> {
    /// Waits for more request bytes, giving way when others wait.
    pub(super) fn wait_for_head(&mut self, conn: &mut Connection, answered: bool) -> Wait {
        let shared = self.ctx.shared;
        if self.input.start == self.input.filled {
            self.input.clear();
        } else if self.input.start > 0 {
            self.input.compact();
        }
        // Heads are read only up to `max_head`, so the space past it stays free for a body.
        let limit = shared.config.max_head;
        let filled = self.input.filled;
        if filled >= limit {
            return Wait::Closed(CloseReason::BadRequest);
        }
        // Round-robin: a connection that was just answered goes to the back of the queue.
        if answered && self.pressure() && !shared.shutting_down() {
            return Wait::GiveWay;
        }
        let deadline = conn.head_deadline(filled, &shared.config);
        // The pool glanced at a whole queue of silent connections and this one has been idle
        // a while too: nap and sweep again rather than wait on it (a request is likelier on a
        // busy one). Waiting in a timed read here would hold the worker a kernel tick (4 ms or
        // more) on one idle connection while busy ones come round with requests; sweeping
        // again at once would spin, taking the CPU the clients need to send them (measured:
        // 8 busy connections beside 300 idle ones were served 0.05x of hyper's rate). A
        // connection answered moments ago is a busy client's: waiting on it is right, its
        // next request wakes the worker at once (a nap there cost hello at 64 connections a
        // quarter of its rate).
        if filled == 0 && self.pressure() && !self.sweeping() {
            let now = Instant::now();
            if now < deadline && now.saturating_duration_since(conn.idle_since) >= RECENT {
                self.nap();
                return Wait::GiveWay;
            }
        }
        let got = self.read_within(conn, filled, limit, deadline);
        match got {
            Got::Bytes(n) => {
                self.nap = MIN_NAP;
                if filled == 0 {
                    conn.head_started = Some(Instant::now());
                }
                self.input.filled += n;
                self.ctx.slot.bytes_in.fetch_add(n as u64, Relaxed);
                Wait::Data
            }
            Got::Closed(reason) => Wait::Closed(reason),
            Got::GiveWay if filled > 0 => Wait::GiveWay,
            // An idle connection past the grace period gives its place up. Closing an idle
            // persistent connection is always allowed (RFC 9112 §9.5).
            Got::GiveWay if shared.queue_full() => Wait::Idle(CloseReason::QueueFull),
            Got::GiveWay
                if conn.idle_since.elapsed() >= shared.config.idle_grace_under_pressure =>
            {
                Wait::Idle(CloseReason::IdleUnderPressure)
            }
            Got::GiveWay => Wait::GiveWay,
            Got::Stopped if shared.shutting_down() => Wait::Idle(CloseReason::Shutdown),
            Got::Stopped if filled == 0 => Wait::Idle(conn.head_timeout_reason(filled)),
            Got::Stopped => Wait::HeaderTimeout,
        }
    }

    /// True while this worker has glanced at fewer silent connections in a row than its share
    /// of the queue, or another worker found bytes since its run began: a silent connection
    /// is then only glanced at. So the running workers together sweep the whole queue before
    /// one waits. A find anywhere starts every run over: busy connections answered together
    /// come round together, and a worker whose share held only idle ones must not wait on one
    /// while another is finding requests (measured: 8 busy connections beside 300 idle ones
    /// were served 0.05x of hyper's rate when each worker counted alone).
    pub(super) fn sweeping(&self) -> bool {
        self.sweeping_with(self.ctx.shared.queue_len())
    }

    /// [`sweeping`](Self::sweeping) for a queue length already read.
    fn sweeping_with(&self, queued: usize) -> bool {
        let shared = self.ctx.shared;
        self.misses <= queued / shared.config.active_workers + 1
            || shared.finds.load(Relaxed) != self.finds_seen
    }

    /// Sleeps for the worker's nap (doubled for next time), then sweeps again.
    fn nap(&mut self) {
        std::thread::sleep(self.nap);
        self.nap = (self.nap * 2).min(MAX_NAP);
        self.start_over();
    }

    /// A glance found a silent connection.
    pub(super) fn missed(&mut self) {
        let finds = self.ctx.shared.finds.load(Relaxed);
        if finds != self.finds_seen {
            (self.finds_seen, self.misses) = (finds, 0);
        }
        self.misses += 1;
    }

    /// A connection had bytes: every worker's run starts over (one shared increment per
    /// find; a miss only reads the count).
    pub(super) fn found(&mut self) {
        self.misses = 0;
        self.finds_seen = self.ctx.shared.finds.fetch_add(1, Relaxed) + 1;
    }

    /// The worker is about to wait properly (or has napped): its own run starts over.
    pub(super) fn start_over(&mut self) {
        self.misses = 0;
        self.finds_seen = self.ctx.shared.finds.load(Relaxed);
    }

    /// At the start of a turn: true for a silent connection whose next glance is not due
    /// while others wait, passed over with one clock read and no system call (it counts as a
    /// silent one). While the queue is full an idle connection is glanced at, and closed, at
    /// once; one past its deadline is glanced at, and closed.
    pub(super) fn pass_over(&mut self, conn: &mut Connection) -> bool {
        // Only a connection found silent before can be passed over: that is checked first, so
        // a kept-alive connection served in a row reads neither the queue nor the clock here.
        if !(conn.swept || conn.backoff)
            || !conn.pending.is_empty()
            || !matches!(conn.phase, Phase::ReadHead)
        {
            return false;
        }
        let shared = self.ctx.shared;
        let queued = shared.queue_len();
        if queued == 0 || shared.queue_full() || shared.shutting_down() {
            return false;
        }
        if !self.sweeping_with(queued) {
            return false;
        }
        let now = Instant::now();
        if now >= conn.next_glance || now >= conn.head_deadline(0, &shared.config) {
            return false;
        }
        self.missed();
        conn.queued_at = now;
        true
    }

    /// Reads into `buf[at..until]`, by the pool's rules for waiting (see the module doc).
    pub(super) fn read_within(
        &mut self,
        conn: &mut Connection,
        at: usize,
        until: usize,
        deadline: Instant,
    ) -> Got {
        let shared = self.ctx.shared;
        // `swept` first: a connection read in a row reads the queue's length not at all here.
        if conn.swept && self.pressure() && self.sweeping() {
            match (&conn.stream.stream).read(&mut self.input.buf[at..until]) {
                Ok(0) => return Got::Closed(CloseReason::ClientClosed),
                Ok(n) => {
                    self.found();
                    return Got::unswept(conn, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.found_silent(conn, deadline);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Got::failed(&e),
            }
        }
        // A connection handed back in blocking mode (just answered, or new) is glanced at too
        // while others wait, without a mode switch: a timed read would cost a whole kernel tick
        // (several ms) on each of many connections with nothing to read.
        #[cfg(target_os = "linux")]
        if !conn.swept && self.pressure() && self.sweeping() {
            let flags = rustix::net::RecvFlags::DONTWAIT;
            match rustix::net::recv(&conn.stream.stream, &mut self.input.buf[at..until], flags) {
                Ok((0, _)) => return Got::Closed(CloseReason::ClientClosed),
                Ok((n, _)) => {
                    self.found();
                    conn.backoff = false;
                    return Got::Bytes(n);
                }
                Err(rustix::io::Errno::AGAIN) => {
                    // Backed off as a swept connection is: without it, many connections
                    // idle after a response would each cost a `recv` per pass of the queue.
                    conn.backoff = true;
                    return self.found_silent(conn, deadline);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(errno) => return Got::failed(&io::Error::from(errno)),
            }
        }
        self.start_over();
        conn.backoff = false;
        if conn.swept {
            conn.swept = false;
            if conn.stream.set_nonblocking(false).is_err() {
                return Got::Closed(CloseReason::SocketError);
            }
        }
        let mut slice = FIRST_SLICE;
        let mut first = true;
        loop {
            let now = Instant::now();
            if first && now >= deadline && !shared.shutting_down() {
                // Time ran out while the connection waited in the queue; bytes that arrived
                // meanwhile are still taken (one non-blocking read).
                return self.glance(conn, at, until);
            }
            first = false;
            if now >= deadline || shared.shutting_down() {
                return Got::Stopped;
            }
            let wait = slice.min(deadline - now).max(Duration::from_millis(1));
            if conn.read_timeout != Some(wait) {
                if conn.stream.set_read_timeout(Some(wait)).is_err() {
                    return Got::Closed(CloseReason::SocketError);
                }
                conn.read_timeout = Some(wait);
            }
            match (&conn.stream.stream).read(&mut self.input.buf[at..until]) {
                Ok(0) => return Got::Closed(CloseReason::ClientClosed),
                Ok(n) => return Got::Bytes(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.pressure() {
                        // Glance at it next time instead of waiting (see above).
                        if conn.stream.set_nonblocking(true).is_err() {
                            return Got::Closed(CloseReason::SocketError);
                        }
                        conn.swept = true;
                        return Got::GiveWay;
                    }
                    slice = (slice * 2).min(MAX_SLICE);
                }
                Err(e) => return Got::failed(&e),
            }
        }
    }

    /// A glance found `conn` silent: past its deadline it stops; otherwise its next glance is
    /// put off by a sixteenth of the time it has been idle (at most `MAX_GLANCE_GAP`).
    fn found_silent(&mut self, conn: &mut Connection, deadline: Instant) -> Got {
        self.missed();
        let now = Instant::now();
        if now >= deadline {
            return Got::Stopped;
        }
        let idle = now.saturating_duration_since(conn.idle_since);
        conn.next_glance = now + (idle / 16).min(MAX_GLANCE_GAP);
        Got::GiveWay
    }

    /// One non-blocking read into `buf[at..until]`, for a connection whose time is up.
    fn glance(&mut self, conn: &mut Connection, at: usize, until: usize) -> Got {
        if !conn.swept && conn.stream.set_nonblocking(true).is_err() {
            return Got::Closed(CloseReason::SocketError);
        }
        conn.swept = true;
        match (&conn.stream.stream).read(&mut self.input.buf[at..until]) {
            Ok(0) => Got::Closed(CloseReason::ClientClosed),
            Ok(n) => Got::unswept(conn, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Got::Stopped,
            Err(e) => Got::failed(&e),
        }
    }
}
