//! A soak under faults: good clients whose every response is checked byte for byte, and bad
//! clients doing everything a server must survive, against a server with default settings,
//! for a given time. It reports requests verified, responses lost or corrupted (both must be
//! 0), bad-client outcomes by kind, and the server's resident memory, open descriptors and
//! threads before the clients start and after they leave.
//!
//! ```text
//! cargo run --release --example soak -- --seconds 600
//! cargo run --example soak -- --seconds 30          # what CI runs
//! ```
//!
//! The server runs in a child process (this program started with `--serve`), so what is
//! measured is the server alone. Traffic goes to 127.0.0.1 only. Exit status 1 if anything
//! was lost or corrupted, or if descriptors or threads did not return to their start level.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use basehttp::{Request, Response, Server};

const GOOD_CLIENTS: usize = 8;
const BAD_CLIENTS: usize = 4;
/// Growth of resident memory allowed between the warm-up sample and the end: a few large
/// bodies held by the allocator's arenas at one moment or another, not a leak's steady climb.
const MEMORY_SLACK_KIB: u64 = 4 * 1024;
/// Largest generated response and request body.
const MAX_BODY: usize = 256 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        serve();
        return ExitCode::SUCCESS;
    }
    let seconds: u64 = match args.as_slice() {
        [] => 30,
        [flag, n] if flag == "--seconds" => match n.parse() {
            Ok(n) => n,
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    soak(Duration::from_secs(seconds))
}

fn usage() -> ExitCode {
    eprintln!("usage: soak [--seconds N]");
    ExitCode::from(2)
}

// ---- The server side ----

/// Serves [`handler`] with the default configuration on a free loopback port, prints the
/// address, and runs until standard input closes (when the parent exits).
fn serve() {
    let server = Server::bind("127.0.0.1:0")
        .and_then(|s| s.spawn(handler))
        .expect("start the server");
    println!("{}", server.local_addr());
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    server.shutdown();
}

/// `/gen?len=N&seed=S[&stream=1]`: N deterministic bytes, with a length or streamed chunked;
/// `/echo`: the body back; the rest as the tests' routes.
fn handler(req: &mut Request) -> Response {
    if req.path() == "/gen" {
        let query = req.query().unwrap_or("");
        let len = support::param(query, "len").unwrap_or(0usize).min(MAX_BODY);
        let seed = support::param(query, "seed").unwrap_or(1u64);
        let body = generated(len, seed);
        return if support::param(query, "stream") == Some(1u8) {
            Response::reader(std::io::Cursor::new(body))
        } else {
            Response::bytes(body)
        };
    }
    support::routes(req)
}

fn generated(len: usize, seed: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (seed.wrapping_mul(i as u64 + 1).wrapping_add(i as u64 >> 3) >> 24) as u8)
        .collect()
}

// ---- The measuring side ----

/// The server process's resident memory (KiB), open descriptors and threads.
#[derive(Debug, Clone, Copy)]
struct Usage {
    rss_kib: u64,
    fds: usize,
    threads: usize,
}

fn usage_of(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let count =
        |dir: &str| std::fs::read_dir(format!("/proc/{pid}/{dir}")).map_or(0, |d| d.count());
    Usage {
        rss_kib: field("VmRSS:"),
        fds: count("fd"),
        threads: count("task"),
    }
}

/// What the clients counted.
#[derive(Default)]
struct Tally {
    verified: AtomicU64,
    lost: AtomicU64,
    corrupted: AtomicU64,
    /// Bad clients' outcomes, by kind.
    bad: Mutex<BTreeMap<String, u64>>,
    /// The first few failures, for the report.
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn bad(&self, kind: &str) {
        *self
            .bad
            .lock()
            .unwrap()
            .entry(kind.to_string())
            .or_default() += 1;
    }

    fn fail(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Relaxed);
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 10 {
            failures.push(what);
        }
    }
}

fn start_server() -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--serve")
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the server's address");
    let addr = line.trim().parse().expect("an address");
    (child, addr)
}

