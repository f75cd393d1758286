//! The pool's promises: idle connections and busy connections never starve waiting ones, the
//! full-queue policies behave as documented, and the stats tell the truth.

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use basehttp::{Config, Request, Response, WhenFull};
use support::{Client, config, connect, routes, start};

/// gunicorn #3518: idle keep-alive sockets and silent preconnect sockets held every thread.
/// Here 100 idle keep-alive connections and 20 silent ones sit on a pool of 4 workers: they
/// wait in the poller, no worker holds one, and a new connection is answered within a second.
#[test]
fn idle_connections_do_not_starve_a_new_one() {
    let mut c = config(4);
    c.keep_alive = Duration::from_secs(60);
    c.header_timeout = Duration::from_secs(60);
    let server = start(c, routes);
    let addr = server.local_addr();

    let mut idle: Vec<Client> = (0..100)
        .map(|_| {
            let mut client = Client::new(addr);
            assert_eq!(client.get("/hello").status, 200);
            client
        })
        .collect();
    let silent: Vec<_> = (0..20).map(|_| connect(addr)).collect();
    wait_for(|| server.stats().parked.idle == 120);
    let stats = server.stats();
    assert_eq!(stats.busy_workers, 0, "{:?}", stats.worker_states);
    assert_eq!(stats.parked.total(), 120, "{:?}", stats.parked);

    let started = Instant::now();
    let mut fresh = Client::new(addr);
    let resp = fresh.get("/hello");
    let waited = started.elapsed();
    assert_eq!(resp.body, b"Hello, World!");
    eprintln!("new connection behind 100 idle + 20 silent, 4 workers: answered in {waited:?}");
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");

    // The idle connections were handed back, not dropped: they still work.
    for client in idle.iter_mut().take(10) {
        assert_eq!(client.get("/hello").status, 200);
    }
    drop(silent);
}

/// Idle connections wait in the poller, not in workers, for their whole keep-alive: six of
/// them on two workers stay open and hold no worker, and a seventh client is answered at once.
#[test]
fn idle_connections_hold_no_worker_for_their_whole_keep_alive() {
    let mut c = config(2);
    c.keep_alive = Duration::from_secs(3);
    let server = start(c, routes);
    let addr = server.local_addr();
    let mut idle: Vec<Client> = (0..6)
        .map(|_| {
            let mut client = Client::new(addr);
            assert_eq!(client.get("/hello").status, 200);
            client
        })
        .collect();
    wait_for(|| server.stats().parked.idle == 6);
    assert_eq!(server.stats().busy_workers, 0);
    assert_eq!(Client::new(addr).get("/hello").status, 200);
    thread::sleep(Duration::from_millis(1500));
    for client in &mut idle {
        assert_eq!(
            client.get("/hello").status,
            200,
            "closed before its keep-alive"
        );
    }
}

/// Busy connections keep the workers busy while idle ones wait in the poller: each idle one is
/// still closed once its keep-alive ends, and not before.
#[test]
fn idle_connections_beside_busy_ones_are_closed_when_keep_alive_ends() {
    let mut c = config(2);
    c.keep_alive = Duration::from_millis(500);
    let server = start(c, routes);
    let addr = server.local_addr();
    let mut idle: Vec<Client> = (0..20)
        .map(|_| {
            let mut client = Client::new(addr);
            assert_eq!(client.get("/hello").status, 200);
            client
        })
        .collect();
    let idle_from = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut served = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // A fresh connection now and then: the server ends none of these early.
                    let mut client = Client::new(addr);
                    for _ in 0..50 {
                        assert_eq!(client.get("/hello").status, 200);
                        served += 1;
                    }
                }
                served
            })
        })
        .collect();
    let closed = idle
        .iter_mut()
        .filter_map(|c| c.is_closed().then(|| idle_from.elapsed()))
        .collect::<Vec<_>>();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served: u32 = busy.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        closed.len(),
        20,
        "{} of 20 idle connections closed",
        closed.len()
    );
    let last = closed.iter().max().unwrap();
    eprintln!("20 idle beside 4 busy connections ({served} requests): closed by {last:?}");
    assert!(
        *last < Duration::from_secs(3),
        "the last one closed after {last:?}"
    );
    assert!(
        closed.iter().all(|d| *d >= Duration::from_millis(400)),
        "{closed:?}"
    );
}

