//! Body decoding on byte slices.

use super::*;

#[test]
fn a_length_body_leaves_what_follows() {
    let (body, rest) = decode_all(b"helloGET /", BodyLength::Length(5), 100).unwrap();
    assert_eq!((&body[..], rest), (&b"hello"[..], &b"GET /"[..]));
}

#[test]
fn a_chunked_body_leaves_what_follows() {
    let (body, rest) =
        decode_all(b"5\r\nhello\r\n0\r\n\r\nGET /", BodyLength::Chunked, 100).unwrap();
    assert_eq!((&body[..], rest), (&b"hello"[..], &b"GET /"[..]));
}

#[test]
fn a_body_error_as_io_error_says_it_is_one() {
    for e in [
        BodyError::Malformed,
        BodyError::TooLarge,
        BodyError::Timeout,
        BodyError::Incomplete,
    ] {
        let io = e.to_io();
        assert_eq!(io.to_string(), e.to_string());
        assert_eq!(BodyError::of(&io), Some(e));
        // Passed on by a reader and `io::copy`, it still is.
        struct Failing(BodyError);
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(self.0.to_io())
            }
        }
        let passed = io::copy(&mut Failing(e), &mut io::sink()).unwrap_err();
        assert_eq!(BodyError::of(&passed), Some(e));
    }
    assert_eq!(BodyError::of(&io::ErrorKind::InvalidData.into()), None);
    assert_eq!(BodyError::of(&io::Error::other("disk")), None);
    let data = io::Error::new(io::ErrorKind::InvalidData, "malformed chunked body");
    assert_eq!(BodyError::of(&data), None);
}

// ---------------------------------------------------------------------------------------
// Table tests, in httparse's style: one RFC 9112 §7.1 case a line, its label naming the rule.
// Every table also runs under `every_split_decodes_alike`, fed in pieces.

use std::fmt::Write as _;

use BodyError::{Incomplete, Malformed, TooLarge};
use BodyLength::{Chunked, Length};

/// The body and the bytes left after it, or the error.
type Outcome = Result<(Vec<u8>, Vec<u8>), BodyError>;

struct Case {
    label: &'static str,
    input: Vec<u8>,
    length: BodyLength,
    max: u64,
    want: Outcome,
}

fn ok(body: impl AsRef<[u8]>, rest: impl AsRef<[u8]>) -> Outcome {
    Ok((body.as_ref().to_vec(), rest.as_ref().to_vec()))
}

/// `cases!(length, max_body; "label": input => want; ...)`, inputs anything `AsRef<[u8]>`.
macro_rules! cases {
    ($length:expr, $max:expr; $($label:literal: $input:expr => $want:expr;)+) => {
        vec![$(Case {
            label: $label,
            input: AsRef::<[u8]>::as_ref(&$input).to_vec(),
            length: $length,
            max: $max,
            want: $want,
        },)+]
    };
}

/// Decodes every row with `decode_all` and panics naming each row that differs.
fn run(cases: Vec<Case>) {
    let mut failures = String::new();
    for c in &cases {
        let got = decode_all(&c.input, c.length, c.max).map(|(b, r)| (b, r.to_vec()));
        if got != c.want {
            let _ = writeln!(
                failures,
                "  {}: got {:?}, want {:?}\n    input: \"{}\"",
                c.label,
                got.as_ref()
                    .map(|(b, r)| (b.escape_ascii().to_string(), r.escape_ascii().to_string())),
                c.want
                    .as_ref()
                    .map(|(b, r)| (b.escape_ascii().to_string(), r.escape_ascii().to_string())),
                short(&c.input),
            );
        }
    }
    assert!(failures.is_empty(), "failing rows:\n{failures}");
}

/// An input for a failure message, long runs cut.
fn short(input: &[u8]) -> String {
    let s = input.escape_ascii().to_string();
    if s.len() > 200 {
        format!("{}...({} bytes)", &s[..200], input.len())
    } else {
        s
    }
}

const MAX: u64 = 1 << 20;

