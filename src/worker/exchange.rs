//! One exchange: a request whose whole head is buffered (and, received first, its body), and
//! its response. Its steps are typed states, each a function:
//!
//! ```text
//!   Handle ──► settle ──► Write ──► After::{KeepAlive, Drain, Write, Linger, Abort}
//! ```
//!
//! - [`handle`]: runs the handler (a panic costs a `500`), or takes the response a body policy
//!   refused the body with; then answers a failed body with its status;
//! - [`settle`]: decides what becomes of the body the handler left: echoed (from the store if
//!   it was received, else read as it is sent), drained after the response (the `Drain`
//!   phase), or a reason to close;
//! - [`write`]: encodes the head, sends the body, logs the access line and the latency; a body
//!   the client is slow to take goes on from the `Write` phase (`After::Write`).
//!
//! The request borrows the worker's buffer, so an exchange runs within one turn on one
//! worker; what it leaves for the connection is an [`Exchanged`].

use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::ctx::{Clock, Ctx, is_client_error, log_io_error};
use super::writer::{Output, SendError};
use crate::access_log;
use crate::body::{Body, Leftover, SocketSource};
use crate::close_reason::CloseReason;
use crate::connection::Streaming;
use crate::date;
use crate::http1::decode::Decoder;
use crate::http1::encode::{self, CONTINUE};
use crate::http1::head::{Head, Version};
use crate::http1::persistence::{Before, Persistence};
use crate::received::{Rest, StoreReader};
use crate::request::{EarlyTerms, Request, RequestHead};
use crate::response::{Payload, Response};
use crate::sending::{Sending, Then};
use crate::stats::WorkerState;
use crate::wire::Wire;

/// How the connection goes on after an exchange.
pub(super) enum After {
    /// Persistent: read the next request.
    KeepAlive,
    /// Persistent, once what the handler left of the body is drained with this decoder
    /// (boxed: it is rare, and `After` is returned for every request).
    Drain(Box<Decoder>),
    /// The response was sent and ends the connection: linger, then close.
    Linger(CloseReason),
    /// The connection is broken or cannot be trusted: close it now.
    Abort(CloseReason),
    /// The client is slow to take the response: send the rest from the `Write` phase (which
    /// knows how the connection goes on after it).
    Write(Box<Sending>),
    /// The response opened a server-sent event stream: the connection stays on it.
    Stream(Box<Streaming>),
}

/// What an exchange leaves for the connection.
pub(super) struct Exchanged {
    pub(super) after: After,
    /// Where the bytes after what the body used are, if the response went out (then the
    /// connection has answered one more request).
    pub(super) leftover: Option<Leftover>,
    /// When the response was done, in microseconds since the pool started.
    pub(super) done: u64,
}

impl Exchanged {
    fn ended(after: After) -> Exchanged {
        Exchanged {
            after,
            leftover: None,
            done: 0,
        }
    }
}

/// The connection an exchange runs on: borrowed in parts, since a streamed body borrows the
/// rest of it.
#[derive(Clone, Copy)]
pub(super) struct Link<'b> {
    /// The socket, shareable with an [`Early`](crate::Early).
    pub(super) wire: &'b Arc<Wire>,
    pub(super) peer: SocketAddr,
    /// Requests answered on the connection before this one.
    pub(super) served: u32,
}

/// What the handler step gave the next steps.
struct Handled<'b> {
    response: Response,
    body: Body<'b>,
    /// Whether the connection stays open after this response.
    persistence: Persistence,
    /// When the handler started and finished (µs since the pool started).
    started: u64,
    finished: u64,
}

/// The request's own facts the later steps need.
#[derive(Clone, Copy)]
struct Facts<'b> {
    /// The request line, for the access log.
    line: &'b [u8],
    version: Version,
    head_request: bool,
}

/// What becomes of the body after the handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Nothing is left of it (or the connection closes anyway).
    Done,
    /// The response echoes it as it is read from the connection.
    Echo,
    /// What is left is drained after the response.
    Drain,
}

