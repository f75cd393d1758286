//! Many worker processes on one listening socket: the supervisor (gunicorn's arbiter, in
//! the shape of systemd's socket activation).
//!
//! The supervisor runs no pool. It holds the listening socket and starts each worker as a
//! fresh process (a [`Command`] the caller builds: the same program, no `fork` of a process
//! that has threads) with the socket at descriptor 3 and the variables of
//! [`listen_fds`](mod@crate::listen_fds), so every worker blocks in `accept` on the same socket and
//! the kernel hands each connection to one waiting worker in turn. Each worker connects back
//! over a Unix stream socket of the abstract namespace (no file on disk) named in
//! [`SUPERVISOR`], says when it is ready, and sends a heartbeat with its figures every second
//! ([`report`], [`crate::supervised`]).
//!
//! What it does:
//! - a worker that exits is started again, at once if it had lived [`policy::HEALTHY_LIFE`],
//!   else after a pause that doubles up to 10 s ([`policy::after_exit`]); each exit is logged
//!   with its status or signal;
//! - a worker that sends no heartbeat for [`Options::timeout`] (not ready by then, or wedged:
//!   a worker beats only while its pool makes progress or has an idle thread, and a Python
//!   worker only when its beat thread gets the GIL) is sent `SIGUSR1` if [`Options::dump_stacks`] (Python's
//!   `faulthandler` prints every thread's stack on it), killed a second later, and replaced;
//! - [`Order::Reload`] (`SIGHUP`) replaces the workers one at a time: a new one is started,
//!   and only once it is ready is the old one asked to stop, so no connection is refused and
//!   no request fails; `max_requests` replaces a worker the same way after that many requests
//!   ([`policy::jittered`]);
//! - [`Order::Stop`] (`SIGTERM`, `SIGINT`) asks every worker to stop gracefully (in-flight
//!   requests finish), waits for them for [`Options::grace`] and then kills what is left; a
//!   second `Stop` kills at once. Workers run in process groups of their own, so a terminal's
//!   Ctrl-C reaches the supervisor alone, which stops them in order; a worker whose supervisor
//!   dies sees its link end and stops by itself.

pub mod policy;
pub mod report;

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::listen_fds;
use report::Report;

/// The variable that names a worker's supervisor link: `<supervisor pid>:<abstract name>`.
pub const SUPERVISOR: &str = "BASEHTTP_SUPERVISOR";

/// How often the supervisor looks at its workers and asks its caller for orders.
pub const TICK: Duration = Duration::from_millis(100);

/// How long a timed-out worker has between the dump signal and `SIGKILL`.
const DUMP_TIME: Duration = Duration::from_secs(1);

/// The supervisor's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many worker processes serve at once.
    pub processes: usize,
    /// Replace a worker after about this many requests (for applications that leak).
    pub max_requests: Option<u64>,
    /// A worker with no heartbeat for this long (or not ready this long after its start) is
    /// replaced.
    pub timeout: Duration,
    /// How long workers have to stop gracefully before they are killed.
    pub grace: Duration,
    /// Whether a worker that timed out is sent `SIGUSR1` a second before `SIGKILL`: Python
    /// workers print their threads' stacks on it (`faulthandler`). Else it is killed at once.
    pub dump_stacks: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            processes: 2,
            max_requests: None,
            timeout: Duration::from_secs(30),
            grace: Duration::from_secs(30),
            dump_stacks: false,
        }
    }
}

/// What the caller says at each [`TICK`], from the signals it has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Nothing new.
    Carry,
    /// Replace every worker, one at a time (`SIGHUP`).
    Reload,
    /// Stop gracefully (`SIGTERM`, `SIGINT`); a second one kills the workers at once.
    Stop,
}

/// One worker process.
struct Proc {
    child: Child,
    pid: u32,
    started: Instant,
    ready: bool,
    last_beat: Instant,
    report: Report,
    link: Option<UnixStream>,
    /// Replace it after this many requests.
    limit: Option<u64>,
    /// Timed out: killed at this instant.
    kill_at: Option<Instant>,
}

impl Proc {
    fn tell(&mut self, line: &str) {
        if let Some(link) = &mut self.link
            && writeln!(link, "{line}").is_err()
        {
            self.link = None;
        }
    }

