//! The request body a handler reads: a [`Body`] reader over the connection, decoded by
//! `http1::decode`, that sends `100 Continue` when first read.
//!
//! The reader works in the worker's read buffer, past the request head: bytes that arrived
//! with the head are read from there, and further bytes are read from the socket into the same
//! space (or straight into the caller's buffer for a `Content-Length` body). It never reads past
//! the body's end, so pipelined bytes that follow the body stay in the buffer for the next
//! request. Framing rules live in `http1::decode`; this module adds the socket, the waits on
//! the client (the handler chose to read as the body arrives: `body_timeout` and
//! `min_body_rate`, see `crate::pacing`), and the interim `100 Continue`.

use std::io::{self, Read};
use std::time::Instant;

use crate::config::Config;
use crate::http1::decode::{BodyError, Decoder, Source};
use crate::http1::encode::CONTINUE;
use crate::http1::head::BodyLength;
use crate::pacing::Pacing;
use crate::received::{Rest, StoreReader};
use crate::shared::Shared;
use crate::wire::{Ready, Wire};

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
/// them in the worker's buffer, and the socket behind both.
pub(crate) struct SocketSource<'a> {
    pub(crate) wire: &'a Wire,
    /// Bytes already buffered after the head: read first.
    pub(crate) initial: &'a [u8],
    pub(crate) initial_pos: usize,
    /// Free buffer space for further socket reads, and the unread part of it.
    pub(crate) spare: &'a mut [u8],
    pub(crate) pos: usize,
    pub(crate) end: usize,
    /// `body_timeout` and `min_body_rate`, over the time spent waiting in socket reads (not
    /// the time the handler takes between reads).
    pub(crate) pacing: Pacing,
    /// The configuration, for the pacing of a `100 Continue`.
    config: &'a Config,
    /// The latest a read may wait, when the server is shutting down.
    pub(crate) cap: Option<Instant>,
    /// Bytes read from the socket by this body, for the stats.
    pub(crate) bytes_in: u64,
}

impl<'a> SocketSource<'a> {
    /// A source over `initial` (what followed the head in the buffer), then `spare`.
    pub(crate) fn new(
        wire: &'a Wire,
        initial: &'a [u8],
        spare: &'a mut [u8],
        shared: &'a Shared,
    ) -> SocketSource<'a> {
        SocketSource {
            wire,
            initial,
            initial_pos: 0,
            spare,
            pos: 0,
            end: 0,
            pacing: Pacing::request_body(&shared.config),
            config: &shared.config,
            cap: shared.shutdown_deadline(),
            bytes_in: 0,
        }
    }

    /// Reads the socket into `into`, waiting for the client within the pacing.
    fn read_socket(&mut self, into: &mut [u8]) -> Result<usize, BodyError> {
        loop {
            match (&**self.wire).read(into) {
                Ok(0) => return Err(BodyError::Incomplete),
                Ok(n) => {
                    self.bytes_in += n as u64;
                    self.pacing.moved(n as u64, Instant::now());
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let now = Instant::now();
                    self.pacing.blocked(now);
                    if self.pacing.stalled(now).is_some() {
                        return Err(BodyError::Timeout);
                    }
                    let paced = self.pacing.deadline().unwrap_or(now);
                    let deadline = self.cap.map_or(paced, |cap| cap.min(paced));
                    match self.wire.wait(Ready::Read, deadline) {
                        Ok(true) => {}
                        Ok(false) if deadline < paced => return Err(BodyError::Timeout),
                        Ok(false) => {}
                        Err(_) => return Err(BodyError::Incomplete),
                    }
                }
                Err(_) => return Err(BodyError::Incomplete),
            }
        }
    }
}

impl Source for SocketSource<'_> {
    fn buffered(&self) -> &[u8] {
        if self.initial_pos < self.initial.len() {
            &self.initial[self.initial_pos..]
        } else {
            &self.spare[self.pos..self.end]
        }
    }

    fn consume(&mut self, n: usize) {
        if self.initial_pos < self.initial.len() {
            self.initial_pos += n;
        } else {
            self.pos += n;
        }
    }

    fn refill(&mut self) -> Result<(), BodyError> {
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

    fn receive_into(&mut self, out: &mut [u8]) -> Result<usize, BodyError> {
        self.read_socket(out)
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
    inner: Inner<'a>,
}

enum Inner<'a> {
    /// Read from the connection as the handler reads it.
    Streamed {
        src: SocketSource<'a>,
        decoder: Decoder,
        expect: Continue,
    },
    /// Received before the handler ran: read back from the connection's store.
    Received(StoreReader),
    /// A received body whose unread rest was handed to the response (an echo).
    Taken,
}

