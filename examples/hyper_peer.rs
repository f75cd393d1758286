//! The async peer of the benchmarks and of `docs/experiments.md`, on its own: hyper 1.x on
//! tokio's multi-thread runtime, serving `/hello`, `/sleep?ms=N` and `/cpu?ms=N` the way
//! `basehttp demo` does (and the way `benches/load.rs` serves them), so a student can put the
//! two models side by side.
//!
//! ```text
//! cargo run --release --example hyper_peer                 # http://127.0.0.1:8001/
//! cargo run --release --example hyper_peer -- 127.0.0.1:9000 --threads 2
//! ```
//!
//! `/sleep` awaits a timer (the task yields its thread, which serves other connections
//! meanwhile); `/cpu` computes on the runtime's thread, as a CPU-bound async handler does, and
//! holds that thread for the whole time. Ctrl-C stops it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// Iterations of [`work`] per millisecond, measured once at start: `/cpu?ms=N` does N ms of
/// work (on an idle core), like `basehttp demo`, not a wall-clock spin.
fn iterations_per_ms() -> u64 {
    static RATE: OnceLock<u64> = OnceLock::new();
    *RATE.get_or_init(|| {
        (0..3)
            .map(|_| {
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < Duration::from_millis(10) {
                    std::hint::black_box(work(10_000));
                    n += 10_000;
                }
                n * 1000 / start.elapsed().as_micros().max(1) as u64
            })
            .max()
            .unwrap_or(100_000)
            .max(1)
    })
}

/// `n` rounds of a multiply-add the compiler cannot skip (the demo's loop).
fn work(n: u64) -> u64 {
    let mut x = 0u64;
    for _ in 0..n {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

/// `ms` from a query like `ms=50`, if it is there and at most 10 000 (the demo's cap).
fn query_ms(query: Option<&str>) -> Option<u64> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .filter(|&ms| ms <= 10_000)
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let ms = query_ms(req.uri().query());
    Ok(match (req.uri().path(), ms) {
        ("/hello", _) => text(StatusCode::OK, "Hello, World!"),
        ("/sleep", Some(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text(StatusCode::OK, "slept")
        }
        ("/cpu", Some(ms)) => {
            std::hint::black_box(work(ms * iterations_per_ms()));
            text(StatusCode::OK, "spun")
        }
        ("/sleep" | "/cpu", None) => text(
            StatusCode::BAD_REQUEST,
            "400 Bad Request: parameter `ms` must be a whole number from 0 to 10000\n",
        ),
        _ => text(StatusCode::NOT_FOUND, "404 Not Found\n"),
    })
}

fn main() {
    let mut addr: SocketAddr = "127.0.0.1:8001".parse().unwrap();
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--threads takes a positive number");
            }
            other => addr = other.parse().expect("an address like 127.0.0.1:8001"),
        }
    }
    iterations_per_ms();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        println!(
            "hyper peer (tokio, {threads} threads) at http://{}/ : /hello, /sleep?ms=N, /cpu?ms=N",
            listener.local_addr().unwrap()
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
}
