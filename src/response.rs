//! Responses: the [`Response`] a handler returns, and how its head is serialised
//! (RFC 9112 §4, §6.1-6.3).
//!
//! The server owns the framing headers (`Content-Length`, `Transfer-Encoding`, `Connection`)
//! and adds `Date` and `Server`; the handler owns everything else. Serialising appends to the
//! worker's reusable output buffer, so a response costs no allocation beyond what the handler
//! made. This module does not write to sockets.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};

use crate::date;
use crate::request::{Version, is_token_byte};

/// A response body.
pub(crate) enum Payload {
    Empty,
    Static(&'static [u8]),
    Bytes(Vec<u8>),
    File {
        file: File,
        len: u64,
    },
    Reader {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
    /// The request's own body, copied back as it is read; the worker fills in `len` (the
    /// request's `Content-Length`, or `None` when chunked) before writing the head.
    RequestBody {
        len: Option<u64>,
    },
}

impl Payload {
    /// The body's length, when known before it is sent.
    fn len(&self) -> Option<u64> {
        match self {
            Payload::Empty => Some(0),
            Payload::Static(b) => Some(b.len() as u64),
            Payload::Bytes(b) => Some(b.len() as u64),
            Payload::File { len, .. } => Some(*len),
            Payload::Reader { len, .. } => *len,
            Payload::RequestBody { len } => *len,
        }
    }
}

/// An HTTP response: a status, header fields and a body.
///
/// ```
/// use basehttp::Response;
/// let ok = Response::text("Hello, World!");
/// assert_eq!(ok.status(), 200);
/// let created = Response::json(r#"{"id":1}"#).with_status(201).with_header("Location", "/items/1");
/// assert_eq!(created.header("location"), Some("/items/1"));
/// let missing = Response::error(404);
/// assert_eq!(missing.status(), 404);
/// ```
pub struct Response {
    status: u16,
    content_type: Option<Cow<'static, str>>,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub(crate) payload: Payload,
}

fn bytes_of(body: Cow<'static, str>) -> Payload {
    match body {
        Cow::Borrowed(s) => Payload::Static(s.as_bytes()),
        Cow::Owned(s) => Payload::Bytes(s.into_bytes()),
    }
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            payload: Payload::Empty,
        }
    }

