//! What idle connections cost a server: basehttp (the release binary, as a user runs it)
//! against hyper 1.x on tokio and Debian's nginx, measured in the same run.
//!
//! `cargo bench --bench idle` (3 repeats, a few minutes) or `cargo bench --bench idle -- --quick`
//! (1 repeat, fewer samples, under a minute). Option: `--repeats N`.
//!
//! Rows, each run on a freshly started server:
//! 1. a browser's six: 6 kept-alive connections, one request each, then 0.3 s pauses, each
//!    followed by one timed GET on a random one of them (median and max of the samples);
//! 2. the same with 1,001 kept-alive connections open;
//! 3. a fresh connection's request beside 10,000 idle kept-alive connections, and what the
//!    server spends holding them: its CPU over 3 s (utime + stime in `/proc/PID/stat`) and its
//!    resident memory (`VmRSS`) before they were opened and after;
//! 4. 6,000 connections opened one after another, one request each, kept open: the time to
//!    open them all (and the slowest one), then a fresh connection's request.
//!
//! basehttp runs with default settings (access log on, to `target/bench/idle-basehttp.log`),
//! with `--keep-alive 60` in rows 2-4, whose connections may wait past its default 5 s;
//! nginx as one process with `access_log off`; hyper has no idle timeout. Row 3 needs about
//! 11,000 open descriptors per process: the harness raises its soft limit to the hard one
//! (its servers inherit it) and skips rows the limit cannot hold, saying so.
//!
//! A timed request runs from the request's write to the last byte of its response, on a
//! client socket with `TCP_NODELAY`. Servers alternate within each row (the first one
//! rotates with the repeat), so a neighbour's burst of CPU hurts them all; the table shows
//! medians of the repeats' figures (also for the max). Every server is a child process,
//! started through this binary (`__exec`), which asks Linux to kill it when this process
//! dies (`PR_SET_PDEATHSIG`), also on Ctrl-C or a panic; a `Drop` guard kills it otherwise.
//! Output: a markdown table on stdout and in `target/bench/idle.md`. Traffic stays on
//! 127.0.0.1. Linux only (`/proc`).

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The body every server sends: basehttp and nginx serve it as a file, hyper for any path.
const HELLO: &[u8] = b"Hello, World!";
/// The one request every client sends.
const REQUEST: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
/// Connections a browser opens to one origin (row 1).
const BROWSER_CONNECTIONS: usize = 6;
/// Connections open in row 2.
const BESIDE_IDLE: usize = 1_001;
/// Idle connections in row 3.
const MANY_IDLE: usize = 10_000;
/// Connections opened one after another in row 4.
const OPENED: usize = 6_000;
/// The pause before each timed request on a kept-alive connection (rows 1 and 2).
const IDLE_PAUSE: Duration = Duration::from_millis(300);
/// The pause before each fresh connection's request (rows 3 and 4).
const FRESH_PAUSE: Duration = Duration::from_millis(200);
/// How long the server's CPU is watched while its connections sit idle (row 3).
const CPU_WINDOW: Duration = Duration::from_secs(3);
/// A pause after opening the idle connections, before the CPU window, so the last answers
/// and their log lines are behind the server.
const SETTLE: Duration = Duration::from_millis(500);
/// Descriptors a process needs beyond its connections: a server's listener, log, files and
/// basehttp's reserve (64, and 2 per worker of 256), or this harness's own.
const DESCRIPTOR_HEADROOM: u64 = 1_000;
/// The kernel reports CPU times in `USER_HZ` ticks, 100 a second on Linux.
const USER_HZ: f64 = 100.0;
/// Row 3 targets for basehttp: a fresh request at most this many times hyper's...
const FRESH_RATIO_TARGET: f64 = 1.5;
/// ...under this share of one core while idle...
const CPU_TARGET_PERCENT: f64 = 1.0;
/// ...and under this resident memory with the 10,000 connections open (MiB).
const RSS_TARGET_MIB: f64 = 64.0;
/// How long a client waits on one read or write before calling the server stuck.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Debian's nginx.
const NGINX: &str = "/usr/sbin/nginx";

// ---------------------------------------------------------------------------------------------
// The child processes.

