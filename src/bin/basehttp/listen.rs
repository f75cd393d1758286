//! The listening socket when one was handed on: by systemd (`LISTEN_PID`), or by basehttp's
//! supervisor (`BASEHTTP_LISTEN_PARENT`). The core decides whether it is ours
//! ([`basehttp::listen_fds`]); `listenfd` takes the descriptor (checking that it is a TCP
//! socket, and marking it close-on-exec so that nothing this process starts holds the port).

use std::net::TcpListener;

use basehttp::listen_fds;

/// The inherited listener and who handed it on, or `None` when this process is to bind its
/// own.
pub fn inherited() -> Result<Option<(TcpListener, String)>, String> {
    let ppid = std::os::unix::process::parent_id();
    let found = listen_fds::inherited(|name| std::env::var(name).ok(), std::process::id(), ppid)
        .map_err(|e| format!("the inherited socket: {e}"))?;
    let Some(found) = found else {
        return Ok(None);
    };
    if found.count > 1 {
        log::warn!(
            "{} sockets handed on ({}={}); serving the first, descriptor {}",
            found.count,
            listen_fds::LISTEN_FDS,
            found.count,
            found.first_fd
        );
    }
    // It also clears LISTEN_FDS and LISTEN_PID (before any thread starts: main calls this
    // first). The other variables are harmless to a grandchild: BASEHTTP_LISTEN_PARENT names
    // a pid that is not its parent, and LISTEN_FDNAMES means nothing without LISTEN_FDS.
    let listener = listenfd::ListenFd::from_env()
        .take_tcp_listener(0)
        .map_err(|e| format!("the inherited socket: {e}"))?
        .ok_or_else(|| format!("no socket at descriptor {}", found.first_fd))?;
    // systemd hands sockets on in blocking mode unless told otherwise; the listener blocks in
    // accept (the mode is the socket's, so every sibling's too).
    listener
        .set_nonblocking(false)
        .map_err(|e| format!("the inherited socket: {e}"))?;
    Ok(Some((listener, found.from)))
}
