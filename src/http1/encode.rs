//! Response encoding (RFC 9112 §4, §6.1-6.3, §7.1): the status line, the head with the
//! server's own framing fields, the chunked coding of streamed bodies, and the server's short
//! error responses.
//!
//! Everything is appended to a caller's reusable buffer, so encoding costs no allocation. The
//! server owns the framing fields (`Content-Length`, `Transfer-Encoding`, `Connection`) and
//! adds `Date` and `Server`; the handler owns everything else. Nothing here writes to a
//! socket.

use std::borrow::Cow;
use std::io::Write;

use super::head::Version;
use super::lex::{fixed_hex, put_decimal};
use crate::date;

/// The interim response sent when the handler first reads a body the client holds back
/// (RFC 9110 §10.1.1).
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// The last chunk and the empty trailer section that end a chunked body.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
/// Room before a chunk's data for its size line: 8 hex digits and CRLF.
pub(crate) const CHUNK_PREFIX: usize = 10;
/// The largest chunk [`chunk_prefix`] can frame.
pub(crate) const MAX_CHUNK: usize = 0xffff_ffff;

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

/// The parts of a response its head is made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseHead<'a> {
    pub(crate) status: u16,
    /// The handler's own reason phrase (checked by `Response::validate`), else the standard.
    pub(crate) reason: Option<&'a str>,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) headers: &'a [(Cow<'static, str>, Cow<'static, str>)],
    /// The body's length, when known before it is sent.
    pub(crate) body_len: Option<u64>,
}

/// What encoding a head decided: how the body follows, and whether the connection closes
/// after it (asked for, or forced by a close-delimited body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub(crate) framing: Framing,
    pub(crate) close: bool,
}

/// Statuses that never carry a body (RFC 9110 §6.4.1).
pub(crate) fn bodyless_status(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// Appends the response head to `out`. `close` says whether the connection closes after this
/// response; a body of unknown length to an HTTP/1.0 client forces it. For a `HEAD` request
/// the head is the same (`Content-Length` included) and the framing is `None`.
#[cfg(test)]
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    res: &ResponseHead<'_>,
    version: Version,
    head_request: bool,
    close: bool,
) -> Encoded {
    write_head_with(
        out,
        res,
        version,
        head_request,
        close,
        b"",
        &date::now_http(),
    )
}

/// [`write_head`], adding `keep_alive` (a whole header line such as
/// `Keep-Alive: timeout=5\r\n`, or nothing) to a response after which the connection stays
/// open: clients that honour it (Node's agent, undici) stop reusing an idle connection before
/// the server closes it. `date` is the `Date` header's value (the worker formats it from a
/// clock reading it already took; see `date::http_at`), unless the handler set its own.
pub(crate) fn write_head_with(
    out: &mut Vec<u8>,
    res: &ResponseHead<'_>,
    version: Version,
    head_request: bool,
    close: bool,
    keep_alive: &[u8],
    date: &[u8; date::HTTP_DATE_LEN],
) -> Encoded {
    let framing = match res.body_len {
        _ if bodyless_status(res.status) => Framing::None,
        Some(n) => Framing::Length(n),
        None if version == Version::Http11 => Framing::Chunked,
        None => Framing::Close,
    };
    let close = close || framing == Framing::Close;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&status_digits(res.status));
    out.push(b' ');
    let reason = match res.reason {
        Some(reason) => reason,
        None => reason_phrase(res.status),
    };
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut has_server = false;
    let mut has_date = false;
    for (name, value) in res.headers {
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
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(ct) = res.content_type {
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
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else {
        if version == Version::Http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(keep_alive);
    }
    out.extend_from_slice(b"\r\n");
    Encoded {
        framing: if head_request { Framing::None } else { framing },
        close,
    }
}

fn put_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The size line of a chunk of `n` bytes (at most [`MAX_CHUNK`]): 8 hex digits, leading
/// zeros allowed (RFC 9112 §7.1: `chunk-size = 1*HEXDIG`), and CRLF. Fixed width, so a chunk
/// can be read into a buffer after room for its size line is left.
pub(crate) fn chunk_prefix(n: usize) -> [u8; CHUNK_PREFIX] {
    let digits = fixed_hex::<8>(n.min(MAX_CHUNK) as u64).unwrap_or(*b"ffffffff");
    let mut prefix = [b'\r'; CHUNK_PREFIX];
    prefix[..8].copy_from_slice(&digits);
    prefix[9] = b'\n';
    prefix
}

/// The short plain-text error the server itself sends (for a bad request, a timeout, a
/// panicking handler), always with `Connection: close`. Returns the body's length.
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

/// The `Keep-Alive` header line advertising an idle timeout of `timeout` (whole seconds,
/// rounded down, so a client gives up on an idle connection before the server does).
pub(crate) fn keep_alive_header(timeout: std::time::Duration) -> Vec<u8> {
    let mut line = b"Keep-Alive: timeout=".to_vec();
    put_decimal(&mut line, timeout.as_secs());
    line.extend_from_slice(b"\r\n");
    line
}

/// A status code as three ASCII digits (codes above 999 show as 999).
pub(crate) fn status_digits(status: u16) -> [u8; 3] {
    let s = status.min(999);
    [
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

/// The reason phrase for a status code (RFC 9110 §15), or `Unknown`.
///
/// ```
/// assert_eq!(basehttp::reason_phrase(404), "Not Found");
/// assert_eq!(basehttp::reason_phrase(299), "Unknown");
/// ```
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

#[cfg(test)]
mod tests;