/// `__exec PARENT PROGRAM ARGS...`: asks Linux to kill this process when its parent (the
/// harness, pid PARENT) dies, then becomes PROGRAM (the death signal survives `execve`).
fn exec_guarded(args: &[OsString]) -> ! {
    use std::os::unix::process::CommandExt;
    #[cfg(target_os = "linux")]
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    // The parent may have died before the line above took effect.
    let parent = args.first().and_then(|p| p.to_str()?.parse().ok());
    if parent != Some(rustix::process::Pid::as_raw(rustix::process::getppid())) {
        std::process::exit(1);
    }
    let err = Command::new(&args[1]).args(&args[2..]).exec();
    eprintln!("idle bench: cannot run {:?}: {err}", args[1]);
    std::process::exit(127);
}

/// hyper 1.x on tokio's multi-thread runtime (as in `benches/load.rs`), answering any path
/// with [`HELLO`]; prints its address, exits when the parent closes its stdin.
fn serve_hyper() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;

    async fn hello(
        _req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        let mut res = Response::new(Full::new(Bytes::from_static(HELLO)));
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
                    .serve_connection(TokioIo::new(stream), service_fn(hello))
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

/// A server under test.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    Basehttp,
    /// The library with default settings (access log on, to a file) answering [`HELLO`] for
    /// any path, as hyper does: the server's own path, without the file system's.
    BasehttpHello,
    Hyper,
    Nginx,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Basehttp => "basehttp",
            Peer::BasehttpHello => "basehttp (library, a constant body)",
            Peer::Hyper => "hyper",
            Peer::Nginx => "nginx",
        }
    }
}

/// The `basehttp` library with `Config::default()`, the access log written to standard error
/// (the file the harness gave it), answering [`HELLO`] for any path; prints its address,
/// exits when the parent closes its stdin.
fn serve_basehttp_hello(keep_alive_60: bool) {
    let mut config = basehttp::Config::default();
    config.access_log = basehttp::AccessLog::Stderr { color: false };
    if keep_alive_60 {
        config.keep_alive = Duration::from_secs(60);
    }
    let server = basehttp::Server::bind("127.0.0.1:0")
        .unwrap()
        .config(config)
        .spawn(|_: &mut basehttp::Request| {
            basehttp::Response::text(std::str::from_utf8(HELLO).unwrap())
        })
        .unwrap();
    announce_and_wait(server.local_addr());
}

/// The directory the servers share, `target/bench/idle-work`: the served site and nginx's
/// files. Made afresh at start (a run killed by a signal leaves it behind), removed when
/// dropped.
struct Workdir(PathBuf);

