//! Many processes on one socket (issue 19): a listener shared with siblings stops without
//! taking their connections, the binary serves a socket handed on by systemd
//! (`systemd-socket-activate`, Debian's systemd package) and ignores one meant for another
//! process.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use basehttp::{Request, Response, Server};
use support::{CLIENT_TIMEOUT, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");

/// One GET on a new connection; the body, or what went wrong.
fn get_once(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    match answer.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200 ") => Ok(body.to_owned()),
        _ => Err(format!("not a 200: {answer:?}")),
    }
}

/// Two servers in one process on clones of one listening socket stand for two worker
/// processes. While a client makes a new connection per request, one of them shuts down:
/// its shutdown must not connect to the shared socket to wake its `accept` (the sibling could
/// take that connection while a client's went to the stopping one and was dropped), and it
/// must still end promptly with no traffic at all.
#[test]
fn a_shared_listener_stops_without_taking_a_sibling_s_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let start = |name: &'static str, l: TcpListener| {
        Server::from_listener(l)
            .workers(2)
            .shared_listener()
            .spawn(move |_req: &mut Request| Response::text(name))
            .unwrap()
    };
    let a = start("a", listener.try_clone().unwrap());
    let b = start("b", listener.try_clone().unwrap());
    drop(listener);

    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut served = Vec::new();
            let mut failed = Vec::new();
            while !stop.load(Relaxed) {
                match get_once(addr, "/") {
                    Ok(body) => served.push(body),
                    Err(e) => failed.push(e),
                }
            }
            (served, failed)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let began = Instant::now();
    assert!(a.shutdown(), "a shared listener's server stops cleanly");
    let took = began.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Relaxed);
    let (served, failed) = client.join().unwrap();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert!(
        served.iter().any(|b| b == "a") && served.iter().any(|b| b == "b"),
        "both served"
    );
    assert_eq!(served.last().map(String::as_str), Some("b"));
    // The listener looks at the stop flag every SHARED_ACCEPT_WAIT (200 ms); a wake-up that
    // went to the sibling would leave it waiting for the next client forever.
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");

    // Every connection the sibling accepted was a client's: none was the stopping server's.
    let to_b = served.iter().filter(|b| *b == "b").count() as u64;
    assert_eq!(b.stats().accepted, to_b);

    // Alone, with no client: the stop is seen by the listener's own timeout.
    let began = Instant::now();
    assert!(b.shutdown());
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
}

/// The binary on a port given by `systemd-socket-activate`: it waits for the first
/// connection, then execs basehttp with `LISTEN_FDS=1` and `LISTEN_PID` set, as systemd does
/// for a socket unit. That first connection, made before basehttp ran, is answered.
#[test]
fn the_binary_serves_the_socket_systemd_hands_it() {
    let Some(activate) = tool("systemd-socket-activate", "systemd") else {
        return;
    };
    let dir = TempDir::new("activate");
    dir.write("hello.txt", "handed on\n");
    let port = support::free_port();
    let mut child = Command::new(activate)
        .args(["-l", &format!("127.0.0.1:{port}"), BIN, "0.0.0.0:1", "-d"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        match get_once(addr, "/hello.txt") {
            Ok(body) => break body,
            Err(e) if Instant::now() > deadline => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert_eq!(body, "handed on\n");
    let mut stdout = String::new();
    let mut out = child.stdout.take().unwrap();
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    out.read_to_string(&mut stdout).unwrap();
    let log: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    assert!(status.success(), "{status}: {log:?}");
    // The banner gives the socket it serves, not the address on the command line.
    assert!(
        stdout.contains(&format!(
            "Starting development server at http://127.0.0.1:{port}/"
        )),
        "{stdout}"
    );
    assert!(
        log.iter().any(|l| l.contains(&format!(
            "serving 127.0.0.1:{port}, the socket handed on by systemd"
        ))),
        "{log:?}"
    );
}

/// Variables meant for another process (a grandchild that inherited them) are not taken:
/// the binary binds the address it is given.
#[test]
fn handover_variables_for_another_process_are_left_alone() {
    let dir = TempDir::new("not-ours");
    dir.write("hello.txt", "bound\n");
    let port = support::free_port();
    for (name, value) in [("LISTEN_PID", "1"), ("BASEHTTP_LISTEN_PARENT", "1")] {
        let mut child = Command::new(BIN)
            .arg(format!("127.0.0.1:{port}"))
            .arg("-d")
            .arg(dir.path())
            .env("LISTEN_FDS", "1")
            .env(name, value)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut banner = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        while !banner.contains("Quit the server") {
            assert!(out.read_line(&mut banner).unwrap() > 0, "{banner}");
        }
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert_eq!(get_once(addr, "/hello.txt").unwrap(), "bound\n", "{name}");
        signal(&child, "-TERM");
        assert!(child.wait().unwrap().success());
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A program from a Debian package: skipped where missing, unless CI is set (there it must
/// be installed: `.ci/run` does).
fn tool(name: &str, package: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is missing (Debian package {package}); CI must install it"
        );
        eprintln!("skipped: {name} is not installed (Debian package {package})");
    }
    found
}
