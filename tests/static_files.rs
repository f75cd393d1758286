//! `StaticFiles` over real sockets: exact bytes and headers with raw requests, validators,
//! ranges, directories, every path-safety case, methods, CORS, the SPA fallback, and real
//! clients (curl and ureq).

mod support;

use std::net::SocketAddr;
use std::process::Command;

use basehttp::{ServerHandle, StaticFiles, StaticFilesBuilder};
use support::{Client, Resp, TempDir, exchange};

/// Bytes that are not text and not repetitive, so a misplaced slice shows.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A site: a few files of several sizes, a subdirectory with an index, one without, and
/// hidden files.
fn site() -> TempDir {
    let dir = TempDir::new("static");
    dir.write("index.html", "<!DOCTYPE html><title>home</title>home\n");
    dir.write("hello.txt", "Hello, file!\n");
    dir.write("small.bin", pattern(1024));
    dir.write("large.bin", pattern(300_000));
    dir.write("empty.txt", "");
    dir.write("style.CSS", "body{}\n");
    dir.write("app.js", "console.log(1)\n");
    dir.write("data.unknownext", "?");
    dir.write("blog/index.html", "blog index\n");
    dir.write("docs/guide.md", "# guide\n");
    dir.write("docs/b.txt", "b\n");
    dir.write("docs/A.txt", "A\n");
    dir.write("docs/zsub/x.txt", "x\n");
    dir.write("docs/Asub/y.txt", "y\n");
    dir.write(".env", "SECRET=1\n");
    dir.write(".git/config", "[core]\n");
    dir.write("docs/.hidden.txt", "hidden\n");
    dir
}

fn serve(builder: StaticFilesBuilder) -> ServerHandle {
    support::start(support::config(4), builder.build().expect("a valid site"))
}

fn raw_get(addr: SocketAddr, target: &str, headers: &str) -> Resp {
    exchange(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: test\r\n{headers}\r\n").as_bytes(),
    )
}

fn get(addr: SocketAddr, target: &str) -> Resp {
    raw_get(addr, target, "")
}

#[test]
fn files_are_served_byte_for_byte_with_their_type_and_validators() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();
    for (path, ctype, body) in [
        (
            "/hello.txt",
            "text/plain; charset=utf-8",
            b"Hello, file!\n".to_vec(),
        ),
        ("/small.bin", "application/octet-stream", pattern(1024)),
        ("/large.bin", "application/octet-stream", pattern(300_000)),
        ("/empty.txt", "text/plain; charset=utf-8", Vec::new()),
        (
            "/style.CSS",
            "text/css; charset=utf-8",
            b"body{}\n".to_vec(),
        ),
        (
            "/app.js",
            "text/javascript; charset=utf-8",
            b"console.log(1)\n".to_vec(),
        ),
        (
            "/data.unknownext",
            "application/octet-stream",
            b"?".to_vec(),
        ),
    ] {
        let r = get(addr, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ctype), "{path}");
        assert_eq!(
            r.header("content-length"),
            Some(body.len().to_string().as_str()),
            "{path}"
        );
        assert!(r.body == body, "{path}: wrong bytes");
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        let etag = r.header("etag").expect("an ETag");
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 4);
        let modified = r.header("last-modified").expect("Last-Modified");
        assert!(
            modified.ends_with(" GMT") && modified.len() == 29,
            "{modified}"
        );
    }
}

/// Source and configuration files come as `text/plain`, which browsers show, not as a type
/// they download (`application/yaml`, `application/toml`, Firefox's `text/markdown`).
#[test]
fn source_and_configuration_files_are_shown_as_text() {
    let site = TempDir::new("static-source");
    let files = [
        "Cargo.toml",
        "src/main.rs",
        "manage.py",
        "config.yaml",
        "compose.yml",
        "README.md",
        "run.sh",
        "main.go",
        "app.ts",
    ];
    for name in files {
        site.write(name, "text\n");
    }
    let server = serve(StaticFiles::builder(site.path()));
    for name in files {
        let r = get(server.local_addr(), &format!("/{name}"));
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{name}"
        );
        assert_eq!(r.body, b"text\n", "{name}");
    }
}

