//! The shared state of one server-sent event stream, between the set that appends messages
//! ([`EventStreams`](crate::EventStreams)) and the connection that sends them (its `Stream`
//! phase), and the framing of what it sends. No I/O here.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a stream may stay silent before a comment line goes out.
pub const PING: Duration = Duration::from_secs(30);

/// The most bytes that may wait for a stream's client; past it the stream is closed (a client
/// that reads nothing must not grow the server's memory).
pub const MAX_UNSENT: usize = 256 * 1024;

/// Puts a parked stream back on the run queue (made by the poller as it parks it).
pub(crate) type Wake = Arc<dyn Fn() + Send + Sync>;

/// One open stream.
pub(crate) struct Stream {
    /// Messages not yet taken by the connection.
    outbox: Mutex<Vec<u8>>,
    /// Set with every message, cleared when the connection takes the outbox: the poller gives
    /// a parked stream with news straight back.
    news: AtomicBool,
    /// Wakes the connection where it waits in the poller, once it has.
    wake: Mutex<Option<Wake>>,
}

impl Stream {
    /// A stream whose first bytes are `first`.
    pub(crate) fn new(first: &[u8]) -> Stream {
        Stream {
            outbox: Mutex::new(first.to_vec()),
            news: AtomicBool::new(false),
            wake: Mutex::new(None),
        }
    }

    /// Takes what is waiting to be sent.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.news.store(false, SeqCst);
        std::mem::take(&mut *lock(&self.outbox))
    }

    /// Whether a message came since the last [`take`](Self::take).
    pub(crate) fn has_news(&self) -> bool {
        self.news.load(SeqCst)
    }

    /// Notes how to wake the connection where it waits, at its first park (a connection
    /// keeps its place in the poller for life: later parks have nothing to change).
    pub(crate) fn parked(&self, wake: impl FnOnce() -> Wake) {
        lock(&self.wake).get_or_insert_with(wake);
    }

    /// Appends a message and wakes the connection. If it is not parked (a worker holds it),
    /// that worker sees the news before it parks it again, or the poller does as it parks it.
    pub(crate) fn push(&self, message: &[u8]) {
        lock(&self.outbox).extend_from_slice(message);
        self.news.store(true, SeqCst);
        let wake = lock(&self.wake).clone();
        if let Some(wake) = wake {
            wake();
        }
    }
}

/// Appends `bytes` to `out` as one chunk of a chunked body (RFC 9112 §7.1), or as they are
/// for a body that ends with the connection; nothing for no bytes (an empty chunk would end
/// a chunked body).
pub(crate) fn frame(bytes: &[u8], chunked: bool, out: &mut Vec<u8>) {
    if bytes.is_empty() {
        return;
    }
    if chunked {
        // Into `out` itself: no string made per message.
        let _ = write!(out, "{:x}\r\n", bytes.len());
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Locks `m`, taking it over if a holder panicked (the streams' state stays usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_chunks_of_a_chunked_body() {
        let mut out = Vec::new();
        frame(b"data: x\n\n", true, &mut out);
        frame(b"", true, &mut out);
        frame(b": ping\n\n", false, &mut out);
        assert_eq!(out, b"9\r\ndata: x\n\n\r\n: ping\n\n");
    }

    #[test]
    fn a_message_marks_news_and_wakes() {
        let stream = Stream::new(b"first");
        assert!(!stream.has_news());
        let woken = Arc::new(AtomicBool::new(false));
        let flag = woken.clone();
        stream.parked(|| Arc::new(move || flag.store(true, SeqCst)));
        stream.push(b"m");
        assert!(stream.has_news() && woken.load(SeqCst));
        assert_eq!(stream.take(), b"firstm");
        assert!(!stream.has_news());
    }
}
