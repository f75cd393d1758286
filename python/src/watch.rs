//! `basehttp._native.Watcher`: the operating system's file watcher (inotify on Linux, through
//! `notify`) for Django's autoreloader (`basehttp.reloader`), in place of its `StatReloader`,
//! which looks at every watched file once a second. Changes come as they happen; waiting for
//! them releases the GIL.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// Changes within this long of the first are one batch (an editor writes a file in steps).
const BATCH: Duration = Duration::from_millis(50);

/// A set of watched directories and the changes under them.
#[pyclass(module = "basehttp._native", name = "Watcher")]
pub struct Watcher {
    watcher: Mutex<RecommendedWatcher>,
    changes: Mutex<Receiver<notify::Result<Event>>>,
}

fn os_error(e: notify::Error) -> PyErr {
    PyOSError::new_err(e.to_string())
}

#[pymethods]
impl Watcher {
    #[new]
    fn new() -> PyResult<Watcher> {
        let (tx, rx) = mpsc::channel();
        let watcher = notify::recommended_watcher(tx).map_err(os_error)?;
        Ok(Watcher {
            watcher: Mutex::new(watcher),
            changes: Mutex::new(rx),
        })
    }

    /// Watches `path` (a directory), with what is below it if `recursive`.
    fn watch(&self, path: PathBuf, recursive: bool) -> PyResult<()> {
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        self.watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .watch(&path, mode)
            .map_err(os_error)
    }

    /// Stops watching `path`.
    fn unwatch(&self, path: PathBuf) -> PyResult<()> {
        self.watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwatch(&path)
            .map_err(os_error)
    }

    /// The paths changed (made, written, renamed, removed) within `timeout` seconds: waits
    /// for the first without the GIL, then gathers what follows within 50 ms. Reads are not
    /// changes. Empty if nothing changed in time.
    fn changes(&self, py: Python<'_>, timeout: f64) -> Vec<PathBuf> {
        py.detach(|| {
            let rx = self.changes.lock().unwrap_or_else(|e| e.into_inner());
            let mut changed = Vec::new();
            // Reads (every open of a file in a watched directory, by anyone) do not wake the
            // caller: only a change ends the wait.
            let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
            while changed.is_empty() {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(event) => keep_changes(event, &mut changed),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                        return changed;
                    }
                }
            }
            let until = Instant::now() + BATCH;
            while let Ok(more) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                keep_changes(more, &mut changed);
            }
            changed.sort();
            changed.dedup();
            changed
        })
    }
}

/// The paths of an event that changes a file; not a read.
fn keep_changes(event: notify::Result<Event>, changed: &mut Vec<PathBuf>) {
    use notify::event::{MetadataKind, ModifyKind};
    let Ok(event) = event else { return };
    let change = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    };
    if change {
        changed.extend(event.paths);
    }
}
