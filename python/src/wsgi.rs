//! The WSGI handler: a [`basehttp::Handler`] that calls a Python application as PEP 3333
//! says, with the `environ` Django's `runserver` gives.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use basehttp::{Handler, Request, Response, reason_phrase};
use pyo3::exceptions::{PyAssertionError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyList, PyString, PyTuple, PyType};

/// The largest request body handed to an application (what the core receives first by
/// default is bounded by its own `max_buffered_body`; this is only a backstop).
const MAX_BODY: usize = 1 << 30;

/// Response header fields PEP 3333 forbids an application to set (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Calls a WSGI application for each request.
pub struct Wsgi {
    app: Py<PyAny>,
    /// The keys that are the same on every request; each request's `environ` starts as a copy.
    base: Py<PyDict>,
    bytes_io: Py<PyAny>,
    /// `type(iter([]))` and `type(iter(()))`: an iterator over items already in memory, which
    /// can be taken whole without delaying any block (Django's `HttpResponse` iterates so).
    list_iterator: Py<PyType>,
    tuple_iterator: Py<PyType>,
    gil_wait: Arc<AtomicU64>,
}

impl Wsgi {
    /// A handler for `app`, served as `server_name`:`server_port`.
    pub fn new(
        py: Python<'_>,
        app: Bound<'_, PyAny>,
        server_name: &str,
        server_port: u16,
        gil_wait: Arc<AtomicU64>,
    ) -> PyResult<Wsgi> {
        let base = PyDict::new(py);
        base.set_item("SCRIPT_NAME", "")?;
        base.set_item("SERVER_NAME", server_name)?;
        base.set_item("SERVER_PORT", server_port.to_string())?;
        base.set_item("wsgi.version", (1, 0))?;
        base.set_item("wsgi.url_scheme", "http")?;
        base.set_item("wsgi.errors", py.import("sys")?.getattr("stderr")?)?;
        base.set_item("wsgi.multithread", true)?;
        base.set_item("wsgi.multiprocess", false)?;
        base.set_item("wsgi.run_once", false)?;
        base.set_item("wsgi.input_terminated", true)?;
        base.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
        Ok(Wsgi {
            app: app.unbind(),
            base: base.unbind(),
            bytes_io: py.import("io")?.getattr("BytesIO")?.unbind(),
            list_iterator: PyList::empty(py).try_iter()?.get_type().unbind(),
            tuple_iterator: PyTuple::empty(py).try_iter()?.get_type().unbind(),
            gil_wait,
        })
    }

