//! Property tests over a real server (issue 5): the way bytes are split into reads never
//! changes what is parsed, and the chunked coding round-trips both ways.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use basehttp::{Config, Request, Response};
use proptest::prelude::*;
use support::{connect, read_response};

/// `/rec/NAME`: `METHOD NAME ` then the request body. `/gen?len=N&seed=S`: N pseudo-random
/// bytes, streamed chunked from a reader that returns them in pseudo-random read sizes.
fn handler(req: &mut Request) -> Response {
    if let Some(name) = req.path().strip_prefix("/rec/") {
        let mut out = format!("{} {name} ", req.method()).into_bytes();
        match req.read_body_to_vec(1 << 20) {
            Ok(body) => out.extend_from_slice(&body),
            Err(_) => return Response::error(400),
        }
        return Response::bytes(out);
    }
    let query = req.query().unwrap_or("");
    let len = support::param(query, "len").unwrap_or(0usize);
    let seed = support::param(query, "seed").unwrap_or(1u64);
    Response::reader(Generated {
        pos: 0,
        len,
        seed,
        state: seed,
    })
}

/// The bytes `/gen` sends, from the same generator.
fn generated(len: usize, seed: u64) -> Vec<u8> {
    (0..len).map(|i| byte_at(seed, i)).collect()
}

/// Byte `i` of the stream for `seed`, whatever the read sizes.
fn byte_at(seed: u64, i: usize) -> u8 {
    (seed.wrapping_mul(i as u64 + 1).wrapping_add(i as u64 >> 3) >> 24) as u8
}

/// `len` bytes from [`byte_at`], given out in pseudo-random read sizes (xorshift64).
struct Generated {
    pos: usize,
    len: usize,
    seed: u64,
    state: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let want = (self.state % 3000) as usize + 1;
        let n = want.min(buf.len()).min(self.len - self.pos);
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = byte_at(self.seed, self.pos + k);
        }
        self.pos += n;
        Ok(n)
    }
}

fn server() -> SocketAddr {
    static SERVER: OnceLock<basehttp::ServerHandle> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let mut c = Config::default();
            c.workers = 4;
            support::start(c, handler)
        })
        .local_addr()
}

#[derive(Debug, Clone)]
enum Framing {
    None,
    Length,
    /// Chunk sizes to cut the body into, and whether to add extensions and a trailer.
    Chunked(Vec<usize>, bool),
}

#[derive(Debug, Clone)]
struct Req {
    name: String,
    body: Vec<u8>,
    framing: Framing,
}