    /// `200 OK` with a `text/plain; charset=utf-8` body. A `&'static str` is sent without
    /// being copied.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        Response::new(200)
            .with_content_type("text/plain; charset=utf-8")
            .with_payload(bytes_of(body.into()))
    }

    /// `200 OK` with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<Cow<'static, str>>) -> Response {
        Response::new(200)
            .with_content_type("text/html; charset=utf-8")
            .with_payload(bytes_of(body.into()))
    }

    /// `200 OK` with an `application/json` body (the string is sent as it is).
    pub fn json(body: impl Into<Cow<'static, str>>) -> Response {
        Response::new(200)
            .with_content_type("application/json")
            .with_payload(bytes_of(body.into()))
    }

    /// `200 OK` with these bytes as the body and no `Content-Type`.
    pub fn bytes(body: impl Into<Vec<u8>>) -> Response {
        Response::new(200).with_payload(Payload::Bytes(body.into()))
    }

    /// `200 OK` with a file as the body. Its length is read from its metadata, and it is sent
    /// zero-copy on Linux (spliced through a pipe), with `std::io::copy` elsewhere: it is
    /// never read into memory.
    pub fn file(file: File) -> io::Result<Response> {
        let len = file.metadata()?.len();
        Ok(Response::new(200).with_payload(Payload::File { file, len }))
    }

    /// `200 OK` sending `len` bytes of `file` from its current position, for callers that
    /// already hold its metadata (static files: one `fstat` per request, not two).
    pub(crate) fn file_part(file: File, len: u64) -> Response {
        Response::new(200).with_payload(Payload::File { file, len })
    }

    /// `200 OK` streaming a reader of unknown length: sent chunked to HTTP/1.1 clients and
    /// delimited by closing the connection for HTTP/1.0 ones.
    pub fn reader(reader: impl Read + Send + 'static) -> Response {
        Response::new(200).with_payload(Payload::Reader {
            reader: Box::new(reader),
            len: None,
        })
    }

    /// `200 OK` streaming a reader that yields exactly `len` bytes (sent with
    /// `Content-Length`; if the reader ends early the connection is closed).
    pub fn sized_reader(reader: impl Read + Send + 'static, len: u64) -> Response {
        Response::new(200).with_payload(Payload::Reader {
            reader: Box::new(reader),
            len: Some(len),
        })
    }

    /// `200 OK` whose body is the request's own body (what the handler left unread of it),
    /// streamed back as it arrives: with `Content-Length` when the request had one, chunked
    /// when the request was chunked. The body is never held whole; with
    /// `Expect: 100-continue`, `100 Continue` goes out before this response's head.
    ///
    /// A client that sends its whole body before reading anything can only do so up to what
    /// the two sockets' buffers hold (megabytes on loopback); `curl` and browsers read as
    /// they send.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use basehttp::{Request, Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?.spawn(|_req: &mut Request| Response::echo_body())?;
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")?;
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer)?;
    /// assert!(answer.contains("Content-Length: 5\r\n"));
    /// assert!(answer.ends_with("\r\n\r\nhello"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn echo_body() -> Response {
        Response::new(200).with_payload(Payload::RequestBody { len: None })
    }

    /// True for a response made by [`echo_body`](Self::echo_body).
    pub(crate) fn echoes_body(&self) -> bool {
        matches!(self.payload, Payload::RequestBody { .. })
    }

    /// A short plain-text error page for this status: `404 Not Found`.
    pub fn error(status: u16) -> Response {
        let reason = reason_phrase(status);
        let mut body = String::with_capacity(reason.len() + 5);
        body.push_str(itoa_status(status).as_str());
        body.push(' ');
        body.push_str(reason);
        body.push('\n');
        Response::text(body).with_status(status)
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Sets the `Content-Type`.
    pub fn with_content_type(mut self, value: impl Into<Cow<'static, str>>) -> Response {
        self.content_type = Some(value.into());
        self
    }

    /// Adds a header field. `Content-Length` and `Transfer-Encoding` are the server's to set
    /// and are ignored here; `Connection: close` makes the server close after this response.
    /// A name that is not a token, or a value with CR, LF or NUL, is refused when the
    /// response is sent: the client gets a `500` instead, so a header can never split a
    /// response.
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        let name = name.into();
        if name.eq_ignore_ascii_case("content-type") {
            self.content_type = Some(value.into());
        } else {
            self.headers.push((name, value.into()));
        }
        self
    }

    fn with_payload(mut self, payload: Payload) -> Response {
        self.payload = payload;
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header field with this name (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type.as_deref();
        }
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// True if the handler asked to close the connection with `Connection: close`.
    pub(crate) fn wants_close(&self) -> bool {
        self.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection")
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
        })
    }

    /// Checks header names and values so no handler can inject a header or split the
    /// response (RFC 9110 §5.5: CR, LF and NUL are never valid in a field value).
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        let valid_value = |v: &str| !v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
        if let Some(ct) = &self.content_type {
            if !valid_value(ct) {
                return Err("Content-Type");
            }
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err("a header name");
            }
            if !valid_value(value) {
                return Err("a header value");
            }
        }
        // A final response is 2xx to 5xx: a 1xx would read as an interim response and leave
        // the client waiting for one that never comes (RFC 9110 §15.2).
        if !(200..=599).contains(&self.status) {
            return Err("the status code");
        }
        Ok(())
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("headers", &self.headers)
            .field("body_len", &self.payload.len())
            .finish()
    }
}

/// A status code as three ASCII digits.
struct StatusDigits([u8; 3]);

impl StatusDigits {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("500")
    }
}

fn itoa_status(status: u16) -> StatusDigits {
    let s = status.min(999);
    StatusDigits([
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ])
}

/// The reason phrase for a status code (RFC 9110 §15), or `Unknown`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// How the body of a response goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body at all (HEAD, 1xx, 204, 304).
    None,
    /// `Content-Length: n`, then n bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No length; the body ends when the connection closes (HTTP/1.0 streams).
    Close,
}

