//! C2S game packet decoders: any bytes decode or fail cleanly, and a packet
//! that decodes re-encodes to something that decodes to the same value.
//! Both the arena's decoder (`C2SPacket`) and the zone's (`ZonePacket`, for
//! either client kind) see every input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::game::{C2SPacket, ClientKind, ZonePacket};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = C2SPacket::decode(data) {
        let _ = p.packet_type();
        let mut again = Vec::new();
        p.encode(&mut again);
        let q = C2SPacket::decode(&again).expect("a re-encoded C2S packet decodes");
        assert_eq!(p, q, "C2S decode is not stable");
    }
    for kind in [ClientKind::Vie, ClientKind::Continuum] {
        match ZonePacket::decode(data, kind) {
            Ok(Some(p)) => {
                let mut again = Vec::new();
                p.encode(&mut again);
                assert_eq!(again.len(), data.len(), "zone packet length changed");
                let q = ZonePacket::decode(&again, kind).expect("a re-encoded zone packet decodes");
                assert_eq!(Some(p), q, "zone packet decode is not stable");
            }
            Ok(None) => assert!(!ZonePacket::handles(data[0])),
            Err(_) => {}
        }
    }
});
