//! Validators and ranges (RFC 9110 §8.8, §13, §14): which part of a file a request asks for,
//! and whether the client's copy is still good. Pure functions over header bytes; no I/O.

/// The part of a representation a `Range` header asks for (RFC 9110 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// No usable range: answer `200` with the whole file. This covers a missing or malformed
    /// header, another unit than `bytes`, and several ranges (RFC 9110 §14.2 lets a server
    /// ignore `Range`; one `200` is simpler and often smaller than `multipart/byteranges`).
    Whole,
    /// Bytes `start..=end` (inclusive, as `Content-Range` writes them): `206`.
    Part { start: u64, end: u64 },
    /// A syntactically valid single range that starts past the end: `416` with
    /// `Content-Range: bytes */len` (RFC 9110 §15.5.17).
    Unsatisfiable,
}

impl ByteRange {
    /// Parses a `Range` value for a representation of `len` bytes.
    pub(crate) fn parse(value: &[u8], len: u64) -> ByteRange {
        // ranges-specifier = range-unit "=" range-set; the unit is case-insensitive.
        let Some((unit, set)) = split_once(value.trim_ascii(), b'=') else {
            return ByteRange::Whole;
        };
        if !unit.trim_ascii().eq_ignore_ascii_case(b"bytes") {
            return ByteRange::Whole;
        }
        let mut specs = set
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .filter(|s| !s.is_empty());
        let (Some(spec), None) = (specs.next(), specs.next()) else {
            return ByteRange::Whole;
        };
        let Some((first, last)) = split_once(spec, b'-') else {
            return ByteRange::Whole;
        };
        match (number(first), number(last)) {
            // int-range = first-pos "-" [ last-pos ]
            (Some(first), last) if last.is_some() || spec.ends_with(b"-") => {
                if last.is_some_and(|last| last < first) {
                    return ByteRange::Whole; // invalid: ignored (RFC 9110 §14.1.1)
                }
                if first >= len {
                    return ByteRange::Unsatisfiable;
                }
                let end = last.map_or(len - 1, |last| last.min(len - 1));
                ByteRange::Part { start: first, end }
            }
            // suffix-range = "-" suffix-length
            (None, Some(suffix)) if first.is_empty() => {
                if suffix == 0 || len == 0 {
                    return ByteRange::Unsatisfiable;
                }
                ByteRange::Part {
                    start: len - suffix.min(len),
                    end: len - 1,
                }
            }
            _ => ByteRange::Whole,
        }
    }
}

fn split_once(bytes: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = bytes.iter().position(|&b| b == sep)?;
    Some((&bytes[..i], &bytes[i + 1..]))
}

/// `1*DIGIT`, saturating: a position past `u64::MAX` is past any file's end.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// The entity-tags of an `If-None-Match` or `If-Match` value (`*` or a list), compared with
/// `etag` by the weak comparison (RFC 9110 §8.8.3.2: `W/` prefixes are ignored), which is what
/// `If-None-Match` uses.
pub(crate) fn any_etag_matches(list: &[u8], etag: &str) -> bool {
    let list = list.trim_ascii();
    if list == b"*" {
        return true;
    }
    let ours = opaque(etag.as_bytes());
    list.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(|tag| opaque(tag) == ours && !ours.is_empty())
}

/// An entity-tag without its weakness indicator.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// Whether an `If-Range` value lets the range apply (RFC 9110 §13.1.5): an entity-tag must
/// match `etag` strongly (a weak tag never does); a date must equal the `Last-Modified` time
/// exactly. Anything else sends the whole file.
pub(crate) fn if_range_holds(value: &[u8], etag: &str, modified: u64) -> bool {
    let value = value.trim_ascii();
    if value.starts_with(b"\"") {
        return value == etag.as_bytes();
    }
    if value.starts_with(b"W/") {
        return false;
    }
    crate::date::parse_http_date(value) == Some(modified)
}