/// An idle connection is kept for the whole keep-alive period, then closed.
#[test]
fn idle_connection_is_kept_until_keep_alive_ends() {
    let mut c = config(2);
    c.keep_alive = Duration::from_millis(800);
    let server = start(c, routes);
    let mut client = Client::new(server.local_addr());
    assert_eq!(client.get("/hello").status, 200);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        client.get("/hello").status,
        200,
        "closed before keep-alive ended"
    );
    let idle_from = Instant::now();
    assert!(client.is_closed());
    let closed_after = idle_from.elapsed();
    assert!(
        closed_after > Duration::from_millis(500) && closed_after < Duration::from_secs(5),
        "closed after {closed_after:?}"
    );
}

/// 32 connections send requests back to back on 4 workers: every connection gets its first
/// response within a second of its first request, and all keep being served.
#[test]
fn busy_connections_take_turns() {
    const CONNS: usize = 32;
    let mut c = config(4);
    // Each connection sends thousands of requests; the per-connection cap is not under test.
    c.max_requests_per_connection = u32::MAX;
    let server = start(c, routes);
    let addr = server.local_addr();
    let barrier = Arc::new(Barrier::new(CONNS));
    let run_for = Duration::from_secs(2);
    let threads: Vec<_> = (0..CONNS)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut client = Client::new(addr);
                barrier.wait();
                let start = Instant::now();
                let first = client.get("/hello");
                let first_latency = start.elapsed();
                assert_eq!(first.body, b"Hello, World!");
                let mut count = 1u32;
                while start.elapsed() < run_for {
                    assert_eq!(client.get("/hello").status, 200);
                    count += 1;
                }
                (first_latency, count)
            })
        })
        .collect();
    let results: Vec<(Duration, u32)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let worst = results.iter().map(|r| r.0).max().unwrap();
    let fewest = results.iter().map(|r| r.1).min().unwrap();
    eprintln!(
        "32 busy connections on 4 workers: worst first response {worst:?}, fewest responses {fewest}"
    );
    assert!(
        worst < Duration::from_secs(1),
        "worst first response {worst:?}"
    );
    assert!(fewest > 1, "a connection got only its first response");
    // Between requests each connection waited in the poller, not in a worker.
    assert!(server.stats().parks >= 32 * u64::from(fewest - 1));
}

/// A client pipelining without pause still lets another connection in.
#[test]
fn a_pipelining_client_does_not_hold_the_only_worker() {
    let mut c = config(1);
    c.max_requests_per_connection = u32::MAX;
    let server = start(c, routes);
    let addr = server.local_addr();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut s = connect(addr);
            let burst = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".repeat(64);
            let mut sink = vec![0u8; 1 << 16];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if s.write_all(&burst).is_err() {
                    break;
                }
                let _ = s.read(&mut sink);
            }
        })
    };
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(Client::new(addr).get("/hello").status, 200);
    let waited = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().unwrap();
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");
}

/// A handler that holds its worker until told to go on.
fn gate() -> (
    impl Fn(&mut Request) -> Response + Send + Sync + 'static,
    Arc<Barrier>,
) {
    let release = Arc::new(Barrier::new(2));
    let held = release.clone();
    let handler = move |req: &mut Request| {
        if req.path() == "/hold" {
            held.wait();
        }
        Response::text("done")
    };
    (handler, release)
}

/// Reject: with the worker busy and the queue full, a new connection gets an immediate 503
/// with `Retry-After` and `Connection: close`.
#[test]
fn reject_policy_answers_503_when_the_queue_is_full() {
    let mut c = config(1);
    c.queue = 1;
    c.when_full = WhenFull::Reject;
    let (handler, release) = gate();
    let server = start(c, handler);
    let addr = server.local_addr();

    let mut busy = Client::new(addr);
    busy.send(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(|| server.stats().busy_workers == 1);
    let mut queued = Client::new(addr);
    queued.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(|| server.stats().queue_depth == 1);

    let mut rejected = Client::new(addr);
    rejected.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let resp = rejected.response(false);
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("retry-after"), Some("1"));
    assert!(resp.closes());
    assert!(rejected.is_closed());
    assert_eq!(server.stats().rejected, 1);

    release.wait();
    assert_eq!(busy.response(false).text(), "done");
    assert_eq!(queued.response(false).text(), "done");
}

