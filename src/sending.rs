//! A response part way out: what a connection keeps of it while it waits in the queue for a
//! client slow to take it (`Phase::Write`).
//!
//! Plain data; the worker's writer fills it when a write would block and resumes it
//! (`worker::send`). Nothing here touches a socket.

use std::fs::File;
use std::io::Read;
use std::time::{Duration, Instant};

pub(crate) use crate::access_log::Entry;
use crate::close_reason::CloseReason;
use crate::http1::decode::Decoder;
use crate::received::MemoryHold;

/// How a response's body continues after the bytes in hand.
pub(crate) enum Rest {
    /// Nothing more.
    None,
    /// The rest of a body in memory, from its offset.
    Bytes(Vec<u8>, usize),
    Static(&'static [u8]),
    /// `left` more bytes of a file, from its current position (spliced on Linux).
    File {
        file: File,
        left: u64,
    },
    /// A reader's rest: exactly `left` bytes if `Some`, else to its end, chunked if `chunked`.
    Reader {
        reader: Box<dyn Read + Send>,
        left: Option<u64>,
        chunked: bool,
    },
}

/// How the connection goes on once the response is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    KeepAlive,
    /// Drain what the handler left of a streamed body with this decoder, then keep alive.
    Drain(Decoder),
    Linger(CloseReason),
}

/// A response part way out.
pub(crate) struct Sending {
    /// Bytes to write before the rest: heads, small bodies, a chunk, or bytes read back from
    /// the worker's pipe.
    pub(crate) bytes: Vec<u8>,
    pub(crate) at: usize,
    pub(crate) rest: Rest,
    pub(crate) then: Then,
    pub(crate) entry: Option<Entry>,
    /// Body bytes of the response sent so far, for the access line.
    pub(crate) body_sent: u64,
    /// Bytes of `bytes` (from its start) that are not body: the head and earlier responses.
    pub(crate) not_body: usize,
    /// Time spent waiting on the client: blocked in writes, or in the queue while parked.
    pub(crate) blocked: Duration,
    /// Bytes written since the response first blocked, for the minimum rate.
    pub(crate) sent_blocked: u64,
    /// When the current wait began, if the response is waiting.
    pub(crate) waiting_since: Option<Instant>,
    /// When bytes last moved: `write_timeout` counts from here.
    pub(crate) last_progress: Instant,
    /// The share of the memory budget `bytes` holds, when they are a pinned body's
    /// read-ahead; given back with the response.
    pub(crate) hold: Option<MemoryHold>,
}

impl Sending {
    /// A response blocked with `bytes[at..]` unwritten and `rest` to follow.
    pub(crate) fn new(bytes: Vec<u8>, rest: Rest, not_body: usize) -> Sending {
        let now = Instant::now();
        Sending {
            bytes,
            at: 0,
            rest,
            then: Then::KeepAlive,
            entry: None,
            body_sent: 0,
            not_body,
            blocked: Duration::ZERO,
            sent_blocked: 0,
            waiting_since: Some(now),
            last_progress: now,
            hold: None,
        }
    }

    /// Notes `n` more bytes of `bytes` written.
    pub(crate) fn wrote(&mut self, n: usize, now: Instant) {
        let head_left = self.not_body.saturating_sub(self.at);
        self.at += n;
        self.moved(n, n.saturating_sub(head_left), now);
    }

    /// Notes `n` bytes written, `body` of them body bytes.
    pub(crate) fn moved(&mut self, n: usize, body: usize, now: Instant) {
        self.body_sent += body as u64;
        self.sent_blocked += n as u64;
        if n > 0 {
            self.last_progress = now;
            if let Some(since) = self.waiting_since.take() {
                self.blocked += now.saturating_duration_since(since);
            }
        }
    }

    /// Notes that a write would block now.
    pub(crate) fn waits(&mut self, now: Instant) {
        self.waiting_since.get_or_insert(now);
    }

    /// Time waited on the client so far, the current wait included.
    pub(crate) fn waited(&self, now: Instant) -> Duration {
        self.blocked
            + self
                .waiting_since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }

    /// True if the client, past `grace` of waiting, takes the response slower than `rate`
    /// bytes per second (0: no minimum).
    pub(crate) fn too_slow(&self, now: Instant, rate: u64, grace: Duration) -> bool {
        let waited = self.waited(now);
        rate > 0
            && waited > grace
            && (self.sent_blocked as f64) < rate as f64 * waited.as_secs_f64()
    }
}
