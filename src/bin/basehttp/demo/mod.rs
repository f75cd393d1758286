//! `basehttp demo`: the server with teaching endpoints that make the pool's behaviour visible
//! (issue 4). `/sleep` and `/cpu` stand for I/O-bound and CPU-bound handlers, `/stats` shows
//! the pool as JSON, and `/` is a page that draws it live.
//!
//! This module owns the routes, their parameters and the process's start-up for the demo; the
//! JSON is in `stats_json`, the page in `page.html`. It adds nothing to the path of `/hello`,
//! the benchmark endpoint.

mod limits;
mod stats_json;

use std::io::{self, Read};
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use basehttp::supervised::Figures;
use basehttp::{Config, Request, Response};

use crate::cli::ServeArgs;
use limits::{MAX_CHUNKS, MAX_MS, MAX_STREAM_MS};
use stats_json::Settings;

/// The page at `/`: one self-contained file, no external assets.
const PAGE: &str = include_str!("page.html");

/// The demo's handler: the routes, plus what each worker was last asked to do.
pub struct Demo {
    /// Per worker: the request line it last started on, and when.
    activity: Box<[Mutex<Activity>]>,
    started: Instant,
    settings: Settings,
    /// Under a supervisor: every worker process's figures.
    figures: Option<Figures>,
}

/// What a worker was last asked to do.
#[derive(Default)]
pub struct Activity {
    pub line: String,
    pub since: Option<Instant>,
}

impl Demo {
    pub fn new(config: &Config, figures: Option<Figures>) -> Demo {
        iterations_per_ms();
        // The figures the pool will run with.
        let config = config.clone().normalized();
        Demo {
            activity: (0..config.workers)
                .map(|_| Mutex::new(Activity::default()))
                .collect(),
            started: Instant::now(),
            settings: Settings {
                active_workers: config.active_workers,
                spare_places: config.spare_places,
                when_full: config.when_full,
                keep_alive: config.keep_alive,
            },
            figures,
        }
    }

    /// Notes that the worker serving `req` started on it (reusing the string's capacity).
    fn note(&self, req: &Request) {
        if let Some(slot) = self.activity.get(req.worker()) {
            let mut a = slot.lock().unwrap_or_else(PoisonError::into_inner);
            a.line.clear();
            a.line.push_str(req.method());
            a.line.push(' ');
            // Targets are at most 8 KiB; the page needs the start of one.
            let target = req.target();
            let end = (0..=target.len().min(120))
                .rev()
                .find(|&i| target.is_char_boundary(i))
                .unwrap_or(0);
            a.line.push_str(&target[..end]);
            a.since = Some(Instant::now());
        }
    }

    fn stats(&self, req: &Request) -> Response {
        let stats = req.server_stats();
        let activity: Vec<(String, Option<Duration>)> = self
            .activity
            .iter()
            .map(|slot| {
                let a = slot.lock().unwrap_or_else(PoisonError::into_inner);
                (a.line.clone(), a.since.map(|t| t.elapsed()))
            })
            .collect();
        let body = stats_json::render(&stats_json::Snapshot {
            stats: &stats,
            activity: &activity,
            settings: self.settings,
            uptime: self.started.elapsed(),
            processes: &self.figures.as_ref().map(Figures::all).unwrap_or_default(),
        });
        Response::json(body).with_header("Cache-Control", "no-store")
    }
}

