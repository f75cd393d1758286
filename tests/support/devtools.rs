//! Headless Chromium driven through the DevTools protocol (a WebSocket per page): open a tab,
//! evaluate JavaScript in it, wait for a condition. The browser is killed on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::TempDir;
use super::chromium;

/// A headless Chromium with its DevTools port.
pub struct Browser {
    child: Child,
    port: u16,
    _profile: TempDir,
}

/// One tab.
pub struct Page {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium, or `None` (with a message) where it is missing outside CI.
    pub fn start(what: &str) -> Option<Browser> {
        let binary = chromium::find_or_skip(what)?;
        let profile = TempDir::new("devtools");
        let mut child = Command::new(binary)
            .args(chromium::FLAGS)
            .args(["--remote-debugging-port=0", "--remote-allow-origins=*"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its helpers (zygote, renderers, GPU) in its group, killed with it on drop.
            .process_group(0)
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("DevTools listening on ws://127.0.0.1:") {
                    let port: u16 = rest.split('/').next().unwrap().parse().unwrap();
                    let _ = tx.send(port);
                }
            }
        });
        let mut browser = Browser {
            child,
            port: 0,
            _profile: profile,
        };
        // Killed (as it drops) if it never says.
        browser.port = rx
            .recv_timeout(chromium::BROWSER_TIMEOUT)
            .expect("chromium gives its DevTools port");
        Some(browser)
    }

    /// Opens `url` in a new tab.
    pub fn open(&self, url: &str) -> Page {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(chromium::BROWSER_TIMEOUT)).unwrap();
        write!(
            s,
            "PUT /json/new?{url} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        )
        .unwrap();
        // Its HTTP server keeps the connection open: read the head, then Content-Length.
        let mut reader = BufReader::new(s);
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).unwrap() > 0,
                "no answer to /json/new"
            );
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let target: Value = serde_json::from_slice(&body).expect("a target as JSON");
        let ws_url = target["webSocketDebuggerUrl"].as_str().expect("a page URL");
        let (ws, _) = tungstenite::connect(ws_url).expect("the page's DevTools socket");
        Page { ws, next_id: 1 }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Page {
    /// The value of `expression` in the page (`null` while it throws, as during a load).
    pub fn eval(&mut self, expression: &str) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let call = json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": true},
        });
        self.ws.send(Message::text(call.to_string())).unwrap();
        loop {
            let message = self.ws.read().expect("a DevTools message");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["id"] == id {
                return value["result"]["result"]["value"].clone();
            }
        }
    }

    /// Waits until `condition` is true in the page, for `within` at most; how long it took.
    pub fn wait_for(&mut self, condition: &str, within: Duration) -> Duration {
        let start = Instant::now();
        let guarded = format!(
            "(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"
        );
        loop {
            if self.eval(&guarded) == Value::Bool(true) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "not within {within:?}: {condition}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