    /// Attaches to the interpreter, counting the time spent waiting for the GIL.
    fn attach<T>(&self, f: impl FnOnce(Python<'_>) -> T) -> T {
        attach_counted(&self.gil_wait, f)
    }

    fn environ<'py>(
        &self,
        py: Python<'py>,
        req: &Request<'_>,
        body: Vec<u8>,
        had_body: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let env = self.base.bind(py).copy()?;
        env.set_item(intern!(py, "REQUEST_METHOD"), req.method())?;
        env.set_item(
            intern!(py, "PATH_INFO"),
            latin1(&percent_decode(req.path().as_bytes())),
        )?;
        env.set_item(intern!(py, "QUERY_STRING"), req.query().unwrap_or(""))?;
        env.set_item(intern!(py, "SERVER_PROTOCOL"), req.version().as_str())?;
        env.set_item(intern!(py, "REMOTE_ADDR"), req.peer_addr().ip().to_string())?;
        // Header names with '_' are dropped (as runserver does): `X_Forwarded_For` must not
        // pose as `X-Forwarded-For`. Repeated fields are joined with ','.
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut content_type = None;
        let mut content_length = None;
        for (name, value) in req.headers() {
            if name.contains('_') {
                continue;
            }
            let value = latin1(value);
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value);
                continue;
            }
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value);
                continue;
            }
            let key: String = "HTTP_"
                .chars()
                .chain(name.chars().map(|c| match c {
                    '-' => '_',
                    c => c.to_ascii_uppercase(),
                }))
                .collect();
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(&value);
                }
                None => fields.push((key, value)),
            }
        }
        for (key, value) in fields {
            env.set_item(key, value)?;
        }
        // An absolute-form target's authority, not the Host field (RFC 9112 §3.2.2).
        if let Some(host) = req.host() {
            env.set_item(intern!(py, "HTTP_HOST"), host)?;
        }
        // As wsgiref (and so runserver) does: the default type when none was sent.
        env.set_item(
            intern!(py, "CONTENT_TYPE"),
            content_type.as_deref().unwrap_or("text/plain"),
        )?;
        // A chunked body was received whole before the handler ran: its length is known, and
        // Django reads no body without CONTENT_LENGTH.
        if had_body || content_length.is_some() {
            env.set_item(intern!(py, "CONTENT_LENGTH"), body.len().to_string())?;
        }
        let input = self.bytes_io.bind(py).call1((PyBytes::new(py, &body),))?;
        env.set_item(intern!(py, "wsgi.input"), input)?;
        Ok(env)
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
        let env = self.environ(py, req, body, had_body)?;
        // `write()` sends at once through the core's early response where it can begin now.
        let start = StartResponse {
            head_request: req.method() == "HEAD",
            early: req.early(),
            ..StartResponse::default()
        };
        let sr = Bound::new(py, start)?;
        let answer = self
            .app
            .bind(py)
            .call1((env, sr.clone()))
            .and_then(|result| match self.respond(req, &result, &sr) {
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
        let early = sr.borrow_mut().early.take();
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
        req: &Request<'_>,
        result: &Bound<'_, PyAny>,
        sr: &Bound<'_, StartResponse>,
    ) -> PyResult<Answer> {
        if let Some(file) = zero_copy(req, result, sr)? {
            return Ok(Answer::Done(file));
        }
        let mut data = std::mem::take(&mut sr.borrow_mut().written);
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
            let head = Head::take(sr, req)?;
            return Ok(Answer::Done(head.whole(data)));
        }
        // Any other iterable: advance it to its first non-empty chunk (start_response may be
        // called only then, by a generator), then stream the rest.
        let mut iter = result.try_iter()?;
        let mut exhausted = false;
        while data.is_empty() || sr.borrow().status.is_none() {
            match iter.next() {
                None => {
                    exhausted = true;
                    break;
                }
                Some(item) => {
                    // What write() was given while the iterable made this chunk comes first.
                    let item = item?;
                    data.append(&mut sr.borrow_mut().written);
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
            let head = Head::take(sr, req)?;
            if exhausted || head.length.is_some_and(|len| data.len() as u64 >= len) {
                return Ok(Answer::Done(head.whole(data)));
            }
            Some(head)
        };
        sr.borrow_mut().headers_sent = true;
        let reader = IterReader {
            buf: data,
            pos: 0,
            iter: Some(iter.unbind()),
            result: Some(result.clone().unbind()),
            sr: sr.clone().unbind(),
            gil_wait: self.gil_wait.clone(),
        };
        let response = match head {
            None => {
                let early = sr.borrow_mut().early.take();
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
}

/// A file wrapper over a regular file goes out zero-copy, without Python: its response, if
/// `result` is one and nothing was written before it.
fn zero_copy(
    req: &Request<'_>,
    result: &Bound<'_, PyAny>,
    sr: &Bound<'_, StartResponse>,
) -> PyResult<Option<Response>> {
    let Some(wrapper) = file_wrapper_of(result) else {
        return Ok(None);
    };
    let ready = {
        let sr = sr.borrow();
        sr.status.is_some() && sr.written.is_empty() && !sr.begun()
    };
    if !ready {
        return Ok(None);
    }
    let head = Head::take(sr, req)?;
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
    let early = sr.early.take()?;
    Some(early.finish(Response::bytes(std::mem::take(data))))
}

/// The body of a response cut short: the application raised after its head was sent.
struct Broken;

impl Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other(
            "the application raised after its response began",
        ))
    }
}

impl Wsgi {
    /// Whether `iter` is a plain iterator over a list or a tuple.
    fn in_memory(&self, iter: &Bound<'_, PyIterator>) -> bool {
        let py = iter.py();
        let kind = iter.get_type();
        kind.is(self.list_iterator.bind(py)) || kind.is(self.tuple_iterator.bind(py))
    }
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
        self.attach(|py| match self.call(py, &mut *req, body, had_body) {
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

pyo3::create_exception!(
    _native,
    InvalidResponse,
    pyo3::exceptions::PyException,
    "The application's status line or headers cannot be sent."
);

/// The status and headers the application gave `start_response`, checked.
struct Head {
    status: u16,
    /// The application's reason phrase when it is not the standard one.
    reason: Option<String>,
    headers: Vec<(String, String)>,
    /// The application's own Content-Length, for the body this response sends (none for
    /// `HEAD`).
    length: Option<u64>,
    /// The application's own Content-Length, `HEAD` or not.
    declared: Option<u64>,
}

impl Head {
    fn take(sr: &Bound<'_, StartResponse>, req: &Request<'_>) -> PyResult<Head> {
        Head::of(&sr.borrow(), req.method() == "HEAD")
    }

    /// The head `start_response` was given, checked; `head_request` for a `HEAD`.
    fn of(sr: &StartResponse, head_request: bool) -> PyResult<Head> {
        let Some(status_line) = sr.status.as_deref() else {
            return Err(PyAssertionError::new_err(
                "the application returned without calling start_response",
            ));
        };
        let invalid = |why: String| Err(InvalidResponse::new_err(why));
        let bytes = status_line.as_bytes();
        if bytes.len() < 4
            || !bytes[..3].iter().all(u8::is_ascii_digit)
            || bytes[3] != b' '
            || bytes.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
        {
            return invalid(format!("invalid status line {status_line:?}"));
        }
        let status: u16 = status_line[..3].parse().unwrap_or(0);
        if !(200..=599).contains(&status) {
            return invalid(format!("status {status} is not a final status (200-599)"));
        }
        // RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ). A non-ASCII phrase
        // (latin-1 in a WSGI native string) gets the standard one rather than a re-encoding.
        let phrase = &status_line[4..];
        if !phrase
            .bytes()
            .all(|b| b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80)
        {
            return invalid(format!("invalid status line {status_line:?}"));
        }
        let reason =
            (phrase.is_ascii() && phrase != reason_phrase(status)).then(|| phrase.to_owned());
        let mut length = None;
        let mut headers = Vec::with_capacity(sr.headers.len());
        for (name, value) in &sr.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return invalid(format!("invalid header name {name:?}"));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return invalid(format!("header {name} has CR, LF or NUL in its value"));
            }
            let lower = name.to_ascii_lowercase();
            if HOP_BY_HOP.contains(&lower.as_str()) {
                return invalid(format!("hop-by-hop header {name} is the server's to set"));
            }
            if lower == "content-length" {
                match value.trim().parse::<u64>() {
                    Ok(n) => length = Some(n),
                    Err(_) => return invalid(format!("invalid Content-Length {value:?}")),
                }
                continue;
            }
            headers.push((name.clone(), value.clone()));
        }
        let declared = length;
        // A HEAD response's Content-Length describes the GET body the app did not send.
        if head_request {
            length = None;
        }
        Ok(Head {
            status,
            reason,
            headers,
            length,
            declared,
        })
    }

    fn apply(self, mut response: Response) -> Response {
        response = response.with_status(self.status);
        if let Some(reason) = self.reason {
            response = response.with_reason(reason);
        }
        for (name, value) in self.headers {
            response = response.with_header(name, value);
        }
        response
    }

    /// The response for a body known whole: an application's Content-Length is honoured (a
    /// longer body is cut; a shorter one is sent as it is, and the server closes the
    /// connection when it falls short).
    fn whole(self, mut data: Vec<u8>) -> Response {
        match self.length {
            Some(len) if (data.len() as u64) < len => {
                let reader = io::Cursor::new(data);
                self.apply(Response::sized_reader(reader, len))
            }
            Some(len) => {
                data.truncate(len as usize);
                self.apply(Response::bytes(data))
            }
            None => self.apply(Response::bytes(data)),
        }
    }
}

/// A token character (RFC 9110 §5.6.2).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A body chunk: bytes, as PEP 3333 requires.
fn chunk<'a>(item: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    match item.cast::<PyBytes>() {
        Ok(bytes) => Ok(bytes.as_bytes()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "the application's iterable yielded {}, not bytes",
            item.get_type().name()?
        ))),
    }
}

