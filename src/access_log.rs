//! The access log: one line per response, in Django runserver's shape:
//!
//! ```text
//! [22/Nov/2026 04:34:37] "GET /hello HTTP/1.1" 200 13
//! ```
//!
//! With [`Config::log_timings`](crate::Config::log_timings) each line also names the worker
//! and where the time went; a response cut short says why:
//!
//! ```text
//! [22/Nov/2026 04:34:37] "GET /sleep?ms=50 HTTP/1.1" 200 5 worker=3 queued=0.2ms took=50.3ms
//! [22/Nov/2026 04:34:38] "GET /big.iso HTTP/1.1" 200 81920 cut=too_slow
//! ```
//!
//! Lines go where [`AccessLog`] says: through the `log` crate (the library's default: info
//! level, target `basehttp::access`), or written by the server itself to standard error, the
//! fast way (the binary's): each worker formats its lines into its own buffer, and the buffer
//! leaves in whole lines, one `write` of at most `PIPE_BUF` bytes at a time (so lines from
//! different workers never interleave). A line is buffered before its response is sent;
//! right after the responses go to their sockets, at most once a millisecond per worker, the
//! worker writes out every worker's buffered lines, its own last (so requests a client makes
//! one after the other are logged in that order, even when the worker that answered the first
//! is preempted before its own write); and also when a buffer fills, before a handler
//! expected to block, and from a flusher thread every [`FLUSH_EVERY`] (so a line is at most
//! that late, and lines of concurrent requests may come up to that much out of order); a
//! graceful stop flushes every buffer. The timestamp is
//! the worker's own reading of the clock for the response (see `date::log_at`): a line reads
//! no clock.
//!
//! A request the server refuses itself (a malformed or oversized head, a head cut short, a
//! bad body received first) is told as runserver tells it, the rule it broke first:
//!
//! ```text
//! [07/Dec/2026 10:00:00] code 400, message malformed request line
//! [07/Dec/2026 10:00:00] "GARBAGE" 400 40
//! ```
//!
//! The request line is written with control characters and non-ASCII bytes escaped (`\x0a`),
//! so a client cannot forge log lines. Nothing is formatted unless the log is on.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::Duration;

use crate::close_reason::CloseReason;
use crate::date;
use crate::http1::encode::status_digits;

/// The log target of access lines.
pub const TARGET: &str = "basehttp::access";

/// Where access lines go.
///
/// ```
/// let mut config = basehttp::Config::default();
/// assert!(matches!(config.access_log, basehttp::AccessLog::Log));
/// config.access_log = basehttp::AccessLog::Stderr { color: false };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessLog {
    /// Through the `log` crate, at info level under the target [`TARGET`], for the logger the
    /// program installed (and filtered as it says, e.g. by `RUST_LOG`). The default.
    #[default]
    Log,
    /// Written by the server to standard error in whole lines from per-worker buffers: a
    /// line costs a few hundred instructions and no lock but its worker's own (a flush also
    /// takes the locks of the other buffers that hold lines), and leaves at most
    /// [`FLUSH_EVERY`] later. `color` colors each line by status with runserver's own
    /// escapes (Django's `termcolors` palette): 1xx bold, 2xx plain, 304 cyan, other 3xx green, 404 yellow,
    /// other 4xx bold red, 5xx bold magenta.
    Stderr {
        /// Color by status with ANSI escapes (for a terminal).
        color: bool,
    },
    /// No access lines.
    Off,
}

/// The longest a fast-written line waits in its worker's buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// The flusher sleeps while no line comes (a line wakes it), but looks this often anyway, so
/// a wake-up it missed costs at most this.
const IDLE_FLUSH: Duration = Duration::from_secs(1);
/// A buffer is written once it holds this much: `PIPE_BUF`, the largest write a pipe takes
/// whole, so lines written by different workers to one pipe never mix.
const PIPE_BUF: usize = 4096;
/// The request line is cut to this many bytes before escaping (the status says why).
const MAX_LINE: usize = 1024;