impl Req {
    fn bytes(&self) -> Vec<u8> {
        let method = if matches!(self.framing, Framing::None) {
            "GET"
        } else {
            "POST"
        };
        let mut out = format!("{method} /rec/{} HTTP/1.1\r\nHost: p\r\n", self.name).into_bytes();
        match &self.framing {
            Framing::None => out.extend_from_slice(b"\r\n"),
            Framing::Length => {
                out.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes(),
                );
                out.extend_from_slice(&self.body);
            }
            Framing::Chunked(sizes, decorated) => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &self.body[..];
                let mut sizes = sizes.iter().cycle();
                while !rest.is_empty() {
                    let n = (*sizes.next().unwrap()).clamp(1, rest.len());
                    let ext = if *decorated { ";x=\"y z\"" } else { "" };
                    out.extend_from_slice(format!("{n:x}{ext}\r\n").as_bytes());
                    out.extend_from_slice(&rest[..n]);
                    out.extend_from_slice(b"\r\n");
                    rest = &rest[n..];
                }
                out.extend_from_slice(b"0\r\n");
                if *decorated {
                    out.extend_from_slice(b"X-Sum: 1\r\n");
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    fn expected(&self) -> Vec<u8> {
        let method = if matches!(self.framing, Framing::None) {
            "GET"
        } else {
            "POST"
        };
        let mut out = format!("{method} {} ", self.name).into_bytes();
        if !matches!(self.framing, Framing::None) {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn req() -> impl Strategy<Value = Req> {
    let framing = prop_oneof![
        Just(Framing::None),
        Just(Framing::Length),
        (prop::collection::vec(1usize..200, 1..6), any::<bool>())
            .prop_map(|(s, d)| Framing::Chunked(s, d)),
    ];
    (
        "[a-z0-9]{1,12}",
        prop::collection::vec(any::<u8>(), 0..600),
        framing,
    )
        .prop_map(|(name, body, framing)| Req {
            name,
            body,
            framing,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Any split of a valid pipelined stream into writes (and so, mostly, into reads) yields
    /// the same requests, answered in order.
    #[test]
    fn any_split_of_a_pipelined_stream_parses_the_same(
        reqs in prop::collection::vec(req(), 1..8),
        cuts in prop::collection::vec(1usize..400, 1..12),
    ) {
        let stream: Vec<u8> = reqs.iter().flat_map(Req::bytes).collect();
        let mut s = connect(server());
        let mut rest = &stream[..];
        let mut cuts = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cuts.next().unwrap()).min(rest.len());
            s.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
            std::thread::sleep(Duration::from_micros(200));
        }
        let mut r = BufReader::new(s);
        for q in &reqs {
            let resp = read_response(&mut r, false).unwrap();
            prop_assert_eq!(resp.status, 200);
            prop_assert_eq!(resp.body, q.expected());
        }
    }

    /// A body the client chunks any way is decoded to the same bytes.
    #[test]
    fn chunked_request_bodies_decode_to_what_was_encoded(
        body in prop::collection::vec(any::<u8>(), 1..5000),
        sizes in prop::collection::vec(1usize..2000, 1..8),
        decorated in any::<bool>(),
    ) {
        let q = Req { name: "c".into(), body, framing: Framing::Chunked(sizes, decorated) };
        let resp = support::exchange(server(), &q.bytes());
        prop_assert_eq!(resp.status, 200);
        prop_assert_eq!(resp.body, q.expected());
    }

    /// A body streamed from a reader in uneven reads is chunk-encoded so that decoding gives
    /// back exactly its bytes.
    #[test]
    fn streamed_responses_encode_to_what_the_reader_gave(
        len in 0usize..100_000,
        seed in 1u64..u64::MAX,
    ) {
        let resp = support::exchange(
            server(),
            format!("GET /gen?len={len}&seed={seed} HTTP/1.1\r\nHost: p\r\n\r\n").as_bytes(),
        );
        prop_assert_eq!(resp.status, 200);
        prop_assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
        prop_assert_eq!(resp.body, generated(len, seed));
    }
}

/// A static root inside a directory that holds a secret, with ways out planted inside the root:
/// symlinks to the secret and to the parent, and a dotfile. Returns the server's address.
fn static_server() -> SocketAddr {
    static SERVER: OnceLock<basehttp::ServerHandle> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let top = std::env::temp_dir().join(format!("basehttp-prop-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&top);
            let root = top.join("root");
            std::fs::create_dir_all(root.join("a/b")).unwrap();
            std::fs::write(top.join("secret.txt"), SECRET).unwrap();
            std::fs::write(root.join("index.html"), "index").unwrap();
            std::fs::write(root.join("a/b/c.txt"), "c").unwrap();
            std::fs::write(root.join(".env"), DOTFILE).unwrap();
            std::os::unix::fs::symlink("../secret.txt", root.join("link-out")).unwrap();
            std::os::unix::fs::symlink("..", root.join("dir-out")).unwrap();
            std::os::unix::fs::symlink("../../index.html", root.join("a/b/link-in")).unwrap();
            let files = basehttp::StaticFiles::new(&root).unwrap();
            support::start(Config::default(), files)
        })
        .local_addr()
}

const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ROOT";
const DOTFILE: &str = "HIDDEN-DOTFILE-CONTENT";

fn segment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "..",
        "%2e%2e",
        ".%2e",
        "%2E.",
        "%2e",
        ".",
        "",
        "a",
        "b",
        "c.txt",
        "a%2fb",
        "%2f",
        "%5c",
        "\\",
        "..\\..",
        "%00",
        "%2500",
        "link-out",
        "dir-out",
        "link-in",
        "secret.txt",
        "root",
        ".env",
        "%2eenv",
        "index.html",
        "%252e%252e",
        "%c0%ae%c0%ae",
        "%",
        "%zz",
        "~",
        "*",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the path, a response never carries a byte from outside the root, nor a
    /// hidden dotfile: `..` in every spelling, encoded separators, symlinks leading out.
    #[test]
    fn a_path_that_resolves_stays_under_the_root(
        segments in prop::collection::vec(segment(), 0..7),
        trailing in any::<bool>(),
        query in any::<bool>(),
    ) {
        let mut target = format!("/{}", segments.join("/"));
        if trailing {
            target.push('/');
        }
        if query {
            target.push_str("?x=../secret.txt");
        }
        let resp = support::exchange(
            static_server(),
            format!("GET {target} HTTP/1.1\r\nHost: p\r\n\r\n").as_bytes(),
        );
        let body = resp.text();
        prop_assert!(!body.contains(SECRET), "{} leaked the secret: {}", target, resp.status);
        prop_assert!(!body.contains(DOTFILE), "{} leaked a dotfile: {}", target, resp.status);
        prop_assert!(!body.contains("secret.txt"), "{} listed outside the root", target);
        prop_assert!(
            [200, 301, 400, 403, 404].contains(&resp.status),
            "{} answered {}",
            target,
            resp.status
        );
    }
}
