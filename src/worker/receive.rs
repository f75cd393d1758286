//! The phases that wait on a client's request body: `ReceiveBody` (the whole body into the
//! connection's store before the handler runs), `Handle` (the handler on the stored head and
//! body) and `Drain` (what a handler left of a streamed body, after its response).
//!
//! Each reads what the client has sent and, when that is all, waits in the poller still in
//! its phase, so a client slow to send holds no worker.

use std::time::Instant;

use super::exchange::{self, Link};
use super::parts::{Reading, Step, Worker};
use crate::access_log;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Drain, Phase};
use crate::http1::decode::{BodyError, Decoder};
use crate::http1::encode::CONTINUE;
use crate::http1::head::{self, BodyLength, HeadInfo, Refusal};
use crate::pacing::{Pacing, Stall};
use crate::received::{Receiving, Store, StoreError};

/// Decoded body bytes are copied out of the read buffer in pieces of this size.
const PIECE: usize = 16 * 1024;

impl Worker<'_> {
    /// Starts receiving the body of the head of `head_len` bytes at the start of the
    /// unprocessed input: the head is copied (the buffer is reused between turns), and
    /// `100 Continue` sent if the client waits for it.
    pub(super) fn start_receiving(
        &mut self,
        conn: &Connection,
        head_len: usize,
        info: HeadInfo,
    ) -> Step {
        let config = &self.ctx.shared.config;
        let start = self.input.start;
        let head = self.input.buf[start..start + head_len].to_vec();
        self.input.start += head_len;
        let rx = Box::new(Receiving {
            head,
            decoder: Decoder::new(info.body, config.max_buffered_body),
            store: Store::new(self.ctx.shared.budgets.clone()),
            pacing: Pacing::request_body(config),
        });
        if info.expect_continue {
            // After the answers to earlier pipelined requests, which must not be overtaken;
            // if the client is slow to take them, the body is received once they are out.
            self.output.buf.extend_from_slice(CONTINUE);
            return Step::Go(self.output_first(conn, Phase::ReceiveBody(rx)));
        }
        Step::Go(Phase::ReceiveBody(rx))
    }

    /// `ReceiveBody`: decodes what has arrived into the store, reads what the client has
    /// sent, and waits in the poller for the rest.
    pub(super) fn receive_body(&mut self, conn: &Connection, mut rx: Box<Receiving>) -> Step {
        loop {
            let used = match self.decode_into(&mut rx) {
                Ok(used) => used,
                Err((status, why)) => {
                    let reason = if status == 503 {
                        CloseReason::OverBudget
                    } else {
                        CloseReason::BadBody
                    };
                    return self.refuse_body(conn, &rx.head, status, why, reason);
                }
            };
            rx.pacing.moved(used as u64, Instant::now());
            if rx.decoder.is_complete() {
                return Step::Go(Phase::Handle(rx));
            }
            match self.read_body(conn) {
                Reading::Bytes(_) => {}
                Reading::Nothing => {
                    rx.pacing.blocked(Instant::now());
                    return Step::Wait(Phase::ReceiveBody(rx));
                }
                Reading::Closed(_) => {
                    return self.start_linger(conn, CloseReason::BodyIncomplete);
                }
            }
        }
    }

    /// The body did not arrive in time (or the server is shutting down): `408`, or a quiet
    /// close at shutdown.
    pub(super) fn body_timed_out(&mut self, conn: &Connection, rx: &Receiving) -> Step {
        match rx.pacing.stalled(Instant::now()) {
            Some(Stall::TimedOut) => self.refuse_body(
                conn,
                &rx.head,
                408,
                "timed out reading the request body",
                CloseReason::BadBody,
            ),
            Some(Stall::TooSlow) => self.refuse_body(
                conn,
                &rx.head,
                408,
                "the request body came too slowly",
                CloseReason::TooSlow,
            ),
            None => self.quiet_close(conn, CloseReason::Shutdown),
        }
    }

    /// Reads what the client has sent into the emptied input buffer.
    fn read_body(&mut self, conn: &Connection) -> Reading {
        self.input.clear();
        let read = self.read_input(conn, 0, self.input.buf.len());
        if let Reading::Bytes(n) = read {
            self.input.filled = n;
        }
        read
    }

    /// Decodes the unprocessed input into the store; returns the input bytes used.
    fn decode_into(&mut self, rx: &mut Receiving) -> Result<usize, (u16, &'static str)> {
        let in_memory = self.ctx.shared.config.body_buffer as u64;
        let mut bytes = &self.input.buf[self.input.start..self.input.filled];
        let before = bytes.len();
        let mut piece = [0u8; PIECE];
        loop {
            let n = rx
                .decoder
                .decode_buffered(&mut bytes, &mut piece)
                .map_err(|e| (e.status().unwrap_or(400), e.message()))?;
            if n == 0 {
                break;
            }
            rx.store
                .append(&piece[..n], in_memory)
                .map_err(|e| match e {
                    StoreError::OverBudget => {
                        (503, "the server's budget for request bodies is spent")
                    }
                    StoreError::Io(e) => {
                        log::error!("storing a request body: {e}");
                        (503, "the request body could not be stored")
                    }
                })?;
        }
        let used = before - bytes.len();
        self.input.start += used;
        Ok(used)
    }

    /// `Handle`: runs the handler on the stored head and the received body.
    pub(super) fn handle_received(&mut self, conn: &mut Connection, rx: Receiving) -> Step {
        let Receiving {
            head: head_bytes,
            store,
            ..
        } = rx;
        let config = &self.ctx.shared.config;
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() };
            crate::config::MAX_HEADERS_LIMIT];
        let head = match head::parse(&head_bytes, &mut headers, config) {
            head::Parsed::Complete(head) => head,
            // It parsed when it arrived; the same bytes cannot fail now.
            _ => return self.abort(CloseReason::BadRequest),
        };
        let reader = match store.into_reader() {
            Ok(reader) => reader,
            Err(e) => {
                log::error!("reading a stored request body: {e}");
                return self.abort(CloseReason::OverBudget);
            }
        };
        let link = Link {
            wire: &conn.wire,
            peer: conn.peer,
            served: conn.served,
        };
        let exchanged = exchange::run(
            self.ctx,
            &mut self.output,
            &mut self.clock,
            link,
            &head,
            &head_bytes,
            exchange::Given::Received(reader),
        );
        // The bytes after the body are already where the next head is read from.
        if exchanged.leftover.is_some() {
            self.answered(conn, exchanged.done);
        }
        self.after_exchange(conn, exchanged.after)
    }

    /// `Drain`: reads and discards what the handler left of a streamed body, within its
    /// budget of bytes and time, waiting in the poller for more.
    pub(super) fn drain(&mut self, conn: &Connection, mut drain: Box<Drain>) -> Step {
        let mut piece = [0u8; PIECE];
        loop {
            let mut bytes = &self.input.buf[self.input.start..self.input.filled];
            let before = bytes.len();
            loop {
                match drain.decoder.decode_buffered(&mut bytes, &mut piece) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => return self.start_linger(conn, CloseReason::BadBody),
                }
            }
            let used = before - bytes.len();
            self.input.start += used;
            drain.budget = drain.budget.saturating_sub(used as u64);
            if drain.decoder.is_complete() {
                return Step::Go(Phase::ReadHead);
            }
            if drain.budget == 0 {
                return self.start_linger(conn, CloseReason::BodyUnread);
            }
            match self.read_body(conn) {
                Reading::Bytes(_) => {}
                Reading::Nothing => return Step::Wait(Phase::Drain(drain)),
                Reading::Closed(reason) => return self.abort(reason),
            }
        }
    }

    /// Answers a body that cannot be received with a short error, logged under its head's
    /// request line, then lingers.
    fn refuse_body(
        &mut self,
        conn: &Connection,
        head: &[u8],
        status: u16,
        why: &'static str,
        reason: CloseReason,
    ) -> Step {
        let line = access_log::request_line(head);
        self.answer_error(
            conn,
            line,
            Refusal {
                status,
                reason: why,
            },
            reason,
        )
    }
}

/// Whether the body after a head (`bytes`) is all there, so it can be read from the buffer
/// without waiting on the client; the error if what is there is already known to be bad
/// (RFC 9112 §7.1: bad chunked framing), so the request is refused before its handler runs.
pub(super) fn body_is_buffered(
    bytes: &[u8],
    length: BodyLength,
    max: u64,
) -> Result<bool, BodyError> {
    match length {
        BodyLength::None => Ok(true),
        BodyLength::Length(n) => Ok(bytes.len() as u64 >= n),
        BodyLength::Chunked => {
            let mut decoder = Decoder::new(length, max);
            let mut bytes = bytes;
            let mut sink = [0u8; 4096];
            while decoder.decode_buffered(&mut bytes, &mut sink)? > 0 {}
            Ok(decoder.is_complete())
        }
    }
}
