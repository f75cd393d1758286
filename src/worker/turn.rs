//! One worker's turn with one connection: it runs the connection's phases (see
//! `crate::connection` for the diagram) while there is work, and ends when the connection
//! closes, must wait on its client (it is then parked in the poller, with its deadline), or
//! has had its share of time while others wait (it then goes to the back of the run queue).
//!
//! A deadline is checked here, in one place: a phase that would wait past its connection's
//! deadline (`Connection::waiting`) is ended instead: an idle connection closed, a late head
//! or body answered `408`, a slow response cut, a drain or a linger ended.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::parts::{Step, Worker};
use super::stream::ping;
use crate::close_reason::CloseReason;
use crate::connection::{Connection, Phase, Waiting};
use crate::stats::WorkerState;

/// How a turn ended.
pub(crate) enum Outcome {
    /// The connection is closed and counted.
    Closed,
    /// The connection waits on its client: park it in the poller.
    Wait(Box<Connection>, Waiting),
    /// Work is left but the turn is over: to the back of the run queue.
    Requeue(Box<Connection>),
}

impl Worker<'_> {
    /// Serves `conn` until it closes, must wait, or should give way to others.
    pub(crate) fn serve(&mut self, mut conn: Box<Connection>) -> Outcome {
        self.ctx.slot.set_state(WorkerState::Reading);
        self.begin_turn(&mut conn);
        let mut phase = std::mem::replace(&mut conn.phase, Phase::ReadHead);
        loop {
            let step = match phase {
                Phase::New => match self.arrived(&conn) {
                    Ok(()) => Step::Go(Phase::ReadHead),
                    Err(_) => Step::Go(Phase::Close(CloseReason::SocketError)),
                },
                Phase::ReadHead => self.read_head(&mut conn),
                Phase::ReceiveBody(rx) => self.receive_body(&conn, rx),
                Phase::Handle(rx) => self.handle_received(&mut conn, *rx),
                Phase::Drain(drain) => self.drain(&conn, drain),
                Phase::Write(sending) => self.write_phase(&conn, sending),
                Phase::Linger(linger) => self.linger(&conn, linger),
                Phase::Stream(streaming) => self.stream(&conn, streaming),
                Phase::Close(reason) => {
                    self.finish(conn, reason);
                    return Outcome::Closed;
                }
            };
            phase = match step {
                Step::Go(next) => next,
                Step::Yield => {
                    self.end_turn(&mut conn, Phase::ReadHead);
                    return Outcome::Requeue(conn);
                }
                Step::Wait(waits) => match self.wait(&mut conn, waits) {
                    Ok(waiting) => return Outcome::Wait(conn, waiting),
                    Err(next) => next,
                },
            };
        }
    }

    /// A new connection's first turn: it leaves the listener's count, and its socket is set
    /// up.
    fn arrived(&self, conn: &Connection) -> std::io::Result<()> {
        self.ctx.shared.arrivals.fetch_sub(1, Relaxed);
        conn.wire.configure()
    }

    /// The connection would wait in `phase`: its buffered output goes first (or becomes its
    /// pending write), and it waits until its deadline, unless that has passed: then the
    /// phase's end comes now (`Err` with the next phase).
    fn wait(&mut self, conn: &mut Connection, phase: Phase) -> Result<Waiting, Phase> {
        let phase = self.output_first(conn, phase);
        if matches!(phase, Phase::Close(_)) {
            return Err(phase);
        }
        let shared = self.ctx.shared;
        // A handler that ran in this turn read the clock as it finished: late enough to judge
        // a deadline by (one passed since is met by the poller's timer at once).
        let now = match self.clock.turn_started {
            Some(_) => shared.instant_at(self.clock.turn_last),
            None => Instant::now(),
        };
        self.end_turn(conn, phase);
        let buffered = conn.pending.len();
        let waiting = conn.waiting(buffered, &shared.config, shared.shutdown_at(), now);
        let Some(waiting) = waiting.filter(|w| w.deadline > now) else {
            self.begin_turn(conn);
            let phase = std::mem::replace(&mut conn.phase, Phase::ReadHead);
            return Err(self.expired(conn, phase, buffered));
        };
        self.ctx.slot.set_state(WorkerState::Idle);
        Ok(waiting)
    }

    /// The phase's end at its deadline, with `buffered` bytes of a head received.
    fn expired(&mut self, conn: &Connection, phase: Phase, buffered: usize) -> Phase {
        let shutting_down = self.ctx.shared.shutting_down();
        let step = match phase {
            Phase::ReadHead if buffered == 0 || shutting_down => {
                let reason = if shutting_down {
                    CloseReason::Shutdown
                } else {
                    conn.head_timeout_reason(buffered)
                };
                self.quiet_close(conn, reason)
            }
            Phase::ReadHead => self.head_timed_out(conn),
            Phase::ReceiveBody(rx) => self.body_timed_out(conn, &rx),
            Phase::Write(sending) => self.write_timed_out(&sending),
            Phase::Drain(_) => self.start_linger(conn, CloseReason::BodyUnread),
            Phase::Linger(linger) => Step::Go(Phase::Close(linger.reason)),
            Phase::Stream(_) if shutting_down => Step::Go(Phase::Close(CloseReason::Shutdown)),
            // A `PING` went by with bytes waiting and none taken: a client that reads nothing
            // (it would otherwise hold its place for good, a comment a time).
            Phase::Stream(s) if !s.unsent.is_empty() => {
                Step::Go(Phase::Close(CloseReason::TooSlow))
            }
            Phase::Stream(streaming) => Step::Go(Phase::Stream(ping(streaming))),
            other => Step::Go(other),
        };
        match step {
            Step::Go(next) | Step::Wait(next) => next,
            Step::Yield => Phase::ReadHead,
        }
    }

    /// Forgets the state of a turn that ended in a panic, so the next turn starts clean.
    pub(crate) fn recover(&mut self) {
        self.output.buf.clear();
        self.input.clear();
    }
}

