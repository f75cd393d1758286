//! Putting a tag (live reload's `<script>`) into an HTML document: before the last `</body>`,
//! else before the last `</head>`, else at the end; never twice. Socket-free: it works on
//! the document's bytes. (Compressed documents are never given to it: files are served as
//! they are.)

/// The most bytes of a document read to inject into it; a larger one is served as it is.
pub const MAX_INJECTED: u64 = 4 << 20;

/// `html` with `tag` inserted, or `None` when `tag` is in it already (a page that includes
/// the script itself, or a second pass).
pub fn inject(html: &[u8], tag: &[u8]) -> Option<Vec<u8>> {
    if find(html, tag).is_some() {
        return None;
    }
    let at = rfind_ignore_case(html, b"</body")
        .or_else(|| rfind_ignore_case(html, b"</head"))
        .unwrap_or(html.len());
    let mut out = Vec::with_capacity(html.len() + tag.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tag);
    out.extend_from_slice(&html[at..]);
    Some(out)
}

/// The nonce a `Content-Security-Policy` gives scripts, if it gives one: the first
/// `'nonce-…'` source of `script-src-elem`, else `script-src`, else `default-src` (the
/// directive that governs a `<script src>`). A script that carries it runs under that policy;
/// its event stream needs `connect-src` (or `default-src`) to allow `'self'`.
pub fn script_nonce(policy: &str) -> Option<&str> {
    let directive = |name: &str| {
        policy.split(';').map(str::trim).find_map(|d| {
            let mut words = d.split_ascii_whitespace();
            words
                .next()
                .filter(|n| n.eq_ignore_ascii_case(name))
                .map(|_| words)
        })
    };
    let words = directive("script-src-elem")
        .or_else(|| directive("script-src"))
        .or_else(|| directive("default-src"))?;
    words
        .filter_map(|w| w.strip_prefix("'nonce-")?.strip_suffix('\''))
        .find(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b))
        })
}

/// `tag` (a `<script` tag) with `nonce` given to it.
pub fn with_nonce(tag: &str, nonce: &str) -> String {
    tag.replacen("<script ", &format!("<script nonce=\"{nonce}\" "), 1)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len())
        .rposition(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "<script src=/r.js></script>";

    #[test]
    fn the_tag_goes_before_the_last_body_else_head_else_at_the_end() {
        let rows: &[(&str, Option<&str>)] = &[
            (
                "<html><body>x</body></html>",
                Some("<html><body>x<script src=/r.js></script></body></html>"),
            ),
            (
                "<BODY>a</Body><p>late</p></BODY >",
                Some("<BODY>a</Body><p>late</p><script src=/r.js></script></BODY >"),
            ),
            (
                "<head><title>t</title></head>no body tag",
                Some("<head><title>t</title><script src=/r.js></script></head>no body tag"),
            ),
            (
                "<p>a fragment",
                Some("<p>a fragment<script src=/r.js></script>"),
            ),
            ("", Some("<script src=/r.js></script>")),
            ("<body><script src=/r.js></script></body>", None),
        ];
        for (html, want) in rows {
            let got = inject(html.as_bytes(), TAG.as_bytes());
            assert_eq!(
                got.as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
                want.map(str::to_owned),
                "{html}"
            );
        }
    }

    #[test]
    fn a_policy_s_script_nonce_is_found_where_it_governs_scripts() {
        let rows: &[(&str, Option<&str>)] = &[
            ("script-src 'self' 'nonce-abc123'", Some("abc123")),
            (
                "default-src 'self'; script-src 'nonce-x1' 'strict-dynamic'",
                Some("x1"),
            ),
            ("default-src 'nonce-d' ; img-src *", Some("d")),
            ("script-src-elem 'nonce-e'; script-src 'nonce-s'", Some("e")),
            ("script-src 'self'; default-src 'nonce-d'", None),
            ("style-src 'nonce-st'", None),
            ("script-src 'nonce-'", None),
            ("script-src 'nonce-a\"b'", None),
            ("", None),
        ];
        for (policy, want) in rows {
            assert_eq!(script_nonce(policy), *want, "{policy}");
        }
        assert_eq!(
            with_nonce("<script src=\"/r.js\"></script>", "n1"),
            "<script nonce=\"n1\" src=\"/r.js\"></script>"
        );
    }

    #[test]
    fn any_bytes_get_the_tag_exactly_once() {
        // In-process fuzz: prefixes of a document with both tags, and bytes that are not
        // UTF-8; the result always holds the tag once and every original byte in order.
        let doc = b"<html><head></head><body>\xff\xfe</body></html>";
        for cut in 0..=doc.len() {
            let html = &doc[..cut];
            let out = inject(html, TAG.as_bytes()).unwrap();
            assert_eq!(out.len(), html.len() + TAG.len());
            assert_eq!(find(&out, TAG.as_bytes()).into_iter().count(), 1);
            assert!(inject(&out, TAG.as_bytes()).is_none(), "only once");
        }
    }
}