/// Block: the same overload makes connections wait, and all are answered once the worker is
/// free; nothing is rejected.
#[test]
fn block_policy_makes_connections_wait_then_serves_them() {
    let mut c = config(1);
    c.queue = 1;
    let (handler, release) = gate();
    let server = start(c, handler);
    let addr = server.local_addr();

    let mut busy = Client::new(addr);
    busy.send(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(|| server.stats().busy_workers == 1);
    let mut waiting: Vec<Client> = (0..5)
        .map(|_| {
            let mut client = Client::new(addr);
            client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            client
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    assert!(server.stats().queue_depth <= 1);
    release.wait();
    assert_eq!(busy.response(false).text(), "done");
    for client in &mut waiting {
        assert_eq!(client.response(false).text(), "done");
    }
    assert_eq!(server.stats().rejected, 0);
}

/// The stats count what happened.
#[test]
fn stats_count_connections_requests_and_bytes() {
    let server = start(config(2), routes);
    let addr = server.local_addr();
    let before = server.stats();
    assert_eq!(before.workers, 2);
    assert_eq!(before.queue_capacity, Config::default().queue);
    let mut a = Client::new(addr);
    for _ in 0..3 {
        assert_eq!(a.get("/hello").status, 200);
    }
    let mut b = Client::new(addr);
    assert_eq!(b.get("/hello").status, 200);
    let stats = server.stats();
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.served, 4);
    assert_eq!(stats.served_per_worker.iter().sum::<u64>(), 4);
    assert_eq!(stats.active_connections, 2);
    let request_len = "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n".len() as u64;
    assert_eq!(stats.bytes_in, 4 * request_len);
    assert!(stats.bytes_out > 4 * 13);
    drop(a);
    drop(b);
    wait_for(|| server.stats().active_connections == 0);
}

/// A panic in the handler costs one 500; the only worker lives on.
#[test]
fn a_panicking_handler_costs_one_500_not_the_worker() {
    let server = start(config(1), routes);
    let addr = server.local_addr();
    let resp = Client::new(addr).get("/panic");
    assert_eq!(resp.status, 500);
    assert!(resp.closes());
    for _ in 0..5 {
        assert_eq!(Client::new(addr).get("/hello").status, 200);
    }
}

fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "condition never became true");
        thread::sleep(Duration::from_millis(5));
    }
}

/// A handler that outlives the grace period does not hang shutdown forever.
#[test]
fn shutdown_gives_up_on_a_handler_past_the_grace_period() {
    let mut c = config(1);
    c.shutdown_grace = Duration::from_millis(200);
    let server = start(c, routes);
    let mut slow = Client::new(server.local_addr());
    slow.send(b"GET /sleep?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(|| server.stats().busy_workers == 1);
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    assert!(
        !server.shutdown(),
        "a handler still running must make shutdown unclean"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A client that reads a closing response but never closes its end does not pin the worker
/// for the linger time: the lingering connection gives way like an idle one.
#[test]
fn a_lingering_close_does_not_hold_the_only_worker() {
    let mut c = config(1);
    c.linger_time = Duration::from_secs(10);
    let server = start(c, routes);
    let addr = server.local_addr();
    let mut closing = Client::new(addr);
    closing.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let resp = closing.response(false);
    assert!(resp.closes());
    // `closing` stays open; another client must still be served at once.
    let started = Instant::now();
    assert_eq!(Client::new(addr).get("/hello").status, 200);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "waited {waited:?} behind a lingering close"
    );
    assert!(closing.is_closed());
}

/// The run gate lends a blocked worker's place: with one place and eight workers, eight
/// handlers that sleep 500 ms run side by side (about 0.5 s in all), not one after another
/// (4 s).
#[test]
fn blocking_handlers_still_use_the_whole_pool_behind_the_gate() {
    let mut c = config(8);
    c.active_workers = 1;
    let server = start(c, routes);
    let addr = server.local_addr();
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                let mut client = Client::new(addr);
                client.get("/sleep?ms=500").text()
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), "slept");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "8 sleeps took {took:?}");
    let busy_workers = server
        .stats()
        .served_per_worker
        .iter()
        .filter(|&&n| n > 0)
        .count();
    assert!(busy_workers >= 4, "only {busy_workers} workers served");
}

/// Fast handlers stay on the workers that hold a place: with one place, a stream of quick
/// requests is served by one worker at a time while the other seven stay parked.
#[test]
fn quick_handlers_run_on_the_places_only() {
    let mut c = config(8);
    c.active_workers = 1;
    // Long enough that a slow moment on a shared machine never lends the place.
    c.lend_after = Duration::from_secs(5);
    let server = start(c, routes);
    let mut client = Client::new(server.local_addr());
    for _ in 0..200 {
        assert_eq!(client.get("/hello").status, 200);
    }
    let serving = server
        .stats()
        .served_per_worker
        .iter()
        .filter(|&&n| n > 0)
        .count();
    assert_eq!(serving, 1, "{:?}", server.stats().served_per_worker);
}

