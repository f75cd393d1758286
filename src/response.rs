//! Responses: the [`Response`] a handler returns, its body ([`Payload`]) and the checks on
//! what a handler may put in it.
//!
//! A response is plain data; `http1::encode` turns its head into bytes and the worker's
//! writer sends its body. The server owns the framing headers (`Content-Length`,
//! `Transfer-Encoding`, `Connection`) and adds `Date` and `Server`; the handler owns everything
//! else. This module does not write to sockets.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};

use crate::http1::encode::{Framing, ResponseHead, reason_phrase, status_digits};
use crate::http1::lex::{is_field_value, is_reason_phrase, is_token};

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
    /// A server-sent event stream: its first bytes now, the rest as messages come (see
    /// `crate::event_stream`); it never ends but when the client goes or the server stops.
    Stream(std::sync::Arc<crate::stream_state::Stream>),
}

impl Payload {
    /// The body's length, when known before it is sent.
    pub(crate) fn len(&self) -> Option<u64> {
        match self {
            Payload::Empty => Some(0),
            Payload::Static(b) => Some(b.len() as u64),
            Payload::Bytes(b) => Some(b.len() as u64),
            Payload::File { len, .. } => Some(*len),
            Payload::Reader { len, .. } => *len,
            Payload::RequestBody { len } => *len,
            Payload::Stream(_) => None,
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
    /// A reason phrase of the handler's own, instead of the status's standard one.
    reason: Option<Cow<'static, str>>,
    content_type: Option<Cow<'static, str>>,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub(crate) payload: Payload,
    /// The body's reader must stay on the worker that called the handler.
    pinned: bool,
    /// The head (and part of the body) went out before the handler returned
    /// ([`Early::finish`](crate::Early::finish)).
    pub(crate) early: Option<Box<Started>>,
}

/// What of a response went out before the handler returned (see
/// [`Early`](crate::Early)).
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) status: u16,
    pub(crate) framing: Framing,
    pub(crate) close: bool,
    /// Body bytes sent (what the access line counts).
    pub(crate) body: u64,
    /// Bytes written to the socket, head and framing included.
    pub(crate) wire: u64,
    /// A `Content-Length` body longer than its length: the rest was cut.
    pub(crate) cut: bool,
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
            reason: None,
            content_type: None,
            headers: Vec::new(),
            payload: Payload::Empty,
            pinned: false,
            early: None,
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

