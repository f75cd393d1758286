//! The `basehttp` binary: arguments, banner, serving a directory with every file flag, the
//! access log (plain, colored on a terminal, or off), errors, and graceful exit on SIGINT and
//! SIGTERM. Driven as a real process, with curl as the client where it matters.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");

/// Lines of the banner on stdout.
const BANNER_LINES: usize = 4;

/// A directory to serve: a page, a text file, a subdirectory with an index and one without.
fn site() -> TempDir {
    let dir = TempDir::new("cli");
    dir.write("index.html", "<!DOCTYPE html><title>home</title>home\n");
    dir.write("hello.txt", "Hello from a file.\n");
    dir.write("home.htm", "custom index\n");
    dir.write("sub/index.html", "sub index\n");
    dir.write("list/a.txt", "a\n");
    dir.write(".secret", "dotfile\n");
    dir
}

/// A started server process, killed on drop (with its process group when it leads one), so a
/// failed assertion leaves nothing behind.
struct Running {
    child: Option<Child>,
    group: bool,
}

impl Running {
    fn new(child: Child) -> Running {
        Running {
            child: Some(child),
            group: false,
        }
    }

    /// A process started with `process_group(0)`: the whole group is killed on drop.
    fn group_leader(child: Child) -> Running {
        Running {
            child: Some(child),
            group: true,
        }
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("still running")
    }

    fn id(&self) -> u32 {
        self.child.as_ref().expect("still running").id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.group {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the binary and waits for its banner; returns the child and the banner lines.
fn run(args: &[&str]) -> (Running, Vec<String>) {
    run_in(Path::new("."), args)
}

/// Starts the binary in `dir` and waits for its banner.
fn run_in(dir: &Path, args: &[&str]) -> (Running, Vec<String>) {
    let mut running = Running::new(
        Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start basehttp"),
    );
    let mut lines = Vec::new();
    let mut stdout = BufReader::new(running.child().stdout.take().unwrap());
    for _ in 0..BANNER_LINES {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line.trim_end().to_string());
    }
    (running, lines)
}

fn signal(child: &Running, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

/// Waits for the child to exit (bounded), returning its status and stderr.
fn finish(mut running: Running) -> (std::process::ExitStatus, String) {
    let child = running.child();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // Past it, `running` is killed as it drops.
        assert!(Instant::now() <= deadline, "basehttp did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is needed for this test");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `Content-Length` in a head printed by `curl -i` or `-I`.
fn content_length(head: &str) -> &str {
    head.lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .trim()
}

#[test]
fn serves_a_directory_logs_like_runserver_and_exits_on_sigterm() {
    let site = site();
    let dir = site.path().to_str().unwrap();
    let port = support::free_port();
    let (child, banner) = run(&[&port.to_string(), "-w", "3", "-q", "16", "-d", dir]);
    assert_eq!(
        banner[0],
        "basehttp 0.1.0: 3 workers, queue of 16 (block when full)"
    );
    let canonical = std::fs::canonicalize(site.path()).unwrap();
    assert_eq!(banner[1], format!("Serving {}", canonical.display()));
    assert_eq!(
        banner[2],
        format!("Starting development server at http://127.0.0.1:{port}/")
    );
    assert_eq!(banner[3], "Quit the server with CONTROL-C.");

    let url = format!("http://127.0.0.1:{port}/");
    assert_eq!(curl(&[&url]), "<!DOCTYPE html><title>home</title>home\n");
    let head = curl(&["-I", &format!("{url}hello.txt")]);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Length: 19\r\n"));
    assert!(head.contains("Content-Type: text/plain; charset=utf-8\r\n"));
    let post = curl(&["-i", "-X", "POST", "-d", "x=1", &url]);
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert!(post.contains("Allow: GET, HEAD\r\n"));
    let post_len = content_length(&post).to_string();
    let listing = curl(&[&format!("{url}list/")]);
    assert!(listing.contains("<a href=\"a.txt\">a.txt</a>"), "{listing}");
    assert!(!curl(&[&format!("{url}list")]).contains("a.txt")); // the 301 page

    signal(&child, "-TERM");
    let (status, stderr) = finish(child);
    assert!(status.success(), "exit status {status}; stderr: {stderr}");
    let access: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(access.len(), 5, "{stderr}");
    // [22/Nov/2026 04:34:37] "GET / HTTP/1.1" 200 39
    let line = access[0];
    let b = line.as_bytes();
    assert!(
        b[3] == b'/' && b[7] == b'/' && b[12] == b' ' && b[15] == b':' && b[21] == b']',
        "{line}"
    );
    assert!(line.ends_with("] \"GET / HTTP/1.1\" 200 39"), "{line}");
    assert!(access[1].ends_with("\"HEAD /hello.txt HTTP/1.1\" 200 0"));
    assert!(
        access[2].ends_with(&format!("\"POST / HTTP/1.1\" 405 {post_len}")),
        "{}",
        access[2]
    );
    assert!(access[4].contains("\"GET /list HTTP/1.1\" 301 "));
    // Piped stderr: no color codes.
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}

#[test]
fn sigint_shuts_down_gracefully() {
    let site = site();
    let port = support::free_port();
    let (child, _) = run_in(site.path(), &[&format!("127.0.0.1:{port}")]);
    assert_eq!(
        curl(&[&format!("http://127.0.0.1:{port}/hello.txt")]),
        "Hello from a file.\n"
    );
    signal(&child, "-INT");
    let (status, stderr) = finish(child);
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("Shutting down"));
}

/// The binary raises its soft limit on open descriptors to the hard limit at start: each open
/// connection holds one, and a shell's default soft limit is often 1,024.
#[test]
fn the_descriptor_limit_is_raised_to_the_hard_limit() {
    let port = support::free_port();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -S -n 256 && exec {BIN} 127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start basehttp under a low soft limit");
    let mut banner = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    while !banner.contains("CONTROL-C") {
        assert!(stdout.read_line(&mut banner).unwrap() > 0, "{banner}");
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let fields: Vec<&str> = line.split_whitespace().collect();
    // "Max open files <soft> <hard> files"
    assert_eq!(fields[3], fields[4], "{line}");
    assert_ne!(fields[3], "256", "{line}");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(BIN).arg(port.to_string()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Error: that port is already in use"),
        "{stderr}"
    );
}

#[test]
fn help_version_and_bad_arguments() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--workers",
        "--queue",
        "--when-full",
        "--keep-alive",
        "ADDRPORT",
        "--directory",
        "--bind",
        "--ipv6",
        "--cors",
        "--spa",
        "--no-listing",
        "--index",
        "--header",
        "--hidden",
        "--quiet",
        "load URL",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
    let version = Command::new(BIN).arg("-V").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout), "basehttp 0.1.0\n");
    for bad in [
        &["--when-full", "sometimes"][..],
        &["--nope"],
        &["notaport"],
        &["-w", "0"],
        &["--header", "no colon"],
        &["--header", "Bad Name: x"],
        &["-b", "0.0.0.0", "127.0.0.1:9000"],
    ] {
        let out = Command::new(BIN).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("Error: "),
            "{bad:?}"
        );
    }
}

