//! Rust's I/O errors as Python's.

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// An `OSError` with `errno` and `strerror` set, as Python's own `socket.bind` raises it, so
/// callers can tell a port in use (runserver's "That port is already in use.") from the rest.
pub fn os_error(err: std::io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => {
            let text = err.to_string();
            let strerror = text
                .trim_end_matches(&format!(" (os error {code})"))
                .to_owned();
            PyOSError::new_err((code, strerror))
        }
        None => err.into(),
    }
}
