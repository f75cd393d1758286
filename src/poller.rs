//! The poller: where connections wait on their clients, so no worker does. A worker whose
//! connection would wait (idle between requests, a head or a body not yet arrived, a response
//! the client is slow to take, a drain, a linger) parks it here with what it waits for and
//! until when; when its socket is ready or its deadline passes, it goes back to a worker. This
//! is the shape of Apache httpd's event MPM and gunicorn's gthread worker: threads run
//! requests, one poller holds the waiting connections.
//!
//! Readiness comes from `mio` (epoll on Linux, kqueue on macOS and the BSDs), and who waits
//! for it is a worker with nothing to do (the leader/follower pattern): at most one idle
//! worker at a time waits in `epoll_wait` ([`Poller::wait_for_work`]), takes the first ready
//! connection for itself and puts the others on the run queue, where the other idle workers
//! wait. A request on an idle connection then costs one wake-up, as in an event loop, where a
//! thread of the poller's own handing connections to workers costs two (measured: 0.31 ms
//! against hyper's 0.20 ms for a request on an idle kept-alive connection, and a third of the
//! throughput of hello at 8 connections). Under load the workers seldom wait: events gather
//! in the kernel and the next worker to run out of work takes them in one batch.
//!
//! The rule that keeps a ready connection from waiting on nobody: while a worker idles on the
//! run queue (a follower), some worker waits on the poller, or is told to. A worker becomes a
//! follower only after it saw a waiter there (`follow`, which looks again after counting
//! itself); a waiter that leaves, for whatever reason, tells a follower to take over
//! (`Job::Poll`), and the one told goes to the poller before anything else; whoever puts a
//! connection on the run queue from outside the workers wakes the waiter.
//!
//! The poller's own thread ([`run`]) keeps the deadlines: timers in a binary heap, at most one
//! live entry per slot (a later deadline, a kept-alive connection parked again, arms nothing:
//! the earlier entry, when it fires, arms the real one), so a busy connection costs a heap
//! entry per keep-alive period, not per request. It sleeps until the next deadline, applies a
//! shutdown's shorter deadlines, and at the end hands back what is still parked.
//!
//! mio registers edge-triggered and has no one-shot mode. A connection is registered at its
//! first park and registered again only when what it waits for changes (`EPOLL_CTL_MOD`
//! reports readiness already there); an event that comes while a worker holds it is
//! remembered in its slot, and the next park gives it straight back, so no edge is lost
//! between a worker's last read and the park (a worker parks without reading again only when
//! its last read drained the socket). Registrations change under the table's lock, so a
//! connection cannot reach a second worker, which might close it (and its descriptor be
//! reused), before the first is done. A slot reused by a new connection gets a new
//! generation, so a stale event or timer never reaches it; a connection is deregistered before
//! it closes (an `Early` may keep its socket open through its `Arc`).
//!
//! This module owns the table, the registrations and the timer thread; it reads no socket and
//! knows nothing of HTTP: what a connection waits for comes from `Connection::waiting`.

// Connections travel boxed, as on the run queue: moving one is a pointer copy.
#![allow(clippy::vec_box)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::config::Config;
use crate::connection::{Connection, Job, Parked, Ticket, Waiting};
use crate::wire::Ready;

/// The waker's token; every other token is a slot and its generation.
const WAKER: Token = Token(usize::MAX);
/// Events taken per wait.
const EVENTS: usize = 1024;
/// A pause after a failed wait (the poll descriptor cannot fail but for a bug), so a worker
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
    /// What the registration asks for.
    interest: Ready,
    /// An event came while a worker held the connection: it may be ready already.
    ready_while_out: bool,
}

/// The parked connections and their timers.
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// (deadline, slot, generation), soonest first.
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Parked connections by what they wait for.
    counts: [usize; Parked::COUNT],
    /// The timer thread sleeps, until `wakes_at` (`None`: no timer).
    asleep: bool,
    wakes_at: Option<Instant>,
    /// When the server began shutting down, once it has.
    shutdown: Option<Instant>,
    /// The timer thread is to hand back what is left and end.
    stop: bool,
}

