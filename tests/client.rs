//! The common paths through a real HTTP client (ureq), as library users and tools see them.

mod support;

use std::io::Read;

use support::{config, routes, start};

#[test]
fn get_post_stream_and_errors_through_a_real_client() {
    let server = start(config(2), routes);
    let base = format!("http://{}", server.local_addr());
    let agent = ureq::Agent::new_with_defaults();

    let mut res = agent.get(format!("{base}/hello")).call().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(res.headers().get("server").unwrap(), "basehttp");
    assert_eq!(res.body_mut().read_to_string().unwrap(), "Hello, World!");

    let payload = "x".repeat(100_000);
    let mut res = agent.post(format!("{base}/echo")).send(&payload).unwrap();
    assert_eq!(res.body_mut().read_to_string().unwrap(), payload);

    let mut res = agent
        .get(format!("{base}/stream?chunks=50"))
        .call()
        .unwrap();
    assert_eq!(res.headers().get("transfer-encoding").unwrap(), "chunked");
    let mut body = String::new();
    res.body_mut()
        .as_reader()
        .read_to_string(&mut body)
        .unwrap();
    let expected: String = (0..50).map(|i| format!("chunk-{i}\n")).collect();
    assert_eq!(body, expected);

    let res = agent
        .get(format!("{base}/missing"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(res.status(), 404);

    // Keep-alive: the agent reused one connection for all of that.
    let stats = server.stats();
    assert_eq!(stats.served, 4);
    assert_eq!(
        stats.accepted, 1,
        "the client's connection was not kept alive"
    );
}

#[test]
fn many_clients_in_parallel_all_get_their_own_answers() {
    let server = start(config(4), routes);
    let base = format!("http://{}", server.local_addr());
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                for i in 0..25 {
                    let body = format!("client {t} request {i}");
                    let mut res = agent.post(format!("{base}/echo")).send(&body).unwrap();
                    assert_eq!(res.body_mut().read_to_string().unwrap(), body);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(server.stats().served, 16 * 25);
}
