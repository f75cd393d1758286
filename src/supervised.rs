//! A worker's side of its supervisor's link (see [`supervisor`](crate::supervisor)): says
//! when it serves, beats once a second with its figures while its pool makes progress, keeps
//! the last figures of every worker for `/stats`, and stops when the supervisor says so or
//! goes away.
//!
//! ```no_run
//! use basehttp::supervised;
//! # let handle = basehttp::Server::bind("127.0.0.1:0")?
//! #     .spawn(|_req: &mut basehttp::Request| basehttp::Response::text("ok"))?;
//! let (stop_tx, stop_rx) = std::sync::mpsc::channel();
//! if let Some(link) = supervised::connect()? {
//!     let mut beats = link.start(move || { let _ = stop_tx.send(()); })?;
//!     while stop_rx.recv_timeout(supervised::BEAT).is_err() {
//!         let _ = beats.beat_if_progressing(handle.stats(), 0.0);
//!     }
//! }
//! handle.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, BufRead, BufReader, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::event_stream::EventStreams;
use crate::stats::{Stats, WorkerState};
use crate::supervisor::SUPERVISOR;
use crate::supervisor::report::{self, Report};

/// How often a worker beats.
pub const BEAT: Duration = Duration::from_secs(1);

/// A worker's open link to its supervisor.
#[derive(Debug)]
pub struct Link {
    stream: UnixStream,
    /// Where the supervisor's live-reload events go.
    events: Option<EventStreams>,
    /// Every worker's last figures, from the supervisor's latest `all` answer.
    all: Arc<Mutex<Vec<Report>>>,
}

/// Connects to the supervisor named in [`SUPERVISOR`] if that is this process's parent
/// (a grandchild that inherited the variable does not); `Ok(None)` when there is none.
pub fn connect() -> io::Result<Option<Link>> {
    let Ok(value) = std::env::var(SUPERVISOR) else {
        return Ok(None);
    };
    let Some((pid, name)) = value.split_once(':') else {
        return Err(io::Error::other(format!(
            "{SUPERVISOR}={value:?} is malformed"
        )));
    };
    if pid.parse::<u32>().ok() != Some(std::os::unix::process::parent_id()) {
        return Ok(None);
    }
    let stream = UnixStream::connect_addr(&UnixAddr::from_abstract_name(name)?)?;
    stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    Ok(Some(Link {
        stream,
        events: None,
        all: Arc::default(),
    }))
}

impl Link {
    /// Every worker's figures, as the supervisor will tell them once this link has
    /// [`start`](Link::start)ed (empty until then).
    pub fn figures(&self) -> Figures {
        Figures {
            all: self.all.clone(),
        }
    }

    /// Passes the supervisor's live-reload events (`event KIND DATA`) to `streams`: the
    /// supervisor watches the files for every worker.
    pub fn forward_events_to(&mut self, streams: EventStreams) {
        self.events = Some(streams);
    }

    /// Says the worker is ready, and reads the supervisor's lines in a background thread,
    /// which calls `on_stop` once when the supervisor says `stop` or the link ends (the
    /// supervisor has died). The worker then [`beat`](Beats::beat)s every [`BEAT`] from a
    /// thread that shows it is alive (a Python worker's from one that takes the GIL).
    pub fn start(self, on_stop: impl FnOnce() + Send + 'static) -> io::Result<Beats> {
        let mut writer = self.stream.try_clone()?;
        writeln!(writer, "ready")?;
        let reader = self.stream;
        let all = self.all.clone();
        let events = self.events;
        std::thread::Builder::new()
            .name("basehttp-link".into())
            .spawn(move || {
                for line in BufReader::new(reader).lines() {
                    let Ok(line) = line else { break };
                    if line == "stop" {
                        break;
                    }
                    if let Some(rest) = line.strip_prefix("event ")
                        && let Some(streams) = &events
                    {
                        let (kind, data) = rest.split_once(' ').unwrap_or((rest, ""));
                        streams.send(Some(kind), data);
                    }
                    if let Some(rest) = line.strip_prefix("all ") {
                        *all.lock().unwrap_or_else(|e| e.into_inner()) = report::parse_all(rest);
                    }
                }
                on_stop();
            })?;
        Ok(Beats {
            writer,
            before: None,
        })
    }
}

/// The sending half of a started [`Link`].
#[derive(Debug)]
pub struct Beats {
    writer: UnixStream,
    /// The figures of the last call, to tell a wedged pool by.
    before: Option<Stats>,
}

impl Beats {
    /// Sends a heartbeat with `now`'s figures and `gil_wait` (seconds), unless the pool looks
    /// wedged since the last call (see [`report_if_progressing`]), and asks for every
    /// worker's figures (they arrive in [`Figures`] a moment later). True if it beat.
    pub fn beat_if_progressing(&mut self, now: Stats, gil_wait: f64) -> io::Result<bool> {
        let report = match &self.before {
            Some(before) => report_if_progressing(before, &now),
            // Nothing to compare with yet: no sign of a wedge.
            None => Some(report_of(&now)),
        };
        self.before = Some(now);
        let Some(mut report) = report else {
            return Ok(false);
        };
        report.gil_wait = gil_wait;
        let line = format!("beat {}\nall?\n", report.words());
        self.writer.write_all(line.as_bytes())?;
        Ok(true)
    }
}

/// Every worker's last figures, as the supervisor last told them (at most a [`BEAT`] or two
/// old).
#[derive(Debug, Clone)]
pub struct Figures {
    all: Arc<Mutex<Vec<Report>>>,
}

impl Figures {
    /// One report per worker process, in the supervisor's slot order.
    pub fn all(&self) -> Vec<Report> {
        self.all.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A worker's report from its pool's figures, or `None` if the pool looks wedged: every
/// thread busy and no request answered since `before` (a beat earlier).
///
/// ```
/// use basehttp::supervised::report_if_progressing;
/// let server = basehttp::Server::bind("127.0.0.1:0")?
///     .spawn(|_req: &mut basehttp::Request| basehttp::Response::text("ok"))?;
/// let idle = server.stats();
/// // Nothing answered since, but its threads are idle: not wedged.
/// assert_eq!(report_if_progressing(&idle, &idle).unwrap().served, 0);
/// server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn report_if_progressing(before: &Stats, now: &Stats) -> Option<Report> {
    let report = report_of(now);
    let all_busy = !now.worker_states.is_empty() && report.busy == now.worker_states.len();
    if all_busy && now.served == before.served {
        return None;
    }
    Some(report)
}

/// This process's report from its pool's figures.
fn report_of(now: &Stats) -> Report {
    let busy = now
        .worker_states
        .iter()
        .filter(|s| matches!(s, WorkerState::Handling | WorkerState::Writing))
        .count();
    Report {
        pid: std::process::id(),
        served: now.served,
        threads: now.workers,
        busy,
        parked: now.parked.total(),
        open: now.active_connections as usize,
        gil_wait: 0.0,
    }
}
