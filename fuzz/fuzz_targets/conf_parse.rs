//! ASSS config parser: the input is split at the first `0xFF` byte into a
//! top-level file and a second file that `#include`s can reach (as
//! `conf/x.conf`, `x.conf` and the arena's own folder), so includes,
//! recursion, conditionals, sections and continuations are all exercised.
#![no_main]

use conf::{ConfigFile, EmbeddedSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (top, inc) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let source = EmbeddedSource::new()
        .with("conf/x.conf", inc.to_vec())
        .with("x.conf", top.to_vec())
        .with("arenas/a/arena.conf", top.to_vec());
    if let Ok(cfg) = ConfigFile::parse_bytes(&source, Some("a"), "arenas/a/arena.conf", top) {
        for s in cfg.sections() {
            for (k, _) in s.iter() {
                let _ = cfg.get_str(s.name(), k);
                let _ = cfg.get_int(s.name(), k, 0);
            }
        }
        let _ = cfg.warnings();
    }
    if let Ok(text) = std::str::from_utf8(top) {
        let _ = ConfigFile::parse_str(text);
    }
});