/// Bytes shown with control characters, quotes, backslashes and non-ASCII escaped.
struct Escaped<'a>(&'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            match b {
                b'"' | b'\\' => write!(f, "\\{}", b as char)?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

/// Bytes shown as they are in a logged request line: printable ASCII but `"` and `\`.
static PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    table
};

/// Appends `bytes` escaped as [`Escaped`] shows them.
fn put_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let plain = bytes
        .iter()
        .position(|&b| !PLAIN[b as usize])
        .unwrap_or(bytes.len());
    out.extend_from_slice(&bytes[..plain]);
    let start = out.len();
    for &b in &bytes[plain..] {
        if out.len() - start >= MAX_LINE {
            break; // a line stays well under PIPE_BUF, however escaped
        }
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            _ if PLAIN[b as usize] => out.push(b),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
        }
    }
}

/// The first line of a head (without its line ending), as far as it goes.
pub(crate) fn request_line(head: &[u8]) -> &[u8] {
    let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = &head[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A request line longer than this is cut in the log; the status says why.
    &line[..line.len().min(MAX_LINE)]
}

/// A duration in microseconds shown in milliseconds: two decimals below 1 ms, one above.
struct Millis(u64);

impl Millis {
    /// Appends the value, rounded, in integer arithmetic (a float's formatting would cost
    /// more than the rest of the line).
    fn put(&self, out: &mut Tail) {
        if self.0 < 995 {
            let hundredths = (self.0 + 5) / 10;
            out.bytes(b"0.");
            out.decimal_places(hundredths, 2);
        } else {
            let tenths = (self.0 + 50) / 100;
            out.decimal(tenths / 10);
            out.bytes(b".");
            out.decimal_places(tenths % 10, 1);
        }
        out.bytes(b"ms");
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Tail::new();
        self.put(&mut out);
        f.write_str(&String::from_utf8_lossy(out.as_slice()))
    }
}

/// Room for the end of a line after its request line (status, size, cut, timings, color
/// reset): every part has a bounded length, well within it.
const TAIL: usize = 192;

/// The end of an access line, put together on the stack and appended in one copy (each
/// `Vec::push` would check the vector's capacity again). Writes past `TAIL` are dropped,
/// which the parts' bounds rule out.
struct Tail {
    buf: [u8; TAIL],
    len: usize,
}

impl Tail {
    fn new() -> Tail {
        Tail {
            buf: [0; TAIL],
            len: 0,
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn bytes(&mut self, bytes: &[u8]) {
        if let Some(room) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// `n` in decimal.
    fn decimal(&mut self, n: u64) {
        self.decimal_places(n, n.checked_ilog10().map_or(1, |d| d as usize + 1));
    }

    /// The last `places` decimal digits of `n`, leading zeros included.
    fn decimal_places(&mut self, mut n: u64, places: usize) {
        let Some(room) = self.buf.get_mut(self.len..self.len + places) else {
            return;
        };
        for digit in room.iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.len += places;
    }
}

/// Where a request's time went, for `Config::log_timings`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub(crate) worker: usize,
    /// Microseconds the connection waited in the run queue.
    pub(crate) queued: u64,
    /// Microseconds from the handler's start to the response written.
    pub(crate) took: u64,
}

/// An access line kept until its response is all out (a response that waited in the poller
/// for a slow client): its size is then the body bytes actually sent.
pub(crate) struct Entry {
    pub(crate) line: Vec<u8>,
    pub(crate) status: u16,
    pub(crate) timings: Timings,
}

/// One access line's parts.
pub(crate) struct Line<'a> {
    pub(crate) request: &'a [u8],
    pub(crate) status: u16,
    /// Body bytes sent.
    pub(crate) size: u64,
    /// Shown when the configuration asks for timings.
    pub(crate) timings: Option<Timings>,
    /// Why the response was cut short, if it was.
    pub(crate) cut: Option<CloseReason>,
    /// When the response was done, in the worker's microseconds since the pool started: the
    /// line's timestamp.
    pub(crate) at: u64,
}

/// ` cut=<reason>` for a response cut short, nothing otherwise.
struct Cut(Option<CloseReason>);

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(reason) => write!(f, " cut={}", reason.name()),
            None => Ok(()),
        }
    }
}

