//! Media types by file extension (issue 3: "a table covering the common web, text, image,
//! font, media, archive and wasm types"). Text types carry `charset=utf-8`, since files a
//! developer writes today are UTF-8 and browsers otherwise guess (often Windows-1252).

/// The type of anything the table does not know: the browser downloads it rather than
/// guessing (and, with `X-Content-Type-Options` absent, sniffing stays the browser's choice).
pub(crate) const UNKNOWN: &str = "application/octet-stream";

/// Plain text, which browsers show inline.
const TEXT: &str = "text/plain; charset=utf-8";

/// The longest extension in [`TABLE`]: longer ones are unknown without a lookup.
const MAX_EXTENSION: usize = 11;

/// Extension (lowercase, without the dot) to `Content-Type`.
const TABLE: &[(&str, &str)] = &[
    // Web
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("xhtml", "application/xhtml+xml; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("cjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("jsonld", "application/ld+json"),
    ("webmanifest", "application/manifest+json"),
    ("wasm", "application/wasm"),
    ("xml", "application/xml; charset=utf-8"),
    ("rss", "application/rss+xml; charset=utf-8"),
    ("atom", "application/atom+xml; charset=utf-8"),
    // Text
    ("txt", TEXT),
    ("text", TEXT),
    ("log", TEXT),
    ("csv", "text/csv; charset=utf-8"),
    ("tsv", "text/tab-separated-values; charset=utf-8"),
    ("ics", "text/calendar; charset=utf-8"),
    ("vtt", "text/vtt; charset=utf-8"),
    // Source and configuration files a developer opens to read: `text/plain`, the one text
    // type every browser shows rather than downloads (Firefox downloads `text/markdown`, bug
    // 1319262; Chrome and Firefox download `application/yaml` and `application/toml`).
    // `ts` is TypeScript here rather than an MPEG transport stream (`video/mp2t`): in a
    // developer's tree it is far more often the first.
    ("md", TEXT),
    ("markdown", TEXT),
    ("rst", TEXT),
    ("adoc", TEXT),
    ("tex", TEXT),
    ("toml", TEXT),
    ("yaml", TEXT),
    ("yml", TEXT),
    ("ini", TEXT),
    ("cfg", TEXT),
    ("conf", TEXT),
    ("properties", TEXT),
    ("lock", TEXT),
    ("env", TEXT),
    ("diff", TEXT),
    ("patch", TEXT),
    ("sh", TEXT),
    ("bash", TEXT),
    ("zsh", TEXT),
    ("fish", TEXT),
    ("ps1", TEXT),
    ("bat", TEXT),
    ("rs", TEXT),
    ("py", TEXT),
    ("pyi", TEXT),
    ("rb", TEXT),
    ("pl", TEXT),
    ("php", TEXT),
    ("lua", TEXT),
    ("r", TEXT),
    ("jl", TEXT),
    ("go", TEXT),
    ("c", TEXT),
    ("h", TEXT),
    ("cc", TEXT),
    ("cpp", TEXT),
    ("cxx", TEXT),
    ("hpp", TEXT),
    ("hh", TEXT),
    ("cs", TEXT),
    ("java", TEXT),
    ("kt", TEXT),
    ("kts", TEXT),
    ("scala", TEXT),
    ("swift", TEXT),
    ("m", TEXT),
    ("dart", TEXT),
    ("zig", TEXT),
    ("hs", TEXT),
    ("ml", TEXT),
    ("ex", TEXT),
    ("exs", TEXT),
    ("erl", TEXT),
    ("clj", TEXT),
    ("elm", TEXT),
    ("ts", TEXT),
    ("tsx", TEXT),
    ("jsx", TEXT),
    ("vue", TEXT),
    ("svelte", TEXT),
    ("scss", TEXT),
    ("sass", TEXT),
    ("less", TEXT),
    ("sql", TEXT),
    ("graphql", TEXT),
    ("gql", TEXT),
    ("proto", TEXT),
    ("cmake", TEXT),
    ("mk", TEXT),
    ("gradle", TEXT),
    // Images
    ("png", "image/png"),
    ("apng", "image/apng"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("svg", "image/svg+xml"),
    ("ico", "image/x-icon"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    // Fonts
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("eot", "application/vnd.ms-fontobject"),
    // Audio and video
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/opus"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("mid", "audio/midi"),
    ("midi", "audio/midi"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("webm", "video/webm"),
    ("ogv", "video/ogg"),
    ("mov", "video/quicktime"),
    ("mkv", "video/x-matroska"),
    ("avi", "video/x-msvideo"),
    // Documents and archives
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tgz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("bz2", "application/x-bzip2"),
    ("xz", "application/x-xz"),
    ("zst", "application/zstd"),
    ("7z", "application/x-7z-compressed"),
    ("rar", "application/vnd.rar"),
];

/// The `Content-Type` for a file name or path, from its extension (case-insensitive).
pub(crate) fn content_type(name: &[u8]) -> &'static str {
    let base = match name.iter().rposition(|&b| b == b'/') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    let Some(dot) = base.iter().rposition(|&b| b == b'.') else {
        return UNKNOWN;
    };
    let ext = &base[dot + 1..];
    if ext.is_empty() || ext.len() > MAX_EXTENSION {
        return UNKNOWN;
    }
    let mut lower = [0u8; MAX_EXTENSION];
    for (l, b) in lower.iter_mut().zip(ext) {
        *l = b.to_ascii_lowercase();
    }
    let ext = &lower[..ext.len()];
    TABLE
        .iter()
        .find(|(e, _)| e.as_bytes() == ext)
        .map_or(UNKNOWN, |&(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types() {
        assert_eq!(content_type(b"index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type(b"/a/b/app.JS"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(b"s.css"), "text/css; charset=utf-8");
        assert_eq!(content_type(b"logo.svg"), "image/svg+xml");
        assert_eq!(content_type(b"f.woff2"), "font/woff2");
        assert_eq!(content_type(b"m.wasm"), "application/wasm");
        assert_eq!(content_type(b"v.webm"), "video/webm");
        assert_eq!(content_type(b"x.tar.gz"), "application/gzip");
        assert_eq!(
            content_type(b"site.webmanifest"),
            "application/manifest+json"
        );
    }

    #[test]
    fn text_types_say_utf8() {
        for (ext, t) in TABLE {
            if t.starts_with("text/") {
                assert!(t.ends_with("; charset=utf-8"), "{ext}");
            }
            assert!(
                ext.len() <= MAX_EXTENSION && *ext == ext.to_lowercase(),
                "{ext}"
            );
        }
    }

    #[test]
    fn source_and_configuration_files_are_plain_text() {
        for name in [
            &b"Cargo.toml"[..],
            b"src/lib.rs",
            b"manage.py",
            b".github/workflows/ci.yaml",
            b"compose.yml",
            b"README.md",
            b"index.rst",
            b"run.sh",
            b"main.c",
            b"main.h",
            b"main.go",
            b"Main.java",
            b"app.ts",
            b"Cargo.lock",
        ] {
            assert_eq!(content_type(name), TEXT, "{name:?}");
        }
    }

    #[test]
    fn the_table_names_each_extension_once() {
        for (i, (ext, _)) in TABLE.iter().enumerate() {
            assert!(
                TABLE[i + 1..].iter().all(|(other, _)| other != ext),
                "{ext} twice"
            );
        }
    }

    #[test]
    fn unknown_and_odd_names() {
        for name in [
            &b"README"[..],
            b"a.",
            b".",
            b"",
            b"x.unknownext",
            b"x.averyveryverylongextension",
            b"dir.html/file",
            b"\xff.\xfe",
        ] {
            assert_eq!(content_type(name), UNKNOWN, "{name:?}");
        }
    }
}
