//! A client connection as it travels between the listener, the run queue, the workers and the
//! poller: its socket, the bytes it has received but not yet used, and the [`Phase`] it is in,
//! which carries the phase's own data.
//!
//! A connection is always in one phase. A worker takes it from the run queue and runs phases
//! while there is work: a request buffered, bytes to read, room to write. When the next step
//! would wait on the client, the worker parks the connection in the poller with what it waits
//! for and until when ([`Connection::waiting`]); the poller puts it back on the run queue when
//! the socket is ready or the deadline passes, and the next free worker carries on. The run
//! queue holds only connections with work (gunicorn #3518, #3519; Apache's event MPM).
//!
//! ```text
//!                       ┌──────────────────── keep-alive ─────────────────────┐
//!                       ▼                                                     │
//!  accept ──► New ──► ReadHead ──a whole head──► exchange ──► (then) ─────────┤
//!                       │   │                   (handler,                     │
//!                       │   │ body to receive    settle,      the client is   │
//!                       │   ▼ first (the default) write)      slow to take it │
//!                       │ ReceiveBody ──all in──► Handle ──►    ▼             │
//!                       │                                     Write ──────────┤
//!                       │                         a streamed body's rest:     │
//!                       │                                     Drain ──────────┘
//!                       │
//!    refused head, 408, a response that ends the connection
//!                       ▼
//!                    Linger ──────► Close(CloseReason) ◄── idle, reset, timeout, too slow
//! ```
//!
//! The phases that wait on the client (`ReadHead`, `ReceiveBody`, `Write`, `Drain`, `Linger`)
//! are the ones a connection can be parked in. `New` sets the socket up; `Handle` runs the
//! handler on a received body; `Close` ends the connection and records its [`CloseReason`].
//!
//! One exchange (`worker::exchange`: a head, the handler, the response) runs on the request
//! borrowed from the worker's buffer, within one turn, and leaves the connection in
//! `ReadHead`, `Write`, `Drain` or `Linger`.
//!
//! This module holds data and the rules derived from it (deadlines); it does no I/O.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::close_reason::CloseReason;
use crate::config::Config;
use crate::http1::decode::Decoder;
use crate::received::Receiving;
use crate::sending::Sending;
use crate::stream_state::{PING, Stream};
use crate::wire::{Ready, Wire};

/// At shutdown an idle kept-alive connection is closed after this much quiet: long enough
/// for a request its client had already sent to arrive and be answered (with
/// `Connection: close`), so a busy client loses none to the race between its next request and
/// the close.
pub(crate) const SHUTDOWN_QUIET: Duration = Duration::from_secs(1);

/// Where a connection stands.
pub(crate) enum Phase {
    /// Just accepted: its socket is set up on the first visit.
    New,
    /// Waiting for, or reading, a request head (and, with a whole head buffered, running the
    /// exchange it starts). Partial bytes wait in the connection's `pending`.
    ReadHead,
    /// Receiving a request body before its handler runs, into the body's own store.
    ReceiveBody(Box<Receiving>),
    /// The body is received: run the handler on the stored head and body.
    Handle(Box<Receiving>),
    /// Reading and discarding what a handler left unread of a streamed body, after its
    /// response, within `max_drain` and `linger_time`.
    Drain(Box<Drain>),
    /// Sending a response the client is slow to take.
    Write(Box<Sending>),
    /// A response that ends the connection was sent: stop sending, read and discard what the
    /// client still sends until it closes (bounded in bytes and time, as gunicorn does), so no
    /// reset destroys the response.
    Linger(Linger),
    /// A server-sent event stream, waiting for messages (see `crate::event_stream`).
    Stream(Box<Streaming>),
    /// Done, for this reason: the socket is closed and the reason counted.
    Close(CloseReason),
}

/// An event stream's connection: the stream, and what its client has not taken yet.
pub(crate) struct Streaming {
    pub(crate) stream: Arc<Stream>,
    pub(crate) unsent: Vec<u8>,
    /// When the last bytes went out: a comment follows `PING` of silence.
    pub(crate) last_sent: Instant,
    /// A chunked body (HTTP/1.1); else it ends with the connection (HTTP/1.0).
    pub(crate) chunked: bool,
}

/// A drain in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drain {
    pub(crate) decoder: Decoder,
    /// Bytes on the wire still allowed.
    pub(crate) budget: u64,
    pub(crate) deadline: Instant,
}

impl Drain {
    /// A drain of what `decoder` has left, within `max_drain` bytes and `linger_time`.
    pub(crate) fn new(decoder: Decoder, config: &Config) -> Drain {
        Drain {
            decoder,
            budget: config.max_drain,
            deadline: Instant::now() + config.linger_time,
        }
    }
}

/// A lingering close in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Linger {
    pub(crate) deadline: Instant,
    pub(crate) discarded: usize,
    /// Why the connection is closing, counted when the linger ends.
    pub(crate) reason: CloseReason,
}