/// Calls `result.close()` if it has one; an exception there is printed.
fn close(py: Python<'_>, result: &Bound<'_, PyAny>) {
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

fn attach_counted<T>(gil_wait: &AtomicU64, f: impl FnOnce(Python<'_>) -> T) -> T {
    let asked = Instant::now();
    Python::attach(|py| {
        gil_wait.fetch_add(asked.elapsed().as_nanos() as u64, Relaxed);
        f(py)
    })
}

/// Bytes as a latin-1 Python string (PEP 3333's "native strings").
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `%XX` decoded once; anything else is kept as it is.
fn percent_decode(path: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' && i + 2 < path.len() {
            if let (Some(h), Some(l)) = (hex(path[i + 1]), hex(path[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(path[i]);
        i += 1;
    }
    out
}

/// The `start_response` callable of one request; it returns its `write`.
#[pyclass(module = "basehttp._native")]
#[derive(Default)]
pub struct StartResponse {
    status: Option<String>,
    headers: Vec<(String, String)>,
    /// Once true, the head is on its way: a later `start_response` with `exc_info` re-raises.
    headers_sent: bool,
    /// What `write()` was given and the server has not sent yet (once the application has
    /// returned, or where the response could not begin early).
    written: Vec<u8>,
    /// The request is a `HEAD`.
    head_request: bool,
    /// While the application runs: the core's response begun early, which `write()` sends
    /// through at once.
    early: Option<basehttp::Early>,
}

impl StartResponse {
    /// True once `write()` has sent the head.
    fn begun(&self) -> bool {
        self.early.as_ref().is_some_and(|early| early.started())
    }

    /// Sends `data` now: the head first, on the first call. `Ok(false)` where no early
    /// response is open (the bytes are then buffered).
    fn send_early(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<bool> {
        let Some(early) = self.early.as_mut() else {
            return Ok(false);
        };
        if !early.started() {
            let head = Head::of(self, self.head_request)?;
            let head = match head.length {
                Some(len) => head.apply(Response::sized_reader(io::empty(), len)),
                None => head.apply(Response::reader(io::empty())),
            };
            let early = self.early.as_mut().expect("checked above");
            py.detach(move || early.start(&head))?;
            self.headers_sent = true;
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
            match exc_info {
                Some(exc) if me.headers_sent => {
                    // PEP 3333: too late to change the response; re-raise the error.
                    drop(me);
                    return Err(PyErr::from_value(exc.get_item(1)?));
                }
                Some(_) => {}
                None if me.status.is_some() => {
                    return Err(PyAssertionError::new_err(
                        "start_response called a second time without exc_info",
                    ));
                }
                None => {}
            }
            if !status.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err("the status must be a str"));
            }
            let status: String = status.extract()?;
            let headers: Vec<(String, String)> = headers
                .extract()
                .map_err(|_| PyTypeError::new_err("headers must be a list of (str, str)"))?;
            me.status = Some(status);
            me.headers = headers;
        }
        slf.getattr(intern!(py, "write"))
    }

    /// PEP 3333's `write(data)`: the bytes go out before the iterable's.
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.status.is_none() {
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

/// `wsgi.file_wrapper` (PEP 3333's optional platform-specific file handling): iterated, it
/// reads `filelike.read(blksize)` until the file ends; returned as the response over a
/// regular file, the server sends the file itself, zero-copy, and calls `close()` at once.
#[pyclass(module = "basehttp._native")]
pub struct FileWrapper {
    /// The file-like object given.
    #[pyo3(get)]
    filelike: Py<PyAny>,
    /// The size of each `read` when iterated.
    #[pyo3(get)]
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize=8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> FileWrapper {
        FileWrapper { filelike, blksize }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1(intern!(py, "read"), (self.blksize,))?;
        Ok(data.is_truthy()?.then_some(data))
    }

    /// Closes the file-like object, if it has a `close()`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(close) = self.filelike.bind(py).getattr_opt(intern!(py, "close"))? {
            close.call0()?;
        }
        Ok(())
    }
}

impl FileWrapper {
    /// The file as a response body of `declared` bytes (else the rest of the file) from
    /// where the application left it, if `filelike` is a regular file with a descriptor;
    /// `None` to iterate it instead (no `fileno()` or `tell()`, not a regular file, or a
    /// declared length past its end, which the iterated path sends short and closes).
    ///
    /// Without `unsafe` a Python descriptor cannot become a Rust `File`, so the file is
    /// opened again through `/proc/self/fd` (Linux): the same file, even if renamed or
    /// deleted since, with a position of its own.
    fn regular_file(&self, py: Python<'_>, declared: Option<u64>) -> PyResult<Option<Response>> {
        if !cfg!(target_os = "linux") {
            return Ok(None);
        }
        let filelike = self.filelike.bind(py);
        let fd = match filelike.call_method0(intern!(py, "fileno")) {
            Ok(fd) => fd.extract::<i32>().ok().filter(|fd| *fd >= 0),
            Err(_) => None,
        };
        let Some(fd) = fd else { return Ok(None) };
        let Some(pos) = filelike
            .call_method0(intern!(py, "tell"))
            .ok()
            .and_then(|p| p.extract::<u64>().ok())
        else {
            return Ok(None);
        };
        let opened = py.detach(|| -> io::Result<Option<(std::fs::File, u64)>> {
            let mut file = std::fs::File::open(format!("/proc/self/fd/{fd}"))?;
            let meta = file.metadata()?;
            let left = meta.len().saturating_sub(pos);
            let len = declared.unwrap_or(left);
            if !meta.is_file() || len > left {
                return Ok(None);
            }
            io::Seek::seek(&mut file, io::SeekFrom::Start(pos))?;
            Ok(Some((file, len)))
        });
        Ok(match opened {
            Ok(Some((file, len))) => Some(Response::file_part(file, len)),
            _ => None,
        })
    }
}

/// The [`FileWrapper`] an application returned, also through `wsgiref.validate`'s
/// `IteratorWrapper` (its checks are on iteration, which a file sent whole skips; its
/// `close()` is the one called), so an application under the validator is served as it
/// would be without.
fn file_wrapper_of<'py>(result: &Bound<'py, PyAny>) -> Option<Bound<'py, FileWrapper>> {
    if let Ok(wrapper) = result.cast::<FileWrapper>() {
        return Some(wrapper.clone());
    }
    let py = result.py();
    let ty = result.get_type();
    let is = |name: PyResult<Bound<'_, PyString>>, want: &str| name.is_ok_and(|n| n == want);
    if is(ty.name(), "IteratorWrapper") && is(ty.module(), "wsgiref.validate") {
        let inner = result.getattr(intern!(py, "original_iterator")).ok()?;
        return inner.cast_into::<FileWrapper>().ok();
    }
    None
}

/// Streams an iterable's chunks, advancing it on the worker thread that called the
/// application (the response is pinned there), attached only while it calls Python.
struct IterReader {
    buf: Vec<u8>,
    pos: usize,
    iter: Option<Py<PyIterator>>,
    result: Option<Py<PyAny>>,
    sr: Py<StartResponse>,
    gil_wait: Arc<AtomicU64>,
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
            let step = attach_counted(&self.gil_wait, |py| -> PyResult<bool> {
                let sr = sr.bind(py);
                buf.append(&mut sr.borrow_mut().written);
                if !buf.is_empty() {
                    return Ok(true);
                }
                match iter.bind(py).clone().next() {
                    None => Ok(false),
                    Some(item) => {
                        let item = item?;
                        buf.append(&mut sr.borrow_mut().written);
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
                    attach_counted(&self.gil_wait, |py| {
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
        attach_counted(&self.gil_wait, |py| {
            drop(iter);
            if let Some(result) = result {
                close(py, result.bind(py));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"/a%20b"), b"/a b");
        assert_eq!(percent_decode(b"/%e2%82%ac"), "/€".as_bytes());
        assert_eq!(percent_decode(b"/%zz%4"), b"/%zz%4");
        assert_eq!(percent_decode(b"/%"), b"/%");
        assert_eq!(latin1(&percent_decode(b"/%e9")), "/\u{e9}");
    }
}
