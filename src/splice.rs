//! Zero-copy file bodies on Linux: file → pipe → socket with `splice(2)`, reached through the
//! standard library's `io::copy` specialisations, so without `unsafe` and without `libc`.
//!
//! Why a pipe: `io::copy` from a `File` to a `TcpStream` no longer uses `sendfile` (std refuses
//! zero-copy into sockets so that later writes to the file cannot show in bytes already
//! "sent"; see `safe_kernel_copy` in std's `kernel_copy`), and its fallback moves 8 KiB per
//! `read`/`write` pair: 256 system calls and two copies per MiB. Std does splice when the
//! source is a pipe, so the file descriptor is handed to it typed as a [`PipeReader`]: the
//! bytes go file → pipe → socket as page references. Like nginx's `sendfile`, a file changed
//! while its pages sit in the socket's buffer may send the new bytes.
//!
//! This module owns the worker's pipe and the invariant that keeps it safe to reuse: it is
//! empty between responses. It decides nothing about HTTP.

use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;

/// A pipe's capacity is measured once, up to this many bytes (Linux's default is 64 KiB; a
/// larger one set by the administrator is used only up to here).
const MEASURE_MAX: usize = 1 << 20;

/// One worker's pipe for splicing file bodies.
///
/// The write end is non-blocking: a worker that waited for room in a pipe it is also the
/// reader of would wait forever. Each round trip asks for at most the pipe's capacity; the
/// kernel moves what fits (one page-sized slot per page of the file, so a range at an unaligned
/// offset fits a page less) and the rest goes on the next round trip.
pub(crate) struct SplicePipe {
    reader: PipeReader,
    writer: PipeWriter,
    /// Bytes the empty pipe holds (measured with plain writes, which fill every slot).
    capacity: u64,
}

