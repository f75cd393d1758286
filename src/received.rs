//! Request bodies received before the handler runs (`BodyPolicy::ReceiveFirst`): the
//! connection's own store, in memory up to `Config::body_buffer`, then in an unnamed temporary
//! file, within the server-wide budgets of memory and disk.
//!
//! A store travels with its connection through the poller while the body arrives, so a slow
//! upload holds no worker. This module decodes nothing and reads no socket: the worker feeds
//! it decoded bytes (`worker::receive`) and the handler reads them back through `Body`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http1::decode::Decoder;

/// The server-wide budgets for received bodies, and what is in use of them.
#[derive(Debug)]
pub(crate) struct Budgets {
    /// Bytes held in memory by all stores.
    memory: AtomicU64,
    max_memory: u64,
    /// Bytes written to spill files by all stores.
    disk: AtomicU64,
    max_disk: u64,
    dir: PathBuf,
}

/// Why a body could not be stored.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The disk budget (`max_spill`) is spent: answer `503`.
    OverBudget,
    /// The spill file could not be made or written: answer `503`.
    Io(io::Error),
}

impl Budgets {
    pub(crate) fn new(max_memory: u64, max_disk: u64, dir: PathBuf) -> Budgets {
        Budgets {
            memory: AtomicU64::new(0),
            max_memory,
            disk: AtomicU64::new(0),
            max_disk,
            dir,
        }
    }

    /// Bytes of received bodies in memory and on disk right now.
    pub(crate) fn in_use(&self) -> (u64, u64) {
        (self.memory.load(Relaxed), self.disk.load(Relaxed))
    }

    /// Holds `n` bytes of the memory budget for a response's read-ahead (a pinned body's rest,
    /// read for a client slow to take it), if they fit; given back when the hold is dropped.
    pub(crate) fn hold_memory(self: &Arc<Budgets>, n: u64) -> Option<MemoryHold> {
        Budgets::take(&self.memory, self.max_memory, n).then(|| MemoryHold {
            budgets: self.clone(),
            n,
        })
    }

    /// Takes `n` bytes of the budget in `used` if they fit under `max`.
    fn take(used: &AtomicU64, max: u64, n: u64) -> bool {
        used.fetch_update(Relaxed, Relaxed, |u| u.checked_add(n).filter(|&t| t <= max))
            .is_ok()
    }
}

/// Bytes of the memory budget held by a response waiting with its rest in memory.
pub(crate) struct MemoryHold {
    budgets: Arc<Budgets>,
    n: u64,
}

impl Drop for MemoryHold {
    fn drop(&mut self) {
        self.budgets.memory.fetch_sub(self.n, Relaxed);
    }
}

/// Where a received body's bytes are.
enum Data {
    Memory(Vec<u8>),
    File { file: File, len: u64 },
}

/// A received body's bytes, with its share of the budgets (given back when it is dropped).
pub(crate) struct Store {
    data: Data,
    budgets: Arc<Budgets>,
    /// Bytes this store holds in memory, counted in the memory budget.
    in_memory: u64,
}

impl Store {
    pub(crate) fn new(budgets: Arc<Budgets>) -> Store {
        Store {
            data: Data::Memory(Vec::new()),
            budgets,
            in_memory: 0,
        }
    }

    /// Bytes stored.
    pub(crate) fn len(&self) -> u64 {
        match &self.data {
            Data::Memory(v) => v.len() as u64,
            Data::File { len, .. } => *len,
        }
    }

    /// Appends `bytes`: in memory while the store holds at most `in_memory_max` bytes and the
    /// memory budget allows, else in the spill file (made on the first spill).
    pub(crate) fn append(&mut self, bytes: &[u8], in_memory_max: u64) -> Result<(), StoreError> {
        let n = bytes.len() as u64;
        if let Data::Memory(v) = &mut self.data {
            let fits = v.len() as u64 + n <= in_memory_max
                && Budgets::take(&self.budgets.memory, self.budgets.max_memory, n);
            if fits {
                v.extend_from_slice(bytes);
                self.in_memory += n;
                return Ok(());
            }
            self.spill()?;
        }
        let Data::File { file, len } = &mut self.data else {
            unreachable!("spilled above")
        };
        if !Budgets::take(&self.budgets.disk, self.budgets.max_disk, n) {
            return Err(StoreError::OverBudget);
        }
        file.write_all(bytes).map_err(StoreError::Io)?;
        *len += n;
        Ok(())
    }

