//! A response begun before its handler returns ([`Request::early`](crate::Request::early)):
//! the head and body bytes go to the socket as the handler gives them, for interfaces whose
//! applications write as they go (WSGI's `write()`). The handler then returns what
//! [`Early::finish`] makes of the rest of the body, which the worker sends in the same framing.
//!
//! The connection's socket ([`Wire`]) is shared with the `Early` through an `Arc` made once
//! per connection; an exchange that lent one ends by bumping the wire's exchange count, so an
//! `Early` kept past its request writes nothing. A write waits for a client slow to take it
//! within the server's response pacing (`write_timeout`, `min_response_rate`): the handler
//! chose to write as it goes.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use crate::date;
use crate::http1::encode::{self, Framing};
use crate::http1::head::Version;
use crate::http1::persistence::Persistence;
use crate::pacing::Pacing;
use crate::response::{Payload, Response, Started};
use crate::wire::Wire;

/// What the request's exchange tells an [`Early`] (see [`Request::early`]).
///
/// [`Request::early`]: crate::Request::early
pub(crate) struct Lend {
    pub(crate) wire: Arc<Wire>,
    pub(crate) version: Version,
    pub(crate) head_request: bool,
    /// Whether the connection stays open, as the exchange decided before the handler ran.
    pub(crate) persistence: Persistence,
    pub(crate) keep_alive: std::time::Duration,
    /// How long a write may wait on the client: the server's response pacing.
    pub(crate) pacing: Pacing,
    /// The latest a write may wait, when the server is shutting down.
    pub(crate) cap: Option<Instant>,
}

/// A response begun before the handler returns: [`start`](Early::start) sends the head,
/// [`write`](Early::write) body bytes, each at once (blocking, within the server's
/// `write_timeout`), and the handler returns [`finish`](Early::finish)'s response with the
/// rest of the body. Until `start`, nothing is sent, and `finish` gives the response back as
/// it was.
///
/// ```
/// use std::io::{Read, Write};
/// use basehttp::{Request, Response, Server};
/// let server = Server::bind("127.0.0.1:0")?.spawn(|req: &mut Request| {
///     let Some(mut early) = req.early() else {
///         return Response::text("written, then sent as it goes\n");
///     };
///     // No Content-Length: the body is chunked (on HTTP/1.1).
///     let head = Response::reader(std::io::empty()).with_header("Content-Type", "text/plain");
///     if early.start(&head).is_ok() {
///         // On the wire before the handler goes on.
///         let _ = early.write(b"written, then ");
///     }
///     early.finish(Response::text("sent as it goes\n"))
/// })?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut answer = String::new();
/// client.read_to_string(&mut answer)?;
/// assert!(answer.contains("Transfer-Encoding: chunked"));
/// let body = answer.split_once("\r\n\r\n").unwrap().1;
/// assert!(body.starts_with("0000000e\r\nwritten, then \r\n"), "the written part is a chunk of its own");
/// assert!(body.ends_with("sent as it goes\n\r\n0\r\n\r\n"));
/// server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Early {
    lend: Lend,
    /// The wire's exchange count when lent.
    exchange: u32,
    started: Option<Started>,
    /// Chunk framing is put together here, once per write.
    out: Vec<u8>,
    finished: bool,
}

impl Early {
    pub(crate) fn new(lend: Lend) -> Early {
        let exchange = lend.wire.exchange();
        Early {
            lend,
            exchange,
            started: None,
            out: Vec::new(),
            finished: false,
        }
    }

    /// True once the head has been sent.
    pub fn started(&self) -> bool {
        self.started.is_some()
    }

