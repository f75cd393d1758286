//! The [`Request`] a handler sees: a checked head (from `http1::head`) and its [`Body`].
//!
//! A request borrows everything from the worker's read buffer: the method, target and header
//! fields are slices of it, and nothing is copied or allocated to look at a request. This
//! module performs no I/O of its own; the body reads the socket when the handler reads it.

use std::io::{self, Read};
use std::net::SocketAddr;

use crate::body::Body;
use crate::early::Early;
use crate::http1::head::{BodyLength, Head, Version, split_target, target_authority};
use crate::stats::{Snapshot, Stats};

/// A request's head: method, target, version and header fields, borrowed from the buffer
/// they arrived in. A [`Request`] dereferences to its head; a body policy sees the head alone,
/// before any body byte is read (see [`Handler::body_policy`](crate::Handler::body_policy)).
///
/// ```
/// use basehttp::{BodyPolicy, Request, RequestHead, Response, Server};
/// fn policy(head: &RequestHead) -> BodyPolicy {
///     match head.path() {
///         "/upload" => BodyPolicy::Stream,
///         _ if head.content_length().is_some_and(|n| n > 1 << 20) => BodyPolicy::refuse(413),
///         _ => BodyPolicy::ReceiveFirst,
///     }
/// }
/// let server = Server::bind("127.0.0.1:0")?
///     .body_policy(policy)
///     .spawn(|req: &mut Request| Response::text(req.path().to_string()))?;
/// # server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct RequestHead<'a> {
    method: &'a str,
    target: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    version: Version,
    headers: &'a [httparse::Header<'a>],
    body: BodyLength,
}

impl<'a> RequestHead<'a> {
    /// The head `http1::head::parse` checked.
    pub(crate) fn new(head: &Head<'a, 'a>) -> RequestHead<'a> {
        let (path, query) = split_target(head.target);
        RequestHead {
            method: head.method,
            target: head.target,
            path,
            query,
            version: head.version,
            headers: head.headers,
            body: head.info.body,
        }
    }

    /// The method, exactly as sent (methods are case-sensitive): `GET`, `POST`, …
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent: `/search?q=rust`, `http://example.com/a`, or `*` (with a
    /// fragment, if the client sent one: [`path`](Self::path) and [`query`](Self::query) cut
    /// it).
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The path, still percent-encoded: `/search` for `/search?q=rust`, `/a` for the
    /// absolute-form `http://example.com/a`, `*` for `OPTIONS *`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The host the request is for, as sent: the authority of an absolute-form target
    /// (`http://example.com:8080/a` gives `example.com:8080`; RFC 9112 §3.2.2 says to use it
    /// and ignore the `Host` field), else the `Host` field (`None` without one, as an HTTP/1.0
    /// request may come).
    ///
    /// ```
    /// use basehttp::{Request, Response, Server};
    /// use std::io::{Read, Write};
    /// let server = Server::bind("127.0.0.1:0")?
    ///     .spawn(|req: &mut Request| Response::text(req.host().unwrap_or("-").to_string()))?;
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"GET http://example.com/a HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n")?;
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer)?;
    /// assert!(answer.ends_with("\r\n\r\nexample.com"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn host(&self) -> Option<&'a str> {
        target_authority(self.target).or_else(|| self.header("host"))
    }

    /// The query string after `?`, still percent-encoded, if the target has one (without a
    /// fragment).
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The first header field with this name (compared case-insensitively), if its value is
    /// valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first header field with this name (compared case-insensitively), as raw bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Every header field in the order received, as `(name, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a> {
        self.headers.iter().map(|h| (h.name, h.value))
    }

    /// The body's length as declared by `Content-Length`: `Some(0)` without a body, `None`
    /// for a chunked body (its length is known only once it has arrived).
    pub fn content_length(&self) -> Option<u64> {
        match self.body {
            BodyLength::None => Some(0),
            BodyLength::Length(n) => Some(n),
            BodyLength::Chunked => None,
        }
    }

    /// True if the request has a body (a non-zero `Content-Length`, or chunked).
    pub fn has_body(&self) -> bool {
        self.content_length() != Some(0)
    }
}

impl std::fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestHead")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// An HTTP request, as a handler sees it: the head borrowed from the worker's buffer (its
/// accessors come from [`RequestHead`], which a request dereferences to), and the body as a
/// reader.
///
/// ```
/// use basehttp::{Request, Response};
/// fn handler(req: &mut Request) -> Response {
///     match (req.method(), req.path()) {
///         ("GET", "/hello") => Response::text("Hello, World!"),
///         ("GET", _) => Response::error(404),
///         _ => Response::error(405).with_header("Allow", "GET"),
///     }
/// }
/// # let _ = handler;
/// ```
pub struct Request<'a> {
    head: RequestHead<'a>,
    peer: SocketAddr,
    worker: usize,
    body: Body<'a>,
    server: &'a dyn Snapshot,
    /// What an [`Early`] would need, where the exchange allows one.
    early: Option<EarlyTerms<'a>>,
    /// An [`Early`] was lent: the exchange ends it after the handler.
    lent: bool,
}

