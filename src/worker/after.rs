//! What a connection does after an exchange or a slow write: read the next request, drain a
//! body, linger, or close; the `Linger` phase itself; the server's own short error answers;
//! and the rule that a worker's buffered output goes out, or becomes the connection's own
//! pending write, before the connection waits in the poller.

use std::io::Read;
use std::net::Shutdown;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::exchange::After;
use super::parts::{Reading, Step, Worker, read_now};
use crate::access_log;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Drain, Linger, Phase};
use crate::http1::encode;
use crate::http1::head::Refusal;
use crate::sending::{Rest, Then};

impl Worker<'_> {
    /// The step an exchange's end leads to.
    pub(super) fn after_exchange(&mut self, conn: &Connection, after: After) -> Step {
        match after {
            After::KeepAlive => Step::Go(Phase::ReadHead),
            After::Drain(decoder) => {
                let drain = Drain::new(*decoder, &self.ctx.shared.config);
                Step::Go(Phase::Drain(Box::new(drain)))
            }
            After::Linger(reason) => self.start_linger(conn, reason),
            After::Abort(reason) => self.abort(reason),
            After::Write(sending) => Step::Go(Phase::Write(sending)),
            After::Stream(streaming) => Step::Go(Phase::Stream(streaming)),
        }
    }

    /// The step a response's end leads to, once a slow client has taken all of it.
    pub(super) fn then(&mut self, conn: &Connection, then: Then) -> Step {
        match then {
            Then::ReadHead => Step::Go(Phase::ReadHead),
            Then::Drain(decoder) => {
                let drain = Drain::new(decoder, &self.ctx.shared.config);
                Step::Go(Phase::Drain(Box::new(drain)))
            }
            Then::Linger(reason) => self.start_linger(conn, reason),
            Then::Receive(rx) => Step::Go(Phase::ReceiveBody(rx)),
        }
    }

    /// Before the connection waits in `phase`: the buffered output goes out, and what the
    /// socket does not take now becomes the connection's pending write, `phase` to follow.
    pub(super) fn output_first(&mut self, conn: &Connection, phase: Phase) -> Phase {
        if self.output.buf.is_empty() {
            return phase;
        }
        let then = match phase {
            Phase::ReadHead => Then::ReadHead,
            Phase::ReceiveBody(rx) => Then::Receive(rx),
            Phase::Drain(drain) => Then::Drain(drain.decoder),
            // Every other phase flushed before it began (a write, a linger, a close).
            other => {
                debug_assert!(self.output.buf.is_empty(), "output left before a wait");
                return other;
            }
        };
        match self.flush(conn) {
            Ok(true) => self.then_phase(then),
            Ok(false) => self.output_as_write(conn, then),
            Err(_) => Phase::Close(CloseReason::SocketError),
        }
    }

    /// The buffered output the socket did not take, as the connection's pending write with
    /// `then` after it (the buffer is left empty).
    fn output_as_write(&mut self, conn: &Connection, then: Then) -> Phase {
        let mut writer = self.output.writer(&conn.wire, self.ctx);
        let mut sending = writer.pending(0, Rest::None);
        sending.then = then;
        Phase::Write(sending)
    }

    /// `then` as the phase it names, for a `then` that needs no step of its own.
    fn then_phase(&self, then: Then) -> Phase {
        match then {
            Then::ReadHead => Phase::ReadHead,
            Then::Drain(decoder) => {
                Phase::Drain(Box::new(Drain::new(decoder, &self.ctx.shared.config)))
            }
            Then::Receive(rx) => Phase::ReceiveBody(rx),
            Then::Linger(reason) => Phase::Close(reason),
        }
    }

    /// Closes after a response the client must read: sends what is buffered (or waits for
    /// room to), stops sending, and lingers (see [`Phase::Linger`]).
    pub(super) fn start_linger(&mut self, conn: &Connection, reason: CloseReason) -> Step {
        self.input.clear();
        if !self.output.buf.is_empty() {
            match self.flush(conn) {
                Ok(true) => {}
                Ok(false) => return Step::Go(self.output_as_write(conn, Then::Linger(reason))),
                // The lingering read ends at once on a broken connection.
                Err(_) => {}
            }
        }
        if conn.wire.shutdown(Shutdown::Write).is_err() {
            return Step::Go(Phase::Close(reason));
        }
        Step::Go(Phase::Linger(Linger {
            deadline: Instant::now() + self.ctx.shared.config.linger_time,
            discarded: 0,
            reason,
        }))
    }

    /// `Linger`: reads and discards until the client closes, at most `linger_bytes` within
    /// `linger_time`; waits for more in the poller.
    pub(super) fn linger(&mut self, conn: &Connection, mut linger: Linger) -> Step {
        let limit = self.ctx.shared.config.linger_bytes;
        while linger.discarded < limit {
            match read_now(&conn.wire, &mut self.input.buf) {
                Reading::Bytes(n) => linger.discarded += n,
                Reading::Nothing => return Step::Wait(Phase::Linger(linger)),
                Reading::Closed(_) => break,
            }
        }
        Step::Go(Phase::Close(linger.reason))
    }

    /// Closes an idle connection: sends what is buffered (what the socket takes), stops
    /// sending, discards what already arrived (so closing sends a FIN, not a reset).
    pub(super) fn quiet_close(&mut self, conn: &Connection, reason: CloseReason) -> Step {
        if !self.output.buf.is_empty() {
            let _ = self.flush(conn);
            self.output.buf.clear();
        }
        self.input.clear();
        let _ = conn.wire.shutdown(Shutdown::Write);
        let _ = (&**conn.wire).read(&mut self.input.buf);
        Step::Go(Phase::Close(reason))
    }

    /// Closes a broken connection at once: nothing more is sent.
    pub(super) fn abort(&mut self, reason: CloseReason) -> Step {
        self.output.buf.clear();
        self.input.clear();
        Step::Go(Phase::Close(reason))
    }

    /// Sends the server's short error for `refusal`, logged under `line` after the refusal's
    /// reason (as runserver logs `code 400, message ...`), then lingers.
    pub(super) fn answer_error(
        &mut self,
        conn: &Connection,
        line: &[u8],
        refusal: Refusal,
        reason: CloseReason,
    ) -> Step {
        log::debug!("{}: {} {}", conn.peer, refusal.status, refusal.reason);
        let size = encode::write_error(&mut self.output.buf, refusal.status, refusal.reason);
        let entry = access_log::Line {
            request: line,
            status: refusal.status,
            size: size as u64,
            timings: None,
            cut: None,
            at: self.ctx.shared.micros_since_start(),
        };
        self.ctx
            .shared
            .access
            .write_refused(self.ctx.id, refusal.reason, &entry);
        self.ctx.slot.served.fetch_add(1, Relaxed);
        self.start_linger(conn, reason)
    }

    /// `Close`: forgets the connection's registration, counts it closed for `reason`; dropping
    /// it closes the socket.
    pub(super) fn finish(&mut self, mut conn: Box<Connection>, reason: CloseReason) {
        log::debug!("{}: closed: {reason}", conn.peer);
        self.ctx.shared.poller.forget(&mut conn);
        drop(conn);
        self.ctx.shared.count_close(self.ctx.slot, reason);
    }
}