fn chunk_sizes() -> Vec<Case> {
    // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; chunk-size = 1*HEXDIG.
    cases! { Chunked, MAX;
        "§7.1 one chunk":                        "5\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1 several chunks":                   "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n" => ok("hello world", "");
        "§7.1 no chunks at all":                 "0\r\n\r\n" => ok("", "");
        "§7.1 HEXDIG upper case":                "A\r\n0123456789\r\n0\r\n\r\n" => ok("0123456789", "");
        "§7.1 HEXDIG lower case":                "a\r\n0123456789\r\n0\r\n\r\n" => ok("0123456789", "");
        "§7.1 HEXDIG mixed case, two digits":    format!("1F\r\n{}\r\n1f\r\n{}\r\n0\r\n\r\n", "x".repeat(31), "y".repeat(31)) => ok(format!("{}{}", "x".repeat(31), "y".repeat(31)), "");
        "§7.1 leading zeros":                    "0005\r\nhello\r\n000\r\n\r\n" => ok("hello", "");
        "§7.1 16 digits, all but one zeros":     "0000000000000005\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1 17 digits refused":                "00000000000000005\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 17 zeros refused":                 "00000000000000000\r\n\r\n" => Err(Malformed);
        "§7.1 size of u64::MAX: too large":      "ffffffffffffffff\r\nhello\r\n0\r\n\r\n" => Err(TooLarge);
        "§7.1 size that would overflow u64":     "10000000000000000\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 data holding CRLFs":               "4\r\n\r\n\r\n\r\n0\r\n\r\n" => ok("\r\n\r\n", "");
        "§7.1 data holding binary bytes":        b"3\r\n\x00\xff\n\r\n0\r\n\r\n" => ok(b"\x00\xff\n", "");
        "§7.1 empty size line":                  "\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 size with a sign":                 "+5\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 size in 0x form":                  "0x5\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 space before the size":            " 5\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 non-hex digit":                    "5g\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 bare LF after the size":           "5\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 bare LF after the last size":      "0\n\r\n" => Err(Malformed);
        "§7.1 CR without LF after the size":     "5\rhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 data longer than its size":        "3\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1 no CRLF after the data":           "5\r\nhello0\r\n\r\n" => Err(Malformed);
        "§7.1 bare LF after the data":           "5\r\nhello\n0\r\n\r\n" => Err(Malformed);
        "§7.1 CR without LF after the data":     "5\r\nhello\r0\r\n\r\n" => Err(Malformed);
        "§7.1 LF CR after the data":             "5\r\nhello\n\r0\r\n\r\n" => Err(Malformed);
    }
}

fn chunk_extensions() -> Vec<Case> {
    // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ),
    // ext-val = token / quoted-string; read and discarded.
    cases! { Chunked, MAX;
        "§7.1.1 a bare name":                    "5;name\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 name=token":                     "5;name=value\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 name=quoted-string":             "5;name=\"a value\"\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 quoted-string with escapes":     "5;n=\"a \\\"b\\\" \\\\\"\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 separators inside quotes":       "5;n=\"a;b=c,(d)\"\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 several extensions":             "5;a;b=c;d=\"e\"\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 BWS before ;":                   "5 ;a=b\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 HTAB BWS before ;":              "5\t \t;a=b\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 BWS around = and after ;":       "5; a = b\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        "§7.1.1 extension on the last chunk":    "5\r\nhello\r\n0;a=\"b\"\r\n\r\n" => ok("hello", "");
        "§7.1.1 obs-text in quotes":             b"5;a=\"\xe9\"\r\nhello\r\n0\r\n\r\n" => ok("hello", "");
        // BWS is allowed only before ";": whitespace alone after the size is refused.
        "§7.1.1 trailing BWS, no ;":             "5 \r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 trailing BWS on the last chunk": "5\r\nhello\r\n0 \r\n\r\n" => Err(Malformed);
        "§7.1.1 trailing HTAB, no ;":            "5\t\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 junk after the size":            "5 junk\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 a second size":                  "5 5\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 separator outside quotes":       "5;a=(b)\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 comma outside quotes":           "5;a,b\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 control byte in a name":         b"5;a\x01=b\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 NUL in a value":                 b"5;a=b\x00\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 DEL in a value":                 b"5;a=b\x7f\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 control byte in quotes":         b"5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 bare LF ends an extension":      "5;a=b\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 bare LF inside quotes":          "5;a=\"b\nc\"\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 CR inside quotes":               "5;a=\"b\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "§7.1.1 bare CR in an extension":        "5;a\rb\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
        "MAX_CHUNK_EXT - 1 bytes of extension":  format!("5;{}\r\nhello\r\n0\r\n\r\n", "a".repeat(MAX_CHUNK_EXT - 2)) => ok("hello", "");
        "MAX_CHUNK_EXT + 1 bytes of extension":  format!("5;{}\r\nhello\r\n0\r\n\r\n", "a".repeat(MAX_CHUNK_EXT)) => Err(Malformed);
        "MAX_CHUNK_EXT + 1 bytes of BWS":        format!("5{};a\r\nhello\r\n0\r\n\r\n", " ".repeat(MAX_CHUNK_EXT + 1)) => Err(Malformed);
        "an endless extension in quotes":        format!("5;a=\"{}", "b".repeat(2 * MAX_CHUNK_EXT)) => Err(Malformed);
    }
}

