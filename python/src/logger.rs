//! The core's log records (a TLS handshake sent to the plain port, failed sends, accept
//! errors) on standard error, as the `basehttp` binary prints them: `LEVEL: message`.
//!
//! Written from Rust, without the GIL: a worker that reports never waits for Python. Access
//! lines do not come this way (the core writes them itself), and a logger another extension
//! installed first is left in place.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

/// Records at this level and above are printed: what the binary prints by default.
const LEVEL: LevelFilter = LevelFilter::Info;

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= LEVEL && metadata.target() != basehttp::ACCESS_LOG_TARGET
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            // One write for the whole line, so lines from several workers never interleave.
            let line = format!("{}: {}\n", record.level(), record.args());
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

static LOGGER: Stderr = Stderr;

/// Installs the logger, once per process; `false` if another one was there first.
pub fn install() -> bool {
    let installed = log::set_logger(&LOGGER).is_ok();
    if installed {
        log::set_max_level(LEVEL);
    }
    installed
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Level;

    #[test]
    fn access_lines_and_debug_records_are_not_printed() {
        let access = Metadata::builder()
            .level(Level::Info)
            .target(basehttp::ACCESS_LOG_TARGET)
            .build();
        assert!(!Stderr.enabled(&access));
        let debug = Metadata::builder()
            .level(Level::Debug)
            .target("basehttp")
            .build();
        assert!(!Stderr.enabled(&debug));
        let error = Metadata::builder()
            .level(Level::Error)
            .target("basehttp")
            .build();
        assert!(Stderr.enabled(&error));
    }
}