impl SplicePipe {
    /// Creates a pipe and measures its capacity by filling it and draining it.
    pub(crate) fn new() -> io::Result<SplicePipe> {
        let (reader, writer) = io::pipe()?;
        let writer = nonblocking(writer)?;
        let block = [0u8; 4096];
        let mut capacity = 0;
        while capacity < MEASURE_MAX {
            match (&writer).write(&block) {
                Ok(0) => break,
                Ok(n) => capacity += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let mut left = capacity;
        let mut sink = [0u8; 4096];
        while left > 0 {
            let n = (&reader).read(&mut sink[..left.min(4096)])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            left -= n;
        }
        if capacity == 0 {
            return Err(io::Error::other("a pipe with no room"));
        }
        Ok(SplicePipe {
            reader,
            writer,
            capacity: capacity as u64,
        })
    }

    /// Sends `len` bytes of `file`, from its current position, to `stream`. Returns the bytes
    /// sent: fewer than `len` if the file ended early. A send that stops part way (a socket
    /// that would block, or an error) gives back the file, what it sent, and the bytes that
    /// were already in the pipe, read back out of it: the pipe is empty again either way, so
    /// no byte is lost or left for another connection.
    pub(crate) fn send(&self, file: File, len: u64, mut stream: &TcpStream) -> Result<u64, Stop> {
        let mut source = PipeReader::from(OwnedFd::from(file));
        let mut sent = 0;
        while sent < len {
            let chunk = (len - sent).min(self.capacity);
            let mut part = (&mut source).take(chunk);
            let moved = match io::copy(&mut part, &mut &self.writer) {
                Ok(0) => break, // the file ended early
                Ok(moved) => moved,
                // The pipe filled before `chunk` bytes: send what is in it. (`Take` counts
                // what the kernel moved; plain writes of at most the capacity never get here.)
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && part.limit() < chunk => {
                    chunk - part.limit()
                }
                Err(error) => return Err(self.stop(source, sent, 0, error)),
            };
            // Exactly `moved` bytes are in the pipe: this cannot wait for more.
            let mut out = (&self.reader).take(moved);
            match io::copy(&mut out, &mut stream) {
                Ok(n) if n == moved => sent += moved,
                Ok(n) => {
                    let error = io::ErrorKind::WriteZero.into();
                    return Err(self.stop(source, sent + n, moved - n, error));
                }
                Err(error) => {
                    let left = out.limit();
                    return Err(self.stop(source, sent + (moved - left), left, error));
                }
            }
        }
        Ok(sent)
    }

    /// Ends a send part way: reads the `in_pipe` bytes still in the pipe back out of it.
    fn stop(&self, source: PipeReader, sent: u64, in_pipe: u64, error: io::Error) -> Stop {
        let mut back = vec![0u8; in_pipe as usize];
        let drained = (&self.reader).read_exact(&mut back);
        Stop {
            file: File::from(OwnedFd::from(source)),
            sent,
            in_pipe: back,
            error,
            pipe_ok: drained.is_ok(),
        }
    }
}

/// Where a send that stopped part way stands.
pub(crate) struct Stop {
    /// The file, positioned after the bytes sent and the bytes in `in_pipe`.
    pub(crate) file: File,
    /// Bytes that reached the socket.
    pub(crate) sent: u64,
    /// Bytes read from the file that did not reach the socket, in order.
    pub(crate) in_pipe: Vec<u8>,
    pub(crate) error: io::Error,
    /// The pipe is empty and reusable.
    pipe_ok: bool,
}

/// A worker's pipe, made on its first large file and remade after an error (which may leave
/// bytes in it). If a pipe cannot be made, files go the plain way from then on.
#[derive(Default)]
pub(crate) struct Splicer {
    pipe: Option<SplicePipe>,
    unavailable: bool,
}

impl Splicer {
    /// Sends `len` bytes of `file` to `stream` through the pipe, or hands the file back when
    /// there is no pipe.
    pub(crate) fn send(
        &mut self,
        file: File,
        len: u64,
        stream: &TcpStream,
    ) -> Result<Result<u64, Stop>, File> {
        if self.pipe.is_none() && !self.unavailable {
            match SplicePipe::new() {
                Ok(pipe) => self.pipe = Some(pipe),
                Err(e) => {
                    log::warn!(
                        "no pipe for splicing files ({e}); sending them with read and write"
                    );
                    self.unavailable = true;
                }
            }
        }
        let Some(pipe) = &self.pipe else {
            return Err(file);
        };
        let result = pipe.send(file, len, stream);
        if let Err(stop) = &result
            && !stop.pipe_ok
        {
            self.pipe = None;
        }
        Ok(result)
    }
}

/// Sets `O_NONBLOCK` on the pipe's write end. Std offers this only on sockets; the
/// `ioctl(FIONBIO)` behind `TcpStream::set_nonblocking` works on any descriptor.
fn nonblocking(writer: PipeWriter) -> io::Result<PipeWriter> {
    let as_socket = TcpStream::from(OwnedFd::from(writer));
    let result = as_socket.set_nonblocking(true);
    let writer = PipeWriter::from(OwnedFd::from(as_socket));
    result.map(|()| writer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// Sends `len` bytes from `offset` of a file of `size` bytes through the pipe and returns
    /// what the peer received.
    fn roundtrip(pipe: &SplicePipe, size: usize, offset: u64, len: u64) -> (u64, Vec<u8>) {
        use std::io::Seek;
        let path = std::env::temp_dir().join(format!(
            "basehttp-splice-{}-{size}-{offset}-{len}",
            std::process::id()
        ));
        std::fs::write(&path, pattern(size)).unwrap();
        let mut file = File::open(&path).unwrap();
        file.seek(io::SeekFrom::Start(offset)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut client = client;
            client.read_to_end(&mut got).unwrap();
            got
        });
        let sent = pipe.send(file, len, &server).map_err(|s| s.error).unwrap();
        drop(server);
        std::fs::remove_file(&path).unwrap();
        (sent, reader.join().unwrap())
    }

    #[test]
    fn files_arrive_whole_at_any_offset_and_the_pipe_is_reusable() {
        let pipe = SplicePipe::new().unwrap();
        assert!(pipe.capacity >= 4096, "{}", pipe.capacity);
        let size = 1 << 20;
        let all = pattern(size);
        for (offset, len) in [
            (0, size as u64),
            (1, 100_000),
            (4095, 300_000),
            (65_536, 65_536),
            (65_535, 65_537),
            (size as u64 - 10, 10),
        ] {
            let (sent, got) = roundtrip(&pipe, size, offset, len);
            assert_eq!(sent, len);
            assert!(got == all[offset as usize..(offset + len) as usize]);
        }
    }

    #[test]
    fn a_file_shorter_than_announced_stops_early() {
        let pipe = SplicePipe::new().unwrap();
        let (sent, got) = roundtrip(&pipe, 70_000, 0, 200_000);
        assert_eq!(sent, 70_000);
        assert_eq!(got, pattern(70_000));
        // The pipe is empty again.
        let (sent, got) = roundtrip(&pipe, 5000, 0, 5000);
        assert_eq!((sent, got), (5000, pattern(5000)));
    }
}