/// Whether the client's copy, validated by `If-None-Match` or else `If-Modified-Since`, is
/// still current: then the answer is `304` (RFC 9110 §13.2.2, steps 3 and 4 for GET and HEAD).
pub(crate) fn not_modified(
    if_none_match: Option<&[u8]>,
    if_modified_since: Option<&[u8]>,
    etag: &str,
    modified: u64,
) -> bool {
    match (if_none_match, if_modified_since) {
        (Some(list), _) => any_etag_matches(list, etag),
        (None, Some(date)) => {
            crate::date::parse_http_date(date).is_some_and(|since| modified <= since)
        }
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ByteRange::*;

    fn r(value: &str, len: u64) -> ByteRange {
        ByteRange::parse(value.as_bytes(), len)
    }

    #[test]
    fn single_ranges() {
        assert_eq!(r("bytes=0-9", 100), Part { start: 0, end: 9 });
        assert_eq!(r("bytes=10-", 100), Part { start: 10, end: 99 });
        assert_eq!(r("bytes=-10", 100), Part { start: 90, end: 99 });
        assert_eq!(r("bytes=-1000", 100), Part { start: 0, end: 99 });
        assert_eq!(r("bytes=90-1000", 100), Part { start: 90, end: 99 });
        assert_eq!(r("bytes=99-99", 100), Part { start: 99, end: 99 });
        assert_eq!(r("Bytes = 5-6 ", 100), Part { start: 5, end: 6 });
        assert_eq!(
            r("bytes=0-99999999999999999999999", 10),
            Part { start: 0, end: 9 }
        );
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(r("bytes=100-", 100), Unsatisfiable);
        assert_eq!(r("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(r("bytes=-0", 100), Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Unsatisfiable);
        assert_eq!(r("bytes=-5", 0), Unsatisfiable);
        assert_eq!(r("bytes=99999999999999999999999-", 10), Unsatisfiable);
    }

    #[test]
    fn ignored_ranges_send_the_whole_file() {
        for value in [
            "",
            "bytes",
            "bytes=",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=1",
            "bytes=--1",
            "bytes=1-2-3",
            "bytes=0-1,4-5",
            "bytes=0-1, -1",
            "bytes= - ",
            "bytes=+1-2",
        ] {
            assert_eq!(r(value, 100), Whole, "{value:?}");
        }
        assert_eq!(r("bytes=0-1,", 100), Part { start: 0, end: 1 });
    }

    #[test]
    fn entity_tags() {
        let etag = "\"10-5f\"";
        assert!(any_etag_matches(b"\"10-5f\"", etag));
        assert!(any_etag_matches(b"W/\"10-5f\"", etag));
        assert!(any_etag_matches(b"\"x\", \"10-5f\"", etag));
        assert!(any_etag_matches(b" * ", etag));
        assert!(!any_etag_matches(b"\"10-5e\"", etag));
        assert!(!any_etag_matches(b"", etag));
        assert!(!any_etag_matches(b"10-5f", etag));
    }

    #[test]
    fn if_range_needs_a_strong_match() {
        let etag = "\"10-5f\"";
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
        assert!(if_range_holds(b"\"10-5f\"", etag, 0));
        assert!(!if_range_holds(b"W/\"10-5f\"", etag, 0));
        assert!(!if_range_holds(b"\"other\"", etag, 0));
        assert!(if_range_holds(date, etag, 784_111_777));
        assert!(!if_range_holds(date, etag, 784_111_778));
        assert!(!if_range_holds(b"garbage", etag, 0));
    }

    #[test]
    fn conditional_gets() {
        let etag = "\"a\"";
        let date = &b"Sun, 06 Nov 1994 08:49:37 GMT"[..];
        assert!(not_modified(Some(b"\"a\""), None, etag, 5));
        assert!(!not_modified(Some(b"\"b\""), None, etag, 5));
        // If-None-Match present: If-Modified-Since is ignored (RFC 9110 §13.1.3).
        assert!(!not_modified(Some(b"\"b\""), Some(date), etag, 5));
        assert!(not_modified(None, Some(date), etag, 784_111_777));
        assert!(!not_modified(None, Some(date), etag, 784_111_778));
        assert!(!not_modified(None, Some(b"yesterday"), etag, 0));
        assert!(!not_modified(None, None, etag, 0));
    }
}
