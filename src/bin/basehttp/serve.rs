//! Running a server the way every serving command does (the file server and the demo): the
//! socket (handed on, or bound), one process or a supervisor of several, the signals, the
//! banner, the graceful stop.

use std::io::{self, IsTerminal, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::mpsc;

use basehttp::supervised::Link;
use basehttp::supervisor::Broadcaster;

/// Something kept alive as long as the server runs (a watcher).
pub type Kept = Box<dyn std::any::Any + Send + Sync>;
use basehttp::{ACCESS_LOG_TARGET, Config, Handler, Server};

use crate::cli;
use crate::listen;
use crate::supervise;

/// Runs a server the way every serving command does: takes the socket handed on to this
/// process or resolves and binds `addr` (runserver's wording for the common failures); under
/// `--processes` (or `WEB_CONCURRENCY`) runs a supervisor of worker processes instead
/// ([`supervise`]); else installs the Ctrl-C and SIGTERM handler, starts the handler `make`
/// builds from the configuration, prints `banner`, and on the first signal shuts down
/// gracefully (a second one exits at once). A worker of a supervisor prints no banner and
/// stops when its supervisor says so. `make` is given the worker's link to its supervisor, if
/// it has one; `supervising`, run in a supervisor, may start what it keeps running beside the
/// workers (live reload's watcher, which tells every worker through the broadcaster).
pub fn run_server<H: Handler>(
    addr: &str,
    processes: &cli::Processes,
    mut config: Config,
    make: impl FnOnce(&Config, Option<&mut Link>) -> H,
    supervising: impl FnOnce(Broadcaster) -> Option<Kept>,
    banner: impl FnOnce(&Config, SocketAddr) -> String,
) -> ExitCode {
    config.access_log = access_log_mode();
    let count = match processes.count(std::env::var("WEB_CONCURRENCY").ok().as_deref()) {
        Ok(count) => count,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    let (listener, shared) = match socket(addr) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let link = basehttp::supervised::connect().unwrap_or_else(|e| {
        log::warn!("not supervised: {e}");
        None
    });
    if link.is_none() && processes.supervised(count) {
        let Ok(local) = listener.local_addr() else {
            eprintln!("Error: the socket has no address");
            return ExitCode::FAILURE;
        };
        let text = format!(
            "Supervisor: {count} worker process{} (pid {}; SIGHUP replaces them one at a time)\n{}",
            if count == 1 { "" } else { "es" },
            std::process::id(),
            banner(&config.clone().normalized(), local),
        );
        return match supervise::start(listener, count, processes, config.shutdown_grace) {
            Ok(supervisor) => {
                let _kept = supervising(supervisor.broadcaster());
                let _ = print(&text);
                supervise::run(supervisor)
            }
            Err(e) => {
                eprintln!("Error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut server = Server::from_listener(listener).config(config);
    if shared {
        server = server.shared_listener();
    }
    let (stop_tx, stop_rx) = mpsc::channel();
    let on_signal = stop_tx.clone();
    let mut signals = 0;
    let installed = ctrlc::set_handler(move || {
        signals += 1;
        if signals > 1 {
            // A second Ctrl-C while draining: stop now.
            std::process::exit(130);
        }
        let _ = on_signal.send(());
    });
    if let Err(e) = installed {
        eprintln!("Error: cannot install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }
    let mut link = link;
    let handler = make(server.current_config(), link.as_mut());
    let handle = match server.spawn(handler) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("Error: cannot start the server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match link {
        Some(link) => supervise::serve_supervised(link, &handle, stop_tx, &stop_rx),
        None => {
            // A banner nobody reads (stdout closed, say by a launcher that took the URL and
            // left) is no reason to stop serving.
            let _ = print(&banner(handle.config(), handle.local_addr()));
            let _ = stop_rx.recv();
            eprintln!("Shutting down (waiting for requests in flight; Ctrl-C again to force)...");
        }
    }
    if !handle.shutdown() {
        eprintln!("Some requests did not finish within the grace period.");
    }
    ExitCode::SUCCESS
}

/// The socket handed on to this process (systemd's `LISTEN_FDS`, or a supervisor's: see
/// [`listen`]), which is shared with its siblings (`true`); else one bound to `addr`.
fn socket(addr: &str) -> Result<(TcpListener, bool), String> {
    if let Some((listener, from)) = listen::inherited()? {
        if let Ok(local) = listener.local_addr() {
            // A supervisor's workers all say it: only at debug level.
            let level = if from.starts_with("parent") {
                log::Level::Debug
            } else {
                log::Level::Info
            };
            log::log!(level, "serving {local}, the socket handed on by {from}");
        }
        return Ok((listener, true));
    }
    let addr = cli::resolve(addr)?;
    TcpListener::bind(addr)
        .map(|l| (l, false))
        .map_err(|e| bind_error_message(&e))
}

/// Writes `text` and a newline to stdout, and flushes. A reader that has gone (a closed pipe:
/// `basehttp --help | head -3`) is not an error: the rest of the output was not wanted. Rust
/// ignores `SIGPIPE`, so such a write fails with `BrokenPipe`, which `println!` would turn
/// into a panic.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The URL a person can click: IPv6 addresses in brackets, a wildcard shown as itself.
pub fn url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}/")
}

/// Django runserver's wording for the common bind failures.
fn bind_error_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => "that port is already in use.".into(),
        io::ErrorKind::PermissionDenied => "you don't have permission to access that port.".into(),
        io::ErrorKind::AddrNotAvailable => "that IP address can't be assigned to.".into(),
        _ => e.to_string(),
    }
}

/// Access lines the fast way (the server's own per-worker buffers, written to stderr in whole
/// lines), colored on a terminal unless `NO_COLOR`; none if `--quiet` or `RUST_LOG` turned
/// the access target off (the logger decides that once, at start).
fn access_log_mode() -> basehttp::AccessLog {
    if !log::log_enabled!(target: ACCESS_LOG_TARGET, log::Level::Info) {
        return basehttp::AccessLog::Off;
    }
    let color = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    basehttp::AccessLog::Stderr { color }
}
