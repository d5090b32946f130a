//! C2S game packet decoder: any bytes decode or fail cleanly, and a packet
//! that decodes re-encodes to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::game::C2SPacket;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = C2SPacket::decode(data) {
        let _ = p.packet_type();
        let mut again = Vec::new();
        p.encode(&mut again);
        let q = C2SPacket::decode(&again).expect("a re-encoded C2S packet decodes");
        assert_eq!(p, q, "C2S decode is not stable");
    }
});
