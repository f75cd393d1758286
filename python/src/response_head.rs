//! The status line and headers an application gives `start_response`, checked before
//! anything is sent (PEP 3333 and RFC 9110/9112), with the core's own checks for tokens,
//! field values and reason phrases.

use std::io;

use basehttp::{Response, is_field_value, is_reason_phrase, is_token, reason_phrase};
use pyo3::PyResult;

/// Response header fields PEP 3333 forbids an application to set (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

pyo3::create_exception!(
    _native,
    InvalidResponse,
    pyo3::exceptions::PyException,
    "The application's status line or headers cannot be sent."
);

/// The status and headers the application gave `start_response`, checked.
pub struct Head {
    status: u16,
    /// The application's reason phrase when it is not the standard one.
    reason: Option<String>,
    headers: Vec<(String, String)>,
    /// The application's own Content-Length, for the body this response sends (none for
    /// `HEAD`).
    pub length: Option<u64>,
    /// The application's own Content-Length, `HEAD` or not.
    pub declared: Option<u64>,
}

impl Head {
    /// Checks `status_line` and `headers`; `head_request` for a `HEAD`. An
    /// [`InvalidResponse`] says what is wrong.
    pub fn of(
        status_line: &str,
        headers: &[(String, String)],
        head_request: bool,
    ) -> PyResult<Head> {
        let invalid = |why: String| Err(InvalidResponse::new_err(why));
        let bytes = status_line.as_bytes();
        if bytes.len() < 4 || !bytes[..3].iter().all(u8::is_ascii_digit) || bytes[3] != b' ' {
            return invalid(format!("invalid status line {status_line:?}"));
        }
        let status: u16 = status_line[..3].parse().unwrap_or(0);
        if !(200..=599).contains(&status) {
            return invalid(format!("status {status} is not a final status (200-599)"));
        }
        // A non-ASCII phrase (latin-1 in a WSGI native string) gets the standard one rather
        // than a re-encoding.
        let phrase = &status_line[4..];
        if !is_reason_phrase(phrase) {
            return invalid(format!("invalid status line {status_line:?}"));
        }
        let reason =
            (phrase.is_ascii() && phrase != reason_phrase(status)).then(|| phrase.to_owned());
        let mut length = None;
        let mut checked = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            if !is_token(name) {
                return invalid(format!("invalid header name {name:?}"));
            }
            if !is_field_value(value) {
                return invalid(format!("header {name} has CR, LF or NUL in its value"));
            }
            let lower = name.to_ascii_lowercase();
            if HOP_BY_HOP.contains(&lower.as_str()) {
                return invalid(format!("hop-by-hop header {name} is the server's to set"));
            }
            if lower == "content-length" {
                match value.trim().parse::<u64>() {
                    Ok(n) => length = Some(n),
                    Err(_) => return invalid(format!("invalid Content-Length {value:?}")),
                }
                continue;
            }
            checked.push((name.clone(), value.clone()));
        }
        let declared = length;
        // A HEAD response's Content-Length describes the GET body the app did not send.
        if head_request {
            length = None;
        }
        Ok(Head {
            status,
            reason,
            headers: checked,
            length,
            declared,
        })
    }

    /// `response` with this status, reason and headers.
    pub fn apply(self, mut response: Response) -> Response {
        response = response.with_status(self.status);
        if let Some(reason) = self.reason {
            response = response.with_reason(reason);
        }
        for (name, value) in self.headers {
            response = response.with_header(name, value);
        }
        response
    }

    /// The response for a body known whole: an application's Content-Length is honoured (a
    /// longer body is cut; a shorter one is sent as it is, and the server closes the
    /// connection when it falls short).
    pub fn whole(self, mut data: Vec<u8>) -> Response {
        match self.length {
            Some(len) if (data.len() as u64) < len => {
                let reader = io::Cursor::new(data);
                self.apply(Response::sized_reader(reader, len))
            }
            Some(len) => {
                data.truncate(len as usize);
                self.apply(Response::bytes(data))
            }
            None => self.apply(Response::bytes(data)),
        }
    }

    /// The head alone, for a response whose body follows through an early response.
    pub fn alone(self) -> Response {
        match self.length {
            Some(len) => self.apply(Response::sized_reader(io::empty(), len)),
            None => self.apply(Response::reader(io::empty())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the head passes (a refusal's message needs the interpreter to be read).
    fn check(status: &str, headers: &[(&str, &str)]) -> Result<(), ()> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Head::of(status, &headers, false)
            .map(|_| ())
            .map_err(|_| ())
    }

    #[test]
    fn status_lines_and_headers_are_checked() {
        assert!(check("200 OK", &[("Content-Type", "text/plain")]).is_ok());
        assert!(check("404 Gone Fishing", &[]).is_ok());
        for bad in [
            "200",
            "20 OK",
            "2000 OK",
            "abc OK",
            "200 O\r\nK",
            "200 \0",
            "199 Early",
            "600 X",
        ] {
            assert!(check(bad, &[]).is_err(), "{bad:?}");
        }
        for (name, value) in [
            ("X A", "b"),
            ("", "b"),
            ("X-A", "b\r\nSet-Cookie: c"),
            ("X-A", "b\0"),
            ("Connection", "close"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "ten"),
        ] {
            assert!(
                check("200 OK", &[(name, value)]).is_err(),
                "{name:?}: {value:?}"
            );
        }
    }

    #[test]
    fn content_length_is_kept_apart_and_dropped_for_head() {
        let headers = vec![("Content-Length".to_string(), " 5 ".to_string())];
        let head = Head::of("200 OK", &headers, false).unwrap();
        assert_eq!((head.length, head.declared), (Some(5), Some(5)));
        assert!(head.headers.is_empty());
        let head = Head::of("200 OK", &headers, true).unwrap();
        assert_eq!((head.length, head.declared), (None, Some(5)));
    }
}
