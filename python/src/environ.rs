//! The `environ` dict of a request (PEP 3333), with the keys Django's `runserver` gives.

use basehttp::Request;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::file_wrapper::FileWrapper;

/// Builds each request's `environ` from a base of the keys every request shares.
pub struct Environ {
    /// The keys that are the same on every request; each request's `environ` starts as a copy.
    base: Py<PyDict>,
    bytes_io: Py<PyAny>,
}

impl Environ {
    /// Sets `wsgi.multiprocess`: true for a worker of a supervisor, whose siblings run the
    /// same application in other processes.
    pub fn set_multiprocess(&self, py: Python<'_>, multiprocess: bool) -> PyResult<()> {
        self.base
            .bind(py)
            .set_item("wsgi.multiprocess", multiprocess)
    }

    /// For a server at `server_name`:`server_port`. `process` (the process environment under
    /// `runserver`, as wsgiref copies it in) goes first, under the server's own keys.
    pub fn new(
        py: Python<'_>,
        server_name: &str,
        server_port: u16,
        process: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Environ> {
        let base = match process {
            Some(process) => process.copy()?,
            None => PyDict::new(py),
        };
        base.set_item("SERVER_SOFTWARE", SERVER_SOFTWARE)?;
        base.set_item("GATEWAY_INTERFACE", "CGI/1.1")?;
        base.set_item("SCRIPT_NAME", "")?;
        base.set_item("SERVER_NAME", server_name)?;
        base.set_item("SERVER_PORT", server_port.to_string())?;
        // As wsgiref: no reverse lookup of the client, so empty.
        base.set_item("REMOTE_HOST", "")?;
        base.set_item("wsgi.version", (1, 0))?;
        base.set_item("wsgi.url_scheme", "http")?;
        base.set_item("wsgi.errors", py.import("sys")?.getattr("stderr")?)?;
        base.set_item("wsgi.multithread", true)?;
        base.set_item("wsgi.multiprocess", false)?;
        base.set_item("wsgi.run_once", false)?;
        base.set_item("wsgi.input_terminated", true)?;
        base.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
        Ok(Environ {
            base: base.unbind(),
            bytes_io: py.import("io")?.getattr("BytesIO")?.unbind(),
        })
    }

    /// The `environ` of `req`, whose body (received whole before the handler ran) is `body`;
    /// `had_body` if the request had one, even empty. `uncompressed` leaves out
    /// `HTTP_ACCEPT_ENCODING` (live reload's navigations: the page must come uncompressed to
    /// take the script).
    pub fn build<'py>(
        &self,
        py: Python<'py>,
        req: &Request<'_>,
        body: Vec<u8>,
        had_body: bool,
        uncompressed: bool,
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
        let (content_type, content_length) = set_fields(&env, req, uncompressed)?;
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
        // Django reads no body without CONTENT_LENGTH. Without a body it is empty, as
        // runserver gives it.
        let length = if had_body || content_length.is_some() {
            body.len().to_string()
        } else {
            String::new()
        };
        env.set_item(intern!(py, "CONTENT_LENGTH"), length)?;
        let input = self.bytes_io.bind(py).call1((PyBytes::new(py, &body),))?;
        env.set_item(intern!(py, "wsgi.input"), input)?;
        Ok(env)
    }
}

/// What `SERVER_SOFTWARE` says: `basehttp/VERSION`.
const SERVER_SOFTWARE: &str = concat!("basehttp/", env!("CARGO_PKG_VERSION"));

/// Sets the `HTTP_*` keys of `req`'s header fields but `Host` (`HTTP_HOST` is the request's
/// authority, set by the caller) and, if `uncompressed`, `Accept-Encoding`; returns
/// Content-Type and Content-Length, which have keys of their own. Names with '_' are dropped
/// (as runserver does): `X_Forwarded_For` must not pose as `X-Forwarded-For`. Repeated fields
/// are joined with ','.
fn set_fields(
    env: &Bound<'_, PyDict>,
    req: &Request<'_>,
    uncompressed: bool,
) -> PyResult<(Option<String>, Option<String>)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut content_type = None;
    let mut content_length = None;
    for (name, value) in req.headers() {
        if name.contains('_')
            || name.eq_ignore_ascii_case("host")
            || (uncompressed && name.eq_ignore_ascii_case("accept-encoding"))
        {
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
    Ok((content_type, content_length))
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
        if path[i] == b'%'
            && i + 2 < path.len()
            && let (Some(h), Some(l)) = (hex(path[i + 1]), hex(path[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(path[i]);
        i += 1;
    }
    out
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
