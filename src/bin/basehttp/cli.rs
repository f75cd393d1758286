//! The command line: `basehttp [ADDRPORT] [options]`, parsed with `lexopt`.
//!
//! This module turns arguments into a [`Command`]; it starts nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use basehttp::{Config, WhenFull};
use lexopt::ValueExt;

/// The default address, as Django's runserver and `python -m http.server --bind 127.0.0.1`.
pub const DEFAULT_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The default port.
pub const DEFAULT_PORT: u16 = 8000;

// The usages share their sections: each macro is one literal, so `concat!` builds the three
// texts at compile time.

/// What ADDRPORT may be, for the serving commands.
macro_rules! addrport_text {
    () => {
        "\
ADDRPORT is a port (8000), or an address and a port (0:8000, 127.0.0.1:8000,
[::1]:8000, localhost:8000). Default: 127.0.0.1:8000. \"0\" means 0.0.0.0.
"
    };
}

/// The options that say where to listen.
macro_rules! listen_options {
    () => {
        "  -b, --bind ADDR          the address to listen on; ADDRPORT is then only a port
  -6, --ipv6               listen on [::1] by default instead of 127.0.0.1
"
    };
}

/// The pool's options, for the serving commands.
macro_rules! server_options {
    () => {
        "\
Server:
  -w, --workers N          worker threads (default 256)
      --active N           workers that run at once (default: cores - 1, at least 1;
                           on a machine of its own, with clients elsewhere: the cores)
  -q, --queue N            connections that may wait for a worker (default 4096)
      --when-full POLICY   block or reject when the queue is full (default block)
      --keep-alive SECS    idle keep-alive timeout in seconds, 0 disables (default 5)
      --processes N        worker processes sharing the socket, under a supervisor
                           (default: WEB_CONCURRENCY if set, else 1); SIGHUP replaces
                           them one at a time, SIGTERM or Ctrl-C stops them
      --max-requests N     replace a process after N requests (up to 10% more)
      --timeout SECS       replace a process that sends no heartbeat for SECS (default 30)
"
    };
}

/// The demo's endpoints.
macro_rules! demo_endpoints {
    () => {
        "  /               a live page of the pool (workers, queue, counters, charts)
  /hello          Hello, World!
  /sleep?ms=N     blocks the worker N ms (an I/O-bound handler), N <= 10000
  /cpu?ms=N       spins the CPU N ms (a CPU-bound handler), N <= 10000
  /echo           POST: streams the request body back
  /stream?chunks=N&ms=M   N chunks (N <= 1000), M ms apart (N*M <= 60000)
  /stats          the pool as JSON
Its access lines add the worker and the time queued and in the handler.
"
    };
}

/// The load generator's options.
macro_rules! load_options {
    () => {
        "  -c, --connections N      connections to keep busy (default 8)
  -d, --duration SECS      how long to run (default 10)
  -t, --threads N          client threads (default 1)
      --pipeline N         requests sent per write on each connection (default 1)
      --close              a new connection for every request
"
    };
}

/// The last line of the serving commands' usages.
macro_rules! logging_text {
    () => {
        "Logging: access lines go to stderr; RUST_LOG=debug shows more, RUST_LOG=warn less."
    };
}

/// `basehttp --help`: every command, every option.
pub const USAGE: &str = concat!(
    "\
Usage: basehttp [ADDRPORT] [OPTIONS]
       basehttp demo [ADDRPORT] [OPTIONS]
       basehttp load URL [LOAD OPTIONS]

A thread-pool HTTP/1.1 development server: serves a directory.

",
    addrport_text!(),
    "As with python -m http.server, `basehttp 8000 -b 0.0.0.0 -d site` works too.

Files:
  -d, --directory DIR      the directory to serve (default: the current one)
",
    listen_options!(),
    "      --cors               allow any origin (Access-Control-Allow-Origin: *, preflight)
      --spa                unknown paths a browser navigates to get /index.html
      --reload             the browser follows every save: a stylesheet is swapped in
                           place, anything else reloads the tab
      --no-listing         no directory listings (403 for a directory without index)
      --index NAME         the index file of a directory (default index.html)
      --header \"N: V\"      add a header to every response (repeatable)
      --hidden             serve and list dotfiles (hidden by default: 404)
      --quiet              no access log

",
    server_options!(),
    "  -h, --help               print this help
  -V, --version            print the version

Demo: `basehttp demo` takes the same options and serves teaching endpoints instead:
",
    demo_endpoints!(),
    "
Load options (a closed-loop load generator, like wrk; loopback targets only):
",
    load_options!(),
    "
",
    logging_text!(),
);