/// Statuses that never carry a body (RFC 9110 §6.4.1).
pub(crate) fn bodyless_status(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// Appends the response head to `out` and says how the body must follow. `close` is whether
/// the connection closes after this response; it becomes `true` if the body is
/// close-delimited.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    res: &Response,
    version: Version,
    head_request: bool,
    close: &mut bool,
) -> Framing {
    let framing = match res.payload.len() {
        _ if bodyless_status(res.status) => Framing::None,
        Some(n) => Framing::Length(n),
        None if version == Version::Http11 => Framing::Chunked,
        None => {
            *close = true;
            Framing::Close
        }
    };
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&itoa_status(res.status).0);
    out.push(b' ');
    out.extend_from_slice(reason_phrase(res.status).as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut has_server = false;
    let mut has_date = false;
    for (name, value) in &res.headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("connection")
        {
            continue;
        }
        has_server |= name.eq_ignore_ascii_case("server");
        has_date |= name.eq_ignore_ascii_case("date");
        put_header(out, name.as_bytes(), value.as_bytes());
    }
    if !has_server {
        out.extend_from_slice(b"Server: basehttp\r\n");
    }
    if !has_date {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(&date::now_http());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(ct) = &res.content_type {
        put_header(out, b"Content-Type", ct.as_bytes());
    }
    match framing {
        Framing::Length(n) => {
            // A 204 or 1xx must not carry Content-Length (RFC 9110 §8.6); HEAD keeps it.
            out.extend_from_slice(b"Content-Length: ");
            put_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::None | Framing::Close => {}
    }
    if *close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if version == Version::Http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if head_request { Framing::None } else { framing }
}

/// Appends `n` in decimal, without going through `fmt` (this runs once per response).
fn put_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn put_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The short plain-text error the server itself sends (for a bad request, a timeout, a
/// panicking handler), always with `Connection: close`.
/// Returns the body's length.
pub(crate) fn write_error(out: &mut Vec<u8>, status: u16, reason: &str) -> usize {
    let text = reason_phrase(status);
    let len = 3 + 1 + text.len() + 2 + reason.len() + 1;
    let _ = write!(
        out,
        "HTTP/1.1 {status} {text}\r\nServer: basehttp\r\nDate: "
    );
    out.extend_from_slice(&date::now_http());
    let _ = write!(
        out,
        "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{status} {text}: {reason}\n"
    );
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(res: &Response, version: Version, head_req: bool, close: bool) -> (String, Framing) {
        let mut out = Vec::new();
        let mut close = close;
        let f = write_head(&mut out, res, version, head_req, &mut close);
        (String::from_utf8(out).unwrap(), f)
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            put_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn text_response_head() {
        let (h, f) = head(&Response::text("hi"), Version::Http11, false, false);
        assert!(h.starts_with("HTTP/1.1 200 OK\r\nServer: basehttp\r\nDate: "));
        assert!(h.contains("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"));
        assert!(!h.contains("Connection"));
        assert!(h.ends_with("\r\n\r\n"));
        assert_eq!(f, Framing::Length(2));
    }

    #[test]
    fn head_requests_keep_length_but_no_body() {
        let (h, f) = head(&Response::text("hello"), Version::Http11, true, false);
        assert!(h.contains("Content-Length: 5\r\n"));
        assert_eq!(f, Framing::None);
    }

    #[test]
    fn streams_are_chunked_on_11_and_close_delimited_on_10() {
        let r = Response::reader(io::empty());
        let (h, f) = head(&r, Version::Http11, false, false);
        assert!(h.contains("Transfer-Encoding: chunked\r\n"));
        assert_eq!(f, Framing::Chunked);
        let (h, f) = head(&r, Version::Http10, false, false);
        assert!(h.contains("Connection: close\r\n"));
        assert!(!h.contains("Transfer-Encoding"));
        assert_eq!(f, Framing::Close);
    }

    #[test]
    fn no_body_statuses() {
        for s in [204, 304] {
            let (h, f) = head(
                &Response::text("x").with_status(s),
                Version::Http11,
                false,
                false,
            );
            assert!(!h.contains("Content-Length"), "{s}: {h}");
            assert_eq!(f, Framing::None);
        }
    }

    #[test]
    fn server_headers_override_and_framing_is_owned() {
        let r = Response::text("x")
            .with_header("Server", "mine")
            .with_header("Content-Length", "99");
        let (h, _) = head(&r, Version::Http11, false, false);
        assert!(h.contains("Server: mine\r\n"));
        assert!(!h.contains("basehttp"));
        assert!(!h.contains("99"));
    }

    #[test]
    fn injection_is_refused() {
        assert!(
            Response::text("x")
                .with_header("X-A", "a\r\nB: c")
                .validate()
                .is_err()
        );
        assert!(
            Response::text("x")
                .with_header("X A", "a")
                .validate()
                .is_err()
        );
        assert!(
            Response::text("x")
                .with_header("X-A", "a\tb")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn error_bodies_have_the_declared_length() {
        let mut out = Vec::new();
        write_error(&mut out, 400, "malformed request line");
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), len);
        assert_eq!(body, "400 Bad Request: malformed request line\n");
    }
}
