//! The public entry points: [`Server`] to configure and start, and [`ServerHandle`] to watch
//! and stop a running server.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, WhenFull};
use crate::handler::{BodyPolicy, Handler, WithPolicy};
use crate::pool::{Pool, WorkerWrap};
use crate::request::RequestHead;
use crate::stats::Stats;

/// A bound, not yet running server: set it up, then [`spawn`](Server::spawn) or
/// [`serve`](Server::serve).
///
/// ```no_run
/// use basehttp::{Request, Response, Server};
/// Server::bind("127.0.0.1:8000")?
///     .workers(8)
///     .serve(|req: &mut Request| match req.path() {
///         "/" => Response::text("Hello, World!"),
///         _ => Response::error(404),
///     })
/// # ;Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    listener: TcpListener,
    config: Config,
    policy: Option<Box<Policy>>,
    wrap: Option<Arc<WorkerWrap>>,
    shared: bool,
}

/// A body policy set with [`Server::body_policy`].
type Policy = dyn Fn(&RequestHead<'_>) -> BodyPolicy + Send + Sync;

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("config", &self.config)
            .field("body_policy", &self.policy.is_some())
            .field("wrap_worker", &self.wrap.is_some())
            .field("shared_listener", &self.shared)
            .finish()
    }
}

impl Server {
    /// Binds a listening socket now, so a port in use is reported here (as
    /// `io::ErrorKind::AddrInUse`). Port 0 picks a free port; see
    /// [`ServerHandle::local_addr`].
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr)?))
    }

    /// Uses a listener bound elsewhere.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            config: Config::default(),
            policy: None,
            wrap: None,
            shared: false,
        }
    }

    /// Says that the listening socket is shared with other processes (sibling workers handed
    /// it by a supervisor or by systemd, see [`listen_fds`](crate::listen_fds)): each process
    /// blocks in `accept` on it and the kernel gives a connection to one waiter at a time.
    ///
    /// A server's shutdown normally wakes its own `accept` by connecting to itself; on a
    /// shared socket a sibling could take that connection, so the listener instead waits in
    /// `accept` at most [`SHARED_ACCEPT_WAIT`](crate::SHARED_ACCEPT_WAIT) at a time
    /// (`SO_RCVTIMEO`, set on the socket, so on every sibling's too) and sees the stop within
    /// it. A connection accepted after the stop began is served (with `Connection: close`),
    /// never dropped; the ones not yet accepted stay in the kernel's queue for the siblings.
    ///
    /// ```
    /// use basehttp::{Request, Response, Server};
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let sibling = listener.try_clone()?; // another process would inherit it
    /// let server = Server::from_listener(listener)
    ///     .shared_listener()
    ///     .spawn(|_req: &mut Request| Response::text("hi"))?;
    /// assert!(server.shutdown());
    /// # drop(sibling);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shared_listener(mut self) -> Server {
        self.shared = true;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Server {
        self.config = config;
        self
    }

    /// Sets the number of worker threads ([`Config::workers`]).
    pub fn workers(mut self, workers: usize) -> Server {
        self.config.workers = workers;
        self
    }

    /// Sets how many connections may wait for a worker ([`Config::queue`]).
    pub fn queue(mut self, queue: usize) -> Server {
        self.config.queue = queue;
        self
    }

    /// Sets the full-queue policy ([`Config::when_full`]).
    pub fn when_full(mut self, policy: WhenFull) -> Server {
        self.config.when_full = policy;
        self
    }

    /// Sets the keep-alive timeout; zero disables keep-alive ([`Config::keep_alive`]).
    pub fn keep_alive(mut self, timeout: Duration) -> Server {
        self.config.keep_alive = timeout;
        self
    }

    /// Decides, from a request's head, what to do with its body before the handler runs
    /// (see [`BodyPolicy`]); it replaces the handler's own
    /// [`Handler::body_policy`]. Called only for requests that have a body.
    ///
    /// ```
    /// use basehttp::{BodyPolicy, Request, Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?
    ///     .body_policy(|head| match head.path() {
    ///         "/upload" => BodyPolicy::Stream,
    ///         _ => BodyPolicy::ReceiveFirst,
    ///     })
    ///     .spawn(|_req: &mut Request| Response::text("ok"))?;
    /// # server.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn body_policy(
        mut self,
        policy: impl Fn(&RequestHead<'_>) -> BodyPolicy + Send + Sync + 'static,
    ) -> Server {
        self.policy = Some(Box::new(policy));
        self
    }

    /// Runs each worker thread's whole loop inside `wrap`: on every worker thread, once, at
    /// its start, the server calls `wrap(run)`, where `run` is the worker's loop (waiting for
    /// connections and serving them until the server stops). `wrap` must call `run` exactly
    /// once; a second call returns at once, and a `wrap` that never calls it leaves that
    /// worker idle. The thread ends when `wrap` returns.
    ///
    /// This is the place for per-thread set-up and tear-down around everything a worker does:
    /// attaching the thread to an embedded interpreter once for its life, a thread-local
    /// database connection, a profiler's scope. The handler then sees the thread-locals set
    /// here on every request that worker serves.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::io::{Read, Write};
    /// use basehttp::{Request, Response, Server};
    ///
    /// thread_local!(static TAG: Cell<u32> = const { Cell::new(0) });
    ///
    /// let server = Server::bind("127.0.0.1:0")?
    ///     .workers(1)
    ///     .wrap_worker(|run| {
    ///         TAG.set(42); // set up, on the worker thread, before it serves anything
    ///         run();
    ///         TAG.set(0); // tear down, after its last request
    ///     })
    ///     .spawn(|_req: &mut Request| Response::text(format!("tag {}", TAG.get())))?;
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer)?;
    /// assert!(answer.ends_with("\r\n\r\ntag 42"));
    /// server.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wrap_worker(
        mut self,
        wrap: impl Fn(&mut (dyn FnMut() + Send)) + Send + Sync + 'static,
    ) -> Server {
        self.wrap = Some(Arc::new(wrap));
        self
    }

    /// The configuration as it stands.
    pub fn current_config(&self) -> &Config {
        &self.config
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the listener and the workers in the background and returns a handle.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use basehttp::{Request, Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?
    ///     .workers(2)
    ///     .spawn(|_req: &mut Request| Response::text("hi"))?;
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer)?;
    /// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
    /// assert!(answer.ends_with("\r\n\r\nhi"));
    /// server.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(self, handler: impl Handler) -> io::Result<ServerHandle> {
        let local_addr = self.listener.local_addr()?;
        let handler: Box<dyn Handler> = match self.policy {
            Some(policy) => Box::new(WithPolicy { handler, policy }),
            None => Box::new(handler),
        };
        if self.shared {
            rustix::net::sockopt::set_socket_timeout(
                &self.listener,
                rustix::net::sockopt::Timeout::Recv,
                Some(SHARED_ACCEPT_WAIT),
            )?;
        }
        let pool = Pool::start(self.listener, self.config.normalized(), handler, self.wrap)?;
        Ok(ServerHandle {
            pool,
            local_addr,
            stopped: false,
            shared: self.shared,
        })
    }

    /// Serves on the calling thread until the process ends. Use [`spawn`](Server::spawn) to
    /// keep a handle and stop the server.
    pub fn serve(self, handler: impl Handler) -> io::Result<()> {
        let _running = self.spawn(handler)?;
        loop {
            std::thread::park();
        }
    }
}

