//! `basehttp._native`: basehttp's thread pool serving a Python WSGI application (PEP 3333).
//!
//! Each worker thread attaches to the interpreter once for its whole life, through
//! [`Server::wrap_worker`], and detaches at once around the worker's loop: it holds the GIL
//! only while it calls Python (building `environ`, calling the application, advancing its
//! iterable), never while it waits for a connection or does socket I/O. Because the thread
//! keeps one Python thread state for its life, `threading.local()` values (Django's database
//! connections) persist from one request to the next on the same worker.

#![forbid(unsafe_code)]

mod environ;
mod errors;
mod file_wrapper;
mod gil;
mod iterable;
mod listen;
mod logger;
mod response_head;
mod start_response;
mod stats;
mod supervise;
mod watch;
mod wsgi;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use basehttp::live_reload::{self, LiveReload};
use basehttp::{AccessLog, Config, EventStreams, Server, ServerHandle, WhenFull};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub use gil::GilWait;
pub use wsgi::Wsgi;

/// Attaches the worker thread to the interpreter once, then runs its loop detached. The loop
/// is `Send` (the core hands it over so), which is what `detach` asks of code that runs
/// without the GIL: it holds no Python reference, and re-attaches whenever it calls Python.
fn attach_for_life(run: &mut (dyn FnMut() + Send)) {
    Python::attach(|py| py.detach(run));
}

/// A running server, as `basehttp.start` returns it.
#[pyclass(module = "basehttp._native", name = "Handle", weakref)]
struct Handle {
    inner: Mutex<Option<ServerHandle>>,
    /// Under a supervisor: the heartbeat, every worker's figures, and whether the supervisor
    /// has said stop.
    heart: Mutex<Option<supervise::Heart>>,
    figures: Option<basehttp::supervised::Figures>,
    stop_asked: Arc<AtomicBool>,
    /// With live reload: the event streams of the open tabs.
    streams: Option<EventStreams>,
    addr: SocketAddr,
    gil_wait: GilWait,
    workers: usize,
    queue: usize,
    when_full: &'static str,
    keep_alive: f64,
}

#[pymethods]
impl Handle {
    /// The bound address as `(host, port)`, with the real port when bound to port 0.
    #[getter]
    fn address(&self) -> (String, u16) {
        (self.addr.ip().to_string(), self.addr.port())
    }

    /// True until the server is shut down (what `stats()["running"]` says, without the
    /// snapshot).
    #[getter]
    fn running(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The pool's settings in force: workers, queue, when_full, keep_alive (seconds).
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("workers", self.workers)?;
        d.set_item("queue", self.queue)?;
        d.set_item("when_full", self.when_full)?;
        d.set_item("keep_alive", self.keep_alive)?;
        Ok(d)
    }

