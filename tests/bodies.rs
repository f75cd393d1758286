//! Body framing over real sockets (RFC 9112 §6, §7): request bodies by `Content-Length` and
//! chunked, draining what a handler leaves unread, pipelined bodies, `Expect: 100-continue`,
//! the errors a body can cause; and how response bodies are delimited.

mod support;

use std::io::Write;
use std::thread;
use std::time::Duration;

use basehttp::{BodyPolicy, Config, Request, RequestHead, Response, Server, ServerHandle};
use support::{Client, HELLO, assert_refused};

/// [`support::routes`] plus `/status?code=N`: status N with a body it must not carry if N is
/// 204 or 304.
fn handler(req: &mut Request) -> Response {
    if req.path() == "/echo-stream" {
        return Response::echo_body().with_content_type("application/octet-stream");
    }
    if req.path() == "/status" {
        let code = support::param(req.query().unwrap_or(""), "code").unwrap_or(200);
        return Response::text("this body must not be sent").with_status(code);
    }
    support::routes(req)
}

/// The routes these tests are about streaming choose it: `/echo-stream` answers while the
/// body arrives, `/ignore-body` never reads it (so it is drained, or the connection closed,
/// and `100 Continue` is never sent). Every other body is received first, the default.
fn policy(head: &RequestHead) -> BodyPolicy {
    match head.path() {
        "/echo-stream" | "/ignore-body" => BodyPolicy::Stream,
        _ => BodyPolicy::ReceiveFirst,
    }
}

fn server() -> ServerHandle {
    server_with(Config::default())
}

fn server_with(config: Config) -> ServerHandle {
    Server::bind("127.0.0.1:0")
        .expect("bind")
        .config(config)
        .body_policy(policy)
        .spawn(handler)
        .expect("spawn")
}

#[test]
fn content_length_body_is_echoed() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello world");
    let resp = c.response(false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello world");
    assert_eq!(c.get("/hello").text(), "Hello, World!");
}

#[test]
fn chunked_body_with_extensions_and_trailers_is_echoed() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n6 ; a=\"b\"\r\n world\r\n0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n",
    );
    let resp = c.response(false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello world");
    // The trailers were consumed: the next request parses.
    assert_eq!(c.get("/hello").text(), "Hello, World!");
}

#[test]
fn unread_body_is_drained_before_the_next_request() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    let mut raw =
        b"POST /ignore-body HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n".to_vec();
    // A body made of requests: if it were not drained, they would be answered.
    let body: Vec<u8> = b"GET /path?from-the-body HTTP/1.1\r\nHost: test\r\n\r\n"
        .iter()
        .copied()
        .cycle()
        .take(1000)
        .collect();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(HELLO);
    c.send(&raw);
    let first = c.response(false);
    assert_eq!(first.text(), "ignored");
    assert!(!first.closes(), "a 1000-byte body is within max_drain");
    assert_eq!(c.response(false).text(), "Hello, World!");
}

#[test]
fn unread_body_over_max_drain_closes_the_connection() {
    let mut config = Config::default();
    config.max_drain = 1024;
    let s = server_with(config);
    let mut c = Client::new(s.local_addr());
    let mut raw =
        b"POST /ignore-body HTTP/1.1\r\nHost: test\r\nContent-Length: 10000\r\n\r\n".to_vec();
    raw.resize(raw.len() + 10_000, b'x');
    raw.extend_from_slice(HELLO);
    c.send(&raw);
    let resp = c.response(false);
    assert_eq!(resp.text(), "ignored");
    assert!(resp.closes());
    assert!(
        c.is_closed(),
        "the request after the undrained body must not be answered"
    );
    support::assert_alive(s.local_addr());
}

#[test]
fn chunked_body_trickled_byte_by_byte_is_decoded() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    let body =
        b"4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
    for &b in body {
        c.send(&[b]);
        thread::sleep(Duration::from_millis(3));
    }
    let resp = c.response(false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "Wikipedia in\r\n\r\nchunks.");
    assert_eq!(c.get("/hello").text(), "Hello, World!");
}

