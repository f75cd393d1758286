//! Request body decoders (RFC 9112 §6.3, §7.1): a body delimited by `Content-Length` or by
//! the chunked coding, decoded from any [`Source`] of bytes.
//!
//! The decoder reads its framing one byte at a time from what the source has buffered and
//! copies data out in runs; it never consumes a byte past the body's end, so pipelined bytes
//! that follow stay in the source for the next request. In the server the source is the
//! connection (its buffer, then its socket: `crate::body`); in the tests and the fuzz target
//! it is a byte slice. Chunk extensions and trailers are checked strictly and discarded, so no
//! bytes a front end would take for another request can pass as either (request smuggling).

use std::io;

use super::head::BodyLength;
use super::lex::{hex_value, is_token_byte};

/// Most bytes of chunk extensions (`;name=value`) accepted on one chunk-size line. Extensions
/// carry no meaning here; the cap stops a client from feeding an endless line.
pub(crate) const MAX_CHUNK_EXT: usize = 4096;
/// Most bytes of trailer fields accepted after the last chunk; they are read and discarded.
pub(crate) const MAX_TRAILERS: usize = 16 * 1024;
/// Most hex digits in a chunk size: 16 digits already overflow what `max_body` can allow.
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

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

    /// What went wrong, for the error page and the log.
    pub(crate) fn message(self) -> &'static str {
        match self {
            BodyError::Malformed => "malformed chunked body",
            BodyError::TooLarge => "request body too large",
            BodyError::Timeout => "timed out reading the request body",
            BodyError::Incomplete => "connection closed before the body ended",
        }
    }

    /// The error as `io::Error`, for a body read through `io::Read`. The `BodyError` itself
    /// is the inner error, so wherever the `io::Error` ends up (a handler's reader returning
    /// it to the worker sending the response) it can still be told to be the client's doing:
    /// see [`BodyError::of`].
    pub(crate) fn to_io(self) -> io::Error {
        let kind = match self {
            BodyError::Malformed | BodyError::TooLarge => io::ErrorKind::InvalidData,
            BodyError::Timeout => io::ErrorKind::TimedOut,
            BodyError::Incomplete => io::ErrorKind::UnexpectedEof,
        };
        io::Error::new(kind, self)
    }

    /// The request body's error that `e` carries, if it is one ([`to_io`](Self::to_io)'s),
    /// and not, say, a file or socket error of the server's own.
    pub(crate) fn of(e: &io::Error) -> Option<BodyError> {
        e.get_ref()?.downcast_ref::<BodyError>().copied()
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for BodyError {}

/// Where a decoder gets its bytes: what is buffered, and a way to receive more.
pub(crate) trait Source {
    /// Received bytes not yet consumed.
    fn buffered(&self) -> &[u8];
    /// Marks the first `n` buffered bytes as consumed.
    fn consume(&mut self, n: usize);
    /// Receives more bytes into the buffer; called only when nothing is buffered. On `Ok`,
    /// at least one byte is buffered.
    fn refill(&mut self) -> Result<(), BodyError>;
    /// Receives bytes straight into `out` (no copy through the buffer); called only when
    /// nothing is buffered. On `Ok`, at least one byte was received.
    fn receive_into(&mut self, out: &mut [u8]) -> Result<usize, BodyError>;
}

/// A byte slice is a source that ends where it ends: asking for more is
/// [`BodyError::Incomplete`], as a client closing mid-body is.
impl Source for &[u8] {
    fn buffered(&self) -> &[u8] {
        self
    }

    fn consume(&mut self, n: usize) {
        *self = &self[n..];
    }

    fn refill(&mut self) -> Result<(), BodyError> {
        Err(BodyError::Incomplete)
    }

    fn receive_into(&mut self, _out: &mut [u8]) -> Result<usize, BodyError> {
        Err(BodyError::Incomplete)
    }
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

/// A request body's decoder: how much is left, or where in the chunked coding it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoder {
    state: State,
    /// Body bytes delivered so far, checked against `max_body` for chunked bodies.
    received: u64,
    max_body: u64,
}

impl Decoder {
    /// A decoder for a body of this length; a chunked body may deliver at most `max_body`
    /// bytes (a `Content-Length` was checked against it with the head).
    pub(crate) fn new(length: BodyLength, max_body: u64) -> Decoder {
        let state = match length {
            BodyLength::None | BodyLength::Length(0) => State::Done,
            BodyLength::Length(n) => State::Length(n),
            BodyLength::Chunked => State::Chunked(Chunk::Size { size: 0, digits: 0 }),
        };
        Decoder {
            state,
            received: 0,
            max_body,
        }
    }

    /// True once the whole body has been decoded (always true for a request without one).
    pub(crate) fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// The error that stopped the body, if decoding it failed.
    pub(crate) fn error(&self) -> Option<BodyError> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Bytes of a `Content-Length` body not yet decoded, if that is the framing.
    pub(crate) fn remaining_length(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            _ => None,
        }
    }

    /// Body bytes delivered so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Stops the body with this error (the connection failed outside the decoder).
    pub(crate) fn fail(&mut self, e: BodyError) {
        self.state = State::Failed(e);
    }

    /// Decodes the body bytes among `bytes` into `out`, advancing `bytes` past what it used:
    /// for a body received in pieces. `Ok(0)` when `bytes` ran out before the body's end (the
    /// decoder keeps its place for the next piece; see [`is_complete`](Self::is_complete)),
    /// or at the end; an error once the body failed.
    pub(crate) fn decode_buffered(
        &mut self,
        bytes: &mut &[u8],
        out: &mut [u8],
    ) -> Result<usize, BodyError> {
        if out.is_empty() {
            return Ok(0);
        }
        match self.decode_inner(bytes, out) {
            Err(BodyError::Incomplete) => Ok(0),
            Err(e) => {
                self.state = State::Failed(e);
                Err(e)
            }
            ok => ok,
        }
    }

    /// Decodes body bytes from `src` into `out`: `Ok(0)` at the body's end (or for an empty
    /// `out`), an error once the body failed (and every time after).
    pub(crate) fn decode<S: Source + ?Sized>(
        &mut self,
        src: &mut S,
        out: &mut [u8],
    ) -> Result<usize, BodyError> {
        if out.is_empty() {
            return Ok(0);
        }
        let result = self.decode_inner(src, out);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    fn decode_inner<S: Source + ?Sized>(
        &mut self,
        src: &mut S,
        out: &mut [u8],
    ) -> Result<usize, BodyError> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Failed(e) => return Err(e),
                State::Length(remaining) => {
                    let n = copy_data(src, out, remaining, true)?;
                    self.received += n as u64;
                    self.state = if remaining == n as u64 {
                        State::Done
                    } else {
                        State::Length(remaining - n as u64)
                    };
                    return Ok(n);
                }
                State::Chunked(Chunk::Data { remaining }) => {
                    // Chunk data comes through the buffer: a direct read could swallow the
                    // framing that follows it.
                    let n = copy_data(src, out, remaining, false)?;
                    self.received += n as u64;
                    let left = remaining - n as u64;
                    self.state = State::Chunked(if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data { remaining: left }
                    });
                    return Ok(n);
                }
                State::Chunked(chunk) => self.state = self.step_chunked(src, chunk)?,
            }
        }
    }

    /// Advances the chunked decoder over framing bytes until it reaches data or the end.
    fn step_chunked<S: Source + ?Sized>(
        &mut self,
        src: &mut S,
        mut chunk: Chunk,
    ) -> Result<State, BodyError> {
        loop {
            if let Chunk::Data { .. } = chunk {
                return Ok(State::Chunked(chunk));
            }
            if src.buffered().is_empty() {
                // Keep the place: a source fed in pieces may have no more for now.
                self.state = State::Chunked(chunk);
                src.refill()?;
            }
            let b = src.buffered()[0];
            src.consume(1);
            chunk = match next_chunk_state(chunk, b)? {
                Next::Chunk(Chunk::Data { remaining })
                    if self.received.saturating_add(remaining) > self.max_body =>
                {
                    return Err(BodyError::TooLarge);
                }
                Next::Chunk(next) => next,
                Next::Done => return Ok(State::Done),
            };
        }
    }
}