    fn signal(&self, signal: Signal) {
        if let Some(pid) = Pid::from_raw(self.pid as i32) {
            let _ = kill_process(pid, signal);
        }
    }

    /// Asks it to stop gracefully: over its link, else with `SIGTERM`.
    fn stop(&mut self) {
        self.tell("stop");
        if self.link.is_none() {
            self.signal(Signal::TERM);
        }
    }
}

/// A place for one worker: the one serving, and its replacement while that one starts.
#[derive(Default)]
struct Slot {
    current: Option<Proc>,
    next: Option<Proc>,
    /// When to start a worker for an empty slot.
    start_at: Option<Instant>,
    failures: u32,
}

/// What the link threads report.
enum Event {
    Line(u32, String),
    Closed(u32),
    /// A line for every serving worker (a live-reload event, say).
    Broadcast(String),
}

/// Sends a live-reload event to every serving worker, which passes it to its own event
/// streams: one process watches the files for all (see [`Supervisor::broadcaster`]).
#[derive(Clone)]
pub struct Broadcaster {
    tx: mpsc::Sender<Event>,
}

impl std::fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Broadcaster")
    }
}

impl Broadcaster {
    /// Tells every serving worker's open tabs: `kind` (`reload`, `css`) and `data`, each on
    /// one line (a line break ends them).
    pub fn send(&self, kind: &str, data: &str) {
        let one_line = |s: &str| s.split(['\r', '\n']).next().unwrap_or("").to_owned();
        let _ = self.tx.send(Event::Broadcast(format!(
            "event {} {}",
            one_line(kind).replace(' ', ""),
            one_line(data)
        )));
    }
}

/// Runs worker processes on one listening socket; see the [module](self).
pub struct Supervisor {
    options: Options,
    command: Box<dyn FnMut(usize) -> Command + Send>,
    /// The listening socket, where the workers find it.
    socket: OwnedFd,
    link: UnixListener,
    link_name: String,
    slots: Vec<Slot>,
    /// Workers asked to stop, until they exit.
    retiring: Vec<Proc>,
    /// Slots still to replace in a rolling restart.
    rolling: VecDeque<usize>,
    events: mpsc::Receiver<Event>,
    events_tx: mpsc::Sender<Event>,
    /// Since when it stops, and whether it was told twice.
    stopping: Option<(Instant, bool)>,
    /// Whether any worker has been ready yet.
    ever_ready: bool,
    /// Why it stopped by itself: no worker could start.
    failed: Option<String>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("options", &self.options)
            .field("socket", &self.socket)
            .field("link", &self.link_name)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A supervisor for `listener` (bound, or itself handed on), starting workers built by
    /// `command(slot)`, slots numbered from 1. The supervisor adds the handover variables,
    /// [`SUPERVISOR`], and a process group of the worker's own.
    pub fn new(
        listener: TcpListener,
        options: Options,
        command: impl FnMut(usize) -> Command + Send + 'static,
    ) -> io::Result<Supervisor> {
        let socket = OwnedFd::from(listener);
        // Descriptor 3, where systemd puts the first socket, if it is free (the lowest free
        // descriptor from 3 up); inheritable, which only this descriptor is.
        let socket = if socket.as_raw_fd() == 3 {
            socket
        } else {
            rustix::io::fcntl_dupfd_cloexec(&socket, 3)?
        };
        rustix::io::fcntl_setfd(&socket, rustix::io::FdFlags::empty())?;
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let link_name = format!("basehttp-supervisor-{pid}-{nanos}");
        let link = UnixListener::bind_addr(&UnixAddr::from_abstract_name(&link_name)?)?;
        link.set_nonblocking(true)?;
        let (events_tx, events) = mpsc::channel();
        let slots = (0..options.processes.max(1))
            .map(|_| Slot {
                start_at: Some(Instant::now()),
                ..Slot::default()
            })
            .collect();
        Ok(Supervisor {
            options,
            command: Box::new(command),
            socket,
            link,
            link_name,
            slots,
            retiring: Vec::new(),
            rolling: VecDeque::new(),
            events,
            events_tx,
            stopping: None,
            ever_ready: false,
            failed: None,
        })
    }

