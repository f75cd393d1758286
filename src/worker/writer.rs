//! The worker's writer: the socket of the connection being served, the worker's reusable
//! output buffer and pipe, and the counters, together for one turn.
//!
//! Small responses are appended to the output buffer, so pipelined answers leave in one
//! `write`; large and streamed bodies flush it and go straight to the socket (files spliced
//! zero-copy on Linux). Every `write` and every byte is counted in the worker's stats slot.
//! This module decides nothing about HTTP beyond the chunked coding of streamed bodies.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering::Relaxed;

use super::Ctx;
use crate::body::Body;
use crate::http1::encode::{self, CHUNK_PREFIX, Framing, LAST_CHUNK};
use crate::response::Payload;
use crate::stats::WorkerState;

/// Response bodies up to this size are copied into the output buffer, so pipelined responses
/// leave in one `write`; larger ones are written from where they are.
pub(super) const COALESCE_MAX: usize = 16 * 1024;
/// Buffered responses are flushed once they reach this size, pipelined or not.
pub(super) const OUT_FLUSH: usize = 64 * 1024;
/// Size of each chunk read from a streamed response body.
const STREAM_CHUNK: usize = 16 * 1024;

#[cfg(target_os = "linux")]
use crate::splice::Splicer;

/// Elsewhere files go through `io::copy`'s own path.
#[cfg(not(target_os = "linux"))]
#[derive(Default)]
struct Splicer;

/// What a worker keeps for writing from one connection to the next: the output buffer and
/// the pipe that large files are spliced through.
pub(super) struct Output {
    pub(super) buf: Vec<u8>,
    splicer: Splicer,
}

impl Output {
    pub(super) fn new() -> Output {
        Output {
            buf: Vec::with_capacity(OUT_FLUSH + COALESCE_MAX),
            splicer: Splicer::default(),
        }
    }

    /// The writer to `stream` for this turn.
    pub(super) fn writer<'a>(&'a mut self, stream: &'a TcpStream, ctx: Ctx<'a>) -> Writer<'a> {
        Writer {
            stream,
            out: &mut self.buf,
            splicer: &mut self.splicer,
            ctx,
        }
    }
}

/// Writes responses to one connection's socket.
pub(super) struct Writer<'a> {
    stream: &'a TcpStream,
    out: &'a mut Vec<u8>,
    splicer: &'a mut Splicer,
    ctx: Ctx<'a>,
}

