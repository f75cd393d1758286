//! Micro-benchmarks of the per-request work that involves no socket: parsing and checking a
//! request head, and serialising a response. `cargo bench --bench parse`.

use std::hint::black_box;

use basehttp::Response;
use basehttp::bench_internals::{parse_head, write_response};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// What wrk sends.
const SMALL: &[u8] = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n";

/// What a browser sends for a page.
const BROWSER: &[u8] = b"GET /static/app.css?v=3 HTTP/1.1\r\n\
Host: 127.0.0.1:8000\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"156\", \"Not-A.Brand\";v=\"24\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Accept: text/css,*/*;q=0.1\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Dest: style\r\n\
Referer: http://127.0.0.1:8000/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9\r\n\
Cookie: csrftoken=Zm9vYmFyYmF6cXV4; sessionid=abcdef0123456789\r\n\r\n";

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_head");
    for (name, head) in [("wrk", SMALL), ("browser", BROWSER)] {
        assert_eq!(parse_head(head), Some(head.len()));
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(name, |b| b.iter(|| parse_head(black_box(head))));
    }
    group.finish();
}

fn serialising(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_response");
    let mut out = Vec::with_capacity(4096);
    group.bench_function("hello", |b| {
        b.iter(|| {
            out.clear();
            let res = Response::text("Hello, World!");
            write_response(&mut out, black_box(&res));
            out.len()
        })
    });
    group.bench_function("json_with_headers", |b| {
        b.iter(|| {
            out.clear();
            let res = Response::json(r#"{"id":1,"name":"basehttp"}"#)
                .with_status(201)
                .with_header("Location", "/items/1")
                .with_header("Cache-Control", "no-cache");
            write_response(&mut out, black_box(&res));
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, parsing, serialising);
criterion_main!(benches);