/// The exchange's terms for a response begun early (see [`Request::early`]).
pub(crate) struct EarlyTerms<'a> {
    pub(crate) wire: &'a std::sync::Arc<crate::wire::Wire>,
    pub(crate) config: &'a crate::config::Config,
    /// The latest a write may wait, when the server is shutting down.
    pub(crate) cap: Option<std::time::Instant>,
    /// Whether the connection stays open, before the handler has a say.
    pub(crate) persistence: crate::http1::persistence::Persistence,
}

impl<'a> Request<'a> {
    /// The request with this head and body, on `worker` of `server`.
    pub(crate) fn new(
        head: RequestHead<'a>,
        peer: SocketAddr,
        worker: usize,
        body: Body<'a>,
        server: &'a dyn Snapshot,
    ) -> Request<'a> {
        Request {
            head,
            peer,
            worker,
            body,
            server,
            early: None,
            lent: false,
        }
    }

    /// Allows [`early`](Request::early) on these terms.
    pub(crate) fn allow_early(&mut self, terms: EarlyTerms<'a>) {
        self.early = Some(terms);
    }

    /// True if the handler took an [`Early`].
    pub(crate) fn lent_early(&self) -> bool {
        self.lent
    }

    /// Ends the exchange for any [`Early`] lent: it can write no more.
    pub(crate) fn wire_end_exchange(&self) {
        if let Some(terms) = &self.early {
            terms.wire.end_exchange();
        }
    }

    /// A handle to send this request's response head and body before the handler returns,
    /// for applications that write as they go (WSGI's `write()`); the handler then returns
    /// [`Early::finish`]'s response. `None` where the response cannot begin yet: while
    /// answers to earlier pipelined requests wait to be sent, or before a `100 Continue` the
    /// client waits for; the handler then returns its response as usual. See [`Early`].
    pub fn early(&mut self) -> Option<Early> {
        if self.body.continue_pending() {
            return None;
        }
        let terms = self.early.as_ref()?;
        self.lent = true;
        Some(Early::new(crate::early::Lend {
            wire: terms.wire.clone(),
            version: self.head.version,
            head_request: self.head.method == "HEAD",
            persistence: terms.persistence,
            keep_alive: terms.config.keep_alive,
            pacing: crate::pacing::Pacing::response(terms.config),
            cap: terms.cap,
        }))
    }

    /// The request's head.
    pub fn head(&self) -> &RequestHead<'a> {
        &self.head
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The number of the worker thread serving this request (0-based).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// A snapshot of the counters of the server answering this request, as
    /// [`ServerHandle::stats`](crate::ServerHandle::stats) gives them: for a status page.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use basehttp::{Request, Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?.workers(3).spawn(|req: &mut Request| {
    ///     let stats = req.server_stats();
    ///     Response::text(format!("{} workers, {} busy", stats.workers, stats.busy_workers))
    /// })?;
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer)?;
    /// assert!(answer.ends_with("3 workers, 1 busy"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn server_stats(&self) -> Stats {
        self.server.snapshot()
    }

    /// The body, as a reader that stops where the framing says the body ends.
    pub fn body(&mut self) -> &mut Body<'a> {
        &mut self.body
    }

    /// Reads the whole body into a vector, failing with `InvalidData` if it is longer than
    /// `limit` bytes (the bytes past the limit are left for the server to drain).
    ///
    /// ```no_run
    /// # fn handler(req: &mut basehttp::Request) -> basehttp::Response {
    /// match req.read_body_to_vec(64 * 1024) {
    ///     Ok(bytes) => basehttp::Response::text(format!("got {} bytes", bytes.len())),
    ///     Err(_) => basehttp::Response::error(413),
    /// }
    /// # }
    /// ```
    pub fn read_body_to_vec(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let read = (&mut self.body)
            .take((limit as u64).saturating_add(1))
            .read_to_end(&mut out)?;
        if read > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("request body longer than {limit} bytes"),
            ));
        }
        Ok(out)
    }

    pub(crate) fn into_body(self) -> Body<'a> {
        self.body
    }
}

impl<'a> std::ops::Deref for Request<'a> {
    type Target = RequestHead<'a>;

    fn deref(&self) -> &RequestHead<'a> {
        &self.head
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.head.method)
            .field("target", &self.head.target)
            .field("version", &self.head.version)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}
