//! `basehttp --reload`: the browser follows every save. The served tree is watched here (the
//! `notify` crate; changes within 80 ms are one); the rest is the core's
//! [`basehttp::live_reload`]: HTML documents a browser navigates to get its `<script>`
//! ([`StaticFilesBuilder::inject`](basehttp::StaticFilesBuilder::inject)), which listens on a
//! server-sent event stream that waits in the poller (an open tab holds no worker). A
//! stylesheet that changed is swapped in place in every tab showing it; any other change
//! reloads the tabs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use basehttp::{BodyPolicy, Handler, Request, RequestHead, Response};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use notify::{Event, EventKind, RecursiveMode, Watcher};

/// Saves closer together than this are one change (an editor writes a file in steps).
pub const DEBOUNCE: Duration = Duration::from_millis(80);

/// A handler and the watcher that feeds its streams, kept as long as the server runs.
pub struct Watched<H> {
    pub handler: H,
    pub _watcher: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl<H: Handler> Handler for Watched<H> {
    fn body_policy(&self, head: &RequestHead<'_>) -> BodyPolicy {
        self.handler.body_policy(head)
    }

    fn handle(&self, req: &mut Request<'_>) -> Response {
        self.handler.handle(req)
    }
}

/// What a batch of changed paths under `root` asks of the tabs: `css` for each stylesheet
/// when only stylesheets changed, else one `reload`. Paths with a dot-component are left out
/// unless `hidden` (as the server hides them); `None` when nothing is left.
pub fn events_for(
    root: &Path,
    changed: &[PathBuf],
    hidden: bool,
) -> Option<Vec<(&'static str, String)>> {
    let mut css = Vec::new();
    let mut other = false;
    for path in changed {
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.is_empty() || (!hidden && parts.iter().any(|p| p.starts_with('.'))) {
            continue;
        }
        let url = format!("/{}", parts.join("/"));
        if url.to_ascii_lowercase().ends_with(".css") {
            if !css.contains(&url) {
                css.push(url);
            }
        } else {
            other = true;
        }
    }
    match (other, css.is_empty()) {
        (true, _) => Some(vec![("reload", "/".to_owned())]),
        (false, false) => Some(css.into_iter().map(|u| ("css", u)).collect()),
        (false, true) => None,
    }
}

/// A watcher of `root` that sends to `streams`; keep it as long as the server runs. The
/// native watcher (inotify) where it can be made; else (too many watches, a file system that
/// has none) a polling one that looks every second, which the log says.
/// `BASEHTTP_WATCH=poll` asks for the polling one (a network file system, where inotify is
/// silent about other machines' writes; or to measure it).
pub fn watch(
    root: PathBuf,
    hidden: bool,
    send: impl Fn(&str, &str) + Send + 'static,
) -> Result<Box<dyn std::any::Any + Send + Sync>, String> {
    let (tx, rx) = mpsc::channel();
    let poll = std::env::var("BASEHTTP_WATCH").is_ok_and(|v| v == "poll");
    let native = if poll {
        Err(notify::Error::generic("BASEHTTP_WATCH=poll"))
    } else if let Some(kind) = silent_file_system(&root) {
        // inotify hears this machine's writes only: another machine's (or Windows', for a
        // WSL path on its side) would go unseen.
        Err(notify::Error::generic(&format!(
            "{} is on {kind}",
            root.display()
        )))
    } else {
        notify::recommended_watcher(tx.clone()).and_then(|mut w| {
            w.watch(&root, RecursiveMode::Recursive)?;
            Ok(w)
        })
    };
    let watcher: Box<dyn std::any::Any + Send + Sync> = match native {
        Ok(watcher) => Box::new(watcher),
        Err(e) => {
            log::warn!("live reload: no native watcher ({e}); polling the tree every second");
            let config = notify::Config::default().with_poll_interval(Duration::from_secs(1));
            let mut watcher = notify::PollWatcher::new(tx, config).map_err(|e| e.to_string())?;
            watcher
                .watch(&root, RecursiveMode::Recursive)
                .map_err(|e| e.to_string())?;
            Box::new(watcher)
        }
    };
    std::thread::Builder::new()
        .name("basehttp-watch".into())
        .spawn(move || batches(&rx, &root, hidden, &send))
        .map_err(|e| e.to_string())?;
    Ok(watcher)
}

/// The kind of file system `root` is on when it is one whose changes inotify does not report
/// (a network file system, or the Windows side of WSL): those get the polling watcher.
fn silent_file_system(root: &Path) -> Option<&'static str> {
    let kind = rustix::fs::statfs(root).ok()?.f_type as u64;
    file_system_name(kind)
}