/// `basehttp demo --help`.
pub const DEMO_USAGE: &str = concat!(
    "\
Usage: basehttp demo [ADDRPORT] [OPTIONS]

The server with teaching endpoints that make the thread pool's trade-offs visible:
",
    demo_endpoints!(),
    "
",
    addrport_text!(),
    "As with python -m http.server, `basehttp demo 8000 -b 0.0.0.0` works too.

Options:
",
    listen_options!(),
    "      --quiet              no access log

",
    server_options!(),
    "  -h, --help               print this help

",
    logging_text!(),
);

/// `basehttp load --help`.
pub const LOAD_USAGE: &str = concat!(
    "\
Usage: basehttp load URL [LOAD OPTIONS]

A closed-loop load generator, like wrk: keeps connections busy with GET URL for a
while, then reports requests per second, latency percentiles, errors and the share
of connections served. URL is http://HOST:PORT/PATH; loopback targets only.

Load options:
",
    load_options!(),
    "  -h, --help               print this help",
);

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// `-h`, `--help`: the usage of the command it came with.
    Help(&'static str),
    Version,
    Serve(Box<ServeArgs>),
    /// `basehttp demo`: the server with the teaching endpoints.
    Demo(Box<ServeArgs>),
    Load(crate::load::LoadSpec),
}

/// Arguments of the default command.
#[derive(Debug)]
pub struct ServeArgs {
    /// The address as typed, resolved later (it may be a host name).
    pub addr: String,
    pub config: Config,
    pub files: FileArgs,
    /// No access log (`--quiet`).
    pub quiet: bool,
    pub processes: Processes,
}

/// How many processes, and how they are supervised.
#[derive(Debug, Default, PartialEq)]
pub struct Processes {
    /// `--processes`; else `WEB_CONCURRENCY`, else 1.
    pub count: Option<usize>,
    /// `--max-requests`.
    pub max_requests: Option<u64>,
    /// `--timeout`, in seconds.
    pub timeout: Option<u64>,
}

impl Processes {
    /// The most processes `--processes` takes: more would only contend for the cores.
    pub const MAX: usize = 256;

    /// The count: `--processes`, else `web_concurrency` (the variable's value), else 1.
    pub fn count(&self, web_concurrency: Option<&str>) -> Result<usize, String> {
        if let Some(n) = self.count {
            return Ok(n);
        }
        match web_concurrency {
            None => Ok(1),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if (1..=Processes::MAX).contains(&n) => Ok(n),
                _ => Err(format!(
                    "WEB_CONCURRENCY={text:?}: give a whole number of processes from 1 to {}",
                    Processes::MAX
                )),
            },
        }
    }

    /// Whether a supervisor runs: more than one process, or a supervision option.
    pub fn supervised(&self, count: usize) -> bool {
        count > 1 || self.max_requests.is_some() || self.timeout.is_some()
    }
}

/// What to serve and how: the options of `basehttp::StaticFiles`.
#[derive(Debug, PartialEq)]
pub struct FileArgs {
    pub directory: PathBuf,
    pub index: String,
    pub listing: bool,
    pub hidden: bool,
    pub cors: bool,
    pub spa: bool,
    pub headers: Vec<(String, String)>,
    /// `--reload`: the browser follows every save.
    pub reload: bool,
}