#[test]
fn pipelined_requests_with_bodies_are_answered_in_order() {
    let s = support::start(support::config(1), support::routes);
    let mut c = Client::new(s.local_addr());
    c.send(
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nfirst\
          GET /path?second HTTP/1.1\r\nHost: test\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthird\r\n0\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 6\r\n\r\nfourth\
          GET /path?fifth HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    for expected in [
        "first",
        "path=/path query=second",
        "third",
        "fourth",
        "path=/path query=fifth",
    ] {
        assert_eq!(c.response(false).text(), expected);
    }
}

#[test]
fn large_chunked_body_sent_in_one_burst_is_echoed_and_the_next_request_parses() {
    let s = support::start(support::config(1), handler);
    // The only worker is busy while the burst arrives, so it finds the socket full.
    let mut busy = Client::new(s.local_addr());
    busy.send(b"GET /sleep?ms=300 HTTP/1.1\r\nHost: test\r\n\r\n");
    thread::sleep(Duration::from_millis(50));
    let mut c = Client::new(s.local_addr());
    let mut raw =
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut expected = Vec::new();
    for i in 0..50u8 {
        let data = vec![b'a' + i % 26; 4000];
        raw.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        raw.extend_from_slice(&data);
        raw.extend_from_slice(b"\r\n");
        expected.extend_from_slice(&data);
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    raw.extend_from_slice(HELLO);
    let mut writer = c.reader.get_ref().try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&raw));
    let resp = c.response(false);
    assert_eq!(resp.body.len(), expected.len());
    assert!(resp.body == expected, "echoed body differs");
    assert_eq!(c.response(false).text(), "Hello, World!");
    sender.join().unwrap().unwrap();
    assert_eq!(busy.response(false).text(), "slept");
}

// ---- Expect: 100-continue (RFC 9110 §10.1.1) ----

#[test]
fn expect_continue_gets_100_before_the_body_is_sent() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = support::read_one(&mut c.reader, false).expect("100 Continue");
    assert_eq!(interim.status, 100);
    assert!(interim.headers.is_empty());
    c.send(b"hello");
    let resp = support::read_one(&mut c.reader, false).expect("final response");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello");
    assert_eq!(c.get("/hello").text(), "Hello, World!");
}

#[test]
fn expect_continue_with_unread_body_gets_final_response_and_close() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(
        b"POST /ignore-body HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let resp = support::read_one(&mut c.reader, false).expect("final response");
    assert_eq!(resp.status, 200, "no 100 Continue for a body nobody reads");
    assert_eq!(resp.text(), "ignored");
    assert!(resp.closes());
    assert!(c.is_closed());
}

#[test]
fn expect_continue_with_oversized_length_gets_413_without_100() {
    let mut config = Config::default();
    config.max_body = 1000;
    let s = server_with(config);
    // `assert_refused` reads exactly one response: a 100 Continue would fail it.
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
        413,
    );
}

#[test]
fn unknown_expectation_is_417() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: foo\r\n\r\nhello",
        417,
    );
}

// ---- Body errors ----