#[test]
fn keep_alive_and_pipelined_files_of_every_size() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    let mut c = Client::new(server.local_addr());
    for _ in 0..3 {
        assert_eq!(c.get("/small.bin").body, pattern(1024));
        assert_eq!(c.get("/large.bin").body, pattern(300_000));
    }
    let one = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let big = "GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    let small = "GET /small.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    c.send(format!("{one}{big}{small}{one}").as_bytes());
    assert_eq!(c.response(false).text(), "Hello, file!\n");
    assert_eq!(c.response(false).body, pattern(300_000));
    assert_eq!(c.response(false).body, pattern(1024));
    assert_eq!(c.response(false).text(), "Hello, file!\n");
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();
    for path in [
        "/large.bin",
        "/hello.txt",
        "/",
        "/docs/",
        "/missing",
        "/docs",
    ] {
        let g = get(addr, path);
        let mut c = Client::new(addr);
        c.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let h = c.response(true);
        assert_eq!(h.status, g.status, "{path}");
        for name in ["content-type", "content-length", "etag", "location"] {
            assert_eq!(h.header(name), g.header(name), "{path} {name}");
        }
        // No body followed: the next response on the connection is intact.
        assert_eq!(c.get("/hello.txt").text(), "Hello, file!\n");
    }
}

