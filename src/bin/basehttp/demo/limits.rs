//! The demo's limits on what a request may ask for, which `/stats` reports too.

/// Longest `ms` for `/sleep`, `/cpu` and `/stream`: long enough to watch a worker stay busy,
/// short enough that a typo does not hold a worker for an hour.
pub const MAX_MS: u64 = 10_000;
/// Most chunks `/stream` sends.
pub const MAX_CHUNKS: u64 = 1_000;
/// Longest a whole `/stream` may take (`chunks × ms`).
pub const MAX_STREAM_MS: u64 = 60_000;