fn trailers() -> Vec<Case> {
    // RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then the final CRLF; read
    // strictly and discarded.
    cases! { Chunked, MAX;
        "§7.1.2 one trailer":                    "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n" => ok("hello", "");
        "§7.1.2 two trailers":                   "0\r\nA: 1\r\nB: 2\r\n\r\n" => ok("", "");
        "§5.1 no space after the colon":         "0\r\nA:1\r\n\r\n" => ok("", "");
        "§5.1 empty value":                      "0\r\nA:\r\n\r\n" => ok("", "");
        "9110§5.5 HTAB in a value":              "0\r\nA:\tb\tc\r\n\r\n" => ok("", "");
        "9110§5.5 obs-text in a value":          b"0\r\nA: caf\xc3\xa9\r\n\r\n" => ok("", "");
        "9110§5.6.2 every tchar in a name":      "0\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n" => ok("", "");
        "§7.1.2 bare LF after a trailer":        "0\r\nA: b\n\r\n" => Err(Malformed);
        "§7.1.2 bare LF for the final line":     "0\r\nA: b\r\n\n" => Err(Malformed);
        "§7.1.2 CR then junk after a trailer":   "0\r\nA: b\rX\r\n\r\n" => Err(Malformed);
        "§7.1.2 CR then junk, final line":       "0\r\n\rX" => Err(Malformed);
        "§7.1.2 a line without a colon":         "0\r\nnocolon\r\n\r\n" => Err(Malformed);
        "§7.1.2 an empty name":                  "0\r\n: v\r\n\r\n" => Err(Malformed);
        "§5.1 space before the colon":           "0\r\nA : b\r\n\r\n" => Err(Malformed);
        "§5.2 leading space (obs-fold)":         "0\r\nA: b\r\n c\r\n\r\n" => Err(Malformed);
        "§5.1 name not a token":                 "0\r\nA(b): c\r\n\r\n" => Err(Malformed);
        "9110§5.5 control byte in a value":      b"0\r\nA: b\x01\r\n\r\n" => Err(Malformed);
        "9110§5.5 NUL in a value":               b"0\r\nA: \x00\r\n\r\n" => Err(Malformed);
        "9110§5.5 DEL in a value":               b"0\r\nA: \x7f\r\n\r\n" => Err(Malformed);
        "MAX_TRAILERS bytes in one line":        format!("0\r\nA: {}\r\n\r\n", "b".repeat(MAX_TRAILERS - 5)) => ok("", "");
        "MAX_TRAILERS + 1 bytes in one line":    format!("0\r\nA: {}\r\n\r\n", "b".repeat(MAX_TRAILERS - 4)) => Err(Malformed);
        "an endless trailer value":              format!("0\r\nA: {}", "b".repeat(2 * MAX_TRAILERS)) => Err(Malformed);
        "an endless name":                       format!("0\r\n{}", "b".repeat(2 * MAX_TRAILERS)) => Err(Malformed);
    }
}

