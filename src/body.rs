//! Request body framing (RFC 9112 §6 and §7.1): a [`Body`] reader bounded by `Content-Length`
//! or by the chunked coding, that sends `100 Continue` when first read.
//!
//! The reader works in the worker's read buffer, past the request head: bytes that arrived
//! with the head are read from there, and further bytes are read from the socket into the same
//! space. It never reads past the body's end into its own output, so pipelined bytes that follow
//! the body stay in the buffer for the next request. It does not write responses.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Most bytes of chunk extensions (`;name=value`) accepted on one chunk-size line. Extensions
/// carry no meaning here; the cap stops a client from feeding an endless line.
const MAX_CHUNK_EXT: usize = 4096;
/// Most bytes of trailer fields accepted after the last chunk; they are read and discarded.
const MAX_TRAILERS: usize = 16 * 1024;
/// The interim response sent when the handler first reads a body the client holds back.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// Most hex digits in a chunk size: 16 digits already overflow what `max_body` can allow.
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

/// How the request's body is delimited, decided from its head (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// Where in the chunked coding the decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex digits of a chunk size.
    Size { size: u64, digits: u8 },
    /// After the size: whitespace, before `;` or CR.
    SizeWs { size: u64, len: usize },
    /// In chunk extensions, up to CR: `quoted` inside a quoted-string, `escaped` after its
    /// backslash.
    Ext {
        size: u64,
        len: usize,
        quoted: bool,
        escaped: bool,
    },
    /// After the size line's CR, expecting LF.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// After chunk data, expecting CR.
    DataCr,
    /// After chunk data's CR, expecting LF.
    DataLf,
    /// After the last chunk, at the start of a trailer line: a field name, or the empty line
    /// that ends the message. `name` counts the name's bytes so far; `len` the section's.
    TrailerName { name: usize, len: usize },
    /// In a trailer field's value, up to its CR.
    TrailerValue { len: usize },
    /// After a trailer field line's CR, expecting LF.
    TrailerLineLf { len: usize },
    /// After the empty line's CR, expecting LF.
    TrailerLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    Chunked(Chunk),
    Done,
    Failed(BodyError),
}

/// Why a request body could not be read. The server answers with [`BodyError::status`] if
/// the handler has not already sent a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The chunked framing was malformed (a bad chunk size, a missing CRLF, an oversized
    /// extension or trailer section). Answered `400`.
    Malformed,
    /// The body grew past [`Config::max_body`](crate::Config::max_body). Answered `413`.
    TooLarge,
    /// No body bytes arrived within [`Config::body_timeout`](crate::Config::body_timeout).
    /// Answered `408`.
    Timeout,
    /// The client closed the connection, or it failed, before the body ended. Nothing is sent.
    Incomplete,
}

impl BodyError {
    /// The status the server answers with, or `None` when the connection is gone.
    pub fn status(self) -> Option<u16> {
        match self {
            BodyError::Malformed => Some(400),
            BodyError::TooLarge => Some(413),
            BodyError::Timeout => Some(408),
            BodyError::Incomplete => None,
        }
    }

    fn message(self) -> &'static str {
        match self {
            BodyError::Malformed => "malformed chunked body",
            BodyError::TooLarge => "request body too large",
            BodyError::Timeout => "timed out reading the request body",
            BodyError::Incomplete => "connection closed before the body ended",
        }
    }

    fn to_io(self) -> io::Error {
        let kind = match self {
            BodyError::Malformed | BodyError::TooLarge => io::ErrorKind::InvalidData,
            BodyError::Timeout => io::ErrorKind::TimedOut,
            BodyError::Incomplete => io::ErrorKind::UnexpectedEof,
        };
        io::Error::new(kind, self.message())
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for BodyError {}

/// Where the bytes left after a body are, for the next request on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftover {
    /// In the bytes that arrived with the head, from this offset past the head.
    Initial { from: usize },
    /// In the spare space past the old data, from `from` to `to`.
    Spare { from: usize, to: usize },
}

/// The `Expect: 100-continue` handshake's progress (RFC 9110 §10.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Continue {
    NotExpected,
    Pending,
    Sent,
}

/// The socket side of a body: body bytes that arrived with the head, the free space past
/// them in the worker's buffer, and the stream behind both.
pub(crate) struct Source<'a> {
    pub(crate) stream: &'a TcpStream,
    /// Bytes already buffered after the head: read first.
    pub(crate) initial: &'a [u8],
    pub(crate) initial_pos: usize,
    /// Free buffer space for further socket reads, and the unread part of it.
    pub(crate) spare: &'a mut [u8],
    pub(crate) pos: usize,
    pub(crate) end: usize,
    /// The socket's current read timeout, cached so it is set only when it changes.
    pub(crate) read_timeout: &'a mut Option<Duration>,
    pub(crate) body_timeout: Duration,
    /// Bytes read from the socket by this body, for the stats.
    pub(crate) bytes_in: u64,
    /// Body bytes consumed so far, framing included: what draining is bounded by.
    pub(crate) consumed: u64,
}

