//! A closed-loop HTTP/1.1 load generator: `basehttp load`, and the client of the benchmark
//! harness (which includes this file with `#[path]`, so it is not part of the library's API).
//!
//! Like `wrk`, each client thread drives its share of the connections from one `epoll` loop
//! (through `mio`): every connection has one batch of `pipeline` requests in flight, and the
//! next batch is written as soon as the last response of the previous one is read. A latency
//! is the time from a batch's write to the end of each of its responses. Meant for loopback
//! targets: the run is bounded by its duration, and a response that takes longer than
//! [`READ_TIMEOUT`] counts as an error.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// How long a connection may wait for a response before counting an error and reconnecting.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    /// The `Host` header and the path, e.g. `127.0.0.1:8000` and `/hello`.
    pub host: String,
    pub path: String,
    pub connections: usize,
    pub duration: Duration,
    /// Requests sent per write on each connection.
    pub pipeline: usize,
    /// A new connection for every request (`Connection: close`).
    pub close: bool,
    pub threads: usize,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub requests: u64,
    pub elapsed: Duration,
    pub connect_errors: u64,
    pub io_errors: u64,
    pub bad_status: u64,
    /// Latencies in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    pub connections: usize,
    /// Connections (client slots) that got at least one response.
    pub connections_served: usize,
}

impl LoadReport {
    pub fn errors(&self) -> u64 {
        self.connect_errors + self.io_errors + self.bad_status
    }

    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) of latency, in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    /// Share of connections that got at least one response, in percent.
    pub fn fairness(&self) -> f64 {
        100.0 * self.connections_served as f64 / self.connections.max(1) as f64
    }
}

/// Parses `http://host:port/path` into a spec with default settings.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported, got \"{url}\""))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_string()
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve \"{authority}\": {e}"))?
        .next()
        .ok_or_else(|| format!("\"{authority}\" resolves to no address"))?;
    Ok((addr, authority.to_string(), path.to_string()))
}

/// Runs the load and gathers the results of every thread.
pub fn run(spec: &LoadSpec) -> LoadReport {
    let threads = spec.threads.clamp(1, spec.connections.max(1));
    let mut request = format!("GET {} HTTP/1.1\r\nHost: {}\r\n", spec.path, spec.host);
    if spec.close {
        request.push_str("Connection: close\r\n");
    }
    request.push_str("\r\n");
    let per_batch = if spec.close { 1 } else { spec.pipeline.max(1) };
    let batch = request.repeat(per_batch).into_bytes();
    let started = Instant::now();
    let deadline = started + spec.duration;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let share = spec.connections / threads + usize::from(t < spec.connections % threads);
            let driver = Driver {
                addr: spec.addr,
                batch: batch.clone(),
                per_batch,
                close: spec.close,
            };
            thread::spawn(move || driver.drive(share, deadline))
        })
        .collect();
    let mut report = LoadReport {
        connections: spec.connections,
        ..LoadReport::default()
    };
    for h in handles {
        let part = h.join().unwrap_or_default();
        report.requests += part.requests;
        report.connect_errors += part.connect_errors;
        report.io_errors += part.io_errors;
        report.bad_status += part.bad_status;
        report.connections_served += part.connections_served;
        report.latencies_us.extend(part.latencies_us);
    }
    report.elapsed = started.elapsed();
    report.latencies_us.sort_unstable();
    report
}

/// Where a client connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a non-blocking connect to finish.
    Connecting,
    /// Writing the batch, from this offset.
    Writing(usize),
    /// Waiting for this many responses.
    Reading(usize),
    /// Failed to connect; retried at the next sweep.
    Down,
}

/// What a connection needs after it has gone as far as it can.
enum Next {
    /// Wait for the next readiness event.
    Wait,
    /// The server closed it after a response: open a new one now.
    Reconnect,
}

/// One client connection slot: it reconnects after a close or an error.
struct Slot {
    stream: Option<TcpStream>,
    phase: Phase,
    buf: Vec<u8>,
    filled: usize,
    sent_at: Instant,
    served: bool,
}

/// What one thread needs to drive its connections.
struct Driver {
    addr: SocketAddr,
    batch: Vec<u8>,
    per_batch: usize,
    close: bool,
}