/// Four kept-alive clients sending `/sleep?ms=20` back to back; each reconnects when the
/// server closes its connection, as a busy client does.
struct Hammers {
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Hammers {
    fn start(addr: std::net::SocketAddr) -> Hammers {
        use std::sync::atomic::Ordering::Relaxed;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..4)
            .map(|_| {
                let stop = stop.clone();
                thread::spawn(move || {
                    while !stop.load(Relaxed) {
                        let mut c = Client::new(addr);
                        while !stop.load(Relaxed) {
                            c.send(b"GET /sleep?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n");
                            match support::read_response(&mut c.reader, false) {
                                Ok(r) if r.status == 200 && !r.closes() => {}
                                _ => break,
                            }
                        }
                    }
                })
            })
            .collect();
        Hammers { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// Kept-alive clients that send back to back, handed back to a full queue, must not keep
/// newcomers out. With `queue = 2` and 2 workers, 4 clients keep the pool busy with a 20 ms
/// handler; each would need 1000 requests (20 s) to reach the per-connection cap. While the
/// listener waits on the full queue, workers close connections after their response, so each
/// newcomer is let in within a few turns.
#[test]
fn block_policy_lets_newcomers_in_past_busy_kept_alive_clients() {
    let mut c = config(2);
    c.queue = 2;
    let server = start(c, routes);
    let addr = server.local_addr();
    let hammers = Hammers::start(addr);
    thread::sleep(Duration::from_millis(200));
    for n in 0..4 {
        let started = Instant::now();
        let resp = support::exchange(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(resp.text(), "Hello, World!");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "newcomer {n} waited {:?}",
            started.elapsed()
        );
    }
    hammers.stop();
}

/// The same under `Reject`: a newcomer that retries after its `503` gets in within a few
/// tries, instead of being turned away for as long as the kept-alive clients keep sending.
#[test]
fn reject_policy_lets_a_retrying_newcomer_in_past_busy_kept_alive_clients() {
    let mut c = config(2);
    c.queue = 2;
    c.when_full = WhenFull::Reject;
    let server = start(c, routes);
    let addr = server.local_addr();
    let hammers = Hammers::start(addr);
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let resp = support::exchange(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        if resp.status == 200 {
            break;
        }
        assert_eq!(resp.status, 503);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still turned away after {tries} tries in {:?}",
            started.elapsed()
        );
        thread::sleep(Duration::from_millis(20));
    }
    hammers.stop();
}

/// A worker that puts a connection back on the run queue (bytes came for it while the worker
/// held it) and then loses its place at the gate (the monitor lent it while the worker waited
/// on a client in a streamed echo) must not strand it: the worker that waits on the poller is
/// woken to take it. Before the fix, the next request on such a connection hung about one
/// time in a few hundred.
#[test]
fn a_connection_requeued_by_a_worker_that_loses_its_place_is_served() {
    use basehttp::{BodyPolicy, Server};
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .body_policy(|head| match head.path() {
            "/echo-stream" => BodyPolicy::Stream,
            _ => BodyPolicy::ReceiveFirst,
        })
        .spawn(|req: &mut Request| match req.path() {
            "/echo-stream" => Response::echo_body(),
            _ => routes(req),
        })
        .unwrap();
    for i in 0..1000 {
        let mut c = Client::new(server.local_addr());
        c.send(
            b"POST /echo-stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\
              Expect: 100-continue\r\n\r\n",
        );
        let interim = support::read_one(&mut c.reader, false).expect("100 Continue");
        assert_eq!(interim.status, 100);
        c.send(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        assert_eq!(c.response(false).text(), "hello world");
        assert_eq!(c.get("/hello").text(), "Hello, World!", "round {i}");
    }
}

/// Past `max_connections` a newcomer is refused clearly (`503`, `Retry-After`, closed) while
/// the connections already open are served as before; once one closes, a newcomer gets in.
#[test]
fn past_max_connections_a_newcomer_gets_a_clear_503() {
    let mut c = config(2);
    c.max_connections = 2;
    let server = start(c, routes);
    let addr = server.local_addr();
    let mut first = Client::new(addr);
    let mut second = Client::new(addr);
    assert_eq!(first.get("/hello").status, 200);
    assert_eq!(second.get("/hello").status, 200);
    let mut third = Client::new(addr);
    third.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    let refused = third.response(false);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        refused.text().contains("too many open connections"),
        "{}",
        refused.text()
    );
    assert!(refused.closes() && third.is_closed());
    assert_eq!(
        first.get("/hello").status,
        200,
        "the open ones are still served"
    );
    assert_eq!(server.stats().rejected, 1);
    drop(second);
    wait_for(|| server.stats().active_connections == 1);
    assert_eq!(Client::new(addr).get("/hello").status, 200);
}

/// At shutdown a busy kept-alive client loses no request to the race between its next request
/// and the close: every request it sends is answered, the last with `Connection: close`, and
/// the shutdown stays clean.
#[test]
fn shutdown_answers_a_busy_kept_alive_client_to_the_last_request() {
    let server = start(config(2), routes);
    let addr = server.local_addr();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                let mut client = Client::new(addr);
                let mut answered = 0u32;
                loop {
                    client.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
                    let resp = support::read_response(&mut client.reader, false)
                        .unwrap_or_else(|e| panic!("request {} lost: {e}", answered + 1));
                    assert_eq!(resp.text(), "Hello, World!");
                    answered += 1;
                    if resp.closes() {
                        assert!(client.is_closed());
                        return answered;
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    assert!(server.shutdown(), "shutdown was not clean");
    for client in clients {
        assert!(client.join().unwrap() > 1);
    }
}

/// At shutdown an idle kept-alive connection is kept a quiet moment (about a second): a
/// request its client sends meanwhile is answered, with `Connection: close`.
#[test]
fn shutdown_answers_a_request_that_comes_on_an_idle_connection_soon_after() {
    let server = start(config(2), routes);
    let addr = server.local_addr();
    let mut idle = Client::new(addr);
    assert_eq!(idle.get("/hello").status, 200);
    let stopping = thread::spawn(move || server.shutdown());
    thread::sleep(Duration::from_millis(300));
    let resp = idle.get("/hello");
    assert_eq!((resp.status, resp.closes()), (200, true));
    assert!(idle.is_closed());
    assert!(stopping.join().unwrap());
}

/// Every kind of client at once, for a few seconds: new connections one after another (each
/// one request, then kept), kept-alive clients pausing between requests, and handlers that
/// block (so places are lent and the spare places open and close). A request that waited for
/// a deadline (a lost wake-up: the keep-alive or the header timeout, seconds) would take far
/// longer than the bound, which no request comes near.
#[test]
fn mixed_clients_never_wait_for_a_deadline() {
    let server = start(Config::default(), routes);
    let addr = server.local_addr();
    let until = Instant::now() + Duration::from_secs(3);
    let bound = Duration::from_secs(2);
    // One timed request; a connection the server ends (at its request limit) is replaced.
    let timed = move |client: &mut Client, path: &str| {
        let started = Instant::now();
        let resp = client.get(path);
        let took = started.elapsed();
        assert_eq!(resp.status, 200);
        assert!(took < bound, "{path} took {took:?}");
        if resp.closes() {
            *client = Client::new(addr);
        }
    };
    let mut threads = Vec::new();
    // New connections, one request each, kept open (the last 200: client and server share
    // this process's descriptors).
    threads.push(thread::spawn(move || {
        let mut kept = std::collections::VecDeque::new();
        let mut n = 0;
        while Instant::now() < until {
            let mut client = Client::new(addr);
            timed(&mut client, "/hello");
            kept.push_back(client);
            if kept.len() > 200 {
                kept.pop_front();
            }
            n += 1;
        }
        n
    }));
    for i in 0..4u64 {
        // Kept-alive clients with pauses of 0 to 3 ms.
        threads.push(thread::spawn(move || {
            let mut client = Client::new(addr);
            let mut n = 0;
            while Instant::now() < until {
                timed(&mut client, "/hello");
                thread::sleep(Duration::from_micros((n * 997 + i * 331) % 3000));
                n += 1;
            }
            n as usize
        }));
        // Blocking handlers back to back.
        threads.push(thread::spawn(move || {
            let mut client = Client::new(addr);
            let mut n = 0;
            while Instant::now() < until {
                timed(&mut client, "/sleep?ms=3");
                n += 1;
            }
            n
        }));
    }
    let served: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(served > 100, "{served}");
}
