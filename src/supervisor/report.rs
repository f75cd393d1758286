//! The lines a worker and its supervisor exchange over their link (a Unix stream socket), one
//! message a line:
//!
//! | from | line | meaning |
//! |---|---|---|
//! | worker | `ready` | serving: the application is loaded and the listener accepts |
//! | worker | `beat pid=.. served=.. ...` | the heartbeat, once a second, with a [`Report`] |
//! | worker | `all?` | asks for every worker's last report |
//! | supervisor | `all <report> \| <report> ...` | the answer |
//! | supervisor | `stop` | stop gracefully (as on `SIGTERM`) |
//! | supervisor | `event KIND DATA` | a live-reload event for the worker's event streams |
//!
//! A link that ends (end of file) means the other side has gone: a worker then stops by
//! itself, and the supervisor waits for its exit.

/// One process's figures, sent with every heartbeat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The worker process.
    pub pid: u32,
    /// Requests answered since it started.
    pub served: u64,
    /// Worker threads.
    pub threads: usize,
    /// Threads handling a request or writing a response now.
    pub busy: usize,
    /// Connections waiting on their clients in the poller.
    pub parked: usize,
    /// Open connections.
    pub open: usize,
    /// Seconds its threads spent waiting for Python's GIL in all (0 outside Python).
    pub gil_wait: f64,
}

impl Report {
    /// The report as the `k=v` words of a line (no newline).
    ///
    /// ```
    /// use basehttp::supervisor::report::Report;
    /// let r = Report { pid: 7, served: 3, ..Report::default() };
    /// assert_eq!(Report::parse(&r.words()), Some(r));
    /// ```
    pub fn words(&self) -> String {
        format!(
            "pid={} served={} threads={} busy={} parked={} open={} gil_wait={:.6}",
            self.pid, self.served, self.threads, self.busy, self.parked, self.open, self.gil_wait
        )
    }

    /// Reads what [`words`](Self::words) wrote; `None` if a word is malformed or `pid` is
    /// missing. Unknown words are skipped (a newer worker may say more).
    pub fn parse(words: &str) -> Option<Report> {
        let mut r = Report::default();
        for word in words.split_ascii_whitespace() {
            let (key, value) = word.split_once('=')?;
            match key {
                "pid" => r.pid = value.parse().ok()?,
                "served" => r.served = value.parse().ok()?,
                "threads" => r.threads = value.parse().ok()?,
                "busy" => r.busy = value.parse().ok()?,
                "parked" => r.parked = value.parse().ok()?,
                "open" => r.open = value.parse().ok()?,
                "gil_wait" => r.gil_wait = value.parse().ok()?,
                _ => {}
            }
        }
        (r.pid != 0).then_some(r)
    }
}

/// The supervisor's answer to `all?`: every worker's last report, in one line.
pub fn all_line(reports: &[Report]) -> String {
    let words: Vec<String> = reports.iter().map(Report::words).collect();
    format!("all {}", words.join(" | "))
}

/// Reads an `all` line's reports (the text after `all `).
///
/// ```
/// use basehttp::supervisor::report::{all_line, parse_all, Report};
/// let two = [Report { pid: 1, ..Report::default() }, Report { pid: 2, served: 9, ..Report::default() }];
/// let line = all_line(&two);
/// assert_eq!(parse_all(line.strip_prefix("all ").unwrap()), two);
/// ```
pub fn parse_all(rest: &str) -> Vec<Report> {
    rest.split(" | ").filter_map(Report::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_and_bad_words_are_refused() {
        let r = Report {
            pid: 4242,
            served: u64::MAX,
            threads: 8,
            busy: 3,
            parked: 100,
            open: 104,
            gil_wait: 1.25,
        };
        assert_eq!(Report::parse(&r.words()), Some(r.clone()));
        assert_eq!(Report::parse("pid=1 served=x"), None);
        assert_eq!(Report::parse("served=1"), None);
        assert_eq!(Report::parse("pid=1 busy"), None);
        assert_eq!(
            Report::parse("pid=1 future=yes served=2"),
            Some(Report {
                pid: 1,
                served: 2,
                ..Report::default()
            })
        );
        assert_eq!(parse_all(""), []);
        assert_eq!(
            parse_all(
                all_line(std::slice::from_ref(&r))
                    .strip_prefix("all ")
                    .unwrap()
            ),
            [r]
        );
    }

    #[test]
    fn parsing_any_text_never_panics() {
        // A small in-process fuzz: every prefix and byte flip of a real line.
        let line = Report {
            pid: 12,
            served: 34,
            ..Report::default()
        }
        .words();
        let bytes = line.as_bytes();
        for cut in 0..bytes.len() {
            let _ = Report::parse(&line[..cut]);
            for flip in [b' ', b'=', b'|', b'x', b'9', b'-'] {
                let mut changed = bytes.to_vec();
                changed[cut] = flip;
                let _ = parse_all(&String::from_utf8_lossy(&changed));
            }
        }
    }
}