impl Workdir {
    fn create() -> io::Result<Workdir> {
        let dir = bench_dir().join("idle-work");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("site"))?;
        std::fs::create_dir_all(dir.join("nginx"))?;
        std::fs::write(dir.join("site/hello.txt"), HELLO)?;
        Ok(Workdir(dir))
    }

    fn site(&self) -> PathBuf {
        self.0.join("site")
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server; dropping it kills the process (also when a panic unwinds).
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command that runs `program` through [`exec_guarded`], so it dies with this process.
fn guarded(program: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("this binary's path"));
    cmd.arg("__exec")
        .arg(std::process::id().to_string())
        .arg(program)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// A port nobody listens on now (the OS's pick for a socket bound to port 0).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A log file for a child's standard error, in `target/bench`, emptied at each start.
fn log_file(name: &str) -> Stdio {
    std::fs::File::create(bench_dir().join(name)).map_or(Stdio::null(), Stdio::from)
}

impl Server {
    /// Starts `peer`; `keep_alive_60` gives basehttp `--keep-alive 60` (hyper has no idle
    /// timeout, nginx's is 75 s).
    fn start(peer: Peer, work: &Workdir, keep_alive_60: bool) -> io::Result<Server> {
        match peer {
            Peer::Basehttp => {
                let port = free_port()?;
                let mut cmd = guarded(&basehttp_binary());
                cmd.arg(format!("127.0.0.1:{port}"))
                    .arg("-d")
                    .arg(work.site());
                if keep_alive_60 {
                    cmd.args(["--keep-alive", "60"]);
                }
                // Access lines go to a file, as a user's `basehttp 8000 2> access.log` does.
                let child = cmd
                    .env_remove("RUST_LOG")
                    .stderr(log_file("idle-basehttp.log"))
                    .spawn()?;
                Server::ready(child, ([127, 0, 0, 1], port).into())
            }
            Peer::Hyper => Server::announced(&["__serve"], "idle-hyper.log"),
            Peer::BasehttpHello => {
                let mode = if keep_alive_60 { "60" } else { "default" };
                Server::announced(&["__serve-basehttp", mode], "idle-basehttp-lib.log")
            }
            Peer::Nginx => {
                let port = free_port()?;
                let conf = work.0.join("nginx/nginx.conf");
                std::fs::write(
                    &conf,
                    nginx_config(&work.0.join("nginx"), &work.site(), port),
                )?;
                let child = guarded(Path::new(NGINX))
                    .arg("-p")
                    .arg(work.0.join("nginx"))
                    .arg("-e")
                    .arg(work.0.join("nginx/error.log"))
                    .arg("-c")
                    .arg(conf)
                    .stderr(log_file("idle-nginx.log"))
                    .spawn()?;
                Server::ready(child, ([127, 0, 0, 1], port).into())
            }
        }
    }

    /// Starts this binary as a server (`args`), which prints the address it listens on.
    fn announced(args: &[&str], log: &str) -> io::Result<Server> {
        let mut child = guarded(&std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file(log))
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line)?;
        let addr = line.trim().parse().map_err(io::Error::other);
        Server::ready(child, addr?)
    }

    /// Waits until the server at `addr` answers [`REQUEST`] (its warm-up request).
    fn ready(child: Child, addr: SocketAddr) -> io::Result<Server> {
        let mut server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = server.child.try_wait()? {
                return Err(io::Error::other(format!("exited at start: {status}")));
            }
            if open(addr).and_then(|mut s| get(&mut s)).is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("nothing answers at {addr}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory (`VmRSS`), in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()));
        status
            .ok()
            .and_then(|s| {
                let kib = s.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
                kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok()
            })
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }

    /// CPU time used so far, user and system (`utime + stime`), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
        // Fields 14 and 15 of stat(5); the second field (the name) may hold spaces.
        let ticks = stat.ok().and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
        });
        ticks.map_or(f64::NAN, |t| t / USER_HZ)
    }
}

/// nginx as one process (`master_process off`, so killing it leaves no worker behind),
/// serving `site` on `port`; `access_log off`, `keepalive_timeout` its default 75 s.
fn nginx_config(dir: &Path, site: &Path, port: u16) -> String {
    let root = rustix::process::geteuid().is_root();
    let (d, site) = (dir.display(), site.display());
    format!(
        "{user}worker_processes 1;\n\
         daemon off;\n\
         master_process off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 16384; }}\n\
         http {{\n\
           access_log off;\n\
           sendfile on;\n\
           default_type text/plain;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           server {{\n\
             listen 127.0.0.1:{port};\n\
             root {site};\n\
           }}\n\
         }}\n",
        user = if root { "user root;\n" } else { "" },
    )
}

/// `target/release/basehttp`.
fn basehttp_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/basehttp")
}

/// Builds the release binary, as `benches/nginx.sh` does.
fn build_basehttp() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "basehttp", "--quiet"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --release --bin basehttp failed"
    );
}

/// `target/bench`, made if need be.
fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

// ---------------------------------------------------------------------------------------------
// The client: blocking sockets, one request at a time.

/// A new client connection, with `TCP_NODELAY` and [`CLIENT_TIMEOUT`]s.
fn open(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(stream)
}

/// Sends [`REQUEST`] and reads the whole response: its head, then `Content-Length` bytes.
fn get(stream: &mut TcpStream) -> io::Result<()> {
    stream.write_all(REQUEST)?;
    let mut buf = [0u8; 4096];
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf[..filled]).map_err(io::Error::other)? {
            httparse::Status::Partial if filled < buf.len() => continue,
            httparse::Status::Partial => return Err(io::Error::other("response head too long")),
            httparse::Status::Complete(head) => {
                if response.code != Some(200) {
                    return Err(io::Error::other(format!("status {:?}", response.code)));
                }
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| {
                        std::str::from_utf8(h.value)
                            .ok()?
                            .trim()
                            .parse::<usize>()
                            .ok()
                    })
                    .ok_or_else(|| io::Error::other("no Content-Length"))?;
                return read_rest(stream, (head + length).saturating_sub(filled));
            }
        }
    }
}

