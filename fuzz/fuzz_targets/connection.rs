//! Request heads and body framing, through the real connection code: each input is sent on a
//! fresh loopback connection to one long-lived server, then the client half-closes and reads
//! until the server closes. Crashes: any panic anywhere in the server (the workers would
//! otherwise catch it), a server that does not close within 5 s, or output that is not
//! a sequence of HTTP/1.1 responses.

#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use basehttp::{Config, Request, Response, Server, ServerHandle};
use libfuzzer_sys::fuzz_target;

fn handler(req: &mut Request) -> Response {
    match req.path() {
        // Reads the body: the framing code runs to the end.
        "/echo" => match req.read_body_to_vec(1 << 20) {
            Ok(body) => Response::bytes(body),
            Err(_) => Response::error(400),
        },
        // Leaves the body unread: the drain runs.
        "/ignore" => Response::text("ignored"),
        "/stream" => Response::reader(std::io::Cursor::new(b"streamed".to_vec())),
        _ => Response::text(req.target().to_string()),
    }
}

fn server() -> SocketAddr {
    static SERVER: OnceLock<ServerHandle> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            // A panic anywhere, even one a worker would catch, is a finding.
            std::panic::set_hook(Box::new(|info| {
                eprintln!("{info}");
                std::process::abort();
            }));
            let mut c = Config::default();
            c.workers = 2;
            c.header_timeout = Duration::from_secs(2);
            c.body_timeout = Duration::from_secs(2);
            Server::bind("127.0.0.1:0")
                .and_then(|s| s.config(c).spawn(handler))
                .expect("server")
        })
        .local_addr()
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 64 * 1024 {
        return;
    }
    let mut s = TcpStream::connect(server()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = s.write_all(data);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    if let Err(e) = s.read_to_end(&mut out) {
        assert!(
            e.kind() == std::io::ErrorKind::ConnectionReset,
            "the server did not close: {e}"
        );
    }
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1.1 "),
        "not an HTTP/1.1 response: {:?}",
        String::from_utf8_lossy(&out[..out.len().min(200)])
    );
    // Every response head in the output is well formed. Answers to HEAD carry a length but
    // no body, so past one the next head cannot be found this way: check the first only.
    let every = !data.windows(4).any(|w| w == b"HEAD");
    let mut rest = &out[..];
    while !rest.is_empty() {
        let mut headers = [httparse_header(); 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(rest) {
            Ok(httparse::Status::Complete(n)) => {
                let len = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok());
                match len {
                    Some(len) if every && n + len <= rest.len() => rest = &rest[n + len..],
                    // Chunked, close-delimited or cut short by the close: stop checking.
                    _ => break,
                }
            }
            other => panic!("bad response head {other:?}: {:?}", String::from_utf8_lossy(rest)),
        }
    }
});

fn httparse_header() -> httparse::Header<'static> {
    httparse::EMPTY_HEADER
}