/// The body an exchange runs with (small, so passing it costs the hot path nothing).
pub(super) enum Given<'b> {
    /// Read from the connection: the bytes after the head in `data`, then `spare` (the free
    /// buffer past them), then the socket. `refused`: the body policy's answer instead of the
    /// handler's; the body is then never read.
    Socket {
        spare: &'b mut [u8],
        max_body: u64,
        expect_continue: bool,
        refused: Option<Box<Response>>,
    },
    /// Received before the handler runs.
    Received(StoreReader),
}

/// Runs the exchange for `head`, whose bytes start `data`, with the body `given`.
pub(super) fn run<'b>(
    ctx: Ctx<'_>,
    output: &mut Output,
    clock: &mut Clock,
    link: Link<'b>,
    head: &Head<'_, 'b>,
    data: &'b [u8],
    given: Given<'b>,
) -> Exchanged {
    let facts = Facts {
        line: access_log::request_line(data),
        version: head.version,
        head_request: head.method == "HEAD",
    };
    let persistence = persistence(ctx, link, head);
    let config = &ctx.shared.config;
    let mut handled = match given {
        Given::Socket {
            spare,
            max_body,
            expect_continue,
            refused: None,
        } => {
            // (`100 Continue` is written straight to the socket when the handler first reads
            // the body: the worker's buffered answers went out first; see `head`.)
            let source = SocketSource::new(link.wire, &data[head.len..], spare, ctx.shared);
            let body = Body::new(source, head.info.body, max_body, expect_continue);
            let mut request =
                Request::new(RequestHead::new(head), link.peer, ctx.id, body, ctx.shared);
            allow_early(ctx, output, link, persistence, &mut request);
            handle(ctx, clock, request, facts.line, persistence)
        }
        Given::Socket {
            spare,
            max_body,
            refused: Some(response),
            ..
        } => {
            // Never read: the body policy answered instead of the handler.
            let source = SocketSource::new(link.wire, &data[head.len..], spare, ctx.shared);
            let now = ctx.shared.micros_since_start();
            Handled {
                response: *response,
                body: Body::new(source, head.info.body, max_body, false),
                persistence: persistence.overruled(CloseReason::BodyRefused),
                started: now,
                finished: now,
            }
        }
        Given::Received(reader) => {
            let body = Body::received(reader);
            let mut request =
                Request::new(RequestHead::new(head), link.peer, ctx.id, body, ctx.shared);
            allow_early(ctx, output, link, persistence, &mut request);
            handle(ctx, clock, request, facts.line, persistence)
        }
    };
    let _ = config;
    if let Some(e) = handled.body.error() {
        match e.status() {
            Some(status) => {
                log::debug!("{}: {e}", link.peer);
                handled.persistence = handled.persistence.overruled(CloseReason::BadBody);
                handled.response = Response::error(status);
            }
            None => {
                // The client stopped sending (or the connection failed) mid-body: no answer
                // to this request, but the answers to earlier pipelined ones, still buffered,
                // are sent before closing.
                ctx.slot
                    .bytes_in
                    .fetch_add(handled.body.bytes_in(), Relaxed);
                return Exchanged::ended(After::Linger(CloseReason::BodyIncomplete));
            }
        }
    }
    let settled = match settle(ctx, &mut handled, facts) {
        Ok(settled) => settled,
        Err(after) => return Exchanged::ended(after),
    };
    let (after, leftover, done) = write(ctx, output, clock, link.wire, handled, facts, settled);
    Exchanged {
        after,
        leftover,
        done,
    }
}

/// Lets the handler begin its response early ([`Request::early`]) when nothing waits to go
/// before it: answers to earlier pipelined requests still in the output buffer must lead.
fn allow_early<'r>(
    ctx: Ctx<'r>,
    output: &Output,
    link: Link<'r>,
    persistence: Persistence,
    request: &mut Request<'r>,
) {
    if output.buf.is_empty() {
        request.allow_early(EarlyTerms {
            wire: link.wire,
            config: &ctx.shared.config,
            persistence,
            cap: ctx.shared.shutdown_deadline(),
        });
    }
}

