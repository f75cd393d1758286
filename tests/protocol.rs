//! HTTP/1.1 message handling over real sockets (RFC 9112): request targets, persistent
//! connections, pipelining, response headers, error answers, slow clients and misbehaving
//! handlers. Request and response body framing is in `tests/bodies.rs`.

mod support;

use std::io::{BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use basehttp::{Config, Request, Response};
use support::{Client, HELLO, assert_alive, assert_error_response, assert_refused};

/// [`support::routes`] plus routes for this file:
/// - target `*`: `METHOD *`
/// - `/method`: the method as received
/// - `/close`: `bye` with `Connection: close`
/// - `/bad-value`, `/bad-name`: a header that would split the response
fn handler(req: &mut Request) -> Response {
    match req.path() {
        "*" => Response::text(format!("{} *", req.method())),
        "/method" => Response::text(req.method().to_string()),
        "/close" => Response::text("bye").with_header("Connection", "close"),
        "/bad-value" => Response::text("x").with_header("X-Evil", "a\r\nInjected: yes"),
        "/bad-name" => Response::text("x").with_header("Injected: yes\r\nX", "v"),
        _ => support::routes(req),
    }
}

fn server() -> basehttp::ServerHandle {
    support::start(Config::default(), handler)
}

fn server_with(config: Config) -> basehttp::ServerHandle {
    support::start(config, handler)
}

// ---- Request targets (RFC 9112 §3.2) ----

#[test]
fn origin_form_target_gives_path_and_query() {
    let s = server();
    let resp = support::exchange(
        s.local_addr(),
        b"GET /path?x=1 HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "path=/path query=x=1");
}

#[test]
fn absolute_form_target_is_accepted_with_its_path() {
    let s = server();
    let resp = support::exchange(
        s.local_addr(),
        b"GET http://example.com/path?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "path=/path query=x=1");
}

#[test]
fn options_asterisk_is_accepted() {
    let s = server();
    let resp = support::exchange(s.local_addr(), b"OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "OPTIONS *");
}

#[test]
fn asterisk_target_on_get_is_400() {
    let s = server();
    assert_refused(s.local_addr(), b"GET * HTTP/1.1\r\nHost: test\r\n\r\n", 400);
}

#[test]
fn spaces_and_control_bytes_in_target_are_400() {
    let s = server();
    for raw in [
        &b"GET /a b HTTP/1.1\r\nHost: test\r\n\r\n"[..],
        b"GET /a\tb HTTP/1.1\r\nHost: test\r\n\r\n",
        b"GET /a\x01b HTTP/1.1\r\nHost: test\r\n\r\n",
    ] {
        assert_refused(s.local_addr(), raw, 400);
    }
}

#[test]
fn methods_are_case_sensitive() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(b"get /method HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(c.response(false).text(), "get");
    c.send(b"GET /method HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(c.response(false).text(), "GET");
}

// ---- Persistent connections (RFC 9112 §9) ----

#[test]
fn http11_connection_persists_by_default() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    for _ in 0..2 {
        let resp = c.get("/hello");
        assert_eq!((resp.status, resp.text().as_str()), (200, "Hello, World!"));
        assert_eq!(resp.header("connection"), None);
    }
}

#[test]
fn client_connection_close_closes() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(b"GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let resp = c.response(false);
    assert_eq!(resp.text(), "Hello, World!");
    assert!(resp.closes());
    assert!(c.is_closed());
}

#[test]
fn http10_closes_by_default() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(b"GET /hello HTTP/1.0\r\n\r\n");
    let resp = c.response(false);
    assert_eq!(resp.text(), "Hello, World!");
    assert!(resp.closes());
    assert!(c.is_closed());
}

#[test]
fn http10_keep_alive_persists() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    for _ in 0..2 {
        c.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let resp = c.response(false);
        assert_eq!(resp.text(), "Hello, World!");
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn handler_connection_close_closes() {
    let s = server();
    let mut c = Client::new(s.local_addr());
    c.send(b"GET /close HTTP/1.1\r\nHost: test\r\n\r\nGET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
    let resp = c.response(false);
    assert_eq!(resp.text(), "bye");
    assert!(resp.closes());
    assert!(
        c.is_closed(),
        "the pipelined request after it must not be answered"
    );
}

#[test]
fn max_requests_per_connection_closes_on_the_last() {
    let mut config = Config::default();
    config.max_requests_per_connection = 3;
    let s = server_with(config);
    let mut c = Client::new(s.local_addr());
    assert!(!c.get("/hello").closes());
    assert!(!c.get("/hello").closes());
    let third = c.get("/hello");
    assert_eq!(third.text(), "Hello, World!");
    assert!(third.closes());
    assert!(c.is_closed());
}

#[test]
fn zero_keep_alive_closes_every_connection() {
    let mut config = Config::default();
    config.keep_alive = Duration::ZERO;
    let s = server_with(config);
    for _ in 0..2 {
        let mut c = Client::new(s.local_addr());
        let resp = c.get("/hello");
        assert_eq!(resp.text(), "Hello, World!");
        assert!(resp.closes());
        assert!(c.is_closed());
    }
}

// ---- Pipelining (RFC 9112 §9.3.2) ----

#[test]
fn sixteen_pipelined_gets_are_answered_in_order_in_at_most_two_writes() {
    let s = support::start(support::config(1), handler);
    let mut burst = Vec::new();
    for i in 0..16 {
        burst.extend_from_slice(
            format!("GET /path?i={i} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        );
    }
    let before = s.stats().writes;
    let mut c = Client::new(s.local_addr());
    c.send(&burst);
    for i in 0..16 {
        let resp = c.response(false);
        assert_eq!(resp.text(), format!("path=/path query=i={i}"));
    }
    let writes = s.stats().writes - before;
    assert!(writes <= 2, "16 pipelined responses took {writes} writes");
}

// ---- Response headers (RFC 9110 §6.6) ----

/// `Sun, 22 Nov 2026 06:35:20 GMT`, checked by shape.
fn is_imf_fixdate(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |r: std::ops::Range<usize>| s[r].bytes().all(|b| b.is_ascii_digit());
    s.is_ascii()
        && s.len() == 29
        && DAYS.contains(&&s[0..3])
        && &s[3..5] == ", "
        && digits(5..7)
        && &s[7..8] == " "
        && MONTHS.contains(&&s[8..11])
        && &s[11..12] == " "
        && digits(12..16)
        && &s[16..17] == " "
        && digits(17..19)
        && &s[19..20] == ":"
        && digits(20..22)
        && &s[22..23] == ":"
        && digits(23..25)
        && &s[25..] == " GMT"
}

#[test]
fn date_is_imf_fixdate_and_server_is_named() {
    let s = server();
    let resp = support::exchange(s.local_addr(), HELLO);
    let date = resp.header("date").expect("Date header");
    assert!(is_imf_fixdate(date), "Date {date:?} is not an IMF-fixdate");
    assert_eq!(resp.header("server"), Some("basehttp"));
}

/// Seconds since 1970 of an IMF-fixdate (checked by [`is_imf_fixdate`] first).
fn fixdate_unix(s: &str) -> u64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, d) = (n(12..16), n(5..7));
    let m = MONTHS.iter().position(|&m| m == &s[8..11]).unwrap() as i64 + 1;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(17..19) * 3600 + n(20..22) * 60 + n(23..25)) as u64
}

#[test]
fn date_is_the_current_second_and_moves_on_over_a_kept_alive_connection() {
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let s = server();
    let mut client = Client::new(s.local_addr());
    let before = unix_now();
    let first = client.get("/hello");
    let after = unix_now();
    let first = fixdate_unix(first.header("date").unwrap());
    assert!(
        (before..=after).contains(&first),
        "{before} <= {first} <= {after}"
    );
    thread::sleep(Duration::from_millis(2_100));
    let before = unix_now();
    let later = client.get("/hello");
    let after = unix_now();
    let later = fixdate_unix(later.header("date").unwrap());
    assert!(
        (before..=after).contains(&later),
        "{before} <= {later} <= {after}"
    );
    assert!(
        later >= first + 2,
        "the Date header moved on: {first} then {later}"
    );
}

// ---- Error answers (RFC 9112 §2.2, §3, §5, §6) ----

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn two_content_lengths_are_400() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        400,
    );
}

#[test]
fn invalid_content_length_is_400() {
    let s = server();
    for value in ["abc", "-1", "1,1"] {
        let raw = format!("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {value}\r\n\r\nx");
        assert_refused(s.local_addr(), raw.as_bytes(), 400);
    }
}

#[test]
fn transfer_encoding_not_ending_in_chunked_is_400() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn obs_fold_is_400() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"GET /hello HTTP/1.1\r\nHost: test\r\nX-Folded: a\r\n b\r\n\r\n",
        400,
    );
}

