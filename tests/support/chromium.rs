//! Headless Chromium for the browser tests: finding it, and running it on a page with the flags
//! this machine needs (without the background-networking ones its closed network refuses
//! connections, many at a time).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long Chromium may take for one page before the test gives up (a hang, not a timing
/// assertion: a cold start on a loaded 2-core machine takes a few seconds).
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Headless, and without what this machine's closed network or a container refuses.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// The Chromium binary on the PATH, if any.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The Chromium binary; without one, fails in CI (`CI` set: `.ci/run` installs it) and
/// otherwise says that `what` was skipped.
pub fn find_or_skip(what: &str) -> Option<PathBuf> {
    let found = find();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed, and CI is set: .ci/run should have installed it"
        );
        eprintln!("SKIPPED {what}: `chromium` is not on the PATH (apt-get install -y chromium)");
    }
    found
}

/// Runs headless Chromium with `extra` arguments on `url`; returns stdout and the wall time.
pub fn run(browser: &Path, profile: &Path, extra: &[&str], url: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(browser)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Read stdout on a thread so a full pipe cannot stall the browser.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        err
    });
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {BROWSER_TIMEOUT:?}; stderr: {}",
                err_reader.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if out.is_empty() {
        eprintln!("chromium printed nothing; its stderr:\n{err}");
    }
    (out, elapsed)
}
