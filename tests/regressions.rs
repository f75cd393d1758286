//! Regressions for defects a review of issue 2 found: each test reproduced its defect before
//! the fix. The doc comment of each says what went wrong and where (as the code stood at the
//! review) and the behaviour expected, which the test now checks.

mod support;

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use basehttp::{Config, Request, Response};
use support::{Client, HELLO, assert_alive, connect, exchange, routes, start};

/// [`support::routes`] plus:
/// - `/big`: a 16 KiB body (small enough to be coalesced into the output buffer)
/// - `/all`: echoes the body read with `read_body_to_vec(usize::MAX)` ("no limit")
/// - `/interim`: a handler mistake, a final response with a 1xx status
fn handler(req: &mut Request) -> Response {
    match req.path() {
        "/big" => Response::bytes(vec![b'x'; 16 * 1024]),
        "/all" => match req.read_body_to_vec(usize::MAX) {
            Ok(body) => Response::bytes(body),
            Err(e) => Response::text(format!("error: {e}")).with_status(500),
        },
        "/interim" => Response::new(103),
        _ => routes(req),
    }
}

/// Polls `cond` for up to 5 s.
fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// `414` for a request line over `max_request_line` is measured from the start of the
/// buffer to the first LF (`check_partial`, src/request.rs:98, and `check_head`,
/// src/request.rs:110), but httparse skips empty lines before the request line (RFC 9112
/// §2.2). One leading CRLF makes the "request line" measured empty, so a 20 KiB request line
/// (anything up to `max_head`) is served. Expected: the limit applies to the real request
/// line, so this is a `414`.
#[test]
fn leading_crlf_does_not_bypass_the_request_line_limit() {
    let s = start(Config::default(), handler);
    let mut raw = b"\r\nGET /".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 20 * 1024));
    raw.extend_from_slice(b" HTTP/1.1\r\nHost: test\r\n\r\n");
    support::assert_refused(s.local_addr(), &raw, 414);
}

/// Pipelined requests already buffered are all answered in one turn
/// (src/connection.rs:232-238: after `Step::Answered` the loop goes straight to the next
/// buffered request, and pressure is only looked at when the buffer runs dry). A client
/// that pipelines 40 requests of a 50 ms handler holds the only worker for 2 s while a new
/// connection waits. Issue 2: a busy connection "yields after a bounded time or number of
/// requests" and every connection gets a response within 1 s. Expected: the worker hands the
/// connection back (its buffered bytes travel with it) after a bounded time or number of
/// requests when others wait.
#[test]
fn pipelined_slow_requests_do_not_starve_a_waiting_connection() {
    let s = start(support::config(1), handler);
    let addr = s.local_addr();
    let mut greedy = Client::new(addr);
    let mut burst = Vec::new();
    for _ in 0..40 {
        burst.extend_from_slice(b"GET /sleep?ms=50 HTTP/1.1\r\nHost: test\r\n\r\n");
    }
    greedy.send(&burst);
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let resp = exchange(addr, HELLO);
    let waited = started.elapsed();
    assert_eq!(resp.status, 200);
    assert!(
        waited < Duration::from_secs(1),
        "a new connection waited {waited:?} behind a pipelining one"
    );
    for _ in 0..40 {
        assert_eq!(greedy.response(false).text(), "slept");
    }
}