#[test]
fn missing_host_in_http11_is_400() {
    let s = server();
    assert_refused(s.local_addr(), b"GET /hello HTTP/1.1\r\n\r\n", 400);
}

#[test]
fn two_hosts_are_400() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
}

#[test]
fn content_length_over_max_body_is_413() {
    let mut config = Config::default();
    config.max_body = 1000;
    let s = server_with(config);
    let mut raw = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1001\r\n\r\n".to_vec();
    raw.resize(raw.len() + 1001, b'a');
    assert_refused(s.local_addr(), &raw, 413);
}

#[test]
fn request_line_over_8k_is_414() {
    let s = server();
    let raw = format!("GET /{} HTTP/1.1\r\nHost: test\r\n\r\n", "a".repeat(9000));
    assert_refused(s.local_addr(), raw.as_bytes(), 414);
}

#[test]
fn header_line_over_8k_is_431() {
    let s = server();
    let raw = format!(
        "GET /hello HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    assert_refused(s.local_addr(), raw.as_bytes(), 431);
}

#[test]
fn head_over_max_head_is_431() {
    let s = server();
    // Every line is under 8 KiB; together they pass the 64 KiB `max_head`.
    let mut raw = String::from("GET /hello HTTP/1.1\r\nHost: test\r\n");
    for i in 0..9 {
        raw.push_str(&format!("X-H{i}: {}\r\n", "a".repeat(7900)));
    }
    raw.push_str("\r\n");
    assert!(raw.len() > Config::default().max_head);
    assert_refused(s.local_addr(), raw.as_bytes(), 431);
}

/// A GET with `Host` and `extra` more header fields.
fn get_with_headers(extra: usize) -> Vec<u8> {
    let mut raw = String::from("GET /hello HTTP/1.1\r\nHost: test\r\n");
    for i in 0..extra {
        raw.push_str(&format!("X-H{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

#[test]
fn a_hundred_headers_pass_but_101_are_431() {
    let s = server();
    let resp = support::exchange(s.local_addr(), &get_with_headers(99));
    assert_eq!(
        resp.status, 200,
        "100 header fields are within the default limit"
    );
    assert_refused(s.local_addr(), &get_with_headers(100), 431);
}

#[test]
fn unknown_transfer_coding_is_501() {
    let s = server();
    assert_refused(
        s.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    );
}

#[test]
fn http2_version_is_505() {
    let s = server();
    assert_refused(s.local_addr(), b"GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505);
}

#[test]
fn http2_preface_is_505() {
    let s = server();
    assert_refused(s.local_addr(), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}

#[test]
fn garbage_is_400() {
    let s = server();
    assert_refused(s.local_addr(), b"\x00\x01\x02garbage\r\n\r\n", 400);
}

#[test]
fn stalled_partial_head_is_408() {
    let mut config = Config::default();
    config.header_timeout = Duration::from_millis(300);
    let s = server_with(config);
    let started = Instant::now();
    assert_refused(s.local_addr(), b"GET /hello HTTP/1.1\r\nHost: te", 408);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn tls_client_hello_is_closed_without_a_response() {
    let s = server();
    let hello = [
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 0x5a, 0x5a, 0x5a, 0x5a,
    ];
    let answer = support::exchange_to_close(s.local_addr(), &hello);
    assert!(answer.is_empty(), "TLS got an answer: {answer:?}");
    assert_alive(s.local_addr());
}

// ---- Slow clients ----

#[test]
fn trickling_client_gets_408_while_others_are_served() {
    let mut config = support::config(1);
    config.header_timeout = Duration::from_secs(1);
    let s = server_with(config);
    let started = Instant::now();
    let slow = support::connect(s.local_addr());
    let mut writer = slow.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        thread::spawn(move || {
            for &b in HELLO {
                if stop.load(SeqCst) || writer.write_all(&[b]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_secs(1));
            }
        })
    };
    thread::sleep(Duration::from_millis(200));
    // The only worker is not held by the slow client.
    assert_alive(s.local_addr());

    let mut reader = BufReader::new(slow);
    let resp = support::read_one(&mut reader, false).expect("a 408 for the slow client");
    assert_error_response(&resp, 408);
    let mut rest = Vec::new();
    assert_eq!(
        reader.read_to_end(&mut rest).ok(),
        Some(0),
        "not closed after 408"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    stop.store(true, SeqCst);
    trickle.join().unwrap();
    drop(reader);
    assert_alive(s.local_addr());
}

#[test]
fn request_waiting_in_the_queue_past_header_timeout_is_answered() {
    let mut config = support::config(1);
    config.header_timeout = Duration::from_millis(500);
    let s = server_with(config);
    let mut busy = Client::new(s.local_addr());
    busy.send(b"GET /sleep?ms=1500 HTTP/1.1\r\nHost: test\r\n\r\n");
    thread::sleep(Duration::from_millis(100));
    // This head is sent at once; only the server is slow to look at it.
    let mut waiting = Client::new(s.local_addr());
    waiting.send(HELLO);
    let resp = support::read_response(&mut waiting.reader, false)
        .expect("a complete head sent in time must be answered, not dropped");
    assert_eq!(resp.text(), "Hello, World!");
    assert_eq!(busy.response(false).text(), "slept");
}

// ---- Handler safety ----

#[test]
fn panicking_handler_gets_500_and_the_worker_survives() {
    let s = support::start(support::config(1), handler);
    let resp = support::exchange(s.local_addr(), b"GET /panic HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_error_response(&resp, 500);
    for _ in 0..20 {
        assert_alive(s.local_addr());
    }
}

/// Sends a request for `path` with `Connection: close` and returns every byte received.
fn raw_answer(addr: std::net::SocketAddr, path: &str) -> Vec<u8> {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    support::exchange_to_close(addr, raw.as_bytes())
}

#[test]
fn header_value_with_crlf_gets_500_without_injection() {
    let s = server();
    let raw = raw_answer(s.local_addr(), "/bad-value");
    let resp = support::read_response(&mut &raw[..], false).expect("a well-formed response");
    assert_eq!(resp.status, 500);
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("Injected"), "injected header sent: {text:?}");
    assert_alive(s.local_addr());
}

#[test]
fn invalid_header_name_gets_500_without_injection() {
    let s = server();
    let raw = raw_answer(s.local_addr(), "/bad-name");
    let resp = support::read_response(&mut &raw[..], false).expect("a well-formed response");
    assert_eq!(resp.status, 500);
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("Injected"), "injected header sent: {text:?}");
    assert_alive(s.local_addr());
}

// ---- Gentle close (RFC 9112 §9.6) ----

#[test]
fn error_response_survives_unsent_client_data() {
    let s = server();
    let mut stream = support::connect(s.local_addr());
    let mut data = b"GET /hello HTTP/1.1\r\n\r\n".to_vec(); // no Host: 400
    data.resize(data.len() + 100 * 1024, b'x');
    for piece in data.chunks(4096) {
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    let mut reader = BufReader::new(stream);
    let resp = support::read_one(&mut reader, false).expect("the 400, not a reset");
    assert_error_response(&resp, 400);
    // The server stopped sending (FIN) before it stopped reading: a plain close with unread
    // bytes would send a reset instead, and this read would fail.
    let mut rest = Vec::new();
    let end = reader.read_to_end(&mut rest);
    assert!(matches!(end, Ok(0)), "after the 400: {end:?} {rest:?}");
    assert_alive(s.local_addr());
}