/// The turn's transitions, phase by phase, on real sockets (a connected pair on loopback) but
/// without a server: a worker serves a connection once and the outcome, the phase it is left
/// in and what the client received are checked.
#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, Instant};

    use crate::close_reason::CloseReason;
    use crate::config::Config;
    use crate::connection::{Connection, Parked, Phase};
    use crate::handler::{BodyPolicy, Handler};
    use crate::poller::Poller;
    use crate::request::{Request, RequestHead};
    use crate::response::Response;
    use crate::shared::Shared;
    use crate::wire::Ready;
    use crate::worker::parts::Worker;
    use crate::worker::turn::Outcome;

    /// The handler: `/big` answers a body larger than any socket buffer, anything else
    /// `Hello` without reading the body; `/ignore` streams its body (which is left unread).
    struct Routes;

    impl Handler for Routes {
        fn handle(&self, req: &mut Request<'_>) -> Response {
            match req.path() {
                "/big" => Response::bytes(vec![b'x'; 16 << 20]),
                _ => Response::text("Hello"),
            }
        }

        fn body_policy(&self, head: &RequestHead<'_>) -> BodyPolicy {
            match head.path() {
                "/ignore" => BodyPolicy::Stream,
                _ => BodyPolicy::ReceiveFirst,
            }
        }
    }

    /// A pool's shared state with no threads.
    fn shared(config: Config) -> Arc<Shared> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let poller = Poller::new(tx).unwrap();
        Arc::new(Shared::new(
            config.normalized(),
            Box::new(Routes),
            rx,
            poller,
        ))
    }

    /// A new connection (counted open) and its client.
    fn accept(shared: &Shared) -> (Box<Connection>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (stream, peer) = listener.accept().unwrap();
        shared.open.fetch_add(1, Relaxed);
        shared.arrivals.fetch_add(1, Relaxed);
        (
            Box::new(Connection::new(stream, peer, Instant::now())),
            client,
        )
    }

    /// Serves `conn` once; the connection back if it waits, with what it waits for.
    fn wait(worker: &mut Worker<'_>, conn: Box<Connection>) -> (Box<Connection>, Parked, Ready) {
        match worker.serve(conn) {
            Outcome::Wait(conn, waiting) => (conn, waiting.kind, waiting.ready),
            Outcome::Closed => panic!("closed, not waiting"),
            Outcome::Requeue(_) => panic!("requeued, not waiting"),
        }
    }

    fn read_some(client: &mut TcpStream) -> String {
        let mut buf = vec![0u8; 4096];
        let n = client.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn closes(shared: &Shared, reason: CloseReason) -> u64 {
        shared.worker_slots[0].closed_for(reason)
    }

    #[test]
    fn a_request_is_answered_and_the_connection_waits_idle() {
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let (conn, mut client) = accept(&shared);
        client
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, ready) = wait(&mut worker, conn);
        assert_eq!((kind, ready), (Parked::Idle, Ready::Read));
        assert!(matches!(conn.phase, Phase::ReadHead));
        assert_eq!(conn.served, 1);
        assert!(read_some(&mut client).ends_with("\r\n\r\nHello"));
    }

    #[test]
    fn a_partial_head_waits_with_its_bytes_and_is_answered_when_it_completes() {
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let (conn, mut client) = accept(&shared);
        client.write_all(b"GET /hello HTTP/1.1\r\nHo").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!(kind, Parked::Head);
        assert_eq!(conn.pending, b"GET /hello HTTP/1.1\r\nHo");
        client.write_all(b"st: x\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!(
            (kind, conn.served, conn.pending.len()),
            (Parked::Idle, 1, 0)
        );
        assert!(read_some(&mut client).ends_with("Hello"));
    }

    #[test]
    fn a_client_that_closes_is_closed_and_counted() {
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let (conn, client) = accept(&shared);
        drop(client);
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(worker.serve(conn), Outcome::Closed));
        assert_eq!(closes(&shared, CloseReason::ClientClosed), 1);
        assert_eq!(shared.open.load(Relaxed), 0);
    }

    #[test]
    fn past_its_deadline_an_idle_connection_closes_and_a_partial_head_gets_408() {
        let shared = shared(Config {
            header_timeout: Duration::from_millis(50),
            ..Config::default()
        });
        let mut worker = Worker::new(0, &shared);
        // Silent since the accept: closed quietly at the header timeout.
        let (conn, _client) = accept(&shared);
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!(kind, Parked::Idle);
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(worker.serve(conn), Outcome::Closed));
        assert_eq!(closes(&shared, CloseReason::HeaderTimeout), 1);
        // Part of a head, then silence: 408, then a lingering close.
        let (conn, mut client) = accept(&shared);
        client.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(60));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!(kind, Parked::Linger);
        assert!(read_some(&mut client).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
        drop(client);
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(worker.serve(conn), Outcome::Closed));
        assert_eq!(closes(&shared, CloseReason::HeaderTimeout), 2);
    }

    #[test]
    fn connection_close_lingers_until_the_client_closes() {
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let (conn, mut client) = accept(&shared);
        client
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!(kind, Parked::Linger);
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert!(answer.contains("Connection: close\r\n") && answer.ends_with("Hello"));
        drop(client);
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(worker.serve(conn), Outcome::Closed));
        assert_eq!(closes(&shared, CloseReason::RequestedByClient), 1);
    }

    #[test]
    fn a_body_received_first_waits_for_its_rest_then_runs_the_handler() {
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let (conn, mut client) = accept(&shared);
        client
            .write_all(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!(kind, Parked::Body);
        assert!(matches!(conn.phase, Phase::ReceiveBody(_)));
        client.write_all(b"67890").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!((kind, conn.served), (Parked::Idle, 1));
        assert!(read_some(&mut client).ends_with("Hello"));
    }

    #[test]
    fn a_response_the_client_is_slow_to_take_waits_for_room_then_goes_on() {
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let (conn, mut client) = accept(&shared);
        client
            .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (mut conn, kind, ready) = wait(&mut worker, conn);
        assert_eq!((kind, ready), (Parked::Write, Ready::Write));
        // The client reads everything; each turn writes what the socket takes.
        let mut received = 0usize;
        let mut buf = vec![0u8; 1 << 20];
        client
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        loop {
            while let Ok(n) = client.read(&mut buf) {
                received += n;
                if n == 0 {
                    break;
                }
            }
            let (next, kind, _) = wait(&mut worker, conn);
            conn = next;
            if kind == Parked::Idle {
                break;
            }
            assert_eq!(kind, Parked::Write);
        }
        while let Ok(n) = client.read(&mut buf) {
            if n == 0 {
                break;
            }
            received += n;
        }
        assert!(received > 16 << 20, "{received}");
        assert_eq!(conn.served, 1);
    }

    #[test]
    fn a_body_the_handler_left_unread_is_drained_then_the_next_request_read() {
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let (conn, mut client) = accept(&shared);
        client
            .write_all(b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!(kind, Parked::Drain);
        let answer = read_some(&mut client);
        assert!(
            answer.ends_with("Hello") && !answer.contains("close"),
            "{answer}"
        );
        client
            .write_all(b"67890GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (conn, kind, _) = wait(&mut worker, conn);
        assert_eq!((kind, conn.served), (Parked::Idle, 2));
        assert!(read_some(&mut client).ends_with("Hello"));
    }

    /// An event stream whose bytes waited a whole `PING` with none taken (a client that
    /// reads nothing, its kernel buffers full) is closed `too_slow`; one with nothing
    /// waiting gets its ping and waits on.
    #[test]
    fn a_stream_that_took_nothing_for_a_ping_is_closed_and_an_idle_one_pinged() {
        use crate::connection::Streaming;
        use crate::stream_state::PING;
        let shared = shared(Config::default());
        let mut worker = Worker::new(0, &shared);
        let streams = crate::EventStreams::new(2);
        let stream_of = |unsent: Vec<u8>| {
            let crate::response::Payload::Stream(stream) = streams.open("").payload else {
                panic!("not a stream")
            };
            Phase::Stream(Box::new(Streaming {
                stream,
                unsent,
                last_sent: Instant::now() - PING - Duration::from_secs(1),
                chunked: false,
            }))
        };
        // Nothing waiting: a ping goes out, and the stream waits for the next.
        let (mut conn, mut client) = accept(&shared);
        // What a connection's first turn does (skipped here, the phase being set by hand).
        conn.wire.configure().unwrap();
        shared.arrivals.fetch_sub(1, Relaxed);
        conn.phase = stream_of(Vec::new());
        let (_conn, kind, ready) = wait(&mut worker, conn);
        assert_eq!((kind, ready), (Parked::Stream, Ready::Read));
        assert_eq!(read_some(&mut client), ":\n\n");
        // The client's side full (it reads nothing), bytes waiting: closed.
        let (mut conn, _client) = accept(&shared);
        conn.wire.configure().unwrap();
        shared.arrivals.fetch_sub(1, Relaxed);
        let mut socket = &**conn.wire;
        let block = vec![b'x'; 1 << 16];
        while socket.write(&block).is_ok() {}
        conn.phase = stream_of(b"data: x\n\n".to_vec());
        assert!(matches!(worker.serve(conn), Outcome::Closed));
        assert_eq!(closes(&shared, CloseReason::TooSlow), 1);
    }
}