/// The timings' suffix, or nothing.
struct Timed(Option<Timings>);

impl fmt::Display for Timed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => write!(
                f,
                " worker={} queued={} took={}",
                t.worker,
                Millis(t.queued),
                Millis(t.took)
            ),
            None => Ok(()),
        }
    }
}

/// The escape that opens a colored access line's message, runserver's byte for byte.
///
/// Django's `ServerFormatter` (django/utils/log.py) styles the message after `[date] ` with
/// the roles of its default `termcolors` palette, `PALETTES['dark']`
/// (django/utils/termcolors.py), and `termcolors.colorize` writes `ESC [ <codes> m`, the
/// codes joined by `;` (foreground first, then options), then the text, then [`SGR_RESET`].
/// A role with no codes (`HTTP_SUCCESS`) still gets the empty `ESC [ m` and the reset.
fn sgr_of(status: u16) -> &'static [u8] {
    match status {
        // HTTP_SUCCESS: {} (checked first, as Django does: the common case).
        200..=299 => b"\x1b[m",
        // HTTP_INFO: {'opts': ('bold',)}
        100..=199 => b"\x1b[1m",
        // HTTP_NOT_MODIFIED: {'fg': 'cyan'}
        304 => b"\x1b[36m",
        // HTTP_REDIRECT: {'fg': 'green'}
        300..=399 => b"\x1b[32m",
        // HTTP_NOT_FOUND: {'fg': 'yellow'}
        404 => b"\x1b[33m",
        // HTTP_BAD_REQUEST: {'fg': 'red', 'opts': ('bold',)}
        400..=499 => b"\x1b[31;1m",
        // HTTP_SERVER_ERROR: {'fg': 'magenta', 'opts': ('bold',)}, for "any 5XX, or any
        // other status code".
        _ => b"\x1b[35;1m",
    }
}

/// What `termcolors.colorize` ends a styled text with (its `RESET`, `0`).
const SGR_RESET: &[u8] = b"\x1b[0m";

/// A worker's buffer of fast-written lines.
#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
}

impl Buffer {
    /// Writes the buffer out to `out` in whole lines, each `write` at most `PIPE_BUF` bytes.
    fn write_to(&mut self, out: &mut impl Write) {
        let mut rest = &self.bytes[..];
        while !rest.is_empty() {
            let cut = if rest.len() <= PIPE_BUF {
                rest.len()
            } else {
                // The last line end within PIPE_BUF (every line is shorter than it).
                rest[..PIPE_BUF]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(PIPE_BUF, |i| i + 1)
            };
            if out.write_all(&rest[..cut]).is_err() {
                break;
            }
            rest = &rest[cut..];
        }
        self.bytes.clear();
    }

    /// Writes the buffer out to standard error (locked for the whole buffer, after the
    /// buffer's own lock: the one order the two are taken in).
    fn flush(&mut self) {
        self.write_to(&mut std::io::stderr().lock());
    }
}

