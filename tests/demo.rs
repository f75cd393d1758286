//! `basehttp demo` over real sockets: every endpoint, the 400s that name their parameter, the
//! caps, `/echo` with both framings and `100-continue`, the `/stats` JSON and how it moves under
//! a burst, the timed access lines, and the page rendered by headless chromium.
//!
//! The binary runs as a child process on port 0; the banner gives the URL.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Client, Resp, chromium, connect, exchange, read_one};

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");

/// A running `basehttp demo` and the lines it logs to stderr.
struct Demo {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    fn start(options: &[&str]) -> Demo {
        let mut child = Command::new(BIN)
            .args(["demo", "127.0.0.1:0"])
            .args(options)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start basehttp demo");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut addr = None;
        for _ in 0..4 {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            if let Some(url) = line.trim().strip_prefix("Starting development server at ") {
                let hostport = url.trim_start_matches("http://").trim_end_matches('/');
                addr = Some(hostport.parse().expect("an address in the banner"));
            }
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                match line {
                    Ok(line) => sink.lock().unwrap().push(line),
                    Err(_) => break,
                }
            }
        });
        Demo {
            child,
            addr: addr.expect("the banner names the URL"),
            log,
        }
    }

    fn get(&self, path: &str) -> Resp {
        exchange(
            self.addr,
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    }

    fn stats(&self) -> Value {
        let resp = self.get("/stats");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        serde_json::from_slice(&resp.body).expect("/stats is JSON")
    }

    /// Waits for a logged line containing `needle`.
    fn logged(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "nothing logged with {needle:?}");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn hello_is_exactly_hello_world() {
    let demo = Demo::start(&[]);
    let resp = demo.get("/hello");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"Hello, World!");
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let head = exchange(demo.addr, b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("13"))
    );
}

#[test]
fn sleep_and_cpu_take_their_time() {
    let demo = Demo::start(&[]);
    // `/cpu` does the work the CPU did in 120 ms when the server started. A start on a busy
    // machine (tests run in parallel, several servers starting at once) measures a slower
    // CPU, so the request may then take less: measured down to 83 ms here. Half the time
    // still tells real work from none (a `/cpu` that did nothing takes well under 1 ms).
    for (path, body, least) in [("/sleep?ms=120", "slept", 120), ("/cpu?ms=120", "spun", 60)] {
        let t = Instant::now();
        let resp = demo.get(path);
        let took = t.elapsed();
        assert_eq!((resp.status, resp.text().as_str()), (200, body), "{path}");
        assert!(took >= Duration::from_millis(least), "{path} took {took:?}");
    }
    assert_eq!(demo.get("/sleep?ms=0").status, 200);
}

#[test]
fn bad_parameters_get_a_400_naming_the_parameter() {
    let demo = Demo::start(&[]);
    let cases = [
        ("/sleep", "`ms`"),
        ("/sleep?ms=", "`ms`"),
        ("/sleep?ms=abc", "`ms`"),
        ("/sleep?ms=-5", "`ms`"),
        ("/sleep?ms=1.5", "`ms`"),
        ("/sleep?ms=10001", "`ms`"),
        ("/sleep?ms=99999999999999999999999", "`ms`"),
        ("/sleep?ms=1&ms=2", "`ms`"),
        ("/sleep?msec=5", "`msec`"),
        ("/cpu?ms=10001", "`ms`"),
        ("/cpu?ms=x", "`ms`"),
        ("/stream?ms=10", "`chunks`"),
        ("/stream?chunks=3", "`ms`"),
        ("/stream?chunks=1001&ms=0", "`chunks`"),
        ("/stream?chunks=x&ms=0", "`chunks`"),
        ("/stream?chunks=100&ms=601", "`chunks` × `ms`"),
        ("/stream?chunks=2&ms=10&extra=1", "`extra`"),
    ];
    for (path, name) in cases {
        let resp = demo.get(path);
        assert_eq!(resp.status, 400, "{path}: {}", resp.text());
        assert!(
            resp.text().starts_with("400 Bad Request: ") && resp.text().contains(name),
            "{path}: {:?} does not name {name}",
            resp.text()
        );
    }
    // At the caps exactly, the requests are accepted (checked without waiting for them).
    let resp = demo.get("/stream?chunks=1000&ms=0");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text().lines().count(), 1000);
    assert!(demo.stats()["limits"]["ms"] == 10_000);
}

