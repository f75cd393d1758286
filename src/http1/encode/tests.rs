//! Response encoding into a buffer.

use super::*;

fn head(
    status: u16,
    body_len: Option<u64>,
    version: Version,
    head_req: bool,
    close: bool,
) -> (String, Encoded) {
    let text_type = Some("text/plain; charset=utf-8");
    let res = ResponseHead {
        reason: None,
        status,
        content_type: text_type,
        headers: &[],
        body_len,
    };
    let mut out = Vec::new();
    let e = write_head(&mut out, &res, version, head_req, close);
    (String::from_utf8(out).unwrap(), e)
}

#[test]
fn text_response_head() {
    let (h, e) = head(200, Some(2), Version::Http11, false, false);
    assert!(h.starts_with("HTTP/1.1 200 OK\r\nServer: basehttp\r\nDate: "));
    assert!(h.contains("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"));
    assert!(!h.contains("Connection"));
    assert!(h.ends_with("\r\n\r\n"));
    assert_eq!(e.framing, Framing::Length(2));
}

#[test]
fn head_requests_keep_length_but_no_body() {
    let (h, e) = head(200, Some(5), Version::Http11, true, false);
    assert!(h.contains("Content-Length: 5\r\n"));
    assert_eq!(e.framing, Framing::None);
}

#[test]
fn streams_are_chunked_on_11_and_close_delimited_on_10() {
    let (h, e) = head(200, None, Version::Http11, false, false);
    assert!(h.contains("Transfer-Encoding: chunked\r\n"));
    assert_eq!(
        e,
        Encoded {
            framing: Framing::Chunked,
            close: false
        }
    );
    let (h, e) = head(200, None, Version::Http10, false, false);
    assert!(h.contains("Connection: close\r\n"));
    assert!(!h.contains("Transfer-Encoding"));
    assert_eq!(
        e,
        Encoded {
            framing: Framing::Close,
            close: true
        }
    );
}

#[test]
fn no_body_statuses() {
    for s in [204, 304] {
        let (h, e) = head(s, Some(1), Version::Http11, false, false);
        assert!(!h.contains("Content-Length"), "{s}: {h}");
        assert_eq!(e.framing, Framing::None);
    }
}

#[test]
fn server_headers_override_and_framing_is_owned() {
    let headers = [
        (Cow::Borrowed("Server"), Cow::Borrowed("mine")),
        (Cow::Borrowed("Content-Length"), Cow::Borrowed("99")),
    ];
    let res = ResponseHead {
        reason: None,
        status: 200,
        content_type: None,
        headers: &headers,
        body_len: Some(1),
    };
    let mut out = Vec::new();
    write_head(&mut out, &res, Version::Http11, false, false);
    let h = String::from_utf8(out).unwrap();
    assert!(h.contains("Server: mine\r\n"));
    assert!(!h.contains("basehttp"));
    assert!(!h.contains("99"));
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

#[test]
fn chunk_prefix_is_hex_with_leading_zeros() {
    assert_eq!(&chunk_prefix(0x4000), b"00004000\r\n");
    assert_eq!(&chunk_prefix(1), b"00000001\r\n");
}

// ---------------------------------------------------------------------------------------
// Table tests, in httparse's style: one RFC 9112 / RFC 9110 case a line, its label naming
// the rule. Every head written is parsed back with httparse, so each row also checks that
// the bytes are a well-formed response.

use std::fmt::Write as _;

use crate::http1::decode::decode_all;
use crate::http1::head::BodyLength;

const V10: Version = Version::Http10;
const V11: Version = Version::Http11;
/// `head_request` values.
const GET: bool = false;
const HEAD: bool = true;
/// `close` values.
const KEEP: bool = false;
const CLOSE: bool = true;

/// A response head parsed back: its status code, reason and fields (names lower-cased).
struct Parsed {
    code: u16,
    reason: String,
    fields: Vec<(String, String)>,
    len: usize,
}

impl Parsed {
    fn new(bytes: &[u8]) -> Parsed {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut res = httparse::Response::new(&mut headers);
        let len = match res.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!(
                "not a response head ({other:?}): \"{}\"",
                bytes.escape_ascii()
            ),
        };
        Parsed {
            code: res.code.unwrap(),
            reason: res.reason.unwrap().to_owned(),
            fields: res
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8(h.value.to_vec()).unwrap();
                    (h.name.to_ascii_lowercase(), value)
                })
                .collect(),
            len,
        }
    }

    /// The one value of a field, `None` if absent; panics if it appears twice.
    fn field(&self, name: &str) -> Option<&str> {
        let mut values = self.fields.iter().filter(|(n, _)| n == name);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "{name} appears twice");
        value
    }
}

