//! `Stream`: a server-sent event stream's connection (see `crate::event_stream`). Each turn
//! reads what the client sent (nothing is expected: its end closes the stream), frames the
//! messages that came since the last turn, and writes what the socket takes; the rest waits
//! for room, and the stream waits in the poller for the next message, the client, or its
//! ping. It holds a worker only while it writes.

use std::time::Instant;

use super::parts::{Reading, Step, Worker, read_now};
use super::writer::would_block;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase, Streaming};
use crate::stream_state::{MAX_UNSENT, frame};

impl Worker<'_> {
    /// A turn of an event stream.
    pub(super) fn stream(&mut self, conn: &Connection, mut s: Box<Streaming>) -> Step {
        // What the worker buffered goes first: the stream's head and first bytes (and any
        // response pipelined before it).
        // Whatever a client pipelined after the request that opened the stream is dropped.
        self.input.clear();
        if !self.output.buf.is_empty() {
            let mut first = std::mem::take(&mut self.output.buf);
            first.append(&mut s.unsent);
            s.unsent = first;
        }
        if self.ctx.shared.shutting_down() {
            return Step::Go(Phase::Close(CloseReason::Shutdown));
        }
        loop {
            match read_now(&conn.wire, &mut self.input.buf) {
                // A client of an event stream sends nothing; whatever comes is dropped.
                Reading::Bytes(_) => {}
                Reading::Nothing => break,
                Reading::Closed(reason) => return Step::Go(Phase::Close(reason)),
            }
        }
        frame(&s.stream.take(), s.chunked, &mut s.unsent);
        let writer = self.output.writer(&conn.wire, self.ctx);
        let mut sent = 0;
        while sent < s.unsent.len() {
            match writer.write_some(&s.unsent[sent..]) {
                Ok(n) => sent += n,
                Err(e) if would_block(&e) => break,
                Err(_) => return Step::Go(Phase::Close(CloseReason::SocketError)),
            }
        }
        if sent > 0 {
            s.unsent.drain(..sent);
            s.last_sent = Instant::now();
        }
        if s.unsent.len() > MAX_UNSENT {
            return Step::Go(Phase::Close(CloseReason::TooSlow));
        }
        Step::Wait(Phase::Stream(s))
    }
}

/// A comment line, after a `PING` of silence: a client that has
/// gone is found when it fails, and proxies see the connection in use.
pub(super) fn ping(mut s: Box<Streaming>) -> Box<Streaming> {
    frame(b":\n\n", s.chunked, &mut s.unsent);
    s.last_sent = Instant::now();
    s
}
