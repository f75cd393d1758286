//! The chunked decoder, in-process: the first two bytes choose how the rest arrives (two
//! piece sizes, cycled, for both the socket reads and the reader's buffers) and the body
//! limit; the rest is a chunked body. Crashes: a panic in the decoder, an outcome that
//! depends on the split, more data than `max_body`, or leftover bytes that are not the
//! input's tail.

#![no_main]

use basehttp::bench_internals::{decode_chunked, decode_chunked_split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let [a, b, body @ ..] = input else { return };
    let splits = [usize::from(a >> 2) + 1, usize::from(*b) + 1];
    let max_body = [0, 16, 4096, u64::MAX][usize::from(a & 3)];
    let whole = decode_chunked(body, max_body);
    let pieces = decode_chunked_split(body, &splits, max_body);
    match (&whole, &pieces) {
        (Ok((data, rest)), Ok((split_data, left))) => {
            assert_eq!(data, split_data, "data differs with splits {splits:?}");
            assert_eq!(rest.len(), *left, "leftover differs with splits {splits:?}");
            assert!(data.len() as u64 <= max_body, "more data than max_body");
            let end = body.len() - rest.len();
            assert!(
                std::ptr::eq(&body[end..], *rest),
                "leftover is not the input's tail"
            );
            // The body ends where its framing does: alone, it decodes the same, nothing left.
            assert_eq!(
                decode_chunked(&body[..end], max_body),
                Ok((data.clone(), &b""[..]))
            );
        }
        (Err(e), Err(split_e)) => assert_eq!(e, split_e, "error differs with splits {splits:?}"),
        _ => panic!("whole gave {whole:?}, splits {splits:?} gave {pieces:?}"),
    }
});
