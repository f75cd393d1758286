//! The poller: one thread that holds every connection waiting on its client, so no worker
//! does. A worker whose connection would wait (idle between requests, a head or a body not yet
//! arrived, a response the client is slow to take, a drain, a linger) parks it here with what
//! it waits for and until when; the poller puts it back on the run queue when its socket is
//! ready or its deadline passes, and a worker carries on. This is the shape of Apache httpd's
//! event MPM and gunicorn's gthread worker: threads run requests, one poller waits.
//!
//! Readiness comes from `mio` (epoll on Linux, kqueue on macOS and the BSDs). mio registers
//! edge-triggered and has no one-shot mode, so a connection is registered once, at its first
//! park, and re-registered (`EPOLL_CTL_MOD`) at every park after: that re-arms it and reports
//! readiness that arrived while a worker held it, so no edge is lost between a worker's last
//! `WouldBlock` and the park. The re-registration happens under the table's lock, so the
//! poller cannot hand the connection to another worker (which might close it, and its
//! descriptor be reused) before it is done. Events that come for a connection a worker holds
//! are ignored; a connection is deregistered before it closes (an `Early` may keep its socket
//! open through its `Arc`).
//!
//! Deadlines are timers in a binary heap, at most one live entry per slot: a later deadline
//! (a kept-alive connection parked again) arms nothing, and the earlier entry, when it fires,
//! arms the real one. A busy connection costs a heap entry per keep-alive period, not per
//! request; a slot reused by a new connection gets a new generation, so a stale entry or event
//! never reaches it.
//!
//! This module owns the thread, the table and the registrations; it reads no socket and
//! knows nothing of HTTP: what a connection waits for comes from `Connection::waiting`.

// Connections travel boxed, as on the run queue: moving one is a pointer copy.
#![allow(clippy::vec_box)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::config::Config;
use crate::connection::{Connection, Job, Parked, Ticket, Waiting};
use crate::wire::Ready;

/// The waker's token; every other token is a slot and its generation.
const WAKER: Token = Token(usize::MAX);
/// Events taken per wait.
const EVENTS: usize = 1024;
/// A pause after a failed wait (the poll descriptor cannot fail but for a bug), so the thread
/// never spins.
const FAILED_WAIT_PAUSE: Duration = Duration::from_millis(10);

/// A connection's place in the table, held from its first park to its close.
struct Slot {
    generation: u32,
    /// Registered with the poll descriptor (else free).
    used: bool,
    /// The connection, while it is parked here (else a worker holds it).
    conn: Option<Box<Connection>>,
    /// What it waits for, while parked.
    waiting: Option<Waiting>,
    /// This slot's live timer in the heap, if any.
    armed: Option<Instant>,
}

/// The parked connections and their timers.
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// (deadline, slot, generation), soonest first.
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Parked connections by what they wait for.
    counts: [usize; Parked::COUNT],
    /// The poller thread is in its wait, until `wakes_at` (`None`: no timer).
    asleep: bool,
    wakes_at: Option<Instant>,
    /// When the server began shutting down, once it has.
    shutdown: Option<Instant>,
    /// The poller thread is to close what is left and end.
    stop: bool,
}

/// The poller's shared half: the workers park and forget connections through it.
pub(crate) struct Poller {
    registry: Registry,
    waker: Waker,
    table: Mutex<Table>,
    run_queue: Sender<Job>,
}