/// Coalesced responses are written by `Worker::flush` from the `serve` loop
/// (src/connection.rs:234 and :244), after `step` has set the worker's state back to
/// `Reading` (src/connection.rs:651). The run gate's monitor only lends the place of a worker
/// that is `Handling` or `Writing` (src/gate.rs:119), so a worker blocked in that write, on
/// a client that pipelines requests and never reads the answers, keeps its place. Not even
/// `write_timeout` frees it: the receiver's window opens a little every few seconds, each
/// write makes some progress, and the timeout (per `write` call) never fires (measured here:
/// still blocked after 10 s with a 5 s `write_timeout`). With `active_workers` places (the
/// core count: 2 here), that many such clients stall every other connection. Expected: a
/// worker blocked writing buffered responses is `Writing`, so its place is lent after
/// `lend_after`, as docs/configuration.md promises for "a worker busy in a handler or a write".
#[test]
fn a_client_that_never_reads_does_not_hold_a_gate_place() {
    let mut c = support::config(4);
    c.active_workers = 1;
    c.write_timeout = Duration::from_secs(5);
    let s = start(c, handler);
    let addr = s.local_addr();
    // 1500 pipelined requests for 16 KiB each: about 24 MiB of answers, far more than the
    // socket buffers hold, and never read.
    let mut hog = connect(addr);
    let mut burst = Vec::new();
    for _ in 0..1500 {
        burst.extend_from_slice(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n");
    }
    hog.write_all(&burst).unwrap();
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut client = Client::new(addr);
    client
        .reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client.send(HELLO);
    let resp = support::read_response(&mut client.reader, false);
    let waited = started.elapsed();
    assert!(
        resp.is_ok() && waited < Duration::from_secs(1),
        "a new connection was not answered within 1 s ({waited:?}: {resp:?}) while a \
         client that does not read its answers holds the only place"
    );
    drop(hog);
}

/// `Config::keep_alive` set to `Duration::MAX` (a natural "never time out") makes
/// `Worker::deadline` compute `idle_since + keep_alive` (src/connection.rs:346), which
/// overflows `Instant` and panics; the panic is caught and the connection dropped, so every
/// keep-alive connection dies after its first response. The same holds for `header_timeout`
/// (every first request), `linger_time` and `shutdown_grace` (`Instant::now() + grace` in
/// `Pool::shutdown`), and for `basehttp --keep-alive 18446744073709551615`. Expected:
/// `Config::normalized` clamps durations (or the deadlines use `checked_add`), and the
/// second request is answered.
#[test]
fn a_huge_keep_alive_does_not_kill_the_connection() {
    let mut c = support::config(2);
    c.keep_alive = Duration::MAX;
    let s = start(c, handler);
    let mut client = Client::new(s.local_addr());
    assert_eq!(client.get("/hello").status, 200);
    client.send(HELLO);
    let second = support::read_response(&mut client.reader, false);
    assert!(
        second.is_ok_and(|r| r.status == 200),
        "the second request on a kept-alive connection was not answered"
    );
}

/// `Request::read_body_to_vec(usize::MAX)` (the obvious "no limit") computes
/// `limit as u64 + 1` (src/request.rs:406), which overflows: a panic (a `500`) in debug
/// builds, and in release builds `take(0)`, so the handler silently gets an empty body.
/// Expected: the body comes back whole (e.g. `(limit as u64).saturating_add(1)`).
#[test]
fn read_body_to_vec_without_a_limit_reads_the_body() {
    let s = start(Config::default(), handler);
    let resp = exchange(
        s.local_addr(),
        b"POST /all HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(resp.status, 200, "body: {:?}", resp.text());
    assert_eq!(resp.text(), "hello");
}

/// `Stats::bytes_out` is documented as the bytes written to clients, but the
/// `100 Continue` interim response is written straight to the socket by
/// `Body::send_continue` (src/body.rs:371) without counting it (nor the `write` in
/// `Stats::writes`). Expected: `bytes_out` equals what the client received.
#[test]
fn bytes_out_counts_the_100_continue() {
    let s = start(Config::default(), handler);
    let mut stream = connect(s.local_addr());
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\
              Expect: 100-continue\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let received = (interim.len() + rest.len()) as u64;
    assert!(
        eventually(|| s.stats().bytes_out == received),
        "the client received {received} bytes, stats say {}",
        s.stats().bytes_out
    );
}

/// `Config::header_timeout` is documented (and docs/configuration.md repeats it) as the time to receive
/// a whole request head "from its first byte (or, on a new connection, from the accept)",
/// and issue 2 says a trickling client never holds a worker past it. But `wait_for_bytes`
/// restarts the clock at the first byte (src/connection.rs:313, `head_started`), so a new
/// connection that stays silent for almost the whole timeout and then trickles gets a second
/// full timeout: about twice `header_timeout` in all. Expected: on a new connection the head
/// must be complete `header_timeout` after the accept, then `408`.
#[test]
fn header_timeout_on_a_new_connection_counts_from_the_accept() {
    let mut c = support::config(2);
    c.header_timeout = Duration::from_secs(2);
    let s = start(c, handler);
    let accepted = Instant::now();
    let mut stream = connect(s.local_addr());
    thread::sleep(Duration::from_millis(1800));
    stream.set_nonblocking(true).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    for &b in b"GET /hello HTTP/1.1\r\nHost: trickle\r\n".iter().cycle() {
        let _ = stream.write_all(&[b]);
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if accepted.elapsed() > Duration::from_secs(6) {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let took = accepted.elapsed();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408 "),
        "{answer:?}"
    );
    assert!(
        took < Duration::from_millis(2800),
        "the 408 came {took:?} after the accept, with a header timeout of 2 s"
    );
}

/// A handler returning a 1xx status as its final response (`Response::new(103)`) is sent
/// as is, without a body and with the connection kept open (src/response.rs:220 accepts any
/// status from 100 to 999). A client reads it as an interim response and waits for a final
/// one that never comes: the exchange is split, like a header injection would split it.
/// Statuses 600-999 are not HTTP statuses either (RFC 9110 §15). Expected: `validate`
/// refuses a final status outside 200-599 (101 aside, if upgrades are ever supported), so
/// the client gets a `500`.
#[test]
fn a_1xx_final_status_from_a_handler_becomes_a_500() {
    let s = start(Config::default(), handler);
    let mut client = Client::new(s.local_addr());
    client
        .reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    client.send(b"GET /interim HTTP/1.1\r\nHost: test\r\n\r\n");
    let resp = support::read_response(&mut client.reader, false);
    assert!(
        resp.as_ref().is_ok_and(|r| r.status == 500),
        "a handler's 103 left the client without a final response: {resp:?}"
    );
    assert_alive(s.local_addr());
}

/// The chunk-size line is `chunk-size [ chunk-ext ] CRLF` with `chunk-ext = *( BWS ";" BWS
/// ext-name [ BWS "=" BWS ext-val ] )` (RFC 9112 §7.1.1). The decoder
/// (src/body.rs:400-416) takes any byte after the size that is a space, a tab or `;` as the
/// start of an "extension" and then accepts anything up to CR, control bytes included: a
/// size line like `5 junk` or `5;\0` is taken as a valid size 5. Leniency in chunk-size
/// lines is a classic request-smuggling ingredient (a front end that reads the line
/// differently disagrees on where the body ends), and issue 2 asks for bad chunk sizes to
/// be a `400`. Expected: `400` for both.
#[test]
fn chunk_size_line_with_junk_after_the_size_is_400() {
    let s = start(Config::default(), handler);
    let mut accepted = Vec::new();
    for line in [&b"5 junk"[..], b"5;\x00", b"5;a=\x01"] {
        let mut raw =
            b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        if exchange(s.local_addr(), &raw).status != 400 {
            accepted.push(String::from_utf8_lossy(line).into_owned());
        }
    }
    assert!(
        accepted.is_empty(),
        "chunk-size lines accepted: {accepted:?}"
    );
}

/// `basehttp -q 18446744073709551615` passes the argument check (`--queue` only refuses 0,
/// src/cli.rs:77) and `Pool::start` computes `config.queue + config.workers`
/// (src/pool.rs:86), which overflows: a panic (exit 101) in debug builds, a wrapped channel
/// capacity in release ones. (A large but not overflowing queue, say `-q 100000000`, makes
/// crossbeam allocate and initialise every slot up front: gigabytes before the first
/// request.) Expected: an `Error:` line and exit code 2, like other bad arguments, or a
/// clamp in `Config::normalized`.
#[test]
fn an_absurd_queue_size_is_an_error_not_a_panic() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_basehttp"))
        .args(["-q", "18446744073709551615", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start basehttp");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    assert!(!err.contains("panicked"), "basehttp panicked: {err}");
    if let Some(status) = status {
        assert_eq!(status.code(), Some(2), "stderr: {err}");
        assert!(err.starts_with("Error:"), "stderr: {err}");
    }
}
