//! One worker's turn with one connection: it runs the connection's phases (see
//! `crate::connection` for the diagram) until the connection closes or would wait on its
//! client while others wait, then gives it back to the pool.
//!
//! - this file: the turn (`serve`), `New`, `ReadHead`, `Linger` and closing;
//! - `wait`: reading the socket by the pool's rules for waiting (slices, glances, giving way);
//! - `exchange`: one request and its response (the handler, what becomes of the body, the
//!   response's head and body);
//! - `receive`: `ReceiveBody`, `Handle` and `Drain`, the phases that wait on a request body;
//! - `send`: `Write`, a response a client is slow to take;
//! - `writer`: the socket, output buffer, pipe and counters together.
//!
//! A turn ends when the connection closes or when others wait in the queue and this connection
//! has no complete request buffered (it is then handed back with its partial bytes). This is
//! how the pool stays fair without a poller: the channel is a run queue, and an idle
//! connection never holds a worker while others wait (gunicorn #3518).
//!
//! This module owns the per-worker buffers; it never touches the channel except to read its
//! length.

mod exchange;
mod receive;
mod send;
mod wait;
mod writer;

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::access_log;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Linger, Phase};
use crate::handler::BodyPolicy;
use crate::http1::decode::BodyError;
use crate::http1::encode;
use crate::http1::head::{self, Refusal};
use crate::http1::head::{BodyLength, HeadInfo};
use crate::request::RequestHead;
use crate::response::Response;
use crate::shared::Shared;
use crate::stats::{WorkerSlot, WorkerState};
use exchange::After;
use wait::Wait;
use writer::{OUT_FLUSH, Output};

/// Free space kept past the buffered bytes, for reading a body that follows a head.
const SPARE_MIN: usize = 16 * 1024;
/// While others wait, a connection with requests still buffered (pipelined) is handed back
/// once its turn has lasted this long, so a pipelining client of a slow handler cannot hold
/// a worker for the whole burst. Far above a burst of fast requests (16 pipelined hellos take
/// about 20 µs), so it costs pipelining nothing.
const TURN_BUDGET_US: u64 = 10_000;

/// How a turn ended.
pub(crate) enum Outcome {
    /// The connection is closed and counted.
    Closed,
    /// Others are waiting: put this connection back on the queue.
    Yield(Box<Connection>),
}

/// What a phase led to.
enum Next {
    /// Go on with the connection in this phase.
    Phase(Phase),
    /// Give the connection back to the queue, in the phase it is in.
    HandBack,
}

/// What the worker is and which pool it serves: passed by value to the parts of a turn that
/// run while the worker's buffers are borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'s> {
    pub(crate) id: usize,
    pub(crate) shared: &'s Shared,
    pub(crate) slot: &'s WorkerSlot,
}

/// The read buffer: `max_head` for heads plus room for a body after them; `start..filled` is
/// received and not yet processed.
struct Input {
    buf: Box<[u8]>,
    start: usize,
    filled: usize,
}

impl Input {
    fn unprocessed(&self) -> &[u8] {
        &self.buf[self.start..self.filled]
    }

    fn clear(&mut self) {
        self.start = 0;
        self.filled = 0;
    }

    /// Moves the unprocessed bytes to the front of the buffer.
    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.start = 0;
    }
}

/// The timings a turn keeps without reading the clock more than it must.
#[derive(Default)]
struct Clock {
    /// The last handler ran longer than `lend_after`: expect this one to block too.
    expect_blocking: bool,
    /// When the first handler of this turn started, and when the last one finished (µs since
    /// the pool started): the turn's length without reading the clock again.
    turn_started: Option<u64>,
    turn_last: u64,
    /// Microseconds the current connection waited in the queue before this turn; charged to
    /// the first request answered in the turn (see `Config::log_timings`).
    queued: u64,
}

