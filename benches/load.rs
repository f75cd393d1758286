//! The side-by-side load harness: basehttp against an async peer (hyper 1.x on tokio's
//! multi-thread runtime), same handlers, same load generator, one run.
//!
//! `cargo bench --bench load` (about 6 minutes) or `cargo bench --bench load -- --quick`
//! (under a minute). Options: `--client own|wrk` (default: wrk when installed, else the
//! project's own closed-loop client, `src/bin/basehttp/load.rs`), `--repeats N`, `--seconds S`.
//!
//! Each server runs in its own child process (this binary, re-executed with `__serve`), so its
//! CPU time and resident memory are its own. Servers are measured alternately, each workload
//! `repeats` times, and the table shows medians. Output: a markdown table on stdout, the same
//! data as JSON in `target/bench/load.json`, and an SVG chart in `target/bench/load.svg`.
//! Traffic goes to 127.0.0.1 only.

#[path = "../src/bin/basehttp/load.rs"]
#[allow(dead_code)]
mod load;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use load::{LoadReport, LoadSpec};

const HELLO: &str = "Hello, World!";

// ---------------------------------------------------------------------------------------------
// The servers, run in child processes.

/// Spins the CPU for `ms` milliseconds: a CPU-bound handler.
fn spin(ms: u64) -> u64 {
    let until = Instant::now() + Duration::from_millis(ms);
    let mut x = 0u64;
    while Instant::now() < until {
        for _ in 0..1000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
    }
    x
}

fn query_ms(query: Option<&str>) -> u64 {
    query
        .and_then(|q| q.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// basehttp with `Config::default()` but for `workers` (if given) and the access log: the
/// binary's fast writer (to this process's standard error, which the harness sends to a
/// file), or off (`--quiet`).
fn serve_basehttp(workers: Option<usize>, log: bool) {
    use basehttp::{AccessLog, Config, Request, Response, Server};
    let mut config = Config::default();
    if let Some(workers) = workers {
        config.workers = workers;
    }
    config.access_log = if log {
        AccessLog::Stderr { color: false }
    } else {
        AccessLog::Off
    };
    let handle = Server::bind("127.0.0.1:0")
        .unwrap()
        .config(config)
        .spawn(|req: &mut Request| match req.path() {
            "/hello" => Response::text(HELLO),
            "/sleep" => {
                std::thread::sleep(Duration::from_millis(query_ms(req.query())));
                Response::text(HELLO)
            }
            "/cpu" => {
                std::hint::black_box(spin(query_ms(req.query())));
                Response::text(HELLO)
            }
            _ => Response::error(404),
        })
        .unwrap();
    announce_and_wait(handle.local_addr());
    drop(handle);
}

fn serve_hyper(pipeline_flush: bool) {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;

    async fn handle(
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        let ms = query_ms(req.uri().query());
        match req.uri().path() {
            "/hello" => {}
            "/sleep" => tokio::time::sleep(Duration::from_millis(ms)).await,
            "/cpu" => {
                std::hint::black_box(spin(ms));
            }
            _ => {
                let mut res = Response::new(Full::new(Bytes::from_static(b"Not Found\n")));
                *res.status_mut() = hyper::StatusCode::NOT_FOUND;
                return Ok(res);
            }
        }
        let mut res = Response::new(Full::new(Bytes::from_static(HELLO.as_bytes())));
        res.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Ok(res)
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::task::spawn_blocking(move || announce_and_wait(addr));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .pipeline_flush(pipeline_flush)
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
}

/// Tells the parent the address, then exits when the parent closes our stdin.
fn announce_and_wait(addr: SocketAddr) {
    println!("{addr}");
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    std::process::exit(0);
}

// ---------------------------------------------------------------------------------------------
// The harness.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    /// `workers: None` is the default pool; `log` is the access log on (the default) and
    /// written to a file, or off (`--quiet`).
    Basehttp {
        workers: Option<usize>,
        log: bool,
    },
    Hyper,
    /// hyper with its opt-in `pipeline_flush`, which coalesces pipelined responses.
    HyperPipelineFlush,
}

impl Peer {
    fn name(self) -> String {
        match self {
            Peer::Basehttp {
                workers: None,
                log: true,
            } => "basehttp (defaults, log to a file)".into(),
            Peer::Basehttp {
                workers: None,
                log: false,
            } => "basehttp --quiet".into(),
            Peer::Basehttp {
                workers: Some(w),
                log,
            } => format!("basehttp -w {w}{}", if log { "" } else { " --quiet" }),
            Peer::Hyper => "hyper".into(),
            Peer::HyperPipelineFlush => "hyper (pipeline_flush)".into(),
        }
    }
}

struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Running {
    fn start(peer: Peer) -> Running {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("__serve");
        match peer {
            Peer::Basehttp { workers, log } => cmd.args([
                "basehttp",
                &workers.map_or("default".into(), |w| w.to_string()),
                if log { "log" } else { "quiet" },
            ]),
            Peer::Hyper => cmd.arg("hyper"),
            Peer::HyperPipelineFlush => cmd.args(["hyper", "pipeline_flush"]),
        };
        // Access lines go to a file, as a user's `basehttp 8000 2> access.log` does.
        let log = bench_dir().join("access.log");
        let stderr = std::fs::File::create(&log).map_or(Stdio::null(), Stdio::from);
        let mut child = cmd
            .env("RUST_LOG", "off")
            .stderr(stderr)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().parse().expect("server address");
        Running { child, addr }
    }

    fn threads(&self) -> u64 {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id())).map_or(0, |d| d.count() as u64)
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Own,
    Wrk,
}

/// One measurement.
#[derive(Clone, Debug, Default)]
struct Sample {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// Share of connections with at least one response, in percent (own client only).
    fairness: Option<f64>,
    /// The server's resident memory (KiB) once started and warmed up, and after the run.
    rss_idle_kib: u64,
    rss_kib: u64,
    /// The server's threads after the run.
    threads: u64,
}

struct Load<'a> {
    path: &'a str,
    connections: usize,
    pipeline: usize,
    close: bool,
}

