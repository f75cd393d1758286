//! Why a connection ended: [`CloseReason`], one value recorded for every close, logged at
//! debug level and counted per reason in [`Stats::closes`](crate::Stats::closes).
//!
//! Plain data: this module decides nothing and touches no socket.

/// Why the server closed a connection (or saw it closed). Every close records exactly one.
///
/// ```
/// use basehttp::CloseReason;
/// assert_eq!(CloseReason::KeepAliveTimeout.name(), "keep_alive_timeout");
/// assert!(CloseReason::KeepAliveTimeout.explain().contains("keep_alive"));
/// assert_eq!(CloseReason::ALL.len(), CloseReason::COUNT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed its end between requests.
    ClientClosed,
    /// A read or write on the socket failed: a reset, a broken pipe, a write timeout.
    SocketError,
    /// Idle between requests for longer than `keep_alive`.
    KeepAliveTimeout,
    /// The request head did not arrive within `header_timeout` (answered `408`).
    HeaderTimeout,
    /// The request head was refused (a `4xx` or `5xx` naming the rule it broke), or cut
    /// short by the client closing its side (a `400`).
    BadRequest,
    /// The client opened with a TLS handshake; this server speaks plain HTTP.
    Tls,
    /// The request body was malformed, too large or timed out (answered `400`, `413`, `408`).
    BadBody,
    /// The client stopped sending, or the connection failed, in the middle of a request body.
    BodyIncomplete,
    /// The handler left more of the body unread than `max_drain` and `linger_time` allow to
    /// discard, or answered without reading a body held back for `100 Continue`.
    BodyUnread,
    /// A body policy refused the request body: the response was sent without reading it.
    BodyRefused,
    /// The body came slower than `min_body_rate`, or the client took the response slower
    /// than `min_response_rate`, past the grace period.
    TooSlow,
    /// The budget of buffered request bodies (memory or disk) was spent: answered `503`.
    OverBudget,
    /// The request asked for it: `Connection: close`, or HTTP/1.0 without `keep-alive`.
    RequestedByClient,
    /// The handler's response carried `Connection: close`.
    RequestedByHandler,
    /// A body of unknown length to an HTTP/1.0 client: the close ends it.
    CloseDelimited,
    /// `max_requests_per_connection` responses were sent on it.
    MaxRequests,
    /// Keep-alive is off (`keep_alive` is zero): one request per connection.
    KeepAliveOff,
    /// The server is shutting down.
    Shutdown,
    /// The handler panicked; its `500` was sent first.
    HandlerPanicked,
    /// The response body failed after its head was sent: the reader returned an error,
    /// panicked, or ended before its announced length.
    ResponseBodyFailed,
    /// A panic outside the handler ended the connection's turn.
    Panicked,
}

impl CloseReason {
    /// How many reasons there are.
    pub const COUNT: usize = 21;

    /// Every reason, in the order [`Stats::closes`](crate::Stats::closes) lists them.
    pub const ALL: [CloseReason; CloseReason::COUNT] = [
        CloseReason::ClientClosed,
        CloseReason::SocketError,
        CloseReason::KeepAliveTimeout,
        CloseReason::HeaderTimeout,
        CloseReason::BadRequest,
        CloseReason::Tls,
        CloseReason::BadBody,
        CloseReason::BodyIncomplete,
        CloseReason::BodyUnread,
        CloseReason::BodyRefused,
        CloseReason::TooSlow,
        CloseReason::OverBudget,
        CloseReason::RequestedByClient,
        CloseReason::RequestedByHandler,
        CloseReason::CloseDelimited,
        CloseReason::MaxRequests,
        CloseReason::KeepAliveOff,
        CloseReason::Shutdown,
        CloseReason::HandlerPanicked,
        CloseReason::ResponseBodyFailed,
        CloseReason::Panicked,
    ];

    /// The reason's position in [`ALL`](Self::ALL).
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// A short snake_case name, for logs and JSON: `keep_alive_timeout`.
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "client_closed",
            CloseReason::SocketError => "socket_error",
            CloseReason::KeepAliveTimeout => "keep_alive_timeout",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::BadRequest => "bad_request",
            CloseReason::Tls => "tls",
            CloseReason::BadBody => "bad_body",
            CloseReason::BodyIncomplete => "body_incomplete",
            CloseReason::BodyUnread => "body_unread",
            CloseReason::BodyRefused => "body_refused",
            CloseReason::TooSlow => "too_slow",
            CloseReason::OverBudget => "over_budget",
            CloseReason::RequestedByClient => "requested_by_client",
            CloseReason::RequestedByHandler => "requested_by_handler",
            CloseReason::CloseDelimited => "close_delimited",
            CloseReason::MaxRequests => "max_requests",
            CloseReason::KeepAliveOff => "keep_alive_off",
            CloseReason::Shutdown => "shutdown",
            CloseReason::HandlerPanicked => "handler_panicked",
            CloseReason::ResponseBodyFailed => "response_body_failed",
            CloseReason::Panicked => "panicked",
        }
    }

    /// One line saying what happened, for the debug log.
    pub fn explain(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "the client closed the connection",
            CloseReason::SocketError => "a read or write on the socket failed",
            CloseReason::KeepAliveTimeout => "idle for longer than keep_alive",
            CloseReason::HeaderTimeout => "the request head did not arrive within header_timeout",
            CloseReason::BadRequest => "the request head was refused",
            CloseReason::Tls => "the client spoke TLS to a plain-HTTP server",
            CloseReason::BadBody => "the request body was malformed, too large or too slow",
            CloseReason::BodyIncomplete => "the client stopped in the middle of the request body",
            CloseReason::BodyUnread => "the handler left too much of the request body unread",
            CloseReason::BodyRefused => "the request body was refused unread",
            CloseReason::TooSlow => "the client sent or read slower than the minimum rate",
            CloseReason::OverBudget => "the budget for buffered request bodies was spent",
            CloseReason::RequestedByClient => "the request asked to close the connection",
            CloseReason::RequestedByHandler => "the response asked to close the connection",
            CloseReason::CloseDelimited => "the response body is delimited by the close",
            CloseReason::MaxRequests => "max_requests_per_connection reached",
            CloseReason::KeepAliveOff => "keep-alive is off",
            CloseReason::Shutdown => "the server is shutting down",
            CloseReason::HandlerPanicked => "the handler panicked",
            CloseReason::ResponseBodyFailed => "the response body failed after its head was sent",
            CloseReason::Panicked => "a panic outside the handler ended the turn",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.explain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_at_its_index() {
        for (i, reason) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason:?}");
        }
        let mut names: Vec<_> = CloseReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CloseReason::COUNT);
    }
}
