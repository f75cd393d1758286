//! From a request path to a path under the root: percent-decoding once, normalising, and
//! refusing every form that could leave the root or reach a hidden file (issue 3, "Safety").
//!
//! Pure functions over bytes; no I/O. Symlinks are the file system's business and are checked
//! after opening, in the parent module.

use crate::http1::lex::hex_value;

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathRefusal {
    /// A `%` not followed by two hex digits: `400`.
    Malformed,
    /// A `..` segment (plain or encoded), an encoded `/` or `\`, a backslash, or a NUL: `403`.
    Forbidden,
    /// A segment that starts with `.` while hidden files are not served: `404`, as if absent.
    Hidden,
}

impl PathRefusal {
    /// The status that answers this refusal.
    pub(crate) fn status(self) -> u16 {
        match self {
            PathRefusal::Malformed => 400,
            PathRefusal::Forbidden => 403,
            PathRefusal::Hidden => 404,
        }
    }
}

/// What [`resolve`] learnt about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The request path ended with `/` (a directory URL).
    pub(crate) trailing_slash: bool,
    /// No segment was appended: the request names the root.
    pub(crate) is_root: bool,
}

/// Decodes `path` (the request path, still percent-encoded) and appends its segments to
/// `out`, each preceded by `/`, so that `out` starting with the root names the file.
///
/// The rules, in order, per `/`-separated segment of the raw path:
/// - empty segments (`//`) are dropped; a leading `/` is implied, so no absolute path or
///   `C:`-style prefix can replace the root;
/// - `%XX` is decoded once (`%252e` stays `%2e`, a name); a `%` without two hex digits is
///   malformed;
/// - a decoded `/` or `\` (`%2f`, `%5c`), a raw `\`, or a NUL is forbidden: separators come only
///   from the raw path, and Windows-style separators never;
/// - `.` is dropped, `..` is forbidden (not resolved: a client that sends it is probing);
/// - a segment starting with `.` is hidden unless `hidden` is set.
///
/// On a refusal, `out` may hold part of the path; the caller discards it.
pub(crate) fn resolve(
    path: &str,
    hidden: bool,
    out: &mut Vec<u8>,
) -> Result<Resolved, PathRefusal> {
    let start = out.len();
    for raw in path.as_bytes().split(|&b| b == b'/') {
        if raw.is_empty() {
            continue;
        }
        let segment_start = out.len();
        out.push(b'/');
        decode_segment(raw, out)?;
        let segment = &out[segment_start + 1..];
        match segment {
            b"." => out.truncate(segment_start),
            b".." => return Err(PathRefusal::Forbidden),
            [b'.', ..] if !hidden => return Err(PathRefusal::Hidden),
            _ => {}
        }
    }
    Ok(Resolved {
        trailing_slash: path.ends_with('/'),
        is_root: out.len() == start,
    })
}

/// Appends the percent-decoded `raw` segment to `out`.
fn decode_segment(raw: &[u8], out: &mut Vec<u8>) -> Result<(), PathRefusal> {
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathRefusal::Malformed);
                };
                i += 3;
                let decoded = hi << 4 | lo;
                if decoded == b'/' {
                    return Err(PathRefusal::Forbidden);
                }
                decoded
            }
            b => {
                i += 1;
                b
            }
        };
        if b == b'\\' || b == 0 {
            return Err(PathRefusal::Forbidden);
        }
        out.push(b);
    }
    Ok(())
}

/// Appends `bytes` percent-encoded for a URL path segment: everything but RFC 3986's
/// unreserved characters is encoded, so a name can never be read as a scheme (`a:b`), a query,
/// a fragment or markup.
pub(crate) fn encode_segment(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// Appends `text` with the five HTML-significant characters escaped, for element content and
/// quoted attribute values.
pub(crate) fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(path: &str, hidden: bool) -> Result<(String, Resolved), PathRefusal> {
        let mut out = b"/root".to_vec();
        let r = resolve(path, hidden, &mut out)?;
        Ok((String::from_utf8(out).unwrap(), r))
    }

    fn ok(path: &str) -> String {
        resolved(path, false).unwrap().0
    }

    #[test]
    fn plain_paths_join_the_root() {
        assert_eq!(ok("/"), "/root");
        assert_eq!(ok("/a/b.txt"), "/root/a/b.txt");
        assert_eq!(ok("/a/b/"), "/root/a/b");
        let (_, r) = resolved("/", false).unwrap();
        assert!(r.trailing_slash && r.is_root);
        let (_, r) = resolved("/a", false).unwrap();
        assert!(!r.trailing_slash && !r.is_root);
    }

    #[test]
    fn percent_decoding_happens_once() {
        assert_eq!(ok("/caf%C3%A9%20au%20lait.txt"), "/root/café au lait.txt");
        assert_eq!(ok("/a%252e"), "/root/a%2e");
        assert_eq!(ok("/v1%2e2.js"), "/root/v1.2.js");
        assert_eq!(ok("/a+b"), "/root/a+b");
        for bad in ["/%", "/%4", "/%zz", "/a%g0", "/%%41"] {
            assert_eq!(resolved(bad, false), Err(PathRefusal::Malformed), "{bad}");
        }
    }

    #[test]
    fn normalisation_drops_empty_and_dot_segments() {
        assert_eq!(ok("//etc/passwd"), "/root/etc/passwd");
        assert_eq!(ok("/a/./b//c"), "/root/a/b/c");
        assert_eq!(ok("/%2e/a"), "/root/a");
        assert_eq!(ok("/C:/x"), "/root/C:/x");
    }

    #[test]
    fn escapes_are_forbidden() {
        for bad in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc/passwd",
            "/%2E%2E",
            "/.%2e/x",
            "/..%2fetc",
            "/a%2Fb",
            "/a%5cb",
            "/a%5C..%5Cb",
            "/a\\b",
            "/..\\x",
            "/a%00b",
        ] {
            assert_eq!(resolved(bad, true), Err(PathRefusal::Forbidden), "{bad}");
        }
    }

    #[test]
    fn dotfiles_are_hidden_unless_asked() {
        for path in ["/.env", "/.git/config", "/a/.hidden/b", "/%2egit/HEAD"] {
            assert_eq!(resolved(path, false), Err(PathRefusal::Hidden), "{path}");
            assert!(resolved(path, true).is_ok(), "{path}");
        }
        assert_eq!(ok("/a.b/c.d"), "/root/a.b/c.d");
    }

    #[test]
    fn encoding_and_escaping() {
        let mut s = String::new();
        encode_segment("a b/c?d#e%f:g<é>.~_-".as_bytes(), &mut s);
        assert_eq!(s, "a%20b%2Fc%3Fd%23e%25f%3Ag%3C%C3%A9%3E.~_-");
        let mut back = Vec::new();
        decode_segment(s.replace("%2F", "").as_bytes(), &mut back).unwrap();
        assert_eq!(back, "a bc?d#e%f:g<é>.~_-".as_bytes());
        let mut h = String::new();
        escape_html(r#"<a href="x">Tom & Jerry's</a>"#, &mut h);
        assert_eq!(
            h,
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }
}
