//! `Write`: a response a client is slow to take goes on from where it stopped: its unsent
//! bytes, then the rest of its body (a file from its offset, zero-copy; the rest of a reader;
//! the rest of a body in memory).
//!
//! A worker writes what the socket takes and, when it would block, parks the connection in
//! the poller until there is room. A response is cut (and the connection closed) when no byte
//! moves for `write_timeout`, or when, past `min_rate_grace` of waiting, the client takes it
//! slower than `min_response_rate` (see `crate::pacing`); time a handler or a reader takes to
//! produce is not waiting.

use std::io;
use std::time::Instant;

use super::ctx::{is_client_error, log_io_error};
use super::exchange::log_access;
use super::parts::{Step, Worker};
use super::writer::{STREAM_CHUNK, SpliceEnd, ended_early, read_chunk, would_block};
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase};
use crate::http1::encode::LAST_CHUNK;
use crate::pacing::Stall;
use crate::sending::{Rest, Sending, Then};

impl Worker<'_> {
    /// `Write`: sends what the socket takes of the rest of the response, and waits in the
    /// poller for room for more.
    pub(super) fn write_phase(&mut self, conn: &Connection, mut sending: Box<Sending>) -> Step {
        match self.advance(conn, &mut sending) {
            Ok(true) => {
                self.log_sent(&sending, None);
                let then = std::mem::replace(&mut sending.then, Then::ReadHead);
                drop(sending);
                self.then(conn, then)
            }
            Ok(false) => {
                sending.pacing.blocked(Instant::now());
                Step::Wait(Phase::Write(sending))
            }
            Err(e) => {
                log_io_error("sending a response", &e);
                let reason = if is_client_error(&e) && e.kind() != io::ErrorKind::UnexpectedEof {
                    CloseReason::SocketError
                } else {
                    CloseReason::ResponseBodyFailed
                };
                self.cut(&sending, reason)
            }
        }
    }

    /// The client took too long (or the server is shutting down): the response is cut.
    pub(super) fn write_timed_out(&mut self, sending: &Sending) -> Step {
        let reason = match sending.pacing.stalled(Instant::now()) {
            Some(Stall::TimedOut) => CloseReason::SocketError,
            Some(Stall::TooSlow) => CloseReason::TooSlow,
            None => CloseReason::Shutdown,
        };
        self.cut(sending, reason)
    }

    /// Writes as much of the response as the socket takes: `true` once it is all out, `false`
    /// when a write would block.
    fn advance(&mut self, conn: &Connection, s: &mut Sending) -> io::Result<bool> {
        let mut w = self.output.writer(&conn.wire, self.ctx);
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
                    let want = left.map_or(STREAM_CHUNK, |l| l.min(STREAM_CHUNK as u64) as usize);
                    let n = read_chunk(&mut reader, &mut s.bytes, want, chunked)?;
                    if n == 0 {
                        if let Some(left) = left {
                            return Err(ended_early(s.body_sent, s.body_sent + left));
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

    /// Gives up on a response: its access line says so (` cut=<reason>`), and the connection
    /// is closed.
    fn cut(&mut self, sending: &Sending, reason: CloseReason) -> Step {
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