fn measure(client: Client, addr: SocketAddr, load: &Load, seconds: f64) -> Sample {
    match client {
        Client::Own => {
            let spec = LoadSpec {
                addr,
                host: addr.to_string(),
                path: load.path.into(),
                connections: load.connections,
                duration: Duration::from_secs_f64(seconds),
                pipeline: load.pipeline,
                close: load.close,
                threads: 1,
            };
            let r: LoadReport = load::run(&spec);
            Sample {
                rate: r.rate(),
                p50_ms: r.percentile_ms(0.5),
                p99_ms: r.percentile_ms(0.99),
                errors: r.errors(),
                fairness: Some(r.fairness()),
                ..Sample::default()
            }
        }
        Client::Wrk => wrk(addr, load, seconds),
    }
}

fn wrk(addr: SocketAddr, load: &Load, seconds: f64) -> Sample {
    let url = format!("http://{addr}{}", load.path);
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{}", load.connections)])
        .arg(format!("-d{}s", seconds.ceil() as u64))
        .args(["--latency", "--timeout", "5s"]);
    let script;
    if load.pipeline > 1 {
        script = std::env::temp_dir().join(format!("basehttp-pipeline-{}.lua", load.pipeline));
        let body = format!(
            "init = function(args)\n  local r = {{}}\n  for i = 1, {} do r[i] = wrk.format(nil, \"{}\") end\n  req = table.concat(r)\nend\nrequest = function() return req end\n",
            load.pipeline, load.path
        );
        std::fs::write(&script, body).unwrap();
        cmd.arg("-s").arg(&script);
    }
    if load.close {
        cmd.args(["-H", "Connection: close"]);
    }
    let out = cmd.arg(&url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut s = Sample::default();
    let mut requests = 0.0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => s.rate = v.parse().unwrap_or(0.0),
            ["50%", v] => s.p50_ms = wrk_ms(v),
            ["99%", v] => s.p99_ms = wrk_ms(v),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0.0),
            ["Socket", "errors:", rest @ ..] => {
                s.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => s.errors += n.parse().unwrap_or(0),
            _ => {}
        }
    }
    if requests == 0.0 {
        s.rate = 0.0;
    }
    s
}

