//! A client connection as it travels between the listener, the queue and the workers: its
//! socket, the bytes it has received but not yet used, and the [`Phase`] it is in.
//!
//! A connection is always in one phase. A worker takes it from the queue, runs phases until
//! the connection closes or would wait on its client while others wait for a worker, and then
//! hands it back to the queue with its phase and its bytes: the channel is the run queue, so
//! no client holds a worker by being slow or idle (gunicorn #3518).
//!
//! ```text
//!                      ┌────────────────── keep-alive ───────────────────────┐
//!                      ▼                                                      │
//!  accept ──► New ──► ReadHead ──a whole head──► exchange ──► (next) ─────────┤
//!                      │   │                    (Handle,                      │
//!                      │   │ body to receive     settle,      the client is   │
//!                      │   ▼ first (the default) Write)       slow to take it │
//!                      │  ReceiveBody ──all in──► Handle ──►     ▼            │
//!                      │                                       Write ─────────┤
//!                      │                         a streamed body's rest:      │
//!                      │                                       Drain ─────────┘
//!                      │
//!    refused head, 408, a response that ends the connection
//!                      ▼
//!                   Linger ──────► Close(CloseReason) ◄── idle, reset, timeout, too slow
//! ```
//!
//! Every phase that waits on the client (`ReadHead`, `ReceiveBody`, `Write`, `Drain`,
//! `Linger`) can wait in the queue: when a read or write would block while others wait, the
//! worker hands the connection back in its phase, with what the phase needs to go on (partial
//! bytes in `pending`, the body being received in `receiving`, the response part way out in
//! `sending`, the drain's decoder, the linger's budget), and the next worker to take it up
//! glances at it and carries on. `New` sets the socket up; `Handle` runs the handler on a
//! received body; `Close` ends the connection and records its [`CloseReason`].
//!
//! One exchange (`worker::exchange`: a head, the handler, the response) runs on the request
//! borrowed from the worker's buffer, within one turn: its steps are typed states of their own,
//! and the connection leaves them in `ReadHead`, `Write`, `Drain` or `Linger`.
//!
//! This module holds data and the rules derived from it (deadlines); it does no I/O.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::close_reason::CloseReason;
use crate::config::Config;
use crate::http1::decode::Decoder;
use crate::received::Receiving;
use crate::sending::Sending;

/// Where a connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Just accepted: its socket options are set on the first visit.
    New,
    /// Waiting for, or reading, a request head (and, with a whole head buffered, running
    /// the exchange it starts). Partial bytes travel in `pending`.
    ReadHead,
    /// Receiving a request body before its handler runs, into the connection's own store
    /// (`receiving`), bytes not yet decoded in `pending`.
    ReceiveBody,
    /// The body is received: run the handler on the stored head and body.
    Handle,
    /// Reading and discarding what a handler left unread of a streamed body, after its
    /// response, within `max_drain` and `linger_time`.
    Drain(Box<Drain>),
    /// Sending a response the client is slow to take (`sending`).
    Write,
    /// A response that ends the connection was sent: stop sending, read and discard what the
    /// client still sends until it closes (bounded in bytes and time, as gunicorn does), so no
    /// reset destroys the response.
    Linger(Linger),
    /// Done, for this reason: the socket is closed and the reason counted.
    Close(CloseReason),
}

/// A drain in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drain {
    pub(crate) decoder: Decoder,
    /// Bytes on the wire still allowed.
    pub(crate) budget: u64,
    pub(crate) deadline: Instant,
}

/// A lingering close in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Linger {
    pub(crate) deadline: Instant,
    pub(crate) discarded: usize,
    /// Why the connection is closing, counted when the linger ends.
    pub(crate) reason: CloseReason,
}

/// A client connection.
pub(crate) struct Connection {
    /// The socket, shared with an [`Early`](crate::Early) while a handler holds one.
    pub(crate) stream: std::sync::Arc<crate::early::Wire>,
    pub(crate) peer: SocketAddr,
    pub(crate) phase: Phase,
    /// Received bytes not yet processed, carried across hand-backs: at most a partial head,
    /// and empty (unallocated) in the common case.
    pub(crate) pending: Vec<u8>,
    /// Requests answered on this connection.
    pub(crate) served: u32,
    /// When the connection last became idle: its accept, or the end of its last response.
    pub(crate) idle_since: Instant,
    /// When the connection last entered the queue: its accept, or its last hand-back.
    pub(crate) queued_at: Instant,
    /// When the first byte of the current request head arrived.
    pub(crate) head_started: Option<Instant>,
    /// The socket's read timeout as last set, to skip redundant `setsockopt` calls.
    pub(crate) read_timeout: Option<Duration>,
    /// The socket is non-blocking: the connection was handed back after a silent wait, and
    /// is only glanced at until bytes arrive.
    pub(crate) swept: bool,
    /// Glanced at in blocking mode (`recv(MSG_DONTWAIT)`) and found silent: like a swept
    /// connection, it is not glanced at again before `next_glance` while others wait.
    pub(crate) backoff: bool,
    /// An idle connection is not glanced at again before this (see `worker::wait`).
    pub(crate) next_glance: Instant,
    /// The body being received (`ReceiveBody`) or received (`Handle`).
    pub(crate) receiving: Option<Box<Receiving>>,
    /// The response part way out (`Write`).
    pub(crate) sending: Option<Box<Sending>>,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr, accepted_at: Instant) -> Connection {
        Connection {
            stream: crate::early::Wire::new(stream),
            peer,
            phase: Phase::New,
            pending: Vec::new(),
            served: 0,
            idle_since: accepted_at,
            queued_at: accepted_at,
            head_started: None,
            read_timeout: None,
            swept: false,
            backoff: false,
            next_glance: accepted_at,
            receiving: None,
            sending: None,
        }
    }

    /// When the wait for the current request must end, with `buffered` bytes of its head
    /// received: on a new connection, the header timeout counted from the accept (silence
    /// first, then a trickle, gets no second timeout); on a kept-alive one, the keep-alive
    /// timeout while idle, then the header timeout from the head's first byte.
    pub(crate) fn head_deadline(&self, buffered: usize, config: &Config) -> Instant {
        if self.served == 0 {
            self.idle_since + config.header_timeout
        } else if buffered == 0 {
            self.idle_since + config.keep_alive
        } else {
            self.head_started.unwrap_or(self.idle_since) + config.header_timeout
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
}