/// A worker's reusable state.
pub(crate) struct Worker<'s> {
    ctx: Ctx<'s>,
    input: Input,
    output: Output,
    clock: Clock,
    /// How long the worker naps next when the whole queue was found silent (see
    /// `wait::Worker::nap`): short while requests keep coming, longer while none do.
    nap: std::time::Duration,
    /// Silent connections glanced at in a row, and the pool's count of finds when the run
    /// began (see `wait::Worker::sweeping`).
    misses: usize,
    finds_seen: usize,
}

impl<'s> Worker<'s> {
    pub(crate) fn new(id: usize, shared: &'s Shared) -> Worker<'s> {
        Worker {
            ctx: Ctx {
                id,
                shared,
                slot: &shared.worker_slots[id],
            },
            input: Input {
                buf: vec![0u8; shared.config.max_head + SPARE_MIN].into_boxed_slice(),
                start: 0,
                filled: 0,
            },
            output: Output::new(),
            clock: Clock::default(),
            nap: wait::MIN_NAP,
            misses: 0,
            finds_seen: 0,
        }
    }

    fn pressure(&self) -> bool {
        self.ctx.shared.queue_len() > 0
    }

    /// Serves `conn` until it closes or should give way to a waiting connection.
    pub(crate) fn serve(&mut self, mut conn: Box<Connection>) -> Outcome {
        if self.pass_over(&mut conn) {
            return Outcome::Yield(conn);
        }
        self.ctx.slot.set_state(WorkerState::Reading);
        self.clock.queued = conn.queued_at.elapsed().as_micros() as u64;
        self.clock.turn_started = None;
        self.input.clear();
        self.input.filled = conn.pending.len();
        self.input.buf[..conn.pending.len()].copy_from_slice(&conn.pending);
        conn.pending = Vec::new();
        let mut answered = false;
        loop {
            let next = match std::mem::replace(&mut conn.phase, Phase::ReadHead) {
                Phase::New => Next::Phase(self.configure(&conn)),
                Phase::ReadHead => self.read_head(&mut conn, &mut answered),
                Phase::ReceiveBody => {
                    conn.phase = Phase::ReceiveBody;
                    self.receive_body(&mut conn)
                }
                Phase::Handle => self.handle_received(&mut conn, &mut answered),
                Phase::Drain(drain) => self.drain(&mut conn, *drain),
                Phase::Write => self.write_phase(&mut conn),
                Phase::Linger(linger) => self.linger(&mut conn, linger),
                Phase::Close(reason) => return self.finish(conn, reason),
            };
            match next {
                Next::Phase(phase) => conn.phase = phase,
                Next::HandBack => return self.hand_back(conn),
            }
        }
    }

    /// `New`: sets the socket options on the connection's first visit.
    fn configure(&self, conn: &Connection) -> Phase {
        // Responses are coalesced here, so Nagle's algorithm would only add delay.
        // A short send timeout: a write to a client slow to read comes back to the worker
        // (`writer`); `write_timeout` is counted by the writer itself.
        let ok = conn.stream.set_nodelay(true).is_ok()
            && conn
                .stream
                .set_write_timeout(Some(writer::WRITE_SLICE))
                .is_ok();
        if ok {
            Phase::ReadHead
        } else {
            Phase::Close(CloseReason::SocketError)
        }
    }

    /// `ReadHead`: answers every whole request buffered, then waits for more bytes, until the
    /// connection closes or gives way.
    fn read_head(&mut self, conn: &mut Connection, answered: &mut bool) -> Next {
        loop {
            if self.input.start < self.input.filled {
                if self.input.buf.len() - self.input.filled < SPARE_MIN && self.input.start > 0 {
                    self.input.compact();
                }
                match self.next_request(conn) {
                    Parsed::Answered(After::KeepAlive) => {
                        *answered = true;
                        if self.output.buf.len() >= OUT_FLUSH && self.flush(conn).is_err() {
                            return Next::Phase(Phase::Close(CloseReason::SocketError));
                        }
                        if self.turn_is_over() {
                            if !self.output.buf.is_empty() && self.flush(conn).is_err() {
                                return Next::Phase(Phase::Close(CloseReason::SocketError));
                            }
                            return Next::HandBack;
                        }
                        continue;
                    }
                    Parsed::Answered(after) => {
                        *answered = true;
                        return Next::Phase(self.after_exchange(conn, after));
                    }
                    Parsed::Receive { head_len, info } => {
                        return Next::Phase(self.start_receiving(conn, head_len, info));
                    }
                    Parsed::Tls => return Next::Phase(self.quiet_close(conn, CloseReason::Tls)),
                    Parsed::Partial => {}
                    Parsed::Refused(refusal) => return Next::Phase(self.refuse(conn, refusal)),
                }
            }
            if !self.output.buf.is_empty() && self.flush(conn).is_err() {
                return Next::Phase(Phase::Close(CloseReason::SocketError));
            }
            match self.wait_for_head(conn, *answered) {
                Wait::Data => {}
                Wait::GiveWay => return Next::HandBack,
                Wait::Closed(reason) => return Next::Phase(self.abort(reason)),
                Wait::Idle(reason) => return Next::Phase(self.quiet_close(conn, reason)),
                Wait::HeaderTimeout => {
                    let refusal = Refusal {
                        status: 408,
                        reason: "timed out reading the request head",
                    };
                    return Next::Phase(self.refuse(conn, refusal));
                }
            }
        }
    }

    /// Parses the buffered bytes and, if they hold a whole head, answers the request.
    fn next_request(&mut self, conn: &mut Connection) -> Parsed {
        let input = &mut self.input;
        if conn.served == 0 && input.start == 0 && head::looks_like_tls(input.unprocessed()) {
            log::error!(
                "{}: You're accessing the development server over HTTPS, but it only supports HTTP.",
                conn.peer
            );
            return Parsed::Tls;
        }
        // Skipped here, so every check, and the access log, see the real request line.
        input.start += head::leading_empty_lines(input.unprocessed());
        if input.start == input.filled {
            return Parsed::Partial;
        }
        let (received, spare) = input.buf.split_at_mut(input.filled);
        let data: &[u8] = &received[input.start..];
        // Left uninitialised: zeroing 256 header slots (8 KiB) per request was measurable.
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() };
            crate::config::MAX_HEADERS_LIMIT];
        let head = match head::parse(data, &mut headers, &self.ctx.shared.config) {
            head::Parsed::Complete(head) => head,
            head::Parsed::Partial => return Parsed::Partial,
            head::Parsed::Refused(refusal) => return Parsed::Refused(refusal),
        };
        let head_len = head.len;
        let config = &self.ctx.shared.config;
        let mut refused = None;
        let mut max_body = config.max_body;
        let mut expect_continue = head.info.expect_continue;
        if !matches!(head.info.body, BodyLength::None | BodyLength::Length(0)) {
            match policy(self.ctx, &head) {
                BodyPolicy::Stream => {}
                BodyPolicy::Refuse(response) => refused = Some(Box::new(response)),
                BodyPolicy::ReceiveFirst => match head.info.body {
                    BodyLength::Length(n) if n > config.max_buffered_body => {
                        refused = Some(Box::new(Response::error(413)));
                    }
                    length
                        if receive::body_is_buffered(
                            &data[head_len..],
                            length,
                            config.max_buffered_body,
                        ) =>
                    {
                        // All here already: read from the buffer, never waiting on the client.
                        max_body = config.max_buffered_body;
                        expect_continue = false;
                    }
                    _ => {
                        return Parsed::Receive {
                            head_len,
                            info: head.info,
                        };
                    }
                },
            }
        }
        let link = exchange::Link {
            stream: &conn.stream,
            wire: &conn.stream,
            peer: conn.peer,
            served: conn.served,
        };
        let given = exchange::Given::Socket {
            spare,
            read_timeout: &mut conn.read_timeout,
            max_body,
            expect_continue,
            refused,
        };
        let exchanged = exchange::run(
            self.ctx,
            &mut self.output,
            &mut self.clock,
            link,
            &head,
            data,
            given,
        );
        if let Some(leftover) = exchanged.leftover {
            // Find the bytes after this request: the next pipelined request, if any.
            let base = input.start + head_len;
            match leftover {
                crate::body::Leftover::Initial { from } => input.start = base + from,
                crate::body::Leftover::Spare { from, to } => {
                    input.start = input.filled + from;
                    input.filled += to;
                }
            }
            self.answered(conn, exchanged.done);
        }
        Parsed::Answered(exchanged.after)
    }

    /// True if others wait and this turn has had its share of time (see [`TURN_BUDGET_US`]).
    fn turn_is_over(&self) -> bool {
        // The turn's length first: it is local, while the queue's length reads atomics that
        // the listener and every worker write (one read per pipelined request was measurable).
        self.clock
            .turn_started
            .is_some_and(|t| self.clock.turn_last.saturating_sub(t) >= TURN_BUDGET_US)
            && self.pressure()
            && !self.ctx.shared.shutting_down()
    }

    /// Ends the turn: the connection goes back to the queue with its unprocessed bytes.
    fn hand_back(&mut self, mut conn: Box<Connection>) -> Outcome {
        conn.pending.extend_from_slice(self.input.unprocessed());
        self.input.clear();
        conn.queued_at = Instant::now();
        Outcome::Yield(conn)
    }

    /// Forgets the state of a turn that ended in a panic, so the next turn starts clean.
    pub(crate) fn recover(&mut self) {
        self.output.buf.clear();
        self.input.clear();
    }

    /// Writes the buffered responses in one go.
    fn flush(&mut self, conn: &Connection) -> io::Result<()> {
        let shared = self.ctx.shared;
        // Outside overload, fast-written access lines leave before the responses they tell
        // of, so a client's requests in a row are logged in order, at once; under pressure
        // they wait in the worker's buffer (at most `FLUSH_EVERY`), one write for many.
        if shared.access.buffered() && shared.queue_len() == 0 {
            shared.access.flush(self.ctx.id);
        }
        self.output.writer(&conn.stream, self.ctx).flush()
    }

    /// Answers a refused head with a short error, then lingers.
    fn refuse(&mut self, conn: &Connection, refusal: Refusal) -> Phase {
        log::debug!("{}: {} {}", conn.peer, refusal.status, refusal.reason);
        let reason = if refusal.status == 408 {
            CloseReason::HeaderTimeout
        } else {
            CloseReason::BadRequest
        };
        let input = &self.input;
        let line = access_log::request_line(&input.buf[input.start..input.filled]).to_vec();
        self.answer_error(conn, &line, refusal, reason)
    }

    /// Sends the server's short error for `refusal`, logged under `line`, then lingers.
    fn answer_error(
        &mut self,
        conn: &Connection,
        line: &[u8],
        refusal: Refusal,
        reason: CloseReason,
    ) -> Phase {
        let size = encode::write_error(&mut self.output.buf, refusal.status, refusal.reason);
        let entry = access_log::Line {
            request: line,
            status: refusal.status,
            size: size as u64,
            timings: None,
            cut: None,
            at: self.ctx.shared.micros_since_start(),
        };
        self.ctx.shared.access.write(self.ctx.id, &entry);
        self.ctx.slot.served.fetch_add(1, Relaxed);
        if self.flush(conn).is_err() {
            return self.abort(CloseReason::SocketError);
        }
        self.start_linger(conn, reason)
    }

    /// Notes a request answered on `conn`, its response done at `done` (µs since the start).
    fn answered(&mut self, conn: &mut Connection, done: u64) {
        conn.served += 1;
        let now = self.ctx.shared.instant_at(done);
        conn.idle_since = now;
        conn.head_started = (self.input.start < self.input.filled).then_some(now);
    }

    /// Counts `n` bytes read from a client.
    fn count_in(&self, n: usize) {
        self.ctx.slot.bytes_in.fetch_add(n as u64, Relaxed);
    }

    /// Closes after a response the client must read: sends what is buffered, stops sending,
    /// and lingers (see [`Phase::Linger`]).
    fn start_linger(&mut self, conn: &Connection, reason: CloseReason) -> Phase {
        if !self.output.buf.is_empty() {
            // A failed write shows again in the lingering read, which then ends at once.
            let _ = self.flush(conn);
        }
        self.input.clear();
        if conn.stream.shutdown(Shutdown::Write).is_err() {
            return Phase::Close(reason);
        }
        Phase::Linger(Linger {
            deadline: Instant::now() + self.ctx.shared.config.linger_time,
            discarded: 0,
            reason,
        })
    }

    /// Closes an idle connection: sends what is buffered, stops sending, discards what
    /// already arrived (so closing sends a FIN, not a reset).
    fn quiet_close(&mut self, conn: &mut Connection, reason: CloseReason) -> Phase {
        if !self.output.buf.is_empty() {
            let _ = self.flush(conn);
        }
        self.input.clear();
        let _ = conn.stream.shutdown(Shutdown::Write);
        if conn.swept || conn.stream.set_nonblocking(true).is_ok() {
            let _ = (&conn.stream.stream).read(&mut self.input.buf);
        }
        Phase::Close(reason)
    }

    /// Closes a broken connection at once: nothing more is sent.
    fn abort(&mut self, reason: CloseReason) -> Phase {
        self.output.buf.clear();
        self.input.clear();
        Phase::Close(reason)
    }

    /// `Linger`: reads and discards until the client closes, at most `linger_bytes` within
    /// `linger_time`, giving way like any idle connection when others wait, so a client slow
    /// to close never pins a worker.
    fn linger(&mut self, conn: &mut Connection, mut linger: Linger) -> Next {
        let limit = self.ctx.shared.config.linger_bytes;
        while linger.discarded < limit {
            let until = self.input.buf.len();
            match self.read_within(conn, 0, until, linger.deadline) {
                wait::Got::Bytes(n) => linger.discarded += n,
                wait::Got::GiveWay => {
                    conn.phase = Phase::Linger(linger);
                    return Next::HandBack;
                }
                wait::Got::Closed(_) | wait::Got::Stopped => break,
            }
        }
        Next::Phase(Phase::Close(linger.reason))
    }

    /// `Close`: counts the connection closed for `reason`; dropping it closes the socket.
    fn finish(&mut self, conn: Box<Connection>, reason: CloseReason) -> Outcome {
        log::debug!("{}: closed: {reason}", conn.peer);
        drop(conn);
        self.ctx.slot.count_close(reason);
        Outcome::Closed
    }
}