/// The name of a file system whose changes inotify does not report, by its `statfs` magic.
fn file_system_name(magic: u64) -> Option<&'static str> {
    Some(match magic {
        0x6969 => "NFS",
        0xFF53_4D42 => "CIFS",
        0xFE53_4D42 => "SMB2",
        0x517B => "SMB",
        0x0102_1997 => "9P (a WSL path on the Windows side)",
        0x6573_5546 => "FUSE",
        0x0BD0_0BD0 => "Lustre",
        0x0000_564C => "NCP",
        _ => return None,
    })
}

/// Gathers the changes that come within [`DEBOUNCE`] of the first into one batch and sends
/// what it asks for; ends when the watcher is dropped.
fn batches(
    rx: &Receiver<notify::Result<Event>>,
    root: &Path,
    hidden: bool,
    send: &dyn Fn(&str, &str),
) {
    while let Ok(first) = rx.recv() {
        let mut changed = Vec::new();
        keep_changes(first, &mut changed);
        let until = Instant::now() + DEBOUNCE;
        while let Ok(more) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            keep_changes(more, &mut changed);
        }
        if let Some(events) = events_for(root, &changed, hidden) {
            for (kind, data) in events {
                log::debug!("live reload: {kind} {data}");
                send(kind, &data);
            }
        }
    }
}

/// The paths of an event that changes something: a file made, written, renamed, removed or
/// touched; not a read (the server's own, as it serves the file).
fn keep_changes(event: notify::Result<Event>, changed: &mut Vec<PathBuf>) {
    use notify::event::{MetadataKind, ModifyKind};
    let Ok(event) = event else { return };
    let change = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    };
    if change {
        changed.extend(event.paths);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_file_systems_are_polled() {
        assert_eq!(file_system_name(0x6969), Some("NFS"));
        assert!(file_system_name(0x0102_1997).unwrap().contains("WSL"));
        assert_eq!(file_system_name(0xEF53), None, "ext4: inotify");
        assert_eq!(file_system_name(0x0102_1994), None, "tmpfs: inotify");
        // This test's own directory is local.
        assert_eq!(silent_file_system(&std::env::temp_dir()), None);
    }

    #[test]
    fn stylesheets_alone_are_swapped_anything_else_reloads() {
        let root = Path::new("/site");
        let p = |s: &str| PathBuf::from(s);
        let ev = |changed: &[PathBuf], hidden| events_for(root, changed, hidden);
        assert_eq!(
            ev(
                &[p("/site/css/a.css"), p("/site/b.CSS"), p("/site/css/a.css")],
                false
            ),
            Some(vec![("css", "/css/a.css".into()), ("css", "/b.CSS".into())])
        );
        assert_eq!(
            ev(&[p("/site/a.css"), p("/site/index.html")], false),
            Some(vec![("reload", "/".into())])
        );
        assert_eq!(ev(&[p("/site/.git/index"), p("/site/.env")], false), None);
        assert_eq!(
            ev(&[p("/site/.env")], true),
            Some(vec![("reload", "/".into())])
        );
        assert_eq!(ev(&[p("/elsewhere/x"), p("/site")], false), None);
    }
}
