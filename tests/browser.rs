//! A real browser against the binary with default settings: headless Chromium loads a page
//! that pulls 50 assets (stylesheets, classic and module scripts, GIF, PNG and SVG images, a
//! font, a JSON fetch), and its script checks each one arrived whole and with a type the
//! browser accepts, and writes the count into the DOM; `--dump-dom` brings it back. Then it
//! renders a directory listing and the test checks the links.
//!
//! Without `chromium` on the PATH the test is skipped with a message, unless `CI` is set, where
//! it fails (`.ci/run` installs Debian's `chromium`).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::{TempDir, chromium};

const BIN: &str = env!("CARGO_BIN_EXE_basehttp");

const STYLESHEETS: usize = 12;
const SCRIPTS: usize = 12;
const MODULES: usize = 2;
const GIFS: usize = 8;
const PNGS: usize = 10;
const SVGS: usize = 4;
/// Every asset the page pulls: the above, one font and one `fetch` of JSON.
const ASSETS: usize = STYLESHEETS + SCRIPTS + MODULES + GIFS + PNGS + SVGS + 1 + 1;

/// The classic 1×1 transparent GIF.
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// A font Chromium accepts. Debian's `chromium` depends (through fontconfig) on at least one
/// TrueType font package, so wherever the browser is installed one is found here; the
/// smallest is copied into the fixture site.
fn system_font() -> Option<PathBuf> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    let mut dirs = vec![PathBuf::from("/usr/share/fonts")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ttf") {
                found.push((meta.len(), path));
            }
        }
    }
    found.into_iter().min().map(|(_, path)| path)
}

/// CRC-32 (ISO-HDLC), as PNG chunks need.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid `width`×1 RGBA PNG, its pixel data in one stored (uncompressed) zlib block.
fn png(width: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut raw = vec![0u8]; // filter: none
    for _ in 0..width {
        raw.extend_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    let len = raw.len() as u16;
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &zlib), (b"IEND", &[])] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

/// Writes the fixture site: `index.html` and its assets in subdirectories.
fn fixture_site(font: &Path) -> TempDir {
    let site = TempDir::new("browser");
    let mut head = String::new();
    let mut body = String::new();
    let mut checks = String::new();
    for i in 0..STYLESHEETS {
        site.write(
            &format!("css/style-{i}.css"),
            format!("#c{i} {{ width: {}px; height: 1px; }}\n", i + 1),
        );
        head.push_str(&format!(
            "<link rel=\"stylesheet\" href=\"css/style-{i}.css\" onload=\"done('css/style-{i}.css')\" \
             onerror=\"failed('css/style-{i}.css')\">\n"
        ));
        body.push_str(&format!("<div id=\"c{i}\"></div>\n"));
        checks.push_str(&format!(
            "check('css {i} applied', getComputedStyle(document.getElementById('c{i}')).width === '{}px');\n",
            i + 1
        ));
    }
    for i in 0..SCRIPTS {
        site.write(
            &format!("js/script-{i}.js"),
            format!("window.ran = window.ran || []; window.ran.push({i});\n"),
        );
        head.push_str(&format!(
            "<script src=\"js/script-{i}.js\" onload=\"done('js/script-{i}.js')\" \
             onerror=\"failed('js/script-{i}.js')\"></script>\n"
        ));
    }
    checks.push_str(&format!(
        "check('every classic script ran', (window.ran || []).length === {SCRIPTS});\n"
    ));
    for i in 0..MODULES {
        // Module scripts are refused unless served with a JavaScript type.
        site.write(
            &format!("js/module-{i}.mjs"),
            format!("window.modules = (window.modules || 0) + 1; export const n = {i};\n"),
        );
        head.push_str(&format!(
            "<script type=\"module\" src=\"js/module-{i}.mjs\" onload=\"done('js/module-{i}.mjs')\" \
             onerror=\"failed('js/module-{i}.mjs')\"></script>\n"
        ));
    }
    checks.push_str(&format!(
        "check('every module ran', window.modules === {MODULES});\n"
    ));
    let mut image = |path: String, width: usize| {
        body.push_str(&format!(
            "<img src=\"{path}\" onload=\"done('{path}')\" onerror=\"failed('{path}')\" alt=\"\">\n"
        ));
        checks.push_str(&format!(
            "check('{path} decoded', document.querySelector('img[src=\"{path}\"]').naturalWidth === {width});\n"
        ));
    };
    for i in 0..GIFS {
        site.write(&format!("img/pixel-{i}.gif"), GIF);
        image(format!("img/pixel-{i}.gif"), 1);
    }
    for i in 0..PNGS {
        let shade = (i * 20) as u8;
        site.write(
            &format!("img/bar-{i}.png"),
            png(i as u32 + 1, [shade, 100, 200]),
        );
        image(format!("img/bar-{i}.png"), i + 1);
    }
    for i in 0..SVGS {
        site.write(
            &format!("img/shape-{i}.svg"),
            format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{w}\">\
                 <circle cx=\"{r}\" cy=\"{r}\" r=\"{r}\" fill=\"teal\"/></svg>\n",
                w = 10 + i * 2,
                r = 5 + i
            ),
        );
        image(format!("img/shape-{i}.svg"), 10 + i * 2);
    }
    std::fs::create_dir_all(site.path().join("fonts")).unwrap();
    std::fs::copy(font, site.path().join("fonts/fixture.ttf")).unwrap();
    site.write("data/config.json", "{\"assets\": \"all\"}\n");

    let page = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>basehttp browser fixture</title>
