//! The Python package (python/, `basehttp` with `basehttp._native`): built with pip and
//! maturin into a virtual environment under `target/python-venv` (its own
//! `CARGO_TARGET_DIR`, `target/python-build`), rebuilt only when the sources it is made of
//! change (a hash stamp), then driven over real sockets: the WSGI cases of
//! tests/python/wsgi_cases.py (each application wrapped in `wsgiref.validate.validator`) and
//! `python -m basehttp`, a fresh Django project (tests/python/django_case.py) and a Flask app
//! (tests/python/flask_case.py); Django and Flask are installed into the venv from the
//! package index once.
//!
//! Without a Python 3.11+ that can make a venv and install maturin, the tests say they are
//! skipped; with `CI` set they fail instead. The venv installs maturin from the package index
//! itself (pip), so `.ci/run` needs nothing more than `python3`.

mod support;

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The venv's python, built once per test run; `Err` says why it cannot be had.
fn python() -> Option<PathBuf> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match VENV.get_or_init(build_venv) {
        Ok(python) => Some(python.clone()),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the Python package cannot be built, and CI is set: {why}")
        }
        Err(why) => {
            eprintln!("skipped: the Python package cannot be built here: {why}");
            None
        }
    }
}

/// A loopback port that was free a moment ago, for a server started in another process.
fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{cmd:?} did not start: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A hash of every file the package is built from: the Python crate, the core crate it
/// depends on, and the workspace's manifest and lock file.
fn sources_hash() -> String {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name == "__pycache__" || name.to_string_lossy().starts_with('.')
            {
                continue;
            }
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.push(path);
            }
        }
    }
    let root = Path::new(ROOT);
    let mut files = vec![
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
        root.join("LICENSE"),
    ];
    walk(&root.join("src"), &mut files);
    walk(&root.join("python"), &mut files);
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        hasher.write(
            file.strip_prefix(root)
                .unwrap_or(&file)
                .as_os_str()
                .as_encoded_bytes(),
        );
        hasher.write(&std::fs::read(&file).unwrap_or_default());
    }
    format!("{:016x}", hasher.finish())
}

/// Where `build_venv` leaves the package's wheel: the one release build the Python tests share.
const WHEELS: &str = "target/python-wheels";

/// The one wheel in `dir`, if there is exactly one.
fn the_wheel(dir: &Path) -> Option<PathBuf> {
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .collect();
    (wheels.len() == 1).then(|| wheels.remove(0))
}

/// The test venv's python. When the sources changed (or the venv or the wheel is missing):
/// `maturin build --release` makes the package's wheel in `target/python-wheels` (an abi3
/// wheel: any CPython 3.11+), which is installed into `target/python-venv`;
/// `a_wheel_installs_without_rust_and_serves_runserver` installs the same file elsewhere.
fn build_venv() -> Result<PathBuf, String> {
    let root = Path::new(ROOT);
    let venv = root.join("target/python-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("basehttp-sources.stamp");
    let wheels = root.join(WHEELS);
    let hash = sources_hash();
    if python.exists()
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&hash)
        && the_wheel(&wheels).is_some()
    {
        return Ok(python);
    }
    let system = std::env::var("BASEHTTP_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&system).args([
        "-c",
        "import sys; assert sys.version_info >= (3, 11), sys.version",
    ]))
    .map_err(|e| format!("no Python 3.11+ ({system}): {e}"))?;
    if !python.exists() {
        run(Command::new(&system).arg("-m").arg("venv").arg(&venv))?;
    }
    if !venv.join("bin/maturin").exists() {
        run(Command::new(&python).args(["-m", "pip", "install", "-q", "maturin>=1.5,<2"]))?;
    }
    eprintln!(
        "building the Python package's wheel into {} ...",
        wheels.display()
    );
    let started = Instant::now();
    // Only this build's wheel is left there.
    let _ = std::fs::remove_dir_all(&wheels);
    run(Command::new(venv.join("bin/maturin"))
        .args(["build", "--release", "--interpreter"])
        .arg(&python)
        .arg("--out")
        .arg(&wheels)
        .current_dir(root.join("python"))
        .env("CARGO_TARGET_DIR", root.join("target/python-build")))?;
    let wheel = the_wheel(&wheels)
        .ok_or_else(|| format!("maturin left no single wheel in {}", wheels.display()))?;
    eprintln!("built {} in {:.0?}", wheel.display(), started.elapsed());
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--force-reinstall",
            "--no-deps",
        ])
        .arg(&wheel))?;
    std::fs::write(&stamp, hash).map_err(|e| e.to_string())?;
    Ok(python)
}

/// Waits for a child with a deadline, killing it (by its own id) past it.
fn wait_with_deadline(mut child: std::process::Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "timed out after {limit:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Runs `cmd` (a process that must end by itself) with its output collected, within `secs`
/// seconds: a regression that leaves it serving fails the test instead of hanging it.
fn output_within(cmd: &mut Command, secs: u64) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_with_deadline(child, Duration::from_secs(secs))
}

/// Runs `tests/python/<script>` with `args` under the venv's Python, within `secs` seconds:
/// its output and what it printed on stdout and stderr.
fn run_script(python: &Path, script: &str, args: &[&str], secs: u64) -> (Output, String, String) {
    let child = Command::new(python)
        .arg(Path::new(ROOT).join("tests/python").join(script))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_deadline(child, Duration::from_secs(secs));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// Runs one case of tests/python/wsgi_cases.py; returns its stderr, checked for
/// `forbidden` noise (tracebacks, validator assertions and warnings, ignored exceptions).
fn case(name: &str, expect_tracebacks: bool) -> Option<String> {
    let python = python()?;
    let (out, stdout, stderr) = run_script(&python, "wsgi_cases.py", &[name], 60);
    assert!(
        out.status.success() && stdout.contains(&format!("ok {name}")),
        "case {name} failed ({}):\n{stdout}{stderr}",
        out.status
    );
    for noise in ["Exception ignored", "Warning", "AssertionError"] {
        assert!(
            !stderr.contains(noise),
            "case {name}: {noise:?} on stderr:\n{stderr}"
        );
    }
    if !expect_tracebacks {
        assert!(
            !stderr.contains("Traceback"),
            "case {name}: stderr:\n{stderr}"
        );
    }
    Some(stderr)
}

#[test]
fn environ_is_runserver_s() {
    case("get", false);
}

#[test]
fn head_sends_no_body() {
    case("head", false);
}

#[test]
fn post_by_length() {
    case("post_length", false);
}

#[test]
fn post_chunked() {
    case("post_chunked", false);
}

#[test]
fn iterables_stream_on_the_calling_thread_and_are_closed() {
    case("stream", false);
}

#[test]
fn write_callable() {
    case("write", false);
}

#[test]
fn file_wrapper() {
    case("file_wrapper", false);
}

#[test]
fn exc_info_replaces_or_reraises() {
    let Some(stderr) = case("exc_info", true) else {
        return;
    };
    assert!(stderr.contains("ValueError: too late"), "{stderr}");
}

#[test]
fn thread_locals_persist_across_requests_on_one_worker() {
    case("thread_local", false);
}

#[test]
fn an_exception_is_a_500_with_its_traceback_and_the_worker_lives() {
    let Some(stderr) = case("raises", true) else {
        return;
    };
    assert_eq!(stderr.matches("ValueError: boom").count(), 2, "{stderr}");
    assert!(
        stderr.contains("Traceback (most recent call last)"),
        "{stderr}"
    );
}

#[test]
fn invalid_status_and_headers_are_a_500_with_a_reason() {
    let Some(stderr) = case("invalid", false) else {
        return;
    };
    for why in [
        "CR, LF or NUL",
        "hop-by-hop header Connection",
        "invalid status line",
        "not a final status",
        "invalid header name",
    ] {
        assert!(stderr.contains(why), "{why:?} missing from:\n{stderr}");
    }
}

#[test]
fn close_is_called_when_the_client_leaves() {
    case("client_leaves", false);
}

/// Runs tests/python/`script` after installing `requirement` (importable as `module`) into
/// the test venv from the package index, once; checks it printed `ok NAME`.
fn framework_case(requirement: &str, module: &str, script: &str, ok: &str) {
    let Some(python) = python() else {
        return;
    };
    let installed = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed
        && let Err(why) =
            run(Command::new(&python).args(["-m", "pip", "install", "-q", requirement]))
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "{requirement} cannot be installed: {why}"
        );
        eprintln!("skipped: {requirement} cannot be installed: {why}");
        return;
    }
    let (out, stdout, stderr) = run_script(&python, script, &[], 120);
    assert!(
        out.status.success() && stdout.contains(ok),
        "{script}: {}:\n{stdout}{stderr}",
        out.status
    );
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