impl Poller {
    /// A poller feeding `run_queue`, and the poll descriptor for its thread ([`run`]).
    pub(crate) fn new(run_queue: Sender<Job>) -> io::Result<(Poller, Poll)> {
        let poll = Poll::new()?;
        let poller = Poller {
            registry: poll.registry().try_clone()?,
            waker: Waker::new(poll.registry(), WAKER)?,
            table: Mutex::new(Table {
                slots: Vec::new(),
                free: Vec::new(),
                timers: BinaryHeap::new(),
                counts: [0; Parked::COUNT],
                asleep: false,
                wakes_at: None,
                shutdown: None,
                stop: false,
            }),
            run_queue,
        };
        Ok((poller, poll))
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parks `conn` until its socket is ready as `waiting` says or its deadline passes; gives
    /// it back, with the error, if its socket cannot be registered.
    pub(crate) fn park(
        &self,
        mut conn: Box<Connection>,
        waiting: Waiting,
    ) -> Result<(), (Box<Connection>, io::Error)> {
        let interest = match waiting.ready {
            Ready::Read => Interest::READABLE,
            Ready::Write => Interest::WRITABLE,
        };
        let fd = conn.wire.raw_fd();
        let mut table = self.lock();
        let ticket = match conn.ticket {
            Some(ticket) => ticket,
            None => table.allocate(),
        };
        let registered = if conn.ticket.is_some() {
            self.registry
                .reregister(&mut SourceFd(&fd), token(ticket), interest)
        } else {
            self.registry
                .register(&mut SourceFd(&fd), token(ticket), interest)
        };
        if let Err(e) = registered {
            if conn.ticket.is_none() {
                table.release(ticket);
            }
            return Err((conn, e));
        }
        conn.ticket = Some(ticket);
        table.counts[waiting.kind.index()] += 1;
        let slot = &mut table.slots[ticket.slot as usize];
        slot.conn = Some(conn);
        slot.waiting = Some(waiting);
        let wake = table.arm(ticket, waiting.deadline);
        drop(table);
        if wake {
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Forgets a connection about to close: deregistered, its slot free for reuse.
    pub(crate) fn forget(&self, conn: &mut Connection) {
        if let Some(ticket) = conn.ticket.take() {
            let fd = conn.wire.raw_fd();
            let mut table = self.lock();
            let _ = self.registry.deregister(&mut SourceFd(&fd));
            table.release(ticket);
        }
    }

    /// Puts the connection registered under `ticket` back on the run queue now, if it is
    /// parked, as if its socket had become ready: for a server event (a message to send to a
    /// client that waits), not the client's doing. False if it is not parked (a worker holds
    /// it, or it has closed).
    // Tested below; the server-sent event streams of live reload (issue 21) are its caller.
    #[allow(dead_code)]
    pub(crate) fn notify(&self, ticket: Ticket) -> bool {
        let conn = self.lock().take(ticket);
        match conn {
            Some(mut conn) => {
                conn.queued_at = Instant::now();
                self.run_queue.send(Job::Conn(conn)).is_ok()
            }
            None => false,
        }
    }

    /// Parked connections by what they wait for (indexed by [`Parked::index`]).
    pub(crate) fn counts(&self) -> [usize; Parked::COUNT] {
        self.lock().counts
    }

    /// The server is shutting down since `at`: every parked connection's deadline is
    /// shortened as [`Connection::waiting`] says.
    pub(crate) fn begin_shutdown(&self, at: Instant) {
        self.lock().shutdown = Some(at);
        let _ = self.waker.wake();
    }

    /// Ends the poller thread: what is still parked is handed back for closing.
    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        let _ = self.waker.wake();
    }
}

impl Table {
    fn allocate(&mut self) -> Ticket {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    used: false,
                    conn: None,
                    waiting: None,
                    armed: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let s = &mut self.slots[slot as usize];
        s.used = true;
        Ticket {
            slot,
            generation: s.generation,
        }
    }

    fn release(&mut self, ticket: Ticket) {
        let s = &mut self.slots[ticket.slot as usize];
        if s.used && s.generation == ticket.generation {
            s.used = false;
            s.generation = s.generation.wrapping_add(1);
            s.armed = None;
            s.waiting = None;
            self.free.push(ticket.slot);
        }
    }

    /// Takes the connection parked under `ticket`, if it is.
    fn take(&mut self, ticket: Ticket) -> Option<Box<Connection>> {
        let s = self.slots.get_mut(ticket.slot as usize)?;
        if s.generation != ticket.generation {
            return None;
        }
        let conn = s.conn.take()?;
        if let Some(waiting) = s.waiting.take() {
            self.counts[waiting.kind.index()] -= 1;
        }
        Some(conn)
    }

    /// Makes sure a timer fires for `ticket` at or before `deadline`: true if the poller
    /// thread sleeps past it and must be woken.
    fn arm(&mut self, ticket: Ticket, deadline: Instant) -> bool {
        let s = &mut self.slots[ticket.slot as usize];
        if s.armed.is_some_and(|armed| armed <= deadline) {
            return false;
        }
        s.armed = Some(deadline);
        self.timers
            .push(Reverse((deadline, ticket.slot, ticket.generation)));
        let wake = self.asleep && self.wakes_at.is_none_or(|at| deadline < at);
        if wake {
            self.asleep = false;
        }
        wake
    }

    /// Takes every parked connection whose deadline has passed into `due`, and arms the real
    /// deadline of those whose timer fired early.
    fn expire(&mut self, now: Instant, due: &mut Vec<Box<Connection>>) {
        while let Some(&Reverse((at, slot, generation))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let ticket = Ticket { slot, generation };
            let s = &mut self.slots[slot as usize];
            if s.generation != generation || s.armed != Some(at) {
                continue;
            }
            s.armed = None;
            let Some(waiting) = s.waiting else {
                // A worker holds it: its next park arms a timer again.
                continue;
            };
            if waiting.deadline <= now {
                due.extend(self.take(ticket));
            } else {
                self.arm(ticket, waiting.deadline);
            }
        }
    }

    /// Shortens every parked connection's deadline for a shutdown begun at `at`.
    fn shorten(&mut self, config: &Config, at: Instant, now: Instant) {
        for slot in 0..self.slots.len() {
            let s = &mut self.slots[slot];
            let (Some(conn), Some(old)) = (&s.conn, s.waiting) else {
                continue;
            };
            let Some(new) = conn.waiting(conn.pending.len(), config, Some(at), now) else {
                continue;
            };
            s.waiting = Some(Waiting {
                deadline: new.deadline.min(old.deadline),
                ..old
            });
            let ticket = Ticket {
                slot: slot as u32,
                generation: s.generation,
            };
            self.arm(ticket, new.deadline.min(old.deadline));
        }
    }

    /// Takes every parked connection, for the end.
    fn take_all(&mut self) -> Vec<Box<Connection>> {
        let mut all = Vec::new();
        for slot in 0..self.slots.len() {
            let s = &self.slots[slot];
            let ticket = Ticket {
                slot: slot as u32,
                generation: s.generation,
            };
            all.extend(self.take(ticket));
        }
        all
    }
}

fn token(ticket: Ticket) -> Token {
    Token(((ticket.generation as usize) << 32) | ticket.slot as usize)
}

fn ticket(token: Token) -> Ticket {
    Ticket {
        slot: token.0 as u32,
        generation: (token.0 >> 32) as u32,
    }
}

/// The poller thread: waits for readiness and deadlines and puts each connection they concern
/// back on the run queue, until [`Poller::stop`]; returns the connections still parked then.
pub(crate) fn run(mut poll: Poll, poller: &Poller, config: &Config) -> Vec<Box<Connection>> {
    let mut events = Events::with_capacity(EVENTS);
    let mut due = Vec::new();
    let mut shortened = false;
    loop {
        let timeout = {
            let mut table = poller.lock();
            let next = table.timers.peek().map(|Reverse((at, ..))| *at);
            table.asleep = true;
            table.wakes_at = next;
            next.map(|at| at.saturating_duration_since(Instant::now()))
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!("the poller's wait failed: {e}");
                std::thread::sleep(FAILED_WAIT_PAUSE);
            }
        }
        let now = Instant::now();
        let mut table = poller.lock();
        table.asleep = false;
        if table.stop {
            return table.take_all();
        }
        for event in events.iter() {
            if event.token() != WAKER {
                due.extend(table.take(ticket(event.token())));
            }
        }
        if !shortened && let Some(at) = table.shutdown {
            shortened = true;
            table.shorten(config, at, now);
        }
        table.expire(now, &mut due);
        drop(table);
        for mut conn in due.drain(..) {
            conn.queued_at = now;
            let _ = poller.run_queue.send(Job::Conn(conn));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Phase;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    /// A connection in `ReadHead`, configured, and its client.
    fn conn() -> (Box<Connection>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        let mut conn = Box::new(Connection::new(stream, peer, Instant::now()));
        conn.wire.configure().unwrap();
        conn.phase = Phase::ReadHead;
        (conn, client)
    }

    fn waiting(deadline: Instant) -> Waiting {
        Waiting {
            ready: Ready::Read,
            deadline,
            kind: Parked::Idle,
        }
    }

    struct Running {
        poller: std::sync::Arc<Poller>,
        queue: crossbeam_channel::Receiver<Job>,
        thread: Option<std::thread::JoinHandle<Vec<Box<Connection>>>>,
    }

    fn start() -> Running {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (poller, poll) = Poller::new(tx).unwrap();
        let poller = std::sync::Arc::new(poller);
        let thread = {
            let poller = poller.clone();
            std::thread::spawn(move || run(poll, &poller, &Config::default()))
        };
        Running {
            poller,
            queue: rx,
            thread: Some(thread),
        }
    }

    impl Running {
        fn next(&self, within: Duration) -> Option<Box<Connection>> {
            match self.queue.recv_timeout(within) {
                Ok(Job::Conn(conn)) => Some(conn),
                _ => None,
            }
        }

        fn stop(mut self) -> usize {
            self.poller.stop();
            self.thread.take().unwrap().join().unwrap().len()
        }
    }

    #[test]
    fn a_parked_connection_returns_when_its_client_sends() {
        let p = start();
        let (conn, mut client) = conn();
        let far = Instant::now() + Duration::from_secs(60);
        assert!(p.poller.park(conn, waiting(far)).is_ok());
        assert!(p.next(Duration::from_millis(100)).is_none(), "nothing yet");
        assert_eq!(p.poller.counts()[Parked::Idle.index()], 1);
        client.write_all(b"GET").unwrap();
        let mut conn = p.next(Duration::from_secs(5)).expect("woken by readiness");
        assert_eq!(p.poller.counts(), [0; Parked::COUNT]);
        // Parked again with the bytes unread: the re-registration reports them at once.
        assert!(p.poller.park(conn, waiting(far)).is_ok());
        conn = p
            .next(Duration::from_secs(5))
            .expect("readiness re-checked at the park");
        p.poller.forget(&mut conn);
        assert_eq!(conn.ticket, None);
        assert_eq!(p.stop(), 0);
    }

    #[test]
    fn a_parked_connection_returns_at_its_deadline() {
        let p = start();
        let (conn, _client) = conn();
        let started = Instant::now();
        let deadline = started + Duration::from_millis(50);
        assert!(p.poller.park(conn, waiting(deadline)).is_ok());
        let mut conn = p.next(Duration::from_secs(5)).expect("woken by its timer");
        assert!(Instant::now() >= deadline, "never early");
        // A later deadline arms nothing new until the earlier timer has fired.
        let later = Instant::now() + Duration::from_millis(80);
        assert!(p.poller.park(conn, waiting(later)).is_ok());
        conn = p
            .next(Duration::from_secs(5))
            .expect("woken by the re-armed timer");
        assert!(Instant::now() >= later);
        p.poller.forget(&mut conn);
        assert_eq!(p.stop(), 0);
    }

    #[test]
    fn a_notified_connection_returns_at_once_and_only_while_parked() {
        let p = start();
        let (conn, _client) = conn();
        assert!(
            p.poller
                .park(conn, waiting(Instant::now() + Duration::from_secs(60)))
                .is_ok()
        );
        let ticket = {
            let table = p.poller.lock();
            let slot = table.slots.iter().position(|s| s.conn.is_some()).unwrap();
            Ticket {
                slot: slot as u32,
                generation: table.slots[slot].generation,
            }
        };
        assert!(p.poller.notify(ticket));
        let mut conn = p.next(Duration::from_secs(5)).expect("notified");
        assert!(!p.poller.notify(ticket), "held by a worker now");
        p.poller.forget(&mut conn);
        assert!(
            !p.poller.notify(ticket),
            "a freed slot's old ticket reaches nothing"
        );
        assert_eq!(p.stop(), 0);
    }

    #[test]
    fn shutdown_shortens_an_idle_wait_and_stop_hands_back_the_rest() {
        let p = start();
        let (mut idle, _a) = conn();
        idle.served = 1; // kept alive: its own deadline is the keep-alive
        let (busy, _b) = conn();
        let mut long = waiting(Instant::now() + Duration::from_secs(60));
        assert!(p.poller.park(idle, long).is_ok());
        long.kind = Parked::Linger;
        let mut lingering = busy;
        lingering.phase = Phase::Linger(crate::connection::Linger {
            deadline: Instant::now() + Duration::from_secs(60),
            discarded: 0,
            reason: crate::close_reason::CloseReason::Shutdown,
        });
        assert!(p.poller.park(lingering, long).is_ok());
        let at = Instant::now();
        p.poller.begin_shutdown(at);
        let conn = p
            .next(Duration::from_secs(5))
            .expect("the idle one, after the quiet");
        assert!(at.elapsed() >= crate::connection::SHUTDOWN_QUIET);
        assert!(matches!(conn.phase, Phase::ReadHead));
        assert_eq!(p.stop(), 1, "the lingering one keeps its own deadline");
    }
}
