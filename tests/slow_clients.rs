//! Slow and idle clients hold no worker (default settings, 4 workers): an idle kept-alive
//! connection lives its whole `keep_alive` beside a hundred others.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use basehttp::CloseReason;
use support::{Client, config, routes, start};

/// Beside 100 other idle kept-alive connections on 4 workers, an idle connection is still
/// open after 4 s (of the default 5 s keep-alive) and a request on it is answered; before, an
/// idle connection lived only 1 s while others waited.
#[test]
fn an_idle_connection_lives_its_keep_alive_beside_a_hundred_others() {
    let server = start(config(4), routes);
    let addr = server.local_addr();
    let mut others: Vec<Client> = (0..100)
        .map(|_| {
            let mut client = Client::new(addr);
            assert_eq!(client.get("/hello").status, 200);
            client
        })
        .collect();
    let mut probe = Client::new(addr);
    assert_eq!(probe.get("/hello").status, 200);
    let idle_from = Instant::now();
    thread::sleep(Duration::from_secs(4));
    let started = Instant::now();
    let resp = probe.get("/hello");
    assert_eq!(resp.body, b"Hello, World!");
    let waited = started.elapsed();
    eprintln!(
        "a request on a connection idle {:?} beside 100 others: answered in {waited:?}",
        started - idle_from
    );
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");
    // No connection was closed for being idle beside the others: only a keep-alive that ran
    // out (the first of the others have been idle for longer than 5 s by now).
    let closes = server.stats().closes;
    for (reason, n) in closes {
        if reason != CloseReason::KeepAliveTimeout {
            assert_eq!(n, 0, "{reason:?}");
        }
    }
    // The most recent of the others is still open and served.
    assert_eq!(others.last_mut().unwrap().get("/hello").status, 200);
}