impl Default for FileArgs {
    fn default() -> FileArgs {
        FileArgs {
            directory: PathBuf::from("."),
            index: basehttp::DEFAULT_INDEX.to_string(),
            listing: true,
            hidden: false,
            cors: false,
            spa: false,
            headers: Vec::new(),
            reload: false,
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut addrport: Option<String> = None;
    let mut bind: Option<String> = None;
    let mut ipv6 = false;
    let mut config = Config::default();
    let mut demo = false;
    let mut files = FileArgs::default();
    let mut quiet = false;
    let mut processes = Processes::default();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => {
                return Ok(Command::Help(if demo { DEMO_USAGE } else { USAGE }));
            }
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('w') | Long("workers") => {
                config.workers = number(&mut parser, "--workers")?;
                if !(1..=basehttp::MAX_WORKERS).contains(&config.workers) {
                    return Err(format!(
                        "--workers must be between 1 and {}",
                        basehttp::MAX_WORKERS
                    ));
                }
            }
            Long("active") => {
                config.active_workers = number(&mut parser, "--active")?;
                if config.active_workers == 0 {
                    return Err("--active must be at least 1".into());
                }
            }
            Short('q') | Long("queue") => {
                config.queue = number(&mut parser, "--queue")?;
                if !(1..=basehttp::MAX_QUEUE).contains(&config.queue) {
                    return Err(format!(
                        "--queue must be between 1 and {}",
                        basehttp::MAX_QUEUE
                    ));
                }
            }
            Long("when-full") => {
                let value = parser.value().map_err(|e| e.to_string())?;
                config.when_full = value
                    .string()
                    .map_err(|e| e.to_string())?
                    .parse::<WhenFull>()
                    .map_err(|e| format!("--when-full: {e}"))?;
            }
            Long("keep-alive") => {
                config.keep_alive = Duration::from_secs(number(&mut parser, "--keep-alive")?);
            }
            Long("processes") => {
                let n = number(&mut parser, "--processes")?;
                if !(1..=Processes::MAX).contains(&n) {
                    return Err(format!(
                        "--processes must be between 1 and {}",
                        Processes::MAX
                    ));
                }
                processes.count = Some(n);
            }
            Long("max-requests") => {
                let n = number(&mut parser, "--max-requests")?;
                if n == 0 {
                    return Err("--max-requests must be at least 1".into());
                }
                processes.max_requests = Some(n);
            }
            Long("timeout") => {
                let secs = number(&mut parser, "--timeout")?;
                if secs == 0 {
                    return Err("--timeout must be at least 1 second".into());
                }
                processes.timeout = Some(secs);
            }
            Short('d') | Long("directory") => {
                files.directory = parser.value().map_err(|e| e.to_string())?.into();
            }
            Short('b') | Long("bind") => {
                bind = Some(
                    parser
                        .value()
                        .map_err(|e| e.to_string())?
                        .string()
                        .map_err(|e| e.to_string())?,
                );
            }
            Short('6') | Long("ipv6") => ipv6 = true,
            Long("cors") => files.cors = true,
            Long("spa") => files.spa = true,
            Long("reload") => files.reload = true,
            Long("no-listing") => files.listing = false,
            Long("hidden") => files.hidden = true,
            Long("quiet") => quiet = true,
            Long("index") => {
                files.index = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .string()
                    .map_err(|e| e.to_string())?;
            }
            Long("header") => {
                let text = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .string()
                    .map_err(|e| e.to_string())?;
                files.headers.push(parse_header(&text)?);
            }
            Value(value) if value == "load" && addrport.is_none() => {
                return parse_load(&mut parser);
            }
            Value(value) if value == "demo" && addrport.is_none() && !demo => demo = true,
            Value(value) if addrport.is_none() => {
                addrport = Some(value.string().map_err(|e| e.to_string())?);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    if demo && files != FileArgs::default() {
        return Err(
            "basehttp demo serves teaching endpoints, not files: -d, --cors, --spa, \
             --no-listing, --index, --header, --hidden and --reload are for the file server"
                .into(),
        );
    }
    let addr = listen_address(addrport.as_deref(), bind.as_deref(), ipv6)?;
    let args = Box::new(ServeArgs {
        addr,
        config,
        files,
        quiet,
        processes,
    });
    Ok(if demo {
        Command::Demo(args)
    } else {
        Command::Serve(args)
    })
}

/// The address to listen on, from Django's `ADDRPORT` or http.server's `--bind ADDR` plus a
/// bare port; `-6` makes `[::1]` the default address.
pub fn listen_address(
    addrport: Option<&str>,
    bind: Option<&str>,
    ipv6: bool,
) -> Result<String, String> {
    let default_ip = if ipv6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        DEFAULT_ADDR
    };
    let Some(host) = bind else {
        return match addrport {
            Some(text) => match text.parse::<u16>() {
                Ok(port) => Ok(SocketAddr::new(default_ip, port).to_string()),
                Err(_) => normalize_addrport(text),
            },
            None => Ok(SocketAddr::new(default_ip, DEFAULT_PORT).to_string()),
        };
    };
    let port = match addrport {
        None => DEFAULT_PORT,
        Some(text) => text
            .parse::<u16>()
            .map_err(|_| format!("with --bind, give only a port (e.g. 8000), not \"{text}\""))?,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "0" {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).to_string());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port).to_string());
    }
    if host.is_empty() || host.contains([':', '/', ' ']) {
        return Err(format!("\"{host}\" is not a valid address for --bind"));
    }
    Ok(format!("{host}:{port}"))
}