    /// `200 OK` sending `len` bytes of `file` from its current position (sent with
    /// `Content-Length: len`, zero-copy as [`file`](Self::file) is), for callers that know
    /// the length already or send only part of a file: static files take one `fstat` per
    /// request, not two; a WSGI server sends a `wsgi.file_wrapper` from where the
    /// application left its file. A file that ends before `len` bytes closes the connection
    /// after what it had.
    ///
    /// ```
    /// use std::io::{Read, Seek, SeekFrom, Write};
    /// use basehttp::{Request, Response, Server};
    /// let path = std::env::temp_dir().join(format!("basehttp-file-part-{}", std::process::id()));
    /// std::fs::write(&path, "skip this|send this|not this")?;
    /// let served = path.clone();
    /// let server = Server::bind("127.0.0.1:0")?.spawn(move |_req: &mut Request| {
    ///     let mut file = std::fs::File::open(&served).unwrap();
    ///     file.seek(SeekFrom::Start(10)).unwrap();
    ///     Response::file_part(file, 9)
    /// })?;
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer)?;
    /// assert!(answer.contains("Content-Length: 9\r\n"));
    /// assert!(answer.ends_with("\r\n\r\nsend this"));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn file_part(file: File, len: u64) -> Response {
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

    /// `200 OK` whose body is the request's own body (what the handler left unread of it).
    ///
    /// A body received before the handler ran (the default body policy) is sent back from
    /// the connection's store, with `Content-Length`, like any body in memory or in a file (a
    /// client slow to take it holds no worker). A streamed body
    /// ([`BodyPolicy::Stream`](crate::BodyPolicy::Stream)) is sent back as it arrives: with
    /// `Content-Length` when the request had one, chunked when the request was chunked; it is
    /// never held whole, and with `Expect: 100-continue`, `100 Continue` goes out before this
    /// response's head. A client that sends its whole streamed body before reading anything
    /// can only do so up to what the two sockets' buffers hold (megabytes on loopback); `curl`
    /// and browsers read as they send.
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

    /// Keeps the body on the worker thread that ran the handler. By default a body the client
    /// is slow to take waits for room in the poller and goes on on whichever worker takes the
    /// connection up next, so a slow reader holds no worker; a reader that must be advanced on the thread
    /// that made it (a Python WSGI iterable, say, tied to a thread-local database connection)
    /// asks to stay. The worker then reads it as the client takes it; once the client is slow
    /// to take a write, the worker reads the rest ahead into memory, up to 1 MiB (within
    /// [`Config::max_buffered_memory`](crate::Config::max_buffered_memory)): a reader that
    /// ends within that is dropped on this worker and its rest waits in the poller like any
    /// other body, so the worker is free; a longer one waits for the client in place, within
    /// `write_timeout` and `min_response_rate`.
    ///
    /// ```
    /// let res = basehttp::Response::reader(std::io::empty()).pin_to_worker();
    /// # let _ = res;
    /// ```
    pub fn pin_to_worker(mut self) -> Response {
        self.pinned = true;
        self
    }

    /// True if the body must stay on the worker that ran the handler.
    pub(crate) fn pinned(&self) -> bool {
        self.pinned
    }

    /// True for a response made by [`echo_body`](Self::echo_body).
    pub(crate) fn echoes_body(&self) -> bool {
        matches!(self.payload, Payload::RequestBody { .. })
    }

    /// A short plain-text error page for this status: `404 Not Found`.
    pub fn error(status: u16) -> Response {
        let reason = reason_phrase(status);
        let mut body = String::with_capacity(reason.len() + 5);
        body.extend(status_digits(status).map(char::from));
        body.push(' ');
        body.push_str(reason);
        body.push('\n');
        Response::text(body).with_status(status)
    }

    /// Replaces the status (and drops a reason phrase set by
    /// [`with_reason`](Self::with_reason), which belonged to the old one).
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self.reason = None;
        self
    }

    /// Sends `reason` in the status line instead of the status's standard phrase
    /// ([`reason_phrase`](crate::reason_phrase)), as a gateway passes on an application's
    /// own (`"299 Fine By Me"`). RFC 9112 §4 allows any `reason-phrase = *( HTAB / SP / VCHAR
    /// / obs-text )`, and clients must ignore it; a phrase with any other byte (CR, LF, NUL,
    /// other controls) is refused when the response is sent, as an invalid header is: the
    /// client gets a `500`, so a reason can never split a response. Set it after
    /// [`with_status`](Self::with_status), which drops it.
    ///
    /// ```
    /// use basehttp::Response;
    /// let res = Response::text("fine").with_status(299).with_reason("Fine By Me");
    /// assert_eq!((res.status(), res.reason()), (299, "Fine By Me"));
    /// assert_eq!(Response::text("ok").reason(), "OK");
    /// ```
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Response {
        self.reason = Some(reason.into());
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

    /// The reason phrase the status line will carry: the handler's own, or the standard one.
    pub fn reason(&self) -> &str {
        self.reason
            .as_deref()
            .unwrap_or_else(|| reason_phrase(self.status))
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

    /// The parts of the head `http1::encode::write_head` serialises.
    #[inline]
    pub(crate) fn head(&self) -> ResponseHead<'_> {
        ResponseHead {
            status: self.status,
            reason: self.reason.as_deref(),
            content_type: self.content_type.as_deref(),
            headers: &self.headers,
            body_len: self.payload.len(),
        }
    }

    /// Puts `tag` into an HTML body (see [`LiveReload::injecting`]): in memory, before its
    /// last `</body>` and with its length fixed; streamed without a length, at its end. Left
    /// alone: other types, a compressed body, a body begun early or streamed with a length,
    /// statuses without a body, a partial content (`206`).
    ///
    /// [`LiveReload::injecting`]: crate::live_reload::LiveReload::injecting
    pub(crate) fn inject_html(&mut self, tag: &str) {
        let html = self
            .header("content-type")
            .and_then(|t| t.trim_start().get(..9))
            .is_some_and(|t| t.eq_ignore_ascii_case("text/html"));
        // No 206: a part of a page is not a page (and its `Content-Range` would lie).
        if !html
            || self.early.is_some()
            || matches!(self.status, 100..=199 | 204 | 206 | 304)
            || self.header("content-encoding").is_some()
        {
            return;
        }
        // A policy that allows scripts by nonce: the script gets the page's nonce.
        let tag = match self
            .header("content-security-policy")
            .and_then(crate::html_inject::script_nonce)
        {
            Some(nonce) => crate::html_inject::with_nonce(tag, nonce),
            None => tag.to_owned(),
        };
        let tag = tag.as_bytes();
        self.payload = match std::mem::replace(&mut self.payload, Payload::Empty) {
            Payload::Static(b) => {
                crate::html_inject::inject(b, tag).map_or(Payload::Static(b), Payload::Bytes)
            }
            Payload::Bytes(b) => match crate::html_inject::inject(&b, tag) {
                Some(injected) => Payload::Bytes(injected),
                None => Payload::Bytes(b),
            },
            // A small file (a page a `wsgi.file_wrapper` sends): read, then as in memory.
            Payload::File { mut file, len } if len <= crate::html_inject::MAX_INJECTED => {
                let mut html = Vec::with_capacity(len as usize);
                match (&mut file).take(len).read_to_end(&mut html) {
                    Ok(n) if n as u64 == len => {
                        let injected = crate::html_inject::inject(&html, tag);
                        Payload::Bytes(injected.unwrap_or(html))
                    }
                    // Cut short or failed: what was read, then nothing more (the length it
                    // then has is the truth).
                    _ => Payload::Bytes(html),
                }
            }
            Payload::Reader { reader, len: None } => Payload::Reader {
                reader: Box::new(reader.chain(io::Cursor::new(tag.to_vec()))),
                len: None,
            },
            other => other,
        };
    }

    /// True if the handler asked to close the connection with `Connection: close`, or the
    /// response is an event stream (which takes its connection for good).
    pub(crate) fn wants_close(&self) -> bool {
        // An event stream takes its connection for good.
        matches!(self.payload, Payload::Stream(_))
            || self.headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("connection")
                    && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
            })
    }

    /// Checks header names and values so no handler can inject a header or split the
    /// response (RFC 9110 §5.5: CR, LF and NUL are never valid in a field value).
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if let Some(ct) = &self.content_type
            && !is_field_value(ct)
        {
            return Err("Content-Type");
        }
        for (name, value) in &self.headers {
            if !is_token(name) {
                return Err("a header name");
            }
            if !is_field_value(value) {
                return Err("a header value");
            }
        }
        if let Some(reason) = &self.reason
            && !is_reason_phrase(reason)
        {
            return Err("the reason phrase");
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
            .field("reason", &self.reason)
            .field("content_type", &self.content_type)
            .field("headers", &self.headers)
            .field("body_len", &self.payload.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_is_refused() {
        let with =
            |name: &'static str, value: &'static str| Response::text("x").with_header(name, value);
        assert!(with("X-A", "a\r\nB: c").validate().is_err());
        assert!(with("X A", "a").validate().is_err());
        assert!(with("X-A", "a\tb").validate().is_ok());
    }

    #[test]
    fn reason_phrases_follow_rfc_9112() {
        let with = |reason: &'static str| Response::text("x").with_status(299).with_reason(reason);
        for ok in [
            "Fine By Me",
            "",
            "OK\tthen",
            "Tr\u{e8}s bien",
            "a-b_c (d) !~",
        ] {
            assert!(with(ok).validate().is_ok(), "{ok:?}");
            assert_eq!(with(ok).reason(), ok);
        }
        for bad in [
            "a\r\nSet-Cookie: x=1",
            "a\nb",
            "nul\0",
            "bell\x07",
            "del\x7f",
        ] {
            assert_eq!(with(bad).validate(), Err("the reason phrase"), "{bad:?}");
        }
        // The standard phrase when none is set, and after the status changes.
        assert_eq!(Response::text("x").with_status(404).reason(), "Not Found");
        assert_eq!(
            with("Mine").with_status(500).reason(),
            "Internal Server Error"
        );
        assert!(Response::text("x").head().reason.is_none());
    }

    #[test]
    fn error_pages_name_the_status() {
        assert_eq!(Response::error(404).payload.len(), Some(14));
        assert_eq!(Response::error(404).status(), 404);
    }
}
