//! `python -m basehttp --processes N`: the supervisor (the core's [`basehttp::supervisor`],
//! run with the GIL released and Python's signal handlers checked at every tick), and a
//! supervised worker's heartbeat, sent from the thread that waits in `Handle.wait`, which
//! takes the GIL to send it: a wedged interpreter stops the beats, and the supervisor
//! replaces the worker after its timeout, printing its threads' stacks first (`SIGUSR1`, on
//! which the worker's `faulthandler` dumps them).

use std::process::Command;
use std::time::{Duration, Instant};

use basehttp::Stats;
use basehttp::supervised::{self, Beats};
use basehttp::supervisor::{self, Order, Supervisor};
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError};
use pyo3::prelude::*;

use crate::gil::GilWait;

pyo3::create_exception!(
    _native,
    Reload,
    pyo3::exceptions::PyException,
    "Raised by the supervisor's SIGHUP handler: replace the workers one at a time."
);

/// A supervised worker's beats: sent at most once a [`supervised::BEAT`].
pub struct Heart {
    beats: Beats,
    last: Instant,
}

impl Heart {
    pub fn new(beats: Beats) -> Heart {
        Heart {
            beats,
            last: Instant::now(),
        }
    }

    /// Beats if a beat is due and the pool is not wedged (called with the GIL held); `stats`
    /// is read only then.
    pub fn beat_if_due(&mut self, stats: impl FnOnce() -> Stats, gil_wait: &GilWait) {
        if self.last.elapsed() < supervised::BEAT {
            return;
        }
        self.last = Instant::now();
        let _ = self.beats.beat_if_progressing(stats(), gil_wait.seconds());
    }
}

/// Supervises `processes` workers, each `python ARGV` (this interpreter), on a socket bound
/// to `host`:`port` (or the one handed on to this process), until SIGINT or SIGTERM
/// (KeyboardInterrupt); `Reload` (SIGHUP) replaces them one at a time. `on_start((host,
/// port))` runs once the socket is bound.
#[pyfunction]
#[pyo3(signature = (argv, host, port, *, processes, max_requests=None, timeout=30.0, grace=6.0, on_start=None))]
#[allow(clippy::too_many_arguments)]
pub fn supervise(
    py: Python<'_>,
    argv: Vec<String>,
    host: &str,
    port: u16,
    processes: usize,
    max_requests: Option<u64>,
    timeout: f64,
    grace: f64,
    on_start: Option<Bound<'_, PyAny>>,
) -> PyResult<()> {
    let listener = match crate::listen::inherited()? {
        Some(inherited) => inherited.take()?,
        None => crate::listen::bind(py, host, port)?,
    };
    let local = listener.local_addr()?;
    let python = py
        .import("sys")?
        .getattr("executable")?
        .extract::<String>()?;
    let options = supervisor::Options {
        processes,
        max_requests,
        timeout: Duration::from_secs_f64(timeout.max(1.0)),
        grace: Duration::from_secs_f64(grace.max(0.0)),
        dump_stacks: true,
    };
    let mut supervisor = Supervisor::new(listener, options, move |_slot| {
        let mut cmd = Command::new(&python);
        cmd.args(&argv);
        cmd
    })?;
    if let Some(on_start) = on_start {
        on_start.call1(((local.ip().to_string(), local.port()),))?;
    }
    let mut raised: Option<PyErr> = None;
    let result = py.detach(|| {
        supervisor.run(|_| {
            Python::attach(|py| match py.check_signals() {
                Ok(()) => Order::Carry,
                Err(e) if e.is_instance_of::<Reload>(py) => Order::Reload,
                Err(e) => {
                    if !e.is_instance_of::<PyKeyboardInterrupt>(py) {
                        raised.get_or_insert(e);
                    }
                    Order::Stop
                }
            })
        })
    });
    if let Some(e) = raised {
        return Err(e);
    }
    result.map_err(|e| PyOSError::new_err(e.to_string()))
}