/// A worker's buffer, and whether it holds lines: read without the lock, so a flush passes
/// the empty buffers of idle workers (most of them, with 256 workers) at the cost of a load.
#[derive(Default)]
struct Slot {
    has_lines: AtomicBool,
    buffer: Mutex<Buffer>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The server's access log: the mode, and each worker's buffer for the fast writer.
pub(crate) struct Sink {
    mode: AccessLog,
    buffers: Box<[Slot]>,
    /// The flusher thread, once it runs; it sleeps while `idle`, and stops once `stopped`.
    flusher: OnceLock<Thread>,
    idle: AtomicBool,
    stopped: AtomicBool,
}

impl Sink {
    pub(crate) fn new(mode: AccessLog, workers: usize) -> Sink {
        let buffers = match mode {
            AccessLog::Stderr { .. } => (0..workers).map(|_| Slot::default()).collect(),
            _ => Box::default(),
        };
        Sink {
            mode,
            buffers,
            flusher: OnceLock::new(),
            idle: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }

    /// True if lines are written by the server itself (a flusher thread is wanted).
    pub(crate) fn buffered(&self) -> bool {
        matches!(self.mode, AccessLog::Stderr { .. })
    }

    /// Writes one access line for `worker`.
    pub(crate) fn write(&self, worker: usize, line: &Line<'_>) {
        self.write_after(worker, None, line);
    }

    /// Writes the access line of a request the server refused itself, after runserver's
    /// `code 400, message <why>` line naming the rule it broke (what `http.server`'s
    /// `send_error` logs before its access line).
    pub(crate) fn write_refused(&self, worker: usize, why: &str, line: &Line<'_>) {
        self.write_after(worker, Some(why), line);
    }

    /// Writes `line`, after the refusal line for `refused` if there is one (the fast writer
    /// puts both in its buffer under one lock, so no other line comes between them).
    fn write_after(&self, worker: usize, refused: Option<&str>, line: &Line<'_>) {
        match self.mode {
            AccessLog::Off => {}
            AccessLog::Log => {
                if log::log_enabled!(target: TARGET, log::Level::Info) {
                    let when = date::log_at(line.at);
                    if let Some(why) = refused {
                        log::info!(
                            target: TARGET,
                            "[{}] code {}, message {why}",
                            String::from_utf8_lossy(&when),
                            line.status
                        );
                    }
                    log::info!(
                        target: TARGET,
                        "[{}] \"{}\" {} {}{}{}",
                        String::from_utf8_lossy(&when),
                        Escaped(line.request),
                        line.status,
                        line.size,
                        Cut(line.cut),
                        Timed(line.timings)
                    );
                }
            }
            AccessLog::Stderr { color } => {
                let Some(slot) = self.buffers.get(worker) else {
                    return;
                };
                let mut buffer = slot.lock();
                if let Some(why) = refused {
                    format_refusal(&mut buffer.bytes, line, why);
                }
                format_line(&mut buffer.bytes, line, color);
                // Written before the next line could push it past one pipe-atomic write.
                if buffer.bytes.len() > PIPE_BUF - 2 * MAX_LINE {
                    buffer.flush();
                } else if !slot.has_lines.load(Relaxed) {
                    // Release: a flush that sees it sees the line (its response is sent after).
                    slot.has_lines.store(true, Release);
                }
                // Read with the buffer locked: a flusher that found every buffer empty
                // before going idle said so first (see `run_flusher`).
                if self.idle.load(Relaxed) && self.idle.swap(false, Relaxed) {
                    drop(buffer);
                    if let Some(flusher) = self.flusher.get() {
                        flusher.unpark();
                    }
                }
            }
        }
    }

    /// Writes out the buffered lines of every worker, `worker`'s last (after its responses
    /// went out, and before a handler expected to block).
    ///
    /// Every worker's, not only its own: a line is buffered before the response it tells of
    /// is sent, so a line another worker buffered for a response the client has already read
    /// goes before this worker's newest one. Requests a client makes one after the other are
    /// logged in that order even when the worker that answered the first one is preempted
    /// between its response and its log write (as on a loaded machine).
    pub(crate) fn flush(&self, worker: usize) {
        self.write_out(Some(worker), &mut std::io::stderr());
    }

    /// Writes out every worker's buffered lines (the flusher's tick, and a graceful stop):
    /// true if there were any.
    pub(crate) fn flush_all(&self) -> bool {
        self.write_out(None, &mut std::io::stderr())
    }

    /// Writes every buffer's lines to `out`, `last`'s after the others': true if there were
    /// any. `out` is not `stderr().lock()` held across: a buffer's lock is always taken
    /// before the stream's (as `write_after` does when a buffer fills), never after.
    fn write_out(&self, last: Option<usize>, out: &mut impl Write) -> bool {
        let others = self
            .buffers
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != last);
        let last = last.and_then(|i| self.buffers.get(i));
        let mut any = false;
        for slot in others.map(|(_, slot)| slot).chain(last) {
            if !slot.has_lines.load(Acquire) {
                continue;
            }
            let mut buffer = slot.lock();
            slot.has_lines.store(false, Relaxed);
            if !buffer.bytes.is_empty() {
                buffer.write_to(out);
                any = true;
            }
        }
        any
    }

