//! A worker's parts, kept from one turn to the next: what it is ([`Ctx`]), its read buffer
//! ([`Input`]), its output buffer and pipe ([`Output`]) and its [`Clock`]; and the [`Step`]
//! each phase returns.
//!
//! This module owns the per-worker buffers; the phases (`head`, `receive`, `send`, `after`)
//! work in them, and `turn` runs the phases.

use std::io::{self, Read};

use super::ctx::{Clock, Ctx, log_io_error};
use super::writer::Output;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase};
use crate::shared::Shared;
use crate::wire::Wire;

/// Free space kept past the buffered bytes, for reading a body that follows a head.
pub(super) const SPARE_MIN: usize = 16 * 1024;
/// While others wait, a connection with requests still buffered (pipelined) goes to the back
/// of the run queue once its turn has lasted this long, so a pipelining client of a slow
/// handler cannot hold a worker for the whole burst. Far above a burst of fast requests (16
/// pipelined hellos take about 20 µs), so it costs pipelining nothing.
const TURN_BUDGET_US: u64 = 10_000;
/// A worker writes its access lines out before a response at most this often: a person's
/// requests are further apart, and under load the lines leave in batches (pipelined hellos with
/// the log on were 9% slower than without it when every response wrote its lines first).
const LOG_GAP_US: u64 = 1_000;

/// What a phase led to.
pub(crate) enum Step {
    /// Go on with the connection in this phase now.
    Go(Phase),
    /// The connection waits on its client in this phase: park it in the poller.
    Wait(Phase),
    /// The turn is over though work is left (requests buffered): to the back of the run
    /// queue, in `ReadHead`.
    Yield,
}

/// What reading what the client has sent gave.
pub(crate) enum Reading {
    Bytes(usize),
    /// Nothing to read now.
    Nothing,
    /// The client closed (`ClientClosed`), or the connection failed (`SocketError`).
    Closed(CloseReason),
}

/// Reads what the client has sent into `buf`, without waiting.
pub(crate) fn read_now(wire: &Wire, buf: &mut [u8]) -> Reading {
    loop {
        match (&**wire).read(buf) {
            Ok(0) => return Reading::Closed(CloseReason::ClientClosed),
            Ok(n) => return Reading::Bytes(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Reading::Nothing,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log_io_error("reading from a client", &e);
                return Reading::Closed(CloseReason::SocketError);
            }
        }
    }
}

/// The read buffer: `max_head` for heads plus room for a body after them; `start..filled` is
/// received and not yet processed.
pub(crate) struct Input {
    pub(crate) buf: Box<[u8]>,
    pub(crate) start: usize,
    pub(crate) filled: usize,
}

impl Input {
    pub(crate) fn unprocessed(&self) -> &[u8] {
        &self.buf[self.start..self.filled]
    }

    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.filled = 0;
    }

    /// Moves the unprocessed bytes to the front of the buffer.
    pub(crate) fn compact(&mut self) {
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.start = 0;
    }
}

/// A worker's reusable state.
pub(crate) struct Worker<'s> {
    pub(crate) ctx: Ctx<'s>,
    pub(crate) input: Input,
    pub(crate) output: Output,
    pub(crate) clock: Clock,
    /// When this worker last wrote its access lines out before a response (µs since the pool
    /// started).
    pub(crate) log_flushed: u64,
    /// The connection's socket had nothing more to read at the last read (it came back short,
    /// or would block): bytes that come after it raise a new readiness edge, so the
    /// connection can be parked without another read (see `crate::poller`).
    pub(crate) drained: bool,
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
            drained: false,
            log_flushed: 0,
        }
    }

    /// True if connections wait in the run queue.
    pub(crate) fn pressure(&self) -> bool {
        self.ctx.shared.queue_len() > 0
    }

    /// Starts a turn with `conn`: its kept bytes move into the read buffer.
    pub(crate) fn begin_turn(&mut self, conn: &mut Connection) {
        self.clock.queued = conn
            .queued_at
            .take()
            .map_or(0, |at| at.elapsed().as_micros() as u64);
        self.clock.turn_started = None;
        self.drained = false;
        self.input.clear();
        self.input.filled = conn.pending.len();
        self.input.buf[..conn.pending.len()].copy_from_slice(&conn.pending);
        conn.pending = Vec::new();
    }

    /// Ends a turn with the connection in `phase`: the bytes not yet processed go with it.
    pub(crate) fn end_turn(&mut self, conn: &mut Connection, phase: Phase) {
        conn.phase = phase;
        conn.pending.extend_from_slice(self.input.unprocessed());
        self.input.clear();
    }

    /// True if others wait and this turn has had its share of time (see [`TURN_BUDGET_US`]).
    pub(crate) fn turn_is_over(&self) -> bool {
        // The turn's length first: it is local, while the queue's length reads atomics that
        // the listener and every worker write (one read per pipelined request was measurable).
        self.clock
            .turn_started
            .is_some_and(|t| self.clock.turn_last.saturating_sub(t) >= TURN_BUDGET_US)
            && self.pressure()
            && !self.ctx.shared.shutting_down()
    }

    /// Writes what the socket takes of the buffered responses now: true if all went (see
    /// `Writer::flush`). Then, unless this worker wrote its access lines out less than
    /// [`LOG_GAP_US`] ago, the lines so far follow at once (after the responses, so the log's
    /// write is not on a client's way), and requests a person makes are logged in order, as
    /// they come; under load the lines wait in the worker's buffer (until it fills, or the
    /// flusher's next tick), one write for many.
    pub(crate) fn flush(&mut self, conn: &Connection) -> io::Result<bool> {
        let sent = self.output.writer(&conn.wire, self.ctx).flush();
        let shared = self.ctx.shared;
        // The last handler's end: a clock reading already taken.
        let now = self.clock.turn_last;
        if shared.access.buffered() && now.saturating_sub(self.log_flushed) >= LOG_GAP_US {
            shared.access.flush(self.ctx.id);
            self.log_flushed = now;
        }
        sent
    }

    /// Reads what the client has sent into `input.buf[from..until]`, without waiting, and
    /// notes whether the socket is drained.
    pub(crate) fn read_input(&mut self, conn: &Connection, from: usize, until: usize) -> Reading {
        let read = read_now(&conn.wire, &mut self.input.buf[from..until]);
        self.drained = match read {
            Reading::Bytes(n) => {
                self.count_in(n);
                n < until - from
            }
            Reading::Nothing => true,
            Reading::Closed(_) => false,
        };
        read
    }

    /// Counts `n` bytes read from a client.
    pub(crate) fn count_in(&self, n: usize) {
        self.ctx
            .slot
            .bytes_in
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}
