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

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
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
    let mut files = vec![root.join("Cargo.toml"), root.join("Cargo.lock")];
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

fn build_venv() -> Result<PathBuf, String> {
    let root = Path::new(ROOT);
    let venv = root.join("target/python-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("basehttp-sources.stamp");
    let hash = sources_hash();
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&hash) {
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
    eprintln!("building the Python package into {} ...", venv.display());
    let started = Instant::now();
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--no-build-isolation",
            "--no-deps",
            "--force-reinstall",
        ])
        .arg(root.join("python"))
        .env("CARGO_TARGET_DIR", root.join("target/python-build"))
        // maturin's build backend runs the `maturin` program it finds on PATH.
        .env("PATH", path_with(&venv.join("bin"))))?;
    eprintln!("built in {:.0?}", started.elapsed());
    std::fs::write(&stamp, hash).map_err(|e| e.to_string())?;
    Ok(python)
}

/// `PATH` with `dir` first.
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap_or_default()
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
    if !installed {
        if let Err(why) =
            run(Command::new(&python).args(["-m", "pip", "install", "-q", requirement]))
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "{requirement} cannot be installed: {why}"
            );
            eprintln!("skipped: {requirement} cannot be installed: {why}");
            return;
        }
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
    let mut child = Command::new(python)
        .args(["-m", "basehttp", "cli_app:app", "127.0.0.1:0"])
        .args(args)
        .current_dir(Path::new(ROOT).join("tests/python"))
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
        let out = Command::new(&python)
            .args(["-m", "basehttp", spec, "127.0.0.1:0"])
            .current_dir(Path::new(ROOT).join("tests/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{spec}: {stderr}");
        assert!(stderr.starts_with(want), "{spec}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{spec}: {stderr}");
    }
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

#[path = "support/chromium.rs"]
mod chromium;

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
