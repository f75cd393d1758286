//! Request heads: parsing with `httparse`, the RFC 9112 checks `httparse` leaves to us, and
//! the [`Request`] a handler sees.
//!
//! A request borrows everything from the worker's read buffer: the method, target and header
//! fields are slices of it, and nothing is copied or allocated to look at a request. This
//! module decides framing and persistence; it performs no I/O.

use std::io::{self, Read};
use std::net::SocketAddr;

use crate::body::{Body, Framing};
use crate::config::Config;
use crate::pool::Shared;
use crate::stats::Stats;

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: connections close after each response unless the client sends
    /// `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: connections persist unless either side sends `Connection: close`.
    Http11,
}

impl Version {
    /// The version as it appears on the request line, e.g. `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request head the server refused, with the status and a short reason for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
}

const fn refuse(status: u16, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// What the head says about the message around it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadInfo {
    pub(crate) framing: Framing,
    /// The client allows the connection to stay open after this response.
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

/// Maps an `httparse` error to the answer RFC 9112 asks for.
pub(crate) fn parse_error(e: httparse::Error, head: &[u8]) -> Refusal {
    match e {
        httparse::Error::TooManyHeaders => refuse(431, "too many header fields"),
        httparse::Error::Version if looks_like_http_version(head) => {
            refuse(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        }
        httparse::Error::Version => refuse(400, "malformed request line"),
        httparse::Error::HeaderName => refuse(
            400,
            "malformed header field name (or obsolete line folding)",
        ),
        httparse::Error::HeaderValue => refuse(400, "malformed header field value"),
        httparse::Error::Token => refuse(400, "malformed request line"),
        httparse::Error::NewLine => refuse(400, "malformed line ending"),
        httparse::Error::Status => refuse(400, "malformed request"),
    }
}

/// True if the request line's third word is `HTTP/d.d`: a real version we do not speak
/// (`505`), not garbage (`400`).
fn looks_like_http_version(head: &[u8]) -> bool {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    let mut words = line.split(|&b| b == b' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some(_), Some(_), Some(v), None) => {
            v.len() == 8
                && v.starts_with(b"HTTP/")
                && v[5].is_ascii_digit()
                && v[6] == b'.'
                && v[7].is_ascii_digit()
        }
        _ => false,
    }
}

/// Checks a partial head against the size limits: `414` for an overlong request line, `431`
/// for a head that fills the buffer.
pub(crate) fn check_partial(head: &[u8], config: &Config) -> Option<Refusal> {
    let line = head.iter().position(|&b| b == b'\n');
    match line {
        None if head.len() > config.max_request_line => Some(refuse(414, "request line too long")),
        _ if head.len() >= config.max_head => Some(refuse(431, "request header section too large")),
        _ => None,
    }
}

/// The checks on a complete head that `httparse` does not make (RFC 9112 §3, §6, §9.3).
pub(crate) fn check_head(
    req: &httparse::Request<'_, '_>,
    head: &[u8],
    config: &Config,
) -> Result<HeadInfo, Refusal> {
    let line_len = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    if line_len > config.max_request_line {
        return Err(refuse(414, "request line too long"));
    }
    if head.len() > config.max_head {
        return Err(refuse(431, "request header section too large"));
    }
    let version = match req.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let method = req.method.unwrap_or("");
    check_target(method, req.path.unwrap_or(""))?;

    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut lengths = 0;
    let mut te = TransferCodings::default();
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        if h.name.len() + h.value.len() + 2 > config.max_header_line {
            return Err(refuse(431, "header field too large"));
        }
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            content_length = Some(parse_content_length(h.value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            te.add(h.value)?;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in list_items(h.value) {
                conn_close |= token.eq_ignore_ascii_case(b"close");
                conn_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                expect_continue = version == Version::Http11;
            } else {
                return Err(refuse(417, "unsupported expectation"));
            }
        }
    }
    // RFC 9112 §3.2: a 1.1 request without Host, or any request with several, is a 400.
    if hosts > 1 || (hosts == 0 && version == Version::Http11) {
        return Err(refuse(400, "a request needs exactly one Host header"));
    }
    if lengths > 1 {
        return Err(refuse(400, "several Content-Length headers"));
    }
    // RFC 9112 §6.3 (message body length), in order.
    let framing = if te.present {
        if content_length.is_some() {
            return Err(refuse(400, "both Content-Length and Transfer-Encoding"));
        }
        if version == Version::Http10 {
            return Err(refuse(400, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        if !te.last_is_chunked {
            return Err(refuse(400, "the last transfer coding is not chunked"));
        }
        if te.chunked_count > 1 {
            return Err(refuse(400, "chunked applied more than once"));
        }
        if te.other {
            return Err(refuse(501, "unsupported transfer coding"));
        }
        Framing::Chunked
    } else {
        match content_length {
            Some(n) if n > config.max_body => return Err(refuse(413, "request body too large")),
            Some(n) => Framing::Length(n),
            None => Framing::None,
        }
    };
    let keep_alive = match version {
        Version::Http11 => !conn_close,
        Version::Http10 => conn_keep_alive && !conn_close,
    };
    Ok(HeadInfo {
        framing,
        keep_alive,
        expect_continue,
    })
}

/// Request targets (RFC 9112 §3.2): origin-form, absolute-form, and `*` for OPTIONS only.
/// Control bytes and spaces are never allowed.
fn check_target(method: &str, target: &str) -> Result<(), Refusal> {
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(refuse(
            400,
            "control characters or spaces in the request target",
        ));
    }
    if target.starts_with('/') || (target == "*" && method == "OPTIONS") {
        return Ok(());
    }
    if absolute_form_rest(target).is_some_and(|rest| !rest.is_empty()) {
        return Ok(());
    }
    Err(refuse(400, "malformed request target"))
}

/// For an absolute-form target (`http://host/path`), what follows the scheme's `://`.
fn absolute_form_rest(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    let valid_scheme = !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid_scheme.then_some(rest)
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6); a list, sign or space inside is a 400.
fn parse_content_length(value: &[u8]) -> Result<u64, Refusal> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(refuse(400, "invalid Content-Length"));
    }
    Ok(value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// The transfer codings named across all `Transfer-Encoding` fields.
#[derive(Default)]
struct TransferCodings {
    present: bool,
    last_is_chunked: bool,
    chunked_count: u32,
    other: bool,
}

impl TransferCodings {
    fn add(&mut self, value: &[u8]) -> Result<(), Refusal> {
        self.present = true;
        for item in list_items(value) {
            // A coding may carry parameters (`gzip;q=1`); only its name matters here.
            let name = item
                .split(|&b| b == b';')
                .next()
                .unwrap_or(b"")
                .trim_ascii();
            if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
                return Err(refuse(400, "malformed Transfer-Encoding"));
            }
            let chunked = name.eq_ignore_ascii_case(b"chunked");
            self.chunked_count += u32::from(chunked);
            self.other |= !chunked;
            self.last_is_chunked = chunked;
        }
        Ok(())
    }
}

/// The non-empty, trimmed elements of a comma-separated header value (RFC 9110 §5.6.1).
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

/// `tchar` (RFC 9110 §5.6.2).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

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
    server: &'a Shared,
}

impl<'a> Request<'a> {
    // One call site (the worker), every argument a borrowed part of the request.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        method: &'a str,
        target: &'a str,
        version: Version,
        headers: &'a [httparse::Header<'a>],
        peer: SocketAddr,
        worker: usize,
        body: Body<'a>,
        server: &'a Shared,
    ) -> Request<'a> {
        let (path, query) = split_target(target);
        Request {
            method,
            target,
            path,
            query,
            version,
            headers,
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
        crate::server::stats_of(self.server)
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

/// Splits a target into path and query; an absolute-form target loses its scheme and
/// authority (RFC 9112 §3.2.2).
fn split_target(target: &str) -> (&str, Option<&str>) {
    // Origin-form, the common case, needs no search for `://` (measured: 8% of a pipelined
    // request's instructions).
    let absolute = if target.starts_with('/') {
        None
    } else {
        absolute_form_rest(target)
    };
    let origin = match absolute {
        Some(rest) => match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
            Some(i) => &rest[i..], // `http://host?q`: empty path
            None => "/",
        },
        None => target,
    };
    match origin.split_once('?') {
        Some(("", q)) => ("/", Some(q)),
        Some((p, q)) => (p, Some(q)),
        None => (origin, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/a/b?x=1"), ("/a/b", Some("x=1")));
        assert_eq!(split_target("/"), ("/", None));
        assert_eq!(split_target("http://h:80/p?q"), ("/p", Some("q")));
        assert_eq!(split_target("http://h"), ("/", None));
        assert_eq!(split_target("http://h?q"), ("/", Some("q")));
        assert_eq!(split_target("*"), ("*", None));
    }

    #[test]
    fn target_forms() {
        assert!(check_target("GET", "/x").is_ok());
        assert!(check_target("GET", "http://example.com/x").is_ok());
        assert!(check_target("OPTIONS", "*").is_ok());
        assert!(check_target("GET", "*").is_err());
        assert!(check_target("GET", "example.com:80").is_err());
        assert!(check_target("GET", "/a\u{7f}").is_err());
    }

    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(b"42"), Ok(42));
        assert_eq!(parse_content_length(b" 7 "), Ok(7));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1,1",
            b"0x10",
            b"99999999999999999999",
        ] {
            assert!(parse_content_length(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn version_words() {
        assert!(looks_like_http_version(b"GET / HTTP/2.0\r\n"));
        assert!(looks_like_http_version(b"PRI * HTTP/2.0\r\n"));
        assert!(!looks_like_http_version(b"GET / FOO\r\n"));
        assert!(!looks_like_http_version(b"GET /a b HTTP/1.1\r\n"));
    }
}