impl Writer<'_> {
    /// The output buffer, for heads to be encoded into.
    pub(super) fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Writes the buffered responses in one go, with the worker `Writing` meanwhile (a
    /// client slow to take them holds a worker blocked in a write, and the run gate must lend
    /// its place).
    pub(super) fn flush(&mut self) -> io::Result<()> {
        let slot = self.ctx.slot;
        if slot.state() != WorkerState::Writing {
            slot.set_busy(WorkerState::Writing, self.ctx.shared.micros_since_start());
        }
        let result = self.write_out();
        slot.set_state(WorkerState::Reading);
        if let Err(e) = &result {
            super::log_io_error("sending a response", e);
        }
        result
    }

    /// Writes and clears the output buffer.
    pub(super) fn write_out(&mut self) -> io::Result<()> {
        let result = write_counted(self.stream, self.out, self.ctx);
        self.out.clear();
        result
    }

    /// Sends a response body after its head (which is in the output buffer), framed as the
    /// head said. Returns the body bytes sent.
    pub(super) fn send_body(&mut self, payload: Payload, framing: Framing) -> io::Result<u64> {
        if framing == Framing::None {
            return Ok(0);
        }
        match payload {
            // Sent by `echo`, which has the body; nothing to send without it.
            Payload::Empty | Payload::RequestBody { .. } => Ok(0),
            Payload::Static(bytes) => self.send_bytes(bytes),
            Payload::Bytes(bytes) => self.send_bytes(&bytes),
            Payload::File { file, len } if len <= COALESCE_MAX as u64 => {
                self.send_small_file(file, len as usize)
            }
            Payload::File { file, len } => self.send_file(file, len),
            Payload::Reader {
                reader,
                len: Some(len),
            } => self.send_exact(reader, len),
            Payload::Reader { reader, len: None } if framing == Framing::Chunked => {
                self.send_chunked(reader)
            }
            Payload::Reader { mut reader, .. } => {
                self.write_out()?;
                let mut to = CountingStream {
                    stream: self.stream,
                    ctx: self.ctx,
                };
                io::copy(&mut reader, &mut to)
            }
        }
    }

    /// Sends the rest of the request body back as the response body (see
    /// [`Response::echo_body`](crate::Response::echo_body)), framed as the head said.
    pub(super) fn echo(&mut self, body: &mut Body<'_>, framing: Framing) -> io::Result<u64> {
        match framing {
            Framing::Length(len) => self.send_exact(body, len),
            Framing::Chunked => self.send_chunked(body),
            Framing::None | Framing::Close => Ok(0),
        }
    }

    fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<u64> {
        if bytes.len() <= COALESCE_MAX {
            self.out.extend_from_slice(bytes);
        } else {
            self.write_out()?;
            write_counted(self.stream, bytes, self.ctx)?;
        }
        Ok(bytes.len() as u64)
    }

    /// Appends a small file to the buffer, to leave with its head in one `write`: for a file
    /// of a few KiB, `read` into the buffer costs less than a second `write` plus a splice
    /// (and a pipelined burst of small files leaves in one `write`). A file that shrank since
    /// its length was taken ends the connection after the head and what was read, as
    /// `send_exact` does.
    fn send_small_file(&mut self, mut file: std::fs::File, len: usize) -> io::Result<u64> {
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
                    return Err(e);
                }
            }
        }
        if filled < len {
            self.out.truncate(start + filled);
            self.write_out()?;
            return Err(ended_early(filled as u64, len as u64));
        }
        Ok(len as u64)
    }

    /// Sends a large file after its head: spliced through the worker's pipe on Linux
    /// (zero-copy; see `splice`), else with `io::copy`.
    fn send_file(&mut self, file: std::fs::File, len: u64) -> io::Result<u64> {
        #[cfg(target_os = "linux")]
        let file = {
            self.write_out()?;
            match self.splicer.send(file, len, self.stream) {
                Ok(result) => return self.finish_exact(result?, len),
                Err(file) => file,
            }
        };
        #[cfg(not(target_os = "linux"))]
        let _ = &self.splicer;
        self.send_exact(file, len)
    }

    /// Sends exactly `len` bytes from `reader`; a reader that ends early is an error, which
    /// closes the connection (the client sees a short body, never a corrupted next response).
    fn send_exact(&mut self, reader: impl Read, len: u64) -> io::Result<u64> {
        self.write_out()?;
        // Std's `io::copy` from a `File` to a `TcpStream` is a plain read/write loop; files
        // take `send_file` (splice) on Linux and come here elsewhere.
        let mut dst = self.stream;
        let n = io::copy(&mut reader.take(len), &mut dst)?;
        self.finish_exact(n, len)
    }

    /// Counts `n` body bytes sent in one go (a copy or a splice) and checks that all `len`
    /// left: a body that ended early is an error, which closes the connection.
    fn finish_exact(&mut self, n: u64, len: u64) -> io::Result<u64> {
        self.ctx.slot.writes.fetch_add(1, Relaxed);
        self.ctx.slot.bytes_out.fetch_add(n, Relaxed);
        if n < len {
            return Err(ended_early(n, len));
        }
        Ok(n)
    }

    /// Sends a reader in the chunked coding, one chunk per read, each chunk in one `write`.
    /// The last chunk stays in the buffer, to leave with the next flush.
    fn send_chunked(&mut self, mut reader: impl Read) -> io::Result<u64> {
        self.write_out()?;
        let mut total = 0u64;
        loop {
            self.out.clear();
            self.out.resize(CHUNK_PREFIX + STREAM_CHUNK, 0);
            let n = match reader.read(&mut self.out[CHUNK_PREFIX..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.out.clear();
                    return Err(e);
                }
            };
            if n == 0 {
                self.out.clear();
                self.out.extend_from_slice(LAST_CHUNK);
                return Ok(total);
            }
            self.out[..CHUNK_PREFIX].copy_from_slice(&encode::chunk_prefix(n));
            self.out.truncate(CHUNK_PREFIX + n);
            self.out.extend_from_slice(b"\r\n");
            write_counted(self.stream, self.out, self.ctx)?;
            total += n as u64;
        }
    }
}

fn ended_early(sent: u64, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("response body ended after {sent} of {len} bytes"),
    )
}

/// Writes `bytes` fully, counting `write` calls and bytes for the stats.
pub(super) fn write_counted(
    mut stream: &TcpStream,
    mut bytes: &[u8],
    ctx: Ctx<'_>,
) -> io::Result<()> {
    while !bytes.is_empty() {
        ctx.slot.writes.fetch_add(1, Relaxed);
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                ctx.slot.bytes_out.fetch_add(n as u64, Relaxed);
                bytes = &bytes[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A writer that counts bytes and writes into the stats.
struct CountingStream<'a> {
    stream: &'a TcpStream,
    ctx: Ctx<'a>,
}

impl Write for CountingStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (&*self.stream).write(buf)?;
        self.ctx.slot.writes.fetch_add(1, Relaxed);
        self.ctx.slot.bytes_out.fetch_add(n as u64, Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