#[test]
fn validators_answer_304() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()).header("X-Extra", "1"));
    let addr = server.local_addr();
    let first = get(addr, "/hello.txt");
    let etag = first.header("etag").unwrap().to_string();
    let modified = first.header("last-modified").unwrap().to_string();

    let r = raw_get(addr, "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("x-extra"), Some("1"));
    assert!(r.header("content-length").is_none());
    let r = raw_get(
        addr,
        "/hello.txt",
        &format!("If-None-Match: \"x\", W/{etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    let r = raw_get(addr, "/hello.txt", "If-None-Match: *\r\n");
    assert_eq!(r.status, 304);
    let r = raw_get(
        addr,
        "/hello.txt",
        &format!("If-Modified-Since: {modified}\r\n"),
    );
    assert_eq!(r.status, 304);
    let old = "Sun, 06 Nov 1994 08:49:37 GMT";
    let r = raw_get(addr, "/hello.txt", &format!("If-Modified-Since: {old}\r\n"));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, file!\n");
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    let r = raw_get(
        addr,
        "/hello.txt",
        &format!("If-None-Match: \"stale\"\r\nIf-Modified-Since: {modified}\r\n"),
    );
    assert_eq!(r.status, 200);
    // HEAD too.
    let r = exchange(
        addr,
        format!("HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 304);

    // An edit changes the validators (the ETag has the size and the mtime in nanoseconds).
    site.write("hello.txt", "Hello, edited file!\n");
    let r = raw_get(addr, "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, edited file!\n");
    assert_ne!(r.header("etag"), Some(etag.as_str()));
}

#[test]
fn ranges_answer_206_and_416() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();
    let all = pattern(300_000);
    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=299990-", 299_990, 299_999),
        ("bytes=-100", 299_900, 299_999),
        ("bytes=1000-299999999", 1000, 299_999),
        ("bytes=100000-250000", 100_000, 250_000),
    ] {
        let r = raw_get(addr, "/large.bin", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{end}/300000").as_str()),
            "{range}"
        );
        assert_eq!(
            r.header("content-length"),
            Some((end - start + 1).to_string().as_str())
        );
        assert!(r.body == all[start..=end], "{range}: wrong bytes");
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    }
    // Small files take the coalesced path; ranges of them too.
    let r = raw_get(addr, "/small.bin", "Range: bytes=1000-\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, pattern(1024)[1000..]);

    for range in ["bytes=300000-", "bytes=300000-300001", "bytes=-0"] {
        let r = raw_get(addr, "/large.bin", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("content-range"), Some("bytes */300000"));
    }
    let r = raw_get(addr, "/empty.txt", "Range: bytes=0-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */0"));

    // Several ranges, other units and nonsense: the whole file.
    for range in ["bytes=0-1,5-6", "items=0-1", "bytes=9-1", "bytes=abc"] {
        let r = raw_get(addr, "/large.bin", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body.len(), 300_000);
    }

    // If-Range: the range applies only while the validator matches.
    let whole = get(addr, "/large.bin");
    let etag = whole.header("etag").unwrap();
    let modified = whole.header("last-modified").unwrap();
    for (if_range, status) in [
        (etag.to_string(), 206),
        (modified.to_string(), 206),
        ("\"stale\"".to_string(), 200),
        (format!("W/{etag}"), 200),
        ("Sun, 06 Nov 1994 08:49:37 GMT".to_string(), 200),
    ] {
        let r = raw_get(
            addr,
            "/large.bin",
            &format!("Range: bytes=0-9\r\nIf-Range: {if_range}\r\n"),
        );
        assert_eq!(r.status, status, "If-Range: {if_range}");
    }
}

#[test]
fn directories_redirect_serve_their_index_or_a_listing() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();

    let r = get(addr, "/blog?page=2&x=%20");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/blog/?page=2&x=%20"));
    let r = get(addr, "/docs/zsub");
    assert_eq!(r.header("location"), Some("/docs/zsub/"));
    // Never a protocol-relative `//host/` location.
    std::fs::create_dir(site.path().join("evil.com")).unwrap();
    let r = get(addr, "//evil.com");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/evil.com/"));

    assert_eq!(
        get(addr, "/").text(),
        "<!DOCTYPE html><title>home</title>home\n"
    );
    let blog = get(addr, "/blog/");
    assert_eq!(blog.text(), "blog index\n");
    assert_eq!(
        blog.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    let docs = get(addr, "/docs/");
    assert_eq!(docs.status, 200);
    assert_eq!(
        docs.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = docs.text();
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(html.contains("<title>Index of /docs/</title>"));
    assert!(html.contains("<a href=\"../\">../</a>"));
    // Directories first, then names ignoring case; dotfiles left out.
    let order: Vec<usize> = ["Asub/", "zsub/", "A.txt", "b.txt", "guide.md"]
        .iter()
        .map(|name| {
            html.find(&format!("href=\"{name}\""))
                .unwrap_or_else(|| panic!("{name} missing: {html}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{html}");
    assert!(!html.contains("hidden"));
    assert!(!html.contains("<script"));

    // The root's listing, once its index is gone.
    std::fs::remove_file(site.path().join("index.html")).unwrap();
    let root = get(addr, "/").text();
    assert!(root.contains("<title>Index of /</title>"));
    assert!(!root.contains("href=\"../\""));
    assert!(!root.contains(".env") && !root.contains(".git"));
    assert!(root.contains("<a href=\"large.bin\">large.bin</a>"));
}

/// A listing has a strong `ETag`, a hash of the page, and answers `If-None-Match` with `304`;
/// the tag changes when what the page shows changes, also when only a file's size does (which
/// leaves the directory's modification time alone). The slash redirect says it is not to be
/// stored.
#[test]
fn listings_have_a_validator_and_the_slash_redirect_is_never_stored() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()).header("X-Extra", "1"));
    let addr = server.local_addr();
    let first = get(addr, "/docs/");
    assert_eq!(first.status, 200);
    let etag = first
        .header("etag")
        .expect("a listing has an ETag")
        .to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong entity-tag: {etag}"
    );
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    assert_eq!(get(addr, "/docs/").header("etag"), Some(etag.as_str()));

    let r = raw_get(addr, "/docs/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert!(r.header("content-length").is_none());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("x-extra"), Some("1"));
    let r = raw_get(
        addr,
        "/docs/",
        &format!("If-None-Match: \"x\", W/{etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    let r = exchange(
        addr,
        format!("HEAD /docs/ HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 304);
    let r = raw_get(addr, "/docs/", "If-None-Match: \"stale\"\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), first.text());

    // A file grows: the directory's mtime stays, the page and its tag do not.
    let dir_mtime = || {
        std::fs::metadata(site.path().join("docs"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = dir_mtime();
    site.write("docs/b.txt", "b".repeat(5000));
    assert_eq!(dir_mtime(), before);
    let r = raw_get(addr, "/docs/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 200);
    assert!(r.text().contains("4.9 KiB"), "{}", r.text());
    let grown = r.header("etag").unwrap().to_string();
    assert_ne!(grown, etag);
    // A new entry changes it too.
    site.write("docs/new.txt", "new\n");
    let r = raw_get(addr, "/docs/", &format!("If-None-Match: {grown}\r\n"));
    assert_eq!(r.status, 200);
    assert!(r.text().contains("new.txt"));
    assert_ne!(r.header("etag"), Some(grown.as_str()));

    // The redirect that adds the slash is never stored, so no browser keeps it once the
    // address names a file (or another project is served on the same port).
    let r = get(addr, "/docs");
    assert_eq!(r.status, 301);
    let cache: Vec<_> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
        .collect();
    assert_eq!(cache.len(), 1, "{:?}", r.headers);
    assert_eq!(cache[0].1, "no-store");
}

#[test]
fn listing_names_are_encoded_in_links_and_escaped_in_text() {
    let site = TempDir::new("static-names");
    site.write("a b&c.txt", "1");
    site.write("<script>alert(1)<%2fscript>.html", "2");
    site.write("caf\u{e9}.txt", "3");
    site.write("q?x#y.txt", "4");
    site.write("sub dir/\"quoted\".txt", "5");
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();
    let html = get(addr, "/").text();
    assert!(
        html.contains("<a href=\"a%20b%26c.txt\">a b&amp;c.txt</a>"),
        "{html}"
    );
    assert!(html.contains(
        "<a href=\"%3Cscript%3Ealert%281%29%3C%252fscript%3E.html\">\
         &lt;script&gt;alert(1)&lt;%2fscript&gt;.html</a>"
    ));
    assert!(!html.contains("<script>"));
    assert!(html.contains("<a href=\"caf%C3%A9.txt\">caf\u{e9}.txt</a>"));
    assert!(html.contains("<a href=\"q%3Fx%23y.txt\">q?x#y.txt</a>"));
    assert!(html.contains("<a href=\"sub%20dir/\">sub dir/</a>"));
    // Every link works.
    for (href, body) in [
        ("/a%20b%26c.txt", "1"),
        ("/%3Cscript%3Ealert%281%29%3C%252fscript%3E.html", "2"),
        ("/caf%C3%A9.txt", "3"),
        ("/q%3Fx%23y.txt", "4"),
        ("/sub%20dir/%22quoted%22.txt", "5"),
    ] {
        assert_eq!(get(addr, href).text(), body, "{href}");
    }
    let sub = get(addr, "/sub%20dir/").text();
    assert!(sub.contains("<title>Index of /sub dir/</title>"));
    assert!(sub.contains("<a href=\"%22quoted%22.txt\">&quot;quoted&quot;.txt</a>"));
}

#[cfg(unix)]
#[test]
fn non_utf8_names_are_served_and_listed() {
    use std::os::unix::ffi::OsStrExt;
    let site = TempDir::new("static-bytes");
    std::fs::write(
        site.path()
            .join(std::ffi::OsStr::from_bytes(b"l\xe9gacy.txt")),
        "latin-1",
    )
    .unwrap();
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();
    let html = get(addr, "/").text();
    assert!(
        html.contains("<a href=\"l%E9gacy.txt\">l\u{fffd}gacy.txt</a>"),
        "{html}"
    );
    assert_eq!(get(addr, "/l%E9gacy.txt").text(), "latin-1");
}

#[test]
fn listing_off_and_custom_index() {
    let site = site();
    site.write("docs/start.htm", "start\n");
    let server = serve(
        StaticFiles::builder(site.path())
            .listing(false)
            .index("start.htm"),
    );
    let addr = server.local_addr();
    assert_eq!(get(addr, "/docs/").text(), "start\n");
    let r = get(addr, "/blog/"); // has index.html only
    assert_eq!(r.status, 403);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(
        r.text()
            .contains("<h1 style=\"font-size:1.3rem\">403 Forbidden</h1>")
    );
}

/// Every way out of the root, and the dotfile rule. The secret next to the root must never
/// show up in any answer.
#[test]
fn nothing_outside_the_root_is_ever_served() {
    let outer = TempDir::new("static-outer");
    outer.write("secret.txt", "TOP SECRET");
    outer.write("private/key.txt", "TOP SECRET");
    let root = outer.path().join("site");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("ok.txt"), "ok").unwrap();
    std::fs::create_dir(root.join("inner")).unwrap();
    std::fs::write(root.join("inner/file.txt"), "inner").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(outer.path().join("secret.txt"), root.join("out-link.txt")).unwrap();
        symlink(outer.path().join("private"), root.join("out-dir")).unwrap();
        symlink("../secret.txt", root.join("relative-out.txt")).unwrap();
        symlink("inner/file.txt", root.join("in-link.txt")).unwrap();
        symlink("inner", root.join("in-dir")).unwrap();
        symlink("../../secret.txt", root.join("inner/escape.txt")).unwrap();
        symlink(outer.path(), root.join("inner/outer")).unwrap();
        symlink("..", root.join("inner/up")).unwrap();
    }
    let server = serve(StaticFiles::builder(&root));
    let addr = server.local_addr();

    let cases: &[(&str, &[u16])] = &[
        ("/../secret.txt", &[403]),
        ("/inner/../../secret.txt", &[403]),
        ("/%2e%2e/secret.txt", &[403]),
        ("/%2E%2E/secret.txt", &[403]),
        ("/.%2e/secret.txt", &[403]),
        ("/..%2fsecret.txt", &[403]),
        ("/inner%2f..%2f..%2fsecret.txt", &[403]),
        ("/..%5csecret.txt", &[403]),
        ("/inner%5C..%5C..%5Csecret.txt", &[403]),
        ("/ok.txt%00.html", &[403]),
        ("/%00", &[403]),
        ("/..\\secret.txt", &[400, 403]),
        ("/%252e%252e/secret.txt", &[404]),
        ("/%", &[400]),
        ("/%zz", &[400]),
        // Absolute paths stay under the root.
        ("//etc/passwd", &[404]),
        ("/etc/passwd", &[404]),
        ("http://host/../secret.txt", &[403]),
    ];
    #[cfg(unix)]
    let symlink_cases: &[(&str, &[u16])] = &[
        ("/out-link.txt", &[403]),
        ("/relative-out.txt", &[403]),
        ("/out-dir/key.txt", &[403]),
        ("/out-dir/", &[403]),
        ("/inner/escape.txt", &[403]),
        ("/inner/outer/secret.txt", &[403]),
        ("/inner/outer/", &[403]),
        ("/in-dir/escape.txt", &[403]),
        ("/inner/up/inner/escape.txt", &[403]),
    ];
    #[cfg(not(unix))]
    let symlink_cases: &[(&str, &[u16])] = &[];
    for (target, statuses) in cases.iter().chain(symlink_cases) {
        let r = get(addr, target);
        assert!(
            statuses.contains(&r.status),
            "{target}: {} (expected {statuses:?})",
            r.status
        );
        assert!(!r.text().contains("TOP SECRET"), "{target} leaked");
        assert!(
            r.header("content-type")
                .unwrap_or("")
                .starts_with("text/html")
        );
    }
    // The listing does not offer the links that lead out.
    let html = get(addr, "/").text();
    assert!(
        !html.contains("out-link") && !html.contains("out-dir"),
        "{html}"
    );
    assert!(html.contains("ok.txt"));

    #[cfg(unix)]
    {
        // Symlinks that stay inside are followed.
        assert_eq!(get(addr, "/in-link.txt").text(), "inner");
        assert_eq!(get(addr, "/in-dir/file.txt").text(), "inner");
        assert_eq!(get(addr, "/inner/up/ok.txt").text(), "ok");
        assert_eq!(get(addr, "/in-dir/up/in-link.txt").text(), "inner");
        assert!(html.contains("in-link.txt") && html.contains("in-dir/"));
    }
    support::assert_alive_with(addr, "/ok.txt", "ok");
}

#[test]
fn dotfiles_are_hidden_unless_asked() {
    let site = site();
    let hiding = serve(StaticFiles::builder(site.path()));
    let showing = serve(StaticFiles::builder(site.path()).hidden(true));
    for path in [
        "/.env",
        "/.git/config",
        "/docs/.hidden.txt",
        "/%2eenv",
        "/.git/",
    ] {
        let r = get(hiding.local_addr(), path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("SECRET"));
        assert_eq!(get(showing.local_addr(), path).status, 200, "{path}");
    }
    assert_eq!(get(showing.local_addr(), "/.env").text(), "SECRET=1\n");
    let listing = get(showing.local_addr(), "/docs/").text();
    assert!(listing.contains("href=\".hidden.txt\""));
}

#[cfg(unix)]
#[test]
fn special_files_are_refused_without_blocking() {
    let site = site();
    let fifo = site.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();
    assert_eq!(get(addr, "/pipe").status, 403);
    assert!(!get(addr, "/").text().contains("pipe"));
    support::assert_alive_with(addr, "/hello.txt", "Hello, file!\n");
}

#[test]
fn a_file_named_with_a_trailing_slash_is_not_found() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    assert_eq!(get(server.local_addr(), "/hello.txt/").status, 404);
    assert_eq!(get(server.local_addr(), "/hello.txt/x").status, 404);
}

#[test]
fn other_methods_get_405_with_allow() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    let addr = server.local_addr();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get"] {
        let r = exchange(
            addr,
            format!("{method} /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method}");
        assert!(r.header("access-control-allow-origin").is_none());
    }
    let r = exchange(addr, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 405);
}

#[test]
fn cors_allows_any_origin_and_answers_preflight() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()).cors(true));
    let addr = server.local_addr();
    for path in ["/hello.txt", "/missing", "/docs/"] {
        let r = raw_get(addr, path, "Origin: http://localhost:3000\r\n");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
    }
    let r = exchange(
        addr,
        b"OPTIONS /hello.txt HTTP/1.1\r\nHost: t\r\nOrigin: http://localhost:3000\r\n\
          Access-Control-Request-Method: GET\r\n\
          Access-Control-Request-Headers: range, x-custom\r\n\r\n",
    );
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("range, x-custom")
    );
    let r = exchange(addr, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    let r = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn spa_falls_back_to_the_index_for_browsers_only() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()).spa(true));
    let addr = server.local_addr();
    let html_accept = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    let r = raw_get(addr, "/app/settings/profile", html_accept);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<!DOCTYPE html><title>home</title>home\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // Scripts, images and API calls that are missing stay missing.
    assert_eq!(raw_get(addr, "/missing.js", "Accept: */*\r\n").status, 404);
    assert_eq!(get(addr, "/app/settings").status, 404);
    // Real files and directories are unaffected; hidden files are still hidden.
    assert_eq!(
        raw_get(addr, "/hello.txt", html_accept).text(),
        "Hello, file!\n"
    );
    assert_eq!(raw_get(addr, "/blog/", html_accept).text(), "blog index\n");
    assert_eq!(raw_get(addr, "/.env", html_accept).status, 404);
    // Without --spa a browser gets the 404 page.
    let plain = serve(StaticFiles::builder(site.path()));
    assert_eq!(
        raw_get(plain.local_addr(), "/app/x", html_accept).status,
        404
    );
}

#[test]
fn extra_headers_go_on_every_response() {
    let site = site();
    let server = serve(
        StaticFiles::builder(site.path())
            .header("X-Frame-Options", "DENY")
            .header("Cache-Control", "max-age=60"),
    );
    let addr = server.local_addr();
    for r in [
        get(addr, "/hello.txt"),
        get(addr, "/missing"),
        get(addr, "/docs/"),
        get(addr, "/docs"),
        raw_get(addr, "/hello.txt", "Range: bytes=0-1\r\n"),
    ] {
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{}", r.status);
        let cache: Vec<_> = r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
            .collect();
        assert_eq!(cache.len(), 1, "{:?}", r.headers);
        assert_eq!(cache[0].1, "max-age=60");
    }
}

#[test]
fn invalid_options_are_refused_when_building() {
    let site = site();
    for builder in [
        StaticFiles::builder(site.path()).index(""),
        StaticFiles::builder(site.path()).index("a/b.html"),
        StaticFiles::builder(site.path()).index(".."),
        StaticFiles::builder(site.path()).header("Bad Name", "x"),
        StaticFiles::builder(site.path()).header("X-A", "a\r\nSet-Cookie: x"),
    ] {
        let e = builder.build().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
    assert!(StaticFiles::new(site.path().join("missing")).is_err());
    assert!(StaticFiles::new(site.path().join("hello.txt")).is_err());
}

/// Odd paths and headers never break the server: every answer is a well-formed response
/// below 500, and the server keeps serving.
#[test]
fn odd_paths_and_headers_never_break_the_server() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()).cors(true).spa(true));
    let addr = server.local_addr();
    let paths = [
        "/",
        "//",
        "///",
        "/.",
        "/./",
        "/%2e",
        "/%",
        "/%%",
        "/%f",
        "/%ff",
        "/%c3%28",
        "/%ef%bf%bf",
        "/a/b/c/d/e/f/g",
        "/~",
        "/%7e",
        "/;",
        "/@",
        "/:",
        "/C:",
        "/C:/Windows",
        "/con",
        "/nul",
        "/hello.txt;x",
        "/hello.txt?",
        "/hello.txt#",
        "/?a=b",
    ];
    let long = format!("/{}", "a".repeat(300));
    let deep = "/x".repeat(2000);
    let headers = [
        "Range: bytes=\r\n",
        "Range: bytes=-\r\n",
        "Range: bytes=18446744073709551615-18446744073709551616\r\n",
        "Range: bytes=-18446744073709551616\r\n",
        "Range: \u{e9}\r\n",
        "If-Range: \r\n",
        "If-None-Match: \r\n",
        "If-None-Match: ,,,\r\n",
        "If-Modified-Since: Sun, 06 Nov 9999 99:99:99 GMT\r\n",
        "If-Modified-Since: \u{ff}\u{ff}\r\n",
        "Accept: \u{ff}\r\n",
        "Access-Control-Request-Headers: \u{ff}\r\n",
    ];
    for path in paths.iter().copied().chain([long.as_str(), deep.as_str()]) {
        for h in headers.iter().chain([&""]) {
            let r = raw_get(addr, path, h);
            assert!(r.status < 500, "{path} {h:?}: {}", r.status);
        }
    }
    support::assert_alive_with(addr, "/hello.txt", "Hello, file!\n");
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-s", "-S", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is needed for this test")
}