/// Whether the connection may stay open after this request, before the handler has a say.
fn persistence(ctx: Ctx<'_>, link: Link<'_>, head: &Head<'_, '_>) -> Persistence {
    let config = &ctx.shared.config;
    Persistence::before(Before {
        client_keep_alive: head.info.keep_alive,
        keep_alive_off: config.keep_alive.is_zero(),
        served: link.served,
        max_requests: config.max_requests_per_connection,
        shutting_down: ctx.shared.shutting_down(),
    })
}

/// `Handle`: runs the handler; a panic is answered `500` and closes the connection.
fn handle<'b>(
    ctx: Ctx<'_>,
    clock: &mut Clock,
    mut request: Request<'b>,
    line: &[u8],
    mut persistence: Persistence,
) -> Handled<'b> {
    let shared = ctx.shared;
    let started = shared.micros_since_start();
    ctx.slot.set_busy(WorkerState::Handling, started);
    shared.gate.poke();
    clock.turn_started.get_or_insert(started);
    if clock.expect_blocking {
        // The last handler on this worker blocked: give the place up now rather than after
        // `lend_after`, so blocking handlers do not queue for places; and let the access
        // lines already written go before this one blocks.
        shared.gate.lend(ctx.id);
        shared.access.flush(ctx.id);
    }
    let handled = catch_unwind(AssertUnwindSafe(|| shared.handler.handle(&mut request)));
    let finished = shared.micros_since_start();
    clock.turn_last = finished;
    clock.expect_blocking =
        finished.saturating_sub(started) >= shared.config.lend_after.as_micros() as u64;
    if request.lent_early() {
        // An `Early` kept past this request writes nothing more.
        request.wire_end_exchange();
    }
    let body = request.into_body();
    if body.continue_sent() {
        ctx.slot.writes.fetch_add(1, Relaxed);
        ctx.slot.bytes_out.fetch_add(CONTINUE.len() as u64, Relaxed);
    }
    let response = match handled {
        Ok(response) => response,
        Err(panic) => {
            log::error!(
                "handler panicked on \"{}\": {}",
                String::from_utf8_lossy(line),
                panic_message(&panic)
            );
            persistence = persistence.overruled(CloseReason::HandlerPanicked);
            Response::error(500)
        }
    };
    Handled {
        response,
        body,
        persistence,
        started,
        finished,
    }
}

/// Decides what becomes of the body the handler left: an echo (from the store when the body
/// was received first), a drain after the response, or a close. Returns the end of the
/// exchange when `100 Continue` cannot be sent.
fn settle(ctx: Ctx<'_>, handled: &mut Handled<'_>, facts: Facts<'_>) -> Result<Settled, After> {
    let config = &ctx.shared.config;
    let body = &mut handled.body;
    let echo = handled.response.echoes_body()
        && !facts.head_request
        && !encode::bodyless_status(handled.response.status())
        && body.error().is_none();
    if echo && body.is_received() {
        // Echoed from the store: an ordinary body the writer can send in pieces.
        handled.response.payload = match body.take_received_rest() {
            Some(Rest::Bytes(bytes)) => Payload::Bytes(bytes),
            Some(Rest::File { file, len }) => Payload::File { file, len },
            None => Payload::Empty,
        };
        return Ok(Settled::Done);
    }
    if echo {
        handled.response.payload = Payload::RequestBody {
            len: if body.is_complete() {
                Some(0)
            } else {
                body.remaining_length()
            },
        };
        // `100 Continue` must precede the final response (RFC 9110 §10.1.1).
        if body.continue_pending() && body.send_continue().is_err() {
            return Err(After::Abort(CloseReason::SocketError));
        }
        return Ok(Settled::Echo);
    }
    if body.is_complete()
        || body.is_received()
        || body.error().is_some()
        || handled.persistence.closes()
    {
        // (A failed body already decided the close; a closing connection's unread body is
        // discarded by the lingering close.)
        return Ok(Settled::Done);
    }
    // Only a rest of known length is drained: the response, which goes out first, must say
    // whether the connection stays open, and a chunked rest could outgrow `max_drain`.
    let drainable = !body.continue_pending()
        && body
            .remaining_length()
            .is_some_and(|n| n <= config.max_drain);
    if !drainable {
        handled.persistence = handled.persistence.close_if(true, CloseReason::BodyUnread);
    }
    Ok(if drainable {
        Settled::Drain
    } else {
        Settled::Done
    })
}

