//! Request heads: parsing with `httparse` and the RFC 9112 checks `httparse` leaves to us
//! (sizes, `Host`, the message body length of §6.3, `Connection`, `Expect`, targets).
//!
//! Works on the bytes of a head and the limits of a [`Config`]; it reads no socket and
//! answers nothing: a bad head comes back as a [`Refusal`] (a status and a reason) for the
//! caller to send.

use std::mem::MaybeUninit;

use super::lex::{is_token_byte, list_items};
use crate::config::Config;

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

/// How the request's body is delimited, decided from its head (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLength {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// What the head says about the message around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadInfo {
    pub(crate) body: BodyLength,
    /// The client allows the connection to stay open after this response.
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

/// A complete, checked request head, borrowed from the bytes it was parsed from.
#[derive(Debug)]
pub(crate) struct Head<'h, 'b> {
    pub(crate) method: &'b str,
    pub(crate) target: &'b str,
    pub(crate) version: Version,
    pub(crate) headers: &'h [httparse::Header<'b>],
    /// The head's length in bytes, up to and including its empty line.
    pub(crate) len: usize,
    pub(crate) info: HeadInfo,
}

/// What parsing the start of a buffer gave.
#[derive(Debug)]
pub(crate) enum Parsed<'h, 'b> {
    /// A whole head that passed every check.
    Complete(Head<'h, 'b>),
    /// Not enough bytes yet, and none of the limits broken so far.
    Partial,
    /// A head to answer with this status and close.
    Refused(Refusal),
}

/// Parses and checks the head at the start of `bytes` (after any empty lines: see
/// [`leading_empty_lines`]), with at most `config.max_headers` fields.
pub(crate) fn parse<'h, 'b>(
    bytes: &'b [u8],
    headers: &'h mut [MaybeUninit<httparse::Header<'b>>],
    config: &Config,
) -> Parsed<'h, 'b> {
    let mut parsed = httparse::Request::new(&mut []);
    let max = config.max_headers.min(headers.len());
    let len = match parsed.parse_with_uninit_headers(bytes, &mut headers[..max]) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return match check_partial(bytes, config) {
                Some(refusal) => Parsed::Refused(refusal),
                None => Parsed::Partial,
            };
        }
        // A version cut short (`HTTP/2` of `HTTP/2.0`) is not known to be bad yet: the status
        // must not depend on how the bytes arrive.
        Err(httparse::Error::Version) if version_may_follow(bytes) => return Parsed::Partial,
        Err(e) => return Parsed::Refused(parse_error(e, bytes)),
    };
    let version = if parsed.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    let (method, target) = (parsed.method.unwrap_or(""), parsed.path.unwrap_or("/"));
    let headers: &'h [httparse::Header<'b>] = parsed.headers;
    match check_head(method, target, version, headers, &bytes[..len], config) {
        Ok(info) => Parsed::Complete(Head {
            method,
            target,
            version,
            headers,
            len,
            info,
        }),
        Err(refusal) => Parsed::Refused(refusal),
    }
}

/// Empty lines before a request line are ignored (RFC 9112 §2.2): how many bytes of them
/// start `bytes`.
#[inline]
pub(crate) fn leading_empty_lines(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// A TLS handshake starts with a handshake record: content type 22, version 3.x.
#[inline]
pub(crate) fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x16, 0x03, ..] | [0x16])
}

