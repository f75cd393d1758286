//! The `basehttp` command: serves a directory from the command line, logs like Django's
//! runserver (colored by status on a terminal), and shuts down gracefully on Ctrl-C or
//! SIGTERM.

mod cli;
mod demo;
mod listen;
mod load;
mod reload;
mod serve;
mod supervise;

use std::io::{self, Write};
use std::process::ExitCode;

use basehttp::live_reload::{self, LiveReload};
use basehttp::{ACCESS_LOG_TARGET, EventStreams, StaticFiles};
use cli::Command;
use serve::{print, run_server, url};

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
    let banner = {
        let (root, reload) = (root.clone(), args.files.reload);
        move |config: &basehttp::Config, local| {
            format!(
                "basehttp {}: {} workers, queue of {} ({} when full)\n\
                 Serving {}{}\n\
                 Starting development server at {}\n\
                 Quit the server with CONTROL-C.",
                env!("CARGO_PKG_VERSION"),
                config.workers,
                config.queue,
                config.when_full.name(),
                root.display(),
                if reload { ", live reload on" } else { "" },
                url(local),
            )
        }
    };
    if !args.files.reload {
        return run_server(
            &args.addr,
            &args.processes,
            args.config,
            |_, _| files,
            |_| None,
            banner,
        );
    }
    // One watcher: in the process that serves, or under `--processes` in the supervisor,
    // which passes each event to every worker's streams over its link. It lives as long as
    // the handler (or the supervisor).
    let hidden = args.files.hidden;
    let watched_root = root.clone();
    run_server(
        &args.addr,
        &args.processes,
        args.config,
        move |_, link| {
            let streams = EventStreams::new(live_reload::MAX_STREAMS);
            let watcher = match link {
                Some(link) => {
                    link.forward_events_to(streams.clone());
                    None
                }
                None => {
                    let to = streams.clone();
                    reload::watch(root, hidden, move |kind, data| to.send(Some(kind), data))
                        .map_err(|e| log::error!("live reload: cannot watch the directory: {e}"))
                        .ok()
                }
            };
            reload::Watched {
                handler: LiveReload::new(files, streams),
                _watcher: watcher,
            }
        },
        move |broadcaster| {
            reload::watch(watched_root, hidden, move |kind, data| {
                broadcaster.send(kind, data)
            })
            .map_err(|e| log::error!("live reload: cannot watch the directory: {e}"))
            .ok()
        },
        banner,
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

/// The handler for the command's file options.
fn static_files(args: &cli::FileArgs) -> io::Result<StaticFiles> {
    let mut builder = StaticFiles::builder(&args.directory)
        .index(args.index.as_str())
        .listing(args.listing)
        .hidden(args.hidden)
        .cors(args.cors)
        .spa(args.spa);
    if args.reload {
        builder = builder.inject(live_reload::TAG);
    }
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
