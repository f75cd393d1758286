//! Byte-level helpers shared by the head checks, the body decoders, the encoders and the file
//! server: the token alphabet, hex digits, comma-separated lists and decimals.
//!
//! Pure functions on bytes; nothing here knows about requests, responses or sockets.

/// `tchar` (RFC 9110 §5.6.2): the bytes of a token (method, header name, transfer coding).
/// A table lookup: this runs for every byte of every response header name.
#[inline]
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN[b as usize]
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" /
/// "|" / "~" / DIGIT / ALPHA`, as a table indexed by byte.
static TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// True if `s` is a token (RFC 9110 §5.6.2): what a method or a header field name must be.
/// The server refuses a response whose header names are not (a `500`); a front end such as
/// the Python package checks with this before it builds one.
///
/// ```
/// assert!(basehttp::is_token("X-Request-Id"));
/// assert!(!basehttp::is_token("X Request"));
/// assert!(!basehttp::is_token(""));
/// ```
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// True if `s` may be sent as a header field value: no CR, LF or NUL (RFC 9110 §5.5), the
/// bytes that would end the field early and let a value inject a header or split the
/// response.
///
/// ```
/// assert!(basehttp::is_field_value("text/html; charset=utf-8"));
/// assert!(!basehttp::is_field_value("a\r\nSet-Cookie: b"));
/// ```
pub fn is_field_value(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// True if `s` may be sent as a reason phrase: `*( HTAB / SP / VCHAR / obs-text )` (RFC 9112
/// §4).
///
/// ```
/// assert!(basehttp::is_reason_phrase("Not Found"));
/// assert!(!basehttp::is_reason_phrase("Not\r\nFound"));
/// ```
pub fn is_reason_phrase(s: &str) -> bool {
    s.bytes()
        .all(|b| b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80)
}

/// The value of a hex digit (`HEXDIG`, either case).
#[inline]
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The non-empty, trimmed elements of a comma-separated header value (RFC 9110 §5.6.1).
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

/// Appends `n` in decimal, without going through `fmt` (this runs once per response).
#[inline]
pub(crate) fn put_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `n` as exactly `N` lowercase hex digits, leading zeros included; `None` if it needs more.
pub(crate) fn fixed_hex<const N: usize>(n: u64) -> Option<[u8; N]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if N < 16 && n >> (4 * N) != 0 {
        return None;
    }
    let mut digits = [b'0'; N];
    for (i, digit) in digits.iter_mut().enumerate() {
        let shift = 4 * (N - 1 - i);
        *digit = if shift < 64 {
            HEX[((n >> shift) & 0xf) as usize]
        } else {
            b'0'
        };
    }
    Some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            put_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn hex_digits_both_cases() {
        let digits: Vec<_> = b"09afAF".iter().map(|&b| hex_value(b)).collect();
        assert_eq!(digits, [0, 9, 10, 15, 10, 15].map(Some));
        for b in [b'g', b'G', b' ', b'x', 0, 0xff] {
            assert_eq!(hex_value(b), None, "{b}");
        }
    }

    #[test]
    fn fixed_width_hex() {
        assert_eq!(fixed_hex::<8>(0x4000), Some(*b"00004000"));
        assert_eq!(fixed_hex::<8>(0xffff_ffff), Some(*b"ffffffff"));
        assert_eq!(fixed_hex::<8>(0x1_0000_0000), None);
        assert_eq!(fixed_hex::<16>(u64::MAX), Some(*b"ffffffffffffffff"));
    }

    #[test]
    fn tokens_and_lists() {
        assert!(b"GET".iter().all(|&b| is_token_byte(b)));
        for b in *b" \t\"(),/:;<=>?@[\\]{}\x7f" {
            assert!(!is_token_byte(b), "{b}");
        }
        let items: Vec<_> = list_items(b" gzip ,, chunked,").collect();
        assert_eq!(items, [&b"gzip"[..], b"chunked"]);
    }
}
