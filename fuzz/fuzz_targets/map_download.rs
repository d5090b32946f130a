//! Map download decompression (zlib, as in S2C 0x2A): any input inflates
//! or fails cleanly and never beyond the limit; what inflates is decoded as
//! a map, as a bot downloading a map does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::map::{decompress_download, Map};

/// A small limit so that zlib bombs are caught quickly.
const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    if let Ok(lvl) = decompress_download(data, LIMIT) {
        assert!(lvl.len() <= LIMIT);
        let _ = Map::decode(&lvl);
    }
});