/// What looking at the buffered bytes gave.
enum Parsed {
    /// A request was answered; the exchange says how the connection goes on.
    Answered(After),
    /// No whole head is buffered yet.
    Partial,
    /// The head was refused with this status; answer and close.
    Refused(Refusal),
    /// The client opened with a TLS handshake.
    Tls,
    /// A head of `head_len` bytes whose body is received before the handler runs.
    Receive { head_len: usize, info: HeadInfo },
}

/// The body policy for `head`; a panic in it is answered `500`.
fn policy(ctx: Ctx<'_>, head: &head::Head<'_, '_>) -> BodyPolicy {
    let head = RequestHead::new(head);
    catch_unwind(AssertUnwindSafe(|| ctx.shared.handler.body_policy(&head))).unwrap_or_else(|_| {
        log::error!(
            "the body policy panicked on {} {}",
            head.method(),
            head.target()
        );
        BodyPolicy::refuse(500)
    })
}

/// Logs an I/O error: what the client caused goes to the debug level, anything else is an
/// error. The client's doing: broken pipes, resets and timeouts (as Django's
/// `is_broken_pipe_error`), and a request body that failed (malformed chunking, too large,
/// timed out, cut short) wherever it surfaced, also as the error of a response that streams
/// that body back (the demo's `/echo`).
fn log_io_error(what: &str, e: &io::Error) {
    if is_client_error(e) || BodyError::of(e).is_some() {
        log::debug!("{what}: {e}");
    } else {
        log::error!("{what}: {e}");
    }
}

/// True for the I/O errors a client causes by going away or being slow.
fn is_client_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    )
}