/// Copies at most `remaining` body bytes into `out`: buffered ones first; with nothing
/// buffered, straight into `out` if `direct` (a length body ends exactly where its bytes do),
/// else through a refill.
fn copy_data<S: Source + ?Sized>(
    src: &mut S,
    out: &mut [u8],
    remaining: u64,
    direct: bool,
) -> Result<usize, BodyError> {
    let limit = out
        .len()
        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
    if src.buffered().is_empty() {
        if direct {
            return src.receive_into(&mut out[..limit]);
        }
        src.refill()?;
    }
    let avail = src.buffered();
    let n = avail.len().min(limit);
    out[..n].copy_from_slice(&avail[..n]);
    src.consume(n);
    Ok(n)
}

/// Where one framing byte leads.
enum Next {
    Chunk(Chunk),
    /// The empty line after the last chunk and its trailers: the body is complete.
    Done,
}

/// The chunked coding's grammar, one byte at a time (RFC 9112 §7.1).
fn next_chunk_state(chunk: Chunk, b: u8) -> Result<Next, BodyError> {
    let next = match chunk {
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
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), names and values
        // tokens or quoted-strings (RFC 9112 §7.1.1). Extensions mean nothing here, so the
        // grammar is checked only as far as smuggling needs: nothing but whitespace between
        // the size and `;`, no control bytes (a bare LF above all), and no separators outside
        // quotes.
        // The CR that ends the line is not counted: an extension of exactly MAX_CHUNK_EXT
        // bytes passes.
        Chunk::SizeWs { len, .. } | Chunk::Ext { len, .. }
            if len >= MAX_CHUNK_EXT && b != b'\r' =>
        {
            return Err(BodyError::Malformed);
        }
        // Whitespace must lead to `;`: `0 \r\n` is not in the grammar.
        Chunk::SizeWs { size, len } => match b {
            b' ' | b'\t' => Chunk::SizeWs { size, len: len + 1 },
            b';' => Chunk::Ext {
                size,
                len: len + 1,
                quoted: false,
                escaped: false,
            },
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
                _ if control && (quoted || b != b'\r') => return Err(BodyError::Malformed),
                _ if escaped => (true, false),
                b'\\' if quoted => (true, true),
                b'"' => (!quoted, false),
                _ if quoted => (true, false),
                b'\r' => return Ok(Next::Chunk(Chunk::SizeLf { size })),
                b'=' | b';' | b' ' | b'\t' => (false, false),
                _ if is_token_byte(b) => (false, false),
                _ => return Err(BodyError::Malformed),
            };
            Chunk::Ext {
                size,
                len: len + 1,
                quoted,
                escaped,
            }
        }
        Chunk::SizeLf { .. } if b != b'\n' => return Err(BodyError::Malformed),
        Chunk::SizeLf { size: 0 } => Chunk::TrailerName { name: 0, len: 0 },
        Chunk::SizeLf { size } => Chunk::Data { remaining: size },
        Chunk::Data { .. } => unreachable!("data is copied, not stepped over"),
        Chunk::DataCr if b == b'\r' => Chunk::DataLf,
        Chunk::DataLf if b == b'\n' => Chunk::Size { size: 0, digits: 0 },
        Chunk::DataCr | Chunk::DataLf => return Err(BodyError::Malformed),
        trailer => return next_trailer_state(trailer, b),
    };
    Ok(Next::Chunk(next))
}