#[test]
fn unknown_paths_404_and_wrong_methods_405_with_allow() {
    let demo = Demo::start(&[]);
    assert_eq!(demo.get("/nope").status, 404);
    assert_eq!(demo.get("/hello/").status, 404);
    for (method, path, allow) in [
        ("POST", "/hello", "GET, HEAD"),
        ("DELETE", "/sleep?ms=1", "GET, HEAD"),
        ("PUT", "/cpu?ms=1", "GET, HEAD"),
        ("POST", "/stream?chunks=1&ms=0", "GET, HEAD"),
        ("POST", "/stats", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("GET", "/echo", "POST"),
    ] {
        let raw = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        let resp = exchange(demo.addr, raw.as_bytes());
        assert_eq!(resp.status, 405, "{method} {path}");
        assert_eq!(resp.header("allow"), Some(allow), "{method} {path}");
    }
}

#[test]
fn echo_streams_both_framings_with_and_without_100_continue() {
    let demo = Demo::start(&[]);
    let mut c = Client::new(demo.addr);
    // Content-Length, no expectation.
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-demo\r\nContent-Length: 5\r\n\r\nhello");
    let resp = c.response(false);
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello"));
    assert_eq!(resp.header("content-length"), Some("5"));
    assert_eq!(resp.header("content-type"), Some("text/x-demo"));
    // Content-Length with 100-continue: the interim answer comes before the body is sent.
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(read_one(&mut c.reader, false).unwrap().status, 100);
    c.send(b"world!");
    let resp = c.response(false);
    assert_eq!((resp.status, resp.text().as_str()), (200, "world!"));
    // Chunked with 100-continue: echoed chunked.
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(read_one(&mut c.reader, false).unwrap().status, 100);
    c.send(b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    let resp = c.response(false);
    assert_eq!((resp.status, resp.text().as_str()), (200, "abcdefg"));
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    // Chunked without expectation, and an empty body.
    c.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(c.response(false).text(), "hi");
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    let resp = c.response(false);
    assert_eq!((resp.status, resp.body.len()), (200, 0));
    // The connection is still in order.
    assert_eq!(c.get("/hello").text(), "Hello, World!");
}

/// A malformed chunked body that `/echo` meets while it streams the body back is the client's
/// mistake: the response is cut, and at the default level (info) no `ERROR` line says so.
#[test]
fn a_malformed_chunked_body_to_echo_is_not_logged_as_an_error() {
    let demo = Demo::start(&[]);
    let mut s = connect(demo.addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .unwrap();
    // The echo has begun (the head and the first chunk are back) before the bad chunk size,
    // so the handler's response, not a 400, meets it.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(5).any(|w| w == b"hello") {
        let n = s.read(&mut buf).expect("the echo's first chunk");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    s.write_all(b"zz\r\n").unwrap();
    let _ = s.read_to_end(&mut got);
    assert!(!got.ends_with(b"0\r\n\r\n"), "the echo was not cut");
    // The access line comes after any error line about the same response.
    let line = demo.logged("\"POST /echo HTTP/1.1\" 200");
    assert!(line.contains(" cut="), "{line}");
    let log = demo.log.lock().unwrap();
    assert!(
        !log.iter().any(|l| l.starts_with("ERROR")),
        "the client's malformed body was logged as an error: {log:#?}"
    );
}

/// The echo is streamed: with 3 MiB announced and only 64 KiB sent, bytes already come back.
#[test]
fn echo_does_not_wait_for_the_whole_body() {
    let demo = Demo::start(&[]);
    let mut s = connect(demo.addr);
    let total = 3 << 20;
    write!(
        s,
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let piece = vec![b'x'; 64 * 1024];
    s.write_all(&piece).unwrap();
    let mut first = [0u8; 64];
    let n = s.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    let mut writer = s.try_clone().unwrap();
    let sender = thread::spawn(move || {
        for _ in 1..total / piece.len() {
            writer.write_all(&piece).unwrap();
        }
    });
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    sender.join().unwrap();
    let all = [&first[..n], &rest[..]].concat();
    let head = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - head, total);
    assert!(all[head..].iter().all(|&b| b == b'x'));
}

/// `/stream?chunks=4&ms=150`: a chunked response whose chunks arrive about 150 ms apart.
#[test]
fn stream_sends_chunks_apart_in_time() {
    let demo = Demo::start(&[]);
    let mut s = BufReader::new(connect(demo.addr));
    s.get_mut()
        .write_all(b"GET /stream?chunks=4&ms=150 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        s.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if line.to_ascii_lowercase().starts_with("transfer-encoding") {
            assert!(line.contains("chunked"), "{line}");
        }
    }
    let mut arrivals = Vec::new();
    let mut texts = Vec::new();
    loop {
        line.clear();
        s.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim(), 16).unwrap();
        arrivals.push(Instant::now());
        if size == 0 {
            break;
        }
        let mut data = vec![0u8; size + 2];
        s.read_exact(&mut data).unwrap();
        texts.push(String::from_utf8_lossy(&data[..size]).into_owned());
    }
    assert_eq!(
        texts,
        [
            "chunk 1 of 4\n",
            "chunk 2 of 4\n",
            "chunk 3 of 4\n",
            "chunk 4 of 4\n"
        ]
    );
    for pair in arrivals[..4].windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(120), "chunks {gap:?} apart");
    }
}

