//! The phases that wait on a client's request body: `ReceiveBody` (the whole body into the
//! connection's store before the handler runs), `Handle` (the handler on the stored head and
//! body) and `Drain` (what a handler left of a streamed body, after its response).
//!
//! Each reads the socket by the pool's waiting rules (`wait`), so a client slow to send holds
//! no worker: its connection goes back to the queue, still in its phase, and is glanced at
//! when it comes round.

use std::time::{Duration, Instant};

use super::exchange::{self, After, Link};
use super::wait::Got;
use super::{Next, Worker};
use crate::access_log;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Drain, Phase};
use crate::http1::decode::{BodyError, Decoder};
use crate::http1::encode::CONTINUE;
use crate::http1::head::{self, BodyLength, HeadInfo, Refusal};
use crate::received::{Receiving, Store, StoreError};

/// Decoded body bytes are copied out of the read buffer in pieces of this size.
const PIECE: usize = 16 * 1024;

impl Worker<'_> {
    /// Starts receiving the body of the head of `head_len` bytes at the start of the
    /// unprocessed input: the head is copied (the buffer is reused between turns), and
    /// `100 Continue` sent if the client waits for it.
    pub(super) fn start_receiving(
        &mut self,
        conn: &mut Connection,
        head_len: usize,
        info: HeadInfo,
    ) -> Phase {
        let config = &self.ctx.shared.config;
        let start = self.input.start;
        let head = self.input.buf[start..start + head_len].to_vec();
        self.input.start += head_len;
        if info.expect_continue {
            // After the answers to earlier pipelined requests, which must not be overtaken.
            self.output.buf.extend_from_slice(CONTINUE);
            if self.flush(conn).is_err() {
                return self.abort(CloseReason::SocketError);
            }
        }
        let now = Instant::now();
        conn.receiving = Some(Box::new(Receiving {
            head,
            decoder: Decoder::new(info.body, config.max_buffered_body),
            store: Store::new(self.ctx.shared.budgets.clone()),
            wire: 0,
            since: now,
            last_byte: now,
        }));
        Phase::ReceiveBody
    }

    /// `ReceiveBody`: decodes what has arrived into the store and waits for the rest, giving
    /// way while others wait.
    pub(super) fn receive_body(&mut self, conn: &mut Connection) -> Next {
        let Some(mut rx) = conn.receiving.take() else {
            return Next::Phase(Phase::Close(CloseReason::Panicked));
        };
        loop {
            let used = match self.decode_into(&mut rx) {
                Ok(used) => used,
                Err(refusal) => {
                    let (status, why) = refusal;
                    let reason = if status == 503 {
                        CloseReason::OverBudget
                    } else {
                        CloseReason::BadBody
                    };
                    return Next::Phase(self.refuse_body(conn, &rx.head, status, why, reason));
                }
            };
            rx.wire += used as u64;
            if rx.decoder.is_complete() {
                conn.receiving = Some(rx);
                return Next::Phase(Phase::Handle);
            }
            if !self.output.buf.is_empty() && self.flush(conn).is_err() {
                return Next::Phase(self.abort(CloseReason::SocketError));
            }
            self.input.clear();
            let config = &self.ctx.shared.config;
            let deadline = body_deadline(&rx, config);
            let until = self.input.buf.len();
            match self.read_within(conn, 0, until, deadline) {
                Got::Bytes(n) => {
                    self.input.filled = n;
                    rx.last_byte = Instant::now();
                    self.count_in(n);
                }
                Got::GiveWay => {
                    conn.receiving = Some(rx);
                    return Next::HandBack;
                }
                Got::Closed(_) => {
                    return Next::Phase(self.start_linger(conn, CloseReason::BodyIncomplete));
                }
                Got::Stopped if self.ctx.shared.shutting_down() => {
                    return Next::Phase(self.quiet_close(conn, CloseReason::Shutdown));
                }
                Got::Stopped => {
                    let now = Instant::now();
                    let timed_out = now >= rx.last_byte + config.body_timeout;
                    let (why, reason) = if timed_out {
                        ("timed out reading the request body", CloseReason::BadBody)
                    } else {
                        ("the request body came too slowly", CloseReason::TooSlow)
                    };
                    return Next::Phase(self.refuse_body(conn, &rx.head, 408, why, reason));
                }
            }
        }
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
                .map_err(|e| (e.status().unwrap_or(400), body_error_reason(e)))?;
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
    pub(super) fn handle_received(&mut self, conn: &mut Connection, answered: &mut bool) -> Next {
        let Some(rx) = conn.receiving.take() else {
            return Next::Phase(Phase::Close(CloseReason::Panicked));
        };
        let Receiving {
            head: head_bytes,
            store,
            ..
        } = *rx;
        let config = &self.ctx.shared.config;
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() };
            crate::config::MAX_HEADERS_LIMIT];
        let head = match head::parse(&head_bytes, &mut headers, config) {
            head::Parsed::Complete(head) => head,
            // It parsed when it arrived; the same bytes cannot fail now.
            _ => return Next::Phase(self.abort(CloseReason::BadRequest)),
        };
        let reader = match store.into_reader() {
            Ok(reader) => reader,
            Err(e) => {
                log::error!("reading a stored request body: {e}");
                return Next::Phase(self.abort(CloseReason::OverBudget));
            }
        };
        let link = Link {
            stream: &conn.stream,
            wire: &conn.stream,
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
            *answered = true;
        }
        Next::Phase(self.after_exchange(conn, exchanged.after))
    }

    /// `Drain`: reads and discards what the handler left of a streamed body, within its
    /// budget of bytes and time, giving way while others wait.
    pub(super) fn drain(&mut self, conn: &mut Connection, mut drain: Drain) -> Next {
        let mut piece = [0u8; PIECE];
        loop {
            let mut bytes = &self.input.buf[self.input.start..self.input.filled];
            let before = bytes.len();
            loop {
                match drain.decoder.decode_buffered(&mut bytes, &mut piece) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => return Next::Phase(self.start_linger(conn, CloseReason::BadBody)),
                }
            }
            let used = before - bytes.len();
            self.input.start += used;
            drain.budget = drain.budget.saturating_sub(used as u64);
            if drain.decoder.is_complete() {
                return Next::Phase(Phase::ReadHead);
            }
            if drain.budget == 0 {
                return Next::Phase(self.start_linger(conn, CloseReason::BodyUnread));
            }
            if !self.output.buf.is_empty() && self.flush(conn).is_err() {
                return Next::Phase(self.abort(CloseReason::SocketError));
            }
            self.input.clear();
            let until = self.input.buf.len();
            match self.read_within(conn, 0, until, drain.deadline) {
                Got::Bytes(n) => {
                    self.input.filled = n;
                    self.count_in(n);
                }
                Got::GiveWay => {
                    conn.phase = Phase::Drain(Box::new(drain));
                    return Next::HandBack;
                }
                Got::Closed(reason) => return Next::Phase(self.abort(reason)),
                Got::Stopped => {
                    return Next::Phase(self.start_linger(conn, CloseReason::BodyUnread));
                }
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
    ) -> Phase {
        log::debug!("{}: {status} {why}", conn.peer);
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

    /// The phase an exchange's end leads to.
    pub(super) fn after_exchange(&mut self, conn: &mut Connection, after: After) -> Phase {
        match after {
            After::KeepAlive => Phase::ReadHead,
            After::Drain(decoder) => Phase::Drain(Box::new(Drain {
                decoder: *decoder,
                budget: self.ctx.shared.config.max_drain,
                deadline: Instant::now() + self.ctx.shared.config.linger_time,
            })),
            After::Linger(reason) => self.start_linger(conn, reason),
            After::Abort(reason) => self.abort(reason),
            After::Write(sending) => {
                conn.sending = Some(sending);
                Phase::Write
            }
        }
    }
}

/// When waiting for more of a body must end: `body_timeout` after its last byte, or the
/// moment it falls behind `min_body_rate` (counted from the start, once the grace is over).
fn body_deadline(rx: &Receiving, config: &crate::Config) -> Instant {
    let timeout = rx.last_byte + config.body_timeout;
    if config.min_body_rate == 0 {
        return timeout;
    }
    let on_schedule = Duration::from_secs_f64(rx.wire as f64 / config.min_body_rate as f64);
    timeout.min(rx.since + on_schedule.max(config.min_rate_grace))
}

fn body_error_reason(e: BodyError) -> &'static str {
    match e {
        BodyError::Malformed => "malformed chunked body",
        BodyError::TooLarge => "request body too large",
        BodyError::Timeout => "timed out reading the request body",
        BodyError::Incomplete => "connection closed before the body ended",
    }
}

/// True if the body after a head (`bytes`) is all there, or already known to be bad: it can
/// be read from the buffer without waiting on the client.
pub(super) fn body_is_buffered(bytes: &[u8], length: BodyLength, max: u64) -> bool {
    match length {
        BodyLength::None => true,
        BodyLength::Length(n) => bytes.len() as u64 >= n,
        BodyLength::Chunked => {
            let mut decoder = Decoder::new(length, max);
            let mut bytes = bytes;
            let mut sink = [0u8; 4096];
            loop {
                match decoder.decode_buffered(&mut bytes, &mut sink) {
                    Ok(0) => return decoder.is_complete(),
                    Ok(_) => {}
                    Err(_) => return true,
                }
            }
        }
    }
}
