//! `.lvl` map decoder (plain, BMP-fronted, extended / eLVL with regions):
//! any file decodes or fails cleanly; a decoded map re-encodes to a file
//! that decodes to the same tiles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::map::Map;

fuzz_target!(|data: &[u8]| {
    if let Ok(map) = Map::decode(data) {
        let _ = map.flags();
        let _ = map.security_checksum(0x1234_5678);
        let _ = map.security_checksum(0x8765_4321);
        for r in map.regions() {
            let _ = r.contains(512, 512);
        }
        let _ = map.regions_at(1, 1).count();
        let tiles: Vec<_> = map.tiles().collect();
        let again = Map::decode(&map.encode()).expect("a re-encoded map decodes");
        let tiles_again: Vec<_> = again.tiles().collect();
        assert_eq!(tiles, tiles_again, "tiles changed in a round trip");
    }
});