#[test]
fn curl_head_range_resume_and_compressed() {
    let site = site();
    site.write("page.txt", "plain text, not compressed\n");
    site.write("archive.gz", pattern(5000));
    let server = serve(StaticFiles::builder(site.path()));
    let base = format!("http://{}", server.local_addr());

    // -I
    let out = curl(&["-I", &format!("{base}/large.bin")]);
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Length: 300000\r\n"));
    assert!(head.contains("Accept-Ranges: bytes\r\n"));

    // -r
    let out = curl(&["-r", "10-19", &format!("{base}/large.bin")]);
    assert!(out.status.success());
    assert_eq!(out.stdout, pattern(300_000)[10..20]);

    // -C - : resume a partial download.
    let partial = site.path().join("download.bin");
    std::fs::write(&partial, &pattern(300_000)[..123_456]).unwrap();
    // The first round resumes the partial file; the second resumes a complete one, where the
    // 416 tells curl there is nothing left. Both end with the whole file.
    for _round in ["partial", "complete"] {
        let out = curl(&[
            "-C",
            "-",
            "-o",
            partial.to_str().unwrap(),
            &format!("{base}/large.bin"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(std::fs::read(&partial).unwrap() == pattern(300_000));
    }

    // --compressed: asks for gzip; files come as they are, and curl is not confused.
    let out = curl(&["--compressed", "-i", &format!("{base}/page.txt")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("\r\n\r\nplain text, not compressed\n"),
        "{text}"
    );
    assert!(!text.to_ascii_lowercase().contains("content-encoding"));
    let out = curl(&["--compressed", &format!("{base}/archive.gz")]);
    assert!(out.status.success());
    assert_eq!(out.stdout, pattern(5000));
}

#[test]
fn a_rust_http_client_reads_files() {
    let site = site();
    let server = serve(StaticFiles::builder(site.path()));
    let base = format!("http://{}", server.local_addr());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(&format!("{base}/large.bin")).call().unwrap();
    assert_eq!(res.status(), 200);
    let body = res
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .unwrap();
    assert!(body == pattern(300_000));
    let mut res = agent
        .get(&format!("{base}/large.bin"))
        .header("Range", "bytes=5-9")
        .call()
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.body_mut().read_to_vec().unwrap(),
        pattern(300_000)[5..10]
    );
    let res = agent.get(&format!("{base}/nope")).call().unwrap();
    assert_eq!(res.status(), 404);
}

/// A client that leaves in the middle of a large file (spliced through the worker's pipe on
/// Linux) must not leave bytes behind for the next response of the same worker.
#[test]
fn a_client_gone_mid_file_leaves_the_next_response_intact() {
    use std::io::{Read, Write};
    let site = site();
    site.write("big.bin", pattern(8 << 20));
    let server = support::start(
        support::config(1),
        StaticFiles::new(site.path()).expect("a valid site"),
    );
    let addr = server.local_addr();
    for _ in 0..3 {
        let mut s = support::connect(addr);
        s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut some = [0u8; 4096];
        let _ = s.read(&mut some).unwrap();
        drop(s);
        // The worker finds out when its next write fails; the next request waits for that.
        let r = get(addr, "/large.bin");
        assert!(r.body == pattern(300_000), "corrupted after a client left");
    }
    assert!(get(addr, "/big.bin").body == pattern(8 << 20));
}

/// `inject`: a document a browser navigates to gets the tag before its last `</body>`, with a
/// length, a validator of its own and no ranges; the same file fetched otherwise is served as
/// it is; `HEAD` gives `GET`'s length; the injected `ETag` answers `304`.
#[test]
fn injected_html_has_its_own_length_validator_and_no_ranges() {
    use basehttp::live_reload::TAG;
    let dir = site();
    dir.write("page.html", "<html><body><p>x</p></body></html>\n");
    let server = serve(StaticFiles::builder(dir.path()).inject(TAG));
    let addr = server.local_addr();
    let nav = "Sec-Fetch-Dest: document\r\n";
    let page = raw_get(addr, "/page.html", nav);
    assert_eq!(page.status, 200);
    let want = format!("<html><body><p>x</p>{TAG}</body></html>\n");
    assert_eq!(page.text(), want);
    assert_eq!(
        page.header("content-length"),
        Some(want.len().to_string().as_str())
    );
    assert_eq!(page.header("vary"), Some("Sec-Fetch-Dest"));
    assert_eq!(page.header("accept-ranges"), None);
    let etag = page.header("etag").unwrap().to_owned();
    assert!(etag.ends_with("-i\""), "{etag}");

    // Fetched by a script (or curl): as it is, with its own validator and ranges.
    let plain = raw_get(addr, "/page.html", "Sec-Fetch-Dest: empty\r\n");
    assert_eq!(plain.text(), "<html><body><p>x</p></body></html>\n");
    assert_eq!(plain.header("accept-ranges"), Some("bytes"));
    assert_ne!(plain.header("etag"), Some(etag.as_str()));
    assert_eq!(get(addr, "/page.html").text(), plain.text());
    // Not HTML: never touched.
    assert_eq!(raw_get(addr, "/hello.txt", nav).text(), "Hello, file!\n");

    let head = exchange(
        addr,
        format!("HEAD /page.html HTTP/1.1\r\nHost: test\r\n{nav}\r\n").as_bytes(),
    );
    assert_eq!(head.header("content-length"), page.header("content-length"));
    let again = raw_get(
        addr,
        "/page.html",
        &format!("{nav}If-None-Match: {etag}\r\n"),
    );
    assert_eq!(again.status, 304);
    let ranged = raw_get(addr, "/page.html", &format!("{nav}Range: bytes=0-3\r\n"));
    assert_eq!((ranged.status, ranged.text()), (200, want));
    // A document that has the tag already is served as it is.
    dir.write("has.html", format!("<body>{TAG}</body>"));
    let has = raw_get(addr, "/has.html", nav);
    assert_eq!(has.text(), format!("<body>{TAG}</body>"));
    assert_eq!(has.header("accept-ranges"), Some("bytes"));
}

/// With a `Content-Security-Policy` (an extra header) that allows scripts by nonce, the
/// injected script carries it.
#[test]
fn injected_script_takes_the_policy_s_nonce() {
    let dir = site();
    dir.write("page.html", "<body>x</body>");
    let server = serve(
        StaticFiles::builder(dir.path())
            .inject("<script src=\"/r.js\"></script>")
            .header("Content-Security-Policy", "script-src 'self' 'nonce-abc'"),
    );
    let page = raw_get(
        server.local_addr(),
        "/page.html",
        "Sec-Fetch-Dest: document\r\n",
    );
    assert_eq!(
        page.text(),
        "<body>x<script nonce=\"abc\" src=\"/r.js\"></script></body>"
    );
}
