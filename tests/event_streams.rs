//! Server-sent event streams held in the poller (issue 21, the core's part): open streams hold
//! no worker, a message reaches every stream, none is lost when they come fast, a client that
//! leaves frees its place, the cap answers 503, HTTP/1.0 gets a close-delimited stream, HEAD
//! gets no stream, and shutdown closes every stream at once.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use basehttp::{EventStreams, Request, Response, Server, ServerHandle};
use support::CLIENT_TIMEOUT;

fn server(workers: usize, cap: usize) -> (ServerHandle, EventStreams) {
    let streams = EventStreams::new(cap);
    let handler_streams = streams.clone();
    let handle = Server::bind("127.0.0.1:0")
        .unwrap()
        .workers(workers)
        .spawn(move |req: &mut Request| match req.path() {
            "/events" => handler_streams.open("retry: 500\n\n"),
            "/hello" => Response::text("Hello, World!"),
            _ => Response::error(404),
        })
        .unwrap();
    (handle, streams)
}

/// An open stream: the client's reader after the head.
struct Client {
    reader: BufReader<TcpStream>,
    head: String,
}

fn open(addr: SocketAddr, version: &str) -> Client {
    open_at(addr, "/events", version)
}

fn open_at(addr: SocketAddr, path: &str, version: &str) -> Client {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    write!(s, "GET {path} {version}\r\nHost: t\r\n\r\n").unwrap();
    let mut reader = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "{head}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    Client { reader, head }
}

