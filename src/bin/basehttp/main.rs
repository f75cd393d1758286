//! The `basehttp` command: serves a directory from the command line, logs like Django's
//! runserver (colored by status on a terminal), and shuts down gracefully on Ctrl-C or
//! SIGTERM.

mod cli;
mod demo;
mod listen;
mod load;
mod supervise;

use std::io::{self, IsTerminal, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::mpsc;

use basehttp::supervised::{Figures, Link};
use basehttp::{ACCESS_LOG_TARGET, Config, Handler, Server, StaticFiles, WhenFull};
use cli::Command;

fn main() -> ExitCode {
    raise_descriptor_limit();
    let parsed = cli::parse(std::env::args_os().skip(1));
    init_logging(matches!(&parsed, Ok(Command::Serve(args) | Command::Demo(args)) if args.quiet));
    let args = match parsed {
        Ok(Command::Help(usage)) => return print_then(usage, ExitCode::SUCCESS),
        Ok(Command::Version) => {
            let version = format!("basehttp {}", env!("CARGO_PKG_VERSION"));
            return print_then(&version, ExitCode::SUCCESS);
        }
        Ok(Command::Serve(args)) => args,
        Ok(Command::Demo(args)) => return demo::run(*args),
        Ok(Command::Load(spec)) => {
            let report = load::run(&spec);
            let code = if report.requests > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
            return print_then(&load::describe(&spec, &report), code);
        }
        Err(e) => {
            eprintln!("Error: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let files = match static_files(&args.files) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let root = files.root().to_path_buf();
    run_server(
        &args.addr,
        &args.processes,
        args.config,
        |_, _| files,
        |config, local| {
            format!(
                "basehttp {}: {} workers, queue of {} ({} when full)\n\
                 Serving {}\n\
                 Starting development server at {}\n\
                 Quit the server with CONTROL-C.",
                env!("CARGO_PKG_VERSION"),
                config.workers,
                config.queue,
                policy_name(config.when_full),
                root.display(),
                url(local),
            )
        },
    )
}

/// Raises the soft limit on open descriptors to the hard limit, as nginx's
/// `worker_rlimit_nofile` would: every open connection holds one, and a shell's default soft
/// limit (often 1,024) is far below what `max_connections` allows. Where the kernel refuses
/// (macOS caps it below an unlimited hard limit), the limit stays as it was.
fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        let _ = setrlimit(Resource::Nofile, raised);
    }
}

/// Runs a server the way every serving command does: takes the socket handed on to this
/// process or resolves and binds `addr` (runserver's wording for the common failures); under
/// `--processes` (or `WEB_CONCURRENCY`) runs a supervisor of worker processes instead
/// ([`supervise`]); else installs the Ctrl-C and SIGTERM handler, starts the handler `make`
/// builds from the configuration, prints `banner`, and on the first signal shuts down
/// gracefully (a second one exits at once). A worker of a supervisor prints no banner and
/// stops when its supervisor says so.
pub fn run_server<H: Handler>(
    addr: &str,
    processes: &cli::Processes,
    mut config: Config,
    make: impl FnOnce(&Config, Option<Figures>) -> H,
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
        return supervise::run(listener, count, processes, config.shutdown_grace, text);
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
    let handler = make(server.current_config(), link.as_ref().map(Link::figures));
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
            log::debug!("serving {local}, the socket handed on by {from}");
            if !from.starts_with("parent") {
                log::info!("serving {local}, the socket handed on by {from}");
            }
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
fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// [`print`]s `text`, then exits with `code`; a failed write other than a closed pipe (a full
/// disk, `> /dev/full`) is an error.
fn print_then(text: &str, code: ExitCode) -> ExitCode {
    match print(text) {
        Ok(()) => code,
        Err(e) => {
            eprintln!("Error: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `block` or `reject`, as the command line spells the policy.
fn policy_name(policy: WhenFull) -> &'static str {
    match policy {
        WhenFull::Block => "block",
        WhenFull::Reject => "reject",
    }
}

/// The URL a person can click: IPv6 addresses in brackets, a wildcard shown as itself.
fn url(addr: std::net::SocketAddr) -> String {
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

/// The handler for the command's file options.
fn static_files(args: &cli::FileArgs) -> io::Result<StaticFiles> {
    let mut builder = StaticFiles::builder(&args.directory)
        .index(args.index.as_str())
        .listing(args.listing)
        .hidden(args.hidden)
        .cors(args.cors)
        .spa(args.spa);
    for (name, value) in &args.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.build()
}

/// Messages get their level; access lines (which the binary's server writes itself, see
/// [`access_log_mode`]) would be printed bare. `RUST_LOG` overrides the default `info`;
/// `quiet` turns the access log off whatever it says.
fn init_logging(quiet: bool) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if quiet {
        builder.filter_module(ACCESS_LOG_TARGET, log::LevelFilter::Off);
    }
    builder
        .format(move |buf, record| {
            if record.target() == ACCESS_LOG_TARGET {
                return writeln!(buf, "{}", record.args());
            }
            writeln!(buf, "{}: {}", record.level(), record.args())
        })
        .init();
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