impl Source<'_> {
    fn available(&self) -> &[u8] {
        if self.initial_pos < self.initial.len() {
            &self.initial[self.initial_pos..]
        } else {
            &self.spare[self.pos..self.end]
        }
    }

    fn consume(&mut self, n: usize) {
        self.consumed += n as u64;
        if self.initial_pos < self.initial.len() {
            self.initial_pos += n;
        } else {
            self.pos += n;
        }
    }

    /// Reads the socket into `into`, with the body timeout.
    fn read_socket(&mut self, into: &mut [u8]) -> Result<usize, BodyError> {
        if *self.read_timeout != Some(self.body_timeout) {
            self.stream
                .set_read_timeout(Some(self.body_timeout))
                .map_err(|_| BodyError::Incomplete)?;
            *self.read_timeout = Some(self.body_timeout);
        }
        loop {
            match (&*self.stream).read(into) {
                Ok(0) => return Err(BodyError::Incomplete),
                Ok(n) => {
                    self.bytes_in += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(BodyError::Timeout);
                }
                Err(_) => return Err(BodyError::Incomplete),
            }
        }
    }

    /// Makes sure at least one unread byte is buffered, reading the socket if needed.
    fn fill(&mut self) -> Result<(), BodyError> {
        if !self.available().is_empty() {
            return Ok(());
        }
        if self.spare.is_empty() {
            // Only when pipelined bytes filled the whole buffer past a chunked body's head;
            // the connection is closed rather than the body misread.
            return Err(BodyError::Incomplete);
        }
        self.pos = 0;
        self.end = 0;
        let spare = std::mem::take(&mut self.spare);
        let n = self.read_socket(spare);
        self.spare = spare;
        self.end = n?;
        Ok(())
    }

    /// Reads at most `max` body bytes into `out`: buffered ones first, then straight from the
    /// socket into `out` (no copy through the buffer, and no read past the body's end).
    fn read_exact_body(&mut self, out: &mut [u8], max: u64) -> Result<usize, BodyError> {
        let limit = out.len().min(usize::try_from(max).unwrap_or(usize::MAX));
        let avail = self.available();
        if !avail.is_empty() {
            let n = avail.len().min(limit);
            out[..n].copy_from_slice(&avail[..n]);
            self.consume(n);
            return Ok(n);
        }
        let n = self.read_socket(&mut out[..limit])?;
        self.consumed += n as u64;
        Ok(n)
    }
}

/// A request body: an `impl Read` that ends where the framing says the body ends.
///
/// Get it from [`Request::body`](crate::Request::body). Reading it is optional: whatever the
/// handler leaves unread is drained (up to [`Config::max_drain`](crate::Config::max_drain)) or
/// the connection is closed, so the next request on the connection is never corrupted.
///
/// ```no_run
/// use std::io::Read;
/// # fn handler(req: &mut basehttp::Request) -> basehttp::Response {
/// let mut text = String::new();
/// if req.body().take(1 << 20).read_to_string(&mut text).is_err() {
///     return basehttp::Response::error(400);
/// }
/// basehttp::Response::text(format!("{} bytes", text.len()))
/// # }
/// ```
pub struct Body<'a> {
    src: Source<'a>,
    state: State,
    /// Body bytes delivered so far, checked against `max_body` for chunked bodies.
    received: u64,
    max_body: u64,
    expect: Continue,
}