<script>
  var loaded = new Set(), failures = [], problems = [];
  function done(name) {{ loaded.add(name); }}
  function failed(name) {{ failures.push(name); }}
  function check(what, ok) {{ if (!ok) problems.push(what); }}
  // The font: loaded through the CSS Font Loading API, which fetches it now.
  var font = new FontFace('Fixture', 'url(fonts/fixture.ttf)');
  document.fonts.add(font);
  var fontLoad = font.load().then(() => done('fonts/fixture.ttf'), () => failed('fonts/fixture.ttf'));
  var json = fetch('data/config.json')
    .then(r => r.ok ? r.json() : Promise.reject(r.status))
    .then(v => v.assets === 'all' ? done('data/config.json') : failed('data/config.json'),
          () => failed('data/config.json'));
</script>
{head}</head>
<body>
<p style="font-family: Fixture">Text in the fixture font.</p>
{body}<div id="result">pending</div>
<script>
  window.addEventListener('load', () => Promise.all([fontLoad, json]).then(() => {{
{checks}    check('font loaded', font.status === 'loaded');
    var nav = performance.getEntriesByType('navigation')[0];
    var assets = performance.getEntriesByType('resource');
    var first = Math.min(...assets.map(r => r.startTime));
    var last = Math.max(...assets.map(r => r.responseEnd));
    document.getElementById('result').textContent =
      'loaded=' + loaded.size + ' failed=[' + failures.join(' ') + '] problems=[' +
      problems.join('; ') + '] load_ms=' + Math.round(nav.loadEventStart) +
      ' page_ms=' + Math.round(nav.responseEnd - nav.startTime) +
      ' assets_ms=' + Math.round(last - first) + ' resources=' + assets.length;
  }}));
</script>
</body>
</html>
"#
    );
    site.write("index.html", page);
    site
}

/// The binary with default settings, serving `dir`; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let port = support::free_port();
        let mut child = Command::new(BIN)
            .args([&port.to_string(), "-d", dir.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start basehttp");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("Quit the server") {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("basehttp exited before its banner");
            }
        }
        Server { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server and returns its access log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let mut log = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut log);
        }
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of `<div id="result">` in a dumped DOM.
fn result_text(dom: &str) -> Option<&str> {
    let start = dom.find("<div id=\"result\">")? + "<div id=\"result\">".len();
    let end = dom[start..].find("</div>")? + start;
    Some(&dom[start..end])
}

fn field<'a>(result: &'a str, name: &str) -> Option<&'a str> {
    let start = result.find(&format!("{name}="))? + name.len() + 1;
    let rest = &result[start..];
    if let Some(inner) = rest.strip_prefix('[') {
        return inner.find(']').map(|end| &inner[..end]);
    }
    Some(rest.split(' ').next().unwrap_or(""))
}

#[test]
fn chromium_loads_every_asset_and_renders_a_listing() {
    let Some(browser) = chromium::find_or_skip("the browser test") else {
        return;
    };
    let font = system_font().expect("no .ttf font under /usr/share/fonts");
    let site = fixture_site(&font);
    let server = Server::start(site.path());
    let profile = TempDir::new("chromium-profile");

    // The page: `--dump-dom` prints the DOM once the page has loaded, and the checks run in
    // the load handler. If the dump came before the asynchronous checks (font, fetch)
    // finished, the page is loaded again under a virtual time budget, which waits for them
    // (its clock is then virtual, so the times printed come from the first, real-time run).
    let (mut dom, wall) =
        chromium::run(&browser, profile.path(), &["--dump-dom"], &server.url("/"));
    if result_text(&dom) == Some("pending") {
        println!("the first dump came before the checks; loading again with a time budget");
        dom = chromium::run(
            &browser,
            profile.path(),
            &["--dump-dom", "--virtual-time-budget=30000"],
            &server.url("/"),
        )
        .0;
    }
    let result = result_text(&dom).unwrap_or_else(|| panic!("no result in the DOM: {dom}"));
    println!("browser page result: {result}");
    println!(
        "chromium wall time for the page (including its start-up): {} ms",
        wall.as_millis()
    );
    assert_eq!(field(result, "failed"), Some(""), "{result}");
    assert_eq!(field(result, "problems"), Some(""), "{result}");
    assert_eq!(
        field(result, "loaded"),
        Some(ASSETS.to_string().as_str()),
        "{result}"
    );

    // A directory listing, as the browser renders it.
    let (listing, _) = chromium::run(
        &browser,
        profile.path(),
        &["--dump-dom"],
        &server.url("/img/"),
    );
    assert!(listing.contains("Index of /img/"), "{listing}");
    assert!(listing.contains("<a href=\"../\">../</a>"), "{listing}");
    for i in 0..PNGS {
        let link = format!("<a href=\"bar-{i}.png\">bar-{i}.png</a>");
        assert!(listing.contains(&link), "{link} missing: {listing}");
    }
    for i in 0..GIFS {
        assert!(listing.contains(&format!("<a href=\"pixel-{i}.gif\">")));
    }
    let root = chromium::run(
        &browser,
        profile.path(),
        &["--dump-dom"],
        &server.url("/css"),
    );
    // `/css` redirected to `/css/`, whose listing links the stylesheets.
    assert!(
        root.0.contains("<a href=\"style-0.css\">style-0.css</a>"),
        "{}",
        root.0
    );

    if let Some(shot) = std::env::var_os("BASEHTTP_SCREENSHOT") {
        let shot = format!("--screenshot={}", shot.to_string_lossy());
        chromium::run(
            &browser,
            profile.path(),
            &[&shot, "--window-size=1200,800"],
            &server.url("/img/"),
        );
    }

    let log = server.stop();
    let served: Vec<&str> = log.lines().filter(|l| l.contains("\" 200 ")).collect();
    assert!(
        served.len() > ASSETS,
        "the access log shows {} answers of 200: {log}",
        served.len()
    );
    assert!(!log.contains("\" 5"), "a 5xx in the log: {log}");
}
