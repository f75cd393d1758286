//! PEP 3333's `start_response` callable and the `write` it returns, for one request.

use basehttp::Early;
use pyo3::exceptions::{PyAssertionError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::response_head::Head;

/// Where the response's head is.
enum Phase {
    /// `start_response` has not been called.
    Waiting,
    /// Called: the status and headers given, not sent. A call with `exc_info` may replace
    /// them.
    Given {
        status: String,
        headers: Vec<(String, String)>,
    },
    /// The head is on its way (`write()` sent it, or the response went to the server): a
    /// later call with `exc_info` re-raises.
    Sent,
}

/// The `start_response` callable of one request; it returns its `write`.
#[pyclass(module = "basehttp._native")]
pub struct StartResponse {
    phase: Phase,
    /// What `write()` was given and the server has not sent yet (once the application has
    /// returned, or where the response could not begin early).
    written: Vec<u8>,
    /// The request is a `HEAD`.
    head_request: bool,
    /// While the application runs: the core's response begun early, which `write()` sends
    /// through at once.
    early: Option<Early>,
}

impl StartResponse {
    /// For a request (`head_request` if it is a `HEAD`) whose response may begin early
    /// through `early`.
    pub fn new(head_request: bool, early: Option<Early>) -> StartResponse {
        StartResponse {
            phase: Phase::Waiting,
            written: Vec::new(),
            head_request,
            early,
        }
    }

    /// True once the application has called it.
    pub fn called(&self) -> bool {
        !matches!(self.phase, Phase::Waiting)
    }

    /// True once `write()` has sent the head.
    pub fn begun(&self) -> bool {
        self.early.as_ref().is_some_and(|early| early.started())
    }

    /// The head given and not yet sent, checked.
    pub fn head(&self) -> PyResult<Head> {
        match &self.phase {
            Phase::Given { status, headers } => Head::of(status, headers, self.head_request),
            Phase::Waiting => Err(PyAssertionError::new_err(
                "the application returned without calling start_response",
            )),
            Phase::Sent => Err(PyAssertionError::new_err("the head was sent already")),
        }
    }

    /// Notes that the head has gone to the server.
    pub fn sent(&mut self) {
        self.phase = Phase::Sent;
    }

    /// True if nothing was written and the head is given, not sent: the response may still
    /// be anything.
    pub fn untouched(&self) -> bool {
        matches!(self.phase, Phase::Given { .. }) && self.written.is_empty() && !self.begun()
    }

    /// Moves what `write()` was given to the end of `out`.
    pub fn take_written(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.written);
    }

    /// The early response, to be finished with the body (the application has returned).
    pub fn take_early(&mut self) -> Option<Early> {
        self.early.take()
    }

    /// Sends `data` now: the head first, on the first call. `Ok(false)` where no early
    /// response is open (the bytes are then buffered).
    fn send_early(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<bool> {
        if self.early.is_none() {
            return Ok(false);
        }
        if !self.begun() {
            let head = self.head()?.alone();
            let early = self.early.as_mut().expect("checked above");
            py.detach(move || early.start(&head))?;
            self.sent();
        }
        let early = self.early.as_mut().expect("checked above");
        py.detach(|| early.write(data))?;
        Ok(true)
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info=None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let exc_info = exc_info.filter(|e| !e.is_none());
        {
            let mut me = slf.borrow_mut();
            match (&me.phase, exc_info) {
                // PEP 3333: too late to change the response; re-raise the error.
                (Phase::Sent, Some(exc)) => return Err(PyErr::from_value(exc.get_item(1)?)),
                (Phase::Given { .. } | Phase::Sent, None) => {
                    return Err(PyAssertionError::new_err(
                        "start_response called a second time without exc_info",
                    ));
                }
                _ => {}
            }
            if !status.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err("the status must be a str"));
            }
            let status: String = status.extract()?;
            let headers: Vec<(String, String)> = headers
                .extract()
                .map_err(|_| PyTypeError::new_err("headers must be a list of (str, str)"))?;
            me.phase = Phase::Given { status, headers };
        }
        slf.getattr(intern!(py, "write"))
    }

    /// PEP 3333's `write(data)`: the bytes go out before the iterable's.
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.called() {
            return Err(PyAssertionError::new_err(
                "write() called before start_response",
            ));
        }
        let bytes = chunk(data)?;
        if bytes.is_empty() || self.send_early(data.py(), bytes)? {
            return Ok(());
        }
        self.written.extend_from_slice(bytes);
        Ok(())
    }
}

/// A body chunk: bytes, as PEP 3333 requires.
pub fn chunk<'a>(item: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    match item.cast::<PyBytes>() {
        Ok(bytes) => Ok(bytes.as_bytes()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "the application's iterable yielded {}, not bytes",
            item.get_type().name()?
        ))),
    }
}