/// Django 5.2 (the LTS that runs on Python 3.11): a fresh startproject's admin login.
#[test]
fn django_admin_login_with_csrf_and_session() {
    framework_case("django>=5.2,<6", "django", "django_case.py", "ok django");
}

/// Flask 3: routes, a JSON POST, a streamed response, the 404, send_file.
#[test]
fn flask_app() {
    framework_case("flask>=3,<4", "flask", "flask_case.py", "ok flask");
}

#[test]
fn python_api_start_address_stats_shutdown() {
    case("api", false);
}

/// `python -m basehttp cli_app:app 127.0.0.1:0` with `args`, up to its banner's address.
/// Killed on drop, so a failed assertion leaves no server behind.
struct Cli {
    child: Option<std::process::Child>,
    addr: String,
    banner: Vec<String>,
    stderr: BufReader<std::process::ChildStderr>,
}

fn cli(python: &Path, args: &[&str]) -> Cli {
    cli_in(
        python,
        &Path::new(ROOT).join("tests/python"),
        "cli_app:app",
        args,
    )
}

/// `python -m basehttp APP 127.0.0.1:0 ARGS` in `dir`, up to its banner's address.
fn cli_in(python: &Path, dir: &Path, app: &str, args: &[&str]) -> Cli {
    let mut child = Command::new(python)
        .args(["-m", "basehttp", app, "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = Vec::new();
    loop {
        let mut line = String::new();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "no banner: {banner:?}"
        );
        banner.push(line.trim_end().to_owned());
        if line.starts_with("Quit the server with CONTROL-C.") {
            break;
        }
    }
    let addr = banner
        .iter()
        .find_map(|l| l.strip_prefix("Starting development server at http://"))
        .expect("the banner gives the address")
        .trim_end_matches('/')
        .to_owned();
    Cli {
        child: Some(child),
        addr,
        banner,
        stderr,
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

impl Drop for Cli {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stop(mut cli: Cli, signal: &str) -> String {
    let child = cli.child.take().unwrap();
    let pid = child.id().to_string();
    if let Err(e) = run(Command::new("kill").args([signal, &pid])) {
        cli.child = Some(child);
        panic!("{e}");
    }
    // Its stderr after the banner is a few lines, well within a pipe's buffer: wait first,
    // so a server that does not stop fails the test at the deadline instead of hanging it.
    let out = wait_with_deadline(child, Duration::from_secs(10));
    let mut rest = String::new();
    cli.stderr.read_to_string(&mut rest).unwrap();
    assert!(out.status.success(), "{signal}: {}\n{rest}", out.status);
    rest
}

/// `python -m basehttp` on a port given by `systemd-socket-activate` (which execs it with
/// `LISTEN_FDS=1` and `LISTEN_PID` set, as systemd does for a socket unit) serves that
/// socket; the application sees no handover variable, and the socket is close-on-exec, so
/// its subprocesses do not hold the port.
#[test]
fn cli_serves_the_socket_systemd_hands_it() {
    let Some(python) = python() else {
        return;
    };
    let Ok(activate) = run(Command::new("sh").args(["-c", "command -v systemd-socket-activate"]))
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-socket-activate is missing (Debian package systemd)"
        );
        return;
    };
    let activate = String::from_utf8_lossy(&activate.stdout).trim().to_owned();
    let port = support::free_port();
    let mut child = Command::new(activate)
        .args(["-l", &format!("127.0.0.1:{port}")])
        .arg(&python)
        .args(["-m", "basehttp", "cli_app:app", "0.0.0.0:1"])
        .current_dir(Path::new(ROOT).join("tests/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut cli = Cli {
        child: Some(child),
        addr: format!("127.0.0.1:{port}"),
        banner: Vec::new(),
        stderr,
    };
    // systemd-socket-activate says "Listening on ..." once bound; the first connection then
    // makes it exec the server, and waits for it.
    let mut line = String::new();
    while !line.starts_with("Listening on") {
        line.clear();
        assert_ne!(cli.stderr.read_line(&mut line).unwrap(), 0);
    }
    let answer = http_get(&cli.addr, "/handover");
    assert!(
        answer.ends_with("\r\n\r\n[None, None, None] inheritable=False"),
        "{answer}"
    );
    // The banner names the socket served, not the address on the command line.
    while !cli.banner.iter().any(|l| l.starts_with("Quit the server")) {
        let mut line = String::new();
        assert_ne!(
            cli.stderr.read_line(&mut line).unwrap(),
            0,
            "{:?}",
            cli.banner
        );
        cli.banner.push(line.trim_end().to_owned());
    }
    let want = format!("Starting development server at http://127.0.0.1:{port}/");
    assert!(cli.banner.contains(&want), "{:?}", cli.banner);
    stop(cli, "-TERM");
}

/// `python -m basehttp ... --processes 2`: a supervisor and two worker processes sharing the
/// socket, which each import the application (`wsgi.multiprocess` is true); `SIGHUP` under
/// load replaces both with no failed request; `SIGTERM` stops everything with status 0.
#[test]
fn cli_processes_share_the_socket_reload_and_stop() {
    let Some(python) = python() else {
        return;
    };
    let mut cli = cli(&python, &["--processes", "2", "--quiet"]);
    assert!(
        cli.banner[0].starts_with("Supervisor: 2 worker processes (pid "),
        "{:?}",
        cli.banner
    );
    let pids = |cli: &Cli| {
        let mut seen = std::collections::BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.len() < 2 {
            assert!(Instant::now() < deadline, "{seen:?}");
            let answer = http_get(&cli.addr, "/pid");
            let body = answer
                .split("\r\n\r\n")
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            assert!(body.ends_with(" multiprocess=True"), "{answer}");
            seen.insert(body.split(' ').next().unwrap().to_owned());
        }
        seen
    };
    let first = pids(&cli);
    let addr = cli.addr.clone();
    let done = Arc::new(AtomicBool::new(false));
    let load = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut ok, mut failed) = (0, Vec::new());
            while !done.load(Relaxed) {
                match fetch(&addr, "/hello") {
                    Ok((200, _)) => ok += 1,
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed)
        })
    };
    let supervisor = cli.child.as_ref().unwrap().id().to_string();
    run(Command::new("kill").args(["-HUP", &supervisor])).unwrap();
    let mut log = String::new();
    while log.matches("stopped: exit status: 0").count() < 2 {
        let mut line = String::new();
        assert_ne!(cli.stderr.read_line(&mut line).unwrap(), 0, "{log}");
        log.push_str(&line);
    }
    std::thread::sleep(Duration::from_millis(300));
    done.store(true, Relaxed);
    let (ok, failed) = load.join().unwrap();
    assert!(
        failed.is_empty(),
        "{} of {ok} failed: {failed:?}",
        failed.len()
    );
    let second = pids(&cli);
    assert!(first.is_disjoint(&second), "{first:?} {second:?}");
    let rest = stop(cli, "-TERM");
    assert_eq!(rest.matches("stopped: exit status: 0").count(), 2, "{rest}");
}