/// The trailer section is `*( field-line CRLF ) CRLF` (RFC 9112 §7.1.2), read strictly: a
/// bare LF or a line that is not `token ":" value` is refused, so bytes a front end would take
/// for the next request can never pass as a trailer here.
fn next_trailer_state(chunk: Chunk, b: u8) -> Result<Next, BodyError> {
    let next = match chunk {
        // Every byte of the field lines counts against MAX_TRAILERS, their CRLFs too; the
        // final empty line does not, so a section of exactly MAX_TRAILERS bytes passes.
        Chunk::TrailerName { name: 0, .. } if b == b'\r' => Chunk::TrailerLf,
        Chunk::TrailerName { len, .. }
        | Chunk::TrailerValue { len }
        | Chunk::TrailerLineLf { len }
            if len >= MAX_TRAILERS =>
        {
            return Err(BodyError::Malformed);
        }
        Chunk::TrailerName { name, len } if is_token_byte(b) => Chunk::TrailerName {
            name: name + 1,
            len: len + 1,
        },
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
        Chunk::TrailerLineLf { len } if b == b'\n' => Chunk::TrailerName {
            name: 0,
            len: len + 1,
        },
        Chunk::TrailerLineLf { .. } => return Err(BodyError::Malformed),
        Chunk::TrailerLf if b == b'\n' => return Ok(Next::Done),
        Chunk::TrailerLf => return Err(BodyError::Malformed),
        _ => unreachable!("only trailer states come here"),
    };
    Ok(Next::Chunk(next))
}

