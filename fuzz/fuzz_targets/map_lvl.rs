//! `.lvl` map decoder (plain, BMP-fronted, extended / eLVL with regions):
//! any file decodes or fails cleanly; a decoded map re-encodes to a file
//! that decodes, and encode∘decode is stable after one pass. (The first
//! pass may lose tiles: a multi-tile object whose anchor cell a later
//! record overwrote is expanded on decode but has no anchor to encode, the
//! limitation the map proptests note.)
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
        let once = Map::decode(&map.encode()).expect("a re-encoded map decodes");
        let twice = Map::decode(&once.encode()).expect("a re-encoded map decodes");
        let tiles_once: Vec<_> = once.tiles().collect();
        let tiles_twice: Vec<_> = twice.tiles().collect();
        assert_eq!(
            tiles_once, tiles_twice,
            "tiles changed in a second round trip"
        );
    }
});