    /// The last report of every serving worker that has sent one, in slot order.
    pub fn reports(&self) -> Vec<Report> {
        self.slots
            .iter()
            .filter_map(|s| s.current.as_ref())
            // Every pool has a thread: no threads means no beat yet.
            .filter(|p| p.report.threads > 0)
            .map(|p| p.report.clone())
            .collect()
    }

    /// A sender of live-reload events to every serving worker, for a watcher that runs in the
    /// supervisor (it sends while [`run`](Self::run) runs).
    pub fn broadcaster(&self) -> Broadcaster {
        Broadcaster {
            tx: self.events_tx.clone(),
        }
    }

    /// Supervises until every worker has stopped after an [`Order::Stop`]. `orders` is asked
    /// at every [`TICK`]. An error if it stopped by itself because the first workers could
    /// not start (a worker that exits before it is ready while none has been ready yet: an
    /// application that fails to import, say, as gunicorn halts on a boot error), after
    /// stopping the others.
    pub fn run(&mut self, mut orders: impl FnMut(&Supervisor) -> Order) -> io::Result<()> {
        loop {
            match orders(self) {
                Order::Carry => {}
                Order::Reload => self.reload(),
                Order::Stop => self.stop(),
            }
            self.accept_links();
            self.drain_events();
            self.reap();
            if let Some((since, _)) = self.stopping {
                if self.all_gone() {
                    return match self.failed.take() {
                        Some(why) => Err(io::Error::other(why)),
                        None => Ok(()),
                    };
                }
                if since.elapsed() > self.options.grace + DUMP_TIME {
                    log::warn!("workers still running after the grace period: killing them");
                    self.each(|p| p.signal(Signal::KILL));
                }
            } else {
                self.watch_heartbeats();
                self.replace_the_spent();
                self.roll();
                self.start_due();
            }
            if let Ok(event) = self.events.recv_timeout(TICK) {
                self.event(event);
            }
        }
    }

    fn each(&mut self, mut f: impl FnMut(&mut Proc)) {
        for slot in &mut self.slots {
            slot.current
                .iter_mut()
                .chain(slot.next.iter_mut())
                .for_each(&mut f);
        }
        self.retiring.iter_mut().for_each(f);
    }

    fn all_gone(&self) -> bool {
        self.retiring.is_empty()
            && self
                .slots
                .iter()
                .all(|s| s.current.is_none() && s.next.is_none())
    }

    fn reload(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("reloading: replacing the workers one at a time");
        self.rolling = (0..self.slots.len()).collect();
    }

    fn stop(&mut self) {
        match self.stopping {
            None => {
                log::info!("stopping the workers (requests in flight finish)");
                self.stopping = Some((Instant::now(), false));
                self.each(Proc::stop);
            }
            Some((since, false)) => {
                log::warn!("stopping now");
                self.stopping = Some((since, true));
                self.each(|p| p.signal(Signal::KILL));
            }
            Some(_) => {}
        }
    }

    /// Starts a worker for `slot` (numbered from 0 here, from 1 for people).
    fn spawn(&mut self, slot: usize) -> Option<Proc> {
        let mut cmd = (self.command)(slot + 1);
        let fd = self.socket.as_fd().as_raw_fd();
        cmd.env_remove(listen_fds::LISTEN_PID)
            .env(listen_fds::LISTEN_FDS, "1")
            .env(listen_fds::LISTEN_FDNAMES, "basehttp")
            .env(listen_fds::LISTEN_PARENT, std::process::id().to_string())
            .env(
                SUPERVISOR,
                format!("{}:{}", std::process::id(), self.link_name),
            )
            .process_group(0);
        if fd == 3 {
            cmd.env_remove(listen_fds::LISTEN_FDS_FIRST_FD);
        } else {
            cmd.env(listen_fds::LISTEN_FDS_FIRST_FD, fd.to_string());
        }
        match cmd.spawn() {
            Ok(child) => {
                let pid = child.id();
                log::info!("worker {} started (pid {pid})", slot + 1);
                let now = Instant::now();
                Some(Proc {
                    child,
                    pid,
                    started: now,
                    ready: false,
                    last_beat: now,
                    report: Report {
                        pid,
                        ..Report::default()
                    },
                    link: None,
                    limit: self
                        .options
                        .max_requests
                        .map(|max| policy::jittered(max, u64::from(pid))),
                    kill_at: None,
                })
            }
            Err(e) => {
                log::error!("cannot start worker {}: {e}", slot + 1);
                None
            }
        }
    }