    /// A snapshot of the server's counters (every field of the core's `Stats`, by name),
    /// `running`, and `gil_wait`: the seconds workers spent in total waiting to attach to the
    /// interpreter.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("gil_wait", self.gil_wait.seconds())?;
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        d.set_item("running", guard.is_some())?;
        if let Some(handle) = guard.as_ref() {
            stats::fill(&d, stats::figures(&handle.stats()))?;
        }
        drop(guard);
        // Which process this is, and under a supervisor every worker process's last figures.
        d.set_item("pid", std::process::id())?;
        let processes = pyo3::types::PyList::empty(py);
        for r in self.figures.as_ref().map(|f| f.all()).unwrap_or_default() {
            let p = PyDict::new(py);
            p.set_item("pid", r.pid)?;
            p.set_item("served", r.served)?;
            p.set_item("threads", r.threads)?;
            p.set_item("busy", r.busy)?;
            p.set_item("parked", r.parked)?;
            p.set_item("open", r.open)?;
            p.set_item("gil_wait", r.gil_wait)?;
            processes.append(p)?;
        }
        d.set_item("processes", processes)?;
        Ok(d)
    }

    /// Stops gracefully (in-flight requests finish within the grace period) without holding
    /// the GIL, so workers can finish their Python calls. True if all finished in time;
    /// calling it again does nothing and returns True.
    fn shutdown(&self, py: Python<'_>) -> bool {
        let handle = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        match handle {
            Some(handle) => py.detach(move || handle.shutdown()),
            None => true,
        }
    }

    /// Live reload: tells every open tab that something changed. `kind` is `"css"` with a
    /// stylesheet's URL path as `data` (swapped in place where a tab links it), or `"reload"`
    /// (the tabs reload). Does nothing without `live_reload=True`.
    fn reload(&self, py: Python<'_>, kind: &str, data: &str) {
        if let Some(streams) = &self.streams {
            py.detach(|| streams.send(Some(kind), data));
        }
    }

    /// Waits, without the GIL, until the server is shut down (or, under a supervisor, until
    /// the supervisor says stop), checking for signals every 100 ms: a signal handler's
    /// exception (KeyboardInterrupt for Ctrl-C) is raised here. Under a supervisor it also
    /// sends the heartbeat, once a second, with the GIL held.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        loop {
            if self.stop_asked.load(Relaxed) {
                return Ok(());
            }
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let Some(handle) = &*inner else {
                return Ok(());
            };
            if let Some(heart) = &mut *self.heart.lock().unwrap_or_else(|e| e.into_inner()) {
                heart.beat_if_due(|| handle.stats(), &self.gil_wait);
            }
            drop(inner);
            py.detach(|| std::thread::sleep(Duration::from_millis(100)));
            py.check_signals()?;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let handle = self
            .inner
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            // Workers need the GIL to finish: stop the pool without it.
            Python::attach(|py| py.detach(move || handle.shutdown()));
        }
    }
}

/// How long a Python handler may run before its worker's place at the run gate is lent to
/// another worker (`Config::lend_after`; the core's default is 200 µs, far below what a Python
/// view takes).
const PYTHON_LEND_AFTER: Duration = Duration::from_millis(2);

/// Starts serving `app` in the background and returns a [`Handle`].
#[pyfunction]
#[pyo3(signature = (app, host="127.0.0.1", port=8000, *, workers=8, queue=None, when_full="block", keep_alive=None, access_log=false, color=false, base_environ=None, listener=None, live_reload=false))]
#[allow(clippy::too_many_arguments)]
fn start(
    py: Python<'_>,
    app: Bound<'_, PyAny>,
    host: &str,
    port: i64,
    workers: usize,
    queue: Option<usize>,
    when_full: &str,
    keep_alive: Option<f64>,
    access_log: bool,
    color: bool,
    base_environ: Option<Bound<'_, PyDict>>,
    listener: Option<PyRef<'_, listen::Listener>>,
    live_reload: bool,
) -> PyResult<Handle> {
    let Ok(port) = u16::try_from(port) else {
        return Err(PyValueError::new_err(format!(
            "port {port} is out of range (0-65535)"
        )));
    };
    if !app.is_callable() {
        return Err(PyValueError::new_err(
            "the WSGI application must be callable",
        ));
    }
    if workers == 0 {
        return Err(PyValueError::new_err("workers must be at least 1"));
    }
    // A worker of `python -m basehttp --processes`: its supervisor is its parent.
    let link = listener.as_ref().and_then(|l| l.take_link());
    let server = match listener {
        // Handed on (a supervisor's, Django's autoreloader's, systemd's): host and port are
        // the socket's, shared with its siblings.
        Some(listener) => Server::from_listener(listener.take()?).shared_listener(),
        None => Server::from_listener(listen::bind(py, host, port)?),
    };
    let server = pool_options(server.workers(workers), queue, when_full, keep_alive)?;
    let config = python_config(server.current_config().clone(), access_log, color);
    let addr = server.local_addr()?;
    let gil_wait = GilWait::default();
    let mut handler = Wsgi::new(
        py,
        app,
        host,
        addr.port(),
        base_environ.as_ref(),
        gil_wait.clone(),
    )?;
    handler.set_multiprocess(py, link.is_some())?;
    handler.set_live_reload(live_reload);
    let server = server.config(config).wrap_worker(attach_for_life);
    let (handle, streams) = if live_reload {
        let streams = EventStreams::new(live_reload::MAX_STREAMS);
        let handler = LiveReload::new(handler, streams.clone()).injecting();
        (server.spawn(handler)?, Some(streams))
    } else {
        (server.spawn(handler)?, None)
    };
    Handle::new(handle, link, streams, gil_wait)
}

