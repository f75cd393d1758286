//! Every close records one `CloseReason`: counted in `Stats::closes`, shown in the demo's
//! `/stats`, and logged at debug level. Each case drives a real server over a real socket and
//! waits for its reason to be counted.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use basehttp::{BodyPolicy, CloseReason, Config, Request, Response, Server, ServerHandle};
use support::{Client, config, connect, exchange, exchange_to_close, routes, start};

fn count(server: &ServerHandle, reason: CloseReason) -> u64 {
    let closes = server.stats().closes;
    assert_eq!(closes.len(), CloseReason::COUNT);
    closes
        .iter()
        .find(|(r, _)| *r == reason)
        .map_or(0, |(_, n)| *n)
}

/// Waits (generously) until `reason` has been counted once more than `before`.
fn wait_for(server: &ServerHandle, reason: CloseReason, before: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(server, reason) <= before {
        assert!(
            Instant::now() < deadline,
            "{reason:?} never counted; closes: {:?}",
            server.stats().closes
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn handler(req: &mut Request) -> Response {
    match req.path() {
        "/bye" => Response::text("bye").with_header("Connection", "close"),
        _ => routes(req),
    }
}

/// Runs `act` against a fresh server and checks it ends in `reason`, and in no other.
fn closes_with(config: Config, reason: CloseReason, act: impl FnOnce(SocketAddr)) {
    let server = start(config, handler);
    act(server.local_addr());
    wait_for(&server, reason, 0);
    let others: Vec<_> = server
        .stats()
        .closes
        .into_iter()
        .filter(|(r, n)| *r != reason && *n > 0)
        .collect();
    assert!(
        others.is_empty(),
        "{reason:?} expected alone, also: {others:?}"
    );
    assert!(server.shutdown());
}

const HELLO: &[u8] = b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn client_closing_between_requests() {
    closes_with(config(2), CloseReason::ClientClosed, |addr| {
        let mut client = Client::new(addr);
        assert_eq!(client.get("/hello").status, 200);
    });
}

#[test]
fn connection_close_from_the_client_and_from_the_handler() {
    closes_with(config(2), CloseReason::RequestedByClient, |addr| {
        let resp = exchange(
            addr,
            b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(resp.status, 200);
    });
    closes_with(config(2), CloseReason::RequestedByHandler, |addr| {
        let resp = exchange(addr, b"GET /bye HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(resp.closes());
    });
}

#[test]
fn bad_heads_tls_and_header_timeouts() {
    closes_with(config(2), CloseReason::BadRequest, |addr| {
        let out = exchange_to_close(addr, b"GET / HTTP/1.1\r\n\r\n");
        assert!(out.starts_with(b"HTTP/1.1 400 "));
    });
    closes_with(config(2), CloseReason::Tls, |addr| {
        let out = exchange_to_close(addr, &[0x16, 0x03, 0x01, 0x00, 0x05]);
        assert!(out.is_empty());
    });
    let mut c = config(2);
    c.header_timeout = Duration::from_millis(200);
    closes_with(c, CloseReason::HeaderTimeout, |addr| {
        let mut s = connect(addr);
        s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(out.starts_with(b"HTTP/1.1 408 "), "{out:?}");
    });
}

#[test]
fn keep_alive_timeout_max_requests_and_keep_alive_off() {
    let mut c = config(2);
    c.keep_alive = Duration::from_millis(200);
    closes_with(c, CloseReason::KeepAliveTimeout, |addr| {
        let mut client = Client::new(addr);
        assert_eq!(client.get("/hello").status, 200);
        let start = Instant::now();
        assert!(client.is_closed());
        assert!(start.elapsed() < Duration::from_secs(5));
    });
    let mut c = config(2);
    c.max_requests_per_connection = 2;
    closes_with(c, CloseReason::MaxRequests, |addr| {
        let mut client = Client::new(addr);
        assert!(!client.get("/hello").closes());
        assert!(client.get("/hello").closes());
    });
    let mut c = config(2);
    c.keep_alive = Duration::ZERO;
    closes_with(c, CloseReason::KeepAliveOff, |addr| {
        assert!(exchange(addr, HELLO).closes());
    });
}

#[test]
fn bodies_cut_short_malformed_or_left_unread() {
    closes_with(config(2), CloseReason::BodyIncomplete, |addr| {
        let mut s = connect(addr);
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(out.is_empty());
    });
    closes_with(config(2), CloseReason::BadBody, |addr| {
        let raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(exchange_to_close(addr, raw).starts_with(b"HTTP/1.1 400 "));
    });
    // Streamed, a body the handler leaves unread beyond `max_drain` closes the connection.
    let streamed = Server::bind("127.0.0.1:0")
        .unwrap()
        .config(config(2))
        .body_policy(|_| BodyPolicy::Stream)
        .spawn(handler)
        .unwrap();
    let mut s = connect(streamed.local_addr());
    s.write_all(b"POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(s);
    assert!(support::read_one(&mut reader, false).unwrap().closes());
    wait_for(&streamed, CloseReason::BodyUnread, 0);
}

#[test]
fn bodies_refused_too_slow_or_over_budget() {
    let refusing = Server::bind("127.0.0.1:0")
        .unwrap()
        .config(config(2))
        .body_policy(|_| BodyPolicy::refuse(413))
        .spawn(handler)
        .unwrap();
    let raw =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    let out = exchange_to_close(refusing.local_addr(), raw);
    assert!(
        out.starts_with(b"HTTP/1.1 413 "),
        "no 100 before a refusal: {out:?}"
    );
    wait_for(&refusing, CloseReason::BodyRefused, 0);

    let mut c = config(2);
    c.min_rate_grace = Duration::from_millis(200);
    closes_with(c, CloseReason::TooSlow, |addr| {
        let mut s = connect(addr);
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nab")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(out.starts_with(b"HTTP/1.1 408 "), "{out:?}");
    });

    let mut c = config(2);
    c.body_buffer = 16;
    c.max_spill = 100;
    closes_with(c, CloseReason::OverBudget, |addr| {
        let body = vec![b'x'; 1000];
        let mut s = connect(addr);
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
            .unwrap();
        // The body comes after the head, so it is received into the store (a body that
        // arrived with its head is read from the worker's buffer, within no budget).
        std::thread::sleep(Duration::from_millis(100));
        let _ = s.write_all(&body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let shown = String::from_utf8_lossy(&out[..out.len().min(60)]).into_owned();
        assert!(out.starts_with(b"HTTP/1.1 503 "), "{shown}");
    });
}

#[test]
fn panics_and_failed_response_bodies() {
    closes_with(config(2), CloseReason::HandlerPanicked, |addr| {
        assert_eq!(
            exchange(addr, b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\n").status,
            500
        );
    });
    let short = |_: &mut Request| Response::sized_reader(std::io::Cursor::new(b"abc"), 10);
    let server = start(config(2), short);
    let out = exchange_to_close(server.local_addr(), HELLO);
    assert!(out.ends_with(b"\r\n\r\nabc"), "{out:?}");
    wait_for(&server, CloseReason::ResponseBodyFailed, 0);
    assert!(server.shutdown());
}

/// The demo's `/stats` lists every reason by name, and each close is logged at debug level
/// with its explanation.
#[test]
fn demo_stats_and_the_debug_log_show_reasons() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_basehttp"))
        .args(["demo", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start basehttp demo");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut addr: Option<SocketAddr> = None;
    for _ in 0..6 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if let Some(url) = line.trim().strip_prefix("Starting development server at ") {
            addr = url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .ok();
            break;
        }
    }
    let addr = addr.expect("the banner names the URL");
    let get = |path: &str| {
        exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    };
    assert_eq!(get("/hello").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let closes = loop {
        let stats: serde_json::Value = serde_json::from_slice(&get("/stats").body).unwrap();
        let closes = stats["closes"]
            .as_object()
            .expect("closes is an object")
            .clone();
        if closes["requested_by_client"].as_u64() >= Some(1) || Instant::now() > deadline {
            break closes;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(closes.len(), CloseReason::COUNT);
    for reason in CloseReason::ALL {
        assert!(closes[reason.name()].is_u64(), "{} missing", reason.name());
    }
    assert!(
        closes["requested_by_client"].as_u64() >= Some(1),
        "{closes:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("closed: the request asked to close the connection"),
        "{log}"
    );
}
