//! `basehttp --reload` in a real browser (issue 21): headless Chromium, driven through the
//! DevTools protocol, shows a page; a saved stylesheet is swapped in place (no navigation: a
//! value the page's script set survives), a saved page reloads the tab, each within 1 s; ten
//! tabs share one event stream (a SharedWorker), and an eleventh still loads at once.

mod support;

use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::TempDir;
use support::devtools::Browser;

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");

/// `basehttp ADDR --reload -d DIR [ARGS]`, its address and its stderr; killed on drop.
struct Server {
    child: Child,
    url: String,
    /// `host:port`.
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &TempDir) -> Server {
        Server::start_on(dir, "127.0.0.1:0")
    }

    fn start_on(dir: &TempDir, addr: &str) -> Server {
        Server::start_with(dir, addr, &[])
    }

    fn start_with(dir: &TempDir, addr: &str, args: &[&str]) -> Server {
        let running = support::run_to_banner(
            Command::new(BIN)
                .args([addr, "--reload"])
                .args(args)
                .arg("-d")
                .arg(dir.path())
                .env("RUST_LOG", "info"),
        );
        assert!(
            running.banner.contains(", live reload on\n"),
            "{}",
            running.banner
        );
        Server {
            child: running.child,
            url: format!("http://{}/", running.addr),
            addr: running.addr.to_string(),
            log: running.stderr,
        }
    }

    fn count(&self, text: &str) -> usize {
        self.log.lock().unwrap().matches(text).count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn site() -> TempDir {
    let dir = TempDir::new("reload");
    dir.write(
        "index.html",
        "<!DOCTYPE html><html><head><link rel=stylesheet href=/style.css></head>\
         <body><h1 id=t>v1</h1></body></html>\n",
    );
    dir.write("style.css", "h1 { color: rgb(255, 0, 0) }\n");
    dir
}

/// The liveness bound of a change reaching a tab: generous (the times measured are printed,
/// and BENCHMARKS.md reports them); a broken reload never comes, and an eleventh tab behind
/// six held connections never loads.
const WITHIN: Duration = Duration::from_secs(10);

#[test]
fn stylesheets_swap_in_place_and_pages_reload_in_chromium() {
    let dir = site();
    let server = Server::start(&dir);
    let Some(browser) = Browser::start("the live reload test") else {
        return;
    };
    let mut page = browser.open(&server.url);
    page.wait_for(
        "document.getElementById('t').textContent === 'v1'",
        Duration::from_secs(30),
    );
    // The page's stream is open once the server logged it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.count("GET /__basehttp/events") == 0 {
        assert!(
            Instant::now() < deadline,
            "no stream:\n{}",
            server.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    page.eval("window.marker = 42");
    page.wait_for(
        "getComputedStyle(document.getElementById('t')).color === 'rgb(255, 0, 0)'",
        Duration::from_secs(5),
    );

    dir.write("style.css", "h1 { color: rgb(0, 128, 0) }\n");
    let css = page.wait_for(
        "getComputedStyle(document.getElementById('t')).color === 'rgb(0, 128, 0)'",
        WITHIN,
    );
    assert_eq!(
        page.eval("window.marker"),
        42,
        "the stylesheet was swapped, no navigation"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('link[rel=stylesheet]').length"),
        1,
        "the old stylesheet was removed once the new one loaded"
    );

    dir.write(
        "index.html",
        "<!DOCTYPE html><html><head><link rel=stylesheet href=/style.css></head>\
         <body><h1 id=t>v2</h1></body></html>\n",
    );
    let html = page.wait_for("document.getElementById('t').textContent === 'v2'", WITHIN);
    assert_eq!(
        page.eval("window.marker === undefined"),
        true,
        "the tab reloaded"
    );
    println!("save to new style: {css:?}; save to new page: {html:?}");
}

/// Ten tabs of the page share one stream (the SharedWorker's), and an eleventh tab loads
/// (within a second, as measured; the test's bound is generous): no tab's stream takes one of the browser's six connections per origin
/// from a page load.
#[test]
fn ten_tabs_share_one_stream_and_an_eleventh_loads_at_once() {
    let dir = site();
    let server = Server::start(&dir);
    let Some(browser) = Browser::start("the live reload tabs test") else {
        return;
    };
    let mut tabs = Vec::new();
    for _ in 0..10 {
        let mut tab = browser.open(&server.url);
        tab.wait_for(
            "document.getElementById('t').textContent === 'v1'",
            Duration::from_secs(30),
        );
        tabs.push(tab);
    }
    let start = Instant::now();
    let mut eleventh = browser.open(&server.url);
    eleventh.wait_for("document.getElementById('t').textContent === 'v1'", WITHIN);
    println!("the eleventh tab loaded in {:?}", start.elapsed());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        server.count("GET /__basehttp/events"),
        1,
        "one stream for every tab:\n{}",
        server.log.lock().unwrap()
    );
    // And every tab follows a save.
    dir.write("style.css", "h1 { color: rgb(0, 0, 255) }\n");
    for tab in tabs.iter_mut().chain([&mut eleventh]) {
        tab.wait_for(
            "getComputedStyle(document.getElementById('t')).color === 'rgb(0, 0, 255)'",
            WITHIN,
        );
    }
}

/// 50 open event streams on a server of 4 workers: a plain request is answered beside them,
/// and Ctrl-C stops the server within a second (streams close at once, they are not waited
/// for through the shutdown grace).
#[test]
fn fifty_open_streams_and_ctrl_c_stops_within_a_second() {
    use std::io::{Read, Write};
    let dir = site();
    let mut server = Server::start_with(&dir, "127.0.0.1:0", &["-w", "4", "--quiet"]);
    let addr = server.addr.clone();
    let streams: Vec<std::net::TcpStream> = (0..50)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET /__basehttp/events HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut first = [0u8; 64];
            let n = s.read(&mut first).unwrap();
            assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200 "));
            s
        })
        .collect();
    let mut plain = std::net::TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).unwrap();
    assert!(answer.ends_with("rgb(255, 0, 0) }\n"), "{answer}");
    // Closed, as a browser closes it (the server lingers on a closing connection until its
    // client closes, up to linger_time, shutdown or not).
    drop(plain);
    let began = Instant::now();
    let ok = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(began.elapsed() < Duration::from_secs(10), "did not stop");
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = began.elapsed();
    assert!(status.success(), "{status}");
    // Below the 5 s grace a stream left open would hold the stop for.
    println!("Ctrl-C took {took:?}");
    assert!(took < Duration::from_secs(4), "Ctrl-C took {took:?}");
    drop(streams);
}

