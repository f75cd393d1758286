//! The worker's writer: the socket of the connection being served, the worker's reusable
//! output buffer and pipe, and the counters, together for one turn.
//!
//! Small responses are appended to the output buffer, so pipelined answers leave in one
//! `write`; large and streamed bodies flush it and go straight to the socket (files spliced
//! zero-copy on Linux). Every `write` and every byte is counted in the worker's stats slot.
//!
//! Sockets are non-blocking (`crate::wire`): a write to a client slow to read comes back at
//! once. The response then stops where it is and becomes a [`Sending`] (the buffered bytes not
//! yet written, then the rest of the body: the file and offset, the reader, the bytes), and
//! the connection waits for room in the poller (`worker::send`). Only a body the handler
//! chose to make on its worker (one pinned to it, an echo of the request body) waits in
//! place, within `write_timeout` and `min_response_rate`. This module decides nothing about
//! HTTP beyond the chunked coding of streamed bodies.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering::Relaxed;

use super::ctx::{Ctx, log_io_error};
use crate::body::Body;
use crate::http1::encode::{self, CHUNK_PREFIX, Framing, LAST_CHUNK};
use crate::pacing::Pacing;
use crate::response::Payload;
use crate::sending::{Rest, Sending};
use crate::stats::WorkerState;
use crate::wire::Wire;

/// Response bodies up to this size are copied into the output buffer, so pipelined responses
/// leave in one `write`; larger ones are written from where they are.
pub(super) const COALESCE_MAX: usize = 16 * 1024;
/// Buffered responses are flushed once they reach this size, pipelined or not.
pub(super) const OUT_FLUSH: usize = 64 * 1024;
/// Size of each chunk read from a streamed response body.
pub(super) const STREAM_CHUNK: usize = 16 * 1024;
/// The most of a pinned body (one that must be read on its worker, `Response::pin_to_worker`)
/// read ahead into memory for a client slow to take it, beside the server-wide
/// `max_buffered_memory`: a body that ends within it waits in the queue with its rest like
/// any other, so a slow reader holds the worker no longer than the body takes to make (a
/// WSGI iterable done, its worker free). A longer one is written in place, as before.
pub(super) const PINNED_READ_AHEAD: usize = 1 << 20;
#[cfg(target_os = "linux")]
use crate::splice::Splicer;

/// Elsewhere files go through plain reads and writes.
#[cfg(not(target_os = "linux"))]
#[derive(Default)]
pub(crate) struct Splicer;

/// What a worker keeps for writing from one connection to the next: the output buffer and
/// the pipe that large files are spliced through.
pub(crate) struct Output {
    pub(crate) buf: Vec<u8>,
    pub(crate) splicer: Splicer,
}

impl Output {
    pub(super) fn new() -> Output {
        Output {
            buf: Vec::with_capacity(OUT_FLUSH + COALESCE_MAX),
            splicer: Splicer::default(),
        }
    }

    /// The writer to `wire` for this turn.
    pub(super) fn writer<'a>(&'a mut self, wire: &'a Wire, ctx: Ctx<'a>) -> Writer<'a> {
        Writer {
            wire,
            out: &mut self.buf,
            splicer: &mut self.splicer,
            ctx,
        }
    }
}

/// Why a body stopped before its end.
pub(super) enum SendError {
    /// The client is slow to take it: go on with what is left.
    Blocked(Box<Sending>),
    Failed(io::Error),
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> SendError {
        SendError::Failed(e)
    }
}

/// True for the errors of a write that timed out waiting for room (or a non-blocking one).
pub(super) fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Writes responses to one connection's socket.
pub(super) struct Writer<'a> {
    wire: &'a Wire,
    out: &'a mut Vec<u8>,
    splicer: &'a mut Splicer,
    ctx: Ctx<'a>,
}