/// What a parked connection waits for, as counted in the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parked {
    /// Kept alive between requests, or new and silent.
    Idle,
    /// Part of a request head has arrived.
    Head,
    /// A request body being received before its handler.
    Body,
    /// A response the client is slow to take.
    Write,
    /// An unread request body being drained.
    Drain,
    /// A lingering close.
    Linger,
    /// A server-sent event stream waiting for its next message.
    Stream,
}

impl Parked {
    pub(crate) const COUNT: usize = 7;

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What a connection waits for in the poller, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiting {
    pub(crate) ready: Ready,
    pub(crate) deadline: Instant,
    pub(crate) kind: Parked,
}

/// What travels on the run queue.
pub(crate) enum Job {
    /// A connection with work: a request or bytes to read, room to write, a deadline passed.
    Conn(Box<Connection>),
    /// Tells an idle worker to wait on the poller: the one that did went to serve.
    Poll,
    /// Tells one worker to exit.
    Stop,
}

/// Where a connection is registered with the poller: its slot, and the slot's generation
/// (an event or a timer for a slot since reused must not reach the new connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// A client connection.
pub(crate) struct Connection {
    /// The socket, shared with an [`Early`](crate::Early) while a handler holds one.
    pub(crate) wire: Arc<Wire>,
    pub(crate) peer: SocketAddr,
    pub(crate) phase: Phase,
    /// Received bytes not yet processed, kept while the connection waits: at most a partial
    /// head (or pipelined requests after a turn's end), and empty (unallocated) in the common
    /// case.
    pub(crate) pending: Vec<u8>,
    /// Requests answered on this connection.
    pub(crate) served: u32,
    /// When the connection last became idle: its accept, or the end of its last response.
    pub(crate) idle_since: Instant,
    /// When the connection last entered the run queue (`None` when the worker that waited on
    /// the poller took it straight from there).
    pub(crate) queued_at: Option<Instant>,
    /// When the first byte of the current request head arrived.
    pub(crate) head_started: Option<Instant>,
    /// Its registration with the poller, from its first wait there until it closes.
    pub(crate) ticket: Option<Ticket>,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr, accepted_at: Instant) -> Connection {
        Connection {
            wire: Wire::new(stream),
            peer,
            phase: Phase::New,
            pending: Vec::new(),
            served: 0,
            idle_since: accepted_at,
            queued_at: Some(accepted_at),
            head_started: None,
            ticket: None,
        }
    }

    /// When the wait for the current request must end, with `buffered` bytes of its head
    /// received: on a new connection, the header timeout counted from the accept (silence
    /// first, then a trickle, gets no second timeout); on a kept-alive one, the keep-alive
    /// timeout while idle (so `Keep-Alive: timeout=N` holds), then the header timeout from the
    /// head's first byte.
    pub(crate) fn head_deadline(&self, buffered: usize, config: &Config) -> Instant {
        if self.served == 0 {
            self.idle_since + config.header_timeout
        } else if buffered == 0 {
            self.idle_since + config.keep_alive
        } else {
            self.head_started.unwrap_or(self.idle_since) + config.header_timeout
        }
    }

    /// The event stream this connection carries, if it does: the poller tells it how to wake
    /// the connection as it parks it.
    pub(crate) fn stream(&self) -> Option<&Stream> {
        match &self.phase {
            Phase::Stream(s) => Some(&s.stream),
            _ => None,
        }
    }

    /// Why waiting for a request ended at its deadline with `buffered` bytes received.
    pub(crate) fn head_timeout_reason(&self, buffered: usize) -> CloseReason {
        if self.served > 0 && buffered == 0 {
            CloseReason::KeepAliveTimeout
        } else {
            CloseReason::HeaderTimeout
        }
    }