impl<'a> Body<'a> {
    /// A body the handler reads from the connection as it arrives.
    pub(crate) fn new(
        src: SocketSource<'a>,
        length: BodyLength,
        max_body: u64,
        expect_continue: bool,
    ) -> Body<'a> {
        let decoder = Decoder::new(length, max_body);
        let expect = if expect_continue && !decoder.is_complete() {
            Continue::Pending
        } else {
            Continue::NotExpected
        };
        Body {
            inner: Inner::Streamed {
                src,
                decoder,
                expect,
            },
        }
    }

    /// A body received before the handler ran.
    pub(crate) fn received(reader: StoreReader) -> Body<'a> {
        Body {
            inner: Inner::Received(reader),
        }
    }

    /// True once the whole body has been read (always true for a request without a body).
    pub fn is_complete(&self) -> bool {
        match &self.inner {
            Inner::Streamed { decoder, .. } => decoder.is_complete(),
            Inner::Received(reader) => reader.remaining() == 0,
            Inner::Taken => true,
        }
    }

    /// The error that stopped the body, if reading it failed.
    pub fn error(&self) -> Option<BodyError> {
        match &self.inner {
            Inner::Streamed { decoder, .. } => decoder.error(),
            Inner::Received(_) | Inner::Taken => None,
        }
    }

    /// True if the body was received before the handler ran: nothing of it is left on the
    /// connection.
    pub(crate) fn is_received(&self) -> bool {
        matches!(self.inner, Inner::Received(_) | Inner::Taken)
    }

    /// True if `100 Continue` was sent.
    pub(crate) fn continue_sent(&self) -> bool {
        matches!(
            self.inner,
            Inner::Streamed {
                expect: Continue::Sent,
                ..
            }
        )
    }

    /// True if the client asked for `100 Continue` and has not been sent it: it may not
    /// have sent the body at all.
    pub(crate) fn continue_pending(&self) -> bool {
        matches!(
            self.inner,
            Inner::Streamed {
                expect: Continue::Pending,
                ..
            }
        )
    }

    /// Bytes of the body not yet read, when known: a `Content-Length` body's rest, or a
    /// received body's.
    pub(crate) fn remaining_length(&self) -> Option<u64> {
        match &self.inner {
            Inner::Streamed { decoder, .. } => decoder.remaining_length(),
            Inner::Received(reader) => Some(reader.remaining()),
            Inner::Taken => Some(0),
        }
    }

    /// The decoder of a streamed body, to drain what the handler left of it.
    pub(crate) fn decoder(&self) -> Option<Decoder> {
        match &self.inner {
            Inner::Streamed { decoder, .. } => Some(*decoder),
            Inner::Received(_) | Inner::Taken => None,
        }
    }

    /// Takes the unread rest of a received body, for echoing it from the store.
    pub(crate) fn take_received_rest(&mut self) -> Option<Rest> {
        match std::mem::replace(&mut self.inner, Inner::Taken) {
            Inner::Received(reader) => Some(reader.into_rest()),
            other => {
                self.inner = other;
                None
            }
        }
    }

    /// Where the unread buffered bytes stand when the body is done with (a received body
    /// left none in the worker's buffer).
    pub(crate) fn leftover(&self) -> Leftover {
        match &self.inner {
            Inner::Streamed { src, .. } if src.initial_pos < src.initial.len() => {
                Leftover::Initial {
                    from: src.initial_pos,
                }
            }
            Inner::Streamed { src, .. } => Leftover::Spare {
                from: src.pos,
                to: src.end,
            },
            Inner::Received(_) | Inner::Taken => Leftover::Initial { from: 0 },
        }
    }

    /// Bytes this body read from the socket.
    pub(crate) fn bytes_in(&self) -> u64 {
        match &self.inner {
            Inner::Streamed { src, .. } => src.bytes_in,
            Inner::Received(_) | Inner::Taken => 0,
        }
    }

    /// Sends `100 Continue` now (the first read does it otherwise).
    pub(crate) fn send_continue(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Streamed { src, expect, .. } => {
                *expect = Continue::Sent;
                // The worker flushed earlier responses before calling the handler, so this
                // interim response cannot overtake them.
                let mut pacing = Pacing::response(src.config);
                src.wire
                    .write_all_paced(CONTINUE, &mut pacing, src.cap, |_| {})
            }
            Inner::Received(_) | Inner::Taken => Ok(()),
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.continue_pending()
            && let Err(e) = self.send_continue()
        {
            if let Inner::Streamed { decoder, .. } = &mut self.inner {
                decoder.fail(BodyError::Incomplete);
            }
            return Err(e);
        }
        match &mut self.inner {
            Inner::Streamed { src, decoder, .. } => {
                decoder.decode(src, out).map_err(BodyError::to_io)
            }
            Inner::Received(reader) => reader.read(out),
            Inner::Taken => Ok(0),
        }
    }
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Streamed { decoder, .. } => f
                .debug_struct("Body")
                .field("decoder", decoder)
                .field("received", &decoder.received())
                .finish_non_exhaustive(),
            Inner::Received(reader) => f
                .debug_struct("Body")
                .field("received", &true)
                .field("remaining", &reader.remaining())
                .finish(),
            Inner::Taken => f.debug_struct("Body").field("taken", &true).finish(),
        }
    }
}