impl Writer<'_> {
    /// The output buffer, for heads to be encoded into.
    pub(super) fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Writes what the socket takes of the buffered responses now, with the worker `Writing`
    /// meanwhile: true if all went; otherwise the rest stays in the buffer.
    pub(super) fn flush(&mut self) -> io::Result<bool> {
        let slot = self.ctx.slot;
        if slot.state() != WorkerState::Writing {
            slot.set_busy(WorkerState::Writing, self.ctx.shared.micros_since_start());
        }
        let result = self.write_out();
        slot.set_state(WorkerState::Reading);
        if let Err(e) = &result {
            log_io_error("sending a response", e);
        }
        result
    }

    /// Writes what the socket takes of the output buffer now: true if it is all out (the
    /// buffer is then empty); otherwise the unwritten rest stays in it.
    pub(super) fn write_out(&mut self) -> io::Result<bool> {
        let mut at = 0;
        let result = loop {
            if at == self.out.len() {
                break Ok(true);
            }
            match self.write_some(&self.out[at..]) {
                Ok(n) => at += n,
                Err(e) if would_block(&e) => break Ok(false),
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(true) | Err(_) => self.out.clear(),
            Ok(false) => {
                self.out.drain(..at);
            }
        }
        result
    }

    /// The buffered bytes that did not go, and `rest` after them, as a response for the
    /// poller to wait on (the buffer is left empty); `sent` body bytes went before. None of
    /// the buffered bytes are body.
    pub(super) fn pending(&mut self, sent: u64, rest: Rest) -> Box<Sending> {
        let bytes = self.out.to_vec();
        self.out.clear();
        let not_body = bytes.len();
        let pacing = Pacing::response(&self.ctx.shared.config);
        let mut sending = Box::new(Sending::new(bytes, rest, not_body, pacing));
        sending.body_sent = sent;
        sending
    }

    /// [`pending`](Self::pending), as a body stopped for a slow client: `sent` of its bytes
    /// gone, `rest` to follow.
    fn park_rest(&mut self, sent: u64, rest: Rest) -> SendError {
        SendError::Blocked(self.pending(sent, rest))
    }

    /// Writes the output buffer all out, waiting in place for a slow client (only for a body
    /// the handler makes on this worker).
    fn write_out_here(&mut self) -> io::Result<()> {
        let result = write_waiting(self.wire, self.out, self.ctx);
        self.out.clear();
        result
    }

    /// Sends a response body after its head (which is in the output buffer), framed as the
    /// head said; `movable` if the body may be carried on by another worker. Returns the
    /// body bytes sent, or where it stopped.
    pub(super) fn send_body(
        &mut self,
        payload: Payload,
        framing: Framing,
        movable: bool,
    ) -> Result<u64, SendError> {
        if framing == Framing::None {
            return Ok(0);
        }
        match payload {
            // Sent by `echo`, which has the body; nothing to send without it.
            Payload::Empty | Payload::RequestBody { .. } => Ok(0),
            Payload::Static(bytes) if bytes.len() <= COALESCE_MAX => Ok(self.coalesce(bytes)),
            Payload::Bytes(bytes) if bytes.len() <= COALESCE_MAX => Ok(self.coalesce(&bytes)),
            Payload::Static(bytes) => {
                if !self.write_out()? {
                    return Err(self.park_rest(0, Rest::Static(bytes)));
                }
                match self.write_some(bytes) {
                    Ok(n) if n == bytes.len() => Ok(n as u64),
                    Ok(n) => Err(self.park_rest(n as u64, Rest::Static(&bytes[n..]))),
                    Err(e) if would_block(&e) => Err(self.park_rest(0, Rest::Static(bytes))),
                    Err(e) => Err(SendError::Failed(e)),
                }
            }
            Payload::Bytes(bytes) => {
                if !self.write_out()? {
                    return Err(self.park_rest(0, Rest::Bytes(bytes, 0)));
                }
                let len = bytes.len();
                match self.write_some(&bytes) {
                    Ok(n) if n == len => Ok(len as u64),
                    Ok(n) => Err(self.park_rest(n as u64, Rest::Bytes(bytes, n))),
                    Err(e) if would_block(&e) => Err(self.park_rest(0, Rest::Bytes(bytes, 0))),
                    Err(e) => Err(SendError::Failed(e)),
                }
            }
            Payload::File { file, len } if len <= COALESCE_MAX as u64 => {
                self.send_small_file(file, len as usize)
            }
            Payload::File { file, len } => self.send_file(file, len),
            // Its first bytes; the rest goes out from the `Stream` phase.
            Payload::Stream(stream) => {
                let first = stream.take();
                crate::stream_state::frame(&first, framing == Framing::Chunked, self.out());
                Ok(first.len() as u64)
            }
            Payload::Reader { reader, len } => {
                let chunked = len.is_none() && framing == Framing::Chunked;
                if !movable {
                    return self.send_reader_here(reader, len, chunked);
                }
                // Read and sent from the `Write` phase, a piece per turn.
                let rest = Rest::Reader {
                    reader,
                    left: len,
                    chunked,
                };
                Err(self.park_rest(0, rest))
            }
        }
    }

    /// Appends a small body to the buffer, to leave with the next flush.
    fn coalesce(&mut self, bytes: &[u8]) -> u64 {
        self.out.extend_from_slice(bytes);
        bytes.len() as u64
    }

    /// Sends the rest of the request body back as the response body (see
    /// [`Response::echo_body`](crate::Response::echo_body)), framed as the head said. The
    /// body is read from this connection as it is sent, so this waits in place.
    pub(super) fn echo(&mut self, body: &mut Body<'_>, framing: Framing) -> io::Result<u64> {
        self.write_out_here()?;
        match framing {
            Framing::Length(len) => self.copy_here(body, Some(len), false),
            Framing::Chunked => self.copy_here(body, None, true),
            Framing::None | Framing::Close => Ok(0),
        }
    }

    /// Sends a reader that must stay on this worker. Chunks go out as they are read while
    /// the client takes them; once a write would block, the rest is read ahead into memory
    /// (up to [`PINNED_READ_AHEAD`], within the memory budget): a reader that ends within it
    /// is dropped here, on its worker, and its rest waits in the queue with the connection
    /// (`Blocked`); otherwise what was read is written in place and the copy goes on so.
    fn send_reader_here(
        &mut self,
        mut reader: Box<dyn Read + Send>,
        len: Option<u64>,
        chunked: bool,
    ) -> Result<u64, SendError> {
        self.write_out_here()?;
        let mut total = 0u64;
        loop {
            let want = next_want(len, total);
            if want == 0 {
                return Ok(total);
            }
            let n = read_chunk(&mut reader, self.out, want, chunked)?;
            if n == 0 {
                // The last chunk, if any, leaves with the next flush.
                self.out.clear();
                self.out.extend_from_slice(body_end(total, len, chunked)?);
                return Ok(total);
            }
            total += n as u64;
            let written = match self.write_some(self.out) {
                Ok(w) => w,
                Err(e) if would_block(&e) => 0,
                Err(e) => {
                    self.out.clear();
                    return Err(e.into());
                }
            };
            if written == self.out.len() {
                self.out.clear();
                continue;
            }
            let mut ahead = self.out[written..].to_vec();
            self.out.clear();
            match self.read_ahead(&mut reader, &mut ahead, len, &mut total, chunked) {
                Ok(Some(hold)) => {
                    drop(reader);
                    let mut sending = self.pending(total, Rest::None);
                    // The data bytes were counted as body when read; none of these again.
                    sending.not_body = ahead.len();
                    sending.bytes = ahead;
                    sending.hold = Some(hold);
                    return Err(SendError::Blocked(sending));
                }
                Ok(None) => write_waiting(self.wire, &ahead, self.ctx)?,
                Err(e) => {
                    // Ended early: what it made goes out, then the connection closes.
                    let _ = write_waiting(self.wire, &ahead, self.ctx);
                    return Err(e.into());
                }
            }
        }
    }

    /// Reads the rest of a pinned reader onto `ahead` (already framed, the last chunk
    /// included) while it fits [`PINNED_READ_AHEAD`]: the memory budget held for it if the
    /// reader ended within that, `None` if it did not or the budget is spent.
    fn read_ahead(
        &mut self,
        reader: &mut Box<dyn Read + Send>,
        ahead: &mut Vec<u8>,
        len: Option<u64>,
        total: &mut u64,
        chunked: bool,
    ) -> io::Result<Option<crate::received::MemoryHold>> {
        loop {
            let want = next_want(len, *total);
            if want == 0 {
                break;
            }
            if ahead.len() >= PINNED_READ_AHEAD {
                return Ok(None);
            }
            let n = read_chunk(reader, self.out, want, chunked)?;
            if n == 0 {
                self.out.clear();
                ahead.extend_from_slice(body_end(*total, len, chunked)?);
                break;
            }
            *total += n as u64;
            ahead.extend_from_slice(self.out);
            self.out.clear();
        }
        Ok(self.ctx.shared.budgets.hold_memory(ahead.len() as u64))
    }

    /// Copies `reader` to the socket, `len` bytes exactly if given, chunked if asked, one
    /// chunk per read and each chunk in one `write`, waiting in place. The last chunk stays
    /// in the buffer, to leave with the next flush.
    fn copy_here(
        &mut self,
        mut reader: impl Read,
        len: Option<u64>,
        chunked: bool,
    ) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            let want = next_want(len, total);
            if want == 0 {
                return Ok(total);
            }
            let n = read_chunk(&mut reader, self.out, want, chunked)?;
            if n == 0 {
                self.out.clear();
                self.out.extend_from_slice(body_end(total, len, chunked)?);
                return Ok(total);
            }
            write_waiting(self.wire, self.out, self.ctx)?;
            self.out.clear();
            total += n as u64;
        }
    }

    /// Appends a small file to the buffer, to leave with its head in one `write`: for a file
    /// of a few KiB, `read` into the buffer costs less than a second `write` plus a splice
    /// (and a pipelined burst of small files leaves in one `write`). A file that shrank since
    /// its length was taken ends the connection after the head and what was read.
    fn send_small_file(&mut self, mut file: std::fs::File, len: usize) -> Result<u64, SendError> {
        let start = self.out.len();
        self.out.resize(start + len, 0);
        let mut filled = 0;
        while filled < len {
            match file.read(&mut self.out[start + filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.out.truncate(start);
                    return Err(e.into());
                }
            }
        }
        if filled < len {
            // What was read goes out with the head (what the socket takes now), then the
            // connection closes.
            self.out.truncate(start + filled);
            self.write_out()?;
            return Err(ended_early(filled as u64, len as u64).into());
        }
        Ok(len as u64)
    }

    /// Sends a large file after its head: spliced through the worker's pipe on Linux
    /// (zero-copy; see `splice`), else read and written in pieces.
    fn send_file(&mut self, file: std::fs::File, len: u64) -> Result<u64, SendError> {
        if !self.write_out()? {
            return Err(self.park_rest(0, Rest::File { file, left: len }));
        }
        match self.splice(file, len) {
            Ok(n) => Ok(n),
            Err(SpliceEnd::Blocked {
                sent,
                in_pipe,
                file,
                left,
            }) => {
                let mut sending = self.pending(sent, Rest::File { file, left });
                sending.bytes = in_pipe;
                Err(SendError::Blocked(sending))
            }
            Err(SpliceEnd::Failed(e)) => Err(SendError::Failed(e)),
        }
    }

    /// Sends `len` bytes of `file`, from its current position, to the socket, zero-copy:
    /// `sendfile(2)` on Linux (one system call for the whole file while the socket takes it),
    /// the worker's pipe where `sendfile` refuses the file, plain reads and writes elsewhere.
    /// Counts what went.
    pub(super) fn splice(&mut self, file: std::fs::File, len: u64) -> Result<u64, SpliceEnd> {
        #[cfg(target_os = "linux")]
        let file = match self.sendfile(file, len) {
            Ok(result) => return result,
            Err(file) => file,
        };
        #[cfg(target_os = "linux")]
        let file = match self.splicer.send(file, len, self.wire) {
            Ok(Ok(n)) => return self.finish_exact(n, len).map_err(SpliceEnd::Failed),
            Ok(Err(stop)) => {
                self.count(stop.sent);
                let left = len - stop.sent - stop.in_pipe.len() as u64;
                if would_block(&stop.error) {
                    return Err(SpliceEnd::Blocked {
                        sent: stop.sent,
                        in_pipe: stop.in_pipe,
                        file: stop.file,
                        left,
                    });
                }
                return Err(SpliceEnd::Failed(stop.error));
            }
            Err(file) => file,
        };
        let _ = &self.splicer;
        self.read_and_write(file, len)
    }

    /// `sendfile(2)` from the file's position (which it advances); the file back if the
    /// kernel refuses this file before any byte went (then the pipe is tried).
    #[cfg(target_os = "linux")]
    fn sendfile(
        &mut self,
        file: std::fs::File,
        len: u64,
    ) -> Result<Result<u64, SpliceEnd>, std::fs::File> {
        let mut sent = 0u64;
        while sent < len {
            let want = (len - sent).min(1 << 30) as usize;
            match rustix::fs::sendfile(&**self.wire, &file, None, want) {
                Ok(0) => {
                    return Ok(Err(SpliceEnd::Failed(ended_early(sent, len))));
                }
                Ok(n) => {
                    self.count(n as u64);
                    sent += n as u64;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) if sent == 0 => {
                    return Err(file);
                }
                Err(errno) => {
                    let e = io::Error::from(errno);
                    if would_block(&e) {
                        let left = len - sent;
                        let in_pipe = Vec::new();
                        return Ok(Err(SpliceEnd::Blocked {
                            sent,
                            in_pipe,
                            file,
                            left,
                        }));
                    }
                    return Ok(Err(SpliceEnd::Failed(e)));
                }
            }
        }
        Ok(Ok(sent))
    }

    /// Sends a file without a pipe: a piece at a time through the output buffer.
    fn read_and_write(&mut self, mut file: std::fs::File, len: u64) -> Result<u64, SpliceEnd> {
        let mut sent = 0;
        while sent < len {
            let want = (len - sent).min(STREAM_CHUNK as u64) as usize;
            self.out.clear();
            self.out.resize(want, 0);
            let n = file.read(&mut self.out[..]).map_err(SpliceEnd::Failed)?;
            if n == 0 {
                self.out.clear();
                return Err(SpliceEnd::Failed(ended_early(sent, len)));
            }
            self.out.truncate(n);
            match self.write_some(self.out) {
                Ok(w) if w == n => sent += n as u64,
                Ok(w) => {
                    let in_pipe = self.out[w..].to_vec();
                    self.out.clear();
                    let left = len - sent - n as u64;
                    return Err(SpliceEnd::Blocked {
                        sent: sent + w as u64,
                        in_pipe,
                        file,
                        left,
                    });
                }
                Err(e) if would_block(&e) => {
                    let in_pipe = std::mem::take(self.out);
                    *self.out = Vec::with_capacity(OUT_FLUSH + COALESCE_MAX);
                    let left = len - sent - n as u64;
                    return Err(SpliceEnd::Blocked {
                        sent,
                        in_pipe,
                        file,
                        left,
                    });
                }
                Err(e) => return Err(SpliceEnd::Failed(e)),
            }
        }
        self.out.clear();
        Ok(sent)
    }

    /// Counts `n` body bytes sent in one go (a splice) and checks that all `len` left: a body
    /// that ended early is an error, which closes the connection.
    fn finish_exact(&mut self, n: u64, len: u64) -> io::Result<u64> {
        self.count(n);
        if n < len {
            return Err(ended_early(n, len));
        }
        Ok(n)
    }

    fn count(&self, n: u64) {
        self.ctx.slot.writes.fetch_add(1, Relaxed);
        self.ctx.slot.bytes_out.fetch_add(n, Relaxed);
    }

    /// One `write` of (part of) `bytes`, counted.
    pub(super) fn write_some(&self, bytes: &[u8]) -> io::Result<usize> {
        write_counted_once(self.wire, bytes, self.ctx)
    }
}

