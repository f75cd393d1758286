//! The WSGI handler: a [`basehttp::Handler`] that calls a Python application as PEP 3333
//! says, and turns what it returns into a response.
//!
//! The rest of PEP 3333 lives beside it: `environ` ([`crate::environ`]), `start_response`
//! and `write` ([`crate::start_response`]), the head's checks ([`crate::response_head`]),
//! `wsgi.file_wrapper` ([`crate::file_wrapper`]) and streamed iterables
//! ([`crate::iterable`]).

use basehttp::{Handler, Request, Response};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator, PyList, PyTuple, PyType};

use crate::environ::Environ;
use crate::file_wrapper::file_wrapper_of;
use crate::gil::GilWait;
use crate::iterable::{Broken, IterReader, close};
use crate::response_head::InvalidResponse;
use crate::start_response::{StartResponse, chunk};

/// The largest request body handed to an application (what the core receives first by
/// default is bounded by its own `max_buffered_body`; this is only a backstop).
const MAX_BODY: usize = 1 << 30;

/// Calls a WSGI application for each request.
pub struct Wsgi {
    app: Py<PyAny>,
    environ: Environ,
    /// `type(iter([]))` and `type(iter(()))`: an iterator over items already in memory, which
    /// can be taken whole without delaying any block (Django's `HttpResponse` iterates so).
    list_iterator: Py<PyType>,
    tuple_iterator: Py<PyType>,
    gil_wait: GilWait,
    live_reload: bool,
}

impl Wsgi {
    /// A handler for `app`, served as `server_name`:`server_port`; `process` is copied into
    /// every `environ` under the server's keys (the process environment, under runserver).
    pub fn new(
        py: Python<'_>,
        app: Bound<'_, PyAny>,
        server_name: &str,
        server_port: u16,
        process: Option<&Bound<'_, PyDict>>,
        gil_wait: GilWait,
    ) -> PyResult<Wsgi> {
        Ok(Wsgi {
            app: app.unbind(),
            environ: Environ::new(py, server_name, server_port, process)?,
            list_iterator: PyList::empty(py).try_iter()?.get_type().unbind(),
            tuple_iterator: PyTuple::empty(py).try_iter()?.get_type().unbind(),
            gil_wait,
            live_reload: false,
        })
    }

    /// With live reload, a page a browser navigates to is asked for uncompressed (its
    /// `HTTP_ACCEPT_ENCODING` removed), so the script can be put into it.
    pub fn set_live_reload(&mut self, on: bool) {
        self.live_reload = on;
    }

    /// Sets `wsgi.multiprocess` (see [`Environ::set_multiprocess`]).
    pub fn set_multiprocess(&self, py: Python<'_>, multiprocess: bool) -> PyResult<()> {
        self.environ.set_multiprocess(py, multiprocess)
    }

    /// Calls the application and turns what it returns into a response. The result's
    /// `close()` is called here unless the response streams it (then the reader calls it).
    fn call(
        &self,
        py: Python<'_>,
        req: &mut Request<'_>,
        body: Vec<u8>,
        had_body: bool,
    ) -> PyResult<Response> {
        let uncompressed = self.live_reload && basehttp::live_reload::is_navigation(req.head());
        let env = self.environ.build(py, req, body, had_body, uncompressed)?;
        // `write()` sends at once through the core's early response where it can begin now.
        let start = StartResponse::new(req.method() == "HEAD", req.early());
        let sr = Bound::new(py, start)?;
        let answer = self
            .app
            .bind(py)
            .call1((env, sr.clone()))
            .and_then(|result| match self.respond(&result, &sr) {
                Ok(Answer::Done(response)) => {
                    close(py, &result);
                    Ok(response)
                }
                Ok(Answer::Streams(response)) => Ok(response),
                Err(e) => {
                    close(py, &result);
                    Err(e)
                }
            });
        let early = sr.borrow_mut().take_early();
        match (answer, early) {
            (Ok(response), _) => Ok(response),
            // The head went out with `write()`: too late for a 500. The traceback is printed
            // and the connection closed, the client seeing a cut response.
            (Err(e), Some(early)) if early.started() => {
                eprintln!(
                    "basehttp: exception in the application for {} {} after its response began:",
                    req.method(),
                    req.target()
                );
                e.display(py);
                Ok(early.finish(Response::reader(Broken)))
            }
            (Err(e), _) => Err(e),
        }
    }

