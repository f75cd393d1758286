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