/// A running server. Dropping it shuts the server down, like [`shutdown`](Self::shutdown).
pub struct ServerHandle {
    pool: Pool,
    local_addr: SocketAddr,
    stopped: bool,
    shared: bool,
}

/// How long the listener of a [`shared_listener`](Server::shared_listener) waits in `accept`
/// before it looks whether the server is stopping: the most a shutdown waits for it.
pub const SHARED_ACCEPT_WAIT: Duration = Duration::from_millis(200);

impl ServerHandle {
    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A snapshot of the server's counters.
    pub fn stats(&self) -> Stats {
        self.pool.shared.stats()
    }

    /// The configuration in force (after clamping impossible values).
    pub fn config(&self) -> &Config {
        &self.pool.shared.config
    }

    /// Shuts down gracefully: stops accepting, lets in-flight requests finish (their responses
    /// carry `Connection: close`) within [`Config::shutdown_grace`], closes idle and queued
    /// connections, and joins every thread. Returns `true` if everything finished within the
    /// grace period; a handler still running after it is left to finish on its own.
    pub fn shutdown(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        if self.stopped {
            return true;
        }
        self.stopped = true;
        let addr = wake_address(self.local_addr);
        let shared = self.shared;
        self.pool.shutdown(|| {
            // A shared listener wakes by itself (SO_RCVTIMEO); a connection of ours could go
            // to a sibling.
            if !shared {
                let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
            }
        })
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Where to connect to wake a listener bound to `addr` (a wildcard address is reached through
/// loopback).
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        match addr {
            SocketAddr::V4(_) => addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into()),
            SocketAddr::V6(_) => addr.set_ip(std::net::Ipv6Addr::LOCALHOST.into()),
        }
    }
    addr
}
