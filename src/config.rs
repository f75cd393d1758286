//! Server configuration: pool sizes, the full-queue policy, every limit and every timeout.
//!
//! This module only holds values and their defaults; it does no I/O. Each default is chosen
//! against a reference server (nginx, gunicorn, Django's runserver) and the reason is given
//! beside it, so a reader can tell a deliberate number from an arbitrary one.

use std::time::Duration;

/// What the listener does with a new connection when the queue is full.
///
/// The default is [`WhenFull::Block`]: a development server should rather make a burst wait a
/// little (the kernel's listen backlog holds it) than turn a browser's page load into 503s.
/// [`WhenFull::Reject`] suits load tests and demos of overload, where a fast, explicit
/// "try later" is the point.
///
/// ```
/// use basehttp::{Config, WhenFull};
/// let mut config = Config::default();
/// config.when_full = WhenFull::Reject;
/// assert_eq!(Config::default().when_full, WhenFull::Block);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// The listener stops accepting until a worker frees a slot; new connections wait in the
    /// kernel's listen backlog.
    Block,
    /// The listener accepts the connection and answers `503 Service Unavailable` with
    /// `Retry-After: 1` and `Connection: close` in one non-blocking write, then closes it.
    Reject,
}

impl WhenFull {
    /// `block` or `reject`: the name [`FromStr`](std::str::FromStr) parses.
    ///
    /// ```
    /// use basehttp::WhenFull;
    /// assert_eq!(WhenFull::Reject.name(), "reject");
    /// assert_eq!("block".parse::<WhenFull>(), Ok(WhenFull::Block));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            WhenFull::Block => "block",
            WhenFull::Reject => "reject",
        }
    }
}

impl std::str::FromStr for WhenFull {
    type Err = String;

    /// Parses `block` or `reject`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "block" => Ok(WhenFull::Block),
            "reject" => Ok(WhenFull::Reject),
            other => Err(format!("expected `block` or `reject`, got `{other}`")),
        }
    }
}