/// How the connection goes on after a response: a linger when it closes (`closes` says
/// why), a drain of what the handler left of a streamed body, else the next request.
fn then_of(closes: Option<CloseReason>, settled: Settled, body: &Body<'_>) -> Then {
    match closes {
        Some(reason) => Then::Linger(reason),
        None if settled == Settled::Drain => body.decoder().map_or(Then::ReadHead, Then::Drain),
        None => Then::ReadHead,
    }
}

/// The event stream a response opens, if it does: one goes on after its head and first bytes
/// (not after a HEAD, or for a status that has no body).
fn stream_of(payload: &Payload, framing: encode::Framing) -> Option<Box<Streaming>> {
    match payload {
        Payload::Stream(stream) if framing != encode::Framing::None => Some(Box::new(Streaming {
            stream: stream.clone(),
            unsent: Vec::new(),
            last_sent: Instant::now(),
            chunked: framing == encode::Framing::Chunked,
        })),
        _ => None,
    }
}

/// `Write`: checks the response, encodes its head into the output buffer and sends its body
/// (small bodies stay buffered, to leave with the next flush), then logs the access line.
/// Returns how the connection goes on, where the next request's bytes are, and when the
/// response was done.
fn write(
    ctx: Ctx<'_>,
    output: &mut Output,
    clock: &mut Clock,
    wire: &Wire,
    handled: Handled<'_>,
    facts: Facts<'_>,
    settled: Settled,
) -> (After, Option<Leftover>, u64) {
    let Handled {
        mut response,
        mut body,
        persistence,
        started,
        finished,
    } = handled;
    ctx.slot.set_busy(WorkerState::Writing, finished);
    let mut writer = output.writer(wire, ctx);
    let head = encode_head(
        ctx,
        writer.out(),
        &mut response,
        persistence,
        facts,
        finished,
    );
    // A handler's body reader runs here, after the handler returned: a panic in it is caught
    // like one in the handler. The head is already on its way, so the connection is closed
    // (the client sees a short body, never a corrupted next response).
    let movable = !response.pinned();
    let stream = stream_of(&response.payload, head.framing);
    let payload = response.payload;
    let sent = catch_unwind(AssertUnwindSafe(|| {
        if settled == Settled::Echo {
            writer
                .echo(&mut body, head.framing)
                .map_err(SendError::Failed)
        } else {
            writer.send_body(payload, head.framing, movable)
        }
    }))
    .unwrap_or_else(|panic| {
        Err(SendError::Failed(io::Error::other(format!(
            "the response body reader panicked: {}",
            panic_message(&panic)
        ))))
    });
    if let Err(SendError::Failed(_)) = sent {
        output.buf.clear();
    }
    let timings = account(ctx, output, clock, started, finished);
    let done = timings.done;
    let then = then_of(head.persistence.reason(), settled, &body);
    let size = match sent {
        Ok(size) => size + head.sent_early,
        Err(SendError::Blocked(mut sending)) => {
            // The rest goes out from the `Write` phase, which logs the line when it is done.
            sending.then = then;
            sending.body_sent += head.sent_early;
            sending.entry = Some(access_log::Entry {
                line: facts.line.to_vec(),
                status: head.status,
                timings: timings.log,
            });
            ctx.slot.bytes_in.fetch_add(body.bytes_in(), Relaxed);
            return (After::Write(sending), Some(body.leftover()), done);
        }
        Err(SendError::Failed(e)) => {
            log_io_error("sending a response", &e);
            let reason = if is_client_error(&e) && e.kind() != io::ErrorKind::UnexpectedEof {
                CloseReason::SocketError
            } else {
                CloseReason::ResponseBodyFailed
            };
            let (line, status, early) = (facts.line, head.status, head.sent_early);
            log_access(ctx, line, status, early, timings.log, Some(reason), done);
            return (After::Abort(reason), None, done);
        }
    };
    log_access(ctx, facts.line, head.status, size, timings.log, None, done);
    ctx.slot.bytes_in.fetch_add(body.bytes_in(), Relaxed);
    let leftover = body.leftover();
    if let Some(streaming) = stream {
        return (After::Stream(streaming), Some(leftover), done);
    }
    if output.buf.is_empty() {
        ctx.slot.set_state(WorkerState::Reading);
    }
    // Otherwise the worker stays `Writing` until the buffered responses are flushed: a
    // client slow to take them holds a worker blocked in a write, and the run gate must lend
    // its place.
    let after = match then {
        Then::Linger(reason) => After::Linger(reason),
        Then::Drain(decoder) => After::Drain(Box::new(decoder)),
        Then::ReadHead | Then::Receive(_) => After::KeepAlive,
    };
    (after, Some(leftover), done)
}