fn smuggling_and_rest() -> Vec<Case> {
    // RFC 9112 §11.2: the body ends exactly where its framing says; what follows is the next
    // request, and nothing a front end could read as a request passes inside the body.
    cases! { Chunked, MAX;
        "§7.1 pipelined request left":           "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n" => ok("hello", "GET / HTTP/1.1\r\n\r\n");
        "§7.1.2 rest after trailers":            "0\r\nA: b\r\n\r\nPOST" => ok("", "POST");
        "§7.1 a second chunked body left":       "0\r\n\r\n0\r\n\r\n" => ok("", "0\r\n\r\n");
        "§11.2 0 CRLF LF then a request":        "0\r\n\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n" => Err(Malformed);
        "§11.2 a request as a trailer":          "0\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n" => Err(Malformed);
        "§11.2 bare LF chunk line, request":     "5\nhello\n0\n\nGET / HTTP/1.1\r\n\r\n" => Err(Malformed);
        "§11.2 request hidden after LF ext":     "2;\nxx\r\n45\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n" => Err(Malformed);
        "§11.2 size too short for the data":     "2\r\nhello\r\n0\r\n\r\n" => Err(Malformed);
    }
}

fn body_limits() -> Vec<Case> {
    // docs/http1.md's 413 row: chunked data is counted against max_body, here 10, across chunks.
    cases! { Chunked, 10;
        "413 exactly max_body, one chunk":       "a\r\n0123456789\r\n0\r\n\r\n" => ok("0123456789", "");
        "413 exactly max_body, two chunks":      "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n" => ok("0123456789", "");
        "413 one chunk over max_body":           "b\r\n0123456789a\r\n0\r\n\r\n" => Err(TooLarge);
        "413 two chunks over max_body":          "6\r\n012345\r\n5\r\n6789a\r\n0\r\n\r\n" => Err(TooLarge);
        "413 at the size line, before the data": "b\r\n" => Err(TooLarge);
        "413 a huge size":                       "ffffffff\r\n" => Err(TooLarge);
    }
}

fn truncated() -> Vec<Case> {
    // A body cut short: the client closed (or will send more; the server waits).
    cases! { Chunked, MAX;
        "cut: nothing":                          "" => Err(Incomplete);
        "cut: in the size":                      "5" => Err(Incomplete);
        "cut: after the size's CR":              "5\r" => Err(Incomplete);
        "cut: after the size line":              "5\r\n" => Err(Incomplete);
        "cut: in the data":                      "5\r\nhel" => Err(Incomplete);
        "cut: after the data":                   "5\r\nhello" => Err(Incomplete);
        "cut: after the data's CR":              "5\r\nhello\r" => Err(Incomplete);
        "cut: before the last chunk":            "5\r\nhello\r\n" => Err(Incomplete);
        "cut: in an extension":                  "5;a=\"b" => Err(Incomplete);
        "cut: after the last chunk":             "0\r\n" => Err(Incomplete);
        "cut: in a trailer":                     "0\r\nA: b" => Err(Incomplete);
        "cut: after a trailer":                  "0\r\nA: b\r\n" => Err(Incomplete);
        "cut: before the final LF":              "0\r\n\r" => Err(Incomplete);
    }
}

fn length_bodies() -> Vec<Case> {
    // RFC 9112 §6.2 / §6.3¶6: exactly Content-Length bytes; what follows is the next request.
    let mut cases = cases! { Length(5), MAX;
        "§6.2 exact":                            "hello" => ok("hello", "");
        "§6.2 pipelined bytes left":             "helloGET / HTTP/1.1\r\n\r\n" => ok("hello", "GET / HTTP/1.1\r\n\r\n");
        "§6.2 framing bytes are data":           "0\r\n\r\n" => ok("0\r\n\r\n", "");
        "§6.2 short: incomplete":                "hel" => Err(Incomplete);
        "§6.2 nothing: incomplete":              "" => Err(Incomplete);
    };
    cases.extend(cases! { Length(0), MAX;
        "§6.2 Content-Length: 0":                "GET / HTTP/1.1\r\n\r\n" => ok("", "GET / HTTP/1.1\r\n\r\n");
    });
    cases.extend(cases! { BodyLength::None, MAX;
        "§6.3¶7 no body: everything left":       "hello" => ok("", "hello");
    });
    cases.extend(cases! { Length(10000), MAX;
        "§6.2 a body past the 4 KiB buffer":     "x".repeat(10000) + "rest" => ok("x".repeat(10000), "rest");
    });
    cases
}