/// Maps an `httparse` error to the answer RFC 9112 asks for.
fn parse_error(e: httparse::Error, head: &[u8]) -> Refusal {
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

/// True if `head` is a request line not yet ended whose third word is still the start of an
/// `HTTP/d.d` version.
fn version_may_follow(head: &[u8]) -> bool {
    if head.contains(&b'\n') {
        return false;
    }
    let line = head.strip_suffix(b"\r").unwrap_or(head);
    let mut words = line.split(|&b| b == b' ');
    let (Some(_), Some(_), Some(v), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    v.len() < 8
        && v.iter().enumerate().all(|(i, &b)| match i {
            0..5 => b == b"HTTP/"[i],
            5 | 7 => b.is_ascii_digit(),
            _ => b == b'.',
        })
}

/// The length of the request line at the start of `head` without its line ending (CRLF or
/// a bare LF), if it has ended.
fn request_line_len(head: &[u8]) -> Option<usize> {
    let end = head.iter().position(|&b| b == b'\n')?;
    Some(if end > 0 && head[end - 1] == b'\r' {
        end - 1
    } else {
        end
    })
}

/// Checks a partial head against the size limits: `414` for an overlong request line (ended
/// or not), `431` for a head that fills the buffer.
fn check_partial(head: &[u8], config: &Config) -> Option<Refusal> {
    let line = request_line_len(head).unwrap_or(head.len());
    if line > config.max_request_line {
        Some(refuse(414, "request line too long"))
    } else if head.len() >= config.max_head {
        Some(refuse(431, "request header section too large"))
    } else {
        None
    }
}

/// The checks on a complete head that `httparse` does not make (RFC 9112 §3, §6, §9.3).
fn check_head(
    method: &str,
    target: &str,
    version: Version,
    headers: &[httparse::Header<'_>],
    head: &[u8],
    config: &Config,
) -> Result<HeadInfo, Refusal> {
    let line_len = request_line_len(head).unwrap_or(head.len());
    if line_len > config.max_request_line {
        return Err(refuse(414, "request line too long"));
    }
    if head.len() > config.max_head {
        return Err(refuse(431, "request header section too large"));
    }
    check_target(method, target)?;

    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut lengths = 0;
    let mut te = TransferCodings::default();
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;
    for h in headers {
        if h.name.len() + h.value.len() + 2 > config.max_header_line {
            return Err(refuse(431, "header field too large"));
        }
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            // RFC 9112 §3.2: Host = uri-host [ ":" port ] (RFC 3986 §3.2.2), or empty.
            if !h.value.is_empty() && !valid_authority(h.value) {
                return Err(refuse(400, "invalid Host"));
            }
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
    let body = if te.present {
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
        BodyLength::Chunked
    } else {
        match content_length {
            Some(n) if n > config.max_body => return Err(refuse(413, "request body too large")),
            Some(n) => BodyLength::Length(n),
            None => BodyLength::None,
        }
    };
    let keep_alive = match version {
        Version::Http11 => !conn_close,
        Version::Http10 => conn_keep_alive && !conn_close,
    };
    Ok(HeadInfo {
        body,
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
    // Absolute-form (RFC 9112 §3.2.2): an `http` or `https` URI (the schemes an HTTP server
    // is the origin for, RFC 9110 §4.2) whose authority is a host (RFC 3986 §3.2.2, not
    // empty: RFC 9110 §4.2.1) and maybe a port, without userinfo (RFC 9110 §4.2.4).
    if let Some(authority) = target_authority(target)
        && !authority.is_empty()
        && valid_authority(authority.as_bytes())
    {
        return Ok(());
    }
    Err(refuse(400, "malformed request target"))
}

/// The authority of an absolute-form `http` or `https` target (`example.com:8080` in
/// `http://example.com:8080/a`), as sent; `None` for any other target.
pub(crate) fn target_authority(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return None;
    }
    let (scheme, rest) = target.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// True if `value` is `host [ ":" port ]` by RFC 3986 §3.2.2-3: an IP literal in brackets, or
/// a reg-name (unreserved, pct-encoded and sub-delims characters) or IPv4 address; a port of
/// digits. No userinfo, path, space or other delimiter.
fn valid_authority(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &value[1..close];
        let literal_ok = !literal.is_empty()
            && literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'));
        if !literal_ok {
            return false;
        }
        (&value[..0], &value[close + 1..])
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        }
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok && reg_name(host)
}

/// RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ).
fn reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            let hex = host.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        if !allowed {
            return false;
        }
        i += 1;
    }
    true
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

/// Splits a target into path and query; an absolute-form target loses its scheme and
/// authority (RFC 9112 §3.2.2), and a fragment is cut (it is no part of a request target,
/// RFC 9112 §3.2.1; browsers never send one), as gunicorn does.
#[inline]
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = match target.find('#') {
        Some(hash) => &target[..hash],
        None => target,
    };
    // Origin-form, the common case, needs no search for `://` (measured: 8% of a pipelined
    // request's instructions).
    let absolute = if target.starts_with('/') {
        None
    } else {
        absolute_form_rest(target)
    };
    let origin = match absolute {
        // From the path, or from the query (`http://host?q`: an empty path, `/` below).
        Some(rest) => rest.find(['/', '?']).map_or("/", |i| &rest[i..]),
        None => target,
    };
    match origin.split_once('?') {
        Some(("", q)) => ("/", Some(q)),
        Some((p, q)) => (p, Some(q)),
        None => (origin, None),
    }
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

#[cfg(test)]
mod tests;
