//! A handler that outlives the shutdown's grace period: `shutdown` returns without it, and its
//! worker thread exits as soon as the handler returns, releasing the handler. In a file of its
//! own because it looks at the process's threads.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use basehttp::{Request, Response};
use support::{config, connect, start};

#[test]
fn a_worker_outliving_the_grace_period_exits_when_its_handler_returns() {
    let marker = Arc::new(());
    let in_handler = marker.clone();
    let worker_task = Arc::new(Mutex::new(String::new()));
    let task_in = worker_task.clone();
    let mut c = config(2);
    c.shutdown_grace = Duration::from_millis(200);
    let server = start(c, move |req: &mut Request| {
        let _keep = &in_handler;
        if req.path() == "/slow" {
            // "PID/task/TID" of this worker thread.
            *task_in.lock().unwrap() = std::fs::read_link("/proc/thread-self")
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            std::thread::sleep(Duration::from_millis(1200));
        }
        Response::text("ok")
    });
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !server.shutdown(),
        "the slow handler should outlive the grace period"
    );
    let task = worker_task.lock().unwrap().clone();
    let tid = task.rsplit('/').next().unwrap_or("").to_string();
    assert!(!tid.is_empty(), "the handler did not record its thread");
    // The handler returns about 1 s later; allow a generous margin for the thread to exit.
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = || std::path::Path::new(&format!("/proc/self/task/{tid}")).exists();
    while (alive() || Arc::strong_count(&marker) > 1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(), "worker thread {task} never exited");
    assert_eq!(
        Arc::strong_count(&marker),
        1,
        "the handler is still referenced after its last worker exited"
    );
}