fn wrk_ms(v: &str) -> f64 {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn median_sample(samples: Vec<Sample>) -> Sample {
    Sample {
        rate: median(samples.iter().map(|s| s.rate).collect()),
        p50_ms: median(samples.iter().map(|s| s.p50_ms).collect()),
        p99_ms: median(samples.iter().map(|s| s.p99_ms).collect()),
        errors: samples.iter().map(|s| s.errors).sum(),
        fairness: samples
            .iter()
            .map(|s| s.fairness)
            .collect::<Option<Vec<f64>>>()
            .map(median),
        rss_idle_kib: median(samples.iter().map(|s| s.rss_idle_kib as f64).collect()) as u64,
        rss_kib: median(samples.iter().map(|s| s.rss_kib as f64).collect()) as u64,
        threads: median(samples.iter().map(|s| s.threads as f64).collect()) as u64,
    }
}

/// One row of the table: a workload on one server.
struct Row {
    workload: String,
    server: String,
    sample: Sample,
    /// Throughput relative to hyper on the same workload.
    ratio: Option<f64>,
    note: String,
}

#[derive(Clone, Copy)]
struct Settings {
    client: Client,
    repeats: usize,
    seconds: f64,
}

/// Measures `load` on each peer, alternating, `repeats` times, and returns the median rows.
fn compare(settings: &Settings, workload: &str, peers: &[Peer], load: &Load) -> Vec<Row> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); peers.len()];
    for _ in 0..settings.repeats {
        for (i, peer) in peers.iter().enumerate() {
            let server = Running::start(*peer);
            // A short warm-up, so the first connections' setup is not measured.
            let _ = measure(Client::Own, server.addr, load, 0.2);
            let rss_idle_kib = server.rss_kib();
            let mut sample = measure(settings.client, server.addr, load, settings.seconds);
            (sample.rss_idle_kib, sample.rss_kib) = (rss_idle_kib, server.rss_kib());
            sample.threads = server.threads();
            samples[i].push(sample);
        }
    }
    let medians: Vec<Sample> = samples.into_iter().map(median_sample).collect();
    let hyper = peers
        .iter()
        .position(|p| *p == Peer::Hyper)
        .map(|i| medians[i].rate);
    peers
        .iter()
        .zip(medians)
        .map(|(peer, sample)| Row {
            workload: workload.to_string(),
            server: peer.name(),
            ratio: hyper.map(|h| sample.rate / h),
            sample,
            note: String::new(),
        })
        .collect()
}