/// `--header "Name: value"`: the name must be a token, the value free of line breaks.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let invalid = || format!("--header takes \"Name: value\", got \"{text}\"");
    let (name, value) = text.split_once(':').ok_or_else(invalid)?;
    let name = name.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) || value.contains(['\r', '\n', '\0']) {
        return Err(invalid());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// `basehttp load`'s arguments: a [`Command::Load`], or its help.
fn parse_load(parser: &mut lexopt::Parser) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut url = None;
    let mut spec = crate::load::LoadSpec {
        addr: SocketAddr::new(DEFAULT_ADDR, DEFAULT_PORT),
        host: String::new(),
        path: String::new(),
        connections: 8,
        duration: Duration::from_secs(10),
        pipeline: 1,
        close: false,
        threads: 1,
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(LOAD_USAGE)),
            Short('c') | Long("connections") => spec.connections = number(parser, "--connections")?,
            Short('d') | Long("duration") => {
                spec.duration = Duration::from_secs_f64(number(parser, "--duration")?);
            }
            Short('t') | Long("threads") => spec.threads = number(parser, "--threads")?,
            Long("pipeline") => spec.pipeline = number(parser, "--pipeline")?,
            Long("close") => spec.close = true,
            Value(value) if url.is_none() => url = Some(value.string().map_err(|e| e.to_string())?),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let url = url.ok_or("load needs a URL, e.g. http://127.0.0.1:8000/")?;
    (spec.addr, spec.host, spec.path) = crate::load::parse_url(&url)?;
    if spec.connections == 0 || spec.threads == 0 || spec.pipeline == 0 {
        return Err("--connections, --threads and --pipeline must be at least 1".into());
    }
    if !(spec.duration.as_secs_f64() > 0.0 && spec.duration <= Duration::from_secs(3600)) {
        return Err("--duration must be between 0 and 3600 seconds".into());
    }
    Ok(Command::Load(spec))
}

fn number<T: std::str::FromStr>(parser: &mut lexopt::Parser, name: &str) -> Result<T, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    let text = value.string().map_err(|e| e.to_string())?;
    text.parse()
        .map_err(|_| format!("{name} takes a whole number, got \"{text}\""))
}

/// Turns Django's ADDRPORT forms into `host:port`: `8000`, `0:8000`, `1.2.3.4:8000`,
/// `[::1]:8000`, `localhost:8000`.
pub fn normalize_addrport(text: &str) -> Result<String, String> {
    let invalid = || format!("\"{text}\" is not a valid port number or address:port pair.");
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(DEFAULT_ADDR, port).to_string());
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if host == "0" {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).to_string());
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: IpAddr = v6.parse().map_err(|_| invalid())?;
        return Ok(SocketAddr::new(ip, port).to_string());
    }
    if host.is_empty() || host.contains([':', '[', ']', '/']) {
        return Err(invalid());
    }
    Ok(format!("{host}:{port}"))
}

