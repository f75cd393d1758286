//! The HTML page listing a directory that has no index file: sorted (directories first), with
//! sizes and modification times, a link to the parent, names percent-encoded in links and
//! escaped in text. No JavaScript; the styles are inline so the page is one request.

use std::cmp::Ordering;
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::path::{encode_segment, escape_html};
use crate::date;

/// One row of the listing.
struct Entry {
    name: Vec<u8>,
    is_dir: bool,
    size: u64,
    modified: Option<u64>,
}

const STYLE: &str = "\
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;\
max-width:60rem;padding:0 1rem;color:#1f2328;background:#fff}\
h1{font-size:1.25rem;font-weight:600;margin:0 0 1rem;word-break:break-all}\
h1 a{color:inherit}\
table{border-collapse:collapse;width:100%}\
th,td{padding:.35rem .6rem;border-bottom:1px solid #eaeef2;text-align:left}\
th{font-size:.8rem;font-weight:600;color:#59636e;text-transform:uppercase;letter-spacing:.03em}\
td.name{word-break:break-all}\
.size,.time{white-space:nowrap;color:#59636e;font-variant-numeric:tabular-nums}\
.size{text-align:right}\
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}\
tr:hover td{background:#f6f8fa}\
.dir a{font-weight:600}\
footer{margin-top:1rem;color:#818b98;font-size:.8rem}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}\
th,td{border-color:#30363d}tr:hover td{background:#161b22}a{color:#4493f8}\
.size,.time,th{color:#9198a1}}";

/// Renders the listing of `dir`, which the URL `/{url_path}/` names (`url_path` is the
/// decoded path without slashes at either end; empty for the root). Entries whose names start
/// with `.` are left out unless `hidden`; symlinks are shown when they resolve inside `root`.
pub(crate) fn render(dir: &Path, url_path: &[u8], hidden: bool, root: &Path) -> io::Result<String> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let name = os_bytes(&name);
        if name.starts_with(b".") && !hidden {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if file_type.is_symlink()
            && !std::fs::canonicalize(&path).is_ok_and(|p| p.starts_with(root))
        {
            continue;
        }
        // Follows symlinks, so a link to a directory lists as one.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_dir() && !meta.is_file() {
            continue;
        }
        entries.push(Entry {
            name: name.to_vec(),
            is_dir: meta.is_dir(),
            size: meta.len(),
            modified: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        });
    }
    entries.sort_by(order);
    Ok(page(url_path, &entries))
}

/// A strong `ETag` for a rendered listing: the 64-bit FNV-1a hash of the page, in hex. Two
/// pages get the same tag only if they are the same bytes (bar a 1 in 2^64 chance), which is
/// what a strong validator promises. FNV-1a is fixed (std's `DefaultHasher` is allowed to
/// change between releases), so a tag outlives a restart and a rebuild.
pub(crate) fn etag(page: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = page
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("\"{hash:016x}\"")
}

/// Directories first, then by name ignoring case, then byte-wise (so the order is total).
fn order(a: &Entry, b: &Entry) -> Ordering {
    b.is_dir
        .cmp(&a.is_dir)
        .then_with(|| {
            let fold = |e: &Entry| e.name.to_ascii_lowercase();
            fold(a).cmp(&fold(b))
        })
        .then_with(|| a.name.cmp(&b.name))
}

fn page(url_path: &[u8], entries: &[Entry]) -> String {
    let mut html = String::with_capacity(2048 + entries.len() * 200);
    let title = {
        let mut t = String::from("/");
        if !url_path.is_empty() {
            t.push_str(&String::from_utf8_lossy(url_path));
            t.push('/');
        }
        t
    };
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str("<title>Index of ");
    escape_html(&title, &mut html);
    html.push_str("</title>\n<style>");
    html.push_str(STYLE);
    html.push_str("</style>\n</head>\n<body>\n<h1>Index of ");
    breadcrumbs(url_path, &mut html);
    html.push_str("</h1>\n<table>\n<thead><tr><th>Name</th><th class=\"size\">Size</th>");
    html.push_str("<th class=\"time\">Modified (UTC)</th></tr></thead>\n<tbody>\n");
    if !url_path.is_empty() {
        html.push_str(
            "<tr class=\"dir\"><td class=\"name\"><a href=\"../\">../</a></td>\
             <td class=\"size\"></td><td class=\"time\"></td></tr>\n",
        );
    }
    let (mut dirs, mut files) = (0, 0);
    for e in entries {
        let name = String::from_utf8_lossy(&e.name);
        html.push_str(if e.is_dir {
            "<tr class=\"dir\">"
        } else {
            "<tr>"
        });
        html.push_str("<td class=\"name\"><a href=\"");
        encode_segment(&e.name, &mut html);
        if e.is_dir {
            html.push('/');
        }
        html.push_str("\">");
        escape_html(&name, &mut html);
        if e.is_dir {
            html.push('/');
            dirs += 1;
        } else {
            files += 1;
        }
        html.push_str("</a></td><td class=\"size\">");
        if e.is_dir {
            html.push('\u{2014}');
        } else {
            human_size(e.size, &mut html);
        }
        html.push_str("</td><td class=\"time\">");
        if let Some(secs) = e.modified {
            html.push_str(std::str::from_utf8(&date::listing_date(secs)).unwrap_or(""));
        }
        html.push_str("</td></tr>\n");
    }
    html.push_str("</tbody>\n</table>\n<footer>");
    html.push_str(&format!(
        "{dirs} director{}, {files} file{} \u{b7} basehttp",
        if dirs == 1 { "y" } else { "ies" },
        if files == 1 { "" } else { "s" }
    ));
    html.push_str("</footer>\n</body>\n</html>\n");
    html
}