/// The pool's options from `start`'s arguments, checked.
fn pool_options(
    mut server: Server,
    queue: Option<usize>,
    when_full: &str,
    keep_alive: Option<f64>,
) -> PyResult<Server> {
    if let Some(queue) = queue {
        server = server.queue(queue);
    }
    let when_full: WhenFull = when_full
        .parse()
        .map_err(|e| PyValueError::new_err(format!("when_full: {e}")))?;
    server = server.when_full(when_full);
    if let Some(secs) = keep_alive {
        if !(secs >= 0.0 && secs.is_finite()) {
            return Err(PyValueError::new_err(
                "keep_alive must be a number of seconds >= 0",
            ));
        }
        server = server.keep_alive(Duration::from_secs_f64(secs));
    }
    Ok(server)
}

/// The configuration for Python handlers, and the access log.
fn python_config(mut config: Config, access_log: bool, color: bool) -> Config {
    // Python code runs on one thread at a time: a second running worker only contends for
    // the GIL (measured: a Django view at 64 connections, 4,400 req/s with the core's default
    // of as many running workers as cores, 8,300 with one). A handler busy longer than
    // PYTHON_LEND_AFTER is taken to block (a database call, a sleep) and lends its place
    // so that the other workers serve meanwhile; a CPU-bound view of a millisecond is not.
    // No spare places either: a long handler's Python still holds the GIL while it computes.
    config.active_workers = 1;
    config.spare_places = 0;
    config.lend_after = PYTHON_LEND_AFTER;
    config.access_log = if access_log {
        AccessLog::Stderr { color }
    } else {
        AccessLog::Off
    };
    config
}

impl Handle {
    /// The handle of a server started by `start`: under a supervisor, its link starts (the
    /// worker is ready) and its heartbeat is kept here.
    fn new(
        handle: ServerHandle,
        link: Option<basehttp::supervised::Link>,
        streams: Option<EventStreams>,
        gil_wait: GilWait,
    ) -> PyResult<Handle> {
        let figures = link.as_ref().map(|l| l.figures());
        let stop_asked = Arc::new(AtomicBool::new(false));
        let heart = match link {
            Some(link) => {
                let asked = stop_asked.clone();
                let beats = link.start(move || asked.store(true, Relaxed))?;
                Some(supervise::Heart::new(beats))
            }
            None => None,
        };
        let config = handle.config();
        Ok(Handle {
            workers: config.workers,
            queue: config.queue,
            when_full: config.when_full.name(),
            keep_alive: config.keep_alive.as_secs_f64(),
            addr: handle.local_addr(),
            inner: Mutex::new(Some(handle)),
            heart: Mutex::new(heart),
            figures,
            streams,
            stop_asked,
            gil_wait,
        })
    }
}

/// The extension module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Handle>()?;
    m.add_class::<listen::Listener>()?;
    m.add_class::<watch::Watcher>()?;
    m.add_function(wrap_pyfunction!(listen::inherited, m)?)?;
    m.add_function(wrap_pyfunction!(listen::bind_fd, m)?)?;
    let mut handover = basehttp::listen_fds::VARIABLES.to_vec();
    handover.push(basehttp::supervisor::SUPERVISOR);
    m.add("HANDOVER_VARIABLES", handover)?;
    m.add_function(wrap_pyfunction!(supervise::supervise, m)?)?;
    m.add("Reload", m.py().get_type::<supervise::Reload>())?;
    m.add_class::<start_response::StartResponse>()?;
    m.add_class::<file_wrapper::FileWrapper>()?;
    m.add(
        "InvalidResponse",
        m.py().get_type::<response_head::InvalidResponse>(),
    )?;
    // The core's errors (the HTTPS hint, failed sends) on stderr, as the binary prints them.
    logger::install();
    m.add_function(wrap_pyfunction!(start, m)?)?;
    Ok(())
}
