//! A panic in code a handler supplies costs that request's connection, never a worker: with a
//! single worker, the server must still answer afterwards.

mod support;

use std::io::Read;
use std::time::Duration;

use basehttp::{Request, Response};
use support::{Client, assert_alive, config, routes, start};

/// A response body that panics when read.
struct PanicOnRead;
impl Read for PanicOnRead {
    fn read(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
        panic!("response body reader panicked on purpose");
    }
}

/// A response body that panics when dropped.
struct PanicOnDrop;
impl Read for PanicOnDrop {
    fn read(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(0)
    }
}
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("response body dropped with a panic on purpose");
    }
}

fn handler(req: &mut Request) -> Response {
    match req.path() {
        "/read-panics" => Response::reader(PanicOnRead),
        "/sized-read-panics" => Response::sized_reader(PanicOnRead, 10),
        // The invalid header makes the server replace this response by a 500, dropping it
        // outside the handler's and the body's panic guards.
        "/drop-panics" => Response::reader(PanicOnDrop).with_header("Bad\r\nName", "x"),
        _ => routes(req),
    }
}

/// One worker, so a dead worker would leave the server unable to answer.
fn one_worker() -> basehttp::ServerHandle {
    let mut c = config(1);
    c.active_workers = 1;
    start(c, handler)
}

#[test]
fn a_panicking_body_reader_costs_the_connection_not_the_worker() {
    let s = one_worker();
    for path in ["/read-panics", "/sized-read-panics"] {
        let mut c = Client::new(s.local_addr());
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        // The head was on its way when the body failed: the client sees the response start
        // and the connection close, never a hang.
        let mut got = Vec::new();
        let _ = c.reader.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {text:?}");
        assert_alive(s.local_addr());
    }
    assert_eq!(s.stats().workers, 1);
}

#[test]
fn a_panic_outside_the_handler_costs_the_connection_not_the_worker() {
    let s = one_worker();
    let mut c = Client::new(s.local_addr());
    c.reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    c.send(b"GET /drop-panics HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut got = Vec::new();
    let _ = c.reader.read_to_end(&mut got);
    // Dropped mid-turn: nothing was written, the connection is closed, and the worker serves
    // the next client.
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert_alive(s.local_addr());
}