    /// Sends `head`'s status line and header fields now. Its body is not sent: only its
    /// length, when known (a [`Response::sized_reader`] for an application's own
    /// `Content-Length`), decides the framing; without one the body is chunked on HTTP/1.1 and
    /// ends with the connection on HTTP/1.0. An invalid head is refused, with nothing sent.
    pub fn start(&mut self, head: &Response) -> io::Result<()> {
        self.check()?;
        if self.started.is_some() {
            return Err(io::Error::other("the response has already started"));
        }
        head.validate().map_err(|what| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("invalid {what}"))
        })?;
        let keep_alive = if self.lend.keep_alive.is_zero() {
            Vec::new()
        } else {
            encode::keep_alive_header(self.lend.keep_alive)
        };
        self.out.clear();
        let encoded = encode::write_head_with(
            &mut self.out,
            &head.head(),
            self.lend.version,
            self.lend.head_request,
            self.lend
                .persistence
                .response(head.wants_close(), false)
                .closes(),
            &keep_alive,
            &date::now_http(),
        );
        let started = Started {
            status: head.status(),
            framing: encoded.framing,
            close: encoded.close,
            body: 0,
            wire: self.out.len() as u64,
            cut: false,
        };
        // Sent, or the connection cannot be trusted: either way the response has started.
        self.started = Some(started);
        self.send()
    }

    /// Sends `data` as the next part of the body, at once (a chunk when the body is chunked;
    /// nothing for `HEAD` or a bodyless status; what passes the declared length is cut).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.check()?;
        let Some(started) = self.started.as_mut() else {
            return Err(io::Error::other("write before start"));
        };
        if data.is_empty() {
            return Ok(());
        }
        self.out.clear();
        match started.framing {
            Framing::None => return Ok(()),
            Framing::Length(n) => {
                let room = n.saturating_sub(started.body);
                let take = (data.len() as u64).min(room) as usize;
                started.cut |= take < data.len();
                self.out.extend_from_slice(&data[..take]);
                started.body += take as u64;
            }
            Framing::Chunked => {
                for part in data.chunks(encode::MAX_CHUNK) {
                    self.out
                        .extend_from_slice(&encode::chunk_prefix(part.len()));
                    self.out.extend_from_slice(part);
                    self.out.extend_from_slice(b"\r\n");
                }
                started.body += data.len() as u64;
            }
            Framing::Close => {
                self.out.extend_from_slice(data);
                started.body += data.len() as u64;
            }
        }
        started.wire += self.out.len() as u64;
        self.send()
    }

    /// The response for the handler to return: `rest`'s body, sent after what went out, in
    /// the framing the head chose (`rest`'s own status and header fields are not sent again).
    /// Before [`start`](Early::start), `rest` itself, unchanged. If a `write` failed, the
    /// worker finds the connection broken and closes it.
    pub fn finish(mut self, rest: Response) -> Response {
        self.finished = true;
        let Some(started) = self.started.take() else {
            return rest;
        };
        let mut rest = rest;
        let payload = std::mem::replace(&mut rest.payload, Payload::Empty);
        rest.payload = match started.framing {
            Framing::None => Payload::Empty,
            _ if started.cut => Payload::Empty,
            Framing::Length(n) => Payload::Reader {
                reader: reader_of(payload),
                len: Some(n.saturating_sub(started.body)),
            },
            Framing::Chunked | Framing::Close => Payload::Reader {
                reader: reader_of(payload),
                len: None,
            },
        };
        rest.early = Some(Box::new(started));
        rest
    }

    /// Fails once the exchange the `Early` was lent for is over.
    fn check(&self) -> io::Result<()> {
        if self.lend.wire.exchange() != self.exchange {
            return Err(io::Error::other(
                "the request this response was for is over",
            ));
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let lend = &mut self.lend;
        let sent = lend
            .wire
            .write_all_paced(&self.out, &mut lend.pacing, lend.cap, |_| {});
        self.out.clear();
        sent
    }
}

impl Drop for Early {
    /// A response started and never finished cannot be completed: the connection is shut
    /// down, so the client sees it cut rather than another response in its place.
    fn drop(&mut self) {
        if self.started.is_some() && !self.finished && self.check().is_ok() {
            let _ = self.lend.wire.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A body as a reader, for sending after an early head.
fn reader_of(payload: Payload) -> Box<dyn Read + Send> {
    match payload {
        Payload::Empty | Payload::RequestBody { .. } => Box::new(io::empty()),
        Payload::Static(bytes) => Box::new(bytes),
        Payload::Bytes(bytes) => Box::new(io::Cursor::new(bytes)),
        Payload::File { file, len } => Box::new(file.take(len)),
        Payload::Reader { reader, .. } => reader,
        // A stream cannot begin early (an `Early` head is the handler's own): what it had
        // to send so far is sent, and it ends.
        Payload::Stream(stream) => Box::new(io::Cursor::new(stream.take())),
    }
}