/// Resolves `host:port` to the first address.
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("cannot resolve \"{addr}\": {e}"))?
        .next()
        .ok_or_else(|| format!("\"{addr}\" resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_addrport_forms() {
        assert_eq!(normalize_addrport("8000").unwrap(), "127.0.0.1:8000");
        assert_eq!(normalize_addrport("0:8000").unwrap(), "0.0.0.0:8000");
        assert_eq!(
            normalize_addrport("127.0.0.1:9000").unwrap(),
            "127.0.0.1:9000"
        );
        assert_eq!(normalize_addrport("[::1]:8000").unwrap(), "[::1]:8000");
        assert_eq!(
            normalize_addrport("localhost:8000").unwrap(),
            "localhost:8000"
        );
        for bad in [
            "",
            "abc",
            "99999",
            "1.2.3.4",
            "[::1]",
            "host:port",
            "::1:80",
        ] {
            assert!(normalize_addrport(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options() {
        let args = [
            "-w",
            "3",
            "--queue",
            "7",
            "--when-full",
            "reject",
            "--keep-alive",
            "0",
            "--active",
            "2",
        ];
        let Command::Serve(serve) = parse(args.map(Into::into)).unwrap() else {
            panic!("expected serve");
        };
        assert_eq!(serve.config.workers, 3);
        assert_eq!(serve.config.active_workers, 2);
        assert!(parse(["--active", "0"].map(Into::into)).is_err());
        assert_eq!(serve.config.queue, 7);
        assert_eq!(serve.config.when_full, WhenFull::Reject);
        assert_eq!(serve.config.keep_alive, Duration::ZERO);
        assert_eq!(serve.addr, "127.0.0.1:8000");
        assert!(parse(["--when-full", "maybe"].map(Into::into)).is_err());
        assert!(parse(["8000", "9000"].map(Into::into)).is_err());
        assert!(parse(["-w", "0"].map(Into::into)).is_err());
    }

    fn serve_args(args: &[&str]) -> Result<ServeArgs, String> {
        match parse(args.iter().map(Into::into))? {
            Command::Serve(serve) => Ok(*serve),
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn process_options_and_web_concurrency() {
        let p = serve_args(&[]).unwrap().processes;
        assert_eq!(p, Processes::default());
        assert_eq!(p.count(None), Ok(1));
        assert_eq!(p.count(Some("3")), Ok(3));
        assert!(!p.supervised(1) && p.supervised(2));
        assert!(p.count(Some("0")).is_err() && p.count(Some("many")).is_err());
        let p = serve_args(&["--processes", "4", "--max-requests=1000", "--timeout", "10"])
            .unwrap()
            .processes;
        // --processes wins over WEB_CONCURRENCY; a supervision option alone supervises one.
        assert_eq!(p.count(Some("3")), Ok(4));
        assert_eq!((p.max_requests, p.timeout), (Some(1000), Some(10)));
        let one = serve_args(&["--max-requests", "5"]).unwrap().processes;
        assert!(one.supervised(1));
        for bad in [
            &["--processes", "0"][..],
            &["--processes", "257"],
            &["--processes", "x"],
            &["--max-requests", "0"],
            &["--timeout", "0"],
        ] {
            assert!(serve_args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_options() {
        let serve = serve_args(&[]).unwrap();
        assert_eq!(serve.files.directory, PathBuf::from("."));
        assert_eq!(serve.files.index, "index.html");
        assert!(serve.files.listing && !serve.files.hidden && !serve.quiet);
        let serve = serve_args(&[
            "--directory=site",
            "--cors",
            "--spa",
            "--no-listing",
            "--index",
            "home.htm",
            "--header",
            "X-Frame-Options: DENY",
            "--header=Cache-Control:max-age=0",
            "--hidden",
            "--quiet",
        ])
        .unwrap();
        let f = &serve.files;
        assert_eq!(f.directory, PathBuf::from("site"));
        assert!(f.cors && f.spa && !f.listing && f.hidden && serve.quiet);
        assert_eq!(f.index, "home.htm");
        assert_eq!(
            f.headers,
            [
                ("X-Frame-Options".to_string(), "DENY".to_string()),
                ("Cache-Control".to_string(), "max-age=0".to_string())
            ]
        );
        for bad in ["nocolon", ": x", "Bad Name: x", "X-A\r\nB: c"] {
            assert!(serve_args(&["--header", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_server_and_django_address_forms() {
        let addr = |args: &[&str]| serve_args(args).map(|s| s.addr);
        assert_eq!(addr(&[]).unwrap(), "127.0.0.1:8000");
        assert_eq!(addr(&["9000"]).unwrap(), "127.0.0.1:9000");
        assert_eq!(addr(&["0:9000"]).unwrap(), "0.0.0.0:9000");
        assert_eq!(addr(&["-6"]).unwrap(), "[::1]:8000");
        assert_eq!(addr(&["-6", "9000"]).unwrap(), "[::1]:9000");
        assert_eq!(
            addr(&["9000", "-b", "0.0.0.0", "-d", "site"]).unwrap(),
            "0.0.0.0:9000"
        );
        assert_eq!(addr(&["--bind", "::"]).unwrap(), "[::]:8000");
        assert_eq!(addr(&["-b", "::1", "9000"]).unwrap(), "[::1]:9000");
        assert_eq!(
            addr(&["-b", "localhost", "9000"]).unwrap(),
            "localhost:9000"
        );
        assert_eq!(addr(&["-b", "0", "9000"]).unwrap(), "0.0.0.0:9000");
        assert!(addr(&["-b", "0.0.0.0", "127.0.0.1:9000"]).is_err());
        assert!(addr(&["-b", "a b", "9000"]).is_err());
    }

    #[test]
    fn demo_takes_the_server_options() {
        let args = [
            "demo",
            "127.0.0.1:0",
            "-w",
            "4",
            "-q",
            "16",
            "--when-full",
            "reject",
        ];
        let Command::Demo(demo) = parse(args.map(Into::into)).unwrap() else {
            panic!("expected demo");
        };
        assert_eq!(demo.addr, "127.0.0.1:0");
        assert_eq!((demo.config.workers, demo.config.queue), (4, 16));
        assert_eq!(demo.config.when_full, WhenFull::Reject);
        let Command::Demo(demo) = parse(["demo"].map(Into::into)).unwrap() else {
            panic!("expected demo");
        };
        assert_eq!(demo.addr, "127.0.0.1:8000");
        assert!(parse(["demo", "demo"].map(Into::into)).is_err());
    }

    #[test]
    fn help_is_the_usage_of_its_command() {
        let help = |args: &[&str]| match parse(args.iter().map(Into::into)) {
            Ok(Command::Help(usage)) => usage,
            other => panic!("{args:?}: expected help, got {other:?}"),
        };
        assert_eq!(help(&["--help"]), USAGE);
        assert_eq!(help(&["-w", "2", "-h"]), USAGE);
        assert_eq!(help(&["demo", "--help"]), DEMO_USAGE);
        assert_eq!(help(&["demo", "0:9000", "-h"]), DEMO_USAGE);
        assert_eq!(help(&["load", "--help"]), LOAD_USAGE);
        assert_eq!(
            help(&["load", "http://127.0.0.1:9/", "-c", "4", "-h"]),
            LOAD_USAGE
        );
        for usage in [USAGE, DEMO_USAGE, LOAD_USAGE] {
            assert!(usage.starts_with("Usage: basehttp "));
            // A literal continued with `\` drops the next line's indent: none went missing.
            assert!(!usage.contains("\n-"), "{usage}");
        }
    }

    #[test]
    fn load_options() {
        let args = [
            "load",
            "http://127.0.0.1:9/x",
            "-c",
            "64",
            "-d",
            "2",
            "--pipeline",
            "16",
        ];
        let Command::Load(spec) = parse(args.map(Into::into)).unwrap() else {
            panic!("expected load");
        };
        assert_eq!(
            (spec.connections, spec.pipeline, spec.close),
            (64, 16, false)
        );
        assert_eq!(spec.duration, Duration::from_secs(2));
        assert_eq!(spec.path, "/x");
        assert!(parse(["load"].map(Into::into)).is_err());
        assert!(parse(["load", "http://127.0.0.1:9/", "-c", "0"].map(Into::into)).is_err());
    }
}
