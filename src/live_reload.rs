//! Live reload's server side, shared by the `basehttp --reload` command and the Python
//! package: the reserved paths (a script, an event stream), the tag put into pages, and a
//! handler wrapper that serves them and puts the tag into the HTML responses of the handler it
//! wraps. The core watches nothing: the caller watches files (the binary with `notify`,
//! Django with its autoreloader) and calls [`EventStreams::send`] with `reload` (any change)
//! or `css` and a stylesheet's URL path (swapped in place in every tab that links it).
//!
//! The script (`live_reload.js`) runs itself as a `SharedWorker` that holds one event stream
//! for every tab of a browser (a stream per tab would take one of the browser's six
//! connections per origin each, and stall the seventh tab's page load; a browser without
//! `SharedWorker` opens one per tab), swaps a changed stylesheet by loading the new one before
//! removing the old (no unstyled flash), reloads on anything else, and reloads once a lost
//! stream comes back (the server restarted and answers again).
//!
//! ```
//! use basehttp::live_reload::{LiveReload, EVENTS_PATH, SCRIPT_PATH};
//! use basehttp::{EventStreams, Request, Response, Server};
//! let streams = EventStreams::new(100);
//! let app = |_req: &mut Request| Response::html("<body>hi</body>");
//! let server = Server::bind("127.0.0.1:0")?
//!     .spawn(LiveReload::new(app, streams.clone()).injecting())?;
//! // Later, on a change: streams.send(Some("reload"), "/");
//! # server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::event_stream::EventStreams;
use crate::handler::{BodyPolicy, Handler};
use crate::request::{Request, RequestHead};
use crate::response::Response;

/// The script, at a reserved path of the site's own origin (a `Content-Security-Policy` that
/// allows `'self'` for `script-src` and `connect-src` allows it and its stream).
pub const SCRIPT_PATH: &str = "/__basehttp/reload.js";
/// The event stream the script listens on.
pub const EVENTS_PATH: &str = "/__basehttp/events";
/// What is put into each page.
pub const TAG: &str = "<script src=\"/__basehttp/reload.js\"></script>";
/// The most streams open at once (a `SharedWorker` holds one per browser); past it, `503`.
pub const MAX_STREAMS: usize = 1000;
/// The script itself.
pub const SCRIPT: &str = include_str!("live_reload.js");

/// A handler with live reload: [`SCRIPT_PATH`] and [`EVENTS_PATH`] are answered here, the
/// rest by the handler it wraps.
pub struct LiveReload<H> {
    inner: H,
    streams: EventStreams,
    inject: bool,
}

impl<H: Handler> LiveReload<H> {
    /// Wraps `inner`; its pages get the script only if it puts [`TAG`] in them itself (as
    /// [`StaticFilesBuilder::inject`](crate::StaticFilesBuilder::inject) does) or
    /// [`injecting`](Self::injecting) is set.
    pub fn new(inner: H, streams: EventStreams) -> LiveReload<H> {
        LiveReload {
            inner,
            streams,
            inject: false,
        }
    }

    /// Puts [`TAG`] into `inner`'s HTML responses to requests a browser navigates with
    /// (`Sec-Fetch-Dest: document`): `text/html`, not compressed, not begun early; a body in
    /// memory gets it before its last `</body>` (else `</head>`, else at the end; never twice)
    /// and its length fixed, a body streamed without a length gets it at its end, a body
    /// streamed with a length is left alone. (The handler should send such pages
    /// uncompressed: the Python package removes `Accept-Encoding` from the request.)
    pub fn injecting(mut self) -> LiveReload<H> {
        self.inject = true;
        self
    }
}

/// Whether `req` is a browser's navigation to a document (not a script's fetch).
pub fn is_navigation(head: &RequestHead<'_>) -> bool {
    head.header("sec-fetch-dest")
        .is_some_and(|d| d.eq_ignore_ascii_case("document"))
}

impl<H: Handler> Handler for LiveReload<H> {
    fn body_policy(&self, head: &RequestHead<'_>) -> BodyPolicy {
        self.inner.body_policy(head)
    }

    fn handle(&self, req: &mut Request<'_>) -> Response {
        match req.path() {
            SCRIPT_PATH => {
                return Response::text(SCRIPT)
                    .with_content_type("text/javascript; charset=utf-8")
                    .with_header("Cache-Control", "no-cache");
            }
            // A reconnect a third of a second after the server went away: back within the
            // second or two a restart takes.
            EVENTS_PATH => return self.streams.open("retry: 300\n\n"),
            _ => {}
        }
        let navigation = self.inject && is_navigation(req.head());
        let mut response = self.inner.handle(req);
        if navigation {
            response.inject_html(TAG);
        }
        response
    }
}