/// A tab whose server went away waits (no reload while nothing answers), and reloads once a
/// new server answers on the same address: its stream comes back.
#[test]
fn a_tab_reloads_once_a_restarted_server_answers() {
    let dir = site();
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let server = Server::start_on(&dir, &addr);
    let Some(browser) = Browser::start("the live reload restart test") else {
        return;
    };
    let mut page = browser.open(&server.url);
    page.wait_for(
        "document.getElementById('t').textContent === 'v1'",
        Duration::from_secs(30),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.count("GET /__basehttp/events") == 0 {
        assert!(Instant::now() < deadline, "no stream");
        std::thread::sleep(Duration::from_millis(20));
    }
    page.eval("window.marker = 7");
    drop(server);
    // Down for a while: the page stays as it is.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        page.eval("window.marker"),
        7,
        "no reload while nothing answers"
    );
    let _again = Server::start_on(&dir, &addr);
    let took = page.wait_for(
        "window.marker === undefined && document.getElementById('t').textContent === 'v1'",
        WITHIN,
    );
    println!("reloaded {took:?} after the new server started");
}

/// Under `--processes 2` one watcher, the supervisor's, tells both workers: every open
/// stream, whichever worker holds it, gets the event of a save.
#[test]
fn under_processes_the_supervisor_s_watcher_tells_every_worker() {
    use std::io::{Read, Write};
    let dir = site();
    let mut server = Server::start_with(&dir, "127.0.0.1:0", &["--processes", "2", "--quiet"]);
    let (addr, log) = (server.addr.clone(), server.log.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.lock().unwrap().matches(" is ready").count() < 2 {
        assert!(Instant::now() < deadline, "{}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut streams: Vec<std::net::TcpStream> = (0..8)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET /__basehttp/events HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    dir.write("style.css", "h1 { color: rgb(1, 2, 3) }\n");
    for s in &mut streams {
        let mut got = String::new();
        let mut buf = [0u8; 1024];
        while !got.contains("data: /style.css") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed: {got:?}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(got.contains("event: css"), "{got:?}");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
