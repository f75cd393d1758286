//! The `basehttp` binary: arguments, banner, errors, the greeting, and graceful exit on
//! SIGINT and SIGTERM. Driven as a real process, with curl as the client where it matters.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary and waits for its banner; returns the child and the banner lines.
fn run(args: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start basehttp");
    let mut lines = Vec::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line.trim_end().to_string());
    }
    (child, lines)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

/// Waits for the child to exit (bounded), returning its status and stderr.
fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("basehttp did not exit");
        }
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

#[test]
fn serves_the_greeting_logs_like_runserver_and_exits_on_sigterm() {
    let port = free_port();
    let (child, banner) = run(&[&port.to_string(), "-w", "3", "-q", "16"]);
    assert_eq!(
        banner[0],
        "basehttp 0.1.0: 3 workers, queue of 16 (block when full)"
    );
    assert_eq!(
        banner[1],
        format!("Starting development server at http://127.0.0.1:{port}/")
    );
    assert_eq!(banner[2], "Quit the server with CONTROL-C.");

    let url = format!("http://127.0.0.1:{port}/");
    assert_eq!(curl(&[&url]), "basehttp is running.\n");
    let head = curl(&["-I", &url]);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Length: 21\r\n"));
    let post = curl(&["-i", "-X", "POST", "-d", "x=1", &url]);
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert!(post.contains("Allow: GET, HEAD\r\n"));

    signal(&child, "-TERM");
    let (status, stderr) = finish(child);
    assert!(status.success(), "exit status {status}; stderr: {stderr}");
    let access: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(access.len(), 3, "{stderr}");
    // [22/Nov/2026 04:34:37] "GET / HTTP/1.1" 200 21
    let line = access[0];
    let b = line.as_bytes();
    assert!(
        b[3] == b'/' && b[7] == b'/' && b[12] == b' ' && b[15] == b':' && b[21] == b']',
        "{line}"
    );
    assert!(line.ends_with("] \"GET / HTTP/1.1\" 200 21"), "{line}");
    assert!(
        access[2].ends_with("\"POST / HTTP/1.1\" 405 23"),
        "{}",
        access[2]
    );
}

#[test]
fn sigint_shuts_down_gracefully() {
    let port = free_port();
    let (child, _) = run(&[&format!("127.0.0.1:{port}")]);
    assert_eq!(
        curl(&[&format!("http://127.0.0.1:{port}/")]),
        "basehttp is running.\n"
    );
    signal(&child, "-INT");
    let (status, stderr) = finish(child);
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("Shutting down"));
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
    ] {
        let out = Command::new(BIN).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("Error: "),
            "{bad:?}"
        );
    }
}

#[test]
fn ipv6_loopback_addrport() {
    let Ok(probe) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let (child, banner) = run(&[&format!("[::1]:{port}"), "--when-full", "reject"]);
    assert!(banner[0].ends_with("(reject when full)"));
    assert_eq!(
        banner[1],
        format!("Starting development server at http://[::1]:{port}/")
    );
    assert_eq!(
        curl(&["-g", &format!("http://[::1]:{port}/")]),
        "basehttp is running.\n"
    );
    signal(&child, "-TERM");
    assert!(finish(child).0.success());
}