/// Every tunable of a server. Start from [`Config::default()`] and change fields.
///
/// ```
/// use std::time::Duration;
/// let mut config = basehttp::Config::default();
/// config.workers = 4;
/// config.keep_alive = Duration::from_secs(2);
/// assert_eq!(config.max_headers, 100);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Number of worker threads. Default 256: one per in-flight request for up to 256
    /// blocking handlers at once (Little's law: throughput = workers / service time, so 256
    /// handlers that wait 10 ms serve up to 25,600 requests a second), while the run gate
    /// ([`active_workers`](Config::active_workers)) keeps fast handlers running on a few
    /// threads (one fewer than the cores), so they do not pay for the parked ones. Measured on 2 cores: about
    /// 11 MB resident idle and after hello at 256 connections, 17 MB after 256 blocking
    /// handlers at once, against 4 MB with 8 workers (see docs/architecture.md, "Fast and blocking
    /// handlers both"). At most [`MAX_WORKERS`].
    pub workers: usize,
    /// Workers that serve connections at once. A worker whose handler (or response write)
    /// has been busy longer than [`lend_after`](Config::lend_after) lends its place to a parked
    /// worker, so blocking handlers still use the whole pool. Default: one fewer than the
    /// cores (at least one), leaving a core to the clients a development server shares its
    /// machine with (the browser, a load generator): with a client on the same 2 cores, hello
    /// at 8 keep-alive connections served 1.17x hyper's rate with one place and 0.84x with
    /// two, which only added context switches (see docs/architecture.md, "Fast and blocking handlers
    /// both"). While handlers are long the [`spare_places`](Config::spare_places) open too.
    /// On a machine of its own, set this to the cores. A value of `workers` or more turns the
    /// gate off.
    pub active_workers: usize,
    /// Places the run gate adds to [`active_workers`](Config::active_workers) while handlers
    /// are long: from when a handler is seen busy past [`lend_after`](Config::lend_after)
    /// until 100 ms pass without one. Then the work is the server's own (CPU-bound handlers;
    /// blocking ones lend their places anyway), and every core serves it: `/cpu?ms=1` at 64
    /// connections served 1,891 requests a second with two places and 1,393 with one.
    /// Default: the core `active_workers` leaves (one on two cores or more, none on one).
    pub spare_places: usize,
    /// How long a worker may be busy in a handler or a response write before its place is
    /// lent to a parked worker. Default 200 µs: far above a fast handler, far below a database
    /// call.
    pub lend_after: Duration,
    /// New connections that may wait in the run queue for their first turn; past it the
    /// listener applies [`when_full`](Config::when_full). Default 4096. Connections the
    /// poller puts back on the run queue (a kept-alive client's next request, room to write)
    /// are not counted: they never keep a newcomer out, who waits behind them for one turn
    /// each. Connections that wait on their clients (idle keep-alive, uploads being received,
    /// responses a slow reader is taking) wait in the poller, bounded by
    /// [`max_connections`](Config::max_connections). At most [`MAX_QUEUE`].
    pub queue: usize,
    /// What to do with a new connection when `queue` new connections already wait for a
    /// worker.
    pub when_full: WhenFull,
    /// Connections open at once: accepted and not yet closed, wherever they are (with a
    /// worker, in the run queue, or waiting on their client in the poller). Past it, a new
    /// connection is answered `503 Service Unavailable` (`Retry-After: 1`, "too many
    /// connections") and closed, whatever [`when_full`](Config::when_full) says. Default
    /// 16,384: a parked connection costs a few hundred bytes here and a socket in the kernel,
    /// so the bound is the descriptors. The server warns at start when the process's
    /// descriptor limit (`ulimit -n`) is lower (the `basehttp` binary raises its soft limit
    /// to the hard limit); past that limit `accept` fails and the listener backs off.
    pub max_connections: usize,
    /// How long an idle persistent connection is kept open between requests. Zero disables
    /// keep-alive: every response carries `Connection: close`. Default 5 s (gunicorn uses 2 s,
    /// nginx 75 s; a few seconds covers a browser's page load and its follow-up clicks).
    pub keep_alive: Duration,
    /// Requests served on one connection before it is closed. Default 1000, as nginx's
    /// `keepalive_requests`; bounds what one client can do with one socket.
    pub max_requests_per_connection: u32,
    /// Time allowed to receive a whole request head, from its first byte (or, on a new
    /// connection, from the accept). Default 10 s: a client trickling one byte a second is
    /// answered `408` and closed after this, whatever else happens.
    pub header_timeout: Duration,
    /// Longest wait for the next bytes of a request body. Default 30 s.
    pub body_timeout: Duration,
    /// Longest wait for the client to accept the next bytes of a response. Default 30 s.
    pub write_timeout: Duration,
    /// Longest request line (method, target and version). Default 8 KiB, as nginx; longer
    /// is answered `414 URI Too Long`.
    pub max_request_line: usize,
    /// Longest header field line (name and value). Default 8 KiB, as nginx; longer is
    /// answered `431 Request Header Fields Too Large`.
    pub max_header_line: usize,
    /// Most header fields in one request. Default 100, as gunicorn; more is answered `431`.
    /// At most [`MAX_HEADERS_LIMIT`].
    pub max_headers: usize,
    /// Largest whole request head, request line and headers together. Default 64 KiB. It is
    /// also the size of each worker's read buffer, allocated once per worker.
    pub max_head: usize,
    /// Largest request body accepted, by `Content-Length` or by counting chunked data.
    /// Default 1 GiB; a larger body is answered `413 Content Too Large`.
    pub max_body: u64,
    /// Largest request body received before its handler runs
    /// ([`BodyPolicy::ReceiveFirst`](crate::BodyPolicy::ReceiveFirst), the default): larger
    /// ones are answered `413` unless the body policy streams them. Default 64 MiB; at most
    /// [`max_body`](Config::max_body).
    pub max_buffered_body: u64,
    /// Bytes of a received body kept in memory, per connection; the rest goes to an unnamed
    /// temporary file in [`spill_dir`](Config::spill_dir). Default 64 KiB (nginx's
    /// `client_body_buffer_size` is 8-16 KiB, waitress's `inbuf_overflow` 512 KiB).
    pub body_buffer: usize,
    /// Bytes of received bodies held in memory by all connections together; past it, bodies
    /// spill to disk. Default 64 MiB: a thousand connections with a full `body_buffer` each.
    /// The rest of a pinned response body read ahead for a slow client
    /// ([`Response::pin_to_worker`](crate::Response::pin_to_worker)) counts here too; past
    /// it, such a body waits for its client in place.
    pub max_buffered_memory: u64,
    /// Bytes of received bodies spilled to disk by all connections together; past it, a
    /// request is answered `503` and its connection closed. Default 1 GiB.
    pub max_spill: u64,
    /// Where spill files are made (each is unlinked as soon as it is made, so none is left
    /// behind). Default: the system's temporary directory (`std::env::temp_dir()`).
    pub spill_dir: Option<std::path::PathBuf>,
    /// Slowest a request body may arrive while the server waits for it, in bytes per second,
    /// after [`min_rate_grace`](Config::min_rate_grace) from the head (or from
    /// `100 Continue`): slower is answered `408` and closed. Default 240, as Kestrel's
    /// `MinRequestBodyDataRate`; 0 disables.
    pub min_body_rate: u64,
    /// Slowest a client may take a response while the server waits for it (a blocked write),
    /// in bytes per second, after `min_rate_grace`: slower is cut and closed. Only time spent
    /// waiting on the client counts, never a handler or a reader slow to produce. Default 240,
    /// as Kestrel's `MinResponseDataRate`; 0 disables.
    pub min_response_rate: u64,
    /// The grace before the minimum rates apply. Default 5 s, as Kestrel.
    pub min_rate_grace: Duration,
    /// Unread request body the server will read and discard so the connection can be reused,
    /// counted on the wire (chunk framing included). Default 64 KiB; beyond it, or past
    /// [`linger_time`](Config::linger_time), the connection is closed instead.
    pub max_drain: u64,
    /// After an error or `Connection: close`, the server stops sending, then reads and
    /// discards at most this many bytes before closing, so the client is not sent a reset
    /// before it has read the response. Default 64 KiB, as gunicorn.
    pub linger_bytes: usize,
    /// How long that reading and discarding may take. Default 2 s, as gunicorn. It also
    /// bounds draining a body the handler left unread (with [`max_drain`](Config::max_drain)).
    pub linger_time: Duration,
    /// How long [`ServerHandle::shutdown`](crate::ServerHandle::shutdown) lets in-flight
    /// requests finish. Default 5 s.
    pub shutdown_grace: Duration,
    /// Adds to each access line the worker that answered and where the time went:
    /// `worker=3 queued=0.2ms took=50.3ms`. `queued` is how long the request's connection
    /// waited in the run queue before the worker took it up (zero when the worker waiting on
    /// the poller took it itself, and for the second and later requests a worker answers in
    /// one turn); `took` runs from the handler's start to the response written.
    /// Default `false`: the access line keeps Django runserver's exact shape. `basehttp demo`
    /// turns it on.
    pub log_timings: bool,
    /// Where access lines go: through the `log` crate (the default), written by the server to
    /// standard error the fast way, or nowhere. See [`AccessLog`](crate::access_log::AccessLog).
    pub access_log: crate::access_log::AccessLog,
}

