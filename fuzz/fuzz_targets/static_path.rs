//! Static path resolution, end to end: each input becomes the target of a `GET` to a
//! `StaticFiles` server whose root sits inside a directory holding a secret, with symlinks
//! leading out planted inside the root and a dotfile. Bytes a request target cannot hold are
//! percent-encoded, so every input reaches the resolver. Crashes: a panic anywhere in the
//! server, a response carrying the secret or the dotfile, or a status outside the expected set.

#![no_main]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use basehttp::{Config, Server, ServerHandle, StaticFiles};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ROOT";
const DOTFILE: &str = "HIDDEN-DOTFILE-CONTENT";

fn server() -> SocketAddr {
    static SERVER: OnceLock<ServerHandle> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            std::panic::set_hook(Box::new(|info| {
                eprintln!("{info}");
                std::process::abort();
            }));
            let top = std::env::temp_dir().join(format!("basehttp-fuzz-{}", std::process::id()));
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
            let mut c = Config::default();
            c.workers = 2;
            Server::bind("127.0.0.1:0")
                .and_then(|s| s.config(c).spawn(StaticFiles::new(&root).unwrap()))
                .expect("server")
        })
        .local_addr()
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let mut target = String::from("/");
    for &b in data {
        if b <= b' ' || b >= 0x7f {
            target.push_str(&format!("%{b:02X}"));
        } else {
            target.push(b as char);
        }
    }
    let mut s = TcpStream::connect(server()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("the server closes");
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains(SECRET), "{target} leaked the secret");
    assert!(!text.contains(DOTFILE), "{target} leaked a dotfile");
    let status = text.get(9..12).unwrap_or("");
    assert!(
        ["200", "301", "400", "403", "404", "414", "431"].contains(&status),
        "{target} answered {status:?}"
    );
});
