//! `--processes N`: the supervisor's side of the binary (the core's
//! [`basehttp::supervisor`]), and a supervised worker's (its heartbeat loop).

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::Duration;

use basehttp::ServerHandle;
use basehttp::supervised::{self, Link};
use basehttp::supervisor::{self, Order, Supervisor};

use crate::cli::Processes;

/// A supervisor of `count` workers, each this program's command line again, on `listener`.
pub fn start(
    listener: TcpListener,
    count: usize,
    processes: &Processes,
    grace: Duration,
) -> Result<Supervisor, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program to start its workers: {e}"))?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let options = supervisor::Options {
        processes: count,
        max_requests: processes.max_requests,
        timeout: Duration::from_secs(processes.timeout.unwrap_or(30)),
        // The workers' own grace, and a moment to exit after it.
        grace: grace + Duration::from_secs(1),
        dump_stacks: false,
    };
    Supervisor::new(listener, options, move |_slot| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(&args);
        cmd
    })
    .map_err(|e| format!("cannot start the supervisor: {e}"))
}

/// Supervises until SIGTERM or SIGINT (SIGHUP replaces the workers one at a time).
pub fn run(mut supervisor: Supervisor) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    for (signal, flag) in [(SIGTERM, &stop), (SIGINT, &stop), (SIGHUP, &reload)] {
        if let Err(e) = signal_hook::flag::register(signal, flag.clone()) {
            eprintln!("Error: cannot install the signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = supervisor.run(|_| {
        if stop.swap(false, Relaxed) {
            Order::Stop
        } else if reload.swap(false, Relaxed) {
            Order::Reload
        } else {
            Order::Carry
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A supervised worker: tells the supervisor it is ready, then beats every second while its
/// pool makes progress, until the supervisor says stop (or dies) or `stop_rx` fires (a
/// signal of its own).
pub fn serve_supervised(
    link: Link,
    handle: &ServerHandle,
    stop_tx: mpsc::Sender<()>,
    stop_rx: &mpsc::Receiver<()>,
) {
    let mut beats = match link.start(move || {
        let _ = stop_tx.send(());
    }) {
        Ok(beats) => beats,
        Err(e) => {
            log::error!("cannot talk to the supervisor: {e}");
            return;
        }
    };
    loop {
        match stop_rx.recv_timeout(supervised::BEAT) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let _ = beats.beat_if_progressing(handle.stats(), 0.0);
    }
}