fn soak(duration: Duration) -> ExitCode {
    let (mut child, addr) = start_server();
    let pid = child.id();
    // Let the workers start and touch their buffers before the baseline.
    for _ in 0..20 {
        support::exchange(addr, support::HELLO);
    }
    thread::sleep(Duration::from_millis(200));
    let before = usage_of(pid);
    println!(
        "soak: {GOOD_CLIENTS} good and {BAD_CLIENTS} bad clients for {} s against {addr} \
         (default settings, pid {pid})",
        duration.as_secs()
    );

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for n in 0..GOOD_CLIENTS {
        let (tally, stop) = (tally.clone(), stop.clone());
        threads.push(thread::spawn(move || {
            good_client(addr, n as u64 + 1, &tally, &stop)
        }));
    }
    for n in 0..BAD_CLIENTS {
        let (tally, stop) = (tally.clone(), stop.clone());
        threads.push(thread::spawn(move || {
            bad_client(addr, n as u64 + 101, &tally, &stop)
        }));
    }
    let started = Instant::now();
    let mut peak = before;
    // Memory once every worker has served the workload for a while: the allocator keeps
    // freed buffers in per-thread arenas, so "no leak" means no growth after this point.
    let warm_at = (duration / 10).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut warm: Option<Usage> = None;
    // Resident memory at each tenth of the run: a leak climbs, an allocator settles.
    let mut timeline: Vec<(u64, u64)> = Vec::new();
    while started.elapsed() < duration {
        thread::sleep(Duration::from_millis(500));
        let now = usage_of(pid);
        let tenth = started.elapsed().as_millis() * 10 / duration.as_millis().max(1);
        if tenth as usize > timeline.len() {
            timeline.push((started.elapsed().as_secs(), now.rss_kib));
        }
        if warm.is_none() && started.elapsed() >= warm_at {
            warm = Some(now);
        }
        peak.rss_kib = peak.rss_kib.max(now.rss_kib);
        peak.fds = peak.fds.max(now.fds);
        peak.threads = peak.threads.max(now.threads);
    }
    stop.store(true, Relaxed);
    for t in threads {
        let _ = t.join();
    }
    // Clients are gone: idle and lingering connections close within the keep-alive and
    // linger timeouts (5 s and 2 s by default).
    let settle = Instant::now();
    let mut after = usage_of(pid);
    while (after.fds > before.fds || after.threads > before.threads)
        && settle.elapsed() < Duration::from_secs(15)
    {
        thread::sleep(Duration::from_millis(200));
        after = usage_of(pid);
    }
    let alive = child.try_wait().ok().flatten().is_none();
    drop(child.stdin.take());
    let _ = child.wait();

    let verified = tally.verified.load(Relaxed);
    let lost = tally.lost.load(Relaxed);
    let corrupted = tally.corrupted.load(Relaxed);
    println!("\n| measure | value |\n|---|---:|");
    println!("| requests verified byte for byte | {verified} |");
    println!("| responses lost | {lost} |");
    println!("| responses corrupted | {corrupted} |");
    for (kind, n) in tally.bad.lock().unwrap().iter() {
        println!("| bad client: {kind} | {n} |");
    }
    let warm = warm.unwrap_or(peak);
    println!(
        "\n| server process | start | after {} s | peak | end |\n|---|---:|---:|---:|---:|",
        warm_at.as_secs()
    );
    for (what, at) in [
        (
            "resident memory (KiB)",
            [before, warm, peak, after].map(|u| u.rss_kib),
        ),
        (
            "open descriptors",
            [before, warm, peak, after].map(|u| u.fds as u64),
        ),
        (
            "threads",
            [before, warm, peak, after].map(|u| u.threads as u64),
        ),
    ] {
        println!("| {what} | {} | {} | {} | {} |", at[0], at[1], at[2], at[3]);
    }
    let (times, sizes): (Vec<String>, Vec<String>) = timeline
        .iter()
        .map(|(t, kib)| (format!("{t} s"), kib.to_string()))
        .unzip();
    println!(
        "\n| resident memory (KiB) at | {} |\n|---|{}\n| | {} |",
        times.join(" | "),
        "---:|".repeat(times.len()),
        sizes.join(" | ")
    );
    for f in tally.failures.lock().unwrap().iter() {
        println!("failure: {f}");
    }
    let mut ok = true;
    let mut verdict = |good: bool, what: &str| {
        if !good {
            println!("FAIL: {what}");
            ok = false;
        }
    };
    verdict(alive, "the server process died");
    verdict(verified > 0, "no request was verified");
    verdict(lost == 0, "responses were lost");
    verdict(corrupted == 0, "responses were corrupted");
    verdict(
        after.rss_kib <= warm.rss_kib + MEMORY_SLACK_KIB,
        "resident memory grew after the warm-up",
    );
    verdict(
        after.fds <= before.fds,
        "descriptors did not return to the start level",
    );
    verdict(
        after.threads <= before.threads,
        "threads did not return to the start level",
    );
    if ok {
        println!("soak: passed");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---- Clients ----

/// A small deterministic random source (xorshift64), one per client.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A body size: mostly small, sometimes up to [`MAX_BODY`].
    fn size(&mut self) -> usize {
        match self.below(10) {
            0 => self.below(MAX_BODY as u64 + 1) as usize,
            1..=3 => self.below(16 * 1024) as usize,
            _ => self.below(512) as usize,
        }
    }
}

/// One request and the body its response must carry.
struct Exchange {
    bytes: Vec<u8>,
    expect: Vec<u8>,
}

fn random_exchange(rng: &mut Rng) -> Exchange {
    match rng.below(4) {
        0 | 1 => {
            let (len, seed) = (rng.size(), rng.next() | 1);
            let stream = rng.below(2);
            Exchange {
                bytes: format!(
                    "GET /gen?len={len}&seed={seed}&stream={stream} HTTP/1.1\r\nHost: soak\r\n\r\n"
                )
                .into_bytes(),
                expect: generated(len, seed),
            }
        }
        _ => {
            let body = generated(rng.size(), rng.next() | 1);
            let mut bytes = b"POST /echo HTTP/1.1\r\nHost: soak\r\n".to_vec();
            if rng.below(2) == 0 {
                bytes.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                bytes.extend_from_slice(&body);
            } else {
                bytes.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &body[..];
                while !rest.is_empty() {
                    let n = (rng.below(8192) as usize + 1).min(rest.len());
                    bytes.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                    bytes.extend_from_slice(&rest[..n]);
                    bytes.extend_from_slice(b"\r\n");
                    rest = &rest[n..];
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
            }
            Exchange {
                bytes,
                expect: body,
            }
        }
    }
}

/// Keep-alive and pipelined exchanges, each response checked byte for byte.
fn good_client(addr: SocketAddr, seed: u64, tally: &Tally, stop: &AtomicBool) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    while !stop.load(Relaxed) {
        let Ok(stream) = TcpStream::connect(addr) else {
            tally.fail(&tally.lost, "connect failed".into());
            continue;
        };
        let _ = stream.set_read_timeout(Some(support::CLIENT_TIMEOUT));
        let writer = stream.try_clone().expect("clone");
        let mut reader = BufReader::new(stream);
        // A connection lives for a few rounds; each round is one request or a pipelined burst.
        'conn: for _ in 0..=rng.below(20) {
            let most = if rng.below(3) == 0 { 16 } else { 1 };
            let burst: Vec<Exchange> = (0..=rng.below(most))
                .map(|_| random_exchange(&mut rng))
                .collect();
            let bytes: Vec<u8> = burst.iter().flat_map(|e| e.bytes.iter().copied()).collect();
            // Write on another thread: a large pipelined burst can fill both socket buffers
            // while the server waits for us to read its answers.
            let mut w = writer.try_clone().expect("clone");
            let sender = thread::spawn(move || w.write_all(&bytes));
            for (i, ex) in burst.iter().enumerate() {
                match support::read_response(&mut reader, false) {
                    Ok(resp) if resp.status == 200 && resp.body == ex.expect => {
                        tally.verified.fetch_add(1, Relaxed);
                        if resp.closes() {
                            // The server may close after any response (e.g. its request cap);
                            // the rest of the burst was never promised an answer.
                            let _ = sender.join();
                            break 'conn;
                        }
                    }
                    Ok(resp) => {
                        let what = format!(
                            "status {} with {} body bytes, expected 200 with {}",
                            resp.status,
                            resp.body.len(),
                            ex.expect.len()
                        );
                        tally.fail(&tally.corrupted, what);
                        let _ = sender.join();
                        break 'conn;
                    }
                    Err(e) => {
                        tally.fail(
                            &tally.lost,
                            format!("response {i} of a burst of {}: {e}", burst.len()),
                        );
                        let _ = sender.join();
                        break 'conn;
                    }
                }
            }
            let _ = sender.join();
        }
        let _ = writer.shutdown(Shutdown::Write);
    }
}