impl basehttp::Handler for Demo {
    /// `/echo` streams: it answers while the body is still arriving (and shows what streaming
    /// costs: a slow upload holds a worker). `/echo?buffered=1` receives the body first, like
    /// every other route, so the two can be compared under a slow client.
    fn body_policy(&self, head: &basehttp::RequestHead<'_>) -> basehttp::BodyPolicy {
        let buffered = head
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "buffered=1"));
        if head.path() == "/echo" && !buffered {
            basehttp::BodyPolicy::Stream
        } else {
            basehttp::BodyPolicy::ReceiveFirst
        }
    }

    fn handle(&self, req: &mut Request<'_>) -> Response {
        let path = req.path();
        // The benchmark endpoint first, with nothing else on its path.
        if path == "/hello" {
            return match req.method() {
                "GET" | "HEAD" => {
                    Response::text("Hello, World!").with_header("Access-Control-Allow-Origin", "*")
                }
                _ => method_not_allowed("GET, HEAD"),
            };
        }
        let allowed = match path {
            "/" | "/sleep" | "/cpu" | "/stream" | "/stats" => "GET, HEAD",
            "/echo" => "POST",
            _ => return Response::error(404),
        };
        let method_ok = match allowed {
            "POST" => req.method() == "POST",
            _ => matches!(req.method(), "GET" | "HEAD"),
        };
        if !method_ok {
            return method_not_allowed(allowed);
        }
        self.note(req);
        let query = req.query();
        let response = match path {
            "/" => {
                if query.is_some() {
                    return bad_request("/ takes no parameters");
                }
                Response::html(PAGE).with_header("Cache-Control", "no-store")
            }
            "/sleep" => match Params::parse(query, &["ms"], path).and_then(|p| p.ms("ms")) {
                Ok(ms) => {
                    std::thread::sleep(Duration::from_millis(ms));
                    Response::text("slept")
                }
                Err(e) => return bad_request(&e),
            },
            "/cpu" => match Params::parse(query, &["ms"], path).and_then(|p| p.ms("ms")) {
                Ok(ms) => {
                    std::hint::black_box(work(ms * iterations_per_ms()));
                    Response::text("spun")
                }
                Err(e) => return bad_request(&e),
            },
            "/stream" => match stream_params(query) {
                Ok((chunks, ms)) => Response::reader(Chunks {
                    total: chunks,
                    sent: 0,
                    gap: Duration::from_millis(ms),
                })
                .with_content_type("text/plain; charset=utf-8"),
                Err(e) => return bad_request(&e),
            },
            "/echo" => {
                if query.is_some_and(|q| q != "buffered=1") {
                    return bad_request("/echo takes no parameters but buffered=1");
                }
                let kind = req
                    .header("content-type")
                    .filter(|v| !v.is_empty())
                    .unwrap_or("application/octet-stream")
                    .to_string();
                Response::echo_body().with_content_type(kind)
            }
            _ => {
                if query.is_some() {
                    return bad_request("/stats takes no parameters");
                }
                self.stats(req)
            }
        };
        response.with_header("Access-Control-Allow-Origin", "*")
    }
}

fn method_not_allowed(allow: &'static str) -> Response {
    Response::error(405).with_header("Allow", allow)
}

/// A `400` whose text names what was wrong (always a parameter, or the lack of one).
fn bad_request(why: &str) -> Response {
    Response::text(format!("400 Bad Request: {why}\n")).with_status(400)
}

/// A query string's parameters, checked against the names a route takes.
struct Params<'q> {
    pairs: Vec<(&'q str, &'q str)>,
    route: &'q str,
}

impl<'q> Params<'q> {
    /// Splits `a=1&b=2`; an unknown or repeated name, or one without `=`, is an error.
    fn parse(query: Option<&'q str>, names: &[&str], route: &'q str) -> Result<Params<'q>, String> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !names.contains(&name) {
                return Err(format!(
                    "unknown parameter `{}`; {route} takes {}",
                    shown(name),
                    names.join(" and ")
                ));
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(format!("parameter `{name}` is given twice"));
            }
            pairs.push((name, value));
        }
        Ok(Params { pairs, route })
    }

    /// A required whole number of milliseconds, at most [`MAX_MS`].
    fn ms(&self, name: &str) -> Result<u64, String> {
        self.number(name, MAX_MS, "milliseconds")
    }

    fn number(&self, name: &str, max: u64, unit: &str) -> Result<u64, String> {
        let Some(&(_, value)) = self.pairs.iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "missing parameter `{name}` (e.g. {}?{name}=50)",
                self.route
            ));
        };
        match value.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            Ok(n) => Err(format!(
                "parameter `{name}` is {n}, more than the limit of {max} {unit}"
            )),
            Err(_) => Err(format!(
                "parameter `{name}` must be a whole number of {unit} from 0 to {max}, not \"{}\"",
                shown(value)
            )),
        }
    }
}

/// A client's text, cut short for an error message.
fn shown(text: &str) -> String {
    text.chars().take(40).collect()
}

/// `chunks` and `ms` for `/stream`.
fn stream_params(query: Option<&str>) -> Result<(u64, u64), String> {
    let p = Params::parse(query, &["chunks", "ms"], "/stream")?;
    let chunks = p.number("chunks", MAX_CHUNKS, "chunks")?;
    let ms = p.ms("ms")?;
    if chunks.saturating_mul(ms) > MAX_STREAM_MS {
        return Err(format!(
            "parameters `chunks` × `ms` make {} ms, more than the limit of {MAX_STREAM_MS} ms",
            chunks * ms
        ));
    }
    Ok((chunks, ms))
}