    fn respond(
        &self,
        result: &Bound<'_, PyAny>,
        sr: &Bound<'_, StartResponse>,
    ) -> PyResult<Answer> {
        if let Some(file) = zero_copy(result, sr)? {
            return Ok(Answer::Done(file));
        }
        let mut data = Vec::new();
        sr.borrow_mut().take_written(&mut data);
        // A list or tuple is the whole body: it gets a Content-Length.
        let items = if let Ok(list) = result.cast::<PyList>() {
            Some(list.iter().collect::<Vec<_>>())
        } else if let Ok(tuple) = result.cast::<PyTuple>() {
            Some(tuple.iter().collect::<Vec<_>>())
        } else {
            None
        };
        if let Some(items) = items {
            for item in items {
                data.extend_from_slice(chunk(&item)?);
            }
            if let Some(response) = finish_early(sr, &mut data) {
                return Ok(Answer::Done(response));
            }
            let head = sr.borrow().head()?;
            return Ok(Answer::Done(head.whole(data)));
        }
        // Any other iterable: advance it to its first non-empty chunk (start_response may be
        // called only then, by a generator), then stream the rest.
        let mut iter = result.try_iter()?;
        let mut exhausted = false;
        while data.is_empty() || !sr.borrow().called() {
            match iter.next() {
                None => {
                    exhausted = true;
                    break;
                }
                Some(item) => {
                    // What write() was given while the iterable made this chunk comes first.
                    let item = item?;
                    sr.borrow_mut().take_written(&mut data);
                    data.extend_from_slice(chunk(&item)?);
                }
            }
        }
        // An iterator over a list or tuple (`iter(HttpResponse)` is one) holds the rest in
        // memory already: taking it now delays nothing, and the response gets a length.
        if !exhausted && self.in_memory(&iter) {
            for item in iter.by_ref() {
                data.extend_from_slice(chunk(&item?)?);
            }
            exhausted = true;
        }
        if exhausted && let Some(response) = finish_early(sr, &mut data) {
            return Ok(Answer::Done(response));
        }
        let begun = sr.borrow().begun();
        let head = if begun {
            None
        } else {
            let head = sr.borrow().head()?;
            if exhausted || head.length.is_some_and(|len| data.len() as u64 >= len) {
                return Ok(Answer::Done(head.whole(data)));
            }
            Some(head)
        };
        sr.borrow_mut().sent();
        let reader = IterReader::new(data, iter, result, sr, self.gil_wait.clone());
        let response = match head {
            None => {
                let early = sr.borrow_mut().take_early();
                match early {
                    Some(early) => early.finish(Response::reader(reader)),
                    None => Response::reader(reader),
                }
            }
            Some(head) => match head.length {
                Some(len) => head.apply(Response::sized_reader(reader, len)),
                None => head.apply(Response::reader(reader)),
            },
        };
        Ok(Answer::Streams(response.pin_to_worker()))
    }

    /// Whether `iter` is a plain iterator over a list or a tuple.
    fn in_memory(&self, iter: &Bound<'_, PyIterator>) -> bool {
        let py = iter.py();
        let kind = iter.get_type();
        kind.is(self.list_iterator.bind(py)) || kind.is(self.tuple_iterator.bind(py))
    }
}

/// A file wrapper over a regular file goes out zero-copy, without Python: its response, if
/// `result` is one and nothing was written before it.
fn zero_copy(
    result: &Bound<'_, PyAny>,
    sr: &Bound<'_, StartResponse>,
) -> PyResult<Option<Response>> {
    let Some(wrapper) = file_wrapper_of(result) else {
        return Ok(None);
    };
    if !sr.borrow().untouched() {
        return Ok(None);
    }
    let head = sr.borrow().head()?;
    let file = wrapper.borrow().regular_file(result.py(), head.declared)?;
    Ok(file.map(|file| head.apply(file)))
}

/// The response for a body whose head `write()` already sent: `data`, the rest of it, after
/// what went out. `None` if the response has not begun.
fn finish_early(sr: &Bound<'_, StartResponse>, data: &mut Vec<u8>) -> Option<Response> {
    let mut sr = sr.borrow_mut();
    if !sr.begun() {
        return None;
    }
    let early = sr.take_early()?;
    Some(early.finish(Response::bytes(std::mem::take(data))))
}

enum Answer {
    /// The whole response; the result may be closed now.
    Done(Response),
    /// A response whose body reader owns the result and closes it.
    Streams(Response),
}

impl Handler for Wsgi {
    fn handle(&self, req: &mut Request<'_>) -> Response {
        // The body was received before the handler ran (the default body policy), so this
        // reads memory or a spill file, without the GIL.
        let had_body = req.has_body();
        let body = match req.read_body_to_vec(MAX_BODY) {
            Ok(body) => body,
            Err(e) => {
                eprintln!(
                    "basehttp: {} {}: request body: {e}",
                    req.method(),
                    req.target()
                );
                return Response::error(400);
            }
        };
        self.gil_wait
            .attach(|py| match self.call(py, &mut *req, body, had_body) {
                Ok(response) => response,
                Err(e) => {
                    if e.is_instance_of::<InvalidResponse>(py) {
                        eprintln!(
                            "basehttp: 500 for {} {}: {}",
                            req.method(),
                            req.target(),
                            e.value(py)
                        );
                    } else {
                        eprintln!(
                            "basehttp: exception in the application for {} {}:",
                            req.method(),
                            req.target()
                        );
                        e.display(py);
                    }
                    Response::error(500)
                }
            })
    }
}
