//! The [`Handler`] trait: the code that answers requests, and its [`BodyPolicy`]: what the
//! server does with a request body before the handler runs.

use crate::request::{Request, RequestHead};
use crate::response::Response;

/// What the server does with a request's body before the handler runs, decided from the head
/// alone, before any body byte is read (and before `100 Continue`).
///
/// - [`ReceiveFirst`](BodyPolicy::ReceiveFirst), the default: the whole body is received
///   first, in the connection's own buffer (in memory up to
///   [`Config::body_buffer`](crate::Config::body_buffer), then in an unnamed temporary file,
///   up to [`Config::max_buffered_body`](crate::Config::max_buffered_body)); the connection
///   waits in the poller meanwhile, so a slow or stalled upload holds no worker. The handler
///   then reads it at memory speed.
/// - [`Stream`](BodyPolicy::Stream): the handler reads the body as it arrives, straight from
///   the socket (up to [`Config::max_body`](crate::Config::max_body)). Nothing is buffered,
///   but the worker waits while the client is slow to send: a slow upload holds a worker
///   (bounded by `body_timeout` and `min_body_rate`).
/// - [`Refuse`](BodyPolicy::Refuse): the response is sent at once and the connection closed;
///   the body is never read, and `100 Continue` is never sent.
///
/// ```
/// use basehttp::{BodyPolicy, Response};
/// let policy = BodyPolicy::refuse(413);
/// assert!(matches!(policy, BodyPolicy::Refuse(ref r) if r.status() == 413));
/// assert!(matches!(BodyPolicy::default(), BodyPolicy::ReceiveFirst));
/// ```
#[derive(Debug, Default)]
pub enum BodyPolicy {
    /// Receive the whole body before the handler runs.
    #[default]
    ReceiveFirst,
    /// Let the handler read the body as it arrives.
    Stream,
    /// Answer with this response without reading the body, and close.
    Refuse(Response),
}

impl BodyPolicy {
    /// Refuses the body with the server's short error page for `status`.
    pub fn refuse(status: u16) -> BodyPolicy {
        BodyPolicy::Refuse(Response::error(status))
    }
}

/// Code that answers requests. Implemented for every `Fn(&mut Request) -> Response` closure
/// that can be shared between threads.
///
/// A handler runs on a worker thread and blocks that worker while it runs. If it panics, the
/// client gets a `500` (when nothing was sent yet), the panic is logged, and the worker lives on.
///
/// ```
/// use basehttp::{Handler, Request, Response};
/// struct Greeter { name: String }
/// impl Handler for Greeter {
///     fn handle(&self, _req: &mut Request) -> Response {
///         Response::text(format!("Hello from {}", self.name))
///     }
/// }
/// # let _ = Greeter { name: "me".into() };
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: &mut Request<'_>) -> Response;

    /// What to do with the body of a request that has one, before any of it is read. The
    /// default receives it first ([`BodyPolicy::ReceiveFirst`]);
    /// [`Server::body_policy`](crate::Server::body_policy) sets a policy for any handler,
    /// closures included.
    fn body_policy(&self, head: &RequestHead<'_>) -> BodyPolicy {
        let _ = head;
        BodyPolicy::ReceiveFirst
    }
}

/// A handler with a body policy set on the server.
pub(crate) struct WithPolicy<H, P> {
    pub(crate) handler: H,
    pub(crate) policy: P,
}

impl<H, P> Handler for WithPolicy<H, P>
where
    H: Handler,
    P: Fn(&RequestHead<'_>) -> BodyPolicy + Send + Sync + 'static,
{
    fn handle(&self, req: &mut Request<'_>) -> Response {
        self.handler.handle(req)
    }

    fn body_policy(&self, head: &RequestHead<'_>) -> BodyPolicy {
        (self.policy)(head)
    }
}

impl<F> Handler for F
where
    F: Fn(&mut Request<'_>) -> Response + Send + Sync + 'static,
{
    fn handle(&self, req: &mut Request<'_>) -> Response {
        self(req)
    }
}