    /// What the connection waits for in its phase, and until when, with `buffered` bytes of
    /// a head received; `None` for a phase that never waits. `shutdown` is when the server
    /// began shutting down: an idle connection then gets [`SHUTDOWN_QUIET`], a head, a body
    /// or a response `shutdown_grace`; a drain and a linger keep their own bounds. `now`
    /// stands in for a deadline a response has not set yet.
    pub(crate) fn waiting(
        &self,
        buffered: usize,
        config: &Config,
        shutdown: Option<Instant>,
        now: Instant,
    ) -> Option<Waiting> {
        let grace = |deadline: Instant| match shutdown {
            Some(at) => deadline.min(at + config.shutdown_grace),
            None => deadline,
        };
        let (ready, deadline, kind) = match &self.phase {
            Phase::ReadHead if buffered == 0 => {
                let deadline = self.head_deadline(0, config);
                let quiet = shutdown.map_or(deadline, |at| deadline.min(at + SHUTDOWN_QUIET));
                (Ready::Read, quiet, Parked::Idle)
            }
            Phase::ReadHead => (
                Ready::Read,
                grace(self.head_deadline(buffered, config)),
                Parked::Head,
            ),
            Phase::ReceiveBody(rx) => (
                Ready::Read,
                grace(rx.pacing.deadline().unwrap_or(now)),
                Parked::Body,
            ),
            Phase::Write(sending) => (
                Ready::Write,
                grace(sending.pacing.deadline().unwrap_or(now)),
                Parked::Write,
            ),
            Phase::Drain(drain) => (Ready::Read, drain.deadline, Parked::Drain),
            Phase::Linger(linger) => (Ready::Read, linger.deadline, Parked::Linger),
            // Read: the client going away; write: room for what it has not taken. A stream
            // has no timeout of its own (a comment every PING keeps it honest) and closes as
            // soon as a shutdown begins.
            Phase::Stream(s) => {
                let ready = if s.unsent.is_empty() {
                    Ready::Read
                } else {
                    Ready::Write
                };
                let ping = s.last_sent + PING;
                (
                    ready,
                    shutdown.map_or(ping, |at| ping.min(at)),
                    Parked::Stream,
                )
            }
            Phase::New | Phase::Handle(_) | Phase::Close(_) => return None,
        };
        Some(Waiting {
            ready,
            deadline,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::Pacing;

    fn conn() -> Connection {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        Connection::new(stream, peer, Instant::now())
    }

    #[test]
    fn an_idle_connection_waits_for_its_keep_alive_then_a_quiet_second_at_shutdown() {
        let config = Config::default();
        let mut c = conn();
        c.phase = Phase::ReadHead;
        let t0 = c.idle_since;
        let w = c.waiting(0, &config, None, t0).unwrap();
        assert_eq!(
            (w.ready, w.kind, w.deadline),
            (Ready::Read, Parked::Idle, t0 + config.header_timeout),
            "new and silent: the header timeout from the accept"
        );
        c.served = 1;
        let w = c.waiting(0, &config, None, t0).unwrap();
        assert_eq!(w.deadline, t0 + config.keep_alive, "kept alive");
        let w = c.waiting(0, &config, Some(t0), t0).unwrap();
        assert_eq!(w.deadline, t0 + SHUTDOWN_QUIET, "shutting down");
        c.head_started = Some(t0 + Duration::from_secs(1));
        let w = c.waiting(10, &config, None, t0).unwrap();
        assert_eq!(
            (w.kind, w.deadline),
            (
                Parked::Head,
                t0 + Duration::from_secs(1) + config.header_timeout
            )
        );
        assert_eq!(c.head_timeout_reason(10), CloseReason::HeaderTimeout);
        assert_eq!(c.head_timeout_reason(0), CloseReason::KeepAliveTimeout);
    }

    #[test]
    fn a_slow_response_waits_for_room_within_its_pacing_and_the_grace() {
        let config = Config::default();
        let mut c = conn();
        let t0 = Instant::now();
        let mut sending = Box::new(Sending::new(
            b"rest".to_vec(),
            crate::sending::Rest::None,
            0,
            Pacing::response(&config),
        ));
        sending.pacing.blocked(t0);
        c.phase = Phase::Write(sending);
        let w = c.waiting(0, &config, None, t0).unwrap();
        assert_eq!((w.ready, w.kind), (Ready::Write, Parked::Write));
        assert_eq!(
            w.deadline,
            t0 + config.min_rate_grace,
            "the rate's grace first"
        );
        let at = t0 - Duration::from_secs(4);
        let w = c.waiting(0, &config, Some(at), t0).unwrap();
        assert_eq!(w.deadline, at + config.shutdown_grace);
    }

    #[test]
    fn an_event_stream_waits_for_its_ping_or_room_and_closes_at_shutdown() {
        let config = Config::default();
        let mut c = conn();
        let streams = crate::EventStreams::new(1);
        let crate::response::Payload::Stream(stream) = streams.open("").payload else {
            panic!("not a stream")
        };
        let t0 = Instant::now();
        c.phase = Phase::Stream(Box::new(Streaming {
            stream,
            unsent: Vec::new(),
            last_sent: t0,
            chunked: true,
        }));
        let w = c.waiting(0, &config, None, t0).unwrap();
        assert_eq!(
            (w.ready, w.kind, w.deadline),
            (Ready::Read, Parked::Stream, t0 + PING),
            "no keep-alive or rate: the ping's time"
        );
        if let Phase::Stream(s) = &mut c.phase {
            s.unsent = b"x".to_vec();
        }
        let at = t0 + Duration::from_secs(1);
        let w = c.waiting(0, &config, Some(at), t0).unwrap();
        assert_eq!(
            (w.ready, w.deadline),
            (Ready::Write, at),
            "shutdown: at once"
        );
    }

    #[test]
    fn phases_that_never_wait_have_no_deadline() {
        let config = Config::default();
        let mut c = conn();
        assert_eq!(c.waiting(0, &config, None, Instant::now()), None);
        c.phase = Phase::Close(CloseReason::ClientClosed);
        assert_eq!(c.waiting(0, &config, None, Instant::now()), None);
    }
}
