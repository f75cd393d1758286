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