/// The poll descriptor and what a wait on it fills, held by the worker that waits.
struct Polling {
    poll: Poll,
    events: Events,
    /// Connections found ready (kept to reuse its memory).
    due: Vec<Box<Connection>>,
}

/// The poller: the workers park and forget connections through it and wait on it for work;
/// its thread ([`run`]) keeps the deadlines.
pub(crate) struct Poller {
    registry: Registry,
    waker: Waker,
    table: Mutex<Table>,
    /// Held by the worker that waits for readiness.
    polling: Mutex<Polling>,
    /// A worker holds `polling`: one that puts a connection on the run queue wakes it.
    waiter: AtomicBool,
    /// Idle workers waiting on the run queue instead.
    followers: AtomicUsize,
    run_queue: Sender<Job>,
    /// The timer thread, once it runs.
    thread: OnceLock<Thread>,
}

/// What parking a connection did.
pub(crate) enum Park {
    /// It waits in the poller.
    Waiting,
    /// It may be ready already (an event came while a worker held it): run it again.
    Ready(Box<Connection>),
    /// Its socket could not be registered.
    Failed(Box<Connection>, io::Error),
}

/// What an idle worker's wait on the poller gave.
pub(crate) enum Waited {
    /// A ready connection, for this worker.
    Conn(Box<Connection>),
    /// Look at the run queue again: something may be there.
    Queue,
    /// Another worker waits on the poller: wait on the run queue.
    Follow,
}

