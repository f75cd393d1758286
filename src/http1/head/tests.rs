//! Head checks on byte slices.

use super::*;

#[test]
fn targets_split_into_path_and_query() {
    assert_eq!(split_target("/a/b?x=1"), ("/a/b", Some("x=1")));
    assert_eq!(split_target("/"), ("/", None));
    assert_eq!(split_target("http://h:80/p?q"), ("/p", Some("q")));
    assert_eq!(split_target("http://h"), ("/", None));
    assert_eq!(split_target("http://h?q"), ("/", Some("q")));
    assert_eq!(split_target("*"), ("*", None));
    // RFC 9112 §3.2.1: a fragment is no part of the target.
    assert_eq!(
        split_target("/a?page=1#posts-17408"),
        ("/a", Some("page=1"))
    );
    assert_eq!(split_target("/a#b?c"), ("/a", None));
    assert_eq!(split_target("/#"), ("/", None));
    assert_eq!(split_target("http://h/p?q#f"), ("/p", Some("q")));
    assert_eq!(split_target("http://h#f"), ("/", None));
}

#[test]
fn absolute_form_authority() {
    // RFC 9112 §3.2.2: the authority of an absolute-form target stands for Host.
    assert_eq!(
        target_authority("http://example.com:8080/a"),
        Some("example.com:8080")
    );
    assert_eq!(target_authority("https://h?q"), Some("h"));
    assert_eq!(target_authority("http://h#f"), Some("h"));
    assert_eq!(target_authority("http://[::1]"), Some("[::1]"));
    assert_eq!(target_authority("/a://b"), None);
    assert_eq!(target_authority("/a"), None);
    assert_eq!(target_authority("ftp://h/"), None);
    assert_eq!(target_authority("*"), None);
}

#[test]
fn target_forms() {
    assert!(check_target("GET", "/x").is_ok());
    assert!(check_target("GET", "http://example.com/x").is_ok());
    assert!(check_target("OPTIONS", "*").is_ok());
    assert!(check_target("GET", "*").is_err());
    assert!(check_target("GET", "example.com:80").is_err());
    assert!(check_target("GET", "/a\u{7f}").is_err());
}

#[test]
fn content_length_values() {
    assert_eq!(parse_content_length(b"42"), Ok(42));
    assert_eq!(parse_content_length(b" 7 "), Ok(7));
    for bad in [
        &b""[..],
        b"-1",
        b"+1",
        b"1,1",
        b"0x10",
        b"99999999999999999999",
    ] {
        assert!(parse_content_length(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn version_words() {
    assert!(looks_like_http_version(b"GET / HTTP/2.0\r\n"));
    assert!(looks_like_http_version(b"PRI * HTTP/2.0\r\n"));
    assert!(!looks_like_http_version(b"GET / FOO\r\n"));
    assert!(!looks_like_http_version(b"GET /a b HTTP/1.1\r\n"));
}

#[test]
fn tls_detection() {
    assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02]));
    assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
}

// ---------------------------------------------------------------------------------------
// Table tests, in httparse's style: one RFC 9112 / RFC 9110 case a line, its label naming
// the rule. Each table runs every row and fails listing all the rows that failed.

use std::fmt::Write as _;

use crate::config::MAX_HEADERS_LIMIT;

/// What a row expects [`parse`] to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// A complete, accepted head: its body length, keep-alive, expect-continue.
    Done(BodyLength, bool, bool),
    Partial,
    Refused(u16),
}

use Want::{Partial, Refused};

/// Accepted, no body, persistent.
fn ok() -> Want {
    Want::Done(BodyLength::None, true, false)
}

/// Accepted, `Content-Length: n`, persistent.
fn len(n: u64) -> Want {
    Want::Done(BodyLength::Length(n), true, false)
}

/// Accepted, chunked, persistent.
fn chunked() -> Want {
    Want::Done(BodyLength::Chunked, true, false)
}

impl Want {
    /// The same, but the connection closes after the response.
    fn closes(self) -> Want {
        match self {
            Want::Done(body, _, cont) => Want::Done(body, false, cont),
            w => w,
        }
    }

    /// The same, with `Expect: 100-continue` in force.
    fn cont(self) -> Want {
        match self {
            Want::Done(body, keep, _) => Want::Done(body, keep, true),
            w => w,
        }
    }
}

