//! What every part of a worker's turn is given: which worker it is and which pool it serves
//! ([`Ctx`]), the timings a turn keeps ([`Clock`]), and how I/O errors are told apart (the
//! client's doing, or the server's).

use std::io;

use crate::http1::decode::BodyError;
use crate::shared::Shared;
use crate::stats::WorkerSlot;

/// What the worker is and which pool it serves: passed by value to the parts of a turn that
/// run while the worker's buffers are borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'s> {
    pub(crate) id: usize,
    pub(crate) shared: &'s Shared,
    pub(crate) slot: &'s WorkerSlot,
}

/// The timings a turn keeps without reading the clock more than it must.
#[derive(Default)]
pub(crate) struct Clock {
    /// The last handler ran longer than `lend_after`: expect this one to block too.
    pub(crate) expect_blocking: bool,
    /// When the first handler of this turn started, and when the last one finished (µs since
    /// the pool started): the turn's length without reading the clock again.
    pub(crate) turn_started: Option<u64>,
    pub(crate) turn_last: u64,
    /// Microseconds the current connection waited in the run queue before this turn; charged
    /// to the first request answered in the turn (see `Config::log_timings`).
    pub(crate) queued: u64,
}

/// Logs an I/O error: what the client caused goes to the debug level, anything else is an
/// error. The client's doing: broken pipes, resets and timeouts (as Django's
/// `is_broken_pipe_error`), and a request body that failed (malformed chunking, too large,
/// timed out, cut short) wherever it surfaced, also as the error of a response that streams
/// that body back (the demo's `/echo`).
pub(crate) fn log_io_error(what: &str, e: &io::Error) {
    if is_client_error(e) || BodyError::of(e).is_some() {
        log::debug!("{what}: {e}");
    } else {
        log::error!("{what}: {e}");
    }
}

/// True for the I/O errors a client causes by going away or being slow.
pub(crate) fn is_client_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    )
}
