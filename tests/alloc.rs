//! The hot path allocates nothing: a `hello` request on a kept-alive connection costs zero heap
//! allocations on the worker thread, counted by a global allocator. (The handler marks its
//! thread, so the client's allocations in this process are not counted.)

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use basehttp::{Request, Response};

struct Counting;

static WORKER_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if IS_WORKER.try_with(Cell::get).unwrap_or(false) {
            WORKER_ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: forwards the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn hello(req: &mut Request) -> Response {
    IS_WORKER.with(|w| w.set(true));
    if req.path() == "/owned" {
        // Allocates one String: proves the counter sees the worker's allocations.
        return Response::text(String::from("Hello, World!"));
    }
    Response::text("Hello, World!")
}

/// Sends `n` requests one at a time on `s` and reads each response fully.
fn round_trips(s: &mut std::net::TcpStream, n: usize, request: &[u8], response_len: usize) {
    let mut buf = [0u8; 512];
    for _ in 0..n {
        s.write_all(request).unwrap();
        let mut got = 0;
        while got < response_len {
            let r = s.read(&mut buf[got..]).unwrap();
            assert!(r > 0, "server closed");
            got += r;
        }
        assert_eq!(
            got,
            response_len,
            "{:?}",
            String::from_utf8_lossy(&buf[..got])
        );
        assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
}

#[test]
fn a_keep_alive_hello_request_allocates_nothing_on_the_worker() {
    let mut config = support::config(1);
    config.max_requests_per_connection = u32::MAX;
    let server = support::start(config, hello);
    let mut s = support::connect(server.local_addr());
    let request = b"GET /hello HTTP/1.1\r\nHost: x\r\nUser-Agent: alloc-test\r\n\r\n";
    // Learn the response length, and warm up (the first request marks the worker thread).
    s.write_all(request).unwrap();
    let mut buf = [0u8; 512];
    let mut len = 0;
    while !buf[..len].ends_with(b"Hello, World!") {
        len += s.read(&mut buf[len..]).unwrap();
    }
    round_trips(&mut s, 100, request, len);

    let before = WORKER_ALLOCS.load(Relaxed);
    round_trips(&mut s, 1000, request, len);
    let allocs = WORKER_ALLOCS.load(Relaxed) - before;
    assert_eq!(allocs, 0, "{allocs} allocations for 1000 requests");

    // Pipelined bursts take the same path: still nothing.
    let burst = request.repeat(16);
    let before = WORKER_ALLOCS.load(Relaxed);
    for _ in 0..50 {
        s.write_all(&burst).unwrap();
        let mut got = 0;
        let mut big = vec![0u8; len * 16];
        while got < len * 16 {
            got += s.read(&mut big[got..]).unwrap();
        }
    }
    let allocs = WORKER_ALLOCS.load(Relaxed) - before;
    assert_eq!(allocs, 0, "{allocs} allocations for 800 pipelined requests");

    // The counter is live: a handler that allocates a String is seen.
    let before = WORKER_ALLOCS.load(Relaxed);
    round_trips(
        &mut s,
        10,
        b"GET /owned HTTP/1.1\r\nHost: x\r\nUser-Agent: alloc-test\r\n\r\n",
        len,
    );
    assert!(WORKER_ALLOCS.load(Relaxed) - before >= 10);
}
