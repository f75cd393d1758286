//! One worker's turn with one connection: it runs the connection's phases (see
//! `crate::connection` for the diagram) while there is work, and ends when the connection
//! closes, must wait on its client (it is then parked in the poller, with its deadline), or
//! has had its share of time while others wait (it then goes to the back of the run queue).
//!
//! A deadline is checked here, in one place: a phase that would wait past its connection's
//! deadline (`Connection::waiting`) is ended instead: an idle connection closed, a late head
//! or body answered `408`, a slow response cut, a drain or a linger ended.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::parts::{Step, Worker};
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase, Waiting};
use crate::stats::WorkerState;

/// How a turn ended.
pub(crate) enum Outcome {
    /// The connection is closed and counted.
    Closed,
    /// The connection waits on its client: park it in the poller.
    Wait(Box<Connection>, Waiting),
    /// Work is left but the turn is over: to the back of the run queue.
    Requeue(Box<Connection>),
}

impl Worker<'_> {
    /// Serves `conn` until it closes, must wait, or should give way to others.
    pub(crate) fn serve(&mut self, mut conn: Box<Connection>) -> Outcome {
        self.ctx.slot.set_state(WorkerState::Reading);
        self.begin_turn(&mut conn);
        let mut phase = std::mem::replace(&mut conn.phase, Phase::ReadHead);
        loop {
            let step = match phase {
                Phase::New => match self.arrived(&conn) {
                    Ok(()) => Step::Go(Phase::ReadHead),
                    Err(_) => Step::Go(Phase::Close(CloseReason::SocketError)),
                },
                Phase::ReadHead => self.read_head(&mut conn),
                Phase::ReceiveBody(rx) => self.receive_body(&conn, rx),
                Phase::Handle(rx) => self.handle_received(&mut conn, *rx),
                Phase::Drain(drain) => self.drain(&conn, drain),
                Phase::Write(sending) => self.write_phase(&conn, sending),
                Phase::Linger(linger) => self.linger(&conn, linger),
                Phase::Close(reason) => {
                    self.finish(conn, reason);
                    return Outcome::Closed;
                }
            };
            phase = match step {
                Step::Go(next) => next,
                Step::Yield => {
                    self.end_turn(&mut conn, Phase::ReadHead);
                    return Outcome::Requeue(conn);
                }
                Step::Wait(waits) => match self.wait(&mut conn, waits) {
                    Ok(waiting) => return Outcome::Wait(conn, waiting),
                    Err(next) => next,
                },
            };
        }
    }

    /// A new connection's first turn: it leaves the listener's count, and its socket is set
    /// up.
    fn arrived(&self, conn: &Connection) -> std::io::Result<()> {
        self.ctx.shared.arrivals.fetch_sub(1, Relaxed);
        conn.wire.configure()
    }

    /// The connection would wait in `phase`: its buffered output goes first (or becomes its
    /// pending write), and it waits until its deadline, unless that has passed: then the
    /// phase's end comes now (`Err` with the next phase).
    fn wait(&mut self, conn: &mut Connection, phase: Phase) -> Result<Waiting, Phase> {
        let phase = self.output_first(conn, phase);
        if matches!(phase, Phase::Close(_)) {
            return Err(phase);
        }
        let shared = self.ctx.shared;
        let now = Instant::now();
        self.end_turn(conn, phase);
        let buffered = conn.pending.len();
        let waiting = conn.waiting(buffered, &shared.config, shared.shutdown_at(), now);
        let Some(waiting) = waiting.filter(|w| w.deadline > now) else {
            self.begin_turn(conn);
            let phase = std::mem::replace(&mut conn.phase, Phase::ReadHead);
            return Err(self.expired(conn, phase, buffered));
        };
        self.ctx.slot.set_state(WorkerState::Idle);
        Ok(waiting)
    }

    /// The phase's end at its deadline, with `buffered` bytes of a head received.
    fn expired(&mut self, conn: &Connection, phase: Phase, buffered: usize) -> Phase {
        let shutting_down = self.ctx.shared.shutting_down();
        let step = match phase {
            Phase::ReadHead if buffered == 0 || shutting_down => {
                let reason = if shutting_down {
                    CloseReason::Shutdown
                } else {
                    conn.head_timeout_reason(buffered)
                };
                self.quiet_close(conn, reason)
            }
            Phase::ReadHead => self.head_timed_out(conn),
            Phase::ReceiveBody(rx) => self.body_timed_out(conn, &rx),
            Phase::Write(sending) => self.write_timed_out(&sending),
            Phase::Drain(_) => self.start_linger(conn, CloseReason::BodyUnread),
            Phase::Linger(linger) => Step::Go(Phase::Close(linger.reason)),
            other => Step::Go(other),
        };
        match step {
            Step::Go(next) | Step::Wait(next) => next,
            Step::Yield => Phase::ReadHead,
        }
    }

    /// Forgets the state of a turn that ended in a panic, so the next turn starts clean.
    pub(crate) fn recover(&mut self) {
        self.output.buf.clear();
        self.input.clear();
    }
}
