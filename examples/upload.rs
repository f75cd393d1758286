//! Streaming request bodies and responses, a background server, and its stats.
//!
//! `cargo run --example upload`, then for instance:
//!
//! ```text
//! curl -T big.iso http://127.0.0.1:8000/count      # counts the bytes without storing them
//! curl http://127.0.0.1:8000/countdown              # a chunked response, one line a second
//! curl http://127.0.0.1:8000/stats
//! ```

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use basehttp::{BodyPolicy, Request, Response, Server};

/// Yields `3\n`, `2\n`, `1\n`, `liftoff\n`, one a second.
struct Countdown(u32);

impl Read for Countdown {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let line = match self.0 {
            0 => return Ok(0),
            1 => "liftoff\n".to_string(),
            n => format!("{}\n", n - 1),
        };
        if self.0 < 4 {
            std::thread::sleep(Duration::from_secs(1));
        }
        self.0 -= 1;
        let n = line.len().min(buf.len());
        buf[..n].copy_from_slice(&line.as_bytes()[..n]);
        Ok(n)
    }
}

fn main() -> io::Result<()> {
    let stats_slot: Arc<std::sync::OnceLock<basehttp::ServerHandle>> = Arc::default();
    let stats_view = stats_slot.clone();
    // `/count` reads its body as it arrives (nothing stored); every other body is received
    // first, the default.
    let handle = Server::bind("127.0.0.1:8000")?
        .body_policy(|head| match head.path() {
            "/count" => BodyPolicy::Stream,
            _ => BodyPolicy::ReceiveFirst,
        })
        .spawn(move |req: &mut Request| match (req.method(), req.path()) {
            ("PUT" | "POST", "/count") => match io::copy(req.body(), &mut io::sink()) {
                Ok(n) => Response::text(format!("{n} bytes\n")),
                Err(e) => Response::text(format!("{e}\n")).with_status(400),
            },
            ("GET", "/countdown") => Response::reader(Countdown(4)),
            ("GET", "/stats") => match stats_view.get() {
                Some(server) => Response::text(format!("{:#?}\n", server.stats())),
                None => Response::error(503),
            },
            _ => Response::error(404),
        })?;
    println!("Listening on http://{}/", handle.local_addr());
    let _ = stats_slot.set(handle);
    loop {
        std::thread::park();
    }
}