impl Client {
    /// Reads until `text` has come (through the chunk framing), or fails after the timeout.
    fn until(&mut self, text: &str) -> String {
        let mut got = String::new();
        while !got.contains(text) {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "closed before {text:?}: {got:?}");
            got.push_str(&line);
        }
        got
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn hello(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

/// 50 streams on a server with 2 workers: they wait in the poller (no worker busy), a plain
/// request is answered beside them, and one `send` reaches all 50.
#[test]
fn fifty_streams_hold_no_worker_and_all_get_a_message() {
    let (server, streams) = server(2, 100);
    let addr = server.local_addr();
    let mut clients: Vec<Client> = (0..50).map(|_| open(addr, "HTTP/1.1")).collect();
    let head = clients[0].head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(
        head.contains("\r\ncontent-type: text/event-stream\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\ncache-control: no-store\r\n"), "{head}");
    assert!(
        head.contains("\r\ntransfer-encoding: chunked\r\n"),
        "{head}"
    );
    for c in &mut clients {
        c.until("retry: 500\n");
    }
    wait_until("50 streams parked", || {
        let s = server.stats();
        s.parked.stream == 50 && s.busy_workers == 0 && streams.count() == 50
    });
    assert!(hello(addr).ends_with("\r\n\r\nHello, World!"));
    streams.send(Some("reload"), "/index.html");
    for c in &mut clients {
        let got = c.until("data: /index.html\n");
        assert!(got.contains("event: reload\n"), "{got:?}");
    }
    // The workers that wrote the message went back to waiting: none is held by a stream.
    wait_until("no worker busy", || server.stats().busy_workers == 0);
}

/// Messages sent faster than a worker writes them (some arrive while a worker holds the
/// stream) all arrive, in order, at every stream.
#[test]
fn messages_sent_in_a_burst_all_arrive_in_order() {
    let (server, streams) = server(2, 10);
    let mut clients: Vec<Client> = (0..5)
        .map(|_| open(server.local_addr(), "HTTP/1.1"))
        .collect();
    wait_until("5 streams", || streams.count() == 5);
    for i in 0..300 {
        streams.send(None, &format!("m{i}"));
    }
    for c in &mut clients {
        let got = c.until("data: m299\n");
        let seen: Vec<&str> = got
            .lines()
            .filter_map(|l| l.strip_prefix("data: m"))
            .collect();
        let expected: Vec<String> = (0..300).map(|i| i.to_string()).collect();
        assert_eq!(seen, expected);
    }
}

/// A client that leaves frees its stream's place; past the cap a `503` says why.
#[test]
fn the_cap_refuses_and_a_client_that_leaves_frees_its_place() {
    let (server, streams) = server(2, 2);
    let addr = server.local_addr();
    let a = open(addr, "HTTP/1.1");
    let _b = open(addr, "HTTP/1.1");
    let refused = open(addr, "HTTP/1.1");
    assert!(
        refused.head.starts_with("HTTP/1.1 503 "),
        "{}",
        refused.head
    );
    assert!(
        refused.head.contains("\r\nRetry-After: 5\r\n"),
        "{}",
        refused.head
    );
    drop(a);
    // Seen when its stream next looks at its socket: at once, as the close wakes it.
    wait_until("the closed stream freed", || streams.count() == 1);
    let c = open(addr, "HTTP/1.1");
    assert!(c.head.starts_with("HTTP/1.1 200 "), "{}", c.head);
}

/// HTTP/1.0 has no chunked framing: the stream is the rest of the connection. HEAD gets the
/// head alone, and no stream.
#[test]
fn http_1_0_gets_a_close_delimited_stream_and_head_none() {
    let (server, streams) = server(2, 10);
    let addr = server.local_addr();
    let mut c = open(addr, "HTTP/1.0");
    assert!(
        !c.head.to_ascii_lowercase().contains("transfer-encoding"),
        "{}",
        c.head
    );
    assert!(c.head.contains("Connection: close\r\n"), "{}", c.head);
    c.until("retry: 500\n");
    wait_until("1 stream", || streams.count() == 1);
    streams.send(None, "plain");
    let got = c.until("data: plain\n");
    assert!(!got.contains("\r\n"), "no chunk framing: {got:?}");

    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.write_all(b"HEAD /events HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "a head alone: {answer:?}");
    assert_eq!(streams.count(), 1, "the HEAD opened no stream that lasts");
}

/// Shutdown closes every stream at once instead of waiting out the grace period (5 s) for
/// them, and reports a clean stop.
#[test]
fn shutdown_closes_every_stream_at_once() {
    let (server, streams) = server(2, 100);
    let mut clients: Vec<Client> = (0..10)
        .map(|_| open(server.local_addr(), "HTTP/1.1"))
        .collect();
    wait_until("10 streams", || streams.count() == 10);
    let began = Instant::now();
    assert!(server.shutdown(), "a clean stop");
    let took = began.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    for c in &mut clients {
        let mut rest = Vec::new();
        // The stream ends: the connection closes (what is left to read is at most the first
        // bytes).
        c.reader.read_to_end(&mut rest).unwrap();
    }
    assert_eq!(streams.count(), 0);
}

/// `LiveReload::injecting` around any handler: its reserved paths answer the script and a
/// stream; an HTML page a browser navigates to gets the tag (in memory: before `</body>`, with
/// its length; streamed without a length: at its end); a script's fetch, a compressed page, a
/// partial one (`206`), a page that is not HTML are left alone.
#[test]
fn live_reload_serves_its_paths_and_injects_into_navigated_html() {
    use basehttp::live_reload::{EVENTS_PATH, LiveReload, SCRIPT_PATH, TAG};
    let streams = EventStreams::new(10);
    let dir = support::TempDir::new("live-file");
    let page_file = dir.write("page.html", "<html><body>file</body></html>");
    let app = move |req: &mut Request| match req.path() {
        "/file" => Response::file(std::fs::File::open(&page_file).unwrap())
            .unwrap()
            .with_content_type("text/html; charset=utf-8"),
        "/page" => Response::html("<html><body>hi</body></html>"),
        "/streamed" => Response::reader(std::io::Cursor::new(b"<p>streamed".to_vec()))
            .with_content_type("text/html; charset=utf-8"),
        "/gz" => Response::html("<body>gz</body>").with_header("Content-Encoding", "gzip"),
        // A part of a page (a range a handler answered itself): its Content-Range must hold.
        "/part" => Response::html("<body>part</body>")
            .with_status(206)
            .with_header("Content-Range", "bytes 0-16/40"),
        // Begun early: the head is out before the handler returns; left alone.
        "/early" => {
            let mut early = req.early().expect("an early response");
            let head = Response::reader(std::io::empty()).with_content_type("text/html");
            early.start(&head).unwrap();
            early.write(b"<body>early</body>").unwrap();
            early.finish(Response::reader(std::io::empty()))
        }
        "/csp" => Response::html("<body>csp</body>").with_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'nonce-n0nce'",
        ),
        _ => Response::text("<body>text</body>"),
    };
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .spawn(LiveReload::new(app, streams.clone()).injecting())
        .unwrap();
    let addr = server.local_addr();
    let get = |path: &str, nav: bool| {
        let dest = if nav {
            "Sec-Fetch-Dest: document\r\n"
        } else {
            ""
        };
        support::exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n{dest}Connection: close\r\n\r\n").as_bytes(),
        )
    };
    let page = get("/page", true);
    assert_eq!(page.text(), format!("<html><body>hi{TAG}</body></html>"));
    assert_eq!(
        page.header("content-length"),
        Some(page.body.len().to_string().as_str())
    );
    assert_eq!(get("/page", false).text(), "<html><body>hi</body></html>");
    assert_eq!(get("/streamed", true).text(), format!("<p>streamed{TAG}"));
    assert_eq!(get("/gz", true).text(), "<body>gz</body>");
    assert_eq!(get("/part", true).text(), "<body>part</body>");
    assert_eq!(get("/early", true).text(), "<body>early</body>");
    assert_eq!(
        get("/file", true).text(),
        format!("<html><body>file{TAG}</body></html>")
    );
    // A policy that allows scripts by nonce: the script carries the page's.
    assert_eq!(
        get("/csp", true).text(),
        "<body>csp<script nonce=\"n0nce\" src=\"/__basehttp/reload.js\"></script></body>"
    );
    assert_eq!(get("/text", true).text(), "<body>text</body>");
    let script = get(SCRIPT_PATH, false);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(script.text().contains("SharedWorker"));
    let mut stream = open_at(addr, EVENTS_PATH, "HTTP/1.1");
    assert!(stream.head.contains("text/event-stream"), "{}", stream.head);
    stream.until("retry: 300\n");
    wait_until("the stream is parked", || streams.count() == 1);
    streams.send(Some("css"), "/a.css");
    stream.until("data: /a.css\n");
}
