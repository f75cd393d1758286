//! The [`Handler`] trait: the code that answers requests.

use crate::request::Request;
use crate::response::Response;

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
}

impl<F> Handler for F
where
    F: Fn(&mut Request<'_>) -> Response + Send + Sync + 'static,
{
    fn handle(&self, req: &mut Request<'_>) -> Response {
        self(req)
    }
}
