//! `Request::early`: a response begun before the handler returns, over real sockets. The
//! handler waits until the client has read the first part, so a response held back until the
//! handler returns fails the test instead of passing slowly.

mod support;

use std::io::{BufRead, Read};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use basehttp::{Early, Request, Response};
use support::{Client, config, start};

/// Reads from `client` onto `got` until `done` holds for what arrived; the server must not
/// close first.
fn read_more(client: &mut Client, got: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    while !done(got) {
        let buf = client.reader.fill_buf().expect("read");
        assert!(!buf.is_empty(), "closed early: {got:?}");
        got.extend_from_slice(buf);
        let n = buf.len();
        client.reader.consume(n);
    }
}

#[test]
fn a_response_begun_early_streams_chunked_or_sized_and_the_connection_stays_usable() {
    let (seen_tx, seen_rx) = mpsc::channel::<()>();
    let seen_rx = Arc::new(Mutex::new(seen_rx));
    let server = start(config(2), move |req: &mut Request| {
        if req.path() == "/plain" {
            return Response::text("plain");
        }
        let mut early = req.early().expect("nothing waits before this response");
        let head = if req.path() == "/sized" {
            Response::sized_reader(std::io::empty(), 16)
        } else {
            Response::reader(std::io::empty())
        };
        early.start(&head.with_header("X-Early", "yes")).unwrap();
        early.write(b"first;").unwrap();
        // The client has the head and the first part before the handler goes on.
        let waited = seen_rx.lock().unwrap().recv_timeout(Duration::from_secs(5));
        let second: &[u8] = if waited.is_ok() {
            b"second;"
        } else {
            b"LATE!!;"
        };
        early.write(second).unwrap();
        early.finish(Response::text("end"))
    });
    let mut client = Client::new(server.local_addr());
    for (path, framing) in [("/chunked", "chunked"), ("/sized", "content-length: 16")] {
        client.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let mut got = Vec::new();
        read_more(&mut client, &mut got, |g| {
            g.windows(6).any(|w| w == b"first;")
        });
        seen_tx.send(()).unwrap();
        let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
        assert!(head.contains("x-early: yes"), "{head}");
        assert!(head.contains(framing), "{head}");
        // Read to the end of this response, then parse all of it strictly.
        let want_end: &[u8] = if framing == "chunked" {
            b"0\r\n\r\n"
        } else {
            b"second;end"
        };
        read_more(&mut client, &mut got, |g| g.ends_with(want_end));
        let parsed = support::read_response(&mut &got[..], false).unwrap();
        assert_eq!(parsed.text(), "first;second;end", "{path}");
    }
    // The connection goes on: the next response is an ordinary one.
    let plain = client.get("/plain");
    assert_eq!(plain.text(), "plain");
    server.shutdown();
}

#[test]
fn an_early_kept_past_its_request_writes_nothing() {
    let kept: Arc<Mutex<Option<Early>>> = Arc::default();
    let store = kept.clone();
    let server = start(config(1), move |req: &mut Request| {
        let mut early = req.early().expect("early");
        if req.path() == "/keep" {
            // Never started: the handler answers as usual and keeps the handle.
            *store.lock().unwrap() = Some(early);
            return Response::text("kept");
        }
        let Some(mut stale) = store.lock().unwrap().take() else {
            return Response::text("none kept");
        };
        let refused = stale.start(&Response::new(200)).is_err();
        early.start(&Response::reader(std::io::empty())).unwrap();
        early
            .write(if refused { b"refused" } else { b"WROTE" })
            .unwrap();
        early.finish(Response::text(""))
    });
    let mut client = Client::new(server.local_addr());
    assert_eq!(client.get("/keep").text(), "kept");
    assert_eq!(client.get("/use").text(), "refused");
    server.shutdown();
}

#[test]
fn pipelined_answers_go_first_and_a_dropped_early_cuts_the_connection() {
    let server = start(config(1), |req: &mut Request| match req.path() {
        "/early" => match req.early() {
            // Pipelined behind an answer still buffered: no early response.
            None => Response::text("no early"),
            Some(early) => early.finish(Response::text("unstarted")),
        },
        "/dropped" => {
            let mut early = req.early().expect("early");
            early.start(&Response::reader(std::io::empty())).unwrap();
            early.write(b"partial").unwrap();
            drop(early);
            Response::text("never sent")
        }
        _ => Response::text("hello"),
    });
    let mut client = Client::new(server.local_addr());
    client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /early HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.response(false).text(), "hello");
    assert_eq!(client.response(false).text(), "no early");
    // Alone, an Early that is finished without starting leaves the response as it was.
    assert_eq!(client.get("/early").text(), "unstarted");
    // Started and dropped: the client gets the part sent, then the connection ends.
    client.send(b"GET /dropped HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut rest = Vec::new();
    let _ = client.reader.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("partial"), "{text}");
    assert!(!text.contains("never sent"), "{text}");
    server.shutdown();
}