#[test]
fn stats_json_has_the_documented_shape() {
    let demo = Demo::start(&["-w", "3", "-q", "16", "--when-full", "reject"]);
    assert_eq!(demo.get("/hello").status, 200);
    let s = demo.stats();
    for field in [
        "uptime_ms",
        "workers",
        "active_workers",
        "spare_places",
        "busy_workers",
        "queue_depth",
        "queue_capacity",
        "keep_alive_ms",
        "accepted",
        "rejected",
        "served",
        "active_connections",
        "parks",
        "writes",
    ] {
        assert!(s[field].is_u64(), "{field} in {s}");
    }
    for field in [
        "total", "idle", "head", "body", "write", "drain", "linger", "stream",
    ] {
        assert!(s["parked"][field].is_u64(), "parked {field} in {s}");
    }
    assert_eq!(s["workers"], 3);
    assert_eq!(s["queue_capacity"], 16);
    assert_eq!(s["when_full"], "reject");
    assert!(s["served"].as_u64().unwrap() >= 1);
    let l = &s["latency_ms"];
    for field in ["p50", "p90", "p99"] {
        assert!(l[field].is_f64(), "latency {field} in {s}");
    }
    assert!(l["samples"].as_u64().unwrap() >= 1, "{s}");
    assert!(l["window"].as_u64().unwrap() >= 2000, "{s}");
    let workers = s["per_worker"].as_array().unwrap();
    assert_eq!(workers.len(), 3);
    let mut served = 0;
    for (i, w) in workers.iter().enumerate() {
        assert_eq!(w["id"], i);
        let state = w["state"].as_str().unwrap();
        assert!(
            ["idle", "reading", "handling", "writing"].contains(&state),
            "{w}"
        );
        served += w["served"].as_u64().unwrap();
    }
    assert!(served >= 1);
    // The worker answering this very request is in its handler, on `GET /stats`.
    assert!(
        workers
            .iter()
            .any(|w| w["state"] == "handling" && w["request"] == "GET /stats"),
        "{s}"
    );
}

