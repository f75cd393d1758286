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