#[test]
fn bad_chunk_size_is_400_instead_of_the_handler_response() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn malformed_body_received_first_never_reaches_the_handler() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A handler that answers without reading the body: were it run, it would start its `200`
    // before the bad framing came to light, and the client would see a cut response.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let s = Server::bind("127.0.0.1:0")
        .expect("bind")
        .spawn(move |req: &mut Request| {
            if req.path() != "/upload" {
                return support::routes(req);
            }
            counted.fetch_add(1, Ordering::SeqCst);
            Response::text("the handler ran")
        })
        .expect("spawn");
    let head = b"POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
    // The whole body in the first read, so it is checked with the head: a bad chunk size, and
    // whitespace after a size with no extension (RFC 9112 §7.1.1).
    for body in [&b"5\r\nhello\r\nzz\r\n"[..], b"5\r\nhello\r\n0 \r\n\r\n"] {
        assert_refused(s.local_addr(), &[&head[..], body].concat(), 400);
    }
    // The bad framing arriving after the head was read: received, then refused.
    let mut c = Client::new(s.local_addr());
    c.send(head);
    thread::sleep(Duration::from_millis(50));
    c.send(b"5\r\nhello\r\n0;a\x01\r\n\r\n");
    assert_eq!(c.response(false).status, 400);
    assert!(
        c.is_closed(),
        "connection still open after a malformed body"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler ran on a malformed body"
    );
    // A good body still reaches it.
    let mut c = Client::new(s.local_addr());
    c.send(&[&head[..], b"5\r\nhello\r\n0\r\n\r\n"].concat());
    assert_eq!(c.response(false).text(), "the handler ran");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn chunked_body_over_max_body_is_413() {
    let mut config = Config::default();
    config.max_body = 1000;
    let s = server_with(config);
    // Each chunk fits; their sum does not.
    let mut raw =
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..2 {
        raw.extend_from_slice(b"258\r\n"); // 600 bytes
        raw.resize(raw.len() + 600, b'a');
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    assert_refused(s.local_addr(), &raw, 413);
}

// ---- Response framing (RFC 9112 §6) ----

#[test]
fn known_length_response_has_content_length() {
    let s = server();
    let resp = support::exchange(s.local_addr(), HELLO);
    assert_eq!(resp.header("content-length"), Some("13"));
    assert_eq!(resp.header("transfer-encoding"), None);
    assert_eq!(resp.text(), "Hello, World!");
}

#[test]
fn stream_on_http11_is_chunked() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    let resp = c.get("/stream?chunks=3");
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.header("content-length"), None);
    assert_eq!(resp.text(), "chunk-0\nchunk-1\nchunk-2\n");
    assert_eq!(
        c.get("/hello").text(),
        "Hello, World!",
        "connection unusable after stream"
    );
}

#[test]
fn stream_on_http10_is_delimited_by_close() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    // Even a keep-alive 1.0 client must see the close: nothing else can end the body.
    c.send(b"GET /stream?chunks=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let resp = c.response(false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), None);
    assert_eq!(resp.header("transfer-encoding"), None);
    assert!(resp.closes());
    assert_eq!(resp.text(), "chunk-0\nchunk-1\nchunk-2\n");
}

#[test]
fn head_gets_get_headers_and_no_body() {
    let s = server();
    let get = support::exchange(s.local_addr(), HELLO);
    let mut c = Client::new(s.local_addr());
    c.send(
        b"HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\nGET /path?next HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let head = c.response(true);
    assert_eq!(head.status, 200);
    let without_date = |r: &support::Resp| {
        let mut h = r.headers.clone();
        h.retain(|(n, _)| !n.eq_ignore_ascii_case("date"));
        h
    };
    assert_eq!(without_date(&head), without_date(&get));
    assert_eq!(head.header("content-length"), Some("13"));
    // Body bytes after the HEAD response would break this status line.
    assert_eq!(c.response(false).text(), "path=/path query=next");
}

#[test]
fn no_body_for_204_and_304_and_connection_stays_usable() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(
        b"GET /status?code=204 HTTP/1.1\r\nHost: test\r\n\r\n\
          GET /status?code=304 HTTP/1.1\r\nHost: test\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let no_content = c.response(false);
    assert_eq!(no_content.status, 204);
    assert_eq!(no_content.header("content-length"), None);
    assert_eq!(no_content.header("transfer-encoding"), None);
    let not_modified = c.response(false);
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("transfer-encoding"), None);
    // A body after either would be read here as a status line.
    assert_eq!(c.response(false).text(), "Hello, World!");
}

#[test]
fn trailer_section_is_read_strictly() {
    let s = server();
    // A bare LF cannot stand for the empty line that ends the trailer section: a front end
    // that took it so would see the next bytes as a second request, which this server would
    // otherwise swallow as a "trailer" (request smuggling).
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\n\nGET /hello HTTP/1.1\r\nHost: test\r\n\r\n",
        400,
    );
    // Nor can a line that is not `name: value`.
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\nGET /hello HTTP/1.1\r\n\r\n",
        400,
    );
    // A field line ended by a bare LF.
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\nX-T: 1\n\r\n",
        400,
    );
    // A control byte in a trailer value.
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\nX-T: a\x01b\r\n\r\n",
        400,
    );
}

