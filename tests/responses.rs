//! Every kind of response body a handler can return, as a client receives it.

mod support;

use std::io::Write;

use basehttp::{Request, Response};
use support::{Client, config, start};

fn file_with(bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "basehttp-response-test-{}-{}",
        std::process::id(),
        bytes.len()
    ));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

#[test]
fn files_are_sent_whole_with_their_length_and_head_gets_none_of_it() {
    let content: Vec<u8> = (0..(1 << 20) + 7).map(|i| (i * 31 % 251) as u8).collect();
    let path = file_with(&content);
    let served = path.clone();
    let server = start(config(2), move |_req: &mut Request| {
        Response::file(std::fs::File::open(&served).unwrap())
            .unwrap()
            .with_content_type("application/octet-stream")
    });
    let mut client = Client::new(server.local_addr());
    let resp = client.get("/file");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some("1048583"));
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(resp.body == content, "file bytes differ");
    // The connection stays usable after a file, and HEAD sends the length only.
    client.send(b"HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = client.response(true);
    assert_eq!(head.header("content-length"), Some("1048583"));
    assert_eq!(client.get("/file").body.len(), content.len());
    std::fs::remove_file(path).unwrap();
}

#[test]
fn sized_readers_use_content_length_and_short_ones_close_the_connection() {
    let server = start(config(2), |req: &mut Request| match req.path() {
        "/sized" => Response::sized_reader(std::io::Cursor::new(b"exactly ten".to_vec()), 11),
        "/short" => Response::sized_reader(std::io::Cursor::new(b"short".to_vec()), 100),
        _ => Response::error(404),
    });
    let addr = server.local_addr();
    let mut client = Client::new(addr);
    let resp = client.get("/sized");
    assert_eq!(resp.header("content-length"), Some("11"));
    assert_eq!(resp.body, b"exactly ten");
    assert_eq!(client.get("/sized").status, 200, "connection not reusable");

    // A reader that ends early cannot be finished: the client sees a short body and a close,
    // never a corrupted next response.
    let raw = support::exchange_to_close(addr, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Content-Length: 100\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nshort"), "{text}");
}

#[test]
fn text_html_json_and_bytes_helpers_set_their_types() {
    let server = start(config(1), |req: &mut Request| match req.path() {
        "/html" => Response::html("<p>hi</p>"),
        "/json" => Response::json(String::from(r#"{"a":1}"#)).with_status(201),
        "/bytes" => Response::bytes(vec![0u8, 1, 2, 255]),
        "/empty" => Response::new(204),
        _ => Response::text("plain"),
    });
    let mut client = Client::new(server.local_addr());
    let html = client.get("/html");
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(html.text(), "<p>hi</p>");
    let json = client.get("/json");
    assert_eq!(json.status, 201);
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.text(), r#"{"a":1}"#);
    let bytes = client.get("/bytes");
    assert_eq!(bytes.header("content-type"), None);
    assert_eq!(bytes.body, [0, 1, 2, 255]);
    let empty = client.get("/empty");
    assert_eq!(empty.status, 204);
    assert_eq!(client.get("/").text(), "plain");
}

#[test]
fn request_accessors_report_what_was_sent() {
    let server = start(config(1), |req: &mut Request| {
        Response::text(format!(
            "{} {} {:?} {} {} {}",
            req.method(),
            req.target(),
            req.version(),
            req.header("x-Custom").unwrap_or("-"),
            req.header_bytes("x-raw").map_or(0, <[u8]>::len),
            req.peer_addr().ip(),
        ))
    });
    let mut client = Client::new(server.local_addr());
    client.send(b"PATCH /a/b?c=d HTTP/1.0\r\nX-Custom: yes\r\nX-Raw: \xff\xfe\r\nConnection: keep-alive\r\n\r\n");
    let resp = client.response(false);
    assert_eq!(resp.text(), "PATCH /a/b?c=d Http10 yes 2 127.0.0.1");
    assert_eq!(resp.header("connection"), Some("keep-alive"));
}

#[test]
fn a_custom_reason_phrase_reaches_the_client_and_a_bad_one_is_a_500() {
    let server = start(config(1), |req: &mut Request| match req.path() {
        "/fine" => Response::text("fine")
            .with_status(299)
            .with_reason("Fine By Me"),
        "/split" => Response::text("x").with_reason("OK\r\nSet-Cookie: a=1"),
        _ => Response::text("plain"),
    });
    let addr = server.local_addr();
    let raw = support::exchange_to_close(
        addr,
        b"GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 299 Fine By Me\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nfine"), "{text}");
    let mut client = Client::new(addr);
    let split = client.get("/split");
    assert_eq!(split.status, 500);
    assert_eq!(split.header("set-cookie"), None);
    assert_eq!(client.get("/").text(), "plain");
    let raw = support::exchange_to_close(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(raw.starts_with(b"HTTP/1.1 200 OK\r\n"));
}
