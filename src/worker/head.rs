//! `ReadHead`: answers every whole request buffered, reads what the client has sent, and
//! waits in the poller for the rest.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::exchange::{self, After};
use super::parts::{Reading, SPARE_MIN, Step, Worker};
use super::receive::body_is_buffered;
use super::writer::OUT_FLUSH;
use crate::access_log;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase};
use crate::handler::BodyPolicy;
use crate::http1::decode::BodyError;
use crate::http1::head::{self, BodyLength, HeadInfo, Refusal};
use crate::request::RequestHead;
use crate::response::Response;

/// The answer to a head the client closed its sending side in the middle of.
const CUT_SHORT: Refusal = Refusal {
    status: 400,
    reason: "request head cut short by the client",
};

/// What looking at the buffered bytes gave.
enum Parsed {
    /// A request was answered; the exchange says how the connection goes on.
    Answered(After),
    /// No whole head is buffered yet.
    Partial,
    /// The head was refused with this status; answer and close.
    Refused(Refusal),
    /// The body, received with the head and not yet given to the handler, is malformed or
    /// too large; answer and close.
    BadBody(BodyError),
    /// The client opened with a TLS handshake.
    Tls,
    /// A head of `head_len` bytes whose body is received before the handler runs.
    Receive { head_len: usize, info: HeadInfo },
    /// The request waits for `100 Continue`, which must not overtake the responses still
    /// buffered: they go out first, and the request is read again.
    FlushFirst,
}

impl Worker<'_> {
    /// `ReadHead`: answers every whole request buffered, then reads more, until the
    /// connection closes, its turn is over, or it must wait for its client.
    pub(super) fn read_head(&mut self, conn: &mut Connection) -> Step {
        let mut answered = false;
        loop {
            if self.input.start < self.input.filled {
                if self.input.buf.len() - self.input.filled < SPARE_MIN && self.input.start > 0 {
                    self.input.compact();
                }
                match self.next_request(conn) {
                    Parsed::Answered(After::KeepAlive) => {
                        answered = true;
                        if self.output.buf.len() >= OUT_FLUSH || self.turn_is_over() {
                            match self.flush(conn) {
                                Ok(true) if self.turn_is_over() => return Step::Yield,
                                Ok(true) => {}
                                Ok(false) => {
                                    return Step::Go(self.output_first(conn, Phase::ReadHead));
                                }
                                Err(_) => return self.abort(CloseReason::SocketError),
                            }
                        }
                        continue;
                    }
                    Parsed::Answered(after) => return self.after_exchange(conn, after),
                    Parsed::Receive { head_len, info } => {
                        return self.start_receiving(conn, head_len, info);
                    }
                    Parsed::FlushFirst => {
                        return match self.output_first(conn, Phase::ReadHead) {
                            Phase::ReadHead => continue,
                            other => Step::Go(other),
                        };
                    }
                    Parsed::Tls => return self.quiet_close(conn, CloseReason::Tls),
                    Parsed::Partial => {}
                    Parsed::Refused(refusal) => {
                        return self.refuse(conn, refusal, CloseReason::BadRequest);
                    }
                    Parsed::BadBody(e) => {
                        let refusal = Refusal {
                            status: e.status().unwrap_or(400),
                            reason: e.message(),
                        };
                        return self.refuse(conn, refusal, CloseReason::BadBody);
                    }
                }
            }
            if answered && self.drained {
                // The client reads these answers before it sends more: no read would find
                // anything yet, and what comes raises a readiness edge for the poller.
                return Step::Wait(Phase::ReadHead);
            }
            match self.read_more(conn) {
                Reading::Bytes(_) => {}
                Reading::Nothing => return Step::Wait(Phase::ReadHead),
                // Every whole request buffered was answered above: what is left is a head
                // the client stopped sending. RFC 9112 §8: a server that receives an
                // incomplete request "MAY send an error response prior to closing the
                // connection"; runserver answers (and logs) `printf GARBAGE | nc` so.
                Reading::Closed(CloseReason::ClientClosed)
                    if self.input.start < self.input.filled =>
                {
                    return self.refuse(conn, CUT_SHORT, CloseReason::BadRequest);
                }
                Reading::Closed(reason) => return self.abort(reason),
            }
        }
    }

    /// Reads what the client has sent after the unprocessed bytes, up to `max_head` in all.
    fn read_more(&mut self, conn: &mut Connection) -> Reading {
        let input = &mut self.input;
        if input.start == input.filled {
            input.clear();
        } else if input.start > 0 {
            input.compact();
        }
        // Heads are read only up to `max_head`, so the space past it stays free for a body.
        let limit = self.ctx.shared.config.max_head;
        let filled = input.filled;
        if filled >= limit {
            return Reading::Closed(CloseReason::BadRequest);
        }
        let read = self.read_input(conn, filled, limit);
        if let Reading::Bytes(n) = read {
            if filled == 0 {
                conn.head_started = Some(std::time::Instant::now());
            }
            self.input.filled += n;
        }
        read
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
                    length => {
                        let max = config.max_buffered_body;
                        match body_is_buffered(&data[head_len..], length, max) {
                            // All here already: read from the buffer, never waiting on the
                            // client.
                            Ok(true) => {
                                max_body = max;
                                expect_continue = false;
                            }
                            Ok(false) => {
                                return Parsed::Receive {
                                    head_len,
                                    info: head.info,
                                };
                            }
                            // Known bad before the handler runs: it never sees the request.
                            Err(e) => return Parsed::BadBody(e),
                        }
                    }
                },
            }
        }
        if expect_continue && refused.is_none() && !self.output.buf.is_empty() {
            return Parsed::FlushFirst;
        }
        if !matches!(head.info.body, BodyLength::None | BodyLength::Length(0)) {
            // The body's reads stop where it ends: more may wait in the socket.
            self.drained = false;
        }
        let link = exchange::Link {
            wire: &conn.wire,
            peer: conn.peer,
            served: conn.served,
        };
        let given = exchange::Given::Socket {
            spare,
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

    /// Notes a request answered on `conn`, its response done at `done` (µs since the start).
    pub(super) fn answered(&mut self, conn: &mut Connection, done: u64) {
        conn.served += 1;
        let now = self.ctx.shared.instant_at(done);
        conn.idle_since = now;
        conn.head_started = (self.input.start < self.input.filled).then_some(now);
    }

    /// Answers a refused request with a short error, logged under the request line at the
    /// start of the input, then lingers.
    fn refuse(&mut self, conn: &Connection, refusal: Refusal, reason: CloseReason) -> Step {
        let input = &self.input;
        let line = access_log::request_line(&input.buf[input.start..input.filled]).to_vec();
        self.answer_error(conn, &line, refusal, reason)
    }

    /// The head did not arrive in time: `408`, then linger.
    pub(super) fn head_timed_out(&mut self, conn: &Connection) -> Step {
        let refusal = Refusal {
            status: 408,
            reason: "timed out reading the request head",
        };
        self.refuse(conn, refusal, CloseReason::HeaderTimeout)
    }
}

/// The body policy for `head`; a panic in it is answered `500`.
fn policy(ctx: super::ctx::Ctx<'_>, head: &head::Head<'_, '_>) -> BodyPolicy {
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