/// How a splice ended early.
pub(super) enum SpliceEnd {
    /// The client is slow: `sent` bytes went, `in_pipe` were read from the file but not sent,
    /// and `left` more follow in `file`.
    Blocked {
        sent: u64,
        in_pipe: Vec<u8>,
        file: std::fs::File,
        left: u64,
    },
    Failed(io::Error),
}

/// What ends a body whose reader ran dry after `total` bytes: the last chunk if it is chunked
/// (nothing otherwise), or the error for a body shorter than its declared `len`.
fn body_end(total: u64, len: Option<u64>, chunked: bool) -> io::Result<&'static [u8]> {
    match len {
        Some(len) => Err(ended_early(total, len)),
        None if chunked => Ok(LAST_CHUNK),
        None => Ok(b""),
    }
}

/// How much to read next of a body of `len` bytes (else of unknown length) after `total`.
fn next_want(len: Option<u64>, total: u64) -> usize {
    len.map_or(STREAM_CHUNK, |l| {
        l.saturating_sub(total).min(STREAM_CHUNK as u64) as usize
    })
}

/// Reads up to `want` bytes of `reader` into `out` (cleared first), framed as a chunk if
/// `chunked`: its size line before, CRLF after. Returns the data bytes read (0 at the end).
pub(super) fn read_chunk(
    reader: &mut impl Read,
    out: &mut Vec<u8>,
    want: usize,
    chunked: bool,
) -> io::Result<usize> {
    let prefix = if chunked { CHUNK_PREFIX } else { 0 };
    out.clear();
    out.resize(prefix + want, 0);
    let n = loop {
        match reader.read(&mut out[prefix..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                out.clear();
                return Err(e);
            }
        }
    };
    if n == 0 {
        out.clear();
        return Ok(0);
    }
    out.truncate(prefix + n);
    if chunked {
        out[..CHUNK_PREFIX].copy_from_slice(&encode::chunk_prefix(n));
        out.extend_from_slice(b"\r\n");
    }
    Ok(n)
}

