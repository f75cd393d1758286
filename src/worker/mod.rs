//! What a worker does with a connection it takes from the run queue: one turn, running the
//! connection's phases (see `crate::connection` for the diagram) while there is work, then
//! closing it, parking it in the poller, or sending it to the back of the run queue.
//!
//! - `turn`: the turn, and the one place deadlines are checked;
//! - `head`: `ReadHead`, requests and their heads;
//! - `exchange`: one request and its response (the handler, what becomes of the body, the
//!   response's head and body);
//! - `receive`: `ReceiveBody`, `Handle` and `Drain`, the phases that wait on a request body;
//! - `send`: `Write`, a response a client is slow to take;
//! - `stream`: `Stream`, a server-sent event stream waiting for its messages;
//! - `after`: what follows an exchange or a write, `Linger`, closing, the server's own errors;
//! - `writer`: the socket, output buffer, pipe and counters together;
//! - `parts`, `ctx`: the worker's buffers and clock, and what every part is given.
//!
//! A worker never waits on a silent client outside a handler: it reads what is there, runs the
//! request, writes what the socket takes, and parks the rest. A handler may choose to block on
//! its client (reading a streamed body, `Early::write`, a body pinned to its worker, an echo),
//! within the timeouts and rates (`crate::pacing`).
//!
//! No file here uses this one: each part names the sibling it needs.

mod after;
mod ctx;
mod exchange;
mod head;
mod parts;
mod receive;
mod send;
mod stream;
mod turn;
mod writer;

pub(crate) use parts::Worker;
pub(crate) use turn::Outcome;
