//! Shared test support: start a server on port 0, talk to it over raw sockets, and parse what
//! comes back strictly enough that a framing mistake fails the test.

#![allow(dead_code)] // each test file uses its own part of this module

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub mod chromium;
pub mod devtools;

use basehttp::{Config, Handler, Request, Response, Server, ServerHandle};

/// How long a test client waits for the server before failing: generous, so a slow shared
/// machine never fails a test, while a hang still ends.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a server on 127.0.0.1:0 with `config` and `handler`.
pub fn start(config: Config, handler: impl Handler) -> ServerHandle {
    Server::bind("127.0.0.1:0")
        .expect("bind")
        .config(config)
        .spawn(handler)
        .expect("spawn")
}

/// Starts a server with the default configuration and [`routes`].
pub fn start_default() -> ServerHandle {
    start(Config::default(), routes)
}

/// A small config for tests: `workers` workers, short timeouts.
pub fn config(workers: usize) -> Config {
    let mut c = Config::default();
    c.workers = workers;
    c
}

/// A handler with a few routes the tests use:
/// - `/hello`: `Hello, World!`
/// - `/echo`: the request body back (read with `read_body_to_vec`)
/// - `/ignore-body`: `ignored`, without reading the body
/// - `/sleep?ms=N`: sleeps N ms, then `slept`
/// - `/panic`: panics
/// - `/stream?chunks=N`: N chunks of `chunk-i\n`, streamed
/// - `/headers`: the request's headers as `name: value` lines
/// - `/path`: `path=... query=...`
/// - anything else: `404`
pub fn routes(req: &mut Request) -> Response {
    let query = req.query().unwrap_or("").to_string();
    match req.path() {
        "/hello" => Response::text("Hello, World!"),
        "/echo" => match req.read_body_to_vec(8 << 20) {
            Ok(body) => Response::bytes(body),
            Err(_) => Response::error(413),
        },
        "/ignore-body" => Response::text("ignored"),
        "/sleep" => {
            let ms: u64 = param(&query, "ms").unwrap_or(0);
            std::thread::sleep(Duration::from_millis(ms));
            Response::text("slept")
        }
        "/panic" => panic!("the handler panicked on purpose"),
        "/stream" => {
            let n: usize = param(&query, "chunks").unwrap_or(3);
            let chunks: Vec<Vec<u8>> = (0..n)
                .map(|i| format!("chunk-{i}\n").into_bytes())
                .collect();
            Response::reader(ChunkReader { chunks, next: 0 })
        }
        "/headers" => {
            let mut text = String::new();
            for (name, value) in req.headers() {
                text.push_str(&format!("{}: {}\n", name, String::from_utf8_lossy(value)));
            }
            Response::text(text)
        }
        "/path" => Response::text(format!(
            "path={} query={}",
            req.path(),
            req.query().unwrap_or("-")
        )),
        _ => Response::error(404),
    }
}

/// A reader that yields one chunk per `read` call.
pub struct ChunkReader {
    pub chunks: Vec<Vec<u8>>,
    pub next: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(chunk) = self.chunks.get(self.next) else {
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.next += 1;
        Ok(n)
    }
}

/// The value of `name` in a query string like `a=1&b=2`.
pub fn param<T: std::str::FromStr>(query: &str, name: &str) -> Option<T> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// A loopback port that was free a moment ago, for a server started in another process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A connected client socket with a read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A client that reads responses from a connection one at a time.
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            reader: BufReader::new(connect(addr)),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("send");
    }

    /// Sends a GET for `path` with `Host`.
    pub fn get(&mut self, path: &str) -> Resp {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        self.response(false)
    }

    /// Reads one final response (skipping 1xx ones). `head` says the request was HEAD.
    pub fn response(&mut self, head: bool) -> Resp {
        read_response(&mut self.reader, head).expect("response")
    }

    /// True if the server has closed the connection (EOF with no further bytes).
    pub fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok() && rest.is_empty()
    }
}

/// Reads one final response, skipping interim 1xx responses.
pub fn read_response(r: &mut impl BufRead, head: bool) -> io::Result<Resp> {
    loop {
        let resp = read_one(r, head)?;
        if resp.status >= 200 {
            return Ok(resp);
        }
    }
}

/// Reads exactly one response (interim or final).
pub fn read_one(r: &mut impl BufRead, head: bool) -> io::Result<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status_line = line.trim_end_matches(['\r', '\n']);
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if version != "HTTP/1.1" {
        return Err(io::Error::other(format!("bad status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        if !line.ends_with("\r\n") {
            return Err(io::Error::other(format!(
                "header line without CRLF: {line:?}"
            )));
        }
        let l = line.trim_end_matches("\r\n");
        if l.is_empty() {
            break;
        }
        let (n, v) = l
            .split_once(':')
            .ok_or_else(|| io::Error::other(format!("bad header {l:?}")))?;
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head || status < 200 || status == 204 || status == 304 {
        return Ok(resp);
    }
    if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().map_err(io::Error::other)?;
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body)?;
    } else if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        resp.body = read_chunked(r)?;
    } else {
        r.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim_end_matches("\r\n"), 16)
            .map_err(|e| io::Error::other(format!("bad chunk size {line:?}: {e}")))?;
        if size == 0 {
            line.clear();
            r.read_line(&mut line)?;
            if line != "\r\n" {
                return Err(io::Error::other("missing final CRLF"));
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(io::Error::other("chunk without CRLF"));
        }
    }
}

