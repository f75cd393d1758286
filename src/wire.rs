//! A connection's socket: shared by the connection and an [`Early`](crate::Early) through an
//! `Arc`, and the one place that owns the socket's modes.
//!
//! Every accepted socket is made non-blocking on its first turn ([`Wire::configure`]) and stays
//! so for its life: a worker reads and writes what the socket takes at once, and a connection
//! that would wait on its client waits in the poller (`crate::poller`), not in a worker. The
//! few waits a handler chooses (reading a streamed body, `Early::write`, a body pinned to its
//! worker, an echo) go through [`Wire::wait`]: one `poll(2)` on this socket with a precise
//! deadline, where a socket timeout (`SO_RCVTIMEO`) would be rounded up to the kernel's tick and
//! would have to be set, and restored, on the socket itself. No send or receive timeout is
//! ever set.
//!
//! This module knows nothing of HTTP.

use std::io::{self, Write};
use std::net::TcpStream;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Instant;

use crate::pacing::Pacing;

/// What a wait on the socket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// Bytes to read (or the client's close).
    Read,
    /// Room to write.
    Write,
}

/// A connection's socket.
pub(crate) struct Wire {
    stream: TcpStream,
    /// Bumped at the end of each exchange that lent an [`Early`](crate::Early).
    exchange: AtomicU32,
}

impl Wire {
    pub(crate) fn new(stream: TcpStream) -> Arc<Wire> {
        Arc::new(Wire {
            stream,
            exchange: AtomicU32::new(0),
        })
    }

    /// Sets the socket's modes for its life: non-blocking, and no Nagle delay (responses are
    /// coalesced by the worker, so Nagle's algorithm would only add latency).
    pub(crate) fn configure(&self) -> io::Result<()> {
        self.stream.set_nonblocking(true)?;
        self.stream.set_nodelay(true)
    }

    /// The descriptor, for registering the socket with the poller.
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.stream.as_raw_fd()
    }

    /// The count of exchanges that lent an [`Early`](crate::Early).
    pub(crate) fn exchange(&self) -> u32 {
        self.exchange.load(Relaxed)
    }

    /// Ends the exchange an [`Early`](crate::Early) was lent for: it can write no more.
    pub(crate) fn end_exchange(&self) {
        self.exchange.fetch_add(1, Relaxed);
    }

    /// Waits until the socket is ready for `ready` or `deadline` passes: `Ok(true)` if it is
    /// ready (or in error: the next read or write tells), `Ok(false)` at the deadline.
    pub(crate) fn wait(&self, ready: Ready, deadline: Instant) -> io::Result<bool> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let flags = match ready {
            Ready::Read => PollFlags::IN,
            Ready::Write => PollFlags::OUT,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let timeout = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            });
            let mut fds = [PollFd::new(&self.stream, flags)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => {}
                Ok(_) => return Ok(true),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes all of `bytes`, waiting for room as `pacing` allows (no progress for its
    /// timeout, or slower than its rate past its grace, is `TimedOut`), and no later than
    /// `cap` if given. `sent` is told of every write and the bytes it took.
    pub(crate) fn write_all_paced(
        &self,
        mut bytes: &[u8],
        pacing: &mut Pacing,
        cap: Option<Instant>,
        mut sent: impl FnMut(usize),
    ) -> io::Result<()> {
        while !bytes.is_empty() {
            match (&self.stream).write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    sent(n);
                    bytes = &bytes[n..];
                    pacing.moved(n as u64, Instant::now());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sent(0);
                    let now = Instant::now();
                    pacing.blocked(now);
                    if let Some(stall) = pacing.stalled(now) {
                        return Err(stall.to_io());
                    }
                    // Waiting now: the pacing has a deadline.
                    let paced = pacing.deadline().unwrap_or(now);
                    let deadline = cap.map_or(paced, |c| c.min(paced));
                    if !self.wait(Ready::Write, deadline)? && cap.is_some_and(|c| c <= paced) {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "shutting down"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Deref for Wire {
    type Target = TcpStream;

    fn deref(&self) -> &TcpStream {
        &self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    /// A connected pair: the server's side as a configured wire, and the client's socket.
    pub(crate) fn pair() -> (Arc<Wire>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let wire = Wire::new(listener.accept().unwrap().0);
        wire.configure().unwrap();
        (wire, client)
    }

    #[test]
    fn a_wait_for_bytes_ends_at_the_deadline_or_when_they_come() {
        let (wire, mut client) = pair();
        let mut buf = [0u8; 16];
        // Non-blocking: nothing there yet.
        let e = (&wire.stream).read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let started = Instant::now();
        let ready = wire.wait(Ready::Read, started + Duration::from_millis(30));
        assert!(!ready.unwrap());
        assert!(
            started.elapsed() >= Duration::from_millis(30),
            "never early"
        );
        client.write_all(b"hi").unwrap();
        let far = Instant::now() + Duration::from_secs(5);
        assert!(wire.wait(Ready::Read, far).unwrap());
        let n = (&wire.stream).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi");
    }

    #[test]
    fn a_write_to_a_client_that_never_reads_times_out() {
        let (wire, _client) = pair();
        let mut pacing = Pacing::new(Duration::from_millis(50), 0, Duration::ZERO);
        let big = vec![0u8; 64 << 20];
        let mut written = 0;
        let e = wire
            .write_all_paced(&big, &mut pacing, None, |n| written += n)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(written > 0 && written < big.len(), "{written}");
    }

    #[test]
    fn wait_reports_room_to_write_at_once() {
        let (wire, _client) = pair();
        let started = Instant::now();
        assert!(
            wire.wait(Ready::Write, started + Duration::from_secs(5))
                .unwrap()
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