/// A worker whose interpreter is wedged (a regex holding the GIL) sends no heartbeat: after
/// `--timeout` the supervisor has its threads' stacks printed (faulthandler, SIGUSR1), kills
/// it and starts another, which serves.
#[test]
fn cli_processes_replace_a_wedged_worker_after_printing_its_stacks() {
    let Some(python) = python() else {
        return;
    };
    let mut cli = cli(&python, &["--processes", "1", "--timeout", "2", "--quiet"]);
    let addr = cli.addr.clone();
    // Its answer never comes: the worker is killed with the request in flight.
    std::thread::spawn(move || fetch(&addr, "/wedge"));
    let mut log = String::new();
    while !log.contains("is ready") || log.matches("is ready").count() < 2 {
        let mut line = String::new();
        assert_ne!(cli.stderr.read_line(&mut line).unwrap(), 0, "{log}");
        log.push_str(&line);
    }
    assert!(
        log.contains("sent no heartbeat for 2 s: replacing it"),
        "{log}"
    );
    assert!(log.contains("most recent call first"), "{log}");
    assert!(log.contains("cli_app.py\", line"), "{log}");
    assert!(log.contains("signal: 9 (SIGKILL)"), "{log}");
    assert!(http_get(&cli.addr, "/after").ends_with("hello from /after"));
    stop(cli, "-TERM");
}