impl<'a> Body<'a> {
    pub(crate) fn new(
        src: Source<'a>,
        framing: Framing,
        max_body: u64,
        expect_continue: bool,
    ) -> Body<'a> {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size { size: 0, digits: 0 }),
        };
        let expect = if expect_continue && state != State::Done {
            Continue::Pending
        } else {
            Continue::NotExpected
        };
        Body {
            src,
            state,
            received: 0,
            max_body,
            expect,
        }
    }

    /// True once the whole body has been read (always true for a request without a body).
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// The error that stopped the body, if reading it failed.
    pub fn error(&self) -> Option<BodyError> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// True if `100 Continue` was sent.
    pub(crate) fn continue_sent(&self) -> bool {
        self.expect == Continue::Sent
    }

    /// True if the client asked for `100 Continue` and has not been sent it: it may not
    /// have sent the body at all.
    pub(crate) fn continue_pending(&self) -> bool {
        self.expect == Continue::Pending
    }

    /// Bytes of a `Content-Length` body not yet read, if that is the framing.
    pub(crate) fn remaining_length(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            _ => None,
        }
    }

    /// Reads and discards the rest of the body: at most `max` bytes on the wire (chunk sizes,
    /// extensions and trailers count, not only data) and for at most `time`. True if the body
    /// ended within both.
    pub(crate) fn drain(&mut self, max: u64, time: Duration) -> bool {
        let mut scratch = [0u8; 4096];
        let start = self.src.consumed;
        let deadline = Instant::now() + time;
        while !self.is_complete() {
            let used = self.src.consumed - start;
            if used >= max || Instant::now() >= deadline {
                return false;
            }
            let want = scratch
                .len()
                .min(usize::try_from(max - used).unwrap_or(usize::MAX));
            match self.read(&mut scratch[..want]) {
                Ok(0) => return self.is_complete(),
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Where the unread buffered bytes stand when the body is done with.
    pub(crate) fn into_leftover(self) -> Leftover {
        let src = self.src;
        if src.initial_pos < src.initial.len() {
            Leftover::Initial {
                from: src.initial_pos,
            }
        } else {
            Leftover::Spare {
                from: src.pos,
                to: src.end,
            }
        }
    }

    /// Bytes this body read from the socket.
    pub(crate) fn bytes_in(&self) -> u64 {
        self.src.bytes_in
    }

    fn fail(&mut self, e: BodyError) -> io::Error {
        self.state = State::Failed(e);
        e.to_io()
    }

    /// Sends `100 Continue` now (the first read does it otherwise).
    pub(crate) fn send_continue(&mut self) -> io::Result<()> {
        self.expect = Continue::Sent;
        // The worker flushed earlier responses before calling the handler, so this interim
        // response cannot overtake them.
        (&*self.src.stream).write_all(CONTINUE)
    }

    /// Copies at most `remaining` buffered bytes into `out`.
    fn copy_data(&mut self, out: &mut [u8], remaining: u64) -> usize {
        let avail = self.src.available();
        let n = avail
            .len()
            .min(out.len())
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        out[..n].copy_from_slice(&avail[..n]);
        self.src.consume(n);
        n
    }

    /// Advances the chunked decoder over framing bytes until it reaches data or the end.
    fn step_chunked(&mut self, mut chunk: Chunk) -> Result<State, BodyError> {
        loop {
            if let Chunk::Data { .. } = chunk {
                return Ok(State::Chunked(chunk));
            }
            self.src.fill()?;
            let b = self.src.available()[0];
            self.src.consume(1);
            chunk = match chunk {
                Chunk::Size { size, digits } => match hex_value(b) {
                    Some(v) if digits < MAX_CHUNK_SIZE_DIGITS => Chunk::Size {
                        size: (size << 4) | u64::from(v),
                        digits: digits + 1,
                    },
                    Some(_) => return Err(BodyError::Malformed),
                    None if digits == 0 => return Err(BodyError::Malformed),
                    None => match b {
                        b'\r' => Chunk::SizeLf { size },
                        // BWS before `;` (RFC 9112 §7.1.1), then extensions.
                        b' ' | b'\t' => Chunk::SizeWs { size, len: 1 },
                        b';' => Chunk::Ext {
                            size,
                            len: 1,
                            quoted: false,
                            escaped: false,
                        },
                        _ => return Err(BodyError::Malformed),
                    },
                },
                // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), names and
                // values tokens or quoted-strings (RFC 9112 §7.1.1). Extensions mean nothing
                // here, so the grammar is checked only as far as smuggling needs: nothing but
                // whitespace between the size and `;`, no control bytes (a bare LF above
                // all), and no separators outside quotes.
                Chunk::SizeWs { len, .. } | Chunk::Ext { len, .. } if len >= MAX_CHUNK_EXT => {
                    return Err(BodyError::Malformed);
                }
                Chunk::SizeWs { size, len } => match b {
                    b' ' | b'\t' => Chunk::SizeWs { size, len: len + 1 },
                    b';' => Chunk::Ext {
                        size,
                        len: len + 1,
                        quoted: false,
                        escaped: false,
                    },
                    b'\r' => Chunk::SizeLf { size },
                    _ => return Err(BodyError::Malformed),
                },
                Chunk::Ext {
                    size,
                    len,
                    quoted,
                    escaped,
                } => {
                    let control = (b < 0x20 && b != b'\t') || b == 0x7f;
                    let (quoted, escaped) = match b {
                        _ if control && (quoted || b != b'\r') => {
                            return Err(BodyError::Malformed);
                        }
                        _ if escaped => (true, false),
                        b'\\' if quoted => (true, true),
                        b'"' => (!quoted, false),
                        _ if quoted => (true, false),
                        b'\r' => {
                            chunk = Chunk::SizeLf { size };
                            continue;
                        }
                        b'=' | b';' | b' ' | b'\t' => (false, false),
                        _ if crate::request::is_token_byte(b) => (false, false),
                        _ => return Err(BodyError::Malformed),
                    };
                    Chunk::Ext {
                        size,
                        len: len + 1,
                        quoted,
                        escaped,
                    }
                }
                Chunk::SizeLf { size } => {
                    if b != b'\n' {
                        return Err(BodyError::Malformed);
                    }
                    if size == 0 {
                        Chunk::TrailerName { name: 0, len: 0 }
                    } else {
                        if self.received.saturating_add(size) > self.max_body {
                            return Err(BodyError::TooLarge);
                        }
                        Chunk::Data { remaining: size }
                    }
                }
                Chunk::Data { .. } => unreachable!("returned above"),
                Chunk::DataCr if b == b'\r' => Chunk::DataLf,
                Chunk::DataLf if b == b'\n' => Chunk::Size { size: 0, digits: 0 },
                Chunk::DataCr | Chunk::DataLf => return Err(BodyError::Malformed),
                // The trailer section is `*( field-line CRLF ) CRLF` (RFC 9112 §7.1.2), read
                // strictly: a bare LF or a line that is not `token ":" value` is refused, so
                // bytes a front end would take for the next request can never pass as a
                // trailer here (request smuggling).
                _ if matches!(chunk, Chunk::TrailerName { len, .. } | Chunk::TrailerValue { len }
                    | Chunk::TrailerLineLf { len } if len >= MAX_TRAILERS) =>
                {
                    return Err(BodyError::Malformed);
                }
                Chunk::TrailerName { name: 0, .. } if b == b'\r' => Chunk::TrailerLf,
                Chunk::TrailerName { name, len } if crate::request::is_token_byte(b) => {
                    Chunk::TrailerName {
                        name: name + 1,
                        len: len + 1,
                    }
                }
                Chunk::TrailerName { name, len } if name > 0 && b == b':' => {
                    Chunk::TrailerValue { len: len + 1 }
                }
                Chunk::TrailerName { .. } => return Err(BodyError::Malformed),
                Chunk::TrailerValue { len } => match b {
                    b'\r' => Chunk::TrailerLineLf { len: len + 1 },
                    // field-value: no control bytes but HTAB (RFC 9110 §5.5).
                    b'\t' => Chunk::TrailerValue { len: len + 1 },
                    0..=0x1f | 0x7f => return Err(BodyError::Malformed),
                    _ => Chunk::TrailerValue { len: len + 1 },
                },
                Chunk::TrailerLineLf { len } if b == b'\n' => Chunk::TrailerName { name: 0, len },
                Chunk::TrailerLineLf { .. } => return Err(BodyError::Malformed),
                Chunk::TrailerLf if b == b'\n' => return Ok(State::Done),
                Chunk::TrailerLf => return Err(BodyError::Malformed),
            };
        }
    }
}

/// The value of a hex digit (`HEXDIG`, either case).
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.expect == Continue::Pending {
            if let Err(e) = self.send_continue() {
                return Err(self.fail_with(BodyError::Incomplete, e));
            }
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Failed(e) => return Err(e.to_io()),
                State::Length(remaining) => {
                    let n = match self.src.read_exact_body(out, remaining) {
                        Ok(n) => n,
                        Err(e) => return Err(self.fail(e)),
                    };
                    self.received += n as u64;
                    self.state = if remaining == n as u64 {
                        State::Done
                    } else {
                        State::Length(remaining - n as u64)
                    };
                    return Ok(n);
                }
                State::Chunked(Chunk::Data { remaining }) => {
                    if let Err(e) = self.src.fill() {
                        return Err(self.fail(e));
                    }
                    let n = self.copy_data(out, remaining);
                    self.received += n as u64;
                    let left = remaining - n as u64;
                    self.state = State::Chunked(if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data { remaining: left }
                    });
                    return Ok(n);
                }
                State::Chunked(chunk) => match self.step_chunked(chunk) {
                    Ok(next) => self.state = next,
                    Err(e) => return Err(self.fail(e)),
                },
            }
        }
    }
}

impl Body<'_> {
    fn fail_with(&mut self, e: BodyError, source: io::Error) -> io::Error {
        self.state = State::Failed(e);
        source
    }
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("state", &self.state)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}
