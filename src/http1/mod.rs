//! The socket-free HTTP/1.1 layer: bytes in, decisions and bytes out.
//!
//! - [`head`]: parsing a request head with `httparse` and the RFC 9112 checks on it (sizes,
//!   `Host`, the message body length, persistence, `Expect`, targets);
//! - [`decode`]: request body decoders (`Content-Length` and chunked) over any
//!   [`decode::Source`] of bytes: the connection in the server, a byte slice in the tests;
//! - [`encode`]: response heads, the chunked coding and the server's own error responses;
//! - [`persistence`]: whether the connection stays open after an exchange;
//! - [`lex`]: the byte-level helpers the others share.
//!
//! Nothing in this module reads or writes a socket, reads the clock (but through `date`'s
//! cached `Date` value) or touches the pool: every framing rule is tested on byte slices
//! beside its code and fuzzed in-process (`fuzz/fuzz_targets/chunked.rs`). The worker
//! (`crate::worker`) does the I/O and calls in here.

pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod head;
pub(crate) mod lex;
pub(crate) mod persistence;

pub use decode::BodyError;
pub use encode::reason_phrase;
pub use head::Version;
pub use lex::{is_field_value, is_reason_phrase, is_token};