/// What encoding a response's head decided.
struct HeadOut {
    framing: encode::Framing,
    persistence: Persistence,
    status: u16,
    /// Body bytes an `Early` sent before the handler returned.
    sent_early: u64,
}

/// Checks the handler's response (an invalid one becomes a `500`), settles whether the
/// connection stays open, and encodes the head into `out`, unless an `Early` sent it already.
fn encode_head(
    ctx: Ctx<'_>,
    out: &mut Vec<u8>,
    response: &mut Response,
    persistence: Persistence,
    facts: Facts<'_>,
    finished: u64,
) -> HeadOut {
    let shared = ctx.shared;
    // A response begun early (`Early`): its head is out; the rest of its body follows it.
    let early = response.early.take();
    if early.is_none()
        && let Err(what) = response.validate()
    {
        log::error!(
            "handler returned an invalid response for \"{}\" ({what}); sending 500",
            String::from_utf8_lossy(facts.line)
        );
        *response = Response::error(500);
    }
    let persistence = persistence.response(response.wants_close(), shared.shutting_down());
    let (encoded, status, sent_early) = match &early {
        Some(started) => {
            ctx.slot.writes.fetch_add(1, Relaxed);
            ctx.slot.bytes_out.fetch_add(started.wire, Relaxed);
            let encoded = encode::Encoded {
                framing: started.framing,
                close: started.close,
            };
            (encoded, started.status, started.body)
        }
        None => {
            let encoded = encode::write_head_with(
                out,
                &response.head(),
                facts.version,
                facts.head_request,
                persistence.closes(),
                &shared.keep_alive_header,
                &date::http_at(finished),
            );
            (encoded, response.status(), 0)
        }
    };
    HeadOut {
        framing: encoded.framing,
        persistence: persistence.framing(encoded.close),
        status,
        sent_early,
    }
}

/// A response's times, for the access line and the latency histogram.
struct Times {
    log: access_log::Timings,
    /// When the response was done, in microseconds since the pool started.
    done: u64,
}

/// Counts a response served and records its latency.
fn account(ctx: Ctx<'_>, output: &Output, clock: &mut Clock, started: u64, finished: u64) -> Times {
    ctx.slot.served.fetch_add(1, Relaxed);
    // A response still in the buffer leaves with the next flush, so its clock stops where
    // the handler's did; reading the clock again would only add the serialisation (and cost
    // a clock read per pipelined request).
    let done = if output.buf.is_empty() {
        ctx.shared.micros_since_start()
    } else {
        finished
    };
    let log = access_log::Timings {
        worker: ctx.id,
        queued: clock.queued,
        took: done.saturating_sub(started),
    };
    // Later requests in this turn did not wait in the queue.
    clock.queued = 0;
    ctx.slot.latency.record(done, log.queued + log.took);
    Times { log, done }
}

/// Logs an answered request's access line, with its timings if the configuration asks; `at`
/// (microseconds since the pool started) is its timestamp.
pub(super) fn log_access(
    ctx: Ctx<'_>,
    request: &[u8],
    status: u16,
    size: u64,
    timings: access_log::Timings,
    cut: Option<CloseReason>,
    at: u64,
) {
    let line = access_log::Line {
        request,
        status,
        size,
        timings: ctx.shared.config.log_timings.then_some(timings),
        cut,
        at,
    };
    ctx.shared.access.write(ctx.id, &line);
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}