    /// The flusher thread: writes every worker's lines out each [`FLUSH_EVERY`] while lines
    /// come, and sleeps while none do (so an idle server is not woken 50 times a second),
    /// until [`stop_flusher`](Self::stop_flusher).
    pub(crate) fn run_flusher(&self) {
        let _ = self.flusher.set(std::thread::current());
        while !self.stopped.load(Relaxed) {
            std::thread::sleep(FLUSH_EVERY);
            if self.flush_all() {
                continue;
            }
            self.idle.store(true, Relaxed);
            // Looked at once more after saying so: a line written before the flag was set
            // woke nobody.
            if self.flush_all() {
                self.idle.store(false, Relaxed);
                continue;
            }
            std::thread::park_timeout(IDLE_FLUSH);
            self.idle.store(false, Relaxed);
        }
    }

    /// Ends [`run_flusher`](Self::run_flusher) at once.
    pub(crate) fn stop_flusher(&self) {
        self.stopped.store(true, Relaxed);
        if let Some(flusher) = self.flusher.get() {
            flusher.unpark();
        }
    }
}

/// True if `bytes` are shown as they are: printable ASCII but `"` and `\\` (what `PLAIN`
/// says, in a form the compiler checks many bytes at a time).
fn is_plain(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |plain, &b| {
        plain & (b.wrapping_sub(0x20) < 0x5f) & (b != b'"') & (b != b'\\')
    })
}

/// Appends runserver's line for a request the server refused itself:
/// `[07/Dec/2026 10:00:00] code 400, message malformed request line`. Never colored:
/// runserver colors only the access line (its refusal line carries no `status_code`).
fn format_refusal(out: &mut Vec<u8>, line: &Line<'_>, why: &str) {
    put_stamp(out, line.at);
    out.extend_from_slice(b"code ");
    out.extend_from_slice(&status_digits(line.status));
    out.extend_from_slice(b", message ");
    out.extend_from_slice(why.as_bytes());
    out.push(b'\n');
}

/// Appends `[dd/Mon/yyyy hh:mm:ss] ` for `at` (microseconds since the pool started).
fn put_stamp(out: &mut Vec<u8>, at: u64) {
    let mut stamp = *b"[dd/Mon/yyyy hh:mm:ss] ";
    stamp[1..21].copy_from_slice(&date::log_at(at));
    out.extend_from_slice(&stamp);
}