/// `--help` and `-h` after a command print that command's usage, on stdout, and exit 0.
#[test]
fn every_command_prints_its_own_help() {
    // (arguments, the usage's first line, words it has, words it lacks)
    type Case<'a> = (&'a [&'a str], &'a str, &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 4] = [
        (
            &["--help"],
            "Usage: basehttp [ADDRPORT] [OPTIONS]\n",
            &["--directory", "--workers", "load URL", "/echo"],
            &[],
        ),
        (
            &["demo", "--help"],
            "Usage: basehttp demo [ADDRPORT] [OPTIONS]\n",
            &[
                "/echo",
                "/stats",
                "--workers",
                "--when-full",
                "--bind",
                "--quiet",
            ],
            &["--directory", "--connections", "--cors"],
        ),
        (
            &["load", "--help"],
            "Usage: basehttp load URL [LOAD OPTIONS]\n",
            &["--connections", "--duration", "--pipeline", "--close"],
            &["--workers", "--directory", "/echo"],
        ),
        // After a URL and options, too.
        (
            &["load", "http://127.0.0.1:9/", "-c", "2", "--help"],
            "Usage: basehttp load URL [LOAD OPTIONS]\n",
            &["--threads"],
            &[],
        ),
    ];
    for (args, first, has, lacks) in cases {
        let long = args.to_vec();
        let short: Vec<&str> = args
            .iter()
            .map(|a| if *a == "--help" { "-h" } else { a })
            .collect();
        for args in [long, short] {
            let out = Command::new(BIN).args(&args).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{args:?}: {}: {stderr}", out.status);
            assert!(stderr.is_empty(), "{args:?}: {stderr}");
            assert!(text.starts_with(first), "{args:?}: {text}");
            for flag in has {
                assert!(text.contains(flag), "{args:?}: help lacks {flag}");
            }
            for flag in lacks {
                assert!(!text.contains(flag), "{args:?}: help has {flag}");
            }
        }
    }
}

