//! basehttp behind a real reverse proxy (issue 5): Debian's nginx on loopback balances two
//! basehttp processes with upstream keep-alive. A few thousand requests go through it; both
//! instances must serve, no request may fail, and killing one instance mid-run must lose no
//! request (nginx retries idempotent ones on the other); the same with two processes in each
//! instance (`--processes 2`). Skipped with a message when nginx is
//! not installed, except in CI (`CI` set), where `.ci/run` installs `nginx-light`.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");
const CLIENTS: usize = 4;
const REQUESTS_PER_CLIENT: u64 = 750;

fn nginx() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// Waits until `addr` accepts connections.
fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A basehttp process on `port`, and a count of the requests it logged. Dropping it kills
/// the process, also when an assertion fails first.
struct Instance {
    child: Child,
    served: Arc<AtomicU64>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nginx process: one process only (`master_process off`), so killing it leaves no
/// worker behind; dropped, it is killed, also when an assertion fails first.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn instance(port: u16, args: &[&str]) -> Instance {
    let mut child = Command::new(BIN)
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start basehttp");
    let served = Arc::new(AtomicU64::new(0));
    let count = served.clone();
    let stderr = child.stderr.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("\"GET /") {
                count.fetch_add(1, Relaxed);
            }
        }
    });
    wait_listening(([127, 0, 0, 1], port).into());
    Instance { child, served }
}

fn nginx_config(dir: &std::path::Path, listen: u16, upstreams: [u16; 2]) -> String {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let d = dir.display();
    format!(
        "{user}worker_processes 1;\n\
         daemon off;\n\
         master_process off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           upstream app {{\n\
             server 127.0.0.1:{a} max_fails=0;\n\
             server 127.0.0.1:{b} max_fails=0;\n\
             keepalive 16;\n\
           }}\n\
           server {{\n\
             listen 127.0.0.1:{listen};\n\
             location / {{\n\
               proxy_pass http://app;\n\
               proxy_http_version 1.1;\n\
               proxy_set_header Connection \"\";\n\
               proxy_next_upstream error timeout;\n\
               proxy_connect_timeout 1s;\n\
             }}\n\
           }}\n\
         }}\n",
        user = if root { "user root;\n" } else { "" },
        a = upstreams[0],
        b = upstreams[1],
    )
}

#[test]
fn nginx_balances_two_instances_and_loses_nothing_when_one_dies() {
    balance_and_kill(&[]);
}

/// The same with two processes in each instance (issue 19): one machine's cores through
/// `--processes`, several machines through nginx. Killing an instance's supervisor outright
/// makes its workers finish what they hold and stop by themselves; nginx retries the rest.
#[test]
fn nginx_balances_two_multi_process_instances_and_loses_nothing_when_one_dies() {
    balance_and_kill(&["--processes", "2"]);
}

fn balance_and_kill(args: &[&str]) {
    let Some(nginx) = nginx() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is missing in CI: .ci/run should install nginx-light"
        );
        eprintln!("SKIPPED: nginx is not installed (apt-get install nginx-light)");
        return;
    };
    // One directory per test (they run at once in this process): nginx's config, pid and logs.
    let dir = std::env::temp_dir().join(format!(
        "basehttp-proxy-{}-{}",
        std::process::id(),
        args.join("").replace('-', "")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ports = [support::free_port(), support::free_port()];
    let mut instances = ports.map(|port| instance(port, args));
    let front = support::free_port();
    std::fs::write(dir.join("nginx.conf"), nginx_config(&dir, front, ports)).unwrap();
    let mut proxy = Proxy(
        Command::new(nginx)
            .args(["-p", &dir.display().to_string(), "-c"])
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx"),
    );
    let front_addr: SocketAddr = ([127, 0, 0, 1], front).into();
    wait_listening(front_addr);

    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (done, failed) = (done.clone(), failed.clone());
            thread::spawn(move || {
                let mut c = support::Client::new(front_addr);
                for _ in 0..REQUESTS_PER_CLIENT {
                    c.send(b"GET / HTTP/1.1\r\nHost: proxy\r\n\r\n");
                    match support::read_response(&mut c.reader, false) {
                        Ok(r) if r.status == 200 => {
                            done.fetch_add(1, Relaxed);
                        }
                        Ok(r) => {
                            failed.fetch_add(1, Relaxed);
                            eprintln!("status {}: {}", r.status, r.text());
                        }
                        Err(e) => {
                            failed.fetch_add(1, Relaxed);
                            eprintln!("request failed: {e}");
                            c = support::Client::new(front_addr);
                        }
                    }
                }
            })
        })
        .collect();

    // A third of the way in, with both instances serving, kill one outright.
    let total = CLIENTS as u64 * REQUESTS_PER_CLIENT;
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Relaxed) < total / 3 {
        assert!(
            Instant::now() < deadline,
            "requests are not getting through"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let before_kill = instances.each_ref().map(|i| i.served.load(Relaxed));
    instances[0].child.kill().expect("kill instance 0");
    let _ = instances[0].child.wait();
    for c in clients {
        c.join().unwrap();
    }
    let served = instances.each_ref().map(|i| i.served.load(Relaxed));
    let _ = proxy.0.kill();
    let _ = proxy.0.wait();
    let _ = instances[1].child.kill();
    let _ = instances[1].child.wait();
    let errors = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{} requests through nginx: instance 0 served {} (killed after {}), instance 1 served {}",
        done.load(Relaxed),
        served[0],
        before_kill[0],
        served[1]
    );
    assert_eq!(
        failed.load(Relaxed),
        0,
        "requests failed through nginx; its log:\n{errors}"
    );
    assert_eq!(done.load(Relaxed), total);
    assert!(
        before_kill[0] > 0 && before_kill[1] > 0,
        "both instances serve before the kill: {before_kill:?}"
    );
    assert!(
        served[1] > before_kill[1],
        "the survivor took over: {served:?} (before the kill {before_kill:?})"
    );
}