/// Sends `GET path` on a new connection from a thread; the thread returns the response.
fn get_in_background(addr: SocketAddr, path: &str) -> thread::JoinHandle<Resp> {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    thread::spawn(move || exchange(addr, raw.as_bytes()))
}

/// Under a burst of slow requests, busy workers and queue depth rise, each busy worker says
/// what it is doing, and the latency percentiles follow.
///
/// `/stats` itself waits its turn in the queue, so the test arranges for it to be taken up at
/// a quiet moment: two workers start a 1 s and a 3 s sleep, `/stats` queues next, then three
/// more sleeps. When the 1 s sleep ends, its worker takes `/stats` while the other is in the
/// middle of its 3 s sleep and three requests wait.
#[test]
fn stats_move_under_a_sleep_burst() {
    let demo = Demo::start(&["-w", "2", "-q", "16"]);
    let addr = demo.addr;
    let pause = || thread::sleep(Duration::from_millis(200));
    let mut burst = vec![
        get_in_background(addr, "/sleep?ms=1000"),
        get_in_background(addr, "/sleep?ms=3000"),
    ];
    pause();
    let stats = get_in_background(addr, "/stats");
    pause();
    burst.extend((0..3).map(|_| get_in_background(addr, "/sleep?ms=1000")));
    let s: Value = serde_json::from_slice(&stats.join().unwrap().body).unwrap();
    assert_eq!(s["busy_workers"], 2, "{s}");
    assert!(s["queue_depth"].as_u64().unwrap() >= 3, "{s}");
    assert!(s["active_connections"].as_u64().unwrap() >= 5, "{s}");
    let sleeper = s["per_worker"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["request"] == "GET /sleep?ms=3000")
        .unwrap_or_else(|| panic!("no worker on the 3 s sleep: {s}"));
    assert_eq!(sleeper["state"], "handling", "{s}");
    let for_ms = sleeper["for_ms"].as_u64().unwrap();
    assert!((500..3000).contains(&for_ms), "{s}");
    for t in burst {
        assert_eq!(t.join().unwrap().status, 200);
    }
    let s = demo.stats();
    assert!(s["served"].as_u64().unwrap() >= 6);
    // Five sleeps (1, 3, 1, 1, 1 s) on two workers: the later ones waited a second or more.
    let latency = &s["latency_ms"];
    assert!(latency["p99"].as_f64().unwrap() >= 2700.0, "{s}");
    assert!(latency["p50"].as_f64().unwrap() >= 900.0, "{s}");
}

/// One worker and a queue of one, with `reject`: while the worker sleeps, of three more
/// connections at least one is answered `503` at once, and `/stats` counts it.
#[test]
fn a_full_queue_under_reject_answers_503_and_counts_it() {
    let demo = Demo::start(&["-w", "1", "-q", "1", "--when-full", "reject"]);
    let addr = demo.addr;
    let slow = get_in_background(addr, "/sleep?ms=1500");
    thread::sleep(Duration::from_millis(300));
    let others: Vec<_> = (0..3).map(|_| get_in_background(addr, "/hello")).collect();
    let statuses: Vec<u16> = others
        .into_iter()
        .map(|t| t.join().unwrap().status)
        .collect();
    assert_eq!(slow.join().unwrap().status, 200);
    let refused = statuses.iter().filter(|&&s| s == 503).count();
    assert!(refused >= 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|&s| s == 503 || s == 200),
        "{statuses:?}"
    );
    let s = demo.stats();
    assert_eq!(s["rejected"].as_u64(), Some(refused as u64), "{s}");
}

