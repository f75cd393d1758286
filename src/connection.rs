//! One worker's handling of one connection for one turn: read request heads, run the handler,
//! write responses, and decide when to give the connection back to the queue or close it.
//!
//! A turn ends when the connection closes or when others wait in the queue and this connection
//! has no complete request buffered (it is then handed back with its partial bytes). This is
//! how the pool stays fair without a poller: the channel is a run queue, and an idle
//! connection never holds a worker while others wait (gunicorn #3518). Measurements behind
//! these choices are in `shared/design-notes.md`.
//!
//! This module owns the per-worker buffers; it never touches the channel except to read its
//! length.

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::access_log;
use crate::body::{Body, BodyError, Leftover, Source};
use crate::config::MAX_HEADERS_LIMIT;
use crate::pool::Shared;
use crate::request::{self, Refusal, Request, Version};
use crate::response::{self, Payload, Response};
use crate::stats::{WorkerSlot, WorkerState};

/// The first read-timeout slice when waiting for a request. A request on a busy connection
/// usually arrives within microseconds; the slice only bounds how long a waiting connection
/// in the queue can go unnoticed.
const FIRST_SLICE: Duration = Duration::from_millis(1);
/// Slices double up to this while nobody waits, so an idle connection costs a few wake-ups a
/// second, not a thousand.
const MAX_SLICE: Duration = Duration::from_millis(32);
/// Free space kept past the buffered bytes, for reading a body that follows a head.
const SPARE_MIN: usize = 16 * 1024;
/// Response bodies up to this size are copied into the output buffer, so pipelined responses
/// leave in one `write`; larger ones are written from where they are.
const COALESCE_MAX: usize = 16 * 1024;
/// Buffered responses are flushed once they reach this size, pipelined or not.
const OUT_FLUSH: usize = 64 * 1024;
/// While others wait, a connection with requests still buffered (pipelined) is handed back
/// once its turn has lasted this long, so a pipelining client of a slow handler cannot hold
/// a worker for the whole burst. Far above a burst of fast requests (16 pipelined hellos take
/// about 20 µs), so it costs pipelining nothing.
const TURN_BUDGET_US: u64 = 10_000;
/// Size of each chunk read from a streamed response body.
const STREAM_CHUNK: usize = 16 * 1024;
/// Room before a streamed chunk for its size line: 8 hex digits and CRLF.
const CHUNK_PREFIX: usize = 10;

/// A client connection, as it travels between the listener, the queue and the workers.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    /// Received bytes not yet processed, carried across hand-backs: at most a partial head,
    /// and empty (unallocated) in the common case.
    pending: Vec<u8>,
    /// Requests answered on this connection.
    served: u32,
    /// When the connection last became idle: its accept, or the end of its last response.
    idle_since: Instant,
    /// When the connection last entered the queue: its accept, or its last hand-back.
    queued_at: Instant,
    /// When the first byte of the current request head arrived.
    head_started: Option<Instant>,
    /// The socket's read timeout as last set, to skip redundant `setsockopt` calls.
    read_timeout: Option<Duration>,
    /// Socket options (no-delay, write timeout) set on the first visit.
    configured: bool,
    /// Handed back after a silent slice; the socket is non-blocking until bytes arrive.
    swept: bool,
    /// Set once the response is sent and the connection is closing (see [`Close::Linger`]).
    linger: Option<Linger>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr, accepted_at: Instant) -> Conn {
        Conn {
            stream,
            peer,
            pending: Vec::new(),
            served: 0,
            idle_since: accepted_at,
            queued_at: accepted_at,
            head_started: None,
            read_timeout: None,
            configured: false,
            swept: false,
            linger: None,
        }
    }
}

/// How a turn ended.
pub(crate) enum Outcome {
    /// The connection is closed and counted.
    Closed,
    /// Others are waiting: put this connection back on the queue.
    Yield(Conn),
}

/// How to close a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// After a response the client must read: stop sending, read and discard what the client
    /// still sends until it closes (bounded in bytes and time, as gunicorn does), then close,
    /// so no reset destroys the response. The connection keeps its place in the run queue
    /// meanwhile, so a slow client holds no worker.
    Linger,
    /// An idle connection: stop sending, discard what is already received, close.
    Quiet,
    /// The connection is broken: just close.
    Abort,
}

/// What one attempt to handle a buffered request did.
enum Step {
    /// A request was answered; the connection stays open.
    Answered,
    /// No complete head is buffered yet.
    Partial,
    /// The head was refused with this status; answer and close.
    Refused(Refusal),
    /// Close the connection this way.
    Close(Close),
}

