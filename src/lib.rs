//! # basehttp
//!
//! A classic synchronous HTTP/1.1 server: one listener thread accepts connections and pushes
//! them on a bounded [crossbeam channel](crossbeam_channel); a fixed pool of worker threads
//! serves them with blocking `std::net` I/O. No async runtime.
//!
//! It is the Rust counterpart of Django's `runserver` and Python's `http.server`, tuned to the
//! limit of the thread-per-request model: connections that wait on their clients wait in one
//! readiness poller, not in a worker, and busy ones take turns through the run queue, so
//! neither keep-alive sockets nor a chatty client can starve the others.
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
//! Modules, one concern each:
//!
//! - the socket-free HTTP/1.1 layer, `http1`: head checks, body decoders, response encoding;
//! - what a handler sees: `request` ([`Request`]), `body` ([`Body`]), `response`
//!   ([`Response`]), `early` ([`Early`]: a response begun before the handler returns),
//!   `handler` ([`Handler`]);
//! - the server: `server` ([`Server`], [`ServerHandle`]), `pool` (listener and worker
//!   threads, the run queue), `shared` (their common state), `gate` (the run gate),
//!   `connection` (a connection and its phases), `poller` (parked connections and their
//!   deadlines), `worker` (one worker's turn with one connection: the head, the exchange,
//!   receiving bodies, sending to slow readers, the writer), `wire` (a connection's socket and
//!   its modes), `pacing` (timeouts and minimum rates), `received` (bodies received before
//!   their handler, and their budgets), `sending` (a response part way out), `splice` (the
//!   fallback pipe for files);
//! - around it: `config`, `stats`, `close_reason`, `access_log`, `date`, and `static_files`
//!   (the [`StaticFiles`] handler).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access_log;
mod body;
mod close_reason;
mod config;
mod connection;
mod date;
mod early;
pub mod event_stream;
mod gate;
mod handler;
mod html_inject;
mod http1;
pub mod listen_fds;
pub mod live_reload;
mod pacing;
mod poller;
mod pool;
mod received;
mod request;
mod response;
mod sending;
mod server;
mod shared;
#[cfg(target_os = "linux")]
mod splice;
mod static_files;
mod stats;
mod stream_state;
pub mod supervised;
pub mod supervisor;
mod wire;
mod worker;

pub use access_log::{
    AccessLog, FLUSH_EVERY as ACCESS_LOG_FLUSH_EVERY, TARGET as ACCESS_LOG_TARGET,
};
pub use body::Body;
pub use close_reason::CloseReason;
pub use config::{Config, MAX_HEADERS_LIMIT, MAX_QUEUE, MAX_TIMEOUT, MAX_WORKERS, WhenFull};
pub use date::fmt_http_date;
pub use early::Early;
pub use event_stream::{EventStreams, format_event};
pub use handler::{BodyPolicy, Handler};
pub use http1::{BodyError, Version, is_field_value, is_reason_phrase, is_token, reason_phrase};
pub use request::{Request, RequestHead};
pub use response::Response;
pub use server::{SHARED_ACCEPT_WAIT, Server, ServerHandle};
pub use static_files::{DEFAULT_INDEX, StaticFiles, StaticFilesBuilder};
pub use stats::{LATENCY_WINDOW, Latency, ParkedConnections, Stats, WorkerState};

/// Internals exposed for the micro-benchmarks in `benches/parse.rs` and the fuzz targets in
/// `fuzz/`; not a stable API.
#[doc(hidden)]
pub mod bench_internals {
    use crate::http1::{decode, encode, head};
    use crate::{Config, Response};

    /// Parses and checks one request head the way a worker does: its length if it is
    /// complete and acceptable.
    pub fn parse_head(bytes: &[u8]) -> Option<usize> {
        // `Config::default()` asks the OS for the core count: build it once.
        static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
        let config = CONFIG.get_or_init(Config::default);
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 100];
        match head::parse(bytes, &mut headers, config) {
            head::Parsed::Complete(head) => Some(head.len),
            _ => None,
        }
    }

    /// Serialises a response head, and a body of up to 16 KiB, into `out` the way a worker
    /// does for an HTTP/1.1 keep-alive request (with the default `Keep-Alive: timeout=5`).
    pub fn write_response(out: &mut Vec<u8>, res: &Response) {
        let keep_alive = b"Keep-Alive: timeout=5\r\n";
        encode::write_head_with(
            out,
            &res.head(),
            crate::Version::Http11,
            false,
            false,
            keep_alive,
            &crate::date::now_http(),
        );
        match &res.payload {
            crate::response::Payload::Static(b) => out.extend_from_slice(b),
            crate::response::Payload::Bytes(b) => out.extend_from_slice(b),
            _ => {}
        }
    }

    /// Decodes a chunked request body from `bytes` as the server does, at most `max_body`
    /// bytes of data: the data and the bytes left after the body, or why it was refused.
    pub fn decode_chunked(
        bytes: &[u8],
        max_body: u64,
    ) -> Result<(Vec<u8>, &[u8]), crate::BodyError> {
        decode::decode_all(bytes, head::BodyLength::Chunked, max_body)
    }

    /// Decodes a chunked body fed in pieces of the given sizes (cycled), as bytes trickling
    /// in from a socket: the data and how many bytes were left after the body, or why it was
    /// refused. Any split must give the same outcome as [`decode_chunked`].
    pub fn decode_chunked_split(
        bytes: &[u8],
        splits: &[usize],
        max_body: u64,
    ) -> Result<(Vec<u8>, usize), crate::BodyError> {
        decode::decode_split(bytes, splits, head::BodyLength::Chunked, max_body)
    }
}

/// The README's examples, compiled and run as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The architecture document's examples, likewise.
#[cfg(doctest)]
#[doc = include_str!("../docs/architecture.md")]
pub struct ArchitectureDoctests;

/// The static files document's example (serving files from the library), likewise.
#[cfg(doctest)]
#[doc = include_str!("../docs/static-files.md")]
pub struct StaticFilesDoctests;
