//! A response part way out: what a connection keeps of it while it waits in the poller for a
//! client slow to take it (`Phase::Write`), and how the connection goes on once it is out.
//!
//! Plain data; the worker's writer fills it when a write would block and resumes it
//! (`worker::send`). Nothing here touches a socket.

use std::fs::File;
use std::io::Read;
use std::time::Instant;

pub(crate) use crate::access_log::Entry;
use crate::close_reason::CloseReason;
use crate::http1::decode::Decoder;
use crate::pacing::Pacing;
use crate::received::{MemoryHold, Receiving};

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
pub(crate) enum Then {
    /// Read the next request.
    ReadHead,
    /// Drain what the handler left of a streamed body with this decoder, then read the next
    /// request.
    Drain(Decoder),
    /// Stop sending, linger, and close for this reason.
    Linger(CloseReason),
    /// Receive the body of the request this `100 Continue` was for.
    Receive(Box<Receiving>),
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
    /// The waits on the client: `write_timeout` and `min_response_rate`.
    pub(crate) pacing: Pacing,
    /// The share of the memory budget `bytes` holds, when they are a pinned body's
    /// read-ahead; given back with the response.
    pub(crate) hold: Option<MemoryHold>,
}

impl Sending {
    /// A response with `bytes` unwritten (`not_body` of them not body) and `rest` to follow.
    pub(crate) fn new(bytes: Vec<u8>, rest: Rest, not_body: usize, pacing: Pacing) -> Sending {
        Sending {
            bytes,
            at: 0,
            rest,
            then: Then::ReadHead,
            entry: None,
            body_sent: 0,
            not_body,
            pacing,
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
        self.pacing.moved(n as u64, now);
    }
}