/// What a read by the pool's waiting rules gave.
enum Got {
    Bytes(usize),
    /// The client closed, or the connection failed.
    Closed,
    /// Others wait and this connection had nothing: hand it back.
    GiveWay,
    /// The deadline passed, or the server is shutting down.
    Stopped,
}

impl Got {
    /// Bytes read on a swept (non-blocking) socket: make it blocking again for the request.
    fn unswept(conn: &mut Conn, n: usize) -> Got {
        conn.swept = false;
        match conn.stream.set_nonblocking(false) {
            Ok(()) => Got::Bytes(n),
            Err(_) => Got::Closed,
        }
    }

    fn failed(e: &io::Error) -> Got {
        log_io_error("reading from a client", e);
        Got::Closed
    }
}

/// A lingering close in progress.
#[derive(Debug, Clone, Copy)]
struct Linger {
    deadline: Instant,
    discarded: usize,
}

/// What waiting for more bytes gave.
enum Wait {
    Data,
    Yield,
    Close(Close),
    HeaderTimeout,
}

/// A worker's reusable state: its read and write buffers.
pub(crate) struct Worker<'s> {
    id: usize,
    shared: &'s Shared,
    slot: &'s WorkerSlot,
    /// Read buffer: `max_head` for heads plus room for a body after them.
    buf: Box<[u8]>,
    start: usize,
    filled: usize,
    /// Responses not yet written.
    out: Vec<u8>,
    /// Idle connections glanced at in a row without finding a byte.
    misses: usize,
    /// The last handler ran longer than `lend_after`: expect this one to block too.
    expect_blocking: bool,
    /// When the first handler of this turn started, and when the last one finished (µs since
    /// the pool started): the turn's length without reading the clock again.
    turn_started: Option<u64>,
    turn_last: u64,
    /// Microseconds the current connection waited in the queue before this turn; charged to
    /// the first request answered in the turn (see [`Config::log_timings`]).
    ///
    /// [`Config::log_timings`]: crate::Config::log_timings
    queued: u64,
    /// The pipe that large files are spliced through (Linux).
    splicer: Splicer,
}

#[cfg(target_os = "linux")]
use crate::splice::Splicer;

/// Elsewhere files go through `io::copy`'s own path.
#[cfg(not(target_os = "linux"))]
#[derive(Default)]
struct Splicer;

