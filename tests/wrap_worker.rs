//! `Server::wrap_worker`: each worker's loop runs inside the wrapper, so what the wrapper sets
//! up on the thread (a thread-local here; an interpreter attachment in the Python crate) is
//! there for every request that worker serves, and its tear-down runs after the last one.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use basehttp::{Request, Response, Server};

thread_local!(static TAG: Cell<usize> = const { Cell::new(0) });

fn get(addr: std::net::SocketAddr) -> String {
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    body.to_owned()
}

#[test]
fn a_thread_local_set_in_the_wrapper_is_seen_on_every_request_of_its_worker() {
    let entered = Arc::new(AtomicUsize::new(0));
    let left = Arc::new(AtomicUsize::new(0));
    let (e, l) = (entered.clone(), left.clone());
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .workers(3)
        .wrap_worker(move |run| {
            // A tag unique to this thread, set once for its life.
            let tag = e.fetch_add(1, Ordering::SeqCst) + 1;
            TAG.set(tag);
            run();
            // A second call must not run the loop again.
            run();
            assert_eq!(TAG.get(), tag);
            l.fetch_add(1, Ordering::SeqCst);
        })
        .spawn(|req: &mut Request| Response::text(format!("{} {}", req.worker(), TAG.get())))
        .unwrap();
    let addr = server.local_addr();
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for _ in 0..60 {
        let body = get(addr);
        let (worker, tag) = body.split_once(' ').unwrap();
        let (worker, tag): (usize, usize) = (worker.parse().unwrap(), tag.parse().unwrap());
        assert_ne!(tag, 0, "the handler ran outside the wrapper");
        // The same worker always sees the same tag: the wrapper ran once per thread.
        assert_eq!(*seen.entry(worker).or_insert(tag), tag, "worker {worker}");
    }
    assert_eq!(entered.load(Ordering::SeqCst), 3);
    assert_eq!(left.load(Ordering::SeqCst), 0);
    assert!(server.shutdown());
    // Every wrapper returned (its tear-down ran) by the time shutdown did.
    assert_eq!(left.load(Ordering::SeqCst), 3);
}

#[test]
fn without_a_wrapper_nothing_is_set() {
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .spawn(|_: &mut Request| Response::text(TAG.get().to_string()))
        .unwrap();
    assert_eq!(get(server.local_addr()), "0");
    assert!(server.shutdown());
}
