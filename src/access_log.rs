//! The access log: one line per response at info level under the target `basehttp::access`,
//! in Django runserver's shape:
//!
//! ```text
//! [22/Nov/2026 04:34:37] "GET /hello HTTP/1.1" 200 13
//! ```
//!
//! With [`Config::log_timings`](crate::Config::log_timings) each line also names the worker
//! and where the time went:
//!
//! ```text
//! [22/Nov/2026 04:34:37] "GET /sleep?ms=50 HTTP/1.1" 200 5 worker=3 queued=0.2ms took=50.3ms
//! ```
//!
//! The request line is written with control characters and non-ASCII bytes escaped (`\x0a`),
//! so a client cannot forge log lines. Nothing is formatted unless the target is enabled.

use std::fmt;

use crate::close_reason::CloseReason;
use crate::date;

/// The log target of access lines.
pub const TARGET: &str = "basehttp::access";

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

/// The first line of a head (without its line ending), as far as it goes.
pub(crate) fn request_line(head: &[u8]) -> &[u8] {
    let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = &head[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A request line longer than this is cut in the log; the status says why.
    &line[..line.len().min(1024)]
}

/// Logs one access line, if `basehttp::access` is enabled at info level.
pub(crate) fn log(line: &[u8], status: u16, size: u64) {
    if log::log_enabled!(target: TARGET, log::Level::Info) {
        let when = date::now_log();
        log::info!(
            target: TARGET,
            "[{}] \"{}\" {} {}",
            String::from_utf8_lossy(&when),
            Escaped(line),
            status,
            size
        );
    }
}

/// A duration in microseconds shown in milliseconds: two decimals below 1 ms, one above.
struct Millis(u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 as f64 / 1000.0;
        if self.0 < 1000 {
            write!(f, "{ms:.2}ms")
        } else {
            write!(f, "{ms:.1}ms")
        }
    }
}

/// Where a request's time went, for [`log_timed`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub(crate) worker: usize,
    /// Microseconds the connection waited in the queue.
    pub(crate) queued: u64,
    /// Microseconds from the handler's start to the response written.
    pub(crate) took: u64,
}

/// Logs one access line followed by the worker and the timings.
pub(crate) fn log_timed(line: &[u8], status: u16, size: u64, t: Timings) {
    if log::log_enabled!(target: TARGET, log::Level::Info) {
        let when = date::now_log();
        log::info!(
            target: TARGET,
            "[{}] \"{}\" {} {} worker={} queued={} took={}",
            String::from_utf8_lossy(&when),
            Escaped(line),
            status,
            size,
            t.worker,
            Millis(t.queued),
            Millis(t.took)
        );
    }
}

/// An access line kept until its response is all out (a response that waited in the queue
/// for a slow client): its size is then the body bytes actually sent.
pub(crate) struct Entry {
    pub(crate) line: Vec<u8>,
    pub(crate) status: u16,
    pub(crate) timings: Timings,
}

/// Logs a kept access line with `size` body bytes sent, timed if `timed`; a response cut
/// short says why: `"GET /big HTTP/1.1" 200 81920 cut=too_slow`.
pub(crate) fn log_entry(timed: bool, entry: &Entry, size: u64, cut: Option<CloseReason>) {
    if !log::log_enabled!(target: TARGET, log::Level::Info) {
        return;
    }
    let when = date::now_log();
    let when = String::from_utf8_lossy(&when);
    let line = Escaped(&entry.line);
    let cut = Cut(cut);
    let t = entry.timings;
    if timed {
        log::info!(
            target: TARGET,
            "[{when}] \"{line}\" {} {size}{cut} worker={} queued={} took={}",
            entry.status,
            t.worker,
            Millis(t.queued),
            Millis(t.took)
        );
    } else {
        log::info!(target: TARGET, "[{when}] \"{line}\" {} {size}{cut}", entry.status);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let shown = Escaped(b"GET /a\r\n[01/Jan/2026] \"x\" HTTP/1.1\x1b[31m").to_string();
        assert_eq!(
            shown,
            "GET /a\\x0d\\x0a[01/Jan/2026] \\\"x\\\" HTTP/1.1\\x1b[31m"
        );
    }

    #[test]
    fn cut_responses_say_why() {
        assert_eq!(Cut(Some(CloseReason::TooSlow)).to_string(), " cut=too_slow");
        assert_eq!(Cut(None).to_string(), "");
    }

    #[test]
    fn millis() {
        assert_eq!(Millis(200).to_string(), "0.20ms");
        assert_eq!(Millis(7).to_string(), "0.01ms");
        assert_eq!(Millis(50_312).to_string(), "50.3ms");
    }

    #[test]
    fn request_line_stops_at_line_end() {
        assert_eq!(
            request_line(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            b"GET / HTTP/1.1"
        );
        assert_eq!(request_line(b"GET /partial"), b"GET /partial");
    }
}