impl Poller {
    /// A poller whose ready connections go to `run_queue`; its timer thread is [`run`].
    pub(crate) fn new(run_queue: Sender<Job>) -> io::Result<Poller> {
        let poll = Poll::new()?;
        Ok(Poller {
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
            polling: Mutex::new(Polling {
                poll,
                events: Events::with_capacity(EVENTS),
                due: Vec::new(),
            }),
            waiter: AtomicBool::new(false),
            followers: AtomicUsize::new(0),
            run_queue,
            thread: OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parks `conn` until its socket is ready as `waiting` says or its deadline passes.
    pub(crate) fn park(self: &Arc<Self>, mut conn: Box<Connection>, waiting: Waiting) -> Park {
        let mut table = self.lock();
        let ticket = match conn.ticket {
            Some(ticket) => {
                let slot = &mut table.slots[ticket.slot as usize];
                let seen = std::mem::replace(&mut slot.ready_while_out, false);
                if slot.interest == waiting.ready {
                    if seen {
                        return Park::Ready(conn);
                    }
                } else if let Err(e) = self.register(&conn, ticket, waiting.ready, true) {
                    return Park::Failed(conn, e);
                }
                ticket
            }
            None => {
                let ticket = table.allocate();
                if let Err(e) = self.register(&conn, ticket, waiting.ready, false) {
                    table.release(ticket);
                    return Park::Failed(conn, e);
                }
                conn.ticket = Some(ticket);
                ticket
            }
        };
        // An event stream: a message wakes it here; one that came while a worker held it
        // (it has news already) runs it again now.
        if let Some(stream) = conn.stream() {
            stream.parked(|| {
                let poller = Arc::downgrade(self);
                Arc::new(move || {
                    if let Some(poller) = poller.upgrade() {
                        poller.notify(ticket);
                    }
                })
            });
            if stream.has_news() {
                return Park::Ready(conn);
            }
        }
        table.counts[waiting.kind.index()] += 1;
        let slot = &mut table.slots[ticket.slot as usize];
        slot.interest = waiting.ready;
        slot.conn = Some(conn);
        slot.waiting = Some(waiting);
        let wake = table.arm(ticket, waiting.deadline);
        drop(table);
        if wake && let Some(thread) = self.thread.get() {
            thread.unpark();
        }
        Park::Waiting
    }

    /// Registers (or, `again`, re-registers) `conn`'s socket for `ready` under `ticket`: a
    /// readiness already there is reported at once. Called with the table locked.
    fn register(
        &self,
        conn: &Connection,
        ticket: Ticket,
        ready: Ready,
        again: bool,
    ) -> io::Result<()> {
        let interest = match ready {
            Ready::Read => Interest::READABLE,
            Ready::Write => Interest::WRITABLE,
        };
        let fd = conn.wire.raw_fd();
        let source = &mut SourceFd(&fd);
        if again {
            self.registry.reregister(source, token(ticket), interest)
        } else {
            self.registry.register(source, token(ticket), interest)
        }
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

    /// A worker found the run queue empty: unless another worker does, it waits here for a
    /// ready connection (no timeout: the timer thread keeps the deadlines and puts expired
    /// connections on the run queue, waking it). It takes the first for itself and puts the
    /// others on the run queue; `queue` is looked at once more after it claims the wait, so a
    /// connection put there meanwhile is not missed.
    pub(crate) fn wait_for_work(&self, queue: &Receiver<Job>) -> Waited {
        let Ok(mut polling) = self.polling.try_lock() else {
            return Waited::Follow;
        };
        self.waiter.store(true, SeqCst);
        let ready = if queue.is_empty() {
            self.take_ready(&mut polling, None)
        } else {
            None
        };
        drop(polling);
        self.waiter.store(false, SeqCst);
        // Whatever this worker does next (serve the connection, or one from the run queue,
        // after which it may lose its place at the gate), a worker idle on the run queue takes
        // over the wait, so what comes next does not wait for it.
        if self.followers.load(SeqCst) > 0 {
            let _ = self.run_queue.send(Job::Poll);
        }
        ready.map_or(Waited::Queue, Waited::Conn)
    }

    /// An idle worker is about to wait on the run queue (`waiting` true) or has stopped (false).
    /// True if it should rather try [`wait_for_work`](Self::wait_for_work) again: nobody waits
    /// on the poller (its waiter left between the two looks).
    pub(crate) fn follow(&self, waiting: bool) -> bool {
        if !waiting {
            self.followers.fetch_sub(1, SeqCst);
            return false;
        }
        self.followers.fetch_add(1, SeqCst);
        if self.waiter.load(SeqCst) {
            return false;
        }
        self.followers.fetch_sub(1, SeqCst);
        true
    }

    /// Wakes the worker waiting on the poller, if one is, after a connection was put on the
    /// run queue from outside the workers (the listener, the timer thread, shutdown).
    pub(crate) fn wake_waiter(&self) {
        // The connection's push must be seen before the flag is read (the waiter sets the
        // flag, then looks at the queue): without the fence the two could pass each other
        // (a store then a load may be reordered, even on x86) and the connection wait for
        // an unrelated event.
        std::sync::atomic::fence(SeqCst);
        if self.waiter.load(SeqCst) {
            let _ = self.waker.wake();
        }
    }

    /// Waits for events up to `timeout` and takes the connections they concern: the first
    /// is returned, the others go on the run queue.
    fn take_ready(
        &self,
        polling: &mut Polling,
        timeout: Option<Duration>,
    ) -> Option<Box<Connection>> {
        let Polling { poll, events, due } = polling;
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!("the poller's wait failed: {e}");
                std::thread::sleep(FAILED_WAIT_PAUSE);
            }
            return None;
        }
        let mut table = self.lock();
        for event in events.iter() {
            if event.token() != WAKER {
                due.extend(table.ready(ticket(event.token())));
            }
        }
        drop(table);
        if due.is_empty() {
            return None;
        }
        let first = due.swap_remove(0);
        if !due.is_empty() {
            self.send(due);
        }
        Some(first)
    }

    /// Puts `due` on the run queue.
    fn send(&self, due: &mut Vec<Box<Connection>>) {
        let now = Instant::now();
        for mut conn in due.drain(..) {
            conn.queued_at = Some(now);
            let _ = self.run_queue.send(Job::Conn(conn));
        }
    }

    /// Puts the connection registered under `ticket` back on the run queue now, if it is
    /// parked, as if its socket had become ready: for a server event (a message to send to a
    /// client that waits), not the client's doing. False if it is not parked (a worker holds
    /// it, or it has closed).
    pub(crate) fn notify(&self, ticket: Ticket) -> bool {
        let conn = self.lock().take(ticket);
        match conn {
            Some(mut conn) => {
                conn.queued_at = Some(Instant::now());
                let sent = self.run_queue.send(Job::Conn(conn)).is_ok();
                self.wake_waiter();
                sent
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
        self.rouse();
    }

    /// Ends the timer thread: what is still parked is handed back for closing.
    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        self.rouse();
    }

    fn rouse(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
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
                    interest: Ready::Read,
                    ready_while_out: false,
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
            s.ready_while_out = false;
            self.free.push(ticket.slot);
        }
    }

    /// An event for `ticket`: takes the connection if it is parked, else notes that it may be
    /// ready for the worker that holds it.
    fn ready(&mut self, ticket: Ticket) -> Option<Box<Connection>> {
        let s = self.slots.get_mut(ticket.slot as usize)?;
        if s.generation != ticket.generation || !s.used {
            return None;
        }
        if s.conn.is_none() {
            s.ready_while_out = true;
            return None;
        }
        self.take(ticket)
    }

    /// Takes the connection parked under `ticket`, if it is.
    fn take(&mut self, ticket: Ticket) -> Option<Box<Connection>> {
        let s = self.slots.get_mut(ticket.slot as usize)?;
        if s.generation != ticket.generation {
            return None;
        }
        let conn = s.conn.take()?;
        s.ready_while_out = false;
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

/// The timer thread: sleeps until the next deadline and puts every connection whose
/// deadline has passed on the run queue, applies a shutdown's shorter deadlines, until
/// [`Poller::stop`]; returns the connections still parked then.
pub(crate) fn run(poller: &Poller, config: &Config) -> Vec<Box<Connection>> {
    let _ = poller.thread.set(std::thread::current());
    let mut shortened = false;
    let mut due = Vec::new();
    loop {
        let now = Instant::now();
        let mut table = poller.lock();
        if table.stop {
            return table.take_all();
        }
        if !shortened && let Some(at) = table.shutdown {
            shortened = true;
            table.shorten(config, at, now);
        }
        table.expire(now, &mut due);
        let next = table.timers.peek().map(|Reverse((at, ..))| *at);
        table.asleep = true;
        table.wakes_at = next;
        drop(table);
        if !due.is_empty() {
            poller.send(&mut due);
            poller.wake_waiter();
        }
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
        poller.lock().asleep = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Phase;
    use std::io::{Read, Write};
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
        let poller = std::sync::Arc::new(Poller::new(tx).unwrap());
        let thread = {
            let poller = poller.clone();
            std::thread::spawn(move || run(&poller, &Config::default()))
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
        assert!(matches!(p.poller.park(conn, waiting(far)), Park::Waiting));
        assert_eq!(p.poller.counts()[Parked::Idle.index()], 1);
        client.write_all(b"GET").unwrap();
        // An idle worker's wait: the ready connection is its own.
        let Waited::Conn(mut conn) = p.poller.wait_for_work(&p.queue) else {
            panic!("not woken by readiness");
        };
        assert_eq!(p.poller.counts(), [0; Parked::COUNT]);
        let mut buf = [0u8; 16];
        assert_eq!((&**conn.wire).read(&mut buf).unwrap(), 3);
        // Bytes that come while a worker holds it, seen by another worker's wait: the next
        // park gives it straight back.
        client.write_all(b" /").unwrap();
        assert!(matches!(p.poller.wait_for_work(&p.queue), Waited::Queue));
        conn = match p.poller.park(conn, waiting(far)) {
            Park::Ready(conn) => conn,
            _ => panic!("an edge seen while out was lost"),
        };
        assert_eq!((&**conn.wire).read(&mut buf).unwrap(), 2);
        // Bytes that come while a worker holds it, and nobody waits: the edge stays in the
        // kernel for the next wait.
        client.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(p.poller.park(conn, waiting(far)), Park::Waiting));
        let Waited::Conn(conn) = p.poller.wait_for_work(&p.queue) else {
            panic!("the edge was lost");
        };
        assert_eq!((&**conn.wire).read(&mut buf).unwrap(), 1);
        // Parked for room to write instead: registered again, and room is reported at once.
        let mut writing = waiting(far);
        writing.ready = Ready::Write;
        assert!(matches!(p.poller.park(conn, writing), Park::Waiting));
        let Waited::Conn(mut conn) = p.poller.wait_for_work(&p.queue) else {
            panic!("no room to write");
        };
        p.poller.forget(&mut conn);
        assert_eq!(conn.ticket, None);
        assert_eq!(p.stop(), 0);
    }

    /// The waiter woken for a connection someone put on the run queue may take that connection,
    /// serve it and lose its place at the gate: a follower must be told to take over the wait
    /// whatever the waiter leaves with (before, only a waiter leaving with a connection of its
    /// own said so, and a parked connection's request could wait for its deadline: about one in
    /// 200,000 connections opened one after another waited 10 s, the header timeout).
    #[test]
    fn a_waiter_leaving_for_the_run_queue_hands_the_wait_to_a_follower() {
        let p = start();
        let waiter = {
            let (poller, queue) = (p.poller.clone(), p.queue.clone());
            std::thread::spawn(move || matches!(poller.wait_for_work(&queue), Waited::Queue))
        };
        while !p.poller.waiter.load(SeqCst) {
            std::thread::yield_now();
        }
        assert!(!p.poller.follow(true), "a waiter is there: follow it");
        // The listener's part: a connection (here any job) on the run queue, then the wake.
        p.poller.run_queue.send(Job::Stop).unwrap();
        p.poller.wake_waiter();
        assert!(waiter.join().unwrap(), "woken for the run queue");
        assert!(matches!(p.queue.try_recv(), Ok(Job::Stop)));
        assert!(
            matches!(p.queue.try_recv(), Ok(Job::Poll)),
            "the follower is told to take over the wait"
        );
        p.poller.follow(false);
        assert_eq!(p.stop(), 0);
    }

    #[test]
    fn one_idle_worker_waits_and_the_others_follow() {
        let p = start();
        let (conn, mut client) = conn();
        let far = Instant::now() + Duration::from_secs(60);
        assert!(matches!(p.poller.park(conn, waiting(far)), Park::Waiting));
        let waiter = {
            let (poller, queue) = (p.poller.clone(), p.queue.clone());
            std::thread::spawn(move || match poller.wait_for_work(&queue) {
                Waited::Conn(conn) => Some(conn),
                _ => None,
            })
        };
        while !p.poller.waiter.load(SeqCst) {
            std::thread::yield_now();
        }
        assert!(matches!(p.poller.wait_for_work(&p.queue), Waited::Follow));
        assert!(!p.poller.follow(true), "a waiter is there: follow it");
        client.write_all(b"GET").unwrap();
        let mut conn = waiter.join().unwrap().expect("the waiter takes it");
        // It went to serve with a follower idle: the follower is told to take over the wait.
        assert!(matches!(p.queue.recv().unwrap(), Job::Poll));
        p.poller.follow(false);
        p.poller.forget(&mut conn);
        assert_eq!(p.stop(), 0);
    }

    #[test]
    fn a_parked_connection_returns_at_its_deadline() {
        let p = start();
        let (conn, _client) = conn();
        let started = Instant::now();
        let deadline = started + Duration::from_millis(50);
        assert!(matches!(
            p.poller.park(conn, waiting(deadline)),
            Park::Waiting
        ));
        let mut conn = p.next(Duration::from_secs(5)).expect("woken by its timer");
        assert!(Instant::now() >= deadline, "never early");
        // A later deadline arms nothing new until the earlier timer has fired.
        let later = Instant::now() + Duration::from_millis(80);
        assert!(matches!(p.poller.park(conn, waiting(later)), Park::Waiting));
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
        let far = Instant::now() + Duration::from_secs(60);
        assert!(matches!(p.poller.park(conn, waiting(far)), Park::Waiting));
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
        assert!(matches!(p.poller.park(idle, long), Park::Waiting));
        long.kind = Parked::Linger;
        let mut lingering = busy;
        lingering.phase = Phase::Linger(crate::connection::Linger {
            deadline: Instant::now() + Duration::from_secs(60),
            discarded: 0,
            reason: crate::close_reason::CloseReason::Shutdown,
        });
        assert!(matches!(p.poller.park(lingering, long), Park::Waiting));
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