/// Iterations of [`work`] the CPU does per millisecond, measured once at start.
///
/// `/cpu?ms=N` does a fixed amount of work (N ms on an idle core), not "spin until N ms of
/// wall time have passed": with more busy threads than cores, a wall-clock spin would get less
/// CPU per request and make extra workers look as if they raised CPU-bound throughput.
fn iterations_per_ms() -> u64 {
    static RATE: OnceLock<u64> = OnceLock::new();
    *RATE.get_or_init(|| {
        // The best of many short runs: on a busy machine a long run is always shared with
        // other processes, while one of twenty 2 ms runs (shorter than a scheduler slice)
        // likely has the core to itself. About 40 ms at start.
        (0..20)
            .map(|_| {
                std::thread::yield_now();
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < Duration::from_millis(2) {
                    std::hint::black_box(work(2_000));
                    n += 2_000;
                }
                n * 1000 / start.elapsed().as_micros().max(1) as u64
            })
            .max()
            .unwrap_or(100_000)
            .max(1)
    })
}

/// Burns the CPU: `n` rounds of a multiply-add the compiler cannot skip.
fn work(n: u64) -> u64 {
    let mut x = 0u64;
    for _ in 0..n {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

/// The body of `/stream`: one line per `read`, which the server sends as one chunk, with a
/// pause before every line but the first.
struct Chunks {
    total: u64,
    sent: u64,
    gap: Duration,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent == self.total {
            return Ok(0);
        }
        if self.sent > 0 {
            std::thread::sleep(self.gap);
        }
        self.sent += 1;
        let line = format!("chunk {} of {}\n", self.sent, self.total);
        let n = line.len().min(buf.len());
        buf[..n].copy_from_slice(&line.as_bytes()[..n]);
        Ok(n)
    }
}

/// Runs `basehttp demo`: the server with [`Demo`], timed access lines, and the banner.
pub fn run(args: ServeArgs) -> ExitCode {
    let ServeArgs {
        addr,
        mut config,
        processes,
        ..
    } = args;
    config.log_timings = true;
    let make = |config: &Config, link: Option<&mut basehttp::supervised::Link>| {
        Demo::new(config, link.map(|l| l.figures()))
    };
    crate::serve::run_server(
        &addr,
        &processes,
        config,
        make,
        |_| None,
        |config, local| {
            let url = crate::serve::url(local);
            format!(
                "basehttp {} demo: {} workers ({} run at once, {} more while handlers are long), queue of {} ({} when full)\n\
             Starting development server at {url}\n\
             Quit the server with CONTROL-C.\n\
             Open {url} to watch the pool; try {url}sleep?ms=500, {url}cpu?ms=200, {url}stats.",
                env!("CARGO_PKG_VERSION"),
                config.workers,
                config.active_workers,
                config.spare_places,
                config.queue,
                config.when_full.name(),
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_named_in_errors() {
        let ms = |q: &str| Params::parse(Some(q), &["ms"], "/sleep").and_then(|p| p.ms("ms"));
        assert_eq!(ms("ms=50"), Ok(50));
        assert_eq!(ms("ms=0"), Ok(0));
        assert_eq!(ms("ms=10000"), Ok(10_000));
        for bad in [
            "ms=10001",
            "ms=-1",
            "ms=abc",
            "ms=",
            "ms",
            "",
            "msec=5",
            "ms=1&ms=2",
        ] {
            let e = ms(bad).unwrap_err();
            assert!(e.contains("`ms`") || e.contains("`msec`"), "{bad}: {e}");
        }
        assert!(ms("ms=99999999999999999999").unwrap_err().contains("`ms`"));
    }

    #[test]
    fn stream_parameters_and_caps() {
        assert_eq!(stream_params(Some("chunks=3&ms=10")), Ok((3, 10)));
        assert_eq!(stream_params(Some("ms=0&chunks=1000")), Ok((1000, 0)));
        let e = stream_params(Some("chunks=1001&ms=0")).unwrap_err();
        assert!(e.contains("`chunks`"), "{e}");
        let e = stream_params(Some("chunks=100&ms=1000")).unwrap_err();
        assert!(e.contains("`chunks` × `ms`"), "{e}");
        let e = stream_params(Some("chunks=2")).unwrap_err();
        assert!(e.contains("missing parameter `ms`"), "{e}");
    }

    #[test]
    fn chunks_come_one_line_per_read() {
        let mut c = Chunks {
            total: 2,
            sent: 0,
            gap: Duration::ZERO,
        };
        let mut text = String::new();
        c.read_to_string(&mut text).unwrap();
        assert_eq!(text, "chunk 1 of 2\nchunk 2 of 2\n");
    }
}
