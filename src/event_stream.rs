//! Server-sent event streams (`text/event-stream`) that wait in the poller, not in a worker:
//! an open browser tab costs a registered descriptor and a few bytes of state, no thread.
//!
//! A handler answers a request with [`EventStreams::open`]; the server sends the head and the
//! first bytes, then parks the connection in the poller, where it waits for the client to go
//! away or for [`EventStreams::send`], which appends the message to every open stream and
//! puts each back on the run queue: the next free worker writes it and parks the stream again.
//! Streams are not subject to `keep_alive` or the minimum response rate: they wait, by design.
//! Every [`PING`] of silence a comment (`:`) goes out, so a client that vanished is found and
//! proxies keep the connection; a stream whose client does not take what is sent (more than
//! [`MAX_UNSENT`] waiting, or bytes waiting a whole [`PING`] with none taken) is closed
//! (`too_slow`). At shutdown every stream closes at once.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use basehttp::{EventStreams, Request, Response, Server};
//!
//! let streams = EventStreams::new(100);
//! let handler_streams = streams.clone();
//! let server = Server::bind("127.0.0.1:0")?
//!     .spawn(move |req: &mut Request| match req.path() {
//!         "/events" => handler_streams.open("retry: 500\n\n"),
//!         _ => Response::error(404),
//!     })?;
//! let mut client = std::net::TcpStream::connect(server.local_addr())?;
//! client.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")?;
//! let mut lines = BufReader::new(client);
//! let mut line = String::new();
//! while !line.starts_with("retry: 500") {
//!     line.clear();
//!     lines.read_line(&mut line)?;
//! }
//! while streams.count() == 0 {
//!     std::thread::yield_now(); // the stream is parked a moment after its head goes out
//! }
//! streams.send(Some("reload"), "/index.html");
//! let mut got = String::new();
//! while !got.contains("data: /index.html") {
//!     line.clear();
//!     lines.read_line(&mut line)?;
//!     got.push_str(&line);
//! }
//! assert!(got.contains("event: reload\n"));
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::sync::{Arc, Mutex, Weak};

use crate::response::{Payload, Response};
pub use crate::stream_state::{MAX_UNSENT, PING};
use crate::stream_state::{Stream, lock};

/// A set of server-sent event streams; see the [module](self). Cheap to clone: clones share
/// the set.
#[derive(Clone)]
pub struct EventStreams {
    inner: Arc<Inner>,
}

struct Inner {
    cap: usize,
    streams: Mutex<Vec<Weak<Stream>>>,
}

impl std::fmt::Debug for EventStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStreams")
            .field("cap", &self.inner.cap)
            .field("open", &self.count())
            .finish()
    }
}

impl EventStreams {
    /// A set that holds at most `cap` open streams; [`open`](Self::open) past it answers
    /// `503`.
    pub fn new(cap: usize) -> EventStreams {
        EventStreams {
            inner: Arc::new(Inner {
                cap,
                streams: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The response that opens a stream: `200`, `Content-Type: text/event-stream`,
    /// `Cache-Control: no-store`, and `first` (a `retry:` line, say) as the first bytes; the
    /// connection then waits in the poller for messages. Past the cap, a `503` with
    /// `Retry-After` and a reason instead.
    pub fn open(&self, first: &str) -> Response {
        let mut streams = lock(&self.inner.streams);
        streams.retain(|s| s.strong_count() > 0);
        if streams.len() >= self.inner.cap {
            return Response::text(format!(
                "too many event streams (at most {})\n",
                self.inner.cap
            ))
            .with_status(503)
            .with_header("Retry-After", "5");
        }
        let stream = Arc::new(Stream::new(first.as_bytes()));
        streams.push(Arc::downgrade(&stream));
        let mut response = Response::new(200)
            .with_content_type("text/event-stream")
            .with_header("Cache-Control", "no-store")
            // Nginx buffers responses unless told not to.
            .with_header("X-Accel-Buffering", "no");
        response.payload = Payload::Stream(stream);
        response
    }

    /// Sends a message to every open stream: `event: EVENT` (when given), then `data` as
    /// `data:` lines (one per line of it), then a blank line.
    pub fn send(&self, event: Option<&str>, data: &str) {
        let message = format_event(event, data);
        let streams: Vec<Arc<Stream>> = lock(&self.inner.streams)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for stream in streams {
            stream.push(message.as_bytes());
        }
    }

    /// Open streams now.
    pub fn count(&self) -> usize {
        lock(&self.inner.streams)
            .iter()
            .filter(|s| s.strong_count() > 0)
            .count()
    }
}

/// One event in the `text/event-stream` format: `event:` when given, a `data:` line for each
/// line of `data` (CR, LF and CRLF all end a line), a blank line. An event name with a line
/// break in it is cut there (it could not be sent).
///
/// ```
/// use basehttp::format_event;
/// assert_eq!(format_event(Some("css"), "/a.css"), "event: css\ndata: /a.css\n\n");
/// assert_eq!(format_event(None, "a\r\nb"), "data: a\ndata: b\n\n");
/// ```
pub fn format_event(event: Option<&str>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(event) = event {
        let name = event.split(['\r', '\n']).next().unwrap_or("");
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    let data = data.replace("\r\n", "\n");
    for line in data.split(['\r', '\n']) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed_line_by_line() {
        let rows: &[(Option<&str>, &str, &str)] = &[
            (None, "", "data: \n\n"),
            (None, "x", "data: x\n\n"),
            (Some("reload"), "/", "event: reload\ndata: /\n\n"),
            (None, "a\nb", "data: a\ndata: b\n\n"),
            (None, "a\rb", "data: a\ndata: b\n\n"),
            (None, "a\r\nb\n", "data: a\ndata: b\ndata: \n\n"),
            (Some("bad\nname"), "x", "event: bad\ndata: x\n\n"),
        ];
        for (event, data, want) in rows {
            assert_eq!(&format_event(*event, data), want, "{event:?} {data:?}");
        }
    }

    #[test]
    fn any_text_frames_into_lines_that_never_end_an_event_early() {
        // In-process fuzz: whatever the data, the only blank line is the last.
        for data in ["\n\n", "\r\r\n", "a\n\r\nb", "\u{2028}x", "\0"] {
            let out = format_event(Some("e\r"), data);
            assert_eq!(out.matches("\n\n").count(), 1, "{out:?}");
            assert!(out.ends_with("\n\n"));
        }
    }

    #[test]
    fn the_cap_refuses_and_closed_streams_free_their_place() {
        let streams = EventStreams::new(1);
        let first = streams.open("");
        assert_eq!(first.status(), 200);
        assert_eq!(streams.count(), 1);
        assert_eq!(streams.open("").status(), 503);
        drop(first);
        assert_eq!(streams.count(), 0);
        assert_eq!(streams.open("").status(), 200);
    }

    #[test]
    fn a_message_reaches_the_outbox_and_marks_news() {
        let streams = EventStreams::new(4);
        let response = streams.open("retry: 1\n\n");
        let Payload::Stream(stream) = &response.payload else {
            panic!("not a stream")
        };
        assert_eq!(stream.take(), b"retry: 1\n\n");
        assert!(!stream.has_news());
        streams.send(None, "x");
        assert!(stream.has_news());
        assert_eq!(stream.take(), b"data: x\n\n");
        assert!(!stream.has_news());
    }
}
