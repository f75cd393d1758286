//! The [`Request`] a handler sees: a checked head (from `http1::head`) and its [`Body`].
//!
//! A request borrows everything from the worker's read buffer: the method, target and header
//! fields are slices of it, and nothing is copied or allocated to look at a request. This
//! module performs no I/O of its own; the body reads the socket when the handler reads it.

use std::io::{self, Read};
use std::net::SocketAddr;

use crate::body::Body;
use crate::http1::head::{Head, Version, split_target};
use crate::stats::{Snapshot, Stats};

/// An HTTP request, as a handler sees it: the head borrowed from the worker's buffer, and the
/// body as a reader.
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
    method: &'a str,
    target: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    version: Version,
    headers: &'a [httparse::Header<'a>],
    peer: SocketAddr,
    worker: usize,
    body: Body<'a>,
    server: &'a dyn Snapshot,
}

impl<'a> Request<'a> {
    /// The request with this head and body, on `worker` of `server`.
    pub(crate) fn new(
        head: &Head<'a, 'a>,
        peer: SocketAddr,
        worker: usize,
        body: Body<'a>,
        server: &'a dyn Snapshot,
    ) -> Request<'a> {
        let (path, query) = split_target(head.target);
        Request {
            method: head.method,
            target: head.target,
            path,
            query,
            version: head.version,
            headers: head.headers,
            peer,
            worker,
            body,
            server,
        }
    }

    /// The method, exactly as sent (methods are case-sensitive): `GET`, `POST`, …
    pub fn method(&self) -> &str {
        self.method
    }

    /// The request target as sent: `/search?q=rust`, `http://example.com/a`, or `*`.
    pub fn target(&self) -> &str {
        self.target
    }

    /// The path, still percent-encoded: `/search` for `/search?q=rust`, `/a` for the
    /// absolute-form `http://example.com/a`, `*` for `OPTIONS *`.
    pub fn path(&self) -> &str {
        self.path
    }

    /// The query string after `?`, still percent-encoded, if the target has one.
    pub fn query(&self) -> Option<&str> {
        self.query
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The first header field with this name (compared case-insensitively), if its value is
    /// valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first header field with this name (compared case-insensitively), as raw bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Every header field in the order received, as `(name, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|h| (h.name, h.value))
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

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}
