//! The smallest useful server: `cargo run --example hello`, then open http://127.0.0.1:8000/.

use basehttp::{Request, Response, Server};

fn main() -> std::io::Result<()> {
    Server::bind("127.0.0.1:8000")?
        .workers(8)
        .serve(|req: &mut Request| match req.path() {
            "/" => Response::text("Hello, World!"),
            _ => Response::error(404),
        })
}