/// Runs the binary with a stdout whose reader is already gone, so its first write fails with
/// `EPIPE` for certain (a `head -3` that left early); returns the exit status and stderr.
fn run_with_closed_stdout(args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `basehttp --help | head -3`: a reader that leaves early ends the program quietly (no
/// panic, no backtrace, exit 0), for every command that prints to stdout and then exits.
#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["-V"],
        &["--version"],
        &["demo", "--help"],
        &["load", "--help"],
    ] {
        let (status, stderr) = run_with_closed_stdout(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert!(status.success(), "{args:?}: {status}: {stderr}");
    }
    // The load report, printed after a short run against a real server.
    let server = support::start_default();
    let url = format!("http://{}/hello", server.local_addr());
    let (status, stderr) = run_with_closed_stdout(&["load", &url, "-c", "1", "-d", "0.2"]);
    server.shutdown();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status}: {stderr}");
}

/// A stdout that fails otherwise (a full disk) is still an error.
#[test]
fn a_failing_stdout_is_an_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full on this machine");
        return;
    };
    let out = Command::new(BIN)
        .arg("--help")
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("Error: cannot write to stdout: "),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn ipv6_loopback_addrport() {
    let Ok(probe) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let site = site();
    let (child, banner) = run_in(
        site.path(),
        &[&format!("[::1]:{port}"), "--when-full", "reject"],
    );
    assert!(banner[0].ends_with("(reject when full)"));
    assert_eq!(
        banner[2],
        format!("Starting development server at http://[::1]:{port}/")
    );
    assert_eq!(
        curl(&["-g", &format!("http://[::1]:{port}/hello.txt")]),
        "Hello from a file.\n"
    );
    signal(&child, "-TERM");
    assert!(finish(child).0.success());

    // -6: [::1] by default, with a bare port.
    let port = support::free_port();
    let (child, banner) = run_in(site.path(), &["-6", &port.to_string()]);
    assert_eq!(
        banner[2],
        format!("Starting development server at http://[::1]:{port}/")
    );
    assert_eq!(
        curl(&["-g", &format!("http://[::1]:{port}/hello.txt")]),
        "Hello from a file.\n"
    );
    signal(&child, "-TERM");
    assert!(finish(child).0.success());
}

/// `python -m http.server`'s form: a bare port, `--bind` and `--directory` (here relative to
/// the working directory); and the current directory served when no `-d` is given.
#[test]
fn http_server_form_and_the_current_directory() {
    let site = site();
    let port = support::free_port();
    let (child, banner) = run_in(
        site.path(),
        &[&port.to_string(), "-b", "127.0.0.1", "-d", "sub"],
    );
    let canonical = std::fs::canonicalize(site.path().join("sub")).unwrap();
    assert_eq!(banner[1], format!("Serving {}", canonical.display()));
    assert_eq!(
        banner[2],
        format!("Starting development server at http://127.0.0.1:{port}/")
    );
    assert_eq!(curl(&[&format!("http://127.0.0.1:{port}/")]), "sub index\n");
    signal(&child, "-TERM");
    assert!(finish(child).0.success());

    let port = support::free_port();
    let (child, _) = run_in(site.path(), &["--bind", "127.0.0.1", &port.to_string()]);
    assert_eq!(
        curl(&[&format!("http://127.0.0.1:{port}/hello.txt")]),
        "Hello from a file.\n"
    );
    signal(&child, "-TERM");
    assert!(finish(child).0.success());
}

#[test]
fn file_flags_reach_the_handler() {
    let site = site();
    let dir = site.path().to_str().unwrap();
    let port = support::free_port();
    let (child, _) = run(&[
        &port.to_string(),
        "-d",
        dir,
        "--cors",
        "--spa",
        "--no-listing",
        "--index",
        "home.htm",
        "--header",
        "X-Frame-Options: DENY",
        "--header",
        "X-Served-By: tests",
        "--hidden",
        "--quiet",
    ]);
    let url = format!("http://127.0.0.1:{port}");
    // --index
    assert_eq!(curl(&[&format!("{url}/")]), "custom index\n");
    // --header (repeatable) and --cors
    let head = curl(&["-I", &format!("{url}/hello.txt")]);
    assert!(head.contains("X-Frame-Options: DENY\r\n"), "{head}");
    assert!(head.contains("X-Served-By: tests\r\n"), "{head}");
    assert!(
        head.contains("Access-Control-Allow-Origin: *\r\n"),
        "{head}"
    );
    let preflight = curl(&[
        "-i",
        "-X",
        "OPTIONS",
        "-H",
        "Origin: http://localhost:3000",
        "-H",
        "Access-Control-Request-Method: GET",
        &format!("{url}/hello.txt"),
    ]);
    assert!(
        preflight.starts_with("HTTP/1.1 204 No Content\r\n"),
        "{preflight}"
    );
    assert!(preflight.contains("Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"));
    // --no-listing: a directory without home.htm
    let listing = curl(&["-i", &format!("{url}/list/")]);
    assert!(
        listing.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{listing}"
    );
    // --spa: a browser's navigation to an unknown route gets the index.
    let spa = curl(&["-H", "Accept: text/html", &format!("{url}/app/route")]);
    assert_eq!(spa, "custom index\n");
    // --hidden
    assert_eq!(curl(&[&format!("{url}/.secret")]), "dotfile\n");
    signal(&child, "-TERM");
    let (status, stderr) = finish(child);
    assert!(status.success());
    // --quiet: no access log.
    assert!(!stderr.lines().any(|l| l.starts_with('[')), "{stderr}");
}

