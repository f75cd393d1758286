//! What the server logs: Django-shaped access lines, escaped request lines, refusals with
//! runserver's reason line (a head cut short included), broken pipes at
//! debug level only, and the plain-HTTP notice for TLS clients. A capturing logger is installed
//! for this test binary.

mod support;

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{Level, Log, Metadata, Record};
use support::{Client, config, connect, exchange_to_close, routes, start};

struct Capture(Mutex<Vec<(Level, String, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }
    fn log(&self, record: &Record) {
        self.0.lock().unwrap().push((
            record.level(),
            record.target().to_string(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

static LOGS: Capture = Capture(Mutex::new(Vec::new()));

fn install() {
    let _ = log::set_logger(&LOGS);
    log::set_max_level(log::LevelFilter::Trace);
}

/// Waits until a captured line satisfies `pred` and returns it.
fn find(pred: impl Fn(&(Level, String, String)) -> bool) -> (Level, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(hit) = LOGS.0.lock().unwrap().iter().find(|l| pred(l)).cloned() {
            return hit;
        }
        assert!(Instant::now() < deadline, "no such log line");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn access_lines_have_runserver_shape() {
    install();
    let server = start(config(2), routes);
    let mut client = Client::new(server.local_addr());
    assert_eq!(client.get("/hello?from=access-test").status, 200);
    let (level, target, msg) = find(|l| l.2.contains("/hello?from=access-test"));
    assert_eq!(level, Level::Info);
    assert_eq!(target, "basehttp::access");
    assert_eq!(basehttp::ACCESS_LOG_TARGET, "basehttp::access");
    // [22/Nov/2026 04:34:37] "GET /hello?from=access-test HTTP/1.1" 200 13
    let b = msg.as_bytes();
    assert_eq!(
        (b[0], b[3], b[7], b[12], b[15], b[18], b[21]),
        (b'[', b'/', b'/', b' ', b':', b':', b']')
    );
    assert!(
        msg.ends_with("] \"GET /hello?from=access-test HTTP/1.1\" 200 13"),
        "{msg}"
    );
}

#[test]
fn refused_requests_are_logged_with_their_status_and_escaped() {
    install();
    let server = start(config(2), routes);
    // A request line with an escape sequence and a fake log line after a bare CR.
    let raw =
        b"GET /x\x1b[31m\r[01/Jan/2020] \"GET /forged HTTP/1.1\" 200 1 HTTP/1.1\r\nHost: x\r\n\r\n";
    let answer = exchange_to_close(server.local_addr(), raw);
    assert!(answer.starts_with(b"HTTP/1.1 400 "));
    let (_, _, msg) = find(|l| l.1 == "basehttp::access" && l.2.contains("\\x1b"));
    assert!(!msg.contains('\r') && !msg.contains('\x1b'), "{msg:?}");
    assert!(msg.contains("\\x0d[01/Jan/2020] \\\"GET /forged"), "{msg}");
    // The size logged is that of the error body sent, as for any response.
    let text = String::from_utf8_lossy(&answer);
    let len = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("the 400 has a Content-Length");
    assert!(
        msg.ends_with(&format!(" 400 {len}")),
        "{msg} (answer {text:?})"
    );
}

/// The `Content-Length` of a raw answer.
fn content_length(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    text.lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap_or_else(|| panic!("no Content-Length in {text:?}"))
        .to_string()
}

/// Asserts that runserver's `code <status>, message <why>` line, stamped as `access` is,
/// came before the access line `access`.
fn assert_reason_logged_before(access: &str, status: u16, why: &str) {
    // `[07/Dec/2026 10:00:00] `: both lines carry the response's timestamp.
    let stamp = &access[..access.find("] ").expect("a timestamp") + 2];
    let reason = format!("{stamp}code {status}, message {why}");
    let found = {
        let logs = LOGS.0.lock().unwrap();
        let at = logs.iter().position(|l| l.2 == access);
        at.is_some_and(|at| {
            logs[..at]
                .iter()
                .any(|l| l.1 == "basehttp::access" && l.2 == reason)
        })
    };
    // Asserted with the log unlocked, so a failure here fails only this test.
    assert!(found, "no {reason:?} before {access:?}");
}

/// A request line the server cannot parse is logged as runserver logs it: the reason it was
/// refused, then the access line with the request line as received and the `400`:
/// `[07/Dec/2026 10:00:00] code 400, message malformed request line`, then
/// `[07/Dec/2026 10:00:00] "GARBAGE" 400 40`.
#[test]
fn a_malformed_request_line_is_logged_with_its_reason() {
    install();
    let server = start(config(1), routes);
    let answer = exchange_to_close(server.local_addr(), b"GARBAGE-malformed-test\r\n\r\n");
    assert!(answer.starts_with(b"HTTP/1.1 400 "), "{answer:?}");
    let (level, target, access) = find(|l| l.2.contains("\"GARBAGE-malformed-test\""));
    assert_eq!((level, target.as_str()), (Level::Info, "basehttp::access"));
    let len = content_length(&answer);
    assert!(
        access.ends_with(&format!("] \"GARBAGE-malformed-test\" 400 {len}")),
        "{access}"
    );
    assert_reason_logged_before(&access, 400, "malformed request line");
}

/// A head the client stops sending, closing its side (`printf GARBAGE | nc`), is answered
/// `400` and logged, as runserver does, not closed in silence (RFC 9112 §8 allows the answer).
#[test]
fn a_head_cut_short_by_the_client_is_answered_and_logged() {
    install();
    let server = start(config(1), routes);
    let mut s = connect(server.local_addr());
    s.write_all(b"GARBAGE-cut-short-test").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(answer.starts_with(b"HTTP/1.1 400 "), "{answer:?}");
    let (_, _, access) = find(|l| l.2.contains("\"GARBAGE-cut-short-test\""));
    let len = content_length(&answer);
    assert!(
        access.ends_with(&format!("] \"GARBAGE-cut-short-test\" 400 {len}")),
        "{access}"
    );
    assert_reason_logged_before(&access, 400, "request head cut short by the client");
}

#[test]
fn broken_pipes_are_debug_not_errors() {
    install();
    let server = start(config(1), routes);
    let addr = server.local_addr();
    // Ask for a long stream and hang up at once: writing to the closed socket fails.
    for _ in 0..3 {
        let mut s = connect(addr);
        s.write_all(b"GET /stream?chunks=100000 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        drop(s);
    }
    // The worker recovers and the failure was logged at debug level.
    assert_eq!(Client::new(addr).get("/hello").status, 200);
    find(|l| l.0 == Level::Debug && l.2.starts_with("sending a response"));
    let errors: Vec<_> = LOGS
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.0 == Level::Error && l.2.starts_with("sending a response"))
        .cloned()
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_tls_client_is_told_the_server_speaks_plain_http() {
    install();
    let server = start(config(1), routes);
    let hello = [
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
    ];
    let answer = exchange_to_close(server.local_addr(), &hello);
    assert!(answer.is_empty(), "a TLS client must get no HTTP bytes");
    let (level, _, msg) = find(|l| l.2.contains("over HTTPS"));
    assert_eq!(level, Level::Error);
    assert!(msg.contains("it only supports HTTP"), "{msg}");
}

#[test]
fn a_panic_is_logged_as_an_error_with_the_request() {
    install();
    let server = start(config(1), routes);
    assert_eq!(Client::new(server.local_addr()).get("/panic").status, 500);
    let (level, _, msg) = find(|l| l.2.starts_with("handler panicked"));
    assert_eq!(level, Level::Error);
    assert!(
        msg.contains("\"GET /panic HTTP/1.1\"") && msg.contains("on purpose"),
        "{msg}"
    );
}

/// With `Config::log_timings`, the runserver line is followed by the worker and the time spent
/// queued and in the handler: `... 200 5 worker=0 queued=0.03ms took=50.2ms`.
#[test]
fn timed_access_lines_name_the_worker_and_the_times() {
    install();
    let mut c = config(1);
    c.log_timings = true;
    let server = start(c, routes);
    let mut client = Client::new(server.local_addr());
    assert_eq!(client.get("/sleep?ms=50&from=timed-test").status, 200);
    let (_, target, msg) = find(|l| l.2.contains("/sleep?ms=50&from=timed-test"));
    assert_eq!(target, "basehttp::access");
    let (line, timings) = msg
        .split_once(" worker=")
        .unwrap_or_else(|| panic!("no timings: {msg}"));
    assert!(
        line.ends_with("\"GET /sleep?ms=50&from=timed-test HTTP/1.1\" 200 5"),
        "{msg}"
    );
    let mut words = timings.split(' ');
    assert_eq!(words.next(), Some("0"));
    let ms = |word: Option<&str>, key: &str| -> f64 {
        word.and_then(|w| w.strip_prefix(key))
            .and_then(|w| w.strip_suffix("ms"))
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("bad {key} in {msg}"))
    };
    let queued = ms(words.next(), "queued=");
    let took = ms(words.next(), "took=");
    assert!(queued < 1000.0, "{msg}");
    assert!((50.0..5000.0).contains(&took), "{msg}");
    // The default shape stays runserver's: no timings.
    let plain = start(config(1), routes);
    Client::new(plain.local_addr()).get("/hello?from=untimed-test");
    let (_, _, msg) = find(|l| l.2.contains("/hello?from=untimed-test"));
    assert!(msg.ends_with(" 200 13"), "{msg}");
}