fn got(input: &[u8], config: &Config) -> Want {
    let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS_LIMIT];
    match parse(input, &mut headers, config) {
        Parsed::Complete(h) => {
            assert_eq!(h.len, input.len(), "the rows hold exactly one head");
            Want::Done(h.info.body, h.info.keep_alive, h.info.expect_continue)
        }
        Parsed::Partial => Partial,
        Parsed::Refused(r) => Refused(r.status),
    }
}

fn check(config: &Config, label: &str, input: &[u8], want: Want, failures: &mut String) {
    let got = got(input, config);
    if got != want {
        let _ = writeln!(
            failures,
            "  {label}: got {got:?}, want {want:?}\n    input: \"{}\"",
            input.escape_ascii()
        );
    }
}

/// `table!(config; "label": input => want; ...)`: parses each input (anything `AsRef<[u8]>`)
/// with `config` and panics naming every row whose answer differs.
macro_rules! table {
    ($config:expr; $($label:literal: $input:expr => $want:expr;)+) => {{
        let config: Config = $config;
        let mut failures = String::new();
        $( check(&config, $label, AsRef::<[u8]>::as_ref(&$input), $want, &mut failures); )+
        assert!(failures.is_empty(), "failing rows:\n{failures}");
    }};
}

/// Tight limits, so the size rows stay short.
fn limits() -> Config {
    Config {
        max_request_line: 64,
        max_header_line: 64,
        max_headers: 4,
        max_head: 200,
        max_body: 100,
        ..Config::default()
    }
}

/// `n` bytes of `a`.
fn a(n: usize) -> String {
    "a".repeat(n)
}

#[test]
fn message_body_length() {
    // RFC 9112 §6.3 (message body length, in its order) and RFC 9110 §8.6 (Content-Length).
    table! { Config::default();
        "§6.3¶7 neither CL nor TE: no body":     "GET / HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§6.3¶6 Content-Length":                 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n" => len(5);
        "§6.3¶6 Content-Length: 0":              "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" => len(0);
        "9110§5.1 field names are caseless":     "POST / HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: 5\r\n\r\n" => len(5);
        "9110§5.5 OWS around the value":         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  7 \r\n\r\n" => len(7);
        "9110§8.6 leading zeros, 19 digits":     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000042\r\n\r\n" => len(42);
        "§6.3¶4 chunked":                        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" => chunked();
        "§7 coding names are caseless":          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n" => chunked();
        "9110§5.6.1 empty list items ignored":   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked,\r\n\r\n" => chunked();
        "§6.3¶3 CL and TE: 400":                 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" => Refused(400);
        "§6.3¶3 TE and CL: 400":                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" => Refused(400);
        "§6.3¶5 two CL fields, same value":      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n" => Refused(400);
        "§6.3¶5 two CL fields, values differ":   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n" => Refused(400);
        "§6.3¶5 CL list":                        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n" => Refused(400);
        "9110§8.6 CL with a minus sign":         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n" => Refused(400);
        "9110§8.6 CL with a plus sign":          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n" => Refused(400);
        "9110§8.6 CL with a space inside":       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n" => Refused(400);
        "9110§8.6 CL in hex":                    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n" => Refused(400);
        "9110§8.6 CL empty":                     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n" => Refused(400);
        "9110§8.6 CL of 20 digits":              "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00000000000000000005\r\n\r\n" => Refused(400);
        "9110§8.6 CL over u64":                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n" => Refused(400);
        "§6.1 TE in an HTTP/1.0 request":        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" => Refused(400);
        "§6.1 TE and CL in HTTP/1.0":            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" => Refused(400);
        "§6.3¶4 only coding is not chunked":     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n" => Refused(400);
        "§6.3¶4 last coding is not chunked":     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" => Refused(400);
        "§6.3¶4 last field is not chunked":      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n" => Refused(400);
        "§6.3¶4 identity is no coding now":      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n" => Refused(400);
        "§6.3¶4 empty TE":                       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n" => Refused(400);
        "§6.1 chunked twice in one field":       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n" => Refused(400);
        "§6.1 chunked twice in two fields":      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" => Refused(400);
        "§6.1 unsupported coding: 501":          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" => Refused(501);
        "§6.1 unsupported coding, two fields":   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" => Refused(501);
        "9110§10.1.4 TE token with a space":     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n" => Refused(400);
        "9110§10.1.4 TE as a quoted-string":     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n" => Refused(400);
        "9110§10.1.4 TE with only parameters":   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ;q=1, chunked\r\n\r\n" => Refused(400);
    }
}