/// Sends `raw` on a new connection and reads one response.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut c = Client::new(addr);
    c.send(raw);
    c.response(raw.starts_with(b"HEAD "))
}

/// Sends `raw`, half-closes, and reads everything until the server closes.
pub fn exchange_to_close(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(raw).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Names of this process's threads that belong to basehttp (from /proc).
pub fn basehttp_threads() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            if let Ok(name) = std::fs::read_to_string(entry.path().join("comm")) {
                let name = name.trim().to_string();
                if name.starts_with("basehttp-") {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// The request [`assert_alive`] sends.
pub const HELLO: &[u8] = b"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n";

/// Asserts that a fresh connection still gets `Hello, World!` for `GET /hello`: whatever a
/// test did before did not harm other connections. The handler must serve [`routes`]' `/hello`.
pub fn assert_alive(addr: SocketAddr) {
    let resp = exchange(addr, HELLO);
    assert_eq!(resp.status, 200, "a fresh GET /hello was not answered 200");
    assert_eq!(resp.text(), "Hello, World!");
}

/// Asserts that `resp` is one of the server's own error answers: the status, a short
/// `text/plain` body that starts with the status code, and `Connection: close`.
pub fn assert_error_response(resp: &Resp, status: u16) {
    assert_eq!(resp.status, status, "wrong status; body: {:?}", resp.text());
    let content_type = resp.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("text/plain"),
        "error {status} has Content-Type {content_type:?}"
    );
    assert!(
        resp.text().starts_with(&status.to_string()) && resp.body.len() < 200,
        "error {status} body is not a short text naming the status: {:?}",
        resp.text()
    );
    assert!(resp.closes(), "error {status} lacks Connection: close");
}

/// Sends `raw` on a new connection and asserts that the server answers its own `status` error,
/// then closes the connection; then that a fresh connection is still served.
pub fn assert_refused(addr: SocketAddr, raw: &[u8], status: u16) {
    let mut c = Client::new(addr);
    c.send(raw);
    let resp = read_one(&mut c.reader, false).expect("the error response");
    assert_error_response(&resp, status);
    assert!(c.is_closed(), "connection still open after error {status}");
    assert_alive(addr);
}

/// A directory under the system's temp dir, removed with everything in it when dropped.
pub struct TempDir {
    path: std::path::PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty directory named after `tag`, the process and a counter.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("basehttp-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Writes `bytes` to `relative` (creating parent directories) and returns its path.
    pub fn write(&self, relative: &str, bytes: impl AsRef<[u8]>) -> std::path::PathBuf {
        let path = self.path.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dirs");
        }
        std::fs::write(&path, bytes).expect("write a file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Asserts that a fresh connection still gets `body` for `GET path`: a test's abuse did not
/// harm the server (the static-files counterpart of [`assert_alive`]).
pub fn assert_alive_with(addr: SocketAddr, path: &str, body: &str) {
    let resp = exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
    );
    assert_eq!(resp.status, 200, "a fresh GET {path} was not answered 200");
    assert_eq!(resp.text(), body);
}

/// A server process started by [`run_to_banner`]: the child, its banner on stdout, its stderr
/// so far (read by a thread), and the address the banner gives.
pub struct Running {
    pub child: std::process::Child,
    pub banner: String,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
    pub addr: SocketAddr,
}

/// Spawns `cmd` (stdout and stderr piped here) and reads its stdout up to the banner's last
/// line ("Quit the server with CONTROL-C."), collecting stderr meanwhile.
pub fn run_to_banner(cmd: &mut std::process::Command) -> Running {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let (from, into) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines().map_while(Result::ok) {
                let mut all = into.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
    }
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let addr = loop {
        if banner.contains("Quit the server") {
            break banner
                .lines()
                .find_map(|l| l.strip_prefix("Starting development server at http://"))
                .and_then(|a| a.trim_end_matches('/').parse().ok());
        }
        if !matches!(out.read_line(&mut banner), Ok(n) if n > 0) {
            break None;
        }
    };
    let Some(addr) = addr else {
        // Not left running when the test fails here.
        let _ = child.kill();
        let _ = child.wait();
        panic!("no banner with an address: {banner}");
    };
    Running {
        child,
        banner,
        stderr,
        addr,
    }
}