/// An application that fails to import stops the supervisor at start, as gunicorn halts on
/// a boot error: the worker's traceback and one line, status 1, no process left.
#[test]
fn cli_processes_stop_when_the_application_cannot_start() {
    let Some(python) = python() else {
        return;
    };
    let out = output_within(
        Command::new(&python)
            .args([
                "-m",
                "basehttp",
                "broken_app:app",
                "127.0.0.1:0",
                "--processes",
                "2",
            ])
            .current_dir(Path::new(ROOT).join("tests/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null()),
        60,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Traceback"), "{stderr}");
    assert!(
        stderr.contains("before it was ready, and no worker has started"),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("Error: worker "),
        "{stderr}"
    );
}

#[test]
fn cli_serves_logs_and_stops_on_sigterm_and_ctrl_c() {
    let Some(python) = python() else {
        return;
    };
    for signal in ["-TERM", "-INT"] {
        let c = cli(&python, &["-w", "3", "-q", "64"]);
        assert_eq!(
            c.banner[0], "basehttp 0.1.0: 3 workers, queue of 64 (block when full)",
            "{:?}",
            c.banner
        );
        assert_eq!(c.banner[1], "Serving WSGI application cli_app:app");
        let answer = http_get(&c.addr, "/hi");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("Content-Length: 14\r\n"), "{answer}");
        assert!(answer.ends_with("hello from /hi"), "{answer}");
        let rest = stop(c, signal);
        // runserver's access line: [date] "GET /hi HTTP/1.1" 200 14
        assert!(rest.contains("] \"GET /hi HTTP/1.1\" 200 14\n"), "{rest}");
        assert!(rest.contains("Stopped."), "{rest}");
        assert!(!rest.contains("Traceback"), "{rest}");
    }
    let c = cli(&python, &["--quiet"]);
    assert!(http_get(&c.addr, "/").starts_with("HTTP/1.1 200"));
    let rest = stop(c, "-TERM");
    assert!(!rest.contains("\"GET"), "--quiet still logged: {rest}");
}

#[test]
fn cli_says_in_one_line_what_cannot_be_loaded() {
    let Some(python) = python() else {
        return;
    };
    for (spec, want) in [
        (
            "no_such_module:app",
            "Error: cannot import module 'no_such_module'",
        ),
        (
            "cli_app:missing",
            "Error: module 'cli_app' has no attribute 'missing'",
        ),
        (
            "cli_app:not_callable",
            "Error: cli_app:not_callable is not callable",
        ),
    ] {
        let out = output_within(
            Command::new(&python)
                .args(["-m", "basehttp", spec, "127.0.0.1:0"])
                .current_dir(Path::new(ROOT).join("tests/python"))
                .env("PYTHONDONTWRITEBYTECODE", "1"),
            60,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{spec}: {stderr}");
        assert!(stderr.starts_with(want), "{spec}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{spec}: {stderr}");
    }
}

#[test]
fn cli_shows_the_traceback_of_an_app_that_fails_to_import_then_one_line() {
    let Some(python) = python() else {
        return;
    };
    let out = output_within(
        Command::new(&python)
            .args(["-m", "basehttp", "broken_app:app", "127.0.0.1:0"])
            .current_dir(Path::new(ROOT).join("tests/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        60,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    assert_eq!(lines[0], "Traceback (most recent call last):", "{stderr}");
    // The user's frames, where it raised, and nothing of the import machinery or basehttp.
    for want in [
        "broken_app.py\", line 9, in <module>",
        "broken_app.py\", line 6, in load_settings",
        "RuntimeError: settings are wrong",
    ] {
        assert!(stderr.contains(want), "{want:?} missing:\n{stderr}");
    }
    for noise in ["importlib", "__main__.py"] {
        assert!(!stderr.contains(noise), "{noise:?} in:\n{stderr}");
    }
    assert_eq!(
        lines.last().copied(),
        Some("Error: importing 'broken_app' failed: RuntimeError: settings are wrong"),
        "{stderr}"
    );
}

#[test]
fn cli_says_in_one_line_what_address_it_cannot_use() {
    let Some(python) = python() else {
        return;
    };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    for (addrport, code, want) in [
        // argparse's usage error: exit status 2.
        (
            "99999",
            2,
            "error: argument ADDRPORT: port 99999 is out of range",
        ),
        (
            "127.0.0.1:70000",
            2,
            "error: argument ADDRPORT: port 70000 is out of range",
        ),
        (
            "no-such-host.invalid:8000",
            1,
            "Error: cannot listen on no-such-host.invalid:8000: ",
        ),
        (taken.as_str(), 1, "Error: cannot listen on 127.0.0.1:"),
    ] {
        let out = output_within(
            Command::new(&python)
                .args(["-m", "basehttp", "cli_app:app", addrport])
                .current_dir(Path::new(ROOT).join("tests/python"))
                .env("PYTHONDONTWRITEBYTECODE", "1"),
            60,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{addrport}: {stderr}");
        let last = stderr.trim_end().lines().last().unwrap_or("");
        assert!(last.contains(want), "{addrport}: {stderr}");
        assert!(!stderr.contains("Traceback"), "{addrport}: {stderr}");
        if code == 1 {
            assert_eq!(stderr.trim_end().lines().count(), 1, "{addrport}: {stderr}");
        }
    }
}

/// The first bytes of a TLS ClientHello, as a browser sends them to `https://` on this port.
const CLIENT_HELLO: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

/// Sends a TLS ClientHello to `addr` and waits for the server to close.
fn send_client_hello(addr: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(CLIENT_HELLO).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
}

/// What the core logs for it (the binary prints it so too), after `ERROR: <peer>: `.
const HTTPS_HINT: &str =
    "You're accessing the development server over HTTPS, but it only supports HTTP.";

/// True if `stderr` has the hint as the binary prints it: `ERROR: 127.0.0.1:PORT: <hint>`.
fn has_https_hint(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        l.strip_prefix("ERROR: 127.0.0.1:")
            .is_some_and(|rest| rest.ends_with(&format!(": {HTTPS_HINT}")))
    })
}

#[test]
fn cli_logs_the_core_s_errors_as_the_binary_does() {
    let Some(python) = python() else {
        return;
    };
    let c = cli(&python, &[]);
    send_client_hello(&c.addr);
    let rest = stop(c, "-TERM");
    assert!(has_https_hint(&rest), "{rest}");
}

// ===== Issue 12, the remaining PEP 3333 points (branch wsgi2) =====
// Reason phrases, wsgi.file_wrapper zero-copy and its fallback, write() before the iterable
// advances, a slow upload beside a GET on one worker, the GIL wait; a Django project's
// uploads, streaming, FileResponse and 404; headless Chromium through the admin login.

#[test]
fn a_custom_reason_phrase_reaches_the_client() {
    let Some(stderr) = case("reason", false) else {
        return;
    };
    assert!(
        stderr.contains("500 for GET /bell: invalid status line \"200 Ding"),
        "{stderr}"
    );
}

#[test]
fn file_wrapper_over_a_real_file_is_sent_zero_copy() {
    case("file_zero_copy", false);
}

#[test]
fn file_wrapper_without_a_descriptor_is_iterated() {
    case("file_fallback", false);
}

#[test]
fn write_data_leaves_before_the_iterable_advances() {
    case("write_before_advance", false);
}

#[test]
fn write_sends_before_the_application_returns() {
    if let Some(stderr) = case("write_sends_before_return", true) {
        assert!(
            stderr.contains("after its response began") && stderr.contains("after a write"),
            "the late exception is reported:\n{stderr}"
        );
    }
}

#[test]
fn a_slow_upload_holds_no_worker() {
    case("slow_upload", false);
}

#[test]
fn stats_count_the_gil_wait() {
    case("gil_wait", false);
}

/// A Django 5.2 project with an app of its own (tests/python/django_project.py): a 5 MB
/// multipart upload stored byte for byte, a `StreamingHttpResponse` chunked and part by part,
/// a `FileResponse` byte for byte and zero-copy, the 404 page, per-thread state (a
/// `threading.local` counter and the database connection) across requests on one worker.
#[test]
fn django_project_uploads_streams_files_and_keeps_thread_state() {
    framework_case(
        "django>=5.2,<6",
        "django",
        "django_project.py",
        "ok django project",
    );
}

use support::chromium;

/// `requirement` (importable as `module`) in the test venv, installed from the package index
/// once; false (after saying so) if it cannot be, which fails with `CI` set.
fn installed(python: &Path, requirement: &str, module: &str) -> bool {
    let there = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if there {
        return true;
    }
    match run(Command::new(python).args(["-m", "pip", "install", "-q", requirement])) {
        Ok(_) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{requirement} cannot be installed: {why}"
            );
            eprintln!("skipped: {requirement} cannot be installed: {why}");
            false
        }
    }
}

/// A server script in a child process, killed on drop so a failed assertion leaves none.
struct Served(Option<std::process::Child>);

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Headless Chromium logs into the Django admin through its form (in a frame of a test
/// page: fill in the user and password, click the button, follow the redirect) and sees the
/// admin index, styled by the admin's stylesheets (Django's `StaticFilesHandler` around the
/// application). The superuser comes from `manage.py createsuperuser --noinput`.
#[test]
fn chromium_logs_into_the_django_admin() {
    let Some(browser) = chromium::find_or_skip("the Django admin browser test") else {
        return;
    };
    let Some(python) = python() else {
        return;
    };
    if !installed(&python, "django>=5.2,<6", "django") {
        return;
    }
    let mut child = Command::new(&python)
        .arg(Path::new(ROOT).join("tests/python/django_project.py"))
        .arg("browser")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    // Django logs each request's trouble on stderr: read it on the side so it cannot fill.
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut served = Served(Some(child));
    let url = loop {
        let mut line = String::new();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "no url printed");
        if let Some(url) = line.strip_prefix("url ") {
            break url.trim().to_owned();
        }
    };
    let profile =
        std::env::temp_dir().join(format!("basehttp-django-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    // The form's POST, its redirect and the index load after the page's load event: a
    // virtual time budget keeps the dump waiting for them.
    let (dom, _) = chromium::run(
        &browser,
        &profile,
        &["--dump-dom", "--virtual-time-budget=30000"],
        &url,
    );
    let _ = std::fs::remove_dir_all(&profile);
    let state = dom
        .split("<p id=\"state\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no state in the page:\n{dom}"));
    assert!(
        state.starts_with("after login: /admin/ | Site administration | Django site admin"),
        "{state}"
    );
    let sheets: usize = state
        .rsplit("stylesheets: ")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        sheets >= 2,
        "the admin's stylesheets did not arrive: {state}"
    );
    let mut child = served.0.take().unwrap();
    drop(child.stdin.take());
    let out = wait_with_deadline(child, Duration::from_secs(30));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let stderr = stderr.join().unwrap_or_default();
    assert!(
        out.status.success() && rest.contains("ok browser"),
        "{}: {rest}{stderr}",
        out.status
    );
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

#[test]
fn a_slow_reader_holds_the_worker_only_until_the_iterable_is_done() {
    case("slow_reader", false);
}

// -------------------------------------------------------------------------------------------
// Django's `manage.py runserver` served by basehttp ("basehttp" first in INSTALLED_APPS,
// python/python/basehttp/management/commands/runserver.py). tests/python/runserver_site.py
// makes a fresh project; each server runs in a process group of its own, killed whole on drop.
// -------------------------------------------------------------------------------------------

/// The venv's Python with Django 5.2 installed (from the package index, once).
fn python_with_django() -> Option<PathBuf> {
    let python = python()?;
    let installed = Command::new(&python)
        .args(["-c", "import django"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed
        && let Err(why) =
            run(Command::new(&python).args(["-m", "pip", "install", "-q", "django>=5.2,<6"]))
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "Django cannot be installed: {why}"
        );
        eprintln!("skipped: Django cannot be installed: {why}");
        return None;
    }
    Some(python)
}

/// A fresh project made by tests/python/runserver_site.py, removed on drop.
struct DjangoSite {
    dir: PathBuf,
}

impl DjangoSite {
    fn new(python: &Path, tag: &str, debug: bool) -> DjangoSite {
        DjangoSite::with(python, tag, if debug { &[] } else { &["nodebug"] })
    }

    /// A site made with runserver_site.py's `options` (`nodebug`, `late`).
    fn with(python: &Path, tag: &str, options: &[&str]) -> DjangoSite {
        let dir =
            std::env::temp_dir().join(format!("basehttp-runserver-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dir_arg = dir.to_string_lossy().into_owned();
        let mut args = vec![dir_arg.as_str()];
        args.extend_from_slice(options);
        let (out, stdout, stderr) = run_script(python, "runserver_site.py", &args, 60);
        assert!(
            out.status.success() && stdout.contains("ok site"),
            "runserver_site.py: {}:\n{stdout}{stderr}",
            out.status
        );
        DjangoSite { dir }
    }
}

impl Drop for DjangoSite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a child printed so far on stdout and stderr, read by a thread each.
type Printed = std::sync::Arc<std::sync::Mutex<String>>;

fn collect(from: impl Read + Send + 'static) -> Printed {
    let printed = Printed::default();
    let into = printed.clone();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(from);
        let mut line = String::new();
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    printed
}

/// `python manage.py runserver ARGS` in a process group of its own (the autoreloader's child
/// is in it too), killed whole on drop so a failed assertion leaves no process behind.
struct Runserver {
    child: Option<std::process::Child>,
    pgid: u32,
    stdout: Printed,
    stderr: Printed,
    /// `host:port` from the banner's "Starting development server at http://...".
    addr: String,
}

impl Runserver {
    fn start(python: &Path, site: &DjangoSite, args: &[&str]) -> Runserver {
        let mut cmd = Command::new(python);
        cmd.env("PYTHONDONTWRITEBYTECODE", "1");
        Runserver::spawn(cmd, &site.dir, args)
    }

    /// Runs `manage.py runserver ARGS` in `dir` with `cmd`'s Python and environment, and
    /// waits for the banner.
    fn spawn(mut cmd: Command, dir: &Path, args: &[&str]) -> Runserver {
        use std::os::unix::process::CommandExt;
        // Through a tiny exec so SIGINT is at its default whatever the test runner's
        // disposition (a shell's background job ignores it): Python installs its Ctrl-C
        // handler only over the default.
        let mut child = cmd
            .args([
                "-c",
                "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); \
                 os.execv(sys.executable, [sys.executable] + sys.argv[1:])",
                "manage.py",
                "runserver",
            ])
            .args(args)
            .current_dir(dir)
            .env_remove("PYTHONUNBUFFERED")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let mut server = Runserver {
            pgid: child.id(),
            child: Some(child),
            stdout,
            stderr,
            addr: String::new(),
        };
        server.wait_for_banners(1);
        let stdout = server.stdout();
        server.addr = stdout
            .lines()
            .find_map(|l| l.strip_prefix("Starting development server at http://"))
            .expect("the banner gives the address")
            .trim_end_matches('/')
            .to_owned();
        server
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (up to 60 s: system checks on a loaded machine) until the banner has been
    /// printed `n` times, failing early if the server exits.
    fn wait_for_banners(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self
            .stdout()
            .matches("Quit the server with CONTROL-C.")
            .count()
            < n
        {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "runserver gave no banner {n} ({exited:?}):\n{}{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` (as `kill` spells it) to the whole group, as a terminal's Ctrl-C does.
    fn signal_group(&self, signal: &str) {
        run(Command::new("kill").args([signal, "--", &format!("-{}", self.pgid)])).unwrap();
    }

    /// Sends `signal` to the server process alone, as `kill PID` does.
    fn signal(&self, signal: &str) {
        run(Command::new("kill").args([signal, &self.pgid.to_string()])).unwrap();
    }

    /// Waits (10 s at most) for the server to exit; its status, stdout and stderr.
    fn wait(&mut self) -> (std::process::ExitStatus, String, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let child = self.child.as_mut().unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "runserver did not stop:\n{}{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers see EOF once every process holding the pipes (the reloader's child
        // too) is gone: until then, wait for them a little.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::sync::Arc::strong_count(&self.stdout)
            + std::sync::Arc::strong_count(&self.stderr)
            > 2
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        (status, self.stdout(), self.stderr())
    }

    /// True while any process is left in the server's group.
    fn group_alive(&self) -> bool {
        Command::new("kill")
            .args(["-0", "--", &format!("-{}", self.pgid)])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Runserver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pgid)])
            .stderr(Stdio::null())
            .status();
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

/// A GET with `Connection: close`: the status and the body (by `Content-Length`, else to EOF).
fn fetch(addr: &str, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of head"))?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad head {head:?}")))?;
    let body = &answer[split + 4..];
    if !head
        .to_ascii_lowercase()
        .contains("\r\ntransfer-encoding: chunked")
    {
        return Ok((status, body.to_vec()));
    }
    // Chunked (RFC 9112 §7.1): size line, data, CRLF; a zero size ends it.
    let (mut rest, mut decoded) = (body, Vec::new());
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| std::io::Error::other("no chunk size line"))?;
        let size = usize::from_str_radix(&String::from_utf8_lossy(&rest[..eol]), 16)
            .map_err(std::io::Error::other)?;
        if size == 0 {
            return Ok((status, decoded));
        }
        decoded.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size + 2..];
    }
}

/// django/contrib/admin/static/admin/css/base.css of the venv's Django.
fn admin_base_css(python: &Path) -> Vec<u8> {
    let out = run(Command::new(python).args([
        "-c",
        "import django.contrib.admin as a, os; \
         print(os.path.join(os.path.dirname(a.__file__), 'static/admin/css/base.css'))",
    ]))
    .unwrap();
    std::fs::read(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

const BASE_CSS: &str = "/static/admin/css/base.css";

#[test]
fn runserver_serves_the_admin_and_static_files_with_checks_and_access_lines() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "static", true);
    let css = admin_base_css(&python);
    let mut server = Runserver::start(&python, &site, &["--noreload", "127.0.0.1:0"]);
    let (status, page) = fetch(&server.addr, "/admin/login/").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&page));
    assert!(String::from_utf8_lossy(&page).contains("csrfmiddlewaretoken"));
    let (status, body) = fetch(&server.addr, BASE_CSS).unwrap();
    assert_eq!(status, 200);
    assert!(body == css, "{BASE_CSS} differs from Django's file");
    let (status, _) = fetch(&server.addr, "/static/admin/css/no-such.css").unwrap();
    assert_eq!(status, 404);
    server.signal("-TERM");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{status}:\n{stdout}{stderr}");
    for want in [
        "Performing system checks...",
        "System check identified no issues (0 silenced).",
        "You have 18 unapplied migration(s).",
        "Run 'python manage.py migrate' to apply them.",
        "Django version 5.2",
        "basehttp 0.1.0: 8 workers, queue of ",
        "Starting development server at http://127.0.0.1:",
        "Quit the server with CONTROL-C.",
    ] {
        assert!(stdout.contains(want), "{want:?} missing from:\n{stdout}");
    }
    // runserver's access lines: [02/Dec/2026 00:31:12] "GET /admin/login/ HTTP/1.1" 200 4160
    for want in [
        format!("] \"GET /admin/login/ HTTP/1.1\" 200 {}\n", page.len()),
        format!("] \"GET {BASE_CSS} HTTP/1.1\" 200 {}\n", css.len()),
        "] \"GET /static/admin/css/no-such.css HTTP/1.1\" 404 ".to_owned(),
    ] {
        assert!(stderr.contains(&want), "{want:?} missing from:\n{stderr}");
    }
    assert!(stderr.lines().all(|l| l.starts_with("[")), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");

    let server = Runserver::start(&python, &site, &["--noreload", "--nostatic", "127.0.0.1:0"]);
    assert_eq!(fetch(&server.addr, BASE_CSS).unwrap().0, 404);
    assert_eq!(fetch(&server.addr, "/admin/login/").unwrap().0, 200);
}

#[test]
fn runserver_insecure_serves_static_files_without_debug() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "insecure", false);
    let css = admin_base_css(&python);
    let server = Runserver::start(&python, &site, &["--noreload", "--insecure", "127.0.0.1:0"]);
    let (status, body) = fetch(&server.addr, BASE_CSS).unwrap();
    assert_eq!(status, 200);
    assert!(body == css, "{BASE_CSS} differs from Django's file");
    drop(server);
    let server = Runserver::start(&python, &site, &["--noreload", "127.0.0.1:0"]);
    assert_eq!(fetch(&server.addr, BASE_CSS).unwrap().0, 404);
    assert_eq!(
        fetch(&server.addr, "/hello/").unwrap(),
        (200, b"hello v1".to_vec())
    );
}