#[test]
fn host_field() {
    // RFC 9112 §3.2: exactly one Host on 1.1; never several.
    table! { Config::default();
        "§3.2 Host on 1.1":                      "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n" => ok();
        "§3.2 Host with a port":                 "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n" => ok();
        "9110§5.1 Host name is caseless":        "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n" => ok();
        "§3.2 empty Host value allowed":         "GET / HTTP/1.1\r\nHost: \r\n\r\n" => ok();
        "§3.2 no Host on 1.1: 400":              "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n" => Refused(400);
        "§3.2 two Host fields on 1.1: 400":      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" => Refused(400);
        "§3.2 two Host fields, same value":      "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2 no Host on 1.0 is fine":           "GET / HTTP/1.0\r\n\r\n" => ok().closes();
        "§3.2 two Host fields on 1.0: 400":      "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n" => Refused(400);
        "§3.2.2 absolute-form still needs Host": "GET http://a/ HTTP/1.1\r\n\r\n" => Refused(400);
        "§3.2.2 absolute-form with Host":        "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
    }
}

#[test]
fn invalid_host_values() {
    table! { Config::default();
        "§3.2 Host with a space":                "GET / HTTP/1.1\r\nHost: a b\r\n\r\n" => Refused(400);
        "§3.2 Host with a path":                 "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n" => Refused(400);
        "§3.2 Host with userinfo":               "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n" => Refused(400);
        "§3.2 Host with a bad port":             "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n" => Refused(400);
        "§3.2 Host with a bad %-escape":         "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n" => Refused(400);
        "§3.2 Host with an open IP literal":     "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n" => Refused(400);
        "§3.2 Host with a query":                "GET / HTTP/1.1\r\nHost: a?b\r\n\r\n" => Refused(400);
        "§3.2 empty Host is valid":              "GET / HTTP/1.1\r\nHost:\r\n\r\n" => ok();
        "§3.2 Host name and port":               "GET / HTTP/1.1\r\nHost: www.example.com:8000\r\n\r\n" => ok();
        "§3.2 Host IPv4 and port":               "GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n" => ok();
        "§3.2 Host IPv6 literal and port":       "GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n" => ok();
        "§3.2 Host with an empty port":          "GET / HTTP/1.1\r\nHost: a:\r\n\r\n" => ok();
        "§3.2 Host with sub-delims, %, _ and ~": "GET / HTTP/1.1\r\nHost: a_b~c!$&'()*+,;=%41\r\n\r\n" => ok();
    }
}

#[test]
fn persistence() {
    // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive"; RFC 9110 §7.6.1
    // Connection is a list of caseless tokens.
    table! { Config::default();
        "§9.3 1.1 persists by default":          "GET / HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§9.3 1.1 close":                        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" => ok().closes();
        "9110§7.6.1 tokens are caseless":        "GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n" => ok().closes();
        "9110§7.6.1 close among other tokens":   "GET / HTTP/1.1\r\nHost: a\r\nConnection: te, close\r\n\r\n" => ok().closes();
        "9110§7.6.1 close wins over keep-alive": "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n" => ok().closes();
        "9110§7.6.1 close in a second field":    "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n" => ok().closes();
        "9110§7.6.1 whole tokens only":          "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n" => ok();
        "§9.3 1.1 keep-alive changes nothing":   "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n" => ok();
        "§9.3 1.0 closes by default":            "GET / HTTP/1.0\r\n\r\n" => ok().closes();
        "§9.3 1.0 keep-alive":                   "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" => ok();
        "§9.3 1.0 Keep-Alive, caseless":         "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n" => ok();
        "§9.3 1.0 keep-alive and close":         "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n" => ok().closes();
        "§9.3 1.0 other token":                  "GET / HTTP/1.0\r\nConnection: upgrade\r\n\r\n" => ok().closes();
        "§9.3 1.0 keep-alive with a body":       "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n" => len(3);
    }
}