#[test]
fn access_lines_name_the_worker_and_the_times() {
    let demo = Demo::start(&["-w", "2"]);
    assert_eq!(demo.get("/sleep?ms=50").status, 200);
    let line = demo.logged("\"GET /sleep?ms=50 HTTP/1.1\"");
    // [22/Nov/2026 04:34:37] "GET /sleep?ms=50 HTTP/1.1" 200 5 worker=1 queued=0.03ms took=50.1ms
    let (_, rest) = line
        .split_once("] \"GET /sleep?ms=50 HTTP/1.1\" 200 5 worker=")
        .unwrap();
    let words: Vec<&str> = rest.split(' ').collect();
    assert_eq!(words.len(), 3, "{line}");
    let worker: usize = words[0].parse().unwrap();
    assert!(worker < 2, "{line}");
    let ms = |word: &str, key: &str| -> f64 {
        word.strip_prefix(key)
            .and_then(|w| w.strip_suffix("ms"))
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("bad {key} in {line}"))
    };
    assert!(ms(words[1], "queued=") < 1000.0, "{line}");
    let took = ms(words[2], "took=");
    assert!((50.0..2000.0).contains(&took), "{line}");
    assert!(line.starts_with('['), "{line}");
}

#[test]
fn the_page_is_one_self_contained_file() {
    let demo = Demo::start(&[]);
    let resp = demo.get("/");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = resp.text();
    assert!(page.starts_with("<!doctype html>"));
    for external in [
        "<script src",
        "<link",
        "@import",
        "src=\"http",
        "href=\"http",
        "url(http",
    ] {
        assert!(!page.contains(external), "the page loads {external}");
    }
    assert!(page.contains("fetch(\"/stats\""));
}

/// Loads `url` in headless chromium and returns the DOM after `budget_ms` of virtual time
/// (which also waits for the network), or `None` (with a message) when chromium is missing
/// outside CI.
fn dump_dom(url: &str, budget_ms: u32) -> Option<String> {
    let browser = chromium::find_or_skip("the demo page test")?;
    let profile = support::TempDir::new("demo-chromium");
    let budget = format!("--virtual-time-budget={budget_ms}");
    let (dom, _) = chromium::run(
        &browser,
        profile.path(),
        &["--window-size=1280,900", &budget, "--dump-dom"],
        url,
    );
    Some(dom)
}