/// The hard cap on [`Config::max_headers`]: the header array lives on each worker's stack.
pub const MAX_HEADERS_LIMIT: usize = 256;
/// The most workers a server runs: each has a thread and a read buffer of `max_head` plus
/// 16 KiB. Blocking handlers want many, but past this a poller, not threads, is the answer.
pub const MAX_WORKERS: usize = 4096;
/// The largest [`Config::queue`]: past a few thousand connections waiting for a worker, a
/// newcomer's wait is what needs fixing, not the queue's length.
pub const MAX_QUEUE: usize = 65_536;
/// Longest timeout taken as given: longer ones (a "never" like `Duration::MAX`) are clamped to
/// this, so deadlines computed from them cannot overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The cores this process may use (two when unknown).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Default for Config {
    fn default() -> Self {
        let active_workers = cores().saturating_sub(1).max(1);
        Config {
            workers: 256,
            active_workers,
            spare_places: cores() - active_workers,
            lend_after: Duration::from_micros(200),
            queue: 4096,
            when_full: WhenFull::Block,
            max_connections: 16_384,
            keep_alive: Duration::from_secs(5),
            max_requests_per_connection: 1000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_request_line: 8 * 1024,
            max_header_line: 8 * 1024,
            max_headers: 100,
            max_head: 64 * 1024,
            max_body: 1 << 30,
            max_buffered_body: 64 << 20,
            body_buffer: 64 * 1024,
            max_buffered_memory: 64 << 20,
            max_spill: 1 << 30,
            spill_dir: None,
            min_body_rate: 240,
            min_response_rate: 240,
            min_rate_grace: Duration::from_secs(5),
            max_drain: 64 * 1024,
            linger_bytes: 64 * 1024,
            linger_time: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
            log_timings: false,
            access_log: crate::access_log::AccessLog::Log,
        }
    }
}

impl Config {
    /// Clamps values that would make the server unable to work (zero workers, a head buffer
    /// smaller than a request line) to the nearest workable value: the configuration a
    /// server started with `self` runs with, as its [`ServerHandle::config`] gives it.
    ///
    /// [`ServerHandle::config`]: crate::ServerHandle::config
    ///
    /// ```
    /// let mut config = basehttp::Config::default();
    /// config.workers = 0;
    /// assert_eq!(config.normalized().workers, 1);
    /// ```
    pub fn normalized(mut self) -> Config {
        self.workers = self.workers.clamp(1, MAX_WORKERS);
        self.active_workers = self.active_workers.clamp(1, self.workers);
        self.spare_places = self.spare_places.min(self.workers - self.active_workers);
        self.lend_after = self.lend_after.max(Duration::from_micros(50));
        self.queue = self.queue.clamp(1, MAX_QUEUE);
        self.max_connections = self.max_connections.max(1);
        for timeout in [
            &mut self.keep_alive,
            &mut self.header_timeout,
            &mut self.body_timeout,
            &mut self.write_timeout,
            &mut self.linger_time,
            &mut self.shutdown_grace,
            &mut self.lend_after,
            &mut self.min_rate_grace,
        ] {
            *timeout = (*timeout).min(MAX_TIMEOUT);
        }
        self.max_headers = self.max_headers.clamp(1, MAX_HEADERS_LIMIT);
        self.max_request_line = self.max_request_line.max(64);
        self.max_header_line = self.max_header_line.max(64);
        self.max_head = self.max_head.max(self.max_request_line + 64).max(1024);
        self.max_requests_per_connection = self.max_requests_per_connection.max(1);
        self.max_buffered_body = self.max_buffered_body.min(self.max_body);
        self
    }
}