#[test]
fn expectations() {
    // RFC 9110 §10.1.1: 100-continue is the only expectation; 417 for others; ignored on 1.0.
    table! { Config::default();
        "9110§10.1.1 100-continue":              "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n" => len(5).cont();
        "9110§10.1.1 100-continue is caseless":  "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n" => len(5).cont();
        "9110§10.1.1 with a chunked body":       "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n" => chunked().cont();
        "9110§10.1.1 other expectation: 417":    "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\n" => Refused(417);
        "9110§10.1.1 100-continue plus another": "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n" => Refused(417);
        "9110§10.1.1 ignored on 1.0":            "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n" => len(5).closes();
    }
}

#[test]
fn request_line() {
    // RFC 9112 §3 (request-line = method SP request-target SP HTTP-version), §2.3 versions.
    table! { Config::default();
        "§3 HTTP/1.1":                           "GET / HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3 HTTP/1.0":                           "GET / HTTP/1.0\r\n\r\n" => ok().closes();
        "9110§9.1 methods are any token":        "get / HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§2.3 HTTP/2.0: 505":                    "GET / HTTP/2.0\r\nHost: a\r\n\r\n" => Refused(505);
        "§2.3 the h2 preface: 505":              "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" => Refused(505);
        "§2.3 HTTP/3.0: 505":                    "GET / HTTP/3.0\r\nHost: a\r\n\r\n" => Refused(505);
        // RFC 9110 §2.5 says a higher minor version SHOULD be served as 1.1; httparse only
        // knows 1.0 and 1.1, and docs/http1.md documents 505.
        "9110§2.5 HTTP/1.2: 505 (httparse)":     "GET / HTTP/1.2\r\nHost: a\r\n\r\n" => Refused(505);
        "§2.3 version is case-sensitive":        "GET / http/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§2.3 version without a minor":          "GET / HTTP/1\r\nHost: a\r\n\r\n" => Refused(400);
        "§2.3 version with two-digit minor":     "GET / HTTP/1.10\r\nHost: a\r\n\r\n" => Refused(400);
        "§2.3 garbage version":                  "GET / FOO\r\nHost: a\r\n\r\n" => Refused(400);
        "§3 HTTP/0.9 style line":                "GET /\r\n\r\n" => Refused(400);
        "§3 a fourth word":                      "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n" => Refused(400);
        "§3 two spaces":                         "GET  / HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3 leading space":                      " GET / HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3 tab as the separator":               "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "9110§9.1 method not a token":           "G(T / HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3 partial line":                       "GET / HTT" => Partial;
        "§3 nothing yet":                        "" => Partial;
        "§3 line done, head not":                "GET / HTTP/1.1\r\nHost: a\r\n" => Partial;
    }
}

#[test]
fn partial_http2_version() {
    table! { Config::default();
        "§2.3 GET line cut in HTTP/2.0":         "GET / HTTP/2" => Partial;
        "§2.3 h2 preface cut in its version":    "PRI * HTTP/2." => Partial;
    }
}

#[test]
fn request_targets() {
    // RFC 9112 §3.2: origin-form, absolute-form, asterisk-form (OPTIONS only); authority-form
    // is for CONNECT, which this server does not do. §3.2 / RFC 3986: no spaces or controls.
    table! { Config::default();
        "§3.2.1 origin-form":                    "GET /a/b HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3.2.1 origin-form with a query":       "GET /a?b=c&d HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3.2.2 absolute-form":                  "GET http://example.com/x HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3.2.2 absolute-form, no path":         "GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "9110§4.2 other schemes: 400":           "GET svn+ssh.x-y://h/ HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "9110§4.2 ftp: 400":                     "GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.2 absolute-form with a port":      "GET http://[::1]:8000/x?y HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3.2.2 https, upper-case scheme":       "GET HTTPS://example.com/x HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3.2.2 invalid authority: 400":         "PUT s://]ufd/: HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.2 empty authority: 400":           "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "9110§4.2.4 userinfo: 400":              "GET http://u:p@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.2 space-free junk authority: 400": "GET http://a\"b/ HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.1 a fragment is cut, not refused": "GET /a?b=c#d HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3.2.4 asterisk-form for OPTIONS":      "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§3.2.4 asterisk-form for GET: 400":     "GET * HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.4 OPTIONS is case-sensitive":      "options * HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.3 authority-form: 400":            "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.3 authority-form on GET":          "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2.2 scheme and nothing":             "GET http:// HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "3986§3.1 scheme starts with a digit":   "GET 1http://h/ HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2 a bare word":                      "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2 DEL in the target":                b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2 NUL in the target":                b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2 control byte in the target":       b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2 tab in the target":                "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
        "§3.2 space in the target":              "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
    }
}

#[test]
fn field_syntax() {
    // RFC 9112 §5 (field-line = field-name ":" OWS field-value OWS), RFC 9110 §5.5 values.
    table! { Config::default();
        "§5.2 obs-fold with a space: 400":       "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n" => Refused(400);
        "§5.2 obs-fold with a tab: 400":         "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n" => Refused(400);
        "§5.1 space before the colon: 400":      "GET / HTTP/1.1\r\nHost : a\r\n\r\n" => Refused(400);
        "§2.2 space before the first field":     "GET / HTTP/1.1\r\n Host: a\r\n\r\n" => Refused(400);
        "§5.1 a line without a colon":           "GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n" => Refused(400);
        "§5.1 an empty field name":              "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n" => Refused(400);
        "9110§5.1 name not a token":             "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n" => Refused(400);
        "9110§5.5 NUL in a value":               b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n" => Refused(400);
        "9110§5.5 control byte in a value":      b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n" => Refused(400);
        "9110§5.5 HTAB inside a value is fine":  "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\tc\r\n\r\n" => ok();
        "9110§5.5 obs-text in a value is fine":  b"GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\xff\r\n\r\n" => ok();
        "9110§5.5 empty value is fine":          "GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\n\r\n" => ok();
    }
}

#[test]
fn line_endings() {
    // RFC 9112 §2.2: a recipient MAY take a bare LF for a line end (httparse does); a bare CR
    // is invalid.
    table! { Config::default();
        "§2.2 bare LF everywhere (accepted)":    "GET / HTTP/1.1\nHost: a\n\n" => ok();
        "§2.2 bare LF ends the head":            "GET / HTTP/1.1\r\nHost: a\r\n\n" => ok();
        "§2.2 bare LF on 1.0, with a body":      "POST / HTTP/1.0\nContent-Length: 2\n\n" => len(2).closes();
        "§2.2 bare CR after the request line":   "GET / HTTP/1.1\rHost: a\r\n\r\n" => Refused(400);
        "§2.2 bare CR in a value":               "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n" => Refused(400);
        "§2.2 CR CR LF":                         "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n" => Refused(400);
        "§2.2 leading CRLF skipped by httparse": "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n" => ok();
        "§2.2 leading bare CR":                  "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n" => Refused(400);
    }
}

#[test]
fn size_limits() {
    // docs/http1.md's 413, 414 and 431 rows, against limits() (request line 64, header line 64,
    // 4 fields, head 200, body 100). A request line counts method, target and version.
    let line = |n: usize| format!("GET /{} HTTP/1.1", a(n - 14));
    let x = |n: usize| format!("X: {}\r\n", a(n - 3)); // a field line of n bytes before CRLF
    table! { limits();
        "414 request line of 63":                format!("{}\r\nHost: a\r\n\r\n", line(63)) => ok();
        "414 request line of 65":                format!("{}\r\nHost: a\r\n\r\n", line(65)) => Refused(414);
        "414 request line of 65, LF only":       format!("{}\nHost: a\n\n", line(65)) => Refused(414);
        "414 partial line of 64":                line(64) => Partial;
        "414 partial line of 65":                line(65) => Refused(414);
        "414 partial line of 200":               line(200) => Refused(414);
        "431 field line of 64":                  format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", x(64)) => ok();
        "431 field line of 65":                  format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", x(65)) => Refused(431);
        "431 long Host line":                    format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", a(100)) => Refused(431);
        "431 four fields":                       "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n" => ok();
        "431 five fields":                       "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n" => Refused(431);
        "431 head of 200":                       format!("GET / HTTP/1.1\r\nHost: a\r\n{}{}{}\r\n", x(60), x(60), x(47)) => ok();
        "431 head of 201":                       format!("GET / HTTP/1.1\r\nHost: a\r\n{}{}{}\r\n", x(60), x(60), x(48)) => Refused(431);
        "431 partial head of 199":               format!("GET / HTTP/1.1\r\nHost: a\r\n{}{}{}", x(60), x(60), x(48)) => Partial;
        "431 partial head of 200":               format!("GET / HTTP/1.1\r\nHost: a\r\n{}{}{}", x(60), x(60), x(49)) => Refused(431);
        "413 Content-Length of max_body":        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" => len(100);
        "413 Content-Length over max_body":      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n" => Refused(413);
        "413 19 nines over max_body":            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n" => Refused(413);
        "413 chunked is counted while read":     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" => chunked();
    }
}

#[test]
fn request_line_of_exactly_the_limit() {
    let line = format!("GET /{} HTTP/1.1", a(64 - 14));
    table! { limits();
        "414 request line of 64, CRLF":          format!("{line}\r\nHost: a\r\n\r\n") => ok();
        "414 request line of 64, LF":            format!("{line}\nHost: a\n\n") => ok();
    }
}

#[test]
fn partial_head_with_a_long_complete_request_line() {
    let line = format!("GET /{} HTTP/1.1", a(65 - 14));
    table! { limits();
        "414 long line ended, head partial":     format!("{line}\r\nHost: a\r\n") => Refused(414);
    }
}

#[test]
fn leading_empty_lines_are_counted() {
    // RFC 9112 §2.2: at least one empty line before the request line SHOULD be ignored.
    let rows: &[(&str, &[u8], usize)] = &[
        ("none", b"GET / HTTP/1.1\r\n", 0),
        ("one CRLF", b"\r\nGET / HTTP/1.1\r\n", 2),
        ("three CRLF", b"\r\n\r\n\r\nGET /", 6),
        ("bare LFs", b"\n\nGET /", 2),
        ("a CR still waiting for its LF", b"\r", 1),
        ("only empty lines", b"\r\n\r\n", 4),
        ("empty input", b"", 0),
        ("space is not an empty line", b" \r\nGET /", 0),
    ];
    for &(label, input, want) in rows {
        assert_eq!(leading_empty_lines(input), want, "{label}");
    }
}

#[test]
fn tls_records() {
    // A TLS record starts with content type 22 (handshake) and major version 3.
    let rows: &[(&str, &[u8], bool)] = &[
        (
            "TLS 1.0 ClientHello",
            &[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01],
            true,
        ),
        ("TLS 1.2 record header", &[0x16, 0x03, 0x03], true),
        ("first byte only", &[0x16], true),
        ("nothing", &[], false),
        ("version 2", &[0x16, 0x02, 0x00], false),
        ("application data", &[0x17, 0x03, 0x03], false),
        ("SSLv2 hello", &[0x80, 0x2e, 0x01], false),
        ("HTTP", b"GET / HTTP/1.1\r\n", false),
    ];
    for &(label, input, want) in rows {
        assert_eq!(looks_like_tls(input), want, "{label}");
    }
    // And parsed as HTTP, a ClientHello is a 400 at once, not a head waiting for more bytes.
    assert_eq!(
        got(&[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01], &Config::default()),
        Refused(400)
    );
}

#[test]
fn head_parts() {
    // What a complete head hands the worker; bytes after the head are not part of it.
    // (input, method, target, version, the bytes after the head)
    type Row<'a> = (&'a [u8], &'a str, &'a str, Version, &'a [u8]);
    let rows: &[Row<'_>] = &[
        (
            b"GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET",
            "/a?b",
            Version::Http11,
            b"",
        ),
        (
            b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
            "POST",
            "/u",
            Version::Http11,
            b"abc",
        ),
        (
            b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
            "GET",
            "/",
            Version::Http10,
            b"GET / HTTP/1.0\r\n\r\n",
        ),
        (
            b"OPTIONS * HTTP/1.1\nHost: a\n\nX",
            "OPTIONS",
            "*",
            Version::Http11,
            b"X",
        ),
        (
            b"GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET",
            "http://h/p",
            Version::Http11,
            b"",
        ),
    ];
    for &(input, method, target, version, rest) in rows {
        let mut headers = [const { MaybeUninit::uninit() }; 16];
        let Parsed::Complete(h) = parse(input, &mut headers, &Config::default()) else {
            panic!("{}: not complete", input.escape_ascii());
        };
        let label = input.escape_ascii().to_string();
        assert_eq!(
            (h.method, h.target, h.version),
            (method, target, version),
            "{label}"
        );
        assert_eq!(&input[h.len..], rest, "{label}");
    }
}
