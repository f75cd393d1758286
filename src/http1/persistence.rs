//! Whether a connection stays open after the exchange on it (RFC 9112 §9.3, §9.6): one value,
//! [`Persistence`], that an exchange updates as it learns more (the request, the handler's
//! response, what became of the body, the framing), keeping the first reason to close, except
//! where the server's own error answer takes the place of the handler's response.
//!
//! Socket-free: the worker's exchange asks it and acts on the answer; the table tests below
//! give one row per rule.

use crate::close_reason::CloseReason;

/// Whether the connection stays open after the current response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// Persistent: the next request may follow.
    KeepAlive,
    /// The connection closes after this response, for this reason.
    Close(CloseReason),
}

/// What is known of a request and its connection before the handler runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Before {
    /// The request allows a persistent connection (HTTP/1.1 without `Connection: close`, or
    /// HTTP/1.0 with `keep-alive`).
    pub(crate) client_keep_alive: bool,
    /// The server's keep-alive is off (`keep_alive` is zero).
    pub(crate) keep_alive_off: bool,
    /// Requests answered on the connection before this one, and the most it may answer.
    pub(crate) served: u32,
    pub(crate) max_requests: u32,
    pub(crate) shutting_down: bool,
}

impl Persistence {
    /// Before the handler runs: the client's wish, the server's settings, the connection's
    /// count, shutdown, in that order.
    pub(crate) fn before(facts: Before) -> Persistence {
        let reason = if !facts.client_keep_alive {
            CloseReason::RequestedByClient
        } else if facts.keep_alive_off {
            CloseReason::KeepAliveOff
        } else if facts.served.saturating_add(1) >= facts.max_requests {
            CloseReason::MaxRequests
        } else if facts.shutting_down {
            CloseReason::Shutdown
        } else {
            return Persistence::KeepAlive;
        };
        Persistence::Close(reason)
    }

    /// The server answers in the handler's place with an error that ends the connection (a
    /// refused or malformed body, a panic): this reason, whatever was decided before.
    pub(crate) fn overruled(self, reason: CloseReason) -> Persistence {
        let _ = self;
        Persistence::Close(reason)
    }

    /// Closes for `reason` if `cond`, unless a reason to close was found before.
    pub(crate) fn close_if(self, cond: bool, reason: CloseReason) -> Persistence {
        match self {
            Persistence::KeepAlive if cond => Persistence::Close(reason),
            decided => decided,
        }
    }

    /// The handler's response is known: it may ask to close (`Connection: close`), and the
    /// server may have begun shutting down while it ran.
    pub(crate) fn response(self, handler_close: bool, shutting_down: bool) -> Persistence {
        self.close_if(handler_close, CloseReason::RequestedByHandler)
            .close_if(shutting_down, CloseReason::Shutdown)
    }

    /// The head is encoded: a body of unknown length to an HTTP/1.0 client ends with the
    /// connection (RFC 9112 §6.3, rule 8).
    pub(crate) fn framing(self, close_delimited: bool) -> Persistence {
        self.close_if(close_delimited, CloseReason::CloseDelimited)
    }

    /// True if the connection closes after this response.
    pub(crate) fn closes(self) -> bool {
        matches!(self, Persistence::Close(_))
    }

    /// Why the connection closes, if it does.
    pub(crate) fn reason(self) -> Option<CloseReason> {
        match self {
            Persistence::KeepAlive => None,
            Persistence::Close(reason) => Some(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CloseReason::*;

    const OPEN: Before = Before {
        client_keep_alive: true,
        keep_alive_off: false,
        served: 0,
        max_requests: 1000,
        shutting_down: false,
    };

    /// One row: what happens to an exchange, in order, and what the connection does after.
    #[derive(Clone, Copy)]
    enum Event {
        Overruled(CloseReason),
        LeftUnread,
        Response {
            handler_close: bool,
            shutting_down: bool,
        },
        Framing {
            close_delimited: bool,
        },
    }
    use Event::*;

    fn run(before: Before, events: &[Event]) -> Persistence {
        let mut p = Persistence::before(before);
        for event in events {
            p = match *event {
                Overruled(reason) => p.overruled(reason),
                LeftUnread => p.close_if(true, BodyUnread),
                Response {
                    handler_close,
                    shutting_down,
                } => p.response(handler_close, shutting_down),
                Framing { close_delimited } => p.framing(close_delimited),
            };
        }
        p
    }

    #[test]
    fn table() {
        let quiet = Response {
            handler_close: false,
            shutting_down: false,
        };
        #[rustfmt::skip]
        let rows: Vec<(&str, Before, Vec<Event>, Option<CloseReason>)> = vec![
            ("a plain HTTP/1.1 exchange", OPEN, vec![quiet, Framing { close_delimited: false }], None),
            ("Connection: close from the client", Before { client_keep_alive: false, ..OPEN }, vec![quiet], Some(RequestedByClient)),
            ("the client's wish comes before the server's settings", Before { client_keep_alive: false, keep_alive_off: true, ..OPEN }, vec![], Some(RequestedByClient)),
            ("keep-alive off", Before { keep_alive_off: true, ..OPEN }, vec![], Some(KeepAliveOff)),
            ("the 999th request of 1000 keeps it open", Before { served: 998, ..OPEN }, vec![quiet], None),
            ("the 1000th request of 1000 closes it", Before { served: 999, ..OPEN }, vec![quiet], Some(MaxRequests)),
            ("a count at the top does not overflow", Before { served: u32::MAX, max_requests: u32::MAX, ..OPEN }, vec![], Some(MaxRequests)),
            ("shutdown before the handler", Before { shutting_down: true, ..OPEN }, vec![quiet], Some(Shutdown)),
            ("shutdown while the handler ran", OPEN, vec![Response { handler_close: false, shutting_down: true }], Some(Shutdown)),
            ("Connection: close from the handler", OPEN, vec![Response { handler_close: true, shutting_down: true }], Some(RequestedByHandler)),
            ("the client's reason stays when the handler also closes", Before { client_keep_alive: false, ..OPEN }, vec![Response { handler_close: true, shutting_down: false }], Some(RequestedByClient)),
            ("a panic overrules the client's reason", Before { client_keep_alive: false, ..OPEN }, vec![Overruled(HandlerPanicked), quiet], Some(HandlerPanicked)),
            ("a malformed body overrules a panic", OPEN, vec![Overruled(HandlerPanicked), Overruled(BadBody)], Some(BadBody)),
            ("a refused body", OPEN, vec![Overruled(BodyRefused), quiet], Some(BodyRefused)),
            ("a body left unread past the drain", OPEN, vec![LeftUnread, quiet], Some(BodyUnread)),
            ("an unread body on a closing connection keeps the first reason", Before { shutting_down: true, ..OPEN }, vec![LeftUnread], Some(Shutdown)),
            ("an HTTP/1.0 body of unknown length", OPEN, vec![quiet, Framing { close_delimited: true }], Some(CloseDelimited)),
            ("close-delimited framing keeps an earlier reason", OPEN, vec![Response { handler_close: true, shutting_down: false }, Framing { close_delimited: true }], Some(RequestedByHandler)),
        ];
        for (name, before, events, want) in rows {
            let got = run(before, &events);
            assert_eq!(got.reason(), want, "row: {name}");
            assert_eq!(got.closes(), want.is_some(), "row: {name}");
        }
    }
}