    /// Moves the bytes held in memory to a new unnamed temporary file.
    fn spill(&mut self) -> Result<(), StoreError> {
        let Data::Memory(v) = &mut self.data else {
            return Ok(());
        };
        let held = v.len() as u64;
        if !Budgets::take(&self.budgets.disk, self.budgets.max_disk, held) {
            return Err(StoreError::OverBudget);
        }
        let mut file = unnamed_file(&self.budgets.dir).map_err(StoreError::Io)?;
        file.write_all(v).map_err(StoreError::Io)?;
        self.data = Data::File { file, len: held };
        self.budgets.memory.fetch_sub(self.in_memory, Relaxed);
        self.in_memory = 0;
        Ok(())
    }

    /// A reader over the stored bytes, from the start.
    pub(crate) fn into_reader(mut self) -> io::Result<StoreReader> {
        if let Data::File { file, .. } = &mut self.data {
            file.seek(SeekFrom::Start(0))?;
        }
        Ok(StoreReader {
            store: self,
            pos: 0,
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.budgets.memory.fetch_sub(self.in_memory, Relaxed);
        if let Data::File { len, .. } = self.data {
            self.budgets.disk.fetch_sub(len, Relaxed);
        }
    }
}

/// Makes a temporary file in `dir` that has no name: created with a fresh name, then unlinked
/// at once, so nothing is left behind whatever happens to the process.
fn unnamed_file(dir: &Path) -> io::Result<File> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Relaxed);
        let path = dir.join(format!(
            ".basehttp-body-{}-{n}-{nanos:x}",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name for a spill file"))
}

/// Reads a received body back, from memory or from its spill file.
pub(crate) struct StoreReader {
    store: Store,
    pos: u64,
}

impl StoreReader {
    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> u64 {
        self.store.len() - self.pos
    }

    /// The unread rest as something a response can send: the bytes, or the file (positioned
    /// at the rest) and its length.
    pub(crate) fn into_rest(self) -> Rest {
        let remaining = self.remaining();
        let StoreReader { mut store, pos } = self;
        let data = std::mem::replace(&mut store.data, Data::Memory(Vec::new()));
        // The budgets are given back when `store` drops here; the bytes now belong to the
        // response, which is bounded by the same per-connection limit.
        drop(store);
        match data {
            Data::Memory(mut v) => {
                v.drain(..pos as usize);
                Rest::Bytes(v)
            }
            Data::File { file, .. } => Rest::File {
                file,
                len: remaining,
            },
        }
    }
}

/// The unread rest of a received body.
pub(crate) enum Rest {
    Bytes(Vec<u8>),
    File { file: File, len: u64 },
}

impl Read for StoreReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let remaining = self.remaining();
        let n = match &mut self.store.data {
            Data::Memory(v) => {
                let rest = &v[self.pos as usize..];
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                n
            }
            Data::File { file, .. } => {
                let want = out
                    .len()
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                file.read(&mut out[..want])?
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// A body being received: the request's head (copied, since the worker's buffer is reused
/// between turns), the decoder's place, the store, and the clocks of the rate and timeout
/// checks.
pub(crate) struct Receiving {
    pub(crate) head: Vec<u8>,
    pub(crate) decoder: Decoder,
    pub(crate) store: Store,
    /// The waits on the client: `body_timeout` and `min_body_rate`, counted on the bytes on
    /// the wire (framing included).
    pub(crate) pacing: crate::pacing::Pacing,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budgets(memory: u64, disk: u64) -> Arc<Budgets> {
        Arc::new(Budgets::new(memory, disk, std::env::temp_dir()))
    }

    fn read_all(store: Store) -> Vec<u8> {
        let mut out = Vec::new();
        store.into_reader().unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn small_bodies_stay_in_memory_and_large_ones_spill() {
        let b = budgets(1 << 20, 1 << 20);
        let mut store = Store::new(b.clone());
        store.append(b"hello ", 16).unwrap();
        assert_eq!(b.in_use(), (6, 0));
        store.append(b"world, spilled", 16).unwrap();
        assert_eq!(b.in_use(), (0, 20));
        assert_eq!(read_all(store), b"hello world, spilled");
        assert_eq!(b.in_use(), (0, 0));
    }

    #[test]
    fn the_memory_budget_spills_and_the_disk_budget_refuses() {
        let b = budgets(4, 10);
        let mut store = Store::new(b.clone());
        store.append(b"12345", 1 << 20).unwrap();
        assert_eq!(b.in_use(), (0, 5));
        assert!(matches!(
            store.append(b"678901", 1 << 20),
            Err(StoreError::OverBudget)
        ));
        drop(store);
        assert_eq!(b.in_use(), (0, 0));
    }

    #[test]
    fn the_rest_is_what_was_not_read() {
        let mut reader = {
            let mut store = Store::new(budgets(100, 100));
            store.append(b"abcdef", 100).unwrap();
            store.into_reader().unwrap()
        };
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).unwrap();
        assert_eq!(reader.remaining(), 4);
        assert!(matches!(reader.into_rest(), Rest::Bytes(v) if v == b"cdef"));
    }
}