/// Decodes a whole body from `bytes`: the body, and the bytes left after it. For the tests,
/// the fuzz target and the benchmarks.
pub(crate) fn decode_all(
    mut bytes: &[u8],
    length: BodyLength,
    max_body: u64,
) -> Result<(Vec<u8>, &[u8]), BodyError> {
    let mut decoder = Decoder::new(length, max_body);
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match decoder.decode(&mut bytes, &mut chunk)? {
            0 => return Ok((body, bytes)),
            n => body.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A source that receives its bytes in pieces of the given sizes (cycled), as a socket
/// delivers them: for the tests and the fuzz target, which check that every split decodes
/// alike.
pub(crate) struct Trickle<'a> {
    buffered: &'a [u8],
    rest: &'a [u8],
    splits: &'a [usize],
    next: usize,
}

impl<'a> Trickle<'a> {
    pub(crate) fn new(bytes: &'a [u8], splits: &'a [usize]) -> Trickle<'a> {
        Trickle {
            buffered: &[],
            rest: bytes,
            splits,
            next: 0,
        }
    }

    /// Bytes not consumed: buffered and still to come.
    pub(crate) fn left(&self) -> usize {
        self.buffered.len() + self.rest.len()
    }

    fn piece(&mut self, most: usize) -> Result<&'a [u8], BodyError> {
        if self.rest.is_empty() {
            return Err(BodyError::Incomplete);
        }
        let size = self
            .splits
            .get(self.next % self.splits.len().max(1))
            .copied()
            .unwrap_or(usize::MAX);
        self.next += 1;
        let (piece, rest) = self.rest.split_at(size.clamp(1, most).min(self.rest.len()));
        self.rest = rest;
        Ok(piece)
    }
}

impl Source for Trickle<'_> {
    fn buffered(&self) -> &[u8] {
        self.buffered
    }

    fn consume(&mut self, n: usize) {
        self.buffered = &self.buffered[n..];
    }

    fn refill(&mut self) -> Result<(), BodyError> {
        self.buffered = self.piece(usize::MAX)?;
        Ok(())
    }

    fn receive_into(&mut self, out: &mut [u8]) -> Result<usize, BodyError> {
        let piece = self.piece(out.len())?;
        out[..piece.len()].copy_from_slice(piece);
        Ok(piece.len())
    }
}

/// Decodes a whole body received in pieces (see [`Trickle`]), read into buffers of the same
/// sizes: the body and how many bytes were left after it.
pub(crate) fn decode_split(
    bytes: &[u8],
    splits: &[usize],
    length: BodyLength,
    max_body: u64,
) -> Result<(Vec<u8>, usize), BodyError> {
    let mut decoder = Decoder::new(length, max_body);
    let mut src = Trickle::new(bytes, splits);
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    for i in 0.. {
        let size = splits.get(i % splits.len().max(1)).copied().unwrap_or(4096);
        let out = &mut chunk[..size.clamp(1, 4096)];
        match decoder.decode(&mut src, out)? {
            0 => break,
            n => body.extend_from_slice(&out[..n]),
        }
    }
    Ok((body, src.left()))
}

#[cfg(test)]
mod tests;
