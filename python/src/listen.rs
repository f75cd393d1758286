//! A listening socket handed on to this process: by basehttp's supervisor or by Django's
//! autoreloader under basehttp's `runserver` (`BASEHTTP_LISTEN_PARENT`), or by systemd
//! (`LISTEN_PID`). The core decides whether it is ours ([`basehttp::listen_fds`]); `listenfd`
//! takes the descriptor, checks that it is a TCP socket and marks it close-on-exec, so that
//! the application's own subprocesses do not hold the port.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Mutex;

use basehttp::listen_fds;
use basehttp::supervised::Link;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

/// The socket handed on, until `start` takes it.
#[pyclass(module = "basehttp._native", name = "Listener")]
pub struct Listener {
    socket: Mutex<Option<TcpListener>>,
    /// The link to the supervisor that handed it on, if one did.
    link: Mutex<Option<Link>>,
}

impl Listener {
    /// The supervisor's link, once.
    pub fn take_link(&self) -> Option<Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The socket, once: a second `start` with the same listener is an error.
    pub fn take(&self) -> PyResult<TcpListener> {
        self.socket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| PyValueError::new_err("this inherited socket is already served"))
    }
}

/// A listening socket bound to `host`:`port` (the first address it resolves to that binds),
/// without the GIL while it resolves. A host that does not resolve says which (the resolver's
/// own words name none); a bind error is `OSError` with `errno`, as `socket.bind` raises it.
pub fn bind(py: Python<'_>, host: &str, port: u16) -> PyResult<TcpListener> {
    TcpListener::bind(&resolve(py, host, port)?[..]).map_err(crate::errors::os_error)
}

/// `bind` for Python (`basehttp.hand_on`): the descriptor of a listening socket bound to
/// `host`:`port`, to IPv6 addresses only if `ipv6`; the caller owns it.
#[pyfunction]
#[pyo3(signature = (host, port, ipv6=false))]
pub fn bind_fd(py: Python<'_>, host: &str, port: u16, ipv6: bool) -> PyResult<i32> {
    use std::os::fd::IntoRawFd;
    let listener = if ipv6 {
        let addrs: Vec<SocketAddr> = resolve(py, host, port)?
            .into_iter()
            .filter(SocketAddr::is_ipv6)
            .collect();
        if addrs.is_empty() {
            return Err(PyOSError::new_err(format!("no IPv6 address for '{host}'")));
        }
        TcpListener::bind(&addrs[..]).map_err(crate::errors::os_error)?
    } else {
        bind(py, host, port)?
    };
    Ok(listener.into_raw_fd())
}

/// The addresses `host`:`port` resolves to, without the GIL.
fn resolve(py: Python<'_>, host: &str, port: u16) -> PyResult<Vec<SocketAddr>> {
    Ok(py
        .detach(|| (host, port).to_socket_addrs())
        .map_err(|e| PyOSError::new_err(format!("unknown host '{host}' ({e})")))?
        .collect())
}

/// The socket handed on to this process, or `None`. Reads the variables of the C
/// environment (which `os.environ` writes through to) and clears `LISTEN_FDS` and
/// `LISTEN_PID` there; the caller removes every handover variable from `os.environ`.
#[pyfunction]
pub fn inherited() -> PyResult<Option<Listener>> {
    let found = listen_fds::inherited(
        |name| std::env::var(name).ok(),
        std::process::id(),
        std::os::unix::process::parent_id(),
    )
    .map_err(|e| PyValueError::new_err(format!("the inherited socket: {e}")))?;
    let Some(found) = found else {
        return Ok(None);
    };
    let socket = listenfd::ListenFd::from_env()
        .take_tcp_listener(0)
        .map_err(|e| PyOSError::new_err(format!("the inherited socket: {e}")))?
        .ok_or_else(|| PyOSError::new_err(format!("no socket at descriptor {}", found.first_fd)))?;
    // The listener blocks in accept; the mode is the socket's, so its siblings' too.
    socket.set_nonblocking(false)?;
    // A worker of `python -m basehttp --processes`: its supervisor handed the socket on, and
    // is named in a variable the caller removes next.
    let link = basehttp::supervised::connect()?;
    Ok(Some(Listener {
        socket: Mutex::new(Some(socket)),
        link: Mutex::new(link),
    }))
}