/// Closes with a reset instead of a FIN.
fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
}

/// Reads whatever comes back until the server closes, and names the outcome by the status.
fn outcome(s: &mut TcpStream) -> String {
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) if got.is_empty() => "closed without an answer".into(),
        Ok(_) | Err(_) if got.starts_with(b"HTTP/1.1 ") && got.len() >= 12 => {
            format!("answered {}", String::from_utf8_lossy(&got[9..12]))
        }
        Ok(_) => "answered with something else".into(),
        Err(e) => format!("read error: {:?}", e.kind()),
    }
}

/// Misbehaves in one of many ways, over and over.
fn bad_client(addr: SocketAddr, seed: u64, tally: &Tally, stop: &AtomicBool) {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    while !stop.load(Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr) else {
            tally.bad("connect failed");
            continue;
        };
        let _ = s.set_nodelay(true);
        let kind = rng.below(10);
        let label = match kind {
            0 => {
                // Slowloris: a head one byte at a time, then give up after a while.
                for &b in &b"GET /hello HTTP/1.1\r\nHost: soak\r\n"[..] {
                    if stop.load(Relaxed) || s.write_all(&[b]).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(50));
                }
                "slowloris head, abandoned"
            }
            1 => {
                // A body trickled, then abandoned.
                let _ = s.write_all(
                    b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n",
                );
                for _ in 0..20 {
                    if stop.load(Relaxed) || s.write_all(b"x").is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(50));
                }
                "slow body, abandoned"
            }
            2 => {
                // Asks for a large response and never reads it.
                let _ = s.write_all(b"GET /gen?len=262144&seed=3 HTTP/1.1\r\nHost: soak\r\n\r\n");
                thread::sleep(Duration::from_millis(300));
                "never reads its response"
            }
            3 => {
                let _ = s.write_all(b"GET /hello HTTP/1.1\r\nHo");
                let _ = s.shutdown(Shutdown::Write);
                tally.bad(&format!("half-closed mid head: {}", outcome(&mut s)));
                continue;
            }
            4 => {
                let _ = s.write_all(
                    b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 5000\r\n\r\nabc",
                );
                thread::sleep(Duration::from_millis(20));
                reset(s);
                tally.bad("reset mid body");
                continue;
            }
            5 => {
                let _ = s.write_all(b"GET /stream?chunks=500 HTTP/1.1\r\nHost: soak\r\n\r\n");
                let mut first = [0u8; 16];
                let _ = s.read(&mut first);
                reset(s);
                tally.bad("reset mid response");
                continue;
            }
            6 => {
                // A TLS ClientHello's first bytes.
                let _ = s.write_all(&[
                    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
                ]);
                tally.bad(&format!("TLS ClientHello: {}", outcome(&mut s)));
                continue;
            }
            7 => {
                let _ = s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
                tally.bad(&format!("HTTP/2 preface: {}", outcome(&mut s)));
                continue;
            }
            8 => {
                let junk: Vec<u8> = (0..rng.below(4096) + 1).map(|_| rng.next() as u8).collect();
                let _ = s.write_all(&junk);
                let _ = s.write_all(b"\r\n\r\n");
                tally.bad(&format!("garbage: {}", outcome(&mut s)));
                continue;
            }
            _ => {
                let _ = s.write_all(b"GET /he\0llo HTTP/1.1\r\nHost: soak\r\n\r\n");
                tally.bad(&format!("NUL in the target: {}", outcome(&mut s)));
                continue;
            }
        };
        tally.bad(label);
        if rng.below(2) == 0 {
            reset(s);
        }
    }
}
