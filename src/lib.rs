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
//! `access_log`, `date`, `config`.

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
mod stats;

pub use access_log::TARGET as ACCESS_LOG_TARGET;
pub use body::{Body, BodyError};
pub use config::{Config, MAX_HEADERS_LIMIT, WhenFull};
pub use date::fmt_http_date;
pub use request::{Request, Version};
pub use response::{Response, reason_phrase};
pub use server::{Handler, Server, ServerHandle};
pub use stats::{Stats, WorkerState};

/// The README's examples, compiled and run as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
