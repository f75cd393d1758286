//! # basehttp
//!
//! A classic synchronous HTTP/1.1 server: one listener thread accepts connections and pushes
//! them on a bounded [crossbeam channel](crossbeam_channel); a fixed pool of worker threads
//! serves them with blocking `std::net` I/O. No async runtime.
//!
//! It is the Rust counterpart of Django's `runserver` and Python's `http.server`, tuned to the
//! limit of the thread-per-request model: idle and busy connections take turns through the
//! queue, so neither keep-alive sockets nor a chatty client can starve the others.
//!
//! ```no_run
//! use basehttp::{Request, Response, Server};
//!
//! fn main() -> std::io::Result<()> {
//!     Server::bind("127.0.0.1:8000")?
//!         .workers(8)
//!         .serve(|req: &mut Request| Response::text(format!("Hello, {}!", req.path())))
//! }
//! ```
//!
//! In the background, with a handle to watch and stop it:
//!
//! ```
//! use basehttp::{Request, Response, Server};
//! let server = Server::bind("127.0.0.1:0")?.spawn(|_: &mut Request| Response::text("ok"))?;
//! println!("listening on http://{}/", server.local_addr());
//! assert_eq!(server.stats().accepted, 0);
//! assert!(server.shutdown());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Modules, one concern each: `pool` (listener and workers), `connection` (one connection's
//! turn), `request` (heads), `body` (request body framing), `response` (responses), `stats`,
//! `access_log`, `date`, `config`, and `static_files` (the [`StaticFiles`] handler).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access_log;
mod body;
mod config;
mod connection;
mod date;
mod gate;
mod pool;
mod request;
mod response;
mod server;
#[cfg(target_os = "linux")]
mod splice;
mod static_files;
mod stats;

pub use access_log::TARGET as ACCESS_LOG_TARGET;
pub use body::{Body, BodyError};
pub use config::{Config, MAX_HEADERS_LIMIT, MAX_QUEUE, MAX_TIMEOUT, MAX_WORKERS, WhenFull};
pub use date::fmt_http_date;
pub use request::{Request, Version};
pub use response::{Response, reason_phrase};
pub use server::{Handler, Server, ServerHandle};
pub use static_files::{DEFAULT_INDEX, StaticFiles, StaticFilesBuilder};
pub use stats::{LATENCY_WINDOW, Latency, Stats, WorkerState};

/// Internals exposed for the micro-benchmarks in `benches/parse.rs`; not a stable API.
#[doc(hidden)]
pub mod bench_internals {
    use crate::{Config, Response, request, response};

    /// Parses and checks one request head the way a worker does: its length if it is
    /// complete and acceptable.
    pub fn parse_head(bytes: &[u8]) -> Option<usize> {
        // `Config::default()` asks the OS for the core count: build it once.
        static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
        let config = CONFIG.get_or_init(Config::default);
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 100];
        let mut parsed = httparse::Request::new(&mut []);
        match parsed.parse_with_uninit_headers(bytes, &mut headers) {
            Ok(httparse::Status::Complete(n)) => request::check_head(&parsed, &bytes[..n], config)
                .ok()
                .map(|_| n),
            _ => None,
        }
    }

    /// Serialises a response head, and a body of up to 16 KiB, into `out` the way a worker
    /// does for an HTTP/1.1 keep-alive request.
    pub fn write_response(out: &mut Vec<u8>, res: &Response) {
        let mut close = false;
        response::write_head(out, res, crate::Version::Http11, false, &mut close);
        match &res.payload {
            response::Payload::Static(b) => out.extend_from_slice(b),
            response::Payload::Bytes(b) => out.extend_from_slice(b),
            _ => {}
        }
    }
}

/// The README's examples, compiled and run as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
