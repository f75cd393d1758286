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