/// The values of `name="..."` attributes in the order they appear.
fn attributes<'d>(dom: &'d str, name: &str) -> Vec<&'d str> {
    let key = format!(" {name}=\"");
    dom.match_indices(&key)
        .filter_map(|(at, _)| {
            let rest = &dom[at + key.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// The page, in a real browser: it polls `/stats` and draws one cell per worker with the
/// server's own figures, and its burst button sends requests the server sees.
#[test]
fn the_page_renders_the_live_pool_in_a_browser() {
    let demo = Demo::start(&["-w", "5", "-q", "32"]);
    for _ in 0..3 {
        assert_eq!(demo.get("/hello").status, 200);
    }
    let url = format!("http://{}/#burst=sleep&n=4&ms=300", demo.addr);
    let Some(dom) = dump_dom(&url, 4000) else {
        return;
    };
    assert!(dom.contains("basehttp demo"), "not the page: {dom:.300}");
    // Rendered from a live /stats: five worker cells, numbered, each with a state and a count.
    let ids = attributes(&dom, "data-worker");
    assert_eq!(ids, ["0", "1", "2", "3", "4"], "worker cells in {dom}");
    let states = attributes(&dom, "data-state");
    assert_eq!(states.len(), 5);
    for state in &states {
        assert!(
            ["idle", "reading", "handling", "writing"].contains(state),
            "{state}"
        );
    }
    let served: u64 = attributes(&dom, "data-served")
        .iter()
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert!(
        served >= 3,
        "the cells show {served} served; the hellos alone were 3"
    );
    assert!(attributes(&dom, "data-polls")[0].parse::<u32>().unwrap() >= 1);
    assert_eq!(attributes(&dom, "data-workers"), ["5"]);
    assert!(dom.contains("5 workers"), "no settings line in {dom}");
    assert!(dom.contains("<polyline"), "no chart drawn");
    // The burst from the browser reached the server (spread over two host names).
    assert_eq!(attributes(&dom, "data-bursts"), ["1"]);
    let sleeps = || {
        demo.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("\"GET /sleep?ms=300 HTTP/1.1\" 200"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while sleeps() < 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sleeps(), 4);
    assert!(dom.contains("4 done, 0 failed"), "burst status in {dom}");
}

/// The texts of the worker cards' durations (`<div class="wfor">...</div>`) in a dumped DOM.
fn durations(dom: &str) -> Vec<&str> {
    let key = "class=\"wfor\">";
    dom.match_indices(key)
        .filter_map(|(at, _)| {
            let rest = &dom[at + key.len()..];
            rest.find('<').map(|end| &rest[..end])
        })
        .collect()
}

/// A worker card says how long its worker has been on the request with a unit: the page is
/// given a `/stats` (the demo's own, with two workers' requests set to 0 ms and 1,530 ms)
/// by a server of the test's, and chromium renders it. A request under 1 ms (such as the
/// page's own poll of `/stats`) once read "for 0".
#[test]
fn worker_cards_give_durations_a_unit() {
    let demo = Demo::start(&["-w", "3"]);
    let page = demo.get("/").text();
    let mut stats = demo.stats();
    let workers = stats["per_worker"].as_array_mut().unwrap();
    // The third is idle (it may have been serving this very snapshot's `/stats`).
    for (w, (request, for_ms)) in workers.iter_mut().zip([
        (Some("GET /stats"), Some(0)),
        (Some("GET /sleep?ms=5000"), Some(1530)),
        (None, None),
    ]) {
        w["state"] = if request.is_some() {
            "handling"
        } else {
            "idle"
        }
        .into();
        w["request"] = request.into();
        w["for_ms"] = for_ms.into();
    }
    let stats = stats.to_string();
    let server = support::start(
        support::config(2),
        move |req: &mut basehttp::Request| match req.path() {
            "/" => basehttp::Response::html(page.clone()),
            "/stats" => basehttp::Response::json(stats.clone()),
            _ => basehttp::Response::error(404),
        },
    );
    let url = format!("http://{}/", server.local_addr());
    let Some(dom) = dump_dom(&url, 1500) else {
        return;
    };
    let shown = durations(&dom);
    assert_eq!(shown.len(), 3, "worker cards in {dom}");
    // `<` comes escaped in the dumped DOM.
    assert_eq!(shown, ["for &lt; 1 ms", "for 1.5 s", ""], "{dom}");
}

/// Under a supervisor (`--processes 2`), `/stats` lists every process and the page shows
/// them in a table, marking the one that answered.
#[test]
fn the_page_shows_each_process_under_a_supervisor() {
    let demo = Demo::start(&["--processes", "2", "-w", "3"]);
    // Each process is listed once it has sent its first heartbeat, and each learns the list
    // with its next one: wait until both answering processes list both.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut complete = std::collections::BTreeSet::new();
    while complete.len() < 2 {
        let stats = demo.stats();
        let processes = stats["processes"].as_array().unwrap();
        let mine = stats["pid"].as_u64().unwrap();
        if processes.len() == 2 {
            assert!(
                processes.iter().any(|p| p["pid"].as_u64() == Some(mine)),
                "{stats}"
            );
            assert!(processes.iter().all(|p| p["threads"] == 3), "{stats}");
            complete.insert(mine);
        }
        assert!(Instant::now() < deadline, "{stats}");
        thread::sleep(Duration::from_millis(100));
    }
    let Some(dom) = dump_dom(&format!("http://{}/", demo.addr), 3000) else {
        return;
    };
    assert!(dom.contains("2 under a supervisor"), "{dom}");
    assert!(dom.contains("(this one)"), "{dom}");
    assert!(!dom.contains("id=\"processes-section\" hidden"), "{dom}");
}
