//! Position packets: C2S 0x03 (with the checksum fixed up half the time so
//! the fuzzer gets past it), S2C 0x05 / 0x28, and relaying a decoded C2S
//! position to other players (the server's hot path).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::game::{
    relay_position, ExtraLen, LargePosition, Position, SmallPosition, MAX_RELAY_LEN,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let mut b = body.to_vec();
    if mode & 1 != 0 && b.len() >= Position::LEN {
        b[0] = 0x03;
        b[10] = 0;
        b[10] = b[..Position::LEN].iter().fold(0, |a, x| a ^ x);
    }
    if let Ok(p) = Position::decode(&b) {
        let mut enc = Vec::new();
        p.encode(&mut enc);
        assert_eq!(
            Position::decode(&enc).ok(),
            Some(p),
            "C2S position not stable"
        );
        let pid = u16::from(mode >> 1) * 3;
        for extra in [ExtraLen::None, ExtraLen::Energy, ExtraLen::Full] {
            let mut out = [0u8; MAX_RELAY_LEN];
            let n = relay_position(&p, pid, 0x1234_5678, mode, extra, &mut out);
            assert!(n <= MAX_RELAY_LEN);
            let relayed = &out[..n];
            match relayed[0] {
                0x05 => {
                    let l = LargePosition::decode(relayed).expect("relayed 0x05 decodes");
                    assert_eq!((l.x, l.y, l.pid), (p.x, p.y, pid));
                }
                0x28 => {
                    let s = SmallPosition::decode(relayed).expect("relayed 0x28 decodes");
                    assert_eq!((s.x, s.y, u16::from(s.pid)), (p.x, p.y, pid));
                }
                t => panic!("relay built packet type {t:#x}"),
            }
        }
    }
    if let Ok(l) = LargePosition::decode(&b) {
        let mut enc = Vec::new();
        l.encode(&mut enc);
        assert_eq!(LargePosition::decode(&enc).ok(), Some(l));
    }
    if let Ok(s) = SmallPosition::decode(&b) {
        let mut enc = Vec::new();
        s.encode(&mut enc);
        assert_eq!(SmallPosition::decode(&enc).ok(), Some(s));
    }
});