/// `/ a / b /` with each level a link (absolute, re-encoded from the decoded segments).
fn breadcrumbs(url_path: &[u8], html: &mut String) {
    let mut href = String::from("/");
    html.push_str("<a href=\"/\">/</a>");
    if url_path.is_empty() {
        return;
    }
    for segment in url_path.split(|&b| b == b'/') {
        encode_segment(segment, &mut href);
        href.push('/');
        html.push_str("<a href=\"");
        html.push_str(&href);
        html.push_str("\">");
        escape_html(&String::from_utf8_lossy(segment), html);
        html.push_str("</a>/");
    }
}

/// `512 B`, `1.5 KiB`, `12 MiB`: three significant figures at most.
fn human_size(bytes: u64, out: &mut String) {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        out.push_str(&format!("{bytes} B"));
        return;
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        out.push_str(&format!("{value:.1} {}", UNITS[unit]));
    } else {
        out.push_str(&format!("{value:.0} {}", UNITS[unit]));
    }
}

#[cfg(unix)]
fn os_bytes(name: &OsStr) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(name)
}

#[cfg(not(unix))]
fn os_bytes(name: &OsStr) -> &[u8] {
    name.as_encoded_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            is_dir,
            size: 1536,
            modified: Some(1_795_322_077),
        }
    }

    #[test]
    fn the_etag_is_a_strong_hash_of_the_page() {
        // FNV-1a's published test vectors.
        assert_eq!(etag(""), "\"cbf29ce484222325\"");
        assert_eq!(etag("a"), "\"af63dc4c8601ec8c\"");
        assert_eq!(etag("foobar"), "\"85944171f73967e8\"");
        let one = page(b"d", &[entry("a.txt", false)]);
        let same = page(b"d", &[entry("a.txt", false)]);
        let mut bigger = entry("a.txt", false);
        bigger.size = 2048;
        let other = page(b"d", &[bigger]);
        assert_eq!(etag(&one), etag(&same));
        assert_ne!(etag(&one), etag(&other));
    }

    #[test]
    fn sizes() {
        let s = |n| {
            let mut out = String::new();
            human_size(n, &mut out);
            out
        };
        assert_eq!(s(0), "0 B");
        assert_eq!(s(1023), "1023 B");
        assert_eq!(s(1536), "1.5 KiB");
        assert_eq!(s(20 << 20), "20 MiB");
        assert_eq!(s(u64::MAX), "16384 PiB");
    }

    #[test]
    fn directories_first_then_names_ignoring_case() {
        let mut v = [
            entry("b.txt", false),
            entry("Zdir", true),
            entry("A.txt", false),
            entry("adir", true),
            entry("a.txt", false),
        ];
        v.sort_by(order);
        let names: Vec<_> = v
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(names, ["adir", "Zdir", "A.txt", "a.txt", "b.txt"]);
    }

    #[test]
    fn names_are_encoded_in_links_and_escaped_in_text() {
        let html = page(
            b"sub dir/x",
            &[entry("<b>&\"'.txt", false), entry("a:b", true)],
        );
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(
            html.contains("<a href=\"%3Cb%3E%26%22%27.txt\">&lt;b&gt;&amp;&quot;&#39;.txt</a>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"a%3Ab/\">a:b/</a>"));
        assert!(html.contains("<a href=\"../\">../</a>"));
        assert!(
            html.contains("<a href=\"/sub%20dir/\">sub dir</a>/<a href=\"/sub%20dir/x/\">x</a>/")
        );
        assert!(
            html.contains(
                "<td class=\"size\">1.5 KiB</td><td class=\"time\">2026-11-22 04:34</td>"
            )
        );
        assert!(html.contains("1 directory, 1 file"));
        assert!(!html.contains("<script"));
        let root = page(b"", &[]);
        assert!(!root.contains("../"));
        assert!(root.contains("<title>Index of /</title>"));
    }
}