impl<'s> Worker<'s> {
    pub(crate) fn new(id: usize, shared: &'s Shared) -> Worker<'s> {
        Worker {
            id,
            shared,
            slot: &shared.worker_slots[id],
            buf: vec![0u8; shared.config.max_head + SPARE_MIN].into_boxed_slice(),
            start: 0,
            filled: 0,
            out: Vec::with_capacity(OUT_FLUSH + COALESCE_MAX),
            misses: 0,
            expect_blocking: false,
            turn_started: None,
            turn_last: 0,
            queued: 0,
            splicer: Splicer::default(),
        }
    }

    fn pressure(&self) -> bool {
        self.shared.queue_len() > 0
    }

    fn shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Relaxed)
    }

    /// Serves `conn` until it closes or should give way to a waiting connection.
    pub(crate) fn serve(&mut self, mut conn: Conn) -> Outcome {
        self.slot.set_state(WorkerState::Reading);
        self.queued = conn.queued_at.elapsed().as_micros() as u64;
        if conn.linger.is_some() {
            return self.linger(conn);
        }
        if !conn.configured {
            conn.configured = true;
            // Responses are coalesced here, so Nagle's algorithm would only add delay.
            let ok = conn.stream.set_nodelay(true).is_ok()
                && conn
                    .stream
                    .set_write_timeout(Some(self.shared.config.write_timeout))
                    .is_ok();
            if !ok {
                return self.close(conn, Close::Abort);
            }
        }
        self.start = 0;
        self.filled = conn.pending.len();
        self.buf[..self.filled].copy_from_slice(&conn.pending);
        conn.pending = Vec::new();
        self.turn_started = None;
        let mut answered = false;
        loop {
            if self.start < self.filled {
                if self.buf.len() - self.filled < SPARE_MIN && self.start > 0 {
                    self.compact();
                }
                match self.step(&mut conn) {
                    Step::Answered => {
                        answered = true;
                        if self.out.len() >= OUT_FLUSH && self.flush(&conn).is_err() {
                            return self.close(conn, Close::Abort);
                        }
                        if self.turn_is_over() {
                            if !self.out.is_empty() && self.flush(&conn).is_err() {
                                return self.close(conn, Close::Abort);
                            }
                            return self.hand_back(conn);
                        }
                        continue;
                    }
                    Step::Partial => {}
                    Step::Refused(refusal) => return self.refuse(conn, refusal),
                    Step::Close(how) => return self.close(conn, how),
                }
            }
            if !self.out.is_empty() && self.flush(&conn).is_err() {
                return self.close(conn, Close::Abort);
            }
            match self.wait_for_bytes(&mut conn, answered) {
                Wait::Data => {}
                Wait::Yield => return self.hand_back(conn),
                Wait::Close(how) => return self.close(conn, how),
                Wait::HeaderTimeout => {
                    return self.refuse(
                        conn,
                        Refusal {
                            status: 408,
                            reason: "timed out reading the request head",
                        },
                    );
                }
            }
        }
    }

    /// True if others wait and this turn has had its share of time (see [`TURN_BUDGET_US`]).
    fn turn_is_over(&self) -> bool {
        // The turn's length first: it is local, while the queue's length reads atomics that
        // the listener and every worker write (one read per pipelined request was measurable).
        self.turn_started
            .is_some_and(|t| self.turn_last.saturating_sub(t) >= TURN_BUDGET_US)
            && self.pressure()
            && !self.shutting_down()
    }

    /// Ends the turn: the connection goes back to the queue with its unprocessed bytes.
    fn hand_back(&mut self, mut conn: Conn) -> Outcome {
        conn.pending
            .extend_from_slice(&self.buf[self.start..self.filled]);
        self.start = 0;
        self.filled = 0;
        conn.queued_at = Instant::now();
        Outcome::Yield(conn)
    }

    /// Forgets the state of a turn that ended in a panic, so the next turn starts clean.
    pub(crate) fn recover(&mut self) {
        self.out.clear();
        self.start = 0;
        self.filled = 0;
        self.misses = 0;
    }

    /// Moves the unprocessed bytes to the front of the buffer.
    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.start = 0;
    }

    /// Waits for more request bytes, giving way when others wait.
    fn wait_for_bytes(&mut self, conn: &mut Conn, answered: bool) -> Wait {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
        } else if self.start > 0 {
            self.compact();
        }
        // Heads are read only up to `max_head`, so the space past it stays free for a body.
        let limit = self.shared.config.max_head;
        if self.filled >= limit {
            return Wait::Close(Close::Abort);
        }
        // Round-robin: a connection that was just answered goes to the back of the queue.
        if answered && self.pressure() && !self.shutting_down() {
            return Wait::Yield;
        }
        let deadline = self.deadline(conn);
        let got = if Instant::now() >= deadline {
            // Time ran out while the connection waited in the queue; a request that arrived
            // meanwhile is still served.
            self.glance(conn, self.filled, limit)
        } else {
            self.read_within(conn, self.filled, limit, deadline)
        };
        match got {
            Got::Bytes(n) => {
                if self.filled == 0 {
                    conn.head_started = Some(Instant::now());
                }
                self.filled += n;
                self.slot.bytes_in.fetch_add(n as u64, Relaxed);
                Wait::Data
            }
            Got::Closed => Wait::Close(Close::Abort),
            Got::GiveWay => {
                // An idle connection past the grace period gives its place up. Closing an
                // idle persistent connection is always allowed (RFC 9112 §9.5).
                let grace = self.shared.config.idle_grace_under_pressure;
                let idle = self.filled == 0;
                if idle
                    && (self.shared.queue_full.load(Relaxed) || conn.idle_since.elapsed() >= grace)
                {
                    Wait::Close(Close::Quiet)
                } else {
                    Wait::Yield
                }
            }
            Got::Stopped if self.filled == 0 || self.shutting_down() => Wait::Close(Close::Quiet),
            Got::Stopped => Wait::HeaderTimeout,
        }
    }

    /// When the wait for the current request must end: on a new connection, the header
    /// timeout counted from the accept (silence first, then a trickle, gets no second
    /// timeout); on a kept-alive one, the keep-alive timeout while idle, then the header
    /// timeout from the head's first byte.
    fn deadline(&self, conn: &Conn) -> Instant {
        let config = &self.shared.config;
        if conn.served == 0 {
            conn.idle_since + config.header_timeout
        } else if self.filled == 0 {
            conn.idle_since + config.keep_alive
        } else {
            conn.head_started.unwrap_or(conn.idle_since) + config.header_timeout
        }
    }

    /// Reads into `buf[at..until]`, by the pool's rules for waiting:
    ///
    /// - a connection handed back after a silent slice (`swept`) is only glanced at while
    ///   others wait: one non-blocking read, not a timed one (SO_RCVTIMEO is rounded up to the
    ///   kernel's tick, 4 ms or more, which would make every visit to an idle connection that
    ///   long). Once the running workers together have swept the queue and found nothing
    ///   (each its share), the worker waits properly again, so idle connections are never
    ///   spun through;
    /// - otherwise it waits in read-timeout slices that double while nobody else waits, and
    ///   gives way after a silent slice when somebody does;
    /// - it stops at `deadline` or at shutdown.
    fn read_within(&mut self, conn: &mut Conn, at: usize, until: usize, deadline: Instant) -> Got {
        let share = self.shared.queue_len() / self.shared.config.active_workers + 1;
        if conn.swept && self.pressure() && self.misses < share {
            match (&conn.stream).read(&mut self.buf[at..until]) {
                Ok(0) => return Got::Closed,
                Ok(n) => {
                    self.misses = 0;
                    return Got::unswept(conn, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.misses += 1;
                    return Got::GiveWay;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Got::failed(&e),
            }
        }
        self.misses = 0;
        if conn.swept {
            conn.swept = false;
            if conn.stream.set_nonblocking(false).is_err() {
                return Got::Closed;
            }
        }
        let mut slice = FIRST_SLICE;
        loop {
            let now = Instant::now();
            if now >= deadline || self.shutting_down() {
                return Got::Stopped;
            }
            let wait = slice.min(deadline - now).max(Duration::from_millis(1));
            if conn.read_timeout != Some(wait) {
                if conn.stream.set_read_timeout(Some(wait)).is_err() {
                    return Got::Closed;
                }
                conn.read_timeout = Some(wait);
            }
            match (&conn.stream).read(&mut self.buf[at..until]) {
                Ok(0) => return Got::Closed,
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
                            return Got::Closed;
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

    /// One non-blocking read into `buf[at..until]`, for a connection whose time is up.
    fn glance(&mut self, conn: &mut Conn, at: usize, until: usize) -> Got {
        if !conn.swept && conn.stream.set_nonblocking(true).is_err() {
            return Got::Closed;
        }
        conn.swept = true;
        match (&conn.stream).read(&mut self.buf[at..until]) {
            Ok(0) => Got::Closed,
            Ok(n) => Got::unswept(conn, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Got::Stopped,
            Err(e) => Got::failed(&e),
        }
    }

    /// Finishes a lingering close (see [`Close::Linger`]): reads and discards until the
    /// client closes, at most `linger_bytes` within `linger_time`, giving way like any idle
    /// connection when others wait, so a client slow to close never pins a worker.
    fn linger(&mut self, mut conn: Conn) -> Outcome {
        let Some(mut linger) = conn.linger else {
            return self.finish(conn);
        };
        let config = &self.shared.config;
        while linger.discarded < config.linger_bytes {
            let until = self.buf.len();
            match self.read_within(&mut conn, 0, until, linger.deadline) {
                Got::Bytes(n) => linger.discarded += n,
                Got::GiveWay => {
                    conn.linger = Some(linger);
                    return Outcome::Yield(conn);
                }
                Got::Closed | Got::Stopped => break,
            }
        }
        self.finish(conn)
    }

    /// Counts a connection closed; dropping it closes the socket.
    fn finish(&mut self, conn: Conn) -> Outcome {
        drop(conn);
        self.slot.closed.fetch_add(1, Relaxed);
        Outcome::Closed
    }

    /// Parses the buffered bytes and, if they hold a complete head, answers the request.
    fn step(&mut self, conn: &mut Conn) -> Step {
        let shared = self.shared;
        let config = &shared.config;
        if conn.served == 0 && self.start == 0 && looks_like_tls(&self.buf[..self.filled]) {
            log::error!(
                "{}: You're accessing the development server over HTTPS, but it only supports HTTP.",
                conn.peer
            );
            return Step::Close(Close::Quiet);
        }
        // Empty lines before a request line are ignored (RFC 9112 §2.2); skipping them here
        // makes every check, and the access log, see the real request line.
        let blank = self.buf[self.start..self.filled]
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        self.start += blank;
        if self.start == self.filled {
            return Step::Partial;
        }
        let (data, spare) = self.buf.split_at_mut(self.filled);
        let data: &[u8] = &data[self.start..];
        // Left uninitialised: zeroing 256 header slots (8 KiB) per request was measurable.
        let mut headers =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_LIMIT];
        let mut parsed = httparse::Request::new(&mut []);
        let head_len =
            match parsed.parse_with_uninit_headers(data, &mut headers[..config.max_headers]) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => {
                    return match request::check_partial(data, config) {
                        Some(refusal) => Step::Refused(refusal),
                        None => Step::Partial,
                    };
                }
                Err(e) => return Step::Refused(request::parse_error(e, data)),
            };
        let info = match request::check_head(&parsed, &data[..head_len], config) {
            Ok(info) => info,
            Err(refusal) => return Step::Refused(refusal),
        };
        let line = access_log::request_line(data);
        let version = if parsed.version == Some(0) {
            Version::Http10
        } else {
            Version::Http11
        };
        let head_request = parsed.method == Some("HEAD");
        let mut close = !info.keep_alive
            || config.keep_alive.is_zero()
            || conn.served + 1 >= config.max_requests_per_connection
            || shared.shutting_down.load(Relaxed)
            || shared.queue_full.load(Relaxed);

        // `100 Continue` is written straight to the socket when the handler first reads the
        // body; responses still buffered must leave before it.
        if info.expect_continue && !self.out.is_empty() {
            let sent = write_counted(&conn.stream, &self.out, self.slot);
            self.out.clear();
            if sent.is_err() {
                return Step::Close(Close::Abort);
            }
        }

        let source = Source {
            stream: &conn.stream,
            initial: &data[head_len..],
            initial_pos: 0,
            spare,
            pos: 0,
            end: 0,
            read_timeout: &mut conn.read_timeout,
            body_timeout: config.body_timeout,
            bytes_in: 0,
            consumed: 0,
        };
        let body = Body::new(source, info.framing, config.max_body, info.expect_continue);
        let parsed_headers: &[httparse::Header<'_>] = parsed.headers;
        let mut req = Request::new(
            parsed.method.unwrap_or(""),
            parsed.path.unwrap_or("/"),
            version,
            parsed_headers,
            conn.peer,
            self.id,
            body,
            shared,
        );

        let started = shared.micros_since_start();
        self.slot.set_busy(WorkerState::Handling, started);
        self.turn_started.get_or_insert(started);
        if self.expect_blocking {
            // The last handler on this worker blocked: give the place up now rather than
            // after `lend_after`, so blocking handlers do not queue for places.
            shared.gate.lend(self.slot);
        }
        let handled = catch_unwind(AssertUnwindSafe(|| shared.handler.handle(&mut req)));
        let finished = shared.micros_since_start();
        self.turn_last = finished;
        self.expect_blocking =
            finished.saturating_sub(started) >= config.lend_after.as_micros() as u64;
        let mut body = req.into_body();
        if body.continue_sent() {
            self.slot.writes.fetch_add(1, Relaxed);
            self.slot
                .bytes_out
                .fetch_add(crate::body::CONTINUE.len() as u64, Relaxed);
        }
        let mut response = match handled {
            Ok(response) => response,
            Err(panic) => {
                log::error!(
                    "handler panicked on \"{}\": {}",
                    String::from_utf8_lossy(line),
                    panic_message(&panic)
                );
                close = true;
                Response::error(500)
            }
        };
        if let Some(e) = body.error() {
            match e.status() {
                Some(status) => {
                    log::debug!("{}: {e}", conn.peer);
                    close = true;
                    response = Response::error(status);
                }
                None => {
                    // The client stopped sending (or the connection failed) mid-body: no
                    // answer to this request, but the answers to earlier pipelined ones,
                    // still buffered, are sent before closing.
                    self.slot.bytes_in.fetch_add(body.bytes_in(), Relaxed);
                    return Step::Close(Close::Linger);
                }
            }
        }
        // An echoed body is read as it is sent, after the head, so it is not drained here.
        let echo = response.echoes_body()
            && !head_request
            && !response::bodyless_status(response.status())
            && body.error().is_none();
        if echo {
            response.payload = Payload::RequestBody {
                len: if body.is_complete() {
                    Some(0)
                } else {
                    body.remaining_length()
                },
            };
            // `100 Continue` must precede the final response (RFC 9110 §10.1.1).
            if body.continue_pending() && body.send_continue().is_err() {
                return Step::Close(Close::Abort);
            }
        } else if !body.is_complete() {
            // Whatever the handler left unread must go before the next request is read.
            let drainable = !body.continue_pending()
                && body
                    .remaining_length()
                    .is_none_or(|n| n <= config.max_drain);
            if !drainable || !body.drain(config.max_drain, config.linger_time) {
                close = true;
            }
            if let Some(BodyError::Malformed | BodyError::TooLarge) = body.error() {
                close = true;
            }
        }
        if let Err(what) = response.validate() {
            log::error!(
                "handler returned an invalid response for \"{}\" ({what}); sending 500",
                String::from_utf8_lossy(line)
            );
            response = Response::error(500);
        }
        close |= response.wants_close() || shared.shutting_down.load(Relaxed);

        self.slot.set_busy(WorkerState::Writing, finished);
        let status = response.status();
        let framing =
            response::write_head(&mut self.out, &response, version, head_request, &mut close);
        // A handler's body reader runs here, after the handler returned: a panic in it is
        // caught like one in the handler. The head is already on its way, so the connection
        // is closed (the client sees a short body, never a corrupted next response).
        let (stream, out, slot) = (&conn.stream, &mut self.out, self.slot);
        let splicer = &mut self.splicer;
        let payload = response.payload;
        let sent = catch_unwind(AssertUnwindSafe(|| {
            if echo {
                send_request_body(stream, out, &mut body, framing, slot)
            } else {
                send_body(stream, out, payload, framing, splicer, slot)
            }
        }))
        .unwrap_or_else(|panic| {
            out.clear();
            Err(io::Error::other(format!(
                "the response body reader panicked: {}",
                panic_message(&panic)
            )))
        });
        self.slot.served.fetch_add(1, Relaxed);
        // A response still in `out` leaves with the next flush, so its clock stops where the
        // handler's did; reading the clock again would only add the serialisation (and cost a
        // clock read per pipelined request).
        let done = if self.out.is_empty() {
            shared.micros_since_start()
        } else {
            finished
        };
        let timings = access_log::Timings {
            worker: self.id,
            queued: self.queued,
            took: done.saturating_sub(started),
        };
        // Later requests in this turn did not wait in the queue.
        self.queued = 0;
        self.slot
            .latency
            .record(done, timings.queued + timings.took);
        let size = match sent {
            Ok(size) => size,
            Err(e) => {
                log_io_error("sending a response", &e);
                log_access(config, line, status, 0, timings);
                return Step::Close(Close::Abort);
            }
        };
        log_access(config, line, status, size, timings);

        // Find the bytes after this request: the next pipelined request, if any.
        self.slot.bytes_in.fetch_add(body.bytes_in(), Relaxed);
        let base = self.start + head_len;
        match body.into_leftover() {
            Leftover::Initial { from } => self.start = base + from,
            Leftover::Spare { from, to } => {
                self.start = self.filled + from;
                self.filled += to;
            }
        }
        conn.served += 1;
        let now = shared.instant_at(done);
        conn.idle_since = now;
        conn.head_started = (self.start < self.filled).then_some(now);
        if self.out.is_empty() {
            self.slot.set_state(WorkerState::Reading);
        }
        // Otherwise the worker stays `Writing` until the buffered responses are flushed: a
        // client slow to take them holds a worker blocked in a write, and the run gate must
        // lend its place.
        if close {
            Step::Close(Close::Linger)
        } else {
            Step::Answered
        }
    }

    /// Writes the buffered responses in one go.
    fn flush(&mut self, conn: &Conn) -> io::Result<()> {
        if self.slot.state() != WorkerState::Writing {
            let now = self.shared.micros_since_start();
            self.slot.set_busy(WorkerState::Writing, now);
        }
        let result = write_counted(&conn.stream, &self.out, self.slot);
        self.out.clear();
        self.slot.set_state(WorkerState::Reading);
        if let Err(e) = &result {
            log_io_error("sending a response", e);
        }
        result
    }

    /// Answers a refused head with a short error and closes.
    fn refuse(&mut self, conn: Conn, refusal: Refusal) -> Outcome {
        let line = access_log::request_line(&self.buf[self.start..self.filled]);
        log::debug!("{}: {} {}", conn.peer, refusal.status, refusal.reason);
        let size = response::write_error(&mut self.out, refusal.status, refusal.reason);
        access_log::log(line, refusal.status, size as u64);
        self.slot.served.fetch_add(1, Relaxed);
        if self.flush(&conn).is_err() {
            return self.close(conn, Close::Abort);
        }
        self.close(conn, Close::Linger)
    }

    /// Closes a connection and counts it.
    fn close(&mut self, mut conn: Conn, how: Close) -> Outcome {
        if how != Close::Abort && !self.out.is_empty() {
            let _ = self.flush(&conn);
        }
        self.out.clear();
        self.start = 0;
        self.filled = 0;
        match how {
            Close::Linger => {
                if conn.stream.shutdown(Shutdown::Write).is_ok() {
                    conn.linger = Some(Linger {
                        deadline: Instant::now() + self.shared.config.linger_time,
                        discarded: 0,
                    });
                    return self.linger(conn);
                }
            }
            Close::Quiet => {
                let _ = conn.stream.shutdown(Shutdown::Write);
                // Discard what already arrived, so closing sends a FIN, not a reset.
                if conn.swept || conn.stream.set_nonblocking(true).is_ok() {
                    let _ = (&conn.stream).read(&mut self.buf);
                }
            }
            Close::Abort => {}
        }
        self.finish(conn)
    }
}

/// Logs an answered request's access line, with its timings if the configuration asks.
fn log_access(
    config: &crate::Config,
    line: &[u8],
    status: u16,
    size: u64,
    timings: access_log::Timings,
) {
    if config.log_timings {
        access_log::log_timed(line, status, size, timings);
    } else {
        access_log::log(line, status, size);
    }
}

/// Writes `bytes` fully, counting `write` calls and bytes for the stats.
fn write_counted(mut stream: &TcpStream, mut bytes: &[u8], slot: &WorkerSlot) -> io::Result<()> {
    while !bytes.is_empty() {
        slot.writes.fetch_add(1, Relaxed);
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                slot.bytes_out.fetch_add(n as u64, Relaxed);
                bytes = &bytes[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends a response body after its head (which is in `out`). Small bodies join `out`, to leave
/// with the next flush; large and streamed ones flush `out` and go straight to the socket.
/// Returns the body bytes sent.
fn send_body(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    payload: Payload,
    framing: response::Framing,
    splicer: &mut Splicer,
    slot: &WorkerSlot,
) -> io::Result<u64> {
    use response::Framing;
    if framing == Framing::None {
        return Ok(0);
    }
    match payload {
        // Sent by `send_request_body`, which has the body; nothing to send without it.
        Payload::Empty | Payload::RequestBody { .. } => Ok(0),
        Payload::Static(bytes) => send_bytes(stream, out, bytes, slot),
        Payload::Bytes(bytes) => send_bytes(stream, out, &bytes, slot),
        Payload::File { file, len } if len <= COALESCE_MAX as u64 => {
            send_small_file(stream, out, file, len as usize, slot)
        }
        Payload::File { file, len } => send_file(stream, out, file, len, splicer, slot),
        Payload::Reader {
            reader,
            len: Some(len),
        } => send_exact(stream, out, reader, len, slot),
        Payload::Reader { reader, len: None } if framing == Framing::Chunked => {
            send_chunked(stream, out, reader, slot)
        }
        Payload::Reader { mut reader, .. } => {
            write_counted(stream, out, slot)?;
            out.clear();
            let n = io::copy(&mut reader, &mut CountingStream { stream, slot })?;
            Ok(n)
        }
    }
}

fn send_bytes(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    bytes: &[u8],
    slot: &WorkerSlot,
) -> io::Result<u64> {
    if bytes.len() <= COALESCE_MAX {
        out.extend_from_slice(bytes);
    } else {
        write_counted(stream, out, slot)?;
        out.clear();
        write_counted(stream, bytes, slot)?;
    }
    Ok(bytes.len() as u64)
}

/// Appends a small file to `out`, to leave with its head in one `write`: for a file of a few
/// KiB, `read` into the buffer costs less than a second `write` plus a splice (and a
/// pipelined burst of small files leaves in one `write`). A file that shrank since its length
/// was taken ends the connection after the head and what was read, as `send_exact` does.
fn send_small_file(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    mut file: std::fs::File,
    len: usize,
    slot: &WorkerSlot,
) -> io::Result<u64> {
    let start = out.len();
    out.resize(start + len, 0);
    let mut filled = 0;
    while filled < len {
        match file.read(&mut out[start + filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    if filled < len {
        out.truncate(start + filled);
        write_counted(stream, out, slot)?;
        out.clear();
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("response body ended after {filled} of {len} bytes"),
        ));
    }
    Ok(len as u64)
}

/// Sends a large file after its head: spliced through the worker's pipe on Linux (zero-copy;
/// see `splice`), else with `io::copy`.
fn send_file(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    file: std::fs::File,
    len: u64,
    splicer: &mut Splicer,
    slot: &WorkerSlot,
) -> io::Result<u64> {
    #[cfg(target_os = "linux")]
    let file = {
        write_counted(stream, out, slot)?;
        out.clear();
        match splicer.send(file, len, stream) {
            Ok(result) => return finish_exact(result?, len, slot),
            Err(file) => file,
        }
    };
    #[cfg(not(target_os = "linux"))]
    let _ = splicer;
    send_exact(stream, out, file, len, slot)
}

/// Sends exactly `len` bytes from `reader`; a reader that ends early is an error, which closes
/// the connection (the client sees a short body, never a corrupted next response).
fn send_exact(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    reader: impl Read,
    len: u64,
    slot: &WorkerSlot,
) -> io::Result<u64> {
    write_counted(stream, out, slot)?;
    out.clear();
    // Std's `io::copy` from a `File` to a `TcpStream` is a plain read/write loop; files take
    // `send_file` (splice) on Linux and come here elsewhere.
    let mut dst = stream;
    let n = io::copy(&mut reader.take(len), &mut dst)?;
    finish_exact(n, len, slot)
}

/// Counts `n` body bytes sent in one go (a copy or a splice) and checks that all `len` left: a
/// body that ended early is an error, which closes the connection.
fn finish_exact(n: u64, len: u64, slot: &WorkerSlot) -> io::Result<u64> {
    slot.writes.fetch_add(1, Relaxed);
    slot.bytes_out.fetch_add(n, Relaxed);
    if n < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("response body ended after {n} of {len} bytes"),
        ));
    }
    Ok(n)
}

/// Sends the rest of the request body back as the response body (see
/// [`Response::echo_body`]), framed as `write_head` decided.
fn send_request_body(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    body: &mut Body<'_>,
    framing: response::Framing,
    slot: &WorkerSlot,
) -> io::Result<u64> {
    use response::Framing;
    match framing {
        Framing::Length(len) => send_exact(stream, out, body, len, slot),
        Framing::Chunked => send_chunked(stream, out, body, slot),
        Framing::None | Framing::Close => Ok(0),
    }
}

/// Sends a reader in the chunked coding, one chunk per read, each chunk in one `write`.
fn send_chunked(
    stream: &TcpStream,
    out: &mut Vec<u8>,
    mut reader: impl Read,
    slot: &WorkerSlot,
) -> io::Result<u64> {
    write_counted(stream, out, slot)?;
    let mut total = 0u64;
    loop {
        out.clear();
        out.resize(CHUNK_PREFIX + STREAM_CHUNK, 0);
        let n = match reader.read(&mut out[CHUNK_PREFIX..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.clear();
                return Err(e);
            }
        };
        if n == 0 {
            out.clear();
            out.extend_from_slice(b"0\r\n\r\n");
            // The terminating chunk stays in `out`, to leave with the next flush.
            return Ok(total);
        }
        // Leading zeros are allowed in a chunk size (RFC 9112 §7.1: 1*HEXDIG).
        let prefix = format_chunk_prefix(n);
        out[..CHUNK_PREFIX].copy_from_slice(&prefix);
        out.truncate(CHUNK_PREFIX + n);
        out.extend_from_slice(b"\r\n");
        write_counted(stream, out, slot)?;
        total += n as u64;
    }
}

fn format_chunk_prefix(n: usize) -> [u8; CHUNK_PREFIX] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut p = [b'0'; CHUNK_PREFIX];
    for (i, digit) in p[..8].iter_mut().enumerate() {
        *digit = HEX[(n >> (4 * (7 - i))) & 0xf];
    }
    p[8] = b'\r';
    p[9] = b'\n';
    p
}

/// A writer that counts bytes and writes into the stats.
struct CountingStream<'a> {
    stream: &'a TcpStream,
    slot: &'a WorkerSlot,
}

impl Write for CountingStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (&*self.stream).write(buf)?;
        self.slot.writes.fetch_add(1, Relaxed);
        self.slot.bytes_out.fetch_add(n as u64, Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A TLS handshake starts with a handshake record: content type 22, version 3.x.
fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x16, 0x03, ..] | [0x16])
}

/// Logs an I/O error: broken pipes, resets and timeouts are the client's doing and go to the
/// debug level (as Django's `is_broken_pipe_error`); anything else is an error.
fn log_io_error(what: &str, e: &io::Error) {
    match e.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::WouldBlock
        | io::ErrorKind::TimedOut => log::debug!("{what}: {e}"),
        _ => log::error!("{what}: {e}"),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_prefix_is_hex_with_leading_zeros() {
        assert_eq!(&format_chunk_prefix(0x4000), b"00004000\r\n");
        assert_eq!(&format_chunk_prefix(1), b"00000001\r\n");
    }

    #[test]
    fn tls_detection() {
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
    }
}