/// Reads and drops `left` more bytes of a response body.
fn read_rest(stream: &mut TcpStream, mut left: usize) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while left > 0 {
        let n = stream.read(&mut buf[..left.min(4096)])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= n;
    }
    Ok(())
}

/// Connections opened and answered once, kept open.
struct Opened {
    conns: Vec<TcpStream>,
    /// The longest one connection took to open and be answered.
    slowest: Duration,
}

/// Opens `n` connections one after another, each answered once, and keeps them open.
fn open_kept_alive(addr: SocketAddr, n: usize) -> io::Result<Opened> {
    let mut conns = Vec::with_capacity(n);
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let started = Instant::now();
        let stream = open(addr)
            .and_then(|mut s| get(&mut s).map(|()| s))
            .map_err(|e| io::Error::new(e.kind(), format!("connection {}: {e}", i + 1)))?;
        slowest = slowest.max(started.elapsed());
        conns.push(stream);
    }
    Ok(Opened { conns, slowest })
}

/// How many of `conns` the server has not closed (a read would block: no data, no end).
fn still_open(conns: &[TcpStream]) -> usize {
    let open = |s: &TcpStream| {
        let mut byte = [0u8; 1];
        s.set_nonblocking(true).is_ok()
            && matches!(s.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    };
    conns.iter().filter(|s| open(s)).count()
}

/// Closes connections with a reset (`SO_LINGER` 0), which leaves no socket in `TIME_WAIT`
/// to hold the client ports the next run needs.
fn close_all(conns: Vec<TcpStream>) {
    for stream in conns {
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
}

/// A fresh connection's request `samples` times, [`FRESH_PAUSE`] apart: connect, one GET,
/// the whole response (ms each).
fn fresh_requests(addr: SocketAddr, samples: usize) -> io::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        std::thread::sleep(FRESH_PAUSE);
        let started = Instant::now();
        let mut stream = open(addr)?;
        get(&mut stream)?;
        times.push(ms(started.elapsed()));
    }
    Ok(times)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// xorshift64: which kept-alive connection a probe picks, the same picks for every server.
struct Picks(u64);

impl Picks {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// The rows.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Row {
    BrowserSix,
    BesideThousand,
    FreshBesideMany,
    OpenMany,
}

const ROWS: [Row; 4] = [
    Row::BrowserSix,
    Row::BesideThousand,
    Row::FreshBesideMany,
    Row::OpenMany,
];

impl Row {
    fn title(self) -> String {
        match self {
            Row::BrowserSix => "1. kept-alive request after 0.3 s idle, 6 open".into(),
            Row::BesideThousand => {
                format!("2. kept-alive request after 0.3 s idle, {BESIDE_IDLE} open")
            }
            Row::FreshBesideMany => {
                format!("3. fresh connection's request beside {MANY_IDLE} idle")
            }
            Row::OpenMany => format!("4. {OPENED} connections opened one after another"),
        }
    }

    /// Connections this row keeps open at once.
    fn connections(self) -> usize {
        match self {
            Row::BrowserSix => BROWSER_CONNECTIONS,
            Row::BesideThousand => BESIDE_IDLE,
            Row::FreshBesideMany => MANY_IDLE,
            Row::OpenMany => OPENED,
        }
    }

    /// Rows whose connections may wait longer than basehttp's default 5 s keep-alive (row 1's
    /// probes end within 15 x 0.3 s) run it with `--keep-alive 60`.
    fn keep_alive_60(self) -> bool {
        self != Row::BrowserSix
    }

    fn run(self, server: &Server, samples: usize, picks: &mut Picks) -> io::Result<Figures> {
        match self {
            Row::BrowserSix | Row::BesideThousand => {
                kept_alive_requests(server.addr, self.connections(), samples, picks)
            }
            Row::FreshBesideMany => fresh_beside_idle(server, samples),
            Row::OpenMany => open_many(server.addr, samples),
        }
    }
}

/// What one run of a row measured on one server; a row fills the fields it measures, the
/// others stay NaN.
#[derive(Clone, Copy, Debug)]
struct Figures {
    /// Rows 1-2: the request on a kept-alive connection; rows 3-4: a fresh connection's
    /// request. Median of the samples, ms.
    median_ms: f64,
    /// Rows 1-2: the slowest sample; row 4: the slowest connection to open and be answered.
    /// In ms.
    max_ms: f64,
    /// Rows 1-2: probes that found their connection closed by the server (not samples).
    closed: f64,
    /// Row 4: the time to open all the connections, s.
    open_s: f64,
    /// Row 3: the server's CPU while the connections sit idle, % of one core.
    cpu_percent: f64,
    /// Row 3: resident memory before the idle connections were opened and after, MiB.
    rss_before_mib: f64,
    rss_after_mib: f64,
    /// Row 3: idle connections the server still held after the CPU window.
    still_open: f64,
}

impl Default for Figures {
    fn default() -> Figures {
        Figures {
            median_ms: f64::NAN,
            max_ms: f64::NAN,
            closed: f64::NAN,
            open_s: f64::NAN,
            cpu_percent: f64::NAN,
            rss_before_mib: f64::NAN,
            rss_after_mib: f64::NAN,
            still_open: f64::NAN,
        }
    }
}

/// Rows 1 and 2: `open` kept-alive connections, then `samples` times a pause of
/// [`IDLE_PAUSE`] and one timed GET on a random one of them.
fn kept_alive_requests(
    addr: SocketAddr,
    open_count: usize,
    samples: usize,
    picks: &mut Picks,
) -> io::Result<Figures> {
    let mut conns = open_kept_alive(addr, open_count)?.conns;
    let (mut times, mut closed) = (Vec::with_capacity(samples), 0);
    while times.len() < samples {
        std::thread::sleep(IDLE_PAUSE);
        let i = picks.below(open_count);
        let started = Instant::now();
        match get(&mut conns[i]) {
            Ok(()) => times.push(ms(started.elapsed())),
            // The server closed it while idle: not a kept-alive request; replace it.
            Err(_) if closed < samples => {
                closed += 1;
                conns[i] = open_kept_alive(addr, 1)?.conns.remove(0);
            }
            Err(e) => return Err(e),
        }
    }
    close_all(conns);
    Ok(Figures {
        max_ms: times.iter().copied().fold(f64::NAN, f64::max),
        median_ms: median(times),
        closed: closed as f64,
        ..Figures::default()
    })
}

/// Row 3: the server's memory, then [`MANY_IDLE`] kept-alive connections opened, its CPU over
/// [`CPU_WINDOW`] while they sit idle, its memory again, how many it still holds, and fresh
/// connections' requests.
fn fresh_beside_idle(server: &Server, samples: usize) -> io::Result<Figures> {
    let rss_before_mib = server.rss_mib();
    let conns = open_kept_alive(server.addr, MANY_IDLE)?.conns;
    std::thread::sleep(SETTLE);
    let (cpu_before, started) = (server.cpu_seconds(), Instant::now());
    std::thread::sleep(CPU_WINDOW);
    let cpu = server.cpu_seconds() - cpu_before;
    let cpu_percent = 100.0 * cpu / started.elapsed().as_secs_f64();
    let rss_after_mib = server.rss_mib();
    let still_open = still_open(&conns) as f64;
    let fresh = fresh_requests(server.addr, samples)?;
    close_all(conns);
    Ok(Figures {
        median_ms: median(fresh),
        cpu_percent,
        rss_before_mib,
        rss_after_mib,
        still_open,
        ..Figures::default()
    })
}

/// Row 4: [`OPENED`] connections opened one after another (timed, in all and the slowest),
/// then fresh connections' requests beside them.
fn open_many(addr: SocketAddr, samples: usize) -> io::Result<Figures> {
    let started = Instant::now();
    let opened = open_kept_alive(addr, OPENED)?;
    let open_s = started.elapsed().as_secs_f64();
    let fresh = fresh_requests(addr, samples)?;
    close_all(opened.conns);
    Ok(Figures {
        median_ms: median(fresh),
        max_ms: ms(opened.slowest),
        open_s,
        ..Figures::default()
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The field-wise medians of several runs' figures.
fn median_figures(runs: &[Figures]) -> Figures {
    let of = |f: fn(&Figures) -> f64| median(runs.iter().map(f).collect());
    Figures {
        median_ms: of(|f| f.median_ms),
        max_ms: of(|f| f.max_ms),
        closed: of(|f| f.closed),
        open_s: of(|f| f.open_s),
        cpu_percent: of(|f| f.cpu_percent),
        rss_before_mib: of(|f| f.rss_before_mib),
        rss_after_mib: of(|f| f.rss_after_mib),
        still_open: of(|f| f.still_open),
    }
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// How the run goes, from the command line.
struct Plan {
    repeats: usize,
    /// Timed requests per row and run.
    samples: usize,
    /// Open descriptors this process (and so each server it starts) may hold.
    descriptors: u64,
}

/// One row on one server: the median figures of its runs, and why runs failed or were skipped.
struct Outcome {
    row: Row,
    peer: Peer,
    figures: Figures,
    problems: Vec<String>,
}

/// Raises this process's soft limit on open descriptors to the hard limit (its children
/// inherit it) and returns the limit now in force.
fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum || limit.maximum.is_none() {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        let _ = setrlimit(Resource::Nofile, raised);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Why `row` cannot run under `plan`'s descriptor limit, if it cannot. Each process has its
/// own descriptor table: the harness holds its ends of the connections, each server its own.
fn skip_reason(row: Row, plan: &Plan) -> Option<String> {
    let needed = row.connections() as u64 + DESCRIPTOR_HEADROOM;
    (plan.descriptors < needed).then(|| {
        format!(
            "skipped: needs {needed} open descriptors per process, the limit is {} (raise the hard limit: ulimit -Hn, LimitNOFILE)",
            plan.descriptors
        )
    })
}

/// Runs every row on every peer, `plan.repeats` times, servers alternating within a row.
fn measure_all(plan: &Plan, peers: &[Peer], work: &Workdir) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for row in ROWS {
        let skipped = skip_reason(row, plan);
        if let Some(why) = &skipped {
            eprintln!("{}: {why}", row.title());
        }
        let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); peers.len()];
        let mut problems: Vec<Vec<String>> = vec![Vec::new(); peers.len()];
        for repeat in 0..plan.repeats {
            if skipped.is_some() {
                break;
            }
            for k in 0..peers.len() {
                let i = (k + repeat) % peers.len();
                let mut picks = Picks(0x9E37_79B9_7F4A_7C15 ^ (repeat as u64 + 1));
                let result = Server::start(peers[i], work, row.keep_alive_60())
                    .and_then(|server| row.run(&server, plan.samples, &mut picks));
                match result {
                    Ok(figures) => {
                        eprintln!(
                            "{} | {} | {}",
                            row.title(),
                            peers[i].name(),
                            show(row, &figures)
                        );
                        runs[i].push(figures);
                    }
                    Err(e) => {
                        eprintln!("{} | {} | failed: {e}", row.title(), peers[i].name());
                        problems[i].push(format!("failed: {e}"));
                    }
                }
            }
        }
        for (i, peer) in peers.iter().enumerate() {
            let mut problems = std::mem::take(&mut problems[i]);
            problems.extend(skipped.clone());
            outcomes.push(Outcome {
                row,
                peer: *peer,
                figures: median_figures(&runs[i]),
                problems,
            });
        }
    }
    outcomes
}

/// A row's figures as the table shows them.
fn show(row: Row, f: &Figures) -> String {
    match row {
        Row::BrowserSix | Row::BesideThousand => {
            let mut s = format!("median {:.3} ms, max {:.3} ms", f.median_ms, f.max_ms);
            if f.closed > 0.0 {
                let _ = write!(s, "; {:.0} probes found their connection closed", f.closed);
            }
            s
        }
        Row::FreshBesideMany => format!(
            "fresh request {:.3} ms; idle CPU {:.2}% of a core; RSS {:.1} MB before, {:.1} MB after; {:.0} of {MANY_IDLE} still open",
            f.median_ms, f.cpu_percent, f.rss_before_mib, f.rss_after_mib, f.still_open
        ),
        Row::OpenMany => format!(
            "opened in {:.3} s (slowest {:.3} ms); then a fresh request {:.3} ms",
            f.open_s, f.max_ms, f.median_ms
        ),
    }
}

/// A row's figures against hyper's.
fn versus(row: Row, f: &Figures, hyper: &Figures) -> String {
    let x = |a: f64, b: f64| {
        let r = a / b;
        if r.is_finite() {
            format!("{r:.2}x")
        } else {
            "-".into()
        }
    };
    match row {
        Row::BrowserSix | Row::BesideThousand => format!(
            "{} (max {})",
            x(f.median_ms, hyper.median_ms),
            x(f.max_ms, hyper.max_ms)
        ),
        Row::FreshBesideMany => x(f.median_ms, hyper.median_ms),
        Row::OpenMany => format!(
            "{} open, {} fresh",
            x(f.open_s, hyper.open_s),
            x(f.median_ms, hyper.median_ms)
        ),
    }
}

/// The row 3 targets, for basehttp: each figure, and met or missed.
fn verdict(row: Row, peer: Peer, f: &Figures, hyper: &Figures) -> String {
    if row != Row::FreshBesideMany || peer != Peer::Basehttp {
        return "-".into();
    }
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    let ratio = f.median_ms / hyper.median_ms;
    format!(
        "fresh <= {FRESH_RATIO_TARGET}x hyper: {}; CPU < {CPU_TARGET_PERCENT}%: {}; RSS < {RSS_TARGET_MIB} MB: {}",
        mark(ratio <= FRESH_RATIO_TARGET),
        mark(f.cpu_percent < CPU_TARGET_PERCENT),
        mark(f.rss_after_mib < RSS_TARGET_MIB)
    )
}

/// The markdown table: one line per row and server.
fn markdown(outcomes: &[Outcome]) -> String {
    let mut t =
        String::from("| row | server | figures | vs hyper | target |\n|---|---|---|---|---|\n");
    for o in outcomes {
        let hyper = outcomes
            .iter()
            .find(|h| h.row == o.row && h.peer == Peer::Hyper)
            .map_or_else(Figures::default, |h| h.figures);
        let server = if o.peer == Peer::Basehttp && o.row.keep_alive_60() {
            "basehttp --keep-alive 60"
        } else {
            o.peer.name()
        };
        let mut figures = if o.figures.median_ms.is_nan() {
            "-".to_string()
        } else {
            show(o.row, &o.figures)
        };
        for problem in &o.problems {
            let _ = write!(figures, " ({problem})");
        }
        let _ = writeln!(
            t,
            "| {} | {server} | {figures} | {} | {} |",
            o.row.title(),
            versus(o.row, &o.figures, &hyper),
            verdict(o.row, o.peer, &o.figures, &hyper)
        );
    }
    t
}

/// The header line: how the run went.
fn header(plan: &Plan, peers: &[Peer]) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let nginx = if peers.contains(&Peer::Nginx) {
        "nginx 1 process (master_process off), access_log off, keepalive_timeout 75 s"
    } else {
        "nginx skipped: /usr/sbin/nginx is missing (apt-get install nginx-light)"
    };
    format!(
        "Idle connections: median of {} alternating repeats (a max is the median of the runs' \
         maxima), {} timed requests per row and run; \
         {cores} cores, load average {} at the start; descriptor limit {}; basehttp: release \
         binary, default settings, access log to a file (rows 2-4 with --keep-alive 60); hyper \
         1.x on tokio's multi-thread runtime; {nginx}",
        plan.repeats,
        plan.samples,
        load.join(" "),
        plan.descriptors,
    )
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("__exec") => exec_guarded(&args[1..]),
        Some("__serve") => return serve_hyper(),
        Some("__serve-basehttp") => {
            return serve_basehttp_hello(args.get(1).is_some_and(|a| a == "60"));
        }
        _ => {}
    }
    let quick = args.iter().any(|a| a == "--quick");
    let repeats = args
        .iter()
        .position(|a| a == "--repeats")
        .and_then(|i| args.get(i + 1)?.to_str()?.parse().ok());
    let plan = Plan {
        repeats: repeats.unwrap_or(if quick { 1 } else { 3 }).max(1),
        samples: if quick { 5 } else { 15 },
        descriptors: raise_descriptor_limit(),
    };
    build_basehttp();
    let mut peers = vec![Peer::Basehttp, Peer::BasehttpHello, Peer::Hyper];
    if Path::new(NGINX).exists() {
        peers.push(Peer::Nginx);
    } else {
        eprintln!("nginx is not installed ({NGINX}): its column is skipped");
    }
    let meta = header(&plan, &peers);
    eprintln!("{meta}");
    let work = Workdir::create().expect("create the served directory");
    let outcomes = measure_all(&plan, &peers, &work);
    let table = markdown(&outcomes);
    println!("\n{meta}\n\n{table}");
    let path = bench_dir().join("idle.md");
    let _ = std::fs::write(&path, format!("{meta}\n\n{table}"));
    eprintln!("wrote {}", path.display());
}