fn all_tables() -> Vec<Vec<Case>> {
    vec![
        chunk_sizes(),
        chunk_extensions(),
        trailers(),
        smuggling_and_rest(),
        body_limits(),
        truncated(),
        length_bodies(),
    ]
}

#[test]
fn chunk_size_lines() {
    run(chunk_sizes());
}

#[test]
fn chunk_extension_grammar() {
    run(chunk_extensions());
}

#[test]
fn trailer_sections() {
    run(trailers());
}

#[test]
fn no_smuggling_and_the_rest_is_left() {
    run(smuggling_and_rest());
}

#[test]
fn chunked_data_is_counted_against_max_body() {
    run(body_limits());
}

#[test]
fn truncated_bodies_are_incomplete() {
    run(truncated());
}

#[test]
fn content_length_bodies() {
    run(length_bodies());
}

#[test]
fn an_extension_of_exactly_max_chunk_ext() {
    run(cases! { Chunked, MAX;
        "MAX_CHUNK_EXT bytes of extension":      format!("5;{}\r\nhello\r\n0\r\n\r\n", "a".repeat(MAX_CHUNK_EXT - 1)) => ok("hello", "");
    });
}

#[test]
fn trailer_lines_count_their_lf() {
    // 4-byte lines `a:\r\n`: sections of MAX_TRAILERS bytes and four more, plus the final
    // CRLF.
    let section = "a:\r\n".repeat(MAX_TRAILERS / 4);
    run(cases! { Chunked, MAX;
        "MAX_TRAILERS bytes of short lines":     format!("0\r\n{section}\r\n") => ok("", "");
        "MAX_TRAILERS + 4 bytes of short lines": format!("0\r\n{section}a:\r\n\r\n") => Err(Malformed);
    });
}

#[test]
fn every_split_decodes_alike() {
    // A socket may deliver the bytes in any pieces and the reader ask for any amounts: the
    // outcome (the data and the bytes left, or the error) must not depend on them.
    let splits: &[&[usize]] = &[
        &[1],
        &[2, 3],
        &[7],
        &[1, 1000],
        &[4096],
        &[3, 1, 4, 1, 5, 9, 2, 6],
    ];
    let mut failures = String::new();
    let mut rows = 0;
    for case in all_tables().iter().flatten() {
        rows += 1;
        let whole = decode_all(&case.input, case.length, case.max).map(|(b, r)| (b, r.len()));
        for &split in splits {
            let pieces = decode_split(&case.input, split, case.length, case.max);
            if pieces != whole {
                let _ = writeln!(
                    failures,
                    "  {} with splits {split:?}: got {pieces:?}, whole gave {whole:?}",
                    case.label
                );
            }
        }
    }
    assert!(rows > 100, "the tables went missing");
    assert!(failures.is_empty(), "failing rows:\n{failures}");
}

#[test]
fn a_failed_decoder_stays_failed() {
    let mut decoder = Decoder::new(Chunked, MAX);
    let mut src: &[u8] = b"5\nhello\r\n0\r\n\r\n";
    let mut out = [0u8; 16];
    assert_eq!(decoder.decode(&mut src, &mut out), Err(Malformed));
    assert_eq!(decoder.error(), Some(Malformed));
    let mut more: &[u8] = b"0\r\n\r\n";
    assert_eq!(decoder.decode(&mut more, &mut out), Err(Malformed));
    assert!(!decoder.is_complete());
}