#[test]
fn draining_counts_chunk_framing_against_max_drain() {
    let mut config = Config::default();
    config.max_drain = 1024;
    let s = server_with(config);
    // 1000 data bytes, but each one-byte chunk carries a 4000-byte extension: about 4 MB on
    // the wire. Draining it must stop at max_drain and close, not read it all for free.
    let mut req =
        b"POST /ignore-body HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let ext = format!(";{}", "x".repeat(4000));
    for _ in 0..1000 {
        req.extend_from_slice(format!("1{ext}\r\na\r\n").as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req.extend_from_slice(HELLO);
    let mut c = Client::new(s.local_addr());
    let mut w = c.reader.get_ref().try_clone().unwrap();
    // The server stops reading, so the client's write may fail part-way: that is the point.
    let writer = thread::spawn(move || {
        let _ = w.write_all(&req);
    });
    let resp = c.response(false);
    assert_eq!(resp.text(), "ignored");
    assert!(
        resp.closes(),
        "the over-long chunked body was drained and the connection kept"
    );
    let _ = writer.join();
    support::assert_alive(s.local_addr());
}

#[test]
fn body_cut_short_still_sends_earlier_pipelined_answers() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(
        b"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nabc",
    );
    c.reader
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    // The complete GET was answered before the POST's body came up short; its answer must
    // not be thrown away with the broken request.
    let first = c.response(false);
    assert_eq!(first.text(), "Hello, World!");
    assert!(c.is_closed(), "no answer is due to the cut-short POST");
}

/// `Response::echo_body` with `Expect: 100-continue`: the interim response comes first, then
/// the final one, framed like the request (`Content-Length` or chunked), then the connection
/// serves the next request.
#[test]
fn echo_body_streams_both_framings_after_100_continue() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(
        b"POST /echo-stream HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    let interim = support::read_one(&mut c.reader, false).expect("100 Continue");
    assert_eq!(interim.status, 100);
    c.send(b"hello world");
    let resp = c.response(false);
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello world"));
    assert_eq!(resp.header("content-length"), Some("11"));

    c.send(
        b"POST /echo-stream HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    let interim = support::read_one(&mut c.reader, false).expect("100 Continue");
    assert_eq!(interim.status, 100);
    c.send(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    let resp = c.response(false);
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello world"));
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(c.get("/hello").text(), "Hello, World!");
}

/// The echoed body is streamed, not held: a client sending 8 MiB in pieces gets bytes back
/// before it has sent everything, and every byte comes back in order.
#[test]
fn echo_body_answers_while_the_body_is_still_arriving() {
    use std::io::Read;
    let s = server();
    let mut stream = support::connect(s.local_addr());
    let total = 8 << 20;
    write!(
        stream,
        "POST /echo-stream HTTP/1.1\r\nHost: test\r\nContent-Length: {total}\r\n\r\n"
    )
    .unwrap();
    let piece: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    stream.write_all(&piece).unwrap();
    // Only 64 KiB of 8 MiB sent: the head and the first bytes must already be back.
    let mut first = [0u8; 256];
    let n = stream.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        for _ in 1..total / piece.len() {
            writer.write_all(&piece).unwrap();
        }
    });
    let mut got = first[..n].to_vec();
    let mut buf = vec![0u8; 256 * 1024];
    let mut read_more = |got: &mut Vec<u8>| {
        let r = stream.read(&mut buf).unwrap();
        assert!(r > 0, "closed early");
        got.extend_from_slice(&buf[..r]);
    };
    let head_len = loop {
        if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        read_more(&mut got);
    };
    while got.len() - head_len < total {
        read_more(&mut got);
    }
    sender.join().unwrap();
    let body = &got[head_len..];
    assert_eq!(body.len(), total);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, &b)| b == ((i % (64 * 1024)) % 251) as u8)
    );
}