/// Workload 6: `idle` idle keep-alive connections held open while 8 connections run `hello`;
/// the rate, p99, the time a new connection waits for its first response, the resident
/// memory the idle connections add, and how many of them the server kept open.
fn idle_workload(settings: &Settings, peer: Peer, idle: usize) -> (Row, Vec<u64>) {
    let mut rates = Vec::new();
    let mut p99 = Vec::new();
    let mut waits = Vec::new();
    let mut rss = Vec::new();
    let mut kept = Vec::new();
    let mut fairness = Vec::new();
    let mut errors = 0;
    for _ in 0..settings.repeats {
        let server = Running::start(peer);
        let hello = Load {
            path: "/hello",
            connections: 8,
            pipeline: 1,
            close: false,
        };
        let _ = measure(Client::Own, server.addr, &hello, 0.3);
        let rss_before = server.rss_kib();
        let mut held: Vec<TcpStream> = Vec::with_capacity(idle);
        for _ in 0..idle {
            let mut s = TcpStream::connect(server.addr).expect("connect idle");
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            held.push(s);
        }
        std::thread::sleep(Duration::from_millis(200));
        let sample = measure(settings.client, server.addr, &hello, settings.seconds);
        rates.push(sample.rate);
        p99.push(sample.p99_ms);
        errors += sample.errors;
        if let Some(f) = sample.fairness {
            fairness.push(f);
        }
        // A new connection's wait for its first response, while the load still runs.
        let background = {
            let addr = server.addr;
            std::thread::spawn(move || {
                let spec = LoadSpec {
                    addr,
                    host: addr.to_string(),
                    path: "/hello".into(),
                    connections: 8,
                    duration: Duration::from_secs(2),
                    pipeline: 1,
                    close: false,
                    threads: 1,
                };
                load::run(&spec)
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let mut probe = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            probe.push(started.elapsed().as_secs_f64() * 1000.0);
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = background.join();
        waits.push(median(probe));
        rss.push(server.rss_kib().saturating_sub(rss_before));
        kept.push(held.iter().filter(|s| still_open(s)).count() as u64);
    }
    let row = Row {
        workload: format!("6. hello, 8 conns + {idle} idle"),
        server: peer.name(),
        sample: Sample {
            rate: median(rates),
            p50_ms: f64::NAN,
            p99_ms: median(p99),
            errors,
            fairness: (!fairness.is_empty()).then(|| median(fairness)),
            ..Sample::default()
        },
        ratio: None,
        note: String::new(),
    };
    let wait_ms = median(waits);
    (
        row,
        vec![
            (wait_ms * 1000.0) as u64,
            median(rss.iter().map(|&v| v as f64).collect()) as u64,
            median(kept.iter().map(|&v| v as f64).collect()) as u64,
        ],
    )
}

/// What `thread::sleep(10 ms)` really takes on this machine, in ms (median of 50).
fn measured_sleep_ms() -> f64 {
    median(
        (0..50)
            .map(|_| {
                let t = Instant::now();
                std::thread::sleep(Duration::from_millis(10));
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

/// True if the server has not closed this idle connection.
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!((&*s).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

/// `target/bench`, made if need be.
fn bench_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The targets of "fast by default" (issue 13), each with its figure from this run: basehttp
/// as a user gets it against hyper, and against itself with `--quiet`.
fn targets(rows: &[Row], defaults: &basehttp::Config) -> String {
    let find = |workload: &str, server: &str| {
        rows.iter()
            .find(|r| r.workload.starts_with(workload) && r.server == server)
            .map(|r| r.sample.rate)
    };
    let user = "basehttp (defaults, log to a file)";
    let mut out = String::from("Targets (basehttp as a user gets it):\n\n");
    let mut line = |what: String, value: Option<f64>, goal: f64, unit: &str| {
        let (shown, verdict) = match value {
            Some(v) if unit == "x" => (format!("{v:.2}x"), v >= goal),
            Some(v) => (format!("{:.1}%", 100.0 * v), v >= goal),
            None => ("not measured".into(), false),
        };
        let goal = if unit == "x" {
            format!(">= {goal:.2}x")
        } else {
            format!(">= {:.0}%", 100.0 * goal)
        };
        let _ = writeln!(
            out,
            "- {what}: {shown} (target {goal}): {}",
            if verdict { "met" } else { "MISSED" }
        );
    };
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    for c in [8, 64, 256] {
        let w = format!("1. hello, {c} conns");
        line(
            format!("hello, {c} conns, vs hyper"),
            ratio(find(&w, user), find(&w, "hyper")),
            1.0,
            "x",
        );
    }
    let sleep = "4. sleep 10 ms, 64 conns";
    let bound = defaults.workers.min(64) as f64 / 0.010;
    line(
        format!("sleep 10 ms, 64 conns, of Little's bound ({bound:.0}/s)"),
        find(sleep, user).map(|r| r / bound),
        0.95,
        "%",
    );
    line(
        "sleep 10 ms, 64 conns, vs hyper".into(),
        ratio(find(sleep, user), find(sleep, "hyper")),
        1.0,
        "x",
    );
    let pipelined = "2. hello, 16 pipelined";
    line(
        "16 pipelined hellos per write, 8 conns, vs hyper".into(),
        ratio(find(pipelined, user), find(pipelined, "hyper")),
        5.0,
        "x",
    );
    for (what, w) in [
        ("hello, 64 conns", "1. hello, 64 conns"),
        ("16 pipelined", pipelined),
    ] {
        line(
            format!("{what}, access log on, of --quiet"),
            ratio(find(w, user), find(w, "basehttp --quiet")),
            0.95,
            "%",
        );
    }
    out
}

fn fmt_f(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{v:.digits$}")
    }
}

fn markdown(rows: &[Row]) -> String {
    let mut t = String::from(
        "| workload | server | req/s | p50 ms | p99 ms | errors | conns served | vs hyper | RSS MB (warm / after) | threads | note |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.server,
            r.sample.rate,
            fmt_f(r.sample.p50_ms, 2),
            fmt_f(r.sample.p99_ms, 2),
            r.sample.errors,
            r.sample.fairness.map_or("-".into(), |f| format!("{f:.0}%")),
            r.ratio.map_or("-".into(), |x| format!("{x:.2}x")),
            if r.sample.rss_kib == 0 {
                "-".into()
            } else {
                format!(
                    "{:.1} / {:.1}",
                    r.sample.rss_idle_kib as f64 / 1024.0,
                    r.sample.rss_kib as f64 / 1024.0
                )
            },
            if r.sample.threads == 0 {
                "-".into()
            } else {
                r.sample.threads.to_string()
            },
            r.note
        );
    }
    t
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".into()
    }
}

fn json(rows: &[Row], meta: &str) -> String {
    let mut out = format!("{{\n  \"meta\": {},\n  \"rows\": [\n", json_str(meta));
    for (i, r) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {{\"workload\": {}, \"server\": {}, \"rps\": {}, \"p50_ms\": {}, \"p99_ms\": {}, \"errors\": {}, \"fairness_pct\": {}, \"ratio_vs_hyper\": {}, \"note\": {}}}{}",
            json_str(&r.workload),
            json_str(&r.server),
            json_num(r.sample.rate),
            json_num(r.sample.p50_ms),
            json_num(r.sample.p99_ms),
            r.sample.errors,
            r.sample.fairness.map_or("null".into(), json_num),
            r.ratio.map_or("null".into(), json_num),
            json_str(&r.note),
            if i + 1 < rows.len() { "," } else { "" }
        );
    }
    out.push_str("  ]\n}\n");
    out
}

/// One color per server, the same in both panels.
fn color_of(name: &str) -> &'static str {
    match name {
        n if n.starts_with("hyper") => "#d62728",
        "basehttp (w=8)" => "#1f77b4",
        _ => "#9467bd",
    }
}

/// Two panels: throughput against connections (workload 1) and against workers (workload 4).
fn svg(
    by_conns: &[(String, Vec<(f64, f64)>)],
    by_workers: &[(String, f64)],
    bound: &[(String, f64)],
) -> String {
    let (w, h) = (940.0, 380.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    // Panel 1: lines, x = log2(connections).
    let (x0, y0, pw, ph) = (60.0, 40.0, 360.0, 280.0);
    let max_rate = by_conns
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.1;
    let xs: Vec<f64> = by_conns
        .first()
        .map(|(_, pts)| pts.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    let xpos = |c: f64| {
        let n = xs.len().max(2) as f64 - 1.0;
        let i = xs.iter().position(|&x| x == c).unwrap_or(0) as f64;
        x0 + pw * i / n
    };
    let ypos = |r: f64, max: f64| y0 + ph - ph * r / max;
    let _ = writeln!(
        s,
        "<text x=\"{x0}\" y=\"24\" font-size=\"14\">hello, keep-alive: requests/s vs connections</text>"
    );
    let _ = writeln!(
        s,
        "<line x1=\"{x0}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>",
        y0 + ph,
        x0 + pw,
        y0 + ph
    );
    let _ = writeln!(
        s,
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{}\" stroke=\"#333\"/>",
        y0 + ph
    );
    for k in 0..=4 {
        let v = max_rate * k as f64 / 4.0;
        let y = ypos(v, max_rate);
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.0}k</text>",
            x0 - 6.0,
            y + 4.0,
            v / 1000.0
        );
        let _ = writeln!(
            s,
            "<line x1=\"{x0}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#eee\"/>",
            x0 + pw
        );
    }
    for &c in &xs {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{c}</text>",
            xpos(c),
            y0 + ph + 16.0
        );
    }
    for (i, (name, pts)) in by_conns.iter().enumerate() {
        let color = color_of(name);
        let path: Vec<String> = pts
            .iter()
            .map(|&(c, r)| format!("{:.1},{:.1}", xpos(c), ypos(r, max_rate)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>",
            x0 + 10.0,
            y0 + 14.0 + 16.0 * i as f64
        );
    }
    // Panel 2: bars for sleep 10 ms at 64 connections.
    let (bx, by) = (500.0, 40.0);
    let _ = writeln!(
        s,
        "<text x=\"{bx}\" y=\"24\" font-size=\"14\">sleep 10 ms, 64 conns: req/s (dashed: workers / 10 ms)</text>"
    );
    let max_b = by_workers
        .iter()
        .map(|b| b.1)
        .chain(bound.iter().map(|b| b.1))
        .fold(1.0, f64::max)
        * 1.1;
    let bar_w = 300.0 / by_workers.len().max(1) as f64;
    for (i, (name, rate)) in by_workers.iter().enumerate() {
        let x = bx + 20.0 + bar_w * i as f64;
        let y = ypos(*rate, max_b);
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
            bar_w * 0.7,
            by + ph - y,
            color_of(name)
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{rate:.0}</text>",
            x + bar_w * 0.35,
            y - 4.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{name}</text>",
            x + bar_w * 0.35,
            by + ph + 16.0
        );
        if let Some((_, b)) = bound.iter().find(|(n, _)| n == name) {
            let yb = ypos(*b, max_b);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{yb:.1}\" x2=\"{:.1}\" y2=\"{yb:.1}\" stroke=\"black\" stroke-dasharray=\"4 3\"/>",
                x + bar_w * 0.7
            );
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{bx}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>",
        by + ph,
        bx + 340.0,
        by + ph
    );
    s.push_str("</svg>\n");
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__serve") {
        match args.get(1).map(String::as_str) {
            Some("basehttp") => serve_basehttp(
                args.get(2).and_then(|w| w.parse().ok()),
                args.get(3).is_none_or(|l| l == "log"),
            ),
            Some("hyper") => serve_hyper(args.get(2).is_some_and(|a| a == "pipeline_flush")),
            _ => panic!("__serve basehttp|hyper"),
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let have_wrk = Command::new("wrk").arg("--version").output().is_ok();
    let client = match value("--client").as_deref() {
        Some("own") => Client::Own,
        Some("wrk") => Client::Wrk,
        _ if have_wrk => Client::Wrk,
        _ => Client::Own,
    };
    let settings = Settings {
        client,
        repeats: value("--repeats")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 1 } else { 3 }),
        seconds: value("--seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 1.0 } else { 4.0 }),
    };
    let idle = if quick { 300 } else { 1000 };
    let client_name = match client {
        Client::Own => "basehttp load (own client)",
        Client::Wrk => "wrk -t1",
    };
    let defaults = basehttp::Config::default();
    let meta = format!(
        "client: {client_name}; {} s per run, median of {} alternating runs; {} cores; basehttp as a user gets it: Config::default() ({} workers, {} active), access log on, written to a file; --quiet and tuned rows after it",
        settings.seconds,
        settings.repeats,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        defaults.workers,
        defaults.active_workers,
    );
    eprintln!("{meta}");
    let user = Peer::Basehttp {
        workers: None,
        log: true,
    };
    let quiet = Peer::Basehttp {
        workers: None,
        log: false,
    };
    let both = [user, Peer::Hyper];
    let three = [user, quiet, Peer::Hyper];
    let mut rows = Vec::new();
    let mut by_conns: Vec<(String, Vec<(f64, f64)>)> =
        three.iter().map(|p| (p.name(), Vec::new())).collect();
    for c in [1, 8, 64, 256] {
        eprintln!("1. hello keep-alive c={c}");
        let r = compare(
            &settings,
            &format!("1. hello, {c} conns"),
            &three,
            &Load {
                path: "/hello",
                connections: c,
                pipeline: 1,
                close: false,
            },
        );
        for (i, row) in r.iter().enumerate() {
            by_conns[i].1.push((c as f64, row.sample.rate));
        }
        rows.extend(r);
    }
    if client == Client::Wrk {
        // wrk cannot say which connections were served: the own client can.
        eprintln!("1b. fairness probe, own client");
        let own = Settings {
            client: Client::Own,
            ..settings
        };
        let mut probe = compare(
            &own,
            "1b. hello, 256 conns (own client)",
            &both,
            &Load {
                path: "/hello",
                connections: 256,
                pipeline: 1,
                close: false,
            },
        );
        for row in &mut probe {
            row.note = "fairness probe: share of connections served".into();
        }
        rows.extend(probe);
        eprintln!("client overhead: own client vs wrk on hyper");
        let hello64 = Load {
            path: "/hello",
            connections: 64,
            pipeline: 1,
            close: false,
        };
        let (mut by_wrk, mut by_own) = (Vec::new(), Vec::new());
        for _ in 0..settings.repeats {
            let server = Running::start(Peer::Hyper);
            let _ = measure(Client::Own, server.addr, &hello64, 0.2);
            by_wrk.push(measure(
                Client::Wrk,
                server.addr,
                &hello64,
                settings.seconds,
            ));
            by_own.push(measure(
                Client::Own,
                server.addr,
                &hello64,
                settings.seconds,
            ));
        }
        let (w, o) = (median_sample(by_wrk), median_sample(by_own));
        rows.push(Row {
            workload: "0. client check: hello, 64 conns".into(),
            server: "hyper, driven by basehttp load".into(),
            ratio: None,
            note: format!(
                "own client reaches {:.0}% of wrk's {:.0} req/s on the same server",
                100.0 * o.rate / w.rate,
                w.rate
            ),
            sample: o,
        });
    }
    eprintln!("2. pipelined");
    let pipeliners = [user, quiet, Peer::Hyper, Peer::HyperPipelineFlush];
    rows.extend(compare(
        &settings,
        "2. hello, 16 pipelined, 8 conns",
        &pipeliners,
        &Load {
            path: "/hello",
            connections: 8,
            pipeline: 16,
            close: false,
        },
    ));
    eprintln!("3. new connection per request");
    rows.extend(compare(
        &settings,
        "3. hello, new conn per request, 8 conns",
        &both,
        &Load {
            path: "/hello",
            connections: 8,
            pipeline: 1,
            close: true,
        },
    ));
    eprintln!("4. sleep 10 ms");
    let sleepers = [
        user,
        Peer::Basehttp {
            workers: Some(8),
            log: true,
        },
        Peer::Hyper,
    ];
    let mut sleep_rows = compare(
        &settings,
        "4. sleep 10 ms, 64 conns",
        &sleepers,
        &Load {
            path: "/sleep?ms=10",
            connections: 64,
            pipeline: 1,
            close: false,
        },
    );
    let mut bounds = Vec::new();
    let slept = measured_sleep_ms();
    for (row, peer) in sleep_rows.iter_mut().zip(sleepers) {
        if let Peer::Basehttp { workers, .. } = peer {
            let workers = workers.unwrap_or(defaults.workers).min(64);
            let bound = workers as f64 / 0.010;
            row.note = format!(
                "Little's bound {bound:.0}/s: {:.0}% (against the measured sleep of {slept:.2} ms: {:.0}%)",
                100.0 * row.sample.rate / bound,
                100.0 * row.sample.rate / (workers as f64 / (slept / 1000.0))
            );
            bounds.push((peer.name(), bound));
        }
    }
    eprintln!("4b. sleep 10 ms, 256 conns");
    let mut wide = compare(
        &settings,
        "4b. sleep 10 ms, 256 conns",
        &[user, Peer::Hyper],
        &Load {
            path: "/sleep?ms=10",
            connections: 256,
            pipeline: 1,
            close: false,
        },
    );
    let bound = defaults.workers.min(256) as f64 / 0.010;
    wide[0].note = format!(
        "Little's bound {bound:.0}/s: {:.0}%",
        100.0 * wide[0].sample.rate / bound
    );
    let by_workers: Vec<(String, f64)> = sleep_rows
        .iter()
        .map(|r| (r.server.clone(), r.sample.rate))
        .collect();
    rows.extend(sleep_rows);
    rows.extend(wide);
    eprintln!("5. cpu 1 ms");
    rows.extend(compare(
        &settings,
        "5. cpu 1 ms, 8 conns",
        &both,
        &Load {
            path: "/cpu?ms=1",
            connections: 8,
            pipeline: 1,
            close: false,
        },
    ));
    eprintln!("6-7. idle connections");
    let mut idle_rows = Vec::new();
    for peer in both {
        let (mut row, extra) = idle_workload(&settings, peer, idle);
        row.note = format!(
            "new conn answered in {:.1} ms; idle conns add {} KiB RSS; {} of {idle} idle kept open",
            extra[0] as f64 / 1000.0,
            extra[1],
            extra[2]
        );
        idle_rows.push(row);
    }
    let hyper_rate = idle_rows[1].sample.rate;
    for row in &mut idle_rows {
        row.ratio = Some(row.sample.rate / hyper_rate);
    }
    rows.extend(idle_rows);

    let table = markdown(&rows);
    let goals = targets(&rows, &defaults);
    println!("\n{meta}\n\n{table}\n{goals}");
    let dir = bench_dir();
    let _ = std::fs::write(dir.join("load.json"), json(&rows, &meta));
    let _ = std::fs::write(dir.join("load.svg"), svg(&by_conns, &by_workers, &bounds));
    let _ = std::fs::write(dir.join("load.md"), format!("{meta}\n\n{table}\n{goals}"));
    eprintln!("wrote {}/load.{{json,svg,md}}", dir.display());
}
