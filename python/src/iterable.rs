//! Response bodies from the application's iterable: streamed by [`IterReader`] on the
//! worker that called the application, `close()` always called (PEP 3333).

use std::io::{self, Read};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyIterator;

use crate::gil::GilWait;
use crate::start_response::{StartResponse, chunk};

/// Streams an iterable's chunks, advancing it on the worker thread that called the
/// application (the response is pinned there), attached only while it calls Python.
pub struct IterReader {
    buf: Vec<u8>,
    pos: usize,
    iter: Option<Py<PyIterator>>,
    result: Option<Py<PyAny>>,
    sr: Py<StartResponse>,
    gil_wait: GilWait,
}

impl IterReader {
    /// A reader that sends `buf` (the chunks taken so far), then what `iter` yields and
    /// `write()` is given meanwhile, and closes `result` at the end.
    pub fn new(
        buf: Vec<u8>,
        iter: Bound<'_, PyIterator>,
        result: &Bound<'_, PyAny>,
        sr: &Bound<'_, StartResponse>,
        gil_wait: GilWait,
    ) -> IterReader {
        IterReader {
            buf,
            pos: 0,
            iter: Some(iter.unbind()),
            result: Some(result.clone().unbind()),
            sr: sr.clone().unbind(),
            gil_wait,
        }
    }
}

impl Read for IterReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            self.buf.clear();
            self.pos = 0;
            let Some(iter) = self.iter.as_ref() else {
                return Ok(0);
            };
            let (buf, sr) = (&mut self.buf, &self.sr);
            let step = self.gil_wait.attach(|py| -> PyResult<bool> {
                let sr = sr.bind(py);
                sr.borrow_mut().take_written(buf);
                if !buf.is_empty() {
                    return Ok(true);
                }
                match iter.bind(py).clone().next() {
                    None => Ok(false),
                    Some(item) => {
                        let item = item?;
                        sr.borrow_mut().take_written(buf);
                        buf.extend_from_slice(chunk(&item)?);
                        Ok(true)
                    }
                }
            });
            match step {
                Ok(true) => continue,
                Ok(false) => {
                    self.iter = None;
                    return Ok(0);
                }
                Err(e) => {
                    self.iter = None;
                    self.gil_wait.attach(|py| {
                        eprintln!("basehttp: exception in the response iterable:");
                        e.display(py);
                    });
                    return Err(io::Error::other("the response iterable raised"));
                }
            }
        }
    }
}

impl Drop for IterReader {
    fn drop(&mut self) {
        // close() is always called: after the last chunk, on an error, and when the client
        // went away mid-response.
        let (iter, result) = (self.iter.take(), self.result.take());
        self.gil_wait.attach(|py| {
            drop(iter);
            if let Some(result) = result {
                close(py, result.bind(py));
            }
        });
    }
}

/// Calls `result.close()` if it has one; an exception there is printed.
pub fn close(py: Python<'_>, result: &Bound<'_, PyAny>) {
    match result.getattr_opt(intern!(py, "close")) {
        Ok(Some(close)) => {
            if let Err(e) = close.call0() {
                eprintln!("basehttp: exception in the response's close():");
                e.display(py);
            }
        }
        Ok(None) => {}
        Err(e) => e.display(py),
    }
}

/// The body of a response cut short: the application raised after its head was sent.
pub struct Broken;

impl Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other(
            "the application raised after its response began",
        ))
    }
}
