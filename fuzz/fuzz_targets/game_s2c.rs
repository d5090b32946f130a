//! S2C game packet decoder (what a bot reads from a zone): any bytes decode
//! or fail cleanly, and a decoded packet re-encodes to an equal one; the
//! same for the typed crown packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::game::koth::CrownToggle;
use ss_proto::game::S2CPacket;

fuzz_target!(|data: &[u8]| {
    // The crown packet's typed form (it travels as `Other`).
    if let Some(body) = data.get(1..) {
        if let Ok(c) = CrownToggle::decode_body(body) {
            assert_eq!(CrownToggle::decode_body(&c.encode()[1..]), Ok(c));
        }
    }
    if let Ok(p) = S2CPacket::decode(data) {
        let _ = p.packet_type();
        let mut again = Vec::new();
        p.encode(&mut again);
        let q = S2CPacket::decode(&again).expect("a re-encoded S2C packet decodes");
        assert_eq!(p, q, "S2C decode is not stable");
    }
});