#[test]
fn runserver_stops_on_sigterm_letting_an_in_flight_request_finish() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "sigterm", true);
    let mut server = Runserver::start(
        &python,
        &site,
        &["--noreload", "--workers", "3", "127.0.0.1:0"],
    );
    assert!(
        server
            .stdout()
            .contains("basehttp 0.1.0: 3 workers, queue of "),
        "{}",
        server.stdout()
    );
    let addr = server.addr.clone();
    let slow = std::thread::spawn(move || fetch(&addr, "/slow/?secs=2"));
    // Liveness, not timing: after a second the request has surely reached its view.
    std::thread::sleep(Duration::from_secs(1));
    server.signal("-TERM");
    let (status, stdout, stderr) = server.wait();
    let (code, body) = slow.join().unwrap().unwrap();
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("\"GET /slow/?secs=2 HTTP/1.1\" 200 "),
        "{stderr}"
    );
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

#[test]
fn runserver_autoreloads_on_a_change_and_stops_on_ctrl_c() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "reload", true);
    // The same port across restarts, so a fixed one.
    let port = support::free_port();
    let mut server = Runserver::start(&python, &site, &[&format!("127.0.0.1:{port}")]);
    assert_eq!(server.addr, format!("127.0.0.1:{port}"));
    assert_eq!(
        fetch(&server.addr, "/hello/").unwrap(),
        (200, b"hello v1".to_vec())
    );
    // The reloader takes its first look at the files about when the server starts; a change
    // must come after it (StatReloader looks once a second).
    std::thread::sleep(Duration::from_millis(2500));
    let views = site.dir.join("mysite/views.py");
    let source = std::fs::read_to_string(&views).unwrap();
    std::fs::write(&views, source.replace("hello v1", "hello v2")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok((200, body)) = fetch(&server.addr, "/hello/")
            && body == b"hello v2"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no reload within 20 s:\n{}{}",
            server.stdout(),
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.wait_for_banners(2);
    server.signal_group("-INT");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{status}:\n{stdout}{stderr}");
    assert!(
        stderr.contains("mysite/views.py changed, reloading."),
        "{stderr}"
    );
    // The operating system's watcher, not Django's StatReloader (basehttp.reloader).
    assert!(
        stderr.contains("Watching for file changes with NativeReloader"),
        "{stderr}"
    );
    assert!(!stderr.contains("Traceback"), "{stderr}");
    assert!(!stdout.contains("Traceback"), "{stdout}");
    let gone = Instant::now() + Duration::from_secs(10);
    while server.group_alive() {
        assert!(
            Instant::now() < gone,
            "a process of runserver's group is left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Django project under `python -m basehttp --processes 2 -w 1`: both processes serve,
/// `wsgi.multiprocess` is true, and each process's one worker thread keeps its thread-locals
/// from one request to the next, as in one process (Django's database connections live
/// there); the admin's login page renders in both.
#[test]
fn django_under_processes_keeps_thread_state_per_process() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "processes", true);
    let mut cli = cli_in(
        &python,
        &site.dir,
        "mysite.wsgi:application",
        &["--processes", "2", "-w", "1", "--quiet"],
    );
    let mut log = String::new();
    while log.matches(" is ready").count() < 2 {
        let mut line = String::new();
        assert_ne!(cli.stderr.read_line(&mut line).unwrap(), 0, "{log}");
        log.push_str(&line);
    }
    let addr = cli.addr.clone();
    let mut counts: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for _ in 0..40 {
        let (status, body) = fetch(&addr, "/whoami/").unwrap();
        assert_eq!(status, 200);
        let body = String::from_utf8(body).unwrap();
        let f: Vec<&str> = body.split(' ').collect();
        assert_eq!(f[1], "True", "{body}");
        counts
            .entry(format!("{} {}", f[0], f[2]))
            .or_default()
            .push(f[3].parse().unwrap());
    }
    assert_eq!(
        counts.len(),
        2,
        "two processes of one thread each: {counts:?}"
    );
    for seen in counts.values() {
        let expected: Vec<u64> = (1..=seen.len() as u64).collect();
        assert_eq!(seen, &expected, "thread-local counts in {counts:?}");
    }
    for _ in 0..4 {
        assert_eq!(fetch(&addr, "/admin/login/").unwrap().0, 200);
    }
    stop(cli, "-TERM");
}

/// Django's autoreloader closes the listening socket at every reload, so a browser that
/// reloads meanwhile gets "connection refused". Under basehttp the reloader's parent holds
/// the socket and hands it to each child: a client making a new connection per request while
/// a source file changes three times sees no refused connection and no failed request, and
/// the new code answers after each reload.
#[test]
fn runserver_keeps_its_socket_across_reloads() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "handover", true);
    // A fixed port, as a developer's browser has: without the handover each restart closes
    // it and binds it again.
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Runserver::start(&python, &site, &["--skip-checks", "--quiet", &addr]);
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (addr, stop) = (server.addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut bodies, mut failed) = (Vec::new(), Vec::new());
            while !stop.load(Relaxed) {
                match fetch(&addr, "/hello/") {
                    Ok((200, body)) => bodies.push(String::from_utf8_lossy(&body).into_owned()),
                    Ok((status, body)) => {
                        failed.push(format!("{status} {}", String::from_utf8_lossy(&body)))
                    }
                    Err(e) => failed.push(e.to_string()),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (bodies, failed)
        })
    };
    let views = site.dir.join("mysite/views.py");
    for version in 2..=4 {
        // After the reloader's first look at the files (StatReloader: once a second).
        std::thread::sleep(Duration::from_millis(2500));
        let source = std::fs::read_to_string(&views).unwrap();
        let before = format!("hello v{}", version - 1);
        std::fs::write(
            &views,
            source.replace(&before, &format!("hello v{version}")),
        )
        .unwrap();
        server.wait_for_banners(version);
    }
    // A moment of the last child's answers.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Relaxed);
    let (bodies, failed) = client.join().unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} failed, e.g. {:?}",
        failed.len(),
        failed.len() + bodies.len(),
        &failed[..failed.len().min(3)]
    );
    for version in 1..=4 {
        let body = format!("hello v{version}");
        assert!(bodies.contains(&body), "{body} never answered");
    }
    assert_eq!(bodies.last().map(String::as_str), Some("hello v4"));
    let stdout = server.stdout();
    let banners = format!("Starting development server at http://{addr}/");
    assert_eq!(stdout.matches(&banners).count(), 4, "{stdout}");
    server.signal_group("-INT");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{status}:\n{stdout}{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

#[test]
fn runserver_nothreading_is_one_worker() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "one", true);
    let mut server = Runserver::start(
        &python,
        &site,
        &["--noreload", "--nothreading", "--quiet", "127.0.0.1:0"],
    );
    assert!(
        server
            .stdout()
            .contains("basehttp 0.1.0: 1 worker, queue of "),
        "{}",
        server.stdout()
    );
    // Two requests at once to a view that sleeps: one worker serves them one after the other,
    // on the same thread (the view answers when it started and ended, and its thread).
    let both: Vec<_> = (0..2)
        .map(|_| {
            let addr = server.addr.clone();
            std::thread::spawn(move || fetch(&addr, "/slow/?secs=0.5"))
        })
        .collect();
    let mut runs: Vec<(f64, f64, String)> = both
        .into_iter()
        .map(|t| {
            let (status, body) = t.join().unwrap().unwrap();
            assert_eq!(status, 200);
            let text = String::from_utf8(body).unwrap();
            let f: Vec<&str> = text.split(' ').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_owned(),
            )
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(runs[0].1 <= runs[1].0, "they overlapped: {runs:?}");
    assert_eq!(runs[0].2, runs[1].2, "two threads: {runs:?}");
    server.signal("-INT");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{status}:\n{stdout}{stderr}");
    assert!(!stderr.contains("\"GET"), "--quiet still logged:\n{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

#[test]
fn runserver_ipv6() {
    let Some(python) = python_with_django() else {
        return;
    };
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: ::1 is not available here");
        return;
    }
    let site = DjangoSite::new(&python, "ipv6", true);
    let server = Runserver::start(&python, &site, &["--noreload", "--ipv6", "0"]);
    assert!(server.addr.starts_with("[::1]:"), "{}", server.stdout());
    assert_eq!(
        fetch(&server.addr, "/hello/").unwrap(),
        (200, b"hello v1".to_vec())
    );
    let server2 = Runserver::start(&python, &site, &["--noreload", "[::1]:0"]);
    assert!(server2.addr.starts_with("[::1]:"), "{}", server2.stdout());
    assert_eq!(fetch(&server2.addr, "/admin/login/").unwrap().0, 200);
}

#[test]
fn runserver_says_what_it_cannot_do_as_runserver_does() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "errors", true);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for (args, want) in [
        (
            vec!["--noreload", "--skip-checks", port.as_str()],
            "Error: That port is already in use.",
        ),
        (
            vec!["--noreload", "--nothreading", "--workers", "2", "0"],
            "CommandError: --nothreading means one worker; leave out --workers.",
        ),
        // Django checks that the port is a number; basehttp also that it fits, so it is
        // one line, not an OverflowError's traceback. With the autoreloader too.
        (
            vec!["--noreload", "99999"],
            "CommandError: '99999' is not a valid port number (0-65535).",
        ),
        (
            vec!["127.0.0.1:65536"],
            "CommandError: '65536' is not a valid port number (0-65535).",
        ),
        (
            vec!["--noreload", "--skip-checks", "no-such-host.invalid:8000"],
            "Error: unknown host 'no-such-host.invalid' (failed to lookup address information",
        ),
        // With the autoreloader its parent binds (to hand the socket on), and says the same.
        (
            vec!["--skip-checks", port.as_str()],
            "Error: That port is already in use.",
        ),
        (
            vec!["--skip-checks", "no-such-host.invalid:8000"],
            "Error: unknown host 'no-such-host.invalid' (failed to lookup address information",
        ),
    ] {
        let out = output_within(
            Command::new(&python)
                .arg("manage.py")
                .arg("runserver")
                .args(&args)
                .current_dir(&site.dir)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(Stdio::null()),
            60,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("Traceback"), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn a_system_check_says_when_basehttp_is_not_first_in_installed_apps() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::with(&python, "late", &["late"]);
    let out = Command::new(&python)
        .args(["manage.py", "check"])
        .current_dir(&site.dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains(
            "?: (basehttp.W001) 'basehttp' comes after 'django.contrib.staticfiles' in \
             INSTALLED_APPS, and 'django.contrib.staticfiles' provides runserver too"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("HINT: Put 'basehttp' first in INSTALLED_APPS"),
        "{printed}"
    );
    // First, as the other tests' sites have it, there is nothing to say: they check that
    // runserver's checks identify no issues.
}

#[test]
fn runserver_gives_runserver_s_environ_and_the_core_s_errors() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::new(&python, "meta", true);
    let mut server = Runserver::start(&python, &site, &["--noreload", "127.0.0.1:0"]);
    let (status, body) = fetch(&server.addr, "/meta/").unwrap();
    assert_eq!(status, 200);
    let meta = String::from_utf8_lossy(&body).into_owned();
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    for want in [
        "\"SERVER_SOFTWARE\": \"basehttp/0.1.0\"".to_owned(),
        "\"GATEWAY_INTERFACE\": \"CGI/1.1\"".to_owned(),
        "\"REMOTE_HOST\": \"\"".to_owned(),
        format!("\"SERVER_PORT\": \"{port}\""),
        // The process environment, as wsgiref copies it in: manage.py sets this one.
        "\"DJANGO_SETTINGS_MODULE\": \"mysite.settings\"".to_owned(),
    ] {
        assert!(meta.contains(&want), "{want} missing from {meta}");
    }
    // Every variable this test runs with, but the one the server is started without.
    for (name, _) in std::env::vars() {
        if name != "PYTHONUNBUFFERED" && name.bytes().all(|b| b.is_ascii_graphic()) {
            assert!(
                meta.contains(&format!("\"{name}\": ")),
                "{name} missing from {meta}"
            );
        }
    }
    send_client_hello(&server.addr);
    server.signal("-TERM");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{status}:\n{stdout}{stderr}");
    assert!(has_https_hint(&stderr), "{stderr}");
}

/// What the autoreloader's child does at each reload, without Django: the server waits in a
/// daemon thread, the main thread exits with a request in flight; the pool stops first.
#[test]
fn interpreter_exit_stops_a_pool_serving_from_a_daemon_thread() {
    let Some(python) = python() else {
        return;
    };
    for _ in 0..3 {
        let (out, stdout, stderr) = run_script(&python, "exit_case.py", &[], 30);
        assert!(
            out.status.code() == Some(0) && stdout.contains("ok exit"),
            "{}:\n{stdout}{stderr}",
            out.status
        );
        assert!(stderr.contains("view finished"), "{stderr}");
        for noise in [
            "Traceback",
            "Fatal Python error",
            "panicked",
            "Exception ignored",
        ] {
            assert!(!stderr.contains(noise), "{noise:?} on stderr:\n{stderr}");
        }
    }
}

/// The wheel `build_venv` made (target/python-wheels, not built again) on a machine without
/// Rust: with `PATH` stripped of every directory holding `cargo` or `rustc` and cargo's and
/// rustup's variables (`CARGO_HOME`, `RUSTUP_HOME`, ...) unset, pip installs it and Django
/// (from the package index) into a fresh venv; `django-admin startproject` makes a project
/// with "basehttp" first in INSTALLED_APPS, and `manage.py runserver --noreload` on a free port
/// serves the admin's login page and its stylesheet, then stops on SIGINT.
#[test]
fn a_wheel_installs_without_rust_and_serves_runserver() {
    if python().is_none() {
        return;
    }
    let wheel = the_wheel(&Path::new(ROOT).join(WHEELS)).expect("build_venv leaves one wheel");
    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let scratch =
        Scratch(std::env::temp_dir().join(format!("basehttp-wheel-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::create_dir_all(&scratch.0).unwrap();
    let path = std::env::join_paths(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|dir| !dir.join("cargo").exists() && !dir.join("rustc").exists()),
    )
    .unwrap();
    let without_rust = |program: &Path| {
        let mut cmd = Command::new(program);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO") || name.starts_with("RUST") {
                cmd.env_remove(&*name);
            }
        }
        cmd.env("PATH", &path)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("PYTHONPATH")
            .env_remove("VIRTUAL_ENV")
            .stdin(Stdio::null());
        cmd
    };
    let found = without_rust(Path::new("sh"))
        .args(["-c", "command -v cargo || command -v rustc"])
        .output()
        .unwrap();
    assert!(
        !found.status.success(),
        "cargo is still on the PATH: {}",
        String::from_utf8_lossy(&found.stdout)
    );

    let system = std::env::var("BASEHTTP_PYTHON").unwrap_or_else(|_| "python3".into());
    let venv = scratch.0.join("venv");
    run(without_rust(Path::new(&system))
        .arg("-m")
        .arg("venv")
        .arg(&venv))
    .unwrap();
    let python = venv.join("bin/python");
    run(without_rust(&python)
        .args(["-m", "pip", "install", "-q", "--no-deps"])
        .arg(&wheel))
    .unwrap();
    if let Err(why) =
        run(without_rust(&python).args(["-m", "pip", "install", "-q", "django>=5.2,<6"]))
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "Django cannot be installed: {why}"
        );
        eprintln!("skipped: Django cannot be installed: {why}");
        return;
    }
    let native =
        run(without_rust(&python).args(["-c", "import basehttp._native as n; print(n.__file__)"]))
            .unwrap();
    let native = String::from_utf8_lossy(&native.stdout).trim().to_owned();
    assert!(
        Path::new(&native).starts_with(&venv),
        "basehttp._native comes from {native}, not the fresh venv"
    );

    let site = scratch.0.join("site");
    std::fs::create_dir_all(&site).unwrap();
    run(without_rust(&venv.join("bin/django-admin"))
        .args(["startproject", "mysite"])
        .arg(&site))
    .unwrap();
    let settings = site.join("mysite/settings.py");
    let text = std::fs::read_to_string(&settings).unwrap();
    assert!(text.contains("INSTALLED_APPS = [\n"), "{text}");
    std::fs::write(
        &settings,
        text.replacen(
            "INSTALLED_APPS = [\n",
            "INSTALLED_APPS = [\n    \"basehttp\",\n",
            1,
        ),
    )
    .unwrap();

    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Runserver::spawn(without_rust(&python), &site, &["--noreload", &addr]);
    assert!(
        server
            .stdout()
            .contains(&format!("Starting development server at http://{addr}/")),
        "{}",
        server.stdout()
    );

    let get = |path: &str| {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a whole head");
        let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
        (head, answer[split + 4..].to_vec())
    };
    let (head, page) = get("/admin/login/");
    let page = String::from_utf8_lossy(&page);
    assert!(head.starts_with("http/1.1 200 "), "{head}\n{page}");
    assert!(head.contains("\r\ncontent-type: text/html"), "{head}");
    assert!(page.contains("Django"), "{page}");
    let (head, css) = get(BASE_CSS);
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert!(head.contains("\r\ncontent-type: text/css"), "{head}");
    assert!(
        css == admin_base_css(&python),
        "{BASE_CSS} differs from Django's file"
    );

    server.signal("-INT");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{status}:\n{stdout}{stderr}");
    assert!(stdout.contains("basehttp "), "{stdout}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

/// Live reload under `manage.py runserver` (DEBUG, the autoreloader), in headless Chromium: a
/// saved static stylesheet is swapped in place (no navigation, no restart), a saved template
/// reloads the tab (no restart), a saved `views.py` restarts the server and the tab reloads once
/// the new one answers, with no refused connection (the socket is handed on).
#[test]
fn runserver_live_reload_follows_static_template_and_python_saves_in_chromium() {
    let Some(python) = python_with_django() else {
        return;
    };
    let site = DjangoSite::with(&python, "live", &["live"]);
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Runserver::start(&python, &site, &["--skip-checks", &addr]);
    assert!(
        server.stdout().contains("live reload on"),
        "{}",
        server.stdout()
    );
    let Some(browser) = support::devtools::Browser::start("the runserver live reload test") else {
        return;
    };
    let mut page = browser.open(&format!("http://{addr}/page/"));
    page.wait_for(
        "document.getElementById('v').textContent === 'py1'",
        Duration::from_secs(30),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.stderr().contains("GET /__basehttp/events") {
        assert!(Instant::now() < deadline, "no stream:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The autoreloader looks at the files about when the server starts.
    std::thread::sleep(Duration::from_millis(2500));
    page.eval("window.marker = 1");

    std::fs::write(
        site.dir.join("static/site.css"),
        "h1 { color: rgb(0, 128, 0) }\n",
    )
    .unwrap();
    let css = page.wait_for(
        "getComputedStyle(document.getElementById('t')).color === 'rgb(0, 128, 0)'",
        Duration::from_secs(30),
    );
    assert_eq!(page.eval("window.marker"), 1, "swapped, no navigation");

    let template = site.dir.join("templates/page.html");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(&template, text.replace(">v1<", ">v2<")).unwrap();
    let html = page.wait_for(
        "document.getElementById('t').textContent === 'v2'",
        Duration::from_secs(30),
    );
    assert_eq!(page.eval("window.marker === undefined"), true, "reloaded");
    assert_eq!(
        server
            .stdout()
            .matches("Quit the server with CONTROL-C.")
            .count(),
        1,
        "a template or a stylesheet restarts nothing"
    );

    page.eval("window.marker = 2");
    let views = site.dir.join("mysite/views.py");
    let text = std::fs::read_to_string(&views).unwrap();
    std::fs::write(&views, text.replace("\"py1\"", "\"py2\"")).unwrap();
    let py = page.wait_for(
        "document.getElementById('v').textContent === 'py2'",
        Duration::from_secs(20),
    );
    server.wait_for_banners(2);
    println!("save to page: stylesheet {css:?}, template {html:?}, views.py (a restart) {py:?}");
    server.signal_group("-INT");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{status}:\n{stdout}{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}
