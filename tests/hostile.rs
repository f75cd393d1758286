//! Hostile and broken clients (issue 5): each case runs against a real server over real
//! sockets, and each must leave the server serving others. Cases already covered elsewhere:
//! a trickled head (`protocol.rs`: 408), TLS and HTTP/2 prefaces and garbage (`protocol.rs`),
//! header injection by a handler (`protocol.rs`) and forged log lines (`logging.rs`).

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use basehttp::{Config, Request, Response};
use support::{Client, assert_alive, assert_refused, connect, routes, start};

/// [`routes`] plus `/big`: 64 MiB, far more than socket buffers hold, and `/drip`: a chunked
/// response of 50 chunks, 20 ms apart.
fn handler(req: &mut Request) -> Response {
    match req.path() {
        "/big" => Response::bytes(vec![b'x'; 64 << 20]),
        "/drip" => Response::reader(Drip(50)),
        _ => routes(req),
    }
}

struct Drip(usize);
impl Read for Drip {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Ok(0);
        }
        self.0 -= 1;
        thread::sleep(Duration::from_millis(20));
        buf[..5].copy_from_slice(b"drip\n");
        Ok(5)
    }
}

/// One worker and short timeouts: a client that could hold a worker would hold them all.
fn one_worker() -> Config {
    let mut c = support::config(1);
    c.active_workers = 1;
    c.header_timeout = Duration::from_millis(500);
    c.body_timeout = Duration::from_millis(500);
    c.write_timeout = Duration::from_millis(500);
    c
}

/// Closes `s` with a reset (RST) instead of a FIN.
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

#[test]
fn a_body_trickled_slower_than_the_body_timeout_gets_408() {
    let s = start(one_worker(), handler);
    let mut c = Client::new(s.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");
    thread::sleep(Duration::from_millis(800));
    let _ = c.reader.get_mut().write_all(b"c");
    let resp = support::read_one(&mut c.reader, false).expect("an answer");
    support::assert_error_response(&resp, 408);
    assert_alive(s.local_addr());
}

#[test]
fn a_client_that_never_reads_is_dropped_after_the_write_timeout() {
    let s = start(one_worker(), handler);
    let mut stuck = connect(s.local_addr());
    stuck
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // The only worker is blocked writing 64 MiB to a client that reads nothing; the write
    // timeout (500 ms) must free it. Without it, this would wait forever.
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    assert_alive(s.local_addr());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered only after {:?}",
        started.elapsed()
    );
    drop(stuck);
}

#[test]
fn a_half_closed_client_still_gets_its_answer() {
    let s = start(one_worker(), handler);
    let mut c = Client::new(s.local_addr());
    c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /path?second HTTP/1.1\r\nHost: t\r\n\r\n");
    c.reader.get_ref().shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.response(false).text(), "Hello, World!");
    assert_eq!(c.response(false).text(), "path=/path query=second");
    assert!(c.is_closed());
    assert_alive(s.local_addr());
}

/// Half a head, then the client closes its side: answered `400` and closed, as runserver
/// answers it (RFC 9112 §8 allows the answer; `logging.rs` checks the line it logs).
#[test]
fn a_half_closed_client_with_a_partial_head_is_answered_400_and_closed() {
    let s = start(one_worker(), handler);
    let mut c = Client::new(s.local_addr());
    c.send(b"GET /hello HTTP/1.1\r\nHo");
    c.reader.get_ref().shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.response(false).status, 400);
    assert!(c.is_closed());
    assert_alive(s.local_addr());
}

#[test]
fn resets_in_a_head_a_body_and_a_streamed_response_harm_no_one() {
    let s = start(one_worker(), handler);
    let addr = s.local_addr();
    // In the middle of a head.
    let mut a = connect(addr);
    a.write_all(b"GET /hello HTTP/1.1\r\nHost:").unwrap();
    thread::sleep(Duration::from_millis(50));
    reset(a);
    assert_alive(addr);
    // In the middle of a body the handler is reading.
    let mut b = connect(addr);
    b.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    reset(b);
    assert_alive(addr);
    // In the middle of a streamed response.
    let mut c = connect(addr);
    c.write_all(b"GET /drip HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 64];
    assert!(c.read(&mut first).unwrap() > 0);
    reset(c);
    assert_alive(addr);
    // And mid-pipeline, with answers still being written.
    let mut d = connect(addr);
    d.write_all(&support::HELLO.repeat(200)).unwrap();
    reset(d);
    assert_alive(addr);
}

#[test]
fn nul_bytes_anywhere_in_a_head_are_400() {
    let s = start(Config::default(), handler);
    for raw in [
        &b"GET /he\0llo HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET /hello HTTP/1.1\r\nHost: t\0\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nX-\0: 1\r\nHost: t\r\n\r\n",
        b"\0\0\0\0\0\0\0\0\r\n\r\n",
    ] {
        assert_refused(s.local_addr(), raw, 400);
    }
}

#[test]
fn a_flood_of_garbage_is_refused_without_reading_it_all() {
    let s = start(one_worker(), handler);
    let mut c = connect(s.local_addr());
    let junk: Vec<u8> = (0..1 << 20).map(|i| (i * 7 + 3) as u8).collect();
    let mut w = c.try_clone().unwrap();
    // The server answers and closes early: the rest of the write may fail, as it should.
    let writer = thread::spawn(move || {
        let _ = w.write_all(&junk);
    });
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text:?}");
    assert_alive(s.local_addr());
}