impl Driver {
    fn drive(&self, conns: usize, deadline: Instant) -> LoadReport {
        let mut report = LoadReport::default();
        let Ok(mut poll) = Poll::new() else {
            report.connect_errors += 1;
            return report;
        };
        let mut events = Events::with_capacity(1024);
        let mut slots: Vec<Slot> = (0..conns)
            .map(|_| Slot {
                stream: None,
                phase: Phase::Down,
                buf: vec![0; 16 * 1024],
                filled: 0,
                sent_at: Instant::now(),
                served: false,
            })
            .collect();
        for (i, slot) in slots.iter_mut().enumerate() {
            self.connect(&poll, slot, Token(i), &mut report);
        }
        let mut last_sweep = Instant::now();
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            if poll.poll(&mut events, Some(wait)).is_err() {
                continue;
            }
            for event in events.iter() {
                let Some(slot) = slots.get_mut(event.token().0) else {
                    continue;
                };
                match self.advance(slot, &mut report) {
                    Ok(Next::Wait) => {}
                    Ok(Next::Reconnect) => {
                        self.reset(&poll, slot);
                        self.connect(&poll, slot, event.token(), &mut report);
                    }
                    Err(e) => {
                        if slot.phase == Phase::Connecting {
                            report.connect_errors += 1;
                        } else {
                            report.io_errors += 1;
                        }
                        // Reconnected at the next sweep, so a refused port is not hammered.
                        let _ = e;
                        self.reset(&poll, slot);
                    }
                }
            }
            // Reconnect what is down, and give up on responses that never came.
            if last_sweep.elapsed() >= Duration::from_millis(100) {
                last_sweep = Instant::now();
                for (i, slot) in slots.iter_mut().enumerate() {
                    let stuck = matches!(slot.phase, Phase::Reading(_) | Phase::Connecting)
                        && slot.sent_at.elapsed() > READ_TIMEOUT;
                    if stuck {
                        report.io_errors += 1;
                        self.reset(&poll, slot);
                    }
                    if slot.phase == Phase::Down {
                        self.connect(&poll, slot, Token(i), &mut report);
                    }
                }
            }
        }
        report.connections_served = slots.iter().filter(|s| s.served).count();
        report
    }

    fn connect(&self, poll: &Poll, slot: &mut Slot, token: Token, report: &mut LoadReport) {
        let stream = TcpStream::connect(self.addr).and_then(|mut s| {
            s.set_nodelay(true)?;
            poll.registry()
                .register(&mut s, token, Interest::READABLE | Interest::WRITABLE)?;
            Ok(s)
        });
        match stream {
            Ok(s) => {
                slot.stream = Some(s);
                slot.phase = Phase::Connecting;
                slot.sent_at = Instant::now();
                slot.filled = 0;
            }
            Err(_) => {
                report.connect_errors += 1;
                slot.phase = Phase::Down;
            }
        }
    }

    fn reset(&self, poll: &Poll, slot: &mut Slot) {
        if let Some(mut s) = slot.stream.take() {
            let _ = poll.registry().deregister(&mut s);
        }
        slot.phase = Phase::Down;
        slot.filled = 0;
    }

    /// Moves a connection on as far as it can go without blocking.
    fn advance(&self, slot: &mut Slot, report: &mut LoadReport) -> io::Result<Next> {
        loop {
            let Some(stream) = slot.stream.as_mut() else {
                return Ok(Next::Wait);
            };
            match slot.phase {
                Phase::Down => return Ok(Next::Wait),
                Phase::Connecting => {
                    if let Some(e) = stream.take_error()? {
                        return Err(e);
                    }
                    match stream.peer_addr() {
                        Ok(_) => {
                            slot.phase = Phase::Writing(0);
                            slot.sent_at = Instant::now();
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            return Ok(Next::Wait);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Phase::Writing(at) => match stream.write(&self.batch[at..]) {
                    Ok(n) if at + n == self.batch.len() => {
                        slot.phase = Phase::Reading(self.per_batch);
                    }
                    Ok(n) => slot.phase = Phase::Writing(at + n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Wait),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                },
                Phase::Reading(left) => {
                    if let Some((len, status, keep)) = parse_response(&slot.buf[..slot.filled])? {
                        slot.buf.copy_within(len..slot.filled, 0);
                        slot.filled -= len;
                        report.requests += 1;
                        let us = slot.sent_at.elapsed().as_micros();
                        report
                            .latencies_us
                            .push(u32::try_from(us).unwrap_or(u32::MAX));
                        slot.served = true;
                        if !(200..400).contains(&status) {
                            report.bad_status += 1;
                        }
                        if !keep || self.close {
                            // The server closes: the next request goes on a new connection.
                            return Ok(Next::Reconnect);
                        }
                        slot.phase = if left == 1 {
                            slot.sent_at = Instant::now();
                            Phase::Writing(0)
                        } else {
                            Phase::Reading(left - 1)
                        };
                        continue;
                    }
                    if slot.filled == slot.buf.len() {
                        let bigger = slot.buf.len() * 2;
                        slot.buf.resize(bigger, 0);
                    }
                    match stream.read(&mut slot.buf[slot.filled..]) {
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => slot.filled += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Wait),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
}

/// Parses one complete response at the start of `buf`: its length, status, and whether the
/// connection stays open. `None` if it is not complete yet. Bodies must be delimited by
/// `Content-Length` or chunked.
fn parse_response(buf: &[u8]) -> io::Result<Option<(usize, u16, bool)>> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = &buf[..head_end];
    let status = parse_status(head)?;
    let keep = !header_is(head, b"connection", b"close");
    let body_len = if status == 204 || status == 304 || status < 200 {
        Some(0)
    } else {
        content_length(head)
    };
    let total = match body_len {
        Some(len) => head_end + 4 + len,
        None if header_is(head, b"transfer-encoding", b"chunked") => {
            match chunked_end(&buf[head_end + 4..]) {
                Some(n) => head_end + 4 + n,
                None => return Ok(None),
            }
        }
        None => return Err(io::Error::other("response without a length")),
    };
    Ok((total <= buf.len()).then_some((total, status, keep)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_status(head: &[u8]) -> io::Result<u16> {
    let bad = || io::Error::other("bad status line");
    let code = head.get(9..12).ok_or_else(bad)?;
    std::str::from_utf8(code)
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)
}

fn header_value<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name)
            .then(|| line[colon + 1..].trim_ascii())
    })
}

fn header_is(head: &[u8], name: &[u8], value: &[u8]) -> bool {
    header_value(head, name).is_some_and(|v| v.eq_ignore_ascii_case(value))
}

fn content_length(head: &[u8]) -> Option<usize> {
    std::str::from_utf8(header_value(head, b"content-length")?)
        .ok()?
        .parse()
        .ok()
}

/// Where a complete chunked body ends in `body`, if it is complete (trailers not expected).
fn chunked_end(body: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line_end = at + find(&body[at..], b"\r\n")?;
        let size_text = std::str::from_utf8(&body[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            return (body.len() >= at + 2).then_some(at + 2);
        }
        at += size + 2;
        if at > body.len() {
            return None;
        }
    }
}

/// The report as `wrk` users expect to read it.
pub fn describe(spec: &LoadSpec, r: &LoadReport) -> String {
    let mode = if spec.close {
        "a new connection per request".to_string()
    } else if spec.pipeline > 1 {
        format!("keep-alive, {} pipelined per write", spec.pipeline)
    } else {
        "keep-alive".to_string()
    };
    format!(
        "Running {:.0}s test @ http://{}{}\n  {} thread(s), {} connections, {mode}\n\
         Requests/sec: {:.1}\n\
         Latency: p50 {:.2}ms  p90 {:.2}ms  p99 {:.2}ms  max {:.2}ms\n\
         Requests: {} in {:.2}s; errors: {} (connect {}, read/write {}, status {})\n\
         Connections served: {}/{} ({:.0}%)",
        spec.duration.as_secs_f64(),
        spec.host,
        spec.path,
        spec.threads,
        spec.connections,
        r.rate(),
        r.percentile_ms(0.5),
        r.percentile_ms(0.9),
        r.percentile_ms(0.99),
        r.percentile_ms(1.0),
        r.requests,
        r.elapsed.as_secs_f64(),
        r.errors(),
        r.connect_errors,
        r.io_errors,
        r.bad_status,
        r.connections_served,
        r.connections,
        r.fairness(),
    )
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // unused when the bench harness includes this file
    use super::*;

    #[test]
    fn urls() {
        let (addr, host, path) = parse_url("http://127.0.0.1:8000/hello?x=1").unwrap();
        assert_eq!(addr.port(), 8000);
        assert_eq!(host, "127.0.0.1:8000");
        assert_eq!(path, "/hello?x=1");
        assert_eq!(parse_url("http://[::1]:81").unwrap().2, "/");
        assert!(parse_url("https://x/").is_err());
    }

    #[test]
    fn chunked_bodies_are_delimited() {
        assert_eq!(chunked_end(b"5\r\nhello\r\n0\r\n\r\nnext"), Some(15));
        assert_eq!(chunked_end(b"5\r\nhel"), None);
        assert_eq!(chunked_end(b"0\r\n"), None);
    }

    #[test]
    fn percentiles() {
        let r = LoadReport {
            latencies_us: (1..=100).map(|v| v * 1000).collect(),
            requests: 100,
            elapsed: Duration::from_secs(1),
            ..LoadReport::default()
        };
        assert_eq!(r.percentile_ms(0.5), 51.0);
        assert_eq!(r.percentile_ms(0.99), 99.0);
        assert_eq!(r.rate(), 100.0);
    }
}
