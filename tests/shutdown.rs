//! Graceful shutdown leaves nothing behind. This file holds a single test on purpose: it
//! counts the process's threads and file descriptors, which other tests running in parallel
//! in the same process would disturb.

mod support;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use support::{Client, basehttp_threads, config, connect, routes, start};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn shutdown_finishes_in_flight_requests_closes_the_rest_and_joins_every_thread() {
    assert!(basehttp_threads().is_empty());
    let fds_before = open_fds();

    let server = start(config(4), routes);
    let addr = server.local_addr();
    // Threads name themselves once running: wait for 4 workers, the listener, the poller,
    // and the run gate's monitor when fewer workers may run at once than there are.
    let expected = if server.config().active_workers < 4 {
        7
    } else {
        6
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while basehttp_threads().len() != expected {
        assert!(
            Instant::now() < deadline,
            "threads: {:?}",
            basehttp_threads()
        );
        thread::sleep(Duration::from_millis(5));
    }

    let mut idle = Client::new(addr);
    assert_eq!(idle.get("/hello").status, 200);
    let silent = connect(addr);
    let in_flight = thread::spawn(move || {
        let mut client = Client::new(addr);
        client.send(b"GET /sleep?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n");
        let resp = client.response(false);
        (resp, client.is_closed())
    });
    // Let the slow request reach its handler.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .stats()
        .worker_states
        .iter()
        .all(|s| *s != basehttp::WorkerState::Handling)
    {
        assert!(Instant::now() < deadline, "the slow request never started");
        thread::sleep(Duration::from_millis(5));
    }

    let started = Instant::now();
    assert!(server.shutdown(), "shutdown was not clean");
    let took = started.elapsed();

    let (resp, closed_after) = in_flight.join().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "slept");
    assert!(
        resp.closes(),
        "the in-flight response must announce the close"
    );
    assert!(closed_after);
    assert!(
        idle.is_closed(),
        "the idle keep-alive connection was left open"
    );
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still accepting after shutdown"
    );

    assert!(
        basehttp_threads().is_empty(),
        "threads left: {:?}",
        basehttp_threads()
    );
    drop(idle);
    let mut silent = silent;
    let _ = silent.write_all(b"x");
    drop(silent);
    assert_eq!(open_fds(), fds_before, "descriptors left open");
}