pub(super) fn ended_early(sent: u64, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("response body ended after {sent} of {len} bytes"),
    )
}

/// One `write`, counted; interrupted writes are retried.
fn write_counted_once(wire: &Wire, bytes: &[u8], ctx: Ctx<'_>) -> io::Result<usize> {
    loop {
        ctx.slot.writes.fetch_add(1, Relaxed);
        match (&**wire).write(bytes) {
            Ok(0) if !bytes.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                ctx.slot.bytes_out.fetch_add(n as u64, Relaxed);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes `bytes` fully, counting `write` calls and bytes for the stats, waiting in place for
/// a client slow to make room: up to `write_timeout` without progress, and cut once, past
/// `min_rate_grace` of waiting, it takes less than `min_response_rate`; at shutdown, no longer
/// than `shutdown_grace`. Only for what a handler chose to send from its worker.
pub(super) fn write_waiting(wire: &Wire, bytes: &[u8], ctx: Ctx<'_>) -> io::Result<()> {
    let shared = ctx.shared;
    let mut pacing = Pacing::response(&shared.config);
    wire.write_all_paced(bytes, &mut pacing, shared.shutdown_deadline(), |n| {
        ctx.slot.writes.fetch_add(1, Relaxed);
        ctx.slot.bytes_out.fetch_add(n as u64, Relaxed);
    })
}