/// What a framing row expects: the framing and close decided, then the `Content-Length`,
/// `Transfer-Encoding` and `Connection` fields written (`None`: absent).
type FramingWant = (
    Framing,
    bool,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

/// What a framing row got: as [`FramingWant`], the fields owned.
type FramingGot = (
    Framing,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn framing_row(
    (status, body_len, version, head_request, close): (u16, Option<u64>, Version, bool, bool),
) -> FramingGot {
    let res = ResponseHead {
        reason: None,
        status,
        content_type: None,
        headers: &[],
        body_len,
    };
    let mut out = Vec::new();
    let e = write_head(&mut out, &res, version, head_request, close);
    let p = Parsed::new(&out);
    assert_eq!(p.len, out.len(), "the head is all that was written");
    assert_eq!(p.field("server"), Some("basehttp"));
    assert_eq!(p.field("date").map(str::len), Some(29));
    let field = |name| p.field(name).map(str::to_owned);
    (
        e.framing,
        e.close,
        field("content-length"),
        field("transfer-encoding"),
        field("connection"),
    )
}

/// `framing!("label": (status, body_len, version, head_request, close) => want; ...)`.
macro_rules! framing {
    ($($label:literal: $input:expr => $want:expr;)+) => {{
        let mut failures = String::new();
        $(
            let got = framing_row($input);
            let want: FramingWant = $want;
            let same = (got.0, got.1, got.2.as_deref(), got.3.as_deref(), got.4.as_deref()) == want;
            if !same {
                let _ = writeln!(failures, "  {}: got {got:?}, want {want:?}", $label);
            }
        )+
        assert!(failures.is_empty(), "failing rows:\n{failures}");
    }};
}

#[test]
fn response_framing() {
    use Framing::{Chunked, Close, Length, None as NoBody};
    // RFC 9112 §6.1-6.3 (framing), §9.3 (persistence), RFC 9110 §6.4.1 (no content), §8.6 and
    // §9.3.2 (HEAD).
    framing! {
        "§6.3 known length: Content-Length":     (200, Some(5), V11, GET, KEEP) => (Length(5), false, Some("5"), None, None);
        "§6.3 empty body: Content-Length: 0":    (200, Some(0), V11, GET, KEEP) => (Length(0), false, Some("0"), None, None);
        "§7 stream to 1.1: chunked":             (200, None, V11, GET, KEEP) => (Chunked, false, None, Some("chunked"), None);
        "§6.3¶8 stream to 1.0: close-delimited": (200, None, V10, GET, KEEP) => (Close, true, None, None, Some("close"));
        "§9.3 1.1 close":                        (200, Some(5), V11, GET, CLOSE) => (Length(5), true, Some("5"), None, Some("close"));
        "§9.3 1.1 close, chunked":               (200, None, V11, GET, CLOSE) => (Chunked, true, None, Some("chunked"), Some("close"));
        "§9.3 1.0 keep-alive answered":          (200, Some(5), V10, GET, KEEP) => (Length(5), false, Some("5"), None, Some("keep-alive"));
        "§9.3 1.0 close":                        (200, Some(5), V10, GET, CLOSE) => (Length(5), true, Some("5"), None, Some("close"));
        "9110§15.2 100: no body, no length":     (100, Some(5), V11, GET, KEEP) => (NoBody, false, None, None, None);
        "9110§15.2 101: no body":                (101, None, V11, GET, KEEP) => (NoBody, false, None, None, None);
        "9110§15.2 103: no body":                (103, None, V11, GET, KEEP) => (NoBody, false, None, None, None);
        "9110§15.3.5 204: no body, no length":   (204, Some(5), V11, GET, KEEP) => (NoBody, false, None, None, None);
        "9110§15.3.5 204 stream: not chunked":   (204, None, V11, GET, KEEP) => (NoBody, false, None, None, None);
        "9110§15.3.5 204 to 1.0: no close":      (204, None, V10, GET, KEEP) => (NoBody, false, None, None, Some("keep-alive"));
        "9110§15.4.5 304: no body":              (304, Some(5), V11, GET, KEEP) => (NoBody, false, None, None, None);
        "9110§15.4.5 304 stream: not chunked":   (304, None, V11, GET, KEEP) => (NoBody, false, None, None, None);
        "9110§9.3.2 HEAD keeps Content-Length":  (200, Some(5), V11, HEAD, KEEP) => (NoBody, false, Some("5"), None, None);
        "9110§9.3.2 HEAD of a stream":           (200, None, V11, HEAD, KEEP) => (NoBody, false, None, Some("chunked"), None);
        "9110§9.3.2 HEAD of a 1.0 stream":       (200, None, V10, HEAD, KEEP) => (NoBody, true, None, None, Some("close"));
        "9110§9.3.2 HEAD, 204":                  (204, Some(5), V11, HEAD, KEEP) => (NoBody, false, None, None, None);
        "9110§15.5 error with a body":           (404, Some(9), V11, GET, CLOSE) => (Length(9), true, Some("9"), None, Some("close"));
    }
}

#[test]
fn status_lines() {
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ], always
    // HTTP/1.1 (RFC 9110 §6.2: the server's own version, whatever the request's).
    let rows: &[(&str, u16, Version, &str)] = &[
        ("§4 200", 200, V11, "HTTP/1.1 200 OK\r\n"),
        ("§4 to a 1.0 client", 200, V10, "HTTP/1.1 200 OK\r\n"),
        ("§4 201", 201, V11, "HTTP/1.1 201 Created\r\n"),
        ("§4 206", 206, V11, "HTTP/1.1 206 Partial Content\r\n"),
        ("§4 301", 301, V11, "HTTP/1.1 301 Moved Permanently\r\n"),
        ("§4 404", 404, V11, "HTTP/1.1 404 Not Found\r\n"),
        (
            "9110§15.5.14 413's new name",
            413,
            V11,
            "HTTP/1.1 413 Content Too Large\r\n",
        ),
        ("§4 503", 503, V11, "HTTP/1.1 503 Service Unavailable\r\n"),
        ("9110§15 unknown code", 299, V11, "HTTP/1.1 299 Unknown\r\n"),
        ("9110§15 418", 418, V11, "HTTP/1.1 418 Unknown\r\n"),
        (
            "three digits at most",
            1000,
            V11,
            "HTTP/1.1 999 Unknown\r\n",
        ),
    ];
    for &(label, status, version, line) in rows {
        let res = ResponseHead {
            reason: None,
            status,
            content_type: Some("text/plain"),
            headers: &[],
            body_len: Some(0),
        };
        let mut out = Vec::new();
        write_head(&mut out, &res, version, false, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(line), "{label}: {text:?}");
        let p = Parsed::new(text.as_bytes());
        assert_eq!(
            (p.code, &*p.reason),
            (status.min(999), reason_phrase(status)),
            "{label}"
        );
        assert_eq!(p.field("content-type"), Some("text/plain"), "{label}");
    }
}

#[test]
fn handler_fields() {
    // The server owns the framing fields (RFC 9112 §6); the handler's Server and Date win.
    let rows: &[(&str, &'static str, &'static str, bool)] = &[
        (
            "§6.2 handler Content-Length dropped",
            "Content-Length",
            "99",
            false,
        ),
        ("§6.2 caseless, dropped too", "content-length", "99", false),
        (
            "§6.1 handler Transfer-Encoding dropped",
            "Transfer-Encoding",
            "gzip",
            false,
        ),
        (
            "§9.3 handler Connection dropped",
            "Connection",
            "upgrade",
            false,
        ),
        ("9110§10.2.4 handler Server kept", "Server", "mine", true),
        (
            "9110§6.6.1 handler Date kept",
            "Date",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            true,
        ),
        ("any other field kept", "X-Custom", "a, b", true),
    ];
    for &(label, name, value, kept) in rows {
        let headers = [(Cow::Borrowed(name), Cow::Borrowed(value))];
        let res = ResponseHead {
            reason: None,
            status: 200,
            content_type: None,
            headers: &headers,
            body_len: Some(1),
        };
        let mut out = Vec::new();
        write_head(&mut out, &res, V11, false, false);
        let p = Parsed::new(&out);
        let lower = name.to_ascii_lowercase();
        assert_eq!(p.field(&lower) == Some(value), kept, "{label}");
        assert!(
            p.field("server").is_some() && p.field("date").is_some(),
            "{label}"
        );
        assert_eq!(p.field("content-length"), Some("1"), "{label}");
        assert_eq!(p.field("connection"), None, "{label}");
    }
}

#[test]
fn chunk_prefixes() {
    // RFC 9112 §7.1: chunk-size = 1*HEXDIG, leading zeros allowed: 8 digits, fixed width.
    let rows: &[(usize, &[u8; CHUNK_PREFIX])] = &[
        (0, b"00000000\r\n"),
        (1, b"00000001\r\n"),
        (0xf, b"0000000f\r\n"),
        (0x10, b"00000010\r\n"),
        (0xabcdef, b"00abcdef\r\n"),
        (MAX_CHUNK, b"ffffffff\r\n"),
        (MAX_CHUNK + 1, b"ffffffff\r\n"),
        (usize::MAX, b"ffffffff\r\n"),
    ];
    for &(n, want) in rows {
        assert_eq!(&chunk_prefix(n), want, "{n:#x}");
    }
    // And our own decoder reads them back (with LAST_CHUNK after them; an empty chunk is
    // never framed, being the last chunk itself).
    for n in [1, 0xf, 0x10, 4096, 5000] {
        let data = vec![b'x'; n];
        let mut wire = chunk_prefix(n).to_vec();
        wire.extend_from_slice(&data);
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(LAST_CHUNK);
        let (body, rest) = decode_all(&wire, BodyLength::Chunked, 1 << 20).unwrap();
        assert_eq!((body.len(), rest.len()), (n, 0), "{n}");
    }
}

#[test]
fn fixed_messages() {
    // RFC 9110 §15.2.1: 100 Continue is a bare status line and an empty line.
    let p = Parsed::new(CONTINUE);
    assert_eq!(
        (p.code, &*p.reason, p.fields.len(), p.len),
        (100, "Continue", 0, CONTINUE.len())
    );
    // RFC 9112 §7.1: last-chunk and an empty trailer section end a chunked body.
    assert_eq!(
        decode_all(LAST_CHUNK, BodyLength::Chunked, 0),
        Ok((Vec::new(), &b""[..]))
    );
}

#[test]
fn error_responses() {
    // docs/http1.md's status table: each error is a well-formed response whose Content-Length
    // is the body's length, with `Connection: close`.
    let rows: &[(u16, &str)] = &[
        (400, "malformed request line"),
        (408, "timed out reading the request head"),
        (413, "request body too large"),
        (414, "request line too long"),
        (417, "unsupported expectation"),
        (431, "too many header fields"),
        (500, "the handler panicked"),
        (501, "unsupported transfer coding"),
        (505, "only HTTP/1.0 and HTTP/1.1 are supported"),
        (599, "a code without a phrase"),
        (400, ""),
    ];
    for &(status, reason) in rows {
        let mut out = b"previous bytes stay".to_vec();
        let returned = write_error(&mut out, status, reason);
        let out = &out[b"previous bytes stay".len()..];
        let p = Parsed::new(out);
        let body = std::str::from_utf8(&out[p.len..]).unwrap();
        let label = format!("{status} {reason:?}");
        assert_eq!(
            (p.code, &*p.reason),
            (status, reason_phrase(status)),
            "{label}"
        );
        assert_eq!(
            body,
            format!("{status} {}: {reason}\n", reason_phrase(status)),
            "{label}"
        );
        assert_eq!(
            p.field("content-length"),
            Some(&*body.len().to_string()),
            "{label}"
        );
        assert_eq!(returned, body.len(), "{label}");
        assert_eq!(p.field("connection"), Some("close"), "{label}");
        assert_eq!(
            p.field("content-type"),
            Some("text/plain; charset=utf-8"),
            "{label}"
        );
        assert_eq!(p.field("server"), Some("basehttp"), "{label}");
    }
}

#[test]
fn reason_phrases() {
    // RFC 9110 §15's phrases, and "Unknown" for codes it does not name.
    let rows: &[(u16, &str)] = &[
        (100, "Continue"),
        (101, "Switching Protocols"),
        (204, "No Content"),
        (304, "Not Modified"),
        (308, "Permanent Redirect"),
        (408, "Request Timeout"),
        (413, "Content Too Large"),
        (414, "URI Too Long"),
        (416, "Range Not Satisfiable"),
        (417, "Expectation Failed"),
        (422, "Unprocessable Content"),
        (431, "Request Header Fields Too Large"),
        (501, "Not Implemented"),
        (505, "HTTP Version Not Supported"),
        (0, "Unknown"),
        (102, "Unknown"),
        (299, "Unknown"),
        (418, "Unknown"),
        (600, "Unknown"),
        (u16::MAX, "Unknown"),
    ];
    for &(status, phrase) in rows {
        assert_eq!(reason_phrase(status), phrase, "{status}");
    }
}

#[test]
fn three_status_digits() {
    let rows: &[(u16, &[u8; 3])] = &[
        (0, b"000"),
        (7, b"007"),
        (42, b"042"),
        (100, b"100"),
        (200, b"200"),
        (599, b"599"),
        (999, b"999"),
        (1000, b"999"),
        (u16::MAX, b"999"),
    ];
    for &(status, digits) in rows {
        assert_eq!(&status_digits(status), digits, "{status}");
    }
}

#[test]
fn persistent_responses_advertise_the_keep_alive_timeout() {
    let res = ResponseHead {
        reason: None,
        status: 200,
        content_type: None,
        headers: &[],
        body_len: Some(0),
    };
    let line = keep_alive_header(std::time::Duration::from_millis(5999));
    assert_eq!(line, b"Keep-Alive: timeout=5\r\n");
    for (version, close, shown) in [
        (Version::Http11, false, true),
        (Version::Http10, false, true),
        (Version::Http11, true, false),
    ] {
        let mut out = Vec::new();
        write_head_with(
            &mut out,
            &res,
            version,
            false,
            close,
            &line,
            &crate::date::now_http(),
        );
        let head = String::from_utf8(out).unwrap();
        assert_eq!(head.contains("Keep-Alive: timeout=5\r\n"), shown, "{head}");
    }
}

#[test]
fn a_handler_s_reason_phrase_replaces_the_standard_one() {
    let res = ResponseHead {
        reason: Some("Fine By Me"),
        status: 299,
        content_type: None,
        headers: &[],
        body_len: Some(0),
    };
    let mut out = Vec::new();
    write_head(&mut out, &res, Version::Http11, false, false);
    assert!(out.starts_with(b"HTTP/1.1 299 Fine By Me\r\nServer: basehttp\r\n"));
    let empty = ResponseHead {
        reason: Some(""),
        ..res
    };
    out.clear();
    write_head(&mut out, &empty, Version::Http11, false, false);
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
    assert!(out.starts_with(b"HTTP/1.1 299 \r\n"));
}
