//! Out of file descriptors (issue 5): the binary runs under a low `ulimit -n`, more clients
//! connect than it has descriptors, and `accept` fails with EMFILE. The listener must log it,
//! back off (no busy loop), keep running, and serve again once descriptors free up.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");

/// CPU time (user + system) the process has used, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn hello(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

#[test]
fn accept_out_of_descriptors_backs_off_and_recovers() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 32 && exec {BIN} 127.0.0.1:{port} --workers 2"
        ))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start basehttp under ulimit");
    let pid = child.id();
    let mut banner = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    while !banner.contains("CONTROL-C") {
        assert!(stdout.read_line(&mut banner).unwrap() > 0, "{banner}");
    }
    let log = Arc::new(Mutex::new(String::new()));
    let log_in = log.clone();
    let stderr = child.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = log_in.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    assert!(hello(port).is_some_and(|t| t.starts_with("HTTP/1.1 200")));

    // Twice as many silent clients as the server has descriptors.
    let clients: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.lock().unwrap().contains("accept failed") {
        assert!(Instant::now() < deadline, "no accept error was logged");
        thread::sleep(Duration::from_millis(20));
    }
    // While accept keeps failing, the listener sleeps between tries instead of spinning.
    let before = cpu_ticks(pid);
    thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    assert!(
        used < 50,
        "the server used {used}/100 s of CPU in one second while out of descriptors"
    );
    drop(clients);

    // Descriptors free up: the server answers again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if hello(port).is_some_and(|t| t.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(Instant::now() < deadline, "the server never recovered");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(child.try_wait().unwrap().is_none(), "the server exited");
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = child.wait();
    let _ = reader.join();
    let log = log.lock().unwrap();
    let failures = log.matches("accept failed").count();
    // One line per streak of failures, not one per failed accept (which would be hundreds).
    assert!(
        (1..=10).contains(&failures),
        "{failures} accept-failure lines:\n{log}"
    );
}