#[test]
fn defaults_hide_dotfiles_and_list_directories() {
    let site = site();
    let port = support::free_port();
    let (child, _) = run_in(site.path(), &[&port.to_string()]);
    let url = format!("http://127.0.0.1:{port}");
    let hidden = curl(&["-i", &format!("{url}/.secret")]);
    assert!(hidden.starts_with("HTTP/1.1 404 Not Found\r\n"), "{hidden}");
    assert!(!hidden.contains("dotfile"));
    let listing = curl(&[&format!("{url}/list/")]);
    assert!(listing.contains("Index of /list/"), "{listing}");
    let head = curl(&["-I", &format!("{url}/hello.txt")]);
    assert!(!head.contains("Access-Control-Allow-Origin"));
    signal(&child, "-TERM");
    assert!(finish(child).0.success());
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let site = site();
    let missing = site.path().join("nope");
    let out = Command::new(BIN)
        .args(["0", "-d", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: ") && stderr.contains("nope"),
        "{stderr}"
    );
    let file = site.path().join("hello.txt");
    let out = Command::new(BIN)
        .args(["0", "-d", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// On a terminal the access log is colored by status with runserver's own bytes: `script`
/// gives the binary a pseudo-terminal (skipped where util-linux's `script` is missing). The
/// escapes expected are what Django 5.2's runserver prints (`ServerFormatter` in
/// django/utils/log.py styling the message after `[date] ` with `termcolors.colorize` and
/// `PALETTES['dark']` of django/utils/termcolors.py), e.g.
/// `[07/Dec/2026 10:00:00] \x1b[33m"GET /missing HTTP/1.1" 404 179\x1b[0m`.
#[test]
fn the_access_log_is_colored_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let site = site();
    let port = support::free_port();
    let command = format!(
        "env -u NO_COLOR RUST_LOG=info {BIN} {port} -d {}",
        site.path().display()
    );
    // Its own process group: `script` and the server under it are killed together.
    let mut running = Running::group_leader(
        Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start script"),
    );
    let mut out = BufReader::new(running.child().stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..BANNER_LINES {
        line.clear();
        out.read_line(&mut line).unwrap();
    }
    assert!(line.contains("Quit the server"), "{line:?}");
    let url = format!("http://127.0.0.1:{port}");
    curl(&[&format!("{url}/hello.txt")]);
    curl(&[&format!("{url}/missing")]);
    curl(&["-H", "If-None-Match: *", &format!("{url}/hello.txt")]);
    curl(&[&format!("{url}/list")]);
    curl(&["-X", "POST", &format!("{url}/hello.txt")]);
    // Django's role, its escape, and the message it colors (up to the size).
    let expected = [
        ("HTTP_SUCCESS", "\x1b[m", "\"GET /hello.txt HTTP/1.1\" 200 "),
        (
            "HTTP_NOT_FOUND",
            "\x1b[33m",
            "\"GET /missing HTTP/1.1\" 404 ",
        ),
        (
            "HTTP_NOT_MODIFIED",
            "\x1b[36m",
            "\"GET /hello.txt HTTP/1.1\" 304 ",
        ),
        ("HTTP_REDIRECT", "\x1b[32m", "\"GET /list HTTP/1.1\" 301 "),
        (
            "HTTP_BAD_REQUEST",
            "\x1b[31;1m",
            "\"POST /hello.txt HTTP/1.1\" 405 ",
        ),
    ];
    let mut logged = Vec::new();
    for _ in 0..expected.len() {
        line.clear();
        out.read_line(&mut line).unwrap();
        logged.push(line.trim_end().to_string());
    }
    drop(running);
    for ((role, sgr, message), line) in expected.iter().zip(&logged) {
        // `[dd/Mon/yyyy hh:mm:ss] ` stays plain, as runserver's timestamp does.
        let (stamp, rest) = line.split_at_checked(23).unwrap_or(("", line));
        assert!(stamp.starts_with('[') && stamp.ends_with("] "), "{line:?}");
        let size = rest
            .strip_prefix(sgr)
            .and_then(|r| r.strip_prefix(message))
            .and_then(|r| r.strip_suffix("\x1b[0m"))
            .unwrap_or_else(|| panic!("{role}: {line:?} is not {sgr:?}{message:?}…\\x1b[0m"));
        assert!(
            !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()),
            "{role}: {line:?}"
        );
    }
}
