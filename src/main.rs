//! The `basehttp` command: starts the server from the command line, logs like Django's
//! runserver, and shuts down gracefully on Ctrl-C or SIGTERM.

mod cli;
mod demo;
mod load;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use basehttp::{ACCESS_LOG_TARGET, Request, Response, Server};
use cli::Command;

fn main() -> ExitCode {
    init_logging();
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("basehttp {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Serve(args)) => args,
        Ok(Command::Demo(args)) => return demo::run(*args),
        Ok(Command::Load(spec)) => {
            let report = load::run(&spec);
            println!("{}", load::describe(&spec, &report));
            return if report.requests > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        Err(e) => {
            eprintln!("Error: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let addr = match cli::resolve(&args.addr) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::bind(addr) {
        Ok(server) => server.config(args.config),
        Err(e) => {
            eprintln!("Error: {}", bind_error_message(&e));
            return ExitCode::FAILURE;
        }
    };
    let (stop_tx, stop_rx) = mpsc::channel();
    let mut signals = 0;
    let installed = ctrlc::set_handler(move || {
        signals += 1;
        if signals > 1 {
            // A second Ctrl-C while draining: stop now.
            std::process::exit(130);
        }
        let _ = stop_tx.send(());
    });
    if let Err(e) = installed {
        eprintln!("Error: cannot install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }
    let handle = match server.spawn(greeting) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("Error: cannot start the server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = handle.config();
    let policy = match config.when_full {
        basehttp::WhenFull::Block => "block",
        basehttp::WhenFull::Reject => "reject",
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "basehttp {}: {} workers, queue of {} ({} when full)\n\
         Starting development server at {}\n\
         Quit the server with CONTROL-C.",
        env!("CARGO_PKG_VERSION"),
        config.workers,
        config.queue,
        policy,
        url(handle.local_addr()),
    );
    let _ = out.flush();
    drop(out);
    let _ = stop_rx.recv();
    eprintln!("Shutting down (waiting for requests in flight; Ctrl-C again to force)...");
    if !handle.shutdown() {
        eprintln!("Some requests did not finish within the grace period.");
    }
    ExitCode::SUCCESS
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

/// What the binary answers until static-file serving lands: a greeting for GET and HEAD,
/// `405` for anything else.
fn greeting(req: &mut Request) -> Response {
    match req.method() {
        "GET" | "HEAD" => Response::text("basehttp is running.\n"),
        _ => Response::error(405).with_header("Allow", "GET, HEAD"),
    }
}

/// Access lines are printed bare, as runserver prints them; other messages get their level.
/// `RUST_LOG` overrides the default `info`.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            if record.target() == ACCESS_LOG_TARGET {
                writeln!(buf, "{}", record.args())
            } else {
                writeln!(buf, "{}: {}", record.level(), record.args())
            }
        })
        .init();
}
