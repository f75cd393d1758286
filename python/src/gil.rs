//! The time workers spend waiting to attach to the interpreter (the GIL), counted on every
//! attach and reported as `Handle.stats()["gil_wait"]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use pyo3::Python;

/// The total wait, shared by the handler, its response readers and the handle.
#[derive(Clone, Default)]
pub struct GilWait(Arc<AtomicU64>);

impl GilWait {
    /// Attaches to the interpreter and runs `f`, counting the time spent waiting.
    pub fn attach<T>(&self, f: impl FnOnce(Python<'_>) -> T) -> T {
        let asked = Instant::now();
        Python::attach(|py| {
            self.0.fetch_add(asked.elapsed().as_nanos() as u64, Relaxed);
            f(py)
        })
    }

    /// The total wait so far, in seconds.
    pub fn seconds(&self) -> f64 {
        self.0.load(Relaxed) as f64 / 1e9
    }
}
