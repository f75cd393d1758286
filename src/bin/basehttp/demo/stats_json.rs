//! The JSON of `GET /stats`, written by hand (the library has no serde, and the shape is
//! small and fixed). It only formats; it reads no counters itself.

use std::fmt::Write as _;
use std::time::Duration;

use basehttp::supervisor::report::Report;
use basehttp::{Stats, WhenFull, WorkerState};

use crate::demo::limits::{MAX_CHUNKS, MAX_MS, MAX_STREAM_MS};

/// Settings shown by `/stats` that the counters do not carry.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub active_workers: usize,
    /// Places the run gate adds while handlers are long.
    pub spare_places: usize,
    pub when_full: WhenFull,
    pub keep_alive: Duration,
}

/// Everything `/stats` shows.
pub struct Snapshot<'a> {
    pub stats: &'a Stats,
    /// Per worker: the request line it last started on, and how long ago.
    pub activity: &'a [(String, Option<Duration>)],
    pub settings: Settings,
    pub uptime: Duration,
    /// Under a supervisor: every worker process's last report (this one's among them).
    pub processes: &'a [Report],
}

/// A JSON string literal.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Milliseconds with three decimals (microsecond resolution).
fn millis(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Renders the snapshot. Field names are stable: the page and the tests read them.
pub fn render(s: &Snapshot) -> String {
    let st = s.stats;
    let mut out = String::with_capacity(512 + 160 * st.workers);
    let policy = match s.settings.when_full {
        WhenFull::Block => "block",
        WhenFull::Reject => "reject",
    };
    let _ = write!(
        out,
        "{{\"uptime_ms\":{},\"workers\":{},\"active_workers\":{},\"spare_places\":{},\"busy_workers\":{},\
         \"queue_depth\":{},\"queue_capacity\":{},\"when_full\":\"{policy}\",\
         \"keep_alive_ms\":{},\"accepted\":{},\"rejected\":{},\"served\":{},\
         \"active_connections\":{},\"parks\":{},\"writes\":{},",
        s.uptime.as_millis(),
        st.workers,
        s.settings.active_workers,
        s.settings.spare_places,
        st.busy_workers,
        st.queue_depth,
        st.queue_capacity,
        s.settings.keep_alive.as_millis(),
        st.accepted,
        st.rejected,
        st.served,
        st.active_connections,
        st.parks,
        st.writes,
    );
    let p = &st.parked;
    let _ = write!(
        out,
        "\"parked\":{{\"total\":{},\"idle\":{},\"head\":{},\"body\":{},\"write\":{},\
         \"drain\":{},\"linger\":{},\"stream\":{}}},",
        p.total(),
        p.idle,
        p.head,
        p.body,
        p.write,
        p.drain,
        p.linger,
        p.stream,
    );
    let l = &st.latency;
    let _ = write!(
        out,
        "\"latency_ms\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"samples\":{},\"window\":{}}},",
        millis(l.p50),
        millis(l.p90),
        millis(l.p99),
        l.samples,
        l.window.as_millis(),
    );
    out.push_str("\"closes\":{");
    for (i, (reason, count)) in st.closes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\":{count}", reason.name());
    }
    out.push_str("},");
    let _ = write!(
        out,
        "\"body_memory\":{},\"body_disk\":{},",
        st.body_memory, st.body_disk
    );
    let _ = write!(
        out,
        "\"limits\":{{\"ms\":{MAX_MS},\"chunks\":{MAX_CHUNKS},\"stream_ms\":{MAX_STREAM_MS}}},\
         \"per_worker\":["
    );
    for (id, state) in st.worker_states.iter().enumerate() {
        if id > 0 {
            out.push(',');
        }
        let served = st.served_per_worker.get(id).copied().unwrap_or(0);
        let _ = write!(
            out,
            "{{\"id\":{id},\"state\":\"{}\",\"served\":{served},\"request\":",
            state.name()
        );
        // What it is doing: the request it started on, while it is still on it.
        let busy = matches!(*state, WorkerState::Handling | WorkerState::Writing);
        match s.activity.get(id) {
            Some((line, Some(ago))) if busy && !line.is_empty() => {
                string(&mut out, line);
                let _ = write!(out, ",\"for_ms\":{}}}", ago.as_millis());
            }
            _ => out.push_str("null,\"for_ms\":null}"),
        }
    }
    out.push_str("],");
    processes(&mut out, s.processes);
    out.push('}');
    out
}

/// `"pid"`, this process, and `"processes"`: one object per worker process under a
/// supervisor (empty when there is none).
fn processes(out: &mut String, reports: &[Report]) {
    let _ = write!(out, "\"pid\":{},\"processes\":[", std::process::id());
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"pid\":{},\"served\":{},\"threads\":{},\"busy\":{},\"parked\":{},\"open\":{}}}",
            r.pid, r.served, r.threads, r.busy, r.parked, r.open
        );
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "GET /a\"b\\c\u{1}");
        assert_eq!(out, "\"GET /a\\\"b\\\\c\\u0001\"");
    }
}