/// Appends one access line to `out`, colored by status if asked: three copies for a plain
/// request line (the timestamp's part, the request line, the rest).
fn format_line(out: &mut Vec<u8>, line: &Line<'_>, color: bool) {
    out.reserve(line.request.len() + 64);
    put_stamp(out, line.at);
    // As runserver: the timestamp plain, the message (from the quote on) colored.
    if color {
        out.extend_from_slice(sgr_of(line.status));
    }
    out.push(b'"');
    if is_plain(line.request) {
        out.extend_from_slice(line.request);
    } else {
        put_escaped(out, line.request);
    }
    let mut tail = Tail::new();
    tail.bytes(b"\" ");
    tail.bytes(&status_digits(line.status));
    tail.bytes(b" ");
    tail.decimal(line.size);
    if let Some(reason) = line.cut {
        tail.bytes(b" cut=");
        tail.bytes(reason.name().as_bytes());
    }
    if let Some(t) = line.timings {
        tail.bytes(b" worker=");
        tail.decimal(t.worker as u64);
        tail.bytes(b" queued=");
        Millis(t.queued).put(&mut tail);
        tail.bytes(b" took=");
        Millis(t.took).put(&mut tail);
    }
    if color {
        tail.bytes(SGR_RESET);
    }
    tail.bytes(b"\n");
    out.extend_from_slice(tail.as_slice());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let raw = b"GET /a\r\n[01/Jan/2026] \"x\" HTTP/1.1\x1b[31m";
        let shown = Escaped(raw).to_string();
        assert_eq!(
            shown,
            "GET /a\\x0d\\x0a[01/Jan/2026] \\\"x\\\" HTTP/1.1\\x1b[31m"
        );
        let mut out = Vec::new();
        put_escaped(&mut out, raw);
        assert_eq!(out, shown.as_bytes(), "the fast writer escapes alike");
    }

    #[test]
    fn a_flush_writes_the_other_workers_lines_first() {
        let sink = Sink::new(AccessLog::Stderr { color: false }, 3);
        let at = |request: &'static [u8]| Line {
            request,
            status: 200,
            size: 2,
            timings: None,
            cut: None,
            at: 0,
        };
        sink.write(2, &at(b"GET /first HTTP/1.1"));
        sink.write(0, &at(b"GET /second HTTP/1.1"));
        let mut out = Vec::new();
        sink.write_out(Some(0), &mut out);
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].ends_with("\"GET /first HTTP/1.1\" 200 2"), "{out}");
        assert!(
            lines[1].ends_with("\"GET /second HTTP/1.1\" 200 2"),
            "{out}"
        );
        let mut again = Vec::new();
        sink.write_out(None, &mut again);
        assert!(again.is_empty(), "every buffer was emptied");
    }

    #[test]
    fn cut_responses_say_why() {
        assert_eq!(Cut(Some(CloseReason::TooSlow)).to_string(), " cut=too_slow");
        assert_eq!(Cut(None).to_string(), "");
    }

    #[test]
    fn plain_request_lines_are_told_apart_as_the_table_does() {
        for b in 0..=255u8 {
            assert_eq!(is_plain(&[b]), PLAIN[b as usize], "{b:#x}");
            assert_eq!(is_plain(&[b'G', b, b'T']), PLAIN[b as usize], "{b:#x}");
        }
        assert!(is_plain(b"GET /hello?a=1&b=%22 HTTP/1.1"));
        assert!(is_plain(b""));
    }

    #[test]
    fn tails_write_decimals_and_stay_within_their_room() {
        let mut tail = Tail::new();
        for n in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
            tail.decimal(n);
            tail.bytes(b",");
        }
        assert_eq!(
            tail.as_slice(),
            b"0,7,10,99,100,12345,18446744073709551615,"
        );
        let mut tail = Tail::new();
        for _ in 0..TAIL + 5 {
            tail.bytes(b"x");
        }
        tail.decimal(123);
        assert_eq!(tail.as_slice().len(), TAIL);
    }

    #[test]
    fn millis() {
        assert_eq!(Millis(200).to_string(), "0.20ms");
        assert_eq!(Millis(7).to_string(), "0.01ms");
        assert_eq!(Millis(0).to_string(), "0.00ms");
        assert_eq!(Millis(994).to_string(), "0.99ms");
        assert_eq!(Millis(995).to_string(), "1.0ms");
        assert_eq!(Millis(50_312).to_string(), "50.3ms");
        assert_eq!(Millis(50_350).to_string(), "50.4ms");
        assert_eq!(Millis(12_345_678).to_string(), "12345.7ms");
    }

    #[test]
    fn request_line_stops_at_line_end() {
        assert_eq!(
            request_line(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            b"GET / HTTP/1.1"
        );
        assert_eq!(request_line(b"GET /partial"), b"GET /partial");
    }

    #[test]
    fn fast_lines_have_runserver_shape_and_color() {
        let timings = Timings {
            worker: 3,
            queued: 200,
            took: 50_312,
        };
        let line = |status, timings, cut| Line {
            request: b"GET /a HTTP/1.1",
            status,
            size: 13,
            timings,
            cut,
            at: 0,
        };
        let mut out = Vec::new();
        format_line(&mut out, &line(200, None, None), false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with('['), "{text}");
        assert!(text.ends_with("] \"GET /a HTTP/1.1\" 200 13\n"), "{text}");
        let mut out = Vec::new();
        format_line(
            &mut out,
            &line(404, Some(timings), Some(CloseReason::TooSlow)),
            true,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with('['), "{text}");
        assert!(
            text.ends_with(
                "] \x1b[33m\"GET /a HTTP/1.1\" 404 13 cut=too_slow worker=3 queued=0.20ms \
                 took=50.3ms\x1b[0m\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn refusals_are_told_as_runserver_tells_them() {
        let line = Line {
            request: b"GARBAGE",
            status: 400,
            size: 40,
            timings: None,
            cut: None,
            at: 0,
        };
        let mut out = Vec::new();
        format_refusal(&mut out, &line, "malformed request line");
        format_line(&mut out, &line, true);
        let text = String::from_utf8(out).unwrap();
        let (first, second) = text.split_once('\n').unwrap();
        let stamp = &first[..first.find("] ").unwrap() + 2];
        assert_eq!(
            first,
            format!("{stamp}code 400, message malformed request line")
        );
        assert_eq!(
            second,
            format!("{stamp}\x1b[31;1m\"GARBAGE\" 400 40\x1b[0m\n")
        );
    }

    /// Each status class colored exactly as runserver colors it. The expected bytes are what
    /// Django 5.2's `ServerFormatter` (django/utils/log.py, with the `termcolors.colorize` of
    /// django/utils/termcolors.py and its `PALETTES['dark']`) printed for these lines:
    /// `[07/Dec/2026 10:00:00] \x1b[31;1m"GET / HTTP/1.1" 400 13\x1b[0m`.
    #[test]
    fn colors_are_runservers_byte_for_byte() {
        let django = [
            (101, "\x1b[1m"),    // HTTP_INFO
            (200, "\x1b[m"),     // HTTP_SUCCESS
            (206, "\x1b[m"),     // HTTP_SUCCESS
            (304, "\x1b[36m"),   // HTTP_NOT_MODIFIED
            (301, "\x1b[32m"),   // HTTP_REDIRECT
            (302, "\x1b[32m"),   // HTTP_REDIRECT
            (404, "\x1b[33m"),   // HTTP_NOT_FOUND
            (400, "\x1b[31;1m"), // HTTP_BAD_REQUEST
            (405, "\x1b[31;1m"), // HTTP_BAD_REQUEST
            (500, "\x1b[35;1m"), // HTTP_SERVER_ERROR
            (503, "\x1b[35;1m"), // HTTP_SERVER_ERROR
        ];
        for (status, sgr) in django {
            let line = Line {
                request: b"GET / HTTP/1.1",
                status,
                size: 13,
                timings: None,
                cut: None,
                at: 0,
            };
            let mut out = Vec::new();
            format_line(&mut out, &line, true);
            let text = String::from_utf8(out).unwrap();
            let stamp = &text[..text.find("] ").unwrap() + 2];
            assert_eq!(
                text,
                format!("{stamp}{sgr}\"GET / HTTP/1.1\" {status} 13\x1b[0m\n"),
                "{status}"
            );
        }
    }
}