    fn start_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if slot.current.is_none() && slot.start_at.is_some_and(|at| at <= now) {
                let proc = self.spawn(i);
                let slot = &mut self.slots[i];
                if proc.is_none() {
                    let (failures, pause) = policy::after_exit(Duration::ZERO, slot.failures);
                    slot.failures = failures;
                    slot.start_at = Some(now + pause);
                } else {
                    slot.start_at = None;
                }
                slot.current = proc;
            }
        }
    }

    /// Takes the links workers open, each with a thread reading its lines.
    fn accept_links(&mut self) {
        while let Ok((stream, _)) = self.link.accept() {
            let Ok(pid) = rustix::net::sockopt::socket_peercred(&stream)
                .map(|cred| cred.pid.as_raw_pid() as u32)
            else {
                continue;
            };
            let Some(proc) = self.find(pid) else {
                // Not a worker of ours (a grandchild that inherited the variable).
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let Ok(reader) = stream.try_clone() else {
                continue;
            };
            proc.link = Some(stream);
            let tx = self.events_tx.clone();
            let spawned = std::thread::Builder::new()
                .name("basehttp-link".into())
                .spawn(move || {
                    for line in BufReader::new(reader).lines() {
                        let Ok(line) = line else { break };
                        if tx.send(Event::Line(pid, line)).is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(Event::Closed(pid));
                });
            if spawned.is_err() {
                log::error!("cannot read worker {pid}'s link");
            }
        }
    }

    fn find(&mut self, pid: u32) -> Option<&mut Proc> {
        self.slots
            .iter_mut()
            .flat_map(|s| s.current.iter_mut().chain(s.next.iter_mut()))
            .chain(self.retiring.iter_mut())
            .find(|p| p.pid == pid)
    }

    fn drain_events(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.event(event);
        }
    }

    fn event(&mut self, event: Event) {
        let (pid, line) = match event {
            Event::Broadcast(line) => {
                self.each(|p| {
                    if p.ready {
                        p.tell(&line);
                    }
                });
                return;
            }
            Event::Line(pid, line) => (pid, line),
            Event::Closed(pid) => {
                if let Some(p) = self.find(pid) {
                    p.link = None;
                }
                return;
            }
        };
        if line == "all?" {
            let answer = report::all_line(&self.reports());
            if let Some(p) = self.find(pid) {
                p.tell(&answer);
            }
            return;
        }
        let stopping = self.stopping.is_some();
        if self.find(pid).is_none() {
            return;
        }
        if line == "ready" {
            self.ever_ready = true;
            let Some(p) = self.find(pid) else { return };
            p.ready = true;
            p.last_beat = Instant::now();
            log::info!("worker pid {pid} is ready");
            if stopping {
                p.stop();
            }
        } else if let Some(words) = line.strip_prefix("beat ")
            && let Some(p) = self.find(pid)
        {
            p.last_beat = Instant::now();
            if let Some(report) = Report::parse(words) {
                p.report = report;
            }
        }
        self.promote();
    }

    /// A replacement that is ready takes its slot; the worker it replaces is asked to stop.
    fn promote(&mut self) {
        for slot in &mut self.slots {
            if slot.next.as_ref().is_some_and(|p| p.ready) {
                let next = slot.next.take();
                if let Some(mut old) = std::mem::replace(&mut slot.current, next) {
                    old.stop();
                    self.retiring.push(old);
                }
            }
        }
    }

    /// Collects the workers that have exited, logs how, and schedules what replaces them.
    fn reap(&mut self) {
        let now = Instant::now();
        let stopping = self.stopping.is_some();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some(status) = exited(&mut slot.current) {
                let (lived, pid) = status.1;
                if stopping {
                    log::info!("worker {} (pid {pid}) stopped: {}", i + 1, status.0);
                    continue;
                }
                if !self.ever_ready {
                    let why = format!(
                        "worker {} (pid {pid}) exited ({}) before it was ready, and no worker \
                         has started",
                        i + 1,
                        status.0
                    );
                    log::error!("{why}: stopping");
                    self.failed.get_or_insert(why);
                    continue;
                }
                let (failures, pause) = policy::after_exit(lived, slot.failures);
                slot.failures = failures;
                log::warn!(
                    "worker {} (pid {pid}) exited ({}) after {:.1} s; starting another{}",
                    i + 1,
                    status.0,
                    lived.as_secs_f64(),
                    if pause.is_zero() {
                        String::new()
                    } else {
                        format!(" in {:.1} s", pause.as_secs_f64())
                    }
                );
                // Its replacement, if one was starting, takes the slot at once.
                slot.current = slot.next.take();
                if slot.current.is_none() {
                    slot.start_at = Some(now + pause);
                }
            }
            if let Some((status, (_, pid))) = exited(&mut slot.next)
                && !stopping
            {
                log::warn!(
                    "the replacement for worker {} (pid {pid}) exited ({status}) before it \
                     was ready; worker {} serves on, and the reload stops here",
                    i + 1,
                    i + 1
                );
                self.rolling.clear();
            }
        }
        if self.failed.is_some() && self.stopping.is_none() {
            self.stop();
        }
        self.retiring.retain_mut(|p| match p.child.try_wait() {
            Ok(Some(status)) => {
                log::info!("worker pid {} stopped: {status}", p.pid);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
    }

    fn watch_heartbeats(&mut self) {
        let now = Instant::now();
        let timeout = self.options.timeout;
        let dump = self.options.dump_stacks.then_some(Signal::USR1);
        for (i, slot) in self.slots.iter_mut().enumerate() {
            for p in slot.current.iter_mut().chain(slot.next.iter_mut()) {
                if let Some(at) = p.kill_at {
                    if now >= at {
                        p.signal(Signal::KILL);
                    }
                    continue;
                }
                if now.duration_since(p.last_beat) < timeout {
                    continue;
                }
                let what = if p.ready {
                    "sent no heartbeat"
                } else {
                    "was not ready"
                };
                log::error!(
                    "worker {} (pid {}) {what} for {} s: replacing it",
                    i + 1,
                    p.pid,
                    timeout.as_secs_f64()
                );
                match dump {
                    Some(signal) => {
                        p.signal(signal);
                        p.kill_at = Some(now + DUMP_TIME);
                    }
                    None => {
                        p.signal(Signal::KILL);
                        p.kill_at = Some(now);
                    }
                }
            }
        }
    }

    /// Starts a replacement for each worker past its `max_requests`.
    fn replace_the_spent(&mut self) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            let spent = slot
                .current
                .as_ref()
                .is_some_and(|p| p.ready && p.limit.is_some_and(|limit| p.report.served >= limit));
            if spent && slot.next.is_none() {
                if let Some(p) = &slot.current {
                    log::info!(
                        "worker {} (pid {}) served {} requests: replacing it",
                        i + 1,
                        p.pid,
                        p.report.served
                    );
                }
                self.slots[i].next = self.spawn(i);
            }
        }
    }

    /// The rolling restart: one slot at a time, the next once the last one's replacement has
    /// taken over.
    fn roll(&mut self) {
        if self.slots.iter().any(|s| s.next.is_some()) {
            return;
        }
        while let Some(i) = self.rolling.pop_front() {
            if self.slots[i].current.is_none() {
                // Empty (starting after a crash): it gets new code anyway.
                continue;
            }
            self.slots[i].next = self.spawn(i);
            if self.slots[i].next.is_some() {
                return;
            }
        }
    }
}

/// If the process in `place` has exited: takes it out, and gives its status, how long it
/// lived, and its pid.
fn exited(place: &mut Option<Proc>) -> Option<(std::process::ExitStatus, (Duration, u32))> {
    let p = place.as_mut()?;
    match p.child.try_wait() {
        Ok(Some(status)) => {
            let p = place.take()?;
            Some((status, (p.started.elapsed(), p.pid)))
        }
        _ => None,
    }
}
