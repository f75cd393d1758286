//! `Write`: a response a client is slow to take goes on from where it stopped: its unsent
//! bytes, then the rest of its body (a file from its offset, zero-copy; the rest of a reader;
//! the rest of a body in memory).
//!
//! While others wait, a connection whose write would block goes back to the queue with its
//! response, its socket non-blocking, and is glanced at (one write) when it comes round; once
//! the running workers have each glanced at their share of the queue and found nothing
//! writable, the worker waits in place for one write slice, so blocked writers are never spun
//! through. A response is cut (and the connection closed) when no byte moves for
//! `write_timeout`, or when, past `min_rate_grace` of waiting, the client takes it slower than
//! `min_response_rate`; time a handler or a reader takes to produce is not waiting.

use std::io;
use std::time::Instant;

use super::exchange::{After, log_access};
use super::writer::{SpliceEnd, read_chunk, would_block};
use super::{Next, Worker, log_io_error};
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase};
use crate::http1::encode::LAST_CHUNK;
use crate::sending::{Rest, Sending, Then};

impl Worker<'_> {
    /// `Write`: sends what is left of the response, giving way while others wait.
    pub(super) fn write_phase(&mut self, conn: &mut Connection) -> Next {
        let Some(mut sending) = conn.sending.take() else {
            return Next::Phase(Phase::Close(CloseReason::Panicked));
        };
        let config = &self.ctx.shared.config;
        loop {
            let now = Instant::now();
            match self.advance(conn, &mut sending) {
                Ok(true) => return Next::Phase(self.sent(conn, *sending)),
                Ok(false) => {}
                Err(e) => {
                    log_io_error("sending a response", &e);
                    let reason =
                        if super::is_client_error(&e) && e.kind() != io::ErrorKind::UnexpectedEof {
                            CloseReason::SocketError
                        } else {
                            CloseReason::ResponseBodyFailed
                        };
                    return Next::Phase(self.cut(&sending, reason));
                }
            }
            sending.waits(now);
            let shutting_down = self.ctx.shared.shutting_down();
            let stalled = now.saturating_duration_since(sending.last_progress);
            if stalled >= config.write_timeout {
                return Next::Phase(self.cut(&sending, CloseReason::SocketError));
            }
            if shutting_down && sending.waited(now) >= config.shutdown_grace {
                return Next::Phase(self.cut(&sending, CloseReason::Shutdown));
            }
            if sending.too_slow(now, config.min_response_rate, config.min_rate_grace) {
                return Next::Phase(self.cut(&sending, CloseReason::TooSlow));
            }
            // While shutting down a response is finished in place, within `shutdown_grace`:
            // handed back, it would only meet the workers' stop messages.
            if self.pressure() && !shutting_down && self.sweeping() {
                self.missed();
                if !conn.swept {
                    if conn.stream.set_nonblocking(true).is_err() {
                        return Next::Phase(self.cut(&sending, CloseReason::SocketError));
                    }
                    conn.swept = true;
                }
                conn.sending = Some(sending);
                conn.phase = Phase::Write;
                return Next::HandBack;
            }
            // Nothing else to do: wait in place, one write slice at a time.
            self.start_over();
            if conn.swept {
                conn.swept = false;
                if conn.stream.set_nonblocking(false).is_err() {
                    return Next::Phase(self.cut(&sending, CloseReason::SocketError));
                }
            }
        }
    }

    /// Writes as much of the response as the socket takes: `true` once it is all out, `false`
    /// when a write would block.
    fn advance(&mut self, conn: &Connection, s: &mut Sending) -> io::Result<bool> {
        let mut w = self.output.writer(&conn.stream, self.ctx);
        loop {
            let now = Instant::now();
            if s.at < s.bytes.len() {
                match w.write_some(&s.bytes[s.at..]) {
                    Ok(n) => s.wrote(n, now),
                    Err(e) if would_block(&e) => return Ok(false),
                    Err(e) => return Err(e),
                }
                continue;
            }
            s.bytes.clear();
            s.at = 0;
            s.not_body = 0;
            match std::mem::replace(&mut s.rest, Rest::None) {
                Rest::None => return Ok(true),
                Rest::Static([]) => {}
                Rest::Static(b) => match w.write_some(b) {
                    Ok(n) => {
                        s.moved(n, n, now);
                        s.rest = Rest::Static(&b[n..]);
                    }
                    Err(e) if would_block(&e) => {
                        s.rest = Rest::Static(b);
                        return Ok(false);
                    }
                    Err(e) => return Err(e),
                },
                Rest::Bytes(v, at) if at >= v.len() => {}
                Rest::Bytes(v, at) => match w.write_some(&v[at..]) {
                    Ok(n) => {
                        s.moved(n, n, now);
                        s.rest = Rest::Bytes(v, at + n);
                    }
                    Err(e) if would_block(&e) => {
                        s.rest = Rest::Bytes(v, at);
                        return Ok(false);
                    }
                    Err(e) => return Err(e),
                },
                Rest::File { left: 0, .. } => {}
                Rest::File { file, left } => match w.splice(file, left) {
                    Ok(n) => s.moved(n as usize, n as usize, now),
                    Err(SpliceEnd::Blocked {
                        sent,
                        in_pipe,
                        file,
                        left,
                    }) => {
                        s.moved(sent as usize, sent as usize, now);
                        s.bytes = in_pipe;
                        s.rest = Rest::File { file, left };
                        if s.bytes.is_empty() {
                            return Ok(false);
                        }
                    }
                    Err(SpliceEnd::Failed(e)) => return Err(e),
                },
                Rest::Reader {
                    mut reader,
                    left,
                    chunked,
                } => {
                    if left == Some(0) {
                        continue;
                    }
                    let want = left.map_or(super::writer::STREAM_CHUNK, |l| {
                        l.min(super::writer::STREAM_CHUNK as u64) as usize
                    });
                    let n = read_chunk(&mut reader, &mut s.bytes, want, chunked)?;
                    if n == 0 {
                        if let Some(left) = left {
                            return Err(super::writer::ended_early(
                                s.body_sent,
                                s.body_sent + left,
                            ));
                        }
                        if chunked {
                            s.bytes.extend_from_slice(LAST_CHUNK);
                            s.not_body = LAST_CHUNK.len();
                        }
                        continue;
                    }
                    // Data bytes count as body when read; the framing around them does not.
                    s.body_sent += n as u64;
                    s.not_body = s.bytes.len();
                    s.rest = Rest::Reader {
                        reader,
                        left: left.map(|l| l - n as u64),
                        chunked,
                    };
                }
            }
        }
    }

    /// The response is all out: log it, and go on as the exchange decided.
    fn sent(&mut self, conn: &mut Connection, sending: Sending) -> Phase {
        self.log_sent(&sending, None);
        if conn.swept {
            conn.swept = false;
            if conn.stream.set_nonblocking(false).is_err() {
                return self.abort(CloseReason::SocketError);
            }
        }
        let after = match sending.then {
            Then::KeepAlive => After::KeepAlive,
            Then::Drain(decoder) => After::Drain(Box::new(decoder)),
            Then::Linger(reason) => After::Linger(reason),
        };
        self.after_exchange(conn, after)
    }

    /// Gives up on a response: its access line says so (` cut=<reason>`), and the connection
    /// is closed.
    fn cut(&mut self, sending: &Sending, reason: CloseReason) -> Phase {
        self.log_sent(sending, Some(reason));
        self.abort(reason)
    }

    /// Writes the access line kept for the response, with the body bytes it sent.
    fn log_sent(&self, sending: &Sending, cut: Option<CloseReason>) {
        if let Some(entry) = &sending.entry {
            let (line, status, size) = (&entry.line, entry.status, sending.body_sent);
            let at = self.ctx.shared.micros_since_start();
            log_access(self.ctx, line, status, size, entry.timings, cut, at);
        }
    }
}
